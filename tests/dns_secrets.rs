//! Secrets Manager and Route 53 kinds through the built binary, against a
//! private emulator: examples/mattermost-dr/{secrets,dns}.yaml
//! beside tests/fixtures/dns_secrets/main.yaml (what the example declares
//! that they use), with a load balancer per region made through boto3 and
//! passed on by a stand-in for the app tier's module calls (the app tier is
//! tests/app_tier.rs's subject). What AWS holds is checked with the AWS SDK
//! for Rust, never through standby.

mod common;

use aws_sdk_route53::Client as Route53;
use aws_sdk_route53::types::RrType;
use aws_sdk_secretsmanager::Client as Secrets;
use common::{Emulator, Run, copy_dir, repo, scratch};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const WEST: &str = "us-west-1";
const EAST: &str = "us-east-1";
/// Mattermost's database and search passwords: never in state, plans or logs.
const DB_PASSWORD: &str = "Db-Mm-7#wzQ";
const DB_PASSWORD_2: &str = "Db-Mm-8%rotated";
const SEARCH_PASSWORD: &str = "Mm-Search-3&zx";
const ZONE: &str = "dr-test.example.com";
const HOST: &str = "chat.dr-test.example.com";
const DB_SECRET: &str = "mattermost-dr/mattermost/db-password";
const SEARCH_SECRET: &str = "mattermost-dr/mattermost/search-password";

/// A VPC, two subnets and an application load balancer per region (boto3).
const MAKE_LBS: &str = r#"
import json, sys, boto3
out = {}
for name, region in (("primary", "us-west-1"), ("secondary", "us-east-1")):
    kw = dict(region_name=region, endpoint_url=sys.argv[1], aws_access_key_id="testing", aws_secret_access_key="testing")
    ec2 = boto3.client("ec2", **kw)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{region}{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    lb = boto3.client("elbv2", **kw).create_load_balancer(Name=f"mm-{region}", Subnets=subnets)["LoadBalancers"][0]
    out[name] = {"dns": lb["DNSName"], "zone": lb["CanonicalHostedZoneId"]}
print(json.dumps(out))
"#;

struct World {
    emu: Emulator,
    dir: PathBuf,
    rt: tokio::runtime::Runtime,
    sm: BTreeMap<&'static str, Secrets>,
    r53: Route53,
    /// Per region name: the load balancer's DNS name and canonical zone id.
    lbs: Value,
    db_password: String,
}

impl World {
    fn new(name: &str) -> World {
        let emu = Emulator::start();
        let root = scratch(&format!("dns-secrets-{name}"));
        let fixture = Path::new("tests/fixtures/dns_secrets");
        copy_dir(&repo().join(fixture), &root);
        for f in ["secrets.yaml", "dns.yaml"] {
            std::fs::copy(repo().join("examples/mattermost-dr").join(f), root.join(f)).unwrap();
        }
        let out = std::process::Command::new(repo().join(".venv-emulator/bin/python"))
            .args(["-c", MAKE_LBS, &emu.endpoint()])
            .output()
            .expect("the emulator venv's python");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let lbs: Value = serde_json::from_slice(&out.stdout).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let endpoint = emu.endpoint();
        let (sm, r53) = rt.block_on(async {
            let mut sm = BTreeMap::new();
            let mut r53 = None;
            for region in [WEST, EAST] {
                let config = common::sdk_config(&endpoint, region).await;
                sm.insert(region, Secrets::new(&config));
                if region == EAST {
                    r53 = Some(Route53::new(&config));
                }
            }
            (sm, r53.unwrap())
        });
        World { emu, dir: root, rt, sm, r53, lbs, db_password: DB_PASSWORD.into() }
    }

    fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.emu.cmd(&self.dir, args);
        let map = |k: &str| {
            serde_json::json!({"primary": self.lbs["primary"][k], "secondary": self.lbs["secondary"][k]}).to_string()
        };
        c.env("STANDBY_VAR_mattermost_db_password", &self.db_password)
            .env("STANDBY_VAR_opensearch_mattermost_password", SEARCH_PASSWORD)
            .env("STANDBY_VAR_lb_dns_names", map("dns"))
            .env("STANDBY_VAR_lb_zone_ids", map("zone"))
            .env("STANDBY_VAR_dns_zone_name", ZONE)
            .env("STANDBY_VAR_mattermost_hostname", HOST)
            .env("STANDBY_VAR_secrets_recovery_window_in_days", "7")
            .env("STANDBY_PROGRESS_SECS", "1");
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        self.cmd(args).output().unwrap().into()
    }

    fn ok(&self, code: i32, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, code, "standby {args:?}:\n{}", run.all());
        run
    }

    fn control(&self, method: &str, path: &str, body: Option<&str>) -> Value {
        let (status, text) = common::http(&self.emu.endpoint(), method, path, None, "", body);
        assert_eq!(status, 200, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    fn calls(&self) -> Vec<Value> {
        self.control("GET", "/_emulator/calls", None).as_array().cloned().unwrap_or_default()
    }

    fn state_text(&self) -> String {
        let mut text = String::new();
        for e in std::fs::read_dir(self.dir.join("state")).unwrap().map(Result::unwrap) {
            text.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
        text
    }

    /// The stages of each version of a secret, and the current value (read
    /// with the SDK: standby itself never reads values).
    fn secret(&self, region: &str, name: &str) -> (BTreeMap<String, Vec<String>>, String) {
        self.block(async {
            let sm = &self.sm[region];
            let d = sm.describe_secret().secret_id(name).send().await.unwrap();
            assert!(d.deleted_date().is_none(), "{name} in {region} is scheduled for deletion");
            let stages = d.version_ids_to_stages().cloned().unwrap_or_default().into_iter().collect();
            let value = sm.get_secret_value().secret_id(name).send().await.unwrap();
            (stages, value.secret_string().unwrap_or_default().to_string())
        })
    }

    fn zone_id(&self) -> String {
        self.block(async {
            let out = self.r53.list_hosted_zones_by_name().dns_name(ZONE).send().await.unwrap();
            out.hosted_zones()[0].id().rsplit('/').next().unwrap().to_string()
        })
    }

    /// The A records of the hostname: set identifier → (failover, alias target, health check id).
    fn records(&self) -> BTreeMap<String, (String, String, String)> {
        let zone = self.zone_id();
        self.block(async {
            let out = self.r53.list_resource_record_sets().hosted_zone_id(&zone).send().await.unwrap();
            out.resource_record_sets()
                .iter()
                .filter(|r| r.name() == format!("{HOST}.") && r.r#type() == &RrType::A)
                .map(|r| {
                    (
                        r.set_identifier().unwrap_or_default().to_string(),
                        (
                            r.failover().map(|f| f.as_str().to_string()).unwrap_or_default(),
                            r.alias_target().map(|a| a.dns_name().to_string()).unwrap_or_default(),
                            r.health_check_id().unwrap_or_default().to_string(),
                        ),
                    )
                })
                .collect()
        })
    }
}

fn no_secret_in(what: &str, text: &str) {
    for secret in [DB_PASSWORD, DB_PASSWORD_2, SEARCH_PASSWORD] {
        assert!(!text.contains(secret), "a secret value is in {what}:\n{text}");
    }
}

fn count_ops(calls: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for c in calls {
        *out.entry(c["operation"].as_str().unwrap_or("?").to_string()).or_default() += 1;
    }
    out
}

#[test]
fn secrets_in_both_regions_and_failover_records_to_the_active_region() {
    let mut w = World::new("apply");
    // Every Route 53 change answers PENDING twice before INSYNC.
    w.control("POST", "/_emulator/settings", Some(r#"{"route53_pending_polls": 2}"#));

    let plan = w.ok(0, &["plan", ".", "--no-color"]);
    no_secret_in("the plan", &plan.all());
    insta::assert_snapshot!("plan_create", plan.stdout);
    let json = w.ok(0, &["plan", ".", "--json"]);
    no_secret_in("the JSON plan", &json.all());

    let apply = w.ok(0, &["apply", ".", "--auto-approve", "--no-color"]);
    no_secret_in("apply's output", &apply.all());
    assert!(apply.stdout.contains("Apply complete! Resources: 13 added, 0 changed, 0 destroyed."), "{}", apply.stdout);
    // The wait for INSYNC shows on the progress lines.
    assert!(
        apply
            .stdout
            .lines()
            .any(|l| l.starts_with("aws_route53_record.mattermost_active: Still creating...") && l.contains("PENDING")),
        "{}",
        apply.stdout
    );

    // Secrets in both regions, with the configured values as current versions.
    for region in [WEST, EAST] {
        let (stages, value) = w.secret(region, DB_SECRET);
        assert_eq!(value, DB_PASSWORD, "{region}");
        assert_eq!(stages.values().filter(|s| s.contains(&"AWSCURRENT".to_string())).count(), 1);
        assert_eq!(w.secret(region, SEARCH_SECRET).1, SEARCH_PASSWORD, "{region}");
    }
    // Failover records: PRIMARY → the active region's (us-west-1) load balancer.
    let records = w.records();
    let lb = |r: &str| format!("{}.", w.lbs[r]["dns"].as_str().unwrap().to_lowercase());
    assert_eq!(records.len(), 2, "{records:?}");
    let (role, target, primary_check) = &records["active"];
    assert_eq!((role.as_str(), target.clone()), ("PRIMARY", lb("primary")));
    let (role, target, secondary_check) = &records["standby"];
    assert_eq!((role.as_str(), target.clone()), ("SECONDARY", lb("secondary")));
    for (check, region) in [(primary_check, "primary"), (secondary_check, "secondary")] {
        let c = w.block(async { w.r53.get_health_check().health_check_id(check).send().await.unwrap() });
        let c = c.health_check().unwrap().health_check_config().unwrap();
        assert_eq!(c.r#type().as_str(), "HTTPS");
        // Mattermost's ping that writes to its database: DNS moves when a region's database is gone.
        assert_eq!(c.resource_path(), Some("/api/v4/system/ping?get_server_status=true"));
        assert_eq!(c.fully_qualified_domain_name(), w.lbs[region]["dns"].as_str());
    }

    // Clean, and each read costs what its kind documents.
    w.control("DELETE", "/_emulator/calls", None);
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    let calls = w.calls();
    let expected: BTreeMap<String, usize> = [
        ("DescribeSecret", 8),         // 4 secrets + 4 versions, 1 each
        ("GetHostedZone", 1),          // zone: 2
        ("GetHealthCheck", 2),         // health check: 2
        ("ListTagsForResource", 3),    // zone + 2 health checks
        ("ListResourceRecordSets", 2), // record: 1
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(count_ops(&calls), expected, "AWS calls of a refresh");
    // Route 53 is global: every call is signed for us-east-1.
    assert!(calls.iter().filter(|c| c["service"] == "route53").all(|c| c["region"] == EAST), "{calls:?}");

    // A new password plans as an update and applies as a new version.
    w.db_password = DB_PASSWORD_2.into();
    let plan = w.ok(2, &["plan", ".", "--detailed-exitcode", "--no-color"]);
    no_secret_in("the update plan", &plan.all());
    for region in ["primary", "secondary"] {
        assert!(
            plan.stdout.contains(&format!(
                "# aws_secretsmanager_secret_version.mattermost_db_password_{region}_value ({}) will be updated in-place",
                if region == "primary" { WEST } else { EAST }
            )),
            "{}",
            plan.stdout
        );
    }
    assert!(plan.stdout.contains("~ secret_string = (sensitive)"), "{}", plan.stdout);
    assert!(plan.stdout.contains("Plan: 0 to add, 2 to change, 0 to destroy."), "{}", plan.stdout);
    let before = w.secret(WEST, DB_SECRET).0;
    let apply = w.ok(0, &["apply", ".", "--auto-approve", "--no-color"]);
    no_secret_in("the update's output", &apply.all());
    let (after, value) = w.secret(WEST, DB_SECRET);
    assert_eq!(value, DB_PASSWORD_2);
    assert_eq!(after.len(), before.len() + 1, "a new version: {after:?}");
    assert!(after.values().any(|s| s == &vec!["AWSPREVIOUS".to_string()]), "{after:?}");
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);

    // Someone puts another value: the plan puts the configured one back.
    w.block(async {
        w.sm[EAST].put_secret_value().secret_id(DB_SECRET).secret_string("by-hand").send().await.unwrap();
    });
    let plan = w.ok(2, &["plan", ".", "--detailed-exitcode", "--no-color"]);
    assert!(
        plan.stdout.contains("mattermost_db_password_secondary_value (us-east-1) will be updated in-place"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("has changed")
            && plan.stdout.contains("~ version_stages")
            && plan.stdout.contains("+       \"AWSPREVIOUS\""),
        "{}",
        plan.stdout
    );
    w.ok(0, &["apply", ".", "--auto-approve"]);
    assert_eq!(w.secret(EAST, DB_SECRET).1, DB_PASSWORD_2);
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);

    // Nothing anywhere holds a value: state, backup, journal, server log.
    no_secret_in("the state", &w.state_text());
    no_secret_in("standby show", &w.ok(0, &["show", "--json", "--dir", "."]).all());

    // Destroy says plainly what happens to the secrets, then does it.
    let plan = w.ok(0, &["plan", ".", "--destroy", "--no-color"]);
    assert!(
        plan.stdout.contains("scheduled for deletion: recoverable for 7 days (`aws secretsmanager restore-secret`)"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("every record in the zone is deleted first (force_destroy)"), "{}", plan.stdout);
    w.ok(0, &["destroy", ".", "--auto-approve"]);
    for region in [WEST, EAST] {
        let d = w.block(async { w.sm[region].describe_secret().secret_id(DB_SECRET).send().await.unwrap() });
        assert!(d.deleted_date().is_some(), "{region}: not scheduled for deletion");
    }
    let zones = w.block(async { w.r53.list_hosted_zones_by_name().dns_name(ZONE).send().await.unwrap() });
    assert!(zones.hosted_zones().iter().all(|z| z.name() != format!("{ZONE}.")), "the zone is still there");
    let checks = w.block(async { w.r53.list_health_checks().send().await.unwrap() });
    assert!(checks.health_checks().is_empty(), "health checks left: {:?}", checks.health_checks());
    // Applying again is refused clearly while the names are in their recovery window.
    let run = w.ok(1, &["apply", ".", "--auto-approve"]);
    assert!(run.stderr.contains("scheduled for deletion") && run.stderr.contains("restore-secret"), "{}", run.stderr);
}

#[test]
fn zone_record_health_check_and_secret_import() {
    let w = World::new("import");
    w.ok(0, &["apply", ".", "--auto-approve"]);
    let list = w.ok(0, &["state", "list"]).stdout;
    let state: Value = serde_json::from_str(&w.ok(0, &["state", "pull"]).stdout).unwrap();
    let id_of = |addr: &str| {
        state["resources"].as_array().unwrap().iter().find(|r| r["address"] == addr).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let adopted = [
        "aws_route53_zone.zone",
        "aws_route53_record.mattermost_active",
        "aws_route53_health_check.mattermost_primary_ping",
        "aws_secretsmanager_secret.mattermost_db_password_secondary",
        "aws_secretsmanager_secret_version.mattermost_db_password_secondary_value",
    ];
    for addr in adopted {
        assert!(list.contains(addr), "{list}");
        let id = id_of(addr);
        w.ok(0, &["state", "rm", addr]);
        let run = w.ok(0, &["import", addr, &id, "."]);
        no_secret_in("import", &run.all());
    }
    let record = id_of("aws_route53_record.mattermost_active");
    assert!(record.ends_with(&format!("_{HOST}_A_active")), "{record}");
    // Adopted as they are: nothing to change but the value, whose hash is
    // not invented (a version imported without its value plans as an
    // update, with the engine's warning that it overwrites the value in use).
    let plan = w.ok(2, &["plan", ".", "--detailed-exitcode", "--no-color"]);
    assert!(
        plan.all().contains("`secret_string` is set in the configuration, but AWS never returns it"),
        "{}",
        plan.all()
    );
    assert!(plan.stdout.contains("Plan: 0 to add, 1 to change, 0 to destroy."), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("mattermost_db_password_secondary_value (us-east-1) will be updated in-place"),
        "{}",
        plan.stdout
    );
    w.ok(0, &["apply", ".", "--auto-approve"]);
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    // An id that names nothing is refused.
    w.ok(0, &["state", "rm", "aws_route53_record.mattermost_standby"]);
    let zone = w.zone_id();
    let run = w.ok(1, &["import", "aws_route53_record.mattermost_standby", &format!("{zone}_{HOST}_A_nowhere"), "."]);
    assert!(run.stderr.contains("nowhere"), "{}", run.stderr);
}

#[test]
fn bad_values_are_located_before_any_call() {
    let dir = scratch("dns-secrets-bad");
    std::fs::write(
        dir.join("main.yaml"),
        r#"regions: { primary: us-west-1, secondary: us-east-1 }
resources:
  www:
    type: aws_route53_record
    properties:
      zone_id: Z1
      name: chat.example.com
      type: A
      ttl: 60
      records: ["192.0.2.1"]
      alias: { name: lb.example.com, zone_id: Z2 }
  primary:
    type: aws_route53_record
    properties:
      zone_id: Z1
      name: api.example.com
      type: A
      alias: { name: lb.example.com, zone_id: Z2, evaluate_target_health: true }
      set_identifier: west
      failover_routing_policy: { type: PRIMARI }
  ping:
    type: aws_route53_health_check
    properties: { type: HTTPS, fqdn: lb.example.com, resource_path: api/v4/system/ping, request_interval: 20 }
  db:
    type: aws_secretsmanager_secret
    properties: { name: "mm db", recovery_window_in_days: 3 }
"#,
    )
    .unwrap();
    let run = common::standby(&dir, &["validate", "."]);
    assert_eq!(run.code, 1, "{}", run.all());
    for (at, what) in [
        ("main.yaml:10:7", "give either `alias` or `records`, not both"),
        ("main.yaml:20:7", "the failover type is PRIMARY or SECONDARY, got \"PRIMARI\""),
        ("main.yaml:23:54", "must start with `/`"),
        ("main.yaml:23:89", "must be 10 or 30 seconds, got 20"),
        ("main.yaml:26:19", "is not allowed in a secret name"),
        ("main.yaml:26:34", "must be 0 (delete without recovery) or 7 to 30 days, got 3"),
    ] {
        assert!(run.stderr.lines().any(|l| l.contains(at) && l.contains(what)), "{at} {what}:\n{}", run.stderr);
    }
}

/// The fault proxy (tests/emulator/standby_emulator/fault_proxy.py) in
/// front of the emulator, killed when dropped.
struct Proxy(std::process::Child, String);

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        let dir = scratch("dns-secrets-proxy");
        let port_file = dir.join("port");
        let child = std::process::Command::new(repo().join(".venv-emulator/bin/python"))
            .args(["-m", "standby_emulator.fault_proxy", "--upstream", upstream, "--rate", "0", "--seed", "3"])
            .arg("--port-file")
            .arg(&port_file)
            .env("PYTHONPATH", repo().join("tests/emulator"))
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("start the fault proxy");
        let started = std::time::Instant::now();
        while !port_file.exists() {
            assert!(started.elapsed().as_secs() < 30, "the fault proxy did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let url = format!("http://127.0.0.1:{}", std::fs::read_to_string(&port_file).unwrap().trim());
        Proxy(child, url)
    }

    /// The next request whose request line or body holds `text` takes effect and loses its answer.
    fn lose(&self, text: &str) {
        let q: String = text
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        let (status, body) = common::http(&self.1, "PUT", &format!("/_proxy/lose?match={q}&times=1"), None, "", None);
        assert_eq!(status, 200, "{body}");
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every create's first answer is lost: the SDK repeats it, and the repeat
/// finds what the first made (same token, same caller reference, "already
/// exists" followed by a look-up) — one apply, no duplicates, a clean plan.
#[test]
fn creates_whose_answer_was_lost_make_no_duplicates() {
    let w = World::new("lost");
    let proxy = Proxy::start(&w.emu.endpoint());
    for text in [
        "\"Name\":\"mattermost-dr/mattermost/db-password\"", // CreateSecret (both regions' first)
        "\"SecretString\"",                                  // PutSecretValue
        "POST /2013-04-01/hostedzone ",                      // CreateHostedZone
        "POST /2013-04-01/healthcheck ",                     // CreateHealthCheck
        "<Action>CREATE</Action>",                           // ChangeResourceRecordSets
    ] {
        proxy.lose(text);
    }
    let run: Run = w
        .cmd(&["apply", ".", "--auto-approve"])
        .env("AWS_ENDPOINT_URL", &proxy.1)
        .env("STANDBY_AWS_MAX_ATTEMPTS", "3")
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "{}", run.all());
    let stats: Value = serde_json::from_str(&common::http(&proxy.1, "GET", "/_proxy/stats", None, "", None).1).unwrap();
    assert_eq!(stats["faults"]["lost"], 5, "{stats}");
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    // One of each: one version per secret, one zone, two health checks.
    for region in [WEST, EAST] {
        for name in [DB_SECRET, SEARCH_SECRET] {
            assert_eq!(w.secret(region, name).0.len(), 1, "{name} in {region}");
        }
    }
    let zones = w.block(async { w.r53.list_hosted_zones_by_name().dns_name(ZONE).send().await.unwrap() });
    assert_eq!(zones.hosted_zones().iter().filter(|z| z.name() == format!("{ZONE}.")).count(), 1);
    let checks = w.block(async { w.r53.list_health_checks().send().await.unwrap() });
    assert_eq!(checks.health_checks().len(), 2, "{:?}", checks.health_checks());
    assert_eq!(w.records().len(), 2);
}

/// A secret deleted without recovery (window 0, as the demo and the tests
/// destroy) is deleted by AWS in the background: a create of its name in
/// that moment is refused as "scheduled for deletion". standby waits for
/// AWS to finish (here 1.5 s) instead of failing with restore advice; a
/// secret in a real recovery window is still refused, with that advice.
#[test]
fn a_secret_deleted_without_recovery_frees_its_name_for_the_next_apply() {
    let emu = Emulator::start();
    let (status, text) = common::http(
        &emu.endpoint(),
        "POST",
        "/_emulator/settings",
        None,
        "",
        Some(r#"{"secrets_force_delete_ms": 1500}"#),
    );
    assert!(status < 300, "{text}");
    let dir = scratch("dns-secrets-forced-deletion");
    let config = |window: u32| {
        format!(
            "regions: {{ primary: us-west-1, secondary: us-east-1 }}\nresources:\n  s:\n    type: aws_secretsmanager_secret\n    \
             properties: {{ name: mm/now, recovery_window_in_days: {window} }}\n"
        )
    };
    common::write_files(&dir, &[("main.yaml", &config(0))]);
    assert_eq!(emu.standby(&dir, &["apply", ".", "--auto-approve"]).code, 0);
    assert_eq!(emu.standby(&dir, &["destroy", ".", "--auto-approve"]).code, 0);
    let again = emu.standby(&dir, &["apply", ".", "--auto-approve"]);
    assert_eq!(again.code, 0, "{}", again.all());
    // A real recovery window keeps the name: refused, with the way out.
    common::write_files(&dir, &[("main.yaml", &config(7))]);
    assert_eq!(emu.standby(&dir, &["apply", ".", "--auto-approve"]).code, 0);
    assert_eq!(emu.standby(&dir, &["destroy", ".", "--auto-approve"]).code, 0);
    let refused = emu.standby(&dir, &["apply", ".", "--auto-approve"]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(refused.all().contains("restore-secret"), "{}", refused.all());
}
