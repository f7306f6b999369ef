"""OpenSearch Service configuration changes: which ones AWS makes with a
blue/green deployment, DryRun, and a record of every deployment.

AWS OpenSearch Service Developer Guide, "Making configuration changes in
Amazon OpenSearch Service" (managedomains-configuration-changes), Changes
that usually cause blue/green deployments: changing the instance type;
enabling fine-grained access control; enabling or disabling dedicated master
nodes; changing the storage type, volume type or volume size (a decrease
always, an increase only when the last volume change was under six hours
ago); enabling encryption at rest or node-to-node encryption; enabling the
publication of audit logs to CloudWatch; and (the 2024 guide) the data node
count of a domain without dedicated master nodes. Not: access policies, the
TLS policy, HTTPS enforcement, error and slow log publication, turning audit
log publication off, tags.

UpdateDomainConfig with DryRun=true changes nothing and answers
DryRunResults{DeploymentType: "Blue/Green" | "DynamicUpdate" | "None" |
"Undetermined", Message} (botocore opensearch UpdateDomainConfigRequest.DryRun,
DryRunResults). moto 5.2.5 ignores DryRun (it applies the change) and has no
notion of a deployment. Every real update's deployment type is recorded for
tests: GET /_emulator/opensearch/deployments.
"""

import json
import threading
from typing import Any

from moto.opensearch.responses import OpenSearchServiceResponse

LOCK = threading.RLock()
# (region, domain, deployment type, what caused it)
DEPLOYMENTS: list[dict] = []


def reset() -> None:
    with LOCK:
        DEPLOYMENTS.clear()


def _on(options: Any) -> bool | None:
    return options.get("Enabled") if isinstance(options, dict) else None


def deployment(domain: Any, params: dict) -> tuple[str, list[str]]:
    """The deployment type an update needs, and why."""
    why = []
    cc = domain.cluster_config or {}
    given = params.get("ClusterConfig") or {}
    if given.get("InstanceType") not in (None, cc.get("InstanceType")):
        why.append("changing the instance type")
    if "DedicatedMasterEnabled" in given and bool(given["DedicatedMasterEnabled"]) != bool(cc.get("DedicatedMasterEnabled")):
        why.append("enabling or disabling dedicated master nodes")
    if given.get("InstanceCount") not in (None, cc.get("InstanceCount")) and not cc.get("DedicatedMasterEnabled"):
        why.append("changing the data node count of a domain without dedicated master nodes")
    ebs, now = params.get("EBSOptions") or {}, domain.ebs_options or {}
    if ebs.get("VolumeType") not in (None, now.get("VolumeType")):
        why.append("changing the volume type")
    if ebs.get("VolumeSize") is not None and now.get("VolumeSize") is not None and int(ebs["VolumeSize"]) < int(now["VolumeSize"]):
        why.append("decreasing the EBS volume size")
    for key, attr, what in (("EncryptionAtRestOptions", "encryption_at_rest_options", "encryption at rest"),
                            ("NodeToNodeEncryptionOptions", "node_to_node_encryption_options",
                             "node-to-node encryption")):
        if _on(params.get(key)) is True and not _on(getattr(domain, attr, None)):
            why.append(f"enabling {what}")
    sec = params.get("AdvancedSecurityOptions") or {}
    if sec.get("Enabled") is True and not _on(domain.advanced_security_options):
        why.append("enabling fine-grained access control")
    logs = (params.get("LogPublishingOptions") or {}).get("AUDIT_LOGS") or {}
    had = ((domain.log_publishing_options or {}).get("AUDIT_LOGS") or {}).get("Enabled")
    if logs.get("Enabled") is True and not had:
        why.append("enabling the publication of audit logs to CloudWatch")
    if why:
        return "Blue/Green", why
    changes = [k for k in ("ClusterConfig", "EBSOptions", "AccessPolicies", "DomainEndpointOptions",
                           "LogPublishingOptions", "AdvancedSecurityOptions") if params.get(k) not in (None, {}, "")]
    return ("DynamicUpdate" if changes else "None"), changes


def fix_dry_run_and_deployments() -> None:
    """UpdateDomainConfig DryRun answers what the change would take and changes nothing."""
    original = OpenSearchServiceResponse.update_domain_config

    def update_domain_config(self: OpenSearchServiceResponse) -> str:
        name = self._get_param("DomainName")
        domain = self.opensearch_backend.domains.get(name)
        if domain is None:
            return original(self)
        params = {k: self._get_param(k) for k in ("ClusterConfig", "EBSOptions", "AccessPolicies",
                                                   "DomainEndpointOptions", "EncryptionAtRestOptions",
                                                   "NodeToNodeEncryptionOptions", "AdvancedSecurityOptions",
                                                   "LogPublishingOptions")}
        kind, why = deployment(domain, params)
        if self._get_param("DryRun"):
            message = (f"This change will require a blue/green deployment: {'; '.join(why)}."
                       if kind == "Blue/Green" else "This change will not require a blue/green deployment.")
            return json.dumps({"DomainConfig": domain.to_config_dict(),
                               "DryRunResults": {"DeploymentType": kind, "Message": message}})
        out = original(self)
        if kind != "None":
            with LOCK:
                DEPLOYMENTS.append({"region": self.region, "domain": name, "type": kind, "why": why})
        return out

    OpenSearchServiceResponse.update_domain_config = update_domain_config


def apply() -> None:
    fix_dry_run_and_deployments()
