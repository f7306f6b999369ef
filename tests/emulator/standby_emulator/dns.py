"""Route 53's data plane in the game-day world: health checkers that probe,
and answers that follow the routing policies (world.py).

Sources: Route 53 Developer Guide ("How Amazon Route 53 determines whether
a health check is healthy", "Failover routing", "Active-passive failover",
"Values specific for failover alias records"), botocore's route53 model
(ResourceRecordSet.Failover, .HealthCheckId, AliasTarget.EvaluateTargetHealth,
HealthCheckConfig, TestDNSAnswer), Knowledge Center "Troubleshoot unhealthy
Route 53 health checks".

Health checks (world on): HTTP/HTTPS/…_STR_MATCH/TCP checks probe their
endpoint every RequestInterval (scaled): IPAddress, or the
FullyQualifiedDomainName resolved as the public internet would (Route 53's
own public zones first, then the emulated network), on Port and
ResourcePath, Host the FQDN; HTTPS without certificate validation (SNI
only with EnableSNI). A connection must open and answer 2xx/3xx within
4 + 2 s (scaled, at least 1 s); STR_MATCH also looks for SearchString in the
first 5,120 bytes. A new check is healthy; FailureThreshold failures in a
row make it unhealthy, as many successes healthy again. Disabled: always
healthy; Inverted: the opposite; CALCULATED: healthy when at least
HealthThreshold children are. One checker stands for all of Route 53's:
GetHealthCheckStatus answers one observation per checker region with the
last report. Checkers are not in any AWS region: a region down does not
stop them.

Answers (public hosted zones): a record is healthy when its health check
(if any) is and, for an alias with EvaluateTargetHealth, when its target
is (an ALB: elb.lb_healthy). Failover: the PRIMARY while healthy; else the
SECONDARY while healthy; else the PRIMARY ("When the secondary resource
record set is unhealthy, Route 53 responds to DNS queries with the
applicable value from the primary resource record set regardless of the
health of the primary"). An alias to a load balancer answers the load
balancer's address. The data plane keeps answering whatever region is down
(only the API lives in us-east-1): `GET /_emulator/dns/resolve?name=` and
the probes use it; `TestDNSAnswer` is the API's and goes with us-east-1.
"""

import asyncio
import time
from datetime import datetime, timezone
from typing import Any
from xml.sax.saxutils import escape

from . import httpio, network, world

STATE: dict[str, dict[str, Any]] = {}
TASKS: dict[str, asyncio.Task] = {}
CHECKER_REGIONS = ["us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1", "ap-southeast-2",
                   "ap-northeast-1", "sa-east-1"]
# Route 53 health checker addresses (documented in ip-ranges.json, service ROUTE53_HEALTHCHECKS), one per region.
CHECKER_IPS = {r: f"15.177.{i * 8 + 2}.{10 + i}" for i, r in enumerate(CHECKER_REGIONS)}


def _true(v: Any) -> bool:
    return str(v).lower() == "true"


def _name(n: str) -> str:
    return n.rstrip(".").lower() + "."


def _backends():
    from moto.route53.models import route53_backends

    for account, regs in list(route53_backends.items()):
        for _part, backend in list(regs.items()):
            yield account, backend


def _health_check(hc_id: str) -> Any:
    for _a, backend in _backends():
        hc = backend.health_checks.get(hc_id)
        if hc is not None:
            return hc
    return None


# ---------------------------------------------------------------- probes ---

async def _probe_once(hc: Any) -> tuple[bool, str]:
    kind = str(hc.type_ or "HTTP").upper()
    host = hc.fqdn or hc.ip_address or ""
    addr = hc.ip_address or resolve(hc.fqdn or "")
    if addr is None:
        return False, f"Failure: DNS resolution failed: {hc.fqdn}"
    port = int(hc.port or (443 if kind.startswith("HTTPS") else 80))
    timeout = max(1.0, world.aws_seconds(6))
    if kind == "TCP":
        try:
            _r, w = await asyncio.wait_for(asyncio.open_connection(addr, port), max(1.0, world.aws_seconds(10)))
            w.close()
            return True, "Success: TCP connection established"
        except asyncio.TimeoutError:
            return False, f"Failure: Connection timed out. Resolved IP: {addr}"
        except OSError:
            return False, f"Failure: Connection refused. Resolved IP: {addr}"
    tls = kind.startswith("HTTPS")
    try:
        msg = await httpio.exchange(addr, port, httpio.request("GET", hc.resource_path or "/", host,
                                                               [("User-Agent", "Amazon-Route53-Health-Check-Service")]),
                                    timeout=timeout, tls=tls, server_hostname=host if _true(hc.enable_sni) else None)
    except asyncio.TimeoutError:
        return False, ("Failure: The health checker could not establish a connection within the timeout limit. "
                       f"Resolved IP: {addr}")
    except ConnectionRefusedError:
        return False, f"Failure: Connection refused. Resolved IP: {addr}"
    except (OSError, httpio.BadMessage, asyncio.IncompleteReadError) as e:
        return False, f"Failure: {e or type(e).__name__}. Resolved IP: {addr}"
    if not 200 <= msg.status < 400:
        return False, f"Failure: HTTP Status Code {msg.status}, {msg.reason}. Resolved IP: {addr}"
    if kind.endswith("STR_MATCH") and (hc.search_string or "").encode() not in msg.body[:5120]:
        return False, f"Failure: The string '{hc.search_string}' was not found in the response body. Resolved IP: {addr}"
    return True, f"Success: HTTP Status Code {msg.status}, {msg.reason}"


async def _probe_loop(hc_id: str) -> None:
    while True:
        hc = _health_check(hc_id)
        if hc is None:
            STATE.pop(hc_id, None)
            TASKS.pop(hc_id, None)
            return
        interval = max(0.1, world.aws_seconds(int(hc.request_interval or 30)))
        kind = str(hc.type_ or "HTTP").upper()
        if kind in ("CALCULATED", "CLOUDWATCH_METRIC", "RECOVERY_CONTROL") or not world.enabled():
            await asyncio.sleep(interval)
            continue
        st = STATE.setdefault(hc_id, {"healthy": True, "ok": 0, "fail": 0})
        ok, report = await _probe_once(hc)
        n = int(hc.failure_threshold or 3)
        if ok:
            st["ok"], st["fail"] = st["ok"] + 1, 0
            if not st["healthy"] and st["ok"] >= n:
                st["healthy"] = True
        else:
            st["fail"], st["ok"] = st["fail"] + 1, 0
            if st["healthy"] and st["fail"] >= n:
                st["healthy"] = False
        st.update(report=report, checked=time.time())
        await asyncio.sleep(interval)


def health_check_healthy(hc_id: str) -> bool:
    hc = _health_check(hc_id)
    if hc is None:
        return True
    if _true(hc.disabled):
        return True
    kind = str(hc.type_ or "HTTP").upper()
    if kind == "CALCULATED":
        children = list(hc.children or [])
        threshold = int(hc.health_threshold or len(children) or 1)
        healthy = sum(1 for c in children if health_check_healthy(c)) >= threshold
    elif not world.enabled() or kind in ("CLOUDWATCH_METRIC", "RECOVERY_CONTROL"):
        healthy = True
    else:
        healthy = STATE.get(hc_id, {}).get("healthy", True)
    return not healthy if _true(hc.inverted) else healthy


def fix_get_health_check_status() -> None:
    from moto.core.responses import ActionResult
    from moto.route53.responses import Route53

    original = Route53.get_health_check_status

    def get_health_check_status(self: Route53) -> Any:
        if not world.enabled():
            return original(self)
        hc_id = self._get_param("HealthCheckId")
        hc = self.backend.get_health_check(hc_id)
        world.kick()
        st = STATE.get(hc_id)
        if st is None or "report" not in st:
            return ActionResult({"HealthCheckObservations": []})
        report = st["report"]
        if _true(hc.inverted):
            report += " (inverted)"
        checked = datetime.fromtimestamp(st["checked"], timezone.utc)
        regions = list(hc.regions or CHECKER_REGIONS)
        return ActionResult({"HealthCheckObservations": [
            {"Region": r, "IPAddress": CHECKER_IPS.get(r, "15.177.0.1"),
             "StatusReport": {"Status": report, "CheckedTime": checked}} for r in regions]})

    Route53.get_health_check_status = get_health_check_status  # type: ignore[method-assign]


# --------------------------------------------------------------- answers ---

def _public_zone_for(name: str, zone_id: str | None = None) -> tuple[Any, Any] | None:
    best = None
    for _a, backend in _backends():
        for zone in list(backend.zones.values()):
            if zone_id is not None:
                if zone_id in (getattr(zone, "resource_id", None), getattr(zone, "id", None)):
                    return backend, zone
                continue
            if zone.private_zone:
                continue
            zn = _name(zone.name)
            if (name == zn or name.endswith("." + zn)) and (best is None or len(zn) > len(_name(best[1].name))):
                best = (backend, zone)
    return best


def _record_healthy(r: Any) -> bool:
    ok = True
    if r.health_check_id:
        ok = health_check_healthy(r.health_check_id)
    alias = r.alias_target or {}
    if alias and _true(alias.get("EvaluateTargetHealth")):
        ok = ok and _alias_healthy(alias)
    return ok


def _alias_healthy(alias: dict) -> bool:
    from . import elb

    target = _name(alias.get("DNSName", ""))
    found = elb.find_lb_by_dns(target.removeprefix("dualstack."))
    if found is not None:
        return elb.lb_healthy(found[2])
    ans = answer(target, "A")
    return ans["code"] == "NOERROR" and ans.get("healthy", True)


def _choose(records: list[Any]) -> tuple[Any, str]:
    failover = [r for r in records if r.failover]
    if not failover:
        return records[0], "simple"
    primary = next((r for r in failover if r.failover == "PRIMARY"), None)
    secondary = next((r for r in failover if r.failover == "SECONDARY"), None)
    if primary is not None and _record_healthy(primary):
        return primary, "PRIMARY healthy"
    if secondary is not None and _record_healthy(secondary):
        return secondary, "PRIMARY unhealthy, SECONDARY healthy"
    if primary is not None:
        return primary, "both unhealthy: the PRIMARY"
    return secondary, "SECONDARY (no PRIMARY)"


def answer(name: str, rtype: str = "A", zone_id: str | None = None, depth: int = 0) -> dict[str, Any]:
    """What Route 53 answers for `name` now: {code, values, chain}."""
    from . import elb

    n = _name(name)
    found = _public_zone_for(n, zone_id)
    if found is None or depth > 8:
        return {"code": "REFUSED", "values": [], "chain": []}
    _backend, zone = found
    rrs = [r for r in list(zone.rrsets) if _name(r.name) == n]
    if not rrs:
        return {"code": "NXDOMAIN", "values": [], "chain": []}
    typed = [r for r in rrs if r.type == rtype] or [r for r in rrs if r.type == "CNAME"]
    if not typed:
        return {"code": "NOERROR", "values": [], "chain": []}
    chosen, why = _choose(typed)
    link = {"record": chosen.set_identifier or chosen.name, "failover": chosen.failover, "why": why,
            "healthy": _record_healthy(chosen)}
    alias = chosen.alias_target or {}
    if alias:
        target = _name(alias.get("DNSName", ""))
        lb = elb.find_lb_by_dns(target.removeprefix("dualstack."))
        if lb is not None:
            return {"code": "NOERROR", "values": [elb.address_of(lb[2])], "chain": [link | {"alias": target}],
                    "healthy": link["healthy"]}
        inner = answer(target, rtype, depth=depth + 1)
        return {"code": inner["code"], "values": inner["values"], "chain": [link | {"alias": target}] + inner["chain"],
                "healthy": link["healthy"]}
    values = [v if isinstance(v, str) else v.get("Value") for v in list(chosen.records or [])]
    return {"code": "NOERROR", "values": values, "chain": [link], "healthy": link["healthy"]}


def resolve(name: str) -> str | None:
    """A name as a client on the internet resolves it: Route 53's public
    zones when one holds it, else the emulated network."""
    n = _name(name)
    if _public_zone_for(n) is not None:
        ans = answer(n, "A")
        for v in ans["values"]:
            if all(p.isdigit() for p in v.split(".")) and v.count(".") == 3:
                return v
            addr = network.resolve(v)
            if addr:
                return addr
        return None
    return network.resolve(name)


def test_dns_answer(query: dict[str, str]) -> tuple[int, str]:
    """TestDNSAnswer (GET /2013-04-01/testdnsanswer): the answer section of
    a query for the record, as the zone's name servers give it now."""
    zone_id = (query.get("hostedzoneid") or "").rsplit("/", 1)[-1]
    name, rtype = query.get("recordname") or "", (query.get("recordtype") or "").upper()
    if not zone_id or not name or not rtype:
        return 400, _error("InvalidInput", "hostedzoneid, recordname and recordtype are required")
    found = _public_zone_for(_name(name), zone_id)
    if found is None:
        return 404, _error("NoSuchHostedZone", f"No hosted zone found with ID: {zone_id}")
    _backend, zone = found
    if zone.private_zone:
        return 400, _error("InvalidInput", "TestDNSAnswer supports public hosted zones only")
    zn, n = _name(zone.name), _name(name)
    if not (n == zn or n.endswith("." + zn)):
        return 400, _error("InvalidInput", f"The record name {name} is not in the hosted zone {zone.name}")
    ans = answer(n, rtype, zone_id=zone_id)
    ns = "ns-2048.awsdns-64.com"
    try:
        ns = zone.delegation_set.name_servers[0]
    except Exception:  # noqa: BLE001
        pass
    entries = "".join(f"<RecordDataEntry>{escape(v)}</RecordDataEntry>" for v in ans["values"])
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<TestDNSAnswerResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
            f"<Nameserver>{escape(ns)}</Nameserver><RecordName>{escape(n)}</RecordName>"
            f"<RecordType>{escape(rtype)}</RecordType><RecordData>{entries}</RecordData>"
            f"<ResponseCode>{ans['code']}</ResponseCode><Protocol>UDP</Protocol></TestDNSAnswerResponse>")
    return 200, body


def _error(code: str, message: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
            f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
            "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>")


# ------------------------------------------------------------- reconcile ---

def reconcile() -> None:
    loop = asyncio.get_running_loop()
    seen = set()
    for _a, backend in _backends():
        for hc_id in list(backend.health_checks.keys()):
            seen.add(hc_id)
            if hc_id not in TASKS:
                TASKS[hc_id] = loop.create_task(_probe_loop(hc_id))
    for hc_id in [h for h in TASKS if h not in seen]:
        TASKS.pop(hc_id).cancel()
        STATE.pop(hc_id, None)


def stop_all() -> None:
    for t in TASKS.values():
        t.cancel()
    TASKS.clear()
    STATE.clear()


def summary() -> list[dict[str, Any]]:
    out = []
    for _a, backend in _backends():
        for hc_id, hc in list(backend.health_checks.items()):
            st = STATE.get(hc_id, {})
            out.append({"id": hc_id, "fqdn": hc.fqdn, "healthy": health_check_healthy(hc_id),
                        "report": st.get("report")})
    return out


def apply() -> None:
    fix_get_health_check_status()
