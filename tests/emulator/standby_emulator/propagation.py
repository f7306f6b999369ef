"""Eventual consistency AWS documents for the app tier, as knobs
(settings.py; 0, the default, is moto's immediate consistency).

- ec2_group_visible_ms: a security group created less than that long ago is
  not yet seen by EC2's other calls: DescribeSecurityGroups by id answers
  InvalidGroup.NotFound (by name it is missing), DescribeSecurityGroupRules
  lists none of its rules, Authorize/RevokeSecurityGroupEgress/Ingress naming
  it answer InvalidGroup.NotFound. CreateSecurityGroup's duplicate-name check
  sees it at once. Source: EC2 Developer Guide, "Eventual consistency in the
  Amazon EC2 API": "If you successfully run the CreateSecurityGroup command,
  and then immediately run another command using the security group ID ...
  it might return an InvalidGroup.NotFound error."
- iam_profile_visible_ms: CreateAutoScalingGroup whose launch template names
  an instance profile created less than that long ago (or one that does not
  exist) is refused as AWS refuses it until IAM propagates the profile to
  EC2: ValidationError "You must use a valid fully-formed launch template.
  Value (NAME) for parameter iamInstanceProfile.name is invalid. Invalid IAM
  Instance Profile name" (the message quoted by the AWS provider,
  internal/service/autoscaling/group.go, resourceGroupCreate).
"""

import time
from datetime import timezone
from typing import Any

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import AutoScalingBackend
from moto.ec2.exceptions import InvalidSecurityGroupNotFoundError
from moto.ec2.models.security_groups import SecurityGroupBackend
from moto.iam.models import iam_backends

from .settings import SETTINGS

# group id -> monotonic creation time
_CREATED: dict[str, float] = {}


def reset() -> None:
    _CREATED.clear()


def _young(group_id: str) -> bool:
    lag = SETTINGS.get("ec2_group_visible_ms", 0) / 1000
    born = _CREATED.get(group_id)
    return lag > 0 and born is not None and time.monotonic() - born < lag


def fix_group_visibility() -> None:
    create = SecurityGroupBackend.create_security_group
    describe = SecurityGroupBackend.describe_security_groups
    rules = SecurityGroupBackend.describe_security_group_rules

    def create_security_group(self, name, description, *args, **kwargs):  # type: ignore[no-untyped-def]
        group = create(self, name, description, *args, **kwargs)
        _CREATED[group.id] = time.monotonic()
        return group

    def describe_security_groups(self, group_ids=None, groupnames=None, filters=None):  # type: ignore[no-untyped-def]
        for gid in group_ids or []:
            if _young(gid):
                raise InvalidSecurityGroupNotFoundError(gid)
        return [g for g in describe(self, group_ids, groupnames, filters) if not _young(g.id)]

    def describe_security_group_rules(self, sg_rule_ids, filters):  # type: ignore[no-untyped-def]
        return [r for r in rules(self, sg_rule_ids, filters) if not _young(getattr(r, "group_id", None) or "")]

    SecurityGroupBackend.create_security_group = create_security_group  # type: ignore[method-assign]
    SecurityGroupBackend.describe_security_groups = describe_security_groups  # type: ignore[method-assign]
    SecurityGroupBackend.describe_security_group_rules = describe_security_group_rules  # type: ignore[method-assign]
    for op in ("authorize_security_group_ingress", "authorize_security_group_egress",
               "revoke_security_group_ingress", "revoke_security_group_egress"):
        original = getattr(SecurityGroupBackend, op)

        def call(self, group_name_or_id, *args, _original=original, **kwargs):  # type: ignore[no-untyped-def]
            if _young(group_name_or_id):
                raise InvalidSecurityGroupNotFoundError(group_name_or_id)
            return _original(self, group_name_or_id, *args, **kwargs)

        setattr(SecurityGroupBackend, op, call)


def _profile_of(backend: AutoScalingBackend, launch_template: dict[str, Any]) -> str | None:
    tid = launch_template.get("LaunchTemplateId")
    name = launch_template.get("LaunchTemplateName")
    try:
        template = (backend.ec2_backend.get_launch_template(tid) if tid
                    else backend.ec2_backend.get_launch_template_by_name(name))
        version = template.get_version(launch_template.get("Version") or "$Default")
    except Exception:  # an unknown template is moto's to refuse
        return None
    profile = version.data.get("IamInstanceProfile") or {}
    return profile.get("Name") or (profile.get("Arn") or "").rsplit("/", 1)[-1] or None


def fix_profile_propagation() -> None:
    original = AutoScalingBackend.create_auto_scaling_group

    def create_auto_scaling_group(self, name, *args, **kwargs):  # type: ignore[no-untyped-def]
        template = kwargs.get("launch_template")
        profile = _profile_of(self, template) if template else None
        if profile:
            iam = iam_backends[self.account_id]["aws"]
            try:
                made = iam.get_instance_profile(profile).create_date.replace(tzinfo=timezone.utc)
                age_ms = (time.time() - made.timestamp()) * 1000
                visible = age_ms >= SETTINGS.get("iam_profile_visible_ms", 0)
            except Exception:
                visible = False
            if not visible:
                raise ValidationError(
                    "You must use a valid fully-formed launch template. Value "
                    f"({profile}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"
                )
        return original(self, name, *args, **kwargs)

    AutoScalingBackend.create_auto_scaling_group = create_auto_scaling_group  # type: ignore[method-assign]


def apply() -> None:
    fix_group_visibility()
    fix_profile_propagation()
