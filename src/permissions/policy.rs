//! IAM policy documents for the roles that run standby, generated from the
//! calls in [`super`]: what `standby policy` prints and the docs show.
//!
//! - `drift`: a nightly drift job (refresh reads, discovery, health probes)
//!   plus reading the state;
//! - `apply`: apply, destroy, switchover and failover, plus writing the
//!   state;
//! - `state-read`, `state-write`: the state backend's part alone, for
//!   roles that get the AWS part elsewhere.
//!
//! The state statements are scoped to the backend's bucket and key. Reading
//! a state key that does not exist yet must answer 404, not 403, and S3
//! answers 404 only to a caller with `s3:ListBucket` on the bucket
//! (GetObject API reference: "If you have the s3:ListBucket permission on
//! the bucket, Amazon S3 returns an HTTP status code 404 Not Found error. If
//! you don't have the s3:ListBucket permission, Amazon S3 returns an HTTP
//! status code 403 Access Denied error"). AWS documents no `s3:prefix`
//! condition for that check, so the permission is on the bucket with no
//! condition, as Terraform's S3 backend documents it.

use crate::state::s3::{JOURNAL_PREFIX, LOCK_PREFIX, S3Spec};
use serde_json::{Value as Json, json};
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// `standby drift` (read-only)
    Drift,
    /// apply, destroy, switchover and failover
    Apply,
    /// reading the state only (plan, `state list|show|pull`)
    StateRead,
    /// writing the state only (the lock, the journal, the state)
    StateWrite,
    /// `standby drill`: copies named `*-drill-*` made and deleted, the
    /// state read and the drills' own record written
    Drill,
}

impl Role {
    pub fn word(self) -> &'static str {
        match self {
            Role::Drift => "drift",
            Role::Apply => "apply",
            Role::StateRead => "state-read",
            Role::StateWrite => "state-write",
            Role::Drill => "drill",
        }
    }
}

/// The policy document of `role` for a configuration using `kinds`, with
/// its state in `backend` (no state statements for a local file);
/// `bucket_key`: the KMS key of the state bucket's default encryption, when
/// it is a customer-managed one (`standby policy --kms-key`).
pub fn document<'a>(
    role: Role,
    kinds: impl IntoIterator<Item = &'a str>,
    backend: Option<&S3Spec>,
    bucket_key: Option<&str>,
) -> Json {
    let kinds: BTreeSet<&str> = kinds.into_iter().collect();
    let mut statements = Vec::new();
    let aws = match role {
        Role::Drift => Some(("StandbyDriftReadOnly", super::for_drift(kinds.iter().copied()))),
        Role::Apply => Some(("StandbyApply", super::for_apply(kinds.iter().copied()))),
        Role::StateRead | Role::StateWrite | Role::Drill => None,
    };
    if let Some((sid, actions)) = aws.filter(|(_, a)| !a.is_empty()) {
        statements.push(json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": "*"}));
    }
    if role == Role::Drift && kinds.contains("aws_s3_bucket_replication") {
        // The replication canaries' writes, scoped to their reserved names
        // (the files canary runs where a bucket replicates).
        for c in super::CANARY {
            let mut st = json!({"Sid": c.sid, "Effect": "Allow", "Action": c.actions, "Resource": c.resource});
            if let Some(p) = c.s3_prefix {
                st["Condition"] = json!({"StringLike": {"s3:prefix": p}});
            }
            statements.push(st);
        }
    }
    if role == Role::Drill {
        statements.extend(drill_statements());
    }
    match backend {
        Some(spec) if role == Role::Drill => statements.extend(drill_state_statements(spec, bucket_key)),
        Some(spec) => {
            let write = matches!(role, Role::Apply | Role::StateWrite);
            statements.extend(state_statements(spec, write, bucket_key));
            if role == Role::Drift {
                // drill.last_success reads the drills' record beside the state.
                let record = S3Spec { key: format!("{}.drill", spec.key), ..spec.clone() };
                let mut read = state_statements(&record, false, None).remove(0);
                read["Sid"] = json!("StandbyDrillRecordRead");
                statements.push(read);
            }
        }
        None => {}
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The drill's AWS statements ([`super::DRILL`]), and the KMS grants its
/// copies need when the standby is encrypted with a customer managed key:
/// "To create an Aurora resource with a customer managed key, a user must
/// have permissions to call" kms:CreateGrant and kms:DescribeKey on it
/// (Aurora User Guide, "AWS KMS key management", "Authorizing use of a
/// customer managed key"); the copy keeps the source's key. Only through
/// RDS or OpenSearch Service (`kms:ViaService`), and grants only for AWS
/// resources, so the role cannot use a key directly. An AWS managed key
/// (`aws/rds`) needs neither.
fn drill_statements() -> Vec<Json> {
    let via = json!({"kms:ViaService": ["rds.*.amazonaws.com", "es.*.amazonaws.com"]});
    let kms = [
        json!({"Sid": "StandbyDrillKmsGrant", "Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "*",
               "Condition": {"StringLike": via, "Bool": {"kms:GrantIsForAWSResource": "true"}}}),
        json!({"Sid": "StandbyDrillKmsDescribe", "Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*",
               "Condition": {"StringLike": via}}),
    ];
    super::DRILL
        .iter()
        .map(|c| {
            let resource = if c.resources.len() == 1 { json!(c.resources[0]) } else { json!(c.resources) };
            let mut st = json!({"Sid": c.sid, "Effect": "Allow", "Action": c.actions, "Resource": resource});
            if c.drill_tag {
                st["Condition"] = json!({"Null": {format!("aws:RequestTag/{}", crate::drill::TAG): "false"}});
            }
            if c.drill_resource_tag {
                st["Condition"] = json!({"Null": {format!("aws:ResourceTag/{}", crate::drill::TAG): "false"}});
            }
            st
        })
        .chain(kms)
        .collect()
}

/// A drill reads production's state (never its lock) and writes its own
/// record beside it, `<key>.drill`, with that record's lock and journal.
fn drill_state_statements(spec: &S3Spec, bucket_key: Option<&str>) -> Vec<Json> {
    let mut out: Vec<Json> =
        state_statements(spec, false, None).into_iter().filter(|s| s["Action"] != json!(["kms:Decrypt"])).collect();
    let record = S3Spec { key: format!("{}.drill", spec.key), ..spec.clone() };
    for mut st in state_statements(&record, true, bucket_key) {
        let sid = st["Sid"].as_str().unwrap_or_default().to_string();
        match sid.as_str() {
            "StandbyStateBucket" => continue,
            "StandbyStateWrite" => st["Sid"] = json!("StandbyDrillRecord"),
            "StandbyStateLockAndJournal" => st["Sid"] = json!("StandbyDrillRecordLockAndJournal"),
            _ => {}
        }
        out.push(st);
    }
    out
}

/// The state backend's statements: reading (the state and journal, the
/// bucket's listing) or writing (also the lock, the journal's records and
/// the versioning check of `state migrate`), and the KMS keys objects are
/// encrypted with: `kms_key_id`, and the bucket default's `bucket_key`.
pub fn state_statements(spec: &S3Spec, write: bool, bucket_key: Option<&str>) -> Vec<Json> {
    let bucket = format!("arn:aws:s3:::{}", spec.bucket);
    let object = |k: &str| format!("{bucket}/{k}");
    let (key, lock, journal) = (
        object(&spec.key),
        object(&format!("{LOCK_PREFIX}{}", spec.key)),
        object(&format!("{JOURNAL_PREFIX}{}/*", spec.key)),
    );
    let mut out = Vec::new();
    if write {
        out.push(json!({"Sid": "StandbyStateWrite", "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"], "Resource": [key]}));
        out.push(json!({"Sid": "StandbyStateLockAndJournal", "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"], "Resource": [lock, journal]}));
        out.push(json!({"Sid": "StandbyStateBucket", "Effect": "Allow",
            "Action": ["s3:GetBucketVersioning", "s3:ListBucket"], "Resource": bucket}));
    } else {
        out.push(json!({"Sid": "StandbyStateRead", "Effect": "Allow",
            "Action": ["s3:GetObject"], "Resource": [key, journal]}));
        out.push(json!({"Sid": "StandbyStateBucket", "Effect": "Allow",
            "Action": ["s3:ListBucket"], "Resource": bucket}));
    }
    // SSE-KMS: "To upload or download an object encrypted with an AWS KMS
    // key to or from Amazon S3, you need kms:GenerateDataKey and kms:Decrypt
    // permissions on the key" (S3 User Guide, SSE-KMS). Writers encrypt
    // (GenerateDataKey), everyone decrypts. A bucket whose default is a
    // customer-managed key needs it as much as `kms_key_id` does.
    let actions: Vec<&str> = if write { vec!["kms:Decrypt", "kms:GenerateDataKey"] } else { vec!["kms:Decrypt"] };
    let mut keys: Vec<&str> = spec.kms_key_id.iter().map(String::as_str).collect();
    keys.extend(bucket_key.filter(|k| !keys.contains(k)));
    for (i, k) in keys.into_iter().enumerate() {
        let sid = if i == 0 { "StandbyStateKey".to_string() } else { format!("StandbyStateKey{}", i + 1) };
        let mut st = json!({"Sid": sid, "Effect": "Allow", "Action": actions});
        match kms_resource(&spec.region, k) {
            KmsResource::Key(arn) => st["Resource"] = json!(arn),
            KmsResource::Alias { keys, alias } => {
                st["Resource"] = json!(keys);
                st["Condition"] = json!({"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}});
            }
        }
        out.push(st);
    }
    out
}

/// What an IAM statement names for a KMS key given as S3 accepts it.
#[derive(Debug, PartialEq)]
enum KmsResource {
    /// A key ARN.
    Key(String),
    /// An alias: every key of its region and account, narrowed to the one
    /// the alias points at by `kms:ResourceAliases`.
    Alias { keys: String, alias: String },
}

/// KMS authorises only key ARNs in `Resource`: "To specify a KMS key in an
/// IAM policy statement, you must use its key ARN. You cannot use a key id,
/// alias name, or alias ARN" (KMS, "Specifying KMS keys in IAM policy
/// statements"); an alias goes into the `kms:ResourceAliases` condition
/// instead (KMS, "Use aliases to control access to KMS keys"). Without an
/// ARN the account is not known: `ACCOUNT_ID` is left for the reader.
fn kms_resource(region: &str, k: &str) -> KmsResource {
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    // arn:<partition>:kms:<region>:<account>:<key/id | alias/name>
    let parts: Vec<&str> = k.splitn(6, ':').collect();
    if let [_, p, _, r, acct, res] = parts[..]
        && k.starts_with("arn:")
    {
        return match res.strip_prefix("alias/") {
            Some(_) => KmsResource::Alias { keys: format!("arn:{p}:kms:{r}:{acct}:key/*"), alias: res.to_string() },
            None => KmsResource::Key(k.to_string()),
        };
    }
    let prefix = format!("arn:{partition}:kms:{region}:ACCOUNT_ID:key/");
    match k.strip_prefix("alias/") {
        Some(_) => KmsResource::Alias { keys: format!("{prefix}*"), alias: k.to_string() },
        None => KmsResource::Key(format!("{prefix}{k}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> S3Spec {
        S3Spec { bucket: "b".into(), key: "team/dr.json".into(), region: "us-east-2".into(), kms_key_id: None }
    }

    #[test]
    fn a_missing_state_key_reads_as_404_with_the_documented_policy() {
        for role in [Role::Drift, Role::Apply, Role::StateRead, Role::StateWrite] {
            let doc = document(role, ["aws_s3_bucket"], Some(&spec()), None);
            let list = doc["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["Sid"] == "StandbyStateBucket")
                .unwrap_or_else(|| panic!("{}: no bucket statement: {doc}", role.word()));
            assert!(list["Action"].as_array().unwrap().contains(&json!("s3:ListBucket")), "{}", role.word());
            assert_eq!(list["Resource"], "arn:aws:s3:::b", "{}", role.word());
            assert!(list.get("Condition").is_none(), "{}: a condition may turn the 404 into a 403", role.word());
        }
    }

    /// A standby encrypted with a customer managed key: the drill's copies
    /// need kms:CreateGrant and kms:DescribeKey, only through RDS or
    /// OpenSearch Service and grants only for AWS resources (review 22b A7).
    #[test]
    fn the_drill_may_use_a_customer_managed_key_only_through_the_services() {
        let doc = document(Role::Drill, [], None, None);
        let find = |sid: &str| doc["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid).cloned();
        let grant = find("StandbyDrillKmsGrant").unwrap_or_else(|| panic!("no KMS grant: {doc}"));
        assert_eq!(grant["Action"], "kms:CreateGrant");
        assert_eq!(grant["Condition"]["Bool"]["kms:GrantIsForAWSResource"], "true");
        let via = &grant["Condition"]["StringLike"]["kms:ViaService"];
        assert_eq!(via, &json!(["rds.*.amazonaws.com", "es.*.amazonaws.com"]));
        let describe = find("StandbyDrillKmsDescribe").unwrap();
        assert_eq!(
            (&describe["Action"], &describe["Condition"]["StringLike"]["kms:ViaService"]),
            (&json!("kms:DescribeKey"), via)
        );
        assert!(!doc.to_string().contains("kms:Decrypt"), "never a direct use of the key");
    }

    #[test]
    fn readers_cannot_write_and_writers_can_lock() {
        let read = document(Role::StateRead, [], Some(&spec()), None).to_string();
        assert!(!read.contains("PutObject") && !read.contains("DeleteObject"), "{read}");
        let write = document(Role::StateWrite, [], Some(&spec()), None).to_string();
        assert!(write.contains("arn:aws:s3:::b/_standby/locks/team/dr.json"), "{write}");
        assert!(write.contains("arn:aws:s3:::b/_standby/journal/team/dr.json/*"), "{write}");
        let drift = document(Role::Drift, ["aws_s3_bucket"], None, None);
        assert_eq!(drift["Statement"].as_array().unwrap().len(), 1, "a local state needs no S3 statement");
    }

    #[test]
    fn kms_statements_name_key_arns_and_aliases_by_condition() {
        let key = "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(kms_resource("us-east-2", key), KmsResource::Key(key.into()));
        assert_eq!(
            kms_resource("us-east-2", "1234abcd"),
            KmsResource::Key("arn:aws:kms:us-east-2:ACCOUNT_ID:key/1234abcd".into())
        );
        // An alias is never turned into a key ARN KMS would not match.
        for (given, keys) in [
            ("alias/state", "arn:aws:kms:us-east-2:ACCOUNT_ID:key/*"),
            ("arn:aws:kms:eu-west-1:111122223333:alias/state", "arn:aws:kms:eu-west-1:111122223333:key/*"),
        ] {
            assert_eq!(
                kms_resource("us-east-2", given),
                KmsResource::Alias { keys: keys.into(), alias: "alias/state".into() },
                "{given}"
            );
        }
        assert_eq!(
            kms_resource("cn-north-1", "abcd"),
            KmsResource::Key("arn:aws-cn:kms:cn-north-1:ACCOUNT_ID:key/abcd".into())
        );
        let mut s = spec();
        s.kms_key_id = Some("alias/state".into());
        let doc = document(Role::StateRead, [], Some(&s), None);
        let st = doc["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "StandbyStateKey").unwrap().clone();
        assert_eq!(st["Resource"], "arn:aws:kms:us-east-2:ACCOUNT_ID:key/*", "{st}");
        assert_eq!(st["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"], "alias/state", "{st}");
        assert_eq!(st["Action"], json!(["kms:Decrypt"]), "{st}");
    }

    #[test]
    fn a_bucket_default_kms_key_is_in_the_state_statements() {
        // Without a key named, no KMS statement (SSE-S3 or the AWS managed aws/s3 key).
        let none = document(Role::StateWrite, [], Some(&spec()), None).to_string();
        assert!(!none.contains("kms:"), "{none}");
        let key = "arn:aws:kms:us-east-2:111122223333:key/bucket-default";
        for role in [Role::Apply, Role::StateWrite] {
            let doc = document(role, [], Some(&spec()), Some(key));
            let st = doc["Statement"].as_array().unwrap().iter().find(|s| s["Resource"] == key).cloned();
            let st = st.unwrap_or_else(|| panic!("{}: no statement for the bucket's key: {doc}", role.word()));
            assert_eq!(st["Action"], json!(["kms:Decrypt", "kms:GenerateDataKey"]), "{}", role.word());
        }
        for role in [Role::Drift, Role::StateRead] {
            let doc = document(role, ["aws_s3_bucket"], Some(&spec()), Some(key));
            let st = doc["Statement"].as_array().unwrap().iter().find(|s| s["Resource"] == key).cloned().unwrap();
            assert_eq!(st["Action"], json!(["kms:Decrypt"]), "{}", role.word());
        }
        // Both `kms_key_id` and another bucket default: two statements, distinct Sids.
        let mut s = spec();
        s.kms_key_id = Some("arn:aws:kms:us-east-2:111122223333:key/backend".into());
        let doc = document(Role::StateWrite, [], Some(&s), Some(key));
        let sids: Vec<&str> = doc["Statement"].as_array().unwrap().iter().filter_map(|s| s["Sid"].as_str()).collect();
        assert!(sids.contains(&"StandbyStateKey") && sids.contains(&"StandbyStateKey2"), "{sids:?}");
        let same = document(Role::StateWrite, [], Some(&s), s.kms_key_id.as_deref()).to_string();
        assert!(!same.contains("StandbyStateKey2"), "{same}");
    }
}
