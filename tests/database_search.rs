//! Database and search in two regions (modules/aurora-global-database and
//! modules/opensearch-cross-cluster-replication, as examples/mattermost-dr
//! uses them) through the built binary, each test against its own emulator.
//! What AWS holds is checked directly, never through standby: with the AWS
//! SDK, and over HTTP against the emulator (its control API and the fake
//! domains' REST API).
//!
//! The leader's indices must exist, populated, before replication starts
//! (the procedure's "Search" step 4). The example is therefore applied the
//! way a real adoption goes: the leader domain first (it plays Mattermost's
//! existing primary), Mattermost's indices are written into it through its
//! REST API, then the whole example is applied.

mod common;

use aws_sdk_opensearch::Client as OpenSearch;
use aws_sdk_rds::Client as Rds;
use common::{Emulator, Run, copy_dir, drop_app_tier, repo, scratch};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const WEST: &str = "us-west-1";
const EAST: &str = "us-east-1";
/// The OpenSearch master password and the Aurora master password: neither may
/// appear in state, plans or logs.
const SEARCH_PASSWORD: &str = "Srch-Master-9!kq";
const DB_PASSWORD: &str = "Db-Master-7#wz";
/// The replication user's and Mattermost's passwords on both domains.
const REPL_PASSWORD: &str = "Repl-User-5%qa";
const MM_PASSWORD: &str = "Mm-Search-3&zx";
const MM_PROD_PASSWORD: &str = "Mm-Prod-8^hv";
const GLOBAL: &str = "mattermost-dr-db";
const CLUSTER_WEST: &str = "mattermost-dr-db-us-west-1";
const CLUSTER_EAST: &str = "mattermost-dr-db-us-east-1";
const LEADER: &str = "mattermost-dr-os-us-west-1";
const FOLLOWER: &str = "mattermost-dr-os-us-east-1";
const INDICES: [&str; 3] = ["channels", "users", "files"];
/// A daily posts index: the auto-follow rule picks it up.
const POSTS: &str = "posts-2024-06-01";

// ------------------------------------------------------------------ harness

/// One emulator, a configuration directory and SDK clients for both regions.
struct World {
    emu: Emulator,
    dir: PathBuf,
    rt: tokio::runtime::Runtime,
    rds: BTreeMap<&'static str, Rds>,
    os: BTreeMap<&'static str, OpenSearch>,
}

impl World {
    /// examples/mattermost-dr with the modules it uses, at the same relative paths.
    fn example() -> World {
        let root = scratch("dbsearch-example");
        copy_dir(&repo().join("examples/mattermost-dr"), &root.join("examples/mattermost-dr"));
        // The app tier, its secrets and DNS are not this test's subject.
        drop_app_tier(&root.join("examples/mattermost-dr"));
        copy_dir(&repo().join("modules"), &root.join("modules"));
        // These tests make the primary with standby; tests/import.rs adopts it.
        std::fs::remove_file(root.join("examples/mattermost-dr/imports.yaml")).unwrap();
        World::new(root.join("examples/mattermost-dr"))
    }

    /// A copy of tests/fixtures/database_search/<name>.
    fn fixture(name: &str) -> World {
        let root = scratch(&format!("dbsearch-{name}"));
        let rel = Path::new("tests/fixtures/database_search").join(name);
        copy_dir(&repo().join(&rel), &root.join(&rel));
        World::new(root.join(rel))
    }

    fn new(dir: PathBuf) -> World {
        let emu = Emulator::start();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let endpoint = emu.endpoint();
        let (rds, os) = rt.block_on(async {
            let mut rds = BTreeMap::new();
            let mut os = BTreeMap::new();
            for region in [WEST, EAST] {
                let config = common::sdk_config(&endpoint, region).await;
                rds.insert(region, Rds::new(&config));
                os.insert(region, OpenSearch::new(&config));
            }
            (rds, os)
        });
        World { emu, dir, rt, rds, os }
    }

    fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.emu.cmd(&self.dir, args);
        c.env("STANDBY_VAR_opensearch_master_password", SEARCH_PASSWORD)
            .env("STANDBY_VAR_search_password", SEARCH_PASSWORD)
            .env("STANDBY_VAR_db_master_password", DB_PASSWORD)
            .env("STANDBY_VAR_db_password", DB_PASSWORD)
            .env("STANDBY_VAR_opensearch_replication_password", REPL_PASSWORD)
            .env("STANDBY_VAR_opensearch_mattermost_password", MM_PASSWORD)
            // Every request of the tests comes from 127.0.0.1: the policies'
            // aws:SourceIp condition is exercised end to end.
            .env("STANDBY_VAR_search_source_ips", r#"["127.0.0.0/8"]"#)
            .env("STANDBY_VAR_deletion_protection", "false");
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        self.cmd(args).output().expect("run standby").into()
    }

    /// Runs standby and insists on an exit code.
    fn ok(&self, code: i32, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, code, "standby {}:\n{}", args.join(" "), run.all());
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        run
    }

    /// A request to the emulator itself (control API).
    fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, text) = http(&self.emu.endpoint(), method, path, None, body.map(|b| b.to_string()).as_deref());
        assert!(status < 300, "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// A request to a fake domain's REST API, as its master user.
    fn rest(&self, host: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.rest_as(("admin", SEARCH_PASSWORD), host, method, path, body)
    }

    /// A request to a fake domain's REST API, as an internal user.
    fn rest_as(&self, user: (&str, &str), host: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, text) =
            http(&self.emu.endpoint(), method, path, Some((host, user)), body.map(|b| b.to_string()).as_deref());
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// The emulator's view of every domain (indices, replications, rules).
    fn domains(&self) -> Vec<Value> {
        self.control("GET", "/_emulator/opensearch/domains", None).as_array().cloned().unwrap_or_default()
    }

    fn domain(&self, name: &str) -> Value {
        self.domains().into_iter().find(|d| d["domain"] == name).unwrap_or_else(|| panic!("no domain {name}"))
    }

    fn host(&self, name: &str) -> String {
        self.domain(name)["endpoints"][0].as_str().unwrap().to_string()
    }

    /// What Mattermost's bulk index would have left in the leader.
    fn seed_leader(&self, name: &str, indices: &[&str]) {
        let host = self.host(name);
        for index in indices {
            let (status, body) = self.rest(&host, "PUT", &format!("/{index}"), None);
            assert_eq!(status, 200, "PUT /{index}: {body}");
            for n in 0..3 {
                let (status, body) = self.rest(&host, "PUT", &format!("/{index}/_doc/{n}"), Some(json!({"n": n})));
                assert!(status < 300, "{body}");
            }
        }
    }

    /// The AWS API calls the emulator received (service, region, operation, status).
    fn calls(&self) -> Vec<Value> {
        self.control("GET", "/_emulator/calls", None).as_array().cloned().unwrap_or_default()
    }

    fn forget_calls(&self) {
        self.control("DELETE", "/_emulator/calls", None);
    }

    /// The emulator's request log (one line per request, AWS and domain REST alike).
    fn log_lines(&self) -> Vec<String> {
        let port = self.emu.endpoint().rsplit(':').next().unwrap_or_default().to_string();
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let prefix = format!("emulator-{}-", std::process::id());
        let dir = std::fs::read_dir(&base)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)))
            .find(|p| std::fs::read_to_string(p.join("port")).is_ok_and(|t| t.trim() == port))
            .expect("this emulator's directory");
        // Lines are written as requests finish: let the last ones land.
        let mut text = String::new();
        for _ in 0..20 {
            let now = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            if now == text {
                break;
            }
            text = now;
            std::thread::sleep(Duration::from_millis(100));
        }
        // The tests' own control-API requests are not standby's.
        text.lines().filter(|l| !l.contains(" /_emulator/")).map(str::to_string).collect()
    }

    /// Domain REST requests of the replication kinds in log lines.
    fn rest_requests(lines: &[String]) -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| l.split('"').nth(1))
            .filter(|r| r.contains(" /_plugins/") || INDICES.iter().any(|i| r.starts_with(&format!("HEAD /{i} "))))
            .map(|r| r.trim_end_matches(" HTTP/1.1").to_string())
            .collect()
    }

    /// Leader domain first (the existing, populated primary, with the policy
    /// that lets Mattermost in), its indices, then everything.
    fn applied() -> (World, Duration) {
        let w = World::example();
        w.ok(
            0,
            &["apply", ".", "--auto-approve", "--target", "module.search.aws_opensearch_domain_policy.leader_policy"],
        );
        let mut indices = INDICES.to_vec();
        indices.push(POSTS);
        w.seed_leader(LEADER, &indices);
        let started = Instant::now();
        let run = w.ok(0, &["apply", ".", "--auto-approve"]);
        let took = started.elapsed();
        assert!(run.stdout.contains("Apply complete!"), "{}", run.stdout);
        (w, took)
    }
}

/// A plain HTTP/1.1 request to the emulator (optionally as a domain, with
/// a user's basic auth). Returns status and body.
fn http(
    endpoint: &str,
    method: &str,
    path: &str,
    host: Option<(&str, (&str, &str))>,
    body: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(addr).expect("connect to the emulator");
    let body = body.unwrap_or("");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        host.map_or(addr, |(h, _)| h),
        body.len()
    );
    if let Some((_, (user, password))) = host {
        let token = aws_smithy_types::base64::encode(format!("{user}:{password}"));
        head.push_str(&format!("Authorization: Basic {token}\r\nContent-Type: application/json\r\n"));
    }
    write!(conn, "{head}\r\n{body}").unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, body.to_string())
}

fn count_ops(calls: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for c in calls {
        *out.entry(c["operation"].as_str().unwrap_or("?").to_string()).or_default() += 1;
    }
    out
}

// ------------------------------------------------------------ what AWS holds

/// The global database: us-west-1 writer, us-east-1 secondary forwarding writes.
fn assert_database(w: &World) {
    w.block(async {
        let out = w.rds[EAST].describe_global_clusters().global_cluster_identifier(GLOBAL).send().await.unwrap();
        let g = &out.global_clusters()[0];
        assert_eq!(g.engine(), Some("aurora-postgresql"));
        let members = g.global_cluster_members();
        assert_eq!(members.len(), 2, "{members:?}");
        let writer = members.iter().find(|m| m.is_writer() == Some(true)).expect("a writer");
        assert_eq!(
            writer.db_cluster_arn(),
            Some(format!("arn:aws:rds:{WEST}:123456789012:cluster:{CLUSTER_WEST}").as_str())
        );
        let secondary = members.iter().find(|m| m.is_writer() != Some(true)).expect("a secondary");
        assert_eq!(
            secondary.db_cluster_arn(),
            Some(format!("arn:aws:rds:{EAST}:123456789012:cluster:{CLUSTER_EAST}").as_str())
        );
        assert_eq!(secondary.global_write_forwarding_status().map(|s| s.as_str()), Some("enabled"));
        let east = w.rds[EAST].describe_db_clusters().db_cluster_identifier(CLUSTER_EAST).send().await.unwrap();
        let c = &east.db_clusters()[0];
        assert_eq!(c.global_write_forwarding_requested(), Some(true));
        assert_eq!(c.global_cluster_identifier(), Some(GLOBAL));
        assert_eq!(c.db_cluster_members().len(), 1);
        let west = w.rds[WEST].describe_db_clusters().db_cluster_identifier(CLUSTER_WEST).send().await.unwrap();
        let c = &west.db_clusters()[0];
        assert_eq!(c.db_cluster_members().len(), 2, "one writer, one reader");
        assert!(c.master_user_secret().is_none(), "a master password was given: RDS does not manage it");
    });
}

/// Both domains with FGAC, node-to-node encryption and HTTPS, both policies
/// with es:ESCrossClusterGet for the account, an ACTIVE connection from
/// us-east-1 to us-west-1, the posts* rule and SYNCING replications.
fn assert_search(w: &World) {
    w.block(async {
        for (region, name) in [(WEST, LEADER), (EAST, FOLLOWER)] {
            let out = w.os[region].describe_domain().domain_name(name).send().await.unwrap();
            let d = out.domain_status().unwrap();
            assert!(d.engine_version().unwrap().starts_with("OpenSearch_2."), "{name}");
            let sec = d.advanced_security_options().unwrap();
            assert_eq!((sec.enabled(), sec.internal_user_database_enabled()), (Some(true), Some(true)), "{name}");
            assert_eq!(d.node_to_node_encryption_options().unwrap().enabled(), Some(true), "{name}");
            assert_eq!(d.encryption_at_rest_options().unwrap().enabled(), Some(true), "{name}");
            assert_eq!(d.domain_endpoint_options().unwrap().enforce_https(), Some(true), "{name}");
            // AWS's recommended policy with internal users: anonymous, narrowed
            // by address; es:ESCrossClusterGet on both (either may lead).
            let policy: Value = serde_json::from_str(d.access_policies().unwrap()).unwrap();
            let http = &policy["Statement"][0];
            assert_eq!(http["Principal"], json!({"AWS": ["*"]}), "{name}: {policy}");
            assert_eq!(http["Action"], json!("es:ESHttp*"), "{name}: {policy}");
            assert_eq!(http["Resource"], json!(format!("{}/*", d.arn())), "{name}: {policy}");
            assert_eq!(http["Condition"], json!({"IpAddress": {"aws:SourceIp": ["127.0.0.0/8"]}}), "{name}");
            let text = policy.to_string();
            // Either domain may lead (switchover): both let the other follow.
            assert!(text.contains("es:ESCrossClusterGet"), "{name}: {text}");
        }
        let out = w.os[EAST].describe_outbound_connections().send().await.unwrap();
        let live: Vec<_> = out
            .connections()
            .iter()
            .filter(|c| c.connection_status().and_then(|s| s.status_code()).map(|s| s.as_str()) != Some("DELETED"))
            .collect();
        assert_eq!(live.len(), 1, "{live:?}");
        let c = live[0];
        assert_eq!(c.connection_status().and_then(|s| s.status_code()).map(|s| s.as_str()), Some("ACTIVE"));
        let info = |d: Option<&aws_sdk_opensearch::types::DomainInformationContainer>| {
            let i = d.and_then(|d| d.aws_domain_information()).unwrap();
            (i.domain_name().to_string(), i.region().unwrap_or_default().to_string())
        };
        assert_eq!(info(c.local_domain_info()), (FOLLOWER.to_string(), EAST.to_string()));
        assert_eq!(info(c.remote_domain_info()), (LEADER.to_string(), WEST.to_string()));
    });
    let follower = w.domain(FOLLOWER);
    let mut rules = follower["autofollow_rules"].as_array().unwrap().clone();
    rules.sort_by_key(|r| r["name"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        rules,
        vec![
            json!({"leader_alias": "leader", "name": "posts", "pattern": "posts*"}),
            json!({"leader_alias": "leader", "name": "standby-canary", "pattern": "standby-canary"}),
        ]
    );
    // Replication runs as the replication user, with the plugin's roles, not as the master user.
    let roles = json!({"leader_cluster_role": "cross_cluster_replication_leader_full_access",
        "follower_cluster_role": "cross_cluster_replication_follower_full_access"});
    for index in INDICES {
        assert_eq!(follower["replication_users"][index], json!({"user": "replication", "roles": roles}), "{index}");
    }
    let leader = w.domain(LEADER);
    for (d, role) in [
        (&leader, "cross_cluster_replication_leader_full_access"),
        (&follower, "cross_cluster_replication_follower_full_access"),
    ] {
        assert_eq!(d["internal_users"], json!(["mattermost", "replication"]), "{}", d["domain"]);
        assert_eq!(d["role_mappings"][role], json!(["replication"]), "{}", d["domain"]);
        assert_eq!(d["role_mappings"]["mattermost"], json!(["mattermost"]), "{}", d["domain"]);
    }
    // Audit logging is on in both security plugins (publishing alone writes nothing).
    for name in [LEADER, FOLLOWER] {
        let (status, audit) = w.rest(&w.host(name), "GET", "/_plugins/_security/api/audit", None);
        assert_eq!(status, 200, "{name}: {audit}");
        assert_eq!(audit["config"]["enabled"], json!(true), "{name}: {audit}");
        assert_eq!(audit["config"]["audit"]["log_request_body"], json!(false), "{name}: {audit}");
    }
    // Mattermost signs in as its own user: its indices only, no security API.
    let mm = ("mattermost", MM_PASSWORD);
    let (status, body) = w.rest_as(mm, &w.host(LEADER), "PUT", "/users/_doc/mm-1", Some(json!({"u": 1})));
    assert!(status < 300, "{status} {body}");
    let (status, body) = w.rest_as(mm, &w.host(FOLLOWER), "GET", "/channels/_count", None);
    assert_eq!(status, 200, "{body}");
    let (status, _) = w.rest_as(mm, &w.host(LEADER), "GET", "/_plugins/_security/api/internalusers/admin", None);
    assert_eq!(status, 403);
    let host = w.host(FOLLOWER);
    for index in INDICES.iter().chain([&POSTS]) {
        // The auto-followed index is no resource of standby's: nothing waited
        // for its bootstrap, which the emulator reports on the first _status.
        let status = |_| w.rest(&host, "GET", &format!("/_plugins/_replication/{index}/_status"), None).1;
        let mut seen = status(());
        if *index == POSTS && seen["status"] == "BOOTSTRAPPING" {
            seen = status(());
        }
        assert_eq!(seen["status"], "SYNCING", "{index}: {seen}");
        assert_eq!(
            follower["indices"][index], leader["indices"][index],
            "{index}: the follower has the leader's documents"
        );
    }
}

// -------------------------------------------------------------------- tests

#[test]
fn example_applies_plans_clean_and_destroys_in_order() {
    let (w, apply_took) = World::applied();
    assert_database(&w);
    assert_search(&w);

    let started = Instant::now();
    let plan = w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    let plan_took = started.elapsed();
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    assert!(!plan.stdout.contains("changed outside of standby"), "drift right after apply:\n{}", plan.stdout);
    eprintln!("wall time against the emulator: apply {apply_took:?}, plan {plan_took:?}");

    // No password anywhere: plans in every format, state, journal, outputs, logs.
    let mut seen = vec![plan.all()];
    for args in [
        &["plan", ".", "--json"][..],
        &["plan", ".", "--format", "markdown"],
        &["plan", ".", "--destroy"],
        &["show", "--json"],
        &["state", "show", "module.search.opensearch_index_replication.index[\"channels\"]"],
        &["state", "show", "module.database.aws_rds_cluster.primary"],
        &["output", "--json"],
    ] {
        seen.push(w.ok(0, args).all());
    }
    w.forget_calls();
    let destroy = w.ok(0, &["destroy", ".", "--auto-approve"]);
    seen.push(destroy.all());
    seen.extend(w.log_lines());
    for entry in walk(&w.dir) {
        seen.push(std::fs::read_to_string(&entry).unwrap_or_default());
    }
    for text in &seen {
        for secret in [SEARCH_PASSWORD, DB_PASSWORD] {
            assert!(!text.contains(secret), "a password leaked into:\n{text}");
        }
    }

    // Destroy order: the secondary leaves the global cluster (in its region),
    // then the writer, then the global cluster goes; clusters after.
    let calls = w.calls();
    let at = |op: &str, region: &str| {
        calls
            .iter()
            .position(|c| c["operation"] == op && c["region"] == region && c["status"] == 200)
            .unwrap_or_else(|| panic!("no {op} in {region}: {calls:#?}"))
    };
    let global_region = calls
        .iter()
        .find(|c| c["operation"] == "DeleteGlobalCluster")
        .map(|c| c["region"].as_str().unwrap().to_string())
        .expect("DeleteGlobalCluster");
    assert!(at("RemoveFromGlobalCluster", EAST) < at("RemoveFromGlobalCluster", WEST));
    assert!(at("RemoveFromGlobalCluster", WEST) < at("DeleteGlobalCluster", &global_region));
    assert!(at("RemoveFromGlobalCluster", EAST) < at("DeleteDBCluster", EAST));
    assert!(at("DeleteGlobalCluster", &global_region) < at("DeleteDBCluster", WEST));

    // The emulator holds none of it any more (final snapshots excepted).
    w.block(async {
        assert!(w.rds[EAST].describe_global_clusters().send().await.unwrap().global_clusters().is_empty());
        for region in [WEST, EAST] {
            assert!(w.rds[region].describe_db_clusters().send().await.unwrap().db_clusters().is_empty(), "{region}");
            assert!(w.rds[region].describe_db_instances().send().await.unwrap().db_instances().is_empty(), "{region}");
            assert!(w.os[region].list_domain_names().send().await.unwrap().domain_names().is_empty(), "{region}");
            let conns = w.os[region].describe_outbound_connections().send().await.unwrap();
            for c in conns.connections() {
                assert_eq!(c.connection_status().and_then(|s| s.status_code()).map(|s| s.as_str()), Some("DELETED"));
            }
            let snaps = w.rds[region].describe_db_cluster_snapshots().send().await.unwrap();
            let names: Vec<_> =
                snaps.db_cluster_snapshots().iter().filter_map(|s| s.db_cluster_snapshot_identifier()).collect();
            let cluster = if region == WEST { CLUSTER_WEST } else { CLUSTER_EAST };
            assert!(names.iter().any(|n| n.starts_with(&format!("{cluster}-final-"))), "{region}: {names:?}");
        }
    });
    assert!(w.domains().is_empty());
    assert!(w.ok(0, &["state", "list"]).stdout.trim().is_empty());
}

#[test]
fn out_of_band_changes_are_planned_and_repaired() {
    let (w, _) = World::applied();
    let host = w.host(FOLLOWER);
    w.block(async {
        w.rds[EAST]
            .modify_db_cluster()
            .db_cluster_identifier(CLUSTER_EAST)
            .enable_global_write_forwarding(false)
            .apply_immediately(true)
            .send()
            .await
            .unwrap();
        let d = w.os[WEST].describe_domain().domain_name(LEADER).send().await.unwrap();
        let mut policy: Value = serde_json::from_str(d.domain_status().unwrap().access_policies().unwrap()).unwrap();
        let statements = policy["Statement"].as_array_mut().unwrap();
        statements.retain(|s| !s.to_string().contains("ESCrossClusterGet"));
        w.os[WEST].update_domain_config().domain_name(LEADER).access_policies(policy.to_string()).send().await.unwrap();
    });
    let ack = |(status, body): (u16, Value)| assert_eq!((status, &body["acknowledged"]), (200, &json!(true)), "{body}");
    ack(w.rest(&host, "POST", "/_plugins/_replication/channels/_pause", Some(json!({}))));
    ack(w.rest(
        &host,
        "DELETE",
        "/_plugins/_replication/_autofollow",
        Some(json!({"leader_alias": "leader", "name": "posts"})),
    ));
    ack(w.rest(&host, "POST", "/_plugins/_replication/files/_stop", Some(json!({}))));
    w.control(
        "POST",
        "/_emulator/opensearch/replication",
        Some(json!({"region": EAST, "domain": FOLLOWER, "index": "users", "status": "FAILED", "reason": "leader shard lost"})),
    );

    let plan = w.ok(2, &["plan", ".", "--detailed-exitcode"]).stdout;
    let has = |needle: &str| assert!(plan.contains(needle), "no {needle:?} in:\n{plan}");
    has("~ enable_global_write_forwarding = false -> true");
    has("module.search.aws_opensearch_domain_policy.leader_policy (us-west-1) will be updated in-place");
    assert!(plan.lines().any(|l| l.trim_start().starts_with('+') && l.contains("\"es:ESCrossClusterGet\"")), "{plan}");
    has("module.search.opensearch_autofollow_rule.posts[0] (us-east-1) will be created");
    has("~ status        = \"PAUSED\" -> \"SYNCING\"");
    has("~ status        = \"FAILED\" -> \"SYNCING\"");
    has("~ status_reason = \"leader shard lost\" -> (known after apply)");
    has("~ status        = \"STOPPED\" -> \"SYNCING\"");
    has("restarting deletes the follower's copy");
    has("Plan: 1 to add, 5 to change, 0 to destroy.");

    // How the REST endpoint is reached: the environment variable is used (and the Host kept).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let run: Run = w
        .cmd(&["plan", "."])
        .env("STANDBY_OPENSEARCH_ENDPOINT_URL", format!("http://{closed}"))
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains(&format!("cannot reach http://{closed}/_plugins/_replication/")), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("(Host: {host})")), "{}", run.stderr);
    assert!(run.stderr.contains("STANDBY_OPENSEARCH_ENDPOINT_URL"), "{}", run.stderr);

    w.ok(0, &["apply", ".", "--auto-approve"]);
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    assert_database(&w);
    assert_search(&w);
}

#[test]
fn refresh_calls_per_kind() {
    let (w, _) = World::applied();
    let list = w.ok(0, &["state", "list"]).stdout;
    let instances = |kind: &str| list.lines().filter(|a| a.split('.').any(|p| p == kind)).count();
    // (kind, AWS operations its read makes, per read) — as documented at the top of each `read`.
    let kinds: [(&str, &[(&str, usize)]); 9] = [
        ("aws_rds_global_cluster", &[("DescribeGlobalClusters", 1)]),
        ("aws_rds_cluster", &[("DescribeDBClusters", 1)]),
        ("aws_rds_cluster_instance", &[("DescribeDBInstances", 1)]),
        ("aws_opensearch_domain", &[("DescribeDomain", 1), ("ListTags", 1)]),
        ("aws_opensearch_domain_policy", &[("DescribeDomain", 1)]),
        ("aws_opensearch_outbound_connection", &[("DescribeOutboundConnections", 1)]),
        ("aws_opensearch_inbound_connection_accepter", &[("DescribeInboundConnections", 1)]),
        ("aws_cloudwatch_log_group", &[("DescribeLogGroups", 1), ("ListTagsForResource", 1)]),
        ("aws_cloudwatch_log_resource_policy", &[("DescribeResourcePolicies", 1)]),
    ];
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for (kind, ops) in kinds {
        let n = instances(kind);
        assert!(n > 0, "{kind} not in the example");
        for (op, per_read) in ops {
            *expected.entry(op.to_string()).or_default() += per_read * n;
        }
    }
    w.forget_calls();
    let before = w.log_lines().len();
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    let ours: Vec<Value> = w
        .calls()
        .into_iter()
        .filter(|c| ["rds", "opensearch", "logs"].contains(&c["service"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(count_ops(&ours), expected, "AWS calls of a refresh");
    // The REST kinds: one request per read.
    let rest = World::rest_requests(&w.log_lines()[before..]);
    let rules = instances("opensearch_autofollow_rule");
    let replications = instances("opensearch_index_replication");
    assert_eq!((rules, replications), (2, 3));
    assert_eq!(rest.iter().filter(|r| r.as_str() == "GET /_plugins/_replication/autofollow_stats").count(), rules);
    assert_eq!(rest.iter().filter(|r| r.starts_with("GET ") && r.ends_with("/_status")).count(), replications);
    let security =
        ["opensearch_internal_user", "opensearch_role", "opensearch_role_mapping", "opensearch_audit_config"];
    let security_reads: usize = security.iter().map(|k| instances(k)).sum();
    assert_eq!(security_reads, 18, "4 users, 5 roles, 7 role mappings, 2 audit configs");
    assert_eq!(rest.iter().filter(|r| r.starts_with("GET /_plugins/_security/api/")).count(), security_reads);
    assert_eq!(rest.len(), rules + replications + security_reads, "{rest:?}");

    // A replication stopped outside standby costs one more (HEAD /<index>: stopped, or gone?).
    let host = w.host(FOLLOWER);
    w.rest(&host, "POST", "/_plugins/_replication/files/_stop", Some(json!({})));
    let before = w.log_lines().len();
    w.ok(2, &["plan", ".", "--detailed-exitcode"]);
    let rest = World::rest_requests(&w.log_lines()[before..]);
    assert_eq!(rest.iter().filter(|r| r.starts_with("HEAD /files")).count(), 1, "{rest:?}");
    assert_eq!(rest.len(), rules + replications + security_reads + 1, "{rest:?}");
}

#[test]
fn located_errors_before_any_aws_call() {
    let cases = [
        ("write_forwarding_15_3", "main.yaml:24:7", "engine_version is 15.3"),
        ("secondary_with_password", "main.yaml:30:7", "a secondary cluster takes no master credentials"),
        ("elasticsearch", "main.yaml:14:7", "got \"Elasticsearch_7.10\""),
        ("connection_same_region", "main.yaml:33:7", "are both in us-east-1"),
        // F4: AWS does not support RDS-managed passwords in a global database.
        ("managed_password_global", "main.yaml:6:3", "RDS-managed (Secrets Manager) master password"),
        // F5: an encrypted primary's secondary needs a KMS key of its region.
        ("encrypted_primary_no_kms", "main.yaml:24:3", "needs `kms_key_id`"),
        // F15: only the aws partition.
        ("govcloud", "main.yaml:2:21", "is in the `aws-us-gov` partition"),
    ];
    for (fixture, at, message) in cases {
        let w = World::fixture(fixture);
        w.forget_calls();
        let before = w.log_lines().len();
        for args in [&["plan", "."][..], &["apply", ".", "--auto-approve"]] {
            let run = w.ok(1, args);
            let err = run.stderr.lines().find(|l| l.starts_with("Error:")).unwrap_or_default();
            assert!(
                err.contains(at) && err.contains(message),
                "{fixture}: expected {at} {message:?} in:\n{}",
                run.stderr
            );
            assert!(!run.all().contains(DB_PASSWORD) && !run.all().contains(SEARCH_PASSWORD), "{}", run.all());
        }
        assert!(w.calls().is_empty(), "{fixture}: AWS was called: {:?}", w.calls());
        assert_eq!(w.log_lines().len(), before, "{fixture}: the emulator saw requests");
    }
}

/// A public domain's policy without `source_ips` would let anyone on the
/// internet reach the domain: a plan error at the property, before any call;
/// `["0.0.0.0/0"]` written out opens it on purpose.
#[test]
fn a_policy_open_to_the_internet_is_a_plan_error_unless_written_out() {
    let w = World::fixture("anyone_allowed");
    let before = w.log_lines().len();
    let plan = w.ok(1, &["plan", "."]);
    assert!(
        plan.stderr.contains("main.yaml:11:7") && plan.stderr.contains("anyone on the internet"),
        "{}",
        plan.stderr
    );
    assert!(plan.stderr.contains("aws_opensearch_domain_policy.policy"), "{}", plan.stderr);
    assert_eq!(w.log_lines().len(), before, "no AWS call before the error");
    let main = std::fs::read_to_string(w.dir.join("main.yaml")).unwrap();
    std::fs::write(w.dir.join("main.yaml"), main.replace("source_ips: null", "source_ips: [\"0.0.0.0/0\"]")).unwrap();
    let plan = w.ok(2, &["plan", ".", "--detailed-exitcode"]);
    assert!(plan.stdout.contains("aws_opensearch_domain_policy.policy (us-west-1) will be created"), "{}", plan.stdout);
    assert!(plan.stdout.contains("0.0.0.0/0"), "{}", plan.stdout);
}

/// The follower in the secondary region's VPC (how production runs search):
/// created with its subnets (two: zone awareness over two zones) and security groups, reached at its VPC
/// endpoint, its access policy without an address condition; the leader
/// public, narrowed by `source_ips`. Replication runs between them.
#[test]
fn a_follower_in_the_secondary_regions_vpc_replicates() {
    let w = World::example();
    let (subnets, group) = w.block(async {
        let ec2 = aws_sdk_ec2::Client::new(&common::sdk_config(&w.emu.endpoint(), EAST).await);
        let vpc = ec2.create_vpc().cidr_block("10.20.0.0/16").send().await.unwrap();
        let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        let mut subnets = Vec::new();
        for (cidr, zone) in [("10.20.1.0/24", "us-east-1a"), ("10.20.2.0/24", "us-east-1b")] {
            let s = ec2.create_subnet().vpc_id(&vpc).cidr_block(cidr).availability_zone(zone).send().await.unwrap();
            subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_string());
        }
        let g = ec2.create_security_group().group_name("search").description("search").vpc_id(&vpc).send().await;
        (subnets, g.unwrap().group_id().unwrap().to_string())
    });
    let vpc_options = json!({"subnet_ids": subnets, "security_group_ids": [group]}).to_string();
    let with_vpc = |args: &[&str]| -> Run {
        let mut c = w.cmd(args);
        c.env("STANDBY_VAR_search_vpc_options_secondary", &vpc_options);
        c.output().unwrap().into()
    };
    let run = with_vpc(&[
        "apply",
        ".",
        "--auto-approve",
        "--target",
        "module.search.aws_opensearch_domain_policy.leader_policy",
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    w.seed_leader(LEADER, &["channels", "users", "files", POSTS]);
    let run = with_vpc(&["apply", ".", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let follower = w.block(w.os[EAST].describe_domain().domain_name(FOLLOWER).send()).unwrap();
    let d = follower.domain_status().unwrap();
    let vpc = d.vpc_options().expect("the follower is in the VPC");
    let mut got = vpc.subnet_ids().to_vec();
    got.sort();
    let mut want = subnets.clone();
    want.sort();
    assert_eq!((got, vpc.security_group_ids().to_vec()), (want, vec![group.clone()]));
    assert!(d.endpoint().is_none() && d.endpoints().is_some_and(|e| e.contains_key("vpc")), "{d:?}");
    // Two subnets: spread over two zones (AWS refuses them without zone awareness).
    let cc = d.cluster_config().unwrap();
    let zones = cc.zone_awareness_config().and_then(|z| z.availability_zone_count());
    assert_eq!((cc.zone_awareness_enabled(), zones), (Some(true), Some(2)), "{cc:?}");
    let policy: Value = serde_json::from_str(d.access_policies().unwrap()).unwrap();
    assert!(policy["Statement"].as_array().unwrap().iter().all(|s| s.get("Condition").is_none()), "{policy}");
    let leader = w.block(w.os[WEST].describe_domain().domain_name(LEADER).send()).unwrap();
    let leader: Value = serde_json::from_str(leader.domain_status().unwrap().access_policies().unwrap()).unwrap();
    assert_eq!(leader["Statement"][0]["Condition"]["IpAddress"]["aws:SourceIp"], json!(["127.0.0.0/8"]), "{leader}");
    // Replication runs into the VPC domain, reached at its VPC endpoint.
    let host = w.host(FOLLOWER);
    assert!(host.starts_with("vpc-"), "{host}");
    let (status, body) = w.rest(&host, "GET", "/_plugins/_replication/channels/_status", None);
    assert_eq!((status, body["status"].as_str()), (200, Some("SYNCING")), "{body}");
    let plan = with_vpc(&["plan", ".", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
}

/// F1/F3: the old default (the account's IAM principal) lets no unsigned
/// basic-auth request in; the plan warns, and the 403 names the policy.
#[test]
fn an_account_only_policy_refuses_basic_auth_with_the_policy_hint() {
    let w = World::fixture("account_only_policy");
    let plan = w.ok(2, &["plan", ".", "--detailed-exitcode"]);
    assert!(
        plan.stdout
            .lines()
            .any(|l| l.starts_with("Warning:") && l.contains("main.yaml:25:7") && l.contains("anonymous")),
        "{}",
        plan.stdout
    );
    // The first unsigned request is the read before a user's create (a
    // user of that name is never overwritten).
    let run = w.ok(1, &["apply", ".", "--auto-approve"]);
    assert!(
        run.stderr.contains(
            "AccessDenied (domain access policy): User: anonymous is not authorized to perform: es:ESHttpGet"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: the domain's access policy refused this unsigned"), "{}", run.stderr);
    assert!(!run.all().contains(SEARCH_PASSWORD));
}

/// F2: a policy change that takes access away from the clients the live
/// policy lets in is refused, at plan time for an update (with the statements
/// that change), and at apply time when the policy resource is new on a domain
/// that already has one (an adopted primary).
#[test]
fn cutting_off_current_clients_is_refused() {
    let (w, _) = World::applied();
    let narrowed = |args: &[&str]| -> Run {
        w.cmd(args).env("STANDBY_VAR_search_source_ips", r#"["10.0.0.0/8"]"#).output().unwrap().into()
    };
    w.forget_calls();
    let run = narrowed(&["plan", "."]);
    assert_eq!(run.code, 1, "{}", run.all());
    let err = run.stderr.split("Error: ").find(|e| e.contains("leader_policy:")).unwrap_or_default();
    assert!(err.starts_with("../../modules/opensearch-cross-cluster-replication/main.yaml:"), "{}", run.stderr);
    assert!(err.contains("module.search.aws_opensearch_domain_policy.leader_policy"), "{}", run.stderr);
    assert!(err.contains("takes access away from clients the current policy lets in"), "{err}");
    assert!(
        err.contains(&format!(
            "no longer allowed: es:ESHttp* on arn:aws:es:{WEST}:123456789012:domain/{LEADER}/* from 127.0.0.0/8"
        )),
        "{err}"
    );
    assert!(
        err.contains(r#"    - {"Action":["es:ESHttp*"],"Condition":{"IpAddress":{"aws:SourceIp":["127.0.0.0/8"]}}"#),
        "{err}"
    );
    assert!(
        err.contains(r#"    + {"Action":["es:ESHttp*"],"Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8"]}}"#),
        "{err}"
    );
    assert!(err.contains("accept_access_loss"), "{err}");
    // What the reviewer reads, both domains' refusals.
    insta::assert_snapshot!("access_loss_refused", run.stderr);
    assert!(!w.calls().iter().any(|c| c["operation"] == "UpdateDomainConfig"), "nothing was changed");
    assert_eq!(narrowed(&["apply", ".", "--auto-approve"]).code, 1);
    // Widening takes nothing away.
    let wider: Run = w
        .cmd(&["plan", "."])
        .env("STANDBY_VAR_search_source_ips", r#"["127.0.0.0/8", "10.0.0.0/8"]"#)
        .output()
        .unwrap()
        .into();
    assert_eq!(wider.code, 0, "{}", wider.all());

    // An existing domain with its own open policy, not in standby's state.
    let w2 = World::fixture("slow_replication");
    w2.ok(0, &["apply", ".", "--auto-approve", "--target", "aws_opensearch_domain.leader"]);
    let arn = format!("arn:aws:es:{WEST}:123456789012:domain/mm-leader");
    let open = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": "es:*", "Resource": format!("{arn}/*")}]});
    w2.block(async {
        w2.os[WEST]
            .update_domain_config()
            .domain_name("mm-leader")
            .access_policies(open.to_string())
            .send()
            .await
            .unwrap();
    });
    let run = w2.ok(1, &["apply", ".", "--auto-approve", "--target", "aws_opensearch_domain_policy.leader_policy"]);
    assert!(run.stderr.contains("mm-leader already has an access policy"), "{}", run.stderr);
    assert!(run.stderr.contains("no longer allowed: es:* on"), "{}", run.stderr);
    let kept = w2.block(async {
        w2.os[WEST]
            .describe_domain()
            .domain_name("mm-leader")
            .send()
            .await
            .unwrap()
            .domain_status()
            .unwrap()
            .access_policies()
            .unwrap_or_default()
            .to_string()
    });
    assert_eq!(serde_json::from_str::<Value>(&kept).unwrap(), open, "the live policy is untouched");
}

/// Production's leader had its own policy (Mattermost reaching it as its own
/// user) before standby put one on it; destroy gives it back, so Mattermost
/// keeps working. On the code before, destroy left the leader with an empty
/// policy: 403 for everyone.
#[test]
fn destroy_restores_the_policy_a_pre_existing_leader_had() {
    let w = World::example();
    w.ok(0, &["apply", ".", "--auto-approve", "--target", "module.search.aws_opensearch_domain.leader"]);
    let arn = format!("arn:aws:es:{WEST}:123456789012:domain/{LEADER}");
    let own = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": "es:ESHttp*", "Resource": format!("{arn}/*"),
        "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}}}]});
    w.block(async {
        w.os[WEST].update_domain_config().domain_name(LEADER).access_policies(own.to_string()).send().await.unwrap();
    });
    // Mattermost's own user, from before standby.
    let host = w.host(LEADER);
    for (path, body) in [
        ("/_plugins/_security/api/internalusers/mm-prod", json!({"password": MM_PROD_PASSWORD})),
        (
            "/_plugins/_security/api/roles/mm-prod",
            json!({"index_permissions": [{"index_patterns": ["channels*"], "allowed_actions": ["crud"]}]}),
        ),
        ("/_plugins/_security/api/rolesmapping/mm-prod", json!({"users": ["mm-prod"]})),
    ] {
        let (status, body) = w.rest(&host, "PUT", path, Some(body));
        assert!(status < 300, "{path}: {status} {body}");
    }
    let mut indices = INDICES.to_vec();
    indices.push(POSTS);
    w.seed_leader(LEADER, &indices);
    let mattermost = || w.rest_as(("mm-prod", MM_PROD_PASSWORD), &host, "PUT", "/channels/_doc/9", Some(json!({})));
    assert!(mattermost().0 < 300, "{:?}", mattermost());

    w.ok(0, &["apply", ".", "--auto-approve"]);
    let shown = w.ok(0, &["state", "show", "module.search.aws_opensearch_domain_policy.leader_policy"]).stdout;
    assert!(shown.contains("previous_policy") && shown.contains("127.0.0.1/32"), "{shown}");
    // The domain is production's: standby lets go of it, the rest goes.
    w.ok(0, &["state", "rm", "module.search.aws_opensearch_domain.leader"]);
    let plan = w.ok(0, &["plan", ".", "--destroy"]).stdout;
    let said = plan
        .lines()
        .skip_while(|l| !l.contains("# module.search.aws_opensearch_domain_policy.leader_policy"))
        .nth(1)
        .unwrap_or_default();
    assert!(said.contains("restores the access policy the domain had before standby: {"), "{plan}");
    assert!(said.contains("127.0.0.1/32"), "{said}");
    w.ok(0, &["destroy", ".", "--auto-approve"]);

    let (status, body) = mattermost();
    assert!(status < 300, "Mattermost lost the leader: {status} {body}");
    let now = w.block(async {
        let out = w.os[WEST].describe_domain().domain_name(LEADER).send().await.unwrap();
        out.domain_status().unwrap().access_policies().unwrap_or_default().to_string()
    });
    assert!(now.contains("127.0.0.1/32") && !now.contains("ESCrossClusterGet"), "{now}");
}

/// A domain with no policy before standby's: deleting the policy locks every
/// client out, so the plan refuses it (located) unless the domain goes too or
/// `accept_access_loss` is set, and says what the delete does.
#[test]
fn deleting_a_policy_the_domain_did_not_have_before_is_refused() {
    let w = World::fixture("slow_replication");
    let config = |policy: &str| {
        let text = format!(
            "regions: {{ primary: us-west-1, secondary: us-east-1 }}\n\
             variables:\n  search_password: {{ type: string, sensitive: true }}\n\
             resources:\n  leader:\n    type: aws_opensearch_domain\n    region: primary\n    properties:\n      \
             domain_name: mm-leader\n      engine_version: OpenSearch_2.11\n      instance_type: r6g.large.search\n      \
             master_user_name: admin\n      master_user_password: \"${{var.search_password}}\"\n{policy}"
        );
        std::fs::write(w.dir.join("main.yaml"), text).unwrap();
    };
    let policy = "  leader_policy:\n    type: aws_opensearch_domain_policy\n    region: primary\n    properties:\n      \
                  domain_arn: \"${aws_opensearch_domain.leader.arn}\"\n      source_ips: [\"127.0.0.0/8\"]\n";
    config(policy);
    w.ok(0, &["apply", ".", "--auto-approve"]);
    let shown = w.ok(0, &["state", "show", "aws_opensearch_domain_policy.leader_policy"]).stdout;
    assert!(shown.contains("previous_policy"), "{shown}");
    let host = w.host("mm-leader");
    assert_eq!(w.rest(&host, "GET", "/_cluster/health", None).0, 200);
    w.forget_calls();

    let lockout = |run: &Run| {
        assert_eq!(run.code, 1, "{}", run.all());
        assert!(run.stderr.contains("aws_opensearch_domain_policy.leader_policy"), "{}", run.stderr);
        assert!(
            run.stderr
                .contains("deleting this policy leaves mm-leader with no access policy (it had none before standby)"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&format!(
                "no longer allowed: es:ESHttp* on arn:aws:es:{WEST}:123456789012:domain/mm-leader/* from 127.0.0.0/8"
            )),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("accept_access_loss"), "{}", run.stderr);
    };
    // Destroying the policy alone: located at its block.
    let run = w.run(&["plan", ".", "--destroy", "--target", "aws_opensearch_domain_policy.leader_policy"]);
    lockout(&run);
    assert!(run.stderr.contains("main.yaml:"), "{}", run.stderr);
    insta::assert_snapshot!("policy_delete_refused", run.stderr);
    lockout(&w.run(&["destroy", ".", "--auto-approve", "--target", "aws_opensearch_domain_policy.leader_policy"]));
    // Deleting it from the configuration: located by its address.
    config("");
    lockout(&w.run(&["plan", "."]));
    assert!(!w.calls().iter().any(|c| c["operation"] == "UpdateDomainConfig"), "nothing was changed");
    assert_eq!(w.rest(&host, "GET", "/_cluster/health", None).0, 200);

    // The domain goes in the same plan: nothing to cut off.
    config(policy);
    let plan = w.ok(0, &["plan", ".", "--destroy"]).stdout;
    assert!(plan.contains("leaves the domain with no access policy: every request will be refused"), "{plan}");
    // Or the user says so.
    config(&format!("{policy}      accept_access_loss: true\n"));
    let plan = w.ok(0, &["plan", ".", "--destroy", "--target", "aws_opensearch_domain_policy.leader_policy"]).stdout;
    assert!(plan.contains("leaves the domain with no access policy"), "{plan}");
    w.ok(0, &["apply", ".", "--auto-approve"]);
    config("");
    w.ok(0, &["apply", ".", "--auto-approve"]);
    assert_eq!(w.rest(&host, "GET", "/_cluster/health", None).0, 403, "as the plan said");
}

/// F17: where AWS lags (a domain Processing after a change, write
/// forwarding settling, a connection reaching the leader's region), standby
/// waits before it goes on; the emulator lags as told.
#[test]
fn waits_for_what_aws_does_slowly() {
    let w = World::example();
    w.control(
        "POST",
        "/_emulator/settings",
        Some(json!({"opensearch_processing_ms": 1500, "rds_write_forwarding_ms": 1500, "opensearch_inbound_visible_ms": 1500})),
    );
    w.ok(0, &["apply", ".", "--auto-approve", "--target", "module.search.aws_opensearch_domain_policy.leader_policy"]);
    let mut indices = INDICES.to_vec();
    indices.push(POSTS);
    w.seed_leader(LEADER, &indices);
    w.ok(0, &["apply", ".", "--auto-approve"]);
    let calls = w.calls();
    let at = |op: &str, region: &str, nth: usize| -> i64 {
        calls
            .iter()
            .filter(|c| c["operation"] == op && c["region"] == region && c["status"].as_u64().is_some_and(|s| s < 300))
            .nth(nth)
            .and_then(|c| c["at_ms"].as_i64())
            .unwrap_or_else(|| panic!("no {op} #{nth} in {region}"))
    };
    // The follower's policy goes on only once the domain is done processing.
    assert!(at("UpdateDomainConfig", EAST, 0) - at("CreateDomain", EAST, 0) >= 1500);
    // The secondary's instances come once write forwarding has settled.
    assert!(at("CreateDBInstance", EAST, 0) - at("CreateDBCluster", EAST, 0) >= 1500);
    // The acceptance waited for the connection to reach the leader's region.
    assert!(at("AcceptInboundConnection", WEST, 0) - at("CreateOutboundConnection", EAST, 0) >= 1500);
    assert_database(&w);
    assert_search(&w);
}

/// F9: both sides of the connection carry OwnerId and Region, as Terraform sends them.
#[test]
fn the_connection_request_names_owners_and_regions() {
    let (w, _) = World::applied();
    let conns = w.control("GET", "/_emulator/opensearch/connections", None);
    let req = &conns[0]["requested"];
    assert_eq!(
        req["LocalDomainInfo"]["AWSDomainInformation"],
        json!({"OwnerId": "123456789012", "DomainName": FOLLOWER, "Region": EAST})
    );
    assert_eq!(
        req["RemoteDomainInfo"]["AWSDomainInformation"],
        json!({"OwnerId": "123456789012", "DomainName": LEADER, "Region": WEST})
    );
}

#[test]
fn replication_outlasting_its_timeout_stays_on_record() {
    let w = World::fixture("slow_replication");
    w.ok(0, &["apply", ".", "--auto-approve", "--target", "aws_opensearch_domain_policy.leader_policy"]);
    w.seed_leader("mm-leader", &["channels"]);
    // The plugin keeps bootstrapping far longer than the 3 s create timeout.
    w.control("POST", "/_emulator/settings", Some(json!({"opensearch_bootstrap_polls": 1000})));
    let run: Run = w.cmd(&["apply", ".", "--auto-approve"]).env("STANDBY_PROGRESS_SECS", "1").output().unwrap().into();
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stdout.contains("opensearch_index_replication.channels: Still creating... ["), "{}", run.stdout);
    assert!(run.stderr.contains("timed out after 3s"), "{}", run.stderr);
    assert!(w.ok(0, &["state", "list"]).stdout.lines().any(|l| l.starts_with("opensearch_index_replication.channels")));
    // Bootstrapping is on its way to SYNCING: no change planned, none re-created.
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    // The plugin finishes bootstrapping.
    w.control(
        "POST",
        "/_emulator/opensearch/replication",
        Some(json!({"region": EAST, "domain": "mm-follower", "index": "channels", "status": "SYNCING"})),
    );
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    let (_, status) = w.rest(&w.host("mm-follower"), "GET", "/_plugins/_replication/channels/_status", None);
    assert_eq!(status["status"], "SYNCING", "{status}");

    // F8: the plugin answers RUNNING while no shard has reported yet: on its way, no change planned.
    w.control(
        "POST",
        "/_emulator/opensearch/replication",
        Some(json!({"region": EAST, "domain": "mm-follower", "index": "channels", "status": "RUNNING"})),
    );
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    let (_, status) = w.rest(&w.host("mm-follower"), "GET", "/_plugins/_replication/channels/_status", None);
    assert_eq!(status["status"], "SYNCING", "the RUNNING answer was the plan's: {status}");
}

/// Every file under a directory.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}
