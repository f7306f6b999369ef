//! The search part of a role switch, on the domains' REST APIs as the
//! domains' master user (the only user allowed everywhere it is needed):
//!
//! - [`stop_followers`] in the new active region: the auto-follow rules
//!   there are deleted (no new followers), then every follower index is
//!   stopped (`_stop`: the plugin makes it a normal, writable index). Works
//!   with the leader's region down.
//! - [`delete_old_copies`] in the old active region: its copies of the
//!   replicated indices are deleted, so the reversed replication (the
//!   module's `_reverse` resources, made by the ordinary apply) can start
//!   them again from the new leader (the plugin refuses to follow into an
//!   existing index). The plan lists them with their document counts
//!   ([`count`]); the step deletes those and nothing else.
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

/// Deletes the auto-follow rules (`leader_alias:name`), then stops every
/// follower among `indices` and the matches of `patterns`. Returns the outcome.
pub async fn stop_followers(
    domain: &Domain,
    rules: &[String],
    indices: &[String],
    patterns: &[String],
) -> Result<String, KindError> {
    const RULE: &str = "DELETE _plugins/_replication/_autofollow";
    for rule in rules {
        let (alias, name) = rule.split_once(':').unwrap_or(("", rule));
        let body = json!({"leader_alias": alias, "name": name});
        // Repeating a delete answers "does not exist": safe to resend.
        let a = domain.send_idempotent(RULE, Method::DELETE, "/_plugins/_replication/_autofollow", Some(body)).await?;
        if !a.ok() && !a.reason().contains("does not exist") {
            return Err(a.into_error(RULE));
        }
    }
    let mut names: Vec<String> = indices.to_vec();
    for p in patterns {
        names.extend(count(domain, p).await?.into_iter().map(|i| i.index));
    }
    names.sort();
    names.dedup();
    let mut stopped = Vec::new();
    for index in &names {
        if index_replication::stop(domain, index).await? {
            stopped.push(index.clone());
        }
    }
    Ok(if stopped.is_empty() {
        "no follower left to stop (already writable)".into()
    } else {
        format!("stopped following, now writable: {}", stopped.join(", "))
    })
}

/// Deletes the listed indices (those the plan showed), each looked at first.
pub async fn delete_old_copies(domain: &Domain, indices: &[IndexDocs]) -> Result<String, KindError> {
    const CALL: &str = "DELETE /{index}";
    let mut gone = Vec::new();
    for i in indices {
        let exists = || -> std::pin::Pin<Box<dyn Future<Output = Result<bool, KindError>> + Send + '_>> {
            Box::pin(async { Ok(count(domain, &i.index).await?.is_empty()) })
        };
        if exists().await? {
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
    Ok(if gone.is_empty() {
        "already deleted (nothing asked)".into()
    } else {
        format!("deleted {}: the reversed replication copies them back", gone.join(", "))
    })
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
