//! The human plan, modelled on Terraform's.

use super::Style;
use super::lines::{Line, change_lines};
use crate::diag::Severity;
use crate::plan::{Action, Plan, ResourceChange};

fn header(c: &ResourceChange, s: &Style, step: Option<&str>) -> String {
    let verb = match (&c.importing, c.action) {
        (Some(i), Action::NoOp) => format!("will be imported (id {:?})", i.id),
        (Some(i), a) => format!("will be imported (id {:?}) and {}", i.id, a.verb().trim_start_matches("will be ")),
        (None, a) => a.verb().to_string(),
    };
    let mut h = format!("  {} ({}) {verb}", s.bold(&format!("# {}", c.address)), c.region);
    if let Some(i) = &c.importing {
        for u in &i.unknown {
            h.push_str(&format!("\n  # ({u}: unknown, AWS never returns it; left as it is)"));
        }
    }
    if let (Action::Delete | Action::Replace | Action::Update, Some(r)) = (c.action, &c.reason) {
        h.push_str(&format!("\n  # ({r})"));
    }
    if let Some(id) = step {
        h.push_str(&format!("\n  # (by runbook step {id}, in the order above)"));
    }
    h
}

fn glyph(a: Action, s: &Style) -> String {
    let g = format!("{:>3}", a.glyph());
    match a {
        Action::Create => s.green(&g),
        Action::Update => s.yellow(&g),
        Action::Replace => s.red(&g),
        Action::Delete => s.red(&g),
        Action::NoOp => g,
    }
}

fn sign(l: &Line, s: &Style) -> String {
    let g = l.sign.to_string();
    match l.sign {
        '+' => s.green(&g),
        '-' => s.red(&g),
        '~' => s.yellow(&g),
        _ => g,
    }
}

fn resource(c: &ResourceChange, s: &Style, step: Option<&str>, out: &mut String) {
    out.push_str(&header(c, s, step));
    out.push('\n');
    out.push_str(&format!("{} resource \"{}\" \"{}\" {{\n", glyph(c.action, s), c.type_name, c.name));
    let (mut lines, mut hidden) = change_lines(c);
    if c.importing.is_some() && c.action == Action::NoOp {
        lines = super::lines::import_lines(c);
        hidden = 0;
    }
    // Updates hide unchanged attributes, but the id says which object it is.
    if let Some(id) = &c.id
        && matches!(c.action, Action::Update | Action::Replace)
        && !c.changed.contains("id")
    {
        out.push_str(&format!("        id = {id:?}\n"));
        hidden = hidden.saturating_sub(usize::from(c.before.as_ref().is_some_and(|b| b.contains_key("id"))));
    }
    for l in &lines {
        out.push_str(&format!("      {} {}\n", sign(l, s), l.text));
    }
    if hidden > 0 {
        out.push_str(&format!(
            "        # ({hidden} unchanged attribute{} hidden)\n",
            if hidden == 1 { "" } else { "s" }
        ));
    }
    out.push_str("    }\n\n");
}

/// The changes made on production, under a heading of their own, each
/// with what it does there.
fn production(plan: &Plan, s: &Style, out: &mut String) {
    let list: Vec<_> = plan.production_changes().collect();
    if list.is_empty() {
        return;
    }
    out.push_str(&s.bold("Changes to production (adopted resources)"));
    out.push_str(":\n\n");
    for (c, p) in list {
        let on = if p.target == c.address { String::new() } else { format!(" (on {})", p.target) };
        out.push_str(&format!("  {} {}{on}\n", glyph(c.action, s).trim_start(), c.address));
        for line in p.effect.lines() {
            out.push_str(&format!("      {line}\n"));
        }
    }
    out.push('\n');
}

/// The whole plan as text.
pub fn render(plan: &Plan, s: &Style) -> String {
    let mut out = String::new();
    for w in &plan.warnings {
        if w.severity == Severity::Warning {
            out.push_str(&s.yellow(&w.to_string()));
            out.push_str("\n\n");
        }
    }
    if !plan.drift.is_empty() {
        out.push_str(&s.bold("Objects have changed outside of standby"));
        out.push_str("\n\nstandby detected the following changes made outside of standby since the last apply:\n\n");
        for d in &plan.drift {
            let mut shown = d.clone();
            shown.reason = None;
            let verb = if d.action == Action::Delete { "has been deleted" } else { "has changed" };
            out.push_str(&format!("  {} ({}) {verb}\n", s.bold(&format!("# {}", d.address)), d.region));
            out.push_str(&format!("{} resource \"{}\" \"{}\" {{\n", glyph(d.action, s), d.type_name, d.name));
            if let Some(id) = &d.id {
                out.push_str(&format!("        id = {id:?}\n"));
            }
            if d.action == Action::Update {
                for l in &change_lines(&shown).0 {
                    out.push_str(&format!("      {} {}\n", sign(l, s), l.text));
                }
            }
            out.push_str("    }\n\n");
        }
    }
    if plan.refresh_only {
        out.push_str(if plan.drift.is_empty() {
            "No changes. Your infrastructure still matches the last recorded state.\n"
        } else {
            "This is a refresh-only plan: applying it updates the state to match, changing no resources.\n"
        });
        return out;
    }
    if let Some(rb) = &plan.runbook {
        out.push_str(&super::runbook::human(rb, s));
    }
    let changing: Vec<&ResourceChange> =
        plan.changes.iter().filter(|c| c.action != Action::NoOp || c.importing.is_some()).collect();
    let outputs: Vec<_> = plan.outputs.iter().filter(|o| o.action != Action::NoOp).collect();
    if changing.is_empty() && outputs.is_empty() {
        out.push_str(&format!("{} Your infrastructure matches the configuration.\n", s.green(&s.bold("No changes."))));
        return out;
    }
    if !changing.is_empty() {
        let used: std::collections::BTreeSet<Action> =
            changing.iter().map(|c| c.action).filter(|a| *a != Action::NoOp).collect();
        if !used.is_empty() {
            out.push_str("standby used the selected regions to generate the following plan. Resource actions are indicated with the following symbols:\n");
        }
        for a in used {
            let what = match a {
                Action::Create => "create",
                Action::Update => "update in-place",
                Action::Replace => "destroy and then create replacement",
                Action::Delete => "destroy",
                Action::NoOp => continue,
            };
            out.push_str(&format!("{} {what}\n", glyph(a, s)));
        }
        out.push_str("\nstandby will perform the following actions:\n\n");
        for c in &changing {
            let step = plan.runbook.as_ref().and_then(|rb| rb.step_applying(&c.address)).map(|st| st.id.as_str());
            resource(c, s, step, &mut out);
        }
    }
    production(plan, s, &mut out);
    out.push_str(&format!("{} {}.\n", s.bold("Plan:"), plan.summary_text()));
    if !outputs.is_empty() {
        out.push_str("\nChanges to Outputs:\n");
        let width = outputs.iter().map(|o| o.name.len()).max().unwrap_or(0);
        for o in outputs {
            let value = |v: &Option<serde_json::Value>| match v {
                _ if o.sensitive => super::lines::SENSITIVE.to_string(),
                Some(j) => j.to_string(),
                None => super::lines::UNKNOWN.to_string(),
            };
            let name = &o.name;
            let text = match o.action {
                Action::Create => format!("{name:width$} = {}", value(&o.after)),
                Action::Delete => format!("{name:width$} = {} -> null", value(&o.before)),
                _ => format!("{name:width$} = {} -> {}", value(&o.before), value(&o.after)),
            };
            out.push_str(&format!("  {} {text}\n", glyph(o.action, s).trim_start()));
        }
    }
    out
}
