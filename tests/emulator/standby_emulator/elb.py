"""Load balancers that forward, target groups that probe, Auto Scaling
groups that replace what fails (the game-day world, world.py).

Sources: Elastic Load Balancing User Guide for Application Load Balancers
("Health checks for Application Load Balancer target groups", "Target
health", "Troubleshoot your Application Load Balancers"); ELBv2 API
reference (TargetHealth.Reason); Auto Scaling User Guide ("Health checks
for instances in an Auto Scaling group", "Set the health check grace
period").

- Each load balancer has an address of its own in the emulated network,
  under its DNSName; each listener listens there on its port. HTTP
  listeners serve HTTP; HTTPS listeners terminate TLS with a certificate of
  the world's CA (tls.py) for the ACM certificate's names and the DNS name,
  then forward HTTP. The default action is followed (forward — the first
  target group of a ForwardConfig —, fixed-response, redirect); listener
  rules with conditions are not evaluated.
- Forwarding: to a healthy registered target, round robin, adding
  X-Forwarded-For/-Proto/-Port. No registered target: 503. Only unhealthy
  targets: the load balancer fails open and sends to all of them. Only
  targets still in `initial`: 503. A target that refuses: 502; no answer in
  the idle timeout (60 s, the ALB default; not scaled): 504. Error pages are
  ALB's (`Server: awselb/2.0`).
- Target health: each registered target is probed every
  HealthCheckIntervalSeconds on HealthCheckPath/Port/Protocol with
  HealthCheckTimeoutSeconds (both scaled, the timeout at least 1 s); the
  Matcher's codes (`200`, `200-299`, `200,202`) pass. A new target is
  `initial` (Elb.RegistrationInProgress, then Elb.InitialHealthChecking),
  `healthy` after one passing check (AWS: "After your target is registered,
  it must pass one health check to be considered healthy"), `unhealthy`
  after UnhealthyThresholdCount failures in a row (Target.ResponseCodeMismatch,
  Target.Timeout, Target.FailedHealthChecks), healthy again after
  HealthyThresholdCount passes in a row. A target group no load balancer
  uses: `unused` (Target.NotInUse). DescribeTargetHealth answers from this.
- Auto Scaling groups whose HealthCheckType includes ELB: a node whose
  target is `unhealthy` in an attached target group after the grace period
  (HealthCheckGracePeriod, scaled, counted from the end of the node's boot:
  booting here takes real time the clock does not scale) is marked
  Unhealthy, terminated and replaced from the group's launch template.
- A region down closes its load balancers (connections refused) and pauses
  their probes; back up, they listen again.
"""

import asyncio
import itertools
import socket
import time
from typing import Any

from . import httpio, network, regions, world

LBS: dict[str, dict[str, Any]] = {}            # lb arn -> {addr, servers: {port: server}, region, dns}
HEALTH: dict[tuple[str, str], dict[str, Any]] = {}  # (tg arn, target id) -> state
TASKS: dict[tuple[str, str], asyncio.Task] = {}
_RR = itertools.count()
ERRORS = {502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable", 504: "504 Gateway Time-out"}


def _backends():
    from moto.elbv2.models import elbv2_backends

    for account, regs in list(elbv2_backends.items()):
        for region, backend in list(regs.items()):
            yield account, region, backend


def find_lb_by_dns(name: str) -> tuple[str, str, Any] | None:
    name = name.lower().rstrip(".")
    for account, region, backend in _backends():
        for lb in list(backend.load_balancers.values()):
            if lb.dns_name.lower().rstrip(".") == name:
                return account, region, lb
    return None


def address_of(lb: Any) -> str:
    """The load balancer's address, allocated on first need."""
    st = LBS.get(lb.arn)
    if st is None:
        ports = [int(listener.port) for listener in lb.listeners.values()] or [80]
        addr = network.allocate(ports[0])
        network.register(lb.dns_name, addr)
        st = LBS[lb.arn] = {"addr": addr, "servers": {}, "region": lb.arn.split(":")[3], "dns": lb.dns_name}
    return st["addr"]


def _target_groups_of(lb: Any, backend: Any) -> list[Any]:
    arns: list[str] = []
    for listener in list(lb.listeners.values()):
        for action in list(listener.default_actions):
            arns.extend(_forward_arns(action))
        for rule in list(getattr(listener, "_non_default_rules", {}).values()):
            for action in list(getattr(rule, "actions", [])):
                arns.extend(_forward_arns(action))
    return [backend.target_groups[a] for a in dict.fromkeys(arns) if a in backend.target_groups]


def _forward_arns(action: Any) -> list[str]:
    data = getattr(action, "data", {}) or {}
    if data.get("Type") != "forward":
        return []
    if data.get("TargetGroupArn"):
        return [data["TargetGroupArn"]]
    return [tg["TargetGroupArn"] for tg in (data.get("ForwardConfig") or {}).get("TargetGroups", [])]


def _in_use(tg: Any, backend: Any) -> bool:
    return any(tg in _target_groups_of(lb, backend) for lb in list(backend.load_balancers.values()))


# ---------------------------------------------------------------- health ---

def target_state(tg: Any, target_id: str) -> str:
    """healthy | unhealthy | initial | unused | draining, as DescribeTargetHealth reports it."""
    if not world.enabled():
        for account, region, backend in _backends():
            if backend.target_groups.get(tg.arn) is tg:
                return tg.health_for({"Id": target_id}, backend.ec2_backend).status
        return "unused"
    st = HEALTH.get((tg.arn, target_id))
    return st["state"] if st else "initial"


def lb_healthy(lb: Any) -> bool:
    """Route 53's view of an ALB alias with EvaluateTargetHealth (botocore
    route53 AliasTarget.EvaluateTargetHealth): every target group that
    contains targets must contain a healthy one, and a target group with no
    registered targets is unhealthy. A load balancer without target groups,
    or in a region that is down, is unhealthy here (inference)."""
    region = lb.arn.split(":")[3]
    if regions.is_down(region):
        return False
    for account, reg, backend in _backends():
        if backend.load_balancers.get(lb.arn) is lb:
            tgs = _target_groups_of(lb, backend)
            if not tgs:
                return False
            for tg in tgs:
                ids = list(tg.targets.keys())
                if not ids or not any(target_state(tg, t) == "healthy" for t in ids):
                    return False
            return True
    return False


def _matches(matcher: dict | None, code: int) -> bool:
    spec = str((matcher or {}).get("HttpCode") or "200")
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = part.split("-", 1)
            if lo.isdigit() and hi.isdigit() and int(lo) <= code <= int(hi):
                return True
        elif part.isdigit() and int(part) == code:
            return True
    return False


def _target_address(backend: Any, target: dict) -> str | None:
    """Where the load balancer reaches a target: an instance by the node
    itself (its private IP is only unique within its VPC, and every region's
    default VPC has the same range), an IP target by the network."""
    from . import nodes

    tid = target["Id"]
    if tid.startswith("i-"):
        inst = backend.ec2_backend.get_instance_by_id(tid)
        node = nodes.get(tid)
        if inst is None or node is None or node.state in ("terminated", "stopped"):
            return None
        return node.addr
    return network.resolve(tid)


async def _probe_once(backend: Any, tg: Any, target: dict) -> tuple[bool, str, str]:
    addr = _target_address(backend, target)
    port = tg.health_check_port
    port = int(target.get("Port") or tg.port) if port in (None, "traffic-port") else int(port)
    path = tg.health_check_path or "/"
    tls = str(tg.health_check_protocol or "HTTP").upper() == "HTTPS"
    timeout = max(1.0, world.aws_seconds(int(tg.health_check_timeout_seconds or 5)))
    if addr is None:
        return False, "Target.FailedHealthChecks", "Health checks failed"
    try:
        msg = await httpio.exchange(addr, port, httpio.request("GET", path, f"{addr}:{port}",
                                                               [("User-Agent", "ELB-HealthChecker/2.0")]),
                                    timeout=timeout, tls=tls)
    except asyncio.TimeoutError:
        return False, "Target.Timeout", "Request timed out"
    except (OSError, httpio.BadMessage, asyncio.IncompleteReadError):
        return False, "Target.FailedHealthChecks", "Health checks failed"
    if _matches(getattr(tg, "matcher", None), msg.status):
        return True, "", ""
    return False, "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{msg.status}]"


async def _probe_loop(key: tuple[str, str], backend: Any) -> None:
    tg_arn, tid = key
    while True:
        tg = backend.target_groups.get(tg_arn)
        if tg is None or tid not in tg.targets:
            HEALTH.pop(key, None)
            TASKS.pop(key, None)
            return
        interval = max(0.1, world.aws_seconds(int(tg.health_check_interval_seconds or 30)))
        if regions.is_down(tg.arn.split(":")[3]) or not world.enabled():
            await asyncio.sleep(interval)
            continue
        st = HEALTH.setdefault(key, {"state": "initial", "reason": "Elb.RegistrationInProgress", "ok": 0,
                                     "fail": 0, "since": time.time()})
        ok, reason, desc = await _probe_once(backend, tg, tg.targets[tid])
        healthy_n = int(tg.healthy_threshold_count or 5)
        unhealthy_n = int(tg.unhealthy_threshold_count or 2)
        if ok:
            st["ok"], st["fail"] = st["ok"] + 1, 0
            if st["state"] == "initial" or (st["state"] == "unhealthy" and st["ok"] >= healthy_n):
                st.update(state="healthy", reason=None, description=None, since=time.time())
        else:
            st["fail"], st["ok"] = st["fail"] + 1, 0
            if st["state"] in ("initial", "healthy") and st["fail"] >= unhealthy_n:
                st.update(state="unhealthy", since=time.time())
                world.log(f"target {tid} of {tg.name}: unhealthy after {st['fail']} failed checks ({reason}: {desc})")
            if st["state"] == "unhealthy":
                st.update(reason=reason, description=desc)
            elif st["state"] == "initial":
                st.update(reason="Elb.InitialHealthChecking")
        st["last"] = {"ok": ok, "reason": reason, "at": time.time()}
        await asyncio.sleep(interval)


def fix_describe_target_health() -> None:
    """DescribeTargetHealth answers from the probes while the world is on."""
    from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup

    original = FakeTargetGroup.health_for

    def health_for(self: FakeTargetGroup, target: dict, ec2_backend: Any) -> FakeHealthStatus:
        st = original(self, target, ec2_backend)
        if not world.enabled() or st.status != "healthy":
            return st
        world.kick()
        port = st.port
        for _a, _r, backend in _backends():
            if backend.target_groups.get(self.arn) is self and not _in_use(self, backend):
                return FakeHealthStatus(target["Id"], port, self.health_check_port, "unused", "Target.NotInUse",
                                        "Target group is not configured to receive traffic from the load balancer")
        h = HEALTH.get((self.arn, target["Id"]))
        if h is None:
            return FakeHealthStatus(target["Id"], port, self.health_check_port, "initial",
                                    "Elb.RegistrationInProgress", "Target registration is in progress")
        if h["state"] == "initial":
            return FakeHealthStatus(target["Id"], port, self.health_check_port, "initial",
                                    "Elb.InitialHealthChecking", "Initial health checks in progress")
        if h["state"] == "unhealthy":
            return FakeHealthStatus(target["Id"], port, self.health_check_port, "unhealthy", h.get("reason"),
                                    h.get("description"))
        return st

    FakeTargetGroup.health_for = health_for  # type: ignore[method-assign]


# ------------------------------------------------------------- listeners ---

def _error_page(code: int, keep_alive: bool) -> bytes:
    title = ERRORS[code]
    body = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
            "</body>\r\n</html>\r\n").encode()
    return httpio.response(code, body, [("Server", "awselb/2.0")], content_type="text/html",
                           keep_alive=keep_alive)


def _listener(lb_arn: str, port: int) -> tuple[Any, Any] | None:
    for _a, _r, backend in _backends():
        lb = backend.load_balancers.get(lb_arn)
        if lb is None:
            continue
        for listener in list(lb.listeners.values()):
            if int(listener.port) == port:
                return backend, listener
    return None


async def _route(lb_arn: str, port: int, req: httpio.Message, client: str, tls: bool) -> bytes:
    found = _listener(lb_arn, port)
    keep = req.keep_alive()
    if found is None:
        return _error_page(503, keep)
    backend, listener = found
    action = listener.default_actions[0] if listener.default_actions else None
    data = getattr(action, "data", {}) or {}
    kind = data.get("Type")
    if kind == "fixed-response":
        cfg = data.get("FixedResponseConfig") or {}
        return httpio.response(int(cfg.get("StatusCode") or 200), str(cfg.get("MessageBody") or "").encode(),
                               [("Server", "awselb/2.0")], content_type=cfg.get("ContentType") or "text/plain",
                               keep_alive=keep)
    if kind == "redirect":
        cfg = data.get("RedirectConfig") or {}
        host = (req.header("host") or "").split(":")[0]
        proto = (cfg.get("Protocol") or "#{protocol}").replace("#{protocol}", "https" if tls else "http").lower()
        to_port = (cfg.get("Port") or "#{port}").replace("#{port}", str(port))
        path, _, query = req.target.partition("?")
        loc = (f"{proto}://{(cfg.get('Host') or '#{host}').replace('#{host}', host)}:{to_port}"
               f"{(cfg.get('Path') or '/#{path}').replace('/#{path}', path)}"
               + (f"?{(cfg.get('Query') or '#{query}').replace('#{query}', query)}" if query else ""))
        code = 301 if cfg.get("StatusCode") == "HTTP_301" else 302
        return httpio.render(f"HTTP/1.1 {code} {'Moved Permanently' if code == 301 else 'Found'}",
                             [("Server", "awselb/2.0"), ("Location", loc),
                              ("Connection", "keep-alive" if keep else "close")], b"")
    arns = _forward_arns(action) if action is not None else []
    tg = backend.target_groups.get(arns[0]) if arns else None
    if tg is None:
        return _error_page(503, keep)
    targets = list(tg.targets.values())
    if not targets:
        return _error_page(503, keep)
    states = {t["Id"]: target_state(tg, t["Id"]) for t in targets}
    pool = [t for t in targets if states[t["Id"]] == "healthy"]
    if not pool:
        pool = [t for t in targets if states[t["Id"]] == "unhealthy"]  # fail open
    if not pool:
        return _error_page(503, keep)
    target = pool[next(_RR) % len(pool)]
    addr = _target_address(backend, target)
    if addr is None:
        return _error_page(502, keep)
    tport = int(target.get("Port") or tg.port)
    hop = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "host"}
    headers = [(k, v) for k, v in req.headers if k.lower() not in hop]
    xff = req.header("x-forwarded-for")
    headers = [(k, v) for k, v in headers if k.lower() not in ("x-forwarded-for", "x-forwarded-proto",
                                                               "x-forwarded-port")]
    headers += [("X-Forwarded-For", f"{xff}, {client}" if xff else client),
                ("X-Forwarded-Proto", "https" if tls else "http"), ("X-Forwarded-Port", str(port)),
                ("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{next(_RR):024x}")]
    host = req.header("host") or f"{addr}:{tport}"
    try:
        msg = await httpio.exchange(addr, tport, httpio.render(f"{req.method} {req.target} HTTP/1.1",
                                                               [("Host", host), ("Connection", "close")] + headers,
                                                               req.body), timeout=60)
    except asyncio.TimeoutError:
        return _error_page(504, keep)
    except (OSError, httpio.BadMessage, asyncio.IncompleteReadError):
        return _error_page(502, keep)
    out = [(k, v) for k, v in msg.headers if k.lower() not in hop | {"content-length"}]
    out.append(("Connection", "keep-alive" if keep else "close"))
    return httpio.render(f"HTTP/1.1 {msg.status} {msg.reason}", out, msg.body)


def _tls_context(lb: Any, listener: Any, account: str, region: str) -> Any:
    from . import tls

    names = [lb.dns_name]
    for arn in list(getattr(listener, "certificates", []) or []):
        arn = arn if isinstance(arn, str) else (arn or {}).get("CertificateArn", "")
        try:
            from moto.acm.models import acm_backends

            bundle = acm_backends[account][region]._certificates.get(arn)
            if bundle is not None:
                names += [bundle.common_name] + list(bundle.sans)
        except Exception:  # noqa: BLE001
            pass
    return tls.server_context(names)


async def _serve(lb_arn: str, port: int, tls: bool, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
    peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
    try:
        while True:
            req = await httpio.read_message(reader)
            if req is None:
                break
            writer.write(await _route(lb_arn, port, req, peer[0], tls))
            await writer.drain()
            if not req.keep_alive():
                break
    except (httpio.BadMessage, ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


async def _open(lb: Any, listener: Any, account: str, region: str) -> None:
    st = LBS[lb.arn]
    port = int(listener.port)
    tls = listener.protocol in ("HTTPS", "TLS")
    ctx = _tls_context(lb, listener, account, region) if tls else None
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((st["addr"], port))
    except OSError as e:
        world.log(f"load balancer {lb.name}: cannot listen on {st['addr']}:{port}: {e}")
        st["servers"][port] = None
        sock.close()
        return
    sock.listen(128)
    sock.setblocking(False)
    st["servers"][port] = await asyncio.start_server(
        lambda r, w: _serve(lb.arn, port, tls, r, w), sock=sock, ssl=ctx)


def reconcile() -> None:
    seen_lbs: set[str] = set()
    seen_targets: set[tuple[str, str]] = set()
    loop = asyncio.get_running_loop()
    for account, region, backend in _backends():
        down = regions.is_down(region)
        for lb in list(backend.load_balancers.values()):
            if lb.type != "application" or not lb.listeners:
                continue
            seen_lbs.add(lb.arn)
            address_of(lb)
            st = LBS[lb.arn]
            wanted = {int(listener.port): listener for listener in list(lb.listeners.values())}
            for port in list(st["servers"]):
                if down or port not in wanted:
                    server = st["servers"].pop(port)
                    if server is not None:
                        server.close()
            if not down:
                for port, listener in wanted.items():
                    if port not in st["servers"]:
                        st["servers"][port] = None
                        loop.create_task(_open(lb, listener, account, region))
        for tg in list(backend.target_groups.values()):
            for tid in list(tg.targets.keys()):
                key = (tg.arn, tid)
                seen_targets.add(key)
                if key not in TASKS:
                    TASKS[key] = loop.create_task(_probe_loop(key, backend))
        _replace_unhealthy(account, region)
    for arn in [a for a in LBS if a not in seen_lbs]:
        st = LBS.pop(arn)
        for server in st["servers"].values():
            if server is not None:
                server.close()
        network.unregister(st["dns"])
        network.release(st["addr"])
    for key in [k for k in TASKS if k not in seen_targets]:
        TASKS.pop(key).cancel()
        HEALTH.pop(key, None)


def _replace_unhealthy(account: str, region: str) -> None:
    from moto.autoscaling.models import autoscaling_backends

    from . import asg_refresh, nodes

    if regions.is_down(region):
        return
    try:
        backend = autoscaling_backends[account][region]
    except KeyError:
        return
    for group in list(backend.autoscaling_groups.values()):
        # An instance refresh moves on with the clock even when no one reads the group.
        asg_refresh.settle(group)
        if "ELB" not in str(group.health_check_type or "").upper() or not group.target_group_arns:
            continue
        grace = world.aws_seconds(int(group.health_check_grace_period or 0))
        tgs = [backend.elbv2_backend.target_groups.get(a) for a in group.target_group_arns]
        bad = []
        for s in list(group.instance_states):
            # The grace period runs from the end of the node's boot: booting here
            # takes real seconds the clock does not scale (AWS: from InService).
            node = nodes.get(s.instance.id)
            if node is None or node.booted_at is None or time.time() - node.booted_at < grace:
                continue
            if any(tg is not None and HEALTH.get((tg.arn, s.instance.id), {}).get("state") == "unhealthy"
                   for tg in tgs):
                s.health_status = "Unhealthy"
                bad.append(s.instance.id)
        if bad:
            world.log(f"auto scaling group {group.name}: replacing unhealthy {', '.join(bad)} (ELB health check)")
            with asg_refresh.LOCK:
                asg_refresh._replace(group, bad)


def region_changed(region: str, down: bool) -> None:
    if down:
        for arn, st in LBS.items():
            if st["region"] == region:
                for port in list(st["servers"]):
                    server = st["servers"].pop(port)
                    if server is not None:
                        server.close()
    # Back up: the next reconcile opens the listeners again.


def stop_all() -> None:
    for st in LBS.values():
        for server in st["servers"].values():
            if server is not None:
                server.close()
    LBS.clear()
    for t in TASKS.values():
        t.cancel()
    TASKS.clear()
    HEALTH.clear()


def summary() -> list[dict[str, Any]]:
    out = []
    for _a, _r, backend in _backends():
        for lb in list(backend.load_balancers.values()):
            st = LBS.get(lb.arn, {})
            out.append({"name": lb.name, "dns_name": lb.dns_name, "address": st.get("addr"),
                        "listening": sorted(p for p, s in st.get("servers", {}).items() if s is not None),
                        "healthy": lb_healthy(lb)})
    return out


def apply() -> None:
    fix_describe_target_health()
