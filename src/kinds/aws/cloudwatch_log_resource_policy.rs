//! `aws_cloudwatch_log_resource_policy`: a CloudWatch Logs resource policy
//! of the region (it lets AWS services such as OpenSearch Service write to
//! log groups). id = policy name.
//!
//! Create and update are one `PutResourcePolicy`, which replaces the
//! document: a repeat after a lost answer is harmless.

use super::iam_role::check_document;
use super::{aws_error, get_str, is_gone, policy, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;

pub struct CloudWatchLogResourcePolicy;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("policy_name", Type::String, "Policy name, unique in the account's region.").force_new(),
        Prop::required(
            "policy_document",
            Type::Json,
            "Resource policy: e.g. lets `es.amazonaws.com` call `logs:CreateLogStream` and `logs:PutLogEvents` on \
             `<log group arn>:*`, scoped by `aws:SourceAccount` and `aws:SourceArn` (at most 5120 characters).",
        ),
    ],
};

const GONE: &[&str] = &["ResourceNotFoundException"];

async fn put(cx: &Ctx<'_>, name: &str, desired: &Attrs) -> Result<(), KindError> {
    let doc = desired.get("policy_document").map(policy::to_json_string).unwrap_or_default();
    cx.aws
        .logs(cx.region)
        .await
        .put_resource_policy()
        .policy_name(name)
        .policy_document(doc)
        .send()
        .await
        .map_err(|e| aws_error("PutResourcePolicy", e))?;
    Ok(())
}

#[async_trait]
impl Kind for CloudWatchLogResourcePolicy {
    fn type_name(&self) -> &'static str {
        "aws_cloudwatch_log_resource_policy"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if let Some(n) = get_str(props, "policy_name")
            && (n.is_empty() || n.len() > 256)
        {
            out.push(PropProblem::error("policy_name", "a resource policy name has 1-256 characters"));
        }
        check_document("policy_document", props.get("policy_document"), &mut out);
        if let Some(doc) = props.get("policy_document").filter(|v| !v.has_unknown()).map(policy::to_json_string)
            && doc.len() > 5120
        {
            out.push(PropProblem::error(
                "policy_document",
                format!(
                    "CloudWatch Logs takes resource policies of at most 5120 characters; this one has {}",
                    doc.len()
                ),
            ));
        }
        out
    }

    fn delete_effect(&self, _prior: &Attrs) -> Option<String> {
        Some(
            "the services it names can no longer write to the log groups: OpenSearch stops publishing its logs there"
                .to_string(),
        )
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "policy_name").map(str::to_string)
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        if prop == "policy_document" { policy::normalize(v) } else { v.clone() }
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let name = req_str(desired, "policy_name")?;
        put(cx, name, desired).await?;
        Ok(Created { id: name.to_string(), attrs: desired.clone() })
    }

    // read: 1 call (DescribeResourcePolicies; one more per 50 policies in the region).
    async fn read(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let logs = cx.aws.logs(cx.region).await;
        let mut token = None;
        loop {
            let out = match logs.describe_resource_policies().limit(50).set_next_token(token).send().await {
                Ok(out) => out,
                Err(e) if is_gone(&e, GONE) => return Ok(None),
                Err(e) => return Err(aws_error("DescribeResourcePolicies", e)),
            };
            if let Some(p) = out.resource_policies().iter().find(|p| p.policy_name() == Some(id)) {
                let doc = p.policy_document().unwrap_or_default();
                return Ok(Some(
                    [
                        ("policy_name".to_string(), Value::str(id)),
                        ("policy_document".to_string(), policy::normalize(&Value::str(doc))),
                    ]
                    .into(),
                ));
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(None),
            }
        }
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        put(cx, id, desired).await
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        match cx.aws.logs(cx.region).await.delete_resource_policy().policy_name(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_gone(&e, GONE) => Ok(()),
            Err(e) => Err(aws_error("DeleteResourcePolicy", e)),
        }
    }
}
