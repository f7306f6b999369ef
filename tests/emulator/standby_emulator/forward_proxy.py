"""The game-day world's forward proxy: how a tool on an operator's machine
reaches load balancers and nodes by name, as a corporate HTTP proxy would.

Started on first use by `GET /_emulator/proxy` (answers `{"url":
"http://127.0.0.1:PORT"}`; the port is a free one the kernel chose), stopped
by `POST /moto-api/reset`. Clients set `HTTP_PROXY`/`HTTPS_PROXY` to it.

Names resolve as `GET /_emulator/dns/resolve` answers them (dns.resolve):
Route 53's answer for a name in a public hosted zone (the site hostname, as
the synthetic user resolves it), the emulated network (network.py) for
everything else (a load balancer's DNS name, a node's name). What does not
resolve is answered 502 with the reason, as proxies answer (RFC 9110
15.6.3, 502 Bad Gateway: "received an invalid response from an inbound
server it accessed while attempting to fulfill the request"); a refused
connection too.

- `CONNECT host:port` (RFC 9110 9.3.6): a tunnel to the address, `200
  Connection established`, then bytes both ways (TLS end to end: the proxy
  sees no request).
- A request in absolute form (`GET http://host:port/path HTTP/1.1`, RFC 9112
  3.2.2, the form a client sends to a proxy): forwarded in origin form
  (`GET /path`) to the address, `Host` as the client sent it (so `Host` may
  name the site while the URL names a load balancer, as with `curl
  --resolve`), hop-by-hop and `Proxy-*` headers dropped (RFC 9110 7.6.1),
  one request per client connection (`Connection: close`).

Each request is recorded (`GET /_emulator/proxy` lists them: method, target,
address, status), without headers or bodies (a bearer token passes through
here).
"""

import socket
import threading
import time
import urllib.parse
from typing import Any

LOCK = threading.Lock()
_SERVER: "Proxy | None" = None
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
              "trailer", "transfer-encoding", "upgrade"}


def _resolve(host: str) -> str | None:
    from . import dns

    if host in ("localhost", "127.0.0.1"):
        return "127.0.0.1"
    if all(p.isdigit() for p in host.split(".")) and host.count(".") == 3:
        return host
    return dns.resolve(host)


class Proxy:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.log: list[dict[str, Any]] = []
        threading.Thread(target=self._accept, daemon=True, name="forward-proxy").start()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.stopped.set()
        try:
            # shutdown wakes the thread blocked in accept(); close alone leaves it listening.
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _record(self, method: str, target: str, address: str | None, status: int) -> None:
        with LOCK:
            self.log.append({"at": time.time(), "method": method, "target": target, "address": address,
                             "status": status})
            del self.log[:-1000]

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(60)
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
                if len(head) > 1 << 20:
                    return
            raw, rest = head.split(b"\r\n\r\n", 1)
            lines = raw.decode("latin-1").split("\r\n")
            method, target, version = (lines[0].split(" ", 2) + ["", ""])[:3]
            headers = [tuple(h.split(":", 1)) for h in lines[1:] if ":" in h]
            if method == "CONNECT":
                self._tunnel(conn, target, rest)
            else:
                self._forward(conn, method, target, version, headers, rest)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _refuse(self, conn: socket.socket, method: str, target: str, addr: str | None, why: str) -> None:
        body = f"{why}\n".encode()
        conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        self._record(method, target, addr, 502)

    def _tunnel(self, conn: socket.socket, target: str, rest: bytes) -> None:
        host, _, port = target.rpartition(":")
        host = host.strip("[]")
        addr = _resolve(host)
        if addr is None or not port.isdigit():
            return self._refuse(conn, "CONNECT", target, None, f"NXDOMAIN: {host}")
        try:
            up = socket.create_connection((addr, int(port)), timeout=10)
        except OSError as e:
            return self._refuse(conn, "CONNECT", target, addr, f"cannot connect to {host} ({addr}:{port}): {e}")
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self._record("CONNECT", target, addr, 200)
        if rest:
            up.sendall(rest)
        self._pipe(conn, up)

    def _forward(self, conn: socket.socket, method: str, target: str, version: str, headers: list,
                 rest: bytes) -> None:
        u = urllib.parse.urlsplit(target)
        if u.scheme != "http" or not u.hostname:
            return self._refuse(conn, method, target, None, f"not a proxy request: {method} {target}")
        addr = _resolve(u.hostname)
        if addr is None:
            return self._refuse(conn, method, target, None, f"NXDOMAIN: {u.hostname}")
        try:
            up = socket.create_connection((addr, u.port or 80), timeout=10)
        except OSError as e:
            return self._refuse(conn, method, target, addr, f"cannot connect to {u.hostname} ({addr}): {e}")
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        kept = [(k, v) for k, v in headers if k.strip().lower() not in HOP_BY_HOP]
        if not any(k.strip().lower() == "host" for k, _ in kept):
            kept.append(("Host", u.netloc))
        out = f"{method} {path} {version or 'HTTP/1.1'}\r\n" + "".join(f"{k}:{v}\r\n" for k, v in kept)
        out += "Connection: close\r\n\r\n"
        length = next((int(v) for k, v in headers if k.strip().lower() == "content-length"), 0)
        body = rest
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        up.sendall(out.encode("latin-1") + body)
        first = b""
        status = 0
        up.settimeout(60)
        while True:
            try:
                chunk = up.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            if not status:
                first += chunk
                parts = first.split(b" ", 2)
                if len(parts) >= 2 and parts[1][:3].isdigit():
                    status = int(parts[1][:3])
            conn.sendall(chunk)
        up.close()
        self._record(method, target, addr, status)

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        def copy(src: socket.socket, dst: socket.socket) -> None:
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        t = threading.Thread(target=copy, args=(b, a), daemon=True)
        t.start()
        copy(a, b)
        t.join(timeout=60)
        b.close()


def get() -> Proxy:
    """The proxy, started on first use."""
    global _SERVER
    with LOCK:
        if _SERVER is None:
            _SERVER = Proxy()
        return _SERVER


def describe() -> dict[str, Any]:
    p = get()
    with LOCK:
        return {"url": p.url(), "requests": list(p.log)}


def reset() -> None:
    global _SERVER
    with LOCK:
        if _SERVER is not None:
            _SERVER.stop()
        _SERVER = None
