//! Reading import targets: one `read` per object by its id, no write. What
//! AWS reports goes into the (in-memory) state as an adopted record, so the
//! plan diffs the configuration against it like any managed resource.

use super::planner::{Options, PlanError};
use crate::aws::Aws;
use crate::diag::{Diagnostic, Diagnostics};
use crate::kinds::{self, Ctx};
use crate::load::Loaded;
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

/// Reads import targets with what the configuration says of them as the
/// kind's `prior` (known values only; standby's own settings carry over, a
/// secondary's global cluster is looked for): first those a kind reads by
/// id, then those whose read needs values that only the first imports make
/// known (a REST kind needs its domain's endpoint).
pub async fn read_all(
    loaded: &Loaded,
    state: &mut State,
    aws: &Arc<Aws>,
    targets: &[ImportTarget],
    opts: &Options,
) -> Result<Imported, PlanError> {
    let needs = |t: &ImportTarget| kinds::lookup(&t.type_name).is_some_and(|k| k.import_reads_configuration());
    let (later, now): (Vec<ImportTarget>, Vec<ImportTarget>) = targets.iter().cloned().partition(|t| needs(t));
    let given = configured(loaded, state, &now, opts, &BTreeMap::new())?;
    let mut imported = read(state, aws, &now, opts.parallelism, &loaded.secrets, &given).await?;
    if !later.is_empty() {
        let given = configured(loaded, state, &later, opts, &imported.importing)?;
        let more = read(state, aws, &later, opts.parallelism, &loaded.secrets, &given).await?;
        imported.importing.extend(more.importing);
        imported.generated.extend(more.generated);
    }
    Ok(imported)
}

/// The known planned values of each target, from a plan over the state.
fn configured(
    loaded: &Loaded,
    state: &State,
    targets: &[ImportTarget],
    opts: &Options,
    importing: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Attrs>, PlanError> {
    if targets.iter().all(|t| t.generate) {
        return Ok(BTreeMap::new());
    }
    // Every target counts as adopted here: what the configuration leaves
    // unset on one is as found, never a create's missing input.
    let mut adopting = importing.clone();
    adopting.extend(targets.iter().map(|t| (t.addr.to_string(), t.id.clone())));
    let opts = Options { importing: adopting, targets: Vec::new(), ..opts.clone() };
    // A help, not a requirement: problems are reported by the real plan,
    // after the reads (which name import problems more precisely).
    let Ok(plan) = super::planner::plan(loaded, state, Vec::new(), &opts) else { return Ok(BTreeMap::new()) };
    Ok(plan
        .changes
        .into_iter()
        .filter(|c| targets.iter().any(|t| t.addr.to_string() == c.address))
        .filter_map(|c| Some((c.address, c.after?.into_iter().filter(|(_, v)| !v.has_unknown()).collect())))
        .collect())
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
    configured: &BTreeMap<String, Attrs>,
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
                    diags.push(
                        at(format!(
                            "{} is already in state with id {:?}; this import names {:?}",
                            t.addr,
                            other.as_deref().unwrap_or("(none yet)"),
                            t.id
                        ))
                        .hint(format!("to adopt another object here, first `standby state rm {}`", t.addr)),
                    );
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
            let mut prior = configured.get(&t.addr.to_string()).cloned().unwrap_or_default();
            prior.extend(secrets.get(&t.addr.to_string()).cloned().unwrap_or_default());
            let aws = aws.clone();
            tasks.spawn(async move {
                let address = t.addr.to_string();
                let mut cx = Ctx::new(&address, &t.region, &aws, Duration::from_secs(300));
                cx.adopted = true;
                // Secrets AWS never returns are checked against the live
                // object (one authenticated read) where the kind can.
                let r = match kind.read(&cx, &t.id, &prior).await {
                    Ok(Some(attrs)) => match kind.verify_secrets(&cx, &prior, &attrs).await {
                        Ok(checked) => Ok(Some((attrs, checked))),
                        Err(e) => Err(e),
                    },
                    Ok(None) => Ok(None),
                    Err(e) => Err(e),
                };
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
        let (attrs, checked) = match r {
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
        let given = secrets.get(&t.addr.to_string());
        // A secret given for an adopted object is verified, never sent to
        // find out: the one in use is recorded (its hash) and not changed; a
        // wrong one stops the plan.
        let mut verified = BTreeMap::new();
        for (prop, ok) in checked {
            let Some(v) = given.and_then(|g| g.get(&prop)) else { continue };
            if ok {
                verified.insert(prop, state.hash(v));
            } else {
                diags.push(
                    at(format!(
                        "the `{prop}` given for {} `{}` is not the one it uses: one authenticated read with it was \
                         refused",
                        t.type_name, t.id
                    ))
                    .hint(format!(
                        "give the value in use (standby never changes a secret of an adopted resource to find out); \
                         to change it on purpose, first import with the one in use, then list `{prop}` in \
                         `allow_disruption` with the new value"
                    )),
                );
            }
        }
        // Secrets never reach state: those the kind echoes from `prior`,
        // and every property the schema marks sensitive.
        let kind = kinds::lookup(&t.type_name).expect("resolved kind");
        let hidden: BTreeSet<&str> = kind.schema().props.iter().filter(|p| p.sensitive).map(|p| p.name).collect();
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
                found: Some(attrs.clone()),
                attrs,
                sensitive: verified,
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
