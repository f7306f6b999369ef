//! The IAM, S3 and CloudWatch Logs kinds (with a domain's log publishing) against a private emulator (scripts/emulator, started
//! on a free port for this test and stopped after it), through the Kind trait.

use standby::aws::Aws;
use standby::kinds::{Ctx, Kind, KindError, lookup};
use standby::value::{Attrs, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

struct Emulator {
    dir: PathBuf,
}

impl Emulator {
    fn start() -> Emulator {
        let dir = std::env::temp_dir().join(format!("standby-kinds-aws-{}", std::process::id()));
        let out = Command::new(script()).args(["start", "--dir"]).arg(&dir).output().expect("run scripts/emulator");
        assert!(out.status.success(), "emulator did not start: {}", String::from_utf8_lossy(&out.stderr));
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((k, v)) = line.trim_start_matches("export ").split_once('=') {
                // SAFETY: set before any thread of this test binary reads the environment.
                unsafe { std::env::set_var(k, v) };
            }
        }
        // SAFETY: as above.
        unsafe { std::env::set_var("STANDBY_AWS_MAX_ATTEMPTS", "2") };
        Emulator { dir }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = Command::new(script()).args(["stop", "--dir"]).arg(&self.dir).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/emulator")
}

fn attrs(pairs: &[(&str, Value)]) -> Attrs {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn json(s: &str) -> Value {
    Value::from_json(&serde_json::from_str(s).unwrap())
}

fn tags(pairs: &[(&str, &str)]) -> Value {
    Value::Map(pairs.iter().map(|(k, v)| (k.to_string(), Value::str(*v))).collect())
}

fn cx<'a>(aws: &'a Aws, region: &'a str) -> Ctx<'a> {
    Ctx::new("test", region, aws, Duration::from_secs(60))
}

/// Every input in `desired` compares equal to what read reports, as the planner sees it.
fn assert_no_diff(kind: &dyn Kind, desired: &Attrs, observed: &Attrs) {
    // Secrets (a domain's master password) are never read back.
    for p in kind.schema().props.iter().filter(|p| p.is_input() && !p.sensitive) {
        let want = desired.get(p.name).unwrap_or(&Value::Null);
        if want.is_null() && p.is_computed() {
            continue;
        }
        let got = observed.get(p.name).unwrap_or(&Value::Null);
        assert_eq!(kind.normalize(p.name, want), kind.normalize(p.name, got), "{}.{}", kind.type_name(), p.name);
    }
}

/// Create, wait, read back; checks there is no diff and returns (id, observed).
async fn create(kind: &dyn Kind, cx: &Ctx<'_>, desired: &Attrs) -> (String, Attrs) {
    let created = kind.create(cx, desired).await.unwrap_or_else(|e| panic!("{} create: {e}", kind.type_name()));
    kind.wait_ready(cx, &created.id).await.unwrap();
    let seen = kind.read(cx, &created.id, &created.attrs).await.unwrap().expect("exists after create");
    assert_no_diff(kind, desired, &seen);
    (created.id, seen)
}

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;

#[tokio::test(flavor = "multi_thread")]
async fn iam_and_s3_kinds_round_trip() {
    let _emu = Emulator::start();
    let aws = Aws::new();
    iam(&aws).await;
    s3(&aws).await;
    logs(&aws).await;
}

/// `log_publishing_options` in the provider's shape, every type to `group_arn`.
fn publishing(group_arn: &str, types: &[&str]) -> Value {
    Value::List(
        types
            .iter()
            .map(|t| {
                Value::Map(
                    [
                        ("log_type".to_string(), Value::str(*t)),
                        ("cloudwatch_log_group_arn".to_string(), Value::str(group_arn)),
                    ]
                    .into(),
                )
            })
            .collect(),
    )
}

/// (log type, enabled, log group ARN) of each type DescribeDomain reports, sorted.
async fn published(aws: &Aws, name: &str) -> Vec<(String, bool, String)> {
    let out = aws.opensearch("us-west-1").await.describe_domain().domain_name(name).send().await.unwrap();
    let opts = out.domain_status().unwrap().log_publishing_options().cloned().unwrap_or_default();
    let mut v: Vec<(String, bool, String)> = opts
        .iter()
        .map(|(t, o)| {
            (t.as_str().to_string(), o.enabled() == Some(true), o.cloud_watch_logs_log_group_arn().unwrap().into())
        })
        .collect();
    v.sort();
    v
}

/// CloudWatch Logs groups and resource policy, and a domain publishing its
/// four log types to them; AWS's refusal without the policy surfaces with a hint.
async fn logs(aws: &Aws) {
    let (group, policy, domain) = (
        lookup("aws_cloudwatch_log_group").unwrap(),
        lookup("aws_cloudwatch_log_resource_policy").unwrap(),
        lookup("aws_opensearch_domain").unwrap(),
    );
    let cx = cx(aws, "us-west-1");
    let name = "mm-logs";
    let d = attrs(&[
        ("domain_name", Value::str(name)),
        ("engine_version", Value::str("OpenSearch_2.11")),
        ("instance_type", Value::str("r6g.large.search")),
        ("master_user_name", Value::str("admin")),
        ("master_user_password", Value::str("Os-master-pw-92!")),
    ]);
    let (domain_id, domain_seen) = create(domain, &cx, &d).await;

    let g = attrs(&[
        ("name", Value::str("/aws/opensearch/mm-logs")),
        ("retention_in_days", Value::int(365)),
        ("tags", tags(&[("app", "mm")])),
    ]);
    let (group_id, group_seen) = create(group, &cx, &g).await;
    let group_arn = "arn:aws:logs:us-west-1:123456789012:log-group:/aws/opensearch/mm-logs";
    assert_eq!(group_seen["arn"], Value::str(group_arn));
    assert_eq!(group_seen["account_id"], Value::str("123456789012"));
    let err = group.create(&cx, &g).await.err().expect("duplicate log group");
    assert!(err.already_exists(), "{err}");

    // Without the resource policy AWS refuses the domain change, and says why.
    let all = ["AUDIT_LOGS", "ES_APPLICATION_LOGS", "INDEX_SLOW_LOGS", "SEARCH_SLOW_LOGS"];
    let mut with_logs = d.clone();
    with_logs.insert("log_publishing_options".into(), publishing(group_arn, &all));
    let err = domain.update(&cx, &domain_id, &domain_seen, &with_logs).await.expect_err("refused without a policy");
    assert!(
        matches!(&err, KindError::Aws { code, message, hint: Some(h), .. }
            if code == "ValidationException" && message.contains("does not grant sufficient permissions")
                && h.contains("aws_cloudwatch_log_resource_policy")),
        "{err}"
    );

    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"es.amazonaws.com"}},
        "Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":"{group_arn}:*",
        "Condition":{{"StringEquals":{{"aws:SourceAccount":"123456789012"}},
        "ArnLike":{{"aws:SourceArn":"arn:aws:es:us-west-1:123456789012:domain/{name}"}}}}}}]}}"#
    );
    let p = attrs(&[("policy_name", Value::str("opensearch-logs-mm")), ("policy_document", json(&doc))]);
    let (policy_id, _) = create(policy, &cx, &p).await;

    // As AWS has it, through the SDK: the group, its retention and tags, the policy.
    let sdk = aws.logs("us-west-1").await;
    let groups = sdk.describe_log_groups().log_group_name_prefix("/aws/opensearch/").send().await.unwrap();
    let found = groups.log_groups().iter().find(|x| x.log_group_name() == Some("/aws/opensearch/mm-logs")).unwrap();
    assert_eq!(found.retention_in_days(), Some(365));
    let policies = sdk.describe_resource_policies().send().await.unwrap();
    let stored = policies.resource_policies().iter().find(|x| x.policy_name() == Some("opensearch-logs-mm")).unwrap();
    assert!(stored.policy_document().unwrap().contains("es.amazonaws.com"));

    domain.update(&cx, &domain_id, &domain_seen, &with_logs).await.unwrap();
    let got = published(aws, name).await;
    assert_eq!(got.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(), all);
    assert!(got.iter().all(|(_, on, arn)| *on && arn == group_arn), "{got:?}");
    let seen = domain.read(&cx, &domain_id, &with_logs).await.unwrap().unwrap();
    assert_no_diff(domain, &with_logs, &seen);

    // A log type dropped from the configuration is turned off, and reads as planned.
    let mut fewer = d.clone();
    fewer.insert("log_publishing_options".into(), publishing(group_arn, &["AUDIT_LOGS", "ES_APPLICATION_LOGS"]));
    domain.update(&cx, &domain_id, &seen, &fewer).await.unwrap();
    let got = published(aws, name).await;
    let on: Vec<_> = got.iter().filter(|x| x.1).map(|x| x.0.as_str()).collect();
    assert_eq!(on, ["AUDIT_LOGS", "ES_APPLICATION_LOGS"], "{got:?}");
    let seen = domain.read(&cx, &domain_id, &fewer).await.unwrap().unwrap();
    assert_no_diff(domain, &fewer, &seen);

    // The group's retention and tags change in place.
    let mut g2 = g.clone();
    g2.insert("retention_in_days".into(), Value::int(30));
    g2.insert("tags".into(), tags(&[("env", "dr")]));
    group.update(&cx, &group_id, &group_seen, &g2).await.unwrap();
    assert_no_diff(group, &g2, &group.read(&cx, &group_id, &g2).await.unwrap().unwrap());
    assert!(group.delete_effect(&g2).unwrap().contains("deletes every log event"));

    domain.delete(&cx, &domain_id, &seen).await.unwrap();
    for (kind, id) in [(policy, &policy_id), (group, &group_id)] {
        kind.delete(&cx, id, &Attrs::new()).await.unwrap_or_else(|e| panic!("{} delete: {e}", kind.type_name()));
        assert!(kind.read(&cx, id, &Attrs::new()).await.unwrap().is_none(), "{} still there", kind.type_name());
        kind.delete(&cx, id, &Attrs::new()).await.unwrap();
    }
}

async fn iam(aws: &Aws) {
    let cx = cx(aws, "us-west-1");
    let role = lookup("aws_iam_role").unwrap();
    let desired = attrs(&[
        ("name", Value::str("mm-replication")),
        ("description", Value::str("replication")),
        ("assume_role_policy", Value::str(TRUST)),
        ("tags", tags(&[("app", "mattermost"), ("team", "a")])),
    ]);
    let (role_id, seen) = create(role, &cx, &desired).await;
    assert_eq!(role_id, "mm-replication");
    assert_eq!(seen["arn"], Value::str("arn:aws:iam::123456789012:role/mm-replication"));
    assert_eq!(seen["path"], Value::str("/"));
    assert_eq!(seen["max_session_duration"], Value::int(3600));

    // In-place update: description cleared, trust policy, session limit, tags.
    let mut next = desired.clone();
    next.remove("description");
    next.insert("max_session_duration".into(), Value::int(7200));
    next.insert(
        "assume_role_policy".into(),
        json(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["s3.amazonaws.com","batchoperations.s3.amazonaws.com"]},"Action":["sts:AssumeRole"]}]}"#),
    );
    next.insert("tags".into(), tags(&[("app", "mattermost"), ("env", "dr")]));
    role.update(&cx, &role_id, &seen, &next).await.unwrap();
    let seen = role.read(&cx, &role_id, &next).await.unwrap().unwrap();
    assert_no_diff(role, &next, &seen);
    assert!(!seen.contains_key("description"), "{seen:?}");

    let err = role.create(&cx, &desired).await.err().expect("duplicate role");
    assert!(
        matches!(&err, KindError::Aws { code, hint: Some(h), .. } if code == "EntityAlreadyExists" && h.contains("adopt")),
        "{err}"
    );

    // Inline policy.
    let inline = lookup("aws_iam_role_policy").unwrap();
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListBucket","s3:GetReplicationConfiguration"],"Resource":"arn:aws:s3:::b"}]}"#;
    let desired = attrs(&[("role", Value::str(&role_id)), ("name", Value::str("replicate")), ("policy", json(doc))]);
    let (inline_id, _) = create(inline, &cx, &desired).await;
    assert_eq!(inline_id, "mm-replication:replicate");
    let mut next = desired.clone();
    next.insert("policy".into(), json(&doc.replace("s3:ListBucket", "s3:ListBucketVersions")));
    inline.update(&cx, &inline_id, &desired, &next).await.unwrap();
    assert_no_diff(inline, &next, &inline.read(&cx, &inline_id, &next).await.unwrap().unwrap());

    // Managed policy: more updates than IAM keeps versions.
    let managed = lookup("aws_iam_policy").unwrap();
    let pdoc = |n: usize| {
        json(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b{n}/*"}}]}}"#
        ))
    };
    let desired = attrs(&[("name", Value::str("mm-read")), ("policy", pdoc(0)), ("tags", tags(&[("app", "mm")]))]);
    let (policy_arn, mut seen) = create(managed, &cx, &desired).await;
    assert_eq!(policy_arn, "arn:aws:iam::123456789012:policy/mm-read");
    for n in 1..=6 {
        let next = attrs(&[("name", Value::str("mm-read")), ("policy", pdoc(n))]);
        managed.update(&cx, &policy_arn, &seen, &next).await.unwrap_or_else(|e| panic!("version {n}: {e}"));
        seen = managed.read(&cx, &policy_arn, &next).await.unwrap().unwrap();
        assert_no_diff(managed, &next, &seen);
    }
    assert_eq!(seen["default_version_id"], Value::str("v7"));

    let attach = lookup("aws_iam_role_policy_attachment").unwrap();
    let desired = attrs(&[("role", Value::str(&role_id)), ("policy_arn", Value::str(&policy_arn))]);
    let (attach_id, _) = create(attach, &cx, &desired).await;

    // Destroy in dependency order; each is gone afterwards, and deleting again is fine.
    for (kind, id) in [(attach, &attach_id), (inline, &inline_id), (managed, &policy_arn), (role, &role_id)] {
        kind.delete(&cx, id, &Attrs::new()).await.unwrap_or_else(|e| panic!("{} delete: {e}", kind.type_name()));
        assert!(kind.read(&cx, id, &Attrs::new()).await.unwrap().is_none(), "{} still there", kind.type_name());
        kind.delete(&cx, id, &Attrs::new()).await.unwrap();
    }
}

async fn s3(aws: &Aws) {
    let bucket = lookup("aws_s3_bucket").unwrap();
    let versioning = lookup("aws_s3_bucket_versioning").unwrap();
    let replication = lookup("aws_s3_bucket_replication").unwrap();
    let (west, east) = (cx(aws, "us-west-1"), cx(aws, "us-east-1"));

    let a = attrs(&[
        ("bucket", Value::str("mm-files-us-west-1")),
        ("force_destroy", Value::Bool(true)),
        ("tags", tags(&[("app", "mm")])),
    ]);
    let b = attrs(&[("bucket", Value::str("mm-files-us-east-1"))]);
    let (a_id, seen) = create(bucket, &west, &a).await;
    assert_eq!(seen["region"], Value::str("us-west-1"));
    assert_eq!(seen["arn"], Value::str("arn:aws:s3:::mm-files-us-west-1"));
    assert_eq!(seen["force_destroy"], Value::Bool(true));
    let (b_id, seen) = create(bucket, &east, &b).await;
    assert_eq!(seen["region"], Value::str("us-east-1"));
    assert!(!seen.contains_key("tags"));

    for (cx, desired) in [(&west, &a), (&east, &b)] {
        let err = bucket.create(cx, desired).await.err().expect("duplicate bucket");
        assert!(matches!(&err, KindError::Aws { code, .. } if code == "BucketAlreadyOwnedByYou"), "{err}");
    }

    // Tags replaced, then removed.
    let mut next = a.clone();
    next.insert("tags".into(), tags(&[("app", "mm"), ("env", "dr")]));
    bucket.update(&west, &a_id, &a, &next).await.unwrap();
    assert_no_diff(bucket, &next, &bucket.read(&west, &a_id, &next).await.unwrap().unwrap());
    next.remove("tags");
    bucket.update(&west, &a_id, &a, &next).await.unwrap();
    assert!(!bucket.read(&west, &a_id, &next).await.unwrap().unwrap().contains_key("tags"));

    for (cx, id) in [(&west, &a_id), (&east, &b_id)] {
        let desired = attrs(&[("bucket", Value::str(id.as_str())), ("status", Value::str("Enabled"))]);
        create(versioning, cx, &desired).await;
    }

    // Block Public Access: given settings are applied, unset ones are on;
    // a bucket without a configuration reads as absent.
    let pab = lookup("aws_s3_bucket_public_access_block").unwrap();
    let open = attrs(&[("bucket", Value::str(&a_id)), ("block_public_policy", Value::Bool(false))]);
    let (pab_id, seen) = create(pab, &west, &open).await;
    assert_eq!(pab_id, a_id);
    assert_eq!(seen["block_public_policy"], Value::Bool(false));
    for on in ["block_public_acls", "ignore_public_acls", "restrict_public_buckets"] {
        assert_eq!(seen[on], Value::Bool(true), "{on}");
    }
    let closed = attrs(&[("bucket", Value::str(&a_id))]);
    pab.update(&west, &pab_id, &seen, &closed).await.unwrap();
    let seen = pab.read(&west, &pab_id, &closed).await.unwrap().unwrap();
    assert_no_diff(pab, &closed, &seen);
    assert_eq!(seen["block_public_policy"], Value::Bool(true));
    pab.delete(&west, &pab_id, &seen).await.unwrap();
    assert!(pab.read(&west, &pab_id, &closed).await.unwrap().is_none(), "deleted");
    pab.delete(&west, &pab_id, &seen).await.unwrap();
    // Imported by bucket name: a new bucket has AWS's default, all four on.
    let imported = pab.read(&east, &b_id, &Attrs::new()).await.unwrap().expect("AWS's default on a new bucket");
    assert_no_diff(pab, &attrs(&[("bucket", Value::str(&b_id))]), &imported);

    let role = "arn:aws:iam::123456789012:role/mm-replication";
    let rule = json(
        r#"{"id":"to-east","priority":1,"status":"Enabled","destination_bucket":"arn:aws:s3:::mm-files-us-east-1",
            "replica_modifications":true,"delete_marker_replication":true}"#,
    );
    let desired =
        attrs(&[("bucket", Value::str(&a_id)), ("role", Value::str(role)), ("rules", Value::List(vec![rule]))]);
    let (rep_id, seen) = create(replication, &west, &desired).await;
    let mut next = desired.clone();
    let rule = json(
        r#"{"id":"to-east","priority":1,"status":"Enabled","destination_bucket":"arn:aws:s3:::mm-files-us-east-1",
            "filter_prefix":"data/","storage_class":"STANDARD_IA","delete_marker_replication":false}"#,
    );
    next.insert("rules".into(), Value::List(vec![rule]));
    replication.update(&west, &rep_id, &seen, &next).await.unwrap();
    assert_no_diff(replication, &next, &replication.read(&west, &rep_id, &next).await.unwrap().unwrap());
    replication.delete(&west, &rep_id, &next).await.unwrap();
    assert!(replication.read(&west, &rep_id, &next).await.unwrap().is_none());

    // A bucket with versions and delete markers: refused without force_destroy, emptied with it.
    let s3 = aws.s3("us-west-1").await;
    for i in 0..3 {
        for _ in 0..2 {
            s3.put_object().bucket(&a_id).key(format!("k{i}")).body(b"x".to_vec().into()).send().await.unwrap();
        }
        s3.delete_object().bucket(&a_id).key(format!("k{i}")).send().await.unwrap();
    }
    let err = bucket.delete(&west, &a_id, &attrs(&[])).await.expect_err("not empty");
    assert!(
        matches!(&err, KindError::Aws { code, hint: Some(h), .. } if code == "BucketNotEmpty" && h.contains("force_destroy")),
        "{err}"
    );
    let state = bucket.read(&west, &a_id, &a).await.unwrap().unwrap();
    bucket.delete(&west, &a_id, &state).await.unwrap();
    assert!(bucket.read(&west, &a_id, &a).await.unwrap().is_none());
    assert!(versioning.read(&west, &a_id, &Attrs::new()).await.unwrap().is_none());
    assert!(pab.read(&west, &a_id, &Attrs::new()).await.unwrap().is_none(), "no bucket");
    bucket.delete(&east, &b_id, &b).await.unwrap();
}
