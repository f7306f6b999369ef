//! `aws_autoscaling_group`: the app nodes of one region, launched from a
//! launch template and registered in target groups; a node that dies is
//! replaced. id = the group name.
//!
//! A new launch template version reaches the group as an in-place update
//! (UpdateAutoScalingGroup): nodes launched from then on use it. With
//! `instance_refresh`, the update also replaces the running nodes by a
//! rolling instance refresh and waits for it ([`super::instance_refresh`]).

use super::instance_refresh::{self, OUTDATED};
use super::{default_network, list_value, set_value, str_list};
use crate::kinds::aws::{aws_error, get_i64, get_str, put_reported, req_str, tag_changes, tags_of};
use crate::kinds::schema::{Prop, ProviderName, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag};
use std::collections::BTreeSet;

pub struct AutoscalingGroup;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("name", Type::String, "Group name (1–255 characters).").force_new(),
        Prop::required("launch_template_id", Type::String, "Launch template id (`lt-…`)."),
        Prop::optional(
            "launch_template_version",
            Type::String,
            "Version to launch: a number, `$Latest` (the default) or `$Default`.",
        ),
        Prop::required("min_size", Type::Number, "Fewest nodes."),
        Prop::required("max_size", Type::Number, "Most nodes."),
        Prop::optional("desired_capacity", Type::Number, "Nodes to run (AWS keeps its own when not set).")
            .or_computed(),
        Prop::optional(
            "vpc_zone_identifier",
            Type::List(&Type::String),
            "Subnets; the default VPC's default subnets when not set.",
        )
        .or_computed(),
        Prop::optional("target_group_arns", Type::List(&Type::String), "Target groups the nodes are registered in."),
        Prop::optional(
            "health_check_type",
            Type::String,
            "`ELB` (the load balancer's health check, the default) or `EC2`.",
        ),
        Prop::optional(
            "health_check_grace_period",
            Type::Number,
            "Seconds before a new node's health counts (default 300).",
        ),
        Prop::optional("tags", Type::Map(&Type::String), "Tags, also given to the nodes it launches."),
        Prop::optional(
            "instance_refresh",
            Type::Any,
            "Replace the running nodes when the launch template (or a property in `triggers`) changes, as the \
             AWS provider's block: `strategy: Rolling`, `preferences` (`min_healthy_percentage` default 90, \
             `max_healthy_percentage`, `instance_warmup` seconds, `skip_matching`, `auto_rollback`), `triggers` \
             (more property names). The update waits until the refresh ends.",
        ),
        Prop::optional(
            OUTDATED,
            Type::Number,
            "Reported with `instance_refresh`: running nodes launched from another launch template version than \
             the group's (a refresh replaces them). Not to be set.",
        )
        .or_computed(),
        Prop::computed("arn", Type::String, "Group ARN."),
    ],
};

fn template(desired: &Attrs) -> LaunchTemplateSpecification {
    LaunchTemplateSpecification::builder()
        .set_launch_template_id(get_str(desired, "launch_template_id").map(str::to_string))
        .version(get_str(desired, "launch_template_version").unwrap_or("$Latest"))
        .build()
}

fn asg_tags(name: &str, tags: impl IntoIterator<Item = (String, String)>) -> Vec<Tag> {
    tags.into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(k)
                .value(v)
                .propagate_at_launch(true)
                .build()
        })
        .collect()
}

/// The AWS provider's `launch_template { id, version }` block (checkov's
/// CKV_AWS_315).
static PROVIDER_NAMES: [ProviderName; 2] = [
    ProviderName::new("launch_template_id", "launch_template.id"),
    ProviderName::new("launch_template_version", "launch_template.version"),
];

#[async_trait]
impl Kind for AutoscalingGroup {
    fn type_name(&self) -> &'static str {
        "aws_autoscaling_group"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn provider_names(&self) -> &'static [ProviderName] {
        &PROVIDER_NAMES
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        let (min, max) = (get_i64(props, "min_size"), get_i64(props, "max_size"));
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            out.push(PropProblem::error("min_size", format!("is above max_size ({min} > {max})")));
        }
        if let (Some(d), Some(min), Some(max)) = (get_i64(props, "desired_capacity"), min, max)
            && !(min..=max).contains(&d)
        {
            out.push(PropProblem::error(
                "desired_capacity",
                format!("must be between min_size and max_size ({min}–{max})"),
            ));
        }
        if let Some(t) = get_str(props, "health_check_type")
            && !["ELB", "EC2"].contains(&t)
        {
            out.push(PropProblem::error("health_check_type", "must be `ELB` or `EC2`"));
        }
        if let Some(v) = get_str(props, "launch_template_version")
            && !(v == "$Latest" || v == "$Default" || v.parse::<u64>().is_ok())
        {
            out.push(PropProblem::error(
                "launch_template_version",
                "must be a version number, `$Latest` or `$Default`",
            ));
        }
        if props.contains_key(OUTDATED) {
            out.push(PropProblem::error(OUTDATED, "is reported by AWS, not set"));
        }
        if props.get("instance_refresh").is_some_and(|v| !v.is_null()) {
            let names: Vec<&str> = SCHEMA.props.iter().filter(|p| p.is_input()).map(|p| p.name).collect();
            out.extend(instance_refresh::validate(props, &names));
        }
        out
    }

    fn update_effect(&self, before: &Attrs, after: &Attrs, changed: &BTreeSet<String>) -> Option<String> {
        instance_refresh::plan_effect(before, after, changed)
    }

    fn derive(&self, planned: &mut Attrs) {
        planned.entry("launch_template_version".into()).or_insert_with(|| Value::str("$Latest"));
        planned.entry("health_check_type".into()).or_insert_with(|| Value::str("ELB"));
        planned.entry("health_check_grace_period".into()).or_insert_with(|| Value::int(300));
        // Every node runs the group's version once the apply is done.
        if planned.get("instance_refresh").is_some_and(|v| !v.is_null()) {
            planned.insert(OUTDATED.into(), Value::int(0));
        }
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match (prop, v) {
            ("vpc_zone_identifier" | "target_group_arns", _) => set_value(v),
            // A number written as a string in YAML.
            ("launch_template_version", Value::Number(n)) => Value::String(n.to_string()),
            _ => v.clone(),
        }
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "name").map(str::to_string)
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let name = req_str(desired, "name")?;
        let mut attrs = desired.clone();
        self.derive(&mut attrs);
        let subnets = match str_list(desired, "vpc_zone_identifier") {
            s if !s.is_empty() => s,
            _ => default_network(&cx.aws.ec2(cx.region).await).await?.1,
        };
        attrs.insert("vpc_zone_identifier".into(), list_value(subnets.iter().map(String::as_str)));
        let tgs = str_list(desired, "target_group_arns");
        let asg = cx.aws.autoscaling(cx.region).await;
        let req = asg
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_template(template(&attrs))
            .min_size(get_i64(desired, "min_size").unwrap_or(0) as i32)
            .max_size(get_i64(desired, "max_size").unwrap_or(0) as i32)
            .set_desired_capacity(get_i64(desired, "desired_capacity").map(|n| n as i32))
            .vpc_zone_identifier(subnets.join(","))
            .set_target_group_arns((!tgs.is_empty()).then_some(tgs))
            .set_health_check_type(get_str(&attrs, "health_check_type").map(str::to_string))
            .set_health_check_grace_period(get_i64(&attrs, "health_check_grace_period").map(|n| n as i32))
            .set_tags(Some(asg_tags(name, tags_of(desired))).filter(|t| !t.is_empty()));
        // The launch template's instance profile, made moments ago, is
        // refused until IAM propagates it to EC2 ("ValidationError: You must
        // use a valid fully-formed launch template. Value (…) for parameter
        // iamInstanceProfile.name is invalid. Invalid IAM Instance Profile
        // name"): retried as the AWS provider does (autoscaling/group.go,
        // resourceGroupCreate: RetryWhenAWSErrMessageContains, 2 minutes).
        crate::kinds::aws::while_propagating(
            "the launch template's instance profile to EC2",
            |e| crate::kinds::aws::error_says(e, "ValidationError", "Invalid IAM Instance Profile"),
            || async { req.clone().send().await.map_err(|e| aws_error("CreateAutoScalingGroup", e)) },
        )
        .await?;
        Ok(Created { id: name.to_string(), attrs })
    }

    // read: 1 call (DescribeAutoScalingGroups; it carries the tags and the
    // target groups).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let out = cx
            .aws
            .autoscaling(cx.region)
            .await
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(id)
            .send()
            .await
            .map_err(|e| aws_error("DescribeAutoScalingGroups", e))?;
        let Some(g) = out.auto_scaling_groups().iter().find(|g| g.auto_scaling_group_name() == Some(id)) else {
            return Ok(None);
        };
        // Deleting: AWS still lists it while it terminates its nodes.
        if g.status().is_some_and(|s| s.starts_with("Delete")) {
            return Ok(None);
        }
        let mut a = Attrs::new();
        a.insert("name".into(), Value::str(id));
        if let Some(t) = g.launch_template() {
            a.insert("launch_template_id".into(), Value::str(t.launch_template_id().unwrap_or_default()));
            a.insert("launch_template_version".into(), Value::str(t.version().unwrap_or("$Default")));
        }
        a.insert("min_size".into(), Value::int(g.min_size().unwrap_or_default().into()));
        a.insert("max_size".into(), Value::int(g.max_size().unwrap_or_default().into()));
        a.insert("desired_capacity".into(), Value::int(g.desired_capacity().unwrap_or_default().into()));
        let subnets: Vec<&str> =
            g.vpc_zone_identifier().unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        a.insert("vpc_zone_identifier".into(), list_value(subnets));
        put_reported(&mut a, prior, "target_group_arns", list_value(g.target_group_arns().iter().map(String::as_str)));
        a.insert("health_check_type".into(), Value::str(g.health_check_type().unwrap_or("EC2")));
        a.insert("health_check_grace_period".into(), Value::int(g.health_check_grace_period().unwrap_or(0).into()));
        a.insert("arn".into(), Value::str(g.auto_scaling_group_arn().unwrap_or_default()));
        let tags = g
            .tags()
            .iter()
            .filter(|t| !t.key().unwrap_or_default().starts_with("aws:"))
            .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()));
        put_reported(&mut a, prior, "tags", crate::kinds::aws::tags_value(tags));
        // standby's own: what the configuration said.
        if let Some(r) = prior.get("instance_refresh").filter(|v| !v.is_null()) {
            a.insert("instance_refresh".into(), r.clone());
            a.insert(OUTDATED.into(), Value::int(instance_refresh::outdated(g)));
        }
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let asg = cx.aws.autoscaling(cx.region).await;
        let mut d = desired.clone();
        self.derive(&mut d);
        let subnets = str_list(&d, "vpc_zone_identifier");
        // UpdateAutoScalingGroup sets what it is given and is safe to repeat.
        asg.update_auto_scaling_group()
            .auto_scaling_group_name(id)
            .launch_template(template(&d))
            .min_size(get_i64(&d, "min_size").unwrap_or(0) as i32)
            .max_size(get_i64(&d, "max_size").unwrap_or(0) as i32)
            .set_desired_capacity(get_i64(&d, "desired_capacity").map(|n| n as i32))
            .set_vpc_zone_identifier((!subnets.is_empty()).then(|| subnets.join(",")))
            .set_health_check_type(get_str(&d, "health_check_type").map(str::to_string))
            .set_health_check_grace_period(get_i64(&d, "health_check_grace_period").map(|n| n as i32))
            .send()
            .await
            .map_err(|e| aws_error("UpdateAutoScalingGroup", e))?;
        let (old, new) = (str_list(prior, "target_group_arns"), str_list(&d, "target_group_arns"));
        let attach: Vec<String> = new.iter().filter(|t| !old.contains(t)).cloned().collect();
        let detach: Vec<String> = old.iter().filter(|t| !new.contains(t)).cloned().collect();
        if !attach.is_empty() {
            asg.attach_load_balancer_target_groups()
                .auto_scaling_group_name(id)
                .set_target_group_arns(Some(attach))
                .send()
                .await
                .map_err(|e| aws_error("AttachLoadBalancerTargetGroups", e))?;
        }
        if !detach.is_empty() {
            asg.detach_load_balancer_target_groups()
                .auto_scaling_group_name(id)
                .set_target_group_arns(Some(detach))
                .send()
                .await
                .map_err(|e| aws_error("DetachLoadBalancerTargetGroups", e))?;
        }
        let (set, remove) = tag_changes(prior, desired);
        if !remove.is_empty() {
            let tags = asg_tags(id, remove.into_iter().map(|k| (k, String::new())));
            asg.delete_tags().set_tags(Some(tags)).send().await.map_err(|e| aws_error("DeleteTags", e))?;
        }
        if !set.is_empty() {
            asg.create_or_update_tags()
                .set_tags(Some(asg_tags(id, set)))
                .send()
                .await
                .map_err(|e| aws_error("CreateOrUpdateTags", e))?;
        }
        // After the group names the new version: the running nodes are replaced.
        if let Some(done) = instance_refresh::run(&asg, id, prior, &d, cx.timeout).await? {
            crate::kinds::report_status(done);
        }
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        let asg = cx.aws.autoscaling(cx.region).await;
        // ForceDelete terminates the nodes with the group.
        match asg.delete_auto_scaling_group().auto_scaling_group_name(id).force_delete(true).send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    aws_sdk_autoscaling::error::ProvideErrorMetadata::message(s)
                        .is_some_and(|m| m.contains("not found"))
                }) => {}
            Err(e) => return Err(aws_error("DeleteAutoScalingGroup", e)),
        }
        // The nodes hold their security groups until they are gone.
        crate::kinds::report_status("terminating its nodes");
        crate::kinds::rds::poll(|| async { Ok(self.read(cx, id, prior).await?.is_none().then_some(())) }).await
    }
}
