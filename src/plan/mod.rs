//! The plan as plain data: what would change and why, and the [`runbook`]
//! of a role switch. Made by [`planner`] (the runbook by `switchover`),
//! read by the renderers and by apply, saved by [`file`].

pub mod diff;
pub mod existing;
pub mod file;
pub mod imports;
pub mod moves;
pub mod planner;
pub mod runbook;

use crate::diag::Diagnostic;
use crate::value::Attrs;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    /// Delete, then create (a force-new property changed).
    Replace,
    Delete,
}

impl Action {
    /// The glyph in the human plan.
    pub fn glyph(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }

    /// Terraform's `change.actions`.
    pub fn terraform(self) -> Vec<&'static str> {
        match self {
            Action::NoOp => vec!["no-op"],
            Action::Create => vec!["create"],
            Action::Update => vec!["update"],
            Action::Replace => vec!["delete", "create"],
            Action::Delete => vec!["delete"],
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Action::NoOp => "no changes",
            Action::Create => "will be created",
            Action::Update => "will be updated in-place",
            Action::Replace => "must be replaced",
            Action::Delete => "will be destroyed",
        }
    }
}

/// One resource instance's change. Sensitive attributes are never in
/// `before`/`after`: they are listed in `sensitive`, and `changed` says
/// whether they change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: String,
    /// `module.a.module.b`, empty for the root.
    pub module: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub name: String,
    /// Instance key: a number, a string, or null.
    pub index: serde_json::Value,
    pub region: String,
    pub action: Action,
    /// Why: e.g. "bucket forces replacement", "no longer in configuration".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Attrs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Attrs>,
    /// Top-level attributes that differ (sensitive ones included).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub changed: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sensitive: BTreeSet<String>,
    /// Properties forcing replacement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace_paths: Vec<String>,
    /// Resource blocks this one depends on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<String>,
    /// Set when this plan adopts an object made outside standby.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importing: Option<Importing>,
    /// Set when the change touches production: an adopted resource, or
    /// one that changes an adopted object (its versioning, its users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production: Option<OnProduction>,
}

/// A change made on production, with what it does there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnProduction {
    /// The adopted resource it changes (its own address when it is one).
    pub target: String,
    /// What the change does there, with AWS's consequence, in plain words.
    pub effect: String,
}

/// An import: the object's id, and what AWS never reports about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Importing {
    pub id: String,
    /// Secret properties AWS never returns (a master password): unknown for
    /// an adopted resource, left as they are unless the configuration sets them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

/// A root output's change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputChange {
    pub name: String,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// `None` when unknown until apply (see `after_unknown`) or sensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    pub after_unknown: bool,
    pub sensitive: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: String,
    pub standby_version: String,
    /// The state this plan was made against.
    pub lineage: String,
    pub serial: u64,
    /// A destroy plan removes everything.
    pub destroy: bool,
    /// Only report drift, propose no changes.
    pub refresh_only: bool,
    /// Every managed instance, no-ops included, in address order.
    pub changes: Vec<ResourceChange>,
    /// Differences between state and what AWS reported on refresh.
    pub drift: Vec<ResourceChange>,
    pub outputs: Vec<OutputChange>,
    pub warnings: Vec<Diagnostic>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// The role switch this plan needs (`active_region` changed), run
    /// before the changes above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<runbook::Runbook>,
}

/// `Plan: N to import, N to add, N to change, N to destroy.`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub import: usize,
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            s.import += usize::from(c.importing.is_some());
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1;
                }
                Action::Delete => s.destroy += 1,
                Action::NoOp => {}
            }
        }
        s
    }

    /// `N to import, N to add, N to change, N to destroy` (imports only when
    /// there are some, as Terraform words it).
    pub fn summary_text(&self) -> String {
        let s = self.summary();
        let import = if s.import > 0 { format!("{} to import, ", s.import) } else { String::new() };
        format!("{import}{} to add, {} to change, {} to destroy", s.add, s.change, s.destroy)
    }

    /// The changes made on production (adopted resources), in plan order.
    pub fn production_changes(&self) -> impl Iterator<Item = (&ResourceChange, &OnProduction)> {
        self.changes.iter().filter(|c| c.action != Action::NoOp).filter_map(|c| Some((c, c.production.as_ref()?)))
    }

    /// True when applying would change resources, outputs, or (for a
    /// refresh-only plan) the recorded state.
    pub fn has_changes(&self) -> bool {
        if self.refresh_only {
            return !self.drift.is_empty();
        }
        self.runbook.is_some()
            || self.changes.iter().any(|c| c.action != Action::NoOp || c.importing.is_some())
            || self.outputs.iter().any(|o| o.action != Action::NoOp)
    }
}
