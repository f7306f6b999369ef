"""Test-only call log: which AWS API operations the emulator was asked for.

Every request routed to moto is classified as (service, region, operation),
the names AWS uses (CloudTrail's eventSource/awsRegion/eventName), using the
botocore service models moto serves from:

- service and region come from the SigV4 credential scope
  (`Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request`,
  or `X-Amz-Credential` for presigned URLs);
- query protocols (IAM, RDS, EC2, ...): the `Action` form parameter;
- JSON protocols: the `X-Amz-Target` header;
- Smithy RPC v2 CBOR (CloudWatch): the path `/service/<Service>/operation/<Operation>`;
- REST protocols (S3, OpenSearch, ...): the operation whose HTTP method and
  `requestUri` template (path segments and literal query keys) match, the most
  specific one when several do (S3's `/{Bucket}?versioning` beats `/{Bucket}`),
  and among equals the one whose required headers / query parameters are all
  present (CopyObject needs `x-amz-copy-source`, PutObject does not).

Read with `GET /_emulator/calls`, cleared with `DELETE /_emulator/calls` (and
by `POST /moto-api/reset`). Request bodies are read only for query and JSON
protocols (to find `Action`, and the targets) and are handed on to moto
unchanged.

Each call also lists its `targets`: the parameters that name what it acts on
(`...Identifier`, `...Name`, `...Arn`, `...Id`, `Bucket`, `Key`, from the form,
the JSON body (nested keys by dotted path, e.g.
`LocalDomainInfo.AWSDomainInformation.DomainName`), or a REST path's labels),
never a password, token, tag, filter or user name; the drill's safety test proves with them that a drill changed its own
resources only.
"""

import io
import re
import threading
import time
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, unquote

import botocore.session

LOCK = threading.Lock()
CALLS: list[dict[str, Any]] = []

# SigV4 signing name -> botocore service names that sign with it.
_SIGNING_TO_SERVICES = {"es": ["opensearch", "es"], "email": ["ses", "sesv2"], "monitoring": ["cloudwatch"],
                        "elasticloadbalancing": ["elbv2", "elb"]}

_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/([^/,]+)/([^/,]+)/aws4_request")

_session = botocore.session.get_session()


@lru_cache(maxsize=None)
def _model(service: str):
    try:
        return _session.get_service_model(service)
    except Exception:  # unknown service name
        return None


@lru_cache(maxsize=None)
def _rest_routes(service: str) -> list[tuple]:
    """(method, path segments, literal query keys/values, required header and
    query names, operation name) for each operation of a REST service."""
    model = _model(service)
    routes = []
    for name in model.operation_names:
        op = model.operation_model(name)
        uri = op.http.get("requestUri", "/")
        path, _, query = uri.partition("?")
        segments = [s for s in path.split("/") if s != ""]
        literals = {}
        for part in filter(None, query.split("&")):
            k, _, v = part.partition("=")
            if k != "x-id":  # newer SDKs add ?x-id=OperationName; optional here
                literals[k] = v or None
        required = []
        shape = op.input_shape
        if shape is not None:
            for member in shape.required_members:
                ser = shape.members[member].serialization
                if ser.get("location") in ("header", "querystring"):
                    required.append((ser["location"], ser.get("name", member).lower()))
        routes.append((op.http.get("method", "POST"), segments, literals, required, name))
    return routes


def _path_matches(segments: list[str], template: list[str]) -> bool:
    i = 0
    for t in template:
        if t.startswith("{") and t.endswith("+}"):
            return i < len(segments)  # greedy label: one or more segments
        if i >= len(segments):
            return False
        if not (t.startswith("{") and t.endswith("}")) and t != segments[i]:
            return False
        i += 1
    return i == len(segments)


def _labels(segments: list[str], template: list[str]) -> dict[str, str]:
    """The values of a request path's labels (`{Bucket}`, `{Key+}`), by name."""
    out = {}
    for i, t in enumerate(template):
        if t.startswith("{") and t.endswith("}") and i < len(segments):
            greedy = t.endswith("+}")
            out[t.strip("{}+")] = "/".join(segments[i:]) if greedy else segments[i]
    return out


def _rest_operation(service: str, method: str, path: str, query: dict, headers: set) -> str | None:
    found = _rest_match(service, method, path, query, headers)
    return found[0] if found else None


def _rest_match(service: str, method: str, path: str, query: dict, headers: set) -> tuple[str, dict] | None:
    """The operation a REST request makes and its path labels' values."""
    segments = [unquote(s) for s in path.split("/") if s != ""]
    best = None
    for m, template, literals, required, name in _rest_routes(service):
        if m != method or not _path_matches(segments, template):
            continue
        if any(k not in query or (v is not None and v not in query[k]) for k, v in literals.items()):
            continue
        present = sum(1 for loc, n in required if (n in headers if loc == "header" else n in query))
        if present < len(required):
            continue
        score = (len(literals), present)
        if best is None or score > best[0]:
            best = (score, name, _labels(segments, template))
    return (best[1], best[2]) if best else None


# Parameters that name what a call acts on (never a secret's value): what the
# drill's safety test reads to prove that every change touched the drill's own
# resources only.
_TARGET = re.compile(r"(Identifier|Name|Names|Arn|Arns|Id|Ids|Bucket|Key)(\.(member\.)?\d+)?$")


def _targets(params: dict) -> dict[str, str]:
    out = {}
    for k, v in params.items():
        if isinstance(v, list):
            v = v[0] if v else None
        # Tags and filters describe, they do not name what is acted on; nor
        # does a user name (a domain's master user).
        skip = ("Password", "Token", "Tag", "Filter", "User")
        if isinstance(v, str) and v and _TARGET.search(k) and not any(w in k for w in skip):
            out[k] = v
    return out


def _read_body(environ: dict) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:  # no body, or a chunked one: leave it to moto
        return b""
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def classify(environ: dict) -> dict[str, Any] | None:
    """The call a request makes, or None when it is not a signed AWS request."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    query_string = environ.get("QUERY_STRING", "")
    m = _SCOPE.search(auth) or _SCOPE.search(unquote(query_string))
    if not m:
        return None
    region, signing = m.group(1), m.group(2)
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO", "/")
    query = parse_qs(query_string, keep_blank_values=True)
    headers = {k[5:].replace("_", "-").lower() for k in environ if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers.add("content-type")
    operation = None
    targets: dict[str, str] = {}
    service = signing
    candidates = _SIGNING_TO_SERVICES.get(signing, [signing])
    if signing == "s3" and path.startswith("/v20180820/"):
        candidates = ["s3control"]  # S3 Control signs as s3
    for candidate in candidates:
        model = _model(candidate)
        if model is None:
            continue
        protocol = model.protocol
        # Services that speak several protocols (CloudWatch: CBOR, JSON,
        # query): the request's own form says which one it uses.
        protocols = model.metadata.get("protocols", [protocol])
        if environ.get("HTTP_SMITHY_PROTOCOL") and "/operation/" in path:
            operation = path.rsplit("/operation/", 1)[-1] or None
        elif environ.get("HTTP_X_AMZ_TARGET") and "json" in protocols:
            operation = environ["HTTP_X_AMZ_TARGET"].rsplit(".", 1)[-1] or None
            targets = _json_targets(environ)
        elif protocol in ("query", "ec2") or (protocol not in ("rest-xml", "rest-json") and "query" in protocols):
            form = dict(query)
            if method == "POST":
                form.update(parse_qs(_read_body(environ).decode("utf-8", "replace")))
            action = form.get("Action")
            operation = action[0] if action else None
            targets = _targets(form)
        elif protocol == "json":
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            operation = target.rsplit(".", 1)[-1] or None
            targets = _json_targets(environ)
        else:
            found = _rest_match(candidate, method, path, query, headers)
            operation, targets = found if found else (None, {})
            if operation and protocol == "rest-json" and method in ("POST", "PUT", "PATCH"):
                # The body names what is made (CreateDomain's DomainName), the path what is changed.
                targets = {**_json_targets(environ), **targets}
        if operation:
            service = candidate
            break
    call = {"service": service, "region": region, "operation": operation or f"{method} {path}"}
    if targets:
        call["targets"] = targets
    return call


def _json_targets(environ: dict) -> dict[str, str]:
    import json

    try:
        body = json.loads(_read_body(environ) or b"{}")
    except ValueError:
        return {}
    return _targets(_flat(body)) if isinstance(body, dict) else {}


def _flat(body: dict, prefix: str = "") -> dict:
    """A JSON body's strings by dotted path (a list by its first item), e.g.
    `LocalDomainInfo.AWSDomainInformation.DomainName` of CreateOutboundConnection."""
    out: dict = {}
    for k, v in body.items():
        if isinstance(v, list):
            v = v[0] if v else None
        if isinstance(v, str):
            out[prefix + k] = v
        elif isinstance(v, dict) and "Tag" not in k and "Filter" not in k:
            out.update(_flat(v, f"{prefix}{k}."))
    return out


def record(environ: dict, start_response):
    """Logs the call; returns a start_response that also notes the status."""
    call = classify(environ)
    if call is None:
        return start_response
    call["at_ms"] = int(time.time() * 1000)  # when it arrived (tests check waits with it)
    with LOCK:
        CALLS.append(call)

    def _start_response(status, headers, exc_info=None):
        call["status"] = int(str(status).split(" ", 1)[0])
        return start_response(status, headers, exc_info)

    return _start_response


def snapshot() -> list[dict[str, Any]]:
    with LOCK:
        return [dict(c) for c in CALLS]


def reset() -> None:
    with LOCK:
        CALLS.clear()
