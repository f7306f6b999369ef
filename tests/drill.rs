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

/// The channel the drill posts into, and the token it posts with.
const CHANNEL: &str = "4xp9fdt7pbgium38k2xgaadaaa";
const TOKEN: &str = "drill-token-9f8e7d6c5b4a";
/// Mattermost's hostname in the example (`mattermost_hostname`).
const SITE_HOST: &str = "chat.example.com";

/// Mattermost behind the drill's load balancer, at the HTTP seam: the
/// regular emulator boots nothing (the game-day world does, tests/gameday.rs),
/// so the drill's calls reach this through `HTTP_PROXY`, in absolute form,
/// as they would reach a forward proxy. It answers as Mattermost's API does
/// (ping; a channel's posts in Mattermost's shape; a post, 201; 401
/// `api.context.session_expired.app_error` without the token) and keeps
/// every request line with its `Host:`.
struct Mattermost {
    port: u16,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Mattermost {
    fn start() -> Mattermost {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            // The channel's posts: (id, create_at, message); one from before the drill.
            let mut posts: Vec<(String, i64, String)> = vec![("p0".into(), 1_700_000_000_000, "hello".into())];
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                if r.read_line(&mut line).is_err() {
                    continue;
                }
                let (mut host, mut auth, mut len) = (String::new(), String::new(), 0usize);
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    let (k, v) = h.split_once(':').unwrap_or((&h, ""));
                    match k.to_ascii_lowercase().as_str() {
                        "host" => host = v.trim().to_string(),
                        "authorization" => auth = v.trim().to_string(),
                        "content-length" => len = v.trim().parse().unwrap_or(0),
                        _ => {}
                    }
                }
                let mut body = vec![0u8; len];
                let _ = r.read_exact(&mut body);
                let mut parts = line.split_whitespace();
                let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
                log.lock()
                    .unwrap()
                    .push(format!("{method} {target} Host={host} auth={}", auth == format!("Bearer {TOKEN}")));
                let path = target.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap_or(target.clone());
                let (status, answer) = if path == "/api/v4/system/ping" {
                    (200, serde_json::json!({"status": "OK"}))
                } else if auth != format!("Bearer {TOKEN}") {
                    (401, serde_json::json!({"id": "api.context.session_expired.app_error", "status_code": 401}))
                } else if method == "GET" && path.starts_with(&format!("/api/v4/channels/{CHANNEL}/posts")) {
                    let n: usize = path.rsplit("per_page=").next().and_then(|n| n.parse().ok()).unwrap_or(60);
                    let mut newest = posts.clone();
                    // Production (the site's own hostname) has a post 2.5 s newer than the copy's newest.
                    if target.starts_with(&format!("http://{SITE_HOST}")) {
                        let at = posts.iter().map(|p| p.1).max().unwrap_or(0) + 2500;
                        newest.push(("pprod".into(), at, "after the copy".into()));
                    }
                    newest.sort_by_key(|p| -p.1);
                    newest.truncate(n);
                    let order: Vec<&str> = newest.iter().map(|p| p.0.as_str()).collect();
                    let map: serde_json::Map<String, Value> = newest
                        .iter()
                        .map(|p| {
                            (
                                p.0.clone(),
                                serde_json::json!({"id": p.0, "create_at": p.1, "message": p.2, "channel_id": CHANNEL}),
                            )
                        })
                        .collect();
                    (200, serde_json::json!({"order": order, "posts": map}))
                } else if method == "POST" && path == "/api/v4/posts" {
                    let b: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let id = format!("p{}", posts.len());
                    let at = posts.iter().map(|p| p.1).max().unwrap_or(0) + 1000;
                    posts.push((id.clone(), at, b["message"].as_str().unwrap_or_default().to_string()));
                    (
                        201,
                        serde_json::json!({"id": id, "create_at": at, "channel_id": b["channel_id"], "message": b["message"]}),
                    )
                } else {
                    (404, serde_json::json!({"id": "api.context.404.app_error"}))
                };
                let text = answer.to_string();
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        Mattermost { port, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

struct World {
    ex: Example,
    rt: tokio::runtime::Runtime,
    rds: Rds,
    mm: Mattermost,
}

impl World {
    /// The whole example applied over the stand-in production it adopts.
    fn applied() -> World {
        let ex = Example::whole_with_standin();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let rds = rt.block_on(async { Rds::new(&common::sdk_config(&ex.emu.endpoint(), EAST).await) });
        let w = World { ex, rt, rds, mm: Mattermost::start() };
        w.ok(0, &["apply", ".", "--auto-approve"]);
        w.control("DELETE", "/_emulator/calls");
        w
    }

    /// standby with Mattermost's API reached through `HTTP_PROXY` (the
    /// emulator's own endpoint, on loopback, directly), the drill's token,
    /// and a short wait for serving.
    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.ex.cmd(args);
        c.env("HTTP_PROXY", format!("http://127.0.0.1:{}", self.mm.port))
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("STANDBY_DRILL_TOKEN", TOKEN)
            .env("STANDBY_APP_SERVING_SECS", "60");
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

    /// How many resources the drill's record holds (its app tier).
    fn recorded(&self) -> usize {
        let rec = self.record();
        rec["resources"].as_object().map(|m| m.len()).or_else(|| rec["resources"].as_array().map(Vec::len)).unwrap_or(0)
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

    /// The drill's app tier left in the standby region and IAM, by name:
    /// security groups, launch templates, load balancers, target groups,
    /// Auto Scaling groups, roles and instance profiles named `prefix…`,
    /// and running instances tagged standby-drill.
    fn left_app(&self, prefix: &str) -> Vec<String> {
        let v = py(
            &self.ex.emu,
            &format!(
                r#"
r = '{EAST}'
ec2, elb, asg, iam = aws('ec2', r), aws('elbv2', r), aws('autoscaling', r), aws('iam', r)
out = ['sg ' + g['GroupName'] for g in ec2.describe_security_groups()['SecurityGroups']]
out += ['lt ' + t['LaunchTemplateName'] for t in ec2.describe_launch_templates()['LaunchTemplates']]
out += ['lb ' + b['LoadBalancerName'] for b in elb.describe_load_balancers()['LoadBalancers']]
out += ['tg ' + t['TargetGroupName'] for t in elb.describe_target_groups()['TargetGroups']]
out += ['asg ' + g['AutoScalingGroupName'] for g in asg.describe_auto_scaling_groups()['AutoScalingGroups']]
out += ['role ' + x['RoleName'] for x in iam.list_roles()['Roles']]
out += ['profile ' + x['InstanceProfileName'] for x in iam.list_instance_profiles()['InstanceProfiles']]
for res in ec2.describe_instances(Filters=[{{'Name': 'tag-key', 'Values': ['standby-drill']}}])['Reservations']:
    out += ['instance ' + i['InstanceId'] for i in res['Instances'] if i['State']['Name'] not in ('terminated', 'shutting-down')]
print(json.dumps(sorted(x for x in out if x.split(' ', 1)[1].startswith('{prefix}') or x.startswith('instance '))))
"#
            ),
        );
        v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
    }

    /// The ids EC2 has given before (groups, their rules, launch templates):
    /// an id a drill's call names that is not among them is one it made.
    fn ec2_ids(&self) -> BTreeSet<String> {
        let v = py(
            &self.ex.emu,
            &format!(
                r#"
ec2 = aws('ec2', '{EAST}')
ids = [g['GroupId'] for g in ec2.describe_security_groups()['SecurityGroups']]
ids += [x['SecurityGroupRuleId'] for x in ec2.describe_security_group_rules()['SecurityGroupRules']]
ids += [t['LaunchTemplateId'] for t in ec2.describe_launch_templates()['LaunchTemplates']]
print(json.dumps(ids))
"#
            ),
        );
        v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
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
    // RTO's seconds (a decimal) and the load balancer's DNS name vary.
    for marker in ["RTO: ", "| RTO | ", "the app tier's start to it: "] {
        if let Some(k) = text.find(marker).map(|k| k + marker.len()) {
            let n = text[k..].bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
            text.replace_range(k..k + n, "N.N");
        }
    }
    let mut from = 0;
    while let Some(k) = text[from..].find("mattermost-dr-drill-XXXXXX-").map(|k| k + from + 27) {
        let n = text[k..].bytes().take_while(|b| b.is_ascii_alphanumeric()).count();
        if text[k + n..].starts_with(".us-east-1.e") {
            text.replace_range(k..k + n, "DNS");
        }
        from = k;
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
/// group the copy goes in; the VPC, subnets and AMI the app tier is placed
/// in and booted from), an EC2 id only if EC2 gave it during the drill (not
/// in `before`: the drill's creates name only its own names), nothing at all
/// is asked of the active region, and every call is in standby's table of
/// calls with the actions the drill's policy grants.
fn assert_only_drill_changes(w: &World, own: &str, before: &BTreeSet<String>) {
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
        "VpcId",
        "VPCZoneIdentifier",
        "LaunchTemplateData.ImageId",
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
        let named = |v: &str| {
            v == own
                || v.starts_with(&format!("{own}-"))
                // An ARN naming it (load balancers, target groups, listeners).
                || v.contains(&format!("/{own}/"))
                || connections.iter().any(|c| c == v)
        };
        let new_id = |v: &str| ["sg-", "sgr-", "lt-"].iter().any(|p| v.starts_with(p)) && !before.contains(v);
        // An inline policy is named within its role.
        let in_own_role = targets.get("RoleName").and_then(Value::as_str).is_some_and(named);
        for (k, v) in &targets {
            let v = v.as_str().unwrap_or_default();
            let ours = named(v) || new_id(v) || (k == "PolicyName" && in_own_role);
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

    // A post needs the token, asked for before anything runs.
    let no_token: Run = w
        .cmd(&["drill", ".", "--auto-approve", "--channel", CHANNEL])
        .env_remove("STANDBY_DRILL_TOKEN")
        .output()
        .unwrap()
        .into();
    assert_eq!(no_token.code, 1, "{}", no_token.all());
    assert!(no_token.stderr.contains("--channel needs STANDBY_DRILL_TOKEN"), "{}", no_token.stderr);
    assert_eq!(w.drill_id(), "", "nothing ran");

    // The drill.
    let ids_before = w.ec2_ids();
    w.control("DELETE", "/_emulator/calls");
    let started = std::time::Instant::now();
    let run = w.ok(0, &["drill", ".", "--auto-approve", "--channel", CHANNEL]);
    let took = started.elapsed();
    let id = w.drill_id();
    let own = format!("{DRILLS}{id}");
    assert!(run.stdout.contains(&format!("Drill {id}")), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("an Aurora clone of {STANDBY_CLUSTER} (copy-on-write)")), "{}", run.stdout);
    assert!(run.stdout.contains("Drill finished"), "{}", run.stdout);
    assert_eq!(w.step_status("drill.db-copy").as_deref(), Some("done"));
    assert_eq!(w.step_status("drill.cleanup").as_deref(), Some("done"));
    assert_only_drill_changes(&w, &own, &ids_before);
    let calls = w.control("GET", "/_emulator/calls");
    let ops: Vec<String> = w.changes().into_iter().map(|(_, op, _)| op).collect();
    let data = [
        "RestoreDBClusterToPointInTime",
        "CreateDBInstance",
        "CreateDomain",
        "CreateOutboundConnection",
        "AcceptInboundConnection",
        "ModifyDBCluster",
        "DeleteOutboundConnection",
        "DeleteDomain",
        "DeleteDBInstance",
        "DeleteDBCluster",
    ];
    assert_eq!(ops.iter().filter(|o| data.contains(&o.as_str())).collect::<Vec<_>>(), data);
    // The app tier made, then removed before the copies; its database group last.
    let at = |op: &str| ops.iter().position(|o| o == op).unwrap_or_else(|| panic!("no {op}: {ops:?}"));
    assert!(at("CreateLoadBalancer") < at("ModifyDBCluster") && at("CreateAutoScalingGroup") < at("ModifyDBCluster"));
    for gone in
        ["DeleteAutoScalingGroup", "DeleteLoadBalancer", "DeleteTargetGroup", "DeleteLaunchTemplate", "DeleteRole"]
    {
        assert!(at(gone) < at("DeleteDomain"), "{gone} after the copies: {ops:?}");
    }
    assert_eq!(ops.last().map(String::as_str), Some("DeleteSecurityGroup"), "the database group goes last: {ops:?}");
    // Mattermost was reached through the proxy, on the drill's load balancer, as the site.
    let seen = w.mm.seen();
    assert!(
        seen.iter().any(|s| s.starts_with("GET http://mattermost-dr-drill-")
            && s.contains(&format!("/api/v4/system/ping Host={SITE_HOST}"))),
        "{seen:?}"
    );
    let posted: Vec<&String> = seen.iter().filter(|s| s.starts_with("POST")).collect();
    assert_eq!(posted.len(), 1, "one post, never repeated: {seen:?}");
    assert!(posted[0].contains(&format!("/api/v4/posts Host={SITE_HOST} auth=true")), "{seen:?}");
    assert!(
        !run.all().contains(TOKEN)
            && !std::fs::read_to_string(w.ex.dir.join("state/standby.drill.json")).unwrap().contains(TOKEN),
        "the token leaked"
    );
    // Mattermost's search user was made on the copy with the configuration's password, never shown or kept.
    assert!(run.stdout.contains("Mattermost's search user on mattermost-dr-drill-"), "{}", run.stdout);
    assert!(
        !run.all().contains("Mm-User-3%vx")
            && !std::fs::read_to_string(w.ex.dir.join("state/standby.drill.json")).unwrap().contains("Mm-User-3%vx"),
        "Mattermost's search password leaked"
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
    assert_eq!(w.left_app(DRILLS), Vec::<String>::new(), "the drill left its app tier behind");
    assert_eq!(w.holdings(), before, "what the emulator holds changed");
    assert_eq!(
        std::fs::read(w.ex.dir.join("state/standby.json")).unwrap(),
        production,
        "production's state was written"
    );
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    insta::assert_snapshot!("drill_report_human", scrub(&run.stdout[run.stdout.rfind("\nDrill ").unwrap()..]));
    assert!(
        run.stdout.contains("(drill start to the first post on the copy; the app tier's start to it: "),
        "{}",
        run.stdout
    );
    // Production (read through the proxy on its hostname, the listener's port) has a post the copy lacks.
    assert!(
        run.stdout.contains(
            "RPO: 2.5s: production's newest post as of the copy's moment (the clone call's return), pprod, is \
             missing from the copy, whose newest (p0)"
        ),
        "{}",
        run.stdout
    );
    // Production is read once the copy serves (after its ping), for its newest post as of the copy's moment.
    let read = format!(
        "GET http://{SITE_HOST}:80/api/v4/channels/{CHANNEL}/posts?page=0&per_page=200 Host={SITE_HOST} auth=true"
    );
    let at = |l: &str| seen.iter().position(|s| s == l);
    assert!(at(&read) > seen.iter().position(|s| s.contains("/system/ping")), "{seen:?}");

    // The report in the other formats: standard output holds only it.
    let json = w.ok(0, &["drill", ".", "--auto-approve", "--format", "json"]);
    assert_valid("drill-report", &json.stdout);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!((report["passed"].as_bool(), report["outcome"].as_str()), (Some(true), Some("passed")));
    let ids: Vec<&str> = report["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "drill.db-copy",
            "drill.search-copy",
            "drill.search-writable",
            "drill.app",
            "drill.serving",
            "drill.post",
            "drill.cleanup"
        ]
    );
    assert!(json.stderr.contains("[1/7]"), "progress goes to standard error: {}", json.stderr);
    // Without --channel: no post, RTO to serving, RPO not measured (said why).
    assert_eq!(report["post"]["outcome"], "skipped", "{report}");
    assert_eq!(report["rto_to"], "serving", "{report}");
    assert!(report["rto_seconds"].as_f64().is_some_and(|s| s >= 0.0), "{report}");
    assert_eq!(report["rpo_seconds"], Value::Null, "{report}");
    assert!(report["rpo_detail"].as_str().unwrap().starts_with("not measured: no --channel"), "{report}");
    assert!(report["app"]["load_balancer"].as_str().unwrap().starts_with("mattermost-dr-drill-"), "{report}");
    let md = w.ok(0, &["drill", ".", "--auto-approve", "--format", "markdown"]);
    insta::assert_snapshot!("drill_report_markdown", scrub(&md.stdout));
    assert_eq!(w.left(DRILLS), Vec::<String>::new());

    // A token the copy refuses: the post fails (Mattermost's 401, said), the drill fails and cleans up.
    let refused = w
        .cmd(&["drill", ".", "--auto-approve", "--channel", CHANNEL])
        .env("STANDBY_DRILL_TOKEN", "not-valid")
        .output()
        .unwrap();
    let refused: Run = refused.into();
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(refused.all().contains("HTTP 401 api.context.session_expired.app_error"), "{}", refused.all());
    assert!(refused.stdout.contains("post: failed: step `drill.post` failed"), "{}", refused.stdout);
    assert!(!refused.all().contains("not-valid"), "the token was printed");
    assert_eq!(w.left(DRILLS), Vec::<String>::new());
    assert_eq!(w.left_app(DRILLS), Vec::<String>::new(), "a failed drill left its app tier behind");

    // Kept: the copies stay, tagged, until their cleanup; no second drill meanwhile.
    let run = w.ok(0, &["drill", ".", "--keep", "--auto-approve"]);
    let id = w.drill_id();
    let own = format!("{DRILLS}{id}");
    assert!(run.stdout.contains(&format!("standby drill --cleanup {id}")), "{}", run.stdout);
    assert_eq!(w.left(&own), vec![own.clone(), format!("{own}-1")]);
    assert_tagged(&w, &own, &id);
    assert!(w.holdings().contains(&format!("domain {EAST} {own}")), "the search copy is kept too");
    // The kept app tier, as AWS has it: silent settings on the copy's endpoints, read-only files,
    // egress to 5432 and 443 only, the copy in the drill's database group, which admits the node.
    let app = py(
        &w.ex.emu,
        &format!(
            r#"
import base64
r = '{EAST}'
ec2, rds, iam = aws('ec2', r), aws('rds', r), aws('iam', r)
v = ec2.describe_launch_template_versions(LaunchTemplateName='{own}-app-{EAST}')['LaunchTemplateVersions'][0]
groups = {{g['GroupName']: g for g in ec2.describe_security_groups()['SecurityGroups']}}
app, db = groups['{own}-app-{EAST}'], groups['{own}-db']
c = rds.describe_db_clusters(DBClusterIdentifier='{own}')['DBClusters'][0]
print(json.dumps({{
    'user_data': base64.b64decode(v['LaunchTemplateData']['UserData']).decode(),
    'egress': sorted((p.get('IpProtocol'), p.get('FromPort')) for p in app['IpPermissionsEgress']),
    'db_in': [(p.get('FromPort'), [g['GroupId'] for g in p.get('UserIdGroupPairs', [])]) for p in db['IpPermissions']],
    'app_id': app['GroupId'], 'db_id': db['GroupId'],
    'copy_groups': [g['VpcSecurityGroupId'] for g in c['VpcSecurityGroups']],
    'copy_endpoint': c['Endpoint'],
    'policy': iam.get_role_policy(RoleName='{own}-app-{EAST}', PolicyName='mattermost')['PolicyDocument'],
}}))
"#
        ),
    );
    let user_data = app["user_data"].as_str().unwrap();
    for silent in [
        "MM_EMAILSETTINGS_SENDEMAILNOTIFICATIONS=\"false\"",
        "MM_EMAILSETTINGS_SENDPUSHNOTIFICATIONS=\"false\"",
        "MM_SERVICESETTINGS_ENABLEOUTGOINGWEBHOOKS=\"false\"",
        "MM_PLUGINSETTINGS_ENABLE=\"false\"",
        "MM_JOBSETTINGS_RUNSCHEDULER=\"false\"",
        "MM_CLUSTERSETTINGS_ENABLE=\"false\"",
    ] {
        assert!(user_data.contains(silent), "{silent} not in the drill node's settings:\n{user_data}");
    }
    assert!(user_data.contains(app["copy_endpoint"].as_str().unwrap()), "the node does not use the copy:\n{user_data}");
    assert_eq!(app["egress"], serde_json::json!([["tcp", 443], ["tcp", 5432]]), "{app}");
    assert_eq!(app["db_in"], serde_json::json!([[5432, [app["app_id"].clone()]]]), "{app}");
    assert_eq!(app["copy_groups"], serde_json::json!([app["db_id"].clone()]), "{app}");
    let objects = app["policy"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Resource"].to_string().contains("/*"))
        .unwrap();
    assert_eq!(objects["Action"], serde_json::json!(["s3:GetObject"]), "the files bucket is read-only: {app}");
    assert!(run.stdout.contains(&format!("{own}-app-{EAST} (aws_autoscaling_group)")), "kept, said: {}", run.stdout);
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
    // Today's configuration no longer calls the standby app tier as the state has it (its module
    // renamed): the cleanup still removes the app tier the drill's record holds.
    let configs: Vec<(std::path::PathBuf, String)> = std::fs::read_dir(&w.ex.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| (p.clone(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    for (p, text) in &configs {
        std::fs::write(p, text.replace("app_secondary", "app_renamed")).unwrap();
    }
    let cleanup = w.ok(0, &["drill", ".", "--cleanup", &id, "--auto-approve"]);
    for (p, text) in &configs {
        std::fs::write(p, text).unwrap();
    }
    assert!(cleanup.all().contains("app tier on the drill's record"), "{}", cleanup.all());
    assert_eq!(w.left(&own), Vec::<String>::new());
    assert_eq!(w.left_app(&own), Vec::<String>::new(), "a kept app tier outlived its cleanup");
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
        assert_eq!(w.left_app(DRILLS), Vec::<String>::new(), "after a kill when {what}, then the cleanup");
    };
    // Chosen moments: as each copy step starts, once each copy exists, as the cleanup runs.
    let copy_exists = |w: &World| !w.drill_id().is_empty() && !w.left(&format!("{DRILLS}{}", w.drill_id())).is_empty();
    let running = |w: &World| w.step_status("drill.db-copy").as_deref() == Some("running");
    let searching = |w: &World| w.step_status("drill.search-copy").as_deref() == Some("running");
    let search_exists = |w: &World| {
        !w.drill_id().is_empty() && w.holdings().contains(&format!("domain {EAST} {DRILLS}{}", w.drill_id()))
    };
    let cleaning = |w: &World| w.step_status("drill.cleanup").as_deref() == Some("running");
    // The app tier: part made (on record, journaled), all made, part removed.
    let app_making = |w: &World| w.step_status("drill.app").as_deref() == Some("running") && w.recorded() > 0;
    let app_made = |w: &World| w.step_status("drill.app").as_deref() == Some("done");
    let app_removing = |w: &World| {
        w.step_status("drill.cleanup").as_deref() == Some("running") && w.recorded() < 15 && w.recorded() > 0
    };
    let moments: [Moment; 8] = [
        ("the copy step runs", &running),
        ("the copy exists", &copy_exists),
        ("the search copy step runs", &searching),
        ("the search copy exists", &search_exists),
        ("the app tier is being made", &app_making),
        ("the app tier is made", &app_made),
        ("the app tier is being removed", &app_removing),
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
