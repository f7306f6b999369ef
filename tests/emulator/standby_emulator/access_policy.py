"""A domain's resource-based access policy, evaluated for its REST API.

AWS OpenSearch Service Developer Guide:
- fgac.md, "The bigger picture": the domain access policy is evaluated at the
  edge of the domain, before a request reaches OpenSearch (and so before
  fine-grained access control looks at basic-auth credentials).
- ac.md: an unsigned request has no identity; only a statement whose
  principal is anonymous (`"Principal": "*"` or `{"AWS": "*"}`) can allow it.
  IP-based policies (`aws:SourceIp` in an `IpAddress` condition) narrow such
  a statement. Neither allowed -> deny; an explicit Deny wins.
- The action of an HTTP request is `es:ESHttp<Method>` (Get, Put, Post,
  Delete, Head, Patch) on `arn:aws:es:<region>:<account>:domain/<name>/<path>`.
- The answer when nothing allows it (AWS Knowledge Center,
  "anonymous-not-authorized-elasticsearch"): HTTP 403
  `{"Message":"User: anonymous is not authorized to perform: es:ESHttpPut
  because no resource-based policy allows the es:ESHttpPut action"}`.

Signed (SigV4) requests are evaluated as the account's root principal; the
REST fake is otherwise about unsigned basic-auth clients (Mattermost, standby).
"""

import fnmatch
import ipaddress
import json
from typing import Any


def _list(v: Any) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _principal_matches(principal: Any, who: set[str]) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        values = [p for k, v in principal.items() if k == "AWS" for p in _list(v)]
    else:
        values = _list(principal)
    return any(p == "*" or p in who for p in values)


def _condition_holds(condition: Any, source_ip: str | None) -> bool:
    """Only aws:SourceIp conditions are understood; anything else does not hold."""
    if not condition:
        return True
    if not isinstance(condition, dict):
        return False
    try:
        ip = ipaddress.ip_address(source_ip or "")
    except ValueError:
        return False
    for op, tests in condition.items():
        if op not in ("IpAddress", "NotIpAddress") or not isinstance(tests, dict):
            return False
        for key, cidrs in tests.items():
            if key.lower() != "aws:sourceip":
                return False
            inside = False
            for c in _list(cidrs):
                try:
                    inside = inside or ip in ipaddress.ip_network(str(c), strict=False)
                except ValueError:
                    continue
            if inside != (op == "IpAddress"):
                return False
    return True


def _matches_any(patterns: list, value: str, case_insensitive: bool = False) -> bool:
    for p in patterns:
        p = str(p)
        if case_insensitive:
            if fnmatch.fnmatchcase(value.lower(), p.lower()):
                return True
        elif fnmatch.fnmatchcase(value, p):
            return True
    return False


def http_action(method: str) -> str:
    return "es:ESHttp" + method.capitalize()


def evaluate(policy_text: str, action: str, resource: str, source_ip: str | None,
             signed: bool, account: str) -> str | None:
    """None when the request is allowed; otherwise the 403 message.

    `source_ip` None (a cross-cluster request, made by the other domain)
    satisfies no IP condition.
    """
    who = {"*"} if not signed else {"*", f"arn:aws:iam::{account}:root", account}
    user = "anonymous" if not signed else f"arn:aws:iam::{account}:root"
    try:
        doc = json.loads(policy_text) if policy_text and policy_text.strip() else {}
    except ValueError:
        doc = {}
    allowed = denied = False
    for s in _list(doc.get("Statement") if isinstance(doc, dict) else None):
        if not isinstance(s, dict):
            continue
        if "Principal" in s and not _principal_matches(s["Principal"], who):
            continue
        if "Action" in s and not _matches_any(_list(s["Action"]), action, case_insensitive=True):
            continue
        if "NotAction" in s and _matches_any(_list(s["NotAction"]), action, case_insensitive=True):
            continue
        if "Resource" in s and not _matches_any(_list(s["Resource"]), resource):
            continue
        if not _condition_holds(s.get("Condition"), source_ip):
            continue
        if s.get("Effect") == "Deny":
            denied = True
        elif s.get("Effect") == "Allow":
            allowed = True
    if denied:
        return (f"User: {user} is not authorized to perform: {action} with an explicit deny in a "
                f"resource-based policy")
    if not allowed:
        return (f"User: {user} is not authorized to perform: {action} because no resource-based policy "
                f"allows the {action} action")
    return None
