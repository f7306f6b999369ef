//! The plan as markdown for pull-request comments: a summary table, then
//! one collapsible section per changed resource with a ```diff block.
//! Everything from the configuration or from AWS is escaped, so a value
//! cannot break out of its code block.

use super::lines::change_lines;
use crate::plan::{Action, Plan, ResourceChange};

fn action_word(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "destroy",
        Action::NoOp => "no-op",
    }
}

/// Text safe inside HTML and table cells.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('|', "&#124;").replace('`', "&#96;")
}

/// A code fence longer than any run of backticks in the content.
pub(crate) fn fence(content: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in content.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

fn section(c: &ResourceChange, verb: &str, out: &mut String) {
    let (lines, hidden) = change_lines(c);
    let mut body = String::new();
    for l in &lines {
        // `diff` highlighting wants + and - in the first column.
        let sign = if l.sign == '~' { '!' } else { l.sign };
        body.push_str(&format!("{sign} {}\n", l.text));
    }
    if hidden > 0 {
        body.push_str(&format!("# ({hidden} unchanged attributes hidden)\n"));
    }
    let f = fence(&body);
    out.push_str(&format!(
        "<details><summary><code>{}</code> <code>{}</code> {verb}</summary>\n\n{f}diff\n{body}{f}\n\n</details>\n\n",
        c.action.glyph(),
        escape(&c.address),
    ));
}

pub fn render(plan: &Plan) -> String {
    let mut out = format!("### standby plan: {}\n\n", plan.summary_text());
    for w in &plan.warnings {
        out.push_str(&format!(
            "> **Warning:** {}\n\n",
            escape(w.to_string().trim_start_matches("Warning: ")).replace('\n', "\n> ")
        ));
    }
    if !plan.drift.is_empty() {
        out.push_str(&format!("#### Changed outside of standby ({})\n\n", plan.drift.len()));
        for d in &plan.drift {
            let verb = if d.action == Action::Delete { "has been deleted" } else { "has changed" };
            section(d, verb, &mut out);
        }
    }
    let imported: Vec<_> = plan.changes.iter().filter(|c| c.importing.is_some()).collect();
    if !imported.is_empty() {
        out.push_str(&format!("#### Imported ({})\n\nAdopted as they are in AWS; never replaced, and protected from deletion.\n\n| Resource | Region | Id | Then |\n|---|---|---|---|\n", imported.len()));
        for c in &imported {
            let i = c.importing.as_ref().expect("filtered");
            let mut then =
                if c.action == Action::NoOp { "no change".to_string() } else { action_word(c.action).to_string() };
            if !i.unknown.is_empty() {
                then.push_str(&format!("; unknown (AWS never returns them): {}", i.unknown.join(", ")));
            }
            out.push_str(&format!(
                "| <code>{}</code> | {} | <code>{}</code> | {} |\n",
                escape(&c.address),
                escape(&c.region),
                escape(&i.id),
                escape(&then)
            ));
        }
        out.push('\n');
    }
    if let Some(rb) = &plan.runbook {
        out.push_str(&runbook(rb));
    }
    let changing: Vec<_> = plan.changes.iter().filter(|c| c.action != Action::NoOp).collect();
    if changing.is_empty() {
        out.push_str(if plan.refresh_only && !plan.drift.is_empty() {
            "Applying this refresh-only plan records the changes above in the state; no resource changes.\n"
        } else if !imported.is_empty() {
            "Nothing else changes.\n"
        } else {
            "No changes. The infrastructure matches the configuration.\n"
        });
        return out;
    }
    let production: Vec<_> = plan.production_changes().collect();
    if !production.is_empty() {
        out.push_str(&format!(
            "#### Changes to production ({})\n\nWhat this plan changes on adopted (production) resources, and what \
             each does there.\n\n| Action | Resource | On | What it does there |\n|---|---|---|---|\n",
            production.len()
        ));
        for (c, p) in production {
            out.push_str(&format!(
                "| {} {} | <code>{}</code> | <code>{}</code> | {} |\n",
                c.action.glyph(),
                action_word(c.action),
                escape(&c.address),
                escape(&p.target),
                escape(&p.effect).replace('\n', "<br>")
            ));
        }
        out.push('\n');
    }
    out.push_str("| Action | Resource | Region | Why |\n|---|---|---|---|\n");
    for c in &changing {
        let why = escape(c.reason.as_deref().unwrap_or_default());
        out.push_str(&format!(
            "| {} {} | <code>{}</code> | {} | {} |\n",
            c.action.glyph(),
            action_word(c.action),
            escape(&c.address),
            escape(&c.region),
            why
        ));
    }
    out.push('\n');
    for c in &changing {
        match plan.runbook.as_ref().and_then(|rb| rb.step_applying(&c.address)) {
            Some(st) => section(c, &format!("{} (by runbook step {})", c.action.verb(), st.id), &mut out),
            None => section(c, c.action.verb(), &mut out),
        }
    }
    out
}

/// The runbook as a table.
pub fn runbook(rb: &crate::plan::runbook::Runbook) -> String {
    let esc = escape;
    let mut out =
        format!("#### {}\n\n| # | Step | Region | What |\n|---|---|---|---|\n", esc(&super::runbook::headline(rb)));
    for (n, step) in rb.steps.iter().enumerate() {
        let what = match super::runbook::detail(step) {
            Some(d) => format!("{} ({})", step.title, d),
            None => step.title.clone(),
        };
        out.push_str(&format!(
            "| {} | <code>{}</code> | {} | {} |\n",
            n + 1,
            esc(&step.id),
            esc(&step.region),
            esc(&what)
        ));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_cannot_break_out_of_their_block() {
        let body = "+ input = \"```\\n<script>\"\n";
        assert_eq!(super::fence(body), "````");
        assert_eq!(super::escape("a<b>|`c`"), "a&lt;b&gt;&#124;&#96;c&#96;");
    }
}
