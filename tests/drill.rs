//! `standby drill` through the built binary, against a private emulator, on
//! the database part of the example (tests/fixtures/switchover): the standby
//! cluster copied in its region, the safety proof from the emulator's call
//! log (every change named for the drill, nothing asked of the active
//! region), cleanup after success, after a kill at each step (`--cleanup
//! ID`) and after `--keep`. What AWS holds is checked with the SDK.

mod common;

use aws_sdk_rds::Client as Rds;
use common::{Emulator, Run, copy_dir, http, repo, scratch};
use serde_json::Value;
use std::path::PathBuf;

const WEST: &str = "us-west-1";
const EAST: &str = "us-east-1";
const STANDBY_CLUSTER: &str = "mm-db-us-east-1";

struct World {
    emu: Emulator,
    dir: PathBuf,
    rt: tokio::runtime::Runtime,
    rds: Rds,
}

impl World {
    /// The fixture applied: a global database, its standby cluster in us-east-1 with one instance.
    fn applied() -> World {
        let root = scratch("drill");
        copy_dir(&repo().join("modules"), &root.join("modules"));
        copy_dir(&repo().join("tests/fixtures/switchover"), &root.join("cfg"));
        let emu = Emulator::start();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let rds = rt.block_on(async { Rds::new(&common::sdk_config(&emu.endpoint(), EAST).await) });
        let w = World { emu, dir: root.join("cfg"), rt, rds };
        w.ok(0, &["apply", ".", "--auto-approve"]);
        w.control("DELETE", "/_emulator/calls");
        w
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.emu.cmd(&self.dir, args);
        c.env("STANDBY_VAR_db_password", "Db-Master-7#wz");
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        self.cmd(args).output().expect("run standby").into()
    }

    fn ok(&self, code: i32, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, code, "standby {}:\n{}", args.join(" "), run.all());
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        run
    }

    fn control(&self, method: &str, path: &str) -> Value {
        self.control_with(method, path, None)
    }

    fn control_with(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, text) = http(&self.emu.endpoint(), method, path, None, "", body.map(|b| b.to_string()).as_deref());
        assert!(status < 300, "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// The drill's own record (beside production's state).
    fn record(&self) -> Value {
        let text = std::fs::read_to_string(self.dir.join("state/standby.drill.json")).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// The id of the drill on record.
    fn drill_id(&self) -> String {
        self.record()["roles"]["run"]["runbook"]["steps"][0]["drill"].as_str().unwrap_or_default().to_string()
    }

    fn step_status(&self, id: &str) -> Option<String> {
        let rec = self.record();
        rec["roles"]["run"]["steps"].as_array()?.iter().find(|s| s["id"] == id)?["status"].as_str().map(str::to_string)
    }

    /// The clusters and instances in the standby region whose names start with `prefix`.
    fn left(&self, prefix: &str) -> Vec<String> {
        self.rt.block_on(async {
            let c = self.rds.describe_db_clusters().send().await.unwrap();
            let i = self.rds.describe_db_instances().send().await.unwrap();
            let mut out: Vec<String> = c
                .db_clusters()
                .iter()
                .filter_map(|c| c.db_cluster_identifier())
                .chain(i.db_instances().iter().filter_map(|i| i.db_instance_identifier()))
                .filter(|n| n.starts_with(prefix))
                .map(str::to_string)
                .collect();
            out.sort();
            out
        })
    }

    /// Every call since the last reset that may change something, with its targets.
    fn changes(&self) -> Vec<(String, String, Value)> {
        let calls = self.control("GET", "/_emulator/calls");
        calls
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                let op = c["operation"].as_str().unwrap_or_default();
                !["Describe", "Get", "List", "Head"].iter().any(|p| op.starts_with(p))
            })
            .map(|c| {
                (
                    c["region"].as_str().unwrap_or_default().to_string(),
                    c["operation"].as_str().unwrap_or_default().to_string(),
                    c["targets"].clone(),
                )
            })
            .collect()
    }

    /// Starts `args` and kills it (SIGKILL) once `ready` holds.
    fn kill_when(&self, args: &[&str], what: &str, ready: impl Fn(&World) -> bool) {
        let mut child = self.cmd(args).stdout(std::process::Stdio::null()).spawn().unwrap();
        let started = std::time::Instant::now();
        while !ready(self) {
            assert!(child.try_wait().unwrap().is_none(), "standby {} ended before {what}", args.join(" "));
            assert!(started.elapsed().as_secs() < 120, "{what} never happened");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        child.kill().unwrap();
        let _ = child.wait();
    }
}

/// When to kill a drill: a name, and what must hold.
type Moment<'a> = (&'a str, &'a dyn Fn(&World) -> bool);

/// The drill's id (random) filtered out of what people read.
fn filter_id(text: &str) -> String {
    let b = text.as_bytes();
    let id = |k: usize| {
        k + 6 <= b.len()
            && b[k..k + 6].iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && b.get(k + 6).is_none_or(|c| !c.is_ascii_alphanumeric())
    };
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if ["drill-", "drill=", "Drill ", "drill "].iter().any(|p| text[i..].starts_with(p)) && id(i + 6) {
            out.push_str(&text[i..i + 6]);
            out.push_str("XXXXXX");
            i += 12;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Also times (RFC 3339) and seconds (`12s`, `| 12 |`), which vary.
fn scrub(text: &str) -> String {
    let mut text = filter_id(text);
    // The endpoints' DNS part is the emulator's own (random) one.
    let mut from = 0;
    while let Some(k) = text[from..].find(".cluster-").map(|k| k + from + 9) {
        let n = text[k..].bytes().take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit()).count();
        text.replace_range(k..k + n, "DNS");
        from = k;
    }
    let b: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let digits = |k: usize| (k..b.len()).take_while(|&j| b[j].is_ascii_digit()).count();
    while i < b.len() {
        let n = digits(i);
        let time = n == 4 && b.len() > i + 19 && b[i + 4] == '-' && b[i + 10] == 'T' && b[i + 19] == 'Z';
        let after_gap = i > 0 && (b[i - 1] == ' ' || b[i - 1] == '[');
        if time {
            out.push_str("<time>");
            i += 20;
        } else if n > 0
            && after_gap
            && (b.get(i + n) == Some(&'s') || (b.get(i + n) == Some(&' ') && b.get(i + n + 1) == Some(&'|')))
        {
            out.push('N');
            i += n;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Validates a report against schemas/NAME.schema.json with a real JSON
/// Schema validator (python-jsonschema, installed with the emulator).
fn assert_valid(schema: &str, json_text: &str) {
    use std::io::Write;
    let script = "import json,sys,jsonschema\n\
schema=json.load(open(sys.argv[1]))\n\
jsonschema.Draft7Validator.check_schema(schema)\n\
errors=[f'{list(e.path)}: {e.message}' for e in jsonschema.Draft7Validator(schema).iter_errors(json.load(sys.stdin))]\n\
print('\\n'.join(errors)); sys.exit(1 if errors else 0)\n";
    let mut child = std::process::Command::new(repo().join(".venv-emulator/bin/python"))
        .args(["-c", script])
        .arg(repo().join(format!("schemas/{schema}.schema.json")))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python with jsonschema (scripts/emulator install)");
    child.stdin.take().unwrap().write_all(json_text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "not valid against the schema:\n{}", String::from_utf8_lossy(&out.stdout));
}

/// The safety rule: every change names only the drill's own resources (a
/// production cluster may be named as what is copied from, or the subnet
/// group the copy goes in), and nothing at all is asked of the active region.
fn assert_only_drill_changes(w: &World, own: &str) {
    let changes = w.changes();
    assert!(!changes.is_empty(), "the drill changed nothing?");
    let read_from = ["SourceDBClusterIdentifier", "DBSubnetGroupName"];
    for (region, op, targets) in &changes {
        assert_eq!(region, EAST, "{op} went to {region}: a drill calls only the standby region");
        let targets = targets.as_object().cloned().unwrap_or_default();
        assert!(!targets.is_empty(), "{op} names nothing: cannot prove it is the drill's");
        for (k, v) in targets {
            let v = v.as_str().unwrap_or_default();
            let ours = v == own || v.starts_with(&format!("{own}-"));
            assert!(ours || read_from.contains(&k.as_str()), "{op} {k}={v}: not the drill's ({own})");
        }
    }
    let all = w.control("GET", "/_emulator/calls");
    assert!(
        all.as_array().unwrap().iter().all(|c| c["region"] != WEST),
        "the drill asked the active region something: {all}"
    );
}

#[test]
fn a_drill_copies_the_standby_database_and_changes_nothing_else() {
    let w = World::applied();
    let production = std::fs::read(w.dir.join("state/standby.json")).unwrap();
    let run = w.ok(0, &["drill", ".", "--auto-approve"]);
    let id = w.drill_id();
    let own = format!("standby-drill-{id}");
    assert!(run.stdout.contains(&format!("Drill {id}")), "{}", run.stdout);
    assert!(run.stdout.contains("an Aurora clone of mm-db-us-east-1 (copy-on-write)"), "{}", run.stdout);
    assert!(run.stdout.contains("Drill finished"), "{}", run.stdout);
    assert_eq!(w.step_status("drill.db-copy").as_deref(), Some("done"));
    assert_eq!(w.step_status("drill.cleanup").as_deref(), Some("done"));
    assert_only_drill_changes(&w, &own);
    let ops: Vec<String> = w.changes().into_iter().map(|(_, op, _)| op).collect();
    assert_eq!(ops, ["RestoreDBClusterToPointInTime", "CreateDBInstance", "DeleteDBInstance", "DeleteDBCluster"]);
    assert_eq!(w.left(&own), Vec::<String>::new(), "the drill left copies behind");
    assert_eq!(w.left(STANDBY_CLUSTER).len(), 2, "production's standby cluster and its instance stay");
    assert_eq!(std::fs::read(w.dir.join("state/standby.json")).unwrap(), production, "production's state was written");
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    insta::assert_snapshot!("drill_report_human", scrub(&run.stdout[run.stdout.rfind("\nDrill ").unwrap()..]));

    // The report in the other formats: standard output holds only it.
    let json = w.ok(0, &["drill", ".", "--auto-approve", "--format", "json"]);
    assert_valid("drill-report", &json.stdout);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!((report["passed"].as_bool(), report["outcome"].as_str()), (Some(true), Some("passed")));
    let ids: Vec<&str> = report["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["drill.db-copy", "drill.cleanup"]);
    assert!(json.stderr.contains("[1/2]"), "progress goes to standard error: {}", json.stderr);
    let md = w.ok(0, &["drill", ".", "--auto-approve", "--format", "markdown"]);
    insta::assert_snapshot!("drill_report_markdown", scrub(&md.stdout));
    assert_eq!(w.left("standby-drill-"), Vec::<String>::new());
}

#[test]
fn the_drill_is_shown_first_and_its_plan_calls_nothing() {
    let w = World::applied();
    let run = w.ok(0, &["drill", ".", "--plan"]);
    assert!(run.stdout.contains("Drill: a failover to secondary (us-east-1) rehearsed on copies"), "{}", run.stdout);
    insta::assert_snapshot!("drill_plan_human", filter_id(&run.stdout));
    assert!(run.stdout.contains("[drill.db-copy]") && run.stdout.contains("[drill.cleanup]"), "{}", run.stdout);
    let json = w.ok(0, &["drill", ".", "--plan", "--format", "json"]);
    let rb: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(rb["mode"], "drill");
    assert_eq!(rb["steps"][0]["action"], "drill_db_copy");
    assert_eq!(rb["steps"][0]["source_cluster"], STANDBY_CLUSTER);
    let md = w.ok(0, &["drill", ".", "--plan", "--format", "markdown"]);
    assert!(md.stdout.contains("| 1 | <code>drill.db-copy</code> | us-east-1 |"), "{}", md.stdout);
    insta::assert_snapshot!("drill_plan_markdown", filter_id(&md.stdout));
    assert_eq!(w.control("GET", "/_emulator/calls"), serde_json::json!([]), "--plan called AWS");
    assert_eq!(w.ok(1, &["drill", ".", "--to", "nowhere", "--plan"]).code, 1);
    assert!(
        w.run(&["drill", ".", "--to", "primary", "--plan"]).stderr.contains("no standby Aurora cluster in us-west-1")
    );
}

#[test]
fn a_killed_drill_is_finished_by_its_cleanup_at_any_step() {
    let w = World::applied();
    // A copy takes time, as on AWS: the kill lands while the drill waits for it.
    w.control_with("POST", "/_emulator/settings", Some(serde_json::json!({"rds_restore_ms": 3000})));
    // Killed as its first step starts, then once its copy exists: each time
    // the copies go with `--cleanup ID`, and the next drill runs.
    let copy_exists =
        |w: &World| !w.drill_id().is_empty() && !w.left(&format!("standby-drill-{}", w.drill_id())).is_empty();
    let running = |w: &World| w.step_status("drill.db-copy").as_deref() == Some("running");
    let moments: [Moment; 2] = [("the copy step runs", &running), ("the copy exists", &copy_exists)];
    for (what, when) in moments {
        w.kill_when(&["drill", ".", "--auto-approve"], what, when);
        let id = w.drill_id();
        assert!(!id.is_empty(), "the record names the drill before any change ({what})");
        let refused = w.ok(1, &["drill", ".", "--auto-approve"]);
        assert!(refused.stderr.contains(&format!("standby drill --cleanup {id}")), "{}", refused.stderr);
        w.ok(0, &["drill", ".", "--cleanup", &id, "--auto-approve"]);
        // Creates killed before their answer was recorded may land a moment later:
        // the cleanup observes AWS, so a second one finds them.
        let own = format!("standby-drill-{id}");
        if !w.left(&own).is_empty() {
            w.ok(0, &["drill", ".", "--cleanup", &id, "--auto-approve"]);
        }
        assert_eq!(w.left(&own), Vec::<String>::new(), "copies left after a kill when {what}");
    }
    w.ok(0, &["drill", ".", "--auto-approve"]);
    assert_eq!(w.left("standby-drill-"), Vec::<String>::new());
}

#[test]
fn a_kept_drill_runs_until_its_cleanup() {
    let w = World::applied();
    let run = w.ok(0, &["drill", ".", "--keep", "--auto-approve"]);
    let id = w.drill_id();
    let own = format!("standby-drill-{id}");
    assert!(run.stdout.contains(&format!("standby drill --cleanup {id}")), "{}", run.stdout);
    assert_eq!(w.left(&own), vec![own.clone(), format!("{own}-1")]);
    assert_eq!(w.ok(1, &["drill", ".", "--auto-approve"]).code, 1, "a second drill while one is kept");
    w.ok(0, &["drill", ".", "--cleanup", &id, "--auto-approve"]);
    assert_eq!(w.left(&own), Vec::<String>::new());
    assert!(w.run(&["drill", ".", "--cleanup", "NOT-AN-ID", "--auto-approve"]).stderr.contains("is not a drill id"));
}

#[test]
fn drift_says_when_the_last_successful_drill_ran() {
    let w = World::applied();
    let check = |w: &World, args: &[&str]| -> (Value, Value) {
        let run = w.run(&[&["drift", ".", "--format", "json"][..], args].concat());
        let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|_| panic!("{}", run.all()));
        let c = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "drill.last_success").cloned();
        let f = report["findings"].as_array().unwrap().iter().find(|f| f["check"] == "drill.last_success").cloned();
        (c.unwrap_or(Value::Null), f.unwrap_or(Value::Null))
    };
    // No drill on record: nothing said, unless a maximum age is asked for.
    assert_eq!(check(&w, &[]), (Value::Null, Value::Null));
    let (c, f) = check(&w, &["--max-drill-age", "30"]);
    assert_eq!((c["status"].as_str(), c["actual"].as_str()), (Some("fail"), Some("never")));
    assert_eq!(f["kind"], "unhealthy");
    w.ok(0, &["drill", ".", "--auto-approve"]);
    let (c, f) = check(&w, &[]);
    assert_eq!(c["status"], "pass", "{c}");
    assert!(c["title"].as_str().unwrap().starts_with("last successful drill: 0 days ago"), "{c}");
    assert_eq!(f, Value::Null);
    // The same drill, long ago: too old.
    let path = w.dir.join("state/standby.drill.json");
    let mut rec: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(rec["roles"]["drills"][0]["outcome"], "passed");
    assert!(rec["roles"]["drills"][0]["steps"][0][0] == "drill.db-copy", "{rec}");
    rec["roles"]["drills"][0]["ended"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&path, serde_json::to_string_pretty(&rec).unwrap()).unwrap();
    let (c, f) = check(&w, &[]);
    assert_eq!(c["status"], "fail", "{c}");
    assert_eq!(f["kind"], "unhealthy");
}
