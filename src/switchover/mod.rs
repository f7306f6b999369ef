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
//! `FailoverState` is left) → write forwarding kept on the new secondary →
//! search followers stopped in the new active region → job scheduler off in
//! the old active region, then on in the new → DNS to the new → the old
//! leader's search copies deleted. Scheduler and DNS are the plan's own
//! changes, applied by their steps ([`front`]). `apply` runs the runbook
//! first, then the ordinary changes the steps did not make (reversed search
//! replication, …); the plan with the new setting is then clean.
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

pub mod changes;
pub mod exec;
pub mod front;
pub mod search;
pub mod snapshot;

use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::{Action, Plan};
use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The root variable that names the active region.
pub const ACTIVE_VAR: &str = "active_region";
/// The step deleting the old leader's search copies: after traffic moved.
pub const DELETE_OLD_COPIES: &str = "search.delete-old-copies";

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
    /// The step that applies the plan's change at `address`, if one does.
    pub fn step_applying(&self, address: &str) -> Option<&Step> {
        self.steps
            .iter()
            .find(|s| matches!(&s.action, StepAction::Changes { addresses } if addresses.iter().any(|a| a == address)))
    }

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
    /// re-adds it once its region is reachable; observed, not asked), and
    /// the snapshot Aurora took of its old volume copied to a manual one.
    Rejoin { global_cluster: String, cluster: String },
    /// Search, in the new active region: its auto-follow rules deleted
    /// (`leader_alias:name`), then every follower index stopped (named, or
    /// matching a rule's pattern): they become normal, writable indices.
    /// `catch_up` (planned switchover: the leader is there): first wait
    /// until each follower's checkpoint equals its leader's.
    SearchStopFollowers {
        via: String,
        domain: String,
        rules: Vec<String>,
        indices: Vec<String>,
        patterns: Vec<String>,
        #[serde(default)]
        catch_up: bool,
    },
    /// Search, in the old active region: its copies of the indices the
    /// reversed replication brings back, deleted. `indices` are those the
    /// plan listed (with their document counts, read when planning); the
    /// step deletes those only.
    SearchDeleteOldCopies { via: String, domain: String, indices: Vec<IndexDocs>, patterns: Vec<String> },
    /// These changes of the plan (at `addresses`), applied as `apply` would,
    /// journaled alike; the ordinary apply that follows leaves them alone.
    Changes { addresses: Vec<String> },
}

/// An index and its document count (`None`: not readable when planned).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexDocs {
    pub index: String,
    pub docs: Option<u64>,
}

/// The search steps of a role switch (empty without search replication):
/// followers stopped in `to_region`, then the old copies in `from_region`
/// deleted. `followed` are the replications into `to_region` (attributes of
/// index replications and auto-follow rules), `via` an internal user of the
/// module in each region (its master user signs the calls).
fn search_steps(
    followed: &[(&str, &crate::value::Attrs)],
    via_to: Option<String>,
    via_from: Option<String>,
    from_region: &str,
    to_region: &str,
    catch_up: bool,
) -> Vec<Step> {
    let s = |a: &crate::value::Attrs, k: &str| search::attr(a, k).map(str::to_string);
    let mut indices = Vec::new();
    let mut patterns = Vec::new();
    let mut rules = Vec::new();
    let mut domain_to = String::new();
    for (t, a) in followed {
        domain_to = s(a, "domain_endpoint").unwrap_or(domain_to);
        match *t {
            "opensearch_index_replication" => indices.extend(s(a, "follower_index")),
            _ => {
                patterns.extend(s(a, "pattern"));
                rules.extend(s(a, "rule_name").map(|n| format!("{}:{n}", s(a, "leader_alias").unwrap_or_default())));
            }
        }
    }
    let (Some(via_to), Some(via_from)) = (via_to, via_from) else { return Vec::new() };
    if indices.is_empty() && patterns.is_empty() {
        return Vec::new();
    }
    let listed = [indices.clone(), patterns.clone()].concat().join(", ");
    vec![
        Step {
            id: "search.stop-followers".into(),
            title: format!(
                "Search: stop following in {to_region} ({}auto-follow rules deleted, then _stop on {listed}): the \
                 indices become writable there",
                if catch_up { "once every follower's checkpoint equals its leader's, " } else { "" }
            ),
            region: to_region.to_string(),
            action: StepAction::SearchStopFollowers {
                via: via_to,
                domain: domain_to,
                rules,
                indices: indices.clone(),
                patterns: patterns.clone(),
                catch_up,
            },
        },
        Step {
            id: DELETE_OLD_COPIES.into(),
            title: format!(
                "Search: DELETE the old leader's indices in {from_region} ({listed}), then replicated back from \
                 {to_region} by the changes below"
            ),
            region: from_region.to_string(),
            action: StepAction::SearchDeleteOldCopies {
                via: via_from,
                domain: String::new(),
                indices: indices.into_iter().map(|index| IndexDocs { index, docs: None }).collect(),
                patterns,
            },
        },
    ]
}

/// Reads, when planning, what the deleting step would delete: its patterns
/// expanded and each index's document count, in the title too. An
/// unreachable domain leaves the counts unknown (said so in the plan).
pub async fn count_deletions(
    rb: &mut Runbook,
    st: &crate::state::State,
    secrets: &BTreeMap<String, crate::value::Attrs>,
) {
    for step in &mut rb.steps {
        let StepAction::SearchDeleteOldCopies { via, domain, indices, patterns } = &mut step.action else { continue };
        let Ok(d) = search::domain(st, secrets, via) else { continue };
        *domain = crate::state::file::instance_addr(via)
            .and_then(|a| st.resources.get(&a))
            .and_then(|i| search::attr(&i.attrs, "domain_endpoint").map(str::to_string))
            .unwrap_or_default();
        let mut found: Vec<IndexDocs> = Vec::new();
        let mut readable = true;
        for expr in indices.iter().map(|i| i.index.clone()).chain(patterns.iter().cloned()) {
            match search::count(&d, &expr).await {
                Ok(list) => found.extend(list),
                Err(_) => {
                    readable = false;
                    if !expr.contains('*') {
                        found.push(IndexDocs { index: expr, docs: None });
                    }
                }
            }
        }
        found.sort_by(|a, b| a.index.cmp(&b.index));
        found.dedup_by(|a, b| a.index == b.index);
        *indices = found;
        let what = if indices.is_empty() && readable {
            "nothing to delete there (none of them exists)".to_string()
        } else {
            search::describe(indices)
        };
        step.title = format!(
            "Search: DELETE the old leader's copies in {}: {what}; replicated back from the new leader by the changes \
             below",
            step.region
        );
    }
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
/// recorded, and with `plan` (the configuration naming `to` active, planned
/// without refreshing) for the scheduler and DNS. Only the steps in the
/// target region (and DNS, unless Route 53's region is the one down) run
/// now; the others wait for the old region to come back (pending in every
/// later plan, finished by `apply`).
pub fn failover(st: &crate::state::State, plan: &Plan, to: &str, to_region: &str, from: &str) -> Option<Runbook> {
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
                "When {from_region} is back: {cluster} rejoins as a secondary (Aurora re-adds it), and the \
                 rds:unplanned-global-failover-* snapshot Aurora takes of it (what it had not replicated) is kept as \
                 a manual snapshot"
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
    let followed: Vec<(&str, &crate::value::Attrs)> = st
        .resources
        .values()
        .filter(|i| {
            matches!(i.type_name.as_str(), "opensearch_index_replication" | "opensearch_autofollow_rule")
                && i.region == to_region
        })
        .map(|i| (i.type_name.as_str(), &i.attrs))
        .collect();
    let module = st
        .resources
        .iter()
        .find(|(_, i)| i.type_name == "opensearch_index_replication" && i.region == to_region)
        .map(|(a, _)| a.block.module.clone());
    let via = |region: &str| {
        st.resources
            .iter()
            .find(|(a, i)| {
                i.type_name == "opensearch_internal_user"
                    && i.region == region
                    && Some(&a.block.module) == module.as_ref()
            })
            .map(|(a, _)| a.to_string())
    };
    // The leader's region is gone: no checkpoint to wait for.
    steps.extend(search_steps(&followed, via(to_region), via(&from_region), &from_region, to_region, false));
    front::insert(&mut steps, front::steps(plan, &from_region, to_region));
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
            title: "Readiness: members available and synchronised, replication lag within its bound, search \
                    followers syncing and caught up, target app tier healthy"
                .into(),
            region: format!("{from_region}, {to_region}"),
            action: StepAction::Readiness { checks: vec!["db.".into(), "search.".into(), "app.".into()] },
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
    // Search: what follows into the new active region now (deleted by this
    // plan), and an internal user of the same module in each region.
    let followed: Vec<(&str, &crate::value::Attrs)> = plan
        .changes
        .iter()
        .filter(|c| {
            matches!(c.type_name.as_str(), "opensearch_index_replication" | "opensearch_autofollow_rule")
                && c.action == Action::Delete
                && c.region == to_region
        })
        .filter_map(|c| Some((c.type_name.as_str(), c.before.as_ref()?)))
        .collect();
    let module = plan
        .changes
        .iter()
        .find(|c| c.type_name == "opensearch_index_replication" && c.region == to_region)
        .map(|c| c.module.clone());
    let via = |region: &str| {
        plan.changes
            .iter()
            .find(|c| {
                c.type_name == "opensearch_internal_user" && c.region == region && Some(&c.module) == module.as_ref()
            })
            .map(|c| c.address.clone())
    };
    steps.extend(search_steps(&followed, via(&to_region), via(&from_region), &from_region, &to_region, true));
    front::insert(&mut steps, front::steps(plan, &from_region, &to_region));
    Some(Runbook {
        mode: "switchover".into(),
        from: name_of(&from_region),
        to: name_of(&to_region),
        from_region,
        to_region,
        steps,
    })
}
