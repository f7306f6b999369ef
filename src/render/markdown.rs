//! The plan as markdown for pull-request comments: a summary table, then
//! one collapsible section per changed resource with a ```diff block.

use super::lines::change_lines;
use crate::plan::{Action, Plan};

fn action_word(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "destroy",
        Action::NoOp => "no-op",
    }
}

pub fn render(plan: &Plan) -> String {
    let sum = plan.summary();
    let mut out =
        format!("### standby plan: {} to add, {} to change, {} to destroy\n\n", sum.add, sum.change, sum.destroy);
    for w in &plan.warnings {
        out.push_str(&format!(
            "> **Warning:** {}\n\n",
            w.to_string().trim_start_matches("Warning: ").replace('\n', "\n> ")
        ));
    }
    if !plan.drift.is_empty() {
        out.push_str(&format!("**{} resource(s) changed outside of standby:** ", plan.drift.len()));
        let list: Vec<String> = plan.drift.iter().map(|d| format!("`{}`", d.address)).collect();
        out.push_str(&list.join(", "));
        out.push_str("\n\n");
    }
    let changing: Vec<_> = plan.changes.iter().filter(|c| c.action != Action::NoOp).collect();
    if changing.is_empty() {
        out.push_str("No changes. The infrastructure matches the configuration.\n");
        return out;
    }
    out.push_str("| Action | Resource | Region | Why |\n|---|---|---|---|\n");
    for c in &changing {
        let why = c.reason.clone().unwrap_or_default().replace('|', "\\|");
        out.push_str(&format!(
            "| {} {} | `{}` | {} | {} |\n",
            c.action.glyph(),
            action_word(c.action),
            c.address,
            c.region,
            why
        ));
    }
    out.push('\n');
    for c in &changing {
        out.push_str(&format!(
            "<details><summary><code>{}</code> {} {}</summary>\n\n```diff\n",
            c.action.glyph(),
            c.address,
            c.action.verb()
        ));
        let (lines, hidden) = change_lines(c);
        for l in &lines {
            // `diff` highlighting wants + and - in the first column.
            let sign = if l.sign == '~' { '!' } else { l.sign };
            out.push_str(&format!("{sign} {}\n", l.text));
        }
        if hidden > 0 {
            out.push_str(&format!("# ({hidden} unchanged attributes hidden)\n"));
        }
        out.push_str("```\n\n</details>\n\n");
    }
    out
}
