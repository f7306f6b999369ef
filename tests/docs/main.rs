//! Docs that cannot rot: every page of the repository (README.md, docs/,
//! the modules' and the emulator's pages) is checked against the built
//! binary and the tree — YAML snippets through `standby validate`, relative
//! links and their `#anchors`, flags against each command's `--help`, paths
//! named in code spans, IAM policies against the code that generates them.
//! The rules for authors are in docs/README.md, "Writing these pages".

mod check;
#[path = "../common/mod.rs"]
mod common;
mod markdown;
mod policies;

use common::repo;

#[test]
fn every_page_is_true() {
    let problems = check::check_tree(&repo(), &repo());
    let list: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert!(problems.is_empty(), "{} problems in the docs:\n{}", problems.len(), list.join("\n"));
}

/// The check fails on what rots: a fixture tree of broken pages
/// (tests/fixtures/docs-broken) gives one problem of each kind.
#[test]
fn broken_pages_are_caught() {
    let root = repo().join("tests/fixtures/docs-broken");
    let problems = check::check_tree(&root, &repo());
    let kinds: std::collections::BTreeSet<_> = problems.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["anchor", "command", "flag", "link", "path", "policy", "snippet"],
        "{problems:#?}"
    );
    // The generated drift policy grows with the kinds: the snapshot keeps
    // its first words only.
    let text: Vec<String> = problems
        .iter()
        .map(|p| p.to_string())
        .map(|t| match t.find(" generated Action missing from the page") {
            Some(k) => format!("{}N generated Action missing from the page: …", &t[..t[..k].rfind(' ').unwrap() + 1]),
            None => t,
        })
        .collect();
    insta::with_settings!({ snapshot_path => "../snapshots" }, {
        insta::assert_snapshot!("broken_pages", text.join("\n"));
    });
}
