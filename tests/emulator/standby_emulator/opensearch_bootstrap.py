"""Follower indices while their leader's Region is down, as the
cross-cluster-replication plugin (2.11, the module's engine) treats them,
on top of opensearch_rest.py:

1. `_status` of a RUNNING replication asks the leader for its shards
   (TransportReplicationStatusAction: ShardsInfoAction through the remote
   cluster client) and, when that fails, answers 500 "failed to fetch
   replication status" (a ReplicationException). A replication that is not
   RUNNING (PAUSED, FAILED, …) answers from local metadata, as before.
2. A follower still bootstrapping restores its leader's segments from the
   leader (a snapshot restore through the plugin's remote repository): it
   does not progress while the leader is unreachable, and shows an active
   recovery of type SNAPSHOT (`GET /<index>/_recovery?active_only=true`, the
   indices recovery API; `{}` when nothing recovers).
3. `_stop` while it restores deletes the index
   (TransportStopIndexReplicationAction: "Index will be deleted if
   replication is stopped while it is restoring").

The emulator compresses a bootstrap into `_status` looks (settings.py,
`opensearch_bootstrap_polls`), so an index nobody looked at would seem to
restore forever. Here a follower restores only when a test set it
BOOTSTRAPPING (POST /_emulator/opensearch/replication), until a `_status`
look with its leader reachable finds it past the bootstrap: the follower of
an index the plugin would have finished long before is not held back.
"""

from typing import Any

from . import opensearch_rest, regions
from .opensearch_rest import Ctx, RestError


def _leader_down(ctx: Ctx, rep) -> bool:
    leader = opensearch_rest._leader(ctx, rep.leader_alias)
    return leader is not None and regions.is_down(leader.region)


def _restoring(ctx: Ctx, index: str) -> bool:
    idx = ctx.data.indices.get(index)
    rep = idx.replication if idx is not None else None
    return (rep is not None and rep.status == "RUNNING" and rep.bootstrap_polls_left > 0
            and rep.__dict__.get("_emu_restoring", False))


def set_replication_state(ctx: Ctx, index: str, status: str, reason: str | None) -> dict:
    out = original_set_state(ctx, index, status, reason)
    rep = ctx.data.indices[index].replication
    rep._emu_restoring = status == "BOOTSTRAPPING"
    return out


def replication_status(ctx: Ctx, index: str, **kwargs: Any):
    idx = ctx.data.indices.get(index)
    rep = idx.replication if idx is not None else None
    if rep is not None and rep.status == "RUNNING" and _leader_down(ctx, rep):
        raise RestError(500, "replication_exception", "failed to fetch replication status")
    return original_status(ctx, index, **kwargs)


def stop_replication(ctx: Ctx, index: str, body: bytes, **kwargs: Any):
    restoring = _restoring(ctx, index)
    status, out = original_stop(ctx, index, body, **kwargs)
    if restoring and status == 200:
        ctx.data.indices.pop(index, None)
    return status, out


def recovery(ctx: Ctx, index: str, query: dict | None = None, **_: Any):
    if index not in ctx.data.indices:
        raise opensearch_rest.index_not_found(index)
    active_only = str((query or {}).get("active_only", "false")).lower() == "true"
    if _restoring(ctx, index):
        return 200, {index: {"shards": [{"id": 0, "type": "SNAPSHOT", "stage": "INDEX", "primary": True}]}}
    if active_only:
        return 200, {}
    return 200, {index: {"shards": [{"id": 0, "type": "EMPTY_STORE", "stage": "DONE", "primary": True}]}}


def _route(method: str, parts: list[str]):
    if len(parts) == 2 and parts[1] == "_recovery" and method == "GET" and not parts[0].startswith("_"):
        return recovery, {"index": parts[0]}
    return original_route(method, parts)


original_set_state = opensearch_rest.set_replication_state
original_status = opensearch_rest.replication_status
original_stop = opensearch_rest.stop_replication
original_route = opensearch_rest._route


def apply() -> None:
    opensearch_rest.replication_status = replication_status
    opensearch_rest.stop_replication = stop_replication
    opensearch_rest._route = _route
    opensearch_rest.set_replication_state = set_replication_state
