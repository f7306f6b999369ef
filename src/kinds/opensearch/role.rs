//! `opensearch_role`: a fine-grained access control role, e.g. Mattermost's
//! own, with index permissions on its indices only. id = role name.
//! Built-in (reserved) roles cannot be changed: map users to them with
//! `opensearch_role_mapping` instead.

use super::rest::Domain;
use super::security::{self, P_ENDPOINT, P_ENDPOINT_URL, P_MASTER, P_MASTER_PASSWORD};
use crate::kinds::aws::{get_str, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use serde_json::json;

pub struct OpenSearchRole;

const API: &str = "roles";

/// The security plugin's and the replication plugin's built-in roles.
pub const RESERVED: &[&str] = &[
    "all_access",
    "security_manager",
    "readall",
    "kibana_user",
    "cross_cluster_replication_leader_full_access",
    "cross_cluster_replication_follower_full_access",
];

static SCHEMA: Schema = Schema {
    props: &[
        P_ENDPOINT,
        P_ENDPOINT_URL,
        P_MASTER,
        P_MASTER_PASSWORD,
        Prop::required("role_name", Type::String, "The role's name.").force_new(),
        Prop::optional(
            "cluster_permissions",
            Type::List(&Type::String),
            "Cluster permissions or action groups, e.g. `cluster_composite_ops`.",
        ),
        Prop::optional(
            "index_permissions",
            Type::List(&Type::Any),
            "Index permissions: a list of `{index_patterns: [...], allowed_actions: [...]}`.",
        ),
    ],
};

async fn put(p: &Attrs) -> Result<(), KindError> {
    const CALL: &str = "PUT _plugins/_security/api/roles/{name}";
    let domain = Domain::from_props(p)?;
    let body = json!({
        "cluster_permissions": security::list_json(p, "cluster_permissions"),
        "index_permissions": security::list_json(p, "index_permissions"),
    });
    security::put(&domain, API, req_str(p, "role_name")?, body, CALL).await
}

#[async_trait]
impl Kind for OpenSearchRole {
    /// Reached through its domain's REST API: an import needs the
    /// domain's endpoint from the configuration.
    fn import_reads_configuration(&self) -> bool {
        true
    }

    fn type_name(&self) -> &'static str {
        "opensearch_role"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        out.extend(super::rest::plain_http(props));
        if let Some(r) = get_str(props, "role_name")
            && RESERVED.contains(&r)
        {
            out.push(PropProblem::error(
                "role_name",
                format!("{r} is a built-in role and cannot be changed: map users to it with opensearch_role_mapping"),
            ));
        }
        if let Some(Value::List(perms)) = props.get("index_permissions") {
            for p in perms {
                let ok = p.as_map().is_some_and(|m| {
                    m.keys().all(|k| {
                        ["index_patterns", "allowed_actions", "fls", "masked_fields", "dls"].contains(&k.as_str())
                    }) && m.contains_key("index_patterns")
                });
                if !ok && !p.has_unknown() {
                    out.push(PropProblem::error(
                        "index_permissions",
                        "each index permission is a map with `index_patterns` and `allowed_actions`",
                    ));
                }
            }
        }
        out
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match (prop, v) {
            ("cluster_permissions" | "index_permissions", Value::Null) => Value::List(Vec::new()),
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

    // read: 1 call (GET _plugins/_security/api/roles/{name}).
    async fn read(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        if !Domain::has_credentials(prior) {
            return Ok(Some(prior.clone()));
        }
        const CALL: &str = "GET _plugins/_security/api/roles/{name}";
        let domain = Domain::from_props(prior)?;
        let Some(role) = security::get(&domain, API, id, CALL).await? else { return Ok(None) };
        let mut a = security::base(prior, "role_name", id);
        a.insert("cluster_permissions".into(), security::strings(role.get("cluster_permissions")));
        let perms = role.get("index_permissions").cloned().unwrap_or(serde_json::Value::Array(Vec::new()));
        a.insert("index_permissions".into(), Value::from_json(&perms));
        Ok(Some(a))
    }

    async fn update(&self, _cx: &Ctx<'_>, _id: &str, _prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        put(desired).await
    }

    async fn delete(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        const CALL: &str = "DELETE _plugins/_security/api/roles/{name}";
        security::delete(&Domain::from_props(prior)?, API, id, CALL).await
    }
}
