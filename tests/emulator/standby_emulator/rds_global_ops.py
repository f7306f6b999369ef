"""Aurora global database behaviour around switchovers and failovers that a
runbook must cope with, on top of rds_switch.py (each item with its AWS
source). Operations that end without moving the writer (cancelled, refused
while pending) and `pending-resync` members are rds_switch.py's
(`rds_next_switch_ends`, `rds_resync_ms`).

1. RDS events of category `global failover` (Aurora User Guide, "DB cluster
   events"), recorded as DB cluster events of the target when an operation
   ends: RDS-EVENT-0185 "Global switchover to DB cluster <name> in Region
   <name> finished.", RDS-EVENT-0238 "Global failover to DB cluster <name> in
   Region <name> completed.", RDS-EVENT-0397 "Aurora finished changing the DNS
   name that the global writer endpoint resolves to.", RDS-EVENT-0186 "...
   is cancelled.", RDS-EVENT-0187 / 0239 "... failed.". Write fencing: AWS
   says Aurora emits an event that writes were stopped, or that stopping
   them timed out, on the old primary when it is reachable, otherwise on the
   new one, but publishes neither id nor text; knob `rds_fencing_event` 1
   records "Writes were stopped on the old primary DB cluster <name> in
   Region <name>." on the new primary after a failover with the old region
   down (0: none, as when AWS records it on the old one). DescribeEvents
   answers moto's way (filtering by source only); callers filter by category
   and time as AWS would.
2. Rejoining after a failover. The User Guide says Aurora re-adds the old
   primary once its Region is available and snapshots the old volume before
   rebuilding it, without saying when the snapshot is visible, and that it
   only *attempts* the snapshot. Knob `rds_rejoin_snapshot_ms`: the member is
   listed at once (resynchronising for `rds_resync_ms`) and the snapshot
   appears only after this delay; -1: no snapshot ever comes.
3. Replication lag metrics. RDS publishes AuroraGlobalDBRPOLag and
   AuroraGlobalDBReplicationLag (ms) for each secondary cluster in its
   Region. The dimension set is not documented; AWS's Aurora global
   database lab (aws-samples/amazon-aurora-labs-for-mysql, reinvent-gdb/cw)
   shows the lag under the `SourceRegion` group, and Neptune, on the same
   storage, documents (DBClusterIdentifier, SourceRegion): those two here.
   One datapoint a minute for the last 15 minutes; knob `rds_lag_ms` is the
   value (-1: nothing published). ListMetrics lists each metric (name and
   dimension set) once, as AWS does; moto 5.2.5's duplicate check compares
   every dimension with every other, so a metric of two dimensions was
   listed once per datapoint.
4. EnableGlobalWriteForwarding on a cluster that is not a global database
   member is refused: "InvalidParameterCombination: Requested global
   functionality, but global cluster identifier is not specified"
   (hashicorp/terraform-provider-aws#37259; the RDS API reference: "You can
   set this value only on Aurora DB clusters that are members of an Aurora
   global database").
"""

import time
from datetime import timedelta
from typing import Any

from moto.core.common_models import CloudWatchMetricProvider
from moto.core.utils import utcnow
from moto.rds.exceptions import InvalidParameterCombination
from moto.rds.models import DBCluster, Event, GlobalCluster, RDSBackend, rds_backends

from . import rds, rds_switch
from .settings import SETTINGS

def _record(cluster: DBCluster, message: str) -> None:
    """A `global failover` DB cluster event in the cluster's Region."""
    backend = rds_backends[cluster.account_id][rds_switch.region_of(cluster)]
    event = Event.__new__(Event)
    event.source_identifier = cluster.db_cluster_identifier
    event.source_type = "db-cluster"
    event.message = message
    event.event_categories = ["global failover"]
    event.source_arn = cluster.db_cluster_arn
    event.date = utcnow()
    backend.events.append(event)


def settle(gc: GlobalCluster) -> None:
    """rds_switch.settle, and the events of the operation it ends (item 1)."""
    from .regions import is_down

    with rds_switch.LOCK:
        op = rds_switch._op(gc)
        due = op is not None and time.time() >= op["until"]
        original_settle(gc)
        if not due or rds_switch._op(gc) is not None:
            return
    target, old, allow = op["to"], op["from"], op["allow"]
    kind = "failover" if allow else "switchover"
    where = f"DB cluster {target.db_cluster_identifier} in Region {rds_switch.region_of(target)}"
    if op["ends"] == "cancelled":
        _record(target, f"Global {kind} to {where} is cancelled.")
        return
    if op["ends"] != "moves":
        _record(target, f"Global {kind} to {where} failed.")
        return
    if allow:
        _record(target, f"Global failover to {where} completed.")
        if old is not None and is_down(rds_switch.region_of(old)) and SETTINGS.get("rds_fencing_event", 0) == 1:
            _record(target, f"Writes were stopped on the old primary DB cluster {old.db_cluster_identifier} in "
                            f"Region {rds_switch.region_of(old)}.")
    else:
        _record(target, f"Global switchover to {where} finished.")
    _record(target, "Aurora finished changing the DNS name that the global writer endpoint resolves to.")


def region_back(region: str) -> None:
    """rds_switch.region_back, with the snapshot after `rds_rejoin_snapshot_ms`
    when set (item 2)."""
    from .rds_snapshots import take_failover_snapshot

    delay = SETTINGS.get("rds_rejoin_snapshot_ms", 0) / 1000
    if delay == 0:
        original_region_back(region)
        return
    with rds_switch.LOCK:
        for account in list(rds_backends.keys()):
            for gc in rds_backends[account][rds.GLOBAL_REGION].global_clusters.values():
                detached = gc.__dict__.get("_emu_detached", [])
                for cluster in [c for c in detached if rds_switch.region_of(c) == region]:
                    cluster.is_writer = False
                    gc.members.append(cluster)
                    detached.remove(cluster)
                    rds_switch._resync([cluster])
                    if delay > 0:
                        PENDING_SNAPSHOTS.append((time.time() + delay, cluster, take_failover_snapshot))


PENDING_SNAPSHOTS: list = []


def _due() -> None:
    now = time.time()
    for item in [p for p in PENDING_SNAPSHOTS if p[0] <= now]:
        PENDING_SNAPSHOTS.remove(item)
        item[2](item[1])


class GlobalLagMetrics(CloudWatchMetricProvider):
    """RDS's lag metrics of each secondary cluster in `region` (item 3)."""

    @staticmethod
    def get_cloudwatch_metrics(account_id: str, region: str) -> list:
        from moto.cloudwatch.models import MetricDatum

        value = SETTINGS.get("rds_lag_ms", 50)
        if value < 0 or account_id not in rds_backends:
            return []
        out = []
        now = utcnow().replace(second=0, microsecond=0)
        for gc in list(rds_backends[account_id][rds.GLOBAL_REGION].global_clusters.values()):
            writer = next((m for m in gc.members if m.is_writer), None)
            if writer is None:
                continue
            for m in gc.members:
                if m.is_writer or rds_switch.region_of(m) != region:
                    continue
                dims = [{"Name": "DBClusterIdentifier", "Value": m.db_cluster_identifier},
                        {"Name": "SourceRegion", "Value": rds_switch.region_of(writer)}]
                for k in range(15):
                    at = now - timedelta(minutes=k)
                    for name in ("AuroraGlobalDBRPOLag", "AuroraGlobalDBReplicationLag"):
                        out.append(MetricDatum("AWS/RDS", name, float(value), dims, at, "Milliseconds"))
        return out


def _same_dimensions(a: list, b: list) -> bool:
    """moto's are_dimensions_same, as meant: the same set of (name, value)."""
    return sorted((d.name, d.value) for d in a) == sorted((d.name, d.value) for d in b)


WF_REFUSED = "Requested global functionality, but global cluster identifier is not specified"


def _create_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> DBCluster:
    if rds._param_true(kwargs.get("enable_global_write_forwarding")) and not kwargs.get("global_cluster_identifier"):
        raise InvalidParameterCombination(WF_REFUSED)
    return original_create(self, kwargs)


def _modify_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> DBCluster:
    cluster = self.clusters.get(kwargs.get("db_cluster_identifier"))
    if (cluster is not None and rds._param_true(kwargs.get("enable_global_write_forwarding"))
            and rds._membership(cluster) is None):
        raise InvalidParameterCombination(WF_REFUSED)
    return original_modify(self, kwargs)


def _describe_snapshots(self: RDSBackend, *args: Any, **kwargs: Any):
    _due()
    return original_describe_snapshots(self, *args, **kwargs)


original_settle = rds_switch.settle
original_region_back = rds_switch.region_back
original_create = RDSBackend.create_db_cluster
original_modify = RDSBackend.modify_db_cluster
original_describe_snapshots = RDSBackend.describe_db_cluster_snapshots


def reset() -> None:
    PENDING_SNAPSHOTS.clear()


def apply() -> None:
    """Installed after rds.apply() (rds_switch's) and rds_snapshots.apply()."""
    global original_create, original_modify, original_describe_snapshots
    import moto.cloudwatch.models as cloudwatch_models

    original_create = RDSBackend.create_db_cluster
    original_modify = RDSBackend.modify_db_cluster
    original_describe_snapshots = RDSBackend.describe_db_cluster_snapshots
    cloudwatch_models.are_dimensions_same = _same_dimensions
    rds_switch.settle = settle
    rds_switch.region_back = region_back
    RDSBackend.create_db_cluster = _create_db_cluster
    RDSBackend.modify_db_cluster = _modify_db_cluster
    RDSBackend.describe_db_cluster_snapshots = _describe_snapshots
