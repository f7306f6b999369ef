"""Self-check: the search copy a drill would make (docs/drill.md, "The search copy"): a third
follower of the leader, in the standby region, made writable with `_stop` the way
a failover makes the standby's followers writable, while production's follower keeps
following; and the copy cannot follow the standby follower instead ("You can't
replicate an index from one follower domain to another", OpenSearch Service
Developer Guide, Cross-cluster replication, Limitations)."""

import pytest

from test_extensions import ACCOUNT, EAST, START, WEST, Domain, _domain, aws  # noqa: F401 (fixture)


@pytest.fixture(autouse=True)
def _fresh(reset):
    """Each test on an emulator reset (no domains, default settings)."""


def _connect(aws, local, remote, alias):
    """An outbound connection from `local` (east) to `remote`, accepted on the remote's side."""
    (local_region, local_name), (remote_region, remote_name) = local, remote
    created = aws("opensearch", local_region).create_outbound_connection(
        LocalDomainInfo={"AWSDomainInformation": {"OwnerId": ACCOUNT, "DomainName": local_name,
                                                  "Region": local_region}},
        RemoteDomainInfo={"AWSDomainInformation": {"OwnerId": ACCOUNT, "DomainName": remote_name,
                                                   "Region": remote_region}},
        ConnectionAlias=alias, ConnectionMode="DIRECT")
    aws("opensearch", remote_region).accept_inbound_connection(ConnectionId=created["ConnectionId"])
    return created["ConnectionId"]


def _rest(aws, endpoint, region, name):
    return Domain(endpoint, aws("opensearch", region).describe_domain(DomainName=name)["DomainStatus"]["Endpoint"])


def test_a_third_follower_is_made_writable_alone(aws, endpoint):
    _domain(aws, WEST, "mm-leader")
    _domain(aws, EAST, "mm-follower")
    _domain(aws, EAST, "mm-drill-ab12cd")
    _connect(aws, (EAST, "mm-follower"), (WEST, "mm-leader"), "to-west")
    _connect(aws, (EAST, "mm-drill-ab12cd"), (WEST, "mm-leader"), "mm-drill-ab12cd")
    leader = _rest(aws, endpoint, WEST, "mm-leader")
    standby = _rest(aws, endpoint, EAST, "mm-follower")
    drill = _rest(aws, endpoint, EAST, "mm-drill-ab12cd")
    leader("PUT", "/channels")
    leader("POST", "/channels/_doc", {"n": 1})
    assert standby("PUT", "/_plugins/_replication/channels/_start", START) == (200, {"acknowledged": True})
    started = drill("PUT", "/_plugins/_replication/channels/_start", {**START, "leader_alias": "mm-drill-ab12cd"})
    assert started == (200, {"acknowledged": True})
    for follower in (standby, drill):
        follower("GET", "/_plugins/_replication/channels/_status")  # past BOOTSTRAPPING
        assert follower("GET", "/_plugins/_replication/channels/_status")[1]["status"] == "SYNCING"
        assert follower("GET", "/channels/_count")[1]["count"] == 1

    # The drill's "failover": its follower stopped, writable; production's follows on.
    assert drill("POST", "/_plugins/_replication/channels/_stop", {}) == (200, {"acknowledged": True})
    assert drill("POST", "/channels/_doc", {"n": "posted in the drill"})[0] == 201
    leader("POST", "/channels/_doc", {"n": 2})
    assert standby("GET", "/_plugins/_replication/channels/_status")[1]["status"] == "SYNCING"
    assert standby("GET", "/channels/_count")[1]["count"] == 2
    assert drill("GET", "/channels/_count")[1]["count"] == 2  # its own write and the first, not the leader's new one
    status, body = standby("POST", "/channels/_doc", {"n": 3})
    assert (status, body["error"]["type"]) == (403, "cluster_block_exception")
    assert leader("GET", "/channels/_count")[1]["count"] == 2


def test_a_copy_cannot_follow_the_standby_follower(aws, endpoint):
    _domain(aws, WEST, "mm-leader")
    _domain(aws, EAST, "mm-follower")
    _domain(aws, EAST, "mm-drill-ab12cd")
    _connect(aws, (EAST, "mm-follower"), (WEST, "mm-leader"), "to-west")
    _connect(aws, (EAST, "mm-drill-ab12cd"), (EAST, "mm-follower"), "to-standby")
    leader = _rest(aws, endpoint, WEST, "mm-leader")
    standby = _rest(aws, endpoint, EAST, "mm-follower")
    drill = _rest(aws, endpoint, EAST, "mm-drill-ab12cd")
    leader("PUT", "/channels")
    standby("PUT", "/_plugins/_replication/channels/_start", START)
    status, body = drill("PUT", "/_plugins/_replication/channels/_start", {**START, "leader_alias": "to-standby"})
    assert status == 400 and "Cannot Replicate a Replicated Index" in body["error"]["reason"], body
