"""Test-only control of RDS cluster snapshot times.

moto takes an automated cluster snapshot when a cluster is created, as AWS
takes the initial automated backup. A primary "without a recent backup" is
one whose snapshots are all older than the backup age a preflight accepts;
tests make that happen by ageing the snapshots (nothing in AWS can):

    POST /_emulator/rds/snapshots/age {"region", "cluster", "hours"}

moves SnapshotCreateTime of every snapshot of that cluster `hours` into the
past and answers {"aged": N}. Unknown cluster -> 404.
"""

import datetime

from moto.rds.models import rds_backends

ACCOUNT = "123456789012"


def age_snapshots(body: dict) -> tuple[int, dict]:
    region, cluster, hours = body.get("region"), body.get("cluster"), float(body.get("hours", 0))
    backend = rds_backends[body.get("account", ACCOUNT)][region]
    if cluster not in backend.clusters:
        return 404, {"message": f"no cluster {cluster} in {region}"}
    aged = 0
    for snap in list(backend.cluster_snapshots.values()):
        if snap.db_cluster_identifier != cluster:
            continue
        snap.created = snap.created - datetime.timedelta(hours=hours)
        aged += 1
    return 200, {"aged": aged}


def control(method: str, path: str, read_json) -> tuple[int, dict] | None:
    """The control-API routes this module adds, or None."""
    if path == "/_emulator/rds/snapshots/age" and method == "POST":
        return age_snapshots(read_json())
    return None
