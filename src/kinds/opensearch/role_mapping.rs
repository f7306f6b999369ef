//! `opensearch_role_mapping`: which internal users (and backend roles) a
//! fine-grained access control role applies to, e.g. the replication user
//! mapped to the plugin's `cross_cluster_replication_follower_full_access`
//! on the follower and `..._leader_full_access` on the leader. id = role name.
//!
//! Merged, never replaced: the users and backend roles given are added to
//! what the role's mapping has, whose other members stay (production's users;
//! on OpenSearch Service the master user is a member of `all_access` and
//! `security_manager`, fgac.md "Additional master users", so replacing those
//! mappings would lock it out). A member standby added and the configuration
//! drops is taken out again; members added outside standby are not drift.
//! What the mapping had before standby is read before the create and kept
//! (`previous_mapping`, written ahead); destroy takes out only what standby
//! added, and deletes the mapping only when there was none before.

use super::rest::Domain;
use super::security::{self, P_ENDPOINT, P_ENDPOINT_URL, P_MASTER, P_MASTER_PASSWORD};
use crate::kinds::aws::{get_str, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use serde_json::{Value as Json, json};

pub struct OpenSearchRoleMapping;

const API: &str = "rolesmapping";
const GET_CALL: &str = "GET _plugins/_security/api/rolesmapping/{role}";
/// The members standby manages; the mapping's other fields are kept as they are.
const MEMBERS: [&str; 2] = ["users", "backend_roles"];

static SCHEMA: Schema = Schema {
    props: &[
        P_ENDPOINT,
        P_ENDPOINT_URL,
        P_MASTER,
        P_MASTER_PASSWORD,
        Prop::required("role_name", Type::String, "The role mapped (built-in or `opensearch_role`).").force_new(),
        Prop::optional(
            "users",
            Type::List(&Type::String),
            "Internal users the role applies to, added to the mapping's other members (which stay).",
        ),
        Prop::optional(
            "backend_roles",
            Type::List(&Type::String),
            "Backend roles (e.g. IAM role ARNs) it applies to, added the same way.",
        ),
        Prop::computed(
            "previous_mapping",
            Type::Json,
            "The role's mapping before standby added to it (null: none), read before the create; destroy takes out \
             only what standby added.",
        ),
    ],
};

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_list)
        .map(|l| l.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

fn json_strings(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_array)
        .map(|a| a.iter().filter_map(Json::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// `now` without `drop`, then `add`'s members not in it, in order.
fn merge(now: Vec<String>, drop: &[String], add: &[String]) -> Vec<String> {
    let mut out: Vec<String> = now.into_iter().filter(|m| !drop.contains(m)).collect();
    for a in add {
        if !out.contains(a) {
            out.push(a.clone());
        }
    }
    out
}

/// PUTs the mapping `current` with its members changed: for each of
/// [`MEMBERS`], `drop` taken out and `add` put in. Other fields as they are.
async fn put_merged(
    domain: &Domain,
    role: &str,
    current: Option<&Json>,
    drop: &Attrs,
    add: &Attrs,
) -> Result<Json, KindError> {
    const CALL: &str = "PUT _plugins/_security/api/rolesmapping/{role}";
    let mut body = serde_json::Map::new();
    // The plugin's allowed keys (RolesMappingApiAction): the rest (reserved,
    // hidden) is its own.
    for k in ["hosts", "and_backend_roles", "description"] {
        if let Some(v) = current.and_then(|c| c.get(k)) {
            body.insert(k.to_string(), v.clone());
        }
    }
    for k in MEMBERS {
        let now = json_strings(current.and_then(|c| c.get(k)));
        body.insert(k.to_string(), json!(merge(now, &strings(drop.get(k)), &strings(add.get(k)))));
    }
    let body = Json::Object(body);
    security::put(domain, API, role, body.clone(), CALL).await?;
    Ok(body)
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

/// The members standby added: configured, and not in the mapping before.
fn added(prior: &Attrs) -> Attrs {
    let before = prior.get("previous_mapping").map(Value::to_json).unwrap_or(Json::Null);
    MEMBERS
        .iter()
        .map(|k| {
            let had = json_strings(before.get(*k));
            let mine: Vec<Value> =
                strings(prior.get(*k)).into_iter().filter(|m| !had.contains(m)).map(Value::String).collect();
            (k.to_string(), Value::List(mine))
        })
        .collect()
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
        super::rest::plain_http(props).into_iter().collect()
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

    fn kept(&self) -> &'static [&'static str] {
        &["previous_mapping"]
    }

    fn acts_on(&self, props: &Attrs) -> Option<crate::kinds::Target> {
        security::on_domain(props)
    }

    fn production_effect(
        &self,
        before: Option<&Attrs>,
        after: Option<&Attrs>,
        _changed: &std::collections::BTreeSet<String>,
    ) -> Option<String> {
        let role = after.or(before).and_then(|a| get_str(a, "role_name")).unwrap_or("?");
        let members = |a: &Attrs| MEMBERS.iter().flat_map(|k| strings(a.get(*k))).collect::<Vec<_>>().join(", ");
        Some(match (before, after) {
            (None, Some(a)) => format!(
                "adds {} to role `{role}`'s mapping; its other members (production's users and backend roles) stay; \
                 destroy takes out only what standby added",
                members(a)
            ),
            (Some(b), None) => {
                format!("takes {} out of role `{role}`'s mapping again (what standby added)", members(&added(b)))
            }
            (Some(_), Some(a)) => {
                format!("role `{role}`'s mapping: standby's members are now {}; the others stay", members(a))
            }
            _ => return None,
        })
    }

    /// What the mapping has now: written ahead as `previous_mapping`.
    async fn before_create(&self, _cx: &Ctx<'_>, desired: &Attrs) -> Result<Attrs, KindError> {
        let domain = Domain::from_props(desired)?;
        let found = security::get(&domain, API, req_str(desired, "role_name")?, GET_CALL).await?;
        let kept = found.map(|m| {
            let members: serde_json::Map<String, Json> =
                MEMBERS.iter().map(|k| (k.to_string(), json!(json_strings(m.get(*k))))).collect();
            Json::Object(members)
        });
        Ok([("previous_mapping".to_string(), kept.map(|j| Value::from_json(&j)).unwrap_or(Value::Null))].into())
    }

    async fn create(&self, _cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let domain = Domain::from_props(desired)?;
        let role = req_str(desired, "role_name")?;
        let current = security::get(&domain, API, role, GET_CALL).await?;
        put_merged(&domain, role, current.as_ref(), &Attrs::new(), desired).await?;
        let mut attrs = desired.clone();
        attrs.entry("previous_mapping".into()).or_insert(Value::Null);
        Ok(Created { id: role.to_string(), attrs })
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

    // read: 1 call (GET _plugins/_security/api/rolesmapping/{role}). Reports
    // the members standby manages that the mapping has; others are not its.
    async fn read(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        if !Domain::has_credentials(prior) {
            return Ok(Some(prior.clone()));
        }
        let domain = Domain::from_props(prior)?;
        let Some(m) = security::get(&domain, API, id, GET_CALL).await? else { return Ok(None) };
        let mut a = security::base(prior, "role_name", id);
        for k in MEMBERS {
            let mine = strings(prior.get(k));
            let present: Vec<Value> =
                json_strings(m.get(k)).into_iter().filter(|u| mine.contains(u)).map(Value::String).collect();
            a.insert(k.into(), Value::List(present));
        }
        Ok(Some(a))
    }

    async fn update(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let domain = Domain::from_props(desired)?;
        let current = security::get(&domain, API, id, GET_CALL).await?;
        // Members standby had added that the configuration no longer lists.
        let added = added(prior);
        let drop: Attrs = MEMBERS
            .iter()
            .map(|k| {
                let want = strings(desired.get(*k));
                let gone: Vec<Value> =
                    strings(added.get(*k)).into_iter().filter(|m| !want.contains(m)).map(Value::String).collect();
                (k.to_string(), Value::List(gone))
            })
            .collect();
        put_merged(&domain, id, current.as_ref(), &drop, desired).await.map(|_| ())
    }

    /// Takes out what standby added; deletes the mapping only when it did
    /// not exist before standby (or standby did not record what it had).
    fn delete_effect(&self, prior: &Attrs) -> Option<String> {
        // Recorded by an earlier standby: who else was mapped is unknown.
        (!prior.contains_key("previous_mapping"))
            .then(|| "deletes the role mapping, with every member it has (its other members too)".into())
    }

    async fn delete(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        const CALL: &str = "DELETE _plugins/_security/api/rolesmapping/{role}";
        let domain = Domain::from_props(prior)?;
        let Some(current) = security::get(&domain, API, id, GET_CALL).await? else { return Ok(()) };
        let previous = prior.get("previous_mapping").filter(|v| !v.is_null());
        if prior.contains_key("previous_mapping") || previous.is_some() {
            let left = put_merged_preview(&current, &added(prior));
            if previous.is_some() || left {
                put_merged(&domain, id, Some(&current), &added(prior), &Attrs::new()).await?;
                return Ok(());
            }
        }
        security::delete(&domain, API, id, CALL).await
    }
}

/// Whether members would be left once `drop` is taken out of `current`.
fn put_merged_preview(current: &Json, drop: &Attrs) -> bool {
    MEMBERS.iter().any(|k| {
        let gone = strings(drop.get(*k));
        json_strings(current.get(*k)).iter().any(|m| !gone.contains(m))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_the_members_found_and_takes_out_only_standbys() {
        let prod = vec!["admin".to_string(), "mm-prod".to_string()];
        let merged = merge(prod.clone(), &[], &["replication".to_string(), "admin".to_string()]);
        assert_eq!(merged, ["admin", "mm-prod", "replication"]);
        let prior: Attrs = [
            ("users".to_string(), Value::List(vec![Value::str("replication"), Value::str("admin")])),
            (
                "previous_mapping".to_string(),
                Value::from_json(&json!({"users": ["admin", "mm-prod"], "backend_roles": []})),
            ),
        ]
        .into();
        let mine = added(&prior);
        assert_eq!(strings(mine.get("users")), ["replication"], "admin was there before standby");
        assert_eq!(merge(merged, &strings(mine.get("users")), &[]), prod);
        let current = json!({"users": ["replication"]});
        assert!(!put_merged_preview(&current, &mine), "nothing left: the mapping was standby's");
    }
}
