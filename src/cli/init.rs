//! `standby init`: answers from flags or the terminal, a read-only look at
//! the running primary, then the files from [`crate::init`], validated
//! before they are moved into place.

use super::args::InitArgs;
use crate::config::AWS_REGIONS;
use crate::error::Error;
use crate::eval::vars::VarInputs;
use crate::init::{self, Answers, PRIMARY_NAMES};
use crate::kinds::{self, Ctx};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

pub async fn run(args: InitArgs) -> Result<u8, Error> {
    let answers = answers(&args)?;
    let files = init::files(&answers).map_err(|e| Error::Usage(format!("cannot make the configuration: {e}")))?;
    let taken: Vec<String> =
        files.iter().map(|(p, _)| args.dir.join(p)).filter(|p| p.exists()).map(|p| p.display().to_string()).collect();
    if !taken.is_empty() {
        return Err(Error::Usage(format!(
            "refusing to overwrite existing files (nothing was written):\n  {}\nchoose an empty directory, e.g. `standby init new-dir`",
            taken.join("\n  ")
        )));
    }
    if !args.no_check {
        check_primary(&answers).await?;
    }
    write_validated(&args.dir, &files)?;
    println!("Wrote {} files to {}:", files.len(), args.dir.display());
    for (p, _) in files.iter().filter(|(p, _)| !p.starts_with("modules")) {
        println!("  {}", p.display());
    }
    println!("  modules/ (the three modules the configuration uses)");
    println!("\nNext:\n  1. Review the lines marked `set by standby init` and the other defaults.");
    println!("  2. Give the secrets as environment variables, e.g. STANDBY_VAR_opensearch_master_password.");
    println!(
        "  3. Say who reaches the search domains (search.yaml): each region's VPC in search_vpc_options_primary and \
         _secondary, or, for public domains, the addresses allowed in as search_source_ips (plan asks for it)."
    );
    println!("  4. standby plan {}", args.dir.display());
    Ok(0)
}

fn answers(args: &InitArgs) -> Result<Answers, Error> {
    let mut ask = Asker::new();
    let mut missing = Vec::new();
    let mut get = |flag: Option<&String>, name: &str, question: &str, default: Option<&str>| -> String {
        if let Some(v) = flag {
            return v.trim().to_string();
        }
        match ask.ask(question, default) {
            Some(v) => v,
            None => {
                missing.push(format!("--{name}"));
                String::new()
            }
        }
    };
    let primary_region =
        get(args.primary_region.as_ref(), "primary-region", "AWS region where Mattermost runs today", None);
    let secondary_region =
        get(args.secondary_region.as_ref(), "secondary-region", "AWS region for disaster recovery", None);
    let prefix = get(args.prefix.as_ref(), "prefix", "Name prefix for what standby creates", Some("mattermost-dr"));
    let mut names = Vec::new();
    for (var, what, flag) in PRIMARY_NAMES {
        if !init::declared(var) {
            continue;
        }
        let given = match *var {
            "primary_db_cluster" => args.primary_db_cluster.as_ref(),
            "primary_files_bucket" => args.primary_files_bucket.as_ref(),
            _ => args.primary_search_domain.as_ref(),
        };
        names.push((*var, get(given, flag, &format!("Name of {what}"), None)));
    }
    if !missing.is_empty() {
        return Err(Error::Usage(format!(
            "missing {} (there is no terminal to ask at): give {}",
            if missing.len() == 1 { "an answer" } else { "answers" },
            missing.join(", ")
        )));
    }
    let mut problems = Vec::new();
    for (flag, r) in [("--primary-region", &primary_region), ("--secondary-region", &secondary_region)] {
        if !AWS_REGIONS.contains(&r.as_str()) {
            let hint = crate::config::suggest_name(r, AWS_REGIONS.iter().copied())
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            problems.push(format!("{flag}: {r:?} is not an AWS region standby knows{hint}"));
        }
    }
    if primary_region == secondary_region {
        problems.push(format!("the two regions must differ (both are {primary_region})"));
    }
    if prefix.is_empty() {
        problems.push("--prefix: must not be empty".into());
    }
    for (var, v) in &names {
        if v.is_empty() {
            problems.push(format!("--{}: must not be empty", var.replace('_', "-")));
        }
    }
    if !problems.is_empty() {
        return Err(Error::Usage(problems.join("\n")));
    }
    Ok(Answers { primary_region, secondary_region, prefix, names })
}

/// Asks at the terminal, when there is one.
struct Asker {
    terminal: bool,
}

impl Asker {
    fn new() -> Self {
        Asker { terminal: std::io::stdin().is_terminal() }
    }

    fn ask(&mut self, question: &str, default: Option<&str>) -> Option<String> {
        if !self.terminal {
            return None;
        }
        loop {
            match default {
                Some(d) => eprint!("{question} [{d}]: "),
                None => eprint!("{question}: "),
            }
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim();
            match (line.is_empty(), default) {
                (false, _) => return Some(line.to_string()),
                (true, Some(d)) => return Some(d.to_string()),
                (true, None) => eprintln!("  (an answer is needed)"),
            }
        }
    }
}

/// Looks each named primary resource up once, read-only, when credentials
/// are available; a name that does not exist stops `init` before writing.
async fn check_primary(a: &Answers) -> Result<(), Error> {
    if a.names.is_empty() {
        return Ok(());
    }
    let aws = crate::aws::Aws::new();
    let creds = match aws.config().await.credentials_provider() {
        Some(p) => aws_credential_types::provider::ProvideCredentials::provide_credentials(&p).await.is_ok(),
        None => false,
    };
    if !creds {
        eprintln!(
            "Note: no AWS credentials found, so the primary's resources were not looked up; `standby plan` will."
        );
        return Ok(());
    }
    let mut problems = Vec::new();
    for (var, name) in &a.names {
        let type_name = match *var {
            "primary_db_cluster" => "aws_rds_cluster",
            "primary_files_bucket" => "aws_s3_bucket",
            _ => "aws_opensearch_domain",
        };
        let Some(kind) = kinds::lookup(type_name) else { continue };
        let cx = Ctx::new(var, &a.primary_region, &aws, Duration::from_secs(60));
        match kind.read(&cx, name, &Default::default()).await {
            Ok(Some(_)) => eprintln!("  found {type_name} {name:?} in {}", a.primary_region),
            Ok(None) => problems.push(format!("{type_name} {name:?} does not exist in {}", a.primary_region)),
            Err(e) => problems.push(format!("looking up {type_name} {name:?} in {}: {e}", a.primary_region)),
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "the running primary was not found as named (nothing was written):\n  {}\ncheck the names and --primary-region, or pass --no-check to write the configuration anyway",
        problems.join("\n  ")
    )))
}

/// Writes into a staging directory, validates there, then moves each file
/// into place: a configuration that fails validation is never left behind.
fn write_validated(dir: &Path, files: &[(std::path::PathBuf, String)]) -> Result<(), Error> {
    let io = |what: &str, p: &Path, e: std::io::Error| Error::Io(format!("cannot {what} {}: {e}", p.display()));
    std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
    let staging = dir.join(format!(".standby-init-{}", std::process::id()));
    let result = (|| {
        for (p, text) in files {
            let path = staging.join(p);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
            }
            std::fs::write(&path, text).map_err(|e| io("write", &path, e))?;
        }
        let inputs = VarInputs { allow_missing: true, ..Default::default() };
        crate::load::load(&staging, &inputs).map_err(Error::Config)?;
        for (p, _) in files {
            let to = dir.join(p);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
            }
            std::fs::rename(staging.join(p), &to).map_err(|e| io("move into place", &to, e))?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&staging);
    result
}
