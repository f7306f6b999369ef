//! Which region is active, and the record of the runs that switched it
//! (switchover or failover): plain data kept in the state file, written
//! before and after every step so a killed run is on record and resumes.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Roles {
    /// The region name (from `regions:`) standby last made active.
    pub active: String,
    /// When it became active (RFC 3339).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub since: String,
    /// The latest run; older runs are dropped (their events went to the user then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Run>,
    /// Set by an emergency failover: what was active, when, and the last
    /// replication lag seen (the writes possibly lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<FailoverNote>,
    /// The last drills' figures, newest last (a drill's own record only:
    /// `standby drill` keeps it beside production's state).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drills: Vec<DrillRecord>,
}

/// What a drill did, kept for `drift`'s "last successful drill".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DrillRecord {
    pub id: String,
    /// The AWS region rehearsed (the standby one).
    pub region: String,
    /// RFC 3339, UTC.
    pub started: String,
    pub ended: String,
    /// `passed`, or `failed: …`.
    pub outcome: String,
    /// Seconds each step took, in order (`drill.db-copy`, …).
    pub steps: Vec<(String, u64)>,
    pub seconds: u64,
}

impl DrillRecord {
    pub fn passed(&self) -> bool {
        self.outcome == "passed"
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FailoverNote {
    pub from: String,
    pub to: String,
    pub at: String,
    /// Maximum lag over the last minutes before the failover, in ms (`None`:
    /// CloudWatch had no figure, so the loss is unknown).
    pub last_lag_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_metric: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// `switchover` or `failover`.
    pub mode: String,
    pub from: String,
    pub to: String,
    pub started: String,
    /// The runbook as planned (`crate::plan::runbook::Runbook` as JSON).
    pub runbook: Json,
    /// Per step id: `pending`, `running`, `done`, `failed`, `skipped`.
    pub steps: Vec<StepState>,
    pub events: Vec<Event>,
    /// What the operator must know or do after the run, kept with it: the
    /// search window to re-index, a failover snapshot Aurora did not leave.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What a drill measured as it ran (times in ms since the epoch, the
    /// posts it read and made), for its report.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub measures: std::collections::BTreeMap<String, Json>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    pub id: String,
    pub status: String,
}

/// One entry of the event log: a step's run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub step: String,
    pub start: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub end: String,
    /// `running`, `done`, `already done`, `failed: …`, `pending: …`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_ids: Vec<String>,
}

impl Run {
    pub fn status(&self, id: &str) -> Option<&str> {
        self.steps.iter().find(|s| s.id == id).map(|s| s.status.as_str())
    }

    pub fn set(&mut self, id: &str, status: &str) {
        match self.steps.iter_mut().find(|s| s.id == id) {
            Some(s) => s.status = status.to_string(),
            None => self.steps.push(StepState { id: id.to_string(), status: status.to_string() }),
        }
    }
}
