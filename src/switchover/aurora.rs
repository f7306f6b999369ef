//! The Aurora global database's part of a role switch, each observing AWS
//! before it acts:
//!
//! - [`switch`]: `SwitchoverGlobalCluster` (in the writer's region) or
//!   `FailoverGlobalCluster` with `AllowDataLoss` (in the target's), asked
//!   only when neither done nor under way, then waited on until the target
//!   is the writer and `FailoverState` is gone. An operation that ends
//!   without moving the writer (cancelled, refused while `pending`) fails at
//!   once with the RDS events that say why; a request whose answer was lost
//!   and that never shows is sent once more (AWS refuses a second one while
//!   one runs, so resending is safe).
//! - [`rejoin`]: after a failover, the old writer back as a secondary
//!   (Aurora re-adds it; asked nothing), synchronised, and the snapshot
//!   Aurora takes of its old volume kept ([`super::snapshot`]).
//! - [`write_forwarding`]: the new secondary forwards writes.
//! - [`global_events`]: the `global failover` RDS events of a region since
//!   a time (fencing, the global writer endpoint's DNS change, cancellations).
//!
//! Polling: DescribeGlobalClusters with backoff from 200 ms to 2 s. AWS's
//! own waiters poll RDS every 30 s (botocore `rds` waiters-2.json, e.g.
//! `DBClusterAvailable`: delay 30, 60 attempts); a switchover takes a minute
//! or more there, so a 2 s cap costs at most a few dozen cheap reads and
//! ends the wait within 2 s of AWS finishing.

use crate::aws::Aws;
use crate::kinds::KindError;
use crate::kinds::rds::{cluster_id_of, rds_error, region_of_arn};
use aws_sdk_rds::operation::RequestId;
use std::time::{Duration, Instant, SystemTime};

/// The most a wait sleeps between looks.
pub const POLL_CAP: Duration = Duration::from_secs(2);

/// What [`switch`] did.
pub struct Switched {
    pub outcome: String,
    pub request_ids: Vec<String>,
    /// The new writer's ARN.
    pub writer: Option<String>,
    /// Each secondary's write forwarding status now: (cluster id, status).
    pub forwarding: Vec<(String, String)>,
    /// The writer moved while this run looked (not found there already).
    pub moved: bool,
}

/// Observes the global cluster `id`, asks for the switchover (or, with
/// `data_loss`, the failover) only when it is neither done nor under way,
/// and waits until the member in `target_region` is the writer. `ask_region`
/// is where the request goes (the writer's for a switchover, the target's
/// for a failover); every look goes to the target's region.
pub async fn switch(
    aws: &Aws,
    id: &str,
    ask_region: &str,
    target_region: &str,
    data_loss: bool,
    timeout: Duration,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Switched, KindError> {
    let rds_ask = aws.rds(ask_region).await;
    let rds_to = aws.rds(target_region).await;
    let what = if data_loss { "failover" } else { "switchover" };
    let started = SystemTime::now();
    let deadline = Instant::now() + timeout;
    let mut ids = Vec::new();
    let mut asked = false;
    let mut resent = false;
    // FailoverState seen (in an answer or a look): the operation exists.
    let mut seen = false;
    let mut delay = Duration::from_millis(200);
    let t0 = Instant::now();
    let mut last_note = Instant::now();
    loop {
        let out = rds_to
            .describe_global_clusters()
            .global_cluster_identifier(id)
            .send()
            .await
            .map_err(|e| rds_error("DescribeGlobalClusters", e))?;
        let g =
            out.global_clusters().first().ok_or_else(|| KindError::Failed(format!("global cluster {id} not found")))?;
        let members = g.global_cluster_members();
        let writer = members.iter().find(|m| m.is_writer() == Some(true)).and_then(|m| m.db_cluster_arn());
        let state = g.failover_state().and_then(|f| f.status()).map(|s| s.as_str().to_string());
        let in_target = |arn: &str| region_of_arn(arn) == Some(target_region);
        seen |= state.is_some();
        if state.is_none() && writer.is_some_and(in_target) {
            let outcome = if asked || seen { "writer moved" } else { "already the writer (nothing asked)" };
            // What the secondaries forward now (a demoted writer: at once, when it was set before).
            let forwarding: Vec<(String, String)> = members
                .iter()
                .filter(|m| m.is_writer() != Some(true))
                .filter_map(|m| {
                    let status = m.global_write_forwarding_status()?.as_str().to_string();
                    Some((cluster_id_of(m.db_cluster_arn()?).to_string(), status))
                })
                .collect();
            let said: Vec<String> = forwarding.iter().map(|(c, s)| format!("write forwarding on {c}: {s}")).collect();
            let said = if said.is_empty() { String::new() } else { format!("; {}", said.join(", ")) };
            return Ok(Switched {
                outcome: format!("{outcome}: {}{said}", writer.unwrap_or_default()),
                request_ids: ids,
                writer: writer.map(str::to_string),
                forwarding,
                moved: asked || seen,
            });
        }
        if state.is_none() && seen {
            // Over, and the writer did not move: cancelled, or refused while pending.
            let events = global_events(aws, target_region, started).await.unwrap_or_default();
            let said = if events.is_empty() {
                String::new()
            } else {
                format!("; RDS events in {target_region}: {}", events.join("; "))
            };
            return Err(KindError::Failed(format!(
                "the {what} of {id} ended without moving the writer (still {}): cancelled, or refused by AWS while it \
                 verified the clusters{said}\n  hint: see the RDS console's events for the global database; fix what \
                 they name and run the same command again (it asks for the {what} anew)",
                writer.map(cluster_id_of).unwrap_or("none")
            )));
        }
        if state.is_none() && (!asked || !resent) {
            if asked {
                // Asked, but the answer was lost and nothing shows: once more.
                resent = true;
                progress(&format!("    the {what} request left no trace in AWS: sending it once more"));
            }
            let target = members
                .iter()
                .filter_map(|m| m.db_cluster_arn())
                .find(|a| in_target(a))
                .ok_or_else(|| KindError::Failed(format!("global cluster {id} has no member in {target_region}")))?
                .to_string();
            let res = if data_loss {
                rds_ask
                    .failover_global_cluster()
                    .global_cluster_identifier(id)
                    .target_db_cluster_identifier(&target)
                    .allow_data_loss(true)
                    .send()
                    .await
                    .map(|o| {
                        (
                            o.request_id().map(str::to_string),
                            o.global_cluster().and_then(|g| g.failover_state()).is_some(),
                        )
                    })
                    .map_err(|e| rds_error("FailoverGlobalCluster", e))
            } else {
                rds_ask
                    .switchover_global_cluster()
                    .global_cluster_identifier(id)
                    .target_db_cluster_identifier(&target)
                    .send()
                    .await
                    .map(|o| {
                        (
                            o.request_id().map(str::to_string),
                            o.global_cluster().and_then(|g| g.failover_state()).is_some(),
                        )
                    })
                    .map_err(|e| rds_error("SwitchoverGlobalCluster", e))
            };
            match res {
                Ok((rid, shows)) => {
                    ids.extend(rid);
                    seen |= shows;
                }
                // One already runs (a resent request that had taken effect): the next look shows it.
                Err(KindError::Aws { code, .. }) if resent && code == "InvalidGlobalClusterStateFault" => {}
                // Unsure whether it took effect: the next look decides.
                Err(e) if !e.refused() => {}
                Err(e) => return Err(e),
            }
            asked = true;
            continue;
        }
        if state.is_none() {
            return Err(KindError::Failed(format!(
                "the {what} of {id} was asked for twice and never showed in AWS (no FailoverState, writer still {})",
                writer.map(cluster_id_of).unwrap_or("none")
            )));
        }
        if Instant::now() > deadline {
            return Err(KindError::Timeout { what: format!("the {what} of {id}"), after: timeout });
        }
        if last_note.elapsed() >= Duration::from_secs(10) {
            last_note = Instant::now();
            progress(&format!(
                "    still switching over ({}s elapsed, FailoverState: {})",
                t0.elapsed().as_secs(),
                state.as_deref().unwrap_or("none")
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(POLL_CAP);
    }
}

/// The `global failover` RDS events recorded in `region` since `since`, as
/// "time: message" (oldest first). RDS keeps events of DB clusters; the
/// event ids (RDS-EVENT-0238 …) are not part of DescribeEvents' answer, so
/// the messages say what happened (Aurora User Guide, "DB cluster events").
pub async fn global_events(aws: &Aws, region: &str, since: SystemTime) -> Result<Vec<String>, KindError> {
    let rds = aws.rds(region).await;
    let out = rds
        .describe_events()
        .source_type(aws_sdk_rds::types::SourceType::DbCluster)
        .start_time(aws_sdk_rds::primitives::DateTime::from(since - Duration::from_secs(60)))
        .event_categories("global failover")
        .send()
        .await
        .map_err(|e| rds_error("DescribeEvents", e))?;
    let from = since.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0) - 60;
    let mut events: Vec<(i64, String)> = out
        .events()
        .iter()
        .filter(|e| e.event_categories().iter().any(|c| c == "global failover"))
        .filter(|e| e.date().is_none_or(|d| d.secs() >= from))
        .map(|e| {
            let at = e.date().map(|d| d.secs()).unwrap_or(0);
            let when = e.date().map(|d| d.to_string()).unwrap_or_default();
            (at, format!("{when}: {}", e.message().unwrap_or_default()))
        })
        .collect();
    events.sort();
    Ok(events.into_iter().map(|(_, m)| m).collect())
}

/// Aurora's write fencing after a failover, from the survivor's events
/// (AWS records them on the new primary when the old one is unreachable):
/// the events themselves, or a plain note of their absence.
pub async fn fencing(aws: &Aws, region: &str, since: SystemTime) -> String {
    match global_events(aws, region, since).await {
        Ok(events) => {
            // "writes were stopped", "the process to stop writes timed out" (never "writer").
            let fencing = |m: &&String| m.to_lowercase().contains("writes");
            let fence: Vec<&String> = events.iter().filter(fencing).collect();
            let others: Vec<&String> = events.iter().filter(|m| !fencing(m)).collect();
            let seen = if others.is_empty() {
                String::new()
            } else {
                format!(" (other events: {})", others.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; "))
            };
            if fence.is_empty() {
                format!(
                    "no write-fencing event in {region} yet{seen}: Aurora records it on the old primary when that one \
                     is reachable; until one says writes were stopped, treat the old region's writes as possible \
                     (split brain)"
                )
            } else {
                format!("write fencing: {}{seen}", fence.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; "))
            }
        }
        Err(e) => format!("the RDS events of {region} could not be read ({e}): check write fencing in the console"),
    }
}

/// Whether Aurora has moved the global writer endpoint's DNS name to the
/// new writer (RDS-EVENT-0397, "Aurora finished changing the DNS name that
/// the global writer endpoint resolves to", in the new primary's region),
/// in a few words for the outcome. AWS's switchover guidance: with the
/// global writer endpoint, "verify that the DNS changes have propagated".
pub async fn writer_endpoint_moved(aws: &Aws, region: &str, since: SystemTime) -> String {
    match global_events(aws, region, since).await {
        Ok(events) => match events.iter().find(|m| m.contains("global writer endpoint")) {
            Some(m) => format!("global writer endpoint: {m}"),
            None => {
                "global writer endpoint: no DNS change event yet (Aurora records one when its name resolves to the \
                     new writer)"
                    .into()
            }
        },
        Err(e) => format!("global writer endpoint: the RDS events could not be read ({e})"),
    }
}

/// `STANDBY_FAILOVER_SNAPSHOT_WAIT_SECS`: after the old writer has rejoined
/// and is synchronised, how long to keep looking for Aurora's failover
/// snapshot before saying there is none (default 900).
pub const ENV_SNAPSHOT_WAIT_SECS: &str = "STANDBY_FAILOVER_SNAPSHOT_WAIT_SECS";

/// Waits until `cluster` is a member of `id` again (Aurora re-adds the old
/// writer itself once its region is reachable; asked nothing), synchronised
/// (`SynchronizationStatus` connected) and `available`, then keeps the
/// snapshot Aurora took of its old volume as a manual copy. AWS documents
/// neither whether the member shows before the snapshot nor how long after,
/// so the snapshot is looked for until [`ENV_SNAPSHOT_WAIT_SECS`] has passed.
pub async fn rejoin(
    aws: &Aws,
    region: &str,
    id: &str,
    cluster: &str,
    timeout: Duration,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(String, Vec<String>, Option<String>), KindError> {
    let rds = aws.rds(region).await;
    let deadline = Instant::now() + timeout;
    let t0 = Instant::now();
    let mut last_note = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let out = rds
            .describe_global_clusters()
            .global_cluster_identifier(id)
            .send()
            .await
            .map_err(|e| rds_error("DescribeGlobalClusters", e))?;
        let member = out.global_clusters().first().and_then(|g| {
            g.global_cluster_members()
                .iter()
                .find(|m| m.db_cluster_arn().map(cluster_id_of) == Some(cluster) && m.is_writer() != Some(true))
                .cloned()
        });
        let sync = member.as_ref().and_then(|m| m.synchronization_status()).map(|s| s.as_str().to_string());
        let status = if member.is_some() && sync.as_deref().is_none_or(|s| s == "connected") {
            rds.describe_db_clusters()
                .db_cluster_identifier(cluster)
                .send()
                .await
                .map_err(|e| rds_error("DescribeDBClusters", e))?
                .db_clusters()
                .first()
                .and_then(|c| c.status())
                .map(str::to_string)
        } else {
            None
        };
        if status.as_deref() == Some("available") {
            break;
        }
        if Instant::now() > deadline {
            return Err(KindError::Timeout {
                what: format!(
                    "{cluster} to rejoin {id} and synchronise (Aurora re-adds it when {region} is reachable again)"
                ),
                after: timeout,
            });
        }
        if last_note.elapsed() >= Duration::from_secs(10) {
            last_note = Instant::now();
            let now = match (&member, &sync, &status) {
                (None, _, _) => "not a member yet".to_string(),
                (Some(_), Some(s), None) if s != "connected" => format!("member, {s}"),
                (_, _, s) => format!("member, cluster {}", s.as_deref().unwrap_or("not available")),
            };
            progress(&format!(
                "    waiting for Aurora to re-add {cluster} to {id} ({now}; {}s elapsed)",
                t0.elapsed().as_secs()
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(POLL_CAP);
    }
    let grace = std::env::var(ENV_SNAPSHOT_WAIT_SECS).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(900);
    let kept = super::snapshot::keep(&rds, cluster, Duration::from_secs(grace), timeout, progress).await?;
    let note = kept.copy.is_none().then(|| {
        format!(
            "Aurora left no rds:unplanned-global-failover-{cluster}-* snapshot in {region} within {grace}s of {cluster} \
             rejoining: the writes that were not replicated before the failover cannot be recovered from AWS (look \
             again in the RDS console's snapshots: if one appears later, copy it before the backup retention removes \
             it)"
        )
    });
    Ok((format!("{cluster} is a secondary of {id} again; {}", kept.describe(cluster)), kept.request_ids, note))
}

/// Makes sure `cluster` forwards writes as a secondary (observing first).
/// `before_switch`: it is the writer, about to be demoted; the setting is
/// asked for now and AWS applies it at demotion ("this value is used
/// immediately if the primary is demoted by a global cluster API
/// operation, but it does nothing until then": RDS API, ModifyDBCluster
/// `EnableGlobalWriteForwarding`), so done once requested. Otherwise a
/// secondary: done once enabled, asked for only when missing.
pub async fn write_forwarding(
    aws: &Aws,
    region: &str,
    cluster: &str,
    before_switch: bool,
    timeout: Duration,
) -> Result<(String, Vec<String>), KindError> {
    let rds = aws.rds(region).await;
    let mut ids = Vec::new();
    let mut delay = Duration::from_millis(200);
    let deadline = Instant::now() + timeout;
    let mut asked = false;
    loop {
        let out = rds
            .describe_db_clusters()
            .db_cluster_identifier(cluster)
            .send()
            .await
            .map_err(|e| rds_error("DescribeDBClusters", e))?;
        let c = out.db_clusters().first().ok_or_else(|| KindError::Failed(format!("cluster {cluster} not found")))?;
        let status = c.global_write_forwarding_status().map(|s| s.as_str().to_string());
        if before_switch && c.global_write_forwarding_requested() == Some(true) {
            let outcome = if asked {
                "write forwarding requested: AWS applies it when the switchover demotes this cluster"
            } else {
                "write forwarding already requested: AWS applies it when the switchover demotes this cluster"
            };
            return Ok((outcome.into(), ids));
        }
        if c.global_write_forwarding_requested() == Some(true) && status.as_deref() == Some("enabled") {
            let outcome = if asked {
                "write forwarding enabled (it was not set before the switch)"
            } else {
                "write forwarding on (set before the switch, applied at demotion)"
            };
            return Ok((outcome.into(), ids));
        }
        if c.global_write_forwarding_requested() != Some(true) && !asked {
            let o = rds
                .modify_db_cluster()
                .db_cluster_identifier(cluster)
                .enable_global_write_forwarding(true)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| rds_error("ModifyDBCluster", e))?;
            ids.extend(o.request_id().map(str::to_string));
            asked = true;
            continue;
        }
        if Instant::now() > deadline {
            return Err(KindError::Timeout { what: format!("write forwarding on {cluster}"), after: timeout });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(POLL_CAP);
    }
}
