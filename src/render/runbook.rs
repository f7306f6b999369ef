//! The switchover runbook in a plan, for people (text; the markdown view
//! uses its headline and details); the JSON plan carries it as data
//! (`runbook`).

use super::Style;
use crate::plan::runbook::{Runbook, Step, StepAction};

pub(super) fn headline(rb: &Runbook) -> String {
    if rb.mode == "drill" {
        return format!(
            "Drill: a failover to {} ({}) rehearsed on copies made there, {} step(s); production ({}) is only read",
            rb.to,
            rb.to_region,
            rb.steps.len(),
            rb.from_region
        );
    }
    if rb.mode == "failover" {
        return format!(
            "Failover to {} ({}), {} step(s) not done yet, in this order: those that need {} wait until it is back, \
             then apply runs them before the changes below",
            rb.to,
            rb.to_region,
            rb.steps.len(),
            rb.from_region
        );
    }
    format!(
        "Switchover: {} ({}) → {} ({}), {} steps in this order, before the changes below",
        rb.from,
        rb.from_region,
        rb.to,
        rb.to_region,
        rb.steps.len()
    )
}

pub(super) fn detail(step: &Step) -> Option<String> {
    let what = match &step.action {
        StepAction::Readiness { checks, scaled, refuse } => Some(format!(
            "stops the run before any change when a check fails ({}*); --force overrides{}{}",
            checks.join("*, "),
            refuse.iter().map(|r| format!("; refuses: {r}")).collect::<String>(),
            if scaled.is_empty() {
                String::new()
            } else {
                format!(
                    "; scaled up by the runbook: {}",
                    scaled.iter().map(|(a, n)| format!("{a} to {n}")).collect::<Vec<_>>().join(", ")
                )
            }
        )),
        StepAction::AuroraSwitchover { address, .. } => Some(format!("{address}; observed first, never asked twice")),
        StepAction::WriteForwarding { address, .. } => Some(address.clone()),
        StepAction::AuroraFailover { address, .. } => Some(format!("{address}; the old region is never called")),
        StepAction::Rejoin { .. } => Some(
            "observed; waits until it is synchronised, then for Aurora's snapshot (a run note when none comes)".into(),
        ),
        StepAction::SearchStopFollowers { domain, .. } => {
            Some(format!("on {domain}; an index already stopped is left as it is; works with the leader's region down"))
        }
        StepAction::SearchDeleteOldCopies { domain, indices, .. } => Some(format!(
            "DELETES {} index(es) on {}; counts read when planning; deletes only these",
            indices.len(),
            if domain.is_empty() { "the old leader" } else { domain }
        )),
        StepAction::AppServing { .. } => Some("observed, never changed; progress while it waits".into()),
        StepAction::Changes { addresses, hold } => Some(format!(
            "applies {}{}; each shown below",
            addresses.join(", "),
            hold.iter().map(|(a, k)| format!(" ({a} without {})", k.join(", "))).collect::<String>()
        )),
        StepAction::DrillDbCopy { drill, .. } => {
            Some(format!("tagged standby-drill={drill}; a copy already made is waited on, never made twice"))
        }
        StepAction::DrillSearchCopy { drill, leader, .. } => Some(format!(
            "tagged standby-drill={drill}; the connection is accepted on {leader}'s side: the one call on production, \
             naming the drill's connection only"
        )),
        StepAction::DrillSearchWritable { .. } => Some("the failover's own stop, on the copy only".into()),
        StepAction::DrillCleanup { .. } => Some("runs after a failure too; what is already gone is skipped".into()),
        StepAction::DrillApp { drill, .. } => Some(format!(
            "tagged standby-drill={drill}; planned and applied on the drill's record (journaled: a kill keeps what it \
             made on record); the copies' endpoints read from AWS when it runs"
        )),
        StepAction::DrillServing { .. } => {
            Some("observed: the node in service, its target healthy, then the ping; progress while it waits".into())
        }
        StepAction::DrillPost { channel, .. } => Some(match channel {
            Some(_) => "STANDBY_DRILL_TOKEN's user posts; a lost answer is looked for before another try, never \
                        posted twice"
                .into(),
            None => "nothing is posted".into(),
        }),
    };
    // During a failover: what happens while the region it needs is down.
    let pending = match (&step.meanwhile, step.best_effort) {
        (Some(m), true) => Some(format!("if it cannot be done now, left pending: {m}")),
        _ => None,
    };
    let noted = step.note.as_ref().map(|_| "leaves a note of the run saying what to do after it".to_string());
    let waits = (step.wait_secs > 0).then(|| {
        format!("runs {}s after {} ended", step.wait_secs, step.wait_after.as_deref().unwrap_or("the step before"))
    });
    let parts: Vec<String> = [what, waits, pending, noted].into_iter().flatten().collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

pub fn human(rb: &Runbook, s: &Style) -> String {
    let mut out = format!("{}\n\n", s.bold(&headline(rb)));
    for (n, step) in rb.steps.iter().enumerate() {
        out.push_str(&format!("  {}. [{}] {}\n     in {}", n + 1, step.id, step.title, step.region));
        if let Some(d) = detail(step) {
            out.push_str(&format!("; {d}"));
        }
        out.push('\n');
    }
    if rb.mode == "switchover" {
        out.push_str(
            "\n  Then, with the changes below that no step applied: the rest follows the new roles (search\n  replication, when there is some, starts in the other direction).\n",
        );
    }
    out.push('\n');
    out
}
