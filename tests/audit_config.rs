//! `opensearch_audit_config` against the emulator's security plugin: apply
//! switches audit logging on, drift is seen and repaired, import adopts it,
//! removing it switches auditing off, and bad input is located. What the
//! domain holds is checked with direct HTTP requests to its REST API, never
//! through standby.

mod common;

use common::{Emulator, Run, copy_dir, http, repo, scratch};
use serde_json::{Value, json};
use std::path::PathBuf;

const PASSWORD: &str = "Srch-Master-9!kq";
const AUDIT: &str = "/_plugins/_security/api/audit";
const ADDR: &str = "opensearch_audit_config.audit";

struct World {
    emu: Emulator,
    dir: PathBuf,
}

impl World {
    fn new(name: &str) -> World {
        let emu = Emulator::start();
        let dir = scratch(name).join("audit");
        copy_dir(&repo().join("tests/fixtures/audit"), &dir);
        World { emu, dir }
    }

    fn run_as(&self, user: &str, args: &[&str]) -> Run {
        let mut c = self.emu.cmd(&self.dir, args);
        c.env("STANDBY_VAR_search_password", PASSWORD).env("STANDBY_VAR_audit_user", user);
        let run: Run = c.output().expect("run standby").into();
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(!run.all().contains(PASSWORD), "the password leaked:\n{}", run.all());
        run
    }

    fn ok(&self, code: i32, args: &[&str]) -> Run {
        let run = self.run_as("admin", args);
        assert_eq!(run.code, code, "standby {}:\n{}", args.join(" "), run.all());
        run
    }

    fn host(&self) -> String {
        let (status, text) = http(&self.emu.endpoint(), "GET", "/_emulator/opensearch/domains", None, "", None);
        assert_eq!(status, 200, "{text}");
        let domains: Value = serde_json::from_str(&text).unwrap();
        let d = domains.as_array().unwrap().iter().find(|d| d["domain"] == "mm-audit").expect("domain mm-audit");
        d["endpoints"][0].as_str().unwrap().to_string()
    }

    /// The domain's audit config, read directly as the master user.
    fn audit(&self) -> Value {
        let (status, text) = http(&self.emu.endpoint(), "GET", AUDIT, Some(&self.host()), PASSWORD, None);
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<Value>(&text).unwrap()["config"].clone()
    }

    /// Someone changes the config outside standby (as Dashboards would).
    fn put_audit(&self, config: &Value) {
        let body = config.to_string();
        let (status, text) =
            http(&self.emu.endpoint(), "PUT", &format!("{AUDIT}/config"), Some(&self.host()), PASSWORD, Some(&body));
        assert_eq!(status, 200, "{text}");
    }

    /// A request with a wrong password: the plugin audits it as FAILED_LOGIN.
    fn failed_login(&self) {
        let (status, text) = http(&self.emu.endpoint(), "GET", "/", Some(&self.host()), "not-the-password", None);
        assert_eq!(status, 401, "{text}");
    }

    /// The audit events in the domain's log group, read with the CloudWatch Logs SDK.
    fn audit_events(&self) -> Vec<Value> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let config = common::sdk_config(&self.emu.endpoint(), "us-east-1").await;
            let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
            let group = "/aws/opensearch/mm-audit";
            let streams = logs.describe_log_streams().log_group_name(group).send().await.unwrap();
            let mut out = Vec::new();
            for s in streams.log_streams() {
                let name = s.log_stream_name().unwrap();
                let got = logs.get_log_events().log_group_name(group).log_stream_name(name).send().await.unwrap();
                for e in got.events() {
                    out.push(serde_json::from_str(e.message().unwrap()).unwrap());
                }
            }
            out
        })
    }

    fn edit(&self, from: &str, to: &str) {
        let path = self.dir.join("main.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from:?} not in main.yaml");
        std::fs::write(path, text.replacen(from, to, 1)).unwrap();
    }
}

/// Whether a plan has the line `~ <attr> = <change>` (whatever the alignment).
fn shows(plan: &str, attr: &str, change: &str) -> bool {
    plan.lines().any(|l| {
        l.trim_start()
            .strip_prefix(&format!("~ {attr} "))
            .is_some_and(|rest| rest.trim_start().strip_prefix("= ") == Some(change))
    })
}

#[test]
fn apply_switches_auditing_on_repairs_drift_destroys_and_imports() {
    let w = World::new("audit-lifecycle");
    // A new domain's audit logging is off: published audit logs would stay empty.
    w.ok(0, &["apply", ".", "--auto-approve", "--target", "aws_opensearch_domain_policy.policy"]);
    assert_eq!(w.audit()["enabled"], json!(false));
    w.failed_login();
    assert_eq!(w.audit_events(), Vec::<Value>::new(), "AUDIT_LOGS published, but the plugin audits nothing yet");

    w.ok(0, &["apply", ".", "--auto-approve"]);
    w.failed_login();
    let events = w.audit_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["audit_category"], json!("FAILED_LOGIN"), "{events:?}");
    let on = w.audit();
    assert_eq!(on["enabled"], json!(true));
    assert_eq!(on["audit"]["disabled_rest_categories"], json!(["AUTHENTICATED", "GRANTED_PRIVILEGES"]));
    assert_eq!(on["audit"]["disabled_transport_categories"], json!(["AUTHENTICATED", "GRANTED_PRIVILEGES"]));
    // The plugin's default logs bodies; standby's does not (they can hold secrets).
    assert_eq!(on["audit"]["log_request_body"], json!(false));
    assert_eq!(on["audit"]["ignore_users"], json!(["kibanaserver", "mattermost"]));
    // Not managed here: kept as the domain had them, read-only ones included.
    assert_eq!(on["audit"]["enable_rest"], json!(true));
    assert_eq!(on["compliance"]["internal_config"], json!(true));
    assert_eq!(on["compliance"]["external_config"], json!(false));
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
    let state = w.ok(0, &["state", "show", ADDR]).stdout;
    assert!(state.contains("audit_log_request_body") && !state.contains("internal_config"), "{state}");

    // Someone switches auditing off and tunes a field standby does not manage.
    let mut off = on.clone();
    off["enabled"] = json!(false);
    off["audit"]["ignore_requests"] = json!(["/_cluster/health"]);
    w.put_audit(&off);
    let plan = w.ok(2, &["plan", ".", "--detailed-exitcode"]);
    assert!(plan.stdout.contains(&format!("{ADDR} (us-east-1) will be updated in-place")), "{}", plan.stdout);
    assert!(plan.stdout.contains("has changed") && shows(&plan.stdout, "enabled", "true -> false"), "{}", plan.stdout);
    assert!(shows(&plan.stdout, "enabled", "false -> true"), "{}", plan.stdout);
    w.ok(0, &["apply", ".", "--auto-approve"]);
    let repaired = w.audit();
    assert_eq!(repaired["enabled"], json!(true));
    assert_eq!(repaired["audit"]["ignore_requests"], json!(["/_cluster/health"]), "unmanaged fields are kept");
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);

    // Destroyed: the configuration is put back as the domain had it before
    // standby (auditing off), plainly said; the domain stays.
    let destroy = w.ok(0, &["destroy", ".", "--auto-approve", "--target", ADDR]);
    assert!(destroy.stdout.contains(&format!("{ADDR} (us-east-1) will be destroyed")), "{}", destroy.stdout);
    assert!(destroy.stdout.contains("audit logging is switched off"), "{}", destroy.stdout);
    assert!(destroy.stdout.contains("audit logs already in CloudWatch Logs are kept"), "{}", destroy.stdout);
    assert!(destroy.stdout.contains("1 destroyed"), "{}", destroy.stdout);
    let after = w.audit();
    assert_eq!(after["enabled"], json!(false));
    assert_eq!(after["audit"]["ignore_users"], json!(["kibanaserver"]), "as before standby");
    assert_eq!(after["audit"]["ignore_requests"], json!(["/_cluster/health"]), "unmanaged fields are kept");
    let list = w.ok(0, &["state", "list"]).stdout;
    assert!(!list.contains(ADDR) && list.contains("aws_opensearch_domain.domain"), "{list}");

    // Adopted by its domain endpoint: production, read as the domain has it
    // (off). What the configuration leaves unset stays as found; what it
    // sets is applied, and listed among the changes to production. The
    // master user's password it signs in with is checked, not overwritten.
    let host = w.host();
    let import = w.ok(0, &["import", ADDR, &host, "."]);
    assert!(!import.all().contains("never returns it"), "{}", import.all());
    let state = w.ok(0, &["state", "show", ADDR]).stdout;
    assert!(state.contains(&host), "{state}");
    let plan = w.ok(2, &["plan", ".", "--detailed-exitcode"]);
    assert!(!plan.all().contains("never returns it"), "{}", plan.all());
    assert!(!plan.stdout.contains("~ enabled"), "unset: as found\n{}", plan.stdout);
    assert!(plan.stdout.contains("Changes to production"), "{}", plan.stdout);
    w.edit("      audit_ignore_users:", "      enabled: true\n      audit_ignore_users:");
    let plan = w.ok(2, &["plan", ".", "--detailed-exitcode"]);
    assert!(shows(&plan.stdout, "enabled", "false -> true"), "{}", plan.stdout);
    w.ok(0, &["apply", ".", "--auto-approve"]);
    assert_eq!(w.audit()["enabled"], json!(true));
    w.ok(0, &["plan", ".", "--detailed-exitcode"]);
}

#[test]
fn a_user_without_security_manager_is_named_in_the_refusal() {
    let w = World::new("audit-forbidden");
    w.ok(0, &["apply", ".", "--auto-approve", "--target", "aws_opensearch_domain_policy.policy"]);
    // An internal user without the security_manager role.
    let body = json!({"password": PASSWORD}).to_string();
    let (status, text) = http(
        &w.emu.endpoint(),
        "PUT",
        "/_plugins/_security/api/internalusers/auditor",
        Some(&w.host()),
        PASSWORD,
        Some(&body),
    );
    assert_eq!(status, 201, "{text}");
    let run = w.run_as("auditor", &["apply", ".", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("GET _plugins/_security/api/audit: FORBIDDEN"), "{}", run.stderr);
    assert!(run.stderr.contains("user `auditor` may not use the security plugin's audit API"), "{}", run.stderr);
    assert!(run.stderr.contains("security_manager"), "{}", run.stderr);
    assert_eq!(w.audit()["enabled"], json!(false));
    let list = w.run_as("auditor", &["state", "list"]).stdout;
    assert!(!list.contains(ADDR), "{list}");
}

#[test]
fn wrong_types_and_categories_are_located_before_any_call() {
    let w = World::new("audit-bad");
    w.edit(
        "      audit_ignore_users: [kibanaserver, mattermost]\n",
        "      audit_log_request_body: [no]\n      audit_rest_disabled_categories: [INDEX_EVENT]\n",
    );
    let run = w.ok(1, &["plan", "."]);
    let err = &run.stderr;
    assert!(err.contains("main.yaml:55:31"), "{err}");
    assert!(err.contains("audit_log_request_body") && err.contains("expected bool, got list"), "{err}");
    assert!(err.contains("main.yaml:56:7"), "{err}");
    assert!(err.contains("unknown audit category \"INDEX_EVENT\""), "{err}");
    assert!(err.contains(ADDR), "{err}");
    assert!(!w.dir.join("state").exists() || std::fs::read_dir(w.dir.join("state")).unwrap().count() == 0);
}
