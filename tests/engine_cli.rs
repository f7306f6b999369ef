//! The engine through the built binary, with `standby_data` (no cloud calls):
//! bad input, rendered plans, saved plans, locking, crash safety, state upgrade.

mod common;

use common::{Run, copy_dir, repo, scratch, standby};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

fn fixture(name: &str) -> std::path::PathBuf {
    repo().join("tests/fixtures").join(name)
}

/// Random ids and lineages vary per run; snapshots show placeholders.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..].iter().take_while(|c| c.is_ascii_hexdigit() || **c == '-').count();
        let word: String = chars[i..i + run].iter().collect();
        let hex_only = word.chars().filter(|c| c.is_ascii_hexdigit()).count();
        let boundary = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if boundary
            && run >= 16
            && (word.len() == 16 && hex_only == 16 || word.len() == 36 && hex_only == 32)
            && word.chars().any(|c| c.is_ascii_digit())
        {
            out.push_str(if word.len() == 16 { "<id>" } else { "<uuid>" });
            i += run;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

// ---------------------------------------------------------------- bad input

fn bad(case: &str) -> Run {
    let dir = scratch(case);
    copy_dir(&fixture("bad").join(case), &dir);
    let run = standby(&dir, &["plan", "."]);
    assert_eq!(run.code, 1, "{case}: expected exit 1\n{}", run.all());
    assert!(!dir.join("state").exists(), "{case}: a bad configuration must leave no state behind");
    assert!(!run.stderr.contains("panicked"), "{case}: {}", run.stderr);
    run
}

macro_rules! bad_input {
    ($($name:ident: [$($needle:expr),+],)+) => {$(
        #[test]
        fn $name() {
            let run = bad(stringify!($name));
            for needle in [$($needle),+] {
                assert!(run.stderr.contains(needle), "missing {needle:?} in:\n{}", run.stderr);
            }
            insta::assert_snapshot!(concat!("bad_", stringify!($name)), run.stderr);
        }
    )+};
}

bad_input! {
    yaml_syntax: ["main.yaml:5:", "YAML syntax error"],
    unknown_key: ["main.yaml:5:5: standby_data.a: unknown key `propertis`", "did you mean `properties`?"],
    wrong_type: ["main.yaml:3:34: var.size", "expected number, got string"],
    undefined_reference: ["main.yaml:8:14: standby_data.a: reference to undeclared variable `var.prefx`", "main.yaml:12:14: standby_data.b: reference to undeclared resource `standby_data.missing`"],
    cycle: ["main.yaml:3:3: standby_data.a: dependency cycle: standby_data.a -> standby_data.b -> standby_data.a"],
    unknown_region: ["main.yaml:1:43: `us-west-9` is not an AWS region", "main.yaml:5:13: standby_data.a: unknown region `tertiary`"],
    same_regions: ["main.yaml:1:43: primary and secondary must be different regions"],
    duplicate_names: ["b.yaml:2:3: duplicate resource `standby_data.a` (first defined at a.yaml:3:3)"],
    missing_module: ["main.yaml:4:13: module.storage: module source `../does-not-exist` not found"],
    unknown_type_and_property: ["main.yaml:4:11: standby_dta.a: unknown resource type", "main.yaml:8:7: standby_data.b: unknown property `inptu`", "main.yaml:9:7: standby_data.b: `output` is set by AWS"],
    bad_reference_syntax: ["main.yaml:6:22: unterminated reference", "main.yaml:7:25: standby_data.a: `count.index` is only available"],
    missing_variable: ["main.yaml:3:3: var.db_password: no value for required variable `db_password`", "STANDBY_VAR_db_password"],
    sensitive_for_each: ["main.yaml:7:15: standby_data.a: `for_each` cannot use a sensitive value"],
    bad_expression: ["main.yaml:8:59: expected `:` between the two results of `? :`, found the number 1", "main.yaml:13:48: the results of `? :` must have the same type"],
    bad_expression_values: ["main.yaml:9:17: standby_data.a: each operand of `&&` must be a bool, but this is a string", "main.yaml:10:39: standby_data.a: `==` compares a number with a string"],
    bad_names: ["main.yaml:3:3: invalid resource name `a.b`", "main.yaml:5:3: invalid resource name `9lives`", "main.yaml:8:3: invalid output name `out put`"],
}

#[test]
fn secrets_never_leak_through_for_each() {
    let run = bad("sensitive_for_each");
    assert!(!run.all().contains("S3cr3t"), "{}", run.all());
}

#[test]
fn usage_errors_exit_1_not_2() {
    let run = standby(&repo(), &["plan", "--bogus"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(standby(&repo(), &["plan", ".", "--parallelism", "abc"]).code, 1);
    assert_eq!(standby(&repo(), &["--help"]).code, 0);
}

#[test]
fn bad_input_leaves_existing_state_untouched() {
    let dir = scratch("untouched");
    copy_dir(&fixture("plan/v1"), &dir);
    assert_eq!(standby(&dir, &["apply", ".", "--auto-approve", "--var", "db_password=s3cret"]).code, 0);
    let before = std::fs::read(dir.join("state/standby.json")).unwrap();
    std::fs::write(dir.join("broken.yaml"), "resources:\n  x: { type: standby_data, region: nowhere }\n").unwrap();
    let run = standby(&dir, &["apply", ".", "--auto-approve", "--var", "db_password=s3cret"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("broken.yaml:2:"), "{}", run.stderr);
    assert_eq!(std::fs::read(dir.join("state/standby.json")).unwrap(), before);
}

/// No input makes the loader panic: every prefix of a valid configuration.
#[test]
fn truncated_configurations_never_panic() {
    let text = std::fs::read_to_string(fixture("plan/v2/main.yaml")).unwrap();
    let dir = scratch("truncated");
    let inputs = standby::eval::vars::VarInputs { allow_missing: true, ..Default::default() };
    for end in (0..text.len()).step_by(3) {
        std::fs::write(dir.join("main.yaml"), &text[..end]).unwrap();
        let result = std::panic::catch_unwind(|| standby::load::load(&dir, &inputs).err());
        assert!(result.is_ok(), "panicked on the first {end} bytes");
    }
}

// ---------------------------------------------------------------- plans

fn applied_v1() -> std::path::PathBuf {
    let dir = scratch("plans");
    copy_dir(&fixture("plan/v1"), &dir);
    let run = standby(&dir, &["apply", ".", "--auto-approve", "--var", "db_password=hunter2"]);
    assert_eq!(run.code, 0, "{}", run.all());
    std::fs::copy(fixture("plan/v2/main.yaml"), dir.join("main.yaml")).unwrap();
    dir
}

#[test]
fn plan_renders_for_humans_json_and_markdown() {
    let dir = scratch("create");
    copy_dir(&fixture("plan/v1"), &dir);
    let create = standby(&dir, &["plan", ".", "--var", "db_password=hunter2"]);
    assert_eq!(create.code, 0, "{}", create.all());
    insta::assert_snapshot!("plan_create_human", redact(&create.stdout));

    let dir = applied_v1();
    let args = ["plan", ".", "--var", "db_password=hunter3"];
    let human = standby(&dir, &args);
    assert_eq!(human.code, 0, "{}", human.all());
    insta::assert_snapshot!("plan_update_human", redact(&human.stdout));
    assert!(human.stdout.contains("Plan: 2 to add, 2 to change, 2 to destroy."), "{}", human.stdout);

    let md = standby(&dir, &[&args[..], &["--format", "markdown"]].concat());
    insta::assert_snapshot!("plan_update_markdown", redact(&md.stdout));

    let json = standby(&dir, &[&args[..], &["--json"]].concat());
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("plan JSON");
    insta::assert_snapshot!("plan_update_json", redact(&serde_json::to_string_pretty(&doc).unwrap()));
    let pinned =
        doc["resource_changes"].as_array().unwrap().iter().find(|c| c["address"] == "standby_data.pinned").unwrap();
    assert_eq!(pinned["change"]["actions"], serde_json::json!(["delete", "create"]));
    assert_eq!(pinned["change"]["replace_paths"], serde_json::json!([["triggers_replace"]]));
    assert_eq!(pinned["change"]["after_unknown"]["id"], true);
    for out in [&human.stdout, &md.stdout, &json.stdout] {
        assert!(!out.contains("hunter"), "a secret leaked:\n{out}");
    }
}

/// `${…}` expressions drive role-dependent values from one variable.
#[test]
fn expressions_switch_roles_from_one_variable() {
    let dir = scratch("expr");
    copy_dir(&fixture("expr"), &dir);
    let create = standby(&dir, &["plan", "."]);
    assert_eq!(create.code, 0, "{}", create.all());
    insta::assert_snapshot!("plan_expressions_human", redact(&create.stdout));

    let json = |args: &[&str]| -> serde_json::Value {
        let run = standby(&dir, &[&["plan", ".", "--json"][..], args].concat());
        assert_eq!(run.code, 0, "{}", run.all());
        serde_json::from_str(&run.stdout).expect("plan JSON")
    };
    let after = |doc: &serde_json::Value, addr: &str| -> serde_json::Value {
        let c = doc["resource_changes"].as_array().unwrap().iter().find(|c| c["address"] == addr).unwrap();
        c["change"]["after"]["input"].clone()
    };
    let doc = json(&["--var", "active_region=secondary", "--var", "replicate=false"]);
    let primary = after(&doc, "standby_data.site[\"primary\"]");
    assert_eq!(
        primary,
        serde_json::json!({"role": "reader", "active": false, "follows": null, "label": "site-primary-ro"})
    );
    assert_eq!(after(&doc, "standby_data.site[\"secondary\"]")["role"], "writer");
    // `unknown || true` is decided; `unknown || false` stays unknown until apply.
    assert_eq!(after(&doc, "standby_data.after"), serde_json::json!(true));
    let doc = json(&[]);
    assert_eq!(after(&doc, "standby_data.site[\"secondary\"]")["follows"], "primary");
    let unknown =
        doc["resource_changes"].as_array().unwrap().iter().find(|c| c["address"] == "standby_data.after").unwrap();
    assert_eq!(unknown["change"]["after_unknown"]["input"], true, "{unknown}");

    // Applied, the same setting plans clean; flipping it changes only the values.
    assert_eq!(standby(&dir, &["apply", ".", "--auto-approve"]).code, 0);
    assert_eq!(standby(&dir, &["plan", ".", "--detailed-exitcode"]).code, 0);
    let flip = standby(&dir, &["plan", ".", "--var", "active_region=secondary"]);
    assert!(flip.stdout.contains("Plan: 0 to add, 2 to change, 0 to destroy."), "{}", flip.stdout);
}

#[test]
fn detailed_exitcode_and_no_changes() {
    let dir = scratch("exitcode");
    copy_dir(&fixture("plan/v1"), &dir);
    let v = ["--var", "db_password=x"];
    assert_eq!(standby(&dir, &[&["plan", ".", "--detailed-exitcode"][..], &v].concat()).code, 2);
    assert_eq!(standby(&dir, &[&["apply", ".", "--auto-approve"][..], &v].concat()).code, 0);
    let again = standby(&dir, &[&["plan", ".", "--detailed-exitcode"][..], &v].concat());
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    // A changed secret is detected through its hash alone (Argon2id, salted).
    assert_eq!(standby(&dir, &["plan", ".", "--detailed-exitcode", "--var", "db_password=y"]).code, 2);
    let state = std::fs::read_to_string(dir.join("state/standby.json")).unwrap();
    assert!(state.contains("\"argon2id:v=19,m=19456,t=2,p=1:") && !state.contains("\"x\""), "{state}");
}

#[test]
fn apply_refuses_without_a_terminal_or_approval() {
    let dir = scratch("approve");
    copy_dir(&fixture("plan/v1"), &dir);
    let run = standby(&dir, &["apply", ".", "--var", "db_password=x"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
    assert!(!dir.join("state/standby.json").exists());
}

#[test]
fn targets_pull_in_dependencies_only() {
    let dir = scratch("target");
    copy_dir(&fixture("plan/v1"), &dir);
    let run = standby(
        &dir,
        &["apply", ".", "--auto-approve", "--var", "db_password=x", "--target", "standby_data.copies[1]"],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    let list = standby(&dir, &["state", "list"]).stdout;
    assert_eq!(list, "standby_data.copies[1]\nstandby_data.marker\n");
}

#[test]
fn destroy_and_prevent_destroy() {
    let dir = scratch("destroy");
    copy_dir(&fixture("plan/v1"), &dir);
    assert_eq!(standby(&dir, &["apply", ".", "--auto-approve", "--var", "db_password=x"]).code, 0);
    let text = std::fs::read_to_string(dir.join("main.yaml")).unwrap();
    std::fs::write(
        dir.join("main.yaml"),
        text.replace(
            "  pinned:\n    type: standby_data\n",
            "  pinned:\n    type: standby_data\n    lifecycle: { prevent_destroy: true }\n",
        ),
    )
    .unwrap();
    let refused = standby(&dir, &["destroy", ".", "--auto-approve", "--var", "db_password=x"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("main.yaml:18:3: standby_data.pinned: cannot destroy: lifecycle.prevent_destroy is set"),
        "{}",
        refused.stderr
    );
    std::fs::write(dir.join("main.yaml"), text).unwrap();
    let run = standby(&dir, &["destroy", ".", "--auto-approve", "--var", "db_password=x"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("Destroy complete! Resources: 5 destroyed."), "{}", run.stdout);
    assert_eq!(standby(&dir, &["state", "list"]).stdout, "");
}

// ---------------------------------------------------------------- saved plans

#[test]
fn saved_plan_applies_once_and_then_is_stale() {
    let dir = scratch("saved");
    copy_dir(&fixture("plan/v1"), &dir);
    let v = ["--var", "db_password=x"];
    assert_eq!(standby(&dir, &[&["plan", ".", "--out", "p.tfplan"][..], &v].concat()).code, 0);
    let show = standby(&dir, &["show", "p.tfplan"]);
    assert!(show.stdout.contains("Plan: 5 to add"), "{}", show.stdout);
    let first = standby(&dir, &[&["apply", "p.tfplan"][..], &v].concat());
    assert_eq!(first.code, 0, "{}", first.all());
    let again = standby(&dir, &[&["apply", "p.tfplan"][..], &v].concat());
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("the saved plan is stale: the state changed since the plan was made"),
        "{}",
        again.stderr
    );
    // A configuration edited after planning is refused too.
    assert_eq!(standby(&dir, &[&["plan", ".", "--out", "q.tfplan"][..], &v].concat()).code, 0);
    std::fs::write(dir.join("extra.yaml"), "resources:\n  z: { type: standby_data }\n").unwrap();
    let edited = standby(&dir, &[&["apply", "q.tfplan"][..], &v].concat());
    assert_eq!(edited.code, 1);
    assert!(edited.stderr.contains("changed since the plan was made"), "{}", edited.stderr);
}

// ---------------------------------------------------------------- locking

#[test]
fn a_second_run_fails_at_once_while_the_state_is_locked() {
    let dir = scratch("lock");
    copy_dir(&fixture("plan/v1"), &dir);
    // This test process holds the lock, as another run would.
    let held = standby::state::lock::acquire(&dir.join("state/standby.json"), "apply").unwrap();
    let started = std::time::Instant::now();
    let run = standby(&dir, &["plan", ".", "--var", "db_password=x"]);
    assert_eq!(run.code, 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    for needle in [
        "the state is locked by another run",
        &held.info.id,
        "operation: apply",
        &format!("(pid {})", std::process::id()),
        "standby force-unlock",
    ] {
        assert!(run.stderr.contains(needle), "missing {needle:?}:\n{}", run.stderr);
    }
    let wrong = standby(&dir, &["force-unlock", "not-the-id"]);
    assert_eq!(wrong.code, 1);
    assert!(wrong.stderr.contains("does not match"), "{}", wrong.stderr);
    let unlocked = standby(&dir, &["force-unlock", &held.info.id]);
    assert_eq!(unlocked.code, 0, "{}", unlocked.all());
    assert_eq!(standby(&dir, &["plan", ".", "--var", "db_password=x"]).code, 0);
    drop(held);
}

// ---------------------------------------------------------------- crash safety

#[test]
fn kill_9_during_apply_loses_nothing() {
    let dir = scratch("kill");
    common::write_files(
        &dir,
        &[(
            "main.yaml",
            "regions: { primary: us-west-1, secondary: us-east-1 }\nresources:\n  many:\n    type: standby_data\n    count: 20000\n    properties:\n      input: { n: \"${count.index}\" }\n",
        )],
    );
    let mut child = common::cmd(&dir, &["apply", ".", "--auto-approve", "--parallelism", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut completed = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        if let Some(addr) =
            line.strip_suffix('\n').and_then(|l| l.split_once(": Creation complete")).map(|(a, _)| a.to_string())
        {
            completed.push(addr);
            if completed.len() == 300 {
                child.kill().unwrap(); // SIGKILL
                break;
            }
        }
        line.clear();
    }
    child.wait().unwrap();
    // Whatever was printed before the kill is still in the pipe.
    for l in reader.lines().map_while(Result::ok) {
        if let Some((a, _)) = l.split_once(": Creation complete") {
            completed.push(a.to_string());
        }
    }
    assert!(completed.len() >= 300 && completed.len() < 20000, "the kill did not land mid-apply ({})", completed.len());
    let listed = standby(&dir, &["state", "list"]).stdout;
    let known: std::collections::HashSet<&str> = listed.lines().map(|l| l.trim_end_matches("  (pending)")).collect();
    for a in &completed {
        assert!(known.contains(a.as_str()), "{a} was created but the state does not know it");
    }
    let plan = standby(&dir, &["plan", ".", "--json"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let changes = doc["resource_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 20000, "every resource is planned exactly once");
    let kept: std::collections::HashSet<&str> = changes
        .iter()
        .filter(|c| c["change"]["actions"] == serde_json::json!(["no-op"]))
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert!(
        changes.iter().all(|c| kept.contains(c["address"].as_str().unwrap())
            || c["change"]["actions"] == serde_json::json!(["create"]))
    );
    for a in &completed {
        assert!(kept.contains(a.as_str()), "{a} was created, yet the next plan would create it again");
    }
    let finish = standby(&dir, &["apply", ".", "--auto-approve"]);
    assert_eq!(finish.code, 0, "{}", finish.all());
    assert_eq!(standby(&dir, &["state", "list"]).stdout.lines().count(), 20000);
    assert_eq!(standby(&dir, &["plan", ".", "--detailed-exitcode"]).code, 0);
}

// ---------------------------------------------------------------- state

#[test]
fn state_upgrades_from_format_1() {
    let dir = scratch("upgrade");
    copy_dir(&fixture("state-upgrade/v1-config"), &dir);
    std::fs::create_dir_all(dir.join("state")).unwrap();
    std::fs::copy(fixture("state-upgrade/v1.json"), dir.join("state/standby.json")).unwrap();
    let list = standby(&dir, &["state", "list"]);
    assert_eq!(list.stdout, "standby_data.copies[1]\nstandby_data.marker\n", "{}", list.all());
    let plan = standby(&dir, &["plan", ".", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.all());
    assert!(plan.stdout.contains("Plan: 1 to add, 0 to change, 0 to destroy."), "{}", plan.stdout);
    assert_eq!(standby(&dir, &["apply", ".", "--auto-approve"]).code, 0);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state/standby.json")).unwrap()).unwrap();
    assert_eq!(doc["version"], 2);
    assert_eq!(doc["lineage"], "0b7c7f4e-1d2a-4c1e-9f00-5a5e5e5e5e5e");
    assert_eq!(doc["serial"], 5);
    assert!(dir.join("state/standby.json.backup").exists());
}

#[test]
fn state_from_a_newer_standby_is_refused() {
    let dir = scratch("newer");
    copy_dir(&fixture("state-upgrade/v1-config"), &dir);
    common::write_files(&dir, &[("state/standby.json", "{\"version\": 9, \"serial\": 1}")]);
    let run = standby(&dir, &["plan", "."]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("format version 9, newer than this standby understands"), "{}", run.stderr);
}

#[test]
fn state_mv_rm_and_show() {
    let dir = scratch("statecmds");
    copy_dir(&fixture("plan/v1"), &dir);
    assert_eq!(standby(&dir, &["apply", ".", "--auto-approve", "--var", "db_password=x"]).code, 0);
    let show = standby(&dir, &["state", "show", "standby_data.secret"]);
    assert!(show.stdout.contains("input  = (sensitive)"), "{}", show.stdout);
    assert_eq!(standby(&dir, &["state", "mv", "standby_data.pinned", "standby_data.renamed"]).code, 0);
    assert_eq!(standby(&dir, &["state", "rm", "standby_data.copies"]).code, 0);
    let list = standby(&dir, &["state", "list"]).stdout;
    assert_eq!(list, "standby_data.marker\nstandby_data.renamed\nstandby_data.secret\n");
    let out = standby(&dir, &["output", "marker_name"]);
    assert_eq!(out.stdout, "mm-files\n");
    assert_eq!(standby(&dir, &["output", "secret"]).stdout, "(sensitive)\n");
}

#[test]
fn graph_is_dot() {
    let run = standby(&fixture("plan/v2"), &["graph", ".", "--view", "dependencies"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.starts_with("digraph standby {"));
    assert!(run.stdout.contains("\"standby_data.copies\" -> \"standby_data.marker\";"), "{}", run.stdout);
}

#[allow(dead_code)]
fn _unused(_: &Path) {}

#[test]
fn modules_remap_regions_and_variables_follow_precedence() {
    let dir = scratch("modules");
    copy_dir(&fixture("modules"), &dir);
    let root = dir.join("root");
    let plan = |extra: &[&str], env: Option<&str>| {
        let mut c = common::cmd(&root, &[&["plan", ".", "--json"][..], extra].concat());
        if let Some(v) = env {
            c.env("STANDBY_VAR_prefix", v);
        }
        let run: Run = c.output().unwrap().into();
        assert_eq!(run.code, 0, "{}", run.all());
        serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap()
    };
    let doc = plan(&[], None);
    let large = doc["resource_changes"].as_array().unwrap().iter().find(|c| c["index"] == "large").unwrap();
    assert_eq!(large["address"], "module.flipped.standby_data.node[\"large\"]");
    assert_eq!(large["region"], "us-east-1", "the module's primary is bound to the root's secondary");
    assert_eq!(large["change"]["after"]["input"], "from-default-large-3-us-east-1");
    assert_eq!(doc["output_changes"]["home"]["after"], "us-east-1");
    assert_eq!(doc["output_changes"]["large"]["after"], "from-default-large-3-us-east-1");
    let input =
        |d: &serde_json::Value| d["resource_changes"][0]["change"]["after"]["input"].as_str().unwrap().to_string();
    assert!(input(&plan(&[], Some("from-env"))).starts_with("from-env-"));
    assert!(input(&plan(&["--var-file", "../vars.yaml"], Some("from-env"))).starts_with("from-file-"));
    assert!(
        input(&plan(&["--var-file", "../vars.yaml", "--var", "prefix=from-flag"], Some("from-env")))
            .starts_with("from-flag-")
    );
}

#[test]
fn help_teaches_with_examples() {
    for cmd in ["plan", "apply", "destroy", "state", "output", "force-unlock", "graph", "validate", "show", "init"] {
        let run = standby(&repo(), &[cmd, "--help"]);
        assert_eq!(run.code, 0, "{cmd}: {}", run.all());
        assert!(run.stdout.contains("standby "), "{cmd} --help has no example:\n{}", run.stdout);
    }
}

fn chain(dir: &Path, extra: &str) {
    common::write_files(
        dir,
        &[(
            "main.yaml",
            &format!(
                "regions: {{ primary: us-west-1, secondary: us-east-1 }}\nresources:\n  a:\n    type: standby_data\n    count: 3\n{extra}  b:\n    type: standby_data\n    properties: {{ input: \"${{standby_data.a[0].id}}\" }}\n  c:\n    type: standby_data\n    properties: {{ input: \"${{standby_data.b.id}}\" }}\n  other:\n    type: standby_data\n"
            ),
        )],
    );
}

#[test]
fn targeted_destroy_takes_dependents_not_dependencies() {
    let dir = scratch("target-destroy");
    chain(&dir, "");
    assert_eq!(standby(&dir, &["apply", ".", "--auto-approve"]).code, 0);
    let run = standby(&dir, &["destroy", ".", "--auto-approve", "--target", "standby_data.b"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("Destroy complete! Resources: 2 destroyed."), "{}", run.stdout);
    let left = standby(&dir, &["state", "list"]).stdout;
    assert_eq!(left, "standby_data.a[0]\nstandby_data.a[1]\nstandby_data.a[2]\nstandby_data.other\n");
    let nothing = standby(&dir, &["plan", ".", "--destroy", "--target", "standby_data.nope"]);
    assert!(nothing.stdout.contains("--target standby_data.nope matches nothing"), "{}", nothing.stdout);
}

#[test]
fn prevent_destroy_also_guards_a_shrinking_count() {
    let dir = scratch("shrink");
    chain(&dir, "    lifecycle: { prevent_destroy: true }\n");
    assert_eq!(standby(&dir, &["apply", ".", "--auto-approve"]).code, 0);
    let text = std::fs::read_to_string(dir.join("main.yaml")).unwrap().replace("count: 3", "count: 1");
    std::fs::write(dir.join("main.yaml"), text).unwrap();
    let run = standby(&dir, &["apply", ".", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("standby_data.a[1]: cannot destroy: lifecycle.prevent_destroy is set"),
        "{}",
        run.stderr
    );
    assert_eq!(standby(&dir, &["state", "list", "standby_data.a"]).stdout.lines().count(), 3);
}

#[test]
fn odd_for_each_keys_round_trip() {
    let dir = scratch("keys");
    common::write_files(
        &dir,
        &[(
            "main.yaml",
            "regions: { primary: us-west-1, secondary: us-east-1 }\nresources:\n  k:\n    type: standby_data\n    for_each: ['say \"hi\"', 'back\\slash', 'b]r[']\n    properties: { input: \"${each.key}\" }\n",
        )],
    );
    let run = standby(&dir, &["apply", ".", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(standby(&dir, &["plan", ".", "--detailed-exitcode"]).code, 0, "keys must survive the state file");
    let shown = standby(&dir, &["state", "show", "standby_data.k[\"say \\\"hi\\\"\"]"]);
    assert!(shown.stdout.contains("say \\\"hi\\\""), "{}", shown.all());
}

#[test]
fn ctrl_c_starts_no_new_operations_and_keeps_what_finished() {
    let dir = scratch("sigint");
    common::write_files(
        &dir,
        &[(
            "main.yaml",
            "regions: { primary: us-west-1, secondary: us-east-1 }\nresources:\n  many:\n    type: standby_data\n    count: 30000\n",
        )],
    );
    let mut child = common::cmd(&dir, &["apply", ".", "--auto-approve", "--parallelism", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut seen = 0;
    while reader.read_line(&mut line).unwrap() > 0 {
        if line.contains("Creation complete") {
            seen += 1;
            if seen == 200 {
                std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
                break;
            }
        }
        line.clear();
    }
    let rest: Vec<String> = reader.lines().map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "an interrupted apply fails");
    assert!(rest.iter().any(|l| l.contains("Interrupt received")), "{rest:?}");
    let recorded = standby(&dir, &["state", "list"]).stdout.lines().count();
    assert!((200..30000).contains(&recorded), "{recorded} recorded");
    let plan = standby(&dir, &["plan", ".", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(doc["summary"]["add"].as_u64().unwrap() as usize + recorded, 30000);
}

/// An IAM policy's id (its ARN) is AWS's: an apply killed before the answer
/// leaves an intent with only the natural key (path and name). The next
/// plan finds the policy by it and adopts it; nothing is created twice.
#[test]
fn an_interrupted_create_without_an_id_is_found_by_its_natural_key() {
    let emu = common::Emulator::start();
    let dir = scratch("lost-id");
    common::write_files(
        &dir,
        &[(
            "main.yaml",
            "regions: { primary: us-west-1, secondary: us-east-1 }\nresources:\n  p:\n    type: aws_iam_policy\n    properties:\n      name: p\n      policy: { Version: \"2012-10-17\", Statement: [{ Effect: Allow, Action: \"s3:ListBucket\", Resource: \"*\" }] }\n",
        )],
    );
    let pending = r#"{"version": 2, "serial": 3, "lineage": "l-1", "standby_version": "0.1.0", "salt": "s",
        "resources": [{"address": "aws_iam_policy.p", "type": "aws_iam_policy", "name": "p",
                       "region": "us-west-1", "status": "pending", "attributes": {"name": "p"}}]}"#;
    // Nothing was made: planned afresh.
    common::write_files(&dir, &[("state/standby.json", pending)]);
    let run = emu.standby(&dir, &["plan", "."]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("Plan: 1 to add"), "{}", run.stdout);
    // It was made, and the answer lost: found and adopted.
    let made = emu.standby(&dir, &["apply", ".", "--auto-approve"]);
    assert_eq!(made.code, 0, "{}", made.all());
    common::write_files(&dir, &[("state/standby.json", pending)]);
    let run = emu.standby(&dir, &["plan", ".", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("aws_iam_policy.p: an apply stopped while creating it; found by its natural key as arn:aws:iam::123456789012:policy/p and adopted"),
        "{}",
        run.stdout
    );
}

/// Like Terraform: a resource leaving the configuration is deleted only
/// after whatever used it was updated to let go.
#[test]
fn removed_resources_go_after_their_users_let_go() {
    let dir = scratch("order");
    let config = |used: &str| {
        format!(
            "regions: {{ primary: us-west-1, secondary: us-east-1 }}\nresources:\n  {used}:\n    type: standby_data\n  user:\n    type: standby_data\n    properties: {{ input: \"${{standby_data.{used}.id}}\" }}\n"
        )
    };
    common::write_files(&dir, &[("main.yaml", &config("old"))]);
    assert_eq!(standby(&dir, &["apply", ".", "--auto-approve"]).code, 0);
    common::write_files(&dir, &[("main.yaml", &config("new"))]);
    let run = standby(&dir, &["apply", ".", "--auto-approve", "--parallelism", "1"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let at = |needle: &str| run.stdout.find(needle).unwrap_or_else(|| panic!("no {needle:?} in:\n{}", run.stdout));
    assert!(at("standby_data.new: Creation complete") < at("standby_data.user: Modifying"));
    assert!(at("standby_data.user: Modifications complete") < at("standby_data.old: Destroying"));
}
