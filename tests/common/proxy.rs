//! The fault proxy (tests/emulator/standby_emulator/fault_proxy.py) in
//! front of an emulator, for tests of standby under adversity.

use super::{repo, scratch};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn call(url: &str, method: &str, path: &str) -> String {
    super::http(url, method, path, None, "", None).1
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

/// The fault proxy (tests/emulator/standby_emulator/fault_proxy.py), stopped when dropped.
pub struct Proxy {
    child: Child,
    pub url: String,
}

impl Proxy {
    pub fn start(upstream: &str, seed: u64) -> Proxy {
        let dir = scratch("fault-proxy");
        let port_file = dir.join("port");
        let child = Command::new(repo().join(".venv-emulator/bin/python"))
            .args(["-m", "standby_emulator.fault_proxy", "--upstream", upstream, "--rate", "0", "--seed"])
            .arg(seed.to_string())
            .arg("--port-file")
            .arg(&port_file)
            .arg("--log")
            .arg(dir.join("faults.log"))
            .env("PYTHONPATH", repo().join("tests/emulator"))
            .stdin(Stdio::null())
            .spawn()
            .expect("start the fault proxy");
        let started = Instant::now();
        while !port_file.exists() {
            assert!(started.elapsed() < Duration::from_secs(30), "the fault proxy did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let port = std::fs::read_to_string(&port_file).unwrap();
        Proxy { child, url: format!("http://127.0.0.1:{}", port.trim()) }
    }

    pub fn set_rate(&self, rate: f64) {
        call(&self.url, "PUT", &format!("/_proxy/rate?value={rate}"));
    }

    /// A probability per kind of fault (refused, throttled, lost, slow).
    pub fn set_rates(&self, rates: &[(&str, f64)]) {
        let q: Vec<String> = rates.iter().map(|(k, r)| format!("{k}={r}")).collect();
        call(&self.url, "PUT", &format!("/_proxy/rates?{}", q.join("&")));
    }

    /// The next `times` requests containing every one of `texts` are refused (503, never forwarded).
    pub fn refuse_all(&self, texts: &[&str], times: u32) {
        let q: String = texts.iter().map(|t| format!("match={}&", encode(t))).collect();
        call(&self.url, "PUT", &format!("/_proxy/refuse?{q}times={times}"));
    }

    /// The next request matching `text` takes effect and loses its answer.
    pub fn lose(&self, text: &str) {
        self.lose_all(&[text], 1);
    }

    /// The next `times` requests containing every one of `texts` take effect and lose their answer.
    pub fn lose_all(&self, texts: &[&str], times: u32) {
        let q: String = texts.iter().map(|t| format!("match={}&", encode(t))).collect();
        call(&self.url, "PUT", &format!("/_proxy/lose?{q}times={times}"));
    }

    /// The next request containing every one of `texts` takes effect, and
    /// its answer is held `secs` seconds (a caller killed meanwhile never
    /// hears of it); `stats()["held"]` counts the answers held now.
    pub fn hold(&self, texts: &[&str], secs: u32) {
        let q: String = texts.iter().map(|t| format!("match={}&", encode(t))).collect();
        call(&self.url, "PUT", &format!("/_proxy/hold?{q}secs={secs}"));
    }

    /// The next `times` requests containing `text` are answered with
    /// `status` (a domain's internal error, S3's XML error), never reaching
    /// the emulator.
    pub fn fail(&self, text: &str, times: u32, status: u16) {
        call(&self.url, "PUT", &format!("/_proxy/fail?match={}&times={times}&status={status}", encode(text)));
    }

    pub fn stats(&self) -> Value {
        serde_json::from_str(&call(&self.url, "GET", "/_proxy/stats")).unwrap()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
