//! One operation on one instance, run as its own task: the kind's call
//! under a timeout, "Still …" lines while it runs, read-after-write.
//!
//! What is recorded when:
//! - create: what the object it changes had until now (the kind's
//!   `before_create`: a bucket's versioning status, a domain's policy) is
//!   read first; then the intent (status `pending`, with the id when the
//!   kind can predict it, and that observation) goes to the journal, durably,
//!   before the call; the
//!   id as soon as the call returns; the observed record when ready. A
//!   refusal from AWS withdraws the intent; an unclear failure (timeout,
//!   lost connection, server error) keeps it for the next refresh to settle.
//! - update: the new record only once AWS accepted the change and it was
//!   read back; on failure the prior record stands (so a secret that did not
//!   reach AWS is not marked as set).
//! - delete: the removal, once AWS confirmed it.

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
    pub addr: InstanceAddr,
    kind: &'static dyn Kind,
    pub op: Op,
    /// The record as it is now (update, delete); `None` for a create.
    prior: Option<Instance>,
    /// The record to keep on success: type, region, dependencies, hashes of
    /// secrets, and for a create the intent (pending, id hint, inputs).
    record: Instance,
    /// Planned attributes, sensitive ones included.
    planned: Attrs,
    /// Inputs for create/update; for delete, secrets the kind may need.
    props: Attrs,
    pub sensitive: BTreeSet<String>,
    /// What the plan changes (an update's properties, secrets included).
    changed: BTreeSet<String>,
    timeout: Duration,
    pub node: Option<usize>,
}

pub struct JobError {
    pub message: String,
    /// What to keep on record instead (e.g. created, but not ready in time).
    pub keep: Option<Instance>,
}

pub struct JobDone {
    pub addr: InstanceAddr,
    pub op: Op,
    pub node: Option<usize>,
    pub sensitive: BTreeSet<String>,
    /// The new state record, and the sensitive values (for the scope only).
    pub result: Result<(Instance, Attrs), JobError>,
}

/// What a create or update job needs.
pub struct Change {
    pub addr: InstanceAddr,
    pub kind: &'static dyn Kind,
    pub op: Op,
    pub prior: Option<Instance>,
    pub record: Instance,
    pub planned: Attrs,
    pub props: Attrs,
    pub sensitive: BTreeSet<String>,
    pub changed: BTreeSet<String>,
    pub timeout: Duration,
    pub node: usize,
}

impl Job {
    pub fn removal(
        addr: InstanceAddr,
        kind: &'static dyn Kind,
        prior: Instance,
        timeout: Duration,
        secrets: Attrs,
    ) -> Job {
        Job {
            addr,
            kind,
            op: Op::Delete,
            record: prior.clone(),
            prior: Some(prior),
            planned: Attrs::new(),
            props: secrets,
            sensitive: BTreeSet::new(),
            changed: BTreeSet::new(),
            timeout,
            node: None,
        }
    }

    pub fn change(c: Change) -> Job {
        Job {
            addr: c.addr,
            kind: c.kind,
            op: c.op,
            prior: c.prior,
            record: c.record,
            planned: c.planned,
            props: c.props,
            sensitive: c.sensitive,
            changed: c.changed,
            timeout: c.timeout,
            node: Some(c.node),
        }
    }

    /// The result for a job that never ran to the end (it panicked).
    pub fn lost(&self, message: &str) -> JobDone {
        let keep = match self.op {
            Op::Create => Some(self.record.clone()),
            _ => self.prior.clone(),
        };
        JobDone {
            addr: self.addr.clone(),
            op: self.op,
            node: self.node,
            sensitive: self.sensitive.clone(),
            result: Err(JobError { message: message.to_string(), keep }),
        }
    }

    pub async fn run(mut self, aws: &Aws, journal: &Journal, progress: &Progress) -> JobDone {
        let address = self.addr.to_string();
        let started = Instant::now();
        let deadline = started + self.timeout;
        let adopted = self.record.adopted || self.prior.as_ref().is_some_and(|p| p.adopted);
        let (region, changed) = (self.record.region.clone(), self.changed.clone());
        let cx = Ctx { address: &address, region: &region, aws, timeout: self.timeout, adopted, changed: &changed };
        progress.start(&address, self.op, self.prior.as_ref().and_then(|p| p.id.as_deref()));
        if self.op == Op::Create
            && let Err(e) = self.observe_before(&cx, progress, started, deadline).await
        {
            return JobDone {
                addr: self.addr,
                op: self.op,
                node: self.node,
                sensitive: self.sensitive,
                result: Err(e),
            };
        }
        let result = match self.op {
            Op::Delete => self.delete(&cx, journal, progress, started, deadline).await,
            Op::Create => self.create(&cx, journal, progress, started, deadline).await,
            Op::Update => self.update(&cx, journal, progress, started, deadline).await,
        };
        if let Ok((inst, _)) = &result {
            progress.done(&address, self.op, started.elapsed(), inst.id.as_deref());
        }
        JobDone { addr: self.addr, op: self.op, node: self.node, sensitive: self.sensitive, result }
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
        // What the kind says of how far it is (e.g. objects copied).
        let status = crate::kinds::StatusCell::default();
        let fut = crate::kinds::with_status(status.clone(), fut);
        tokio::pin!(fut);
        let sleep = tokio::time::sleep_until(deadline.into());
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                r = &mut fut => return r,
                _ = ticker.tick() => progress.still(&address, self.op, started.elapsed(), status.get().as_deref()),
                _ = &mut sleep => return Err(KindError::Timeout { what: what.to_string(), after: self.timeout }),
            }
        }
    }

    fn journal_error(&self, e: std::io::Error, keep: Option<Instance>) -> JobError {
        JobError { message: format!("cannot write the journal: {e}"), keep }
    }

    async fn delete(
        &self,
        cx: &Ctx<'_>,
        journal: &Journal,
        progress: &Progress,
        started: Instant,
        deadline: Instant,
    ) -> Result<(Instance, Attrs), JobError> {
        let prior = self.prior.clone().unwrap_or_else(|| self.record.clone());
        let Some(id) = prior.id.clone().or_else(|| self.kind.id_hint(&prior.attrs)) else {
            // Never created (an interrupted create with nothing to find).
            journal.remove(&self.addr).await.map_err(|e| self.journal_error(e, Some(prior.clone())))?;
            return Ok((prior, Attrs::new()));
        };
        let mut known = prior.attrs.clone();
        known.extend(self.props.clone());
        self.watch(progress, started, deadline, "deletion", self.kind.delete(cx, &id, &known))
            .await
            .map_err(|e| JobError { message: format!("delete failed: {e}"), keep: Some(prior.clone()) })?;
        journal.remove(&self.addr).await.map_err(|e| self.journal_error(e, None))?;
        Ok((prior, Attrs::new()))
    }

    /// What the object a create changes had before (see
    /// [`Kind::before_create`]): added to the record and to what the create
    /// gets, so the intent written next carries it, durably, before the call.
    async fn observe_before(
        &mut self,
        cx: &Ctx<'_>,
        progress: &Progress,
        started: Instant,
        deadline: Instant,
    ) -> Result<(), JobError> {
        let seen = self
            .watch(progress, started, deadline, "observation", self.kind.before_create(cx, &self.props))
            .await
            .map_err(|e| JobError {
                message: format!("create failed: reading what is there first: {e}"),
                keep: None,
            })?;
        self.record.attrs.extend(seen.clone());
        self.props.extend(seen);
        Ok(())
    }

    async fn create(
        &self,
        cx: &Ctx<'_>,
        journal: &Journal,
        progress: &Progress,
        started: Instant,
        deadline: Instant,
    ) -> Result<(Instance, Attrs), JobError> {
        // The intent, on disk before the create is called.
        let durable = !self.kind.state_only();
        journal.record(&self.addr, &self.record, durable).await.map_err(|e| self.journal_error(e, None))?;
        let (result, retried) = crate::aws::count_retries(self.watch(
            progress,
            started,
            deadline,
            "creation",
            self.kind.create(cx, &self.props),
        ))
        .await;
        // The SDK repeated a call whose first answer was lost, and the
        // repeat failed ("already exists", "is ACTIVE and cannot be
        // accepted"): the first try most likely took effect. Observe before
        // calling it a failure.
        let result = match result {
            Err(e) if retried > 0 => match self.adopt(cx).await {
                Some(c) => Ok(c),
                None => Err(e),
            },
            other => other,
        };
        let created = match result {
            Ok(c) => c,
            Err(e) if retried > 0 && e.already_exists() => {
                return Err(JobError { message: format!("create failed: {e}"), keep: Some(self.record.clone()) });
            }
            Err(e) if e.refused() => {
                let _ = journal.remove(&self.addr).await;
                return Err(JobError { message: format!("create failed: {e}"), keep: None });
            }
            Err(e) => return Err(JobError { message: format!("create failed: {e}"), keep: Some(self.record.clone()) }),
        };
        // On record at once: if waiting fails, the next plan still finds it.
        let mut rec = self.record.clone();
        rec.id = Some(created.id.clone());
        rec.attrs = split(&created.attrs, &self.sensitive).0;
        journal.record(&self.addr, &rec, durable).await.map_err(|e| self.journal_error(e, Some(rec.clone())))?;
        self.finish(cx, journal, progress, started, deadline, rec, created.attrs, "creation").await
    }

    /// What a create whose answer was lost made, found by its predicted id
    /// or natural key, brought to the desired properties.
    async fn adopt(&self, cx: &Ctx<'_>) -> Option<crate::kinds::Created> {
        let id = match self.kind.id_hint(&self.props) {
            Some(id) => id,
            None => self.kind.find(cx, &self.props).await.ok()??,
        };
        let seen = self.kind.read(cx, &id, &self.props).await.ok()??;
        let differs = self.props.iter().filter(|(k, _)| !self.kind.kept().contains(&k.as_str())).any(|(k, v)| {
            !matches!(v, crate::value::Value::Unknown)
                && self.kind.normalize(k, v)
                    != self.kind.normalize(k, seen.get(k).unwrap_or(&crate::value::Value::Null))
        });
        if differs {
            // A create that makes several calls stopped half-way.
            self.kind.update(cx, &id, &seen, &self.props).await.ok()?;
        }
        let mut attrs = self.props.clone();
        attrs.extend(seen);
        Some(crate::kinds::Created { id, attrs })
    }

    async fn update(
        &self,
        cx: &Ctx<'_>,
        journal: &Journal,
        progress: &Progress,
        started: Instant,
        deadline: Instant,
    ) -> Result<(Instance, Attrs), JobError> {
        let prior = self.prior.clone().unwrap_or_else(|| self.record.clone());
        let id = prior.id.clone().unwrap_or_default();
        self.watch(progress, started, deadline, "update", self.kind.update(cx, &id, &prior.attrs, &self.props))
            .await
            .map_err(|e| JobError { message: format!("update failed: {e}"), keep: Some(prior.clone()) })?;
        let mut rec = self.record.clone();
        rec.id = prior.id.clone();
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
        // Until read back, an update keeps the prior record (its secrets'
        // hashes included): AWS may not have taken the new values.
        let fallback = if self.op == Op::Update { self.prior.clone() } else { Some(rec.clone()) };
        if let Err(e) = self.watch(progress, started, deadline, what, self.kind.wait_ready(cx, &id)).await {
            return Err(JobError {
                message: format!(
                    "{what} did not finish: {e}; it stays on record and the next plan picks up from there"
                ),
                keep: fallback,
            });
        }
        let observed = match self.kind.read(cx, &id, &known).await {
            Ok(Some(mut attrs)) => {
                crate::kinds::carry_kept(self.kind, &known, &mut attrs);
                crate::kinds::carry_kept(self.kind, &self.record.attrs, &mut attrs);
                attrs
            }
            Ok(None) => {
                return Err(JobError {
                    message: format!("{what} succeeded but the resource cannot be read back"),
                    keep: fallback,
                });
            }
            Err(e) => {
                return Err(JobError { message: format!("reading back after {what} failed: {e}"), keep: fallback });
            }
        };
        rec.attrs = split(&observed, &self.sensitive).0;
        rec.status = Status::Ready;
        journal.put(&self.addr, &rec).await.map_err(|e| self.journal_error(e, Some(rec.clone())))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Created;
    use crate::kinds::schema::{Prop, Schema, Type};
    use crate::value::Value;
    use async_trait::async_trait;

    /// A kind whose updates fail, as when AWS refuses a new password.
    struct Refuses;

    static SCHEMA: Schema = Schema { props: &[Prop::required("password", Type::String, "").sensitive()] };

    #[async_trait]
    impl Kind for Refuses {
        fn type_name(&self) -> &'static str {
            "test_refuses"
        }
        fn schema(&self) -> &'static Schema {
            &SCHEMA
        }
        async fn create(&self, _: &Ctx<'_>, _: &Attrs) -> Result<Created, KindError> {
            Err(KindError::Aws { call: "Create", code: "AccessDenied".into(), message: "no".into(), hint: None })
        }
        async fn read(&self, _: &Ctx<'_>, _: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
            Ok(Some(prior.clone()))
        }
        async fn update(&self, _: &Ctx<'_>, _: &str, _: &Attrs, _: &Attrs) -> Result<(), KindError> {
            Err(KindError::Aws {
                call: "Modify",
                code: "InvalidParameterValue".into(),
                message: "no".into(),
                hint: None,
            })
        }
        async fn delete(&self, _: &Ctx<'_>, _: &str, _: &Attrs) -> Result<(), KindError> {
            Ok(())
        }
    }

    fn record(hash: &str) -> Instance {
        Instance {
            type_name: "test_refuses".into(),
            region: "us-west-1".into(),
            id: Some("x".into()),
            status: Status::Ready,
            attrs: Attrs::new(),
            sensitive: [("password".to_string(), hash.to_string())].into(),
            deps: vec![],
            adopted: false,
            found: None,
        }
    }

    #[tokio::test]
    async fn a_refused_update_keeps_the_prior_secret_hash_and_a_refused_create_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("standby-job-{}", crate::ids::random_id()));
        let journal = Journal::create(&dir.join("s.json"), "l").unwrap();
        let aws = Aws::new();
        let progress = Progress::stdout();
        let addr = crate::state::file::instance_addr("test_refuses.a").unwrap();
        let mut planned = Attrs::new();
        planned.insert("password".into(), Value::str("new-secret"));
        let change = |op, prior| Change {
            addr: addr.clone(),
            kind: &Refuses,
            op,
            prior,
            record: record("sha256:new"),
            planned: planned.clone(),
            props: planned.clone(),
            sensitive: ["password".to_string()].into(),
            changed: ["password".to_string()].into(),
            timeout: Duration::from_secs(5),
            node: 0,
        };
        let done = Job::change(change(Op::Update, Some(record("sha256:old")))).run(&aws, &journal, &progress).await;
        let err = done.result.expect_err("the update fails");
        assert_eq!(err.keep.expect("the prior record stays").sensitive["password"], "sha256:old");
        let done = Job::change(change(Op::Create, None)).run(&aws, &journal, &progress).await;
        assert!(done.result.expect_err("the create fails").keep.is_none(), "a refusal made nothing");
        std::fs::remove_dir_all(dir).ok();
    }
}
