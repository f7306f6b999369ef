//! The command line: clap structs ([`args`]) → settings → plain command
//! functions ([`run`], [`inspect`]) returning an exit status. Errors are
//! reported in one place, [`main`].

pub mod args;
mod drift;
mod drill;
mod failover;
mod import;
mod init;
mod inspect;
mod remote;
mod run;

use crate::aws::Aws;
use crate::error::Error;
use crate::eval::vars::VarInputs;
use crate::state::backend::{self, Backend};
use crate::state::{self, State};
use args::{Cli, Command, StateCommand, VarArgs};
use clap::Parser;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

pub fn main() -> ExitCode {
    // Exit 2 means "changes present" for `plan --detailed-exitcode`, so a
    // usage error exits 1, like every other error.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{}", e.report());
            ExitCode::from(e.exit_code())
        }
    }
}

async fn dispatch(cli: Cli) -> Result<u8, Error> {
    crate::interrupt::install();
    if let Some(w) = crate::kinds::opensearch::rest::env_in_clear() {
        eprintln!("Warning: {w}");
    }
    let s = Settings {
        state: cli.state.clone(),
        backend_config: cli.backend_config.clone(),
        color: color_enabled(cli.no_color),
        aws: Arc::new(Aws::new()),
    };
    match cli.command {
        Command::Validate { dir, vars } => inspect::validate(&dir, &vars),
        Command::Init(args) => init::run(args).await,
        Command::Graph { dir, view, out, vars } => inspect::graph(&s, &dir, view, out.as_deref(), &vars).await,
        Command::Drift { dir, opts } => drift::drift(&s, &dir, &opts).await,
        Command::Preflight { dir, max_backup_age, format, vars } => {
            drift::preflight(&s, &dir, &max_backup_age, format, &vars).await
        }
        Command::Policy { dir, role, kms_key } => inspect::policy(&s, &dir, role, kms_key.as_deref()),
        Command::Schema => {
            let text = serde_json::to_string_pretty(&crate::json_schema::generate()).unwrap_or_default();
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{text}");
            Ok(0)
        }
        Command::Plan { dir, out, detailed_exitcode, destroy, generate_config_out, opts, output } => {
            let format = if output.json { args::Format::Json } else { output.format };
            let po = run::PlanOutputs {
                out: out.as_deref(),
                detailed: detailed_exitcode,
                destroy,
                format,
                generate: generate_config_out.as_deref(),
            };
            run::plan(&s, &dir, &opts, po).await
        }
        Command::Import { address, id, dir, vars } => import::import(&s, &address, &id, &dir, &vars).await,
        Command::Apply { target, auto_approve, opts } => run::apply(&s, &target, auto_approve, &opts, false).await,
        Command::Failover { dir, to, allow_data_loss, skip_preconditions, auto_approve, vars } => {
            let how = failover::How { allow_data_loss, skip_preconditions, auto_approve };
            failover::failover(&s, &dir, &to, how, &vars).await
        }
        Command::Drill { dir, to, plan, keep, cleanup, channel, auto_approve, format, vars } => {
            let ask = drill::Ask {
                to: to.as_deref(),
                plan_only: plan,
                keep,
                cleanup: cleanup.as_deref(),
                channel: channel.as_deref(),
                auto_approve,
                format,
            };
            drill::drill(&s, &dir, &ask, &vars).await
        }
        Command::Destroy { dir, auto_approve, opts } => run::apply(&s, &dir, auto_approve, &opts, true).await,
        Command::Show { planfile, json, dir } => inspect::show(&s, planfile.as_deref(), json, &dir.dir).await,
        Command::Output { name, json, dir } => inspect::output(&s, name.as_deref(), json, &dir.dir).await,
        Command::ForceUnlock { id, dir } => inspect::force_unlock(&s, &id, &dir.dir).await,
        Command::State { command } => match command {
            StateCommand::List { filters, dir } => inspect::state_list(&s, &filters, &dir.dir).await,
            StateCommand::Show { address, dir } => inspect::state_show(&s, &address, &dir.dir).await,
            StateCommand::Rm { addresses, dir } => inspect::state_rm(&s, &addresses, &dir.dir).await,
            StateCommand::Mv { source, destination, dir } => {
                inspect::state_mv(&s, &source, &destination, &dir.dir).await
            }
            StateCommand::Pull { dir } => remote::pull(&s, &dir.dir).await,
            StateCommand::Push { file, force, dir } => remote::push(&s, &file, force, &dir.dir).await,
            StateCommand::Migrate { from, dir } => remote::migrate(&s, from.as_deref(), &dir.dir).await,
        },
    }
}

/// Flags, environment and defaults resolved once.
pub struct Settings {
    state: Option<PathBuf>,
    backend_config: Vec<String>,
    color: bool,
    /// One AWS configuration for the whole command (state and resources).
    aws: Arc<Aws>,
}

impl Settings {
    /// The configured backend after `--backend-config` overrides, if any.
    pub(crate) fn backend_spec(&self, dir: &Path) -> Result<Option<state::s3::S3Spec>, Error> {
        let block = crate::config::backend::read_root(dir).map_err(Error::Config)?;
        let Some(mut block) = block else {
            if !self.backend_config.is_empty() {
                return Err(Error::Usage(
                    "--backend-config needs a `backend:` block in the configuration (e.g. `backend: { s3: {} }`)"
                        .into(),
                ));
            }
            return Ok(None);
        };
        for kv in &self.backend_config {
            let (k, v) =
                kv.split_once('=').ok_or_else(|| Error::Usage(format!("--backend-config {kv}: expected KEY=VALUE")))?;
            if !crate::config::backend::S3_KEYS.contains(&k) {
                return Err(Error::Usage(format!(
                    "--backend-config {kv}: the s3 backend has no setting `{k}` (settings: {})",
                    crate::config::backend::S3_KEYS.join(", ")
                )));
            }
            block.settings.insert(k.to_string(), v.to_string());
        }
        state::s3::S3Spec::from_settings(&block.settings)
            .map(Some)
            .map_err(|e| Error::Usage(format!("{}: {e}", block.at)))
    }

    /// Where the state of the configuration in `dir` lives. `local` is the
    /// file to use when no backend is configured and `--state` is not given
    /// (a saved plan's); otherwise `<DIR>/state/standby.json`.
    pub async fn backend(&self, dir: &Path, local: Option<&Path>) -> Result<Box<dyn Backend>, Error> {
        match self.backend_spec(dir)? {
            Some(spec) if self.state.is_some() => Err(Error::Usage(format!(
                "the configuration keeps its state in {}, but --state (or STANDBY_STATE) names a local file; \
                 use one of them (`standby state migrate` moves a local state to the backend)",
                spec.url()
            ))),
            Some(spec) => Ok(Box::new(state::s3::S3Backend::new(spec, &self.aws).await)),
            None => {
                let path = match (&self.state, local) {
                    (Some(p), _) => p.clone(),
                    (None, Some(p)) => p.to_path_buf(),
                    (None, None) => dir.join(state::DEFAULT_STATE),
                };
                Ok(Box::new(backend::Local::new(&path)))
            }
        }
    }

    /// Where the drills of the configuration in `dir` keep their record: a
    /// state of their own beside production's (`<state>.drill.json`, or the
    /// S3 key with `.drill` after it), with its own lock.
    pub async fn drill_backend(&self, dir: &Path) -> Result<Box<dyn Backend>, Error> {
        match self.backend_spec(dir)? {
            Some(mut spec) if self.state.is_none() => {
                spec.key = format!("{}.drill", spec.key);
                Ok(Box::new(state::s3::S3Backend::new(spec, &self.aws).await))
            }
            _ => {
                let path = self.state.clone().unwrap_or_else(|| dir.join(state::DEFAULT_STATE));
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("standby");
                Ok(Box::new(backend::Local::new(&path.with_file_name(format!("{stem}.drill.json")))))
            }
        }
    }

    /// The same settings with AWS resolved in `region` (see [`Aws::pinned`]):
    /// what a failover uses, so that nothing depends on the region that is down.
    pub fn pinned_to(&self, region: &str) -> Settings {
        Settings {
            state: self.state.clone(),
            backend_config: self.backend_config.clone(),
            color: self.color,
            aws: Arc::new(Aws::pinned(region)),
        }
    }

    pub fn style(&self) -> crate::render::Style {
        crate::render::Style { color: self.color }
    }
}

fn color_enabled(no_color: bool) -> bool {
    !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Asks for `yes` on a terminal; refuses without one.
pub(super) fn confirm_to(what: &str) -> Result<(), Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "refusing to {what} without confirmation: standard input is not a terminal; review the plan and re-run with --auto-approve"
        )));
    }
    print!("\nDo you really want to {what}?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(|e| Error::Io(e.to_string()))?;
    if answer.trim() != "yes" {
        return Err(Error::Usage("cancelled: nothing was changed".into()));
    }
    println!();
    Ok(())
}

pub fn var_inputs(v: &VarArgs) -> VarInputs {
    VarInputs { cli: v.vars.clone(), files: v.var_files.clone(), use_env: true, ..Default::default() }
}

/// Resolves AWS credentials once, up front, when the command is about to
/// call AWS: one clear message instead of an error per resource.
pub async fn ensure_credentials(aws: &crate::aws::Aws, needed: bool) -> Result<(), Error> {
    if needed {
        aws.resolve_credentials().await?;
    }
    Ok(())
}

fn in_aws(type_name: &str) -> bool {
    crate::kinds::lookup(type_name).is_some_and(|k| !k.state_only())
}

/// The configuration declares something that lives in AWS.
pub fn declares_aws(loaded: &crate::load::Loaded) -> bool {
    loaded.tree.modules.iter().flat_map(|m| &m.module.resources).any(|r| in_aws(&r.type_name.name))
}

/// A refresh of this state reads AWS (something in AWS with an id to look up).
pub fn reads_aws(st: &State) -> bool {
    st.resources.values().any(|i| {
        crate::kinds::lookup(&i.type_name)
            .is_some_and(|k| !k.state_only() && (i.id.is_some() || k.id_hint(&i.attrs).is_some()))
    })
}

/// Carrying out this plan calls AWS.
pub fn changes_aws(plan: &crate::plan::Plan) -> bool {
    plan.changes.iter().any(|c| c.action != crate::plan::Action::NoOp && in_aws(&c.type_name))
}

/// Reads state and replays a journal left by an interrupted apply.
/// With the lock held, the replayed journal is folded into the state.
pub async fn read_state(b: &dyn Backend, locked: bool) -> Result<State, Error> {
    let (mut st, replayed) = b.read().await?;
    if replayed > 0 && locked {
        eprintln!("Note: recovered {replayed} record(s) from {} left by an interrupted apply.", b.journal_location());
        backend::write(b, &mut st).await?;
        b.clear_journal().await?;
    }
    Ok(st)
}
