//! `instance_refresh` of an `aws_autoscaling_group`, shaped like the AWS
//! provider's block: when the group's launch template (id or version) — or a
//! property named in `triggers` — changes, the update starts a rolling
//! instance refresh after UpdateAutoScalingGroup and **waits until it ends**.
//!
//! **Why wait** (the provider does not): running nodes read their settings
//! (user data) only at boot. A switchover turns Mattermost's job scheduler
//! off in one region before it turns it on in the other; if the apply
//! returned while the old nodes still ran, both regions could run the
//! scheduler at once, or neither. Waiting makes "applied" mean "running".
//!
//! **Flow, safe to repeat and to resume after a kill.** Before starting,
//! DescribeInstanceRefreshes: a refresh already under way towards the same
//! launch template version (one this apply, or a killed earlier one,
//! started and whose answer was lost) is waited on, not started twice. One
//! under way towards something else is cancelled (waited until Cancelled)
//! and a new one started, as the AWS provider does when AWS answers
//! InstanceRefreshInProgress. Failed or Cancelled ends the update with AWS's
//! StatusReason. The wait is bounded by the resource's update timeout
//! (`timeouts: { update: … }`); a refresh still running then goes on in AWS,
//! and the next apply waits for it.
//!
//! Calls per refresh: 1 DescribeInstanceRefreshes, 1 StartInstanceRefresh,
//! then 1 DescribeInstanceRefreshes per poll (backoff from 250 ms ×1.5, capped at
//! [`POLL_CAP`]).

use crate::kinds::aws::{aws_error, get_i64, get_str};
use crate::kinds::{KindError, PropProblem};
use crate::value::{Attrs, Value};
use aws_sdk_autoscaling::types::{
    DesiredConfiguration, InstanceRefresh, LaunchTemplateSpecification, RefreshPreferences, RefreshStrategy,
};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The most a wait sleeps between looks.
pub const POLL_CAP: Duration = Duration::from_secs(5);

/// The computed attribute counting nodes that run another launch template
/// version than the group's.
pub const OUTDATED: &str = "outdated_instances";

/// Properties whose change always starts a refresh (they cannot be triggers).
const ALWAYS: &[&str] = &["launch_template_id", "launch_template_version"];

const KEYS: &[&str] = &["strategy", "preferences", "triggers"];
const PREFS: &[&str] =
    &["min_healthy_percentage", "max_healthy_percentage", "instance_warmup", "skip_matching", "auto_rollback"];

/// The block, as configured (validated).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    pub min_healthy: Option<i64>,
    pub max_healthy: Option<i64>,
    pub warmup: Option<i64>,
    pub skip_matching: Option<bool>,
    pub auto_rollback: Option<bool>,
    pub triggers: Vec<String>,
}

impl Config {
    pub fn of(attrs: &Attrs) -> Option<Config> {
        let m = attrs.get("instance_refresh")?.as_map()?;
        let p = m.get("preferences").and_then(Value::as_map);
        let num = |k: &str| p.and_then(|p| p.get(k)).and_then(Value::as_i64);
        let flag = |k: &str| p.and_then(|p| p.get(k)).and_then(Value::as_bool);
        Some(Config {
            min_healthy: num("min_healthy_percentage"),
            max_healthy: num("max_healthy_percentage"),
            warmup: num("instance_warmup"),
            skip_matching: flag("skip_matching"),
            auto_rollback: flag("auto_rollback"),
            triggers: m
                .get("triggers")
                .and_then(Value::as_list)
                .map(|l| l.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
        })
    }

    fn preferences(&self) -> RefreshPreferences {
        RefreshPreferences::builder()
            .set_min_healthy_percentage(self.min_healthy.map(|n| n as i32))
            .set_max_healthy_percentage(self.max_healthy.map(|n| n as i32))
            .set_instance_warmup(self.warmup.map(|n| n as i32))
            .set_skip_matching(self.skip_matching)
            .set_auto_rollback(self.auto_rollback)
            .build()
    }
}

/// Checks the block: known keys, `Rolling`, percentages, triggers that are
/// properties of the group. `props` are the group's property names.
pub fn validate(attrs: &Attrs, props: &[&str]) -> Vec<PropProblem> {
    let mut out = Vec::new();
    let Some(v) = attrs.get("instance_refresh") else { return out };
    if v.is_null() || v.has_unknown() {
        return out;
    }
    let err = |m: String| PropProblem::error("instance_refresh", m);
    let Some(m) = v.as_map() else {
        out.push(err(format!("must be a map ({}), not a {}", KEYS.join(", "), v.type_name())));
        return out;
    };
    for k in m.keys().filter(|k| !KEYS.contains(&k.as_str())) {
        out.push(err(format!("unknown key `{k}` (known: {})", KEYS.join(", "))));
    }
    if let Some(s) = m.get("strategy").filter(|s| s.as_str() != Some("Rolling")) {
        out.push(err(format!("strategy must be `Rolling` (the only one AWS has), not {s}")));
    }
    if let Some(p) = m.get("preferences") {
        match p.as_map() {
            None => out.push(err("preferences must be a map".into())),
            Some(p) => {
                for k in p.keys().filter(|k| !PREFS.contains(&k.as_str())) {
                    out.push(err(format!("unknown preference `{k}` (known: {})", PREFS.join(", "))));
                }
                let range = |k: &str, lo: i64, hi: i64| {
                    p.get(k).filter(|v| !v.has_unknown()).and_then(|v| match v.as_i64() {
                        Some(n) if (lo..=hi).contains(&n) => None,
                        _ => Some(format!("preferences.{k} must be a whole number from {lo} to {hi}")),
                    })
                };
                out.extend(range("min_healthy_percentage", 0, 100).map(err));
                out.extend(range("max_healthy_percentage", 100, 200).map(err));
                // RefreshPreferences.MaxHealthyPercentage (Auto Scaling API
                // reference): "If you specify MaxHealthyPercentage, you must
                // also specify MinHealthyPercentage, and the difference
                // between them cannot be greater than 100."
                let num = |k: &str| p.get(k).filter(|v| !v.has_unknown()).and_then(Value::as_i64);
                match (num("min_healthy_percentage"), num("max_healthy_percentage")) {
                    (None, Some(_)) if !p.get("min_healthy_percentage").is_some_and(Value::has_unknown) => out.push(err(
                        "preferences.max_healthy_percentage needs min_healthy_percentage too (AWS refuses it alone)".into(),
                    )),
                    (Some(lo), Some(hi)) if hi - lo > 100 => out.push(err(format!(
                        "preferences: max_healthy_percentage ({hi}) may be at most 100 above min_healthy_percentage ({lo})"
                    ))),
                    _ => {}
                }
                // A small group with no room above its size loses its nodes:
                // AWS replaces at least one node at a time, and with the
                // default maximum (100%) the replacement cannot start before
                // the old node stops.
                let nodes = attrs.get("desired_capacity").filter(|v| !v.has_unknown()).and_then(Value::as_i64);
                let room = num("max_healthy_percentage").unwrap_or(100) > 100;
                if let Some(n @ 1..=2) = nodes
                    && !room
                    && !p.get("max_healthy_percentage").is_some_and(Value::has_unknown)
                {
                    let lost = if n == 1 {
                        "its only node (no node serves"
                    } else {
                        "one of its two nodes (half the capacity"
                    };
                    out.push(PropProblem::warning(
                        "instance_refresh",
                        format!(
                            "a refresh of this {n}-node group stops {lost} until the replacement is up): set \
                             preferences.max_healthy_percentage above 100 (e.g. 200, with min_healthy_percentage \
                             100) so replacements launch first"
                        ),
                    ));
                }
                out.extend(range("instance_warmup", 0, i32::MAX.into()).map(err));
                for k in ["skip_matching", "auto_rollback"] {
                    if p.get(k).is_some_and(|v| v.as_bool().is_none() && !v.has_unknown()) {
                        out.push(err(format!("preferences.{k} must be true or false")));
                    }
                }
            }
        }
    }
    for t in m.get("triggers").and_then(Value::as_list).unwrap_or_default() {
        let t = t.as_str().unwrap_or_default();
        if ALWAYS.contains(&t) {
            out.push(err(format!("trigger `{t}`: a change of the launch template always starts a refresh; remove it")));
        } else if !props.contains(&t) || t == "instance_refresh" {
            out.push(err(format!("trigger `{t}` is not a property of aws_autoscaling_group")));
        }
    }
    let version = attrs.get("launch_template_version");
    if version.is_none_or(Value::is_null) || matches!(version.and_then(Value::as_str), Some("$Latest" | "$Default")) {
        out.push(PropProblem::warning(
            "launch_template_version",
            "with `$Latest` or `$Default` a new launch template version is not a change of this group, so no \
             instance refresh starts: use the template's `latest_version`",
        ));
    }
    out
}

/// Why an update replaces the nodes, when it does: the properties that
/// start a refresh, those in `changed`, or nodes left on another version.
fn triggered(cfg: &Config, changed: &dyn Fn(&str) -> bool, outdated: i64) -> bool {
    ALWAYS.iter().any(|p| changed(p)) || cfg.triggers.iter().any(|t| changed(t)) || outdated > 0
}

/// The plan's words for an update that rolls the nodes, e.g. "instances
/// replaced by a rolling refresh (2 nodes)".
pub fn plan_effect(before: &Attrs, after: &Attrs, changed: &BTreeSet<String>) -> Option<String> {
    let cfg = Config::of(after)?;
    let outdated = get_i64(before, OUTDATED).unwrap_or(0);
    let nodes = get_i64(before, "desired_capacity").unwrap_or(0);
    if !triggered(&cfg, &|p| changed.contains(p), outdated) {
        return None;
    }
    // Only the outdated ones when nothing else changed and matching nodes are skipped.
    let template = triggered(&cfg, &|p| changed.contains(p), 0);
    let n = if !template && cfg.skip_matching == Some(true) { outdated } else { nodes.max(outdated) };
    (n > 0).then(|| {
        let healthy = cfg.min_healthy.unwrap_or(90);
        let how = if cfg.max_healthy.is_some_and(|m| m > 100) {
            "new nodes launched before the ones they replace stop".to_string()
        } else {
            format!("at least {healthy}% kept in service")
        };
        format!("instances replaced by a rolling refresh ({n} node{}, {how})", if n == 1 { "" } else { "s" })
    })
}

/// Counts InService nodes launched from another version than the group's
/// (only when the group names a version number).
pub fn outdated(g: &aws_sdk_autoscaling::types::AutoScalingGroup) -> i64 {
    let Some(t) = g.launch_template() else { return 0 };
    let (Some(id), Some(version)) = (t.launch_template_id(), t.version()) else { return 0 };
    if version.parse::<u64>().is_err() {
        return 0;
    }
    g.instances()
        .iter()
        .filter(|i| i.lifecycle_state().is_some_and(|s| s.as_str() == "InService"))
        .filter(|i| {
            i.launch_template().is_some_and(|lt| lt.launch_template_id() != Some(id) || lt.version() != Some(version))
        })
        .count() as i64
}

fn active(r: &InstanceRefresh) -> bool {
    matches!(
        r.status().map(|s| s.as_str()),
        Some("Pending" | "InProgress" | "Cancelling" | "RollbackInProgress" | "Baking")
    )
}

/// The launch template a refresh moves the group to.
fn aims_at(r: &InstanceRefresh) -> Option<(&str, &str)> {
    let t = r.desired_configuration()?.launch_template()?;
    Some((t.launch_template_id()?, t.version()?))
}

/// Starts (or finds) the refresh the update needs and waits for it to end.
/// `prior` is what AWS reported before the update, `desired` what it set.
/// Returns what happened, for the progress line; `None` when nothing to do.
pub async fn run(
    asg: &aws_sdk_autoscaling::Client,
    group: &str,
    prior: &Attrs,
    desired: &Attrs,
    timeout: Duration,
) -> Result<Option<String>, KindError> {
    let Some(cfg) = Config::of(desired) else { return Ok(None) };
    // Versions compare as text (a number in YAML, a string from AWS).
    let changed = |p: &str| match (prior.get(p), desired.get(p)) {
        (Some(a), Some(b)) if ALWAYS.contains(&p) => a.to_interpolated() != b.to_interpolated(),
        (a, b) => a != b,
    };
    let outdated = get_i64(prior, OUTDATED).unwrap_or(0);
    let nodes = get_i64(desired, "desired_capacity").or_else(|| get_i64(prior, "desired_capacity")).unwrap_or(0);
    if !triggered(&cfg, &changed, outdated) || nodes == 0 {
        return Ok(None);
    }
    let template_id = get_str(desired, "launch_template_id").unwrap_or_default().to_string();
    let version = desired
        .get("launch_template_version")
        .and_then(Value::to_interpolated)
        .unwrap_or_else(|| "$Latest".to_string());
    let started = Instant::now();
    // Leave a little of the operation's time to say what is left.
    let deadline = started + timeout.saturating_sub(Duration::from_secs(2));
    let mut asked = false;
    let mut cancelled: Option<String> = None;
    let mut delay = Duration::from_millis(250);
    let mut ours: Option<String> = None;
    loop {
        let out = asg
            .describe_instance_refreshes()
            .auto_scaling_group_name(group)
            .set_instance_refresh_ids(ours.clone().map(|id| vec![id]))
            .send()
            .await
            .map_err(|e| aws_error("DescribeInstanceRefreshes", e))?;
        let list = out.instance_refreshes();
        let current = match &ours {
            Some(id) => list.iter().find(|r| r.instance_refresh_id() == Some(id.as_str())),
            None => list.iter().find(|r| active(r)),
        };
        match current {
            // Under way towards this version: ours (perhaps started by a killed apply).
            Some(r) if active(r) && (ours.is_some() || aims_at(r) == Some((&template_id, &version))) => {
                let id = r.instance_refresh_id().unwrap_or_default().to_string();
                crate::kinds::report_status(format!(
                    "instance refresh {}: {}% complete, {} node(s) to replace, {}s elapsed",
                    r.status().map(|s| s.as_str()).unwrap_or("?"),
                    r.percentage_complete().unwrap_or(0),
                    r.instances_to_update().unwrap_or(0),
                    started.elapsed().as_secs()
                ));
                ours = Some(id);
            }
            // Under way towards something else: cancelled, then ours starts.
            Some(r) if active(r) => {
                let id = r.instance_refresh_id().unwrap_or_default().to_string();
                if cancelled.as_deref() != Some(id.as_str()) {
                    crate::kinds::report_status(format!("cancelling instance refresh {id} (another configuration)"));
                    match asg.cancel_instance_refresh().auto_scaling_group_name(group).send().await {
                        Ok(_) => {}
                        Err(e)
                            if e.as_service_error().is_some_and(|s| s.is_active_instance_refresh_not_found_fault()) => {
                        }
                        Err(e) => return Err(aws_error("CancelInstanceRefresh", e)),
                    }
                    cancelled = Some(id);
                }
            }
            Some(r) if ours.is_some() => {
                let status = r.status().map(|s| s.as_str()).unwrap_or("?");
                let id = r.instance_refresh_id().unwrap_or_default();
                if status == "Successful" {
                    return Ok(Some(format!(
                        "instance refresh {id} successful: {nodes} node(s) replaced in {}s",
                        started.elapsed().as_secs()
                    )));
                }
                return Err(KindError::Failed(format!(
                    "instance refresh {id} of {group} ended {status}: {}\n  hint: the nodes may run mixed launch \
                     template versions now; see the group's activity history, fix the cause and apply again (a new \
                     refresh replaces the nodes still on another version)",
                    r.status_reason().unwrap_or("AWS gave no reason")
                )));
            }
            // None under way: start ours (once; a lost answer is found by the next look).
            _ if !asked => {
                let res = asg
                    .start_instance_refresh()
                    .auto_scaling_group_name(group)
                    .strategy(RefreshStrategy::Rolling)
                    .desired_configuration(
                        DesiredConfiguration::builder()
                            .launch_template(
                                LaunchTemplateSpecification::builder()
                                    .launch_template_id(&template_id)
                                    .version(&version)
                                    .build(),
                            )
                            .build(),
                    )
                    .preferences(cfg.preferences())
                    .send()
                    .await;
                match res {
                    Ok(o) => ours = o.instance_refresh_id().map(str::to_string),
                    // Started meanwhile (by another run): the next look decides.
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_instance_refresh_in_progress_fault()) => {}
                    Err(e) => {
                        let err = aws_error("StartInstanceRefresh", e);
                        if err.refused() {
                            return Err(err);
                        }
                        // Unsure whether it started: the next look decides.
                    }
                }
                asked = true;
                continue;
            }
            // Asked, yet nothing under way: AWS may not list it yet.
            _ => {
                if started.elapsed() > Duration::from_secs(60) {
                    return Err(KindError::Failed(format!(
                        "StartInstanceRefresh for {group} was sent but no refresh shows in DescribeInstanceRefreshes"
                    )));
                }
            }
        }
        if Instant::now() > deadline {
            return Err(KindError::Failed(format!(
                "the instance refresh of {group} is still running after {}s: it goes on in AWS; `standby apply` \
                 again waits for it (it is not started twice), or cancel it with `aws autoscaling \
                 cancel-instance-refresh --auto-scaling-group-name {group}`\n  hint: raise this resource's \
                 `timeouts: {{ update: … }}` for groups with many nodes or a long instance_warmup",
                started.elapsed().as_secs()
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 3 / 2).min(POLL_CAP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(json: serde_json::Value) -> Attrs {
        match Value::from_json(&json) {
            Value::Map(m) => m,
            _ => unreachable!(),
        }
    }

    const PROPS: &[&str] = &["name", "launch_template_id", "launch_template_version", "tags", "instance_refresh"];

    #[test]
    fn the_block_is_checked_before_any_call() {
        let ok = attrs(serde_json::json!({"launch_template_version": "3", "instance_refresh": {
            "strategy": "Rolling", "preferences": {"min_healthy_percentage": 90, "skip_matching": true},
            "triggers": ["tags"]}}));
        assert_eq!(validate(&ok, PROPS), Vec::new());
        let bad = attrs(serde_json::json!({"launch_template_version": "$Latest", "instance_refresh": {
            "strategy": "Replace", "colour": 1,
            "preferences": {"min_healthy_percentage": 120, "warmup": 3, "skip_matching": "yes"},
            "triggers": ["launch_template_version", "nope", "instance_refresh"]}}));
        let got: Vec<String> = validate(&bad, PROPS).into_iter().map(|p| p.message).collect();
        for want in [
            "unknown key `colour`",
            "strategy must be `Rolling`",
            "unknown preference `warmup`",
            "preferences.min_healthy_percentage must be a whole number from 0 to 100",
            "preferences.skip_matching must be true or false",
            "trigger `launch_template_version`: a change of the launch template always starts a refresh",
            "trigger `nope` is not a property",
            "trigger `instance_refresh` is not a property",
            "with `$Latest` or `$Default`",
        ] {
            assert!(got.iter().any(|m| m.contains(want)), "{want:?} not in {got:#?}");
        }
    }

    #[test]
    fn a_small_group_keeps_its_nodes_through_a_refresh() {
        let one = |prefs: serde_json::Value| {
            let a = attrs(serde_json::json!({"launch_template_version": "3", "desired_capacity": 1,
                "instance_refresh": {"preferences": prefs}}));
            validate(&a, PROPS).into_iter().map(|p| p.message).collect::<Vec<_>>()
        };
        let got = one(serde_json::json!({"min_healthy_percentage": 90}));
        assert!(got.iter().any(|m| m.contains("stops its only node")), "{got:?}");
        assert_eq!(
            one(serde_json::json!({"min_healthy_percentage": 100, "max_healthy_percentage": 200})),
            Vec::<String>::new()
        );
        let got = one(serde_json::json!({"max_healthy_percentage": 150}));
        assert!(got.iter().any(|m| m.contains("needs min_healthy_percentage too")), "{got:?}");
        let got = one(serde_json::json!({"min_healthy_percentage": 50, "max_healthy_percentage": 200}));
        assert!(got.iter().any(|m| m.contains("at most 100 above")), "{got:?}");
    }

    #[test]
    fn the_plan_says_how_many_nodes_are_replaced() {
        let block = serde_json::json!({"preferences": {"skip_matching": true}, "triggers": ["tags"]});
        let before = attrs(serde_json::json!({"desired_capacity": 3, "outdated_instances": 0}));
        let after = attrs(serde_json::json!({"desired_capacity": 3, "instance_refresh": block}));
        let changed = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<String>>();
        assert_eq!(
            plan_effect(&before, &after, &changed(&["launch_template_version"])).as_deref(),
            Some("instances replaced by a rolling refresh (3 nodes, at least 90% kept in service)")
        );
        assert!(plan_effect(&before, &after, &changed(&["tags"])).is_some(), "a trigger");
        assert_eq!(plan_effect(&before, &after, &changed(&["max_size"])), None);
        // Nodes left on another version (a killed apply): only those, with skip_matching.
        let behind = attrs(serde_json::json!({"desired_capacity": 3, "outdated_instances": 1}));
        assert_eq!(
            plan_effect(&behind, &after, &changed(&["outdated_instances"])).as_deref(),
            Some("instances replaced by a rolling refresh (1 node, at least 90% kept in service)")
        );
        // Room above the group's size: replacements first, and said so.
        let first = serde_json::json!({"preferences": {"min_healthy_percentage": 100, "max_healthy_percentage": 200}});
        let after_first = attrs(serde_json::json!({"desired_capacity": 1, "instance_refresh": first}));
        assert_eq!(
            plan_effect(&before, &after_first, &changed(&["launch_template_version"])).as_deref(),
            Some(
                "instances replaced by a rolling refresh (3 nodes, new nodes launched before the ones they replace stop)"
            )
        );
        // Without the block, nothing is said.
        let plain = attrs(serde_json::json!({"desired_capacity": 3}));
        assert_eq!(plan_effect(&before, &plain, &changed(&["launch_template_version"])), None);
    }
}
