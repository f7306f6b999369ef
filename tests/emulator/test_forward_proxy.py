"""Self-check of the game-day world's forward proxy (forward_proxy.py): names
resolved as the emulated network and Route 53 answer them, http in absolute
form, https through CONNECT, 502 for what does not resolve.

    .venv-emulator/bin/python -m pytest -q tests/emulator/test_forward_proxy.py
"""

import http.client
import json
import random
import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest


def control(endpoint, method, path, body=None):
    req = urllib.request.Request(endpoint + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


class Echo(BaseHTTPRequestHandler):
    """Answers every request with what it received (method, path, headers, body)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = json.dumps({"method": self.command, "path": self.path, "headers": dict(self.headers),
                           "body": self.rfile.read(n).decode() if n else ""}).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


@pytest.fixture
def site(endpoint, reset):
    """An HTTP server on a loopback address of its own, named `lb.internal.test` in the emulated network."""
    for _ in range(50):
        addr = f"127.{random.randint(64, 127)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        try:
            srv = ThreadingHTTPServer((addr, 0), Echo)
            break
        except OSError:
            continue
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    control(endpoint, "POST", "/_emulator/dns", {"name": "lb.internal.test", "address": addr})
    yield addr, srv.server_address[1]
    srv.shutdown()


def proxy_url(endpoint):
    return control(endpoint, "GET", "/_emulator/proxy")["url"]


def test_http_in_absolute_form_goes_to_the_name_as_the_network_resolves_it_with_the_clients_host(endpoint, site):
    addr, port = site
    url = proxy_url(endpoint)
    assert url == proxy_url(endpoint), "one proxy, started once"
    host, pport = url.removeprefix("http://").split(":")
    c = http.client.HTTPConnection(host, int(pport), timeout=10)
    c.request("POST", f"http://lb.internal.test:{port}/api/v4/posts?x=1", body=b'{"m": 1}',
              headers={"Host": "chat.example.com", "Authorization": "Bearer t0k", "Proxy-Authorization": "x",
                       "Content-Type": "application/json"})
    r = c.getresponse()
    got = json.loads(r.read())
    assert r.status == 201
    assert got["path"] == "/api/v4/posts?x=1" and got["body"] == '{"m": 1}'
    assert got["headers"]["Host"] == "chat.example.com" and got["headers"]["Authorization"] == "Bearer t0k"
    assert "Proxy-Authorization" not in got["headers"]
    # urllib through HTTP_PROXY, as any client honouring it does.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": url}))
    with opener.open(f"http://lb.internal.test:{port}/ping", timeout=10) as r:
        assert json.load(r)["headers"]["Host"] == f"lb.internal.test:{port}"
    log = control(endpoint, "GET", "/_emulator/proxy")["requests"]
    assert [(e["method"], e["address"], e["status"]) for e in log[-2:]] == [("POST", addr, 201), ("GET", addr, 200)]
    assert "t0k" not in json.dumps(log)


def test_connect_tunnels_to_the_address_and_what_does_not_resolve_is_a_502(endpoint, site):
    addr, port = site
    host, pport = proxy_url(endpoint).removeprefix("http://").split(":")
    s = socket.create_connection((host, int(pport)), timeout=10)
    s.sendall(f"CONNECT lb.internal.test:{port} HTTP/1.1\r\nHost: lb.internal.test:{port}\r\n\r\n".encode())
    assert s.recv(1024).startswith(b"HTTP/1.1 200")
    s.sendall(b"GET /through HTTP/1.1\r\nHost: chat.example.com\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    assert data.startswith(b"HTTP/1.1 200") and b'"/through"' in data
    for request in (f"CONNECT nowhere.internal.test:{port} HTTP/1.1\r\n\r\n",
                    "GET http://nowhere.internal.test/ HTTP/1.1\r\nHost: nowhere.internal.test\r\n\r\n"):
        s = socket.create_connection((host, int(pport)), timeout=10)
        s.sendall(request.encode())
        answer = s.recv(65536)
        assert answer.startswith(b"HTTP/1.1 502") and b"NXDOMAIN: nowhere.internal.test" in answer


def test_a_name_in_a_public_hosted_zone_resolves_as_route_53_answers_it(endpoint, site):
    addr, port = site
    r53 = boto3.client("route53", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    zone = r53.create_hosted_zone(Name="example.com", CallerReference="proxy-check")["HostedZone"]["Id"]
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "CREATE",
        "ResourceRecordSet": {"Name": "chat.example.com", "Type": "A", "TTL": 60,
                              "ResourceRecords": [{"Value": addr}]}}]})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy_url(endpoint)}))
    with opener.open(f"http://chat.example.com:{port}/site", timeout=10) as r:
        assert json.load(r)["path"] == "/site"
    # POST /moto-api/reset stops it; the next GET starts a new one.
    old = proxy_url(endpoint)
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(old.rsplit(":", 1)[1])), timeout=2)
