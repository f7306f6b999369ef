//! `aws_iam_role_policy_attachment`: a managed policy attached to a role.
//! id = `role/policy_arn` (role names cannot contain `/`).

use super::iam_role::check_iam_name;
use super::{aws_error, get_str, is_gone, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;

pub struct IamRolePolicyAttachment;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("role", Type::String, "Role name.").force_new(),
        Prop::required("policy_arn", Type::String, "ARN of the managed policy.").force_new(),
    ],
};

fn split_id(id: &str) -> Result<(&str, &str), KindError> {
    id.split_once('/').ok_or_else(|| KindError::Failed(format!("attachment id {id:?} is not `role/policy_arn`")))
}

#[async_trait]
impl Kind for IamRolePolicyAttachment {
    fn type_name(&self) -> &'static str {
        "aws_iam_role_policy_attachment"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        check_iam_name("role", props.get("role"), 64, &mut out);
        if let Some(arn) = get_str(props, "policy_arn")
            && !(arn.starts_with("arn:") && arn.contains(":policy/"))
        {
            out.push(PropProblem::error(
                "policy_arn",
                format!("{arn:?} is not a policy ARN (arn:aws:iam::…:policy/…)"),
            ));
        }
        out
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        Some(format!("{}/{}", get_str(desired, "role")?, get_str(desired, "policy_arn")?))
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let (role, arn) = (req_str(desired, "role")?, req_str(desired, "policy_arn")?);
        cx.aws
            .iam()
            .await
            .attach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error("AttachRolePolicy", e))?;
        Ok(Created { id: format!("{role}/{arn}"), attrs: desired.clone() })
    }

    async fn wait_ready(&self, cx: &Ctx<'_>, id: &str) -> Result<(), KindError> {
        super::wait_exists(&format!("attachment {id}"), || async {
            Ok(self.read(cx, id, &Attrs::new()).await?.is_some())
        })
        .await
    }

    // read: 1 call (ListAttachedRolePolicies; one more per 100 attached policies).
    async fn read(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let (role, arn) = split_id(id)?;
        let mut pages = cx.aws.iam().await.list_attached_role_policies().role_name(role).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(p) => p,
                Err(e) if is_gone(&e, &["NoSuchEntity"]) => return Ok(None),
                Err(e) => return Err(aws_error("ListAttachedRolePolicies", e)),
            };
            if page.attached_policies().iter().any(|p| p.policy_arn() == Some(arn)) {
                let a = [("role".to_string(), Value::str(role)), ("policy_arn".to_string(), Value::str(arn))];
                return Ok(Some(a.into()));
            }
        }
        Ok(None)
    }

    async fn update(&self, _cx: &Ctx<'_>, _id: &str, _prior: &Attrs, _desired: &Attrs) -> Result<(), KindError> {
        // Every property forces a replacement.
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        let (role, arn) = split_id(id)?;
        match cx.aws.iam().await.detach_role_policy().role_name(role).policy_arn(arn).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_gone(&e, &["NoSuchEntity"]) => Ok(()),
            Err(e) => Err(aws_error("DetachRolePolicy", e)),
        }
    }
}
