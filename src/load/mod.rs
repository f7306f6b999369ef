//! Loading a configuration directory into everything planning needs, and
//! checking it fully before any API call.

pub mod active;
pub mod imports;
pub mod secrets;

use crate::config::{ModuleTree, load_tree};
use crate::diag::{Diagnostic, Diagnostics};
use crate::eval::vars::{self, VarInputs};
use crate::eval::{Desired, Evaluator, Inst, NodeOut, Scope};
use crate::graph::{self, Graph};
use crate::kinds::PlanView;
use crate::value::{Attrs, Value};
use std::collections::BTreeMap;
use std::path::Path;

pub struct Loaded {
    pub tree: ModuleTree,
    pub graph: Graph,
    pub vars: BTreeMap<String, Value>,
    /// Warnings found while checking (errors stop loading).
    pub warnings: Vec<Diagnostic>,
    /// Sensitive inputs known before apply (from variables), by instance
    /// address. Never stored: handed to a kind's `read` and `delete` (in
    /// `prior`) when it needs them to reach the resource at all, e.g. the
    /// OpenSearch master password for the replication plugin's REST API.
    pub secrets: BTreeMap<String, Attrs>,
    /// Root-module `imports:`, resolved.
    pub imports: Vec<imports::ImportTarget>,
    /// Every configured instance: address → (type, AWS region).
    pub instances: BTreeMap<String, (String, String)>,
    /// Sensitive inputs whose value is not known (a sensitive variable
    /// `drift` was not given), by instance address: what cannot be compared.
    pub unknown_secrets: BTreeMap<String, Vec<String>>,
}

impl Loaded {
    pub fn evaluator(&self) -> Evaluator<'_> {
        Evaluator::new(&self.tree, &self.graph, self.vars.clone()).0
    }
}

/// Loads and checks a configuration: syntax, names, references, cycles,
/// types, per-kind rules and rules across resources. Every problem is
/// reported at once.
pub fn load(dir: &Path, inputs: &VarInputs) -> Result<Loaded, Diagnostics> {
    load_with(dir, inputs, false)
}

/// [`load`], allowing import targets that have no resource block yet
/// (`plan --generate-config-out`).
pub fn load_with(dir: &Path, inputs: &VarInputs, generate: bool) -> Result<Loaded, Diagnostics> {
    let (tree, mut diags) = load_tree(dir);
    if tree.unparsed > 0 {
        return Err(diags.sorted());
    }
    let (graph, gdiags) = graph::build(&tree);
    diags.extend(gdiags);
    let (vars, vdiags) = vars::resolve(tree.root(), inputs);
    diags.extend(vdiags);
    diags.extend(active::check(tree.root(), &vars));
    let (_, ediags) = Evaluator::new(&tree, &graph, vars.clone());
    diags.extend(ediags);
    if diags.has_errors() {
        return Err(diags.sorted());
    }
    let loaded = Loaded {
        tree,
        graph,
        vars,
        warnings: Vec::new(),
        secrets: BTreeMap::new(),
        imports: Vec::new(),
        instances: BTreeMap::new(),
        unknown_secrets: BTreeMap::new(),
    };
    let (checked, DryRun { secrets, imports, instances, unknown_secrets }) = dry_run(&loaded, generate);
    diags.extend(checked);
    if diags.has_errors() {
        return Err(diags.sorted());
    }
    Ok(Loaded { warnings: diags.sorted().0, secrets, imports, instances, unknown_secrets, ..loaded })
}

struct Planned {
    by_type: BTreeMap<&'static str, Vec<(String, Attrs)>>,
    regions: BTreeMap<String, String>,
}

impl PlanView for Planned {
    fn instances_of(&self, type_name: &str) -> Vec<(String, &Attrs)> {
        self.by_type.get(type_name).map(|v| v.iter().map(|(a, x)| (a.clone(), x)).collect()).unwrap_or_default()
    }

    fn region_of(&self, address: &str) -> Option<&str> {
        self.regions.get(address).map(String::as_str)
    }
}

/// The planned view, as seen by one instance's checks.
struct Current<'a> {
    view: &'a Planned,
    addr: &'a str,
}

impl PlanView for Current<'_> {
    fn instances_of(&self, type_name: &str) -> Vec<(String, &Attrs)> {
        self.view.instances_of(type_name)
    }

    fn region_of(&self, address: &str) -> Option<&str> {
        self.view.region_of(address)
    }

    fn current(&self) -> Option<&str> {
        Some(self.addr)
    }
}

/// The root module's variables with their defaults applied (a default may
/// refer to other variables and regions), e.g. the `prefix` every name
/// starts with.
pub fn root_variables(loaded: &Loaded) -> BTreeMap<String, Value> {
    let ev = loaded.evaluator();
    let mut scope = Scope::new(loaded.tree.modules.len());
    for &id in &loaded.graph.order {
        if matches!(&loaded.graph.nodes[id], graph::Node::Var { module: 0, .. }) {
            let _ = ev.eval_node(id, &mut scope);
        }
    }
    scope.root_vars().into_iter().map(|(k, v)| (k, v.value)).collect()
}

/// The variables of the module called at `path` (e.g. `["app_secondary"]`)
/// as the configuration gives them on `state`, computed values as recorded,
/// without calling AWS; sensitive ones left out. `None`: no such module.
pub fn module_inputs(loaded: &Loaded, state: &crate::state::State, path: &[String]) -> Option<BTreeMap<String, Value>> {
    let idx = loaded.tree.modules.iter().position(|m| m.path == path)?;
    let ev = loaded.evaluator();
    let mut scope = Scope::new(loaded.tree.modules.len());
    for &id in &loaded.graph.order {
        if let Ok(NodeOut::Instances(exp, instances)) = ev.eval_node(id, &mut scope) {
            let mut block = BTreeMap::new();
            for d in instances {
                let prior = state.resources.get(&d.addr).filter(|p| p.status == crate::state::Status::Ready);
                let diffed = crate::plan::diff::diff(&d, prior, state);
                block.insert(d.addr.key.clone(), Inst { attrs: diffed.planned, sensitive: diffed.sensitive });
            }
            ev.set_block(&mut scope, id, exp, block);
        }
    }
    Some(scope.module_vars(idx).into_iter().filter(|(_, v)| !v.sensitive).map(|(k, v)| (k, v.value)).collect())
}

/// Evaluates every resource instance as if creating from scratch (computed
/// values unknown): each one as configured, with its planned attributes.
pub fn instances(loaded: &Loaded) -> (Vec<(Desired, Attrs)>, Diagnostics) {
    let ev = loaded.evaluator();
    let mut scope = Scope::new(loaded.tree.modules.len());
    let mut diags = Diagnostics::default();
    let mut all = Vec::new();
    let blank = crate::state::State::new();
    let mut failed = vec![false; loaded.graph.nodes.len()];
    for &id in &loaded.graph.order {
        // Dependents of a failed node would only repeat its error.
        if loaded.graph.deps[id].iter().any(|&d| failed[d]) {
            failed[id] = true;
            continue;
        }
        match ev.eval_node(id, &mut scope) {
            Ok(NodeOut::Done) => {}
            Ok(NodeOut::Instances(exp, instances)) => {
                let mut block = BTreeMap::new();
                for d in instances {
                    let diffed = crate::plan::diff::diff(&d, None, &blank);
                    block.insert(
                        d.addr.key.clone(),
                        Inst { attrs: diffed.planned.clone(), sensitive: diffed.sensitive },
                    );
                    all.push((d, diffed.planned));
                }
                ev.set_block(&mut scope, id, exp, block);
            }
            Err(d) => {
                failed[id] = true;
                diags.extend(d);
            }
        }
    }
    if !diags.has_errors() {
        diags.extend(ev.eval_checks(&scope));
    }
    (all, diags)
}

/// Evaluates everything as if creating from scratch (computed values
/// unknown), so type errors and cross-resource rules surface before any call.
#[derive(Default)]
struct DryRun {
    secrets: BTreeMap<String, Attrs>,
    imports: Vec<imports::ImportTarget>,
    instances: BTreeMap<String, (String, String)>,
    unknown_secrets: BTreeMap<String, Vec<String>>,
}

fn dry_run(loaded: &Loaded, generate: bool) -> (Diagnostics, DryRun) {
    let (mut all, mut diags) = instances(loaded);
    if diags.has_errors() {
        return (diags, DryRun::default());
    }
    let ev = loaded.evaluator();
    let desired: Vec<&Desired> = all.iter().map(|(d, _)| d).collect();
    let imports = imports::resolve(&ev, &desired, generate, &mut diags);
    // An object to adopt is not created: what the configuration leaves
    // unset is as found, unknown until the import reads it.
    for (d, planned) in all.iter_mut().filter(|(d, _)| imports.iter().any(|t| t.addr == d.addr)) {
        for p in d.kind.schema().props.iter().filter(|p| p.mode == crate::kinds::schema::Mode::OptionalComputed) {
            if !d.props.contains_key(p.name) {
                planned.insert(p.name.to_string(), crate::value::Value::Unknown);
            }
        }
    }
    let mut view = Planned { by_type: BTreeMap::new(), regions: BTreeMap::new() };
    let mut secrets = BTreeMap::new();
    let mut unknown_secrets = BTreeMap::new();
    for (d, planned) in &all {
        view.by_type.entry(d.kind.type_name()).or_default().push((d.addr.to_string(), planned.clone()));
        view.regions.insert(d.addr.to_string(), d.region.clone());
        let known: Attrs = d
            .props
            .iter()
            .filter(|(k, v)| d.sensitive.contains(*k) && !v.has_unknown() && !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !known.is_empty() {
            secrets.insert(d.addr.to_string(), known);
        }
        let unknown: Vec<String> = d
            .props
            .iter()
            .filter(|(k, v)| d.sensitive.contains(*k) && v.has_unknown())
            .map(|(k, _)| k.clone())
            .collect();
        if !unknown.is_empty() {
            unknown_secrets.insert(d.addr.to_string(), unknown);
        }
    }
    for (d, planned) in &all {
        let addr = d.addr.to_string();
        let view = Current { view: &view, addr: &addr };
        for problem in d.kind.check_plan(planned, &view) {
            let diag =
                if problem.warning { Diagnostic::warning(problem.message) } else { Diagnostic::error(problem.message) };
            diags.push(
                diag.at(Some(d.prop_locs.get(&problem.prop).cloned().unwrap_or_else(|| d.loc.clone())))
                    .address(d.addr.to_string()),
            );
        }
        for problem in d.kind.validate(&d.props).into_iter().filter(|p| p.warning) {
            diags.push(
                Diagnostic::warning(problem.message)
                    .at(Some(d.prop_locs.get(&problem.prop).cloned().unwrap_or_else(|| d.loc.clone())))
                    .address(d.addr.to_string()),
            );
        }
    }
    let instances =
        all.iter().map(|(d, _)| (d.addr.to_string(), (d.kind.type_name().to_string(), d.region.clone()))).collect();
    (diags, DryRun { secrets, imports, instances, unknown_secrets })
}
