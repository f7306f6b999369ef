//! Carrying out a [`StepAction::Changes`](super::StepAction::Changes) step:
//! the named changes of the plan, applied by the ordinary [`Applier`] on a
//! sub-plan, journaled exactly as `apply` journals (a run killed during the
//! step keeps on record everything it created or changed; run again, the
//! plan is made afresh and the step applies what is left).

use crate::apply::Applier;
use crate::apply::progress::Progress;
use crate::aws::Aws;
use crate::load::Loaded;
use crate::plan::Plan;
use crate::state::State;
use crate::state::backend::{self, Backend};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a step needs to apply changes: the configuration (as the plan
/// evaluated it) and the plan whose changes the steps name.
pub struct Changes<'a> {
    pub loaded: &'a Loaded,
    pub plan: &'a Plan,
    pub aws: Arc<Aws>,
    pub progress: Arc<Progress>,
    pub parallelism: usize,
}

impl Changes<'_> {
    /// Applies the plan's changes at `addresses` (those still planned),
    /// with the attributes in `hold` left as they are, and writes the
    /// state. The outcome line, or every failure.
    pub async fn apply(
        &self,
        backend: &dyn Backend,
        st: &mut State,
        addresses: &[String],
        hold: &BTreeMap<String, Vec<String>>,
    ) -> Result<String, String> {
        let sub = super::front::held(super::front::subset(self.plan, addresses), hold);
        if sub.changes.is_empty() {
            return Ok("nothing left to change".into());
        }
        let journal = Arc::new(backend.journal(&st.lineage).await.map_err(|e| e.to_string())?);
        let applier = Applier {
            secrets: &self.loaded.secrets,
            loaded: Some(self.loaded),
            plan: &sub,
            aws: self.aws.clone(),
            journal: journal.clone(),
            progress: self.progress.clone(),
            parallelism: self.parallelism,
            hold: Some(hold),
        };
        let outcome = applier.run(st).await;
        drop(applier);
        // On failure the journal stays: the next run recovers from it.
        backend::write(backend, st).await.map_err(|e| e.to_string())?;
        let _ = journal.sync().await;
        if let Ok(j) = Arc::try_unwrap(journal) {
            let _ = j.finish().await;
        }
        let mut failures = outcome.failures;
        failures.extend(outcome.skipped.iter().map(|a| format!("{a}: skipped (something it needs failed)")));
        if outcome.interrupted {
            failures.push("interrupted: the state holds everything finished".into());
        }
        if !failures.is_empty() {
            return Err(failures.join("; "));
        }
        Ok(format!("{} added, {} changed, {} destroyed", outcome.added, outcome.changed, outcome.destroyed))
    }
}
