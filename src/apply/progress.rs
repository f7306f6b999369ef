//! Progress lines during apply, in Terraform's words.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

/// `STANDBY_PROGRESS_SECS`: seconds between "Still creating..." lines (default 10).
pub const ENV_PROGRESS_SECS: &str = "STANDBY_PROGRESS_SECS";

pub fn interval() -> Duration {
    let secs =
        std::env::var(ENV_PROGRESS_SECS).ok().and_then(|v| v.parse::<u64>().ok()).filter(|s| *s > 0).unwrap_or(10);
    Duration::from_secs(secs)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
}

impl Op {
    pub fn ing(self) -> &'static str {
        match self {
            Op::Create => "Creating",
            Op::Update => "Modifying",
            Op::Delete => "Destroying",
        }
    }
    pub fn still(self) -> &'static str {
        match self {
            Op::Create => "creating",
            Op::Update => "modifying",
            Op::Delete => "destroying",
        }
    }
    pub fn done(self) -> &'static str {
        match self {
            Op::Create => "Creation complete",
            Op::Update => "Modifications complete",
            Op::Delete => "Destruction complete",
        }
    }
}

/// `1m5s`, `12s`.
pub fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 { format!("{}m{}s", s / 60, s % 60) } else { format!("{s}s") }
}

/// Serialises progress lines from concurrent operations.
pub struct Progress {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Progress {
    pub fn stdout() -> Self {
        Progress { out: Mutex::new(Box::new(std::io::LineWriter::new(std::io::stdout()))) }
    }

    /// On standard error (when standard output holds a report).
    pub fn stderr() -> Self {
        Progress { out: Mutex::new(Box::new(std::io::LineWriter::new(std::io::stderr()))) }
    }

    pub fn line(&self, text: &str) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(out, "{text}");
    }

    pub fn start(&self, addr: &str, op: Op, id: Option<&str>) {
        match id {
            Some(id) if op != Op::Create => self.line(&format!("{addr}: {}... [id={id}]", op.ing())),
            _ => self.line(&format!("{addr}: {}...", op.ing())),
        }
    }

    pub fn still(&self, addr: &str, op: Op, after: Duration, status: Option<&str>) {
        let status = status.map(|s| format!(" ({s})")).unwrap_or_default();
        self.line(&format!("{addr}: Still {}... [{} elapsed]{status}", op.still(), elapsed(after)));
    }

    pub fn done(&self, addr: &str, op: Op, after: Duration, id: Option<&str>) {
        match id {
            Some(id) if op != Op::Delete => {
                self.line(&format!("{addr}: {} after {} [id={id}]", op.done(), elapsed(after)))
            }
            _ => self.line(&format!("{addr}: {} after {}", op.done(), elapsed(after))),
        }
    }
}
