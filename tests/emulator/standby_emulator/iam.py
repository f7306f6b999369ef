"""IAM fixes (Query protocol, XML)."""

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


def apply() -> None:
    fix_create_role_validates_trust_policy()
