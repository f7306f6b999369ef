//! Planned switchover of the database through the built binary, against a
//! private emulator whose Aurora switchover takes time. What AWS holds is
//! checked with the SDK and the emulator's call log, never through standby.

mod common;

use aws_sdk_rds::Client as Rds;
use common::{Emulator, Run, copy_dir, http, repo, scratch};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;

const WEST: &str = "us-west-1";
const EAST: &str = "us-east-1";
const GLOBAL: &str = "mm-db";
const CLUSTER_WEST: &str = "mm-db-us-west-1";
const CLUSTER_EAST: &str = "mm-db-us-east-1";

struct World {
    emu: Emulator,
    dir: PathBuf,
    rt: tokio::runtime::Runtime,
    rds: BTreeMap<&'static str, Rds>,
    cw: BTreeMap<&'static str, aws_sdk_cloudwatch::Client>,
}

impl World {
    fn new() -> World {
        let root = scratch("switchover");
        copy_dir(&repo().join("modules"), &root.join("modules"));
        copy_dir(&repo().join("tests/fixtures/switchover"), &root.join("cfg"));
        let emu = Emulator::start();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let endpoint = emu.endpoint();
        let (rds, cw) = rt.block_on(async {
            let mut rds = BTreeMap::new();
            let mut cw = BTreeMap::new();
            for region in [WEST, EAST] {
                let config = common::sdk_config(&endpoint, region).await;
                rds.insert(region, Rds::new(&config));
                cw.insert(region, aws_sdk_cloudwatch::Client::new(&config));
            }
            (rds, cw)
        });
        World { emu, dir: root.join("cfg"), rt, rds, cw }
    }

    /// With the app tier and DNS too (tests/fixtures/switchover-front).
    fn with_front() -> World {
        let w = World::new();
        std::fs::copy(repo().join("tests/fixtures/switchover-front/front.yaml"), w.dir.join("front.yaml")).unwrap();
        w
    }

    /// With the app tier and DNS, the front fixture's text changed by `edit`
    /// (a variant: a pilot-light secondary, other database endpoints).
    fn with_front_edited(edit: impl Fn(String) -> String) -> World {
        let w = World::new();
        let text = std::fs::read_to_string(repo().join("tests/fixtures/switchover-front/front.yaml")).unwrap();
        let edited = edit(text.clone());
        assert_ne!(edited, text, "the edit changed nothing");
        std::fs::write(w.dir.join("front.yaml"), edited).unwrap();
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

    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = self.cmd(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run standby").into()
    }

    /// Status of a step of the state's last run, as last written.
    fn step_status(&self, id: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join("state/standby.json")).ok()?;
        let st: Value = serde_json::from_str(&text).ok()?;
        st["roles"]["run"]["steps"].as_array()?.iter().find(|s| s["id"] == id)?["status"].as_str().map(str::to_string)
    }

    /// Starts `args`, and kills it once step `id` is recorded running.
    fn kill_during(&self, args: &[&str], id: &str) {
        let mut child = self.cmd(args).stdout(std::process::Stdio::null()).spawn().unwrap();
        let started = std::time::Instant::now();
        while self.step_status(id).as_deref() != Some("running") {
            assert!(child.try_wait().unwrap().is_none(), "standby {} ended before {id} ran", args.join(" "));
            assert!(started.elapsed().as_secs() < 120, "{id} never ran");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
    }

    /// The steps of the state's last run with their statuses.
    fn steps(&self) -> Vec<(String, String)> {
        let st = self.state();
        st["roles"]["run"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["id"].as_str().unwrap().to_string(), s["status"].as_str().unwrap().to_string()))
            .collect()
    }

    /// The regions the AWS calls since the last reset went to.
    fn regions_called(&self) -> Vec<String> {
        let calls = self.control("GET", "/_emulator/calls", None);
        let set: std::collections::BTreeSet<String> =
            calls.as_array().unwrap().iter().map(|c| c["region"].as_str().unwrap().to_string()).collect();
        set.into_iter().collect()
    }

    fn ok(&self, code: i32, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, code, "standby {}:\n{}", args.join(" "), run.all());
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        run
    }

    fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, text) = http(&self.emu.endpoint(), method, path, None, "", body.map(|b| b.to_string()).as_deref());
        assert!(status < 300, "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// The writer's cluster id and whether an operation is still under way.
    fn writer(&self) -> (String, bool) {
        let out = self
            .rt
            .block_on(self.rds[EAST].describe_global_clusters().global_cluster_identifier(GLOBAL).send())
            .expect("DescribeGlobalClusters");
        let g = &out.global_clusters()[0];
        let w = g.global_cluster_members().iter().find(|m| m.is_writer() == Some(true)).expect("a writer");
        let arn = w.db_cluster_arn().unwrap_or_default();
        (arn.rsplit(':').next().unwrap_or_default().to_string(), g.failover_state().is_some())
    }

    fn forwarding(&self, region: &str, cluster: &str) -> Option<bool> {
        let out = self
            .rt
            .block_on(self.rds[region].describe_db_clusters().db_cluster_identifier(cluster).send())
            .expect("DescribeDBClusters");
        out.db_clusters()[0].global_write_forwarding_requested()
    }

    fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.join("state/standby.json")).unwrap()).unwrap()
    }

    /// The operations among `ops` in the call log, in the order they came.
    fn ops_in_order(&self, ops: &[&str]) -> Vec<String> {
        let calls = self.control("GET", "/_emulator/calls", None);
        calls
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["operation"].as_str())
            .filter(|op| ops.contains(op))
            .map(str::to_string)
            .collect()
    }

    /// Switchover calls in the call log, as (operation, region).
    fn switch_calls(&self) -> Vec<(String, String)> {
        let calls = self.control("GET", "/_emulator/calls", None);
        calls
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                let op = c["operation"].as_str().unwrap_or_default();
                op.contains("GlobalCluster") && (op.starts_with("Switchover") || op.starts_with("Failover"))
            })
            .map(|c| (c["operation"].as_str().unwrap().to_string(), c["region"].as_str().unwrap().to_string()))
            .collect()
    }
}

#[test]
fn planned_switchover_moves_the_writer_and_back_with_clean_plans() {
    let w = World::new();
    w.ok(0, &["apply", ".", "--auto-approve"]);
    assert_eq!(w.writer(), (CLUSTER_WEST.to_string(), false));

    // The switchover is a reviewable runbook in every rendering.
    let to_east = ["--var", "active_region=secondary"];
    let plan = w.ok(2, &[&["plan", ".", "--detailed-exitcode"][..], &to_east].concat());
    let runbook = &plan.stdout[..plan.stdout.find("standby used").unwrap_or(plan.stdout.len())];
    insta::assert_snapshot!("switchover_runbook_human", runbook);
    let md = w.ok(0, &[&["plan", ".", "--format", "markdown"][..], &to_east].concat());
    let table = md.stdout.split("#### Switchover").nth(1).expect("a runbook section");
    insta::assert_snapshot!(
        "switchover_runbook_markdown",
        table.split("\n\n").take(2).collect::<Vec<_>>().join("\n\n")
    );
    let doc: Value = serde_json::from_str(&w.ok(0, &[&["plan", ".", "--json"][..], &to_east].concat()).stdout).unwrap();
    insta::assert_json_snapshot!("switchover_runbook_json", doc["runbook"]);
    let ids: Vec<&str> =
        doc["runbook"]["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["readiness", "db.write-forwarding", "db.switchover"]);
    // Reviewing changed nothing.
    assert_eq!(w.writer(), (CLUSTER_WEST.to_string(), false));

    // AWS takes its time; standby waits on FailoverState, in the writer's region.
    w.control("POST", "/_emulator/settings", Some(json!({"rds_failover_ms": 1500})));
    w.control("DELETE", "/_emulator/calls", None);
    let apply = w.ok(0, &[&["apply", ".", "--auto-approve"][..], &to_east].concat());
    assert!(apply.stdout.contains("Switchover complete: secondary (us-east-1) is active"), "{}", apply.stdout);
    assert_eq!(w.writer(), (CLUSTER_EAST.to_string(), false));
    assert_eq!(w.switch_calls(), [("SwitchoverGlobalCluster".to_string(), WEST.to_string())]);
    // Write forwarding was asked for on the writer before the switch (AWS
    // applies it at demotion): the new secondary forwards at once, nothing
    // asked after; the clusters keep their names.
    assert_eq!(w.forwarding(WEST, CLUSTER_WEST), Some(true));
    // (The ordinary apply after the runbook applies the plan's change of the setting again: a no-op.)
    let ops = w.ops_in_order(&["ModifyDBCluster", "SwitchoverGlobalCluster"]);
    assert_eq!(ops[..2], ["ModifyDBCluster", "SwitchoverGlobalCluster"], "{}", apply.stdout);
    let st = w.state();
    assert_eq!(st["roles"]["active"], "secondary");
    let events = st["roles"]["run"]["events"].as_array().unwrap();
    let steps: Vec<&str> = events.iter().map(|e| e["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["readiness", "db.write-forwarding", "db.switchover"]);
    assert!(events.iter().all(|e| e["end"].is_string() && !e["outcome"].as_str().unwrap().starts_with("failed")));
    assert_eq!(events[2]["request_ids"].as_array().map(Vec::len), Some(1), "{events:?}");
    let switched = events[2]["outcome"].as_str().unwrap();
    assert!(switched.contains(&format!("write forwarding on {CLUSTER_WEST}: enabled")), "{switched}");
    let clean = w.ok(0, &[&["plan", ".", "--detailed-exitcode"][..], &to_east].concat());
    assert!(clean.stdout.contains("No changes."), "{}", clean.stdout);
    assert_eq!(w.ok(0, &["output", "writer_region"]).stdout.trim().trim_matches('"'), "us-east-1");

    // Failback: the same operation the other way.
    w.control("DELETE", "/_emulator/calls", None);
    let back = w.ok(0, &["apply", ".", "--auto-approve"]);
    assert!(back.stdout.contains("Switchover complete: primary (us-west-1) is active"), "{}", back.stdout);
    assert_eq!(w.writer(), (CLUSTER_WEST.to_string(), false));
    assert_eq!(w.switch_calls(), [("SwitchoverGlobalCluster".to_string(), EAST.to_string())]);
    assert_eq!(w.forwarding(EAST, CLUSTER_EAST), Some(true));
    let clean = w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    assert!(clean.stdout.contains("No changes."), "{}", clean.stdout);
    assert_eq!(w.state()["roles"]["active"], "primary");
}

#[test]
fn active_region_must_name_a_region() {
    let dir = scratch("switchover-bad");
    copy_dir(&repo().join("modules"), &dir.join("modules"));
    copy_dir(&repo().join("tests/fixtures/switchover"), &dir.join("cfg"));
    let run: Run = common::cmd(&dir.join("cfg"), &["plan", ".", "--var", "active_region=us-east-1"])
        .env("STANDBY_VAR_db_password", "x")
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 1, "{}", run.all());
    insta::assert_snapshot!("switchover_bad_active_region", run.stderr);
}

#[test]
fn a_switchover_killed_while_aws_switches_resumes_to_the_same_end() {
    let w = World::new();
    w.ok(0, &["apply", ".", "--auto-approve"]);
    w.control("POST", "/_emulator/settings", Some(json!({"rds_failover_ms": 4000})));
    let to_east = ["--var", "active_region=secondary"];
    let mut child = w
        .emu
        .cmd(&w.dir, &[&["apply", ".", "--auto-approve"][..], &to_east].concat())
        .env("STANDBY_VAR_db_password", "Db-Master-7#wz")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill it once AWS has been asked (FailoverState shows), before it is done.
    let started = std::time::Instant::now();
    while !w.writer().1 {
        assert!(started.elapsed().as_secs() < 60, "the switchover never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    let _ = child.wait();
    let st = w.state();
    assert_eq!(st["roles"]["run"]["steps"][2], json!({"id": "db.switchover", "status": "running"}), "{st:#}");
    w.control("DELETE", "/_emulator/calls", None);
    let again = w.ok(0, &[&["apply", ".", "--auto-approve"][..], &to_east].concat());
    assert!(again.stdout.contains("readiness: done in an earlier run"), "{}", again.stdout);
    // Observed first: the switchover under way is waited on, not asked for again.
    assert_eq!(w.switch_calls(), Vec::<(String, String)>::new());
    assert_eq!(w.writer(), (CLUSTER_EAST.to_string(), false));
    assert_eq!(w.state()["roles"]["active"], "secondary");
    w.ok(0, &[&["plan", ".", "--detailed-exitcode"][..], &to_east].concat());
}

/// The Aurora lag RDS would publish for the secondary, in milliseconds.
fn publish_lag(w: &World, ms: f64) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    let datum = MetricDatum::builder()
        .metric_name("AuroraGlobalDBRPOLag")
        .dimensions(Dimension::builder().name("DBClusterIdentifier").value(CLUSTER_EAST).build())
        .timestamp((std::time::SystemTime::now() - std::time::Duration::from_secs(30)).into())
        .value(ms)
        .unit(StandardUnit::Milliseconds)
        .build();
    w.rt.block_on(w.cw[EAST].put_metric_data().namespace("AWS/RDS").metric_data(datum).send()).expect("PutMetricData");
}

#[test]
fn failover_with_the_primary_region_down_calls_only_the_secondary() {
    let w = World::with_front();
    w.ok(0, &["apply", ".", "--auto-approve"]);
    publish_lag(&w, 850.0);
    w.control("POST", "/_emulator/regions", Some(json!({"region": WEST, "down": true})));
    w.control("DELETE", "/_emulator/calls", None);

    let refused = w.ok(1, &["failover", ".", "--to", "secondary", "--auto-approve"]);
    assert!(refused.stderr.contains("--allow-data-loss"), "{}", refused.stderr);
    let run = w.ok(0, &["failover", ".", "--to", "secondary", "--allow-data-loss", "--auto-approve"]);
    assert!(run.stdout.contains("db.rejoin: pending until us-west-1 is back"), "{}", run.stdout);
    assert!(run.stdout.contains("the last replication lag seen was 850 ms"), "{}", run.stdout);
    // Only the surviving region was called, and it never waited on the other.
    let calls = w.control("GET", "/_emulator/calls", None);
    let regions: std::collections::BTreeSet<&str> =
        calls.as_array().unwrap().iter().map(|c| c["region"].as_str().unwrap()).collect();
    assert_eq!(regions.into_iter().collect::<Vec<_>>(), [EAST], "{calls:#}");
    assert_eq!(w.switch_calls(), [("FailoverGlobalCluster".to_string(), EAST.to_string())]);
    assert_eq!(w.writer(), (CLUSTER_EAST.to_string(), false));
    let st = w.state();
    assert_eq!(st["roles"]["active"], "secondary");
    assert_eq!(st["roles"]["failover"]["from"], "primary");
    assert_eq!(st["roles"]["failover"]["last_lag_ms"], 850.0);
    let steps = &st["roles"]["run"]["steps"];
    assert_eq!(
        steps,
        &json!([
            {"id": "db.failover", "status": "done"},
            {"id": "app.scheduler-on", "status": "done"},
            {"id": "app.serving", "status": "done"},
            {"id": "dns.to-active", "status": "done"},
            {"id": "app.scheduler-off", "status": "pending"},
            {"id": "db.rejoin", "status": "pending"},
            {"id": "db.write-forwarding", "status": "pending"},
        ])
    );
    // Users reach the survivor, whose nodes run the job scheduler now (the
    // old region's nodes still have it on: they wait for the region).
    let front = Front::new(&w.emu.endpoint());
    assert_eq!(front.scheduler(EAST), "true");
    let dns = front.dns();
    assert!(dns["PRIMARY"].contains(".us-east-1."), "{dns:?}");
    assert!(dns["SECONDARY"].contains(".us-west-1."), "{dns:?}");

    // The configuration still names the old region: refused, with the fix, before any AWS call.
    let silent = w.ok(1, &["plan", "."]);
    assert!(silent.stderr.contains("a failover made `secondary` the active region"), "{}", silent.stderr);
    assert!(silent.stderr.contains("--var active_region=secondary"), "{}", silent.stderr);

    // The region is back: the pending steps show in the plan, and apply finishes them.
    // Aurora's snapshot of the old writer, and its copy, take a while to be available.
    // Aurora lists the old writer again before its snapshot shows (AWS does not say which comes first).
    w.control("POST", "/_emulator/settings", Some(json!({"rds_snapshot_ms": 1000, "rds_rejoin_snapshot_ms": 2500})));
    w.control("POST", "/_emulator/regions", Some(json!({"region": WEST, "down": false})));
    let keep = ["--var", "active_region=secondary"];
    let plan = w.ok(2, &[&["plan", ".", "--detailed-exitcode"][..], &keep].concat());
    assert!(
        plan.stdout.contains("Failover to secondary (us-east-1), 3 step(s) not done yet, in this order"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("[app.scheduler-off] Job scheduler OFF in us-west-1"), "{}", plan.stdout);
    let apply = w.ok(0, &[&["apply", ".", "--auto-approve"][..], &keep].concat());
    assert!(apply.stdout.contains("Failover finished: secondary (us-east-1) is active"), "{}", apply.stdout);
    assert_eq!(w.forwarding(WEST, CLUSTER_WEST), Some(true));
    assert_eq!((front.scheduler(WEST), front.scheduler(EAST)), ("false".to_string(), "true".to_string()));
    assert_failover_snapshot_kept(&w, &apply.stdout);
    let clean = w.ok(0, &[&["plan", ".", "--detailed-exitcode"][..], &keep].concat());
    assert!(clean.stdout.contains("No changes."), "{}", clean.stdout);
    let st = w.state();
    assert!(st["roles"].get("failover").is_none(), "{st:#}");
    // Switching back is an ordinary, reviewed switchover again.
    let back = w.ok(2, &["plan", ".", "--detailed-exitcode"]);
    assert!(back.stdout.contains("Switchover: secondary (us-east-1) → primary (us-west-1)"), "{}", back.stdout);
}

#[test]
fn failover_with_route53s_region_down_leaves_dns_to_the_health_checks() {
    let w = World::with_front();
    w.ok(0, &["apply", ".", "--auto-approve"]);
    let to_east = ["--var", "active_region=secondary"];
    w.ok(0, &[&["apply", ".", "--auto-approve"][..], &to_east].concat());
    // us-east-1 (the active region, and Route 53's control plane) goes down.
    w.control("POST", "/_emulator/regions", Some(json!({"region": EAST, "down": true})));
    w.control("DELETE", "/_emulator/calls", None);
    let run = w.ok(0, &["failover", ".", "--to", "primary", "--allow-data-loss", "--auto-approve"]);
    assert!(run.stdout.contains("dns.to-active: pending until us-east-1 is back"), "{}", run.stdout);
    // No fencing event in the survivor: said so (split brain stays possible).
    assert!(run.stdout.contains("no write-fencing event in us-west-1 yet"), "{}", run.stdout);
    // What to do with the old region's nodes meanwhile.
    assert!(
        run.stdout.contains("Keep them out of service until `standby apply --var active_region=primary` has run"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Route 53 answers with the SECONDARY record"), "{}", run.stdout);
    let calls = w.control("GET", "/_emulator/calls", None);
    let regions: std::collections::BTreeSet<&str> =
        calls.as_array().unwrap().iter().map(|c| c["region"].as_str().unwrap()).collect();
    assert_eq!(regions.into_iter().collect::<Vec<_>>(), [WEST], "{calls:#}");
    let front = Front::new(&w.emu.endpoint());
    assert_eq!(front.scheduler(WEST), "true");
    let st = w.state();
    let steps = st["roles"]["run"]["steps"].as_array().unwrap();
    let status_of = |id: &str| steps.iter().find(|s| s["id"] == id).map(|s| s["status"].clone());
    assert_eq!(status_of("app.scheduler-on"), Some(json!("done")), "{steps:?}");
    assert_eq!(status_of("dns.to-active"), Some(json!("pending")), "{steps:?}");

    // Back: apply moves DNS and turns the old region's scheduler off before anything else of
    // the deferred part (users never go back to the old region). Aurora's snapshot never comes:
    // said so, kept as a note of the run.
    w.control("POST", "/_emulator/settings", Some(json!({"rds_rejoin_snapshot_ms": -1})));
    w.control("POST", "/_emulator/regions", Some(json!({"region": EAST, "down": false})));
    let plan = w.ok(0, &["plan", "."]);
    assert!(plan.stdout.contains("[dns.to-active] DNS to us-west-1"), "{}", plan.stdout);
    let apply = w.run_env(&["apply", ".", "--auto-approve"], &[("STANDBY_FAILOVER_SNAPSHOT_WAIT_SECS", "2")]);
    assert_eq!(apply.code, 0, "{}", apply.all());
    let events = w.state()["roles"]["run"]["events"].as_array().unwrap().clone();
    let last: Vec<&str> = events.iter().rev().take(4).rev().map(|e| e["step"].as_str().unwrap()).collect();
    assert_eq!(last, ["dns.to-active", "app.scheduler-off", "db.rejoin", "db.write-forwarding"], "{events:#?}");
    let none = "Aurora left no rds:unplanned-global-failover-mm-db-us-east-1-* snapshot in us-east-1 within 2s";
    assert!(apply.stdout.contains(&format!("Note (kept in the state with the run): {none}")), "{}", apply.stdout);
    let notes = w.state()["roles"]["run"]["notes"].clone();
    assert!(notes.as_array().unwrap().iter().any(|n| n.as_str().unwrap().starts_with(none)), "{notes}");
    let dns = front.dns();
    assert!(dns["PRIMARY"].contains(".us-west-1."), "{dns:?}");
    assert_eq!((front.scheduler(WEST), front.scheduler(EAST)), ("true".to_string(), "false".to_string()));
    let clean = w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    assert!(clean.stdout.contains("No changes."), "{}", clean.stdout);
}

#[test]
fn readiness_failure_stops_before_any_change_unless_forced() {
    let w = World::new();
    w.ok(0, &["apply", ".", "--auto-approve"]);
    // Two minutes behind: over the default bound of 60 s.
    publish_lag(&w, 120_000.0);
    w.control("DELETE", "/_emulator/calls", None);
    let to_east = ["--var", "active_region=secondary"];
    let stopped = w.ok(1, &[&["apply", ".", "--auto-approve"][..], &to_east].concat());
    assert!(stopped.stderr.contains("readiness check failed, nothing was changed"), "{}", stopped.stderr);
    assert!(stopped.stderr.contains("db.replication_lag: replication lag of mm-db-us-east-1"), "{}", stopped.stderr);
    assert!(stopped.stderr.contains("--force"), "{}", stopped.stderr);
    assert_eq!(w.switch_calls(), Vec::<(String, String)>::new());
    let writes: Vec<Value> = w
        .control("GET", "/_emulator/calls", None)
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            let op = c["operation"].as_str().unwrap();
            !op.starts_with("Describe") && !op.starts_with("List") && op != "GetMetricData"
        })
        .cloned()
        .collect();
    assert!(writes.is_empty(), "changes were made: {writes:#?}");
    assert_eq!(w.writer(), (CLUSTER_WEST.to_string(), false));
    let st = w.state();
    assert_eq!(st["roles"]["active"], "primary");
    assert!(st["roles"]["run"]["events"][0]["outcome"].as_str().unwrap().starts_with("failed: readiness"), "{st:#}");

    let forced = w.ok(0, &[&["apply", ".", "--auto-approve", "--force"][..], &to_east].concat());
    assert!(forced.stdout.contains("Warning: --force: switching although readiness failed"), "{}", forced.stdout);
    assert_eq!(w.writer(), (CLUSTER_EAST.to_string(), false));
}

// ------------------------------------------------- the full example: search

const SEARCH_PASSWORD: &str = "Srch-Master-9!kq";
const OS_WEST: &str = "mattermost-dr-os-us-west-1";
const OS_EAST: &str = "mattermost-dr-os-us-east-1";
const REPLICATED: [&str; 4] = ["channels", "files", "posts-2026-12-01", "users"];

/// examples/mattermost-dr, whole (database, files, search, app tier, DNS),
/// against a private emulator.
struct Full {
    emu: Emulator,
    dir: PathBuf,
}

/// The SDK's view of what a switch moves besides the data: DNS and the job
/// scheduler.
struct Front {
    rt: tokio::runtime::Runtime,
    r53: aws_sdk_route53::Client,
    ec2: BTreeMap<&'static str, aws_sdk_ec2::Client>,
}

impl Front {
    fn new(endpoint: &str) -> Front {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let (r53, ec2) = rt.block_on(async {
            let mut ec2 = BTreeMap::new();
            let mut r53 = None;
            for region in [WEST, EAST] {
                let config = common::sdk_config(endpoint, region).await;
                ec2.insert(region, aws_sdk_ec2::Client::new(&config));
                // Route 53 is signed for us-east-1 (reachable while us-west-1 is down).
                if region == EAST {
                    r53 = Some(aws_sdk_route53::Client::new(&config));
                }
            }
            (r53.unwrap(), ec2)
        });
        Front { rt, r53, ec2 }
    }

    /// The hostname's failover records: PRIMARY/SECONDARY → alias target.
    fn dns(&self) -> BTreeMap<String, String> {
        self.rt.block_on(async {
            let zones = self.r53.list_hosted_zones().send().await.unwrap();
            let zone = zones.hosted_zones()[0].id().to_string();
            let sets = self.r53.list_resource_record_sets().hosted_zone_id(zone).send().await.unwrap();
            sets.resource_record_sets()
                .iter()
                .filter_map(|r| Some((r.failover()?.as_str().to_string(), r.alias_target()?.dns_name().to_string())))
                .collect()
        })
    }

    /// `MM_JOBSETTINGS_RUNSCHEDULER` in the region's launch template (its default version).
    fn scheduler(&self, region: &'static str) -> String {
        self.rt.block_on(async {
            let out = self.ec2[region]
                .describe_launch_template_versions()
                .launch_template_name(format!("mattermost-dr-app-{region}"))
                .versions("$Default")
                .send()
                .await
                .unwrap();
            let data = out.launch_template_versions()[0].launch_template_data().unwrap();
            let bytes = aws_smithy_types::base64::decode(data.user_data().unwrap()).unwrap();
            let text = String::from_utf8(bytes).unwrap();
            text.lines()
                .find_map(|l| l.strip_prefix("MM_JOBSETTINGS_RUNSCHEDULER="))
                .map(|v| v.trim_matches('"'))
                .unwrap_or("?")
                .to_string()
        })
    }
}

impl Full {
    fn new() -> Full {
        let root = scratch("switchover-full");
        copy_dir(&repo().join("examples/mattermost-dr"), &root.join("examples/mattermost-dr"));
        copy_dir(&repo().join("modules"), &root.join("modules"));
        std::fs::remove_file(root.join("examples/mattermost-dr/imports.yaml")).unwrap();
        Full { emu: Emulator::start(), dir: root.join("examples/mattermost-dr") }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.cmd_env(args, env).output().expect("run standby").into()
    }

    /// standby with the example's variables (and `env` on top).
    fn cmd_env(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
        let mut c = self.emu.cmd(&self.dir, args);
        c.env("STANDBY_VAR_opensearch_master_password", SEARCH_PASSWORD)
            .env("STANDBY_VAR_db_master_password", "Db-Master-7#wz")
            .env("STANDBY_VAR_opensearch_replication_password", "Repl-User-5%qa")
            .env("STANDBY_VAR_opensearch_mattermost_password", "Mm-Search-3&zx")
            .env("STANDBY_VAR_search_source_ips", r#"["127.0.0.0/8"]"#)
            .env("STANDBY_VAR_deletion_protection", "false")
            // The app tier as the demo runs it (plain HTTP, no certificates).
            .env("STANDBY_VAR_app_ami_id", "ami-0abcdef1234567890")
            .env("STANDBY_VAR_app_listener_protocol", "HTTP")
            .env("STANDBY_VAR_app_listener_port", "80")
            .env("STANDBY_VAR_app_certificate_arn_primary", "null")
            .env("STANDBY_VAR_app_certificate_arn_secondary", "null")
            // A warm secondary: a switchover's readiness needs healthy app
            // nodes in the region it makes active.
            .env("STANDBY_VAR_app_nodes_passive", "1")
            .env("STANDBY_VAR_mattermost_db_password", "Mm-Db-9!kd")
            .env("STANDBY_VAR_secrets_recovery_window_in_days", "0");
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    fn ok(&self, code: i32, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, code, "standby {}:\n{}", args.join(" "), run.all());
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        run
    }

    fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, text) = http(&self.emu.endpoint(), method, path, None, "", body.map(|b| b.to_string()).as_deref());
        assert!(status < 300, "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    fn host(&self, domain: &str) -> String {
        let all = self.control("GET", "/_emulator/opensearch/domains", None);
        let d = all.as_array().unwrap().iter().find(|d| d["domain"] == domain).expect("the domain").clone();
        d["endpoints"][0].as_str().unwrap().to_string()
    }

    /// A domain REST request as its master user.
    fn rest(&self, domain: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let host = self.host(domain);
        let (status, text) = http(
            &self.emu.endpoint(),
            method,
            path,
            Some(&host),
            SEARCH_PASSWORD,
            body.map(|b| b.to_string()).as_deref(),
        );
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// `_status` of every replicated index on a domain.
    fn statuses(&self, domain: &str) -> Vec<String> {
        REPLICATED
            .iter()
            .map(|i| {
                // An auto-followed index reports BOOTSTRAPPING on its first look.
                let mut s = self.rest(domain, "GET", &format!("/_plugins/_replication/{i}/_status"), None).1;
                if s["status"] == "BOOTSTRAPPING" {
                    s = self.rest(domain, "GET", &format!("/_plugins/_replication/{i}/_status"), None).1;
                }
                s["status"].as_str().unwrap_or_default().to_string()
            })
            .collect()
    }

    /// Live (not deleted) outbound connections: (region, local, remote, status).
    fn connections(&self) -> Vec<(String, String, String, String)> {
        let mut out = Vec::new();
        for region in [WEST, EAST] {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let conns = rt.block_on(async {
                let config = common::sdk_config(&self.emu.endpoint(), region).await;
                let os = aws_sdk_opensearch::Client::new(&config);
                os.describe_outbound_connections().send().await.expect("DescribeOutboundConnections")
            });
            for c in conns.connections() {
                let status = c.connection_status().and_then(|s| s.status_code()).map(|s| s.as_str().to_string());
                if matches!(status.as_deref(), Some("DELETED" | "DELETING")) {
                    continue;
                }
                let name = |d: Option<&aws_sdk_opensearch::types::DomainInformationContainer>| {
                    d.and_then(|d| d.aws_domain_information()).map(|i| i.domain_name().to_string()).unwrap_or_default()
                };
                out.push((
                    region.to_string(),
                    name(c.local_domain_info()),
                    name(c.remote_domain_info()),
                    status.unwrap_or_default(),
                ));
            }
        }
        out
    }

    /// The leader domain first, seeded with Mattermost's indices, then everything.
    fn applied() -> Full {
        let w = Full::new();
        w.ok(
            0,
            &["apply", ".", "--auto-approve", "--target", "module.search.aws_opensearch_domain_policy.leader_policy"],
        );
        for index in REPLICATED {
            let (status, body) = w.rest(OS_WEST, "PUT", &format!("/{index}"), None);
            assert_eq!(status, 200, "PUT /{index}: {body}");
            for n in 0..3 {
                let (status, body) = w.rest(OS_WEST, "PUT", &format!("/{index}/_doc/{n}"), Some(json!({"n": n})));
                assert!(status < 300, "{body}");
            }
        }
        w.ok(0, &["apply", ".", "--auto-approve"]);
        w
    }

    /// `leader` is written to and followed by the other domain over one ACTIVE connection.
    fn assert_leads(&self, leader: &str, follower: &str, _leader_region: &str, follower_region: &str) {
        assert_eq!(
            self.connections(),
            [(follower_region.to_string(), follower.to_string(), leader.to_string(), "ACTIVE".to_string())]
        );
        assert_eq!(self.statuses(follower), ["SYNCING"; 4], "{follower} follows");
        assert_eq!(self.statuses(leader), ["REPLICATION NOT IN PROGRESS"; 4], "{leader} leads");
        // Writable on the leader; the follower refuses writes (the plugin's block).
        let (status, body) = self.rest(leader, "PUT", "/channels/_doc/after-switch", Some(json!({"n": 9})));
        assert!(status < 300, "{leader}: {status} {body}");
        let (status, _) = self.rest(follower, "PUT", "/channels/_doc/nope", Some(json!({"n": 9})));
        assert_eq!(status, 403, "{follower} is read-only");
    }
}

/// A full switchover's steps, in the safe order: write forwarding set before
/// the switch, the scheduler moved and the new region serving before DNS,
/// the search followers stopped right before DNS, the old region shrunk to
/// its passive size (the example's pilot light) once users followed DNS,
/// the old leader's copies deleted after it.
const SWITCH_ORDER: [&str; 10] = [
    "readiness",
    "db.write-forwarding",
    "db.switchover",
    "app.scheduler-off",
    "app.scheduler-on",
    "app.serving",
    "search.stop-followers",
    "dns.to-active",
    "app.scale-in",
    "search.delete-old-copies",
];

impl Full {
    fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.join("state/standby.json")).unwrap()).unwrap()
    }

    /// The last run's event log (kept in the state): each step ran once, done, in this order.
    fn assert_ran_in_order(&self, order: &[&str]) {
        let st = self.state();
        let events = st["roles"]["run"]["events"].as_array().expect("an event log").clone();
        let ran: Vec<&str> = events.iter().map(|e| e["step"].as_str().unwrap()).collect();
        assert_eq!(ran, order, "{events:#?}");
        assert!(events.iter().all(|e| e["outcome"] != "running" && !e["end"].as_str().unwrap_or("").is_empty()));
        let ends: Vec<&str> = events.iter().map(|e| e["end"].as_str().unwrap()).collect();
        assert!(ends.windows(2).all(|w| w[0] <= w[1]), "{events:#?}");
    }
}

/// Snapshot text with the run's random parts (domain endpoints) replaced.
fn scrub(text: &str) -> String {
    let mut out = String::new();
    for word in text.split_inclusive([' ', '\n', '(', ')', '"', ';', ',']) {
        let core = word.trim_end_matches([' ', '\n', '(', ')', '"', ';', ',']);
        if core.ends_with(".es.amazonaws.com") || core.contains(".es.localhost") {
            out.push_str(&word.replace(core, "<endpoint>"));
        } else {
            out.push_str(word);
        }
    }
    out
}

#[test]
fn search_switches_roles_with_the_database_and_back() {
    let w = Full::applied();
    w.assert_leads(OS_WEST, OS_EAST, WEST, EAST);
    let front = Front::new(&w.emu.endpoint());
    // Users reach the active region; only its nodes run the job scheduler.
    let roles = |active: &str, standby: &str| {
        let dns = front.dns();
        assert!(dns["PRIMARY"].contains(&format!(".{active}.")), "{dns:?}");
        assert!(dns["SECONDARY"].contains(&format!(".{standby}.")), "{dns:?}");
        let on = |r: &str| if r == active { "true" } else { "false" };
        assert_eq!((front.scheduler(WEST), front.scheduler(EAST)), (on(WEST).to_string(), on(EAST).to_string()));
    };
    roles(WEST, EAST);

    // The plan says what it deletes, with document counts, in every rendering.
    let to_east = ["--var", "active_region=secondary"];
    let doc: Value = serde_json::from_str(&w.ok(0, &[&["plan", ".", "--json"][..], &to_east].concat()).stdout).unwrap();
    let steps = doc["runbook"]["steps"].as_array().unwrap();
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, SWITCH_ORDER);
    let delete = steps.iter().find(|s| s["id"] == "search.delete-old-copies").unwrap();
    insta::assert_json_snapshot!("switchover_search_delete_step_json", delete["indices"]);
    let human = w.ok(2, &[&["plan", ".", "--detailed-exitcode"][..], &to_east].concat()).stdout;
    let runbook = human[..human.find("Then, with the changes below").expect("a runbook")].to_string();
    insta::assert_snapshot!("switchover_search_runbook_human", scrub(&runbook));
    let md = w.ok(0, &[&["plan", ".", "--format", "markdown"][..], &to_east].concat()).stdout;
    let row = md.lines().find(|l| l.contains("search.delete-old-copies")).expect("the step in markdown").to_string();
    insta::assert_snapshot!("switchover_search_delete_row_markdown", scrub(&row));
    // Scheduler and DNS: the plan's own changes, applied by their steps (every rendering says which).
    let rows: Vec<&str> = md.lines().filter(|l| l.contains("<code>app.") || l.contains("<code>dns.")).collect();
    insta::assert_snapshot!("switchover_front_rows_markdown", rows.join("\n"));
    assert!(md.contains("will be updated in-place (by runbook step dns.to-active)"), "{md}");
    let front: Vec<&Value> = steps.iter().filter(|s| s["action"] == "changes").collect();
    insta::assert_json_snapshot!("switchover_front_steps_json", front);
    assert!(human.contains("# aws_route53_record.mattermost_active (us-west-1) will be updated in-place\n  # (by runbook step dns.to-active, in the order above)"), "{human}");
    // Reviewing changed nothing.
    w.assert_leads(OS_WEST, OS_EAST, WEST, EAST);

    let apply = w.ok(0, &[&["apply", ".", "--auto-approve"][..], &to_east].concat());
    assert!(apply.stdout.contains("Switchover complete: secondary (us-east-1) is active"), "{}", apply.stdout);
    w.assert_ran_in_order(&SWITCH_ORDER);
    w.assert_leads(OS_EAST, OS_WEST, EAST, WEST);
    roles(EAST, WEST);
    // The window between the followers' stop and DNS moving is kept as a note: re-index it, from when.
    let notes = w.state()["roles"]["run"]["notes"].as_array().unwrap().clone();
    let reindex = notes.iter().filter_map(|n| n.as_str()).find(|n| n.starts_with("Search:")).expect("a search note");
    assert!(
        reindex.contains("POST /api/v4/jobs {\"type\":\"elasticsearch_post_indexing\",\"data\":{\"start_time\":\""),
        "{reindex}"
    );
    assert!(!reindex.contains("{from_ms}") && !reindex.contains("{at}"), "{reindex}");
    assert!(apply.stdout.contains(&format!("Note (kept in the state with the run): {reindex}")), "{}", apply.stdout);
    // The written document reached the new follower (replicated back).
    let clean = w.ok(0, &[&["plan", ".", "--detailed-exitcode"][..], &to_east].concat());
    assert!(clean.stdout.contains("No changes."), "{}", clean.stdout);

    // Failback: the same, the other way; the domains were never replaced.
    let back = w.ok(0, &["apply", ".", "--auto-approve"]);
    assert!(back.stdout.contains("Switchover complete: primary (us-west-1) is active"), "{}", back.stdout);
    w.assert_ran_in_order(&SWITCH_ORDER);
    assert!(!back.stdout.contains("aws_opensearch_domain.") || !back.stdout.contains("replaced"), "{}", back.stdout);
    w.assert_leads(OS_WEST, OS_EAST, WEST, EAST);
    roles(WEST, EAST);
    let clean = w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    assert!(clean.stdout.contains("No changes."), "{}", clean.stdout);
}

#[test]
fn search_failover_stops_the_survivors_followers_and_finishes_when_the_region_returns() {
    let w = Full::applied();
    w.control("POST", "/_emulator/regions", Some(json!({"region": WEST, "down": true})));
    w.control("DELETE", "/_emulator/calls", None);
    let run = w.ok(0, &["failover", ".", "--to", "secondary", "--allow-data-loss", "--auto-approve"]);
    assert!(run.stdout.contains("search.delete-old-copies: pending until us-west-1 is back"), "{}", run.stdout);
    // Only the surviving region was called (AWS APIs; the old domain's REST is down with it).
    let calls = w.control("GET", "/_emulator/calls", None);
    let regions: std::collections::BTreeSet<&str> =
        calls.as_array().unwrap().iter().map(|c| c["region"].as_str().unwrap()).collect();
    assert_eq!(regions.into_iter().collect::<Vec<_>>(), [EAST], "{calls:#}");
    // The survivor's indices are writable now.
    assert_eq!(w.statuses(OS_EAST), ["REPLICATION NOT IN PROGRESS"; 4]);
    let (status, body) = w.rest(OS_EAST, "PUT", "/channels/_doc/during-outage", Some(json!({"n": 1})));
    assert!(status < 300, "{status} {body}");
    let st: Value = serde_json::from_str(&std::fs::read_to_string(w.dir.join("state/standby.json")).unwrap()).unwrap();
    let steps = st["roles"]["run"]["steps"].as_array().unwrap();
    let status_of = |id: &str| steps.iter().find(|s| s["id"] == id).map(|s| s["status"].clone());
    assert_eq!(status_of("search.stop-followers"), Some(json!("done")), "{steps:?}");
    assert_eq!(status_of("search.delete-old-copies"), Some(json!("pending")), "{steps:?}");

    // The region is back: the plan lists the deletion with counts; apply finishes it and reverses replication.
    w.control("POST", "/_emulator/regions", Some(json!({"region": WEST, "down": false})));
    let to_east = ["--var", "active_region=secondary"];
    let plan = w.ok(0, &[&["plan", "."][..], &to_east].concat());
    assert!(plan.stdout.contains("step(s) not done yet"), "{}", plan.stdout);
    assert!(plan.stdout.contains("channels (3 documents)"), "{}", plan.stdout);
    w.ok(0, &[&["apply", ".", "--auto-approve"][..], &to_east].concat());
    w.assert_leads(OS_EAST, OS_WEST, EAST, WEST);
    let clean = w.ok(0, &[&["plan", ".", "--detailed-exitcode"][..], &to_east].concat());
    assert!(clean.stdout.contains("No changes."), "{}", clean.stdout);
}

/// In a failover, search is best effort (review 19 N2): the survivor's
/// domain refusing `_stop` and `_status` (the fault proxy, 503) leaves
/// `search.stop-followers` pending with what it costs, and the app tier and
/// DNS are done all the same; the run says "NOT finished" (exit 4) naming
/// the step, and a second run with the domain answering finishes it.
#[test]
fn a_search_error_in_a_failover_does_not_keep_the_survivor_from_serving() {
    let w = Full::applied();
    w.control("POST", "/_emulator/regions", Some(json!({"region": WEST, "down": true})));
    let proxy = common::proxy::Proxy::start(&w.emu.endpoint(), 11);
    proxy.refuse_all(&["/_stop"], 1000);
    proxy.refuse_all(&["/_status"], 1000);
    let failover = ["failover", ".", "--to", "secondary", "--allow-data-loss", "--auto-approve"];
    let run = w.run_env(
        &failover,
        &[("STANDBY_OPENSEARCH_ENDPOINT_URL", proxy.url.as_str()), ("STANDBY_AWS_MAX_ATTEMPTS", "1")],
    );
    assert_eq!(run.code, 4, "{}", run.all());
    assert!(run.stdout.contains("Failover NOT finished: secondary (us-east-1) is the writer"), "{}", run.stdout);
    assert!(run.stdout.contains("  - search.stop-followers: pending"), "{}", run.stdout);
    assert!(run.stdout.contains("read-only follower copies"), "{}", run.stdout);
    let st: Value = serde_json::from_str(&std::fs::read_to_string(w.dir.join("state/standby.json")).unwrap()).unwrap();
    let steps = st["roles"]["run"]["steps"].as_array().unwrap();
    let status_of = |id: &str| steps.iter().find(|s| s["id"] == id).map(|s| s["status"].clone());
    assert_eq!(status_of("search.stop-followers"), Some(json!("pending")), "{steps:?}");
    for id in ["db.failover", "app.scheduler-on", "app.serving", "dns.to-active"] {
        assert_eq!(status_of(id), Some(json!("done")), "{id}: {steps:?}");
    }
    let front = Front::new(&w.emu.endpoint());
    assert!(front.dns()["PRIMARY"].contains(".us-east-1."), "{:?}", front.dns());
    assert_eq!(front.scheduler(EAST), "true");
    // The survivor's followers still follow (nothing stopped them).
    assert_ne!(w.statuses(OS_EAST), ["REPLICATION NOT IN PROGRESS"; 4]);
    drop(proxy);
    let again = w.ok(0, &failover);
    assert!(again.stdout.contains("Failover done: secondary (us-east-1) is active and serves"), "{}", again.stdout);
    assert_eq!(w.statuses(OS_EAST), ["REPLICATION NOT IN PROGRESS"; 4]);
}

#[test]
fn a_search_follower_not_syncing_stops_the_switchover_unless_forced() {
    let w = Full::applied();
    let (status, body) = w.rest(OS_EAST, "POST", "/_plugins/_replication/users/_pause", Some(json!({})));
    assert!(status < 300, "{status} {body}");
    w.control("DELETE", "/_emulator/calls", None);
    let to_east = ["--var", "active_region=secondary"];
    let run = w.ok(1, &[&["apply", ".", "--auto-approve"][..], &to_east].concat());
    assert!(run.stderr.contains("search.replication"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    // No change at all: no mutating AWS call, the follower still follows.
    let calls = w.control("GET", "/_emulator/calls", None);
    let mutating: Vec<&Value> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            !["Describe", "List", "Get", "Head"].iter().any(|p| c["operation"].as_str().unwrap_or("").starts_with(p))
        })
        .collect();
    assert!(mutating.is_empty(), "{mutating:#?}");
    assert_eq!(w.statuses(OS_EAST)[0], "SYNCING");
    let forced = w.ok(0, &[&["apply", ".", "--auto-approve", "--force"][..], &to_east].concat());
    assert!(forced.stdout.contains("--force: switching although readiness failed"), "{}", forced.stdout);
    assert!(forced.stdout.contains("Switchover complete"), "{}", forced.stdout);
}

/// Aurora's `rds:unplanned-global-failover-*` snapshot of the old writer
/// (taken as it rejoined) was copied to a manual snapshot named after it,
/// available, in the old writer's region; the run says so and logs its id.
fn assert_failover_snapshot_kept(w: &World, stdout: &str) {
    let out =
        w.rt.block_on(w.rds[WEST].describe_db_cluster_snapshots().db_cluster_identifier(CLUSTER_WEST).send())
            .expect("DescribeDBClusterSnapshots");
    let snaps: Vec<(String, String, String)> = out
        .db_cluster_snapshots()
        .iter()
        .map(|s| {
            let text = |v: Option<&str>| v.unwrap_or_default().to_string();
            (text(s.db_cluster_snapshot_identifier()), text(s.snapshot_type()), text(s.status()))
        })
        .collect();
    let source = snaps
        .iter()
        .find(|s| s.0.starts_with(&format!("rds:unplanned-global-failover-{CLUSTER_WEST}-")))
        .unwrap_or_else(|| panic!("Aurora's failover snapshot: {snaps:?}"));
    let kept = format!("kept-{}", source.0.trim_start_matches("rds:"));
    assert!(
        snaps.contains(&(kept.clone(), "manual".to_string(), "available".to_string())),
        "the manual copy {kept}: {snaps:?}"
    );
    assert!(stdout.contains(&format!("kept as manual snapshot {kept}: restore from it")), "{stdout}");
    let st = w.state();
    let events = st["roles"]["run"]["events"].as_array().unwrap();
    let rejoin = events.iter().find(|e| e["step"] == "db.rejoin").expect("the rejoin in the event log");
    assert!(rejoin["outcome"].as_str().unwrap().contains(&kept), "{rejoin}");
    assert_eq!(rejoin["request_ids"].as_array().map(Vec::len), Some(1), "the CopyDBClusterSnapshot: {rejoin}");
}

// ------------------------- search catch-up, and kills at random points ---

impl Full {
    /// A follower index of the domain in `region` reports `ops` operations
    /// behind its leader for the next `polls` `_status` looks (`None`: until set again).
    fn lag(&self, region: &str, domain: &str, index: &str, ops: u64, polls: Option<u64>) {
        self.control(
            "POST",
            "/_emulator/opensearch/replication/lag",
            Some(json!({"region": region, "domain": domain, "index": index, "ops": ops, "polls": polls})),
        );
    }

    /// The region of the global database's writer, read with the SDK.
    fn writer_region(&self) -> String {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let config = common::sdk_config(&self.emu.endpoint(), EAST).await;
            let out = Rds::new(&config).describe_global_clusters().send().await.expect("DescribeGlobalClusters");
            let g = &out.global_clusters()[0];
            assert!(g.failover_state().is_none(), "a switchover still under way: {g:?}");
            let w = g.global_cluster_members().iter().find(|m| m.is_writer() == Some(true)).expect("a writer");
            w.db_cluster_arn().unwrap_or_default().split(':').nth(3).unwrap_or_default().to_string()
        })
    }

    /// Everything a switch changes or could leave behind, as AWS and the
    /// state show it: the writer's region, each domain's indices,
    /// replications and auto-follow rules, the live connections, DNS and
    /// the scheduler, the resources in the state and the run's record.
    fn end_state(&self) -> Value {
        let domains: Vec<Value> = self
            .control("GET", "/_emulator/opensearch/domains", None)
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let indices: Vec<&String> = d["indices"].as_object().unwrap().keys().collect();
                // Rules in any order: a resumed run may make them in another.
                let mut rules = d["autofollow_rules"].as_array().cloned().unwrap_or_default();
                rules.sort_by_key(|r| r["name"].as_str().unwrap_or_default().to_string());
                json!({"domain": d["domain"], "indices": indices, "replications": d["replications"],
                       "autofollow_rules": rules})
            })
            .collect();
        let front = Front::new(&self.emu.endpoint());
        let st: Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir.join("state/standby.json")).unwrap()).unwrap();
        let run = &st["roles"]["run"];
        let unfinished: Vec<&Value> =
            run["steps"].as_array().unwrap().iter().filter(|s| s["status"] != "done").collect();
        let listed = self.ok(0, &["state", "list"]).stdout;
        let resources: Vec<&str> = listed.lines().collect();
        json!({
            "writer_region": self.writer_region(),
            "domains": domains,
            "connections": self.connections(),
            "dns": front.dns(),
            "scheduler": [front.scheduler(WEST), front.scheduler(EAST)],
            "active": st["roles"]["active"],
            "run": {"to": run["to"], "unfinished": unfinished},
            "resources": resources,
        })
    }
}

#[test]
fn a_planned_switchover_waits_for_search_followers_to_catch_up_before_stopping_them() {
    let w = Full::applied();
    let to_east = ["--var", "active_region=secondary"];
    let apply = [&["apply", ".", "--auto-approve"][..], &to_east].concat();

    // `users` stays 2 operations behind: the wait ends, naming the index and both checkpoints.
    w.lag(EAST, OS_EAST, "users", 2, None);
    let stuck = w.run_env(&apply, &[("STANDBY_SEARCH_CATCHUP_SECS", "2")]);
    assert_eq!(stuck.code, 1, "{}", stuck.all());
    assert!(stuck.stdout.contains("waiting for search followers to catch up"), "{}", stuck.stdout);
    assert!(
        stuck.stderr.contains(
            "search followers not caught up with their leaders after 2s: users (leader_checkpoint 2, \
             follower_checkpoint 0)"
        ),
        "{}",
        stuck.stderr
    );
    assert!(stuck.stderr.contains("--force"), "{}", stuck.stderr);
    // Nothing was stopped: every follower still follows (the database had switched: that step came first).
    assert_eq!(w.statuses(OS_EAST), ["SYNCING"; 4]);
    assert_eq!(w.writer_region(), EAST);

    // It catches up after a few looks: run again, the step waits for it, then stops them all.
    w.lag(EAST, OS_EAST, "users", 2, Some(3));
    let done = w.run_env(&apply, &[("STANDBY_SEARCH_CATCHUP_SECS", "60")]);
    assert_eq!(done.code, 0, "{}", done.all());
    assert!(done.stdout.contains("follower_checkpoint 0"), "the wait shows: {}", done.stdout);
    assert!(done.stdout.contains("search followers caught up"), "{}", done.stdout);
    assert!(done.stdout.contains("Switchover complete: secondary (us-east-1) is active"), "{}", done.stdout);
    w.assert_leads(OS_EAST, OS_WEST, EAST, WEST);
}

/// A tiny seeded generator (xorshift64*), so a failing kill point replays.
struct Seeded(u64);

impl Seeded {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `STANDBY_TEST_KILL_SEED` replays the kill points of an earlier run (the
/// test prints its seed); `STANDBY_TEST_KILL_RUNS` sets how many killed
/// switchovers (default 4, alternating directions).
#[test]
fn a_switchover_killed_at_random_points_resumes_to_the_same_end_state() {
    let seed: u64 = std::env::var("STANDBY_TEST_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    let runs: usize = std::env::var("STANDBY_TEST_KILL_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(4);
    eprintln!("kill points from seed {seed} (replay: STANDBY_TEST_KILL_SEED={seed})");
    let mut rng = Seeded(seed);
    let w = Full::applied();
    // AWS takes its time (fixed, short), so kills land in the waits too.
    w.control(
        "POST",
        "/_emulator/settings",
        Some(json!({"rds_failover_ms": 1500, "rds_write_forwarding_ms": 400, "opensearch_inbound_visible_ms": 400})),
    );
    let args = |to: &str| {
        ["apply", ".", "--auto-approve", "--var", &format!("active_region={to}")].map(str::to_string).to_vec()
    };
    fn argv(a: &[String]) -> Vec<&str> {
        a.iter().map(String::as_str).collect()
    }
    let region_of = |to: &str| if to == "secondary" { EAST } else { WEST };
    let roles = ["secondary", "primary"];

    // The reference: an unkilled switchover each way, timed.
    let mut reference = BTreeMap::new();
    let mut took = BTreeMap::new();
    for to in roles {
        let t0 = std::time::Instant::now();
        let run = w.ok(0, &argv(&args(to)));
        took.insert(to, t0.elapsed());
        assert!(run.stdout.contains("Switchover complete"), "{}", run.stdout);
        reference.insert(to, w.end_state());
        check_end(&w, &reference[to], region_of(to));
    }
    eprintln!("unkilled switchovers took {took:?}");

    for n in 0..runs {
        let to = roles[n % 2];
        let a = args(to);
        let at = took[to].mul_f64(rng.next_f64());
        let mut child = w.cmd_env(&argv(&a), &[]).stdout(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(at);
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
        eprintln!(
            "run {n}: switchover to {to} killed at {:.2}s of {:.2}s{}",
            at.as_secs_f64(),
            took[to].as_secs_f64(),
            if finished { " (it had already finished)" } else { "" }
        );
        let resumed = w.run(&argv(&a));
        assert_eq!(resumed.code, 0, "run {n} (seed {seed}), resuming after a kill at {at:?}:\n{}", resumed.all());
        let end = w.end_state();
        assert_eq!(
            end, reference[to],
            "run {n} (seed {seed}): killed at {at:?}, resumed: not the end state of an unkilled switchover"
        );
        check_end(&w, &end, region_of(to));
    }
}

/// The end state of a switchover to `active` holds what the issue asks:
/// the writer there, its indices writable and followed from the other
/// region over one ACTIVE connection, nothing left running, a clean plan.
fn check_end(w: &Full, end: &Value, active: &str) {
    assert_eq!(end["writer_region"], active, "{end:#}");
    assert_eq!(end["run"]["unfinished"], json!([]), "{end:#}");
    let (leader, follower, standby) = if active == EAST { (OS_EAST, OS_WEST, WEST) } else { (OS_WEST, OS_EAST, EAST) };
    w.assert_leads(leader, follower, active, standby);
    let to = if active == EAST { "secondary" } else { "primary" };
    let clean = w.ok(0, &["plan", ".", "--detailed-exitcode", "--var", &format!("active_region={to}")]);
    assert!(clean.stdout.contains("No changes."), "{}", clean.stdout);
}

// ------------------------------------------------- app tier readiness

#[test]
fn an_unhealthy_target_app_tier_stops_the_switchover_unless_forced() {
    let w = Full::applied();
    let front = Front::new(&w.emu.endpoint());
    let to_east = ["--var", "active_region=secondary"];
    let plan = w.ok(2, &[&["plan", ".", "--detailed-exitcode"][..], &to_east].concat());
    assert!(plan.stdout.contains("target app tier healthy"), "{}", plan.stdout);
    // The secondary's app node stops: its target group has no healthy target left.
    front.rt.block_on(async {
        let ec2 = &front.ec2[EAST];
        let out = ec2
            .describe_instances()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("tag:aws:autoscaling:groupName")
                    .values(format!("mattermost-dr-app-{EAST}"))
                    .build(),
            )
            .filters(aws_sdk_ec2::types::Filter::builder().name("instance-state-name").values("running").build())
            .send()
            .await
            .unwrap();
        let ids: Vec<String> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect();
        assert_eq!(ids.len(), 1, "the secondary runs one node");
        ec2.stop_instances().set_instance_ids(Some(ids)).send().await.unwrap();
    });
    w.control("DELETE", "/_emulator/calls", None);
    let stopped = w.ok(1, &[&["apply", ".", "--auto-approve"][..], &to_east].concat());
    assert!(stopped.stderr.contains("readiness check failed, nothing was changed"), "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains("app.targets: healthy targets behind the load balancer in us-east-1"),
        "{}",
        stopped.stderr
    );
    // The failed check says how to fix it.
    assert!(stopped.stderr.contains("fix: check the nodes' Mattermost service"), "{}", stopped.stderr);
    // Only the target region's app tier is asked for: the primary's is not what users move to.
    assert!(!stopped.stderr.contains("load balancer in us-west-1"), "{}", stopped.stderr);
    let calls = w.control("GET", "/_emulator/calls", None);
    let writes: Vec<&Value> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            let op = c["operation"].as_str().unwrap_or_default();
            !["Describe", "Get", "List", "Head"].iter().any(|p| op.starts_with(p))
        })
        .collect();
    assert!(writes.is_empty(), "changes were made: {writes:#?}");
    assert!(
        calls.as_array().unwrap().iter().any(|c| c["operation"] == "DescribeTargetHealth" && c["region"] == EAST),
        "the target group was asked"
    );
    assert_eq!(front.scheduler(WEST), "true");

    let forced = w.ok(0, &[&["apply", ".", "--auto-approve", "--force"][..], &to_east].concat());
    assert!(forced.stdout.contains("Warning: --force: switching although readiness failed"), "{}", forced.stdout);
    assert!(forced.stdout.contains("app.targets"), "{}", forced.stdout);
    assert!(forced.stdout.contains("Switchover complete"), "{}", forced.stdout);
    assert_eq!((front.scheduler(WEST), front.scheduler(EAST)), ("false".to_string(), "true".to_string()));
}

// ------------------------------------------------- a failover on a bad day

const FAILOVER: [&str; 6] = ["failover", ".", "--to", "secondary", "--allow-data-loss", "--auto-approve"];
const KEEP_SECONDARY: [&str; 5] = ["apply", ".", "--auto-approve", "--var", "active_region=secondary"];

/// A failover killed after its database step (while the survivor's nodes
/// roll, twice) is finished in the survivor while the old region is still
/// down, by `standby failover --to` and by `standby apply` alike; the old
/// region's steps wait for it whatever their order, and run once it is back.
#[test]
fn a_failover_killed_after_the_database_step_finishes_in_the_survivor_while_the_old_region_is_down() {
    let w = World::with_front();
    w.ok(0, &["apply", ".", "--auto-approve"]);
    w.control("POST", "/_emulator/regions", Some(json!({"region": WEST, "down": true})));
    // The survivor's nodes roll for a while: kills land in app.scheduler-on.
    w.control("POST", "/_emulator/settings", Some(json!({"asg_refresh_ms": 4000})));
    w.kill_during(&FAILOVER, "app.scheduler-on");
    assert_eq!(w.step_status("db.failover").as_deref(), Some("done"));
    assert_eq!(w.state()["roles"]["active"], "secondary");

    // Resumed by `failover --to`, killed again in the same step.
    w.control("DELETE", "/_emulator/calls", None);
    w.kill_during(&FAILOVER, "app.scheduler-on");
    // Resumed by `apply` while the old region is still down: the survivor's steps only.
    let run = w.ok(0, &KEEP_SECONDARY);
    assert!(
        run.stdout.contains("us-west-1 does not answer: the failover to secondary is not finished"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Resuming the failover to secondary"), "{}", run.stdout);
    assert!(run.stdout.contains("Failover done: secondary (us-east-1) is active and serves"), "{}", run.stdout);
    let steps: BTreeMap<String, String> = w.steps().into_iter().collect();
    for done in ["db.failover", "app.scheduler-on", "app.serving", "dns.to-active"] {
        assert_eq!(steps[done], "done", "{done}: {steps:?}");
    }
    for waiting in ["app.scheduler-off", "db.rejoin", "db.write-forwarding"] {
        assert_eq!(steps[waiting], "pending", "{waiting}: {steps:?}");
    }
    // Never asked twice, never a call to the region that is down (its calls are dropped, and noted).
    assert_eq!(w.switch_calls(), Vec::<(String, String)>::new());
    let calls = w.control("GET", "/_emulator/calls", None);
    let west: Vec<&Value> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["region"] == WEST && c["operation"] != "DescribeGlobalClusters")
        .collect();
    assert!(west.is_empty(), "only the probe may reach for us-west-1: {west:#?}");
    let front = Front::new(&w.emu.endpoint());
    assert_eq!(front.scheduler(EAST), "true");
    assert!(front.dns()["PRIMARY"].contains(".us-east-1."));

    // Back: apply finishes the old region's steps (its DNS and scheduler first), then the plan is clean.
    w.control("POST", "/_emulator/settings", Some(json!({"asg_refresh_ms": 300})));
    w.control("POST", "/_emulator/regions", Some(json!({"region": WEST, "down": false})));
    let apply = w.ok(0, &KEEP_SECONDARY);
    assert!(apply.stdout.contains("Failover finished: secondary (us-east-1) is active"), "{}", apply.stdout);
    let events = w.state()["roles"]["run"]["events"].as_array().unwrap().clone();
    let last: Vec<&str> = events.iter().rev().take(3).rev().map(|e| e["step"].as_str().unwrap()).collect();
    assert_eq!(last, ["app.scheduler-off", "db.rejoin", "db.write-forwarding"], "{events:#?}");
    assert_eq!((front.scheduler(WEST), front.scheduler(EAST)), ("false".to_string(), "true".to_string()));
    let clean = w.ok(0, &["plan", ".", "--detailed-exitcode", "--var", "active_region=secondary"]);
    assert!(clean.stdout.contains("No changes."), "{}", clean.stdout);
}

/// The secondary as pilot light: no node while it is passive (the app tier
/// module scales it to its desired capacity once it is the active region).
/// Both regions pilot light, as the example's defaults (no node while passive).
fn pilot_light(text: String) -> String {
    text.replace("      passive_capacity: 1\n", "      passive_capacity: 0\n")
}

/// The survivor's Auto Scaling group: (desired capacity, nodes InService).
fn group_size(w: &World, region: &'static str) -> (i32, usize) {
    w.rt.block_on(async {
        let config = common::sdk_config(&w.emu.endpoint(), region).await;
        let asg = aws_sdk_autoscaling::Client::new(&config);
        let out = asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(format!("mattermost-dr-app-{region}"))
            .send()
            .await
            .unwrap();
        let g = &out.auto_scaling_groups()[0];
        let in_service =
            g.instances().iter().filter(|i| i.lifecycle_state().map(|s| s.as_str()) == Some("InService")).count();
        (g.desired_capacity().unwrap_or(0), in_service)
    })
}

/// A failover brings a pilot-light survivor up (its capacity follows the
/// role) and says done only once it serves, with what it waited for.
#[test]
fn a_failover_scales_a_pilot_light_survivor_up_and_waits_until_it_serves() {
    let w = World::with_front_edited(pilot_light);
    w.ok(0, &["apply", ".", "--auto-approve"]);
    assert_eq!(group_size(&w, EAST), (0, 0));
    w.control("POST", "/_emulator/regions", Some(json!({"region": WEST, "down": true})));
    let run = w.ok(0, &FAILOVER);
    assert!(run.stdout.contains("[app.serving] App tier serves in us-east-1"), "{}", run.stdout);
    assert!(
        run.stdout.contains("serving: mattermost-dr-app-us-east-1: 1 of 1 node(s) in service, 1 healthy target(s)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Failover done: secondary (us-east-1) is active and serves"), "{}", run.stdout);
    assert_eq!(group_size(&w, EAST), (1, 1));
}

/// Readiness refuses a switchover while Mattermost's database host is a
/// cluster's own writer endpoint, which AWS makes inactive on a secondary.
#[test]
fn readiness_refuses_a_database_endpoint_that_a_switch_makes_inactive() {
    let w = World::with_front_edited(|t| {
        t.replacen("${module.database.global_writer_endpoint}", "${module.database.primary_endpoint}", 1).replacen(
            "${module.database.global_writer_endpoint}",
            "${module.database.secondary_endpoint}",
            1,
        )
    });
    w.ok(0, &["apply", ".", "--auto-approve"]);
    let stopped = w.ok(1, &["apply", ".", "--auto-approve", "--var", "active_region=secondary"]);
    assert!(stopped.stderr.contains("readiness check failed, nothing was changed"), "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains("app.database_endpoint: Mattermost's database endpoint in us-west-1"),
        "{}",
        stopped.stderr
    );
    assert!(
        stopped.stderr.contains("app.database_endpoint: Mattermost's database endpoint in us-east-1"),
        "{}",
        stopped.stderr
    );
    assert!(stopped.stderr.contains("global_writer_endpoint"), "{}", stopped.stderr);
    assert_eq!(w.switch_calls(), Vec::<(String, String)>::new());
}

/// A switchover that AWS cancels, or refuses while verifying, ends the wait
/// at once with what RDS says, instead of waiting out the hour; run again,
/// it is asked for anew.
#[test]
fn a_switchover_that_ends_without_moving_the_writer_fails_at_once() {
    let w = World::new();
    w.ok(0, &["apply", ".", "--auto-approve"]);
    let to_east = ["apply", ".", "--auto-approve", "--var", "active_region=secondary"];
    for (ends, said) in [("cancelled", "is cancelled."), ("refused", "failed.")] {
        w.control("POST", "/_emulator/settings", Some(json!({"rds_failover_ms": 1500, "rds_next_switch_ends": ends})));
        let t0 = std::time::Instant::now();
        let mut child =
            w.cmd(&to_east).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        while child.try_wait().unwrap().is_none() {
            if t0.elapsed().as_secs() > 60 {
                child.kill().unwrap();
                panic!("still waiting 60 s after AWS ended the switchover without moving the writer");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let run: Run = child.wait_with_output().unwrap().into();
        assert_eq!(run.code, 1, "{}", run.all());
        assert!(run.stderr.contains("ended without moving the writer (still mm-db-us-west-1)"), "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("Global switchover to DB cluster {CLUSTER_EAST} in Region us-east-1 {said}")),
            "{}",
            run.stderr
        );
        assert_eq!(w.writer(), (CLUSTER_WEST.to_string(), false));
        assert_eq!(w.step_status("db.switchover").as_deref(), Some("failed"));
    }
    w.control("DELETE", "/_emulator/calls", None);
    let again = w.ok(0, &to_east);
    assert!(again.stdout.contains("Switchover complete"), "{}", again.stdout);
    assert_eq!(w.switch_calls(), [("SwitchoverGlobalCluster".to_string(), WEST.to_string())]);
}

/// AWS's preconditions: a target with no instance (headless) stops a
/// switchover's readiness and a failover before anything is asked; the
/// failover asks the surviving region only.
#[test]
fn a_headless_target_stops_a_switchover_and_a_failover_before_any_change() {
    let w = World::new();
    w.ok(0, &["apply", ".", "--auto-approve"]);
    w.rt.block_on(w.rds[EAST].delete_db_instance().db_instance_identifier("mm-db-us-east-1-0").send())
        .expect("DeleteDBInstance");
    w.control("DELETE", "/_emulator/calls", None);
    let stopped = w.ok(1, &["apply", ".", "--auto-approve", "--refresh=false", "--var", "active_region=secondary"]);
    assert!(
        stopped.stderr.contains("db.target_instances: an available instance in mm-db-us-east-1 (us-east-1)"),
        "{}",
        stopped.stderr
    );
    assert!(stopped.stderr.contains("fix: add an instance to mm-db-us-east-1"), "{}", stopped.stderr);
    assert_eq!(w.switch_calls(), Vec::<(String, String)>::new());

    w.control("POST", "/_emulator/regions", Some(json!({"region": WEST, "down": true})));
    w.control("DELETE", "/_emulator/calls", None);
    let refused = w.ok(1, &FAILOVER);
    assert!(refused.stderr.contains("AWS would refuse this failover (nothing was changed)"), "{}", refused.stderr);
    assert!(refused.stderr.contains("db.target_instances (fail)"), "{}", refused.stderr);
    assert_eq!(w.switch_calls(), Vec::<(String, String)>::new());
    assert_eq!(w.regions_called(), [EAST], "only the surviving region");
}

/// The lag RDS publishes (found with ListMetrics whatever its dimension
/// set) gates a switchover; none at all fails readiness unless forced.
#[test]
fn readiness_reads_the_lag_rds_publishes_and_fails_without_any() {
    let w = World::new();
    w.ok(0, &["apply", ".", "--auto-approve"]);
    let to_east = ["apply", ".", "--auto-approve", "--var", "active_region=secondary"];
    w.control("POST", "/_emulator/settings", Some(json!({"rds_lag_ms": 120000})));
    let behind = w.ok(1, &to_east);
    assert!(behind.stderr.contains("db.replication_lag: replication lag of mm-db-us-east-1"), "{}", behind.stderr);
    assert!(behind.stderr.contains("\"max_ms\":120000.0"), "{}", behind.stderr);
    w.control("POST", "/_emulator/settings", Some(json!({"rds_lag_ms": -1})));
    let unknown = w.ok(1, &to_east);
    assert!(unknown.stderr.contains("db.replication_lag"), "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("no AuroraGlobalDBRPOLag or AuroraGlobalDBReplicationLag datapoint"),
        "{}",
        unknown.stderr
    );
    let forced = w.ok(0, &[&to_east[..], &["--force"]].concat());
    assert!(forced.stdout.contains("Switchover complete"), "{}", forced.stdout);
}

/// Credentials and everything else come from the surviving region: with the
/// environment naming the region that is down, the first call is one
/// GetCallerIdentity in the survivor, and nothing reaches the other.
#[test]
fn a_failover_checks_its_credentials_in_the_surviving_region_first() {
    let w = World::new();
    w.ok(0, &["apply", ".", "--auto-approve"]);
    w.control("POST", "/_emulator/regions", Some(json!({"region": WEST, "down": true})));
    w.control("DELETE", "/_emulator/calls", None);
    let run = w.run_env(&FAILOVER, &[("AWS_REGION", WEST), ("AWS_DEFAULT_REGION", WEST)]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("AWS identity arn:aws:sts::123456789012:"), "{}", run.stdout);
    let calls = w.control("GET", "/_emulator/calls", None);
    let first = &calls.as_array().unwrap()[0];
    assert_eq!(
        (first["operation"].as_str(), first["region"].as_str()),
        (Some("GetCallerIdentity"), Some(EAST)),
        "{calls:#}"
    );
    assert_eq!(w.regions_called(), [EAST]);
}

/// Split brain: the failover shows AWS's checklist and records Aurora's
/// write-fencing event from the survivor, or that there is none there.
#[test]
fn a_failover_records_aurora_write_fencing_or_its_absence() {
    let w = World::new();
    w.ok(0, &["apply", ".", "--auto-approve"]);
    w.control("POST", "/_emulator/settings", Some(json!({"rds_fencing_event": 1})));
    w.control("POST", "/_emulator/regions", Some(json!({"region": WEST, "down": true})));
    let run = w.ok(0, &FAILOVER);
    assert!(run.stdout.contains("take Mattermost in the old region offline"), "{}", run.stdout);
    let events = w.state()["roles"]["run"]["events"].as_array().unwrap().clone();
    let failover = events.iter().find(|e| e["step"] == "db.failover").unwrap();
    let outcome = failover["outcome"].as_str().unwrap();
    assert!(outcome.contains("write fencing: "), "{outcome}");
    assert!(
        outcome.contains(&format!(
            "Writes were stopped on the old primary DB cluster {CLUSTER_WEST} in Region us-west-1."
        )),
        "{outcome}"
    );
    assert!(
        outcome.contains("Global failover to DB cluster mm-db-us-east-1 in Region us-east-1 completed."),
        "{outcome}"
    );
    assert!(
        run.stdout.contains("Keep them out of service until `standby apply --var active_region=secondary` has run"),
        "{}",
        run.stdout
    );
}

/// A follower still bootstrapping when its leader's region goes down is
/// never stopped (the plugin would delete it), and the old leader's copy of
/// that index is never deleted when the region returns: it is the only
/// complete one.
#[test]
fn a_failover_never_stops_a_bootstrapping_follower_nor_deletes_the_only_complete_copy() {
    let w = Full::applied();
    let posts = "posts-2026-12-01";
    w.control(
        "POST",
        "/_emulator/opensearch/replication",
        Some(json!({"region": EAST, "domain": OS_EAST, "index": posts, "status": "BOOTSTRAPPING"})),
    );
    w.control("POST", "/_emulator/regions", Some(json!({"region": WEST, "down": true})));
    let run = w.ok(0, &FAILOVER);
    assert!(
        run.stdout.contains(&format!("left following (still bootstrapping: _stop would delete them): {posts}")),
        "{}",
        run.stdout
    );
    let indices = |domain: &str| -> BTreeMap<String, u64> {
        let all = w.control("GET", "/_emulator/opensearch/domains", None);
        let d = all.as_array().unwrap().iter().find(|d| d["domain"] == domain).unwrap().clone();
        d["indices"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect()
    };
    assert!(indices(OS_EAST).contains_key(posts), "stopping it would have deleted it: {:?}", indices(OS_EAST));
    let (status, body) = w.rest(OS_EAST, "PUT", "/channels/_doc/during-outage", Some(json!({"n": 1})));
    assert!(status < 300, "the others are writable: {status} {body}");

    // The region is back: the old leader keeps its copy of that index (the new leader has none complete).
    w.control("POST", "/_emulator/regions", Some(json!({"region": WEST, "down": false})));
    let apply = w.run(&KEEP_SECONDARY);
    assert!(apply.stdout.contains(&format!("kept {posts}: the new leader has no complete copy")), "{}", apply.all());
    assert_eq!(indices(OS_WEST).get(posts), Some(&3), "{:?}", indices(OS_WEST));
    assert_eq!(apply.code, 0, "{}", apply.all());
}

/// A planned switchover between pilot-light regions (the example's
/// defaults): readiness expects no node in the target yet (the runbook
/// scales it up), the new region serves before DNS moves, and the old region
/// keeps its node (its scheduler off first) until DNS has moved and users
/// had time to follow, then shrinks to its passive size.
#[test]
fn a_planned_switchover_to_a_pilot_light_region_scales_it_up_before_users_move() {
    let w = World::with_front_edited(pilot_light);
    w.ok(0, &["apply", ".", "--auto-approve"]);
    assert_eq!(group_size(&w, EAST), (0, 0));
    let plan = w.ok(0, &["plan", ".", "--var", "active_region=secondary"]);
    assert!(plan.stdout.contains("[app.scale-in] Capacity of us-west-1"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("module.app_primary.aws_autoscaling_group.node_group without desired_capacity"),
        "{}",
        plan.stdout
    );
    let run = w.ok(0, &["apply", ".", "--auto-approve", "--var", "active_region=secondary"]);
    assert!(run.stdout.contains("no app node yet where the runbook scales up: module.app_secondary"), "{}", run.stdout);
    assert!(run.stdout.contains("Switchover complete: secondary (us-east-1) is active"), "{}", run.stdout);
    assert!(run.stdout.contains("s after dns.to-active ended at "), "{}", run.stdout);
    assert!(run.stdout.contains("; users following DNS)"), "{}", run.stdout);
    let events = w.state()["roles"]["run"]["events"].as_array().unwrap().clone();
    let order: Vec<&str> = events.iter().map(|e| e["step"].as_str().unwrap()).collect();
    let at = |id: &str| order.iter().position(|s| *s == id).unwrap_or_else(|| panic!("{id} in {order:?}"));
    assert!(at("app.scheduler-on") < at("app.serving") && at("app.serving") < at("dns.to-active"), "{order:?}");
    // The scheduler moves first; the old region's capacity only after DNS.
    assert!(at("app.scheduler-off") < at("app.scheduler-on"), "{order:?}");
    assert!(at("dns.to-active") < at("app.scale-in"), "{order:?}");
    let outcome = |id: &str| events[at(id)]["outcome"].as_str().unwrap_or_default().to_string();
    assert!(outcome("app.scale-in").contains("1 changed"), "{events:#?}");
    assert_eq!(group_size(&w, EAST), (1, 1));
    assert_eq!(group_size(&w, WEST), (0, 0));
    w.ok(0, &["plan", ".", "--detailed-exitcode", "--var", "active_region=secondary"]);
    let front = Front::new(&w.emu.endpoint());
    assert!(front.dns()["PRIMARY"].contains(".us-east-1."));
}

/// The wait for users to follow DNS is counted from dns.to-active's recorded
/// end, also in a resumed run (whose runbook no longer lists the steps
/// done): killed during the wait and resumed, it waits only what is left.
#[test]
fn a_switchover_killed_while_users_follow_dns_waits_only_what_is_left() {
    let w = World::with_front_edited(pilot_light);
    w.ok(0, &["apply", ".", "--auto-approve"]);
    let to_east = ["apply", ".", "--auto-approve", "--var", "active_region=secondary"];
    let drain = [("STANDBY_SWITCHOVER_DRAIN_SECS", "40")];
    let mut child = w.cmd(&to_east).env(drain[0].0, drain[0].1).stdout(std::process::Stdio::null()).spawn().unwrap();
    let started = std::time::Instant::now();
    while w.step_status("dns.to-active").as_deref() != Some("done") {
        assert!(child.try_wait().unwrap().is_none(), "the switchover ended before dns.to-active was done");
        assert!(started.elapsed().as_secs() < 600, "dns.to-active never ended");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL, in the wait
    let _ = child.wait();
    assert_ne!(w.step_status("app.scale-in").as_deref(), Some("done"), "{:?}", w.steps());
    std::thread::sleep(std::time::Duration::from_secs(15));
    let run = w.run_env(&to_east, &drain);
    assert_eq!(run.code, 0, "{}", run.all());
    let line =
        run.stdout.lines().find(|l| l.contains("s more (40s after ")).unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(line.contains("after dns.to-active ended at ") && line.contains("users following DNS"), "{line}");
    let left: u64 = line.trim().trim_start_matches("waiting ").split('s').next().unwrap().parse().unwrap();
    assert!(left <= 25, "15 s of the 40 had passed before the resume: {line}");
    assert_eq!(group_size(&w, WEST), (0, 0));
}

/// A failover whose survivor does not serve ends "NOT finished" with its own
/// exit code (4), not 0. Here the survivor's target health cannot be read
/// (the fault proxy refuses DescribeTargetHealth), so nothing shows that it
/// serves; run again when it can be seen, the failover finishes with 0.
#[test]
fn a_failover_whose_survivor_does_not_serve_exits_with_its_own_code() {
    let w = World::with_front();
    w.ok(0, &["apply", ".", "--auto-approve"]);
    w.control("POST", "/_emulator/regions", Some(json!({"region": WEST, "down": true})));
    let proxy = common::proxy::Proxy::start(&w.emu.endpoint(), 7);
    proxy.refuse_all(&["DescribeTargetHealth"], 1000);
    let run = w.run_env(
        &FAILOVER,
        &[
            ("AWS_ENDPOINT_URL", proxy.url.as_str()),
            ("STANDBY_APP_SERVING_SECS", "0"),
            ("STANDBY_AWS_MAX_ATTEMPTS", "1"),
        ],
    );
    assert_eq!(run.code, 4, "{}", run.all());
    assert!(run.stdout.contains("Failover NOT finished: secondary (us-east-1) is the writer"), "{}", run.stdout);
    assert!(run.stdout.contains("  - app.serving: pending"), "{}", run.stdout);
    drop(proxy);
    let again = w.ok(0, &FAILOVER);
    assert!(again.stdout.contains("Failover done: secondary (us-east-1) is active and serves"), "{}", again.stdout);
}

/// AWS is the final judge of a failover's preconditions: when standby cannot
/// read them (here the survivor refuses DescribeDBInstances, as a role
/// without that permission or throttling would), the failover stops with
/// the way past it; with --skip-preconditions it goes ahead, says so, and
/// the run's notes record what was skipped.
#[test]
fn a_failover_goes_past_unreadable_preconditions_only_when_told_and_records_it() {
    let w = World::new();
    w.ok(0, &["apply", ".", "--auto-approve"]);
    w.control("POST", "/_emulator/regions", Some(json!({"region": WEST, "down": true})));
    let proxy = common::proxy::Proxy::start(&w.emu.endpoint(), 11);
    proxy.refuse_all(&["DescribeDBInstances"], 1000);
    let env = [("AWS_ENDPOINT_URL", proxy.url.as_str()), ("STANDBY_AWS_MAX_ATTEMPTS", "1")];
    let refused = w.run_env(&FAILOVER, &env);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(
        refused.stderr.contains("AWS's failover preconditions in us-east-1 could not be checked"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("re-run with --skip-preconditions"), "{}", refused.stderr);
    assert!(w.state()["roles"]["run"].is_null(), "nothing was run: {:#}", w.state()["roles"]);

    let help = w.ok(0, &["failover", "--help"]);
    assert!(help.stdout.contains("--skip-preconditions"), "{}", help.stdout);
    let args = [&FAILOVER[..], &["--skip-preconditions"]].concat();
    let run = w.run_env(&args, &env);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("Warning: --skip-preconditions: going ahead although AWS's failover preconditions"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Failover done: secondary (us-east-1) is active"), "{}", run.stdout);
    let notes = w.state()["roles"]["run"]["notes"].clone();
    assert!(
        notes.as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap_or_default()
            .contains("Failover preconditions skipped (--skip-preconditions); AWS accepted the failover at 20")),
        "{notes:#}"
    );
}
