//! `aws_rds_cluster`: an Aurora PostgreSQL cluster, standalone, the primary
//! of a global database, or a secondary joining one. id = cluster identifier.
//!
//! A secondary (`global_cluster_identifier` set, joining a global cluster
//! that already has its primary) takes no master credentials: it inherits
//! them. Elsewhere the master password is managed by RDS in Secrets Manager
//! (`manage_master_user_password`, the default) unless `master_password`
//! gives one (from a sensitive variable; never stored or shown). AWS does not
//! support managed passwords in a global database: the primary of one must
//! be given `master_password` (a located plan error says so).
//!
//! Destroy: a member leaves its global cluster first (RemoveFromGlobalCluster),
//! then the cluster is deleted, with a final snapshot unless
//! `skip_final_snapshot` is true.

use super::{ENGINE, bool_or, check_member, get_bool, poll, rds_error, write_forwarding_problem};
use crate::kinds::aws::{get_i64, get_str, is_gone, req_str};
use crate::kinds::schema::{P_ALLOW_DISRUPTION, P_UNLESS_ADOPTED, Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PlanView, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_rds::types::DbCluster;
use std::time::Duration;

pub struct RdsCluster;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("cluster_identifier", Type::String, "Cluster name.").force_new(),
        Prop::optional("engine", Type::String, "`aurora-postgresql` (the default, and the only engine supported).")
            .force_new()
            .or_computed(),
        Prop::optional(
            "engine_version",
            Type::String,
            "Aurora PostgreSQL version, e.g. `16.4`. A secondary without it takes its global cluster's.",
        )
        .or_computed(),
        Prop::optional(
            "global_cluster_identifier",
            Type::String,
            "Join this global cluster (as a secondary when it already has its primary). A primary adopted with \
             `aws_rds_global_cluster.source_db_cluster` leaves it unset.",
        )
        .force_new()
        .or_computed(),
        Prop::optional(
            "enable_global_write_forwarding",
            Type::Bool,
            "Forward writes from this secondary to the primary (Aurora PostgreSQL 16+, 15.4+, 14.9+). Default false.",
        ),
        Prop::optional("master_username", Type::String, "Master user name (not for a secondary: it inherits it).")
            .force_new()
            .or_computed(),
        Prop::optional(
            "master_password",
            Type::String,
            "Master password, from a sensitive variable. Empty or unset: RDS manages it in Secrets Manager. Not for a \
             secondary.",
        )
        .sensitive(),
        Prop::optional(
            "manage_master_user_password",
            Type::Bool,
            "Let RDS keep the master password in Secrets Manager. Default: true unless `master_password` is given or \
             the cluster is a secondary; unset on an existing (adopted) cluster: as found.",
        )
        .or_computed(),
        Prop::optional(
            "database_name",
            Type::String,
            "Database created with the cluster (CreateDBCluster `DatabaseName`; Mattermost's, e.g. `mattermost`). \
             Create-only: a change replaces the cluster, which standby refuses on an adopted one. Unset: none is \
             created (and an adopted cluster keeps what it has). Not for a secondary: it has the primary's.",
        )
        .force_new()
        .or_computed(),
        Prop::optional("db_subnet_group_name", Type::String, "DB subnet group (the VPC's subnets).")
            .force_new()
            .or_computed(),
        Prop::optional("vpc_security_group_ids", Type::List(&Type::String), "VPC security groups.").or_computed(),
        Prop::optional("backup_retention_period", Type::Number, "Days of automated backups (1-35; AWS default 1).")
            .or_computed(),
        Prop::optional(
            "deletion_protection",
            Type::Bool,
            "Refuse deletion (default false; unset on an adopted cluster: as found).",
        )
        .or_computed(),
        Prop::optional(
            "enabled_cloudwatch_logs_exports",
            Type::List(&Type::String),
            "Logs published to CloudWatch Logs (`/aws/rds/cluster/<id>/<type>`): `postgresql`, `instance`, \
             `iam-db-auth-error`. Unset: left as AWS has it. Changed in place, at once, without downtime.",
        )
        .or_computed(),
        Prop::optional(
            "copy_tags_to_snapshot",
            Type::Bool,
            "Copy the cluster's tags to its snapshots. Unset: left as AWS has it (AWS default false).",
        )
        .or_computed(),
        Prop::optional(
            "storage_encrypted",
            Type::Bool,
            "Encrypt storage (a secondary of an encrypted global database needs it and `kms_key_id`).",
        )
        .force_new()
        .or_computed(),
        Prop::optional("kms_key_id", Type::String, "KMS key for storage encryption.").force_new().or_computed(),
        Prop::optional(
            "skip_final_snapshot",
            Type::Bool,
            "On destroy, delete without a final snapshot (default false: a final snapshot is taken).",
        ),
        Prop::optional(
            "final_snapshot_identifier",
            Type::String,
            "Name of the final snapshot (default `<cluster_identifier>-final-<unix time>`).",
        ),
        Prop::optional(
            "apply_immediately",
            Type::Bool,
            "Make changes now rather than in the cluster's maintenance window (`ApplyImmediately`, which also applies \
             the cluster's pending modifications). Default: true for a cluster standby created, false for an adopted \
             one (production's changes wait for its maintenance window; some, such as deletion protection, AWS \
             always makes at once). standby's own setting, kept in state.",
        ),
        P_ALLOW_DISRUPTION,
        P_UNLESS_ADOPTED,
        Prop::computed("arn", Type::String, "Cluster ARN."),
        Prop::computed("endpoint", Type::String, "Writer endpoint (Mattermost's DataSource host)."),
        Prop::computed("reader_endpoint", Type::String, "Reader endpoint (Mattermost's DataSourceReplicas host)."),
        Prop::computed(
            "global_write_forwarding_status",
            Type::String,
            "What AWS reports for write forwarding: enabled, disabled, enabling, disabling, unknown.",
        ),
        Prop::computed("master_user_secret_arn", Type::String, "Secrets Manager secret of an RDS-managed password."),
    ],
};

const GONE: &[&str] = &["DBClusterNotFoundFault"];

/// The log types Aurora PostgreSQL publishes (RDS API reference, CreateDBCluster
/// `EnableCloudwatchLogsExports`).
const LOG_TYPES: &[&str] = &["postgresql", "instance", "iam-db-auth-error"];

/// The log types given, as strings (`None` when unset or not yet known).
fn log_exports(props: &Attrs) -> Option<Vec<String>> {
    let list = props.get("enabled_cloudwatch_logs_exports")?.as_list()?;
    list.iter().map(|v| v.as_str().map(str::to_string)).collect()
}

/// The properties that give master credentials, for the secondary check.
/// Planned attributes hold unset optional-computed ones as unknown: only
/// known values count.
pub(crate) fn credential_props(props: &Attrs) -> Vec<&'static str> {
    let mut out = Vec::new();
    if get_str(props, "master_username").is_some() {
        out.push("master_username");
    }
    if password(props).is_some() {
        out.push("master_password");
    }
    if get_bool(props, "manage_master_user_password") == Some(true) {
        out.push("manage_master_user_password");
    }
    out
}

fn password(props: &Attrs) -> Option<&str> {
    get_str(props, "master_password").filter(|p| !p.is_empty())
}

/// Whether RDS should manage the password: as given, else true for a cluster
/// that carries credentials of its own (not a secondary) and no password.
fn manage_password(props: &Attrs) -> bool {
    get_bool(props, "manage_master_user_password")
        .unwrap_or_else(|| password(props).is_none() && !props.contains_key("global_cluster_identifier"))
}

async fn describe(cx: &Ctx<'_>, id: &str) -> Result<Option<DbCluster>, KindError> {
    let rds = cx.aws.rds(cx.region).await;
    match rds.describe_db_clusters().db_cluster_identifier(id).send().await {
        Ok(out) => Ok(out.db_clusters().iter().find(|c| c.db_cluster_identifier() == Some(id)).cloned()),
        Err(e) if is_gone(&e, GONE) => Ok(None),
        Err(e) => Err(rds_error("DescribeDBClusters", e)),
    }
}

/// The engine version of a global cluster (for a secondary given none).
async fn global_version(cx: &Ctx<'_>, global: &str) -> Result<Option<String>, KindError> {
    let out = cx
        .aws
        .rds(cx.region)
        .await
        .describe_global_clusters()
        .global_cluster_identifier(global)
        .send()
        .await
        .map_err(|e| rds_error("DescribeGlobalClusters", e))?;
    Ok(out.global_clusters().first().and_then(|g| g.engine_version()).map(str::to_string))
}

/// Ready: available, and write forwarding settled as requested.
fn ready(c: &DbCluster) -> bool {
    let settled = match c.global_write_forwarding_status().map(|s| s.as_str()) {
        Some("enabling" | "disabling") => false,
        Some("enabled") => c.global_write_forwarding_requested() != Some(false),
        Some("disabled") => c.global_write_forwarding_requested() != Some(true),
        _ => true,
    };
    c.status() == Some("available") && settled
}

#[async_trait]
impl Kind for RdsCluster {
    fn type_name(&self) -> &'static str {
        "aws_rds_cluster"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    /// Creating an Aurora cluster takes 5-15 minutes; joining a global one longer.
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(60 * 60)
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if let Some(e) = get_str(props, "engine")
            && e != ENGINE
        {
            out.push(PropProblem::error("engine", format!("engine must be `{ENGINE}` for this topology, got {e:?}")));
        }
        if get_bool(props, "enable_global_write_forwarding") == Some(true)
            && let Some(p) = get_str(props, "engine_version").and_then(write_forwarding_problem)
        {
            out.push(PropProblem::error("enable_global_write_forwarding", p));
        }
        if password(props).is_some() && get_bool(props, "manage_master_user_password") == Some(true) {
            out.push(PropProblem::error(
                "master_password",
                "give either `master_password` or `manage_master_user_password: true`, not both",
            ));
        }
        for t in log_exports(props).unwrap_or_default() {
            if !LOG_TYPES.contains(&t.as_str()) {
                out.push(PropProblem::error(
                    "enabled_cloudwatch_logs_exports",
                    format!("Aurora PostgreSQL publishes {}; got {t:?}", LOG_TYPES.join(", ")),
                ));
            }
        }
        if let Some(n) = get_i64(props, "backup_retention_period")
            && !(1..=35).contains(&n)
        {
            out.push(PropProblem::error("backup_retention_period", format!("must be 1-35 days, got {n}")));
        }
        out
    }

    fn check_create(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if !props.contains_key("global_cluster_identifier") && !props.contains_key("master_username") {
            out.push(PropProblem::error(
                "master_username",
                "a cluster standby creates that is not a secondary needs `master_username` (unset means \"as \
                 found\", for an adopted cluster)",
            ));
        }
        // Without groups AWS puts a new cluster in its VPC's default group,
        // whose inbound rule admits only that group's own members (VPC User
        // Guide, "Default security groups for your VPCs").
        if props.get("vpc_security_group_ids").is_none_or(Value::is_null) {
            out.push(PropProblem::warning(
                "vpc_security_group_ids",
                "a new cluster without `vpc_security_group_ids` goes into its VPC's default security group, which \
                 admits only members of that same group: app servers outside it cannot connect. Give it a group \
                 that admits them on the database port",
            ));
        }
        out
    }

    fn check_plan(&self, props: &Attrs, view: &dyn PlanView) -> Vec<PropProblem> {
        let mut out = check_member(props, view);
        out.extend(super::check_source(props, view));
        // A primary that is a global cluster's source may forward writes too:
        // it is a secondary after a switchover, and forwarding is kept then.
        if get_bool(props, "enable_global_write_forwarding") == Some(true)
            && !props.contains_key("global_cluster_identifier")
            && super::source_of(props, view).is_none()
        {
            out.push(PropProblem::error(
                "enable_global_write_forwarding",
                "write forwarding applies to a member of a global cluster only: set `global_cluster_identifier`, \
                 or remove this",
            ));
        }
        out
    }

    fn unknown_after_update(&self, changed: &std::collections::BTreeSet<String>) -> Vec<&'static str> {
        if changed.contains("enable_global_write_forwarding") {
            vec!["global_write_forwarding_status"]
        } else {
            Vec::new()
        }
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match (prop, v) {
            ("enable_global_write_forwarding" | "deletion_protection" | "skip_final_snapshot", v) => bool_or(v, false),
            ("vpc_security_group_ids" | "enabled_cloudwatch_logs_exports", Value::List(l)) => {
                let mut l = l.clone();
                l.sort_by_key(|v| v.to_string());
                Value::List(l)
            }
            _ => v.clone(),
        }
    }

    fn adoption_checks(
        &self,
        aws: &Attrs,
        planned: &Attrs,
        changed: &std::collections::BTreeSet<String>,
        importing: bool,
    ) -> Vec<PropProblem> {
        let mut out = Vec::new();
        let shown = |a: &Attrs, k: &str| get_str(a, k).map(|v| format!("{v:?}")).unwrap_or_else(|| "(unset)".into());
        if importing && changed.contains("engine_version") {
            out.push(PropProblem::error(
                "engine_version",
                format!(
                    "cannot import: the cluster runs Aurora PostgreSQL {} but the configuration says {}; standby \
                     does not upgrade or downgrade a database while adopting it: make engine_version match",
                    shown(aws, "engine_version"),
                    shown(planned, "engine_version")
                ),
            ));
        }
        if changed.contains("manage_master_user_password")
            && get_bool(planned, "manage_master_user_password") == Some(true)
        {
            out.push(PropProblem::error(
                "manage_master_user_password",
                "this adopted cluster keeps its own master password; manage_master_user_password: true moves it to \
                 Secrets Manager, which rotates it: the running Mattermost loses its database connections until its \
                 DataSource gets the new password (and a global database member cannot use an RDS-managed password)",
            ));
        }
        // AWS (botocore ModifyDBCluster.ManageMasterUserPassword): leaving
        // Secrets Manager "must specify MasterUserPassword"; RDS then deletes
        // the secret and the password changes.
        if changed.contains("manage_master_user_password")
            && get_bool(aws, "manage_master_user_password") == Some(true)
            && get_bool(planned, "manage_master_user_password") == Some(false)
        {
            let why = if password(planned).is_some() {
                "with the master_password given, RDS deletes the secret Mattermost may read its password from and \
                 changes the password under it"
            } else {
                "AWS requires a new master password to leave Secrets Manager (ModifyDBCluster refuses \
                 ManageMasterUserPassword=false without MasterUserPassword), and none is given"
            };
            out.push(PropProblem::error(
                "manage_master_user_password",
                format!(
                    "this adopted cluster's master password is RDS-managed (Secrets Manager); {why}. Leave \
                     manage_master_user_password unset to keep it as it is"
                ),
            ));
        }
        // AWS (botocore ModifyDBCluster.ApplyImmediately): "changing the
        // master password [is] applied immediately—regardless of when you
        // choose to apply them". AWS never returns it, so standby cannot
        // tell whether it is the one in use: sent only when accepted.
        // Unknown until apply (e.g. a secret generated in the same apply)
        // is refused too: it is sent once known.
        let unknown = planned.get("master_password").is_some_and(|v| matches!(v, Value::Unknown));
        if changed.contains("master_password") && (password(planned).is_some() || unknown) {
            out.push(PropProblem::error(
                "master_password",
                "this sets the adopted cluster's master password, which AWS never returns, so standby cannot tell \
                 whether it is the one in use; AWS changes it at once, whatever apply_immediately says (botocore \
                 ModifyDBCluster: \"changing the master password [is] applied immediately\"): whatever logs in \
                 with the old one (Mattermost's DataSource, if it uses the master user) is refused until given the \
                 new one",
            ));
        }
        // A shorter retention shrinks how far back production can be restored.
        if let (Some(was), Some(will)) =
            (get_i64(aws, "backup_retention_period"), get_i64(planned, "backup_retention_period"))
            && will < was
        {
            out.push(PropProblem::error(
                "backup_retention_period",
                format!(
                    "this cuts the adopted cluster's backup retention from {was} to {will} days: point-in-time \
                     restore no longer reaches back beyond {will} days (Aurora keeps restore data for the retention \
                     period only) and older automated backups are deleted"
                ),
            ));
        }
        if get_bool(planned, "apply_immediately") == Some(true) && changed.iter().any(|c| c != "apply_immediately") {
            out.push(PropProblem::warning(
                "apply_immediately",
                "apply_immediately: true on this adopted cluster also applies its pending modifications now \
                 (botocore ModifyDBCluster.ApplyImmediately: \"the modifications in this request and any pending \
                 modifications\"), not in its maintenance window",
            ));
        }
        out
    }

    fn kept(&self) -> &'static [&'static str] {
        &["apply_immediately", "allow_disruption", "skip_final_snapshot", "final_snapshot_identifier"]
    }

    fn production_effect(
        &self,
        before: Option<&Attrs>,
        after: Option<&Attrs>,
        changed: &std::collections::BTreeSet<String>,
    ) -> Option<String> {
        let (before, after) = (before?, after?);
        let shown = |a: &Attrs, k: &str| a.get(k).map(|v| v.to_string()).unwrap_or_else(|| "(unset)".into());
        let lines: Vec<String> = changed
            .iter()
            .filter(|k| !["apply_immediately", "allow_disruption"].contains(&k.as_str()))
            .map(|k| match k.as_str() {
                "master_password" => "the master password changes, at once whatever apply_immediately says \
                                      (accepted): whatever logs in with the old one is refused until given the new one"
                    .to_string(),
                _ => format!("`{k}`: {} -> {}", shown(before, k), shown(after, k)),
            })
            .collect();
        if lines.is_empty() {
            return None;
        }
        let when = if get_bool(after, "apply_immediately") == Some(true) {
            "now (apply_immediately)"
        } else {
            // botocore ModifyDBCluster.ApplyImmediately: "Most modifications can
            // be applied immediately or during the next scheduled maintenance
            // window"; which ones AWS defers is not listed per setting.
            "in place; AWS makes most cluster changes at once, whatever apply_immediately says, and holds the rest \
             for the cluster's maintenance window"
        };
        Some(format!("{} ({when})", lines.join("; ")))
    }

    fn derive(&self, planned: &mut Attrs) {
        if !planned.contains_key("manage_master_user_password")
            && !planned.get("master_password").is_some_and(Value::has_unknown)
        {
            let v = manage_password(planned);
            planned.insert("manage_master_user_password".into(), Value::Bool(v));
        }
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "cluster_identifier").map(str::to_string)
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let id = req_str(desired, "cluster_identifier")?;
        let global = get_str(desired, "global_cluster_identifier");
        let mut version = get_str(desired, "engine_version").map(str::to_string);
        if version.is_none()
            && let Some(g) = global
        {
            version = global_version(cx, g).await?;
        }
        let rds = cx.aws.rds(cx.region).await;
        let mut req = rds
            .create_db_cluster()
            .db_cluster_identifier(id)
            .engine(get_str(desired, "engine").unwrap_or(ENGINE))
            .set_engine_version(version)
            .set_global_cluster_identifier(global.map(str::to_string))
            .set_master_username(get_str(desired, "master_username").map(str::to_string))
            .set_database_name(get_str(desired, "database_name").map(str::to_string))
            .set_db_subnet_group_name(get_str(desired, "db_subnet_group_name").map(str::to_string))
            .set_backup_retention_period(get_i64(desired, "backup_retention_period").map(|n| n as i32))
            .deletion_protection(get_bool(desired, "deletion_protection").unwrap_or(false))
            .set_storage_encrypted(get_bool(desired, "storage_encrypted"))
            .set_kms_key_id(get_str(desired, "kms_key_id").map(str::to_string))
            .set_enable_cloudwatch_logs_exports(log_exports(desired))
            .set_copy_tags_to_snapshot(get_bool(desired, "copy_tags_to_snapshot"));
        if let Some(groups) = desired.get("vpc_security_group_ids").and_then(Value::as_list) {
            req = req.set_vpc_security_group_ids(Some(
                groups.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            ));
        }
        if get_bool(desired, "enable_global_write_forwarding") == Some(true) {
            req = req.enable_global_write_forwarding(true);
        }
        if let Some(p) = password(desired) {
            req = req.master_user_password(p);
        } else if manage_password(desired) {
            req = req.manage_master_user_password(true);
        }
        req.send().await.map_err(|e| rds_error("CreateDBCluster", e))?;
        Ok(Created { id: id.to_string(), attrs: desired.clone() })
    }

    async fn wait_ready(&self, cx: &Ctx<'_>, id: &str) -> Result<(), KindError> {
        poll(|| async { Ok(describe(cx, id).await?.filter(ready).map(|_| ())) }).await
    }

    // read: 1 call (DescribeDBClusters).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let Some(c) = describe(cx, id).await? else { return Ok(None) };
        if c.status() == Some("deleting") {
            return Ok(None);
        }
        let mut a = Attrs::new();
        a.insert("cluster_identifier".into(), Value::str(id));
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                a.insert(k.to_string(), v);
            }
        };
        put("engine", c.engine().map(Value::str));
        put("engine_version", c.engine_version().map(Value::str));
        // Membership gained by being a global cluster's `source_db_cluster` is
        // that resource's doing (its `writer_cluster_arn`), not a change made
        // outside standby: reported only for a cluster that joined by itself.
        if prior.contains_key("global_cluster_identifier") {
            put("global_cluster_identifier", c.global_cluster_identifier().filter(|g| !g.is_empty()).map(Value::str));
        }
        put("enable_global_write_forwarding", Some(Value::Bool(c.global_write_forwarding_requested() == Some(true))));
        put("master_username", c.master_username().map(Value::str));
        put("database_name", c.database_name().filter(|d| !d.is_empty()).map(Value::str));
        put("manage_master_user_password", Some(Value::Bool(c.master_user_secret().is_some())));
        put("master_user_secret_arn", c.master_user_secret().and_then(|s| s.secret_arn()).map(Value::str));
        put("db_subnet_group_name", c.db_subnet_group().map(Value::str));
        let groups: Vec<Value> =
            c.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).map(Value::str).collect();
        put("vpc_security_group_ids", Some(Value::List(groups)));
        put("backup_retention_period", c.backup_retention_period().map(|n| Value::int(n.into())));
        put("deletion_protection", Some(Value::Bool(c.deletion_protection() == Some(true))));
        let logs = c.enabled_cloudwatch_logs_exports().iter().map(Value::str).collect();
        put("enabled_cloudwatch_logs_exports", Some(Value::List(logs)));
        put("copy_tags_to_snapshot", Some(Value::Bool(c.copy_tags_to_snapshot() == Some(true))));
        put("storage_encrypted", c.storage_encrypted().map(Value::Bool));
        put("kms_key_id", c.kms_key_id().map(Value::str));
        put("arn", c.db_cluster_arn().map(Value::str));
        put("endpoint", c.endpoint().map(Value::str));
        put("reader_endpoint", c.reader_endpoint().map(Value::str));
        put("global_write_forwarding_status", c.global_write_forwarding_status().map(|s| Value::str(s.as_str())));
        // standby's own settings, not AWS's: carried over.
        for k in ["skip_final_snapshot", "final_snapshot_identifier"] {
            if let Some(v) = prior.get(k) {
                a.insert(k.to_string(), v.clone());
            }
        }
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let changed = |k: &str| {
            self.normalize(k, prior.get(k).unwrap_or(&Value::Null))
                != self.normalize(k, desired.get(k).unwrap_or(&Value::Null))
        };
        let rds = cx.aws.rds(cx.region).await;
        // Production's changes wait for its maintenance window unless the
        // configuration says otherwise (ApplyImmediately also applies the
        // cluster's pending modifications).
        let now = get_bool(desired, "apply_immediately").unwrap_or(!cx.adopted);
        let mut req = rds.modify_db_cluster().db_cluster_identifier(id).apply_immediately(now);
        let mut any = false;
        if changed("engine_version")
            && let Some(v) = get_str(desired, "engine_version")
        {
            if prior.contains_key("global_cluster_identifier") {
                return Err(KindError::Failed(format!(
                    "engine_version -> {v}: members of a global database are upgraded together, through the global \
                     cluster (`aws rds modify-global-cluster --engine-version {v}`), not one by one"
                )));
            }
            let major = |s: &str| s.split('.').next().map(str::to_string);
            let across = get_str(prior, "engine_version").map(major) != Some(major(v));
            req = req.engine_version(v).allow_major_version_upgrade(across);
            any = true;
        }
        if changed("enable_global_write_forwarding") {
            req = req
                .enable_global_write_forwarding(get_bool(desired, "enable_global_write_forwarding").unwrap_or(false));
            any = true;
        }
        // The password is compared by hash: sent only when the plan changes it.
        if cx.changed.contains("master_password")
            && let Some(p) = password(desired)
        {
            req = req.master_user_password(p);
            any = true;
        }
        if changed("manage_master_user_password")
            && let Some(m) = desired.get("manage_master_user_password").and_then(Value::as_bool)
        {
            req = req.manage_master_user_password(m);
            any = true;
        }
        if changed("vpc_security_group_ids")
            && let Some(groups) = desired.get("vpc_security_group_ids").and_then(Value::as_list)
        {
            req = req.set_vpc_security_group_ids(Some(
                groups.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            ));
            any = true;
        }
        if changed("backup_retention_period")
            && let Some(n) = get_i64(desired, "backup_retention_period")
        {
            req = req.backup_retention_period(n as i32);
            any = true;
        }
        if changed("deletion_protection") {
            req = req.deletion_protection(get_bool(desired, "deletion_protection").unwrap_or(false));
            any = true;
        }
        if changed("enabled_cloudwatch_logs_exports")
            && let Some(want) = log_exports(desired)
        {
            // Enable what is new, disable what is gone (the call takes the difference).
            let have = log_exports(prior).unwrap_or_default();
            let enable: Vec<String> = want.iter().filter(|t| !have.contains(t)).cloned().collect();
            let disable: Vec<String> = have.iter().filter(|t| !want.contains(t)).cloned().collect();
            let conf = aws_sdk_rds::types::CloudwatchLogsExportConfiguration::builder()
                .set_enable_log_types(Some(enable))
                .set_disable_log_types(Some(disable))
                .build();
            req = req.cloudwatch_logs_export_configuration(conf);
            any = true;
        }
        if changed("copy_tags_to_snapshot")
            && let Some(copy) = get_bool(desired, "copy_tags_to_snapshot")
        {
            req = req.copy_tags_to_snapshot(copy);
            any = true;
        }
        if any {
            req.send().await.map_err(|e| rds_error("ModifyDBCluster", e))?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        let Some(c) = describe(cx, id).await? else { return Ok(()) };
        let rds = cx.aws.rds(cx.region).await;
        if let (Some(global), Some(arn)) = (c.global_cluster_identifier().filter(|g| !g.is_empty()), c.db_cluster_arn())
        {
            match rds
                .remove_from_global_cluster()
                .global_cluster_identifier(global)
                .db_cluster_identifier(arn)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is_gone(&e, &["GlobalClusterNotFoundFault"]) => {}
                // "Not a member": the SDK may have repeated a call that took
                // effect before its answer was lost. Look before failing.
                Err(e) => {
                    let member =
                        describe(cx, id).await?.and_then(|c| c.global_cluster_identifier().map(str::to_string));
                    if member.is_some_and(|g| !g.is_empty()) {
                        return Err(rds_error("RemoveFromGlobalCluster", e));
                    }
                }
            }
            poll(|| async {
                let c = describe(cx, id).await?;
                let detached = c.as_ref().is_none_or(|c| c.global_cluster_identifier().is_none_or(str::is_empty));
                Ok((detached && c.as_ref().is_none_or(|c| c.status() == Some("available"))).then_some(()))
            })
            .await?;
        }
        let skip = get_bool(prior, "skip_final_snapshot").unwrap_or(false);
        let mut req = rds.delete_db_cluster().db_cluster_identifier(id).skip_final_snapshot(skip);
        if !skip {
            let name = get_str(prior, "final_snapshot_identifier").map(str::to_string).unwrap_or_else(|| {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                format!("{id}-final-{secs}")
            });
            req = req.final_db_snapshot_identifier(name);
        }
        match req.send().await {
            Ok(_) => {}
            Err(e) if is_gone(&e, GONE) => return Ok(()),
            Err(e) => return Err(rds_error("DeleteDBCluster", e)),
        }
        poll(|| async { Ok(describe(cx, id).await?.is_none().then_some(())) }).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, Value)]) -> Attrs {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn write_forwarding_needs_a_secondary_and_a_version() {
        let p = props(&[
            ("cluster_identifier", Value::str("east")),
            ("global_cluster_identifier", Value::str("g")),
            ("engine_version", Value::str("15.3")),
            ("enable_global_write_forwarding", Value::Bool(true)),
        ]);
        let probs = RdsCluster.validate(&p);
        assert_eq!(probs.len(), 1, "{probs:?}");
        assert_eq!(probs[0].prop, "enable_global_write_forwarding");
        assert!(probs[0].message.contains("15.3"));
        let mut standalone = p.clone();
        standalone.remove("global_cluster_identifier");
        standalone.insert("engine_version".into(), Value::str("16.4"));
        standalone.insert("master_username".into(), Value::str("mm"));
        // A standalone cluster may forward only as a global cluster's source
        // (it forwards once a switchover demotes it).
        struct View(Vec<(String, Attrs)>);
        impl PlanView for View {
            fn instances_of(&self, t: &str) -> Vec<(String, &Attrs)> {
                if t != "aws_rds_global_cluster" {
                    return Vec::new();
                }
                self.0.iter().map(|(a, x)| (a.clone(), x)).collect()
            }
        }
        let none = View(Vec::new());
        let msgs: Vec<String> = RdsCluster.check_plan(&standalone, &none).into_iter().map(|p| p.message).collect();
        assert!(msgs.iter().any(|m| m.contains("member of a global cluster only")), "{msgs:?}");
        let global = props(&[("source_db_cluster", Value::str("east"))]);
        let source = View(vec![("aws_rds_global_cluster.g".into(), global)]);
        assert!(RdsCluster.check_plan(&standalone, &source).is_empty());
    }

    #[test]
    fn password_defaults_to_managed_except_secondaries() {
        let mut p = props(&[("cluster_identifier", Value::str("a")), ("master_username", Value::str("mm"))]);
        RdsCluster.derive(&mut p);
        assert_eq!(p["manage_master_user_password"], Value::Bool(true));
        let mut p = props(&[("master_username", Value::str("mm")), ("master_password", Value::str("x"))]);
        RdsCluster.derive(&mut p);
        assert_eq!(p["manage_master_user_password"], Value::Bool(false));
        let mut p = props(&[("master_password", Value::str(""))]);
        RdsCluster.derive(&mut p);
        assert_eq!(p["manage_master_user_password"], Value::Bool(true));
        let mut p = props(&[("global_cluster_identifier", Value::str("g"))]);
        RdsCluster.derive(&mut p);
        assert_eq!(p["manage_master_user_password"], Value::Bool(false));
        assert!(credential_props(&p).is_empty());
    }

    #[test]
    fn a_new_cluster_without_groups_is_warned_about() {
        let made = props(&[("master_username", Value::str("mm")), ("vpc_security_group_ids", Value::Null)]);
        let probs = RdsCluster.check_create(&made);
        assert_eq!(probs.len(), 1, "{probs:?}");
        assert!(probs[0].warning && probs[0].prop == "vpc_security_group_ids", "{probs:?}");
        // Known after apply (a group made in the same plan): no warning.
        let grouped = props(&[("master_username", Value::str("mm")), ("vpc_security_group_ids", Value::Unknown)]);
        assert!(RdsCluster.check_create(&grouped).is_empty());
    }

    #[test]
    fn an_adopted_clusters_master_password_is_refused_known_or_not() {
        let changed: std::collections::BTreeSet<String> = ["master_password".to_string()].into();
        for v in [Value::str("New-Pass-1!"), Value::Unknown] {
            let planned = props(&[("master_password", v.clone())]);
            let probs = RdsCluster.adoption_checks(&Attrs::new(), &planned, &changed, false);
            assert!(probs.iter().any(|p| p.prop == "master_password" && !p.warning), "{v:?}: {probs:?}");
        }
        let empty = props(&[("master_password", Value::Null)]);
        assert!(RdsCluster.adoption_checks(&Attrs::new(), &empty, &changed, false).is_empty());
    }
}
