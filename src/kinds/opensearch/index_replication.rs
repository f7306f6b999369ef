//! `opensearch_index_replication`: one follower index replicating a leader
//! index through the cross-cluster connection `leader_alias`. id = follower
//! index name.
//!
//! Applied through the follower domain's REST API with its master user (see
//! [`super::rest`]). `status` is what the plugin reports, and what is wanted
//! (default `SYNCING`; `BOOTSTRAPPING` counts as syncing). A replication
//! found PAUSED, FAILED, or STOPPED outside standby therefore plans as an
//! update `status = "PAUSED" -> "SYNCING"`, with the plugin's reason in
//! `status_reason`; the update resumes it (PAUSED), or restarts it (FAILED,
//! STOPPED: stop, delete the follower's copy of the index, start again, which
//! copies the leader index anew).
//!
//! Destroy stops the replication; the follower index stays, as a normal
//! writable index (the plugin's `_stop`), and is not deleted.

use super::autofollow_rule::{carry_roles, roles_problem, use_roles};
use super::rest::{Answer, Domain};
use super::{DOC_ENDPOINT, DOC_ENDPOINT_URL, carry_connection};
use crate::kinds::aws::{get_str, req_str};
use crate::kinds::rds::poll;
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use hyper::{Method, StatusCode};
use serde_json::{Value as Json, json};
use std::time::Duration;

pub struct OpenSearchIndexReplication;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("domain_endpoint", Type::String, DOC_ENDPOINT).force_new(),
        Prop::optional("endpoint_url", Type::String, DOC_ENDPOINT_URL),
        Prop::required("master_user_name", Type::String, "The follower domain's master user."),
        Prop::required("master_user_password", Type::String, "Its password, from a sensitive variable.").sensitive(),
        Prop::required("follower_index", Type::String, "The index created on the follower.").force_new(),
        Prop::required(
            "leader_alias",
            Type::String,
            "The connection alias of the follower's outbound connection to the leader.",
        )
        .force_new(),
        Prop::optional("leader_index", Type::String, "The leader's index (default: `follower_index`).").force_new(),
        Prop::optional("leader_cluster_role", Type::String, "Security role used on the leader (e.g. `all_access`).")
            .force_new(),
        Prop::optional(
            "follower_cluster_role",
            Type::String,
            "Security role used on the follower (e.g. `all_access`).",
        )
        .force_new(),
        Prop::optional(
            "status",
            Type::String,
            "`SYNCING` (default) or `PAUSED`. Read back as the plugin reports it: BOOTSTRAPPING, SYNCING, PAUSED, \
             FAILED, or STOPPED (the index exists but no longer follows).",
        ),
        Prop::computed("status_reason", Type::String, "The plugin's reason for the status (why it paused or failed)."),
    ],
};

const SYNCING: &str = "SYNCING";
const WANTED: &[&str] = &[SYNCING, "PAUSED"];

fn path(index: &str, action: &str) -> String {
    format!("/_plugins/_replication/{index}/{action}")
}

/// Index names the way OpenSearch accepts them.
fn index_problem(name: &str) -> Option<String> {
    let bad = name.is_empty()
        || name != name.to_lowercase()
        || name.chars().any(|c| "\\/*?\"<>| ,#:".contains(c))
        || name.starts_with(['_', '-', '+'])
        || name == "."
        || name == "..";
    bad.then(|| format!("invalid index name {name:?}: lowercase, no spaces or \\/*?\"<>|,#:, not starting with _ - +"))
}

fn expect_ok(a: Answer, call: &'static str) -> Result<(), KindError> {
    if a.ok() { Ok(()) } else { Err(a.into_error(call)) }
}

/// `(status, reason, leader_alias, leader_index)`; `None` when no
/// replication runs for the index.
async fn status_of(domain: &Domain, index: &str) -> Result<Option<(String, String, Json)>, KindError> {
    const CALL: &str = "GET _plugins/_replication/{index}/_status";
    let a = domain.send(CALL, Method::GET, &path(index, "_status"), None).await?;
    if !a.ok() {
        return Err(a.into_error(CALL));
    }
    let status = a.body.get("status").and_then(Json::as_str).unwrap_or_default().to_string();
    if status.is_empty() || status == "REPLICATION NOT IN PROGRESS" {
        return Ok(None);
    }
    let reason = a.body.get("reason").and_then(Json::as_str).unwrap_or_default().to_string();
    Ok(Some((status, reason, a.body)))
}

async fn start(domain: &Domain, index: &str, p: &Attrs) -> Result<(), KindError> {
    const CALL: &str = "PUT _plugins/_replication/{index}/_start";
    let mut body = json!({
        "leader_alias": req_str(p, "leader_alias")?,
        "leader_index": get_str(p, "leader_index").unwrap_or(index),
    });
    if let Some(roles) = use_roles(p) {
        body["use_roles"] = roles;
    }
    // A start whose answer was lost may have begun replicating: look first.
    let started = || -> std::pin::Pin<Box<dyn Future<Output = Result<bool, KindError>> + Send + '_>> {
        Box::pin(async { Ok(status_of(domain, index).await?.is_some()) })
    };
    expect_ok(domain.send_observed(CALL, Method::PUT, &path(index, "_start"), Some(body), Some(&started)).await?, CALL)
}

async fn post(domain: &Domain, index: &str, action: &str, call: &'static str) -> Result<(), KindError> {
    // `_pause` / `_resume` whose answer was lost: done when the status says so.
    let want = if action == "_pause" { "PAUSED" } else { SYNCING };
    let done = || -> std::pin::Pin<Box<dyn Future<Output = Result<bool, KindError>> + Send + '_>> {
        Box::pin(async move {
            Ok(status_of(domain, index)
                .await?
                .is_some_and(|(s, _, _)| s == want || s == "BOOTSTRAPPING" && want == SYNCING))
        })
    };
    expect_ok(domain.send_observed(call, Method::POST, &path(index, action), Some(json!({})), Some(&done)).await?, call)
}

/// Whether a replication runs into `index` on this domain.
pub async fn is_follower(domain: &Domain, index: &str) -> Result<bool, KindError> {
    Ok(status_of(domain, index).await?.is_some())
}

/// Stops the replication of `index` (the plugin then makes it a normal,
/// writable index); `false` when none was running (the plugin refuses). The
/// leader need not be reachable: `_stop` only logs a failure to release it.
pub async fn stop(domain: &Domain, index: &str) -> Result<bool, KindError> {
    const CALL: &str = "POST _plugins/_replication/{index}/_stop";
    let a = domain
        .send_observed(CALL, Method::POST, &path(index, "_stop"), Some(json!({})), Some(&stopped(domain, index)))
        .await?;
    if a.ok() {
        return Ok(true);
    }
    if a.reason().contains("No replication in progress") || a.status == StatusCode::NOT_FOUND {
        return Ok(false);
    }
    Err(a.into_error(CALL))
}

/// Looks whether a `_stop` whose answer was lost stopped the replication.
fn stopped<'a>(
    domain: &'a Domain,
    index: &'a str,
) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = Result<bool, KindError>> + Send + 'a>> + Send + Sync + 'a {
    move || Box::pin(async move { Ok(status_of(domain, index).await?.is_none()) })
}

/// Stop (if still running), delete the follower's copy, start again.
async fn restart(domain: &Domain, index: &str, p: &Attrs) -> Result<(), KindError> {
    const STOP: &str = "POST _plugins/_replication/{index}/_stop";
    const DELETE: &str = "DELETE /{index}";
    let a = domain
        .send_observed(STOP, Method::POST, &path(index, "_stop"), Some(json!({})), Some(&stopped(domain, index)))
        .await?;
    if !a.ok() && !a.reason().contains("No replication in progress") {
        return Err(a.into_error(STOP));
    }
    // Deleting twice answers 404, which is accepted: safe to repeat.
    let gone = || -> std::pin::Pin<Box<dyn Future<Output = Result<bool, KindError>> + Send + '_>> {
        Box::pin(async move {
            Ok(domain.send("HEAD /{index}", Method::HEAD, &format!("/{index}"), None).await?.status
                == StatusCode::NOT_FOUND)
        })
    };
    let a = domain.send_observed(DELETE, Method::DELETE, &format!("/{index}"), None, Some(&gone)).await?;
    if !a.ok() && a.status != StatusCode::NOT_FOUND {
        return Err(a.into_error(DELETE));
    }
    start(domain, index, p).await
}

/// Waits (capped exponential backoff) until the replication is `want`
/// (BOOTSTRAPPING first, for a start); FAILED is an error with the plugin's
/// reason. `wait_ready` cannot do this: it has no credentials.
async fn settle(domain: &Domain, index: &str, want: &str) -> Result<(), KindError> {
    poll(|| async {
        match status_of(domain, index).await? {
            Some((s, _, _)) if s == want => Ok(Some(())),
            Some((s, reason, _)) if s == "FAILED" => {
                Err(KindError::Failed(format!("replication of {index} FAILED: {reason}")))
            }
            _ => Ok(None),
        }
    })
    .await
}

#[async_trait]
impl Kind for OpenSearchIndexReplication {
    fn type_name(&self) -> &'static str {
        "opensearch_index_replication"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    /// Bootstrapping copies the whole leader index first.
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(60 * 60)
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out: Vec<PropProblem> = roles_problem(props).into_iter().collect();
        out.extend(super::rest::plain_http(props));
        for k in ["follower_index", "leader_index"] {
            if let Some(p) = get_str(props, k).and_then(index_problem) {
                out.push(PropProblem::error(k, p));
            }
        }
        if let Some(s) = get_str(props, "status")
            && !WANTED.contains(&s)
        {
            out.push(PropProblem::error("status", format!("status must be SYNCING or PAUSED, got {s:?}")));
        }
        out
    }

    /// BOOTSTRAPPING is on its way to SYNCING; unset means SYNCING.
    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match (prop, v) {
            ("status", Value::Null) => Value::str(SYNCING),
            // The plugin answers RUNNING while no shard reports yet (2.x
            // TransportReplicationStatusAction): on its way, like BOOTSTRAPPING.
            ("status", Value::String(s)) if s == "BOOTSTRAPPING" || s == "RUNNING" => Value::str(SYNCING),
            _ => v.clone(),
        }
    }

    /// The wanted status shows in plans; the reason is the plugin's after apply.
    fn derive(&self, planned: &mut Attrs) {
        planned.entry("status".into()).or_insert_with(|| Value::str(SYNCING));
        planned.entry("status_reason".into()).or_insert(Value::Unknown);
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "follower_index").map(str::to_string)
    }

    async fn create(&self, _cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let domain = Domain::from_props(desired)?;
        let index = req_str(desired, "follower_index")?;
        start(&domain, index, desired).await?;
        // Started: from here on a failure must keep it on record (not an AWS refusal).
        let started = |e: KindError| KindError::Failed(format!("replication of {index} started, but: {e}"));
        if get_str(desired, "status") == Some("PAUSED") {
            settle(&domain, index, SYNCING).await.map_err(started)?;
            post(&domain, index, "_pause", "POST _plugins/_replication/{index}/_pause").await.map_err(started)?;
        }
        settle(&domain, index, get_str(desired, "status").unwrap_or(SYNCING)).await.map_err(started)?;
        Ok(Created { id: index.to_string(), attrs: desired.clone() })
    }

    // read: 1 call (GET _plugins/_replication/{index}/_status); 2 when no
    // replication runs (HEAD /{index}: stopped, or gone).
    fn import_reads_configuration(&self) -> bool {
        true
    }

    async fn read(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        // No longer declared, so no password: nothing can be observed; as recorded.
        if !Domain::has_credentials(prior) {
            return Ok(Some(prior.clone()));
        }
        let domain = Domain::from_props(prior)?;
        let mut a = Attrs::new();
        carry_connection(prior, &mut a);
        carry_roles(prior, &mut a);
        a.insert("follower_index".into(), Value::str(id));
        match status_of(&domain, id).await? {
            Some((status, reason, body)) => {
                for k in ["leader_alias", "leader_index"] {
                    if let Some(v) = body.get(k).and_then(Json::as_str) {
                        a.insert(k.to_string(), Value::str(v));
                    }
                }
                a.insert("status".into(), Value::str(status));
                a.insert("status_reason".into(), Value::str(reason));
            }
            None => {
                const CALL: &str = "HEAD /{index}";
                let head = domain.send(CALL, Method::HEAD, &format!("/{id}"), None).await?;
                if head.status == StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                if !head.ok() {
                    return Err(head.into_error(CALL));
                }
                // The index is there but follows nothing: stopped outside standby.
                for k in ["leader_alias", "leader_index"] {
                    if let Some(v) = prior.get(k) {
                        a.insert(k.to_string(), v.clone());
                    }
                }
                a.insert("status".into(), Value::str("STOPPED"));
                a.insert(
                    "status_reason".into(),
                    Value::str(
                        "the index exists on the follower but no longer replicates (stopped outside standby); \
                         restarting deletes the follower's copy and copies the leader index again",
                    ),
                );
            }
        }
        // Unset leader_index means the follower's name: report it so.
        if !prior.contains_key("leader_index") && a.get("leader_index").and_then(Value::as_str) == Some(id) {
            a.remove("leader_index");
        }
        Ok(Some(a))
    }

    /// Resumes (PAUSED) or restarts (FAILED, STOPPED) towards SYNCING, or
    /// pauses, then waits until the replication is as wanted.
    async fn update(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let domain = Domain::from_props(desired)?;
        let want = get_str(desired, "status").unwrap_or(SYNCING);
        let seen = get_str(prior, "status").unwrap_or(SYNCING);
        match (want, seen) {
            (SYNCING, "PAUSED") => post(&domain, id, "_resume", "POST _plugins/_replication/{index}/_resume").await?,
            (SYNCING, "FAILED" | "STOPPED") => restart(&domain, id, desired).await?,
            ("PAUSED", "SYNCING" | "BOOTSTRAPPING" | "RUNNING") => {
                settle(&domain, id, SYNCING).await?;
                post(&domain, id, "_pause", "POST _plugins/_replication/{index}/_pause").await?
            }
            ("PAUSED", s @ ("FAILED" | "STOPPED")) => {
                return Err(KindError::Failed(format!(
                    "replication of {id} is {s}: it cannot be paused; set status SYNCING to restart it"
                )));
            }
            // Only standby's connection settings changed.
            _ => return Ok(()),
        }
        settle(&domain, id, want).await
    }

    async fn delete(&self, _cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        stop(&Domain::from_props(prior)?, id).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrapping_and_unset_compare_as_syncing() {
        let k = OpenSearchIndexReplication;
        assert_eq!(k.normalize("status", &Value::Null), Value::str(SYNCING));
        assert_eq!(k.normalize("status", &Value::str("BOOTSTRAPPING")), Value::str(SYNCING));
        assert_eq!(k.normalize("status", &Value::str("RUNNING")), Value::str(SYNCING));
        assert_ne!(k.normalize("status", &Value::str("STOPPED")), Value::str(SYNCING));
        assert_ne!(k.normalize("status", &Value::str("PAUSED")), Value::str(SYNCING));
        let mut p = Attrs::new();
        k.derive(&mut p);
        assert_eq!(p["status"], Value::str(SYNCING));
        assert_eq!(p["status_reason"], Value::Unknown);
    }

    #[test]
    fn only_syncing_or_paused_can_be_wanted() {
        let errors = |p: &Attrs| -> Vec<String> {
            OpenSearchIndexReplication.validate(p).into_iter().filter(|p| !p.warning).map(|p| p.prop).collect()
        };
        let p: Attrs = [("status".to_string(), Value::str("FAILED"))].into();
        assert_eq!(errors(&p), ["status"]);
        let p: Attrs = [("follower_index".to_string(), Value::str("Channels"))].into();
        assert_eq!(errors(&p), ["follower_index"]);
        // Without use_roles: a warning (OpenSearch Service expects them).
        assert!(OpenSearchIndexReplication.validate(&p).iter().any(|p| p.warning && p.message.contains("use_roles")));
    }
}
