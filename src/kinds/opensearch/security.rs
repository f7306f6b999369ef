//! The security plugin's REST API (`_plugins/_security/api/...`), shared by
//! the fine-grained access control kinds: `opensearch_internal_user`,
//! `opensearch_role`, `opensearch_role_mapping` (and, for its connection
//! properties, `opensearch_audit_config`). They sign in as the domain's
//! master user (only it may manage security on OpenSearch Service).

use super::rest::Domain;
use super::{DOC_ENDPOINT_URL, carry_connection};
use crate::kinds::KindError;
use crate::kinds::schema::{Prop, Type};
use crate::value::{Attrs, Value};
use hyper::{Method, StatusCode};
use serde_json::Value as Json;

// Properties every security kind starts with.
pub(crate) const P_ENDPOINT: Prop = Prop::required(
    "domain_endpoint",
    Type::String,
    "The domain's endpoint host name (`${aws_opensearch_domain.<name>.endpoint}`).",
)
.force_new();
pub(crate) const P_ENDPOINT_URL: Prop = Prop::optional("endpoint_url", Type::String, DOC_ENDPOINT_URL);
pub(crate) const P_MASTER: Prop =
    Prop::required("master_user_name", Type::String, "The domain's master user (it manages security).");
pub(crate) const P_MASTER_PASSWORD: Prop =
    Prop::required("master_user_password", Type::String, "Its password, from a sensitive variable.").sensitive();

fn path(api: &str, name: &str) -> String {
    format!("/_plugins/_security/api/{api}/{name}")
}

/// The object `name` as the plugin reports it; `None` when absent.
pub(crate) async fn get(domain: &Domain, api: &str, name: &str, call: &'static str) -> Result<Option<Json>, KindError> {
    let a = domain.send(call, Method::GET, &path(api, name), None).await?;
    if a.status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !a.ok() {
        return Err(a.into_error(call));
    }
    Ok(a.body.get(name).cloned())
}

/// Creates or replaces `name`.
pub(crate) async fn put(
    domain: &Domain,
    api: &str,
    name: &str,
    body: Json,
    call: &'static str,
) -> Result<(), KindError> {
    let a = domain.send_idempotent(call, Method::PUT, &path(api, name), Some(body)).await?;
    if a.ok() { Ok(()) } else { Err(a.into_error(call)) }
}

/// Deletes `name`; already gone is fine.
pub(crate) async fn delete(domain: &Domain, api: &str, name: &str, call: &'static str) -> Result<(), KindError> {
    let a = domain.send_idempotent(call, Method::DELETE, &path(api, name), None).await?;
    if a.ok() || a.status == StatusCode::NOT_FOUND { Ok(()) } else { Err(a.into_error(call)) }
}

/// The refusal for a create whose name is taken on the domain: the plugin's
/// PUT "creates or replaces" (documentation-website, _security/access-control/api.md),
/// so writing it would replace what production has.
pub(crate) fn taken(what: &str, name: &str, replaced: &str) -> String {
    format!(
        "{what} `{name}` already exists on the domain, and creating it would replace it ({replaced}): import it \
         (`imports:` or `standby import ADDRESS {name}`), or give standby's another name"
    )
}

/// A create that finds its name taken refuses, before any write.
pub(crate) async fn refuse_taken(
    domain: &Domain,
    api: &str,
    name: &str,
    call: &'static str,
    what: &str,
    replaced: &str,
) -> Result<(), KindError> {
    match get(domain, api, name, call).await? {
        Some(_) => Err(KindError::Failed(taken(what, name, replaced))),
        None => Ok(()),
    }
}

/// The domain a security resource acts on, by its endpoint.
pub(crate) fn on_domain(props: &Attrs) -> Option<crate::kinds::Target> {
    crate::kinds::aws::get_str(props, "domain_endpoint")
        .map(|e| crate::kinds::Target::new("aws_opensearch_domain", "endpoint", e))
}

/// The master user's password the REST kinds sign in with is a credential,
/// not a property of the object: one request signed in with it (`GET
/// _plugins/_security/authinfo`, the plugin's "who am I") says whether it is
/// the one in use, so an import does not warn that apply overwrites it.
pub(crate) async fn verify_master(known: &Attrs) -> Result<Vec<(String, bool)>, KindError> {
    if !Domain::has_credentials(known) || crate::kinds::aws::get_str(known, "domain_endpoint").is_none_or(str::is_empty)
    {
        return Ok(Vec::new());
    }
    let domain = Domain::from_props(known)?;
    const CALL: &str = "GET _plugins/_security/authinfo";
    let a = domain.send(CALL, hyper::Method::GET, "/_plugins/_security/authinfo", None).await?;
    match a.status {
        hyper::StatusCode::UNAUTHORIZED => Ok(vec![("master_user_password".into(), false)]),
        s if s.is_success() => Ok(vec![("master_user_password".into(), true)]),
        _ => Err(a.into_error(CALL)),
    }
}

/// A list of strings from the plugin's answer.
pub(crate) fn strings(v: Option<&Json>) -> Value {
    let items = v.and_then(Json::as_array).map(|a| a.iter().filter_map(Json::as_str).map(Value::str).collect());
    Value::List(items.unwrap_or_default())
}

/// A property as a JSON list (empty when unset).
pub(crate) fn list_json(p: &Attrs, k: &str) -> Json {
    match p.get(k) {
        Some(v @ Value::List(_)) => v.to_json(),
        _ => Json::Array(Vec::new()),
    }
}

/// `desired` with what it leaves unset (of `props`) taken from `prior`,
/// what the domain reports: the plugin's PUT replaces the whole object.
pub(crate) fn as_found(desired: &Attrs, prior: &Attrs, props: &[&str]) -> Attrs {
    let mut out = desired.clone();
    for k in props {
        if out.get(*k).is_none_or(Value::is_null)
            && let Some(v) = prior.get(*k)
        {
            out.insert(k.to_string(), v.clone());
        }
    }
    out
}

/// A property as a JSON object (empty when unset).
pub(crate) fn map_json(p: &Attrs, k: &str) -> Json {
    match p.get(k) {
        Some(v @ Value::Map(_)) => v.to_json(),
        _ => Json::Object(Default::default()),
    }
}

/// The attributes every read starts from: connection settings and the name.
pub(crate) fn base(prior: &Attrs, name_prop: &str, name: &str) -> Attrs {
    let mut a = Attrs::new();
    carry_connection(prior, &mut a);
    a.insert(name_prop.to_string(), Value::str(name));
    a
}
