//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "standby",
    version,
    about = "Declarative two-region disaster recovery for Mattermost on AWS",
    long_about = "standby reads YAML modules that declare a primary and a secondary region, plans the \
changes against its state file and the real resources, and applies them in dependency order.",
    after_help = "Typical flow:\n  standby validate examples/mattermost-dr\n  standby plan examples/mattermost-dr --out dr.tfplan\n  standby apply dr.tfplan\n\nEnvironment:\n  STANDBY_STATE          state file (default: <DIR>/state/standby.json)\n  STANDBY_VAR_<name>     value of root variable <name>\n  NO_COLOR               turn colour off\n  AWS_ENDPOINT_URL       send AWS calls elsewhere (e.g. the local emulator)\n  STANDBY_AWS_MAX_ATTEMPTS  attempts per AWS call (default 5)\n  STANDBY_PROGRESS_SECS  seconds between \"Still creating...\" lines (default 10)\n  STANDBY_OPENSEARCH_ENDPOINT_URL  reach domain REST APIs here (the domain endpoint goes in Host)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// State file (default: <DIR>/state/standby.json).
    #[arg(long, global = true, env = "STANDBY_STATE", value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Turn colour off (also when NO_COLOR is set or output is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check a configuration without calling AWS
    #[command(after_help = "Example:\n  standby validate examples/mattermost-dr")]
    Validate {
        /// Configuration directory
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Show what apply would change
    #[command(
        after_help = "Examples:\n  standby plan examples/mattermost-dr\n  standby plan . --out dr.tfplan --detailed-exitcode\n  standby plan . --format markdown > plan.md\n  standby plan . --target module.storage --var prefix=mm"
    )]
    Plan {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Save the plan for `standby apply FILE`
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Exit 0 when nothing changes, 2 when something does, 1 on error
        #[arg(long)]
        detailed_exitcode: bool,
        /// Plan the destruction of everything in state
        #[arg(long)]
        destroy: bool,
        /// Write resource blocks for `imports:` targets that have none (root module, no count/for_each) to this new YAML file
        #[arg(long, value_name = "FILE.yaml")]
        generate_config_out: Option<PathBuf>,
        #[command(flatten)]
        opts: PlanArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Adopt one existing AWS object into the state (like `terraform import`)
    #[command(
        long_about = "Reads the object AWS knows by ID (one read, no write) and records it in the state at ADDR, \
marked as adopted. The resource block must already exist in the configuration; an object the configuration would \
replace is refused. Adopted resources are protected from deletion unless their block says \
`lifecycle: { prevent_destroy: false }`. To adopt several at once, reviewed in a plan, use `imports:` in the root \
module instead.",
        after_help = IMPORT_IDS
    )]
    Import {
        /// Resource instance address, e.g. module.database.aws_rds_cluster.primary
        address: String,
        /// The object's id (see the list below)
        id: String,
        /// Configuration directory
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Make the changes (from a directory, or a plan saved with --out)
    #[command(
        after_help = "Examples:\n  standby apply examples/mattermost-dr\n  standby apply dr.tfplan\n  standby apply . --auto-approve --parallelism 4"
    )]
    Apply {
        /// Configuration directory or saved plan file
        #[arg(default_value = ".")]
        target: PathBuf,
        /// Skip the interactive `yes`
        #[arg(long)]
        auto_approve: bool,
        #[command(flatten)]
        opts: PlanArgs,
    },
    /// Delete everything this configuration manages
    #[command(after_help = "Example:\n  standby destroy examples/mattermost-dr --auto-approve")]
    Destroy {
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[arg(long)]
        auto_approve: bool,
        #[command(flatten)]
        opts: PlanArgs,
    },
    /// Show a saved plan, or the state
    #[command(after_help = "Examples:\n  standby show dr.tfplan --json\n  standby show --dir examples/mattermost-dr")]
    Show {
        /// Saved plan file; the state when omitted
        planfile: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Inspect and edit the state
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Show root outputs
    #[command(after_help = "Examples:\n  standby output\n  standby output bucket_primary --json")]
    Output {
        name: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Remove a stuck state lock
    #[command(
        after_help = "Example:\n  standby force-unlock 6f1c9e0a-…   (the id is in the 'state is locked' message)"
    )]
    ForceUnlock {
        id: String,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Print the dependency graph in Graphviz DOT
    #[command(after_help = "Example:\n  standby graph examples/mattermost-dr | dot -Tsvg > graph.svg")]
    Graph {
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        vars: VarArgs,
    },
}

/// Each kind's import id, for `standby import --help`.
pub const IMPORT_IDS: &str = "Import ids by kind:
  aws_s3_bucket, aws_s3_bucket_versioning, aws_s3_bucket_replication   bucket name
  aws_s3_batch_replication_job        ACCOUNT:JOB_ID
  aws_iam_role                        role name
  aws_iam_role_policy                 ROLE:POLICY (role name and inline policy name)
  aws_iam_policy                      policy ARN
  aws_iam_role_policy_attachment      ROLE/POLICY_ARN
  aws_rds_global_cluster              global cluster identifier
  aws_rds_cluster                     cluster identifier
  aws_rds_cluster_instance            instance identifier
  aws_opensearch_domain               domain name
  aws_opensearch_domain_policy        domain name
  aws_opensearch_outbound_connection, aws_opensearch_inbound_connection_accepter   connection id
  opensearch_autofollow_rule          LEADER_ALIAS:RULE (e.g. leader:posts)
  opensearch_index_replication        follower index name

Examples:
  standby import module.database.aws_rds_cluster.primary aurora-prod-cluster examples/mattermost-dr
  standby import 'module.database.aws_rds_cluster_instance.primary_instances[0]' aurora-prod-1 .
  standby import module.files.aws_s3_bucket.primary mattermost-prod-files .";

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// List resources in state
    #[command(after_help = "Example:\n  standby state list module.storage")]
    List {
        /// Only addresses matching these
        filters: Vec<String>,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Show one resource's attributes
    #[command(after_help = "Example:\n  standby state show 'standby_data.copies[0]'")]
    Show {
        address: String,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Forget resources (they stay in AWS)
    #[command(after_help = "Example:\n  standby state rm aws_s3_bucket.old")]
    Rm {
        #[arg(required = true)]
        addresses: Vec<String>,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Rename a resource in state (after renaming it in the configuration)
    #[command(after_help = "Example:\n  standby state mv standby_data.a standby_data.b")]
    Mv {
        source: String,
        destination: String,
        #[command(flatten)]
        dir: DirArg,
    },
}

#[derive(Args, Debug, Clone)]
pub struct DirArg {
    /// Configuration directory (locates the default state file)
    #[arg(long = "dir", default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Args, Debug, Clone, Default)]
pub struct VarArgs {
    /// Set a root variable (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read root variables from a YAML file (repeatable)
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    /// Read every resource from AWS before planning
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
    /// Only record changes made outside standby; change nothing
    #[arg(long)]
    pub refresh_only: bool,
    /// Limit to these resources or modules and what they depend on (repeatable)
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// How many operations run at once
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub parallelism: u32,
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Print the plan as JSON (same as --format json)
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Markdown,
}
