//! DR health of a deployed topology, from the state as refreshed (what AWS
//! reports for each managed resource) plus a bounded number of live probes:
//! one DescribeGlobalClusters per global database and one CloudWatch
//! GetMetricData per secondary cluster ([`super::db_lag`]), one
//! DescribeOutboundConnections per connection, and per follower domain one
//! `follower_stats` and one `autofollow_stats` (REST).
//!
//! Each check names the resource and attribute it is about, so a drift
//! finding on the same attribute is named by the unhealthy one.
//!
//! The app tier's checks live in [`super::app`]. Not checked yet: DNS.

use super::Check;
use crate::address::InstanceAddr;
use crate::kinds::opensearch::rest::Domain;
use crate::state::{Instance, State};
use crate::value::{Attrs, Value};
use hyper::Method;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;

pub use super::{Bounds, DEFAULT_DB_LAG, Input};

fn s<'a>(a: &'a Attrs, k: &str) -> &'a str {
    a.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn of_type<'a>(st: &'a State, t: &'a str) -> impl Iterator<Item = (&'a InstanceAddr, &'a Instance)> + 'a {
    st.resources.iter().filter(move |(_, i)| i.type_name == t)
}

/// Runs every DR check. Errors are probes that could not run (network,
/// permissions): a drift job must not report "healthy" when it could not look.
pub async fn run(input: &Input<'_>) -> Result<Vec<Check>, Vec<String>> {
    let mut checks = Vec::new();
    let mut errors = Vec::new();
    s3_versioning(input, &mut checks);
    s3_replication(input, &mut checks);
    let (db, search, app) = tokio::join!(database(input), search(input), super::app::checks(input));
    for part in [db, search, app] {
        match part {
            Ok(c) => checks.extend(c),
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    checks.sort_by(|a, b| (a.id, &a.address, &a.title).cmp(&(b.id, &b.address, &b.title)));
    Ok(checks)
}

/// The region of the bucket named by `arn` (or name), when standby manages it.
fn bucket_region(st: &State, arn_or_name: &str) -> Option<String> {
    let name = arn_or_name.trim_start_matches("arn:aws:s3:::");
    of_type(st, "aws_s3_bucket").find(|(_, i)| s(&i.attrs, "bucket") == name).map(|(_, i)| i.region.clone())
}

fn s3_versioning(input: &Input<'_>, out: &mut Vec<Check>) {
    for (addr, inst) in of_type(input.recorded, "aws_s3_bucket_versioning") {
        let bucket = s(&inst.attrs, "bucket");
        let actual = input.refreshed.resources.get(addr).map(|i| s(&i.attrs, "status")).unwrap_or_default();
        out.push(
            Check::new("s3.versioning", format!("versioning on {bucket} ({})", inst.region), actual == "Enabled")
                .at(addr.to_string(), "status")
                .values(json!("Enabled"), if actual.is_empty() { Json::Null } else { json!(actual) })
                .impact(format!(
                    "files in {bucket} ({}) stop replicating in both directions: S3 replicates only between \
                     versioned buckets",
                    inst.region
                ))
                .fix("run `standby plan` and apply: it enables versioning again"),
        );
    }
}

fn s3_replication(input: &Input<'_>, out: &mut Vec<Check>) {
    for (addr, inst) in of_type(input.recorded, "aws_s3_bucket_replication") {
        let bucket = s(&inst.attrs, "bucket");
        let wanted = inst.attrs.get("rules").and_then(Value::as_list).unwrap_or_default();
        let seen = input.refreshed.resources.get(addr).and_then(|i| i.attrs.get("rules")).and_then(Value::as_list);
        let brief = |r: &Value| {
            let m = r.as_map().cloned().unwrap_or_default();
            json!({
                "id": m.get("id").and_then(Value::as_str),
                "status": m.get("status").and_then(Value::as_str),
                "replica_modifications": m.get("replica_modifications").and_then(Value::as_bool).unwrap_or(false),
            })
        };
        let expected: Vec<Json> = wanted
            .iter()
            .map(|r| json!({"id": brief(r)["id"], "status": "Enabled", "replica_modifications": true}))
            .collect();
        let actual: Option<Vec<Json>> = seen.map(|l| l.iter().map(brief).collect());
        let ok = actual.as_ref().is_some_and(|a| expected.iter().all(|e| a.contains(e)));
        let dest: Vec<String> = wanted
            .iter()
            .filter_map(|r| r.as_map().and_then(|m| m.get("destination_bucket")).and_then(Value::as_str))
            .map(|d| bucket_region(input.recorded, d).unwrap_or_else(|| d.trim_start_matches("arn:aws:s3:::").into()))
            .collect();
        let to = if dest.is_empty() { "the other region".to_string() } else { dest.join(", ") };
        out.push(
            Check::new("s3.replication", format!("replication {} → {to} ({bucket})", inst.region), ok)
                .at(addr.to_string(), "rules")
                .values(Json::Array(expected), actual.map_or(Json::Null, Json::Array))
                .impact(format!(
                    "files uploaded in {} after this are not copied to {to}, so they are missing there after a \
                     failover",
                    inst.region
                ))
                .fix("run `standby plan` and apply: it restores the replication rules"),
        );
    }
}

/// Global database members (synchronised, no failover under way, the writer
/// where it was) and write forwarding on the secondaries.
async fn database(input: &Input<'_>) -> Result<Vec<Check>, Vec<String>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (addr, inst) in of_type(input.recorded, "aws_rds_global_cluster") {
        let id = s(&inst.attrs, "global_cluster_identifier");
        let rds = input.aws.rds(&inst.region).await;
        let g = match rds.describe_global_clusters().global_cluster_identifier(id).send().await {
            Ok(o) => o.global_clusters().iter().find(|g| g.global_cluster_identifier() == Some(id)).cloned(),
            Err(e) if crate::kinds::aws::is_gone(&e, &["GlobalClusterNotFoundFault"]) => None,
            Err(e) => {
                errors.push(format!("{addr}: {}", crate::kinds::aws::aws_error("DescribeGlobalClusters", e)));
                continue;
            }
        };
        let members: Vec<Json> = g
            .iter()
            .flat_map(|g| g.global_cluster_members())
            .map(|m| {
                json!({
                    "cluster": m.db_cluster_arn().map(crate::kinds::rds::cluster_id_of),
                    "writer": m.is_writer().unwrap_or(false),
                    "synchronization": m.synchronization_status().map(|s| s.as_str()),
                    "write_forwarding": m.global_write_forwarding_status().map(|s| s.as_str()),
                })
            })
            .collect();
        let failover = g.as_ref().and_then(|g| g.failover_state()).and_then(|f| f.status()).map(|s| s.as_str());
        // Every cluster standby joined to it must still be a member.
        let expected: Vec<String> = of_type(input.recorded, "aws_rds_cluster")
            .filter(|(_, c)| s(&c.attrs, "global_cluster_identifier") == id)
            .map(|(_, c)| s(&c.attrs, "cluster_identifier").to_string())
            .chain(Some(crate::kinds::rds::cluster_id_of(s(&inst.attrs, "writer_cluster_arn")).to_string()))
            .filter(|c| !c.is_empty())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let writer_was = crate::kinds::rds::cluster_id_of(s(&inst.attrs, "writer_cluster_arn")).to_string();
        let writer_now = members.iter().find(|m| m["writer"] == true).and_then(|m| m["cluster"].as_str());
        let missing: Vec<&String> =
            expected.iter().filter(|c| !members.iter().any(|m| m["cluster"].as_str() == Some(c.as_str()))).collect();
        let unsynced: Vec<&Json> = members
            .iter()
            .filter(|m| m["writer"] == false && m["synchronization"].as_str().is_some_and(|s| s != "connected"))
            .collect();
        let ok = g.is_some()
            && missing.is_empty()
            && unsynced.is_empty()
            && failover.is_none()
            && (writer_was.is_empty() || writer_now == Some(writer_was.as_str()));
        let why = if g.is_none() {
            "the global database is gone: there is nothing to fail over to".to_string()
        } else if let Some(f) = failover {
            format!("a switchover or failover is under way ({f}): the roles of the regions are changing")
        } else if !missing.is_empty() {
            format!(
                "{} left the global database: it no longer receives the primary's writes",
                missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )
        } else if !unsynced.is_empty() {
            "a secondary cluster is not synchronised: a failover now loses the writes it has not received".to_string()
        } else if writer_now != Some(writer_was.as_str()) {
            format!(
                "the writer moved from {writer_was} to {} outside standby: the configuration's primary region is no \
                 longer the active one",
                writer_now.unwrap_or("no cluster")
            )
        } else {
            "a secondary that falls behind or leaves loses writes at failover".to_string()
        };
        out.push(
            Check::new("db.global_members", format!("global database {id}: members synchronised"), ok)
                .at(addr.to_string(), "members")
                .values(
                    json!({"members": expected, "writer": writer_was, "synchronization": "connected", "failover": null}),
                    json!({"members": members, "failover": failover}),
                )
                .impact(why)
                .fix("see the RDS console's global database page; `standby plan` shows what standby would change"),
        );
        // Write forwarding, where it was asked for, on the secondaries (the
        // writer has nothing to forward to: after a switchover it is the
        // cluster that used to forward).
        for (caddr, c) in of_type(input.recorded, "aws_rds_cluster")
            .filter(|(_, c)| s(&c.attrs, "global_cluster_identifier") == id)
            .filter(|(_, c)| writer_now != Some(s(&c.attrs, "cluster_identifier")))
            .filter(|(_, c)| c.attrs.get("enable_global_write_forwarding").and_then(Value::as_bool) == Some(true))
        {
            let cid = s(&c.attrs, "cluster_identifier");
            let status = members
                .iter()
                .find(|m| m["cluster"].as_str() == Some(cid))
                .and_then(|m| m["write_forwarding"].as_str())
                .unwrap_or_default();
            out.push(
                Check::new(
                    "db.write_forwarding",
                    format!("write forwarding on {cid} ({})", c.region),
                    status == "enabled",
                )
                .at(caddr.to_string(), "enable_global_write_forwarding")
                .values(json!("enabled"), if status.is_empty() { Json::Null } else { json!(status) })
                .impact(format!(
                    "the database in {} cannot take writes before a failover: anything there that writes is refused",
                    c.region
                ))
                .fix("run `standby plan` and apply: it turns global write forwarding on again")
                .warn_if(matches!(status, "enabling")),
            );
        }
        // AWS's preconditions, towards the region a switchover makes active
        // (drift: towards each secondary).
        if let Some(g) = &g {
            let targets: Vec<String> = match input.target_region {
                Some(t) => vec![t.to_string()],
                None => g
                    .global_cluster_members()
                    .iter()
                    .filter(|m| m.is_writer() != Some(true))
                    .filter_map(|m| m.db_cluster_arn().and_then(crate::kinds::rds::region_of_arn).map(str::to_string))
                    .collect(),
            };
            for t in targets {
                match super::db_switch::checks(input.aws, &addr.to_string(), g, &t, true).await {
                    Ok(c) => out.extend(c),
                    Err(e) => errors.push(format!("{addr}: {e}")),
                }
            }
        }
        // Replication lag of each secondary, as the members are now.
        let secondaries: Vec<super::db_lag::Secondary> = g
            .iter()
            .flat_map(|g| g.global_cluster_members())
            .filter(|m| m.is_writer() != Some(true))
            .filter_map(|m| {
                let arn = m.db_cluster_arn()?;
                let cluster = crate::kinds::rds::cluster_id_of(arn).to_string();
                let recorded = of_type(input.recorded, "aws_rds_cluster")
                    .find(|(_, c)| s(&c.attrs, "cluster_identifier") == cluster);
                let region = crate::kinds::rds::region_of_arn(arn)
                    .map(str::to_string)
                    .or_else(|| recorded.map(|(_, c)| c.region.clone()))?;
                let address = recorded.map_or_else(|| addr.to_string(), |(a, _)| a.to_string());
                Some(super::db_lag::Secondary { cluster, region, address })
            })
            .collect();
        let strict = input.target_region.is_some();
        match super::db_lag::checks(input.aws, &secondaries, input.bounds.db_lag, strict).await {
            Ok(c) => out.extend(c),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// The follower's REST API, reached as the resource reaches it.
fn rest_domain(input: &Input<'_>, addr: &InstanceAddr, inst: &Instance) -> Option<(String, Domain)> {
    let mut props = inst.attrs.clone();
    props.extend(input.secrets.get(&addr.to_string()).cloned().unwrap_or_default());
    Domain::from_props(&props).ok().map(|d| (s(&inst.attrs, "domain_endpoint").to_string(), d))
}

/// GET a stats endpoint; `None` when the domain cannot be asked.
async fn stats(domain: &Domain, call: &'static str, path: &str) -> Result<Json, String> {
    let a = domain.send(call, Method::GET, path, None).await.map_err(|e| e.to_string())?;
    if a.ok() { Ok(a.body) } else { Err(a.into_error(call).to_string()) }
}

async fn search(input: &Input<'_>) -> Result<Vec<Check>, Vec<String>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (addr, inst) in of_type(input.recorded, "aws_opensearch_outbound_connection") {
        let id = inst.id.clone().unwrap_or_default();
        let os = input.aws.opensearch(&inst.region).await;
        let filter = aws_sdk_opensearch::types::Filter::builder().name("connection-id").values(&id).build();
        let status = match os.describe_outbound_connections().filters(filter).send().await {
            Ok(o) => o
                .connections()
                .iter()
                .find(|c| c.connection_id() == Some(id.as_str()))
                .and_then(|c| c.connection_status())
                .and_then(|s| s.status_code())
                .map(|c| c.as_str().to_string()),
            Err(e) => {
                errors.push(format!("{addr}: {}", crate::kinds::aws::aws_error("DescribeOutboundConnections", e)));
                continue;
            }
        };
        let remote = format!("{} ({})", s(&inst.attrs, "remote_domain_name"), s(&inst.attrs, "remote_region"));
        out.push(
            Check::new(
                "search.connection",
                format!("search connection {} → {remote}", s(&inst.attrs, "local_domain_name")),
                status.as_deref() == Some("ACTIVE"),
            )
            .at(addr.to_string(), "connection_status")
            .values(json!("ACTIVE"), status.map_or(Json::Null, Json::String))
            .impact(format!(
                "the search domain in {} stops receiving index updates from {remote}: search there misses recent \
                 messages after a failover",
                inst.region
            ))
            .fix("run `standby plan` and apply: it makes a new connection"),
        );
    }
    // One follower_stats and one autofollow_stats per follower domain.
    let mut follower: BTreeMap<String, (Json, Json)> = BTreeMap::new();
    let rest: Vec<(&InstanceAddr, &Instance)> = of_type(input.recorded, "opensearch_index_replication")
        .chain(of_type(input.recorded, "opensearch_autofollow_rule"))
        .collect();
    // Domains no resource here can sign in to (its password's variable was
    // not given to a drift run): their checks say so rather than pass.
    let mut unreachable = std::collections::BTreeSet::new();
    for (addr, inst) in &rest {
        let Some((host, domain)) = rest_domain(input, addr, inst) else {
            unreachable.insert(s(&inst.attrs, "domain_endpoint").to_string());
            continue;
        };
        if follower.contains_key(&host) {
            continue;
        }
        let (f, a) = tokio::join!(
            stats(&domain, "GET _plugins/_replication/follower_stats", "/_plugins/_replication/follower_stats"),
            stats(&domain, "GET _plugins/_replication/autofollow_stats", "/_plugins/_replication/autofollow_stats"),
        );
        match (f, a) {
            (Ok(f), Ok(a)) => {
                follower.insert(host, (f, a));
            }
            (Err(e), _) | (_, Err(e)) => errors.push(format!("{addr}: {e}")),
        }
    }
    for (addr, inst) in of_type(input.recorded, "opensearch_index_replication") {
        let index = inst.id.clone().unwrap_or_default();
        let status = input.refreshed.resources.get(addr).map(|i| s(&i.attrs, "status").to_string());
        let reason = input.refreshed.resources.get(addr).map(|i| s(&i.attrs, "status_reason").to_string());
        let idx = follower.get(s(&inst.attrs, "domain_endpoint")).map(|(f, _)| f["index_stats"][&index].clone());
        let lag =
            idx.as_ref().and_then(|i| Some(i["leader_checkpoint"].as_i64()? - i["follower_checkpoint"].as_i64()?));
        let syncing = status.as_deref() == Some("SYNCING");
        let within = lag.is_none_or(|l| l <= input.bounds.search_lag_ops);
        let leader = s(&inst.attrs, "leader_alias");
        let mut c = Check::new(
            "search.replication",
            format!("replication of index {index} ({})", inst.region),
            syncing && within,
        )
        .impact(format!(
            "index {index} in {} is not kept up to date from {leader}: after a failover, search there misses what \
             was posted since",
            inst.region
        ))
        .fix("run `standby plan` and apply: it resumes or restarts the replication");
        c = if syncing && !within {
            c.at(addr.to_string(), "checkpoint_lag")
                .values(json!({"max": input.bounds.search_lag_ops}), json!({"lag": lag, "reason": reason}))
        } else {
            c.at(addr.to_string(), "status").values(
                json!("SYNCING"),
                match &status {
                    Some(st) => json!({"status": st, "reason": reason, "checkpoint_lag": lag}),
                    None => Json::Null,
                },
            )
        };
        if !follower.contains_key(s(&inst.attrs, "domain_endpoint"))
            && unreachable.contains(s(&inst.attrs, "domain_endpoint"))
        {
            c = not_checked(c);
        }
        out.push(c.warn_if(status.as_deref() == Some("BOOTSTRAPPING")));
    }
    for (addr, inst) in of_type(input.recorded, "opensearch_autofollow_rule") {
        let name = s(&inst.attrs, "rule_name");
        let present = input.refreshed.resources.contains_key(addr);
        let rule = follower
            .get(s(&inst.attrs, "domain_endpoint"))
            .and_then(|(_, a)| a["autofollow_stats"].as_array().cloned())
            .and_then(|l| l.into_iter().find(|r| r["name"] == name));
        let failed = rule.as_ref().map(|r| r["failed_indices"].clone()).unwrap_or(json!([]));
        let ok = present && failed.as_array().is_none_or(Vec::is_empty);
        let pattern = s(&inst.attrs, "pattern");
        let blind = !follower.contains_key(s(&inst.attrs, "domain_endpoint"))
            && unreachable.contains(s(&inst.attrs, "domain_endpoint"));
        let check =
            Check::new("search.autofollow", format!("auto-follow rule {name} ({pattern}, {})", inst.region), ok)
                .at(addr.to_string(), if present { "failed_indices" } else { "" })
                .values(
                    json!({"present": true, "failed_indices": []}),
                    json!({"present": present, "failed_indices": failed}),
                )
                .impact(format!(
                    "new indices matching {pattern} are not replicated to {}: search there misses new messages \
                     after a failover",
                    inst.region
                ))
                .fix("run `standby plan` and apply; indices listed as failed need their follower copy removed first");
        out.push(if blind { not_checked(check) } else { check });
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// A check whose probe could not sign in: a warning that says so, never a pass.
fn not_checked(c: Check) -> Check {
    let mut c = c;
    c.status = super::Status::Fail;
    c.actual = json!("not checked: no password for the user it reads as (its sensitive variable was not given)");
    c.warn_if(true)
        .fix("give the drift job the replication user's password (the variable the replication resources sign in with)")
}
