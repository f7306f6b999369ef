"""Route 53 as AWS behaves for the calls standby makes (REST-XML).

moto 5.2.5 differs from AWS (API reference, ChangeResourceRecordSets /
GetChange / CreateHealthCheck / DeleteHealthCheck / CreateHostedZone):
- every change is INSYNC at once under one constant id; AWS answers PENDING
  with a new id per change, and GetChange reports INSYNC once the change has
  reached every Route 53 name server (here: after `route53_pending_polls`
  GetChange calls);
- CREATE of a record that exists (name, type, set identifier) is accepted
  unless the very same change was made before; AWS refuses it
  (InvalidChangeBatch "... but it already exists");
- DELETE removes every record with the same set identifier, whatever the
  name, and does not check the values; AWS deletes only the record of that
  name, type and set identifier, and refuses a DELETE whose values differ or
  whose record does not exist (InvalidChangeBatch);
- no record validation: AWS refuses (InvalidInput) both an alias and
  records/TTL, a set identifier without a routing policy, a failover record
  without a set identifier; (InvalidChangeBatch) a second PRIMARY/SECONDARY
  for one name and type, failover and plain records of one name and type, an
  alias whose load balancer does not exist or whose zone id is not the load
  balancer's; (NoSuchHealthCheck) an unknown HealthCheckId;
- a batch is all or nothing (AWS checks every change before making any);
- CreateHealthCheck ignores CallerReference; AWS returns the existing health
  check for a repeat with the same settings, and HealthCheckAlreadyExists for
  other settings or a deleted health check's reference;
- DeleteHealthCheck of a health check a record uses succeeds; AWS refuses it
  (HealthCheckInUse);
- CreateHostedZone accepts a reused CallerReference; AWS refuses it
  (HostedZoneAlreadyExists);
- names and alias targets are stored as sent; AWS stores and answers them in
  lower case with the final dot.
"""

import copy
import random
import string
from typing import Any

from moto.route53.exceptions import NoSuchHealthCheck, Route53ClientError
from moto.route53.models import Route53Backend
from moto.route53.responses import Route53

from .settings import SETTINGS

# change id -> GetChange calls left that answer PENDING
CHANGES: dict[str, int] = {}
# (account, caller reference) -> (health check id or None once deleted, settings)
HEALTH_REFS: dict[tuple[str, str], tuple[str | None, dict]] = {}
ZONE_REFS: set[tuple[str, str]] = set()


def reset() -> None:
    CHANGES.clear()
    HEALTH_REFS.clear()
    ZONE_REFS.clear()


class _Error(Route53ClientError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


def _batch_error(messages: list[str]) -> _Error:
    return _Error("InvalidChangeBatch", "[" + ", ".join(messages) + "]")


def _new_change() -> str:
    change_id = "C" + "".join(random.choices(string.ascii_uppercase + string.digits, k=13))
    CHANGES[change_id] = int(SETTINGS.get("route53_pending_polls", 1))
    return change_id


def _name(n: str) -> str:
    return n.rstrip(".").lower() + "."


def _key(rr: dict) -> tuple:
    return (_name(rr["Name"]), rr.get("Type"), rr.get("SetIdentifier"))


def _describe(action: str, rr: dict) -> str:
    parts = [f"Action={action}", f"Name={_name(rr['Name'])}", f"Type={rr.get('Type')}",
             f"SetIdentifier={rr.get('SetIdentifier', 'null')}"]
    return "Change with [" + ", ".join(parts) + "]"


def _as_dict(r: Any) -> dict:
    d = {"Name": r.name, "Type": r.type}
    for attr, key in (("set_identifier", "SetIdentifier"), ("failover", "Failover"), ("ttl", "TTL"),
                      ("health_check_id", "HealthCheckId"), ("alias_target", "AliasTarget")):
        v = getattr(r, attr)
        if v is not None:
            d[key] = v
    if r.records:
        d["ResourceRecords"] = list(r.records)
    return d


def _values(rr: dict) -> tuple:
    records = rr.get("ResourceRecords") or []
    records = tuple(sorted(x["Value"] if isinstance(x, dict) else x for x in records))
    alias = rr.get("AliasTarget")
    if alias:
        ev = str(alias.get("EvaluateTargetHealth", "false")).lower() == "true"
        alias = (_name(alias.get("DNSName", "")), alias.get("HostedZoneId"), ev)
    ttl = rr.get("TTL")
    return (str(ttl) if ttl is not None else None, records, alias, rr.get("Failover"), rr.get("HealthCheckId"))


def _load_balancers(account_id: str):
    from moto.elbv2.models import elbv2_backends

    for backend in elbv2_backends[account_id].values():
        yield from backend.load_balancers.values()


def _check_record(backend: Route53Backend, zone: Any, action: str, rr: dict) -> str | None:
    """InvalidInput problems raise; InvalidChangeBatch ones are returned."""
    where = _describe(action, rr)
    has_alias = bool(rr.get("AliasTarget"))
    has_records = "TTL" in rr or "ResourceRecords" in rr
    if has_alias and has_records:
        raise _Error("InvalidInput", "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and "
                     f"ResourceRecords], or TrafficPolicyInstanceId], but found more than one in {where}")
    if not has_alias and not ("TTL" in rr and rr.get("ResourceRecords")):
        raise _Error("InvalidInput", "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and "
                     f"ResourceRecords], or TrafficPolicyInstanceId], but found none in {where}")
    policies = [k for k in ("Weight", "Region", "Failover", "GeoLocation", "MultiValueAnswer") if rr.get(k)]
    if rr.get("SetIdentifier") and not policies:
        raise _Error("InvalidInput", "Invalid request: Expected exactly one of [Weight, Region, Failover, "
                     f"GeoLocation, MultiValueAnswer, GeoProximityLocation, or CidrRoutingConfig], but found none in {where}")
    if policies and not rr.get("SetIdentifier"):
        raise _Error("InvalidInput", f"Invalid request: Missing field 'SetIdentifier' in {where}")
    if rr.get("Failover") not in (None, "PRIMARY", "SECONDARY"):
        raise _Error("InvalidInput", f"Invalid XML ; cvc-enumeration-valid: Value '{rr.get('Failover')}' is not "
                     "facet-valid with respect to enumeration '[PRIMARY, SECONDARY]'.")
    hc = rr.get("HealthCheckId")
    if hc and hc not in backend.health_checks:
        raise NoSuchHealthCheck(hc)
    if has_alias and action != "DELETE":
        alias = rr["AliasTarget"]
        target = _name(alias.get("DNSName", ""))
        if target.rstrip(".").endswith(".elb.amazonaws.com"):
            lbs = [lb for lb in _load_balancers(backend.account_id) if _name(lb.dns_name) == target]
            if not lbs or all(lb.canonical_hosted_zone_id != alias.get("HostedZoneId") for lb in lbs):
                return (f"Tried to create an alias that targets {target}, type {rr.get('Type')} in zone "
                        f"{alias.get('HostedZoneId')}, but the alias target name does not lie within the target zone")
    return None


def fix_change_resource_record_sets() -> None:
    original = Route53Backend.change_resource_record_sets

    def change_resource_record_sets(self, zoneid: str, change_list: list[dict[str, Any]]) -> None:
        zone = self.get_hosted_zone(zoneid)
        # What the zone holds after each change, checked before any is made.
        held = {_key(_as_dict(r)): _as_dict(r) for r in zone.rrsets}
        problems: list[str] = []
        for change in change_list:
            action, rr = change["Action"], change["ResourceRecordSet"]
            key = _key(rr)
            p = _check_record(self, zone, action, rr)
            if p:
                problems.append(p)
            label = f"[name='{key[0]}', type='{key[1]}'" + (f", set-identifier='{key[2]}'" if key[2] else "") + "]"
            if action == "CREATE" and key in held:
                problems.append(f"Tried to create resource record set {label} but it already exists")
            elif action == "DELETE" and key not in held:
                problems.append(f"Tried to delete resource record set {label} but it was not found")
            elif action == "DELETE" and _values(held[key]) != _values(rr):
                problems.append(f"Tried to delete resource record set {label} but the values provided do not "
                                "match the current values")
            if action == "DELETE":
                held.pop(key, None)
                continue
            same = [v for k, v in held.items() if k[:2] == key[:2] and k != key]
            if rr.get("Failover") and any(not v.get("Failover") for v in same):
                problems.append(f"RRSet with DNS name {key[0]} and type {key[1]} cannot be created because a "
                                "non-failover RRSet with the same name and type already exists.")
            elif not rr.get("Failover") and any(v.get("Failover") for v in same):
                problems.append(f"RRSet with DNS name {key[0]} and type {key[1]} cannot be created as a "
                                "non-failover RRSet because a failover RRSet with the same name and type already exists.")
            elif rr.get("Failover") and any(v.get("Failover") == rr["Failover"] for v in same):
                problems.append(f"RRSet with DNS name {key[0]}, type {key[1]}, SetIdentifier {key[2]} cannot be "
                                f"created because a {rr['Failover']} RRSet with the same name and type already exists.")
            held[key] = copy.deepcopy(rr)
        if problems:
            raise _batch_error(problems)
        # moto's own DELETE matches the set identifier only: delete by name, type and set identifier here.
        rest = []
        for change in change_list:
            if change["Action"] == "DELETE":
                key = _key(change["ResourceRecordSet"])
                zone.rrsets = [r for r in zone.rrsets if _key(_as_dict(r)) != key]
            else:
                # AWS stores names in lower case with the final dot, and
                # answers alias targets the same way; moto keeps them as sent.
                rr = change["ResourceRecordSet"]
                rr["Name"] = _name(rr["Name"])
                if rr.get("AliasTarget", {}).get("DNSName"):
                    rr["AliasTarget"]["DNSName"] = _name(rr["AliasTarget"]["DNSName"])
                rest.append(change)
        if rest:
            # CREATE is checked above; moto's own journal check must not refuse a re-created record.
            zone.rr_changes.clear()
            original(self, zoneid, rest)

    Route53Backend.change_resource_record_sets = change_resource_record_sets


def _with_change(method_name: str) -> None:
    original = getattr(Route53, method_name)

    def method(self):
        result = original(self)
        info = getattr(result, "result", {}).get("ChangeInfo") if hasattr(result, "result") else None
        if isinstance(info, dict):
            info["Id"] = f"/change/{_new_change()}"
            info["Status"] = "PENDING"
        return result

    setattr(Route53, method_name, method)


def fix_get_change() -> None:
    original = Route53.get_change

    def get_change(self):
        result = original(self)
        change_id = self._get_param("Id").rsplit("/", 1)[-1]
        if change_id not in CHANGES:
            raise _Error("NoSuchChange", f"A change with the specified change ID {change_id} does not exist.")
        info = result.result["ChangeInfo"]
        info["Id"] = f"/change/{change_id}"
        if CHANGES[change_id] > 0:
            CHANGES[change_id] -= 1
            info["Status"] = "PENDING"
        return result

    Route53.get_change = get_change


def _settings(config: dict) -> dict:
    return {k: v for k, v in (config or {}).items() if v is not None}


def fix_health_check_references() -> None:
    original_delete = Route53Backend.delete_health_check
    response_create = Route53.create_health_check

    def create(self):
        ref = self._get_param("CallerReference")
        settings = _settings(self._get_param("HealthCheckConfig"))
        known = HEALTH_REFS.get((self.current_account, ref))
        if known is not None:
            hc_id, before = known
            if hc_id is None or before != settings:
                raise _Error("HealthCheckAlreadyExists", "A health check with the same CallerReference already "
                             "exists, or was deleted, with other settings.")
            from moto.core.responses import ActionResult
            return ActionResult({"HealthCheck": self.backend.get_health_check(hc_id)})
        result = response_create(self)
        HEALTH_REFS[(self.current_account, ref)] = (result.result["HealthCheck"].id, settings)
        return result

    def delete_health_check(self, health_check_id: str) -> None:
        for zone in self.zones.values():
            for r in zone.rrsets:
                if r.health_check_id == health_check_id:
                    raise _Error("HealthCheckInUse", f"The health check with id {health_check_id} is still "
                                 f"referenced from the resource record set {r.name} {r.type}.")
        if health_check_id not in self.health_checks:
            raise NoSuchHealthCheck(health_check_id)
        for key, (hc_id, settings) in list(HEALTH_REFS.items()):
            if hc_id == health_check_id:
                HEALTH_REFS[key] = (None, settings)
        original_delete(self, health_check_id)

    Route53.create_health_check = create
    Route53Backend.delete_health_check = delete_health_check


def fix_hosted_zone_references() -> None:
    original = Route53Backend.create_hosted_zone

    def create_hosted_zone(self, name, private_zone, caller_reference=None, *args, **kwargs):
        if caller_reference:
            key = (self.account_id, caller_reference)
            if key in ZONE_REFS:
                raise _Error("HostedZoneAlreadyExists", "A hosted zone has already been created with the specified "
                             "caller reference.")
            ZONE_REFS.add(key)
        return original(self, name, private_zone, caller_reference, *args, **kwargs)

    Route53Backend.create_hosted_zone = create_hosted_zone


def apply() -> None:
    fix_change_resource_record_sets()
    for name in ("change_resource_record_sets", "create_hosted_zone"):
        _with_change(name)
    fix_get_change()
    fix_health_check_references()
    fix_hosted_zone_references()
