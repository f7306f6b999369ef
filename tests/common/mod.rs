//! Shared by the integration tests: run the built `standby` binary in a
//! scratch directory, and start a private AWS emulator per test.
#![allow(dead_code)]

pub mod proxy;
pub mod standin;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh scratch directory under the target dir.
pub fn scratch(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Writes files (path → text) under `dir`.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (p, text) in files {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// Copies a directory tree (fixtures, modules, examples).
/// Removes the app tier from a copy of examples/mattermost-dr, with what
/// only it uses (its secrets, the DNS records on its load balancers), for the
/// tests of the data tier (the app tier is tests/app_tier.rs's subject,
/// secrets and DNS tests/dns_secrets.rs's).
pub fn drop_app_tier(example: &Path) {
    for f in ["app.yaml", "dns.yaml", "secrets.yaml"] {
        std::fs::remove_file(example.join(f)).unwrap();
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            if e.file_name() != "state" {
                copy_dir(&e.path(), &dest);
            }
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A `standby` command in `cwd`, with a clean environment for variables.
pub fn cmd(cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_standby"));
    c.args(args).current_dir(cwd).stdin(Stdio::null()).env("NO_COLOR", "1").env_remove("STANDBY_STATE");
    for (k, _) in std::env::vars() {
        if k.starts_with("STANDBY_VAR_") || k.starts_with("AWS_") {
            c.env_remove(k);
        }
    }
    c
}

pub fn standby(cwd: &Path, args: &[&str]) -> Run {
    cmd(cwd, args).output().expect("run standby").into()
}

/// A private emulator (moto + the project's extensions) on a free port,
/// stopped when dropped.
pub struct Emulator {
    dir: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Emulator {
    pub fn start() -> Emulator {
        let dir = scratch("emulator");
        let out = Command::new(repo().join("scripts/emulator"))
            .args(["start", "--dir"])
            .arg(&dir)
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/emulator start");
        assert!(out.status.success(), "emulator did not start");
        let text = String::from_utf8_lossy(&out.stdout);
        let env = text
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches(['"', '\'']).to_string()))
            .collect();
        let e = Emulator { dir, env };
        assert!(!e.endpoint().is_empty(), "no AWS_ENDPOINT_URL in: {text}");
        e
    }

    pub fn endpoint(&self) -> String {
        self.get("AWS_ENDPOINT_URL")
    }

    pub fn get(&self, key: &str) -> String {
        self.env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    /// A standby command talking to this emulator (one attempt per call,
    /// so unimplemented calls fail fast).
    pub fn cmd(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut c = cmd(cwd, args);
        c.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))).env("STANDBY_AWS_MAX_ATTEMPTS", "2");
        // No user follows DNS here: the old region shrinks a second after
        // DNS moved (the game days set their own, on the world's clock).
        c.env("STANDBY_SWITCHOVER_DRAIN_SECS", "1");
        c
    }

    pub fn standby(&self, cwd: &Path, args: &[&str]) -> Run {
        self.cmd(cwd, args).output().expect("run standby").into()
    }

    /// Applies the emulator's environment to this process (for SDK checks).
    pub fn sdk_env(&self) -> Vec<(String, String)> {
        self.env.clone()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("scripts/emulator")).args(["stop", "--dir"]).arg(&self.dir).output();
    }
}

/// An AWS SDK configuration for the emulator at `endpoint`, signed for
/// `region`: what the tests check AWS with, beside standby.
pub async fn sdk_config(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test"))
        .http_client(http)
        .load()
        .await
}

/// A raw HTTP/1.1 request to the emulator: its control API, or (with `host`
/// a domain endpoint) a domain's REST API as the master user `admin` with
/// `password`, basic auth as the example's REST kinds use. Status and body.
pub fn http(
    endpoint: &str,
    method: &str,
    path: &str,
    host: Option<&str>,
    password: &str,
    body: Option<&str>,
) -> (u16, String) {
    let basic = host.map(|_| format!("Basic {}", aws_smithy_types::base64::encode(format!("admin:{password}"))));
    http_as(endpoint, method, path, host, basic.as_deref(), body)
}

/// A raw HTTP/1.1 request to `endpoint` with `Host: host` (default the
/// endpoint's) and this `Authorization` (e.g. `Bearer <token>` for
/// Mattermost's API). Status and body.
pub fn http_as(
    endpoint: &str,
    method: &str,
    path: &str,
    host: Option<&str>,
    authorization: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(addr).expect("connect to the emulator");
    let body = body.unwrap_or("");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\nContent-Type: application/json\r\n",
        host.unwrap_or(addr),
        body.len()
    );
    if let Some(auth) = authorization {
        head.push_str(&format!("Authorization: {auth}\r\n"));
    }
    write!(conn, "{head}\r\n{body}").unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, body.to_string())
}

/// Validates `json_text` against schemas/NAME.schema.json with a real JSON
/// Schema validator (python-jsonschema, installed with the emulator); the
/// schema itself is checked first.
pub fn assert_valid(schema: &str, json_text: &str) {
    use std::io::Write;
    let script = "import json,sys,jsonschema\n\
schema=json.load(open(sys.argv[1]))\n\
jsonschema.Draft7Validator.check_schema(schema)\n\
errors=[f'{list(e.path)}: {e.message}' for e in jsonschema.Draft7Validator(schema).iter_errors(json.load(sys.stdin))]\n\
print('\\n'.join(errors)); sys.exit(1 if errors else 0)\n";
    let mut child = Command::new(repo().join(".venv-emulator/bin/python"))
        .args(["-c", script])
        .arg(repo().join(format!("schemas/{schema}.schema.json")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python with jsonschema (scripts/emulator install)");
    child.stdin.take().unwrap().write_all(json_text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "not valid against schemas/{schema}.schema.json:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
