//! App tier health: each Auto Scaling group has its desired capacity in
//! service, and its load balancer target groups have at least one healthy
//! target (what users reach). Used by `standby drift` (every region) and by
//! the switchover's readiness step (`app.` checks, the target region only).
//!
//! Route 53's view too (`app.dns-health`): per health check of a recorded load
//! balancer, one GetHealthCheckStatus (what its checkers, from outside, see).
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
    match route53(input).await {
        Ok(c) => out.extend(c),
        Err(e) => errors.push(e),
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// Route 53 considers an endpoint healthy when more than 18 % of its
/// checkers report it healthy (Route 53 Developer Guide, "How Amazon Route
/// 53 determines whether a health check is healthy").
const HEALTHY_SHARE: f64 = 0.18;

/// `app.dns-health`: what Route 53's own checkers see of each recorded health
/// check that probes a recorded load balancer (of the target region, when
/// set): one GetHealthCheckStatus each. A check no checker can reach (a
/// load balancer closed to Route 53's ranges) fails here, where target
/// health alone would look fine: DNS would never fail over to, or away
/// from, that region.
async fn route53(input: &Input<'_>) -> Result<Vec<Check>, String> {
    let lbs: Vec<(&str, String)> = input
        .recorded
        .resources
        .values()
        .filter(|i| i.type_name == "aws_lb")
        .filter(|i| input.target_region.is_none_or(|r| r == i.region))
        .filter_map(|i| Some((i.region.as_str(), i.attrs.get("dns_name")?.as_str()?.to_ascii_lowercase())))
        .collect();
    let mut out = Vec::new();
    for (addr, inst) in input.recorded.resources.iter().filter(|(_, i)| i.type_name == "aws_route53_health_check") {
        let fqdn = inst.attrs.get("fqdn").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
        let Some((region, _)) = lbs.iter().find(|(_, dns)| *dns == fqdn.trim_end_matches('.')) else { continue };
        let Some(id) = inst.id.as_deref() else { continue };
        let status = input
            .aws
            .route53()
            .await
            .get_health_check_status()
            .health_check_id(id)
            .send()
            .await
            .map_err(|e| format!("{addr}: {}", aws_error("GetHealthCheckStatus", e)))?;
        let seen: Vec<&str> = status
            .health_check_observations()
            .iter()
            .filter_map(|o| o.status_report().and_then(|r| r.status()))
            .collect();
        let ok = seen.iter().filter(|s| s.starts_with("Success")).count();
        let healthy = !seen.is_empty() && ok as f64 / seen.len() as f64 > HEALTHY_SHARE;
        let failing = seen.iter().find(|s| !s.starts_with("Success")).map(|s| s.to_string());
        out.push(
            Check::new("app.dns-health", format!("Route 53's health check of the load balancer in {region}"), healthy)
                .at(addr.to_string(), "fqdn")
                .values(
                    json!({"healthy_checkers": format!("> {:.0}%", HEALTHY_SHARE * 100.0)}),
                    json!({"healthy_checkers": ok, "checkers": seen.len(), "failing": failing}),
                )
                .impact(format!(
                    "Route 53 sees {region}'s Mattermost as down: its failover record does not take users (or \
                     moves them away) whatever the nodes' own health"
                ))
                .fix(
                    "let Route 53's health checkers reach the load balancer (the app tier module's \
                     route53_health_checkers, AWS's prefix list com.amazonaws.<region>.route53-healthchecks) and \
                     check the health check's path and port",
                ),
        );
    }
    Ok(out)
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
