//! IAM policies the pages show, as the code generates them. A page's
//! ```` ```json iam-policy=ROLE ```` block is compared with `generated(ROLE)`:
//! `standby policy examples/mattermost-dr --for ROLE` with the backend the
//! pages show (docs/state-and-teams.md); a policy without a generator is
//! marked `pending` on the page.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// The backend block the pages show.
const BACKEND: &str = "backend:\n  s3: { bucket: acme-standby-state, key: mattermost/dr.json, region: us-east-2 }\n";

/// The roles `standby policy --for` knows.
const ROLES: &[&str] = &["drift", "apply", "state-read", "state-write", "drill"];

/// The policy `role` as the code makes it, or `None` when nothing
/// generates it.
pub fn generated(role: &str) -> Option<Value> {
    if !ROLES.contains(&role) {
        return None;
    }
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    static MADE: OnceLock<Mutex<BTreeMap<String, Value>>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let root = super::common::scratch("docs-policies");
        let repo = super::common::repo();
        super::common::copy_dir(&repo.join("examples/mattermost-dr"), &root.join("examples/mattermost-dr"));
        super::common::copy_dir(&repo.join("modules"), &root.join("modules"));
        let dir = root.join("examples/mattermost-dr");
        super::common::write_files(&dir, &[("backend.yaml", BACKEND)]);
        dir
    });
    let mut made = MADE.get_or_init(Default::default).lock().unwrap();
    let policy = made.entry(role.to_string()).or_insert_with(|| {
        let run = super::common::standby(dir, &["policy", ".", "--for", role]);
        assert_eq!(run.code, 0, "standby policy --for {role}: {}", run.all());
        serde_json::from_str(&run.stdout).expect("the generated policy is JSON")
    });
    Some(policy.clone())
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
