"""Self-check of ec2 and elb_asg (the app tier's fixes).

    .venv-emulator/bin/python -m pytest -q tests/emulator/test_app_tier.py
"""

import base64

import boto3
import botocore.config
import botocore.exceptions
import pytest

WEST = "us-west-1"


def client(endpoint, service, region=WEST):
    return boto3.client(service, region_name=region, endpoint_url=endpoint, aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=botocore.config.Config(retries={"total_max_attempts": 1}))


def code(e):
    return e.value.response["Error"]["Code"]


def groups(ec2, *names):
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    return vpc, [ec2.create_security_group(GroupName=n, Description=n, VpcId=vpc)["GroupId"] for n in names]


def test_a_rule_is_refused_twice_whatever_its_description_and_reports_it(endpoint):
    ec2 = client(endpoint, "ec2")
    _, (lb, app) = groups(ec2, "t-lb", "t-app")
    pair = {"IpProtocol": "tcp", "FromPort": 8065, "ToPort": 8065}
    out = ec2.authorize_security_group_ingress(
        GroupId=app, IpPermissions=[{**pair, "UserIdGroupPairs": [{"GroupId": lb, "Description": "from lb"}]}])
    rule = out["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.authorize_security_group_ingress(GroupId=app, IpPermissions=[{**pair, "UserIdGroupPairs": [{"GroupId": lb}]}])
    assert code(e) == "InvalidPermission.Duplicate"
    # The same ports and source as egress is another rule.
    ec2.authorize_security_group_egress(GroupId=app, IpPermissions=[{**pair, "UserIdGroupPairs": [{"GroupId": lb}]}])
    got = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule])["SecurityGroupRules"][0]
    assert got["Description"] == "from lb"
    assert got["ReferencedGroupInfo"]["GroupId"] == lb


def test_launch_template_versions_inherit_and_tokens_repeat(endpoint):
    ec2 = client(endpoint, "ec2")
    ud = base64.b64encode(b"#!/bin/bash\n").decode()
    data = {"ImageId": "ami-12345678", "InstanceType": "t3.micro", "UserData": ud}
    lt = ec2.create_launch_template(LaunchTemplateName="t-lt", LaunchTemplateData=data, ClientToken="tok-1")
    again = ec2.create_launch_template(LaunchTemplateName="t-lt", LaunchTemplateData=data, ClientToken="tok-1")
    tid = lt["LaunchTemplate"]["LaunchTemplateId"]
    assert again["LaunchTemplate"]["LaunchTemplateId"] == tid
    v2 = ec2.create_launch_template_version(LaunchTemplateId=tid, SourceVersion="1", ClientToken="tok-2",
                                            LaunchTemplateData={"InstanceType": "t3.small"})
    repeat = ec2.create_launch_template_version(LaunchTemplateId=tid, SourceVersion="1", ClientToken="tok-2",
                                                LaunchTemplateData={"InstanceType": "t3.small"})
    assert v2["LaunchTemplateVersion"]["VersionNumber"] == repeat["LaunchTemplateVersion"]["VersionNumber"] == 2
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.create_launch_template_version(LaunchTemplateId=tid, ClientToken="tok-2",
                                           LaunchTemplateData={"InstanceType": "t3.large"})
    assert code(e) == "IdempotentParameterMismatch"
    latest = ec2.describe_launch_template_versions(LaunchTemplateId=tid, Versions=["$Latest"])
    got = latest["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert got["InstanceType"] == "t3.small" and got["ImageId"] == "ami-12345678" and got["UserData"] == ud
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_launch_templates(LaunchTemplateIds=["lt-0123456789abcdef0"])
    assert code(e) == "InvalidLaunchTemplateId.NotFound"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.create_launch_template_version(LaunchTemplateId=tid, LaunchTemplateData={"UserData": "not base64!"})
    assert code(e) == "InvalidUserData.Malformed"


def test_listeners_load_balancer_zones_and_groups(endpoint):
    ec2, elb, asg = client(endpoint, "ec2"), client(endpoint, "elbv2"), client(endpoint, "autoscaling")
    vpc, (sg,) = groups(ec2, "t-alb")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
    lb = elb.create_load_balancer(Name="t-alb", Subnets=subnets[:2], SecurityGroups=[sg])["LoadBalancers"][0]
    assert lb["CanonicalHostedZoneId"] == "Z368ELLRRE2KJ0"
    tg = elb.create_target_group(Name="t-tg", Protocol="HTTP", Port=8065, VpcId=vpc)["TargetGroups"][0]
    forward = [{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}]
    first = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=forward)
    # The same settings again: the same listener (ELBv2 CreateListener is idempotent); other settings on the port: refused.
    again = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=forward)
    assert again["Listeners"][0]["ListenerArn"] == first["Listeners"][0]["ListenerArn"]
    other = elb.create_target_group(Name="t-tg-other", Protocol="HTTP", Port=8065, VpcId=vpc)["TargetGroups"][0]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": other["TargetGroupArn"]}])
    assert code(e) == "DuplicateListener"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=443, DefaultActions=forward)
    assert code(e) == "ValidationError"
    lt = ec2.create_launch_template(LaunchTemplateName="t-asg", LaunchTemplateData={"ImageId": "ami-12345678"})
    spec = {"LaunchTemplateId": lt["LaunchTemplate"]["LaunchTemplateId"], "Version": "$Latest"}
    asg.create_auto_scaling_group(AutoScalingGroupName="t-asg", LaunchTemplate=spec, MinSize=0, MaxSize=1,
                                  VPCZoneIdentifier=subnets[0])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.create_auto_scaling_group(AutoScalingGroupName="t-asg", LaunchTemplate=spec, MinSize=0, MaxSize=1,
                                      VPCZoneIdentifier=subnets[0])
    assert code(e) == "AlreadyExists"
