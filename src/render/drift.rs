//! Views of a drift report: human, JSON (versioned, documented in
//! docs/drift-and-health.md), markdown (a summary table and collapsible details, for an issue
//! or pull-request comment). All read the same [`Report`].

use super::Style;
use super::markdown::{escape, fence};
use crate::drift::{FORMAT_VERSION, Finding, FindingKind, Report};
use crate::health::{Check, Status, tally};
use serde_json::{Map, Value as Json, json};

fn title(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::Unhealthy => "Unhealthy: DR would not work as expected",
        FindingKind::Changed => "Changed outside standby",
        FindingKind::Missing => "Missing: on record, gone from AWS",
        FindingKind::Unmanaged => "Unmanaged: in scope, not in state",
        FindingKind::Unapplied => "Not applied yet: the configuration differs from what was applied",
    }
}

fn glyph(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::Unhealthy => "!",
        FindingKind::Changed => "~",
        FindingKind::Missing => "-",
        FindingKind::Unmanaged => "+",
        FindingKind::Unapplied => ">",
    }
}

/// A value on one line, or indented pretty JSON when long.
fn value(v: &Json, indent: &str) -> String {
    let one = v.to_string();
    if one.len() <= 90 {
        return one;
    }
    let pretty = serde_json::to_string_pretty(v).unwrap_or(one);
    pretty
        .lines()
        .enumerate()
        .map(|(i, l)| if i == 0 { l.to_string() } else { format!("{indent}{l}") })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expected and actual as a line diff of their pretty JSON, when both are
/// long documents (policies, rule lists): only what differs stands out.
fn json_diff(expected: &Json, actual: &Json, indent: &str) -> Option<String> {
    use similar::{ChangeTag, TextDiff};
    let long = |v: &Json| v.is_object() || v.is_array();
    if !(long(expected) && long(actual)) || expected.to_string().len() + actual.to_string().len() <= 120 {
        return None;
    }
    let (a, b) = (serde_json::to_string_pretty(expected).ok()?, serde_json::to_string_pretty(actual).ok()?);
    let diff = TextDiff::from_lines(&a, &b);
    let mut out = String::new();
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            ChangeTag::Delete => '-',
            ChangeTag::Insert => '+',
            ChangeTag::Equal => ' ',
        };
        out.push_str(&format!("{indent}{sign} {}", change.value()));
        if !change.value().ends_with('\n') {
            out.push('\n');
        }
    }
    Some(out)
}

/// How the checks went, for the "No drift" sentence.
fn health_words(r: &Report) -> String {
    match tally(&r.checks) {
        (_, 0, 0) => "every DR health check passes".to_string(),
        (_, 1, 0) => "no DR health check fails (one warning, below)".to_string(),
        (_, w, 0) => format!("no DR health check fails ({w} warnings, below)"),
        (_, _, f) => format!("the {f} failing DR health check(s) are ignored"),
    }
}

fn counts_line(r: &Report) -> String {
    let parts: Vec<String> = FindingKind::ALL.iter().map(|k| format!("{} {}", r.count(*k), k.word())).collect();
    parts.join(", ")
}

pub fn human(r: &Report, dir: &str, s: &Style) -> String {
    let mut out = format!("standby drift {dir} (state serial {}, checked {})\n", r.serial, r.checked_at);
    for w in &r.warnings {
        out.push_str(&format!("\n{}\n", s.yellow(w)));
    }
    if r.findings.is_empty() {
        out.push_str(&format!(
            "\n{} The resources match the state, the configuration is applied, nothing unmanaged is in scope, and \
             {}.\n",
            s.green(&s.bold("No drift.")),
            health_words(r)
        ));
    }
    for kind in FindingKind::ALL {
        let list: Vec<&Finding> = r.findings.iter().filter(|f| f.kind == kind).collect();
        if list.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{} ({})\n", s.bold(title(kind)), list.len()));
        for f in list {
            let head = format!("  {} {}", glyph(kind), f.address);
            let paint = |t: &str| if kind == FindingKind::Unhealthy { s.red(t) } else { s.yellow(t) };
            out.push_str(&paint(&head));
            if !f.path.is_empty() {
                out.push_str(&format!("  {}", f.path));
            }
            if let Some(reg) = &f.region {
                out.push_str(&format!("  ({reg})"));
            }
            out.push('\n');
            if let Some(i) = &f.impact {
                out.push_str(&format!("      impact:   {i}\n"));
            }
            if let Some(d) = json_diff(&f.expected, &f.actual, "        ") {
                out.push_str(&format!("      expected (-) → actual (+):\n{d}"));
            } else {
                if kind != FindingKind::Unmanaged || !f.expected.is_null() {
                    out.push_str(&format!("      expected: {}\n", value(&f.expected, "                ")));
                }
                out.push_str(&format!("      actual:   {}\n", value(&f.actual, "                ")));
            }
            if let Some(d) = &f.detail {
                out.push_str(&format!("      {d}\n"));
            }
        }
    }
    let (pass, warn, fail) = tally(&r.checks);
    out.push_str(&format!(
        "\n{} {} checks: {pass} pass, {warn} warn, {fail} fail\n",
        s.bold("DR health:"),
        r.checks.len()
    ));
    for c in &r.checks {
        let word = match c.status {
            Status::Pass => s.green("pass"),
            Status::Warn => s.yellow("warn"),
            Status::Fail => s.red("FAIL"),
        };
        let measured = c.measured.as_ref().map(|m| format!(": {m}")).unwrap_or_default();
        out.push_str(&format!("  {word}  {:<20} {}{measured}\n", c.id, c.title));
        // A warning is not a finding: say here why it is one.
        if let (Status::Warn, Some(fix)) = (c.status, &c.fix) {
            out.push_str(&format!("        {fix}\n"));
        }
    }
    if !r.ignored.is_empty() {
        out.push_str(&format!("\nIgnored: {} finding(s)\n", r.ignored.len()));
        for (rule, n) in r.ignored_by_rule() {
            out.push_str(&format!("  {n} by `{rule}`\n"));
        }
    }
    out.push_str(&format!(
        "\n{} {}{}. Exit code {}.\n",
        s.bold("Summary:"),
        counts_line(r),
        if r.ignored.is_empty() { String::new() } else { format!(", {} ignored", r.ignored.len()) },
        r.exit_code()
    ));
    out
}

fn check_json(c: &Check) -> Json {
    serde_json::to_value(c).unwrap_or(Json::Null)
}

/// The JSON report. Fields are documented in docs/drift-and-health.md ("Output"); `format_version` changes its major number on incompatible change.
pub fn json(r: &Report) -> Json {
    let mut counts = Map::new();
    for k in FindingKind::ALL {
        counts.insert(k.word().into(), json!(r.count(k)));
    }
    counts.insert("ignored".into(), json!(r.ignored.len()));
    let ignored: Vec<Json> =
        r.ignored_by_rule().into_iter().map(|(rule, n)| json!({"rule": rule, "count": n})).collect();
    json!({
        "format_version": FORMAT_VERSION,
        "standby_version": env!("CARGO_PKG_VERSION"),
        "checked_at": r.checked_at,
        "state": {"serial": r.serial, "lineage": r.lineage},
        "exit_code": r.exit_code(),
        "counts": counts,
        "findings": r.findings,
        "ignored": ignored,
        "checks": r.checks.iter().map(check_json).collect::<Vec<_>>(),
        "scope": {"prefixes": r.prefixes},
        "warnings": r.warnings,
    })
}

fn code(v: &Json) -> String {
    let t = v.to_string();
    let t = if t.len() > 60 { format!("{}…", t.chars().take(57).collect::<String>()) } else { t };
    format!("<code>{}</code>", escape(&t))
}

pub fn markdown(r: &Report) -> String {
    let icon = match r.exit_code() {
        0 => "✅",
        3 => "🚨",
        _ => "⚠️",
    };
    let mut out = format!("### {icon} standby drift: {}\n\n", counts_line(r));
    out.push_str(&format!("State serial {}, checked {}.", r.serial, escape(&r.checked_at)));
    if !r.ignored.is_empty() {
        out.push_str(&format!(" {} finding(s) ignored.", r.ignored.len()));
    }
    out.push_str("\n\n");
    for w in &r.warnings {
        // The heading says it already (as the plan's markdown does).
        let w = w.trim_start_matches("Warning: ");
        out.push_str(&format!("> **Warning:** {}\n\n", escape(w).replace('\n', "\n> ")));
    }
    if r.findings.is_empty() {
        out.push_str(&format!(
            "No drift: the resources match the state, the configuration is applied, and {}.\n\n",
            health_words(r)
        ));
    } else {
        out.push_str("| Kind | Resource | Path | Expected | Actual |\n|---|---|---|---|---|\n");
        for f in &r.findings {
            out.push_str(&format!(
                "| {} | <code>{}</code> | {} | {} | {} |\n",
                f.kind.word(),
                escape(&f.address),
                escape(&f.path),
                code(&f.expected),
                code(&f.actual)
            ));
        }
        out.push('\n');
        for f in &r.findings {
            let mut body = String::new();
            if let Some(i) = &f.impact {
                body.push_str(&format!("**DR impact:** {}\n\n", escape(i)));
            }
            if let Some(d) = &f.detail {
                body.push_str(&format!("{}\n\n", escape(d)));
            }
            let values = format!(
                "expected: {}\nactual:   {}\n",
                serde_json::to_string_pretty(&f.expected).unwrap_or_default(),
                serde_json::to_string_pretty(&f.actual).unwrap_or_default()
            );
            let fc = fence(&values);
            body.push_str(&format!("{fc}json\n{values}{fc}\n"));
            let path = if f.path.is_empty() { String::new() } else { format!(" <code>{}</code>", escape(&f.path)) };
            out.push_str(&format!(
                "<details><summary>{} <code>{}</code>{path}</summary>\n\n{body}\n</details>\n\n",
                f.kind.word(),
                escape(&f.address)
            ));
        }
    }
    let (pass, warn, fail) = tally(&r.checks);
    out.push_str(&format!(
        "<details><summary>DR health: {} checks, {pass} pass, {warn} warn, {fail} fail</summary>\n\n| Check | Status | What |\n|---|---|---|\n",
        r.checks.len()
    ));
    for c in &r.checks {
        let why = match (c.status, &c.fix) {
            (Status::Warn, Some(fix)) => format!(": {fix}"),
            _ => String::new(),
        };
        let measured = c.measured.as_ref().map(|m| format!(": {m}")).unwrap_or_default();
        out.push_str(&format!(
            "| {} | {} | {}{}{} |\n",
            c.id,
            c.status.word(),
            escape(&c.title),
            escape(&measured),
            escape(&why)
        ));
    }
    out.push_str("\n</details>\n");
    if !r.ignored.is_empty() {
        out.push_str("\n| Ignore rule | Findings hidden |\n|---|---|\n");
        for (rule, n) in r.ignored_by_rule() {
            out.push_str(&format!("| <code>{}</code> | {n} |\n", escape(&rule)));
        }
    }
    out
}
