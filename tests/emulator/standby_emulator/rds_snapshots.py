"""Aurora cluster snapshots as a data-loss failover leaves them, and their copies.

Aurora User Guide, "Using switchover or failover in Amazon Aurora Global
Database", managed failovers: when the old primary's Region is healthy
again, Aurora "attempts to take a snapshot of the old storage volume at the
point of failure" before giving the cluster a new volume, and names it
`rds:unplanned-global-failover-<name-of-old-primary-DB-cluster>-<timestamp>`;
it is found with DescribeDBClusterSnapshots in that Region, is "a system
snapshot that's subject to the backup retention period configured on the old
primary cluster", and is kept by copying it to a manual snapshot. The guide
gives neither the timestamp's format nor the SnapshotType; here the
timestamp is that of automated snapshot names (`YYYY-MM-DD-HH-MM`) and the
type `automated` (what the API reports for system snapshots).

moto 5.2.5 has CopyDBClusterSnapshot and its refusals
(DBClusterSnapshotAlreadyExistsFault for a taken target,
DBClusterSnapshotNotFoundFault for a missing source), but every snapshot is
`available` at once. Here (AWS RDS API reference, DBClusterSnapshot.Status,
CopyDBClusterSnapshot):

- a new snapshot, taken or copied, is `creating` (PercentProgress 0) for
  `rds_snapshot_ms`, then `available` (100);
- copying a source that is not `available` is refused with
  InvalidDBClusterSnapshotStateFault;
- the target identifier must be a valid identifier (1-63 letters, digits or
  hyphens, a letter first, no two hyphens in a row, no hyphen last; the RDS
  API reference of CopyDBClusterSnapshot, TargetDBClusterSnapshotIdentifier):
  InvalidParameterValue otherwise (so `rds:...` cannot be a target name).

Test control: `POST /_emulator/rds/snapshots/failover {"region", "cluster"}`
takes the failover snapshot of a cluster now (what rejoining does itself).
"""

import datetime
import re
import time
from typing import Any

from moto.rds.exceptions import InvalidParameterValue, RDSClientError
from moto.rds.models import DBCluster, DBClusterSnapshot, RDSBackend, rds_backends

from .settings import SETTINGS

ACCOUNT = "123456789012"
PREFIX = "rds:unplanned-global-failover-"
_IDENT = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$")


class InvalidDBClusterSnapshotStateFault(RDSClientError):
    code = "InvalidDBClusterSnapshotStateFault"

    def __init__(self, message: str):
        super().__init__(message)


def _ready_at(snap: DBClusterSnapshot) -> float:
    return snap.__dict__.get("_emu_ready_at", 0.0)


def _status(snap: DBClusterSnapshot) -> str:
    return "creating" if time.time() < _ready_at(snap) else "available"


def _set_status(snap: DBClusterSnapshot, _value: str) -> None:
    pass  # moto sets "available" in __init__; the time decides here


def _progress(snap: DBClusterSnapshot) -> int:
    return 0 if _status(snap) == "creating" else 100


def _set_progress(snap: DBClusterSnapshot, _value: int) -> None:
    pass


def _takes_time(snap: DBClusterSnapshot) -> DBClusterSnapshot:
    snap._emu_ready_at = time.time() + SETTINGS.get("rds_snapshot_ms", 0) / 1000
    return snap


def take_failover_snapshot(cluster: DBCluster) -> DBClusterSnapshot:
    """The snapshot Aurora takes of an old primary's volume as it rejoins."""
    backend: RDSBackend = rds_backends[cluster.account_id][cluster.db_cluster_arn.split(":")[3]]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d-%H-%M")
    name = f"{PREFIX}{cluster.db_cluster_identifier}-{stamp}"
    n = 1
    while name in backend.cluster_snapshots:  # two in one minute (tests only)
        n += 1
        name = f"{PREFIX}{cluster.db_cluster_identifier}-{stamp}-{n}"
    snap = backend.create_db_cluster_snapshot(cluster.db_cluster_identifier, name, snapshot_type="automated")
    return _takes_time(snap)


def apply() -> None:
    DBClusterSnapshot.status = property(_status, _set_status)
    DBClusterSnapshot.percent_progress = property(_progress, _set_progress)
    original_copy = RDSBackend.copy_db_cluster_snapshot

    def copy_db_cluster_snapshot(self: RDSBackend, source_db_cluster_snapshot_identifier: str,
                                 target_db_cluster_snapshot_identifier: str, **kwargs: Any) -> DBClusterSnapshot:
        target = target_db_cluster_snapshot_identifier
        if not _IDENT.match(target or ""):
            raise InvalidParameterValue(
                f"The parameter TargetDBClusterSnapshotIdentifier is not a valid identifier: {target}. "
                "Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; "
                "and must not end with a hyphen or contain two consecutive hyphens."
            )
        if target in self.cluster_snapshots:
            return original_copy(self, source_db_cluster_snapshot_identifier, target, **kwargs)  # refuses
        source = self.get_db_cluster_snapshot(source_db_cluster_snapshot_identifier)
        if _status(source) != "available":
            raise InvalidDBClusterSnapshotStateFault(
                f"Cannot copy snapshot {source.db_cluster_snapshot_identifier}: it is in state {_status(source)}, "
                "not available."
            )
        return _takes_time(original_copy(self, source_db_cluster_snapshot_identifier, target, **kwargs))

    RDSBackend.copy_db_cluster_snapshot = copy_db_cluster_snapshot


def control(method: str, path: str, read_json) -> tuple[int, dict] | None:
    """The control-API routes this module adds, or None."""
    if path == "/_emulator/rds/snapshots/failover" and method == "POST":
        body = read_json()
        backend = rds_backends[body.get("account", ACCOUNT)][body.get("region")]
        cluster = backend.clusters.get(body.get("cluster"))
        if cluster is None:
            return 404, {"message": f"no cluster {body.get('cluster')} in {body.get('region')}"}
        return 200, {"snapshot": take_failover_snapshot(cluster).db_cluster_snapshot_identifier}
    return None
