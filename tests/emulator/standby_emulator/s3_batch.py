"""S3 Batch Operations jobs (S3 Control), the Batch Replication case.

moto 5.2.5 has no S3 Batch Operations. This follows the S3 Control API
reference (CreateJob, DescribeJob, UpdateJobStatus; REST-XML under
/v20180820/jobs, account in the x-amz-account-id header) and the S3 user
guide's "Replicating existing objects with S3 Batch Replication":

- CreateJob needs Operation, Report, Priority, RoleArn, ClientRequestToken
  and a Manifest or a ManifestGenerator; a repeated ClientRequestToken
  returns the same job (idempotent). Missing members: 400 InvalidRequest.
- The job is asynchronous: New -> Preparing -> Active -> Complete (one step
  per DescribeJob, so callers must poll like against AWS).
- When it runs, AWS fails the whole job (Status Failed, FailureReasons) if
  the role cannot be assumed by batchoperations.s3.amazonaws.com or the
  source bucket has no replication configuration.
- S3ReplicateObject copies each eligible object (the generator's filter:
  the replication statuses asked for, e.g. NONE or FAILED, against the
  statuses live replication keeps, s3_replication.py) to the destination
  bucket of every enabled rule, for real, as live replication copies (same
  version id, metadata, tags), so tests can look in the destination; the
  source then reads COMPLETED (or FAILED), the copy REPLICA. A destination that is missing or not
  versioned fails that object's task (NumberOfTasksFailed). An object
  encrypted with SSE-KMS is eligible only when a rule selects such objects
  (SourceSelectionCriteria.SseKmsEncryptedObjects Enabled; botocore
  PutBucketReplication: "By default, Amazon S3 doesn't replicate objects
  that are stored at rest using server-side encryption with KMS keys"):
  otherwise the generated manifest leaves it out (whether AWS leaves such
  objects out or fails their tasks is not documented; out is the silent
  case a plan must prevent).
- A report (Report{Enabled, Bucket, Prefix, Format Report_CSV_20180820,
  ReportScope}) is written when the job ends: `<prefix>/job-<id>/results/
  <uuid>.csv`, one line per task in scope (Bucket, Key, VersionId,
  TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage; S3 guide,
  "Completion reports"), FailedTasksOnly by default here.
- A job ended more than s3_batch_expiry_ms ago (AWS: 90 days) is gone:
  DescribeJob answers 404 NotFoundException (the S3 Control service model's
  DescribeJob error; the S3 guide's troubleshooting page calls it
  "NoSuchJobException").
- UpdateJobStatus(requestedJobStatus=Cancelled) cancels a job that has not
  finished.
"""

import json
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import xmltodict

from . import s3_replication, settings
from .s3 import _plain

LOCK = threading.Lock()
JOBS: dict[tuple[str, str], dict[str, Any]] = {}  # (account, job id) -> job
TOKENS: dict[tuple[str, str], str] = {}  # (account, client token) -> job id
NS = "http://awss3control.amazonaws.com/doc/2018-08-20/"
PATH = "/v20180820/jobs"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def reset() -> None:
    with LOCK:
        JOBS.clear()
        TOKENS.clear()


def handles(path: str) -> bool:
    return path == PATH or path.startswith(PATH + "/")


def _xml(status: int, start_response, body: str) -> list[bytes]:
    data = ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
    start_response(f"{status} {reason}", [("Content-Type", "application/xml"), ("Content-Length", str(len(data))),
                                          ("x-amz-request-id", uuid.uuid4().hex)])
    return [data]


def _error(e: ApiError, start_response) -> list[bytes]:
    body = (f"<ErrorResponse><Error><Code>{escape(e.code)}</Code><Message>{escape(e.message)}</Message></Error>"
            f"<RequestId>{uuid.uuid4().hex}</RequestId></ErrorResponse>")
    return _xml(e.status, start_response, body)


def _region(environ: dict) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        return auth.split("Credential=")[1].split("/")[2]
    except IndexError:
        return "us-east-1"


def handle(environ: dict, start_response, body: bytes) -> list[bytes]:
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO", "")
    account = environ.get("HTTP_X_AMZ_ACCOUNT_ID", "")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    try:
        if not account:
            raise ApiError(400, "InvalidRequest", "Missing required header x-amz-account-id")
        with LOCK:
            if method == "POST" and path == PATH:
                return _xml(200, start_response, _create(account, _region(environ), body))
            parts = path[len(PATH) + 1:].split("/")
            job = JOBS.get((account, parts[0]))
            if job is not None and _expired(job):
                del JOBS[(account, parts[0])]
                job = None
            if job is None:
                raise ApiError(404, "NotFoundException", f"The specified job does not exist: {parts[0]}")
            if method == "GET" and len(parts) == 1:
                _advance(job)
                return _xml(200, start_response, _describe(job))
            if method == "POST" and parts[1:] == ["status"]:
                return _xml(200, start_response, _update_status(job, query))
        raise ApiError(400, "InvalidRequest", f"unsupported S3 Control request {method} {path}")
    except ApiError as e:
        return _error(e, start_response)


def _create(account: str, region: str, body: bytes) -> str:
    try:
        req = xmltodict.parse(body or b"<x/>").get("CreateJobRequest") or {}
    except Exception as e:  # malformed XML
        raise ApiError(400, "MalformedXML", str(e))
    for member in ["Operation", "Report", "Priority", "RoleArn", "ClientRequestToken"]:
        if req.get(member) in (None, ""):
            raise ApiError(400, "InvalidRequest", f"Missing required field {member}")
    if not req.get("Manifest") and not req.get("ManifestGenerator"):
        raise ApiError(400, "InvalidRequest", "Either Manifest or ManifestGenerator is required")
    report = req["Report"] or {}
    if str(report.get("Enabled")).lower() == "true" and not report.get("Bucket"):
        raise ApiError(400, "InvalidRequest", "Report Bucket is required when the report is enabled")
    token = req["ClientRequestToken"]
    if (account, token) in TOKENS:
        return f'<CreateJobResult xmlns="{NS}"><JobId>{TOKENS[(account, token)]}</JobId></CreateJobResult>'
    operation = req["Operation"] or {}
    if "S3ReplicateObject" not in operation:
        raise ApiError(400, "InvalidRequest", "this emulator runs S3ReplicateObject jobs only")
    gen = ((req.get("ManifestGenerator") or {}).get("S3JobManifestGenerator")) or {}
    source = gen.get("SourceBucket", "")
    if not source.startswith("arn:aws:s3:::"):
        raise ApiError(400, "InvalidRequest", "ManifestGenerator SourceBucket must be a bucket ARN")
    job_id = str(uuid.uuid4())
    JOBS[(account, job_id)] = {
        "account": account, "region": region, "id": job_id, "status": "New", "priority": int(req["Priority"]),
        "role": req["RoleArn"], "description": req.get("Description") or "", "source": source[len("arn:aws:s3:::"):],
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"), "total": 0, "succeeded": 0,
        "failed": 0, "failures": [], "terminated": None, "ended": None,
        "report": report if str(report.get("Enabled")).lower() == "true" else None, "failed_tasks": [],
        "statuses": _filter_statuses(gen),
    }
    TOKENS[(account, token)] = job_id
    return f'<CreateJobResult xmlns="{NS}"><JobId>{job_id}</JobId></CreateJobResult>'


def _advance(job: dict) -> None:
    # Each status lasts at least s3_batch_step_ms (a lag knob for tests).
    step = settings.SETTINGS.get("s3_batch_step_ms", 0) / 1000
    if step and time.monotonic() - job.setdefault("_since", time.monotonic()) < step:
        return
    job["_since"] = time.monotonic()
    now = job["status"]
    if now == "New":
        job["status"] = "Preparing"
    elif now == "Preparing":
        job["status"] = "Active"
    elif now == "Active":
        _run(job)
        job["terminated"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        job["ended"] = time.time()
        _write_report(job)


def _filter_statuses(gen: dict) -> set[str]:
    """The generated manifest's ObjectReplicationStatuses filter (all when absent)."""
    statuses = ((gen.get("Filter") or {}).get("ObjectReplicationStatuses") or {}).get("member")
    if statuses is None:
        return {"NONE", "FAILED", "COMPLETED", "REPLICA"}
    return set(statuses if isinstance(statuses, list) else [statuses])


def _expired(job: dict) -> bool:
    return job.get("ended") is not None and (time.time() - job["ended"]) * 1000 > settings.SETTINGS.get(
        "s3_batch_expiry_ms", 90 * 24 * 3600 * 1000)


def _write_report(job: dict) -> None:
    """The completion report: the tasks in scope, as CSV, under the prefix."""
    from urllib.parse import quote

    from moto.s3.models import s3_backends

    report = job.get("report")
    if not report:
        return
    bucket = str(report.get("Bucket", "")).split(":::")[-1]
    prefix = str(report.get("Prefix") or "").rstrip("/")
    lines = [f"{job['source']},{quote(key)},{version or ''},failed,{code},{http},{msg.replace(',', ';')}"
             for key, version, code, http, msg in job["failed_tasks"]]
    key = f"{prefix}/job-{job['id']}/results/{uuid.uuid4()}.csv".lstrip("/")
    try:
        s3_backends[job["account"]]["aws"].put_object(bucket, key, ("\n".join(lines) + "\n").encode())
    except Exception as e:
        job["failures"].append(("ReportFailed", f"the report could not be written to {bucket}: {e}"))


def _fail(job: dict, code: str, reason: str) -> None:
    job["status"] = "Failed"
    job["failures"].append((code, reason))


def _run(job: dict) -> None:
    from moto.iam.models import iam_backends
    from moto.s3.models import FakeDeleteMarker, s3_backends

    account = job["account"]
    try:
        role = iam_backends[account]["global"].get_role_by_arn(job["role"])
        trust = json.dumps(json.loads(role.assume_role_policy_document))
    except Exception:
        return _fail(job, "AccessDenied", f"Role {job['role']} cannot be assumed: it does not exist")
    if "batchoperations.s3.amazonaws.com" not in trust:
        return _fail(job, "AccessDenied",
                     f"Role {job['role']} cannot be assumed by batchoperations.s3.amazonaws.com")
    s3 = s3_backends[account]["aws"]
    try:
        bucket = s3.get_bucket(job["source"])
    except Exception:
        return _fail(job, "NoSuchBucket", f"The source bucket {job['source']} does not exist")
    replication = getattr(bucket, "replication", None)
    rules = [r for r in (replication or {}).get("Rule", []) if r.get("Status") == "Enabled"]
    if not rules:
        return _fail(job, "ReplicationConfigurationNotFoundError",
                     f"The source bucket {job['source']} has no enabled replication rule")
    done = job.setdefault("replicated", set())
    kms_rules = [r for r in rules if (((r.get("SourceSelectionCriteria") or {}).get("SseKmsEncryptedObjects") or {})
                                      .get("Status")) == "Enabled"]
    every = settings.SETTINGS.get("s3_batch_fail_every", 0)
    for name, key in list(bucket.keys.items()):
        if isinstance(key, FakeDeleteMarker) or (name, key.version_id) in done:
            continue
        # The manifest filter, against the statuses live replication keeps
        # (s3_replication.py).
        if (getattr(key, "_emu_replication", None) or "NONE") not in job["statuses"]:
            continue
        kms = str(getattr(key, "encryption", "") or "").startswith("aws:kms")
        if kms and not kms_rules:
            continue  # not eligible: no rule replicates SSE-KMS objects
        job["total"] += 1
        ok, why = True, ""
        if every and job["total"] % every == 0:
            ok, why = False, "AccessDenied,403,Access Denied (emulator fault: s3_batch_fail_every)"
        for rule in (kms_rules if kms else rules) if ok else []:
            dest = str((rule.get("Destination") or {}).get("Bucket", "")).split(":::")[-1]
            try:
                s3_replication.copy_for_batch(account, key, job["source"], dest, _plain(rule))
            except Exception as e:
                ok, why = False, f"InvalidRequest,400,{e}"
        if getattr(key, "_emu_replication", None) != "REPLICA":
            key._emu_replication = "COMPLETED" if ok else "FAILED"
        if ok:
            job["succeeded"] += 1
            done.add((name, key.version_id))
        else:
            job["failed"] += 1
            code, http, msg = why.split(",", 2)
            job["failed_tasks"].append((name, key.version_id, code, http, msg))
    job["status"] = "Complete"


def _describe(job: dict) -> str:
    failures = "".join(f"<member><FailureCode>{escape(c)}</FailureCode><FailureReason>{escape(r)}</FailureReason>"
                       f"</member>" for c, r in job["failures"])
    terminated = f"<TerminationDate>{job['terminated']}</TerminationDate>" if job["terminated"] else ""
    return (
        f'<DescribeJobResult xmlns="{NS}"><Job>'
        f"<JobId>{job['id']}</JobId><ConfirmationRequired>false</ConfirmationRequired>"
        f"<Description>{escape(job['description'])}</Description>"
        f"<JobArn>arn:aws:s3:{job['region']}:{job['account']}:job/{job['id']}</JobArn>"
        f"<Status>{job['status']}</Status><Operation><S3ReplicateObject/></Operation>"
        f"<Priority>{job['priority']}</Priority>"
        f"<ProgressSummary><TotalNumberOfTasks>{job['total']}</TotalNumberOfTasks>"
        f"<NumberOfTasksSucceeded>{job['succeeded']}</NumberOfTasksSucceeded>"
        f"<NumberOfTasksFailed>{job['failed']}</NumberOfTasksFailed></ProgressSummary>"
        f"<FailureReasons>{failures}</FailureReasons>{_report_xml(job.get('report'))}"
        f"<CreationTime>{job['created']}</CreationTime>{terminated}<RoleArn>{escape(job['role'])}</RoleArn>"
        f"<ManifestGenerator><S3JobManifestGenerator><SourceBucket>arn:aws:s3:::{escape(job['source'])}"
        f"</SourceBucket><EnableManifestOutput>false</EnableManifestOutput></S3JobManifestGenerator>"
        f"</ManifestGenerator></Job></DescribeJobResult>"
    )


def _report_xml(report: dict | None) -> str:
    if not report:
        return "<Report><Enabled>false</Enabled></Report>"
    return (f"<Report><Bucket>{escape(str(report.get('Bucket', '')))}</Bucket>"
            f"<Format>{escape(str(report.get('Format') or 'Report_CSV_20180820'))}</Format><Enabled>true</Enabled>"
            f"<Prefix>{escape(str(report.get('Prefix') or ''))}</Prefix>"
            f"<ReportScope>{escape(str(report.get('ReportScope') or 'AllTasks'))}</ReportScope></Report>")


def _update_status(job: dict, query: dict) -> str:
    wanted = (query.get("requestedJobStatus") or [""])[0]
    if wanted != "Cancelled":
        raise ApiError(400, "InvalidRequest", f"requestedJobStatus {wanted!r} is not supported here")
    if job["status"] in ("Complete", "Failed", "Cancelled"):
        raise ApiError(400, "JobStatusException", f"Job {job['id']} is {job['status']} and cannot be cancelled")
    job["status"] = "Cancelled"
    return (f'<UpdateJobStatusResult xmlns="{NS}"><JobId>{job["id"]}</JobId><Status>Cancelled</Status>'
            f"</UpdateJobStatusResult>")
