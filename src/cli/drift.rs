//! `drift` and `preflight`: read-only checks (drift's canaries aside, which
//! write under their reserved names only). Neither takes the state lock nor
//! writes state, journal or backup.

use super::args::{DriftArgs, Format, VarArgs};
use super::{Settings, declares_aws, ensure_credentials, read_state, reads_aws, var_inputs};
use crate::aws::Aws;
use crate::drift::{self, ignore};
use crate::error::Error;
use crate::health::{self, preflight};
use crate::load;
use crate::plan::planner::{self, Options};
use crate::render;
use crate::state::State;
use std::path::Path;
use std::sync::Arc;

pub async fn drift(s: &Settings, dir: &Path, args: &DriftArgs) -> Result<u8, Error> {
    let db_lag = crate::config::parse_duration(&args.max_db_lag).ok_or_else(|| {
        Error::Usage(format!("--max-db-lag: `{}` is not a duration (e.g. 30s, 2m, 1m30s)", args.max_db_lag))
    })?;
    let canary = |flag: &str, v: &str| {
        crate::config::parse_duration(v)
            .ok_or_else(|| Error::Usage(format!("{flag}: `{v}` is not a duration (e.g. 30s, 5m, 1h)")))
    };
    let canaries = if args.no_canaries {
        None
    } else {
        Some(health::canary::Options {
            s3: canary("--max-s3-canary", &args.max_s3_canary)?,
            search: canary("--max-search-canary", &args.max_search_canary)?,
        })
    };
    // Sensitive variables may be left out: what needs them is reported as
    // not compared, so a drift job holds only the secrets it uses.
    let inputs = crate::eval::vars::VarInputs { allow_missing_sensitive: true, ..var_inputs(&args.vars) };
    let loaded = load::load(dir, &inputs).map_err(Error::Config)?;
    let rules = ignore::Rules::load(dir, &args.ignore).map_err(Error::Usage)?;
    // No lock: only reads. A journal left by an interrupted apply is
    // replayed in memory, never folded into the file.
    let st = read_state(&*s.backend(dir, None).await?, false).await?;
    let aws = s.aws.clone();
    ensure_credentials(&aws, declares_aws(&loaded) || reads_aws(&st)).await?;
    let opts = drift::Options {
        parallelism: args.parallelism as usize,
        bounds: health::dr::Bounds { search_lag_ops: args.max_search_lag, db_lag },
        ignore: rules,
        prefixes: args.prefixes.clone(),
        canaries,
    };
    let mut report = drift::run(&loaded, &st, &aws, &opts, drift::now_rfc3339()).await?;
    // The last successful drill, from the drills' own record (read, no lock).
    // A record that cannot be read (a job's policy without it) costs that check only.
    let drills = match read_state(&*s.drill_backend(dir).await?, false).await {
        Ok(rec) => rec.roles.map(|r| r.drills).unwrap_or_default(),
        Err(e) => {
            report.warnings.push(format!("the drills' record could not be read, drill.last_success not checked: {e}"));
            Vec::new()
        }
    };
    if !drills.is_empty() || args.max_drill_age.is_some() {
        let days = args.max_drill_age.map(|d| std::time::Duration::from_secs(d * 86_400));
        let now = health::drill::parse_rfc3339(&report.checked_at).unwrap_or_default();
        report.add_check(health::drill::last_success(&drills, days.unwrap_or(health::drill::DEFAULT_MAX_AGE), now));
    }
    let text = match args.format {
        Format::Human => render::drift::human(&report, &dir.display().to_string(), &s.style()),
        Format::Json => {
            format!("{}\n", serde_json::to_string_pretty(&render::drift::json(&report)).unwrap_or_default())
        }
        Format::Markdown => render::drift::markdown(&report),
    };
    print!("{text}");
    Ok(report.exit_code())
}

pub async fn preflight(s: &Settings, dir: &Path, max_age: &str, format: Format, vars: &VarArgs) -> Result<u8, Error> {
    let max_backup_age = crate::config::parse_duration(max_age)
        .ok_or_else(|| Error::Usage(format!("--max-backup-age: `{max_age}` is not a duration (e.g. 24h, 90m)")))?;
    let loaded = load::load(dir, &var_inputs(vars)).map_err(Error::Config)?;
    // The configuration as if nothing existed yet: every instance with its
    // declared properties and region.
    let opts = Options { refresh: false, ..Options::default() };
    let plan = planner::plan(&loaded, &State::new(), Vec::new(), &opts)?;
    let planned: Vec<preflight::Planned> = plan
        .changes
        .iter()
        .map(|c| preflight::Planned {
            address: c.address.clone(),
            type_name: c.type_name.clone(),
            region: c.region.clone(),
            props: c.after.clone().unwrap_or_default(),
        })
        .collect();
    let aws = Arc::new(Aws::new());
    ensure_credentials(&aws, declares_aws(&loaded)).await?;
    let regions = loaded
        .tree
        .root()
        .regions
        .iter()
        .filter_map(|(n, r)| Some((n.name.clone(), r.as_ref()?.name.clone())))
        .collect();
    let input = preflight::Input { regions, planned: &planned, aws: &aws, max_backup_age };
    let checks = preflight::run(&input).await;
    let text = match format {
        Format::Human => render::preflight::human(&checks, &dir.display().to_string(), &s.style()),
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&render::preflight::json(&checks, &drift::now_rfc3339())).unwrap_or_default()
        ),
        Format::Markdown => render::preflight::markdown(&checks),
    };
    print!("{text}");
    Ok(if preflight::failed(&checks) { 3 } else { 0 })
}
