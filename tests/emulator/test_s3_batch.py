"""The emulator's S3 Batch Operations jobs (standby_emulator/s3_batch.py).

S3 Control clients put the account id in front of the endpoint host; these
checks speak the REST-XML wire format directly to the emulator's address.
"""

import json
import urllib.error
import urllib.request
from xml.etree import ElementTree

import boto3
import pytest

# Each test starts from an empty emulator (conftest.py).
pytestmark = pytest.mark.usefixtures("reset")

ACCOUNT = "123456789012"
WEST, EAST = "us-west-1", "us-east-1"
NS = "{http://awss3control.amazonaws.com/doc/2018-08-20/}"
AUTH = f"AWS4-HMAC-SHA256 Credential=testing/20260101/{WEST}/s3/aws4_request, SignedHeaders=host, Signature=0"


def test_start_prints_an_s3_control_endpoint(emulator_env):
    env = emulator_env
    assert env["AWS_ENDPOINT_URL_S3_CONTROL"].startswith("http://localhost:")


def client(endpoint, service, region=WEST):
    return boto3.client(service, region_name=region, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def call(endpoint, method, path, body=None):
    req = urllib.request.Request(endpoint + path, method=method, data=body.encode() if body else None,
                                 headers={"Host": f"{ACCOUNT}.localhost", "x-amz-account-id": ACCOUNT,
                                          "Authorization": AUTH, "Content-Type": "application/xml"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, ElementTree.fromstring(r.read())
    except urllib.error.HTTPError as e:
        return e.code, ElementTree.fromstring(e.read())


def create_job(endpoint, bucket, role, token="t-1", drop=None):
    members = {
        "ConfirmationRequired": "<ConfirmationRequired>false</ConfirmationRequired>",
        "Operation": "<Operation><S3ReplicateObject/></Operation>",
        "Report": "<Report><Enabled>false</Enabled></Report>",
        "ClientRequestToken": f"<ClientRequestToken>{token}</ClientRequestToken>",
        "Priority": "<Priority>10</Priority>",
        "RoleArn": f"<RoleArn>{role}</RoleArn>",
        "ManifestGenerator": (
            f"<ManifestGenerator><S3JobManifestGenerator><SourceBucket>arn:aws:s3:::{bucket}</SourceBucket>"
            "<EnableManifestOutput>false</EnableManifestOutput><Filter><EligibleForReplication>true"
            "</EligibleForReplication><ObjectReplicationStatuses><member>NONE</member><member>FAILED</member>"
            "</ObjectReplicationStatuses></Filter></S3JobManifestGenerator></ManifestGenerator>"),
    }
    members.pop(drop, None)
    body = f'<CreateJobRequest xmlns="{NS[1:-1]}">{"".join(members.values())}</CreateJobRequest>'
    return call(endpoint, "POST", "/v20180820/jobs", body)


def describe(endpoint, job_id):
    status, doc = call(endpoint, "GET", f"/v20180820/jobs/{job_id}")
    assert status == 200, ElementTree.tostring(doc)
    job = doc.find(f"{NS}Job")

    def text(path):
        return job.findtext("/".join(NS + part for part in path.split("/")))

    return {
        "status": text("Status"),
        "total": int(text("ProgressSummary/TotalNumberOfTasks")),
        "succeeded": int(text("ProgressSummary/NumberOfTasksSucceeded")),
        "failed": int(text("ProgressSummary/NumberOfTasksFailed")),
        "reasons": [f.findtext(f"{NS}FailureCode") for f in job.find(f"{NS}FailureReasons")],
    }


def run_to_end(endpoint, job_id):
    seen = []
    for _ in range(10):
        d = describe(endpoint, job_id)
        seen.append(d["status"])
        if d["status"] in ("Complete", "Failed", "Cancelled"):
            return d, seen
    raise AssertionError(f"job never ended: {seen}")


def world(endpoint, trust="batchoperations.s3.amazonaws.com", replication=True, objects=5):
    s3w, s3e = client(endpoint, "s3"), client(endpoint, "s3", EAST)
    s3w.create_bucket(Bucket="src", CreateBucketConfiguration={"LocationConstraint": WEST})
    s3e.create_bucket(Bucket="dst")
    for s3, b in ((s3w, "src"), (s3e, "dst")):
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    for n in range(objects):
        s3w.put_object(Bucket="src", Key=f"f/{n}.txt", Body=f"object {n}".encode())
    iam = client(endpoint, "iam", EAST)
    role = iam.create_role(RoleName="batch", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": trust}, "Action": "sts:AssumeRole"}]}))
    if replication:
        s3w.put_bucket_replication(Bucket="src", ReplicationConfiguration={"Role": role["Role"]["Arn"], "Rules": [{
            "ID": "r", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
            "DeleteMarkerReplication": {"Status": "Enabled"}, "Destination": {"Bucket": "arn:aws:s3:::dst"}}]})
    return role["Role"]["Arn"], s3e


def test_a_job_copies_existing_objects_asynchronously(endpoint):
    role, s3e = world(endpoint)
    status, doc = create_job(endpoint, "src", role)
    assert status == 200
    job_id = doc.findtext(f"{NS}JobId")
    assert create_job(endpoint, "src", role)[1].findtext(f"{NS}JobId") == job_id, "same token, same job"
    d, seen = run_to_end(endpoint, job_id)
    assert seen[:3] == ["Preparing", "Active", "Complete"]
    assert (d["status"], d["total"], d["succeeded"], d["failed"]) == ("Complete", 5, 5, 0)
    keys = sorted(o["Key"] for o in s3e.list_objects_v2(Bucket="dst")["Contents"])
    assert keys == [f"f/{n}.txt" for n in range(5)]
    assert s3e.get_object(Bucket="dst", Key="f/3.txt")["Body"].read() == b"object 3"
    # A finished job cannot be cancelled.
    status, doc = call(endpoint, "POST", f"/v20180820/jobs/{job_id}/status?requestedJobStatus=Cancelled")
    assert (status, doc.findtext("Error/Code")) == (400, "JobStatusException")


def test_jobs_fail_like_aws(endpoint):
    role, _ = world(endpoint, trust="s3.amazonaws.com")
    job_id = create_job(endpoint, "src", role)[1].findtext(f"{NS}JobId")
    d, _ = run_to_end(endpoint, job_id)
    assert (d["status"], d["reasons"]) == ("Failed", ["AccessDenied"])


def test_a_bucket_without_replication_fails_the_job(endpoint):
    role, _ = world(endpoint, replication=False)
    job_id = create_job(endpoint, "src", role, token="t-2")[1].findtext(f"{NS}JobId")
    d, _ = run_to_end(endpoint, job_id)
    assert (d["status"], d["reasons"]) == ("Failed", ["ReplicationConfigurationNotFoundError"])


def test_requests_are_checked_and_jobs_cancelled(endpoint):
    role, _ = world(endpoint)
    status, doc = create_job(endpoint, "src", role, drop="Report")
    assert (status, doc.findtext("Error/Code")) == (400, "InvalidRequest")
    status, doc = call(endpoint, "GET", "/v20180820/jobs/nope")
    assert (status, doc.findtext("Error/Code")) == (404, "NotFoundException")
    job_id = create_job(endpoint, "src", role, token="t-3")[1].findtext(f"{NS}JobId")
    status, doc = call(endpoint, "POST", f"/v20180820/jobs/{job_id}/status?requestedJobStatus=Cancelled")
    assert (status, doc.findtext(f"{NS}Status")) == (200, "Cancelled")
    assert describe(endpoint, job_id)["status"] == "Cancelled"


def test_the_call_log_names_s3_control_operations(endpoint):
    role, _ = world(endpoint, objects=0)
    job_id = create_job(endpoint, "src", role, token="t-4")[1].findtext(f"{NS}JobId")
    describe(endpoint, job_id)
    calls = json.loads(urllib.request.urlopen(f"{endpoint}/_emulator/calls").read())
    ops = [(c["service"], c["operation"]) for c in calls if c["service"] == "s3control"]
    assert ops == [("s3control", "CreateJob"), ("s3control", "DescribeJob")]


def test_batch_copies_carry_replication_statuses_and_are_not_copied_twice(endpoint):
    role, s3e = world(endpoint, objects=2)
    s3w = client(endpoint, "s3")
    job_id = create_job(endpoint, "src", role, token="t-8")[1].findtext(f"{NS}JobId")
    assert run_to_end(endpoint, job_id)[0]["succeeded"] == 2
    assert s3w.head_object(Bucket="src", Key="f/0.txt")["ReplicationStatus"] == "COMPLETED"
    assert s3e.head_object(Bucket="dst", Key="f/0.txt")["ReplicationStatus"] == "REPLICA"
    # The manifest asks for NONE and FAILED only: a second job finds nothing.
    job_id = create_job(endpoint, "src", role, token="t-9")[1].findtext(f"{NS}JobId")
    assert run_to_end(endpoint, job_id)[0]["total"] == 0


def settings(endpoint, **knobs):
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/_emulator/settings", method="POST",
                                                  data=json.dumps(knobs).encode(),
                                                  headers={"Content-Type": "application/json"}))


def test_a_job_that_ended_long_enough_ago_is_gone_as_on_aws(endpoint):
    role, _ = world(endpoint)
    job_id = create_job(endpoint, "src", role, token="t-4")[1].findtext(f"{NS}JobId")
    run_to_end(endpoint, job_id)
    settings(endpoint, s3_batch_expiry_ms=0)
    status, doc = call(endpoint, "GET", f"/v20180820/jobs/{job_id}")
    assert (status, doc.findtext("Error/Code")) == (404, "NotFoundException")


def test_failed_tasks_are_named_in_the_completion_report(endpoint):
    role, _ = world(endpoint, objects=6)
    s3w = client(endpoint, "s3")
    s3w.create_bucket(Bucket="reports", CreateBucketConfiguration={"LocationConstraint": WEST})
    settings(endpoint, s3_batch_fail_every=3)
    body_report = ("<Report><Bucket>arn:aws:s3:::reports</Bucket><Format>Report_CSV_20180820</Format>"
                   "<Enabled>true</Enabled><Prefix>runs</Prefix><ReportScope>FailedTasksOnly</ReportScope></Report>")
    status, doc = create_job(endpoint, "src", role, token="t-5", drop="Report")
    assert status == 400  # the report is required
    import re
    members = ElementTree.tostring(doc)  # noqa: F841 (the refusal above)
    req = (f'<CreateJobRequest xmlns="{NS[1:-1]}"><ConfirmationRequired>false</ConfirmationRequired>'
           f"<Operation><S3ReplicateObject/></Operation>{body_report}<ClientRequestToken>t-6</ClientRequestToken>"
           f"<Priority>10</Priority><RoleArn>{role}</RoleArn><ManifestGenerator><S3JobManifestGenerator>"
           "<SourceBucket>arn:aws:s3:::src</SourceBucket><EnableManifestOutput>false</EnableManifestOutput>"
           "</S3JobManifestGenerator></ManifestGenerator></CreateJobRequest>")
    job_id = call(endpoint, "POST", "/v20180820/jobs", req)[1].findtext(f"{NS}JobId")
    d, _ = run_to_end(endpoint, job_id)
    assert (d["total"], d["succeeded"], d["failed"]) == (6, 4, 2)
    keys = [o["Key"] for o in s3w.list_objects_v2(Bucket="reports", Prefix=f"runs/job-{job_id}/results/")["Contents"]]
    assert len(keys) == 1
    lines = s3w.get_object(Bucket="reports", Key=keys[0])["Body"].read().decode().splitlines()
    assert len(lines) == 2 and all(re.match(r"src,f/\d\.txt,[^,]*,failed,AccessDenied,403,", l) for l in lines), lines


def test_sse_kms_objects_are_left_out_unless_a_rule_selects_them(endpoint):
    role, s3e = world(endpoint, objects=2)
    s3w = client(endpoint, "s3")
    s3w.put_object(Bucket="src", Key="secret.txt", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="k")
    job_id = create_job(endpoint, "src", role, token="t-7")[1].findtext(f"{NS}JobId")
    d, _ = run_to_end(endpoint, job_id)
    assert (d["total"], d["succeeded"]) == (2, 2), "the SSE-KMS object is not eligible"
    assert "secret.txt" not in [o["Key"] for o in s3e.list_objects_v2(Bucket="dst")["Contents"]]
