//! `aws_lb_target_group`: the app nodes behind a load balancer, with the
//! health check that decides which of them get traffic. id = its ARN.

use super::default_network;
use super::lb::{check_name, elb_tags, read_tags, sync_tags};
use crate::kinds::aws::{aws_error, get_i64, get_str, is_gone, put_reported, req_str, tags_of};
use crate::kinds::schema::{Prop, ProviderName, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{Matcher, ProtocolEnum, TargetTypeEnum};

pub struct LbTargetGroup;

const GONE: &[&str] = &["TargetGroupNotFound"];

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("name", Type::String, "Name (1–32 of letters, digits and `-`).").force_new(),
        Prop::required("port", Type::Number, "Port the nodes listen on (Mattermost: 8065).").force_new(),
        Prop::required("protocol", Type::String, "`HTTP` or `HTTPS`.").force_new(),
        Prop::optional("vpc_id", Type::String, "VPC; the region's default VPC when not set.").or_computed().force_new(),
        Prop::optional("target_type", Type::String, "`instance` (the default) or `ip`.").force_new(),
        Prop::optional("health_check_path", Type::String, "Path of the health check (default `/`)."),
        Prop::optional("health_check_matcher", Type::String, "HTTP codes that mean healthy (default `200`)."),
        Prop::optional("health_check_interval", Type::Number, "Seconds between checks (5–300, default 30)."),
        Prop::optional("healthy_threshold", Type::Number, "Passes before healthy (2–10, default 5)."),
        Prop::optional("unhealthy_threshold", Type::Number, "Failures before unhealthy (2–10, default 2)."),
        Prop::optional("tags", Type::Map(&Type::String), "Tags."),
        Prop::computed("arn", Type::String, "Target group ARN."),
    ],
};

/// Health check settings and AWS's defaults for HTTP target groups.
const HEALTH: &[(&str, Option<i64>)] =
    &[("health_check_interval", Some(30)), ("healthy_threshold", Some(5)), ("unhealthy_threshold", Some(2))];

/// The AWS provider's `health_check { … }` block (checkov's CKV_AWS_261).
static PROVIDER_NAMES: [ProviderName; 5] = [
    ProviderName::new("health_check_path", "health_check.path").or("\"/\""),
    ProviderName::new("health_check_matcher", "health_check.matcher").or("\"200\""),
    ProviderName::new("health_check_interval", "health_check.interval").or("30"),
    ProviderName::new("healthy_threshold", "health_check.healthy_threshold").or("5"),
    ProviderName::new("unhealthy_threshold", "health_check.unhealthy_threshold").or("2"),
];

#[async_trait]
impl Kind for LbTargetGroup {
    fn type_name(&self) -> &'static str {
        "aws_lb_target_group"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn provider_names(&self) -> &'static [ProviderName] {
        &PROVIDER_NAMES
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        check_name(props, &mut out);
        if let Some(p) = get_str(props, "protocol")
            && !["HTTP", "HTTPS"].contains(&p)
        {
            out.push(PropProblem::error("protocol", "must be `HTTP` or `HTTPS`"));
        }
        if let Some(p) = get_i64(props, "port")
            && !(1..=65535).contains(&p)
        {
            out.push(PropProblem::error("port", "must be 1–65535"));
        }
        if let Some(p) = get_str(props, "health_check_path")
            && !p.starts_with('/')
        {
            out.push(PropProblem::error("health_check_path", "must start with `/`"));
        }
        for (k, range) in
            [("health_check_interval", 5..=300), ("healthy_threshold", 2..=10), ("unhealthy_threshold", 2..=10)]
        {
            if let Some(n) = get_i64(props, k)
                && !range.contains(&n)
            {
                out.push(PropProblem::error(k, format!("must be {}–{}", range.start(), range.end())));
            }
        }
        out
    }

    fn derive(&self, planned: &mut Attrs) {
        planned.entry("target_type".into()).or_insert_with(|| Value::str("instance"));
        planned.entry("health_check_path".into()).or_insert_with(|| Value::str("/"));
        planned.entry("health_check_matcher".into()).or_insert_with(|| Value::str("200"));
        for (k, d) in HEALTH {
            if let Some(d) = d {
                planned.entry(k.to_string()).or_insert(Value::int(*d));
            }
        }
    }

    fn finds_by_natural_key(&self) -> bool {
        true
    }

    // 1 call (DescribeTargetGroups by name).
    async fn find(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Option<String>, KindError> {
        let name = req_str(desired, "name")?;
        match cx.aws.elbv2(cx.region).await.describe_target_groups().names(name).send().await {
            Ok(out) => Ok(out.target_groups().first().and_then(|t| t.target_group_arn()).map(str::to_string)),
            Err(e) if is_gone(&e, GONE) => Ok(None),
            Err(e) => Err(aws_error("DescribeTargetGroups", e)),
        }
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let mut a = desired.clone();
        self.derive(&mut a);
        let vpc = match get_str(desired, "vpc_id") {
            Some(v) => v.to_string(),
            None => default_network(&cx.aws.ec2(cx.region).await).await?.0,
        };
        let protocol = ProtocolEnum::from(req_str(desired, "protocol")?);
        // Idempotent: the same name and settings return the existing group.
        let out = cx
            .aws
            .elbv2(cx.region)
            .await
            .create_target_group()
            .name(req_str(desired, "name")?)
            .port(get_i64(desired, "port").unwrap_or(80) as i32)
            .protocol(protocol.clone())
            .vpc_id(&vpc)
            .target_type(TargetTypeEnum::from(get_str(&a, "target_type").unwrap_or("instance")))
            .health_check_protocol(protocol)
            .set_health_check_path(get_str(&a, "health_check_path").map(str::to_string))
            .matcher(Matcher::builder().http_code(get_str(&a, "health_check_matcher").unwrap_or("200")).build())
            .set_health_check_interval_seconds(get_i64(&a, "health_check_interval").map(|n| n as i32))
            .set_healthy_threshold_count(get_i64(&a, "healthy_threshold").map(|n| n as i32))
            .set_unhealthy_threshold_count(get_i64(&a, "unhealthy_threshold").map(|n| n as i32))
            .set_tags(Some(elb_tags(tags_of(desired))).filter(|t| !t.is_empty()))
            .send()
            .await
            .map_err(|e| aws_error("CreateTargetGroup", e))?;
        let Some(tg) = out.target_groups().first() else {
            return Err(KindError::Failed("AWS returned no target group".into()));
        };
        a.insert("vpc_id".into(), Value::str(vpc));
        Ok(Created { id: tg.target_group_arn().unwrap_or_default().to_string(), attrs: a })
    }

    // read: 2 calls (DescribeTargetGroups, DescribeTags).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let elb = cx.aws.elbv2(cx.region).await;
        let out = match elb.describe_target_groups().target_group_arns(id).send().await {
            Ok(out) => out,
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(aws_error("DescribeTargetGroups", e)),
        };
        let Some(tg) = out.target_groups().iter().find(|t| t.target_group_arn() == Some(id)) else { return Ok(None) };
        let mut a = Attrs::new();
        a.insert("name".into(), Value::str(tg.target_group_name().unwrap_or_default()));
        a.insert("port".into(), Value::int(tg.port().unwrap_or_default().into()));
        a.insert("protocol".into(), Value::str(tg.protocol().map(|p| p.as_str()).unwrap_or_default()));
        a.insert("vpc_id".into(), Value::str(tg.vpc_id().unwrap_or_default()));
        a.insert("target_type".into(), Value::str(tg.target_type().map(|t| t.as_str()).unwrap_or("instance")));
        a.insert("health_check_path".into(), Value::str(tg.health_check_path().unwrap_or("/")));
        a.insert("health_check_matcher".into(), Value::str(tg.matcher().and_then(|m| m.http_code()).unwrap_or("200")));
        let mut put = |k: &str, n: Option<i32>| {
            if let Some(n) = n {
                a.insert(k.to_string(), Value::int(n.into()));
            }
        };
        put("health_check_interval", tg.health_check_interval_seconds());
        put("healthy_threshold", tg.healthy_threshold_count());
        put("unhealthy_threshold", tg.unhealthy_threshold_count());
        a.insert("arn".into(), Value::str(id));
        put_reported(&mut a, prior, "tags", read_tags(&elb, id).await?);
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let elb = cx.aws.elbv2(cx.region).await;
        let mut d = desired.clone();
        self.derive(&mut d);
        let health = [
            "health_check_path",
            "health_check_matcher",
            "health_check_interval",
            "healthy_threshold",
            "unhealthy_threshold",
        ];
        if health.iter().any(|k| prior.get(*k) != d.get(*k)) {
            // ModifyTargetGroup sets what it is given: safe to repeat.
            elb.modify_target_group()
                .target_group_arn(id)
                .set_health_check_path(get_str(&d, "health_check_path").map(str::to_string))
                .matcher(Matcher::builder().http_code(get_str(&d, "health_check_matcher").unwrap_or("200")).build())
                .set_health_check_interval_seconds(get_i64(&d, "health_check_interval").map(|n| n as i32))
                .set_healthy_threshold_count(get_i64(&d, "healthy_threshold").map(|n| n as i32))
                .set_unhealthy_threshold_count(get_i64(&d, "unhealthy_threshold").map(|n| n as i32))
                .send()
                .await
                .map_err(|e| aws_error("ModifyTargetGroup", e))?;
        }
        sync_tags(&elb, id, prior, desired).await
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        let elb = cx.aws.elbv2(cx.region).await;
        // A listener deleted just before may still hold it for a moment.
        crate::kinds::rds::poll(|| async {
            match elb.delete_target_group().target_group_arn(id).send().await {
                Ok(_) => Ok(Some(())),
                Err(e) if is_gone(&e, GONE) => Ok(Some(())),
                Err(e) if is_gone(&e, &["ResourceInUse"]) => Ok(None),
                Err(e) => Err(aws_error("DeleteTargetGroup", e)),
            }
        })
        .await
    }
}
