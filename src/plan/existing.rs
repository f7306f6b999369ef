//! Reading first what a create on production would replace: a create that
//! changes an adopted object (a user on the adopted search domain, a role)
//! is refused at plan time when the object already holds one of that name,
//! instead of being replaced by a blind write at apply time. Reads only.

use super::planner::PlanError;
use super::{Action, Plan};
use crate::aws::Aws;
use crate::diag::{Diagnostic, Diagnostics};
use crate::kinds::{self, Ctx, Existing};
use crate::value::Attrs;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Asks each kind about the creates the plan makes on production; notes
/// become the plan's warnings.
pub async fn check(
    plan: &mut Plan,
    aws: &Arc<Aws>,
    secrets: &BTreeMap<String, Attrs>,
    parallelism: usize,
) -> Result<(), PlanError> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut pending = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Create && c.production.is_some())
        .filter_map(|c| Some((c.clone(), kinds::lookup(&c.type_name)?)));
    let mut diags = Diagnostics::default();
    loop {
        while tasks.len() < parallelism.max(1) {
            let Some((c, kind)) = pending.next() else { break };
            let mut props = c.after.clone().unwrap_or_default();
            props.extend(secrets.get(&c.address).cloned().unwrap_or_default());
            let aws = aws.clone();
            tasks.spawn(async move {
                let cx = Ctx::new(&c.address, &c.region, &aws, Duration::from_secs(120));
                let r = kind.existing(&cx, &props).await;
                (c.address.clone(), r)
            });
        }
        match tasks.join_next().await {
            None => break,
            Some(Ok((addr, Ok(Existing::Refused(why))))) => diags.push(Diagnostic::error(why).address(addr)),
            Some(Ok((addr, Ok(Existing::Note(text))))) => plan.warnings.push(Diagnostic::warning(text).address(addr)),
            Some(Ok((addr, Err(e)))) => diags
                .push(Diagnostic::error(format!("cannot read what is there before creating it: {e}")).address(addr)),
            Some(Ok((_, Ok(Existing::Clear)))) => {}
            Some(Err(e)) => diags.push(Diagnostic::error(format!("check task failed: {e}"))),
        }
    }
    if diags.has_errors() { Err(PlanError::Invalid(diags.sorted())) } else { Ok(()) }
}
