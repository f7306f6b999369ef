//! Drift: what differs between the state (as last applied), the
//! configuration and AWS, as a list of findings of five kinds, never mixed:
//!
//! - `changed`: an attribute standby manages differs in AWS from what was
//!   last applied (computed attributes are never findings);
//! - `missing`: on record, gone from AWS;
//! - `unapplied`: the configuration differs from what was applied (a change
//!   waiting for a plan, not drift);
//! - `unmanaged`: in the topology's scope but not in state ([`unmanaged`]);
//! - `unhealthy`: a failing DR health check ([`crate::health::dr`]). A drift
//!   finding on the attribute a failing check is about stays a finding of
//!   its own (a job counting drift sees it); the unhealthy finding names
//!   it in `drift` and says what it breaks.
//!
//! Read-only by construction: [`run`] takes the state by reference, refreshes
//! a copy in memory, and never writes. The one exception, unless turned off:
//! the replication canaries ([`crate::health::canary`]) write a test object
//! and a test document under their reserved names, and remove them. Finding
//! ignore rules are in [`ignore`].

pub mod ignore;
pub mod unmanaged;

use crate::aws::Aws;
use crate::health::{self, Check, Status};
use crate::kinds;
use crate::kinds::schema::Mode;
use crate::load::Loaded;
use crate::plan::planner::{self, PlanError};
use crate::plan::{Action, ResourceChange};
use crate::state::State;
use crate::value::{Attrs, Value};
use serde::Serialize;
use serde_json::{Value as Json, json};
use std::sync::Arc;

/// The JSON report's `format_version` (see docs/drift-and-health.md).
pub const FORMAT_VERSION: &str = "1.0";

/// The property the domain REST kinds sign in with (their user's password):
/// unknown, they cannot be read.
const SIGN_IN: &str = "master_user_password";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingKind {
    Unhealthy,
    Changed,
    Missing,
    Unmanaged,
    Unapplied,
}

impl FindingKind {
    pub const ALL: [FindingKind; 5] = [
        FindingKind::Unhealthy,
        FindingKind::Changed,
        FindingKind::Missing,
        FindingKind::Unmanaged,
        FindingKind::Unapplied,
    ];

    pub fn word(self) -> &'static str {
        match self {
            FindingKind::Unhealthy => "unhealthy",
            FindingKind::Changed => "changed",
            FindingKind::Missing => "missing",
            FindingKind::Unmanaged => "unmanaged",
            FindingKind::Unapplied => "unapplied",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// A resource address; for unmanaged resources `<type>.<name>`.
    pub address: String,
    /// Attribute path; empty for the whole resource.
    pub path: String,
    pub expected: Json,
    pub actual: Json,
    /// The DR impact, for unhealthy findings.
    pub impact: Option<String>,
    /// The health check, for unhealthy findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<&'static str>,
    /// For unhealthy findings: the drift that caused it (`changed`,
    /// `missing`), also reported as a finding of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<FindingKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// A sentence for people ("deleted outside standby", how to fix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Finding {
    fn new(
        kind: FindingKind,
        address: impl Into<String>,
        path: impl Into<String>,
        expected: Json,
        actual: Json,
    ) -> Self {
        Finding {
            kind,
            address: address.into(),
            path: path.into(),
            expected,
            actual,
            impact: None,
            check: None,
            drift: None,
            region: None,
            detail: None,
        }
    }
}

/// One run's result.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// RFC 3339, UTC.
    pub checked_at: String,
    pub serial: u64,
    pub lineage: String,
    pub findings: Vec<Finding>,
    /// Findings hidden by ignore rules, with the rule that hid each.
    pub ignored: Vec<(String, Finding)>,
    /// Every DR health check, passing ones included.
    pub checks: Vec<Check>,
    /// Notes that are not findings (e.g. interrupted creates).
    pub warnings: Vec<String>,
    /// The name prefixes unmanaged resources were looked for with.
    pub prefixes: Vec<String>,
}

impl Report {
    pub fn count(&self, kind: FindingKind) -> usize {
        self.findings.iter().filter(|f| f.kind == kind).count()
    }

    /// 0 clean, 2 drift (changed, missing, unmanaged, unapplied), 3 unhealthy
    /// (wins over 2). Ignored findings do not count.
    /// Adds a check made outside [`run`] (e.g. the last drill's age): a
    /// failing one becomes an unhealthy finding, as the others do.
    pub fn add_check(&mut self, c: Check) {
        if c.status == Status::Fail {
            self.findings = merge_check(std::mem::take(&mut self.findings), &c);
        }
        self.checks.push(c);
    }

    pub fn exit_code(&self) -> u8 {
        if self.count(FindingKind::Unhealthy) > 0 {
            3
        } else if self.findings.is_empty() {
            0
        } else {
            2
        }
    }

    /// Ignored findings per rule, in rule order of first use.
    pub fn ignored_by_rule(&self) -> Vec<(String, usize)> {
        let mut out: Vec<(String, usize)> = Vec::new();
        for (rule, _) in &self.ignored {
            match out.iter_mut().find(|(r, _)| r == rule) {
                Some((_, n)) => *n += 1,
                None => out.push((rule.clone(), 1)),
            }
        }
        out
    }
}

/// How a drift run looks.
pub struct Options {
    pub parallelism: usize,
    pub bounds: health::dr::Bounds,
    pub ignore: ignore::Rules,
    /// Name prefixes for unmanaged discovery (empty: from the configuration).
    pub prefixes: Vec<String>,
    /// The replication canaries' bounds; `None`: no canary (`--no-canaries`,
    /// a strictly read-only run).
    pub canaries: Option<health::canary::Options>,
}

#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("DR health checks could not run:\n{}", .0.join("\n"))]
    Health(Vec<String>),
    #[error("looking for unmanaged resources failed:\n{}", .0.join("\n"))]
    Discovery(Vec<String>),
}

/// Runs a drift check. `recorded` is the state as read; it is not changed.
pub async fn run(
    loaded: &Loaded,
    recorded: &State,
    aws: &Arc<Aws>,
    opts: &Options,
    checked_at: String,
) -> Result<Report, DriftError> {
    // What signs in with a secret this run was not given (a sensitive
    // variable left out: a drift job holds no secret it does not use) cannot
    // be read: it is not compared, and the report says so.
    let blind: Vec<&crate::address::InstanceAddr> = recorded
        .resources
        .keys()
        .filter(|a| loaded.unknown_secrets.get(&a.to_string()).is_some_and(|u| u.iter().any(|p| p == SIGN_IN)))
        .collect();
    let mut refreshed = recorded.clone();
    refreshed.resources.retain(|a, _| !blind.contains(&a));
    let found = planner::refresh(&mut refreshed, aws, opts.parallelism, &loaded.secrets).await?;
    for a in &blind {
        refreshed.resources.insert((*a).clone(), recorded.resources[*a].clone());
    }
    let mut findings: Vec<Finding> = found.drift.iter().flat_map(drift_findings).collect();
    let plan_opts = planner::Options {
        refresh: false,
        parallelism: opts.parallelism,
        absent_secrets: loaded.unknown_secrets.clone(),
        ..planner::Options::default()
    };
    let plan = planner::plan(loaded, recorded, Vec::new(), &plan_opts)?;
    let mut not_compared: Vec<String> = blind
        .iter()
        .map(|a| {
            format!(
                "{a}: not compared: it is read as the user whose password ({SIGN_IN}) comes from a sensitive \
                 variable this run was not given"
            )
        })
        .collect();
    // The inputs from a secret not given are planned as unchanged (what is
    // computed from them keeps its recorded value): say what was not compared.
    let recorded_here: std::collections::BTreeSet<String> = recorded.resources.keys().map(|a| a.to_string()).collect();
    for (address, paths) in &loaded.unknown_secrets {
        if recorded_here.contains(address) {
            not_compared.push(format!(
                "{address}: {} not compared with the configuration: the sensitive variable it comes from was not given",
                paths.join(", ")
            ));
        }
    }
    for c in &plan.changes {
        let unknown = loaded.unknown_secrets.get(&c.address).cloned().unwrap_or_default();
        let (blank, known): (Vec<Finding>, Vec<Finding>) =
            unapplied_findings(c).into_iter().partition(|f| unknown.contains(&f.path));
        findings.extend(known);
        if !blank.is_empty() && !recorded_here.contains(&c.address) {
            let paths: Vec<&str> = blank.iter().map(|f| f.path.as_str()).collect();
            not_compared.push(format!(
                "{}: {} not compared with the configuration: the sensitive variable it comes from was not given",
                c.address,
                paths.join(", ")
            ));
        }
    }
    let input = health::dr::Input {
        recorded,
        refreshed: &refreshed,
        secrets: &loaded.secrets,
        aws,
        bounds: &opts.bounds,
        target_region: None,
    };
    let scope = unmanaged::Scope::of(loaded, recorded, &opts.prefixes);
    let canaries = async {
        match &opts.canaries {
            Some(c) => health::canary::run(&input, c).await,
            None => Ok(Vec::new()),
        }
    };
    let (checks, discovered, canaries) =
        tokio::join!(health::dr::run(&input), unmanaged::discover(&scope, aws), canaries);
    let mut checks = checks.map_err(DriftError::Health)?;
    checks.extend(canaries.map_err(DriftError::Health)?);
    findings.extend(discovered.map_err(DriftError::Discovery)?);
    for c in checks.iter().filter(|c| c.status == Status::Fail) {
        findings = merge_check(findings, c);
    }
    let (mut kept, mut ignored) = (Vec::new(), Vec::new());
    for f in findings {
        match opts.ignore.matching(&f) {
            Some(rule) => ignored.push((rule.to_string(), f)),
            None => kept.push(f),
        }
    }
    kept.sort_by(|a, b| (a.kind, &a.address, &a.path).cmp(&(b.kind, &b.address, &b.path)));
    ignored.sort_by(|(_, a), (_, b)| (a.kind, &a.address, &a.path).cmp(&(b.kind, &b.address, &b.path)));
    let mut warnings: Vec<String> = found.warnings.iter().map(|w| w.to_string()).collect();
    warnings.extend(plan.warnings.iter().map(|w| w.to_string()));
    warnings.extend(not_compared);
    Ok(Report {
        checked_at,
        serial: recorded.serial,
        lineage: recorded.lineage.clone(),
        findings: kept,
        ignored,
        checks,
        warnings,
        prefixes: scope.prefixes.clone(),
    })
}

fn attr_json(attrs: &Option<Attrs>, k: &str) -> Json {
    attrs.as_ref().and_then(|a| a.get(k)).map_or(Json::Null, Value::to_json)
}

/// Whether `prop` of a kind is something standby manages (an input, not a
/// computed or secret attribute).
fn managed_attr(type_name: &str, prop: &str) -> bool {
    kinds::lookup(type_name)
        .and_then(|k| k.schema().get(prop))
        .is_some_and(|p| p.mode != Mode::Computed && !p.sensitive)
}

/// Drift found by refresh: one finding per changed input attribute, or one
/// for a resource gone.
fn drift_findings(c: &ResourceChange) -> Vec<Finding> {
    let region = Some(c.region.clone());
    if c.action == Action::Delete {
        let mut f = Finding::new(FindingKind::Missing, &c.address, "", json!({"id": c.id}), Json::Null);
        f.region = region;
        f.detail = Some("deleted outside standby".into());
        return vec![f];
    }
    c.changed
        .iter()
        .filter(|k| managed_attr(&c.type_name, k) && !c.sensitive.contains(*k))
        .map(|k| {
            let mut f = Finding::new(
                FindingKind::Changed,
                &c.address,
                k.as_str(),
                attr_json(&c.before, k),
                attr_json(&c.after, k),
            );
            f.region = region.clone();
            f.detail = Some("changed outside standby; `standby plan` shows how apply would set it back".into());
            f
        })
        .collect()
}

/// The configuration against the state as applied: what the next plan
/// would change (no refresh, so no drift mixed in).
fn unapplied_findings(c: &ResourceChange) -> Vec<Finding> {
    let region = Some(c.region.clone());
    let one = |expected: Json, actual: Json, path: &str, detail: &str| {
        let mut f = Finding::new(FindingKind::Unapplied, &c.address, path, expected, actual);
        f.region = region.clone();
        f.detail = Some(detail.to_string());
        f
    };
    match c.action {
        Action::NoOp => Vec::new(),
        Action::Create => vec![one(Json::Null, Json::Null, "", "declared, not created yet: the next apply creates it")],
        Action::Delete => vec![one(
            Json::Null,
            json!({"id": c.id}),
            "",
            c.reason.as_deref().unwrap_or("no longer in the configuration: the next apply deletes it"),
        )],
        Action::Update | Action::Replace => c
            .changed
            .iter()
            .filter(|k| kinds::lookup(&c.type_name).and_then(|kd| kd.schema().get(k)).is_none_or(|p| p.is_input()))
            .map(|k| {
                let (e, a) = if c.sensitive.contains(k) {
                    (json!("(sensitive)"), json!("(sensitive)"))
                } else {
                    (attr_json(&c.after, k), attr_json(&c.before, k))
                };
                let detail = if c.action == Action::Replace {
                    "changed in the configuration: the next apply replaces the resource"
                } else {
                    "changed in the configuration: the next apply updates it"
                };
                one(e, a, k, detail)
            })
            .collect(),
    }
}

/// A failing check becomes one unhealthy finding. Drift on the attribute it
/// is about (or the resource gone) stays a finding of its own, and the
/// unhealthy one names it.
fn merge_check(mut findings: Vec<Finding>, c: &Check) -> Vec<Finding> {
    let path = c.path.clone().unwrap_or_default();
    let drift = findings
        .iter()
        .find(|f| {
            c.address.as_deref() == Some(f.address.as_str())
                && ((f.kind == FindingKind::Changed && f.path == path) || f.kind == FindingKind::Missing)
        })
        .map(|f| f.kind);
    let mut f = Finding::new(
        FindingKind::Unhealthy,
        c.address.clone().unwrap_or_else(|| format!("health.{}", c.id)),
        path,
        c.expected.clone(),
        c.actual.clone(),
    );
    f.impact = Some(c.impact.clone());
    f.check = Some(c.id);
    f.drift = drift;
    f.detail = Some(match (&c.fix, drift) {
        (Some(fix), Some(FindingKind::Missing)) => format!("{}: deleted outside standby; {fix}", c.title),
        (Some(fix), Some(_)) => format!("{}: changed outside standby; {fix}", c.title),
        (Some(fix), None) => format!("{}; {fix}", c.title),
        (None, _) => c.title.clone(),
    });
    findings.push(f);
    findings
}

/// The current time as RFC 3339 UTC (`2026-12-01T21:04:05Z`).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str) -> Check {
        Check::new("s3.versioning", "versioning on b", false)
            .at("module.files.aws_s3_bucket_versioning.v", path)
            .values(json!("Enabled"), json!("Suspended"))
            .impact("files stop replicating")
    }

    #[test]
    fn a_failing_check_keeps_the_drift_on_its_attribute_and_names_it() {
        let a = "module.files.aws_s3_bucket_versioning.v";
        let drift = Finding::new(FindingKind::Changed, a, "status", json!("Enabled"), json!("Suspended"));
        let other = Finding::new(FindingKind::Changed, a, "bucket", json!("x"), json!("y"));
        let out = merge_check(vec![drift.clone(), other.clone()], &check("status"));
        assert_eq!(out.len(), 3);
        assert_eq!((&out[0], &out[1]), (&drift, &other));
        assert_eq!(
            (out[2].kind, out[2].drift, out[2].path.as_str()),
            (FindingKind::Unhealthy, Some(FindingKind::Changed), "status")
        );
        let gone = Finding::new(FindingKind::Missing, a, "", json!({"id": "b"}), Json::Null);
        let out = merge_check(vec![gone], &check("status"));
        assert_eq!((out.len(), out[0].kind, out[1].drift), (2, FindingKind::Missing, Some(FindingKind::Missing)));
    }

    #[test]
    fn unhealthy_wins_the_exit_code() {
        let mut r = Report {
            checked_at: String::new(),
            serial: 1,
            lineage: String::new(),
            findings: vec![],
            ignored: vec![],
            checks: vec![],
            warnings: vec![],
            prefixes: vec![],
        };
        assert_eq!(r.exit_code(), 0);
        r.findings.push(Finding::new(FindingKind::Unmanaged, "aws_s3_bucket.x", "", Json::Null, Json::Null));
        assert_eq!(r.exit_code(), 2);
        r.findings.push(Finding::new(FindingKind::Unhealthy, "a", "", Json::Null, Json::Null));
        assert_eq!(r.exit_code(), 3);
    }

    #[test]
    fn rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'), "{t}");
    }
}
