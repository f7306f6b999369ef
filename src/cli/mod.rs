//! The command line: clap structs ([`args`]) → settings → plain command
//! functions ([`run`], [`inspect`]) returning an exit status. Errors are
//! reported in one place, [`main`].

pub mod args;
mod import;
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
        Command::Graph { dir, vars } => inspect::graph(&dir, &vars),
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
