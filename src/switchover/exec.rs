//! The one executor of runbooks: steps in order, each journaled in the
//! state before and after it runs, each observing AWS before it acts.
//!
//! Resuming: the state's last run (same from/to) gives the steps already
//! done; the others run again, and since each first looks at what AWS has,
//! repeating one that had in fact taken effect only waits for it.

use super::{Runbook, Step, StepAction};
use crate::aws::Aws;
use crate::drift::now_rfc3339;
use crate::health::{self, Status};
use crate::kinds::KindError;
use crate::kinds::rds::{rds_error, region_of_arn};
use crate::state::backend::{self, Backend};
use crate::state::roles::{Event, Roles, Run};
use crate::state::{State, file::StateError};
use crate::value::{Attrs, Value};
use aws_sdk_rds::operation::RequestId;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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
    /// Emergency: run only the steps in the runbook's target region; the
    /// others stay pending in the state.
    pub surviving_only: bool,
    /// For steps that apply some of the plan's changes (scheduler, DNS).
    pub changes: Option<super::changes::Changes<'a>>,
}

/// The most a wait sleeps between looks.
const POLL_CAP: Duration = Duration::from_secs(2);

impl Executor<'_> {
    /// Runs the runbook's steps not done yet; the state records every step.
    pub async fn run(&self, rb: &Runbook, st: &mut State) -> Result<(), SwitchError> {
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
        });
        for step in &rb.steps {
            if run.status(&step.id).is_none() {
                run.set(&step.id, "pending");
            }
        }
        let started = Instant::now();
        for (n, step) in rb.steps.iter().enumerate() {
            if run.status(&step.id) == Some("done") {
                (self.progress)(&format!("[{}/{}] {}: done in an earlier run", n + 1, rb.steps.len(), step.id));
                continue;
            }
            if self.surviving_only
                && step.region != rb.to_region
                && !(best_effort(step) && step.region != rb.from_region)
            {
                (self.progress)(&format!(
                    "[{}/{}] {}: pending until {} is back (`standby apply` finishes it){}",
                    n + 1,
                    rb.steps.len(),
                    step.id,
                    step.region,
                    meanwhile(step)
                ));
                continue;
            }
            (self.progress)(&format!("[{}/{}] {} ({})", n + 1, rb.steps.len(), step.title, step.region));
            run.set(&step.id, "running");
            run.events.push(Event {
                step: step.id.clone(),
                start: now_rfc3339(),
                outcome: "running".into(),
                ..Default::default()
            });
            self.save(st, &run, None).await?;
            let t0 = Instant::now();
            let result = self.step(step, &rb.to_region, st).await;
            let ev = run.events.last_mut().expect("pushed above");
            ev.end = now_rfc3339();
            match result {
                Ok((outcome, ids)) => {
                    ev.outcome = outcome.clone();
                    ev.request_ids = ids;
                    run.set(&step.id, "done");
                    // The writer moved: that region is active now, whatever is left. The last
                    // step finishes the run in the same write (a kill between two writes would
                    // leave the steps done and the old region named active).
                    let moved = if run.steps.iter().all(|s| s.status == "done") {
                        Some(finish(st, rb))
                    } else {
                        matches!(step.action, StepAction::AuroraFailover { .. }).then(now_rfc3339)
                    };
                    self.save(st, &run, moved).await?;
                    (self.progress)(&format!("    {outcome} [{}s]", t0.elapsed().as_secs()));
                }
                // In an emergency, DNS that cannot change now is left pending.
                Err(e) if self.surviving_only && best_effort(step) => {
                    ev.outcome = format!("pending: {}", first_line(&e.to_string()));
                    run.set(&step.id, "pending");
                    self.save(st, &run, None).await?;
                    (self.progress)(&format!(
                        "    not done, left pending (`standby apply` finishes it): {}{}",
                        first_line(&e.to_string()),
                        meanwhile(step)
                    ));
                }
                Err(e) => {
                    ev.outcome = format!("failed: {}", first_line(&e.to_string()));
                    run.set(&step.id, "failed");
                    self.save(st, &run, None).await?;
                    return Err(e);
                }
            }
        }
        let pending = run.steps.iter().filter(|s| s.status != "done").count();
        if pending > 0 {
            (self.progress)(&format!(
                "Failover done: {} ({}) is active [{}s]; {pending} step(s) pending until {} is back: they show in \
                 every plan, and `standby apply` finishes them",
                rb.to,
                rb.to_region,
                started.elapsed().as_secs(),
                rb.from_region
            ));
            return Ok(());
        }
        let since = finish(st, rb);
        self.save(st, &run, Some(since)).await?;
        let what = if rb.mode == "failover" { "Failover finished" } else { "Switchover complete" };
        (self.progress)(&format!("{what}: {} ({}) is active [{}s]", rb.to, rb.to_region, started.elapsed().as_secs()));
        Ok(())
    }

    /// Records the run in the state and writes it (atomically, with a backup).
    async fn save(&self, st: &mut State, run: &Run, finished: Option<String>) -> Result<(), SwitchError> {
        let prior = st.roles.clone().unwrap_or_else(|| Roles { active: run.from.clone(), ..Default::default() });
        let (active, since) = match finished {
            Some(t) => (run.to.clone(), t),
            None => (prior.active, prior.since),
        };
        st.roles = Some(Roles { active, since, run: Some(run.clone()), failover: prior.failover });
        backend::write(self.backend, st).await?;
        Ok(())
    }

    async fn step(&self, step: &Step, to_region: &str, st: &mut State) -> Result<(String, Vec<String>), SwitchError> {
        let fail = |e: KindError| SwitchError::Step { step: step.id.clone(), message: e.to_string() };
        match &step.action {
            StepAction::Readiness { checks } => self.readiness(checks, to_region, st).await.map(|o| (o, Vec::new())),
            StepAction::AuroraSwitchover { address, global_cluster, target_region }
            | StepAction::AuroraFailover { address, global_cluster, target_region } => {
                let failover = matches!(step.action, StepAction::AuroraFailover { .. });
                let out = self.switchover(step, global_cluster, target_region, failover).await.map_err(fail)?;
                // Store what AWS now reports, so the ordinary apply that follows sees the new writer.
                if let Some(a) = crate::state::file::instance_addr(address)
                    && let Some(inst) = st.resources.get_mut(&a)
                {
                    inst.attrs.insert("writer_region".into(), Value::str(target_region));
                    if let Some(arn) = &out.2 {
                        inst.attrs.insert("writer_cluster_arn".into(), Value::str(arn));
                    }
                }
                // A writer reports no forwarding status (AWS reports it for secondaries only).
                let writer = out.2.as_deref().map(crate::kinds::rds::cluster_id_of);
                for inst in st.resources.values_mut().filter(|i| i.type_name == "aws_rds_cluster") {
                    if writer.is_some() && inst.attrs.get("cluster_identifier").and_then(Value::as_str) == writer {
                        inst.attrs.remove("global_write_forwarding_status");
                    }
                }
                Ok((out.0, out.1))
            }
            StepAction::Rejoin { global_cluster, cluster } => {
                self.rejoin(&step.region, global_cluster, cluster).await.map_err(fail)
            }
            StepAction::SearchStopFollowers { via, rules, indices, patterns, catch_up, .. } => {
                let d = super::search::domain(st, self.secrets, via).map_err(fail)?;
                let wait = catch_up.then(|| super::search::CatchUp::new(self.force, self.progress));
                let out =
                    super::search::stop_followers(&d, rules, indices, patterns, wait.as_ref()).await.map_err(fail)?;
                Ok((out, Vec::new()))
            }
            StepAction::SearchDeleteOldCopies { via, indices, .. } => {
                let d = super::search::domain(st, self.secrets, via).map_err(fail)?;
                let out = super::search::delete_old_copies(&d, indices).await.map_err(fail)?;
                Ok((out, Vec::new()))
            }
            StepAction::Changes { addresses } => {
                let Some(c) = &self.changes else {
                    return Err(SwitchError::Step {
                        step: step.id.clone(),
                        message: "this command carries no plan to apply changes from".into(),
                    });
                };
                let out = c
                    .apply(self.backend, st, addresses)
                    .await
                    .map_err(|message| SwitchError::Step { step: step.id.clone(), message })?;
                Ok((out, Vec::new()))
            }
            StepAction::WriteForwarding { address, cluster } => {
                let out = self.write_forwarding(&step.region, cluster).await.map_err(fail)?;
                if let Some(a) = crate::state::file::instance_addr(address)
                    && let Some(inst) = st.resources.get_mut(&a)
                {
                    inst.attrs.insert("enable_global_write_forwarding".into(), Value::Bool(true));
                    inst.attrs.insert("global_write_forwarding_status".into(), Value::str("enabled"));
                }
                Ok(out)
            }
        }
    }

    async fn readiness(&self, prefixes: &[String], to_region: &str, st: &State) -> Result<String, SwitchError> {
        let bounds = health::dr::Bounds::default();
        let input = health::dr::Input {
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
        let mut failed: Vec<String> = checks
            .iter()
            .filter(|c| prefixes.iter().any(|p| c.id.starts_with(p.as_str())) && c.status == Status::Fail)
            .map(|c| {
                let fix = c.fix.as_deref().map(|f| format!("\n      fix: {f}")).unwrap_or_default();
                format!("  - {}: {} (expected {}, found {}){fix}", c.id, c.title, c.expected, c.actual)
            })
            .collect();
        failed.extend(problems.iter().map(|p| format!("  - could not check: {p}")));
        let passed = checks.iter().filter(|c| prefixes.iter().any(|p| c.id.starts_with(p.as_str()))).count();
        if failed.is_empty() {
            return Ok(format!("ready ({passed} checks passed)"));
        }
        if self.force {
            (self.progress)(&format!("Warning: --force: switching although readiness failed:\n{}", failed.join("\n")));
            return Ok(format!("forced past {} failed check(s)", failed.len()));
        }
        Err(SwitchError::NotReady(failed.join("\n")))
    }

    /// Observes the global cluster, asks for the switchover only when it is
    /// neither done nor under way, and waits for it. Returns the outcome,
    /// the request ids, and the new writer's ARN.
    async fn switchover(
        &self,
        step: &Step,
        id: &str,
        target_region: &str,
        data_loss: bool,
    ) -> Result<(String, Vec<String>, Option<String>), KindError> {
        // A failover talks to the target's region only: the other may be gone.
        let rds_from = self.aws.rds(&step.region).await;
        let rds_to = self.aws.rds(target_region).await;
        let deadline = Instant::now() + self.timeout;
        let mut ids = Vec::new();
        let mut asked = false;
        let mut delay = Duration::from_millis(200);
        let t0 = Instant::now();
        let mut last_note = Instant::now();
        loop {
            let out = rds_to
                .describe_global_clusters()
                .global_cluster_identifier(id)
                .send()
                .await
                .map_err(|e| rds_error("DescribeGlobalClusters", e))?;
            let g = out
                .global_clusters()
                .first()
                .ok_or_else(|| KindError::Failed(format!("global cluster {id} not found")))?;
            let members = g.global_cluster_members();
            let writer = members.iter().find(|m| m.is_writer() == Some(true)).and_then(|m| m.db_cluster_arn());
            let failover = g.failover_state().and_then(|f| f.status()).map(|s| s.as_str().to_string());
            let in_target = |arn: &str| region_of_arn(arn) == Some(target_region);
            if failover.is_none() && writer.is_some_and(in_target) {
                let outcome = if asked { "writer moved" } else { "already the writer (nothing asked)" };
                return Ok((format!("{outcome}: {}", writer.unwrap_or_default()), ids, writer.map(str::to_string)));
            }
            if failover.is_none() && !asked {
                let target = members
                    .iter()
                    .filter_map(|m| m.db_cluster_arn())
                    .find(|a| in_target(a))
                    .ok_or_else(|| KindError::Failed(format!("global cluster {id} has no member in {target_region}")))?
                    .to_string();
                // Switchover: in the current writer's region, as AWS's guide
                // says. Failover: in the target's region, with AllowDataLoss.
                let res = if data_loss {
                    rds_from
                        .failover_global_cluster()
                        .global_cluster_identifier(id)
                        .target_db_cluster_identifier(&target)
                        .allow_data_loss(true)
                        .send()
                        .await
                        .map(|o| o.request_id().map(str::to_string))
                        .map_err(|e| rds_error("FailoverGlobalCluster", e))
                } else {
                    rds_from
                        .switchover_global_cluster()
                        .global_cluster_identifier(id)
                        .target_db_cluster_identifier(&target)
                        .send()
                        .await
                        .map(|o| o.request_id().map(str::to_string))
                        .map_err(|e| rds_error("SwitchoverGlobalCluster", e))
                };
                match res {
                    Ok(rid) => ids.extend(rid),
                    // Unsure whether it took effect: the next look decides.
                    Err(e) if !e.refused() => {}
                    Err(e) => return Err(e),
                }
                asked = true;
                continue;
            }
            if Instant::now() > deadline {
                return Err(KindError::Timeout { what: format!("the switchover of {id}"), after: self.timeout });
            }
            if last_note.elapsed() >= Duration::from_secs(10) {
                last_note = Instant::now();
                (self.progress)(&format!(
                    "    still switching over ({}s elapsed, FailoverState: {})",
                    t0.elapsed().as_secs(),
                    failover.as_deref().unwrap_or("none")
                ));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(POLL_CAP);
        }
    }

    /// Waits until `cluster` is a member again (Aurora re-adds the old
    /// writer itself once its region is reachable; asked nothing), then
    /// keeps the snapshot Aurora took of its old volume as a manual copy.
    async fn rejoin(&self, region: &str, id: &str, cluster: &str) -> Result<(String, Vec<String>), KindError> {
        let rds = self.aws.rds(region).await;
        let deadline = Instant::now() + self.timeout;
        let t0 = Instant::now();
        let mut last_note = Instant::now();
        let mut delay = Duration::from_millis(200);
        loop {
            let out = rds
                .describe_global_clusters()
                .global_cluster_identifier(id)
                .send()
                .await
                .map_err(|e| rds_error("DescribeGlobalClusters", e))?;
            let member = out.global_clusters().first().is_some_and(|g| {
                g.global_cluster_members().iter().any(|m| {
                    m.db_cluster_arn().map(crate::kinds::rds::cluster_id_of) == Some(cluster)
                        && m.is_writer() != Some(true)
                })
            });
            if member {
                break;
            }
            if Instant::now() > deadline {
                return Err(KindError::Timeout {
                    what: format!("{cluster} to rejoin {id} (Aurora re-adds it when {region} is reachable again)"),
                    after: self.timeout,
                });
            }
            if last_note.elapsed() >= Duration::from_secs(10) {
                last_note = Instant::now();
                (self.progress)(&format!(
                    "    waiting for Aurora to re-add {cluster} to {id} ({}s elapsed)",
                    t0.elapsed().as_secs()
                ));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(POLL_CAP);
        }
        let kept = super::snapshot::keep(&rds, cluster, self.timeout, self.progress).await?;
        Ok((format!("{cluster} is a secondary of {id} again; {}", kept.describe(cluster)), kept.request_ids))
    }

    /// Makes sure the new secondary forwards writes (observing first).
    async fn write_forwarding(&self, region: &str, cluster: &str) -> Result<(String, Vec<String>), KindError> {
        let rds = self.aws.rds(region).await;
        let mut ids = Vec::new();
        let mut delay = Duration::from_millis(200);
        let deadline = Instant::now() + self.timeout;
        let mut asked = false;
        loop {
            let out = rds
                .describe_db_clusters()
                .db_cluster_identifier(cluster)
                .send()
                .await
                .map_err(|e| rds_error("DescribeDBClusters", e))?;
            let c =
                out.db_clusters().first().ok_or_else(|| KindError::Failed(format!("cluster {cluster} not found")))?;
            let status = c.global_write_forwarding_status().map(|s| s.as_str().to_string());
            if c.global_write_forwarding_requested() == Some(true) && status.as_deref() == Some("enabled") {
                let outcome = if asked { "write forwarding enabled" } else { "write forwarding already on" };
                return Ok((outcome.into(), ids));
            }
            if c.global_write_forwarding_requested() != Some(true) && !asked {
                let o = rds
                    .modify_db_cluster()
                    .db_cluster_identifier(cluster)
                    .enable_global_write_forwarding(true)
                    .apply_immediately(true)
                    .send()
                    .await
                    .map_err(|e| rds_error("ModifyDBCluster", e))?;
                ids.extend(o.request_id().map(str::to_string));
                asked = true;
                continue;
            }
            if Instant::now() > deadline {
                return Err(KindError::Timeout { what: format!("write forwarding on {cluster}"), after: self.timeout });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(POLL_CAP);
        }
    }
}

/// In an emergency, DNS is tried (unless Route 53's region is the one down)
/// and left pending when it cannot change: the failover records already
/// answer with the survivor while the old region's health check fails.
fn best_effort(step: &Step) -> bool {
    step.id == super::front::DNS
}

/// What covers a pending step meanwhile, when something does.
fn meanwhile(step: &Step) -> &'static str {
    if step.id == super::front::DNS {
        "; meanwhile Route 53 answers with the SECONDARY record (the survivor) while the PRIMARY's health check \
         fails, with no API call"
    } else {
        ""
    }
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
