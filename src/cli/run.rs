//! `plan`, `apply` and `destroy`.

use super::args::{Format, PlanArgs};
use super::{Settings, changes_aws, confirm_to, ensure_credentials, read_state, reads_aws, var_inputs};
use crate::address::{self, Selector};
use crate::apply::Applier;
use crate::apply::progress::Progress;
use crate::aws::Aws;
use crate::error::Error;
use crate::load::{self, Loaded};
use crate::plan::Plan;
use crate::plan::file::{self as planfile, PlanFile};
use crate::plan::imports;
use crate::plan::planner::{self, Options};
use crate::render;
use crate::state::backend;
use crate::state::{self, State};
use crate::switchover;
use std::path::Path;
use std::sync::Arc;

fn options(opts: &PlanArgs, destroy: bool) -> Result<Options, Error> {
    let targets = opts
        .targets
        .iter()
        .map(|t| address::parse(t).map_err(|e| Error::Usage(format!("--target: {e}"))))
        .collect::<Result<Vec<Selector>, Error>>()?;
    Ok(Options {
        refresh: opts.refresh,
        destroy,
        refresh_only: opts.refresh_only,
        targets,
        parallelism: opts.parallelism as usize,
        importing: Default::default(),
        absent_secrets: Default::default(),
    })
}

/// Refreshes (unless turned off), reads the import targets, and plans.
async fn make_plan(loaded: &Loaded, st: &mut State, aws: &Arc<Aws>, opts: &Options) -> Result<Planned, Error> {
    // Before any AWS call: the old region may well be down.
    let configured = crate::load::active::active(loaded.tree.root(), &loaded.vars);
    if let (Some(r), Some(c)) = (&st.roles, &configured)
        && let Some(f) = &r.failover
        && &r.active != c
        && !opts.destroy
    {
        let file = loaded
            .tree
            .root()
            .variable(crate::load::active::ACTIVE_VAR)
            .map(|v| v.name.loc.to_string())
            .unwrap_or_default();
        return Err(Error::Usage(format!(
            "a failover made `{}` the active region at {}; the configuration still names `{c}`, and this plan would \
             switch back silently.\n  hint: set `active_region` to {0}: pass `--var active_region={0}`, or change its \
             default ({file}). Switch back later with a reviewed plan, once both regions are healthy.",
            r.active, f.at
        )));
    }
    let moved = if opts.destroy { Vec::new() } else { crate::plan::moves::implied(st, &loaded.instances) };
    let found = if opts.refresh || opts.refresh_only {
        // Records no longer declared are read with the same user's password.
        planner::refresh(st, aws, opts.parallelism, &crate::load::secrets::with_borrowed(&loaded.secrets, st)).await?
    } else {
        planner::Refreshed { drift: Vec::new(), warnings: Vec::new() }
    };
    let imported = if opts.destroy || opts.refresh_only {
        imports::Imported::default()
    } else {
        imports::read_all(loaded, st, aws, &loaded.imports, opts).await?
    };
    let opts = Options { importing: imported.importing.clone(), ..opts.clone() };
    let mut plan = planner::plan(loaded, st, found.drift, &opts)?;
    if !opts.destroy && !opts.refresh_only {
        crate::plan::existing::check(&mut plan, aws, &loaded.secrets, opts.parallelism).await?;
    }
    plan.warnings.extend(found.warnings);
    plan.warnings.extend(moved.into_iter().map(crate::diag::Diagnostic::warning));
    if !opts.destroy && !opts.refresh_only {
        let regions = loaded
            .tree
            .root()
            .regions
            .iter()
            .filter_map(|(n, r)| Some((n.name.clone(), r.as_ref()?.name.clone())))
            .collect();
        plan.runbook = match switchover::build(&plan, &regions) {
            Some(rb) => Some(rb),
            None => switchover::resume(st.roles.as_ref(), configured.as_deref()).map_err(Error::Usage)?,
        };
        if let Some(rb) = plan.runbook.as_mut() {
            // What it deletes, with document counts, as the plan says.
            switchover::count_deletions(rb, st, &crate::load::secrets::with_borrowed(&loaded.secrets, st)).await;
        }
    }
    // Imports left out by --target are not adopted by this run.
    for addr in imported.importing.keys() {
        if !plan.changes.iter().any(|c| &c.address == addr)
            && let Some(a) = state::file::instance_addr(addr)
        {
            st.resources.remove(&a);
        }
    }
    Ok(Planned { plan, generated: imported.generated })
}

/// An unfinished failover whose old region does not answer: (its target's
/// name, that region). Read without the lock: the command that follows
/// takes it.
async fn failover_region_down(backend: &dyn backend::Backend, aws: &Aws) -> Result<Option<(String, String)>, Error> {
    let st = read_state(backend, false).await?;
    let Some((to, from_region)) = switchover::unfinished_failover(st.roles.as_ref()) else { return Ok(None) };
    ensure_credentials(aws, true).await?;
    Ok((!aws.answers(&from_region).await).then_some((to, from_region)))
}

/// A plan, and the import targets that have no resource block yet.
struct Planned {
    plan: Plan,
    generated: Vec<(crate::load::imports::ImportTarget, crate::value::Attrs)>,
}

/// What `plan` was asked for beyond planning.
pub struct PlanOutputs<'a> {
    pub out: Option<&'a Path>,
    pub detailed: bool,
    pub destroy: bool,
    pub format: Format,
    /// `--generate-config-out FILE.yaml`
    pub generate: Option<&'a Path>,
}

pub async fn plan(s: &Settings, dir: &Path, args: &PlanArgs, po: PlanOutputs<'_>) -> Result<u8, Error> {
    let PlanOutputs { out, detailed, destroy, format, generate } = po;
    let opts = options(args, destroy)?;
    if let Some(g) = generate
        && g.exists()
    {
        return Err(Error::Usage(format!(
            "--generate-config-out: {} already exists; name a new file (standby never overwrites configuration)",
            g.display()
        )));
    }
    let loaded = load::load_with(dir, &var_inputs(&args.vars), generate.is_some()).map_err(Error::Config)?;
    let backend = s.backend(dir, None).await?;
    let mut opts = opts;
    if !destroy && let Some((to, down)) = failover_region_down(&*backend, &s.aws).await? {
        eprintln!(
            "Warning: {down} does not answer: planned from the state as recorded, without refreshing (the failover \
             to {to} is not finished: `standby failover --to {to} --allow-data-loss` or `standby apply` runs its \
             steps in the surviving region now, the rest once {down} answers)"
        );
        opts.refresh = false;
        opts.refresh_only = false;
    }
    // A shared (remote) state is read without its lock, so that plans and
    // drift checks need only read permissions; a saved plan records the
    // serial it saw and apply refuses it once the state moved on.
    let _lock = if backend.is_remote() { None } else { Some(backend.lock("plan").await?) };
    let mut st = read_state(&*backend, _lock.is_some()).await?;
    let aws = s.aws.clone();
    let reads = ((opts.refresh || opts.refresh_only) && reads_aws(&st)) || !loaded.imports.is_empty();
    ensure_credentials(&aws, reads).await?;
    let Planned { plan, generated } = make_plan(&loaded, &mut st, &aws, &opts).await?;
    if let Some(g) = generate {
        if generated.is_empty() {
            eprintln!("Note: every import target already has a resource block; nothing written to {}", g.display());
        } else {
            std::fs::write(g, render::generated::config(&generated))
                .map_err(|e| Error::Io(format!("cannot write {}: {e}", g.display())))?;
            let names: Vec<String> = generated.iter().map(|(t, _)| t.addr.to_string()).collect();
            eprintln!(
                "Wrote configuration for {} import target(s) to {}: {}.\nReview it, then run plan again to import {}.",
                generated.len(),
                g.display(),
                names.join(", "),
                if generated.len() == 1 { "it" } else { "them" }
            );
        }
    }
    let text = match format {
        Format::Human => render::human::render(&plan, &s.style()),
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&render::json::render(&plan)).unwrap_or_default()),
        Format::Markdown => render::markdown::render(&plan),
    };
    print!("{text}");
    if let Some(out) = out {
        let pf = PlanFile {
            planfile_version: planfile::PLANFILE_VERSION,
            config_dir: dir.to_path_buf(),
            config_hash: planfile::config_hash(&loaded),
            state_path: backend.location().into(),
            plan: plan.clone(),
            refreshed: st.resources.iter().map(|(a, r)| state::file::resource_json(a, r)).collect(),
        };
        planfile::write(out, &pf)?;
        if format == Format::Human {
            println!(
                "\nSaved the plan to: {}\nTo apply exactly these changes, run:\n    standby apply {}",
                out.display(),
                out.display()
            );
        }
    }
    Ok(if detailed && plan.has_changes() { 2 } else { 0 })
}

fn confirm(destroy: bool) -> Result<(), Error> {
    confirm_to(if destroy { "destroy all resources" } else { "perform these actions" })
}

pub async fn apply(
    s: &Settings,
    target: &Path,
    auto_approve: bool,
    args: &PlanArgs,
    destroy: bool,
) -> Result<u8, Error> {
    let aws = s.aws.clone();
    let style = s.style();
    // `before` is the state as read, so what a refresh found is saved too.
    let (loaded, plan, backend, _lock, mut st, before) = if target.is_file() {
        // A saved plan: apply exactly it, if it still fits.
        let pf = planfile::read(target)?;
        let loaded = load::load(&pf.config_dir, &var_inputs(&args.vars)).map_err(Error::Config)?;
        if planfile::config_hash(&loaded) != pf.config_hash {
            return Err(Error::StalePlan(format!(
                "the configuration in {} or its variable values changed since the plan was made",
                pf.config_dir.display()
            )));
        }
        let backend = s.backend(&pf.config_dir, Some(&pf.state_path)).await?;
        let l = backend.lock("apply").await?;
        let mut st = read_state(&*backend, true).await?;
        let fits = if pf.plan.lineage.is_empty() {
            st.serial == 0
        } else {
            st.lineage == pf.plan.lineage && st.serial == pf.plan.serial
        };
        if !fits {
            return Err(Error::StalePlan(format!(
                "the state changed since the plan was made (plan: lineage {} serial {}; state: lineage {} serial {})",
                if pf.plan.lineage.is_empty() { "(new)" } else { &pf.plan.lineage },
                pf.plan.serial,
                st.lineage,
                st.serial
            )));
        }
        ensure_credentials(&aws, changes_aws(&pf.plan)).await?;
        let before = st.clone();
        if !pf.refreshed.is_empty() || pf.plan.refresh_only {
            st.resources.clear();
            for r in pf.refreshed {
                let (addr, inst) = state::file::resource_from_json(r)
                    .map_err(|e| Error::Io(format!("{}: bad refreshed state: {e}", target.display())))?;
                st.resources.insert(addr, inst);
            }
        }
        (loaded, pf.plan, backend, l, st, before)
    } else {
        let opts = options(args, destroy)?;
        let loaded = load::load(target, &var_inputs(&args.vars)).map_err(Error::Config)?;
        let backend = s.backend(target, None).await?;
        if !destroy && let Some((to, down)) = failover_region_down(&*backend, &aws).await? {
            println!(
                "{down} does not answer: the failover to {to} is not finished, and its steps that need only the \
                 surviving region run now (as `standby failover --to {to}` does); the others wait until {down} \
                 answers, when `standby apply` finishes them.\n"
            );
            drop(backend);
            // A resumed failover: its preconditions were checked (or skipped) when it began.
            let how = super::failover::How { allow_data_loss: true, skip_preconditions: false, auto_approve };
            return super::failover::failover(s, target, &to, how, &args.vars).await;
        }
        let l = backend.lock(if destroy { "destroy" } else { "apply" }).await?;
        let mut st = read_state(&*backend, true).await?;
        ensure_credentials(&aws, (opts.refresh || opts.refresh_only) && reads_aws(&st)).await?;
        let before = st.clone();
        let plan = make_plan(&loaded, &mut st, &aws, &opts).await?.plan;
        ensure_credentials(&aws, changes_aws(&plan)).await?;
        print!("{}", render::human::render(&plan, &style));
        if plan.has_changes() && !auto_approve && !plan.refresh_only {
            confirm(destroy)?;
        }
        (loaded, plan, backend, l, st, before)
    };
    let progress = Arc::new(Progress::stdout());
    let mut plan = plan;
    if let Some(rb) = plan.runbook.clone() {
        // The role switch first (its own steps, journaled in the state, the
        // scheduler and DNS changes among them); the ordinary changes then
        // find the roles already switched.
        let print = |line: &str| println!("{line}");
        let secrets = crate::load::secrets::with_borrowed(&loaded.secrets, &before);
        let exec = switchover::exec::Executor {
            aws: &aws,
            backend: &*backend,
            recorded: &before,
            secrets: &secrets,
            force: args.force,
            timeout: std::time::Duration::from_secs(60 * 60),
            progress: &print,
            down: None,
            unplanned: None,
            drill: None,
            changes: Some(switchover::changes::Changes {
                loaded: &loaded,
                plan: &plan,
                aws: aws.clone(),
                progress: progress.clone(),
                parallelism: args.parallelism as usize,
            }),
        };
        println!();
        match exec.run(&rb, &mut st).await {
            Err(e) => return Err(Error::Apply(vec![e.to_string()])),
            // The new region does not serve: users stay where they are, and
            // the rest of the plan waits for the next run.
            Ok(switchover::exec::Ended::NotFinished) => return Ok(switchover::exec::EXIT_NOT_FINISHED),
            Ok(_) => {}
        }
        println!();
        drop(exec);
        // What the steps applied is done: the applier below leaves it alone.
        let done = switchover::front::applied(&rb, st.roles.as_ref().and_then(|r| r.run.as_ref()), &plan);
        plan = switchover::front::without(&plan, &done);
    }
    let journal = Arc::new(backend.journal(&st.lineage).await?);
    let applier = Applier {
        secrets: &loaded.secrets,
        loaded: (!plan.destroy && !plan.refresh_only).then_some(&loaded),
        plan: &plan,
        aws,
        journal: journal.clone(),
        progress,
        parallelism: args.parallelism as usize,
        hold: None,
    };
    let outcome = applier.run(&mut st).await;
    let imported = plan.changes.iter().filter(|c| c.importing.is_some()).count();
    if plan.destroy && plan.targets.is_empty() && outcome.failures.is_empty() {
        st.outputs.clear();
    }
    // Secrets hashed the older, fast way are hashed anew (Argon2id) where
    // the configuration's value is the one on record.
    st.upgrade_hashes(&loaded.secrets);
    if st != before || st.serial == 0 {
        // On failure the journal stays: the next run recovers from it.
        backend::write(&*backend, &mut st).await?;
    }
    let _ = journal.sync().await;
    drop(applier);
    if let Ok(j) = Arc::try_unwrap(journal) {
        let _ = j.finish().await;
    }
    if !outcome.skipped.is_empty() {
        eprintln!("Skipped because something they depend on failed:");
        for a in &outcome.skipped {
            eprintln!("  - {a}");
        }
    }
    if !outcome.failures.is_empty() || outcome.interrupted {
        let mut f = outcome.failures.clone();
        if outcome.interrupted {
            f.push("interrupted: operations not started were skipped; the state holds everything finished".into());
        }
        eprintln!("State saved to {} (everything that finished is on record).", backend.location());
        return Err(Error::Apply(f));
    }
    if plan.destroy {
        let restored = if outcome.changed > 0 { format!("{} restored, ", outcome.changed) } else { String::new() };
        println!(
            "\n{} Resources: {restored}{} destroyed.",
            style.green(&style.bold("Destroy complete!")),
            outcome.destroyed
        );
        let kept = st.resources.values().filter(|r| r.adopted).count();
        if kept > 0 {
            println!(
                "{kept} adopted resource(s) left in place, in AWS and in the state (see the warnings above): standby \
                 never deletes what it imported unless the configuration says `lifecycle: {{ prevent_destroy: false }}`."
            );
        }
    } else {
        let imported = if imported > 0 { format!("{imported} imported, ") } else { String::new() };
        println!(
            "\n{} Resources: {imported}{} added, {} changed, {} destroyed.",
            style.green(&style.bold("Apply complete!")),
            outcome.added,
            outcome.changed,
            outcome.destroyed
        );
        print_outputs(&st);
    }
    Ok(0)
}

pub fn print_outputs(st: &State) {
    if st.outputs.is_empty() {
        return;
    }
    println!("\nOutputs:\n");
    let width = st.outputs.keys().map(String::len).max().unwrap_or(0);
    for (name, o) in &st.outputs {
        let v = match (&o.value, o.sensitive) {
            (_, true) => render::lines::SENSITIVE.to_string(),
            (Some(v), _) => serde_json::to_string_pretty(v).unwrap_or_default(),
            (None, _) => "null".into(),
        };
        println!("{name:width$} = {v}");
    }
}
