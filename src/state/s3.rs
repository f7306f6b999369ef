//! The S3 backend: state shared by a team in one S3 object.
//!
//! Layout in the bucket (`key` is the configured state key):
//! - `key`: the state, the same JSON as the local file.
//! - `_standby/locks/<key>`: the lock while a run holds it (who, operation,
//!   time). Its own prefix lets a lifecycle rule expire old versions of lock
//!   objects in a versioned bucket.
//! - `_standby/journal/<key>/<run>/<seq>.json`: the write-ahead journal of
//!   a running apply, one object per record; removed when the apply has
//!   written the state. After a kill -9 it stays, so the next run on any
//!   machine knows everything the killed one created. Only keys of exactly
//!   that shape count (`<run>` is `<13-digit millis>-<id>`, `<seq>` 8
//!   digits): the journal of a nested state key (`a/b` under `a`) is not
//!   `a`'s. A run that folds journals in removes exactly the objects it
//!   read, never records written since.
//!
//! Every write is conditional: the lock is created with `If-None-Match: *`
//! (only one run can), the state is replaced with `If-Match: <ETag read>`
//! (a writer with a stale view is refused), the lock is removed with
//! `If-Match` on its own ETag. Objects are encrypted by the bucket's default
//! encryption (S3 encrypts every new object, SSE-S3 at least), or with SSE-KMS
//! and `kms_key_id`: standby sends no encryption header of its own otherwise,
//! so a bucket default of SSE-KMS holds. Before reporting a
//! refused conditional write, standby reads what is there: when the SDK
//! retried a write whose first answer was lost, the object is its own.

use super::State;
use super::backend::{Backend, Held};
use super::file::{self, StateError};
use super::journal::{self, Journal, Sink};
use super::lock::{LockError, LockInfo};
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, ServerSideEncryption};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub const LOCK_PREFIX: &str = "_standby/locks/";
pub const JOURNAL_PREFIX: &str = "_standby/journal/";

/// `backend: { s3: {...} }` after `--backend-config` overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Spec {
    pub bucket: String,
    pub key: String,
    pub region: String,
    pub kms_key_id: Option<String>,
}

impl S3Spec {
    pub fn from_settings(settings: &BTreeMap<String, String>) -> Result<S3Spec, String> {
        let get = |k: &str| settings.get(k).filter(|v| !v.is_empty()).cloned();
        let missing: Vec<&str> = ["bucket", "key", "region"].into_iter().filter(|k| get(k).is_none()).collect();
        if !missing.is_empty() {
            return Err(format!(
                "the s3 backend needs {} (in `backend: {{ s3: ... }}` or as --backend-config KEY=VALUE)",
                missing.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            ));
        }
        let (bucket, key, region) =
            (get("bucket").unwrap_or_default(), get("key").unwrap_or_default(), get("region").unwrap_or_default());
        if !crate::config::AWS_REGIONS.contains(&region.as_str()) {
            return Err(format!("backend region `{region}` is not an AWS region"));
        }
        if key.starts_with('/') || key.ends_with('/') || key.starts_with("_standby/") {
            return Err(format!(
                "backend key `{key}` must name an object (no leading or trailing `/`, not under `_standby/`)"
            ));
        }
        Ok(S3Spec { bucket, key, region, kms_key_id: get("kms_key_id") })
    }

    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    fn lock_key(&self) -> String {
        format!("{LOCK_PREFIX}{}", self.key)
    }

    fn journal_prefix(&self) -> String {
        format!("{JOURNAL_PREFIX}{}/", self.key)
    }

    /// Whether `key` is a record of this state's journal:
    /// `<prefix><13 digits>-<id>/<8 digits>.json`, nothing deeper.
    fn is_journal_record(&self, key: &str) -> bool {
        let Some(rest) = key.strip_prefix(&self.journal_prefix()) else { return false };
        let Some((run, seq)) = rest.split_once('/') else { return false };
        let Some(seq) = seq.strip_suffix(".json") else { return false };
        journal::is_run_name(run) && seq.len() == 8 && seq.bytes().all(|b| b.is_ascii_digit())
    }
}

type Response = aws_sdk_s3::config::http::HttpResponse;

/// What went wrong in an S3 call: its error code.
fn code<E: ProvideErrorMetadata>(e: &SdkError<E, Response>) -> String {
    e.code().unwrap_or_default().to_string()
}

fn status<E>(e: &SdkError<E, Response>) -> u16 {
    e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0)
}

fn describe<E: std::error::Error + 'static>(e: &SdkError<E, Response>) -> String {
    format!("{}", DisplayErrorContext(e))
}

/// A conditional write refused (412), or lost to a concurrent one (409).
fn refused<E: ProvideErrorMetadata>(e: &SdkError<E, Response>) -> bool {
    matches!(status(e), 409 | 412) || matches!(code(e).as_str(), "PreconditionFailed" | "ConditionalRequestConflict")
}

fn not_found<E: ProvideErrorMetadata>(e: &SdkError<E, Response>) -> bool {
    code(e) == "NoSuchKey" || (status(e) == 404 && code(e) != "NoSuchBucket")
}

#[derive(Clone)]
struct Store {
    client: Client,
    spec: S3Spec,
}

impl Store {
    fn put(&self, key: &str, body: Vec<u8>) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
        let req = self
            .client
            .put_object()
            .bucket(&self.spec.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        // Without a key of its own, no header: the bucket's default
        // encryption applies (SSE-S3 at least, for every new object since
        // January 2023), and an explicit AES256 would override a default of
        // SSE-KMS and be refused by a bucket policy requiring aws:kms.
        match &self.spec.kms_key_id {
            Some(k) => req.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(k),
            None => req,
        }
    }

    /// An object's text and ETag; `None` when there is none.
    async fn get(&self, key: &str) -> Result<Option<(String, Option<String>)>, String> {
        match self.client.get_object().bucket(&self.spec.bucket).key(key).send().await {
            Ok(out) => {
                let etag = out.e_tag().map(str::to_string);
                let bytes =
                    out.body.collect().await.map_err(|e| format!("reading s3://{}/{key}: {e}", self.spec.bucket))?;
                Ok(Some((String::from_utf8_lossy(&bytes.into_bytes()).into_owned(), etag)))
            }
            Err(e) if not_found(&e) => Ok(None),
            Err(e) if code(&e) == "NoSuchBucket" => Err(format!(
                "the bucket {} does not exist (in {}): create it, versioned and encrypted, first",
                self.spec.bucket, self.spec.region
            )),
            // S3 answers 403, not 404, for a missing key to a caller without
            // s3:ListBucket on the bucket (GetObject API reference).
            Err(e) if status(&e) == 403 => Err(format!(
                "GetObject s3://{}/{key}: {}\n  (S3 also answers AccessDenied for an object that does not exist yet \
                 when the caller lacks s3:ListBucket on the bucket: `standby policy DIR --for state-read` prints \
                 what a role needs)",
                self.spec.bucket,
                describe(&e)
            )),
            Err(e) => Err(format!("GetObject s3://{}/{key}: {}", self.spec.bucket, describe(&e))),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, String> {
        let mut keys = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(&self.spec.bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| format!("ListObjectsV2 s3://{}/{prefix}: {}", self.spec.bucket, describe(&e)))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        }
        keys.sort();
        Ok(keys)
    }

    async fn delete_all(&self, keys: &[String]) -> Result<(), String> {
        for chunk in keys.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build().map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            let delete = Delete::builder().set_objects(Some(objects)).quiet(true).build().map_err(|e| e.to_string())?;
            let out = self
                .client
                .delete_objects()
                .bucket(&self.spec.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| format!("DeleteObjects in s3://{}: {}", self.spec.bucket, describe(&e)))?;
            if let Some(err) = out.errors().first() {
                return Err(format!(
                    "DeleteObjects in s3://{}: {} {}",
                    self.spec.bucket,
                    err.key().unwrap_or_default(),
                    err.message().unwrap_or_default()
                ));
            }
        }
        Ok(())
    }

    async fn get_lock(&self) -> Result<Option<(LockInfo, Option<String>)>, LockError> {
        let remote = |why| LockError::Remote { location: self.lock_url(), why };
        match self.get(&self.spec.lock_key()).await.map_err(remote)? {
            None => Ok(None),
            Some((text, etag)) => {
                let tag = etag.as_deref().unwrap_or_default().trim_matches('"').to_string();
                let info = serde_json::from_str(&text).map_err(|e| {
                    remote(format!(
                        "the lock object is held but cannot be read as a standby lock ({e}); if no run holds it, \
                         remove it with: standby force-unlock {tag}"
                    ))
                })?;
                Ok(Some((info, etag)))
            }
        }
    }

    fn lock_url(&self) -> String {
        format!("s3://{}/{}", self.spec.bucket, self.spec.lock_key())
    }
}

pub struct S3Backend {
    store: Store,
    /// ETag of the state as `read` saw it: `None` before reading,
    /// `Some(None)` when there was no state object.
    seen: Mutex<Option<Option<String>>>,
    /// The journal objects `read` replayed: all that `clear_journal` removes.
    replayed: Mutex<Vec<String>>,
}

impl S3Backend {
    pub async fn new(spec: S3Spec, aws: &crate::aws::Aws) -> S3Backend {
        let client = aws.s3(&spec.region).await;
        S3Backend::with_client(spec, client)
    }

    /// Over a given client (tests point one at the emulator).
    pub fn with_client(spec: S3Spec, client: Client) -> S3Backend {
        S3Backend { store: Store { client, spec }, seen: Mutex::new(None), replayed: Mutex::new(Vec::new()) }
    }

    fn remote(&self, why: String) -> StateError {
        StateError::Remote { location: self.location(), why }
    }
}

impl S3Backend {
    /// The state with its journal replayed, or `None` when a journal object
    /// vanished while being read.
    async fn read_once(&self) -> Result<Option<(State, usize)>, StateError> {
        let s = &self.store;
        let location = self.location();
        let (mut st, etag) = match s.get(&s.spec.key).await.map_err(|w| self.remote(w))? {
            Some((text, etag)) => (file::parse(Path::new(&location), &text)?, etag),
            None => (State::new(), None),
        };
        let keys: Vec<String> = s
            .list(&s.spec.journal_prefix())
            .await
            .map_err(|w| self.remote(w))?
            .into_iter()
            .filter(|k| s.spec.is_journal_record(k))
            .collect();
        let mut records = Vec::new();
        for key in &keys {
            let bad = |why: String| StateError::Journal { location: format!("s3://{}/{key}", s.spec.bucket), why };
            let Some((text, _)) = s.get(key).await.map_err(&bad)? else { return Ok(None) };
            // S3 writes whole objects: any damage is real damage.
            records.push(serde_json::from_str::<Json>(&text).map_err(|e| bad(format!("damaged: {e}")))?);
        }
        let n = journal::replay_records(&self.journal_location(), records, &mut st)
            .map_err(|why| StateError::Journal { location: self.journal_location(), why })?;
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(etag);
        *self.replayed.lock().unwrap_or_else(|e| e.into_inner()) = keys;
        Ok(Some((st, n)))
    }

    /// Says what is unsafe about the bucket: versioning off.
    async fn bucket_warnings(&self) -> Vec<String> {
        let s = &self.store;
        match s.client.get_bucket_versioning().bucket(&s.spec.bucket).send().await {
            Ok(v) if v.status().is_some_and(|st| st.as_str() == "Enabled") => Vec::new(),
            Ok(_) => vec![format!(
                "bucket {} is not versioned: turn versioning on, so that every earlier state stays recoverable",
                s.spec.bucket
            )],
            Err(e) => vec![format!("cannot check versioning of bucket {}: {}", s.spec.bucket, describe(&e))],
        }
    }
}

/// The lock object; removed (if still ours) when dropped, or when the
/// process is interrupted ([`crate::interrupt`]).
struct S3Lock {
    held: Arc<HeldObject>,
    _on_interrupt: crate::interrupt::Hook,
}

impl S3Lock {
    fn new(store: Store, etag: Option<String>, id: String) -> S3Lock {
        let held = Arc::new(HeldObject { store, etag, id, released: AtomicBool::new(false) });
        let on_interrupt = {
            let held = held.clone();
            crate::interrupt::on_exit(move || held.release().1)
        };
        S3Lock { held, _on_interrupt: on_interrupt }
    }
}

impl Drop for S3Lock {
    fn drop(&mut self) {
        if let (false, warning) = self.held.release() {
            eprintln!("Warning: {warning}");
        }
    }
}

struct HeldObject {
    store: Store,
    etag: Option<String>,
    id: String,
    released: AtomicBool,
}

impl HeldObject {
    /// Removes the lock if it is still ours (once), blocking this thread for
    /// the call (a drop or a signal handler cannot wait). Whether it went as
    /// expected, and what happened as one line.
    fn release(&self) -> (bool, String) {
        let released = || format!("the state lock {} is released", self.id);
        if self.released.swap(true, Ordering::SeqCst) {
            return (true, released());
        }
        let s = &self.store;
        let stuck = |why: &str| {
            format!(
                "could not release the state lock {} ({}): {why}\n  release it with: standby force-unlock {}",
                self.id,
                s.lock_url(),
                self.id
            )
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return (false, stuck("no runtime")) };
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return (false, stuck("no runtime to call S3 from"));
        }
        let req =
            s.client.delete_object().bucket(&s.spec.bucket).key(s.spec.lock_key()).set_if_match(self.etag.clone());
        enum Outcome {
            Released,
            /// Refused or gone: what is there now.
            Now(Option<String>),
            Failed(String),
        }
        let outcome = tokio::task::block_in_place(|| {
            handle.block_on(async {
                match req.send().await {
                    Ok(_) => Outcome::Released,
                    // Look before saying why: a retried delete whose first
                    // try landed finds no lock at all.
                    Err(e) if refused(&e) || not_found(&e) => match s.get(&s.spec.lock_key()).await {
                        Ok(now) => Outcome::Now(now.map(|(text, _)| text)),
                        Err(why) => Outcome::Failed(why),
                    },
                    Err(e) => Outcome::Failed(describe(&e)),
                }
            })
        });
        match outcome {
            Outcome::Released | Outcome::Now(None) => (true, released()),
            Outcome::Now(Some(text)) => (
                false,
                format!(
                    "the state lock {} had been removed (force-unlock?) and {}: left as it is",
                    self.id,
                    match serde_json::from_str::<LockInfo>(&text) {
                        Ok(other) => format!("another run holds it now (lock id {})", other.id),
                        Err(_) => "something else is there now".to_string(),
                    }
                ),
            ),
            Outcome::Failed(why) => (false, stuck(&why)),
        }
    }
}

#[async_trait]
impl Backend for S3Backend {
    fn location(&self) -> String {
        self.store.spec.url()
    }

    fn journal_location(&self) -> String {
        format!("s3://{}/{}", self.store.spec.bucket, self.store.spec.journal_prefix())
    }

    fn is_remote(&self) -> bool {
        true
    }

    async fn lock(&self, operation: &str) -> Result<Held, LockError> {
        let s = &self.store;
        let info = super::lock::new_info(operation);
        let body = serde_json::to_vec_pretty(&info).unwrap_or_default();
        let remote = |why| LockError::Remote { location: s.lock_url(), why };
        for attempt in 0..5u64 {
            match s.put(&s.spec.lock_key(), body.clone()).if_none_match("*").send().await {
                Ok(out) => {
                    let guard = S3Lock::new(s.clone(), out.e_tag().map(str::to_string), info.id.clone());
                    return Ok(Held::new(info, Box::new(guard)));
                }
                Err(e) if refused(&e) => match s.get_lock().await? {
                    // Our own first try landed and its answer was lost.
                    Some((holder, etag)) if holder.id == info.id => {
                        let guard = S3Lock::new(s.clone(), etag, info.id.clone());
                        return Ok(Held::new(info, Box::new(guard)));
                    }
                    Some((holder, _)) if status(&e) == 412 || code(&e) == "PreconditionFailed" => {
                        return Err(LockError::Held(Box::new(holder)));
                    }
                    // 409 (a concurrent write in flight), or released in between: try again.
                    _ => tokio::time::sleep(std::time::Duration::from_millis(50 * (attempt + 1))).await,
                },
                Err(e) => return Err(remote(format!("PutObject: {}", describe(&e)))),
            }
        }
        Err(remote("the lock changed hands five times in a row; try again".into()))
    }

    async fn force_unlock(&self, id: &str) -> Result<LockInfo, LockError> {
        let s = &self.store;
        let remote = |why: String| LockError::Remote { location: s.lock_url(), why };
        let (text, etag) = s.get(&s.spec.lock_key()).await.map_err(remote)?.ok_or(LockError::NotLocked)?;
        let info = match serde_json::from_str::<LockInfo>(&text) {
            Ok(info) if info.id != id => return Err(LockError::WrongId { given: id.to_string(), actual: info.id }),
            Ok(info) => info,
            // Not a lock this version can read (another version's, or made by
            // hand): removable by its ETag, shown with its content.
            Err(e) => {
                let tag = etag.as_deref().unwrap_or_default().trim_matches('"').to_string();
                if tag.is_empty() || id != tag {
                    return Err(remote(format!(
                        "the lock object cannot be read as a standby lock ({e}); it holds:\n{text}\nif no run holds \
                         it, remove it with: standby force-unlock {tag}"
                    )));
                }
                LockInfo { id: tag, ..Default::default() }
            }
        };
        // Only that lock: if it changed hands meanwhile, the ETag differs.
        match s.client.delete_object().bucket(&s.spec.bucket).key(s.spec.lock_key()).set_if_match(etag).send().await {
            Ok(_) => Ok(info),
            // Look before saying why: a retried delete whose first try
            // landed finds no lock at all.
            Err(e) if refused(&e) || not_found(&e) => match s.get(&s.spec.lock_key()).await.map_err(remote)? {
                None => Ok(info),
                Some(_) => Err(remote("another run took the lock while it was being removed; look again".into())),
            },
            Err(e) => Err(remote(describe(&e))),
        }
    }

    async fn read(&self) -> Result<(State, usize), StateError> {
        // A journal object that vanishes between the listing and its GET
        // was removed by an apply that just stored its state (plan and drift
        // read without the lock): read again, state first.
        for attempt in 0..6u64 {
            if let Some(done) = self.read_once().await? {
                return Ok(done);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
        }
        Err(StateError::Journal {
            location: self.journal_location(),
            why: "it kept changing while being read (six tries); try again".into(),
        })
    }

    async fn store(&self, state: &State) -> Result<(), StateError> {
        let s = &self.store;
        let body = file::to_json(state);
        let seen = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| self.remote("the state must be read before it is written".into()))?;
        let mut attempt = 0u64;
        let etag = loop {
            let req = s.put(&s.spec.key, body.clone().into_bytes());
            let req = match &seen {
                Some(etag) => req.if_match(etag),
                None => req.if_none_match("*"),
            };
            match req.send().await {
                Ok(out) => break out.e_tag().map(str::to_string),
                Err(e) if refused(&e) || (seen.is_some() && not_found(&e)) => {
                    // Observe before calling it a conflict: a retried write
                    // whose first try landed finds its own bytes; a write that
                    // lost to a concurrent conditional request (409) finds the
                    // state as it read it, and tries again as S3 asks ("On a
                    // 409 failure you should retry the upload").
                    let now = s.get(&s.spec.key).await.map_err(|w| self.remote(w))?;
                    match now {
                        Some((text, etag)) if text == body => break etag,
                        Some((_, etag)) if status(&e) == 409 && etag == seen && attempt < 4 => {}
                        None if status(&e) == 409 && seen.is_none() && attempt < 4 => {}
                        now => {
                            let now = match now {
                                Some((text, _)) => match file::parse(Path::new(&self.location()), &text) {
                                    Ok(n) => format!("now serial {} lineage {}", n.serial, n.lineage),
                                    Err(_) => "now unreadable".into(),
                                },
                                None => "now deleted".into(),
                            };
                            return Err(StateError::Conflict {
                                location: self.location(),
                                why: format!(
                                    "it changed since this run read it ({now}); another run wrote it (was its lock \
                                     force-unlocked?). Nothing was overwritten"
                                ),
                            });
                        }
                    }
                }
                Err(e) => return Err(self.remote(format!("PutObject: {}", describe(&e)))),
            }
            attempt += 1;
            tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
        };
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(etag);
        Ok(())
    }

    async fn journal(&self, lineage: &str) -> Result<Journal, StateError> {
        let s = &self.store;
        let millis =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let prefix = format!("{}{millis:013}-{}/", s.spec.journal_prefix(), crate::ids::random_id());
        let sink = S3Sink { store: s.clone(), prefix, seq: AtomicU64::new(0), keys: Mutex::new(Vec::new()) };
        sink.append(journal::begin_record(lineage), true)
            .await
            .map_err(|e| StateError::Journal { location: self.journal_location(), why: e.to_string() })?;
        Ok(Journal::new(Box::new(sink)))
    }

    async fn clear_journal(&self) -> Result<(), StateError> {
        let keys = std::mem::take(&mut *self.replayed.lock().unwrap_or_else(|e| e.into_inner()));
        self.store.delete_all(&keys).await.map_err(|w| self.remote(w))
    }

    async fn warnings(&self) -> Vec<String> {
        self.bucket_warnings().await
    }
}

/// One object per record; every write acknowledged before `append` returns.
struct S3Sink {
    store: Store,
    prefix: String,
    seq: AtomicU64,
    keys: Mutex<Vec<String>>,
}

#[async_trait]
impl Sink for S3Sink {
    async fn append(&self, record: Json, _durable: bool) -> std::io::Result<()> {
        let key = format!("{}{:08}.json", self.prefix, self.seq.fetch_add(1, Ordering::SeqCst));
        // Same key and bytes on a retry: repeating the write is harmless.
        self.store.put(&key, record.to_string().into_bytes()).send().await.map_err(|e| {
            std::io::Error::other(format!("PutObject s3://{}/{key}: {}", self.store.spec.bucket, describe(&e)))
        })?;
        self.keys.lock().unwrap_or_else(|e| e.into_inner()).push(key);
        Ok(())
    }

    async fn sync(&self) -> std::io::Result<()> {
        Ok(())
    }

    async fn finish(&self) -> std::io::Result<()> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner()).clone();
        self.store.delete_all(&keys).await.map_err(std::io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn settings_are_checked_together() {
        let err = S3Spec::from_settings(&settings(&[("bucket", "b")])).unwrap_err();
        assert!(err.contains("`key`, `region`"), "{err}");
        let err =
            S3Spec::from_settings(&settings(&[("bucket", "b"), ("key", "k"), ("region", "us-west-9")])).unwrap_err();
        assert!(err.contains("not an AWS region"), "{err}");
        let err = S3Spec::from_settings(&settings(&[("bucket", "b"), ("key", "_standby/x"), ("region", "us-west-1")]))
            .unwrap_err();
        assert!(err.contains("_standby/"), "{err}");
        let s = S3Spec::from_settings(&settings(&[("bucket", "b"), ("key", "dr/s.json"), ("region", "us-west-1")]))
            .unwrap();
        assert_eq!(s.url(), "s3://b/dr/s.json");
        assert_eq!(s.lock_key(), "_standby/locks/dr/s.json");
        assert_eq!(s.journal_prefix(), "_standby/journal/dr/s.json/");
    }

    #[test]
    fn a_nested_keys_journal_is_not_this_states() {
        let a = S3Spec::from_settings(&settings(&[("bucket", "b"), ("key", "a"), ("region", "us-west-1")])).unwrap();
        assert!(a.is_journal_record("_standby/journal/a/1767225600000-0a1b2c3d/00000001.json"));
        for other in [
            // State `a/b`'s journal, and `a/1767225600000-0a1b`'s.
            "_standby/journal/a/b/1767225600000-0a1b2c3d/00000001.json",
            "_standby/journal/a/1767225600000-0a1b/1767225600001-0a1c/00000000.json",
            "_standby/journal/ab/1767225600000-0a1b2c3d/00000001.json",
            "_standby/journal/a/1767225600000-0a1b2c3d/1.json",
            "_standby/journal/a/stray.json",
        ] {
            assert!(!a.is_journal_record(other), "{other}");
        }
    }
}
