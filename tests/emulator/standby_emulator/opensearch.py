"""OpenSearch Service control-plane fixes (REST-JSON, /2021-01-01/opensearch/...).

State added here lives either on moto's domain objects (master user) or in
CONNECTIONS below (cross-cluster connections span two regions, so no single
regional backend owns them); `reset()` clears the latter and is called on
POST /moto-api/reset.
"""

import copy
import json
import random
import re
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.opensearch.models import (
    OpenSearchDomain,
    OpenSearchServiceBackend,
    opensearch_backends,
)
from moto.opensearch.responses import OpenSearchServiceResponse

from .settings import SETTINGS

# One lock for everything the extensions keep (connections, the REST fake):
# the server is threaded.
LOCK = threading.RLock()


class ResourceNotFoundException(JsonRESTError):
    code = 409  # sic: the OpenSearch Service API answers 409 for this error

    def __init__(self, message: str):
        super().__init__("ResourceNotFoundException", message)


class ResourceAlreadyExistsException(JsonRESTError):
    code = 409

    def __init__(self, message: str):
        super().__init__("ResourceAlreadyExistsException", message)


class ValidationException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("ValidationException", message)


def _random_id(n: int) -> str:
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


# ---------------------------------------------------------------- domains ---


def all_domains():
    """(account, region, domain) for every domain in moto's backends."""
    for account, per_region in list(dict.items(opensearch_backends)):
        for region, backend in list(dict.items(per_region)):
            for domain in list(backend.domains.values()):
                yield account, region, domain


def get_domain(account: str, region: str, name: str) -> OpenSearchDomain | None:
    per_region = dict.get(opensearch_backends, account)
    backend = dict.get(per_region, region) if per_region is not None else None
    return backend.domains.get(name) if backend is not None else None


def domain_hosts(domain: OpenSearchDomain) -> list[str]:
    hosts = [domain.endpoint] if domain.endpoint else []
    hosts += list((domain.endpoints or {}).values())
    return [h.lower() for h in hosts]


def master_user(domain: OpenSearchDomain) -> tuple[str, str] | None:
    """The internal master user (name, password) given at create/update, if any."""
    return getattr(domain, "_emu_master", None)


def fix_domain_endpoint() -> None:
    """DescribeDomain's Endpoint has AWS's form.

    AWS OpenSearch Service API reference, DomainStatus: Endpoint (public
    domains) or Endpoints{"vpc": ...} (VPC domains), e.g.
    search-<name>-<26 lowercase alphanumerics>.<region>.es.amazonaws.com and
    vpc-<name>-<...>.<region>.es.amazonaws.com. moto 5.2.5 uses
    <name>.<region>.es.amazonaws.com. The REST fake answers requests whose
    Host header is one of these names.
    """
    original = OpenSearchDomain.__init__

    def __init__(self, account_id, region, domain_name, *args, **kwargs):
        original(self, account_id, region, domain_name, *args, **kwargs)
        suffix = _random_id(26)
        if self.endpoint:
            self.endpoint = f"search-{domain_name}-{suffix}.{region}.es.amazonaws.com"
        else:
            self.endpoints = {"vpc": f"vpc-{domain_name}-{suffix}.{region}.es.amazonaws.com"}

    OpenSearchDomain.__init__ = __init__


def _take_master_user(domain: OpenSearchDomain | None, options: dict | None) -> dict | None:
    """Remove MasterUserOptions from `options`; remember name/password on the domain."""
    if not options:
        return options
    options = copy.deepcopy(options)
    master = options.pop("MasterUserOptions", None) or {}
    if domain is not None and master.get("MasterUserName") and master.get("MasterUserPassword"):
        domain._emu_master = (master["MasterUserName"], master["MasterUserPassword"])
    elif domain is not None and master.get("MasterUserARN"):
        domain._emu_master = None
    return options


def _busy(domain: OpenSearchDomain) -> None:
    """Processing for opensearch_processing_ms from now (AWS: minutes)."""
    domain._emu_busy_until = time.time() + SETTINGS.get("opensearch_processing_ms", 0) / 1000


def fix_processing_lag() -> None:
    """DomainStatus.Processing stays true for a while after a change.

    AWS OpenSearch Service API reference, DomainStatus.Processing: "The
    status of the domain configuration. True if OpenSearch Service is
    processing configuration changes." Changes take minutes
    (managedomains-configuration-changes.md); moto 5.2.5 is instant. The lag
    is the `opensearch_processing_ms` setting (default 0).
    """

    def get(self):
        return self.__dict__.get("_processing", False) or time.time() < self.__dict__.get("_emu_busy_until", 0)

    def set_(self, value):
        self.__dict__["_processing"] = value

    OpenSearchDomain.processing = property(get, set_)


def fix_create_domain() -> None:
    """CreateDomain refuses an existing name and keeps the master password secret.

    AWS OpenSearch Service API reference, CreateDomain: error
    ResourceAlreadyExistsException (409) when the domain exists.
    AdvancedSecurityOptions in DomainStatus has Enabled,
    InternalUserDatabaseEnabled, SAMLOptions, ... but never MasterUserOptions.
    moto 5.2.5 silently replaces an existing domain and echoes
    MasterUserOptions (including the password) in every DescribeDomain.
    The master user is kept aside for the REST fake's basic auth.
    """
    original = OpenSearchServiceBackend.create_domain

    def create_domain(self, domain_name, *args, **kwargs):
        if domain_name in self.domains:
            raise ResourceAlreadyExistsException(f"Domain {domain_name} already exists.")
        given = kwargs.get("advanced_security_options")
        kwargs["advanced_security_options"] = _take_master_user(None, given)
        domain = original(self, domain_name, *args, **kwargs)
        _take_master_user(domain, given)
        _busy(domain)
        return domain

    OpenSearchServiceBackend.create_domain = create_domain


def fix_update_domain_config() -> None:
    """UpdateDomainConfig merges AdvancedSecurityOptions and may change the master user.

    AWS OpenSearch Service API reference, UpdateDomainConfig:
    AdvancedSecurityOptions{Enabled, InternalUserDatabaseEnabled,
    MasterUserOptions, ...} updates only what is given; unknown domain is
    ResourceNotFoundException (409). moto 5.2.5 replaces the whole block,
    echoes MasterUserOptions, and fails with HTTP 500 for an unknown domain.
    """
    original = OpenSearchServiceBackend.update_domain_config

    def update_domain_config(self, domain_name, *args, **kwargs):
        if domain_name not in self.domains:
            raise ResourceNotFoundException(f"Domain not found: {domain_name}")
        domain = self.domains[domain_name]
        given = kwargs.get("advanced_security_options")
        if given:
            merged = dict(domain.advanced_security_options or {})
            merged.update(_take_master_user(domain, given) or {})
            kwargs["advanced_security_options"] = merged
        out = original(self, domain_name, *args, **kwargs)
        if kwargs.get("access_policies") == "":
            domain.access_policies = ""  # an empty document removes the policy (moto keeps the old one)
        _busy(domain)
        return out

    OpenSearchServiceBackend.update_domain_config = update_domain_config


# ------------------------------------------------------------ connections ---

OUTBOUND_ACTIVE_LIKE = {"PENDING_ACCEPTANCE", "APPROVED", "PROVISIONING", "ACTIVE"}


@dataclass
class Connection:
    connection_id: str
    account: str
    alias: str
    mode: str
    properties: dict | None
    local: dict  # AWSDomainInformation of the requesting (follower) domain
    remote: dict  # AWSDomainInformation of the remote (leader) domain
    status: str
    message: str | None = None
    extra: dict = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    # LocalDomainInfo / RemoteDomainInfo as the caller sent them (for tests).
    requested: dict = field(default_factory=dict)

    def visible_remotely(self) -> bool:
        """Cross-region propagation: the leader's region sees it after opensearch_inbound_visible_ms."""
        return time.time() >= self.created + SETTINGS.get("opensearch_inbound_visible_ms", 0) / 1000

    def _status(self, status: str | None = None) -> dict:
        out = {"StatusCode": status or self.status}
        if self.message:
            out["Message"] = self.message
        return out

    def outbound(self, status: str | None = None) -> dict:
        out = {
            "ConnectionId": self.connection_id,
            "ConnectionAlias": self.alias,
            "ConnectionMode": self.mode,
            "ConnectionStatus": self._status(status),
            "LocalDomainInfo": {"AWSDomainInformation": dict(self.local)},
            "RemoteDomainInfo": {"AWSDomainInformation": dict(self.remote)},
        }
        if self.properties:
            out["ConnectionProperties"] = self.properties
        return out

    def inbound(self, status: str | None = None) -> dict:
        return {
            "ConnectionId": self.connection_id,
            "ConnectionMode": self.mode,
            "ConnectionStatus": self._status(status),
            "LocalDomainInfo": {"AWSDomainInformation": dict(self.local)},
            "RemoteDomainInfo": {"AWSDomainInformation": dict(self.remote)},
        }


CONNECTIONS: dict[str, Connection] = {}


def reset() -> None:
    with LOCK:
        CONNECTIONS.clear()


def active_outbound(account: str, region: str, local_domain: str, alias: str) -> Connection | None:
    """The ACTIVE outbound connection `alias` of a local domain (the follower's remote cluster)."""
    with LOCK:
        for c in CONNECTIONS.values():
            if (
                c.account == account
                and c.local["Region"] == region
                and c.local["DomainName"] == local_domain
                and c.alias == alias
                and c.status == "ACTIVE"
            ):
                return c
    return None


def _domain_info(container: Any, what: str, account: str, region: str) -> dict:
    info = (container or {}).get("AWSDomainInformation") if isinstance(container, dict) else None
    if not isinstance(info, dict) or not info.get("DomainName"):
        raise ValidationException(f"{what}.AWSDomainInformation.DomainName is required.")
    return {
        "OwnerId": info.get("OwnerId") or account,
        "DomainName": info["DomainName"],
        "Region": info.get("Region") or region,
    }


_FILTERS = {
    "connection-id": lambda c: c.connection_id,
    "connection-alias": lambda c: c.alias,
    "local-domain-info.domain-name": lambda c: c.local["DomainName"],
    "local-domain-info.owner-id": lambda c: c.local["OwnerId"],
    "local-domain-info.region": lambda c: c.local["Region"],
    "remote-domain-info.domain-name": lambda c: c.remote["DomainName"],
    "remote-domain-info.owner-id": lambda c: c.remote["OwnerId"],
    "remote-domain-info.region": lambda c: c.remote["Region"],
}


def _filtered(conns: list[Connection], filters: Any) -> list[Connection]:
    for f in filters or []:
        name = (f or {}).get("Name")
        values = (f or {}).get("Values") or []
        getter = _FILTERS.get(name)
        if getter is None:
            raise ValidationException(f"Unsupported filter name: {name}")
        conns = [c for c in conns if getter(c) in values]
    return conns


def _page(items: list[dict], max_results: Any, token: Any) -> dict:
    start = int(token) if token and str(token).isdigit() else 0
    size = int(max_results) if max_results else 100
    out: dict[str, Any] = {"Connections": items[start : start + size]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


def _conn(connection_id: str) -> Connection:
    c = CONNECTIONS.get(connection_id or "")
    if c is None:
        raise ResourceNotFoundException(f"Connection not found: {connection_id}")
    return c


def fix_cross_cluster_connections() -> None:
    """The cross-cluster connection APIs (moto 5.2.5 has none).

    AWS OpenSearch Service API reference:
    - CreateOutboundConnection POST /2021-01-01/opensearch/cc/outboundConnection
      {LocalDomainInfo, RemoteDomainInfo: {AWSDomainInformation{OwnerId,
      DomainName, Region}}, ConnectionAlias, ConnectionMode, ConnectionProperties}
      -> {LocalDomainInfo, RemoteDomainInfo, ConnectionAlias, ConnectionStatus
      {StatusCode, Message}, ConnectionId, ConnectionMode, ConnectionProperties};
      errors ResourceAlreadyExistsException (409), LimitExceededException.
      Called in the local (follower) domain's Region.
    - AcceptInboundConnection PUT .../cc/inboundConnection/{ConnectionId}/accept,
      RejectInboundConnection PUT .../reject, DeleteInboundConnection DELETE
      .../inboundConnection/{ConnectionId}: called in the remote domain's Region
      -> {Connection: InboundConnection}; unknown id ResourceNotFoundException (409).
    - DeleteOutboundConnection DELETE .../cc/outboundConnection/{ConnectionId}
      -> {Connection: OutboundConnection}.
    - DescribeOutboundConnections POST .../cc/outboundConnection/search and
      DescribeInboundConnections POST .../cc/inboundConnection/search
      {Filters[{Name, Values}], MaxResults, NextToken} -> {Connections, NextToken}.
    Status codes follow the documented life cycle; the emulator completes each
    transition at once but answers the call with the transitional state AWS
    reports (accept -> APPROVED then ACTIVE, reject -> REJECTING then REJECTED,
    delete -> DELETING then DELETED). Deleted connections stay visible with
    status DELETED, as in AWS (Terraform's provider waits for DELETED).
    A local domain that does not exist is ResourceNotFoundException; a remote
    domain that does not exist gives a connection in VALIDATION_FAILED.
    """

    def create_outbound_connection(self: OpenSearchServiceResponse) -> str:
        account, region = self.current_account, self.region
        alias = self._get_param("ConnectionAlias") or ""
        if not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9\-_]+", alias) or len(alias) > 100:
            raise ValidationException(
                f"1 validation error detected: Value '{alias}' at 'connectionAlias' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern: "
                "[a-zA-Z][a-zA-Z0-9\\-\\_]+"
            )
        mode = self._get_param("ConnectionMode") or "DIRECT"
        if mode not in ("DIRECT", "VPC_ENDPOINT"):
            raise ValidationException(f"Invalid ConnectionMode: {mode}")
        local = _domain_info(self._get_param("LocalDomainInfo"), "LocalDomainInfo", account, region)
        remote = _domain_info(self._get_param("RemoteDomainInfo"), "RemoteDomainInfo", account, region)
        if local["Region"] != region or local["OwnerId"] != account:
            raise ValidationException(
                "The local domain must be owned by the caller and be in the Region of the request."
            )
        if get_domain(account, region, local["DomainName"]) is None:
            raise ResourceNotFoundException(f"Domain not found: {local['DomainName']}")
        properties = copy.deepcopy(self._get_param("ConnectionProperties")) or None
        with LOCK:
            for c in CONNECTIONS.values():
                if c.account == account and c.local == local and c.status in OUTBOUND_ACTIVE_LIKE:
                    if c.alias == alias or c.remote == remote:
                        raise ResourceAlreadyExistsException(
                            f"A connection with alias {c.alias} already exists between "
                            f"{local['DomainName']} and {c.remote['DomainName']}: {c.connection_id}"
                        )
            status, message = "PENDING_ACCEPTANCE", None
            if get_domain(remote["OwnerId"], remote["Region"], remote["DomainName"]) is None:
                status = "VALIDATION_FAILED"
                message = (
                    f"Domain {remote['DomainName']} not found in account {remote['OwnerId']}, "
                    f"Region {remote['Region']}."
                )
            if mode == "VPC_ENDPOINT":
                remote_domain = get_domain(remote["OwnerId"], remote["Region"], remote["DomainName"])
                if remote_domain is not None:
                    properties = dict(properties or {})
                    properties.setdefault("Endpoint", (domain_hosts(remote_domain) or [None])[0])
            conn = Connection(
                connection_id=f"cc-{_random_id(22)}",
                account=account,
                alias=alias,
                mode=mode,
                properties=properties,
                local=local,
                remote=remote,
                status=status,
                message=message,
                requested={"LocalDomainInfo": copy.deepcopy(self._get_param("LocalDomainInfo")),
                           "RemoteDomainInfo": copy.deepcopy(self._get_param("RemoteDomainInfo"))},
            )
            CONNECTIONS[conn.connection_id] = conn
            return json.dumps(conn.outbound())

    def _inbound_here(self: OpenSearchServiceResponse) -> Connection:
        c = _conn(self._get_param("ConnectionId"))
        if (
            c.remote["Region"] != self.region
            or c.remote["OwnerId"] != self.current_account
            or c.status == "VALIDATION_FAILED"
            or not c.visible_remotely()
        ):
            raise ResourceNotFoundException(f"Connection not found: {c.connection_id}")
        return c

    def accept_inbound_connection(self: OpenSearchServiceResponse) -> str:
        with LOCK:
            c = _inbound_here(self)
            if c.status != "PENDING_ACCEPTANCE":
                raise ValidationException(
                    f"Connection {c.connection_id} is {c.status} and cannot be accepted."
                )
            c.status = "ACTIVE"
            return json.dumps({"Connection": c.inbound(status="APPROVED")})

    def reject_inbound_connection(self: OpenSearchServiceResponse) -> str:
        with LOCK:
            c = _inbound_here(self)
            if c.status != "PENDING_ACCEPTANCE":
                raise ValidationException(
                    f"Connection {c.connection_id} is {c.status} and cannot be rejected."
                )
            c.status = "REJECTED"
            return json.dumps({"Connection": c.inbound(status="REJECTING")})

    def delete_inbound_connection(self: OpenSearchServiceResponse) -> str:
        with LOCK:
            c = _inbound_here(self)
            if c.status == "DELETED":
                raise ResourceNotFoundException(f"Connection not found: {c.connection_id}")
            c.status = "DELETED"
            return json.dumps({"Connection": c.inbound(status="DELETING")})

    def delete_outbound_connection(self: OpenSearchServiceResponse) -> str:
        with LOCK:
            c = _conn(self._get_param("ConnectionId"))
            if c.local["Region"] != self.region or c.account != self.current_account or c.status == "DELETED":
                raise ResourceNotFoundException(f"Connection not found: {c.connection_id}")
            c.status = "DELETED"
            return json.dumps({"Connection": c.outbound(status="DELETING")})

    def describe_outbound_connections(self: OpenSearchServiceResponse) -> str:
        with LOCK:
            conns = [
                c
                for c in CONNECTIONS.values()
                if c.account == self.current_account and c.local["Region"] == self.region
            ]
            conns = _filtered(conns, self._get_param("Filters"))
            items = [c.outbound() for c in conns]
        return json.dumps(_page(items, self._get_param("MaxResults"), self._get_param("NextToken")))

    def describe_inbound_connections(self: OpenSearchServiceResponse) -> str:
        with LOCK:
            conns = [
                c
                for c in CONNECTIONS.values()
                if c.remote["OwnerId"] == self.current_account
                and c.remote["Region"] == self.region
                and c.status != "VALIDATION_FAILED"
                and c.visible_remotely()
            ]
            conns = _filtered(conns, self._get_param("Filters"))
            items = [c.inbound() for c in conns]
        return json.dumps(_page(items, self._get_param("MaxResults"), self._get_param("NextToken")))

    # moto routes OpenSearch requests through the "es" backend's explicit URL
    # list, which has no /cc/ paths (hence its 404).
    from moto.es import urls as es_urls

    es_urls.url_paths["{0}/2021-01-01/opensearch/cc/(?P<cc_path>.+)$"] = OpenSearchServiceResponse.dispatch

    for fn in (
        create_outbound_connection,
        accept_inbound_connection,
        reject_inbound_connection,
        delete_inbound_connection,
        delete_outbound_connection,
        describe_outbound_connections,
        describe_inbound_connections,
    ):
        setattr(OpenSearchServiceResponse, fn.__name__, fn)


def _vpc_derived(account: str, region: str, given: dict | None) -> dict | None:
    """VPCOptions as given -> VPCDerivedInfo, or ValidationException for a subnet or group EC2 does not know."""
    if not given:
        return given
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[account][region]
    subnets, groups = given.get("SubnetIds") or [], given.get("SecurityGroupIds") or []
    found = []
    for sid in subnets:
        try:
            found.append(ec2.get_subnet(sid))
        except Exception:
            raise ValidationException(f"The subnet {sid} does not exist in {region}.")
    for gid in groups:
        if ec2.get_security_group_from_id(gid) is None:
            raise ValidationException(f"The security group {gid} does not exist in {region}.")
    if len({s.vpc_id for s in found}) > 1:
        raise ValidationException("The subnets must all be in one VPC.")
    return {"VPCId": found[0].vpc_id if found else None, "SubnetIds": subnets,
            "AvailabilityZones": sorted({s.availability_zone for s in found}), "SecurityGroupIds": groups}


def fix_vpc_domains() -> None:
    """VPC domains: checked subnets and groups, derived info, no move between public and VPC.

    AWS OpenSearch Service API reference, DomainStatus.VPCOptions is
    VPCDerivedInfo{VPCId, SubnetIds, AvailabilityZones, SecurityGroupIds};
    developer guide, "Launching your domains within a VPC": "If you launch a
    new domain within a VPC, you can't later switch it to use a public
    endpoint. The reverse is also true". moto 5.2.5 echoes VPCOptions as
    given (no VPCId), accepts subnets that do not exist, and lets
    UpdateDomainConfig give a public domain VPCOptions. Refusals answer 400
    ValidationException (AWS's exact wording is not documented).
    """
    create, update = OpenSearchServiceBackend.create_domain, OpenSearchServiceBackend.update_domain_config

    def create_domain(self, domain_name, *args, **kwargs):
        kwargs["vpc_options"] = _vpc_derived(self.account_id, self.region_name, kwargs.get("vpc_options"))
        return create(self, domain_name, *args, **kwargs)

    def update_domain_config(self, domain_name, *args, **kwargs):
        domain = self.domains.get(domain_name)
        given = kwargs.get("vpc_options")
        if domain is not None and given:
            if domain.vpc_options is None:
                raise ValidationException(
                    f"Domain {domain_name} has a public endpoint: it cannot be moved into a VPC.")
            kwargs["vpc_options"] = _vpc_derived(self.account_id, self.region_name, given)
        return update(self, domain_name, *args, **kwargs)

    OpenSearchServiceBackend.create_domain = create_domain
    OpenSearchServiceBackend.update_domain_config = update_domain_config


def apply() -> None:
    fix_processing_lag()
    fix_domain_endpoint()
    fix_create_domain()
    fix_update_domain_config()
    fix_vpc_domains()
    fix_cross_cluster_connections()
