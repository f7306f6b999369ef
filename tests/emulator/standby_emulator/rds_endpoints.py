"""Aurora endpoint names in AWS's format, and the RDS calls that give endpoints a database.

Names (moto 5.2.5: a random 12-character part per cluster, and
`<global-id>.global-<8 hex>.global.rds.amazonaws.com` for a global cluster):
- cluster `Endpoint` `<id>.cluster-<dns>.<region>.rds.amazonaws.com`,
  `ReaderEndpoint` `<id>.cluster-ro-<dns>.<region>.rds.amazonaws.com`, an
  instance's `Endpoint.Address` `<id>.<dns>.<region>.rds.amazonaws.com`, where
  `<dns>` is 12 lowercase letters and digits shared by every endpoint of an
  account in a region (the AWS CLI example of describe-db-cluster-endpoints:
  two clusters of one Region, both `cluster-cnpexample`; Aurora User Guide,
  Aurora.Endpoints: the examples
  `mydbcluster.cluster-c7tj4example.us-east-1...`, `mydbcluster.cluster-ro-
  c7tj4example...`, and AUG-DR's `my-global.cluster-aaaaaabbbbbb.us-west-1`
  / `my-global.cluster-ro-aaaaaabbbbbb.us-west-1` of one cluster);
- `GlobalCluster.Endpoint` `<global-id>.global-<12 lowercase letters and
  digits>.global.rds.amazonaws.com` (aurora-global-database-connecting: "The
  first part of the writer endpoint name is the name of your Aurora Global
  Database"; the AWS Advanced JDBC/Ruby wrappers' `<gdb>.global-<xyz>.global.
  rds.amazonaws.com` pattern, and a real `....global-gz98qn0nnotx.global...`).

Hooks (each then lets aurora_db follow): CreateDBCluster gives a standalone
cluster its own volume (master user, password, DatabaseName) and a secondary
the writer's; DatabaseName on a secondary is refused (InvalidParameterCombination
"Cannot specify database name for cross region replication cluster", the
error AWS gives, pulumi/pulumi-aws#3751); ModifyDBCluster MasterUserPassword
changes the master role's password; CreateGlobalCluster gives the global
writer endpoint; RemoveFromGlobalCluster gives the detached cluster a copy of
the volume; deleting clusters, instances and global clusters removes what they
served.
"""

import random
import string
from typing import Any

from moto.rds.exceptions import InvalidParameterCombination
from moto.rds.models import DBCluster, DBInstance, GlobalCluster, RDSBackend, rds_backends
from moto.rds.responses import RDSResponse

from . import aurora_db, rds

_DNS: dict[tuple[str, str], str] = {}


def _random12() -> str:
    rng = random.SystemRandom()
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(12))


def dns_id(account: str, region: str) -> str:
    return _DNS.setdefault((account, region), _random12())


# ------------------------------------------------------------- lookups ---

def global_by_id(account: str, ident: str) -> GlobalCluster | None:
    return rds_backends[account][rds.GLOBAL_REGION].global_clusters.get(ident)


def cluster_by_id(account: str, region: str, ident: str) -> DBCluster | None:
    return rds_backends[account][region].clusters.get(ident)


def membership(cluster: DBCluster) -> GlobalCluster | None:
    return rds._membership(cluster)


def is_writer(cluster: DBCluster) -> bool:
    """Standalone, or the writer of its global cluster."""
    gc = membership(cluster)
    return gc is None and not _detached(cluster) or (gc is not None and bool(cluster.is_writer))


def _detached(cluster: DBCluster) -> bool:
    from .rds_switch import _detached_from

    return _detached_from(cluster) is not None


def region_of(cluster: DBCluster) -> str:
    from .rds_switch import region_of as r

    return r(cluster)


def in_transition(cluster: DBCluster) -> bool:
    from .rds_switch import in_transition as t

    return t(cluster)


def sync_status(cluster: DBCluster) -> str:
    from .rds_switch import sync_status as s

    return s(cluster)


# ---------------------------------------------------------------- names ---

def fix_endpoint_names() -> None:
    DBCluster.endpoint = property(lambda c: (
        f"{c.db_cluster_identifier}.cluster-{dns_id(c.account_id, c.region)}.{c.region}.rds.amazonaws.com"))
    DBCluster.reader_endpoint = property(lambda c: (
        f"{c.db_cluster_identifier}.cluster-ro-{dns_id(c.account_id, c.region)}.{c.region}.rds.amazonaws.com"))
    DBInstance.address = property(lambda i: (
        f"{i.db_instance_identifier}.{dns_id(i.account_id, i.region)}.{i.region}.rds.amazonaws.com"))
    GlobalCluster.endpoint = property(lambda g: (
        f"{g.global_cluster_identifier}.global-{g.__dict__.setdefault('_emu_dns', _random12())}"
        ".global.rds.amazonaws.com"))


# ---------------------------------------------------------------- hooks ---

def _add_cluster_endpoints(cluster: DBCluster) -> None:
    m = aurora_db.model()
    m.add_endpoint(cluster.endpoint, "writer", cluster.account_id, cluster.region, cluster.db_cluster_identifier)
    m.add_endpoint(cluster.reader_endpoint, "reader", cluster.account_id, cluster.region,
                   cluster.db_cluster_identifier)


def _add_global_endpoint(gc: GlobalCluster) -> None:
    aurora_db.model().add_endpoint(gc.endpoint, "global", gc.account_id, None, gc.global_cluster_identifier)


def _volume_in_use(v) -> bool:
    for account in list(rds_backends.keys()):
        for region, backend in rds_backends[account].items():
            if any(aurora_db.volume_of(c) is v for c in backend.clusters.values()):
                return True
    return False


def _hooks() -> None:
    original_create = RDSBackend.create_db_cluster

    def create_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> DBCluster:
        gid = kwargs.get("global_cluster_identifier")
        gc = rds._get_global(self.account_id, gid) if gid else None
        writer = next((m for m in gc.members if m.is_writer), None) if gc is not None else None
        if writer is not None and kwargs.get("database_name"):
            raise InvalidParameterCombination("Cannot specify database name for cross region replication cluster")
        cluster = original_create(self, kwargs)
        if writer is not None and aurora_db.volume_of(gc) is not None:
            volume = aurora_db.volume_of(gc)
        else:
            # The first member of a global cluster made empty takes its DatabaseName (CreateGlobalCluster).
            dbname = kwargs.get("database_name") or (getattr(gc, "database_name", None) if gc is not None else None)
            volume = aurora_db.model().volumes.new(kwargs.get("master_username"), kwargs.get("master_user_password"),
                                                  dbname)
            if gc is not None:
                aurora_db.set_volume(gc, volume)
        aurora_db.set_volume(cluster, volume)
        _add_cluster_endpoints(cluster)
        aurora_db.refresh()
        return cluster

    RDSBackend.create_db_cluster = create_db_cluster

    original_modify = RDSBackend.modify_db_cluster

    def modify_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> DBCluster:
        password = kwargs.get("master_user_password")
        ident = kwargs.get("new_db_cluster_identifier") or kwargs.get("db_cluster_identifier")
        result = original_modify(self, kwargs)  # moto rewrites kwargs
        cluster = self.clusters.get(ident)
        volume = aurora_db.volume_of(cluster) if cluster is not None else None
        if password and volume is not None:
            aurora_db.model().volumes.set_master_password(volume, password)
        aurora_db.refresh()  # write forwarding may have changed
        return result

    RDSBackend.modify_db_cluster = modify_db_cluster

    original_delete = RDSBackend.delete_db_cluster

    def delete_db_cluster(self: RDSBackend, cluster_identifier: str, snapshot_name: str | None = None):
        cluster = self.clusters.get(cluster_identifier)
        result = original_delete(self, cluster_identifier, snapshot_name)
        if cluster is not None:
            names = {cluster.endpoint, cluster.reader_endpoint}
            aurora_db.model().remove_endpoints(lambda e: e.name in names)
            volume = aurora_db.volume_of(cluster)
            if volume is not None and not _volume_in_use(volume):
                aurora_db.model().volumes.drop(volume)
        return result

    RDSBackend.delete_db_cluster = delete_db_cluster

    for name in ("create_db_instance", "delete_db_instance", "modify_db_instance", "reboot_db_instance"):
        original = getattr(RDSBackend, name)

        def wrapped(self, *args, __original=original, **kwargs):
            result = __original(self, *args, **kwargs)
            aurora_db.refresh()
            return result

        setattr(RDSBackend, name, wrapped)

    original_create_global = RDSResponse.create_global_cluster

    def create_global_cluster(self: RDSResponse):
        result = original_create_global(self)
        gc = global_by_id(self.current_account, self.params["GlobalClusterIdentifier"].lower())
        if gc is not None:
            source = next((m for m in gc.members if m.is_writer), None)
            if source is not None:
                aurora_db.set_volume(gc, aurora_db.volume_of(source))
            _add_global_endpoint(gc)
            aurora_db.refresh()
        return result

    RDSResponse.create_global_cluster = create_global_cluster

    original_delete_global = RDSResponse.delete_global_cluster

    def delete_global_cluster(self: RDSResponse):
        gc = global_by_id(self.current_account, self.params["GlobalClusterIdentifier"].lower())
        name = gc.endpoint if gc is not None else None
        result = original_delete_global(self)
        if name:
            aurora_db.model().remove_endpoints(lambda e: e.name == name)
        return result

    RDSResponse.delete_global_cluster = delete_global_cluster

    original_remove = RDSResponse.remove_from_global_cluster

    def remove_from_global_cluster(self: RDSResponse):
        gc = rds._get_global(self.current_account, self.params["GlobalClusterIdentifier"])
        cluster = rds._find_cluster(self.current_account, self.region, self.params["DbClusterIdentifier"])
        result = original_remove(self)
        volume = aurora_db.volume_of(cluster)
        if gc.members and volume is not None:
            # Detached from a global database that goes on: a standalone cluster with its own copy.
            aurora_db.set_volume(cluster, aurora_db.model().volumes.clone(volume))
        elif not gc.members:
            aurora_db.set_volume(gc, None)
        aurora_db.refresh()
        return result

    RDSResponse.remove_from_global_cluster = remove_from_global_cluster


def fix_describe_db_cluster_endpoints() -> None:
    """DescribeDBClusterEndpoints for the built-in endpoints (moto 5.2.5: not implemented).

    RDS API reference, DescribeDBClusterEndpoints(DBClusterIdentifier,
    DBClusterEndpointIdentifier, Filters) -> DBClusterEndpoints[{DBClusterIdentifier,
    Endpoint, Status, EndpointType}] (the AWS CLI example lists the WRITER and
    READER endpoints of each cluster of the Region, without an identifier);
    DBClusterEndpoint.Status: "The inactive state applies to an endpoint that
    can't be used for a certain kind of cluster, such as a writer endpoint for
    a read-only secondary cluster in a global database". Filters:
    db-cluster-endpoint-type (writer, reader), db-cluster-endpoint-status.
    Unknown cluster: DBClusterNotFoundFault. No custom endpoints.
    """
    from moto.rds.exceptions import DBClusterNotFoundError

    def describe_db_cluster_endpoints(self: RDSResponse):
        from moto.core.responses import ActionResult

        backend = rds_backends[self.current_account][self.region]
        ident = (self.params.get("DBClusterIdentifier") or "").lower()
        if ident and ident not in backend.clusters:
            raise DBClusterNotFoundError(ident)
        filters = {f["Name"]: [v.lower() for v in f.get("Values", [])]
                   for f in self.params.get("Filters", []) or []}
        out = []
        for cluster in backend.clusters.values():
            if ident and cluster.db_cluster_identifier != ident:
                continue
            writer_status = "available" if is_writer(cluster) else "inactive"
            for kind, name, status in (("WRITER", cluster.endpoint, writer_status),
                                       ("READER", cluster.reader_endpoint, "available")):
                if kind.lower() not in filters.get("db-cluster-endpoint-type", [kind.lower()]):
                    continue
                if status not in filters.get("db-cluster-endpoint-status", [status]):
                    continue
                out.append({"DBClusterIdentifier": cluster.db_cluster_identifier, "Endpoint": name,
                            "Status": status, "EndpointType": kind})
        return ActionResult({"DBClusterEndpoints": out})

    RDSResponse.describe_db_cluster_endpoints = describe_db_cluster_endpoints


def apply() -> None:
    fix_endpoint_names()
    fix_describe_db_cluster_endpoints()
    _hooks()
