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
    for p in &r.problems {
        out.push_str(&format!("  {} {p}\n", s.red("problem:")));
    }
    if !r.kept.is_empty() {
        out.push_str(&format!("  kept, and billed until `standby drill --cleanup {}`: {}\n", r.id, r.kept.join(", ")));
    }
    out
}

/// For a ticket: the verdict, each step's time and outcome, the problems.
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
        }
    }

    #[test]
    fn the_verdict_steps_problems_and_what_is_kept_are_said() {
        let s = Style { color: false };
        let ok = human(&report(true), &s);
        assert!(ok.contains("Drill ab12cd in us-east-1: PASSED in 300s"), "{ok}");
        assert!(ok.contains("drill.db-copy   240s  a | b"), "{ok}");
        assert!(ok.contains("billed until `standby drill --cleanup ab12cd`: mm-drill-ab12cd"), "{ok}");
        let bad = human(&report(false), &s);
        assert!(bad.contains("FAILED") && bad.contains("problem: step failed"), "{bad}");
        let md = markdown(&report(false));
        assert!(md.starts_with("### 🚨 standby drill ab12cd: failed in 300s"), "{md}");
        assert!(md.contains("| <code>drill.db-copy</code> | 240 | a &#124; b |"), "{md}");
        assert!(md.contains("- step failed   hint: run it again"), "{md}");
    }
}
