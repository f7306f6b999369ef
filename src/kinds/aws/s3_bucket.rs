//! `aws_s3_bucket`: a general purpose bucket in the instance's region.
//! id = bucket name.

use super::{aws_error, get_str, hint, is_gone, put_reported, req_str, tags_of, tags_value};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier, Tag, Tagging};

pub struct S3Bucket;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("bucket", Type::String, "Bucket name, unique across all of AWS.").force_new(),
        Prop::optional(
            "force_destroy",
            Type::Bool,
            "On destroy, delete every object version first (default false: a bucket with objects is not destroyed).",
        ),
        Prop::optional(
            "tags",
            Type::Map(&Type::String),
            "Tags. On an adopted bucket, merged with the tags it has (unset: as found); destroy gives back the tags \
             it had. On a bucket standby made, unset means none.",
        )
        .or_computed(),
        crate::kinds::schema::P_UNLESS_ADOPTED,
        Prop::computed("arn", Type::String, "Bucket ARN, `arn:aws:s3:::<bucket>`."),
        Prop::computed("region", Type::String, "The AWS region the bucket lives in."),
    ],
};

const GONE: &[&str] = &["NoSuchBucket", "NotFound", "HTTP 404"];

pub fn arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// The bucket name in an S3 bucket ARN.
pub fn name_from_arn(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:aws:s3:::")
        .or_else(|| arn.strip_prefix("arn:aws-cn:s3:::"))
        .or_else(|| arn.strip_prefix("arn:aws-us-gov:s3:::"))
}

/// S3's naming rules for general purpose buckets; `None` when the name is fine.
pub fn name_problem(name: &str) -> Option<String> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let parts: Vec<&str> = name.split('.').collect();
    let problem = if !(3..=63).contains(&name.len()) {
        format!("must be 3–63 characters long, got {}", name.len())
    } else if let Some(c) = name.chars().find(|c| !ok_char(*c)) {
        format!("{c:?} is not allowed: use lowercase letters, digits, hyphens and dots")
    } else if !edge(name.chars().next()) || !edge(name.chars().last()) {
        "must start and end with a lowercase letter or digit".to_string()
    } else if name.contains("..") {
        "must not contain two adjacent dots".to_string()
    } else if parts.len() == 4 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
        "must not be formatted as an IP address".to_string()
    } else if let Some(p) = ["xn--", "sthree-", "amzn-s3-demo-"].iter().find(|p| name.starts_with(**p)) {
        format!("must not start with {p:?} (reserved by AWS)")
    } else if let Some(s) =
        ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].iter().find(|s| name.ends_with(**s))
    {
        format!("must not end with {s:?} (reserved by AWS)")
    } else {
        return None;
    };
    Some(format!("invalid bucket name {name:?}: {problem}"))
}

fn tagging(tags: impl IntoIterator<Item = (String, String)>) -> Result<Tagging, KindError> {
    let set = tags.into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect();
    Tagging::builder().set_tag_set(Some(set)).build().map_err(|e| KindError::Failed(e.to_string()))
}

async fn put_tags(cx: &Ctx<'_>, bucket: &str, desired: &Attrs) -> Result<(), KindError> {
    let s3 = cx.aws.s3(cx.region).await;
    let tags = tags_of(desired);
    if tags.is_empty() {
        s3.delete_bucket_tagging().bucket(bucket).send().await.map_err(|e| aws_error("DeleteBucketTagging", e))?;
    } else {
        s3.put_bucket_tagging()
            .bucket(bucket)
            .tagging(tagging(tags)?)
            .send()
            .await
            .map_err(|e| aws_error("PutBucketTagging", e))?;
    }
    Ok(())
}

/// Deletes every object version and delete marker, a page (≤1000) at a time.
async fn empty(cx: &Ctx<'_>, bucket: &str) -> Result<(), KindError> {
    let s3 = cx.aws.s3(cx.region).await;
    let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
    loop {
        let page = match s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if is_gone(&e, GONE) => return Ok(()),
            Err(e) => return Err(aws_error("ListObjectVersions", e)),
        };
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
        let ids: Vec<ObjectIdentifier> = versions
            .chain(markers)
            .filter_map(|(k, v)| ObjectIdentifier::builder().key(k?).set_version_id(v.map(str::to_string)).build().ok())
            .collect();
        for batch in ids.chunks(1000) {
            let delete = Delete::builder()
                .set_objects(Some(batch.to_vec()))
                .quiet(true)
                .build()
                .map_err(|e| KindError::Failed(e.to_string()))?;
            let out = s3
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| aws_error("DeleteObjects", e))?;
            // DeleteObjects reports per-key failures in a 200 answer.
            if let Some(err) = out.errors().first() {
                let (code, message) = (err.code().unwrap_or("Unknown").to_string(), err.message().unwrap_or_default());
                let message = format!(
                    "{} of {} deletions failed, first {:?}: {message}",
                    out.errors().len(),
                    batch.len(),
                    err.key()
                );
                return Err(KindError::Aws {
                    call: "DeleteObjects",
                    hint: hint("DeleteObjects", &code, &message),
                    code,
                    message,
                });
            }
        }
        if page.is_truncated() != Some(true) {
            return Ok(());
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
    }
}

#[async_trait]
impl Kind for S3Bucket {
    fn type_name(&self) -> &'static str {
        "aws_s3_bucket"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let Some(name) = get_str(props, "bucket") else {
            return Vec::new();
        };
        match name_problem(name) {
            Some(p) => vec![PropProblem::error("bucket", p)],
            // Virtual-hosted HTTPS certificates do not cover dotted names.
            None if name.contains('.') => {
                vec![PropProblem::warning(
                    "bucket",
                    "dots in bucket names break virtual-hosted-style HTTPS; prefer hyphens",
                )]
            }
            None => Vec::new(),
        }
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "bucket").map(str::to_string)
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match (prop, v) {
            // Unset means false.
            ("force_destroy", Value::Null) => Value::Bool(false),
            _ => v.clone(),
        }
    }

    /// Production's tags stay: those given are set beside them
    /// (PutBucketTagging replaces the whole set, so the set sent is the merge).
    fn merge_adopted(&self, prop: &str, want: &Value, have: &Value) -> Value {
        match (prop, want, have) {
            ("tags", Value::Map(w), Value::Map(h)) => {
                let mut m = h.clone();
                m.extend(w.iter().map(|(k, v)| (k.clone(), v.clone())));
                Value::Map(m)
            }
            _ => want.clone(),
        }
    }

    fn restorable(&self) -> &'static [&'static str] {
        &["tags"]
    }

    fn production_effect(
        &self,
        before: Option<&Attrs>,
        after: Option<&Attrs>,
        changed: &std::collections::BTreeSet<String>,
    ) -> Option<String> {
        let (before, after) = (before?, after?);
        if !changed.contains("tags") {
            return None;
        }
        let (old, new) = (tags_of(before), tags_of(after));
        let set: Vec<String> =
            new.iter().filter(|(k, v)| old.get(*k) != Some(v)).map(|(k, v)| format!("{k}={v}")).collect();
        let gone: Vec<&str> = old.keys().filter(|k| !new.contains_key(*k)).map(String::as_str).collect();
        Some(format!(
            "tags set: {}; removed: {} (PutBucketTagging replaces the whole set: the set sent keeps the bucket's \
             other tags)",
            if set.is_empty() { "none".to_string() } else { set.join(", ") },
            if gone.is_empty() { "none".to_string() } else { gone.join(", ") }
        ))
    }

    /// A bucket standby made has no tags but those configured: unset is
    /// none (removed), not as found.
    fn defaults_off_production(&self, planned: &mut Attrs) {
        planned.entry("tags".into()).or_insert(Value::Null);
    }

    fn derive(&self, planned: &mut Attrs) {
        let v = match planned.get("bucket") {
            Some(Value::String(b)) => Value::str(arn(b)),
            _ => Value::Unknown,
        };
        planned.insert("arn".into(), v);
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let bucket = req_str(desired, "bucket")?;
        let s3 = cx.aws.s3(cx.region).await;
        let mut req = s3.create_bucket().bucket(bucket);
        if cx.region == "us-east-1" {
            // us-east-1 answers 200 to re-creating a bucket you own; S3 says
            // BucketAlreadyOwnedByYou everywhere else. Ask first, to not adopt it silently.
            if s3.head_bucket().bucket(bucket).send().await.is_ok() {
                let (code, message) =
                    ("BucketAlreadyOwnedByYou".to_string(), format!("bucket {bucket} already exists in this account"));
                return Err(KindError::Aws {
                    call: "CreateBucket",
                    hint: hint("CreateBucket", &code, &message),
                    code,
                    message,
                });
            }
        } else {
            let location = BucketLocationConstraint::from(cx.region);
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder().location_constraint(location).build(),
            );
        }
        req.send().await.map_err(|e| aws_error("CreateBucket", e))?;
        if !tags_of(desired).is_empty()
            && let Err(e) = put_tags(cx, bucket, desired).await
        {
            // Take the new, empty bucket back so the next apply starts clean.
            let _ = s3.delete_bucket().bucket(bucket).send().await;
            return Err(e);
        }
        let mut attrs = desired.clone();
        attrs.insert("arn".into(), Value::str(arn(bucket)));
        attrs.insert("region".into(), Value::str(cx.region));
        Ok(Created { id: bucket.to_string(), attrs })
    }

    async fn wait_ready(&self, cx: &Ctx<'_>, id: &str) -> Result<(), KindError> {
        super::wait_exists(&format!("bucket {id}"), || async { Ok(self.read(cx, id, &Attrs::new()).await?.is_some()) })
            .await
    }

    // read: 2 calls (HeadBucket for existence and region, GetBucketTagging).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let s3 = cx.aws.s3(cx.region).await;
        let head = match s3.head_bucket().bucket(id).send().await {
            Ok(h) => h,
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(aws_error("HeadBucket", e)),
        };
        let tags = match s3.get_bucket_tagging().bucket(id).send().await {
            Ok(t) => t.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
            Err(e) if is_gone(&e, &["NoSuchTagSet"]) => Vec::new(),
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(aws_error("GetBucketTagging", e)),
        };
        let mut a = Attrs::new();
        a.insert("bucket".into(), Value::str(id));
        a.insert("arn".into(), Value::str(arn(id)));
        a.insert("region".into(), Value::str(head.bucket_region().unwrap_or(cx.region)));
        put_reported(&mut a, prior, "tags", tags_value(tags));
        // Not an AWS setting: carried over from the state.
        if let Some(f) = prior.get("force_destroy") {
            a.insert("force_destroy".into(), f.clone());
        }
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        // force_destroy is standby's alone: nothing to send. Unset tags are
        // as found on an adopted bucket (left as they are), none on one
        // standby made.
        let given = desired.get("tags").is_some_and(|t| !t.is_null());
        if (given || !cx.adopted) && tags_of(prior) != tags_of(desired) {
            put_tags(cx, id, desired).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        let force = prior.get("force_destroy").and_then(Value::as_bool).unwrap_or(false);
        let s3 = cx.aws.s3(cx.region).await;
        // Objects can land while emptying (writers, replication): a few rounds.
        let mut rounds = 0;
        loop {
            if force {
                empty(cx, id).await?;
            }
            match s3.delete_bucket().bucket(id).send().await {
                Ok(_) => return Ok(()),
                Err(e) if is_gone(&e, GONE) => return Ok(()),
                Err(e) if force && rounds < 3 && is_gone(&e, &["BucketNotEmpty"]) => rounds += 1,
                Err(e) => return Err(aws_error("DeleteBucket", e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "mattermost-dr-files-us-west-1", "a.b-c", "0start", &"a".repeat(63)] {
            assert_eq!(name_problem(ok), None, "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "Upper",
            "under_score",
            "-start",
            "end-",
            ".start",
            "a..b",
            "192.168.5.4",
            "xn--abc",
            "sthree-x",
            "bucket-s3alias",
            "bucket--ol-s3",
            "space here",
        ] {
            assert!(name_problem(bad).is_some(), "{bad}");
        }
        // Four groups that are not all digits are fine.
        assert_eq!(name_problem("192.168.5.x"), None);
    }

    #[test]
    fn validate_reports_on_bucket_and_warns_on_dots() {
        let props: Attrs = [("bucket".to_string(), Value::str("Bad"))].into();
        let p = S3Bucket.validate(&props);
        assert_eq!((p[0].prop.as_str(), p[0].warning), ("bucket", false));
        let props: Attrs = [("bucket".to_string(), Value::str("a.b.c"))].into();
        assert!(S3Bucket.validate(&props)[0].warning);
        let props: Attrs = [("bucket".to_string(), Value::Unknown)].into();
        assert!(S3Bucket.validate(&props).is_empty());
    }

    #[test]
    fn arn_is_derived_at_plan_time() {
        let mut planned: Attrs = [("bucket".to_string(), Value::str("mm-files"))].into();
        S3Bucket.derive(&mut planned);
        assert_eq!(planned["arn"], Value::str("arn:aws:s3:::mm-files"));
        assert_eq!(name_from_arn("arn:aws:s3:::mm-files"), Some("mm-files"));
    }
}
