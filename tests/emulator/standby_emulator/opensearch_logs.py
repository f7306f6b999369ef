"""OpenSearch Service log publishing to CloudWatch Logs (LogPublishingOptions).

AWS OpenSearch Service Developer Guide, "Monitoring OpenSearch logs with
Amazon CloudWatch Logs" (createdomain-configure-slow-logs.md): the log group
must exist, and a CloudWatch Logs resource policy must let the service
principal `es.amazonaws.com` call `logs:PutLogEvents` and
`logs:CreateLogStream` on `<log group arn>:*` (AWS recommends narrowing it
with `aws:SourceAccount` and `aws:SourceArn`). Otherwise CreateDomain and
UpdateDomainConfig fail with 400 ValidationException: "The Resource Access
Policy specified for the CloudWatch Logs log group <name> does not grant
sufficient permissions for Amazon OpenSearch Service to create a log
stream. Please check the Resource Access Policy."

UpdateDomainConfig changes only the log types it names (the others keep
their setting). moto 5.2.5 accepts any LogPublishingOptions without looking
at CloudWatch Logs, and an update replaces the whole map.
"""

import fnmatch
import json
import time
from typing import Any

from moto.logs.models import logs_backends
from moto.opensearch.models import OpenSearchServiceBackend

from .access_policy import _list
from .opensearch_security import audit_store
from .opensearch import ValidationException

SERVICE = "es.amazonaws.com"
ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")


def _group_of(arn: str) -> tuple[str, str, str] | None:
    """(account, region, group name) of a log group ARN, with or without `:*`."""
    parts = arn.split(":", 6)
    if len(parts) < 7 or parts[2] != "logs" or parts[5] != "log-group":
        return None
    name = parts[6][:-2] if parts[6].endswith(":*") else parts[6]
    return parts[4], parts[3], name


def _condition_holds(cond: Any, account: str, domain_arn: str) -> bool:
    """The keys AWS documents for this policy; other operators are not evaluated (held)."""
    for op, pairs in (cond or {}).items():
        for key, want in (pairs or {}).items():
            values = _list(want)
            k = key.lower()
            if k == "aws:sourceaccount":
                got = account
            elif k == "aws:sourcearn":
                got = domain_arn
            else:
                continue
            if op in ("StringEquals", "ArnEquals") and got not in values:
                return False
            if op in ("StringLike", "ArnLike") and not any(fnmatch.fnmatchcase(got, v) for v in values):
                return False
    return True


def _allows(doc: str, action: str, resource: str, account: str, domain_arn: str) -> bool:
    try:
        policy = json.loads(doc)
    except ValueError:
        return False
    allowed = False
    for st in _list(policy.get("Statement")):
        principal = st.get("Principal")
        services = _list(principal.get("Service")) if isinstance(principal, dict) else _list(principal)
        if SERVICE not in services and "*" not in services:
            continue
        actions = [a.lower() for a in _list(st.get("Action"))]
        if not any(fnmatch.fnmatchcase(action.lower(), a) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in _list(st.get("Resource"))):
            continue
        if not _condition_holds(st.get("Condition"), account, domain_arn):
            continue
        if st.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


def check(account: str, region: str, domain_name: str, options: dict | None) -> None:
    """Refuses options whose log group is missing or not writable by the service."""
    domain_arn = f"arn:aws:es:{region}:{account}:domain/{domain_name}"
    for log_type, opt in (options or {}).items():
        if not opt.get("Enabled", True):
            continue
        arn = opt.get("CloudWatchLogsLogGroupArn") or ""
        where = _group_of(arn)
        if where is None:
            raise ValidationException(f"The ARN {arn!r} given for {log_type} is not a CloudWatch Logs log group ARN.")
        g_account, g_region, name = where
        backend = logs_backends[g_account][g_region]
        if g_region != region or name not in backend.groups:
            raise ValidationException(f"The specified CloudWatch Logs log group {name} does not exist.")
        stream_arn = f"arn:aws:logs:{g_region}:{g_account}:log-group:{name}:log-stream:{domain_name}"
        docs = [p.policy_document for p in backend.resource_policies.values()]
        if not all(any(_allows(d, a, stream_arn, account, domain_arn) for d in docs) for a in ACTIONS):
            raise ValidationException(
                f"The Resource Access Policy specified for the CloudWatch Logs log group {name} does not grant "
                "sufficient permissions for Amazon OpenSearch Service to create a log stream. Please check the "
                "Resource Access Policy."
            )


def fix_log_publishing() -> None:
    """CreateDomain/UpdateDomainConfig check LogPublishingOptions; an update merges by log type."""
    create = OpenSearchServiceBackend.create_domain
    update = OpenSearchServiceBackend.update_domain_config

    def create_domain(self, domain_name, *args, **kwargs):
        if domain_name not in self.domains:
            check(self.account_id, self.region_name, domain_name, kwargs.get("log_publishing_options"))
        return create(self, domain_name, *args, **kwargs)

    def update_domain_config(self, domain_name, *args, **kwargs):
        given = kwargs.get("log_publishing_options")
        domain = self.domains.get(domain_name)
        if given and domain is not None:
            check(self.account_id, self.region_name, domain_name, given)
            merged = dict(domain.log_publishing_options or {})
            merged.update(given)
            kwargs["log_publishing_options"] = merged
        return update(self, domain_name, *args, **kwargs)

    OpenSearchServiceBackend.create_domain = create_domain
    OpenSearchServiceBackend.update_domain_config = update_domain_config


def apply() -> None:
    fix_log_publishing()


# ---------------------------------------------------------- audit events ---
# What the security plugin writes to the AUDIT_LOGS stream (AWS, "Monitoring
# audit logs", "Audit log example"): one JSON message per audited event, and
# only while both steps are done: AUDIT_LOGS published to a group, and audit
# logging enabled in the plugin (its audit config, opensearch_security.py).
# The emulator audits the REST layer: FAILED_LOGIN (bad credentials),
# MISSING_PRIVILEGES (a 403 from fine-grained access control),
# GRANTED_PRIVILEGES (everything else), each filtered by the config's
# `enable_rest`, `disabled_rest_categories` and `ignore_users`, as the
# plugin does; the body is included only with `log_request_body`.


def audit_event(account: str, region: str, domain, category: str, user: str | None, method: str, path: str,
                body: bytes = b"") -> None:
    cfg = audit_store(domain)
    audit = cfg["audit"]
    if not cfg["enabled"] or not audit["enable_rest"] or category in audit["disabled_rest_categories"]:
        return
    if user and any(fnmatch.fnmatchcase(user, p) for p in audit["ignore_users"]):
        return
    opt = (domain.log_publishing_options or {}).get("AUDIT_LOGS") or {}
    where = _group_of(opt.get("CloudWatchLogsLogGroupArn") or "")
    if not opt.get("Enabled") or where is None:
        return
    g_account, g_region, name = where
    backend = logs_backends[g_account][g_region]
    group = backend.groups.get(name)
    if group is None:
        return
    stream = f"{domain.domain_name}-audit"
    if stream not in group.streams:
        backend.create_log_stream(name, stream)
    message = {"audit_format_version": 4, "audit_category": category, "audit_request_origin": "REST",
               "audit_cluster_name": f"{account}:{domain.domain_name}", "audit_node_name": stream,
               "audit_request_effective_user": user or "<NONE>", "audit_rest_request_method": method,
               "audit_rest_request_path": path,
               "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())}
    if audit["log_request_body"] and body:
        message["audit_request_body"] = body.decode("utf-8", "replace")
    backend.put_log_events(name, stream, [{"timestamp": int(time.time() * 1000), "message": json.dumps(message)}])
