//! The root variable that names the active region (`active_region`): the
//! modules derive every role-dependent value from it, and a plan whose
//! value differs from what AWS shows gets a switchover runbook.

use crate::diag::{Diagnostic, Diagnostics};
use crate::value::Value;
use std::collections::BTreeMap;

/// The root variable that names the active region.
pub const ACTIVE_VAR: &str = "active_region";

/// Checks the root `active_region` names a region of `regions:`.
pub fn check(root: &crate::config::Module, vars: &BTreeMap<String, Value>) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let Some(decl) = root.variable(ACTIVE_VAR) else { return diags };
    let names: Vec<&str> = root.regions.iter().map(|(n, _)| n.name.as_str()).collect();
    if let Some(v) = active(root, vars)
        && !names.contains(&v.as_str())
    {
        diags.push(
            Diagnostic::error(format!("variable `{ACTIVE_VAR}` is {v:?}, which is not a region name"))
                .at(Some(decl.name.loc.clone()))
                .address(format!("var.{ACTIVE_VAR}"))
                .hint(format!("use one of the names in `regions:`: {}", names.join(", "))),
        );
    }
    diags
}

/// The value of the root `active_region`, given or default.
pub fn active(root: &crate::config::Module, vars: &BTreeMap<String, Value>) -> Option<String> {
    let decl = root.variable(ACTIVE_VAR)?;
    let v = vars.get(ACTIVE_VAR).cloned().or_else(|| decl.default.as_ref().and_then(crate::eval::literal))?;
    v.as_str().map(str::to_string)
}

/// The root's region names and their AWS regions.
pub fn regions(root: &crate::config::Module) -> BTreeMap<String, String> {
    root.regions.iter().filter_map(|(n, r)| Some((n.name.clone(), r.as_ref()?.name.clone()))).collect()
}
