//! Views of a plan: human (Terraform-like), JSON (Terraform's `show -json`
//! names), markdown (pull-request comments). All read the same [`Plan`];
//! the attribute-level difference is computed once, in [`lines`].
//!
//! [`topology`] draws the DR topology (not a plan) for Graphviz.
//!
//! [`Plan`]: crate::plan::Plan

pub mod drift;
pub mod drill;
pub mod generated;
pub mod human;
pub mod json;
pub mod json_values;
pub mod lines;
pub mod markdown;
pub mod preflight;
pub mod runbook;
pub mod topology;

/// Terminal colours, or none.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
    pub fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }
    pub fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }
    pub fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }
}
