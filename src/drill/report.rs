//! A drill's report: plain data made from its record and its run (each
//! step's time and outcome, as the executor wrote them), rendered by
//! `render::drill` (human, markdown) or as JSON
//! (`schemas/drill-report.schema.json`).

use crate::health::drill::parse_rfc3339;
use crate::state::roles::{DrillRecord, Run};
use serde::Serialize;

/// The JSON report's format version: fields are only added within 1.x.
pub const FORMAT_VERSION: &str = "1.1";

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
    /// The drill's app tier as reached (none without one).
    pub app: Option<App>,
    /// The post on the copy.
    pub post: Post,
    /// Recovery time: drill start to the first successful post on the copy
    /// (`rto_to` "post"), or to its serving without a channel ("serving");
    /// null when neither happened.
    pub rto_seconds: Option<f64>,
    pub rto_to: Option<String>,
    /// The failover-relevant part of the RTO: `drill.app`'s start to the
    /// same end (the copies before it are a drill's own work; a failover
    /// has its data in place).
    pub rto_app_seconds: Option<f64>,
    /// Recovery point: production's newest post as of the copy's moment
    /// (the clone call's return, or the full copy's LatestRestorableTime)
    /// minus the copy's newest, in seconds, signed (0.0: the copy has that
    /// post; negative: the copy is ahead of the reference, said in
    /// `rpo_detail`); null when not measured, `rpo_detail` says why.
    pub rpo_seconds: Option<f64>,
    pub rpo_detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct App {
    pub load_balancer: String,
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Post {
    /// `posted`, `skipped` or `failed`.
    pub outcome: String,
    pub post_id: Option<String>,
    pub detail: String,
}

/// RTO, RPO, the app and the post from a run's measures and events.
type Figures = (Option<App>, Post, Option<f64>, Option<String>, Option<f64>, String, Option<f64>);

fn figures(run: Option<&Run>) -> Figures {
    let m = |k: &str| run.and_then(|r| r.measures.get(k));
    let num = |k: &str| m(k).and_then(|v| v.as_u64());
    let app = m("lb_dns").and_then(|v| v.as_str()).map(|dns| App {
        load_balancer: dns.to_string(),
        url: m("url").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
    });
    let step_outcome =
        |id: &str| run.and_then(|r| r.events.iter().rev().find(|e| e.step == id)).map(|e| e.outcome.clone());
    let post = match m("post") {
        Some(p) => Post {
            outcome: p.get("outcome").and_then(|v| v.as_str()).unwrap_or("failed").to_string(),
            post_id: p.get("post_id").and_then(|v| v.as_str()).map(str::to_string),
            detail: p.get("detail").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
        },
        None => Post {
            outcome: if step_outcome(super::POST).is_some() { "failed" } else { "skipped" }.to_string(),
            post_id: None,
            detail: step_outcome(super::POST)
                .map(|o| o.strip_prefix("failed: ").unwrap_or(&o).to_string())
                .unwrap_or_else(|| "the drill did not reach its post step".into()),
        },
    };
    let started = num("started_ms");
    let (end, to) = match (num("posted_ms"), num("serving_ms")) {
        (Some(p), _) => (Some(p), Some("post")),
        (None, Some(s)) if post.outcome == "skipped" => (Some(s), Some("serving")),
        _ => (None, None),
    };
    let rto = match (started, end) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1000.0),
        _ => None,
    };
    let rto_to = rto.and(to).map(str::to_string);
    let rto_app = match (num("app_started_ms"), end) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1000.0),
        _ => None,
    };
    let (rpo, detail) = match (m("production_newest"), m("copy_newest")) {
        (Some(p), _) if p.get("error").is_some() => {
            (None, format!("not measured: {}", p["error"].as_str().unwrap_or_default()))
        }
        (_, Some(c)) if c.get("error").is_some() => {
            (None, format!("not measured: {}", c["error"].as_str().unwrap_or_default()))
        }
        (Some(p), Some(c)) => {
            let (pa, ca) = (p["create_at"].as_i64().unwrap_or(0), c["create_at"].as_i64().unwrap_or(0));
            // Signed: a copy ahead of the reference is said, never clamped.
            let secs = (pa - ca) as f64 / 1000.0;
            let how = p["how"].as_str().unwrap_or("the copy's moment");
            let pid = p["id"].as_str().filter(|s| !s.is_empty()).unwrap_or("none");
            let cid = c["id"].as_str().filter(|s| !s.is_empty()).unwrap_or("none");
            let detail = if pa == ca {
                format!("the copy shows production's newest post as of the copy's moment ({how}): {pid}")
            } else if pa > ca {
                format!(
                    "production's newest post as of the copy's moment ({how}), {pid}, is missing from the copy, \
                     whose newest ({cid}) is {secs:.3}s older"
                )
            } else {
                format!(
                    "the copy is ahead of the reference by {:.3}s: its newest post ({cid}) is newer than production's \
                     newest as of the copy's moment ({how}), {pid} (Mattermost's clock ahead of this machine's, or \
                     the moment taken early)",
                    -secs
                )
            };
            (Some(secs), detail)
        }
        (Some(_), None) => (None, "not measured: the copy did not serve".into()),
        (None, _) => (None, "not measured: no --channel (no channel to read)".into()),
    };
    (app, post, rto, rto_to, rpo, detail, rto_app)
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
    let (app, post, rto_seconds, rto_to, rpo_seconds, rpo_detail, rto_app_seconds) = figures(run);
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
        app,
        post,
        rto_seconds,
        rto_to,
        rto_app_seconds,
        rpo_seconds,
        rpo_detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::roles::Event;

    fn run_with(measures: &[(&str, serde_json::Value)], post_event: Option<&str>) -> Run {
        Run {
            measures: measures.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            events: post_event
                .map(|o| vec![Event { step: crate::drill::POST.into(), outcome: o.into(), ..Default::default() }])
                .unwrap_or_default(),
            ..Default::default()
        }
    }

    #[test]
    fn rto_and_rpo_come_from_the_measures() {
        use serde_json::json;
        // Posted: RTO to the post; the copy lacks production's newest by 2.5 s.
        let run = run_with(
            &[
                ("started_ms", json!(1_000)),
                ("serving_ms", json!(61_000)),
                ("posted_ms", json!(62_500)),
                ("app_started_ms", json!(40_000)),
                ("production_newest", json!({"id": "b", "create_at": 10_000, "how": "the clone call's return"})),
                ("copy_newest", json!({"id": "a", "create_at": 7_500})),
                ("post", json!({"outcome": "posted", "post_id": "p9", "detail": "HTTP 201"})),
                ("lb_dns", json!("lb.example")),
                ("url", json!("http://lb.example:80 (as chat.example.com)")),
            ],
            Some("posted p9"),
        );
        let (app, post, rto, to, rpo, detail, rto_app) = figures(Some(&run));
        assert_eq!((rto, to.as_deref(), rpo, rto_app), (Some(61.5), Some("post"), Some(2.5), Some(22.5)));
        assert!(
            detail.contains(
                "production's newest post as of the copy's moment (the clone call's return), b, is missing from the copy"
            ),
            "{detail}"
        );
        assert_eq!((post.outcome.as_str(), post.post_id.as_deref()), ("posted", Some("p9")));
        assert_eq!(app.unwrap().load_balancer, "lb.example");
        // The copy has the reference post: 0.
        let run = run_with(
            &[
                ("started_ms", json!(0)),
                ("serving_ms", json!(5_000)),
                ("production_newest", json!({"id": "b", "create_at": 10_000})),
                ("copy_newest", json!({"id": "b", "create_at": 10_000})),
                ("post", json!({"outcome": "skipped", "detail": "no --channel"})),
            ],
            None,
        );
        let (_, post, rto, to, rpo, detail, _) = figures(Some(&run));
        assert_eq!(
            (rto, to.as_deref(), rpo, post.outcome.as_str()),
            (Some(5.0), Some("serving"), Some(0.0), "skipped")
        );
        assert!(detail.starts_with("the copy shows production's newest post as of the copy's moment"), "{detail}");
        assert!(detail.ends_with(": b"), "{detail}");
        // The copy ahead of the reference: negative, said.
        let run = run_with(
            &[
                ("production_newest", json!({"id": "b", "create_at": 10_000, "how": "x"})),
                ("copy_newest", json!({"id": "c", "create_at": 11_000})),
            ],
            None,
        );
        let (_, _, _, _, rpo, detail, _) = figures(Some(&run));
        assert_eq!(rpo, Some(-1.0));
        assert!(detail.starts_with("the copy is ahead of the reference by 1.000s"), "{detail}");
        // Production unreadable: not measured, why; a failed post: no RTO.
        let run = run_with(
            &[
                ("started_ms", json!(0)),
                ("serving_ms", json!(5_000)),
                ("production_newest", json!({"error": "HTTP 401 x"})),
            ],
            Some("failed: step `drill.post` failed: refused"),
        );
        let (_, post, rto, _, rpo, detail, _) = figures(Some(&run));
        assert_eq!((rto, rpo, post.outcome.as_str()), (None, None, "failed"));
        assert_eq!(post.detail, "step `drill.post` failed: refused");
        assert_eq!(detail, "not measured: HTTP 401 x");
    }

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
