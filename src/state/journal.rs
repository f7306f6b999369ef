//! The apply journal: an append-only log of records, one JSON object each.
//! Locally it is a file beside the state (`<state>.journal`, one record per
//! line); with the S3 backend, one object per record ([`super::s3`]).
//!
//! **Write-ahead.** Before a create is called, its intent (a `put` with
//! status `pending`) is durable: fsynced locally, acknowledged by S3
//! remotely. The same holds for the record naming the id AWS assigned.
//! Other records (finished operations) are written at once, which survives
//! the process being killed, and fsynced at most every 200 ms and at the
//! end: a machine that dies in that window loses only results that the next
//! refresh reads back anyway. Writing the whole state per resource would
//! cost O(n²) for n resources.
//!
//! Every command that reads state replays a leftover journal onto it, and
//! the next state write under the lock folds it in and removes it.

use super::{Instance, State, Status, file};
use crate::address::InstanceAddr;
use async_trait::async_trait;
use serde_json::{Value as Json, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub fn journal_path(state: &Path) -> PathBuf {
    file::sibling(state, ".journal")
}

/// Where journal records go.
#[async_trait]
pub trait Sink: Send + Sync {
    /// Appends one record; when `durable`, it is on stable storage (fsync,
    /// or the remote write acknowledged) before this returns.
    async fn append(&self, record: Json, durable: bool) -> std::io::Result<()>;
    /// Makes everything appended so far durable.
    async fn sync(&self) -> std::io::Result<()>;
    /// Removes the journal once the state holds everything in it.
    async fn finish(&self) -> std::io::Result<()>;
}

pub struct Journal {
    sink: Box<dyn Sink>,
}

/// The first record of every journal: whose state it belongs to.
pub fn begin_record(lineage: &str) -> Json {
    json!({"op": "begin", "lineage": lineage})
}

impl Journal {
    pub fn new(sink: Box<dyn Sink>) -> Journal {
        Journal { sink }
    }

    /// Starts a local journal for the state's lineage (replacing any old
    /// one, which must have been replayed already).
    pub fn create(state_path: &Path, lineage: &str) -> std::io::Result<Journal> {
        Ok(Journal::new(Box::new(LocalSink::create(state_path, lineage)?)))
    }

    /// Records a resource as it now is (pending before a create, ready
    /// after). Pending records are durable before this returns.
    pub async fn put(&self, addr: &InstanceAddr, inst: &Instance) -> std::io::Result<()> {
        self.record(addr, inst, inst.status == Status::Pending).await
    }

    /// Records a resource; `durable` as for [`Sink::append`]. Resources that
    /// live only in state have nothing outside to lose: their intents need
    /// no fsync.
    pub async fn record(&self, addr: &InstanceAddr, inst: &Instance, durable: bool) -> std::io::Result<()> {
        let record = json!({"op": "put", "resource": file::resource_json(addr, inst)});
        self.sink.append(record, durable).await
    }

    pub async fn remove(&self, addr: &InstanceAddr) -> std::io::Result<()> {
        self.sink.append(json!({"op": "remove", "address": addr.to_string()}), false).await
    }

    pub async fn sync(&self) -> std::io::Result<()> {
        self.sink.sync().await
    }

    pub async fn finish(self) -> std::io::Result<()> {
        self.sink.finish().await
    }
}

/// What a local journal writes to: a file, or a fake in tests.
pub trait JournalFile: Write + Send {
    fn sync_data(&mut self) -> std::io::Result<()>;
}

impl JournalFile for std::fs::File {
    fn sync_data(&mut self) -> std::io::Result<()> {
        std::fs::File::sync_data(self)
    }
}

/// The local journal file.
pub struct LocalSink {
    path: PathBuf,
    inner: Mutex<(Box<dyn JournalFile>, Instant)>,
}

impl LocalSink {
    pub fn create(state_path: &Path, lineage: &str) -> std::io::Result<LocalSink> {
        let path = journal_path(state_path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = file::open_private(&path)?;
        f.write_all(format!("{}\n", begin_record(lineage)).as_bytes())?;
        f.sync_all()?;
        file::sync_dir(&path)?;
        Ok(LocalSink::over(path, Box::new(f)))
    }

    /// A sink over an already opened file (tests give a failing one).
    pub fn over(path: PathBuf, f: Box<dyn JournalFile>) -> LocalSink {
        LocalSink { path, inner: Mutex::new((f, Instant::now())) }
    }
}

#[async_trait]
impl Sink for LocalSink {
    async fn append(&self, record: Json, durable: bool) -> std::io::Result<()> {
        let mut line = record.to_string();
        line.push('\n');
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (f, last_sync) = &mut *guard;
        // One write call per record: a kill tears at most the last line.
        f.write_all(line.as_bytes())?;
        if durable || last_sync.elapsed() > Duration::from_millis(200) {
            f.sync_data()?;
            *last_sync = Instant::now();
        }
        Ok(())
    }

    async fn sync(&self) -> std::io::Result<()> {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        guard.0.sync_data()
    }

    async fn finish(&self) -> std::io::Result<()> {
        std::fs::remove_file(&self.path)
    }
}

/// Applies a leftover local journal to the state. Returns how many records
/// were replayed (0 when there is none). A torn last line (killed
/// mid-write) is ignored; damage anywhere else, a journal of another
/// lineage or one that cannot be read is an error.
pub fn replay(state_path: &Path, state: &mut State) -> Result<usize, String> {
    let path = journal_path(state_path);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("cannot read journal {}: {e}", path.display())),
    };
    let lines: Vec<&str> = text.lines().collect();
    let last = lines.len();
    let mut records = Vec::new();
    for (i, line) in lines.into_iter().enumerate() {
        match serde_json::from_str::<Json>(line) {
            Ok(rec) => records.push(rec),
            // Only the last line can be torn by a kill; damage elsewhere is
            // not something to guess around.
            Err(_) if i + 1 == last => {}
            Err(e) => return Err(format!("journal {} is damaged at line {}: {e}", path.display(), i + 1)),
        }
    }
    replay_records(&path.display().to_string(), records, state)
}

/// Applies parsed records (from one journal or several runs' in order).
/// `begin` records check the lineage.
pub fn replay_records(source: &str, records: Vec<Json>, state: &mut State) -> Result<usize, String> {
    let mut n = 0;
    for rec in records {
        match rec.get("op").and_then(Json::as_str) {
            Some("begin") => {
                let lineage = rec.get("lineage").and_then(Json::as_str).unwrap_or_default();
                if lineage != state.lineage && !state.resources.is_empty() {
                    return Err(format!(
                        "journal {source} belongs to another state (lineage {lineage}, the state's is {}); move it \
                         away to continue",
                        state.lineage
                    ));
                }
                if state.resources.is_empty() {
                    state.lineage = lineage.to_string();
                }
            }
            Some("put") => {
                let (addr, inst) = file::resource_from_json(rec["resource"].clone())
                    .map_err(|e| format!("journal {source} has a bad record: {e}"))?;
                state.resources.insert(addr, inst);
                n += 1;
            }
            Some("remove") => {
                if let Some(addr) = rec.get("address").and_then(Json::as_str).and_then(file::instance_addr) {
                    state.resources.remove(&addr);
                }
                n += 1;
            }
            other => return Err(format!("journal {source} has a record of unknown kind {other:?}")),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        std::env::temp_dir().join(format!("standby-journal-{}", crate::ids::random_id()))
    }

    fn inst(status: Status) -> Instance {
        Instance {
            type_name: "standby_data".into(),
            region: "us-west-1".into(),
            id: Some("x".into()),
            status,
            attrs: Default::default(),
            sensitive: Default::default(),
            deps: vec![],
            adopted: false,
            found: None,
        }
    }

    #[tokio::test]
    async fn replays_puts_and_removes_and_ignores_a_torn_line() {
        let dir = scratch();
        let state_path = dir.join("s.json");
        let mut state = State::new();
        let j = Journal::create(&state_path, &state.lineage).unwrap();
        let a = file::instance_addr("standby_data.a").unwrap();
        let b = file::instance_addr("standby_data.b").unwrap();
        j.put(&a, &inst(Status::Pending)).await.unwrap();
        j.put(&b, &inst(Status::Pending)).await.unwrap();
        j.remove(&b).await.unwrap();
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

    #[tokio::test]
    async fn damage_in_the_middle_is_an_error_not_a_torn_line() {
        let dir = scratch();
        let state_path = dir.join("s.json");
        let mut state = State::new();
        let j = Journal::create(&state_path, &state.lineage).unwrap();
        let a = file::instance_addr("standby_data.a").unwrap();
        j.put(&a, &inst(Status::Pending)).await.unwrap();
        drop(j);
        let path = journal_path(&state_path);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.insert(1, "{\"op\":\"pu");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let err = replay(&state_path, &mut state).unwrap_err();
        assert!(err.contains("damaged at line 2"), "{err}");
        assert!(state.resources.is_empty(), "nothing replayed from a damaged journal");
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn a_journal_of_another_lineage_is_refused() {
        let dir = scratch();
        let state_path = dir.join("s.json");
        let j = Journal::create(&state_path, "other-lineage").unwrap();
        j.put(&file::instance_addr("standby_data.b").unwrap(), &inst(Status::Ready)).await.unwrap();
        drop(j);
        let mut state = State::new();
        state.resources.insert(file::instance_addr("standby_data.a").unwrap(), inst(Status::Ready));
        let before = state.clone();
        let err = replay(&state_path, &mut state).unwrap_err();
        assert!(err.contains("another state (lineage other-lineage"), "{err}");
        assert_eq!(state, before);
        // An empty state takes the journal's lineage (a first apply killed).
        let mut empty = State::new();
        assert_eq!(replay(&state_path, &mut empty).unwrap(), 1);
        assert_eq!(empty.lineage, "other-lineage");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn an_unreadable_journal_is_an_error() {
        let dir = scratch();
        let state_path = dir.join("s.json");
        // A directory where the journal should be: reading it fails.
        std::fs::create_dir_all(journal_path(&state_path)).unwrap();
        let err = replay(&state_path, &mut State::new()).unwrap_err();
        assert!(err.starts_with("cannot read journal"), "{err}");
        std::fs::remove_dir_all(dir).ok();
    }

    /// Writes succeed, syncs fail (a disk that lost its write cache).
    struct SyncFails(std::sync::Arc<Mutex<Vec<u8>>>);
    impl Write for SyncFails {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl JournalFile for SyncFails {
        fn sync_data(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::other("sync failed"))
        }
    }

    #[tokio::test]
    async fn intents_are_synced_before_put_returns_and_a_failing_sync_is_an_error() {
        let written = std::sync::Arc::new(Mutex::new(Vec::new()));
        let j = Journal::new(Box::new(LocalSink::over("unused".into(), Box::new(SyncFails(written.clone())))));
        let a = file::instance_addr("standby_data.a").unwrap();
        // A pending record (an intent) must be durable: the failing sync shows.
        let err = j.put(&a, &inst(Status::Pending)).await.unwrap_err();
        assert_eq!(err.to_string(), "sync failed");
        // A finished record written within 200 ms of the last sync waits for the next one.
        j.put(&a, &inst(Status::Ready)).await.expect("no sync needed yet");
        assert_eq!(String::from_utf8_lossy(&written.lock().unwrap()).lines().count(), 2);
        assert!(j.sync().await.is_err(), "sync() reports the failure");
    }
}
