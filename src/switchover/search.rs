//! The search part of a role switch, on the domains' REST APIs as the
//! domains' master user (the only user allowed everywhere it is needed):
//!
//! - [`stop_followers`] in the new active region: the auto-follow rules
//!   there are deleted (no new followers), then every follower index is
//!   stopped (`_stop`: the plugin makes it a normal, writable index). Works
//!   with the leader's region down. In a planned switchover it first waits
//!   ([`CatchUp`]) until every follower has replayed all its leader's
//!   operations (`_status` `syncing_details.follower_checkpoint ==
//!   leader_checkpoint`): stopping earlier would leave them behind for good.
//!   A follower still bootstrapping (restoring its leader's segments) is
//!   left as it is: the plugin *deletes* an index stopped while it restores
//!   (`TransportStopIndexReplicationAction`, 2.11: "Index will be deleted if
//!   replication is stopped while it is restoring"). With the leader gone,
//!   `_status` cannot tell (it asks the leader for a RUNNING replication and
//!   answers 500 "failed to fetch replication status"), so the index's
//!   active recoveries tell instead: the bootstrap is a restore from the
//!   leader, a recovery of type SNAPSHOT.
//! - [`delete_old_copies`] in the old active region: its copies of the
//!   replicated indices are deleted, so the reversed replication (the
//!   module's `_reverse` resources, made by the ordinary apply) can start
//!   them again from the new leader (the plugin refuses to follow into an
//!   existing index). The plan lists them with their document counts
//!   ([`count`]); the step deletes those and nothing else, and only those
//!   the new leader has: the old copy of an index the new leader lacks (a
//!   follower that was still bootstrapping at a failover) is the only one
//!   left, kept, and said so.
//!
//! Each looks first (`_status`, `GET /<index>`): repeating a step that took
//! effect does nothing.

use super::IndexDocs;
use crate::kinds::KindError;
use crate::kinds::opensearch::index_replication;
use crate::kinds::opensearch::rest::Domain;
use crate::state::State;
use crate::value::{Attrs, Value};
use hyper::Method;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// `STANDBY_SEARCH_CATCHUP_SECS`: in a planned switchover, the longest wait
/// (seconds) for the search followers to catch up with their leaders before
/// they are stopped (default 300).
pub const ENV_CATCHUP_SECS: &str = "STANDBY_SEARCH_CATCHUP_SECS";

/// How a planned switchover waits for the followers before stopping them.
pub struct CatchUp<'a> {
    pub timeout: Duration,
    /// Past the timeout (or a follower that cannot catch up): warn and stop anyway.
    pub force: bool,
    pub progress: &'a (dyn Fn(&str) + Send + Sync),
}

impl<'a> CatchUp<'a> {
    /// The timeout from [`ENV_CATCHUP_SECS`].
    pub fn new(force: bool, progress: &'a (dyn Fn(&str) + Send + Sync)) -> CatchUp<'a> {
        let secs = std::env::var(ENV_CATCHUP_SECS).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(300);
        CatchUp { timeout: Duration::from_secs(secs), force, progress }
    }
}

/// Where a follower stands: caught up, behind (leader and follower
/// checkpoints), still copying, or not following at all.
#[derive(Debug, PartialEq)]
enum Standing {
    CaughtUp,
    Behind {
        leader: i64,
        follower: i64,
    },
    Bootstrapping,
    NotFollowing,
    /// PAUSED, FAILED, …: it will not catch up by waiting.
    Stuck {
        status: String,
        reason: String,
    },
}

async fn standing(domain: &Domain, index: &str) -> Result<Standing, KindError> {
    const CALL: &str = "GET _plugins/_replication/{index}/_status";
    let a = domain.send(CALL, Method::GET, &format!("/_plugins/_replication/{index}/_status"), None).await?;
    if !a.ok() {
        return Err(a.into_error(CALL));
    }
    let text = |k: &str| a.body.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let status = text("status");
    let details = &a.body["syncing_details"];
    Ok(match status.as_str() {
        "" | "REPLICATION NOT IN PROGRESS" => Standing::NotFollowing,
        "SYNCING" => match (details["leader_checkpoint"].as_i64(), details["follower_checkpoint"].as_i64()) {
            (Some(leader), Some(follower)) if follower < leader => Standing::Behind { leader, follower },
            _ => Standing::CaughtUp,
        },
        "BOOTSTRAPPING" | "RUNNING" => Standing::Bootstrapping,
        _ => Standing::Stuck { status, reason: text("reason") },
    })
}

/// Waits until none of `names` is behind its leader; see [`CatchUp`].
async fn wait_caught_up(domain: &Domain, names: &[String], c: &CatchUp<'_>) -> Result<(), KindError> {
    let t0 = Instant::now();
    let mut last_note: Option<Instant> = None;
    let mut delay = Duration::from_millis(200);
    let mut pending: Vec<String> = names.to_vec();
    loop {
        let mut behind = Vec::new();
        let mut still = Vec::new();
        for index in &pending {
            match standing(domain, index).await? {
                Standing::CaughtUp | Standing::NotFollowing => {}
                Standing::Behind { leader, follower } => {
                    behind.push(format!("{index} (leader_checkpoint {leader}, follower_checkpoint {follower})"));
                    still.push(index.clone());
                }
                Standing::Bootstrapping => {
                    behind.push(format!("{index} (still bootstrapping)"));
                    still.push(index.clone());
                }
                Standing::Stuck { status, reason } if c.force => {
                    (c.progress)(&format!(
                        "    Warning: --force: stopping {index} although it is {status} ({reason}): it may miss \
                         its leader's latest operations"
                    ));
                }
                Standing::Stuck { status, reason } => {
                    return Err(KindError::Failed(format!(
                        "search follower {index} is {status} ({reason}): it cannot catch up with its leader, so \
                         stopping it would lose the leader's latest operations\n  hint: resume or restart its \
                         replication, or re-run with --force to stop it as it is"
                    )));
                }
            }
        }
        if still.is_empty() {
            if last_note.is_some() {
                (c.progress)(&format!("    search followers caught up ({}s)", t0.elapsed().as_secs()));
            }
            return Ok(());
        }
        pending = still;
        if t0.elapsed() >= c.timeout {
            let list = behind.join(", ");
            if c.force {
                (c.progress)(&format!(
                    "    Warning: --force: stopping followers not caught up after {}s: {list}",
                    c.timeout.as_secs()
                ));
                return Ok(());
            }
            return Err(KindError::Failed(format!(
                "search followers not caught up with their leaders after {}s: {list}; stopping them now would lose \
                 the operations they have not replayed\n  hint: check the replication (GET \
                 _plugins/_replication/<index>/_status), wait longer ({ENV_CATCHUP_SECS}), or re-run with --force \
                 to stop them as they are",
                c.timeout.as_secs()
            )));
        }
        if last_note.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            last_note = Some(Instant::now());
            (c.progress)(&format!(
                "    waiting for search followers to catch up ({}s elapsed): {}",
                t0.elapsed().as_secs(),
                behind.join(", ")
            ));
        }
        tokio::time::sleep(delay.min(c.timeout.saturating_sub(t0.elapsed()))).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// The domain reached as its master user through the REST resource `via`
/// (an internal user of the module, in the step's region): its endpoint
/// from the state, the password from the configuration.
pub fn domain(st: &State, secrets: &BTreeMap<String, Attrs>, via: &str) -> Result<Domain, KindError> {
    let inst = crate::state::file::instance_addr(via)
        .and_then(|a| st.resources.get(&a))
        .ok_or_else(|| KindError::Failed(format!("{via} is not in the state: cannot reach its domain")))?;
    let mut props = inst.attrs.clone();
    props.extend(secrets.get(via).cloned().unwrap_or_default());
    Domain::from_props(&props)
}

/// The indices matching `expr` (names or patterns, comma-separated) with
/// their document counts; none when nothing matches.
pub async fn count(domain: &Domain, expr: &str) -> Result<Vec<IndexDocs>, KindError> {
    const CALL: &str = "GET _cat/indices/{index}";
    let path = format!("/_cat/indices/{expr}?format=json&h=index,docs.count");
    let a = domain.send(CALL, Method::GET, &path, None).await?;
    if a.status.as_u16() == 404 {
        return Ok(Vec::new());
    }
    if !a.ok() {
        return Err(a.into_error(CALL));
    }
    let mut out: Vec<IndexDocs> = a
        .body
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let index = r.get("index")?.as_str()?.to_string();
            let docs = r.get("docs.count").and_then(|d| d.as_str()?.parse().ok().or_else(|| d.as_u64()));
            Some(IndexDocs { index, docs })
        })
        .collect();
    out.sort_by(|a, b| a.index.cmp(&b.index));
    Ok(out)
}

/// A search step's outcome line, and notes for the run.
pub struct Outcome {
    pub outcome: String,
    pub notes: Vec<String>,
}

/// Whether `index` is still restoring its leader's segments: an active
/// recovery of type SNAPSHOT (`GET /<index>/_recovery?active_only=true`, a
/// local call that works with the leader gone, unlike `_status`).
async fn restoring(domain: &Domain, index: &str) -> Result<bool, KindError> {
    const CALL: &str = "GET /{index}/_recovery";
    let a = domain.send(CALL, Method::GET, &format!("/{index}/_recovery?active_only=true"), None).await?;
    if a.status.as_u16() == 404 {
        return Ok(false);
    }
    if !a.ok() {
        return Err(a.into_error(CALL));
    }
    let shards = a.body.get(index).and_then(|i| i.get("shards")).and_then(|s| s.as_array()).cloned();
    Ok(shards.unwrap_or_default().iter().any(|s| s.get("type").and_then(|t| t.as_str()) == Some("SNAPSHOT")))
}

/// Waits for the followers to catch up (`catch_up`), deletes the
/// auto-follow rules (`leader_alias:name`), then stops every follower among
/// `indices` and the matches of `patterns`, except one still bootstrapping
/// (stopping it would delete it). Returns the outcome.
pub async fn stop_followers(
    domain: &Domain,
    rules: &[String],
    indices: &[String],
    patterns: &[String],
    catch_up: Option<&CatchUp<'_>>,
) -> Result<Outcome, KindError> {
    const RULE: &str = "DELETE _plugins/_replication/_autofollow";
    // Listed once: the rules deleted next start no new follower.
    let names = followers(domain, indices, patterns).await?;
    if let Some(c) = catch_up {
        wait_caught_up(domain, &names, c).await?;
    }
    for rule in rules {
        let (alias, name) = rule.split_once(':').unwrap_or(("", rule));
        let body = json!({"leader_alias": alias, "name": name});
        // Repeating a delete answers "does not exist": safe to resend.
        let a = domain.send_idempotent(RULE, Method::DELETE, "/_plugins/_replication/_autofollow", Some(body)).await?;
        if !a.ok() && !a.reason().contains("does not exist") {
            return Err(a.into_error(RULE));
        }
    }
    let mut stopped = Vec::new();
    let mut left = Vec::new();
    for index in &names {
        // Caught up (a planned switchover) means none is bootstrapping: no look needed.
        // Otherwise the leader may be gone, and `_status` with it: the index's
        // own recoveries say whether it still restores.
        if catch_up.is_none() && restoring(domain, index).await? {
            left.push(index.clone());
            continue;
        }
        if index_replication::stop(domain, index).await? {
            stopped.push(index.clone());
        }
    }
    let mut outcome = if stopped.is_empty() {
        "no follower left to stop (already writable)".to_string()
    } else {
        format!("stopped following, now writable: {}", stopped.join(", "))
    };
    let mut notes = Vec::new();
    if !left.is_empty() {
        let list = left.join(", ");
        outcome.push_str(&format!("; left following (still bootstrapping: _stop would delete them): {list}"));
        notes.push(format!(
            "Search: {list} was still copying its leader's data when the followers stopped, and stays a read-only \
             follower (stopping it would have deleted it). Its old leader's copy is kept when that region returns \
             (never deleted while the new leader lacks it). To serve it here: delete the incomplete follower \
             (`DELETE /<index>` on the new leader; Mattermost creates it again as it indexes) and re-index it with \
             Mattermost's bulk indexing"
        ));
    }
    Ok(Outcome { outcome, notes })
}

/// The named indices and those matching the patterns, sorted.
async fn followers(domain: &Domain, indices: &[String], patterns: &[String]) -> Result<Vec<String>, KindError> {
    let mut names: Vec<String> = indices.to_vec();
    for p in patterns {
        names.extend(count(domain, p).await?.into_iter().map(|i| i.index));
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// Deletes the listed indices (those the plan showed), each looked at
/// first, except one the new leader (`new`) lacks: that old copy is the
/// only one there is.
pub async fn delete_old_copies(
    domain: &Domain,
    new: Option<&Domain>,
    indices: &[IndexDocs],
) -> Result<Outcome, KindError> {
    const CALL: &str = "DELETE /{index}";
    let mut gone = Vec::new();
    let mut kept = Vec::new();
    for i in indices {
        let exists = || -> std::pin::Pin<Box<dyn Future<Output = Result<bool, KindError>> + Send + '_>> {
            Box::pin(async { Ok(count(domain, &i.index).await?.is_empty()) })
        };
        if exists().await? {
            continue;
        }
        // The new leader has no complete copy: none, or a follower still
        // (one that was bootstrapping when its leader went down).
        if let Some(new) = new
            && (count(new, &i.index).await?.is_empty() || index_replication::is_follower(new, &i.index).await?)
        {
            kept.push(i.index.clone());
            continue;
        }
        // A follower here would mean the old region still follows: refuse.
        if index_replication::is_follower(domain, &i.index).await? {
            return Err(KindError::Failed(format!(
                "{} is still a follower index on this domain; not deleting it",
                i.index
            )));
        }
        let a = domain.send_observed(CALL, Method::DELETE, &format!("/{}", i.index), None, Some(&exists)).await?;
        if !a.ok() && a.status.as_u16() != 404 {
            return Err(a.into_error(CALL));
        }
        gone.push(i.index.clone());
    }
    let mut outcome = if gone.is_empty() {
        "already deleted (nothing asked)".to_string()
    } else {
        format!("deleted {}: the reversed replication copies them back", gone.join(", "))
    };
    let mut notes = Vec::new();
    if !kept.is_empty() {
        let list = kept.join(", ");
        outcome.push_str(&format!("; kept {list}: the new leader has no complete copy"));
        notes.push(format!(
            "Search: {list} is complete only on the old leader (the new leader has none, or a follower copy that \
             never finished bootstrapping), so it was not deleted; the reversed replication cannot start into it \
             until it is gone. Make the new leader's copy complete first (stop and delete an unfinished follower \
             there, then re-index with Mattermost's bulk indexing), then delete the old copy (`DELETE /<index>` on \
             the old domain) and apply"
        ));
    }
    Ok(Outcome { outcome, notes })
}

/// Plain words for a list with counts: `channels (3 documents), …`.
pub fn describe(indices: &[IndexDocs]) -> String {
    let known: Vec<u64> = indices.iter().filter_map(|i| i.docs).collect();
    let each: Vec<String> = indices
        .iter()
        .map(|i| match i.docs {
            Some(n) => format!("{} ({n} document{})", i.index, if n == 1 { "" } else { "s" }),
            None => format!("{} (count not readable now)", i.index),
        })
        .collect();
    let total = if known.len() == indices.len() {
        format!("; {} documents in all", known.iter().sum::<u64>())
    } else {
        String::new()
    };
    format!("{}{total}", each.join(", "))
}

/// `true` when a string attribute is present.
pub fn attr<'a>(a: &'a Attrs, k: &str) -> Option<&'a str> {
    a.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}
