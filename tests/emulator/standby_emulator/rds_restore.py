"""RestoreDBClusterToPointInTime as AWS answers it, for copies of a cluster (clones included).

AWS RDS API reference, RestoreDBClusterToPointInTime, and the Aurora User
Guide, "Cloning a volume for an Amazon Aurora DB cluster":
- the source is a cluster of the caller's Region ("You can't create a clone
  in a different AWS Region from the source Aurora DB cluster"): another
  Region's, or an unknown one, is DBClusterNotFoundFault;
- the new cluster is standalone, with the source's data and no DB instance
  ("results in an Aurora DB cluster with the same storage data as the
  original cluster, but no Aurora DB instances"), whatever the source is: a
  global database's secondary gives a cluster outside the global database,
  whose own writer endpoint is active and read-write;
- `RestoreType=copy-on-write` needs a source with an instance ("You can't
  create a clone from an Aurora DB cluster that has no DB instances"):
  InvalidDBClusterStateFault;
- `RestoreToTime` "Can't be specified if the UseLatestRestorableTime
  parameter is enabled" / "if the RestoreType parameter is copy-on-write":
  InvalidParameterCombination (moto's own checks); one of the two is needed
  ("Must be specified if the UseLatestRestorableTime parameter isn't
  provided"): InvalidParameterValue (the exact code AWS uses is not
  documented);
- an identifier already taken: DBClusterAlreadyExistsFault.

moto 5.2.5 copies every attribute of the source, its global cluster
membership included (the copy of a secondary joined the global database),
checks none of the above but the two combinations, and gives the copy a new,
empty volume. Here the copy is standalone and holds a copy of the source's
volume, its roles included (`Volumes.copy`: Aurora copies the cluster
volume, where PostgreSQL keeps its roles). Replication is instant in the
emulator, so the copy holds the source's newest data (LatestRestorableTime is
now). The copy is `available` at once, or `creating` for `rds_restore_ms`
first (AWS takes minutes).
"""

import time
from typing import Any

from moto.rds.exceptions import DBClusterNotFoundError, InvalidParameterCombination, InvalidParameterValue
from moto.rds.models import DBCluster, RDSBackend

from . import aurora_db
from .rds import DBClusterAlreadyExistsFault, InvalidDBClusterStateFault
from .settings import SETTINGS

# Attributes a copy never takes from its source: membership of a global
# database or a replication topology, the source's identity and endpoints.
_NOT_COPIED = ("global_cluster_identifier", "replication_source_identifier", "read_replica_identifiers",
               "is_writer", "members", "global_write_forwarding_requested", "enable_global_write_forwarding")


def _has_available_instance(backend: RDSBackend, cluster_id: str) -> bool:
    return any(getattr(i, "db_cluster_identifier", None) == cluster_id and i.status == "available"
               for i in backend.databases.values())


def fix_restore_db_cluster_to_point_in_time() -> None:
    original = RDSBackend.restore_db_cluster_to_point_in_time

    def restore(self: RDSBackend, db_cluster_identifier: str, source_db_cluster_identifier: str,
                restore_type: str = "full-copy", restore_to_time: Any = None,
                use_latest_restorable_time: bool = False, **overrides: Any) -> DBCluster:
        source_id = source_db_cluster_identifier
        if source_id.startswith("arn:"):
            parts = source_id.split(":")
            if parts[3] != self.region_name:
                raise DBClusterNotFoundError(source_id)
            source_id = parts[-1]
        source = self.clusters.get(source_id)
        if source is None:
            raise DBClusterNotFoundError(source_id)
        if db_cluster_identifier in self.clusters:
            raise DBClusterAlreadyExistsFault()
        if restore_type not in ("full-copy", "copy-on-write"):
            raise InvalidParameterValue(f"Invalid RestoreType: {restore_type}")
        if restore_to_time is None and not use_latest_restorable_time:
            raise InvalidParameterValue("Either RestoreToTime or UseLatestRestorableTime must be specified")
        if restore_type == "copy-on-write" and restore_to_time is None \
                and not _has_available_instance(self, source_id):
            raise InvalidDBClusterStateFault(
                f"Cannot clone DB cluster {source_id} because it does not have any available DB instances.")
        for key in _NOT_COPIED:
            overrides[key] = None
        volume = aurora_db.volume_of(source)
        if not getattr(source, "master_username", None) and volume is not None and volume.master_user:
            # A secondary has the global database's master user (its volume's), as its copy does.
            overrides["master_username"] = volume.master_user
            overrides["master_user_password"] = volume.master_password
        cluster = original(self, db_cluster_identifier, source_id, restore_type, restore_to_time,
                           use_latest_restorable_time, **overrides)
        if volume is not None:
            empty = aurora_db.volume_of(cluster)
            aurora_db.set_volume(cluster, aurora_db.model().volumes.copy(volume))
            if empty is not None and empty is not volume:
                aurora_db.model().volumes.drop(empty)
        delay = int(SETTINGS.get("rds_restore_ms") or 0)
        if delay > 0:
            # Asynchronous, as on AWS: `creating` first (setting rds_restore_ms).
            cluster._emu_restore_ready_at = time.time() + delay / 1000
        aurora_db.refresh()
        return cluster

    RDSBackend.restore_db_cluster_to_point_in_time = restore


def fix_restoring_status() -> None:
    """A restored cluster is `creating` until its time is up (moto: `creating`
    for one read, whatever happens)."""
    original = DBCluster.status

    def status(self: DBCluster) -> str:
        ready = getattr(self, "_emu_restore_ready_at", None)
        if ready is not None:
            if time.time() < ready:
                return "creating"
            self._emu_restore_ready_at = None
            if self._status == "creating":
                self._status = "available"
        return original.fget(self)

    DBCluster.status = property(status, original.fset)


def apply() -> None:
    fix_restore_db_cluster_to_point_in_time()
    fix_restoring_status()
