//! Keeping what a data-loss failover did not replicate.
//!
//! When the old primary's region is back, Aurora snapshots the old volume
//! before rebuilding it as a secondary: `rds:unplanned-global-failover-
//! <old cluster>-<timestamp>`, in that region, a system snapshot that goes
//! away with the old cluster's backup retention (Aurora User Guide, managed
//! failovers). [`keep`] copies it to a manual snapshot, whose name is
//! derived from the source's ([`kept_name`]): a resumed run finds its own
//! copy and waits for it instead of copying twice.
//!
//! Aurora only *attempts* the snapshot, and AWS documents neither when it is
//! visible relative to the rejoin nor its SnapshotType: [`keep`] looks for it
//! for a grace period (the cluster's own snapshots, then every snapshot of
//! the region by name, in case it is listed under another identifier), and
//! none found is said plainly, kept as a note of the run, not an error.

use crate::kinds::KindError;
use crate::kinds::rds::rds_error;
use aws_sdk_rds::operation::RequestId;
use aws_sdk_rds::types::DbClusterSnapshot;
use std::time::{Duration, Instant};

/// Name prefix of the snapshot Aurora takes of a failed-over primary.
pub const FAILOVER_PREFIX: &str = "rds:unplanned-global-failover-";

/// The longest DB cluster snapshot identifier AWS takes (CopyDBClusterSnapshot).
const NAME_MAX: usize = 63;

/// The manual copy's name: the source's without `rds:` (not allowed in a
/// snapshot name), prefixed `kept-`. Too long for AWS's 63 characters, it
/// keeps the source's end (the cluster and the time) behind a hash of the
/// whole source name, so it stays unique and the same on every run.
pub fn kept_name(source: &str) -> String {
    let base = source.strip_prefix("rds:").unwrap_or(source).replace(':', "-");
    let name = format!("kept-{base}");
    if name.len() <= NAME_MAX {
        return name.trim_end_matches('-').to_string();
    }
    // FNV-1a: stable across Rust versions and machines (a resumed run elsewhere finds the copy).
    let hash = source.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let head = format!("kept-{hash:08x}-");
    let tail = &base[base.len() - (NAME_MAX - head.len())..];
    format!("{head}{}", tail.trim_start_matches('-')).trim_end_matches('-').to_string()
}

/// What [`keep`] found and did.
#[derive(Debug, PartialEq)]
pub struct Kept {
    /// `None`: Aurora left no failover snapshot of the cluster.
    pub copy: Option<String>,
    pub source: Option<String>,
    pub request_ids: Vec<String>,
}

impl Kept {
    /// Plain words for the progress line and the event log.
    pub fn describe(&self, cluster: &str) -> String {
        match (&self.copy, &self.source) {
            (Some(copy), Some(source)) => format!(
                "{source} kept as manual snapshot {copy}: restore from it to recover the writes that were not \
                 replicated"
            ),
            _ => format!(
                "WARNING: no {FAILOVER_PREFIX}{cluster}-* snapshot found: Aurora could not take one (it only attempts \
                 it), so the writes that were not replicated cannot be recovered from AWS"
            ),
        }
    }
}

/// Finds the newest failover snapshot of `cluster` in the client's region
/// (looking for up to `grace` while there is none), copies it to
/// [`kept_name`] unless that exists, and waits until the copy is available
/// (at most `timeout`).
pub async fn keep(
    rds: &aws_sdk_rds::Client,
    cluster: &str,
    grace: Duration,
    timeout: Duration,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Kept, KindError> {
    let prefix = format!("{FAILOVER_PREFIX}{cluster}-");
    let deadline = Instant::now() + timeout;
    let t0 = Instant::now();
    let mut last_note = Instant::now();
    let mut delay = Duration::from_millis(200);
    let mut ids = Vec::new();
    let mut asked = false;
    let mut whole_region = false;
    loop {
        let snaps = snapshots_of(rds, (!whole_region).then_some(cluster)).await?;
        let Some(source) = snaps
            .iter()
            .filter(|s| s.db_cluster_snapshot_identifier().is_some_and(|i| i.starts_with(&prefix)))
            .max_by_key(|s| (s.snapshot_create_time().map(|t| t.secs()), s.db_cluster_snapshot_identifier()))
        else {
            if t0.elapsed() < grace {
                if last_note.elapsed() >= Duration::from_secs(10) {
                    last_note = Instant::now();
                    progress(&format!(
                        "    no {prefix}* snapshot yet ({}s of up to {}s)",
                        t0.elapsed().as_secs(),
                        grace.as_secs()
                    ));
                }
                tokio::time::sleep(delay.min(grace.saturating_sub(t0.elapsed()))).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                continue;
            }
            if !whole_region {
                // Last: every snapshot of the region, by name.
                whole_region = true;
                continue;
            }
            return Ok(Kept { copy: None, source: None, request_ids: ids });
        };
        let source_id = source.db_cluster_snapshot_identifier().unwrap_or_default().to_string();
        let target = kept_name(&source_id);
        let copy = snaps.iter().find(|s| s.db_cluster_snapshot_identifier() == Some(target.as_str()));
        let waiting_on = match copy {
            Some(c) if c.status() == Some("available") => {
                return Ok(Kept { copy: Some(target), source: Some(source_id), request_ids: ids });
            }
            Some(c) => format!("the copy {target} ({})", c.status().unwrap_or("unknown")),
            None if source.status() != Some("available") => {
                format!("Aurora's snapshot {source_id} ({})", source.status().unwrap_or("unknown"))
            }
            None if !asked => {
                let res = rds
                    .copy_db_cluster_snapshot()
                    .source_db_cluster_snapshot_identifier(&source_id)
                    .target_db_cluster_snapshot_identifier(&target)
                    .copy_tags(true)
                    .send()
                    .await
                    .map_err(|e| rds_error("CopyDBClusterSnapshot", e));
                match res {
                    Ok(o) => ids.extend(o.request_id().map(str::to_string)),
                    // Taken meanwhile (an earlier try that did reach AWS): the next look finds it.
                    Err(e) if e.already_exists() => {}
                    // Unsure whether it took effect: the next look decides.
                    Err(e) if !e.refused() => {}
                    Err(e) => return Err(e),
                }
                asked = true;
                continue;
            }
            None => format!("the copy {target} to appear"),
        };
        if Instant::now() > deadline {
            return Err(KindError::Timeout { what: waiting_on, after: timeout });
        }
        if last_note.elapsed() >= Duration::from_secs(10) {
            last_note = Instant::now();
            progress(&format!("    still waiting for {waiting_on} ({}s elapsed)", t0.elapsed().as_secs()));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Every snapshot of the cluster (or of the region), automated and manual
/// (AWS's default when no SnapshotType is given); the failover snapshot's
/// type is not documented.
async fn snapshots_of(rds: &aws_sdk_rds::Client, cluster: Option<&str>) -> Result<Vec<DbClusterSnapshot>, KindError> {
    let mut out = Vec::new();
    let mut pages = rds
        .describe_db_cluster_snapshots()
        .set_db_cluster_identifier(cluster.map(str::to_string))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| rds_error("DescribeDBClusterSnapshots", e))?;
        out.extend(page.db_cluster_snapshots().iter().cloned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_name_is_a_valid_snapshot_name_derived_from_the_source() {
        let source = "rds:unplanned-global-failover-mm-db-us-west-1-2026-12-02-03-10";
        assert_eq!(kept_name(source), "kept-unplanned-global-failover-mm-db-us-west-1-2026-12-02-03-10");
        assert_eq!(kept_name(source), kept_name(source));
        // The example's cluster name makes the full form 74 characters: AWS refuses over 63.
        let example = "rds:unplanned-global-failover-mattermost-dr-db-us-west-1-2026-12-02-03-10";
        let kept = kept_name(example);
        assert_eq!(kept.len(), 63, "{kept}");
        assert!(kept.starts_with("kept-") && kept.ends_with("mattermost-dr-db-us-west-1-2026-12-02-03-10"), "{kept}");
        assert!(!kept.contains("--"), "{kept}");
        assert_eq!(kept, kept_name(example));
        assert_ne!(kept, kept_name(&example.replace("03-10", "03-11")));
        let long = format!("rds:{}", "a".repeat(300));
        assert_eq!(kept_name(&long).len(), 63);
        let hyphens = format!("rds:{}b", "a-".repeat(40));
        assert!(!kept_name(&hyphens).contains("--"), "{}", kept_name(&hyphens));
        assert!(!kept_name("rds:x-").ends_with('-'));
    }
}
