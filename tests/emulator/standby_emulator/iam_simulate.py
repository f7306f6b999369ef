"""IAM SimulatePrincipalPolicy (moto 5.2.5 does not implement it: HTTP 500).

AWS IAM API reference, SimulatePrincipalPolicy: evaluates the identity-based
policies of the user, group or role named by PolicySourceArn (inline and
attached managed policies; for a user also its groups' policies) against
each of ActionNames (ResourceArns default to "*"), and answers
EvaluationResults[{EvalActionName, EvalResourceName, EvalDecision
allowed|explicitDeny|implicitDeny, MatchedStatements, MissingContextValues}],
IsTruncated, Marker. An ARN that names no user/group/role -> 404
NoSuchEntity; an ARN of another kind (e.g. the account root) -> 400
InvalidInput.

Evaluation uses moto's own policy evaluator (moto.iam.access_control.IAMPolicy,
the code behind moto's optional request authorisation): Deny wins, then
Allow, else implicit deny. Conditions are not evaluated (the result then
lists no MissingContextValues); resource policies and permission boundaries
are not considered (the API does not either unless given).
"""

from moto.core.responses import ActionResult
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.iam.exceptions import InvalidInput
from moto.iam.responses import IamResponse


def _documents(backend, arn: str) -> list[str]:
    kind_name = arn.split(":", 5)[-1]
    kind, _, rest = kind_name.partition("/")
    name = rest.rsplit("/", 1)[-1]
    docs: list = []  # inline documents (JSON text) and managed policies

    def managed(policies: dict) -> None:
        docs.extend(policies.values())

    if kind == "role":
        role = backend.get_role(name)
        docs.extend(role.policies.values())
        managed(role.managed_policies)
    elif kind == "user":
        user = backend.get_user(name)
        docs.extend(user.policies.values())
        managed(user.managed_policies)
        for group in backend.get_groups_for_user(name):
            docs.extend(group.policies.values())
            managed(group.managed_policies)
    elif kind == "group":
        group = backend.get_group(name)
        docs.extend(group.policies.values())
        managed(group.managed_policies)
    else:
        raise InvalidInput(f"Invalid ARN {arn}: SimulatePrincipalPolicy takes a user, group or role ARN")
    return docs


def _decision(docs: list, action: str, resource: str) -> str:
    allowed = False
    for doc in docs:
        result = IAMPolicy(doc).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return "explicitDeny"
        if result == PermissionResult.PERMITTED:
            allowed = True
    return "allowed" if allowed else "implicitDeny"


def simulate_principal_policy(self) -> ActionResult:
    arn = self._get_param("PolicySourceArn")
    actions = self._get_param("ActionNames", [])
    resources = self._get_param("ResourceArns", []) or ["*"]
    docs = _documents(self.backend, arn)
    results = []
    for action in actions:
        for resource in resources:
            results.append({
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": _decision(docs, action, resource),
                "MatchedStatements": [],
                "MissingContextValues": [],
            })
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


def apply() -> None:
    IamResponse.simulate_principal_policy = simulate_principal_policy
