//! App tier health: each Auto Scaling group has its desired capacity in
//! service, and its load balancer target groups have at least one healthy
//! target (what users reach). Used by `standby drift` (every region) and by
//! the switchover's readiness step (`app.` checks, the target region only).
//!
//! Calls: per group one DescribeAutoScalingGroups, and per target group one
//! DescribeTargetHealth (groups one after the other: two in the example; the
//! whole runs concurrently with the database and search checks).
//!
//! A group configured with no nodes (pilot light: the example's passive
//! region) is a warning in drift — by design, it cannot serve until scaled
//! up — and a failure in the region a switchover makes active: users would
//! be sent to a load balancer with nothing behind it.

use super::Check;
use super::dr::Input;
use crate::kinds::aws::aws_error;
use crate::state::Instance;
use crate::value::Value;
use serde_json::json;

/// The app checks of every recorded Auto Scaling group (in `input.target_region`
/// only, when set).
pub async fn checks(input: &Input<'_>) -> Result<Vec<Check>, Vec<String>> {
    let groups: Vec<(String, &Instance)> = input
        .recorded
        .resources
        .iter()
        .filter(|(_, i)| i.type_name == "aws_autoscaling_group")
        .filter(|(_, i)| input.target_region.is_none_or(|r| r == i.region))
        .map(|(a, i)| (a.to_string(), i))
        .collect();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (addr, inst) in &groups {
        match group(input, addr, inst).await {
            Ok(c) => out.extend(c),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

async fn group(input: &Input<'_>, addr: &str, inst: &Instance) -> Result<Vec<Check>, String> {
    let name = inst.id.clone().unwrap_or_default();
    let region = inst.region.as_str();
    let g = input
        .aws
        .autoscaling(region)
        .await
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&name)
        .send()
        .await
        .map_err(|e| format!("{addr}: {}", aws_error("DescribeAutoScalingGroups", e)))?;
    let g = g.auto_scaling_groups().iter().find(|g| g.auto_scaling_group_name() == Some(name.as_str())).cloned();
    let desired = g.as_ref().and_then(|g| g.desired_capacity()).unwrap_or(0);
    let in_service = g
        .iter()
        .flat_map(|g| g.instances())
        .filter(|i| i.lifecycle_state().is_some_and(|s| s.as_str() == "InService"))
        .filter(|i| i.health_status() != Some("Unhealthy"))
        .count() as i32;
    let switching_to = input.target_region.is_some();
    let mut out = vec![
        Check::new(
            "app.capacity",
            format!("app nodes in service in {region} ({name})"),
            g.is_some() && in_service >= desired,
        )
        .at(addr, "desired_capacity")
        .values(json!(desired), json!({"in_service": in_service, "group_exists": g.is_some()}))
        .impact(format!(
            "{region} serves with {in_service} of its {desired} app node(s): users there get errors or slow pages"
        ))
        .fix("see the group's activity history (failed launches, health check replacements)"),
    ];
    let tgs: Vec<String> = match &g {
        Some(g) => g.target_group_arns().to_vec(),
        None => inst
            .attrs
            .get("target_group_arns")
            .and_then(Value::as_list)
            .map(|l| l.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
    };
    let elb = input.aws.elbv2(region).await;
    for tg in tgs {
        let health = elb
            .describe_target_health()
            .target_group_arn(&tg)
            .send()
            .await
            .map_err(|e| format!("{addr}: {}", aws_error("DescribeTargetHealth", e)))?;
        let states: Vec<String> = health
            .target_health_descriptions()
            .iter()
            .map(|d| d.target_health().and_then(|h| h.state()).map(|s| s.as_str().to_string()).unwrap_or_default())
            .collect();
        let healthy = states.iter().filter(|s| *s == "healthy").count();
        let tg_name = tg.rsplit(':').next().and_then(|s| s.split('/').nth(1)).unwrap_or(&tg).to_string();
        let mut by_state = std::collections::BTreeMap::<&str, usize>::new();
        for s in &states {
            *by_state.entry(s.as_str()).or_default() += 1;
        }
        out.push(
            Check::new(
                "app.targets",
                format!("healthy targets behind the load balancer in {region} ({tg_name})"),
                healthy > 0,
            )
            .at(addr, "target_group_arns")
            .values(json!({"healthy": ">= 1"}), json!({"healthy": healthy, "targets": by_state}))
            .impact(if switching_to {
                format!(
                    "{region} has no healthy app node behind its load balancer: once it is active, users reach \
                     nothing (HTTP 503)"
                )
            } else {
                format!("{region}'s load balancer has no healthy app node: users sent there get HTTP 503")
            })
            .fix(if desired == 0 {
                "the group runs no nodes: scale it up (e.g. the example's `app_nodes_passive`), apply, wait for \
                 healthy targets, then switch"
            } else {
                "check the nodes' Mattermost service and the target group's health check (/api/v4/system/ping)"
            })
            // No nodes by design (pilot light) is only worth a look in drift.
            .warn_if(desired == 0 && !switching_to),
        );
    }
    Ok(out)
}
