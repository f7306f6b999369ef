"""The Mattermost stand-in: one process per node, started by the node's
`mattermost` unit (nodes.py). `python -m standby_emulator.mattermost`.

What it does, each from Mattermost's source (mattermost/mattermost, server/):

- Settings: defaults (public/model/config.go SetDefaults, the settings used
  here), then the AMI's config.json if any (STANDBY_CONFIG_JSON), then the
  environment: every variable whose upper-cased name starts with `MM`, `MM_`
  removed, split once on `_` into section and setting matched
  case-insensitively; a string taken as is, a bool by Go's
  strconv.ParseBool and an int by ParseInt (a value that does not parse is
  ignored), a list split on single spaces; unknown names ignored
  (config/environment.go, GetEnvironment/applyEnvKey).
- Start (channels/store/sqlstore/store.go, v8 line): the master DSN
  (SqlSettings.DataSource) is pinged DBPingAttempts = 5 times,
  DBPingTimeoutSecs = 10 apart; when the last fails, `mlog.Fatal("Error
  setting up connections")`: the process exits 1 (and systemd restarts it,
  Restart=always). Each replica DSN (DataSourceReplicas) gets the same 5
  attempts; one that fails is marked offline with "Failed to setup
  connection. Skipping.." and retried every ReplicaMonitorIntervalSeconds
  (monitorReplicas) with one attempt, a warning each time; reads go to an
  online replica, else to the master (GetReplicaX; Mattermost uses
  replicas only with a licence: the stand-in counts as licensed). Then the
  server version (>= 11), then the migrations on the master: `CREATE TABLE
  IF NOT EXISTS` as morph's first step does, so a read-only session fails
  them: `mlog.Fatal("Failed to apply database migrations.")`, exit 1. Only
  then does the HTTP server listen (the port refuses connections before).
- DSNs: `postgres://user:password@host:port/db?params` as lib/pq reads them
  (sslmode defaults to `require` in lib/pq); the host resolves through the
  emulated network (GET /_emulator/dns/resolve), the connection goes to
  that address with the DSN's port, user, password, database and sslmode
  (libpq's host/hostaddr: `verify-full` checks the certificate against the
  DSN's host name). lib/pq-only parameters (binary_parameters) are dropped.
  File parameters (sslrootcert, sslcert, sslkey) name files as the node sees
  them (its own files, its AMI's, the host's): the stand-in runs outside the
  node's mount namespace, so it reads them through the world's control API
  and hands libpq a copy.
- `GET /api/v4/system/ping` (channels/api4/system.go getSystemPing, no
  session): `{"status":"OK", "AndroidLatestVersion":…, "ActiveSearchBackend"}`.
  With `get_server_status=true`: DBHealthCheckWrite (UPSERT of
  `health_check_<cluster id>` in Systems) and DBHealthCheckDelete on the
  master, and TestFileStoreConnection (HeadBucket); a failure sets
  `database_status` / `filestore_status` and `status` to "UNHEALTHY",
  the three also as headers; any status other than OK answers HTTP 500
  unless `use_rest_semantics=true`.
- Sessions (web/handlers.go ServeHTTP, app/session.go): every `/api/v4/`
  request but the ping needs a token, from `Authorization: Bearer <token>`
  (or `Token <token>`, model.HeaderBearer/HeaderToken) or the
  `access_token` query parameter; none, or one the database does not hold
  as an active personal access token, answers 401
  `api.context.session_expired.app_error` ("Invalid or expired session,
  please login again."). Tokens live in the database (`useraccesstokens`:
  id, token, userid, description, isactive, as Mattermost's
  UserAccessTokens table), read from a replica (UserAccessTokenStore
  GetByToken), so a copy of the database knows production's tokens. A
  token found is kept SessionCacheInMinutes (10, on the world's clock), as
  the session cache keeps the session a token makes; an error reading it
  is a 401 too (createSessionForUserAccessToken:
  `app.user_access_token.invalid_or_missing`, which the handler turns into
  session_expired), and so is every token while
  ServiceSettings.EnableUserAccessTokens is false (its default; Mattermost
  takes a bot's token even then, `!EnableUserAccessTokens && !user.IsBot`:
  the stand-in, without a users table, cannot tell a bot). The request
  acts as the token's user.
- `POST /api/v4/files?channel_id=C&filename=N` with the file as the body
  (api4/file.go uploadFileSimple): the file is stored (app/file.go layout
  `<YYYYMMDD>/teams/noteam/channels/<channel>/users/<user>/<file id>/<name>`,
  in FileSettings.AmazonS3Bucket with the node's instance-role credentials,
  or the node's ./data with DriverName local) and its row written
  (`fileinfo`), 201 `{"file_infos": [...], "client_ids": []}`; a failed
  upload answers 500 `api.file.upload_file.storage.app_error`.
- `POST /api/v4/posts` `{"channel_id", "message", "file_ids"}`: the post row
  on the master (500 `app.post.save.app_error` when that fails), with the
  file ids the user uploaded and no post holds yet (attachFilesToPost;
  others dropped). A post without files writes nothing to the file store. Then, with
  ElasticsearchSettings.EnableIndexing, the post is indexed as
  `PUT <IndexPrefix>posts_<YYYY_MM_DD>/_doc/<id>` at ConnectionURL with
  Username/Password (enterprise/elasticsearch/opensearch IndexPost,
  common.BuildPostIndexName); a failure is only logged, "Encountered error
  indexing post" (store/searchlayer/post_layer.go), and the post is
  acknowledged all the same: 201 with the post.
- `GET /api/v4/posts/<id>` from a replica (GetReplicaX); 404 when missing.
  `GET /api/v4/channels/<id>/posts?page=P&per_page=N` (api4/post.go
  getPostsForChannel; per_page default 60, at most 200): the channel's
  newest posts first, `{"order": [ids], "posts": {id: post}, "next_post_id",
  "prev_post_id", "has_next"}` (model.PostList), from a replica.
  `POST /api/v4/posts/ids` (a JSON array of at most 1,000 ids): the posts
  found, as an array (api4/post.go getPostsByIds; none given → 400
  `api.context.invalid_param.app_error`, over 1,000 → 400
  `api.post.posts_by_ids.invalid_body.request_error`).
- `POST /api/v4/teams/<team>/posts/search` `{"terms"}`: with
  EnableSearching, a simple_query_string on `message` over
  `<prefix>posts_*`; on an error, the database (the searchlayer falls back
  with "Encountered error on SearchPostsInTeamForUser"). The header
  `X-Standby-Search-Backend` says which answered.
- `POST /api/v4/jobs` `{"type": "elasticsearch_post_indexing", "data":
  {"start_time", "end_time"}}` (epoch ms as strings, as a StringMap): a
  pending row in the jobs table, answered 201 with the job; another type →
  400 `api.job.unable_to_create_job.incorrect_job_type`. `GET
  /api/v4/jobs/<id>`. The job server of a node with JobSettings.RunJobs and
  indexing on claims pending jobs (polling each second) and indexes the
  posts created after start_time (until end_time, default now) the way live
  indexing does, then marks the job `success` (or `error`) (api4/job.go
  createJob/getJob; model/job.go JobTypeElasticsearchPostIndexing, statuses
  pending, in_progress, success, error; the bulk indexer's start_time and
  end_time).
- JobSettings.RunScheduler: a heartbeat row (ClusterSettings.ClusterName,
  node, time) in `standby_scheduler_heartbeats` every second, on the master
  (the stand-in's own table: Mattermost's scheduler writes Jobs rows).
- `GET /_standin/status`: settings (secrets removed), master and replica
  states, counters. Not Mattermost's.

Simpler than Mattermost: a token's session is not written to the
database, no users or channels tables
(any channel id is taken), no WebSocket, no cluster gossip, one table per concern, indexing synchronous.
"""

import json
import os
import secrets
import signal
import string
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DB_PING_ATTEMPTS = 5
DB_PING_TIMEOUT_SECS = 10
MIN_POSTGRES = 110000

# config.go SetDefaults, the settings the stand-in reads.
DEFAULTS: dict[str, dict[str, Any]] = {
    "ServiceSettings": {"SiteURL": "", "ListenAddress": ":8065", "GoroutineHealthThreshold": -1,
                        "EnableUserAccessTokens": False},
    "SqlSettings": {
        "DriverName": "postgres",
        "DataSource": "postgres://mmuser:mostest@localhost/mattermost_test?sslmode=disable&connect_timeout=10"
                      "&binary_parameters=yes",
        "DataSourceReplicas": [], "DataSourceSearchReplicas": [], "MaxIdleConns": 50, "MaxOpenConns": 100,
        "QueryTimeout": 30, "ReplicaMonitorIntervalSeconds": 5, "Trace": False,
    },
    "ClusterSettings": {"Enable": False, "ClusterName": "", "GossipPort": 8074, "UseIPAddress": True,
                        "ReadOnlyConfig": True, "EnableGossipCompression": True},
    "JobSettings": {"RunJobs": True, "RunScheduler": True},
    "FileSettings": {"DriverName": "local", "Directory": "./data/", "AmazonS3Bucket": "", "AmazonS3Region": "",
                     "AmazonS3Endpoint": "s3.amazonaws.com", "AmazonS3SSL": True, "AmazonS3AccessKeyId": "",
                     "AmazonS3SecretAccessKey": "", "AmazonS3PathPrefix": "", "AmazonS3SSE": False},
    "ElasticsearchSettings": {"ConnectionURL": "http://localhost:9200", "Backend": "elasticsearch",
                              "Username": "elastic", "Password": "changeme", "EnableIndexing": False,
                              "EnableSearching": False, "EnableAutocomplete": False, "Sniff": True,
                              "IndexPrefix": "", "AggregatePostsAfterDays": 365, "RequestTimeoutSeconds": 30},
}
# Mattermost's UserAccessTokens table (the columns the stand-in reads).
TOKENS_TABLE = ("CREATE TABLE IF NOT EXISTS useraccesstokens (id varchar(26) PRIMARY KEY, token varchar(26) UNIQUE, "
                "userid varchar(26), description varchar(512), isactive boolean)")
SESSION_CACHE_MINUTES = 10


def token_statements(token: str, user_id: str, description: str = "") -> list[tuple[str, tuple]]:
    """The SQL that gives `user_id` the personal access token `token`, as
    Mattermost's createUserAccessToken stores it (for tests and the demo,
    where production's users would already have theirs)."""
    return [(TOKENS_TABLE, ()),
            ("INSERT INTO useraccesstokens (id, token, userid, description, isactive) VALUES (%s, %s, %s, %s, true) "
             "ON CONFLICT (token) DO UPDATE SET userid = EXCLUDED.userid, isactive = true",
             (_new_id(), token, user_id, description))]


SECRET_SETTINGS = {("SqlSettings", "DataSource"), ("SqlSettings", "DataSourceReplicas"),
                   ("SqlSettings", "DataSourceSearchReplicas"), ("ElasticsearchSettings", "Password"),
                   ("FileSettings", "AmazonS3SecretAccessKey")}


# ------------------------------------------------------------- settings ---

def parse_bool(v: str) -> bool | None:
    """Go's strconv.ParseBool."""
    if v in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if v in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def parse_int(v: str) -> int | None:
    """Go's strconv.ParseInt(v, 10, 0): optional sign, decimal digits only."""
    s = v[1:] if v[:1] in "+-" else v
    if not s or not all(c in string.digits for c in s):
        return None
    return int(v)


def settings(environ: dict[str, str], config_json: dict | None = None) -> dict[str, dict[str, Any]]:
    cfg = {s: dict(v) for s, v in DEFAULTS.items()}
    for section, values in (config_json or {}).items():
        if section in cfg and isinstance(values, dict):
            for k, v in values.items():
                if k in cfg[section]:
                    cfg[section][k] = v
    for key, value in environ.items():
        upper = key.upper()
        if not upper.startswith("MM"):
            continue
        rest = upper[3:] if upper.startswith("MM_") else upper
        parts = rest.split("_", 1)
        section = next((s for s in cfg if s.upper() == parts[0]), None)
        if section is None or len(parts) < 2:
            continue
        name = next((n for n in cfg[section] if n.upper() == parts[1]), None)
        if name is None:
            continue
        default = DEFAULTS[section][name]
        if isinstance(default, bool):
            b = parse_bool(value)
            if b is not None:
                cfg[section][name] = b
        elif isinstance(default, int):
            i = parse_int(value)
            if i is not None:
                cfg[section][name] = i
        elif isinstance(default, list):
            cfg[section][name] = value.split(" ")
        else:
            cfg[section][name] = value
    return cfg


def sanitize(dsn: str) -> str:
    """sqlstore.SanitizeDataSource: the password as ****."""
    try:
        u = urllib.parse.urlsplit(dsn)
    except ValueError:
        return "(unparsable)"
    if u.password is None:
        return dsn
    netloc = f"{u.username}:****@{u.hostname}" + (f":{u.port}" if u.port else "")
    return urllib.parse.urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))


# ------------------------------------------------------------------ log ---

def mlog(level: str, msg: str, **fields: Any) -> None:
    rec = {"timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%fZ"), "level": level, "msg": msg}
    rec.update(fields)
    print(json.dumps(rec, default=str), flush=True)


def fatal(msg: str, **fields: Any) -> None:
    mlog("fatal", msg, **fields)
    os._exit(1)


# --------------------------------------------------------------- world ---

WORLD = os.environ.get("STANDBY_WORLD_URL", "http://127.0.0.1:5000")
SCALE = float(os.environ.get("STANDBY_WORLD_MS_PER_S", "1000")) / 1000.0


def aws_sleep(seconds: float) -> None:
    time.sleep(seconds * SCALE)


def resolve(host: str) -> str | None:
    if host in ("localhost", ""):
        return "127.0.0.1"
    if all(p.isdigit() for p in host.split(".")) and host.count(".") == 3:
        return host
    try:
        with urllib.request.urlopen(f"{WORLD}/_emulator/dns/resolve?name={urllib.parse.quote(host)}",
                                    timeout=10) as r:
            return json.load(r).get("address")
    except (urllib.error.URLError, OSError, ValueError):
        return None


# ------------------------------------------------------------------- db ---

FILE_PARAMS = {"sslrootcert", "sslcert", "sslkey"}


def node_file(path: str) -> str:
    """A copy of the node's file `path` for libpq (the path as it is when the
    node has no such file, so libpq's error names it)."""
    node, home = os.environ.get("STANDBY_NODE_ID"), os.environ.get("STANDBY_NODE_DIR")
    if not node or not home or path == "system":
        return path
    try:
        url = f"{WORLD}/_emulator/world/nodes/{node}/files?path={urllib.parse.quote(path)}"
        with urllib.request.urlopen(url, timeout=10) as r:
            f = json.load(r)
    except (urllib.error.URLError, OSError, ValueError):
        return path
    if not f.get("exists"):
        return path
    copy = os.path.join(home, "libpq-files", path.strip("/").replace("/", "_"))
    os.makedirs(os.path.dirname(copy), exist_ok=True)
    fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f["text"])
    return copy


class DB:
    """A handle on one DSN: a connection made on demand, as database/sql does."""

    LIBPQ = {"sslmode", "connect_timeout", "sslrootcert", "sslcert", "sslkey", "application_name",
             "target_session_attrs", "sslsni", "options"}

    def __init__(self, name: str, dsn: str) -> None:
        self.name, self.dsn = name, dsn
        self.online = False
        self.error = ""
        self.lock = threading.Lock()
        self.conn: Any = None

    def params(self) -> dict[str, Any]:
        u = urllib.parse.urlsplit(self.dsn)
        if u.scheme not in ("postgres", "postgresql"):
            raise ValueError(f"unsupported DSN scheme {u.scheme!r}")
        host = u.hostname or "localhost"
        addr = resolve(host)
        if addr is None:
            raise ConnectionError(f"dial tcp: lookup {host}: no such host")
        q = dict(urllib.parse.parse_qsl(u.query))
        p: dict[str, Any] = {"host": host, "hostaddr": addr, "port": u.port or 5432,
                             "user": urllib.parse.unquote(u.username or ""),
                             "dbname": u.path.lstrip("/") or urllib.parse.unquote(u.username or ""),
                             "sslmode": q.get("sslmode", "require")}
        if u.password is not None:
            p["password"] = urllib.parse.unquote(u.password)
        for k, v in q.items():
            if k in self.LIBPQ and k != "sslmode":
                p[k] = node_file(v) if k in FILE_PARAMS else v
        p.setdefault("connect_timeout", "10")
        return p

    def connect(self) -> Any:
        import psycopg2

        c = psycopg2.connect(**self.params())
        c.autocommit = True
        return c

    def ping(self) -> None:
        with self.lock:
            if self.conn is None or self.conn.closed:
                self.conn = self.connect()
            with self.conn.cursor() as cur:
                cur.execute("SELECT 1")

    def run(self, sql: str, args: tuple = (), fetch: bool = False) -> Any:
        import psycopg2

        with self.lock:
            for attempt in (1, 2):
                try:
                    if self.conn is None or self.conn.closed:
                        self.conn = self.connect()
                    with self.conn.cursor() as cur:
                        cur.execute(sql, args)
                        return cur.fetchall() if fetch else cur.rowcount
                except (psycopg2.OperationalError, psycopg2.InterfaceError):
                    # A broken connection: database/sql retries on a new one.
                    try:
                        if self.conn is not None:
                            self.conn.close()
                    except Exception:  # noqa: BLE001
                        pass
                    self.conn = None
                    if attempt == 2:
                        raise
        return None


def setup_connection(db: DB, attempts: int) -> Exception | None:
    """sqlstore.SetupConnection: ping `attempts` times, DBPingTimeoutSecs apart."""
    err: Exception | None = None
    for i in range(attempts):
        mlog("info", "Pinging SQL", database=db.name, dataSource=sanitize(db.dsn))
        try:
            db.ping()
            db.online, db.error = True, ""
            return None
        except Exception as e:  # noqa: BLE001
            err = e
            db.online, db.error = False, _err(e)
            if i < attempts - 1:
                mlog("error", "Failed to ping DB", error=_err(e), **{"retrying in seconds": DB_PING_TIMEOUT_SECS})
                aws_sleep(DB_PING_TIMEOUT_SECS)
    return err


def _err(e: Exception) -> str:
    text = str(e).strip().replace("\n", " ")
    if isinstance(e, ConnectionError):
        return text
    return f"pq: {text}" if text else type(e).__name__


# --------------------------------------------------------------- server ---

class Server:
    def __init__(self) -> None:
        cfg_json = None
        path = os.environ.get("STANDBY_CONFIG_JSON")
        if path:
            try:
                with open(path) as f:
                    cfg_json = json.load(f)
            except (OSError, ValueError) as e:
                fatal("Failed to load configuration", error=str(e))
        self.cfg = settings(dict(os.environ), cfg_json)
        self.cluster_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(26))
        self.node = os.environ.get("STANDBY_NODE_ID", "standin")
        self.master = DB("master", self.cfg["SqlSettings"]["DataSource"])
        self.replicas = [DB(f"replica-{i}", d) for i, d in enumerate(self.cfg["SqlSettings"]["DataSourceReplicas"])]
        self.rr = 0
        self.counters = {"posts": 0, "index_errors": 0, "search_fallbacks": 0, "heartbeats": 0,
                         "heartbeat_errors": 0}
        self.search_active = False
        self.started = time.time()
        self._s3 = None
        self.sessions: dict[str, tuple[str, float]] = {}  # token → (user id, valid until)
        self.sessions_lock = threading.Lock()

    # ------------------------------------------------------------- start --

    def start(self) -> None:
        mlog("info", "Server is initializing...", node=self.node, cluster_id=self.cluster_id)
        err = setup_connection(self.master, DB_PING_ATTEMPTS)
        if err is not None:
            fatal("Error setting up connections", error=_err(err))
        for r in self.replicas:
            e = setup_connection(r, DB_PING_ATTEMPTS)
            if e is not None:
                mlog("warn", "Failed to setup connection. Skipping..", db=r.name, error=_err(e))
        threading.Thread(target=self.monitor_replicas, daemon=True).start()
        try:
            version = int(self.replica().run("SHOW server_version_num", fetch=True)[0][0])
        except Exception as e:  # noqa: BLE001
            fatal("Error while getting DB version.", error=_err(e))
        if version < MIN_POSTGRES:
            fatal("Error while checking DB version.", error=f"minimum Postgres version requirements not met. "
                                                          f"Found: {version}, Wanted: {MIN_POSTGRES}")
        try:
            self.migrate()
        except Exception as e:  # noqa: BLE001
            fatal("Failed to apply database migrations.", error=_err(e))
        es = self.cfg["ElasticsearchSettings"]
        self.search_active = bool(es["EnableIndexing"])
        if es["EnableIndexing"] and es["Backend"] not in ("elasticsearch", "opensearch"):
            mlog("error", "Invalid search backend", backend=es["Backend"])
        if self.cfg["JobSettings"]["RunScheduler"]:
            threading.Thread(target=self.scheduler, daemon=True).start()
        if self.cfg["JobSettings"]["RunJobs"]:
            threading.Thread(target=self.job_server, daemon=True).start()

    def migrate(self) -> None:
        for sql in (
            "CREATE TABLE IF NOT EXISTS db_migrations (version bigint PRIMARY KEY, name varchar(64) NOT NULL)",
            "CREATE TABLE IF NOT EXISTS systems (name varchar(64) PRIMARY KEY, value varchar(1024))",
            "CREATE TABLE IF NOT EXISTS posts (id varchar(26) PRIMARY KEY, createat bigint, userid varchar(26), "
            "channelid varchar(26), message varchar(65535), fileids varchar(300), node varchar(64))",
            "CREATE TABLE IF NOT EXISTS standby_scheduler_heartbeats (id bigserial PRIMARY KEY, "
            "cluster_name varchar(64), node varchar(64), at timestamptz NOT NULL DEFAULT now())",
            "CREATE TABLE IF NOT EXISTS jobs (id varchar(26) PRIMARY KEY, type varchar(64), status varchar(64), "
            "data text, createat bigint, startat bigint, lastactivityat bigint, progress bigint)",
            TOKENS_TABLE,
            "CREATE TABLE IF NOT EXISTS fileinfo (id varchar(26) PRIMARY KEY, creatorid varchar(26), "
            "postid varchar(26), path varchar(512), name varchar(256), size bigint, createat bigint)",
        ):
            self.master.run(sql)
        self.master.run("INSERT INTO db_migrations (version, name) VALUES (1, 'standby_standin') "
                        "ON CONFLICT (version) DO NOTHING")

    def replica(self) -> DB:
        """GetReplicaX: an online replica, round robin, else the master."""
        for _ in range(len(self.replicas)):
            self.rr = (self.rr + 1) % len(self.replicas)
            if self.replicas[self.rr].online:
                return self.replicas[self.rr]
        return self.master

    def monitor_replicas(self) -> None:
        interval = self.cfg["SqlSettings"]["ReplicaMonitorIntervalSeconds"]
        while True:
            aws_sleep(interval)
            for r in self.replicas:
                if r.online:
                    continue
                e = setup_connection(r, 1)
                if e is not None:
                    mlog("warn", "Failed to setup connection. Skipping..", db=r.name, error=_err(e))

    def scheduler(self) -> None:
        name = self.cfg["ClusterSettings"]["ClusterName"]
        while True:
            try:
                self.master.run("INSERT INTO standby_scheduler_heartbeats (cluster_name, node) VALUES (%s, %s)",
                                (name, self.node))
                self.counters["heartbeats"] += 1
            except Exception as e:  # noqa: BLE001
                self.counters["heartbeat_errors"] += 1
                mlog("error", "Scheduler heartbeat failed", error=_err(e))
            time.sleep(1)

    # -------------------------------------------------------------- jobs --

    JOB_COLUMNS = "id, type, status, data, createat, startat, lastactivityat, progress"

    def create_job(self, body: dict) -> tuple[int, dict]:
        if body.get("type") != "elasticsearch_post_indexing":
            return 400, _app_error("api.job.unable_to_create_job.incorrect_job_type",
                                   "Unable to create a job of this type.", 400)
        data = {str(k): str(v) for k, v in (body.get("data") or {}).items()}
        now = int(time.time() * 1000)
        job = {"id": _new_id(), "type": body["type"], "status": "pending", "data": data, "create_at": now,
               "start_at": 0, "last_activity_at": now, "progress": 0}
        try:
            self.master.run(f"INSERT INTO jobs ({self.JOB_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                            (job["id"], job["type"], "pending", json.dumps(data), now, 0, now, 0))
        except Exception as e:  # noqa: BLE001
            return 500, _app_error("app.job.save.app_error", _err(e), 500)
        return 201, job

    def get_job(self, job_id: str) -> tuple[int, dict]:
        try:
            rows = self.master.run(f"SELECT {self.JOB_COLUMNS} FROM jobs WHERE id = %s", (job_id,), fetch=True)
        except Exception as e:  # noqa: BLE001
            return 500, _app_error("app.job.get.app_error", _err(e), 500)
        if not rows:
            return 404, _app_error("app.job.get.app_error", "We couldn't get the job.", 404)
        r = rows[0]
        return 200, {"id": r[0], "type": r[1], "status": r[2], "data": json.loads(r[3] or "{}"), "create_at": r[4],
                     "start_at": r[5], "last_activity_at": r[6], "progress": r[7]}

    def job_server(self) -> None:
        """Claims pending indexing jobs, one at a time (the job server polls the jobs table)."""
        while True:
            time.sleep(1)
            if not self.cfg["ElasticsearchSettings"]["EnableIndexing"]:
                continue
            now = int(time.time() * 1000)
            try:
                rows = self.master.run(
                    "UPDATE jobs SET status = 'in_progress', startat = %s, lastactivityat = %s WHERE id = "
                    "(SELECT id FROM jobs WHERE status = 'pending' AND type = 'elasticsearch_post_indexing' "
                    "ORDER BY createat LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, data", (now, now), fetch=True)
            except Exception:  # noqa: BLE001
                continue
            for job_id, data in rows or []:
                status, message = self.index_job(json.loads(data or "{}"))
                try:
                    self.master.run("UPDATE jobs SET status = %s, progress = 100, lastactivityat = %s, data = %s "
                                    "WHERE id = %s", (status, int(time.time() * 1000),
                                                      json.dumps({**json.loads(data or "{}"), **message}), job_id))
                except Exception as e:  # noqa: BLE001
                    mlog("error", "Failed to set the indexing job's status", job_id=job_id, error=_err(e))

    def index_job(self, data: dict) -> tuple[str, dict]:
        start = int(data.get("start_time") or 0)
        end = int(data.get("end_time") or time.time() * 1000)
        try:
            rows = self.master.run("SELECT id, createat, userid, channelid, message, fileids FROM posts WHERE "
                                   "createat > %s AND createat <= %s ORDER BY createat", (start, end), fetch=True)
        except Exception as e:  # noqa: BLE001
            return "error", {"error": _err(e)}
        failed = 0
        for r in rows:
            try:
                self.index_post(_post_row(r))
            except Exception as e:  # noqa: BLE001
                failed += 1
                mlog("warn", "Failed to index a post in the indexing job", error=_http_error(e))
        mlog("info", "Indexing job completed", posts=len(rows), failed=failed)
        return ("error" if failed else "success"), {"posts_indexed": str(len(rows) - failed),
                                                     "failed_documents": str(failed)}

    # -------------------------------------------------------- file store --

    def s3(self) -> Any:
        if self._s3 is None:
            import boto3
            import botocore.config

            fs = self.cfg["FileSettings"]
            kw: dict[str, Any] = {}
            if fs["AmazonS3AccessKeyId"] and fs["AmazonS3SecretAccessKey"]:
                kw = {"aws_access_key_id": fs["AmazonS3AccessKeyId"],
                      "aws_secret_access_key": fs["AmazonS3SecretAccessKey"]}
            # Empty keys: the instance role (s3store.go: credentials.NewIAM), through the metadata service.
            self._s3 = boto3.client("s3", region_name=fs["AmazonS3Region"] or "us-east-1", endpoint_url=WORLD,
                                    config=botocore.config.Config(retries={"total_max_attempts": 2},
                                                                  s3={"addressing_style": "path"}), **kw)
        return self._s3

    def store_file(self, key: str, data: bytes) -> None:
        fs = self.cfg["FileSettings"]
        if fs["DriverName"] == "amazons3":
            args: dict[str, Any] = {"Bucket": fs["AmazonS3Bucket"], "Key": fs["AmazonS3PathPrefix"] + key,
                                    "Body": data}
            if fs["AmazonS3SSE"]:
                args["ServerSideEncryption"] = "AES256"
            self.s3().put_object(**args)
        else:
            path = os.path.join(os.environ.get("STANDBY_NODE_DIR", "."), "data", key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)

    def test_file_store(self) -> None:
        fs = self.cfg["FileSettings"]
        if fs["DriverName"] == "amazons3":
            self.s3().head_bucket(Bucket=fs["AmazonS3Bucket"])

    # ------------------------------------------------------------ search --

    def search_request(self, method: str, path: str, body: dict | None) -> dict:
        es = self.cfg["ElasticsearchSettings"]
        u = urllib.parse.urlsplit(es["ConnectionURL"])
        # The domain's REST side answers on the emulator's address with the
        # domain's host name (README.md, "OpenSearch domains' REST API").
        req = urllib.request.Request(WORLD + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Host": u.hostname or "", "Content-Type": "application/json"})
        if es["Username"]:
            import base64

            token = base64.b64encode(f"{es['Username']}:{es['Password']}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=es["RequestTimeoutSeconds"]) as r:
            return json.load(r)

    def index_post(self, post: dict) -> None:
        es = self.cfg["ElasticsearchSettings"]
        day = datetime.fromtimestamp(post["create_at"] / 1000, timezone.utc).strftime("%Y_%m_%d")
        index = f"{es['IndexPrefix']}posts_{day}"
        doc = {"id": post["id"], "team_id": "noteam", "channel_id": post["channel_id"], "user_id": post["user_id"],
               "create_at": post["create_at"], "message": post["message"], "type": "", "hashtags": [],
               "attachments": ""}
        self.search_request("PUT", f"/{index}/_doc/{post['id']}", doc)

    # ------------------------------------------------------------- posts --

    def session_user(self, token: str) -> str | None:
        """The user of an active personal access token, or None (app.GetSession)."""
        if not token:
            return None
        if not self.cfg["ServiceSettings"]["EnableUserAccessTokens"]:
            # createSessionForUserAccessToken: "EnableUserAccessTokens=false".
            mlog("debug", "Personal access tokens are disabled", error="app.user_access_token.invalid_or_missing")
            return None
        now = time.time()
        with self.sessions_lock:
            hit = self.sessions.get(token)
            if hit and hit[1] > now:
                return hit[0]
        try:
            rows = self.replica().run("SELECT userid FROM useraccesstokens WHERE token = %s AND isactive",
                                      (token,), fetch=True)
        except Exception as e:  # noqa: BLE001
            mlog("debug", "Unable to read the access token", error=_err(e))
            return None
        if not rows:
            return None
        with self.sessions_lock:
            self.sessions[token] = (rows[0][0], now + SESSION_CACHE_MINUTES * 60 * SCALE)
        return rows[0][0]

    def upload_file(self, query: dict[str, str], data: bytes, user: str) -> tuple[int, dict]:
        channel, name = query.get("channel_id") or "", query.get("filename") or ""
        if not channel or not name:
            return 400, _app_error("api.context.invalid_url_param.app_error",
                                   "Invalid or missing channel_id or filename parameter in request URL.", 400)
        now, file_id = int(time.time() * 1000), _new_id()
        key = (f"{datetime.now(timezone.utc).strftime('%Y%m%d')}/teams/noteam/channels/{channel}/users/{user}/"
               f"{file_id}/{name}")
        try:
            self.store_file(key, data)
        except Exception as e:  # noqa: BLE001
            mlog("error", "Unable to upload file", error=str(e))
            return 500, _app_error("api.file.upload_file.storage.app_error", "Unable to store the file.", 500)
        try:
            self.master.run("INSERT INTO fileinfo (id, creatorid, postid, path, name, size, createat) "
                            "VALUES (%s, %s, '', %s, %s, %s, %s)", (file_id, user, key, name, len(data), now))
        except Exception as e:  # noqa: BLE001
            return 500, _app_error("app.file_info.save.app_error", _err(e), 500)
        info = {"id": file_id, "user_id": user, "post_id": "", "channel_id": channel, "create_at": now,
                "update_at": now, "delete_at": 0, "name": name, "extension": name.rpartition(".")[2],
                "size": len(data), "mime_type": "text/plain"}
        return 201, {"file_infos": [info], "client_ids": []}

    def channel_posts(self, channel: str, query: dict[str, str]) -> tuple[int, dict]:
        page, per_page = parse_int(query.get("page", "0")), parse_int(query.get("per_page", "60"))
        if page is None or per_page is None or page < 0 or per_page < 0:
            return 400, _app_error("api.context.invalid_url_param.app_error", "Invalid page or per_page.", 400)
        per_page = min(per_page, 200)
        try:
            rows = self.replica().run("SELECT id, createat, userid, channelid, message, fileids FROM posts "
                                      "WHERE channelid = %s ORDER BY createat DESC, id DESC LIMIT %s OFFSET %s",
                                      (channel, per_page + 1, page * per_page), fetch=True)
        except Exception as e:  # noqa: BLE001
            return 500, _app_error("app.post.get_posts.app_error", _err(e), 500)
        more, rows = len(rows) > per_page, rows[:per_page]
        return 200, {"order": [r[0] for r in rows], "posts": {r[0]: _post_row(r) for r in rows},
                     "next_post_id": "", "prev_post_id": "", "has_next": more}

    def create_post(self, body: dict, user: str) -> tuple[int, dict]:
        channel = str(body.get("channel_id") or "")
        message = str(body.get("message") or "")
        if not channel:
            return 400, _app_error("api.context.invalid_body_param.app_error", "Invalid or missing channel_id", 400)
        now = int(time.time() * 1000)
        post_id = _new_id()
        asked = [str(f) for f in body.get("file_ids") or [] if isinstance(f, str)][:10]
        file_ids: list[str] = []
        if asked:
            try:
                # attachFilesToPost: the user's own files, not attached elsewhere yet.
                rows = self.master.run("UPDATE fileinfo SET postid = %s WHERE id = ANY(%s) AND creatorid = %s "
                                       "AND postid = '' RETURNING id", (post_id, asked, user), fetch=True)
                file_ids = [i for i in asked if i in {r[0] for r in rows}]
            except Exception as e:  # noqa: BLE001
                mlog("error", "Unable to attach the files", error=_err(e))
                return 500, _app_error("app.post.save.app_error", "Unable to save the post.", 500)
        post = {"id": post_id, "create_at": now, "update_at": now, "user_id": user, "channel_id": channel,
                "message": message, "file_ids": file_ids}
        try:
            self.master.run("INSERT INTO posts (id, createat, userid, channelid, message, fileids, node) "
                            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                            (post_id, now, user, channel, message, json.dumps(file_ids), self.node))
        except Exception as e:  # noqa: BLE001
            mlog("error", "Unable to save the post", error=_err(e))
            return 500, _app_error("app.post.save.app_error", "Unable to save the post.", 500)
        self.counters["posts"] += 1
        if self.cfg["ElasticsearchSettings"]["EnableIndexing"]:
            try:
                self.index_post(post)
            except Exception as e:  # noqa: BLE001
                self.counters["index_errors"] += 1
                mlog("warn", "Encountered error indexing post", post_id=post_id, search_engine="opensearch",
                     error=_http_error(e))
        return 201, post

    def get_post(self, post_id: str) -> tuple[int, dict]:
        try:
            rows = self.replica().run("SELECT id, createat, userid, channelid, message, fileids FROM posts "
                                      "WHERE id = %s", (post_id,), fetch=True)
        except Exception as e:  # noqa: BLE001
            return 500, _app_error("app.post.get.app_error", _err(e), 500)
        if not rows:
            return 404, _app_error("app.post.get.app_error", "Unable to get the post.", 404)
        return 200, _post_row(rows[0])

    def get_posts(self, ids: Any) -> tuple[int, Any]:
        if not isinstance(ids, list) or not ids:
            return 400, _app_error("api.context.invalid_param.app_error", "Invalid post_ids parameter.", 400)
        if len(ids) > 1000:
            return 400, _app_error("api.post.posts_by_ids.invalid_body.request_error",
                                   "Too many post ids (at most 1000).", 400)
        try:
            rows = self.replica().run("SELECT id, createat, userid, channelid, message, fileids FROM posts "
                                      "WHERE id = ANY(%s) ORDER BY createat", ([str(i) for i in ids],), fetch=True)
        except Exception as e:  # noqa: BLE001
            return 500, _app_error("app.post.get.app_error", _err(e), 500)
        return 200, [_post_row(r) for r in rows]

    def search(self, body: dict) -> tuple[int, dict, str]:
        terms = str(body.get("terms") or "").strip()
        es = self.cfg["ElasticsearchSettings"]
        if es["EnableSearching"] and self.search_active:
            try:
                q = {"query": {"simple_query_string": {"query": terms, "fields": ["message"],
                                                        "default_operator": "or" if body.get("is_or_search")
                                                        else "and"}}, "size": 100}
                out = self.search_request("POST", f"/{es['IndexPrefix']}posts_*/_search", q)
                ids = [h["_id"] for h in out.get("hits", {}).get("hits", [])]
                # The hits' posts in one query, as the search layer reads them (GetPostsByIds).
                posts = {}
                if ids:
                    status, found = self.get_posts(ids)
                    if status == 200:
                        posts = {p["id"]: p for p in found}
                return 200, {"order": [i for i in ids if i in posts], "posts": posts}, "opensearch"
            except Exception as e:  # noqa: BLE001
                self.counters["search_fallbacks"] += 1
                mlog("warn", "Encountered error on SearchPostsInTeamForUser.", error=_http_error(e))
        words = [w for w in terms.split() if w]
        if not words:
            return 200, {"order": [], "posts": {}}, "database"
        joiner = " OR " if body.get("is_or_search") else " AND "
        sql = ("SELECT id, createat, userid, channelid, message, fileids FROM posts WHERE "
               + joiner.join(["message ILIKE %s"] * len(words)) + " ORDER BY createat DESC LIMIT 100")
        rows = self.replica().run(sql, tuple(f"%{w}%" for w in words), fetch=True)
        posts = {r[0]: _post_row(r) for r in rows}
        return 200, {"order": [r[0] for r in rows], "posts": posts}, "database"

    # -------------------------------------------------------------- ping --

    def ping(self, query: dict[str, str]) -> tuple[int, dict, list[tuple[str, str]]]:
        s: dict[str, Any] = {"status": "OK", "AndroidLatestVersion": "", "AndroidMinVersion": "",
                             "IosLatestVersion": "", "IosMinVersion": ""}
        headers: list[tuple[str, str]] = []
        if query.get("get_server_status") == "true":
            s["database_status"] = "OK"
            key = f"health_check_{self.cluster_id}"
            try:
                self.master.run("INSERT INTO systems (name, value) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE "
                                "SET value = EXCLUDED.value", (key, str(int(time.time()))))
            except Exception as e:  # noqa: BLE001
                mlog("warn", "Unable to write to database.", error=_err(e))
                s["database_status"] = s["status"] = "UNHEALTHY"
            try:
                self.master.run("DELETE FROM systems WHERE name = %s", (key,))
            except Exception as e:  # noqa: BLE001
                mlog("warn", "Unable to remove ping health check value from database.", error=_err(e))
                s["database_status"] = s["status"] = "UNHEALTHY"
            s["filestore_status"] = "OK"
            try:
                self.test_file_store()
            except Exception as e:  # noqa: BLE001
                mlog("warn", "Unable to test filestore connection.", error=str(e))
                s["filestore_status"] = s["status"] = "UNHEALTHY"
            headers = [("status", s["status"]), ("database_status", s["database_status"]),
                       ("filestore_status", s["filestore_status"])]
        s["ActiveSearchBackend"] = self.cfg["ElasticsearchSettings"]["Backend"] if self.search_active else "database"
        code = 200 if s["status"] == "OK" or query.get("use_rest_semantics") == "true" else 500
        return code, s, headers

    def status(self) -> dict:
        cfg = {sec: {k: ("(sensitive)" if (sec, k) in SECRET_SETTINGS and v else v) for k, v in vals.items()}
               for sec, vals in self.cfg.items()}
        return {"node": self.node, "cluster_id": self.cluster_id, "settings": cfg,
                "master": {"online": self.master.online, "dsn": sanitize(self.master.dsn), "error": self.master.error},
                "replicas": [{"name": r.name, "online": r.online, "dsn": sanitize(r.dsn), "error": r.error}
                             for r in self.replicas],
                "counters": dict(self.counters), "search_active": self.search_active,
                "uptime_s": time.time() - self.started}


def _new_id() -> str:
    """model.NewId: 26 lowercase base32 characters."""
    return "".join(secrets.choice("abcdefghijkmnopqrstuwxyz13456789") for _ in range(26))


def _post_row(r: tuple) -> dict:
    return {"id": r[0], "create_at": r[1], "update_at": r[1], "user_id": r[2], "channel_id": r[3],
            "message": r[4], "file_ids": json.loads(r[5] or "[]")}


def _app_error(eid: str, message: str, status: int) -> dict:
    return {"id": eid, "message": message, "detailed_error": "", "request_id": _new_id(), "status_code": status}


def _http_error(e: Exception) -> str:
    if isinstance(e, urllib.error.HTTPError):
        try:
            return f"{e.code}: {e.read()[:300].decode(errors='replace')}"
        except Exception:  # noqa: BLE001
            return str(e.code)
    return str(e)


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}


def handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "Mattermost-standin"

        def log_message(self, fmt: str, *args: Any) -> None:  # access log off
            pass

        def _send(self, code: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> None:
            body = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers or []:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _user(self, u: urllib.parse.SplitResult) -> str | None:
            """The session's user, or None after answering 401 (ParseAuthTokenFromRequest)."""
            scheme, _, token = (self.headers.get("Authorization") or "").strip().partition(" ")
            if scheme.lower() not in ("bearer", "token"):
                token = dict(urllib.parse.parse_qsl(u.query)).get("access_token", "")
            user = server.session_user(token.strip())
            if user is None:
                self._send(401, _app_error("api.context.session_expired.app_error",
                                           "Invalid or expired session, please login again.", 401))
            return user

        def do_GET(self) -> None:  # noqa: N802
            u = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(u.query))
            if u.path == "/api/v4/system/ping":
                code, payload, headers = server.ping(q)
                return self._send(code, payload, headers)
            if u.path.startswith("/api/v4/") and self._user(u) is None:
                return None
            parts = u.path.split("/")
            if len(parts) == 6 and parts[3] == "channels" and parts[5] == "posts":
                code, payload = server.channel_posts(parts[4], q)
                return self._send(code, payload)
            if u.path.startswith("/api/v4/posts/"):
                code, payload = server.get_post(u.path.rsplit("/", 1)[-1])
                return self._send(code, payload)
            if u.path.startswith("/api/v4/jobs/"):
                code, payload = server.get_job(u.path.rsplit("/", 1)[-1])
                return self._send(code, payload)
            if u.path == "/_standin/status":
                return self._send(200, server.status())
            self._send(404, _app_error("api.context.404.app_error", "Sorry, we could not find the page.", 404))

        def do_POST(self) -> None:  # noqa: N802
            u = urllib.parse.urlsplit(self.path)
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            user = self._user(u) if u.path.startswith("/api/v4/") else ""
            if user is None:
                return None
            if u.path == "/api/v4/files":
                code, payload = server.upload_file(dict(urllib.parse.parse_qsl(u.query)), raw, user)
                return self._send(code, payload)
            body = _json_body(raw)
            if u.path == "/api/v4/posts":
                code, payload = server.create_post(body if isinstance(body, dict) else {}, user)
                return self._send(code, payload)
            if u.path == "/api/v4/jobs":
                code, payload = server.create_job(body if isinstance(body, dict) else {})
                return self._send(code, payload)
            if u.path == "/api/v4/posts/ids":
                code, payload = server.get_posts(body)
                return self._send(code, payload)
            if u.path.startswith("/api/v4/teams/") and u.path.endswith("/posts/search"):
                code, payload, backend = server.search(body if isinstance(body, dict) else {})
                return self._send(code, payload, [("X-Standby-Search-Backend", backend)])
            self._send(404, _app_error("api.context.404.app_error", "Sorry, we could not find the page.", 404))

    return Handler


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server = Server()
    server.start()
    listen = server.cfg["ServiceSettings"]["ListenAddress"]
    host, _, port = listen.rpartition(":")
    addr = host or os.environ.get("STANDBY_NODE_ADDRESS", "127.0.0.1")
    httpd = ThreadingHTTPServer((addr, int(port or 8065)), handler(server))
    httpd.daemon_threads = True
    mlog("info", "Server is listening on " + f"{addr}:{port or 8065}", address=f"{addr}:{port}")
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
