//! `aws_iam_role`: an IAM role and its trust policy. id = role name.

use super::{aws_error, get_i64, get_str, is_gone, policy, put_reported, req_str, tag_changes, tags_of, tags_value};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_iam::types::Tag;

pub struct IamRole;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("name", Type::String, "Role name (1–64 of letters, digits and `+=,.@_-`).").force_new(),
        Prop::optional("path", Type::String, "Path, `/` unless set.").or_computed().force_new(),
        Prop::optional("description", Type::String, "Description."),
        Prop::required("assume_role_policy", Type::Json, "Trust policy: who may assume the role."),
        Prop::optional("max_session_duration", Type::Number, "Seconds, 3600–43200 (AWS default 3600).").or_computed(),
        Prop::optional("tags", Type::Map(&Type::String), "Tags."),
        Prop::computed("arn", Type::String, "Role ARN."),
        Prop::computed("unique_id", Type::String, "Stable unique id (AROA…)."),
    ],
};

/// IAM names: letters, digits and `+=,.@_-`.
pub(crate) fn check_iam_name(prop: &str, v: Option<&Value>, max: usize, out: &mut Vec<PropProblem>) {
    let Some(Value::String(s)) = v else { return };
    if s.is_empty() || s.len() > max {
        out.push(PropProblem::error(prop, format!("must be 1–{max} characters, got {}", s.len())));
    } else if let Some(c) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c))) {
        out.push(PropProblem::error(prop, format!("{c:?} is not allowed: use letters, digits and `+=,.@_-`")));
    }
}

pub(crate) fn check_path(v: Option<&Value>, out: &mut Vec<PropProblem>) {
    let Some(Value::String(p)) = v else { return };
    if !p.starts_with('/') || !p.ends_with('/') || p.len() > 512 {
        out.push(PropProblem::error(
            "path",
            "must start and end with `/` (at most 512 characters), e.g. `/` or `/standby/`",
        ));
    }
}

/// Policy documents must be JSON objects (a map).
pub(crate) fn check_document(prop: &str, v: Option<&Value>, out: &mut Vec<PropProblem>) {
    match v {
        None | Some(Value::Unknown | Value::Map(_)) => {}
        Some(other) => {
            out.push(PropProblem::error(prop, format!("must be a policy document (a map), got {}", other.type_name())))
        }
    }
}

fn iam_tags(attrs: &Attrs) -> Vec<Tag> {
    tags_of(attrs).into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

#[async_trait]
impl Kind for IamRole {
    fn type_name(&self) -> &'static str {
        "aws_iam_role"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        check_iam_name("name", props.get("name"), 64, &mut out);
        check_path(props.get("path"), &mut out);
        check_document("assume_role_policy", props.get("assume_role_policy"), &mut out);
        if let Some(n) = get_i64(props, "max_session_duration")
            && !(3600..=43200).contains(&n)
        {
            out.push(PropProblem::error("max_session_duration", format!("must be 3600–43200 seconds, got {n}")));
        }
        if get_str(props, "description").is_some_and(|d| d.chars().count() > 1000) {
            out.push(PropProblem::error("description", "must be at most 1000 characters"));
        }
        out
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "name").map(str::to_string)
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        if prop == "assume_role_policy" { policy::normalize(v) } else { v.clone() }
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let name = req_str(desired, "name")?;
        let doc = desired.get("assume_role_policy").map(policy::to_json_string).unwrap_or_default();
        let out = cx
            .aws
            .iam()
            .await
            .create_role()
            .role_name(name)
            .set_path(get_str(desired, "path").map(str::to_string))
            .set_description(get_str(desired, "description").map(str::to_string))
            .assume_role_policy_document(doc)
            .set_max_session_duration(get_i64(desired, "max_session_duration").map(|n| n as i32))
            .set_tags(Some(iam_tags(desired)).filter(|t| !t.is_empty()))
            .send()
            .await
            .map_err(|e| aws_error("CreateRole", e))?;
        let mut attrs = desired.clone();
        if let Some(role) = out.role() {
            attrs.insert("arn".into(), Value::str(role.arn()));
            attrs.insert("unique_id".into(), Value::str(role.role_id()));
            attrs.insert("path".into(), Value::str(role.path()));
        }
        Ok(Created { id: name.to_string(), attrs })
    }

    async fn wait_ready(&self, cx: &Ctx<'_>, id: &str) -> Result<(), KindError> {
        super::wait_exists(&format!("role {id}"), || async { Ok(self.read(cx, id, &Attrs::new()).await?.is_some()) })
            .await
    }

    // read: 1 call (GetRole; it carries the tags and the trust policy).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let out = match cx.aws.iam().await.get_role().role_name(id).send().await {
            Ok(out) => out,
            Err(e) if is_gone(&e, &["NoSuchEntity"]) => return Ok(None),
            Err(e) => return Err(aws_error("GetRole", e)),
        };
        let Some(role) = out.role() else {
            return Ok(None);
        };
        let mut a = Attrs::new();
        a.insert("name".into(), Value::str(role.role_name()));
        a.insert("path".into(), Value::str(role.path()));
        put_reported(&mut a, prior, "description", Value::str(role.description().unwrap_or_default()));
        if let Some(doc) = role.assume_role_policy_document() {
            a.insert("assume_role_policy".into(), policy::from_aws(doc));
        }
        if let Some(n) = role.max_session_duration() {
            a.insert("max_session_duration".into(), Value::int(n.into()));
        }
        let tags = role.tags().iter().map(|t| (t.key().to_string(), t.value().to_string()));
        put_reported(&mut a, prior, "tags", tags_value(tags));
        a.insert("arn".into(), Value::str(role.arn()));
        a.insert("unique_id".into(), Value::str(role.role_id()));
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let iam = cx.aws.iam().await;
        let description_changed =
            get_str(prior, "description").unwrap_or("") != get_str(desired, "description").unwrap_or("");
        // Unset, the session limit is AWS's to keep.
        let max = get_i64(desired, "max_session_duration");
        if description_changed || max.is_some_and(|n| Some(n) != get_i64(prior, "max_session_duration")) {
            // UpdateRole leaves an omitted field as it is, so send "" to clear the description.
            iam.update_role()
                .role_name(id)
                .description(get_str(desired, "description").unwrap_or_default())
                .set_max_session_duration(max.map(|n| n as i32))
                .send()
                .await
                .map_err(|e| aws_error("UpdateRole", e))?;
        }
        let doc = |a: &Attrs| a.get("assume_role_policy").map(policy::normalize);
        if doc(prior) != doc(desired) {
            iam.update_assume_role_policy()
                .role_name(id)
                .policy_document(desired.get("assume_role_policy").map(policy::to_json_string).unwrap_or_default())
                .send()
                .await
                .map_err(|e| aws_error("UpdateAssumeRolePolicy", e))?;
        }
        let (set, remove) = tag_changes(prior, desired);
        if !remove.is_empty() {
            iam.untag_role()
                .role_name(id)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| aws_error("UntagRole", e))?;
        }
        if !set.is_empty() {
            let tags = set.into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect();
            iam.tag_role().role_name(id).set_tags(Some(tags)).send().await.map_err(|e| aws_error("TagRole", e))?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        // Policies standby manages are removed first (they depend on the role).
        match cx.aws.iam().await.delete_role().role_name(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_gone(&e, &["NoSuchEntity"]) => Ok(()),
            Err(e) => Err(aws_error("DeleteRole", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_and_durations_are_checked() {
        let props: Attrs = [
            ("name".to_string(), Value::str("bad name")),
            ("path".to_string(), Value::str("nope")),
            ("max_session_duration".to_string(), Value::int(60)),
            ("assume_role_policy".to_string(), Value::str("not json")),
        ]
        .into();
        let probs: Vec<_> = IamRole.validate(&props).into_iter().map(|p| p.prop).collect();
        assert_eq!(probs, ["name", "path", "assume_role_policy", "max_session_duration"]);
        let ok: Attrs =
            [("name".to_string(), Value::str("mm-dr_replication.1")), ("path".to_string(), Value::str("/"))].into();
        assert!(IamRole.validate(&ok).is_empty());
    }
}
