//! `aws_security_group`: an EC2 security group without inline rules (its
//! rules are `aws_vpc_security_group_ingress_rule` / `_egress_rule`, so
//! rules referencing other groups never fight). id = `sg-…`.
//!
//! Like the AWS provider, the allow-all egress rule AWS adds to every new
//! group is removed on create: egress is what the configuration declares.
//! As the provider does (vpc_security_group.go, resourceSecurityGroupCreate),
//! the create waits until the new group is visible (EC2 is eventually
//! consistent: a call naming a just-made group can answer
//! InvalidGroup.NotFound), then revokes the rule by its permission
//! (`-1`, `0.0.0.0/0`; `::/0` where the VPC has IPv6), never by listing
//! the group's rules, which may still come back empty.
//!
//! **Kill-safe.** The create is three calls: CreateSecurityGroup, the
//! revoke, and DeleteTags of a marker tag ([`PENDING`]) the group is created
//! with. Until the revoke is done the marker is on the group, so a run
//! killed between the calls (or one whose answer was lost) leaves a group
//! that says so: the next refresh finds it by name, reads the marker as a
//! tag the configuration does not have, and plans an update, which revokes
//! the rule and removes the marker. A group created outside standby has no
//! marker: its egress is never touched.

use super::{default_network, ec2_tags, sync_ec2_tags, tags_from_ec2};
use crate::kinds::aws::{aws_error, get_str, is_gone, put_reported, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Ipv6Range, ResourceType, Tag, TagSpecification};
use std::collections::BTreeSet;
use std::time::Duration;

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

/// The tag a group carries from its creation until AWS's default egress
/// rule is revoked (see the module's doc).
pub const PENDING: (&str, &str) = ("standby:default-egress", "revoke-pending");

/// How long a new group may stay invisible to EC2's other calls (the AWS
/// provider waits as long: ec2PropagationTimeout, 2 minutes).
const PROPAGATION: Duration = Duration::from_secs(120);

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
        let mut tags = ec2_tags(desired);
        tags.push(Tag::builder().key(PENDING.0).value(PENDING.1).build());
        let out = ec2
            .create_security_group()
            .group_name(req_str(desired, "name")?)
            .description(get_str(desired, "description").unwrap_or(DEFAULT_DESCRIPTION))
            .vpc_id(&vpc)
            .tag_specifications(
                TagSpecification::builder().resource_type(ResourceType::SecurityGroup).set_tags(Some(tags)).build(),
            )
            .send()
            .await
            .map_err(|e| aws_error("CreateSecurityGroup", e))?;
        let id = out.group_id().unwrap_or_default().to_string();
        let made = format!("security group {id}");
        wait_visible(&ec2, &id).await.map_err(|e| e.after_made(&made))?;
        revoke_default_egress(&ec2, &id).await.map_err(|e| e.after_made(&made))?;
        untag_pending(&ec2, &id).await.map_err(|e| e.after_made(&made))?;
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

    /// A group whose create was interrupted gets its default egress rule
    /// revoked here (the marker tag says so), then its tags set.
    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let ec2 = cx.aws.ec2(cx.region).await;
        if pending(prior) {
            revoke_default_egress(&ec2, id).await?;
        }
        sync_ec2_tags(&ec2, id, prior, desired).await
    }

    fn update_effect(&self, before: &Attrs, _after: &Attrs, _changed: &BTreeSet<String>) -> Option<String> {
        pending(before).then(|| {
            "an apply stopped while creating it: AWS's allow-all egress rule is removed now, as on create".into()
        })
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

/// Whether the group still carries the marker of an unfinished create.
fn pending(attrs: &Attrs) -> bool {
    attrs.get("tags").and_then(Value::as_map).and_then(|m| m.get(PENDING.0)).is_some()
}

/// Waits until EC2's other calls see a new group (DescribeSecurityGroups by
/// id stops answering InvalidGroup.NotFound).
async fn wait_visible(ec2: &aws_sdk_ec2::Client, id: &str) -> Result<(), KindError> {
    let start = std::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        match ec2.describe_security_groups().group_ids(id).send().await {
            Ok(out) if out.security_groups().iter().any(|g| g.group_id() == Some(id)) => return Ok(()),
            Ok(_) => {}
            Err(e) if is_gone(&e, GONE) => {}
            Err(e) => return Err(aws_error("DescribeSecurityGroups", e)),
        }
        if start.elapsed() >= PROPAGATION {
            return Err(KindError::Timeout {
                what: format!("security group {id} to become visible"),
                after: PROPAGATION,
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Revokes the allow-all egress rule AWS gives every new group, by its
/// permission: IPv4 `0.0.0.0/0`, and `::/0` in dual-stack VPCs (answered
/// InvalidPermission.NotFound, or InvalidParameterValue about a
/// remote-ipv6-range, elsewhere; the AWS provider ignores both). A repeat
/// finds nothing to revoke: safe after a lost answer. The group not yet
/// visible (InvalidGroup.NotFound) is waited for. 2 calls.
async fn revoke_default_egress(ec2: &aws_sdk_ec2::Client, id: &str) -> Result<(), KindError> {
    let v4 =
        IpPermission::builder().ip_protocol("-1").ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build()).build();
    let v6 =
        IpPermission::builder().ip_protocol("-1").ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build()).build();
    for (permission, v6) in [(v4, false), (v6, true)] {
        let start = std::time::Instant::now();
        loop {
            match ec2.revoke_security_group_egress().group_id(id).ip_permissions(permission.clone()).send().await {
                Ok(_) => break,
                Err(e) if is_gone(&e, &["InvalidPermission.NotFound"]) => break,
                Err(e)
                    if v6
                        && is_gone(&e, &["InvalidParameterValue"])
                        && aws_sdk_ec2::error::ProvideErrorMetadata::message(&e)
                            .is_some_and(|m| m.contains("remote-ipv6-range")) =>
                {
                    break;
                }
                Err(e) if is_gone(&e, &["InvalidGroup.NotFound"]) && start.elapsed() < PROPAGATION => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(aws_error("RevokeSecurityGroupEgress", e)),
            }
        }
    }
    Ok(())
}

/// Takes the marker off once the default rule is gone (DeleteTags is safe to repeat).
async fn untag_pending(ec2: &aws_sdk_ec2::Client, id: &str) -> Result<(), KindError> {
    ec2.delete_tags()
        .resources(id)
        .tags(Tag::builder().key(PENDING.0).build())
        .send()
        .await
        .map_err(|e| aws_error("DeleteTags", e))?;
    Ok(())
}
