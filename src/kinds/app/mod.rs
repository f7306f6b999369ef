//! The application tier's kinds: EC2 security groups and their rules, launch
//! templates, Auto Scaling groups, and Elastic Load Balancing v2 (ALB,
//! target groups, listeners), and what they share: EC2 tags, the default
//! VPC's network for configurations that name none, string lists. AWS's
//! managed prefix lists are looked up here too (security group rules name them).

pub mod autoscaling_group;
pub mod instance_refresh;
pub mod launch_template;
pub mod lb;
pub mod lb_listener;
pub mod lb_target_group;
pub mod managed_prefix_list;
pub mod security_group;
pub mod security_group_rule;

use super::KindError;
use super::aws::{aws_error, tag_changes, tags_of};
use crate::value::{Attrs, Value};
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

/// A list-of-strings property; empty when absent.
pub(crate) fn str_list(attrs: &Attrs, key: &str) -> Vec<String> {
    attrs
        .get(key)
        .and_then(Value::as_list)
        .map(|l| l.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

pub(crate) fn list_value<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Value {
    Value::List(items.into_iter().map(|s| Value::String(s.into())).collect())
}

/// The same strings in any order (subnets, security groups, target groups
/// are sets in AWS's answers).
pub(crate) fn set_value(v: &Value) -> Value {
    match v {
        Value::List(items) if !items.iter().any(Value::has_unknown) => {
            let mut items = items.clone();
            items.sort_by_key(|i| i.as_str().unwrap_or_default().to_string());
            items.dedup();
            Value::List(items)
        }
        other => other.clone(),
    }
}

pub(crate) fn ec2_tags(attrs: &Attrs) -> Vec<Tag> {
    tags_of(attrs).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// Tags on create, for resources that take them in the create call.
pub(crate) fn tag_spec(attrs: &Attrs, rt: ResourceType) -> Option<Vec<TagSpecification>> {
    let tags = ec2_tags(attrs);
    (!tags.is_empty()).then(|| vec![TagSpecification::builder().resource_type(rt).set_tags(Some(tags)).build()])
}

pub(crate) fn tags_from_ec2<'a>(tags: impl IntoIterator<Item = &'a Tag>) -> Value {
    super::aws::tags_value(
        tags.into_iter()
            .filter(|t| !t.key().unwrap_or_default().starts_with("aws:"))
            .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())),
    )
}

/// Brings an EC2 resource's tags from `prior` to `desired` (CreateTags,
/// DeleteTags; both are idempotent, so repeating them is safe).
pub(crate) async fn sync_ec2_tags(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    prior: &Attrs,
    desired: &Attrs,
) -> Result<(), KindError> {
    let (set, remove) = tag_changes(prior, desired);
    if !remove.is_empty() {
        let tags = remove.into_iter().map(|k| Tag::builder().key(k).build()).collect();
        ec2.delete_tags().resources(id).set_tags(Some(tags)).send().await.map_err(|e| aws_error("DeleteTags", e))?;
    }
    if !set.is_empty() {
        let tags = set.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        ec2.create_tags().resources(id).set_tags(Some(tags)).send().await.map_err(|e| aws_error("CreateTags", e))?;
    }
    Ok(())
}

/// The region's default VPC and one default subnet per Availability Zone,
/// for configurations that name no network (AWS's own default for
/// security groups; load balancers and Auto Scaling groups get the same).
/// 2 calls: DescribeVpcs, DescribeSubnets.
pub(crate) async fn default_network(ec2: &aws_sdk_ec2::Client) -> Result<(String, Vec<String>), KindError> {
    let vpcs = ec2
        .describe_vpcs()
        .filters(Filter::builder().name("is-default").values("true").build())
        .send()
        .await
        .map_err(|e| aws_error("DescribeVpcs", e))?;
    let Some(vpc) = vpcs.vpcs().first().and_then(|v| v.vpc_id()) else {
        return Err(KindError::Failed(
            "this region has no default VPC: set the network explicitly (`vpc_id`, `subnets`)".into(),
        ));
    };
    let subnets = ec2
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(Filter::builder().name("default-for-az").values("true").build())
        .send()
        .await
        .map_err(|e| aws_error("DescribeSubnets", e))?;
    let mut by_az: Vec<(String, String)> = subnets
        .subnets()
        .iter()
        .filter_map(|s| Some((s.availability_zone()?.to_string(), s.subnet_id()?.to_string())))
        .collect();
    by_az.sort();
    by_az.dedup_by(|a, b| a.0 == b.0);
    Ok((vpc.to_string(), by_az.into_iter().map(|(_, s)| s).collect()))
}

/// A stable idempotency token for a create call: the same request repeated
/// (a lost answer, a resumed apply) makes one resource, not two.
pub(crate) fn client_token(parts: &[&str]) -> String {
    crate::ids::salted_hash("standby-client-token", &parts.join("\u{1f}"))
        .trim_start_matches("sha256:")
        .chars()
        .take(64)
        .collect()
}
