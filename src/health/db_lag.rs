//! Aurora global database replication lag, from CloudWatch.
//!
//! RDS publishes the lag metrics only for secondary clusters, in the
//! secondary's region (`AWS/RDS`, dimension `DBClusterIdentifier`, ms).
//! AWS's switchover guidance names `AuroraGlobalDBRPOLag` (every Aurora
//! PostgreSQL version, Aurora MySQL ≥ 3.04 / 2.12); older Aurora MySQL only
//! has `AuroraGlobalDBReplicationLag`, used when no RPO datapoint exists.
//! One GetMetricData call per secondary asks for both maxima at once.
//!
//! Public so the failover readiness gate can ask the same question.

use super::{Check, Status};
use crate::aws::Aws;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use serde_json::json;
use std::time::{Duration, SystemTime};

pub const RPO_LAG: &str = "AuroraGlobalDBRPOLag";
pub const REPLICATION_LAG: &str = "AuroraGlobalDBReplicationLag";
/// How far back the maximum is taken (AWS suggests looking at 5–15 minutes).
pub const WINDOW: Duration = Duration::from_secs(10 * 60);

/// A secondary cluster of a global database.
#[derive(Clone, Debug)]
pub struct Secondary {
    pub cluster: String,
    pub region: String,
    /// The resource the finding is reported on.
    pub address: String,
}

/// What CloudWatch holds for one secondary over [`WINDOW`].
#[derive(Clone, Debug, PartialEq)]
pub struct Lag {
    /// The metric the maximum is of.
    pub metric: &'static str,
    pub max_ms: f64,
    pub datapoints: usize,
}

/// The maximum lag of `cluster` over the last [`WINDOW`]; `None` when
/// CloudWatch has no datapoint of either metric.
pub async fn read(aws: &Aws, s: &Secondary) -> Result<Option<Lag>, String> {
    let cw = aws.cloudwatch(&s.region).await;
    let end = SystemTime::now();
    let query = |id: &str, name: &str| {
        let metric = Metric::builder()
            .namespace("AWS/RDS")
            .metric_name(name)
            .dimensions(Dimension::builder().name("DBClusterIdentifier").value(&s.cluster).build())
            .build();
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(MetricStat::builder().metric(metric).period(60).stat("Maximum").build())
            .return_data(true)
            .build()
    };
    let out = cw
        .get_metric_data()
        .metric_data_queries(query("rpo", RPO_LAG))
        .metric_data_queries(query("replication", REPLICATION_LAG))
        .start_time(DateTime::from(end - WINDOW))
        .end_time(DateTime::from(end))
        .scan_by(ScanBy::TimestampDescending)
        .send()
        .await
        .map_err(|e| format!("{}: {}", s.address, crate::kinds::aws::aws_error("GetMetricData", e)))?;
    let values = |id: &str| -> Vec<f64> {
        out.metric_data_results().iter().filter(|r| r.id() == Some(id)).flat_map(|r| r.values().to_vec()).collect()
    };
    let pick = |metric, v: Vec<f64>| {
        (!v.is_empty()).then(|| Lag { metric, max_ms: v.iter().copied().fold(f64::MIN, f64::max), datapoints: v.len() })
    };
    Ok(pick(RPO_LAG, values("rpo")).or_else(|| pick(REPLICATION_LAG, values("replication"))))
}

/// The check for one secondary, from what [`read`] found.
pub fn check(s: &Secondary, lag: Option<&Lag>, bound: Duration) -> Check {
    let bound_ms = bound.as_millis() as u64;
    let minutes = WINDOW.as_secs() / 60;
    let title = format!("replication lag of {} ({})", s.cluster, s.region);
    let impact = format!(
        "a failover to {} now can lose up to {} of writes, and a switchover waits until it has caught up",
        s.region,
        lag.map_or("minutes".to_string(), |l| {
            if l.max_ms < 10_000.0 { format!("{:.0} ms", l.max_ms) } else { format!("{:.1} s", l.max_ms / 1000.0) }
        })
    );
    let expected = json!({"max_ms": bound_ms, "window_minutes": minutes});
    let c = Check::new("db.replication_lag", title, lag.is_some_and(|l| l.max_ms <= bound_ms as f64))
        .at(s.address.clone(), "replication_lag");
    match lag {
        Some(l) => c
            .values(expected, json!({"metric": l.metric, "max_ms": l.max_ms, "datapoints": l.datapoints}))
            .impact(impact)
            .fix(format!(
                "see {} of {} in CloudWatch ({}): a write-heavy primary, a smaller secondary instance or a network \
                 problem between the regions; `--max-db-lag` sets the bound",
                l.metric, s.cluster, s.region
            )),
        None => Check {
            status: Status::Warn,
            ..c.values(expected, json!({"metric": null, "datapoints": 0}))
                .impact(format!(
                    "unknown: without lag figures nobody can say how much a failover to {} would lose",
                    s.region
                ))
                .fix(format!(
                    "CloudWatch has no {RPO_LAG} or {REPLICATION_LAG} datapoint for {} in {} over the last {minutes} \
                     minutes: RDS publishes them for a secondary once it replicates; check that the cluster is a \
                     secondary of the global database and has an instance",
                    s.cluster, s.region
                ))
        },
    }
}

/// Reads and checks every secondary, one GetMetricData call each. A
/// two-region topology has one secondary, so they are not run concurrently.
pub async fn checks(aws: &Aws, secondaries: &[Secondary], bound: Duration) -> Result<Vec<Check>, Vec<String>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for s in secondaries {
        match read(aws, s).await {
            Ok(lag) => out.push(check(s, lag.as_ref(), bound)),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sec() -> Secondary {
        Secondary { cluster: "db-east".into(), region: "us-east-1".into(), address: "module.db.c".into() }
    }

    #[test]
    fn under_the_bound_passes_over_fails_none_warns() {
        let bound = Duration::from_secs(60);
        let lag = |ms| Lag { metric: RPO_LAG, max_ms: ms, datapoints: 3 };
        assert_eq!(check(&sec(), Some(&lag(60_000.0)), bound).status, Status::Pass);
        let over = check(&sec(), Some(&lag(60_001.0)), bound);
        assert_eq!(over.status, Status::Fail);
        assert_eq!(over.expected["max_ms"], 60_000);
        assert_eq!(over.actual["max_ms"], 60_001.0);
        assert!(over.impact.contains("60.0 s"), "{}", over.impact);
        let none = check(&sec(), None, bound);
        assert_eq!(none.status, Status::Warn);
        assert!(none.fix.unwrap().contains("no AuroraGlobalDBRPOLag or AuroraGlobalDBReplicationLag datapoint"));
    }
}
