"""A cluster or instance re-created under the name of a deleted one gets its
first automated backup.

AWS RDS User Guide, "Working with backups": automated backups are named by
RDS (`rds:<id>-<timestamp>`) and are deleted with the DB cluster / instance
unless retained; creating a cluster or instance never fails because of an
automated backup's name. moto 5.2.5 takes a snapshot named
`rds:<id>-<YYYY-MM-DD-HH-MM>` at creation and keeps it after DeleteDBCluster,
so deleting a cluster and creating it again within the same minute fails with
DBClusterSnapshotAlreadyExistsFault (the same for instances). Here an
automated snapshot left by an earlier cluster/instance of that name makes way
for the new one; manual snapshots are untouched.
"""

from moto.rds.models import RDSBackend


def fix_automated_backup_names() -> None:
    cluster_original = RDSBackend.create_auto_cluster_snapshot
    instance_original = RDSBackend.create_auto_snapshot

    def create_auto_cluster_snapshot(self, db_cluster_identifier, db_snapshot_identifier):
        old = self.cluster_snapshots.get(db_snapshot_identifier)
        if old is not None and getattr(old, "snapshot_type", "") == "automated":
            del self.cluster_snapshots[db_snapshot_identifier]
        return cluster_original(self, db_cluster_identifier, db_snapshot_identifier)

    def create_auto_snapshot(self, db_instance_identifier, db_snapshot_identifier):
        old = self.database_snapshots.get(db_snapshot_identifier)
        if old is not None and getattr(old, "snapshot_type", "") == "automated":
            del self.database_snapshots[db_snapshot_identifier]
        return instance_original(self, db_instance_identifier, db_snapshot_identifier)

    RDSBackend.create_auto_cluster_snapshot = create_auto_cluster_snapshot
    RDSBackend.create_auto_snapshot = create_auto_snapshot


def apply() -> None:
    fix_automated_backup_names()
