//! `opensearch_internal_user`: a user of fine-grained access control's
//! internal user database (basic auth), e.g. Mattermost's own user or the
//! replication user (same name on both domains, replication.md).
//! id = user name.
//!
//! The password is never read back (the plugin reports an empty hash): it is
//! compared by hash like every sensitive value. A create never replaces a
//! user of the same name (the plugin's PUT "creates or replaces"): the plan
//! reads first and refuses; an imported user's password is verified with
//! one authenticated read, never sent to find out.

use super::rest::Domain;
use super::security::{self, P_ENDPOINT, P_ENDPOINT_URL, P_MASTER, P_MASTER_PASSWORD};
use crate::kinds::aws::{get_str, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::Attrs;
use async_trait::async_trait;
use serde_json::json;

pub struct OpenSearchInternalUser;

const API: &str = "internalusers";

static SCHEMA: Schema = Schema {
    props: &[
        P_ENDPOINT,
        P_ENDPOINT_URL,
        P_MASTER,
        P_MASTER_PASSWORD,
        Prop::required("user_name", Type::String, "The user's name.").force_new(),
        Prop::required(
            "password",
            Type::String,
            "Its password, from a sensitive variable (8+ characters: upper and lower case, a digit, a special \
             character, as OpenSearch Service requires).",
        )
        .sensitive(),
        Prop::optional(
            "backend_roles",
            Type::List(&Type::String),
            "Backend roles (default none; on an adopted user or domain, unset: as found).",
        )
        .or_computed(),
        Prop::optional(
            "attributes",
            Type::Map(&Type::String),
            "Custom attributes, e.g. for document-level security (default none; on an adopted user or domain, \
             unset: as found).",
        )
        .or_computed(),
        Prop::optional(
            "opendistro_security_roles",
            Type::List(&Type::String),
            "Security roles given to the user directly, besides role mappings (default none; on an adopted user or \
             domain, unset: as found).",
        )
        .or_computed(),
        crate::kinds::schema::P_ALLOW_DISRUPTION,
    ],
};

async fn put(p: &Attrs) -> Result<(), KindError> {
    const CALL: &str = "PUT _plugins/_security/api/internalusers/{name}";
    let domain = Domain::from_props(p)?;
    // The plugin's PUT replaces the whole user: every field is sent, an
    // adopted user's unset ones as found (read from production).
    let body = json!({
        "password": req_str(p, "password")?,
        "backend_roles": security::list_json(p, "backend_roles"),
        "attributes": security::map_json(p, "attributes"),
        "opendistro_security_roles": security::list_json(p, "opendistro_security_roles"),
    });
    security::put(&domain, API, req_str(p, "user_name")?, body, CALL).await
}

#[async_trait]
impl Kind for OpenSearchInternalUser {
    /// Reached through its domain's REST API: an import needs the
    /// domain's endpoint from the configuration.
    fn import_reads_configuration(&self) -> bool {
        true
    }

    fn type_name(&self) -> &'static str {
        "opensearch_internal_user"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        out.extend(super::rest::plain_http(props));
        if let (Some(u), Some(m)) = (get_str(props, "user_name"), get_str(props, "master_user_name"))
            && u == m
        {
            out.push(PropProblem::error(
                "user_name",
                "this is the master user: OpenSearch Service manages it (aws_opensearch_domain's master_user_*)",
            ));
        }
        if let Some(p) = get_str(props, "password")
            && (p.chars().count() < 8
                || !p.chars().any(|c| c.is_ascii_uppercase())
                || !p.chars().any(|c| c.is_ascii_lowercase())
                || !p.chars().any(|c| c.is_ascii_digit())
                || p.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            out.push(PropProblem::error(
                "password",
                "the password must have 8 or more characters, with an upper-case letter, a lower-case letter, a \
                 digit and a special character (the value is not shown)",
            ));
        }
        out
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "user_name").map(str::to_string)
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
        let name = after.or(before).and_then(|a| get_str(a, "user_name")).unwrap_or("?");
        Some(match (before, after) {
            (None, Some(_)) => format!(
                "creates internal user `{name}` (the plan read first: none of that name exists); destroy deletes it"
            ),
            (Some(_), None) => format!("deletes internal user `{name}`, which standby created"),
            _ => format!(
                "changes internal user `{name}`: {}",
                changed.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
            ),
        })
    }

    async fn existing(&self, _cx: &Ctx<'_>, props: &Attrs) -> Result<crate::kinds::Existing, KindError> {
        const CALL: &str = "GET _plugins/_security/api/internalusers/{name}";
        let (Ok(domain), Some(name)) = (Domain::from_props(props), get_str(props, "user_name")) else {
            return Ok(crate::kinds::Existing::Clear);
        };
        Ok(crate::kinds::Existing::from(
            security::get(&domain, API, name, CALL)
                .await?
                .map(|_| security::taken("internal user", name, "its password, backend roles and attributes")),
        ))
    }

    /// An imported user's password: one request signed in as it (`GET
    /// _plugins/_security/authinfo`, the plugin's "who am I"); and the
    /// master user's standby signs in with ([`security::verify_master`]).
    async fn verify_secrets(
        &self,
        _cx: &Ctx<'_>,
        known: &Attrs,
        _observed: &Attrs,
    ) -> Result<Vec<(String, bool)>, KindError> {
        let mut checked = security::verify_master(known).await?;
        let (Some(user), Some(password)) = (get_str(known, "user_name"), get_str(known, "password")) else {
            return Ok(checked);
        };
        let mut as_user = known.clone();
        as_user.insert("master_user_name".into(), crate::value::Value::str(user));
        as_user.insert("master_user_password".into(), crate::value::Value::str(password));
        let domain = Domain::from_props(&as_user)?;
        const CALL: &str = "GET _plugins/_security/authinfo";
        let a = domain.send(CALL, hyper::Method::GET, "/_plugins/_security/authinfo", None).await?;
        match a.status {
            hyper::StatusCode::UNAUTHORIZED => checked.push(("password".into(), false)),
            s if s.is_success() => checked.push(("password".into(), true)),
            _ => return Err(a.into_error(CALL)),
        }
        Ok(checked)
    }

    async fn create(&self, _cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        const CALL: &str = "GET _plugins/_security/api/internalusers/{name}";
        let name = req_str(desired, "user_name")?;
        let domain = Domain::from_props(desired)?;
        security::refuse_taken(&domain, API, name, CALL, "internal user", "its password, backend roles and attributes")
            .await?;
        put(desired).await?;
        Ok(Created { id: name.to_string(), attrs: desired.clone() })
    }

    // read: 1 call (GET _plugins/_security/api/internalusers/{name}).
    async fn read(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        if !Domain::has_credentials(prior) {
            return Ok(Some(prior.clone()));
        }
        const CALL: &str = "GET _plugins/_security/api/internalusers/{name}";
        let domain = Domain::from_props(prior)?;
        let Some(user) = security::get(&domain, API, id, CALL).await? else { return Ok(None) };
        let mut a = security::base(prior, "user_name", id);
        a.insert("backend_roles".into(), security::strings(user.get("backend_roles")));
        a.insert("opendistro_security_roles".into(), security::strings(user.get("opendistro_security_roles")));
        let attributes = user.get("attributes").cloned().unwrap_or_else(|| json!({}));
        a.insert("attributes".into(), crate::value::Value::from_json(&attributes));
        Ok(Some(a))
    }

    /// What the configuration leaves unset is sent as found (on production:
    /// off it, [`Kind::defaults_off_production`] set it), since the PUT replaces.
    async fn update(&self, _cx: &Ctx<'_>, _id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        put(&security::as_found(desired, prior, &["backend_roles", "attributes", "opendistro_security_roles"])).await
    }

    async fn delete(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        const CALL: &str = "DELETE _plugins/_security/api/internalusers/{name}";
        security::delete(&Domain::from_props(prior)?, API, id, CALL).await
    }

    fn normalize(&self, prop: &str, v: &crate::value::Value) -> crate::value::Value {
        use crate::value::Value;
        match (prop, v) {
            ("backend_roles" | "opendistro_security_roles", Value::Null) => Value::List(Vec::new()),
            ("attributes", Value::Null) => Value::Map(Default::default()),
            _ => v.clone(),
        }
    }

    fn kept(&self) -> &'static [&'static str] {
        &["allow_disruption"]
    }

    /// Off production, what the configuration leaves unset is none (as
    /// configured); on an adopted user or domain it is as found.
    fn defaults_off_production(&self, planned: &mut Attrs) {
        use crate::value::Value;
        for k in ["backend_roles", "opendistro_security_roles"] {
            planned.entry(k.to_string()).or_insert_with(|| Value::List(Vec::new()));
        }
        planned.entry("attributes".to_string()).or_insert_with(|| Value::Map(Default::default()));
    }

    /// An adopted user's password is changed only on purpose: whatever
    /// signs in with it (Mattermost, a replication connection) is cut off
    /// until given the new one. The domain's master password's rule.
    fn adoption_checks(
        &self,
        _aws: &Attrs,
        planned: &Attrs,
        changed: &std::collections::BTreeSet<String>,
        _importing: bool,
    ) -> Vec<PropProblem> {
        if !changed.contains("password") {
            return Vec::new();
        }
        let name = get_str(planned, "user_name").unwrap_or("?");
        vec![PropProblem::error(
            "password",
            format!(
                "this changes the password of adopted internal user `{name}`: whatever signs in as it (Mattermost, \
                 another client) is refused until it is given the new one"
            ),
        )]
    }
}
