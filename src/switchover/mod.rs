//! Switching the regions' roles: building the runbook (the plan's
//! [`Runbook`], data) from a plan by [`build`] (planned switchover) or
//! [`failover`], and the one journaled executor that carries it out
//! ([`exec`]).
//!
//! **Flow.** The root variable `active_region` names the active region; the
//! modules derive every role-dependent value from it (the global cluster's
//! `writer_region`, …). A plan whose configuration names another region
//! than AWS shows gets a runbook, in the safe order of AWS's guidance:
//! readiness (AWS's preconditions, lag, search, the app tier and its
//! database endpoint) → Aurora `SwitchoverGlobalCluster` (called in the
//! current writer's region, waited on until the target is the writer and no
//! `FailoverState` is left; one that ends without moving the writer fails at
//! once) → write forwarding on the new secondary (set before, AWS applies it
//! at demotion: checked) → job scheduler off in the old active region, then
//! on in the new (scaling a pilot-light region up) → the new region serves
//! (healthy targets) → search followers stopped there → DNS to it → the old
//! region, which kept its nodes (scheduler off) so far, shrunk to its
//! passive size once users have followed DNS (`app.scale-in`) → the old
//! leader's search copies deleted. Mattermost's `DataSource` is the global
//! writer endpoint, which follows the writer, so both regions' nodes keep
//! working while the steps run (readiness refuses an endpoint AWS makes
//! inactive). Scheduler and DNS are the plan's own changes, applied by
//! their steps ([`front`]). `apply` runs the runbook first, then the
//! ordinary changes the steps did not make (reversed search replication,
//! …); the plan with the new setting is then clean.
//!
//! **Guarantees.** Every step observes AWS before acting (a switchover that
//! already happened or is under way is not asked for again), so a run that
//! was killed or failed resumes from where it stopped when run again. The
//! state records the run (step statuses, an event log with times, outcomes
//! and AWS request ids, and notes such as the search window to re-index),
//! written before and after every step. In a failover, a step that needs
//! the region that is down waits, pending, whatever its place in the order;
//! `standby failover --to` (or `apply`, while that region does not answer)
//! resumes the survivor's steps, and `apply` finishes the rest once it
//! answers, DNS and the old region's scheduler first.
//!
//! **Caveats.** Readiness reads CloudWatch lag over a window: a burst of
//! writes right before the switch is covered by Aurora's own check (a
//! switchover waits for the secondary to catch up). `--force` skips the
//! readiness verdict (with a warning), never the observation.

pub mod aurora;
pub mod changes;
pub mod exec;
pub mod front;
pub mod search;
pub mod snapshot;

use crate::plan::runbook::{IndexDocs, Runbook, Step, StepAction};
use crate::plan::{Action, Plan};
use crate::value::Value;
use std::collections::BTreeMap;

/// Step ids (the scheduler and DNS steps' are in [`front`]).
pub const READINESS: &str = "readiness";
pub const DB_SWITCHOVER: &str = "db.switchover";
pub const DB_FAILOVER: &str = "db.failover";
pub const DB_REJOIN: &str = "db.rejoin";
pub const DB_WRITE_FORWARDING: &str = "db.write-forwarding";
pub const APP_SERVING: &str = "app.serving";
pub const STOP_FOLLOWERS: &str = "search.stop-followers";
/// The step deleting the old leader's search copies: after traffic moved.
pub const DELETE_OLD_COPIES: &str = "search.delete-old-copies";

/// The search steps of a role switch (none without search replication):
/// followers stopped in `to_region`, and the old copies in `from_region`
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
) -> Option<(Step, Step)> {
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
    let (Some(via_to), Some(via_from)) = (via_to, via_from) else { return None };
    if indices.is_empty() && patterns.is_empty() {
        return None;
    }
    let listed = [indices.clone(), patterns.clone()].concat().join(", ");
    let stop = Step::new(
        STOP_FOLLOWERS,
        format!(
            "Search: stop following in {to_region} ({}auto-follow rules deleted, then _stop on {listed}; a follower \
             still bootstrapping is left as it is: _stop would delete it): the indices become writable there",
            if catch_up { "once every follower's checkpoint equals its leader's, " } else { "" }
        ),
        &[to_region],
        StepAction::SearchStopFollowers {
            via: via_to.clone(),
            domain: domain_to,
            rules,
            indices: indices.clone(),
            patterns: patterns.clone(),
            catch_up,
        },
    );
    let delete = Step::new(
        DELETE_OLD_COPIES,
        format!(
            "Search: DELETE the old leader's indices in {from_region} ({listed}) that the new leader in {to_region} \
             has, then replicated back from it by the changes below"
        ),
        &[from_region, to_region],
        StepAction::SearchDeleteOldCopies {
            via: via_from,
            domain: String::new(),
            indices: indices.into_iter().map(|index| IndexDocs { index, docs: None }).collect(),
            patterns,
            via_new: Some(via_to),
        },
    );
    Some((stop, delete))
}

/// What the search stop leaves to do: re-index, from Mattermost (whose
/// database has every post), what the new leader's indices miss. Mattermost
/// indexes from a time with the bulk indexing job's `start_time` (epoch ms;
/// `server/enterprise/elasticsearch/common/indexing_job.go`, `parseStartTime`)
/// created by `POST /api/v4/jobs` (type `elasticsearch_post_indexing`).
fn reindex_note(from_region: &str, to_region: &str, failover: bool) -> String {
    let job = "POST /api/v4/jobs {\"type\":\"elasticsearch_post_indexing\",\"data\":{\"start_time\":\"{from_ms}\"}} \
               on Mattermost in {to}, as a system admin";
    let what = if failover {
        format!(
            "the search indices in {to_region} miss the updates replication had not copied before {from_region} \
             went down, and posts the old region's Mattermost indexed there after that are not in them. Re-index \
             from before the outage began ({{from_ms}} is an hour before the followers stopped at {{at}}; start \
             earlier if the outage began earlier)"
        )
    } else {
        format!(
            "index updates that Mattermost in {from_region} made after the followers stopped ({{at}}) until DNS sent \
             users to {to_region} went to the old leader, whose copies are deleted. Re-index them from a little \
             before ({{from_ms}} is 5 minutes before {{at}})"
        )
    };
    format!("Search: {what}: {}", job.replace("{to}", to_region))
}

/// The step waiting until `to_region`'s app tier serves (none when the
/// plan has no Auto Scaling group there); with `route53` (a planned
/// switchover, Route 53's API answering) until its checkers see it too.
fn app_serving(plan: &Plan, to_region: &str, route53: bool) -> Option<Step> {
    plan.changes.iter().any(|c| c.type_name == "aws_autoscaling_group" && c.region == to_region).then(|| {
        let mut needs = vec![to_region];
        if route53 && to_region != front::ROUTE53_REGION {
            needs.push(front::ROUTE53_REGION);
        }
        Step::new(
            APP_SERVING,
            format!(
                "App tier serves in {to_region}: each Auto Scaling group's desired capacity (at least one node) in \
                 service and a healthy target behind its load balancer{}, waited for with progress",
                if route53 {
                    ", and Route 53's health checkers see it healthy (DNS then sends users there as soon as it moves)"
                } else {
                    ""
                }
            ),
            &needs,
            StepAction::AppServing { app_region: to_region.to_string(), route53 },
        )
    })
}

/// Auto Scaling groups in `to_region` that the plan scales up from no
/// nodes: address → desired capacity after it.
fn scaled_up(plan: &Plan, to_region: &str) -> BTreeMap<String, i64> {
    let desired = |a: Option<&crate::value::Attrs>| a.and_then(|a| a.get("desired_capacity")).and_then(Value::as_i64);
    plan.changes
        .iter()
        .filter(|c| c.type_name == "aws_autoscaling_group" && c.region == to_region)
        .filter_map(|c| {
            let after = desired(c.after.as_ref())?;
            (after > 0 && desired(c.before.as_ref()).unwrap_or(0) == 0).then(|| (c.address.clone(), after))
        })
        .collect()
}

/// Reads, when planning, what the deleting step would delete: its patterns
/// expanded and each index's document count, in the title too. An
/// unreachable domain leaves the counts unknown (said so in the plan).
pub async fn count_deletions(
    rb: &mut Runbook,
    st: &crate::state::State,
    secrets: &BTreeMap<String, crate::value::Attrs>,
) {
    let from_region = rb.from_region.clone();
    for step in &mut rb.steps {
        let StepAction::SearchDeleteOldCopies { via, domain, indices, patterns, .. } = &mut step.action else {
            continue;
        };
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
            "Search: DELETE the old leader's copies in {from_region}: {what} (only those the new leader has); \
             replicated back from the new leader by the changes below"
        );
    }
}

/// The runbook of a run that stopped before its end (killed, or a step
/// failed) and still aims at `active`: run again, its steps observe AWS and
/// finish it (a role that already switched shows no change in the plan).
/// A recorded runbook this version cannot read is an error, not "nothing to resume".
pub fn resume(roles: Option<&crate::state::roles::Roles>, active: Option<&str>) -> Result<Option<Runbook>, String> {
    let Some(run) = roles.and_then(|r| r.run.as_ref()) else { return Ok(None) };
    if Some(run.to.as_str()) != active || run.steps.iter().all(|s| s.status == "done") {
        return Ok(None);
    }
    serde_json::from_value::<Runbook>(run.runbook.clone())
        .map(|rb| Some(rb.remaining(run)))
        .map_err(|e| format!("the state's unfinished {} run to {} cannot be read: {e}", run.mode, run.to))
}

/// The failover still unfinished in the state: its target's name, and the
/// AWS region it left (the one that was down), when its last run is a
/// failover with a step not done.
pub fn unfinished_failover(roles: Option<&crate::state::roles::Roles>) -> Option<(String, String)> {
    let run = roles?.run.as_ref()?;
    if run.mode != "failover" || run.steps.iter().all(|s| s.status == "done") {
        return None;
    }
    let rb = serde_json::from_value::<Runbook>(run.runbook.clone()).ok()?;
    Some((run.to.clone(), rb.from_region))
}

/// The emergency runbook: what `standby failover` does with the state as
/// recorded, and with `plan` (the configuration naming `to` active, planned
/// without refreshing) for the scheduler, the app tier and DNS. The steps
/// that need only the target region (and Route 53's, unless it is the one
/// down) run now, the survivor's first: the database, its search followers,
/// its app tier (scaled up, scheduler on, waited for), DNS. The steps that
/// need the old region wait for it (pending in every later plan, finished by
/// `apply`), DNS and its scheduler first, so that users never go back to a
/// region that lost the writer.
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
    let mut steps = vec![Step::new(
        DB_FAILOVER,
        format!(
            "Aurora FailoverGlobalCluster {global_id} with AllowDataLoss: {to_region} becomes the writer; wait there \
             only, then read Aurora's write-fencing events there"
        ),
        &[to_region],
        StepAction::AuroraFailover {
            address: gaddr.to_string(),
            global_cluster: global_id.clone(),
            target_region: to_region.to_string(),
        },
    )];
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
    let search = search_steps(&followed, via(to_region), via(&from_region), &from_region, to_region, false);
    let front = front::steps(plan, &from_region, to_region);
    // Search before the app tier (the survivor's Mattermost then indexes
    // into writable indices from its first post), but best effort: the
    // survivor serves without search, never without its app tier and DNS
    // (review N2). Left pending, a later run retries it.
    steps.extend(search.as_ref().map(|(stop, _)| {
        stop.clone().note(reindex_note(&from_region, to_region, true), 3600).best_effort(&format!(
            "users are served, but search in {to_region} answers from the read-only follower copies and what \
             Mattermost indexes meanwhile is lost (its indexing requests fail); run `standby failover --to {to}` \
             again to retry the step, then re-index as its note says (from before the outage began)"
        ))
    }));
    steps.extend(front.on);
    steps.extend(app_serving(plan, to_region, false).map(|s| {
        s.best_effort(&format!(
            "users reach no app node in {to_region} until its nodes serve; run `standby failover --to {to}` again to \
             keep waiting"
        ))
    }));
    steps.extend(front.dns.map(|s| {
        s.best_effort(
            "Route 53 answers with the SECONDARY record (the survivor) while the PRIMARY's health check fails, with \
             no API call",
        )
    }));
    steps.extend(front.off);
    if let Some((addr, cluster)) = old {
        steps.push(Step::new(
            DB_REJOIN,
            format!(
                "When {from_region} is back: {cluster} rejoins as a secondary (Aurora re-adds it), and the \
                 rds:unplanned-global-failover-* snapshot Aurora takes of it (what it had not replicated) is kept as \
                 a manual snapshot"
            ),
            &[&from_region],
            StepAction::Rejoin { global_cluster: global_id.clone(), cluster: cluster.clone() },
        ));
        steps.push(Step::new(
            DB_WRITE_FORWARDING,
            format!("Write forwarding on {cluster}, the new secondary (forwards to {to_region})"),
            &[&from_region],
            StepAction::WriteForwarding { address: addr, cluster, before_switch: false },
        ));
    }
    steps.extend(search.map(|(_, delete)| delete));
    Some(Runbook {
        mode: "failover".into(),
        from: from.to_string(),
        to: to.to_string(),
        from_region,
        to_region: to_region.to_string(),
        steps,
    })
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
    let readiness = Step::new(
        READINESS,
        "Readiness: AWS's preconditions (same engine version, an available instance in the target, members \
         available), members synchronised, replication lag within its bound, Mattermost's database endpoint one that \
         stays active, search followers syncing and caught up, target app tier healthy (or scaled up by the runbook)"
            .into(),
        &[&from_region, &to_region],
        StepAction::Readiness {
            checks: vec!["db.".into(), "search.".into(), "app.".into()],
            scaled: scaled_up(plan, &to_region),
            refuse: Vec::new(),
        },
    );
    let mut steps = vec![readiness];
    // The new secondary: the module's cluster in the old writer's region. Its
    // write forwarding is set now, while it is the writer: AWS applies it the
    // moment the switchover demotes it.
    if let Some(c) = plan.changes.iter().find(|c| {
        c.type_name == "aws_rds_cluster" && c.module == global.module && c.region == from_region && c.after.is_some()
    }) {
        let id = s(c.after.as_ref(), "cluster_identifier").unwrap_or_default();
        steps.push(Step::new(
            DB_WRITE_FORWARDING,
            format!(
                "Write forwarding on {id} before the switch: AWS applies it when the switchover demotes {id} (on the \
                 writer it does nothing until then), so the new secondary forwards writes to {to_region} at once"
            ),
            &[&from_region],
            StepAction::WriteForwarding { address: c.address.clone(), cluster: id, before_switch: true },
        ));
    }
    steps.push(Step::new(
        DB_SWITCHOVER,
        format!(
            "Aurora SwitchoverGlobalCluster {global_id}: the writer moves {from_region} → {to_region} (no data loss); \
             wait until FailoverState is gone (one that ends without moving the writer fails at once)"
        ),
        &[&from_region, &to_region],
        StepAction::AuroraSwitchover {
            address: global.address.clone(),
            global_cluster: global_id.clone(),
            target_region: to_region.clone(),
        },
    ));
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
    let search = search_steps(&followed, via(&to_region), via(&from_region), &from_region, &to_region, true);
    let mut front = front::steps(plan, &from_region, &to_region);
    // The scheduler moves (never on in two regions at once: Mattermost's
    // scheduler runs on one cluster's leader) and the new region serves
    // before users are sent there; the search followers stop right before
    // DNS moves, so that the window in which the old region's index updates
    // miss the new leader is DNS's own (recorded, see exec). The old region
    // keeps its nodes (their scheduler off) until users have followed DNS,
    // then shrinks to its passive size, before its search copies go.
    let drain = std::env::var(front::ENV_DRAIN_SECS).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(120);
    let dns = front.dns.is_some();
    let scale_in = front.off.as_mut().and_then(|off| front::hold_capacity(plan, off, drain, dns));
    if let (Some(off), Some(StepAction::Readiness { refuse, .. })) =
        (&front.off, steps.first_mut().map(|s| &mut s.action))
    {
        refuse.extend(front::replaced_groups(plan, off, &to_region));
    }
    steps.extend(front.off);
    steps.extend(front.on);
    steps.extend(app_serving(plan, &to_region, true));
    let (stop, delete) = search.unzip();
    steps.extend(stop.map(|s| s.note(reindex_note(&from_region, &to_region, false), 300)));
    steps.extend(front.dns);
    // Named, not "the step before": a resumed runbook lists only what is left.
    let after = steps.last().map(|s| s.id.clone()).unwrap_or_default();
    steps.extend(scale_in.map(|s| s.after(drain, &after)));
    steps.extend(delete);
    Some(Runbook {
        mode: "switchover".into(),
        from: name_of(&from_region),
        to: name_of(&to_region),
        from_region,
        to_region,
        steps,
    })
}
