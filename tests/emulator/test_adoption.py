"""What adopting production meets on AWS, as the emulator answers it:
OpenSearch Service's blue/green deployments and DryRun
(opensearch_changes.py), the security plugin's master user mappings,
built-in roles and authinfo (opensearch_security.py), and RDS changes held
for the maintenance window or refused (rds_modify.py)."""

import base64
import json
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.usefixtures("reset")
WEST = "us-west-1"
PASSWORD = "Master-Pass9!"


def client(endpoint, service, region=WEST):
    return boto3.client(service, region_name=region, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def get(endpoint, path):
    return json.loads(urllib.request.urlopen(endpoint + path).read())


def domain(endpoint, name="prod-search", **extra):
    os_ = client(endpoint, "opensearch")
    os_.create_domain(DomainName=name, EngineVersion="OpenSearch_2.11",
                      ClusterConfig={"InstanceType": "r5.xlarge.search", "InstanceCount": 3},
                      EBSOptions={"EBSEnabled": True, "VolumeSize": 200, "VolumeType": "gp3"},
                      AdvancedSecurityOptions={"Enabled": True, "InternalUserDatabaseEnabled": True,
                                               "MasterUserOptions": {"MasterUserName": "admin",
                                                                     "MasterUserPassword": PASSWORD}},
                      NodeToNodeEncryptionOptions={"Enabled": True}, EncryptionAtRestOptions={"Enabled": True},
                      DomainEndpointOptions={"EnforceHTTPS": True},
                      AccessPolicies=json.dumps({"Version": "2012-10-17", "Statement": [{
                          "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "es:ESHttp*",
                          "Resource": f"arn:aws:es:{WEST}:123456789012:domain/{name}/*"}]}), **extra)
    return os_, os_.describe_domain(DomainName=name)["DomainStatus"]["Endpoint"]


def rest(endpoint, host, method, path, body=None, user="admin", password=PASSWORD):
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    req = urllib.request.Request(endpoint + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Host": host, "Authorization": "Basic " + auth,
                                          "Content-Type": "application/json"})
    def parsed(raw):
        try:
            return json.loads(raw or b"null")
        except ValueError:
            return raw.decode()

    try:
        with urllib.request.urlopen(req) as r:
            return r.status, parsed(r.read())
    except urllib.error.HTTPError as e:
        return e.code, parsed(e.read())


def test_dry_run_says_blue_green_and_changes_nothing(endpoint):
    os_, _ = domain(endpoint)
    out = os_.update_domain_config(DomainName="prod-search", ClusterConfig={"InstanceType": "r6g.large.search"},
                                   DryRun=True)
    assert out["DryRunResults"]["DeploymentType"] == "Blue/Green"
    assert "instance type" in out["DryRunResults"]["Message"]
    assert os_.describe_domain(DomainName="prod-search")["DomainStatus"]["ClusterConfig"]["InstanceType"] == \
        "r5.xlarge.search"
    assert get(endpoint, "/_emulator/opensearch/deployments") == []
    out = os_.update_domain_config(DomainName="prod-search", EBSOptions={"EBSEnabled": True, "VolumeSize": 300},
                                   DryRun=True)
    assert out["DryRunResults"]["DeploymentType"] == "DynamicUpdate", "growing a volume is in place"
    os_.update_domain_config(DomainName="prod-search", EBSOptions={"EBSEnabled": True, "VolumeSize": 100})
    assert [d["type"] for d in get(endpoint, "/_emulator/opensearch/deployments")] == ["Blue/Green"]


def test_the_master_user_is_in_its_mappings_and_a_replacing_put_locks_it_out(endpoint):
    _, host = domain(endpoint)
    status, body = rest(endpoint, host, "GET", "/_plugins/_security/api/rolesmapping/security_manager")
    assert status == 200 and body["security_manager"]["users"] == ["admin"]
    status, body = rest(endpoint, host, "GET", "/_plugins/_security/authinfo")
    assert status == 200 and body["user_name"] == "admin"
    assert {"all_access", "security_manager"} <= set(body["roles"])
    assert rest(endpoint, host, "GET", "/_plugins/_security/authinfo", password="wrong")[0] == 401
    # PUT replaces the whole mapping: without the master user in it, the
    # master user can no longer use the security API (with all_access gone too).
    assert rest(endpoint, host, "PUT", "/_plugins/_security/api/rolesmapping/all_access", {"users": ["other"]})[0] == 200
    assert rest(endpoint, host, "PUT", "/_plugins/_security/api/rolesmapping/security_manager",
                {"users": ["other"]})[0] == 200
    assert rest(endpoint, host, "GET", "/_plugins/_security/api/internalusers/x")[0] == 403


def test_built_in_roles_refuse_changes_static_first(endpoint):
    _, host = domain(endpoint)
    assert rest(endpoint, host, "PUT", "/_plugins/_security/api/roles/manage_snapshots", {"cluster_permissions": []}) \
        == (403, {"status": "FORBIDDEN", "message": "Resource 'manage_snapshots' is static."})
    assert rest(endpoint, host, "PUT", "/_plugins/_security/api/roles/alerting_full_access", {}) \
        == (403, {"status": "FORBIDDEN", "message": "Resource 'alerting_full_access' is reserved."})


def test_an_instance_class_change_waits_for_the_maintenance_window(endpoint):
    rds = client(endpoint, "rds")
    rds.create_db_cluster(DBClusterIdentifier="prod", Engine="aurora-postgresql", EngineVersion="16.4",
                          MasterUsername="mm", MasterUserPassword="Passw0rd-x1")
    rds.create_db_instance(DBInstanceIdentifier="prod-0", DBClusterIdentifier="prod", Engine="aurora-postgresql",
                           DBInstanceClass="db.r5.xlarge")
    rds.modify_db_instance(DBInstanceIdentifier="prod-0", DBInstanceClass="db.r6g.large")
    i = rds.describe_db_instances(DBInstanceIdentifier="prod-0")["DBInstances"][0]
    assert (i["DBInstanceClass"], i["PendingModifiedValues"]) == ("db.r5.xlarge", {"DBInstanceClass": "db.r6g.large"})
    urllib.request.urlopen(urllib.request.Request(endpoint + "/_emulator/rds/maintenance", method="POST"))
    assert rds.describe_db_instances(DBInstanceIdentifier="prod-0")["DBInstances"][0]["DBInstanceClass"] == \
        "db.r6g.large"
    assert [c["applied"] for c in get(endpoint, "/_emulator/rds/instance-changes")] == ["held", "maintenance window"]


def test_leaving_secrets_manager_needs_a_password(endpoint):
    rds = client(endpoint, "rds")
    rds.create_db_cluster(DBClusterIdentifier="managed", Engine="aurora-postgresql", EngineVersion="16.4",
                          MasterUsername="mm", ManageMasterUserPassword=True)
    with pytest.raises(ClientError) as e:
        rds.modify_db_cluster(DBClusterIdentifier="managed", ManageMasterUserPassword=False)
    assert e.value.response["Error"]["Code"] == "InvalidParameterCombination"
    rds.modify_db_cluster(DBClusterIdentifier="managed", ManageMasterUserPassword=False,
                          MasterUserPassword="New-Passw0rd", ApplyImmediately=True)
