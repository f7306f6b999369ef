//! Views of a preflight checklist: human, JSON, markdown.

use super::Style;
use super::markdown::escape;
use crate::health::{Check, Status, tally};
use serde_json::{Value as Json, json};

/// The JSON checklist's `format_version`.
pub const FORMAT_VERSION: &str = "1.0";

fn compact(v: &Json) -> String {
    v.to_string()
}

pub fn human(checks: &[Check], dir: &str, s: &Style) -> String {
    let mut out = format!("standby preflight {dir}\n\n");
    for c in checks {
        let word = match c.status {
            Status::Pass => s.green("[pass]"),
            Status::Warn => s.yellow("[warn]"),
            Status::Fail => s.red("[FAIL]"),
        };
        out.push_str(&format!("  {word} {:<18} {}\n", c.id, c.title));
        if c.status != Status::Pass {
            out.push_str(&format!("         expected: {}\n", compact(&c.expected)));
            out.push_str(&format!("         actual:   {}\n", compact(&c.actual)));
            if !c.impact.is_empty() {
                out.push_str(&format!("         why:      {}\n", c.impact));
            }
            if let Some(f) = &c.fix {
                out.push_str(&format!("         fix:      {f}\n"));
            }
        }
    }
    let (pass, warn, fail) = tally(checks);
    out.push_str(&format!(
        "\n{} checks: {pass} pass, {warn} warn, {fail} fail. {}\n",
        checks.len(),
        if fail > 0 { "Fix the failed checks before the first apply." } else { "Ready for the first apply." }
    ));
    out
}

pub fn json(checks: &[Check], checked_at: &str) -> Json {
    let (pass, warn, fail) = tally(checks);
    json!({
        "format_version": FORMAT_VERSION,
        "standby_version": env!("CARGO_PKG_VERSION"),
        "checked_at": checked_at,
        "exit_code": if fail > 0 { 3 } else { 0 },
        "counts": {"pass": pass, "warn": warn, "fail": fail},
        "checks": checks,
    })
}

pub fn markdown(checks: &[Check]) -> String {
    let (pass, warn, fail) = tally(checks);
    let icon = if fail > 0 { "🚨" } else { "✅" };
    let mut out = format!("### {icon} standby preflight: {pass} pass, {warn} warn, {fail} fail\n\n");
    out.push_str("| | Check | What | How to fix |\n|---|---|---|---|\n");
    for c in checks {
        let mark = match c.status {
            Status::Pass => "✅",
            Status::Warn => "⚠️",
            Status::Fail => "❌",
        };
        let fix = if c.status == Status::Pass { String::new() } else { escape(c.fix.as_deref().unwrap_or_default()) };
        out.push_str(&format!("| {mark} | {} | {} | {fix} |\n", c.id, escape(&c.title)));
    }
    for c in checks.iter().filter(|c| c.status != Status::Pass) {
        out.push_str(&format!(
            "\n<details><summary>{} {}: {}</summary>\n\n{}\n\nexpected: <code>{}</code><br>\nactual: <code>{}</code>\n\n</details>\n",
            c.status.word(),
            c.id,
            escape(&c.title),
            escape(&c.impact),
            escape(&compact(&c.expected)),
            escape(&compact(&c.actual)),
        ));
    }
    out
}
