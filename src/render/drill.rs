//! Views of a drill's report: human and markdown (JSON is the report's own
//! serialization, `schemas/drill-report.schema.json`).

use super::Style;
use super::markdown::escape;
use crate::drill::report::Report;

pub fn human(r: &Report, s: &Style) -> String {
    let verdict = if r.passed { s.green("PASSED") } else { s.red("FAILED") };
    let mut out =
        format!("\nDrill {} in {}: {verdict} in {}s ({} → {})\n", r.id, r.region, r.seconds, r.started, r.ended);
    let width = r.steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
    for step in &r.steps {
        out.push_str(&format!("  {:<width$} {:>5}s  {}\n", step.id, step.seconds, step.outcome));
    }
    for (k, v) in figures(r) {
        out.push_str(&format!("  {k}: {v}\n"));
    }
    for p in &r.problems {
        out.push_str(&format!("  {} {p}\n", s.red("problem:")));
    }
    if !r.kept.is_empty() {
        out.push_str(&format!("  kept, and billed until `standby drill --cleanup {}`: {}\n", r.id, r.kept.join(", ")));
    }
    out
}

/// The figures people read first: RTO, RPO, the copy's address, the post.
fn figures(r: &Report) -> Vec<(&'static str, String)> {
    let rto = match (r.rto_seconds, r.rto_to.as_deref()) {
        (Some(s), Some("post")) => format!(
            "{s:.1}s (drill start to the first post on the copy{})",
            r.rto_app_seconds.map(|a| format!("; the app tier's start to it: {a:.1}s")).unwrap_or_default()
        ),
        (Some(s), _) => format!("{s:.1}s (drill start to the copy serving; no post: {})", r.post.detail),
        (None, _) => "not measured (the copy neither served nor took a post)".into(),
    };
    let rpo = match r.rpo_seconds {
        Some(s) => format!("{s:.1}s: {}", r.rpo_detail),
        None => r.rpo_detail.clone(),
    };
    let mut out = vec![("RTO", rto), ("RPO", rpo)];
    if let Some(app) = &r.app {
        out.push(("copy", format!("{} ({})", app.url, app.load_balancer)));
    }
    let post = match &r.post.post_id {
        Some(id) => format!("{} {id} ({})", r.post.outcome, r.post.detail),
        None => format!("{}: {}", r.post.outcome, r.post.detail),
    };
    out.push(("post", post));
    out
}

/// For a ticket: the verdict, the figures, each step's time and outcome, the problems.
pub fn markdown(r: &Report) -> String {
    let icon = if r.passed { "✅" } else { "🚨" };
    let mut out = format!(
        "### {icon} standby drill {}: {} in {}s\n\nRegion {}, {} → {}.\n\n| Step | Seconds | Outcome |\n|---|---|---|\n",
        escape(&r.id),
        if r.passed { "passed" } else { "failed" },
        r.seconds,
        escape(&r.region),
        escape(&r.started),
        escape(&r.ended)
    );
    let mut head = String::from("| Figure | Value |\n|---|---|\n");
    for (k, v) in figures(r) {
        head.push_str(&format!("| {k} | {} |\n", escape(&v)));
    }
    out = out.replacen("| Step | Seconds |", &format!("{head}\n| Step | Seconds |"), 1);
    for step in &r.steps {
        out.push_str(&format!(
            "| <code>{}</code> | {} | {} |\n",
            escape(&step.id),
            step.seconds,
            escape(&step.outcome)
        ));
    }
    if !r.problems.is_empty() {
        out.push_str("\n**Problems**\n\n");
        for p in &r.problems {
            out.push_str(&format!("- {}\n", escape(&p.replace('\n', " "))));
        }
    }
    if !r.kept.is_empty() {
        out.push_str(&format!(
            "\nKept (billed until `standby drill --cleanup {}`): {}\n",
            escape(&r.id),
            escape(&r.kept.join(", "))
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::report::{FORMAT_VERSION, StepReport};

    fn report(passed: bool) -> Report {
        Report {
            format_version: FORMAT_VERSION,
            standby_version: "0",
            id: "ab12cd".into(),
            region: "us-east-1".into(),
            started: "2026-12-06T10:00:00Z".into(),
            ended: "2026-12-06T10:05:00Z".into(),
            passed,
            outcome: if passed { "passed".into() } else { "failed: step `drill.db-copy` failed".into() },
            seconds: 300,
            steps: vec![StepReport { id: "drill.db-copy".into(), seconds: 240, outcome: "a | b".into() }],
            problems: if passed { vec![] } else { vec!["step failed\n  hint: run it again".into()] },
            kept: if passed { vec!["mm-drill-ab12cd".into()] } else { vec![] },
            app: Some(crate::drill::report::App {
                load_balancer: "mm-drill-ab12cd-1.us-east-1.elb.amazonaws.com".into(),
                url: "http://mm-drill-ab12cd-1.us-east-1.elb.amazonaws.com:80 (as chat.example.com)".into(),
            }),
            post: crate::drill::report::Post {
                outcome: "posted".into(),
                post_id: Some("p1".into()),
                detail: "HTTP 201".into(),
            },
            rto_seconds: Some(301.5),
            rto_to: Some("post".into()),
            rto_app_seconds: Some(120.0),
            rpo_seconds: Some(0.0),
            rpo_detail: "the copy shows production's newest post (x)".into(),
        }
    }

    #[test]
    fn the_verdict_steps_problems_and_what_is_kept_are_said() {
        let s = Style { color: false };
        let ok = human(&report(true), &s);
        assert!(ok.contains("Drill ab12cd in us-east-1: PASSED in 300s"), "{ok}");
        assert!(ok.contains("drill.db-copy   240s  a | b"), "{ok}");
        assert!(ok.contains("billed until `standby drill --cleanup ab12cd`: mm-drill-ab12cd"), "{ok}");
        assert!(
            ok.contains("RTO: 301.5s (drill start to the first post on the copy; the app tier's start to it: 120.0s)"),
            "{ok}"
        );
        assert!(ok.contains("RPO: 0.0s: the copy shows production's newest post"), "{ok}");
        assert!(ok.contains("post: posted p1 (HTTP 201)"), "{ok}");
        let bad = human(&report(false), &s);
        assert!(bad.contains("FAILED") && bad.contains("problem: step failed"), "{bad}");
        let md = markdown(&report(false));
        assert!(md.starts_with("### 🚨 standby drill ab12cd: failed in 300s"), "{md}");
        assert!(md.contains("| <code>drill.db-copy</code> | 240 | a &#124; b |"), "{md}");
        assert!(md.contains("- step failed   hint: run it again"), "{md}");
        assert!(
            md.contains(
                "| RTO | 301.5s (drill start to the first post on the copy; the app tier's start to it: 120.0s) |"
            ),
            "{md}"
        );
    }
}
