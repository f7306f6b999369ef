"""The security plugin of a fake domain: internal users, roles, role mappings.

Follows the OpenSearch security plugin's REST API (2.x,
https://opensearch.org/docs/latest/security/access-control/api/) as AWS
exposes it with fine-grained access control (fgac.md):
- `PUT|GET|DELETE /_plugins/_security/api/internalusers/<name>`
  `{"password", "backend_roles", "attributes"}`; GET never returns the
  password (`"hash": ""`).
- `PUT|GET|DELETE /_plugins/_security/api/roles/<name>`
  `{"cluster_permissions", "index_permissions":[{"index_patterns","allowed_actions"}]}`.
- `PUT|GET|DELETE /_plugins/_security/api/rolesmapping/<role>` `{"users", "backend_roles", "hosts"}`.
- Answers `{"status":"CREATED"|"OK","message":"'x' created."|"'x' updated."|"'x' deleted."}`,
  404 `{"status":"NOT_FOUND","message":"Resource 'x' not found."}`; built-in
  roles refuse changes, static ones first (opensearch-project/security
  EndpointValidator: entityHidden, then entityStatic 403 "Resource 'x' is
  static.", then entityReserved 403 "Resource 'x' is reserved."), with the
  plugin's lists (static_config/static_roles.yml, config/roles.yml) and
  OpenSearch Service's `security_manager`.
- PUT replaces the whole entity ("Creates or replaces", api.md): a mapping
  PUT without the master user takes its rights away.
- The master user is a member of the `all_access` and `security_manager`
  mappings (fgac.md, "Master user", "Additional master users": the master
  user is listed in both); a new master user is added to both, the old one
  stays. Only those roles may use the security API.
- `GET /_plugins/_security/authinfo`: who the request is signed in as
  (SecurityInfoAction: user_name, backend_roles, roles, ...), for any
  authenticated user.

Permissions are a simplification of the plugin's action groups (wildcards,
a few action groups), enough for the replication plugin's documented roles
(opensearch documentation-website replication-plugin/permissions.md;
replication.md, "Permissions requirements"): `cross_cluster_replication_follower_full_access` on the
follower, `cross_cluster_replication_leader_full_access` on the leader, and
index-scoped custom roles. A refusal is 403 `security_exception`
"no permissions for [action] and User [name=..., backend_roles=[], requestedTenant=null]".
"""

import base64
import fnmatch
import json
import secrets
from typing import Any

from .opensearch import master_user

RESERVED_ROLES = {
    "all_access": {"cluster_permissions": ["*"], "index_permissions": [
        {"index_patterns": ["*"], "allowed_actions": ["*"]}]},
    "security_manager": {"cluster_permissions": ["cluster:admin/opendistro_security/*"], "index_permissions": []},
    "readall": {"cluster_permissions": ["cluster_composite_ops_ro"], "index_permissions": [
        {"index_patterns": ["*"], "allowed_actions": ["read"]}]},
    # The replication plugin's roles, with the permissions its documentation
    # lists (documentation-website, replication-plugin/permissions.md).
    "cross_cluster_replication_leader_full_access": {"cluster_permissions": [], "index_permissions": [
        {"index_patterns": ["*"], "allowed_actions": ["indices:admin/plugins/replication/validate",
                                                     "indices:data/read/plugins/replication/file_chunk",
                                                     "indices:data/read/plugins/replication/changes"]}]},
    "cross_cluster_replication_follower_full_access": {
        "cluster_permissions": ["cluster:admin/plugins/replication/autofollow/update"],
        "index_permissions": [{"index_patterns": ["*"], "allowed_actions": [
            "indices:admin/plugins/replication/index/setup/validate",
            "indices:admin/plugins/replication/index/start",
            "indices:admin/plugins/replication/index/pause",
            "indices:admin/plugins/replication/index/resume",
            "indices:admin/plugins/replication/index/stop",
            "indices:admin/plugins/replication/index/update",
            "indices:admin/plugins/replication/index/status_check",
            "indices:data/write/plugins/replication/changes"]}]},
}


# The plugin's built-in roles: static (src/main/resources/static_config/
# static_roles.yml @ 174a142) and reserved (config/roles.yml @ 00ac4af), and
# OpenSearch Service's own security_manager (fgac.md).
STATIC_ROLES = {"all_access", "kibana_user", "own_index", "manage_snapshots", "kibana_server", "logstash",
                "readall_and_monitor", "readall"}
RESERVED_NAMES = {
    "security_manager", "kibana_read_only", "security_rest_api_access", "security_rest_api_full_access",
    "alerting_read_access", "alerting_ack_alerts", "alerting_full_access", "anomaly_read_access",
    "anomaly_full_access", "knn_read_access", "knn_full_access", "ip2geo_datasource_read_access",
    "ip2geo_datasource_full_access", "notebooks_read_access", "notebooks_full_access", "observability_read_access",
    "observability_full_access", "ppl_full_access", "reports_instances_read_access", "reports_read_access",
    "reports_full_access", "asynchronous_search_full_access", "asynchronous_search_read_access",
    "index_management_full_access", "cross_cluster_replication_leader_full_access",
    "cross_cluster_replication_follower_full_access", "cross_cluster_search_remote_full_access",
    "query_assistant_access", "ml_read_access", "ml_full_access", "notifications_full_access",
    "notifications_read_access", "snapshot_management_full_access", "snapshot_management_read_access",
    "point_in_time_full_access", "security_analytics_read_access", "security_analytics_full_access",
    "security_analytics_ack_alerts", "flow_framework_full_access", "flow_framework_read_access",
    "query_insights_full_access",
}
BUILT_IN = STATIC_ROLES | RESERVED_NAMES


class SecurityAnswer(Exception):
    """A security API answer that is not the OpenSearch error envelope."""

    def __init__(self, status: int, body: dict):
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


def store(domain) -> dict:
    s = getattr(domain, "_emu_security", None)
    if s is None:
        s = domain._emu_security = {"internalusers": {}, "roles": {}, "rolesmapping": {}}
    # The master user joins the all_access and security_manager mappings
    # when it is set (and a new one when it changes; the old one stays).
    master = master_user(domain)
    if master and getattr(domain, "_emu_master_mapped", None) != master[0]:
        for role in ("all_access", "security_manager"):
            m = s["rolesmapping"].setdefault(role, {"users": [], "backend_roles": [], "hosts": [],
                                                    "and_backend_roles": []})
            if master[0] not in m["users"]:
                m["users"].append(master[0])
        domain._emu_master_mapped = master[0]
    return s


def authenticate(domain, environ: dict) -> str | None:
    """The user a basic-auth header names, when its password is right."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except Exception:
        return None
    master = master_user(domain)
    if master and secrets.compare_digest(user, master[0]) and secrets.compare_digest(password, master[1]):
        return user
    known = store(domain)["internalusers"].get(user)
    if known and secrets.compare_digest(password, known["password"]):
        return user
    return None


def claimed_user(environ: dict) -> str | None:
    """The user name a basic-auth header claims, right or wrong."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    try:
        return base64.b64decode(header[6:]).decode("utf-8").partition(":")[0] if header.startswith("Basic ") else None
    except Exception:
        return None


def roles_of(domain, user: str) -> set[str]:
    roles = set()
    for role, mapping in store(domain)["rolesmapping"].items():
        if user in mapping.get("users", []):
            roles.add(role)
    return roles


def _role(domain, name: str) -> dict | None:
    return RESERVED_ROLES.get(name) or store(domain)["roles"].get(name)


def _grants(patterns: list, action: str) -> bool:
    for p in patterns:
        if p in ("*", action) or fnmatch.fnmatchcase(action, p):
            return True
        if p == "read" and action.startswith("indices:data/read/"):
            return True
        if p in ("write", "crud") and action.startswith("indices:data/"):
            return True
        if p in ("create_index", "manage") and action.startswith("indices:admin/create"):
            return True
        if p == "indices_all" and action.startswith("indices:"):
            return True
        if p in ("cluster_monitor", "cluster_composite_ops_ro") and action.startswith("cluster:monitor/"):
            return True
        if p == "cluster_composite_ops" and (action.startswith("cluster:monitor/") or action in (
                "indices:data/write/bulk", "indices:data/read/mget", "indices:data/read/msearch")):
            return True
    return False


def permitted(domain, user: str, action: str, index: str | None = None) -> bool:
    for role in roles_of(domain, user):
        r = _role(domain, role) or {}
        if index is None and _grants(r.get("cluster_permissions", []), action):
            return True
        for ip in r.get("index_permissions", []):
            if _grants(ip.get("allowed_actions", []), action) and any(
                    fnmatch.fnmatchcase(index or "", p) for p in ip.get("index_patterns", [])):
                return True
    return False


def denied(user: str, action: str) -> tuple[int, dict]:
    reason = f"no permissions for [{action}] and User [name={user}, backend_roles=[], requestedTenant=null]"
    cause = {"type": "security_exception", "reason": reason}
    return 403, {"error": {"root_cause": [cause], **cause}, "status": 403}


# ---------------------------------------------------------- the REST API ---


def _body(raw: bytes) -> dict:
    try:
        parsed = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise SecurityAnswer(400, {"status": "error", "reason": "Invalid JSON."}) from None
    if not isinstance(parsed, dict):
        raise SecurityAnswer(400, {"status": "error", "reason": "Invalid JSON."})
    return parsed


def _check_fields(body: dict, allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise SecurityAnswer(400, {"status": "error", "reason": "Invalid configuration",
                                   "invalid_keys": {"keys": ",".join(unknown)}})


def security_api(domain, user: str, method: str, kind: str, name: str, raw: bytes) -> tuple[int, Any]:
    if not roles_of(domain, user) & {"all_access", "security_manager"}:
        return denied(user, f"cluster:admin/opendistro_security/{kind}")
    s = store(domain)[kind]
    if kind == "roles" and name in BUILT_IN:
        static = name in STATIC_ROLES
        if method in ("PUT", "DELETE"):
            return 403, {"status": "FORBIDDEN", "message": f"Resource '{name}' is {'static' if static else 'reserved'}."}
        known = RESERVED_ROLES.get(name, {"cluster_permissions": [], "index_permissions": []})
        return 200, {name: {**known, "reserved": True, "hidden": False, "static": static}}
    if method == "GET":
        if name not in s:
            return 404, {"status": "NOT_FOUND", "message": f"Resource '{name}' not found."}
        shown = {k: v for k, v in s[name].items() if k != "password"}
        if kind == "internalusers":
            shown["hash"] = ""
        return 200, {name: {**shown, "reserved": False, "hidden": False, "static": False}}
    if method == "DELETE":
        if name not in s:
            return 404, {"status": "NOT_FOUND", "message": f"Resource '{name}' not found."}
        del s[name]
        return 200, {"status": "OK", "message": f"'{name}' deleted."}
    if method != "PUT":
        return 405, {"error": f"Incorrect HTTP method [{method}]", "status": 405}
    body = _body(raw)
    if kind == "internalusers":
        _check_fields(body, {"password", "hash", "backend_roles", "attributes", "opendistro_security_roles"})
        if not body.get("password") and name not in s:
            raise SecurityAnswer(400, {"status": "error", "reason": "Please specify either 'hash' or 'password' "
                                                                   "when creating a new internal user."})
        entry = {"password": body.get("password") or s[name]["password"],
                 "backend_roles": body.get("backend_roles", []), "attributes": body.get("attributes", {}),
                 "opendistro_security_roles": body.get("opendistro_security_roles", [])}
    elif kind == "roles":
        _check_fields(body, {"cluster_permissions", "index_permissions", "tenant_permissions", "description"})
        entry = {"cluster_permissions": body.get("cluster_permissions", []),
                 "index_permissions": body.get("index_permissions", []),
                 "tenant_permissions": body.get("tenant_permissions", [])}
        if "description" in body:
            entry["description"] = body["description"]
    else:
        _check_fields(body, {"users", "backend_roles", "hosts", "and_backend_roles", "description"})
        if _role(domain, name) is None and name not in BUILT_IN:
            return 404, {"status": "NOT_FOUND", "message": f"The role '{name}' does not exist."}
        entry = {"users": body.get("users", []), "backend_roles": body.get("backend_roles", []),
                 "hosts": body.get("hosts", []), "and_backend_roles": []}
    existed = name in s
    s[name] = entry
    if existed:
        return 200, {"status": "OK", "message": f"'{name}' updated."}
    return 201, {"status": "CREATED", "message": f"'{name}' created."}


def authinfo(domain, user: str, remote: str | None) -> tuple[int, dict]:
    """`GET /_plugins/_security/authinfo`: who the caller is (SecurityInfoAction)."""
    known = store(domain)["internalusers"].get(user) or {}
    backend = list(known.get("backend_roles", []))
    return 200, {
        "user": f"User [name={user}, backend_roles={backend}, requestedTenant=null]",
        "user_name": user, "user_requested_tenant": None, "remote_address": f"{remote or '127.0.0.1'}:0",
        "backend_roles": backend, "custom_attribute_names": [], "roles": sorted(roles_of(domain, user)),
        "tenants": {user: True}, "principal": None, "peer_certificates": "0", "sso_logout_url": None,
    }


# ------------------------------------------------------------ audit logging ---
# The security plugin's audit API (opensearch-project/security,
# AuditApiAction; AWS, "Monitoring audit logs in Amazon OpenSearch Service",
# "Audit log REST API"):
# - `GET /_plugins/_security/api/audit` -> `{"_readonly": [pointers], "config": {...}}`;
#   `GET .../audit/config` has no route (405, allowed: PUT).
# - `PUT /_plugins/_security/api/audit/config` replaces the whole config
#   (missing fields take the plugin's defaults) -> 200 `{"status":"OK","message":"'config' updated."}`.
# - Refusals, in the plugin's order: body missing or not JSON 400 "Request
#   body required for this action." / "Could not parse content of request.";
#   unknown top-level keys 400 `{"status":"error","reason":"Invalid configuration",
#   "invalid_keys":{"keys":"a,b"}}`; `audit`/`compliance` not objects 400
#   `{"status":"error","reason":"Wrong datatype","audit":"Object expected"}`;
#   a body that does not parse as the plugin's AuditConfig (unknown nested
#   key, wrong nested type, a category not allowed on that layer) 400
#   "Could not parse content of request."; a read-only field sent changed
#   (or left out) 409 `{"status":"CONFLICT","message":"Attempted to update
#   read-only property."}` (only a TLS super-admin, which AWS gives no one,
#   bypasses it).
# - Only users with the REST API admin permission (on AWS: mapped to
#   `security_manager` or `all_access`) may call it: 403
#   `{"status":"FORBIDDEN","message":"No permission to access REST API: ..."}`.
# A new domain with fine-grained access control has audit logging off
# (AWS: "Then you can enable audit logs in OpenSearch Dashboards"), the
# plugin's defaults otherwise.

AUDIT_REST_CATEGORIES = {"BAD_HEADERS", "SSL_EXCEPTION", "AUTHENTICATED", "FAILED_LOGIN", "GRANTED_PRIVILEGES",
                         "MISSING_PRIVILEGES"}
AUDIT_TRANSPORT_CATEGORIES = AUDIT_REST_CATEGORIES | {"INDEX_EVENT", "OPENDISTRO_SECURITY_INDEX_ATTEMPT"}
# Which fields the service keeps for itself. The plugin reads the list from
# its static_audit.yml; the emulator marks the compliance logging of the
# security configuration itself, which AWS manages.
AUDIT_READONLY = ["/compliance/internal_config", "/compliance/external_config"]

_BOOL, _LIST, _WATCHED = "bool", "list", "watched"
AUDIT_FIELDS = {
    "audit": {"enable_rest": (_BOOL, True), "disabled_rest_categories": (_LIST, ["AUTHENTICATED", "GRANTED_PRIVILEGES"]),
              "enable_transport": (_BOOL, True),
              "disabled_transport_categories": (_LIST, ["AUTHENTICATED", "GRANTED_PRIVILEGES"]),
              "resolve_bulk_requests": (_BOOL, False), "log_request_body": (_BOOL, True),
              "resolve_indices": (_BOOL, True), "exclude_sensitive_headers": (_BOOL, True),
              "ignore_users": (_LIST, ["kibanaserver"]), "ignore_requests": (_LIST, [])},
    "compliance": {"enabled": (_BOOL, True), "internal_config": (_BOOL, True), "external_config": (_BOOL, False),
                   "read_metadata_only": (_BOOL, True), "read_watched_fields": (_WATCHED, {}),
                   "read_ignore_users": (_LIST, ["kibanaserver"]), "write_metadata_only": (_BOOL, True),
                   "write_log_diffs": (_BOOL, False), "write_watched_indices": (_LIST, []),
                   "write_ignore_users": (_LIST, ["kibanaserver"])},
}


def _audit_defaults(enabled: bool) -> dict:
    return {"enabled": enabled, **{section: {k: json.loads(json.dumps(d)) for k, (_, d) in fields.items()}
                                   for section, fields in AUDIT_FIELDS.items()}}


def audit_store(domain) -> dict:
    cfg = getattr(domain, "_emu_audit", None)
    if cfg is None:
        cfg = domain._emu_audit = _audit_defaults(False)
    return cfg


def _not_parseable() -> SecurityAnswer:
    return SecurityAnswer(400, {"status": "error", "reason": "Could not parse content of request."})


def _typed(kind: str, v: Any) -> bool:
    if kind == _BOOL:
        return isinstance(v, bool)
    if kind == _LIST:
        return isinstance(v, list) and all(isinstance(i, str) for i in v)
    return isinstance(v, dict) and all(isinstance(f, list) and all(isinstance(i, str) for i in f) for f in v.values())


def _parse_audit(raw: bytes) -> tuple[dict, dict]:
    if not raw.strip():
        raise SecurityAnswer(400, {"status": "error", "reason": "Request body required for this action."})
    try:
        body = json.loads(raw)
    except ValueError:
        raise _not_parseable() from None
    if not isinstance(body, dict):
        raise _not_parseable()
    _check_fields(body, {"enabled", "audit", "compliance"})
    wrong = {k: "Object expected" for k in ("audit", "compliance") if k in body and not isinstance(body[k], dict)}
    if wrong:
        raise SecurityAnswer(400, {"status": "error", "reason": "Wrong datatype", **wrong})
    for section in ("audit", "compliance"):
        for v in (body.get(section) or {}).values():
            if isinstance(v, list) and any(i is None for i in v):
                raise SecurityAnswer(400, {"status": "error",
                                           "reason": "`null` is not allowed as json array element"})
    if "enabled" in body and not isinstance(body["enabled"], bool):
        raise _not_parseable()
    config = _audit_defaults(body.get("enabled", True))
    for section, fields in AUDIT_FIELDS.items():
        for k, v in (body.get(section) or {}).items():
            if k not in fields or not _typed(fields[k][0], v):
                raise _not_parseable()
            config[section][k] = v
    if not set(config["audit"]["disabled_rest_categories"]) <= AUDIT_REST_CATEGORIES:
        raise _not_parseable()
    if not set(config["audit"]["disabled_transport_categories"]) <= AUDIT_TRANSPORT_CATEGORIES:
        raise _not_parseable()
    return body, config


def _at(doc: Any, pointer: str) -> Any:
    for k in pointer.strip("/").split("/"):
        if not isinstance(doc, dict) or k not in doc:
            return KeyError  # Jackson's MissingNode: equal to nothing stored
        doc = doc[k]
    return doc


def audit_api(domain, user: str, method: str, path: str, parts: list, raw: bytes) -> tuple[int, Any]:
    name = parts[4] if len(parts) == 5 else None
    if name not in (None, "config"):
        return 400, {"error": f"no handler found for uri [{path}] and method [{method}]"}
    if not roles_of(domain, user) & {"all_access", "security_manager"}:
        roles = sorted(roles_of(domain, user))
        return 403, {"status": "FORBIDDEN", "message": (
            f"No permission to access REST API: User {user} with Security Roles {roles} does not have any access "
            f"to endpoint AUDIT and method {method}")}
    if name is None:
        if method != "GET":
            return 405, {"error": f"Incorrect HTTP method for uri [{path}] and method [{method}], allowed: [GET, PATCH]",
                         "status": 405}
        return 200, {"_readonly": list(AUDIT_READONLY), "config": json.loads(json.dumps(audit_store(domain)))}
    if method != "PUT":
        return 405, {"error": f"Incorrect HTTP method for uri [{path}] and method [{method}], allowed: [PUT]",
                     "status": 405}
    sent, config = _parse_audit(raw)
    current = audit_store(domain)
    if any(_at(sent, p) != _at(current, p) for p in AUDIT_READONLY):
        return 409, {"status": "CONFLICT", "message": "Attempted to update read-only property."}
    domain._emu_audit = config
    return 200, {"status": "OK", "message": "'config' updated."}
