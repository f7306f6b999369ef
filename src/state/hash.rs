//! Hashes of sensitive values in state: enough to tell that a secret
//! changed, never enough to recover it. Anyone who may read the state (a
//! read-only drift role) holds the hashes and the state's salt, so the hash
//! is Argon2id (RFC 9106), slow and memory-hard: each guess costs that
//! reader the same time and memory it costs standby, on a GPU too. Format:
//! `argon2id:v=19,m=19456,t=2,p=1:<hex>`, with the state's random salt, at
//! OWASP's recommended minimum for Argon2id (19 MiB, 2 passes, 1 lane).
//!
//! The same secret is often the input of several resources (a domain's
//! master password signs every REST resource on it): hashes are kept for the
//! run in memory, so a plan computes one per distinct secret.
//!
//! Older states hold `sha256:<hex>` (one salted SHA-256, a fast verifier):
//! still compared, and replaced by Argon2id hashes when the configured value
//! matches ([`super::State::upgrade_hashes`]).

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

const M_COST: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
const PREFIX: &str = "argon2id:v=19,m=19456,t=2,p=1:";
const LEGACY: &str = "sha256:";

/// Hashes already computed in this process, by a fast digest of their input
/// (never the value itself).
static DONE: Mutex<Option<HashMap<[u8; 32], String>>> = Mutex::new(None);

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The hash of `value` with `salt` (the state's).
pub fn hash(salt: &str, value: &str) -> String {
    let key: [u8; 32] = Sha256::new().chain_update(salt).chain_update([0u8]).chain_update(value).finalize().into();
    if let Some(h) = DONE.lock().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|m| m.get(&key)) {
        return h.clone();
    }
    let params = argon2::Params::new(M_COST, T_COST, P_COST, Some(32)).expect("valid Argon2 parameters");
    let kdf = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    // Argon2 wants at least 8 bytes of salt: states made by standby carry 16.
    let salt = format!("standby-state-salt:{salt}");
    let mut out = [0u8; 32];
    kdf.hash_password_into(value.as_bytes(), salt.as_bytes(), &mut out).expect("Argon2id over a value");
    let h = format!("{PREFIX}{}", hex(&out));
    DONE.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(HashMap::new).insert(key, h.clone());
    h
}

/// Whether `stored` (either format) is the hash of `value` with `salt`.
pub fn matches(salt: &str, value: &str, stored: &str) -> bool {
    if stored.starts_with(LEGACY) {
        return crate::ids::salted_hash(salt, value) == stored;
    }
    stored.starts_with(PREFIX) && hash(salt, value) == stored
}

/// A hash in the older, fast format.
pub fn is_legacy(stored: &str) -> bool {
    stored.starts_with(LEGACY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_with_the_state_salt_and_the_old_format_still_compared() {
        let h = hash("0011223344556677", "Secret-1!");
        assert!(h.starts_with("argon2id:v=19,m=19456,t=2,p=1:") && h.len() == PREFIX.len() + 64, "{h}");
        assert_eq!(h, hash("0011223344556677", "Secret-1!"), "deterministic for a state");
        assert_ne!(h, hash("8899aabbccddeeff", "Secret-1!"), "salted");
        assert!(matches("0011223344556677", "Secret-1!", &h));
        assert!(!matches("0011223344556677", "Secret-2!", &h));
        let old = crate::ids::salted_hash("0011223344556677", "Secret-1!");
        assert!(is_legacy(&old) && matches("0011223344556677", "Secret-1!", &old));
        assert!(!matches("0011223344556677", "Secret-1!", "md5:whatever"));
    }

    /// What a secret costs to hash (and a guesser to test): figures, not a
    /// test (`cargo test --lib hash_cost -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn hash_cost() {
        let n = 5;
        let start = std::time::Instant::now();
        for i in 0..n {
            let _ = hash(&format!("salt{i:012}"), "Secret-1!");
        }
        eprintln!("Argon2id m=19 MiB t=2 p=1: {:.1} ms per secret", start.elapsed().as_secs_f64() * 1000.0 / n as f64);
        let start = std::time::Instant::now();
        for i in 0..10_000 {
            let _ = crate::ids::salted_hash(&format!("salt{i:012}"), "Secret-1!");
        }
        eprintln!("the older salted SHA-256: {:.2} µs per secret", start.elapsed().as_secs_f64() * 1e6 / 10_000.0);
    }
}
