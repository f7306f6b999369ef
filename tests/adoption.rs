//! What production would not survive unnoticed is refused at plan time,
//! located, with AWS's consequence and how to accept it, before any write;
//! what standby records before it changes production survives a kill; a
//! batch replication job's life on AWS. The whole example, against the
//! stand-in production (scripts/demo-standin), unlike every module default.

mod common;

use common::proxy::Proxy;
use common::standin::{BUCKET, CLUSTER, Example, calls, forget_calls, py, writes};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

/// Plans with `env` set, expects the refusal `said` (and no write).
fn refused(ex: &Example, env: &[(&str, &str)], said: &[&str]) {
    forget_calls(&ex.emu);
    let run = ex.run_with(env, &["plan", "."]);
    assert_eq!(run.code, 1, "{env:?}: expected a refusal:\n{}", run.all());
    for s in said {
        assert!(run.stderr.contains(s), "{env:?}: missing {s:?} in:\n{}", run.stderr);
    }
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(writes(&calls(&ex.emu)), Vec::<String>::new(), "{env:?}: a refused plan writes nothing");
}

#[test]
fn what_production_would_not_survive_is_refused_at_plan_time() {
    let ex = Example::whole_with_standin();
    // An instance class other than production's: an outage of each instance.
    refused(
        &ex,
        &[("STANDBY_VAR_db_instance_class", "db.r6g.large")],
        &[
            "modules/aurora-global-database/main.yaml:",
            "module.database.aws_rds_cluster_instance.primary_instances[0]: this resizes the adopted instance from \
             db.r5.xlarge to db.r6g.large, in the instance's next maintenance window",
            "an outage occurs during the change",
            "allow_disruption: [instance_class]",
        ],
    );
    // Another instance type for the domain: a blue/green deployment.
    refused(
        &ex,
        &[("STANDBY_VAR_search_instance_type", "r6g.large.search")],
        &["module.search.aws_opensearch_domain.leader: this changes the adopted domain's instance type \
             \"r5.xlarge.search\" -> \"r6g.large.search\": AWS makes it with a blue/green deployment"],
    );
    // Publishing its audit logs: a blue/green deployment too (AWS's current list).
    refused(
        &ex,
        &[("STANDBY_VAR_search_leader_audit_logs", "true")],
        &["this starts publishing the adopted domain's audit logs to CloudWatch Logs: AWS makes it with a blue/green"],
    );
    // A master password that is not the one in use: verified, never sent.
    refused(
        &ex,
        &[("STANDBY_VAR_opensearch_master_password", "Not-The-One9!")],
        &["module.search.aws_opensearch_domain.leader: the `master_user_password` given for aws_opensearch_domain \
             `mattermost-prod-search` is not the one it uses"],
    );
    // The bucket replicates already, with its own role: one configuration, one role.
    refused(
        &ex,
        &[("STANDBY_VAR_primary_files_replication_role", "null")],
        &["module.files.aws_s3_bucket_replication.primary_to_secondary: bucket mattermost-prod-files already \
             replicates (rules backup-copy) with role arn:aws:iam::123456789012:role/mattermost-prod-files-backup-replication"],
    );
    // A user of the name standby would create: never replaced.
    let made = ex.rest(
        "PUT",
        "/_plugins/_security/api/internalusers/mattermost",
        Some(&json!({"password": "Prod-Mm-Pass9!"})),
    );
    assert_eq!(made["status"], "CREATED", "{made}");
    refused(
        &ex,
        &[],
        &[
            "module.search.opensearch_internal_user.mattermost_user_leader: internal user `mattermost` already exists on \
           the domain, and creating it would replace it",
        ],
    );
    ex.rest("DELETE", "/_plugins/_security/api/internalusers/mattermost", None);
    // Objects encrypted with SSE-KMS by default: S3 would not replicate them.
    py(
        &ex.emu,
        &format!(
            "aws('s3').put_bucket_encryption(Bucket='{BUCKET}', ServerSideEncryptionConfiguration={{'Rules': [{{\
             'ApplyServerSideEncryptionByDefault': {{'SSEAlgorithm': 'aws:kms', 'KMSMasterKeyID': 'prod-key'}}}}]}})\n\
             print('null')"
        ),
    );
    refused(&ex, &[], &["bucket mattermost-prod-files encrypts new objects with SSE-KMS by default"]);
    py(&ex.emu, &format!("aws('s3').delete_bucket_encryption(Bucket='{BUCKET}')\nprint('null')"));
    // An RDS-managed master password: left as it is, and why DR needs it changed.
    py(
        &ex.emu,
        &format!(
            "aws('rds').modify_db_cluster(DBClusterIdentifier='{CLUSTER}', ManageMasterUserPassword=True, \
             ApplyImmediately=True)\nprint('null')"
        ),
    );
    refused(
        &ex,
        &[],
        &[
            "module.database.aws_rds_global_cluster.global: cluster mattermost-prod-aurora: this cluster has (or \
             would have) an RDS-managed (Secrets Manager) master password, which AWS does not support for clusters in \
             an Aurora global database",
            "make that switch yourself",
        ],
    );
    py(
        &ex.emu,
        &format!(
            "aws('rds').modify_db_cluster(DBClusterIdentifier='{CLUSTER}', ManageMasterUserPassword=False, \
             MasterUserPassword='Db-Own-Passw0rd', ApplyImmediately=True)\nprint('null')"
        ),
    );
    // A domain without fine-grained access control: turning it on is for good.
    py(
        &ex.emu,
        "aws('opensearch').create_domain(DomainName='mattermost-open-search', EngineVersion='OpenSearch_2.11', \
         ClusterConfig={'InstanceType': 'r5.large.search', 'InstanceCount': 2})\nprint('null')",
    );
    refused(
        &ex,
        &[("STANDBY_VAR_primary_search_domain", "mattermost-open-search")],
        &["this adopted domain has no fine-grained access control", "you can't disable it"],
    );

    // Accepted: the resize waits for each instance's maintenance window
    // (no ApplyImmediately), and the plan says so.
    let accept = [
        ("STANDBY_VAR_db_instance_class", "db.r6g.large"),
        ("STANDBY_VAR_db_allow_disruption", "[\"instance_class\"]"),
    ];
    let plan = ex.run_with(&accept, &["plan", "."]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert!(plan.stdout.contains("accepted by allow_disruption: this resizes the adopted instance"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("instance class db.r5.xlarge -> db.r6g.large: an outage of this instance while AWS changes it, in its maintenance window"),
        "{}",
        plan.stdout
    );
    let run = ex.run_with(&accept, &["apply", ".", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let changes = py(
        &ex.emu,
        "import urllib.request\nprint(urllib.request.urlopen(E + '/_emulator/rds/instance-changes').read().decode())",
    );
    let mut held: Vec<(&str, &str)> = changes
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["instance"].as_str().unwrap().starts_with("mattermost-prod"))
        .map(|c| (c["instance"].as_str().unwrap(), c["applied"].as_str().unwrap()))
        .collect();
    // The two instances are modified in parallel: their order is not the point.
    held.sort();
    assert_eq!(held, [("mattermost-prod-aurora-1", "held"), ("mattermost-prod-aurora-2", "held")], "{changes}");
    let second = ex.run_with(&accept, &["plan", ".", "--detailed-exitcode"]);
    assert_eq!(second.code, 0, "the held change is what AWS will have:\n{}", second.all());
}

/// What standby replaces on production (the domain's access policy, the
/// bucket's replication configuration, a role's mapping) it records first:
/// each call is made to take effect and the apply killed -9 before it hears
/// back (the fault proxy holds the answer), and what production had is on
/// record all the same, so destroy puts it back. Before, the record was
/// written after the call: a kill there lost `previous_policy`, and destroy
/// then refused ("it had none before standby").
#[test]
fn what_production_had_survives_a_kill_right_after_the_call() {
    // Without the app tier, as tests/faults.rs's kill test: a kill between
    // CreateSecurityGroup and the revoke of its default egress rule leaves a
    // group the next apply adopts with that rule, and app_out's create then
    // answers InvalidPermission.Duplicate (the app tier's, reported apart).
    let ex = Example::with_standin();
    let before = ex.production();
    let proxy = Proxy::start(&ex.emu.endpoint(), 11);
    let via_proxy = [("AWS_ENDPOINT_URL", proxy.url.as_str()), ("STANDBY_OPENSEARCH_ENDPOINT_URL", proxy.url.as_str())];
    // The policy and the replication configuration are changed side by side;
    // the role mapping comes after the policy (its users depend on it).
    let policy: (&[&str], &str, &str) = (
        &["/opensearch/domain/mattermost-prod-search/config", "AccessPolicies"],
        "module.search.aws_opensearch_domain_policy.leader_policy",
        "previous_policy",
    );
    let replication: (&[&str], &str, &str) = (
        &["PUT /mattermost-prod-files/ ", "<ReplicationConfiguration"],
        "module.files.aws_s3_bucket_replication.primary_to_secondary",
        "previous_configuration",
    );
    let mapping: (&[&str], &str, &str) = (
        &["PUT /_plugins/_security/api/rolesmapping/cross_cluster_replication_leader_full_access"],
        "module.search.opensearch_role_mapping.replication_leader_role",
        "previous_mapping",
    );
    for group in [vec![policy, replication], vec![mapping]] {
        // Held long enough to kill the apply, not so long the next one waits.
        for (texts, _, _) in &group {
            proxy.hold(texts, 30);
        }
        let mut c = ex.emu.cmd(&ex.dir, &["apply", ".", "--auto-approve"]);
        let log = ex.dir.join("killed-apply.log");
        let out = std::fs::File::create(&log).unwrap();
        ex.env(&mut c).envs(via_proxy.iter().copied()).stdout(out.try_clone().unwrap()).stderr(out);
        let mut child = c.spawn().unwrap();
        let started = Instant::now();
        while proxy.stats()["held"] != json!(group.len()) {
            if child.try_wait().unwrap().is_some() {
                panic!("the apply ended before its calls were made:\n{}", std::fs::read_to_string(&log).unwrap());
            }
            assert!(started.elapsed() < Duration::from_secs(120), "the calls never came");
            std::thread::sleep(Duration::from_millis(50));
        }
        // The calls took effect on production; standby has not heard back.
        let _ = Command::new("kill").args(["-9", &child.id().to_string()]).status();
        let _ = child.wait();
        for (_, addr, attr) in &group {
            let rec = record(&ex, addr).unwrap_or_else(|| panic!("{addr} is not on record after the kill"));
            assert!(rec["attributes"][attr].is_object(), "{addr}: `{attr}` lost by the kill: {rec}");
        }
        while proxy.stats()["held"] != 0 {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let policy = record(&ex, "module.search.aws_opensearch_domain_policy.leader_policy").unwrap();
    assert!(
        policy["attributes"]["previous_policy"].to_string().contains("prod-firehose-delivery"),
        "production's own policy is what is on record"
    );
    ex.ok(0, &["apply", ".", "--auto-approve"]);
    ex.ok(0, &["plan", ".", "--detailed-exitcode"]);
    ex.ok(0, &["destroy", ".", "--auto-approve"]);
    assert_eq!(ex.production(), before, "destroy gives production back as it was, kills and all");
}

/// A resource's record, as the next command reads the state (the journal
/// of a killed run replayed onto it).
fn record(ex: &Example, addr: &str) -> Option<Value> {
    let r = ex.run(&["state", "pull"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let state: Value = serde_json::from_str(&r.stdout).unwrap();
    state["resources"].as_array()?.iter().find(|x| x["address"] == addr).cloned()
}

/// AWS deletes a batch job 90 days after it ends (DescribeJob then answers
/// NotFoundException): standby keeps the finished job as last read instead
/// of failing every plan from then on.
#[test]
fn a_finished_batch_job_aws_deleted_does_not_break_the_next_plan() {
    let ex = Example::whole_with_standin();
    ex.ok(0, &["apply", ".", "--auto-approve"]);
    py(
        &ex.emu,
        "import urllib.request\nurllib.request.urlopen(urllib.request.Request(E + '/_emulator/settings', \
         data=json.dumps({'s3_batch_expiry_ms': 0}).encode(), method='POST', \
         headers={'Content-Type': 'application/json'}))\nprint('null')",
    );
    let plan = ex.ok(0, &["plan", ".", "--detailed-exitcode"]);
    assert!(!plan.all().contains("NotFoundException"), "{}", plan.all());
    ex.ok(0, &["destroy", ".", "--auto-approve"]);
}

/// A job that leaves objects behind fails the apply naming them (from its
/// completion report), every later plan warns, and a new `run` starts a job
/// of its own that copies only what is not replicated yet.
#[test]
fn a_batch_job_that_left_objects_behind_names_them_and_a_new_run_copies_the_rest() {
    let ex = Example::whole_with_standin();
    py(
        &ex.emu,
        "import urllib.request\nurllib.request.urlopen(urllib.request.Request(E + '/_emulator/settings', \
         data=json.dumps({'s3_batch_fail_every': 100}).encode(), method='POST', \
         headers={'Content-Type': 'application/json'}))\nprint('null')",
    );
    let run = ex.run(&["apply", ".", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("finished with 3 of 300 objects failed (297 replicated)"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the completion report is at s3://mattermost-dr-files-reports-us-west-1/standby-batch/job-"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("first: data/"), "the failed objects are named: {}", run.stderr);
    // The rest of the plan went ahead; the job's failure is said again.
    ex.ok(0, &["apply", ".", "--auto-approve"]);
    let plan = ex.ok(0, &["plan", "."]);
    assert!(
        plan.stdout.contains("the batch replication job finished with 3 of 300 objects not replicated"),
        "{}",
        plan.stdout
    );
    py(
        &ex.emu,
        "import urllib.request\nurllib.request.urlopen(urllib.request.Request(E + '/_emulator/settings', \
         data=json.dumps({'s3_batch_fail_every': 0}).encode(), method='POST', \
         headers={'Content-Type': 'application/json'}))\nprint('null')",
    );
    // A new run: a new job (a new token), copying only the three left.
    let run = ex.ok(0, &["apply", ".", "--auto-approve", "--var", "files_batch_run=2"]);
    assert!(run.stdout.contains("existing_objects[0]: Creation complete"), "{}", run.stdout);
    let rec = record(&ex, "module.files.aws_s3_batch_replication_job.existing_objects[0]").expect("on record");
    assert_eq!(
        (rec["attributes"]["total_objects"].as_i64(), rec["attributes"]["failed_objects"].as_i64()),
        (Some(3), Some(0)),
        "{rec}"
    );
    let plan = ex.ok(0, &["plan", ".", "--detailed-exitcode", "--var", "files_batch_run=2"]);
    assert!(!plan.stdout.contains("not replicated"), "{}", plan.stdout);
}

/// A state written by an earlier standby, which recorded neither what an
/// adopted bucket had when imported (`found`) nor what its versioning and
/// Block Public Access were before standby (`previous_*`): the destroy plan
/// says plainly what it cannot give back and what it does instead.
#[test]
fn destroy_says_what_an_earlier_standby_did_not_record() {
    let dir = common::scratch("adoption-unrecorded");
    let bucket = "mattermost-prod-files";
    let config = format!(
        "regions: {{ primary: us-west-1, secondary: us-east-1 }}\nresources:\n  prod:\n    type: aws_s3_bucket\n    \
         region: primary\n    properties: {{ bucket: {bucket} }}\n  versioning:\n    type: aws_s3_bucket_versioning\n    \
         region: primary\n    properties: {{ bucket: \"${{aws_s3_bucket.prod.bucket}}\", status: Enabled }}\n  \
         public_access:\n    type: aws_s3_bucket_public_access_block\n    region: primary\n    properties: \
         {{ bucket: \"${{aws_s3_bucket.prod.bucket}}\" }}\n"
    );
    let record = |name: &str, kind: &str, attrs: &str, adopted: bool| {
        format!(
            r#"{{"address": "{kind}.{name}", "type": "{kind}", "name": "{name}", "region": "us-west-1", "id": "{bucket}",
                "status": "ready", "adopted": {adopted}, "attributes": {attrs}}}"#
        )
    };
    let state = format!(
        r#"{{"version": 2, "serial": 3, "lineage": "l-1", "standby_version": "0.1.0", "salt": "s", "resources": [{}, {}, {}]}}"#,
        record("prod", "aws_s3_bucket", &format!(r#"{{"bucket": "{bucket}", "tags": {{"team": "files"}}}}"#), true),
        record(
            "versioning",
            "aws_s3_bucket_versioning",
            &format!(r#"{{"bucket": "{bucket}", "status": "Enabled"}}"#),
            false
        ),
        record(
            "public_access",
            "aws_s3_bucket_public_access_block",
            &format!(r#"{{"bucket": "{bucket}", "block_public_acls": true}}"#),
            false
        ),
    );
    common::write_files(&dir, &[("main.yaml", &config), ("state/standby.json", &state)]);
    let run: common::Run = common::cmd(&dir, &["plan", ".", "--destroy", "--refresh=false"])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "{}", run.all());
    let said = run.all().replace('\n', " ");
    for s in [
        "imported by an earlier standby, which did not record its settings as found: destroy cannot give back what \
         standby changed in `tags`",
        "which did not record what aws_s3_bucket.prod had before (`previous_status`): destroy cannot give it back; \
         versioning is suspended",
        "(`previous_configuration`): destroy cannot give it back; removes the bucket's Block Public Access",
    ] {
        let words = s.split_whitespace().collect::<Vec<_>>().join(" ");
        let said = said.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(said.contains(&words), "missing {s:?} in:\n{}", run.all());
    }
}
