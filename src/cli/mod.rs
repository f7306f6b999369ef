//! The command line: clap structs ([`args`]) → settings → plain command
//! functions ([`run`], [`inspect`]) returning an exit status. Errors are
//! reported in one place, [`main`].

pub mod args;
mod drift;
mod init;
mod inspect;
mod run;

use crate::error::Error;
use crate::eval::vars::VarInputs;
use crate::state::{self, State};
use args::{Cli, Command, StateCommand, VarArgs};
use clap::Parser;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    let s = Settings { state: cli.state.clone(), color: color_enabled(cli.no_color) };
    match cli.command {
        Command::Validate { dir, vars } => inspect::validate(&dir, &vars),
        Command::Init(args) => init::run(args).await,
        Command::Graph { dir, view, out, vars } => inspect::graph(&s, &dir, view, out.as_deref(), &vars),
        Command::Drift { dir, opts } => drift::drift(&s, &dir, &opts).await,
        Command::Preflight { dir, max_backup_age, format, vars } => {
            drift::preflight(&s, &dir, &max_backup_age, format, &vars).await
        }
        Command::Plan { dir, out, detailed_exitcode, destroy, opts, output } => {
            let format = if output.json { args::Format::Json } else { output.format };
            run::plan(&s, &dir, out.as_deref(), detailed_exitcode, destroy, &opts, format).await
        }
        Command::Apply { target, auto_approve, opts } => run::apply(&s, &target, auto_approve, &opts, false).await,
        Command::Destroy { dir, auto_approve, opts } => run::apply(&s, &dir, auto_approve, &opts, true).await,
        Command::Show { planfile, json, dir } => inspect::show(&s, planfile.as_deref(), json, &dir.dir),
        Command::Output { name, json, dir } => inspect::output(&s, name.as_deref(), json, &dir.dir),
        Command::ForceUnlock { id, dir } => inspect::force_unlock(&s, &id, &dir.dir),
        Command::State { command } => match command {
            StateCommand::List { filters, dir } => inspect::state_list(&s, &filters, &dir.dir),
            StateCommand::Show { address, dir } => inspect::state_show(&s, &address, &dir.dir),
            StateCommand::Rm { addresses, dir } => inspect::state_rm(&s, &addresses, &dir.dir),
            StateCommand::Mv { source, destination, dir } => inspect::state_mv(&s, &source, &destination, &dir.dir),
        },
    }
}

/// Flags, environment and defaults resolved once.
pub struct Settings {
    state: Option<PathBuf>,
    color: bool,
}

impl Settings {
    /// `--state`, `STANDBY_STATE`, or `<DIR>/state/standby.json`.
    pub fn state_path(&self, dir: &Path) -> PathBuf {
        self.state.clone().unwrap_or_else(|| dir.join(state::DEFAULT_STATE))
    }

    pub fn style(&self) -> crate::render::Style {
        crate::render::Style { color: self.color }
    }
}

fn color_enabled(no_color: bool) -> bool {
    !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

pub fn var_inputs(v: &VarArgs) -> VarInputs {
    VarInputs { cli: v.vars.clone(), files: v.var_files.clone(), use_env: true, allow_missing: false }
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
/// With the lock held, the replayed journal is folded into the file.
pub fn read_state(path: &Path, locked: bool) -> Result<State, Error> {
    let mut st = state::file::read(path)?;
    let replayed = state::journal::replay(path, &mut st).map_err(Error::Io)?;
    if replayed > 0 && locked {
        eprintln!(
            "Note: recovered {replayed} record(s) from {} left by an interrupted apply.",
            state::journal::journal_path(path).display()
        );
        state::file::write(path, &mut st)?;
        let _ = std::fs::remove_file(state::journal::journal_path(path));
    }
    Ok(st)
}
