//! `aws_s3_bucket_versioning`: a bucket's versioning state. id = bucket name.
//! A bucket once versioned can only be suspended, never unversioned again.

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
    ],
};

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
        // Versioning cannot be removed, only suspended (as Terraform does).
        if get_str(prior, "status") != Some("Enabled") {
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
