"""Each node's instance metadata service (EC2 User Guide, "Use the
Instance Metadata Service to access instance metadata", IMDSv2):

- `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds`
  (1–21600; missing or outside → 400) answers a session token; a PUT
  carrying `X-Forwarded-For` is refused (403), as IMDS refuses proxied
  token requests.
- `GET` with `X-aws-ec2-metadata-token`: an unknown or expired token → 401.
  Without a token: allowed when the launch template's
  `MetadataOptions.HttpTokens` is `optional`, 401 when `required`.
- `HttpEndpoint: disabled` → no metadata service at all (connection
  refused).
- Paths: `meta-data/` (listing), `instance-id`, `ami-id`, `local-ipv4`,
  `local-hostname`, `placement/availability-zone`, `placement/region`,
  `iam/info`, `iam/security-credentials/` (the role name) and
  `iam/security-credentials/<role>` (`{Code, LastUpdated, Type:
  AWS-HMAC, AccessKeyId, SecretAccessKey, Token, Expiration}`: temporary
  credentials of the instance profile's role, from STS AssumeRole in
  moto, so they are the role's own), `user-data`,
  `dynamic/instance-identity/document`.

Listens on the node's own address, port 80 (what 169.254.169.254 is to
an instance), or a free port when 80 cannot be bound (not root).
"""

import asyncio
import json
import secrets
import socket
import time
from datetime import datetime, timezone
from typing import Any

from . import httpio, world

_SERVERS: dict[str, Any] = {}
_TOKENS: dict[str, float] = {}  # token -> expiry


def serve(node: Any) -> None:
    if str(node.metadata.get("HttpEndpoint", "enabled")).lower() == "disabled":
        node.imds_url = f"http://{node.addr}:80"
        return
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((node.addr, 80))
    except OSError:
        sock.bind((node.addr, 0))
    sock.listen(64)
    sock.setblocking(False)
    node.imds_url = f"http://{node.addr}:{sock.getsockname()[1]}"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                req = await httpio.read_message(reader)
                if req is None:
                    break
                status, body, headers = answer(node, req)
                writer.write(httpio.response(status, body, headers, content_type="text/plain",
                                             keep_alive=req.keep_alive()))
                await writer.drain()
                if not req.keep_alive():
                    break
        except (httpio.BadMessage, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def start() -> None:
        _SERVERS[node.id] = await asyncio.start_server(handle, sock=sock)

    asyncio.get_event_loop().create_task(start()) if _on_loop() else world.submit(start()).result(10)


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        return False


def close(node: Any) -> None:
    server = _SERVERS.pop(node.id, None)
    if server is not None:
        if _on_loop():
            server.close()
        else:
            world.call(server.close)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def answer(node: Any, req: httpio.Message) -> tuple[int, bytes, list[tuple[str, str]]]:
    path = req.target.split("?", 1)[0]
    if req.method == "PUT" and path == "/latest/api/token":
        if req.header("x-forwarded-for") is not None:
            return 403, b"", []
        ttl = req.header("x-aws-ec2-metadata-token-ttl-seconds")
        if ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return 400, b"", []
        token = secrets.token_urlsafe(32)
        _TOKENS[token] = time.time() + int(ttl)
        return 200, token.encode(), [("X-aws-ec2-metadata-token-ttl-seconds", ttl)]
    if req.method != "GET":
        return 405, b"", []
    token = req.header("x-aws-ec2-metadata-token")
    if token is not None:
        if _TOKENS.get(token, 0) < time.time():
            return 401, b"", []
    elif str(node.metadata.get("HttpTokens", "optional")).lower() == "required":
        return 401, b"", []
    body = _get(node, path)
    if body is None:
        return 404, b"", []
    return 200, body.encode(), []


def _role(node: Any) -> tuple[str, str] | None:
    """(role name, role ARN) of the node's instance profile."""
    from moto.iam.models import iam_backends

    prof = node.profile or {}
    name = prof.get("Name") or (prof.get("Arn") or "").rsplit("/", 1)[-1]
    if not name:
        return None
    try:
        backend = iam_backends[node.account]["global"]
        profile = backend.get_instance_profile(name)
    except Exception:  # noqa: BLE001
        return None
    roles = list(getattr(profile, "roles", []) or [])
    if not roles:
        return None
    return roles[0].name, roles[0].arn


def _credentials(node: Any, role_arn: str) -> dict[str, Any]:
    from moto.sts.models import sts_backends

    cached = getattr(node, "_imds_creds", None)
    if cached and cached["until"] - 300 > time.time():
        return cached["body"]
    backend = sts_backends[node.account]["global"]
    role = backend.assume_role(region_name=node.region, role_session_name=node.id, role_arn=role_arn, policy=None,
                               duration=21600, external_id=None)
    now = time.time()
    body = {"Code": "Success", "LastUpdated": _iso(now), "Type": "AWS-HMAC",
            "AccessKeyId": role.access_key_id, "SecretAccessKey": role.secret_access_key,
            "Token": role.session_token, "Expiration": _iso(now + 21600)}
    node._imds_creds = {"until": now + 21600, "body": body}
    return body


def _get(node: Any, path: str) -> str | None:
    p = path.rstrip("/") if path not in ("/latest/meta-data/",) else path
    az = f"{node.region}a"
    md = "/latest/meta-data"
    if p in (md, md + "/"):
        return "\n".join(["ami-id", "hostname", "iam/", "instance-id", "local-hostname", "local-ipv4",
                          "placement/"])
    simple = {
        md + "/instance-id": node.id, md + "/ami-id": node.ami, md + "/local-ipv4": node.private_ip,
        md + "/local-hostname": node.private_dns, md + "/hostname": node.private_dns,
        md + "/placement/availability-zone": az, md + "/placement/region": node.region,
        md + "/placement": "availability-zone\nregion",
    }
    if p in simple:
        return simple[p]
    if p == "/latest/user-data":
        return node.user_data.decode(errors="replace") if node.user_data else None
    if p == "/latest/dynamic/instance-identity/document":
        return json.dumps({"accountId": node.account, "architecture": "x86_64", "availabilityZone": az,
                           "imageId": node.ami, "instanceId": node.id, "instanceType": "m6i.large",
                           "privateIp": node.private_ip, "region": node.region, "version": "2017-09-30"})
    role = _role(node)
    if p == md + "/iam":
        return "info\nsecurity-credentials/" if role else None
    if p == md + "/iam/info" and role:
        prof = node.profile or {}
        return json.dumps({"Code": "Success", "LastUpdated": _iso(time.time()),
                           "InstanceProfileArn": prof.get("Arn") or
                           f"arn:aws:iam::{node.account}:instance-profile/{prof.get('Name')}",
                           "InstanceProfileId": "AIPA" + node.id[2:].upper()})
    if p == md + "/iam/security-credentials":
        return role[0] if role else None
    if role and p == f"{md}/iam/security-credentials/{role[0]}":
        return json.dumps(_credentials(node, role[1]), indent=2)
    return None
