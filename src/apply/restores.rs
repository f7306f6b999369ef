//! On destroy, adopted resources stay, and what standby changed on them
//! (the changes a destroy plan lists as updates: tags, log publishing) is
//! set back to what they had when imported. Run before the deletes, so a
//! domain publishes to its own log groups again before standby's go.

use super::job::{Change, Job};
use super::progress::Op;
use super::{Applier, Outcome, addr, timeout_for};
use crate::address::block_of;
use crate::kinds;
use crate::plan::Action;
use crate::state::State;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

impl Applier<'_> {
    /// Returns the blocks whose restore failed (what they use is kept).
    pub(super) async fn restores(
        &self,
        state: &mut State,
        out: &mut Outcome,
        stop: &Arc<AtomicBool>,
    ) -> BTreeSet<String> {
        let mut failed = BTreeSet::new();
        let mut set = self.pool(stop);
        for c in self.plan.changes.iter().filter(|c| c.action == Action::Update) {
            let a = addr(&c.address);
            let (Some(inst), Some(after)) = (state.resources.get(&a), &c.after) else { continue };
            let Some(kind) = kinds::lookup(&inst.type_name) else { continue };
            let mut props = after.clone();
            props.extend(self.secrets.get(&c.address).cloned().unwrap_or_default());
            set.push(Job::change(Change {
                addr: a,
                kind,
                op: Op::Update,
                prior: Some(inst.clone()),
                record: inst.clone(),
                planned: after.clone(),
                props,
                sensitive: BTreeSet::new(),
                changed: c.changed.clone(),
                timeout: timeout_for(self.timeouts_of(&block_of(&c.address)), Op::Update, kind),
                node: 0,
            }));
        }
        while let Some(r) = set.next().await {
            match r.result {
                Ok((inst, _)) => {
                    state.resources.insert(r.addr.clone(), inst);
                    out.changed += 1;
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
        failed
    }
}
