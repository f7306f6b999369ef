//! `aws_rds_global_cluster`: an Aurora global database. id = global cluster
//! identifier.
//!
//! With `source_db_cluster`, an existing cluster becomes its first member and
//! its writer (the procedure's "Database" step 1); engine, version and storage
//! encryption then come from that cluster and are not sent. Secondary
//! clusters join with `aws_rds_cluster.global_cluster_identifier`.
//!
//! `writer_region` says which member is the writer (by its AWS region). A
//! change is a role switch: the plan shows it as a switchover runbook and
//! apply carries that out (`crate::switchover`) before this kind is asked
//! to update; the kind itself never switches, it only checks.
//!
//! Destroy: members still attached leave first (RemoveFromGlobalCluster,
//! non-writers before the writer, each in its own region), then the global
//! cluster is deleted. The writer cluster itself is not deleted here.

use super::{ENGINE, bool_or, check_global, cluster_id_of, get_bool, poll, rds_error, region_of_arn};
use crate::kinds::aws::{get_str, is_gone, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PlanView, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_rds::types::GlobalCluster;
use std::time::Duration;

pub struct RdsGlobalCluster;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("global_cluster_identifier", Type::String, "Name of the global database.").force_new(),
        Prop::optional(
            "source_db_cluster",
            Type::String,
            "An existing cluster (ARN, or identifier of a cluster in this resource's region) that becomes the first \
             member and the writer. Engine, version and encryption are then inherited from it.",
        )
        .force_new(),
        Prop::optional(
            "engine",
            Type::String,
            "`aurora-postgresql` (the only engine supported). Inherited from `source_db_cluster` when set.",
        )
        .force_new()
        .or_computed(),
        Prop::optional(
            "engine_version",
            Type::String,
            "Aurora PostgreSQL version, e.g. `16.4`. Inherited from `source_db_cluster` when set; given anyway, it \
             must match.",
        )
        .or_computed(),
        Prop::optional("deletion_protection", Type::Bool, "Refuse deletion (default false)."),
        Prop::optional(
            "storage_encrypted",
            Type::Bool,
            "Encrypt storage. Inherited from `source_db_cluster` when set.",
        )
        .force_new()
        .or_computed(),
        Prop::optional(
            "writer_region",
            Type::String,
            "AWS region of the member cluster that is the writer (from the root's `active_region`). Changing it \
             is a switchover: the plan shows the runbook, apply runs it.",
        )
        .or_computed(),
        Prop::computed("arn", Type::String, "Global cluster ARN."),
        Prop::computed("endpoint", Type::String, "The global writer endpoint."),
        Prop::computed("writer_cluster_arn", Type::String, "ARN of the member cluster that is the writer now."),
    ],
};

const GONE: &[&str] = &["GlobalClusterNotFoundFault"];

async fn describe(cx: &Ctx<'_>, id: &str) -> Result<Option<GlobalCluster>, KindError> {
    let rds = cx.aws.rds(cx.region).await;
    match rds.describe_global_clusters().global_cluster_identifier(id).send().await {
        Ok(out) => Ok(out.global_clusters().iter().find(|g| g.global_cluster_identifier() == Some(id)).cloned()),
        Err(e) if is_gone(&e, GONE) => Ok(None),
        Err(e) => Err(rds_error("DescribeGlobalClusters", e)),
    }
}

/// The ARN of `source`: given as an ARN, or looked up by identifier.
async fn source_arn(cx: &Ctx<'_>, source: &str) -> Result<String, KindError> {
    if source.starts_with("arn:") {
        return Ok(source.to_string());
    }
    let out = cx
        .aws
        .rds(cx.region)
        .await
        .describe_db_clusters()
        .db_cluster_identifier(source)
        .send()
        .await
        .map_err(|e| rds_error("DescribeDBClusters", e))?;
    out.db_clusters()
        .first()
        .and_then(|c| c.db_cluster_arn())
        .map(str::to_string)
        .ok_or_else(|| KindError::Failed(format!("source_db_cluster {source:?}: no such cluster in {}", cx.region)))
}

/// Detaches `member_arn` (in its own region) and waits until the global
/// cluster no longer lists it.
async fn remove_member(cx: &Ctx<'_>, id: &str, member_arn: &str) -> Result<(), KindError> {
    let region = region_of_arn(member_arn).unwrap_or(cx.region);
    let rds = cx.aws.rds(region).await;
    match rds.remove_from_global_cluster().global_cluster_identifier(id).db_cluster_identifier(member_arn).send().await
    {
        Ok(_) => {}
        Err(e) if is_gone(&e, &["GlobalClusterNotFoundFault"]) => return Ok(()),
        // Not (or no longer) a member: a repeat of a call whose answer was
        // lost, or the member leaving by itself. Not taken as done: the
        // global cluster must stop listing it (below), or the writer cannot leave.
        Err(e) if is_gone(&e, &["DBClusterNotFoundFault"]) => {}
        Err(e) => return Err(rds_error("RemoveFromGlobalCluster", e)),
    }
    poll(|| async {
        let g = describe(cx, id).await?;
        let attached =
            g.is_some_and(|g| g.global_cluster_members().iter().any(|m| m.db_cluster_arn() == Some(member_arn)));
        Ok((!attached).then_some(()))
    })
    .await
}

/// The members of `g` other than `arn`.
fn others(g: &GlobalCluster, arn: &str) -> Vec<String> {
    g.global_cluster_members()
        .iter()
        .filter_map(|m| m.db_cluster_arn())
        .filter(|m| *m != arn)
        .map(str::to_string)
        .collect()
}

#[async_trait]
impl Kind for RdsGlobalCluster {
    fn type_name(&self) -> &'static str {
        "aws_rds_global_cluster"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn default_timeout(&self) -> Duration {
        Duration::from_secs(30 * 60)
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if let Some(e) = get_str(props, "engine")
            && e != ENGINE
        {
            out.push(PropProblem::error("engine", format!("engine must be `{ENGINE}` for this topology, got {e:?}")));
        }
        if !props.contains_key("source_db_cluster") && !props.contains_key("engine_version") {
            out.push(PropProblem::error(
                "engine_version",
                "a global cluster without `source_db_cluster` needs `engine_version` (its members must match it)",
            ));
        }
        out
    }

    fn check_plan(&self, props: &Attrs, view: &dyn PlanView) -> Vec<PropProblem> {
        check_global(props, view)
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match prop {
            "deletion_protection" => bool_or(v, false),
            _ => v.clone(),
        }
    }

    fn unknown_after_update(&self, changed: &std::collections::BTreeSet<String>) -> Vec<&'static str> {
        if changed.contains("writer_region") { vec!["writer_cluster_arn"] } else { Vec::new() }
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "global_cluster_identifier").map(str::to_string)
    }

    /// An adopted cluster becomes this global cluster's first member.
    fn acts_on(&self, props: &Attrs) -> Option<crate::kinds::Target> {
        get_str(props, "source_db_cluster")
            .map(|s| crate::kinds::Target::new("aws_rds_cluster", "cluster_identifier", super::cluster_id_of(s)))
    }

    /// The existing cluster it adopts as its source keeps its master
    /// password in Secrets Manager: AWS refuses it in a global database.
    async fn existing(&self, cx: &Ctx<'_>, props: &Attrs) -> Result<crate::kinds::Existing, KindError> {
        let Some(source) = get_str(props, "source_db_cluster") else { return Ok(crate::kinds::Existing::Clear) };
        let id = cluster_id_of(source);
        let out = match cx.aws.rds(cx.region).await.describe_db_clusters().db_cluster_identifier(id).send().await {
            Ok(out) => out,
            Err(e) if is_gone(&e, &["DBClusterNotFoundFault"]) => return Ok(crate::kinds::Existing::Clear),
            Err(e) => return Err(rds_error("DescribeDBClusters", e)),
        };
        let managed = out.db_clusters().iter().any(|c| c.master_user_secret().is_some());
        let global = get_str(props, "global_cluster_identifier").unwrap_or("the global cluster");
        Ok(if managed {
            crate::kinds::Existing::Refused(format!("cluster {id}: {}", super::managed_password_problem(global)))
        } else {
            crate::kinds::Existing::Clear
        })
    }

    fn production_effect(
        &self,
        before: Option<&Attrs>,
        after: Option<&Attrs>,
        changed: &std::collections::BTreeSet<String>,
    ) -> Option<String> {
        Some(match (before, after) {
            (None, Some(a)) => format!(
                "makes the cluster the first member and writer of global cluster {:?} (CreateGlobalCluster with \
                 SourceDBClusterIdentifier), in place, without downtime; Aurora then replicates its storage to the \
                 secondary region, and engine upgrades go through the global cluster. Destroy takes it out of the \
                 global cluster again; it keeps running on its own",
                get_str(a, "global_cluster_identifier").unwrap_or("?")
            ),
            (Some(_), None) => {
                "takes the cluster out of the global cluster (RemoveFromGlobalCluster); it keeps running on its own"
                    .into()
            }
            (Some(_), Some(_)) if changed.contains("writer_region") => {
                "moves the writer to the other region (a switchover): the cluster becomes a secondary".into()
            }
            _ => return None,
        })
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let id = req_str(desired, "global_cluster_identifier")?;
        let rds = cx.aws.rds(cx.region).await;
        let mut req = rds
            .create_global_cluster()
            .global_cluster_identifier(id)
            .deletion_protection(get_bool(desired, "deletion_protection").unwrap_or(false));
        match get_str(desired, "source_db_cluster") {
            // Engine, version, encryption: inherited (AWS refuses them with a source).
            Some(source) => req = req.source_db_cluster_identifier(source_arn(cx, source).await?),
            None => {
                req = req
                    .engine(get_str(desired, "engine").unwrap_or(ENGINE))
                    .set_engine_version(get_str(desired, "engine_version").map(str::to_string))
                    .set_storage_encrypted(get_bool(desired, "storage_encrypted"));
            }
        }
        req.send().await.map_err(|e| rds_error("CreateGlobalCluster", e))?;
        Ok(Created { id: id.to_string(), attrs: desired.clone() })
    }

    async fn wait_ready(&self, cx: &Ctx<'_>, id: &str) -> Result<(), KindError> {
        poll(|| async {
            match describe(cx, id).await? {
                Some(g) if g.status() == Some("available") => Ok(Some(())),
                Some(_) => Ok(None),
                // Just created: allow for eventual consistency.
                None => Ok(None),
            }
        })
        .await
    }

    // read: 1 call (DescribeGlobalClusters).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let Some(g) = describe(cx, id).await? else { return Ok(None) };
        let mut a = Attrs::new();
        a.insert("global_cluster_identifier".into(), Value::str(id));
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                a.insert(k.to_string(), v);
            }
        };
        put("engine", g.engine().map(Value::str));
        put("engine_version", g.engine_version().map(Value::str));
        put("deletion_protection", g.deletion_protection().map(Value::Bool));
        put("storage_encrypted", g.storage_encrypted().map(Value::Bool));
        put("arn", g.global_cluster_arn().map(Value::str));
        put("endpoint", g.endpoint().map(Value::str));
        let members = g.global_cluster_members();
        let writer = members.iter().find(|m| m.is_writer() == Some(true)).and_then(|m| m.db_cluster_arn());
        put("writer_cluster_arn", writer.map(Value::str));
        put("writer_region", writer.and_then(region_of_arn).map(Value::str));
        // The source is not reported: it stays as given while that cluster is
        // still a member; otherwise the current writer stands in (a change).
        if let Some(source) = get_str(prior, "source_db_cluster") {
            let member = members
                .iter()
                .filter_map(|m| m.db_cluster_arn())
                .any(|arn| arn == source || (!source.starts_with("arn:") && cluster_id_of(arn) == source));
            let v = if member { Some(source) } else { writer };
            put("source_db_cluster", v.map(Value::str));
        }
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let (old, new) = (get_str(prior, "engine_version"), get_str(desired, "engine_version"));
        if let (Some(old), Some(new)) = (old, new)
            && old != new
        {
            return Err(KindError::Failed(format!(
                "engine_version {old} -> {new}: standby does not upgrade a global database in place. Upgrade it \
                 with `aws rds modify-global-cluster --global-cluster-identifier {id} --engine-version {new}` \
                 (add --allow-major-version-upgrade across majors), then apply again"
            )));
        }
        // The switchover runbook runs before updates: by now the writer has moved.
        if let (Some(want), Some(now)) = (get_str(desired, "writer_region"), get_str(prior, "writer_region"))
            && want != now
        {
            return Err(KindError::Failed(format!(
                "the writer of {id} is in {now}, not {want}: the writer moves only through a switchover (a plan \
                 changing `active_region` runs it first) or `standby failover`"
            )));
        }
        let protect = get_bool(desired, "deletion_protection").unwrap_or(false);
        if get_bool(prior, "deletion_protection").unwrap_or(false) != protect {
            cx.aws
                .rds(cx.region)
                .await
                .modify_global_cluster()
                .global_cluster_identifier(id)
                .deletion_protection(protect)
                .send()
                .await
                .map_err(|e| rds_error("ModifyGlobalCluster", e))?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        let Some(g) = describe(cx, id).await? else { return Ok(()) };
        if g.deletion_protection() == Some(true) {
            // Checked first: members must not be detached from a global cluster that stays.
            return Err(KindError::Failed(format!(
                "global cluster {id} has deletion protection enabled: set `deletion_protection: false`, apply, \
                 then destroy"
            )));
        }
        // Non-writers first: the writer can only leave as the last member.
        let mut members: Vec<(bool, String)> = g
            .global_cluster_members()
            .iter()
            .filter_map(|m| Some((m.is_writer() == Some(true), m.db_cluster_arn()?.to_string())))
            .collect();
        members.sort();
        for (writer, arn) in &members {
            if *writer {
                // AWS refuses the writer while others remain: look first, and
                // name them rather than leave the user with AWS's refusal.
                let left = describe(cx, id).await?.map(|g| others(&g, arn)).unwrap_or_default();
                if !left.is_empty() {
                    return Err(KindError::Failed(format!(
                        "global cluster {id} still lists {} as member(s) after they were removed; the writer \
                         {arn} can only leave last. Check them with `aws rds describe-global-clusters \
                         --global-cluster-identifier {id}`, then destroy again",
                        left.join(", ")
                    )));
                }
            }
            remove_member(cx, id, arn).await?;
        }
        let rds = cx.aws.rds(cx.region).await;
        match rds.delete_global_cluster().global_cluster_identifier(id).send().await {
            Ok(_) => {}
            Err(e) if is_gone(&e, GONE) => return Ok(()),
            Err(e) => return Err(rds_error("DeleteGlobalCluster", e)),
        }
        poll(|| async { Ok(describe(cx, id).await?.is_none().then_some(())) }).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_a_version_or_a_source() {
        let p: Attrs = [("global_cluster_identifier".to_string(), Value::str("g"))].into();
        assert_eq!(RdsGlobalCluster.validate(&p)[0].prop, "engine_version");
        let mut p2 = p.clone();
        p2.insert("source_db_cluster".into(), Value::Unknown);
        assert!(RdsGlobalCluster.validate(&p2).is_empty());
        p2.insert("engine".into(), Value::str("aurora-mysql"));
        assert_eq!(RdsGlobalCluster.validate(&p2)[0].prop, "engine");
    }
}
