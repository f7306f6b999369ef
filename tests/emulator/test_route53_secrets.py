"""Self-check of the Route 53 and Secrets Manager extensions (route53.py,
secretsmanager.py), through boto3: AWS's answers where moto differs.

    .venv-emulator/bin/python -m pytest -q tests/emulator/test_route53_secrets.py
"""


import boto3
import botocore.exceptions
import pytest

# Each test starts from an empty emulator (conftest.py).
pytestmark = pytest.mark.usefixtures("reset")

WEST, EAST = "us-west-1", "us-east-1"


@pytest.fixture
def aws(endpoint):
    def client(service, region=WEST):
        return boto3.client(service, region_name=region, endpoint_url=endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return client


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def zone(r53, name="example.com"):
    return r53.create_hosted_zone(Name=name, CallerReference=f"ref-{name}")["HostedZone"]["Id"].split("/")[-1]


def failover(name, role, set_id, ip, hc=None, action="CREATE"):
    rr = {"Name": name, "Type": "A", "SetIdentifier": set_id, "Failover": role, "TTL": 60,
          "ResourceRecords": [{"Value": ip}]}
    if hc:
        rr["HealthCheckId"] = hc
    return {"Action": action, "ResourceRecordSet": rr}


def change(r53, z, *changes):
    return r53.change_resource_record_sets(HostedZoneId=z, ChangeBatch={"Changes": list(changes)})


def test_changes_are_pending_then_insync(aws):
    r53 = aws("route53")
    z = zone(r53)
    info = change(r53, z, failover("chat.example.com", "PRIMARY", "west", "192.0.2.1"))["ChangeInfo"]
    assert info["Status"] == "PENDING"
    other = change(r53, z, failover("chat.example.com", "SECONDARY", "east", "192.0.2.2"))["ChangeInfo"]
    assert other["Id"] != info["Id"]
    assert r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "PENDING"
    assert r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "INSYNC"
    assert error_of(lambda: r53.get_change(Id="CNOSUCHCHANGE"))[0] == "NoSuchChange"


def test_record_refusals(aws):
    r53 = aws("route53")
    z = zone(r53)
    change(r53, z, failover("chat.example.com", "PRIMARY", "west", "192.0.2.1"))
    # CREATE of an existing record, even with other values.
    code, msg = error_of(lambda: change(r53, z, failover("chat.example.com", "PRIMARY", "west", "192.0.2.9")))
    assert code == "InvalidChangeBatch" and "already exists" in msg
    # A second PRIMARY, and a plain record beside failover ones.
    code, msg = error_of(lambda: change(r53, z, failover("chat.example.com", "PRIMARY", "east", "192.0.2.2")))
    assert code == "InvalidChangeBatch" and "PRIMARY" in msg
    plain = {"Action": "CREATE", "ResourceRecordSet": {"Name": "chat.example.com", "Type": "A", "TTL": 60,
                                                       "ResourceRecords": [{"Value": "192.0.2.3"}]}}
    code, msg = error_of(lambda: change(r53, z, plain))
    assert code == "InvalidChangeBatch" and "non-failover" in msg
    # Failover without a set identifier; both alias and records; an unknown health check.
    bad = failover("x.example.com", "PRIMARY", "w", "192.0.2.1")
    del bad["ResourceRecordSet"]["SetIdentifier"]
    assert error_of(lambda: change(r53, z, bad))[0] == "InvalidInput"
    both = failover("y.example.com", "PRIMARY", "w", "192.0.2.1")
    both["ResourceRecordSet"]["AliasTarget"] = {"HostedZoneId": z, "DNSName": "chat.example.com",
                                                "EvaluateTargetHealth": False}
    assert error_of(lambda: change(r53, z, both))[0] == "InvalidInput"
    assert error_of(lambda: change(r53, z, failover("z.example.com", "PRIMARY", "w", "192.0.2.1", hc="nope")))[0] \
        == "NoSuchHealthCheck"
    # An alias to a load balancer that does not exist.
    alias = {"Action": "CREATE", "ResourceRecordSet": {
        "Name": "lb.example.com", "Type": "A",
        "AliasTarget": {"HostedZoneId": "Z368ELLRRE2KJ0", "DNSName": "nope-1.us-west-1.elb.amazonaws.com",
                        "EvaluateTargetHealth": True}}}
    code, msg = error_of(lambda: change(r53, z, alias))
    assert code == "InvalidChangeBatch" and "alias target" in msg


def test_delete_matches_name_type_and_values(aws):
    r53 = aws("route53")
    z = zone(r53)
    change(r53, z, failover("chat.example.com", "PRIMARY", "west", "192.0.2.1"),
           failover("api.example.com", "PRIMARY", "west", "192.0.2.5"))
    code, msg = error_of(lambda: change(r53, z, failover("chat.example.com", "PRIMARY", "west", "192.0.2.9",
                                                         action="DELETE")))
    assert code == "InvalidChangeBatch" and "do not match" in msg
    change(r53, z, failover("chat.example.com", "PRIMARY", "west", "192.0.2.1", action="DELETE"))
    names = [r["Name"] for r in r53.list_resource_record_sets(HostedZoneId=z)["ResourceRecordSets"]]
    assert "api.example.com." in names and "chat.example.com." not in names
    code, msg = error_of(lambda: change(r53, z, failover("chat.example.com", "PRIMARY", "west", "192.0.2.1",
                                                         action="DELETE")))
    assert code == "InvalidChangeBatch" and "not found" in msg
    # A batch is all or nothing.
    with pytest.raises(botocore.exceptions.ClientError):
        change(r53, z, failover("new.example.com", "PRIMARY", "west", "192.0.2.1"),
               failover("api.example.com", "PRIMARY", "west", "192.0.2.5"))
    names = [r["Name"] for r in r53.list_resource_record_sets(HostedZoneId=z)["ResourceRecordSets"]]
    assert "new.example.com." not in names


def test_health_check_caller_reference_and_in_use(aws):
    r53 = aws("route53")
    config = {"Type": "HTTPS", "FullyQualifiedDomainName": "lb.example.com", "Port": 443,
              "ResourcePath": "/api/v4/system/ping", "RequestInterval": 30, "FailureThreshold": 3}
    a = r53.create_health_check(CallerReference="ref-1", HealthCheckConfig=config)["HealthCheck"]["Id"]
    assert r53.create_health_check(CallerReference="ref-1", HealthCheckConfig=config)["HealthCheck"]["Id"] == a
    assert len(r53.list_health_checks()["HealthChecks"]) == 1
    other = dict(config, FailureThreshold=5)
    assert error_of(lambda: r53.create_health_check(CallerReference="ref-1", HealthCheckConfig=other))[0] \
        == "HealthCheckAlreadyExists"
    z = zone(r53)
    change(r53, z, failover("chat.example.com", "PRIMARY", "west", "192.0.2.1", hc=a))
    assert error_of(lambda: r53.delete_health_check(HealthCheckId=a))[0] == "HealthCheckInUse"
    change(r53, z, failover("chat.example.com", "PRIMARY", "west", "192.0.2.1", hc=a, action="DELETE"))
    r53.delete_health_check(HealthCheckId=a)
    assert error_of(lambda: r53.create_health_check(CallerReference="ref-1", HealthCheckConfig=config))[0] \
        == "HealthCheckAlreadyExists"
    assert error_of(lambda: r53.create_hosted_zone(Name="example.com", CallerReference="ref-example.com"))[0] \
        == "HostedZoneAlreadyExists"


def test_secret_scheduled_for_deletion(aws):
    for region in (WEST, EAST):
        sm = aws("secretsmanager", region)
        sm.create_secret(Name="mm/db")
        assert error_of(lambda: sm.create_secret(Name="mm/db"))[0] == "ResourceExistsException"
        sm.delete_secret(SecretId="mm/db", RecoveryWindowInDays=7)
        assert "DeletedDate" in sm.describe_secret(SecretId="mm/db")
        code, msg = error_of(lambda: sm.create_secret(Name="mm/db"))
        assert code == "InvalidRequestException" and "scheduled for deletion" in msg
        code, _ = error_of(lambda: sm.put_secret_value(SecretId="mm/db", SecretString="x"))
        assert code == "InvalidRequestException"
        sm.restore_secret(SecretId="mm/db")
        sm.put_secret_value(SecretId="mm/db", SecretString="x")
