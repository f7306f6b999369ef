//! The files canary: an object written under [`S3_PREFIX`] in the active
//! region's bucket, timed until every destination of its replication rules
//! has the replica and the source's `x-amz-replication-status` says
//! `COMPLETED` (S3 User Guide, "Getting replication status information").
//!
//! Calls per replication direction checked (one in a two-region topology):
//! ListObjectVersions of the prefix in the source and each destination
//! (leftovers), PutObject, then per poll one HeadObject on the source and
//! one on each destination still without its replica (polls 250 ms apart,
//! doubling up to 5 s), and after it ListObjectVersions of the key and one
//! DeleteObject per version in each bucket. IAM: `s3:PutObject`,
//! `s3:GetObject`, `s3:DeleteObjectVersion` on `arn:aws:s3:::*/standby-canary/*`
//! and `s3:ListBucketVersions` with `s3:prefix` `standby-canary/*`.

use super::{S3_PREFIX, Stop, bound_words, human, is_leftover, name, of_type, str_attr, unix_now};
use crate::health::Check;
use crate::health::dr::Input;
use crate::kinds::aws::aws_error;
use crate::state::State;
use crate::value::Value;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ReplicationStatus;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One replication direction: a source bucket and where its rules copy.
#[derive(Clone, Debug)]
pub struct Target {
    /// The `aws_s3_bucket_replication` resource the check is about.
    pub address: String,
    pub bucket: String,
    pub region: String,
    /// Destination bucket → its region.
    pub destinations: BTreeMap<String, String>,
}

/// The replication directions on record out of `active` (every one when
/// the active region is unknown).
pub fn targets(st: &State, active: Option<&str>) -> Vec<Target> {
    let region_of = |bucket: &str| {
        of_type(st, "aws_s3_bucket").find(|(_, i)| str_attr(i, "bucket") == Some(bucket)).map(|(_, i)| i.region.clone())
    };
    of_type(st, "aws_s3_bucket_replication")
        .filter(|(_, i)| active.is_none_or(|a| a == i.region))
        .filter_map(|(address, i)| {
            let bucket = str_attr(i, "bucket")?.to_string();
            let destinations = i
                .attrs
                .get("rules")
                .and_then(Value::as_list)
                .unwrap_or_default()
                .iter()
                .filter_map(Value::as_map)
                .filter(|r| r.get("status").and_then(Value::as_str).is_none_or(|s| s == "Enabled"))
                .filter_map(|r| r.get("destination_bucket").and_then(Value::as_str))
                .map(|arn| arn.trim_start_matches("arn:aws:s3:::").to_string())
                .map(|d| {
                    let region = region_of(&d).unwrap_or_else(|| i.region.clone());
                    (d, region)
                })
                .collect::<BTreeMap<_, _>>();
            (!destinations.is_empty()).then(|| Target { address, bucket, region: i.region.clone(), destinations })
        })
        .collect()
}

pub async fn run(
    input: &Input<'_>,
    active: Option<&str>,
    bound: Duration,
    stop: Stop,
) -> Result<Vec<Check>, Vec<String>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for t in targets(input.recorded, active) {
        match canary(input, &t, bound, stop.clone()).await {
            Ok(c) => out.push(c),
            Err(e) => errors.push(format!("{}: files canary: {e}{}", t.address, super::permission_hint(&e))),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// What the polls saw.
#[derive(Default)]
struct Seen {
    status: Option<String>,
    /// Destination → when its replica was first seen.
    replicas: BTreeMap<String, Option<Duration>>,
    completed: Option<Duration>,
}

async fn canary(input: &Input<'_>, t: &Target, bound: Duration, mut stop: Stop) -> Result<Check, String> {
    let source = input.aws.s3(&t.region).await;
    let mut clients: BTreeMap<String, Client> = BTreeMap::new();
    for (d, region) in &t.destinations {
        clients.insert(d.clone(), input.aws.s3(region).await);
    }
    // Leftovers of runs that were killed, in every bucket the canary uses.
    let mut removed = sweep(&source, &t.bucket, S3_PREFIX, true).await?;
    for (d, c) in &clients {
        removed += sweep(c, d, S3_PREFIX, true).await?;
    }
    let key = format!("{S3_PREFIX}{}", name(bound));
    let body = format!(
        "standby drift's replication canary, removed by the run that wrote it or by a later one; \
         safe to delete. Written at {}.\n",
        crate::drift::now_rfc3339()
    );
    let t0 = Instant::now();
    let put = source
        .put_object()
        .bucket(&t.bucket)
        .key(&key)
        .content_type("text/plain")
        .body(ByteStream::from(body.into_bytes()))
        .send()
        .await;
    let outcome = match put {
        Ok(_) => watch(&source, &clients, t, &key, t0, bound, &mut stop).await,
        Err(e) => Err(aws_error("PutObject", e).to_string()),
    };
    // Whatever happened, the object goes: every version of the key, in
    // every bucket (a retried PutObject may have made two).
    let mut cleanup = Vec::new();
    for (c, b) in std::iter::once((&source, &t.bucket)).chain(clients.iter().map(|(d, c)| (c, d))) {
        if let Err(e) = sweep(c, b, &key, false).await {
            cleanup.push(e);
        }
    }
    let seen = outcome?;
    if !cleanup.is_empty() {
        return Err(format!("could not remove {key}: {}", cleanup.join("; ")));
    }
    if stop.is_set() {
        return Err("interrupted".into());
    }
    Ok(check(t, &key, &seen, bound, removed))
}

/// Polls until the source is COMPLETED with every replica there, it
/// FAILED or no rule selected it, or the bound.
async fn watch(
    source: &Client,
    clients: &BTreeMap<String, Client>,
    t: &Target,
    key: &str,
    t0: Instant,
    bound: Duration,
    stop: &mut Stop,
) -> Result<Seen, String> {
    let mut seen = Seen { replicas: clients.keys().map(|d| (d.clone(), None)).collect(), ..Seen::default() };
    let mut delay = Duration::from_millis(250);
    loop {
        let head = source.head_object().bucket(&t.bucket).key(key).send().await;
        let status = match head {
            Ok(h) => h.replication_status().map(|s| s.as_str().to_string()),
            Err(e) => return Err(aws_error("HeadObject", e).to_string()),
        };
        seen.status = status.clone();
        for (d, c) in clients {
            if seen.replicas[d].is_some() {
                continue;
            }
            match c.head_object().bucket(d).key(key).send().await {
                Ok(_) => {
                    seen.replicas.insert(d.clone(), Some(t0.elapsed()));
                }
                Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
                Err(e) => return Err(aws_error("HeadObject", e).to_string()),
            }
        }
        let completed = matches!(
            status.as_deref().map(ReplicationStatus::from),
            Some(ReplicationStatus::Completed | ReplicationStatus::Complete)
        );
        if completed && seen.completed.is_none() {
            seen.completed = Some(t0.elapsed());
        }
        let all_there = seen.replicas.values().all(Option::is_some);
        // FAILED is final (S3 does not retry); no status: no rule selects it.
        if (completed && all_there) || status.is_none() || status.as_deref() == Some("FAILED") {
            return Ok(seen);
        }
        if t0.elapsed() >= bound {
            return Ok(seen);
        }
        let left = bound.saturating_sub(t0.elapsed());
        if stop.sleep(delay.min(left)).await {
            return Ok(seen);
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Deletes every version (and delete marker) under `prefix` in `bucket`:
/// all of them for this run's key, only leftovers past their deadline for
/// the reserved prefix. Returns how many went.
async fn sweep(c: &Client, bucket: &str, prefix: &str, leftovers_only: bool) -> Result<usize, String> {
    debug_assert!(prefix.starts_with(S3_PREFIX));
    let now = unix_now();
    let mut removed = 0;
    let mut marker: (Option<String>, Option<String>) = (None, None);
    loop {
        let page = c
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(marker.0.clone())
            .set_version_id_marker(marker.1.clone())
            .send()
            .await
            .map_err(|e| aws_error("ListObjectVersions", e).to_string())?;
        let versions = page
            .versions()
            .iter()
            .map(|v| (v.key(), v.version_id()))
            .chain(page.delete_markers().iter().map(|m| (m.key(), m.version_id())));
        for (k, v) in versions {
            let (Some(k), Some(v)) = (k, v) else { continue };
            // Never anything outside the reserved prefix.
            let Some(rest) = k.strip_prefix(S3_PREFIX) else { continue };
            if leftovers_only && !is_leftover(rest, now) {
                continue;
            }
            c.delete_object()
                .bucket(bucket)
                .key(k)
                .version_id(v)
                .send()
                .await
                .map_err(|e| aws_error("DeleteObject", e).to_string())?;
            removed += 1;
        }
        if page.is_truncated() != Some(true) {
            return Ok(removed);
        }
        marker = (page.next_key_marker().map(str::to_string), page.next_version_id_marker().map(str::to_string));
    }
}

fn check(t: &Target, key: &str, seen: &Seen, bound: Duration, removed: usize) -> Check {
    let regions: std::collections::BTreeSet<&str> = t.destinations.values().map(String::as_str).collect();
    let to = regions.into_iter().collect::<Vec<_>>().join(", ");
    let all_there = seen.replicas.values().all(Option::is_some);
    let ok = seen.completed.is_some() && all_there;
    let latency = seen.replicas.values().flatten().chain(seen.completed.iter()).max().copied();
    let within = latency.is_some_and(|l| l <= bound);
    let title = format!(
        "files canary {} ({}) → {}",
        t.bucket,
        t.region,
        t.destinations.keys().cloned().collect::<Vec<_>>().join(", ")
    );
    let ms = |d: &Option<Duration>| d.map_or(Json::Null, |d| json!(d.as_millis() as u64));
    let actual = json!({
        "status": seen.status,
        "latency_ms": if ok { ms(&latency) } else { Json::Null },
        "replicas": seen.replicas.iter().map(|(d, at)| (d.clone(), ms(at))).collect::<serde_json::Map<_, _>>(),
        "key": key,
        "leftovers_removed": removed,
    });
    let expected = json!({
        "status": "COMPLETED",
        "replicas": t.destinations.keys().collect::<Vec<_>>(),
        "max_ms": bound.as_millis() as u64,
    });
    let why = match seen.status.as_deref() {
        None => "was selected by no enabled replication rule".to_string(),
        Some("FAILED") => "failed to replicate (S3 reports FAILED, and does not retry it)".to_string(),
        Some(s) if !ok => format!("was still {s} after {}", bound_words(bound)),
        Some(s) => format!("took longer than {} ({s})", bound_words(bound)),
    };
    let c = Check::new("canary.s3", title, ok && within)
        .at(t.address.clone(), "canary")
        .values(expected, actual)
        .impact(format!(
            "files uploaded in {} are not copied to {to}: after a failover, users there miss the files uploaded \
             since; a test object written under {S3_PREFIX} {why}",
            t.region
        ))
        .fix(
            "check the replication rules and their role (`standby plan` shows what apply would restore), that the \
             destination bucket exists with versioning enabled, and the objects' FAILED replication events; \
             `--max-s3-canary` sets the bound",
        );
    match latency {
        Some(l) if ok => c.measured(format!("replicated in {} (bound {})", human(l), bound_words(bound))),
        _ => match seen.status.as_deref() {
            None => c.measured("not replicated: no rule selects it"),
            Some("FAILED") => c.measured("not replicated: FAILED"),
            _ => c.measured(format!("not replicated within {}", bound_words(bound))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            address: "module.files.aws_s3_bucket_replication.primary_to_secondary".into(),
            bucket: "files-west".into(),
            region: "us-west-1".into(),
            destinations: [("files-east".to_string(), "us-east-1".to_string())].into(),
        }
    }

    #[test]
    fn a_completed_replica_passes_with_its_latency() {
        let seen = Seen {
            status: Some("COMPLETED".into()),
            replicas: [("files-east".to_string(), Some(Duration::from_millis(900)))].into(),
            completed: Some(Duration::from_millis(1200)),
        };
        let c = check(&target(), "standby-canary/1-a", &seen, Duration::from_secs(60), 0);
        assert_eq!(c.status, crate::health::Status::Pass);
        assert_eq!(c.actual["latency_ms"], 1200);
        assert_eq!(c.measured.as_deref(), Some("replicated in 1.2 s (bound 1m)"));
    }

    #[test]
    fn failed_pending_and_unselected_fail_with_the_reason() {
        let mut seen = Seen {
            status: Some("FAILED".into()),
            replicas: [("files-east".to_string(), None)].into(),
            completed: None,
        };
        let c = check(&target(), "k", &seen, Duration::from_secs(900), 0);
        assert_eq!(c.status, crate::health::Status::Fail);
        assert!(c.impact.contains("FAILED") && c.impact.contains("us-east-1"), "{}", c.impact);
        seen.status = Some("PENDING".into());
        let c = check(&target(), "k", &seen, Duration::from_secs(900), 0);
        assert!(c.impact.contains("was still PENDING after 15m"), "{}", c.impact);
        assert_eq!(c.measured.as_deref(), Some("not replicated within 15m"));
        seen.status = None;
        let c = check(&target(), "k", &seen, Duration::from_secs(900), 0);
        assert!(c.impact.contains("selected by no enabled replication rule"), "{}", c.impact);
    }
}
