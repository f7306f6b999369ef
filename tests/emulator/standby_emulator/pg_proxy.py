"""The Aurora endpoints' listeners: a PostgreSQL wire-protocol proxy per endpoint.

Each endpoint host name has its own loopback address (network.py) and
listens on 5432 while the endpoint is usable; an endpoint that is not (a
secondary's writer endpoint, a region down, a headless cluster, a switch
under way) has no listener, so a client's connection is refused. For each
connection the proxy:

1. answers `SSLRequest` with `S` and does TLS with a certificate for the
   endpoint's host name (rds_ca.py); `GSSENCRequest` gets `N`. A plain
   StartupMessage is accepted unless `rds.force_ssl` is on, when it gets the
   error PostgreSQL's pg_hba gives (`no pg_hba.conf entry ... no encryption`);
2. asks the model (aurora_db.py) where the endpoint leads now: the volume,
   the cluster whose instance serves it, and the session's mode: `rw`,
   `ro` (`default_transaction_read_only` forced on, and statements that would
   turn it off refused with the hot-standby error "cannot set transaction
   read-write mode during recovery") or `forwarding` (read-write, DDL refused
   by an event trigger);
3. rewrites the StartupMessage's `user` and `database` to the volume's own
   roles and databases on the one PostgreSQL server, and relays the
   authentication (SCRAM, done by PostgreSQL itself, so a wrong password fails
   exactly as PostgreSQL fails it) and then every message both ways, putting
   the names back in the startup errors and ParameterStatus.

Sessions are registered so that a switchover, a failover or a region going
down can end them: `terminate` (pg_terminate_backend: the client reads FATAL
57P01 "terminating connection due to administrator command", as at an
instance restart) or `cut` (the connection just closes, as when a region's
network is gone). A CancelRequest is passed to the backend it names.
"""

import re
import selectors
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

SSL_REQUEST, GSS_REQUEST, CANCEL_REQUEST, PROTOCOL_3 = 80877103, 80877104, 80877102, 196608

# A read-only session may not make itself read-write (a hot standby refuses it).
_READ_WRITE = re.compile(rb"read\s+write|transaction_read_only", re.I)
_REFUSE_READ_WRITE = (b"DO $standby$BEGIN RAISE EXCEPTION 'cannot set transaction read-write mode during "
                      b"recovery' USING ERRCODE = '0A000'; END$standby$")
# Statements after which the roles and databases the session may have made are looked up.
_CATALOG_DDL = re.compile(rb"\b(create|alter|drop)\s+(role|user|group|database)\b", re.I)


def error_message(severity: str, code: str, text: str) -> bytes:
    body = b"".join(k + v.encode() + b"\0" for k, v in
                    ((b"S", severity), (b"V", severity), (b"C", code), (b"M", text))) + b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


def _recv_exact(sock, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return bytes(buf)


def _read_message(sock) -> tuple[bytes, bytes]:
    head = _recv_exact(sock, 5)
    (length,) = struct.unpack("!I", head[1:5])
    return head[:1], _recv_exact(sock, length - 4)


def _pack(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


@dataclass(eq=False)
class Session:
    endpoint: str
    route: Any  # aurora_db.Route
    client: Any
    backend: socket.socket | None = None
    pid: int | None = None
    closed: bool = False
    catalog_dirty: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def cut(self) -> None:
        with self.lock:
            self.closed = True
            for s in (self.client, self.backend):
                if s is None:
                    continue
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class Proxy:
    """Listeners of every endpoint, and their sessions. `model` is aurora_db's."""

    def __init__(self, model) -> None:
        self.model = model
        self.lock = threading.Lock()
        self.selector = selectors.DefaultSelector()
        self.listeners: dict[str, socket.socket] = {}  # endpoint name -> listening socket
        self.sessions: set[Session] = set()
        self._wake_r, self._wake_w = socket.socketpair()
        self.selector.register(self._wake_r, selectors.EVENT_READ, None)
        threading.Thread(target=self._accept_loop, name="aurora-accept", daemon=True).start()

    # -------------------------------------------------------- listeners ---

    def listen(self, name: str, addr: str, port: int = 5432) -> None:
        with self.lock:
            if name in self.listeners:
                return
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, port))
            s.listen(64)
            s.setblocking(False)
            self.listeners[name] = s
            self.selector.register(s, selectors.EVENT_READ, name)
        self._wake_w.send(b"x")

    def unlisten(self, name: str) -> None:
        with self.lock:
            s = self.listeners.pop(name, None)
            if s is None:
                return
            try:
                self.selector.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        self._wake_w.send(b"x")

    def listening(self, name: str) -> bool:
        with self.lock:
            return name in self.listeners

    def _accept_loop(self) -> None:
        while True:
            for key, _ in self.selector.select():
                if key.data is None:
                    try:
                        self._wake_r.recv(4096)
                    except OSError:
                        pass
                    continue
                try:
                    conn, _ = key.fileobj.accept()
                except OSError:
                    continue
                conn.setblocking(True)
                threading.Thread(target=self._serve, args=(key.data, conn), daemon=True).start()

    # --------------------------------------------------------- sessions ---

    def sessions_where(self, pred) -> list[Session]:
        with self.lock:
            return [s for s in self.sessions if pred(s)]

    def _serve(self, endpoint: str, conn: socket.socket) -> None:
        session = None
        client = conn
        try:
            route = self.model.route(endpoint)
            if route is None:  # became unusable between accept and now
                conn.close()
                return
            client, params, tls = self._negotiate(endpoint, conn)
            if client is None:
                return
            if not tls and self.model.force_ssl(route):
                user, db = params.get("user", ""), params.get("database") or params.get("user", "")
                client.sendall(error_message(
                    "FATAL", "28000", f'no pg_hba.conf entry for host "{conn.getpeername()[0]}", user "{user}", '
                                      f'database "{db}", no encryption'))
                client.close()
                return
            session = Session(endpoint, route, client)
            with self.lock:
                self.sessions.add(session)
            self._run(session, params)
        except (ConnectionError, OSError, struct.error):
            pass  # the client went away
        except Exception as e:  # noqa: BLE001 - the emulator's fault: say so to the client (and the log)
            import traceback

            traceback.print_exc()
            try:
                client.sendall(error_message("FATAL", "XX000", f"emulator: {e}"))
            except OSError:
                pass
        finally:
            if session is not None:
                with self.lock:
                    self.sessions.discard(session)
                for s in (session.client, session.backend):
                    if s is not None:
                        try:
                            s.close()
                        except OSError:
                            pass
            else:
                try:
                    conn.close()
                except OSError:
                    pass

    def _negotiate(self, endpoint: str, conn: socket.socket):
        """SSL/GSS requests and the StartupMessage: (client socket, params, tls) or (None, ..)."""
        client, tls = conn, False
        while True:
            (length,) = struct.unpack("!I", _recv_exact(client, 4))
            if length < 8 or length > 10000:
                client.close()
                return None, {}, False
            body = _recv_exact(client, length - 4)
            (code,) = struct.unpack("!I", body[:4])
            if code == SSL_REQUEST and not tls:
                # The context first: a failure of ours reaches the client as an error, not a broken handshake.
                ctx = self.model.tls_context(endpoint)
                client.sendall(b"S")
                client = ctx.wrap_socket(client, server_side=True)
                tls = True
            elif code == GSS_REQUEST:
                client.sendall(b"N")
            elif code == CANCEL_REQUEST:
                pid = struct.unpack("!I", body[4:8])[0]
                if self.sessions_where(lambda s: s.pid == pid):
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as b:
                        b.connect(self.model.backend_socket())
                        b.sendall(struct.pack("!I", length) + body)
                client.close()
                return None, {}, False
            elif code == PROTOCOL_3:
                parts = body[4:].split(b"\0")
                params = {}
                for k, v in zip(parts[0::2], parts[1::2]):
                    if k:
                        params[k.decode()] = v.decode()
                return client, params, tls
            else:
                client.sendall(error_message("FATAL", "08P01", f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}"))
                client.close()
                return None, {}, False

    def _run(self, session: Session, params: dict[str, str]) -> None:
        route = session.route
        user = params.get("user", "")
        database = params.get("database") or user
        names = self.model.volumes.backend_names(route.volume, user, database)  # starts PostgreSQL if needed
        out = dict(params)
        out["user"], out["database"] = names.user, names.database
        options = [params["options"]] if params.get("options") else []
        if route.mode == "ro":
            options.append("-c default_transaction_read_only=on")
        elif route.mode == "forwarding":
            options += ["-c standby_emulator.session=forwarding", "-c apg_write_forward.consistency_mode=SESSION"]
        if options:
            out["options"] = " ".join(options)
        startup = struct.pack("!I", PROTOCOL_3) + b"".join(
            k.encode() + b"\0" + v.encode() + b"\0" for k, v in out.items()) + b"\0"
        backend = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        backend.connect(self.model.backend_socket())
        session.backend = backend
        backend.sendall(struct.pack("!I", len(startup) + 4) + startup)
        # Authentication and start-up: one message at a time, names put back.
        while True:
            kind, body = _read_message(backend)
            if kind == b"E":
                session.client.sendall(_pack(kind, names.restore(body)))
                return
            if kind == b"S" and body.startswith(b"session_authorization\0"):
                body = names.restore(body)
            if kind == b"K":
                session.pid = struct.unpack("!I", body[:4])[0]
            session.client.sendall(_pack(kind, body))
            if kind == b"R" and struct.unpack("!I", body[:4])[0] in (3, 5, 10, 11):
                ckind, cbody = _read_message(session.client)
                backend.sendall(_pack(ckind, cbody))
            if kind == b"Z":
                break
        if session.closed:
            return
        up = threading.Thread(target=self._frontend_loop, args=(session,), daemon=True)
        up.start()
        self._backend_loop(session)
        up.join(timeout=1)

    def _frontend_loop(self, session: Session) -> None:
        try:
            while True:
                kind, body = _read_message(session.client)
                if kind in (b"Q", b"P"):
                    text = body if kind == b"Q" else body.split(b"\0", 1)[1]
                    if _CATALOG_DDL.search(text):
                        session.catalog_dirty = True
                    if session.route.mode == "ro" and _READ_WRITE.search(text):
                        if kind == b"Q":
                            body = _REFUSE_READ_WRITE + b"\0"
                        else:
                            name = body.split(b"\0", 1)[0]
                            body = name + b"\0" + _REFUSE_READ_WRITE + b"\0" + b"\0\0"
                session.backend.sendall(_pack(kind, body))
                if kind == b"X":
                    return
        except (ConnectionError, OSError, ValueError, struct.error):
            session.cut()

    def _backend_loop(self, session: Session) -> None:
        try:
            while True:
                kind, body = _read_message(session.backend)
                if kind == b"Z" and body == b"I" and session.catalog_dirty:  # committed by now
                    session.catalog_dirty = False
                    self.model.volumes.attribute(session.route.volume)
                session.client.sendall(_pack(kind, body))
        except (ConnectionError, OSError, ValueError, struct.error):
            session.cut()
