//! The stand-in production (scripts/demo-standin) and what tests of
//! adopting it share: the example run against it, the AWS calls the emulator
//! saw, and production's settings read through the SDK and the security
//! plugin's API, never through standby.

use super::{Emulator, Run, copy_dir, drop_app_tier, repo, scratch};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

pub const SEARCH_PASSWORD: &str = "Dr-Search-Pass9!";
pub const DB_PASSWORD: &str = "Db-Own-Passw0rd";
pub const CLUSTER: &str = "mattermost-prod-aurora";
pub const INSTANCES: &str = r#"["mattermost-prod-aurora-1", "mattermost-prod-aurora-2"]"#;
pub const BUCKET: &str = "mattermost-prod-files";
pub const DOMAIN: &str = "mattermost-prod-search";

/// Python (boto3) against the emulator; the script prints one JSON value.
pub fn py(emu: &Emulator, script: &str) -> Value {
    let out = Command::new(repo().join(".venv-emulator/bin/python"))
        .arg("-c")
        .arg(format!(
            "import boto3, json, os\nE = os.environ['AWS_ENDPOINT_URL']\n\
             aws = lambda s, r='us-west-1': boto3.client(s, region_name=r, endpoint_url=E)\n{script}"
        ))
        .envs(emu.sdk_env())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .expect("python");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The AWS operations the emulator received, and a way to forget them.
pub fn calls(emu: &Emulator) -> Vec<Value> {
    py(emu, "import urllib.request\nprint(urllib.request.urlopen(E + '/_emulator/calls').read().decode())")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub fn forget_calls(emu: &Emulator) {
    py(
        emu,
        "import urllib.request\nurllib.request.urlopen(urllib.request.Request(E + '/_emulator/calls', method='DELETE'))\nprint('null')",
    );
}

/// Operations that change something (everything but Describe/List/Get/Head).
pub fn writes(calls: &[Value]) -> Vec<String> {
    calls
        .iter()
        .filter_map(|c| c["operation"].as_str())
        .filter(|op| !["Describe", "List", "Get", "Head"].iter().any(|p| op.starts_with(p)))
        .map(str::to_string)
        .collect()
}

pub struct Example {
    pub emu: Emulator,
    pub dir: PathBuf,
}

impl Example {
    /// examples/mattermost-dr and the modules, with the stand-in production
    /// made by scripts/demo-standin.
    pub fn with_standin() -> Example {
        let root = scratch("import-example");
        copy_dir(&repo().join("examples/mattermost-dr"), &root.join("examples/mattermost-dr"));
        // The app tier, its secrets and DNS are not this test's subject.
        drop_app_tier(&root.join("examples/mattermost-dr"));
        copy_dir(&repo().join("modules"), &root.join("modules"));
        let ex = Example { emu: Emulator::start(), dir: root.join("examples/mattermost-dr") };
        let out = ex.env(&mut Command::new(repo().join("scripts/demo-standin"))).output().expect("demo-standin");
        assert!(out.status.success(), "demo-standin: {}", String::from_utf8_lossy(&out.stderr));
        ex
    }

    /// The whole example, every file of it, and the same stand-in.
    pub fn whole_with_standin() -> Example {
        let root = scratch("import-whole");
        copy_dir(&repo().join("examples/mattermost-dr"), &root.join("examples/mattermost-dr"));
        copy_dir(&repo().join("modules"), &root.join("modules"));
        let ex = Example { emu: Emulator::start(), dir: root.join("examples/mattermost-dr") };
        let out = ex.env(&mut Command::new(repo().join("scripts/demo-standin"))).output().expect("demo-standin");
        assert!(out.status.success(), "demo-standin: {}", String::from_utf8_lossy(&out.stderr));
        ex
    }

    /// Production's settings, read through the AWS SDK and the security
    /// plugin's API, never through standby (tests/fixtures/adoption/production.py).
    pub fn production(&self) -> Value {
        let out = self
            .env(&mut Command::new(repo().join(".venv-emulator/bin/python")))
            .arg(repo().join("tests/fixtures/adoption/production.py"))
            .output()
            .expect("python");
        assert!(out.status.success(), "production.py: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn env<'a>(&self, c: &'a mut Command) -> &'a mut Command {
        c.envs(self.emu.sdk_env())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("STANDBY_VAR_opensearch_master_password", SEARCH_PASSWORD)
            .env("STANDBY_VAR_opensearch_replication_password", "Repl-User-5$tq")
            .env("STANDBY_VAR_opensearch_mattermost_password", "Mm-User-3%vx")
            .env("STANDBY_VAR_search_source_ips", r#"["127.0.0.0/8"]"#)
            .env("STANDBY_VAR_deletion_protection", "false")
            .env("STANDBY_VAR_force_destroy", "true")
            .env("STANDBY_VAR_primary_db_cluster", CLUSTER)
            .env("STANDBY_VAR_primary_db_instances", INSTANCES)
            .env("STANDBY_VAR_primary_files_bucket", BUCKET)
            .env("STANDBY_VAR_primary_search_domain", DOMAIN)
            // The stand-in's bucket replicates already, with a role of its own.
            .env(
                "STANDBY_VAR_primary_files_replication_role",
                format!("arn:aws:iam::123456789012:role/{BUCKET}-backup-replication"),
            )
            .env("STANDBY_DEMO_DB_PASSWORD", DB_PASSWORD)
            // The app tier (whole-example tests): any AMI id does for the
            // emulator; plain HTTP, as there is no certificate.
            .env("STANDBY_VAR_mattermost_db_password", "Mm-Db-Pass9!")
            .env("STANDBY_VAR_secrets_recovery_window_in_days", "0")
            .env("STANDBY_VAR_app_ami_id", "ami-0abcdef1234567890")
            .env("STANDBY_VAR_app_listener_protocol", "HTTP")
            .env("STANDBY_VAR_app_listener_port", "80")
            .env("STANDBY_VAR_app_certificate_arn_primary", "null")
            .env("STANDBY_VAR_app_certificate_arn_secondary", "null")
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let mut c = self.emu.cmd(&self.dir, args);
        self.env(&mut c).output().expect("standby").into()
    }

    pub fn ok(&self, code: i32, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(r.code, code, "standby {}:\n{}", args.join(" "), r.all());
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        r
    }

    /// What identifies the production objects and their data.
    pub fn fingerprint(&self) -> Value {
        py(
            &self.emu,
            &format!(
                r#"
import urllib.request
c = aws('rds').describe_db_clusters(DBClusterIdentifier='{CLUSTER}')['DBClusters'][0]
i = aws('rds').describe_db_instances(Filters=[{{'Name': 'db-cluster-id', 'Values': ['{CLUSTER}']}}])['DBInstances']
b = [x for x in aws('s3').list_buckets()['Buckets'] if x['Name'] == '{BUCKET}'][0]
keys = sorted(o['Key'] for p in aws('s3').get_paginator('list_objects_v2').paginate(Bucket='{BUCKET}') for o in p.get('Contents', []))
d = aws('opensearch').describe_domain(DomainName='{DOMAIN}')['DomainStatus']
doms = json.loads(urllib.request.urlopen(E + '/_emulator/opensearch/domains').read())
idx = [x['indices'] for x in doms if x['domain'] == '{DOMAIN}'][0]
print(json.dumps({{'cluster': [c['DBClusterArn'], str(c['ClusterCreateTime']), c['DbClusterResourceId']],
  'instances': sorted([x['DBInstanceArn'], str(x['InstanceCreateTime'])] for x in i),
  'bucket': [b['Name'], str(b['CreationDate'])], 'objects': keys,
  'domain': [d['ARN'], d['DomainId'], d['Endpoint']], 'indices': idx}}))
"#
            ),
        )
    }
}

impl Example {
    /// Runs standby with extra environment (a variable set otherwise).
    pub fn run_with(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut c = self.emu.cmd(&self.dir, args);
        self.env(&mut c).envs(env.iter().copied()).output().expect("standby").into()
    }

    /// A request to the adopted domain's REST API as its master user.
    pub fn rest(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        py(
            &self.emu,
            &format!(
                r#"
import base64, urllib.request, urllib.error
host = aws('opensearch').describe_domain(DomainName='{DOMAIN}')['DomainStatus']['Endpoint']
auth = base64.b64encode(b'admin:{SEARCH_PASSWORD}').decode()
req = urllib.request.Request(os.environ['STANDBY_OPENSEARCH_ENDPOINT_URL'] + '{path}', method='{method}',
    data={body:?}.encode() or None, headers={{'Host': host, 'Authorization': 'Basic ' + auth, 'Content-Type': 'application/json'}})
try:
    print(urllib.request.urlopen(req).read().decode() or 'null')
except urllib.error.HTTPError as e:
    print(json.dumps({{'status': e.code}}))
"#
            ),
        )
    }
}
