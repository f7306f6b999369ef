//! The state lock: a file beside the state holding who has it, guarded by
//! an OS file lock so a crashed run never leaves it stuck.
//!
//! Flow: open (create) `<state>.lock`, try an exclusive non-blocking lock;
//! on success write our info into it; on failure read the holder's info and
//! fail at once. Release removes the file. `force-unlock ID` removes the
//! file of a holder that is stuck (e.g. hung on a network disk), after
//! checking the id, so the next run can lock a fresh file.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Who holds a lock. Fields other than the id may be missing (a lock
/// written by another version): they read as empty.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct LockInfo {
    pub id: String,
    #[serde(default)]
    pub operation: String,
    #[serde(default)]
    pub who: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub pid: u32,
    /// RFC 3339 time the lock was taken.
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the state is locked by another run\n  lock id:   {}\n  operation: {}\n  who:       {}@{} (pid {})\n  since:     {}\n  If that run is gone for good, release it with: standby force-unlock {}", .0.id, .0.operation, .0.who, .0.host, .0.pid, .0.created, .0.id)]
    Held(Box<LockInfo>),
    #[error("the state is locked by another run (its lock file {0} cannot be read)")]
    HeldUnknown(PathBuf),
    #[error("lock id {given} does not match the current lock ({actual})")]
    WrongId { given: String, actual: String },
    #[error("the state is not locked")]
    NotLocked,
    #[error("cannot use lock file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot use the lock {location}: {why}")]
    Remote { location: String, why: String },
}

/// A held lock; released on drop.
pub struct Lock {
    path: PathBuf,
    file: Option<File>,
    pub info: LockInfo,
}

pub fn lock_path(state: &Path) -> PathBuf {
    super::file::sibling(state, ".lock")
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    crate::ids::rfc3339(secs)
}

fn read_info(f: &mut File) -> Option<LockInfo> {
    let mut s = String::new();
    f.seek(std::io::SeekFrom::Start(0)).ok()?;
    f.read_to_string(&mut s).ok()?;
    serde_json::from_str(&s).ok()
}

pub fn acquire(state: &Path, operation: &str) -> Result<Lock, LockError> {
    let path = lock_path(state);
    let io = |source| LockError::Io { path: path.clone(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
    match file.try_lock() {
        // A holder that released between our open and lock removed the
        // path: our file is an orphan, so start again on the new one.
        Ok(()) if !same_file(&path, &file) => return acquire(state, operation),
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(match read_info(&mut file) {
                Some(info) => LockError::Held(Box::new(info)),
                None => LockError::HeldUnknown(path),
            });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    let info = new_info(operation);
    file.set_len(0).map_err(io)?;
    file.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
    file.write_all(serde_json::to_string_pretty(&info).unwrap_or_default().as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(Lock { path, file: Some(file), info })
}

/// Who is taking a lock now, for what.
pub fn new_info(operation: &str) -> LockInfo {
    LockInfo {
        id: crate::ids::uuid(),
        operation: operation.to_string(),
        who: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
        host: hostname(),
        pid: std::process::id(),
        created: now_rfc3339(),
        version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// Removes a stuck lock after checking its id.
pub fn force_unlock(state: &Path, id: &str) -> Result<LockInfo, LockError> {
    let path = lock_path(state);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(LockError::NotLocked),
        Err(source) => return Err(LockError::Io { path, source }),
    };
    let info = read_info(&mut file).ok_or(LockError::NotLocked)?;
    if info.id != id {
        return Err(LockError::WrongId { given: id.to_string(), actual: info.id });
    }
    std::fs::remove_file(&path).map_err(|source| LockError::Io { path, source })?;
    Ok(info)
}

/// True when `path` still names the file we hold open.
fn same_file(path: &Path, file: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(path), file.metadata()) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, file);
        true
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Remove first, then unlock, so a waiting run never locks a file
        // that is about to disappear.
        if let Some(f) = self.file.take() {
            // After a force-unlock the path may be another run's lock.
            if same_file(&self.path, &f) {
                let _ = std::fs::remove_file(&self.path);
            }
            let _ = f.unlock();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_with_holder_info_and_force_unlock_checks_id() {
        let dir = std::env::temp_dir().join(format!("standby-lock-{}", crate::ids::random_id()));
        let state = dir.join("s.json");
        let held = acquire(&state, "apply").unwrap();
        match acquire(&state, "plan") {
            Err(LockError::Held(info)) => {
                assert_eq!(info.id, held.info.id);
                assert_eq!(info.operation, "apply");
            }
            other => panic!("expected Held, got {:?}", other.err()),
        }
        assert!(matches!(force_unlock(&state, "nope"), Err(LockError::WrongId { .. })));
        drop(held);
        assert!(!lock_path(&state).exists());
        let again = acquire(&state, "plan").unwrap();
        let id = again.info.id.clone();
        force_unlock(&state, &id).unwrap();
        std::fs::remove_dir_all(dir).ok();
    }
}
