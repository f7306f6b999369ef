"""S3 fixes (REST-XML)."""

from typing import Any

import xmltodict
from moto.core.responses import ActionResult
from moto.s3.exceptions import MalformedXML, ReplicationConfigurationNotFoundError
from moto.s3.responses import S3Response

# Members of ReplicationRule (and below) that are integers in the AWS model;
# xmltodict hands them to us as strings.
_INT_MEMBERS = {"Priority", "Minutes", "Days"}


def _plain(value: Any, key: str = "") -> Any:
    """xmltodict output -> the member layout botocore's serializer expects."""
    if value is None:  # <Prefix></Prefix> or <Prefix/>
        return ""
    if isinstance(value, list):
        return [_plain(v, key) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k.startswith("@"):  # xmlns and other attributes
                continue
            if key == "And" and k == "Tag":
                # ReplicationRuleAndOperator.Tags is a flattened list named <Tag>.
                out["Tags"] = _plain(v if isinstance(v, list) else [v], k)
            else:
                out[k] = _plain(v, k)
        return out
    if key in _INT_MEMBERS:
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    return value


def fix_get_bucket_replication() -> None:
    """GetBucketReplication returns the rules as they were stored.

    AWS S3 API reference, GetBucketReplication: the response is
    ReplicationConfiguration{Role, Rule*[ID, Priority, Prefix, Filter{Prefix |
    Tag | And{Prefix, Tag*}}, Status, SourceSelectionCriteria{
    SseKmsEncryptedObjects{Status}, ReplicaModifications{Status}},
    ExistingObjectReplication{Status}, Destination{Bucket, Account,
    StorageClass, AccessControlTranslation, EncryptionConfiguration,
    ReplicationTime, Metrics}, DeleteMarkerReplication{Status}]}; with no
    configuration: 404 ReplicationConfigurationNotFoundError.
    moto 5.2.5 rebuilds each rule from a fixed template (Filter Prefix "",
    DeleteMarkerReplication Disabled) and drops SourceSelectionCriteria.
    """

    def get_bucket_replication(self: S3Response) -> Any:
        self.data["Action"] = "GetBucketReplication"
        replication = self.backend.get_bucket_replication(self.bucket_name)
        if not replication:
            raise ReplicationConfigurationNotFoundError(bucket_name=self.bucket_name)
        rules = [_plain(rule) for rule in replication["Rule"]]
        return self.serialized(
            ActionResult(
                {"ReplicationConfiguration": {"Role": replication["Role"], "Rules": rules}}
            )
        )

    S3Response.get_bucket_replication = get_bucket_replication


def fix_put_bucket_versioning_status() -> None:
    """PutBucketVersioning accepts only Status Enabled or Suspended.

    AWS S3 API reference, PutBucketVersioning: VersioningConfiguration{Status:
    Enabled | Suspended, MfaDelete}; any other value is rejected with 400
    MalformedXML ("The XML you provided was not well-formed or did not validate
    against our published schema"). moto 5.2.5 stores any word as the status.
    """
    original = S3Response._bucket_response_put

    def _bucket_response_put(self, request, bucket_name, querystring):
        if "versioning" in querystring:
            try:
                doc = xmltodict.parse(self.body or b"")
                conf = doc.get("VersioningConfiguration") or {}
            except Exception:
                raise MalformedXML() from None
            if not isinstance(conf, dict):
                raise MalformedXML()
            status = conf.get("Status")
            if status is not None and status not in ("Enabled", "Suspended"):
                raise MalformedXML()
            mfa = conf.get("MfaDelete")
            if mfa is not None and mfa not in ("Enabled", "Disabled"):
                raise MalformedXML()
        return original(self, request, bucket_name, querystring)

    S3Response._bucket_response_put = _bucket_response_put


def apply() -> None:
    fix_get_bucket_replication()
    fix_put_bucket_versioning_status()
