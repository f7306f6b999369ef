//! `aws_iam_policy`: a customer-managed policy. id = policy ARN. A document
//! change is a new default version; IAM keeps at most 5 versions.

use super::iam_role::{check_document, check_iam_name, check_path};
use super::{aws_error, get_str, is_gone, policy, put_reported, req_str, tag_changes, tags_of, tags_value};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_iam::types::{PolicyVersion, Tag};

pub struct IamPolicy;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("name", Type::String, "Policy name.").force_new(),
        // No IAM call changes a policy's path or description.
        Prop::optional("path", Type::String, "Path, `/` unless set.").or_computed().force_new(),
        Prop::optional("description", Type::String, "Description.").force_new(),
        Prop::required("policy", Type::Json, "Policy document."),
        Prop::optional("tags", Type::Map(&Type::String), "Tags."),
        Prop::computed("arn", Type::String, "Policy ARN."),
        Prop::computed("policy_id", Type::String, "Stable unique id (ANPA…)."),
        Prop::computed("default_version_id", Type::String, "The version in force (v1, v2, …)."),
    ],
};

const MAX_VERSIONS: usize = 5;

fn tags(set: impl IntoIterator<Item = (String, String)>) -> Vec<Tag> {
    set.into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

async fn versions(cx: &Ctx<'_>, arn: &str) -> Result<Vec<PolicyVersion>, KindError> {
    // At most 5 versions exist, so one page holds them all.
    let out = cx
        .aws
        .iam()
        .await
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| aws_error("ListPolicyVersions", e))?;
    Ok(out.versions().to_vec())
}

async fn delete_version(cx: &Ctx<'_>, arn: &str, version: &str) -> Result<(), KindError> {
    match cx.aws.iam().await.delete_policy_version().policy_arn(arn).version_id(version).send().await {
        Ok(_) => Ok(()),
        Err(e) if is_gone(&e, &["NoSuchEntity"]) => Ok(()),
        Err(e) => Err(aws_error("DeletePolicyVersion", e)),
    }
}

/// `v12` → 12, to order versions when dates are equal.
fn version_number(v: &PolicyVersion) -> u64 {
    v.version_id().and_then(|s| s.trim_start_matches('v').parse().ok()).unwrap_or(0)
}

#[async_trait]
impl Kind for IamPolicy {
    fn type_name(&self) -> &'static str {
        "aws_iam_policy"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        check_iam_name("name", props.get("name"), 128, &mut out);
        check_path(props.get("path"), &mut out);
        check_document("policy", props.get("policy"), &mut out);
        out
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        if prop == "policy" { policy::normalize(v) } else { v.clone() }
    }

    /// The natural key: path and name (the ARN follows from them and the account).
    fn finds_by_natural_key(&self) -> bool {
        true
    }

    // find: 1 call per 100 customer-managed policies under the path (ListPolicies).
    async fn find(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Option<String>, KindError> {
        let Some(name) = get_str(desired, "name") else { return Ok(None) };
        let path = get_str(desired, "path").unwrap_or("/");
        let mut pages = cx
            .aws
            .iam()
            .await
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .path_prefix(path)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("ListPolicies", e))?;
            if let Some(p) = page.policies().iter().find(|p| p.policy_name() == Some(name) && p.path() == Some(path)) {
                return Ok(p.arn().map(str::to_string));
            }
        }
        Ok(None)
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let name = req_str(desired, "name")?;
        let tag_list = tags(tags_of(desired));
        let out = cx
            .aws
            .iam()
            .await
            .create_policy()
            .policy_name(name)
            .set_path(get_str(desired, "path").map(str::to_string))
            .set_description(get_str(desired, "description").map(str::to_string))
            .policy_document(desired.get("policy").map(policy::to_json_string).unwrap_or_default())
            .set_tags(Some(tag_list).filter(|t| !t.is_empty()))
            .send()
            .await
            .map_err(|e| aws_error("CreatePolicy", e))?;
        let p = out.policy().ok_or_else(|| KindError::Failed("CreatePolicy returned no policy".into()))?;
        let arn = p.arn().ok_or_else(|| KindError::Failed("CreatePolicy returned no ARN".into()))?.to_string();
        let mut attrs = desired.clone();
        attrs.insert("arn".into(), Value::str(&arn));
        for (k, v) in [("policy_id", p.policy_id()), ("default_version_id", p.default_version_id()), ("path", p.path())]
        {
            if let Some(v) = v {
                attrs.insert(k.into(), Value::str(v));
            }
        }
        Ok(Created { id: arn, attrs })
    }

    async fn wait_ready(&self, cx: &Ctx<'_>, id: &str) -> Result<(), KindError> {
        super::wait_exists(&format!("policy {id}"), || async { Ok(self.read(cx, id, &Attrs::new()).await?.is_some()) })
            .await
    }

    // read: 2 calls (GetPolicy with tags, GetPolicyVersion for the default document).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let iam = cx.aws.iam().await;
        let out = match iam.get_policy().policy_arn(id).send().await {
            Ok(out) => out,
            Err(e) if is_gone(&e, &["NoSuchEntity"]) => return Ok(None),
            Err(e) => return Err(aws_error("GetPolicy", e)),
        };
        let Some(p) = out.policy() else {
            return Ok(None);
        };
        let mut a = Attrs::new();
        a.insert("arn".into(), Value::str(id));
        for (k, v) in [
            ("name", p.policy_name()),
            ("path", p.path()),
            ("policy_id", p.policy_id()),
            ("default_version_id", p.default_version_id()),
        ] {
            if let Some(v) = v {
                a.insert(k.into(), Value::str(v));
            }
        }
        put_reported(&mut a, prior, "description", Value::str(p.description().unwrap_or_default()));
        put_reported(&mut a, prior, "tags", tags_value(p.tags().iter().map(|t| (t.key().into(), t.value().into()))));
        if let Some(version) = p.default_version_id() {
            let v = match iam.get_policy_version().policy_arn(id).version_id(version).send().await {
                Ok(v) => v,
                Err(e) if is_gone(&e, &["NoSuchEntity"]) => return Ok(None),
                Err(e) => return Err(aws_error("GetPolicyVersion", e)),
            };
            if let Some(doc) = v.policy_version().and_then(PolicyVersion::document) {
                a.insert("policy".into(), policy::from_aws(doc));
            }
        }
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let iam = cx.aws.iam().await;
        let doc = |a: &Attrs| a.get("policy").map(policy::normalize);
        if doc(prior) != doc(desired) {
            let existing = versions(cx, id).await?;
            if existing.len() >= MAX_VERSIONS {
                let oldest = existing
                    .iter()
                    .filter(|v| !v.is_default_version())
                    .min_by_key(|v| (v.create_date().map(|d| d.as_nanos()), version_number(v)));
                if let Some(version) = oldest.and_then(PolicyVersion::version_id) {
                    delete_version(cx, id, version).await?;
                }
            }
            iam.create_policy_version()
                .policy_arn(id)
                .policy_document(desired.get("policy").map(policy::to_json_string).unwrap_or_default())
                .set_as_default(true)
                .send()
                .await
                .map_err(|e| aws_error("CreatePolicyVersion", e))?;
        }
        let (set, remove) = tag_changes(prior, desired);
        if !remove.is_empty() {
            iam.untag_policy()
                .policy_arn(id)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| aws_error("UntagPolicy", e))?;
        }
        if !set.is_empty() {
            iam.tag_policy()
                .policy_arn(id)
                .set_tags(Some(tags(set)))
                .send()
                .await
                .map_err(|e| aws_error("TagPolicy", e))?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        // DeletePolicy refuses while non-default versions remain.
        let existing = match versions(cx, id).await {
            Ok(v) => v,
            Err(KindError::Aws { code, .. }) if code == "NoSuchEntity" => return Ok(()),
            Err(e) => return Err(e),
        };
        for v in existing.iter().filter(|v| !v.is_default_version()) {
            if let Some(version) = v.version_id() {
                delete_version(cx, id, version).await?;
            }
        }
        match cx.aws.iam().await.delete_policy().policy_arn(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_gone(&e, &["NoSuchEntity"]) => Ok(()),
            Err(e) => Err(aws_error("DeletePolicy", e)),
        }
    }
}
