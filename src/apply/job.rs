//! One operation on one instance, run as its own task: the kind's call
//! under a timeout, "Still …" lines while it runs, read-after-write.

use super::progress::{Op, Progress};
use crate::address::InstanceAddr;
use crate::aws::Aws;
use crate::kinds::{Ctx, Kind, KindError};
use crate::state::journal::Journal;
use crate::state::{Instance, Status};
use crate::value::Attrs;
use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

pub struct Job {
    addr: InstanceAddr,
    kind: &'static dyn Kind,
    op: Op,
    /// The instance as recorded before the call (pending intent for create,
    /// current state for update and delete).
    before: Instance,
    /// Planned attributes, sensitive ones included.
    planned: Attrs,
    /// Inputs for the kind's create/update.
    props: Attrs,
    sensitive: BTreeSet<String>,
    timeout: Duration,
    region: String,
    node: Option<usize>,
}

pub struct JobError {
    pub message: String,
    /// What to keep on record (e.g. created, but not ready in time).
    pub keep: Option<Instance>,
}

pub struct JobDone {
    pub addr: InstanceAddr,
    pub op: Op,
    pub node: Option<usize>,
    pub sensitive: BTreeSet<String>,
    /// The new state record, and the sensitive values (for the scope only).
    pub result: Result<(Instance, Attrs), JobError>,
    /// Whether it counts in the summary.
    pub counts: bool,
}

impl Job {
    /// A delete. `secrets` are the instance's configured sensitive inputs
    /// (see `Loaded::secrets`), given to the kind's `delete` in `prior` only.
    pub fn removal(
        addr: InstanceAddr,
        kind: &'static dyn Kind,
        before: Instance,
        timeout: Duration,
        secrets: Attrs,
    ) -> Job {
        let region = before.region.clone();
        Job {
            addr,
            kind,
            op: Op::Delete,
            before,
            planned: Attrs::new(),
            props: secrets,
            sensitive: BTreeSet::new(),
            timeout,
            region,
            node: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn change(
        addr: InstanceAddr,
        kind: &'static dyn Kind,
        op: Op,
        before: Instance,
        planned: Attrs,
        props: Attrs,
        sensitive: BTreeSet<String>,
        timeout: Duration,
        region: String,
        node: Option<usize>,
    ) -> Job {
        Job { addr, kind, op, before, planned, props, sensitive, timeout, region, node }
    }

    pub async fn run(self, aws: &Aws, journal: &Journal, progress: &Progress) -> JobDone {
        let address = self.addr.to_string();
        let started = Instant::now();
        let deadline = started + self.timeout;
        let cx = Ctx { address: &address, region: &self.region, aws, timeout: self.timeout };
        progress.start(&address, self.op, self.before.id.as_deref());
        let result = match self.op {
            Op::Delete => self.delete(&cx, journal, progress, started, deadline).await,
            Op::Create => self.create(&cx, journal, progress, started, deadline).await,
            Op::Update => self.update(&cx, journal, progress, started, deadline).await,
        };
        if let Ok((inst, _)) = &result {
            progress.done(&address, self.op, started.elapsed(), inst.id.as_deref());
        }
        JobDone { addr: self.addr, op: self.op, node: self.node, sensitive: self.sensitive, result, counts: true }
    }

    /// Runs `fut` with "Still …" lines, until the deadline.
    async fn watch<T>(
        &self,
        progress: &Progress,
        started: Instant,
        deadline: Instant,
        what: &str,
        fut: impl Future<Output = Result<T, KindError>>,
    ) -> Result<T, KindError> {
        let address = self.addr.to_string();
        let every = super::progress::interval();
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tokio::pin!(fut);
        let sleep = tokio::time::sleep_until(deadline.into());
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                r = &mut fut => return r,
                _ = ticker.tick() => progress.still(&address, self.op, started.elapsed()),
                _ = &mut sleep => return Err(KindError::Timeout { what: what.to_string(), after: self.timeout }),
            }
        }
    }

    async fn delete(
        &self,
        cx: &Ctx<'_>,
        journal: &Journal,
        progress: &Progress,
        started: Instant,
        deadline: Instant,
    ) -> Result<(Instance, Attrs), JobError> {
        let keep = || Some(self.before.clone());
        let Some(id) = self.before.id.clone().or_else(|| self.kind.id_hint(&self.before.attrs)) else {
            // Never created (an interrupted create with nothing to find).
            journal
                .remove(&self.addr)
                .map_err(|e| JobError { message: format!("cannot write the journal: {e}"), keep: keep() })?;
            return Ok((self.before.clone(), Attrs::new()));
        };
        let mut prior = self.before.attrs.clone();
        prior.extend(self.props.clone());
        self.watch(progress, started, deadline, "deletion", self.kind.delete(cx, &id, &prior))
            .await
            .map_err(|e| JobError { message: format!("delete failed: {e}"), keep: keep() })?;
        journal
            .remove(&self.addr)
            .map_err(|e| JobError { message: format!("cannot write the journal: {e}"), keep: None })?;
        Ok((self.before.clone(), Attrs::new()))
    }

    async fn create(
        &self,
        cx: &Ctx<'_>,
        journal: &Journal,
        progress: &Progress,
        started: Instant,
        deadline: Instant,
    ) -> Result<(Instance, Attrs), JobError> {
        let created = match self.watch(progress, started, deadline, "creation", self.kind.create(cx, &self.props)).await
        {
            Ok(c) => c,
            Err(e) => {
                // An AWS refusal means nothing was made; anything else
                // (timeout, lost connection) might have, so keep the intent.
                let keep = (!matches!(e, KindError::Aws { .. })).then(|| self.before.clone());
                return Err(JobError { message: format!("create failed: {e}"), keep });
            }
        };
        // On record at once: if waiting fails, the next plan still finds it.
        let mut rec = self.before.clone();
        rec.id = Some(created.id.clone());
        let (clear, _) = split(&created.attrs, &self.sensitive);
        rec.attrs = clear;
        let _ = journal.put(&self.addr, &rec);
        self.finish(cx, journal, progress, started, deadline, rec, created.attrs, "creation").await
    }

    async fn update(
        &self,
        cx: &Ctx<'_>,
        journal: &Journal,
        progress: &Progress,
        started: Instant,
        deadline: Instant,
    ) -> Result<(Instance, Attrs), JobError> {
        let id = self.before.id.clone().unwrap_or_default();
        self.watch(progress, started, deadline, "update", self.kind.update(cx, &id, &self.before.attrs, &self.props))
            .await
            .map_err(|e| JobError { message: format!("update failed: {e}"), keep: Some(self.before.clone()) })?;
        let rec = self.before.clone();
        self.finish(cx, journal, progress, started, deadline, rec, self.planned.clone(), "update").await
    }

    /// Waits until ready, reads back, and records what AWS reports.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        cx: &Ctx<'_>,
        journal: &Journal,
        progress: &Progress,
        started: Instant,
        deadline: Instant,
        mut rec: Instance,
        known: Attrs,
        what: &str,
    ) -> Result<(Instance, Attrs), JobError> {
        let id = rec.id.clone().unwrap_or_default();
        if let Err(e) = self.watch(progress, started, deadline, what, self.kind.wait_ready(cx, &id)).await {
            return Err(JobError {
                message: format!(
                    "{what} did not finish: {e}; it stays on record and the next plan picks up from there"
                ),
                keep: Some(rec),
            });
        }
        let observed = match self.kind.read(cx, &id, &known).await {
            Ok(Some(attrs)) => attrs,
            Ok(None) => {
                return Err(JobError {
                    message: format!("{what} succeeded but the resource cannot be read back"),
                    keep: Some(rec),
                });
            }
            Err(e) => {
                return Err(JobError { message: format!("reading back after {what} failed: {e}"), keep: Some(rec) });
            }
        };
        let (clear, _) = split(&observed, &self.sensitive);
        rec.attrs = clear;
        rec.status = Status::Ready;
        journal
            .put(&self.addr, &rec)
            .map_err(|e| JobError { message: format!("cannot write the journal: {e}"), keep: Some(rec.clone()) })?;
        let secrets: Attrs = self
            .planned
            .iter()
            .filter(|(k, _)| self.sensitive.contains(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok((rec, secrets))
    }
}

fn split(attrs: &Attrs, sensitive: &BTreeSet<String>) -> (Attrs, Attrs) {
    attrs.iter().map(|(k, v)| (k.clone(), v.clone())).partition(|(k, _)| !sensitive.contains(k))
}
