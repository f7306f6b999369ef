"""Self-check of the security plugin's audit API on the fake domains
(tests/emulator/standby_emulator/opensearch_security.py, "audit logging").

    .venv-emulator/bin/python -m pytest -q tests/emulator/test_audit_config.py
"""

import json

import pytest

from test_extensions import ACCOUNT, MASTER, WEST, Domain, _domain, _log_policy, _user, aws  # noqa: F401 (fixture)

# Each test starts from an empty emulator (conftest.py).
pytestmark = pytest.mark.usefixtures("reset")

GET = "/_plugins/_security/api/audit"
PUT = "/_plugins/_security/api/audit/config"


def _search(aws, endpoint, name="mm-audit"):
    return Domain(endpoint, _domain(aws, WEST, name)["Endpoint"])


def test_a_new_domain_has_audit_logging_off_and_read_only_fields(aws, endpoint):
    d = _search(aws, endpoint)
    status, body = d("GET", GET)
    assert status == 200
    assert body["_readonly"] == ["/compliance/internal_config", "/compliance/external_config"]
    config = body["config"]
    assert config["enabled"] is False
    assert config["audit"]["disabled_rest_categories"] == ["AUTHENTICATED", "GRANTED_PRIVILEGES"]
    assert config["compliance"]["internal_config"] is True and config["compliance"]["external_config"] is False
    # GET has no route on .../audit/config; PUT none on .../audit.
    assert d("GET", PUT)[0] == 405
    assert d("PUT", GET, config)[0] == 405


def test_put_replaces_the_whole_config(aws, endpoint):
    d = _search(aws, endpoint)
    config = d("GET", GET)[1]["config"]
    config["enabled"] = True
    config["audit"]["log_request_body"] = False
    config["audit"]["ignore_users"] = ["kibanaserver", "mattermost"]
    assert d("PUT", PUT, config) == (200, {"status": "OK", "message": "'config' updated."})
    assert d("GET", GET)[1]["config"] == config
    # Left out: the plugin's defaults (read-only fields must still be sent as they are).
    minimal = {"enabled": True, "compliance": {"internal_config": True, "external_config": False}}
    assert d("PUT", PUT, minimal)[0] == 200
    got = d("GET", GET)[1]["config"]
    assert got["audit"]["ignore_users"] == ["kibanaserver"] and got["audit"]["log_request_body"] is True


def test_refusals_have_the_plugin_shapes(aws, endpoint):
    d = _search(aws, endpoint)
    config = d("GET", GET)[1]["config"]
    assert d("PUT", PUT, {**config, "bogus": 1, "other": 2}) == (
        400, {"status": "error", "reason": "Invalid configuration", "invalid_keys": {"keys": "bogus,other"}})
    assert d("PUT", PUT, {**config, "audit": ["x"]}) == (
        400, {"status": "error", "reason": "Wrong datatype", "audit": "Object expected"})
    not_parseable = (400, {"status": "error", "reason": "Could not parse content of request."})
    assert d("PUT", PUT, {**config, "enabled": "yes"}) == not_parseable
    assert d("PUT", PUT, {**config, "audit": {**config["audit"], "log_request_body": "no"}}) == not_parseable
    assert d("PUT", PUT, {**config, "audit": {**config["audit"], "typo": True}}) == not_parseable
    # INDEX_EVENT is a transport category only.
    assert d("PUT", PUT, {**config, "audit": {**config["audit"],
                                              "disabled_rest_categories": ["INDEX_EVENT"]}}) == not_parseable
    assert d("PUT", PUT, {**config, "audit": {**config["audit"],
                                              "disabled_transport_categories": ["INDEX_EVENT"]}})[0] == 200
    assert d("PUT", PUT, b"{not json")[1]["reason"] == "Could not parse content of request."
    assert d("PUT", PUT, None)[1]["reason"] == "Request body required for this action."
    # Read-only: changed, or left out, is a conflict, even for the master user.
    conflict = (409, {"status": "CONFLICT", "message": "Attempted to update read-only property."})
    changed = {**config, "compliance": {**config["compliance"], "external_config": True}}
    assert d("PUT", PUT, changed) == conflict
    assert d("PUT", PUT, {"enabled": True}) == conflict
    assert d("GET", GET)[1]["config"]["compliance"]["external_config"] is False


def test_only_security_managers_may_use_it(aws, endpoint):
    d = _search(aws, endpoint)
    config = d("GET", GET)[1]["config"]
    mm = ("mm", "Mm-Passw0rd!")
    _user(d, *mm)
    for method, path, body in (("GET", GET, None), ("PUT", PUT, {**config, "enabled": True})):
        status, answer = d(method, path, body, auth=mm)
        assert status == 403 and answer["status"] == "FORBIDDEN", answer
        assert answer["message"].startswith("No permission to access REST API: User mm ")
        assert f"endpoint AUDIT and method {method}" in answer["message"]
    assert d("GET", GET)[1]["config"]["enabled"] is False
    d("PUT", "/_plugins/_security/api/rolesmapping/security_manager", {"users": ["mm"]})
    assert d("PUT", PUT, {**config, "enabled": True}, auth=mm)[0] == 200
    assert d("GET", GET, auth=mm)[1]["config"]["enabled"] is True


def test_audit_events_are_written_only_once_both_steps_are_done(aws, endpoint):
    """Publishing AUDIT_LOGS alone writes nothing; with the plugin's audit logging on,
    events go to the group, filtered by the config (categories, ignored users, bodies)."""
    name = "mm-audited"
    group = f"/aws/opensearch/{name}"
    group_arn = f"arn:aws:logs:{WEST}:{ACCOUNT}:log-group:{group}"
    logs = aws("logs")
    logs.create_log_group(logGroupName=group)
    logs.put_resource_policy(policyName="os", policyDocument=_log_policy(
        group_arn, f"arn:aws:es:{WEST}:{ACCOUNT}:domain/{name}"))
    d = _search(aws, endpoint, name)
    aws("opensearch").update_domain_config(DomainName=name, LogPublishingOptions={
        "AUDIT_LOGS": {"CloudWatchLogsLogGroupArn": group_arn, "Enabled": True}})

    def events():
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        return [json.loads(e["message"]) for s in streams
                for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]]

    assert d("GET", "/", auth=("admin", "wrong"))[0] == 401
    assert events() == [], "published, but the plugin's audit logging is off"

    config = d("GET", GET)[1]["config"]
    config["enabled"] = True
    config["audit"]["log_request_body"] = False
    config["audit"]["ignore_users"] = ["kibanaserver", "quiet"]
    assert d("PUT", PUT, config)[0] == 200
    assert d("PUT", "/x", {"secret": "s3cret"}, auth=("admin", "wrong"))[0] == 401
    assert d("GET", "/")[0] == 200  # GRANTED_PRIVILEGES: disabled by default
    _user(d, "mm", "Mm-Passw0rd!")
    assert d("PUT", "/mattermost", auth=("mm", "Mm-Passw0rd!"))[0] == 403
    assert d("GET", "/", auth=("quiet", "nope"))[0] == 401  # an ignored user
    got = events()
    assert [(e["audit_category"], e["audit_request_effective_user"]) for e in got] == [
        ("FAILED_LOGIN", "admin"), ("MISSING_PRIVILEGES", "mm")], got
    assert got[0]["audit_rest_request_path"] == "/x" and "audit_request_body" not in got[0]
    assert "s3cret" not in json.dumps(got)
    assert got[0]["audit_cluster_name"] == f"{ACCOUNT}:{name}"
