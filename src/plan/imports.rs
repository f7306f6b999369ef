//! Reading import targets: one `read` per object by its id, no write. What
//! AWS reports goes into the (in-memory) state as an adopted record, so the
//! plan diffs the configuration against it like any managed resource.

use super::planner::PlanError;
use crate::aws::Aws;
use crate::diag::{Diagnostic, Diagnostics};
use crate::kinds::{self, Ctx};
use crate::load::imports::ImportTarget;
use crate::state::{Instance, State, Status};
use crate::value::Attrs;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// What reading the import targets found.
#[derive(Debug, Default)]
pub struct Imported {
    /// Address → id of every object this plan adopts (now in the state).
    pub importing: BTreeMap<String, String>,
    /// Targets without a resource block, with what AWS reports (for
    /// `--generate-config-out`); never put in the state.
    pub generated: Vec<(ImportTarget, Attrs)>,
}

/// Reads every import target not yet in state (bounded concurrency) and
/// records the adopted objects in `state`. An id AWS does not know, an
/// address already holding another object, or an object already managed
/// elsewhere is an error naming the address and the id.
pub async fn read(
    state: &mut State,
    aws: &Arc<Aws>,
    targets: &[ImportTarget],
    parallelism: usize,
    secrets: &BTreeMap<String, Attrs>,
) -> Result<Imported, PlanError> {
    let mut diags = Diagnostics::default();
    let mut todo = Vec::new();
    for t in targets {
        let at = |m: String| Diagnostic::error(m).at(t.loc.clone()).address(t.addr.to_string());
        if let Some(inst) = state.resources.get(&t.addr) {
            match &inst.id {
                // Already managed: the entry is a record of how it came.
                Some(id) if *id == t.id => continue,
                other => {
                    diags.push(at(format!(
                        "{} is already in state with id {:?}; this import names {:?}",
                        t.addr,
                        other.as_deref().unwrap_or("(none yet)"),
                        t.id
                    ))
                    .hint(format!("to adopt another object here, first `standby state rm {}`", t.addr)));
                    continue;
                }
            }
        }
        let managed = state.resources.iter().find(|(_, r)| {
            r.type_name == t.type_name && r.region == t.region && r.id.as_deref() == Some(t.id.as_str())
        });
        if let Some((other, _)) = managed {
            diags.push(at(format!(
                "{} `{}` is already managed at {other}: one object can be managed at one address only",
                t.type_name, t.id
            )));
            continue;
        }
        todo.push(t.clone());
    }
    let mut tasks = tokio::task::JoinSet::new();
    let mut pending = todo.into_iter();
    let mut done = Vec::new();
    loop {
        while tasks.len() < parallelism.max(1) {
            let Some(t) = pending.next() else { break };
            let Some(kind) = kinds::lookup(&t.type_name) else { continue };
            let (aws, prior) = (aws.clone(), secrets.get(&t.addr.to_string()).cloned().unwrap_or_default());
            tasks.spawn(async move {
                let address = t.addr.to_string();
                let cx = Ctx { address: &address, region: &t.region, aws: &aws, timeout: Duration::from_secs(300) };
                let r = kind.read(&cx, &t.id, &prior).await;
                (t, r)
            });
        }
        match tasks.join_next().await {
            None => break,
            Some(Ok(r)) => done.push(r),
            Some(Err(e)) => diags.push(Diagnostic::error(format!("import task failed: {e}"))),
        }
    }
    let mut out = Imported::default();
    done.sort_by(|a, b| a.0.addr.cmp(&b.0.addr));
    for (t, r) in done {
        let at = |m: String| Diagnostic::error(m).at(t.loc.clone()).address(t.addr.to_string());
        let attrs = match r {
            Err(e) => {
                diags.push(at(format!("cannot read {} `{}` to import it: {e}", t.type_name, t.id)));
                continue;
            }
            Ok(None) => {
                diags.push(at(format!("cannot import: no {} with id {:?} in {}", t.type_name, t.id, t.region)));
                continue;
            }
            Ok(Some(a)) => a,
        };
        // Secrets never reach state: those the kind echoes from `prior`,
        // and every property the schema marks sensitive.
        let kind = kinds::lookup(&t.type_name).expect("resolved kind");
        let hidden: BTreeSet<&str> = kind.schema().props.iter().filter(|p| p.sensitive).map(|p| p.name).collect();
        let given = secrets.get(&t.addr.to_string());
        let attrs: Attrs = attrs
            .into_iter()
            .filter(|(k, _)| !hidden.contains(k.as_str()) && !given.is_some_and(|g| g.contains_key(k)))
            .collect();
        if t.generate {
            out.generated.push((t, attrs));
            continue;
        }
        out.importing.insert(t.addr.to_string(), t.id.clone());
        state.resources.insert(
            t.addr.clone(),
            Instance {
                type_name: t.type_name.clone(),
                region: t.region.clone(),
                id: Some(t.id.clone()),
                status: Status::Ready,
                attrs,
                sensitive: BTreeMap::new(),
                deps: Vec::new(),
                adopted: true,
            },
        );
    }
    if diags.has_errors() {
        return Err(PlanError::Invalid(diags.sorted()));
    }
    Ok(out)
}
