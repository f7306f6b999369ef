//! App tier health: each Auto Scaling group has its desired capacity in
//! service, and its load balancer target groups have at least one healthy
//! target (what users reach). Used by `standby drift` (every region) and by
//! the switchover's readiness step (`app.` checks, the target region only).
//!
//! Calls: per group one DescribeAutoScalingGroups, and per target group one
//! DescribeTargetHealth (groups one after the other: two in the example; the
//! whole runs concurrently with the database and search checks).
//! Route 53's view too (`app.dns-health`): per health check of a recorded load
//! balancer, one GetHealthCheckStatus (what its checkers, from outside, see).
//!
//! A group configured with no nodes (pilot light: the example's passive
//! region) is a warning in drift — by design, it cannot serve until scaled
//! up — and a failure in the region a switchover makes active: users would
//! be sent to a load balancer with nothing behind it.

use super::Check;
use super::Input;
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
    out.extend(database_endpoints(input));
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
    // The active region: the global database's writer (none recorded: every
    // region counts as active).
    let active = input
        .recorded
        .resources
        .values()
        .find(|i| i.type_name == "aws_rds_global_cluster")
        .and_then(|g| g.attrs.get("writer_region").and_then(Value::as_str));
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
                )
                // The passive region may run no node by design (pilot light):
                // only worth a look in drift, as app.targets; the active one fails.
                .warn_if(passive_in_drift(input.target_region, active, region)),
        );
    }
    Ok(out)
}

/// A region's Route 53 health check only warns in drift when the region is
/// passive (not the global database's writer): a pilot-light region has no
/// node by design. The active region, and a switch's target, fail.
fn passive_in_drift(target_region: Option<&str>, active: Option<&str>, region: &str) -> bool {
    target_region.is_none() && active.is_some_and(|a| a != region)
}

/// The host of a PostgreSQL DSN (`postgres://user:pw@host:5432/db?…`).
fn dsn_host(dsn: &str) -> Option<&str> {
    let rest = dsn.split_once("://")?.1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split([':', '/', '?']).next().filter(|h| !h.is_empty())
}

/// Mattermost's `SqlSettings.DataSource` host in each region's settings is
/// an endpoint AWS keeps active through a switch: the global writer
/// endpoint ("always points to the writer DB instance in the current
/// primary cluster"), never a cluster's own writer endpoint, which AWS makes
/// inactive on a secondary (RDS API, `DBClusterEndpoint.Status`: "a writer
/// endpoint for a read-only secondary cluster in a global database").
/// Reads the recorded state only. Readiness looks at every region: both
/// serve while the runbook runs.
fn database_endpoints(input: &Input<'_>) -> Vec<Check> {
    let st = input.recorded;
    let s = |i: &Instance, k: &str| i.attrs.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let Some(global) = st.resources.values().find(|i| i.type_name == "aws_rds_global_cluster") else {
        return Vec::new();
    };
    let global_endpoint = s(global, "endpoint");
    let writer_region = s(global, "writer_region");
    let clusters: Vec<(String, String, String)> = st
        .resources
        .values()
        .filter(|i| i.type_name == "aws_rds_cluster")
        .map(|i| (s(i, "endpoint"), s(i, "cluster_identifier"), i.region.clone()))
        .collect();
    let mut out = Vec::new();
    for (addr, inst) in st.resources.iter().filter(|(_, i)| i.type_name == "standby_mattermost_config") {
        let secret = inst
            .attrs
            .get("secrets")
            .and_then(Value::as_map)
            .and_then(|m| m.get("MM_SQLSETTINGS_DATASOURCE"))
            .and_then(Value::as_map)
            .and_then(|m| m.get("template"))
            .and_then(Value::as_str);
        let plain = inst
            .attrs
            .get("environment")
            .and_then(Value::as_map)
            .and_then(|m| m.get("MM_SQLSETTINGS_DATASOURCE"))
            .and_then(Value::as_str);
        let Some(host) = secret.or(plain).and_then(dsn_host) else { continue };
        let region = inst.region.as_str();
        let own = clusters.iter().find(|(e, _, _)| !e.is_empty() && e == host);
        let (ok, warn, why) = match own {
            _ if !global_endpoint.is_empty() && host == global_endpoint => {
                (true, false, "the global writer endpoint follows the writer through switchovers and failovers".into())
            }
            Some((_, cluster, r)) => {
                let writer_after = input.target_region.unwrap_or(&writer_region);
                if r.as_str() != writer_region {
                    (
                        false,
                        false,
                        format!(
                            "{cluster}'s own writer endpoint is inactive while {cluster} is a secondary: Mattermost in \
                         {region} cannot write{}",
                            if input.target_region == Some(r.as_str()) { " until the switch" } else { "" }
                        ),
                    )
                } else if r.as_str() != writer_after {
                    (
                        false,
                        false,
                        format!(
                            "{cluster}'s own writer endpoint becomes inactive when the switch makes {cluster} a \
                         secondary: Mattermost in {region} then cannot write"
                        ),
                    )
                } else {
                    (
                        false,
                        true,
                        format!(
                            "{cluster}'s own writer endpoint works while {cluster} is the writer, and becomes inactive \
                         after a switchover or failover"
                        ),
                    )
                }
            }
            None => (false, true, format!("{host} is not an endpoint of the global database standby manages")),
        };
        out.push(
            Check::new("app.database_endpoint", format!("Mattermost's database endpoint in {region}"), ok)
                .at(addr.to_string(), "secrets")
                .values(json!({"host": global_endpoint}), json!({"host": host}))
                .impact(why)
                .fix(
                    "set Mattermost's DataSource host to the global writer endpoint (the Aurora module's \
                     `global_writer_endpoint` output) and its DataSourceReplicas to the region's reader endpoint, \
                     apply (the nodes roll), then switch",
                )
                .warn_if(warn),
        );
    }
    out
}

/// What one Auto Scaling group and its target groups show.
pub struct Group {
    pub name: String,
    pub region: String,
    pub exists: bool,
    pub desired: i32,
    pub in_service: i32,
    /// Per target group: its name, healthy targets, and targets by state.
    pub targets: Vec<(String, usize, std::collections::BTreeMap<String, usize>)>,
}

impl Group {
    /// Serving: its desired capacity (at least one node) in service, and a
    /// healthy target behind each of its target groups.
    pub fn serves(&self) -> bool {
        self.exists && self.desired > 0 && self.in_service >= self.desired && self.targets.iter().all(|t| t.1 > 0)
    }

    /// In a few words: `2 of 2 nodes in service, 2 healthy targets (tg)`.
    pub fn describe(&self) -> String {
        if !self.exists {
            return format!("{} not found", self.name);
        }
        let tgs: Vec<String> = self
            .targets
            .iter()
            .map(|(n, h, by)| {
                let others: Vec<String> =
                    by.iter().filter(|(s, _)| s.as_str() != "healthy").map(|(s, k)| format!("{k} {s}")).collect();
                let others = if others.is_empty() { String::new() } else { format!(", {}", others.join(", ")) };
                format!("{h} healthy target(s) in {n}{others}")
            })
            .collect();
        format!("{}: {} of {} node(s) in service, {}", self.name, self.in_service, self.desired, tgs.join("; "))
    }
}

/// Reads the group `inst` (recorded at `addr`): one DescribeAutoScalingGroups,
/// one DescribeTargetHealth per target group.
pub async fn read_group(aws: &crate::aws::Aws, addr: &str, inst: &Instance) -> Result<Group, String> {
    let name = inst.id.clone().unwrap_or_default();
    let region = inst.region.as_str();
    let g = aws
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
    let tgs: Vec<String> = match &g {
        Some(g) => g.target_group_arns().to_vec(),
        None => inst
            .attrs
            .get("target_group_arns")
            .and_then(Value::as_list)
            .map(|l| l.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
    };
    let elb = aws.elbv2(region).await;
    let mut targets = Vec::new();
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
        let mut by_state = std::collections::BTreeMap::<String, usize>::new();
        for s in states {
            *by_state.entry(s).or_default() += 1;
        }
        targets.push((tg_name, healthy, by_state));
    }
    Ok(Group { name, region: region.to_string(), exists: g.is_some(), desired, in_service, targets })
}

/// Every recorded Auto Scaling group of `region`, read now.
pub async fn groups(aws: &crate::aws::Aws, st: &crate::state::State, region: &str) -> Result<Vec<Group>, String> {
    let mut out = Vec::new();
    for (addr, inst) in
        st.resources.iter().filter(|(_, i)| i.type_name == "aws_autoscaling_group" && i.region == region)
    {
        out.push(read_group(aws, &addr.to_string(), inst).await?);
    }
    Ok(out)
}

async fn group(input: &Input<'_>, addr: &str, inst: &Instance) -> Result<Vec<Check>, String> {
    let Group { name, region, exists, desired, in_service, targets } = read_group(input.aws, addr, inst).await?;
    let region = region.as_str();
    let switching_to = input.target_region.is_some();
    let mut out = vec![
        Check::new(
            "app.capacity",
            format!("app nodes in service in {region} ({name})"),
            exists && in_service >= desired,
        )
        .at(addr, "desired_capacity")
        .values(json!(desired), json!({"in_service": in_service, "group_exists": exists}))
        .impact(format!(
            "{region} serves with {in_service} of its {desired} app node(s): users there get errors or slow pages"
        ))
        .fix("see the group's activity history (failed launches, health check replacements)"),
    ];
    for (tg_name, healthy, by_state) in targets {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Review N9: a pilot-light passive region's Route 53 health check fails
    /// by design; drift warns about it there and fails for the active region;
    /// a switch's readiness (a target region) never softens it.
    #[test]
    fn route53_health_warns_for_the_passive_region_in_drift_only() {
        assert!(passive_in_drift(None, Some("us-west-1"), "us-east-1"));
        assert!(!passive_in_drift(None, Some("us-west-1"), "us-west-1"));
        assert!(!passive_in_drift(Some("us-east-1"), Some("us-west-1"), "us-east-1"));
        assert!(!passive_in_drift(None, None, "us-east-1"));
    }
}
