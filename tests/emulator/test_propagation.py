"""Self-check of the app tier's eventual consistency (propagation.py), AWS's
managed prefix lists for Route 53's health checkers (prefix_lists.py), the
asynchronous forced deletion and version tokens of Secrets Manager
(secretsmanager.py), and the fault proxy's per-kind rates.

    .venv-emulator/bin/python -m pytest -q tests/emulator/test_propagation.py
"""

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest

WEST = "us-west-1"


def client(endpoint, service, region=WEST):
    return boto3.client(service, region_name=region, endpoint_url=endpoint, aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=botocore.config.Config(retries={"total_max_attempts": 1}))


def settings(endpoint, **knobs):
    req = urllib.request.Request(f"{endpoint}/_emulator/settings", data=json.dumps(knobs).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()


def error(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_a_new_security_group_is_invisible_for_a_while(endpoint, reset):
    settings(endpoint, ec2_group_visible_ms=600)
    ec2 = client(endpoint, "ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    gid = ec2.create_security_group(GroupName="t-young", Description="t", VpcId=vpc)["GroupId"]
    assert error(lambda: ec2.describe_security_groups(GroupIds=[gid]))[0] == "InvalidGroup.NotFound"
    assert ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"] == []
    everything = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    assert error(lambda: ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[everything]))[0] \
        == "InvalidGroup.NotFound"
    # The name is taken at once.
    assert error(lambda: ec2.create_security_group(GroupName="t-young", Description="t", VpcId=vpc))[0] \
        == "InvalidGroup.Duplicate"
    time.sleep(0.7)
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"]
    assert [(r["IsEgress"], r["CidrIpv4"]) for r in rules] == [(True, "0.0.0.0/0")]
    ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[everything])
    assert error(lambda: ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[everything]))[0] \
        == "InvalidPermission.NotFound"


def _template_with_profile(endpoint, profile):
    ec2 = client(endpoint, "ec2")
    return ec2.create_launch_template(
        LaunchTemplateName=f"lt-{profile}",
        LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "t3.micro",
                            "IamInstanceProfile": {"Name": profile}})["LaunchTemplate"]["LaunchTemplateId"]


def test_a_new_instance_profile_is_refused_by_auto_scaling_for_a_while(endpoint, reset):
    settings(endpoint, iam_profile_visible_ms=800)
    iam = client(endpoint, "iam", "us-east-1")
    asg = client(endpoint, "autoscaling")
    iam.create_instance_profile(InstanceProfileName="p-young")
    tid = _template_with_profile(endpoint, "p-young")
    group = {"AutoScalingGroupName": "g", "MinSize": 0, "MaxSize": 1, "AvailabilityZones": ["us-west-1a"],
             "LaunchTemplate": {"LaunchTemplateId": tid, "Version": "1"}}
    code, msg = error(lambda: asg.create_auto_scaling_group(**group))
    assert code == "ValidationError" and "Invalid IAM Instance Profile name" in msg and "(p-young)" in msg
    time.sleep(0.9)
    asg.create_auto_scaling_group(**group)
    # A profile that does not exist is refused too.
    tid = _template_with_profile(endpoint, "p-none")
    code, msg = error(lambda: asg.create_auto_scaling_group(
        **{**group, "AutoScalingGroupName": "g2", "LaunchTemplate": {"LaunchTemplateId": tid, "Version": "1"}}))
    assert code == "ValidationError" and "(p-none)" in msg


def test_route53_health_checkers_prefix_lists(endpoint, reset):
    ec2 = client(endpoint, "ec2")
    for name in ("com.amazonaws.us-west-1.route53-healthchecks", "com.amazonaws.us-west-1.ipv6.route53-healthchecks"):
        lists = ec2.describe_managed_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [name]}])
        (pl,) = lists["PrefixLists"]
        assert pl["OwnerId"] == "AWS" and pl["MaxEntries"] == 25
        entries = ec2.get_managed_prefix_list_entries(PrefixListId=pl["PrefixListId"])["Entries"]
        assert entries


def test_a_forced_deletion_holds_the_name_a_moment(endpoint, reset):
    settings(endpoint, secrets_force_delete_ms=500)
    sm = client(endpoint, "secretsmanager")
    sm.create_secret(Name="mm/now")
    sm.delete_secret(SecretId="mm/now", ForceDeleteWithoutRecovery=True)
    assert "DeletedDate" in sm.describe_secret(SecretId="mm/now")
    code, msg = error(lambda: sm.create_secret(Name="mm/now"))
    assert code == "InvalidRequestException" and "scheduled for deletion" in msg
    time.sleep(0.6)
    assert error(lambda: sm.describe_secret(SecretId="mm/now"))[0] == "ResourceNotFoundException"
    sm.create_secret(Name="mm/now")


def test_a_version_token_cannot_change_its_value(endpoint, reset):
    sm = client(endpoint, "secretsmanager")
    sm.create_secret(Name="mm/tok")
    token = "a" * 32
    sm.put_secret_value(SecretId="mm/tok", SecretString="one", ClientRequestToken=token)
    sm.put_secret_value(SecretId="mm/tok", SecretString="one", ClientRequestToken=token)  # the same: fine
    code, _ = error(lambda: sm.put_secret_value(SecretId="mm/tok", SecretString="two", ClientRequestToken=token))
    assert code == "ResourceExistsException"
    assert sm.get_secret_value(SecretId="mm/tok")["SecretString"] == "one"


def test_the_fault_proxy_draws_each_kind_at_its_rate(endpoint, tmp_path):
    port_file = tmp_path / "port"
    proxy = subprocess.Popen([sys.executable, "-m", "standby_emulator.fault_proxy", "--upstream", endpoint,
                              "--rate", "0", "--port-file", str(port_file)],
                             cwd=Path(__file__).parent)
    try:
        while not port_file.exists():
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        urllib.request.urlopen(urllib.request.Request(f"{url}/_proxy/rates?refused=0.5&lost=0.25", method="PUT"))
        sts = boto3.client("sts", region_name=WEST, endpoint_url=url, aws_access_key_id="testing",
                           aws_secret_access_key="testing",
                           config=botocore.config.Config(retries={"total_max_attempts": 1}, read_timeout=5))
        for _ in range(80):
            try:
                sts.get_caller_identity()
            except Exception:
                pass
        stats = json.loads(urllib.request.urlopen(f"{url}/_proxy/stats").read())
        faults = stats["faults"]
        assert faults["throttled"] == faults["slow"] == 0, stats
        assert 25 <= faults["refused"] <= 55 and 8 <= faults["lost"] <= 32, stats
    finally:
        proxy.kill()
        proxy.wait()


def test_elb_creates_repeated_with_the_same_settings_succeed(endpoint, reset):
    ec2 = client(endpoint, "ec2")
    elb = client(endpoint, "elbv2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]][:2]
    lb = elb.create_load_balancer(Name="t-lb", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    assert elb.create_load_balancer(Name="t-lb", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"] == lb
    assert error(lambda: elb.create_load_balancer(Name="t-lb", Subnets=subnets, Scheme="internal"))[0] \
        == "DuplicateLoadBalancerName"
    assert len(elb.describe_load_balancers(Names=["t-lb"])["LoadBalancers"]) == 1
    tg_args = {"Name": "t-tg", "Protocol": "HTTP", "Port": 8065, "VpcId": vpc}
    tg = elb.create_target_group(**tg_args)["TargetGroups"][0]["TargetGroupArn"]
    assert elb.create_target_group(**tg_args)["TargetGroups"][0]["TargetGroupArn"] == tg
    assert error(lambda: elb.create_target_group(**{**tg_args, "Port": 80}))[0] == "DuplicateTargetGroupName"
    action = [{"Type": "forward", "TargetGroupArn": tg}]
    listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=action)
    again = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=action)
    assert listener["Listeners"][0]["ListenerArn"] == again["Listeners"][0]["ListenerArn"]
    other = elb.create_target_group(**{**tg_args, "Name": "t-tg2"})["TargetGroups"][0]["TargetGroupArn"]
    assert error(lambda: elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                                             DefaultActions=[{"Type": "forward", "TargetGroupArn": other}]))[0] \
        == "DuplicateListener"
