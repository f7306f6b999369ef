//! State: what standby manages, as last observed. Changed only through the
//! methods here; kept by a [`backend`] (the local [`file`] guarded by
//! [`lock`], or an object in [`s3`]); made crash-safe during apply by
//! [`journal`].

pub mod backend;
pub mod file;
pub mod hash;
pub mod journal;
pub mod lock;
pub mod roles;
pub mod s3;

use crate::address::InstanceAddr;
use crate::value::{Attrs, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where the state lives unless `--state` or `STANDBY_STATE` says otherwise:
/// `state/standby.json` under the configuration directory.
pub const DEFAULT_STATE: &str = "state/standby.json";
/// `STANDBY_STATE`: path of the state file.
pub const ENV_STATE: &str = "STANDBY_STATE";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Created (or adopted) and read back.
    #[default]
    Ready,
    /// A create was started and may have happened; the next refresh decides.
    Pending,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub type_name: String,
    /// The AWS region.
    pub region: String,
    pub id: Option<String>,
    pub status: Status,
    /// What AWS reported, sensitive attributes left out.
    pub attrs: Attrs,
    /// Sensitive attribute → salted hash of its value ([`hash`]).
    pub sensitive: BTreeMap<String, String>,
    /// Resource blocks this one depended on when last applied.
    pub deps: Vec<String>,
    /// Imported (made outside standby), not created by it: protected from
    /// deletion unless the configuration lifts it.
    pub adopted: bool,
    /// For an adopted resource: its attributes as AWS reported them when it
    /// was imported (kept for good, so destroy can give back what standby
    /// changed on it). Written with the import record, before any change.
    pub found: Option<Attrs>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputState {
    /// `None` for sensitive outputs (never stored). A null output is
    /// `Some(Null)`, also after a round trip through the file.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub value: Option<serde_json::Value>,
    pub sensitive: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// A field that is present is `Some`, even when it is `null`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub serial: u64,
    pub lineage: String,
    /// Salt for the hashes of sensitive values.
    pub salt: String,
    pub resources: BTreeMap<InstanceAddr, Instance>,
    pub outputs: BTreeMap<String, OutputState>,
    /// The active region and the last role switch, once one happened.
    pub roles: Option<roles::Roles>,
}

impl State {
    pub fn new() -> Self {
        State {
            serial: 0,
            lineage: crate::ids::uuid(),
            salt: crate::ids::random_id(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            roles: None,
        }
    }

    /// Hashes a sensitive value with this state's salt ([`hash`]).
    pub fn hash(&self, v: &Value) -> String {
        hash::hash(&self.salt, &v.to_json().to_string())
    }

    /// Whether `stored` is the hash of `v` (in the current or older format).
    pub fn matches(&self, v: &Value, stored: &str) -> bool {
        hash::matches(&self.salt, &v.to_json().to_string(), stored)
    }

    /// Replaces older fast hashes by current ones where the configured value
    /// (`secrets`: address → sensitive inputs) is the one hashed: the next
    /// state write then holds no fast verifier of that secret. Returns how
    /// many were replaced.
    pub fn upgrade_hashes(&mut self, secrets: &BTreeMap<String, Attrs>) -> usize {
        let salt = self.salt.clone();
        let mut n = 0;
        for (addr, inst) in self.resources.iter_mut() {
            let Some(given) = secrets.get(&addr.to_string()) else { continue };
            for (k, stored) in inst.sensitive.iter_mut() {
                let Some(v) = given.get(k) else { continue };
                let text = v.to_json().to_string();
                if hash::is_legacy(stored) && hash::matches(&salt, &text, stored) {
                    *stored = hash::hash(&salt, &text);
                    n += 1;
                }
            }
        }
        n
    }

    /// Splits attributes into the clear ones and hashes of the sensitive ones.
    pub fn protect(
        &self,
        attrs: &Attrs,
        sensitive: &std::collections::BTreeSet<String>,
    ) -> (Attrs, BTreeMap<String, String>) {
        let mut clear = Attrs::new();
        let mut hashes = BTreeMap::new();
        for (k, v) in attrs {
            if sensitive.contains(k) {
                if !v.is_null() && !matches!(v, Value::Unknown) {
                    hashes.insert(k.clone(), self.hash(v));
                }
            } else {
                clear.insert(k.clone(), v.clone());
            }
        }
        (clear, hashes)
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_fast_hashes_still_match_and_are_replaced_when_the_value_is_known() {
        let mut st = State::new();
        let addr = file::instance_addr("opensearch_internal_user.mattermost").unwrap();
        let secret = Value::str("Mm-User-3%vx");
        let legacy = crate::ids::salted_hash(&st.salt, &secret.to_json().to_string());
        let inst = Instance {
            type_name: "opensearch_internal_user".into(),
            region: "us-west-1".into(),
            id: Some("mattermost".into()),
            status: Status::Ready,
            attrs: Attrs::new(),
            sensitive: [("password".to_string(), legacy.clone()), ("other".to_string(), legacy.clone())].into(),
            deps: vec![],
            adopted: false,
            found: None,
        };
        st.resources.insert(addr.clone(), inst);
        assert!(st.matches(&secret, &legacy), "an older state's hash still compares");
        // Only what the configuration gives, and only when it is the value hashed.
        let given: BTreeMap<String, Attrs> = [(
            addr.to_string(),
            [("password".to_string(), secret.clone()), ("other".to_string(), Value::str("changed"))].into(),
        )]
        .into();
        assert_eq!(st.upgrade_hashes(&given), 1);
        let now = &st.resources[&addr].sensitive;
        assert!(now["password"].starts_with("argon2id:") && st.matches(&secret, &now["password"]));
        assert_eq!(now["other"], legacy, "a value that differs is left for the plan to show");
        assert_eq!(st.upgrade_hashes(&given), 0, "done once");
    }
}
