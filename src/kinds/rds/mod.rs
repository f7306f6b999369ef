//! Aurora PostgreSQL global databases: the global cluster, its member
//! clusters and their instances (the procedure's "Database" section).
//!
//! What the kinds share lives here: error mapping with RDS hints, the write
//! forwarding version rule, waiting with capped exponential backoff, and the
//! checks across a global database's members that need the whole plan.

pub mod cluster;
pub mod cluster_instance;
pub mod global_cluster;

use super::aws::{aws_error, get_str};
use super::{KindError, PlanView, PropProblem};
use crate::value::{Attrs, Value};
use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};
use std::future::Future;
use std::time::Duration;

/// The only engine this topology runs (Mattermost on Aurora PostgreSQL).
pub const ENGINE: &str = "aurora-postgresql";

/// Maps a failed RDS call to a [`KindError::Aws`] with RDS's hints.
pub(crate) fn rds_error<E>(call: &'static str, e: SdkError<E>) -> KindError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut err = aws_error(call, e);
    if let KindError::Aws { call, code, message, hint } = &mut err
        && let Some(h) = rds_hint(call, code, message)
    {
        *hint = Some(h);
    }
    err
}

/// Hints for RDS's usual refusals.
pub fn rds_hint(call: &str, code: &str, message: &str) -> Option<String> {
    let lower = message.to_lowercase();
    let h = match code {
        "AccessDenied" | "AccessDeniedException" => {
            format!("the credentials in use lack `rds:{call}`; grant it, or run with credentials that have it")
        }
        "InvalidParameterCombination" if lower.contains("deletion protection") => {
            "deletion protection is on: set `deletion_protection: false`, apply, then destroy".to_string()
        }
        "InvalidGlobalClusterStateFault" => {
            "the writer (primary) cluster can leave or be deleted only as the last member \
             of its global cluster: remove the secondary clusters first, or switch over"
                .to_string()
        }
        "GlobalClusterAlreadyExistsFault" | "DBClusterAlreadyExistsFault" | "DBInstanceAlreadyExists" => {
            crate::kinds::EXISTS_HINT.to_string()
        }
        "DBClusterNotFoundFault" if call == "CreateGlobalCluster" => {
            "`source_db_cluster` names no cluster: give the ARN of the existing primary cluster".to_string()
        }
        "GlobalClusterNotFoundFault" if call == "CreateDBCluster" => {
            "`global_cluster_identifier` names no global cluster: create it first (depend on it)".to_string()
        }
        "InvalidDBClusterStateFault" | "InvalidDBInstanceState" => {
            "the cluster is busy (creating, modifying or backing up): apply again once it is available".to_string()
        }
        "InvalidParameterCombination" | "InvalidParameterValue" if lower.contains("write forwarding") => {
            "global write forwarding needs Aurora PostgreSQL 16+, 15.4+ or 14.9+ on a secondary cluster".to_string()
        }
        _ => return None,
    };
    Some(h)
}

/// Why Aurora PostgreSQL `version` does not support global write forwarding
/// (16 and later, all minors; 15.4+; 14.9+), or `None` when it does.
pub fn write_forwarding_problem(version: &str) -> Option<String> {
    let mut parts = version.split('.');
    let major = parts.next().and_then(|m| m.parse::<u32>().ok());
    let minor = parts.next().and_then(|m| m.parse::<u32>().ok());
    let ok = match (major, minor) {
        (Some(m), _) if m >= 16 => true,
        (Some(15), Some(n)) => n >= 4,
        (Some(14), Some(n)) => n >= 9,
        (Some(14 | 15), None) => {
            return Some(format!(
                "global write forwarding needs Aurora PostgreSQL 15.4+ or 14.9+ (16+: any minor); `{version}` does not \
                 name the minor version: give it (e.g. {}.{})",
                major.unwrap_or_default(),
                if major == Some(15) { 4 } else { 9 }
            ));
        }
        (Some(_), _) => false,
        (None, _) => return Some(format!("`{version}` is not an Aurora PostgreSQL version (e.g. 16.4)")),
    };
    (!ok).then(|| {
        format!(
            "global write forwarding needs Aurora PostgreSQL 16 or later (any minor), 15.4+ or 14.9+; \
             engine_version is {version}"
        )
    })
}

/// The cluster identifier in a cluster ARN (`arn:aws:rds:<region>:<account>:cluster:<id>`).
pub fn cluster_id_of(arn_or_id: &str) -> &str {
    arn_or_id.rsplit_once(":cluster:").map_or(arn_or_id, |(_, id)| id)
}

/// The region in an RDS ARN; `None` for global (region-less) ARNs or plain ids.
pub fn region_of_arn(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:").and_then(|r| r.split(':').nth(2)).filter(|r| !r.is_empty())
}

/// A bool property with its AWS default, for comparing unset with reported.
pub(crate) fn bool_or(v: &Value, default: bool) -> Value {
    match v {
        Value::Null => Value::Bool(default),
        other => other.clone(),
    }
}

pub(crate) fn get_bool(attrs: &Attrs, key: &str) -> Option<bool> {
    attrs.get(key).and_then(Value::as_bool)
}

/// Polls `check` until it returns `Some`, waiting 0.5 s, then twice as long
/// each time, at most 30 s between calls. Aurora clusters and instances and
/// OpenSearch domains take many minutes on AWS; the caller's operation
/// timeout (`timeouts:`, enforced by the engine) bounds the whole wait.
pub(crate) async fn poll<T, F, Fut>(mut check: F) -> Result<T, KindError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, KindError>>,
{
    let mut delay = Duration::from_millis(500);
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

/// One planned member of a global database, as the checks see it.
struct Member<'a> {
    address: String,
    attrs: &'a Attrs,
}

/// The planned `aws_rds_cluster` instances that are members of `global_id`:
/// those joining it, and the one it adopts as `source_db_cluster`.
fn members<'a>(view: &'a dyn PlanView, global_id: &str, source: Option<&str>) -> Vec<Member<'a>> {
    view.instances_of("aws_rds_cluster")
        .into_iter()
        .filter(|(_, a)| {
            get_str(a, "global_cluster_identifier") == Some(global_id)
                || source.is_some_and(|s| get_str(a, "cluster_identifier") == Some(cluster_id_of(s)))
        })
        .map(|(address, attrs)| Member { address, attrs })
        .collect()
}

/// The planned global cluster named `id`, if this configuration manages it.
fn planned_global<'a>(view: &'a dyn PlanView, id: &str) -> Option<&'a Attrs> {
    view.instances_of("aws_rds_global_cluster")
        .into_iter()
        .find(|(_, a)| get_str(a, "global_cluster_identifier") == Some(id))
        .map(|(_, a)| a)
}

/// The engine version a global cluster will run: its own, else its source's.
fn global_version<'a>(view: &'a dyn PlanView, global: &'a Attrs) -> Option<&'a str> {
    get_str(global, "engine_version").or_else(|| {
        let source = get_str(global, "source_db_cluster")?;
        view.instances_of("aws_rds_cluster")
            .into_iter()
            .find(|(_, a)| get_str(a, "cluster_identifier") == Some(cluster_id_of(source)))
            .and_then(|(_, a)| get_str(a, "engine_version"))
    })
}

/// Checks across a global cluster's members: each in its own region, all on
/// the same engine version as the global cluster.
fn check_global(props: &Attrs, view: &dyn PlanView) -> Vec<PropProblem> {
    let Some(id) = get_str(props, "global_cluster_identifier") else { return Vec::new() };
    let source = get_str(props, "source_db_cluster");
    let members = members(view, id, source);
    let mut out = Vec::new();
    let mut seen: Vec<(String, &str)> = Vec::new();
    for m in &members {
        let Some(region) = view.region_of(&m.address) else { continue };
        if let Some((other, _)) = seen.iter().find(|(_, r)| *r == region) {
            out.push(PropProblem::error(
                "global_cluster_identifier",
                format!(
                    "members {other} and {} are both in {region}: an Aurora global database has one cluster per \
                     region (use `region: primary` for one and `region: secondary` for the other)",
                    m.address
                ),
            ));
        }
        seen.push((m.address.clone(), region));
    }
    let own = get_str(props, "engine_version");
    let source_version =
        source.and_then(|s| members.iter().find(|m| get_str(m.attrs, "cluster_identifier") == Some(cluster_id_of(s))));
    if let (Some(v), Some(m)) = (own, source_version)
        && let Some(sv) = get_str(m.attrs, "engine_version")
        && sv != v
    {
        out.push(PropProblem::error(
            "engine_version",
            format!(
                "engine_version {v} differs from the source cluster {}'s {sv}: members must run the same version",
                m.address
            ),
        ));
    }
    out
}

/// AWS does not support Secrets Manager managed master passwords in a global database.
pub(crate) fn managed_password_problem(global_id: &str) -> String {
    format!(
        "this cluster has (or would have) an RDS-managed (Secrets Manager) master password, which AWS does not \
         support for clusters in an Aurora global database ({global_id:?}; Aurora User Guide, \"Password management \
         with Amazon Aurora and AWS Secrets Manager\", Limitations). A cluster standby creates: give \
         `master_password` from a sensitive variable. An existing (adopted) cluster keeps its password as it is: \
         leaving Secrets Manager means a new master password (ModifyDBCluster with ManageMasterUserPassword=false \
         requires MasterUserPassword, and RDS deletes the secret), which Mattermost's DataSource must be given at \
         the same time; make that switch yourself when Mattermost can take it, then plan again"
    )
}

/// The global cluster (planned) that adopts this cluster as its source, if any.
fn source_of<'a>(props: &Attrs, view: &'a dyn PlanView) -> Option<(String, &'a Attrs)> {
    let id = get_str(props, "cluster_identifier")?;
    view.instances_of("aws_rds_global_cluster")
        .into_iter()
        .find(|(_, g)| get_str(g, "source_db_cluster").is_some_and(|s| cluster_id_of(s) == id))
}

/// The primary of a planned global cluster: its source, or the member with credentials.
fn primary_of<'a>(view: &'a dyn PlanView, global: &Attrs) -> Option<(String, &'a Attrs)> {
    let id = get_str(global, "global_cluster_identifier")?;
    let source = get_str(global, "source_db_cluster");
    view.instances_of("aws_rds_cluster").into_iter().find(|(_, a)| {
        source.map_or_else(
            || get_str(a, "global_cluster_identifier") == Some(id) && !cluster::credential_props(a).is_empty(),
            |s| get_str(a, "cluster_identifier") == Some(cluster_id_of(s)),
        )
    })
}

/// A secondary of an encrypted primary needs a KMS key of its own region
/// (botocore CreateDBCluster.KmsKeyId: "If you create a read replica of an
/// encrypted DB cluster in another Amazon Web Services Region, make sure to
/// set KmsKeyId to a KMS key identifier that is valid in the destination").
fn encryption_problem(props: &Attrs, view: &dyn PlanView, global: &Attrs) -> Option<PropProblem> {
    let encrypted = get_bool(global, "storage_encrypted") == Some(true)
        || primary_of(view, global).is_some_and(|(_, p)| get_bool(p, "storage_encrypted") == Some(true));
    // Unset, the optional-computed key is planned as unknown: only a given one counts.
    if !encrypted || get_str(props, "kms_key_id").is_some() {
        return None;
    }
    let primary = primary_of(view, global).map(|(a, _)| a).unwrap_or_else(|| "the primary".to_string());
    Some(PropProblem::error(
        "kms_key_id",
        format!(
            "the global database's primary ({primary}) is encrypted: this secondary needs `kms_key_id`, a KMS key \
             valid in its own region (KMS keys are regional; AWS refuses the cross-region member without one)"
        ),
    ))
}

/// Checks of a cluster that is the source of a planned global cluster.
pub(crate) fn check_source(props: &Attrs, view: &dyn PlanView) -> Vec<PropProblem> {
    let Some((_, g)) = source_of(props, view) else { return Vec::new() };
    if get_bool(props, "manage_master_user_password") != Some(true) {
        return Vec::new();
    }
    let global_id = get_str(g, "global_cluster_identifier").unwrap_or("the global cluster");
    vec![PropProblem::error("master_password", managed_password_problem(global_id))]
}

/// Checks of one cluster against its global cluster: no master credentials
/// on a secondary, write forwarding only on a secondary and only on versions
/// that support it, the same engine version as the global cluster.
fn check_member(props: &Attrs, view: &dyn PlanView) -> Vec<PropProblem> {
    let mut out = Vec::new();
    let Some(global_id) = get_str(props, "global_cluster_identifier") else { return out };
    let global = planned_global(view, global_id);
    let has_creds = cluster::credential_props(props);
    // A global cluster that adopts a source, or one not managed here, has its
    // primary already: a cluster joining it is a secondary.
    let secondary = match global {
        Some(g) => g.contains_key("source_db_cluster") || has_creds.is_empty(),
        None => true,
    };
    if secondary {
        // The database and its users live in the shared storage: the
        // secondary has the primary's (CreateDBCluster `DatabaseName` is the
        // primary's business).
        if get_str(props, "database_name").is_some() {
            out.push(PropProblem::error(
                "database_name",
                format!(
                    "a secondary cluster has the databases of global cluster {global_id:?}'s primary; set \
                     `database_name` on the primary and remove it here"
                ),
            ));
        }
        for prop in &has_creds {
            out.push(PropProblem::error(
                prop,
                format!(
                    "a secondary cluster takes no master credentials: it inherits the master user and password of \
                     global cluster {global_id:?}'s primary; remove `{prop}`"
                ),
            ));
        }
    } else if get_bool(props, "enable_global_write_forwarding") == Some(true) {
        out.push(PropProblem::error(
            "enable_global_write_forwarding",
            "write forwarding applies to a secondary cluster only; this one carries master credentials, so it is the \
             global database's primary",
        ));
    }
    if !secondary && get_bool(props, "manage_master_user_password") == Some(true) {
        out.push(PropProblem::error(
            if props.contains_key("master_password") { "master_password" } else { "global_cluster_identifier" },
            managed_password_problem(global_id),
        ));
    }
    let Some(g) = global else { return out };
    if secondary && let Some(p) = encryption_problem(props, view, g) {
        out.push(p);
    }
    let theirs = global_version(view, g);
    let mine = get_str(props, "engine_version");
    if let (Some(a), Some(b)) = (mine, theirs)
        && a != b
    {
        out.push(PropProblem::error(
            "engine_version",
            format!(
                "engine_version {a} differs from global cluster {global_id:?}'s {b}: members must run the same version"
            ),
        ));
    }
    if get_bool(props, "enable_global_write_forwarding") == Some(true)
        && mine.is_none()
        && let Some(v) = theirs
        && let Some(p) = write_forwarding_problem(v)
    {
        out.push(PropProblem::error("enable_global_write_forwarding", p));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_forwarding_versions() {
        for ok in ["16", "16.1", "16.4", "17.2", "15.4", "15.7", "14.9", "14.12"] {
            assert_eq!(write_forwarding_problem(ok), None, "{ok}");
        }
        for bad in ["15.3", "15.0", "14.8", "14.6", "13.12", "12.9", "15", "x"] {
            assert!(write_forwarding_problem(bad).is_some(), "{bad}");
        }
        assert!(write_forwarding_problem("15.3").unwrap().contains("15.4+"));
    }

    /// A plan of (address, region, type, attributes).
    struct View(Vec<(&'static str, &'static str, &'static str, Attrs)>);

    impl PlanView for View {
        fn instances_of(&self, type_name: &str) -> Vec<(String, &Attrs)> {
            self.0.iter().filter(|i| i.2 == type_name).map(|i| (i.0.to_string(), &i.3)).collect()
        }
        fn region_of(&self, address: &str) -> Option<&str> {
            self.0.iter().find(|i| i.0 == address).map(|i| i.1)
        }
    }

    fn attrs(pairs: &[(&str, Value)]) -> Attrs {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    fn global_db(secondary_region: &'static str, secondary: &[(&str, Value)]) -> (Attrs, View) {
        let global =
            attrs(&[("global_cluster_identifier", Value::str("g")), ("source_db_cluster", Value::str("west"))]);
        let mut sec =
            attrs(&[("cluster_identifier", Value::str("east")), ("global_cluster_identifier", Value::str("g"))]);
        sec.extend(attrs(secondary));
        let view = View(vec![
            ("aws_rds_global_cluster.g", "us-west-1", "aws_rds_global_cluster", global.clone()),
            (
                "aws_rds_cluster.west",
                "us-west-1",
                "aws_rds_cluster",
                attrs(&[
                    ("cluster_identifier", Value::str("west")),
                    ("engine_version", Value::str("16.4")),
                    ("master_username", Value::str("mm")),
                    ("global_cluster_identifier", Value::Unknown),
                ]),
            ),
            ("aws_rds_cluster.east", secondary_region, "aws_rds_cluster", sec),
        ]);
        (global, view)
    }

    #[test]
    fn members_of_a_global_database_are_checked_together() {
        let ok = [("engine_version", Value::str("16.4")), ("enable_global_write_forwarding", Value::Bool(true))];
        let (global, view) = global_db("us-east-1", &ok);
        assert!(check_global(&global, &view).is_empty());
        assert!(check_member(&view.0[2].3, &view).is_empty());

        let (global, view) = global_db("us-west-1", &ok);
        let p = check_global(&global, &view);
        assert!(p.len() == 1 && p[0].message.contains("both in us-west-1"), "{p:?}");

        let (_, view) = global_db("us-east-1", &[("engine_version", Value::str("16.1"))]);
        let p = check_member(&view.0[2].3, &view);
        assert!(p.len() == 1 && p[0].prop == "engine_version" && p[0].message.contains("16.4"), "{p:?}");

        let (_, view) =
            global_db("us-east-1", &[("master_password", Value::str("x")), ("master_username", Value::str("mm"))]);
        let p: Vec<_> = check_member(&view.0[2].3, &view).into_iter().map(|p| p.prop).collect();
        assert_eq!(p, ["master_username", "master_password"]);
    }

    #[test]
    fn arns() {
        assert_eq!(cluster_id_of("arn:aws:rds:us-west-1:123456789012:cluster:mm-db"), "mm-db");
        assert_eq!(cluster_id_of("mm-db"), "mm-db");
        assert_eq!(region_of_arn("arn:aws:rds:us-west-1:123456789012:cluster:mm-db"), Some("us-west-1"));
        assert_eq!(region_of_arn("arn:aws:rds::123456789012:global-cluster:g"), None);
    }

    #[test]
    fn hints_name_rds_actions() {
        assert!(rds_hint("CreateDBCluster", "AccessDenied", "").unwrap().contains("rds:CreateDBCluster"));
        let h = rds_hint(
            "DeleteDBCluster",
            "InvalidParameterCombination",
            "Cannot delete protected Cluster, please disable deletion protection and try again.",
        );
        assert!(h.unwrap().contains("deletion_protection: false"));
        assert!(
            rds_hint("RemoveFromGlobalCluster", "InvalidGlobalClusterStateFault", "").unwrap().contains("last member")
        );
    }
}
