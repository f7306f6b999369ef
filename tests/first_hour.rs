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
        .filter(|l| l.contains(" -> ") && !l.contains("style = invis"))
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
    assert_eq!(clusters, ["primary", "secondary"]);
    relations.sort();
    assert_eq!(
        relations,
        [
            "Aurora global database (writer → secondary)",
            "indices replicate (leader → follower)",
            "objects replicate both ways",
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
    let drawn = plain.lines().filter(|l| l.starts_with("edge ") && !l.contains(" invis ")).count();
    assert_eq!(drawn, 3, "{plain}");
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
    let edges: Vec<&str> = run.stdout.lines().filter(|l| l.contains(" -> ") && !l.contains("invis")).collect();
    assert_eq!(edges.len(), 3, "{}", run.stdout);
    for e in &edges {
        let pending = e.contains("(pending)") && e.contains("style = \"dashed\"");
        assert_eq!(pending, !e.contains("objects replicate"), "{e}");
    }
    assert!(run.stdout.contains("mattermost-dr-db-us-east-1\\n+ instance\\n(pending)"), "{}", run.stdout);
    let bucket = run.stdout.lines().find(|l| l.contains("mattermost-dr-files-us-west-1")).unwrap();
    assert!(bucket.contains("+ versioning") && !bucket.contains("(pending)"), "{bucket}");
}

/// The whole example as the demo runs it: every file, with the app tier's
/// demo settings (plain HTTP, any AMI id) and the stand-in production it adopts.
fn whole_example(name: &str) -> PathBuf {
    let dir = scratch(name);
    copy_dir(&repo().join("examples/mattermost-dr"), &dir.join("examples/mattermost-dr"));
    copy_dir(&repo().join("modules"), &dir.join("modules"));
    dir
}

const DEMO_VARS: &[(&str, &str)] = &[
    ("STANDBY_VAR_opensearch_master_password", "Topology-Test-9!"),
    ("STANDBY_VAR_opensearch_replication_password", "Topology-Repl-9!"),
    ("STANDBY_VAR_opensearch_mattermost_password", "Topology-Mm-9!"),
    ("STANDBY_VAR_mattermost_db_password", "Topology-MmDb-9!"),
    ("STANDBY_VAR_search_source_ips", r#"["127.0.0.0/8"]"#),
    ("STANDBY_VAR_deletion_protection", "false"),
    ("STANDBY_VAR_secrets_recovery_window_in_days", "0"),
    ("STANDBY_VAR_primary_db_cluster", "mattermost-prod-aurora"),
    ("STANDBY_VAR_primary_db_instances", r#"["mattermost-prod-aurora-1", "mattermost-prod-aurora-2"]"#),
    ("STANDBY_VAR_primary_files_bucket", "mattermost-prod-files-topology"),
    ("STANDBY_VAR_primary_search_domain", "mattermost-prod-search"),
    // The stand-in's bucket already replicates with a role of its own (as scripts/demo names it).
    (
        "STANDBY_VAR_primary_files_replication_role",
        "arn:aws:iam::123456789012:role/mattermost-prod-files-topology-backup-replication",
    ),
    ("STANDBY_VAR_app_ami_id", "ami-0abcdef1234567890"),
    ("STANDBY_VAR_app_listener_protocol", "HTTP"),
    ("STANDBY_VAR_app_listener_port", "80"),
    ("STANDBY_VAR_app_certificate_arn_primary", "null"),
    ("STANDBY_VAR_app_certificate_arn_secondary", "null"),
];

/// The edges a reader sees (not the invisible ones that keep the rows).
fn drawn_edges(dot: &str) -> Vec<&str> {
    dot.lines().filter(|l| l.contains(" -> ") && !l.contains("style = invis")).collect()
}

/// The line of the box whose label holds `text`.
fn box_of<'a>(dot: &'a str, text: &str) -> &'a str {
    dot.lines().find(|l| l.contains("[label = ") && !l.contains(" -> ") && l.contains(text)).unwrap_or_else(|| {
        panic!("no box with {text} in:\n{dot}");
    })
}

/// Renders DOT with Graphviz (a real client) to PNG beside `dir`, for people
/// to look at, and fails on anything Graphviz refuses.
fn render_png(dot: &str, png: &Path) {
    use std::io::Write;
    let mut child = std::process::Command::new("dot")
        .args(["-Tpng", "-o"])
        .arg(png)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run Graphviz's dot (scripts/test-tools installs it)");
    child.stdin.take().unwrap().write_all(dot.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "dot: {}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::metadata(png).unwrap().len() > 1000);
}

/// The lines of text a DOT's labels hold, sorted.
fn dot_texts(dot: &str) -> Vec<String> {
    let mut out: Vec<String> = dot
        .lines()
        .filter_map(|l| l.split_once("label = \"").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once("\", ").or_else(|| rest.split_once("\";")).map(|(label, _)| label))
        .flat_map(|label| label.split("\\n").map(|s| s.replace("\\\"", "\"")).collect::<Vec<_>>())
        .collect();
    out.sort();
    out
}

/// The lines of text an SVG from Graphviz shows, sorted.
fn svg_texts(svg: &str) -> Vec<String> {
    let mut out: Vec<String> = svg
        .split("<text ")
        .skip(1)
        .filter_map(|t| t.split_once('>').and_then(|(_, rest)| rest.split_once("</text>")).map(|(s, _)| s))
        .map(|s| {
            s.replace("&#45;", "-")
                .replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
        })
        .collect();
    out.sort();
    out
}

#[test]
fn topology_shows_where_users_go_before_apply() {
    // Every file of the example, nothing applied: the hostname's PRIMARY aims
    // at the active region's load balancer, the SECONDARY (dashed) at the
    // standby's; what supports the app tier folds under it.
    let dir = whole_example("topology-whole");
    let run = standby(&dir, &["graph", "examples/mattermost-dr"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let dot = &run.stdout;
    let primary_lb = box_of(dot, "mattermost-dr-app-us-west-1\\n+ listener");
    let secondary_lb = box_of(dot, "mattermost-dr-app-us-east-1\\n+ listener");
    let id = |line: &str| line.trim().split(' ').next().unwrap().to_string();
    let host = id(box_of(dot, "hostname\\nchat.example.com"));
    let edges = drawn_edges(dot);
    let to = |target: &str| edges.iter().find(|e| e.trim().starts_with(&format!("{host} -> {target} "))).copied();
    let primary = to(&id(primary_lb)).expect("an arrow to the primary's load balancer");
    assert!(primary.contains("PRIMARY") && primary.contains("style = \"solid\""), "{primary}");
    let secondary = to(&id(secondary_lb)).expect("an arrow to the secondary's load balancer");
    assert!(secondary.contains("SECONDARY") && secondary.contains("style = \"dashed\""), "{secondary}");
    // The nodes, their count, and what supports them; nothing under a secret.
    let nodes = box_of(dot, "App nodes\\nmattermost-dr-app-us-east-1");
    for part in ["0 nodes desired", "launch template", "2 × secret", "Mattermost settings", "target group"] {
        assert!(nodes.contains(part), "{part} missing: {nodes}");
    }
    assert!(!dot.contains("× resource") && !dot.contains("+ resource"), "{dot}");
    assert!(!dot.contains("cluster_global"), "everything folds under the box it supports:\n{dot}");
    insta::assert_snapshot!("topology_whole_example_dot", dot);
    render_png(dot, &dir.join("topology.png"));
    // The README shows this picture (docs/topology.svg): it says what the DOT says.
    let svg = std::fs::read_to_string(repo().join("docs/topology.svg")).unwrap();
    assert_eq!(
        svg_texts(&svg),
        dot_texts(dot),
        "docs/topology.svg is out of date: regenerate it with \
         `standby graph examples/mattermost-dr --out docs/topology.svg`"
    );

    // A switchover in the configuration moves the arrows with it.
    let run = standby(&dir, &["graph", "examples/mattermost-dr", "--var", "active_region=secondary"]);
    let edges = drawn_edges(&run.stdout);
    let primary = edges.iter().find(|e| e.contains("PRIMARY")).unwrap();
    assert!(primary.contains(&format!("-> {} ", id(box_of(&run.stdout, "mattermost-dr-app-us-east-1\\n+ listener")))));
}

#[test]
fn topology_of_the_applied_example_follows_the_records() {
    // As the demo runs it: a stand-in production adopted, everything applied;
    // the picture then shows what is on record (the adopted cluster's name,
    // the nodes desired, where the records point).
    let emu = Emulator::start();
    let dir = whole_example("topology-applied");
    let vars = || DEMO_VARS.iter().copied().chain([("STANDBY_DEMO_DB_PASSWORD", "Topology-Prod-9!")]);
    let out = std::process::Command::new(repo().join("scripts/demo-standin"))
        .envs(emu.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(vars())
        .output()
        .expect("scripts/demo-standin");
    assert!(out.status.success(), "stand-in: {}", String::from_utf8_lossy(&out.stderr));
    let run = |args: &[&str]| -> Run { emu.cmd(&dir, args).envs(vars()).output().expect("run standby").into() };
    let apply = run(&["apply", "examples/mattermost-dr", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.all());

    let graph = run(&["graph", "examples/mattermost-dr"]);
    assert_eq!(graph.code, 0, "{}", graph.all());
    let dot = &graph.stdout;
    assert!(box_of(dot, "Aurora cluster\\nmattermost-prod-aurora").contains("+ 2 × instance"), "{dot}");
    assert!(box_of(dot, "App nodes\\nmattermost-dr-app-us-west-1").contains("2 nodes desired"), "{dot}");
    assert!(!dot.contains("(pending)"), "{dot}");
    insta::assert_snapshot!("topology_applied_dot", dot);
    render_png(dot, &dir.join("topology-applied.png"));

    // Before the switchover is applied, users still go where the records
    // point, and the picture says what the next apply changes.
    let graph = run(&["graph", "examples/mattermost-dr", "--var", "active_region=secondary"]);
    let dot = &graph.stdout;
    let primary = drawn_edges(dot).into_iter().find(|e| e.contains("PRIMARY")).unwrap();
    let lb = box_of(dot, "mattermost-dr-app-us-west-1\\n+ listener").trim().split(' ').next().unwrap();
    assert!(primary.contains(&format!("-> {lb} ")), "{primary}");
    assert!(primary.contains("until the next apply points it at us-east-1"), "{primary}");
    assert!(dot.contains("secondary — us-east-1 (active)"), "{dot}");
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
