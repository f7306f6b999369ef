//! Replication canaries: each data plane measured end to end with
//! standby's own access, beyond the lag metrics. `standby drift` runs them
//! (`--no-canaries` turns them off for a strictly read-only job):
//!
//! - [`s3`]: an object written under [`S3_PREFIX`] in the active region's
//!   bucket, timed until each destination has its replica and the source
//!   reads `COMPLETED`;
//! - [`search`]: a document written to the canary index (followed by the
//!   module's auto-follow rule [`RULE_NAME`]) on the leader, timed until the
//!   follower has it.
//!
//! **Guarantees.** They write only under their reserved names (the prefix,
//! the index), never Mattermost's objects or indices. Each run removes what
//! it wrote, also when it fails or is interrupted (SIGINT, SIGTERM: the
//! canaries clean up, then drift ends with an error). A run killed outright
//! leaves its object or document behind: every name carries its deadline
//! (`<unix seconds>-<random>`), and a later run removes what is past its
//! deadline (plus [`GRACE`]), never a canary still in use by a run elsewhere.
//! Repeating a call is harmless: a document is put under its own id, and
//! every version of the object's key is deleted, duplicates from a
//! retried PutObject included.
//!
//! **Bounds.** A canary waits for its replica up to its bound and fails
//! past it; it fails at once when AWS says the replication failed (an
//! object `FAILED` or never selected by a rule, a follower `PAUSED` or
//! `FAILED`). Defaults fit AWS: [`DEFAULT_S3`] is S3 Replication Time
//! Control's 15-minute objective (99.99 % of objects; without RTC the S3
//! guide says "the majority of objects replicate within 15 minutes"), and
//! [`DEFAULT_SEARCH`] leaves a wide margin over cross-cluster replication's
//! design target of "under a few seconds" (opensearch-project/
//! cross-cluster-replication, README) and the auto-follow rule's 30-second
//! poll.

pub mod s3;
pub mod search;

use super::Check;
use super::dr::Input;
use crate::state::{Instance, State};
use crate::value::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// The key prefix of the S3 canary's objects in the buckets.
pub const S3_PREFIX: &str = "standby-canary/";
/// The auto-follow rule that follows the search canary's index (its
/// `pattern` names the index).
pub const RULE_NAME: &str = "standby-canary";
/// `--max-s3-canary`'s default.
pub const DEFAULT_S3: Duration = Duration::from_secs(15 * 60);
/// `--max-search-canary`'s default.
pub const DEFAULT_SEARCH: Duration = Duration::from_secs(60);
/// A leftover is removed this long after its deadline (clocks of the
/// machines running drift may differ a little).
pub const GRACE: Duration = Duration::from_secs(10);

/// How long each canary may take.
#[derive(Clone, Debug)]
pub struct Options {
    pub s3: Duration,
    pub search: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options { s3: DEFAULT_S3, search: DEFAULT_SEARCH }
    }
}

/// Whether the run was interrupted: a canary stops waiting, cleans up and
/// says so.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Sleeps `d`, or less when interrupted; true when interrupted.
    pub async fn sleep(&mut self, d: Duration) -> bool {
        if self.is_set() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => self.is_set(),
            _ = self.0.changed() => true,
        }
    }
}

/// Runs every canary of the topology on record, concurrently. Errors are
/// canaries that could not run at all (a write refused, a network error):
/// like the other checks, a job must not report healthy when it could not
/// look.
pub async fn run(input: &Input<'_>, opts: &Options) -> Result<Vec<Check>, Vec<String>> {
    let (tx, rx) = watch::channel(false);
    // The first interrupt (SIGINT, or SIGTERM as CI runners cancel) asks the
    // canaries to remove what they wrote; a second ends at once, the lock of
    // nothing held (`crate::interrupt`), and a later run removes leftovers.
    let graceful = crate::interrupt::graceful(move || {
        eprintln!("Interrupt received: the canaries remove what they wrote, then drift stops.");
        let _ = tx.send(true);
    });
    let active = active_region(input.refreshed).or_else(|| active_region(input.recorded));
    let (files, search) = tokio::join!(
        s3::run(input, active.as_deref(), opts.s3, Stop(rx.clone())),
        search::run(input, opts.search, Stop(rx.clone()))
    );
    drop(graceful);
    if *rx.borrow() {
        return Err(vec!["interrupted: the canaries removed what they wrote".into()]);
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for part in [files, search] {
        match part {
            Ok(c) => out.extend(c),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// The region Mattermost writes in: the global database's writer, else
/// the search leader's (the region the follower's connection points to).
pub fn active_region(st: &State) -> Option<String> {
    of_type(st, "aws_rds_global_cluster").find_map(|(_, i)| str_attr(i, "writer_region").map(str::to_string)).or_else(
        || {
            of_type(st, "aws_opensearch_outbound_connection")
                .find_map(|(_, i)| str_attr(i, "remote_region").map(str::to_string))
        },
    )
}

fn of_type<'a>(st: &'a State, t: &'a str) -> impl Iterator<Item = (String, &'a Instance)> + 'a {
    st.resources.iter().filter(move |(_, i)| i.type_name == t).map(|(a, i)| (a.to_string(), i))
}

fn str_attr<'a>(i: &'a Instance, k: &str) -> Option<&'a str> {
    i.attrs.get(k).and_then(Value::as_str).filter(|v| !v.is_empty())
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// This run's name for a canary waiting up to `bound`: its deadline and a
/// random part.
pub fn name(bound: Duration) -> String {
    format!("{}-{}", unix_now() + bound.as_secs() + 1, crate::ids::random_id())
}

/// Whether `name` (an object key's last part, a document id) is a leftover
/// now: past its deadline and the grace. A name that is not a canary's
/// under the reserved prefix or index is one too.
pub fn is_leftover(name: &str, now_unix: u64) -> bool {
    match name.split_once('-').and_then(|(deadline, _)| deadline.parse::<u64>().ok()) {
        Some(deadline) => now_unix > deadline + GRACE.as_secs(),
        None => true,
    }
}

/// For a refused canary write: where the permissions are, and the way out.
fn permission_hint(error: &str) -> &'static str {
    if ["AccessDenied", "HTTP 403", "security_exception"].iter().any(|c| error.contains(c)) {
        " (the drift job needs the canaries' permissions: the IAM statements StandbyDriftCanaryObjects and \
         StandbyDriftCanaryListing, and the module's standby_canary role, docs/drift-and-health.md; \
         --no-canaries runs without them)"
    } else {
        ""
    }
}

/// A duration for people: `312 ms`, `4.2 s`, `3m05s`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// A bound as given: `15m`, `60s`, `1h`.
pub fn bound_words(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) && s > 0 {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) && s > 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_deadline_and_become_leftovers_after_it() {
        let n = name(Duration::from_secs(60));
        let deadline: u64 = n.split_once('-').unwrap().0.parse().unwrap();
        assert!(deadline >= unix_now() + 60);
        assert!(!is_leftover(&n, unix_now()), "in use");
        assert!(!is_leftover(&n, deadline + GRACE.as_secs()), "within the grace");
        assert!(is_leftover(&n, deadline + GRACE.as_secs() + 1));
        assert!(is_leftover("not-a-canary", 0), "the prefix is reserved");
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(human(Duration::from_millis(312)), "312 ms");
        assert_eq!(human(Duration::from_millis(4240)), "4.2 s");
        assert_eq!(human(Duration::from_secs(185)), "3m05s");
        assert_eq!(bound_words(DEFAULT_S3), "15m");
        assert_eq!(bound_words(DEFAULT_SEARCH), "1m");
        assert_eq!(bound_words(Duration::from_secs(90)), "90s");
    }
}
