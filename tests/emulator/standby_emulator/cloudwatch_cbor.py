"""CloudWatch over the Smithy RPC v2 CBOR protocol.

CloudWatch's current service model (botocore's `monitoring` model lists
`protocols: ["smithy-rpc-v2-cbor", "json", "query"]`) is served by AWS in
all three; the AWS SDK for Rust (aws-sdk-cloudwatch 1.140) sends only CBOR:

    POST /service/GraniteServiceVersion20100801/operation/<Operation>
    smithy-protocol: rpc-v2-cbor
    Content-Type: application/cbor
    Accept: application/cbor
    x-amzn-query-mode: true            (awsQueryCompatible)
    [Content-Encoding: gzip]           (PutMetricData's requestCompression)

moto 5.2.5 answers CloudWatch's query and JSON protocols only (a CBOR request
gets HTTP 500). This module translates at the protocol layer and leaves the
behaviour to moto: the CBOR input map becomes the equivalent awsJson1_0
request (`X-Amz-Target: GraniteServiceVersion20100801.<Operation>`, timestamps
as epoch seconds), and moto's JSON answer is re-encoded as AWS answers in
CBOR (https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html):

- `smithy-protocol: rpc-v2-cbor` and `Content-Type: application/cbor` on every
  response; a CBOR map shaped by the operation's output shape (timestamps as
  tag 1 + epoch seconds); an empty body when the operation has no output;
- errors keep moto's status; the body is a map with `__type` (the shape id
  `com.amazonaws.cloudwatch#<Shape>`) and `message`, and the awsQueryCompatible
  header `x-amzn-query-error: <Code>;<Sender|Receiver>` carries the query
  error code the SDK reports.

The CBOR codec is botocore's own (its RPC v2 CBOR parser and serializer), so
the bytes are the ones AWS's Python SDK reads and writes.
"""

import datetime
import gzip
import io
import json
import re
from functools import lru_cache
from typing import Any

import botocore.session
from botocore.parsers import RpcV2CBORParser
from botocore.serialize import RpcV2CBORSerializer

SERVICE = "GraniteServiceVersion20100801"
_PATH = re.compile(r"^/service/([^/]+)/operation/([^/]+)$")


@lru_cache(maxsize=None)
def _model():
    return botocore.session.get_session().get_service_model("cloudwatch")


def operation(environ: dict) -> str | None:
    """The CloudWatch operation a CBOR request calls, or None."""
    if environ.get("REQUEST_METHOD", "GET").upper() != "POST":
        return None
    if environ.get("HTTP_SMITHY_PROTOCOL", "") != "rpc-v2-cbor":
        return None
    m = _PATH.match(environ.get("PATH_INFO", ""))
    return m.group(2) if m and m.group(1) == SERVICE else None


def decode(body: bytes) -> Any:
    parser = RpcV2CBORParser()
    return parser.parse_data_item(parser.get_peekable_stream_from_bytes(body))


def encode(value: Any, shape) -> bytes:
    out = bytearray()
    RpcV2CBORSerializer()._serialize_data_item(out, value, shape)
    return bytes(out)


def _jsonable(value: Any) -> Any:
    """CBOR input as awsJson input: timestamps become epoch seconds."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(value).decode("ascii")
    return value


def _read(environ: dict) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else environ["wsgi.input"].read()
    if environ.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":
        body = gzip.decompress(body)
    return body


def _respond(start_response, status: str, headers: list, body: bytes) -> list[bytes]:
    start_response(status, headers + [
        ("smithy-protocol", "rpc-v2-cbor"),
        ("Content-Type", "application/cbor"),
        ("Content-Length", str(len(body))),
    ])
    return [body]


def handle(moto_app, environ: dict, start_response) -> list[bytes]:
    """Answers a CBOR request through moto's JSON protocol."""
    op_name = operation(environ) or ""
    model = _model()
    if op_name not in model.operation_names:
        body = encode({"__type": "com.amazonaws.cloudwatch#UnknownOperationException",
                       "message": f"unknown operation {op_name}"}, _error_shape())
        return _respond(start_response, "404 Not Found", [], body)
    raw = _read(environ)
    params = decode(raw) if raw else {}
    payload = json.dumps(_jsonable(params or {})).encode("utf-8")
    inner = dict(environ)
    for key in ("HTTP_SMITHY_PROTOCOL", "HTTP_CONTENT_ENCODING", "HTTP_X_AMZN_QUERY_MODE"):
        inner.pop(key, None)
    inner.update({
        "PATH_INFO": "/",
        "CONTENT_TYPE": "application/x-amz-json-1.0",
        "HTTP_ACCEPT": "application/json",
        "HTTP_X_AMZ_TARGET": f"{SERVICE}.{op_name}",
        "CONTENT_LENGTH": str(len(payload)),
        "wsgi.input": io.BytesIO(payload),
    })
    seen: dict[str, Any] = {}

    def capture(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers
        return lambda _data: None

    answer = b"".join(moto_app(inner, capture))
    status = seen.get("status", "500 Internal Server Error")
    code = int(status.split(" ", 1)[0])
    keep = [(k, v) for k, v in seen.get("headers", [])
            if k.lower() in ("x-amzn-requestid", "x-amz-request-id", "x-amzn-query-error")]
    doc = json.loads(answer) if answer.strip().startswith(b"{") else {}
    if code < 300:
        out_shape = model.operation_model(op_name).output_shape
        body = encode(doc, out_shape) if out_shape is not None else b""
        return _respond(start_response, status, keep, body)
    error_type = str(doc.get("__type") or "InternalFailure").rsplit("#", 1)[-1]
    message = doc.get("message") or doc.get("Message") or answer.decode("utf-8", "replace")[:500]
    if not any(k.lower() == "x-amzn-query-error" for k, _ in keep):
        keep.append(("x-amzn-query-error", f"{error_type};{'Sender' if code < 500 else 'Receiver'}"))
    body = encode({"__type": f"com.amazonaws.cloudwatch#{_shape_name(error_type)}", "message": message},
                  _error_shape())
    return _respond(start_response, status, keep, body)


def _shape_name(code: str) -> str:
    """The error shape for a query error code (InvalidParameterValue ->
    InvalidParameterValueException), via the model's awsQueryError traits."""
    model = _model()
    for name in model.error_shapes if hasattr(model, "error_shapes") else []:
        if name.metadata.get("error", {}).get("code") == code or name.name == code:
            return name.name
    return code


@lru_cache(maxsize=None)
def _error_shape():
    from botocore.model import DenormalizedStructureBuilder

    return DenormalizedStructureBuilder().with_members({
        "__type": {"type": "string"},
        "message": {"type": "string"},
    }).build_model()
