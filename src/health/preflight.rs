//! The docs' "before you begin" list, checked against AWS before the first
//! apply: both regions valid and different, credentials in each region, the
//! IAM actions standby needs, a recent restorable backup of the primary
//! cluster, an engine version that allows write forwarding, OpenSearch 2.x
//! with fine-grained access control on the domains that already exist.
//!
//! Calls: one GetCallerIdentity per region, one SimulatePrincipalPolicy
//! page per region (plus a GetRole for an assumed role), per primary cluster one
//! DescribeDBClusters and one DescribeDBClusterSnapshots, one DescribeDomain
//! per domain.

use super::{Check, Status};
use crate::aws::Aws;
use crate::permissions;
use crate::value::{Attrs, Value};
use serde_json::{Value as Json, json};
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

/// One planned resource instance, as the configuration declares it.
pub struct Planned {
    pub address: String,
    pub type_name: String,
    pub region: String,
    pub props: Attrs,
}

pub struct Input<'a> {
    /// Region name (`primary`, `secondary`) → AWS region.
    pub regions: Vec<(String, String)>,
    pub planned: &'a [Planned],
    pub aws: &'a Aws,
    /// A backup older than this does not count.
    pub max_backup_age: Duration,
}

fn s<'a>(a: &'a Attrs, k: &str) -> Option<&'a str> {
    a.get(k).and_then(Value::as_str).filter(|v| !v.is_empty())
}

fn err_text<E>(call: &'static str, e: aws_sdk_s3::error::SdkError<E>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    crate::kinds::aws::aws_error(call, e).to_string()
}

pub async fn run(input: &Input<'_>) -> Vec<Check> {
    let mut out = vec![regions(input)];
    let caller = credentials(input, &mut out).await;
    out.push(permissions_check(input, caller.as_deref()).await);
    database(input, &mut out).await;
    search(input, &mut out).await;
    out
}

fn regions(input: &Input<'_>) -> Check {
    let get = |n: &str| input.regions.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let (p, sec) = (get("primary"), get("secondary"));
    let ok = p.is_some() && sec.is_some() && p != sec;
    Check::new("regions", "primary and secondary regions are valid and different", ok)
        .values(json!({"primary": "a region", "secondary": "another region"}), json!({"primary": p, "secondary": sec}))
        .impact("with both roles in one region, a regional outage takes both down")
        .fix("set `regions: { primary: …, secondary: … }` to two different AWS regions")
}

/// GetCallerIdentity in every region the configuration uses. Returns the
/// caller's ARN.
async fn credentials(input: &Input<'_>, out: &mut Vec<Check>) -> Option<String> {
    let used: BTreeSet<&str> =
        input.regions.iter().map(|(_, r)| r.as_str()).chain(input.planned.iter().map(|p| p.region.as_str())).collect();
    let mut caller = None;
    for region in used {
        let sts = input.aws.sts(region).await;
        let (ok, actual) = match sts.get_caller_identity().send().await {
            Ok(o) => {
                caller = caller.or_else(|| o.arn().map(str::to_string));
                (true, json!({"account": o.account(), "arn": o.arn()}))
            }
            Err(e) => (false, json!(err_text("GetCallerIdentity", e))),
        };
        out.push(
            Check::new("credentials", format!("credentials work in {region}"), ok)
                .values(json!("a caller identity"), actual)
                .impact(format!("standby cannot read or change anything in {region}"))
                .fix("provide credentials valid in both regions (profile, SSO, environment or instance role)"),
        );
    }
    caller
}

/// The IAM principal behind a caller ARN, as SimulatePrincipalPolicy wants it.
async fn principal(aws: &Aws, caller: &str) -> Result<String, String> {
    // arn:aws:sts::<acct>:assumed-role/<name>/<session> → the role's ARN (with its path).
    if let Some(rest) = caller.split(":assumed-role/").nth(1) {
        let name = rest.split('/').next().unwrap_or_default();
        return match aws.iam().await.get_role().role_name(name).send().await {
            Ok(o) => Ok(o.role().map(|r| r.arn().to_string()).unwrap_or_default()),
            Err(e) => Err(err_text("GetRole", e)),
        };
    }
    Ok(caller.to_string())
}

/// Services whose API lives in one place whatever the region: IAM and
/// Route 53 requests are signed for us-east-1, which is what their
/// `aws:RequestedRegion` is.
const GLOBAL: &[&str] = &["iam:", "route53:"];

/// The actions apply needs, each with the regions it is called in: a kind's
/// actions where it is planned, the switchover's and health checks' in
/// every configured region, IAM and Route 53 in us-east-1.
fn needed(input: &Input<'_>) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let mut out: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    let mut add = |action: String, region: &str| {
        let region = if GLOBAL.iter().any(|g| action.starts_with(g)) { "us-east-1" } else { region };
        out.entry(action).or_default().insert(region.to_string());
    };
    for p in input.planned {
        for a in permissions::for_apply([p.type_name.as_str()]) {
            add(a, &p.region);
        }
    }
    for (_, region) in &input.regions {
        for a in permissions::for_apply([]) {
            add(a, region);
        }
    }
    out
}

/// Simulates every action apply needs for the caller, once per region with
/// that region as `aws:RequestedRegion` (IAM SimulatePrincipalPolicy
/// `ContextEntries`). An action is denied when a simulation says
/// `explicitDeny`, or `implicitDeny` with no context key missing; when the
/// policies need context keys that cannot be given here (tags, source IP),
/// the result is a warning naming the keys, not a failure: the simulator
/// cannot decide (IAM API reference: "The policy simulator results can differ
/// from your live Amazon Web Services environment").
async fn permissions_check(input: &Input<'_>, caller: Option<&str>) -> Check {
    let needed = needed(input);
    let actions: Vec<&String> = needed.keys().collect();
    let base = |ok: bool| {
        Check::new("iam.permissions", format!("the caller may do the {} IAM actions standby needs", actions.len()), ok)
            .impact("apply stops half-way at the first refused call")
            .fix(
                "grant the denied actions: `standby policy DIR --for apply` prints the policy apply needs \
                 (docs/state-and-teams.md, \"IAM policies\", explains each role); then run preflight again",
            )
    };
    let Some(caller) = caller else {
        return base(false).values(json!(actions), json!("no caller identity (see the credentials checks)"));
    };
    if caller.ends_with(":root") {
        return base(false)
            .warn_if(true)
            .values(json!(actions), json!({"caller": caller, "note": "the account's root user may do everything"}))
            .fix("use a role or user rather than the root user");
    }
    let arn = match principal(input.aws, caller).await {
        Ok(a) => a,
        Err(e) => return base(false).warn_if(true).values(json!(actions), json!({"caller": caller, "error": e})),
    };
    let mut by_region: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (action, regions) in &needed {
        for r in regions {
            by_region.entry(r.as_str()).or_default().push(action.as_str());
        }
    }
    let iam = input.aws.iam().await;
    let mut denied: BTreeSet<String> = BTreeSet::new();
    let mut undecided: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for (region, list) in &by_region {
        let context = aws_sdk_iam::types::ContextEntry::builder()
            .context_key_name("aws:RequestedRegion")
            .context_key_values(*region)
            .context_key_type(aws_sdk_iam::types::ContextKeyTypeEnum::String)
            .build();
        let mut marker: Option<String> = None;
        loop {
            let req = iam
                .simulate_principal_policy()
                .policy_source_arn(&arn)
                .context_entries(context.clone())
                .set_action_names(Some(list.iter().map(|a| a.to_string()).collect()))
                .set_marker(marker.clone());
            match req.send().await {
                Ok(o) => {
                    for r in o.evaluation_results() {
                        let action = r.eval_action_name().to_string();
                        match (r.eval_decision().as_str(), r.missing_context_values()) {
                            ("allowed", _) => {}
                            ("implicitDeny", missing) if !missing.is_empty() => {
                                undecided.entry(action).or_default().extend(missing.iter().cloned());
                            }
                            _ => {
                                denied.insert(action);
                            }
                        }
                    }
                    if o.is_truncated() {
                        marker = o.marker().map(str::to_string);
                        continue;
                    }
                    break;
                }
                // Fallback: no simulation (the action itself refused, or a
                // partition without it). Say so; each call names what it misses.
                Err(e) => {
                    return base(false)
                        .warn_if(true)
                        .values(
                            json!(actions),
                            json!({"caller": arn, "error": err_text("SimulatePrincipalPolicy", e),
                                   "fallback": "not simulated: a missing permission shows as an AccessDenied error naming the action"}),
                        )
                        .fix("allow iam:SimulatePrincipalPolicy on yourself to have this checked before apply");
                }
            }
        }
    }
    // Per context key, the actions the simulation could not decide without it.
    let mut by_key: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (action, keys) in &undecided {
        for k in keys {
            by_key.entry(k.as_str()).or_default().push(action.as_str());
        }
    }
    let check = base(denied.is_empty() && undecided.is_empty()).values(
        json!({"actions": actions, "context": {"aws:RequestedRegion": by_region.keys().collect::<Vec<_>>()}}),
        json!({"caller": arn, "denied": denied, "undecided": by_key}),
    );
    if denied.is_empty() && !undecided.is_empty() {
        let keys: Vec<&str> = by_key.keys().copied().collect();
        return check.warn_if(true).fix(format!(
            "the caller's policies depend on {} for {} action(s), which a simulation cannot know: check them by \
             hand, or run apply and watch for AccessDenied",
            keys.join(", "),
            undecided.len()
        ));
    }
    check
}

/// The primary cluster: the one that no global database owns yet.
fn primary_clusters<'a>(input: &'a Input<'_>) -> impl Iterator<Item = &'a Planned> {
    input
        .planned
        .iter()
        .filter(|p| p.type_name == "aws_rds_cluster" && s(&p.props, "global_cluster_identifier").is_none())
}

async fn database(input: &Input<'_>, out: &mut Vec<Check>) {
    let wants_forwarding = input.planned.iter().any(|p| {
        p.type_name == "aws_rds_cluster"
            && p.props.get("enable_global_write_forwarding").and_then(Value::as_bool) == Some(true)
    });
    for p in primary_clusters(input) {
        let Some(id) = s(&p.props, "cluster_identifier") else { continue };
        let rds = input.aws.rds(&p.region).await;
        let cluster = match rds.describe_db_clusters().db_cluster_identifier(id).send().await {
            Ok(o) => o.db_clusters().first().cloned(),
            Err(e) if crate::kinds::aws::is_gone(&e, &["DBClusterNotFoundFault"]) => None,
            Err(e) => {
                out.push(
                    Check::new("db.backup", format!("a recent restorable backup of {id} ({})", p.region), false)
                        .at(&p.address, "")
                        .values(Json::Null, json!(err_text("DescribeDBClusters", e))),
                );
                continue;
            }
        };
        let Some(cluster) = cluster else {
            out.push(
                Check::new("db.backup", format!("a recent restorable backup of {id} ({})", p.region), false)
                    .warn_if(true)
                    .at(&p.address, "")
                    .values(json!("an existing cluster"), json!("not found: standby will create it, empty"))
                    .impact(
                        "there is no existing database to protect yet; if Mattermost's is elsewhere, adopt that one",
                    )
                    .fix("set cluster_identifier to the cluster Mattermost uses today"),
            );
            continue;
        };
        out.push(backup(input, p, id, &cluster).await);
        if wants_forwarding {
            let version = cluster.engine_version().unwrap_or_default().to_string();
            let problem = crate::kinds::rds::write_forwarding_problem(&version);
            out.push(
                Check::new(
                    "db.engine_version",
                    format!("{id} runs a version with global write forwarding"),
                    problem.is_none(),
                )
                .at(&p.address, "engine_version")
                .values(json!("Aurora PostgreSQL 16+, 15.4+ or 14.9+"), json!(version))
                .impact(problem.unwrap_or_else(|| "the secondary region can forward writes".into()))
                .fix("upgrade the primary cluster's minor version first (or turn write forwarding off)"),
            );
        }
    }
}

async fn backup(input: &Input<'_>, p: &Planned, id: &str, cluster: &aws_sdk_rds::types::DbCluster) -> Check {
    let title = format!("a recent restorable backup of {id} ({})", p.region);
    let rds = input.aws.rds(&p.region).await;
    let snaps = match rds.describe_db_cluster_snapshots().db_cluster_identifier(id).send().await {
        Ok(o) => o.db_cluster_snapshots().to_vec(),
        Err(e) => {
            return Check::new("db.backup", title, false)
                .at(&p.address, "")
                .values(Json::Null, json!(err_text("DescribeDBClusterSnapshots", e)));
        }
    };
    let now = SystemTime::now();
    let latest = snaps
        .iter()
        .filter(|s| s.status() == Some("available"))
        .filter_map(|s| {
            let t = s.snapshot_create_time()?;
            Some((
                t.secs(),
                s.db_cluster_snapshot_identifier().unwrap_or_default().to_string(),
                s.snapshot_type().unwrap_or_default().to_string(),
            ))
        })
        .max();
    let now_secs = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default();
    let age = latest.as_ref().map(|(t, _, _)| (now_secs - t).max(0));
    let ok = age.is_some_and(|a| a as u64 <= input.max_backup_age.as_secs());
    Check::new("db.backup", title, ok)
        .at(&p.address, "")
        .values(
            json!({"max_age_hours": input.max_backup_age.as_secs() as f64 / 3600.0, "status": "available"}),
            json!({
                "backup_retention_period": cluster.backup_retention_period(),
                "latest_snapshot": latest.as_ref().map(|(_, id, _)| id),
                "snapshot_type": latest.as_ref().map(|(_, _, t)| t),
                "age_hours": age.map(|a| (a as f64 / 360.0).round() / 10.0),
            }),
        )
        .impact(format!(
            "joining {id} to a global database without a restorable backup risks Mattermost's data with no way back"
        ))
        .fix(format!(
            "take a manual snapshot first: aws rds create-db-cluster-snapshot --region {} --db-cluster-identifier {id} \
             --db-cluster-snapshot-identifier {id}-before-standby",
            p.region
        ))
}

async fn search(input: &Input<'_>, out: &mut Vec<Check>) {
    for p in input.planned.iter().filter(|p| p.type_name == "aws_opensearch_domain") {
        let Some(name) = s(&p.props, "domain_name") else { continue };
        let os = input.aws.opensearch(&p.region).await;
        let title = format!("OpenSearch 2.x with fine-grained access control on {name} ({})", p.region);
        let check = match os.describe_domain().domain_name(name).send().await {
            Ok(o) => {
                let d = o.domain_status();
                let version = d.and_then(|d| d.engine_version()).unwrap_or_default().to_string();
                let fgac = d.and_then(|d| d.advanced_security_options()).and_then(|a| a.enabled()).unwrap_or(false);
                Check::new("search.domain", title, version.starts_with("OpenSearch_2.") && fgac)
                    .values(json!({"engine_version": "OpenSearch_2.x", "fine_grained_access_control": true}),
                            json!({"engine_version": version, "fine_grained_access_control": fgac}))
                    .fix("upgrade the domain to OpenSearch 2.x and turn on fine-grained access control (a blue/green change)")
            }
            Err(e) if crate::kinds::aws::is_gone(&e, &["ResourceNotFoundException"]) => {
                Check::new("search.domain", title, true).values(
                    json!({"engine_version": "OpenSearch_2.x", "fine_grained_access_control": true}),
                    json!("not created yet: standby creates it so"),
                )
            }
            Err(e) => {
                Check::new("search.domain", title, false).values(Json::Null, json!(err_text("DescribeDomain", e)))
            }
        };
        out.push(
            check.at(&p.address, "").impact(
                "cross-cluster replication needs OpenSearch 2.x with fine-grained access control on both domains",
            ),
        );
    }
}

/// True when any check failed.
pub fn failed(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.status == Status::Fail)
}
