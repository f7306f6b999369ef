//! Adopting resources made outside standby (`imports:`, `standby import`,
//! `plan --generate-config-out`), each test against its own emulator. The
//! stand-in "production" is created through the AWS API (boto3 in the
//! emulator's venv), never through standby.

mod common;

use common::standin::{
    BUCKET, CLUSTER, DB_PASSWORD, DOMAIN, Example, SEARCH_PASSWORD, calls, forget_calls, py, writes,
};
use common::{Emulator, Run, copy_dir, drop_app_tier, repo, scratch, standby, write_files};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// An unencrypted production cluster is never replaced to satisfy the
/// example's `db_storage_encrypted: true`: the import plan is refused,
/// naming the property and where it is set, before any write; with the
/// input set to what production has, it plans.
#[test]
fn an_unencrypted_primary_is_refused_not_replaced() {
    let root = scratch("import-unencrypted");
    copy_dir(&repo().join("examples/mattermost-dr"), &root.join("examples/mattermost-dr"));
    // The app tier, its secrets and DNS are not this test's subject.
    drop_app_tier(&root.join("examples/mattermost-dr"));
    copy_dir(&repo().join("modules"), &root.join("modules"));
    let ex = Example { emu: Emulator::start(), dir: root.join("examples/mattermost-dr") };
    // Production made before encryption was the default (demo-standin then keeps it).
    py(
        &ex.emu,
        &format!(
            "aws('rds').create_db_cluster(DBClusterIdentifier='{CLUSTER}', Engine='aurora-postgresql', \
             EngineVersion='16.4', DatabaseName='mattermost', MasterUsername='postgres', MasterUserPassword='{DB_PASSWORD}', \
             BackupRetentionPeriod=7)\nprint('null')"
        ),
    );
    let out = ex.env(&mut Command::new(repo().join("scripts/demo-standin"))).output().expect("demo-standin");
    assert!(out.status.success(), "demo-standin: {}", String::from_utf8_lossy(&out.stderr));
    forget_calls(&ex.emu);
    let refused = ex.ok(1, &["plan", "."]);
    assert!(
        refused
            .stderr
            .contains("cannot import aws_rds_cluster \"mattermost-prod-aurora\": the configuration would replace it")
            && refused.stderr.contains("`storage_encrypted` is false in AWS but true in the configuration"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("standby never replaces an adopted resource"), "{}", refused.stderr);
    assert_eq!(writes(&calls(&ex.emu)), Vec::<String>::new(), "nothing written");
    let plan = ex.ok(2, &["plan", ".", "--detailed-exitcode", "--var", "db_storage_encrypted=false"]);
    assert!(plan.stdout.contains("Plan: 5 to import, "), "{}", plan.stdout);
}

/// The stand-in production is imported, not recreated: same objects, same
/// data; the rest is created; the next plan is clean; destroy leaves the
/// adopted resources and says so.
#[test]
fn the_example_adopts_the_running_primary() {
    let ex = Example::with_standin();
    let before = ex.fingerprint();
    assert_eq!(before["objects"].as_array().unwrap().len(), 300);

    forget_calls(&ex.emu);
    let plan = ex.ok(2, &["plan", ".", "--detailed-exitcode"]);
    assert!(plan.stdout.contains("Plan: 5 to import, "), "{}", plan.stdout);
    assert!(plan.stdout.contains(", 0 to destroy."), "{}", plan.stdout);
    for addr in [
        "module.database.aws_rds_cluster.primary (us-west-1) will be imported (id \"mattermost-prod-aurora\")",
        "module.database.aws_rds_cluster_instance.primary_instances[1] (us-west-1) will be imported (id \"mattermost-prod-aurora-2\")",
        "module.files.aws_s3_bucket.primary (us-west-1) will be imported (id \"mattermost-prod-files\")",
        "module.search.aws_opensearch_domain.leader (us-west-1) will be imported (id \"mattermost-prod-search\")",
    ] {
        assert!(plan.stdout.contains(addr), "missing {addr}:\n{}", plan.stdout);
    }
    assert!(plan.stdout.contains("(master_password: unknown, AWS never returns it; left as it is)"), "{}", plan.stdout);
    assert_eq!(writes(&calls(&ex.emu)), Vec::<String>::new(), "a plan only reads");
    for secret in [SEARCH_PASSWORD, DB_PASSWORD] {
        assert!(!plan.all().contains(secret));
    }

    let json = ex.ok(0, &["plan", ".", "--json"]);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    let imported: Vec<&Value> =
        doc["resource_changes"].as_array().unwrap().iter().filter(|c| c["change"].get("importing").is_some()).collect();
    assert_eq!(imported.len(), 5);
    let cluster = imported.iter().find(|c| c["address"] == "module.database.aws_rds_cluster.primary").unwrap();
    assert_eq!(cluster["change"]["importing"], json!({"id": CLUSTER}));
    // Adopted as it is: nothing the module would have set differently (log
    // exports, copied tags, retention) is changed on production.
    assert_eq!(cluster["change"]["actions"], json!(["no-op"]));
    assert_eq!(cluster["change"]["after"]["enabled_cloudwatch_logs_exports"], json!([]));
    assert_eq!(cluster["change"]["after"]["backup_retention_period"], json!(35));
    // The adopted search domain publishes the log types it did not yet, to
    // standby's group: an update in place (the log groups and their policy
    // are created first), never a replacement; its own application logs stay.
    let leader = imported.iter().find(|c| c["address"] == "module.search.aws_opensearch_domain.leader").unwrap();
    assert_eq!(leader["change"]["actions"], json!(["update"]), "{leader}");
    let published = |side: &str| -> Vec<String> {
        leader["change"][side]["log_publishing_options"]
            .as_array()
            .map(|l| l.iter().map(|o| o["log_type"].as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    assert_eq!(published("before"), ["ES_APPLICATION_LOGS"], "{leader}");
    assert_eq!(published("after"), ["ES_APPLICATION_LOGS", "INDEX_SLOW_LOGS", "SEARCH_SLOW_LOGS"], "{leader}");
    assert!(
        plan.stdout
            .contains("module.search.aws_opensearch_domain.leader (us-west-1) will be imported and updated in place")
            || plan.stdout.contains("~ log_publishing_options"),
        "{}",
        plan.stdout
    );

    forget_calls(&ex.emu);
    // Progress every second, and a batch job that takes its time (as on
    // AWS): its "Still creating" lines carry its counts.
    py(
        &ex.emu,
        "import urllib.request\nurllib.request.urlopen(urllib.request.Request(E + '/_emulator/settings', \
         data=json.dumps({'s3_batch_step_ms': 1200}).encode(), method='POST', \
         headers={'Content-Type': 'application/json'}))\nprint('null')",
    );
    let apply: Run = ex
        .env(&mut ex.emu.cmd(&ex.dir, &["apply", ".", "--auto-approve"]))
        .env("STANDBY_PROGRESS_SECS", "1")
        .output()
        .expect("standby")
        .into();
    assert_eq!(apply.code, 0, "{}", apply.all());
    assert!(apply.stdout.contains("Resources: 5 imported, "), "{}", apply.stdout);
    let job_lines: Vec<&str> =
        apply.stdout.lines().filter(|l| l.contains("aws_s3_batch_replication_job") && l.contains("Still")).collect();
    assert!(
        job_lines.iter().any(|l| l.contains("objects replicated,") && l.contains(" failed)")),
        "no counts in the batch job's progress: {job_lines:?}"
    );
    assert!(!apply.stdout.contains("aws_rds_cluster.primary: Creating"), "{}", apply.stdout);
    let after = ex.fingerprint();
    assert_eq!(before, after, "the adopted objects and their data are the same");
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(ex.dir.join("state/standby.json")).unwrap()).unwrap();
    let adopted: Vec<&str> = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["adopted"] == true)
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(adopted.len(), 5, "{adopted:?}");
    let global = py(&ex.emu, "print(json.dumps(aws('rds', 'us-east-1').describe_global_clusters()['GlobalClusters']))");
    let members: Vec<&str> = global[0]["GlobalClusterMembers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["IsWriter"] == true)
        .map(|m| m["DBClusterArn"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec![before["cluster"][0].as_str().unwrap()], "the adopted cluster is the global writer");

    // The objects that predate replication reached the secondary bucket
    // through the S3 Batch Replication job.
    let copied = py(
        &ex.emu,
        "s3 = aws('s3', 'us-east-1')\nprint(json.dumps(sorted(o['Key'] for p in s3.get_paginator('list_objects_v2')\
         .paginate(Bucket='mattermost-dr-files-us-east-1') for o in p.get('Contents', []))))",
    );
    assert_eq!(copied, before["objects"], "every existing object is in the secondary bucket");
    let job = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "aws_s3_batch_replication_job")
        .expect("the batch job is on record");
    assert_eq!(job["attributes"]["status"], "Complete");
    assert_eq!(job["attributes"]["replicated_objects"], 300);
    assert_eq!(job["attributes"]["failed_objects"], 0);
    let ops: Vec<Value> = calls(&ex.emu).into_iter().filter(|c| c["service"] == "s3control").collect();
    assert_eq!(ops.iter().filter(|c| c["operation"] == "CreateJob").count(), 1, "{ops:?}");

    ex.ok(0, &["plan", ".", "--detailed-exitcode"]);
    every_kind_reads_back_what_it_manages(&ex, &state);

    let destroy = ex.ok(0, &["destroy", ".", "--auto-approve"]);
    assert!(destroy.stdout.contains("5 adopted resource(s) left in place"), "{}", destroy.stdout);
    assert!(
        destroy.stdout.contains(
            "module.files.aws_s3_bucket.primary: adopted (imported, id mattermost-prod-files): destroy leaves it"
        ),
        "{}",
        destroy.stdout
    );
    let left = ex.fingerprint();
    assert_eq!(left["cluster"], before["cluster"]);
    assert_eq!(left["objects"], before["objects"]);
    assert_eq!(left["indices"], before["indices"]);
}

/// Adopting a production unlike every module default (demo-standin: instance
/// class, 35 days of backups, its windows, tags, a versioned bucket with
/// Block Public Access and a replication rule of its own, a domain of another
/// shape and TLS policy with its own log group, users, mappings and tuned
/// audit logging) changes nothing it relies on: the plan lists, under a
/// heading of its own, exactly what DR needs there, each with what it does;
/// after the apply every other value is as it was, and after destroy every
/// value is, all read through the SDK and the plugin's API. The whole example.
#[test]
fn adopting_production_changes_only_what_dr_needs_and_destroy_gives_it_back() {
    let ex = Example::whole_with_standin();
    let before = ex.production();
    // What the stand-in is, so the test cannot pass against module defaults.
    assert_eq!(before["instances"]["mattermost-prod-aurora-1"]["class"], "db.r5.xlarge");
    assert_eq!(before["cluster"]["BackupRetentionPeriod"], 35);
    assert_eq!(before["domain"]["TLSSecurityPolicy"], "Policy-Min-TLS-1-2-PFS-2023-10");
    assert_eq!(before["bucket"]["replication"]["rules"].as_array().unwrap().len(), 1);

    let plan = ex.ok(0, &["plan", ".", "--json"]);
    let doc: Value = serde_json::from_str(&plan.stdout).unwrap();
    let mut on_production: Vec<(String, String)> = doc["production_changes"]
        .as_array()
        .expect("a production section")
        .iter()
        .map(|c| (c["address"].as_str().unwrap().to_string(), c["target"].as_str().unwrap().to_string()))
        .collect();
    on_production.sort();
    let (db, files, search) = (
        "module.database.aws_rds_cluster.primary",
        "module.files.aws_s3_bucket.primary",
        "module.search.aws_opensearch_domain.leader",
    );
    let expected: Vec<(String, String)> = [
        ("module.database.aws_rds_global_cluster.global", db),
        ("module.files.aws_s3_batch_replication_job.existing_objects[0]", files),
        ("module.files.aws_s3_bucket_replication.primary_to_secondary", files),
        ("module.files.aws_s3_bucket_versioning.primary_versioning", files),
        ("module.search.aws_opensearch_domain.leader", search),
        ("module.search.aws_opensearch_domain_policy.leader_policy", search),
        ("module.search.opensearch_internal_user.mattermost_user_leader", search),
        ("module.search.opensearch_internal_user.replication_user_leader", search),
        // The search canary writes its own index as the replication user.
        ("module.search.opensearch_role.canary_role_leader", search),
        ("module.search.opensearch_role.mattermost_role_leader", search),
        ("module.search.opensearch_role_mapping.canary_mapping_leader", search),
        ("module.search.opensearch_role_mapping.mattermost_leader_role", search),
        ("module.search.opensearch_role_mapping.replication_leader_role", search),
    ]
    .iter()
    .map(|(a, t)| (a.to_string(), t.to_string()))
    .collect();
    assert_eq!(on_production, expected, "exactly what DR needs on production");
    let human = ex.ok(0, &["plan", "."]).stdout;
    let section: String = human
        .lines()
        .skip_while(|l| !l.starts_with("Changes to production"))
        .take_while(|l| !l.starts_with("Plan:"))
        .collect::<Vec<_>>()
        .join("\n");
    for said in [
        "turns versioning on (replication needs it), for good",
        "for about 15 minutes, reads of objects written meanwhile can fail now and then with 404 NoSuchKey",
        "adds replication rule(s) to-secondary beside the bucket's own rules, which stay as they are",
        "publishes INDEX_SLOW_LOGS, SEARCH_SLOW_LOGS to CloudWatch Logs (error and slow logs: an update in place, no blue/green deployment)",
        "es:ESCrossClusterGet on arn:aws:es:us-west-1:123456789012:domain/mattermost-prod-search",
        "adds replication to role `cross_cluster_replication_leader_full_access`'s mapping; its other members",
        "makes the cluster the first member and writer of global cluster \"mattermost-dr-db\"",
    ] {
        assert!(section.contains(said), "missing {said:?} in:\n{section}");
    }
    assert!(
        !human.contains("overwrite the value in use"),
        "the master password was verified, not overwritten:\n{human}"
    );
    // What people read, in each rendering.
    insta::assert_snapshot!("adoption_production_human", section);
    let md = ex.ok(0, &["plan", ".", "--format", "markdown"]).stdout;
    let md_section: String = md
        .lines()
        .skip_while(|l| !l.starts_with("#### Changes to production"))
        .take_while(|l| !l.starts_with("| Action | Resource | Region | Why |"))
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("adoption_production_markdown", md_section);
    insta::assert_json_snapshot!("adoption_production_json", doc["production_changes"]);

    ex.ok(0, &["apply", ".", "--auto-approve"]);
    let applied = ex.production();
    // Unchanged: everything DR does not need.
    for path in [
        "/cluster",
        "/instances",
        "/bucket/versioning",
        "/bucket/public_access_block",
        "/bucket/tags",
        "/domain/ClusterConfig",
        "/domain/EBSOptions",
        "/domain/TLSSecurityPolicy",
        "/domain/EnforceHTTPS",
        "/domain/Tags",
        "/security/audit",
        "/security/users/mm-prod",
        "/security/users/ops-admin",
        "/security/mappings/mm-prod",
    ] {
        assert_eq!(applied.pointer(path), before.pointer(path), "{path} changed on production");
    }
    // What DR needs, beside what production has (never in its place).
    let rules = |v: &Value| -> Vec<String> {
        v["bucket"]["replication"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[1].as_str().unwrap().to_string())
            .collect()
    };
    assert!(rules(&before).iter().all(|r| rules(&applied).contains(r)), "the bucket's own rule stays as it was");
    assert_eq!(rules(&applied).len(), 2);
    assert_eq!(applied["bucket"]["replication"]["role"], before["bucket"]["replication"]["role"]);
    assert_eq!(
        applied["domain"]["LogPublishing"]["ES_APPLICATION_LOGS"],
        before["domain"]["LogPublishing"]["ES_APPLICATION_LOGS"]
    );
    let statements = |v: &Value| v["domain"]["AccessPolicies"]["Statement"].as_array().unwrap().len();
    assert_eq!(statements(&applied), statements(&before) + 1, "only es:ESCrossClusterGet added");
    for (role, member) in [("all_access", "ops-admin"), ("all_access", "admin"), ("security_manager", "admin")] {
        let users = applied["security"]["mappings"][role]["users"].as_array().unwrap();
        assert!(users.contains(&json!(member)), "{role} lost {member}: {users:?}");
    }
    let ccr = &applied["security"]["mappings"]["cross_cluster_replication_leader_full_access"];
    assert_eq!(
        ccr["backend_roles"],
        before["security"]["mappings"]["cross_cluster_replication_leader_full_access"]["backend_roles"]
    );
    assert_eq!(ccr["users"], json!(["replication"]));
    // No outage, no blue/green deployment on production.
    let deployments = py(
        &ex.emu,
        "import urllib.request\nprint(urllib.request.urlopen(E + '/_emulator/opensearch/deployments').read().decode())",
    );
    assert!(
        deployments.as_array().unwrap().iter().all(|d| d["domain"] != DOMAIN || d["type"] != "Blue/Green"),
        "{deployments}"
    );
    let resized = py(
        &ex.emu,
        "import urllib.request\nprint(urllib.request.urlopen(E + '/_emulator/rds/instance-changes').read().decode())",
    );
    assert_eq!(resized, json!([]), "no instance was resized");
    ex.ok(0, &["plan", ".", "--detailed-exitcode"]);

    // Production changes its own settings after the adoption: destroy
    // gives back only what standby changed, and these stay.
    py(
        &ex.emu,
        &format!(
            r#"
arn = aws('opensearch').describe_domain(DomainName='{DOMAIN}')['DomainStatus']['ARN']
aws('opensearch').add_tags(ARN=arn, TagList=[{{'Key': 'cost-center', 'Value': 'search-42'}}])
s3 = aws('s3')
tags = s3.get_bucket_tagging(Bucket='{BUCKET}')['TagSet'] + [{{'Key': 'backup-plan', 'Value': 'daily'}}]
s3.put_bucket_tagging(Bucket='{BUCKET}', Tagging={{'TagSet': tags}})
print('null')
"#
        ),
    );
    let mut audit = ex.rest("GET", "/_plugins/_security/api/audit", None)["config"].clone();
    audit["audit"]["ignore_users"].as_array_mut().unwrap().push(json!("backup-bot"));
    ex.rest("PUT", "/_plugins/_security/api/audit/config", Some(&audit));
    let tuned = ex.production();
    let later = ["/domain/Tags", "/bucket/tags", "/security/audit"];
    for path in later {
        assert_ne!(tuned.pointer(path), before.pointer(path), "{path}: production's own change was not made");
    }

    let destroy = ex.ok(0, &["destroy", ".", "--auto-approve"]);
    assert!(destroy.stdout.contains("Resources: 1 restored, "), "{}", destroy.stdout);
    let mut after = ex.production();
    for path in later {
        assert_eq!(after.pointer(path), tuned.pointer(path), "{path}: destroy undid production's own change");
        *after.pointer_mut(path).unwrap() = before.pointer(path).unwrap().clone();
    }
    assert_eq!(after, before, "destroy gives production back as it was");
}

/// Forgets the whole state and imports every resource by its id: `read`
/// returns every configurable property, so nothing shows as changed except
/// what AWS never returns (secrets, the OpenSearch master user) and
/// standby's own settings (force_destroy, skip_final_snapshot).
fn every_kind_reads_back_what_it_manages(ex: &Example, state: &Value) {
    reimport_everything(&ex.dir, state, &|args| ex.ok(0, args));
}

fn reimport_everything(dir: &Path, state: &Value, plan: &dyn Fn(&[&str]) -> Run) {
    let saved = dir.join("state/standby.json");
    let backup = dir.join("state/applied.json");
    std::fs::rename(&saved, &backup).unwrap();
    let _ = std::fs::remove_file(dir.join("state/standby.json.backup"));
    let mut extra = String::from("imports:\n");
    let resources = state["resources"].as_array().unwrap();
    // standby_data lives only in the state: nothing in AWS to import.
    let own = |address: &str| address.contains("standby_data.");
    for r in resources.iter().filter(|r| r["adopted"] != true && !own(r["address"].as_str().unwrap())) {
        extra.push_str(&format!(
            "  - to: {}\n    id: {}\n",
            serde_json::to_string(r["address"].as_str().unwrap()).unwrap(),
            serde_json::to_string(r["id"].as_str().unwrap()).unwrap()
        ));
    }
    std::fs::write(dir.join("all-imports.yaml"), &extra).unwrap();
    let run = plan(&["plan", ".", "--json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let changes = doc["resource_changes"].as_array().unwrap();
    assert_eq!(changes.len(), resources.len());
    let allowed = ["master_user_name", "force_destroy", "skip_final_snapshot"];
    for c in changes.iter().filter(|c| !own(c["address"].as_str().unwrap())) {
        assert!(c["change"]["importing"]["id"].is_string(), "{c}");
        if c["change"]["actions"] == json!(["no-op"]) {
            continue;
        }
        // An update: what the configuration sets must be what AWS reported.
        let (before, after) = (&c["change"]["before"], &c["change"]["after"]);
        let differs: Vec<&String> = after
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, v)| before.get(k.as_str()).unwrap_or(&Value::Null) != *v && !allowed.contains(&k.as_str()))
            .filter(|(k, _)| c["change"]["after_unknown"][k.as_str()] != true)
            .map(|(k, _)| k)
            .collect();
        assert!(differs.is_empty(), "{} reads back differently in {differs:?}:\n{c:#}", c["address"]);
        assert_eq!(c["change"]["actions"], json!(["update"]), "{c:#}");
    }
    std::fs::remove_file(dir.join("all-imports.yaml")).unwrap();
    std::fs::rename(&backup, &saved).unwrap();
}

fn bucket_config(dir: &Path, extra: &str) {
    write_files(
        dir,
        &[(
            "main.yaml",
            &format!(
                r#"regions: {{ primary: us-west-1, secondary: us-east-1 }}
variables:
  bucket: {{ type: string, default: adopted-files }}
imports:
  - to: aws_s3_bucket.files
    id: "${{var.bucket}}"
resources:
  files:
    type: aws_s3_bucket
    properties:
      bucket: "${{var.bucket}}"
{extra}"#
            ),
        )],
    );
}

fn make_bucket(emu: &Emulator, name: &str) {
    py(
        emu,
        &format!(
            "aws('s3').create_bucket(Bucket='{name}', CreateBucketConfiguration={{'LocationConstraint': 'us-west-1'}})\n\
             aws('s3').put_object(Bucket='{name}', Key='keep.txt', Body=b'x')\nprint('null')"
        ),
    );
}

/// Lifting the protection in the configuration lets destroy delete an
/// adopted resource; without it, destroy keeps it.
#[test]
fn destroy_deletes_an_adopted_resource_only_when_the_configuration_says_so() {
    let emu = Emulator::start();
    make_bucket(&emu, "adopted-files");
    let dir = scratch("import-lift");
    bucket_config(&dir, "      force_destroy: true\n");
    let run = emu.standby(&dir, &["apply", ".", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let run = emu.standby(&dir, &["destroy", ".", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("1 adopted resource(s) left in place"), "{}", run.stdout);
    let names = py(&emu, "print(json.dumps([b['Name'] for b in aws('s3').list_buckets()['Buckets']]))");
    assert_eq!(names, json!(["adopted-files"]));

    bucket_config(&dir, "      force_destroy: true\n    lifecycle: { prevent_destroy: false }\n");
    let run = emu.standby(&dir, &["destroy", ".", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("Resources: 1 destroyed."), "{}", run.stdout);
    let names = py(&emu, "print(json.dumps([b['Name'] for b in aws('s3').list_buckets()['Buckets']]))");
    assert_eq!(names, json!([]));
}

/// Removing an adopted resource from the configuration is refused (it
/// would delete production); `state rm` is the way to let go of it.
#[test]
fn an_adopted_resource_is_never_deleted_by_leaving_the_configuration() {
    let emu = Emulator::start();
    make_bucket(&emu, "adopted-files");
    let dir = scratch("import-removed");
    bucket_config(&dir, "");
    assert_eq!(emu.standby(&dir, &["apply", ".", "--auto-approve"]).code, 0);
    write_files(&dir, &[("main.yaml", "regions: { primary: us-west-1, secondary: us-east-1 }\n")]);
    let run = emu.standby(&dir, &["plan", "."]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("aws_s3_bucket.files: cannot destroy an adopted (imported) resource"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("standby state rm"), "{}", run.stderr);
}

/// An engine version other than the adopted cluster's is refused at plan
/// time with both versions named, and nothing that writes is called.
#[test]
fn an_engine_version_mismatch_is_refused_before_any_write() {
    let emu = Emulator::start();
    py(
        &emu,
        "aws('rds').create_db_cluster(DBClusterIdentifier='legacy-db', Engine='aurora-postgresql', \
         EngineVersion='15.4', MasterUsername='mmuser', MasterUserPassword='Own-Passw0rd')\nprint('null')",
    );
    let dir = scratch("import-engine");
    write_files(
        &dir,
        &[(
            "main.yaml",
            r#"regions: { primary: us-west-1, secondary: us-east-1 }
imports:
  - to: aws_rds_cluster.db
    id: legacy-db
resources:
  db:
    type: aws_rds_cluster
    properties:
      cluster_identifier: legacy-db
      engine_version: "16.4"
      master_username: mmuser
      manage_master_user_password: false
      skip_final_snapshot: true
"#,
        )],
    );
    forget_calls(&emu);
    let run = emu.standby(&dir, &["apply", ".", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("main.yaml:10:7: aws_rds_cluster.db: cannot import"), "{}", run.stderr);
    assert!(run.stderr.contains("\"15.4\"") && run.stderr.contains("\"16.4\""), "{}", run.stderr);
    assert_eq!(writes(&calls(&emu)), Vec::<String>::new());
    assert!(!dir.join("state/standby.json").exists(), "state untouched");

    // A force-new property: named with the value AWS reports.
    let text = std::fs::read_to_string(dir.join("main.yaml")).unwrap();
    std::fs::write(dir.join("main.yaml"), text.replace("\"16.4\"", "\"15.4\"").replace("mmuser", "admin")).unwrap();
    let run = emu.standby(&dir, &["plan", "."]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("`master_username` is \"mmuser\" in AWS but \"admin\" in the configuration"),
        "{}",
        run.stderr
    );
    assert_eq!(writes(&calls(&emu)), Vec::<String>::new());
}

/// Configuration errors in `imports:` are located, all at once, before any call.
#[test]
fn bad_imports_are_reported_with_their_location() {
    let dir = scratch("import-bad");
    write_files(
        &dir,
        &[(
            "main.yaml",
            r#"regions: { primary: us-west-1, secondary: us-east-1 }
variables:
  n: { type: number, default: 5 }
imports:
  - to: aws_s3_bucket.nope
    id: x
  - to: aws_s3_bucket.files
    id: "${var.n}"
  - to: aws_s3_bucket.files
    id: files-a
  - to: aws_s3_bucket.files
    id: files-b
  - to: module.m
    id: y
resources:
  files:
    type: aws_s3_bucket
    properties: { bucket: files-a }
"#,
        )],
    );
    let run = standby(&dir, &["validate", "."]);
    assert_eq!(run.code, 1, "{}", run.all());
    for expected in [
        "main.yaml:5:9: aws_s3_bucket.nope: no resource block for aws_s3_bucket.nope in the configuration",
        "main.yaml:8:9: aws_s3_bucket.files: an import id must be a string known before apply, but it is a number",
        "main.yaml:11:9: aws_s3_bucket.files: two imports to aws_s3_bucket.files (the first is at main.yaml:9:7)",
        "main.yaml:13:9: module.m: an import must name one resource instance, not a module",
    ] {
        assert!(run.stderr.contains(expected), "missing {expected:?} in:\n{}", run.stderr);
    }
    std::fs::write(dir.join("more.yaml"), "imports:\n  - id: z\n    from: x\n").unwrap();
    let run = standby(&dir, &["validate", "."]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("more.yaml:2:7: an import needs `to`"), "{}", run.stderr);
    assert!(run.stderr.contains("more.yaml:3:5: unknown key `from` in an import"), "{}", run.stderr);
}

/// An id AWS does not know, and an address already holding another object,
/// are plan errors naming address and id.
#[test]
fn unknown_ids_and_taken_addresses_are_plan_errors() {
    let emu = Emulator::start();
    let dir = scratch("import-missing");
    bucket_config(&dir, "");
    let run = emu.standby(&dir, &["plan", ".", "--var", "bucket=no-such-bucket"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("aws_s3_bucket.files: cannot import: no aws_s3_bucket with id \"no-such-bucket\" in us-west-1"),
        "{}",
        run.stderr
    );
    make_bucket(&emu, "adopted-files");
    make_bucket(&emu, "other-files");
    assert_eq!(emu.standby(&dir, &["apply", ".", "--auto-approve"]).code, 0);
    let run = emu.standby(&dir, &["plan", ".", "--var", "bucket=other-files"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(
            "aws_s3_bucket.files is already in state with id \"adopted-files\"; this import names \"other-files\""
        ),
        "{}",
        run.stderr
    );
}

/// `standby import ADDR ID`: state only, adopted, then a clean plan.
#[test]
fn the_import_command_adopts_one_resource() {
    let emu = Emulator::start();
    make_bucket(&emu, "cli-files");
    let dir = scratch("import-cli");
    write_files(
        &dir,
        &[(
            "main.yaml",
            "regions: { primary: us-west-1, secondary: us-east-1 }\nresources:\n  files:\n    type: aws_s3_bucket\n    properties: { bucket: cli-files }\n",
        )],
    );
    forget_calls(&emu);
    let run = emu.standby(&dir, &["import", "aws_s3_bucket.files", "cli-files", "."]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("aws_s3_bucket.files: imported \"cli-files\""), "{}", run.stdout);
    assert_eq!(writes(&calls(&emu)), Vec::<String>::new());
    let state: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("state/standby.json")).unwrap()).unwrap();
    assert_eq!(state["resources"][0]["adopted"], true);
    assert_eq!(state["resources"][0]["id"], "cli-files");
    let run = emu.standby(&dir, &["plan", ".", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}", run.all());

    let run = emu.standby(&dir, &["import", "aws_s3_bucket.other", "x", "."]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("aws_s3_bucket.other is not in the configuration"), "{}", run.stderr);
    let help = standby(&dir, &["import", "--help"]);
    assert!(help.stdout.contains("aws_iam_role_policy                 ROLE:POLICY"), "{}", help.stdout);
}

/// `plan --generate-config-out`: blocks for import targets without one,
/// which then load and plan as imports with no changes.
#[test]
fn generated_configuration_plans_as_imports_with_no_changes() {
    let emu = Emulator::start();
    make_bucket(&emu, "gen-files");
    py(
        &emu,
        "aws('s3').put_bucket_tagging(Bucket='gen-files', Tagging={'TagSet': [{'Key': 'team', 'Value': '${x}'}]})\n\
         aws('iam').create_role(RoleName='gen-role', AssumeRolePolicyDocument=json.dumps({'Version': '2012-10-17', \
         'Statement': [{'Effect': 'Allow', 'Principal': {'Service': 's3.amazonaws.com'}, 'Action': 'sts:AssumeRole'}]}), \
         Description='made by hand')\n\
         aws('opensearch').create_domain(DomainName='gen-search', EngineVersion='OpenSearch_2.11', \
         ClusterConfig={'InstanceType': 'r5.xlarge.search', 'InstanceCount': 3}, \
         EBSOptions={'EBSEnabled': True, 'VolumeSize': 50, 'VolumeType': 'gp2'}, \
         AdvancedSecurityOptions={'Enabled': True, 'InternalUserDatabaseEnabled': True, \
         'MasterUserOptions': {'MasterUserName': 'ops', 'MasterUserPassword': 'Gen-Master-Pass9!'}}, \
         NodeToNodeEncryptionOptions={'Enabled': True}, EncryptionAtRestOptions={'Enabled': True}, \
         DomainEndpointOptions={'EnforceHTTPS': True, 'TLSSecurityPolicy': 'Policy-Min-TLS-1-2-PFS-2023-10'})\n\
         print('null')",
    );
    let dir = scratch("import-generate");
    write_files(
        &dir,
        &[(
            "main.yaml",
            r#"regions: { primary: us-west-1, secondary: us-east-1 }
imports:
  - to: aws_s3_bucket.files
    id: gen-files
  - to: aws_iam_role.replication
    id: gen-role
  - to: aws_opensearch_domain.search
    id: gen-search
"#,
        )],
    );
    let run = emu.standby(&dir, &["plan", "."]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("--generate-config-out"), "{}", run.stderr);
    let run = emu.standby(&dir, &["plan", ".", "--generate-config-out", "generated.yaml"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("Wrote configuration for 3 import target(s) to generated.yaml"), "{}", run.stderr);
    let text = std::fs::read_to_string(dir.join("generated.yaml")).unwrap();
    insta::assert_snapshot!(
        "generated_config",
        text.lines().filter(|l| !l.contains("unique_id")).collect::<Vec<_>>().join("\n")
    );
    let run = emu.standby(&dir, &["plan", ".", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{}", run.all());
    // A domain too: what AWS never reports (its master user) is left as it
    // is, so the block plans as an import with no changes.
    assert!(run.stdout.contains("Plan: 3 to import, 0 to add, 0 to change, 0 to destroy."), "{}", run.stdout);
    let run = emu.standby(&dir, &["apply", ".", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let run = emu.standby(&dir, &["plan", ".", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}", run.all());
    // Refused: the file exists; a module target cannot be generated.
    let run = emu.standby(&dir, &["plan", ".", "--generate-config-out", "generated.yaml"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    std::fs::write(dir.join("more.yaml"), "imports:\n  - to: module.m.aws_s3_bucket.x\n    id: gen-files\n").unwrap();
    let run = emu.standby(&dir, &["plan", ".", "--generate-config-out", "more-generated.yaml"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("more.yaml:2:9: module.m.aws_s3_bucket.x: cannot generate configuration for module.m.aws_s3_bucket.x: --generate-config-out writes blocks only for root-module resources without count/for_each"),
        "{}",
        run.stderr
    );
    assert!(!dir.join("more-generated.yaml").exists());
}

/// `imports:` belongs in the root module.
#[test]
fn imports_in_a_child_module_are_refused() {
    let dir = scratch("import-child");
    write_files(
        &dir,
        &[
            ("main.yaml", "regions: { primary: us-west-1, secondary: us-east-1 }\nmodules:\n  m: { source: ./m }\n"),
            ("m/main.yaml", "regions: [primary]\nimports:\n  - to: aws_s3_bucket.x\n    id: y\n"),
        ],
    );
    let run = standby(&dir, &["validate", "."]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("m/main.yaml:3:3: `imports` belongs in the root module"), "{}", run.stderr);
}

/// What people read: the human, markdown and JSON views of an import.
#[test]
fn import_plans_render_for_humans_markdown_and_json() {
    let emu = Emulator::start();
    make_bucket(&emu, "adopted-files");
    let dir = scratch("import-render");
    make_bucket(&emu, "adopted-logs");
    bucket_config(
        &dir,
        "      tags: { app: mattermost }\n  logs:\n    type: aws_s3_bucket\n    properties: { bucket: adopted-logs }\n",
    );
    std::fs::write(dir.join("logs.yaml"), "imports:\n  - to: aws_s3_bucket.logs\n    id: adopted-logs\n").unwrap();
    let human = emu.standby(&dir, &["plan", "."]);
    assert_eq!(human.code, 0, "{}", human.all());
    insta::assert_snapshot!("import_plan_human", human.stdout);
    let md = emu.standby(&dir, &["plan", ".", "--format", "markdown"]);
    insta::assert_snapshot!("import_plan_markdown", md.stdout);
    let json = emu.standby(&dir, &["plan", ".", "--json"]);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    insta::assert_json_snapshot!("import_plan_json_change", doc["resource_changes"][0]);
}

/// A saved plan carries what the imports read: applying it adopts them,
/// and the state keeps the fact.
#[test]
fn a_saved_plan_applies_its_imports() {
    let emu = Emulator::start();
    make_bucket(&emu, "adopted-files");
    let dir = scratch("import-saved");
    bucket_config(&dir, "      tags: { app: mattermost }\n");
    let run = emu.standby(&dir, &["plan", ".", "--out", "p.tfplan"]);
    assert_eq!(run.code, 0, "{}", run.all());
    forget_calls(&emu);
    let run = emu.standby(&dir, &["apply", "p.tfplan"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("Resources: 1 imported, 0 added, 1 changed, 0 destroyed."), "{}", run.stdout);
    assert_eq!(writes(&calls(&emu)), vec!["PutBucketTagging".to_string()], "only the tag change writes");
    let state: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("state/standby.json")).unwrap()).unwrap();
    assert_eq!(state["resources"][0]["adopted"], true);
    let run = emu.standby(&dir, &["plan", ".", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}", run.all());
}

/// Block Public Access on an adopted bucket: an update keeps what the
/// configuration leaves unset as it is at apply time, not as the plan saw
/// it. The put replaces all four settings; a security team's change made
/// after the plan (here: ignore_public_acls turned off on a bucket made
/// with all four on, as S3 makes them) stays (review 24b S3).
#[test]
fn a_block_public_access_update_keeps_a_setting_changed_since_the_plan() {
    let emu = Emulator::start();
    make_bucket(&emu, "adopted-files");
    let dir = scratch("import-bpa-since");
    let config = |policy: &str| {
        bucket_config(
            &dir,
            &format!(
                "  bpa:\n    type: aws_s3_bucket_public_access_block\n    properties:\n      bucket: \"${{aws_s3_bucket.files.bucket}}\"\n      block_public_acls: true\n{policy}"
            ),
        )
    };
    config("");
    let run = emu.standby(&dir, &["apply", ".", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    config("      block_public_policy: false\n");
    let run = emu.standby(&dir, &["plan", ".", "--out", "p.tfplan"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let read = "aws('s3').get_public_access_block(Bucket='adopted-files')['PublicAccessBlockConfiguration']";
    py(
        &emu,
        &format!(
            "c = {read}\nc['IgnorePublicAcls'] = False\naws('s3').put_public_access_block(Bucket='adopted-files', PublicAccessBlockConfiguration=c)\nprint('null')"
        ),
    );
    let run = emu.standby(&dir, &["apply", "p.tfplan"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let now = py(&emu, &format!("print(json.dumps({read}))"));
    assert_eq!(
        now,
        json!({"BlockPublicAcls": true, "BlockPublicPolicy": false, "IgnorePublicAcls": false, "RestrictPublicBuckets": true}),
        "the setting changed since the plan stays"
    );
}

/// The IAM and S3 kinds the example lacks (a managed policy and its
/// attachment) read back what they manage too.
#[test]
fn iam_and_s3_kinds_read_back_what_they_manage() {
    let emu = Emulator::start();
    let root = scratch("import-all-kinds");
    let rel = Path::new("tests/fixtures/storage/all-kinds");
    copy_dir(&repo().join(rel), &root.join(rel));
    copy_dir(&repo().join("modules"), &root.join("modules"));
    let dir = root.join(rel);
    let run = emu.standby(&dir, &["apply", ".", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let state: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("state/standby.json")).unwrap()).unwrap();
    let types: std::collections::BTreeSet<&str> =
        state["resources"].as_array().unwrap().iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert!(types.contains("aws_iam_policy") && types.contains("aws_iam_role_policy_attachment"), "{types:?}");
    reimport_everything(&dir, &state, &|args| emu.standby(&dir, args));
}

/// An imported security user or role keeps what the configuration leaves
/// unset (as found): the plugin's PUT replaces the whole object, so its
/// body carries production's backend roles, attributes and security roles
/// (a role's index and tenant permissions, its description). Before, an
/// imported user's first apply sent `backend_roles: []` and nothing else,
/// and production's user lost them. A changed password of an imported user
/// is refused unless `allow_disruption` lists it. Read with the plugin's API.
#[test]
fn an_imported_security_user_and_role_keep_what_the_configuration_leaves_unset() {
    const PASSWORD: &str = "Srch-Master-9!kq";
    let emu = Emulator::start();
    let dir = scratch("import-security").join("audit");
    copy_dir(&repo().join("tests/fixtures/audit"), &dir);
    let run = |env: &[(&str, &str)], args: &[&str]| -> Run {
        let mut c = emu.cmd(&dir, args);
        c.env("STANDBY_VAR_search_password", PASSWORD).env("STANDBY_VAR_mm_password", "Prod-Mm-Pass9!");
        c.envs(env.iter().copied());
        let run: Run = c.output().expect("run standby").into();
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        run
    };
    let ok = |env: &[(&str, &str)], args: &[&str]| -> Run {
        let r = run(env, args);
        assert_eq!(r.code, 0, "standby {}:\n{}", args.join(" "), r.all());
        r
    };
    ok(&[], &["apply", ".", "--auto-approve"]);
    let (status, text) = common::http(&emu.endpoint(), "GET", "/_emulator/opensearch/domains", None, "", None);
    assert_eq!(status, 200, "{text}");
    let domains: Value = serde_json::from_str(&text).unwrap();
    let host = domains.as_array().unwrap().iter().find(|d| d["domain"] == "mm-audit").unwrap()["endpoints"][0]
        .as_str()
        .unwrap()
        .to_string();
    let rest = |method: &str, path: &str, body: Option<&Value>| -> Value {
        let body = body.map(Value::to_string);
        let (status, text) = common::http(&emu.endpoint(), method, path, Some(&host), PASSWORD, body.as_deref());
        assert!((200..300).contains(&status), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    };
    // Production's own user and role, with what standby's configuration does not set.
    rest(
        "PUT",
        "/_plugins/_security/api/internalusers/mm-prod",
        Some(&json!({"password": "Prod-Mm-Pass9!", "backend_roles": ["prod-backend"],
                      "attributes": {"team": "chat"}, "opendistro_security_roles": ["readall"]})),
    );
    rest(
        "PUT",
        "/_plugins/_security/api/roles/mm-prod-role",
        Some(&json!({"cluster_permissions": ["cluster_monitor"],
                      "index_permissions": [{"index_patterns": ["prod-*"], "allowed_actions": ["read"]}],
                      "tenant_permissions": [{"tenant_patterns": ["global_tenant"], "allowed_actions": ["kibana_all_read"]}],
                      "description": "production's own"})),
    );
    let user = || rest("GET", "/_plugins/_security/api/internalusers/mm-prod", None)["mm-prod"].clone();
    let role = || rest("GET", "/_plugins/_security/api/roles/mm-prod-role", None)["mm-prod-role"].clone();
    let (user_before, role_before) = (user(), role());
    assert_eq!(user_before["backend_roles"], json!(["prod-backend"]), "{user_before}");
    let security = |extra: &str| {
        format!(
            "variables:\n  mm_password: {{ type: string, sensitive: true }}\n  \
             mm_allow: {{ type: any, default: null }}\n\
             resources:\n  \
             user:\n    type: opensearch_internal_user\n    properties:\n      \
             domain_endpoint: \"${{aws_opensearch_domain.domain.endpoint}}\"\n      master_user_name: admin\n      \
             master_user_password: \"${{var.search_password}}\"\n      user_name: mm-prod\n      \
             password: \"${{var.mm_password}}\"\n      allow_disruption: \"${{var.mm_allow}}\"\n  \
             role:\n    type: opensearch_role\n    properties:\n      \
             domain_endpoint: \"${{aws_opensearch_domain.domain.endpoint}}\"\n      master_user_name: admin\n      \
             master_user_password: \"${{var.search_password}}\"\n      role_name: mm-prod-role\n      \
             cluster_permissions: [cluster_monitor, cluster_composite_ops]\n{extra}"
        )
    };
    write_files(
        &dir,
        &[(
            "security.yaml",
            &security(
                "imports:\n  - { to: opensearch_internal_user.user, id: mm-prod }\n  - { to: opensearch_role.role, id: mm-prod-role }\n",
            ),
        )],
    );
    ok(&[], &["apply", ".", "--auto-approve"]);
    std::fs::write(dir.join("security.yaml"), security("")).unwrap();
    let (user_after, role_after) = (user(), role());
    for k in ["backend_roles", "attributes", "opendistro_security_roles"] {
        assert_eq!(user_after[k], user_before[k], "the imported user's `{k}` changed: {user_after}");
    }
    // The role's update (its cluster permissions) sent the rest as found.
    assert_eq!(role_after["cluster_permissions"], json!(["cluster_monitor", "cluster_composite_ops"]));
    for k in ["index_permissions", "tenant_permissions", "description"] {
        assert_eq!(role_after[k], role_before[k], "the imported role's `{k}` changed: {role_after}");
    }
    ok(&[], &["plan", ".", "--detailed-exitcode"]);
    // Another password for the imported user: refused, unless accepted.
    let new = [("STANDBY_VAR_mm_password", "Prod-Mm-Other9!")];
    let refused = run(&new, &["plan", "."]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(
        refused.stderr.contains("this changes the password of adopted internal user `mm-prod`"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("allow_disruption: [password]"), "{}", refused.stderr);
    let accept = [new[0], ("STANDBY_VAR_mm_allow", "[\"password\"]")];
    ok(&accept, &["apply", ".", "--auto-approve"]);
    let user_changed = user();
    for k in ["backend_roles", "attributes", "opendistro_security_roles"] {
        assert_eq!(user_changed[k], user_before[k], "the password change dropped `{k}`: {user_changed}");
    }
    ok(&accept, &["plan", ".", "--detailed-exitcode"]);
}
