"""A synthetic Mattermost user for game days, and the checker of what users saw.

    python -m standby_emulator.synthetic_user post  --world URL --out posts.jsonl [options]
    python -m standby_emulator.synthetic_user check --world URL --log posts.jsonl [options]

The game-day tests (tests/gameday.rs), `scripts/bench-gameday` and
`scripts/demo --game-day` share it.

**post** behaves as one person at a browser: every `--every-ms` (100) it
resolves the Mattermost hostname as the internet does (Route 53's answer, the
emulator's data-plane resolver `GET /_emulator/dns/resolve`, which keeps
answering whatever region is down) and posts a message through the load
balancer that answer names: its text as an attachment (`POST
/api/v4/files?channel_id=C&filename=message.txt`), then the post with it
(`POST /api/v4/posts`), `Host` the hostname, HTTPS verified against the
world's CA when `--scheme https`, as a user of a personal access token
(`--token`, default `$STANDBY_MM_TOKEN`: `Authorization: Bearer`; every
command sends it). `token` stores such a token in Mattermost's database as
a database user (as production's users already have theirs). Each attempt is one
JSON line, written as it ends: `seq`, `sent` and `answered` (epoch seconds),
`outcome` (`acknowledged`: HTTP 201 with a post; else `failed`), `status`,
`error` (Mattermost's error id, the load balancer's status, or the
connection's failure), `post_id`, `token` (the message's unique word, what
the search looks for), `message`, `address`, `region` (the region of the
load balancer at that address), `resolved` (when that address was
resolved) and `cached`. One post at a time: a slow answer delays the next
attempt, as for a person waiting on the spinner.

DNS caching, as a browser sees it: an answer is kept for the record's TTL,
then asked again. The Mattermost hostname's records are aliases to load
balancers, whose TTL Route 53 fixes at 60 s ("To configure DNS Failover for
ELB and S3 Website endpoints, you need to use Alias records which have fixed
TTL of 60 seconds", Route 53 FAQ, "Do I need to adjust the TTL of my records
in order to use DNS Failover?"), and Chromium keeps a host's address 60 s
(`kCacheEntryTTLSeconds = 60` in net/dns: the system resolver does not give
it the TTL). So each answer is kept 60 AWS seconds, on the world's clock
(`world_ms_per_aws_second`, the clock that also scales the health checks that
move the answer): 3 s at the default 50 ms. A failed connection does not
throw the answer away before its time (a browser retries the address it
has). A failed resolution is not cached. `--dns-ttl 0` resolves for every
post. The emulator's resolver has no TTL of its own: every resolution sees
Route 53's current answer. Each attempt opens a new connection (no
keep-alive), unless `--keep-alive`: then, as a browser keeps its connections,
the user keeps one HTTP/1.1 connection per address it resolved and sends
every post to the address its resolver gives now over that address's
connection (opened when there is none, or when the server closed it; a
reused connection that fails before any answer is tried once more on a new
one, as browsers retry a request on a stale kept connection). `reused` in the
log says whether the post went over a kept connection. The model is kinder
than a browser, whose pool is keyed by host name, not address, and keeps
using a busy connection to the old address after the answer changed
(Chromium `ClientSocketPool::GroupId`): here the user leaves the old
address once its cached answer expires.

**check** reads one or more logs and answers, as JSON, what users saw:
attempts, acknowledged and failed posts (by error, by region), the windows
without a successful write (from the last acknowledged post before a failure
to the next acknowledged one; `open` when none came), with `--outage-at T`
the time from T to the first acknowledged post sent after it (the RTO), then
through DNS as users reach Mattermost now: every acknowledged post read by
id (`POST /api/v4/posts/ids`, 200 ids a request, same message) and searched
for by its token (`POST /api/v4/teams/<team>/posts/search`, 50 tokens OR-ed
a request, the post among the results; `X-Standby-Search-Backend` tells
whether the index or the database answered), with the region that answered;
the posts missing are the RPO. With
`--db-user` (password in `STANDBY_CHECK_DB_PASSWORD`) it reads the scheduler
heartbeats (`standby_scheduler_heartbeats`, which the stand-ins write every
second while RunScheduler is on) through the global writer endpoint and
reports each region's runs of heartbeats and any overlap: two schedulers at
once. It also reports when Route 53's answer last changed region (`dns_moves`)
and the failed attempts that used an answer given after that (`failed_after_dns_moved`).
Exit status 0; the callers decide what to assert. `--summary` prints the
report as a few lines for people (`scripts/demo --game-day`).

**wait** follows a poster's log until a post sent from `--since` is
acknowledged, printing a progress line every few seconds (exit 1 after
`--deadline` seconds, with the errors users saw). **reindex** does what a
run's output asks the operator to do in Mattermost: each `POST
/api/v4/jobs {...} on Mattermost in <region>` is sent to that region's load
balancer, and waited for until the job ends.
"""

import argparse
import http.client
import json
import os
import re
import secrets
import signal
import socket
import ssl
import string
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

ALIAS_TTL_AWS_SECONDS = 60
REGION_OF_LB = re.compile(r"\.([a-z]{2}(?:-gov)?-[a-z]+-\d)\.elb\.amazonaws\.com\.?$")


# ------------------------------------------------------------------ world ---

class World:
    """The emulator's control API: resolution, and which load balancer has an address."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.lbs: dict[str, dict] = {}
        self.lock = threading.Lock()

    def get(self, path: str, timeout: float = 10) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return json.load(r)

    def resolve(self, name: str) -> str | None:
        try:
            return self.get(f"/_emulator/dns/resolve?name={urllib.parse.quote(name)}")["address"]
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def ms_per_aws_second(self) -> int:
        return int(self.get("/_emulator/settings").get("world_ms_per_aws_second", 50))

    def region_of(self, address: str | None) -> str | None:
        if address is None:
            return None
        with self.lock:
            lb = self.lbs.get(address)
        if lb is None:
            try:
                found = {b["address"]: b for b in self.get("/_emulator/world")["load_balancers"] if b.get("address")}
            except (OSError, ValueError):
                found = {}
            with self.lock:
                self.lbs.update(found)
                lb = self.lbs.get(address)
        m = REGION_OF_LB.search((lb or {}).get("dns_name", ""))
        return m.group(1) if m else None

    def ca_file(self) -> str:
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"standby-world-ca-{os.getpid()}.pem")
        with open(path, "w") as f:
            f.write(self.get("/_emulator/world/ca.pem")["pem"])
        return path


class Resolver:
    """What a browser's resolver keeps: each answer for `ttl` real seconds."""

    def __init__(self, world: World, ttl: float) -> None:
        self.world, self.ttl = world, ttl
        self.cached: tuple[str, float] | None = None  # (address, resolved at)

    def address(self, name: str) -> tuple[str | None, float | None, bool, str | None]:
        """(address, when resolved, from the cache?, error)."""
        now = time.time()
        if self.cached is not None and now - self.cached[1] < self.ttl:
            return self.cached[0], self.cached[1], True, None
        try:
            addr = self.world.resolve(name)
        except (OSError, ValueError) as e:
            return None, None, False, f"resolver unreachable: {e}"
        if addr is None:
            self.cached = None
            return None, now, False, "NXDOMAIN"
        self.cached = (addr, now)
        return addr, now, False, None


# ------------------------------------------------------------------- http ---

class Client:
    """HTTP(S) to an address with the hostname in Host (and SNI), as a browser sends it."""

    def __init__(self, hostname: str, port: int, scheme: str, timeout: float, ca_file: str | None,
                 keep_alive: bool = False, token: str = "") -> None:
        self.hostname, self.port, self.scheme, self.timeout = hostname, port, scheme, timeout
        self.token = token
        self.ctx = None
        if scheme == "https":
            self.ctx = ssl.create_default_context(cafile=ca_file)
        self.keep_alive = keep_alive
        self.kept: dict[str, http.client.HTTPConnection] = {}
        self.reused = False  # whether the last request went over a kept connection

    def _open(self, address: str) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return _TLSConnection(address, self.port, self.hostname, self.ctx, self.timeout)
        return http.client.HTTPConnection(address, self.port, timeout=self.timeout)

    def _send(self, conn: http.client.HTTPConnection, method: str, path: str,
              body: Any) -> tuple[int, Any, dict, bool]:
        raw = isinstance(body, bytes)
        data = body if raw else json.dumps(body).encode() if body is not None else None
        headers = {"Host": self.hostname, "Content-Type": "text/plain" if raw else "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        raw = r.read()
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"text": raw[:200].decode(errors="replace")}
        return r.status, payload, dict(r.getheaders()), bool(r.will_close)

    def request(self, address: str, method: str, path: str, body: Any) -> tuple[int, Any, dict]:
        if not self.keep_alive:
            conn = self._open(address)
            try:
                return self._send(conn, method, path, body)[:3]
            finally:
                conn.close()
        conn = self.kept.pop(address, None)
        self.reused = conn is not None
        if conn is None:
            conn = self._open(address)
        try:
            status, payload, headers, closing = self._send(conn, method, path, body)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
            conn.close()
            if not self.reused:
                raise
            # A kept connection the server had closed: once more on a new one.
            self.reused = False
            conn = self._open(address)
            try:
                status, payload, headers, closing = self._send(conn, method, path, body)
            except Exception:
                conn.close()
                raise
        except Exception:
            conn.close()
            raise
        if closing:
            conn.close()
        else:
            self.kept[address] = conn
        return status, payload, headers


class _TLSConnection(http.client.HTTPSConnection):
    """HTTPS to an address, verifying the certificate against the hostname."""

    def __init__(self, address: str, port: int, hostname: str, ctx: Any, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout, context=ctx)
        self._name = hostname

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._name)


def failure(e: Exception) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, ConnectionResetError):
        return "connection reset"
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(e, ssl.SSLError):
        return f"TLS: {e.reason or e}"
    if isinstance(e, http.client.RemoteDisconnected):
        return "connection closed without an answer"
    return f"{type(e).__name__}: {e}"


def error_of(status: int, payload: dict, headers: dict) -> str:
    """Mattermost's error id, or the load balancer's page (`Server: awselb/2.0`)."""
    if payload.get("id"):
        return str(payload["id"])
    server = {k.lower(): v for k, v in headers.items()}.get("server", "")
    return f"HTTP {status}" + (" from the load balancer" if server.startswith("awselb") else "")


# ------------------------------------------------------------------- post ---

class Poster:
    def __init__(self, args: argparse.Namespace) -> None:
        self.world = World(args.world)
        ttl = args.dns_ttl if args.dns_ttl is not None else ALIAS_TTL_AWS_SECONDS
        self.resolver = Resolver(self.world, ttl * self.world.ms_per_aws_second() / 1000.0)
        ca = self.world.ca_file() if args.scheme == "https" else None
        self.client = Client(args.hostname, args.port, args.scheme, args.timeout, ca, args.keep_alive, args.token)
        self.args = args
        self.run = args.run_id or "".join(secrets.choice(string.ascii_lowercase) for _ in range(6))
        self.stop = threading.Event()

    def attempt(self, seq: int) -> dict:
        token = f"gd{self.run}{seq:06d}"
        message = f"game day {self.run} post {seq} {token}"
        rec: dict[str, Any] = {"seq": seq, "sent": time.time(), "token": token, "message": message}
        addr, resolved, cached, err = self.resolver.address(self.args.hostname)
        rec.update(address=addr, resolved=resolved, cached=cached, region=self.world.region_of(addr))
        if addr is None:
            rec.update(outcome="failed", status=None, error=err, answered=time.time())
            return rec
        try:
            # The message's text as an attachment first (Mattermost writes the
            # file store only for attachments), then the post with it.
            q = urllib.parse.urlencode({"channel_id": self.args.channel, "filename": "message.txt"})
            status, payload, headers = self.client.request(addr, "POST", f"/api/v4/files?{q}", message.encode())
            files = payload.get("file_infos") if status == 201 and isinstance(payload, dict) else None
            if files:
                status, payload, headers = self.client.request(
                    addr, "POST", "/api/v4/posts",
                    {"channel_id": self.args.channel, "message": message, "file_ids": [f["id"] for f in files]})
        except Exception as e:  # noqa: BLE001 - every failure is what the user saw
            rec.update(outcome="failed", status=None, error=failure(e), answered=time.time())
            if self.args.keep_alive:
                rec["reused"] = self.client.reused
            return rec
        rec["answered"], rec["status"] = time.time(), status
        if self.args.keep_alive:
            rec["reused"] = self.client.reused
        payload = payload if isinstance(payload, dict) else {}
        if status == 201 and payload.get("id"):
            rec.update(outcome="acknowledged", post_id=payload["id"], error=None)
        else:
            rec.update(outcome="failed", error=error_of(status, payload, headers))
        return rec

    def loop(self) -> int:
        every = self.args.every_ms / 1000.0
        deadline = time.time() + self.args.duration if self.args.duration else None
        out = open(self.args.out, "a", buffering=1) if self.args.out != "-" else sys.stdout
        seq, start = 0, time.time()
        while not self.stop.is_set():
            if deadline is not None and time.time() >= deadline:
                break
            if self.args.stop_file and os.path.exists(self.args.stop_file):
                break
            rec = self.attempt(seq)
            out.write(json.dumps(rec) + "\n")
            out.flush()
            seq += 1
            # The next post at its time, or at once after a slow one.
            wait = start + seq * every - time.time()
            if wait > 0:
                self.stop.wait(wait)
            else:
                start = time.time() - seq * every
        if out is not sys.stdout:
            out.close()
        return 0


def cmd_post(args: argparse.Namespace) -> int:
    poster = Poster(args)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: poster.stop.set())
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write(poster.run + "\n")
    return poster.loop()


# ------------------------------------------------------------------ check ---

def load(paths: list[str]) -> list[dict]:
    recs = []
    for p in paths:
        with open(p) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        recs.append(json.loads(line))
                    except ValueError:
                        pass  # a line cut short when the poster was killed
    recs.sort(key=lambda r: r["sent"])
    return recs


def windows(recs: list[dict]) -> list[dict]:
    """Spans without a successful write: from the last acknowledged post
    before failures to the next acknowledged one (sent times)."""
    out: list[dict] = []
    last_ok: float | None = None
    failed: list[dict] = []
    for r in recs:
        if r["outcome"] == "acknowledged":
            if failed:
                start = last_ok if last_ok is not None else failed[0]["sent"]
                out.append({"from": start, "to": r["sent"], "seconds": round(r["sent"] - start, 3),
                            "failed": len(failed), "errors": _count(f["error"] for f in failed), "open": False})
                failed = []
            last_ok = r["sent"]
        else:
            failed.append(r)
    if failed:
        start = last_ok if last_ok is not None else failed[0]["sent"]
        end = failed[-1].get("answered") or failed[-1]["sent"]
        out.append({"from": start, "to": end, "seconds": round(end - start, 3), "failed": len(failed),
                    "errors": _count(f["error"] for f in failed), "open": True})
    return out


def _count(items: Any) -> dict:
    c: dict = {}
    for i in items:
        c[str(i)] = c.get(str(i), 0) + 1
    return c


def dns_moves(recs: list[dict]) -> list[dict]:
    """When Route 53's answer changed region, from the fresh resolutions in the log."""
    moves, last = [], None
    for r in recs:
        if r.get("cached") or r.get("resolved") is None:
            continue
        region = r.get("region") if r.get("address") else None
        if region != last:
            moves.append({"at": r["resolved"], "region": region})
            last = region
    return moves


class Checker:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.world = World(args.world)
        ca = self.world.ca_file() if args.scheme == "https" else None
        self.client = Client(args.hostname, args.port, args.scheme, args.timeout, ca, token=args.token)

    def through_dns(self, method: str, path: str, body: Any) -> tuple[int, Any, dict, str | None]:
        """A request as a user makes it now: resolved afresh, with one retry on a connection failure."""
        last: Exception | None = None
        for _ in range(3):
            addr = self.world.resolve(self.args.hostname)
            if addr is None:
                return 0, {"id": "NXDOMAIN"}, {}, None
            try:
                status, payload, headers = self.client.request(addr, method, path, body)
                return status, payload, headers, self.world.region_of(addr)
            except Exception as e:  # noqa: BLE001
                last = e
                time.sleep(0.2)
        return 0, {"id": failure(last) if last else "?"}, {}, None

    def batch(self, method: str, path: str, body: Any) -> tuple[int, Any, dict, str | None]:
        """A request through DNS, tried again (3 times, 0.5 s apart) while it fails."""
        for attempt in range(3):
            status, payload, headers, region = self.through_dns(method, path, body)
            if status == 200:
                break
            time.sleep(0.5)
        return status, payload, headers, region

    def verify(self, acked: list[dict]) -> list[dict]:
        """Every acknowledged post read by id (`POST /api/v4/posts/ids`, 200 at a
        time) and found by its token (`posts/search`, 50 tokens OR-ed at a time)."""
        checks = {r["post_id"]: {"post_id": r["post_id"], "sent": r["sent"], "readable": False, "searchable": False,
                                 "read_status": None, "read_region": None, "search_status": None,
                                 "search_region": None, "search_backend": None} for r in acked}

        def read(chunk: list[dict]) -> None:
            status, posts, _h, region = self.batch("POST", "/api/v4/posts/ids", [r["post_id"] for r in chunk])
            got = {p.get("id"): p for p in posts} if status == 200 and isinstance(posts, list) else {}
            for r in chunk:
                c = checks[r["post_id"]]
                c.update(read_status=status, read_region=region,
                         readable=got.get(r["post_id"], {}).get("message") == r["message"])

        def search(chunk: list[dict]) -> None:
            status, found, headers, region = self.batch(
                "POST", f"/api/v4/teams/{self.args.team}/posts/search",
                {"terms": " ".join(r["token"] for r in chunk), "is_or_search": True})
            order = set(found.get("order") or []) if status == 200 and isinstance(found, dict) else set()
            backend = {k.lower(): v for k, v in headers.items()}.get("x-standby-search-backend")
            for r in chunk:
                checks[r["post_id"]].update(search_status=status, search_region=region, search_backend=backend,
                                            searchable=r["post_id"] in order)

        with ThreadPoolExecutor(max_workers=self.args.workers) as pool:
            jobs = [pool.submit(read, acked[i:i + 200]) for i in range(0, len(acked), 200)]
            jobs += [pool.submit(search, acked[i:i + 50]) for i in range(0, len(acked), 50)]
            for j in jobs:
                j.result()
        return list(checks.values())

    def heartbeats(self) -> dict:
        try:
            with db_connect(self.world, self.args.db_user, self.args.db_name) as c:
                rows = c.execute("SELECT cluster_name, node, extract(epoch FROM at)::float8 FROM "
                                 "standby_scheduler_heartbeats ORDER BY at").fetchall()
        except Exception as e:  # noqa: BLE001
            return {"error": str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}
        return heartbeat_runs(rows, self.args.since)

    def run(self) -> dict:
        recs = [r for r in load(self.args.log) if self.args.since is None or r["sent"] >= self.args.since]
        acked = [r for r in recs if r["outcome"] == "acknowledged"]
        failed = [r for r in recs if r["outcome"] != "acknowledged"]
        ws = windows(recs)
        report: dict[str, Any] = {
            "attempts": len(recs), "acknowledged": len(acked), "failed": len(failed),
            "first": recs[0]["sent"] if recs else None, "last": recs[-1]["sent"] if recs else None,
            "errors": _count(r["error"] for r in failed),
            "acknowledged_by_region": _count(r.get("region") for r in acked),
            "failed_by_region": _count(r.get("region") for r in failed),
            "windows": ws, "longest_window_s": max((w["seconds"] for w in ws), default=0.0),
            "dns_moves": dns_moves(recs),
        }
        moves = report["dns_moves"]
        if moves:
            moved = moves[-1]["at"]
            report["dns_moved_at"] = moved
            report["failed_after_dns_moved"] = [
                {"seq": r["seq"], "sent": r["sent"], "region": r.get("region"), "error": r["error"]}
                for r in failed if (r.get("resolved") or 0) >= moved]
        if self.args.outage_at is not None:
            t = self.args.outage_at
            first = next((r for r in acked if r["sent"] >= t), None)
            report["outage_at"] = t
            report["first_acknowledged_after_outage"] = first["answered"] if first else None
            report["rto_s"] = round(first["answered"] - t, 3) if first else None
            report["last_acknowledged_before_outage"] = max((r["answered"] for r in acked if r["sent"] < t),
                                                            default=None)
        if not self.args.no_verify:
            checks = self.verify(acked)
            missing = [c for c in checks if not c["readable"]]
            unsearchable = [c for c in checks if not c["searchable"]]
            report.update({
                "readable": len(checks) - len(missing), "missing": missing[:50], "rpo_posts": len(missing),
                "searchable": len(checks) - len(unsearchable), "unsearchable": unsearchable[:50],
                "read_regions": _count(c["read_region"] for c in checks),
                "search_backends": _count(c["search_backend"] for c in checks),
            })
            if missing:
                report["rpo_s"] = round(max(c["sent"] for c in missing) - min(c["sent"] for c in missing), 3)
        if self.args.db_user:
            report["heartbeats"] = self.heartbeats()
        return report


def db_connect(world: World, user: str, dbname: str) -> Any:
    """psycopg to the global writer endpoint (else the active writer), as
    `user` (password in STANDBY_CHECK_DB_PASSWORD), TLS verified."""
    import psycopg

    eps = world.get("/_emulator/rds/endpoints")
    ep = next((e for e in eps if e.get("kind") == "global"), None) or \
        next((e for e in eps if e.get("kind") == "writer" and e.get("active")), None)
    if ep is None:
        raise RuntimeError("no global writer endpoint")
    ca = world.get("/_emulator/rds/ca")["bundle"]
    return psycopg.connect(host=ep["name"], hostaddr=ep["address"], port=5432, user=user,
                           password=os.environ.get("STANDBY_CHECK_DB_PASSWORD", ""), dbname=dbname,
                           sslmode="verify-full", sslrootcert=ca, connect_timeout=10, autocommit=True)


def cmd_token(args: argparse.Namespace) -> int:
    """Gives the user a personal access token in Mattermost's database, where
    a production user would already have one (mattermost.token_statements)."""
    from .mattermost import token_statements

    world = World(args.world)
    last: Exception | None = None
    for _ in range(5):
        try:
            with db_connect(world, args.db_user, args.db_name) as c:
                for sql, params in token_statements(args.token, args.user_id, "game day"):
                    c.execute(sql, params)
            return 0
        except Exception as e:  # noqa: BLE001 - the stand-in's migration may make the table at the same time
            last = e
            time.sleep(0.5)
    print(f"could not store the token: {last}", file=sys.stderr)
    return 1


def heartbeat_runs(rows: list[tuple], since: float | None, gap: float = 3.0) -> dict:
    """Each cluster's runs of heartbeats (a gap over `gap` s ends one) and the
    overlaps of runs of different clusters: two schedulers at once."""
    runs: list[dict] = []
    open_run: dict[str, dict] = {}
    for cluster, node, at in rows:
        if since is not None and at < since:
            continue
        r = open_run.get(cluster)
        if r is None or at - r["to"] > gap:
            r = {"cluster": cluster, "from": at, "to": at, "beats": 0, "nodes": set()}
            runs.append(r)
            open_run[cluster] = r
        r["to"], r["beats"] = at, r["beats"] + 1
        r["nodes"].add(node)
    overlaps = []
    for i, a in enumerate(runs):
        for b in runs[i + 1:]:
            if a["cluster"] != b["cluster"]:
                lo, hi = max(a["from"], b["from"]), min(a["to"], b["to"])
                if lo < hi:
                    overlaps.append({"clusters": [a["cluster"], b["cluster"]], "from": lo, "to": hi,
                                     "seconds": round(hi - lo, 3)})
    for r in runs:
        r["nodes"] = sorted(r["nodes"])
    return {"beats": sum(r["beats"] for r in runs), "runs": runs, "overlaps": overlaps}


def cmd_check(args: argparse.Namespace) -> int:
    report = Checker(args).run()
    if args.summary:
        print(summary(report))
        return 0
    text = json.dumps(report, indent=None if args.compact else 2, default=str)
    if args.out and args.out != "-":
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0


def summary(report: dict) -> str:
    """The report in a few lines, for people."""
    def regions(counts: dict) -> str:
        return ", ".join(f"{n} in {r or 'no region'}" for r, n in sorted(counts.items(), key=lambda kv: str(kv[0])))
    lines = [f"{report['attempts']} posts sent, {report['acknowledged']} acknowledged "
             f"({regions(report['acknowledged_by_region']) or 'none'}), {report['failed']} failed"]
    if report["failed"]:
        lines.append("  failed: " + ", ".join(f"{n} {e}" for e, n in report["errors"].items())
                     + f" ({regions(report['failed_by_region'])})")
    lines.append(f"  longest window without a successful write: {report['longest_window_s']} s"
                 + (" (still open: users cannot write now)" if any(w.get("open") for w in report["windows"]) else ""))
    for m in report.get("dns_moves") or []:
        lines.append(f"  DNS sent users to {m.get('region') or 'nowhere (NXDOMAIN)'} at {time.strftime('%H:%M:%S', time.localtime(m['at']))}")
    if "readable" in report and report["acknowledged"]:
        lines.append(f"  afterwards, through DNS: {report['readable']} of {report['acknowledged']} acknowledged posts "
                     f"readable, {report['searchable']} found by search (read in {regions(report['read_regions'])})")
        for m in report["missing"][:5]:
            lines.append(f"  missing: post {m.get('post_id')} sent {time.strftime('%H:%M:%S', time.localtime(m['sent']))}")
    hb = report.get("heartbeats")
    if isinstance(hb, dict) and "overlaps" in hb:
        clusters = sorted({r["cluster"] for r in hb["runs"]})
        lines.append(f"  job scheduler heartbeats from {', '.join(clusters) or 'no cluster'}: "
                     + (f"{len(hb['overlaps'])} times two at once" if hb["overlaps"] else "never two at once"))
    elif isinstance(hb, dict) and "error" in hb:
        lines.append(f"  job scheduler heartbeats could not be read: {hb['error']}")
    return "\n".join(lines)


def cmd_wait(args: argparse.Namespace) -> int:
    started, said = time.time(), 0.0
    while True:
        recs = [r for r in load(args.log) if r["sent"] >= args.since] if os.path.exists(args.log[0]) else []
        hit = next((r for r in recs if r["outcome"] == "acknowledged"), None)
        if hit is not None:
            print(f"    a post acknowledged through DNS by {hit.get('region')}, "
                  f"{hit['answered'] - args.since:.1f} s after the start", file=sys.stderr)
            return 0
        errors = _count(r["error"] for r in recs)
        if time.time() - said >= args.every:
            said = time.time()
            print(f"    {time.time() - started:4.0f}s: {len(recs)} posts sent, none acknowledged yet"
                  + (f" ({', '.join(f'{n} {e}' for e, n in errors.items())})" if errors else ""), file=sys.stderr)
        if time.time() - started > args.deadline:
            print(f"    users could not post through DNS for {args.deadline:.0f} s: "
                  + (", ".join(f"{n} {e}" for e, n in errors.items()) or "no attempt logged"), file=sys.stderr)
            return 1
        time.sleep(0.2)


NOTE = re.compile(r"POST /api/v4/jobs (\{.*?\}) on Mattermost in ([a-z]{2}-[a-z]+-\d)")


def cmd_reindex(args: argparse.Namespace) -> int:
    with open(args.run_output) as f:
        notes = NOTE.findall(f.read())
    world = World(args.world)
    client = Client(args.hostname, args.port, args.scheme, args.timeout,
                    world.ca_file() if args.scheme == "https" else None, token=args.token)
    for body, region in notes:
        lb = next((b for b in world.get("/_emulator/world")["load_balancers"]
                   if f".{region}.elb." in b.get("dns_name", "")), None)
        if lb is None:
            print(f"    no load balancer in {region} for the run's note", file=sys.stderr)
            return 1
        print(f"    following the run's note: POST /api/v4/jobs {body} on Mattermost in {region}", file=sys.stderr)
        status, job, _ = client.request(lb["address"], "POST", "/api/v4/jobs", json.loads(body))
        if status != 201:
            print(f"    the re-index job was refused: {status} {job}", file=sys.stderr)
            return 1
        started = time.time()
        while True:
            _, j, _ = client.request(lb["address"], "GET", f"/api/v4/jobs/{job['id']}", None)
            if j.get("status") == "success":
                print(f"    re-index in {region} done in {time.time() - started:.1f} s", file=sys.stderr)
                break
            if j.get("status") == "error" or time.time() - started > args.deadline:
                print(f"    the re-index job in {region}: {j}", file=sys.stderr)
                return 1
            time.sleep(0.5)
    return 0


# ------------------------------------------------------------------- main ---

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m standby_emulator.synthetic_user",
                                 description="A synthetic Mattermost user, and what users saw (module docstring).")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--world", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
                       help="the emulator (default $AWS_ENDPOINT_URL)")
        p.add_argument("--hostname", default="chat.example.com", help="the name users reach (default %(default)s)")
        p.add_argument("--scheme", choices=["http", "https"], default="http")
        p.add_argument("--port", type=int, default=None, help="default 80 (http) or 443 (https)")
        p.add_argument("--timeout", type=float, default=10.0, help="seconds a request may take (default 10)")
        p.add_argument("--token", default=os.environ.get("STANDBY_MM_TOKEN", ""),
                       help="the user's personal access token (default $STANDBY_MM_TOKEN), sent as "
                            "Authorization: Bearer")

    p = sub.add_parser("post", help="post every --every-ms through DNS, one JSON line per attempt")
    common(p)
    p.add_argument("--out", required=True, help="the log (JSON lines; appended; - for stdout)")
    p.add_argument("--every-ms", type=int, default=100)
    p.add_argument("--duration", type=float, default=None, help="seconds (default: until SIGTERM or --stop-file)")
    p.add_argument("--stop-file", default=None, help="stop once this file exists")
    p.add_argument("--ready-file", default=None, help="write the run id here once started")
    p.add_argument("--dns-ttl", type=float, default=None,
                   help="AWS seconds an answer is kept (default 60, the alias records' TTL; 0: never cached)")
    p.add_argument("--keep-alive", action="store_true",
                   help="keep one connection per resolved address, as browsers keep theirs (default: a new "
                        "connection per post)")
    p.add_argument("--channel", default="town-square")
    p.add_argument("--run-id", default=None, help="in every message (default: random)")
    p.set_defaults(fn=cmd_post)

    c = sub.add_parser("check", help="what users saw: windows, RTO, posts readable and searchable, heartbeats")
    common(c)
    c.add_argument("--log", action="append", required=True, help="a poster's log (repeatable)")
    c.add_argument("--since", type=float, default=None, help="only attempts (and heartbeats) from this epoch time")
    c.add_argument("--outage-at", type=float, default=None, help="epoch time of the outage: report the RTO")
    c.add_argument("--team", default="gameday")
    c.add_argument("--workers", type=int, default=4)
    c.add_argument("--no-verify", action="store_true", help="skip reading and searching the posts")
    c.add_argument("--db-user", default=None, help="read the scheduler heartbeats as this database user "
                                                   "(password in STANDBY_CHECK_DB_PASSWORD)")
    c.add_argument("--db-name", default="mattermost")
    c.add_argument("--compact", action="store_true")
    c.add_argument("--out", default="-")
    c.add_argument("--summary", action="store_true", help="a few lines for people instead of JSON")
    c.set_defaults(fn=cmd_check)

    w = sub.add_parser("wait", help="until a post sent from --since is acknowledged, with progress lines")
    w.add_argument("--log", action="append", required=True, help="the poster's log")
    w.add_argument("--since", type=float, required=True, help="epoch time")
    w.add_argument("--deadline", type=float, default=300.0, help="seconds (default 300)")
    w.add_argument("--every", type=float, default=5.0, help="seconds between progress lines (default 5)")
    w.set_defaults(fn=cmd_wait)

    r = sub.add_parser("reindex", help="run the search re-index a run's output asks for, and wait for it")
    common(r)
    r.add_argument("run_output", help="a file with the run's output")
    r.add_argument("--deadline", type=float, default=300.0, help="seconds a job may take (default 300)")
    r.set_defaults(fn=cmd_reindex)
    t = sub.add_parser("token", help="give a user a personal access token in Mattermost's database "
                                     "(where production's users would already have theirs)")
    t.add_argument("--world", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"))
    t.add_argument("--token", required=True)
    t.add_argument("--user-id", default="gamedayuser000000000000000")
    t.add_argument("--db-user", required=True, help="the database user (password in STANDBY_CHECK_DB_PASSWORD)")
    t.add_argument("--db-name", default="mattermost")
    t.set_defaults(fn=cmd_token)
    args = ap.parse_args(argv)
    if getattr(args, "port", 0) is None:
        args.port = 443 if args.scheme == "https" else 80
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
