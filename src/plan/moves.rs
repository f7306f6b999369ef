//! Terraform's implied moves: a resource block that gains `count` keeps its
//! object as instance `[0]`, and one that loses it keeps `[0]` as the bare
//! address, rather than deleting one and creating the other.

use crate::address::Key;
use crate::state::State;
use std::collections::BTreeMap;

/// Moves state records to the addresses the configuration now uses (only
/// when the target address is free in the state); returns one line per move
/// for the plan ("moved X to Y"). Nothing in AWS changes.
pub fn implied(st: &mut State, configured: &BTreeMap<String, (String, String)>) -> Vec<String> {
    let mut moves = Vec::new();
    for addr in st.resources.keys() {
        let target = match addr.key {
            Key::None => addr.block.instance(Key::Int(0)),
            Key::Int(0) => addr.block.instance(Key::None),
            _ => continue,
        };
        let (from, to) = (addr.to_string(), target.to_string());
        if !configured.contains_key(&from) && configured.contains_key(&to) && !st.resources.contains_key(&target) {
            moves.push((addr.clone(), target));
        }
    }
    let mut lines = Vec::new();
    for (from, to) in moves {
        if let Some(inst) = st.resources.remove(&from) {
            lines.push(format!("{from} has moved to {to} (count added or removed; nothing changes in AWS)"));
            st.resources.insert(to, inst);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_that_gains_count_keeps_its_object_as_instance_zero() {
        let mut st = State::default();
        let a = crate::state::file::instance_addr("module.s.t_x.c").unwrap();
        st.resources.insert(
            a,
            crate::state::Instance {
                type_name: "t_x".into(),
                region: "us-east-1".into(),
                id: Some("i".into()),
                status: crate::state::Status::Ready,
                attrs: Default::default(),
                sensitive: Default::default(),
                deps: Vec::new(),
                adopted: false,
                found: None,
            },
        );
        let conf: BTreeMap<String, (String, String)> =
            [("module.s.t_x.c[0]".to_string(), (String::new(), String::new()))].into();
        let lines = implied(&mut st, &conf);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let keys: Vec<String> = st.resources.keys().map(|k| k.to_string()).collect();
        assert_eq!(keys, ["module.s.t_x.c[0]"]);
        // And back: `[0]` becomes the bare address when count goes away.
        let conf: BTreeMap<String, (String, String)> =
            [("module.s.t_x.c".to_string(), (String::new(), String::new()))].into();
        assert_eq!(implied(&mut st, &conf).len(), 1);
        assert!(st.resources.keys().all(|k| k.to_string() == "module.s.t_x.c"));
        // Nothing configured at either address: left alone (planned as a delete).
        assert!(implied(&mut st, &BTreeMap::new()).is_empty());
    }
}
