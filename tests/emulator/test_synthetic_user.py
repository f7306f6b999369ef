"""Self-check of the synthetic user: its checker's pure parts (windows, the
heartbeats' overlaps, the summary for people, the re-index notes it
follows), its kept connections, and one post against a fake Mattermost (the
attachment, then the post, with the token). The poster and the checker
through DNS run in tests/gameday.rs.

    .venv-emulator/bin/python -m pytest -q tests/emulator/test_synthetic_user.py
"""

from standby_emulator import synthetic_user as su


def rec(seq, sent, ok, region="us-west-1", error=None):
    return {"seq": seq, "sent": sent, "answered": sent + 0.01, "outcome": "acknowledged" if ok else "failed",
            "error": None if ok else error, "region": region, "address": "127.64.0.1", "resolved": sent,
            "cached": False}


def test_a_window_runs_from_the_last_acknowledged_post_to_the_next_and_one_left_open_says_so():
    recs = [rec(0, 10.0, True), rec(1, 10.1, False, error="HTTP 502 from the load balancer"),
            rec(2, 10.2, False, error="HTTP 502 from the load balancer"), rec(3, 10.5, True, "us-east-1"),
            rec(4, 10.6, False, "us-east-1", "app.post.save.app_error")]
    ws = su.windows(recs)
    assert ws[0] == {"from": 10.0, "to": 10.5, "seconds": 0.5, "failed": 2,
                     "errors": {"HTTP 502 from the load balancer": 2}, "open": False}
    assert ws[1]["open"] and ws[1]["errors"] == {"app.post.save.app_error": 1}


def test_heartbeats_of_two_clusters_at_once_are_an_overlap_and_one_after_the_other_are_not():
    rows = [("west", "n1", 1.0), ("west", "n1", 2.0), ("east", "n2", 6.0), ("east", "n2", 7.0)]
    assert su.heartbeat_runs(rows, None)["overlaps"] == []
    rows = [("west", "n1", 1.0), ("west", "n1", 2.0), ("east", "n2", 2.5), ("west", "n1", 3.0), ("east", "n2", 3.5)]
    hb = su.heartbeat_runs(rows, None)
    assert [(o["clusters"], o["seconds"]) for o in hb["overlaps"]] == [(["west", "east"], 0.5)]


def test_the_summary_says_what_failed_where_and_whether_users_can_write_now():
    recs = [rec(0, 10.0, True), rec(1, 10.1, False, error="HTTP 502 from the load balancer")]
    report = {"attempts": 2, "acknowledged": 1, "failed": 1, "errors": {"HTTP 502 from the load balancer": 1},
              "acknowledged_by_region": {"us-west-1": 1}, "failed_by_region": {"us-west-1": 1},
              "windows": su.windows(recs), "longest_window_s": 0.11, "dns_moves": su.dns_moves(recs),
              "heartbeats": su.heartbeat_runs([("mattermost-dr-us-west-1", "n1", 10.0)], None)}
    text = su.summary(report)
    assert "2 posts sent, 1 acknowledged (1 in us-west-1), 1 failed" in text
    assert "1 HTTP 502 from the load balancer (1 in us-west-1)" in text
    assert "still open: users cannot write now" in text
    assert "heartbeats from mattermost-dr-us-west-1: never two at once" in text


def test_the_re_index_notes_of_a_run_are_found_with_their_region():
    out = ('Do in Mattermost: POST /api/v4/jobs {"type":"elasticsearch_post_indexing","data":{"start_time":"17"}} '
           "on Mattermost in us-east-1, once it serves.\n")
    assert su.NOTE.findall(out) == [('{"type":"elasticsearch_post_indexing","data":{"start_time":"17"}}',
                                     "us-east-1")]


def test_a_user_keeping_connections_reuses_one_per_address_and_reopens_a_closed_one():
    import http.server
    import threading

    seen = []  # the client port of every request: one per connection

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(self.client_address[1])
            body = b'{"id": "p"}'
            self.send_response(201)
            self.send_header("Content-Length", str(len(body)))
            # The third answer closes the connection, as a load balancer may.
            if len(seen) == 3:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        kept = su.Client("chat.example.com", port, "http", 5.0, None, keep_alive=True)
        reused = []
        for _ in range(5):
            status, payload, _h = kept.request("127.0.0.1", "POST", "/api/v4/posts", {"message": "m"})
            assert (status, payload) == (201, {"id": "p"})
            reused.append(kept.reused)
        assert reused == [False, True, True, False, True]
        assert len(set(seen)) == 2, seen
        fresh = su.Client("chat.example.com", port, "http", 5.0, None)
        fresh.request("127.0.0.1", "POST", "/api/v4/posts", {})
        fresh.request("127.0.0.1", "POST", "/api/v4/posts", {})
        assert len(set(seen)) == 4, seen
    finally:
        server.shutdown()


def test_a_post_is_its_text_uploaded_then_posted_with_it_as_the_tokens_user(endpoint, reset):
    """The poster's attempt against a fake Mattermost: the attachment first
    (`POST /api/v4/files`), then the post naming it, both with the token; a
    refused upload is the attempt's failure, with Mattermost's error id, and
    no post is sent."""
    import argparse
    import http.server
    import json
    import threading
    import urllib.request

    seen, refuse = [], []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((self.path, self.headers.get("Authorization"), raw.decode()))
            if refuse:
                status, out = 401, {"id": "api.context.session_expired.app_error"}
            elif self.path.startswith("/api/v4/files"):
                status, out = 201, {"file_infos": [{"id": "f1"}], "client_ids": []}
            else:
                status, out = 201, {"id": "p1"}
            body = json.dumps(out).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    req = urllib.request.Request(f"{endpoint}/_emulator/dns", method="POST", headers={"Content-Type": "application/json"},
                                 data=json.dumps({"name": "chat.selfcheck.test", "address": "127.0.0.1"}).encode())
    urllib.request.urlopen(req).read()
    try:
        args = argparse.Namespace(world=endpoint, dns_ttl=0, scheme="http", hostname="chat.selfcheck.test",
                                  port=server.server_address[1], timeout=5.0, keep_alive=False, token="tkn",
                                  run_id="st", channel="c1")
        poster = su.Poster(args)
        rec = poster.attempt(0)
        assert (rec["outcome"], rec["post_id"]) == ("acknowledged", "p1"), rec
        [(upload, auth1, text), (post, auth2, body)] = seen
        assert upload == "/api/v4/files?channel_id=c1&filename=message.txt" and text == rec["message"]
        assert json.loads(body) == {"channel_id": "c1", "message": rec["message"], "file_ids": ["f1"]}
        assert auth1 == auth2 == "Bearer tkn"
        seen.clear()
        refuse.append(True)
        rec = poster.attempt(1)
        assert (rec["outcome"], rec["status"], rec["error"]) == ("failed", 401, "api.context.session_expired.app_error")
        assert [p for p, _a, _b in seen] == ["/api/v4/files?channel_id=c1&filename=message.txt"]
    finally:
        server.shutdown()
