//! The drill's database: a copy of the standby cluster, and its deletion.
//!
//! [`copy`]: `RestoreDBClusterToPointInTime` with `RestoreType=copy-on-write`
//! and `UseLatestRestorableTime` (an Aurora clone: "the same storage data as
//! the original cluster, but no Aurora DB instances", Aurora User Guide,
//! "Cloning a volume for an Amazon Aurora DB cluster"), in the standby
//! cluster's own region ("You can't create a clone in a different AWS
//! Region"); when AWS refuses the clone (a source without an instance: "You
//! can't create a clone from an Aurora DB cluster that has no DB
//! instances"), a full copy at the latest restorable time. Then one writer
//! instance. Each is looked for first, by name: a copy made by a run that
//! was killed is waited on, never made twice.
//!
//! [`delete`]: the instances, then the clusters, without a final snapshot
//! (a copy); what is already gone is skipped.
//!
//! Waiting: a first look at once, then with backoff up to 15 s (AWS's own
//! RDS waiters poll every 30 s: botocore `rds` waiters-2.json).

use super::TAG;
use crate::aws::Aws;
use crate::kinds::KindError;
use crate::kinds::aws::is_gone;
use crate::kinds::rds::rds_error;
use aws_sdk_rds::operation::RequestId;
use aws_sdk_rds::types::Tag;
use std::time::{Duration, Instant};

/// What to copy and the names to give (from the drill's runbook step).
pub struct Copy<'a> {
    pub source: &'a str,
    pub copy: &'a str,
    pub instance: &'a str,
    pub instance_class: &'a str,
    pub drill: &'a str,
}

/// What a step did: its outcome and AWS's request ids.
pub struct Did {
    pub outcome: String,
    pub request_ids: Vec<String>,
    /// The copy's moment (ms since the epoch) and how it was had: RPO's
    /// reference ([`copy`] only).
    pub moment: Option<(u64, String)>,
}

/// Codes with which AWS refuses a clone of a cluster it cannot clone.
const CLONE_REFUSED: &[&str] = &["InvalidDBClusterStateFault", "InvalidParameterCombination", "InvalidParameterValue"];

fn tags(drill: &str, name: &str) -> Vec<Tag> {
    vec![Tag::builder().key(TAG).value(drill).build(), Tag::builder().key("Name").value(name).build()]
}

type Progress<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// Copies the standby cluster (see the module's doc) and waits until the
/// copy's writer is available.
pub async fn copy(
    aws: &Aws,
    region: &str,
    c: &Copy<'_>,
    timeout: Duration,
    progress: Progress<'_>,
) -> Result<Did, KindError> {
    let rds = aws.rds(region).await;
    let mut ids = Vec::new();
    let source = describe_cluster(aws, region, c.source)
        .await?
        .ok_or_else(|| KindError::Failed(format!("the standby cluster {} is not in {region}", c.source)))?;
    let mut how = "found, made by an earlier run".to_string();
    let found = describe_cluster(aws, region, c.copy).await?;
    // A copy found (a killed run made it): its creation time is the nearest
    // moment AWS tells.
    let mut moment = found
        .as_ref()
        .and_then(|x| x.cluster_create_time())
        .map(|t| (t.secs().max(0) as u64 * 1000, "the found copy's creation time (ClusterCreateTime)".to_string()));
    if found.is_none() {
        let restore = |kind: &str| {
            rds.restore_db_cluster_to_point_in_time()
                .db_cluster_identifier(c.copy)
                .source_db_cluster_identifier(c.source)
                .restore_type(kind)
                .use_latest_restorable_time(true)
                .set_db_subnet_group_name(source.db_subnet_group().map(str::to_string))
                .set_tags(Some(tags(c.drill, c.copy)))
                .send()
        };
        match restore("copy-on-write").await {
            Ok(out) => {
                ids.extend(out.request_id().map(str::to_string));
                // A clone shares the source's storage as of the call: the
                // moment the call returned (an upper bound by its latency).
                moment = Some((crate::drill::measure::now_ms(), "the clone call's return".to_string()));
                how = format!("an Aurora clone of {} (copy-on-write)", c.source);
            }
            Err(e) if is_gone(&e, CLONE_REFUSED) => {
                let why = rds_error("RestoreDBClusterToPointInTime", e);
                progress(&format!(
                    "    AWS refused the clone ({why}); a full copy at the latest restorable time instead"
                ));
                let out = restore("full-copy").await.map_err(|e| rds_error("RestoreDBClusterToPointInTime", e))?;
                ids.extend(out.request_id().map(str::to_string));
                let latest = source.latest_restorable_time().map(|t| t.secs().max(0) as u64);
                moment = latest.map(|s| (s * 1000, "the full copy's LatestRestorableTime".to_string()));
                let at = latest.map(crate::ids::rfc3339).unwrap_or_else(|| "unknown".into());
                how =
                    format!("a full copy of {} at its latest restorable time ({at}): the clone was refused", c.source);
            }
            Err(e) => return Err(rds_error("RestoreDBClusterToPointInTime", e)),
        }
    }
    let t0 = Instant::now();
    wait(timeout, progress, &format!("{} available", c.copy), || async {
        Ok::<_, KindError>(describe_cluster(aws, region, c.copy).await?.and_then(|x| x.status().map(str::to_string)))
    })
    .await?;
    if describe_instance(aws, region, c.instance).await?.is_none() {
        let out = rds
            .create_db_instance()
            .db_instance_identifier(c.instance)
            .db_cluster_identifier(c.copy)
            .engine(source.engine().unwrap_or("aurora-postgresql"))
            .db_instance_class(c.instance_class)
            // A copy of production's data: never reachable from the
            // internet, whatever the VPC's default (CreateDBInstance's
            // PubliclyAccessible depends on the VPC's internet gateway).
            .publicly_accessible(false)
            .set_tags(Some(tags(c.drill, c.instance)))
            .send()
            .await;
        match out {
            Ok(out) => ids.extend(out.request_id().map(str::to_string)),
            Err(e) if is_gone(&e, &["DBInstanceAlreadyExists"]) => {}
            Err(e) => return Err(rds_error("CreateDBInstance", e)),
        }
    }
    wait(timeout, progress, &format!("{} available", c.instance), || async {
        Ok::<_, KindError>(
            describe_instance(aws, region, c.instance).await?.and_then(|x| x.db_instance_status().map(str::to_string)),
        )
    })
    .await?;
    let endpoint = describe_cluster(aws, region, c.copy).await?.and_then(|x| x.endpoint().map(str::to_string));
    Ok(Did {
        outcome: format!(
            "{}: {how}, writer {} available [{}s]; endpoint {}",
            c.copy,
            c.instance,
            t0.elapsed().as_secs(),
            endpoint.unwrap_or_else(|| "unknown".into())
        ),
        request_ids: ids,
        moment,
    })
}

/// Deletes `instances`, then `clusters` (each with the instances AWS lists
/// in it first, whatever their names: a create killed before its answer
/// was recorded), each waited on until gone.
pub async fn delete(
    aws: &Aws,
    region: &str,
    clusters: &[String],
    instances: &[String],
    timeout: Duration,
    progress: Progress<'_>,
) -> Result<Did, KindError> {
    let rds = aws.rds(region).await;
    let mut ids = Vec::new();
    let mut deleted = Vec::new();
    let mut all: Vec<String> = instances.to_vec();
    for c in clusters {
        if let Some(cluster) = describe_cluster(aws, region, c).await? {
            all.extend(
                // Only the drill's own: a member anybody else added stays
                // (and AWS then refuses the cluster's deletion, said).
                cluster
                    .db_cluster_members()
                    .iter()
                    .filter_map(|m| m.db_instance_identifier())
                    .filter(|m| m.contains("-drill-"))
                    .map(str::to_string),
            );
        }
    }
    all.sort();
    all.dedup();
    for i in &all {
        let Some(inst) = describe_instance(aws, region, i).await? else { continue };
        if inst.db_instance_status() == Some("creating") {
            // AWS deletes what has finished being created (a killed drill's copy may not have).
            wait(timeout, progress, &format!("{i} created, to delete it"), || async {
                Ok::<_, KindError>(
                    describe_instance(aws, region, i).await?.and_then(|x| x.db_instance_status().map(str::to_string)),
                )
            })
            .await?;
        }
        if inst.db_instance_status() != Some("deleting") {
            match rds.delete_db_instance().db_instance_identifier(i).send().await {
                Ok(out) => ids.extend(out.request_id().map(str::to_string)),
                Err(e) if is_gone(&e, &["DBInstanceNotFound", "DBInstanceNotFoundFault"]) => {}
                Err(e) => return Err(rds_error("DeleteDBInstance", e)),
            }
        }
        wait_gone(timeout, progress, i, || async {
            Ok::<_, KindError>(describe_instance(aws, region, i).await?.is_some())
        })
        .await?;
        deleted.push(i.clone());
    }
    for c in clusters {
        let Some(cluster) = describe_cluster(aws, region, c).await? else { continue };
        if cluster.status() == Some("creating") {
            wait(timeout, progress, &format!("{c} created, to delete it"), || async {
                Ok::<_, KindError>(describe_cluster(aws, region, c).await?.and_then(|x| x.status().map(str::to_string)))
            })
            .await?;
        }
        if cluster.status() != Some("deleting") {
            match rds.delete_db_cluster().db_cluster_identifier(c).skip_final_snapshot(true).send().await {
                Ok(out) => ids.extend(out.request_id().map(str::to_string)),
                Err(e) if is_gone(&e, &["DBClusterNotFoundFault"]) => {}
                Err(e) => return Err(rds_error("DeleteDBCluster", e)),
            }
        }
        wait_gone(timeout, progress, c, || async {
            Ok::<_, KindError>(describe_cluster(aws, region, c).await?.is_some())
        })
        .await?;
        deleted.push(c.clone());
    }
    let outcome = if deleted.is_empty() {
        "nothing left to delete".to_string()
    } else {
        format!("deleted: {}", deleted.join(", "))
    };
    Ok(Did { outcome, request_ids: ids, moment: None })
}

pub(crate) async fn describe_cluster(
    aws: &Aws,
    region: &str,
    id: &str,
) -> Result<Option<aws_sdk_rds::types::DbCluster>, KindError> {
    match aws.rds(region).await.describe_db_clusters().db_cluster_identifier(id).send().await {
        Ok(out) => Ok(out.db_clusters().iter().find(|c| c.db_cluster_identifier() == Some(id)).cloned()),
        Err(e) if is_gone(&e, &["DBClusterNotFoundFault"]) => Ok(None),
        Err(e) => Err(rds_error("DescribeDBClusters", e)),
    }
}

async fn describe_instance(
    aws: &Aws,
    region: &str,
    id: &str,
) -> Result<Option<aws_sdk_rds::types::DbInstance>, KindError> {
    match aws.rds(region).await.describe_db_instances().db_instance_identifier(id).send().await {
        Ok(out) => Ok(out.db_instances().iter().find(|i| i.db_instance_identifier() == Some(id)).cloned()),
        Err(e) if is_gone(&e, &["DBInstanceNotFound", "DBInstanceNotFoundFault"]) => Ok(None),
        Err(e) => Err(rds_error("DescribeDBInstances", e)),
    }
}

/// Waits until `look` says `available` (`None`: not there at all, which
/// is a failure: what was made is gone).
async fn wait<F, Fut>(timeout: Duration, progress: Progress<'_>, what: &str, look: F) -> Result<(), KindError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, KindError>>,
{
    let t0 = Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        match look().await?.as_deref() {
            Some("available") => return Ok(()),
            None => return Err(KindError::Failed(format!("{what}: it disappeared while standby waited for it"))),
            Some(status @ ("failed" | "inaccessible-encryption-credentials" | "incompatible-restore")) => {
                return Err(KindError::Failed(format!("{what}: AWS reports it {status}")));
            }
            Some(status) => {
                if t0.elapsed() >= timeout {
                    return Err(KindError::Timeout { what: what.to_string(), after: t0.elapsed() });
                }
                progress(&format!("    waiting for {what} ({status}, {}s)", t0.elapsed().as_secs()));
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(15));
    }
}

async fn wait_gone<F, Fut>(timeout: Duration, progress: Progress<'_>, what: &str, there: F) -> Result<(), KindError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool, KindError>>,
{
    let t0 = Instant::now();
    let mut delay = Duration::from_secs(1);
    while there().await? {
        if t0.elapsed() >= timeout {
            return Err(KindError::Timeout { what: format!("{what} deleted"), after: t0.elapsed() });
        }
        progress(&format!("    waiting for {what} to be deleted ({}s)", t0.elapsed().as_secs()));
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(15));
    }
    Ok(())
}
