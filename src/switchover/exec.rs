//! The one executor of runbooks: steps in order, each journaled in the
//! state before and after it runs, each observing AWS before it acts.
//!
//! Resuming: the state's last run (same from/to) gives the steps already
//! done; the others run again, and since each first looks at what AWS has,
//! repeating one that had in fact taken effect only waits for it.
//!
//! In an emergency ([`Executor::down`] names the region that is down), a
//! step that needs that region is left pending whatever its place in the
//! order, and a best-effort step that fails is left pending too; both say
//! what covers them meanwhile (the step's data, never its id).

use super::aurora;
use crate::aws::Aws;
use crate::drift::now_rfc3339;
use crate::health::{self, Status};
use crate::kinds::KindError;
use crate::plan::runbook::{Runbook, Step, StepAction};
use crate::state::backend::{self, Backend};
use crate::state::roles::{Event, Roles, Run};
use crate::state::{State, file::StateError};
use crate::value::{Attrs, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error(
        "readiness check failed, nothing was changed:\n{0}\n  hint: fix it and run again, or re-run with --force to switch anyway (the check's risk is then yours)"
    )]
    NotReady(String),
    #[error(
        "step `{step}` failed: {message}\n  hint: the run is on record in the state; run the same command again to resume from this step"
    )]
    Step { step: String, message: String },
    #[error(transparent)]
    State(#[from] StateError),
}

/// How a run ended (an error aside).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// Every step done.
    Done,
    /// The survivor's steps done; the old region's wait until it is back.
    Waiting,
    /// The writer moved but the new region does not serve yet (or another of
    /// its steps is not done): "NOT finished", exit code [`EXIT_NOT_FINISHED`].
    NotFinished,
}

/// The exit code of a switchover or failover that moved the writer but
/// ended without the new region serving.
pub const EXIT_NOT_FINISHED: u8 = 4;

/// What the executor needs besides the runbook and the state.
pub struct Executor<'a> {
    pub aws: &'a Aws,
    pub backend: &'a dyn Backend,
    /// The state as last applied (the readiness checks compare against it).
    pub recorded: &'a State,
    pub secrets: &'a BTreeMap<String, Attrs>,
    /// Switch even when readiness fails (with a warning).
    pub force: bool,
    /// Longest wait for one step.
    pub timeout: Duration,
    /// Progress lines (the CLI prints them; the executor never does).
    pub progress: &'a (dyn Fn(&str) + Send + Sync),
    /// Emergency: the AWS region that is down. Steps that need it stay
    /// pending in the state; best-effort steps that fail too.
    pub down: Option<String>,
    /// For steps that apply some of the plan's changes (scheduler, DNS).
    pub changes: Option<super::changes::Changes<'a>>,
    /// Why the runbook lacks steps it should have (a failover whose app
    /// tier and DNS changes could not be planned): the run then never says
    /// done, it ends "NOT finished" with this.
    pub unplanned: Option<String>,
    /// A drill's run-time needs (its app tier, Mattermost token, channel).
    pub drill: Option<&'a crate::drill::Session>,
}

/// What a step did: its outcome, AWS request ids, and notes for the run.
pub(crate) struct Done {
    pub outcome: String,
    pub request_ids: Vec<String>,
    pub notes: Vec<String>,
    /// What a drill step measured (kept in the run's `measures`).
    pub measures: Vec<(String, serde_json::Value)>,
}

impl Done {
    pub fn new(outcome: String) -> Done {
        Done { outcome, request_ids: Vec::new(), notes: Vec::new(), measures: Vec::new() }
    }

    fn with(outcome: String, request_ids: Vec<String>) -> Done {
        Done { request_ids, ..Done::new(outcome) }
    }
}

/// `STANDBY_APP_SERVING_SECS`: the longest wait (seconds) for the target
/// region's app tier to serve (default 900: new nodes boot, start
/// Mattermost and pass the target group's health checks).
pub const ENV_APP_SERVING_SECS: &str = "STANDBY_APP_SERVING_SECS";

impl Executor<'_> {
    /// Runs the runbook's steps not done yet; the state records every step.
    pub async fn run(&self, rb: &Runbook, st: &mut State) -> Result<Ended, SwitchError> {
        let resumed = st
            .roles
            .as_ref()
            .and_then(|r| r.run.clone())
            .filter(|r| r.from == rb.from && r.to == rb.to && r.steps.iter().any(|s| s.status != "done"));
        let mut run = resumed.unwrap_or_else(|| Run {
            mode: rb.mode.clone(),
            from: rb.from.clone(),
            to: rb.to.clone(),
            started: now_rfc3339(),
            runbook: serde_json::to_value(rb).unwrap_or_default(),
            steps: Vec::new(),
            events: Vec::new(),
            notes: Vec::new(),
            // A drill's recovery time counts from here.
            measures: if rb.mode == "drill" {
                [("started_ms".to_string(), serde_json::json!(crate::drill::measure::now_ms()))].into()
            } else {
                Default::default()
            },
        });
        for step in &rb.steps {
            if run.status(&step.id).is_none() {
                run.set(&step.id, "pending");
            }
        }
        let notes_before = run.notes.len();
        let started = Instant::now();
        for (n, step) in rb.steps.iter().enumerate() {
            let at = format!("[{}/{}]", n + 1, rb.steps.len());
            if run.status(&step.id) == Some("done") {
                (self.progress)(&format!("{at} {}: done in an earlier run", step.id));
                continue;
            }
            if let Some(down) = self.down.as_deref().filter(|d| step.needs_region(d)) {
                (self.progress)(&format!(
                    "{at} {}: pending until {down} is back (`standby apply` finishes it){}",
                    step.id,
                    meanwhile(step)
                ));
                continue;
            }
            (self.progress)(&format!("{at} {} ({})", step.title, step.region));
            if step.wait_secs > 0 {
                // A runbook recorded before steps named it: the step before.
                let before = step.wait_after.as_deref().or_else(|| n.checked_sub(1).map(|p| rb.steps[p].id.as_str()));
                self.settle(step.wait_secs, before, &run).await;
            }
            run.set(&step.id, "running");
            run.events.push(Event {
                step: step.id.clone(),
                start: now_rfc3339(),
                outcome: "running".into(),
                ..Default::default()
            });
            self.save(st, &run, None).await?;
            let t0 = Instant::now();
            let result = self.step(step, &rb.to_region, st, &run).await;
            let ev = run.events.last_mut().expect("pushed above");
            ev.end = now_rfc3339();
            match result {
                Ok(done) => {
                    ev.outcome = done.outcome.clone();
                    ev.request_ids = done.request_ids;
                    run.notes.extend(done.notes);
                    run.measures.extend(done.measures);
                    run.notes.extend(step.note.as_ref().map(|n| {
                        let end = SystemTime::now();
                        let from = end - Duration::from_secs(n.before_secs);
                        let ms = from.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
                        n.text.replace("{at}", &ev.end).replace("{from_ms}", &ms.to_string())
                    }));
                    run.set(&step.id, "done");
                    // The writer moved: that region is active now, whatever is left. The last
                    // step finishes the run in the same write (a kill between two writes would
                    // leave the steps done and the old region named active).
                    let moved = if !rb.switches_roles() {
                        None
                    } else if run.steps.iter().all(|s| s.status == "done") {
                        Some(finish(st, rb))
                    } else {
                        matches!(step.action, StepAction::AuroraFailover { .. }).then(now_rfc3339)
                    };
                    self.save(st, &run, moved).await?;
                    (self.progress)(&format!("    {} [{}s]", done.outcome, t0.elapsed().as_secs()));
                }
                // In an emergency, a best-effort step that cannot be done now is left pending.
                Err(e) if self.down.is_some() && step.best_effort => {
                    let why = match &e {
                        SwitchError::Step { message, .. } => first_line(message).to_string(),
                        e => first_line(&e.to_string()).to_string(),
                    };
                    ev.outcome = format!("pending: {why}");
                    run.set(&step.id, "pending");
                    self.save(st, &run, None).await?;
                    (self.progress)(&format!("    not done, left pending: {why}{}", meanwhile(step)));
                }
                Err(e) => {
                    ev.outcome = format!("failed: {}", first_line(&e.to_string()));
                    run.set(&step.id, "failed");
                    self.save(st, &run, None).await?;
                    // The writer moved, users not yet: the new region does not serve.
                    if let (StepAction::AppServing { .. }, SwitchError::Step { message, .. }) = (&step.action, &e) {
                        (self.progress)(&format!(
                            "Switchover NOT finished: {} ({}) is the writer, but {message}; DNS still sends users to \
                             {} (their app nodes write through the global writer endpoint). Run the same command \
                             again to keep waiting.",
                            rb.to, rb.to_region, rb.from_region
                        ));
                        return Ok(Ended::NotFinished);
                    }
                    return Err(e);
                }
            }
        }
        let new_notes: Vec<String> = run.notes[notes_before..].to_vec();
        let pending: Vec<&Step> = rb.steps.iter().filter(|s| run.status(&s.id) != Some("done")).collect();
        let mut ended = Ended::Done;
        if let Some(why) = &self.unplanned {
            if pending.is_empty() {
                let since = finish(st, rb);
                self.save(st, &run, Some(since)).await?;
            }
            let left = pending.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ");
            (self.progress)(&format!(
                "{} NOT finished: {} ({}) is the writer, but {why} [{}s]{}",
                if rb.mode == "failover" { "Failover" } else { "Switchover" },
                rb.to,
                rb.to_region,
                started.elapsed().as_secs(),
                if left.is_empty() { String::new() } else { format!("; steps not done yet: {left}") }
            ));
            ended = Ended::NotFinished;
        } else if !pending.is_empty() {
            let (text, e) = self.unfinished(rb, &run, &pending, started.elapsed());
            (self.progress)(&text);
            ended = e;
        } else {
            if !rb.switches_roles() {
                self.save(st, &run, None).await?;
                (self.progress)(&format!(
                    "Drill finished in {} ({}) [{}s]",
                    rb.to,
                    rb.to_region,
                    started.elapsed().as_secs()
                ));
            } else {
                let since = finish(st, rb);
                self.save(st, &run, Some(since)).await?;
                let what = if rb.mode == "failover" { "Failover finished" } else { "Switchover complete" };
                (self.progress)(&format!(
                    "{what}: {} ({}) is active [{}s]",
                    rb.to,
                    rb.to_region,
                    started.elapsed().as_secs()
                ));
            }
        }
        for note in new_notes {
            (self.progress)(&format!("\nNote (kept in the state with the run): {note}"));
        }
        Ok(ended)
    }

    /// The end of a failover run that left steps pending: done for users
    /// only when every step the survivor can run is done.
    fn unfinished(&self, rb: &Runbook, run: &Run, pending: &[&Step], took: Duration) -> (String, Ended) {
        let down = self.down.as_deref().unwrap_or(&rb.from_region);
        let (waiting, here): (Vec<&&Step>, Vec<&&Step>) = pending.iter().partition(|s| s.needs_region(down));
        let wait = format!(
            "{} step(s) wait until {down} is back ({}): they show in every plan, and `standby apply` finishes them \
             (DNS and the old region's scheduler first)",
            waiting.len(),
            waiting.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ")
        );
        if here.is_empty() {
            let text = format!(
                "Failover done: {} ({}) is active and serves [{}s]; {wait}",
                rb.to,
                rb.to_region,
                took.as_secs()
            );
            return (text, Ended::Waiting);
        }
        let why: Vec<String> = here
            .iter()
            .map(|s| {
                let last = run.events.iter().rev().find(|e| e.step == s.id).map(|e| e.outcome.as_str());
                format!("  - {}: {}", s.id, last.unwrap_or("not run"))
            })
            .collect();
        let text = format!(
            "Failover NOT finished: {} ({}) is the writer, but these steps are not done [{}s]:\n{}\nRun `standby \
             failover --to {} --allow-data-loss` again to retry them; {wait}",
            rb.to,
            rb.to_region,
            took.as_secs(),
            why.join("\n"),
            rb.to
        );
        (text, Ended::NotFinished)
    }

    /// Records the run in the state and writes it (atomically, with a backup).
    async fn save(&self, st: &mut State, run: &Run, finished: Option<String>) -> Result<(), SwitchError> {
        let prior = st.roles.clone().unwrap_or_else(|| Roles { active: run.from.clone(), ..Default::default() });
        let (active, since) = match finished {
            Some(t) => (run.to.clone(), t),
            None => (prior.active, prior.since),
        };
        st.roles =
            Some(Roles { active, since, run: Some(run.clone()), failover: prior.failover, drills: prior.drills });
        backend::write(self.backend, st).await?;
        Ok(())
    }

    async fn step(&self, step: &Step, to_region: &str, st: &mut State, run: &Run) -> Result<Done, SwitchError> {
        let fail = |e: KindError| SwitchError::Step { step: step.id.clone(), message: e.to_string() };
        let session = || {
            self.drill.ok_or_else(|| SwitchError::Step {
                step: step.id.clone(),
                message: "this command carries no drill session".into(),
            })
        };
        match &step.action {
            StepAction::DrillApp { module, inputs, name, search, drill } => {
                let app_started = crate::drill::measure::now_ms();
                let s = session()?;
                let cx = crate::drill::app::Ctx { aws: &s.aws, backend: self.backend, progress: &s.progress };
                let spec = crate::drill::app::Spec { module: module.clone(), inputs: inputs.clone() };
                // Mattermost's own search user on the copy, before a node signs in with it.
                let user_out = match search {
                    Some(copy) => Some(self.drill_search_user(&step.needs[0], inputs, copy).await.map_err(fail)?),
                    None => None,
                };
                let out = crate::drill::app::apply(&cx, st, &spec, &step.needs[0], name, drill, search.as_deref())
                    .await
                    .map_err(fail)?;
                let mut done = Done::new(match user_out {
                    Some(u) => format!("{u}; {out}"),
                    None => out,
                });
                if let Some((dns, port, https)) = crate::drill::app::load_balancer(st) {
                    done.measures.push(("lb_dns".into(), serde_json::json!(dns)));
                    done.measures.push(("lb_port".into(), serde_json::json!(port)));
                    done.measures.push(("lb_https".into(), serde_json::json!(https)));
                }
                // The failover-relevant part of RTO starts here (the copies are a drill's own).
                if !run.measures.contains_key("app_started_ms") {
                    done.measures.push(("app_started_ms".into(), serde_json::json!(app_started)));
                }
                Ok(done)
            }
            StepAction::DrillServing { site_url, .. } => {
                let s = session()?;
                let moment = run.measures.get("copy_moment");
                crate::drill::measure::serving(self.aws, s, &step.needs[0], st, site_url, moment, self.progress)
                    .await
                    .map_err(fail)
            }
            StepAction::DrillPost { site_url, channel, drill } => {
                let s = session()?;
                crate::drill::measure::post(s, st, site_url, channel.as_deref(), drill, run, self.progress)
                    .await
                    .map_err(fail)
            }
            StepAction::Readiness { checks, scaled, refuse } => {
                self.readiness(checks, scaled, refuse, to_region, st).await.map(Done::new)
            }
            StepAction::AuroraSwitchover { address, global_cluster, target_region }
            | StepAction::AuroraFailover { address, global_cluster, target_region } => {
                let failover = matches!(step.action, StepAction::AuroraFailover { .. });
                // Switchover: in the current writer's region, as AWS's guide
                // says. Failover: in the target's region, with AllowDataLoss.
                let ask = if failover { target_region.as_str() } else { step.needs[0].as_str() };
                let since = SystemTime::now();
                let out =
                    aurora::switch(self.aws, global_cluster, ask, target_region, failover, self.timeout, self.progress)
                        .await
                        .map_err(fail)?;
                // Store what AWS now reports, so the ordinary apply that follows sees the new writer.
                if let Some(a) = crate::state::file::instance_addr(address)
                    && let Some(inst) = st.resources.get_mut(&a)
                {
                    inst.attrs.insert("writer_region".into(), Value::str(target_region));
                    if let Some(arn) = &out.writer {
                        inst.attrs.insert("writer_cluster_arn".into(), Value::str(arn));
                    }
                }
                // A writer reports no forwarding status (AWS reports it for secondaries only);
                // the secondaries' as the switch left it.
                let writer = out.writer.as_deref().map(crate::kinds::rds::cluster_id_of);
                for inst in st.resources.values_mut().filter(|i| i.type_name == "aws_rds_cluster") {
                    let id = inst.attrs.get("cluster_identifier").and_then(Value::as_str).map(str::to_string);
                    if writer.is_some() && id.as_deref() == writer {
                        inst.attrs.remove("global_write_forwarding_status");
                    } else if let Some((_, status)) = out.forwarding.iter().find(|(c, _)| Some(c) == id.as_ref()) {
                        inst.attrs.insert("global_write_forwarding_status".into(), Value::str(status));
                    }
                }
                let mut outcome = out.outcome;
                if !failover && out.moved {
                    outcome =
                        format!("{outcome}; {}", aurora::writer_endpoint_moved(self.aws, target_region, since).await);
                }
                if failover {
                    // Split brain: what Aurora says of fencing the old writer (recorded on the
                    // new primary when the old one is unreachable: Aurora User Guide).
                    outcome = format!("{outcome}; {}", aurora::fencing(self.aws, target_region, since).await);
                }
                Ok(Done { outcome, request_ids: out.request_ids, notes: Vec::new(), measures: Vec::new() })
            }
            StepAction::Rejoin { global_cluster, cluster } => {
                let (outcome, request_ids, note) =
                    aurora::rejoin(self.aws, &step.needs[0], global_cluster, cluster, self.timeout, self.progress)
                        .await
                        .map_err(fail)?;
                Ok(Done { outcome, request_ids, notes: note.into_iter().collect(), measures: Vec::new() })
            }
            StepAction::SearchStopFollowers { via, rules, indices, patterns, catch_up, .. } => {
                let d = super::search::domain(st, self.secrets, via).map_err(fail)?;
                let wait = catch_up.then(|| super::search::CatchUp::new(self.force, self.progress));
                let out =
                    super::search::stop_followers(&d, rules, indices, patterns, wait.as_ref()).await.map_err(fail)?;
                Ok(Done { outcome: out.outcome, request_ids: Vec::new(), notes: out.notes, measures: Vec::new() })
            }
            StepAction::SearchDeleteOldCopies { via, indices, via_new, .. } => {
                let d = super::search::domain(st, self.secrets, via).map_err(fail)?;
                let new = match via_new {
                    Some(v) => Some(super::search::domain(st, self.secrets, v).map_err(fail)?),
                    None => None,
                };
                let out = super::search::delete_old_copies(&d, new.as_ref(), indices).await.map_err(fail)?;
                Ok(Done { outcome: out.outcome, request_ids: Vec::new(), notes: out.notes, measures: Vec::new() })
            }
            StepAction::AppServing { app_region, route53 } => {
                self.serving(app_region, *route53, st).await.map_err(fail).map(Done::new)
            }
            StepAction::Changes { addresses, hold } => {
                let Some(c) = &self.changes else {
                    return Err(SwitchError::Step {
                        step: step.id.clone(),
                        message: "this command carries no plan to apply changes from".into(),
                    });
                };
                let out = c
                    .apply(self.backend, st, addresses, hold)
                    .await
                    .map_err(|message| SwitchError::Step { step: step.id.clone(), message })?;
                Ok(Done::new(out))
            }
            StepAction::DrillDbCopy { source_cluster, copy, instance, instance_class, drill } => {
                // The copy's moment (RPO's reference: production's newest post
                // as of it is read once the copy serves, `drill.serving`).
                let spec = crate::drill::db::Copy { source: source_cluster, copy, instance, instance_class, drill };
                let out = crate::drill::db::copy(self.aws, &step.needs[0], &spec, self.timeout, self.progress)
                    .await
                    .map_err(fail)?;
                let measures = out
                    .moment
                    .map(|(ms, how)| vec![("copy_moment".to_string(), serde_json::json!({ "ms": ms, "how": how }))])
                    .unwrap_or_default();
                Ok(Done { outcome: out.outcome, request_ids: out.request_ids, notes: Vec::new(), measures })
            }
            StepAction::DrillSearchCopy { via, follower, leader, leader_region, copy, indices, rules, drill } => {
                let spec =
                    crate::drill::search::Copy { via, follower, leader, leader_region, copy, indices, rules, drill };
                let out = crate::drill::search::copy(
                    self.aws,
                    &step.needs[0],
                    self.recorded,
                    self.secrets,
                    &spec,
                    self.timeout,
                    self.progress,
                )
                .await
                .map_err(fail)?;
                Ok(Done { outcome: out.outcome, request_ids: out.request_ids, notes: Vec::new(), measures: Vec::new() })
            }
            StepAction::DrillSearchWritable { via, copy, rules, indices, patterns, .. } => {
                let endpoint = crate::drill::search::endpoint(self.aws, &step.needs[0], copy)
                    .await
                    .map_err(fail)?
                    .ok_or_else(|| fail(KindError::Failed(format!("the search copy {copy} is not there"))))?;
                let d = crate::drill::search::copy_rest(self.recorded, self.secrets, via, &endpoint, copy)
                    .await
                    .map_err(fail)?;
                let out = super::search::stop_followers(&d, rules, indices, patterns, None).await.map_err(fail)?;
                Ok(Done { outcome: out.outcome, request_ids: Vec::new(), notes: out.notes, measures: Vec::new() })
            }
            StepAction::DrillCleanup { clusters, instances, domains, app, .. } => {
                let name = clusters.first().cloned().unwrap_or_default();
                let mut app_out = None;
                // Whatever the drill's record holds, the app tier included,
                // whatever today's configuration says (a kept drill's
                // cleanup is planned from it): `app` only says it was planned.
                if *app || !st.resources.is_empty() {
                    let s = session()?;
                    let cx = crate::drill::app::Ctx { aws: &s.aws, backend: self.backend, progress: &s.progress };
                    app_out =
                        Some(crate::drill::app::destroy(&cx, st, &step.needs[0], &name, true).await.map_err(fail)?);
                }
                let search =
                    crate::drill::search::delete(self.aws, &step.needs[0], domains, self.timeout, self.progress)
                        .await
                        .map_err(fail)?;
                let out = crate::drill::db::delete(
                    self.aws,
                    &step.needs[0],
                    clusters,
                    instances,
                    self.timeout,
                    self.progress,
                )
                .await
                .map_err(fail)?;
                let mut outcome =
                    if domains.is_empty() { out.outcome } else { format!("{}; {}", out.outcome, search.outcome) };
                if let Some(a) = app_out {
                    let s = session()?;
                    let cx = crate::drill::app::Ctx { aws: &s.aws, backend: self.backend, progress: &s.progress };
                    let group =
                        crate::drill::app::destroy(&cx, st, &step.needs[0], &name, false).await.map_err(fail)?;
                    outcome = format!("app tier: {a}; {outcome}; database group: {group}");
                }
                Ok(Done::with(outcome, [out.request_ids, search.request_ids].concat()))
            }
            StepAction::WriteForwarding { address, cluster, before_switch } => {
                let (outcome, request_ids) =
                    aurora::write_forwarding(self.aws, &step.needs[0], cluster, *before_switch, self.timeout)
                        .await
                        .map_err(fail)?;
                if let Some(a) = crate::state::file::instance_addr(address)
                    && let Some(inst) = st.resources.get_mut(&a)
                {
                    inst.attrs.insert("enable_global_write_forwarding".into(), Value::Bool(true));
                    if !before_switch {
                        inst.attrs.insert("global_write_forwarding_status".into(), Value::str("enabled"));
                    }
                }
                Ok(Done { outcome, request_ids, notes: Vec::new(), measures: Vec::new() })
            }
        }
    }

    async fn readiness(
        &self,
        prefixes: &[String],
        scaled: &BTreeMap<String, i64>,
        refuse: &[String],
        to_region: &str,
        st: &State,
    ) -> Result<String, SwitchError> {
        let bounds = health::Bounds::default();
        let input = health::Input {
            recorded: self.recorded,
            refreshed: st,
            secrets: self.secrets,
            aws: self.aws,
            bounds: &bounds,
            // The app tier must serve where the switch sends users.
            target_region: Some(to_region),
        };
        let (checks, problems) = match health::dr::run(&input).await {
            Ok(c) => (c, Vec::new()),
            Err(e) => (Vec::new(), e),
        };
        let ours: Vec<&health::Check> =
            checks.iter().filter(|c| prefixes.iter().any(|p| c.id.starts_with(p.as_str()))).collect();
        // A group the runbook scales up from no nodes has none yet, and
        // Route 53's checkers of the target's load balancer (the only ones
        // readiness reads) see nothing behind it: its app.serving step waits
        // for the nodes before users are sent there.
        let expected_empty = |c: &health::Check| {
            c.address.as_ref().is_some_and(|a| scaled.contains_key(a))
                || (!scaled.is_empty() && c.id == "app.dns_health")
        };
        let mut failed: Vec<String> = ours
            .iter()
            .filter(|c| c.status == Status::Fail && !expected_empty(c))
            .map(|c| {
                let fix = c.fix.as_deref().map(|f| format!("\n      fix: {f}")).unwrap_or_default();
                format!("  - {}: {} (expected {}, found {}){fix}", c.id, c.title, c.expected, c.actual)
            })
            .collect();
        failed.extend(problems.iter().map(|p| format!("  - could not check: {p}")));
        failed.extend(refuse.iter().map(|r| format!("  - the plan: {r}")));
        if failed.is_empty() {
            let scaled = if scaled.is_empty() {
                String::new()
            } else {
                format!(
                    "; no app node yet where the runbook scales up: {}",
                    scaled.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            };
            return Ok(format!("ready ({} checks passed{scaled})", ours.len()));
        }
        if self.force {
            (self.progress)(&format!("Warning: --force: switching although readiness failed:\n{}", failed.join("\n")));
            return Ok(format!("forced past {} failed check(s)", failed.len()));
        }
        Err(SwitchError::NotReady(failed.join("\n")))
    }

    /// Waits until `secs` have passed since the step `before` last ended (as
    /// the run recorded it: a resumed run waits only what is left; none
    /// recorded, the whole time), with a progress line every 15 s.
    /// Mattermost's search user (the tier's `search_user`) made on the
    /// search copy `copy` as the standby follower in `region` has it.
    async fn drill_search_user(
        &self,
        region: &str,
        inputs: &serde_json::Map<String, serde_json::Value>,
        copy: &str,
    ) -> Result<String, KindError> {
        let user = inputs.get("search_user").and_then(serde_json::Value::as_str).ok_or_else(|| {
            KindError::Failed(
                "the standby app tier's inputs name no search_user: Mattermost's search user is not known".into(),
            )
        })?;
        let via = crate::drill::source(self.recorded, Some(region))
            .ok()
            .and_then(|s| s.search)
            .map(|s| s.via)
            .ok_or_else(|| KindError::Failed(format!("the state holds no search follower in {region}")))?;
        let endpoint = crate::drill::search::endpoint(self.aws, region, copy)
            .await?
            .ok_or_else(|| KindError::Failed(format!("the search copy {copy} is not there")))?;
        crate::drill::search::mattermost_user(self.recorded, self.secrets, &via, &endpoint, copy, user).await
    }

    async fn settle(&self, secs: u64, before: Option<&str>, run: &Run) {
        let end = run.events.iter().rev().find(|e| Some(e.step.as_str()) == before && !e.end.is_empty());
        let ended = end.and_then(|e| crate::ids::parse_rfc3339(&e.end));
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let until =
            Instant::now() + Duration::from_secs(secs.saturating_sub(ended.map_or(0, |e| now.saturating_sub(e))));
        let step = before.unwrap_or("the step before");
        let since = match end.filter(|_| ended.is_some()) {
            Some(e) => format!("{step} ended at {}", e.end),
            None => format!("{step}, whose end this run has not recorded: the whole wait"),
        };
        let why = if before == Some(super::front::DNS) {
            "users following DNS"
        } else {
            "no DNS change in this plan: users are moved by whatever else points them to the new region"
        };
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            (self.progress)(&format!("    waiting {}s more ({secs}s after {since}; {why})", left.as_secs().max(1)));
            tokio::time::sleep(left.min(Duration::from_secs(15))).await;
        }
    }

    /// Waits until every Auto Scaling group of `region` serves (see
    /// [`health::app::Group::serves`]): first look at once, then as AWS's
    /// Elastic Load Balancing waiter `TargetInService` does, every 15 s
    /// (botocore `elbv2` waiters-2.json: delay 15), with progress each time.
    async fn serving(&self, region: &str, route53: bool, st: &State) -> Result<String, KindError> {
        let secs = std::env::var(ENV_APP_SERVING_SECS).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(900);
        let limit = Duration::from_secs(secs);
        let t0 = Instant::now();
        let mut delay = Duration::from_secs(1);
        let bounds = health::Bounds::default();
        let mut streaks = health::app::Streaks::default();
        loop {
            let groups = health::app::groups(self.aws, st, region).await.map_err(KindError::Failed)?;
            let mut now = groups.iter().map(health::app::Group::describe).collect::<Vec<_>>().join("; ");
            let mut serves = groups.iter().all(health::app::Group::serves);
            // Route 53's checkers (from outside) see it too, as Route 53
            // decides it (`failure_threshold` new successes in a row, see
            // Streaks): until then its failover records keep answering with
            // the old region. A read that fails (throttled: AWS says the call
            // is for diagnosis, not high rates) is "not yet", retried with
            // the step's backoff until its deadline.
            if serves && route53 {
                let input = health::Input {
                    recorded: self.recorded,
                    refreshed: st,
                    secrets: self.secrets,
                    aws: self.aws,
                    bounds: &bounds,
                    target_region: Some(region),
                };
                match health::app::route53_seen(&input).await {
                    Ok((checks, observed)) => {
                        streaks.observe(&observed);
                        serves = checks.is_empty() || streaks.healthy();
                        if !checks.is_empty() {
                            now.push_str(&format!("; Route 53's checkers: {}", streaks.describe()));
                        }
                    }
                    Err(e) => {
                        serves = false;
                        now.push_str(&format!("; Route 53's health check status unreadable (retrying): {e}"));
                    }
                }
            }
            if serves {
                return Ok(if groups.is_empty() {
                    format!("no Auto Scaling group in {region}")
                } else {
                    format!("serving: {now}")
                });
            }
            if t0.elapsed() >= limit {
                return Err(KindError::Failed(format!(
                    "{region}'s app tier does not serve after {}s: {now}{}",
                    t0.elapsed().as_secs(),
                    if groups.iter().any(|g| g.desired == 0) {
                        " (a group with a desired capacity of 0 runs no node: scale it up, e.g. make its capacity \
                         follow active_region)"
                    } else {
                        " (see the groups' activity history and the target groups' health check)"
                    }
                )));
            }
            (self.progress)(&format!("    waiting for {region} to serve ({}s): {now}", t0.elapsed().as_secs()));
            tokio::time::sleep(delay.min(limit.saturating_sub(t0.elapsed()))).await;
            // Route 53's fastest request_interval is 10 s: read at least as
            // often, so that no report (a failure) goes unseen.
            delay = (delay * 2).min(Duration::from_secs(if route53 { 10 } else { 15 }));
        }
    }
}

/// What covers a pending step meanwhile, when something does.
fn meanwhile(step: &Step) -> String {
    step.meanwhile.as_ref().map(|m| format!("; meanwhile {m}")).unwrap_or_default()
}

/// A run's end: when its target became active (a failover's since its
/// first step, kept; otherwise now), and the failover note cleared:
/// switching back is an ordinary (reviewed) switchover now.
fn finish(st: &mut State, rb: &Runbook) -> String {
    let keep_since = st
        .roles
        .as_ref()
        .filter(|r| r.active == rb.to && rb.mode == "failover" && !r.since.is_empty())
        .map(|r| r.since.clone());
    if let Some(r) = st.roles.as_mut() {
        r.failover = None;
    }
    keep_since.unwrap_or_else(now_rfc3339)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}
