//! Planning: refresh what state records, evaluate the configuration against
//! it, and describe every change. Planning never prints.

use super::diff::{normalized, redact};
use super::{Action, Importing, OnProduction, OutputChange, Plan, ResourceChange};
use crate::address::{InstanceAddr, Selector, block_of};
use crate::aws::Aws;
use crate::diag::{Diagnostic, Diagnostics};
use crate::eval::{Inst, NodeOut, Scope};
use crate::kinds::{self, Ctx};
use crate::load::Loaded;
use crate::state::{Instance, State, Status};
use crate::value::{Attrs, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Options {
    pub refresh: bool,
    pub destroy: bool,
    pub refresh_only: bool,
    pub targets: Vec<Selector>,
    pub parallelism: usize,
    /// Address → id of the objects this plan adopts (see [`super::imports`]).
    pub importing: BTreeMap<String, String>,
    /// Sensitive inputs left unknown on purpose (a drift job not given a
    /// sensitive variable), by address: unchanged while the state holds
    /// their hash ([`super::diff::diff_keeping`]).
    pub absent_secrets: BTreeMap<String, Vec<String>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            refresh: true,
            destroy: false,
            refresh_only: false,
            targets: Vec::new(),
            parallelism: 10,
            importing: BTreeMap::new(),
            absent_secrets: BTreeMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("refreshing state failed:\n{}", .0.join("\n"))]
    Refresh(Vec<String>),
}

/// What a refresh found: the drift, and warnings for the plan.
pub struct Refreshed {
    pub drift: Vec<ResourceChange>,
    pub warnings: Vec<Diagnostic>,
}

/// What a refresh found for one instance.
enum Seen {
    Same,
    Changed(Attrs),
    /// An interrupted create found by its natural key: its id and attributes.
    Found(String, Attrs),
    Gone,
}

/// Reads every instance in state from AWS (bounded concurrency) and updates
/// the in-memory state with what was observed. Returns the drift.
///
/// `secrets` (see [`Loaded::secrets`]) are added to what a kind's `read` gets
/// as `prior`: the only way to reach some resources, never recorded.
pub async fn refresh(
    state: &mut State,
    aws: &Arc<Aws>,
    parallelism: usize,
    secrets: &BTreeMap<String, Attrs>,
) -> Result<Refreshed, PlanError> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    let mut results = Vec::with_capacity(state.resources.len());
    let mut verified: Vec<(InstanceAddr, String, Option<String>)> = Vec::new();
    let salt = state.salt.clone();
    // At most `parallelism` reads in flight; the next starts as one ends.
    let mut pending = state.resources.iter();
    loop {
        while tasks.len() < parallelism.max(1) {
            let Some((addr, inst)) = pending.next() else { break };
            let Some(kind) = kinds::lookup(&inst.type_name) else {
                errors.push(format!("{addr}: unknown resource type `{}` in state", inst.type_name));
                continue;
            };
            let id = inst.id.clone().or_else(|| kind.id_hint(&inst.attrs));
            if id.is_none() && !kind.finds_by_natural_key() {
                // An interrupted create of something with no predictable id:
                // nothing to look up, so it is planned afresh. Unless the
                // kind lives only in state, it may exist in AWS unmanaged.
                if !kind.state_only() {
                    warnings.push(
                        Diagnostic::warning(format!(
                            "an apply stopped while creating it in {}, before AWS returned its id; if it was created, \
                             it is not managed: find it in the AWS console and delete it",
                            inst.region
                        ))
                        .address(addr.to_string()),
                    );
                }
                results.push((addr.clone(), Ok(Seen::Gone)));
                continue;
            }
            let (addr, inst, aws) = (addr.clone(), inst.clone(), aws.clone());
            let mut prior = inst.attrs.clone();
            let given = secrets.get(&addr.to_string()).cloned().unwrap_or_default();
            // Secrets handed to `read` (or echoed by a kind) never reach
            // state or drift.
            let hidden: BTreeSet<String> = inst.sensitive.keys().chain(given.keys()).cloned().collect();
            // A secret given for an adopted object whose hash the state does
            // not have (yet, or under another salt after a first apply was
            // killed) is checked against the object again, never sent to find out.
            let stale: Vec<(String, String)> = if inst.adopted {
                given
                    .iter()
                    .map(|(k, v)| (k.clone(), crate::ids::salted_hash(&salt, &v.to_json().to_string())))
                    .filter(|(k, h)| inst.sensitive.get(k) != Some(h))
                    .collect()
            } else {
                Vec::new()
            };
            prior.extend(given);
            tasks.spawn(async move {
                let address = addr.to_string();
                let mut cx = Ctx::new(&address, &inst.region, &aws, Duration::from_secs(300));
                cx.adopted = inst.adopted;
                // No id: the intent's natural key finds what the interrupted create made.
                let (id, found) = match id {
                    Some(id) => (id, false),
                    None => match kind.find(&cx, &prior).await {
                        Ok(Some(id)) => (id, true),
                        Ok(None) => return (addr, Ok(Seen::Gone), Vec::new()),
                        Err(e) => return (addr, Err(format!("{address}: {e}")), Vec::new()),
                    },
                };
                let read = kind.read(&cx, &id, &prior).await;
                let mut checked = Vec::new();
                if !stale.is_empty()
                    && let Ok(Some(now)) = &read
                    && let Ok(answers) = kind.verify_secrets(&cx, &prior, now).await
                {
                    for (prop, ok) in answers {
                        if let Some((_, h)) = stale.iter().find(|(k, _)| *k == prop) {
                            checked.push((prop, ok.then(|| h.clone())));
                        }
                    }
                }
                let seen = match read.map(|o| {
                    o.map(|mut a| {
                        a.retain(|k, _| !hidden.contains(k));
                        kinds::carry_kept(kind, &inst.attrs, &mut a);
                        a
                    })
                }) {
                    Ok(None) => Ok(Seen::Gone),
                    Ok(Some(attrs)) if found => Ok(Seen::Found(id, attrs)),
                    Ok(Some(attrs)) if attrs == inst.attrs && inst.status == Status::Ready => Ok(Seen::Same),
                    Ok(Some(attrs)) => Ok(Seen::Changed(attrs)),
                    Err(e) => Err(format!("{address}: {e}")),
                };
                (addr, seen, checked)
            });
        }
        match tasks.join_next().await {
            None => break,
            Some(Ok((addr, seen, checked))) => {
                verified.extend(checked.into_iter().map(|(p, h)| (addr.clone(), p, h)));
                results.push((addr, seen));
            }
            Some(Err(e)) => errors.push(format!("refresh task failed: {e}")),
        }
    }
    for (addr, prop, hash) in verified {
        match (hash, state.resources.get_mut(&addr)) {
            (Some(h), Some(inst)) => {
                inst.sensitive.insert(prop, h);
            }
            (None, Some(_)) => warnings.push(
                Diagnostic::warning(format!(
                    "the `{prop}` given is not the one this adopted resource uses (one authenticated read with it \
                     was refused)"
                ))
                .address(addr.to_string()),
            ),
            _ => {}
        }
    }
    let mut drift = Vec::new();
    for (addr, seen) in results {
        match seen {
            Err(e) => errors.push(e),
            Ok(Seen::Same) => {}
            Ok(Seen::Gone) => {
                if let Some(old) = state.resources.remove(&addr)
                    && old.status == Status::Ready
                {
                    drift.push(drift_change(&addr, &old, Action::Delete, None));
                }
            }
            Ok(Seen::Found(id, attrs)) => {
                if let Some(inst) = state.resources.get_mut(&addr) {
                    warnings.push(
                        Diagnostic::warning(format!(
                            "an apply stopped while creating it; found by its natural key as {id} and adopted"
                        ))
                        .address(addr.to_string()),
                    );
                    inst.id = Some(id);
                    inst.attrs = attrs;
                    inst.status = Status::Ready;
                }
            }
            Ok(Seen::Changed(attrs)) => {
                if let Some(inst) = state.resources.get_mut(&addr) {
                    let kind = kinds::lookup(&inst.type_name);
                    let differs = kind.is_some_and(|k| {
                        attrs.keys().chain(inst.attrs.keys()).any(|a| {
                            k.normalize(a, attrs.get(a).unwrap_or(&Value::Null))
                                != k.normalize(a, inst.attrs.get(a).unwrap_or(&Value::Null))
                        })
                    });
                    if differs && inst.status == Status::Ready {
                        drift.push(drift_change(&addr, inst, Action::Update, Some(attrs.clone())));
                    }
                    inst.attrs = attrs;
                    inst.status = Status::Ready;
                }
            }
        }
    }
    if !errors.is_empty() {
        errors.sort();
        return Err(PlanError::Refresh(errors));
    }
    drift.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(Refreshed { drift, warnings })
}

fn drift_change(addr: &InstanceAddr, old: &Instance, action: Action, after: Option<Attrs>) -> ResourceChange {
    // Shown in the form they are compared in, like the plan's own changes.
    let norm = |a: &Attrs| match kinds::lookup(&old.type_name) {
        Some(k) => super::diff::normalized(k, a),
        None => a.clone(),
    };
    let after = after.as_ref().map(norm);
    let before = norm(&old.attrs);
    let changed = match &after {
        Some(a) => a.keys().chain(before.keys()).filter(|k| a.get(*k) != before.get(*k)).cloned().collect(),
        None => BTreeSet::new(),
    };
    ResourceChange {
        address: addr.to_string(),
        module: crate::address::module_path(&addr.block.module),
        type_name: old.type_name.clone(),
        name: addr.block.name.clone(),
        index: addr.key.to_json(),
        region: old.region.clone(),
        action,
        reason: Some(if action == Action::Delete {
            "deleted outside standby".into()
        } else {
            "changed outside standby".into()
        }),
        id: old.id.clone(),
        before: Some(before),
        after,
        changed,
        sensitive: old.sensitive.keys().cloned().collect(),
        replace_paths: Vec::new(),
        deps: old.deps.clone(),
        importing: None,
        production: None,
    }
}

/// Makes a plan. `state` should already have been refreshed (see
/// [`refresh`]) unless the user turned refresh off.
pub fn plan(loaded: &Loaded, state: &State, drift: Vec<ResourceChange>, opts: &Options) -> Result<Plan, PlanError> {
    let mut plan = Plan {
        format_version: "1.0".into(),
        standby_version: env!("CARGO_PKG_VERSION").into(),
        // A state never written has no lineage yet; apply gives it one.
        lineage: if state.serial == 0 { String::new() } else { state.lineage.clone() },
        serial: state.serial,
        destroy: opts.destroy,
        refresh_only: opts.refresh_only,
        drift,
        warnings: loaded.warnings.clone(),
        targets: opts.targets.iter().map(selector_text).collect(),
        ..Plan::default()
    };
    // What AWS reports that a reader must know (a job that left objects behind).
    for (addr, inst) in &state.resources {
        if let Some(text) = kinds::lookup(&inst.type_name).and_then(|k| k.attention(&inst.attrs)) {
            plan.warnings.push(Diagnostic::warning(text).address(addr.to_string()));
        }
    }
    if opts.refresh_only {
        return Ok(plan);
    }
    let ev = loaded.evaluator();
    let mut scope = Scope::new(loaded.tree.modules.len());
    let mut diags = Diagnostics::default();
    let mut wanted: HashSet<InstanceAddr> = HashSet::new();
    let mut changes: BTreeMap<InstanceAddr, ResourceChange> = BTreeMap::new();
    let (protected, lifted) = protected_blocks(loaded);
    // On destroy, what the configuration still says of each instance (for
    // the kinds' delete checks), and where.
    type Declared = (Attrs, crate::diag::Location, BTreeMap<String, crate::diag::Location>);
    let mut declared: BTreeMap<InstanceAddr, Declared> = BTreeMap::new();
    // On destroy, what the configuration sets on each instance: destroy gives
    // back only that part of an adopted resource.
    let mut configured: BTreeMap<InstanceAddr, Attrs> = BTreeMap::new();
    for &id in &loaded.graph.order {
        let out = ev.eval_node(id, &mut scope).map_err(|d| PlanError::Invalid(d.sorted()))?;
        let NodeOut::Instances(exp, instances) = out else { continue };
        let mut block = BTreeMap::new();
        for d in instances {
            // A pending record (an interrupted create that no refresh settled) is
            // not known to exist: plan it as a create.
            let prior = state.resources.get(&d.addr).filter(|p| p.status == Status::Ready);
            let absent = opts.absent_secrets.get(&d.addr.to_string()).map_or(&[][..], Vec::as_slice);
            let diffed = super::diff::diff_keeping(&d, prior, state, absent);
            let action = if opts.destroy { Action::NoOp } else { diffed.action };
            if let (Action::Update, Some(p)) = (action, prior) {
                for problem in d.kind.check_update(&p.attrs, &diffed.planned) {
                    let loc = d.prop_locs.get(&problem.prop).cloned().unwrap_or_else(|| d.loc.clone());
                    if problem.warning {
                        plan.warnings
                            .push(Diagnostic::warning(problem.message).at(Some(loc)).address(d.addr.to_string()));
                    } else {
                        diags.push(Diagnostic::error(problem.message).at(Some(loc)).address(d.addr.to_string()));
                    }
                }
            }
            if opts.destroy {
                declared.insert(d.addr.clone(), (diffed.planned.clone(), d.loc.clone(), d.prop_locs.clone()));
                configured.insert(d.addr.clone(), d.props.clone());
            }
            unless_adopted_problems(&d, &mut diags);
            if matches!(action, Action::Create | Action::Replace) && !opts.importing.contains_key(&d.addr.to_string()) {
                create_needs(&d, &mut diags);
            }
            wanted.insert(d.addr.clone());
            let after = normalized(d.kind, &redact(&diffed.planned, &diffed.sensitive));
            let importing = opts.importing.get(&d.addr.to_string()).map(|id| Importing {
                id: id.clone(),
                unknown: d
                    .kind
                    .schema()
                    .props
                    .iter()
                    .filter(|p| p.sensitive && p.is_input() && !d.props.contains_key(p.name))
                    .map(|p| p.name.to_string())
                    .collect(),
            });
            if let Some(prior) = prior.filter(|p| p.adopted) {
                adoption_checks(loaded, &d, prior, &diffed, importing.is_some(), &mut diags);
            }
            changes.insert(
                d.addr.clone(),
                ResourceChange {
                    address: d.addr.to_string(),
                    module: crate::address::module_path(&d.addr.block.module),
                    type_name: d.kind.type_name().to_string(),
                    name: d.addr.block.name.clone(),
                    index: d.addr.key.to_json(),
                    region: d.region.clone(),
                    action,
                    reason: diffed.reason.clone(),
                    id: prior.and_then(|p| p.id.clone()),
                    before: prior.map(|p| normalized(d.kind, &p.attrs)),
                    after: Some(after),
                    changed: if action == Action::NoOp { BTreeSet::new() } else { diffed.changed.clone() },
                    sensitive: diffed.sensitive.clone(),
                    replace_paths: diffed.replace_paths.clone(),
                    deps: d.deps.iter().map(|b| b.to_string()).collect(),
                    importing,
                    production: None,
                },
            );
            block.insert(d.addr.key.clone(), Inst { attrs: diffed.planned, sensitive: diffed.sensitive });
        }
        ev.set_block(&mut scope, id, exp, block);
    }
    // Whatever state holds that the configuration no longer wants (or all
    // of it, for destroy) is deleted.
    for (addr, inst) in &state.resources {
        if wanted.contains(addr) && !opts.destroy {
            continue;
        }
        changes.insert(
            addr.clone(),
            ResourceChange {
                address: addr.to_string(),
                module: crate::address::module_path(&addr.block.module),
                type_name: inst.type_name.clone(),
                name: addr.block.name.clone(),
                index: addr.key.to_json(),
                region: inst.region.clone(),
                action: Action::Delete,
                reason: (!opts.destroy).then(|| delete_reason(loaded, addr)),
                id: inst.id.clone(),
                before: Some(inst.attrs.clone()),
                after: None,
                changed: BTreeSet::new(),
                sensitive: inst.sensitive.keys().cloned().collect(),
                replace_paths: Vec::new(),
                deps: inst.deps.clone(),
                importing: None,
                production: None,
            },
        );
    }
    let mut list: Vec<ResourceChange> = changes.into_values().collect();
    for (t, text) in opts.targets.iter().zip(&plan.targets) {
        let hit = list.iter().any(|c| crate::state::file::instance_addr(&c.address).is_some_and(|a| t.matches(&a)));
        if !hit {
            plan.warnings.push(Diagnostic::warning(format!(
                "--target {text} matches nothing in the configuration or the state"
            )));
        }
    }
    if !opts.targets.is_empty() {
        // Creating a target needs what it depends on; destroying one needs
        // what depends on it gone first.
        let deps =
            if opts.destroy { dependent_blocks(&list, &opts.targets) } else { dependency_blocks(&list, &opts.targets) };
        list.retain(|c| {
            let hit = crate::state::file::instance_addr(&c.address)
                .is_some_and(|a| opts.targets.iter().any(|t| t.matches(&a)));
            hit || deps.contains(&block_of(&c.address))
        });
    }
    // Adopted resources are protected unless their block says
    // `prevent_destroy: false`; destroy leaves them (in AWS and in state).
    let adopted = |c: &ResourceChange| {
        crate::state::file::instance_addr(&c.address).and_then(|a| state.resources.get(&a)).is_some_and(|r| r.adopted)
            && lifted.get(&block_of(&c.address)) != Some(&false)
    };
    let mut restores = Vec::new();
    if opts.destroy {
        let (kept, rest): (Vec<ResourceChange>, Vec<ResourceChange>) = list.into_iter().partition(|c| adopted(c));
        list = rest;
        for c in kept {
            let inst = crate::state::file::instance_addr(&c.address).and_then(|a| state.resources.get(&a));
            let configured = crate::state::file::instance_addr(&c.address).and_then(|a| configured.get(&a));
            restores.extend(inst.and_then(|i| restore_change(&c, i, configured)));
            if let Some(i) = inst.filter(|i| i.found.is_none())
                && let Some(kind) = kinds::lookup(&i.type_name).filter(|k| !k.restorable().is_empty())
            {
                let props: Vec<String> = kind.restorable().iter().map(|p| format!("`{p}`")).collect();
                plan.warnings.push(
                    Diagnostic::warning(format!(
                        "imported by an earlier standby, which did not record its settings as found: destroy cannot \
                         give back what standby changed in {} (they stay as they are now)",
                        props.join(", ")
                    ))
                    .address(c.address.clone()),
                );
            }
            plan.warnings.push(
                Diagnostic::warning(format!(
                    "adopted (imported, id {}): destroy leaves it in AWS and in the state; set \
                     `lifecycle: {{ prevent_destroy: false }}` on its block to let destroy delete it",
                    c.id.as_deref().unwrap_or("?")
                ))
                .address(c.address.clone()),
            );
        }
    }
    check_deletes(&mut list, &declared, &mut diags, &mut plan.warnings);
    list.extend(restores);
    list.sort_by(|a, b| a.address.cmp(&b.address));
    mark_production(&mut list, state);
    if opts.destroy {
        unrecorded(&list, state, &mut plan.warnings);
    }
    for c in list.iter().filter(|c| matches!(c.action, Action::Delete | Action::Replace)) {
        if adopted(c) && c.importing.is_none() && !protected.contains_key(&block_of(&c.address)) {
            let what = if c.action == Action::Replace { "replace" } else { "destroy" };
            let why = c.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default();
            let hint = if lifted.contains_key(&block_of(&c.address)) {
                "set `lifecycle: { prevent_destroy: false }` on its block to allow it"
            } else {
                "to stop managing it and leave it in AWS, run `standby state rm ADDR`"
            };
            diags.push(
                Diagnostic::error(format!("cannot {what} an adopted (imported) resource{why}"))
                    .address(c.address.clone())
                    .hint(hint),
            );
        }
        if let Some(loc) = protected.get(&block_of(&c.address)) {
            let what = if c.action == Action::Replace { "replace" } else { "destroy" };
            let why = c.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default();
            diags.push(
                Diagnostic::error(format!("cannot {what}: lifecycle.prevent_destroy is set{why}"))
                    .at(Some(loc.clone()))
                    .address(c.address.clone()),
            );
        }
    }
    if diags.has_errors() {
        return Err(PlanError::Invalid(diags.sorted()));
    }
    plan.warnings.extend(diags.sorted().0);
    plan.changes = list;
    plan.outputs = if opts.destroy { destroyed_outputs(state) } else { output_changes(&scope, state) };
    Ok(plan)
}

/// The kinds' delete checks (e.g. a policy delete that would lock clients
/// out), and what each delete or update does, added to its reason.
fn check_deletes(
    list: &mut [ResourceChange],
    declared: &BTreeMap<InstanceAddr, (Attrs, crate::diag::Location, BTreeMap<String, crate::diag::Location>)>,
    diags: &mut Diagnostics,
    warnings: &mut Vec<Diagnostic>,
) {
    let mut effects = Vec::new();
    {
        let deleted: Vec<(&str, &Attrs)> = list
            .iter()
            .filter(|c| c.action == Action::Delete)
            .filter_map(|c| Some((c.type_name.as_str(), c.before.as_ref()?)))
            .collect();
        for (i, c) in list.iter().enumerate().filter(|(_, c)| c.action == Action::Delete) {
            let (Some(kind), Some(before)) = (kinds::lookup(&c.type_name), c.before.as_ref()) else { continue };
            let conf = crate::state::file::instance_addr(&c.address).and_then(|a| declared.get(&a));
            for problem in kind.check_delete(before, conf.map(|(a, ..)| a), &deleted) {
                let loc = conf.map(|(_, loc, props)| props.get(&problem.prop).unwrap_or(loc).clone());
                if problem.warning {
                    warnings.push(Diagnostic::warning(problem.message).at(loc).address(c.address.clone()));
                } else {
                    diags.push(Diagnostic::error(problem.message).at(loc).address(c.address.clone()));
                }
            }
            if let Some(effect) = kind.delete_effect(before) {
                effects.push((i, effect));
            }
        }
    }
    // What updates do beyond their attributes (e.g. nodes replaced).
    for (i, c) in list.iter().enumerate().filter(|(_, c)| c.action == Action::Update) {
        let (Some(kind), Some(before), Some(after)) = (kinds::lookup(&c.type_name), &c.before, &c.after) else {
            continue;
        };
        if let Some(effect) = kind.update_effect(before, after, &c.changed) {
            effects.push((i, effect));
        }
    }
    for (i, effect) in effects {
        let c = &mut list[i];
        c.reason = Some(match c.reason.take() {
            Some(r) => format!("{r}; {effect}"),
            None => effect,
        });
    }
}

fn selector_text(s: &Selector) -> String {
    match s {
        Selector::Module(m) => crate::address::module_path(m),
        Selector::Block(b) => b.to_string(),
        Selector::Instance(i) => i.to_string(),
    }
}

/// The blocks the targets depend on, directly or not.
fn dependency_blocks(changes: &[ResourceChange], targets: &[Selector]) -> HashSet<String> {
    let deps_of: BTreeMap<String, Vec<String>> =
        changes.iter().map(|c| (block_of(&c.address), c.deps.clone())).collect();
    let mut stack: Vec<String> = Vec::new();
    for c in changes {
        if crate::state::file::instance_addr(&c.address).is_some_and(|a| targets.iter().any(|t| t.matches(&a))) {
            stack.extend(c.deps.iter().cloned());
        }
    }
    let mut keep = HashSet::new();
    while let Some(b) = stack.pop() {
        if keep.insert(b.clone())
            && let Some(deps) = deps_of.get(&b)
        {
            stack.extend(deps.iter().cloned());
        }
    }
    keep
}

/// The blocks that depend on the targets, directly or not.
fn dependent_blocks(changes: &[ResourceChange], targets: &[Selector]) -> HashSet<String> {
    let mut users: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for c in changes {
        for d in &c.deps {
            users.entry(d.as_str()).or_default().insert(block_of(&c.address));
        }
    }
    let mut stack: Vec<String> = changes
        .iter()
        .filter(|c| {
            crate::state::file::instance_addr(&c.address).is_some_and(|a| targets.iter().any(|t| t.matches(&a)))
        })
        .map(|c| block_of(&c.address))
        .collect();
    let mut keep = HashSet::new();
    while let Some(b) = stack.pop() {
        if let Some(u) = users.get(b.as_str()) {
            for user in u {
                if keep.insert(user.clone()) {
                    stack.push(user.clone());
                }
            }
        }
    }
    keep
}

/// Blocks with `prevent_destroy: true`, by address, and every block with
/// its `prevent_destroy` as written (`None` when not written).
type Protection = (BTreeMap<String, crate::diag::Location>, BTreeMap<String, bool>);

fn protected_blocks(loaded: &Loaded) -> Protection {
    let mut out = BTreeMap::new();
    let mut written = BTreeMap::new();
    for (id, _) in loaded.graph.nodes.iter().enumerate() {
        if let (Some(b), crate::graph::Node::Resource { module, index }) =
            (loaded.graph.block_addr(&loaded.tree, id), &loaded.graph.nodes[id])
        {
            let r = &loaded.tree.modules[*module].module.resources[*index];
            if r.prevent_destroy == Some(true) {
                out.insert(b.to_string(), r.name.loc.clone());
            }
            written.insert(b.to_string(), r.prevent_destroy.unwrap_or(true));
        }
    }
    (out, written)
}

/// Rules for a resource adopted from outside standby: an import never
/// replaces (each differing force-new property named with AWS's value),
/// and a change to something AWS never returns (a master password) warns
/// of its consequence for the running application.
fn adoption_checks(
    loaded: &Loaded,
    d: &crate::eval::Desired,
    prior: &Instance,
    diffed: &super::diff::Diffed,
    importing: bool,
    diags: &mut Diagnostics,
) {
    let addr = d.addr.to_string();
    let import_loc = loaded.imports.iter().find(|t| t.addr == d.addr).and_then(|t| t.loc.clone());
    if importing && diffed.action == Action::Replace {
        let shown = |v: Option<&Value>| v.map(|v| v.to_json().to_string()).unwrap_or_else(|| "(not set)".into());
        let list: Vec<String> = diffed
            .replace_paths
            .iter()
            .map(|p| {
                let want = if diffed.sensitive.contains(p) {
                    "(sensitive)".to_string()
                } else if p == "region" {
                    format!("{:?}", d.region)
                } else {
                    shown(diffed.planned.get(p))
                };
                let have = if p == "region" { format!("{:?}", prior.region) } else { shown(prior.attrs.get(p)) };
                format!("`{p}` is {have} in AWS but {want} in the configuration")
            })
            .collect();
        let loc = diffed.replace_paths.iter().find_map(|p| d.prop_locs.get(p).cloned()).or(import_loc.clone());
        diags.push(
            Diagnostic::error(format!(
                "cannot import {} {:?}: the configuration would replace it: {}",
                d.kind.type_name(),
                prior.id.as_deref().unwrap_or_default(),
                list.join("; ")
            ))
            .at(loc)
            .address(addr.clone())
            .hint("make the configuration match what AWS reports; standby never replaces an adopted resource"),
        );
    }
    for name in diffed.changed.iter().filter(|n| diffed.sensitive.contains(*n) && !prior.sensitive.contains_key(*n)) {
        if d.props.get(name).is_some_and(|v| !v.is_null()) {
            diags.push(
                Diagnostic::warning(format!(
                    "`{name}` is set in the configuration, but AWS never returns it for this adopted resource: \
                     apply will overwrite the value in use, and whatever uses the old one (the running \
                     application) stops working until it is given the new one"
                ))
                .at(d.prop_locs.get(name).cloned())
                .address(addr.clone()),
            );
        }
    }
    // A refusal the configuration accepts (`allow_disruption` lists the
    // property) goes ahead, said as a warning.
    let allowed: Vec<&str> = d
        .props
        .get(crate::kinds::schema::ALLOW_DISRUPTION)
        .and_then(Value::as_list)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for p in d.kind.adoption_checks(&prior.attrs, &diffed.planned, &diffed.changed, importing) {
        let diag = if p.warning {
            Diagnostic::warning(p.message)
        } else if allowed.contains(&p.prop.as_str()) {
            Diagnostic::warning(format!("accepted by allow_disruption: {}", p.message))
        } else {
            Diagnostic::error(p.message).hint(format!(
                "keep the value AWS reports (leave the property unset: \"as found\"), or accept the consequence \
                 with `allow_disruption: [{}]` on the resource",
                p.prop
            ))
        };
        diags.push(diag.at(d.prop_locs.get(&p.prop).cloned().or(import_loc.clone())).address(addr.clone()));
    }
}

/// `unless_adopted` names input properties of the kind, and holds no secret
/// (its values would be stored and shown in clear).
fn unless_adopted_problems(d: &crate::eval::Desired, diags: &mut Diagnostics) {
    use crate::kinds::schema::UNLESS_ADOPTED;
    let Some(Value::Map(given)) = d.props.get(UNLESS_ADOPTED) else { return };
    let loc = d.prop_locs.get(UNLESS_ADOPTED).cloned().or(Some(d.loc.clone()));
    if d.sensitive.contains(UNLESS_ADOPTED) {
        diags.push(
            Diagnostic::error(format!(
                "`{UNLESS_ADOPTED}` holds a sensitive value: give secrets as the property itself"
            ))
            .at(loc.clone())
            .address(d.addr.to_string()),
        );
    }
    let schema = d.kind.schema();
    for k in given.keys() {
        let ok = schema.get(k).is_some_and(|p| p.is_input() && !p.sensitive && p.name != UNLESS_ADOPTED);
        if !ok {
            diags.push(
                Diagnostic::error(format!(
                    "`{UNLESS_ADOPTED}` names `{k}`, which is not a (non-sensitive) property of {}",
                    d.kind.type_name()
                ))
                .at(loc.clone())
                .address(d.addr.to_string()),
            );
        }
    }
}

/// A create needs the properties AWS cannot do without, even those that
/// mean "as found" when unset on an existing resource.
fn create_needs(d: &crate::eval::Desired, diags: &mut Diagnostics) {
    let props = crate::kinds::schema::resolve_unless_adopted(&d.props, false);
    for p in d.kind.schema().props.iter().filter(|p| p.create_needs && props.get(p.name).is_none_or(Value::is_null)) {
        diags.push(
            Diagnostic::error(format!(
                "`{}` is needed to create it: unset (null) means \"as found\", which only an existing (adopted) \
                 resource has",
                p.name
            ))
            .at(Some(d.loc.clone()))
            .address(d.addr.to_string()),
        );
    }
    for p in d.kind.check_create(&props) {
        let loc = d.prop_locs.get(&p.prop).cloned().unwrap_or_else(|| d.loc.clone());
        let diag = if p.warning { Diagnostic::warning(p.message) } else { Diagnostic::error(p.message) };
        diags.push(diag.at(Some(loc)).address(d.addr.to_string()));
    }
}

/// On destroy, an adopted resource stays: what standby changed on it among
/// the properties its kind gives back ([`kinds::Kind::restorable`]) is set
/// back to what it was when imported. Only standby's part: the tags and log
/// types the configuration sets there; a tag production added or changed
/// since, or a log type it re-pointed, stays as it is now. (An instance the
/// configuration no longer declares gets its imported value back whole.)
fn restore_change(c: &ResourceChange, inst: &Instance, configured: Option<&Attrs>) -> Option<ResourceChange> {
    let kind = kinds::lookup(&inst.type_name)?;
    let found = inst.found.as_ref()?;
    let mut after = inst.attrs.clone();
    let mut changed = BTreeSet::new();
    for p in kind.restorable() {
        // Absent is empty: an update to it takes standby's away.
        let empty = match kind.schema().get(p).map(|s| s.ty) {
            Some(crate::kinds::schema::Type::Map(_)) => Value::Map(Default::default()),
            Some(crate::kinds::schema::Type::List(_)) => Value::List(Vec::new()),
            _ => Value::Null,
        };
        let now = kind.normalize(p, &inst.attrs.get(*p).cloned().unwrap_or_else(|| empty.clone()));
        let was = kind.normalize(p, &found.get(*p).cloned().unwrap_or_else(|| empty.clone()));
        if now == was {
            continue;
        }
        let back = match configured.map(|c| c.get(*p).cloned().unwrap_or(Value::Null)) {
            // Only what standby set there (the configuration's part of the
            // merge) goes back; what production changed since stays.
            Some(want) => {
                let set = kind.normalize(p, &kind.merge_adopted(p, &want, &was));
                match (keyed(&now), keyed(&was), keyed(&set)) {
                    (Some(mut n), Some(w), Some(s)) => {
                        for (k, v) in &s {
                            if w.get(k) == Some(v) {
                                continue;
                            }
                            match w.get(k) {
                                Some(old) => n.insert(k.clone(), old.clone()),
                                None => n.remove(k),
                            };
                        }
                        unkeyed(&now, n)
                    }
                    // Not a collection: standby's value replaced production's.
                    _ if set != was => was,
                    _ => now.clone(),
                }
            }
            // Not in the configuration any more: what it was when imported.
            None => was,
        };
        if kind.normalize(p, &back) == now {
            continue;
        }
        after.insert(p.to_string(), back);
        changed.insert(p.to_string());
    }
    if changed.is_empty() {
        return None;
    }
    let names: Vec<String> = changed.iter().map(|p| format!("`{p}`")).collect();
    Some(ResourceChange {
        action: Action::Update,
        reason: Some(format!("destroy gives back what standby changed there: {}", names.join(", "))),
        before: Some(super::diff::normalized(kind, &inst.attrs)),
        after: Some(super::diff::normalized(kind, &after)),
        changed,
        deps: inst.deps.clone(),
        ..c.clone()
    })
}

/// A restorable property as entries by key: a map (tags) by its keys, a
/// list of objects (log publishing) by their `log_type`.
fn keyed(v: &Value) -> Option<BTreeMap<String, Value>> {
    match v {
        Value::Map(m) => Some(m.clone()),
        Value::Null => Some(BTreeMap::new()),
        Value::List(items) => {
            items.iter().map(|e| Some((e.as_map()?.get("log_type")?.as_str()?.to_string(), e.clone()))).collect()
        }
        _ => None,
    }
}

/// The inverse of [`keyed`], in the shape of `like`.
fn unkeyed(like: &Value, entries: BTreeMap<String, Value>) -> Value {
    match like {
        Value::List(_) => Value::List(entries.into_values().collect()),
        _ => Value::Map(entries),
    }
}

/// On destroy, records made by an earlier standby on an adopted object,
/// without what production had before standby changed it (no `previous_*`):
/// destroy cannot give that back, and says so.
fn unrecorded(list: &[ResourceChange], state: &State, warnings: &mut Vec<Diagnostic>) {
    for c in list.iter().filter(|c| c.action == Action::Delete) {
        let Some(inst) = crate::state::file::instance_addr(&c.address).and_then(|a| state.resources.get(&a)) else {
            continue;
        };
        let Some(kind) = kinds::lookup(&inst.type_name) else { continue };
        if inst.adopted || c.action != Action::Delete {
            continue;
        }
        let Some(target) = kind.acts_on(&inst.attrs).and_then(|t| adopted_object(state, &t)) else { continue };
        let missing: Vec<String> = kind
            .kept()
            .iter()
            .filter(|k| k.starts_with("previous_") && !inst.attrs.contains_key(**k))
            .map(|k| format!("`{k}`"))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let text = format!(
            "made by an earlier standby, which did not record what {target} had before ({}): destroy cannot give it \
             back; {}",
            missing.join(", "),
            kind.delete_effect(&inst.attrs).unwrap_or_else(|| "it deletes it".into())
        );
        warnings.push(Diagnostic::warning(text).address(c.address.clone()));
    }
}

/// Marks every change made on production: to an adopted resource, or by a
/// resource that changes an adopted object ([`kinds::Kind::acts_on`]).
fn mark_production(list: &mut [ResourceChange], state: &State) {
    for c in list.iter_mut().filter(|c| c.action != Action::NoOp) {
        let Some(kind) = kinds::lookup(&c.type_name) else { continue };
        let own = crate::state::file::instance_addr(&c.address)
            .and_then(|a| state.resources.get(&a))
            .is_some_and(|r| r.adopted && c.action != Action::Delete);
        let target = if own {
            Some(c.address.clone())
        } else {
            c.after.as_ref().or(c.before.as_ref()).and_then(|p| kind.acts_on(p)).and_then(|t| adopted_object(state, &t))
        };
        let Some(target) = target else { continue };
        // The kind says what the change does there; nothing said: it changes
        // nothing on production (standby's own settings).
        let before = c.before.as_ref().filter(|_| c.action != Action::Create);
        let after = c.after.as_ref().filter(|_| c.action != Action::Delete);
        if let Some(effect) = kind.production_effect(before, after, &c.changed) {
            c.production = Some(OnProduction { target, effect });
        }
    }
}

/// The address of the adopted object a [`kinds::Target`] names.
pub(super) fn adopted_object(state: &State, t: &kinds::Target) -> Option<String> {
    state
        .resources
        .iter()
        .find(|(_, r)| {
            r.adopted && r.type_name == t.type_name && r.attrs.get(t.attr).and_then(Value::as_str) == Some(&t.value)
        })
        .map(|(a, _)| a.to_string())
}

fn delete_reason(loaded: &Loaded, addr: &InstanceAddr) -> String {
    let declared = loaded
        .graph
        .nodes
        .iter()
        .enumerate()
        .any(|(id, _)| loaded.graph.block_addr(&loaded.tree, id).as_ref() == Some(&addr.block));
    if declared {
        format!("index {} is no longer in count/for_each", addr.key.to_string().trim_matches(['[', ']']))
    } else {
        "no longer in the configuration".into()
    }
}

fn output_changes(scope: &Scope, state: &State) -> Vec<OutputChange> {
    let outputs = scope.root_outputs();
    let mut list = Vec::new();
    for (name, v) in &outputs {
        let prior = state.outputs.get(name);
        let unknown = v.value.has_unknown();
        let (after, same) = if v.sensitive {
            let same = !unknown && prior.and_then(|p| p.hash.as_ref()).is_some_and(|h| state.matches(&v.value, h));
            (None, same)
        } else {
            let j = (!unknown).then(|| v.value.to_json());
            let same = j.is_some() && prior.and_then(|p| p.value.as_ref()) == j.as_ref();
            (j, same)
        };
        let action = match (prior, same) {
            (None, _) => Action::Create,
            (Some(_), true) => Action::NoOp,
            (Some(_), false) => Action::Update,
        };
        list.push(OutputChange {
            name: name.clone(),
            action,
            before: prior.and_then(|p| p.value.clone()),
            after,
            after_unknown: unknown,
            sensitive: v.sensitive,
        });
    }
    list.extend(state.outputs.iter().filter(|(name, _)| !outputs.contains_key(*name)).map(removed_output));
    list.sort_by(|a, b| a.name.cmp(&b.name));
    list
}

fn removed_output((name, p): (&String, &crate::state::OutputState)) -> OutputChange {
    OutputChange {
        name: name.clone(),
        action: Action::Delete,
        before: p.value.clone(),
        after: None,
        after_unknown: false,
        sensitive: p.sensitive,
    }
}

fn destroyed_outputs(state: &State) -> Vec<OutputChange> {
    state.outputs.iter().map(removed_output).collect()
}
