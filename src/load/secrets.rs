//! Secrets for what the state holds but the configuration no longer
//! declares (e.g. a replication whose `for_each` went empty after a
//! switchover): reads, deletes and the runbook still need to sign in.

use crate::state::State;
use crate::value::Attrs;
use std::collections::BTreeMap;

/// `secrets` plus, for every state record without any, what [`same_user`]
/// finds.
pub fn with_borrowed(secrets: &BTreeMap<String, Attrs>, state: &State) -> BTreeMap<String, Attrs> {
    let mut out = secrets.clone();
    for (addr, inst) in &state.resources {
        if let std::collections::btree_map::Entry::Vacant(e) = out.entry(addr.to_string()) {
            let found = same_user(secrets, state, inst);
            if !found.is_empty() {
                e.insert(found);
            }
        }
    }
    out
}

/// A REST resource no longer declared (e.g. a replication whose `for_each`
/// went empty) has no configured password: the same user's password on the
/// same domain, still declared elsewhere, signs its delete — from another
/// resource signed in as that user, or from that internal user's own
/// `password`. Only the password is borrowed, and only when user and domain match.
pub fn same_user(
    secrets: &std::collections::BTreeMap<String, crate::value::Attrs>,
    state: &crate::state::State,
    inst: &crate::state::Instance,
) -> crate::value::Attrs {
    use crate::value::Value;
    let s = |a: &crate::value::Attrs, k: &str| a.get(k).and_then(Value::as_str).map(str::to_string);
    let Some(mine) = s(&inst.attrs, "domain_endpoint").zip(s(&inst.attrs, "master_user_name")) else {
        return Default::default();
    };
    state
        .resources
        .iter()
        .find_map(|(a, other)| {
            let given = secrets.get(&a.to_string())?;
            let endpoint = s(&other.attrs, "domain_endpoint")?;
            if (endpoint.clone(), s(&other.attrs, "master_user_name").unwrap_or_default()) == mine {
                return given.get("master_user_password").cloned();
            }
            let own =
                other.type_name == "opensearch_internal_user" && (endpoint, s(&other.attrs, "user_name")?) == mine;
            if own { given.get("password").cloned() } else { None }
        })
        .map(|p| [("master_user_password".to_string(), p)].into())
        .unwrap_or_default()
}
