"""The game-day world: what runs behind the API (README.md, "The game-day
world").

With the setting `game_day` at 1, instances boot and run their user data
(nodes.py), their Mattermost stand-ins serve (mattermost.py), load
balancers listen and forward and target groups probe (elb.py), Route 53
health checks probe and failover and alias records are evaluated (dns.py).
Everything runs on one asyncio loop in one thread, started when the first
instance, target group or health check exists while the setting is on
(`kick`), plus a supervising thread per node process: an emulator whose
tests never turn the world on starts no thread and no process.

The clock: `aws_seconds(s)` is how long `s` seconds of AWS or Mattermost
time take here (setting `world_ms_per_aws_second`).
"""

import asyncio
import atexit
import json
import os
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from .settings import SETTINGS

LOCK = threading.RLock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_dir: Path | None = None
_reconciling = False


def enabled() -> bool:
    return bool(int(SETTINGS.get("game_day", 0)))


def aws_seconds(s: float) -> float:
    """Real seconds standing for `s` seconds of AWS time."""
    return float(s) * int(SETTINGS.get("world_ms_per_aws_second", 50)) / 1000.0


def log(msg: str) -> None:
    print(f"standby_emulator world: {msg}", file=sys.stderr, flush=True)


def emulator_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5000')}"


def directory() -> Path:
    """Where nodes keep their files: never under a directory a node's
    sandbox overlays (nodes.py)."""
    global _dir
    with LOCK:
        if _dir is None:
            base = os.environ.get("STANDBY_WORLD_DIR")
            _dir = Path(tempfile.mkdtemp(prefix="standby-world-", dir=base or None))
        return _dir


# ------------------------------------------------------------------ loop ---

def kick() -> None:
    """Something the world runs now exists: start the world if it is on."""
    if enabled():
        ensure_started()


def ensure_started() -> asyncio.AbstractEventLoop:
    global _loop, _thread
    with LOCK:
        if _loop is not None:
            return _loop
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.create_task(_reconcile_forever())
            loop.run_forever()

        _thread = threading.Thread(target=run, name="standby-world", daemon=True)
        _thread.start()
        ready.wait(10)
        _loop = loop
        log("started")
        return loop


def running() -> bool:
    return _loop is not None


def submit(coro: Any) -> Any:
    """Runs a coroutine on the world's loop (from any other thread)."""
    loop = ensure_started()
    return asyncio.run_coroutine_threadsafe(coro, loop)


def call(fn: Callable[[], Any], timeout: float = 30) -> Any:
    """Runs fn() on the world's loop and returns its result."""
    loop = ensure_started()
    if threading.current_thread() is _thread:
        return fn()

    async def go() -> Any:
        return fn()

    return asyncio.run_coroutine_threadsafe(go(), loop).result(timeout)


async def _reconcile_forever() -> None:
    while True:
        if enabled():
            reconcile()
        await asyncio.sleep(0.1)


def reconcile() -> None:
    """Brings what runs in line with what the API holds (every 100 ms)."""
    global _reconciling
    if _reconciling:
        return
    _reconciling = True
    try:
        from . import dns, elb, nodes

        for part in (nodes, elb, dns):
            try:
                part.reconcile()
            except RuntimeError:
                pass  # a dict moto changed under our feet: next tick
            except Exception:  # noqa: BLE001 (the world must keep running)
                log(f"{part.__name__}: {traceback.format_exc()}")
    finally:
        _reconciling = False


# --------------------------------------------------------- life events ---

def reset() -> None:
    """moto's reset: every node stops, every listener closes, the world's
    thread ends (an emptied emulator idles as one never used)."""
    global _loop, _thread
    from . import dns, elb, nodes

    with LOCK:
        loop, thread = _loop, _thread
    if loop is None:
        return
    nodes.stop_all()
    try:
        call(elb.stop_all)
        call(dns.stop_all)
    except Exception:  # noqa: BLE001
        log(traceback.format_exc())
    loop.call_soon_threadsafe(loop.stop)
    if thread is not None:
        thread.join(10)
    with LOCK:
        _loop, _thread = None, None


def kick_if_resources() -> None:
    """The setting was turned on: start when something to run exists."""
    if not enabled() or _loop is not None:
        return
    from moto.ec2.models import ec2_backends
    from moto.elbv2.models import elbv2_backends
    from moto.route53.models import route53_backends

    exists = any(b.reservations for regs in list(ec2_backends.values()) for b in list(regs.values())) or \
        any(b.target_groups for regs in list(elbv2_backends.values()) for b in list(regs.values())) or \
        any(b.health_checks for regs in list(route53_backends.values()) for b in list(regs.values()))
    if exists:
        ensure_started()


def region_changed(region: str, down: bool) -> None:
    """A region down takes its nodes and load balancers with it."""
    from . import elb, nodes

    if _loop is None:
        return
    nodes.region_changed(region, down)
    call(lambda: elb.region_changed(region, down))


@atexit.register
def _shutdown() -> None:
    """The emulator exits: its nodes' processes and files go with it."""
    try:
        from . import nodes

        nodes.stop_all(wait=False)
    except Exception:  # noqa: BLE001
        pass
    if _dir is not None:
        import shutil

        shutil.rmtree(_dir, ignore_errors=True)


# ------------------------------------------------------------ control ---

def control(method: str, path: str, body: Callable[[], dict], query: dict[str, str]) -> tuple[int, Any] | None:
    """Test-only routes under /_emulator/world/ (README.md)."""
    from . import dns, elb, nodes

    if not path.startswith("/_emulator/world"):
        return None
    if path == "/_emulator/world" and method == "GET":
        return 200, {"game_day": enabled(), "running": running(), "dir": str(_dir) if _dir else None,
                     "nodes": nodes.summary(), "load_balancers": elb.summary(), "health_checks": dns.summary()}
    if path == "/_emulator/world/amis" and method == "POST":
        return 200, nodes.set_ami(body())
    if path == "/_emulator/world/amis" and method == "GET":
        return 200, nodes.amis()
    if path == "/_emulator/world/ca.pem" and method == "GET":
        from . import tls

        return 200, {"pem": tls.ca_pem()}
    if path.startswith("/_emulator/world/nodes/"):
        rest = path[len("/_emulator/world/nodes/"):].split("/")
        node = nodes.get(rest[0])
        if node is None:
            return 404, {"message": f"no node {rest[0]}"}
        tail = "/".join(rest[1:])
        if tail == "" and method == "GET":
            return 200, node.describe()
        if tail == "log" and method == "GET":
            return 200, {"log": node.boot_log()}
        if tail == "mattermost/log" and method == "GET":
            return 200, {"log": node.unit_log("mattermost")}
        if tail == "systemctl" and method == "POST":
            return 200, node.systemctl(list(body().get("args", [])))
        if tail == "files" and method == "GET":
            return 200, node.read_file(query.get("path", ""))
    return None


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=str)


def now() -> float:
    return time.time()


def fix_start_on_first_resource() -> None:
    """The world starts (when on) as soon as an instance, target group,
    listener or health check exists; never before."""
    from moto.ec2.models.instances import InstanceBackend
    from moto.elbv2.models import ELBv2Backend
    from moto.route53.models import Route53Backend

    def after(cls: Any, name: str) -> None:
        original = getattr(cls, name)

        def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            kick()
            return result

        setattr(cls, name, wrapped)

    after(InstanceBackend, "run_instances")
    for name in ("create_target_group", "create_listener", "register_targets"):
        after(ELBv2Backend, name)
    after(Route53Backend, "create_health_check")


def apply() -> None:
    from . import dns, elb

    fix_start_on_first_resource()
    elb.apply()
    dns.apply()
