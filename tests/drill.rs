//! `standby drill` through the built binary on the whole example
//! (examples/mattermost-dr, every file of it, imports.yaml adopting the
//! stand-in production of scripts/demo-standin), against a private
//! emulator: the standby cluster copied in its region, the safety proof
//! from the emulator's call log (every change named for the drill, nothing
//! asked of the active region, every call in the drill's IAM policy),
//! cleanup after success, after kill -9 at chosen and at random moments
//! (`--cleanup ID`) and after `--keep`, with what the emulator holds listed
//! before and after. What AWS holds is read with the SDK and boto3.

mod common;

use aws_sdk_rds::Client as Rds;
use common::standin::{Example, SEARCH_PASSWORD, py};
use common::{Run, assert_valid, http};
use serde_json::Value;
use std::collections::BTreeSet;

const WEST: &str = "us-west-1";
const EAST: &str = "us-east-1";
/// The example's standby cluster (`${var.prefix}-db-${region.secondary}`).
const STANDBY_CLUSTER: &str = "mattermost-dr-db-us-east-1";
/// What every drill resource's name starts with (the example's `prefix`).
const DRILLS: &str = "mattermost-dr-drill-";

struct World {
    ex: Example,
    rt: tokio::runtime::Runtime,
    rds: Rds,
}

impl World {
    /// The whole example applied over the stand-in production it adopts.
    fn applied() -> World {
        let ex = Example::whole_with_standin();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let rds = rt.block_on(async { Rds::new(&common::sdk_config(&ex.emu.endpoint(), EAST).await) });
        let w = World { ex, rt, rds };
        w.ok(0, &["apply", ".", "--auto-approve"]);
        w.control("DELETE", "/_emulator/calls");
        w
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        self.ex.cmd(args)
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
        let (status, text) =
            http(&self.ex.emu.endpoint(), method, path, None, "", body.map(|b| b.to_string()).as_deref());
        assert!(status < 300, "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// The drill's own record (beside production's state).
    fn record(&self) -> Value {
        let text = std::fs::read_to_string(self.ex.dir.join("state/standby.drill.json")).unwrap_or_default();
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

    /// Everything the emulator holds, in both regions, as `service region name`
    /// lines: Aurora clusters and instances, search domains and their
    /// connections, buckets, load balancers, Auto Scaling groups, running EC2
    /// instances, secrets. Listed before and after a drill.
    fn holdings(&self) -> BTreeSet<String> {
        let out = py(
            &self.ex.emu,
            r#"
out = []
for r in ['us-west-1', 'us-east-1']:
    rds = aws('rds', r)
    out += ['rds-cluster %s %s' % (r, c['DBClusterIdentifier']) for c in rds.describe_db_clusters()['DBClusters']]
    out += ['rds-instance %s %s' % (r, i['DBInstanceIdentifier']) for i in rds.describe_db_instances()['DBInstances']]
    os_ = aws('opensearch', r)
    out += ['domain %s %s' % (r, d['DomainName']) for d in os_.list_domain_names()['DomainNames']]
    # AWS lists a deleted connection for 15 days: it is no longer anything.
    out += ['connection %s %s %s' % (r, c['ConnectionId'], c['ConnectionStatus']['StatusCode'])
            for c in os_.describe_outbound_connections()['Connections']
            if c['ConnectionStatus']['StatusCode'] != 'DELETED']
    out += ['lb %s %s' % (r, l['LoadBalancerName']) for l in aws('elbv2', r).describe_load_balancers()['LoadBalancers']]
    out += ['asg %s %s' % (r, g['AutoScalingGroupName'])
            for g in aws('autoscaling', r).describe_auto_scaling_groups()['AutoScalingGroups']]
    out += ['ec2 %s %s' % (r, i['InstanceId']) for res in aws('ec2', r).describe_instances(
            Filters=[{'Name': 'instance-state-name', 'Values': ['pending', 'running']}])['Reservations']
            for i in res['Instances']]
    out += ['secret %s %s' % (r, x['Name']) for x in aws('secretsmanager', r).list_secrets()['SecretList']]
out += ['bucket %s' % b['Name'] for b in aws('s3').list_buckets()['Buckets']]
print(json.dumps(sorted(out)))
"#,
        );
        out.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    }

    /// What the emulator knows of production's search domains (indices with
    /// their counts, replication, rules, users, role mappings): every domain
    /// but the drills'.
    fn production_search(&self) -> Value {
        let all = self.control("GET", "/_emulator/opensearch/domains");
        let keep: Vec<Value> =
            all.as_array().unwrap().iter().filter(|d| !d.to_string().contains(DRILLS)).cloned().collect();
        Value::Array(keep)
    }

    /// The ids of the connections made from a drill's search copy.
    fn drill_connections(&self, own: &str) -> Vec<String> {
        let all = self.control("GET", "/_emulator/opensearch/connections");
        all.as_array()
            .unwrap()
            .iter()
            .filter(|c| c["requested"]["LocalDomainInfo"].to_string().contains(&format!("\"{own}\"")))
            .filter_map(|c| c["id"].as_str().map(str::to_string))
            .collect()
    }

    /// The IAM actions `standby policy --for drill` grants.
    fn drill_policy(&self) -> BTreeSet<String> {
        let run: Run = common::standby(&self.ex.dir, &["policy", ".", "--for", "drill"]);
        assert_eq!(run.code, 0, "{}", run.all());
        let doc: Value = serde_json::from_str(&run.stdout).unwrap();
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Action"].as_array().cloned().unwrap_or_else(|| vec![s["Action"].clone()]))
            .map(|a| a.as_str().unwrap().to_string())
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

/// Also times (RFC 3339) and seconds (`12s`, `| 12 |`), which vary, the
/// search copy's connection id and the date in a daily index's name.
fn scrub(text: &str) -> String {
    let mut text = filter_id(text);
    for (marker, len) in [("connection cc-", 22), ("posts-", 10)] {
        let mut from = 0;
        while let Some(k) = text[from..].find(marker).map(|k| k + from + marker.len()) {
            let n = text[k..].bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'-').count();
            if n == len {
                text.replace_range(k..k + n, "ID");
            }
            from = k;
        }
    }
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

/// The safety rule: every change names only the drill's own resources (a
/// production cluster may be named as what is copied from, or the subnet
/// group the copy goes in), nothing at all is asked of the active region, and
/// every call is in standby's table of calls with the actions the drill's
/// policy grants.
fn assert_only_drill_changes(w: &World, own: &str) {
    let changes = w.changes();
    assert!(!changes.is_empty(), "the drill changed nothing?");
    // Named as what is read or used: the cluster copied, the subnet group
    // the copy goes in, the leader a connection is made to and the account.
    let read_from = [
        "SourceDBClusterIdentifier",
        "DBSubnetGroupName",
        "RemoteDomainInfo.AWSDomainInformation.DomainName",
        "RemoteDomainInfo.AWSDomainInformation.OwnerId",
        "LocalDomainInfo.AWSDomainInformation.OwnerId",
    ];
    let connections = w.drill_connections(own);
    assert_eq!(connections.len(), 1, "one connection from the search copy: {connections:?}");
    for (region, op, targets) in &changes {
        // The one call on production: the leader's side accepts the copy's
        // connection (AWS requires it of the leader's owner), naming it only.
        let accept = op == "AcceptInboundConnection";
        assert_eq!(region, if accept { WEST } else { EAST }, "{op} went to {region}");
        let targets = targets.as_object().cloned().unwrap_or_default();
        assert!(!targets.is_empty(), "{op} names nothing: cannot prove it is the drill's");
        for (k, v) in targets {
            let v = v.as_str().unwrap_or_default();
            let ours = v == own || v.starts_with(&format!("{own}-")) || connections.iter().any(|c| c == v);
            assert!(ours || read_from.contains(&k.as_str()), "{op} {k}={v}: not the drill's ({own})");
        }
    }
    let all = w.control("GET", "/_emulator/calls");
    let all = all.as_array().unwrap();
    let asked_west: Vec<&str> =
        all.iter().filter(|c| c["region"] == WEST).map(|c| c["operation"].as_str().unwrap()).collect();
    assert!(
        asked_west.iter().all(|op| ["AcceptInboundConnection", "DescribeInboundConnections"].contains(op)),
        "the drill asked the active region more than its connection's acceptance: {asked_west:?}"
    );
    let policy = w.drill_policy();
    for c in all {
        let (service, op) = (c["service"].as_str().unwrap(), c["operation"].as_str().unwrap());
        let known = standby::permissions::find(service, op);
        assert!(!known.is_empty(), "{service}:{op} is not in src/permissions");
        assert!(
            known.iter().any(|k| k.actions().iter().all(|a| policy.contains(a))),
            "{service}:{op} is not allowed by `standby policy --for drill`: {policy:?}"
        );
    }
}

/// The copies the drill makes carry its tag.
fn assert_tagged(w: &World, name: &str, id: &str) {
    let tags = w.rt.block_on(async {
        let c = w.rds.describe_db_clusters().db_cluster_identifier(name).send().await.unwrap();
        c.db_clusters()[0].tag_list().to_vec()
    });
    assert!(
        tags.iter().any(|t| t.key() == Some("standby-drill") && t.value() == Some(id)),
        "{name} is not tagged standby-drill={id}: {tags:?}"
    );
}

#[test]
fn a_drill_of_the_whole_example_copies_the_standby_database_and_changes_nothing_else() {
    let w = World::applied();
    let before = w.holdings();
    let production = std::fs::read(w.ex.dir.join("state/standby.json")).unwrap();
    let search_before = w.production_search();
    // (Listing what the emulator holds is logged as AWS calls too.)
    w.control("DELETE", "/_emulator/calls");

    // Shown first; --plan calls nothing.
    let run = w.ok(0, &["drill", ".", "--plan"]);
    assert!(run.stdout.contains("Drill: a failover to secondary (us-east-1) rehearsed on copies"), "{}", run.stdout);
    insta::assert_snapshot!("drill_plan_human", filter_id(&run.stdout));
    let json = w.ok(0, &["drill", ".", "--plan", "--format", "json"]);
    let rb: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!((rb["mode"].as_str(), rb["steps"][0]["action"].as_str()), (Some("drill"), Some("drill_db_copy")));
    assert_eq!(rb["steps"][0]["source_cluster"], STANDBY_CLUSTER);
    let md = w.ok(0, &["drill", ".", "--plan", "--format", "markdown"]);
    assert!(md.stdout.contains("| 1 | <code>drill.db-copy</code> | us-east-1 |"), "{}", md.stdout);
    insta::assert_snapshot!("drill_plan_markdown", filter_id(&md.stdout));
    assert_eq!(w.control("GET", "/_emulator/calls"), serde_json::json!([]), "--plan called AWS");
    assert_eq!(w.ok(1, &["drill", ".", "--to", "nowhere", "--plan"]).code, 1);
    assert!(
        w.run(&["drill", ".", "--to", "primary", "--plan"]).stderr.contains("no standby Aurora cluster in us-west-1")
    );

    // The drill.
    w.control("DELETE", "/_emulator/calls");
    let started = std::time::Instant::now();
    let run = w.ok(0, &["drill", ".", "--auto-approve"]);
    let took = started.elapsed();
    let id = w.drill_id();
    let own = format!("{DRILLS}{id}");
    assert!(run.stdout.contains(&format!("Drill {id}")), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("an Aurora clone of {STANDBY_CLUSTER} (copy-on-write)")), "{}", run.stdout);
    assert!(run.stdout.contains("Drill finished"), "{}", run.stdout);
    assert_eq!(w.step_status("drill.db-copy").as_deref(), Some("done"));
    assert_eq!(w.step_status("drill.cleanup").as_deref(), Some("done"));
    assert_only_drill_changes(&w, &own);
    let calls = w.control("GET", "/_emulator/calls");
    let ops: Vec<String> = w.changes().into_iter().map(|(_, op, _)| op).collect();
    assert_eq!(
        ops,
        [
            "RestoreDBClusterToPointInTime",
            "CreateDBInstance",
            "CreateDomain",
            "CreateOutboundConnection",
            "AcceptInboundConnection",
            "DeleteOutboundConnection",
            "DeleteDomain",
            "DeleteDBInstance",
            "DeleteDBCluster"
        ]
    );
    assert!(run.stdout.contains("a third follower of mattermost-prod-search"), "{}", run.stdout);
    assert!(run.stdout.contains("stopped"), "the copy's followers were stopped: {}", run.stdout);
    assert_eq!(w.production_search(), search_before, "production's search domains changed");
    eprintln!(
        "drill of the whole example: {:.1}s, {} AWS calls ({} changes)",
        took.as_secs_f64(),
        calls.as_array().unwrap().len(),
        ops.len()
    );
    let mut counted = std::collections::BTreeMap::new();
    for c in calls.as_array().unwrap() {
        *counted.entry(format!("{} {}:{}", c["region"], c["service"], c["operation"])).or_insert(0) += 1;
    }
    for (call, n) in &counted {
        eprintln!("  {n:3} {}", call.replace('"', ""));
    }
    assert_eq!(w.left(&own), Vec::<String>::new(), "the drill left copies behind");
    assert_eq!(w.holdings(), before, "what the emulator holds changed");
    assert_eq!(
        std::fs::read(w.ex.dir.join("state/standby.json")).unwrap(),
        production,
        "production's state was written"
    );
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    insta::assert_snapshot!("drill_report_human", scrub(&run.stdout[run.stdout.rfind("\nDrill ").unwrap()..]));

    // The report in the other formats: standard output holds only it.
    let json = w.ok(0, &["drill", ".", "--auto-approve", "--format", "json"]);
    assert_valid("drill-report", &json.stdout);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!((report["passed"].as_bool(), report["outcome"].as_str()), (Some(true), Some("passed")));
    let ids: Vec<&str> = report["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["drill.db-copy", "drill.search-copy", "drill.search-writable", "drill.cleanup"]);
    assert!(json.stderr.contains("[1/4]"), "progress goes to standard error: {}", json.stderr);
    let md = w.ok(0, &["drill", ".", "--auto-approve", "--format", "markdown"]);
    insta::assert_snapshot!("drill_report_markdown", scrub(&md.stdout));
    assert_eq!(w.left(DRILLS), Vec::<String>::new());

    // Kept: the copies stay, tagged, until their cleanup; no second drill meanwhile.
    let run = w.ok(0, &["drill", ".", "--keep", "--auto-approve"]);
    let id = w.drill_id();
    let own = format!("{DRILLS}{id}");
    assert!(run.stdout.contains(&format!("standby drill --cleanup {id}")), "{}", run.stdout);
    assert_eq!(w.left(&own), vec![own.clone(), format!("{own}-1")]);
    assert_tagged(&w, &own, &id);
    assert!(w.holdings().contains(&format!("domain {EAST} {own}")), "the search copy is kept too");
    // Writable, as the standby's followers are after a failover; the standby's own follower is not.
    let host = |name: &str| {
        py(
            &w.ex.emu,
            &format!("print(json.dumps(aws('opensearch', '{EAST}').describe_domain(DomainName='{name}')['DomainStatus']['Endpoint']))"),
        )
        .as_str()
        .unwrap()
        .to_string()
    };
    let post = |name: &str| {
        http(
            &w.ex.emu.endpoint(),
            "POST",
            "/channels/_doc",
            Some(&host(name)),
            SEARCH_PASSWORD,
            Some(r#"{"drill": 1}"#),
        )
    };
    let (status, body) = post(&own);
    assert_eq!(status, 201, "the search copy is not writable: {body}");
    let (status, body) = post("mattermost-dr-os-us-east-1");
    assert_eq!(status, 403, "the standby follower must still follow: {body}");
    assert_eq!(w.ok(1, &["drill", ".", "--auto-approve"]).code, 1, "a second drill while one is kept");
    w.ok(0, &["drill", ".", "--cleanup", &id, "--auto-approve"]);
    assert_eq!(w.left(&own), Vec::<String>::new());
    assert!(w.run(&["drill", ".", "--cleanup", "NOT-AN-ID", "--auto-approve"]).stderr.contains("is not a drill id"));
    assert_eq!(w.holdings(), before, "what the emulator holds changed");

    // drift: the last successful drill, read from the drills' record.
    let check = |w: &World| -> (Value, Value) {
        let run = w.run(&["drift", ".", "--format", "json", "--no-canaries"]);
        let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|_| panic!("{}", run.all()));
        let c = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "drill.last_success").cloned();
        let f = report["findings"].as_array().unwrap().iter().find(|f| f["check"] == "drill.last_success").cloned();
        (c.unwrap_or(Value::Null), f.unwrap_or(Value::Null))
    };
    let (c, f) = check(&w);
    assert_eq!(c["status"], "pass", "{c}");
    assert!(c["title"].as_str().unwrap().starts_with("last successful drill: 0 days ago"), "{c}");
    assert_eq!(f, Value::Null);
    // The same drills, long ago: too old.
    let path = w.ex.dir.join("state/standby.drill.json");
    let mut rec: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(rec["roles"]["drills"][0]["steps"][0][0] == "drill.db-copy", "{rec}");
    for d in rec["roles"]["drills"].as_array_mut().unwrap() {
        d["ended"] = "2020-01-01T00:00:00Z".into();
    }
    std::fs::write(&path, serde_json::to_string_pretty(&rec).unwrap()).unwrap();
    let (c, f) = check(&w);
    assert_eq!(c["status"], "fail", "{c}");
    assert_eq!(f["kind"], "unhealthy");
}

/// A small deterministic generator (xorshift), seeded from the clock and
/// printed, so a failing moment can be replayed with DRILL_KILL_SEED.
struct Moments(u64);

impl Moments {
    fn new() -> Moments {
        let seed = std::env::var("DRILL_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
        });
        eprintln!("kill moments: DRILL_KILL_SEED={seed}");
        Moments(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[test]
fn a_drill_killed_at_any_moment_is_finished_by_its_cleanup_and_leaves_nothing() {
    let w = World::applied();
    // A copy takes time, as on AWS: kills land while the drill waits for it.
    w.control_with(
        "POST",
        "/_emulator/settings",
        Some(serde_json::json!({"rds_restore_ms": 3000, "opensearch_processing_ms": 1500})),
    );
    let before = w.holdings();
    eprintln!(
        "the emulator holds, before the drills ({}):\n  {}",
        before.len(),
        Vec::from_iter(before.clone()).join("\n  ")
    );
    let started = std::time::Instant::now();
    w.ok(0, &["drill", ".", "--auto-approve"]);
    let whole = started.elapsed().as_millis() as u64;
    assert_eq!(w.holdings(), before);

    // Each kill is followed by `--cleanup ID` (when the record names a
    // drill), and then the emulator holds what it held before.
    let finish = |w: &World, what: &str| {
        let id = w.drill_id();
        if w.step_status("drill.cleanup").as_deref() != Some("done") {
            assert!(!id.is_empty(), "the record names the drill before any change ({what})");
            let refused = w.ok(1, &["drill", ".", "--auto-approve"]);
            assert!(refused.stderr.contains(&format!("standby drill --cleanup {id}")), "{}", refused.stderr);
        }
        if !id.is_empty() {
            w.ok(0, &["drill", ".", "--cleanup", &id, "--auto-approve"]);
            // Creates killed before their answer was recorded may land a
            // moment later: the cleanup observes AWS, so a second one finds them.
            if !w.left(&format!("{DRILLS}{id}")).is_empty() {
                w.ok(0, &["drill", ".", "--cleanup", &id, "--auto-approve"]);
            }
        }
        let after = w.holdings();
        assert_eq!(after, before, "after a kill when {what}, then the cleanup");
    };
    // Chosen moments: as each copy step starts, once each copy exists, as the cleanup runs.
    let copy_exists = |w: &World| !w.drill_id().is_empty() && !w.left(&format!("{DRILLS}{}", w.drill_id())).is_empty();
    let running = |w: &World| w.step_status("drill.db-copy").as_deref() == Some("running");
    let searching = |w: &World| w.step_status("drill.search-copy").as_deref() == Some("running");
    let search_exists = |w: &World| {
        !w.drill_id().is_empty() && w.holdings().contains(&format!("domain {EAST} {DRILLS}{}", w.drill_id()))
    };
    let cleaning = |w: &World| w.step_status("drill.cleanup").as_deref() == Some("running");
    let moments: [Moment; 5] = [
        ("the copy step runs", &running),
        ("the copy exists", &copy_exists),
        ("the search copy step runs", &searching),
        ("the search copy exists", &search_exists),
        ("the cleanup runs", &cleaning),
    ];
    for (what, when) in moments {
        w.kill_when(&["drill", ".", "--auto-approve"], what, when);
        finish(&w, what);
    }
    // Random moments within a whole drill's time.
    let mut rng = Moments::new();
    for _ in 0..4 {
        let at = rng.below(whole);
        let mut child = w.cmd(&["drill", ".", "--auto-approve"]).stdout(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(at));
        let ended = child.try_wait().unwrap().is_some();
        child.kill().unwrap();
        let _ = child.wait();
        let what = format!("{at} ms in (of {whole}){}", if ended { ", after it ended" } else { "" });
        eprintln!(
            "killed {what}: step db-copy {:?}, cleanup {:?}",
            w.step_status("drill.db-copy"),
            w.step_status("drill.cleanup")
        );
        finish(&w, &what);
    }
    w.ok(0, &["drill", ".", "--auto-approve"]);
    let after = w.holdings();
    eprintln!("the emulator holds, after the drills ({}): the same", after.len());
    assert_eq!(after, before);
}
