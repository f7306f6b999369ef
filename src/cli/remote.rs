//! `state pull`, `state push`, `state migrate`: moving whole states between
//! a file and the backend.

use super::{Settings, read_state};
use crate::error::Error;
use crate::state::backend::{self, Backend, check_push};
use crate::state::{self, State, file};
use std::path::Path;

pub async fn pull(s: &Settings, dir: &Path) -> Result<u8, Error> {
    let b = s.backend(dir, None).await?;
    print!("{}", file::to_json(&read_state(&*b, false).await?));
    Ok(0)
}

/// Stores `new` exactly (serial and lineage kept) under the backend's lock.
async fn store_checked(b: &dyn Backend, new: &State, force: bool) -> Result<(), Error> {
    let (old, replayed) = b.read().await?;
    if replayed > 0 {
        return Err(Error::Usage(format!(
            "{} holds a journal left by an interrupted apply; run `standby plan` or `apply` first so it is folded in",
            b.journal_location()
        )));
    }
    let exists = old.serial > 0 || !old.resources.is_empty();
    if !force {
        check_push(new, &old, exists)
            .map_err(|e| Error::Usage(format!("{e} (in {}); --force skips this check", b.location())))?;
    }
    b.store(new).await?;
    Ok(())
}

pub async fn push(s: &Settings, from: &Path, force: bool, dir: &Path) -> Result<u8, Error> {
    let new = read_file_state(from)?;
    let b = s.backend(dir, None).await?;
    let _lock = b.lock("state push").await?;
    store_checked(&*b, &new, force).await?;
    println!(
        "Pushed {} (serial {}, lineage {}, {} resources) to {}.",
        from.display(),
        new.serial,
        new.lineage,
        new.resources.len(),
        b.location()
    );
    Ok(0)
}

/// A state file with its journal replayed (a local apply that was killed).
fn read_file_state(path: &Path) -> Result<State, Error> {
    if !path.is_file() {
        return Err(Error::Usage(format!("no state file at {}", path.display())));
    }
    let mut st = file::read(path)?;
    let n = state::journal::replay(path, &mut st)
        .map_err(|why| file::StateError::Journal { location: path.display().to_string(), why })?;
    if n > 0 {
        eprintln!("Note: {n} record(s) from the journal beside {} included.", path.display());
    }
    Ok(st)
}

pub async fn migrate(s: &Settings, from: Option<&Path>, dir: &Path) -> Result<u8, Error> {
    let from = from.map(Path::to_path_buf).unwrap_or_else(|| dir.join(state::DEFAULT_STATE));
    let b = s.backend(dir, None).await?;
    if !b.is_remote() {
        return Err(Error::Usage(format!(
            "the configuration in {} has no `backend:` block: add `backend: {{ s3: {{ bucket: ..., key: ..., region: ... }} }}` first",
            dir.display()
        )));
    }
    // Both locks: no local run may change the file while it moves.
    let local = backend::Local::new(&from);
    let _local_lock = local.lock("state migrate").await?;
    let new = read_file_state(&from)?;
    let _lock = b.lock("state migrate").await?;
    let (old, _) = b.read().await?;
    if old.lineage == new.lineage && file::to_json(&old) == file::to_json(&new) {
        println!("{} already holds this state (serial {}): nothing to migrate.", b.location(), new.serial);
        return Ok(0);
    }
    store_checked(&*b, &new, false).await?;
    // Read back what was stored: the proof the move worked.
    let (back, _) = b.read().await?;
    if file::to_json(&back) != file::to_json(&new) {
        return Err(Error::Io(format!("{} does not read back as written; the local file is unchanged", b.location())));
    }
    for w in b.warnings().await {
        eprintln!("Warning: {w}");
    }
    println!(
        "Migrated {} (serial {}, lineage {}, {} resources) to {}.\nThe local file is no longer used: keep it as a backup, or delete it.",
        from.display(),
        new.serial,
        new.lineage,
        new.resources.len(),
        b.location()
    );
    Ok(0)
}
