//! The app tier in both regions (modules/mattermost-app-tier, as
//! examples/mattermost-dr/app.yaml uses it) through the built binary,
//! against the emulator. What AWS holds is checked with the AWS SDK, never
//! through standby. The checks on Mattermost's settings run before any AWS
//! call: those tests run with no emulator at all.

mod common;

use aws_sdk_autoscaling::Client as Asg;
use aws_sdk_ec2::Client as Ec2;
use aws_sdk_ec2::types::{Filter, SecurityGroupRule};
use aws_sdk_elasticloadbalancingv2::Client as Elb;
use aws_sdk_iam::Client as Iam;
use common::{Emulator, Run, copy_dir, repo, scratch, write_files};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

const WEST: &str = "us-west-1";
const EAST: &str = "us-east-1";
/// A secret of the configuration; it must appear nowhere in the app tier.
const DB_PASSWORD: &str = "Db-Secret-4!xq";

struct World {
    emu: Emulator,
    dir: PathBuf,
    rt: tokio::runtime::Runtime,
    ec2: BTreeMap<&'static str, Ec2>,
    elb: BTreeMap<&'static str, Elb>,
    asg: BTreeMap<&'static str, Asg>,
    iam: Iam,
    certificate: String,
}

impl World {
    fn new() -> World {
        let root = scratch("app-tier");
        copy_dir(&repo().join("tests/fixtures/app_tier"), &root.join("tests/fixtures/app_tier"));
        copy_dir(&repo().join("modules"), &root.join("modules"));
        let emu = Emulator::start();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let endpoint = emu.endpoint();
        let mut w = World {
            dir: root.join("tests/fixtures/app_tier"),
            rt,
            ec2: BTreeMap::new(),
            elb: BTreeMap::new(),
            asg: BTreeMap::new(),
            iam: Iam::from_conf(aws_sdk_iam::Config::builder().behavior_version_latest().build()),
            certificate: String::new(),
            emu,
        };
        for region in [WEST, EAST] {
            let config = w.rt.block_on(async { common::sdk_config(&endpoint, region).await });
            w.ec2.insert(region, Ec2::new(&config));
            w.elb.insert(region, Elb::new(&config));
            w.asg.insert(region, Asg::new(&config));
            if region == EAST {
                w.iam = Iam::new(&config);
            }
        }
        w.certificate = w.request_certificate(WEST, "chat.example.com");
        w
    }

    /// An ACM certificate in the emulator (ACM's JSON protocol; the
    /// emulator reads the region from the credential scope).
    fn request_certificate(&self, region: &str, domain: &str) -> String {
        use std::io::{Read, Write};
        let addr = self.emu.endpoint().trim_start_matches("http://").to_string();
        let body = format!(r#"{{"DomainName":"{domain}"}}"#);
        let mut conn = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            conn,
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\n\
             X-Amz-Target: CertificateManager.RequestCertificate\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=testing/20261201/{region}/acm/aws4_request, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).unwrap();
        let json: Value = serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
        json["CertificateArn"].as_str().expect("a certificate ARN").to_string()
    }

    fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    fn run(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut c = self.emu.cmd(&self.dir, args);
        c.env("STANDBY_VAR_certificate_arn", &self.certificate).env("STANDBY_VAR_db_password", DB_PASSWORD);
        for (k, v) in vars {
            c.env(format!("STANDBY_VAR_{k}"), v);
        }
        c.output().expect("run standby").into()
    }

    fn ok(&self, code: i32, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let run = self.run(args, vars);
        assert_eq!(run.code, code, "standby {}:\n{}", args.join(" "), run.all());
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(!run.all().contains(DB_PASSWORD), "the password leaked:\n{}", run.all());
        run
    }

    fn group_id(&self, region: &str, name: &str) -> String {
        let out = self
            .block(
                self.ec2[region]
                    .describe_security_groups()
                    .filters(Filter::builder().name("group-name").values(name).build())
                    .send(),
            )
            .unwrap();
        out.security_groups()[0].group_id().unwrap().to_string()
    }

    fn rules(&self, region: &str, group: &str) -> Vec<SecurityGroupRule> {
        let out = self
            .block(
                self.ec2[region]
                    .describe_security_group_rules()
                    .filters(Filter::builder().name("group-id").values(group).build())
                    .send(),
            )
            .unwrap();
        out.security_group_rules().to_vec()
    }

    /// The latest version of a launch template: number, data.
    fn template(&self, region: &str, name: &str) -> (i64, aws_sdk_ec2::types::ResponseLaunchTemplateData) {
        let out = self
            .block(
                self.ec2[region]
                    .describe_launch_template_versions()
                    .launch_template_name(name)
                    .versions("$Latest")
                    .send(),
            )
            .unwrap();
        let v = &out.launch_template_versions()[0];
        (v.version_number().unwrap(), v.launch_template_data().unwrap().clone())
    }

    fn calls(&self) -> Vec<Value> {
        let (_, text) = common::http(&self.emu.endpoint(), "GET", "/_emulator/calls", None, "", None);
        serde_json::from_str::<Value>(&text).unwrap().as_array().cloned().unwrap_or_default()
    }

    fn forget_calls(&self) {
        common::http(&self.emu.endpoint(), "DELETE", "/_emulator/calls", None, "", None);
    }
}

/// A rule's shape: (egress, protocol, from, to, source) with the source a
/// CIDR, a prefix list or the referenced group.
fn shape(r: &SecurityGroupRule) -> (bool, String, i32, i32, String) {
    let source = r
        .cidr_ipv4()
        .or(r.prefix_list_id())
        .map(str::to_string)
        .or_else(|| r.referenced_group_info().and_then(|g| g.group_id()).map(str::to_string))
        .unwrap_or_default();
    (
        r.is_egress().unwrap(),
        r.ip_protocol().unwrap().to_string(),
        r.from_port().unwrap_or(-1),
        r.to_port().unwrap_or(-1),
        source,
    )
}

/// The id of the security group with this name, if any.
fn group_named(rt: &tokio::runtime::Runtime, ec2: &Ec2, name: &str) -> Option<String> {
    let out = rt
        .block_on(
            ec2.describe_security_groups().filters(Filter::builder().name("group-name").values(name).build()).send(),
        )
        .unwrap();
    out.security_groups().first().and_then(|g| g.group_id()).map(str::to_string)
}

/// A group's rules, as [`shape`]s, sorted.
fn rules_of(rt: &tokio::runtime::Runtime, ec2: &Ec2, id: &str) -> Vec<(bool, String, i32, i32, String)> {
    let out = rt
        .block_on(
            ec2.describe_security_group_rules().filters(Filter::builder().name("group-id").values(id).build()).send(),
        )
        .unwrap();
    sorted(out.security_group_rules().iter().map(shape).collect())
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// The value user data's heredoc sets for `name` (double-quoted for
/// systemd; secrets are written at boot, not here).
fn setting<'a>(user_data: &'a str, name: &str) -> Option<&'a str> {
    user_data.lines().find_map(|l| l.strip_prefix(&format!("{name}=")).map(|v| v.trim_matches('"')))
}

/// AWS-assigned ids and ARNs out of text people read.
fn redact(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let next = ["sg-", "lt-", "sgr-", "arn:aws:"].iter().filter_map(|p| rest.find(p).map(|i| (i, *p))).min();
        let Some((i, p)) = next else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find(|c: char| c == '"' || c.is_whitespace() || c == ',').unwrap_or(tail.len());
        out.push_str(&format!("[{}]", p.trim_end_matches(['-', ':'])));
        rest = &tail[end..];
    }
    out
}

#[test]
fn app_tier_in_both_regions() {
    let w = World::new();
    let plan = w.ok(0, &["plan", "."], &[]);
    assert!(plan.all().contains("plain HTTP"), "the HTTP listener is warned about:\n{}", plan.all());
    let started = Instant::now();
    let apply = w.ok(0, &["apply", ".", "--auto-approve"], &[]);
    eprintln!("app tier fixture: apply took {:.1}s", started.elapsed().as_secs_f64());
    assert!(apply.stdout.contains("Apply complete!"), "{}", apply.stdout);

    for (region, other, active, port, cidrs) in
        [(WEST, EAST, true, 443, vec!["198.51.100.0/24", "203.0.113.0/24"]), (EAST, WEST, false, 80, vec!["0.0.0.0/0"])]
    {
        // Groups and rules: 8065 only from the load balancer's group, gossip
        // 8074 TCP and UDP from the app group itself, users on the listener's port.
        let lb = w.group_id(region, &format!("mm-app-lb-{region}"));
        let app = w.group_id(region, &format!("mm-app-app-{region}"));
        let app_rules = sorted(w.rules(region, &app).iter().map(shape).collect());
        assert_eq!(
            app_rules,
            sorted(vec![
                (false, "tcp".into(), 8065, 8065, lb.clone()),
                (false, "tcp".into(), 8074, 8074, app.clone()),
                (false, "udp".into(), 8074, 8074, app.clone()),
                (true, "-1".into(), -1, -1, "0.0.0.0/0".into()),
            ]),
            "{region}"
        );
        let mut lb_rules: Vec<_> =
            cidrs.iter().map(|c| (false, "tcp".to_string(), port, port, c.to_string())).collect();
        lb_rules.push((true, "tcp".into(), 8065, 8065, app.clone()));
        // Route 53's health checkers, whatever the user ranges: AWS's prefix list.
        let checkers = w
            .block(
                w.ec2[region]
                    .describe_managed_prefix_lists()
                    .filters(
                        Filter::builder()
                            .name("prefix-list-name")
                            .values(format!("com.amazonaws.{region}.route53-healthchecks"))
                            .build(),
                    )
                    .send(),
            )
            .unwrap();
        let checkers = checkers.prefix_lists()[0].prefix_list_id().unwrap().to_string();
        lb_rules.push((false, "tcp".into(), port, port, checkers));
        assert_eq!(sorted(w.rules(region, &lb).iter().map(shape).collect()), sorted(lb_rules), "{region}");

        // The launch template: this region's settings, no secret.
        let (version, data) = w.template(region, &format!("mm-app-app-{region}"));
        assert_eq!(version, 1);
        assert_eq!(data.instance_type().unwrap().as_str(), "t3.micro");
        assert_eq!(data.iam_instance_profile().unwrap().name(), Some(format!("mm-app-app-{region}").as_str()));
        assert_eq!(data.security_group_ids(), std::slice::from_ref(&app));
        assert_eq!(data.metadata_options().unwrap().http_tokens().unwrap().as_str(), "required");
        let bytes = aws_smithy_types::base64::decode(data.user_data().unwrap()).unwrap();
        let ud = String::from_utf8(bytes).unwrap();
        let (db, search) = if region == WEST { ("db-west", "search-os-west") } else { ("db-east", "search-os-east") };
        let want = [
            ("MM_SERVICESETTINGS_SITEURL", "https://chat.example.com".to_string()),
            ("MM_CLUSTERSETTINGS_ENABLE", "true".into()),
            ("MM_CLUSTERSETTINGS_CLUSTERNAME", format!("mm-app-{region}")),
            ("MM_CLUSTERSETTINGS_GOSSIPPORT", "8074".into()),
            ("MM_JOBSETTINGS_RUNSCHEDULER", active.to_string()),
            ("MM_JOBSETTINGS_RUNJOBS", active.to_string()),
            ("MM_FILESETTINGS_DRIVERNAME", "amazons3".into()),
            ("MM_FILESETTINGS_AMAZONS3BUCKET", format!("mm-app-files-{region}")),
            ("MM_FILESETTINGS_AMAZONS3REGION", region.into()),
            ("MM_ELASTICSEARCHSETTINGS_BACKEND", "opensearch".into()),
            ("MM_ELASTICSEARCHSETTINGS_SNIFF", "false".into()),
            ("MM_ELASTICSEARCHSETTINGS_USERNAME", "mattermost".into()),
        ];
        for (name, value) in &want {
            assert_eq!(setting(&ud, name), Some(value.as_str()), "{region} {name}:\n{ud}");
        }
        let url = setting(&ud, "MM_ELASTICSEARCHSETTINGS_CONNECTIONURL").unwrap();
        assert!(url.starts_with(&format!("https://{search}-")), "{url}");
        // The DSNs (writer through the global writer endpoint, reads in
        // this region) and the search password are written at boot from
        // this region's secrets, with the password; none is in the heredoc.
        for name in
            ["MM_SQLSETTINGS_DATASOURCE", "MM_SQLSETTINGS_DATASOURCEREPLICAS", "MM_ELASTICSEARCHSETTINGS_PASSWORD"]
        {
            assert_eq!(setting(&ud, name), None, "{name}");
        }
        assert!(
            ud.contains(&format!("secret '{region}' 'arn:aws:secretsmanager:{region}:123456789012:secret:mm-db-")),
            "{ud}"
        );
        // The writer's certificate is checked against the RDS CA bundle but
        // not for the global endpoint's name (no AWS source says it is
        // there); the reader's, whose name RDS's certificates carry, for both.
        let bundle = "/etc/ssl/certs/rds-global-bundle.pem";
        let tls = format!("?sslmode=verify-ca&sslrootcert={bundle}&connect_timeout=10");
        assert!(
            ud.contains(&format!(
                "line 'MM_SQLSETTINGS_DATASOURCE' 'postgres://mmuser:' '@db.global-abc.global.rds.amazonaws.com:5432/mattermost{tls}' 1"
            )),
            "{ud}"
        );
        let reader =
            ud.lines().find(|l| l.starts_with("printf '%s' \"$value\" | line 'MM_SQLSETTINGS_DATASOURCEREPLICAS'"));
        let reader = reader.unwrap_or_else(|| panic!("{ud}"));
        assert!(reader.contains(&format!("'@{db}.cluster-ro-")), "{reader}");
        assert!(reader.contains(&format!("?sslmode=verify-full&sslrootcert={bundle}&")), "{reader}");
        // Without the bundle the node stops before Mattermost, saying why.
        assert!(ud.contains(&format!("[[ -r '{bundle}' ]] || {{ say 'this AMI lacks the CA bundle")), "{ud}");
        assert!(!ud.contains(other), "{region}'s user data names {other}:\n{ud}");
        for name in standby::mattermost::names_in(&ud) {
            assert!(standby::mattermost::setting_type(name).is_some(), "{name}");
        }
        assert!(!format!("{data:?}").contains(DB_PASSWORD) && !ud.contains(DB_PASSWORD));

        // Load balancer, target group with the ping check, listener, group.
        let elb = &w.elb[region];
        let lbs = w.block(elb.describe_load_balancers().names(format!("mm-app-app-{region}")).send()).unwrap();
        let lb_arn = lbs.load_balancers()[0].load_balancer_arn().unwrap().to_string();
        assert_eq!(lbs.load_balancers()[0].security_groups(), std::slice::from_ref(&lb));
        let zone = if region == WEST { "Z368ELLRRE2KJ0" } else { "Z35SXDOTRQ7X7K" };
        assert_eq!(lbs.load_balancers()[0].canonical_hosted_zone_id(), Some(zone));
        let tgs = w.block(elb.describe_target_groups().names(format!("mm-app-{region}")).send()).unwrap();
        let tg = &tgs.target_groups()[0];
        // Liveness only: the group replaces nodes that fail it (ELB), so it
        // never writes to the database (a writer outage would replace them all).
        assert_eq!((tg.port(), tg.health_check_path()), (Some(8065), Some("/api/v4/system/ping")));
        assert_eq!(tg.matcher().unwrap().http_code(), Some("200"));
        let listeners = w.block(elb.describe_listeners().load_balancer_arn(&lb_arn).send()).unwrap();
        let l = &listeners.listeners()[0];
        assert_eq!(l.port(), Some(port));
        assert_eq!(l.default_actions()[0].target_group_arn(), tg.target_group_arn());
        if region == WEST {
            assert_eq!(l.protocol().unwrap().as_str(), "HTTPS");
            assert_eq!(l.certificates()[0].certificate_arn(), Some(w.certificate.as_str()));
        } else {
            assert_eq!(l.protocol().unwrap().as_str(), "HTTP");
        }
        let groups = w
            .block(
                w.asg[region]
                    .describe_auto_scaling_groups()
                    .auto_scaling_group_names(format!("mm-app-app-{region}"))
                    .send(),
            )
            .unwrap();
        let g = &groups.auto_scaling_groups()[0];
        assert_eq!(g.target_group_arns(), [tg.target_group_arn().unwrap().to_string()]);
        assert_eq!(g.launch_template().unwrap().version(), Some("1"));
        assert_eq!(g.health_check_type(), Some("ELB"));
        let health =
            w.block(elb.describe_target_health().target_group_arn(tg.target_group_arn().unwrap()).send()).unwrap();
        assert_eq!(health.target_health_descriptions().len(), 1, "the group's node is registered");

        // The nodes' role: this region's bucket, these secrets.
        let role = format!("mm-app-app-{region}");
        let profile = w.block(w.iam.get_instance_profile().instance_profile_name(&role).send()).unwrap();
        assert_eq!(profile.instance_profile().unwrap().roles()[0].role_name(), role);
        let policy = w.block(w.iam.get_role_policy().role_name(&role).policy_name("mattermost").send()).unwrap();
        let doc = urlencoding_decode(policy.policy_document());
        assert!(doc.contains(&format!("arn:aws:s3:::mm-app-files-{region}/*")), "{doc}");
        assert!(doc.contains(&format!("arn:aws:secretsmanager:{region}:123456789012:secret:mm-search-")), "{doc}");
        assert!(!doc.contains(other), "{doc}");
    }
    let state = std::fs::read_to_string(w.dir.join("state/standby.json")).unwrap_or_default();
    assert!(!state.is_empty() && !state.contains(DB_PASSWORD));

    // `standby output`: each region's settings, secrets as (sensitive).
    let out = w.ok(0, &["output", "settings_secondary"], &[]);
    assert!(out.stdout.contains("MM_JOBSETTINGS_RUNSCHEDULER"), "{}", out.stdout);
    let json = w.ok(0, &["output", "--json"], &[]);
    let outputs: Value = serde_json::from_str(&json.stdout).unwrap();
    let settings = |r: &str| outputs[format!("settings_{r}")]["value"].clone();
    assert_eq!(settings("primary")["MM_ELASTICSEARCHSETTINGS_PASSWORD"], "(sensitive)");
    assert_eq!(
        settings("secondary")["MM_SQLSETTINGS_DATASOURCE"].as_str().unwrap(),
        "postgres://mmuser:(sensitive)@db.global-abc.global.rds.amazonaws.com:5432/mattermost?sslmode=verify-ca&sslrootcert=/etc/ssl/certs/rds-global-bundle.pem&connect_timeout=10"
    );
    assert_eq!(settings("primary")["MM_JOBSETTINGS_RUNSCHEDULER"], "true");
    // What Route 53 needs from the module: the load balancer's name and zone.
    assert_eq!(outputs["lb_zone_id_primary"]["value"], "Z368ELLRRE2KJ0");
    assert!(outputs["lb_dns_name_primary"]["value"].as_str().unwrap().contains("us-west-1.elb.amazonaws.com"));
    assert_eq!(settings("secondary")["MM_JOBSETTINGS_RUNSCHEDULER"], "false");
    insta::assert_snapshot!("output_settings_secondary", out.stdout);

    // Calls per read of each new kind, counted on a refresh.
    w.forget_calls();
    w.ok(0, &["plan", ".", "--detailed-exitcode"], &[]);
    let mut ops: BTreeMap<String, usize> = BTreeMap::new();
    for c in w.calls() {
        *ops.entry(c["operation"].as_str().unwrap_or_default().to_string()).or_default() += 1;
    }
    // Per region: 2 groups, 7 rules (+1 in the west: two user ranges), 1
    // prefix list, 1 template, 1 group, 1 balancer, 1 target group, 1
    // listener; IAM: 2 profiles.
    let expect = [
        ("DescribeSecurityGroups", 4),
        ("DescribeSecurityGroupRules", 15),
        ("DescribeManagedPrefixLists", 2),
        ("DescribeLaunchTemplates", 2),
        ("DescribeLaunchTemplateVersions", 2),
        ("DescribeAutoScalingGroups", 2),
        ("DescribeLoadBalancers", 2),
        ("DescribeTargetGroups", 2),
        ("DescribeListeners", 2),
        ("GetInstanceProfile", 2),
    ];
    for (op, n) in expect {
        assert_eq!(ops.get(op).copied().unwrap_or(0), n, "{op} in {ops:?}");
    }
    // Tags: one DescribeTags per balancer and per target group.
    assert_eq!(ops.get("DescribeTags").copied().unwrap_or(0), 4, "{ops:?}");

    // A new instance type: a new launch template version, an in-place
    // update of the template and of the group, no replacement.
    let vars = [("instance_type", "t3.small")];
    let plan = w.ok(2, &["plan", ".", "--detailed-exitcode"], &vars);
    assert!(plan.stdout.contains("Plan: 0 to add, 4 to change, 0 to destroy."), "{}", plan.stdout);
    assert!(!plan.stdout.contains("must be replaced") && !plan.stdout.contains("forces"), "{}", plan.stdout);
    // The running nodes are: a rolling refresh, said in plain words.
    assert!(
        plan.stdout.contains(
            "instances replaced by a rolling refresh (1 node, new nodes launched before the ones they replace stop)"
        ),
        "{}",
        plan.stdout
    );
    insta::assert_snapshot!("instance_type_change_plan", redact(&plan.stdout));
    w.ok(0, &["apply", ".", "--auto-approve"], &vars);
    for region in [WEST, EAST] {
        let name = format!("mm-app-app-{region}");
        let (version, data) = w.template(region, &name);
        assert_eq!((version, data.instance_type().unwrap().as_str()), (2, "t3.small"));
        // All settings are in the new version, not only the changed one.
        assert_eq!(data.image_id(), Some("ami-0abcdef1234567890"));
        assert!(data.user_data().is_some());
        let t = w.block(w.ec2[region].describe_launch_templates().launch_template_names(&name).send()).unwrap();
        assert_eq!(t.launch_templates()[0].default_version_number(), Some(2));
        let groups =
            w.block(w.asg[region].describe_auto_scaling_groups().auto_scaling_group_names(&name).send()).unwrap();
        assert_eq!(groups.auto_scaling_groups()[0].launch_template().unwrap().version(), Some("2"));
    }
    w.ok(0, &["plan", ".", "--detailed-exitcode"], &vars);

    // Each new kind adopts what AWS has by its id: forgotten, imported back,
    // the plan has nothing to do.
    let app = w.group_id(WEST, "mm-app-app-us-west-1");
    let gossip = w
        .rules(WEST, &app)
        .into_iter()
        .find(|r| r.ip_protocol() == Some("udp"))
        .and_then(|r| r.security_group_rule_id().map(str::to_string))
        .unwrap();
    let name = "mm-app-app-us-west-1".to_string();
    let lt = w.block(w.ec2[WEST].describe_launch_templates().launch_template_names(&name).send()).unwrap();
    let lt = lt.launch_templates()[0].launch_template_id().unwrap().to_string();
    let elb = &w.elb[WEST];
    let lb = w.block(elb.describe_load_balancers().names(&name).send()).unwrap().load_balancers()[0].clone();
    let lb_arn = lb.load_balancer_arn().unwrap().to_string();
    let tg = w.block(elb.describe_target_groups().names("mm-app-us-west-1").send()).unwrap().target_groups()[0].clone();
    let listener = w.block(elb.describe_listeners().load_balancer_arn(&lb_arn).send()).unwrap().listeners()[0].clone();
    let imports = [
        ("module.app_primary.aws_security_group.app", app.clone()),
        ("module.app_primary.aws_vpc_security_group_ingress_rule.app_gossip_udp", gossip),
        ("module.app_primary.aws_launch_template.node_template", lt),
        ("module.app_primary.aws_autoscaling_group.node_group", name.clone()),
        ("module.app_primary.aws_lb.public", lb_arn.clone()),
        ("module.app_primary.aws_lb_target_group.nodes", tg.target_group_arn().unwrap().to_string()),
        ("module.app_primary.aws_lb_listener.public_listener", listener.listener_arn().unwrap().to_string()),
        ("module.app_primary.aws_iam_instance_profile.node_profile", name.clone()),
    ];
    let addrs: Vec<&str> = imports.iter().map(|(a, _)| *a).collect();
    let mut rm = vec!["state", "rm"];
    rm.extend(&addrs);
    w.ok(0, &rm, &vars);
    for (addr, id) in &imports {
        w.ok(0, &["import", addr, id, "."], &vars);
    }
    let plan = w.ok(0, &["plan", ".", "--detailed-exitcode"], &vars);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
}

/// IAM policy documents come URL-encoded.
fn urlencoding_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ------------------------------------------------- checks before any call

/// The fixture with `edit` applied to its text, in a scratch tree with the
/// modules; `standby validate` there, with no AWS at all.
fn validate_with(edit: impl Fn(String) -> String, extra: &[(&str, &str)]) -> Run {
    let root = scratch("app-tier-checks");
    copy_dir(&repo().join("modules"), &root.join("modules"));
    let text = std::fs::read_to_string(repo().join("tests/fixtures/app_tier/main.yaml")).unwrap();
    let dir = root.join("tests/fixtures/app_tier");
    write_files(&dir, &[("main.yaml", &edit(text))]);
    write_files(&dir, extra);
    let run: Run = common::cmd(&dir, &["validate", "."])
        .env("STANDBY_VAR_certificate_arn", "arn:aws:acm:us-west-1:123456789012:certificate/x")
        .env("STANDBY_VAR_db_password", DB_PASSWORD)
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(!run.all().contains(DB_PASSWORD), "{}", run.all());
    run
}

#[test]
fn equal_cluster_names_are_refused() {
    let run = validate_with(|t| t.replace("default: \"mm-app-us-east-1\"", "default: \"mm-app-us-west-1\""), &[]);
    insta::assert_snapshot!("equal_cluster_names", run.stderr);
}

#[test]
fn two_schedulers_are_refused() {
    let run = validate_with(
        |t| {
            t.replace(
                "secondary_active: { type: bool, default: false }",
                "secondary_active: { type: bool, default: true }",
            )
        },
        &[],
    );
    insta::assert_snapshot!("two_schedulers", run.stderr);
}

#[test]
fn unknown_setting_names_are_refused() {
    let extra = "  typo:\n    type: standby_mattermost_config\n    properties:\n      environment:\n        \
                 MM_SQLSETTINGS_MAXOPENCONNS: \"300\"\n        MM_JOBSETTINGS_RUNSCHEDULLER: \"false\"\n        \
                 MM_SERVICESETTINGS_SITEURL: https://chat.example.com\n";
    let run = validate_with(|t| t.replacen("resources:\n", &format!("resources:\n{extra}"), 1), &[]);
    insta::assert_snapshot!("unknown_setting_name", run.stderr);
}

#[test]
fn a_secret_in_user_data_is_refused() {
    // The password passed where the module writes it into user data.
    let run = validate_with(
        |t| {
            t.replacen(
                "site_url: https://chat.example.com",
                "site_url: \"https://${var.db_password}@chat.example.com\"",
                1,
            )
        },
        &[],
    );
    insta::assert_snapshot!("secret_in_user_data", run.stderr);
}

// ------------------------------------------------- rolling instance refresh

impl World {
    fn settings(&self, knobs: Value) {
        let (status, text) =
            common::http(&self.emu.endpoint(), "POST", "/_emulator/settings", None, "", Some(&knobs.to_string()));
        assert!(status < 300, "{status} {text}");
    }

    /// The group's nodes: instance id → launch template version (as Auto Scaling reports it).
    fn nodes(&self, region: &'static str) -> BTreeMap<String, String> {
        let name = format!("mm-app-app-{region}");
        let out = self.block(self.asg[region].describe_auto_scaling_groups().auto_scaling_group_names(name).send());
        out.unwrap().auto_scaling_groups()[0]
            .instances()
            .iter()
            .map(|i| {
                let v = i.launch_template().and_then(|t| t.version()).unwrap_or_default();
                (i.instance_id().unwrap_or_default().to_string(), v.to_string())
            })
            .collect()
    }

    /// EC2's view of running nodes: instance type and `aws:ec2launchtemplate:version`.
    fn launched_from(&self, region: &'static str, ids: &[String]) -> Vec<(String, String)> {
        let out = self.block(self.ec2[region].describe_instances().set_instance_ids(Some(ids.to_vec())).send());
        out.unwrap()
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                let tag = i.tags().iter().find(|t| t.key() == Some("aws:ec2launchtemplate:version"));
                (
                    i.instance_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
                    tag.and_then(|t| t.value()).unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// The group's instance refreshes, newest first: (status, percentage complete).
    fn refreshes(&self, region: &'static str) -> Vec<(String, i32)> {
        let name = format!("mm-app-app-{region}");
        let out = self.block(self.asg[region].describe_instance_refreshes().auto_scaling_group_name(name).send());
        out.unwrap()
            .instance_refreshes()
            .iter()
            .map(|r| {
                (r.status().map(|s| s.as_str().to_string()).unwrap_or_default(), r.percentage_complete().unwrap_or(0))
            })
            .collect()
    }

    fn count(&self, op: &str, region: &str) -> usize {
        self.calls().iter().filter(|c| c["operation"] == op && c["region"] == region).count()
    }
}

#[test]
fn a_launch_template_change_rolls_the_nodes() {
    let w = World::new();
    w.ok(0, &["apply", ".", "--auto-approve"], &[]);
    let before: BTreeMap<&str, BTreeMap<String, String>> = [WEST, EAST].map(|r| (r, w.nodes(r))).into();
    for (region, nodes) in &before {
        assert_eq!(nodes.values().collect::<Vec<_>>(), ["1"], "{region}: one node, version 1");
    }
    // AWS takes its time (here 2.5 s): the apply waits, with progress lines.
    w.settings(serde_json::json!({"asg_refresh_ms": 2500}));
    let vars = [("instance_type", "t3.small")];
    let plan = w.ok(2, &["plan", ".", "--detailed-exitcode"], &vars);
    assert!(
        plan.stdout.contains(
            "# (instances replaced by a rolling refresh (1 node, new nodes launched before the ones they replace stop))"
        ),
        "{}",
        plan.stdout
    );
    w.forget_calls();
    let mut c = w.emu.cmd(&w.dir, &["apply", ".", "--auto-approve"]);
    c.env("STANDBY_VAR_certificate_arn", &w.certificate)
        .env("STANDBY_VAR_db_password", DB_PASSWORD)
        .env("STANDBY_VAR_instance_type", "t3.small")
        .env("STANDBY_PROGRESS_SECS", "1");
    let started = Instant::now();
    let apply: Run = c.output().unwrap().into();
    let took = started.elapsed().as_secs_f64();
    assert_eq!(apply.code, 0, "{}", apply.all());
    assert!(apply.stdout.contains("% complete"), "progress with PercentageComplete:\n{}", apply.stdout);
    for region in [WEST, EAST] {
        // Every node was replaced by one launched from version 2.
        let now = w.nodes(region);
        assert_eq!(now.values().collect::<Vec<_>>(), ["2"], "{region}");
        assert!(now.keys().all(|id| !before[region].contains_key(id)), "{region}: {now:?} vs {:?}", before[region]);
        let ids: Vec<String> = now.keys().cloned().collect();
        assert_eq!(w.launched_from(region, &ids), [("t3.small".to_string(), "2".to_string())], "{region}");
        // One refresh, successful: started once, after the group's update.
        assert_eq!(w.refreshes(region), [("Successful".to_string(), 100)], "{region}");
        assert_eq!(w.count("StartInstanceRefresh", region), 1, "{region}");
        let ops: Vec<String> = w
            .calls()
            .iter()
            .filter(|c| c["region"] == region)
            .filter_map(|c| c["operation"].as_str().map(str::to_string))
            .filter(|o| o.contains("AutoScalingGroup") || o.contains("InstanceRefresh"))
            .collect();
        let at = |op: &str| ops.iter().position(|o| o == op).unwrap_or(usize::MAX);
        assert!(at("UpdateAutoScalingGroup") < at("StartInstanceRefresh"), "{ops:?}");
        // Figures for the notes (not asserted): calls, and how long after
        // AWS's 2.5 s the last look came (the wait's overhead).
        let at = |op: &str| {
            w.calls()
                .iter()
                .filter(|c| c["operation"] == op && c["region"] == region)
                .filter_map(|c| c["at_ms"].as_i64())
                .collect::<Vec<_>>()
        };
        let (start, looks) = (at("StartInstanceRefresh")[0], at("DescribeInstanceRefreshes"));
        eprintln!(
            "refresh in {region}: DescribeInstanceRefreshes {}, StartInstanceRefresh 1, last look {} ms after the \
             start (refresh 2500 ms)",
            looks.len(),
            looks.last().copied().unwrap_or(start) - start
        );
    }
    eprintln!("apply with a 2.5 s refresh per region (concurrent) took {took:.1}s");
    // Done means done: the next plan is clean.
    w.ok(0, &["plan", ".", "--detailed-exitcode"], &vars);
}

#[test]
fn an_apply_killed_during_the_refresh_resumes_without_a_second_refresh() {
    let w = World::new();
    w.ok(0, &["apply", ".", "--auto-approve"], &[]);
    w.settings(serde_json::json!({"asg_refresh_ms": 6000}));
    w.forget_calls();
    let mut child = w
        .emu
        .cmd(&w.dir, &["apply", ".", "--auto-approve"])
        .env("STANDBY_VAR_certificate_arn", &w.certificate)
        .env("STANDBY_VAR_db_password", DB_PASSWORD)
        .env("STANDBY_VAR_instance_type", "t3.small")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed (SIGKILL) once both refreshes are under way.
    let started = Instant::now();
    while [WEST, EAST].iter().any(|r| w.count("StartInstanceRefresh", r) == 0) {
        assert!(started.elapsed().as_secs() < 120, "the refreshes never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    let _ = child.wait();
    for region in [WEST, EAST] {
        let r = w.refreshes(region);
        assert_eq!(r.len(), 1, "{region}: {r:?}");
        assert!(matches!(r[0].0.as_str(), "Pending" | "InProgress"), "{region}: {r:?}");
    }
    // Run again: the refreshes under way are waited on, not started twice.
    w.forget_calls();
    w.ok(0, &["apply", ".", "--auto-approve"], &[("instance_type", "t3.small")]);
    for region in [WEST, EAST] {
        assert_eq!(w.count("StartInstanceRefresh", region), 0, "{region}: a second refresh was started");
        assert!(w.count("DescribeInstanceRefreshes", region) >= 1, "{region}: the refresh under way was not observed");
        assert_eq!(w.refreshes(region), [("Successful".to_string(), 100)], "{region}");
        assert_eq!(w.nodes(region).values().collect::<Vec<_>>(), ["2"], "{region}");
    }
    w.ok(0, &["plan", ".", "--detailed-exitcode"], &[("instance_type", "t3.small")]);
}

// ------------------------------------------------- AWS's eventual consistency

/// A first apply on a fresh account: EC2 refuses the launch template's
/// just-made instance profile for a while (here 3 s: CreateAutoScalingGroup
/// answers "ValidationError … Invalid IAM Instance Profile name", as AWS
/// does until IAM propagates the profile). standby retries as the AWS
/// provider does, and the apply converges in one run.
#[test]
fn a_just_made_instance_profile_is_waited_for() {
    let w = World::new();
    w.settings(serde_json::json!({"iam_profile_visible_ms": 3000}));
    let apply = w.ok(0, &["apply", ".", "--auto-approve"], &[]);
    assert!(apply.stdout.contains("Apply complete!"), "{}", apply.stdout);
    for region in [WEST, EAST] {
        let creates = w.count("CreateAutoScalingGroup", region);
        assert!(creates >= 2, "{region}: the refused create was retried ({creates} calls)");
        assert_eq!(w.nodes(region).len(), 1, "{region}");
    }
    w.ok(0, &["plan", ".", "--detailed-exitcode"], &[]);
}

/// A new security group invisible to EC2's other calls for a while (here
/// 1.5 s: DescribeSecurityGroupRules lists none of its rules, a revoke naming
/// it answers InvalidGroup.NotFound), as EC2's eventual consistency allows:
/// the default egress rule is still revoked (by its permission, once the
/// group is visible), so the load balancers' groups allow no egress but to
/// the nodes, and the nodes' own allow-all rule is no duplicate.
#[test]
fn a_group_not_yet_visible_still_loses_its_default_egress() {
    let w = World::new();
    w.settings(serde_json::json!({"ec2_group_visible_ms": 1500}));
    let apply = w.ok(0, &["apply", ".", "--auto-approve"], &[]);
    assert!(!apply.all().contains("InvalidPermission.Duplicate"), "{}", apply.all());
    for region in [WEST, EAST] {
        let lb = w.group_id(region, &format!("mm-app-lb-{region}"));
        let egress: Vec<_> = w.rules(region, &lb).iter().filter(|r| r.is_egress() == Some(true)).map(shape).collect();
        let app = w.group_id(region, &format!("mm-app-app-{region}"));
        assert_eq!(egress, [(true, "tcp".to_string(), 8065, 8065, app)], "{region}");
        // No marker of an unfinished create is left.
        let groups = w
            .block(
                w.ec2[region]
                    .describe_security_groups()
                    .filters(Filter::builder().name("group-id").values(&lb).build())
                    .send(),
            )
            .unwrap();
        assert!(groups.security_groups()[0].tags().iter().all(|t| t.key() != Some("standby:default-egress")));
    }
    w.ok(0, &["plan", ".", "--detailed-exitcode"], &[]);
}

// ------------------------------------------------- the whole example

/// examples/mattermost-dr, every file, with its modules, without the
/// imports (these tests make the primary with standby).
fn example_copy(name: &str) -> PathBuf {
    let root = scratch(name);
    copy_dir(&repo().join("examples/mattermost-dr"), &root.join("examples/mattermost-dr"));
    copy_dir(&repo().join("modules"), &root.join("modules"));
    std::fs::remove_file(root.join("examples/mattermost-dr/imports.yaml")).unwrap();
    root.join("examples/mattermost-dr")
}

/// The example's variables as the demo sets them (plain HTTP, no certificates).
fn example_cmd(dir: &std::path::Path, emu: Option<&Emulator>, args: &[&str]) -> std::process::Command {
    let mut c = match emu {
        Some(e) => e.cmd(dir, args),
        None => common::cmd(dir, args),
    };
    c.env("STANDBY_VAR_opensearch_master_password", SEARCH_MASTER)
        .env("STANDBY_VAR_db_master_password", "Db-Master-7#wz")
        .env("STANDBY_VAR_opensearch_replication_password", "Srch-Repl-9!kq")
        .env("STANDBY_VAR_opensearch_mattermost_password", "Srch-Mm-9!kq")
        .env("STANDBY_VAR_search_source_ips", r#"["127.0.0.0/8"]"#)
        .env("STANDBY_VAR_deletion_protection", "false")
        .env("STANDBY_VAR_force_destroy", "true")
        .env("STANDBY_VAR_app_ami_id", "ami-0abcdef1234567890")
        .env("STANDBY_VAR_app_listener_protocol", "HTTP")
        .env("STANDBY_VAR_app_listener_port", "80")
        .env("STANDBY_VAR_app_certificate_arn_primary", "null")
        .env("STANDBY_VAR_app_certificate_arn_secondary", "null")
        .env("STANDBY_VAR_app_nodes_passive", "1")
        .env("STANDBY_VAR_mattermost_db_password", DB_PASSWORD)
        .env("STANDBY_VAR_secrets_recovery_window_in_days", "0");
    c
}

/// The existing primary's search side: the leader domain (made by standby
/// here, with its access policy) holding Mattermost's indices, which
/// replication needs before it starts.
fn stand_in_search_leader(emu: &Emulator, dir: &std::path::Path) {
    let leader_policy = "module.search.aws_opensearch_domain_policy.leader_policy";
    let run: Run = example_cmd(dir, Some(emu), &["apply", ".", "--auto-approve", "--target", leader_policy])
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "{}", run.all());
    let (_, text) = common::http(&emu.endpoint(), "GET", "/_emulator/opensearch/domains", None, "", None);
    let domains: Value = serde_json::from_str(&text).unwrap();
    let leader = domains.as_array().unwrap().iter().find(|d| d["domain"] == "mattermost-dr-os-us-west-1").unwrap();
    let host = leader["endpoints"][0].as_str().unwrap();
    for index in ["channels", "users", "files", "posts-2024-06-01"] {
        let (status, body) =
            common::http(&emu.endpoint(), "PUT", &format!("/{index}"), Some(host), SEARCH_MASTER, None);
        assert_eq!(status, 200, "{body}");
    }
}

const SEARCH_MASTER: &str = "Srch-Master-9!kq";

/// A new password for Mattermost's database user is one plan: the secret's
/// new version in both regions, a new launch template version in each (the
/// boot script names the value's version) and each group's rolling refresh;
/// after the apply every node was launched from the new version.
#[test]
fn a_new_database_password_rolls_the_nodes() {
    let emu = Emulator::start();
    let dir = example_copy("app-tier-password");
    let run = |args: &[&str], password: &str| -> Run {
        let out = example_cmd(&dir, Some(&emu), args).env("STANDBY_VAR_mattermost_db_password", password).output();
        let run: Run = out.unwrap().into();
        assert!(!run.all().contains(password), "the password leaked:\n{}", run.all());
        run
    };
    stand_in_search_leader(&emu, &dir);
    let applied = run(&["apply", ".", "--auto-approve"], DB_PASSWORD);
    assert_eq!(applied.code, 0, "{}", applied.all());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let config = rt.block_on(async { common::sdk_config(&emu.endpoint(), WEST).await });
    let asg = Asg::new(&config);
    let nodes = |asg: &Asg| {
        let out = rt
            .block_on(asg.describe_auto_scaling_groups().auto_scaling_group_names("mattermost-dr-app-us-west-1").send())
            .unwrap();
        out.auto_scaling_groups()[0]
            .instances()
            .iter()
            .map(|i| {
                (i.instance_id().unwrap().to_string(), i.launch_template().unwrap().version().unwrap().to_string())
            })
            .collect::<Vec<_>>()
    };
    let before = nodes(&asg);
    // Mattermost's own user, through the global writer endpoint; reads in the region.
    let out = run(&["output", "--json"], DB_PASSWORD);
    let outputs: Value = serde_json::from_str(&out.stdout).unwrap();
    let global = outputs["db_global_writer_endpoint"]["value"].as_str().unwrap().to_string();
    let settings = &outputs["app_settings_secondary"]["value"];
    let dsn = settings["MM_SQLSETTINGS_DATASOURCE"].as_str().unwrap();
    assert!(dsn.starts_with(&format!("postgres://mmuser:(sensitive)@{global}:5432/mattermost?")), "{dsn}");
    let replicas = settings["MM_SQLSETTINGS_DATASOURCEREPLICAS"].as_str().unwrap();
    assert!(replicas.starts_with("postgres://mmuser:(sensitive)@mattermost-dr-db-us-east-1.cluster-ro-"), "{replicas}");
    // The primary standby made has Mattermost's database; its master is not Mattermost's user.
    let rds = aws_sdk_rds::Client::new(&config);
    let cluster = rt.block_on(rds.describe_db_clusters().db_cluster_identifier("mattermost-dr-db-us-west-1").send());
    let cluster = cluster.unwrap().db_clusters()[0].clone();
    assert_eq!((cluster.database_name(), cluster.master_username()), (Some("mattermost"), Some("postgres")));
    // The passive region's capacity follows active_region: a switchover scales it up.
    let switch = run(&["plan", ".", "--json", "--var", "active_region=secondary"], DB_PASSWORD);
    assert_eq!(switch.code, 0, "{}", switch.all());
    let switch: Value = serde_json::from_str(&switch.stdout).unwrap();
    let group = |addr: &str| {
        let c = switch["resource_changes"].as_array().unwrap().iter().find(|c| c["address"] == addr).unwrap().clone();
        let n = |k: &str| (c["change"]["before"][k].as_i64().unwrap(), c["change"]["after"][k].as_i64().unwrap());
        (n("min_size"), n("desired_capacity"))
    };
    assert_eq!(group("module.app_secondary.aws_autoscaling_group.node_group"), ((1, 2), (1, 2)));
    assert_eq!(group("module.app_primary.aws_autoscaling_group.node_group"), ((2, 1), (2, 1)));
    let rotated = "Mm-Db-Rotated-2%x";
    let plan = run(&["plan", ".", "--detailed-exitcode"], rotated);
    assert_eq!(plan.code, 2, "{}", plan.all());
    for addr in [
        "aws_secretsmanager_secret_version.mattermost_db_password_primary_value (us-west-1) will be updated in-place",
        "aws_secretsmanager_secret_version.mattermost_db_password_secondary_value (us-east-1) will be updated in-place",
        "module.app_primary.aws_launch_template.node_template (us-west-1) will be updated in-place",
        "module.app_secondary.aws_launch_template.node_template (us-east-1) will be updated in-place",
        "module.app_primary.aws_autoscaling_group.node_group (us-west-1) will be updated in-place",
    ] {
        assert!(plan.stdout.contains(addr), "{addr}:\n{}", plan.stdout);
    }
    assert!(plan.stdout.contains("instances replaced by a rolling refresh"), "{}", plan.stdout);
    let applied = run(&["apply", ".", "--auto-approve"], rotated);
    assert_eq!(applied.code, 0, "{}", applied.all());
    let after = nodes(&asg);
    assert!(
        after.iter().all(|(id, v)| !before.iter().any(|(b, _)| b == id) && *v != before[0].1),
        "{before:?} -> {after:?}"
    );
    let clean = run(&["plan", ".", "--detailed-exitcode"], rotated);
    assert_eq!(clean.code, 0, "{}", clean.all());
}

/// Unsafe combinations are said before any call, located at the line of
/// the configuration and with the address: the adopted database admitting
/// no app node (warning, the example's default: the operator decides),
/// Mattermost on the master user (warning), an active region with no nodes
/// (error), a warm standby in default VPCs that cannot reach the other
/// region's writer (warning), Route 53's health checkers kept out of the
/// load balancer (warning), a target group check that writes to the
/// database (warning: every outage would replace the nodes).
#[test]
fn unsafe_combinations_are_said_at_plan_time() {
    let dir = example_copy("app-tier-unsafe");
    let validate = |vars: &[(&str, &str)]| -> Run {
        let mut c = example_cmd(&dir, None, &["validate", "."]);
        for (k, v) in vars {
            c.env(format!("STANDBY_VAR_{k}"), v);
        }
        c.output().unwrap().into()
    };
    // The example's own defaults (the tests' runs warm the passive region).
    let fine = validate(&[("app_nodes_passive", "0")]);
    assert_eq!(fine.code, 0, "{}", fine.all());
    let checks = |r: &Run| r.all().lines().filter(|l| l.contains("check.")).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(checks(&fine).len(), 1, "only the database's rules are left to decide:\n{}", fine.all());
    assert!(checks(&fine)[0].contains("check.primary_database_admits_no_app_nodes"), "{}", fine.all());
    let admitted = validate(&[("app_nodes_passive", "0"), ("primary_db_security_group", "sg-0123456789abcdef0")]);
    assert_eq!((admitted.code, checks(&admitted)), (0, vec![]), "{}", admitted.all());
    let created = validate(&[("app_nodes_passive", "0"), ("primary_db_adopted", "false")]);
    assert_eq!((created.code, checks(&created)), (0, vec![]), "{}", created.all());
    // A cluster and its new group in different VPCs: AWS refuses the create.
    for (vars, check) in [
        (
            vec![("primary_db_adopted", "false"), ("vpc_id_primary", "vpc-0123456789abcdef0")],
            "check.the_primary_database_and_its_group_share_a_vpc",
        ),
        (vec![("vpc_id_secondary", "vpc-0fedcba9876543210")], "check.the_secondary_database_and_its_group_share_a_vpc"),
    ] {
        let split = validate(&vars);
        assert_eq!(split.code, 1, "{}", split.all());
        assert!(checks(&split).iter().any(|l| l.starts_with("Error: ") && l.contains(check)), "{}", split.all());
    }
    let warm = validate(&[("app_nodes_passive", "1")]);
    assert_eq!(warm.code, 0, "{}", warm.all());
    let master = validate(&[("mattermost_db_user", "postgres")]);
    assert_eq!(master.code, 0, "{}", master.all());
    let none = validate(&[("app_nodes_active", "0")]);
    assert_eq!(none.code, 1, "{}", none.all());
    // The module's own check, through the fixture with the checkers off.
    let root = scratch("app-tier-closed");
    copy_dir(&repo().join("modules"), &root.join("modules"));
    let text = std::fs::read_to_string(repo().join("tests/fixtures/app_tier/main.yaml")).unwrap();
    let fixture = root.join("tests/fixtures/app_tier");
    let edited =
        text.replacen("      lb_ingress_cidrs:", "      route53_health_checkers: false\n      lb_ingress_cidrs:", 1);
    write_files(&fixture, &[("main.yaml", &edited)]);
    let closed: Run = common::cmd(&fixture, &["validate", "."])
        .env("STANDBY_VAR_certificate_arn", "arn:aws:acm:us-west-1:123456789012:certificate/x")
        .env("STANDBY_VAR_db_password", DB_PASSWORD)
        .output()
        .unwrap()
        .into();
    assert_eq!(closed.code, 0, "{}", closed.all());
    let edited = text.replacen(
        "      lb_ingress_cidrs:",
        "      health_check_path: /api/v4/system/ping?get_server_status=true\n      lb_ingress_cidrs:",
        1,
    );
    write_files(&fixture, &[("main.yaml", &edited)]);
    let deep: Run = common::cmd(&fixture, &["validate", "."])
        .env("STANDBY_VAR_certificate_arn", "arn:aws:acm:us-west-1:123456789012:certificate/x")
        .env("STANDBY_VAR_db_password", DB_PASSWORD)
        .output()
        .unwrap()
        .into();
    assert_eq!(deep.code, 0, "{}", deep.all());
    let mut said: Vec<String> = Vec::new();
    for line in [&fine, &master, &none, &warm, &closed, &deep].into_iter().flat_map(checks) {
        if !said.contains(&line) {
            said.push(line);
        }
    }
    insta::assert_snapshot!("unsafe_combinations", said.join("\n"));
}

/// `database_name` is create-only: on an adopted cluster another name than
/// the one AWS reports is refused at plan time, located, never planned as a
/// replacement; the reported name (or none) imports cleanly.
#[test]
fn an_adopted_clusters_database_is_never_replaced() {
    let emu = Emulator::start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let config = rt.block_on(async { common::sdk_config(&emu.endpoint(), WEST).await });
    let rds = aws_sdk_rds::Client::new(&config);
    rt.block_on(
        rds.create_db_cluster()
            .db_cluster_identifier("prod-db")
            .engine("aurora-postgresql")
            .engine_version("16.4")
            .database_name("chat")
            .master_username("admin")
            .master_user_password("Own-Passw0rd")
            .send(),
    )
    .unwrap();
    let dir = scratch("app-tier-database-name");
    let config = |name: &str| {
        format!(
            "regions: {{ primary: us-west-1, secondary: us-east-1 }}\nimports:\n  - to: aws_rds_cluster.db\n    id: prod-db\n\
             resources:\n  db:\n    type: aws_rds_cluster\n    properties:\n      cluster_identifier: prod-db\n      \
             engine_version: \"16.4\"\n      master_username: admin\n      manage_master_user_password: false\n      \
             skip_final_snapshot: true\n{name}"
        )
    };
    write_files(&dir, &[("main.yaml", &config("      database_name: mattermost\n"))]);
    let refused = emu.standby(&dir, &["plan", "."]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(
        refused.stderr.contains("main.yaml:14:7: aws_rds_cluster.db: cannot import")
            && refused.stderr.contains("`database_name` is \"chat\" in AWS but \"mattermost\" in the configuration"),
        "{}",
        refused.stderr
    );
    for name in ["      database_name: chat\n", ""] {
        write_files(&dir, &[("main.yaml", &config(name))]);
        let plan = emu.standby(&dir, &["plan", ".", "--detailed-exitcode"]);
        assert_eq!(plan.code, 2, "{}", plan.all());
        assert!(plan.stdout.contains("Plan: 1 to import, 0 to add, 0 to change, 0 to destroy."), "{}", plan.stdout);
    }
}

/// A setting removed from the configuration leaves the launch template: the
/// new version carries what the configuration says and inherits nothing
/// (no SourceVersion; the emulator, as AWS, copies a source version's
/// settings into the new one). The plan after is clean.
#[test]
fn a_removed_launch_setting_leaves_the_template() {
    let emu = Emulator::start();
    let dir = scratch("app-tier-removed-setting");
    let config = |profile: &str| {
        format!(
            "regions: {{ primary: us-west-1, secondary: us-east-1 }}\nresources:\n  lt:\n    type: aws_launch_template\n    \
             properties:\n      name: mm-removed\n      image_id: ami-0abcdef1234567890\n      instance_type: t3.micro\n{profile}"
        )
    };
    write_files(&dir, &[("main.yaml", &config("      iam_instance_profile: mm-profile\n"))]);
    assert_eq!(emu.standby(&dir, &["apply", ".", "--auto-approve"]).code, 0);
    write_files(&dir, &[("main.yaml", &config(""))]);
    let apply = emu.standby(&dir, &["apply", ".", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.all());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let config = rt.block_on(async { common::sdk_config(&emu.endpoint(), WEST).await });
    let out = rt
        .block_on(
            Ec2::new(&config)
                .describe_launch_template_versions()
                .launch_template_name("mm-removed")
                .versions("$Latest")
                .send(),
        )
        .unwrap();
    let v = &out.launch_template_versions()[0];
    assert_eq!(v.version_number(), Some(2));
    assert!(v.launch_template_data().unwrap().iam_instance_profile().is_none(), "{v:?}");
    let plan = emu.standby(&dir, &["plan", ".", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
}

/// The app nodes can reach their database, as the plan and AWS show it
/// (the emulator's security groups gate no connection, so the rules are
/// what is tested): the secondary cluster gets a group of its own that
/// admits its region's app nodes and the other region's app subnets; the
/// adopted primary keeps its groups, and gets rules added to the one
/// `primary_db_security_group` names, nothing else. Also what decides each
/// health: the target groups (the Auto Scaling groups' replacement signal)
/// ask the plain ping, only the DNS checks the one that writes to the
/// database.
#[test]
fn the_app_nodes_reach_their_database_and_outages_replace_no_node() {
    let emu = Emulator::start();
    let dir = example_copy("app-tier-db-access");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ec2 = |region: &str| Ec2::new(&rt.block_on(common::sdk_config(&emu.endpoint(), region)));
    let (west, east) = (ec2(WEST), ec2(EAST));
    // Production's own database group, with its own rule.
    let prod = rt.block_on(west.create_security_group().group_name("prod-db").description("prod").send()).unwrap();
    let prod = prod.group_id().unwrap().to_string();
    rt.block_on(
        west.authorize_security_group_ingress()
            .group_id(&prod)
            .ip_protocol("tcp")
            .from_port(5432)
            .to_port(5432)
            .cidr_ip("10.9.0.0/16")
            .send(),
    )
    .unwrap();
    let vars = [
        ("primary_db_security_group", prod.as_str()),
        ("app_subnet_cidrs_primary", r#"["10.1.0.0/24"]"#),
        ("app_subnet_cidrs_secondary", r#"["10.2.0.0/24"]"#),
    ];
    let run = |args: &[&str]| -> Run {
        let mut c = example_cmd(&dir, Some(&emu), args);
        for (k, v) in vars {
            c.env(format!("STANDBY_VAR_{k}"), v);
        }
        c.output().unwrap().into()
    };
    let mut targets = vec!["apply", ".", "--auto-approve"];
    for t in [
        "aws_vpc_security_group_ingress_rule.db_from_app_primary",
        "aws_vpc_security_group_ingress_rule.db_from_secondary_app_subnets",
        "aws_vpc_security_group_ingress_rule.db_from_app_secondary",
        "aws_vpc_security_group_ingress_rule.db_from_primary_app_subnets",
        "module.database.standby_data.secondary_groups",
    ] {
        targets.extend(["--target", t]);
    }
    let applied = run(&targets);
    assert_eq!(applied.code, 0, "{}", applied.all());
    let group = |ec2: &Ec2, name: &str| group_named(&rt, ec2, name);
    let rules = |ec2: &Ec2, id: &str| rules_of(&rt, ec2, id);
    let app_west = group(&west, "mattermost-dr-app-us-west-1").unwrap();
    let app_east = group(&east, "mattermost-dr-app-us-east-1").unwrap();
    let db_east = group(&east, "mattermost-dr-db-us-east-1").expect("the secondary cluster's group");
    assert_eq!(group(&west, "mattermost-dr-db-us-west-1"), None, "the adopted primary keeps its own groups");
    let tcp = |source: &str| (false, "tcp".to_string(), 5432, 5432, source.to_string());
    assert_eq!(
        rules(&west, &prod),
        sorted(vec![
            tcp("10.9.0.0/16"),
            tcp(&app_west),
            tcp("10.2.0.0/24"),
            (true, "-1".into(), -1, -1, "0.0.0.0/0".into())
        ]),
        "production's group: its own rules, and the two added"
    );
    assert_eq!(rules(&east, &db_east), sorted(vec![tcp(&app_east), tcp("10.1.0.0/24")]));

    let plan = run(&["plan", ".", "--json"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    let after = |addr: &str| {
        let c = plan["resource_changes"].as_array().unwrap().iter().find(|c| c["address"] == addr);
        c.unwrap_or_else(|| panic!("{addr}"))["change"]["after"].clone()
    };
    assert_eq!(
        after("module.database.aws_rds_cluster.secondary")["vpc_security_group_ids"],
        serde_json::json!([db_east])
    );
    assert!(after("module.database.aws_rds_cluster.primary")["vpc_security_group_ids"].is_null());
    for region in ["primary", "secondary"] {
        let tg = after(&format!("module.app_{region}.aws_lb_target_group.nodes"));
        let asg = after(&format!("module.app_{region}.aws_autoscaling_group.node_group"));
        assert_eq!(
            (tg["health_check_path"].as_str(), asg["health_check_type"].as_str()),
            (Some("/api/v4/system/ping"), Some("ELB"))
        );
        let dns = after(&format!("aws_route53_health_check.mattermost_{region}_ping"));
        assert_eq!(dns["resource_path"], "/api/v4/system/ping?get_server_status=true");
    }
}

/// A primary standby creates (no imports.yaml, `primary_db_adopted: false`)
/// gets a security group of its own that admits the app nodes on 5432:
/// without one it would land in its VPC's default group, which admits only
/// its own members (VPC User Guide, "Default security groups"), and no node
/// could log in. Keeping imports.yaml with the flag off is refused.
#[test]
fn a_primary_standby_creates_admits_its_app_nodes() {
    let emu = Emulator::start();
    let dir = example_copy("app-tier-created-primary");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let config = rt.block_on(common::sdk_config(&emu.endpoint(), WEST));
    let (west, rds) = (Ec2::new(&config), aws_sdk_rds::Client::new(&config));
    let run = |args: &[&str]| -> Run {
        example_cmd(&dir, Some(&emu), args)
            .env("STANDBY_VAR_primary_db_adopted", "false")
            .env("STANDBY_VAR_app_subnet_cidrs_secondary", r#"["10.2.0.0/24"]"#)
            .output()
            .unwrap()
            .into()
    };
    let checked = run(&["validate", "."]);
    assert_eq!(checked.code, 0, "{}", checked.all());
    assert!(!checked.all().contains("check.primary_database_admits_no_app_nodes"), "{}", checked.all());
    let applied = run(&[
        "apply",
        ".",
        "--auto-approve",
        "--target",
        "module.database.aws_rds_cluster.primary",
        "--target",
        "aws_vpc_security_group_ingress_rule.db_from_app_primary",
        "--target",
        "aws_vpc_security_group_ingress_rule.db_from_secondary_app_subnets",
    ]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    let db_west = group_named(&rt, &west, "mattermost-dr-db-us-west-1").expect("the primary cluster's group");
    let app_west = group_named(&rt, &west, "mattermost-dr-app-us-west-1").unwrap();
    let cluster = rt.block_on(rds.describe_db_clusters().db_cluster_identifier("mattermost-dr-db-us-west-1").send());
    let cluster = cluster.unwrap();
    let groups: Vec<_> =
        cluster.db_clusters()[0].vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).collect();
    assert_eq!(groups, [db_west.as_str()], "the created primary is in its own group, not the VPC's default");
    let tcp = |source: &str| (false, "tcp".to_string(), 5432, 5432, source.to_string());
    assert_eq!(rules_of(&rt, &west, &db_west), sorted(vec![tcp(&app_west), tcp("10.2.0.0/24")]));

    // imports.yaml says production is adopted: the flag off contradicts it.
    std::fs::copy(repo().join("examples/mattermost-dr/imports.yaml"), dir.join("imports.yaml")).unwrap();
    let refused = run(&["validate", "."]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(refused.all().contains("check.the_primary_is_adopted"), "{}", refused.all());
}
