//! A drill's report: plain data made from its record and its run (each
//! step's time and outcome, as the executor wrote them), rendered by
//! `render::drill` (human, markdown) or as JSON
//! (`schemas/drill-report.schema.json`).

use crate::health::drill::parse_rfc3339;
use crate::state::roles::{DrillRecord, Run};
use serde::Serialize;

/// The JSON report's format version: fields are only added within 1.x.
pub const FORMAT_VERSION: &str = "1.0";

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub format_version: &'static str,
    pub standby_version: &'static str,
    pub id: String,
    /// The AWS region rehearsed (the standby one).
    pub region: String,
    pub started: String,
    pub ended: String,
    pub passed: bool,
    /// `passed`, or `failed: …` (the first problem's first line).
    pub outcome: String,
    pub seconds: u64,
    /// Each step's run, in order (a step run twice, e.g. resumed, twice).
    pub steps: Vec<StepReport>,
    /// What went wrong, each with its hint.
    pub problems: Vec<String>,
    /// What the drill left running (`--keep`), by name.
    pub kept: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepReport {
    pub id: String,
    pub seconds: u64,
    pub outcome: String,
}

/// The report of the drill `record` describes, with the steps of `run`.
pub fn build(record: &DrillRecord, run: Option<&Run>, problems: &[String], kept: Vec<String>) -> Report {
    let steps = run
        .map(|r| {
            r.events
                .iter()
                .map(|e| StepReport {
                    id: e.step.clone(),
                    seconds: match (parse_rfc3339(&e.start), parse_rfc3339(&e.end)) {
                        (Some(a), Some(b)) => b.saturating_sub(a),
                        _ => 0,
                    },
                    outcome: e.outcome.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    Report {
        format_version: FORMAT_VERSION,
        standby_version: env!("CARGO_PKG_VERSION"),
        id: record.id.clone(),
        region: record.region.clone(),
        started: record.started.clone(),
        ended: record.ended.clone(),
        passed: record.passed(),
        outcome: record.outcome.clone(),
        seconds: record.seconds,
        steps,
        problems: problems.to_vec(),
        kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::roles::Event;

    #[test]
    fn steps_come_from_the_run_with_their_times() {
        let record = DrillRecord {
            id: "ab12cd".into(),
            region: "us-east-1".into(),
            started: "2026-12-06T10:00:00Z".into(),
            ended: "2026-12-06T10:05:00Z".into(),
            outcome: "passed".into(),
            steps: vec![],
            seconds: 300,
        };
        let run = Run {
            events: vec![
                Event {
                    step: "drill.db-copy".into(),
                    start: "2026-12-06T10:00:01Z".into(),
                    end: "2026-12-06T10:04:01Z".into(),
                    outcome: "mm-drill-ab12cd: an Aurora clone".into(),
                    ..Default::default()
                },
                Event {
                    step: "drill.cleanup".into(),
                    start: "x".into(),
                    outcome: "running".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let r = build(&record, Some(&run), &[], vec![]);
        assert!(r.passed);
        assert_eq!(
            r.steps[0],
            StepReport { id: "drill.db-copy".into(), seconds: 240, outcome: "mm-drill-ab12cd: an Aurora clone".into() }
        );
        assert_eq!(r.steps[1].seconds, 0, "a time that does not parse counts as nothing, not a panic");
    }
}
