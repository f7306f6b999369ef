"""Self-check of s3_conditional, rds_recreate and the fault proxy.

    .venv-emulator/bin/python -m pytest -q tests/emulator/test_conditions_and_faults.py
"""

import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest

REPO = Path(__file__).resolve().parents[1].parent
WEST = "us-west-1"


def client(endpoint, service, retries=0):
    return boto3.client(service, region_name=WEST, endpoint_url=endpoint, aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=botocore.config.Config(retries={"max_attempts": retries, "mode": "standard"}
                                                      if retries else {"total_max_attempts": 1}))


def test_concurrent_create_only_puts_let_exactly_one_through(endpoint):
    s3 = client(endpoint, "s3")
    s3.create_bucket(Bucket="locks", CreateBucketConfiguration={"LocationConstraint": WEST})
    results = []

    def put(n):
        try:
            s3.put_object(Bucket="locks", Key="_standby/locks/k", Body=str(n).encode(), IfNoneMatch="*")
            results.append("ok")
        except botocore.exceptions.ClientError as e:
            results.append(e.response["Error"]["Code"])

    threads = [threading.Thread(target=put, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1, results
    assert set(results) == {"ok", "PreconditionFailed"}, results
    etag = s3.head_object(Bucket="locks", Key="_standby/locks/k")["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_object(Bucket="locks", Key="_standby/locks/k", IfMatch='"0000"')
    assert e.value.response["Error"]["Code"] == "PreconditionFailed"
    s3.delete_object(Bucket="locks", Key="_standby/locks/k", IfMatch=etag)


def test_a_cluster_can_be_created_again_right_after_its_deletion(endpoint):
    rds = client(endpoint, "rds")
    args = dict(DBClusterIdentifier="again", Engine="aurora-postgresql", MasterUsername="u",
                MasterUserPassword="Password-123")
    rds.create_db_cluster(**args)
    rds.delete_db_cluster(DBClusterIdentifier="again", SkipFinalSnapshot=True)
    rds.create_db_cluster(**args)
    manual = rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert manual == []


def test_the_fault_proxy_loses_answers_after_the_call_took_effect(endpoint, tmp_path):
    port_file = tmp_path / "port"
    env = dict(os.environ, PYTHONPATH=str(REPO / "tests" / "emulator"))
    proxy = subprocess.Popen([sys.executable, "-m", "standby_emulator.fault_proxy", "--upstream", endpoint,
                              "--port-file", str(port_file), "--rate", "0"], env=env)
    try:
        for _ in range(200):
            if port_file.exists():
                break
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        urllib.request.urlopen(urllib.request.Request(
            f"{url}/_proxy/lose?match=PUT%20/faults/obj%20&times=1", method="PUT"))
        s3 = client(endpoint, "s3")
        s3.create_bucket(Bucket="faults", CreateBucketConfiguration={"LocationConstraint": WEST})
        through = client(url, "s3")
        with pytest.raises(Exception):
            through.put_object(Bucket="faults", Key="obj", Body=b"made")
        assert s3.get_object(Bucket="faults", Key="obj")["Body"].read() == b"made"
        through.put_object(Bucket="faults", Key="obj2", Body=b"fine")
        urllib.request.urlopen(urllib.request.Request(f"{url}/_proxy/rate?value=1", method="PUT"))
        statuses = set()
        for _ in range(20):  # every request faulted: refused and throttled answer with AWS errors
            try:
                through.head_bucket(Bucket="faults")
            except botocore.exceptions.ClientError as e:
                statuses.add(e.response["ResponseMetadata"]["HTTPStatusCode"])
            except Exception:
                statuses.add("lost")
        assert 503 in statuses and "lost" in statuses, statuses
    finally:
        proxy.kill()
        proxy.wait()
