"""Auto Scaling instance refresh (moto 5.2.5 has none), and the nodes' launch
template version as AWS reports it (Query protocol, XML).

An instance refresh is asynchronous, as on AWS: StartInstanceRefresh answers
with its id at once; DescribeInstanceRefreshes shows it Pending, then
InProgress while the group's instances are replaced batch by batch
(PercentageComplete grows), then Successful, over `asg_refresh_ms`
(settings.py). The state moves forward whenever the group or its refreshes
are read, like the RDS switchover's.

With the game-day world on (world.py), nodes boot and serve for real, and
the refresh replaces them as AWS does (Auto Scaling API reference,
RefreshPreferences): while MaxHealthyPercentage (100 to 200, default 100)
leaves room above the desired capacity, replacements launch first and the
nodes they replace are terminated only once they are ready; otherwise a
batch of old nodes is terminated first, as many as MinHealthyPercentage
(rounded up, of the desired capacity) allows and at least one, and as many
replacements launch. A replacement is ready once it is healthy in every
target group of the group (or running, without one) and the warm-up has
passed since ("InstanceWarmup: a time period ... during which an instance
refresh waits before moving on to replacing the next instance after a new
instance enters the InService state"): `asg_refresh_ms`, not the
preference's seconds. The next batch starts when the last is ready.
"""

import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from moto.autoscaling.exceptions import AutoscalingClientError
from moto.autoscaling.models import ASG_NAME_TAG, FakeAutoScalingGroup, InstanceState
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult
from moto.moto_api._internal import mock_random as random

from .settings import SETTINGS

ACTIVE = ("Pending", "InProgress", "Cancelling", "RollbackInProgress")
# Held while nodes are replaced (a refresh, or the game-day world replacing an unhealthy node).
LOCK = threading.RLock()


class InstanceRefreshInProgress(AutoscalingClientError):
    code = "InstanceRefreshInProgress"


class ActiveInstanceRefreshNotFound(AutoscalingClientError):
    code = "ActiveInstanceRefreshNotFound"


class Validation(AutoscalingClientError):
    code = "ValidationError"


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _template_version(group: FakeAutoScalingGroup, wanted: str | None = None) -> Any:
    """The launch template version `wanted` (or the group's) resolves to."""
    spec = wanted if wanted is not None else getattr(group, "launch_template_version", None) or "$Default"
    return group.ec2_launch_template.get_version(spec)


def _instance_version(instance: Any) -> str | None:
    if getattr(instance, "_emu_lt_version", None):
        return instance._emu_lt_version
    for t in instance.get_tags() if hasattr(instance, "get_tags") else []:
        if t.get("key") == "aws:ec2launchtemplate:version":
            return str(t.get("value"))
    return None


def fix_launch_version() -> None:
    """Nodes launch from the group's launch template version, and report it.

    Auto Scaling API reference, LaunchTemplateSpecification.Version: the
    group launches from the version it names (`$Latest`, `$Default` or a
    number); DescribeAutoScalingGroups Instances[].LaunchTemplate.Version is
    the version each instance was launched from, and EC2 tags the instance
    `aws:ec2launchtemplate:version` with it. moto 5.2.5 launches every node
    from the template's default version and reports the default version for
    all of them, so a node launched before a change looks current.
    """

    def replace_autoscaling_group_instances(self: FakeAutoScalingGroup, count_needed: int,
                                            propagated_tags: dict[str, str]) -> None:
        propagated_tags[ASG_NAME_TAG] = self.name
        propagated_tags.update(self.instance_tags)
        subnet_id = self.vpc_zone_identifier.split(",")[0] if self.vpc_zone_identifier else None
        template = None
        version = None
        if self.ec2_launch_template:
            version = _template_version(self)
            template = {"LaunchTemplateId": self.ec2_launch_template.id, "Version": str(version.number)}
        reservation = self.autoscaling_backend.ec2_backend.run_instances(
            self.image_id,
            count_needed,
            self.user_data,
            self.security_groups,
            instance_type=self.instance_type,
            tags={"instance": propagated_tags},
            placement=random.choice(self.availability_zones),
            launch_config=self.launch_config,
            launch_template=template,
            is_instance_type_default=False,
            associate_public_ip=self.launch_config.associate_public_ip_address if self.launch_config else None,
            subnet_id=subnet_id,
        )
        for instance in reservation.instances:
            instance.autoscaling_group = self  # type: ignore[attr-defined]
            instance._emu_lt_version = str(version.number) if version is not None else None  # type: ignore[attr-defined]
            self.instance_states.append(
                InstanceState(instance, protected_from_scale_in=self.new_instances_protected_from_scale_in))

    FakeAutoScalingGroup.replace_autoscaling_group_instances = replace_autoscaling_group_instances  # type: ignore[method-assign]

    def launch_template(self: InstanceState) -> dict[str, Any] | None:
        group = self.auto_scaling_group
        if group is None or group.ec2_launch_template is None:
            return None
        return {
            "LaunchTemplateId": group.ec2_launch_template.id,
            "LaunchTemplateName": group.ec2_launch_template.name,
            "Version": _instance_version(self.instance) or str(group.ec2_launch_template.default_version_number),
        }

    InstanceState.launch_template = property(launch_template)  # type: ignore[assignment,method-assign]


def fix_target_registration() -> None:
    """Updating a group never fails on a node that is not running, and the
    nodes a scale-in terminates leave the group's target groups.

    Auto Scaling registers a node in the group's target groups when it
    enters InService; UpdateAutoScalingGroup does not register anything
    again (a stopped node is marked unhealthy and replaced, Auto Scaling
    user guide, "Health checks for instances in an Auto Scaling group").
    moto 5.2.5 re-registers every node of the group on each update, so a
    stopped node makes UpdateAutoScalingGroup fail with ELB's InvalidTarget.
    When a smaller desired capacity terminates nodes, Auto Scaling
    deregisters them from the load balancer first (Auto Scaling user guide,
    "Use Elastic Load Balancing to distribute incoming application traffic":
    "When Amazon EC2 Auto Scaling terminates instances, it first deregisters
    them from the load balancer"); moto 5.2.5 leaves them registered, so a
    load balancer would keep a dead target (and, failing open, send users to it).
    """
    from moto.autoscaling.models import AutoScalingBackend

    def update_attached_target_groups(self: AutoScalingBackend, group_name: str) -> None:
        group = self.autoscaling_groups[group_name]
        if not group.target_group_arns:
            return
        running = [s.instance.id for s in group.instance_states if s.instance.state == "running"]
        members = {s.instance.id for s in group.instance_states}
        for tg in self.elbv2_backend.describe_target_groups(
                target_group_arns=group.target_group_arns, load_balancer_arn=None, names=None):
            gone = [i for i in tg.targets if i not in members and _terminated(self, i)]
            if gone:
                self.elbv2_backend.notify_terminate_instances(gone)
            new = [{"Id": i, "Port": tg.port} for i in running if i not in tg.targets]
            if new:
                self.elbv2_backend.register_targets(tg.arn, new)

    AutoScalingBackend.update_attached_target_groups = update_attached_target_groups  # type: ignore[method-assign]


def _terminated(backend: Any, instance_id: str) -> bool:
    try:
        instance = backend.ec2_backend.get_instance(instance_id)
    except Exception:  # noqa: BLE001 - not an instance of this region (an IP target)
        return False
    return instance.state in ("shutting-down", "terminated")


# ---------------------------------------------------------------- refresh ---

def _refreshes(group: FakeAutoScalingGroup) -> list[dict[str, Any]]:
    """The group's refreshes, newest first (kept on the group: a moto reset drops them)."""
    if not hasattr(group, "_emu_refreshes"):
        group._emu_refreshes = []  # type: ignore[attr-defined]
    return group._emu_refreshes  # type: ignore[attr-defined]


def _replace(group: FakeAutoScalingGroup, ids: list[str]) -> None:
    """Terminates these nodes and launches as many from the group's current version."""
    states = [s for s in group.instance_states if s.instance.id in ids]
    if not states:
        return
    gone = [s.instance.id for s in states]
    group.instance_states = [s for s in group.instance_states if s not in states]
    group.autoscaling_backend.ec2_backend.terminate_instances(gone)
    # The group deregisters the nodes it terminates from its target groups.
    group.autoscaling_backend.elbv2_backend.notify_terminate_instances(gone)
    group.replace_autoscaling_group_instances(len(states), group.get_propagated_tags())
    group.autoscaling_backend.update_attached_target_groups(group.name)


def settle(group: FakeAutoScalingGroup) -> None:
    """Moves the group's active refresh forward to what the clock says."""
    with LOCK:
        _settle(group)


def _settle(group: FakeAutoScalingGroup) -> None:
    from . import world

    now = time.time()
    for r in _refreshes(group):
        if r["Status"] not in ACTIVE:
            continue
        if r["Status"] == "Cancelling":
            r.update(Status="Cancelled", StatusReason="Instance refresh was cancelled by the user.", EndTime=now)
            continue
        if world.enabled():
            _settle_world(group, r, now)
            continue
        span = max(r["until"] - r["started"], 1e-9)
        progress = min(1.0, (now - r["started"]) / span)
        if progress < 0.1 and r["until"] > now:
            continue  # Pending: checking the group before the first batch
        r["Status"] = "InProgress"
        todo = r["to_replace"]
        due = len(todo) if progress >= 1.0 else int(len(todo) * progress)
        batch = todo[r["replaced"]:due]
        if batch:
            _replace(group, batch)
            r["replaced"] = due
        r["PercentageComplete"] = 100 if not todo else int(100 * r["replaced"] / len(todo))
        if progress >= 1.0:
            r.update(Status="Successful", StatusReason=None, PercentageComplete=100, EndTime=now)


def _ready(group: FakeAutoScalingGroup, r: dict[str, Any], instance_id: str, now: float) -> bool:
    """Healthy in every target group of the group (running, without one),
    for the warm-up since."""
    from . import elb

    if group.target_group_arns:
        healthy = all(elb.HEALTH.get((arn, instance_id), {}).get("state") == "healthy"
                      for arn in group.target_group_arns)
    else:
        healthy = any(s.instance.id == instance_id and s.instance.state == "running" for s in group.instance_states)
    since = r["healthy_since"]
    if not healthy:
        since.pop(instance_id, None)
        return False
    since.setdefault(instance_id, now)
    return now - since[instance_id] >= SETTINGS.get("asg_refresh_ms", 0) / 1000


def _launch(group: FakeAutoScalingGroup, count: int) -> list[str]:
    """`count` more nodes from the group's current version, registered in its target groups."""
    before = {s.instance.id for s in group.instance_states}
    group.replace_autoscaling_group_instances(count, group.get_propagated_tags())
    group.autoscaling_backend.update_attached_target_groups(group.name)
    return [s.instance.id for s in group.instance_states if s.instance.id not in before]


def _terminate(group: FakeAutoScalingGroup, ids: list[str]) -> None:
    group.instance_states = [s for s in group.instance_states if s.instance.id not in ids]
    group.autoscaling_backend.ec2_backend.terminate_instances(ids)
    group.autoscaling_backend.elbv2_backend.notify_terminate_instances(ids)


def _settle_world(group: FakeAutoScalingGroup, r: dict[str, Any], now: float) -> None:
    """One look at a refresh while nodes boot for real (module docstring)."""
    r["Status"] = "InProgress"
    present = [s.instance.id for s in group.instance_states]
    old = [i for i in r["to_replace"] if i in present]
    new = [i for i in r.setdefault("launched", []) if i in present]
    r.setdefault("healthy_since", {})
    waiting = [i for i in new if not _ready(group, r, i, now)]
    if waiting:
        return  # the batch is not ready yet
    desired = int(group.desired_capacity or 0)
    surplus = len(present) - desired
    if surplus > 0 and old:
        gone = old[:surplus]  # replaced by ready nodes launched first
        _terminate(group, gone)
        old = old[len(gone):]
        present = [i for i in present if i not in gone]
    done = len(r["to_replace"]) - len(old)
    r["replaced"] = done
    r["PercentageComplete"] = 100 if not r["to_replace"] else int(100 * done / len(r["to_replace"]))
    if not old:
        r.update(Status="Successful", StatusReason=None, PercentageComplete=100, EndTime=now)
        return
    prefs = r["Preferences"]
    most = max(desired, desired * int(prefs.get("MaxHealthyPercentage") or 100) // 100)
    least = -(-desired * int(prefs.get("MinHealthyPercentage", 90)) // 100)
    room = most - len(present)
    if room > 0:
        r["launched"] = new + _launch(group, min(room, len(old)))
        return
    batch = old[:max(1, len(present) - least)]
    _terminate(group, batch)
    r["launched"] = new + _launch(group, len(batch))


def _group(resp: AutoScalingResponse) -> FakeAutoScalingGroup:
    name = resp._get_param("AutoScalingGroupName")
    group = resp.autoscaling_backend.autoscaling_groups.get(name)
    if group is None:
        raise Validation(f"AutoScalingGroup name not found - AutoScalingGroup {name} not found")
    return group


def _shape(r: dict[str, Any], group: FakeAutoScalingGroup) -> dict[str, Any]:
    left = [s for s in group.instance_states if s.instance.id in r["to_replace"][r["replaced"]:]]
    return {
        "InstanceRefreshId": r["InstanceRefreshId"],
        "AutoScalingGroupName": group.name,
        "Status": r["Status"],
        "StatusReason": r.get("StatusReason"),
        "StartTime": _iso(r["started"]),
        "EndTime": _iso(r.get("EndTime")),
        "PercentageComplete": r.get("PercentageComplete", 0),
        "InstancesToUpdate": len(left) if r["Status"] in ACTIVE else 0,
        "Preferences": r["Preferences"],
        "DesiredConfiguration": r["DesiredConfiguration"],
        "Strategy": r["Strategy"],
    }


def fix_instance_refresh() -> None:
    """StartInstanceRefresh, DescribeInstanceRefreshes, CancelInstanceRefresh.

    Auto Scaling API reference: StartInstanceRefresh(AutoScalingGroupName,
    Strategy Rolling, DesiredConfiguration{LaunchTemplate}, Preferences
    {MinHealthyPercentage 0-100 (default 90), InstanceWarmup, SkipMatching,
    ...}) → InstanceRefreshId; "Only one instance refresh can be in progress
    at a time": InstanceRefreshInProgress ("An existing request is already in
    progress."). DescribeInstanceRefreshes(AutoScalingGroupName,
    InstanceRefreshIds, MaxRecords, NextToken) lists them newest first with
    Status Pending|InProgress|Successful|Failed|Cancelling|Cancelled,
    StatusReason, PercentageComplete, InstancesToUpdate.
    CancelInstanceRefresh: ActiveInstanceRefreshNotFound when none is
    Pending/InProgress. A group that is not found, or that has no launch
    template and is given a DesiredConfiguration, is a ValidationError.
    """

    def start_instance_refresh(self: AutoScalingResponse) -> ActionResult:
        group = _group(self)
        settle(group)
        if any(r["Status"] in ACTIVE for r in _refreshes(group)):
            raise InstanceRefreshInProgress("An Instance Refresh is already in progress and blocks the execution "
                                            "of this Instance Refresh.")
        strategy = self._get_param("Strategy") or "Rolling"
        if strategy != "Rolling":
            raise Validation(f"1 validation error detected: Value '{strategy}' at 'strategy' failed to satisfy "
                             "constraint: Member must satisfy enum value set: [Rolling]")
        prefs = self._get_param("Preferences") or {}
        desired = self._get_param("DesiredConfiguration") or {}
        lt = desired.get("LaunchTemplate") or {}
        if group.ec2_launch_template is None:
            raise Validation(f"The Auto Scaling group {group.name} has no launch template: an instance refresh "
                             "with a desired configuration needs one")
        min_healthy = int(prefs.get("MinHealthyPercentage", 90))
        if not 0 <= min_healthy <= 100:
            raise Validation("MinHealthyPercentage must be between 0 and 100")
        max_healthy = prefs.get("MaxHealthyPercentage")
        if max_healthy is not None:
            max_healthy = int(max_healthy)
            # RefreshPreferences.MaxHealthyPercentage: 100-200, at most 100 above the minimum.
            if not 100 <= max_healthy <= 200:
                raise Validation("MaxHealthyPercentage must be between 100 and 200")
            if max_healthy - min_healthy > 100:
                raise Validation("The difference between MaxHealthyPercentage and MinHealthyPercentage must be "
                                 "at most 100")
        if lt:
            # The refresh moves the group to the desired configuration.
            group.launch_template_version = lt.get("Version") or "$Default"
            group.provided_launch_template_version = lt.get("Version")
        target = str(_template_version(group).number)
        skip = str(prefs.get("SkipMatching", "false")).lower() == "true"
        todo = [s.instance.id for s in group.instance_states
                if not (skip and _instance_version(s.instance) == target)]
        now = time.time()
        r = {
            "InstanceRefreshId": str(uuid.uuid4()),
            "Status": "Pending",
            "Strategy": strategy,
            "Preferences": {"MinHealthyPercentage": min_healthy, "MaxHealthyPercentage": max_healthy,
                            "InstanceWarmup": prefs.get("InstanceWarmup"), "SkipMatching": skip},
            "DesiredConfiguration": {"LaunchTemplate": {"LaunchTemplateId": group.ec2_launch_template.id,
                                                        "Version": lt.get("Version")}} if lt else None,
            "started": now,
            "until": now + SETTINGS.get("asg_refresh_ms", 0) / 1000,
            "to_replace": todo,
            "replaced": 0,
            "PercentageComplete": 0,
        }
        _refreshes(group).insert(0, r)
        settle(group)  # with asg_refresh_ms 0 it is done at once
        return ActionResult({"InstanceRefreshId": r["InstanceRefreshId"]})

    def describe_instance_refreshes(self: AutoScalingResponse) -> ActionResult:
        group = _group(self)
        settle(group)
        ids = self._get_param("InstanceRefreshIds", []) or []
        found = [r for r in _refreshes(group) if not ids or r["InstanceRefreshId"] in ids]
        limit = int(self._get_param("MaxRecords") or 50)
        start = int(self._get_param("NextToken") or 0)
        page = found[start:start + limit]
        token = str(start + limit) if start + limit < len(found) else None
        return ActionResult({"InstanceRefreshes": [_shape(r, group) for r in page], "NextToken": token})

    def cancel_instance_refresh(self: AutoScalingResponse) -> ActionResult:
        group = _group(self)
        settle(group)
        active = next((r for r in _refreshes(group) if r["Status"] in ("Pending", "InProgress")), None)
        if active is None:
            raise ActiveInstanceRefreshNotFound("No in progress or pending Instance Refresh found for Auto Scaling "
                                                f"group {group.name}")
        active["Status"] = "Cancelling"  # Cancelled at the next look; replaced nodes stay replaced
        return ActionResult({"InstanceRefreshId": active["InstanceRefreshId"]})

    AutoScalingResponse.start_instance_refresh = start_instance_refresh  # type: ignore[attr-defined]
    AutoScalingResponse.describe_instance_refreshes = describe_instance_refreshes  # type: ignore[attr-defined]
    AutoScalingResponse.cancel_instance_refresh = cancel_instance_refresh  # type: ignore[attr-defined]

    original = AutoScalingResponse.describe_auto_scaling_groups

    def describe_auto_scaling_groups(self: AutoScalingResponse) -> ActionResult:
        for g in list(self.autoscaling_backend.autoscaling_groups.values()):
            settle(g)
        return original(self)

    AutoScalingResponse.describe_auto_scaling_groups = describe_auto_scaling_groups  # type: ignore[method-assign]


def apply() -> None:
    fix_launch_version()
    fix_target_registration()
    fix_instance_refresh()
