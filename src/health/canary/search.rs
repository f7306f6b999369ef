//! The search canary: a document written to the canary index on the
//! leader, timed until the follower has it (a realtime GET by id).
//!
//! The index is the `pattern` of the auto-follow rule named
//! [`RULE_NAME`] (`standby-canary` in the search module); the first
//! run creates it on the leader and the rule makes the follower follow it,
//! as it would a new daily posts index. standby signs in on both domains as
//! the rule's user (the replication user), whom the module's
//! `standby_canary` role lets write that index and no other.
//!
//! Calls (domain REST, no IAM action): on the leader one `_search` of the
//! index (leftovers, deleted one by one), one PUT of the document and one
//! DELETE of it; on the follower one GET of the document per poll (250 ms
//! apart, doubling up to 5 s) and, while it is missing, the index's
//! replication `_status` (a PAUSED or FAILED follower fails the canary at
//! once).

use super::{RULE_NAME, Stop, bound_words, human, is_leftover, name, of_type, str_attr, unix_now};
use crate::health::Check;
use crate::health::dr::Input;
use crate::kinds::opensearch::rest::Domain;
use crate::state::{Instance, State};
use hyper::Method;
use serde_json::{Value as Json, json};
use std::time::{Duration, Instant};

/// One follower of the canary index.
pub struct Target {
    /// The canary's auto-follow rule (what the check is about).
    pub address: String,
    pub index: String,
    pub follower_region: String,
    pub leader_region: String,
    pub leader_domain: String,
    follower: Result<Domain, String>,
    leader: Result<Domain, String>,
}

fn rest(props: crate::value::Attrs) -> Result<Domain, String> {
    Domain::from_props(&props).map_err(|e| e.to_string())
}

/// Where the canary rules on record lead.
pub fn targets(input: &Input<'_>) -> Vec<Target> {
    let st = input.recorded;
    of_type(st, "opensearch_autofollow_rule")
        .filter(|(_, i)| str_attr(i, "rule_name") == Some(RULE_NAME))
        .map(|(address, rule)| {
            let mut props = rule.attrs.clone();
            props.extend(input.secrets.get(&address).cloned().unwrap_or_default());
            let alias = str_attr(rule, "leader_alias").unwrap_or_default();
            let conn = of_type(st, "aws_opensearch_outbound_connection")
                .find(|(_, c)| c.region == rule.region && str_attr(c, "connection_alias") == Some(alias))
                .map(|(_, c)| c);
            let leader_domain = conn.and_then(|c| str_attr(c, "remote_domain_name")).unwrap_or_default();
            let leader_region = conn.and_then(|c| str_attr(c, "remote_region")).unwrap_or_default();
            let endpoint = of_type(st, "aws_opensearch_domain")
                .find(|(_, d)| str_attr(d, "domain_name") == Some(leader_domain))
                .and_then(|(_, d)| str_attr(d, "endpoint"))
                .map(str::to_string);
            // The same user on the leader (the replication user has one name
            // on both domains), reached the way the module reaches it.
            let leader = match &endpoint {
                Some(host) => {
                    let mut p = props.clone();
                    p.insert("domain_endpoint".into(), crate::value::Value::str(host));
                    p.remove("endpoint_url");
                    if let Some(url) = endpoint_url(st, host) {
                        p.insert("endpoint_url".into(), crate::value::Value::str(url));
                    }
                    rest(p)
                }
                None => Err(format!("the leader domain of connection {alias:?} is not on record")),
            };
            Target {
                address,
                index: str_attr(rule, "pattern").unwrap_or(RULE_NAME).to_string(),
                follower_region: rule.region.clone(),
                leader_region: leader_region.to_string(),
                leader_domain: leader_domain.to_string(),
                follower: rest(props),
                leader,
            }
        })
        .collect()
}

/// A REST resource's `endpoint_url` for the domain `host`, if one sets it.
fn endpoint_url(st: &State, host: &str) -> Option<String> {
    st.resources
        .values()
        .filter(|i: &&Instance| i.type_name.starts_with("opensearch_"))
        .filter(|i| str_attr(i, "domain_endpoint") == Some(host))
        .find_map(|i| str_attr(i, "endpoint_url").map(str::to_string))
}

pub async fn run(input: &Input<'_>, bound: Duration, stop: Stop) -> Result<Vec<Check>, Vec<String>> {
    let targets = targets(input);
    if targets.is_empty() {
        return Ok(missing_rule(input.recorded).into_iter().collect());
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for t in &targets {
        match canary(t, bound, stop.clone()).await {
            Ok(c) => out.push(c),
            Err(e) => errors.push(format!("{}: search canary: {e}{}", t.address, super::permission_hint(&e))),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// Search replication on record without the canary's rule (a module from
/// before it): a warning that says how to get it.
fn missing_rule(st: &State) -> Option<Check> {
    let (address, rule) = of_type(st, "opensearch_autofollow_rule").next()?;
    Some(
        Check::new("canary.search", format!("search canary ({})", rule.region), false)
            .at(address, "")
            .values(json!({"rule": RULE_NAME}), Json::Null)
            .impact("unknown: without a canary index nobody measured whether new documents reach the follower")
            .fix(format!(
                "no auto-follow rule named {RULE_NAME} is on record: apply the current \
                 opensearch-cross-cluster-replication module (its `canary` rule and `standby_canary` role)"
            ))
            .warn_if(true),
    )
}

/// What the follower showed.
#[derive(Default)]
struct Seen {
    arrived: Option<Duration>,
    /// The follower index's replication status, when asked.
    status: Option<String>,
    reason: Option<String>,
    follower_has_index: bool,
    /// This run made the leader's index (the rule had nothing to follow yet).
    created: bool,
}

async fn canary(t: &Target, bound: Duration, mut stop: Stop) -> Result<Check, String> {
    let leader = t.leader.as_ref().map_err(|e| format!("cannot reach the leader: {e}"))?;
    let follower = t.follower.as_ref().map_err(|e| format!("cannot reach the follower: {e}"))?;
    let index = &t.index;
    let (existing, removed) = sweep(leader, index).await?;
    let id = name(bound);
    let doc = json!({
        "canary": "standby drift",
        "written_at": crate::drift::now_rfc3339(),
        "note": "removed by the run that wrote it, or by a later one after the deadline in its id",
    });
    let t0 = Instant::now();
    const PUT: &str = "PUT {index}/_doc/{id}";
    let put = leader.send_idempotent(PUT, Method::PUT, &format!("/{index}/_doc/{id}"), Some(doc)).await;
    let outcome = match put {
        Ok(a) if a.ok() => watch(follower, index, &id, t0, bound, &mut stop).await,
        Ok(a) => Err(a.into_error(PUT).to_string()),
        Err(e) => Err(e.to_string()),
    };
    // Whatever happened, the document goes (the delete replicates too).
    let cleanup = delete(leader, index, &id).await;
    let mut seen = outcome?;
    cleanup?;
    if stop.is_set() {
        return Err("interrupted".into());
    }
    seen.created = !existing;
    Ok(check(t, &id, &seen, bound, removed))
}

/// The leader's canary documents past their deadline, deleted. Returns
/// whether the index exists, and how many went.
async fn sweep(leader: &Domain, index: &str) -> Result<(bool, usize), String> {
    const CALL: &str = "POST {index}/_search";
    let body = json!({"size": 100, "_source": false, "query": {"match_all": {}}});
    // A search changes nothing: safe to repeat.
    let a = leader
        .send_idempotent(CALL, Method::POST, &format!("/{index}/_search"), Some(body))
        .await
        .map_err(|e| e.to_string())?;
    if a.status.as_u16() == 404 && a.error_type() == Some("index_not_found_exception") {
        return Ok((false, 0));
    }
    if !a.ok() {
        return Err(a.into_error(CALL).to_string());
    }
    let now = unix_now();
    let mut removed = 0;
    let hits = a.body["hits"]["hits"].as_array().cloned().unwrap_or_default();
    for id in hits.iter().filter_map(|h| h["_id"].as_str()).filter(|id| is_leftover(id, now)) {
        delete(leader, index, id).await?;
        removed += 1;
    }
    Ok((true, removed))
}

async fn delete(leader: &Domain, index: &str, id: &str) -> Result<(), String> {
    const CALL: &str = "DELETE {index}/_doc/{id}";
    let a = leader
        .send_idempotent(CALL, Method::DELETE, &format!("/{index}/_doc/{id}"), None)
        .await
        .map_err(|e| e.to_string())?;
    // Already gone (a retry, or the index with it) is what was wanted.
    if a.ok() || a.status.as_u16() == 404 { Ok(()) } else { Err(a.into_error(CALL).to_string()) }
}

async fn watch(
    follower: &Domain,
    index: &str,
    id: &str,
    t0: Instant,
    bound: Duration,
    stop: &mut Stop,
) -> Result<Seen, String> {
    const GET: &str = "GET {index}/_doc/{id}";
    const STATUS: &str = "GET _plugins/_replication/{index}/_status";
    let mut seen = Seen::default();
    let mut delay = Duration::from_millis(250);
    loop {
        let a =
            follower.send(GET, Method::GET, &format!("/{index}/_doc/{id}"), None).await.map_err(|e| e.to_string())?;
        if a.ok() && a.body["found"] == true {
            seen.arrived = Some(t0.elapsed());
            seen.follower_has_index = true;
            return Ok(seen);
        }
        match (a.status.as_u16(), a.error_type()) {
            (404, Some("index_not_found_exception")) => seen.follower_has_index = false,
            (404, _) => seen.follower_has_index = true,
            _ => return Err(a.into_error(GET).to_string()),
        }
        if seen.follower_has_index {
            let s = follower
                .send(STATUS, Method::GET, &format!("/_plugins/_replication/{index}/_status"), None)
                .await
                .map_err(|e| e.to_string())?;
            if !s.ok() {
                return Err(s.into_error(STATUS).to_string());
            }
            seen.status = s.body["status"].as_str().map(str::to_string);
            seen.reason = s.body["reason"].as_str().map(str::to_string);
            // Not following (paused, failed, stopped, a plain index): the
            // document cannot arrive; say so now rather than at the bound.
            if !matches!(seen.status.as_deref(), Some("SYNCING" | "BOOTSTRAPPING" | "RUNNING")) {
                return Ok(seen);
            }
        }
        if t0.elapsed() >= bound {
            return Ok(seen);
        }
        if stop.sleep(delay.min(bound.saturating_sub(t0.elapsed()))).await {
            return Ok(seen);
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

fn check(t: &Target, id: &str, seen: &Seen, bound: Duration, removed: usize) -> Check {
    let ok = seen.arrived.is_some_and(|l| l <= bound);
    let title = format!("search canary {} ({}, {}) → {}", t.index, t.leader_domain, t.leader_region, t.follower_region);
    let actual = json!({
        "latency_ms": seen.arrived.map(|d| d.as_millis() as u64),
        "follower_index": seen.follower_has_index,
        "replication": seen.status,
        "reason": seen.reason,
        "document": id,
        "leftovers_removed": removed,
    });
    let expected = json!({"max_ms": bound.as_millis() as u64, "replication": "SYNCING"});
    let stopped = seen.follower_has_index
        && seen.status.as_deref().is_some_and(|s| !matches!(s, "SYNCING" | "BOOTSTRAPPING" | "RUNNING"));
    let why = if stopped {
        format!(
            "its copy of {} is not replicating ({}{})",
            t.index,
            seen.status.as_deref().unwrap_or_default(),
            seen.reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
        )
    } else if !seen.follower_has_index {
        format!(
            "it does not follow {} at all: the auto-follow rule did not pick the index up, as it would miss a new \
             daily posts index",
            t.index
        )
    } else {
        format!("it had not arrived after {}", bound_words(bound))
    };
    let c = Check::new("canary.search", title, ok)
        .at(t.address.clone(), "canary")
        .values(expected, actual)
        .impact(format!(
            "new posts are not searchable in {} after a failover: a test document written to {} in {} did not \
             reach the follower; {why}",
            t.follower_region, t.index, t.leader_region
        ))
        .fix(
            "see the replication status of the follower's indices (`GET _plugins/_replication/<index>/_status`): \
             resume a paused replication; `standby plan` and apply restart failed ones and the auto-follow rules; \
             `--max-search-canary` sets the bound",
        );
    match seen.arrived {
        Some(l) if ok => c.measured(format!("replicated in {} (bound {})", human(l), bound_words(bound))),
        // Just created: the rule follows it within its poll interval (30 s
        // by default), and the next run measures it.
        _ if seen.created && !seen.follower_has_index => Check {
            fix: Some(format!(
                "this run created {} on the leader; the auto-follow rule starts following it within its poll \
                 interval (30 s by default), so the next run measures the latency",
                t.index
            )),
            ..c.measured("not measured yet: the index is new").warn_if(true)
        },
        _ if stopped => {
            let status = seen.status.clone().unwrap_or_default();
            c.measured(format!("not replicated: the follower's copy is {status}"))
        }
        _ => c.measured(format!("not replicated within {}", bound_words(bound))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            address: "module.search.opensearch_autofollow_rule.canary[0]".into(),
            index: "standby-canary".into(),
            follower_region: "us-east-1".into(),
            leader_region: "us-west-1".into(),
            leader_domain: "mm-os-us-west-1".into(),
            follower: Err("n/a".into()),
            leader: Err("n/a".into()),
        }
    }

    #[test]
    fn arrival_within_the_bound_passes_a_paused_follower_fails_with_the_impact() {
        let ok = Seen { arrived: Some(Duration::from_millis(40)), follower_has_index: true, ..Seen::default() };
        let c = check(&target(), "1-a", &ok, Duration::from_secs(60), 0);
        assert_eq!(c.status, crate::health::Status::Pass);
        assert_eq!(c.measured.as_deref(), Some("replicated in 40 ms (bound 1m)"));
        let paused = Seen {
            status: Some("PAUSED".into()),
            reason: Some("User initiated".into()),
            follower_has_index: true,
            ..Seen::default()
        };
        let c = check(&target(), "1-a", &paused, Duration::from_secs(60), 0);
        assert_eq!(c.status, crate::health::Status::Fail);
        assert!(c.impact.starts_with("new posts are not searchable in us-east-1 after a failover"), "{}", c.impact);
        assert!(c.impact.contains("not replicating (PAUSED: User initiated)"), "{}", c.impact);
        assert_eq!(c.measured.as_deref(), Some("not replicated: the follower's copy is PAUSED"));
    }

    #[test]
    fn a_new_index_not_followed_yet_warns_an_old_one_fails() {
        let new = Seen { created: true, ..Seen::default() };
        assert_eq!(check(&target(), "1-a", &new, Duration::from_secs(60), 0).status, crate::health::Status::Warn);
        let old = Seen::default();
        let c = check(&target(), "1-a", &old, Duration::from_secs(60), 0);
        assert_eq!(c.status, crate::health::Status::Fail);
        assert!(c.impact.contains("auto-follow rule did not pick the index up"), "{}", c.impact);
        assert_eq!(c.measured.as_deref(), Some("not replicated within 1m"));
    }
}
