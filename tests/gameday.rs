//! Game days: examples/mattermost-dr, every file, on the emulator's game-day
//! world (nodes that boot standby's user data and run a Mattermost stand-in,
//! load balancers that probe them, Route 53 answering through its health
//! checks, PostgreSQL behind Aurora's endpoints), with a synthetic user who
//! resolves the hostname through Route 53's answer and posts through the
//! load balancer every 100 ms (tests/emulator/standby_emulator/synthetic_user.py).
//! Each test asserts what users saw: posts acknowledged, posts readable and
//! searchable afterwards where users are sent, the windows without a
//! successful write, one job scheduler at a time. The tool's own words are
//! only read to follow along. Figures (windows, RTO, RPO) are printed, never
//! asserted against a clock; `scripts/bench-gameday` measures them.

mod common;

use common::standin::py;
use common::{Emulator, Run, assert_valid, copy_dir, http, http_as, repo, scratch};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const WEST: &str = "us-west-1";
const EAST: &str = "us-east-1";
const HOSTNAME: &str = "chat.example.com";
const MM_DB_USER: &str = "mmuser";
const MM_DB_PASSWORD: &str = "Mm-Db-9!kd";
const DB_MASTER_PASSWORD: &str = "Db-Master-7#wz";
const SEARCH_PASSWORD: &str = "Srch-Master-9!kq";
/// The synthetic users' personal access token, in Mattermost's database as
/// production's users have theirs (`synthetic_user token`): every API call
/// but the ping needs one.
const MM_TOKEN: &str = "gamedaytoken0000000000000a";
/// The channel the synthetic users post in (a Mattermost channel id).
const CHANNEL: &str = "gamedaychannel00000000000a";
/// The app nodes' AMI.
const AMI: &str = "ami-0abcdef1234567890";
/// Aurora's failover loses what was not replicated: the emulator loses the
/// writes of the last 500 ms before the primary's region went down.
const LOSS_MS: u64 = 500;
/// How long users may take to be served again, before a test gives up (not a
/// bound it asserts: a liveness deadline).
const DEADLINE: Duration = Duration::from_secs(120);

fn now() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// How production came to be: adopted (the demo's stand-in, made through the
/// AWS API, then imports.yaml) or made by standby (no imports.yaml).
#[derive(Clone, Copy, PartialEq)]
enum Primary {
    Adopted,
    Created,
}

/// The whole example against a private emulator with the game-day world on.
struct GameDay {
    emu: Emulator,
    dir: PathBuf,
    logs: PathBuf,
    primary: Primary,
    /// App nodes in the passive region (None: the example's default, pilot light).
    passive: Option<u32>,
    /// Whether the users' token is in the database yet.
    token_stored: std::cell::Cell<bool>,
    /// HTTPS on 443 with these ACM certificates (primary, secondary), as
    /// production serves its site URL; None: the demo's plain HTTP on 80.
    https: Option<(String, String)>,
}

impl GameDay {
    fn new(name: &str, primary: Primary, passive: Option<u32>) -> GameDay {
        let root = scratch(name);
        copy_dir(&repo().join("examples/mattermost-dr"), &root.join("examples/mattermost-dr"));
        copy_dir(&repo().join("modules"), &root.join("modules"));
        let dir = root.join("examples/mattermost-dr");
        if primary == Primary::Created {
            std::fs::remove_file(dir.join("imports.yaml")).unwrap();
        }
        let logs = root.join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let g =
            GameDay { emu: Emulator::start(), dir, logs, primary, passive, token_stored: false.into(), https: None };
        // AWS's times, scaled: one AWS second is 50 ms of the world's clock
        // (health checks, grace periods, Mattermost's retries); Aurora's
        // switchover or failover 1.5 s, an instance refresh's warm-up 0.3 s.
        g.settings(json!({"game_day": 1, "world_ms_per_aws_second": 50, "rds_failover_ms": 1500,
                          "rds_snapshot_ms": 300, "asg_refresh_ms": 300,
                          "rds_failover_data_loss_ms": LOSS_MS}));
        // The AMI as a team bakes it: Mattermost's config.json with personal
        // access tokens on (ServiceSettings.EnableUserAccessTokens, off by
        // default), so the users' and the drill's tokens are taken.
        g.control(
            "POST",
            "/_emulator/world/amis",
            Some(json!({"ami": AMI, "config_json": {"ServiceSettings": {"EnableUserAccessTokens": true}}})),
        );
        g
    }

    /// The example's variables as the demo sets them (scripts/demo).
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.emu.cmd(&self.dir, args);
        c.env("STANDBY_VAR_opensearch_master_password", SEARCH_PASSWORD)
            .env("STANDBY_VAR_opensearch_replication_password", "Repl-User-5%qa")
            .env("STANDBY_VAR_opensearch_mattermost_password", "Mm-Search-3&zx")
            .env("STANDBY_VAR_mattermost_db_password", MM_DB_PASSWORD)
            .env("STANDBY_VAR_search_source_ips", r#"["127.0.0.0/8"]"#)
            .env("STANDBY_VAR_deletion_protection", "false")
            .env("STANDBY_VAR_force_destroy", "true")
            .env("STANDBY_VAR_secrets_recovery_window_in_days", "0")
            .env("STANDBY_VAR_app_ami_id", AMI)
            .env("STANDBY_VAR_app_listener_protocol", "HTTP")
            .env("STANDBY_VAR_app_listener_port", "80")
            .env("STANDBY_VAR_app_certificate_arn_primary", "null")
            .env("STANDBY_VAR_app_certificate_arn_secondary", "null");
        match self.primary {
            Primary::Adopted => {
                for (k, v) in Self::production() {
                    c.env(k, v);
                }
            }
            Primary::Created => {
                // No imports.yaml: the primary gets a group of its own.
                c.env("STANDBY_VAR_db_master_password", DB_MASTER_PASSWORD)
                    .env("STANDBY_VAR_primary_db_adopted", "false");
            }
        }
        if let Some((primary, secondary)) = &self.https {
            c.env("STANDBY_VAR_app_listener_protocol", "HTTPS")
                .env("STANDBY_VAR_app_listener_port", "443")
                .env("STANDBY_VAR_app_certificate_arn_primary", primary)
                .env("STANDBY_VAR_app_certificate_arn_secondary", secondary);
        }
        // The old region keeps its nodes this long after DNS moved in a
        // planned switchover: 120 AWS seconds (the alias TTL, then a
        // browser's own cache) on the world's clock.
        c.env("STANDBY_SWITCHOVER_DRAIN_SECS", "6");
        if let Some(n) = self.passive {
            // A warm passive region.
            c.env("STANDBY_VAR_app_nodes_passive", n.to_string());
        }
        c
    }

    /// The running production the demo stands in for, and adopts.
    fn production() -> [(&'static str, &'static str); 5] {
        [
            ("STANDBY_VAR_primary_db_cluster", "mattermost-prod-aurora"),
            ("STANDBY_VAR_primary_db_instances", r#"["mattermost-prod-aurora-1", "mattermost-prod-aurora-2"]"#),
            ("STANDBY_VAR_primary_files_bucket", "mattermost-prod-files-demo"),
            ("STANDBY_VAR_primary_search_domain", "mattermost-prod-search"),
            // The stand-in's bucket already replicates to a backup bucket under a role of its own.
            (
                "STANDBY_VAR_primary_files_replication_role",
                "arn:aws:iam::123456789012:role/mattermost-prod-files-demo-backup-replication",
            ),
        ]
    }

    fn run(&self, args: &[&str]) -> Run {
        self.cmd(args).output().expect("run standby").into()
    }

    fn ok(&self, code: i32, args: &[&str]) -> Run {
        self.mark(&format!("standby {}", args.join(" ")));
        let run = self.run(args);
        self.mark(&format!("standby {} exited {}", args.first().unwrap_or(&""), run.code));
        self.keep(&format!("standby-{}", args.join("-").replace(['/', '.', ' ', '='], "_")), &run.all());
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert_eq!(run.code, code, "standby {}:\n{}", args.join(" "), run.all());
        run
    }

    /// A line in logs/events.jsonl (epoch seconds), to line the users' log up with what was done.
    fn mark(&self, event: &str) {
        use std::io::Write;
        let line = json!({"at": now(), "event": event}).to_string();
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(self.logs.join("events.jsonl")).unwrap();
        writeln!(f, "{line}").unwrap();
    }

    /// Keeps a text in the logs directory (a run's output, a report) for a look after a failure.
    fn keep(&self, name: &str, text: &str) {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name: String = name.chars().take(80).collect();
        std::fs::write(self.logs.join(format!("{n:03}-{name}.txt")), text).unwrap();
    }

    fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, text) = http(&self.emu.endpoint(), method, path, None, "", body.map(|b| b.to_string()).as_deref());
        assert!(status < 300, "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    fn settings(&self, values: Value) {
        self.control("POST", "/_emulator/settings", Some(values));
    }

    fn region(&self, region: &str, down: bool) {
        self.mark(&format!("{region} {}", if down { "down" } else { "back" }));
        self.control("POST", "/_emulator/regions", Some(json!({"region": region, "down": down})));
    }

    /// scripts/demo-standin: the production standby adopts, made through the
    /// AWS API with its own master password (and Mattermost's database user,
    /// where the stand-in makes one).
    fn standin(&self) {
        let out = Command::new(repo().join("scripts/demo-standin"))
            .envs(self.emu.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(Self::production())
            .env("STANDBY_VAR_opensearch_master_password", SEARCH_PASSWORD)
            .env("STANDBY_VAR_mattermost_db_password", MM_DB_PASSWORD)
            .env("STANDBY_VAR_mattermost_db_user", MM_DB_USER)
            .env("STANDBY_DEMO_DB_PASSWORD", DB_MASTER_PASSWORD)
            .output()
            .expect("scripts/demo-standin");
        assert!(out.status.success(), "demo-standin:\n{}", String::from_utf8_lossy(&out.stderr));
    }

    fn python(&self) -> Command {
        let mut c = Command::new(repo().join(".venv-emulator/bin/python"));
        c.env("PYTHONPATH", repo().join("tests/emulator")).env("STANDBY_MM_TOKEN", MM_TOKEN).stdin(Stdio::null());
        c
    }

    /// Stores the users' token in Mattermost's database (once, before the
    /// first user posts), through the global writer endpoint as Mattermost's
    /// database user.
    fn store_token(&self) {
        if self.token_stored.get() {
            return;
        }
        let out = self
            .python()
            .args(["-m", "standby_emulator.synthetic_user", "token", "--world"])
            .arg(self.emu.endpoint())
            .args(["--token", MM_TOKEN, "--db-user", MM_DB_USER])
            .env("STANDBY_CHECK_DB_PASSWORD", MM_DB_PASSWORD)
            .output()
            .expect("synthetic_user token");
        assert!(out.status.success(), "the users' token: {}", String::from_utf8_lossy(&out.stderr));
        self.token_stored.set(true);
    }

    /// A call to Mattermost's API through a load balancer (`lb`: http://address:port)
    /// as the users' token, `Host` the site's.
    fn mattermost(&self, lb: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        http_as(lb, method, path, Some(HOSTNAME), Some(&format!("Bearer {MM_TOKEN}")), body)
    }

    /// Serves the site over HTTPS on 443 as production does (its site URL is
    /// `https://<hostname>`): an ACM certificate for the hostname in each
    /// region (the world's listeners present one of its CA for it).
    fn use_https(&mut self) {
        let arns = py(
            &self.emu,
            &format!(
                "print(json.dumps([aws('acm', r).request_certificate(DomainName='{HOSTNAME}')['CertificateArn'] \
                 for r in ['{WEST}', '{EAST}']]))"
            ),
        );
        let arn = |i: usize| arns[i].as_str().expect("a certificate ARN").to_string();
        self.https = Some((arn(0), arn(1)));
    }

    /// The synthetic user's options for the site's scheme.
    fn scheme(&self) -> &'static [&'static str] {
        if self.https.is_some() { &["--scheme", "https"] } else { &[] }
    }

    /// The world's CA (what the listeners' certificates chain to), in a file.
    fn world_ca(&self) -> PathBuf {
        let pem = self.control("GET", "/_emulator/world/ca.pem", None)["pem"].as_str().unwrap().to_string();
        let path = self.logs.join("world-ca.pem");
        std::fs::write(&path, pem).unwrap();
        path
    }

    /// `GET path` on Mattermost as the users' token, through the address
    /// `name` resolves to (the site's hostname: Route 53's answer, as users
    /// reach it; a load balancer's DNS name: that one), `Host` and TLS name
    /// the site's. `{"status", "body", "address"}`.
    fn read_mattermost(&self, name: &str, path: &str) -> Value {
        self.ask_mattermost(name, "GET", path, None)
    }

    /// [`Self::read_mattermost`] with any method and JSON body; the answer's
    /// headers too.
    fn ask_mattermost(&self, name: &str, method: &str, path: &str, body: Option<Value>) -> Value {
        let script = "import json, sys\n\
from standby_emulator.synthetic_user import World, Client\n\
world, name, host, scheme, method, path, body = sys.argv[1:8]\n\
w = World(world)\n\
addr = w.resolve(name)\n\
c = Client(host, 443 if scheme == 'https' else 80, scheme, 10, w.ca_file() if scheme == 'https' else None,\n\
           token=__import__('os').environ['STANDBY_MM_TOKEN'])\n\
status, body, headers = c.request(addr, method, path, json.loads(body))\n\
print(json.dumps({'status': status, 'body': body, 'headers': dict(headers), 'address': addr}))\n";
        let scheme = if self.https.is_some() { "https" } else { "http" };
        let out = self
            .python()
            .args(["-c", script])
            .arg(self.emu.endpoint())
            .args([name, HOSTNAME, scheme, method, path, &body.unwrap_or(Value::Null).to_string()])
            .output()
            .expect("python");
        assert!(out.status.success(), "{method} {path} via {name}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Everything in either region whose name says it is a drill's
    /// (`-drill-`) or that carries the `standby-drill` tag: EC2 instances
    /// (not terminated), security groups, launch templates, load balancers,
    /// target groups, Auto Scaling groups, IAM roles, instance profiles and
    /// policies, Aurora clusters and instances, search domains, secrets.
    fn drill_named(&self) -> Vec<String> {
        let out = py(
            &self.emu,
            r#"
out = []
d = lambda name: '-drill-' in (name or '')
tagged = lambda tags: any(t.get('Key') == 'standby-drill' for t in tags or [])
for r in ['us-west-1', 'us-east-1']:
    ec2 = aws('ec2', r)
    for res in ec2.describe_instances()['Reservations']:
        for i in res['Instances']:
            name = next((t['Value'] for t in i.get('Tags', []) if t['Key'] == 'Name'), '')
            if i['State']['Name'] != 'terminated' and (d(name) or tagged(i.get('Tags'))):
                out.append('ec2-instance %s %s' % (r, i['InstanceId']))
    out += ['security-group %s %s' % (r, g['GroupName']) for g in ec2.describe_security_groups()['SecurityGroups']
            if d(g['GroupName']) or tagged(g.get('Tags'))]
    out += ['launch-template %s %s' % (r, t['LaunchTemplateName'])
            for t in ec2.describe_launch_templates()['LaunchTemplates'] if d(t['LaunchTemplateName'])]
    elb = aws('elbv2', r)
    lbs = elb.describe_load_balancers()['LoadBalancers']
    tgs = elb.describe_target_groups()['TargetGroups']
    arns = [x['LoadBalancerArn'] for x in lbs] + [x['TargetGroupArn'] for x in tgs]
    tags = {}
    for i in range(0, len(arns), 20):
        for t in elb.describe_tags(ResourceArns=arns[i:i + 20])['TagDescriptions']:
            tags[t['ResourceArn']] = t['Tags']
    out += ['load-balancer %s %s' % (r, x['LoadBalancerName']) for x in lbs
            if d(x['LoadBalancerName']) or tagged(tags.get(x['LoadBalancerArn']))]
    out += ['target-group %s %s' % (r, x['TargetGroupName']) for x in tgs
            if d(x['TargetGroupName']) or tagged(tags.get(x['TargetGroupArn']))]
    out += ['auto-scaling-group %s %s' % (r, g['AutoScalingGroupName'])
            for g in aws('autoscaling', r).describe_auto_scaling_groups()['AutoScalingGroups']
            if d(g['AutoScalingGroupName']) or tagged(g.get('Tags'))]
    rds = aws('rds', r)
    out += ['rds-cluster %s %s' % (r, c['DBClusterIdentifier']) for c in rds.describe_db_clusters()['DBClusters']
            if d(c['DBClusterIdentifier'])]
    out += ['rds-instance %s %s' % (r, i['DBInstanceIdentifier'])
            for i in rds.describe_db_instances()['DBInstances'] if d(i['DBInstanceIdentifier'])]
    out += ['domain %s %s' % (r, x['DomainName'])
            for x in aws('opensearch', r).list_domain_names()['DomainNames'] if d(x['DomainName'])]
    out += ['secret %s %s' % (r, x['Name']) for x in aws('secretsmanager', r).list_secrets()['SecretList']
            if d(x['Name']) or tagged(x.get('Tags'))]
iam = aws('iam')
out += ['iam-role %s' % x['RoleName'] for x in iam.list_roles()['Roles'] if d(x['RoleName'])]
out += ['iam-instance-profile %s' % x['InstanceProfileName']
        for x in iam.list_instance_profiles()['InstanceProfiles'] if d(x['InstanceProfileName'])]
out += ['iam-policy %s' % x['PolicyName'] for x in iam.list_policies(Scope='Local')['Policies'] if d(x['PolicyName'])]
print(json.dumps(sorted(out)))
"#,
        );
        out.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    }

    /// A synthetic user posting through DNS every 100 ms until stopped.
    fn user(&self, name: &str) -> User {
        self.user_with(name, &[])
    }

    /// A user who keeps a connection to each address it resolved (as
    /// browsers keep theirs), instead of one per post.
    fn user_keeping_connections(&self, name: &str) -> User {
        self.user_with(name, &["--keep-alive"])
    }

    fn user_with(&self, name: &str, extra: &[&str]) -> User {
        self.store_token();
        let log = self.logs.join(format!("{name}.jsonl"));
        let stop = self.logs.join(format!("{name}.stop"));
        let child = self
            .python()
            .args(["-m", "standby_emulator.synthetic_user", "post", "--world"])
            .arg(self.emu.endpoint())
            .args(["--hostname", HOSTNAME, "--every-ms", "100", "--run-id", name, "--channel", CHANNEL])
            .args(self.scheme())
            .arg("--out")
            .arg(&log)
            .arg("--stop-file")
            .arg(&stop)
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("the synthetic user");
        User { child: Some(child), log, stop }
    }

    /// What users saw (the checker's report, `synthetic_user check`).
    fn check(&self, logs: &[&Path], extra: &[&str]) -> Value {
        let mut c = self.python();
        c.args(["-m", "standby_emulator.synthetic_user", "check", "--compact", "--world"])
            .arg(self.emu.endpoint())
            .args(["--hostname", HOSTNAME, "--db-user", MM_DB_USER])
            .args(self.scheme())
            .env("STANDBY_CHECK_DB_PASSWORD", MM_DB_PASSWORD)
            .args(extra);
        for l in logs {
            c.arg("--log").arg(l);
        }
        let out = c.output().expect("the checker");
        assert!(out.status.success(), "checker: {}", String::from_utf8_lossy(&out.stderr));
        self.keep(&format!("report{}", extra.join("_")), &String::from_utf8_lossy(&out.stdout));
        serde_json::from_slice(&out.stdout).expect("the checker's JSON")
    }

    /// Applies the example and waits until a user's post is acknowledged
    /// through DNS: seconds from the end of the apply to the first one.
    fn first_deployment(&self, args: &[&str]) -> f64 {
        self.ok(0, args);
        let done = now();
        let user = self.user("first");
        let first = user.wait_acknowledged(done, DEADLINE).unwrap_or_else(|| {
            panic!("no post acknowledged through DNS {DEADLINE:?} after the first apply\n{}", self.diagnose())
        });
        user.stop();
        first - done
    }

    /// The address of `region`'s load balancer (listener on port 80).
    fn lb(&self, region: &str) -> String {
        let lbs = self.control("GET", "/_emulator/world", None)["load_balancers"].clone();
        let lb = lbs
            .as_array()
            .unwrap()
            .iter()
            .find(|lb| lb["dns_name"].as_str().unwrap_or_default().contains(&format!(".{region}.elb.")))
            .cloned()
            .unwrap_or_else(|| panic!("no load balancer in {region}: {lbs}"));
        format!("http://{}:80", lb["address"].as_str().unwrap_or("127.0.0.1"))
    }

    /// Does what a run's output asks the operator to do in Mattermost: the
    /// search re-index (`POST /api/v4/jobs {...} on Mattermost in <region>`),
    /// sent to that region's Mattermost, waited for until it ends.
    fn follow_reindex_notes(&self, stdout: &str) {
        let mut rest = stdout;
        while let Some(at) = rest.find("POST /api/v4/jobs {") {
            let body_start = at + "POST /api/v4/jobs ".len();
            let mut depth = 0;
            let mut end = body_start;
            for (i, ch) in rest[body_start..].char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = body_start + i + 1;
                    break;
                }
            }
            let body = &rest[body_start..end];
            let tail = &rest[end..];
            let region = tail
                .trim_start()
                .strip_prefix("on Mattermost in ")
                .and_then(|t| t.split_whitespace().next())
                .map(|r| r.trim_end_matches([',', '.', ';']))
                .unwrap_or_else(|| panic!("a re-index note without its region: {tail:.80}"))
                .to_string();
            eprintln!("game day: following the run's note: POST /api/v4/jobs {body} on Mattermost in {region}");
            self.mark(&format!("re-index job in {region}: {body}"));
            let lb = self.lb(&region);
            let (status, text) = self.mattermost(&lb, "POST", "/api/v4/jobs", Some(body));
            assert_eq!(status, 201, "the re-index job the run asks for: {text}");
            let job: Value = serde_json::from_str(&text).unwrap();
            let started = Instant::now();
            loop {
                let (_, text) =
                    self.mattermost(&lb, "GET", &format!("/api/v4/jobs/{}", job["id"].as_str().unwrap()), None);
                let j: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if j["status"] == "success" {
                    break;
                }
                assert!(j["status"] != "error" && started.elapsed() < DEADLINE, "the re-index job: {j}");
                std::thread::sleep(Duration::from_millis(500));
            }
            rest = tail;
        }
    }

    /// The nodes of `region` serve through its load balancer, database
    /// included (`ping?get_server_status=true`, as Mattermost answers it).
    fn region_serves(&self, region: &str) -> (u16, String) {
        http(&self.lb(region), "GET", "/api/v4/system/ping?get_server_status=true", Some(HOSTNAME), "", None)
    }

    /// Waits until `region`'s load balancer answers the database-aware ping.
    fn wait_region_serves(&self, region: &str) {
        let started = Instant::now();
        loop {
            let (status, body) = self.region_serves(region);
            if status == 200 {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "{region}'s nodes never served (ping?get_server_status=true: {status} {body})\n{}",
                self.diagnose()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// What the world shows when users are not served: each node's state and
    /// the end of its Mattermost log, each load balancer and health check.
    fn diagnose(&self) -> String {
        let world = self.control("GET", "/_emulator/world", None);
        let mut out = String::new();
        for n in world["nodes"].as_array().into_iter().flatten() {
            let id = n["id"].as_str().unwrap_or_default();
            out.push_str(&format!("node {id} {} {} units {}\n", n["region"], n["state"], n["units"]));
            if n["state"] != "terminated" {
                let log = self.control("GET", &format!("/_emulator/world/nodes/{id}/mattermost/log"), None);
                let text = log["log"].as_str().unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(3).collect();
                for l in tail.iter().rev() {
                    out.push_str(&format!("    {l}\n"));
                }
            }
        }
        out.push_str(&format!(
            "load balancers {}\nhealth checks {}\n",
            world["load_balancers"], world["health_checks"]
        ));
        out
    }

    /// The state file's record of a resource's attribute.
    fn recorded(&self, address: &str, attr: &str) -> Value {
        let st: Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir.join("state/standby.json")).unwrap()).unwrap();
        st["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == address)
            .map(|r| r["attributes"][attr].clone())
            .unwrap_or(Value::Null)
    }

    /// SQL as the master user through the global writer endpoint, with psql,
    /// the way modules/mattermost-app-tier/README.md has an operator make
    /// Mattermost's database user on a cluster standby creates.
    fn psql_as_master(&self, sql: &[&str]) -> Run {
        let eps = self.control("GET", "/_emulator/rds/endpoints", None);
        let global = eps.as_array().unwrap().iter().find(|e| e["kind"] == "global").expect("a global writer endpoint");
        let master = self.recorded("module.database.aws_rds_cluster.primary", "master_username");
        let conn = format!(
            "host={} hostaddr={} port=5432 user={} dbname=mattermost sslmode=verify-full sslrootcert={} connect_timeout=10",
            global["name"].as_str().unwrap(),
            global["address"].as_str().unwrap(),
            master.as_str().expect("the master user on record"),
            self.emu.get("STANDBY_EMULATOR_RDS_CA_BUNDLE"),
        );
        let mut c = Command::new("psql");
        c.arg(conn).args(["-v", "ON_ERROR_STOP=1", "-X", "-q"]).env("PGPASSWORD", DB_MASTER_PASSWORD);
        for s in sql {
            c.args(["-c", s]);
        }
        c.output().expect("psql (PostgreSQL's client; scripts/test-tools installs it)").into()
    }

    /// What Mattermost's bulk index job leaves on the leader domain besides
    /// the posts: its channels, users and files indices (the stand-in
    /// indexes posts only), written as the domain's master user.
    fn bulk_index(&self) {
        let domains = self.control("GET", "/_emulator/opensearch/domains", None);
        let leader = domains.as_array().unwrap().iter().find(|d| d["region"] == WEST).expect("the leader domain");
        let host = leader["endpoints"][0].as_str().unwrap();
        for index in ["channels", "users", "files"] {
            let (status, body) = http(
                &self.emu.endpoint(),
                "PUT",
                &format!("/{index}/_doc/first"),
                Some(host),
                SEARCH_PASSWORD,
                Some(r#"{"id":"first"}"#),
            );
            assert!(status < 300, "PUT /{index}/_doc/first: {status} {body}");
        }
    }

    /// The run's steps still pending in the state, by id.
    fn pending(&self) -> Vec<String> {
        let st: Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir.join("state/standby.json")).unwrap()).unwrap();
        st["roles"]["run"]["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["status"] != "done")
            .map(|s| format!("{} ({})", s["id"].as_str().unwrap_or_default(), s["status"].as_str().unwrap_or_default()))
            .collect()
    }
}

impl Drop for GameDay {
    /// After a failure, the world as it was (nodes and their logs, load
    /// balancers, health checks, search domains) is kept in the logs
    /// directory before the emulator goes.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let get = |path: &str| {
            let (status, text) = http(&self.emu.endpoint(), "GET", path, None, "", None);
            if status == 200 { serde_json::from_str(&text).unwrap_or(Value::Null) } else { Value::Null }
        };
        let world = get("/_emulator/world");
        let _ = std::fs::write(self.logs.join("world.json"), format!("{world:#}"));
        let domains = get("/_emulator/opensearch/domains");
        let _ = std::fs::write(self.logs.join("domains.json"), format!("{domains:#}"));
        // Which posts each domain's index holds (document ids), as the master user.
        for d in domains.as_array().into_iter().flatten() {
            let host = d["endpoints"][0].as_str().unwrap_or_default();
            let path = "/posts_*/_search";
            let body = r#"{"query":{"match_all":{}},"size":100000}"#;
            let (_, text) = http(&self.emu.endpoint(), "POST", path, Some(host), SEARCH_PASSWORD, Some(body));
            let region = d["region"].as_str().unwrap_or_default();
            let _ = std::fs::write(self.logs.join(format!("search-{region}.json")), text);
        }
        for n in world["nodes"].as_array().into_iter().flatten() {
            let id = n["id"].as_str().unwrap_or_default();
            for (tail, name) in [("log", "boot"), ("mattermost/log", "mattermost")] {
                let text =
                    get(&format!("/_emulator/world/nodes/{id}/{tail}"))["log"].as_str().unwrap_or_default().to_string();
                let _ = std::fs::write(self.logs.join(format!("node-{id}-{name}.log")), text);
            }
        }
        eprintln!("game day: the world as it was is kept in {}", self.logs.display());
    }
}

/// One synthetic user (a process), stopped by its stop file.
struct User {
    child: Option<Child>,
    log: PathBuf,
    stop: PathBuf,
}

impl User {
    fn records(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// When the first post sent at or after `since` was acknowledged (epoch
    /// seconds), waiting at most `deadline`.
    fn wait_acknowledged(&self, since: f64, deadline: Duration) -> Option<f64> {
        let started = Instant::now();
        while started.elapsed() < deadline {
            let hit = self
                .records()
                .into_iter()
                .find(|r| r["outcome"] == "acknowledged" && r["sent"].as_f64().unwrap_or(0.0) >= since);
            if let Some(r) = hit {
                return r["answered"].as_f64();
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        None
    }

    /// Keeps posting for `d`.
    fn keep_posting(&self, d: Duration) {
        std::thread::sleep(d);
    }

    fn stop(mut self) -> PathBuf {
        std::fs::write(&self.stop, "").unwrap();
        if let Some(mut c) = self.child.take() {
            let started = Instant::now();
            while c.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        self.log.clone()
    }
}

impl Drop for User {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The parts of a report that must hold wherever users are sent afterwards:
/// every acknowledged post is read by id and found by search there, and
/// writes work at the end (no window left open).
fn assert_nothing_lost(what: &str, report: &Value, active: &str) {
    assert!(report["acknowledged"].as_u64().unwrap_or(0) > 0, "{what}: no post acknowledged at all: {report:#}");
    assert_eq!(report["missing"], json!([]), "{what}: acknowledged posts missing afterwards: {report:#}");
    assert_eq!(report["unsearchable"], json!([]), "{what}: acknowledged posts not found by search: {report:#}");
    assert_eq!(
        report["read_regions"].as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()),
        Some(vec![active.to_string()]),
        "{what}: users were not reading from {active}: {report:#}"
    );
    assert_eq!(
        report["search_backends"].as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["opensearch".to_string()]),
        "{what}: search answered from the database, not the index: {report:#}"
    );
    let open: Vec<&Value> = report["windows"].as_array().unwrap().iter().filter(|w| w["open"] == true).collect();
    assert!(open.is_empty(), "{what}: users could not write at the end: {open:#?}\n{report:#}");
}

/// One job scheduler at a time, from the heartbeats in the database.
fn assert_one_scheduler(what: &str, report: &Value) {
    let hb = &report["heartbeats"];
    assert!(hb.get("error").is_none(), "{what}: the heartbeats could not be read: {hb}");
    assert_eq!(hb["overlaps"], json!([]), "{what}: two job schedulers at once: {hb:#}");
}

/// Prints what users saw in a scenario; with `STANDBY_GAMEDAY_FIGURES` set
/// (scripts/bench-gameday), also appends it there as a JSON line.
fn figure(what: &str, report: &Value) {
    if let Ok(path) = std::env::var("STANDBY_GAMEDAY_FIGURES") {
        use std::io::Write;
        let line = json!({
            "scenario": what,
            "attempts": report["attempts"],
            "acknowledged": report["acknowledged"],
            "failed": report["failed"],
            "errors": report["errors"],
            "longest_window_s": report["longest_window_s"],
            "rto_s": report.get("rto_s"),
            "rpo_posts": report.get("rpo_posts"),
        });
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        writeln!(f, "{line}").unwrap();
    }
    eprintln!(
        "game day: {what}: {} attempts, {} acknowledged, {} failed {}, longest window without a successful write {} s{}{}",
        report["attempts"],
        report["acknowledged"],
        report["failed"],
        report["errors"],
        report["longest_window_s"],
        report.get("rto_s").map(|r| format!(", RTO {r} s")).unwrap_or_default(),
        report.get("rpo_posts").map(|r| format!(", posts lost {r}")).unwrap_or_default(),
    );
}

/// An outage's RPO as AWS allows it: acknowledged posts missing afterwards
/// were sent in the last moments before the outage (the emulator loses the
/// writes of the last LOSS_MS before the region went down); none is
/// missing from before that, and none acknowledged after it.
fn assert_lost_only_unreplicated(what: &str, report: &Value, outage: f64) {
    let slack = 0.25;
    for m in report["missing"].as_array().unwrap() {
        let sent = m["sent"].as_f64().unwrap();
        assert!(
            sent >= outage - LOSS_MS as f64 / 1000.0 - slack && sent <= outage,
            "{what}: a post acknowledged {:.2} s from the outage is missing (AWS loses the last {LOSS_MS} ms): {m}\n{report:#}",
            sent - outage
        );
    }
    assert_eq!(
        report["unsearchable"].as_array().unwrap().len(),
        report["missing"].as_array().unwrap().len(),
        "{what}: posts read by id but not found by search: {report:#}"
    );
}

/// Waits until a post sent after `outage` is acknowledged through DNS.
fn served_again(g: &GameDay, user: &User, what: &str, outage: f64) {
    if user.wait_acknowledged(outage, DEADLINE).is_none() {
        panic!("{what}: users could not post through DNS {DEADLINE:?} after the outage\n{}", g.diagnose());
    }
}

// ---------------------------------------------------------------- tests ---

/// The demo's path: production adopted, a warm passive region (a planned
/// switchover moves users to nodes that already serve). Nodes boot from the
/// first apply and serve in both regions; a switchover and a failback under
/// continuous posting lose no acknowledged post, every one readable and
/// searchable where users are sent afterwards, one job scheduler at a time.
#[test]
fn an_adopted_production_serves_and_a_planned_switchover_and_failback_lose_nothing() {
    let g = GameDay::new("gameday-planned", Primary::Adopted, Some(1));
    g.standin();
    let serve = g.first_deployment(&["apply", ".", "--auto-approve"]);
    eprintln!("game day: adopted production: first post acknowledged through DNS {serve:.1} s after the apply");
    g.wait_region_serves(WEST);
    g.wait_region_serves(EAST);

    let user = g.user("planned");
    user.wait_acknowledged(now(), DEADLINE).expect("users post before the switchover");
    user.keep_posting(Duration::from_secs(2));
    let t_switch = now();
    let run = g.ok(0, &["apply", ".", "--auto-approve", "--var", "active_region=secondary"]);
    assert!(run.stdout.contains("Switchover complete"), "{}", run.stdout);
    user.keep_posting(Duration::from_secs(4));
    // What the run asks the operator to do in Mattermost (a search re-index), done.
    g.follow_reindex_notes(&run.all());
    let report = g.check(&[&user.log], &[]);
    figure("planned switchover to us-east-1", &g.check(&[&user.log], &["--since", &t_switch.to_string()]));
    assert_nothing_lost("after the switchover", &report, EAST);
    assert!(report["acknowledged_by_region"][EAST].as_u64().unwrap_or(0) > 0, "users reached {EAST}: {report:#}");

    let t_back = now();
    let run = g.ok(0, &["apply", ".", "--auto-approve"]);
    assert!(run.stdout.contains("Switchover complete"), "{}", run.stdout);
    user.keep_posting(Duration::from_secs(4));
    // What the run asks the operator to do in Mattermost (a search re-index), done.
    g.follow_reindex_notes(&run.all());
    let log = user.stop();
    figure("failback to us-west-1", &g.check(&[&log], &["--since", &t_back.to_string()]));
    let report = g.check(&[&log], &[]);
    assert_nothing_lost("after the failback", &report, WEST);
    assert_one_scheduler("switchover and failback", &report);
    // The scheduler moved: heartbeats came from both regions' clusters.
    let clusters: std::collections::BTreeSet<&str> =
        report["heartbeats"]["runs"].as_array().unwrap().iter().map(|r| r["cluster"].as_str().unwrap()).collect();
    assert_eq!(
        clusters.into_iter().collect::<Vec<_>>(),
        ["mattermost-dr-us-east-1", "mattermost-dr-us-west-1"],
        "{report:#}"
    );
    g.ok(0, &["plan", ".", "--detailed-exitcode"]);
}

/// The example's defaults (pilot light: no app node in the passive region)
/// in a planned switchover, with a user who keeps connections as browsers
/// do: the region that holds every user keeps its nodes (their scheduler
/// off) until the new region serves and users have followed DNS there, then
/// shrinks to its passive size. No post is turned away for want of a node
/// (the load balancer's 503); the posts that fail are those Aurora's
/// switchover refuses while the writer moves; nothing acknowledged is lost;
/// one job scheduler at a time.
#[test]
fn a_planned_switchover_to_a_pilot_light_region_keeps_users_served() {
    let g = GameDay::new("gameday-pilot-switch", Primary::Adopted, None);
    g.standin();
    g.first_deployment(&["apply", ".", "--auto-approve"]);
    g.wait_region_serves(WEST);
    let user = g.user_keeping_connections("pilot");
    user.wait_acknowledged(now(), DEADLINE).expect("users post before the switchover");
    user.keep_posting(Duration::from_secs(2));
    let t_switch = now();
    let run = g.ok(0, &["apply", ".", "--auto-approve", "--var", "active_region=secondary"]);
    assert!(run.stdout.contains("Switchover complete"), "{}", run.stdout);
    user.keep_posting(Duration::from_secs(4));
    g.follow_reindex_notes(&run.all());
    let log = user.stop();
    let since = g.check(&[&log], &["--since", &t_switch.to_string()]);
    figure("planned switchover to a pilot-light us-east-1", &since);
    let turned_away: Vec<&Value> = since["windows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["errors"].as_object().is_some_and(|e| e.keys().any(|k| k.starts_with("HTTP "))))
        .collect();
    assert!(
        turned_away.is_empty(),
        "posts turned away by a load balancer with no node to send them to: {turned_away:#?}\n{since:#}"
    );
    assert_eq!(since["failed_after_dns_moved"], json!([]), "posts failed after DNS moved: {since:#}");
    let whole = g.check(&[&log], &[]);
    assert_nothing_lost("after a pilot-light switchover", &whole, EAST);
    assert_one_scheduler("a pilot-light switchover", &whole);
    // The old region is back to pilot light at the end.
    assert_eq!(g.recorded("module.app_primary.aws_autoscaling_group.node_group", "desired_capacity"), json!(0));
    g.ok(0, &["plan", ".", "--detailed-exitcode", "--var", "active_region=secondary"]);
}

/// The example's defaults (pilot light: no app node in the passive region).
/// us-west-1 goes down: `standby failover` brings users back through DNS, in
/// us-east-1. us-west-1 returns: `apply` finishes the deferred steps while
/// users keep posting. Then us-east-1 (and Route 53's control plane) goes
/// down: the same the other way, and its return.
#[test]
fn unplanned_failovers_bring_users_back_and_the_old_region_rejoins_without_hurting_them() {
    let g = GameDay::new("gameday-failover", Primary::Adopted, None);
    g.standin();
    g.first_deployment(&["apply", ".", "--auto-approve"]);
    let user = g.user("failover");
    user.wait_acknowledged(now(), DEADLINE).expect("users post before the outage");
    user.keep_posting(Duration::from_secs(2));

    // us-west-1 down, pilot light in us-east-1.
    let outage = now();
    g.region(WEST, true);
    let run = g.ok(0, &["failover", ".", "--to", "secondary", "--allow-data-loss", "--auto-approve"]);
    assert!(run.stdout.contains("Failover done"), "{}", run.stdout);
    served_again(&g, &user, "us-west-1 down", outage);
    user.keep_posting(Duration::from_secs(3));
    // What the run asks the operator to do in Mattermost (a search re-index), done.
    g.follow_reindex_notes(&run.all());
    let report = g.check(&[&user.log], &["--outage-at", &outage.to_string()]);
    figure("us-west-1 down (pilot light)", &report);
    assert_lost_only_unreplicated("us-west-1 down", &report, outage);
    let since = g.check(&[&user.log], &["--since", &outage.to_string()]);
    assert_nothing_lost("after the failover to us-east-1", &since, EAST);

    // us-west-1 returns: apply finishes the deferred steps.
    let back = now();
    g.region(WEST, false);
    let keep = ["--var", "active_region=secondary"];
    let run = g.ok(0, &[&["apply", ".", "--auto-approve"][..], &keep].concat());
    let applied = now();
    assert!(run.stdout.contains("Failover finished"), "{}", run.stdout);
    assert_eq!(g.pending(), Vec::<String>::new());
    g.ok(0, &[&["plan", ".", "--detailed-exitcode"][..], &keep].concat());
    user.keep_posting(Duration::from_secs(3));
    // What the run asks the operator to do in Mattermost (a search re-index), done.
    g.follow_reindex_notes(&run.all());
    old_region_returned(&g, &user, "us-west-1 returns", back, applied, EAST);

    // us-east-1 down (Route 53's control plane with it); pilot light in us-west-1 now.
    let outage = now();
    g.region(EAST, true);
    let run = g.ok(0, &["failover", ".", "--to", "primary", "--allow-data-loss", "--auto-approve"]);
    assert!(run.stdout.contains("Failover done"), "{}", run.stdout);
    served_again(&g, &user, "us-east-1 down", outage);
    user.keep_posting(Duration::from_secs(3));
    // What the run asks the operator to do in Mattermost (a search re-index), done.
    g.follow_reindex_notes(&run.all());
    let report = g.check(&[&user.log], &["--since", &(outage - 10.0).to_string(), "--outage-at", &outage.to_string()]);
    figure("us-east-1 down (pilot light, Route 53's API gone)", &report);
    assert_lost_only_unreplicated("us-east-1 down", &report, outage);
    let since = g.check(&[&user.log], &["--since", &outage.to_string()]);
    assert_nothing_lost("after the failover to us-west-1", &since, WEST);

    // us-east-1 returns.
    let back = now();
    g.region(EAST, false);
    let run = g.ok(0, &["apply", ".", "--auto-approve"]);
    let applied = now();
    assert!(run.stdout.contains("Failover finished"), "{}", run.stdout);
    assert_eq!(g.pending(), Vec::<String>::new());
    g.ok(0, &["plan", ".", "--detailed-exitcode"]);
    user.keep_posting(Duration::from_secs(3));
    // What the run asks the operator to do in Mattermost (a search re-index), done.
    g.follow_reindex_notes(&run.all());
    old_region_returned(&g, &user, "us-east-1 returns", back, applied, WEST);
    user.stop();
}

/// After the old region returned at `back` and `apply` ran (it ended at
/// `applied`): no post failed because a database refused it (users sent to
/// a region whose database is read-only), none failed once DNS had moved,
/// and every post since is where users are sent. Two job schedulers ran at
/// once only from the region's return until that apply turned the
/// returning region's off: its nodes boot again by themselves with the
/// settings they had (the scheduler on) before any command can reach them.
fn old_region_returned(g: &GameDay, user: &User, what: &str, back: f64, applied: f64, active: &str) {
    let report = g.check(&[&user.log], &["--since", &back.to_string()]);
    figure(what, &report);
    let hb = &report["heartbeats"];
    eprintln!("game day: {what}: scheduler heartbeats {hb}");
    assert!(hb.get("error").is_none(), "{what}: the heartbeats could not be read: {hb}");
    for o in hb["overlaps"].as_array().unwrap() {
        let (from, to) = (o["from"].as_f64().unwrap(), o["to"].as_f64().unwrap());
        assert!(
            from >= back - 0.5 && to <= applied,
            "{what}: two job schedulers at once outside the region's return and the apply that followed \
             ({back:.1}–{applied:.1}): {o}\n{hb:#}"
        );
    }
    let refused: Vec<&Value> = report["windows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| {
            // The database refused the post, or the attachment's row before it.
            w["errors"].as_object().is_some_and(|e| {
                e.contains_key("app.post.save.app_error") || e.contains_key("app.file_info.save.app_error")
            })
        })
        .collect();
    assert!(refused.is_empty(), "{what}: users were sent where the database refused their posts: {refused:#?}");
    assert_eq!(report["failed_after_dns_moved"], json!([]), "{what}: posts failed after DNS moved: {report:#}");
    assert_nothing_lost(what, &report, active);
}

/// `STANDBY_TEST_KILL_SEED` replays the kill points of an earlier run (the
/// test prints its seed). us-west-1 is down; `standby failover` is killed
/// (SIGKILL) at random points three times, then run to its end, the region
/// still down: users are served in us-east-1, and nothing they had
/// acknowledged before is lost beyond what AWS loses.
#[test]
fn a_failover_killed_at_random_points_resumes_with_the_region_still_down() {
    let seed: u64 = std::env::var("STANDBY_TEST_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1);
    eprintln!("kill points from seed {seed} (replay: STANDBY_TEST_KILL_SEED={seed})");
    let mut rng = Seeded(seed);
    let g = GameDay::new("gameday-killed", Primary::Adopted, None);
    g.standin();
    g.first_deployment(&["apply", ".", "--auto-approve"]);
    let user = g.user("killed");
    user.wait_acknowledged(now(), DEADLINE).expect("users post before the outage");
    user.keep_posting(Duration::from_secs(2));
    let outage = now();
    g.region(WEST, true);
    let args = ["failover", ".", "--to", "secondary", "--allow-data-loss", "--auto-approve"];
    for n in 0..3 {
        // A failover with a pilot-light survivor takes seconds here (nodes boot for real).
        let at = Duration::from_secs_f64(8.0 * rng.next_f64());
        let mut child = g.cmd(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(at);
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let _ = child.wait();
        eprintln!(
            "run {n}: failover killed at {:.2}s{}",
            at.as_secs_f64(),
            if finished { " (it had finished)" } else { "" }
        );
    }
    let run = g.ok(0, &args);
    eprintln!("{}", run.stdout);
    served_again(&g, &user, "a killed failover, resumed", outage);
    user.keep_posting(Duration::from_secs(3));
    // What the run asks the operator to do in Mattermost (a search re-index), done.
    g.follow_reindex_notes(&run.all());
    let log = user.stop();
    let report = g.check(&[&log], &["--outage-at", &outage.to_string()]);
    figure(&format!("killed failover (seed {seed})"), &report);
    assert_lost_only_unreplicated("killed failover", &report, outage);
    let since = g.check(&[&log], &["--since", &outage.to_string()]);
    assert_nothing_lost(&format!("after a killed failover, resumed (seed {seed})"), &since, EAST);
}

/// No adoption: standby makes every cluster, bucket and domain. The Aurora
/// module makes Mattermost's database; the operator makes its user once with
/// the SQL of modules/mattermost-app-tier/README.md, then the nodes boot
/// and serve.
#[test]
fn a_first_deployment_on_a_cluster_standby_creates_boots_and_serves() {
    let g = GameDay::new("gameday-created", Primary::Created, None);
    g.ok(0, &["apply", ".", "--auto-approve", "--target", "module.database"]);
    let user = format!("\"{MM_DB_USER}\"");
    let made = g.psql_as_master(&[
        &format!("CREATE USER {user} PASSWORD '{MM_DB_PASSWORD}'"),
        &format!("GRANT ALL PRIVILEGES ON DATABASE mattermost TO {user}"),
        &format!("GRANT {user} TO CURRENT_USER"),
        &format!("ALTER DATABASE mattermost OWNER TO {user}"),
        &format!("ALTER SCHEMA public OWNER TO {user}"),
        &format!("GRANT USAGE, CREATE ON SCHEMA public TO {user}"),
    ]);
    assert_eq!(made.code, 0, "making Mattermost's database user as the README says:\n{}", made.all());
    // A new search domain has none of Mattermost's indices yet, and the
    // replication of an index needs it on the leader: that part of the
    // first apply may wait for Mattermost (its bulk index), and nothing else.
    let first = g.run(&["apply", ".", "--auto-approve"]);
    assert!(!first.stderr.contains("panicked"), "{}", first.stderr);
    if first.code != 0 {
        let failed: Vec<&str> =
            first.stderr.lines().filter(|l| l.contains("failed:") && !l.starts_with("Error:")).collect();
        assert!(
            !failed.is_empty()
                && failed.iter().all(|l| l.contains("opensearch_index_replication") && l.contains("index_not_found")),
            "the first apply failed for another reason than the leader's indices:\n{}",
            first.all()
        );
    }
    let done = now();
    let user = g.user("first");
    let served = user.wait_acknowledged(done, DEADLINE).unwrap_or_else(|| {
        panic!("no post acknowledged through DNS {DEADLINE:?} after the first apply\n{}", g.diagnose())
    });
    user.stop();
    eprintln!("game day: created cluster: first post acknowledged through DNS {:.1} s after the apply", served - done);
    g.wait_region_serves(WEST);
    // Mattermost's bulk index makes the other indices (the stand-in indexes posts only), then apply again.
    g.bulk_index();
    g.ok(0, &["apply", ".", "--auto-approve"]);
    let user = g.user("created");
    user.wait_acknowledged(now(), DEADLINE).expect("users post");
    user.keep_posting(Duration::from_secs(2));
    let log = user.stop();
    let report = g.check(&[&log], &[]);
    assert_nothing_lost("a first deployment", &report, WEST);
    assert_one_scheduler("a first deployment", &report);
    g.ok(0, &["plan", ".", "--detailed-exitcode"]);
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

/// A failover drill on the game day, as its users and operators see it:
/// the whole example serving its site over HTTPS (production's site URL),
/// a user posting through DNS the whole time, then `standby drill --channel
/// <the user's channel> --keep` with the token of that user
/// (`STANDBY_DRILL_TOKEN`) and the game-day world's proxy (`HTTP_PROXY`,
/// `HTTPS_PROXY`): the report (JSON, checked against its schema) says the
/// drill posted (201 through its own load balancer), with RTO and RPO
/// (printed, not asserted against a clock); the drill's post is read on the
/// copy through its load balancer and is not in production (read through
/// DNS); the user kept posting without a failure; after `--cleanup ID`
/// nothing drill-named is left in EC2, ELB, Auto Scaling, IAM, RDS,
/// OpenSearch or Secrets Manager.
#[test]
fn a_drill_posts_on_its_copy_not_on_production_while_users_keep_posting() {
    let mut g = GameDay::new("drill", Primary::Adopted, None);
    g.use_https();
    g.standin();
    g.first_deployment(&["apply", ".", "--auto-approve"]);
    let user = g.user("drilled");
    user.keep_posting(Duration::from_secs(2));
    assert_eq!(g.drill_named(), Vec::<String>::new(), "drill-named resources before any drill");
    let proxy = g.control("GET", "/_emulator/proxy", None)["url"].as_str().unwrap().to_string();
    let ca = g.world_ca();

    let started = now();
    g.mark("standby drill");
    let run: Run = g
        .cmd(&["drill", ".", "--auto-approve", "--keep", "--channel", CHANNEL, "--format", "json"])
        .env("STANDBY_DRILL_TOKEN", MM_TOKEN)
        .env("HTTP_PROXY", &proxy)
        .env("HTTPS_PROXY", &proxy)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("STANDBY_OPENSEARCH_CA_BUNDLE", &ca)
        .output()
        .expect("standby drill")
        .into();
    let ended = now();
    g.mark(&format!("standby drill exited {}", run.code));
    g.keep("standby-drill", &run.all());
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(run.code, 0, "standby drill:\n{}\n{}", run.all(), g.diagnose());
    assert!(!run.all().contains(MM_TOKEN), "the token was printed");
    let record = std::fs::read_to_string(g.dir.join("state/standby.drill.json")).expect("the drill's record");
    assert!(!record.contains(MM_TOKEN), "the token is in the drill's record");
    // Through the operator's proxy: production's newest post read at the site URL (Route 53's
    // answer), the copy reached by its load balancer's name, both over HTTPS (CONNECT).
    let through = g.control("GET", "/_emulator/proxy", None)["requests"].clone();
    let tunnels: Vec<&str> = through
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "CONNECT" && r["status"] == 200)
        .filter_map(|r| r["target"].as_str())
        .collect();
    assert!(tunnels.contains(&format!("{HOSTNAME}:443").as_str()), "production not read through the proxy: {through}");
    assert_valid("drill-report", &run.stdout);
    let report: Value = serde_json::from_str(&run.stdout).expect("the drill's JSON report");
    let id = report["id"].as_str().unwrap().to_string();
    eprintln!(
        "game day: drill {id}: {} s in all; RTO {} s (to the {}), RPO {} s ({}); post {}; app {}",
        report["seconds"],
        report["rto_seconds"],
        report["rto_to"].as_str().unwrap_or("?"),
        report["rpo_seconds"],
        report["rpo_detail"].as_str().unwrap_or_default(),
        report["post"],
        report["app"],
    );
    for s in report["steps"].as_array().into_iter().flatten() {
        eprintln!("game day:   {} {} s: {}", s["id"].as_str().unwrap_or("?"), s["seconds"], s["outcome"]);
    }
    // What the operator sees: posted through the drill's own load balancer, RTO to that post, RPO measured.
    assert_eq!(report["post"]["outcome"], "posted", "{report:#}");
    let post_id = report["post"]["post_id"].as_str().expect("the drill's post id").to_string();
    assert_eq!(report["rto_to"], "post", "{report:#}");
    assert!(report["rto_seconds"].as_f64().is_some_and(|s| s > 0.0), "{report:#}");
    // RPO against production's newest post as of the copy's own moment (read once the copy serves):
    // the copy, a clone of the standby, can lag it (replication), never lead it (one clock here).
    assert!(report["rpo_seconds"].as_f64().is_some_and(|s| s >= 0.0), "RPO not measured: {report:#}");
    let rpo = report["rpo_detail"].as_str().unwrap_or_default();
    assert!(
        [
            "the copy shows production's newest post as of the copy's moment (",
            "production's newest post as of the copy's moment ("
        ]
        .iter()
        .any(|w| rpo.starts_with(w))
            && (rpo.contains("(the clone call's return)") || rpo.contains("(the full copy's LatestRestorableTime)")),
        "RPO's wording: {rpo}"
    );
    assert!(
        report["rto_app_seconds"].as_f64().is_some_and(|a| a > 0.0 && a <= report["rto_seconds"].as_f64().unwrap()),
        "{report:#}"
    );
    let lb = report["app"]["load_balancer"].as_str().expect("the drill's load balancer").to_string();
    assert!(lb.contains("-drill-") && lb.ends_with(".us-east-1.elb.amazonaws.com"), "{lb}");
    assert!(tunnels.contains(&format!("{lb}:443").as_str()), "the copy not reached through the proxy: {through}");

    // The copy has the drill's post (read through the drill's load balancer); production has not
    // (read through DNS, as users reach it): the copy is apart from production.
    let on_copy = g.read_mattermost(&lb, &format!("/api/v4/posts/{post_id}"));
    assert_eq!(on_copy["status"], 200, "the drill's post on the copy: {on_copy}");
    assert_eq!(on_copy["body"]["channel_id"], CHANNEL, "{on_copy}");
    let on_production = g.read_mattermost(HOSTNAME, &format!("/api/v4/posts/{post_id}"));
    assert_eq!(on_production["status"], 404, "the drill's post reached production: {on_production}");
    let newest = g.read_mattermost(HOSTNAME, &format!("/api/v4/channels/{CHANNEL}/posts?per_page=200"));
    assert_eq!(newest["status"], 200, "{newest}");
    assert!(!newest["body"]["order"].as_array().unwrap().iter().any(|i| i == post_id.as_str()), "{newest}");
    assert_ne!(on_copy["address"], on_production["address"], "the copy answered at production's address");
    // Mattermost's search works on the copy: the drill's post indexed there (as Mattermost's own
    // search user, made on the search copy) and found by a search OpenSearch answers.
    let found = g.ask_mattermost(&lb, "POST", "/api/v4/teams/t/posts/search", Some(serde_json::json!({ "terms": id })));
    assert_eq!(found["status"], 200, "a search on the copy: {found}");
    assert_eq!(found["headers"]["X-Standby-Search-Backend"], "opensearch", "not searched on the search copy: {found}");
    assert!(
        found["body"]["order"].as_array().is_some_and(|o| o.iter().any(|i| i == post_id.as_str())),
        "the drill's post not found by a search on the copy: {found}"
    );

    // Kept: the drill's app tier exists (the listing below sees what it must not find later).
    let kept = g.drill_named();
    for kind in ["ec2-instance", "load-balancer", "target-group", "auto-scaling-group", "iam-role", "rds-cluster"] {
        assert!(kept.iter().any(|k| k.starts_with(kind)), "no kept {kind} among {kept:#?}");
    }
    let cleanup = g.ok(0, &["drill", ".", "--cleanup", &id, "--auto-approve"]);
    assert!(!cleanup.all().contains(MM_TOKEN));
    let left = g.drill_named();
    assert_eq!(left, Vec::<String>::new(), "left behind by the drill:\n{}", cleanup.all());

    // What users saw: posting went on through the drill, nothing failed, nothing lost.
    user.keep_posting(Duration::from_secs(2));
    let log = user.stop();
    let seen = g.check(&[&log], &["--since", &started.to_string()]);
    figure("drill", &seen);
    eprintln!("game day: the drill ran {:.1} s while users posted", ended - started);
    assert_eq!(seen["failed"], 0, "users' posts failed during the drill: {seen:#}");
    assert_nothing_lost("drill", &seen, WEST);
}
