"""Live S3 replication: each bucket's replication configuration at work.

moto 5.2.5 stores replication configurations and never replicates. This
copies what the rules select, asynchronously, as the S3 User Guide describes
(the README's fidelity table has one row per behaviour, with its source):

- What replicates: object versions created after the configuration
  ("What does Amazon S3 replicate?": existing objects need Batch
  Replication, `ExistingObjectReplication` is not acted on), by PutObject,
  CopyObject or CompleteMultipartUpload through the API; delete markers
  where the rule asks (V2: `DeleteMarkerReplication` Enabled and no tag in
  the filter; V1 rules, without `Filter`, always: "Backward compatibility");
  tag and ACL changes of a source version, to its replicas. Deleting a
  version by id is never replicated. Objects encrypted with SSE-KMS (or
  DSSE-KMS) only under a rule with `SourceSelectionCriteria`
  `SseKmsEncryptedObjects` Enabled ("Replicating encrypted objects").
- Which rule: enabled rules whose filter (`Prefix`, `Tag`, `And`; V1's
  rule-level `Prefix`) matches; of several rules with one destination the
  highest `Priority` wins (ReplicationRule.Priority).
- Replicas are never replicated again ("Troubleshooting replication": S3
  does not replicate a replica created by another replication
  configuration), except their tag and ACL changes back to the source
  version when the replica's bucket has an enabled rule towards the source
  bucket with `ReplicaModifications` Enabled (replica modification sync;
  both buckets must enable it).
- Status (`x-amz-replication-status` on GetObject / HeadObject,
  "Getting replication status information"): an eligible source version is
  PENDING from its write, then COMPLETED when every destination has it, or
  FAILED (destination bucket missing or not versioning-enabled, the role
  gone or not trusting s3.amazonaws.com, or the bucket set to fail); FAILED
  is final. A replica is REPLICA, PENDING while a change of its own syncs
  back (GetObject, ReplicationStatus: "REPLICA ... if ... there is no
  replica modification replication in progress"). A transient failure (the
  source or destination region down, the bucket paused) keeps PENDING and
  replication resumes when it clears.
- A replica keeps the source version's key, version id, metadata, content,
  ACL, tags, encryption, storage class (or the destination's
  `StorageClass`) and creation time ("Replicating objects overview";
  "Additional considerations": lifecycle rules see the source's creation
  time).

Knobs: the setting `s3_replication_ms` (the delay between a write and its
replication, default 100) and, per source bucket, `POST
/_emulator/s3/replication {"bucket", "mode": "running" | "paused" |
"failing"}` (paused: new writes stay PENDING until running again; failing:
they end FAILED, as with a role that lost its permissions). `GET
/_emulator/s3/replication` shows the modes, the queue and counters.

Idle cost is nil: the one worker thread starts with the first replicated
write; `POST /moto-api/reset` stops it and forgets the queue.
"""

import heapq
import itertools
import json
import threading
import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlparse

from . import regions
from .settings import SETTINGS

HEADER = "x-amz-replication-status"
COND = threading.Condition()
QUEUE: list = []  # heap of (due, seq, task)
PARKED: list = []  # tasks of paused buckets, in order
MODES: dict[str, str] = {}  # source bucket -> running | paused | failing
COUNTS = {"replicated": 0, "failed": 0, "markers": 0, "metadata": 0}
_SEQ = itertools.count()
_WORKER: threading.Thread | None = None
_STOP = False
# Writes the worker makes itself are replicas: never queued again.
_LOCAL = threading.local()


def reset() -> None:
    global _STOP, _WORKER
    with COND:
        QUEUE.clear()
        PARKED.clear()
        MODES.clear()
        for k in COUNTS:
            COUNTS[k] = 0
        _STOP = True
        COND.notify_all()
        worker, _WORKER = _WORKER, None
    if worker is not None and worker is not threading.current_thread():
        worker.join(timeout=5)


# ------------------------------------------------------------ the rules ---


def _backend(account: str):
    from moto.s3.models import s3_backends

    return s3_backends[account]["aws"]


def _rules(bucket) -> tuple[str, list[dict]]:
    from .s3 import _plain

    conf = getattr(bucket, "replication", None) or {}
    rules = conf.get("Rule") or []
    rules = rules if isinstance(rules, list) else [rules]
    return str(conf.get("Role") or ""), [_plain(r) for r in rules if isinstance(r, dict)]


def _enabled(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("Status") == "Enabled"


def _tags_of(tags: Any) -> list[dict]:
    if isinstance(tags, dict):
        return [tags]
    return [t for t in tags or [] if isinstance(t, dict)]


def _matches(rule: dict, name: str, tags: dict[str, str]) -> bool:
    if "Filter" not in rule:  # V1: the rule's own Prefix
        return name.startswith(str(rule.get("Prefix") or ""))
    f = rule.get("Filter") or {}
    if not isinstance(f, dict):
        return True
    wanted = _tags_of(f.get("Tag")) + _tags_of((f.get("And") or {}).get("Tags"))
    prefix = str(f.get("Prefix") or (f.get("And") or {}).get("Prefix") or "")
    return name.startswith(prefix) and all(tags.get(t.get("Key")) == t.get("Value") for t in wanted)


def _has_tag_filter(rule: dict) -> bool:
    f = rule.get("Filter") or {}
    return isinstance(f, dict) and bool(_tags_of(f.get("Tag")) + _tags_of((f.get("And") or {}).get("Tags")))


def _dest(rule: dict) -> str:
    return str((rule.get("Destination") or {}).get("Bucket") or "").split(":::")[-1]


def _kms(key) -> bool:
    return str(getattr(key, "encryption", "") or "").startswith("aws:kms")


def _tags(backend, key) -> dict[str, str]:
    return backend.tagger.get_tag_dict_for_resource(key.arn)


def _destinations(bucket, key, backend) -> list[tuple[str, dict]]:
    """(destination bucket, rule) for a new version of `key`: the enabled
    rules that select it, the highest priority per destination."""
    _, rules = _rules(bucket)
    tags = _tags(backend, key)
    best: dict[str, tuple[int, dict]] = {}
    for r in rules:
        if not _enabled(r) or not _matches(r, key.name, tags):
            continue
        if _kms(key) and not _enabled((r.get("SourceSelectionCriteria") or {}).get("SseKmsEncryptedObjects")):
            continue
        prio = int(r.get("Priority") or 0)
        if _dest(r) not in best or prio > best[_dest(r)][0]:
            best[_dest(r)] = (prio, r)
    return [(d, r) for d, (_, r) in sorted(best.items())]


def _marker_destinations(bucket, name: str) -> list[tuple[str, dict]]:
    _, rules = _rules(bucket)
    best: dict[str, tuple[int, dict]] = {}
    for r in rules:
        if not _enabled(r) or not _matches(r, name, {}):
            continue
        v1 = "Filter" not in r
        if not v1 and (not _enabled(r.get("DeleteMarkerReplication")) or _has_tag_filter(r)):
            continue
        prio = int(r.get("Priority") or 0)
        if _dest(r) not in best or prio > best[_dest(r)][0]:
            best[_dest(r)] = (prio, r)
    return [(d, r) for d, (_, r) in sorted(best.items())]


def _version(bucket, name: str, version_id: str | None):
    versions = bucket.keys.getlist(name, []) if name in bucket.keys else []
    if version_id is None:
        return versions[-1] if versions else None
    return next((v for v in versions if str(v.version_id) == str(version_id)), None)


# ---------------------------------------------------------------- queue ---


def _enqueue(task: dict, delay_s: float | None = None) -> None:
    global _WORKER, _STOP
    delay = SETTINGS.get("s3_replication_ms", 100) / 1000 if delay_s is None else delay_s
    with COND:
        heapq.heappush(QUEUE, (time.monotonic() + delay, next(_SEQ), task))
        if _WORKER is None:
            _STOP = False
            _WORKER = threading.Thread(target=_work, name="s3-replication", daemon=True)
            _WORKER.start()
        COND.notify_all()


def _work() -> None:
    while True:
        with COND:
            while not _STOP and (not QUEUE or QUEUE[0][0] > time.monotonic()):
                COND.wait(None if not QUEUE else max(0.0, QUEUE[0][0] - time.monotonic()))
            if _STOP:
                return
            _, _, task = heapq.heappop(QUEUE)
        _LOCAL.replicating = True
        try:
            _run(task)
        except Exception as e:  # a bug here must not kill the worker
            import sys

            print(f"s3_replication: {task.get('kind')} {task.get('key')}: {e!r}", file=sys.stderr)
        finally:
            _LOCAL.replicating = False


def set_mode(bucket: str, mode: str) -> dict:
    if mode not in ("running", "paused", "failing"):
        raise ValueError(f"mode must be running, paused or failing, not {mode!r}")
    with COND:
        if mode == "running":
            MODES.pop(bucket, None)
        else:
            MODES[bucket] = mode
        resumed = [t for t in PARKED if t["bucket"] == bucket] if mode != "paused" else []
        PARKED[:] = [t for t in PARKED if t not in resumed]
    for t in resumed:
        _enqueue(t, 0)
    return status()


def status() -> dict:
    with COND:
        return {"modes": dict(MODES), "queued": len(QUEUE), "parked": len(PARKED), "counts": dict(COUNTS),
                "worker": _WORKER is not None}


# ------------------------------------------------------------ the work ---


def _role_refusal(account: str, role_arn: str) -> str | None:
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[account]["global"].get_role_by_arn(role_arn)
    except Exception:
        return f"role {role_arn} does not exist"
    if "s3.amazonaws.com" not in json.dumps(json.loads(role.assume_role_policy_document)):
        return f"role {role_arn} does not trust s3.amazonaws.com"
    return None


def _transient(task: dict, backend) -> bool:
    """A region down or the bucket paused: try again later, still PENDING."""
    if MODES.get(task["bucket"]) == "paused":
        with COND:
            PARKED.append(task)
        return True
    places = [task["bucket"]] + [d for d, _ in task.get("dests", [])]
    for name in places:
        b = backend.buckets.get(name)
        if b is not None and regions.is_down(getattr(b, "region_name", None)):
            _enqueue(task, 1.0)
            return True
    return False


def _copy(backend, src, src_bucket: str, dest: str, rule: dict) -> None:
    """The replica of `src` in `dest`: same key, version id, content and metadata."""
    target = backend.get_bucket(dest)
    if target.versioning_status != "Enabled":
        raise ValueError(f"destination bucket {dest} is not versioning-enabled")
    storage = (rule.get("Destination") or {}).get("StorageClass") or src.storage_class
    tags = backend.tagger.list_tags_for_resource(src.arn).get("Tags", [])
    copy = backend.put_object(dest, src.name, src.value, storage=storage, encryption=src.encryption,
                              kms_key_id=src.kms_key_id, disable_notification=True)
    copy._version_id = src.version_id
    copy.set_metadata(dict(src.metadata), replace=True)
    copy.set_acl(src.acl)
    copy.last_modified = src.last_modified
    if tags:
        backend.tagger.tag_resource(copy.arn, tags)
    copy._emu_replication = "REPLICA"
    copy._emu_replica_of = src_bucket


def _sync_back(backend, task: dict, replica) -> None:
    """A replica's tag or ACL change, synced back to the source version."""
    source = backend.buckets.get(task["origin"])
    orig = _version(source, task["key"], task["version"]) if source is not None else None
    if orig is not None:
        backend.tagger.delete_all_tags_for_resource(orig.arn)
        backend.tagger.tag_resource(orig.arn, backend.tagger.list_tags_for_resource(replica.arn).get("Tags", []))
        orig.set_acl(replica.acl)
    replica._emu_replication = "REPLICA" if orig is not None else "FAILED"
    COUNTS["metadata"] += 1


def _run(task: dict) -> None:
    backend = _backend(task["account"])
    bucket = backend.buckets.get(task["bucket"])
    if bucket is None or _transient(task, backend):
        return
    src = _version(bucket, task["key"], task["version"])
    if src is None:
        return  # deleted by version id meanwhile: nothing to replicate
    kind = task["kind"]
    if kind == "back":
        return _sync_back(backend, task, src)
    role, _ = _rules(bucket)
    refused = "replication of this bucket is set to fail" if MODES.get(task["bucket"]) == "failing" else None
    refused = refused or _role_refusal(task["account"], role)
    if kind == "marker":
        for dest, _ in task["dests"] if refused is None else []:
            target = backend.buckets.get(dest)
            if target is None or target.versioning_status != "Enabled":
                continue
            from moto.s3.models import FakeDeleteMarker

            current = target.keys.get(task["key"]) if task["key"] in target.keys else None
            marker = FakeDeleteMarker(key=current or SimpleNamespace(name=task["key"]))
            marker._version_id = src.version_id
            marker.last_modified = src.last_modified
            target.keys[task["key"]] = marker
        COUNTS["markers"] += 1
        return
    if kind == "meta":
        # A source version's tag or ACL change, to its replicas.
        for dest, _ in task["dests"]:
            target = backend.buckets.get(dest)
            replica = _version(target, task["key"], task["version"]) if target is not None else None
            if replica is not None and refused is None:
                backend.tagger.delete_all_tags_for_resource(replica.arn)
                backend.tagger.tag_resource(replica.arn, backend.tagger.list_tags_for_resource(src.arn).get("Tags", []))
                replica.set_acl(src.acl)
        COUNTS["metadata"] += 1
        return
    ok = refused is None
    if ok:
        for dest, rule in task["dests"]:
            try:
                _copy(backend, src, task["bucket"], dest, rule)
            except Exception:
                ok = False
    src._emu_replication = "COMPLETED" if ok else "FAILED"
    COUNTS["replicated" if ok else "failed"] += 1


# ------------------------------------------------------------- the hooks ---


def _new_version(backend, account: str, bucket_name: str, name: str) -> None:
    bucket = backend.buckets.get(bucket_name)
    if bucket is None or not getattr(bucket, "replication", None):
        return
    key = _version(bucket, name, None)
    if key is None or not hasattr(key, "value") or getattr(key, "_emu_replication", None) == "REPLICA":
        return
    dests = _destinations(bucket, key, backend)
    if not dests:
        return
    key._emu_replication = "PENDING"
    _enqueue({"kind": "object", "account": account, "bucket": bucket_name, "key": name,
              "version": key.version_id, "dests": dests})


def _metadata_changed(backend, account: str, bucket_name: str, name: str, version_id: str | None) -> None:
    bucket = backend.buckets.get(bucket_name)
    key = _version(bucket, name, version_id) if bucket is not None else None
    state = getattr(key, "_emu_replication", None)
    if key is None or state is None:
        return
    if state == "REPLICA":
        origin = getattr(key, "_emu_replica_of", "")
        _, rules = _rules(bucket)
        back = [r for r in rules if _enabled(r) and _dest(r) == origin and _matches(r, name, _tags(backend, key))
                and _enabled((r.get("SourceSelectionCriteria") or {}).get("ReplicaModifications"))]
        if back:
            key._emu_replication = "PENDING"
            _enqueue({"kind": "back", "account": account, "bucket": bucket_name, "key": name,
                      "version": key.version_id, "origin": origin})
        return
    dests = _destinations(bucket, key, backend)
    if dests:
        _enqueue({"kind": "meta", "account": account, "bucket": bucket_name, "key": name,
                  "version": key.version_id, "dests": dests})


def _strip(response: Any) -> Any:
    """PutObject, CopyObject and CompleteMultipartUpload answer without the status header."""
    if isinstance(response, tuple) and len(response) == 3 and isinstance(response[1], dict):
        response[1].pop(HEADER, None)
    return response


def fix_replicate_writes() -> None:
    from moto.s3.models import FakeKey, S3Backend
    from moto.s3.responses import S3Response

    original_dict = FakeKey.response_dict

    def response_dict(self) -> dict:
        out = original_dict.fget(self)
        state = getattr(self, "_emu_replication", None)
        if state:
            out[HEADER] = state
        return out

    FakeKey.response_dict = property(response_dict)

    original_key_response = S3Response._key_response

    def _key_response(self, request, full_url):
        response = original_key_response(self, request, full_url)
        method = request.method
        if method not in ("PUT", "POST", "DELETE") or getattr(_LOCAL, "replicating", False):
            return response
        status = response[0] if isinstance(response, tuple) else 500
        if not isinstance(status, int) or status >= 300:
            return _strip(response)
        query = parse_qs(urlparse(full_url).query, keep_blank_values=True)
        bucket_name = self.parse_bucket_name_from_url(request, full_url)
        name = self.parse_key_name()
        version = (query.get("versionId") or [None])[0]
        account = self.current_account
        if method == "PUT" and not ("uploadId" in query and "partNumber" in query):
            if any(q in query for q in ("tagging", "acl")):
                _metadata_changed(self.backend, account, bucket_name, name, version)
            elif not any(q in query for q in ("retention", "legal-hold")):
                _new_version(self.backend, account, bucket_name, name)
        elif method == "POST" and "uploadId" in query:
            _new_version(self.backend, account, bucket_name, name)
        elif method == "DELETE" and "tagging" in query:
            _metadata_changed(self.backend, account, bucket_name, name, version)
        return _strip(response)

    S3Response._key_response = _key_response

    original_delete = S3Backend.delete_object

    def delete_object(self, bucket_name, key_name, version_id=None, bypass=False):
        ok, meta = original_delete(self, bucket_name, key_name, version_id=version_id, bypass=bypass)
        # A delete marker made by a user (DeleteObject or DeleteObjects
        # without a version id); deleting a version by id never replicates.
        if version_id is None and meta.get("delete-marker") == "true" and not getattr(_LOCAL, "replicating", False):
            bucket = self.buckets.get(bucket_name)
            dests = _marker_destinations(bucket, key_name) if bucket is not None else []
            if dests:
                _enqueue({"kind": "marker", "account": self.account_id, "bucket": bucket_name, "key": key_name,
                          "version": meta.get("version-id"), "dests": dests})
        return ok, meta

    S3Backend.delete_object = delete_object


def copy_for_batch(account: str, source_key, source_bucket: str, dest: str, rule: dict) -> None:
    """Batch Replication copies a version like live replication does."""
    _copy(_backend(account), source_key, source_bucket, dest, rule)


def apply() -> None:
    fix_replicate_writes()
