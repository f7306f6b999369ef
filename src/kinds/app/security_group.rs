//! `aws_security_group`: an EC2 security group without inline rules (its
//! rules are `aws_vpc_security_group_ingress_rule` / `_egress_rule`, so
//! rules referencing other groups never fight). id = `sg-…`.
//!
//! Like the AWS provider, the allow-all egress rule AWS adds to every new
//! group is removed on create: egress is what the configuration declares.

use super::{default_network, sync_ec2_tags, tag_spec, tags_from_ec2};
use crate::kinds::aws::{aws_error, get_str, is_gone, put_reported, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType};

pub struct SecurityGroup;

const GONE: &[&str] = &["InvalidGroup.NotFound", "InvalidGroupId.NotFound", "InvalidGroupId.Malformed"];

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("name", Type::String, "Group name (unique in its VPC; up to 255 characters, not `sg-…`).")
            .force_new(),
        Prop::optional("description", Type::String, "Description (`Managed by standby` unless set).").force_new(),
        Prop::optional("vpc_id", Type::String, "VPC; the region's default VPC when not set.").or_computed().force_new(),
        Prop::optional("tags", Type::Map(&Type::String), "Tags."),
        Prop::computed("id", Type::String, "Group id (`sg-…`)."),
        Prop::computed("arn", Type::String, "Group ARN."),
        Prop::computed("owner_id", Type::String, "Account that owns the group."),
    ],
};

const DEFAULT_DESCRIPTION: &str = "Managed by standby";

#[async_trait]
impl Kind for SecurityGroup {
    fn type_name(&self) -> &'static str {
        "aws_security_group"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if let Some(n) = get_str(props, "name") {
            if n.is_empty() || n.len() > 255 {
                out.push(PropProblem::error("name", "must be 1–255 characters"));
            } else if n.starts_with("sg-") {
                out.push(PropProblem::error("name", "cannot start with `sg-` (AWS reserves it for ids)"));
            }
        }
        if get_str(props, "description").is_some_and(|d| d.len() > 255) {
            out.push(PropProblem::error("description", "must be at most 255 characters"));
        }
        out
    }

    fn derive(&self, planned: &mut Attrs) {
        planned.entry("description".into()).or_insert_with(|| Value::str(DEFAULT_DESCRIPTION));
    }

    fn finds_by_natural_key(&self) -> bool {
        true
    }

    // 1 call (DescribeSecurityGroups by name, in the VPC when known).
    async fn find(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Option<String>, KindError> {
        let mut req = cx
            .aws
            .ec2(cx.region)
            .await
            .describe_security_groups()
            .filters(Filter::builder().name("group-name").values(req_str(desired, "name")?).build());
        if let Some(vpc) = get_str(desired, "vpc_id") {
            req = req.filters(Filter::builder().name("vpc-id").values(vpc).build());
        }
        let out = req.send().await.map_err(|e| aws_error("DescribeSecurityGroups", e))?;
        Ok(out.security_groups().first().and_then(|g| g.group_id()).map(str::to_string))
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let ec2 = cx.aws.ec2(cx.region).await;
        let vpc = match get_str(desired, "vpc_id") {
            Some(v) => v.to_string(),
            None => default_network(&ec2).await?.0,
        };
        let out = ec2
            .create_security_group()
            .group_name(req_str(desired, "name")?)
            .description(get_str(desired, "description").unwrap_or(DEFAULT_DESCRIPTION))
            .vpc_id(&vpc)
            .set_tag_specifications(tag_spec(desired, ResourceType::SecurityGroup))
            .send()
            .await
            .map_err(|e| aws_error("CreateSecurityGroup", e))?;
        let id = out.group_id().unwrap_or_default().to_string();
        revoke_default_egress(&ec2, &id).await?;
        let mut attrs = desired.clone();
        self.derive(&mut attrs);
        attrs.insert("vpc_id".into(), Value::str(vpc));
        attrs.insert("id".into(), Value::str(&id));
        if let Some(arn) = out.security_group_arn() {
            attrs.insert("arn".into(), Value::str(arn));
        }
        Ok(Created { id, attrs })
    }

    async fn wait_ready(&self, cx: &Ctx<'_>, id: &str) -> Result<(), KindError> {
        crate::kinds::aws::wait_exists(&format!("security group {id}"), || async {
            Ok(self.read(cx, id, &Attrs::new()).await?.is_some())
        })
        .await
    }

    // read: 1 call (DescribeSecurityGroups; it carries the tags). Rules are
    // their own resources and are not read here.
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let out = match cx.aws.ec2(cx.region).await.describe_security_groups().group_ids(id).send().await {
            Ok(out) => out,
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(aws_error("DescribeSecurityGroups", e)),
        };
        let Some(g) = out.security_groups().iter().find(|g| g.group_id() == Some(id)) else { return Ok(None) };
        let mut a = Attrs::new();
        a.insert("id".into(), Value::str(id));
        a.insert("name".into(), Value::str(g.group_name().unwrap_or_default()));
        a.insert("description".into(), Value::str(g.description().unwrap_or_default()));
        a.insert("vpc_id".into(), Value::str(g.vpc_id().unwrap_or_default()));
        a.insert("owner_id".into(), Value::str(g.owner_id().unwrap_or_default()));
        let arn = g.security_group_arn().map(str::to_string).unwrap_or_else(|| {
            format!("arn:aws:ec2:{}:{}:security-group/{id}", cx.region, g.owner_id().unwrap_or_default())
        });
        a.insert("arn".into(), Value::str(arn));
        put_reported(&mut a, prior, "tags", tags_from_ec2(g.tags()));
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        sync_ec2_tags(&cx.aws.ec2(cx.region).await, id, prior, desired).await
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        let ec2 = cx.aws.ec2(cx.region).await;
        // Instances of a just-deleted Auto Scaling group, or a load balancer's
        // network interfaces, hold the group for a while: wait them out.
        crate::kinds::rds::poll(|| async {
            match ec2.delete_security_group().group_id(id).send().await {
                Ok(_) => Ok(Some(())),
                Err(e) if is_gone(&e, GONE) => Ok(Some(())),
                Err(e) if is_gone(&e, &["DependencyViolation"]) => {
                    crate::kinds::report_status("still in use (instances or load balancer interfaces)");
                    Ok(None)
                }
                Err(e) => Err(aws_error("DeleteSecurityGroup", e)),
            }
        })
        .await
    }
}

/// Removes the allow-all egress rule AWS gives every new group (IPv4 and,
/// in dual-stack VPCs, IPv6). 2 calls.
async fn revoke_default_egress(ec2: &aws_sdk_ec2::Client, id: &str) -> Result<(), KindError> {
    let rules = ec2
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(id).build())
        .send()
        .await
        .map_err(|e| aws_error("DescribeSecurityGroupRules", e))?;
    let ids: Vec<String> = rules
        .security_group_rules()
        .iter()
        .filter(|r| {
            r.is_egress() == Some(true)
                && r.ip_protocol() == Some("-1")
                && (r.cidr_ipv4() == Some("0.0.0.0/0") || r.cidr_ipv6() == Some("::/0"))
        })
        .filter_map(|r| r.security_group_rule_id().map(str::to_string))
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    match ec2.revoke_security_group_egress().group_id(id).set_security_group_rule_ids(Some(ids)).send().await {
        Ok(_) => Ok(()),
        Err(e) if is_gone(&e, &["InvalidPermission.NotFound", "InvalidSecurityGroupRuleId.NotFound"]) => Ok(()),
        Err(e) => Err(aws_error("RevokeSecurityGroupEgress", e)),
    }
}
