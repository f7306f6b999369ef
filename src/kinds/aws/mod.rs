//! AWS resource kinds, and what they share: error mapping with hints, tags,
//! reading attributes, waiting for eventually consistent APIs.

pub mod cloudwatch_log_group;
pub mod cloudwatch_log_resource_policy;
pub mod iam_instance_profile;
pub mod iam_policy;
pub mod iam_role;
pub mod iam_role_policy;
pub mod iam_role_policy_attachment;
pub mod policy;
pub mod s3_batch_replication_job;
pub mod s3_bucket;
pub mod s3_bucket_public_access_block;
pub mod s3_bucket_replication;
pub mod s3_bucket_versioning;

use super::KindError;
use crate::value::{Attrs, Value};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// Maps a failed SDK call to a [`KindError::Aws`], with a hint for the usual causes.
pub(crate) fn aws_error<E>(call: &'static str, e: SdkError<E>) -> KindError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = match &e {
        SdkError::ServiceError(_) => {
            match (e.code(), e.raw_response().map(|r| r.status().as_u16())) {
                (Some(c), _) => c.to_string(),
                // A success status without a code: the answer could not be parsed.
                (None, Some(s)) if s < 300 => "UnparseableResponse".to_string(),
                // HEAD answers have no body, so no code: the status stands in.
                (None, s) => format!("HTTP {}", s.unwrap_or_default()),
            }
        }
        SdkError::TimeoutError(_) => "Timeout".to_string(),
        _ => "RequestFailed".to_string(),
    };
    let message = e.message().map(str::to_string).unwrap_or_else(|| chain(&e));
    let hint = hint(call, &code, &message);
    KindError::Aws { call, code, message, hint }
}

/// An error and its causes, without the SDK's debug dump of the response.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut next = e.source();
    while let Some(cause) = next {
        parts.push(cause.to_string());
        next = cause.source();
    }
    parts.join(": ")
}

/// The error code of a failed call, if the service sent one.
pub(crate) fn code_of<E: ProvideErrorMetadata>(e: &E) -> Option<&str> {
    e.code()
}

/// True when the call failed because the thing is not there.
pub(crate) fn is_gone<E: ProvideErrorMetadata>(e: &E, codes: &[&str]) -> bool {
    code_of(e).is_some_and(|c| codes.contains(&c))
}

/// Hints for the usual causes, in one place.
pub fn hint(call: &str, code: &str, message: &str) -> Option<String> {
    let h = match code {
        "AccessDenied" | "AccessDeniedException" | "HTTP 403" => {
            format!("the credentials in use lack `{}`; grant it, or run with credentials that have it", iam_action(call))
        }
        "BucketAlreadyExists" => {
            "bucket names are global across all AWS accounts and this one is taken: pick another (e.g. change the prefix)"
                .to_string()
        }
        "BucketAlreadyOwnedByYou" | "EntityAlreadyExists" => {
            crate::kinds::EXISTS_HINT.to_string()
        }
        "AuthorizationHeaderMalformed" | "PermanentRedirect" | "HTTP 301" | "IllegalLocationConstraintException" => {
            "region mismatch: the bucket lives in another region than the resource's `region:` (or the endpoint's)".to_string()
        }
        "MalformedPolicyDocument" | "MalformedPolicy" => format!(
            "AWS refused the `{}` document: check Version, Statement, Effect, Action, Resource/Principal",
            if matches!(call, "CreateRole" | "UpdateAssumeRolePolicy") { "assume_role_policy" } else { "policy" }
        ),
        "BucketNotEmpty" => "set `force_destroy: true` to delete every object version with the bucket".to_string(),
        "DeleteConflict" => "something outside standby still uses it (attached policies, instance profiles, versions)".to_string(),
        "LimitExceeded" => "an IAM quota was reached; remove unused roles, policies or versions".to_string(),
        "InvalidRequest" if message.to_lowercase().contains("versioning") => {
            "replication needs versioning Enabled on the source and destination buckets".to_string()
        }
        "NoSuchEntity" if call == "AttachRolePolicy" => "the role or the policy ARN does not exist".to_string(),
        "RequestFailed" | "Timeout" => "check the network, `AWS_ENDPOINT_URL` and the region".to_string(),
        _ => return None,
    };
    Some(h)
}

/// The IAM action a call needs (S3's differ from the operation names).
fn iam_action(call: &str) -> String {
    let s3 = match call {
        "HeadBucket" => "s3:ListBucket",
        "ListObjectVersions" => "s3:ListBucketVersions",
        "PutObject" => "s3:PutObject",
        "HeadObject" => "s3:GetObject",
        "DeleteObject" => "s3:DeleteObjectVersion",
        "DeleteObjects" => "s3:DeleteObjectVersion",
        "DeleteBucketTagging" => "s3:PutBucketTagging",
        "GetBucketReplication" => "s3:GetReplicationConfiguration",
        "PutBucketReplication" => "s3:PutReplicationConfiguration (and iam:PassRole on the role)",
        "DeleteBucketReplication" => "s3:PutReplicationConfiguration",
        "GetPublicAccessBlock" => "s3:GetBucketPublicAccessBlock",
        "GetBucketEncryption" => "s3:GetEncryptionConfiguration",
        // S3's reference: GetBucketLifecycleConfiguration needs s3:GetLifecycleConfiguration.
        "GetBucketLifecycleConfiguration" => "s3:GetLifecycleConfiguration",
        "ListObjectsV2" => "s3:ListBucket",
        "PutPublicAccessBlock" | "DeletePublicAccessBlock" => "s3:PutBucketPublicAccessBlock",
        "CreateBucket"
        | "DeleteBucket"
        | "GetBucketTagging"
        | "PutBucketTagging"
        | "GetBucketVersioning"
        | "PutBucketVersioning"
        | "GetBucketLocation"
        | "GetObject"
        | "CreateJob"
        | "DescribeJob"
        | "UpdateJobStatus" => return format!("s3:{call}"),
        "CreateLogGroup"
        | "DeleteLogGroup"
        | "DescribeLogGroups"
        | "PutRetentionPolicy"
        | "DeleteRetentionPolicy"
        | "AssociateKmsKey"
        | "DisassociateKmsKey"
        | "ListTagsForResource"
        | "TagResource"
        | "UntagResource"
        | "PutResourcePolicy"
        | "DescribeResourcePolicies"
        | "DeleteResourcePolicy" => return format!("logs:{call}"),
        _ => return format!("iam:{call}"),
    };
    s3.to_string()
}

/// Gets a string property; `None` when absent, null or not a string.
pub(crate) fn get_str<'a>(attrs: &'a Attrs, key: &str) -> Option<&'a str> {
    attrs.get(key).and_then(Value::as_str)
}

/// Gets a required string property (validated before apply).
pub(crate) fn req_str<'a>(attrs: &'a Attrs, key: &str) -> Result<&'a str, KindError> {
    get_str(attrs, key).ok_or_else(|| KindError::Failed(format!("`{key}` is not a known string")))
}

pub(crate) fn get_i64(attrs: &Attrs, key: &str) -> Option<i64> {
    attrs.get(key).and_then(Value::as_i64)
}

/// The `tags` property as string pairs.
pub(crate) fn tags_of(attrs: &Attrs) -> BTreeMap<String, String> {
    attrs
        .get("tags")
        .and_then(Value::as_map)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.to_interpolated()?))).collect())
        .unwrap_or_default()
}

pub(crate) fn tags_value(tags: impl IntoIterator<Item = (String, String)>) -> Value {
    Value::Map(tags.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

/// Records a reported map/string unless it is empty and was never set, so an
/// unset property and an empty AWS answer compare equal.
pub(crate) fn put_reported(out: &mut Attrs, prior: &Attrs, key: &str, v: Value) {
    let empty = match &v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::List(l) => l.is_empty(),
        _ => false,
    };
    if !empty || prior.get(key).is_some_and(|p| !p.is_null()) {
        out.insert(key.to_string(), v);
    }
}

/// Tags to set and keys to remove to go from `prior` to `desired`.
pub(crate) fn tag_changes(prior: &Attrs, desired: &Attrs) -> (BTreeMap<String, String>, Vec<String>) {
    let (old, new) = (tags_of(prior), tags_of(desired));
    let set = new.iter().filter(|(k, v)| old.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let remove = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
    (set, remove)
}

/// How long IAM's changes may take to reach other services (the AWS
/// provider's `propagationTimeout` for IAM and Auto Scaling: 2 minutes;
/// IAM User Guide, "Changes that I make are not always immediately visible").
pub(crate) const IAM_PROPAGATION: Duration = Duration::from_secs(120);

/// Repeats `call` while it fails with an IAM propagation error
/// (`propagating` says which), for up to [`IAM_PROPAGATION`], reporting
/// the wait; any other outcome is returned at once.
pub(crate) async fn while_propagating<T, F, Fut>(
    what: &str,
    propagating: impl Fn(&KindError) -> bool,
    mut call: F,
) -> Result<T, KindError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, KindError>>,
{
    let start = std::time::Instant::now();
    let mut delay = Duration::from_millis(500);
    loop {
        match call().await {
            Err(e) if propagating(&e) && start.elapsed() < IAM_PROPAGATION => {
                crate::kinds::report_status(format!("waiting for IAM to propagate {what}"));
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            other => return other,
        }
    }
}

/// True for an AWS error with this code whose message contains `text`.
pub(crate) fn error_says(e: &KindError, code: &str, text: &str) -> bool {
    matches!(e, KindError::Aws { code: c, message, .. } if c == code && message.contains(text))
}

/// Polls `exists` until it says yes. IAM and S3 are eventually consistent: a
/// resource just created can be invisible for a while, and the engine reads
/// it right after `wait_ready`. The operation's timeout bounds the wait.
pub(crate) async fn wait_exists<F, Fut>(what: &str, mut exists: F) -> Result<(), KindError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, KindError>>,
{
    let mut delay = Duration::from_millis(500);
    let limit = Duration::from_secs(120);
    let start = std::time::Instant::now();
    while !exists().await? {
        if start.elapsed() >= limit {
            return Err(KindError::Timeout { what: format!("{what} to become visible"), after: limit });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_cause() {
        let h = hint("CreateRole", "AccessDenied", "not authorized").unwrap();
        assert!(h.contains("iam:CreateRole"), "{h}");
        let h = hint("GetBucketReplication", "AccessDenied", "").unwrap();
        assert!(h.contains("s3:GetReplicationConfiguration"), "{h}");
        // The adoption plan's reads name S3's actions, not made-up IAM ones.
        let h = hint("GetBucketLifecycleConfiguration", "AccessDenied", "").unwrap();
        assert!(h.contains("`s3:GetLifecycleConfiguration`"), "{h}");
        assert!(hint("DescribeJob", "AccessDenied", "").unwrap().contains("`s3:DescribeJob`"));
        assert!(hint("CreateBucket", "BucketAlreadyExists", "").unwrap().contains("global"));
        assert!(hint("CreateBucket", "BucketAlreadyOwnedByYou", "").unwrap().contains("adopt"));
        assert!(hint("CreateRole", "EntityAlreadyExists", "").unwrap().contains("adopt"));
        for code in ["AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException"] {
            assert!(hint("CreateBucket", code, "").unwrap().contains("region"), "{code}");
        }
        assert!(hint("CreateRole", "MalformedPolicyDocument", "").unwrap().contains("assume_role_policy"));
        assert!(hint("PutRolePolicy", "MalformedPolicyDocument", "").unwrap().contains("`policy`"));
        assert!(hint("DeleteBucket", "BucketNotEmpty", "").unwrap().contains("force_destroy"));
        assert_eq!(hint("GetRole", "Throttling", ""), None);
    }

    #[test]
    fn reported_empty_values_are_omitted_unless_set() {
        let mut out = Attrs::new();
        put_reported(&mut out, &Attrs::new(), "description", Value::str(""));
        assert!(out.is_empty());
        let prior: Attrs = [("tags".to_string(), Value::Map(BTreeMap::new()))].into();
        put_reported(&mut out, &prior, "tags", Value::Map(BTreeMap::new()));
        assert_eq!(out.get("tags"), Some(&Value::Map(BTreeMap::new())));
    }

    #[test]
    fn tag_changes_split_set_and_remove() {
        let prior: Attrs =
            [("tags".to_string(), tags_value([("a".into(), "1".into()), ("b".into(), "2".into())]))].into();
        let desired: Attrs =
            [("tags".to_string(), tags_value([("a".into(), "1".into()), ("c".into(), "3".into())]))].into();
        let (set, remove) = tag_changes(&prior, &desired);
        assert_eq!(set, [("c".to_string(), "3".to_string())].into());
        assert_eq!(remove, vec!["b".to_string()]);
    }
}
