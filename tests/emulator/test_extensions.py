"""Self-check of the emulator's extensions, through boto3 and plain HTTP.

    .venv-emulator/bin/python -m pytest -q tests/emulator/test_extensions.py

Starts a private instance with `scripts/emulator start --dir <tmp>` (so it
runs next to any other instance) and resets it before each test.
"""

import base64
import http.client
import json
import time
import urllib.request
from xml.etree import ElementTree

import boto3
import botocore.config
import botocore.exceptions
import pytest

# Each test starts from an empty emulator (conftest.py).
pytestmark = pytest.mark.usefixtures("reset")

ACCOUNT = "123456789012"
WEST, EAST = "us-west-1", "us-east-1"


def test_start_prints_one_endpoint_for_aws_and_the_domains(emulator_env):
    env = emulator_env
    assert env["AWS_ENDPOINT_URL"] == env["STANDBY_OPENSEARCH_ENDPOINT_URL"]
    assert env["AWS_REGION"] == WEST


@pytest.fixture
def aws(endpoint):
    def client(service, region=WEST):
        return boto3.client(service, region_name=region, endpoint_url=endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return client


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


# --------------------------------------------------------------------- S3 ---


def _versioned_bucket(s3, name):
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": WEST})
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def test_get_bucket_replication_returns_rules_as_stored(aws):
    s3 = aws("s3")
    _versioned_bucket(s3, "mm-files-west")
    _versioned_bucket(s3, "mm-files-east")
    config = {
        "Role": f"arn:aws:iam::{ACCOUNT}:role/replication",
        "Rules": [
            {
                "ID": "all-objects",
                "Priority": 1,
                "Filter": {"Prefix": ""},
                "Status": "Enabled",
                "DeleteMarkerReplication": {"Status": "Enabled"},
                "SourceSelectionCriteria": {"ReplicaModifications": {"Status": "Enabled"}},
                "Destination": {"Bucket": "arn:aws:s3:::mm-files-east", "StorageClass": "STANDARD",
                                "Account": ACCOUNT},
            },
            {
                "ID": "tagged",
                "Priority": 2,
                "Filter": {"And": {"Prefix": "data/", "Tags": [{"Key": "a", "Value": "1"},
                                                               {"Key": "b", "Value": "2"}]}},
                "Status": "Disabled",
                "DeleteMarkerReplication": {"Status": "Disabled"},
                "Destination": {"Bucket": "arn:aws:s3:::mm-files-east"},
            },
            {
                "ID": "one-tag",
                "Priority": 3,
                "Filter": {"Tag": {"Key": "k", "Value": "v"}},
                "Status": "Enabled",
                "DeleteMarkerReplication": {"Status": "Disabled"},
                "Destination": {"Bucket": "arn:aws:s3:::mm-files-east"},
            },
        ],
    }
    s3.put_bucket_replication(Bucket="mm-files-west", ReplicationConfiguration=config)
    got = s3.get_bucket_replication(Bucket="mm-files-west")["ReplicationConfiguration"]
    assert got == config

    s3.delete_bucket_replication(Bucket="mm-files-west")
    assert error_of(lambda: s3.get_bucket_replication(Bucket="mm-files-west")) == (
        "ReplicationConfigurationNotFoundError", 404)


def test_put_bucket_replication_refuses_what_aws_refuses(aws):
    s3 = aws("s3")
    _versioned_bucket(s3, "mm-src")
    rule = {"ID": "all", "Priority": 1, "Filter": {"Prefix": ""}, "Status": "Enabled",
            "DeleteMarkerReplication": {"Status": "Enabled"},
            "Destination": {"Bucket": "arn:aws:s3:::mm-dst"}}
    put = lambda r: s3.put_bucket_replication(  # noqa: E731
        Bucket="mm-src", ReplicationConfiguration={"Role": f"arn:aws:iam::{ACCOUNT}:role/r", "Rules": [r]})
    assert error_of(lambda: put(rule)) == ("NoSuchBucket", 404)
    s3.create_bucket(Bucket="mm-dst", CreateBucketConfiguration={"LocationConstraint": WEST})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put(rule)
    assert e.value.response["Error"]["Code"] == "InvalidRequest"
    assert e.value.response["Error"]["Message"] == "Destination bucket must have versioning enabled."
    s3.put_bucket_versioning(Bucket="mm-dst", VersioningConfiguration={"Status": "Enabled"})
    no_marker = {k: v for k, v in rule.items() if k != "DeleteMarkerReplication"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put(no_marker)
    assert "DeleteMarkerReplication must be specified" in e.value.response["Error"]["Message"]
    put(rule)


def test_public_access_block_wire_format(aws):
    s3 = aws("s3")
    s3.create_bucket(Bucket="pab-files", CreateBucketConfiguration={"LocationConstraint": WEST})
    # A new bucket has all four on (AWS's default since April 2023).
    conf = s3.get_public_access_block(Bucket="pab-files")["PublicAccessBlockConfiguration"]
    assert conf == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    # Put replaces the whole configuration: an omitted setting is off.
    s3.put_public_access_block(Bucket="pab-files",
                               PublicAccessBlockConfiguration={"BlockPublicAcls": True, "BlockPublicPolicy": True})
    conf = s3.get_public_access_block(Bucket="pab-files")["PublicAccessBlockConfiguration"]
    assert conf == {"BlockPublicAcls": True, "IgnorePublicAcls": False,
                    "BlockPublicPolicy": True, "RestrictPublicBuckets": False}
    # Delete answers 204, also when there is nothing to delete; then Get is 404 with the code.
    for _ in range(2):
        assert s3.delete_public_access_block(Bucket="pab-files")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(lambda: s3.get_public_access_block(Bucket="pab-files")) == \
        ("NoSuchPublicAccessBlockConfiguration", 404)
    assert error_of(lambda: s3.get_public_access_block(Bucket="no-such-pab")) == ("NoSuchBucket", 404)
    assert error_of(lambda: s3.put_public_access_block(
        Bucket="no-such-pab", PublicAccessBlockConfiguration={"BlockPublicAcls": True}))[0] == "NoSuchBucket"


def test_put_bucket_versioning_rejects_unknown_status(aws):
    s3 = aws("s3")
    s3.create_bucket(Bucket="mm-files-west", CreateBucketConfiguration={"LocationConstraint": WEST})
    assert error_of(lambda: s3.put_bucket_versioning(
        Bucket="mm-files-west", VersioningConfiguration={"Status": "Disabled"})) == ("MalformedXML", 400)
    assert "Status" not in s3.get_bucket_versioning(Bucket="mm-files-west")
    for status in ("Enabled", "Suspended"):
        s3.put_bucket_versioning(Bucket="mm-files-west", VersioningConfiguration={"Status": status})
        assert s3.get_bucket_versioning(Bucket="mm-files-west")["Status"] == status


def test_get_bucket_versioning_root_is_versioning_configuration(aws):
    """The AWS SDKs that check the root element (Rust, Go v2) parse the answer."""
    s3 = aws("s3")
    bodies = []
    s3.meta.events.register("after-call.s3.GetBucketVersioning",
                            lambda http_response, **_: bodies.append(http_response.content.decode()))
    s3.create_bucket(Bucket="mm-files-west", CreateBucketConfiguration={"LocationConstraint": WEST})
    ns = "http://s3.amazonaws.com/doc/2006-03-01/"
    assert "Status" not in s3.get_bucket_versioning(Bucket="mm-files-west")
    root = ElementTree.fromstring(bodies[-1])
    assert root.tag == f"{{{ns}}}VersioningConfiguration"
    assert list(root) == []
    for status in ("Enabled", "Suspended"):
        s3.put_bucket_versioning(Bucket="mm-files-west", VersioningConfiguration={"Status": status})
        assert s3.get_bucket_versioning(Bucket="mm-files-west")["Status"] == status
        root = ElementTree.fromstring(bodies[-1])
        assert root.tag == f"{{{ns}}}VersioningConfiguration"
        assert [(e.tag, e.text) for e in root] == [(f"{{{ns}}}Status", status)]
    assert error_of(lambda: s3.get_bucket_versioning(Bucket="no-such-bucket")) == ("NoSuchBucket", 404)


def test_delete_object_versions_in_suspended_bucket(aws):
    s3 = aws("s3")
    _versioned_bucket(s3, "mm-files-west")
    for body in (b"one", b"two"):
        s3.put_object(Bucket="mm-files-west", Key="a", Body=body)
        s3.put_object(Bucket="mm-files-west", Key="b", Body=body)
    s3.delete_object(Bucket="mm-files-west", Key="a")  # a delete marker on top
    s3.put_bucket_versioning(Bucket="mm-files-west", VersioningConfiguration={"Status": "Suspended"})
    listed = s3.list_object_versions(Bucket="mm-files-west")
    versions = {(v["Key"], v["VersionId"]) for v in listed["Versions"]}
    [marker] = [(m["Key"], m["VersionId"]) for m in listed["DeleteMarkers"]]
    assert len(versions) == 4

    # One version of b: only that one goes.
    key, version = sorted(v for v in versions if v[0] == "b")[0]
    out = s3.delete_object(Bucket="mm-files-west", Key=key, VersionId=version)
    assert out["VersionId"] == version and "DeleteMarker" not in out
    left = s3.list_object_versions(Bucket="mm-files-west")
    assert {(v["Key"], v["VersionId"]) for v in left["Versions"]} == versions - {(key, version)}

    # The delete marker: reported as one.
    out = s3.delete_object(Bucket="mm-files-west", Key=marker[0], VersionId=marker[1])
    assert out["DeleteMarker"] is True

    # The rest in one DeleteObjects call (what emptying a bucket does).
    rest = [{"Key": k, "VersionId": v} for k, v in versions - {(key, version)}]
    out = s3.delete_objects(Bucket="mm-files-west", Delete={"Objects": rest, "Quiet": True})
    assert out.get("Errors", []) == []
    left = s3.list_object_versions(Bucket="mm-files-west")
    assert "Versions" not in left and "DeleteMarkers" not in left
    s3.delete_bucket(Bucket="mm-files-west")


def test_call_log_names_operations(aws, endpoint):
    def calls():
        with urllib.request.urlopen(f"{endpoint}/_emulator/calls") as r:
            return [(c["service"], c["region"], c["operation"], c["status"]) for c in json.load(r)]

    assert calls() == []  # the reset before each test clears it
    s3 = aws("s3")
    s3.create_bucket(Bucket="mm-files-west", CreateBucketConfiguration={"LocationConstraint": WEST})
    s3.head_bucket(Bucket="mm-files-west")
    s3.get_bucket_versioning(Bucket="mm-files-west")
    s3.list_objects_v2(Bucket="mm-files-west")
    s3.put_object(Bucket="mm-files-west", Key="a/b.txt", Body=b"x")
    s3.copy_object(Bucket="mm-files-west", Key="c.txt", CopySource="mm-files-west/a/b.txt")
    error_of(lambda: s3.get_bucket_tagging(Bucket="mm-files-west"))
    aws("iam", EAST).list_roles()
    aws("rds", EAST).describe_db_clusters()
    aws("opensearch").list_domain_names()
    assert calls() == [
        ("s3", WEST, "CreateBucket", 200),
        ("s3", WEST, "HeadBucket", 200),
        ("s3", WEST, "GetBucketVersioning", 200),
        ("s3", WEST, "ListObjectsV2", 200),
        ("s3", WEST, "PutObject", 200),
        ("s3", WEST, "CopyObject", 200),
        ("s3", WEST, "GetBucketTagging", 404),
        ("iam", "us-east-1", "ListRoles", 200),
        ("rds", EAST, "DescribeDBClusters", 200),
        ("opensearch", WEST, "ListDomainNames", 200),
    ]
    req = urllib.request.Request(f"{endpoint}/_emulator/calls", method="DELETE")
    urllib.request.urlopen(req)
    assert calls() == []


def test_call_log_names_what_each_call_acts_on(aws, endpoint):
    """The drill's safety test reads each call's targets: names, never a password."""
    def targets():
        with urllib.request.urlopen(f"{endpoint}/_emulator/calls") as r:
            return [(c["operation"], c.get("targets", {})) for c in json.load(r)]

    s3 = aws("s3")
    s3.create_bucket(Bucket="mm-drill-ab12cd", CreateBucketConfiguration={"LocationConstraint": WEST})
    s3.put_object(Bucket="mm-drill-ab12cd", Key="a/b.txt", Body=b"x")
    rds = aws("rds", EAST)
    rds.create_db_cluster(DBClusterIdentifier="mm-drill-ab12cd", Engine="aurora-postgresql",
                          MasterUsername="admin_user", MasterUserPassword="Secret-Passw0rd")
    aws("secretsmanager", EAST).create_secret(Name="mm-drill-ab12cd-db", SecretString="Secret-Passw0rd")
    _domain(aws, WEST, "mm-leader")
    _domain(aws, EAST, "mm-drill-ab12cd")
    aws("opensearch", EAST).create_outbound_connection(
        LocalDomainInfo={"AWSDomainInformation": {"OwnerId": ACCOUNT, "DomainName": "mm-drill-ab12cd",
                                                  "Region": EAST}},
        RemoteDomainInfo={"AWSDomainInformation": {"OwnerId": ACCOUNT, "DomainName": "mm-leader", "Region": WEST}},
        ConnectionAlias="mm-drill-ab12cd", ConnectionMode="DIRECT")
    got = targets()
    assert got[0] == ("CreateBucket", {"Bucket": "mm-drill-ab12cd"})
    assert got[1] == ("PutObject", {"Bucket": "mm-drill-ab12cd", "Key": "a/b.txt"})
    assert got[2] == ("CreateDBCluster", {"DBClusterIdentifier": "mm-drill-ab12cd"})
    assert got[3] == ("CreateSecret", {"Name": "mm-drill-ab12cd-db"})
    # REST-JSON: the body's names, nested ones by path; never the master user or its password.
    assert got[5] == ("CreateDomain", {"DomainName": "mm-drill-ab12cd"}), got[5]
    assert got[6] == ("CreateOutboundConnection", {
        "LocalDomainInfo.AWSDomainInformation.DomainName": "mm-drill-ab12cd",
        "RemoteDomainInfo.AWSDomainInformation.DomainName": "mm-leader",
        "LocalDomainInfo.AWSDomainInformation.OwnerId": ACCOUNT,
        "RemoteDomainInfo.AWSDomainInformation.OwnerId": ACCOUNT}), got[6]
    assert "Secret-Passw0rd" not in json.dumps(got) and MASTER[1] not in json.dumps(got)


# -------------------------------------------------------------------- IAM ---

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetReplicationConfiguration", "Resource": "*"}]})


def test_iam_rejects_malformed_policy_documents(aws):
    iam = aws("iam")
    assert error_of(lambda: iam.create_role(RoleName="r", AssumeRolePolicyDocument="{not json")) == (
        "MalformedPolicyDocument", 400)
    with_resource = json.loads(TRUST)
    with_resource["Statement"][0]["Resource"] = "*"
    assert error_of(lambda: iam.create_role(
        RoleName="r", AssumeRolePolicyDocument=json.dumps(with_resource)))[0] == "MalformedPolicyDocument"
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST)
    # Already right in moto; kept here so a moto upgrade can't regress them.
    assert error_of(lambda: iam.update_assume_role_policy(RoleName="r", PolicyDocument="{"))[0] == \
        "MalformedPolicyDocument"
    assert error_of(lambda: iam.put_role_policy(RoleName="r", PolicyName="p", PolicyDocument="{"))[0] == \
        "MalformedPolicyDocument"
    assert error_of(lambda: iam.create_policy(PolicyName="p", PolicyDocument="{"))[0] == \
        "MalformedPolicyDocument"
    arn = iam.create_policy(PolicyName="p", PolicyDocument=POLICY)["Policy"]["Arn"]
    assert error_of(lambda: iam.create_policy_version(PolicyArn=arn, PolicyDocument="{"))[0] == \
        "MalformedPolicyDocument"
    # AWS-managed policies exist, as in AWS.
    iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")


# -------------------------------------------------------------------- RDS ---


def _cluster_arn(region, name):
    return f"arn:aws:rds:{region}:{ACCOUNT}:cluster:{name}"


def _global_db(aws, **secondary):
    """Two clusters with an instance each (AWS switches over only to a cluster that has one)."""
    west, east = aws("rds", WEST), aws("rds", EAST)
    west.create_db_cluster(DBClusterIdentifier="mm-west", Engine="aurora-postgresql",
                           EngineVersion="15.4", MasterUsername="mm", MasterUserPassword="Db-Passw0rd!",
                           StorageEncrypted=bool(secondary.pop("encrypted", False)))
    west.create_global_cluster(GlobalClusterIdentifier="mm-global",
                               SourceDBClusterIdentifier=_cluster_arn(WEST, "mm-west"))
    east.create_db_cluster(DBClusterIdentifier="mm-east", Engine="aurora-postgresql", EngineVersion="15.4",
                           GlobalClusterIdentifier="mm-global", EnableGlobalWriteForwarding=True, **secondary)
    for rds, name in ((west, "mm-west"), (east, "mm-east")):
        rds.create_db_instance(DBInstanceIdentifier=f"{name}-0", DBClusterIdentifier=name,
                               Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    return west, east


def _settings(endpoint, **values):
    req = urllib.request.Request(f"{endpoint}/_emulator/settings", method="POST", data=json.dumps(values).encode())
    return json.loads(urllib.request.urlopen(req).read())


def test_global_members_refuse_managed_passwords(aws):
    west, east = aws("rds", WEST), aws("rds", EAST)
    west.create_db_cluster(DBClusterIdentifier="mm-west", Engine="aurora-postgresql", EngineVersion="15.4",
                           MasterUsername="mm", ManageMasterUserPassword=True)
    code, status = error_of(lambda: west.create_global_cluster(
        GlobalClusterIdentifier="mm-global", SourceDBClusterIdentifier=_cluster_arn(WEST, "mm-west")))
    assert (code, status) == ("InvalidParameterCombination", 400)
    west.create_global_cluster(GlobalClusterIdentifier="mm-global", Engine="aurora-postgresql",
                               EngineVersion="15.4")
    assert error_of(lambda: east.create_db_cluster(
        DBClusterIdentifier="mm-east", Engine="aurora-postgresql", EngineVersion="15.4", MasterUsername="mm",
        ManageMasterUserPassword=True, GlobalClusterIdentifier="mm-global"))[0] == "InvalidParameterCombination"


def test_encrypted_source_needs_a_kms_key_in_the_secondary_region(aws):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        _global_db(aws, encrypted=True)
    assert e.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert "kmsKeyId should be explicitly specified" in e.value.response["Error"]["Message"]
    east = aws("rds", EAST)
    east.create_db_cluster(DBClusterIdentifier="mm-east", Engine="aurora-postgresql", EngineVersion="15.4",
                           GlobalClusterIdentifier="mm-global", KmsKeyId="arn:aws:kms:us-east-1:123:key/k")
    assert east.describe_db_clusters(DBClusterIdentifier="mm-east")["DBClusters"][0]["StorageEncrypted"] is True


def test_delete_db_cluster_refuses_any_global_member(aws):
    west, east = _global_db(aws)
    assert error_of(lambda: west.delete_db_cluster(DBClusterIdentifier="mm-west", SkipFinalSnapshot=True))[0] == \
        "InvalidGlobalClusterStateFault"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        east.delete_db_cluster(DBClusterIdentifier="mm-east", SkipFinalSnapshot=True)
    assert e.value.response["Error"]["Code"] == "InvalidDBClusterStateFault"
    assert "please remove it from globalcluster first" in e.value.response["Error"]["Message"]
    east.remove_from_global_cluster(GlobalClusterIdentifier="mm-global",
                                    DbClusterIdentifier=_cluster_arn(EAST, "mm-east"))
    east.delete_db_instance(DBInstanceIdentifier="mm-east-0", SkipFinalSnapshot=True)
    east.delete_db_cluster(DBClusterIdentifier="mm-east", SkipFinalSnapshot=True)
    assert error_of(lambda: west.delete_db_cluster(DBClusterIdentifier="mm-west", SkipFinalSnapshot=True))[0] == \
        "InvalidDBClusterStateFault"


def test_lag_knobs(aws, endpoint):
    _settings(endpoint, rds_write_forwarding_ms=800, opensearch_processing_ms=800)
    try:
        _west, east = _global_db(aws)
        assert east.describe_db_clusters(DBClusterIdentifier="mm-east")["DBClusters"][0][
            "GlobalWriteForwardingStatus"] == "enabling"
        _domain(aws, WEST, "mm-lag")
        assert aws("opensearch").describe_domain(DomainName="mm-lag")["DomainStatus"]["Processing"] is True
        import time
        time.sleep(1)
        assert east.describe_db_clusters(DBClusterIdentifier="mm-east")["DBClusters"][0][
            "GlobalWriteForwardingStatus"] == "enabled"
        assert aws("opensearch").describe_domain(DomainName="mm-lag")["DomainStatus"]["Processing"] is False
    finally:
        _settings(endpoint, rds_write_forwarding_ms=0, opensearch_processing_ms=0)


def _members(rds):
    gc = rds.describe_global_clusters(GlobalClusterIdentifier="mm-global")["GlobalClusters"][0]
    return gc, {m["DBClusterArn"].split(":")[-1]: m for m in gc["GlobalClusterMembers"]}


def test_describe_db_engine_versions(aws):
    rds = aws("rds")
    versions = [v["EngineVersion"] for v in
                rds.describe_db_engine_versions(Engine="aurora-postgresql")["DBEngineVersions"]]
    assert {"14.6", "14.9", "15.3", "15.4", "16.1", "16.4"} <= set(versions)
    one = rds.describe_db_engine_versions(Engine="aurora-postgresql", EngineVersion="15.4")["DBEngineVersions"]
    assert [(v["EngineVersion"], v["DBParameterGroupFamily"], v["SupportsGlobalDatabases"]) for v in one] == [
        ("15.4", "aurora-postgresql15", True)]
    assert rds.describe_db_engine_versions(Engine="aurora-postgresql", EngineVersion="9.6")[
        "DBEngineVersions"] == []
    assert len(rds.describe_db_engine_versions(Engine="aurora-postgresql", DefaultOnly=True)[
        "DBEngineVersions"]) == 1


def test_global_cluster_create_duplicate_and_write_forwarding(aws):
    west, east = _global_db(aws)
    assert error_of(lambda: west.create_global_cluster(
        GlobalClusterIdentifier="mm-global", Engine="aurora-postgresql")) == (
        "GlobalClusterAlreadyExistsFault", 400)
    assert error_of(lambda: west.describe_global_clusters(GlobalClusterIdentifier="nope")) == (
        "GlobalClusterNotFoundFault", 404)
    gc, members = _members(west)
    assert members["mm-west"]["IsWriter"] and "GlobalWriteForwardingStatus" not in members["mm-west"]
    assert members["mm-west"]["Readers"] == [_cluster_arn(EAST, "mm-east")]
    assert not members["mm-east"]["IsWriter"]
    assert members["mm-east"]["GlobalWriteForwardingStatus"] == "enabled"
    assert "FailoverState" not in gc
    primary = west.describe_db_clusters(DBClusterIdentifier="mm-west")["DBClusters"][0]
    assert primary["GlobalClusterIdentifier"] == "mm-global"
    assert "GlobalWriteForwardingStatus" not in primary
    secondary = east.describe_db_clusters(DBClusterIdentifier="mm-east")["DBClusters"][0]
    assert secondary["GlobalWriteForwardingStatus"] == "enabled"
    assert secondary["GlobalWriteForwardingRequested"] is True

    east.modify_db_cluster(DBClusterIdentifier="mm-east", EnableGlobalWriteForwarding=False)
    secondary = east.describe_db_clusters(DBClusterIdentifier="mm-east")["DBClusters"][0]
    assert secondary["GlobalWriteForwardingStatus"] == "disabled"
    assert secondary["GlobalWriteForwardingRequested"] is False
    assert _members(east)[1]["mm-east"]["GlobalWriteForwardingStatus"] == "disabled"
    east.modify_db_cluster(DBClusterIdentifier="mm-east", EnableGlobalWriteForwarding=True)
    assert _members(east)[1]["mm-east"]["GlobalWriteForwardingStatus"] == "enabled"

    assert error_of(lambda: east.create_db_cluster(
        DBClusterIdentifier="x", Engine="aurora-postgresql", GlobalClusterIdentifier="nope")) == (
        "GlobalClusterNotFoundFault", 404)


def test_switchover_and_failover(aws):
    west, east = _global_db(aws)
    answer = west.switchover_global_cluster(GlobalClusterIdentifier="mm-global",
                                            TargetDbClusterIdentifier=_cluster_arn(EAST, "mm-east"))
    gc = answer["GlobalCluster"]
    assert gc["FailoverState"] == {"Status": "pending", "FromDbClusterArn": _cluster_arn(WEST, "mm-west"),
                                   "ToDbClusterArn": _cluster_arn(EAST, "mm-east"), "IsDataLossAllowed": False}
    gc, members = _members(west)
    assert "FailoverState" not in gc and gc["Status"] == "available"
    assert members["mm-east"]["IsWriter"] and not members["mm-west"]["IsWriter"]
    assert members["mm-west"]["GlobalWriteForwardingStatus"] == "disabled"

    assert error_of(lambda: west.switchover_global_cluster(
        GlobalClusterIdentifier="mm-global", TargetDbClusterIdentifier=_cluster_arn(EAST, "mm-east")))[0] == \
        "InvalidDBClusterStateFault"
    assert error_of(lambda: west.failover_global_cluster(
        GlobalClusterIdentifier="mm-global", TargetDbClusterIdentifier=_cluster_arn(WEST, "mm-west"),
        AllowDataLoss=True, Switchover=True))[0] == "InvalidParameterCombination"
    assert error_of(lambda: west.failover_global_cluster(
        GlobalClusterIdentifier="nope", TargetDbClusterIdentifier=_cluster_arn(WEST, "mm-west"),
        AllowDataLoss=True)) == ("GlobalClusterNotFoundFault", 404)

    answer = west.failover_global_cluster(GlobalClusterIdentifier="mm-global",
                                          TargetDbClusterIdentifier=_cluster_arn(WEST, "mm-west"),
                                          AllowDataLoss=True)
    assert answer["GlobalCluster"]["FailoverState"]["IsDataLossAllowed"] is True
    members = _members(west)[1]
    assert members["mm-west"]["IsWriter"] and not members["mm-east"]["IsWriter"]


def test_cluster_log_exports_and_copy_tags(aws):
    rds = aws("rds")
    rds.create_db_cluster(DBClusterIdentifier="mm-logs", Engine="aurora-postgresql", EngineVersion="16.4",
                          MasterUsername="mm", MasterUserPassword="secret-pass-1",
                          EnableCloudwatchLogsExports=["postgresql"], CopyTagsToSnapshot=True)
    c = rds.describe_db_clusters(DBClusterIdentifier="mm-logs")["DBClusters"][0]
    assert c["EnabledCloudwatchLogsExports"] == ["postgresql"] and c["CopyTagsToSnapshot"] is True
    rds.modify_db_cluster(DBClusterIdentifier="mm-logs", ApplyImmediately=True,
                          CloudwatchLogsExportConfiguration={"EnableLogTypes": ["instance"],
                                                             "DisableLogTypes": ["postgresql"]},
                          CopyTagsToSnapshot=False)
    c = rds.describe_db_clusters(DBClusterIdentifier="mm-logs")["DBClusters"][0]
    assert c["EnabledCloudwatchLogsExports"] == ["instance"] and c["CopyTagsToSnapshot"] is False
    # MySQL's audit log is not one Aurora PostgreSQL publishes.
    assert error_of(lambda: rds.modify_db_cluster(
        DBClusterIdentifier="mm-logs", CloudwatchLogsExportConfiguration={"EnableLogTypes": ["audit"]})) == \
        ("InvalidParameterCombination", 400)
    assert error_of(lambda: rds.create_db_cluster(
        DBClusterIdentifier="mm-logs-2", Engine="aurora-postgresql", EngineVersion="16.4", MasterUsername="mm",
        MasterUserPassword="secret-pass-1", EnableCloudwatchLogsExports=["slowquery"]))[0] == \
        "InvalidParameterCombination"


def test_create_db_cluster_refuses_a_taken_identifier(aws):
    west, east = _global_db(aws)
    again = lambda: east.create_db_cluster(DBClusterIdentifier="mm-east", Engine="aurora-postgresql",
                                           EngineVersion="15.4", GlobalClusterIdentifier="mm-global")
    assert error_of(again) == ("DBClusterAlreadyExistsFault", 400)
    # The refused repeat added no second member.
    gc, members = _members(west)
    assert [m["DBClusterArn"] for m in gc["GlobalClusterMembers"]] == \
        [_cluster_arn(WEST, "mm-west"), _cluster_arn(EAST, "mm-east")]


def test_switchover_takes_time_and_shows_failover_state(aws, endpoint):
    west, east = _global_db(aws)
    _settings(endpoint, rds_failover_ms=900)
    try:
        west.switchover_global_cluster(GlobalClusterIdentifier="mm-global",
                                       TargetDbClusterIdentifier=_cluster_arn(EAST, "mm-east"))
        gc, members = _members(east)
        assert gc["Status"] == "switching-over"
        assert gc["FailoverState"]["Status"] in ("pending", "switching-over")
        assert gc["FailoverState"]["ToDbClusterArn"] == _cluster_arn(EAST, "mm-east")
        assert members["mm-west"]["IsWriter"] and not members["mm-east"]["IsWriter"]
        # A second request while one runs is refused.
        assert error_of(lambda: west.switchover_global_cluster(
            GlobalClusterIdentifier="mm-global", TargetDbClusterIdentifier=_cluster_arn(EAST, "mm-east")))[0] == \
            "InvalidGlobalClusterStateFault"
        time.sleep(0.5)
        assert _members(east)[0]["FailoverState"]["Status"] == "switching-over"
        time.sleep(0.6)
        gc, members = _members(east)
        assert "FailoverState" not in gc and gc["Status"] == "available"
        assert members["mm-east"]["IsWriter"] and not members["mm-west"]["IsWriter"]
    finally:
        _settings(endpoint, rds_failover_ms=0)


def test_region_down_and_back_with_a_data_loss_failover(aws, endpoint):
    west, east = _global_db(aws)
    _post = lambda body: urllib.request.urlopen(urllib.request.Request(  # noqa: E731
        f"{endpoint}/_emulator/regions", method="POST", data=json.dumps(body).encode())).read()
    _post({"region": WEST, "down": True})
    try:
        # Unreachable: the connection closes without an answer (no AWS error).
        down = boto3.client("rds", region_name=WEST, endpoint_url=endpoint, aws_access_key_id="testing",
                            aws_secret_access_key="testing",
                            config=botocore.config.Config(retries={"max_attempts": 1}))
        with pytest.raises(botocore.exceptions.ConnectionClosedError):
            down.describe_db_clusters()
        answer = east.failover_global_cluster(GlobalClusterIdentifier="mm-global",
                                              TargetDbClusterIdentifier=_cluster_arn(EAST, "mm-east"),
                                              AllowDataLoss=True)
        assert answer["GlobalCluster"]["FailoverState"]["IsDataLossAllowed"] is True
        gc, members = _members(east)
        assert list(members) == ["mm-east"] and members["mm-east"]["IsWriter"]
    finally:
        _post({"region": WEST, "down": False})
    # Back: the old writer rejoins as a secondary.
    members = _members(east)[1]
    assert members["mm-east"]["IsWriter"] and members["mm-west"]["IsWriter"] is False
    calls = json.loads(urllib.request.urlopen(f"{endpoint}/_emulator/calls").read())
    refused = [c for c in calls if c["region"] == WEST and c["operation"] == "DescribeDBClusters"]
    assert refused and refused[0]["status"] == 0


def test_remove_from_global_cluster_in_any_region(aws):
    west, east = _global_db(aws)
    # After a switchover the secondary (mm-west) lives outside us-east-1.
    west.switchover_global_cluster(GlobalClusterIdentifier="mm-global",
                                   TargetDbClusterIdentifier=_cluster_arn(EAST, "mm-east"))
    assert error_of(lambda: east.remove_from_global_cluster(
        GlobalClusterIdentifier="mm-global", DbClusterIdentifier=_cluster_arn(EAST, "mm-east")))[0] == \
        "InvalidGlobalClusterStateFault"
    west.remove_from_global_cluster(GlobalClusterIdentifier="mm-global",
                                    DbClusterIdentifier=_cluster_arn(WEST, "mm-west"))
    assert list(_members(west)[1]) == ["mm-east"]
    standalone = west.describe_db_clusters(DBClusterIdentifier="mm-west")["DBClusters"][0]
    assert "GlobalClusterIdentifier" not in standalone
    east.remove_from_global_cluster(GlobalClusterIdentifier="mm-global",
                                    DbClusterIdentifier=_cluster_arn(EAST, "mm-east"))
    west.delete_global_cluster(GlobalClusterIdentifier="mm-global")
    assert west.describe_global_clusters()["GlobalClusters"] == []
    assert error_of(lambda: west.delete_global_cluster(GlobalClusterIdentifier="mm-global")) == (
        "GlobalClusterNotFoundFault", 404)


def test_modify_global_cluster_deletion_protection(aws):
    west, _ = _global_db(aws)
    gc = west.modify_global_cluster(GlobalClusterIdentifier="mm-global", DeletionProtection=True)["GlobalCluster"]
    assert gc["DeletionProtection"] is True
    assert _members(west)[0]["DeletionProtection"] is True
    west.modify_global_cluster(GlobalClusterIdentifier="mm-global", DeletionProtection=False)
    assert _members(west)[0]["DeletionProtection"] is False
    assert error_of(lambda: west.modify_global_cluster(GlobalClusterIdentifier="nope", DeletionProtection=True)) == (
        "GlobalClusterNotFoundFault", 404)
    assert error_of(lambda: west.modify_global_cluster(GlobalClusterIdentifier="mm-global", EngineVersion="16.4"))[
        0] == "InvalidParameterValue"


# ------------------------------------------------------ OpenSearch control ---

MASTER = ("admin", "S3cret-Passw0rd!")


def open_policy(region, name):
    """AWS's recommended policy with fine-grained access control (fgac.md): anonymous ESHttp*."""
    arn = f"arn:aws:es:{region}:{ACCOUNT}:domain/{name}"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "es:ESHttp*", "Resource": f"{arn}/*"},
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "es:ESCrossClusterGet", "Resource": arn}]})


def _domain(aws, region, name, version="OpenSearch_2.11", policy=True):
    return aws("opensearch", region).create_domain(
        DomainName=name,
        EngineVersion=version,
        **({"AccessPolicies": open_policy(region, name)} if policy else {}),
        AdvancedSecurityOptions={"Enabled": True, "InternalUserDatabaseEnabled": True,
                                 "MasterUserOptions": {"MasterUserName": MASTER[0],
                                                       "MasterUserPassword": MASTER[1]}},
        NodeToNodeEncryptionOptions={"Enabled": True},
        EncryptionAtRestOptions={"Enabled": True},
        DomainEndpointOptions={"EnforceHTTPS": True},
    )["DomainStatus"]


def test_domain_endpoint_secrets_and_duplicates(aws):
    status = _domain(aws, WEST, "mm-search")
    endpoint = status["Endpoint"]
    assert endpoint.startswith("search-mm-search-") and endpoint.endswith(".us-west-1.es.amazonaws.com")
    assert len(endpoint.split(".")[0]) == len("search-mm-search-") + 26
    described = aws("opensearch").describe_domain(DomainName="mm-search")["DomainStatus"]
    assert described["Endpoint"] == endpoint
    assert MASTER[1] not in json.dumps(described, default=str)
    assert "MasterUserOptions" not in described["AdvancedSecurityOptions"]
    assert error_of(lambda: _domain(aws, WEST, "mm-search")) == ("ResourceAlreadyExistsException", 409)
    # A VPC domain takes a subnet that exists in its region (AWS refuses others).
    subnet = aws("ec2").describe_subnets()["Subnets"][0]["SubnetId"]
    vpc = aws("opensearch").create_domain(DomainName="mm-vpc", VPCOptions={"SubnetIds": [subnet]})
    assert "Endpoint" not in vpc["DomainStatus"]
    assert vpc["DomainStatus"]["Endpoints"]["vpc"].startswith("vpc-mm-vpc-")


def _log_policy(group_arn, domain_arn, account=ACCOUNT):
    """AWS's recommended resource policy for OpenSearch's logs, scoped to the account and domain."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "es.amazonaws.com"},
        "Action": ["logs:PutLogEvents", "logs:CreateLogStream"], "Resource": f"{group_arn}:*",
        "Condition": {"StringEquals": {"aws:SourceAccount": account},
                      "ArnLike": {"aws:SourceArn": domain_arn}}}]})


def test_log_publishing_needs_the_group_and_a_resource_policy(aws):
    """LogPublishingOptions are refused (400 ValidationException) unless the group exists and
    es.amazonaws.com may write to it; an update changes only the log types it names."""
    logs, os_ = aws("logs"), aws("opensearch")
    name = "mm-logs"
    domain_arn = f"arn:aws:es:{WEST}:{ACCOUNT}:domain/{name}"
    group = f"/aws/opensearch/{name}"
    group_arn = f"arn:aws:logs:{WEST}:{ACCOUNT}:log-group:{group}"
    _domain(aws, WEST, name)

    def publish(**types):
        return lambda: os_.update_domain_config(DomainName=name, LogPublishingOptions={
            t: {"CloudWatchLogsLogGroupArn": group_arn, "Enabled": on} for t, on in types.items()})

    def refusal(call):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        err = e.value.response["Error"]
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert err["Code"] == "ValidationException"
        return err["Message"]

    assert "does not exist" in refusal(publish(AUDIT_LOGS=True))
    logs.create_log_group(logGroupName=group)
    assert "does not grant sufficient permissions" in refusal(publish(AUDIT_LOGS=True))
    # A policy for another account's domain or another service does not count.
    logs.put_resource_policy(policyName="other", policyDocument=_log_policy(group_arn, domain_arn, "999999999999"))
    assert "create a log stream" in refusal(publish(AUDIT_LOGS=True))
    wrong_domain = f"arn:aws:es:{WEST}:{ACCOUNT}:domain/someone-else"
    logs.put_resource_policy(policyName="other", policyDocument=_log_policy(group_arn, wrong_domain))
    assert "Resource Access Policy" in refusal(publish(AUDIT_LOGS=True))
    # Creating a domain is checked the same way.
    assert "Resource Access Policy" in refusal(lambda: os_.create_domain(
        DomainName="mm-logs-2", LogPublishingOptions={
            "AUDIT_LOGS": {"CloudWatchLogsLogGroupArn": group_arn, "Enabled": True}}))
    logs.put_resource_policy(policyName="opensearch", policyDocument=_log_policy(group_arn, domain_arn))
    publish(AUDIT_LOGS=True, INDEX_SLOW_LOGS=True)()
    publish(INDEX_SLOW_LOGS=False, SEARCH_SLOW_LOGS=True)()
    got = os_.describe_domain(DomainName=name)["DomainStatus"]["LogPublishingOptions"]
    assert {t: o["Enabled"] for t, o in got.items()} == {
        "AUDIT_LOGS": True, "INDEX_SLOW_LOGS": False, "SEARCH_SLOW_LOGS": True}
    assert got["AUDIT_LOGS"]["CloudWatchLogsLogGroupArn"] == group_arn
    # Turning a type off needs no permission.
    logs.delete_resource_policy(policyName="opensearch")
    publish(AUDIT_LOGS=False)()

def _connection(aws):
    _domain(aws, WEST, "mm-leader")
    _domain(aws, EAST, "mm-follower")
    east = aws("opensearch", EAST)
    created = east.create_outbound_connection(
        LocalDomainInfo={"AWSDomainInformation": {"OwnerId": ACCOUNT, "DomainName": "mm-follower",
                                                  "Region": EAST}},
        RemoteDomainInfo={"AWSDomainInformation": {"OwnerId": ACCOUNT, "DomainName": "mm-leader",
                                                   "Region": WEST}},
        ConnectionAlias="to-west", ConnectionMode="DIRECT")
    return east, aws("opensearch", WEST), created


def test_cross_cluster_connection_lifecycle(aws):
    east, west, created = _connection(aws)
    cid = created["ConnectionId"]
    assert created["ConnectionStatus"]["StatusCode"] == "PENDING_ACCEPTANCE"
    assert created["ConnectionAlias"] == "to-west" and created["ConnectionMode"] == "DIRECT"

    inbound = west.describe_inbound_connections(
        Filters=[{"Name": "connection-id", "Values": [cid]}])["Connections"]
    assert [c["ConnectionStatus"]["StatusCode"] for c in inbound] == ["PENDING_ACCEPTANCE"]
    assert inbound[0]["LocalDomainInfo"]["AWSDomainInformation"]["DomainName"] == "mm-follower"
    assert east.describe_inbound_connections()["Connections"] == []
    # Accepting happens in the leader's Region only.
    assert error_of(lambda: east.accept_inbound_connection(ConnectionId=cid)) == (
        "ResourceNotFoundException", 409)
    assert error_of(lambda: west.accept_inbound_connection(ConnectionId="cc-unknown-id")) == (
        "ResourceNotFoundException", 409)
    accepted = west.accept_inbound_connection(ConnectionId=cid)["Connection"]
    assert accepted["ConnectionStatus"]["StatusCode"] == "APPROVED"
    out = east.describe_outbound_connections(
        Filters=[{"Name": "remote-domain-info.domain-name", "Values": ["mm-leader"]}])["Connections"]
    assert [(c["ConnectionId"], c["ConnectionStatus"]["StatusCode"]) for c in out] == [(cid, "ACTIVE")]
    assert east.describe_outbound_connections(
        Filters=[{"Name": "connection-id", "Values": ["other"]}])["Connections"] == []

    deleted = east.delete_outbound_connection(ConnectionId=cid)["Connection"]
    assert deleted["ConnectionStatus"]["StatusCode"] == "DELETING"
    out = east.describe_outbound_connections(Filters=[{"Name": "connection-id", "Values": [cid]}])
    assert out["Connections"][0]["ConnectionStatus"]["StatusCode"] == "DELETED"
    assert error_of(lambda: east.delete_outbound_connection(ConnectionId=cid))[0] == "ResourceNotFoundException"


def test_cross_cluster_connection_validation(aws):
    east, west, created = _connection(aws)
    assert error_of(lambda: east.create_outbound_connection(
        LocalDomainInfo={"AWSDomainInformation": {"OwnerId": ACCOUNT, "DomainName": "mm-follower",
                                                  "Region": EAST}},
        RemoteDomainInfo={"AWSDomainInformation": {"OwnerId": ACCOUNT, "DomainName": "mm-leader",
                                                   "Region": WEST}},
        ConnectionAlias="to-west")) == ("ResourceAlreadyExistsException", 409)
    assert error_of(lambda: east.create_outbound_connection(
        LocalDomainInfo={"AWSDomainInformation": {"OwnerId": ACCOUNT, "DomainName": "nope", "Region": EAST}},
        RemoteDomainInfo={"AWSDomainInformation": {"OwnerId": ACCOUNT, "DomainName": "mm-leader",
                                                   "Region": WEST}},
        ConnectionAlias="x1")) == ("ResourceNotFoundException", 409)
    failed = east.create_outbound_connection(
        LocalDomainInfo={"AWSDomainInformation": {"OwnerId": ACCOUNT, "DomainName": "mm-follower",
                                                  "Region": EAST}},
        RemoteDomainInfo={"AWSDomainInformation": {"OwnerId": ACCOUNT, "DomainName": "nope", "Region": WEST}},
        ConnectionAlias="to-nowhere")
    assert failed["ConnectionStatus"]["StatusCode"] == "VALIDATION_FAILED"
    assert "nope" in failed["ConnectionStatus"]["Message"]
    rejected = west.reject_inbound_connection(ConnectionId=created["ConnectionId"])["Connection"]
    assert rejected["ConnectionStatus"]["StatusCode"] == "REJECTING"
    assert west.describe_inbound_connections()["Connections"][0]["ConnectionStatus"]["StatusCode"] == "REJECTED"


# ---------------------------------------------------------- OpenSearch REST ---


class Domain:
    """Talks to a fake domain through the emulator's address, with the domain's Host header."""

    def __init__(self, endpoint_url, host, auth=MASTER):
        self.port = int(endpoint_url.rsplit(":", 1)[1])
        self.host = host
        self.auth = auth

    def __call__(self, method, path, body=None, auth=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Host": self.host, "Content-Type": "application/json"}
        creds = auth if auth is not None else self.auth
        if creds:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(creds).encode()).decode()
        data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, raw.decode()


def _replication_setup(aws, endpoint):
    east, west, created = _connection(aws)
    west.accept_inbound_connection(ConnectionId=created["ConnectionId"])
    leader = Domain(endpoint, aws("opensearch", WEST).describe_domain(DomainName="mm-leader")[
        "DomainStatus"]["Endpoint"])
    follower = Domain(endpoint, east.describe_domain(DomainName="mm-follower")["DomainStatus"]["Endpoint"])
    return leader, follower, created["ConnectionId"]


START = {"leader_alias": "to-west", "leader_index": "channels",
         "use_roles": {"leader_cluster_role": "all_access", "follower_cluster_role": "all_access"}}


def test_rest_auth_and_index_housekeeping(aws, endpoint):
    leader, _follower, _ = _replication_setup(aws, endpoint)
    status, body = leader("GET", "/_cat/indices?format=json", auth=())
    assert status == 401 and body == "Unauthorized"
    assert leader("GET", "/", auth=("admin", "wrong"))[0] == 401
    assert leader("GET", "/")[1]["version"]["distribution"] == "opensearch"
    aws("opensearch").update_domain_config(DomainName="mm-leader", AdvancedSecurityOptions={
        "MasterUserOptions": {"MasterUserName": "root", "MasterUserPassword": "N3w-Passw0rd!"}})
    assert leader("GET", "/")[0] == 401
    assert leader("GET", "/", auth=("root", "N3w-Passw0rd!"))[0] == 200
    config = aws("opensearch").describe_domain(DomainName="mm-leader")["DomainStatus"]
    assert config["AdvancedSecurityOptions"]["Enabled"] is True and "N3w" not in json.dumps(config, default=str)
    leader.auth = ("root", "N3w-Passw0rd!")

    assert leader("PUT", "/channels") == (200, {"acknowledged": True, "shards_acknowledged": True,
                                               "index": "channels"})
    status, body = leader("PUT", "/channels")
    assert status == 400 and body["error"]["type"] == "resource_already_exists_exception"
    assert body["error"]["root_cause"][0]["type"] == "resource_already_exists_exception"
    assert body["status"] == 400
    assert leader("POST", "/channels/_doc", {"name": "town-square"})[0] == 201
    assert leader("POST", "/_bulk", '{"index":{"_index":"users"}}\n{"u":1}\n{"index":{"_index":"users"}}\n'
                                    '{"u":2}\n')[1]["errors"] is False
    assert leader("POST", "/_refresh")[0] == 200
    rows = leader("GET", "/_cat/indices?format=json")[1]
    assert {r["index"]: r["docs.count"] for r in rows} == {"channels": "1", "users": "2"}
    assert {"health", "status", "index", "uuid", "docs.count"} <= set(rows[0])
    assert leader("DELETE", "/users") == (200, {"acknowledged": True})
    status, body = leader("DELETE", "/users")
    assert status == 404 and body["error"]["type"] == "index_not_found_exception"
    assert leader("GET", "/_cat/indices?format=json&h=index")[1] == [{"index": "channels"}]


def test_rest_start_status_stop(aws, endpoint):
    leader, follower, _ = _replication_setup(aws, endpoint)
    leader("PUT", "/channels")
    leader("POST", "/channels/_doc", {"n": 1})

    status, body = follower("PUT", "/_plugins/_replication/channels/_start", {**START, "leader_alias": "nope"})
    assert status == 404 and body["error"]["type"] == "no_such_remote_cluster_exception"
    status, body = follower("PUT", "/_plugins/_replication/channels/_start", {**START, "leader_index": "x"})
    assert status == 404 and body["error"]["type"] == "index_not_found_exception"
    status, body = follower("PUT", "/_plugins/_replication/channels/_start", {"leader_alias": "to-west"})
    assert status == 400 and body["error"]["type"] == "action_request_validation_exception"

    assert follower("PUT", "/_plugins/_replication/channels/_start", START) == (200, {"acknowledged": True})
    status, body = follower("PUT", "/_plugins/_replication/channels/_start", START)
    assert (status, body["error"]["type"], body["error"]["reason"]) == (
        400, "illegal_argument_exception",
        "Cant use same index again for replication. Delete the index:channels")

    assert follower("GET", "/_plugins/_replication/channels/_status")[1]["status"] == "BOOTSTRAPPING"
    status, body = follower("GET", "/_plugins/_replication/channels/_status")
    assert body["status"] == "SYNCING" and body["leader_alias"] == "to-west"
    assert body["leader_index"] == "channels" and body["follower_index"] == "channels"
    assert set(body["syncing_details"]) == {"leader_checkpoint", "follower_checkpoint", "seq_no"}

    leader("POST", "/channels/_doc", {"n": 2})
    assert follower("GET", "/channels/_count")[1]["count"] == 2
    status, body = follower("POST", "/channels/_doc", {"n": 3})
    assert status == 403 and body["error"]["type"] == "cluster_block_exception"
    assert follower("DELETE", "/channels")[0] == 403
    # A document deleted on the leader goes on the follower too; the
    # follower refuses deletes itself; a missing one is 404 not_found.
    leader("PUT", "/channels/_doc/gone", {"n": 0})
    assert follower("GET", "/channels/_doc/gone")[0] == 200
    assert follower("DELETE", "/channels/_doc/gone")[1]["error"]["type"] == "cluster_block_exception"
    status, body = leader("DELETE", "/channels/_doc/gone")
    assert (status, body["result"]) == (200, "deleted")
    assert follower("GET", "/channels/_doc/gone")[0] == 404
    status, body = leader("DELETE", "/channels/_doc/gone")
    assert (status, body["result"]) == (404, "not_found")

    status, body = follower("POST", "/_plugins/_replication/channels/_resume", {})
    assert (status, body["error"]["type"]) == (400, "resource_already_exists_exception")
    assert follower("POST", "/_plugins/_replication/channels/_pause", {}) == (200, {"acknowledged": True})
    assert follower("GET", "/_plugins/_replication/channels/_status")[1]["status"] == "PAUSED"
    status, body = follower("POST", "/_plugins/_replication/channels/_pause", {})
    assert (status, body["error"]["reason"]) == (400, "Index channels is already paused")
    leader("POST", "/channels/_doc", {"n": 4})
    assert follower("GET", "/channels/_count")[1]["count"] == 2  # paused: not following
    assert follower("POST", "/_plugins/_replication/channels/_resume", {}) == (200, {"acknowledged": True})
    assert follower("GET", "/channels/_count")[1]["count"] == 3

    assert follower("POST", "/_plugins/_replication/channels/_stop", {}) == (200, {"acknowledged": True})
    assert follower("GET", "/_plugins/_replication/channels/_status") == (
        200, {"status": "REPLICATION NOT IN PROGRESS"})
    assert follower("POST", "/channels/_doc", {"n": 5})[0] == 201  # writable again
    status, body = follower("POST", "/_plugins/_replication/channels/_stop", {})
    assert (status, body["error"]["type"], body["error"]["reason"]) == (
        400, "illegal_argument_exception", "No replication in progress for index:channels")
    status, body = follower("POST", "/_plugins/_replication/channels/_stop")
    assert (status, body["error"]["type"]) == (400, "parse_exception")


def test_rest_failed_replication_via_control_path(aws, endpoint):
    leader, follower, _ = _replication_setup(aws, endpoint)
    leader("PUT", "/users")
    follower("PUT", "/_plugins/_replication/users/_start", {**START, "leader_index": "users"})
    req = urllib.request.Request(f"{endpoint}/_emulator/opensearch/replication", method="POST", data=json.dumps(
        {"endpoint": follower.host, "index": "users", "status": "FAILED", "reason": "leader gone"}).encode())
    urllib.request.urlopen(req)
    body = follower("GET", "/_plugins/_replication/users/_status")[1]
    assert (body["status"], body["reason"]) == ("FAILED", "leader gone")
    status, body = follower("POST", "/_plugins/_replication/users/_pause", {})
    assert (status, body["error"]["type"]) == (500, "illegal_state_exception")
    assert follower("POST", "/_plugins/_replication/users/_stop", {})[0] == 200


def test_rest_autofollow(aws, endpoint):
    leader, follower, cid = _replication_setup(aws, endpoint)
    leader("PUT", "/posts-2024-01-01")
    leader("PUT", "/channels")
    rule = {"leader_alias": "to-west", "name": "posts", "pattern": "posts*",
            "use_roles": {"leader_cluster_role": "all_access", "follower_cluster_role": "all_access"}}
    assert follower("POST", "/_plugins/_replication/_autofollow", rule) == (200, {"acknowledged": True})
    # 2.11 (the domains here): a re-POST is acknowledged (the plugin only logs "Task already started").
    assert follower("POST", "/_plugins/_replication/_autofollow", rule) == (200, {"acknowledged": True})
    leader("PUT", "/posts-2024-01-02")
    names = sorted(r["index"] for r in follower("GET", "/_cat/indices?format=json")[1])
    assert names == ["posts-2024-01-01", "posts-2024-01-02"]
    stats = follower("GET", "/_plugins/_replication/autofollow_stats")[1]
    assert stats["num_success_start_replication"] == 2
    assert [(s["name"], s["pattern"], s["num_success_start_replication"]) for s in stats["autofollow_stats"]] == [
        ("posts", "posts*", 2)]
    assert {"num_failed_start_replication", "num_failed_leader_calls", "failed_indices"} <= set(stats)
    assert {"failed_indices", "last_execution_time", "num_failed_leader_calls"} <= set(stats["autofollow_stats"][0])

    delete = {"leader_alias": "to-west", "name": "posts"}
    assert follower("DELETE", "/_plugins/_replication/_autofollow", delete) == (200, {"acknowledged": True})
    # 2.11: deleting a missing rule is acknowledged too.
    assert follower("DELETE", "/_plugins/_replication/_autofollow", delete) == (200, {"acknowledged": True})
    assert follower("GET", "/_plugins/_replication/autofollow_stats")[1]["autofollow_stats"] == []
    # Replications started by the rule keep running.
    assert follower("GET", "/_plugins/_replication/posts-2024-01-01/_status")[1]["status"] in (
        "BOOTSTRAPPING", "SYNCING")

    # Reset clears connections and the fake's state.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    assert aws("opensearch", EAST).describe_outbound_connections()["Connections"] == []
    assert urllib.request.urlopen(f"{endpoint}/_emulator/opensearch/domains").read() == b"[]"


# ------------------------------- drift and preflight (issue 10) extensions ---


def _post_json(endpoint, path, body):
    req = urllib.request.Request(f"{endpoint}{path}", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_simulate_principal_policy(aws):
    iam = aws("iam", EAST)
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:GetBucketTagging", "Resource": "*"}]}))
    iam.create_role(RoleName="writer", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    policy = iam.create_policy(PolicyName="put", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Put*", "Resource": "*"}]}))
    iam.attach_role_policy(RoleName="writer", PolicyArn=policy["Policy"]["Arn"])

    out = iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/reader",
                                        ActionNames=["s3:GetObject", "s3:PutObject", "s3:GetBucketTagging"])
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in out["EvaluationResults"]] == [
        ("s3:GetObject", "allowed"), ("s3:PutObject", "implicitDeny"), ("s3:GetBucketTagging", "explicitDeny")]
    assert out["IsTruncated"] is False
    out = iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/writer",
                                        ActionNames=["s3:PutBucketVersioning", "s3:GetObject"])
    assert [r["EvalDecision"] for r in out["EvaluationResults"]] == ["allowed", "implicitDeny"]
    assert error_of(lambda: iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/nobody", ActionNames=["s3:GetObject"])) == ("NoSuchEntity", 404)
    assert error_of(lambda: iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:root", ActionNames=["s3:GetObject"])) == ("InvalidInput", 400)


def test_simulate_principal_policy_conditions_and_context(aws):
    iam = aws("iam", EAST)
    iam.create_user(UserName="regional")
    iam.put_user_policy(UserName="regional", PolicyName="two-regions", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "rds:*", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestedRegion": ["us-west-1", "us-east-1"]}}},
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
             "Condition": {"StringLike": {"aws:PrincipalTag/team": "chat-*"}}}]}))
    arn = f"arn:aws:iam::{ACCOUNT}:user/regional"

    def decide(actions, **context):
        entries = [{"ContextKeyName": k.replace("__", ":"), "ContextKeyValues": [v], "ContextKeyType": "string"}
                   for k, v in context.items()]
        out = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions, ContextEntries=entries)
        return [(r["EvalDecision"], r["MissingContextValues"]) for r in out["EvaluationResults"]]

    # Without context the simulator cannot decide: implicit deny, naming the key.
    assert decide(["rds:CreateDBCluster"]) == [("implicitDeny", ["aws:RequestedRegion"])]
    assert decide(["rds:CreateDBCluster"], aws__RequestedRegion="us-east-1") == [("allowed", [])]
    assert decide(["rds:CreateDBCluster"], aws__RequestedRegion="eu-west-1") == [("implicitDeny", [])]
    assert decide(["s3:PutObject"], aws__RequestedRegion="us-east-1") == [("implicitDeny", ["aws:PrincipalTag/team"])]
    assert decide(["iam:GetRole"], aws__RequestedRegion="us-east-1") == [("implicitDeny", [])]


def test_rest_follower_stats_and_lag_setting(aws, endpoint):
    leader, follower, _ = _replication_setup(aws, endpoint)
    leader("PUT", "/channels")
    for n in range(3):
        leader("PUT", f"/channels/_doc/{n}", {"n": n})
    assert follower("PUT", "/_plugins/_replication/channels/_start", START)[0] == 200
    follower("GET", "/_plugins/_replication/channels/_status")  # BOOTSTRAPPING once
    status, stats = follower("GET", "/_plugins/_replication/follower_stats")
    assert status == 200 and stats["num_syncing_indices"] == 1 and stats["num_paused_indices"] == 0
    idx = stats["index_stats"]["channels"]
    assert idx["leader_checkpoint"] == idx["follower_checkpoint"] == 2
    assert _post_json(endpoint, "/_emulator/settings", {"opensearch_follower_lag": 2})[0] == 200
    idx = follower("GET", "/_plugins/_replication/follower_stats")[1]["index_stats"]["channels"]
    assert (idx["leader_checkpoint"], idx["follower_checkpoint"]) == (2, 0)
    follower("POST", "/_plugins/_replication/channels/_pause", {})
    stats = follower("GET", "/_plugins/_replication/follower_stats")[1]
    assert stats["num_paused_indices"] == 1 and stats["index_stats"] == {}


def test_rds_snapshot_ageing_control(aws, endpoint):
    rds = aws("rds", WEST)
    rds.create_db_cluster(DBClusterIdentifier="mm-db", Engine="aurora-postgresql", EngineVersion="16.4",
                          MasterUsername="mm", MasterUserPassword="Passw0rd-long")
    before = rds.describe_db_cluster_snapshots(DBClusterIdentifier="mm-db")["DBClusterSnapshots"]
    assert [s["SnapshotType"] for s in before] == ["automated"]
    assert _post_json(endpoint, "/_emulator/rds/snapshots/age",
                      {"region": WEST, "cluster": "mm-db", "hours": 48}) == (200, {"aged": 1})
    after = rds.describe_db_cluster_snapshots(DBClusterIdentifier="mm-db")["DBClusterSnapshots"]
    delta = before[0]["SnapshotCreateTime"] - after[0]["SnapshotCreateTime"]
    assert round(delta.total_seconds() / 3600) == 48
    assert _post_json(endpoint, "/_emulator/rds/snapshots/age",
                      {"region": WEST, "cluster": "nope", "hours": 1})[0] == 404
# ------------------------------------------- access policy and FGAC users ---


def test_rest_access_policy_is_evaluated_before_credentials(aws, endpoint):
    host = _domain(aws, WEST, "mm-policy", policy=False)["Endpoint"]
    d = Domain(endpoint, host)
    # No policy: nobody anonymous gets in, whatever the credentials.
    assert d("GET", "/") == (403, {"Message": "User: anonymous is not authorized to perform: es:ESHttpGet "
                                              "because no resource-based policy allows the es:ESHttpGet action"})
    arn = f"arn:aws:es:{WEST}:{ACCOUNT}:domain/mm-policy"
    account_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root"]}, "Action": "es:ESHttp*",
         "Resource": f"{arn}/*"}]}
    os = aws("opensearch")
    os.update_domain_config(DomainName="mm-policy", AccessPolicies=json.dumps(account_only))
    status, body = d("PUT", "/channels")
    assert status == 403 and "anonymous is not authorized to perform: es:ESHttpPut" in body["Message"]

    def with_ip(cidr, op="IpAddress"):
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "es:ESHttp*", "Resource": f"{arn}/*",
             "Condition": {op: {"aws:SourceIp": [cidr]}}}]})
    os.update_domain_config(DomainName="mm-policy", AccessPolicies=with_ip("10.0.0.0/8"))
    assert d("GET", "/")[0] == 403
    os.update_domain_config(DomainName="mm-policy", AccessPolicies=with_ip("127.0.0.0/8"))
    assert d("GET", "/")[0] == 200
    assert d("GET", "/", auth=())[0] == 401  # past the edge, FGAC still asks who you are
    deny = json.loads(open_policy(WEST, "mm-policy"))
    deny["Statement"].append({"Effect": "Deny", "Principal": "*", "Action": "es:ESHttpDelete",
                              "Resource": f"{arn}/*"})
    os.update_domain_config(DomainName="mm-policy", AccessPolicies=json.dumps(deny))
    assert d("PUT", "/x")[0] == 200
    status, body = d("DELETE", "/x")
    assert status == 403 and "explicit deny" in body["Message"]
    os.update_domain_config(DomainName="mm-policy", AccessPolicies="")
    assert os.describe_domain(DomainName="mm-policy")["DomainStatus"]["AccessPolicies"] == ""
    assert d("GET", "/")[0] == 403


def _user(d, name, password, role=None):
    status, body = d("PUT", f"/_plugins/_security/api/internalusers/{name}", {"password": password})
    assert (status, body["status"]) == (201, "CREATED"), body
    if role:
        status, body = d("PUT", f"/_plugins/_security/api/rolesmapping/{role}", {"users": [name]})
        assert status in (200, 201), body


def test_rest_security_plugin_users_roles_mappings(aws, endpoint):
    leader, _follower, _ = _replication_setup(aws, endpoint)
    assert leader("GET", "/_plugins/_security/api/internalusers/mm") == (
        404, {"status": "NOT_FOUND", "message": "Resource 'mm' not found."})
    _user(leader, "mm", "Mm-Passw0rd!")
    assert leader("PUT", "/_plugins/_security/api/internalusers/mm", {"password": "Mm-Passw0rd-2!"}) == (
        200, {"status": "OK", "message": "'mm' updated."})
    got = leader("GET", "/_plugins/_security/api/internalusers/mm")[1]["mm"]
    assert got["hash"] == "" and "password" not in got
    as_mm = ("mm", "Mm-Passw0rd-2!")
    assert leader("GET", "/", auth=as_mm)[0] == 200
    status, body = leader("PUT", "/mattermost-posts", auth=as_mm)
    assert status == 403 and body["error"]["type"] == "security_exception"
    assert "User [name=mm" in body["error"]["reason"]
    assert leader("PUT", "/_plugins/_security/api/roles/all_access", {"cluster_permissions": []})[0] == 403
    role = {"cluster_permissions": ["cluster_composite_ops"],
            "index_permissions": [{"index_patterns": ["mattermost*"], "allowed_actions": ["*"]}]}
    assert leader("PUT", "/_plugins/_security/api/roles/mattermost", role)[0] == 201
    assert leader("PUT", "/_plugins/_security/api/rolesmapping/nope", {"users": ["mm"]})[0] == 404
    assert leader("PUT", "/_plugins/_security/api/rolesmapping/mattermost", {"users": ["mm"]})[0] == 201
    assert leader("PUT", "/mattermost-posts", auth=as_mm)[0] == 200
    assert leader("PUT", "/other", auth=as_mm)[0] == 403
    # Only the master user (all_access, security_manager) manages security.
    assert leader("PUT", "/_plugins/_security/api/internalusers/x", {"password": "X-Passw0rd!"},
                  auth=as_mm)[0] == 403
    assert leader("DELETE", "/_plugins/_security/api/internalusers/mm") == (
        200, {"status": "OK", "message": "'mm' deleted."})
    assert leader("GET", "/", auth=as_mm)[0] == 401


def test_rest_replication_user_needs_the_plugin_roles_on_both_sides(aws, endpoint):
    leader, follower, _ = _replication_setup(aws, endpoint)
    leader("PUT", "/channels")
    roles = {"leader_cluster_role": "cross_cluster_replication_leader_full_access",
             "follower_cluster_role": "cross_cluster_replication_follower_full_access"}
    start = {"leader_alias": "to-west", "leader_index": "channels", "use_roles": roles}
    repl = ("repl", "Repl-Passw0rd!")
    _user(follower, *repl, role="cross_cluster_replication_follower_full_access")
    _user(leader, *repl)  # on the leader, but not mapped yet
    status, body = follower("PUT", "/_plugins/_replication/channels/_start", start, auth=repl)
    assert status == 403 and body["error"]["type"] == "security_exception", body
    leader("PUT", "/_plugins/_security/api/rolesmapping/cross_cluster_replication_leader_full_access",
           {"users": ["repl"]})
    assert follower("PUT", "/_plugins/_replication/channels/_start", start, auth=repl) == (
        200, {"acknowledged": True})
    # The replication user cannot write indices of its own.
    assert follower("PUT", "/elsewhere", auth=repl)[0] == 403
    # Without es:ESCrossClusterGet on the leader, the follower cannot read it.
    aws("opensearch").update_domain_config(DomainName="mm-leader", AccessPolicies=json.dumps(
        {"Version": "2012-10-17", "Statement": [json.loads(open_policy(WEST, "mm-leader"))["Statement"][0]]}))
    leader("PUT", "/users")
    status, body = follower("PUT", "/_plugins/_replication/users/_start", {**start, "leader_index": "users"},
                            auth=repl)
    assert status == 403 and "es:ESCrossClusterGet" in body["error"]["reason"], body


def test_rest_autofollow_on_2_17_and_status_running_stopped(aws, endpoint):
    _domain(aws, WEST, "mm-leader", version="OpenSearch_2.17")
    _domain(aws, EAST, "mm-follower", version="OpenSearch_2.17")
    east = aws("opensearch", EAST)
    created = east.create_outbound_connection(
        LocalDomainInfo={"AWSDomainInformation": {"OwnerId": ACCOUNT, "DomainName": "mm-follower",
                                                  "Region": EAST}},
        RemoteDomainInfo={"AWSDomainInformation": {"OwnerId": ACCOUNT, "DomainName": "mm-leader",
                                                   "Region": WEST}},
        ConnectionAlias="to-west")
    aws("opensearch", WEST).accept_inbound_connection(ConnectionId=created["ConnectionId"])
    leader = Domain(endpoint, aws("opensearch").describe_domain(DomainName="mm-leader")["DomainStatus"]["Endpoint"])
    follower = Domain(endpoint, east.describe_domain(DomainName="mm-follower")["DomainStatus"]["Endpoint"])
    rule = {"leader_alias": "to-west", "name": "posts", "pattern": "posts*",
            "use_roles": {"leader_cluster_role": "all_access", "follower_cluster_role": "all_access"}}
    assert follower("POST", "/_plugins/_replication/_autofollow", rule)[0] == 200
    status, body = follower("POST", "/_plugins/_replication/_autofollow", rule)
    assert status == 500 and "cannot be recreated" in body["error"]["reason"]
    delete = {"leader_alias": "to-west", "name": "posts"}
    assert follower("DELETE", "/_plugins/_replication/_autofollow", delete)[0] == 200
    status, body = follower("DELETE", "/_plugins/_replication/_autofollow", delete)
    assert status == 500 and body["error"]["reason"] == "Autofollow replication rule to-west:posts does not exist"

    leader("PUT", "/channels")
    _settings(endpoint, opensearch_running_polls=1)
    try:
        follower("PUT", "/_plugins/_replication/channels/_start", START)
    finally:
        _settings(endpoint, opensearch_running_polls=0)
    seen = [follower("GET", "/_plugins/_replication/channels/_status")[1]["status"] for _ in range(3)]
    assert seen == ["RUNNING", "BOOTSTRAPPING", "SYNCING"]
    req = urllib.request.Request(f"{endpoint}/_emulator/opensearch/replication", method="POST", data=json.dumps(
        {"endpoint": follower.host, "index": "channels", "status": "STOPPED"}).encode())
    urllib.request.urlopen(req)
    assert follower("GET", "/_plugins/_replication/channels/_status")[1]["status"] == "STOPPED"


# ------------------------------------------------- CloudWatch (RPC v2 CBOR) ---

def _cbor_call(endpoint, region, operation, params, gzip_body=False):
    """A CloudWatch call as aws-sdk-cloudwatch sends it (Smithy RPC v2 CBOR),
    the body made and the answer read by botocore's own CBOR code."""
    import gzip
    import io

    import botocore.session
    from botocore.parsers import RpcV2CBORParser
    from botocore.serialize import RpcV2CBORSerializer

    model = botocore.session.get_session().get_service_model("cloudwatch")
    op = model.operation_model(operation)
    body = bytearray()
    RpcV2CBORSerializer()._serialize_data_item(body, params, op.input_shape)
    body = bytes(body)
    headers = {
        "smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor",
        "x-amzn-query-mode": "true",
        "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20261201/{region}/monitoring/aws4_request, "
                         "SignedHeaders=host, Signature=0",
    }
    if gzip_body:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    host = endpoint.removeprefix("http://")
    conn = http.client.HTTPConnection(host)
    conn.request("POST", f"/service/GraniteServiceVersion20100801/operation/{operation}", body, headers)
    r = conn.getresponse()
    raw = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    assert hdrs["smithy-protocol"] == "rpc-v2-cbor" and hdrs["content-type"] == "application/cbor", hdrs
    response = {"status_code": r.status, "headers": hdrs, "body": raw}
    shape = op.output_shape if r.status < 300 else None
    parsed = RpcV2CBORParser().parse(response, shape) if (raw or r.status >= 300) else {}
    return r.status, hdrs, raw, parsed


def test_cloudwatch_metric_data_over_cbor(endpoint):
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    dim = [{"Name": "DBClusterIdentifier", "Value": "db-east"}]
    data = [{"MetricName": "AuroraGlobalDBRPOLag", "Dimensions": dim, "Unit": "Milliseconds",
             "Timestamp": now - datetime.timedelta(seconds=ago), "Value": v}
            for ago, v in [(30, 1200.0), (150, 95000.0)]]
    status, _, raw, _ = _cbor_call(endpoint, EAST, "PutMetricData",
                                   {"Namespace": "AWS/RDS", "MetricData": data}, gzip_body=True)
    assert (status, raw) == (200, b"")  # no output shape: empty body

    def query(i, name):
        return {"Id": i, "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": "AWS/RDS", "MetricName": name, "Dimensions": dim},
            "Period": 60, "Stat": "Maximum"}}
    params = {"MetricDataQueries": [query("rpo", "AuroraGlobalDBRPOLag"),
                                    query("replication", "AuroraGlobalDBReplicationLag")],
              "StartTime": now - datetime.timedelta(minutes=10), "EndTime": now + datetime.timedelta(seconds=1),
              "ScanBy": "TimestampDescending"}
    status, _, _, out = _cbor_call(endpoint, EAST, "GetMetricData", params)
    assert status == 200
    got = {r["Id"]: r for r in out["MetricDataResults"]}
    assert sorted(got["rpo"]["Values"]) == [1200.0, 95000.0]
    assert all(isinstance(t, datetime.datetime) for t in got["rpo"]["Timestamps"])  # CBOR tag 1
    assert got["replication"]["Values"] == []
    # Metrics live in their region.
    _, _, _, west = _cbor_call(endpoint, WEST, "GetMetricData", params)
    assert all(r["Values"] == [] for r in west["MetricDataResults"])

    # Errors: __type is the shape id, the query error code in its header.
    status, hdrs, raw, err = _cbor_call(endpoint, EAST, "GetMetricStatistics", {
        "Namespace": "AWS/RDS", "MetricName": "AuroraGlobalDBRPOLag", "StartTime": now, "EndTime": now,
        "Period": 60})
    assert status == 400
    assert hdrs["x-amzn-query-error"] == "InvalidParameterCombination;Sender"
    assert err["Error"]["Code"] == "InvalidParameterCombination", err  # what the SDKs report
    from standby_emulator import cloudwatch_cbor  # noqa: E402  (body as sent)
    assert cloudwatch_cbor.decode(raw)["__type"] == "com.amazonaws.cloudwatch#InvalidParameterCombinationException"

    calls = json.loads(urllib.request.urlopen(f"{endpoint}/_emulator/calls").read())
    assert [(c["service"], c["region"], c["operation"]) for c in calls] == [
        ("cloudwatch", EAST, "PutMetricData"), ("cloudwatch", EAST, "GetMetricData"),
        ("cloudwatch", WEST, "GetMetricData"), ("cloudwatch", EAST, "GetMetricStatistics")]


# ------------------------------------------- failover snapshot and copies ---


def test_a_rejoining_old_primary_leaves_a_failover_snapshot_to_copy(aws, endpoint):
    west, east = _global_db(aws)
    _post = lambda body: urllib.request.urlopen(urllib.request.Request(  # noqa: E731
        f"{endpoint}/_emulator/regions", method="POST", data=json.dumps(body).encode())).read()
    _settings(endpoint, rds_snapshot_ms=600)
    try:
        _post({"region": WEST, "down": True})
        east.failover_global_cluster(GlobalClusterIdentifier="mm-global",
                                     TargetDbClusterIdentifier=_cluster_arn(EAST, "mm-east"), AllowDataLoss=True)
        _post({"region": WEST, "down": False})
        snaps = [s for s in west.describe_db_cluster_snapshots(DBClusterIdentifier="mm-west")["DBClusterSnapshots"]
                 if s["DBClusterSnapshotIdentifier"].startswith("rds:unplanned-global-failover-mm-west-")]
        assert len(snaps) == 1, snaps
        source = snaps[0]["DBClusterSnapshotIdentifier"]
        assert (snaps[0]["SnapshotType"], snaps[0]["Status"]) == ("automated", "creating")
        assert snaps[0]["DBClusterIdentifier"] == "mm-west"
        assert not east.describe_db_cluster_snapshots(DBClusterIdentifier="mm-west")["DBClusterSnapshots"]
        # Not copyable until available; `rds:` names are not valid targets.
        target = "kept-" + source.removeprefix("rds:")
        copy = lambda t: west.copy_db_cluster_snapshot(  # noqa: E731
            SourceDBClusterSnapshotIdentifier=source, TargetDBClusterSnapshotIdentifier=t)
        assert error_of(lambda: copy(target))[0] == "InvalidDBClusterSnapshotStateFault"
        time.sleep(0.7)
        assert error_of(lambda: copy("rds:mine"))[0] == "InvalidParameterValue"
        assert error_of(lambda: copy("k" * 64))[0] == "InvalidParameterValue"  # 63 at most
        made = copy(target)["DBClusterSnapshot"]
        assert (made["SnapshotType"], made["Status"]) == ("manual", "creating")
        assert error_of(lambda: copy(target))[0] == "DBClusterSnapshotAlreadyExistsFault"
        assert error_of(lambda: west.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier="rds:nope", TargetDBClusterSnapshotIdentifier="kept-nope"))[0] == \
            "DBClusterSnapshotNotFoundFault"
        time.sleep(0.7)
        got = west.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=target)["DBClusterSnapshots"][0]
        assert (got["Status"], got["PercentProgress"], got["DBClusterIdentifier"]) == ("available", 100, "mm-west")
    finally:
        _settings(endpoint, rds_snapshot_ms=0)


def test_rest_a_lagging_follower_reports_its_checkpoints(aws, endpoint):
    leader, follower, _ = _replication_setup(aws, endpoint)
    leader("PUT", "/users")
    for n in range(3):
        leader("PUT", f"/users/_doc/{n}", {"n": n})
    follower("PUT", "/_plugins/_replication/users/_start", {**START, "leader_index": "users"})
    follower("GET", "/_plugins/_replication/users/_status")  # BOOTSTRAPPING first
    details = follower("GET", "/_plugins/_replication/users/_status")[1]["syncing_details"]
    assert details["leader_checkpoint"] == details["follower_checkpoint"] == 2
    req = urllib.request.Request(f"{endpoint}/_emulator/opensearch/replication/lag", method="POST", data=json.dumps(
        {"endpoint": follower.host, "index": "users", "ops": 2, "polls": 2}).encode())
    urllib.request.urlopen(req)
    seen = [follower("GET", "/_plugins/_replication/users/_status")[1]["syncing_details"] for _ in range(3)]
    assert [(d["leader_checkpoint"], d["follower_checkpoint"]) for d in seen] == [(2, 0), (2, 0), (2, 2)]
    calls = json.loads(urllib.request.urlopen(f"{endpoint}/_emulator/rest-calls").read())
    assert {"method": "GET", "path": "/_plugins/_replication/users/_status", "status": 200}.items() <= \
        calls[-1].items()


def test_list_buckets_pages_prefix_and_region(aws):
    west, east = aws("s3", WEST), aws("s3", EAST)
    for name in ["mm-dr-a", "mm-dr-b", "mm-drx-c", "other"]:
        west.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": WEST})
    east.create_bucket(Bucket="mm-dr-e")
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"Prefix": "mm-dr-", "MaxBuckets": 2}
        if token:
            kwargs["ContinuationToken"] = token
        out = west.list_buckets(**kwargs)
        pages += 1
        assert out["Prefix"] == "mm-dr-"
        seen += [(b["Name"], b["BucketRegion"]) for b in out["Buckets"]]
        token = out.get("ContinuationToken")
        if not token:
            break
    assert (pages, seen) == (2, [("mm-dr-a", WEST), ("mm-dr-b", WEST), ("mm-dr-e", EAST)])
    only_east = west.list_buckets(BucketRegion=EAST)["Buckets"]
    assert [b["Name"] for b in only_east] == ["mm-dr-e"]


def test_vpc_domains(aws):
    ec2, search = aws("ec2", EAST), aws("opensearch", EAST)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]
    group = ec2.create_security_group(GroupName="search", Description="d", VpcId=vpc)["GroupId"]
    options = {"SubnetIds": [subnet["SubnetId"]], "SecurityGroupIds": [group]}
    d = search.create_domain(DomainName="in-vpc", EngineVersion="OpenSearch_2.11", VPCOptions=options)["DomainStatus"]
    assert d["VPCOptions"] == {"VPCId": vpc, "SubnetIds": [subnet["SubnetId"]],
                               "AvailabilityZones": [subnet["AvailabilityZone"]], "SecurityGroupIds": [group]}
    assert d["Endpoints"]["vpc"].startswith("vpc-in-vpc-") and "Endpoint" not in d
    assert error_of(lambda: search.create_domain(
        DomainName="bad", EngineVersion="OpenSearch_2.11",
        VPCOptions={"SubnetIds": ["subnet-0000"], "SecurityGroupIds": [group]})) == ("ValidationException", 400)
    search.create_domain(DomainName="public", EngineVersion="OpenSearch_2.11")
    # A public domain stays public.
    assert error_of(lambda: search.update_domain_config(DomainName="public", VPCOptions=options)) == (
        "ValidationException", 400)
    assert "VPCOptions" not in search.describe_domain(DomainName="public")["DomainStatus"]


def test_vpc_domains_in_two_subnets_need_zone_awareness(aws):
    ec2, search = aws("ec2", EAST), aws("opensearch", EAST)
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.2.{i}.0/24", AvailabilityZone=f"us-east-1{z}")
               ["Subnet"]["SubnetId"] for i, z in [(1, "a"), (2, "b")]]
    group = ec2.create_security_group(GroupName="search2", Description="d", VpcId=vpc)["GroupId"]
    options = {"SubnetIds": subnets, "SecurityGroupIds": [group]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        search.create_domain(DomainName="two", EngineVersion="OpenSearch_2.11", VPCOptions=options,
                             ClusterConfig={"InstanceType": "r6g.large.search", "InstanceCount": 2})
    assert e.value.response["Error"] == {"Code": "ValidationException", "Message": "You must specify exactly one subnet."}
    zoned = {"InstanceType": "r6g.large.search", "InstanceCount": 2, "ZoneAwarenessEnabled": True,
             "ZoneAwarenessConfig": {"AvailabilityZoneCount": 2}}
    three = dict(zoned, ZoneAwarenessConfig={"AvailabilityZoneCount": 3})
    odd = dict(zoned, InstanceCount=3)
    for bad in [three, odd]:
        assert error_of(lambda: search.create_domain(DomainName="two", EngineVersion="OpenSearch_2.11",
                                                     VPCOptions=options, ClusterConfig=bad)) == ("ValidationException", 400)
    d = search.create_domain(DomainName="two", EngineVersion="OpenSearch_2.11", VPCOptions=options,
                             ClusterConfig=zoned)["DomainStatus"]
    assert d["ClusterConfig"]["ZoneAwarenessConfig"] == {"AvailabilityZoneCount": 2}
    # An update whose ClusterConfig drops zone awareness is refused; one that keeps it goes through.
    assert error_of(lambda: search.update_domain_config(
        DomainName="two", ClusterConfig={"InstanceType": "r6g.large.search", "InstanceCount": 4})) == (
        "ValidationException", 400)
    search.update_domain_config(DomainName="two", ClusterConfig=dict(zoned, InstanceCount=4))
    assert search.describe_domain(DomainName="two")["DomainStatus"]["ClusterConfig"]["InstanceCount"] == 4


def test_objects_are_encrypted_by_default(aws):
    s3 = aws("s3", WEST)
    s3.create_bucket(Bucket="plain", CreateBucketConfiguration={"LocationConstraint": WEST})
    s3.put_object(Bucket="plain", Key="k", Body=b"x")
    assert s3.head_object(Bucket="plain", Key="k")["ServerSideEncryption"] == "AES256"
    s3.create_bucket(Bucket="kms", CreateBucketConfiguration={"LocationConstraint": WEST})
    s3.put_bucket_encryption(Bucket="kms", ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "key-1"}}]})
    s3.put_object(Bucket="kms", Key="k", Body=b"x")
    head = s3.head_object(Bucket="kms", Key="k")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", "key-1")


# ------------------------------------------- switchovers that go wrong, ... ---


def _events(rds, cluster):
    return [e["Message"] for e in rds.describe_events(SourceType="db-cluster", SourceIdentifier=cluster)["Events"]
            if "global failover" in e["EventCategories"]]


def test_a_cancelled_or_refused_switchover_leaves_the_writer(aws, endpoint):
    west, east = _global_db(aws)
    try:
        for ends, said in (("cancelled", "is cancelled."), ("refused", "failed.")):
            _settings(endpoint, rds_failover_ms=900, rds_next_switch_ends=ends)
            west.switchover_global_cluster(GlobalClusterIdentifier="mm-global",
                                           TargetDbClusterIdentifier=_cluster_arn(EAST, "mm-east"))
            time.sleep(0.2)
            assert _members(east)[0]["FailoverState"]["Status"] == "pending"
            if ends == "cancelled":
                time.sleep(0.5)
                assert _members(east)[0]["FailoverState"]["Status"] == "cancelling"
            time.sleep(0.8)
            gc, members = _members(east)
            assert "FailoverState" not in gc and gc["Status"] == "available"
            assert members["mm-west"]["IsWriter"] and not members["mm-east"]["IsWriter"]
            assert _events(east, "mm-east")[-1] == f"Global switchover to DB cluster mm-east in Region {EAST} {said}"
        # Used once: the next one moves the writer, with its events.
        west.switchover_global_cluster(GlobalClusterIdentifier="mm-global",
                                       TargetDbClusterIdentifier=_cluster_arn(EAST, "mm-east"))
        time.sleep(1.0)
        assert _members(east)[1]["mm-east"]["IsWriter"]
        assert _events(east, "mm-east")[-2:] == [
            f"Global switchover to DB cluster mm-east in Region {EAST} finished.",
            "Aurora finished changing the DNS name that the global writer endpoint resolves to."]
    finally:
        _settings(endpoint, rds_failover_ms=0, rds_next_switch_ends="moves")


def test_failover_events_fencing_and_a_late_snapshot(aws, endpoint):
    west, east = _global_db(aws)
    post = lambda body: urllib.request.urlopen(urllib.request.Request(  # noqa: E731
        f"{endpoint}/_emulator/regions", method="POST", data=json.dumps(body).encode())).read()
    _settings(endpoint, rds_fencing_event=1, rds_rejoin_snapshot_ms=800, rds_resync_ms=800)
    post({"region": WEST, "down": True})
    try:
        east.failover_global_cluster(GlobalClusterIdentifier="mm-global", AllowDataLoss=True,
                                     TargetDbClusterIdentifier=_cluster_arn(EAST, "mm-east"))
        assert _events(east, "mm-east")[-3:] == [
            f"Global failover to DB cluster mm-east in Region {EAST} completed.",
            f"Writes were stopped on the old primary DB cluster mm-west in Region {WEST}.",
            "Aurora finished changing the DNS name that the global writer endpoint resolves to."]
    finally:
        post({"region": WEST, "down": False})
    # Listed again at once, resynchronising; the snapshot of its old volume only later.
    member = _members(east)[1]["mm-west"]
    assert member["SynchronizationStatus"] == "pending-resync"
    snaps = lambda: [s["DBClusterSnapshotIdentifier"] for s in  # noqa: E731
                     west.describe_db_cluster_snapshots(DBClusterIdentifier="mm-west")["DBClusterSnapshots"]
                     if s["DBClusterSnapshotIdentifier"].startswith("rds:unplanned-global-failover-mm-west-")]
    assert snaps() == []
    time.sleep(0.9)
    assert len(snaps()) == 1
    assert _members(east)[1]["mm-west"]["SynchronizationStatus"] == "connected"
    _settings(endpoint, rds_fencing_event=0, rds_rejoin_snapshot_ms=0, rds_resync_ms=0)


def test_rds_publishes_the_lag_of_each_secondary(aws, endpoint):
    _global_db(aws)
    cw = aws("cloudwatch", EAST)
    found = cw.list_metrics(Namespace="AWS/RDS", MetricName="AuroraGlobalDBRPOLag",
                            Dimensions=[{"Name": "DBClusterIdentifier", "Value": "mm-east"}])["Metrics"]
    assert [sorted((d["Name"], d["Value"]) for d in m["Dimensions"]) for m in found] == [
        [("DBClusterIdentifier", "mm-east"), ("SourceRegion", WEST)]]
    end = time.time()
    data = cw.get_metric_data(MetricDataQueries=[{"Id": "a", "MetricStat": {"Metric": found[0], "Period": 60,
                                                                            "Stat": "Maximum"}}],
                              StartTime=end - 600, EndTime=end)["MetricDataResults"][0]
    assert data["Values"] and max(data["Values"]) == 50.0
    # The primary has none; none at all with -1.
    assert aws("cloudwatch", WEST).list_metrics(Namespace="AWS/RDS", MetricName="AuroraGlobalDBRPOLag")["Metrics"] == []
    _settings(endpoint, rds_lag_ms=-1)
    assert cw.list_metrics(Namespace="AWS/RDS", MetricName="AuroraGlobalDBRPOLag")["Metrics"] == []
    _settings(endpoint, rds_lag_ms=50)


def test_write_forwarding_only_on_global_members(aws):
    west = aws("rds", WEST)
    assert error_of(lambda: west.create_db_cluster(
        DBClusterIdentifier="alone", Engine="aurora-postgresql", EngineVersion="15.4", MasterUsername="mm",
        MasterUserPassword="Db-Passw0rd!", EnableGlobalWriteForwarding=True))[0] == "InvalidParameterCombination"
    west.create_db_cluster(DBClusterIdentifier="alone", Engine="aurora-postgresql", EngineVersion="15.4",
                           MasterUsername="mm", MasterUserPassword="Db-Passw0rd!")
    assert error_of(lambda: west.modify_db_cluster(DBClusterIdentifier="alone", EnableGlobalWriteForwarding=True))[
        0] == "InvalidParameterCombination"
    # A member, the writer included, takes it (AWS applies the writer's at demotion).
    west.create_global_cluster(GlobalClusterIdentifier="g", SourceDBClusterIdentifier=_cluster_arn(WEST, "alone"))
    cluster = west.modify_db_cluster(DBClusterIdentifier="alone", EnableGlobalWriteForwarding=True)["DBCluster"]
    assert cluster["GlobalWriteForwardingRequested"] is True


def test_a_bootstrapping_follower_with_its_leader_down(aws, endpoint):
    leader, follower, _ = _replication_setup(aws, endpoint)
    leader("PUT", "/posts")
    leader("POST", "/posts/_doc", {"n": 1})
    follower("PUT", "/_plugins/_replication/posts/_start", {**START, "leader_index": "posts"})
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/_emulator/opensearch/replication", method="POST",
                                                  data=json.dumps({"endpoint": follower.host, "index": "posts",
                                                                   "status": "BOOTSTRAPPING"}).encode()))
    assert follower("GET", "/posts/_recovery?active_only=true")[1]["posts"]["shards"][0]["type"] == "SNAPSHOT"
    post = lambda body: urllib.request.urlopen(urllib.request.Request(  # noqa: E731
        f"{endpoint}/_emulator/regions", method="POST", data=json.dumps(body).encode())).read()
    post({"region": WEST, "down": True})
    try:
        status, body = follower("GET", "/_plugins/_replication/posts/_status")
        assert (status, body["error"]["reason"]) == (500, "failed to fetch replication status")
        # It does not progress while the leader is unreachable; stopping it deletes it.
        assert follower("GET", "/posts/_recovery?active_only=true")[1]["posts"]["shards"][0]["type"] == "SNAPSHOT"
        assert follower("POST", "/_plugins/_replication/posts/_stop", {}) == (200, {"acknowledged": True})
        assert follower("GET", "/posts")[0] == 404
    finally:
        post({"region": WEST, "down": False})
