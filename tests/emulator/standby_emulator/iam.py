"""IAM fixes (Query protocol, XML)."""

from moto.iam.exceptions import NotFoundException
from moto.iam.models import IAMBackend
from moto.iam.policy_validation import IAMTrustPolicyDocumentValidator


def fix_create_role_validates_trust_policy() -> None:
    """CreateRole validates AssumeRolePolicyDocument like UpdateAssumeRolePolicy.

    AWS IAM API reference, CreateRole: errors include MalformedPolicyDocument
    (HTTP 400, "The request was rejected because the policy document was
    malformed"). moto 5.2.5 validates trust policies in UpdateAssumeRolePolicy
    and identity policies in PutRolePolicy / CreatePolicy / CreatePolicyVersion,
    but CreateRole stores any string, even one that is not JSON.
    """
    original = IAMBackend.create_role

    def create_role(self, role_name, assume_role_policy_document, *args, **kwargs):
        IAMTrustPolicyDocumentValidator(assume_role_policy_document).validate()
        return original(self, role_name, assume_role_policy_document, *args, **kwargs)

    IAMBackend.create_role = create_role


def fix_remove_role_not_in_profile() -> None:
    """RemoveRoleFromInstanceProfile of a role the profile does not hold
    answers NoSuchEntity (IAM API reference, RemoveRoleFromInstanceProfile
    errors: "NoSuchEntity: The request was rejected because it referenced a
    resource entity that does not exist"); moto 5.2.5 fails with HTTP 500
    (ValueError from list.remove), which a repeated call after a lost
    answer meets.
    """
    original = IAMBackend.remove_role_from_instance_profile

    def remove_role_from_instance_profile(self, profile_name, role_name):
        profile = self.get_instance_profile(profile_name)
        if not any(r.name == role_name for r in profile.roles):
            raise NotFoundException(f"The role with name {role_name} is not in instance profile {profile_name}.")
        return original(self, profile_name, role_name)

    IAMBackend.remove_role_from_instance_profile = remove_role_from_instance_profile


def apply() -> None:
    fix_create_role_validates_trust_policy()
    fix_remove_role_not_in_profile()
