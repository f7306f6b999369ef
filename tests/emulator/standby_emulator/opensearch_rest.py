"""A fake of an OpenSearch Service domain's own REST API.

moto only emulates the OpenSearch control plane. Requests whose Host header
(port stripped) is the Endpoint of an existing domain (DescribeDomain's
Endpoint, or Endpoints["vpc"]) land here instead of moto - the way a client
reaches a domain through a proxy while sending the domain's hostname.

Each domain keeps its own indices (name -> documents), index replications and
auto-follow rules, following the cross-cluster-replication plugin's REST
contract (opensearch-project/cross-cluster-replication, 2.x branch): request
shapes, answers, error types, reasons and HTTP statuses. Replication is
instantaneous: a SYNCING follower always holds the leader's documents.
Auto-follow rules are evaluated on every request to any fake domain (the
plugin polls every 30 s).

All state hangs off moto's domain objects, so deleting a domain or
POST /moto-api/reset clears it.
"""

import fnmatch
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from . import access_policy, opensearch_logs, opensearch_security as security, settings
from .opensearch import LOCK, active_outbound, all_domains, domain_hosts, get_domain, master_user
from .settings import DEFAULT_SETTINGS, SETTINGS  # noqa: F401 (the control API reads them here)

BLOCK_REASON = "index [{}] blocked by: [FORBIDDEN/1000/index read-only(cross-cluster-replication)];"
USER_INITIATED = "User initiated"


# The domain REST requests received (GET/DELETE /_emulator/rest-calls): the
# AWS call log (calls.py) holds signed AWS API calls only.
REST_CALLS: list[dict] = []


def reset() -> None:
    settings.reset()
    with LOCK:
        REST_CALLS.clear()


def rest_calls(clear: bool = False) -> list[dict]:
    with LOCK:
        out = [dict(c) for c in REST_CALLS]
        if clear:
            REST_CALLS.clear()
    return out


# ------------------------------------------------------------------ state ---


@dataclass
class Replication:
    leader_alias: str
    leader_index: str
    status: str  # RUNNING | PAUSED | FAILED (the plugin's overall states)
    reason: str = USER_INITIATED
    bootstrap_polls_left: int = 0
    roles: dict | None = None
    running_polls_left: int = 0
    user: str = "anonymous"  # who started it (the security context it runs in)
    # Test-set lag (POST /_emulator/opensearch/replication/lag): operations
    # the follower is behind, and the _status calls left until it catches up
    # (None: until set again).
    lag_ops: int = 0
    lag_polls_left: int | None = None


class Docs(set):
    """Document ids, with each document's source kept beside them (for
    GET _doc and _search); shared with a SYNCING follower like the ids."""

    def __init__(self, ids=(), sources: dict | None = None) -> None:
        super().__init__(ids)
        self.sources = dict(sources if sources is not None else getattr(ids, "sources", {}))

    def discard(self, doc_id) -> None:  # type: ignore[override]
        super().discard(doc_id)
        self.sources.pop(doc_id, None)


@dataclass
class Index:
    name: str
    uuid: str = field(default_factory=lambda: secrets.token_urlsafe(16)[:22])
    created_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    # Document ids. A SYNCING follower shares its leader's set, so it always
    # holds the leader's documents; it gets its own copy when it stops syncing.
    ids: set = field(default_factory=Docs)
    seq: int = 0
    replication: Replication | None = None


@dataclass
class Rule:
    leader_alias: str
    name: str
    pattern: str
    roles: dict | None
    user: str = "anonymous"
    success: int = 0
    failed: int = 0
    failed_leader_calls: int = 0
    failed_indices: set = field(default_factory=set)
    last_execution_time: int = 0


@dataclass
class DomainData:
    indices: dict = field(default_factory=dict)  # name -> Index
    rules: dict = field(default_factory=dict)  # (leader_alias, name) -> Rule


def data(domain) -> DomainData:
    d = getattr(domain, "_emu_data", None)
    if d is None:
        d = domain._emu_data = DomainData()
    return d


@dataclass
class Ctx:
    account: str
    region: str
    domain: Any  # moto OpenSearchDomain

    @property
    def data(self) -> DomainData:
        return data(self.domain)


# ----------------------------------------------------------------- errors ---


class RestError(Exception):
    """An OpenSearch error answer: {"error": {root_cause, type, reason, ...}, "status": N}."""

    def __init__(self, status: int, etype: str, reason: str, extra: dict | None = None,
                 root_cause: list | None = None, caused_by: dict | None = None):
        super().__init__(reason)
        self.status = status
        cause = {"type": etype, "reason": reason, **(extra or {})}
        err = {"root_cause": root_cause or [cause], **cause}
        if caused_by:
            err["caused_by"] = caused_by
        self.body = {"error": err, "status": status}


def index_not_found(name: str) -> RestError:
    extra = {"index": name, "resource.id": name, "resource.type": "index_or_alias", "index_uuid": "_na_"}
    return RestError(404, "index_not_found_exception", f"no such index [{name}]", extra)


def illegal_argument(reason: str) -> RestError:
    return RestError(400, "illegal_argument_exception", reason)


def blocked(name: str) -> RestError:
    return RestError(403, "cluster_block_exception", BLOCK_REASON.format(name))


def no_such_remote_cluster(alias: str) -> RestError:
    return RestError(404, "no_such_remote_cluster_exception", f"no such remote cluster: [{alias}]")


def validation_failed(*errors: str) -> RestError:
    text = "".join(f"{i}: {e};" for i, e in enumerate(errors, 1))
    return RestError(400, "action_request_validation_exception", f"Validation Failed: {text}")


# ---------------------------------------------------------------- helpers ---


def _matches(pattern: str, name: str) -> bool:
    # Plain wildcard matching: "*" also takes dot-prefixed (system) indices,
    # which is why the AWS/Mattermost guides warn against a "*" auto-follow rule.
    return fnmatch.fnmatchcase(name, pattern)


def _resolve(ctx: Ctx, expression: str, must_exist: bool = True) -> list[str]:
    names: list[str] = []
    for part in [p for p in expression.split(",") if p]:
        if part in ("_all", "*"):
            part = "*"
        if "*" in part or "?" in part:
            names += [n for n in sorted(ctx.data.indices) if _matches(part, n) and n not in names]
        elif part in ctx.data.indices:
            if part not in names:
                names.append(part)
        elif must_exist:
            raise index_not_found(part)
    return names


def _validate_index_name(name: str) -> None:
    bad = '\\/*?"<>| ,#:'
    reason = None
    if name != name.lower():
        reason = "must be lowercase"
    elif any(c in bad for c in name):
        reason = 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]'
    elif name[0] in "_-+":
        reason = "must not start with '_', '-', or '+'"
    elif name in (".", ".."):
        reason = "must not be '.' or '..'"
    if reason:
        raise RestError(400, "invalid_index_name_exception", f"Invalid index name [{name}], {reason}",
                        {"index": name, "index_uuid": "_na_"})


def _leader(ctx: Ctx, alias: str) -> Ctx | None:
    """The leader domain behind the follower's remote-cluster alias (an ACTIVE outbound connection)."""
    conn = active_outbound(ctx.account, ctx.region, ctx.domain.domain_name, alias)
    if conn is None:
        return None
    remote = conn.remote
    domain = get_domain(remote["OwnerId"], remote["Region"], remote["DomainName"])
    return Ctx(remote["OwnerId"], remote["Region"], domain) if domain is not None else None


def _detach(index: Index) -> None:
    """Stop sharing the leader's documents (pause/stop/failure)."""
    index.ids = Docs(index.ids)


def _start_follow(ctx: Ctx, follower: str, leader: Ctx, leader_index: Index, alias: str,
                  roles: dict | None, user: str = "anonymous") -> None:
    idx = Index(name=follower, ids=leader_index.ids, seq=leader_index.seq)
    idx.replication = Replication(
        leader_alias=alias,
        leader_index=leader_index.name,
        status="RUNNING",
        bootstrap_polls_left=int(SETTINGS.get("opensearch_bootstrap_polls", 0)),
        roles=roles,
        running_polls_left=int(SETTINGS.get("opensearch_running_polls", 0)),
        user=user,
    )
    ctx.data.indices[follower] = idx


def tick() -> None:
    """Advance every domain: fail replications that lost their leader, run auto-follow rules."""
    now = int(time.time() * 1000)
    for account, region, domain in list(all_domains()):
        ctx = Ctx(account, region, domain)
        dd = data(domain)
        for idx in dd.indices.values():
            rep = idx.replication
            if rep is None or rep.status != "RUNNING":
                continue
            leader = _leader(ctx, rep.leader_alias)
            if leader is None:
                rep.status, rep.reason = "FAILED", f"no such remote cluster: [{rep.leader_alias}]"
                _detach(idx)
                continue
            lidx = data(leader.domain).indices.get(rep.leader_index)
            if lidx is None:
                rep.status, rep.reason = "FAILED", f"no such index [{rep.leader_index}]"
                _detach(idx)
                continue
            idx.ids, idx.seq = lidx.ids, lidx.seq  # follow a re-created leader set too
        for rule in list(dd.rules.values()):
            rule.last_execution_time = now
            leader = _leader(ctx, rule.leader_alias)
            if leader is None:
                rule.failed_leader_calls += 1
                continue
            for name, lidx in sorted(data(leader.domain).indices.items()):
                if not _matches(rule.pattern, name):
                    continue
                if name in dd.indices or name in rule.failed_indices:
                    continue  # the plugin skips names that exist locally
                if lidx.replication is not None:
                    # "Cannot Replicate a Replicated Index": counted as a failure.
                    rule.failed += 1
                    rule.failed_indices.add(name)
                    continue
                _start_follow(ctx, name, leader, lidx, rule.leader_alias, rule.roles, rule.user)
                rule.success += 1


def _shards(n: int = 1) -> dict:
    return {"total": 2 * n, "successful": n, "failed": 0}


# --------------------------------------------------------------- handlers ---


def cluster_info(ctx: Ctx, **_: Any):
    version = str(ctx.domain.engine_version.options or "OpenSearch_2.11").split("_")[-1]
    if version.count(".") == 1:
        version += ".0"
    return 200, {
        "name": secrets.token_hex(16),
        "cluster_name": f"{ctx.account}:{ctx.domain.domain_name}",
        "cluster_uuid": uuid.uuid5(uuid.NAMESPACE_DNS, ctx.domain.arn).hex[:22],
        "version": {
            "distribution": "opensearch",
            "number": version,
            "build_type": "tar",
            "build_hash": "unknown",
            "build_date": "2024-01-01T00:00:00.000000Z",
            "build_snapshot": False,
            "lucene_version": "9.7.0",
            "minimum_wire_compatibility_version": "7.10.0",
            "minimum_index_compatibility_version": "7.0.0",
        },
        "tagline": "The OpenSearch Project: https://opensearch.org/",
    }


def cluster_health(ctx: Ctx, **_: Any):
    n = len(ctx.data.indices)
    return 200, {
        "cluster_name": f"{ctx.account}:{ctx.domain.domain_name}",
        "status": "green",
        "timed_out": False,
        "number_of_nodes": 2,
        "number_of_data_nodes": 2,
        "discovered_master": True,
        "discovered_cluster_manager": True,
        "active_primary_shards": n,
        "active_shards": 2 * n,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 0,
        "delayed_unassigned_shards": 0,
        "number_of_pending_tasks": 0,
        "number_of_in_flight_fetch": 0,
        "task_max_waiting_in_queue_millis": 0,
        "active_shards_percent_as_number": 100.0,
    }


def create_index(ctx: Ctx, index: str, **_: Any):
    _validate_index_name(index)
    existing = ctx.data.indices.get(index)
    if existing is not None:
        raise RestError(400, "resource_already_exists_exception",
                        f"index [{index}/{existing.uuid}] already exists",
                        {"index": index, "index_uuid": existing.uuid})
    ctx.data.indices[index] = Index(name=index)
    return 200, {"acknowledged": True, "shards_acknowledged": True, "index": index}


def get_index(ctx: Ctx, index: str, **_: Any):
    out = {}
    for name in _resolve(ctx, index):
        idx = ctx.data.indices[name]
        settings = {
            "creation_date": str(idx.created_ms),
            "number_of_shards": "1",
            "number_of_replicas": "1",
            "uuid": idx.uuid,
            "provided_name": name,
        }
        if idx.replication is not None:
            settings["plugins"] = {"replication": {"follower": {"leader_index": idx.replication.leader_index}}}
        out[name] = {"aliases": {}, "mappings": {}, "settings": {"index": settings}}
    return 200, out


def head_index(ctx: Ctx, index: str, **_: Any):
    return (200 if all(n in ctx.data.indices for n in index.split(",")) else 404), None


def delete_index(ctx: Ctx, index: str, **_: Any):
    names = _resolve(ctx, index)
    for name in names:
        if ctx.data.indices[name].replication is not None:
            raise blocked(name)
    for name in names:
        del ctx.data.indices[name]
    return 200, {"acknowledged": True}


def _write_doc(ctx: Ctx, index: str, doc_id: str | None, op: str, source: Any = None) -> tuple[int, dict]:
    _validate_index_name(index)
    idx = ctx.data.indices.get(index)
    if idx is None:
        idx = ctx.data.indices[index] = Index(name=index)  # auto-create, as OpenSearch does
    if idx.replication is not None:
        raise blocked(index)
    doc_id = doc_id or secrets.token_urlsafe(15)[:20]
    existed = doc_id in idx.ids
    if op == "create" and existed:
        raise RestError(409, "version_conflict_engine_exception",
                        f"[{doc_id}]: version conflict, document already exists (current version [1])",
                        {"index": index, "shard": "0", "index_uuid": idx.uuid})
    idx.ids.add(doc_id)
    if isinstance(idx.ids, Docs):
        idx.ids.sources[doc_id] = source
    idx.seq += 1
    result = "updated" if existed else "created"
    return (200 if existed else 201), {
        "_index": index,
        "_id": doc_id,
        "_version": 2 if existed else 1,
        "result": result,
        "_shards": _shards(),
        "_seq_no": idx.seq - 1,
        "_primary_term": 1,
    }


def _source(body: bytes | None) -> Any:
    try:
        return json.loads(body) if body and body.strip() else None
    except ValueError:
        raise RestError(400, "mapper_parsing_exception", "failed to parse") from None


def index_doc(ctx: Ctx, index: str, doc_id: str | None = None, body: bytes | None = None, **_: Any):
    return _write_doc(ctx, index, doc_id, "index", _source(body))


def create_doc(ctx: Ctx, index: str, doc_id: str, body: bytes | None = None, **_: Any):
    return _write_doc(ctx, index, doc_id, "create", _source(body))


def get_doc(ctx: Ctx, index: str, doc_id: str, **_: Any):
    """GET /<index>/_doc/<id> (the game-day world reads what Mattermost indexed)."""
    idx = ctx.data.indices.get(index)
    if idx is None:
        raise index_not_found(index)
    if doc_id not in idx.ids:
        return 404, {"_index": index, "_id": doc_id, "found": False}
    return 200, {"_index": index, "_id": doc_id, "_version": 1, "_seq_no": 0, "_primary_term": 1, "found": True,
                 "_source": getattr(idx.ids, "sources", {}).get(doc_id)}


def delete_doc(ctx: Ctx, index: str, doc_id: str, **_: Any):
    """DELETE /<index>/_doc/<id>: `result` deleted, or 404 not_found (the
    document APIs' delete); refused on a follower like any write. A SYNCING
    follower shares the leader's documents, so it loses it too."""
    idx = ctx.data.indices.get(index)
    if idx is None:
        raise index_not_found(index)
    if idx.replication is not None:
        raise blocked(index)
    found = doc_id in idx.ids
    idx.ids.discard(doc_id)
    idx.seq += 1
    return (200 if found else 404), {"_index": index, "_id": doc_id, "_version": 2 if found else 1,
                                     "result": "deleted" if found else "not_found", "_shards": _shards(),
                                     "_seq_no": idx.seq - 1, "_primary_term": 1}


def _words(text: Any) -> set[str]:
    import re

    return set(re.findall(r"\w+", str(text or "").lower()))


def search(ctx: Ctx, index: str | None = None, body: bytes | None = None, **_: Any):
    """_search with `match_all`, `match`, `term` or `simple_query_string`
    (fields, default_operator): words compared in lower case, no scoring
    beyond 1.0 (a simplification of OpenSearch's analysis)."""
    names = _resolve(ctx, index or "*", must_exist=False)
    q = (_source(body) or {}).get("query") or {"match_all": {}}
    size = int((_source(body) or {}).get("size", 10))
    (kind, spec), = q.items() if isinstance(q, dict) and len(q) == 1 else (("match_all", {}),)

    def hit(src: Any) -> bool:
        if kind == "match_all":
            return True
        if kind in ("match", "term"):
            (fieldname, val), = spec.items()
            val = val.get("query", val.get("value")) if isinstance(val, dict) else val
            return bool(_words(val) & _words((src or {}).get(fieldname)))
        if kind == "simple_query_string":
            words = _words(spec.get("query"))
            have = set().union(*[_words((src or {}).get(f)) for f in spec.get("fields") or ["message"]])
            op = str(spec.get("default_operator", "or")).lower()
            return bool(words) and (words <= have if op == "and" else bool(words & have))
        raise RestError(400, "parsing_exception", f"unknown query [{kind}]")

    hits = []
    for n in names:
        idx = ctx.data.indices[n]
        for doc_id in sorted(idx.ids):
            src = getattr(idx.ids, "sources", {}).get(doc_id)
            if hit(src):
                hits.append({"_index": n, "_id": doc_id, "_score": 1.0, "_source": src})
    return 200, {"took": 1, "timed_out": False,
                 "_shards": {"total": len(names), "successful": len(names), "skipped": 0, "failed": 0},
                 "hits": {"total": {"value": len(hits), "relation": "eq"}, "max_score": 1.0 if hits else None,
                          "hits": hits[:size]}}


def bulk(ctx: Ctx, body: bytes, index: str | None = None, **_: Any):
    lines = [ln for ln in body.decode("utf-8").splitlines() if ln.strip()]
    items, errors, i = [], False, 0
    while i < len(lines):
        try:
            action = json.loads(lines[i])
            (op, meta), = action.items()
        except Exception:
            raise RestError(400, "illegal_argument_exception",
                            f"Malformed action/metadata line [{i + 1}]") from None
        i += 1
        source = None
        if op in ("index", "create", "update"):
            try:
                source = json.loads(lines[i]) if i < len(lines) else None
            except ValueError:
                source = None
            i += 1  # the source line
        target = (meta or {}).get("_index") or index
        doc_id = (meta or {}).get("_id")
        try:
            if not target:
                raise RestError(400, "action_request_validation_exception",
                                "Validation Failed: 1: index is missing;")
            if op in ("index", "create"):
                status, res = _write_doc(ctx, target, doc_id, op, source)
            elif op == "update":
                idx = ctx.data.indices.get(target)
                if idx is None or doc_id not in idx.ids:
                    raise RestError(404, "document_missing_exception", f"[{doc_id}]: document missing")
                status, res = _write_doc(ctx, target, doc_id, "index")
            elif op == "delete":
                idx = ctx.data.indices.get(target)
                if idx is None:
                    raise index_not_found(target)
                if idx.replication is not None:
                    raise blocked(target)
                found = doc_id in idx.ids
                idx.ids.discard(doc_id)
                idx.seq += 1
                status, res = (200 if found else 404), {
                    "_index": target, "_id": doc_id, "_version": 2,
                    "result": "deleted" if found else "not_found", "_shards": _shards(),
                    "_seq_no": idx.seq - 1, "_primary_term": 1,
                }
            else:
                raise RestError(400, "illegal_argument_exception",
                                f"Malformed action/metadata line [{i}], expected one of "
                                f"[create, delete, index, update] but found [{op}]")
            items.append({op: {**res, "status": status}})
        except RestError as e:
            errors = True
            err = {k: v for k, v in e.body["error"].items() if k != "root_cause"}
            items.append({op: {"_index": target, "_id": doc_id, "status": e.status, "error": err}})
    return 200, {"took": 1, "errors": errors, "items": items}


def refresh(ctx: Ctx, index: str | None = None, **_: Any):
    names = _resolve(ctx, index) if index else list(ctx.data.indices)
    return 200, {"_shards": _shards(len(names))}


def count(ctx: Ctx, index: str, **_: Any):
    names = _resolve(ctx, index)
    return 200, {"count": sum(len(ctx.data.indices[n].ids) for n in names),
                 "_shards": {"total": len(names), "successful": len(names), "skipped": 0, "failed": 0}}


_CAT_COLUMNS = ["health", "status", "index", "uuid", "pri", "rep", "docs.count", "docs.deleted",
                "store.size", "pri.store.size"]


def cat_indices(ctx: Ctx, query: dict, index: str | None = None, **_: Any):
    names = _resolve(ctx, index) if index else sorted(ctx.data.indices)
    rows = []
    for name in names:
        idx = ctx.data.indices[name]
        size = 208 + 512 * len(idx.ids)
        rows.append({
            "health": "green", "status": "open", "index": name, "uuid": idx.uuid,
            "pri": "1", "rep": "1", "docs.count": str(len(idx.ids)), "docs.deleted": "0",
            "store.size": f"{2 * size / 1024:.1f}kb", "pri.store.size": f"{size / 1024:.1f}kb",
        })
    columns = _CAT_COLUMNS
    if query.get("h"):
        columns = [c for c in query["h"].split(",") if c in _CAT_COLUMNS]
        rows = [{c: r[c] for c in columns} for r in rows]
    if query.get("format") == "json":
        return 200, rows
    lines = []
    if "v" in query:
        lines.append(" ".join(columns))
    lines += [" ".join(r[c] for c in columns) for r in rows]
    return 200, "".join(line + "\n" for line in lines)


# ------------------------------------------------------------ replication ---


def _json_body(body: bytes, required: bool = True) -> dict:
    if not body.strip():
        if required:
            raise RestError(400, "parse_exception", "request body or source parameter is required")
        return {}
    try:
        parsed = json.loads(body)
    except ValueError as e:
        raise RestError(400, "parse_exception", f"Failed to parse content to map: {e}") from None
    if not isinstance(parsed, dict):
        raise RestError(400, "parse_exception", "request body must be a JSON object")
    return parsed


def _roles(body: dict) -> dict | None:
    roles = body.get("use_roles")
    if roles is None or roles == {}:
        return None
    if not isinstance(roles, dict) or not roles.get("leader_cluster_role") or not roles.get("follower_cluster_role"):
        raise validation_failed("Need roles for leader_cluster_role and follower_cluster_role")
    return roles


def start_replication(ctx: Ctx, index: str, body: bytes, user: str = "anonymous", no_fgac: bool = True, **_: Any):
    req = _json_body(body)
    unknown = set(req) - {"leader_alias", "leader_index", "use_roles", "settings"}
    if unknown:
        raise RestError(400, "x_content_parse_exception",
                        f"[1:2] [index_req_parser] unknown field [{sorted(unknown)[0]}]")
    missing = [k for k in ("leader_alias", "leader_index") if not req.get(k)]
    if missing:
        raise validation_failed(f"Mandatory params {missing} are missing for the request".replace("'", ""))
    roles = _roles(req)
    _validate_index_name(index)
    alias, leader_index = req["leader_alias"], req["leader_index"]
    leader = _leader(ctx, alias)
    if leader is None:
        raise no_such_remote_cluster(alias)
    refused = (_cross_cluster_refusal(leader) if no_fgac else
               _follower_role_refusal(ctx, user, roles) or _leader_refusal(leader, user, roles, leader_index))
    if refused is not None:
        raise refused
    lidx = data(leader.domain).indices.get(leader_index)
    if lidx is None:
        raise index_not_found(leader_index)
    if lidx.replication is not None:
        raise illegal_argument(f"Cannot Replicate a Replicated Index {leader_index}")
    if index in ctx.data.indices:
        raise illegal_argument(f"Cant use same index again for replication. Delete the index:{index}")
    _start_follow(ctx, index, leader, lidx, alias, roles, user)
    return 200, {"acknowledged": True}


def _replication(ctx: Ctx, index: str) -> tuple[Index, Replication]:
    idx = ctx.data.indices.get(index)
    if idx is None or idx.replication is None:
        raise illegal_argument(f"No replication in progress for index:{index}")
    return idx, idx.replication


def stop_replication(ctx: Ctx, index: str, body: bytes, **_: Any):
    _json_body(body)
    idx, _rep = _replication(ctx, index)
    _detach(idx)
    idx.replication = None  # the index is now a normal, writable index
    return 200, {"acknowledged": True}


def pause_replication(ctx: Ctx, index: str, body: bytes, **_: Any):
    req = _json_body(body)
    idx, rep = _replication(ctx, index)
    if rep.status == "PAUSED":
        raise RestError(400, "resource_already_exists_exception", f"Index {index} is already paused")
    if rep.status != "RUNNING":
        raise RestError(500, "illegal_state_exception", f"Cannot pause when in {rep.status} state")
    _detach(idx)
    rep.status, rep.reason = "PAUSED", req.get("reason") or USER_INITIATED
    return 200, {"acknowledged": True}


def resume_replication(ctx: Ctx, index: str, body: bytes, **_: Any):
    _json_body(body)
    idx, rep = _replication(ctx, index)
    if rep.status != "PAUSED":
        raise RestError(400, "resource_already_exists_exception",
                        f"Replication on Index {index} is already running")
    leader = _leader(ctx, rep.leader_alias)
    if leader is None:
        raise no_such_remote_cluster(rep.leader_alias)
    lidx = data(leader.domain).indices.get(rep.leader_index)
    if lidx is None:
        raise RestError(404, "index_not_found_exception",
                        f"no such index [{rep.leader_alias}:{rep.leader_index}]",
                        {"index": f"{rep.leader_alias}:{rep.leader_index}", "index_uuid": "_na_"})
    idx.ids, idx.seq = lidx.ids, lidx.seq
    rep.status, rep.reason = "RUNNING", USER_INITIATED
    return 200, {"acknowledged": True}


def replication_status(ctx: Ctx, index: str, **_: Any):
    idx = ctx.data.indices.get(index)
    if idx is None or idx.replication is None:
        return 200, {"status": "REPLICATION NOT IN PROGRESS"}
    rep = idx.replication
    out: dict[str, Any] = {"status": rep.status, "reason": rep.reason, "leader_alias": rep.leader_alias,
                           "leader_index": rep.leader_index, "follower_index": index}
    if rep.status == "RUNNING":
        if rep.running_polls_left > 0:
            rep.running_polls_left -= 1  # no shard task has reported yet: the overall state
        elif rep.bootstrap_polls_left > 0:
            rep.bootstrap_polls_left -= 1
            out["status"] = "BOOTSTRAPPING"
        else:
            out["status"] = "SYNCING"
            leader = idx.seq - 1
            follower = leader - lag_of(rep)
            # The plugin's aggregated ReplayDetails (syncing_details): leader_checkpoint is the
            # leader's global checkpoint, follower_checkpoint the follower's local one.
            out["syncing_details"] = {"leader_checkpoint": leader, "follower_checkpoint": follower,
                                      "seq_no": follower + 1}
            if rep.lag_ops and rep.lag_polls_left is not None:
                rep.lag_polls_left -= 1
                if rep.lag_polls_left <= 0:
                    rep.lag_ops, rep.lag_polls_left = 0, None
    return 200, out


def lag_of(rep: Replication) -> int:
    """Operations a follower is behind its leader (test-set, see set_lag)."""
    return max(rep.lag_ops, 0)


def set_lag(ctx: Ctx, index: str, ops: int, polls: int | None) -> dict:
    """Test hook behind /_emulator/opensearch/replication/lag: the follower
    `index` reports `ops` operations behind its leader (its _status
    follower_checkpoint and follower_stats), for the next `polls` _status
    calls, or until set again when `polls` is null. Replication is otherwise
    instantaneous here; this is how a test makes a follower lag."""
    idx = ctx.data.indices.get(index)
    if idx is None or idx.replication is None:
        raise illegal_argument(f"No replication in progress for index:{index}")
    idx.replication.lag_ops = max(int(ops), 0)
    idx.replication.lag_polls_left = None if polls is None else max(int(polls), 0)
    if idx.replication.lag_polls_left == 0:
        idx.replication.lag_ops = 0
    return {"acknowledged": True}


def plugin_minor(ctx: Ctx) -> int:
    """The replication plugin's 2.x minor: the domain's engine version (OpenSearch_2.<minor>)."""
    version = str(ctx.domain.engine_version.options or "OpenSearch_2.11").split("_")[-1]
    try:
        return int(version.split(".")[1])
    except (IndexError, ValueError):
        return 11


def autofollow(ctx: Ctx, method: str, body: bytes, user: str = "anonymous", no_fgac: bool = True, **_: Any):
    req = _json_body(body)
    alias, name, pattern = req.get("leader_alias"), req.get("name"), req.get("pattern")
    errors = []
    if not alias or not name:
        errors.append("Missing connection or name in the request")
    roles = None
    try:
        roles = _roles(req)
    except RestError:
        errors.append("Need roles for leader_cluster_role and follower_cluster_role")
    if method == "DELETE":
        if pattern is not None:
            errors.append("Unexpected pattern")
    elif pattern is None:
        errors.append("Missing pattern")
    elif pattern == "":
        errors.append(f"Autofollow pattern: {pattern} must not be empty")
    elif "#" in pattern or ":" in pattern:
        errors.append(f"Autofollow pattern: {pattern} must not contain '#' or ':'")
    elif pattern[0] in "_-":
        errors.append(f"Autofollow pattern: {pattern} must not start with '_' or '-'")
    if errors:
        raise validation_failed(*errors)
    key = (alias, name)
    if method == "DELETE":
        if key not in ctx.data.rules:
            if plugin_minor(ctx) < 14:
                # Before 2.14 (d4047421) a missing rule's metadata NOT_FOUND is accepted.
                return 200, {"acknowledged": True}
            raise RestError(500, "exception", f"Autofollow replication rule {alias}:{name} does not exist")
        # Replications the rule started keep running.
        del ctx.data.rules[key]
        return 200, {"acknowledged": True}
    leader = _leader(ctx, alias)
    if leader is None:
        raise no_such_remote_cluster(alias)
    refused = (_cross_cluster_refusal(leader) if no_fgac else
               _follower_role_refusal(ctx, user, roles) or _leader_refusal(leader, user, roles, pattern))
    if refused is not None:
        raise refused
    if key in ctx.data.rules and plugin_minor(ctx) < 17:
        # Before 2.17 (94cd53e0) the metadata is overwritten and the running
        # task's ResourceAlreadyExistsException only logged: acknowledged.
        ctx.data.rules[key].pattern, ctx.data.rules[key].roles = pattern, roles
        tick()
        return 200, {"acknowledged": True}
    if key in ctx.data.rules:
        cause = {"type": "resource_already_exists_exception",
                 "reason": f"task with id {{autofollow:{alias}:{name}}} already exist"}
        raise RestError(500, "exception", "Exisiting autofollow replication rule cannot be recreated/updated",
                        root_cause=[cause], caused_by=cause)
    ctx.data.rules[key] = Rule(leader_alias=alias, name=name, pattern=pattern, roles=roles, user=user)
    tick()  # the plugin starts the task at once; existing leader indices follow
    return 200, {"acknowledged": True}


def autofollow_stats(ctx: Ctx, **_: Any):
    rules = list(ctx.data.rules.values())
    failed = sorted({i for r in rules for i in r.failed_indices})
    return 200, {
        "num_success_start_replication": sum(r.success for r in rules),
        "num_failed_start_replication": sum(r.failed for r in rules),
        "num_failed_leader_calls": sum(r.failed_leader_calls for r in rules),
        "failed_indices": failed,
        "autofollow_stats": [
            {
                "name": r.name,
                "pattern": r.pattern,
                "num_success_start_replication": r.success,
                "num_failed_start_replication": r.failed,
                "num_failed_leader_calls": r.failed_leader_calls,
                "failed_indices": sorted(r.failed_indices),
                "last_execution_time": r.last_execution_time,
            }
            for r in rules
        ],
    }


# ---------------------------------------------------------------- routing ---


def _method_not_allowed(allowed: list[str]):
    def handler(ctx: Ctx, method: str, path: str, **_: Any):
        return 405, {"error": f"Incorrect HTTP method for uri [{path}] and method [{method}], "
                              f"allowed: [{', '.join(allowed)}]", "status": 405}
    return handler


def _route(method: str, parts: list[str]):
    """(handler, kwargs) for a request, or None."""
    n = len(parts)
    if n == 0:
        return {"GET": cluster_info, "HEAD": cluster_info}.get(method), {}
    if parts[0] == "_plugins" and n >= 3 and parts[1] == "_replication":
        if n == 3 and parts[2] == "_autofollow" and method in ("POST", "DELETE"):
            return autofollow, {}
        if n == 3 and parts[2] == "autofollow_stats" and method == "GET":
            return autofollow_stats, {}
        if n == 4:
            table = {("PUT", "_start"): start_replication, ("POST", "_stop"): stop_replication,
                     ("POST", "_pause"): pause_replication, ("POST", "_resume"): resume_replication,
                     ("GET", "_status"): replication_status}
            handler = table.get((method, parts[3]))
            allowed = [m for (m, action) in table if action == parts[3]]
            if handler is None and allowed:
                return _method_not_allowed(allowed), {}
            return handler, {"index": parts[2]}
        return None, {}
    if parts == ["_cluster", "health"] and method == "GET":
        return cluster_health, {}
    if parts[0] == "_cat" and n in (2, 3) and parts[1] == "indices" and method == "GET":
        return cat_indices, ({"index": parts[2]} if n == 3 else {})
    if parts == ["_refresh"] and method in ("GET", "POST"):
        return refresh, {}
    if parts == ["_bulk"] and method in ("POST", "PUT"):
        return bulk, {}
    if parts == ["_search"] and method in ("GET", "POST"):
        return search, {}
    if parts[0].startswith("_"):
        return None, {}
    index = parts[0]
    if n == 1:
        return {"PUT": create_index, "GET": get_index, "HEAD": head_index,
                "DELETE": delete_index}.get(method), {"index": index}
    if n == 2 and parts[1] == "_doc" and method == "POST":
        return index_doc, {"index": index}
    if n == 3 and parts[1] == "_doc" and method in ("PUT", "POST"):
        return index_doc, {"index": index, "doc_id": parts[2]}
    if n == 3 and parts[1] == "_doc" and method == "GET":
        return get_doc, {"index": index, "doc_id": parts[2]}
    if n == 3 and parts[1] == "_doc" and method == "DELETE":
        return delete_doc, {"index": index, "doc_id": parts[2]}
    if n == 2 and parts[1] == "_search" and method in ("GET", "POST"):
        return search, {"index": index}
    if n == 3 and parts[1] == "_create" and method in ("PUT", "POST"):
        return create_doc, {"index": index, "doc_id": parts[2]}
    if n == 2 and parts[1] == "_refresh" and method in ("GET", "POST"):
        return refresh, {"index": index}
    if n == 2 and parts[1] == "_count" and method in ("GET", "POST"):
        return count, {"index": index}
    if n == 2 and parts[1] == "_bulk" and method in ("POST", "PUT"):
        return bulk, {"index": index}
    return None, {}


def find_domain(host: str) -> Ctx | None:
    host = host.lower()
    for account, region, domain in all_domains():
        if host in domain_hosts(domain):
            return Ctx(account, region, domain)
    return None


def _edge(ctx: Ctx, environ: dict, method: str, path: str) -> str | None:
    """The domain access policy's verdict (None: allowed), before any credentials are looked at."""
    signed = environ.get("HTTP_AUTHORIZATION", "").startswith("AWS4-HMAC-SHA256")
    resource = ctx.domain.arn + (path if path.startswith("/") else "/" + path)
    return access_policy.evaluate(ctx.domain.access_policies or "", access_policy.http_action(method), resource,
                                  environ.get("REMOTE_ADDR"), signed, ctx.account)


def _cross_cluster_refusal(leader: "Ctx") -> RestError | None:
    """The leader's policy must allow es:ESCrossClusterGet on its domain ARN (replication.md)."""
    why = access_policy.evaluate(leader.domain.access_policies or "", "es:ESCrossClusterGet", leader.domain.arn,
                                 None, False, leader.account)
    if why is None:
        return None
    return RestError(403, "security_exception", f"[{leader.domain.domain_name}] {why}")


# The permission each route needs (cluster-level when the index is None).
ACTIONS = {
    "cluster_info": "cluster:monitor/main",
    "cluster_health": "cluster:monitor/health",
    "create_index": "indices:admin/create",
    "get_index": "indices:admin/get",
    "head_index": "indices:admin/get",
    "delete_index": "indices:admin/delete",
    "index_doc": "indices:data/write/index",
    "create_doc": "indices:data/write/index",
    "bulk": "indices:data/write/bulk",
    "refresh": "indices:admin/refresh",
    "count": "indices:data/read/search",
    "search": "indices:data/read/search",
    "get_doc": "indices:data/read/get",
    "delete_doc": "indices:data/write/delete",
    "cat_indices": "indices:monitor/stats",
    "start_replication": "indices:admin/plugins/replication/index/start",
    "stop_replication": "indices:admin/plugins/replication/index/stop",
    "pause_replication": "indices:admin/plugins/replication/index/pause",
    "resume_replication": "indices:admin/plugins/replication/index/resume",
    "replication_status": "indices:admin/plugins/replication/index/status_check",
    "autofollow": "cluster:admin/plugins/replication/autofollow/update",
    # An indices: action without indices (AutoFollowStatsAction.NAME): checked against "*".
    "autofollow_stats": "indices:admin/plugins/replication/autofollow/stats",
}
ANY_USER = {"cluster_info", "cluster_health"}


def _permission(ctx: Ctx, user: str, handler, kwargs: dict) -> tuple[int, dict] | None:
    name = getattr(handler, "__name__", "")
    if handler is None or name in ANY_USER or name not in ACTIONS:
        return None
    index = kwargs.get("index")
    if index is None and name in ("bulk", "refresh", "cat_indices", "autofollow_stats", "search"):
        index = "*"
    if security.permitted(ctx.domain, user, ACTIONS[name], index):
        return None
    return security.denied(user, ACTIONS[name])


def _leader_refusal(leader: "Ctx", user: str, roles: dict | None, index: str) -> RestError | None:
    """The same user on the leader, with the leader role (replication.md: identical user names)."""
    refused = _cross_cluster_refusal(leader)
    if refused is not None:
        return refused
    action = "indices:admin/plugins/replication/validate"
    if roles is not None:
        ok = roles["leader_cluster_role"] in security.roles_of(leader.domain, user)
    else:
        ok = security.permitted(leader.domain, user, action, index)
    if ok:
        return None
    status, body = security.denied(user, action)
    return RestError(status, "security_exception", body["error"]["reason"])


def _follower_role_refusal(ctx: Ctx, user: str, roles: dict | None) -> RestError | None:
    if roles is None or roles["follower_cluster_role"] in security.roles_of(ctx.domain, user):
        return None
    status, body = security.denied(user, "indices:admin/plugins/replication/index/start")
    return RestError(status, "security_exception", body["error"]["reason"])


def read_body(environ: dict) -> bytes:
    """The request body, sized by Content-Length or (chunked upload) read to the end."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        return environ["wsgi.input"].read(length)
    if environ.get("wsgi.input_terminated"):
        return environ["wsgi.input"].read()
    return b""


def handle(ctx: Ctx, environ: dict, start_response) -> list[bytes]:
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO", "/")
    query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
    body = read_body(environ)

    with LOCK:
        refused = _edge(ctx, environ, method, path)
    if refused is not None:
        data_out = json.dumps({"Message": refused}).encode("utf-8")
        start_response("403 Forbidden", [("Content-Type", "application/json"),
                                         ("Content-Length", str(len(data_out)))])
        return [b"" if method == "HEAD" else data_out]

    with LOCK:
        user = security.authenticate(ctx.domain, environ) if master_user(ctx.domain) else "anonymous"
    if user is None:
        with LOCK:
            opensearch_logs.audit_event(ctx.account, ctx.region, ctx.domain, "FAILED_LOGIN",
                                        security.claimed_user(environ), method, path, body)
        start_response("401 Unauthorized", [
            ("WWW-Authenticate", 'Basic realm="OpenSearch Security"'),
            ("Content-Type", "text/plain; charset=UTF-8"),
        ])
        return [b"" if method == "HEAD" else b"Unauthorized"]

    parts = [p for p in path.split("/") if p]
    handler, kwargs = _route(method, parts)
    call = {"region": ctx.region, "domain": ctx.domain.domain_name, "method": method, "path": path,
            "time": time.time()}
    with LOCK:
        REST_CALLS.append(call)
        try:
            tick()
            no_fgac = master_user(ctx.domain) is None
            forbidden = None if no_fgac else _permission(ctx, user, handler, kwargs)
            if forbidden is not None:
                status, payload = forbidden
            elif parts == ["_plugins", "_security", "authinfo"] and method == "GET" and not no_fgac:
                status, payload = security.authinfo(ctx.domain, user, environ.get("REMOTE_ADDR"))
            elif parts[:4] == ["_plugins", "_security", "api", "audit"] and len(parts) in (4, 5) and not no_fgac:
                status, payload = security.audit_api(ctx.domain, user, method, path, parts, body)
            elif parts[:3] == ["_plugins", "_security", "api"] and len(parts) == 5 and not no_fgac:
                if parts[3] not in ("internalusers", "roles", "rolesmapping"):
                    status, payload = 400, {"error": f"no handler found for uri [{path}] and method [{method}]"}
                else:
                    status, payload = security.security_api(ctx.domain, user, method, parts[3], parts[4], body)
            elif handler is None:
                status, payload = 400, {"error": f"no handler found for uri [{path}] and method [{method}]"}
            else:
                status, payload = handler(ctx, method=method, path=path, body=body, query=query, user=user,
                                          no_fgac=no_fgac, **kwargs)
        except RestError as e:
            status, payload = e.status, e.body
        except security.SecurityAnswer as e:
            status, payload = e.status, e.body
        if not no_fgac:
            refused = status == 403 and isinstance(payload, dict) and "security_exception" in json.dumps(payload)
            opensearch_logs.audit_event(ctx.account, ctx.region, ctx.domain,
                                        "MISSING_PRIVILEGES" if refused else "GRANTED_PRIVILEGES",
                                        user, method, path, body)
    if isinstance(payload, str):
        data_out, ctype = payload.encode("utf-8"), "text/plain; charset=UTF-8"
    elif payload is None:
        data_out, ctype = b"", "application/json; charset=UTF-8"
    else:
        data_out, ctype = json.dumps(payload).encode("utf-8"), "application/json; charset=UTF-8"
    call["status"] = status
    reason = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
              405: "Method Not Allowed", 409: "Conflict", 500: "Internal Server Error"}.get(status, "Unknown")
    start_response(f"{status} {reason}", [("Content-Type", ctype), ("Content-Length", str(len(data_out)))])
    return [b"" if method == "HEAD" else data_out]


def set_replication_state(ctx: Ctx, index: str, status: str, reason: str | None) -> dict:
    """Test hook behind /_emulator/opensearch/replication (never on domain hosts)."""
    idx = ctx.data.indices.get(index)
    if idx is None or idx.replication is None:
        raise illegal_argument(f"No replication in progress for index:{index}")
    rep = idx.replication
    wanted = {"SYNCING": "RUNNING", "BOOTSTRAPPING": "RUNNING"}.get(status, status)
    rep.running_polls_left = 1 if status == "RUNNING" else 0
    if wanted not in ("RUNNING", "PAUSED", "FAILED", "STOPPED"):
        raise illegal_argument(f"unknown status {status}")
    if wanted == "RUNNING":
        leader = _leader(ctx, rep.leader_alias)
        lidx = data(leader.domain).indices.get(rep.leader_index) if leader else None
        if lidx is not None:
            idx.ids, idx.seq = lidx.ids, lidx.seq
        rep.bootstrap_polls_left = 1 if status == "BOOTSTRAPPING" else 0
    else:
        _detach(idx)
    rep.status = wanted
    rep.reason = reason or USER_INITIATED
    return {"acknowledged": True}
