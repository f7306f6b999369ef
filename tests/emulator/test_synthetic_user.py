"""Self-check of the synthetic user's checker (its pure parts: windows, the
heartbeats' overlaps, the summary for people, the re-index notes it follows).
The poster and the checker through DNS run in tests/gameday.rs.

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
