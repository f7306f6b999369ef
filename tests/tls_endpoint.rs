//! F14: a domain's REST API reached through a tunnel or a TLS proxy
//! (`STANDBY_OPENSEARCH_ENDPOINT_URL=https://127.0.0.1:PORT`) is verified
//! against the domain's own name, as with the domain itself: the proxy here
//! (tests/emulator/tls_proxy.py, in front of the emulator) presents a
//! certificate for `*.us-east-1.es.amazonaws.com` from a private CA, trusted
//! through `STANDBY_OPENSEARCH_CA_BUNDLE`.

mod common;

use common::{Emulator, Run, copy_dir, repo, scratch};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const PASSWORD: &str = "Srch-Master-9!kq";

/// The TLS forwarder, stopped when dropped.
struct Proxy {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Proxy {
    fn start(target: &str, names: &[&str]) -> Proxy {
        let dir = scratch("tls-proxy");
        let mut cmd = Command::new(repo().join(".venv-emulator/bin/python"));
        cmd.arg(repo().join("tests/emulator/tls_proxy.py")).args(["--target", target, "--dir"]).arg(&dir);
        for n in names {
            cmd.args(["--name", n]);
        }
        let child = cmd.spawn().expect("start tls_proxy.py");
        let started = Instant::now();
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(dir.join("port")) {
                break p.trim().parse().unwrap();
            }
            assert!(started.elapsed() < Duration::from_secs(30), "tls_proxy.py did not start");
            std::thread::sleep(Duration::from_millis(100));
        };
        Proxy { child, dir, port }
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(emu: &Emulator, dir: &Path, proxy: &Proxy, ca: Option<&Path>, args: &[&str]) -> Run {
    let mut c = emu.cmd(dir, args);
    c.env("STANDBY_VAR_search_password", PASSWORD)
        .env("STANDBY_OPENSEARCH_ENDPOINT_URL", format!("https://127.0.0.1:{}", proxy.port));
    if let Some(ca) = ca {
        c.env("STANDBY_OPENSEARCH_CA_BUNDLE", ca);
    }
    c.output().expect("run standby").into()
}

#[test]
fn tls_through_a_tunnel_is_verified_against_the_domain_name() {
    let emu = Emulator::start();
    let dir = scratch("tls").join("tls");
    copy_dir(&repo().join("tests/fixtures/tls"), &dir);
    let target = emu.endpoint().trim_start_matches("http://").to_string();
    let good = Proxy::start(&target, &["*.us-east-1.es.amazonaws.com"]);

    let ok = run(&emu, &dir, &good, Some(&good.ca()), &["apply", ".", "--auto-approve"]);
    assert_eq!(ok.code, 0, "{}", ok.all());
    let list = emu.standby(&dir, &["state", "list"]).stdout;
    assert!(list.contains("opensearch_internal_user.mattermost"), "{list}");
    // Reading it back goes through the tunnel too.
    let plan = run(&emu, &dir, &good, Some(&good.ca()), &["plan", ".", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.all());

    // Not trusted without the bundle.
    let untrusted = run(&emu, &dir, &good, None, &["plan", "."]);
    assert_eq!(untrusted.code, 1, "{}", untrusted.all());
    assert!(untrusted.stderr.contains("UnknownIssuer"), "{}", untrusted.stderr);

    // A certificate for another name is refused, even from a trusted CA.
    let other = Proxy::start(&target, &["*.us-west-2.es.amazonaws.com"]);
    let wrong = run(&emu, &dir, &other, Some(&other.ca()), &["plan", "."]);
    assert_eq!(wrong.code, 1, "{}", wrong.all());
    assert!(wrong.stderr.contains("certificate not valid for name \"search-mm-search-"), "{}", wrong.stderr);
    assert!(wrong.stderr.contains("hint: TLS is verified against the domain endpoint"), "{}", wrong.stderr);
    assert!(wrong.stderr.contains("cannot reach https://127.0.0.1:"), "{}", wrong.stderr);

    // A bundle that is no PEM is a clear error.
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let bad = run(&emu, &dir, &good, Some(&junk), &["plan", "."]);
    assert_eq!(bad.code, 1, "{}", bad.all());
    assert!(bad.stderr.contains("STANDBY_OPENSEARCH_CA_BUNDLE="), "{}", bad.stderr);
    assert!(!bad.all().contains(PASSWORD));
}
