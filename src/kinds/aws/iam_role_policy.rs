//! `aws_iam_role_policy`: an inline policy embedded in a role. id = `role:name`
//! (IAM names cannot contain `:`).

use super::iam_role::{check_document, check_iam_name};
use super::{aws_error, get_str, is_gone, policy, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;

pub struct IamRolePolicy;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("role", Type::String, "Name of the role the policy belongs to.").force_new(),
        Prop::required("name", Type::String, "Policy name, unique within the role.").force_new(),
        Prop::required("policy", Type::Json, "Policy document."),
    ],
};

fn split_id(id: &str) -> Result<(&str, &str), KindError> {
    id.split_once(':').ok_or_else(|| KindError::Failed(format!("inline policy id {id:?} is not `role:name`")))
}

async fn put(cx: &Ctx<'_>, role: &str, name: &str, desired: &Attrs) -> Result<(), KindError> {
    let doc = desired.get("policy").map(policy::to_json_string).unwrap_or_default();
    cx.aws
        .iam()
        .await
        .put_role_policy()
        .role_name(role)
        .policy_name(name)
        .policy_document(doc)
        .send()
        .await
        .map_err(|e| aws_error("PutRolePolicy", e))?;
    Ok(())
}

#[async_trait]
impl Kind for IamRolePolicy {
    fn type_name(&self) -> &'static str {
        "aws_iam_role_policy"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        check_iam_name("role", props.get("role"), 64, &mut out);
        check_iam_name("name", props.get("name"), 128, &mut out);
        check_document("policy", props.get("policy"), &mut out);
        out
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        Some(format!("{}:{}", get_str(desired, "role")?, get_str(desired, "name")?))
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        if prop == "policy" { policy::normalize(v) } else { v.clone() }
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let (role, name) = (req_str(desired, "role")?, req_str(desired, "name")?);
        put(cx, role, name, desired).await?;
        Ok(Created { id: format!("{role}:{name}"), attrs: desired.clone() })
    }

    async fn wait_ready(&self, cx: &Ctx<'_>, id: &str) -> Result<(), KindError> {
        super::wait_exists(&format!("inline policy {id}"), || async {
            Ok(self.read(cx, id, &Attrs::new()).await?.is_some())
        })
        .await
    }

    // read: 1 call (GetRolePolicy).
    async fn read(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let (role, name) = split_id(id)?;
        let out = match cx.aws.iam().await.get_role_policy().role_name(role).policy_name(name).send().await {
            Ok(out) => out,
            Err(e) if is_gone(&e, &["NoSuchEntity"]) => return Ok(None),
            Err(e) => return Err(aws_error("GetRolePolicy", e)),
        };
        let mut a = Attrs::new();
        a.insert("role".into(), Value::str(out.role_name()));
        a.insert("name".into(), Value::str(out.policy_name()));
        a.insert("policy".into(), policy::from_aws(out.policy_document()));
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let (role, name) = split_id(id)?;
        put(cx, role, name, desired).await
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        let (role, name) = split_id(id)?;
        match cx.aws.iam().await.delete_role_policy().role_name(role).policy_name(name).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_gone(&e, &["NoSuchEntity"]) => Ok(()),
            Err(e) => Err(aws_error("DeleteRolePolicy", e)),
        }
    }
}
