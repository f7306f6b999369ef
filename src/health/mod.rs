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
pub mod dr;
pub mod permissions;
pub mod preflight;

use serde::Serialize;
use serde_json::Value as Json;

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
