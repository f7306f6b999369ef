//! What users see move in a role switch: Mattermost's job scheduler (each
//! region's app-tier settings, launch template and Auto Scaling group, whose
//! desired capacity can follow the role too) and DNS (Route 53 records).
//! Both are ordinary changes of the plan; they run as runbook steps
//! ([`StepAction::Changes`]) so that they happen in the safe order (see
//! [`super::build`] and [`super::failover`]): scheduler off in the old
//! active region, then on in the new, DNS to the new once it serves.
//!
//! Which changes belong to which step follows from their kinds and regions
//! (never from the example's addresses), plus whatever not-yet-applied
//! change they depend on, so that each step can be applied on its own.

use crate::plan::runbook::{Step, StepAction};
use crate::plan::{Action, Plan, ResourceChange};
use std::collections::{BTreeMap, BTreeSet};

/// The kinds that carry an app tier's settings (RunScheduler) to its nodes:
/// the settings, the launch template rendering them, and the Auto Scaling
/// group that moves to the new template version (and rolls its nodes).
pub const SCHEDULER_KINDS: [&str; 3] = ["standby_mattermost_config", "aws_launch_template", "aws_autoscaling_group"];
/// The kinds that point users at a region.
pub const DNS_KINDS: [&str; 1] = ["aws_route53_record"];
/// Route 53 is global; its control plane (record changes) is signed for,
/// and lives in, us-east-1.
pub const ROUTE53_REGION: &str = "us-east-1";

/// Step ids.
pub const SCHEDULER_OFF: &str = "app.scheduler-off";
pub const SCHEDULER_ON: &str = "app.scheduler-on";
pub const DNS: &str = "dns.to-active";
pub const SCALE_IN: &str = "app.scale-in";
/// An Auto Scaling group's capacity: in a planned switchover the old active
/// region keeps it until users have left (DNS moved), then shrinks.
pub const CAPACITY: [&str; 3] = ["desired_capacity", "min_size", "max_size"];
/// `STANDBY_SWITCHOVER_DRAIN_SECS`: in a planned switchover, how long the old
/// active region keeps its nodes after DNS has moved (default 120: a
/// resolver keeps an alias answer for its TTL, which Route 53 fixes at 60 s
/// for load balancers, and a browser keeps the address it got another 60 s,
/// Chromium's host cache).
pub const ENV_DRAIN_SECS: &str = "STANDBY_SWITCHOVER_DRAIN_SECS";

/// The scheduler and DNS steps of a switch, where the plan changes
/// something of theirs.
#[derive(Default)]
pub struct Front {
    /// Scheduler off in the old active region.
    pub off: Option<Step>,
    /// Scheduler on (and capacity up) in the new.
    pub on: Option<Step>,
    pub dns: Option<Step>,
}

/// The scheduler and DNS steps of a switch `from_region` → `to_region`.
pub fn steps(plan: &Plan, from_region: &str, to_region: &str) -> Front {
    let mut claimed = BTreeSet::new();
    let mut step = |id: &str, needs: &str, title: String, kinds: &[&str], in_region: Option<&str>| {
        let seeds: Vec<&ResourceChange> = plan
            .changes
            .iter()
            .filter(|c| c.action != Action::NoOp && kinds.contains(&c.type_name.as_str()))
            .filter(|c| in_region.is_none_or(|r| c.region == r))
            .collect();
        let addresses = with_dependencies(plan, &seeds, &mut claimed);
        (!addresses.is_empty())
            .then(|| Step::new(id, title, &[needs], StepAction::Changes { addresses, hold: BTreeMap::new() }))
    };
    let off = step(
        SCHEDULER_OFF,
        from_region,
        format!(
            "Job scheduler OFF in {from_region} (the old active region): its Mattermost settings, a new launch \
             template version, and the Auto Scaling group moved to it"
        ),
        &SCHEDULER_KINDS,
        Some(from_region),
    );
    let on = step(
        SCHEDULER_ON,
        to_region,
        format!(
            "Job scheduler ON in {to_region} (the new active region): its Mattermost settings, a new launch template \
             version, and the Auto Scaling group moved to it (and scaled up, where its capacity follows the role)"
        ),
        &SCHEDULER_KINDS,
        Some(to_region),
    );
    let dns = step(
        DNS,
        ROUTE53_REGION,
        format!(
            "DNS to {to_region}: the failover records' PRIMARY points at its load balancer (Route 53, signed for \
             {ROUTE53_REGION})"
        ),
        &DNS_KINDS,
        None,
    );
    Front { off, on, dns }
}

/// In a planned switchover: `off` (the old active region's scheduler step)
/// leaves its Auto Scaling groups' capacity as it is, and the returned step
/// (`app.scale-in`, to be run `drain_secs` after DNS has moved: the caller
/// names the step to wait after, [`Step::after`]) shrinks them, so that the
/// region that holds every user keeps its nodes until users have followed
/// DNS to the new one. The scheduler still moves first: the held nodes are
/// replaced by nodes with it off. `dns`: the plan moves DNS (else the wait
/// follows the step before, and says that no DNS record moves users).
pub fn hold_capacity(plan: &Plan, off: &mut Step, drain_secs: u64, dns: bool) -> Option<Step> {
    let StepAction::Changes { addresses, hold } = &mut off.action else { return None };
    let groups: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| addresses.contains(&c.address) && c.type_name == "aws_autoscaling_group")
        .filter(|c| c.action == Action::Update && CAPACITY.iter().any(|k| c.changed.contains(*k)))
        .map(|c| c.address.clone())
        .collect();
    if groups.is_empty() {
        return None;
    }
    for g in &groups {
        hold.insert(g.clone(), CAPACITY.iter().map(|k| k.to_string()).collect());
    }
    off.title = format!(
        "{}; its capacity stays as it is until users have left (app.scale-in)",
        off.title.trim_end_matches('.')
    );
    let region = off.region.clone();
    let when = if dns {
        format!("{drain_secs}s after DNS moved (resolvers and browsers keep the old answer that long)")
    } else {
        format!(
            "{drain_secs}s after the step before (this plan changes no DNS record: users are moved to the new region \
             by whatever else points them there)"
        )
    };
    Some(Step::new(
        SCALE_IN,
        format!(
            "Capacity of {region} (the old active region) to its passive size, {when}: the Auto Scaling groups' \
             desired, minimum and maximum size"
        ),
        &[&region],
        StepAction::Changes { addresses: groups, hold: BTreeMap::new() },
    ))
}

/// The old active region's Auto Scaling groups that `off` would replace or
/// delete: their nodes would go before the new region serves, whatever
/// [`hold_capacity`] holds (it keeps an updated group's size only), so
/// readiness refuses such a plan, saying how to get past it.
pub fn replaced_groups(plan: &Plan, off: &Step, to_region: &str) -> Vec<String> {
    let StepAction::Changes { addresses, .. } = &off.action else { return Vec::new() };
    plan.changes
        .iter()
        .filter(|c| addresses.contains(&c.address) && c.type_name == "aws_autoscaling_group")
        .filter(|c| matches!(c.action, Action::Replace | Action::Delete))
        .map(|c| {
            format!(
                "{} ({}, the region users are in) is {} in {SCHEDULER_OFF}: its nodes would go before {to_region} \
                 serves, and users would get errors until DNS moved. Switch over without that change (keep the \
                 group's current values in the configuration) and make it once the region is passive; applied on \
                 its own while the region serves, it takes the nodes down just the same",
                c.address,
                c.region,
                if c.action == Action::Delete { "deleted" } else { "replaced" }
            )
        })
        .collect()
}

/// `plan` with the attributes in `hold` kept at their values before (not
/// changed by this step); a change left with nothing else is dropped.
pub fn held(mut plan: Plan, hold: &BTreeMap<String, Vec<String>>) -> Plan {
    for c in plan.changes.iter_mut() {
        let Some(keys) = hold.get(&c.address) else { continue };
        for k in keys {
            let was = c.before.as_ref().and_then(|b| b.get(k)).cloned();
            if let (Some(after), Some(was)) = (c.after.as_mut(), was) {
                after.insert(k.clone(), was);
            }
            c.changed.remove(k);
        }
    }
    plan.changes.retain(|c| !(c.action == Action::Update && c.changed.is_empty()));
    plan
}

/// The seeds' addresses and those of the creations they depend on (by
/// resource block, transitively), without any claimed by an earlier step.
fn with_dependencies(plan: &Plan, seeds: &[&ResourceChange], claimed: &mut BTreeSet<String>) -> Vec<String> {
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<&ResourceChange> = seeds.to_vec();
    while let Some(c) = todo.pop() {
        if claimed.contains(&c.address) || !wanted.insert(c.address.clone()) {
            continue;
        }
        // Only what does not exist yet (its values are unknown until made):
        // an update elsewhere keeps its own place in the order.
        for dep in &c.deps {
            todo.extend(plan.changes.iter().filter(|d| {
                matches!(d.action, Action::Create | Action::Replace) && &crate::address::block_of(&d.address) == dep
            }));
        }
    }
    claimed.extend(wanted.iter().cloned());
    plan.changes.iter().filter(|c| wanted.contains(&c.address)).map(|c| c.address.clone()).collect()
}

/// The addresses applied by the runbook's steps that are done in `run`:
/// the ordinary apply that follows leaves them alone. A database step's
/// resource counts when the plan changes nothing else of it than what the
/// step made (the writer's region, write forwarding): no second call.
pub fn applied(
    rb: &crate::plan::runbook::Runbook,
    run: Option<&crate::state::roles::Run>,
    plan: &Plan,
) -> BTreeSet<String> {
    let Some(run) = run else { return BTreeSet::new() };
    let only = |address: &str, made: &[&str]| {
        plan.changes
            .iter()
            .find(|c| c.address == address)
            .is_some_and(|c| c.action == Action::Update && c.changed.iter().all(|k| made.contains(&k.as_str())))
            .then(|| address.to_string())
    };
    rb.steps
        .iter()
        .filter(|s| run.status(&s.id) == Some("done"))
        .flat_map(|s| match &s.action {
            // Applied whole only without held attributes.
            StepAction::Changes { addresses, hold } => {
                addresses.iter().filter(|a| !hold.contains_key(*a)).cloned().collect()
            }
            StepAction::AuroraSwitchover { address, .. } | StepAction::AuroraFailover { address, .. } => {
                only(address, &["writer_region", "writer_cluster_arn"]).into_iter().collect()
            }
            StepAction::WriteForwarding { address, .. } => {
                only(address, &["enable_global_write_forwarding", "global_write_forwarding_status"])
                    .into_iter()
                    .collect()
            }
            _ => Vec::new(),
        })
        .collect()
}

/// `plan` with the changes at `done` turned into no-ops (their steps made
/// them; the state holds what AWS reported).
pub fn without(plan: &Plan, done: &BTreeSet<String>) -> Plan {
    let mut p = plan.clone();
    for c in p.changes.iter_mut().filter(|c| done.contains(&c.address)) {
        c.action = Action::NoOp;
        c.reason = None;
    }
    p
}

/// Only the changes at `addresses` (the rest stays as the state has it):
/// what a step applies.
pub fn subset(plan: &Plan, addresses: &[String]) -> Plan {
    let mut p = plan.clone();
    p.changes.retain(|c| addresses.contains(&c.address) && c.action != Action::NoOp);
    p.runbook = None;
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(address: &str, type_name: &str, region: &str, action: Action, deps: &[&str]) -> ResourceChange {
        ResourceChange {
            address: address.into(),
            module: String::new(),
            type_name: type_name.into(),
            name: String::new(),
            index: serde_json::Value::Null,
            region: region.into(),
            action,
            reason: None,
            id: None,
            before: None,
            after: None,
            changed: Default::default(),
            sensitive: Default::default(),
            replace_paths: Vec::new(),
            deps: deps.iter().map(|d| d.to_string()).collect(),
            importing: None,
            production: None,
        }
    }

    #[test]
    fn steps_group_by_kind_and_region_with_the_creations_they_need() {
        let plan = Plan {
            changes: vec![
                change(
                    "a.aws_launch_template.t",
                    "aws_launch_template",
                    "r1",
                    Action::Update,
                    &["a.standby_mattermost_config.s"],
                ),
                change(
                    "a.standby_mattermost_config.s",
                    "standby_mattermost_config",
                    "r1",
                    Action::Update,
                    &["x.aws_rds_cluster.c"],
                ),
                change("x.aws_rds_cluster.c", "aws_rds_cluster", "r1", Action::Update, &[]),
                change(
                    "b.aws_autoscaling_group.g",
                    "aws_autoscaling_group",
                    "r2",
                    Action::Update,
                    &["b.aws_iam_role.new"],
                ),
                change("b.aws_iam_role.new", "aws_iam_role", "r2", Action::Create, &[]),
                change("b.aws_launch_template.t", "aws_launch_template", "r2", Action::NoOp, &[]),
                change("rec[\"x\"]", "aws_route53_record", "r1", Action::Update, &["b.aws_iam_role.new"]),
                change("idx", "opensearch_index_replication", "r2", Action::Create, &[]),
            ],
            ..Plan::default()
        };
        let front = steps(&plan, "r1", "r2");
        let got: Vec<(&str, &str, Vec<&str>)> = [&front.off, &front.on, &front.dns]
            .into_iter()
            .flatten()
            .map(|s| match &s.action {
                StepAction::Changes { addresses, .. } => {
                    (s.id.as_str(), s.region.as_str(), addresses.iter().map(String::as_str).collect())
                }
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            got,
            [
                // An update it depends on keeps its own place (not pulled in).
                (SCHEDULER_OFF, "r1", vec!["a.aws_launch_template.t", "a.standby_mattermost_config.s"]),
                // A creation it needs comes with it; a no-op is not applied.
                (SCHEDULER_ON, "r2", vec!["b.aws_autoscaling_group.g", "b.aws_iam_role.new"]),
                // Claimed by an earlier step: not applied twice.
                (DNS, ROUTE53_REGION, vec!["rec[\"x\"]"]),
            ]
        );
        assert_eq!(front.dns.as_ref().map(|s| s.needs.clone()), Some(vec![ROUTE53_REGION.to_string()]));
        let done = ["b.aws_iam_role.new".to_string()].into_iter().collect();
        let left = without(&plan, &done);
        assert_eq!(left.changes[4].action, Action::NoOp);
        assert_eq!(subset(&plan, &["b.aws_launch_template.t".into(), "idx".into()]).changes.len(), 1);
    }

    #[test]
    fn a_replaced_old_group_is_refused_an_updated_one_held() {
        let mut update = change("a.aws_autoscaling_group.g", "aws_autoscaling_group", "r1", Action::Update, &[]);
        update.changed = ["desired_capacity".to_string()].into_iter().collect();
        let mut plan = Plan { changes: vec![update], ..Plan::default() };
        let mut off = steps(&plan, "r1", "r2").off.expect("the old region's step");
        assert!(replaced_groups(&plan, &off, "r2").is_empty());
        assert!(hold_capacity(&plan, &mut off, 120, true).is_some(), "an update's capacity is held");
        plan.changes[0].action = Action::Replace;
        let off = steps(&plan, "r1", "r2").off.expect("the old region's step");
        let refused = replaced_groups(&plan, &off, "r2");
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].starts_with("a.aws_autoscaling_group.g (r1, the region users are in) is replaced"));
    }
}
