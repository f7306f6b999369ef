//! `standby_managed_prefix_list`: an AWS-managed prefix list of the region,
//! looked up by name (e.g. `com.amazonaws.us-east-1.route53-healthchecks`,
//! Route 53's health checkers), for security group rules
//! (`prefix_list_id`). Like the AWS provider's `aws_ec2_managed_prefix_list`
//! data source: it makes, changes and deletes nothing in AWS. id = `pl-…`.
//!
//! AWS keeps these lists current as a service's addresses change (VPC User
//! Guide, "AWS-managed prefix lists"); a rule that names one follows them.

use crate::kinds::aws::{aws_error, get_str, is_gone, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_ec2::types::Filter;

pub struct ManagedPrefixList;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required(
            "name",
            Type::String,
            "The list's name, e.g. `com.amazonaws.<region>.route53-healthchecks` (the VPC User Guide lists AWS's).",
        )
        .force_new(),
        Prop::computed("id", Type::String, "The list's id (`pl-…`), for a rule's `prefix_list_id`."),
        Prop::computed("arn", Type::String, "The list's ARN."),
        Prop::computed("max_entries", Type::Number, "How many rules a security group counts it as (its weight)."),
    ],
};

const GONE: &[&str] = &["InvalidPrefixListID.NotFound", "InvalidPrefixListId.NotFound"];

fn attrs_of(name: &str, l: &aws_sdk_ec2::types::ManagedPrefixList) -> Attrs {
    let mut a = Attrs::new();
    a.insert("name".into(), Value::str(l.prefix_list_name().unwrap_or(name)));
    a.insert("id".into(), Value::str(l.prefix_list_id().unwrap_or_default()));
    a.insert("arn".into(), Value::str(l.prefix_list_arn().unwrap_or_default()));
    if let Some(n) = l.max_entries() {
        a.insert("max_entries".into(), Value::int(n.into()));
    }
    a
}

async fn lookup(cx: &Ctx<'_>, name: &str) -> Result<Option<aws_sdk_ec2::types::ManagedPrefixList>, KindError> {
    let out = cx
        .aws
        .ec2(cx.region)
        .await
        .describe_managed_prefix_lists()
        .filters(Filter::builder().name("prefix-list-name").values(name).build())
        .send()
        .await
        .map_err(|e| aws_error("DescribeManagedPrefixLists", e))?;
    Ok(out.prefix_lists().iter().find(|l| l.prefix_list_name() == Some(name)).cloned())
}

#[async_trait]
impl Kind for ManagedPrefixList {
    fn type_name(&self) -> &'static str {
        "standby_managed_prefix_list"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    /// A lookup stopped by a kill made nothing: the next refresh looks it up again.
    fn finds_by_natural_key(&self) -> bool {
        true
    }

    // find: 1 call (DescribeManagedPrefixLists by name).
    async fn find(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Option<String>, KindError> {
        Ok(lookup(cx, req_str(desired, "name")?).await?.map(|l| l.prefix_list_id().unwrap_or_default().to_string()))
    }

    // create: 1 call (DescribeManagedPrefixLists by name); nothing is made.
    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let name = req_str(desired, "name")?;
        let Some(l) = lookup(cx, name).await? else {
            return Err(KindError::Failed(format!(
                "{} has no prefix list named {name:?} (AWS's lists are named com.amazonaws.<region>.<service>)",
                cx.region
            )));
        };
        let a = attrs_of(name, &l);
        Ok(Created { id: get_str(&a, "id").unwrap_or_default().to_string(), attrs: a })
    }

    // read: 1 call (DescribeManagedPrefixLists by id).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let out = match cx.aws.ec2(cx.region).await.describe_managed_prefix_lists().prefix_list_ids(id).send().await {
            Ok(out) => out,
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(aws_error("DescribeManagedPrefixLists", e)),
        };
        let name = get_str(prior, "name").unwrap_or_default();
        Ok(out.prefix_lists().iter().find(|l| l.prefix_list_id() == Some(id)).map(|l| attrs_of(name, l)))
    }

    async fn update(&self, _cx: &Ctx<'_>, _id: &str, _prior: &Attrs, _desired: &Attrs) -> Result<(), KindError> {
        Ok(())
    }

    /// AWS's list stays: only standby's record of it goes.
    async fn delete(&self, _cx: &Ctx<'_>, _id: &str, _prior: &Attrs) -> Result<(), KindError> {
        Ok(())
    }

    fn delete_effect(&self, _prior: &Attrs) -> Option<String> {
        Some("forgotten only: the list is AWS's and stays".into())
    }
}
