//! Typed errors of the commands, and the one place that turns them into
//! messages with hints and exit codes.

use crate::diag::Diagnostics;
use crate::plan::file::PlanFileError;
use crate::plan::planner::PlanError;
use crate::state::file::StateError;
use crate::state::lock::LockError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Problems in the configuration or the variables.
    #[error("{0}")]
    Config(Diagnostics),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    PlanFile(#[from] PlanFileError),
    /// A saved plan no longer fits the state or configuration.
    #[error("the saved plan is stale: {0}")]
    StalePlan(String),
    #[error("apply failed:\n{}", .0.join("\n"))]
    Apply(Vec<String>),
    #[error(transparent)]
    Drift(#[from] crate::drift::DriftError),
    #[error(transparent)]
    Credentials(#[from] crate::aws::CredentialsError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(String),
}

impl Error {
    /// Every error exits 1; 2 is reserved for `plan --detailed-exitcode`.
    pub fn exit_code(&self) -> u8 {
        1
    }

    /// What to print: the error, then a hint where one helps.
    pub fn report(&self) -> String {
        let text = match self {
            // Diagnostics print their own "Error:"/"Warning:" prefixes.
            Error::Config(d) | Error::Plan(PlanError::Invalid(d)) => return d.to_string(),
            other => format!("Error: {other}"),
        };
        match self.hint() {
            Some(h) => format!("{text}\n  hint: {h}"),
            None => text,
        }
    }

    fn hint(&self) -> Option<&'static str> {
        match self {
            Error::StalePlan(_) => Some("run `standby plan --out FILE` again and apply the new plan"),
            Error::State(StateError::Invalid { .. }) => {
                Some("the previous version is kept beside it as <state>.backup; restore it if this one is damaged")
            }
            Error::Drift(_) => Some(
                "check credentials and network; `standby policy DIR --for drift` prints the read-only policy a drift \
                 job needs (docs/drift-and-health.md)",
            ),
            Error::Plan(PlanError::Refresh(_)) => {
                Some("check credentials and network, or plan with --refresh=false to skip reading AWS")
            }
            _ => None,
        }
    }
}
