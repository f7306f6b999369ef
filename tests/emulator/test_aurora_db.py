"""Self-check: the PostgreSQL behind Aurora's endpoints, with AWS's endpoint
semantics, through a real libpq client (psycopg), and the switchover and
failover refusals (standby_emulator/aurora_db.py, pg_proxy.py, rds_switch.py)."""

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import boto3
import botocore.exceptions
import psycopg
import pytest

from conftest import SCRIPT

WEST, EAST, ACCOUNT = "us-west-1", "us-east-1", "123456789012"
PASSWORD = "Db-Passw0rd!"


def _arn(region, name):
    return f"arn:aws:rds:{region}:{ACCOUNT}:cluster:{name}"


@pytest.fixture
def aws(endpoint, reset):
    def client(region):
        return boto3.client("rds", region_name=region, endpoint_url=endpoint, aws_access_key_id="testing",
                            aws_secret_access_key="testing",
                            config=botocore.config.Config(retries={"max_attempts": 1}))
    return client


def _get(endpoint, path):
    return json.loads(urllib.request.urlopen(f"{endpoint}{path}").read())


def _post(endpoint, path, body):
    req = urllib.request.Request(f"{endpoint}{path}", method="POST", data=json.dumps(body).encode())
    return json.loads(urllib.request.urlopen(req).read())


def _settings(endpoint, **values):
    return _post(endpoint, "/_emulator/settings", values)


def _resolve(endpoint, name):
    return _get(endpoint, f"/_emulator/dns/resolve?name={name}")["address"]


def _connect(endpoint, env, host, user="mmuser", password=PASSWORD, dbname="mattermost", sslmode="verify-full",
             tls_name=None, **kw):
    """A libpq connection to an endpoint by its name, resolved as the emulated VPC resolves it."""
    return psycopg.connect(host=tls_name or host, hostaddr=_resolve(endpoint, host), port=5432, user=user,
                           password=password, dbname=dbname, sslmode=sslmode,
                           sslrootcert=env["STANDBY_EMULATOR_RDS_CA_BUNDLE"], connect_timeout=10, **kw)


def _cluster(rds, name, instances=1, version="16.4", **kw):
    rds.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-postgresql", EngineVersion=version, **kw)
    for n in range(instances):
        rds.create_db_instance(DBInstanceIdentifier=f"{name}-{n}", DBClusterIdentifier=name,
                               Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    return rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]


def _global_db(aws, forwarding=False, primary_instances=1, secondary_instances=1, secondary_version="16.4"):
    west, east = aws(WEST), aws(EAST)
    p = _cluster(west, "mm-west", primary_instances, MasterUsername="mmuser", MasterUserPassword=PASSWORD,
                 DatabaseName="mattermost")
    west.create_global_cluster(GlobalClusterIdentifier="mm-global", SourceDBClusterIdentifier=_arn(WEST, "mm-west"))
    s = _cluster(east, "mm-east", secondary_instances, version=secondary_version, GlobalClusterIdentifier="mm-global",
                 EnableGlobalWriteForwarding=forwarding)
    g = west.describe_global_clusters(GlobalClusterIdentifier="mm-global")["GlobalClusters"][0]
    return west, east, p, s, g["Endpoint"]


def _error(fn):
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError("no error")


def _refused(fn):
    with pytest.raises(psycopg.OperationalError) as e:
        fn()
    return str(e.value)


# ------------------------------------------------------------ endpoints ---


def test_endpoint_names_have_aws_format(aws):
    west, east, p, s, global_ep = _global_db(aws)
    assert re.fullmatch(r"mm-west\.cluster-[a-z0-9]{12}\.us-west-1\.rds\.amazonaws\.com", p["Endpoint"])
    assert p["ReaderEndpoint"] == p["Endpoint"].replace(".cluster-", ".cluster-ro-")
    assert re.fullmatch(r"mm-global\.global-[a-z0-9]{12}\.global\.rds\.amazonaws\.com", global_ep)
    # The 12 characters belong to the account and region: a second cluster there shares them.
    other = _cluster(west, "other", 0, MasterUsername="x", MasterUserPassword=PASSWORD)
    assert other["Endpoint"].split(".")[1] == p["Endpoint"].split(".")[1]
    inst = west.describe_db_instances(DBInstanceIdentifier="mm-west-0")["DBInstances"][0]["Endpoint"]["Address"]
    assert inst == f"mm-west-0.{p['Endpoint'].split('.')[1].removeprefix('cluster-')}.us-west-1.rds.amazonaws.com"


def test_writer_endpoint_is_a_real_database_with_the_master_user(aws, endpoint, emulator_env):
    west = aws(WEST)
    c = _cluster(west, "solo", MasterUsername="mmuser", MasterUserPassword=PASSWORD, DatabaseName="mattermost")
    with _connect(endpoint, emulator_env, c["Endpoint"]) as conn:
        conn.execute("CREATE TABLE posts (id text PRIMARY KEY, message text)")
        conn.execute("INSERT INTO posts VALUES ('a', 'hello')")
        conn.commit()
        user, db, superuser = conn.execute(
            "SELECT current_user, current_database(), rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        assert (user, db, superuser) == ("mmuser", "mattermost", False)
        # rds_superuser-like: a member of the volume's group, can create roles and databases.
        assert conn.execute("SELECT pg_has_role('rds_superuser', 'MEMBER')").fetchone() == (True,)
        conn.execute("CREATE ROLE app LOGIN PASSWORD 'App-Passw0rd!'")
        conn.execute("GRANT SELECT ON posts TO app")
        conn.commit()
    # A role made with SQL logs in like any other.
    with _connect(endpoint, emulator_env, c["Endpoint"], user="app", password="App-Passw0rd!") as conn:
        assert conn.execute("SELECT message FROM posts").fetchall() == [("hello",)]
    # Nothing else exists unless created; wrong passwords fail as PostgreSQL fails them.
    assert "database \"other\" does not exist" in _refused(
        lambda: _connect(endpoint, emulator_env, c["Endpoint"], dbname="other"))
    assert 'password authentication failed for user "mmuser"' in _refused(
        lambda: _connect(endpoint, emulator_env, c["Endpoint"], password="nope-nope"))
    assert 'password authentication failed for user "standby_admin"' in _refused(
        lambda: _connect(endpoint, emulator_env, c["Endpoint"], user="standby_admin"))
    # The postgres database is there too.
    _connect(endpoint, emulator_env, c["Endpoint"], dbname="postgres").close()
    # Without replicas the reader endpoint leads to the writer instance: writes work there.
    with _connect(endpoint, emulator_env, c["ReaderEndpoint"]) as conn:
        conn.execute("INSERT INTO posts VALUES ('b', 'through the reader endpoint')")


def test_standalone_clusters_have_their_own_volume(aws, endpoint, emulator_env):
    west = aws(WEST)
    a = _cluster(west, "a", MasterUsername="mmuser", MasterUserPassword=PASSWORD, DatabaseName="mattermost")
    b = _cluster(west, "b", MasterUsername="mmuser", MasterUserPassword="Other-Passw0rd", DatabaseName="mattermost")
    with _connect(endpoint, emulator_env, a["Endpoint"]) as conn:
        conn.execute("CREATE TABLE only_in_a (x int)")
    with _connect(endpoint, emulator_env, b["Endpoint"], password="Other-Passw0rd") as conn:
        assert conn.execute("SELECT to_regclass('only_in_a')").fetchone() == (None,)
    assert "password authentication failed" in _refused(
        lambda: _connect(endpoint, emulator_env, b["Endpoint"]))


def test_master_password_change_takes_effect(aws, endpoint, emulator_env):
    west = aws(WEST)
    c = _cluster(west, "solo", MasterUsername="mmuser", MasterUserPassword=PASSWORD, DatabaseName="mattermost")
    _connect(endpoint, emulator_env, c["Endpoint"]).close()
    west.modify_db_cluster(DBClusterIdentifier="solo", MasterUserPassword="New-Passw0rd!", ApplyImmediately=True)
    assert "password authentication failed" in _refused(lambda: _connect(endpoint, emulator_env, c["Endpoint"]))
    _connect(endpoint, emulator_env, c["Endpoint"], password="New-Passw0rd!").close()


def test_tls_verify_full_against_the_ca_bundle(aws, endpoint, emulator_env):
    assert Path(emulator_env["STANDBY_EMULATOR_RDS_CA_BUNDLE"]).read_text().startswith("-----BEGIN CERTIFICATE")
    assert _get(endpoint, "/_emulator/rds/ca")["bundle"] == emulator_env["STANDBY_EMULATOR_RDS_CA_BUNDLE"]
    west = aws(WEST)
    c = _cluster(west, "solo", MasterUsername="mmuser", MasterUserPassword=PASSWORD, DatabaseName="mattermost")
    with _connect(endpoint, emulator_env, c["Endpoint"]) as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() in [(False,), None]
        assert conn.pgconn.ssl_in_use
    # The certificate names the endpoint: another name fails verification.
    err = _refused(lambda: _connect(endpoint, emulator_env, c["Endpoint"], tls_name=c["ReaderEndpoint"]))
    assert "does not match host name" in err
    # Plain connections work while rds.force_ssl is 0 (Aurora PostgreSQL's default)...
    _connect(endpoint, emulator_env, c["Endpoint"], sslmode="disable").close()
    _settings(endpoint, rds_force_ssl=1)
    err = _refused(lambda: _connect(endpoint, emulator_env, c["Endpoint"], sslmode="disable"))
    assert 'no pg_hba.conf entry for host' in err and "no encryption" in err
    _connect(endpoint, emulator_env, c["Endpoint"]).close()


def test_tls_for_endpoint_names_longer_than_a_common_name(aws, endpoint, emulator_env):
    # The demo's production cluster: its endpoint name (71 characters) does not fit a certificate's
    # Common Name (64 at most); the name is in the subject alternative names, which verify-full checks.
    c = _cluster(aws(WEST), "mattermost-prod-aurora", MasterUsername="mmuser", MasterUserPassword=PASSWORD,
                 DatabaseName="mattermost")
    assert len(c["Endpoint"]) > 64, c["Endpoint"]
    with _connect(endpoint, emulator_env, c["Endpoint"]) as conn:
        assert conn.pgconn.ssl_in_use
    assert "does not match host name" in _refused(
        lambda: _connect(endpoint, emulator_env, c["Endpoint"], tls_name=c["ReaderEndpoint"]))


def test_secondary_writer_endpoint_is_inactive_and_reader_read_only(aws, endpoint, emulator_env):
    west, east, p, s, global_ep = _global_db(aws, primary_instances=2)
    with _connect(endpoint, emulator_env, p["Endpoint"]) as conn:
        conn.execute("CREATE TABLE posts (id text PRIMARY KEY)")
        conn.execute("INSERT INTO posts VALUES ('a')")
    # One volume for the global database: the secondary reads what the primary wrote.
    with _connect(endpoint, emulator_env, s["ReaderEndpoint"]) as conn:
        assert conn.execute("SELECT id FROM posts").fetchall() == [("a",)]
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction, match="cannot execute INSERT in a read-only"):
            conn.execute("INSERT INTO posts VALUES ('b')")
        conn.rollback()
        with pytest.raises(psycopg.Error, match="cannot set transaction read-write mode during recovery"):
            conn.execute("SET default_transaction_read_only = off")
    assert "Connection refused" in _refused(lambda: _connect(endpoint, emulator_env, s["Endpoint"]))
    # A primary with replicas: its reader endpoint is read-only too.
    with _connect(endpoint, emulator_env, p["ReaderEndpoint"]) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO posts VALUES ('c')")
    eps = {e["name"]: e for e in _get(endpoint, "/_emulator/rds/endpoints")}
    assert eps[s["Endpoint"]]["active"] is False and eps[global_ep]["serving_cluster"] == "mm-west"
    # The RDS API says so too.
    described = east.describe_db_cluster_endpoints(DBClusterIdentifier="mm-east")["DBClusterEndpoints"]
    assert sorted((e["EndpointType"], e["Status"], e["Endpoint"]) for e in described) == [
        ("READER", "available", s["ReaderEndpoint"]), ("WRITER", "inactive", s["Endpoint"])]
    assert [e["Status"] for e in west.describe_db_cluster_endpoints(
        Filters=[{"Name": "db-cluster-endpoint-type", "Values": ["writer"]}])["DBClusterEndpoints"]] == ["available"]


def test_reader_forwards_writes_with_write_forwarding(aws, endpoint, emulator_env):
    west, east, p, s, global_ep = _global_db(aws, forwarding=True)
    with _connect(endpoint, emulator_env, global_ep) as conn:
        conn.execute("CREATE TABLE posts (id text PRIMARY KEY)")
    with _connect(endpoint, emulator_env, s["ReaderEndpoint"]) as conn:
        assert conn.execute("SHOW apg_write_forward.consistency_mode").fetchone() == ("SESSION",)
        conn.execute("INSERT INTO posts VALUES ('forwarded')")
        conn.commit()
        # DDL is not forwarded: it runs on the read-only replica and fails there.
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction, match="cannot execute CREATE TABLE"):
            conn.execute("CREATE TABLE t (x int)")
    with _connect(endpoint, emulator_env, p["Endpoint"]) as conn:
        assert conn.execute("SELECT id FROM posts").fetchall() == [("forwarded",)]
    # Turned off: read-only again.
    east.modify_db_cluster(DBClusterIdentifier="mm-east", EnableGlobalWriteForwarding=False)
    with _connect(endpoint, emulator_env, s["ReaderEndpoint"]) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO posts VALUES ('b')")


def test_global_endpoint_follows_switchover_and_failover_and_sessions_drop(aws, endpoint, emulator_env):
    west, east, p, s, global_ep = _global_db(aws)
    old = _connect(endpoint, emulator_env, global_ep)
    old.execute("CREATE TABLE posts (id text PRIMARY KEY)")
    old.commit()
    on_reader = _connect(endpoint, emulator_env, s["ReaderEndpoint"])
    west.switchover_global_cluster(GlobalClusterIdentifier="mm-global", TargetDbClusterIdentifier=_arn(EAST, "mm-east"))
    # The sessions of both clusters end (their instances take new roles).
    for conn in (old, on_reader):
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    with _connect(endpoint, emulator_env, global_ep) as conn:
        conn.execute("INSERT INTO posts VALUES ('after-switchover')")
        assert conn.execute("SELECT inet_server_addr() IS NULL").fetchone() == (True,)  # a Unix socket behind
    eps = {e["name"]: e for e in _get(endpoint, "/_emulator/rds/endpoints")}
    assert eps[global_ep]["serving_cluster"] == "mm-east"
    assert eps[p["Endpoint"]]["active"] is False and eps[s["Endpoint"]]["active"] is True
    assert "Connection refused" in _refused(lambda: _connect(endpoint, emulator_env, p["Endpoint"]))
    # Failover back, in the target's region.
    west.failover_global_cluster(GlobalClusterIdentifier="mm-global", TargetDbClusterIdentifier=_arn(WEST, "mm-west"),
                                 AllowDataLoss=True)
    with _connect(endpoint, emulator_env, global_ep) as conn:
        assert conn.execute("SELECT id FROM posts").fetchall() == [("after-switchover",)]
    assert {e["name"]: e for e in _get(endpoint, "/_emulator/rds/endpoints")}[global_ep]["serving_cluster"] == "mm-west"


def test_switch_makes_the_database_unavailable_while_roles_change(aws, endpoint, emulator_env):
    west, east, p, s, global_ep = _global_db(aws)
    _connect(endpoint, emulator_env, global_ep).close()  # the server is up (its first start takes ~0.3 s)
    _settings(endpoint, rds_failover_ms=900)
    west.switchover_global_cluster(GlobalClusterIdentifier="mm-global", TargetDbClusterIdentifier=_arn(EAST, "mm-east"))
    _connect(endpoint, emulator_env, global_ep).close()  # pending: still the old writer
    time.sleep(0.4)
    assert "Connection refused" in _refused(lambda: _connect(endpoint, emulator_env, global_ep))
    time.sleep(0.7)
    with _connect(endpoint, emulator_env, s["Endpoint"]) as conn:
        conn.execute("CREATE TABLE t (x int)")


def test_data_loss_failover_loses_exactly_the_window(aws, endpoint, emulator_env):
    west, east, p, s, global_ep = _global_db(aws)
    with _connect(endpoint, emulator_env, global_ep, autocommit=True) as conn:
        conn.execute("CREATE TABLE posts (id int PRIMARY KEY, at float8)")
        for i in range(6):
            conn.execute("INSERT INTO posts VALUES (%s, extract(epoch from clock_timestamp()))", (i,))
        time.sleep(1.2)
        for i in range(6, 10):
            conn.execute("INSERT INTO posts VALUES (%s, extract(epoch from clock_timestamp()))", (i,))
    _settings(endpoint, rds_failover_data_loss_ms=800)
    east.failover_global_cluster(GlobalClusterIdentifier="mm-global", TargetDbClusterIdentifier=_arn(EAST, "mm-east"),
                                 AllowDataLoss=True)
    with _connect(endpoint, emulator_env, global_ep) as conn:
        assert [r[0] for r in conn.execute("SELECT id FROM posts ORDER BY id")] == [0, 1, 2, 3, 4, 5]
    # A switchover loses nothing.
    east.switchover_global_cluster(GlobalClusterIdentifier="mm-global", TargetDbClusterIdentifier=_arn(WEST, "mm-west"))
    with _connect(endpoint, emulator_env, global_ep) as conn:
        assert conn.execute("SELECT count(*) FROM posts").fetchone() == (6,)


def test_data_loss_window_ends_when_the_writers_region_went_down(aws, endpoint, emulator_env):
    # The writes lost are the last ones before the primary went away, however long the operator takes.
    west, east, p, s, global_ep = _global_db(aws)
    with _connect(endpoint, emulator_env, global_ep, autocommit=True) as conn:
        conn.execute("CREATE TABLE posts (id int PRIMARY KEY)")
        for i in range(4):
            conn.execute("INSERT INTO posts VALUES (%s)", (i,))
        time.sleep(1.2)
        for i in range(4, 7):
            conn.execute("INSERT INTO posts VALUES (%s)", (i,))
    _settings(endpoint, rds_failover_data_loss_ms=800)
    _post(endpoint, "/_emulator/regions", {"region": WEST, "down": True})
    time.sleep(1.5)  # the operator decides: longer than the window
    east.failover_global_cluster(GlobalClusterIdentifier="mm-global", TargetDbClusterIdentifier=_arn(EAST, "mm-east"),
                                 AllowDataLoss=True)
    with _connect(endpoint, emulator_env, global_ep) as conn:
        assert [r[0] for r in conn.execute("SELECT id FROM posts ORDER BY id")] == [0, 1, 2, 3]
    _post(endpoint, "/_emulator/regions", {"region": WEST, "down": False})


def test_region_down_refuses_its_endpoints(aws, endpoint, emulator_env):
    west, east, p, s, global_ep = _global_db(aws)
    session = _connect(endpoint, emulator_env, global_ep)
    _post(endpoint, "/_emulator/regions", {"region": WEST, "down": True})
    try:
        with pytest.raises(psycopg.OperationalError):
            session.execute("SELECT 1")
        for ep in (p["Endpoint"], p["ReaderEndpoint"], global_ep):
            assert "Connection refused" in _refused(lambda ep=ep: _connect(endpoint, emulator_env, ep))
        _connect(endpoint, emulator_env, s["ReaderEndpoint"]).close()  # the other region serves reads
        east.failover_global_cluster(GlobalClusterIdentifier="mm-global",
                                     TargetDbClusterIdentifier=_arn(EAST, "mm-east"), AllowDataLoss=True)
        with _connect(endpoint, emulator_env, global_ep) as conn:
            conn.execute("CREATE TABLE after_failover (x int)")
    finally:
        _post(endpoint, "/_emulator/regions", {"region": WEST, "down": False})
    # Back: the old primary is a secondary whose writer endpoint is inactive.
    assert "Connection refused" in _refused(lambda: _connect(endpoint, emulator_env, p["Endpoint"]))
    _connect(endpoint, emulator_env, p["ReaderEndpoint"]).close()


def test_detached_cluster_keeps_a_copy(aws, endpoint, emulator_env):
    west, east, p, s, global_ep = _global_db(aws)
    with _connect(endpoint, emulator_env, p["Endpoint"]) as conn:
        conn.execute("CREATE TABLE posts (id text)")
        conn.execute("INSERT INTO posts VALUES ('before')")
    east.remove_from_global_cluster(GlobalClusterIdentifier="mm-global", DbClusterIdentifier=_arn(EAST, "mm-east"))
    with _connect(endpoint, emulator_env, s["Endpoint"]) as conn:
        conn.execute("INSERT INTO posts VALUES ('detached')")
    with _connect(endpoint, emulator_env, p["Endpoint"]) as conn:
        assert conn.execute("SELECT id FROM posts").fetchall() == [("before",)]


# ------------------------------------------------------------ refusals ---


def test_switch_refusals(aws, endpoint):
    west, east, p, s, global_ep = _global_db(aws, secondary_instances=0)
    to_east = dict(GlobalClusterIdentifier="mm-global", TargetDbClusterIdentifier=_arn(EAST, "mm-east"))
    # Headless target.
    assert _error(lambda: west.switchover_global_cluster(**to_east)) == "InvalidDBClusterStateFault"
    assert _error(lambda: east.failover_global_cluster(AllowDataLoss=True, **to_east)) == "InvalidDBClusterStateFault"
    east.create_db_instance(DBInstanceIdentifier="mm-east-0", DBClusterIdentifier="mm-east",
                            Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    # Wrong calling region: switchover in the writer's, failover in the target's.
    assert _error(lambda: east.switchover_global_cluster(**to_east)) == "InvalidParameterValue"
    assert _error(lambda: west.failover_global_cluster(AllowDataLoss=True, **to_east)) == "InvalidParameterValue"
    # Target not available, global cluster not available.
    _post(endpoint, "/_emulator/rds/status", {"region": EAST, "cluster": "mm-east", "status": "modifying"})
    assert _error(lambda: west.switchover_global_cluster(**to_east)) == "InvalidDBClusterStateFault"
    _post(endpoint, "/_emulator/rds/status", {"region": EAST, "cluster": "mm-east", "status": "available"})
    _post(endpoint, "/_emulator/rds/status", {"global_cluster": "mm-global", "status": "modifying"})
    assert _error(lambda: west.switchover_global_cluster(**to_east)) == "InvalidGlobalClusterStateFault"
    _post(endpoint, "/_emulator/rds/status", {"global_cluster": "mm-global", "status": "available"})
    west.switchover_global_cluster(**to_east)


def test_switch_refused_between_engine_versions(aws):
    west, east, p, s, global_ep = _global_db(aws, secondary_version="16.6")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        west.switchover_global_cluster(GlobalClusterIdentifier="mm-global",
                                       TargetDbClusterIdentifier=_arn(EAST, "mm-east"))
    assert e.value.response["Error"]["Code"] == "InvalidDBClusterStateFault"
    assert "same engine version" in e.value.response["Error"]["Message"]


def _state(rds):
    gc = rds.describe_global_clusters(GlobalClusterIdentifier="mm-global")["GlobalClusters"][0]
    writer = next(m["DBClusterArn"] for m in gc["GlobalClusterMembers"] if m["IsWriter"])
    return gc.get("FailoverState", {}).get("Status"), gc["Status"], writer.split(":")[-1]


def test_a_cancelled_switchover_leaves_the_writer(aws, endpoint):
    west, east, p, s, global_ep = _global_db(aws)
    _settings(endpoint, rds_failover_ms=600, rds_next_switch_ends="cancelled")
    west.switchover_global_cluster(GlobalClusterIdentifier="mm-global", TargetDbClusterIdentifier=_arn(EAST, "mm-east"))
    assert _state(west) == ("pending", "switching-over", "mm-west")
    time.sleep(0.3)
    assert _state(west) == ("cancelling", "switching-over", "mm-west")
    time.sleep(0.4)
    assert _state(west) == (None, "available", "mm-west")
    # Used once: the next one moves the writer.
    west.switchover_global_cluster(GlobalClusterIdentifier="mm-global", TargetDbClusterIdentifier=_arn(EAST, "mm-east"))
    time.sleep(0.7)
    assert _state(west) == (None, "available", "mm-east")


def test_a_failover_refused_while_pending_vanishes(aws, endpoint):
    west, east, p, s, global_ep = _global_db(aws)
    _settings(endpoint, rds_failover_ms=600, rds_next_switch_ends="refused")
    east.failover_global_cluster(GlobalClusterIdentifier="mm-global", TargetDbClusterIdentifier=_arn(EAST, "mm-east"),
                                 AllowDataLoss=True)
    assert _state(east)[0] == "pending"
    time.sleep(0.3)
    assert _state(east) == (None, "available", "mm-west")


def test_secondaries_resync_after_a_failover(aws, endpoint, emulator_env):
    west, east, p, s, global_ep = _global_db(aws)
    _settings(endpoint, rds_resync_ms=700)
    east.failover_global_cluster(GlobalClusterIdentifier="mm-global", TargetDbClusterIdentifier=_arn(EAST, "mm-east"),
                                 AllowDataLoss=True)
    members = {m["DBClusterArn"].split(":")[-1]: m for m in
               west.describe_global_clusters(GlobalClusterIdentifier="mm-global")["GlobalClusters"][0][
                   "GlobalClusterMembers"]}
    assert members["mm-west"]["SynchronizationStatus"] == "pending-resync"
    assert "Connection refused" in _refused(lambda: _connect(endpoint, emulator_env, p["ReaderEndpoint"]))
    # No switchover to it while it resyncs.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        east.switchover_global_cluster(GlobalClusterIdentifier="mm-global", TargetDbClusterIdentifier=_arn(WEST, "mm-west"))
    assert e.value.response["Error"]["Code"] == "InvalidDBClusterStateFault"
    assert "pending-resync" in e.value.response["Error"]["Message"]
    time.sleep(0.8)
    members = west.describe_global_clusters(GlobalClusterIdentifier="mm-global")["GlobalClusters"][0][
        "GlobalClusterMembers"]
    assert {m["SynchronizationStatus"] for m in members if not m["IsWriter"]} == {"connected"}
    _connect(endpoint, emulator_env, p["ReaderEndpoint"]).close()


def test_database_name_on_a_secondary_is_refused(aws):
    west, east, p, s, global_ep = _global_db(aws)
    assert _error(lambda: east.create_db_cluster(
        DBClusterIdentifier="x", Engine="aurora-postgresql", EngineVersion="16.4",
        GlobalClusterIdentifier="mm-global", DatabaseName="mattermost")) == "InvalidParameterCombination"


# ----------------------------------------------------- process lifetime ---


def _postgres_alive(pid, data):
    try:
        return data in Path(f"/proc/{pid}/cmdline").read_bytes().decode().replace("\0", " ")
    except OSError:
        return False


def test_no_postgres_left_after_a_sigkill(tmp_path):
    out = subprocess.run([str(SCRIPT), "start", "--dir", str(tmp_path)], capture_output=True, text=True, check=True)
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines())
    ep = env["AWS_ENDPOINT_URL"]
    rds = boto3.client("rds", region_name=WEST, endpoint_url=ep, aws_access_key_id="t", aws_secret_access_key="t")
    c = _cluster(rds, "solo", MasterUsername="mmuser", MasterUserPassword=PASSWORD, DatabaseName="mattermost")
    _connect(ep, env, c["Endpoint"]).close()
    info = _get(ep, "/_emulator/rds/postgres")
    pid, data = info["pid"], (tmp_path / "postgres.pid").read_text().split("\n")[1]
    assert _postgres_alive(pid, data)
    os.kill(int((tmp_path / "pid").read_text()), signal.SIGKILL)
    subprocess.run([str(SCRIPT), "stop", "--dir", str(tmp_path)], check=True, capture_output=True)
    assert not _postgres_alive(pid, data)
    assert not (tmp_path / "pg").exists() and not Path(data).exists()
