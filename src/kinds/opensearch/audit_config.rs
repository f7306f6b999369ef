//! `opensearch_audit_config`: audit logging in a domain's security plugin
//! (fine-grained access control). Publishing AUDIT_LOGS to CloudWatch Logs
//! (`aws_opensearch_domain.log_publishing_options`) only opens the pipe: the
//! plugin writes nothing until its own audit configuration is enabled
//! (AWS, "Monitoring audit logs in Amazon OpenSearch Service": a two-step
//! process). One per domain: id = the domain endpoint.
//!
//! The security plugin's audit API:
//! - `GET _plugins/_security/api/audit` answers `{"_readonly": [paths],
//!   "config": {"enabled", "audit": {...}, "compliance": {...}}}`;
//! - `PUT _plugins/_security/api/audit/config` replaces the whole config.
//!   A field listed in `_readonly` (JSON pointers, e.g.
//!   `/compliance/internal_config`) must be sent unchanged, or the plugin
//!   answers 409 "Attempted to update read-only property.".
//!
//! Flow: a write reads the config first and changes only the properties
//! the configuration sets; every other field (read-only or not managed
//! here) is sent back as the domain has it, so nothing is reset behind the
//! plan's back. On a domain standby made, unset properties take the defaults
//! below; on an adopted domain (production) an unset property is as found
//! (production's tuning stays). The PUT replaces a whole object, so repeating it is safe
//! (retried like a read). What the managed fields were before standby is
//! read before the create and kept (`previous_config`, written ahead);
//! destroy puts them back (audit logging as it was: on or off), the logs
//! already in CloudWatch stay.

use super::rest::{Answer, Domain};
use super::security::{self, P_ENDPOINT, P_ENDPOINT_URL, P_MASTER, P_MASTER_PASSWORD};
use crate::kinds::aws::{get_str, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use hyper::Method;
use serde_json::{Value as Json, json};

pub struct OpenSearchAuditConfig;

const GET_PATH: &str = "/_plugins/_security/api/audit";
const PUT_PATH: &str = "/_plugins/_security/api/audit/config";
const GET_CALL: &str = "GET _plugins/_security/api/audit";
const PUT_CALL: &str = "PUT _plugins/_security/api/audit/config";

/// Categories the plugin accepts as disabled on each layer (its
/// AuditApiAction validator; anything else is refused).
pub const REST_CATEGORIES: &[&str] =
    &["AUTHENTICATED", "BAD_HEADERS", "FAILED_LOGIN", "GRANTED_PRIVILEGES", "MISSING_PRIVILEGES", "SSL_EXCEPTION"];
pub const TRANSPORT_CATEGORIES: &[&str] = &[
    "AUTHENTICATED",
    "BAD_HEADERS",
    "FAILED_LOGIN",
    "GRANTED_PRIVILEGES",
    "INDEX_EVENT",
    "MISSING_PRIVILEGES",
    "OPENDISTRO_SECURITY_INDEX_ATTEMPT",
    "SSL_EXCEPTION",
];
/// AWS: "We highly recommend leaving GRANTED_PRIVILEGES and AUTHENTICATED as
/// excluded categories. Otherwise, these categories are logged for every
/// valid request to the cluster."
const DEFAULT_DISABLED: &[&str] = &["AUTHENTICATED", "GRANTED_PRIVILEGES"];
/// Dashboards' own server user: its polling would fill the logs.
const DEFAULT_IGNORE_USERS: &[&str] = &["kibanaserver"];

/// A managed property: its name, where it sits in the plugin's config, and
/// its default.
struct Field {
    prop: &'static str,
    pointer: &'static str,
    default: fn() -> Json,
}

const FIELDS: &[Field] = &[
    Field { prop: "enabled", pointer: "/enabled", default: || json!(true) },
    Field {
        prop: "audit_rest_disabled_categories",
        pointer: "/audit/disabled_rest_categories",
        default: || json!(DEFAULT_DISABLED),
    },
    Field {
        prop: "audit_transport_disabled_categories",
        pointer: "/audit/disabled_transport_categories",
        default: || json!(DEFAULT_DISABLED),
    },
    Field { prop: "audit_log_request_body", pointer: "/audit/log_request_body", default: || json!(false) },
    Field { prop: "audit_ignore_users", pointer: "/audit/ignore_users", default: || json!(DEFAULT_IGNORE_USERS) },
    Field { prop: "compliance_enabled", pointer: "/compliance/enabled", default: || json!(true) },
    Field {
        prop: "compliance_write_watched_indices",
        pointer: "/compliance/write_watched_indices",
        default: || json!([]),
    },
];

static SCHEMA: Schema = Schema {
    props: &[
        P_ENDPOINT,
        P_ENDPOINT_URL,
        Prop {
            doc: "A user mapped to `security_manager` (the domain's master user is): AWS requires it for the audit API.",
            ..P_MASTER
        },
        P_MASTER_PASSWORD,
        Prop::optional(
            "enabled",
            Type::Bool,
            "Audit logging on (default true). Publishing AUDIT_LOGS alone writes nothing until this is on. Every \
             default here is for a domain standby made; on an adopted domain an unset property is as the domain has \
             it (as found).",
        )
        .or_computed(),
        Prop::optional(
            "audit_rest_disabled_categories",
            Type::List(&Type::String),
            "Categories not logged for REST requests (default AUTHENTICATED and GRANTED_PRIVILEGES, as AWS \
             recommends: otherwise every valid request is logged). Allowed: AUTHENTICATED, BAD_HEADERS, \
             FAILED_LOGIN, GRANTED_PRIVILEGES, MISSING_PRIVILEGES, SSL_EXCEPTION.",
        )
        .or_computed(),
        Prop::optional(
            "audit_transport_disabled_categories",
            Type::List(&Type::String),
            "Categories not logged between nodes (default AUTHENTICATED and GRANTED_PRIVILEGES). Allowed: the REST \
             ones, INDEX_EVENT and OPENDISTRO_SECURITY_INDEX_ATTEMPT.",
        )
        .or_computed(),
        Prop::optional(
            "audit_log_request_body",
            Type::Bool,
            "Log request bodies (default false): bodies can hold secrets (passwords sent to the security API, \
             documents), which would then sit in CloudWatch Logs.",
        )
        .or_computed(),
        Prop::optional(
            "audit_ignore_users",
            Type::List(&Type::String),
            "Users whose requests are not logged (default [kibanaserver], Dashboards' own user; wildcards allowed).",
        )
        .or_computed(),
        Prop::optional(
            "compliance_enabled",
            Type::Bool,
            "Compliance logging (default true): reads and writes of the security configuration, and of the watched \
             indices below.",
        )
        .or_computed(),
        Prop::optional(
            "compliance_write_watched_indices",
            Type::List(&Type::String),
            "Index patterns whose document writes are logged (default none: one log line per write can be many).",
        )
        .or_computed(),
        Prop::computed(
            "previous_config",
            Type::Json,
            "The managed fields as the domain had them before standby (read before the create); destroy puts them \
             back.",
        ),
    ],
};

// ------------------------------------------------------------- the wire ---

/// The plugin's config and its read-only paths.
struct Current {
    config: Json,
    readonly: Vec<String>,
}

async fn fetch(domain: &Domain, user: &str) -> Result<Current, KindError> {
    let a = domain.send(GET_CALL, Method::GET, GET_PATH, None).await?;
    if !a.ok() {
        return Err(refusal(a, GET_CALL, user));
    }
    let config = a.body.get("config").cloned().filter(Json::is_object).ok_or_else(|| KindError::Aws {
        call: GET_CALL,
        code: "UnexpectedAnswer".into(),
        message: format!("no `config` object in the answer: {}", a.body),
        hint: None,
    })?;
    let readonly = a
        .body
        .get("_readonly")
        .and_then(Json::as_array)
        .map(|r| r.iter().filter_map(Json::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    Ok(Current { config, readonly })
}

/// The config to PUT: what the domain has, with the managed fields the
/// configuration sets as desired (the others as found).
fn merged(current: &Current, desired: &Attrs) -> Result<Json, KindError> {
    let mut body = current.config.clone();
    for f in FIELDS {
        let Some(want) = wanted(desired, f) else { continue };
        let now = body.pointer(f.pointer);
        if current.readonly.iter().any(|r| r == f.pointer) && now != Some(&want) {
            return Err(KindError::Failed(format!(
                "`{}` is read-only on this domain (the plugin lists {} in `_readonly`): it is {} there; set it to \
                 that or leave it out",
                f.prop,
                f.pointer,
                now.map_or("unset".to_string(), Json::to_string),
            )));
        }
        set_pointer(&mut body, f.pointer, want);
    }
    Ok(body)
}

/// The desired value of a field; `None` when not set (as found).
fn wanted(desired: &Attrs, f: &Field) -> Option<Json> {
    match desired.get(f.prop) {
        None | Some(Value::Null) | Some(Value::Unknown) => None,
        Some(v) => Some(v.to_json()),
    }
}

fn set_pointer(doc: &mut Json, pointer: &str, v: Json) {
    let mut at = doc;
    let mut keys = pointer.trim_start_matches('/').split('/').peekable();
    while let Some(k) = keys.next() {
        if !at.is_object() {
            *at = json!({});
        }
        let obj = at.as_object_mut().expect("made an object above");
        if keys.peek().is_none() {
            obj.insert(k.to_string(), v);
            return;
        }
        at = obj.entry(k.to_string()).or_insert_with(|| json!({}));
    }
}

async fn put(domain: &Domain, body: Json, user: &str) -> Result<(), KindError> {
    let a = domain.send_idempotent(PUT_CALL, Method::PUT, PUT_PATH, Some(body)).await?;
    if a.ok() { Ok(()) } else { Err(refusal(a, PUT_CALL, user)) }
}

/// The plugin's refusals as typed errors, with what to do.
fn refusal(a: Answer, call: &'static str, user: &str) -> KindError {
    let status = a.status.as_u16();
    // The security API answers `{"status": "error"|"FORBIDDEN"|..., "reason"|"message": ...}`
    // plus details (`invalid_keys`, wrong types); the rest of OpenSearch its error envelope.
    let plugin_text = a.body.get("reason").or_else(|| a.body.get("message")).and_then(Json::as_str);
    let Some(text) = plugin_text.filter(|_| a.error_type().is_none()) else {
        return match (status, a.error_type()) {
            (403, Some("security_exception")) => forbidden(call, user, a.reason()),
            _ => a.into_error(call),
        };
    };
    let details: Vec<String> = a
        .body
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !["status", "reason", "message"].contains(&k.as_str()))
        .map(|(k, v)| format!("{k}: {}", v.get("keys").and_then(Json::as_str).map_or(v.to_string(), str::to_string)))
        .collect();
    let message = if details.is_empty() { text.to_string() } else { format!("{text} ({})", details.join("; ")) };
    match status {
        403 => forbidden(call, user, message),
        409 => KindError::Aws {
            call,
            code: "CONFLICT".into(),
            message,
            hint: Some(
                "a read-only field of the audit config was sent changed; standby sends them as read, so the \
                 domain's config changed meanwhile: run the plan again"
                    .into(),
            ),
        },
        400 => KindError::Aws {
            call,
            code: "BadRequest".into(),
            message,
            hint: Some(
                "the security plugin refused the audit config: check the category names and lists (see `standby \
                 schema`)"
                    .into(),
            ),
        },
        501 => KindError::Aws {
            call,
            code: "NotImplemented".into(),
            message,
            hint: Some(
                "this domain has no configurable audit logging: it needs fine-grained access control (advanced \
                 security options) and OpenSearch 1.0+ / Elasticsearch 7.9+"
                    .into(),
            ),
        },
        _ => KindError::Aws { call, code: format!("HTTP {status}"), message, hint: None },
    }
}

fn forbidden(call: &'static str, user: &str, message: String) -> KindError {
    KindError::Aws {
        call,
        code: "FORBIDDEN".into(),
        message,
        hint: Some(format!(
            "user `{user}` may not use the security plugin's audit API ({call}): map it to the `security_manager` \
             role (or `all_access`), as AWS requires for audit logs, or sign in as the domain's master user"
        )),
    }
}

// ---------------------------------------------------------- the kind -----

/// The managed properties as the plugin reports them.
fn observed(config: &Json, prior: &Attrs, endpoint: &str) -> Attrs {
    let mut a = Attrs::new();
    super::carry_connection(prior, &mut a);
    a.insert("domain_endpoint".into(), Value::str(endpoint));
    for f in FIELDS {
        let v = config.pointer(f.pointer).cloned().unwrap_or_else(f.default);
        a.insert(f.prop.into(), Value::from_json(&v));
    }
    a
}

/// The fields the configuration sets, as `config` has them (by JSON pointer).
fn previous(config: &Json, desired: &Attrs) -> Value {
    let found: serde_json::Map<String, Json> = FIELDS
        .iter()
        .filter(|f| wanted(desired, f).is_some())
        .filter_map(|f| Some((f.pointer.to_string(), config.pointer(f.pointer)?.clone())))
        .collect();
    Value::from_json(&Json::Object(found))
}

fn user(p: &Attrs) -> &str {
    get_str(p, "master_user_name").unwrap_or("?")
}

async fn write(desired: &Attrs) -> Result<(), KindError> {
    let domain = Domain::from_props(desired)?;
    let current = fetch(&domain, user(desired)).await?;
    let body = merged(&current, desired)?;
    if body == current.config {
        return Ok(());
    }
    put(&domain, body, user(desired)).await
}

fn check_categories(props: &Attrs, prop: &str, allowed: &[&str], out: &mut Vec<PropProblem>) {
    let Some(Value::List(items)) = props.get(prop) else { return };
    for item in items {
        if let Some(c) = item.as_str()
            && !allowed.contains(&c)
        {
            out.push(PropProblem::error(
                prop,
                format!("unknown audit category {c:?} for this layer; allowed: {}", allowed.join(", ")),
            ));
        }
    }
}

/// Lists compared as sets, in one order.
fn sorted(v: Value) -> Value {
    match v {
        Value::List(mut l) => {
            l.sort_by_key(|x| x.as_str().unwrap_or_default().to_string());
            l.dedup();
            Value::List(l)
        }
        other => other,
    }
}

#[async_trait]
impl Kind for OpenSearchAuditConfig {
    /// Reached through its domain's REST API: an import needs the
    /// domain's master user from the configuration.
    fn import_reads_configuration(&self) -> bool {
        true
    }

    fn type_name(&self) -> &'static str {
        "opensearch_audit_config"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        out.extend(super::rest::plain_http(props));
        check_categories(props, "audit_rest_disabled_categories", REST_CATEGORIES, &mut out);
        check_categories(props, "audit_transport_disabled_categories", TRANSPORT_CATEGORIES, &mut out);
        if props.get("audit_log_request_body").and_then(Value::as_bool) == Some(true) {
            out.push(PropProblem::warning(
                "audit_log_request_body",
                "request bodies go to the audit log as sent: passwords set through the security API and document \
                 contents land in CloudWatch Logs",
            ));
        }
        out
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match FIELDS.iter().find(|f| f.prop == prop) {
            Some(_) => sorted(v.clone()),
            None => v.clone(),
        }
    }

    fn kept(&self) -> &'static [&'static str] {
        &["previous_config"]
    }

    fn acts_on(&self, props: &Attrs) -> Option<crate::kinds::Target> {
        super::security::on_domain(props)
    }

    /// On a domain standby made, unset properties plan as their defaults, so
    /// the plan shows what is sent.
    fn defaults_off_production(&self, planned: &mut Attrs) {
        for f in FIELDS {
            if planned.get(f.prop).is_none_or(Value::is_null) {
                planned.insert(f.prop.into(), Value::from_json(&(f.default)()));
            }
        }
    }

    fn production_effect(
        &self,
        before: Option<&Attrs>,
        after: Option<&Attrs>,
        changed: &std::collections::BTreeSet<String>,
    ) -> Option<String> {
        let set = |a: &Attrs, keys: &mut dyn Iterator<Item = &str>| -> Vec<String> {
            keys.filter_map(|k| a.get(k).filter(|v| !v.is_null() && !v.has_unknown()).map(|v| format!("{k}={v}")))
                .collect()
        };
        Some(match (before, after) {
            // Nothing set: everything as found, nothing changes there.
            (None, Some(a)) if set(a, &mut FIELDS.iter().map(|f| f.prop)).is_empty() => return None,
            (None, Some(a)) => format!(
                "sets the domain's audit logging: {} (the other fields stay as the domain has them); destroy puts \
                 back what it had",
                set(a, &mut FIELDS.iter().map(|f| f.prop)).join(", ")
            ),
            (Some(_), None) => "puts the domain's audit logging back as it was before standby".into(),
            (Some(_), Some(a)) => {
                format!("audit logging: {}", set(a, &mut changed.iter().map(String::as_str)).join(", "))
            }
            _ => return None,
        })
    }

    fn delete_effect(&self, prior: &Attrs) -> Option<String> {
        Some(match prior.get("previous_config").filter(|v| !v.is_null()) {
            Some(p) if p.to_json().as_object().is_some_and(|o| o.is_empty()) => return None,
            Some(p) => format!(
                "puts the audit configuration back as the domain had it before standby ({}{}); the audit logs \
                 already in CloudWatch Logs are kept",
                if p.to_json().get("/enabled") == Some(&json!(false)) { "audit logging is switched off, " } else { "" },
                p.to_json()
            ),
            None => "audit logging is switched off on the domain (PUT with enabled: false); the config stays, and the \
                     audit logs already in CloudWatch Logs are kept"
                .into(),
        })
    }

    /// The managed fields the configuration sets, as the domain has them:
    /// written ahead as `previous_config`. Only those: destroy gives back
    /// what standby replaced, never a field production tuned since.
    async fn before_create(&self, _cx: &Ctx<'_>, desired: &Attrs) -> Result<Attrs, KindError> {
        let domain = Domain::from_props(desired)?;
        let current = fetch(&domain, user(desired)).await?;
        Ok([("previous_config".to_string(), previous(&current.config, desired))].into())
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "domain_endpoint").map(str::to_string)
    }

    async fn create(&self, _cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        write(desired).await?;
        Ok(Created { id: req_str(desired, "domain_endpoint")?.to_string(), attrs: desired.clone() })
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

    // read: 1 call (GET _plugins/_security/api/audit). Always present on a
    // domain with fine-grained access control: switched off shows as
    // `enabled: false`, a change the next apply makes.
    async fn read(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        if !Domain::has_credentials(prior) {
            return Ok(Some(prior.clone()));
        }
        let mut props = prior.clone();
        props.insert("domain_endpoint".into(), Value::str(id));
        let domain = Domain::from_props(&props)?;
        let current = fetch(&domain, user(&props)).await?;
        Ok(Some(observed(&current.config, prior, id)))
    }

    async fn update(&self, _cx: &Ctx<'_>, _id: &str, _prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        write(desired).await
    }

    async fn delete(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        let mut props = prior.clone();
        props.insert("domain_endpoint".into(), Value::str(id));
        let domain = Domain::from_props(&props)?;
        let current = fetch(&domain, user(&props)).await?;
        let mut body = current.config.clone();
        match prior.get("previous_config").filter(|v| !v.is_null()).map(Value::to_json) {
            // What the domain had before standby, field by field (a read-only
            // one is sent as the domain has it).
            Some(Json::Object(found)) => {
                for (pointer, v) in found {
                    if !current.readonly.contains(&pointer) {
                        set_pointer(&mut body, &pointer, v);
                    }
                }
            }
            _ => set_pointer(&mut body, "/enabled", json!(false)),
        }
        if body == current.config {
            return Ok(());
        }
        put(&domain, body, user(&props)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::StatusCode;

    fn attrs(pairs: &[(&str, Value)]) -> Attrs {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn writes_keep_what_is_not_managed_and_refuse_read_only_changes() {
        let current = Current {
            config: json!({"enabled": false, "audit": {"enable_rest": true, "ignore_requests": ["/_cluster/health"],
                "disabled_rest_categories": ["AUTHENTICATED"]},
                "compliance": {"internal_config": true, "external_config": false}}),
            readonly: vec!["/compliance/internal_config".into(), "/compliance/enabled".into()],
        };
        // compliance_enabled set: read-only here, and unset there.
        let desired = attrs(&[("enabled", Value::Bool(true)), ("compliance_enabled", Value::Bool(true))]);
        let err = merged(&current, &desired).unwrap_err().to_string();
        assert!(err.contains("`compliance_enabled` is read-only") && err.contains("unset there"), "{err}");

        // What the configuration leaves unset stays as the domain has it.
        let desired = attrs(&[("enabled", Value::Bool(true))]);
        let body = merged(&current, &desired).unwrap();
        assert_eq!(body["enabled"], json!(true));
        assert_eq!(body["audit"]["ignore_requests"], json!(["/_cluster/health"]));
        assert_eq!(body["audit"]["enable_rest"], json!(true));
        assert_eq!(body["audit"]["disabled_rest_categories"], json!(["AUTHENTICATED"]), "production's tuning stays");
        assert!(body["audit"].get("log_request_body").is_none() && body["audit"].get("ignore_users").is_none());
        assert_eq!(body["compliance"], current.config["compliance"]);
    }

    #[test]
    fn refusals_name_the_user_and_the_fix() {
        let a = Answer {
            status: StatusCode::FORBIDDEN,
            body: json!({"status": "FORBIDDEN", "message": "No permission to access REST API: User mm does not have \
                any access to endpoint AUDIT and method PUT"}),
        };
        let e = refusal(a, PUT_CALL, "mm").to_string();
        assert!(e.contains("FORBIDDEN") && e.contains("user `mm`") && e.contains("security_manager"), "{e}");
        let a = Answer {
            status: StatusCode::BAD_REQUEST,
            body: json!({"status": "error", "reason": "Invalid configuration", "invalid_keys": {"keys": "bogus"}}),
        };
        let e = refusal(a, PUT_CALL, "admin").to_string();
        assert!(e.contains("Invalid configuration (invalid_keys: bogus)"), "{e}");
        let a = Answer {
            status: StatusCode::CONFLICT,
            body: json!({"status": "CONFLICT", "message": "Attempted to \
            update read-only property."}),
        };
        assert!(refusal(a, PUT_CALL, "admin").to_string().contains("read-only"));
    }

    #[test]
    fn categories_are_checked_per_layer_and_request_bodies_warn() {
        let k = OpenSearchAuditConfig;
        let p = attrs(&[
            ("audit_rest_disabled_categories", Value::List(vec![Value::str("INDEX_EVENT")])),
            ("audit_transport_disabled_categories", Value::List(vec![Value::str("INDEX_EVENT")])),
            ("audit_log_request_body", Value::Bool(true)),
        ]);
        let problems = k.validate(&p);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(!problems[0].warning && problems[0].prop == "audit_rest_disabled_categories");
        assert!(problems[1].warning && problems[1].message.contains("passwords"));
        assert_eq!(k.normalize("audit_ignore_users", &Value::Null), Value::Null, "unset is as found");
    }
}
