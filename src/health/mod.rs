//! DR health checks: what makes a failover work, checked against AWS.
//!
//! A check is data ([`Check`]): an id, a status, the resource and attribute
//! it is about, what was expected and observed, and the DR impact in one
//! sentence. [`dr`] checks a deployed topology (used by `standby drift`, and
//! meant as the failover's readiness gate); [`preflight`] checks the docs'
//! "before you begin" list before the first apply. Both only read (the
//! canaries write, under their reserved names only).
//!
//! The replication canaries ([`canary`], drift only) measure the files'
//! and the search indices' replication end to end with a test object and a
//! test document, written under reserved names only.
//!
//! The app tier ([`app`]): nodes in service and healthy targets behind each
//! region's load balancer. Not covered yet: exactly one region runs the
//! scheduler, and DNS (points at the active region); they slot in as more
//! functions returning [`Check`]s for their resources.

pub mod app;
pub mod canary;
pub mod db_lag;
pub mod db_switch;
pub mod dr;
pub mod drill;
pub mod preflight;

use crate::aws::Aws;
use crate::state::State;
use crate::value::Attrs;
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Bounds a check compares against.
#[derive(Clone, Debug)]
pub struct Bounds {
    /// Operations a follower index may be behind its leader
    /// (leader checkpoint − follower checkpoint).
    pub search_lag_ops: i64,
    /// Aurora global database replication lag (the maximum of the last
    /// [`db_lag::WINDOW`]) a secondary may have.
    pub db_lag: std::time::Duration,
}

/// `--max-db-lag`'s default.
pub const DEFAULT_DB_LAG: std::time::Duration = std::time::Duration::from_secs(60);

impl Default for Bounds {
    fn default() -> Self {
        Bounds { search_lag_ops: 1000, db_lag: DEFAULT_DB_LAG }
    }
}

/// What the checks read: the state as last applied, the same state after a
/// refresh, and the secrets some resources need to be reached at all.
pub struct Input<'a> {
    pub recorded: &'a State,
    pub refreshed: &'a State,
    pub secrets: &'a BTreeMap<String, Attrs>,
    pub aws: &'a Aws,
    pub bounds: &'a Bounds,
    /// The region a switchover makes active: the app checks look there only,
    /// and a group with no nodes fails. `None` (drift): every region, and no
    /// nodes by design is a warning.
    pub target_region: Option<&'a str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// Not a failure, but worth a look (e.g. still bootstrapping).
    Warn,
    Fail,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// Stable name, e.g. `s3.replication`, `db.backup` (what ignore rules
    /// and readers refer to).
    pub id: &'static str,
    /// What was checked, for a person: "replication us-west-1 → us-east-1".
    pub title: String,
    pub status: Status,
    /// The resource it is about, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Its attribute (the same path a drift finding on it would have).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub expected: Json,
    pub actual: Json,
    /// What breaks in a disaster if this fails, in one sentence.
    pub impact: String,
    /// How to fix it, when it fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// What was measured, for people ("replicated in 1.2 s, bound 15m"):
    /// the canaries' latencies; the figures themselves are in `actual`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<String>,
}

impl Check {
    pub fn new(id: &'static str, title: impl Into<String>, ok: bool) -> Check {
        Check {
            id,
            title: title.into(),
            status: if ok { Status::Pass } else { Status::Fail },
            address: None,
            path: None,
            expected: Json::Null,
            actual: Json::Null,
            impact: String::new(),
            fix: None,
            measured: None,
        }
    }

    pub fn at(mut self, address: impl Into<String>, path: &str) -> Check {
        self.address = Some(address.into());
        self.path = (!path.is_empty()).then(|| path.to_string());
        self
    }

    pub fn values(mut self, expected: Json, actual: Json) -> Check {
        self.expected = expected;
        self.actual = actual;
        self
    }

    pub fn impact(mut self, impact: impl Into<String>) -> Check {
        self.impact = impact.into();
        self
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }

    pub fn measured(mut self, what: impl Into<String>) -> Check {
        self.measured = Some(what.into());
        self
    }

    pub fn warn_if(mut self, warn: bool) -> Check {
        if warn && self.status == Status::Fail {
            self.status = Status::Warn;
        }
        self
    }
}

/// Counts per status.
pub fn tally(checks: &[Check]) -> (usize, usize, usize) {
    let n = |s| checks.iter().filter(|c| c.status == s).count();
    (n(Status::Pass), n(Status::Warn), n(Status::Fail))
}
