//! File storage in two regions (modules/s3-bidirectional-replication, as
//! examples/mattermost-dr uses it) through the built binary, each test against
//! its own emulator. What AWS holds is checked with the AWS SDK directly, never
//! through standby.

mod common;

use common::{Emulator, Run, copy_dir, repo, scratch};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use aws_sdk_iam::Client as Iam;
use aws_sdk_s3::Client as S3;
use aws_sdk_s3::types::{BucketVersioningStatus, DeleteMarkerReplicationStatus, ReplicaModificationsStatus};
use serde_json::{Value, json};

const WEST: &str = "us-west-1";
const EAST: &str = "us-east-1";
const PRIMARY: &str = "mattermost-dr-files-us-west-1";
const SECONDARY: &str = "mattermost-dr-files-us-east-1";
const ROLE_PRIMARY: &str = "mattermost-dr-files-replication-us-west-1";
const ROLE_SECONDARY: &str = "mattermost-dr-files-replication-us-east-1";

/// Every resource the module declares.
const ADDRESSES: [&str; 12] = [
    "module.files.aws_iam_role.primary_replication",
    "module.files.aws_iam_role.secondary_replication",
    "module.files.aws_iam_role_policy.primary_replication_access",
    "module.files.aws_iam_role_policy.secondary_replication_access",
    "module.files.aws_s3_bucket.primary",
    "module.files.aws_s3_bucket.secondary",
    "module.files.aws_s3_bucket_public_access_block.primary_public_access",
    "module.files.aws_s3_bucket_public_access_block.secondary_public_access",
    "module.files.aws_s3_bucket_replication.primary_to_secondary",
    "module.files.aws_s3_bucket_replication.secondary_to_primary",
    "module.files.aws_s3_bucket_versioning.primary_versioning",
    "module.files.aws_s3_bucket_versioning.secondary_versioning",
];

// ------------------------------------------------------------------ harness

/// A copy of a fixture under tests/fixtures/storage/, with the module it uses,
/// at the same relative paths as in the repository.
fn copy_fixture(name: &str) -> PathBuf {
    let root = scratch(&format!("storage-{name}"));
    let rel = Path::new("tests/fixtures/storage").join(name);
    copy_dir(&repo().join(&rel), &root.join(&rel));
    let module = "modules/s3-bidirectional-replication";
    copy_dir(&repo().join(module), &root.join(module));
    root.join(rel)
}

/// One emulator, a configuration directory and SDK clients for both regions.
struct World {
    emu: Emulator,
    dir: PathBuf,
    rt: tokio::runtime::Runtime,
    s3: BTreeMap<&'static str, S3>,
    iam: Iam,
}

impl World {
    fn new(fixture: &str) -> World {
        let emu = Emulator::start();
        let dir = copy_fixture(fixture);
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let endpoint = emu.endpoint();
        let (s3, iam) = rt.block_on(async {
            let config = |region: &'static str| common::sdk_config(&endpoint, region);
            let mut s3 = BTreeMap::new();
            for region in [WEST, EAST] {
                let conf = aws_sdk_s3::config::Builder::from(&config(region).await).force_path_style(true).build();
                s3.insert(region, S3::from_conf(conf));
            }
            (s3, Iam::new(&config(EAST).await))
        });
        World { emu, dir, rt, s3, iam }
    }

    fn s3(&self, region: &str) -> &S3 {
        &self.s3[region]
    }

    fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    fn run(&self, args: &[&str]) -> Run {
        self.emu.standby(&self.dir, args)
    }

    /// Runs standby and insists on an exit code.
    fn ok(&self, code: i32, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, code, "standby {}:\n{}", args.join(" "), run.all());
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        run
    }

    fn state_list(&self) -> Vec<String> {
        self.ok(0, &["state", "list"]).stdout.lines().map(str::to_string).collect()
    }

    /// The AWS API calls the emulator received (service, region, operation, status).
    fn calls(&self) -> Vec<Value> {
        let body = http(&self.emu.endpoint(), "GET", "/_emulator/calls");
        serde_json::from_str::<Value>(&body).unwrap().as_array().unwrap().clone()
    }

    fn forget_calls(&self) {
        http(&self.emu.endpoint(), "DELETE", "/_emulator/calls");
    }
}

/// A plain HTTP/1.1 request to the emulator's control API; returns the body.
fn http(endpoint: &str, method: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(addr).expect("connect to the emulator");
    write!(conn, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"), "{method} {path}: {head}");
    body.to_string()
}

/// Operation names of the calls, counted.
fn count_ops(calls: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for c in calls {
        *out.entry(c["operation"].as_str().unwrap_or("?").to_string()).or_default() += 1;
    }
    out
}

/// IAM returns policy documents URL-encoded (RFC 3986).
fn policy_doc(encoded: &str) -> Value {
    let bytes = encoded.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&encoded[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    serde_json::from_slice(&out).unwrap_or_else(|e| panic!("policy {encoded:?}: {e}"))
}

/// A string or list of strings as a set.
fn strings(v: &Value) -> BTreeSet<String> {
    match v {
        Value::String(s) => [s.clone()].into(),
        Value::Array(a) => a.iter().map(|s| s.as_str().unwrap().to_string()).collect(),
        other => panic!("not a string or list: {other}"),
    }
}

/// Statements of a policy as (effect, actions, resources).
fn statements(doc: &Value) -> Vec<(String, BTreeSet<String>, BTreeSet<String>)> {
    let list = match &doc["Statement"] {
        Value::Array(a) => a.clone(),
        s @ Value::Object(_) => vec![s.clone()],
        other => panic!("Statement: {other}"),
    };
    list.iter()
        .map(|s| (s["Effect"].as_str().unwrap().to_string(), strings(&s["Action"]), strings(&s["Resource"])))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// What the plan would do, from `plan --json`: address → actions, no-ops left out.
fn planned_actions(w: &World, extra: &[&str]) -> BTreeMap<String, Vec<String>> {
    let run = w.run(&[&["plan", ".", "--json"][..], extra].concat());
    assert_eq!(run.code, 0, "{}", run.all());
    let doc: Value = serde_json::from_str(&run.stdout).expect("plan JSON");
    doc["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"]["actions"] != json!(["no-op"]))
        .map(|c| {
            let actions = c["change"]["actions"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string());
            (c["address"].as_str().unwrap().to_string(), actions.collect())
        })
        .collect()
}

/// The emulator's port varies per run (plans show no other run-specific value).
fn redact(text: &str, emu: &Emulator) -> String {
    text.replace(&emu.endpoint(), "http://127.0.0.1:<port>")
}

// --------------------------------------------------------- what AWS holds

/// Checks, with the SDK, that AWS holds the module's storage as designed.
fn assert_storage_in_place(w: &World) {
    let arn = |b: &str| format!("arn:aws:s3:::{b}");
    let role_arn = |r: &str| format!("arn:aws:iam::123456789012:role/{r}");
    for (region, bucket, other, role) in
        [(WEST, PRIMARY, SECONDARY, ROLE_PRIMARY), (EAST, SECONDARY, PRIMARY, ROLE_SECONDARY)]
    {
        let s3 = w.s3(region);
        w.block(async {
            let v = s3.get_bucket_versioning().bucket(bucket).send().await.unwrap();
            assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled), "{bucket} versioning");
            let pab = s3.get_public_access_block().bucket(bucket).send().await.unwrap();
            let pab = pab.public_access_block_configuration().expect("block public access");
            let all = [pab.block_public_acls(), pab.block_public_policy(), pab.ignore_public_acls()];
            assert_eq!(all, [Some(true); 3], "{bucket} block public access");
            assert_eq!(pab.restrict_public_buckets(), Some(true), "{bucket} block public access");

            let head = s3.head_bucket().bucket(bucket).send().await.unwrap();
            assert_eq!(head.bucket_region(), Some(region), "{bucket} region");

            let conf = s3.get_bucket_replication().bucket(bucket).send().await.unwrap();
            let conf = conf.replication_configuration().expect("replication configuration");
            assert_eq!(conf.role(), role_arn(role), "{bucket} replication role");
            let [rule] = conf.rules() else { panic!("{bucket}: one rule expected, got {:?}", conf.rules()) };
            assert_eq!(rule.status().as_str(), "Enabled", "{bucket}");
            assert_eq!(rule.destination().map(|d| d.bucket()), Some(arn(other).as_str()), "{bucket} destination");
            let rm = rule.source_selection_criteria().and_then(|c| c.replica_modifications()).map(|m| m.status());
            assert_eq!(rm, Some(&ReplicaModificationsStatus::Enabled), "{bucket} replica modification sync");
            let dm = rule.delete_marker_replication().and_then(|d| d.status());
            assert_eq!(dm, Some(&DeleteMarkerReplicationStatus::Enabled), "{bucket} delete markers");
        });

        w.block(async {
            let got = w.iam.get_role().role_name(role).send().await.unwrap();
            let trust = policy_doc(got.role().unwrap().assume_role_policy_document().unwrap());
            let [st] = &trust["Statement"].as_array().unwrap()[..] else { panic!("{role}: {trust}") };
            assert_eq!(st["Effect"], "Allow", "{role}");
            assert_eq!(strings(&st["Principal"]["Service"]), set(&["s3.amazonaws.com"]), "{role} trust");
            assert_eq!(strings(&st["Action"]), set(&["sts:AssumeRole"]), "{role} trust");

            let inline = w.iam.list_role_policies().role_name(role).send().await.unwrap();
            assert_eq!(inline.policy_names(), ["replicate"], "{role}");
            let p = w.iam.get_role_policy().role_name(role).policy_name("replicate").send().await.unwrap();
            let mut got = statements(&policy_doc(p.policy_document()));
            got.sort();
            let mut want = vec![
                ("Allow".to_string(), set(&["s3:GetReplicationConfiguration", "s3:ListBucket"]), [arn(bucket)].into()),
                (
                    "Allow".to_string(),
                    set(&["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"]),
                    [format!("{}/*", arn(bucket))].into(),
                ),
                (
                    "Allow".to_string(),
                    set(&["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]),
                    [format!("{}/*", arn(other))].into(),
                ),
            ];
            want.sort();
            assert_eq!(got, want, "{role} permissions");
            let attached = w.iam.list_attached_role_policies().role_name(role).send().await.unwrap();
            assert!(attached.attached_policies().is_empty(), "{role}: {attached:?}");
        });
    }
}

fn bucket_names(w: &World) -> Vec<String> {
    w.block(async {
        let out = w.s3(WEST).list_buckets().send().await.unwrap();
        let mut names: Vec<String> = out.buckets().iter().filter_map(|b| b.name().map(str::to_string)).collect();
        names.sort();
        names
    })
}

fn role_names(w: &World) -> Vec<String> {
    w.block(async {
        let out = w.iam.list_roles().send().await.unwrap();
        let mut names: Vec<String> = out.roles().iter().map(|r| r.role_name().to_string()).collect();
        names.sort();
        names
    })
}

// ------------------------------------------------------------------- tests

/// Empty account → plan lists everything (exit 2), apply creates it, AWS holds
/// it as designed, the next plan has nothing to do (exit 0).
#[test]
fn empty_account_plan_apply_then_no_changes() {
    let w = World::new("files");
    let plan = w.ok(2, &["plan", ".", "--detailed-exitcode"]);
    for address in ADDRESSES {
        assert!(plan.stdout.contains(&format!("# {address} ")), "{address} missing:\n{}", plan.stdout);
    }
    assert_eq!(plan.stdout.matches(" will be created").count(), ADDRESSES.len(), "{}", plan.stdout);
    assert!(plan.stdout.contains("Plan: 12 to add, 0 to change, 0 to destroy."), "{}", plan.stdout);
    assert!(w.calls().is_empty(), "planning an empty state needs no AWS call: {:?}", w.calls());

    let apply = w.ok(0, &["apply", ".", "--auto-approve"]);
    assert!(apply.stdout.contains("Apply complete! Resources: 12 added, 0 changed, 0 destroyed."), "{}", apply.stdout);
    assert_eq!(w.state_list(), ADDRESSES);
    assert_storage_in_place(&w);
    assert_eq!(bucket_names(&w), [SECONDARY, PRIMARY]);

    let again = w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

/// Changes made outside standby (versioning suspended, a replication
/// configuration deleted, a statement added to a role policy) show as exactly
/// those three changes, readable; apply repairs them.
#[test]
fn drift_is_shown_and_repaired() {
    let w = World::new("files");
    w.ok(0, &["apply", ".", "--auto-approve"]);

    w.block(async {
        let suspended =
            aws_sdk_s3::types::VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended).build();
        w.s3(WEST).put_bucket_versioning().bucket(PRIMARY).versioning_configuration(suspended).send().await.unwrap();
        w.s3(EAST).delete_bucket_replication().bucket(SECONDARY).send().await.unwrap();
        let p = w.iam.get_role_policy().role_name(ROLE_PRIMARY).policy_name("replicate").send().await.unwrap();
        let mut doc = policy_doc(p.policy_document());
        doc["Statement"].as_array_mut().unwrap().push(json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}));
        w.iam
            .put_role_policy()
            .role_name(ROLE_PRIMARY)
            .policy_name("replicate")
            .policy_document(doc.to_string())
            .send()
            .await
            .unwrap();
    });

    let expected: BTreeMap<String, Vec<String>> = [
        ("module.files.aws_iam_role_policy.primary_replication_access", "update"),
        // The configuration is gone from AWS: it is made again.
        ("module.files.aws_s3_bucket_replication.secondary_to_primary", "create"),
        ("module.files.aws_s3_bucket_versioning.primary_versioning", "update"),
    ]
    .into_iter()
    .map(|(a, action)| (a.to_string(), vec![action.to_string()]))
    .collect();
    assert_eq!(planned_actions(&w, &[]), expected);

    let plan = w.ok(2, &["plan", ".", "--detailed-exitcode"]);
    assert!(plan.stdout.contains("Plan: 1 to add, 2 to change, 0 to destroy."), "{}", plan.stdout);
    assert!(plan.stdout.contains(r#"~ status = "Suspended" -> "Enabled""#), "{}", plan.stdout);
    insta::assert_snapshot!("drift_plan_human", redact(&plan.stdout, &w.emu));

    w.ok(0, &["apply", ".", "--auto-approve"]);
    assert_storage_in_place(&w);
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
}

/// A new bucket name (here through the prefix) replaces the buckets and
/// everything named after them, and says so.
#[test]
fn renamed_bucket_forces_replacement() {
    let w = World::new("files");
    w.ok(0, &["apply", ".", "--auto-approve"]);
    let var = ["--var", "prefix=mm-renamed"];

    let plan = w.ok(2, &[&["plan", ".", "--detailed-exitcode"][..], &var].concat());
    for bucket in ["primary", "secondary"] {
        let header = format!("# module.files.aws_s3_bucket.{bucket} (");
        let at = plan.stdout.find(&header).unwrap_or_else(|| panic!("{header} missing:\n{}", plan.stdout));
        let block = &plan.stdout[at..plan.stdout[at..].find("\n\n").map_or(plan.stdout.len(), |e| at + e)];
        assert!(block.contains("must be replaced"), "{block}");
        assert!(block.contains("(`bucket` forces replacement)"), "{block}");
        assert!(block.contains(&format!("-/+ resource \"aws_s3_bucket\" \"{bucket}\"")), "{block}");
        assert!(block.contains("# forces replacement"), "{block}");
    }
    let actions = planned_actions(&w, &var);
    assert_eq!(actions.len(), 12, "{actions:?}");
    assert!(actions.values().all(|a| a == &["delete", "create"]), "{actions:?}");

    w.ok(0, &[&["apply", ".", "--auto-approve"][..], &var].concat());
    assert_eq!(bucket_names(&w), ["mm-renamed-files-us-east-1", "mm-renamed-files-us-west-1"]);
    assert_eq!(role_names(&w), ["mm-renamed-files-replication-us-east-1", "mm-renamed-files-replication-us-west-1"]);
    w.ok(0, &[&["plan", ".", "--detailed-exitcode"][..], &var].concat());
}

/// Destroy removes everything, buckets holding object versions and delete
/// markers included when `force_destroy` is set.
#[test]
fn destroy_leaves_nothing_behind() {
    let w = World::new("files");
    let var = ["--var", "force_destroy=true"];
    w.ok(0, &[&["apply", ".", "--auto-approve"][..], &var].concat());
    for (region, bucket) in [(WEST, PRIMARY), (EAST, SECONDARY)] {
        let s3 = w.s3(region);
        w.block(async {
            for key in ["config.json", "data/a.png"] {
                for body in ["one", "two", "three"] {
                    s3.put_object().bucket(bucket).key(key).body(body.as_bytes().to_vec().into()).send().await.unwrap();
                }
            }
            s3.delete_object().bucket(bucket).key("config.json").send().await.unwrap();
        });
    }
    // Each bucket holds its own versions and, replicated both ways, the
    // other's (delete markers too): twelve versions and two markers.
    for (region, bucket) in [(WEST, PRIMARY), (EAST, SECONDARY)] {
        let s3 = w.s3(region);
        let t0 = std::time::Instant::now();
        loop {
            let v = w.block(async { s3.list_object_versions().bucket(bucket).send().await.unwrap() });
            let seen = (v.versions().len(), v.delete_markers().len());
            if seen == (12, 2) {
                break;
            }
            assert!(t0.elapsed() < std::time::Duration::from_secs(10), "{bucket}: {seen:?}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let run = w.ok(0, &[&["destroy", ".", "--auto-approve"][..], &var].concat());
    assert!(run.stdout.contains("Destroy complete! Resources: 12 destroyed."), "{}", run.stdout);

    assert!(bucket_names(&w).is_empty(), "{:?}", bucket_names(&w));
    assert!(role_names(&w).is_empty(), "{:?}", role_names(&w));
    let local = w
        .block(async { w.iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).send().await.unwrap() });
    assert!(local.policies().is_empty(), "{local:?}");
    assert!(w.state_list().is_empty());
    w.ok(2, &[&["plan", ".", "--detailed-exitcode"][..], &var].concat());
}

/// Bad input is refused with a located error (file:line:col, exit 1) before
/// any AWS call, with applied resources on record (so a refresh would be due).
#[test]
fn bad_input_is_refused_before_any_aws_call() {
    let w = World::new("files");
    w.ok(0, &["apply", ".", "--auto-approve"]);
    let state = std::fs::read(w.dir.join("state/standby.json")).unwrap();
    let cases: [(&str, &[&str]); 4] = [
        (
            "bucket_name",
            &[
                "bad.yaml:7:7: aws_s3_bucket.exports: invalid bucket name \"Mattermost_Exports\"",
                "use lowercase letters, digits, hyphens and dots",
            ],
        ),
        ("policy_json", &["bad.yaml:8:15: aws_iam_role_policy.exports_reader: property `policy`: invalid JSON"]),
        (
            "unversioned_destination",
            &[
                "bad.yaml:28:7: aws_s3_bucket_replication.exports_to_copy: rules[0]: destination bucket \"mattermost-dr-exports-copy\" is not versioned",
                "aws_s3_bucket_versioning",
            ],
        ),
        (
            "unknown_property",
            &["bad.yaml:8:7: aws_s3_bucket.exports: unknown property `force_destory`", "did you mean `force_destroy`?"],
        ),
    ];
    for (case, needles) in cases {
        std::fs::copy(repo().join("tests/fixtures/storage/bad").join(format!("{case}.yaml")), w.dir.join("bad.yaml"))
            .unwrap();
        for command in [&["plan", "."][..], &["apply", ".", "--auto-approve"], &["validate", "."]] {
            w.forget_calls();
            let run = w.ok(1, command);
            for needle in needles {
                assert!(run.stderr.contains(needle), "{case} ({}): missing {needle:?} in\n{}", command[0], run.stderr);
            }
            assert!(run.stdout.is_empty(), "{case}: {}", run.stdout);
            assert_eq!(w.calls(), Vec::<Value>::new(), "{case} ({}): AWS was called", command[0]);
        }
        assert_eq!(std::fs::read(w.dir.join("state/standby.json")).unwrap(), state, "{case}: state changed");
    }
    std::fs::remove_file(w.dir.join("bad.yaml")).unwrap();
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
}

/// An AWS error in the middle of an apply fails that resource (and what needs
/// it) with AWS's code and message, keeps everything else, and the next apply
/// carries on from there once the cause is gone.
#[test]
fn aws_error_mid_apply_then_resume() {
    let w = World::new("files");
    let foreign_trust = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    w.block(async {
        w.iam
            .create_role()
            .role_name(ROLE_PRIMARY)
            .assume_role_policy_document(foreign_trust.to_string())
            .send()
            .await
            .unwrap()
    });

    let run = w.ok(1, &["apply", ".", "--auto-approve"]);
    assert!(
        run.stderr.contains(&format!(
            "module.files.aws_iam_role.primary_replication: create failed: CreateRole: EntityAlreadyExists: Role with name {ROLE_PRIMARY} already exists."
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: it already exists outside standby's state"), "{}", run.stderr);
    let blocked = [
        "module.files.aws_iam_role.primary_replication",
        "module.files.aws_iam_role_policy.primary_replication_access",
        "module.files.aws_s3_bucket_replication.primary_to_secondary",
    ];
    for address in &blocked[1..] {
        assert!(run.stderr.contains(&format!("  - {address}")), "{address} not reported skipped:\n{}", run.stderr);
    }
    let done: Vec<&str> = ADDRESSES.iter().copied().filter(|a| !blocked.contains(a)).collect();
    assert_eq!(w.state_list(), done);
    // The others are really there, and the foreign role was left alone.
    assert_eq!(bucket_names(&w), [SECONDARY, PRIMARY]);
    w.block(async {
        let conf = w.s3(EAST).get_bucket_replication().bucket(SECONDARY).send().await.unwrap();
        assert!(conf.replication_configuration().is_some());
        let role = w.iam.get_role().role_name(ROLE_PRIMARY).send().await.unwrap();
        let trust = policy_doc(role.role().unwrap().assume_role_policy_document().unwrap());
        assert_eq!(trust, foreign_trust);
    });

    w.block(async { w.iam.delete_role().role_name(ROLE_PRIMARY).send().await.unwrap() });
    let expected: BTreeMap<String, Vec<String>> =
        blocked.iter().map(|a| (a.to_string(), vec!["create".to_string()])).collect();
    assert_eq!(planned_actions(&w, &[]), expected);
    let run = w.ok(0, &["apply", ".", "--auto-approve"]);
    assert!(run.stdout.contains("Apply complete! Resources: 3 added, 0 changed, 0 destroyed."), "{}", run.stdout);
    assert_eq!(w.state_list(), ADDRESSES);
    assert_storage_in_place(&w);
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
}

/// A refresh costs each kind the calls its `read` documents, and writes nothing:
/// role 1, inline role policy 1, managed policy 2, attachment 1, bucket 2,
/// versioning 1, public access block 1, replication 1.
#[test]
fn refresh_calls_per_kind() {
    let w = World::new("all-kinds");
    w.ok(0, &["apply", ".", "--auto-approve"]);
    // (kind, operations its read makes, documented calls per read)
    let kinds: [(&str, &[&str], usize); 8] = [
        ("aws_iam_role", &["GetRole"], 1),
        ("aws_iam_role_policy", &["GetRolePolicy"], 1),
        ("aws_iam_policy", &["GetPolicy", "GetPolicyVersion"], 2),
        ("aws_iam_role_policy_attachment", &["ListAttachedRolePolicies"], 1),
        ("aws_s3_bucket", &["HeadBucket", "GetBucketTagging"], 2),
        ("aws_s3_bucket_versioning", &["GetBucketVersioning"], 1),
        ("aws_s3_bucket_public_access_block", &["GetPublicAccessBlock"], 1),
        ("aws_s3_bucket_replication", &["GetBucketReplication"], 1),
    ];
    let list = w.state_list();
    let instances = |kind: &str| list.iter().filter(|a| a.split('.').any(|part| part == kind)).count();

    w.forget_calls();
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    let calls = w.calls();
    // Reads only (an untagged bucket answers GetBucketTagging with 404 NoSuchTagSet).
    for c in &calls {
        let op = c["operation"].as_str().unwrap();
        assert!(["Get", "Head", "List"].iter().any(|p| op.starts_with(p)), "a refresh wrote: {c}");
        assert!(c["status"] == 200 || op == "GetBucketTagging" && c["status"] == 404, "{c}");
    }
    let mut ops = count_ops(&calls);
    let mut measured = Vec::new();
    for (kind, kind_ops, per_read) in kinds {
        let n = instances(kind);
        assert!(n > 0, "{kind} not in the fixture");
        let made: usize = kind_ops.iter().map(|op| ops.remove(*op).unwrap_or(0)).sum();
        measured.push(format!("{kind}: {made} calls for {n} ({})", made as f64 / n as f64));
        assert_eq!(made, per_read * n, "{kind}: {made} calls for {n} instances, documented {per_read} per read");
    }
    assert!(ops.is_empty(), "calls no kind's read accounts for: {ops:?}");
    eprintln!("calls per read:\n  {}", measured.join("\n  "));
}

fn suspend_primary_versioning(w: &World) {
    w.block(async {
        let suspended =
            aws_sdk_s3::types::VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended).build();
        w.s3(WEST).put_bucket_versioning().bucket(PRIMARY).versioning_configuration(suspended).send().await.unwrap();
    });
}

fn primary_versioning(w: &World) -> Option<BucketVersioningStatus> {
    w.block(async { w.s3(WEST).get_bucket_versioning().bucket(PRIMARY).send().await.unwrap().status().cloned() })
}

/// A saved plan repairs what it showed: apply works from the state the plan
/// refreshed, not the older one on disk (the bucket kind only sends tags
/// that differ from what it believes AWS has).
#[test]
fn saved_plan_repairs_drift_it_saw() {
    let w = World::new("files");
    w.ok(0, &["apply", ".", "--auto-approve"]);
    let tags = |w: &World| -> BTreeMap<String, String> {
        w.block(async {
            let t = w.s3(WEST).get_bucket_tagging().bucket(PRIMARY).send().await.unwrap();
            t.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
        })
    };
    let wanted = tags(&w);
    w.block(async {
        let tag = aws_sdk_s3::types::Tag::builder().key("app").value("changed-by-hand").build().unwrap();
        let set = aws_sdk_s3::types::Tagging::builder().tag_set(tag).build().unwrap();
        w.s3(WEST).put_bucket_tagging().bucket(PRIMARY).tagging(set).send().await.unwrap();
    });
    let plan = w.ok(2, &["plan", ".", "--out", "repair.tfplan", "--detailed-exitcode"]);
    assert!(plan.stdout.contains("changed-by-hand"), "{}", plan.stdout);
    let apply = w.ok(0, &["apply", "repair.tfplan"]);
    assert!(apply.stdout.contains("0 added, 1 changed, 0 destroyed"), "{}", apply.stdout);
    assert_eq!(tags(&w), wanted, "the saved plan restored the tags");
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
}

/// `--refresh-only` records what AWS reports and changes nothing in AWS.
#[test]
fn refresh_only_apply_records_drift_without_touching_aws() {
    let w = World::new("files");
    w.ok(0, &["apply", ".", "--auto-approve"]);
    suspend_primary_versioning(&w);
    w.ok(2, &["plan", ".", "--refresh-only", "--detailed-exitcode"]);
    w.ok(0, &["apply", ".", "--refresh-only", "--auto-approve"]);
    assert_eq!(primary_versioning(&w), Some(BucketVersioningStatus::Suspended), "AWS is left alone");
    let shown = w.ok(0, &["state", "show", "module.files.aws_s3_bucket_versioning.primary_versioning"]);
    let status = |l: &str| l.trim_start().strip_prefix("status").map(|r| r.trim_start().to_string());
    assert!(shown.stdout.lines().any(|l| status(l).as_deref() == Some(r#"= "Suspended""#)), "{}", shown.stdout);
    // Now the state agrees with AWS; without refreshing, the plan still repairs.
    let plan = w.ok(2, &["plan", ".", "--refresh=false", "--detailed-exitcode"]);
    assert!(plan.stdout.contains(r#"~ status = "Suspended" -> "Enabled""#), "{}", plan.stdout);
}
