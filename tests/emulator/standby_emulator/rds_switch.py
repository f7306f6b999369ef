"""SwitchoverGlobalCluster and FailoverGlobalCluster (moto 5.2.5: HTTP 500), with AWS's refusals.

AWS RDS API reference, SwitchoverGlobalCluster(GlobalClusterIdentifier,
TargetDbClusterIdentifier) and FailoverGlobalCluster(..., AllowDataLoss,
Switchover): both return GlobalCluster with FailoverState{Status,
FromDbClusterArn, ToDbClusterArn, IsDataLossAllowed} while the operation runs
and none once it is done; AllowDataLoss and Switchover can't be given
together (InvalidParameterCombination).

Asynchronous, as on AWS: FailoverState is `pending` for the first third of
`rds_failover_ms` ("being verified before the operation starts"), then
`switching-over` / `failing-over`; then the target is the writer. The old
primary stays a secondary, except after a data-loss failover while its region
is down: it leaves the members and rejoins (region_back) when the region is
back, after the snapshot of its old volume.

Refused as AWS refuses (Aurora User Guide, "Using switchover or failover in
Amazon Aurora Global Database", called AUG-DR below; the RDS API reference for
the fault names):
- the global cluster not `available`, or an operation under way:
  InvalidGlobalClusterStateFault;
- the target not `available`, headless ("Before you can perform a switchover
  or failover to a headless secondary Aurora DB cluster, you must add a DB
  instance to it"), still resynchronizing, or on another major.minor engine
  version than the writer ("only if the primary and secondary DB clusters
  have the same major and minor engine versions"): InvalidDBClusterStateFault.
  Aurora PostgreSQL's EngineVersion carries no patch level (`16.4`; the patch
  is in `aurora_version()`), so patch differences cannot be expressed here;
- a switchover while a member resyncs (switchovers need every cluster
  healthy): InvalidGlobalClusterStateFault;
- a call in the wrong region: a switchover is run "in the Region where the
  primary DB cluster ... is running" and a failover "where the secondary DB
  cluster that you want to be the new primary ... is running" (AUG-DR, AWS
  CLI sections). AWS does not document the error for another region; here
  InvalidParameterValue naming the region to use.

Knobs (settings.py): `rds_next_switch_ends` = `cancelled` makes the next
operation end without moving the writer, FailoverState `cancelling` for its
second third ("The request to switch over or fail over the global cluster was
cancelled ... returning to their previous states", FailoverState.Status), or
`refused`: it vanishes after `pending` ("being verified"); `rds_resync_ms`:
after a failover (and when an old primary rejoins), the secondaries report
SynchronizationStatus `pending-resync` that long ("Aurora rebuilds these
secondary Regions ... When the secondary Region clusters finish rebuilding ...
they become available for read access", AUG-DR);
`rds_failover_data_loss_ms`: a data-loss failover loses the writes committed
that many ms before it (aurora_db.lose_writes_since), or, when the old
writer's region is down, that many ms before the region went down: what was
lost is what had not reached the secondary when the primary went away
("a loss of write transaction data that wasn't replicated", AUG-DR), not
what happened to be written just before the operator's request.
"""

import copy
import threading
import time
from typing import Any

from moto.core.responses import ActionResult
from moto.rds.exceptions import DBClusterNotFoundError, InvalidParameterCombination, InvalidParameterValue
from moto.rds.models import DBCluster, GlobalCluster, rds_backends
from moto.rds.responses import RDSResponse

from . import aurora_db, rds
from .settings import SETTINGS

LOCK = threading.RLock()


def region_of(cluster: DBCluster) -> str:
    return cluster.db_cluster_arn.split(":")[3]


def _op(gc: GlobalCluster) -> dict[str, Any] | None:
    return gc.__dict__.get("_emu_switch")


def _phase(op: dict[str, Any], now: float) -> str:
    """pending, then moving (switching-over / failing-over) or cancelling."""
    if now < op["started"] + op["third"]:
        return "pending"
    return "cancelling" if op["ends"] == "cancelled" else "moving"


def in_transition(cluster: DBCluster) -> bool:
    """The cluster is taking a new role now (its endpoints lead nowhere): a
    failover's two clusters from the start (the old writer is fenced at once),
    a switchover's once it is past `pending`."""
    gc = rds._membership(cluster) or _detached_from(cluster)
    op = _op(gc) if gc is not None else None
    if op is None or op["ends"] != "moves" or cluster not in (op["from"], op["to"]):
        return False
    return op["allow"] or _phase(op, time.time()) == "moving"


def _detached_from(cluster: DBCluster) -> GlobalCluster | None:
    for gc in rds_backends[cluster.account_id][rds.GLOBAL_REGION].global_clusters.values():
        if any(c is cluster for c in gc.__dict__.get("_emu_detached", [])):
            return gc
    return None


def sync_status(cluster: DBCluster) -> str:
    return "pending-resync" if time.time() < cluster.__dict__.get("_emu_resync_until", 0) else "connected"


def _resync(clusters) -> None:
    ms = int(SETTINGS.get("rds_resync_ms", 0))
    if ms <= 0:
        return
    for c in clusters:
        c._emu_resync_until = time.time() + ms / 1000
    timer = threading.Timer(ms / 1000 + 0.01, aurora_db.refresh)
    timer.daemon = True
    timer.start()


def settle(gc: GlobalCluster) -> None:
    """Completes an operation whose time has come: the writer flips, or not.
    The sessions of the two clusters end (their instances took new roles)."""
    from .regions import is_down

    with LOCK:
        op = _op(gc)
        if op is None or time.time() < op["until"]:
            return
        gc._emu_switch = None
        gc.status = "available"
        moved = op["ends"] == "moves"
        if moved:
            old = op["from"]
            if old is not None:
                old.is_writer = False
                if op["allow"] and is_down(region_of(old)):
                    gc.members = [m for m in gc.members if m is not old]
                    gc.__dict__.setdefault("_emu_detached", []).append(old)
            op["to"].is_writer = True
            if op["allow"]:
                _resync([m for m in gc.members if m is not op["to"]])
    if moved:
        aurora_db.model().end_cluster_sessions([op["from"], op["to"]])
    aurora_db.refresh()


def region_back(region: str) -> None:
    """Aurora re-adds an old primary as a secondary once its Region recovers,
    after a snapshot of its old volume (rds_snapshots.take_failover_snapshot)."""
    from .rds_snapshots import take_failover_snapshot

    with LOCK:
        for account in list(rds_backends.keys()):
            for gc in rds_backends[account][rds.GLOBAL_REGION].global_clusters.values():
                detached = gc.__dict__.get("_emu_detached", [])
                for cluster in [c for c in detached if region_of(c) == region]:
                    take_failover_snapshot(cluster)
                    cluster.is_writer = False
                    gc.members.append(cluster)
                    detached.remove(cluster)
                    _resync([cluster])


def _failover_state(gc: GlobalCluster) -> dict[str, Any] | None:
    settle(gc)
    op = _op(gc)
    if op is None:
        return None
    phase = _phase(op, time.time())
    status = {"pending": "pending", "cancelling": "cancelling",
              "moving": "failing-over" if op["allow"] else "switching-over"}[phase]
    return {
        "Status": status,
        "FromDbClusterArn": op["from"].db_cluster_arn if op["from"] is not None else None,
        "ToDbClusterArn": op["to"].db_cluster_arn,
        "IsDataLossAllowed": op["allow"],
    }


def _major_minor(version: str | None) -> str:
    return ".".join(str(version or "").split(".")[:2])


def _refuse(self: RDSResponse, gc: GlobalCluster, target: DBCluster, old: DBCluster | None,
            allow_data_loss: bool) -> None:
    """AWS's preconditions (module docstring)."""
    gid = gc.global_cluster_identifier
    if gc.status != "available":
        raise rds.InvalidGlobalClusterStateFault(f"Global cluster {gid} is in {gc.status} state.")
    if old is not None and not allow_data_loss and self.region != region_of(old):
        raise InvalidParameterValue(
            f"A switchover of global cluster {gid} must be requested in the Region of its primary cluster "
            f"({region_of(old)}), not {self.region}.")
    if allow_data_loss and self.region != region_of(target):
        raise InvalidParameterValue(
            f"A failover of global cluster {gid} must be requested in the Region of the target cluster "
            f"({region_of(target)}), not {self.region}.")
    if target.status != "available":
        raise rds.InvalidDBClusterStateFault(
            f"DB cluster {target.db_cluster_arn} is in {target.status} state, not available.")
    if not aurora_db._instances(target):
        raise rds.InvalidDBClusterStateFault(
            f"DB cluster {target.db_cluster_arn} has no available DB instance. Add a DB instance to it "
            "before you switch over or fail over to it.")
    if old is not None and _major_minor(old.engine_version) != _major_minor(target.engine_version):
        raise rds.InvalidDBClusterStateFault(
            f"The target cluster {target.db_cluster_identifier} must be using the same engine version as the "
            f"current primary cluster ({target.engine_version} vs {old.engine_version}).")
    if sync_status(target) != "connected":
        raise rds.InvalidDBClusterStateFault(
            f"DB cluster {target.db_cluster_arn} is resynchronizing with the global cluster (pending-resync).")
    if not allow_data_loss and any(sync_status(m) != "connected" for m in gc.members):
        raise rds.InvalidGlobalClusterStateFault(
            f"Global cluster {gid} has members that are not synchronized (pending-resync).")


def _tick(gc: GlobalCluster) -> None:
    settle(gc)
    aurora_db.refresh()


def _switch_primary(self: RDSResponse, allow_data_loss: bool) -> ActionResult:
    params = self.params
    gc = rds._get_global(self.current_account, params["GlobalClusterIdentifier"])
    with LOCK:
        settle(gc)
        if _op(gc) is not None:
            raise rds.InvalidGlobalClusterStateFault(
                f"Global cluster {gc.global_cluster_identifier} is in {gc.status} state: a switchover or failover "
                "is already in progress.")
        target = rds._find_cluster(self.current_account, self.region, params["TargetDbClusterIdentifier"])
        if not any(m is target for m in gc.members):
            raise DBClusterNotFoundError(
                target.db_cluster_arn,
                f"DB cluster {target.db_cluster_arn} is not a member of global cluster "
                f"{gc.global_cluster_identifier}.")
        if target.is_writer:
            raise rds.InvalidDBClusterStateFault(
                f"DB cluster {target.db_cluster_arn} is already the primary cluster of global "
                f"cluster {gc.global_cluster_identifier}.")
        old = next((m for m in gc.members if m.is_writer), None)
        _refuse(self, gc, target, old, allow_data_loss)
        members = copy.deepcopy(gc.global_cluster_members)
        ends = str(SETTINGS.get("rds_next_switch_ends", "moves"))
        SETTINGS["rds_next_switch_ends"] = "moves"  # the knob is for the next operation only
        now = time.time()
        total = int(SETTINGS.get("rds_failover_ms", 0)) / 1000
        gc._emu_switch = {
            "from": old, "to": target, "allow": allow_data_loss, "ends": ends,
            "started": now, "third": total / 3,
            "until": now + (total / 3 if ends == "refused" else total),
        }
        gc.status = "failing-over" if allow_data_loss else "switching-over"
        answer = {
            "GlobalClusterIdentifier": gc.global_cluster_identifier,
            "GlobalClusterResourceId": gc.global_cluster_resource_id,
            "GlobalClusterArn": gc.global_cluster_arn,
            "Status": gc.status,
            "Engine": gc.engine,
            "EngineVersion": gc.engine_version,
            "DatabaseName": getattr(gc, "database_name", None),
            "StorageEncrypted": gc.storage_encrypted,
            "DeletionProtection": gc.deletion_protection,
            "GlobalClusterMembers": members,
            "Endpoint": gc.endpoint,
            "FailoverState": {
                "Status": "pending",
                "FromDbClusterArn": old.db_cluster_arn if old else None,
                "ToDbClusterArn": target.db_cluster_arn,
                "IsDataLossAllowed": allow_data_loss,
            },
        }
    # A failover fences the old writer at once; its sessions and the global
    # endpoint's end now, and the writes of the last rds_failover_data_loss_ms are lost.
    if allow_data_loss and ends == "moves":
        aurora_db.model().end_cluster_sessions([old, target])
    aurora_db.refresh()
    if allow_data_loss and ends == "moves":
        loss_ms = int(SETTINGS.get("rds_failover_data_loss_ms", 0))
        volume = aurora_db.volume_of(target)
        if loss_ms > 0 and volume is not None:
            from . import regions

            gone = regions.down_since(region_of(old)) if old is not None else None
            aurora_db.model().volumes.lose_writes_since(volume, (gone or now) - loss_ms / 1000)
    for at in (now + total / 3, now + total):
        timer = threading.Timer(max(0.0, at - time.time()) + 0.005, _tick, args=(gc,))
        timer.daemon = True
        timer.start()
    settle(gc)  # with rds_failover_ms 0 it is done at once
    return ActionResult({"GlobalCluster": answer})


def apply() -> None:
    GlobalCluster.failover_state = property(_failover_state)

    def switchover_global_cluster(self: RDSResponse) -> ActionResult:
        return _switch_primary(self, allow_data_loss=False)

    def failover_global_cluster(self: RDSResponse) -> ActionResult:
        allow = rds._param_true(self.params.get("AllowDataLoss"))
        if allow and rds._param_true(self.params.get("Switchover")):
            raise InvalidParameterCombination("AllowDataLoss and Switchover can't be specified together.")
        return _switch_primary(self, allow_data_loss=allow)

    RDSResponse.switchover_global_cluster = switchover_global_cluster
    RDSResponse.failover_global_cluster = failover_global_cluster
