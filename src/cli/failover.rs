//! `failover`: the emergency role switch, calling only the surviving region,
//! and resuming one that stopped (killed, or a step failed) while the old
//! region is still down.

use super::args::VarArgs;
use super::{Settings, read_state, var_inputs};
use crate::apply::progress::Progress;
use crate::drift::now_rfc3339;
use crate::error::Error;
use crate::health::{self, db_lag};
use crate::load;
use crate::load::active::ACTIVE_VAR;
use crate::plan::planner::{self, Options};
use crate::render;
use crate::state::roles::{FailoverNote, Roles};
use crate::switchover::{self, exec::Executor};
use std::path::Path;

/// AWS's checklist before a managed failover (Aurora User Guide, "Recovering
/// an Amazon Aurora global database from an unplanned outage"), shown with
/// the confirmation: write fencing is a best effort, so split brain is
/// avoided by the operator, not by Aurora alone.
const CHECKLIST: &str = "Before you confirm (AWS's checklist against split brain; write fencing of the old region is \
only a best effort):
  - take Mattermost in the old region offline if any of it still runs (its nodes may still write there);
  - Mattermost's DataSource must be the global writer endpoint (readiness checks it), and DNS caches short \
(about 5 s), so that every node follows the new writer;
  - fail over to the secondary with the least replication lag (shown above when CloudWatch has it);
  - afterwards, look for Aurora's event saying writes were stopped in the old region (this run records the \
surviving region's events).";

/// The flags that say how far the operator lets a failover go.
pub struct How {
    /// Losing the writes the target had not received yet is accepted.
    pub allow_data_loss: bool,
    /// AWS's preconditions failing or unreadable do not stop it: AWS, which
    /// enforces them, refuses the call if one really does not hold.
    pub skip_preconditions: bool,
    pub auto_approve: bool,
}

pub async fn failover(s: &Settings, dir: &Path, to: &str, how: How, vars: &VarArgs) -> Result<u8, Error> {
    let How { allow_data_loss, skip_preconditions, auto_approve } = how;
    let loaded = load::load(dir, &var_inputs(vars)).map_err(Error::Config)?;
    let regions = load::active::regions(loaded.tree.root());
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
    // Everything from the surviving region, credentials included: a role
    // assumed through STS in the region that is down would fail first.
    let s = &s.pinned_to(&to_region);
    let who = s.aws.sts(&to_region).await.get_caller_identity().send().await.map_err(|e| {
        Error::Usage(format!(
            "cannot confirm AWS credentials in {to_region}, the surviving region: {}\n  hint: credentials that \
                 come from STS (a role, web identity) are asked for in {to_region}; an SSO login is bound to IAM \
                 Identity Center's own region, which must not be the one that is down",
            crate::kinds::aws::aws_error("GetCallerIdentity", e)
        ))
    })?;
    println!("AWS identity {} (checked in {to_region})", who.arn().unwrap_or("unknown"));
    let backend = s.backend(dir, None).await?;
    let _lock = backend.lock("failover").await?;
    let mut st = read_state(&*backend, true).await?;
    let active = st
        .roles
        .as_ref()
        .map(|r| r.active.clone())
        .or_else(|| load::active::active(loaded.tree.root(), &loaded.vars))
        .unwrap_or_else(|| "primary".into());
    // A failover to the same region that stopped before its end resumes.
    let resuming = switchover::unfinished_failover(st.roles.as_ref()).filter(|(t, _)| t == to).is_some();
    if active == to && !resuming {
        return Err(Error::Usage(format!(
            "{to} ({to_region}) is already the active region; `standby plan` shows any steps still pending"
        )));
    }
    // The configuration as it will be (`to` active), planned from the state
    // as recorded: refreshing would call the region that is down. Its
    // scheduler, app tier and DNS changes become steps; the rest waits for `apply`.
    let mut inputs = var_inputs(vars);
    inputs.cli.push(format!("{ACTIVE_VAR}={to}"));
    let target = load::load(dir, &inputs).map_err(Error::Config)?;
    let opts = Options { refresh: false, ..Options::default() };
    // The database comes first on a bad day: a configuration that cannot be
    // planned leaves the scheduler and DNS to a later apply, said so.
    // The run then never says done (review N3): it ends "NOT finished", exit code 4.
    let mut unplanned = None;
    let plan = planner::plan(&target, &st, Vec::new(), &opts).unwrap_or_else(|e| {
        let e = Error::from(e);
        eprintln!(
            "Warning: cannot plan the job scheduler and DNS changes ({e}); the failover goes ahead without them: run \
             `standby apply --var {ACTIVE_VAR}={to}` once it is done"
        );
        unplanned = Some(format!(
            "its app tier, job scheduler and DNS changes could not be planned ({}), so nothing shows it serves: fix \
             the configuration and run `standby apply --var {ACTIVE_VAR}={to}`",
            e.to_string().lines().next().unwrap_or_default()
        ));
        crate::plan::Plan::default()
    });
    let rb = if resuming {
        switchover::resume(st.roles.as_ref(), Some(to)).map_err(Error::Usage)?
    } else {
        switchover::failover(&st, &plan, to, &to_region, &active)
    };
    let Some(rb) = rb else {
        return Err(Error::Usage("the state holds no Aurora global database: there is nothing to fail over".into()));
    };
    let from_region = rb.from_region.clone();
    if resuming {
        println!("Resuming the failover to {to} ({to_region}): its steps not done yet, in the surviving region.\n");
    }
    print!("{}", render::runbook::human(&rb, &s.style()));
    // AWS's preconditions and the last lag seen, asked of the surviving
    // region only, at the same time.
    let secondary =
        st.resources.iter().find(|(_, i)| i.type_name == "aws_rds_cluster" && i.region == to_region).map(|(a, i)| {
            db_lag::Secondary {
                cluster: i.attrs.get("cluster_identifier").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
                region: to_region.clone(),
                address: a.to_string(),
            }
        });
    let global = global_id(&st).filter(|_| !resuming);
    let (checks, lag) = tokio::join!(
        async {
            match &global {
                Some(g) => Some(health::db_switch::failover(&s.aws, g, &to_region).await),
                None => None,
            }
        },
        async {
            match (&secondary, resuming) {
                (Some(sec), false) => db_lag::read(&s.aws, sec).await.ok().flatten(),
                _ => None,
            }
        }
    );
    // AWS enforces its preconditions itself (it refuses the call); standby
    // checks them first to say why in plain words. A check that cannot be
    // read (a read permission missing from an emergency role, throttling
    // during a regional event) or that fails stops the failover unless
    // --skip-preconditions, recorded with the run (Aurora User Guide,
    // "Using switchover or failover in Amazon Aurora Global Database").
    let mut skipped: Option<String> = None;
    if let Some(checks) = checks {
        let skip = |why: String| -> Result<Option<String>, Error> {
            if !skip_preconditions {
                return Err(Error::Usage(format!(
                    "{why}\n  hint: if you know better (the check cannot be read, or reads AWS differently), \
                     re-run with --skip-preconditions: AWS's answer to FailoverGlobalCluster then decides"
                )));
            }
            println!("Warning: --skip-preconditions: going ahead although {why}");
            Ok(Some(why))
        };
        match checks {
            Err(e) => {
                skipped = skip(format!("AWS's failover preconditions in {to_region} could not be checked: {e}"))?;
            }
            Ok(checks) => {
                let failed: Vec<String> = checks
                    .iter()
                    .filter(|c| c.status != health::Status::Pass)
                    .map(|c| {
                        let fix = c.fix.as_deref().map(|f| format!("\n      fix: {f}")).unwrap_or_default();
                        format!("  - {} ({}): {}: {}{fix}", c.id, c.status.word(), c.title, c.impact)
                    })
                    .collect();
                if checks.iter().any(|c| c.status == health::Status::Fail) {
                    skipped =
                        skip(format!("AWS would refuse this failover (nothing was changed):\n{}", failed.join("\n")))?;
                } else {
                    for f in failed {
                        println!("Warning: {}", f.trim_start());
                    }
                }
            }
        }
    }
    // What was skipped is a note of the run once the database step is done.
    let rb = match &skipped {
        Some(why) => {
            let mut rb = rb;
            for step in rb.steps.iter_mut().filter(|x| x.id == switchover::DB_FAILOVER) {
                let text = format!(
                    "Failover preconditions skipped (--skip-preconditions); AWS accepted the failover at {{at}}. \
                     What standby could not confirm: {}",
                    why.replace('\n', " ")
                );
                *step = step.clone().note(text, 0);
            }
            rb
        }
        None => rb,
    };
    if let Some(l) = &lag {
        println!("Last replication lag of {to} ({}): {:.0} ms", l.metric, l.max_ms);
    }
    println!("\n{CHECKLIST}");
    if !auto_approve {
        let what = if resuming {
            format!("resume the failover to {to} ({to_region})")
        } else if skipped.is_some() {
            format!(
                "fail over to {to} ({to_region}), possibly losing recent writes, WITHOUT AWS's preconditions \
                 confirmed (AWS refuses the call if one does not hold)"
            )
        } else {
            format!("fail over to {to} ({to_region}), possibly losing recent writes")
        };
        super::confirm_to(&what)?;
    }
    let note = if resuming {
        st.roles.as_ref().and_then(|r| r.failover.clone())
    } else {
        let note = FailoverNote {
            from: active.clone(),
            to: to.to_string(),
            at: now_rfc3339(),
            last_lag_ms: lag.as_ref().map(|l| l.max_ms),
            lag_metric: lag.as_ref().map(|l| l.metric.to_string()),
        };
        let roles = st.roles.take().unwrap_or_else(|| Roles { active: active.clone(), ..Default::default() });
        st.roles = Some(Roles { failover: Some(note.clone()), ..roles });
        Some(note)
    };
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
        down: Some(from_region.clone()),
        // Without a plan, a resumed step that applies changes fails rather
        // than finding "nothing left to change".
        changes: unplanned.is_none().then(|| switchover::changes::Changes {
            loaded: &target,
            plan: &plan,
            aws: s.aws.clone(),
            progress: std::sync::Arc::new(Progress::stdout()),
            parallelism: opts.parallelism,
        }),
        unplanned: unplanned.clone(),
        drill: None,
    };
    println!();
    let ended = exec.run(&rb, &mut st).await.map_err(|e| Error::Apply(vec![e.to_string()]))?;
    let lost = match note.as_ref().and_then(|n| n.last_lag_ms) {
        Some(ms) => format!("the last replication lag seen was {ms:.0} ms: writes of about that window may be lost"),
        None => "no replication lag figure was available: how much was lost is unknown".into(),
    };
    let since = note.as_ref().map(|n| n.at.clone()).unwrap_or_default();
    println!(
        "\n{to} ({to_region}) is active since {since}; {lost}.\nNext: set `active_region` to {to} in the \
         configuration (or pass --var active_region={to}); plans that still name {active} are refused.\nMeanwhile, \
         the old region: when {from_region} comes back, its app nodes start serving again with the job scheduler \
         on and its old search index, and write through the global writer endpoint. Keep them out of service until \
         `standby apply --var active_region={to}` has run (for example set its Auto Scaling group's desired \
         capacity to 0 as soon as {from_region} answers); run that apply as soon as {from_region} answers: it \
         moves DNS and turns that region's scheduler off first, then the rest."
    );
    // The writer moved but the survivor does not serve: not a success, and
    // the last line says so too.
    if ended == switchover::exec::Ended::NotFinished {
        println!(
            "\nFailover NOT finished (see above): {to} is the writer, but not everything it needs to serve users is \
             done."
        );
    }
    Ok(if ended == switchover::exec::Ended::NotFinished { switchover::exec::EXIT_NOT_FINISHED } else { 0 })
}

fn global_id(st: &crate::state::State) -> Option<String> {
    st.resources
        .values()
        .find(|i| i.type_name == "aws_rds_global_cluster")
        .and_then(|i| i.attrs.get("global_cluster_identifier"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}
