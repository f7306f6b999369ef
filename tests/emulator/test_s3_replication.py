"""Live S3 replication (standby_emulator/s3_replication.py), checked with boto3."""

import json
import time
import urllib.request

import boto3
import pytest

# Each test starts from an empty emulator (conftest.py).
pytestmark = pytest.mark.usefixtures("reset")

WEST, EAST = "us-west-1", "us-east-1"
A, B, C = "src-a", "dst-b", "dst-c"
TRUST = {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def client(endpoint, service, region=WEST):
    return boto3.client(service, region_name=region, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def control(endpoint, path, body=None):
    req = urllib.request.Request(f"{endpoint}{path}", method="POST" if body is not None else "GET",
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def rule(dest, rid="r", prefix="", priority=1, markers=True, modifications=False, **extra):
    r = {"ID": rid, "Priority": priority, "Status": "Enabled", "Filter": {"Prefix": prefix},
         "DeleteMarkerReplication": {"Status": "Enabled" if markers else "Disabled"},
         "Destination": {"Bucket": f"arn:aws:s3:::{dest}"}}
    if modifications:
        r["SourceSelectionCriteria"] = {"ReplicaModifications": {"Status": "Enabled"}}
    r.update(extra)
    return r


def buckets(endpoint, *names_regions):
    out = {}
    for name, region in names_regions:
        s3 = client(endpoint, "s3", region)
        conf = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **conf)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        out[name] = s3
    return out


def role(endpoint, name="replication"):
    iam = client(endpoint, "iam")
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]


def replicate(s3, bucket, role_arn, *rules):
    s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration={"Role": role_arn, "Rules": list(rules)})


def status(s3, bucket, key, **kw):
    return s3.head_object(Bucket=bucket, Key=key, **kw).get("ReplicationStatus")


def wait_for(check, seconds=5.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


def versions(s3, bucket, prefix=""):
    out = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    return out.get("Versions", []), out.get("DeleteMarkers", [])


def pair(endpoint, modifications=True, markers=True):
    """Two versioned buckets replicating both ways (the example's shape)."""
    s3 = buckets(endpoint, (A, WEST), (B, EAST))
    arn = role(endpoint)
    replicate(s3[A], A, arn, rule(B, modifications=modifications, markers=markers))
    replicate(s3[B], B, arn, rule(A, modifications=modifications, markers=markers))
    return s3[A], s3[B]


def test_a_new_object_is_pending_then_completed_and_its_replica_is_identical(endpoint):
    a, b = pair(endpoint)
    assert control(endpoint, "/_emulator/s3/replication")["worker"] is False, "no thread before a replicated write"
    control(endpoint, "/_emulator/settings", {"s3_replication_ms": 400})
    put = a.put_object(Bucket=A, Key="data/f.txt", Body=b"hello", Metadata={"owner": "mm"},
                       ContentType="text/plain", Tagging="team=chat")
    assert "ReplicationStatus" not in put, "PutObject answers without the status"
    assert status(a, A, "data/f.txt") == "PENDING"
    assert control(endpoint, "/_emulator/s3/replication")["worker"] is True
    wait_for(lambda: status(a, A, "data/f.txt") == "COMPLETED")
    got = b.get_object(Bucket=B, Key="data/f.txt")
    assert got["ReplicationStatus"] == "REPLICA"
    assert got["VersionId"] == put["VersionId"], "the replica keeps the version id"
    assert (got["Body"].read(), got["Metadata"], got["ContentType"]) == (b"hello", {"owner": "mm"}, "text/plain")
    assert b.get_object_tagging(Bucket=B, Key="data/f.txt")["TagSet"] == [{"Key": "team", "Value": "chat"}]
    src = a.head_object(Bucket=A, Key="data/f.txt")
    assert got["LastModified"] == src["LastModified"], "the replica keeps the creation time"
    # A replica is not replicated back, even in a two-way setup.
    time.sleep(0.6)
    assert len(versions(a, A)[0]) == 1


def test_objects_from_before_the_configuration_are_not_replicated(endpoint):
    s3 = buckets(endpoint, (A, WEST), (B, EAST))
    s3[A].put_object(Bucket=A, Key="old.txt", Body=b"x")
    replicate(s3[A], A, role(endpoint), rule(B))
    assert "ReplicationStatus" not in s3[A].head_object(Bucket=A, Key="old.txt")
    time.sleep(0.3)
    assert versions(s3[B], B) == ([], [])


def test_rules_select_by_prefix_tag_and_priority(endpoint):
    s3 = buckets(endpoint, (A, WEST), (B, EAST), (C, EAST))
    replicate(s3[A], A, role(endpoint),
              rule(B, "docs", prefix="docs/"),
              rule(C, "tagged", priority=2, markers=False, Filter={"Tag": {"Key": "dr", "Value": "yes"}}),
              rule(C, "low", priority=1) | {"Destination": {"Bucket": f"arn:aws:s3:::{C}",
                                                               "StorageClass": "STANDARD_IA"}})
    s3[A].put_object(Bucket=A, Key="docs/1", Body=b"1")
    s3[A].put_object(Bucket=A, Key="other/2", Body=b"2", Tagging="dr=yes")
    wait_for(lambda: status(s3[A], A, "other/2") == "COMPLETED")
    wait_for(lambda: status(s3[A], A, "docs/1") == "COMPLETED")
    assert [v["Key"] for v in versions(s3[B], B)[0]] == ["docs/1"]
    assert sorted(v["Key"] for v in versions(s3[C], C)[0]) == ["docs/1", "other/2"]
    # other/2 went to c by the tag rule (priority 2), not the low one's storage class.
    assert s3[C].head_object(Bucket=C, Key="other/2").get("StorageClass") is None
    assert s3[C].head_object(Bucket=C, Key="docs/1").get("StorageClass") == "STANDARD_IA"
    # Nothing selects it: no status at all.
    s3[A].delete_bucket_replication(Bucket=A)
    replicate(s3[A], A, role(endpoint, "r2"), rule(B, prefix="docs/"))
    s3[A].put_object(Bucket=A, Key="misc/3", Body=b"3")
    assert "ReplicationStatus" not in s3[A].head_object(Bucket=A, Key="misc/3")


def test_delete_markers_follow_the_rule_and_version_deletes_never_replicate(endpoint):
    a, b = pair(endpoint)
    a.put_object(Bucket=A, Key="k", Body=b"1")
    wait_for(lambda: status(a, A, "k") == "COMPLETED")
    marker = a.delete_object(Bucket=A, Key="k")
    assert marker["DeleteMarker"] is True
    wait_for(lambda: versions(b, B)[1])
    assert versions(b, B)[1][0]["VersionId"] == marker["VersionId"]
    # Deleting a version by id stays in its bucket.
    v = versions(a, A)[0][0]["VersionId"]
    a.delete_object(Bucket=A, Key="k", VersionId=v)
    time.sleep(0.3)
    assert [x["VersionId"] for x in versions(b, B)[0]] == [v]

    # DeleteMarkerReplication Disabled: the marker stays.
    control(endpoint, "/moto-api/reset", {})
    a, b = pair(endpoint, markers=False)
    a.put_object(Bucket=A, Key="k", Body=b"1")
    wait_for(lambda: status(a, A, "k") == "COMPLETED")
    a.delete_objects(Bucket=A, Delete={"Objects": [{"Key": "k"}]})
    time.sleep(0.3)
    assert versions(b, B)[1] == []


def test_sse_kms_objects_replicate_only_when_the_rule_asks(endpoint):
    s3 = buckets(endpoint, (A, WEST), (B, EAST))
    arn = role(endpoint)
    replicate(s3[A], A, arn, rule(B))
    s3[A].put_object(Bucket=A, Key="kms", Body=b"k", ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/x")
    s3[A].put_object(Bucket=A, Key="s3", Body=b"s", ServerSideEncryption="AES256")
    assert "ReplicationStatus" not in s3[A].head_object(Bucket=A, Key="kms")
    wait_for(lambda: status(s3[A], A, "s3") == "COMPLETED")
    replicate(s3[A], A, arn, rule(B, SourceSelectionCriteria={"SseKmsEncryptedObjects": {"Status": "Enabled"}}))
    s3[A].put_object(Bucket=A, Key="kms2", Body=b"k", ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/x")
    wait_for(lambda: status(s3[A], A, "kms2") == "COMPLETED")
    assert sorted(v["Key"] for v in versions(s3[B], B)[0]) == ["kms2", "s3"]


def test_failures_are_final_and_transient_ones_stay_pending(endpoint):
    a, b = pair(endpoint)
    # Destination no longer versioned: FAILED, and it stays so.
    b.put_bucket_versioning(Bucket=B, VersioningConfiguration={"Status": "Suspended"})
    a.put_object(Bucket=A, Key="f1", Body=b"1")
    wait_for(lambda: status(a, A, "f1") == "FAILED")
    b.put_bucket_versioning(Bucket=B, VersioningConfiguration={"Status": "Enabled"})
    time.sleep(0.3)
    assert status(a, A, "f1") == "FAILED"
    # The bucket set to fail (a role that lost its permissions).
    control(endpoint, "/_emulator/s3/replication", {"bucket": A, "mode": "failing"})
    a.put_object(Bucket=A, Key="f2", Body=b"2")
    wait_for(lambda: status(a, A, "f2") == "FAILED")
    # Paused: PENDING until it runs again, then it catches up.
    control(endpoint, "/_emulator/s3/replication", {"bucket": A, "mode": "paused"})
    a.put_object(Bucket=A, Key="p", Body=b"p")
    time.sleep(0.4)
    assert status(a, A, "p") == "PENDING"
    assert control(endpoint, "/_emulator/s3/replication")["parked"] == 1
    control(endpoint, "/_emulator/s3/replication", {"bucket": A, "mode": "running"})
    wait_for(lambda: status(a, A, "p") == "COMPLETED")
    # The destination's region down: PENDING, then replicated when it is back.
    control(endpoint, "/_emulator/regions", {"region": EAST, "down": True})
    a.put_object(Bucket=A, Key="r", Body=b"r")
    time.sleep(0.4)
    assert status(a, A, "r") == "PENDING"
    control(endpoint, "/_emulator/regions", {"region": EAST, "down": False})
    wait_for(lambda: status(a, A, "r") == "COMPLETED", seconds=5)
    # The role deleted: FAILED.
    iam = client(endpoint, "iam")
    iam.delete_role(RoleName="replication")
    a.put_object(Bucket=A, Key="f3", Body=b"3")
    wait_for(lambda: status(a, A, "f3") == "FAILED")


def test_replica_changes_sync_back_only_with_replica_modifications(endpoint):
    a, b = pair(endpoint, modifications=True)
    a.put_object(Bucket=A, Key="k", Body=b"1")
    wait_for(lambda: status(a, A, "k") == "COMPLETED")
    b.put_object_tagging(Bucket=B, Key="k", Tagging={"TagSet": [{"Key": "legal", "Value": "hold"}]})
    wait_for(lambda: a.get_object_tagging(Bucket=A, Key="k")["TagSet"] == [{"Key": "legal", "Value": "hold"}])
    assert status(b, B, "k") == "REPLICA"
    # A source's tag change reaches the replica.
    a.put_object_tagging(Bucket=A, Key="k", Tagging={"TagSet": [{"Key": "x", "Value": "1"}]})
    wait_for(lambda: b.get_object_tagging(Bucket=B, Key="k")["TagSet"] == [{"Key": "x", "Value": "1"}])

    control(endpoint, "/moto-api/reset", {})
    a, b = pair(endpoint, modifications=False)
    a.put_object(Bucket=A, Key="k", Body=b"1")
    wait_for(lambda: status(a, A, "k") == "COMPLETED")
    b.put_object_tagging(Bucket=B, Key="k", Tagging={"TagSet": [{"Key": "legal", "Value": "hold"}]})
    time.sleep(0.3)
    assert a.get_object_tagging(Bucket=A, Key="k")["TagSet"] == []


def test_reset_stops_the_worker(endpoint):
    a, _ = pair(endpoint)
    a.put_object(Bucket=A, Key="k", Body=b"1")
    assert control(endpoint, "/_emulator/s3/replication")["worker"] is True
    control(endpoint, "/moto-api/reset", {})
    assert control(endpoint, "/_emulator/s3/replication") == {
        "modes": {}, "queued": 0, "parked": 0, "worker": False,
        "counts": {"replicated": 0, "failed": 0, "markers": 0, "metadata": 0}}
