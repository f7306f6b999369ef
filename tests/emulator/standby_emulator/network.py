"""The emulated network: host names → loopback addresses.

Everything the game-day world runs that a client reaches by name (an Aurora
endpoint, a load balancer, an app node) listens on an address of its own in
127.0.0.0/8 (Linux answers on every one of them with no set-up), on the port
AWS would use (5432 for Aurora, the listener's port for a load balancer, 8065
for Mattermost). This module hands those addresses out and answers name
look-ups, the way a VPC's resolver answers inside the VPC: a name that is not
registered does not resolve (NXDOMAIN).

Addresses are drawn at random from 127.64.0.0/10, so private emulators of
tests running side by side rarely meet; `allocate` checks the port is free on
the address it returns and draws again otherwise.

Control API (server.py): `GET /_emulator/dns/resolve?name=N` answers
`{"name": N, "address": A}` or 404; `GET /_emulator/dns` lists every name.
"""

import random
import socket
import threading

LOCK = threading.Lock()
_NAMES: dict[str, str] = {}
_TAKEN: set[str] = set()


def allocate(port: int) -> str:
    """A loopback address no one else here uses, whose `port` is free."""
    rng = random.SystemRandom()
    for _ in range(200):
        addr = f"127.{rng.randint(64, 127)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        with LOCK:
            if addr in _TAKEN:
                continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((addr, port))
        except OSError:
            continue
        finally:
            s.close()
        with LOCK:
            _TAKEN.add(addr)
        return addr
    raise RuntimeError(f"no free loopback address for port {port}")


def release(addr: str) -> None:
    with LOCK:
        _TAKEN.discard(addr)
        for name in [n for n, a in _NAMES.items() if a == addr]:
            del _NAMES[name]


def register(name: str, addr: str) -> None:
    with LOCK:
        _NAMES[name.lower().rstrip(".")] = addr


def unregister(name: str, addr: str | None = None) -> None:
    """Forgets `name` (only while it still leads to `addr`, when given: a
    name another owner has taken since stays theirs)."""
    key = name.lower().rstrip(".")
    with LOCK:
        if addr is None or _NAMES.get(key) == addr:
            _NAMES.pop(key, None)


def resolve(name: str) -> str | None:
    """The address of `name`, or None (NXDOMAIN)."""
    with LOCK:
        return _NAMES.get(name.lower().rstrip("."))


def names() -> dict[str, str]:
    with LOCK:
        return dict(sorted(_NAMES.items()))


def reset() -> None:
    with LOCK:
        _NAMES.clear()
        _TAKEN.clear()
