//! The whole example (examples/mattermost-dr, every file of it, adopting
//! the stand-in production of scripts/demo-standin) under adversity: through
//! a fault-injecting proxy in front of the emulator (refused calls,
//! throttling, answers lost after the call took effect, slow answers, on AWS
//! APIs and OpenSearch domain REST alike), and killed -9 at random moments.
//! Either way the next apply converges, nothing is left that standby does
//! not know, and the plan after is clean.

mod common;

use common::proxy::Proxy;
use common::standin::{DOMAIN, Example, SEARCH_PASSWORD};
use common::{Emulator, Run, copy_dir, repo, scratch};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The adopted production domain's address in the example.
const LEADER: &str = "module.search.aws_opensearch_domain.leader";
/// What examples/mattermost-dr/imports.yaml adopts: destroy leaves it, in
/// AWS and on record.
const ADOPTED: [&str; 5] = [
    "module.database.aws_rds_cluster.primary",
    "module.database.aws_rds_cluster_instance.primary_instances[0]",
    "module.database.aws_rds_cluster_instance.primary_instances[1]",
    "module.files.aws_s3_bucket.primary",
    LEADER,
];

fn http(endpoint: &str, method: &str, path: &str, host: Option<&str>, body: Option<&str>) -> (u16, String) {
    common::http(endpoint, method, path, host, SEARCH_PASSWORD, body)
}

struct World {
    ex: Example,
    /// Where standby's AWS and REST calls go (the proxy, or the emulator).
    endpoint: String,
    attempts: &'static str,
}

impl World {
    /// The whole example and the stand-in production it adopts, standby's
    /// calls going to `endpoint` (a proxy in front of the emulator) or, with
    /// None, straight to the emulator.
    fn whole(ex: Example, endpoint: Option<&str>, attempts: &'static str) -> World {
        let endpoint = endpoint.map(str::to_string).unwrap_or_else(|| ex.emu.endpoint());
        World { ex, endpoint, attempts }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.ex.cmd(args);
        c.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("STANDBY_OPENSEARCH_ENDPOINT_URL", &self.endpoint)
            .env("STANDBY_AWS_MAX_ATTEMPTS", self.attempts)
            // A warm passive region: its nodes are made too.
            .env("STANDBY_VAR_app_nodes_passive", "1");
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

    /// After a destroy: only production is left on record; `state rm` lets
    /// go of it (it stays in AWS), so the next apply adopts it again.
    fn let_go_of_production(&self) {
        assert_eq!(self.ok(0, &["state", "list"]).stdout.lines().collect::<Vec<_>>(), ADOPTED);
        let mut args = vec!["state", "rm"];
        args.extend(ADOPTED);
        self.ok(0, &args);
    }

    fn control(&self, method: &str, path: &str) -> Value {
        let (status, text) = http(&self.ex.emu.endpoint(), method, path, None, None);
        assert!(status < 300, "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Kinds of which the emulator holds more than the state knows (the
    /// state as read, its journal replayed): domains, and outbound
    /// connections (their id AWS assigns). Production's own domain was
    /// there before standby: it is left out on both sides.
    fn orphans(&self) -> Vec<String> {
        let listed = self.ok(0, &["state", "list"]).stdout;
        let mut in_state: BTreeMap<&str, usize> = BTreeMap::new();
        for l in listed.lines() {
            let ty = l.rsplit('.').nth(1).unwrap_or_default();
            let ty = l.split('.').find(|p| p.starts_with("aws_") || p.starts_with("opensearch_")).unwrap_or(ty);
            *in_state.entry(ty).or_default() += 1;
        }
        let mut out = Vec::new();
        let domains = self.control("GET", "/_emulator/opensearch/domains");
        let made = domains.as_array().into_iter().flatten().filter(|d| d["domain"] != DOMAIN).count();
        let adopted = listed.lines().filter(|l| *l == LEADER).count();
        let known = in_state.get("aws_opensearch_domain").copied().unwrap_or(0) - adopted;
        if made > known {
            out.push(format!("{made} OpenSearch domains standby made, state knows {known}"));
        }
        let conns = self.outbound_connections();
        if conns > in_state.get("aws_opensearch_outbound_connection").copied().unwrap_or(0) {
            out.push(format!(
                "{conns} live outbound connections, state knows {:?}",
                in_state.get("aws_opensearch_outbound_connection")
            ));
        }
        // The app tier's and DNS's kinds whose id AWS assigns.
        for (kind, n) in self.app_tier_objects() {
            if n > in_state.get(kind).copied().unwrap_or(0) {
                out.push(format!("{n} {kind} in AWS, state knows {:?}", in_state.get(kind)));
            }
        }
        out
    }

    /// The example's app tier and DNS objects in AWS (through the SDK),
    /// by the kind that manages them: security groups and their rules,
    /// launch templates, target groups, load balancers, listeners, Route 53
    /// health checks and zones.
    fn app_tier_objects(&self) -> BTreeMap<&'static str, usize> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut n: BTreeMap<&'static str, usize> = BTreeMap::new();
            for region in ["us-west-1", "us-east-1"] {
                let config = common::sdk_config(&self.ex.emu.endpoint(), region).await;
                let ec2 = aws_sdk_ec2::Client::new(&config);
                let groups = ec2.describe_security_groups().send().await.unwrap();
                let ours: Vec<String> = groups
                    .security_groups()
                    .iter()
                    .filter(|g| g.group_name().is_some_and(|n| n.starts_with("mattermost-dr-")))
                    .filter_map(|g| g.group_id().map(str::to_string))
                    .collect();
                *n.entry("aws_security_group").or_default() += ours.len();
                if !ours.is_empty() {
                    let rules = ec2
                        .describe_security_group_rules()
                        .filters(aws_sdk_ec2::types::Filter::builder().name("group-id").set_values(Some(ours)).build())
                        .send()
                        .await
                        .unwrap();
                    for r in rules.security_group_rules() {
                        // AWS's own allow-all egress rule of a new group is
                        // not standby's (open_egress looks for those left).
                        let default = r.is_egress() == Some(true)
                            && r.ip_protocol() == Some("-1")
                            && (r.cidr_ipv4() == Some("0.0.0.0/0") || r.cidr_ipv6() == Some("::/0"))
                            && r.description().is_none_or(str::is_empty);
                        if default {
                            continue;
                        }
                        let kind = if r.is_egress() == Some(true) {
                            "aws_vpc_security_group_egress_rule"
                        } else {
                            "aws_vpc_security_group_ingress_rule"
                        };
                        *n.entry(kind).or_default() += 1;
                    }
                }
                let lts = ec2.describe_launch_templates().send().await.unwrap();
                *n.entry("aws_launch_template").or_default() += lts.launch_templates().len();
                let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
                let tgs = elb.describe_target_groups().send().await.unwrap();
                *n.entry("aws_lb_target_group").or_default() += tgs.target_groups().len();
                let lbs = elb.describe_load_balancers().send().await.unwrap();
                *n.entry("aws_lb").or_default() += lbs.load_balancers().len();
                for lb in lbs.load_balancers() {
                    let ls = elb.describe_listeners().set_load_balancer_arn(lb.load_balancer_arn().map(str::to_string));
                    *n.entry("aws_lb_listener").or_default() += ls.send().await.unwrap().listeners().len();
                }
            }
            let config = common::sdk_config(&self.ex.emu.endpoint(), "us-east-1").await;
            let r53 = aws_sdk_route53::Client::new(&config);
            *n.entry("aws_route53_health_check").or_default() +=
                r53.list_health_checks().send().await.unwrap().health_checks().len();
            *n.entry("aws_route53_zone").or_default() +=
                r53.list_hosted_zones().send().await.unwrap().hosted_zones().len();
            n
        })
    }

    /// Security groups standby made that still hold AWS's allow-all egress
    /// rule without a rule of the configuration asking for it (the LB
    /// groups declare none): what a create stopped between its calls leaves.
    fn open_egress(&self) -> Vec<String> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut out = Vec::new();
            for region in ["us-west-1", "us-east-1"] {
                let config = common::sdk_config(&self.ex.emu.endpoint(), region).await;
                let ec2 = aws_sdk_ec2::Client::new(&config);
                let groups = ec2.describe_security_groups().send().await.unwrap();
                for g in groups.security_groups() {
                    let name = g.group_name().unwrap_or_default();
                    let open = g.ip_permissions_egress().iter().any(|p| {
                        p.ip_protocol() == Some("-1") && p.ip_ranges().iter().any(|r| r.cidr_ip() == Some("0.0.0.0/0"))
                    });
                    if name.starts_with("mattermost-dr-lb-") && open {
                        out.push(format!("{name} ({region}) allows all egress"));
                    }
                }
            }
            out
        })
    }

    /// Outbound connections not deleted, over both regions (through the SDK's wire format).
    fn outbound_connections(&self) -> usize {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut n = 0;
            for region in ["us-west-1", "us-east-1"] {
                let config = common::sdk_config(&self.ex.emu.endpoint(), region).await;
                let os = aws_sdk_opensearch::Client::new(&config);
                let out = os.describe_outbound_connections().send().await.unwrap();
                n += out
                    .connections()
                    .iter()
                    .filter(|c| {
                        !matches!(
                            c.connection_status().and_then(|s| s.status_code()).map(|s| s.as_str()),
                            Some("DELETED" | "DELETING" | "REJECTED")
                        )
                    })
                    .count();
            }
            n
        })
    }
}

/// An apply of the whole example (every file, production adopted) through
/// the fault proxy converges in one run: 15 % of the calls (AWS APIs and
/// domain REST alike) refused with a 503 before they reach the emulator, 5 %
/// forwarded, taking effect, and their answers lost, a few throttled or
/// slow. Nothing is orphaned, no security group keeps AWS's default egress,
/// the plan after is clean, and a destroy through the same faults removes
/// everything standby made and leaves production as it was.
#[test]
fn the_example_converges_through_a_faulty_network() {
    let ex = Example::whole_with_standin();
    let production = ex.fingerprint();
    // Another seed puts the faults on other calls (STANDBY_TEST_FAULT_SEED=N to explore).
    let seed = std::env::var("STANDBY_TEST_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(7);
    let proxy = Proxy::start(&ex.emu.endpoint(), seed);
    let w = World::whole(ex, Some(&proxy.url), "8");
    proxy.set_rates(&[("refused", 0.15), ("lost", 0.05), ("throttled", 0.02), ("slow", 0.02)]);
    let started = Instant::now();
    let run = w.run(&["apply", ".", "--auto-approve"]);
    let stats = proxy.stats();
    proxy.set_rate(0.0);
    assert_eq!(run.code, 0, "the apply did not converge in one run:\n{}\nfaults: {stats}", run.all());
    assert!(run.stdout.contains("Apply complete!"), "{}", run.stdout);
    let resources = w.ok(0, &["state", "list"]).stdout.lines().count();
    eprintln!(
        "faults injected during the apply of {resources} resources ({:.1}s): {stats}",
        started.elapsed().as_secs_f64()
    );
    for kind in ["refused", "throttled", "lost", "slow"] {
        assert!(stats["faults"][kind].as_u64().unwrap() > 0, "no {kind} fault was injected: {stats}");
    }
    let plan = w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    assert_eq!(w.orphans(), Vec::<String>::new());
    assert_eq!(w.open_egress(), Vec::<String>::new());
    // The destroy, through the same faults, removes everything.
    proxy.set_rates(&[("refused", 0.15), ("lost", 0.05), ("throttled", 0.02), ("slow", 0.02)]);
    let run = w.run(&["destroy", ".", "--auto-approve"]);
    if run.code != 0 {
        // The RDS writes the emulator saw, to tell a lost answer from an ordering fault.
        let calls = w.control("GET", "/_emulator/calls");
        let rds: Vec<String> = calls
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["service"] == "rds" && !c["operation"].as_str().unwrap_or("").starts_with("Describe"))
            .map(|c| c.to_string())
            .collect();
        panic!("destroy failed:\n{}\nRDS calls:\n{}\nfaults: {}", run.all(), rds.join("\n"), proxy.stats());
    }
    eprintln!("faults injected, apply and destroy together: {}", proxy.stats());
    w.let_go_of_production();
    assert_eq!(w.ok(0, &["state", "list"]).stdout.trim(), "");
    assert_eq!(w.outbound_connections(), 0, "destroy leaves no connection behind");
    assert_eq!(w.ex.fingerprint(), production, "production is the same objects with the same data");
}

/// kill -9 at moments spread over the whole example's apply (every file,
/// production adopted), each run from production alone: the next apply always
/// converges, with nothing "already exists", nothing standby does not know,
/// no group left with AWS's default egress, and a clean plan. At least 20 of
/// the 24 kills land mid-apply (STANDBY_TEST_KILLS=N for more or fewer): a
/// kill that comes after the apply finished (the machine was less loaded
/// than when it was measured) killed nothing, so it is replaced by one
/// spread over the duration that apply just took.
#[test]
fn kill_9_at_random_moments_leaves_nothing_behind() {
    let w = World::whole(Example::whole_with_standin(), None, "2");
    let production = w.ex.fingerprint();
    // How long an apply takes here, to spread the kills over it: the second
    // one (the first also warms the emulator up, and is slower).
    let mut took = 0;
    let mut resources = 0;
    for _ in 0..2 {
        let started = Instant::now();
        w.ok(0, &["apply", ".", "--auto-approve"]);
        took = started.elapsed().as_millis() as u64;
        resources = w.ok(0, &["state", "list"]).stdout.lines().count();
        w.ok(0, &["destroy", ".", "--auto-approve"]);
        w.let_go_of_production();
    }
    let measured = took;
    let points: u64 = std::env::var("STANDBY_TEST_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(24);
    // One kill per slice of the apply, at a deterministic "random" moment
    // inside it (a fixed LCG), so a failure can be replayed.
    let mut seed: u64 = 0x5eed_1234;
    let mut kills = Vec::new();
    let mut replaced = Vec::new();
    for i in 0..points {
        // A kill that missed is tried again (at most 3 times) over the
        // duration of the apply it missed.
        for _ in 0..4 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let slice = (took / points).max(50);
            let delay = Duration::from_millis(30 + i * slice + (seed >> 33) % slice);
            let mut child =
                w.cmd(&["apply", ".", "--auto-approve"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            let started = Instant::now();
            let mut finished = None;
            while started.elapsed() < delay {
                if child.try_wait().unwrap().is_some() {
                    finished = Some(started.elapsed());
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = child.kill();
            let _ = child.wait();
            if let Some(ran) = finished {
                // The apply ended before the kill: nothing was killed.
                replaced.push((delay, ran));
                took = took.min(ran.as_millis() as u64);
                w.ok(0, &["destroy", ".", "--auto-approve"]);
                w.let_go_of_production();
                continue;
            }
            kills.push(delay);
            // Nothing in AWS that the state (with the journal) does not know.
            assert_eq!(w.orphans(), Vec::<String>::new(), "after a kill at {delay:?}");
            let run = w.run(&["apply", ".", "--auto-approve"]);
            assert_eq!(run.code, 0, "the apply after a kill at {delay:?} failed:\n{}", run.all());
            assert!(!run.all().contains("already exists"), "after a kill at {delay:?}: {}", run.all());
            let plan = w.ok(0, &["plan", ".", "--detailed-exitcode"]);
            assert!(plan.stdout.contains("No changes."), "after a kill at {delay:?}: {}", plan.stdout);
            assert_eq!(w.orphans(), Vec::<String>::new(), "after a kill at {delay:?}");
            assert_eq!(w.open_egress(), Vec::<String>::new(), "after a kill at {delay:?}");
            w.ok(0, &["destroy", ".", "--auto-approve"]);
            w.let_go_of_production();
            assert_eq!(w.outbound_connections(), 0, "destroy leaves no connection behind");
            break;
        }
    }
    eprintln!(
        "apply of {resources} resources took {measured} ms (shortest seen {took} ms); kills mid-apply: {kills:?}; \
         replaced, the apply had finished (delay, apply took): {replaced:?}"
    );
    assert_eq!(w.ex.fingerprint(), production, "production is the same objects with the same data");
    assert!(
        kills.len() as u64 >= points * 5 / 6,
        "most kills must land mid-apply (20 of the default 24); mid-apply: {kills:?}, after it: {replaced:?}"
    );
}

/// A security group's create is three calls (CreateSecurityGroup, the
/// revoke of AWS's default egress rule, DeleteTags of the marker): stopped
/// after the first (here every revoke refused, as a kill would stop it), the
/// group is left with AWS's allow-all egress. The next apply finds the group
/// by its name, reads the marker, and finishes the create: no group keeps
/// the default rule, `app_out` is no duplicate, the plan after is clean.
#[test]
fn a_security_group_create_stopped_before_its_revoke_is_finished_next_run() {
    let ex = Example::whole_with_standin();
    let proxy = Proxy::start(&ex.emu.endpoint(), 13);
    let w = World::whole(ex, Some(&proxy.url), "1");
    proxy.refuse_all(&["Action=RevokeSecurityGroupEgress"], 1000);
    let failed = w.ok(1, &["apply", ".", "--auto-approve"]);
    assert!(failed.stderr.contains("RevokeSecurityGroupEgress"), "{}", failed.all());
    assert!(!w.open_egress().is_empty(), "the stopped creates left the default egress rule");
    http(&proxy.url, "PUT", "/_proxy/clear", None, None);
    let run = w.run(&["apply", ".", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("found by its natural key"), "{}", run.all());
    assert!(!run.all().contains("InvalidPermission.Duplicate"), "{}", run.all());
    assert_eq!(w.open_egress(), Vec::<String>::new());
    let plan = w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    assert_eq!(w.orphans(), Vec::<String>::new());
}

/// Creates whose id AWS assigns, their answer lost (and not retried): the
/// intent holds no id, only the natural key. The next apply finds and adopts
/// what was made instead of failing with "already exists" (an outbound
/// connection: alias and both domains; an IAM policy: path and name).
#[test]
fn creates_whose_answer_was_lost_are_found_by_their_natural_key() {
    let ex = Example::whole_with_standin();
    let proxy = Proxy::start(&ex.emu.endpoint(), 11);
    let w = World::whole(ex, Some(&proxy.url), "1");
    proxy.lose("POST /2021-01-01/opensearch/cc/outboundConnection ");
    let failed = w.ok(1, &["apply", ".", "--auto-approve"]);
    assert!(failed.stderr.contains("aws_opensearch_outbound_connection"), "{}", failed.all());
    assert_eq!(w.outbound_connections(), 1, "the lost create made the connection");
    let run = w.ok(0, &["apply", ".", "--auto-approve"]);
    assert!(run.all().contains("found by its natural key"), "{}", run.all());
    assert!(!run.all().contains("already exists"), "{}", run.all());
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    assert_eq!(w.orphans(), Vec::<String>::new());

    // An IAM policy (its ARN holds the account id, which standby does not know before).
    let root = scratch("faults-policy");
    let rel = Path::new("tests/fixtures/storage/all-kinds");
    copy_dir(&repo().join(rel), &root.join(rel));
    copy_dir(&repo().join("modules/s3-bidirectional-replication"), &root.join("modules/s3-bidirectional-replication"));
    let w = World { ex: Example { emu: w.ex.emu, dir: root.join(rel) }, ..w };
    proxy.lose("Action=CreatePolicy");
    w.ok(1, &["apply", ".", "--auto-approve"]);
    let run = w.ok(0, &["apply", ".", "--auto-approve"]);
    assert!(run.all().contains("found by its natural key"), "{}", run.all());
    assert!(!run.all().contains("already exists"), "{}", run.all());
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    let shown = w.ok(0, &["state", "show", "aws_iam_policy.read_files"]).stdout;
    assert!(shown.contains("arn:aws:iam::123456789012:policy/mm-count-read-files"), "{shown}");
}

/// The S3 state backend through lost answers: the SDK repeats the lock's
/// `If-None-Match: *` write and the state's `If-Match` write after their
/// first tries took effect; standby reads before calling either refused and
/// finds its own object (no "locked by" itself, no false conflict).
#[test]
fn remote_state_writes_whose_answers_were_lost_are_not_conflicts() {
    let emu = Emulator::start();
    let proxy = Proxy::start(&emu.endpoint(), 3);
    let (status, body) = http(
        &emu.endpoint(),
        "PUT",
        "/lost-answers-state",
        None,
        Some(
            "<CreateBucketConfiguration><LocationConstraint>us-east-2</LocationConstraint></CreateBucketConfiguration>",
        ),
    );
    assert!(status < 300 || body.contains("BucketAlreadyOwnedByYou"), "{status} {body}");
    let dir = scratch("faults-remote");
    common::write_files(
        &dir,
        &[
            (
                "main.yaml",
                "regions: { primary: us-west-1, secondary: us-east-1 }\nresources:\n  a:\n    type: standby_data\n    count: 3\n    properties: { input: x }\n",
            ),
            ("backend.yaml", "backend:\n  s3: { bucket: lost-answers-state, key: dr.json, region: us-east-2 }\n"),
        ],
    );
    let w = World::whole(Example { emu, dir }, Some(&proxy.url), "3");
    w.ok(0, &["apply", ".", "--auto-approve"]);
    proxy.lose("PUT /lost-answers-state/_standby/locks/dr.json ");
    proxy.lose("PUT /lost-answers-state/dr.json ");
    let second = w.run(&["state", "rm", "standby_data.a[0]"]);
    assert_eq!(second.code, 0, "{}", second.all());
    assert_eq!(proxy.stats()["faults"]["lost"], 2, "both answers were lost");
    assert_eq!(w.ok(0, &["state", "list"]).stdout.lines().count(), 2);
    let again = w.ok(0, &["apply", ".", "--auto-approve"]);
    assert!(again.stdout.contains("1 added"), "{}", again.stdout);

    // A conditional write that lost to a concurrent one (409
    // ConditionalRequestConflict, which S3 asks to retry): the lock is taken
    // on the next try, the state written after reading what is there.
    proxy.fail("PUT /lost-answers-state/_standby/locks/dr.json ", 1, 409);
    proxy.fail("PUT /lost-answers-state/dr.json ", 1, 409);
    let conflicted = w.run(&["state", "rm", "standby_data.a[1]"]);
    assert_eq!(conflicted.code, 0, "{}", conflicted.all());
    assert_eq!(proxy.stats()["faults"]["failed"], 2, "both writes met a 409");
    assert_eq!(w.ok(0, &["state", "list"]).stdout.lines().count(), 2);
}

/// The global database's members, through lost answers: the secondary's
/// CreateDBCluster and both RemoveFromGlobalCluster calls of the destroy
/// (the secondary leaving, then the writer) take effect and their answers are
/// lost, so the SDK repeats each. AWS refuses the repeats (the cluster exists,
/// is no longer a member): standby looks at what AWS has and goes on. The
/// apply converges, and the destroy removes everything, the global cluster
/// last (it failed now and then through the proxy before: see the issue 12 note).
#[test]
fn global_database_calls_whose_answers_were_lost() {
    let ex = Example::whole_with_standin();
    let proxy = Proxy::start(&ex.emu.endpoint(), 5);
    let w = World::whole(ex, Some(&proxy.url), "3");
    proxy.lose_all(&["Action=CreateDBCluster", "GlobalClusterIdentifier="], 1);
    let run = w.ok(0, &["apply", ".", "--auto-approve"]);
    assert!(run.stdout.contains("Apply complete!"), "{}", run.all());
    assert_eq!(proxy.stats()["faults"]["lost"], 1, "the secondary's create lost its answer");
    let plan = w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    let members = w.control("GET", "/_emulator/calls");
    let creates = members
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["operation"] == "CreateDBCluster" && c["region"] == "us-east-1")
        .count();
    assert_eq!(creates, 2, "the SDK repeated the secondary's create");
    proxy.lose_all(&["Action=RemoveFromGlobalCluster"], 2);
    let run = w.run(&["destroy", ".", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(proxy.stats()["faults"]["lost"], 3, "both removals lost their answers");
    w.let_go_of_production();
}

/// A domain read that answers 500 (an internal error) is asked again, as
/// the AWS SDK asks again after a 500: the replications' `_status` failing
/// twice does not fail the apply.
#[test]
fn a_domain_read_answering_500_is_asked_again() {
    let ex = Example::whole_with_standin();
    let proxy = Proxy::start(&ex.emu.endpoint(), 5);
    let w = World::whole(ex, Some(&proxy.url), "4");
    proxy.fail("/_status", 2, 500);
    w.ok(0, &["apply", ".", "--auto-approve"]);
    assert_eq!(proxy.stats()["faults"]["failed"], 2, "the faults were met");
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
}
