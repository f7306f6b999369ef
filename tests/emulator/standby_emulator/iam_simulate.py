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

Evaluation: a statement applies when its Action (or NotAction) and
Resource match (wildcards, actions case-insensitive; moto's matcher) and
every key of its Condition holds for the request's ContextEntries
(`ContextEntries.member.N.{ContextKeyName,ContextKeyValues,ContextKeyType}`).
Deny wins, then Allow, else implicitDeny. A condition key the request does
not give makes the statement not apply and is listed in the result's
MissingContextValues (IAM API reference, SimulatePrincipalPolicy: "To get
the list of context keys that the policies require for correct simulation,
use GetContextKeysForPrincipalPolicy"; EvaluationResult.MissingContextValues:
"A list of context keys that are required by the included input policies
but that were not provided by one of the input parameters"). Operators:
StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringLike,
StringNotLike (`*`, `?`), with the IfExists suffix; any other operator
never holds. Resource policies and permission boundaries are not considered
(the API does not either unless given).
"""

import fnmatch

from moto.core.responses import ActionResult
from moto.iam.access_control import IAMPolicy, IAMPolicyStatement
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


def _statements(doc) -> list[dict]:
    """A policy's statements; `doc` is inline JSON text or a managed policy."""
    policy = IAMPolicy(doc)._policy_json  # moto's reading of either form
    statements = policy.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


_STRING_OPS = {
    "StringEquals": lambda want, got: got in want,
    "StringNotEquals": lambda want, got: got not in want,
    "StringEqualsIgnoreCase": lambda want, got: got.lower() in [w.lower() for w in want],
    "StringLike": lambda want, got: any(fnmatch.fnmatchcase(got, w) for w in want),
    "StringNotLike": lambda want, got: not any(fnmatch.fnmatchcase(got, w) for w in want),
}


def _condition(statement: dict, context: dict[str, list[str]], missing: set) -> bool:
    """Whether the statement's Condition holds; keys not given go to `missing`."""
    holds = True
    for operator, keys in (statement.get("Condition") or {}).items():
        if_exists = operator.endswith("IfExists")
        test = _STRING_OPS.get(operator.removesuffix("IfExists"))
        for key, want in keys.items():
            want = want if isinstance(want, list) else [want]
            got = context.get(key.lower())
            if got is None:
                if not if_exists:
                    missing.add(key)
                    holds = False
                continue
            if test is None or not any(test(want, g) for g in got):
                holds = False
    return holds


def _decision(docs: list, action: str, resource: str, context: dict[str, list[str]]) -> tuple[str, list[str]]:
    allowed = False
    missing: set = set()
    for doc in docs:
        for statement in _statements(doc):
            matcher = IAMPolicyStatement(statement)
            element = "NotAction" if "NotAction" in statement else "Action"
            matches = matcher._check_element_matches(element, action)
            if element == "NotAction":
                matches = not matches
            if not matches or not matcher._check_element_matches("Resource", resource):
                continue
            if not _condition(statement, context, missing):
                continue
            if statement.get("Effect") == "Deny":
                return "explicitDeny", []
            allowed = True
    if allowed:
        return "allowed", []
    return "implicitDeny", sorted(missing)


def _context(self) -> dict[str, list[str]]:
    """ContextEntries as {lowercased key name: values}."""
    out: dict[str, list[str]] = {}
    for entry in self._get_param("ContextEntries", []) or []:
        name = entry.get("ContextKeyName", "")
        values = entry.get("ContextKeyValues") or []
        if isinstance(values, dict):
            values = list(values.values())
        out[name.lower()] = [str(v) for v in values]
    return out


def simulate_principal_policy(self) -> ActionResult:
    arn = self._get_param("PolicySourceArn")
    actions = self._get_param("ActionNames", [])
    resources = self._get_param("ResourceArns", []) or ["*"]
    context = _context(self)
    docs = _documents(self.backend, arn)
    results = []
    for action in actions:
        for resource in resources:
            decision, missing = _decision(docs, action, resource, context)
            results.append({
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": decision,
                "MatchedStatements": [],
                "MissingContextValues": missing,
            })
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


def apply() -> None:
    IamResponse.simulate_principal_policy = simulate_principal_policy
