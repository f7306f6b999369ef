"""A real database behind Aurora's endpoints: volumes, endpoints and where they lead.

**Volumes** (aurora_volumes.py). Aurora stores a cluster's data in a cluster volume, and a global
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
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import network
from .aurora_lock import LOCK
from .aurora_volumes import Volume, Volumes
from .settings import SETTINGS


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
        self.volumes = Volumes(self.server)

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
            self.volumes.reset()
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
                                 for v in model().volumes.all]}
    return None
