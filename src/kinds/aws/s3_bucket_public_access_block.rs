//! `aws_s3_bucket_public_access_block`: a bucket's S3 Block Public Access
//! settings. id = bucket name.
//!
//! Secure by default on a bucket standby makes: each of the four settings
//! is `true` unless given (the AWS provider defaults them to `false`; AWS
//! itself turns all four on for buckets created since April 2023). On an
//! adopted bucket an unset setting is as found: replication does not need
//! them, and `IgnorePublicAcls`/`RestrictPublicBuckets` would cut off the
//! public or cross-account access production may grant by ACL or policy
//! (botocore `PublicAccessBlockConfiguration`). Put replaces all four at
//! once, so repeating it after a lost answer is harmless.
//!
//! What the bucket had before is read before the create and kept
//! (`previous_configuration`, written ahead): destroy puts it back, and
//! removes the bucket's configuration (the account-level settings then
//! apply) only when there was none before standby.

use super::{aws_error, get_str, is_gone, req_str, s3_bucket};
use crate::kinds::schema::{Prop, ProviderName, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_s3::types::PublicAccessBlockConfiguration;

pub struct S3BucketPublicAccessBlock;

/// The four settings, in the provider's (and this kind's) names.
const SETTINGS: [&str; 4] =
    ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"];

/// No default here: off production the plan already holds `true` for an
/// unset setting ([`Kind::defaults_off_production`]); on an adopted bucket
/// it is as found, unknown until apply reads it, and the JSON plan says
/// unknown rather than a `true` policy tools would pass.
static PROVIDER_NAMES: [ProviderName; 4] = [
    ProviderName::new("block_public_acls", "block_public_acls"),
    ProviderName::new("block_public_policy", "block_public_policy"),
    ProviderName::new("ignore_public_acls", "ignore_public_acls"),
    ProviderName::new("restrict_public_buckets", "restrict_public_buckets"),
];

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("bucket", Type::String, "Bucket name.").force_new(),
        Prop::optional(
            "block_public_acls",
            Type::Bool,
            "Refuse new public ACLs on the bucket and its objects (default true; on an adopted bucket, as found).",
        )
        .or_computed(),
        Prop::optional(
            "block_public_policy",
            Type::Bool,
            "Refuse bucket policies that grant public access (default true; on an adopted bucket, as found).",
        )
        .or_computed(),
        Prop::optional(
            "ignore_public_acls",
            Type::Bool,
            "Ignore public ACLs already present (default true; on an adopted bucket, as found).",
        )
        .or_computed(),
        Prop::optional(
            "restrict_public_buckets",
            Type::Bool,
            "Only AWS services and the bucket owner's account may use a public bucket policy (default true; on an \
             adopted bucket, as found).",
        )
        .or_computed(),
        Prop::computed(
            "previous_configuration",
            Type::Map(&Type::Bool),
            "The bucket's four settings before standby (null: none), read before the create; destroy puts them back.",
        ),
    ],
};

/// The four settings as a map, from attributes that have them.
fn settings_of(attrs: &Attrs) -> Value {
    Value::Map(SETTINGS.iter().map(|k| (k.to_string(), Value::Bool(setting(attrs, k)))).collect())
}

/// A setting as planned: unset means `true`.
fn setting(attrs: &Attrs, key: &str) -> bool {
    attrs.get(key).and_then(Value::as_bool).unwrap_or(true)
}

/// The four settings to put: as given, else as the bucket had them before
/// (`previous_configuration`; an adopted bucket's as found), else off, as S3
/// applies a bucket without a configuration.
fn effective(desired: &Attrs) -> Attrs {
    let found = match desired.get("previous_configuration") {
        Some(Value::Map(m)) => m.clone(),
        _ => Attrs::new(),
    };
    SETTINGS
        .iter()
        .map(|k| {
            let v = desired.get(*k).and_then(Value::as_bool).or_else(|| found.get(*k).and_then(Value::as_bool));
            (k.to_string(), Value::Bool(v.unwrap_or(false)))
        })
        .collect()
}

async fn put(cx: &Ctx<'_>, bucket: &str, desired: &Attrs) -> Result<(), KindError> {
    let conf = PublicAccessBlockConfiguration::builder()
        .block_public_acls(setting(desired, "block_public_acls"))
        .block_public_policy(setting(desired, "block_public_policy"))
        .ignore_public_acls(setting(desired, "ignore_public_acls"))
        .restrict_public_buckets(setting(desired, "restrict_public_buckets"))
        .build();
    cx.aws
        .s3(cx.region)
        .await
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(conf)
        .send()
        .await
        .map_err(|e| aws_error("PutPublicAccessBlock", e))?;
    Ok(())
}

#[async_trait]
impl Kind for S3BucketPublicAccessBlock {
    fn type_name(&self) -> &'static str {
        "aws_s3_bucket_public_access_block"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn provider_names(&self) -> &'static [ProviderName] {
        &PROVIDER_NAMES
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if let Some(p) = get_str(props, "bucket").and_then(s3_bucket::name_problem) {
            out.push(PropProblem::error("bucket", p));
        }
        out
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match (prop, v) {
            (p, Value::Null) if SETTINGS.contains(&p) => Value::Bool(true),
            _ => v.clone(),
        }
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "bucket").map(str::to_string)
    }

    fn kept(&self) -> &'static [&'static str] {
        &["previous_configuration"]
    }

    /// On a bucket standby makes, unset settings are on.
    fn defaults_off_production(&self, planned: &mut Attrs) {
        for k in SETTINGS {
            planned.entry(k.to_string()).or_insert(Value::Bool(true));
        }
    }

    fn acts_on(&self, props: &Attrs) -> Option<crate::kinds::Target> {
        get_str(props, "bucket").map(|b| crate::kinds::Target::new("aws_s3_bucket", "bucket", b))
    }

    /// What the bucket has now: written ahead as `previous_configuration`.
    async fn before_create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Attrs, KindError> {
        let now = self.read(cx, req_str(desired, "bucket")?, desired).await?;
        Ok([("previous_configuration".to_string(), now.as_ref().map(settings_of).unwrap_or(Value::Null))].into())
    }

    fn production_effect(
        &self,
        before: Option<&Attrs>,
        after: Option<&Attrs>,
        _changed: &std::collections::BTreeSet<String>,
    ) -> Option<String> {
        let given = |a: &Attrs| -> Vec<String> {
            SETTINGS.iter().filter_map(|k| a.get(*k).and_then(Value::as_bool).map(|v| format!("{k}={v}"))).collect()
        };
        let list = |a: &Attrs| given(a).join(", ");
        Some(match (before, after) {
            // Nothing given: as found, nothing changes on production.
            (None, Some(a)) if given(a).is_empty() => return None,
            (None, Some(a)) => format!(
                "sets the bucket's Block Public Access to {} (the others as found; if it has those already, nothing \
                 changes); destroy puts back what it had",
                list(a)
            ),
            (Some(b), None) => self.delete_effect(b)?,
            (Some(_), Some(a)) => format!("sets the bucket's Block Public Access to {}", list(a)),
            (None, None) => return None,
        })
    }

    fn delete_effect(&self, prior: &Attrs) -> Option<String> {
        match prior.get("previous_configuration") {
            Some(Value::Map(m)) => Some(format!(
                "puts back the Block Public Access settings the bucket had before standby ({})",
                m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
            )),
            Some(_) => Some(
                "removes the bucket's Block Public Access configuration, which it did not have before standby (the \
                 account-level settings still apply)"
                    .into(),
            ),
            // Recorded by an earlier standby: what the bucket had is unknown.
            None => Some("removes the bucket's Block Public Access configuration".into()),
        }
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let bucket = req_str(desired, "bucket")?;
        let mut attrs = desired.clone();
        attrs.extend(effective(desired));
        put(cx, bucket, &attrs).await?;
        Ok(Created { id: bucket.to_string(), attrs })
    }

    // read: 1 call (GetPublicAccessBlock).
    async fn read(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let out = match cx.aws.s3(cx.region).await.get_public_access_block().bucket(id).send().await {
            Ok(out) => out,
            // No configuration on the bucket: nothing to manage (as the provider reads it).
            Err(e) if is_gone(&e, &["NoSuchBucket", "NoSuchPublicAccessBlockConfiguration"]) => return Ok(None),
            Err(e) => return Err(aws_error("GetPublicAccessBlock", e)),
        };
        let Some(c) = out.public_access_block_configuration() else { return Ok(None) };
        let mut a: Attrs = [("bucket".to_string(), Value::str(id))].into();
        // An omitted setting is off, as S3 applies it.
        for (k, v) in [
            ("block_public_acls", c.block_public_acls()),
            ("block_public_policy", c.block_public_policy()),
            ("ignore_public_acls", c.ignore_public_acls()),
            ("restrict_public_buckets", c.restrict_public_buckets()),
        ] {
            a.insert(k.to_string(), Value::Bool(v.unwrap_or(false)));
        }
        Ok(Some(a))
    }

    /// What the configuration leaves unset stays as it is now, read at apply
    /// time: the put replaces all four, and a security team may have changed
    /// one since the plan (none there: all off, as S3 applies it). Off
    /// production every setting is given.
    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let base = match self.read(cx, id, prior).await? {
            Some(now) => now,
            None => SETTINGS.iter().map(|k| (k.to_string(), Value::Bool(false))).collect(),
        };
        let mut conf: Attrs =
            SETTINGS.iter().filter_map(|k| base.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
        conf.extend(
            SETTINGS
                .iter()
                .filter_map(|k| desired.get(*k).filter(|v| v.as_bool().is_some()).map(|v| (k.to_string(), v.clone()))),
        );
        put(cx, id, &conf).await
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        if let Some(Value::Map(found)) = prior.get("previous_configuration") {
            let found: Attrs = found.clone();
            return match put(cx, id, &found).await {
                Err(KindError::Aws { code, .. }) if code == "NoSuchBucket" => Ok(()),
                other => other,
            };
        }
        match cx.aws.s3(cx.region).await.delete_public_access_block().bucket(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_gone(&e, &["NoSuchBucket", "NoSuchPublicAccessBlockConfiguration"]) => Ok(()),
            Err(e) => Err(aws_error("DeletePublicAccessBlock", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_settings_are_on() {
        assert_eq!(S3BucketPublicAccessBlock.normalize("block_public_acls", &Value::Null), Value::Bool(true));
        assert_eq!(S3BucketPublicAccessBlock.normalize("block_public_acls", &Value::Bool(false)), Value::Bool(false));
        assert_eq!(S3BucketPublicAccessBlock.normalize("bucket", &Value::Null), Value::Null);
        assert!(setting(&Attrs::new(), "restrict_public_buckets"));
        let bad: Attrs = [("bucket".to_string(), Value::str("B_ad"))].into();
        assert_eq!(S3BucketPublicAccessBlock.validate(&bad)[0].prop, "bucket");
    }
}
