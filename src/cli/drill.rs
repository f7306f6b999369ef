//! `drill`: a failover rehearsed on copies of the standby region (see
//! [`crate::drill`]). Production's state is only read; the drill's own
//! record (its run, step by step) is a state of its own beside it
//! ([`super::Settings::drill_backend`]), with its own lock, so a drill
//! never holds production's lock and no plan ever sees a drill resource.

use super::args::{Format, VarArgs};
use super::{Settings, read_state, var_inputs};
use crate::drill;
use crate::error::Error;
use crate::health::drill::parse_rfc3339;
use crate::load;
use crate::plan::runbook::{Runbook, StepAction};
use crate::render;
use crate::state::roles::DrillRecord;
use crate::switchover::exec::Executor;
use crate::value::Value;
use std::path::Path;

/// What `standby drill` was asked.
pub struct Ask<'a> {
    pub to: Option<&'a str>,
    pub plan_only: bool,
    pub keep: bool,
    pub cleanup: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub auto_approve: bool,
    pub format: Format,
}

/// How many drills' figures the record keeps.
const KEPT: usize = 20;

/// Drops the last run from the record (its figures stay in `drills`).
fn forget_run(rec: &mut crate::state::State) {
    if let Some(r) = rec.roles.as_mut() {
        r.run = None;
    }
}

/// Adds the drill's figures to the record: each step's seconds from the
/// run's events (what the executor wrote), the whole drill's.
fn record(
    rec: &mut crate::state::State,
    id: &str,
    region: &str,
    started: String,
    outcome: String,
    seconds: u64,
) -> DrillRecord {
    let roles = rec.roles.get_or_insert_with(Default::default);
    let steps = roles
        .run
        .as_ref()
        .map(|run| {
            run.events
                .iter()
                .filter_map(|e| {
                    let (a, b) = (parse_rfc3339(&e.start)?, parse_rfc3339(&e.end)?);
                    Some((e.step.clone(), b.saturating_sub(a)))
                })
                .collect()
        })
        .unwrap_or_default();
    let figures = DrillRecord {
        id: id.to_string(),
        region: region.to_string(),
        started,
        ended: crate::drift::now_rfc3339(),
        outcome,
        steps,
        seconds,
    };
    roles.drills.push(figures.clone());
    let extra = roles.drills.len().saturating_sub(KEPT);
    roles.drills.drain(..extra);
    figures
}

/// What a drill's runbook makes, by name (what `--keep` leaves running).
fn made(rb: &Runbook) -> Vec<String> {
    rb.steps
        .iter()
        .flat_map(|s| match &s.action {
            StepAction::DrillDbCopy { copy, instance, .. } => vec![copy.clone(), instance.clone()],
            StepAction::DrillSearchCopy { copy, .. } => vec![format!("{copy} (search domain)")],
            _ => Vec::new(),
        })
        .collect()
}

/// The drill id a recorded runbook belongs to.
fn drill_of(rb: &Runbook) -> Option<&str> {
    rb.steps.iter().find_map(|s| match &s.action {
        StepAction::DrillDbCopy { drill, .. } | StepAction::DrillCleanup { drill, .. } => Some(drill.as_str()),
        _ => None,
    })
}

pub async fn drill(s: &Settings, dir: &Path, ask: &Ask<'_>, vars: &VarArgs) -> Result<u8, Error> {
    let loaded = load::load(dir, &var_inputs(vars)).map_err(Error::Config)?;
    let regions = load::active::regions(loaded.tree.root());
    let to_region = match ask.to {
        Some(n) => Some(regions.get(n).cloned().ok_or_else(|| {
            let names: Vec<&str> = regions.keys().map(String::as_str).collect();
            Error::Usage(format!("--to {n}: not a region name here; use one of: {}", names.join(", ")))
        })?),
        None => None,
    };
    // The root's `prefix` as the configuration resolves it, its default
    // included (the names standby gives everything else start with it).
    let prefix = match load::root_variables(&loaded).get("prefix") {
        Some(Value::String(p)) => p.clone(),
        _ => "standby".to_string(),
    };
    let production = s.backend(dir, None).await?;
    let st = read_state(&*production, false).await?;
    let src = drill::source(&st, to_region.as_deref()).map_err(|e| Error::Usage(e.to_string()))?;
    let name_of = |aws: &str| {
        regions.iter().find(|(_, r)| r.as_str() == aws).map(|(n, _)| n.clone()).unwrap_or_else(|| aws.to_string())
    };
    let (from, to) = (name_of(&src.active_region), name_of(&src.region));
    // The standby region's app tier, as the configuration calls it: the drill runs one node of it.
    let tier = match drill::app::spec(&loaded, &st, &src.region) {
        Ok(spec) => Some(drill::Tier { spec, channel: ask.channel.map(str::to_string) }),
        Err(e) if ask.channel.is_some() => {
            return Err(Error::Usage(format!("--channel: the drill can run no app tier to post through: {e}")));
        }
        Err(e) => {
            eprintln!("Note: the drill copies the data only: {e}");
            None
        }
    };

    // Credentials once, before anything (a drill calls AWS; its --plan does not).
    super::ensure_credentials(&s.aws, !ask.plan_only).await?;
    let backend = s.drill_backend(dir).await?;
    let _lock = backend.lock("drill").await?;
    let mut rec = read_state(&*backend, true).await?;
    // The last drill on record, and whether what it made may still run: its
    // cleanup not done (killed, failed, or kept with --keep).
    let recorded: Option<(Runbook, bool)> = rec.roles.as_ref().and_then(|r| r.run.as_ref()).and_then(|run| {
        let rb = serde_json::from_value::<Runbook>(run.runbook.clone()).ok()?;
        Some((rb, run.status(drill::CLEANUP) != Some("done")))
    });
    let (id, rb) = match ask.cleanup {
        Some(id) => {
            drill::valid_id(id).map_err(|e| Error::Usage(e.to_string()))?;
            let rb = match &recorded {
                // Resumes the recorded run (its cleanup where it stopped).
                Some((rb, _)) if drill_of(rb) == Some(id) && rb.steps.iter().any(|s| s.id == drill::CLEANUP) => {
                    rb.clone()
                }
                // Kept, or not the last one: its names are the drill id's.
                _ => {
                    forget_run(&mut rec);
                    let mut rb = drill::runbook(&src, &prefix, id, &from, &to, tier.as_ref());
                    drill::cleanup_recorded_app(&mut rb, !rec.resources.is_empty());
                    rb
                }
            };
            (id.to_string(), drill::cleanup_only(rb))
        }
        None => {
            if let Some((rb, true)) = &recorded {
                let old = drill_of(rb).unwrap_or("?");
                return Err(Error::Usage(format!(
                    "drill {old} did not finish (its copies may still run and cost): run `standby drill --cleanup \
                     {old}` first"
                )));
            }
            // A new run record: the executor must not take the last drill's steps for this one's.
            forget_run(&mut rec);
            let id = drill::new_id();
            if tier.is_some() {
                drill::app::lb_name(&drill::name(&prefix, &id)).map_err(Error::Usage)?;
            }
            let mut rb = drill::runbook(&src, &prefix, &id, &from, &to, tier.as_ref());
            if ask.keep {
                rb.steps.retain(|s| !matches!(s.action, StepAction::DrillCleanup { .. }));
            }
            (id, rb)
        }
    };
    drill::check_targets(&rb, &prefix, &id).map_err(|e| Error::Usage(e.to_string()))?;
    if ask.plan_only {
        match ask.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&rb).unwrap_or_default()),
            Format::Markdown => print!("{}", render::markdown::runbook(&rb)),
            Format::Human => print!("{}", render::runbook::human(&rb, &s.style())),
        }
        return Ok(0);
    }
    // A run: its progress for people; with --format json or markdown on
    // standard error, so that standard output holds only the report.
    // The token before anything runs (never printed or stored).
    let token = std::env::var(drill::ENV_TOKEN).ok().filter(|t| !t.trim().is_empty());
    if ask.channel.is_some() && token.is_none() {
        return Err(Error::Usage(format!(
            "--channel needs {}: a Mattermost personal access token of a production user or bot (the copy holds \
             production's tokens); it is never printed or stored",
            drill::ENV_TOKEN
        )));
    }
    let to_stdout = ask.format == Format::Human;
    let say = move |line: &str| {
        if to_stdout {
            println!("{line}");
        } else {
            eprintln!("{line}");
        }
    };
    say(render::runbook::human(&rb, &s.style()).trim_end());
    if !ask.auto_approve {
        let what = if ask.cleanup.is_some() {
            format!("delete what drill {id} made in {}", src.region)
        } else {
            format!("run drill {id}: copies made in {}, billed while they run", src.region)
        };
        super::confirm_to(&what)?;
    }
    // The standby follower's sign-in (the search copy shares its master user), from the configuration.
    let secrets = crate::load::secrets::with_borrowed(&loaded.secrets, &st);
    let progress = std::sync::Arc::new(if to_stdout {
        crate::apply::progress::Progress::stdout()
    } else {
        crate::apply::progress::Progress::stderr()
    });
    let session = drill::Session {
        aws: s.aws.clone(),
        progress,
        token,
        channel: ask.channel.map(str::to_string),
        production: tier.as_ref().and_then(drill::Tier::production),
    };
    let exec = Executor {
        aws: &s.aws,
        backend: &*backend,
        recorded: &st,
        secrets: &secrets,
        force: false,
        timeout: std::time::Duration::from_secs(90 * 60),
        progress: &say,
        down: None,
        changes: None,
        unplanned: None,
        drill: Some(&session),
    };
    say(&format!("\nDrill {id} (its record: {})\n", backend.location()));
    let started = crate::drift::now_rfc3339();
    let t0 = std::time::Instant::now();
    let ran = exec.run(&rb, &mut rec).await;
    if ask.cleanup.is_some() {
        return ran.map(|_| 0).map_err(|e| Error::Apply(vec![e.to_string()]));
    }
    let mut problems = Vec::new();
    if let Err(e) = ran {
        problems.push(e.to_string());
        if !ask.keep {
            // Whatever failed, what the drill made goes (the failure is reported after).
            say("\nThe drill failed; cleaning up what it made:\n");
            if let Err(c) = exec.run(&drill::cleanup_only(rb.clone()), &mut rec).await {
                problems.push(format!(
                    "and its cleanup failed too: {c}\n  hint: `standby drill --cleanup {id}` retries it"
                ));
            }
        }
    }
    let outcome = match problems.first() {
        None => "passed".to_string(),
        Some(p) => format!("failed: {}", p.lines().next().unwrap_or_default()),
    };
    let figures = record(&mut rec, &id, &src.region, started, outcome, t0.elapsed().as_secs());
    crate::state::backend::write(&*backend, &mut rec).await?;
    let kept = if ask.keep { [made(&rb), drill::app::made(&rec)].concat() } else { Vec::new() };
    let run = rec.roles.as_ref().and_then(|r| r.run.as_ref());
    let report = drill::report::build(&figures, run, &problems, kept);
    match ask.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default()),
        Format::Markdown => print!("{}", render::drill::markdown(&report)),
        Format::Human => print!("{}", render::drill::human(&report, &s.style())),
    }
    if !problems.is_empty() {
        return Err(Error::Apply(problems));
    }
    Ok(0)
}
