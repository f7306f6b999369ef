//! `opensearch_role_mapping`: which internal users (and backend roles) a
//! fine-grained access control role applies to, e.g. the replication user
//! mapped to the plugin's `cross_cluster_replication_follower_full_access`
//! on the follower and `..._leader_full_access` on the leader. id = role name.
//!
//! The mapping is the role's whole mapping: users mapped outside standby are
//! shown as drift and removed by the next apply. Destroy removes the mapping
//! (the role itself stays).

use super::rest::Domain;
use super::security::{self, P_ENDPOINT, P_ENDPOINT_URL, P_MASTER, P_MASTER_PASSWORD};
use crate::kinds::aws::{get_str, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use serde_json::json;

pub struct OpenSearchRoleMapping;

const API: &str = "rolesmapping";

static SCHEMA: Schema = Schema {
    props: &[
        P_ENDPOINT,
        P_ENDPOINT_URL,
        P_MASTER,
        P_MASTER_PASSWORD,
        Prop::required("role_name", Type::String, "The role mapped (built-in or `opensearch_role`).").force_new(),
        Prop::optional("users", Type::List(&Type::String), "Internal users the role applies to."),
        Prop::optional("backend_roles", Type::List(&Type::String), "Backend roles (e.g. IAM role ARNs) it applies to."),
    ],
};

async fn put(p: &Attrs) -> Result<(), KindError> {
    const CALL: &str = "PUT _plugins/_security/api/rolesmapping/{role}";
    let domain = Domain::from_props(p)?;
    let body = json!({
        "users": security::list_json(p, "users"),
        "backend_roles": security::list_json(p, "backend_roles"),
    });
    security::put(&domain, API, req_str(p, "role_name")?, body, CALL).await
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Null => Value::List(Vec::new()),
        Value::List(l) => {
            let mut l = l.clone();
            l.sort_by_key(|x| x.as_str().unwrap_or_default().to_string());
            Value::List(l)
        }
        other => other.clone(),
    }
}

#[async_trait]
impl Kind for OpenSearchRoleMapping {
    /// Reached through its domain's REST API: an import needs the
    /// domain's endpoint from the configuration.
    fn import_reads_configuration(&self) -> bool {
        true
    }

    fn type_name(&self) -> &'static str {
        "opensearch_role_mapping"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        out.extend(super::rest::plain_http(props));
        if get_str(props, "role_name") == Some("all_access") {
            out.push(PropProblem::warning(
                "role_name",
                "this replaces the whole all_access mapping (who may do anything): users mapped outside standby \
                 lose it",
            ));
        }
        out
    }

    /// Order does not matter to the plugin.
    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match prop {
            "users" | "backend_roles" => sorted(v),
            _ => v.clone(),
        }
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "role_name").map(str::to_string)
    }

    async fn create(&self, _cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        put(desired).await?;
        Ok(Created { id: req_str(desired, "role_name")?.to_string(), attrs: desired.clone() })
    }

    // read: 1 call (GET _plugins/_security/api/rolesmapping/{role}).
    async fn read(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        if !Domain::has_credentials(prior) {
            return Ok(Some(prior.clone()));
        }
        const CALL: &str = "GET _plugins/_security/api/rolesmapping/{role}";
        let domain = Domain::from_props(prior)?;
        let Some(m) = security::get(&domain, API, id, CALL).await? else { return Ok(None) };
        let mut a = security::base(prior, "role_name", id);
        a.insert("users".into(), security::strings(m.get("users")));
        a.insert("backend_roles".into(), security::strings(m.get("backend_roles")));
        Ok(Some(a))
    }

    async fn update(&self, _cx: &Ctx<'_>, _id: &str, _prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        put(desired).await
    }

    async fn delete(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        const CALL: &str = "DELETE _plugins/_security/api/rolesmapping/{role}";
        security::delete(&Domain::from_props(prior)?, API, id, CALL).await
    }
}
