//! `aws_cloudwatch_log_group`: a CloudWatch Logs log group (e.g. where an
//! OpenSearch domain publishes its audit and slow logs). id = group name.
//!
//! Create is `CreateLogGroup`, then `PutRetentionPolicy` when a retention is
//! given; a create repeated after a lost answer gets
//! `ResourceAlreadyExistsException`, which the engine adopts after a retry.
//! Deleting the group deletes every log event in it, for good: the plan says so.

use super::{aws_error, get_i64, get_str, is_gone, put_reported, req_str, tag_changes, tags_of, tags_value};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types::LogGroup;

pub struct CloudWatchLogGroup;

/// The retention periods CloudWatch Logs accepts (PutRetentionPolicy), in days.
pub const RETENTION_DAYS: &[i64] =
    &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("name", Type::String, "Log group name (1-512 characters: letters, digits, `_-./#`).")
            .force_new(),
        Prop::optional(
            "retention_in_days",
            Type::Number,
            "Days to keep log events (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, \
             2192, 2557, 2922, 3288 or 3653); unset keeps them forever.",
        ),
        Prop::optional(
            "kms_key_id",
            Type::String,
            "ARN of a KMS key encrypting the group's events (its key policy must let logs.<region>.amazonaws.com \
             use it); unset: CloudWatch Logs' own encryption.",
        ),
        Prop::optional("tags", Type::Map(&Type::String), "Tags."),
        Prop::computed("arn", Type::String, "Log group ARN, without the `:*` suffix (as the AWS provider has it)."),
        Prop::computed(
            "account_id",
            Type::String,
            "The account that owns the group (from its ARN), for a resource policy's `aws:SourceAccount`.",
        ),
    ],
};

const GONE: &[&str] = &["ResourceNotFoundException"];

/// Why a log group name is invalid, if it is (CreateLogGroup's constraints).
pub fn name_problem(name: &str) -> Option<String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_-./#".contains(c);
    if name.is_empty() || name.len() > 512 || !name.chars().all(ok_char) {
        return Some(format!("a log group name has 1-512 characters: letters, digits and `_-./#`; got {name:?}"));
    }
    None
}

/// The ARN without the `:*` that DescribeLogGroups' `arn` carries.
pub fn bare_arn(arn: &str) -> &str {
    arn.strip_suffix(":*").unwrap_or(arn)
}

/// The group named exactly `name`: 1 call (DescribeLogGroups by prefix;
/// the exact name sorts first among the names it prefixes).
async fn describe(cx: &Ctx<'_>, name: &str) -> Result<Option<LogGroup>, KindError> {
    let logs = cx.aws.logs(cx.region).await;
    let out = match logs.describe_log_groups().log_group_name_prefix(name).limit(1).send().await {
        Ok(out) => out,
        Err(e) if is_gone(&e, GONE) => return Ok(None),
        Err(e) => return Err(aws_error("DescribeLogGroups", e)),
    };
    Ok(out.log_groups().iter().find(|g| g.log_group_name() == Some(name)).cloned())
}

async fn set_retention(cx: &Ctx<'_>, name: &str, days: Option<i64>) -> Result<(), KindError> {
    let logs = cx.aws.logs(cx.region).await;
    match days {
        Some(d) => logs
            .put_retention_policy()
            .log_group_name(name)
            .retention_in_days(d as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error("PutRetentionPolicy", e)),
        None => logs
            .delete_retention_policy()
            .log_group_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error("DeleteRetentionPolicy", e)),
    }
}

#[async_trait]
impl Kind for CloudWatchLogGroup {
    fn type_name(&self) -> &'static str {
        "aws_cloudwatch_log_group"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if let Some(p) = get_str(props, "name").and_then(name_problem) {
            out.push(PropProblem::error("name", p));
        }
        if let Some(d) = get_i64(props, "retention_in_days")
            && !RETENTION_DAYS.contains(&d)
        {
            out.push(PropProblem::error(
                "retention_in_days",
                format!("CloudWatch Logs keeps events for one of {RETENTION_DAYS:?} days; got {d}"),
            ));
        }
        out
    }

    fn delete_effect(&self, prior: &Attrs) -> Option<String> {
        let name = get_str(prior, "name").unwrap_or("the group");
        Some(format!(
            "deletes every log event stored in {name} (audit and slow logs included), for good: CloudWatch Logs \
             keeps no copy; export them first (CreateExportTask to S3) if they must be kept"
        ))
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "name").map(str::to_string)
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let name = req_str(desired, "name")?;
        let tags = tags_of(desired);
        cx.aws
            .logs(cx.region)
            .await
            .create_log_group()
            .log_group_name(name)
            .set_kms_key_id(get_str(desired, "kms_key_id").map(str::to_string))
            .set_tags(Some(tags.into_iter().collect()).filter(|t: &std::collections::HashMap<_, _>| !t.is_empty()))
            .send()
            .await
            .map_err(|e| aws_error("CreateLogGroup", e))?;
        if let Some(d) = get_i64(desired, "retention_in_days") {
            set_retention(cx, name, Some(d)).await?;
        }
        Ok(Created { id: name.to_string(), attrs: desired.clone() })
    }

    // read: 2 calls (DescribeLogGroups, ListTagsForResource).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let Some(g) = describe(cx, id).await? else { return Ok(None) };
        let arn = g.log_group_arn().or(g.arn()).map(bare_arn).unwrap_or_default().to_string();
        let mut a: Attrs = [("name".to_string(), Value::str(id))].into();
        if let Some(d) = g.retention_in_days() {
            a.insert("retention_in_days".into(), Value::int(d.into()));
        }
        put_reported(&mut a, prior, "kms_key_id", Value::str(g.kms_key_id().unwrap_or_default()));
        if let Some(account) = arn.split(':').nth(4) {
            a.insert("account_id".into(), Value::str(account));
        }
        let tags = match cx.aws.logs(cx.region).await.list_tags_for_resource().resource_arn(&arn).send().await {
            Ok(t) => t.tags().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>()),
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(aws_error("ListTagsForResource", e)),
        };
        put_reported(&mut a, prior, "tags", tags_value(tags.unwrap_or_default()));
        a.insert("arn".into(), Value::str(arn));
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let logs = cx.aws.logs(cx.region).await;
        if get_i64(prior, "retention_in_days") != get_i64(desired, "retention_in_days") {
            set_retention(cx, id, get_i64(desired, "retention_in_days")).await?;
        }
        if get_str(prior, "kms_key_id") != get_str(desired, "kms_key_id") {
            match get_str(desired, "kms_key_id") {
                Some(k) => logs
                    .associate_kms_key()
                    .log_group_name(id)
                    .kms_key_id(k)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| aws_error("AssociateKmsKey", e))?,
                None => logs
                    .disassociate_kms_key()
                    .log_group_name(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| aws_error("DisassociateKmsKey", e))?,
            }
        }
        let (set, remove) = tag_changes(prior, desired);
        let Some(arn) = get_str(prior, "arn") else { return Ok(()) };
        if !set.is_empty() {
            logs.tag_resource()
                .resource_arn(arn)
                .set_tags(Some(set.into_iter().collect()))
                .send()
                .await
                .map_err(|e| aws_error("TagResource", e))?;
        }
        if !remove.is_empty() {
            logs.untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| aws_error("UntagResource", e))?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        match cx.aws.logs(cx.region).await.delete_log_group().log_group_name(id).send().await {
            Ok(_) => Ok(()),
            // Already gone (e.g. a repeat after a lost answer): done.
            Err(e) if is_gone(&e, GONE) => Ok(()),
            Err(e) => Err(aws_error("DeleteLogGroup", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_retention_are_checked() {
        assert!(name_problem("/aws/opensearch/mm-os-us-east-2").is_none());
        assert!(name_problem("bad name").is_some());
        assert!(name_problem("").is_some());
        let p: Attrs =
            [("name".to_string(), Value::str("ok")), ("retention_in_days".to_string(), Value::int(366))].into();
        let probs = CloudWatchLogGroup.validate(&p);
        assert_eq!(probs.len(), 1);
        assert_eq!(probs[0].prop, "retention_in_days");
        assert_eq!(bare_arn("arn:aws:logs:us-east-1:1:log-group:g:*"), "arn:aws:logs:us-east-1:1:log-group:g");
        assert!(CloudWatchLogGroup.delete_effect(&p).unwrap().contains("for good"));
    }
}
