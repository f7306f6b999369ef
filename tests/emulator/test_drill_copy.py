"""Self-check: copies of a cluster as a drill makes them (standby_emulator/rds_restore.py,
aurora_volumes.Volumes.copy): RestoreDBClusterToPointInTime of a global database's
secondary is a standalone, read-write cluster holding the source's data and roles, and
AWS's refusals."""

import psycopg
import pytest

from test_aurora_db import EAST, PASSWORD, WEST, _arn, _cluster, _connect, _error, aws  # noqa: F401 (fixture)

MM_PASSWORD = "Mm-Passw0rd!'quoted"


def _production(aws, endpoint, env, secondary_instances=1):
    """A global database whose master user is not Mattermost's: Mattermost's user made with SQL."""
    west, east = aws(WEST), aws(EAST)
    p = _cluster(west, "mm-west", 1, MasterUsername="admin_user", MasterUserPassword=PASSWORD,
                 DatabaseName="mattermost")
    west.create_global_cluster(GlobalClusterIdentifier="mm-global", SourceDBClusterIdentifier=_arn(WEST, "mm-west"))
    s = _cluster(east, "mm-east", secondary_instances, GlobalClusterIdentifier="mm-global")
    with _connect(endpoint, env, p["Endpoint"], user="admin_user") as c:
        c.execute("CREATE USER mmuser")
        c.execute(f"ALTER USER mmuser PASSWORD '{MM_PASSWORD.replace(chr(39), chr(39) * 2)}'")
        c.execute("GRANT mmuser TO CURRENT_USER")
        c.execute("ALTER DATABASE mattermost OWNER TO mmuser")
        c.execute("ALTER SCHEMA public OWNER TO mmuser")
    with _connect(endpoint, env, p["Endpoint"], password=MM_PASSWORD) as c:
        c.execute("CREATE TABLE posts (id text, message text)")
        c.execute("INSERT INTO posts VALUES ('p1', 'before the drill')")
    return west, east, p, s


def _clone(east, name="mm-drill-ab12cd", source="mm-east", **kw):
    args = dict(DBClusterIdentifier=name, SourceDBClusterIdentifier=source, RestoreType="copy-on-write",
                UseLatestRestorableTime=True)
    args.update(kw)
    return east.restore_db_cluster_to_point_in_time(**args)["DBCluster"]


def test_clone_of_a_secondary_is_standalone_and_holds_data_and_roles(aws, endpoint, emulator_env):
    west, east, p, s = _production(aws, endpoint, emulator_env)
    clone = _clone(east)
    assert "GlobalClusterIdentifier" not in clone or not clone["GlobalClusterIdentifier"]
    assert clone["DBClusterMembers"] == []
    members = west.describe_global_clusters(GlobalClusterIdentifier="mm-global")["GlobalClusters"][0][
        "GlobalClusterMembers"]
    assert sorted(m["DBClusterArn"].split(":")[-1] for m in members) == ["mm-east", "mm-west"]
    # As AWS: no instance yet; the writer endpoint answers once one is available.
    east.create_db_instance(DBInstanceIdentifier="mm-drill-ab12cd-1", DBClusterIdentifier="mm-drill-ab12cd",
                            Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    with _connect(endpoint, emulator_env, clone["Endpoint"], password=MM_PASSWORD) as c:
        assert c.execute("SELECT message FROM posts").fetchall() == [("before the drill",)]
        c.execute("INSERT INTO posts VALUES ('p2', 'posted in the drill')")
        c.execute("CREATE TABLE IF NOT EXISTS posts (id text)")  # Mattermost's migrations: owner kept
    # Production never sees the drill's write, and keeps writing on its own.
    with _connect(endpoint, emulator_env, p["Endpoint"], password=MM_PASSWORD) as c:
        assert c.execute("SELECT id FROM posts").fetchall() == [("p1",)]
        c.execute("INSERT INTO posts VALUES ('p3', 'after the copy')")
    with _connect(endpoint, emulator_env, clone["Endpoint"], password=MM_PASSWORD) as c:
        assert sorted(r[0] for r in c.execute("SELECT id FROM posts")) == ["p1", "p2"]
    # A wrong password fails as PostgreSQL fails it: the verifier was copied, not reset.
    with pytest.raises(psycopg.OperationalError):
        _connect(endpoint, emulator_env, clone["Endpoint"], password="wrong")


def test_deleting_the_copy_leaves_production(aws, endpoint, emulator_env):
    west, east, p, s = _production(aws, endpoint, emulator_env)
    _clone(east)
    east.create_db_instance(DBInstanceIdentifier="mm-drill-ab12cd-1", DBClusterIdentifier="mm-drill-ab12cd",
                            Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    east.delete_db_instance(DBInstanceIdentifier="mm-drill-ab12cd-1")
    east.delete_db_cluster(DBClusterIdentifier="mm-drill-ab12cd", SkipFinalSnapshot=True)
    with _connect(endpoint, emulator_env, p["Endpoint"], password=MM_PASSWORD) as c:
        assert c.execute("SELECT id FROM posts").fetchall() == [("p1",)]


def test_refusals(aws, endpoint, emulator_env):
    west, east, p, s = _production(aws, endpoint, emulator_env, secondary_instances=0)
    # A headless secondary cannot be cloned; a full-copy restore of it can be made.
    assert _error(lambda: _clone(east)) == "InvalidDBClusterStateFault"
    full = east.restore_db_cluster_to_point_in_time(
        DBClusterIdentifier="mm-drill-full", SourceDBClusterIdentifier="mm-east", RestoreType="full-copy",
        UseLatestRestorableTime=True)["DBCluster"]
    assert full["DBClusterIdentifier"] == "mm-drill-full"
    # Not across Regions, not an unknown source, not a taken name.
    assert _error(lambda: west.restore_db_cluster_to_point_in_time(
        DBClusterIdentifier="x", SourceDBClusterIdentifier=_arn(EAST, "mm-east"), RestoreType="full-copy",
        UseLatestRestorableTime=True)) == "DBClusterNotFoundFault"
    assert _error(lambda: _clone(east, source="nope")) == "DBClusterNotFoundFault"
    assert _error(lambda: _clone(west, name="mm-west", source="mm-west")) == "DBClusterAlreadyExistsFault"
    # RestoreToTime: not with copy-on-write, not with UseLatestRestorableTime; one of them needed.
    assert _error(lambda: _clone(west, source="mm-west", UseLatestRestorableTime=False,
                                 RestoreToTime="2026-01-01T00:00:00Z")) == "InvalidParameterCombination"
    assert _error(lambda: _clone(west, source="mm-west", RestoreType="full-copy",
                                 RestoreToTime="2026-01-01T00:00:00Z")) == "InvalidParameterCombination"
    assert _error(lambda: _clone(west, source="mm-west", UseLatestRestorableTime=False)) == "InvalidParameterValue"


def test_a_copy_is_creating_first_when_asked(aws, endpoint, emulator_env):
    import json
    import time
    import urllib.request

    west, east, p, s = _production(aws, endpoint, emulator_env)
    req = urllib.request.Request(f"{endpoint}/_emulator/settings", method="POST",
                                 data=json.dumps({"rds_restore_ms": 600}).encode())
    urllib.request.urlopen(req)
    assert _clone(east)["Status"] == "creating"
    status = lambda: east.describe_db_clusters(DBClusterIdentifier="mm-drill-ab12cd")["DBClusters"][0]["Status"]
    assert status() == "creating" and status() == "creating"  # every look until the time is up
    time.sleep(0.8)
    assert status() == "available"
