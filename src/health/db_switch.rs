//! AWS's preconditions for a managed switchover or failover of an Aurora
//! global database to a secondary (Aurora User Guide, "Using switchover or
//! failover in Amazon Aurora Global Database" and "Upgrading an Amazon
//! Aurora global database"):
//!
//! - `db.engine_versions`: the target and the global database (every member
//!   in a switchover) run the same major and minor engine version. Patch
//!   levels must match too, except for Aurora PostgreSQL 15+, 14.5+, 13.8+,
//!   12.12+ and 11.17+ ("Patch level compatibility for managed cross-Region
//!   switchovers and failovers"); Aurora PostgreSQL's `EngineVersion` does not
//!   show the patch level, so below those versions it is a warning to check.
//! - `db.target_instances`: "Before you can perform a switchover or failover
//!   to a headless secondary Aurora DB cluster, you must add a DB instance to
//!   it": at least one `available` instance in the target.
//! - `db.members_available`: the console offers "an active cluster" as the new
//!   primary; a switchover is for a global database whose clusters are all
//!   healthy. The target (every member and the global cluster, in a
//!   switchover) is `available`.
//!
//! Calls: one DescribeDBClusters per member looked at (in its region) and
//! one DescribeDBInstances in the target's region. A failover looks at the
//! target only, in the surviving region ([`failover`]).

use super::Check;
use crate::aws::Aws;
use crate::kinds::aws::aws_error;
use crate::kinds::rds::{cluster_id_of, region_of_arn};
use aws_sdk_rds::types::GlobalCluster;
use serde_json::json;

/// One member as DescribeDBClusters shows it.
struct Member {
    cluster: String,
    region: String,
    version: String,
    status: String,
}

async fn member(aws: &Aws, arn: &str) -> Result<Member, String> {
    let cluster = cluster_id_of(arn).to_string();
    let region = region_of_arn(arn).unwrap_or_default().to_string();
    let out = aws
        .rds(&region)
        .await
        .describe_db_clusters()
        .db_cluster_identifier(&cluster)
        .send()
        .await
        .map_err(|e| format!("{cluster}: {}", aws_error("DescribeDBClusters", e)))?;
    let c = out.db_clusters().first();
    Ok(Member {
        version: c.and_then(|c| c.engine_version()).unwrap_or_default().to_string(),
        status: c.and_then(|c| c.status()).unwrap_or("not found").to_string(),
        cluster,
        region,
    })
}

/// Instances of `cluster` (in `region`) that are `available`, and all of them.
async fn instances(aws: &Aws, region: &str, cluster: &str) -> Result<(usize, Vec<String>), String> {
    let out = aws
        .rds(region)
        .await
        .describe_db_instances()
        .filters(aws_sdk_rds::types::Filter::builder().name("db-cluster-id").values(cluster).build())
        .send()
        .await
        .map_err(|e| format!("{cluster}: {}", aws_error("DescribeDBInstances", e)))?;
    let all: Vec<String> = out
        .db_instances()
        .iter()
        .map(|i| {
            format!(
                "{} ({})",
                i.db_instance_identifier().unwrap_or_default(),
                i.db_instance_status().unwrap_or("unknown")
            )
        })
        .collect();
    let available = out.db_instances().iter().filter(|i| i.db_instance_status() == Some("available")).count();
    Ok((available, all))
}

/// `major.minor` of an engine version (`16.4`, `16.4.2` → `16.4`; Aurora
/// MySQL `8.0.mysql_aurora.3.04.0` → `3.04`).
fn minor(version: &str) -> String {
    let v = version.rsplit("mysql_aurora.").next().unwrap_or(version);
    v.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// Whether managed switchovers and failovers accept different patch levels
/// at this version (Aurora PostgreSQL 15+, 14.5+, 13.8+, 12.12+, 11.17+; no
/// Aurora MySQL version).
fn patch_may_differ(engine: &str, version: &str) -> bool {
    if !engine.contains("postgresql") {
        return false;
    }
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    match major {
        15.. => true,
        14 => minor >= 5,
        13 => minor >= 8,
        12 => minor >= 12,
        11 => minor >= 17,
        _ => false,
    }
}

/// The three checks for a switch of `g` to the member in `target_region`;
/// `switchover`: every member and the global cluster are looked at, not
/// only the target. `address` is the resource the checks are reported on.
pub async fn checks(
    aws: &Aws,
    address: &str,
    g: &GlobalCluster,
    target_region: &str,
    switchover: bool,
) -> Result<Vec<Check>, String> {
    let id = g.global_cluster_identifier().unwrap_or_default();
    let engine = g.engine().unwrap_or("aurora-postgresql");
    let global_version = g.engine_version().unwrap_or_default();
    let arns: Vec<&str> = g
        .global_cluster_members()
        .iter()
        .filter_map(|m| m.db_cluster_arn())
        .filter(|a| switchover || region_of_arn(a) == Some(target_region))
        .collect();
    let mut members = Vec::new();
    for arn in arns {
        members.push(member(aws, arn).await?);
    }
    let Some(target) = members.iter().find(|m| m.region == target_region) else {
        return Ok(vec![
            Check::new("db.members_available", format!("global database {id}: a member in {target_region}"), false)
                .at(address, "members")
                .values(json!({"member_in": target_region}), json!(null))
                .impact(format!("there is no cluster in {target_region} to switch to"))
                .fix("see the RDS console's global database page; `standby plan` shows what standby would change"),
        ]);
    };
    let mut out = Vec::new();
    // Versions: the global cluster's and each member's.
    let versions: Vec<(String, String)> = std::iter::once((id.to_string(), global_version.to_string()))
        .chain(members.iter().map(|m| (m.cluster.clone(), m.version.clone())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let minors: std::collections::BTreeSet<String> = versions.iter().map(|(_, v)| minor(v)).collect();
    let exact: std::collections::BTreeSet<&String> = versions.iter().map(|(_, v)| v).collect();
    let same_minor = minors.len() <= 1;
    let patch_ok = exact.len() <= 1 || patch_may_differ(engine, &target.version);
    // Aurora PostgreSQL's EngineVersion has no patch level: below the
    // versions that accept differing patches, say so (a warning).
    let patch_unseen = engine.contains("postgresql") && !patch_may_differ(engine, &target.version);
    let listed: serde_json::Map<String, serde_json::Value> =
        versions.iter().map(|(c, v)| (c.clone(), json!(v))).collect();
    out.push(
        Check::new(
            "db.engine_versions",
            format!("engine versions of {id} ({})", if switchover { "every member" } else { target_region }),
            same_minor && patch_ok && !patch_unseen,
        )
        .at(address, "engine_version")
        .values(json!({"same": "major.minor", "patch": if patch_may_differ(engine, &target.version) { "may differ" } else { "must match" }}), json!(listed))
        .impact(if !same_minor {
            format!(
                "AWS refuses a managed switchover or failover between different major or minor versions ({}); only \
                 a manual detach-and-promote would work",
                minors.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        } else if !patch_ok {
            "at this version AWS refuses a managed switchover or failover between different patch levels".into()
        } else {
            format!(
                "below Aurora PostgreSQL 15, 14.5, 13.8, 12.12 and 11.17 the patch levels must match too, and the API \
                 does not show them: check `SELECT aurora_version();` in each region ({} here)",
                target.version
            )
        })
        .fix("upgrade the clusters to the same version (secondaries first), then switch")
        .warn_if(same_minor && patch_ok && patch_unseen),
    );
    let (available, all) = instances(aws, &target.region, &target.cluster).await?;
    out.push(
        Check::new(
            "db.target_instances",
            format!("an available instance in {} ({})", target.cluster, target.region),
            available > 0,
        )
        .at(address, "members")
        .values(json!({"available_instances": ">= 1"}), json!({"available": available, "instances": all}))
        .impact(format!(
            "AWS refuses to switch to {} without an instance (a headless cluster): add one first",
            target.cluster
        ))
        .fix(format!(
            "add an instance to {} (the Aurora module's `secondary_instances`), apply, then switch",
            target.cluster
        )),
    );
    let global_status = g.status().unwrap_or("unknown");
    let not_available: Vec<String> = members
        .iter()
        .filter(|m| m.status != "available")
        .map(|m| format!("{} ({})", m.cluster, m.status))
        .chain((switchover && global_status != "available").then(|| format!("{id} ({global_status})")))
        .collect();
    out.push(
        Check::new(
            "db.members_available",
            format!("{} available", if switchover { "global database and every member" } else { "the target cluster" }),
            not_available.is_empty(),
        )
        .at(address, "status")
        .values(json!("available"), json!(not_available))
        .impact("AWS switches only to an active cluster, and a switchover only when every cluster is healthy")
        .fix("wait until the clusters are available (see their events in the RDS console), then switch"),
    );
    Ok(out)
}

/// The preconditions of a failover to `target_region`, asking that region
/// only: its view of the global cluster, the target cluster and its
/// instances. Each failed check in plain words.
pub async fn failover(aws: &Aws, global_id: &str, target_region: &str) -> Result<Vec<Check>, String> {
    let out = aws
        .rds(target_region)
        .await
        .describe_global_clusters()
        .global_cluster_identifier(global_id)
        .send()
        .await
        .map_err(|e| format!("{global_id}: {}", aws_error("DescribeGlobalClusters", e)))?;
    let g = out.global_clusters().first().ok_or_else(|| format!("global cluster {global_id} not found"))?;
    checks(aws, global_id, g, target_region, false).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_minor_and_patch_rules_follow_aws_list() {
        assert_eq!(minor("16.4"), "16.4");
        assert_eq!(minor("16.4.2"), "16.4");
        assert_eq!(minor("8.0.mysql_aurora.3.04.0"), "3.04");
        assert!(patch_may_differ("aurora-postgresql", "16.4"));
        assert!(patch_may_differ("aurora-postgresql", "14.5"));
        assert!(!patch_may_differ("aurora-postgresql", "14.4"));
        assert!(!patch_may_differ("aurora-postgresql", "13.7"));
        assert!(patch_may_differ("aurora-postgresql", "12.12"));
        assert!(!patch_may_differ("aurora-mysql", "8.0.mysql_aurora.3.04.0"));
    }
}
