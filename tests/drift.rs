//! `standby drift` and `standby preflight` through the built binary, each
//! test against its own emulator. Out-of-band changes are made the way a
//! person would make them: with the AWS SDK and over the domains' REST API,
//! never through standby.

mod common;

use aws_sdk_iam::Client as Iam;
use aws_sdk_s3::Client as S3;
use common::standin::{BUCKET, CLUSTER, Example, SEARCH_PASSWORD, example_vars, whole_example};
use common::{Run, assert_valid};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const WEST: &str = "us-west-1";
const EAST: &str = "us-east-1";
const FOLLOWER: &str = "mattermost-dr-os-us-east-1";
const CLUSTER_EAST: &str = "mattermost-dr-db-us-east-1";
const BUCKET_EAST: &str = "mattermost-dr-files-us-east-1";
const ROLE_WEST: &str = "mattermost-dr-files-replication-us-west-1";

/// The whole example (every file of it: the app tier, DNS, secrets and the
/// imports) against the stand-in production it adopts
/// (scripts/demo-standin), with SDK clients to change things out of band.
struct World {
    ex: Example,
    rt: tokio::runtime::Runtime,
    s3: BTreeMap<&'static str, S3>,
    cw: BTreeMap<&'static str, aws_sdk_cloudwatch::Client>,
    iam: Iam,
}

impl World {
    fn example() -> World {
        let ex = Example::whole_with_standin();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let endpoint = ex.emu.endpoint();
        let (s3, cw, iam) = rt.block_on(async {
            let mut s3 = BTreeMap::new();
            let mut cw = BTreeMap::new();
            let mut iam = None;
            for region in [WEST, EAST] {
                let config = common::sdk_config(&endpoint, region).await;
                let conf = aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build();
                s3.insert(region, S3::from_conf(conf));
                cw.insert(region, aws_sdk_cloudwatch::Client::new(&config));
                iam.get_or_insert_with(|| Iam::new(&config));
            }
            (s3, cw, iam.unwrap())
        });
        World { ex, rt, s3, cw, iam }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        self.ex.cmd(args)
    }

    /// Drift runs without its canaries here, strictly read-only (they
    /// write; tests/canaries.rs is their test).
    fn run(&self, args: &[&str]) -> Run {
        let mut args = args.to_vec();
        if args.first() == Some(&"drift") {
            args.push("--no-canaries");
        }
        self.cmd(&args).output().expect("run standby").into()
    }

    fn ok(&self, code: i32, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, code, "standby {}:\n{}", args.join(" "), run.all());
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        run
    }

    fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, text) = http(&self.ex.emu.endpoint(), method, path, None, body.map(|b| b.to_string()).as_deref());
        assert!(status < 300, "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    fn host(&self, name: &str) -> String {
        let domains = self.control("GET", "/_emulator/opensearch/domains", None);
        let d = domains.as_array().unwrap().iter().find(|d| d["domain"] == name).expect("domain").clone();
        d["endpoints"][0].as_str().unwrap().to_string()
    }

    /// A request to a fake domain's REST API as its master user (basic auth,
    /// as the example's replication resources use).
    fn rest(&self, host: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, text) =
            http(&self.ex.emu.endpoint(), method, path, Some(host), body.map(|b| b.to_string()).as_deref());
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// The whole example applied: production adopted, the secondary region,
    /// the app tier, DNS and secrets made.
    fn applied() -> World {
        let w = World::example();
        w.ok(0, &["apply", ".", "--auto-approve"]);
        w
    }

    /// Publishes Aurora lag datapoints for a secondary cluster, as RDS does
    /// on AWS (`AWS/RDS`, `DBClusterIdentifier`, milliseconds), each
    /// `(seconds ago, value)`.
    fn publish_lag(&self, region: &'static str, cluster: &str, metric: &str, points: &[(u64, f64)]) {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
        let now = std::time::SystemTime::now();
        let data: Vec<MetricDatum> = points
            .iter()
            .map(|(ago, v)| {
                MetricDatum::builder()
                    .metric_name(metric)
                    .dimensions(Dimension::builder().name("DBClusterIdentifier").value(cluster).build())
                    .timestamp((now - std::time::Duration::from_secs(*ago)).into())
                    .value(*v)
                    .unit(StandardUnit::Milliseconds)
                    .build()
            })
            .collect();
        self.block(self.cw[region].put_metric_data().namespace("AWS/RDS").set_metric_data(Some(data)).send())
            .expect("PutMetricData");
    }

    fn state_path(&self) -> PathBuf {
        self.ex.dir.join("state/standby.json")
    }

    fn calls(&self) -> Vec<Value> {
        self.control("GET", "/_emulator/calls", None).as_array().cloned().unwrap_or_default()
    }
}

fn http(endpoint: &str, method: &str, path: &str, host: Option<&str>, body: Option<&str>) -> (u16, String) {
    common::http(endpoint, method, path, host, SEARCH_PASSWORD, body)
}

/// Run-specific values out of what people read: times, lineage, endpoints.
fn redact(text: &str, w: &World) -> String {
    let mut out = text.replace(&w.ex.emu.endpoint(), "http://127.0.0.1:<port>");
    if let Ok(text) = std::fs::read_to_string(w.state_path()) {
        let st: Value = serde_json::from_str(&text).unwrap();
        out = out.replace(st["lineage"].as_str().unwrap(), "<lineage>");
    }
    let mut lines = Vec::new();
    for line in out.lines() {
        let mut l = line.to_string();
        // 2026-12-01T21:04:05Z
        while let Some(i) = l.find("Z").and_then(|z| (z >= 19).then(|| z - 19)).filter(|&i| {
            let s = &l[i..i + 20];
            s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T' && s.as_bytes()[13] == b':'
        }) {
            l.replace_range(i..i + 20, "<time>");
        }
        // The global writer endpoint carries an id AWS assigns:
        // <global>.global-<12 characters>.global.rds.amazonaws.com.
        while let Some(i) = l.find(".global-").filter(|&i| l[i + 8..].get(12..24) == Some(".global.rds.")) {
            l.replace_range(i + 8..i + 20, "<id>");
        }
        // Automated snapshot names carry their time: rds:<cluster>-2026-12-01-21-06.
        while let Some(i) = (0..l.len().saturating_sub(15)).find(|&i| {
            let b = &l.as_bytes()[i..i + 16];
            b.iter().enumerate().all(|(k, c)| if [4, 7, 10, 13].contains(&k) { *c == b'-' } else { c.is_ascii_digit() })
        }) {
            l.replace_range(i..i + 16, "<stamp>");
        }
        lines.push(l);
    }
    lines.join("\n") + "\n"
}

/// Each file's length, content hash and mtime.
fn files_in(dir: &Path) -> BTreeMap<String, (usize, u64, std::time::SystemTime)> {
    use std::hash::{Hash, Hasher};
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".lock"))
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            let mtime = e.metadata().unwrap().modified().unwrap();
            (e.file_name().to_string_lossy().into_owned(), (bytes.len(), h.finish(), mtime))
        })
        .collect()
}

/// Validates a drift report against schemas/drift-report.schema.json with a real
/// JSON Schema validator (python-jsonschema, installed with the emulator).
fn assert_schema_valid(json_text: &str) {
    assert_valid("drift-report", json_text)
}

fn findings(run: &Run) -> Vec<Value> {
    let doc: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    doc["findings"].as_array().cloned().unwrap()
}

fn brief(f: &Value) -> (String, String, String) {
    (f["kind"].as_str().unwrap().into(), f["address"].as_str().unwrap().into(), f["path"].as_str().unwrap().into())
}

// -------------------------------------------------------------------- tests

#[test]
fn drift_is_clean_after_apply_then_reports_out_of_band_changes_read_only() {
    let w = World::applied();
    let state_dir = w.state_path().parent().unwrap().to_path_buf();

    // Right after apply: nothing, exit 0. Count what a run costs. The
    // secondary publishes its lag (on AWS, RDS does).
    w.publish_lag(EAST, CLUSTER_EAST, "AuroraGlobalDBRPOLag", &[(30, 850.0)]);
    w.control("DELETE", "/_emulator/calls", None);
    let clean = w.ok(0, &["drift", ".", "--format", "json"]);
    assert_eq!(findings(&clean), Vec::<Value>::new(), "{}", clean.stdout);
    assert_schema_valid(&clean.stdout);
    let doc: Value = serde_json::from_str(&clean.stdout).unwrap();
    assert_eq!(doc["format_version"], "1.0");
    // Every check passes but one: the pilot-light secondary (the example's
    // default) runs no app node by design, which drift only warns about.
    let not_passed: Vec<(&Value, &Value, &Value)> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "pass")
        .map(|c| (&c["id"], &c["status"], &c["address"]))
        .collect();
    assert_eq!(
        not_passed,
        vec![(&json!("app.targets"), &json!("warn"), &json!("module.app_secondary.aws_autoscaling_group.node_group"))],
        "{}",
        clean.stdout
    );
    let calls = w.calls();
    let resources = std::fs::read_to_string(w.state_path()).unwrap().matches("\"address\"").count();
    eprintln!("drift of the full example: {} AWS calls for {resources} resources", calls.len());
    assert!(calls.iter().all(|c| c["status"] == 200), "{calls:#?}");
    // One read per AWS resource (two for a few kinds) plus a bounded number of
    // discovery and health calls; never a write.
    assert!(calls.len() <= 2 * resources + 16, "{} calls: {calls:#?}", calls.len());
    for c in &calls {
        let op = c["operation"].as_str().unwrap();
        assert!(["Get", "List", "Describe", "Head"].iter().any(|p| op.starts_with(p)), "a write: {op}");
    }
    let human = w.ok(0, &["drift", "."]);
    insta::assert_snapshot!("clean_human", redact(&human.stdout, &w));

    // Out-of-band changes, each with the SDK or the REST API.
    let role_policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:*"], "Resource": "*"}]});
    w.block(async {
        let suspended = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
            .build();
        w.s3[WEST].put_bucket_versioning().bucket(BUCKET).versioning_configuration(suspended).send().await.unwrap();
        w.s3[EAST].delete_bucket_replication().bucket(BUCKET_EAST).send().await.unwrap();
        w.iam
            .put_role_policy()
            .role_name(ROLE_WEST)
            .policy_name("replicate")
            .policy_document(role_policy.to_string())
            .send()
            .await
            .unwrap();
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
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        w.iam
            .create_role()
            .role_name("mattermost-dr-handmade-us-west-1")
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .unwrap();
    });
    let follower = w.host(FOLLOWER);
    let (s, b) = w.rest(&follower, "POST", "/_plugins/_replication/users/_pause", Some(json!({})));
    assert_eq!(s, 200, "{b}");

    let before = files_in(&state_dir);
    let lock_files = |d: &Path| {
        std::fs::read_dir(d)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".lock"))
            .count()
    };
    let locks_before = lock_files(&state_dir);
    let run = w.ok(3, &["drift", ".", "--format", "json"]);
    let got: Vec<_> = findings(&run).iter().map(brief).collect();
    let want = |k: &str, a: &str, p: &str| (k.to_string(), a.to_string(), p.to_string());
    assert_eq!(
        got,
        vec![
            want("unhealthy", "module.files.aws_s3_bucket_replication.secondary_to_primary", "rules"),
            want("unhealthy", "module.files.aws_s3_bucket_versioning.primary_versioning", "status"),
            want("unhealthy", "module.search.opensearch_index_replication.index[\"users\"]", "status"),
            want("changed", "module.files.aws_iam_role_policy.primary_replication_access", "policy"),
            // Drift on what a failing check is about is drift too: a job
            // counting `changed` and `missing` sees it.
            want("changed", "module.files.aws_s3_bucket_versioning.primary_versioning", "status"),
            want("changed", "module.search.opensearch_index_replication.index[\"users\"]", "status"),
            want("missing", "module.files.aws_s3_bucket_replication.secondary_to_primary", ""),
            want("unmanaged", "aws_iam_role.mattermost-dr-handmade-us-west-1", ""),
            want("unmanaged", "aws_s3_bucket.mattermost-dr-scratch", ""),
        ],
        "{}",
        run.stdout
    );
    let all = findings(&run);
    assert_eq!(all[0]["drift"], "missing");
    assert_eq!(
        (all[1]["expected"].clone(), all[1]["actual"].clone(), all[1]["drift"].clone()),
        (json!("Enabled"), json!("Suspended"), json!("changed"))
    );
    assert!(all[1]["impact"].as_str().unwrap().contains(BUCKET), "{}", all[1]);
    assert_eq!(all[2]["actual"]["status"], "PAUSED");
    assert_eq!(all[3]["actual"]["Statement"][0]["Action"], json!(["s3:*"]), "{}", all[3]);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        doc["counts"],
        json!({"unhealthy": 3, "changed": 3, "missing": 1, "unmanaged": 2, "unapplied": 0, "ignored": 0})
    );
    assert_schema_valid(&run.stdout);
    insta::assert_snapshot!("findings_json", redact(&run.stdout, &w));
    let human = w.ok(3, &["drift", "."]);
    insta::assert_snapshot!("findings_human", redact(&human.stdout, &w));
    let md = w.ok(3, &["drift", ".", "--format", "markdown"]);
    insta::assert_snapshot!("findings_markdown", redact(&md.stdout, &w));
    // Read-only: the state directory is byte for byte and time for time as it was.
    assert_eq!(files_in(&state_dir), before, "drift touched the state directory");
    assert_eq!(lock_files(&state_dir), locks_before, "drift made a lock file");

    // Works while another process holds the state lock.
    let lock = w.state_path().with_extension("json.lock");
    let mut holder =
        Command::new("flock").arg("-x").arg(&lock).args(["sleep", "60"]).stdout(Stdio::null()).spawn().expect("flock");
    let mut locked = false;
    for _ in 0..50 {
        let plan = w.run(&["plan", "."]);
        if plan.code == 1 && plan.stderr.contains("locked") {
            locked = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(locked, "the lock holder did not take the lock");
    let under_lock = w.ok(3, &["drift", ".", "--format", "json"]);
    assert_eq!(findings(&under_lock).len(), 9);
    let _ = holder.kill();
    let _ = holder.wait();

    // Ignore rules hide exactly what they match, and are counted.
    std::fs::write(w.ex.dir.join(".standbyignore"), "# hand-made, kept on purpose\naws_s3_bucket.mattermost-dr-*\n")
        .unwrap();
    let ignored = w.ok(
        3,
        &[
            "drift",
            ".",
            "--format",
            "json",
            "--ignore",
            "module.files.aws_iam_role_policy.* policy",
            "--ignore",
            "module.files.* tags",
        ],
    );
    let got: Vec<_> = findings(&ignored).iter().map(brief).collect();
    assert_eq!(got.len(), 7, "{}", ignored.stdout);
    assert!(!got.iter().any(|(_, a, _)| a.contains("scratch") || a.contains("role_policy")), "{got:?}");
    assert_schema_valid(&ignored.stdout);
    let doc: Value = serde_json::from_str(&ignored.stdout).unwrap();
    assert_eq!(doc["counts"]["ignored"], 2);
    assert_eq!(
        doc["ignored"],
        json!([{"rule": "module.files.aws_iam_role_policy.* policy", "count": 1}, {"rule": "aws_s3_bucket.mattermost-dr-*", "count": 1}])
    );
    std::fs::write(w.ex.dir.join(".standbyignore"), "module.*\naws_*\n").unwrap();
    let all_hidden = w.ok(0, &["drift", "."]);
    assert!(all_hidden.stdout.contains("Ignored: 9 finding(s)"), "{}", all_hidden.stdout);
    std::fs::remove_file(w.ex.dir.join(".standbyignore")).unwrap();

    // A configuration change not applied yet is its own kind, not drift.
    let main = std::fs::read_to_string(w.ex.dir.join("main.yaml")).unwrap();
    std::fs::write(
        w.ex.dir.join("main.yaml"),
        main.replace(
            "{ app: mattermost, managed-by: standby }",
            "{ app: mattermost, managed-by: standby, team: chat }",
        ),
    )
    .unwrap();
    let unapplied = w.ok(3, &["drift", ".", "--format", "json"]);
    let got: Vec<_> = findings(&unapplied).iter().map(brief).filter(|(k, _, _)| k == "unapplied").collect();
    assert!(!got.is_empty() && got.iter().all(|(_, _, p)| p == "tags"), "{got:?}");
    assert_eq!(files_in(&state_dir), before, "drift touched the state directory");

    // A follower behind its leader by more than the bound is unhealthy.
    w.control("POST", "/_emulator/settings", Some(json!({"opensearch_follower_lag": 5})));
    let lag = |extra: &[&str]| -> Vec<(String, String, String)> {
        let mut args = vec!["drift", ".", "--format", "json"];
        args.extend_from_slice(extra);
        findings(&w.ok(3, &args)).iter().map(brief).filter(|(_, _, p)| p == "checkpoint_lag").collect()
    };
    assert_eq!(lag(&[]), vec![], "within the default bound of 1000 operations");
    let behind = lag(&["--max-search-lag", "0"]);
    let want = |i: &str| {
        (
            "unhealthy".to_string(),
            format!("module.search.opensearch_index_replication.index[\"{i}\"]"),
            "checkpoint_lag".to_string(),
        )
    };
    assert_eq!(behind, vec![want("channels"), want("files")]);
}

/// The parts of the whole example a data-tier test would not see, changed
/// out of band the way a person would (boto3): the app tier's group, Route
/// 53's health check and Mattermost's database password in Secrets Manager.
/// Each is found, on its address, and nothing else is.
#[test]
fn drift_sees_the_app_tier_dns_and_secrets_changed_out_of_band() {
    let w = World::applied();
    w.ok(0, &["drift", "."]);
    common::standin::py(
        &w.ex.emu,
        r#"
asg = aws('autoscaling')
g = [g for g in asg.describe_auto_scaling_groups()['AutoScalingGroups'] if g['AutoScalingGroupName'] == 'mattermost-dr-app-us-west-1'][0]
asg.update_auto_scaling_group(AutoScalingGroupName=g['AutoScalingGroupName'], MaxSize=g['MaxSize'] + 3)
r53 = aws('route53', 'us-east-1')
for h in r53.list_health_checks()['HealthChecks']:
    if h['HealthCheckConfig'].get('FullyQualifiedDomainName', '').find('us-west-1') >= 0:
        r53.update_health_check(HealthCheckId=h['Id'], FailureThreshold=9)
sm = aws('secretsmanager')
for s in sm.list_secrets()['SecretList']:
    sm.put_secret_value(SecretId=s['ARN'], SecretString='Changed-By-Hand-1!')
print('null')
"#,
    );
    let run = w.ok(2, &["drift", ".", "--format", "json"]);
    assert_schema_valid(&run.stdout);
    let got: Vec<_> = findings(&run).iter().map(brief).collect();
    let want = |a: &str, p: &str| ("changed".to_string(), a.to_string(), p.to_string());
    assert_eq!(
        got,
        vec![
            want("aws_route53_health_check.mattermost_primary_ping", "failure_threshold"),
            want("aws_secretsmanager_secret_version.mattermost_db_password_primary_value", "version_stages"),
            want("aws_secretsmanager_secret_version.mattermost_search_password_primary_value", "version_stages"),
            want("module.app_primary.aws_autoscaling_group.node_group", "max_size"),
        ],
        "{}",
        run.stdout
    );
    let all = findings(&run);
    assert_eq!((all[0]["expected"].clone(), all[0]["actual"].clone()), (json!(3), json!(9)));
    assert_eq!((all[1]["expected"].clone(), all[1]["actual"].clone()), (json!(["AWSCURRENT"]), json!(["AWSPREVIOUS"])));
    // The secret values themselves are never shown, neither the new one nor the applied one.
    for secret in ["Changed-By-Hand-1!", "Mm-Db-Pass9!", "Mm-User-3%vx"] {
        assert!(!run.all().contains(secret), "{secret} in:\n{}", run.all());
    }
}

#[test]
fn aurora_replication_lag_is_checked_from_cloudwatch_against_the_bound() {
    let w = World::applied();
    let lag_check = |run: &Run| -> Value {
        let doc: Value = serde_json::from_str(&run.stdout).unwrap();
        let found: Vec<&Value> =
            doc["checks"].as_array().unwrap().iter().filter(|c| c["id"] == "db.replication_lag").collect();
        assert_eq!(found.len(), 1, "one check per secondary: {}", run.stdout);
        found[0].clone()
    };

    // No datapoints at all (RDS has published nothing yet): a warning that
    // says so, not a pass and not a finding; exit 0.
    w.control("POST", "/_emulator/settings", Some(json!({"rds_lag_ms": -1})));
    w.control("DELETE", "/_emulator/calls", None);
    let none = w.ok(0, &["drift", ".", "--format", "json"]);
    assert_eq!(findings(&none), Vec::<Value>::new(), "{}", none.stdout);
    let c = lag_check(&none);
    assert_eq!(c["status"], "warn", "{c}");
    assert_eq!(c["actual"], json!({"metric": null, "datapoints": 0}));
    assert!(c["fix"].as_str().unwrap().contains("no AuroraGlobalDBRPOLag or AuroraGlobalDBReplicationLag datapoint"));
    assert_schema_valid(&none.stdout);
    // The series are looked for by name (ListMetrics, any dimension set with the
    // cluster's), in the secondary's region; nothing found, nothing read.
    let reads: Vec<Value> = w
        .calls()
        .into_iter()
        .filter(|c| c["service"] == "cloudwatch")
        .map(|mut c| {
            c.as_object_mut().map(|o| o.remove("at_ms"));
            c
        })
        .collect();
    assert_eq!(
        reads,
        vec![
            json!({"service": "cloudwatch", "region": EAST, "operation": "ListMetrics", "status": 200}),
            json!({"service": "cloudwatch", "region": EAST, "operation": "ListMetrics", "status": 200})
        ]
    );
    let human = w.ok(0, &["drift", "."]);
    insta::assert_snapshot!("db_lag_no_datapoints_human", redact(&human.stdout, &w));

    // Older Aurora MySQL publishes only AuroraGlobalDBReplicationLag: used
    // when there is no RPO datapoint.
    w.publish_lag(EAST, CLUSTER_EAST, "AuroraGlobalDBReplicationLag", &[(30, 2000.0)]);
    let c = lag_check(&w.ok(0, &["drift", ".", "--format", "json"]));
    assert_eq!(c["status"], "pass", "{c}");
    assert_eq!(c["actual"]["metric"], "AuroraGlobalDBReplicationLag");

    // The RPO lag wins when it exists; the maximum over the window counts,
    // not the latest value. 95 s is over the default bound of 60 s.
    w.publish_lag(EAST, CLUSTER_EAST, "AuroraGlobalDBRPOLag", &[(30, 1200.0), (150, 95_000.0), (270, 3000.0)]);
    let over = w.ok(3, &["drift", ".", "--format", "json"]);
    let all = findings(&over);
    assert_eq!(all.len(), 1, "{}", over.stdout);
    let f = &all[0];
    assert_eq!(
        brief(f),
        ("unhealthy".into(), "module.database.aws_rds_cluster.secondary".into(), "replication_lag".into()),
        "{f}"
    );
    assert_eq!(f["check"], "db.replication_lag");
    assert_eq!(f["expected"], json!({"max_ms": 60000, "window_minutes": 10}));
    assert_eq!(f["actual"], json!({"metric": "AuroraGlobalDBRPOLag", "max_ms": 95000.0, "datapoints": 3}));
    assert!(f["impact"].as_str().unwrap().contains("us-east-1"), "{f}");
    assert_schema_valid(&over.stdout);
    let human = w.ok(3, &["drift", "."]);
    insta::assert_snapshot!("db_lag_over_bound_human", redact(&human.stdout, &w));

    // The bound is the user's: 2 minutes lets 95 s pass.
    let c = lag_check(&w.ok(0, &["drift", ".", "--format", "json", "--max-db-lag", "2m"]));
    assert_eq!(c["status"], "pass", "{c}");
    let bad = w.ok(1, &["drift", ".", "--max-db-lag", "soon"]);
    assert!(bad.stderr.contains("--max-db-lag: `soon` is not a duration"), "{}", bad.stderr);
}

#[test]
fn preflight_fails_the_backup_check_by_name_on_a_primary_without_backups() {
    // Mattermost's existing primary (standby adopts it).
    let w = World::example();
    let ok = w.ok(0, &["preflight", ".", "--format", "json"]);
    assert_valid("preflight", &ok.stdout);
    let doc: Value = serde_json::from_str(&ok.stdout).unwrap();
    let status: BTreeMap<String, String> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                format!("{} {}", c["id"].as_str().unwrap(), c["title"].as_str().unwrap()),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(status.values().filter(|s| *s == "fail").count(), 0, "{}", ok.stdout);
    assert!(status.keys().any(|k| k.starts_with("db.backup")), "{status:?}");

    // No backup within the accepted age: that one check fails, by name.
    w.control("POST", "/_emulator/rds/snapshots/age", Some(json!({"region": WEST, "cluster": CLUSTER, "hours": 48})));
    let failed = w.ok(3, &["preflight", ".", "--format", "json"]);
    assert_valid("preflight", &failed.stdout);
    let doc: Value = serde_json::from_str(&failed.stdout).unwrap();
    let fails: Vec<&Value> = doc["checks"].as_array().unwrap().iter().filter(|c| c["status"] == "fail").collect();
    assert_eq!(fails.len(), 1, "{}", failed.stdout);
    assert_eq!(fails[0]["id"], "db.backup");
    assert_eq!(doc["counts"]["fail"], 1);
    let human = w.ok(3, &["preflight", "."]);
    insta::assert_snapshot!("preflight_no_backup_human", redact(&human.stdout, &w));
    let md = w.ok(3, &["preflight", ".", "--format", "markdown"]);
    insta::assert_snapshot!("preflight_no_backup_markdown", redact(&md.stdout, &w));
    // A longer accepted age makes it pass again.
    w.ok(0, &["preflight", ".", "--max-backup-age", "72h"]);

    // A caller without the permissions: simulated, and named.
    let (key, secret) = w.block(async {
        w.iam.create_user().user_name("drift-reader").send().await.unwrap();
        let read_only = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*", "rds:Describe*", "es:Describe*", "iam:Get*", "sts:GetCallerIdentity"], "Resource": "*"}]});
        w.iam
            .put_user_policy()
            .user_name("drift-reader")
            .policy_name("read")
            .policy_document(read_only.to_string())
            .send()
            .await
            .unwrap();
        let k = w.iam.create_access_key().user_name("drift-reader").send().await.unwrap();
        let k = k.access_key().unwrap();
        (k.access_key_id().to_string(), k.secret_access_key().to_string())
    });
    let run: Run = w
        .cmd(&["preflight", ".", "--format", "json", "--max-backup-age", "72h"])
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 3, "{}", run.all());
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let perm = doc["checks"].as_array().unwrap().iter().find(|c| c["id"] == "iam.permissions").unwrap().clone();
    assert_eq!(perm["status"], "fail", "{perm}");
    assert_eq!(perm["actual"]["caller"], "arn:aws:iam::123456789012:user/drift-reader");
    let denied: Vec<&str> = perm["actual"]["denied"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(denied.contains(&"s3:PutBucketVersioning") && denied.contains(&"rds:CreateGlobalCluster"), "{denied:?}");
    assert!(!denied.iter().any(|a| a.starts_with("s3:Get") || a.starts_with("rds:Describe")), "{denied:?}");
    assert!(perm["fix"].as_str().unwrap().contains("standby policy DIR --for apply"), "{perm}");

    // A deployer allowed everything in the two regions only (a common
    // guard rail): every call apply makes is in one of them, so the
    // simulation, given each region as aws:RequestedRegion, allows it all.
    let user = |name: &str, policy: Value| -> (String, String) {
        w.block(async {
            w.iam.create_user().user_name(name).send().await.unwrap();
            w.iam
                .put_user_policy()
                .user_name(name)
                .policy_name("p")
                .policy_document(policy.to_string())
                .send()
                .await
                .unwrap();
            let k = w.iam.create_access_key().user_name(name).send().await.unwrap();
            let k = k.access_key().unwrap();
            (k.access_key_id().to_string(), k.secret_access_key().to_string())
        })
    };
    let permission_check = |(key, secret): (String, String)| -> Value {
        let run: Run = w
            .cmd(&["preflight", ".", "--format", "json", "--max-backup-age", "72h"])
            .env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .output()
            .unwrap()
            .into();
        let doc: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.all()));
        doc["checks"].as_array().unwrap().iter().find(|c| c["id"] == "iam.permissions").unwrap().clone()
    };
    let regional = user(
        "deployer",
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": [WEST, EAST]}}}]}),
    );
    let perm = permission_check(regional);
    assert_eq!(perm["status"], "pass", "{perm}");
    assert_eq!(perm["expected"]["context"]["aws:RequestedRegion"], json!([EAST, WEST]), "{perm}");
    // A condition the simulation cannot be given: a warning naming the key.
    let tagged = user(
        "tagged",
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "chat"}}}]}),
    );
    let perm = permission_check(tagged);
    assert_eq!(perm["status"], "warn", "{perm}");
    assert!(perm["fix"].as_str().unwrap().contains("aws:PrincipalTag/team"), "{perm}");
}

#[test]
fn no_credentials_is_one_message_naming_the_sources() {
    let dir = whole_example("drift-nocreds");
    let root = dir.parent().unwrap().parent().unwrap().to_path_buf();
    // Something on record to refresh, as after a first apply.
    let state = r#"{"version": 2, "serial": 1, "lineage": "l-1", "standby_version": "0.1.0", "salt": "s",
        "resources": [{"address": "module.files.aws_s3_bucket.primary", "module": "module.files",
                       "type": "aws_s3_bucket", "name": "primary", "region": "us-west-1",
                       "id": "mattermost-prod-files", "status": "ready",
                       "attributes": {"bucket": "mattermost-prod-files"}}]}"#;
    common::write_files(&dir, &[("state/standby.json", state)]);
    let home = root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    for args in [&["plan", "."][..], &["apply", ".", "--auto-approve"], &["drift", "."], &["preflight", "."]] {
        let mut c = common::cmd(&dir, args);
        let run: Run = example_vars(&mut c)
            .env("HOME", &home)
            .env("AWS_CONFIG_FILE", home.join("none"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.join("none"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", WEST)
            .output()
            .unwrap()
            .into();
        assert_eq!(run.code, 1, "{args:?}: {}", run.all());
        assert_eq!(run.stderr.matches("no AWS credentials").count(), 1, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.matches("Error").count(), 1, "{args:?}: one message: {}", run.stderr);
        for source in
            ["AWS_ACCESS_KEY_ID", "AWS_PROFILE", "SSO", "AWS_WEB_IDENTITY_TOKEN_FILE", "ECS", "EC2 instance role"]
        {
            assert!(run.stderr.contains(source), "{args:?}: no {source} in:\n{}", run.stderr);
        }
        assert_eq!(std::fs::read_to_string(dir.join("state/standby.json")).unwrap(), state, "{args:?} wrote state");
    }
}
