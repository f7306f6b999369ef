//! `aws_secretsmanager_secret_version`: the value of a secret, as one of
//! its versions. id = the secret's ARN (stable: a new value is a new
//! version of the same secret, planned as an update).
//!
//! `secret_string` is sensitive: state keeps only the engine's salted hash,
//! plans and logs show `(sensitive)`, and standby never reads a value back.
//! What tells a change without the value:
//! - the configured value against the stored salted hash (a new value in the
//!   variable plans as an update, which puts a new version);
//! - the stages of the version standby put (`version_id`, recorded): when
//!   someone else puts a value, that version loses `AWSCURRENT`, the read
//!   reports its stages as they are, and the plan puts the configured value
//!   back as a new current version.
//!
//! Repeating a put is safe: each put sends a `ClientRequestToken`, which
//! becomes the version id: a fresh UUID on create, and on update one derived
//! from the version it replaces ([`next_version`]), so the read-back after
//! an update (and a refresh after an update whose answer was lost) follows
//! from the recorded version to its successor. The SDK repeats a call whose answer
//! was lost with the same token, and Secrets Manager answers a repeat of a
//! token with the same value with the version it made, instead of a second
//! one. When every attempt failed unclearly (timeout, 5xx), standby looks for
//! the token among the secret's versions before calling it a failure. An
//! apply killed between the put and its record puts the value again on the
//! next apply (same value, a new version; nothing is orphaned).
//!
//! Deleting it takes its stages off its version when it is no longer
//! current; the current value stays in the secret (AWS keeps a current
//! version while the secret exists): the plan says so.

use super::{describe, sm_error};
use crate::kinds::aws::{get_str, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;

pub struct SecretsManagerSecretVersion;

const CURRENT: &str = "AWSCURRENT";

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required(
            "secret_id",
            Type::String,
            "The secret (ARN or name), e.g. `${aws_secretsmanager_secret.db.arn}`.",
        )
        .force_new(),
        Prop::required(
            "secret_string",
            Type::String,
            "The value, from a sensitive variable. Never stored, shown or read back; a new value is put as a new \
             version.",
        )
        .sensitive(),
        Prop::optional(
            "version_stages",
            Type::List(&Type::String),
            "Staging labels of the version standby puts (default `[AWSCURRENT]`: the value Mattermost reads).",
        ),
        Prop::computed("version_id", Type::String, "The version standby put last (its ClientRequestToken)."),
        Prop::computed("arn", Type::String, "The secret's ARN."),
    ],
};

fn stages(props: &Attrs) -> Vec<String> {
    match props.get("version_stages").and_then(Value::as_list) {
        Some(l) => l.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        None => vec![CURRENT.to_string()],
    }
}

fn stages_value(list: &[String]) -> Value {
    let mut list = list.to_vec();
    list.sort();
    Value::List(list.into_iter().map(Value::String).collect())
}

/// The version id standby gives the value that replaces `version`: derived,
/// so that a read knows where the recorded version's successor is. Never
/// reused with another value: a put that did not take effect leaves the id
/// free, and one that did moves the record on.
pub(crate) fn next_version(version: &str) -> String {
    use sha2::Digest;
    let h: String = sha2::Sha256::digest(format!("standby: the version after {version}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Puts the configured value as a new version with id `token`; returns the
/// secret's ARN and the version id.
async fn put(cx: &Ctx<'_>, desired: &Attrs, token: String) -> Result<(String, String), KindError> {
    let secret = req_str(desired, "secret_id")?;
    let sm = cx.aws.secretsmanager(cx.region).await;
    let sent = sm
        .put_secret_value()
        .secret_id(secret)
        .secret_string(req_str(desired, "secret_string")?)
        .client_request_token(&token)
        .set_version_stages(Some(stages(desired)))
        .send()
        .await;
    match sent {
        Ok(out) => Ok((out.arn().unwrap_or(secret).to_string(), out.version_id().unwrap_or(&token).to_string())),
        Err(e) => {
            let err = sm_error("PutSecretValue", e);
            if err.refused() {
                return Err(err);
            }
            // Unclear (timeout, 5xx): did the put take effect?
            match describe(cx, secret).await {
                Ok(Some(d)) if d.version_ids_to_stages().is_some_and(|m| m.contains_key(&token)) => {
                    Ok((d.arn().unwrap_or(secret).to_string(), token))
                }
                _ => Err(err),
            }
        }
    }
}

fn created(desired: &Attrs, arn: &str, version: &str) -> Attrs {
    let mut attrs = desired.clone();
    attrs.insert("arn".into(), Value::str(arn));
    attrs.insert("version_id".into(), Value::str(version));
    attrs.entry("version_stages".into()).or_insert_with(|| stages_value(&stages(desired)));
    attrs
}

#[async_trait]
impl Kind for SecretsManagerSecretVersion {
    fn type_name(&self) -> &'static str {
        "aws_secretsmanager_secret_version"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if let Some(v) = get_str(props, "secret_string")
            && (v.is_empty() || v.len() > 65536)
        {
            out.push(PropProblem::error(
                "secret_string",
                "a secret value has 1 to 65536 bytes (the value is not shown)",
            ));
        }
        if let Some(l) = props.get("version_stages").and_then(Value::as_list) {
            if l.is_empty() || l.len() > 20 {
                out.push(PropProblem::error("version_stages", "give 1 to 20 staging labels"));
            }
            if let Some(s) = l.iter().filter_map(Value::as_str).find(|s| s.is_empty() || s.len() > 256) {
                out.push(PropProblem::error(
                    "version_stages",
                    format!("a staging label has 1 to 256 characters: {s:?}"),
                ));
            }
        }
        out
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match (prop, v) {
            ("version_stages", Value::Null) => stages_value(&[CURRENT.to_string()]),
            ("version_stages", Value::List(l)) => {
                stages_value(&l.iter().filter_map(Value::as_str).map(str::to_string).collect::<Vec<_>>())
            }
            _ => v.clone(),
        }
    }

    fn derive(&self, planned: &mut Attrs) {
        planned.entry("version_stages".into()).or_insert_with(|| stages_value(&[CURRENT.to_string()]));
    }

    /// A new value is a new version: whatever names the version (a launch
    /// template's boot script) changes with it in the same plan.
    fn unknown_after_update(&self, changed: &std::collections::BTreeSet<String>) -> Vec<&'static str> {
        if changed.contains("secret_string") || changed.contains("version_stages") {
            vec!["version_id"]
        } else {
            Vec::new()
        }
    }

    fn delete_effect(&self, prior: &Attrs) -> Option<String> {
        let current = prior
            .get("version_stages")
            .and_then(Value::as_list)
            .is_some_and(|l| l.iter().any(|s| s.as_str() == Some(CURRENT)));
        current.then(|| {
            "its value stays in the secret as the current version (Secrets Manager keeps one while the secret \
             exists): delete the secret to remove it"
                .to_string()
        })
    }

    /// A version is a value, not a thing to find: an interrupted put is
    /// put again (see the module doc).
    fn finds_by_natural_key(&self) -> bool {
        true
    }

    async fn find(&self, _cx: &Ctx<'_>, _desired: &Attrs) -> Result<Option<String>, KindError> {
        Ok(None)
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let (arn, version) = put(cx, desired, crate::ids::uuid()).await?;
        Ok(Created { id: arn.clone(), attrs: created(desired, &arn, &version) })
    }

    // read: 1 call (DescribeSecret: the stages of every version, no value).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let Some(d) = describe(cx, id).await? else { return Ok(None) };
        let map = d.version_ids_to_stages();
        // Imported: the current version.
        let version = match get_str(prior, "version_id") {
            Some(v) => Some(v.to_string()),
            None => map.and_then(|m| m.iter().find(|(_, s)| s.iter().any(|s| s == CURRENT))).map(|(v, _)| v.clone()),
        };
        let Some(mut version) = version else { return Ok(None) };
        // Standby's later puts (an update being read back, or one whose
        // answer was lost) follow the recorded version.
        while let Some(next) = Some(next_version(&version)).filter(|n| map.is_some_and(|m| m.contains_key(n))) {
            version = next;
        }
        let now: Vec<String> = map.and_then(|m| m.get(&version)).cloned().unwrap_or_default();
        let arn = d.arn().unwrap_or(id).to_string();
        let secret_id = match get_str(prior, "secret_id") {
            // Keep the spelling the configuration uses (name or ARN) when it names this secret.
            Some(s) if s == arn || Some(s) == d.name() => s.to_string(),
            _ => arn.clone(),
        };
        Ok(Some(
            [
                ("secret_id".to_string(), Value::str(&secret_id)),
                ("arn".to_string(), Value::str(&arn)),
                ("version_id".to_string(), Value::str(&version)),
                ("version_stages".to_string(), stages_value(&now)),
            ]
            .into(),
        ))
    }

    async fn update(&self, cx: &Ctx<'_>, _id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let token = get_str(prior, "version_id").map(next_version).unwrap_or_else(crate::ids::uuid);
        put(cx, desired, token).await.map(|_| ())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        let Some(version) = get_str(prior, "version_id") else { return Ok(()) };
        let Some(d) = describe(cx, id).await? else { return Ok(()) };
        let now: Vec<String> = d.version_ids_to_stages().and_then(|m| m.get(version)).cloned().unwrap_or_default();
        if now.iter().any(|s| s == CURRENT) {
            return Ok(());
        }
        let sm = cx.aws.secretsmanager(cx.region).await;
        for stage in now {
            sm.update_secret_version_stage()
                .secret_id(id)
                .version_stage(&stage)
                .remove_from_version_id(version)
                .send()
                .await
                .map_err(|e| sm_error("UpdateSecretVersionStage", e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_default_to_current_and_compare_unordered() {
        let k = SecretsManagerSecretVersion;
        let mut planned = Attrs::new();
        k.derive(&mut planned);
        assert_eq!(planned["version_stages"], Value::List(vec![Value::str(CURRENT)]));
        let a = Value::List(vec![Value::str("b"), Value::str("a")]);
        let b = Value::List(vec![Value::str("a"), Value::str("b")]);
        assert_eq!(k.normalize("version_stages", &a), k.normalize("version_stages", &b));
    }

    #[test]
    fn an_empty_value_is_refused_without_showing_it() {
        let p: Attrs = [("secret_string".to_string(), Value::str(""))].into();
        let problems = SecretsManagerSecretVersion.validate(&p);
        assert_eq!(problems[0].prop, "secret_string");
    }
}
