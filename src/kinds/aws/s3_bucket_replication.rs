//! `aws_s3_bucket_replication`: standby's replication rules on a bucket.
//! id = source bucket name.
//!
//! S3 keeps one replication configuration per bucket, and
//! `PutBucketReplication` "creates a replication configuration or replaces
//! an existing one" (botocore): so the rules given are merged beside the
//! ones the bucket already has, which are sent back exactly as S3 reports
//! them, never replaced. A configuration has one role: a bucket that
//! replicates already with another role is refused at plan time (use that
//! role). What the bucket had is read before the create and kept
//! (`previous_configuration`, written ahead); destroy takes out only
//! standby's rules, and deletes the configuration only when none is left.
//!
//! S3 does not replicate objects encrypted with SSE-KMS unless a rule says
//! so (botocore PutBucketReplication: "add SourceSelectionCriteria,
//! SseKmsEncryptedObjects, Status, EncryptionConfiguration, and
//! ReplicaKmsKeyID"): `sse_kms_encrypted_objects` and `replica_kms_key_id`;
//! a source bucket whose default encryption is SSE-KMS without them is
//! refused at plan time.

use super::s3_bucket::{name_from_arn, name_problem};
use super::{aws_error, get_str, is_gone, req_str};
use crate::kinds::schema::{Prop, ProviderName, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PlanView, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_s3::types::{
    DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, ReplicaModifications,
    ReplicaModificationsStatus, ReplicationConfiguration, ReplicationRule, ReplicationRuleFilter,
    ReplicationRuleStatus, SourceSelectionCriteria, StorageClass,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub struct S3BucketReplication;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("bucket", Type::String, "Source bucket name.").force_new(),
        Prop::required("role", Type::String, "ARN of the IAM role S3 assumes to replicate."),
        Prop::required(
            "rules",
            Type::List(&Type::Map(&Type::Any)),
            "standby's rules, merged beside the bucket's own: id, priority, status, filter_prefix, \
             destination_bucket (ARN), storage_class, replica_modifications, delete_marker_replication, \
             sse_kms_encrypted_objects (replicate SSE-KMS objects too) and replica_kms_key_id (the KMS key in the \
             destination's region that encrypts the replicas; needed with sse_kms_encrypted_objects).",
        ),
        Prop::computed(
            "previous_configuration",
            Type::Json,
            "The bucket's replication configuration before standby (null: none), read before the create; destroy \
             takes out only standby's rules.",
        ),
    ],
};

const RULE_KEYS: &[&str] = &[
    "id",
    "priority",
    "status",
    "filter_prefix",
    "destination_bucket",
    "storage_class",
    "replica_modifications",
    "delete_marker_replication",
    "sse_kms_encrypted_objects",
    "replica_kms_key_id",
];

const STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
];

/// How long to retry while a new bucket or versioning status propagates (S3
/// refuses replication to a bucket it does not yet see, or not yet as
/// versioned; Terraform's aws_s3_bucket_replication_configuration retries
/// both NoSuchBucket and the versioning refusal).
const VERSIONING_PROPAGATION: Duration = Duration::from_secs(60);

fn as_bool(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" || s == "false" => Some(s == "true"),
        _ => None,
    }
}

fn as_int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn rule_maps(props: &Attrs) -> Vec<&BTreeMap<String, Value>> {
    props.get("rules").and_then(Value::as_list).unwrap_or_default().iter().filter_map(Value::as_map).collect()
}

/// One rule in the form it is compared in: defaults filled, types fixed.
fn normalize_rule(rule: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    let mut r = rule.clone();
    r.insert("priority".into(), as_int(rule.get("priority")).map_or_else(|| Value::int(0), Value::int));
    for k in ["replica_modifications", "delete_marker_replication", "sse_kms_encrypted_objects"] {
        let b = match rule.get(k) {
            Some(Value::Unknown) => Value::Unknown,
            v => Value::Bool(as_bool(v).unwrap_or(false)),
        };
        r.insert(k.into(), b);
    }
    for k in ["filter_prefix", "storage_class", "replica_kms_key_id"] {
        if matches!(r.get(k), Some(Value::Null)) || get_str(&r, k) == Some("") {
            r.remove(k);
        }
    }
    r
}

fn rule_problems(i: usize, rule: &Value, out: &mut Vec<PropProblem>) {
    let mut err = |m: String| out.push(PropProblem::error("rules", format!("rules[{i}]: {m}")));
    let Value::Map(r) = rule else {
        if !matches!(rule, Value::Unknown) {
            err(format!("must be a map, got {}", rule.type_name()));
        }
        return;
    };
    for k in r.keys().filter(|k| !RULE_KEYS.contains(&k.as_str())) {
        err(format!("unknown key `{k}`; known: {}", RULE_KEYS.join(", ")));
    }
    let known = |k: &str| r.get(k).filter(|v| !matches!(v, Value::Unknown));
    match known("id") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 => {}
        // AWS would make one up, and the plan could never match it.
        None if !r.contains_key("id") => err("`id` is required".into()),
        Some(v) => err(format!("`id` must be a string of 1–255 characters, got {v}")),
        None => {}
    }
    match known("status").map(|v| v.as_str()) {
        Some(Some("Enabled" | "Disabled")) => {}
        None if r.contains_key("status") => {}
        other => err(format!("`status` must be `Enabled` or `Disabled`, got {}", other.flatten().unwrap_or("nothing"))),
    }
    match known("destination_bucket") {
        Some(Value::String(arn)) => match name_from_arn(arn) {
            Some(name) => {
                if let Some(p) = name_problem(name) {
                    err(format!("`destination_bucket`: {p}"));
                }
            }
            None => err(format!("`destination_bucket` must be a bucket ARN (arn:aws:s3:::NAME), got {arn:?}")),
        },
        None if r.contains_key("destination_bucket") => {}
        _ => err("`destination_bucket` (a bucket ARN) is required".into()),
    }
    if let Some(v) = known("priority")
        && as_int(Some(v)).is_none_or(|n| n < 0)
    {
        err(format!("`priority` must be a whole number ≥ 0, got {v}"));
    }
    for k in ["replica_modifications", "delete_marker_replication", "sse_kms_encrypted_objects"] {
        if let Some(v) = known(k)
            && as_bool(Some(v)).is_none()
        {
            err(format!("`{k}` must be true or false, got {v}"));
        }
    }
    if known("sse_kms_encrypted_objects").and_then(|v| as_bool(Some(v))) == Some(true)
        && !r.contains_key("replica_kms_key_id")
    {
        err("`sse_kms_encrypted_objects` needs `replica_kms_key_id`: S3 encrypts the replicas with that key, in the \
             destination's region"
            .into());
    }
    if let Some(v) = known("storage_class")
        && !v.as_str().is_some_and(|s| STORAGE_CLASSES.contains(&s))
    {
        err(format!("`storage_class` must be one of {}, got {v}", STORAGE_CLASSES.join(", ")));
    }
    if let Some(v) = known("filter_prefix")
        && v.as_str().is_none()
    {
        err(format!("`filter_prefix` must be a string, got {v}"));
    }
}

/// The configuration to send: `others` (the bucket's own rules, exactly as
/// S3 reported them) and standby's rules from `desired`, under its role.
fn build(desired: &Attrs, others: Vec<ReplicationRule>) -> Result<ReplicationConfiguration, KindError> {
    let failed = |e: aws_sdk_s3::error::BuildError| KindError::Failed(format!("replication configuration: {e}"));
    let enabled = |b: bool| if b { "Enabled" } else { "Disabled" };
    let mut rules = others;
    for r in rule_maps(desired).into_iter().map(normalize_rule) {
        let encryption = get_str(&r, "replica_kms_key_id")
            .map(|k| aws_sdk_s3::types::EncryptionConfiguration::builder().replica_kms_key_id(k).build());
        let destination = Destination::builder()
            .bucket(get_str(&r, "destination_bucket").unwrap_or_default())
            .set_storage_class(get_str(&r, "storage_class").map(StorageClass::from))
            .set_encryption_configuration(encryption)
            .build()
            .map_err(failed)?;
        // A Filter (even an empty one) selects the current rule schema, which
        // requires DeleteMarkerReplication.
        let filter = ReplicationRuleFilter::builder().prefix(get_str(&r, "filter_prefix").unwrap_or_default()).build();
        let dmr = as_bool(r.get("delete_marker_replication")).unwrap_or(false);
        let mut rule = ReplicationRule::builder()
            .id(get_str(&r, "id").unwrap_or_default())
            .priority(as_int(r.get("priority")).unwrap_or(0) as i32)
            .status(ReplicationRuleStatus::from(get_str(&r, "status").unwrap_or("Enabled")))
            .filter(filter)
            .delete_marker_replication(
                DeleteMarkerReplication::builder().status(DeleteMarkerReplicationStatus::from(enabled(dmr))).build(),
            )
            .destination(destination);
        let mut criteria = SourceSelectionCriteria::builder();
        let mut any = false;
        if as_bool(r.get("replica_modifications")) == Some(true) {
            let rm =
                ReplicaModifications::builder().status(ReplicaModificationsStatus::Enabled).build().map_err(failed)?;
            criteria = criteria.replica_modifications(rm);
            any = true;
        }
        if as_bool(r.get("sse_kms_encrypted_objects")) == Some(true) {
            let kms = aws_sdk_s3::types::SseKmsEncryptedObjects::builder()
                .status(aws_sdk_s3::types::SseKmsEncryptedObjectsStatus::Enabled)
                .build()
                .map_err(failed)?;
            criteria = criteria.sse_kms_encrypted_objects(kms);
            any = true;
        }
        if any {
            rule = rule.source_selection_criteria(criteria.build());
        }
        rules.push(rule.build().map_err(failed)?);
    }
    ReplicationConfiguration::builder().role(req_str(desired, "role")?).set_rules(Some(rules)).build().map_err(failed)
}

fn rule_value(rule: &ReplicationRule) -> Value {
    let mut r = BTreeMap::new();
    r.insert("id".to_string(), Value::str(rule.id().unwrap_or_default()));
    r.insert("priority".into(), Value::int(rule.priority().unwrap_or(0).into()));
    r.insert("status".into(), Value::str(rule.status().as_str()));
    let filter = rule.filter();
    #[allow(deprecated)] // rules written before Filter existed carry a top-level Prefix
    let legacy = rule.prefix();
    let prefix = filter.and_then(|f| f.prefix().or_else(|| f.and().and_then(|a| a.prefix()))).or(legacy);
    if let Some(p) = prefix.filter(|p| !p.is_empty()) {
        r.insert("filter_prefix".into(), Value::str(p));
    }
    if let Some(d) = rule.destination() {
        r.insert("destination_bucket".into(), Value::str(d.bucket()));
        if let Some(c) = d.storage_class() {
            r.insert("storage_class".into(), Value::str(c.as_str()));
        }
    }
    let rm = rule.source_selection_criteria().and_then(|c| c.replica_modifications()).map(|m| m.status());
    r.insert("replica_modifications".into(), Value::Bool(rm == Some(&ReplicaModificationsStatus::Enabled)));
    let dmr = rule.delete_marker_replication().and_then(|d| d.status());
    r.insert("delete_marker_replication".into(), Value::Bool(dmr == Some(&DeleteMarkerReplicationStatus::Enabled)));
    let kms = rule.source_selection_criteria().and_then(|c| c.sse_kms_encrypted_objects()).map(|k| k.status());
    if kms == Some(&aws_sdk_s3::types::SseKmsEncryptedObjectsStatus::Enabled) {
        r.insert("sse_kms_encrypted_objects".into(), Value::Bool(true));
    }
    if let Some(k) = rule.destination().and_then(|d| d.encryption_configuration()).and_then(|e| e.replica_kms_key_id())
    {
        r.insert("replica_kms_key_id".into(), Value::str(k));
    }
    Value::Map(r)
}

/// The rule ids of a `rules` value.
fn rule_ids(props: &Attrs) -> Vec<String> {
    rule_maps(props).into_iter().filter_map(|r| get_str(r, "id").map(str::to_string)).collect()
}

/// The bucket's replication configuration as S3 reports it (`None`: none).
async fn current(cx: &Ctx<'_>, bucket: &str) -> Result<Option<ReplicationConfiguration>, KindError> {
    match cx.aws.s3(cx.region).await.get_bucket_replication().bucket(bucket).send().await {
        Ok(out) => Ok(out.replication_configuration().cloned()),
        Err(e) if is_gone(&e, &["ReplicationConfigurationNotFoundError"]) => Ok(None),
        Err(e) => Err(aws_error("GetBucketReplication", e)),
    }
}

/// The configuration as a value: `{role, rules}`, rules in this kind's form.
fn config_value(c: &ReplicationConfiguration) -> Value {
    let mut m = BTreeMap::new();
    m.insert("role".to_string(), Value::str(c.role()));
    m.insert("rules".to_string(), Value::List(c.rules().iter().map(rule_value).collect()));
    Value::Map(m)
}

/// Sends standby's rules beside the bucket's others (those whose ids are
/// not standby's, now or before: `mine`).
async fn put(cx: &Ctx<'_>, bucket: &str, desired: &Attrs, mine: &[String]) -> Result<(), KindError> {
    let others: Vec<ReplicationRule> = current(cx, bucket)
        .await?
        .map(|c| c.rules().iter().filter(|r| !r.id().is_some_and(|id| mine.iter().any(|m| m == id))).cloned().collect())
        .unwrap_or_default();
    let conf = build(desired, others)?;
    let s3 = cx.aws.s3(cx.region).await;
    let start = Instant::now();
    loop {
        match s3.put_bucket_replication().bucket(bucket).replication_configuration(conf.clone()).send().await {
            Ok(_) => return Ok(()),
            Err(e) => {
                let e = aws_error("PutBucketReplication", e);
                let propagating = matches!(&e, KindError::Aws { code, message, .. }
                    if (code == "InvalidRequest" && message.to_lowercase().contains("versioning"))
                        || code == "NoSuchBucket");
                if !propagating || start.elapsed() >= VERSIONING_PROPAGATION {
                    return Err(e);
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// Bucket names versioned (status Enabled) in the plan, and whether some
/// versioning resource's bucket or status is not known yet.
fn versioned_buckets(view: &dyn PlanView) -> (Vec<String>, bool) {
    let mut names = Vec::new();
    let mut unknown = false;
    for (_, attrs) in view.instances_of("aws_s3_bucket_versioning") {
        match (attrs.get("bucket"), attrs.get("status")) {
            (Some(Value::String(b)), Some(Value::String(s))) if s == "Enabled" => names.push(b.clone()),
            (Some(Value::Unknown), _) | (_, Some(Value::Unknown)) => unknown = true,
            _ => {}
        }
    }
    (names, unknown)
}

/// The provider's `aws_s3_bucket_replication_configuration` holds the rules
/// as `rule` blocks ([`provider_rule`]).
static PROVIDER_NAMES: [ProviderName; 1] = [ProviderName::new("rules", "rule")];

/// A rule in the AWS provider's shape: `filter { prefix }`, `destination {
/// bucket, storage_class }`, `delete_marker_replication { status }`,
/// `source_selection_criteria { replica_modifications { status } }`.
fn provider_rule(r: &serde_json::Value) -> serde_json::Value {
    let status = |b: &serde_json::Value| if b.as_bool() == Some(true) { "Enabled" } else { "Disabled" };
    let mut out = serde_json::Map::new();
    for k in ["id", "priority", "status"] {
        if let Some(v) = r.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    if let Some(p) = r.get("filter_prefix") {
        out.insert("filter".into(), serde_json::json!([{"prefix": p}]));
    }
    let mut dest = serde_json::Map::new();
    if let Some(b) = r.get("destination_bucket") {
        dest.insert("bucket".into(), b.clone());
    }
    if let Some(c) = r.get("storage_class") {
        dest.insert("storage_class".into(), c.clone());
    }
    out.insert("destination".into(), serde_json::json!([dest]));
    if let Some(d) = r.get("delete_marker_replication") {
        out.insert("delete_marker_replication".into(), serde_json::json!([{"status": status(d)}]));
    }
    if let Some(m) = r.get("replica_modifications") {
        out.insert(
            "source_selection_criteria".into(),
            serde_json::json!([{"replica_modifications": [{"status": status(m)}]}]),
        );
    }
    serde_json::Value::Object(out)
}

#[async_trait]
impl Kind for S3BucketReplication {
    fn type_name(&self) -> &'static str {
        "aws_s3_bucket_replication"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn provider_names(&self) -> &'static [ProviderName] {
        &PROVIDER_NAMES
    }

    fn provider_value(&self, prop: &str, v: &serde_json::Value) -> Option<serde_json::Value> {
        match (prop, v) {
            ("rules", serde_json::Value::Array(rules)) => {
                Some(serde_json::Value::Array(rules.iter().map(provider_rule).collect()))
            }
            _ => None,
        }
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if let Some(p) = get_str(props, "bucket").and_then(name_problem) {
            out.push(PropProblem::error("bucket", p));
        }
        if let Some(role) = get_str(props, "role")
            && !(role.starts_with("arn:") && role.contains(":role/"))
        {
            out.push(PropProblem::error(
                "role",
                format!("must be a role ARN (arn:aws:iam::ACCOUNT:role/NAME), got {role:?}"),
            ));
        }
        let Some(Value::List(rules)) = props.get("rules") else {
            return out;
        };
        if rules.is_empty() || rules.len() > 1000 {
            out.push(PropProblem::error("rules", format!("must hold 1–1000 rules, got {}", rules.len())));
        }
        for (i, rule) in rules.iter().enumerate() {
            rule_problems(i, rule, &mut out);
        }
        let rules = rule_maps(props);
        let mut seen_ids = std::collections::BTreeSet::new();
        let mut seen_priorities = std::collections::BTreeSet::new();
        for r in &rules {
            if let Some(id) = get_str(r, "id")
                && !seen_ids.insert(id)
            {
                out.push(PropProblem::error("rules", format!("rule id {id:?} is used twice")));
            }
            if let Some(p) = as_int(r.get("priority"))
                && rules.len() > 1
                && !seen_priorities.insert(p)
            {
                out.push(PropProblem::error("rules", format!("priority {p} is used twice: each rule needs its own")));
            }
        }
        out
    }

    fn check_plan(&self, props: &Attrs, view: &dyn PlanView) -> Vec<PropProblem> {
        let (versioned, unknown) = versioned_buckets(view);
        if unknown {
            return Vec::new();
        }
        let is_versioned = |b: &str| versioned.iter().any(|v| v == b);
        let hint = "S3 replicates only between versioned buckets: add an `aws_s3_bucket_versioning` with status Enabled for it";
        let mut out = Vec::new();
        if let Some(source) = get_str(props, "bucket")
            && !is_versioned(source)
        {
            out.push(PropProblem::error("bucket", format!("source bucket {source:?} is not versioned. {hint}")));
        }
        for (i, r) in rule_maps(props).into_iter().enumerate() {
            if let Some(dest) = get_str(r, "destination_bucket").and_then(name_from_arn)
                && !is_versioned(dest)
            {
                out.push(PropProblem::error(
                    "rules",
                    format!("rules[{i}]: destination bucket {dest:?} is not versioned. {hint}"),
                ));
            }
        }
        out
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "bucket").map(str::to_string)
    }

    fn kept(&self) -> &'static [&'static str] {
        &["previous_configuration"]
    }

    fn acts_on(&self, props: &Attrs) -> Option<crate::kinds::Target> {
        get_str(props, "bucket").map(|b| crate::kinds::Target::new("aws_s3_bucket", "bucket", b))
    }

    /// What the bucket replicates already: written ahead as `previous_configuration`.
    async fn before_create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Attrs, KindError> {
        let found = current(cx, req_str(desired, "bucket")?).await?;
        Ok([("previous_configuration".to_string(), found.as_ref().map(config_value).unwrap_or(Value::Null))].into())
    }

    /// A bucket that replicates already under another role cannot take
    /// standby's rules (one configuration, one role); a rule id or priority
    /// of its own must not clash; SSE-KMS objects need the rule keys that
    /// replicate them.
    async fn existing(&self, cx: &Ctx<'_>, props: &Attrs) -> Result<crate::kinds::Existing, KindError> {
        let Some(bucket) = get_str(props, "bucket") else { return Ok(crate::kinds::Existing::Clear) };
        if let Some(c) = current(cx, bucket).await? {
            // Unknown at plan time: a role standby creates, so not the bucket's.
            let role = get_str(props, "role").unwrap_or_default();
            let theirs: Vec<String> = c.rules().iter().map(|r| r.id().unwrap_or("?").to_string()).collect();
            if c.role() != role {
                return Ok(crate::kinds::Existing::Refused(format!(
                    "bucket {bucket} already replicates (rules {}) with role {}: S3 keeps one replication \
                     configuration per bucket, with one role, and standby adds its rules beside the bucket's own, \
                     never replacing them. Give this resource that role (and grant it what standby's rules need: \
                     s3:ReplicateObject, s3:ReplicateDelete, s3:ReplicateTags on the destination), or move the \
                     bucket's own rules to standby's role first",
                    theirs.join(", "),
                    c.role()
                )));
            }
            for r in rule_maps(props) {
                let (id, pri) = (get_str(r, "id"), as_int(r.get("priority")));
                if let Some(clash) =
                    c.rules().iter().find(|o| o.id() == id || (pri.is_some() && o.priority().map(i64::from) == pri))
                {
                    return Ok(crate::kinds::Existing::Refused(format!(
                        "bucket {bucket}'s own replication rule {:?} (priority {}) has the id or priority of \
                         standby's rule {:?}: give standby's another",
                        clash.id().unwrap_or("?"),
                        clash.priority().unwrap_or(0),
                        id.unwrap_or("?")
                    )));
                }
            }
        }
        let kms = match cx.aws.s3(cx.region).await.get_bucket_encryption().bucket(bucket).send().await {
            Ok(out) => out
                .server_side_encryption_configuration()
                .map(|c| {
                    c.rules().iter().any(|r| {
                        r.apply_server_side_encryption_by_default()
                            .is_some_and(|d| d.sse_algorithm().as_str().starts_with("aws:kms"))
                    })
                })
                .unwrap_or(false),
            Err(e) if is_gone(&e, &["ServerSideEncryptionConfigurationNotFoundError"]) => false,
            Err(e) => return Err(aws_error("GetBucketEncryption", e)),
        };
        let covered = rule_maps(props).iter().all(|r| as_bool(r.get("sse_kms_encrypted_objects")) == Some(true));
        if kms && !covered {
            return Ok(crate::kinds::Existing::Refused(format!(
                "bucket {bucket} encrypts new objects with SSE-KMS by default, and S3 replicates such objects only \
                 when a rule says so (botocore PutBucketReplication: SourceSelectionCriteria.SseKmsEncryptedObjects \
                 and EncryptionConfiguration.ReplicaKmsKeyID): without it the secondary bucket stays silently \
                 incomplete. Set `sse_kms_encrypted_objects: true` and `replica_kms_key_id` (a key in the \
                 destination's region) on the rules, and let the replication role use both keys (kms:Decrypt on \
                 the source key, kms:Encrypt on the replica key)"
            )));
        }
        Ok(crate::kinds::Existing::Clear)
    }

    fn production_effect(
        &self,
        before: Option<&Attrs>,
        after: Option<&Attrs>,
        _changed: &std::collections::BTreeSet<String>,
    ) -> Option<String> {
        Some(match (before, after) {
            (None, Some(a)) => format!(
                "adds replication rule(s) {} beside the bucket's own rules, which stay as they are (S3 keeps one \
                 configuration per bucket: standby sends them together, never replacing them); new writes then \
                 replicate; destroy takes out only standby's rules",
                rule_ids(a).join(", ")
            ),
            (Some(b), None) => self.delete_effect(b)?,
            (Some(_), Some(a)) => {
                format!("changes standby's replication rule(s) {}; the bucket's own stay", rule_ids(a).join(", "))
            }
            (None, None) => return None,
        })
    }

    fn delete_effect(&self, prior: &Attrs) -> Option<String> {
        Some(match prior.get("previous_configuration") {
            Some(Value::Map(m)) => format!(
                "takes standby's rule(s) {} out of the bucket's replication configuration; its own ({}) stay",
                rule_ids(prior).join(", "),
                m.get("rules").and_then(Value::as_list).map(|l| l.len()).unwrap_or(0)
            ),
            Some(_) => "removes the bucket's replication configuration (standby's rules; it had none before)".into(),
            // Recorded by an earlier standby: the bucket's own rules are unknown.
            None => "removes the bucket's whole replication configuration, any rules of its own too".into(),
        })
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match (prop, v) {
            ("rules", Value::List(rules)) => {
                let mut rules: Vec<Value> = rules
                    .iter()
                    .map(|r| r.as_map().map_or_else(|| r.clone(), |m| Value::Map(normalize_rule(m))))
                    .collect();
                // Order does not matter to S3 (priority does).
                let key = |r: &Value| {
                    let m = r.as_map();
                    (m.and_then(|m| as_int(m.get("priority"))), m.and_then(|m| get_str(m, "id").map(str::to_string)))
                };
                rules.sort_by_key(key);
                Value::List(rules)
            }
            _ => v.clone(),
        }
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let bucket = req_str(desired, "bucket")?;
        put(cx, bucket, desired, &rule_ids(desired)).await?;
        let mut attrs = desired.clone();
        attrs.entry("previous_configuration".into()).or_insert(Value::Null);
        Ok(Created { id: bucket.to_string(), attrs })
    }

    // read: 1 call (GetBucketReplication). The bucket's other rules are
    // its own, not standby's: only the configured ones are reported.
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let out = match cx.aws.s3(cx.region).await.get_bucket_replication().bucket(id).send().await {
            Ok(out) => out,
            Err(e) if is_gone(&e, &["ReplicationConfigurationNotFoundError", "NoSuchBucket"]) => {
                return Ok(None);
            }
            Err(e) => return Err(aws_error("GetBucketReplication", e)),
        };
        let Some(conf) = out.replication_configuration() else {
            return Ok(None);
        };
        let mine = rule_ids(prior);
        let rules: Vec<Value> = conf
            .rules()
            .iter()
            .filter(|r| mine.is_empty() || r.id().is_some_and(|id| mine.iter().any(|m| m == id)))
            .map(rule_value)
            .collect();
        if rules.is_empty() {
            return Ok(None);
        }
        let mut a = Attrs::new();
        a.insert("bucket".into(), Value::str(id));
        a.insert("role".into(), Value::str(conf.role()));
        a.insert("rules".into(), Value::List(rules));
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        // Rules standby had and the configuration dropped go; the others stay.
        let mut mine = rule_ids(prior);
        mine.extend(rule_ids(desired));
        put(cx, id, desired, &mine).await
    }

    /// Takes standby's rules out; the configuration goes only when nothing
    /// else is left in it.
    async fn delete(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        let s3 = cx.aws.s3(cx.region).await;
        let conf = match current(cx, id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(()),
            Err(KindError::Aws { code, .. }) if code == "NoSuchBucket" => return Ok(()),
            Err(e) => return Err(e),
        };
        let mine = rule_ids(prior);
        let left: Vec<ReplicationRule> =
            conf.rules().iter().filter(|r| !r.id().is_some_and(|i| mine.iter().any(|m| m == i))).cloned().collect();
        if left.is_empty() {
            return match s3.delete_bucket_replication().bucket(id).send().await {
                Ok(_) => Ok(()),
                Err(e) if is_gone(&e, &["NoSuchBucket"]) => Ok(()),
                Err(e) => Err(aws_error("DeleteBucketReplication", e)),
            };
        }
        let back = ReplicationConfiguration::builder()
            .role(conf.role())
            .set_rules(Some(left))
            .build()
            .map_err(|e| KindError::Failed(format!("replication configuration: {e}")))?;
        s3.put_bucket_replication()
            .bucket(id)
            .replication_configuration(back)
            .send()
            .await
            .map_err(|e| aws_error("PutBucketReplication", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct View(Vec<(String, Attrs)>);
    impl PlanView for View {
        fn instances_of(&self, type_name: &str) -> Vec<(String, &Attrs)> {
            assert_eq!(type_name, "aws_s3_bucket_versioning");
            self.0.iter().map(|(a, v)| (a.clone(), v)).collect()
        }
    }

    fn versioning(bucket: Value, status: &str) -> (String, Attrs) {
        (
            "aws_s3_bucket_versioning.x".into(),
            [("bucket".to_string(), bucket), ("status".to_string(), Value::str(status))].into(),
        )
    }

    fn rule(dest: Value) -> Value {
        Value::Map(
            [
                ("id".to_string(), Value::str("to-b")),
                ("status".to_string(), Value::str("Enabled")),
                ("destination_bucket".to_string(), dest),
            ]
            .into(),
        )
    }

    fn props(source: Value, dest: Value) -> Attrs {
        [
            ("bucket".to_string(), source),
            ("role".to_string(), Value::str("arn:aws:iam::123456789012:role/r")),
            ("rules".to_string(), Value::List(vec![rule(dest)])),
        ]
        .into()
    }

    #[test]
    fn replication_needs_both_buckets_versioned() {
        let p = props(Value::str("a-bucket"), Value::str("arn:aws:s3:::b-bucket"));
        let both =
            View(vec![versioning(Value::str("a-bucket"), "Enabled"), versioning(Value::str("b-bucket"), "Enabled")]);
        assert!(S3BucketReplication.check_plan(&p, &both).is_empty());

        let only_source =
            View(vec![versioning(Value::str("a-bucket"), "Enabled"), versioning(Value::str("b-bucket"), "Suspended")]);
        let probs = S3BucketReplication.check_plan(&p, &only_source);
        assert_eq!(probs.len(), 1);
        assert_eq!(probs[0].prop, "rules");
        assert!(probs[0].message.contains("b-bucket"), "{}", probs[0].message);

        let probs = S3BucketReplication.check_plan(&p, &View(vec![]));
        assert_eq!(probs.iter().map(|p| p.prop.as_str()).collect::<Vec<_>>(), ["bucket", "rules"]);
    }

    #[test]
    fn unknown_values_skip_the_versioning_check() {
        let p = props(Value::Unknown, Value::Unknown);
        assert!(S3BucketReplication.check_plan(&p, &View(vec![])).is_empty());
        let p = props(Value::str("a-bucket"), Value::str("arn:aws:s3:::b-bucket"));
        assert!(S3BucketReplication.check_plan(&p, &View(vec![versioning(Value::Unknown, "Enabled")])).is_empty());
    }

    #[test]
    fn rules_are_validated() {
        let mut p = props(Value::str("a-bucket"), Value::str("not-an-arn"));
        assert!(S3BucketReplication.validate(&p).iter().any(|p| p.message.contains("bucket ARN")));
        let bad =
            Value::Map([("status".to_string(), Value::str("On")), ("colour".to_string(), Value::str("x"))].into());
        p.insert("rules".into(), Value::List(vec![bad]));
        let msgs: Vec<_> = S3BucketReplication.validate(&p).into_iter().map(|p| p.message).collect();
        for want in ["unknown key `colour`", "`id` is required", "`status` must be", "`destination_bucket`"] {
            assert!(msgs.iter().any(|m| m.contains(want)), "{want}: {msgs:?}");
        }
    }

    #[test]
    fn rules_compare_with_defaults_filled() {
        let written = Value::List(vec![rule(Value::str("arn:aws:s3:::b-bucket"))]);
        let reported = Value::List(vec![Value::Map(
            [
                ("id".to_string(), Value::str("to-b")),
                ("priority".to_string(), Value::int(0)),
                ("status".to_string(), Value::str("Enabled")),
                ("destination_bucket".to_string(), Value::str("arn:aws:s3:::b-bucket")),
                ("replica_modifications".to_string(), Value::Bool(false)),
                ("delete_marker_replication".to_string(), Value::Bool(false)),
            ]
            .into(),
        )]);
        let k = S3BucketReplication;
        assert_eq!(k.normalize("rules", &written), k.normalize("rules", &reported));
        let Value::List(mut changed) = reported.clone() else { unreachable!() };
        if let Value::Map(m) = &mut changed[0] {
            m.insert("delete_marker_replication".into(), Value::Bool(true));
        }
        assert_ne!(k.normalize("rules", &written), k.normalize("rules", &Value::List(changed)));
    }
}
