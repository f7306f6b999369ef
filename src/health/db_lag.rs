//! Aurora global database replication lag, from CloudWatch.
//!
//! RDS publishes the lag metrics only for secondary clusters, in the
//! secondary's region (`AWS/RDS`, ms). AWS's switchover guidance names
//! `AuroraGlobalDBRPOLag` (every Aurora PostgreSQL version, Aurora MySQL ≥
//! 3.04 / 2.12); older Aurora MySQL only has `AuroraGlobalDBReplicationLag`,
//! used when no RPO series exists.
//!
//! AWS does not document the metrics' dimension set (an AWS lab shows them
//! under `SourceRegion`; Neptune, on the same storage, documents
//! `DBClusterIdentifier, SourceRegion`), and CloudWatch returns only the
//! exact set a datapoint was published with ("CloudWatch treats each unique
//! combination of dimensions as a separate metric": GetMetricStatistics).
//! So the series are found first: ListMetrics with the metric's name and the
//! `DBClusterIdentifier` dimension returns every published set that contains
//! it; one GetMetricData then reads them all. Calls per secondary: one or
//! two ListMetrics, one GetMetricData (none when nothing is published).
//!
//! No datapoint at all is a warning in drift and a failure in a switchover's
//! readiness (overridable with `--force`): nobody can say how far behind
//! the target is.

use super::{Check, Status};
use crate::aws::Aws;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{DimensionFilter, Metric, MetricDataQuery, MetricStat, ScanBy};
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

/// The series of `name` published for `cluster` (each with its whole
/// dimension set).
async fn series(cw: &aws_sdk_cloudwatch::Client, s: &Secondary, name: &str) -> Result<Vec<Metric>, String> {
    let mut out = Vec::new();
    let mut pages = cw
        .list_metrics()
        .namespace("AWS/RDS")
        .metric_name(name)
        .dimensions(DimensionFilter::builder().name("DBClusterIdentifier").value(&s.cluster).build())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("{}: {}", s.address, crate::kinds::aws::aws_error("ListMetrics", e)))?;
        out.extend(page.metrics().iter().cloned());
    }
    // Each series once (its dimension set), whatever the listing repeats.
    let key = |m: &Metric| {
        let mut d: Vec<(String, String)> = m
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap_or_default().to_string(), d.value().unwrap_or_default().to_string()))
            .collect();
        d.sort();
        d
    };
    out.sort_by_key(key);
    out.dedup_by(|a, b| key(a) == key(b));
    Ok(out)
}

/// The maximum lag of `cluster` over the last [`WINDOW`]; `None` when
/// CloudWatch has no datapoint of either metric.
pub async fn read(aws: &Aws, s: &Secondary) -> Result<Option<Lag>, String> {
    let cw = aws.cloudwatch(&s.region).await;
    let mut metric = RPO_LAG;
    let mut found = series(&cw, s, RPO_LAG).await?;
    if found.is_empty() {
        metric = REPLICATION_LAG;
        found = series(&cw, s, REPLICATION_LAG).await?;
    }
    if found.is_empty() {
        return Ok(None);
    }
    let end = SystemTime::now();
    let queries = found.into_iter().enumerate().map(|(n, m)| {
        MetricDataQuery::builder()
            .id(format!("s{n}"))
            .metric_stat(MetricStat::builder().metric(m).period(60).stat("Maximum").build())
            .return_data(true)
            .build()
    });
    let out = cw
        .get_metric_data()
        .set_metric_data_queries(Some(queries.collect()))
        .start_time(DateTime::from(end - WINDOW))
        .end_time(DateTime::from(end))
        .scan_by(ScanBy::TimestampDescending)
        .send()
        .await
        .map_err(|e| format!("{}: {}", s.address, crate::kinds::aws::aws_error("GetMetricData", e)))?;
    let values: Vec<f64> = out.metric_data_results().iter().flat_map(|r| r.values().to_vec()).collect();
    Ok((!values.is_empty()).then(|| Lag {
        metric,
        max_ms: values.iter().copied().fold(f64::MIN, f64::max),
        datapoints: values.len(),
    }))
}

/// The check for one secondary, from what [`read`] found. `strict` (a
/// switchover's readiness): no datapoint fails; otherwise it warns.
pub fn check(s: &Secondary, lag: Option<&Lag>, bound: Duration, strict: bool) -> Check {
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
            status: if strict { Status::Fail } else { Status::Warn },
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

/// Reads and checks every secondary. A two-region topology has one
/// secondary, so they are not run concurrently.
pub async fn checks(
    aws: &Aws,
    secondaries: &[Secondary],
    bound: Duration,
    strict: bool,
) -> Result<Vec<Check>, Vec<String>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for s in secondaries {
        match read(aws, s).await {
            Ok(lag) => out.push(check(s, lag.as_ref(), bound, strict)),
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
    fn under_the_bound_passes_over_fails_none_warns_in_drift_and_fails_a_switchover() {
        let bound = Duration::from_secs(60);
        let lag = |ms| Lag { metric: RPO_LAG, max_ms: ms, datapoints: 3 };
        assert_eq!(check(&sec(), Some(&lag(60_000.0)), bound, true).status, Status::Pass);
        let over = check(&sec(), Some(&lag(60_001.0)), bound, false);
        assert_eq!(over.status, Status::Fail);
        assert_eq!(over.expected["max_ms"], 60_000);
        assert_eq!(over.actual["max_ms"], 60_001.0);
        assert!(over.impact.contains("60.0 s"), "{}", over.impact);
        assert_eq!(check(&sec(), None, bound, true).status, Status::Fail);
        let none = check(&sec(), None, bound, false);
        assert_eq!(none.status, Status::Warn);
        assert!(none.fix.unwrap().contains("no AuroraGlobalDBRPOLag or AuroraGlobalDBReplicationLag datapoint"));
    }
}
