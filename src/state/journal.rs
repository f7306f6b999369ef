//! The apply journal: an append-only log of records, one JSON object each.
//! Locally each run writes its own file beside the state
//! (`<state>.journal.<millis>-<id>`, one record per line, held under an OS
//! file lock while the run writes it; `<state>.journal` is the older
//! single-file name, still replayed); with the S3 backend, one object per
//! record ([`super::s3`]).
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
//! the next state write under the lock folds it in and removes exactly what
//! it replayed: a journal another run is still writing (its lock
//! force-unlocked while it ran) is never removed under it.

use super::{Instance, State, Status, file};
use crate::address::InstanceAddr;
use async_trait::async_trait;
use serde_json::{Value as Json, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The single journal file of earlier versions (`<state>.journal`), and the
/// stem of every run's own file.
pub fn journal_path(state: &Path) -> PathBuf {
    file::sibling(state, ".journal")
}

/// A new run's journal file: `<state>.journal.<13-digit millis>-<id>`, so
/// that names sort in the order the runs started.
fn run_journal_path(state: &Path) -> PathBuf {
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    file::sibling(state, &format!(".journal.{millis:013}-{}", crate::ids::random_id()))
}

/// Every journal file of a state, oldest first: the older single file, then
/// each run's.
pub fn journal_files(state: &Path) -> std::io::Result<Vec<PathBuf>> {
    let stem = journal_path(state);
    let Some(name) = stem.file_name().map(|n| n.to_string_lossy().into_owned()) else { return Ok(Vec::new()) };
    let dir = stem.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e?;
        let n = e.file_name().to_string_lossy().into_owned();
        let run = n.strip_prefix(&name).and_then(|r| r.strip_prefix('.')).is_some_and(is_run_name);
        if n == name || run {
            out.push(e.path());
        }
    }
    // The older single file sorts first (shortest), runs by start time.
    out.sort();
    Ok(out)
}

/// `<13 digits>-<hex id>`: a run's journal name, nothing else.
pub fn is_run_name(s: &str) -> bool {
    let Some((millis, id)) = s.split_once('-') else { return false };
    millis.len() == 13
        && millis.bytes().all(|b| b.is_ascii_digit())
        && !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_hexdigit())
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

    /// Starts this run's local journal for the state's lineage, in a file of
    /// its own (other runs' files are left alone).
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
        let path = run_journal_path(state_path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = file::open_private(&path)?;
        // Held while this run writes: a run that folds journals in leaves a
        // locked one alone (its writer is alive, even if its state lock was
        // force-unlocked). The OS releases it when the process ends.
        f.try_lock().map_err(std::io::Error::other)?;
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

/// Applies leftover local journals to the state. Returns how many records
/// were replayed (0 when there is none).
pub fn replay(state_path: &Path, state: &mut State) -> Result<usize, String> {
    replay_files(state_path, state).map(|(n, _)| n)
}

/// A journal file as it was replayed: its path and how many bytes were read.
pub type Replayed = (PathBuf, u64);

/// Applies every leftover local journal, oldest first, and says which files
/// (and how much of each) it read. A torn last line (killed mid-write) is
/// ignored; damage anywhere else, a journal of another lineage or one that
/// cannot be read is an error.
pub fn replay_files(state_path: &Path, state: &mut State) -> Result<(usize, Vec<Replayed>), String> {
    let cannot = |e: std::io::Error| format!("cannot read journal {}: {e}", journal_path(state_path).display());
    let mut n = 0;
    let mut read = Vec::new();
    for path in journal_files(state_path).map_err(cannot)? {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            // Removed by its run's end meanwhile: that run stored its state.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("cannot read journal {}: {e}", path.display())),
        };
        let text = String::from_utf8_lossy(&bytes);
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
        n += replay_records(&path.display().to_string(), records, state)?;
        read.push((path, bytes.len() as u64));
    }
    Ok((n, read))
}

/// Removes the journal files a run replayed and folded into the state, each
/// only if nothing was written to it since and no live run holds it (its
/// writer's state lock may have been force-unlocked while it ran): such a
/// file stays for the next run. Returns the files left in place.
pub fn remove_replayed(files: &[Replayed]) -> std::io::Result<Vec<PathBuf>> {
    let mut kept = Vec::new();
    for (path, len) in files {
        let f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        match f.try_lock_shared() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                kept.push(path.clone());
                continue;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        if f.metadata()?.len() != *len {
            kept.push(path.clone());
            continue;
        }
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(kept)
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
            .open(&journal_files(&state_path).unwrap()[0])
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
        let path = journal_files(&state_path).unwrap()[0].clone();
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

    #[tokio::test]
    async fn folding_in_removes_only_what_was_replayed_and_never_a_live_runs_file() {
        let dir = scratch();
        let state_path = dir.join("s.json");
        let a = file::instance_addr("standby_data.a").unwrap();
        let b = file::instance_addr("standby_data.b").unwrap();
        let c = file::instance_addr("standby_data.c").unwrap();
        // An older version's single file, and a run killed -9 (its file
        // closed, so unlocked).
        std::fs::create_dir_all(&dir).unwrap();
        let rec =
            |addr: &InstanceAddr| json!({"op": "put", "resource": file::resource_json(addr, &inst(Status::Ready))});
        std::fs::write(journal_path(&state_path), format!("{}\n{}\n", begin_record("l"), rec(&a))).unwrap();
        let dead = Journal::create(&state_path, "l").unwrap();
        dead.put(&b, &inst(Status::Pending)).await.unwrap();
        drop(dead);
        // A run still going (its state lock force-unlocked by a teammate).
        let live = Journal::create(&state_path, "l").unwrap();
        live.put(&c, &inst(Status::Pending)).await.unwrap();
        assert_eq!(journal_files(&state_path).unwrap().len(), 3);

        let mut st = State::new();
        st.lineage = "l".into();
        let (n, files) = replay_files(&state_path, &mut st).unwrap();
        assert_eq!((n, st.resources.len()), (3, 3));
        // The live run writes on after the replay: its record must survive.
        let d = file::instance_addr("standby_data.d").unwrap();
        live.put(&d, &inst(Status::Pending)).await.unwrap();
        let kept = remove_replayed(&files).unwrap();
        assert_eq!(kept.len(), 1, "the live run's file stays: {kept:?}");
        assert_eq!(journal_files(&state_path).unwrap(), kept);
        let mut again = State::new();
        replay(&state_path, &mut again).unwrap();
        assert!(again.resources.contains_key(&d), "the record written after the replay is there");

        // Grown but no longer locked (the writer died after writing more):
        // still kept; unchanged and unlocked: removed.
        drop(live);
        assert_eq!(remove_replayed(&files).unwrap(), kept);
        let (_, files) = replay_files(&state_path, &mut State::new()).unwrap();
        assert!(remove_replayed(&files).unwrap().is_empty());
        assert!(journal_files(&state_path).unwrap().is_empty());
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn run_names_are_exact() {
        assert!(is_run_name("1767225600000-0a1b2c3d4e5f6071"));
        for bad in ["176722560000-0a1b", "1767225600000-", "1767225600000-xyz", "b/1767225600000-0a1b", "x"] {
            assert!(!is_run_name(bad), "{bad}");
        }
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
