//! `aws_secretsmanager_secret`: a secret without its value (the value is an
//! `aws_secretsmanager_secret_version`). id = the secret's ARN.
//!
//! Deleting a secret schedules it for deletion: AWS keeps it for
//! `recovery_window_in_days` (7-30, default 30; `restore-secret` brings it
//! back), during which its name stays taken; `0` deletes it without
//! recovery, which AWS finishes in the background moments later (a create
//! of the same name meanwhile is refused: standby waits for it). The plan
//! says which.
//!
//! An answer lost after CreateSecret: the SDK repeats the call, AWS answers
//! `ResourceExistsException`, and standby finds the secret by its name
//! (DescribeSecret) before calling it a failure.

use super::{describe, sm_error};
use crate::kinds::aws::{get_i64, get_str, put_reported, req_str, tag_changes, tags_of, tags_value};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_secretsmanager::types::Tag;

pub struct SecretsManagerSecret;

/// AWS's default recovery window, in days.
const DEFAULT_WINDOW: i64 = 30;
/// What Secrets Manager encrypts with when no key is given.
const DEFAULT_KEY: &str = "alias/aws/secretsmanager";

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required(
            "name",
            Type::String,
            "The secret's name (letters, digits and /_+=.@-, up to 512), e.g. `mattermost/db-password`.",
        )
        .force_new(),
        Prop::optional("description", Type::String, "What it holds."),
        Prop::optional(
            "kms_key_id",
            Type::String,
            "KMS key (ARN, id or alias) of the secret's region that encrypts its values; default the account's \
             `aws/secretsmanager` key.",
        ),
        Prop::optional(
            "recovery_window_in_days",
            Type::Number,
            "On delete, days AWS keeps the secret recoverable before deleting it (7-30, default 30); 0 deletes it \
             without recovery (AWS finishes within moments). No API call: used when standby deletes it.",
        ),
        Prop::optional("tags", Type::Map(&Type::String), "Tags."),
        Prop::computed("arn", Type::String, "The secret's ARN (Mattermost's instances read it by ARN)."),
        Prop::computed("id", Type::String, "The same ARN (the id standby and the AWS provider use)."),
    ],
};

fn tags(map: std::collections::BTreeMap<String, String>) -> Vec<Tag> {
    map.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// The name rules of CreateSecret, checked before any call.
fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.chars().count() > 512 {
        return Some(format!("a secret name has 1 to 512 characters, got {}", name.chars().count()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "/_+=.@-".contains(*c))) {
        return Some(format!("{c:?} is not allowed in a secret name (letters, digits and /_+=.@- only)"));
    }
    None
}

#[async_trait]
impl Kind for SecretsManagerSecret {
    fn type_name(&self) -> &'static str {
        "aws_secretsmanager_secret"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if let Some(p) = get_str(props, "name").and_then(name_problem) {
            out.push(PropProblem::error("name", p));
        }
        if let Some(n) = get_i64(props, "recovery_window_in_days")
            && n != 0
            && !(7..=30).contains(&n)
        {
            out.push(PropProblem::error(
                "recovery_window_in_days",
                format!("must be 0 (delete without recovery) or 7 to 30 days, got {n}"),
            ));
        }
        out
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match (prop, v) {
            ("recovery_window_in_days", Value::Null) => Value::int(DEFAULT_WINDOW),
            ("kms_key_id", Value::String(s)) if s == DEFAULT_KEY => Value::Null,
            ("tags", Value::Null) => Value::Map(Default::default()),
            _ => v.clone(),
        }
    }

    fn delete_effect(&self, prior: &Attrs) -> Option<String> {
        let window = get_i64(prior, "recovery_window_in_days").unwrap_or(DEFAULT_WINDOW);
        Some(if window == 0 {
            "deleted with every version of its value, WITHOUT recovery (recovery_window_in_days: 0)".into()
        } else {
            format!(
                "scheduled for deletion: recoverable for {window} days (`aws secretsmanager restore-secret`), then \
                 AWS deletes it with every version of its value; its name stays taken until then"
            )
        })
    }

    /// The natural key: the name (the ARN ends with a random suffix).
    fn finds_by_natural_key(&self) -> bool {
        true
    }

    // find: 1 call (DescribeSecret by name).
    async fn find(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Option<String>, KindError> {
        let Some(name) = get_str(desired, "name") else { return Ok(None) };
        Ok(describe(cx, name).await?.and_then(|d| d.arn().map(str::to_string)))
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let tag_list = tags(tags_of(desired));
        let name = req_str(desired, "name")?;
        let sm = cx.aws.secretsmanager(cx.region).await;
        let req = sm
            .create_secret()
            .name(name)
            .set_description(get_str(desired, "description").map(str::to_string))
            .set_kms_key_id(get_str(desired, "kms_key_id").map(str::to_string))
            .set_tags(Some(tag_list).filter(|t| !t.is_empty()));
        let start = std::time::Instant::now();
        let out = loop {
            match req.clone().send().await {
                Ok(out) => break out,
                Err(e) => {
                    let err = sm_error("CreateSecret", e);
                    if start.elapsed() < FORCED_DELETION && being_deleted(cx, name, &err).await? {
                        crate::kinds::report_status("waiting for AWS to finish deleting the secret's previous holder");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                    return Err(err);
                }
            }
        };
        let arn = out.arn().ok_or_else(|| KindError::Failed("CreateSecret returned no ARN".into()))?.to_string();
        let mut attrs = desired.clone();
        attrs.insert("arn".into(), Value::str(&arn));
        attrs.insert("id".into(), Value::str(&arn));
        Ok(Created { id: arn, attrs })
    }

    // read: 1 call (DescribeSecret: name, description, key and tags together).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let Some(d) = describe(cx, id).await? else { return Ok(None) };
        let arn = d.arn().unwrap_or(id).to_string();
        let mut a: Attrs = [
            ("name".to_string(), Value::str(d.name().unwrap_or_default())),
            ("arn".to_string(), Value::str(&arn)),
            ("id".to_string(), Value::str(&arn)),
        ]
        .into();
        put_reported(&mut a, prior, "description", Value::str(d.description().unwrap_or_default()));
        put_reported(&mut a, prior, "kms_key_id", Value::str(d.kms_key_id().unwrap_or_default()));
        let reported = d.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())));
        put_reported(&mut a, prior, "tags", tags_value(reported));
        // Not an AWS setting: what standby does on delete.
        if let Some(v) = prior.get("recovery_window_in_days") {
            a.insert("recovery_window_in_days".into(), v.clone());
        }
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let sm = cx.aws.secretsmanager(cx.region).await;
        let changed = |k: &str| {
            self.normalize(k, desired.get(k).unwrap_or(&Value::Null))
                != self.normalize(k, prior.get(k).unwrap_or(&Value::Null))
        };
        if changed("description") || changed("kms_key_id") {
            let mut req = sm.update_secret().secret_id(id);
            if changed("description") {
                req = req.description(get_str(desired, "description").unwrap_or_default());
            }
            if changed("kms_key_id") {
                // Unset: back to the account's default key.
                req = req.kms_key_id(get_str(desired, "kms_key_id").unwrap_or(DEFAULT_KEY));
            }
            req.send().await.map_err(|e| sm_error("UpdateSecret", e))?;
        }
        let (set, remove) = tag_changes(prior, desired);
        if !set.is_empty() {
            sm.tag_resource()
                .secret_id(id)
                .set_tags(Some(tags(set)))
                .send()
                .await
                .map_err(|e| sm_error("TagResource", e))?;
        }
        if !remove.is_empty() {
            sm.untag_resource()
                .secret_id(id)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| sm_error("UntagResource", e))?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        let window = get_i64(prior, "recovery_window_in_days").unwrap_or(DEFAULT_WINDOW);
        let req = cx.aws.secretsmanager(cx.region).await.delete_secret().secret_id(id);
        let req =
            if window == 0 { req.force_delete_without_recovery(true) } else { req.recovery_window_in_days(window) };
        match req.send().await {
            Ok(_) => Ok(()),
            // Gone, or already scheduled (a repeat whose first answer was lost).
            Err(e) if crate::kinds::aws::is_gone(&e, super::GONE) => Ok(()),
            Err(e) => {
                let err = sm_error("DeleteSecret", e);
                match describe(cx, id).await {
                    Ok(None) => Ok(()),
                    _ => Err(err),
                }
            }
        }
    }
}

/// How long a forced deletion may still hold the name (Secrets Manager API
/// reference, DeleteSecret `ForceDeleteWithoutRecovery`: "Secrets Manager
/// performs the actual deletion with an asynchronous background process, so
/// there might be a short delay before the secret is permanently deleted.
/// If you delete a secret and then immediately create a secret with the
/// same name, use appropriate back off and retry logic.").
const FORCED_DELETION: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether CreateSecret was refused because a secret of this name is being
/// deleted without recovery (its DeletedDate is now, not the end of a
/// recovery window): then AWS is about to free the name, and a retry will
/// pass. A secret in its recovery window is not: restore it or delete it.
async fn being_deleted(cx: &Ctx<'_>, name: &str, err: &KindError) -> Result<bool, KindError> {
    let scheduled = matches!(err, KindError::Aws { code, message, .. }
        if code == "InvalidRequestException" && message.contains("scheduled for deletion"));
    if !scheduled {
        return Ok(false);
    }
    let sm = cx.aws.secretsmanager(cx.region).await;
    match sm.describe_secret().secret_id(name).send().await {
        // A recovery window ends days from now; a forced deletion is dated now.
        Ok(d) => Ok(d.deleted_date().is_some_and(|t| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            t.secs() <= now.as_secs() as i64 + 60
        })),
        Err(e) if crate::kinds::aws::is_gone(&e, super::GONE) => Ok(true),
        Err(e) => Err(sm_error("DescribeSecret", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, Value)]) -> Attrs {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn names_and_windows_are_checked() {
        let bad = props(&[("name", Value::str("mm db password")), ("recovery_window_in_days", Value::int(3))]);
        let problems = SecretsManagerSecret.validate(&bad);
        assert_eq!(problems.iter().map(|p| p.prop.as_str()).collect::<Vec<_>>(), ["name", "recovery_window_in_days"]);
        for ok in [0, 7, 30] {
            let p =
                props(&[("name", Value::str("mattermost/db-password")), ("recovery_window_in_days", Value::int(ok))]);
            assert!(SecretsManagerSecret.validate(&p).is_empty(), "{ok}");
        }
    }

    #[test]
    fn the_plan_says_how_it_is_deleted() {
        let scheduled = SecretsManagerSecret.delete_effect(&Attrs::new()).unwrap();
        assert!(scheduled.contains("scheduled for deletion: recoverable for 30 days"), "{scheduled}");
        let now = SecretsManagerSecret.delete_effect(&props(&[("recovery_window_in_days", Value::int(0))])).unwrap();
        assert!(now.contains("WITHOUT recovery"), "{now}");
    }
}
