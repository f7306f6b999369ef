//! The nightly drift job the docs describe, on the whole example as a team
//! runs it: the stand-in production adopted, everything applied, the state
//! in S3. Then `standby drift` runs with exactly what the docs give the job:
//! the non-secret inputs the apply used (a committed var file) and one
//! secret, the replication user's password. Every AWS call each run makes
//! (the emulator's call log) must be allowed by the policy `standby policy`
//! prints for that role: IAM is not enforced by the emulator, so the policy
//! document is held against the calls.

mod common;

use common::{Emulator, Run, copy_dir, repo, scratch};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

const WEST: &str = "us-west-1";
const EAST: &str = "us-east-1";
const STATE_REGION: &str = "us-east-2";
const STATE_BUCKET: &str = "acme-standby-state";
const REPL_PASSWORD: &str = "Repl-User-5$tq";

/// The team's own files beside the example: where the state lives, and the
/// non-secret inputs (committed; the docs' `vars/production.yaml`: a subdirectory, as every YAML file of the directory itself is configuration). The emulator
/// answers on loopback, listens on HTTP and needs no certificate.
const BACKEND: &str = "backend:\n  s3: { bucket: acme-standby-state, key: mattermost/dr.json, region: us-east-2 }\n";
const VARS: &str = r#"search_source_ips: ["127.0.0.0/8"]
deletion_protection: false
force_destroy: true
secrets_recovery_window_in_days: 0
primary_db_cluster: mattermost-prod-aurora
primary_db_instances: ["mattermost-prod-aurora-1", "mattermost-prod-aurora-2"]
primary_files_bucket: mattermost-prod-files-demo
primary_files_replication_role: arn:aws:iam::123456789012:role/mattermost-prod-files-demo-backup-replication
primary_search_domain: mattermost-prod-search
app_ami_id: ami-0abcdef1234567890
app_listener_protocol: HTTP
app_listener_port: 80
app_certificate_arn_primary: null
app_certificate_arn_secondary: null
"#;

/// Every secret the apply needs (the drift job gets one of them).
const SECRETS: &[(&str, &str)] = &[
    ("opensearch_master_password", "Srch-Master-9!kq"),
    ("opensearch_replication_password", REPL_PASSWORD),
    ("opensearch_mattermost_password", "Mm-User-3%vx"),
    ("mattermost_db_password", "Mm-Db-8&pw"),
];

struct World {
    emu: Emulator,
    dir: PathBuf,
    rt: tokio::runtime::Runtime,
    s3: BTreeMap<&'static str, aws_sdk_s3::Client>,
}

impl World {
    fn new() -> World {
        let root = scratch("drift-job");
        copy_dir(&repo().join("examples/mattermost-dr"), &root.join("examples/mattermost-dr"));
        copy_dir(&repo().join("modules"), &root.join("modules"));
        let dir = root.join("examples/mattermost-dr");
        common::write_files(&dir, &[("backend.yaml", BACKEND), ("vars/production.yaml", VARS)]);
        let emu = Emulator::start();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let s3 = rt.block_on(async {
            let mut out = BTreeMap::new();
            for region in [WEST, EAST, STATE_REGION] {
                let config = common::sdk_config(&emu.endpoint(), region).await;
                let conf = aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build();
                out.insert(region, aws_sdk_s3::Client::from_conf(conf));
            }
            out
        });
        let w = World { emu, dir, rt, s3 };
        w.rt.block_on(async {
            let conf = aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsEast2)
                .build();
            w.s3[STATE_REGION]
                .create_bucket()
                .bucket(STATE_BUCKET)
                .create_bucket_configuration(conf)
                .send()
                .await
                .unwrap();
        });
        // Mattermost's production, made outside standby (the demo's stand-in).
        let out = Command::new(repo().join("scripts/demo-standin"))
            .envs(w.emu.sdk_env())
            .env("STANDBY_VAR_opensearch_master_password", SECRETS[0].1)
            .env("STANDBY_DEMO_DB_PASSWORD", "Db-Own-Passw0rd")
            .env("STANDBY_VAR_primary_db_cluster", "mattermost-prod-aurora")
            .env("STANDBY_VAR_primary_db_instances", r#"["mattermost-prod-aurora-1", "mattermost-prod-aurora-2"]"#)
            .env("STANDBY_VAR_primary_files_bucket", "mattermost-prod-files-demo")
            .env("STANDBY_VAR_primary_search_domain", "mattermost-prod-search")
            .output()
            .expect("demo-standin");
        assert!(out.status.success(), "demo-standin: {}", String::from_utf8_lossy(&out.stderr));
        w
    }

    /// standby with the var file and the given secrets only.
    fn run(&self, args: &[&str], secrets: &[(&str, &str)]) -> Run {
        let mut c = self.emu.cmd(&self.dir, args);
        if args[0] != "state" {
            c.args(["--var-file", "vars/production.yaml"]);
        }
        for (k, v) in secrets {
            c.env(format!("STANDBY_VAR_{k}"), v);
        }
        c.output().expect("run standby").into()
    }

    fn ok(&self, code: i32, args: &[&str], secrets: &[(&str, &str)]) -> Run {
        let run = self.run(args, secrets);
        assert_eq!(run.code, code, "standby {}:\n{}", args.join(" "), run.all());
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        run
    }

    fn control(&self, method: &str, path: &str) -> Value {
        let (status, text) = common::http(&self.emu.endpoint(), method, path, None, "", None);
        assert!(status < 300, "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    fn calls(&self) -> Vec<Value> {
        self.control("GET", "/_emulator/calls").as_array().cloned().unwrap_or_default()
    }

    /// The policy `standby policy` prints for a role: its actions.
    fn policy_actions(&self, role: &str) -> BTreeSet<String> {
        let run: Run = common::standby(&self.dir, &["policy", ".", "--for", role]);
        assert_eq!(run.code, 0, "{}", run.all());
        let doc: Value = serde_json::from_str(&run.stdout).unwrap();
        let mut out = BTreeSet::new();
        for s in doc["Statement"].as_array().unwrap() {
            match &s["Action"] {
                Value::String(a) => {
                    out.insert(a.clone());
                }
                Value::Array(list) => out.extend(list.iter().map(|a| a.as_str().unwrap().to_string())),
                other => panic!("bad Action {other}"),
            }
        }
        out
    }
}

/// Every call in the log is in standby's table of calls, and the policy
/// allows all the IAM actions the table says it needs. Returns the calls
/// counted by (service, operation).
fn assert_allowed(calls: &[Value], policy: &BTreeSet<String>, role: &str) -> BTreeMap<(String, String), usize> {
    let mut counted = BTreeMap::new();
    let mut problems = Vec::new();
    for c in calls {
        let (service, op) = (c["service"].as_str().unwrap(), c["operation"].as_str().unwrap());
        *counted.entry((service.to_string(), op.to_string())).or_insert(0) += 1;
        let known = standby::permissions::find(service, op);
        if known.is_empty() {
            problems.push(format!("{service}:{op} is not in src/permissions"));
            continue;
        }
        // An operation made in several roles (a state DeleteObject, a
        // canary's DeleteObject of a version) is covered when one of them is.
        let uncovered = |k: &&standby::permissions::Call| -> Vec<String> {
            k.actions().into_iter().filter(|a| !policy.contains(a) && a != "sts:GetCallerIdentity").collect()
        };
        if known.iter().all(|k| !uncovered(k).is_empty()) {
            let missing: BTreeSet<String> = known.iter().flat_map(uncovered).collect();
            problems.push(format!("{service}:{op} needs {missing:?}, not in the {role} policy"));
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "the {role} policy does not cover the calls made:\n{}", problems.join("\n"));
    counted
}

fn report(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.all()))
}

fn kinds_of(doc: &Value) -> Vec<(String, String, String)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["address"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_documented_drift_job_runs_on_the_whole_example_with_its_policy_and_one_secret() {
    let w = World::new();
    w.control("DELETE", "/_emulator/calls");
    w.ok(0, &["apply", ".", "--auto-approve"], SECRETS);
    // Every call the whole apply made (adoption, both regions, every tier)
    // is one the apply policy allows.
    let applied = assert_allowed(&w.calls(), &w.policy_actions("apply"), "apply");
    assert!(applied.contains_key(&("s3".into(), "PutObject".into())), "the state was written to S3: {applied:?}");

    // The nightly job: the var file and the replication user's password, nothing else.
    let job = [("opensearch_replication_password", REPL_PASSWORD)];
    w.control("DELETE", "/_emulator/calls");
    let clean = w.ok(0, &["drift", ".", "--format", "json"], &job);
    let doc = report(&clean);
    assert_eq!(doc["findings"], json!([]), "{}", clean.stdout);
    assert_eq!(doc["scope"]["prefixes"], json!(["mattermost-dr"]), "discovery is on with the root `prefix`");
    let checks = doc["checks"].as_array().unwrap();
    let replication: Vec<&Value> = checks.iter().filter(|c| c["id"] == "search.replication").collect();
    assert!(!replication.is_empty() && replication.iter().all(|c| c["status"] == "pass"), "{checks:#?}");
    let warnings: Vec<&str> = doc["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    assert!(
        warnings.iter().any(|w| w.contains("opensearch_internal_user") && w.contains("not compared")),
        "what signs in as the master user says it was not compared: {warnings:#?}"
    );
    let calls = w.calls();
    let counted = assert_allowed(&calls, &w.policy_actions("drift"), "drift");
    // Every call succeeds, but the files canary's HeadObject of a replica
    // that is not there yet (404 until S3 has copied it).
    let waiting_for_replica = |c: &Value| c["operation"] == "HeadObject" && c["status"] == 404;
    // ...and the drills' record, not there until a drill has run.
    let no_drill_yet = |c: &Value| {
        c["operation"] == "GetObject" && c["status"] == 404 && c["targets"]["Key"].as_str().unwrap().ends_with(".drill")
    };
    assert!(
        calls
            .iter()
            .all(|c| c["status"].as_i64().is_some_and(|s| s < 300) || waiting_for_replica(c) || no_drill_yet(c)),
        "{calls:#?}"
    );
    let state: Value = serde_json::from_str(&w.ok(0, &["state", "pull"], &[]).stdout).unwrap();
    let resources = state["resources"].as_array().unwrap().len();
    eprintln!("drift of the whole example: {} AWS calls for {resources} resources", calls.len());
    for ((service, op), n) in &counted {
        eprintln!("  {n:3} {service}:{op}");
    }

    // Out of band: a bucket in the topology's name scope, tagged as standby
    // tags, made by hand; versioning suspended on the secondary's bucket; the
    // primary's replication rules deleted.
    w.rt.block_on(async {
        let west = aws_sdk_s3::types::CreateBucketConfiguration::builder()
            .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest1)
            .build();
        w.s3[WEST]
            .create_bucket()
            .bucket("mattermost-dr-scratch")
            .create_bucket_configuration(west)
            .send()
            .await
            .unwrap();
        let tags = aws_sdk_s3::types::Tagging::builder()
            .tag_set(aws_sdk_s3::types::Tag::builder().key("managed-by").value("standby").build().unwrap())
            .build()
            .unwrap();
        w.s3[WEST].put_bucket_tagging().bucket("mattermost-dr-scratch").tagging(tags).send().await.unwrap();
        let suspended = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
            .build();
        w.s3[EAST]
            .put_bucket_versioning()
            .bucket("mattermost-dr-files-us-east-1")
            .versioning_configuration(suspended)
            .send()
            .await
            .unwrap();
        w.s3[WEST].delete_bucket_replication().bucket("mattermost-prod-files-demo").send().await.unwrap();
    });
    let drifted = w.ok(3, &["drift", ".", "--format", "json"], &job);
    let doc = report(&drifted);
    let found = kinds_of(&doc);
    let has = |k: &str, a: &str, p: &str| found.contains(&(k.to_string(), a.to_string(), p.to_string()));
    let versioning = "module.files.aws_s3_bucket_versioning.secondary_versioning";
    let replication = "module.files.aws_s3_bucket_replication.primary_to_secondary";
    assert!(has("unmanaged", "aws_s3_bucket.mattermost-dr-scratch", ""), "{found:#?}");
    // Drift is drift, and what it breaks is unhealthy: both are reported.
    assert!(has("changed", versioning, "status") && has("unhealthy", versioning, "status"), "{found:#?}");
    assert!(has("missing", replication, "") && has("unhealthy", replication, "rules"), "{found:#?}");
    let counts = &doc["counts"];
    assert!(counts["changed"].as_i64() >= Some(1) && counts["missing"].as_i64() >= Some(1), "{counts}");
    assert_eq!(counts["unmanaged"], 1, "{counts}");
}
