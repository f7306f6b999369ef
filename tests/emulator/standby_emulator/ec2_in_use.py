"""DeleteSecurityGroup refuses a group an Aurora cluster or DB instance is in,
as AWS does: `DependencyViolation` ("resource sg-… has a dependent object";
EC2 API Reference, "Error codes for the Amazon EC2 API": DependencyViolation,
"The specified object has dependent resources"; the message as quoted for an
Aurora cluster's group in terraform-aws-modules/terraform-aws-rds-aurora#84).
moto deletes it. A drill puts
its database copy in a group of its own, and its cleanup must delete the copy
before that group (docs/drill.md, "The database's door")."""

from typing import Any


def _users(account_id: str, region: str, group_id: str) -> list[str]:
    from moto.rds.models import rds_backends

    backend = rds_backends[account_id][region]
    users = [f"DB cluster {c.db_cluster_identifier}" for c in backend.clusters.values()
             if group_id in (getattr(c, "vpc_security_group_ids", None) or [])]
    users += [f"DB instance {i.db_instance_identifier}" for i in backend.databases.values()
              if group_id in (getattr(i, "vpc_security_group_ids", None) or [])]
    return users


def apply() -> None:
    from moto.ec2.exceptions import DependencyViolationError
    from moto.ec2.models.security_groups import SecurityGroupBackend

    original = SecurityGroupBackend.delete_security_group

    def delete_security_group(self: Any, name: str | None = None, group_id: str | None = None) -> None:
        group = self.get_security_group_by_name_or_id(group_id or name) if (group_id or name) else None
        if group is not None and _users(self.account_id, self.region_name, group.id):
            raise DependencyViolationError(f"resource {group.id} has a dependent object")
        return original(self, name=name, group_id=group_id)

    SecurityGroupBackend.delete_security_group = delete_security_group
