//! `opensearch_autofollow_rule`: a replication plugin auto-follow rule on the
//! follower domain: every leader index matching `pattern` (and every future
//! one, e.g. Mattermost's daily `posts*` indices) is replicated.
//! id = `<leader_alias>:<rule_name>`.
//!
//! Applied through the follower domain's REST API with its master user (see
//! [`super::rest`] for how the endpoint is reached). Rules cannot be updated:
//! every property of the rule forces replacement. Deleting a rule does not
//! stop the replications it started.

use super::rest::Domain;
use super::{DOC_ENDPOINT, DOC_ENDPOINT_URL, carry_connection};
use crate::kinds::aws::{get_str, req_str};
use crate::kinds::rds::poll;
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use hyper::Method;
use serde_json::{Value as Json, json};

pub struct OpenSearchAutofollowRule;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("domain_endpoint", Type::String, DOC_ENDPOINT).force_new(),
        Prop::optional("endpoint_url", Type::String, DOC_ENDPOINT_URL),
        Prop::required("master_user_name", Type::String, "The follower domain's master user."),
        Prop::required("master_user_password", Type::String, "Its password, from a sensitive variable.").sensitive(),
        Prop::required(
            "leader_alias",
            Type::String,
            "The connection alias of the follower's outbound connection to the leader.",
        )
        .force_new(),
        Prop::required("rule_name", Type::String, "Name of the rule.").force_new(),
        Prop::required(
            "pattern",
            Type::String,
            "Leader index pattern, e.g. `posts*` (avoid `*`: it takes system indices).",
        )
        .force_new(),
        Prop::optional("leader_cluster_role", Type::String, "Security role used on the leader (e.g. `all_access`).")
            .force_new(),
        Prop::optional(
            "follower_cluster_role",
            Type::String,
            "Security role used on the follower (e.g. `all_access`).",
        )
        .force_new(),
    ],
};

/// `use_roles` for a request, when roles are given.
pub(crate) fn use_roles(p: &Attrs) -> Option<Json> {
    Some(json!({
        "leader_cluster_role": get_str(p, "leader_cluster_role")?,
        "follower_cluster_role": get_str(p, "follower_cluster_role")?,
    }))
}

/// Both roles or neither; neither is a warning (OpenSearch Service expects them).
pub(crate) fn roles_problem(p: &Attrs) -> Option<PropProblem> {
    match (p.contains_key("leader_cluster_role"), p.contains_key("follower_cluster_role")) {
        (true, false) => Some(PropProblem::error("leader_cluster_role", "give `follower_cluster_role` too")),
        (false, true) => Some(PropProblem::error("follower_cluster_role", "give `leader_cluster_role` too")),
        (false, false) => Some(PropProblem::warning(
            "leader_alias",
            "OpenSearch Service expects `use_roles` on start replication and auto-follow rules (AWS replication \
             guide): give `leader_cluster_role` and `follower_cluster_role` (cross_cluster_replication_leader_full_access \
             / cross_cluster_replication_follower_full_access for a replication user)",
        )),
        (true, true) => None,
    }
}

/// Roles are standby's to remember: the plugin does not report them.
pub(crate) fn carry_roles(prior: &Attrs, out: &mut Attrs) {
    for k in ["leader_cluster_role", "follower_cluster_role"] {
        if let Some(v) = prior.get(k) {
            out.insert(k.to_string(), v.clone());
        }
    }
}

/// The plugin's pattern rule; `None` when fine.
pub fn pattern_problem(pattern: &str) -> Option<String> {
    let why = if pattern.is_empty() {
        "must not be empty"
    } else if pattern.contains('#') || pattern.contains(':') {
        "must not contain '#' or ':'"
    } else if pattern.starts_with('_') || pattern.starts_with('-') {
        "must not start with '_' or '-'"
    } else {
        return None;
    };
    Some(format!("auto-follow pattern {pattern:?} {why}"))
}

/// The rule named `name` in `autofollow_stats`, if any.
async fn find(domain: &Domain, name: &str) -> Result<Option<Json>, KindError> {
    const CALL: &str = "GET _plugins/_replication/autofollow_stats";
    let a = domain.send(CALL, Method::GET, "/_plugins/_replication/autofollow_stats", None).await?;
    if !a.ok() {
        return Err(a.into_error(CALL));
    }
    let rules = a.body.get("autofollow_stats").and_then(Json::as_array).cloned().unwrap_or_default();
    Ok(rules.into_iter().find(|r| r.get("name").and_then(Json::as_str) == Some(name)))
}

fn split_id(id: &str) -> (&str, &str) {
    id.split_once(':').unwrap_or(("", id))
}

#[async_trait]
impl Kind for OpenSearchAutofollowRule {
    fn type_name(&self) -> &'static str {
        "opensearch_autofollow_rule"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out: Vec<PropProblem> = roles_problem(props).into_iter().collect();
        out.extend(super::rest::plain_http(props));
        match get_str(props, "pattern") {
            Some(p) if pattern_problem(p).is_some() => {
                out.push(PropProblem::error("pattern", pattern_problem(p).unwrap_or_default()));
            }
            Some("*") => out.push(PropProblem::warning(
                "pattern",
                "`*` also replicates hidden and system indices; name the indices (e.g. `posts*`)",
            )),
            _ => {}
        }
        out
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        Some(format!("{}:{}", get_str(desired, "leader_alias")?, get_str(desired, "rule_name")?))
    }

    async fn create(&self, _cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        const CALL: &str = "POST _plugins/_replication/_autofollow";
        let domain = Domain::from_props(desired)?;
        let (alias, name) = (req_str(desired, "leader_alias")?, req_str(desired, "rule_name")?);
        let mut body = json!({"leader_alias": alias, "name": name, "pattern": req_str(desired, "pattern")?});
        if let Some(roles) = use_roles(desired) {
            body["use_roles"] = roles;
        }
        // A create whose answer was lost may have made the rule: look first.
        let made = || -> std::pin::Pin<Box<dyn Future<Output = Result<bool, KindError>> + Send + '_>> {
            Box::pin(async { Ok(find(&domain, name).await?.is_some()) })
        };
        let a = domain
            .send_observed(CALL, Method::POST, "/_plugins/_replication/_autofollow", Some(body), Some(&made))
            .await?;
        if !a.ok() {
            return Err(a.into_error(CALL));
        }
        Ok(Created { id: format!("{alias}:{name}"), attrs: desired.clone() })
    }

    async fn wait_ready(&self, _cx: &Ctx<'_>, _id: &str) -> Result<(), KindError> {
        Ok(())
    }

    // read: 1 call (GET _plugins/_replication/autofollow_stats on the follower).
    fn import_reads_configuration(&self) -> bool {
        true
    }

    async fn read(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        // No longer declared, so no password: nothing can be observed; as recorded.
        if !Domain::has_credentials(prior) {
            return Ok(Some(prior.clone()));
        }
        let domain = Domain::from_props(prior)?;
        let (alias, name) = split_id(id);
        let Some(rule) = find(&domain, name).await? else { return Ok(None) };
        let mut a = Attrs::new();
        carry_connection(prior, &mut a);
        carry_roles(prior, &mut a);
        a.insert("leader_alias".into(), Value::str(alias));
        a.insert("rule_name".into(), Value::str(name));
        if let Some(p) = rule.get("pattern").and_then(Json::as_str) {
            a.insert("pattern".into(), Value::str(p));
        }
        Ok(Some(a))
    }

    /// Only standby's connection settings can change in place: nothing to send.
    async fn update(&self, _cx: &Ctx<'_>, _id: &str, _prior: &Attrs, _desired: &Attrs) -> Result<(), KindError> {
        Ok(())
    }

    async fn delete(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        const CALL: &str = "DELETE _plugins/_replication/_autofollow";
        let domain = Domain::from_props(prior)?;
        let (alias, name) = split_id(id);
        let body = json!({"leader_alias": alias, "name": name});
        let gone = || -> std::pin::Pin<Box<dyn Future<Output = Result<bool, KindError>> + Send + '_>> {
            Box::pin(async { Ok(find(&domain, name).await?.is_none()) })
        };
        let a = domain
            .send_observed(CALL, Method::DELETE, "/_plugins/_replication/_autofollow", Some(body), Some(&gone))
            .await?;
        if a.ok() || a.reason().contains("does not exist") {
            // Gone from the stats too before the domain is touched again.
            return poll(|| async { Ok(find(&domain, name).await?.is_none().then_some(())) }).await;
        }
        Err(a.into_error(CALL))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_follow_the_plugin_rules() {
        assert!(pattern_problem("posts*").is_none());
        for bad in ["", "a#b", "a:b", "_x", "-x"] {
            assert!(pattern_problem(bad).is_some(), "{bad}");
        }
        let p: Attrs = [("pattern".to_string(), Value::str("*"))].into();
        assert!(OpenSearchAutofollowRule.validate(&p)[0].warning);
    }

    #[test]
    fn roles_go_together() {
        let p: Attrs = [("leader_cluster_role".to_string(), Value::str("all_access"))].into();
        assert_eq!(OpenSearchAutofollowRule.validate(&p)[0].prop, "leader_cluster_role");
        assert_eq!(split_id("leader:posts"), ("leader", "posts"));
    }
}
