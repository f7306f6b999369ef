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
}

impl Role {
    pub fn word(self) -> &'static str {
        match self {
            Role::Drift => "drift",
            Role::Apply => "apply",
            Role::StateRead => "state-read",
            Role::StateWrite => "state-write",
        }
    }
}

/// The policy document of `role` for a configuration using `kinds`, with
/// its state in `backend` (no state statements for a local file).
pub fn document<'a>(role: Role, kinds: impl IntoIterator<Item = &'a str>, backend: Option<&S3Spec>) -> Json {
    let kinds: BTreeSet<&str> = kinds.into_iter().collect();
    let mut statements = Vec::new();
    let aws = match role {
        Role::Drift => Some(("StandbyDriftReadOnly", super::for_drift(kinds.iter().copied()))),
        Role::Apply => Some(("StandbyApply", super::for_apply(kinds.iter().copied()))),
        Role::StateRead | Role::StateWrite => None,
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
    if let Some(spec) = backend {
        let write = matches!(role, Role::Apply | Role::StateWrite);
        statements.extend(state_statements(spec, write));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The state backend's statements: reading (the state and journal, the
/// bucket's listing) or writing (also the lock, the journal's records and
/// the versioning check of `state migrate`).
pub fn state_statements(spec: &S3Spec, write: bool) -> Vec<Json> {
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
    if let Some(k) = &spec.kms_key_id {
        // SSE-KMS: writers encrypt (GenerateDataKey), everyone decrypts.
        let actions: Vec<&str> = if write { vec!["kms:Decrypt", "kms:GenerateDataKey"] } else { vec!["kms:Decrypt"] };
        out.push(json!({"Sid": "StandbyStateKey", "Effect": "Allow", "Action": actions, "Resource": kms_arn(spec, k)}));
    }
    out
}

/// A KMS key id as IAM wants it: ARNs as they are; a bare id or alias in the
/// backend's region cannot be turned into an ARN without the account, so it
/// is left to the reader to complete.
fn kms_arn(spec: &S3Spec, k: &str) -> String {
    if k.starts_with("arn:") {
        k.to_string()
    } else {
        format!("arn:aws:kms:{}:ACCOUNT_ID:key/{}", spec.region, k.trim_start_matches("alias/"))
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
            let doc = document(role, ["aws_s3_bucket"], Some(&spec()));
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

    #[test]
    fn readers_cannot_write_and_writers_can_lock() {
        let read = document(Role::StateRead, [], Some(&spec())).to_string();
        assert!(!read.contains("PutObject") && !read.contains("DeleteObject"), "{read}");
        let write = document(Role::StateWrite, [], Some(&spec())).to_string();
        assert!(write.contains("arn:aws:s3:::b/_standby/locks/team/dr.json"), "{write}");
        assert!(write.contains("arn:aws:s3:::b/_standby/journal/team/dr.json/*"), "{write}");
        let drift = document(Role::Drift, ["aws_s3_bucket"], None);
        assert_eq!(drift["Statement"].as_array().unwrap().len(), 1, "a local state needs no S3 statement");
    }
}
