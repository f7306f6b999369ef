//! Deleting resources: those that depend on others go first, one
//! dependency level at a time, each level with bounded concurrency.

use super::job::Job;
use super::progress::Op;
use super::{Applier, Outcome, addr, timeout_for};
use crate::address::block_of;
use crate::kinds;
use crate::plan::{Action, ResourceChange};
use crate::state::State;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

impl Applier<'_> {
    /// Deletes of one kind of change (`Replace`: their delete half), those
    /// that depend on others first. A resource still used by a block whose
    /// update failed (`held`) is left alone. Returns the blocks whose deletes
    /// failed or were skipped.
    pub(super) async fn deletes(
        &self,
        state: &mut State,
        out: &mut Outcome,
        stop: &Arc<AtomicBool>,
        action: Action,
        held: &BTreeSet<String>,
    ) -> BTreeSet<String> {
        let changes: Vec<&ResourceChange> = self.plan.changes.iter().filter(|c| c.action == action).collect();
        let leaving: BTreeSet<String> = changes.iter().map(|c| block_of(&c.address)).collect();
        // Blocks still used by a block that stays and failed to let go.
        let pinned: BTreeSet<String> = state
            .resources
            .iter()
            .filter(|(a, _)| held.contains(&a.block.to_string()) && !leaving.contains(&a.block.to_string()))
            .flat_map(|(_, r)| r.deps.iter().cloned())
            .collect();
        let mut groups: BTreeMap<String, Vec<&ResourceChange>> = BTreeMap::new();
        for c in &changes {
            groups.entry(block_of(&c.address)).or_default().push(c);
        }
        // Block X waits until every block that depends on X is gone.
        let mut waits: BTreeMap<String, BTreeSet<String>> =
            groups.keys().map(|k| (k.clone(), BTreeSet::new())).collect();
        for c in &changes {
            let me = block_of(&c.address);
            let deps = state.resources.get(&addr(&c.address)).map(|i| i.deps.clone()).unwrap_or_else(|| c.deps.clone());
            for d in deps {
                if d != me
                    && let Some(w) = waits.get_mut(&d)
                {
                    w.insert(me.clone());
                }
            }
        }
        let mut failed: BTreeSet<String> = BTreeSet::new();
        let mut done: BTreeSet<String> = BTreeSet::new();
        while done.len() < groups.len() {
            let ready: Vec<String> = groups
                .keys()
                .filter(|g| !done.contains(*g) && waits[*g].iter().all(|w| done.contains(w)))
                .cloned()
                .collect();
            if ready.is_empty() {
                break; // a cycle in recorded dependencies; leave the rest
            }
            let mut set = self.pool(stop);
            for g in &ready {
                done.insert(g.clone());
                if waits[g].iter().any(|w| failed.contains(w)) || pinned.contains(g) || stop.load(Ordering::SeqCst) {
                    failed.insert(g.clone());
                    out.skipped.extend(groups[g].iter().map(|c| c.address.clone()));
                    continue;
                }
                let configured = self.timeouts_of(g);
                for c in &groups[g] {
                    let a = addr(&c.address);
                    let Some(inst) = state.resources.get(&a) else { continue };
                    let Some(kind) = kinds::lookup(&inst.type_name) else {
                        out.failures.push(format!("{}: unknown resource type {}", c.address, inst.type_name));
                        failed.insert(g.clone());
                        continue;
                    };
                    let timeout = timeout_for(configured, Op::Delete, kind);
                    set.push(Job::removal(
                        a,
                        kind,
                        inst.clone(),
                        timeout,
                        self.secrets
                            .get(&c.address)
                            .cloned()
                            .unwrap_or_else(|| crate::load::secrets::same_user(self.secrets, state, inst)),
                    ));
                }
            }
            while let Some(r) = set.next().await {
                match r.result {
                    Ok(_) => {
                        state.resources.remove(&r.addr);
                        out.destroyed += 1;
                    }
                    Err(e) => {
                        out.failures.push(format!("{}: {}", r.addr, e.message));
                        failed.insert(r.addr.block.to_string());
                    }
                }
            }
            for a in set.abandoned() {
                failed.insert(block_of(&a));
                out.skipped.push(a);
            }
        }
        // Left over only when recorded dependencies form a cycle.
        for g in groups.keys().filter(|g| !done.contains(*g)) {
            failed.insert(g.clone());
            for c in &groups[g] {
                out.failures.push(format!(
                    "{}: not destroyed: the dependencies recorded in state form a cycle; remove one with `standby state rm` after deleting it by hand",
                    c.address
                ));
            }
        }
        failed
    }
}
