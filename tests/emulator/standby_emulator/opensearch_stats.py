"""The replication plugin's follower statistics on the domain REST fake.

`GET /_plugins/_replication/follower_stats` (opensearch-project/
cross-cluster-replication, 2.x: TransportFollowerStatsAction; documented in
the OpenSearch replication API reference) answers, for the follower domain:

    {num_syncing_indices, num_bootstrapping_indices, num_paused_indices,
     num_failed_indices, num_shard_tasks, num_index_tasks, operations_written,
     operations_read, failed_read_requests, throttled_read_requests,
     failed_write_requests, throttled_write_requests, follower_checkpoint,
     leader_checkpoint, total_write_time_millis,
     index_stats: {<index>: {operations_written, operations_read,
       failed_read_requests, throttled_read_requests, failed_write_requests,
       throttled_write_requests, follower_checkpoint, leader_checkpoint,
       total_write_time_millis}}}

index_stats lists the indices with running shard tasks (SYNCING or
BOOTSTRAPPING), as the plugin collects them from its shard tasks. Replication
is instantaneous in the fake, so the follower checkpoint equals the leader's,
unless the test setting `opensearch_follower_lag` (operations, default 0;
`POST /_emulator/settings`) holds every follower that many operations behind.
That lag shows here only, not in `_status`. A lag set on one follower with
`POST /_emulator/opensearch/replication/lag` shows here and in its `_status`.
"""

from typing import Any

from . import opensearch_rest as rest

LAG = "opensearch_follower_lag"


def follower_stats(ctx: rest.Ctx, **_: Any):
    lag = int(rest.SETTINGS.get(LAG, 0))
    counts = {"SYNCING": 0, "BOOTSTRAPPING": 0, "PAUSED": 0, "FAILED": 0}
    index_stats = {}
    total_leader = total_follower = 0
    for name, idx in sorted(ctx.data.indices.items()):
        rep = idx.replication
        if rep is None:
            continue
        if rep.status == "RUNNING":
            state = "BOOTSTRAPPING" if rep.bootstrap_polls_left > 0 else "SYNCING"
        else:
            state = rep.status
        counts[state] = counts.get(state, 0) + 1
        if rep.status != "RUNNING":
            continue
        leader = idx.seq - 1
        follower = max(leader - lag - rest.lag_of(rep), -1)
        total_leader += leader
        total_follower += follower
        index_stats[name] = {
            "operations_written": max(follower + 1, 0),
            "operations_read": max(follower + 1, 0),
            "failed_read_requests": 0,
            "throttled_read_requests": 0,
            "failed_write_requests": 0,
            "throttled_write_requests": 0,
            "follower_checkpoint": follower,
            "leader_checkpoint": leader,
            "total_write_time_millis": 0,
        }
    return 200, {
        "num_syncing_indices": counts["SYNCING"],
        "num_bootstrapping_indices": counts["BOOTSTRAPPING"],
        "num_paused_indices": counts["PAUSED"],
        "num_failed_indices": counts["FAILED"],
        "num_shard_tasks": len(index_stats),
        "num_index_tasks": len(index_stats),
        "operations_written": sum(s["operations_written"] for s in index_stats.values()),
        "operations_read": sum(s["operations_read"] for s in index_stats.values()),
        "failed_read_requests": 0,
        "throttled_read_requests": 0,
        "failed_write_requests": 0,
        "throttled_write_requests": 0,
        "follower_checkpoint": total_follower,
        "leader_checkpoint": total_leader,
        "total_write_time_millis": 0,
        "index_stats": index_stats,
    }


def apply() -> None:
    rest.DEFAULT_SETTINGS[LAG] = 0
    rest.SETTINGS.setdefault(LAG, 0)
    original = rest._route

    def route(method: str, parts: list[str]):
        if parts == ["_plugins", "_replication", "follower_stats"] and method == "GET":
            return follower_stats, {}
        return original(method, parts)

    rest._route = route
