//! State in S3 (the `s3` backend) against the emulator's S3: locking by
//! conditional write, compare-and-swap state writes, the write-ahead journal
//! surviving kill -9 for another machine, migration from a local file.
//! What S3 holds is checked with the AWS SDK directly.

mod common;

use common::{Emulator, Run, copy_dir, repo, scratch, write_files};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use aws_sdk_s3::Client as S3;
use serde_json::Value;
use standby::state::backend::{self, Backend};
use standby::state::file::StateError;
use standby::state::lock::LockError;
use standby::state::s3::{S3Backend, S3Spec};

/// The state bucket lives in a third region: losing either Mattermost
/// region leaves it reachable.
const STATE_REGION: &str = "us-east-2";
const BUCKET: &str = "acme-standby-state";
const KEY: &str = "mattermost/dr.json";
const BACKEND: &str = "backend:\n  s3: { bucket: acme-standby-state, key: mattermost/dr.json, region: us-east-2 }\n";

struct World {
    emu: Emulator,
    rt: tokio::runtime::Runtime,
    s3: S3,
}

impl World {
    fn new() -> World {
        let emu = Emulator::start();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let s3 = rt.block_on(client(&emu.endpoint(), STATE_REGION));
        let w = World { emu, rt, s3 };
        w.block(async {
            let conf = aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsEast2)
                .build();
            w.s3.create_bucket().bucket(BUCKET).create_bucket_configuration(conf).send().await.unwrap();
            let on = aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build();
            w.s3.put_bucket_versioning().bucket(BUCKET).versioning_configuration(on).send().await.unwrap();
        });
        w
    }

    fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    fn run(&self, dir: &Path, args: &[&str]) -> Run {
        self.emu.standby(dir, args)
    }

    fn ok(&self, dir: &Path, code: i32, args: &[&str]) -> Run {
        let run = self.run(dir, args);
        assert_eq!(run.code, code, "standby {}:\n{}", args.join(" "), run.all());
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        run
    }

    fn keys(&self, prefix: &str) -> Vec<String> {
        self.block(keys(&self.s3, prefix))
    }

    fn remote_state(&self) -> Value {
        self.block(async {
            let out = self.s3.get_object().bucket(BUCKET).key(KEY).send().await.unwrap();
            assert_eq!(
                out.server_side_encryption().map(|s| s.as_str().to_string()).as_deref(),
                Some("AES256"),
                "the state is stored encrypted"
            );
            serde_json::from_slice(&out.body.collect().await.unwrap().into_bytes()).unwrap()
        })
    }

    fn backend(&self) -> S3Backend {
        let spec = S3Spec { bucket: BUCKET.into(), key: KEY.into(), region: STATE_REGION.into(), kms_key_id: None };
        S3Backend::with_client(spec, self.s3.clone())
    }

    /// A second machine: the same configuration in a directory of its own.
    fn machine(&self, files: &[(&str, &str)]) -> PathBuf {
        let dir = scratch("remote-machine");
        write_files(&dir, files);
        dir
    }
}

async fn keys(s3: &S3, prefix: &str) -> Vec<String> {
    let out = s3.list_objects_v2().bucket(BUCKET).prefix(prefix).send().await.unwrap();
    out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
}

async fn client(endpoint: &str, region: &'static str) -> S3 {
    let config = common::sdk_config(endpoint, region).await;
    S3::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build())
}

fn data(count: usize) -> String {
    format!(
        "regions: {{ primary: us-west-1, secondary: us-east-1 }}\nresources:\n  many:\n    type: standby_data\n    count: {count}\n    properties:\n      input: {{ n: \"${{count.index}}\" }}\n"
    )
}

/// Addresses printed as "Creation complete" until the child is killed right
/// after the `kill_after`-th one.
fn apply_and_kill(w: &World, dir: &Path, kill_after: usize, while_running: impl FnOnce(u32)) -> Vec<String> {
    let mut child =
        w.emu.cmd(dir, &["apply", ".", "--auto-approve", "--parallelism", "4"]).stdout(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut completed = Vec::new();
    let mut line = String::new();
    let mut hook = Some(while_running);
    while reader.read_line(&mut line).unwrap() > 0 {
        if let Some((a, _)) = line.trim_end().split_once(": Creation complete") {
            completed.push(a.to_string());
            if let Some(h) = hook.take() {
                h(pid);
            }
            if completed.len() >= kill_after {
                child.kill().unwrap(); // SIGKILL
                break;
            }
        }
        line.clear();
    }
    child.wait().unwrap();
    for l in reader.lines().map_while(Result::ok) {
        if let Some((a, _)) = l.split_once(": Creation complete") {
            completed.push(a.to_string());
        }
    }
    completed
}

/// The lock id in a "state is locked" message.
fn lock_id(text: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("lock id:"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("no lock id in:\n{text}"))
}

#[test]
fn migration_keeps_serial_and_lineage_and_plans_read_without_the_lock() {
    let w = World::new();
    let dir = w.machine(&[("main.yaml", &data(3))]);
    w.ok(&dir, 0, &["apply", ".", "--auto-approve"]);
    write_files(&dir, &[("main.yaml", &data(4))]);
    w.ok(&dir, 0, &["apply", ".", "--auto-approve"]);
    let local: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("state/standby.json")).unwrap()).unwrap();
    assert_eq!(local["serial"], 2);

    write_files(&dir, &[("backend.yaml", BACKEND)]);
    // Before the move, the configuration says S3 and S3 is empty: plan would
    // create everything again, so the move comes first.
    let moved = w.ok(&dir, 0, &["state", "migrate"]);
    assert!(moved.stdout.contains("to s3://acme-standby-state/mattermost/dr.json"), "{}", moved.stdout);
    let remote = w.remote_state();
    assert_eq!(remote["serial"], local["serial"]);
    assert_eq!(remote["lineage"], local["lineage"]);
    assert_eq!(remote["resources"], local["resources"]);
    assert!(w.keys("_standby/").is_empty(), "no lock or journal left: {:?}", w.keys("_standby/"));
    // Idempotent.
    assert!(w.ok(&dir, 0, &["state", "migrate"]).stdout.contains("nothing to migrate"));

    // Another machine: nothing local, everything from S3; a plan takes no lock.
    let other = w.machine(&[("main.yaml", &data(4)), ("backend.yaml", BACKEND)]);
    w.block(async {
        w.s3.put_object()
            .bucket(BUCKET)
            .key("_standby/locks/mattermost/dr.json")
            .body(b"{}".to_vec().into())
            .send()
            .await
            .unwrap()
    });
    let plan = w.ok(&other, 0, &["plan", ".", "--detailed-exitcode"]);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    w.block(async {
        w.s3.delete_object().bucket(BUCKET).key("_standby/locks/mattermost/dr.json").send().await.unwrap()
    });
    let pulled: Value = serde_json::from_str(&w.ok(&other, 0, &["state", "pull"]).stdout).unwrap();
    assert_eq!(pulled["serial"], 2);
    assert!(!other.join("state").exists(), "nothing is written locally");

    // --backend-config overrides the block; a pushed older state is refused.
    let elsewhere = w.run(&other, &["state", "list", "--backend-config", "key=other/dr.json"]);
    assert_eq!(elsewhere.code, 0, "{}", elsewhere.all());
    assert!(elsewhere.stdout.is_empty(), "another key is another (empty) state: {}", elsewhere.stdout);
    let mut old = local.clone();
    old["serial"] = 1.into();
    std::fs::write(other.join("old.json"), old.to_string()).unwrap();
    let refused = w.ok(&other, 1, &["state", "push", "old.json"]);
    assert!(
        refused.stderr.contains("cannot push state with serial 1 over newer state with serial 2"),
        "{}",
        refused.stderr
    );
    // --state and a backend together are ambiguous.
    let both = w.ok(&other, 1, &["state", "list", "--state", "x.json"]);
    assert!(both.stderr.contains("use one of them"), "{}", both.stderr);
}

#[test]
fn a_stale_compare_and_swap_write_is_refused_and_locks_exclude_each_other() {
    let w = World::new();
    let (a, b) = (w.backend(), w.backend());
    w.block(async {
        // Two runs read the same (empty) state.
        let (mut sa, _) = a.read().await.unwrap();
        let (mut sb, _) = b.read().await.unwrap();
        backend::write(&b, &mut sb).await.unwrap();
        match backend::write(&a, &mut sa).await {
            Err(StateError::Conflict { why, .. }) => assert!(why.contains("now serial 1"), "{why}"),
            other => panic!("a stale write must be refused: {other:?}"),
        }
        // b's state is intact; a writes after reading again.
        let (mut again, _) = a.read().await.unwrap();
        assert_eq!(again.lineage, sb.lineage);
        again.outputs.insert(
            "by_a".into(),
            standby::state::OutputState { value: Some("a".into()), sensitive: false, hash: None },
        );
        backend::write(&a, &mut again).await.unwrap();
        match backend::write(&b, &mut sb).await {
            Err(StateError::Conflict { .. }) => {}
            other => panic!("b is stale now: {other:?}"),
        }

        let held = a.lock("apply").await.unwrap();
        match b.lock("plan").await {
            Err(LockError::Held(info)) => {
                assert_eq!(info.id, held.info.id);
                assert_eq!(info.operation, "apply");
                assert_eq!(info.pid, std::process::id());
            }
            other => panic!("expected Held, got {:?}", other.err()),
        }
        assert!(matches!(b.force_unlock("nope").await, Err(LockError::WrongId { .. })));
        drop(held);
        let again = b.lock("plan").await.unwrap();
        let id = again.info.id.clone();
        a.force_unlock(&id).await.unwrap();
        // The removed lock's owner leaves the next one alone when it ends.
        let next = a.lock("apply").await.unwrap();
        drop(again);
        assert!(matches!(b.lock("plan").await, Err(LockError::Held(i)) if i.id == next.info.id));
    });
}

/// Two processes contend for the lock: the second fails at once naming the
/// first. The first is killed -9 mid-apply; another machine (its own
/// directory, no local state) force-unlocks and applies: it knows
/// everything the killed run created, and nothing is created twice.
#[test]
fn kill_9_mid_apply_then_another_machine_finds_everything() {
    let w = World::new();
    let files = [("main.yaml", data(300)), ("backend.yaml", BACKEND.to_string())];
    let files: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let first = w.machine(&files);
    let second = w.machine(&files);
    let mut contender = None;
    let completed = apply_and_kill(&w, &first, 40, |pid| {
        let r = w.run(&second, &["apply", ".", "--auto-approve"]);
        contender = Some((pid, r));
    });
    let (pid, r) = contender.expect("the first apply created something");
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("the state is locked by another run"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("(pid {pid})")) && r.stderr.contains("operation: apply"), "{}", r.stderr);
    assert!(completed.len() >= 40 && completed.len() < 300, "the kill did not land mid-apply ({})", completed.len());
    assert!(!w.keys("_standby/journal/").is_empty(), "the killed run's journal is in S3");

    // The dead run's lock stays until someone who knows it is dead says so.
    let locked = w.ok(&second, 1, &["apply", ".", "--auto-approve"]);
    let id = lock_id(&locked.stderr);
    w.ok(&second, 0, &["force-unlock", &id]);
    let listed = w.ok(&second, 0, &["state", "list"]).stdout;
    for a in &completed {
        assert!(
            listed.lines().any(|l| l.trim_end_matches("  (pending)") == a),
            "{a} was created but S3 does not know it"
        );
    }
    let plan: Value = serde_json::from_str(&w.ok(&second, 0, &["plan", ".", "--json"]).stdout).unwrap();
    let creates: Vec<&str> = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"]["actions"] == serde_json::json!(["create"]))
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    for a in &completed {
        assert!(!creates.contains(&a.as_str()), "{a} was created, yet the next plan would create it again");
    }
    let finish = w.ok(&second, 0, &["apply", ".", "--auto-approve"]);
    assert!(finish.stderr.contains("recovered"), "the journal was folded in: {}", finish.all());
    assert_eq!(w.ok(&second, 0, &["state", "list"]).stdout.lines().count(), 300);
    assert!(w.keys("_standby/").is_empty(), "no lock or journal left: {:?}", w.keys("_standby/"));
    w.ok(&first, 0, &["plan", ".", "--detailed-exitcode"]);
}

/// The storage part of the example (S3 buckets, IAM roles) on S3 state,
/// killed -9 right after its first resource is complete: the next apply, on
/// another machine, adopts what the killed one made; nothing "already
/// exists", nothing is left behind.
#[test]
fn kill_9_during_a_real_apply_leaves_no_orphan() {
    let w = World::new();
    let root = scratch("remote-storage");
    let rel = Path::new("tests/fixtures/storage/files");
    for (i, machine) in ["a", "b"].iter().enumerate() {
        let base = root.join(machine);
        copy_dir(&repo().join(rel), &base.join(rel));
        copy_dir(
            &repo().join("modules/s3-bidirectional-replication"),
            &base.join("modules/s3-bidirectional-replication"),
        );
        write_files(&base.join(rel), &[("backend.yaml", BACKEND)]);
        let _ = i;
    }
    let (first, second) = (root.join("a").join(rel), root.join("b").join(rel));
    let completed = apply_and_kill(&w, &first, 1, |_| {});
    assert!(completed.len() < 12, "the kill did not land mid-apply");
    let locked = w.run(&second, &["apply", ".", "--auto-approve"]);
    if locked.code != 0 {
        w.ok(&second, 0, &["force-unlock", &lock_id(&locked.stderr)]);
        let run = w.ok(&second, 0, &["apply", ".", "--auto-approve"]);
        assert!(!run.all().contains("already exists"), "{}", run.all());
    }
    assert_eq!(w.ok(&second, 0, &["state", "list"]).stdout.lines().count(), 12);
    w.ok(&second, 0, &["plan", ".", "--detailed-exitcode"]);
    // Exactly the two file buckets besides the state bucket: nothing orphaned.
    let buckets: Vec<String> = w.block(async {
        w.s3.list_buckets()
            .send()
            .await
            .unwrap()
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect()
    });
    assert_eq!(buckets.len(), 3, "{buckets:?}");
    w.ok(&second, 0, &["destroy", ".", "--auto-approve", "--var", "force_destroy=true"]);
    let left: Vec<String> = w.block(async {
        w.s3.list_buckets()
            .send()
            .await
            .unwrap()
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect()
    });
    assert_eq!(left, [BUCKET], "destroy leaves nothing behind");
}

/// A bad `backend:` block is located like any other configuration error,
/// and a module cannot choose where the state lives.
#[test]
fn bad_backend_blocks_are_located() {
    let dir = scratch("bad-backend");
    write_files(
        &dir,
        &[
            ("main.yaml", &data(1)),
            ("backend.yaml", "backend:\n  s3: { bucket: b, kee: k, region: us-east-2 }\n"),
            ("m/main.yaml", "backend:\n  s3: { bucket: b, key: k, region: us-east-2 }\n"),
        ],
    );
    std::fs::write(dir.join("main.yaml"), format!("{}modules:\n  m: {{ source: ./m }}\n", data(1))).unwrap();
    let run = common::standby(&dir, &["validate", "."]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("backend.yaml:2:") && run.stderr.contains("unknown key `kee`"), "{}", run.stderr);
    assert!(run.stderr.contains("did you mean `key`?"), "{}", run.stderr);
    assert!(run.stderr.contains("`backend:` belongs in the root module"), "{}", run.stderr);
    // State commands read the block on their own and say what is missing.
    write_files(&dir, &[("backend.yaml", "backend:\n  s3: { bucket: b, region: us-east-2 }\n")]);
    let run = common::standby(&dir, &["state", "list"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("backend.yaml:2:3: the s3 backend needs `key`"), "{}", run.stderr);
    let run =
        common::standby(&dir, &["state", "list", "--backend-config", "region=moon-1", "--backend-config", "key=k"]);
    assert!(run.stderr.contains("backend region `moon-1` is not an AWS region"), "{}", run.stderr);
}

/// A plan saved against the S3 state applies once; after that it is stale.
#[test]
fn saved_plans_work_on_remote_state() {
    let w = World::new();
    let dir = w.machine(&[("main.yaml", &data(2)), ("backend.yaml", BACKEND)]);
    w.ok(&dir, 0, &["plan", ".", "--out", "p.plan"]);
    w.ok(&dir, 0, &["apply", "p.plan"]);
    assert_eq!(w.remote_state()["serial"], 1);
    let stale = w.ok(&dir, 1, &["apply", "p.plan"]);
    assert!(stale.stderr.contains("the saved plan is stale"), "{}", stale.stderr);
}

fn record(name: &str) -> (standby::address::InstanceAddr, standby::state::Instance) {
    let addr = standby::state::file::instance_addr(&format!("standby_data.{name}")).unwrap();
    let inst = standby::state::Instance {
        type_name: "standby_data".into(),
        region: "us-west-1".into(),
        id: Some(name.into()),
        status: standby::state::Status::Ready,
        attrs: Default::default(),
        sensitive: Default::default(),
        deps: vec![],
        adopted: false,
        found: None,
    };
    (addr, inst)
}

/// A teammate force-unlocks a run that is still going (it looked dead).
/// The next run folds in what it read of that run's journal and removes
/// exactly that: records the live run writes afterwards stay in S3 for the
/// run after, never deleted with nothing on record.
#[test]
fn folding_in_a_journal_never_removes_records_written_since() {
    let w = World::new();
    let (a, b) = (w.backend(), w.backend());
    w.block(async {
        let held = a.lock("apply").await.unwrap();
        let (st, _) = a.read().await.unwrap();
        let journal = a.journal(&st.lineage).await.unwrap();
        for n in ["k1", "k2", "k3"] {
            let (addr, inst) = record(n);
            journal.put(&addr, &inst).await.unwrap();
        }
        // "It must be dead": force-unlock while it still runs.
        b.force_unlock(&held.info.id).await.unwrap();
        let _b_lock = b.lock("apply").await.unwrap();
        let (mut folded, replayed) = b.read().await.unwrap();
        assert_eq!(replayed, 3);
        // The live run goes on creating while b folds its journal in.
        let (addr, inst) = record("k4");
        journal.put(&addr, &inst).await.unwrap();
        backend::write(&b, &mut folded).await.unwrap();
        b.clear_journal().await.unwrap();
        let left = keys(&w.s3, "_standby/journal/").await;
        assert_eq!(left.len(), 1, "k4's record stays: {left:?}");
        // The run after sees it.
        let (after, replayed) = w.backend().read().await.unwrap();
        assert_eq!(replayed, 1);
        let names: Vec<String> = after.resources.keys().map(|a| a.to_string()).collect();
        assert_eq!(names, ["standby_data.k1", "standby_data.k2", "standby_data.k3", "standby_data.k4"]);
        drop(held);
    });
}

/// State keys that nest (`a` and `a/b`): separate locks, and neither reads,
/// adopts or removes the other's journal.
#[test]
fn nested_state_keys_share_no_journal_and_no_lock() {
    let w = World::new();
    let at = |key: &str| {
        let spec = S3Spec { bucket: BUCKET.into(), key: key.into(), region: STATE_REGION.into(), kms_key_id: None };
        S3Backend::with_client(spec, w.s3.clone())
    };
    let (outer, inner) = (at("team/dr"), at("team/dr/staging"));
    w.block(async {
        // A run on the inner key is under way: its lock and journal in S3.
        let inner_lock = inner.lock("apply").await.unwrap();
        let (st, _) = inner.read().await.unwrap();
        let journal = inner.journal(&st.lineage).await.unwrap();
        let (addr, inst) = record("staging");
        journal.put(&addr, &inst).await.unwrap();
        // The outer key's lock is another object: held at the same time.
        let outer_lock = outer.lock("apply").await.unwrap();
        assert_ne!(outer_lock.info.id, inner_lock.info.id);
        assert_eq!(keys(&w.s3, "_standby/locks/").await.len(), 2);
        // The outer state neither replays nor adopts the inner journal...
        let (mut o, replayed) = outer.read().await.unwrap();
        assert_eq!((replayed, o.resources.len()), (0, 0));
        assert_ne!(o.lineage, st.lineage, "the outer state took the inner one's lineage");
        backend::write(&outer, &mut o).await.unwrap();
        // ...nor removes it.
        outer.clear_journal().await.unwrap();
        let (i, replayed) = inner.read().await.unwrap();
        assert_eq!((replayed, i.resources.len()), (1, 1));
        drop((outer_lock, inner_lock));
    });
}

/// Plans and drift read without the lock. An apply that finishes while
/// they read removes its journal between their listing and their GETs: the
/// reader reads again instead of failing.
#[test]
fn a_lock_free_read_racing_an_apply_s_end_reads_again() {
    let w = World::new();
    let writer = std::sync::Arc::new(w.backend());
    w.block(async {
        let (mut st, _) = writer.read().await.unwrap();
        backend::write(&*writer, &mut st).await.unwrap();
        let lineage = st.lineage.clone();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let applies = {
            let (writer, stop) = (writer.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let journal = writer.journal(&lineage).await.unwrap();
                    for i in 0..6 {
                        let (addr, inst) = record(&format!("r{i}"));
                        journal.put(&addr, &inst).await.unwrap();
                    }
                    journal.finish().await.unwrap();
                    n += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                n
            })
        };
        let mut failures = Vec::new();
        for _ in 0..150 {
            if let Err(e) = w.backend().read().await {
                failures.push(e.to_string());
            }
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let finished = applies.await.unwrap();
        assert!(finished > 5, "the applies did not overlap the reads ({finished})");
        assert!(failures.is_empty(), "{} of 150 reads failed, e.g. {}", failures.len(), failures[0]);
    });
}

/// A bucket whose default encryption is SSE-KMS (and whose policy may insist
/// on it): standby sends no encryption header of its own, so the state, the
/// lock and the journal get the bucket's KMS encryption, not SSE-S3.
#[test]
fn the_buckets_default_encryption_holds() {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let w = World::new();
    let key = "arn:aws:kms:us-east-2:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
    w.block(async {
        let default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::AwsKms)
            .kms_master_key_id(key)
            .build()
            .unwrap();
        let conf = ServerSideEncryptionConfiguration::builder()
            .rules(ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).build())
            .build()
            .unwrap();
        w.s3.put_bucket_encryption().bucket(BUCKET).server_side_encryption_configuration(conf).send().await.unwrap();
        let b = w.backend();
        let held = b.lock("apply").await.unwrap();
        let (mut st, _) = b.read().await.unwrap();
        let journal = b.journal(&st.lineage).await.unwrap();
        let (addr, inst) = record("k1");
        journal.put(&addr, &inst).await.unwrap();
        backend::write(&b, &mut st).await.unwrap();
        for object in keys(&w.s3, "").await {
            let head = w.s3.head_object().bucket(BUCKET).key(&object).send().await.unwrap();
            assert_eq!(
                (head.server_side_encryption().map(|s| s.as_str().to_string()), head.ssekms_key_id()),
                (Some("aws:kms".to_string()), Some(key)),
                "{object}"
            );
        }
        drop(held);
    });
}

/// The lock object, if any.
async fn lock_object(s3: &S3) -> Option<String> {
    keys(s3, "_standby/locks/").await.into_iter().next()
}

fn kill(pid: u32, signal: &str) {
    let ok = std::process::Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status().unwrap();
    assert!(ok.success(), "kill -{signal} {pid}");
}

/// Ctrl-C at the confirmation prompt (a terminal: a pseudo-terminal here)
/// stops the apply and releases the S3 lock it took.
#[test]
fn sigint_at_the_prompt_releases_the_lock() {
    let w = World::new();
    let dir = w.machine(&[("main.yaml", &data(3)), ("backend.yaml", BACKEND)]);
    // A pseudo-terminal: the child's pid, then what it printed, then its exit code.
    let pty = r#"
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
print(pid, flush=True)
seen = b""
while b"Enter a value" not in seen:
    seen += os.read(fd, 4096)
print("PROMPT", flush=True)
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
print(seen.decode(errors="replace").replace("\n", " | "), flush=True)
print("EXIT", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"#;
    let c = w.emu.cmd(&dir, &["apply", "."]);
    let program = c.get_program().to_owned();
    let args: Vec<_> = c.get_args().map(|a| a.to_owned()).collect();
    let mut py = std::process::Command::new("python3");
    py.arg("-c").arg(pty).arg(program).args(args).current_dir(&dir).stdout(Stdio::piped());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => py.env(k, v),
            None => py.env_remove(k),
        };
    }
    let mut child = py.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok);
    let pid: u32 = out.next().unwrap().trim().parse().unwrap();
    assert_eq!(out.next().as_deref(), Some("PROMPT"));
    assert!(w.block(lock_object(&w.s3)).is_some(), "the apply holds the lock at its prompt");
    kill(pid, "INT");
    let printed = out.next().unwrap_or_default();
    let exit = out.next().unwrap_or_default();
    child.wait().unwrap();
    assert_eq!(exit, "EXIT 130", "{printed}");
    assert!(printed.contains("SIGINT received: stopping now") && printed.contains("is released"), "{printed}");
    assert_eq!(w.block(lock_object(&w.s3)), None, "the lock is gone: {printed}");
    assert!(w.keys("mattermost/").is_empty(), "nothing was written");
}

/// A CI cancel (SIGTERM) while the state is refreshed: the lock is released
/// and the run says so; the next run needs no force-unlock.
#[test]
fn sigterm_during_refresh_releases_the_lock() {
    let w = World::new();
    // One resource whose refresh keeps retrying: its domain does not answer.
    let config = "regions: { primary: us-west-1, secondary: us-east-1 }
variables:
  pw: { type: string, sensitive: true }
resources:
  user:
    type: opensearch_internal_user
    properties:
      domain_endpoint: search-mm-0123456789abcdefghijklmnop.us-west-1.es.amazonaws.com
      endpoint_url: http://127.0.0.1:9
      master_user_name: admin
      master_user_password: \"${var.pw}\"
      user_name: mattermost
      password: \"${var.pw}\"
";
    let dir = w.machine(&[("main.yaml", config), ("backend.yaml", BACKEND)]);
    let state = serde_json::json!({"version": 2, "serial": 1, "lineage": "l-1", "standby_version": "0.1.0",
        "salt": "0011223344556677", "resources": [{"address": "opensearch_internal_user.user",
        "type": "opensearch_internal_user", "name": "user", "region": "us-west-1", "id": "mattermost",
        "status": "ready", "attributes": {"user_name": "mattermost", "master_user_name": "admin",
        "domain_endpoint": "search-mm-0123456789abcdefghijklmnop.us-west-1.es.amazonaws.com",
        "endpoint_url": "http://127.0.0.1:9"}}]});
    w.block(async {
        w.s3.put_object().bucket(BUCKET).key(KEY).body(state.to_string().into_bytes().into()).send().await.unwrap()
    });
    let child = w
        .emu
        .cmd(&dir, &["apply", ".", "--auto-approve"])
        .env("STANDBY_VAR_pw", "Pass-word-1!")
        .env("STANDBY_AWS_MAX_ATTEMPTS", "8")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while w.block(lock_object(&w.s3)).is_none() {
        assert!(started.elapsed().as_secs() < 30, "the apply never took the lock");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    kill(child.id(), "TERM");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("SIGTERM received: stopping now") && stderr.contains("is released"), "{stderr}");
    assert_eq!(w.block(lock_object(&w.s3)), None, "{stderr}");
}

/// SIGTERM during the changes: nothing new starts, what runs finishes, the
/// state is stored and the lock released (one interrupt); the next apply
/// finishes the rest.
#[test]
fn sigterm_during_apply_stores_the_state_and_releases_the_lock() {
    let w = World::new();
    let dir = w.machine(&[("main.yaml", &data(300)), ("backend.yaml", BACKEND)]);
    let mut child = w
        .emu
        .cmd(&dir, &["apply", ".", "--auto-approve", "--parallelism", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut seen = 0;
    while reader.read_line(&mut line).unwrap() > 0 {
        if line.contains("Creation complete") {
            seen += 1;
            if seen == 50 {
                kill(child.id(), "TERM");
                break;
            }
        }
        line.clear();
    }
    let rest: Vec<String> = reader.lines().map_while(Result::ok).collect();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "an interrupted apply fails: {rest:?}");
    assert!(rest.iter().any(|l| l.contains("Interrupt received")), "{rest:?}");
    assert_eq!(w.block(lock_object(&w.s3)), None, "{}", String::from_utf8_lossy(&out.stderr));
    let recorded = w.ok(&dir, 0, &["state", "list"]).stdout.lines().count();
    assert!((50..300).contains(&recorded), "{recorded} recorded");
    w.ok(&dir, 0, &["apply", ".", "--auto-approve"]);
    assert_eq!(w.ok(&dir, 0, &["state", "list"]).stdout.lines().count(), 300);
}

/// A lock object this version cannot fully read: one written by another
/// version (only the id) names its holder and is released by its id; one
/// that is not a standby lock at all (made by hand) is shown with the
/// command that removes it by its ETag, and that command removes it.
#[test]
fn a_lock_from_another_version_or_by_hand_is_released_with_standby() {
    let w = World::new();
    let dir = w.machine(&[("main.yaml", &data(1)), ("backend.yaml", BACKEND)]);
    let lock_key = format!("_standby/locks/{KEY}");
    let put = |body: &str| {
        w.block(w.s3.put_object().bucket(BUCKET).key(&lock_key).body(body.as_bytes().to_vec().into()).send()).unwrap();
    };

    put(r#"{"id": "from-another-version"}"#);
    let locked = w.ok(&dir, 1, &["apply", ".", "--auto-approve"]);
    assert_eq!(lock_id(&locked.stderr), "from-another-version", "{}", locked.stderr);
    w.ok(&dir, 0, &["force-unlock", "from-another-version"]);
    assert!(w.keys(&lock_key).is_empty());

    put("written by hand");
    let locked = w.ok(&dir, 1, &["apply", ".", "--auto-approve"]);
    assert!(locked.stderr.contains("cannot be read as a standby lock"), "{}", locked.stderr);
    let refused = w.ok(&dir, 1, &["force-unlock", "some-id"]);
    assert!(refused.stderr.contains("written by hand"), "the object's content is shown: {}", refused.stderr);
    let command = refused
        .stderr
        .lines()
        .find_map(|l| l.split("remove it with: standby ").nth(1))
        .unwrap_or_else(|| panic!("no command in:\n{}", refused.stderr));
    let args: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(args.len(), 2, "{command}");
    w.ok(&dir, 0, &args);
    assert!(w.keys(&lock_key).is_empty(), "the lock is gone");
    w.ok(&dir, 0, &["apply", ".", "--auto-approve"]);
}
