//! A bounded pool of running jobs. Jobs wait in a queue, not as spawned
//! tasks, so a plan of 50,000 operations holds at most `limit` tasks.
//! Once `stop` is set (Ctrl-C), queued jobs are not started.

use super::job::{Job, JobDone};
use super::progress::Progress;
use crate::aws::Aws;
use crate::state::journal::Journal;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Pool {
    set: tokio::task::JoinSet<JobDone>,
    queue: VecDeque<Job>,
    /// Finished while the caller was still queueing.
    done: VecDeque<JobDone>,
    /// What to report for a running job whose task dies (a panic).
    running: HashMap<tokio::task::Id, JobDone>,
    limit: usize,
    stop: Arc<AtomicBool>,
    aws: Arc<Aws>,
    journal: Arc<Journal>,
    progress: Arc<Progress>,
}

impl Pool {
    pub fn new(
        limit: usize,
        stop: Arc<AtomicBool>,
        aws: Arc<Aws>,
        journal: Arc<Journal>,
        progress: Arc<Progress>,
    ) -> Pool {
        Pool {
            set: tokio::task::JoinSet::new(),
            queue: VecDeque::new(),
            done: VecDeque::new(),
            running: HashMap::new(),
            limit: limit.max(1),
            stop,
            aws,
            journal,
            progress,
        }
    }

    /// Queues a job and keeps the pool busy: finished jobs are set aside
    /// and queued ones started, so work overlaps with queueing.
    pub fn push(&mut self, job: Job) {
        self.queue.push_back(job);
        self.fill();
        while let Some(r) = self.set.try_join_next_with_id() {
            let done = self.settle(r);
            self.done.push_back(done);
            self.fill();
        }
    }

    fn fill(&mut self) {
        while self.set.len() < self.limit && !self.stop.load(Ordering::SeqCst) {
            let Some(job) = self.queue.pop_front() else { break };
            let lost = job.lost("internal error: the operation stopped unexpectedly; check the resource by hand");
            let (aws, journal, progress) = (self.aws.clone(), self.journal.clone(), self.progress.clone());
            let handle = self.set.spawn(async move { job.run(&aws, &journal, &progress).await });
            self.running.insert(handle.id(), lost);
        }
    }

    fn settle(&mut self, r: Result<(tokio::task::Id, JobDone), tokio::task::JoinError>) -> JobDone {
        match r {
            Ok((id, done)) => {
                self.running.remove(&id);
                done
            }
            Err(e) => self.running.remove(&e.id()).expect("every running job is tracked"),
        }
    }

    /// The next finished job; `None` when nothing runs and nothing more
    /// will start (all done, or stopped).
    pub async fn next(&mut self) -> Option<JobDone> {
        if let Some(done) = self.done.pop_front() {
            return Some(done);
        }
        self.fill();
        let r = self.set.join_next_with_id().await?;
        let done = self.settle(r);
        self.fill();
        Some(done)
    }

    /// Addresses of queued jobs that never started (after a stop).
    pub fn abandoned(&mut self) -> Vec<String> {
        self.queue.drain(..).map(|j| j.addr.to_string()).collect()
    }
}
