"""EC2 fixes for the app tier (Query protocol, XML): security group rules
and launch templates."""

from typing import Any

from moto.ec2.exceptions import EC2ClientError, InvalidLaunchTemplateIdNotFound
from moto.ec2.models.launch_templates import LaunchTemplateBackend
from moto.ec2.models.security_groups import SecurityGroupRule
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.ec2.utils import parse_user_data


def _pair(group: dict[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (group or {}).items() if k != "Description"}


def fix_duplicate_rule_ignores_description() -> None:
    """AuthorizeSecurityGroupIngress/Egress refuse a rule the group has.

    EC2 API reference, AuthorizeSecurityGroupIngress: a rule that matches an
    existing one (protocol, ports, source) is refused with
    InvalidPermission.Duplicate ("the specified rule ... already exists");
    the description is not part of a rule's identity. moto 5.2.5 compares the
    referenced group's entry including its Description, so the same rule
    with another (or no) description is accepted twice.
    """
    original = SecurityGroupRule.__eq__

    def __eq__(self: SecurityGroupRule, other: Any) -> bool:
        if not isinstance(other, SecurityGroupRule):
            return False
        if _pair(self.source_group) != _pair(other.source_group):
            return False
        saved = (self.source_group, other.source_group)
        try:
            self.source_group, other.source_group = _pair(self.source_group), _pair(other.source_group)
            return original(self, other) and self.is_egress == other.is_egress
        finally:
            self.source_group, other.source_group = saved

    SecurityGroupRule.__eq__ = __eq__  # type: ignore[method-assign]
    SecurityGroupRule.__hash__ = object.__hash__  # type: ignore[method-assign]


class IdempotentParameterMismatch(EC2ClientError):
    def __init__(self, token: str) -> None:
        super().__init__(
            "IdempotentParameterMismatch",
            f"Client token {token} was used for a request with different parameters.",
        )


# (account, region, operation, token) -> (params, template id, version number)
_TOKENS: dict[tuple[str, str, str, str], tuple[str, str, int]] = {}


def reset() -> None:
    _TOKENS.clear()


def _token_key(resp: LaunchTemplates, op: str) -> tuple[str, str, str, str] | None:
    token = resp._get_param("ClientToken")
    return (resp.current_account, resp.region, op, token) if token else None


def _params(resp: LaunchTemplates) -> str:
    return repr(sorted((k, v) for k, v in resp.querystring.items() if k not in ("ClientToken",)))


def fix_launch_templates() -> None:
    """Launch template versions, client tokens and unknown ids as in AWS.

    EC2 API reference:
    - CreateLaunchTemplateVersion, SourceVersion: "The new launch template
      version inherits the same launch parameters as the source version,
      except for parameters that you specify in LaunchTemplateData". moto
      5.2.5 ignores SourceVersion (the new version holds only what was sent)
      and stores UserData unvalidated.
    - CreateLaunchTemplate / CreateLaunchTemplateVersion, ClientToken: "Unique,
      case-sensitive identifier you provide to ensure the idempotency of the
      request"; the same token with other parameters is refused with
      IdempotentParameterMismatch. moto ignores it (a retried call makes a
      second version).
    - DescribeLaunchTemplates with an id that does not exist answers
      InvalidLaunchTemplateId.NotFound; moto returns an empty list.
    """
    create = LaunchTemplates.create_launch_template

    def create_launch_template(self: LaunchTemplates):  # type: ignore[no-untyped-def]
        key = _token_key(self, "CreateLaunchTemplate")
        if key and key in _TOKENS:
            params, tid, _ = _TOKENS[key]
            if params != _params(self):
                raise IdempotentParameterMismatch(key[3])
            template = self.ec2_backend.get_launch_template(tid)
            version = template.default_version()
            return _template_result(self, template, version)
        result = create(self)
        if key:
            name = self._get_param("LaunchTemplateName")
            tid = self.ec2_backend.launch_template_name_to_ids[name]
            _TOKENS[key] = (_params(self), tid, 1)
        return result

    def create_launch_template_version(self: LaunchTemplates):  # type: ignore[no-untyped-def]
        name = self._get_param("LaunchTemplateName")
        tid = self._get_param("LaunchTemplateId")
        template = self.ec2_backend.get_launch_template_by_name(name) if name else self.ec2_backend.get_launch_template(tid)
        key = _token_key(self, "CreateLaunchTemplateVersion")
        if key and key in _TOKENS:
            params, _, number = _TOKENS[key]
            if params != _params(self):
                raise IdempotentParameterMismatch(key[3])
            return _version_result(self, template, template.get_version(number))
        data = dict(self._get_param("LaunchTemplateData", {}))
        if "UserData" in data:
            data["UserData"] = parse_user_data(data["UserData"])
        source = self._get_param("SourceVersion")
        if source:
            merged = dict(template.get_version(source).data)
            merged.update(data)
            data = merged
        self.error_on_dryrun()
        version = template.create_version(data, self._get_param("VersionDescription"))
        if key:
            _TOKENS[key] = (_params(self), template.id, version.number)
        return _version_result(self, template, version)

    describe = LaunchTemplateBackend.describe_launch_templates

    def describe_launch_templates(self, template_names=None, template_ids=None, filters=None):  # type: ignore[no-untyped-def]
        for tid in template_ids or []:
            if tid not in self.launch_templates:
                raise InvalidLaunchTemplateIdNotFound(tid)
        return describe(self, template_names=template_names, template_ids=template_ids, filters=filters)

    LaunchTemplates.create_launch_template = create_launch_template  # type: ignore[method-assign]
    LaunchTemplates.create_launch_template_version = create_launch_template_version  # type: ignore[method-assign]
    LaunchTemplateBackend.describe_launch_templates = describe_launch_templates  # type: ignore[method-assign]


def _template_result(resp: LaunchTemplates, template: Any, version: Any):  # type: ignore[no-untyped-def]
    from moto.core.responses import ActionResult

    return ActionResult({
        "LaunchTemplate": {
            "CreateTime": version.create_time,
            "CreatedBy": f"arn:{resp.partition}:iam::{resp.current_account}:root",
            "DefaultVersionNumber": template.default_version_number,
            "LatestVersionNumber": template.latest_version_number,
            "LaunchTemplateId": template.id,
            "LaunchTemplateName": template.name,
            "Tags": template.tags,
        },
    })


def _version_result(resp: LaunchTemplates, template: Any, version: Any):  # type: ignore[no-untyped-def]
    from moto.core.responses import ActionResult

    return ActionResult({
        "LaunchTemplateVersion": {
            "CreateTime": version.create_time,
            "CreatedBy": f"arn:{resp.partition}:iam::{resp.current_account}:root",
            "DefaultVersion": template.is_default(version),
            "LaunchTemplateData": version.data,
            "LaunchTemplateId": template.id,
            "LaunchTemplateName": template.name,
            "VersionDescription": version.description,
            "VersionNumber": version.number,
        },
    })


def fix_rule_description() -> None:
    """DescribeSecurityGroupRules reports the description of every rule.

    EC2 API reference, SecurityGroupRule.Description: "The security group rule
    description". moto 5.2.5 reads it from the CIDR range only, so a rule
    that references a security group (UserIdGroupPairs[].Description) or a
    prefix list (PrefixListIds[].Description) is reported without the
    description it was given.
    """
    init = SecurityGroupRule.__init__

    def __init__(self: SecurityGroupRule, ec2_backend: Any, ip_protocol: str, group_id: str, from_port: Any,  # type: ignore[no-untyped-def]
                 to_port: Any, ip_range: Any, source_group: Any = None, prefix_list_id: Any = None, **kwargs: Any):
        init(self, ec2_backend, ip_protocol, group_id, from_port, to_port, ip_range, source_group, prefix_list_id,
             **kwargs)
        self._prefix_list_description = (prefix_list_id or {}).get("Description")

    def description(self: SecurityGroupRule) -> str | None:
        return (self.ip_range.get("Description") or (self.source_group or {}).get("Description")
                or getattr(self, "_prefix_list_description", None))

    SecurityGroupRule.__init__ = __init__  # type: ignore[method-assign]
    SecurityGroupRule.description = property(description)  # type: ignore[assignment,method-assign]


def apply() -> None:
    fix_duplicate_rule_ignores_description()
    fix_rule_description()
    fix_launch_templates()
