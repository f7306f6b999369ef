"""Aurora global database behaviour around switchovers and failovers that a
runbook must cope with, on top of rds.py (each item with its AWS source).

1. An operation that ends without moving the writer. RDS API,
   FailoverState.Status: `pending` ("being verified before the operation
   starts") and `cancelling` ("The request to switch over or fail over the
   global cluster was cancelled and the primary Aurora DB cluster and the
   selected secondary Aurora DB cluster are returning to their previous
   states"). Knob `rds_next_switch_outcome` (used once, then back to 0):
   1 = cancelled (pending, then `cancelling` for the last third, then no
   FailoverState and the old writer still writing), 2 = refused while
   pending (pending throughout, then gone, writer unchanged).
2. RDS events of category `global failover` (Aurora User Guide, "DB cluster
   events"), recorded as DB cluster events of the new primary (or, when it
   fails, of the target): RDS-EVENT-0185 "Global switchover to DB cluster
   <name> in Region <name> finished.", RDS-EVENT-0238 "Global failover to DB
   cluster <name> in Region <name> completed.", RDS-EVENT-0397 "Aurora
   finished changing the DNS name that the global writer endpoint resolves
   to.", RDS-EVENT-0186 "... is cancelled.", RDS-EVENT-0187 / 0239 "...
   failed.". Write fencing: AWS says Aurora emits an event that writes were
   stopped, or that stopping them timed out, on the old primary when it is
   reachable, otherwise on the new one, but publishes neither id nor text;
   knob `rds_fencing_event` 1 records "Writes were stopped on the old primary
   DB cluster <name> in Region <name>." on the new primary after a failover
   with the old region down (0: none, as when AWS records it on the old one).
   DescribeEvents answers moto's way (filtering by source only); callers
   filter by category and time as AWS would.
3. Rejoining after a failover. The User Guide says Aurora re-adds the old
   primary once its Region is available and snapshots the old volume before
   rebuilding it, without saying when the snapshot is visible, and that it
   only *attempts* the snapshot. Knob `rds_rejoin_snapshot_ms`: the member
   is listed at once, with SynchronizationStatus `pending-resync`, and the
   snapshot appears (and the member is `connected`) only after this delay;
   -1: the member is back and connected, and no snapshot ever comes.
4. Replication lag metrics. RDS publishes AuroraGlobalDBRPOLag and
   AuroraGlobalDBReplicationLag (ms) for each secondary cluster in its
   Region. The dimension set is not documented; AWS's Aurora global
   database lab (aws-samples/amazon-aurora-labs-for-mysql, reinvent-gdb/cw)
   shows the lag under the `SourceRegion` group, and Neptune, on the same
   storage, documents (DBClusterIdentifier, SourceRegion): those two here.
   One datapoint a minute for the last 15 minutes; knob `rds_lag_ms` is the
   value (-1: nothing published).
   ListMetrics lists each metric (name and dimension set) once, as AWS
   does; moto 5.2.5's duplicate check compares every dimension with every
   other, so a metric of two dimensions was listed once per datapoint.
5. EnableGlobalWriteForwarding on a cluster that is not a global database
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

from . import rds
from .settings import SETTINGS

CANCELLED, REFUSED = 1, 2


def _record(cluster: DBCluster, message: str) -> None:
    """A `global failover` DB cluster event in the cluster's Region."""
    backend = rds_backends[cluster.account_id][rds._region_of(cluster)]
    event = Event.__new__(Event)
    event.source_identifier = cluster.db_cluster_identifier
    event.source_type = "db-cluster"
    event.message = message
    event.event_categories = ["global failover"]
    event.source_arn = cluster.db_cluster_arn
    event.date = utcnow()
    backend.events.append(event)


def _settle(gc: GlobalCluster) -> None:
    """rds._settle, plus operations that end without moving the writer and
    the events of each ending."""
    from .regions import is_down

    op = gc.__dict__.get("_emu_switch")
    if op is not None and "outcome" not in op:
        op["outcome"] = NEXT_OUTCOME.pop() if NEXT_OUTCOME else 0
    if op is None or time.time() < op["until"]:
        return
    target, old, allow = op["to"], op["from"], op["allow"]
    kind = "failover" if allow else "switchover"
    where = f"DB cluster {target.db_cluster_identifier} in Region {rds._region_of(target)}"
    outcome = op.get("outcome", 0)
    if outcome:
        gc._emu_switch = None
        gc.status = "available"
        if outcome == CANCELLED:
            _record(target, f"Global {kind} to {where} is cancelled.")
        else:
            _record(target, f"Global {kind} to {where} failed.")
        return
    original_settle(gc)
    if allow:
        _record(target, f"Global failover to {where} completed.")
        if old is not None and is_down(rds._region_of(old)) and SETTINGS.get("rds_fencing_event", 0) == 1:
            _record(target, f"Writes were stopped on the old primary DB cluster {old.db_cluster_identifier} in "
                            f"Region {rds._region_of(old)}.")
    else:
        _record(target, f"Global switchover to {where} finished.")
    _record(target, "Aurora finished changing the DNS name that the global writer endpoint resolves to.")


def _failover_state(gc: GlobalCluster) -> dict[str, Any] | None:
    state = original_failover_state(gc)
    op = gc.__dict__.get("_emu_switch")
    if state is None or op is None:
        return state
    elapsed = time.time() - op["started"]
    span = op["until"] - op["started"]
    if op.get("outcome") == REFUSED:
        state["Status"] = "pending"
    elif op.get("outcome") == CANCELLED and elapsed >= 2 * span / 3:
        state["Status"] = "cancelling"
    return state


NEXT_OUTCOME: list[int] = []


def _switch_primary(self, allow_data_loss: bool):
    """rds._switch_primary; the operation it starts takes the knob's outcome
    (attached by _settle the first time it sees the operation)."""
    outcome = int(SETTINGS.get("rds_next_switch_outcome", 0))
    SETTINGS["rds_next_switch_outcome"] = 0
    NEXT_OUTCOME[:] = [outcome]
    try:
        return original_switch(self, allow_data_loss)
    finally:
        NEXT_OUTCOME.clear()


def region_back(region: str) -> None:
    """rds.region_back, with the snapshot (and full synchronisation) after
    `rds_rejoin_snapshot_ms` when set."""
    from .rds_snapshots import take_failover_snapshot

    delay = SETTINGS.get("rds_rejoin_snapshot_ms", 0) / 1000
    if delay == 0:
        original_region_back(region)
        return
    for account in list(rds_backends.keys()):
        for gc in rds_backends[account][rds.GLOBAL_REGION].global_clusters.values():
            detached = gc.__dict__.get("_emu_detached", [])
            for cluster in [c for c in detached if rds._region_of(c) == region]:
                cluster.is_writer = False
                gc.members.append(cluster)
                detached.remove(cluster)
                if delay > 0:
                    cluster._emu_resync_until = time.time() + delay
                    PENDING_SNAPSHOTS.append((time.time() + delay, cluster, take_failover_snapshot))


PENDING_SNAPSHOTS: list = []


def _due() -> None:
    now = time.time()
    for item in [p for p in PENDING_SNAPSHOTS if p[0] <= now]:
        PENDING_SNAPSHOTS.remove(item)
        item[2](item[1])


def _members(gc: GlobalCluster) -> list[dict[str, Any]]:
    _due()
    out = original_members.fget(gc)
    for entry in out:
        cluster = next((m for m in gc.members if m.db_cluster_arn == entry["DBClusterArn"]), None)
        if cluster is not None and time.time() < cluster.__dict__.get("_emu_resync_until", 0):
            entry["SynchronizationStatus"] = "pending-resync"
    return out


class GlobalLagMetrics(CloudWatchMetricProvider):
    """RDS's lag metrics of each secondary cluster in `region` (item 4)."""

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
                if m.is_writer or rds._region_of(m) != region:
                    continue
                dims = [{"Name": "DBClusterIdentifier", "Value": m.db_cluster_identifier},
                        {"Name": "SourceRegion", "Value": rds._region_of(writer)}]
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


original_settle = rds._settle
original_failover_state = rds._failover_state
original_switch = rds._switch_primary
original_region_back = rds.region_back
original_members = GlobalCluster.global_cluster_members
original_create = RDSBackend.create_db_cluster
original_modify = RDSBackend.modify_db_cluster
original_describe_snapshots = RDSBackend.describe_db_cluster_snapshots


def reset() -> None:
    PENDING_SNAPSHOTS.clear()
    NEXT_OUTCOME.clear()


def apply() -> None:
    """Installed after rds.apply() and rds_snapshots.apply()."""
    global original_members, original_create, original_modify, original_describe_snapshots
    original_members = GlobalCluster.global_cluster_members
    original_create = RDSBackend.create_db_cluster
    original_modify = RDSBackend.modify_db_cluster
    original_describe_snapshots = RDSBackend.describe_db_cluster_snapshots
    import moto.cloudwatch.models as cloudwatch_models

    cloudwatch_models.are_dimensions_same = _same_dimensions
    rds._settle = _settle
    rds._switch_primary = _switch_primary
    rds.region_back = region_back
    GlobalCluster.failover_state = property(_failover_state)
    GlobalCluster.global_cluster_members = property(_members)
    RDSBackend.create_db_cluster = _create_db_cluster
    RDSBackend.modify_db_cluster = _modify_db_cluster
    RDSBackend.describe_db_cluster_snapshots = _describe_snapshots
