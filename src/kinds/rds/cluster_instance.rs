//! `aws_rds_cluster_instance`: one DB instance of an Aurora cluster (the first
//! becomes the writer, the others readers). id = instance identifier. Use the
//! resource's `count:` for several, e.g. `identifier: "mm-db-${count.index}"`.
//!
//! A class change is an outage of the instance (botocore
//! ModifyDBInstanceMessage.DBInstanceClass: "If you modify the DB instance
//! class, an outage occurs during the change"): on an adopted instance it is
//! refused unless `allow_disruption` lists `instance_class`, and it waits for
//! the maintenance window unless `apply_immediately`. A change waiting there
//! is read as the class AWS will have (PendingModifiedValues).

use super::{ENGINE, poll, rds_error};
use crate::kinds::aws::{get_str, is_gone, req_str};
use crate::kinds::rds::get_bool;
use crate::kinds::schema::{P_ALLOW_DISRUPTION, P_UNLESS_ADOPTED, Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_rds::types::DbInstance;
use std::time::Duration;

pub struct RdsClusterInstance;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("identifier", Type::String, "Instance name.").force_new(),
        Prop::required("cluster_identifier", Type::String, "The cluster it belongs to.").force_new(),
        Prop::optional(
            "instance_class",
            Type::String,
            "Instance class, e.g. `db.r6g.large` (unset on an existing instance: as found; needed to create one).",
        )
        .as_found(),
        Prop::optional("engine", Type::String, "`aurora-postgresql` (the default; must be the cluster's).")
            .force_new()
            .or_computed(),
        Prop::optional(
            "apply_immediately",
            Type::Bool,
            "Make a class change now rather than in the maintenance window (`ApplyImmediately`, which also applies \
             the instance's pending modifications). Default: true for an instance standby created, false for an \
             adopted one. standby's own setting, kept in state.",
        ),
        P_ALLOW_DISRUPTION,
        P_UNLESS_ADOPTED,
        Prop::computed("arn", Type::String, "Instance ARN."),
        Prop::computed("endpoint", Type::String, "The instance's own endpoint address."),
        Prop::computed(
            "pending_instance_class",
            Type::String,
            "A class change AWS holds for the maintenance window, when there is one.",
        ),
    ],
};

const GONE: &[&str] = &["DBInstanceNotFound", "DBInstanceNotFoundFault"];

async fn describe(cx: &Ctx<'_>, id: &str) -> Result<Option<DbInstance>, KindError> {
    let rds = cx.aws.rds(cx.region).await;
    match rds.describe_db_instances().db_instance_identifier(id).send().await {
        Ok(out) => Ok(out.db_instances().iter().find(|i| i.db_instance_identifier() == Some(id)).cloned()),
        Err(e) if is_gone(&e, GONE) => Ok(None),
        Err(e) => Err(rds_error("DescribeDBInstances", e)),
    }
}

#[async_trait]
impl Kind for RdsClusterInstance {
    fn type_name(&self) -> &'static str {
        "aws_rds_cluster_instance"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    /// An Aurora instance takes 10-20 minutes to create.
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(90 * 60)
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        match get_str(props, "engine") {
            Some(e) if e != ENGINE => {
                vec![PropProblem::error("engine", format!("engine must be `{ENGINE}` for this topology, got {e:?}"))]
            }
            _ => Vec::new(),
        }
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "identifier").map(str::to_string)
    }

    fn kept(&self) -> &'static [&'static str] {
        &["apply_immediately", "allow_disruption"]
    }

    fn adoption_checks(
        &self,
        aws: &Attrs,
        planned: &Attrs,
        changed: &std::collections::BTreeSet<String>,
        _importing: bool,
    ) -> Vec<PropProblem> {
        if !changed.contains("instance_class") {
            return Vec::new();
        }
        let when = if get_bool(planned, "apply_immediately") == Some(true) {
            "now (apply_immediately; the instance's pending modifications go with it)"
        } else {
            "in the instance's next maintenance window"
        };
        vec![PropProblem::error(
            "instance_class",
            format!(
                "this resizes the adopted instance from {} to {}, {when}: AWS takes the instance out of service \
                 while it changes class (botocore ModifyDBInstance: \"If you modify the DB instance class, an outage \
                 occurs during the change\"); resize one instance at a time, the writer last",
                get_str(aws, "instance_class").unwrap_or("?"),
                get_str(planned, "instance_class").unwrap_or("?")
            ),
        )]
    }

    fn production_effect(
        &self,
        before: Option<&Attrs>,
        after: Option<&Attrs>,
        changed: &std::collections::BTreeSet<String>,
    ) -> Option<String> {
        let (before, after) = (before?, after?);
        if !changed.contains("instance_class") {
            return None;
        }
        let when = if get_bool(after, "apply_immediately") == Some(true) { "now" } else { "in its maintenance window" };
        Some(format!(
            "instance class {} -> {}: an outage of this instance while AWS changes it, {when}",
            get_str(before, "instance_class").unwrap_or("?"),
            get_str(after, "instance_class").unwrap_or("?")
        ))
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let id = req_str(desired, "identifier")?;
        cx.aws
            .rds(cx.region)
            .await
            .create_db_instance()
            .db_instance_identifier(id)
            .db_cluster_identifier(req_str(desired, "cluster_identifier")?)
            .db_instance_class(req_str(desired, "instance_class")?)
            .engine(get_str(desired, "engine").unwrap_or(ENGINE))
            .send()
            .await
            .map_err(|e| rds_error("CreateDBInstance", e))?;
        Ok(Created { id: id.to_string(), attrs: desired.clone() })
    }

    async fn wait_ready(&self, cx: &Ctx<'_>, id: &str) -> Result<(), KindError> {
        poll(|| async {
            Ok(describe(cx, id).await?.filter(|i| i.db_instance_status() == Some("available")).map(|_| ()))
        })
        .await
    }

    // read: 1 call (DescribeDBInstances).
    async fn read(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let Some(i) = describe(cx, id).await? else { return Ok(None) };
        if i.db_instance_status() == Some("deleting") {
            return Ok(None);
        }
        let mut a = Attrs::new();
        a.insert("identifier".into(), Value::str(id));
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                a.insert(k.to_string(), v);
            }
        };
        put("cluster_identifier", i.db_cluster_identifier().map(Value::str));
        // A class change held for the maintenance window is what AWS will have.
        let pending = i.pending_modified_values().and_then(|p| p.db_instance_class());
        put("instance_class", pending.or(i.db_instance_class()).map(Value::str));
        put("pending_instance_class", pending.map(Value::str));
        put("engine", i.engine().map(Value::str));
        put("arn", i.db_instance_arn().map(Value::str));
        put("endpoint", i.endpoint().and_then(|e| e.address()).map(Value::str));
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        if get_str(prior, "instance_class") == get_str(desired, "instance_class") {
            return Ok(()); // only standby's own settings changed
        }
        cx.aws
            .rds(cx.region)
            .await
            .modify_db_instance()
            .db_instance_identifier(id)
            .db_instance_class(req_str(desired, "instance_class")?)
            .apply_immediately(get_bool(desired, "apply_immediately").unwrap_or(!cx.adopted))
            .send()
            .await
            .map_err(|e| rds_error("ModifyDBInstance", e))?;
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        // Aurora instances have no snapshots of their own (the cluster's final snapshot covers them).
        match cx.aws.rds(cx.region).await.delete_db_instance().db_instance_identifier(id).send().await {
            Ok(_) => {}
            Err(e) if is_gone(&e, GONE) => return Ok(()),
            Err(e) => return Err(rds_error("DeleteDBInstance", e)),
        }
        poll(|| async { Ok(describe(cx, id).await?.is_none().then_some(())) }).await
    }
}
