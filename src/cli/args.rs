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
    /// Override a setting of the configuration's `backend:` block (repeatable), e.g. bucket=acme-state
    #[arg(long = "backend-config", global = true, value_name = "KEY=VALUE")]
    pub backend_config: Vec<String>,
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
        long_about = "Show what apply would change: the resources' differences between the configuration, the \
state and what AWS has.\n\nWhen `active_region` names another region than the one active (a switchover), the plan \
starts with the runbook: ordered steps (readiness, write forwarding set on the writer, Aurora switchover, job scheduler \
off in the old active region and on in the new, the new region serving, search followers stopped, DNS, the old \
leader's search copies deleted), run by apply before the other changes. Changes a step applies are still listed below \
the runbook, marked `(by runbook step ID)`. Steps a failover left pending show the same way; while the region they \
need does not answer, the plan is made from the state without refreshing (said so).",
        after_help = "Examples:\n  standby plan examples/mattermost-dr\n  standby plan . --out dr.tfplan --detailed-exitcode\n  standby plan . --format markdown > plan.md\n  standby plan . --target module.storage --var prefix=mm\n  standby plan . --var active_region=secondary   # review a switchover"
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
        long_about = "Make the changes (from a directory, or a plan saved with --out).\n\nA plan with a runbook \
(a switchover, or the steps a failover left pending) runs its steps first, in order, each recorded in the state \
before and after it runs: a run killed or failed resumes from where it stopped when run again. The job scheduler and \
DNS steps apply their own changes of the plan; the ordinary changes (e.g. search replication in the other \
direction) follow. While a failover is unfinished and the region it left does not answer, apply finishes the \
surviving region's steps only, as `standby failover --to` does, and stops there.",
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
    /// Emergency: make another region active while the current one is down
    #[command(
        long_about = "Unplanned failover, for when the active region is gone. Calls only the surviving region, \
credentials included (resolved there, checked with one GetCallerIdentity first): AWS's preconditions (same engine \
version, an available instance in the target), then Aurora FailoverGlobalCluster with AllowDataLoss, sent to the \
target's region and waited on there, with Aurora's write-fencing events recorded; search followers stopped there \
(one still bootstrapping is left: stopping it would delete it); the job scheduler turned on there and its app tier \
scaled up where its capacity follows the role (from the configuration with `active_region` set to NAME, planned \
from the state without refreshing), waited for until it serves; DNS pointed at it. Steps that need the old region \
(its scheduler off, its cluster rejoining as a secondary and Aurora's snapshot of it kept, write forwarding there, \
its old search copies deleted) stay pending in the state: every later plan shows them and `standby apply` finishes \
them once the region answers, DNS and the old scheduler first. DNS is left pending too when Route 53's control \
plane (us-east-1) cannot be reached: the failover records already answer with the survivor while the old region's \
health check fails. Run again with the same --to, it resumes a failover that stopped (killed, or a step failed). The \
state records what was active, when, and the last replication lag seen (the writes possibly lost). Afterwards a \
plan whose configuration still names the old region is refused: set `active_region` to the new one.\n\nWith both \
regions healthy, use a planned switchover instead (no data loss): `standby plan --var active_region=NAME`, then \
apply.",
        after_help = "Examples:\n  standby failover examples/mattermost-dr --to secondary --allow-data-loss\n  standby failover . --to secondary --allow-data-loss --auto-approve\n  standby failover . --to secondary --allow-data-loss --skip-preconditions   (the checks cannot be read)"
    )]
    Failover {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The region name (from `regions:`) to make active, e.g. secondary
        #[arg(long, value_name = "NAME")]
        to: String,
        /// Accept losing the writes the target had not received yet (required)
        #[arg(long)]
        allow_data_loss: bool,
        /// Go ahead when AWS's failover preconditions fail or cannot be checked (AccessDenied, throttling,
        /// an engine version standby reads differently): AWS's answer to FailoverGlobalCluster decides, and
        /// the run's notes record what was skipped
        #[arg(long)]
        skip_preconditions: bool,
        /// Skip the interactive `yes`
        #[arg(long)]
        auto_approve: bool,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Rehearse a failover on copies of the standby region, never touching production
    #[command(
        long_about = "A failover rehearsed without a failover: copies of what a failover would leave in the \
standby region are made there, checked, and deleted. Everything the drill makes is named <prefix>-drill-<id> and \
tagged standby-drill=<id>; production is only read (but for one call AWS requires of the search leader's owner: \
accepting the search copy's connection), and the drill's runbook is refused before any call if a step would change \
anything else. The database: an Aurora clone of the standby cluster (copy-on-write, its newest data; a full copy at \
its latest restorable time when AWS refuses the clone, e.g. a secondary without instances), with one writer \
instance. Search: a domain shaped as the standby follower follows the leader as a third follower, then its \
followers are stopped as a failover stops the standby's, so it is writable. The app tier: one Mattermost node of \
the standby region's app tier module on the copies, behind its own load balancer (no DNS record; reached by its DNS \
name with the site's hostname as Host and TLS name, through HTTPS_PROXY/HTTP_PROXY when set), with email, push, \
webhooks, commands, previews, plugins, LDAP sync, diagnostics, the scheduler and jobs off, the files bucket \
read-only and egress to 5432 and 443 only; the copy's database is put in a group of the drill's that admits only \
that node. With --channel, the drill posts into that channel on the copy (STANDBY_DRILL_TOKEN: a personal access \
token valid on production, never printed or stored) and measures RTO (drill start to that post; to serving without \
--channel) and RPO (production's newest post in the channel just before the copy vs the copy's newest). The drill is shown first, then run step by step by the same journaled executor as a \
failover: its record (steps, times, AWS request ids) is a state of its own beside production's \
(<state>.drill.json, or <key>.drill in S3), never production's. A failed step is followed by the cleanup; a killed \
drill is finished with `standby drill --cleanup ID`, which also ends a drill kept with --keep. One drill at a time: \
a drill whose cleanup is not done must be cleaned up first.",
        after_help = "Examples:\n  standby drill examples/mattermost-dr --plan          (show the drill, call nothing)\n  standby drill examples/mattermost-dr --auto-approve\n  STANDBY_DRILL_TOKEN=… standby drill examples/mattermost-dr --channel 4xp9fdt7pbgium38k2xgaadaaa --auto-approve\n  standby drill examples/mattermost-dr --keep          (inspect the copies; then --cleanup ID)\n  standby drill examples/mattermost-dr --cleanup k3x9q2"
    )]
    Drill {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The region name (from `regions:`) to rehearse a failover to (default: the standby one)
        #[arg(long, value_name = "NAME")]
        to: Option<String>,
        /// Show the drill's runbook and stop (only the states are read)
        #[arg(long)]
        plan: bool,
        /// Leave the copies for inspection (billed until `standby drill --cleanup ID`)
        #[arg(long, conflicts_with = "cleanup")]
        keep: bool,
        /// Delete what drill ID made (after a kill, a failure or --keep), resuming its cleanup
        #[arg(long, value_name = "ID")]
        cleanup: Option<String>,
        /// Post into this Mattermost channel (its id) on the copy, and measure RTO to that post and RPO
        /// (token: STANDBY_DRILL_TOKEN)
        #[arg(long, value_name = "CHANNEL_ID", conflicts_with = "cleanup")]
        channel: Option<String>,
        /// Skip the interactive `yes`
        #[arg(long)]
        auto_approve: bool,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        #[command(flatten)]
        vars: VarArgs,
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
    /// Write a starting configuration for your deployment (from the bundled example)
    #[command(
        long_about = "Write a root configuration for your deployment, made from examples/mattermost-dr and \
the modules it uses: your two regions, a name prefix, and the names of the running primary's database \
cluster, files bucket and search domain. Missing answers are asked for at a terminal; without one, every \
answer must come as a flag. When AWS credentials are available, each named resource is looked up once \
(read-only) in the primary region. Existing files are never overwritten. The result passes \
`standby validate`; the lines it set are marked `set by standby init`.",
        after_help = "Examples:\n  standby init                      (asks at the terminal)\n  standby init dr --primary-region us-west-1 --secondary-region us-east-1 --prefix acme-chat \\\n      --primary-db-cluster chat-db --primary-files-bucket acme-chat-files --primary-search-domain chat-search"
    )]
    Init(InitArgs),
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
    /// Print a JSON Schema (draft-07) of configuration files, for editors
    #[command(
        after_help = "Example:\n  standby schema > standby.schema.json\n\nThen start each YAML file with\n  # yaml-language-server: $schema=../../standby.schema.json\n(a path relative to the file) for completion, descriptions and typo checks in editors using \
yaml-language-server (VS Code's YAML extension, Neovim, Helix, ...)."
    )]
    Schema,
    /// Print the IAM policy a role running standby needs, for this configuration
    #[command(
        long_about = "Prints, as JSON, the IAM policy document a role needs to run standby on the configuration in \
DIR: the AWS actions of the resource kinds it uses (nothing else), and, with an S3 backend, the state's \
statements scoped to its bucket and key. Generated from the calls standby makes, so it is never out of date; \
attach the output as the role's policy (e.g. `aws iam put-role-policy --policy-document file://drift.json`).\n\n\
Roles:\n  drift        a nightly `standby drift` job: read-only (refresh reads, unmanaged discovery, DR health probes) \
and reading the state\n  apply        apply, destroy, a switchover or failover: everything drift reads, every create, \
update and delete, and writing the state\n  state-read   the state alone, read (for roles with their AWS permissions \
elsewhere)\n  state-write  the state alone, written: the lock, the journal and the state\n  drill        `standby drill`: \
copies made and deleted in the standby region (deletions only of `*-drill-*` names, tags only the drill's), the state \
read and the drills' own record beside it written\n\nCalls to the OpenSearch \
domains' REST API (replication, users, roles) need no IAM action: they sign in as the domains' internal users, and \
the domains' access policies decide who may reach them.\n\nState encryption: standby sends no encryption header \
unless the backend block has `kms_key_id`, so objects get the bucket's default encryption. When that default is \
SSE-KMS with a customer-managed key, every role needs that key (kms:GenerateDataKey to write, kms:Decrypt to read): \
give it with --kms-key. An alias is granted through the kms:ResourceAliases condition (KMS authorises key ARNs \
only); ACCOUNT_ID in a printed ARN is yours to fill in.",
        after_help = "Examples:\n  standby policy examples/mattermost-dr --for drift > drift-policy.json\n  standby policy . --for apply\n  standby policy . --for drill\n  standby policy . --for state-read --backend-config bucket=acme-standby-state\n  standby policy . --for apply --kms-key arn:aws:kms:us-east-2:111122223333:key/1234abcd-…   # the bucket defaults to SSE-KMS"
    )]
    Policy {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Which role's policy
        #[arg(long = "for", value_enum, value_name = "ROLE")]
        role: crate::permissions::policy::Role,
        /// The KMS key of the state bucket's default encryption, when it is a customer-managed key (SSE-KMS): a key
        /// ARN, key id, alias or alias ARN (`aws s3api get-bucket-encryption --bucket BUCKET` shows it)
        #[arg(long = "kms-key", value_name = "KEY")]
        kms_key: Option<String>,
    },
    /// Check, read-only, that AWS is as applied and that DR would work
    #[command(
        long_about = "Compares the state (as last applied) with AWS and with the configuration, looks for \
unmanaged resources in the topology's scope, and runs the DR health checks. Read-only by construction: takes no \
lock (works while an apply runs), writes no state, journal or backup, needs only read permissions, except for \
the replication canaries.\n\n\
Canaries measure replication end to end: a test object written under standby-canary/ in the active region's \
bucket, timed until its replica exists and the source says COMPLETED (--max-s3-canary, default 15m), and a test \
document written to the standby-canary index on the search leader, timed until the follower has it \
(--max-search-canary, default 1m). They write nothing else, remove what they wrote (a later run removes what an \
interrupted one left), and fail as unhealthy when replication is too slow or stopped. --no-canaries makes the \
job strictly read-only.\n\n\
Findings: changed (an attribute differs in AWS from what was applied), missing (gone from AWS), unapplied (the \
configuration differs from what was applied), unmanaged (in scope, not in state), unhealthy (a DR health check \
fails; drift on the attribute it is about is reported as well, as changed or missing).\n\nSecrets: a drift \
job needs only the sensitive variables of what it reads: the replication user's password, for the replication \
statistics. Others may be left out; what signs in with them (the domains' users, roles and mappings, as their \
master user) is listed under warnings as not compared.\n\n\
Exit codes: 0 clean, 1 error, 2 drift (changed, missing, unmanaged or unapplied), 3 unhealthy (3 wins).",
        after_help = "Examples:\n  standby drift examples/mattermost-dr\n  standby drift . --format markdown > drift.md\n  standby drift . --max-s3-canary 5m --max-search-canary 30s\n  standby drift . --no-canaries   # strictly read-only\n  standby drift . --format json --ignore 'module.files.aws_s3_bucket.* tags'\n  standby policy . --for drift   # the IAM policy this job needs (its canaries' writes included)\n\nIgnore rules: <DIR>/.standbyignore and --ignore, one `ADDRESS [PATH]` each; * and ? wildcards; a leading ! un-ignores; the last matching rule decides."
    )]
    Drift {
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        opts: DriftArgs,
    },
    /// Check the docs' "before you begin" list against AWS, before the first apply
    #[command(
        long_about = "Checks, read-only: both regions valid and different, credentials in each region, the IAM \
actions standby needs (IAM SimulatePrincipalPolicy, with a warning where it is unavailable), a recent restorable \
backup of the primary cluster, an engine version that allows global write forwarding, OpenSearch 2.x with \
fine-grained access control on the domains that exist.\n\nExit codes: 0 every check passed (warnings allowed), 1 \
error, 3 a check failed.",
        after_help = "Examples:\n  standby preflight examples/mattermost-dr\n  standby preflight . --max-backup-age 6h --format markdown"
    )]
    Preflight {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// A backup older than this does not count (e.g. 24h, 90m)
        #[arg(long, default_value = "24h", value_name = "DURATION")]
        max_backup_age: String,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Draw the configuration in Graphviz DOT (or SVG): the DR topology, or every dependency
    #[command(
        long_about = "Draw the configuration for Graphviz.\n\n--view topology (the default) draws what a person wants to see, \
starting with where users go: the hostname, its failover records' arrows to each region's load balancer (the \
PRIMARY solid, the SECONDARY dashed) and the app nodes behind it; one box per region (its AWS region, active or \
passive) with the main resources in each under their AWS names, what supports each folded under it, and the \
replication relations between regions (database writer → secondary, search leader → follower, buckets both \
ways). When a state file exists (--state, STANDBY_STATE or <DIR>/state/standby.json), the picture follows the \
record: the names AWS has, where the records point now, the nodes desired; what is not applied yet is dashed \
and marked pending, and what the record says is broken is red.\n\n--view dependencies prints every graph node \
(resources, variables, outputs) and edge, for debugging references.",
        after_help = "Examples:\n  standby graph examples/mattermost-dr --out dr.svg        (needs Graphviz's `dot`)\n  standby graph examples/mattermost-dr | dot -Tpng > dr.png\n  standby graph examples/mattermost-dr --view dependencies"
    )]
    Graph {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// What to draw
        #[arg(long, value_enum, default_value_t = GraphView::Topology)]
        view: GraphView,
        /// Write to FILE instead of standard output; a `.svg` name renders with Graphviz's `dot`
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        vars: VarArgs,
    },
}

#[derive(Args, Debug, Clone, Default)]
pub struct InitArgs {
    /// Directory to write into (created if missing; existing files are never overwritten)
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// AWS region where Mattermost runs today
    #[arg(long, value_name = "REGION")]
    pub primary_region: Option<String>,
    /// AWS region for disaster recovery
    #[arg(long, value_name = "REGION")]
    pub secondary_region: Option<String>,
    /// Name prefix for what standby creates (bucket names are global: make it yours)
    #[arg(long)]
    pub prefix: Option<String>,
    /// Identifier of the running primary's Aurora cluster
    #[arg(long, value_name = "ID")]
    pub primary_db_cluster: Option<String>,
    /// Name of the running primary's S3 files bucket
    #[arg(long, value_name = "NAME")]
    pub primary_files_bucket: Option<String>,
    /// Name of the running primary's OpenSearch domain
    #[arg(long, value_name = "NAME")]
    pub primary_search_domain: Option<String>,
    /// Do not check with AWS that the primary's resources exist
    #[arg(long)]
    pub no_check: bool,
}

/// Each kind's import id, for `standby import --help`.
pub const IMPORT_IDS: &str = "Import ids by kind:
  aws_s3_bucket, aws_s3_bucket_versioning, aws_s3_bucket_replication   bucket name
  aws_s3_bucket_public_access_block   bucket name
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
  opensearch_internal_user, opensearch_role, opensearch_role_mapping   user or role name
  opensearch_audit_config             domain endpoint (search-….es.amazonaws.com; one per domain)
  aws_secretsmanager_secret           secret ARN
  aws_secretsmanager_secret_version   the secret's ARN (its current version is adopted; the value is not read:
                                      the next plan puts the configured value as a new version)
  aws_route53_zone                    zone id (Z…)
  aws_route53_health_check            health check id
  aws_route53_record                  ZONEID_NAME_TYPE[_SETIDENTIFIER], e.g. Z123_chat.example.com_A_us-west-1
  aws_security_group                  group id (sg-…)
  aws_vpc_security_group_ingress_rule, aws_vpc_security_group_egress_rule   rule id (sgr-…)
  aws_launch_template                 template id (lt-…)
  aws_autoscaling_group               group name
  aws_lb, aws_lb_target_group, aws_lb_listener   ARN
  aws_iam_instance_profile            profile name

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
    /// Print the state (local or remote) as JSON
    #[command(after_help = "Example:\n  standby state pull --dir examples/mattermost-dr > backup.json")]
    Pull {
        #[command(flatten)]
        dir: DirArg,
    },
    /// Replace the state with a state file (same lineage, not older), under the lock
    #[command(
        after_help = "Example:\n  standby state push backup.json --dir examples/mattermost-dr\n\nRefused unless the file has the \
same lineage as the stored state and a serial at least as high (a different state with the same serial is refused \
too); --force skips these checks."
    )]
    Push {
        /// State file to store
        file: PathBuf,
        /// Skip the lineage and serial checks
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Move the local state to the configured backend (keeps serial and lineage)
    #[command(
        after_help = "Example:\n  # after adding `backend: { s3: { bucket: ..., key: ..., region: ... } }` to the configuration:\n  \
standby state migrate --dir examples/mattermost-dr\n\nReads <DIR>/state/standby.json (or --from), replays a journal \
left beside it, and stores it in the backend under its lock. The local file stays as it is, no longer used."
    )]
    Migrate {
        /// Local state file to move (default: <DIR>/state/standby.json)
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
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
    /// Switchover (apply): switch even when a readiness check fails, with a warning
    #[arg(long)]
    pub force: bool,
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
pub enum GraphView {
    /// Where users go, the regions, their main resources and the replication between them
    Topology,
    /// Every node and reference of the dependency graph
    Dependencies,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Markdown,
}

#[derive(Args, Debug, Clone)]
pub struct DriftArgs {
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Hide findings matching `ADDRESS [PATH]` (repeatable; * and ? wildcards)
    #[arg(long = "ignore", value_name = "PATTERN")]
    pub ignore: Vec<String>,
    /// Name prefix of the topology's resources, for unmanaged discovery
    /// (repeatable; default: the root variable `prefix`)
    #[arg(long = "prefix", value_name = "PREFIX")]
    pub prefixes: Vec<String>,
    /// Operations a follower index may be behind its leader
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub max_search_lag: i64,
    /// Aurora replication lag a secondary may have: the maximum of CloudWatch's
    /// AuroraGlobalDBRPOLag (else AuroraGlobalDBReplicationLag) over the last 10
    /// minutes, e.g. 30s, 2m
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub max_db_lag: String,
    /// How long the files canary may take: a test object written under
    /// standby-canary/ in the active bucket until its replica is there and
    /// the source says COMPLETED (default: S3 Replication Time Control's 15
    /// minutes)
    #[arg(long, default_value = "15m", value_name = "DURATION")]
    pub max_s3_canary: String,
    /// How long the search canary may take: a test document written to the
    /// canary index on the leader until the follower has it
    #[arg(long, default_value = "1m", value_name = "DURATION")]
    pub max_search_canary: String,
    /// Run no canary: a strictly read-only job (the canaries write a test
    /// object and a test document under their reserved names, then remove
    /// them)
    #[arg(long)]
    pub no_canaries: bool,
    /// Days since the last successful `standby drill` after which drift
    /// reports it unhealthy (default 30 once a drill is on record; given, it
    /// applies even when none ever ran)
    #[arg(long, value_name = "DAYS")]
    pub max_drill_age: Option<u64>,
    /// How many reads run at once
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub parallelism: u32,
    /// Switchover (apply): switch even when a readiness check fails, with a warning
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub vars: VarArgs,
}
