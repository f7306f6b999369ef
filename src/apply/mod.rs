//! Applying a plan, in three steps: the delete half of replacements; then
//! creates and updates, walking the graph with bounded concurrency (on
//! destroy: giving adopted resources back what standby changed on them);
//! then deletes of what left the configuration. Deletes run in reverse
//! dependency order.
//!
//! Guarantees:
//! - Before a create is called, its intent is in the journal (status
//!   `pending`, with the id when the kind can predict it); after every
//!   finished operation, its result. A killed apply therefore leaves a state
//!   (plus journal) that knows everything it created.
//! - A failed resource fails its dependents (skipped, and named), while
//!   independent branches finish.
//! - Values only known after apply are evaluated when their dependencies are
//!   done, from what AWS reported.

mod deletes;
mod job;
mod pool;
pub mod progress;
mod restores;

use crate::address::{InstanceAddr, block_of};
use crate::aws::Aws;
use crate::eval::{Inst, NodeOut, Scope};
use crate::kinds;
use crate::load::Loaded;
use crate::plan::diff::{diff, redact};
use crate::plan::{Action, Plan, ResourceChange};
use crate::state::journal::Journal;
use crate::state::{Instance, OutputState, State, Status};
use job::Job;
use progress::{Op, Progress};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Outcome {
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    /// `address: message` for every failure.
    pub failures: Vec<String>,
    /// Addresses not attempted because something they need failed.
    pub skipped: Vec<String>,
    pub interrupted: bool,
}

pub struct Applier<'a> {
    pub loaded: Option<&'a Loaded>,
    /// Configured sensitive inputs by address (`Loaded::secrets`), for deletes.
    pub secrets: &'a BTreeMap<String, crate::value::Attrs>,
    pub plan: &'a Plan,
    pub aws: Arc<Aws>,
    pub journal: Arc<Journal>,
    pub progress: Arc<Progress>,
    pub parallelism: usize,
}

impl Applier<'_> {
    pub async fn run(&self, state: &mut State) -> Outcome {
        let mut out = Outcome::default();
        // The first interrupt (SIGINT, SIGTERM) starts nothing new; a second
        // ends at once with the lock released (see `crate::interrupt`).
        let graceful = {
            let progress = self.progress.clone();
            crate::interrupt::graceful(move || {
                progress.line(
                    "Interrupt received: waiting for running operations to finish, starting no new ones (interrupt \
                     again to stop at once)...",
                )
            })
        };
        let stop = graceful.flag();
        // Adopted objects are on record before anything else runs: an
        // import creates nothing, but a killed apply still keeps them.
        for c in self.plan.changes.iter().filter(|c| c.importing.is_some()) {
            let a = addr(&c.address);
            if let Some(inst) = state.resources.get(&a)
                && let Err(e) = self.journal.put(&a, inst).await
            {
                out.failures.push(format!("{}: cannot write the journal: {e}", c.address));
                return out;
            }
        }
        // Like Terraform: replaced resources go first (delete, then create);
        // resources leaving the configuration go last, once whatever used
        // them has been updated to let go.
        let no_blocks = BTreeSet::new();
        let failed_replaces = self.deletes(state, &mut out, &stop, Action::Replace, &no_blocks).await;
        let mut failed_blocks = BTreeSet::new();
        if let Some(loaded) = self.loaded {
            failed_blocks = self.creates_and_updates(loaded, state, &mut out, &stop, &failed_replaces).await;
        } else if self.plan.destroy {
            failed_blocks = self.restores(state, &mut out, &stop).await;
        }
        self.deletes(state, &mut out, &stop, Action::Delete, &failed_blocks).await;
        drop(graceful);
        out.interrupted = stop.load(Ordering::SeqCst);
        out.failures.sort();
        out.skipped.sort();
        out.skipped.dedup();
        out
    }

    pub(crate) fn pool(&self, stop: &Arc<AtomicBool>) -> pool::Pool {
        pool::Pool::new(self.parallelism, stop.clone(), self.aws.clone(), self.journal.clone(), self.progress.clone())
    }

    /// The block's configured timeouts, if it is still in the configuration.
    pub(crate) fn timeouts_of(&self, block: &str) -> Option<&crate::config::Timeouts> {
        let loaded = self.loaded?;
        loaded.graph.nodes.iter().enumerate().find_map(|(id, n)| match n {
            crate::graph::Node::Resource { module, index }
                if loaded.graph.block_addr(&loaded.tree, id).is_some_and(|b| b.to_string() == block) =>
            {
                Some(&loaded.tree.modules[*module].module.resources[*index].timeouts)
            }
            _ => None,
        })
    }
}

/// The time limit of an operation: the configured one, or the kind's default.
pub(crate) fn timeout_for(t: Option<&crate::config::Timeouts>, op: Op, kind: &dyn kinds::Kind) -> Duration {
    let chosen = t.and_then(|t| match op {
        Op::Create => t.create,
        Op::Update => t.update,
        Op::Delete => t.delete,
    });
    chosen.unwrap_or_else(|| kind.default_timeout())
}

impl Applier<'_> {
    /// Phase 2: walk the graph; evaluate each node when its dependencies are
    /// done, then create or update its instances.
    async fn creates_and_updates(
        &self,
        loaded: &Loaded,
        state: &mut State,
        out: &mut Outcome,
        stop: &Arc<AtomicBool>,
        failed_deletes: &BTreeSet<String>,
    ) -> BTreeSet<String> {
        let g = &loaded.graph;
        let mut failed_blocks = BTreeSet::new();
        let ev = loaded.evaluator();
        let mut scope = Scope::new(loaded.tree.modules.len());
        let changes: HashMap<&str, &ResourceChange> =
            self.plan.changes.iter().map(|c| (c.address.as_str(), c)).collect();
        let mut users: Vec<Vec<usize>> = vec![Vec::new(); g.nodes.len()];
        let mut waiting: Vec<usize> = g.deps.iter().map(Vec::len).collect();
        for (i, deps) in g.deps.iter().enumerate() {
            for &d in deps {
                users[d].push(i);
            }
        }
        let mut blocked: Vec<bool> = vec![false; g.nodes.len()];
        let mut ready: Vec<usize> = g.order.iter().copied().filter(|&i| waiting[i] == 0).collect();
        ready.reverse();
        struct Running {
            expansion: crate::eval::Expansion,
            left: usize,
            failed: bool,
            insts: BTreeMap<crate::address::Key, Inst>,
        }
        let mut running: HashMap<usize, Running> = HashMap::new();
        let mut set = self.pool(stop);
        // Nodes finished (or failed) whose dependents must be released.
        let mut finished: Vec<(usize, bool)> = Vec::new();
        loop {
            while let Some(id) = ready.pop() {
                let label = g.label(&loaded.tree, id);
                if blocked[id] || stop.load(Ordering::SeqCst) {
                    if matches!(g.nodes[id], crate::graph::Node::Resource { .. }) {
                        out.skipped.extend(
                            self.plan
                                .changes
                                .iter()
                                .filter(|c| {
                                    block_of(&c.address) == label
                                        && c.action != Action::NoOp
                                        && c.action != Action::Delete
                                })
                                .map(|c| c.address.clone()),
                        );
                    }
                    finished.push((id, true));
                    continue;
                }
                if failed_deletes.contains(&label) {
                    out.skipped.extend(
                        self.plan
                            .changes
                            .iter()
                            .filter(|c| block_of(&c.address) == label && c.action == Action::Replace)
                            .map(|c| c.address.clone()),
                    );
                    finished.push((id, true));
                    continue;
                }
                let instances = match ev.eval_node(id, &mut scope) {
                    Ok(NodeOut::Done) => {
                        finished.push((id, false));
                        continue;
                    }
                    Ok(NodeOut::Instances(exp, list)) => (exp, list),
                    Err(d) => {
                        for e in d.0 {
                            out.failures.push(e.to_string().trim_start_matches("Error: ").to_string());
                        }
                        finished.push((id, true));
                        continue;
                    }
                };
                let (expansion, list) = instances;
                let mut run = Running { expansion, left: 0, failed: false, insts: BTreeMap::new() };
                for d in list {
                    let address = d.addr.to_string();
                    // A pending record (an interrupted create that no refresh settled) is
                    // not known to exist: plan it as a create.
                    let prior = state.resources.get(&d.addr).filter(|p| p.status == Status::Ready);
                    let diffed = diff(&d, prior, state);
                    let action = changes.get(address.as_str()).map(|c| c.action);
                    let planned_after = changes.get(address.as_str()).and_then(|c| c.after.as_ref());
                    let now = crate::plan::diff::normalized(d.kind, &diffed.planned);
                    if let Some(msg) = inconsistent(planned_after, &now, &diffed.sensitive) {
                        out.failures.push(format!("{address}: {msg}"));
                        run.failed = true;
                        continue;
                    }
                    let op = match action {
                        Some(Action::Create | Action::Replace) => Some(Op::Create),
                        Some(Action::Update) if prior.is_some() => Some(Op::Update),
                        Some(Action::Update) => Some(Op::Create),
                        _ => None,
                    };
                    match op {
                        Some(op) => {
                            let (clear, hashes) = state.protect(&diffed.planned, &diffed.sensitive);
                            let record = Instance {
                                type_name: d.kind.type_name().to_string(),
                                region: d.region.clone(),
                                id: d.kind.id_hint(&d.props),
                                status: Status::Pending,
                                attrs: clear,
                                sensitive: hashes,
                                deps: d.deps.iter().map(|b| b.to_string()).collect(),
                                // An update keeps the fact that it was adopted,
                                // and what it was like when found.
                                adopted: op == Op::Update && prior.is_some_and(|p| p.adopted),
                                found: prior.filter(|_| op == Op::Update).and_then(|p| p.found.clone()),
                            };
                            run.left += 1;
                            set.push(Job::change(job::Change {
                                addr: d.addr.clone(),
                                kind: d.kind,
                                op,
                                prior: prior.cloned().filter(|_| op == Op::Update),
                                record,
                                planned: diffed.planned.clone(),
                                props: crate::plan::diff::props_to_apply(&d, prior, state),
                                sensitive: diffed.sensitive.clone(),
                                changed: diffed.changed.clone(),
                                timeout: timeout_for(Some(&d.timeouts), op, d.kind),
                                node: id,
                            }));
                        }
                        _ => {
                            // Unchanged (or outside --target): known from state.
                            let attrs = match prior {
                                Some(p) => {
                                    let mut a = p.attrs.clone();
                                    for s in &diffed.sensitive {
                                        if let Some(v) = diffed.planned.get(s) {
                                            a.insert(s.clone(), v.clone());
                                        }
                                    }
                                    d.kind.derive(&mut a);
                                    a
                                }
                                None => diffed.planned.clone(),
                            };
                            run.insts.insert(d.addr.key.clone(), Inst { attrs, sensitive: diffed.sensitive });
                            // Dependencies follow the configuration even when
                            // nothing else changes, so destroy orders right.
                            let deps: Vec<String> = d.deps.iter().map(|b| b.to_string()).collect();
                            if let Some(p) = state.resources.get_mut(&d.addr)
                                && p.deps != deps
                            {
                                p.deps = deps;
                            }
                        }
                    }
                }
                if run.left == 0 {
                    let failed = run.failed;
                    ev.set_block(&mut scope, id, run.expansion, std::mem::take(&mut run.insts));
                    finished.push((id, failed));
                } else {
                    running.insert(id, run);
                }
            }
            // Release dependents of finished nodes.
            if !finished.is_empty() {
                for (id, failed) in finished.drain(..) {
                    if failed && let Some(b) = g.block_addr(&loaded.tree, id) {
                        failed_blocks.insert(b.to_string());
                    }
                    for &u in &users[id] {
                        blocked[u] |= failed;
                        waiting[u] -= 1;
                        if waiting[u] == 0 {
                            ready.push(u);
                        }
                    }
                }
                continue;
            }
            let Some(r) = set.next().await else {
                out.skipped.extend(set.abandoned());
                break;
            };
            let node = r.node.unwrap_or_default();
            let Some(run) = running.get_mut(&node) else { continue };
            run.left -= 1;
            match r.result {
                Ok((observed, sensitive_values)) => {
                    let mut attrs = observed.attrs.clone();
                    attrs.extend(sensitive_values);
                    run.insts.insert(
                        r.addr.block.instance(r.addr.key.clone()).key,
                        Inst { attrs, sensitive: r.sensitive.clone() },
                    );
                    state.resources.insert(r.addr.clone(), observed);
                    match r.op {
                        Op::Create => out.added += 1,
                        _ => out.changed += 1,
                    }
                }
                Err(e) => {
                    out.failures.push(format!("{}: {}", r.addr, e.message));
                    run.failed = true;
                    match e.keep {
                        Some(inst) => {
                            state.resources.insert(r.addr.clone(), inst);
                        }
                        None => {
                            if r.op == Op::Create {
                                state.resources.remove(&r.addr);
                            }
                        }
                    }
                }
            }
            if run.left == 0 {
                let run = running.remove(&node).expect("running node");
                ev.set_block(&mut scope, node, run.expansion, run.insts);
                finished.push((node, run.failed));
            }
        }
        // Outputs that could be evaluated are recorded.
        for (name, v) in scope.root_outputs() {
            let o = if v.sensitive {
                OutputState {
                    value: None,
                    sensitive: true,
                    hash: (!v.value.has_unknown()).then(|| state.hash(&v.value)),
                }
            } else {
                OutputState { value: Some(v.value.to_json()), sensitive: false, hash: None }
            };
            state.outputs.insert(name, o);
        }
        let declared: BTreeSet<&str> = loaded.tree.root().outputs.iter().map(|o| o.name.name.as_str()).collect();
        state.outputs.retain(|k, _| declared.contains(k.as_str()));
        failed_blocks
    }
}

fn addr(text: &str) -> InstanceAddr {
    crate::state::file::instance_addr(text).unwrap_or_else(|| {
        crate::address::BlockAddr { module: vec![], type_name: String::new(), name: text.into() }
            .instance(crate::address::Key::None)
    })
}

/// A value the plan showed as known must not change by apply time.
fn inconsistent(
    planned: Option<&crate::value::Attrs>,
    now: &crate::value::Attrs,
    sensitive: &BTreeSet<String>,
) -> Option<String> {
    let planned = planned?;
    let now = redact(now, sensitive);
    for (k, v) in planned {
        if v.has_unknown() {
            continue;
        }
        if let Some(n) = now.get(k)
            && !n.has_unknown()
            && n != v
        {
            return Some(format!(
                "`{k}` is now {n}, but the plan said {v}: the configuration or its inputs changed since planning; plan again"
            ));
        }
    }
    None
}
