//! The apply journal: an append-only log beside the state
//! (`<state>.journal`), one JSON record per line.
//!
//! Before a create is called, its intent is written (a `put` with status
//! `pending`); after every finished operation, the result. Each record is
//! written with one `write` call, so it survives the process being killed at
//! any moment; `fsync` runs at most every 200 ms and at the end (survives a
//! machine crash up to that window). Writing the whole state per resource
//! would cost O(n²) for n resources.
//!
//! Every command that reads state replays a leftover journal onto it, and
//! the next state write folds it in and removes it.

use super::{Instance, State, file};
use crate::address::InstanceAddr;
use serde_json::{Value as Json, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub fn journal_path(state: &Path) -> PathBuf {
    file::sibling(state, ".journal")
}

pub struct Journal {
    path: PathBuf,
    inner: Mutex<(std::fs::File, Instant)>,
}

impl Journal {
    /// Starts a journal for the state's lineage (replacing any old one,
    /// which must have been replayed already).
    pub fn create(state_path: &Path, lineage: &str) -> std::io::Result<Journal> {
        let path = journal_path(state_path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = file::open_private(&path)?;
        f.write_all(format!("{}\n", json!({"op": "begin", "lineage": lineage})).as_bytes())?;
        f.sync_all()?;
        file::sync_dir(&path)?;
        Ok(Journal { path, inner: Mutex::new((f, Instant::now())) })
    }

    fn append(&self, record: Json) -> std::io::Result<()> {
        let mut line = record.to_string();
        line.push('\n');
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (f, last_sync) = &mut *guard;
        f.write_all(line.as_bytes())?;
        if last_sync.elapsed() > Duration::from_millis(200) {
            f.sync_data()?;
            *last_sync = Instant::now();
        }
        Ok(())
    }

    /// Records a resource as it now is (pending before a create, ready after).
    pub fn put(&self, addr: &InstanceAddr, inst: &Instance) -> std::io::Result<()> {
        self.append(json!({"op": "put", "resource": file::resource_json(addr, inst)}))
    }

    pub fn remove(&self, addr: &InstanceAddr) -> std::io::Result<()> {
        self.append(json!({"op": "remove", "address": addr.to_string()}))
    }

    pub fn sync(&self) -> std::io::Result<()> {
        let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        guard.0.sync_data()
    }

    /// Removes the journal once the state holds everything in it.
    pub fn finish(self) -> std::io::Result<()> {
        std::fs::remove_file(&self.path)
    }
}

/// Applies a leftover journal to the state. Returns how many records were
/// replayed (0 when there is none). A torn last line (killed mid-write) is
/// ignored; a journal from another lineage is an error.
pub fn replay(state_path: &Path, state: &mut State) -> Result<usize, String> {
    let path = journal_path(state_path);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("cannot read journal {}: {e}", path.display())),
    };
    let mut n = 0;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let rec = match serde_json::from_str::<Json>(line) {
            Ok(rec) => rec,
            // Only the last line can be torn by a kill; damage elsewhere is
            // not something to guess around.
            Err(_) if i + 1 == lines.len() => continue,
            Err(e) => return Err(format!("journal {} is damaged at line {}: {e}", path.display(), i + 1)),
        };
        match rec.get("op").and_then(Json::as_str) {
            Some("begin") => {
                let lineage = rec.get("lineage").and_then(Json::as_str).unwrap_or_default();
                if i == 0 && lineage != state.lineage && !state.resources.is_empty() {
                    return Err(format!(
                        "journal {} belongs to another state (lineage {lineage}); move it away to continue",
                        path.display()
                    ));
                }
                if state.resources.is_empty() {
                    state.lineage = lineage.to_string();
                }
            }
            Some("put") => {
                let (addr, inst) = file::resource_from_json(rec["resource"].clone())?;
                state.resources.insert(addr, inst);
                n += 1;
            }
            Some("remove") => {
                if let Some(addr) = rec.get("address").and_then(Json::as_str).and_then(file::instance_addr) {
                    state.resources.remove(&addr);
                }
                n += 1;
            }
            _ => {}
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Status;

    #[test]
    fn replays_puts_and_removes_and_ignores_a_torn_line() {
        let dir = std::env::temp_dir().join(format!("standby-journal-{}", crate::ids::random_id()));
        let state_path = dir.join("s.json");
        let mut state = State::new();
        let j = Journal::create(&state_path, &state.lineage).unwrap();
        let a = file::instance_addr("standby_data.a").unwrap();
        let b = file::instance_addr("standby_data.b").unwrap();
        let inst = Instance {
            type_name: "standby_data".into(),
            region: "us-west-1".into(),
            id: Some("x".into()),
            status: Status::Pending,
            attrs: Default::default(),
            sensitive: Default::default(),
            deps: vec![],
            adopted: false,
        };
        j.put(&a, &inst).unwrap();
        j.put(&b, &inst).unwrap();
        j.remove(&b).unwrap();
        drop(j);
        std::fs::OpenOptions::new()
            .append(true)
            .open(journal_path(&state_path))
            .unwrap()
            .write_all(b"{\"op\":\"pu")
            .unwrap();
        assert_eq!(replay(&state_path, &mut state).unwrap(), 3);
        assert_eq!(state.resources.len(), 1);
        assert_eq!(state.resources[&a].status, Status::Pending);
        std::fs::remove_dir_all(dir).ok();
    }
}
