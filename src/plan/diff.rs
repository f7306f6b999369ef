//! Comparing what the configuration wants with what state holds.

use super::Action;
use crate::eval::Desired;
use crate::kinds::schema::Mode;
use crate::state::{Instance, State};
use crate::value::{Attrs, Value};
use std::collections::BTreeSet;

/// The outcome for one desired instance.
pub struct Diffed {
    pub action: Action,
    /// Planned attributes, sensitive ones included (for the scope only).
    pub planned: Attrs,
    pub sensitive: BTreeSet<String>,
    pub changed: BTreeSet<String>,
    pub replace_paths: Vec<String>,
    pub reason: Option<String>,
}

/// Sensitive attributes of a desired instance, including computed ones that
/// carry a sensitive input.
pub fn sensitive_set(d: &Desired) -> BTreeSet<String> {
    let mut s = d.sensitive.clone();
    for (from, to) in d.kind.sensitive_follows() {
        if d.sensitive.contains(*from) {
            s.insert(to.to_string());
        }
    }
    s
}

/// The properties to apply: as configured, merged on an adopted resource
/// with what production has that standby does not set ([`crate::kinds::Kind::merge_adopted`]).
pub fn props_for(d: &Desired, prior: Option<&Instance>) -> Attrs {
    let Some(prior) = prior.filter(|p| p.adopted) else { return d.props.clone() };
    d.props
        .iter()
        .map(|(k, want)| {
            let v = match prior.attrs.get(k) {
                Some(have) => d.kind.merge_adopted(k, want, have),
                _ => want.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// The properties a change sends: [`props_for`], with `unless_adopted`
/// resolved ([`crate::kinds::schema::resolve_unless_adopted`]), and off
/// production (the resource not adopted, nor the object it acts on) the
/// kind's defaults of what is unset
/// ([`crate::kinds::Kind::defaults_off_production`]).
pub fn props_to_apply(d: &Desired, prior: Option<&Instance>, state: &State) -> Attrs {
    let adopted = prior.is_some_and(|p| p.adopted);
    let mut props = crate::kinds::schema::resolve_unless_adopted(&props_for(d, prior), adopted);
    let production =
        adopted || d.kind.acts_on(&props).and_then(|t| super::planner::adopted_object(state, &t)).is_some();
    if !production {
        d.kind.defaults_off_production(&mut props);
    }
    props
}

pub fn diff(d: &Desired, prior: Option<&Instance>, state: &State) -> Diffed {
    diff_keeping(d, prior, state, &[])
}

/// [`diff`], with the sensitive inputs named in `absent` taken as unchanged
/// while their value is unknown and the state holds their hash: a drift job
/// not given a secret compares everything else, and what is computed from
/// such an input (a secret version's id) keeps its recorded value instead of
/// turning unknown downstream.
pub fn diff_keeping(d: &Desired, prior: Option<&Instance>, state: &State, absent: &[String]) -> Diffed {
    let schema = d.kind.schema();
    let mut planned = props_to_apply(d, prior, state);
    // Unset optional-computed inputs keep whatever AWS has ("as found"),
    // before the kind derives defaults for what is still unset.
    if let Some(prior) = prior {
        for p in schema.props.iter().filter(|p| p.mode == Mode::OptionalComputed) {
            if !planned.contains_key(p.name)
                && let Some(v) = prior.attrs.get(p.name)
            {
                planned.insert(p.name.to_string(), v.clone());
            }
        }
    }
    // What the state keeps as recorded (not inputs: what a create observed
    // first) is known to the kind's derivations.
    if let Some(prior) = prior {
        for k in d.kind.kept().iter().filter(|k| schema.get(k).is_none_or(|p| !p.is_input())) {
            if !planned.contains_key(*k)
                && let Some(v) = prior.attrs.get(*k)
            {
                planned.insert(k.to_string(), v.clone());
            }
        }
    }
    d.kind.derive(&mut planned);
    let sensitive = sensitive_set(d);
    let Some(prior) = prior else {
        for p in schema.props.iter().filter(|p| p.is_computed()) {
            planned.entry(p.name.to_string()).or_insert(Value::Unknown);
        }
        let changed = planned.keys().cloned().collect();
        return Diffed { action: Action::Create, planned, sensitive, changed, replace_paths: Vec::new(), reason: None };
    };
    let mut changed = BTreeSet::new();
    let mut replace_paths = Vec::new();
    if prior.region != d.region {
        changed.insert("region".to_string());
        replace_paths.push("region".to_string());
    }
    for p in schema.props {
        let name = p.name;
        let want = planned.get(name);
        // Unset optional-computed inputs keep whatever AWS chose.
        if p.mode == Mode::OptionalComputed && want.is_none() {
            if let Some(v) = prior.attrs.get(name) {
                planned.insert(name.to_string(), v.clone());
            }
            continue;
        }
        if p.mode == Mode::Computed && want.is_none() {
            continue;
        }
        let differs = if sensitive.contains(name) {
            let want = want.filter(|v| !v.is_null());
            match (want, prior.sensitive.get(name)) {
                (Some(w), Some(_)) if w.has_unknown() && absent.iter().any(|a| a == name) => false,
                (Some(w), _) if w.has_unknown() => true,
                (Some(w), Some(stored)) => !state.matches(w, stored),
                (None, None) => false,
                _ => true,
            }
        } else {
            let null = Value::Null;
            let a = d.kind.normalize(name, want.unwrap_or(&null));
            let b = d.kind.normalize(name, prior.attrs.get(name).unwrap_or(&null));
            a.has_unknown() || a != b
        };
        if differs {
            changed.insert(name.to_string());
            if p.force_new {
                replace_paths.push(name.to_string());
            }
        }
    }
    let action = if !replace_paths.is_empty() {
        Action::Replace
    } else if changed.iter().any(|c| schema.get(c).is_some_and(|p| p.is_input())) {
        Action::Update
    } else {
        Action::NoOp
    };
    // Computed attributes: unknown after a replace or when the update
    // changes them, else as before.
    let recomputed = if action == Action::Update { d.kind.unknown_after_update(&changed) } else { Vec::new() };
    for p in schema.props.iter().filter(|p| p.mode == Mode::Computed) {
        if planned.contains_key(p.name) {
            continue;
        }
        let v = if action == Action::Replace || recomputed.contains(&p.name) {
            Some(Value::Unknown)
        } else {
            prior.attrs.get(p.name).cloned()
        };
        if let Some(v) = v {
            planned.insert(p.name.to_string(), v);
        }
    }
    for name in recomputed {
        planned.insert(name.to_string(), Value::Unknown);
    }
    let reason = (action == Action::Replace).then(|| {
        let list: Vec<String> = replace_paths.iter().map(|p| format!("`{p}`")).collect();
        format!("{} forces replacement", list.join(", "))
    });
    Diffed { action, planned, sensitive, changed, replace_paths, reason }
}

/// Attributes in the form they are compared in, so plans show real
/// differences only (policy documents normalised, for instance).
pub fn normalized(kind: &dyn crate::kinds::Kind, attrs: &Attrs) -> Attrs {
    attrs.iter().map(|(k, v)| (k.clone(), kind.normalize(k, v))).collect()
}

/// Attributes without the sensitive ones, for plans and state.
pub fn redact(attrs: &Attrs, sensitive: &BTreeSet<String>) -> Attrs {
    attrs.iter().filter(|(k, _)| !sensitive.contains(*k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::{BlockAddr, Key};
    use crate::state::Status;

    fn desired(input: &str, trigger: &str) -> Desired {
        let mut props = Attrs::new();
        props.insert("input".into(), Value::str(input));
        props.insert("triggers_replace".into(), Value::str(trigger));
        Desired {
            addr: BlockAddr { module: vec![], type_name: "standby_data".into(), name: "x".into() }.instance(Key::None),
            node: 0,
            kind: crate::kinds::lookup("standby_data").unwrap(),
            region: "us-west-1".into(),
            props,
            sensitive: BTreeSet::new(),
            prop_locs: Default::default(),
            loc: crate::diag::Location { file: std::sync::Arc::new("m.yaml".into()), line: 1, col: 1 },
            prevent_destroy: false,
            timeouts: Default::default(),
            deps: vec![],
        }
    }

    fn prior(input: &str, trigger: &str) -> Instance {
        let mut attrs = Attrs::new();
        attrs.insert("input".into(), Value::str(input));
        attrs.insert("output".into(), Value::str(input));
        attrs.insert("triggers_replace".into(), Value::str(trigger));
        attrs.insert("id".into(), Value::str("abc"));
        Instance {
            type_name: "standby_data".into(),
            region: "us-west-1".into(),
            id: Some("abc".into()),
            status: Status::Ready,
            attrs,
            sensitive: Default::default(),
            deps: vec![],
            adopted: false,
            found: None,
        }
    }

    #[test]
    fn create_update_replace_and_no_op() {
        let st = State::new();
        let d = diff(&desired("a", "t"), None, &st);
        assert_eq!(d.action, Action::Create);
        assert_eq!(d.planned["id"], Value::Unknown);
        assert_eq!(diff(&desired("a", "t"), Some(&prior("a", "t")), &st).action, Action::NoOp);
        let u = diff(&desired("b", "t"), Some(&prior("a", "t")), &st);
        assert_eq!(u.action, Action::Update);
        assert_eq!(u.planned["id"], Value::str("abc"), "computed attributes survive an update");
        let r = diff(&desired("a", "u"), Some(&prior("a", "t")), &st);
        assert_eq!(r.action, Action::Replace);
        assert_eq!(r.replace_paths, vec!["triggers_replace".to_string()]);
        assert_eq!(r.planned["id"], Value::Unknown);
        let mut moved = prior("a", "t");
        moved.region = "us-east-1".into();
        assert_eq!(diff(&desired("a", "t"), Some(&moved), &st).replace_paths, vec!["region".to_string()]);
    }

    #[test]
    fn sensitive_values_compare_by_hash() {
        let st = State::new();
        let mut d = desired("secret", "t");
        d.sensitive.insert("input".into());
        let mut p = prior("ignored", "t");
        p.attrs.remove("input");
        p.attrs.remove("output");
        p.sensitive.insert("input".into(), st.hash(&Value::str("secret")));
        p.sensitive.insert("output".into(), st.hash(&Value::str("secret")));
        assert_eq!(diff(&d, Some(&p), &st).action, Action::NoOp);
        let mut d2 = desired("changed", "t");
        d2.sensitive.insert("input".into());
        assert_eq!(diff(&d2, Some(&p), &st).action, Action::Update);
    }
}
