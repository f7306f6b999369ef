"""A fault-injecting HTTP proxy in front of the emulator, for tests that
check standby survives a flaky network and a flaky AWS.

    python -m standby_emulator.fault_proxy --upstream http://127.0.0.1:PORT \
        --port-file DIR/proxy-port [--rate 0.15] [--seed 7] [--log DIR/faults.log]

Point AWS_ENDPOINT_URL and STANDBY_OPENSEARCH_ENDPOINT_URL at it. Each
request (AWS APIs and OpenSearch domain REST alike) meets, with probability
`rate`, one fault, chosen evenly:

- refused:  answered 503 without reaching the emulator (the service's own
            error format: S3 XML, IAM/RDS query XML, OpenSearch JSON);
- throttled: answered as AWS throttles (S3 503 SlowDown, IAM/RDS 400
            Throttling, OpenSearch 429 ThrottlingException; a domain 429
            rejected_execution_exception), without reaching the emulator;
- lost:     forwarded, so it takes effect, then the connection is closed
            without an answer (the answer is lost on the way back);
- slow:     forwarded after 0.3-1.2 s.

The emulator's own control paths (/_emulator/..., /moto-api/...) and
/_proxy/... are never faulted. Control: `GET /_proxy/stats` (faults by kind,
requests seen, answers held now), `PUT /_proxy/rate?value=0.2`, `PUT
/_proxy/rates?refused=0.15&lost=0.05` (a probability per kind instead: each
request meets at most one fault, drawn with these odds), and `PUT
/_proxy/lose?match=TEXT&times=N`: the next N requests whose "METHOD path"
line or body contains TEXT (e.g. `Action=CreatePolicy`,
`POST /2021-01-01/opensearch/cc/outboundConnection`) take effect and lose
their answer, whatever the rate; with several `match` parameters a request
must contain them all; `PUT /_proxy/refuse?match=TEXT&times=N` likewise
answers them 503 without forwarding (they never take effect); `PUT
/_proxy/hold?match=TEXT&secs=S`: the next such request takes effect and its
answer is held S seconds (a test kills the caller meanwhile: the call
happened, the caller never heard of it). `PUT
/_proxy/fail?match=TEXT&times=N&status=500`: the next N matching requests are
answered with that status without reaching the emulator (a domain's error
envelope, `{"error": {"type": "exception", ...}, "status": 500}`: an internal
error of the domain; for S3 its XML error, 409 as
`ConditionalRequestConflict`). `PUT /_proxy/clear` forgets the four lists.
Each fault is also one JSON line in --log.
"""

import argparse
import http.client
import http.server
import json
import os
import random
import re
import threading
import time
from urllib.parse import parse_qs, urlparse

KINDS = ("refused", "throttled", "lost", "slow")
_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/([^/,]+)/([^/,]+)/aws4_request")
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "trailer", "upgrade"}


class State:
    def __init__(self, rate: float, seed: int, log: str | None) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stats = {k: 0 for k in KINDS}
        self.requests = 0
        self.log = log
        self.lose: list[list] = []  # [texts (all must occur), times left]
        self.hold: list[list] = []  # [texts, seconds] (once each)
        self.held = 0
        self.refuse: list[list] = []  # the same, answered 503 without forwarding
        self.fail: list[list] = []  # [texts, times left, status]
        self.rates: dict[str, float] | None = None  # per kind, instead of `rate` evenly

    def targeted(self, line: str, body: bytes) -> str | None:
        with self.lock:
            for rules, kind in ((self.lose, "lost"), (self.refuse, "refused")):
                for rule in rules:
                    if rule[1] > 0 and all(t in line or t.encode() in body for t in rule[0]):
                        rule[1] -= 1
                        self.stats[kind] += 1
                        return kind
        return None

    def failing(self, line: str, body: bytes) -> int | None:
        """The status to answer with, when a `fail` rule matches."""
        with self.lock:
            for rule in self.fail:
                if rule[1] > 0 and all(t in line or t.encode() in body for t in rule[0]):
                    rule[1] -= 1
                    self.stats["failed"] = self.stats.get("failed", 0) + 1
                    return rule[2]
        return None

    def held_for(self, line: str, body: bytes) -> float:
        with self.lock:
            for rule in self.hold:
                if all(t in line or t.encode() in body for t in rule[0]):
                    self.hold.remove(rule)
                    return rule[1]
        return 0

    def pick(self) -> str | None:
        with self.lock:
            self.requests += 1
            if self.rates is not None:
                draw, upto = self.rng.random(), 0.0
                for kind in KINDS:
                    upto += self.rates.get(kind, 0.0)
                    if draw < upto:
                        self.stats[kind] += 1
                        return kind
                return None
            if self.rng.random() >= self.rate:
                return None
            kind = self.rng.choice(KINDS)
            self.stats[kind] += 1
            return kind

    def note(self, kind: str, method: str, path: str, service: str) -> None:
        if not self.log:
            return
        with self.lock, open(self.log, "a") as f:
            f.write(json.dumps({"fault": kind, "method": method, "path": path, "service": service}) + "\n")


def service_of(headers) -> str:
    """`s3`, `iam`, `rds`, `es` from the SigV4 scope; `domain` for REST calls."""
    m = _SCOPE.search(headers.get("Authorization", ""))
    return m.group(2) if m else "domain"


def error_answer(kind: str, service: str) -> tuple[int, dict, bytes]:
    """What AWS (or a domain) answers when it refuses or throttles."""
    if service == "s3":
        code, status = ("SlowDown", 503) if kind == "throttled" else ("ServiceUnavailable", 503)
        body = f"<Error><Code>{code}</Code><Message>Please reduce your request rate.</Message></Error>"
        return status, {"Content-Type": "application/xml"}, body.encode()
    if service == "ec2":
        # EC2's own error document (EC2 API reference, "Error codes").
        code, status = ("RequestLimitExceeded", 503) if kind == "throttled" else ("Unavailable", 503)
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>Please retry (fault proxy)</Message></Error>"
                f"</Errors><RequestID>fault-proxy</RequestID></Response>")
        return status, {"Content-Type": "text/xml"}, body.encode()
    if service in ("iam", "rds", "sts", "autoscaling", "elasticloadbalancing", "route53"):
        code, status, who = ("Throttling", 400, "Sender") if kind == "throttled" else ("ServiceUnavailable", 503, "Receiver")
        body = (f"<ErrorResponse><Error><Type>{who}</Type><Code>{code}</Code><Message>Rate exceeded</Message>"
                f"</Error><RequestId>fault-proxy</RequestId></ErrorResponse>")
        return status, {"Content-Type": "text/xml"}, body.encode()
    if service == "domain":
        if kind == "throttled":
            err = {"error": {"type": "rejected_execution_exception", "reason": "rejected execution (fault proxy)"},
                   "status": 429}
            return 429, {"Content-Type": "application/json"}, json.dumps(err).encode()
        err = {"error": {"type": "unavailable", "reason": "service unavailable (fault proxy)"}, "status": 503}
        return 503, {"Content-Type": "application/json"}, json.dumps(err).encode()
    # REST-JSON AWS services (OpenSearch control plane).
    etype, status = ("ThrottlingException", 429) if kind == "throttled" else ("ServiceUnavailableException", 503)
    return status, {"Content-Type": "application/json", "x-amzn-ErrorType": etype}, b'{"message":"Rate exceeded"}'


def make_handler(state: State, upstream: str):
    up = urlparse(upstream)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = b""
                while True:
                    size = int(self.rfile.readline().strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def _send(self, status: int, headers: dict, body: bytes) -> None:
            self.send_response(status)
            for k, v in headers.items():
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _forward(self, body: bytes) -> tuple[int, dict, bytes]:
            conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            if body or self.command in ("POST", "PUT", "PATCH"):
                headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body or None, headers=headers)
            res = conn.getresponse()
            data = res.read()
            out = (res.status, dict(res.getheaders()), data)
            conn.close()
            return out

        def _control(self) -> None:
            u = urlparse(self.path)
            if u.path == "/_proxy/stats":
                with state.lock:
                    payload = {"faults": dict(state.stats), "requests": state.requests, "rate": state.rate,
                               "rates": state.rates, "held": state.held}
                return self._send(200, {"Content-Type": "application/json"}, json.dumps(payload).encode())
            if u.path == "/_proxy/clear":
                with state.lock:
                    state.lose.clear()
                    state.refuse.clear()
                    state.fail.clear()
                    state.hold.clear()
                return self._send(200, {"Content-Type": "application/json"}, b"{}")
            if u.path in ("/_proxy/lose", "/_proxy/refuse"):
                q = parse_qs(u.query)
                with state.lock:
                    rules = state.lose if u.path == "/_proxy/lose" else state.refuse
                    rules.append([q["match"], int(q.get("times", ["1"])[0])])
                return self._send(200, {"Content-Type": "application/json"}, b"{}")
            if u.path == "/_proxy/fail":
                q = parse_qs(u.query)
                with state.lock:
                    state.fail.append([q["match"], int(q.get("times", ["1"])[0]), int(q.get("status", ["500"])[0])])
                return self._send(200, {"Content-Type": "application/json"}, b"{}")
            if u.path == "/_proxy/hold":
                q = parse_qs(u.query)
                with state.lock:
                    state.hold.append([q["match"], float(q.get("secs", ["5"])[0])])
                return self._send(200, {"Content-Type": "application/json"}, b"{}")
            if u.path == "/_proxy/rate":
                with state.lock:
                    state.rate = float(parse_qs(u.query).get("value", ["0"])[0])
                    state.rates = None
                return self._send(200, {"Content-Type": "application/json"}, b"{}")
            if u.path == "/_proxy/rates":
                q = parse_qs(u.query)
                with state.lock:
                    state.rates = {k: float(q[k][0]) for k in KINDS if k in q}
                return self._send(200, {"Content-Type": "application/json"}, b"{}")
            self._send(404, {}, b"")

        def _handle(self) -> None:
            body = self._body()
            path = urlparse(self.path).path
            if path.startswith("/_proxy/"):
                return self._control()
            control = path.startswith(("/_emulator/", "/moto-api/"))
            failed = None if control else state.failing(f"{self.command} {path} ", body)
            if failed:
                service = service_of(self.headers)
                state.note(f"status {failed}", self.command, path, service)
                if service == "s3":
                    # S3's own codes: 409 is a conditional write losing to a
                    # concurrent one (PutObject API reference: "On a 409
                    # failure you should retry the upload").
                    code = {409: "ConditionalRequestConflict", 412: "PreconditionFailed"}.get(failed, "InternalError")
                    body = f"<Error><Code>{code}</Code><Message>fault proxy</Message></Error>"
                    return self._send(failed, {"Content-Type": "application/xml"}, body.encode())
                err = {"error": {"root_cause": [{"type": "exception", "reason": "internal error (fault proxy)"}],
                                 "type": "exception", "reason": "internal error (fault proxy)"}, "status": failed}
                return self._send(failed, {"Content-Type": "application/json"}, json.dumps(err).encode())
            kind = None if control else (state.targeted(f"{self.command} {path} ", body) or state.pick())
            service = service_of(self.headers)
            if kind:
                state.note(kind, self.command, path, service)
            if kind in ("refused", "throttled"):
                return self._send(*error_answer(kind, service))
            if kind == "slow":
                time.sleep(0.3 + state.rng.random() * 0.9)
            hold = 0 if control else state.held_for(f"{self.command} {path} ", body)
            status, headers, data = self._forward(body)
            if hold:
                with state.lock:
                    state.held += 1
                state.note("held", self.command, path, service)
                time.sleep(hold)
                with state.lock:
                    state.held -= 1
            if kind == "lost":
                # It happened upstream; the caller never hears of it.
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return
            self._send(status, headers, data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle

    return Handler


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port-file", required=True)
    p.add_argument("--rate", type=float, default=0.15)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--log")
    a = p.parse_args()
    state = State(a.rate, a.seed, a.log)
    server = http.server.ThreadingHTTPServer((a.host, 0), make_handler(state, a.upstream))
    server.daemon_threads = True
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, a.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
