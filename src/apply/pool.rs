//! A bounded pool of running jobs. Jobs wait in a queue, not as spawned
//! tasks, so a plan of 50,000 operations holds at most `limit` tasks.

use super::job::{Job, JobDone};
use super::progress::Progress;
use crate::aws::Aws;
use crate::state::journal::Journal;
use std::collections::VecDeque;
use std::sync::Arc;

pub struct Pool {
    set: tokio::task::JoinSet<JobDone>,
    queue: VecDeque<Job>,
    /// Finished while the caller was still queueing.
    done: VecDeque<JobDone>,
    limit: usize,
    aws: Arc<Aws>,
    journal: Arc<Journal>,
    progress: Arc<Progress>,
}

impl Pool {
    pub fn new(limit: usize, aws: Arc<Aws>, journal: Arc<Journal>, progress: Arc<Progress>) -> Pool {
        Pool {
            set: tokio::task::JoinSet::new(),
            queue: VecDeque::new(),
            done: VecDeque::new(),
            limit: limit.max(1),
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
        while let Some(r) = self.set.try_join_next() {
            if let Ok(done) = r {
                self.done.push_back(done);
            }
            self.fill();
        }
    }

    fn fill(&mut self) {
        while self.set.len() < self.limit {
            let Some(job) = self.queue.pop_front() else { break };
            let (aws, journal, progress) = (self.aws.clone(), self.journal.clone(), self.progress.clone());
            self.set.spawn(async move { job.run(&aws, &journal, &progress).await });
        }
    }

    /// The next finished job; `None` when nothing is queued or running.
    pub async fn next(&mut self) -> Option<JobDone> {
        if let Some(done) = self.done.pop_front() {
            return Some(done);
        }
        loop {
            self.fill();
            match self.set.join_next().await? {
                Ok(done) => return Some(done),
                // A panicking job is a bug; the others go on.
                Err(_) => continue,
            }
        }
    }
}
