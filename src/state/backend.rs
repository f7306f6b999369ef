//! Where state lives, behind one interface: the local file (default) or an
//! S3 object shared by a team ([`super::s3`]). Commands use only
//! [`Backend`]; nothing else knows which one it is.
//!
//! Contract, for every backend:
//! - `lock` fails at once, naming the holder, when another run holds it.
//! - `read` returns the state with any leftover journal replayed onto it,
//!   and remembers what it read: `store` is a compare-and-swap against it,
//!   so a writer with a stale view is refused, never overwrites.
//! - `journal` starts this run's write-ahead journal.
//! - `clear_journal` removes exactly what `read` replayed, never records
//!   another run wrote since (a run whose lock was force-unlocked while it
//!   was still going).

use super::State;
use super::file::StateError;
use super::journal::Journal;
use super::lock::{LockError, LockInfo};
use async_trait::async_trait;
use std::path::{Path, PathBuf};

/// A held lock; released when dropped.
pub struct Held {
    pub info: LockInfo,
    _guard: Box<dyn Send + Sync>,
}

impl Held {
    pub fn new(info: LockInfo, guard: Box<dyn Send + Sync>) -> Held {
        Held { info, _guard: guard }
    }
}

#[async_trait]
pub trait Backend: Send + Sync {
    /// Where the state is, for messages: a path or `s3://bucket/key`.
    fn location(&self) -> String;
    /// Where the journal of an interrupted apply is kept.
    fn journal_location(&self) -> String;
    /// Shared by several machines: plans read it without taking the lock,
    /// so read-only credentials suffice.
    fn is_remote(&self) -> bool;
    /// Takes the lock for `operation`.
    async fn lock(&self, operation: &str) -> Result<Held, LockError>;
    /// Removes a stuck lock after checking its id.
    async fn force_unlock(&self, id: &str) -> Result<LockInfo, LockError>;
    /// The state (empty when there is none) with a leftover journal
    /// replayed onto it, and how many journal records that was.
    async fn read(&self) -> Result<(State, usize), StateError>;
    /// Stores exactly `state` if what is stored is still what `read` saw.
    async fn store(&self, state: &State) -> Result<(), StateError>;
    /// Starts this run's journal.
    async fn journal(&self, lineage: &str) -> Result<Journal, StateError>;
    /// Removes the journal records `read` replayed, once `store` holds them.
    async fn clear_journal(&self) -> Result<(), StateError>;
    /// What is unsafe about where the state is kept (checked on migrate).
    async fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Bumps the serial and stores.
pub async fn write(b: &dyn Backend, state: &mut State) -> Result<(), StateError> {
    state.serial = state.serial.saturating_add(1);
    b.store(state).await
}

/// The local state file, its lock file and journal beside it.
pub struct Local {
    pub path: PathBuf,
    /// The file as `read` found it (size and modification time; `None`
    /// when absent), for the compare-and-swap check: cheap, no re-parse.
    seen: std::sync::Mutex<Option<Option<Stamp>>>,
    /// The journal files `read` replayed, and how much of each.
    replayed: std::sync::Mutex<Vec<super::journal::Replayed>>,
}

type Stamp = (u64, Option<std::time::SystemTime>);

fn stamp(path: &Path) -> Option<Stamp> {
    std::fs::metadata(path).ok().map(|m| (m.len(), m.modified().ok()))
}

impl Local {
    pub fn new(path: &Path) -> Local {
        Local { path: path.to_path_buf(), seen: Default::default(), replayed: Default::default() }
    }
}

#[async_trait]
impl Backend for Local {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn journal_location(&self) -> String {
        format!("{}.*", super::journal::journal_path(&self.path).display())
    }

    fn is_remote(&self) -> bool {
        false
    }

    async fn lock(&self, operation: &str) -> Result<Held, LockError> {
        let l = super::lock::acquire(&self.path, operation)?;
        Ok(Held::new(l.info.clone(), Box::new(l)))
    }

    async fn force_unlock(&self, id: &str) -> Result<LockInfo, LockError> {
        super::lock::force_unlock(&self.path, id)
    }

    async fn read(&self) -> Result<(State, usize), StateError> {
        let before = stamp(&self.path);
        let mut st = super::file::read(&self.path)?;
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(before);
        let (n, files) = super::journal::replay_files(&self.path, &mut st)
            .map_err(|why| StateError::Journal { location: self.journal_location(), why })?;
        *self.replayed.lock().unwrap_or_else(|e| e.into_inner()) = files;
        Ok((st, n))
    }

    async fn store(&self, state: &State) -> Result<(), StateError> {
        let seen = *self.seen.lock().unwrap_or_else(|e| e.into_inner());
        // The lock file keeps other standby runs out; this catches an edit
        // by hand (or a restored backup) while we ran.
        if let Some(seen) = seen
            && stamp(&self.path) != seen
        {
            return Err(StateError::Conflict {
                location: self.location(),
                why: "the file changed while this run held the lock (edited by hand, or restored?); nothing was \
                      overwritten"
                    .into(),
            });
        }
        super::file::store(&self.path, state)?;
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(stamp(&self.path));
        Ok(())
    }

    async fn journal(&self, lineage: &str) -> Result<Journal, StateError> {
        Journal::create(&self.path, lineage)
            .map_err(|e| StateError::Journal { location: self.journal_location(), why: e.to_string() })
    }

    async fn clear_journal(&self) -> Result<(), StateError> {
        let files = std::mem::take(&mut *self.replayed.lock().unwrap_or_else(|e| e.into_inner()));
        let kept = super::journal::remove_replayed(&files)
            .map_err(|e| StateError::Journal { location: self.journal_location(), why: e.to_string() })?;
        for k in kept {
            eprintln!(
                "Note: {} is still being written by another run (was its lock force-unlocked?); left in place for \
                 the next run to fold in.",
                k.display()
            );
        }
        Ok(())
    }
}

/// Checks before pushing `new` over `old` (Terraform's rules): same
/// lineage, and not older; an equal serial only with equal content.
pub fn check_push(new: &State, old: &State, old_exists: bool) -> Result<(), String> {
    if !old_exists || (old.resources.is_empty() && old.outputs.is_empty() && old.serial == 0) {
        return Ok(());
    }
    if new.lineage != old.lineage {
        return Err(format!(
            "cannot push state with lineage {} over unrelated state with lineage {}",
            new.lineage, old.lineage
        ));
    }
    if new.serial < old.serial {
        return Err(format!(
            "cannot push state with serial {} over newer state with serial {}",
            new.serial, old.serial
        ));
    }
    if new.serial == old.serial && super::file::to_json(new) != super::file::to_json(old) {
        return Err(format!(
            "cannot overwrite existing state with serial {} with a different state that has the same serial",
            new.serial
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_file_changed_behind_the_runs_back_is_not_overwritten() {
        let dir = std::env::temp_dir().join(format!("standby-backend-{}", crate::ids::random_id()));
        let path = dir.join("s.json");
        let b = Local::new(&path);
        let (mut st, _) = b.read().await.unwrap();
        write(&b, &mut st).await.unwrap();
        let (mut st, _) = b.read().await.unwrap();
        // Someone restores an older copy meanwhile (a different size).
        std::fs::write(&path, super::super::file::to_json(&State::new()) + " ").unwrap();
        assert!(matches!(write(&b, &mut st).await, Err(StateError::Conflict { .. })));
        std::fs::remove_dir_all(dir).ok();
    }
}
