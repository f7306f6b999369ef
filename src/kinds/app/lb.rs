//! `aws_lb`: an Application Load Balancer in front of one region's app
//! nodes. id = its ARN. Created `provisioning`; standby waits until it is
//! `active`.

use super::{default_network, list_value, set_value, str_list};
use crate::kinds::aws::{aws_error, get_str, is_gone, put_reported, req_str, tag_changes, tags_of, tags_value};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::Client as Elb;
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerSchemeEnum, LoadBalancerStateEnum, LoadBalancerTypeEnum, Tag};

pub struct Lb;

const GONE: &[&str] = &["LoadBalancerNotFound"];

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("name", Type::String, "Name (1–32 of letters, digits and `-`, not starting `internal-`).")
            .force_new(),
        Prop::optional("internal", Type::Bool, "Internal (private addresses only); internet-facing unless true.")
            .force_new(),
        Prop::optional("load_balancer_type", Type::String, "`application` (the only type standby makes).").force_new(),
        Prop::optional("security_groups", Type::List(&Type::String), "Security groups of the load balancer."),
        Prop::optional(
            "subnets",
            Type::List(&Type::String),
            "Subnets in 2+ Availability Zones; the default VPC's when not set.",
        )
        .or_computed(),
        Prop::optional("tags", Type::Map(&Type::String), "Tags."),
        Prop::computed("arn", Type::String, "Load balancer ARN."),
        Prop::computed("dns_name", Type::String, "Its DNS name (for a Route 53 alias)."),
        Prop::computed("zone_id", Type::String, "Its canonical hosted zone id (for a Route 53 alias)."),
        Prop::computed("vpc_id", Type::String, "Its VPC."),
    ],
};

pub(crate) fn elb_tags(tags: impl IntoIterator<Item = (String, String)>) -> Vec<Tag> {
    tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// A resource's tags (1 call, DescribeTags).
pub(crate) async fn read_tags(elb: &Elb, arn: &str) -> Result<Value, KindError> {
    let out = elb.describe_tags().resource_arns(arn).send().await.map_err(|e| aws_error("DescribeTags", e))?;
    let tags = out
        .tag_descriptions()
        .iter()
        .filter(|d| d.resource_arn() == Some(arn))
        .flat_map(|d| d.tags())
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .filter(|(k, _)| !k.starts_with("aws:"));
    Ok(tags_value(tags))
}

/// AddTags / RemoveTags (both idempotent).
pub(crate) async fn sync_tags(elb: &Elb, arn: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
    let (set, remove) = tag_changes(prior, desired);
    if !remove.is_empty() {
        elb.remove_tags()
            .resource_arns(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| aws_error("RemoveTags", e))?;
    }
    if !set.is_empty() {
        elb.add_tags()
            .resource_arns(arn)
            .set_tags(Some(elb_tags(set)))
            .send()
            .await
            .map_err(|e| aws_error("AddTags", e))?;
    }
    Ok(())
}

/// ELB names: letters, digits and `-`, not at either end.
pub(crate) fn check_name(props: &Attrs, out: &mut Vec<PropProblem>) {
    let Some(n) = get_str(props, "name") else { return };
    if n.is_empty()
        || n.len() > 32
        || n.starts_with('-')
        || n.ends_with('-')
        || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        out.push(PropProblem::error(
            "name",
            "must be 1–32 of letters, digits and `-`, not starting or ending with `-`",
        ));
    }
}

#[async_trait]
impl Kind for Lb {
    fn type_name(&self) -> &'static str {
        "aws_lb"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        check_name(props, &mut out);
        if get_str(props, "name").is_some_and(|n| n.starts_with("internal-")) {
            out.push(PropProblem::error("name", "cannot start with `internal-`"));
        }
        if let Some(t) = get_str(props, "load_balancer_type")
            && t != "application"
        {
            out.push(PropProblem::error("load_balancer_type", "only `application` load balancers are supported"));
        }
        let subnets = str_list(props, "subnets");
        if props.get("subnets").is_some_and(|v| !v.has_unknown()) && subnets.len() < 2 {
            out.push(PropProblem::error(
                "subnets",
                "an application load balancer needs subnets in at least 2 Availability Zones",
            ));
        }
        out
    }

    fn derive(&self, planned: &mut Attrs) {
        planned.entry("internal".into()).or_insert(Value::Bool(false));
        planned.entry("load_balancer_type".into()).or_insert_with(|| Value::str("application"));
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        if matches!(prop, "subnets" | "security_groups") { set_value(v) } else { v.clone() }
    }

    fn finds_by_natural_key(&self) -> bool {
        true
    }

    // 1 call (DescribeLoadBalancers by name).
    async fn find(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Option<String>, KindError> {
        let name = req_str(desired, "name")?;
        match cx.aws.elbv2(cx.region).await.describe_load_balancers().names(name).send().await {
            Ok(out) => Ok(out.load_balancers().first().and_then(|l| l.load_balancer_arn()).map(str::to_string)),
            Err(e) if is_gone(&e, GONE) => Ok(None),
            Err(e) => Err(aws_error("DescribeLoadBalancers", e)),
        }
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let mut attrs = desired.clone();
        self.derive(&mut attrs);
        let subnets = match str_list(desired, "subnets") {
            s if !s.is_empty() => s,
            _ => default_network(&cx.aws.ec2(cx.region).await).await?.1,
        };
        let groups = str_list(desired, "security_groups");
        let internal = attrs.get("internal").and_then(Value::as_bool).unwrap_or(false);
        // CreateLoadBalancer is idempotent: the same name and settings
        // return the existing load balancer.
        let out = cx
            .aws
            .elbv2(cx.region)
            .await
            .create_load_balancer()
            .name(req_str(desired, "name")?)
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(if internal { LoadBalancerSchemeEnum::Internal } else { LoadBalancerSchemeEnum::InternetFacing })
            .set_subnets(Some(subnets.clone()))
            .set_security_groups((!groups.is_empty()).then_some(groups))
            .set_tags(Some(elb_tags(tags_of(desired))).filter(|t| !t.is_empty()))
            .send()
            .await
            .map_err(|e| aws_error("CreateLoadBalancer", e))?;
        let Some(lb) = out.load_balancers().first() else {
            return Err(KindError::Failed("AWS returned no load balancer".into()));
        };
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        attrs.insert("subnets".into(), list_value(subnets));
        Ok(Created { id: arn, attrs })
    }

    async fn wait_ready(&self, cx: &Ctx<'_>, id: &str) -> Result<(), KindError> {
        let elb = cx.aws.elbv2(cx.region).await;
        crate::kinds::rds::poll(|| async {
            let out = elb
                .describe_load_balancers()
                .load_balancer_arns(id)
                .send()
                .await
                .map_err(|e| aws_error("DescribeLoadBalancers", e))?;
            let state = out.load_balancers().first().and_then(|l| l.state()).and_then(|s| s.code()).cloned();
            match state {
                Some(LoadBalancerStateEnum::Active) => Ok(Some(())),
                Some(LoadBalancerStateEnum::Failed) => {
                    Err(KindError::Failed("the load balancer failed to provision".into()))
                }
                s => {
                    crate::kinds::report_status(s.map(|s| s.as_str().to_string()).unwrap_or_default());
                    Ok(None)
                }
            }
        })
        .await
    }

    // read: 2 calls (DescribeLoadBalancers, DescribeTags).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let elb = cx.aws.elbv2(cx.region).await;
        let out = match elb.describe_load_balancers().load_balancer_arns(id).send().await {
            Ok(out) => out,
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(aws_error("DescribeLoadBalancers", e)),
        };
        let Some(lb) = out.load_balancers().iter().find(|l| l.load_balancer_arn() == Some(id)) else { return Ok(None) };
        let mut a = Attrs::new();
        a.insert("name".into(), Value::str(lb.load_balancer_name().unwrap_or_default()));
        a.insert("internal".into(), Value::Bool(lb.scheme() == Some(&LoadBalancerSchemeEnum::Internal)));
        a.insert("load_balancer_type".into(), Value::str(lb.r#type().map(|t| t.as_str()).unwrap_or("application")));
        put_reported(&mut a, prior, "security_groups", list_value(lb.security_groups().iter().map(String::as_str)));
        let subnets = lb.availability_zones().iter().filter_map(|z| z.subnet_id());
        a.insert("subnets".into(), list_value(subnets));
        a.insert("arn".into(), Value::str(id));
        a.insert("dns_name".into(), Value::str(lb.dns_name().unwrap_or_default()));
        a.insert("zone_id".into(), Value::str(lb.canonical_hosted_zone_id().unwrap_or_default()));
        a.insert("vpc_id".into(), Value::str(lb.vpc_id().unwrap_or_default()));
        put_reported(&mut a, prior, "tags", read_tags(&elb, id).await?);
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let elb = cx.aws.elbv2(cx.region).await;
        let differs = |k: &str| {
            self.normalize(k, prior.get(k).unwrap_or(&Value::Null))
                != self.normalize(k, desired.get(k).unwrap_or(&Value::Null))
        };
        if differs("security_groups") {
            elb.set_security_groups()
                .load_balancer_arn(id)
                .set_security_groups(Some(str_list(desired, "security_groups")))
                .send()
                .await
                .map_err(|e| aws_error("SetSecurityGroups", e))?;
        }
        if desired.get("subnets").is_some() && differs("subnets") {
            elb.set_subnets()
                .load_balancer_arn(id)
                .set_subnets(Some(str_list(desired, "subnets")))
                .send()
                .await
                .map_err(|e| aws_error("SetSubnets", e))?;
        }
        sync_tags(&elb, id, prior, desired).await
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        match cx.aws.elbv2(cx.region).await.delete_load_balancer().load_balancer_arn(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_gone(&e, GONE) => Ok(()),
            Err(e) => Err(aws_error("DeleteLoadBalancer", e)),
        }
    }
}
