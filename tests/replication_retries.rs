//! F13: S3 refuses replication towards a bucket it does not see yet
//! (NoSuchBucket, e.g. just created in the other region); standby retries,
//! as Terraform's aws_s3_bucket_replication_configuration does. The emulator
//! hides new buckets from PutBucketReplication for `s3_bucket_visible_ms`.

mod common;

use common::{Emulator, copy_dir, drop_app_tier, repo, scratch};
use serde_json::Value;

fn control(emu: &Emulator, method: &str, path: &str, body: &str) -> Value {
    use std::io::{Read, Write};
    let addr = emu.endpoint().trim_start_matches("http://").to_string();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap_or(Value::Null)
}

#[test]
fn a_just_created_destination_is_retried() {
    let emu = Emulator::start();
    let root = scratch("repl-retry");
    copy_dir(&repo().join("examples/mattermost-dr"), &root.join("examples/mattermost-dr"));
    // The app tier, its secrets and DNS are not this test's subject.
    drop_app_tier(&root.join("examples/mattermost-dr"));
    copy_dir(&repo().join("modules"), &root.join("modules"));
    let dir = root.join("examples/mattermost-dr");
    // Standby makes the primary here (no adoption).
    std::fs::remove_file(dir.join("imports.yaml")).unwrap();
    // File storage only (main.yaml): the database and search parts need passwords.
    for part in ["database.yaml", "search.yaml"] {
        std::fs::remove_file(dir.join(part)).unwrap();
    }
    control(&emu, "POST", "/_emulator/settings", r#"{"s3_bucket_visible_ms": 3000}"#);
    let run: common::Run = emu
        .cmd(&dir, &["apply", ".", "--auto-approve"])
        .env("STANDBY_VAR_force_destroy", "true")
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "{}", run.all());
    let calls = control(&emu, "GET", "/_emulator/calls", "");
    let puts: Vec<u64> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["operation"] == "PutBucketReplication")
        .map(|c| c["status"].as_u64().unwrap_or(0))
        .collect();
    assert!(puts.contains(&404), "the destination was not visible at first: {puts:?}");
    assert_eq!(puts.iter().filter(|s| **s == 200).count(), 2, "both directions in the end: {puts:?}");
}
