//! `aws_iam_instance_profile`: what gives EC2 instances a role. id = the
//! profile name. A profile holds at most one role.

use super::iam_role::{check_iam_name, check_path};
use super::{aws_error, get_str, is_gone, put_reported, req_str, tag_changes, tags_of, tags_value};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_iam::types::Tag;

pub struct IamInstanceProfile;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("name", Type::String, "Profile name (1–128 of letters, digits and `+=,.@_-`).").force_new(),
        Prop::optional("path", Type::String, "Path, `/` unless set.").or_computed().force_new(),
        Prop::optional("role", Type::String, "Name of the role the instances get."),
        Prop::optional("tags", Type::Map(&Type::String), "Tags."),
        Prop::computed("arn", Type::String, "Profile ARN."),
        Prop::computed("unique_id", Type::String, "Stable unique id (AIPA…)."),
    ],
};

#[async_trait]
impl Kind for IamInstanceProfile {
    fn type_name(&self) -> &'static str {
        "aws_iam_instance_profile"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        check_iam_name("name", props.get("name"), 128, &mut out);
        check_iam_name("role", props.get("role"), 64, &mut out);
        check_path(props.get("path"), &mut out);
        out
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "name").map(str::to_string)
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let iam = cx.aws.iam().await;
        let name = req_str(desired, "name")?;
        let tags: Vec<Tag> =
            tags_of(desired).into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect();
        let out = iam
            .create_instance_profile()
            .instance_profile_name(name)
            .set_path(get_str(desired, "path").map(str::to_string))
            .set_tags(Some(tags).filter(|t| !t.is_empty()))
            .send()
            .await
            .map_err(|e| aws_error("CreateInstanceProfile", e))?;
        if let Some(role) = get_str(desired, "role") {
            add_role(&iam, name, role).await.map_err(|e| e.after_made(&format!("instance profile {name}")))?;
        }
        let mut attrs = desired.clone();
        if let Some(p) = out.instance_profile() {
            attrs.insert("arn".into(), Value::str(p.arn()));
            attrs.insert("unique_id".into(), Value::str(p.instance_profile_id()));
            attrs.insert("path".into(), Value::str(p.path()));
        }
        Ok(Created { id: name.to_string(), attrs })
    }

    async fn wait_ready(&self, cx: &Ctx<'_>, id: &str) -> Result<(), KindError> {
        super::wait_exists(&format!("instance profile {id}"), || async {
            Ok(self.read(cx, id, &Attrs::new()).await?.is_some())
        })
        .await
    }

    // read: 1 call (GetInstanceProfile; it carries the role and the tags).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let out = match cx.aws.iam().await.get_instance_profile().instance_profile_name(id).send().await {
            Ok(out) => out,
            Err(e) if is_gone(&e, &["NoSuchEntity"]) => return Ok(None),
            Err(e) => return Err(aws_error("GetInstanceProfile", e)),
        };
        let Some(p) = out.instance_profile() else { return Ok(None) };
        let mut a = Attrs::new();
        a.insert("name".into(), Value::str(p.instance_profile_name()));
        a.insert("path".into(), Value::str(p.path()));
        if let Some(r) = p.roles().first() {
            a.insert("role".into(), Value::str(r.role_name()));
        }
        a.insert("arn".into(), Value::str(p.arn()));
        a.insert("unique_id".into(), Value::str(p.instance_profile_id()));
        let tags = p.tags().iter().map(|t| (t.key().to_string(), t.value().to_string()));
        put_reported(&mut a, prior, "tags", tags_value(tags));
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let iam = cx.aws.iam().await;
        let (old, new) = (get_str(prior, "role"), get_str(desired, "role"));
        if old != new {
            if let Some(old) = old {
                match iam.remove_role_from_instance_profile().instance_profile_name(id).role_name(old).send().await {
                    Ok(_) => {}
                    Err(e) if is_gone(&e, &["NoSuchEntity"]) => {}
                    Err(e) => return Err(aws_error("RemoveRoleFromInstanceProfile", e)),
                }
            }
            if let Some(new) = new {
                add_role(&iam, id, new).await?;
            }
        }
        let (set, remove) = tag_changes(prior, desired);
        if !remove.is_empty() {
            iam.untag_instance_profile()
                .instance_profile_name(id)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| aws_error("UntagInstanceProfile", e))?;
        }
        if !set.is_empty() {
            let tags = set.into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect();
            iam.tag_instance_profile()
                .instance_profile_name(id)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| aws_error("TagInstanceProfile", e))?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        let iam = cx.aws.iam().await;
        // A profile with a role cannot be deleted (DeleteConflict).
        if let Some(role) = get_str(prior, "role") {
            match iam.remove_role_from_instance_profile().instance_profile_name(id).role_name(role).send().await {
                Ok(_) => {}
                Err(e) if is_gone(&e, &["NoSuchEntity"]) => {}
                Err(e) => return Err(aws_error("RemoveRoleFromInstanceProfile", e)),
            }
        }
        match iam.delete_instance_profile().instance_profile_name(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_gone(&e, &["NoSuchEntity"]) => Ok(()),
            Err(e) => Err(aws_error("DeleteInstanceProfile", e)),
        }
    }
}

/// AddRoleToInstanceProfile; a repeat after a lost answer finds the role
/// there already (LimitExceeded: a profile holds one role) and checks it.
/// A role or profile made moments ago may not be visible yet: retried as
/// the AWS provider does (iam/instance_profile.go, instanceProfileAddRole:
/// NoSuchEntity "The role with name", "Invalid IAM Instance Profile name",
/// 2 minutes).
async fn add_role(iam: &aws_sdk_iam::Client, profile: &str, role: &str) -> Result<(), KindError> {
    let sent = super::while_propagating(
        &format!("role {role} to instance profile {profile}"),
        |e| {
            super::error_says(e, "NoSuchEntity", "The role with name")
                || matches!(e, KindError::Aws { message, .. } if message.contains("Invalid IAM Instance Profile name"))
        },
        || async {
            match iam.add_role_to_instance_profile().instance_profile_name(profile).role_name(role).send().await {
                Ok(o) => Ok(Ok(o)),
                Err(e) if is_gone(&e, &["LimitExceeded", "EntityAlreadyExists"]) => Ok(Err(e)),
                Err(e) => Err(aws_error("AddRoleToInstanceProfile", e)),
            }
        },
    )
    .await?;
    match sent {
        Ok(_) => Ok(()),
        Err(_) => {
            let out = iam
                .get_instance_profile()
                .instance_profile_name(profile)
                .send()
                .await
                .map_err(|e| aws_error("GetInstanceProfile", e))?;
            let has = out.instance_profile().is_some_and(|p| p.roles().iter().any(|r| r.role_name() == role));
            if has {
                Ok(())
            } else {
                Err(KindError::Failed(format!("instance profile {profile} already holds another role")))
            }
        }
    }
}
