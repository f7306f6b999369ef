//! IAM policies the pages show, as the code generates them. A page's
//! ```` ```json iam-policy=NAME ```` block is compared with `generated(NAME)`;
//! a policy without a generator yet is marked `pending` on the page.

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::process::Command;

/// The policy `name` as the code makes it, or `None` when nothing
/// generates it yet.
pub fn generated(name: &str) -> Option<Value> {
    match name {
        // The drift job's read-only policy: the command that prints it
        // when there is one, else the same list from the library.
        "drift" => Some(from_cli(&["drift", "--print-policy"]).unwrap_or_else(|| {
            let mut statements = vec![json!({
                "Sid": "StandbyDriftReadOnly",
                "Effect": "Allow",
                "Action": standby::health::permissions::read_only(),
                "Resource": "*",
            })];
            // The replication canaries' writes, scoped to their reserved names.
            for c in standby::health::permissions::CANARY {
                let mut st = json!({"Sid": c.sid, "Effect": "Allow", "Action": c.actions, "Resource": c.resource});
                if let Some(p) = c.s3_prefix {
                    st["Condition"] = json!({"StringLike": {"s3:prefix": p}});
                }
                statements.push(st);
            }
            json!({"Version": "2012-10-17", "Statement": statements})
        })),
        _ => None,
    }
}

/// `standby ARGS` prints the policy, when the command has that flag.
fn from_cli(args: &[&str]) -> Option<Value> {
    let (cmd, flag) = args.split_at(args.len() - 1);
    let help = Command::new(env!("CARGO_BIN_EXE_standby")).args(cmd).arg("--help").output().ok()?;
    if !String::from_utf8_lossy(&help.stdout).contains(&format!("{} ", flag[0])) {
        return None;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_standby")).args(args).env("NO_COLOR", "1").output().ok()?;
    assert!(out.status.success(), "standby {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).expect("the generated policy is JSON"))
}

/// Differences between the policy a page shows and the generated one, in
/// words: statements matched by `Sid` (else by position), action and
/// resource lists compared as sets.
pub fn compare(shown: &Value, generated: &Value) -> Vec<String> {
    let mut out = vec![];
    if shown["Version"] != generated["Version"] {
        out.push(format!("Version {} on the page, {} generated", shown["Version"], generated["Version"]));
    }
    let statements = |p: &Value| p["Statement"].as_array().cloned().unwrap_or_else(|| vec![p["Statement"].clone()]);
    let (page, code) = (statements(shown), statements(generated));
    if page.len() != code.len() {
        out.push(format!("{} statements on the page, {} generated", page.len(), code.len()));
    }
    for (n, g) in code.iter().enumerate() {
        let s = page.iter().find(|s| g["Sid"].is_string() && s["Sid"] == g["Sid"]).or_else(|| page.get(n));
        let Some(s) = s else { continue };
        let name = g["Sid"].as_str().map_or(format!("statement {}", n + 1), |sid| format!("statement {sid}"));
        for key in ["Action", "NotAction", "Resource", "NotResource"] {
            let (on_page, needed) = (set(&s[key]), set(&g[key]));
            let extra: Vec<_> = on_page.difference(&needed).cloned().collect();
            let missing: Vec<_> = needed.difference(&on_page).cloned().collect();
            if !extra.is_empty() {
                out.push(format!("{name}: {key} on the page that the code does not generate: {}", extra.join(", ")));
            }
            if !missing.is_empty() {
                out.push(format!(
                    "{name}: {} generated {key} missing from the page: {}",
                    missing.len(),
                    missing.join(", ")
                ));
            }
        }
        for key in ["Effect", "Condition", "Principal"] {
            if s[key] != g[key] {
                out.push(format!("{name}: {key} {} on the page, {} generated", s[key], g[key]));
            }
        }
    }
    out
}

fn set(v: &Value) -> BTreeSet<String> {
    match v {
        Value::String(s) => [s.clone()].into(),
        Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
        _ => BTreeSet::new(),
    }
}
