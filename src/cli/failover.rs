//! `failover`: the emergency role switch, calling only the surviving region.

use super::args::VarArgs;
use super::{Settings, read_state, var_inputs};
use crate::apply::progress::Progress;
use crate::drift::now_rfc3339;
use crate::error::Error;
use crate::health::db_lag;
use crate::load;
use crate::plan::planner::{self, Options};
use crate::render;
use crate::state::roles::{FailoverNote, Roles};
use crate::switchover::{self, exec::Executor};
use std::collections::BTreeMap;
use std::path::Path;

pub async fn failover(
    s: &Settings,
    dir: &Path,
    to: &str,
    allow_data_loss: bool,
    auto_approve: bool,
    vars: &VarArgs,
) -> Result<u8, Error> {
    let loaded = load::load(dir, &var_inputs(vars)).map_err(Error::Config)?;
    let regions: BTreeMap<String, String> = loaded
        .tree
        .root()
        .regions
        .iter()
        .filter_map(|(n, r)| Some((n.name.clone(), r.as_ref()?.name.clone())))
        .collect();
    let Some(to_region) = regions.get(to).cloned() else {
        let names: Vec<&str> = regions.keys().map(String::as_str).collect();
        return Err(Error::Usage(format!("--to {to}: not a region name here; use one of: {}", names.join(", "))));
    };
    if !allow_data_loss {
        return Err(Error::Usage(format!(
            "a failover can lose the writes {to} had not received yet; add --allow-data-loss to go ahead. With both \
             regions healthy, switch over instead (nothing lost): `standby plan --var active_region={to}`, then apply"
        )));
    }
    let backend = s.backend(dir, None).await?;
    let _lock = backend.lock("failover").await?;
    let mut st = read_state(&*backend, true).await?;
    let active = st
        .roles
        .as_ref()
        .map(|r| r.active.clone())
        .or_else(|| switchover::active(loaded.tree.root(), &loaded.vars))
        .unwrap_or_else(|| "primary".into());
    if active == to {
        return Err(Error::Usage(format!(
            "{to} ({to_region}) is already the active region; `standby plan` shows any steps still pending"
        )));
    }
    // The configuration as it will be (`to` active), planned from the state
    // as recorded: refreshing would call the region that is down. Its
    // scheduler and DNS changes become steps; the rest waits for `apply`.
    let mut inputs = var_inputs(vars);
    inputs.cli.push(format!("{}={to}", switchover::ACTIVE_VAR));
    let target = load::load(dir, &inputs).map_err(Error::Config)?;
    let opts = Options { refresh: false, ..Options::default() };
    // The database comes first on a bad day: a configuration that cannot be
    // planned leaves the scheduler and DNS to a later apply, said so.
    let plan = planner::plan(&target, &st, Vec::new(), &opts).unwrap_or_else(|e| {
        eprintln!(
            "Warning: cannot plan the job scheduler and DNS changes ({}); the failover goes ahead without them: run \
             `standby apply --var {}={to}` once it is done",
            Error::from(e),
            switchover::ACTIVE_VAR
        );
        crate::plan::Plan::default()
    });
    let Some(rb) = switchover::failover(&st, &plan, to, &to_region, &active) else {
        return Err(Error::Usage("the state holds no Aurora global database: there is nothing to fail over".into()));
    };
    print!("{}", render::runbook::human(&rb, &s.style()));
    if !auto_approve {
        super::run::confirm_to(&format!("fail over to {to} ({to_region}), possibly losing recent writes"))?;
    }
    // The last lag seen, from CloudWatch in the surviving region only.
    let secondary =
        st.resources.iter().find(|(_, i)| i.type_name == "aws_rds_cluster" && i.region == to_region).map(|(a, i)| {
            db_lag::Secondary {
                cluster: i.attrs.get("cluster_identifier").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
                region: to_region.clone(),
                address: a.to_string(),
            }
        });
    let lag = match &secondary {
        Some(sec) => db_lag::read(&s.aws, sec).await.ok().flatten(),
        None => None,
    };
    let note = FailoverNote {
        from: active.clone(),
        to: to.to_string(),
        at: now_rfc3339(),
        last_lag_ms: lag.as_ref().map(|l| l.max_ms),
        lag_metric: lag.as_ref().map(|l| l.metric.to_string()),
    };
    let roles = st.roles.take().unwrap_or_else(|| Roles { active: active.clone(), ..Default::default() });
    st.roles = Some(Roles { failover: Some(note.clone()), ..roles });
    let print = |line: &str| println!("{line}");
    let secrets = crate::load::secrets::with_borrowed(&loaded.secrets, &st);
    let exec = Executor {
        aws: &s.aws,
        backend: &*backend,
        recorded: &st.clone(),
        secrets: &secrets,
        force: true,
        timeout: std::time::Duration::from_secs(60 * 60),
        progress: &print,
        surviving_only: true,
        changes: Some(switchover::changes::Changes {
            loaded: &target,
            plan: &plan,
            aws: s.aws.clone(),
            progress: std::sync::Arc::new(Progress::stdout()),
            parallelism: opts.parallelism,
        }),
    };
    println!();
    exec.run(&rb, &mut st).await.map_err(|e| Error::Apply(vec![e.to_string()]))?;
    let lost = match note.last_lag_ms {
        Some(ms) => format!("the last replication lag seen was {ms:.0} ms: writes of about that window may be lost"),
        None => "no replication lag figure was available: how much was lost is unknown".into(),
    };
    println!(
        "\n{to} ({to_region}) is active since {}; {lost}.\nNext: set `active_region` to {to} in the configuration \
         (or pass --var active_region={to}); plans that still name {active} are refused.",
        note.at
    );
    Ok(0)
}
