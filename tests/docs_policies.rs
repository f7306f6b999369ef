//! The IAM policies the documentation shows are the ones `standby policy`
//! generates: every JSON block marked `<!-- generated: standby policy --for
//! ROLE -->` in the repository's markdown (`docs/`, the modules' READMEs,
//! `STATE-DOCS.md`; the root README is the overview, its policies moved to
//! `docs/`) equals the policy of that role for
//! `examples/mattermost-dr` with the backend the documentation shows; a block
//! that looks like one of standby's policies without the marker fails too.

mod common;

use common::{copy_dir, repo, scratch, standby};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The backend block the documentation shows.
const BACKEND: &str = "backend:\n  s3: { bucket: acme-standby-state, key: mattermost/dr.json, region: us-east-2 }\n";
const MARKER: &str = "<!-- generated: standby policy --for ";

fn markdown_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![repo()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().filter_map(Result::ok) {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if !name.starts_with('.') && !["target", "tests", "state"].contains(&name.as_str()) {
                    dirs.push(p);
                }
            } else if name.ends_with(".md") && p != repo().join("README.md") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// (file, line, role or None, JSON text) of each ```json block.
fn json_blocks(path: &Path) -> Vec<(usize, Option<String>, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_start() == "```json" {
            let start = i;
            let role = lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .and_then(|l| l.trim().strip_prefix(MARKER))
                .map(|r| r.trim_end_matches("-->").trim().to_string());
            let mut body = Vec::new();
            i += 1;
            while i < lines.len() && lines[i].trim_start() != "```" {
                body.push(lines[i]);
                i += 1;
            }
            out.push((start + 1, role, body.join("\n")));
        }
        i += 1;
    }
    out
}

#[test]
fn documented_policies_are_the_generated_ones() {
    let root = scratch("docs-policies");
    copy_dir(&repo().join("examples/mattermost-dr"), &root.join("examples/mattermost-dr"));
    copy_dir(&repo().join("modules"), &root.join("modules"));
    let dir = root.join("examples/mattermost-dr");
    common::write_files(&dir, &[("backend.yaml", BACKEND)]);
    let generated = |role: &str| -> Value {
        let run = standby(&dir, &["policy", ".", "--for", role]);
        assert_eq!(run.code, 0, "{}", run.all());
        serde_json::from_str(&run.stdout).unwrap()
    };
    let mut checked = 0;
    let mut problems = Vec::new();
    for file in markdown_files() {
        let shown = file.strip_prefix(repo()).unwrap().display().to_string();
        for (line, role, body) in json_blocks(&file) {
            let looks_like_ours = body.contains("\"Sid\": \"Standby") || body.contains("_standby/journal/");
            match role {
                Some(role) => {
                    checked += 1;
                    match serde_json::from_str::<Value>(&body) {
                        Ok(doc) if doc == generated(&role) => {}
                        Ok(_) => problems.push(format!(
                            "{shown}:{line}: not the policy `standby policy --for {role}` generates for \
                             examples/mattermost-dr with the documented backend"
                        )),
                        Err(e) => problems.push(format!("{shown}:{line}: not JSON: {e}")),
                    }
                }
                None if looks_like_ours => problems.push(format!(
                    "{shown}:{line}: a policy of standby's without `{MARKER}ROLE -->` in front: generate it"
                )),
                None => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked >= 4, "the documented policies were not found ({checked} checked)");
}
