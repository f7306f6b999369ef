"""Whole regions down and back, for tests of an unplanned failover.

`POST /_emulator/regions {"region": "us-west-1", "down": true}` takes a region
down: every signed AWS request whose SigV4 scope names it is noted in the call
log (status 0) and its connection is closed without an answer, as when a
region's endpoints are unreachable (the SDK sees a dispatch failure, never an
AWS error). Domain REST requests to a domain of that region fail the same way.
The game-day world (world.py) powers the region's nodes off and closes its
load balancers (connections refused); back up, they boot and listen again.
Its Aurora endpoints stop listening (connections refused) and their
sessions are cut, as are sessions on the global writer endpoint that lead
there (aurora_db.py). `{"down": false}` brings it back: global database members that a data-loss
failover left behind while their region was down rejoin as secondaries (what
Aurora does when the old primary's Region recovers). `GET /_emulator/regions`
lists the regions down.
"""

import socket
import threading
import time
from typing import Any

from . import calls

LOCK = threading.Lock()
DOWN: set[str] = set()
SINCE: dict[str, float] = {}  # region -> when it went down (epoch seconds)


def is_down(region: str | None) -> bool:
    with LOCK:
        return region in DOWN


def down_since(region: str | None) -> float | None:
    """When the region went down, while it is down."""
    with LOCK:
        return SINCE.get(region) if region in DOWN else None


def set_down(region: str, down: bool) -> None:
    from . import aurora_db, rds_switch

    with LOCK:
        changed = (region in DOWN) != down
        (DOWN.add if down else DOWN.discard)(region)
        if changed and down:
            SINCE[region] = time.time()
    if changed:
        from . import world

        world.region_changed(region, down)
    if down:
        aurora_db.refresh(cut=True)  # its Aurora endpoints stop answering, sessions drop
    else:
        rds_switch.region_back(region)
        aurora_db.refresh()


def reset() -> None:
    with LOCK:
        DOWN.clear()
        SINCE.clear()


def refuse(environ: dict, start_response) -> list[bytes] | None:
    """Drops the request when its region is down; None when it is up."""
    call = calls.classify(environ)
    if call is None or not is_down(call["region"]):
        return None
    return drop(environ, start_response, call)


def drop(environ: dict, start_response, call: dict[str, Any] | None = None) -> list[bytes]:
    if call is not None:
        call["status"] = 0
        with calls.LOCK:
            calls.CALLS.append(call)
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    # Nothing reaches the client; the server just finishes the request.
    start_response("503 Service Unavailable", [("Content-Length", "0")])
    return [b""]
