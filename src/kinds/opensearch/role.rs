//! `opensearch_role`: a fine-grained access control role, e.g. Mattermost's
//! own, with index permissions on its indices only. id = role name.
//! Built-in (reserved or static) roles cannot be changed: map users to them
//! with `opensearch_role_mapping` instead. A create never replaces a role of
//! the same name: the plan reads first and refuses.

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

/// Roles the security plugin marks `static: true` (opensearch-project/security,
/// src/main/resources/static_config/static_roles.yml @ 174a142): a PUT
/// answers 403 "Resource 'x' is static.".
pub const STATIC: &[&str] = &[
    "all_access",
    "kibana_user",
    "own_index",
    "manage_snapshots",
    "kibana_server",
    "logstash",
    "readall_and_monitor",
    "readall",
];

/// Roles the plugin's default configuration marks `reserved: true`
/// (opensearch-project/security, config/roles.yml @ 00ac4af), and OpenSearch
/// Service's own `security_manager` (fgac.md, "Master user"): a PUT answers
/// 403 "Resource 'x' is reserved.".
pub const RESERVED: &[&str] = &[
    "security_manager",
    "kibana_read_only",
    "security_rest_api_access",
    "security_rest_api_full_access",
    "alerting_read_access",
    "alerting_ack_alerts",
    "alerting_full_access",
    "anomaly_read_access",
    "anomaly_full_access",
    "knn_read_access",
    "knn_full_access",
    "ip2geo_datasource_read_access",
    "ip2geo_datasource_full_access",
    "notebooks_read_access",
    "notebooks_full_access",
    "observability_read_access",
    "observability_full_access",
    "ppl_full_access",
    "reports_instances_read_access",
    "reports_read_access",
    "reports_full_access",
    "asynchronous_search_full_access",
    "asynchronous_search_read_access",
    "index_management_full_access",
    "cross_cluster_replication_leader_full_access",
    "cross_cluster_replication_follower_full_access",
    "cross_cluster_search_remote_full_access",
    "query_assistant_access",
    "ml_read_access",
    "ml_full_access",
    "notifications_full_access",
    "notifications_read_access",
    "snapshot_management_full_access",
    "snapshot_management_read_access",
    "point_in_time_full_access",
    "security_analytics_read_access",
    "security_analytics_full_access",
    "security_analytics_ack_alerts",
    "flow_framework_full_access",
    "flow_framework_read_access",
    "query_insights_full_access",
];

/// Whether the plugin refuses changes to the role (static or reserved).
pub fn built_in(role: &str) -> bool {
    STATIC.contains(&role) || RESERVED.contains(&role)
}

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
            "Cluster permissions or action groups, e.g. `cluster_composite_ops` (default none; on an adopted role \
             or domain, unset: as found).",
        )
        .or_computed(),
        Prop::optional(
            "index_permissions",
            Type::List(&Type::Any),
            "Index permissions: a list of `{index_patterns: [...], allowed_actions: [...]}` (default none; on an \
             adopted role or domain, unset: as found).",
        )
        .or_computed(),
        Prop::optional(
            "tenant_permissions",
            Type::List(&Type::Any),
            "Tenant permissions: a list of `{tenant_patterns: [...], allowed_actions: [...]}` (default none; on an \
             adopted role or domain, unset: as found).",
        )
        .or_computed(),
        Prop::optional(
            "description",
            Type::String,
            "The role's description (default none; on an adopted role or domain, unset: as found).",
        )
        .or_computed(),
    ],
};

async fn put(p: &Attrs) -> Result<(), KindError> {
    const CALL: &str = "PUT _plugins/_security/api/roles/{name}";
    let domain = Domain::from_props(p)?;
    // The plugin's PUT replaces the whole role: every field is sent, an
    // adopted role's unset ones as found (read from production).
    let mut body = json!({
        "cluster_permissions": security::list_json(p, "cluster_permissions"),
        "index_permissions": security::list_json(p, "index_permissions"),
        "tenant_permissions": security::list_json(p, "tenant_permissions"),
    });
    if let Some(d) = get_str(p, "description") {
        body["description"] = json!(d);
    }
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
            && built_in(r)
        {
            let how = if STATIC.contains(&r) { "static" } else { "reserved" };
            out.push(PropProblem::error(
                "role_name",
                format!(
                    "{r} is a built-in ({how}) role of the security plugin, which refuses changes to it (403 \
                     \"Resource '{r}' is {how}.\"): map users to it with opensearch_role_mapping"
                ),
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
            ("cluster_permissions" | "index_permissions" | "tenant_permissions", Value::Null) => {
                Value::List(Vec::new())
            }
            _ => v.clone(),
        }
    }

    /// Off production, what the configuration leaves unset is none (as
    /// configured); on an adopted role or domain it is as found.
    fn defaults_off_production(&self, planned: &mut Attrs) {
        for k in ["cluster_permissions", "index_permissions", "tenant_permissions"] {
            planned.entry(k.to_string()).or_insert_with(|| Value::List(Vec::new()));
        }
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "role_name").map(str::to_string)
    }

    fn acts_on(&self, props: &Attrs) -> Option<crate::kinds::Target> {
        security::on_domain(props)
    }

    fn production_effect(
        &self,
        before: Option<&Attrs>,
        after: Option<&Attrs>,
        changed: &std::collections::BTreeSet<String>,
    ) -> Option<String> {
        let name = after.or(before).and_then(|a| get_str(a, "role_name")).unwrap_or("?");
        Some(match (before, after) {
            (None, Some(_)) => {
                format!("creates role `{name}` (the plan read first: none of that name exists); destroy deletes it")
            }
            (Some(_), None) => format!("deletes role `{name}`, which standby created"),
            _ => format!(
                "changes role `{name}`: {} (what the configuration leaves unset is sent as found: the plugin's PUT \
                 replaces the whole role)",
                changed.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
            ),
        })
    }

    async fn existing(&self, _cx: &Ctx<'_>, props: &Attrs) -> Result<crate::kinds::Existing, KindError> {
        const CALL: &str = "GET _plugins/_security/api/roles/{name}";
        let (Ok(domain), Some(name)) = (Domain::from_props(props), get_str(props, "role_name")) else {
            return Ok(crate::kinds::Existing::Clear);
        };
        Ok(crate::kinds::Existing::from(
            security::get(&domain, API, name, CALL).await?.map(|_| security::taken("role", name, "its permissions")),
        ))
    }

    async fn create(&self, _cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        const CALL: &str = "GET _plugins/_security/api/roles/{name}";
        let name = req_str(desired, "role_name")?;
        security::refuse_taken(&Domain::from_props(desired)?, API, name, CALL, "role", "its permissions").await?;
        put(desired).await?;
        Ok(Created { id: name.to_string(), attrs: desired.clone() })
    }

    /// The master user's password it signs in with: see [`security::verify_master`].
    async fn verify_secrets(
        &self,
        _cx: &Ctx<'_>,
        known: &Attrs,
        _observed: &Attrs,
    ) -> Result<Vec<(String, bool)>, KindError> {
        security::verify_master(known).await
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
        let tenants = role.get("tenant_permissions").cloned().unwrap_or(serde_json::Value::Array(Vec::new()));
        a.insert("tenant_permissions".into(), Value::from_json(&tenants));
        if let Some(d) = role.get("description").and_then(serde_json::Value::as_str) {
            a.insert("description".into(), Value::str(d));
        }
        Ok(Some(a))
    }

    /// What the configuration leaves unset is sent as found (on production:
    /// off it, [`Kind::defaults_off_production`] set it), since the PUT replaces.
    async fn update(&self, _cx: &Ctx<'_>, _id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        put(&security::as_found(
            desired,
            prior,
            &["cluster_permissions", "index_permissions", "tenant_permissions", "description"],
        ))
        .await
    }

    async fn delete(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        const CALL: &str = "DELETE _plugins/_security/api/roles/{name}";
        security::delete(&Domain::from_props(prior)?, API, id, CALL).await
    }
}
