//! `standby drift`'s replication canaries on the whole example, applied
//! over a stand-in production (scripts/demo-standin) in the emulator, whose
//! S3 replicates live (tests/emulator/README.md, "Live S3 replication").
//! Replication is broken the way it breaks on AWS: a bucket's replication
//! paused or failing, a follower index paused, an auto-follow rule gone.

mod common;

use aws_sdk_s3::Client as S3;
use common::{Emulator, Run, copy_dir, repo, scratch};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const WEST: &str = "us-west-1";
const EAST: &str = "us-east-1";
const SEARCH_PASSWORD: &str = "Canary-Master-9!";
const PRIMARY_BUCKET: &str = "mattermost-prod-files-canary";
const SECONDARY_BUCKET: &str = "mattermost-dr-files-us-east-1";
const LEADER: &str = "mattermost-prod-search";
const FOLLOWER: &str = "mattermost-dr-os-us-east-1";
const INDEX: &str = "standby-canary";

/// The example's inputs as the demo gives them (plain HTTP, any AMI id),
/// with the stand-in production's names.
const VARS: &[(&str, &str)] = &[
    ("STANDBY_VAR_opensearch_master_password", SEARCH_PASSWORD),
    ("STANDBY_VAR_opensearch_replication_password", "Canary-Repl-9!"),
    ("STANDBY_VAR_opensearch_mattermost_password", "Canary-Mm-9!"),
    ("STANDBY_VAR_mattermost_db_password", "Canary-MmDb-9!"),
    ("STANDBY_VAR_search_source_ips", r#"["127.0.0.0/8"]"#),
    ("STANDBY_VAR_deletion_protection", "false"),
    ("STANDBY_VAR_secrets_recovery_window_in_days", "0"),
    ("STANDBY_VAR_primary_db_cluster", "mattermost-prod-aurora"),
    ("STANDBY_VAR_primary_db_instances", r#"["mattermost-prod-aurora-1", "mattermost-prod-aurora-2"]"#),
    ("STANDBY_VAR_primary_files_bucket", PRIMARY_BUCKET),
    // The stand-in's bucket replicates already, with a role of its own.
    (
        "STANDBY_VAR_primary_files_replication_role",
        "arn:aws:iam::123456789012:role/mattermost-prod-files-canary-backup-replication",
    ),
    ("STANDBY_VAR_primary_search_domain", LEADER),
    ("STANDBY_VAR_app_ami_id", "ami-0abcdef1234567890"),
    ("STANDBY_VAR_app_listener_protocol", "HTTP"),
    ("STANDBY_VAR_app_listener_port", "80"),
    ("STANDBY_VAR_app_certificate_arn_primary", "null"),
    ("STANDBY_VAR_app_certificate_arn_secondary", "null"),
];

struct World {
    emu: Emulator,
    dir: PathBuf,
    rt: tokio::runtime::Runtime,
    s3: BTreeMap<&'static str, S3>,
    vars: Vec<(&'static str, &'static str)>,
}

impl World {
    /// Every file of the example applied over the stand-in production.
    fn applied() -> World {
        World::applied_with(&[])
    }

    /// The same with more variables (`STANDBY_VAR_…`).
    fn applied_with(extra: &[(&'static str, &'static str)]) -> World {
        let root = scratch("canaries");
        copy_dir(&repo().join("examples/mattermost-dr"), &root.join("examples/mattermost-dr"));
        copy_dir(&repo().join("modules"), &root.join("modules"));
        let dir = root.join("examples/mattermost-dr");
        let emu = Emulator::start();
        let out = std::process::Command::new(repo().join("scripts/demo-standin"))
            .envs(emu.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(VARS.iter().copied())
            .env("STANDBY_DEMO_DB_PASSWORD", "Canary-Prod-9!")
            .output()
            .expect("scripts/demo-standin");
        assert!(out.status.success(), "stand-in: {}", String::from_utf8_lossy(&out.stderr));
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let endpoint = emu.endpoint();
        let s3 = rt.block_on(async {
            let mut s3 = BTreeMap::new();
            for region in [WEST, EAST] {
                let config = common::sdk_config(&endpoint, region).await;
                let conf = aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build();
                s3.insert(region, S3::from_conf(conf));
            }
            s3
        });
        let vars = VARS.iter().chain(extra).copied().collect();
        let w = World { emu, dir, rt, s3, vars };
        w.ok(0, &["apply", ".", "--auto-approve"]);
        w
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.emu.cmd(&self.dir, args);
        c.envs(self.vars.iter().copied());
        c
    }

    fn ok(&self, code: i32, args: &[&str]) -> Run {
        let run: Run = self.cmd(args).output().expect("run standby").into();
        assert_eq!(run.code, code, "standby {}:\n{}", args.join(" "), run.all());
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        run
    }

    fn drift(&self, code: i32, extra: &[&str]) -> Value {
        let mut args = vec!["drift", ".", "--format", "json"];
        args.extend_from_slice(extra);
        let run = self.ok(code, &args);
        common::assert_valid("drift-report", &run.stdout);
        serde_json::from_str(&run.stdout).unwrap()
    }

    fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, text) =
            common::http(&self.emu.endpoint(), method, path, None, "", body.map(|b| b.to_string()).as_deref());
        assert!(status < 300, "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    fn host(&self, domain: &str) -> String {
        let all = self.control("GET", "/_emulator/opensearch/domains", None);
        let d = all.as_array().unwrap().iter().find(|d| d["domain"] == domain).expect("the domain").clone();
        d["endpoints"][0].as_str().unwrap().to_string()
    }

    /// A domain REST request as its master user, as a person would make it.
    fn rest(&self, domain: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, text) = common::http(
            &self.emu.endpoint(),
            method,
            path,
            Some(&self.host(domain)),
            SEARCH_PASSWORD,
            body.map(|b| b.to_string()).as_deref(),
        );
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Every object version and delete marker under `prefix`: (key, version).
    fn versions(&self, region: &'static str, bucket: &str, prefix: &str) -> Vec<(String, String)> {
        self.rt.block_on(async {
            let out = self.s3[region].list_object_versions().bucket(bucket).prefix(prefix).send().await.unwrap();
            let mut v: Vec<(String, String)> = out
                .versions()
                .iter()
                .map(|v| (v.key().unwrap().to_string(), v.version_id().unwrap().to_string()))
                .chain(
                    out.delete_markers()
                        .iter()
                        .map(|m| (m.key().unwrap().to_string(), m.version_id().unwrap().to_string())),
                )
                .collect();
            v.sort();
            v
        })
    }

    /// Documents in the leader's canary index.
    fn canary_docs(&self) -> usize {
        let (status, body) = self.rest(
            LEADER,
            "POST",
            &format!("/{INDEX}/_search"),
            Some(json!({"size": 100, "query": {"match_all": {}}})),
        );
        if status == 404 {
            return 0;
        }
        body["hits"]["hits"].as_array().map_or(0, Vec::len)
    }

    fn calls(&self) -> Vec<Value> {
        self.control("GET", "/_emulator/calls", None).as_array().cloned().unwrap_or_default()
    }

    fn rest_calls(&self) -> Vec<Value> {
        self.control("GET", "/_emulator/rest-calls", None).as_array().cloned().unwrap_or_default()
    }

    fn forget_calls(&self) {
        self.control("DELETE", "/_emulator/calls", None);
        self.control("DELETE", "/_emulator/rest-calls", None);
    }
}

fn check<'a>(doc: &'a Value, id: &str) -> &'a Value {
    let found: Vec<&Value> = doc["checks"].as_array().unwrap().iter().filter(|c| c["id"] == id).collect();
    assert_eq!(found.len(), 1, "one {id} check: {doc:#}");
    found[0]
}

fn unhealthy(doc: &Value) -> Vec<(String, String, String)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "unhealthy")
        .map(|f| {
            (
                f["check"].as_str().unwrap().into(),
                f["address"].as_str().unwrap().into(),
                f["path"].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// Latencies, times and the run's canary names out of what people read.
fn redact(text: &str, w: &World) -> String {
    let mut out = text.replace(&w.emu.endpoint(), "http://127.0.0.1:<port>");
    if let Ok(state) = std::fs::read_to_string(w.dir.join("state/standby.json")) {
        let st: Value = serde_json::from_str(&state).unwrap();
        out = out.replace(st["lineage"].as_str().unwrap(), "<lineage>");
    }
    let mut lines = Vec::new();
    for line in out.lines() {
        let mut l = line.to_string();
        // A latency: "replicated in 312 ms (bound 15m)".
        while let Some(i) = l.find("replicated in ").map(|i| i + "replicated in ".len()) {
            let Some(j) = l[i..].find(" (bound") else { break };
            if &l[i..i + j] == "<latency>" {
                break;
            }
            l.replace_range(i..i + j, "<latency>");
        }
        // A canary's name: <deadline>-<16 hex digits>.
        let mut from = 0;
        while let Some(i) = (from..l.len().saturating_sub(26)).find(|&i| {
            let b = &l.as_bytes()[i..i + 27];
            b[..10].iter().all(u8::is_ascii_digit) && b[10] == b'-' && b[11..].iter().all(u8::is_ascii_hexdigit)
        }) {
            l.replace_range(i..i + 27, "<canary>");
            from = i + "<canary>".len();
        }
        // A time: 2026-12-01T21:04:05Z.
        while let Some(i) = (0..l.len().saturating_sub(19)).find(|&i| {
            let b = &l.as_bytes()[i..i + 20];
            b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':' && b[19] == b'Z'
        }) {
            l.replace_range(i..i + 20, "<time>");
        }
        lines.push(l);
    }
    lines.join("\n") + "\n"
}

#[test]
fn both_canaries_measure_their_latency_and_leave_nothing_behind() {
    let w = World::applied();
    let production = w.versions(WEST, PRIMARY_BUCKET, "data/");
    assert!(production.len() >= 300, "the stand-in's files");
    w.forget_calls();
    let t0 = Instant::now();
    let doc = w.drift(0, &[]);
    let took = t0.elapsed();

    let files = check(&doc, "canary.s3");
    assert_eq!(files["status"], "pass", "{files:#}");
    assert_eq!(files["address"], "module.files.aws_s3_bucket_replication.primary_to_secondary");
    assert_eq!(files["actual"]["status"], "COMPLETED");
    let s3_ms = files["actual"]["latency_ms"].as_u64().unwrap();
    // The emulator replicates 100 ms after the write (s3_replication_ms).
    assert!(s3_ms >= 100, "{files:#}");
    assert!(files["actual"]["replicas"][SECONDARY_BUCKET].as_u64().is_some(), "{files:#}");
    assert_eq!(files["expected"]["max_ms"], 900_000);
    let search = check(&doc, "canary.search");
    assert_eq!(search["status"], "pass", "{search:#}");
    assert_eq!(search["address"], "module.search.opensearch_autofollow_rule.canary[0]");
    let search_ms = search["actual"]["latency_ms"].as_u64().unwrap();
    assert_eq!(search["expected"]["max_ms"], 60_000);
    eprintln!("canary latency on the emulator: files {s3_ms} ms, search {search_ms} ms; drift took {took:?}");

    // What each canary called: S3 (the AWS call log) and the domains' REST APIs.
    let s3_ops: Vec<String> = w
        .calls()
        .iter()
        .filter(|c| {
            c["service"] == "s3"
                && ["PutObject", "HeadObject", "DeleteObject", "ListObjectVersions"]
                    .contains(&c["operation"].as_str().unwrap())
        })
        .map(|c| format!("{} {}", c["region"].as_str().unwrap(), c["operation"].as_str().unwrap()))
        .collect();
    let rest: Vec<String> = w
        .rest_calls()
        .iter()
        .filter(|c| c["path"].as_str().unwrap().contains(INDEX))
        .map(|c| {
            format!(
                "{} {} {}",
                c["domain"].as_str().unwrap(),
                c["method"].as_str().unwrap(),
                c["path"].as_str().unwrap()
            )
        })
        .collect();
    eprintln!("files canary: {} S3 calls: {s3_ops:?}", s3_ops.len());
    eprintln!("search canary: {} REST calls: {rest:?}", rest.len());
    let count = |op: &str| s3_ops.iter().filter(|c| c.ends_with(op)).count();
    assert_eq!((count(" PutObject"), count(" ListObjectVersions")), (1, 4), "{s3_ops:?}");
    assert_eq!(count(" DeleteObject"), 2, "the object and its replica: {s3_ops:?}");
    // Writes only under the reserved names: the domains' write requests
    // all name the canary index.
    for c in w.rest_calls() {
        let (m, p) = (c["method"].as_str().unwrap(), c["path"].as_str().unwrap());
        if ["PUT", "DELETE"].contains(&m) || (m == "POST" && !p.ends_with("/_search")) {
            assert!(p.starts_with(&format!("/{INDEX}/")), "a write outside the canary index: {m} {p}");
        }
    }

    // Nothing left: no object version under the prefix in either bucket,
    // no document in the index; Mattermost's files as they were.
    assert_eq!(w.versions(WEST, PRIMARY_BUCKET, "standby-canary/"), vec![]);
    assert_eq!(w.versions(EAST, SECONDARY_BUCKET, "standby-canary/"), vec![]);
    assert_eq!(w.canary_docs(), 0);
    assert_eq!(w.versions(WEST, PRIMARY_BUCKET, "data/"), production);

    // What people read, in the three formats.
    let human = w.ok(0, &["drift", "."]);
    assert!(human.stdout.contains("canary.s3") && human.stdout.contains("replicated in"), "{}", human.stdout);
    insta::assert_snapshot!("canaries_human", redact(&human.stdout, &w));
    let md = w.ok(0, &["drift", ".", "--format", "markdown"]);
    insta::assert_snapshot!("canaries_markdown", redact(&md.stdout, &w));

    // Strictly read-only: no canary, no write call at all.
    w.forget_calls();
    let doc = w.drift(0, &["--no-canaries"]);
    assert!(!doc["checks"].as_array().unwrap().iter().any(|c| c["id"].as_str().unwrap().starts_with("canary.")));
    for c in w.calls() {
        let op = c["operation"].as_str().unwrap();
        assert!(["Get", "List", "Describe", "Head"].iter().any(|p| op.starts_with(p)), "a write: {op}");
    }
    assert!(w.rest_calls().iter().all(|c| c["method"] == "GET"), "{:?}", w.rest_calls());
}

#[test]
fn stopped_replication_fails_its_canary_with_the_impact() {
    let w = World::applied();
    w.drift(0, &[]);

    // The follower's copy of the canary index paused (as
    // `POST _plugins/_replication/<index>/_pause` does): fails at once.
    let (status, body) = w.rest(FOLLOWER, "POST", &format!("/_plugins/_replication/{INDEX}/_pause"), Some(json!({})));
    assert_eq!(status, 200, "{body}");
    let t0 = Instant::now();
    let doc = w.drift(3, &[]);
    assert!(t0.elapsed() < Duration::from_secs(60), "a paused follower fails without waiting for the bound");
    assert_eq!(
        unhealthy(&doc),
        vec![("canary.search".into(), "module.search.opensearch_autofollow_rule.canary[0]".into(), "canary".into())]
    );
    let f = &doc["findings"][0];
    let impact = f["impact"].as_str().unwrap();
    assert!(impact.starts_with("new posts are not searchable in us-east-1 after a failover"), "{impact}");
    assert!(impact.contains("PAUSED"), "{impact}");
    assert_eq!(f["actual"]["replication"], "PAUSED");
    let human = w.ok(3, &["drift", "."]);
    insta::assert_snapshot!("search_paused_human", redact(&human.stdout, &w));
    let (status, _) = w.rest(FOLLOWER, "POST", &format!("/_plugins/_replication/{INDEX}/_resume"), Some(json!({})));
    assert_eq!(status, 200);
    w.drift(0, &[]);

    // The files' replication stopped (PENDING: a transient failure to S3)
    // until the bound; then failing (FAILED, final): at once.
    w.control("POST", "/_emulator/s3/replication", Some(json!({"bucket": PRIMARY_BUCKET, "mode": "paused"})));
    let doc = w.drift(3, &["--max-s3-canary", "3s"]);
    assert_eq!(
        unhealthy(&doc),
        vec![(
            "canary.s3".into(),
            "module.files.aws_s3_bucket_replication.primary_to_secondary".into(),
            "canary".into()
        )]
    );
    let f = &doc["findings"][0];
    assert_eq!(f["actual"]["status"], "PENDING");
    assert_eq!(f["actual"]["replicas"][SECONDARY_BUCKET], Value::Null);
    let impact = f["impact"].as_str().unwrap();
    assert!(
        impact.starts_with("files uploaded in us-west-1 are not copied to us-east-1: after a failover"),
        "{impact}"
    );
    assert!(impact.contains("was still PENDING after 3s"), "{impact}");
    assert_eq!(w.versions(WEST, PRIMARY_BUCKET, "standby-canary/"), vec![], "removed though it never replicated");

    w.control("POST", "/_emulator/s3/replication", Some(json!({"bucket": PRIMARY_BUCKET, "mode": "failing"})));
    let t0 = Instant::now();
    let doc = w.drift(3, &[]);
    assert!(t0.elapsed() < Duration::from_secs(60), "FAILED fails without waiting for the bound");
    let f = &doc["findings"][0];
    assert_eq!((f["check"].as_str(), f["actual"]["status"].as_str()), (Some("canary.s3"), Some("FAILED")));
    assert!(f["impact"].as_str().unwrap().contains("FAILED"), "{f}");
    let md = w.ok(3, &["drift", ".", "--format", "markdown"]);
    insta::assert_snapshot!("s3_failed_markdown", redact(&md.stdout, &w));

    // Running again: healthy again.
    w.control("POST", "/_emulator/s3/replication", Some(json!({"bucket": PRIMARY_BUCKET, "mode": "running"})));
    w.drift(0, &[]);
}

#[test]
fn a_later_run_removes_what_an_interrupted_or_killed_one_left() {
    let w = World::applied();
    w.drift(0, &[]);
    // Both canaries kept waiting: the bucket's replication paused, the
    // canary index no longer followed (its rule and the follower's copy gone).
    w.control("POST", "/_emulator/s3/replication", Some(json!({"bucket": PRIMARY_BUCKET, "mode": "paused"})));
    let (s, b) = w.rest(
        FOLLOWER,
        "DELETE",
        "/_plugins/_replication/_autofollow",
        Some(json!({"leader_alias": "leader", "name": "standby-canary"})),
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(w.rest(FOLLOWER, "POST", &format!("/_plugins/_replication/{INDEX}/_stop"), Some(json!({}))).0, 200);
    assert_eq!(w.rest(FOLLOWER, "DELETE", &format!("/{INDEX}"), None).0, 200);

    let started = |child: &mut std::process::Child| {
        let t0 = Instant::now();
        while w.versions(WEST, PRIMARY_BUCKET, "standby-canary/").is_empty() || w.canary_docs() == 0 {
            assert!(child.try_wait().unwrap().is_none(), "drift ended before its canaries wrote");
            assert!(t0.elapsed() < Duration::from_secs(60), "the canaries never wrote");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // Long enough for the later run below to come within the deadline.
    let bounds = ["--max-s3-canary", "20s", "--max-search-canary", "20s"];

    // Interrupted (SIGINT, as Ctrl-C or a CI cancel): they clean up first.
    let mut child = w
        .cmd(&[&["drift", "."][..], &bounds].concat())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    started(&mut child);
    assert!(std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted: the canaries removed what they wrote"), "{stderr}");
    assert_eq!(w.versions(WEST, PRIMARY_BUCKET, "standby-canary/"), vec![]);
    assert_eq!(w.canary_docs(), 0);

    // Killed outright: the object and the document stay...
    let mut child = w.cmd(&[&["drift", "."][..], &bounds].concat()).spawn().unwrap();
    started(&mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = Instant::now();
    let left = w.versions(WEST, PRIMARY_BUCKET, "standby-canary/");
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(w.canary_docs(), 1);

    // ...until a run after their deadline (the bound, plus a grace for
    // other machines' clocks): replication back, the rule re-created.
    w.control("POST", "/_emulator/s3/replication", Some(json!({"bucket": PRIMARY_BUCKET, "mode": "running"})));
    w.ok(0, &["apply", ".", "--auto-approve"]);
    // A run within the deadline leaves them alone (they may be another
    // run's, still waiting).
    let doc = w.drift(0, &[]);
    assert_eq!(check(&doc, "canary.s3")["actual"]["leftovers_removed"], 0);
    assert!(w.versions(WEST, PRIMARY_BUCKET, "standby-canary/").contains(&left[0]));
    // The deadline is the bound (+1 s) after the write; the grace 10 s.
    std::thread::sleep(Duration::from_secs(20 + 1 + 10 + 1).saturating_sub(killed.elapsed()));
    let doc = w.drift(0, &[]);
    // The object and its replica (it replicated once running again).
    assert_eq!(check(&doc, "canary.s3")["actual"]["leftovers_removed"], 2, "{doc:#}");
    assert_eq!(check(&doc, "canary.search")["actual"]["leftovers_removed"], 1, "{doc:#}");
    assert_eq!(w.versions(WEST, PRIMARY_BUCKET, "standby-canary/"), vec![]);
    assert_eq!(w.versions(EAST, SECONDARY_BUCKET, "standby-canary/"), vec![]);
    assert_eq!(w.canary_docs(), 0);
}

#[test]
fn after_a_switchover_the_canaries_measure_the_other_way() {
    // A warm secondary: the switchover's readiness wants app nodes there.
    let w = World::applied_with(&[("STANDBY_VAR_app_nodes_secondary", "1")]);
    w.drift(0, &[]);
    let to_east = ["--var", "active_region=secondary"];
    let apply = w.ok(0, &[&["apply", ".", "--auto-approve"][..], &to_east].concat());
    assert!(apply.stdout.contains("Switchover complete: secondary (us-east-1) is active"), "{}", apply.stdout);

    // The writer is in us-east-1 now: its bucket gets the test object, and
    // the canary index is followed back into us-west-1 by the reverse rule.
    let doc = w.drift(0, &to_east);
    let files = check(&doc, "canary.s3");
    assert_eq!(files["status"], "pass", "{files:#}");
    assert_eq!(files["address"], "module.files.aws_s3_bucket_replication.secondary_to_primary");
    assert!(files["actual"]["replicas"][PRIMARY_BUCKET].as_u64().is_some(), "{files:#}");
    let search = check(&doc, "canary.search");
    assert_eq!(search["status"], "pass", "{search:#}");
    assert_eq!(search["address"], "module.search.opensearch_autofollow_rule.canary_reverse[0]");
    assert!(search["title"].as_str().unwrap().contains(&format!("({FOLLOWER}, us-east-1) → us-west-1")), "{search:#}");
    assert_eq!(w.versions(EAST, SECONDARY_BUCKET, "standby-canary/"), vec![]);
    assert_eq!(w.versions(WEST, PRIMARY_BUCKET, "standby-canary/"), vec![]);
}

/// The fault proxy (tests/emulator/standby_emulator/fault_proxy.py) in
/// front of the emulator, stopped when dropped.
struct Proxy {
    child: std::process::Child,
    url: String,
}

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        let dir = scratch("canary-proxy");
        let port_file = dir.join("port");
        let child = std::process::Command::new(repo().join(".venv-emulator/bin/python"))
            .args(["-m", "standby_emulator.fault_proxy", "--upstream", upstream, "--rate", "0", "--port-file"])
            .arg(&port_file)
            .env("PYTHONPATH", repo().join("tests/emulator"))
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("start the fault proxy");
        let t0 = Instant::now();
        while !port_file.exists() {
            assert!(t0.elapsed() < Duration::from_secs(30), "the fault proxy did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let port = std::fs::read_to_string(&port_file).unwrap();
        Proxy { child, url: format!("http://127.0.0.1:{}", port.trim()) }
    }

    /// The next request whose "METHOD path" starts with `line` takes
    /// effect and loses its answer.
    fn lose(&self, line: &str) {
        let q: String = line.bytes().map(|b| format!("%{b:02X}")).collect();
        let (status, body) = common::http(&self.url, "PUT", &format!("/_proxy/lose?match={q}&times=1"), None, "", None);
        assert_eq!(status, 200, "{body}");
    }

    fn stats(&self) -> Value {
        serde_json::from_str(&common::http(&self.url, "GET", "/_proxy/stats", None, "", None).1).unwrap()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn writes_whose_answer_was_lost_are_retried_and_leave_nothing_behind() {
    let w = World::applied();
    w.drift(0, &[]);
    let proxy = Proxy::start(&w.emu.endpoint());
    // The canaries' writes take effect and their answers are lost: the SDK
    // and the REST client send them again.
    proxy.lose(&format!("PUT /{PRIMARY_BUCKET}/standby-canary/"));
    proxy.lose(&format!("PUT /{INDEX}/_doc/"));
    w.forget_calls();
    let run: Run = w
        .cmd(&["drift", ".", "--format", "json"])
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .env("STANDBY_OPENSEARCH_ENDPOINT_URL", &proxy.url)
        .env("STANDBY_AWS_MAX_ATTEMPTS", "3")
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(proxy.stats()["faults"]["lost"], 2, "{}", proxy.stats());
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(check(&doc, "canary.s3")["status"], "pass");
    assert_eq!(check(&doc, "canary.search")["status"], "pass");
    let puts = w.calls().iter().filter(|c| c["operation"] == "PutObject").count();
    let docs = w
        .rest_calls()
        .iter()
        .filter(|c| c["method"] == "PUT" && c["path"].as_str().unwrap().contains("/_doc/"))
        .count();
    assert_eq!((puts, docs), (2, 2), "each write sent again after its lost answer");
    // Two versions were written (and replicated); every one of them went.
    assert_eq!(w.versions(WEST, PRIMARY_BUCKET, "standby-canary/"), vec![]);
    assert_eq!(w.versions(EAST, SECONDARY_BUCKET, "standby-canary/"), vec![]);
    assert_eq!(w.canary_docs(), 0);
}
