//! `aws_s3_bucket_versioning`: a bucket's versioning state. id = bucket name.
//! A bucket once versioned can only be suspended, never unversioned again
//! (S3 User Guide, Versioning.md: "After you version-enable a bucket, it can
//! never return to an unversioned state").
//!
//! The status the bucket had before is read before the create and kept
//! (`previous_status`, written ahead); destroy leaves a bucket that was
//! versioned before as it is and suspends one that was not (the closest S3
//! allows), and the destroy plan says so.

use super::{aws_error, get_str, is_gone, req_str, s3_bucket};
use crate::kinds::schema::{Prop, ProviderName, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

pub struct S3BucketVersioning;

static PROVIDER_NAMES: [ProviderName; 1] = [ProviderName::new("status", "versioning_configuration.status")];

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("bucket", Type::String, "Bucket name.").force_new(),
        Prop::required("status", Type::String, "`Enabled` or `Suspended`."),
        Prop::computed(
            "previous_status",
            Type::String,
            "The bucket's versioning before standby (Enabled, Suspended, or null: never versioned), read before the \
             create; destroy goes back to it as far as S3 allows.",
        ),
    ],
};

/// The status before standby, as recorded (`None`: never versioned).
fn previous(prior: &Attrs) -> Option<&str> {
    get_str(prior, "previous_status")
}

const STATUSES: &[&str] = &["Enabled", "Suspended"];

async fn put(cx: &Ctx<'_>, bucket: &str, status: &str) -> Result<(), KindError> {
    let conf = VersioningConfiguration::builder().status(BucketVersioningStatus::from(status)).build();
    cx.aws
        .s3(cx.region)
        .await
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(conf)
        .send()
        .await
        .map_err(|e| aws_error("PutBucketVersioning", e))?;
    Ok(())
}

#[async_trait]
impl Kind for S3BucketVersioning {
    fn type_name(&self) -> &'static str {
        "aws_s3_bucket_versioning"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    /// The AWS provider nests the status in a block.
    fn provider_names(&self) -> &'static [ProviderName] {
        &PROVIDER_NAMES
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if let Some(p) = get_str(props, "bucket").and_then(s3_bucket::name_problem) {
            out.push(PropProblem::error("bucket", p));
        }
        if let Some(s) = get_str(props, "status")
            && !STATUSES.contains(&s)
        {
            out.push(PropProblem::error("status", format!("must be `Enabled` or `Suspended`, got {s:?}")));
        }
        out
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "bucket").map(str::to_string)
    }

    fn kept(&self) -> &'static [&'static str] {
        &["previous_status"]
    }

    fn acts_on(&self, props: &Attrs) -> Option<crate::kinds::Target> {
        get_str(props, "bucket").map(|b| crate::kinds::Target::new("aws_s3_bucket", "bucket", b))
    }

    /// The status the bucket has now: written ahead as `previous_status`.
    async fn before_create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Attrs, KindError> {
        let now = self.read(cx, req_str(desired, "bucket")?, desired).await?;
        let status = now.as_ref().and_then(|a| a.get("status").cloned()).unwrap_or(Value::Null);
        Ok([("previous_status".to_string(), status)].into())
    }

    fn production_effect(
        &self,
        before: Option<&Attrs>,
        after: Option<&Attrs>,
        _changed: &std::collections::BTreeSet<String>,
    ) -> Option<String> {
        // botocore PutBucketVersioning: "When you enable versioning on a bucket
        // for the first time ... intermittent HTTP 404 NoSuchKey errors ... wait
        // for 15 minutes after enabling versioning before issuing write operations".
        Some(match (before, after) {
            (None, Some(a)) if get_str(a, "status") == Some("Enabled") => {
                "turns versioning on (replication needs it), for good: S3 can later suspend it but never return the \
                 bucket to unversioned; a deleted or overwritten object then keeps its earlier versions, which take \
                 storage until a lifecycle rule expires them (an expiration rule for current objects no longer frees \
                 the space). If the bucket is versioned already, nothing changes. Turned on for the first time, \
                 it takes S3 a while to propagate: for about 15 minutes, reads of objects written meanwhile can \
                 fail now and then with 404 NoSuchKey, and AWS advises no writes (PUT or DELETE) until then: apply \
                 in a quiet period"
                    .into()
            }
            (None, Some(a)) => format!("sets versioning to {}", get_str(a, "status").unwrap_or("?")),
            (Some(b), None) => self.delete_effect(b)?,
            (Some(_), Some(a)) => format!("sets versioning to {}", get_str(a, "status").unwrap_or("?")),
            (None, None) => return None,
        })
    }

    fn delete_effect(&self, prior: &Attrs) -> Option<String> {
        if !prior.contains_key("previous_status") {
            // Recorded by an earlier standby: what the bucket had is unknown.
            return (get_str(prior, "status") == Some("Enabled"))
                .then(|| "versioning is suspended (S3 cannot make a bucket unversioned again)".into());
        }
        Some(match previous(prior) {
            Some("Enabled") => "the bucket was versioned before standby: versioning stays on".into(),
            _ if get_str(prior, "status") != Some("Enabled") => "versioning is left as it is".into(),
            Some(_) => "versioning goes back to Suspended, as before standby".into(),
            None => "versioning is suspended: S3 cannot make a bucket unversioned again, so it stays versioned-but-\
                     suspended (not as before standby); the versions kept meanwhile stay until deleted"
                .into(),
        })
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let bucket = req_str(desired, "bucket")?;
        put(cx, bucket, req_str(desired, "status")?).await?;
        Ok(Created { id: bucket.to_string(), attrs: desired.clone() })
    }

    // read: 1 call (GetBucketVersioning).
    async fn read(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let out = match cx.aws.s3(cx.region).await.get_bucket_versioning().bucket(id).send().await {
            Ok(out) => out,
            Err(e) if is_gone(&e, &["NoSuchBucket"]) => return Ok(None),
            Err(e) => return Err(aws_error("GetBucketVersioning", e)),
        };
        let mut a: Attrs = [("bucket".to_string(), Value::str(id))].into();
        // A never-versioned bucket reports no status: the diff then asks to set it.
        if let Some(s) = out.status() {
            a.insert("status".into(), Value::str(s.as_str()));
        }
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        put(cx, id, req_str(desired, "status")?).await
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        // Versioning cannot be removed, only suspended (as Terraform does);
        // a bucket that was versioned before standby stays so.
        if get_str(prior, "status") != Some("Enabled") || previous(prior) == Some("Enabled") {
            return Ok(());
        }
        match put(cx, id, "Suspended").await {
            Err(KindError::Aws { code, .. }) if code == "NoSuchBucket" => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_must_be_enabled_or_suspended() {
        let bad: Attrs =
            [("bucket".to_string(), Value::str("b-1")), ("status".to_string(), Value::str("Disabled"))].into();
        assert_eq!(S3BucketVersioning.validate(&bad)[0].prop, "status");
        let ok: Attrs =
            [("bucket".to_string(), Value::str("b-1")), ("status".to_string(), Value::str("Enabled"))].into();
        assert!(S3BucketVersioning.validate(&ok).is_empty());
    }
}
