//! A newcomer's first hour: the picture of the DR topology (`graph --view
//! topology`, rendered by Graphviz as a real client) and `standby init`.

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn example_copy(name: &str) -> PathBuf {
    let dir = scratch(name);
    copy_dir(&repo().join("examples/mattermost-dr"), &dir.join("examples/mattermost-dr"));
    // The app tier, its secrets and DNS are not this test's subject.
    drop_app_tier(&dir.join("examples/mattermost-dr"));
    copy_dir(&repo().join("modules"), &dir.join("modules"));
    dir
}

fn topology(cwd: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["graph", "examples/mattermost-dr"];
    args.extend_from_slice(extra);
    standby(cwd, &args)
}

/// Region clusters and relation edges in a topology DOT.
fn shape(dot: &str) -> (Vec<String>, Vec<String>) {
    let clusters = dot
        .lines()
        .filter_map(|l| l.trim().strip_prefix("subgraph \"cluster_"))
        .map(|l| l.split('"').next().unwrap_or_default().to_string())
        .collect();
    let relations = dot
        .lines()
        .filter(|l| l.contains(" -> "))
        .map(|l| l.split("label = \"").nth(1).unwrap_or_default().split('"').next().unwrap_or_default().to_string())
        .collect();
    (clusters, relations)
}

#[test]
fn topology_of_the_example() {
    let dir = example_copy("topology");
    let run = topology(&dir, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let (clusters, mut relations) = shape(&run.stdout);
    assert_eq!(clusters, ["primary", "secondary", "global"]);
    relations.sort();
    assert_eq!(
        relations,
        [
            "Aurora global database (writer → secondary)",
            "indices replicate (leader → follower)",
            "objects replicate",
            "objects replicate",
        ]
    );
    assert!(run.stdout.contains("label = \"primary — us-west-1 (active)\""), "{}", run.stdout);
    assert!(run.stdout.contains("label = \"secondary — us-east-1 (passive)\""), "{}", run.stdout);
    insta::assert_snapshot!("topology_example_dot", run.stdout);

    // The active region is a root setting of the example (`active_region`).
    let run = topology(&dir, &["--var", "active_region=secondary"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("label = \"secondary — us-east-1 (active)\""), "{}", run.stdout);
    assert!(run.stdout.contains("label = \"primary — us-west-1 (passive)\""), "{}", run.stdout);
}

#[test]
fn graphviz_renders_the_topology() {
    // Graphviz is a real client of this output: scripts/test installs it.
    let dir = example_copy("topology-svg");
    let svg = dir.join("dr.svg");
    let run = topology(&dir, &["--out", svg.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.all());
    // Graphviz writes hyphens as character references.
    let text = std::fs::read_to_string(&svg).expect("an SVG from dot").replace("&#45;", "-");
    assert!(text.contains("<svg"), "{text}");
    for label in ["primary — us-west-1 (active)", "secondary — us-east-1 (passive)", "objects replicate"] {
        assert!(text.contains(label), "{label} missing from the SVG");
    }
    // Graphviz also parses the DOT as written to a file.
    let dot = dir.join("dr.dot");
    assert_eq!(topology(&dir, &["--out", dot.to_str().unwrap()]).code, 0);
    let out = std::process::Command::new("dot").arg("-Tplain").arg(&dot).output().expect("run dot");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plain = String::from_utf8_lossy(&out.stdout);
    assert_eq!(plain.lines().filter(|l| l.starts_with("edge ")).count(), 4, "{plain}");
}

#[test]
fn topology_marks_what_is_pending() {
    // Only the file storage applied: its relations are drawn as they are,
    // the database and search relations as pending.
    let emu = Emulator::start();
    let dir = example_copy("topology-state");
    // standby makes the primary here; tests/import.rs adopts it.
    std::fs::remove_file(dir.join("examples/mattermost-dr/imports.yaml")).unwrap();
    let state = dir.join("state.json");
    let state_s = state.to_str().unwrap();
    let run: Run = emu
        .cmd(
            &dir,
            &["apply", "examples/mattermost-dr", "--auto-approve", "--target", "module.files", "--state", state_s],
        )
        .env("STANDBY_VAR_opensearch_master_password", "Topology-Test-9!")
        .env("STANDBY_VAR_db_master_password", "Topology-Db-9!")
        .env("STANDBY_VAR_opensearch_replication_password", "Topology-Repl-9!")
        .env("STANDBY_VAR_opensearch_mattermost_password", "Topology-Mm-9!")
        .env("STANDBY_VAR_search_source_ips", r#"["127.0.0.0/8"]"#)
        .output()
        .expect("run standby")
        .into();
    assert_eq!(run.code, 0, "{}", run.all());
    let run = emu.standby(&dir, &["graph", "examples/mattermost-dr", "--state", state_s]);
    assert_eq!(run.code, 0, "{}", run.all());
    let edges: Vec<&str> = run.stdout.lines().filter(|l| l.contains(" -> ")).collect();
    assert_eq!(edges.len(), 4, "{}", run.stdout);
    for e in &edges {
        let pending = e.contains("(pending)") && e.contains("style = \"dashed\"");
        assert_eq!(pending, !e.contains("objects replicate"), "{e}");
    }
    assert!(run.stdout.contains("mattermost-dr-db-us-east-1\\n+ instance\\n(pending)"), "{}", run.stdout);
    assert!(!run.stdout.contains("mattermost-dr-files-us-west-1\\n+ replication rules\\n+ versioning\\n(pending)"));
}

fn init_flags(dir: &Path) -> Vec<String> {
    [
        "init",
        dir.to_str().unwrap(),
        "--primary-region",
        "eu-west-1",
        "--secondary-region",
        "eu-central-1",
        "--prefix",
        "acme-chat",
        "--primary-db-cluster",
        "chat-db",
        "--primary-files-bucket",
        "acme-chat-files",
        "--primary-search-domain",
        "chat-search",
        "--no-check",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run_args(cwd: &Path, args: &[String]) -> Run {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    standby(cwd, &args)
}

#[test]
fn init_writes_a_configuration_that_validates() {
    let base = scratch("init");
    let dir = base.join("dr");
    let run = run_args(&base, &init_flags(&dir));
    assert_eq!(run.code, 0, "{}", run.all());
    let main = std::fs::read_to_string(dir.join("main.yaml")).unwrap();
    assert!(main.starts_with("# Written by `standby init`"), "{main}");
    assert!(main.contains("regions: { primary: eu-west-1, secondary: eu-central-1 }"), "{main}");
    assert!(main.contains("default: \"acme-chat\"   # set by standby init"), "{main}");
    assert!(dir.join("modules/aurora-global-database/main.yaml").exists());
    let run = standby(&base, &["validate", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.all());
    // The regions and prefix reach the resources.
    let run = standby(&base, &["graph", dir.to_str().unwrap()]);
    assert!(run.stdout.contains("primary — eu-west-1 (active)"), "{}", run.stdout);
    assert!(run.stdout.contains("acme-chat-files-eu-central-1"), "{}", run.stdout);
    // No staging directory is left behind.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn init_refuses_to_overwrite() {
    let base = scratch("init-overwrite");
    let dir = base.join("dr");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("search.yaml"), "# mine\n").unwrap();
    let run = run_args(&base, &init_flags(&dir));
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("refusing to overwrite existing files (nothing was written)"), "{}", run.stderr);
    assert!(run.stderr.contains("search.yaml"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(dir.join("search.yaml")).unwrap(), "# mine\n");
    assert!(!dir.join("main.yaml").exists());
    assert!(!dir.join("modules").exists());

    // A second init over a first one refuses too, and changes nothing.
    let other = base.join("again");
    assert_eq!(run_args(&base, &init_flags(&other)).code, 0);
    let before = std::fs::read_to_string(other.join("main.yaml")).unwrap();
    let mut flags = init_flags(&other);
    flags[7] = "other-prefix".into();
    let run = run_args(&base, &flags);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(std::fs::read_to_string(other.join("main.yaml")).unwrap(), before);
}

#[test]
fn init_without_a_terminal_names_what_is_missing() {
    let base = scratch("init-missing");
    let run = standby(&base, &["init", "dr", "--primary-region", "us-west-1"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("there is no terminal to ask at"), "{}", run.stderr);
    assert!(run.stderr.contains("--secondary-region"), "{}", run.stderr);
    assert!(!base.join("dr").exists());

    let run = standby(
        &base,
        &[
            "init",
            "dr",
            "--primary-region",
            "us-west-9",
            "--secondary-region",
            "us-west-9",
            "--prefix",
            "x",
            "--no-check",
        ]
        .iter()
        .copied()
        .chain(["--primary-db-cluster", "a", "--primary-files-bucket", "b", "--primary-search-domain", "c"])
        .collect::<Vec<_>>(),
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("\"us-west-9\" is not an AWS region standby knows (did you mean us-west-1?)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("the two regions must differ"), "{}", run.stderr);
    assert!(!base.join("dr").exists());
}
