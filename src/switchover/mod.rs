//! Switching the regions' roles: the runbook as data ([`Runbook`], built
//! from a plan by [`build`]) and the one journaled executor that carries it
//! out ([`exec`]).
//!
//! **Flow.** The root variable `active_region` names the active region; the
//! modules derive every role-dependent value from it (the global cluster's
//! `writer_region`, …). A plan whose configuration names another region
//! than AWS shows gets a runbook, in the safe order of AWS's guidance:
//! readiness → Aurora `SwitchoverGlobalCluster` (called in the current
//! writer's region, waited on until the target is the writer and no
//! `FailoverState` is left) → write forwarding kept on the new secondary.
//! Scheduler, DNS and the reversal of search replication slot in as further
//! steps (not built yet). `apply` runs the runbook first, then the ordinary
//! changes; the plan with the new setting is then clean.
//!
//! **Guarantees.** Every step observes AWS before acting (a switchover that
//! already happened or is under way is not asked for again), so a run that
//! was killed or failed resumes from where it stopped when run again. The
//! state records the run (step statuses and an event log with times,
//! outcomes and AWS request ids), written before and after every step.
//!
//! **Caveats.** Readiness reads CloudWatch lag over a window: a burst of
//! writes right before the switch is covered by Aurora's own check (a
//! switchover waits for the secondary to catch up). `--force` skips the
//! readiness verdict (with a warning), never the observation.

pub mod exec;

use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::{Action, Plan};
use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The root variable that names the active region.
pub const ACTIVE_VAR: &str = "active_region";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Runbook {
    /// `switchover` (planned, no data loss) or `failover`.
    pub mode: String,
    /// Region names (from `regions:`) and their AWS regions.
    pub from: String,
    pub to: String,
    pub from_region: String,
    pub to_region: String,
    pub steps: Vec<Step>,
}

impl Runbook {
    /// Without the steps a run already did (what is left, for plans).
    pub fn remaining(mut self, run: &crate::state::roles::Run) -> Runbook {
        self.steps.retain(|s| run.status(&s.id) != Some("done"));
        self
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Stable id, e.g. `readiness`, `db.switchover`.
    pub id: String,
    pub title: String,
    /// The AWS region the step's calls go to.
    pub region: String,
    #[serde(flatten)]
    pub action: StepAction,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum StepAction {
    /// DR health checks of the parts that switch (ids prefixed as listed).
    Readiness { checks: Vec<String> },
    /// `SwitchoverGlobalCluster` to the member in the target region.
    AuroraSwitchover { address: String, global_cluster: String, target_region: String },
    /// The new secondary keeps forwarding writes to the new writer.
    WriteForwarding { address: String, cluster: String },
    /// `FailoverGlobalCluster` with `AllowDataLoss`, sent to the target's
    /// region and waited on there only.
    AuroraFailover { address: String, global_cluster: String, target_region: String },
    /// After a failover: the old writer is back as a secondary (Aurora
    /// re-adds it once its region is reachable); observed, not asked.
    Rejoin { global_cluster: String, cluster: String },
}

/// Checks the root `active_region` names a region of `regions:`.
pub fn check_active(root: &crate::config::Module, vars: &BTreeMap<String, Value>) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let Some(decl) = root.variable(ACTIVE_VAR) else { return diags };
    let names: Vec<&str> = root.regions.iter().map(|(n, _)| n.name.as_str()).collect();
    if let Some(v) = active(root, vars)
        && !names.contains(&v.as_str())
    {
        diags.push(
            Diagnostic::error(format!("variable `{ACTIVE_VAR}` is {v:?}, which is not a region name"))
                .at(Some(decl.name.loc.clone()))
                .address(format!("var.{ACTIVE_VAR}"))
                .hint(format!("use one of the names in `regions:`: {}", names.join(", "))),
        );
    }
    diags
}

/// The runbook of a run that stopped before its end (killed, or a step
/// failed) and still aims at `active`: run again, its steps observe AWS and
/// finish it (a role that already switched shows no change in the plan).
pub fn resume(roles: Option<&crate::state::roles::Roles>, active: Option<&str>) -> Option<Runbook> {
    let run = roles?.run.as_ref()?;
    if Some(run.to.as_str()) != active || run.steps.iter().all(|s| s.status == "done") {
        return None;
    }
    serde_json::from_value::<Runbook>(run.runbook.clone()).ok().map(|rb| rb.remaining(run))
}

/// The emergency runbook: what `standby failover` does with the state as
/// recorded. Only the first step calls AWS now, and only in the target
/// region; the others wait for the old region to come back (pending in
/// every later plan, finished by `apply`).
pub fn failover(st: &crate::state::State, to: &str, to_region: &str, from: &str) -> Option<Runbook> {
    let (gaddr, g) = st.resources.iter().find(|(_, i)| i.type_name == "aws_rds_global_cluster")?;
    let s = |a: &crate::value::Attrs, k: &str| a.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let global_id = s(&g.attrs, "global_cluster_identifier");
    let from_region = s(&g.attrs, "writer_region");
    let old = st
        .resources
        .iter()
        .find(|(_, i)| i.type_name == "aws_rds_cluster" && i.region == from_region)
        .map(|(a, i)| (a.to_string(), s(&i.attrs, "cluster_identifier")));
    let mut steps = vec![Step {
        id: "db.failover".into(),
        title: format!(
            "Aurora FailoverGlobalCluster {global_id} with AllowDataLoss: {to_region} becomes the writer; wait there \
             only"
        ),
        region: to_region.to_string(),
        action: StepAction::AuroraFailover {
            address: gaddr.to_string(),
            global_cluster: global_id.clone(),
            target_region: to_region.to_string(),
        },
    }];
    if let Some((addr, cluster)) = old {
        steps.push(Step {
            id: "db.rejoin".into(),
            title: format!(
                "When {from_region} is back: {cluster} rejoins as a secondary (Aurora re-adds it; its \
                 rds:unplanned-global-failover-* snapshot holds what it had not replicated)"
            ),
            region: from_region.clone(),
            action: StepAction::Rejoin { global_cluster: global_id.clone(), cluster: cluster.clone() },
        });
        steps.push(Step {
            id: "db.write-forwarding".into(),
            title: format!("Write forwarding on {cluster}, the new secondary (forwards to {to_region})"),
            region: from_region.clone(),
            action: StepAction::WriteForwarding { address: addr, cluster },
        });
    }
    Some(Runbook {
        mode: "failover".into(),
        from: from.to_string(),
        to: to.to_string(),
        from_region,
        to_region: to_region.to_string(),
        steps,
    })
}

/// The value of the root `active_region`, given or default.
pub fn active(root: &crate::config::Module, vars: &BTreeMap<String, Value>) -> Option<String> {
    let decl = root.variable(ACTIVE_VAR)?;
    let v = vars.get(ACTIVE_VAR).cloned().or_else(|| decl.default.as_ref().and_then(crate::eval::literal))?;
    v.as_str().map(str::to_string)
}

/// The runbook a plan needs: `None` when no role changes. `regions` maps
/// the root's region names to AWS regions.
pub fn build(plan: &Plan, regions: &BTreeMap<String, String>) -> Option<Runbook> {
    let s =
        |a: Option<&crate::value::Attrs>, k: &str| a.and_then(|a| a.get(k)).and_then(Value::as_str).map(str::to_string);
    let global = plan.changes.iter().find(|c| {
        c.type_name == "aws_rds_global_cluster"
            && c.action == Action::Update
            && c.changed.contains("writer_region")
            && s(c.before.as_ref(), "writer_region").is_some()
            && s(c.after.as_ref(), "writer_region").is_some()
    })?;
    let from_region = s(global.before.as_ref(), "writer_region")?;
    let to_region = s(global.after.as_ref(), "writer_region")?;
    let name_of = |aws: &str| {
        regions.iter().find(|(_, r)| r.as_str() == aws).map(|(n, _)| n.clone()).unwrap_or_else(|| aws.to_string())
    };
    let global_id = s(global.after.as_ref(), "global_cluster_identifier").unwrap_or_default();
    let mut steps = vec![
        Step {
            id: "readiness".into(),
            title: "Readiness: members available and synchronised, replication lag within its bound".into(),
            region: format!("{from_region}, {to_region}"),
            action: StepAction::Readiness { checks: vec!["db.".into()] },
        },
        Step {
            id: "db.switchover".into(),
            title: format!(
                "Aurora SwitchoverGlobalCluster {global_id}: the writer moves {from_region} → {to_region} (no data \
                 loss); wait until FailoverState is gone"
            ),
            region: from_region.clone(),
            action: StepAction::AuroraSwitchover {
                address: global.address.clone(),
                global_cluster: global_id.clone(),
                target_region: to_region.clone(),
            },
        },
    ];
    // The new secondary: the module's cluster in the old writer's region.
    if let Some(c) = plan.changes.iter().find(|c| {
        c.type_name == "aws_rds_cluster" && c.module == global.module && c.region == from_region && c.after.is_some()
    }) {
        let id = s(c.after.as_ref(), "cluster_identifier").unwrap_or_default();
        steps.push(Step {
            id: "db.write-forwarding".into(),
            title: format!("Write forwarding kept on {id}, the new secondary (forwards to {to_region})"),
            region: from_region.clone(),
            action: StepAction::WriteForwarding { address: c.address.clone(), cluster: id },
        });
    }
    Some(Runbook {
        mode: "switchover".into(),
        from: name_of(&from_region),
        to: name_of(&to_region),
        from_region,
        to_region,
        steps,
    })
}
