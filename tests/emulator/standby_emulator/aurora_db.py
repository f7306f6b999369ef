"""A real database behind Aurora's endpoints: volumes, endpoints and where they lead.

**Volumes.** Aurora stores a cluster's data in a cluster volume, and a global
database replicates it at the storage layer, so all members of a global
cluster read the same data (Aurora User Guide, "Using Amazon Aurora Global
Database"). Here a volume is a namespace on the emulator's one PostgreSQL
server (pg_server.py): its roles and its databases. A standalone cluster has
its own volume; a cluster that joins a global cluster uses the writer's; a
cluster detached with RemoveFromGlobalCluster gets its own, a copy of the
global one at that moment (pg_dump/pg_restore). A volume is materialized
(roles and databases created) on the first connection to one of its
endpoints, which also starts the server.

A volume holds: the master user from CreateDBCluster (`MasterUsername`,
`MasterUserPassword`, a real LOGIN role with a SCRAM password, CREATEROLE and
CREATEDB, member of the volume's `rds_superuser` group role: Aurora's master
user "is granted the rds_superuser role", not superuser; AuroraPostgreSQL.
Security); the `postgres` database and the one `DatabaseName` names, both
owned by the master user; and whatever its sessions create with SQL (roles and
databases made in a session are attributed to that session's volume as soon
as the statement returns). Names are the client's names on the server when
free; when another volume already has that name the server's object gets a
`v<N>__` prefix, and the proxy maps names both ways (startup message, errors,
`session_authorization`), so `current_user` shows the prefixed name in that
case only. A client naming a role or database of another volume is answered
as PostgreSQL answers a name that does not exist.

**Endpoints** (host names in AWS's format, each on its own loopback address,
registered in network.py so they resolve; see rds.fix_endpoint_names):
- a cluster's writer endpoint leads to its writer instance while the cluster
  is standalone or the global writer; on a secondary it is inactive (RDS API
  DBClusterEndpoint.Status: "inactive ... a writer endpoint for a read-only
  secondary cluster in a global database"): no listener, connection refused;
- its reader endpoint gives read-only sessions, except on a writer cluster
  without replicas (Aurora.Endpoints.Reader: "If the cluster only contains a
  primary instance and no Aurora Replicas, the reader endpoint connects to the
  primary instance. In that case, you can perform write operations"); on a
  secondary with GlobalWriteForwardingStatus `enabled` (and the writer
  reachable) sessions are read-write (writes forwarded) but refuse DDL;
- the global writer endpoint (`GlobalCluster.Endpoint`) leads to the current
  writer ("always points to the writer DB instance in the current primary
  cluster").
No endpoint leads anywhere while its cluster has no available instance
(headless), its region is down (regions.py), its secondary resyncs
(`SynchronizationStatus: pending-resync`), or its cluster takes a new role in
a switchover or failover ("Your database is unavailable for a short time while
the primary and selected secondary clusters are assuming their new roles",
AUG-DR); sessions are then ended (see pg_proxy.Session).
"""

import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import network
from .settings import SETTINGS

LOCK = threading.RLock()
_RESERVED_ROLES = {"standby_admin"}
_RESERVED_DBS = {"template0", "template1"}


@dataclass(eq=False)
class Volume:
    n: int
    master_user: str | None
    master_password: str | None
    database_name: str | None
    materialized: bool = False
    # oid -> name the client uses (the server's name may carry a v<N>__ prefix)
    roles: dict[int, str] = field(default_factory=dict)
    dbs: dict[int, str] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"v{self.n}__"


@dataclass
class Endpoint:
    name: str
    addr: str
    kind: str  # writer | reader | global
    account: str
    region: str | None
    ident: str  # cluster id, or global cluster id


@dataclass
class Route:
    endpoint: str
    volume: Volume
    cluster: Any  # moto DBCluster whose instance serves the session
    mode: str  # rw | ro | forwarding


class Names:
    """The server's names for a session's user and database, and the way back."""

    def __init__(self, user: str, database: str, back: dict[str, str]) -> None:
        self.user, self.database, self._back = user, database, back

    def restore(self, body: bytes) -> bytes:
        for server, client in self._back.items():
            if server != client:
                body = body.replace(server.encode(), client.encode())
        return body


class Model:
    def __init__(self, instance_dir: Path) -> None:
        from .pg_proxy import Proxy
        from .pg_server import Server
        from .rds_ca import CA

        self.instance_dir = instance_dir
        self.ca = CA(instance_dir / "rds-ca.pem")
        self.server = Server(instance_dir)
        self.proxy = Proxy(self)
        self.endpoints: dict[str, Endpoint] = {}
        self.volumes: list[Volume] = []
        self._next = 1

    # ------------------------------------------------------------ volumes ---

    def new_volume(self, user: str | None, password: str | None, dbname: str | None) -> Volume:
        with LOCK:
            v = Volume(self._next, user, password, dbname)
            self._next += 1
            self.volumes.append(v)
            return v

    def _claim(self, conn, kind: str, name: str, v: Volume) -> str:
        """`name` on the server if no object has it, else the volume's prefixed name."""
        table, col = ("pg_roles", "rolname") if kind == "role" else ("pg_database", "datname")
        taken = conn.execute(f"SELECT 1 FROM {table} WHERE {col} = %s", (name,)).fetchone()
        return v.prefix + name if taken or name in _RESERVED_ROLES | _RESERVED_DBS else name

    def _materialize(self, v: Volume) -> None:
        from psycopg import sql

        if v.materialized:
            return
        with self.server.connect() as c:
            group = self._claim(c, "role", "rds_superuser", v)
            c.execute(sql.SQL("CREATE ROLE {} NOLOGIN CREATEROLE CREATEDB").format(sql.Identifier(group)))
            c.execute(sql.SQL("GRANT pg_monitor, pg_signal_backend TO {}").format(sql.Identifier(group)))
            v.roles[self._oid(c, "role", group)] = "rds_superuser"
            owner = None
            if v.master_user:
                owner = self._claim(c, "role", v.master_user, v)
                c.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE CREATEDB INHERIT PASSWORD {}").format(
                    sql.Identifier(owner), sql.Literal(v.master_password or None)))
                c.execute(sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(
                    sql.Identifier(group), sql.Identifier(owner)))
                v.roles[self._oid(c, "role", owner)] = v.master_user
            extra = [v.database_name] if v.database_name and v.database_name != "postgres" else []
            for db in ["postgres"] + extra:
                if db == "postgres" and not self._owned_db(c, "postgres"):
                    # The server's own `postgres` database goes to the first volume.
                    if owner:
                        c.execute(sql.SQL("ALTER DATABASE postgres OWNER TO {}").format(sql.Identifier(owner)))
                    v.dbs[self._oid(c, "db", "postgres")] = "postgres"
                    continue
                claimed = self._claim(c, "db", db, v)
                c.execute(sql.SQL("CREATE DATABASE {}{}").format(
                    sql.Identifier(claimed),
                    sql.SQL(" OWNER {}").format(sql.Identifier(owner)) if owner else sql.SQL("")))
                v.dbs[self._oid(c, "db", claimed)] = db
        v.materialized = True

    def _owned_db(self, conn, name: str) -> bool:
        oid = self._oid(conn, "db", name)
        return any(oid in v.dbs for v in self.volumes)

    def _oid(self, conn, kind: str, name: str) -> int | None:
        table, col = ("pg_roles", "rolname") if kind == "role" else ("pg_database", "datname")
        row = conn.execute(f"SELECT oid FROM {table} WHERE {col} = %s", (name,)).fetchone()
        return int(row[0]) if row else None

    def backend_names(self, v: Volume, user: str, database: str) -> Names:
        with LOCK:
            self._materialize(v)
            with self.server.connect() as c:
                roles = dict(c.execute("SELECT oid, rolname FROM pg_roles").fetchall())
                dbs = dict(c.execute("SELECT oid, datname FROM pg_database").fetchall())
            v.roles = {o: n for o, n in v.roles.items() if o in roles}
            v.dbs = {o: n for o, n in v.dbs.items() if o in dbs}
            back = {}

            def find(own: dict[int, str], server: dict[int, str], name: str) -> str:
                for oid, client in own.items():
                    # A SQL rename changes the server's name; the prefixed ones keep their client name.
                    shown = client if server[oid].startswith(v.prefix) and server[oid] != client else server[oid]
                    if shown == name:
                        back[server[oid]] = name
                        return server[oid]
                back[v.prefix + name] = name
                return v.prefix + name  # exists nowhere: PostgreSQL answers as for an unknown name

            return Names(find(v.roles, roles, user), find(v.dbs, dbs, database), back)

    def attribute(self, v: Volume) -> None:
        """Roles and databases a session of `v` created with SQL become `v`'s."""
        with LOCK:
            known_roles = set().union(*(x.roles for x in self.volumes))
            known_dbs = set().union(*(x.dbs for x in self.volumes))
            with self.server.connect() as c:
                for oid, name in c.execute("SELECT oid, rolname FROM pg_roles WHERE rolname !~ '^pg_'"):
                    if oid not in known_roles and name not in _RESERVED_ROLES:
                        v.roles[int(oid)] = name
                for oid, name in c.execute("SELECT oid, datname FROM pg_database"):
                    if oid not in known_dbs and name not in _RESERVED_DBS and name != "postgres":
                        v.dbs[int(oid)] = name

    def set_master_password(self, v: Volume, password: str) -> None:
        from psycopg import sql

        with LOCK:
            v.master_password = password
            if not v.materialized or not v.master_user:
                return
            oid = next((o for o, n in v.roles.items() if n == v.master_user), None)
            with self.server.connect() as c:
                row = c.execute("SELECT rolname FROM pg_roles WHERE oid = %s", (oid,)).fetchone()
                if row:
                    c.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(row[0]),
                                                                          sql.Literal(password)))

    def clone(self, v: Volume) -> Volume:
        """A new volume with a copy of `v`'s master user and databases (RemoveFromGlobalCluster)."""
        from psycopg import sql

        with LOCK:
            new = self.new_volume(v.master_user, v.master_password, v.database_name)
            if not v.materialized:
                return new
            self._materialize(new)
            bindir = self.server_bin()
            with self.server.connect() as c:
                names = dict(c.execute("SELECT oid, datname FROM pg_database").fetchall())
                roles = dict(c.execute("SELECT oid, rolname FROM pg_roles").fetchall())
                master = next((roles[o] for o, n in new.roles.items() if n == new.master_user and o in roles), None)
                new_names = {client: names[o] for o, client in new.dbs.items()}
                for oid, client in list(v.dbs.items()):
                    src = names.get(oid)
                    if src is None:
                        continue
                    dst = new_names.get(client)
                    if dst is None:
                        dst = self._claim(c, "db", client, new)
                        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dst)))
                        new.dbs[self._oid(c, "db", dst)] = client
                    with tempfile.TemporaryDirectory() as d:
                        dump = Path(d) / "dump"
                        sock = str(self.server.socket_dir)
                        subprocess.run([str(bindir / "pg_dump"), "-h", sock, "-U", "standby_admin", "-Fc",
                                        "--no-owner", "--no-acl", "-f", str(dump), src], check=True,
                                       capture_output=True)
                        # The copy's objects belong to its master user (the roles made with SQL are not copied).
                        role = ["--role", master] if master else []
                        subprocess.run([str(bindir / "pg_restore"), "-h", sock, "-U", "standby_admin",
                                        "--no-owner", "--no-acl", *role, "-d", dst, str(dump)],
                                       capture_output=True)
            return new

    def server_bin(self) -> Path:
        from .pg_server import bin_dir

        return bin_dir()

    def drop_volume(self, v: Volume) -> None:
        from psycopg import sql

        with LOCK:
            if v in self.volumes:
                self.volumes.remove(v)
            if not v.materialized or not self.server.running():
                return
            with self.server.connect() as c:
                dbs = dict(c.execute("SELECT oid, datname FROM pg_database").fetchall())
                for oid in v.dbs:
                    name = dbs.get(oid)
                    if name == "postgres":
                        continue
                    if name:
                        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                roles = dict(c.execute("SELECT oid, rolname FROM pg_roles").fetchall())
                for oid in v.roles:
                    name = roles.get(oid)
                    if name:
                        try:
                            c.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
                            c.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
                        except Exception:  # noqa: BLE001 - still owns objects elsewhere: keep it
                            pass

    def lose_writes_since(self, v: Volume, cutoff: float) -> int:
        """Deletes the rows committed at or after `cutoff` (epoch seconds) in every
        database of `v`: the writes a data-loss failover did not carry over. A row
        updated in the window goes entirely (its older version is not restored),
        and rows deleted in the window do not come back."""
        from psycopg import sql

        with LOCK:
            if not v.materialized or not self.server.running():
                return 0
            lost = 0
            with self.server.connect() as c:
                dbs = dict(c.execute("SELECT oid, datname FROM pg_database").fetchall())
            for oid in list(v.dbs):
                name = dbs.get(oid)
                if not name:
                    continue
                with self.server.connect(name) as c:
                    c.execute("SET session_replication_role = replica")  # no FK triggers: rows go as they are
                    tables = c.execute(
                        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                        "AND n.nspname NOT LIKE 'pg_toast%%'").fetchall()
                    for schema, table in tables:
                        cur = c.execute(sql.SQL(
                            "DELETE FROM {}.{} WHERE pg_xact_commit_timestamp(xmin) >= to_timestamp(%s)").format(
                            sql.Identifier(schema), sql.Identifier(table)), (cutoff,))
                        lost += cur.rowcount
            return lost

    # ---------------------------------------------------------- endpoints ---

    def add_endpoint(self, name: str, kind: str, account: str, region: str | None, ident: str) -> None:
        with LOCK:
            if name in self.endpoints:
                return
            addr = network.allocate(5432)
            network.register(name, addr)
            self.endpoints[name] = Endpoint(name, addr, kind, account, region, ident)

    def remove_endpoints(self, pred) -> None:
        with LOCK:
            for name in [n for n, e in self.endpoints.items() if pred(e)]:
                e = self.endpoints.pop(name)
                self.proxy.unlisten(name)
                for s in self.proxy.sessions_where(lambda s, n=name: s.endpoint == n):
                    s.cut()
                network.unregister(name)
                network.release(e.addr)

    def tls_context(self, endpoint: str):
        return self.ca.context(endpoint)

    def backend_socket(self) -> str:
        return self.server.socket_path()

    def force_ssl(self, route: Route) -> bool:
        if int(SETTINGS.get("rds_force_ssl", 0)):
            return True
        return _cluster_parameter(route.cluster, "rds.force_ssl") == "1"

    def route(self, name: str) -> Route | None:
        from . import rds_endpoints as rds

        with LOCK:
            e = self.endpoints.get(name)
            if e is None:
                return None
            if e.kind == "global":
                gc = rds.global_by_id(e.account, e.ident)
                if gc is None:
                    return None
                cluster = next((m for m in gc.members if m.is_writer), None)
                if cluster is None or not _serves(cluster):
                    return None
                return Route(name, volume_of(cluster), cluster, "rw")
            cluster = rds.cluster_by_id(e.account, e.region, e.ident)
            if cluster is None or not _serves(cluster):
                return None
            v = volume_of(cluster)
            if v is None:
                return None
            writer = rds.is_writer(cluster)
            if e.kind == "writer":
                return Route(name, v, cluster, "rw") if writer else None
            if writer:
                replicas = [i for i in _instances(cluster) if not i.is_cluster_writer]
                return Route(name, v, cluster, "ro" if replicas else "rw")
            if rds.sync_status(cluster) != "connected":
                return None
            gc = rds.membership(cluster)
            primary = next((m for m in gc.members if m.is_writer), None) if gc else None
            forwarding = (cluster.global_write_forwarding_status == "enabled" and primary is not None
                          and _serves(primary))
            return Route(name, v, cluster, "forwarding" if forwarding else "ro")

    def refresh(self, cut: bool = False) -> None:
        """Listeners follow the model; sessions whose endpoint no longer leads
        to the instance they are on are ended (`cut`: as a network loss)."""
        with LOCK:
            routes = {name: self.route(name) for name in self.endpoints}
            for name, e in self.endpoints.items():
                if routes[name] is None:
                    self.proxy.unlisten(name)
                elif not self.proxy.listening(name):
                    try:
                        self.proxy.listen(name, e.addr)
                    except OSError:
                        pass
            ended = [s for s in self.proxy.sessions_where(lambda s: True)
                     if routes.get(s.endpoint) is None or routes[s.endpoint].cluster is not s.route.cluster]
        self.end_sessions(ended, cut)

    def end_sessions(self, sessions, cut: bool) -> None:
        pids = [s.pid for s in sessions if s.pid]
        if not cut and pids and self.server.running():
            try:
                with self.server.connect() as c:
                    c.execute("SELECT pg_terminate_backend(p) FROM unnest(%s::int[]) p", (pids,))
                time.sleep(0.05)  # the FATAL message reaches the client before the cut below
            except Exception:  # noqa: BLE001 - the server is gone: cutting is all there is
                pass
        for s in sessions:
            s.cut()

    def end_cluster_sessions(self, clusters, cut: bool = False) -> None:
        ids = {id(c) for c in clusters if c is not None}
        self.end_sessions(self.proxy.sessions_where(lambda s: id(s.route.cluster) in ids), cut)

    def reset(self) -> None:
        with LOCK:
            for s in self.proxy.sessions_where(lambda s: True):
                s.cut()
            for name in list(self.endpoints):
                self.proxy.unlisten(name)
            self.endpoints.clear()
            self.volumes.clear()
            self._next = 1
        self.server.stop()

    def describe(self) -> list[dict[str, Any]]:
        with LOCK:
            out = []
            for name, e in sorted(self.endpoints.items()):
                r = self.route(name)
                out.append({"name": name, "address": e.addr, "port": 5432, "kind": e.kind, "region": e.region,
                            "cluster" if e.kind != "global" else "global_cluster": e.ident,
                            "active": r is not None, "mode": r.mode if r else None,
                            "serving_cluster": r.cluster.db_cluster_identifier if r else None,
                            "volume": r.volume.n if r else None})
            return out


def _instances(cluster) -> list:
    return [i for i in cluster._members if getattr(i, "status", "available") == "available"]


def _serves(cluster) -> bool:
    """The cluster has an instance to serve sessions now."""
    from . import rds_endpoints as rds
    from .regions import is_down

    return (not is_down(rds.region_of(cluster)) and bool(_instances(cluster))
            and not rds.in_transition(cluster))


def _cluster_parameter(cluster, name: str) -> str | None:
    try:
        from moto.rds.models import rds_backends

        backend = rds_backends[cluster.account_id][cluster.region]
        group = backend.db_cluster_parameter_groups.get(cluster.parameter_group)
        params = getattr(group, "parameters", None) or {}
        p = params.get(name)
        if isinstance(p, dict):
            return str(p.get("ParameterValue", p.get("parameter_value")))
        return None if p is None else str(getattr(p, "value", p))
    except Exception:  # noqa: BLE001 - no such group: the default
        return None


def volume_of(obj) -> Volume | None:
    return obj.__dict__.get("_emu_volume")


def set_volume(obj, v: Volume | None) -> None:
    obj.__dict__["_emu_volume"] = v


_MODEL: Model | None = None


def model() -> Model:
    global _MODEL
    with LOCK:
        if _MODEL is None:
            d = os.environ.get("STANDBY_EMULATOR_DIR") or tempfile.mkdtemp(prefix="standby-emulator-")
            _MODEL = Model(Path(d))
        return _MODEL


def refresh(cut: bool = False) -> None:
    if _MODEL is not None:
        _MODEL.refresh(cut)


def reset() -> None:
    if _MODEL is not None:
        _MODEL.reset()


def control(method: str, path: str, read_json) -> tuple[int, Any] | None:
    """Test-only routes: GET /_emulator/rds/endpoints, /ca, /postgres; POST /_emulator/rds/status."""
    if path == "/_emulator/rds/endpoints" and method == "GET":
        return 200, model().describe()
    if path == "/_emulator/rds/ca" and method == "GET":
        m = model()
        return 200, {"bundle": str(m.ca.path), "pem": m.ca.pem.decode()}
    if path == "/_emulator/rds/status" and method == "POST":
        # {"region", "cluster" | "instance", "status"} or {"global_cluster", "status"}: force a status.
        from moto.rds.models import rds_backends

        from . import rds_endpoints

        body = read_json()
        account, status = body.get("account", "123456789012"), str(body["status"])
        if body.get("global_cluster"):
            obj = rds_endpoints.global_by_id(account, body["global_cluster"])
        elif body.get("instance"):
            obj = rds_backends[account][body.get("region")].databases.get(body["instance"])
        else:
            obj = rds_endpoints.cluster_by_id(account, body.get("region"), body.get("cluster", ""))
        if obj is None:
            return 404, {"message": "no such resource"}
        obj.status = status
        refresh()
        return 200, {"status": status}
    if path == "/_emulator/rds/postgres" and method == "GET":
        s = model().server
        return 200, {"running": s.running(), "pid": s.pid(), "startup_ms": s.startup_ms,
                     "volumes": [{"volume": v.n, "materialized": v.materialized,
                                  "roles": sorted(v.roles.values()), "databases": sorted(v.dbs.values())}
                                 for v in model().volumes]}
    return None
