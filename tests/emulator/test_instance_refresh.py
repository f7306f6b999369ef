"""Self-check of asg_refresh (Auto Scaling instance refresh, nodes' launch
template versions).

    .venv-emulator/bin/python -m pytest -q tests/emulator/test_instance_refresh.py
"""

import base64
import json
import time
import urllib.request

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


def code(e):
    return e.value.response["Error"]["Code"]


def group_with_template(endpoint, name, nodes=2):
    ec2, asg, elb = client(endpoint, "ec2"), client(endpoint, "autoscaling"), client(endpoint, "elbv2")
    ud = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    lt = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={
        "ImageId": "ami-12c6146b", "InstanceType": "t3.micro", "UserData": ud("MM_JOBSETTINGS_RUNSCHEDULER=true")})
    lt_id = lt["LaunchTemplate"]["LaunchTemplateId"]
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
    tg = elb.create_target_group(Name=name, Protocol="HTTP", Port=8065, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    asg.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=4, DesiredCapacity=nodes,
                                  LaunchTemplate={"LaunchTemplateId": lt_id, "Version": "1"},
                                  VPCZoneIdentifier=subnet, TargetGroupARNs=[tg])
    v2 = ec2.create_launch_template_version(LaunchTemplateId=lt_id, SourceVersion="1", LaunchTemplateData={
        "ImageId": "ami-12c6146b", "InstanceType": "t3.micro", "UserData": ud("MM_JOBSETTINGS_RUNSCHEDULER=false")})
    return lt_id, str(v2["LaunchTemplateVersion"]["VersionNumber"]), tg


def nodes(endpoint, name):
    g = client(endpoint, "autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return {i["InstanceId"]: i["LaunchTemplate"]["Version"] for i in g["Instances"]}


def wait(endpoint, name, rid, timeout=10):
    asg = client(endpoint, "autoscaling")
    seen = []
    end = time.time() + timeout
    while time.time() < end:
        r = asg.describe_instance_refreshes(AutoScalingGroupName=name, InstanceRefreshIds=[rid])["InstanceRefreshes"][0]
        seen.append((r["Status"], r.get("PercentageComplete", 0)))
        if r["Status"] in ("Successful", "Failed", "Cancelled"):
            return r, seen
        time.sleep(0.05)
    raise AssertionError(f"refresh {rid} did not end: {seen[-3:]}")


def test_nodes_report_the_version_they_were_launched_from(endpoint):
    lt_id, v2, _ = group_with_template(endpoint, "versions")
    before = nodes(endpoint, "versions")
    assert set(before.values()) == {"1"}, before
    # The group moves to version 2: running nodes keep 1, a new node gets 2.
    asg = client(endpoint, "autoscaling")
    asg.update_auto_scaling_group(AutoScalingGroupName="versions", LaunchTemplate={"LaunchTemplateId": lt_id,
                                                                                   "Version": v2}, DesiredCapacity=3)
    after = nodes(endpoint, "versions")
    assert sorted(after.values()) == ["1", "1", v2], after


def test_a_refresh_replaces_every_node_with_the_new_version_over_time(endpoint):
    settings(endpoint, asg_refresh_ms=600)
    try:
        lt_id, v2, tg = group_with_template(endpoint, "rolling")
        old = set(nodes(endpoint, "rolling"))
        asg = client(endpoint, "autoscaling")
        rid = asg.start_instance_refresh(
            AutoScalingGroupName="rolling", Strategy="Rolling",
            DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": lt_id, "Version": v2}},
            Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 0, "SkipMatching": True})["InstanceRefreshId"]
        first = asg.describe_instance_refreshes(AutoScalingGroupName="rolling")["InstanceRefreshes"][0]
        assert first["InstanceRefreshId"] == rid and first["Status"] in ("Pending", "InProgress")
        # One at a time: a second one is refused while this one runs.
        with pytest.raises(botocore.exceptions.ClientError) as e:
            asg.start_instance_refresh(AutoScalingGroupName="rolling")
        assert code(e) == "InstanceRefreshInProgress"
        r, seen = wait(endpoint, "rolling", rid)
        assert r["Status"] == "Successful" and r["PercentageComplete"] == 100, r
        assert any(s == "InProgress" for s, _ in seen), seen
        now = nodes(endpoint, "rolling")
        assert len(now) == 2 and not (set(now) & old), (old, now)
        assert set(now.values()) == {v2}
        # EC2 says the same: the running nodes come from the new version, with its user data.
        ec2 = client(endpoint, "ec2")
        running = ec2.describe_instances(InstanceIds=list(now))["Reservations"]
        tags = [{t["Key"]: t["Value"] for t in i["Tags"]} for res in running for i in res["Instances"]]
        assert {t["aws:ec2launchtemplate:version"] for t in tags} == {v2}
        # The replaced nodes left the target group; the new ones are in it.
        health = client(endpoint, "elbv2").describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        assert {h["Target"]["Id"] for h in health} == set(now)
        assert {h["TargetHealth"]["State"] for h in health} == {"healthy"}
        # The group runs the desired configuration from now on.
        g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["rolling"])["AutoScalingGroups"][0]
        assert g["LaunchTemplate"]["Version"] == v2
        # Skip matching: nothing to replace, done at once.
        rid2 = asg.start_instance_refresh(AutoScalingGroupName="rolling", Preferences={"SkipMatching": True})
        r2, _ = wait(endpoint, "rolling", rid2["InstanceRefreshId"])
        assert r2["Status"] == "Successful" and set(nodes(endpoint, "rolling")) == set(now)
        listed = asg.describe_instance_refreshes(AutoScalingGroupName="rolling")["InstanceRefreshes"]
        assert [x["InstanceRefreshId"] for x in listed] == [rid2["InstanceRefreshId"], rid]  # newest first
    finally:
        settings(endpoint, asg_refresh_ms=300)


def test_cancel_and_refusals(endpoint):
    settings(endpoint, asg_refresh_ms=5000)
    try:
        group_with_template(endpoint, "cancel")
        asg = client(endpoint, "autoscaling")
        with pytest.raises(botocore.exceptions.ClientError) as e:
            asg.cancel_instance_refresh(AutoScalingGroupName="cancel")
        assert code(e) == "ActiveInstanceRefreshNotFound"
        rid = asg.start_instance_refresh(AutoScalingGroupName="cancel")["InstanceRefreshId"]
        assert asg.cancel_instance_refresh(AutoScalingGroupName="cancel")["InstanceRefreshId"] == rid
        r, _ = wait(endpoint, "cancel", rid)
        assert r["Status"] == "Cancelled" and r["StatusReason"], r
        with pytest.raises(botocore.exceptions.ClientError) as e:
            asg.start_instance_refresh(AutoScalingGroupName="no-such-group")
        assert code(e) == "ValidationError"
        with pytest.raises(botocore.exceptions.ClientError) as e:
            asg.start_instance_refresh(AutoScalingGroupName="cancel", Preferences={"MinHealthyPercentage": 101})
        assert code(e) == "ValidationError"
    finally:
        settings(endpoint, asg_refresh_ms=300)


def test_a_group_without_a_launch_template_is_refused(endpoint):
    asg = client(endpoint, "autoscaling")
    ec2 = client(endpoint, "ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
    asg.create_launch_configuration(LaunchConfigurationName="lc", ImageId="ami-12c6146b", InstanceType="t3.micro")
    asg.create_auto_scaling_group(AutoScalingGroupName="lc-group", LaunchConfigurationName="lc", MinSize=0,
                                  MaxSize=1, DesiredCapacity=1, VPCZoneIdentifier=subnet)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.start_instance_refresh(AutoScalingGroupName="lc-group")
    assert code(e) == "ValidationError"


def test_updating_a_group_with_a_stopped_node_works(endpoint):
    lt_id, v2, tg = group_with_template(endpoint, "stopped", nodes=1)
    (node,) = nodes(endpoint, "stopped")
    client(endpoint, "ec2").stop_instances(InstanceIds=[node])
    health = client(endpoint, "elbv2").describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert [h["TargetHealth"]["State"] for h in health] == ["unused"]
    client(endpoint, "autoscaling").update_auto_scaling_group(
        AutoScalingGroupName="stopped", LaunchTemplate={"LaunchTemplateId": lt_id, "Version": v2})


def test_a_scale_in_deregisters_the_nodes_it_terminates(endpoint):
    _, _, tg = group_with_template(endpoint, "scalein", nodes=2)
    elb = client(endpoint, "elbv2")
    targets = lambda: sorted(d["Target"]["Id"] for d in  # noqa: E731
                             elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"])
    assert targets() == sorted(nodes(endpoint, "scalein"))
    client(endpoint, "autoscaling").update_auto_scaling_group(AutoScalingGroupName="scalein", DesiredCapacity=1)
    [left] = nodes(endpoint, "scalein")
    assert targets() == [left]
