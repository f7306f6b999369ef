"""A little HTTP/1.1 over asyncio for the game-day world's listeners (load
balancers, instance metadata) and probes (target group and Route 53 health
checks). Enough of RFC 9112 for JSON APIs: Content-Length and chunked
bodies, keep-alive, no pipelining, no upgrades (WebSocket)."""

import asyncio
import ssl
from dataclasses import dataclass, field

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}


class BadMessage(Exception):
    pass


@dataclass
class Message:
    start: str  # request line or status line
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    @property
    def method(self) -> str:
        return self.start.split(" ", 1)[0].upper()

    @property
    def target(self) -> str:
        parts = self.start.split(" ")
        return parts[1] if len(parts) > 1 else "/"

    @property
    def status(self) -> int:
        parts = self.start.split(" ", 2)
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0

    @property
    def reason(self) -> str:
        parts = self.start.split(" ", 2)
        return parts[2] if len(parts) > 2 else ""

    def keep_alive(self) -> bool:
        conn = (self.header("connection") or "").lower()
        if self.start.endswith("HTTP/1.0") or self.start.startswith("HTTP/1.0"):
            return conn == "keep-alive"
        return conn != "close"


async def read_message(reader: asyncio.StreamReader, *, response: bool = False, head_only: bool = False) -> Message | None:
    """One message, or None when the peer closed before sending anything."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial.strip():
            return None
        raise BadMessage("connection closed inside the header") from e
    except asyncio.LimitOverrunError as e:
        raise BadMessage("header too large") from e
    if len(head) > MAX_HEAD:
        raise BadMessage("header too large")
    lines = head.decode("latin-1").split("\r\n")
    msg = Message(lines[0])
    for line in lines[1:]:
        if not line:
            continue
        if ":" not in line:
            raise BadMessage(f"bad header line {line!r}")
        k, v = line.split(":", 1)
        msg.headers.append((k.strip(), v.strip()))
    if head_only:
        return msg
    te = (msg.header("transfer-encoding") or "").lower()
    length = msg.header("content-length")
    if "chunked" in te:
        chunks = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # trailers are not supported: the empty line
                break
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
            if sum(map(len, chunks)) > MAX_BODY:
                raise BadMessage("body too large")
        msg.body = b"".join(chunks)
        msg.headers = [(k, v) for k, v in msg.headers if k.lower() != "transfer-encoding"]
        msg.headers.append(("Content-Length", str(len(msg.body))))
    elif length is not None:
        n = int(length)
        if n > MAX_BODY:
            raise BadMessage("body too large")
        msg.body = await reader.readexactly(n)
    elif response and msg.status not in (204, 304) and not (100 <= msg.status < 200):
        msg.body = await reader.read(MAX_BODY)  # until the server closes
    return msg


def render(start: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    out = [start]
    seen = set()
    for k, v in headers:
        if k.lower() in ("content-length", "transfer-encoding"):
            continue
        out.append(f"{k}: {v}")
        seen.add(k.lower())
    out.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body


def response(status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None,
             content_type: str = "application/json", keep_alive: bool = True) -> bytes:
    hs = [("Content-Type", content_type)] + list(headers or [])
    hs.append(("Connection", "keep-alive" if keep_alive else "close"))
    return render(f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", hs, body)


async def exchange(host: str, port: int, request: bytes, *, timeout: float, tls: bool = False,
                   server_hostname: str | None = None) -> Message:
    """Sends one request on a new connection and reads the answer.

    Raises ConnectionRefusedError / OSError (no connection), asyncio.TimeoutError
    (no answer in time), BadMessage (malformed answer)."""
    ctx = None
    if tls:
        # Route 53 and ELB health checkers do not validate certificates.
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

    async def go() -> Message:
        reader, writer = await asyncio.open_connection(host, port, ssl=ctx,
                                                       server_hostname=server_hostname if tls else None)
        try:
            writer.write(request)
            await writer.drain()
            msg = await read_message(reader, response=True)
            if msg is None:
                raise BadMessage("connection closed without an answer")
            return msg
        finally:
            writer.close()

    return await asyncio.wait_for(go(), timeout)


def request(method: str, path: str, host: str, headers: list[tuple[str, str]] | None = None,
            body: bytes = b"") -> bytes:
    hs = [("Host", host), ("Connection", "close")] + list(headers or [])
    return render(f"{method} {path} HTTP/1.1", hs, body)
