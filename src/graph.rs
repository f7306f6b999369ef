//! The dependency graph of a configuration: resource blocks, module
//! variables and outputs as nodes, references and `depends_on` as edges.
//!
//! Building it resolves every reference (reporting the undefined ones with
//! their location) and finds cycles; the result is a topological order that
//! both planning and applying walk.

use crate::address::BlockAddr;
use crate::config::{Expr, ModuleTree, Named};
use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::expr::Root;
use std::collections::{BTreeSet, HashMap};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// A `resources:` entry of a module.
    Resource { module: usize, index: usize },
    /// A module variable (its value comes from the call's `inputs`).
    Var { module: usize, name: String },
    /// A module output.
    Output { module: usize, index: usize },
}

#[derive(Debug, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    /// Direct dependencies of each node.
    pub deps: Vec<Vec<usize>>,
    /// Every node, dependencies first.
    pub order: Vec<usize>,
    /// The resource nodes each node depends on, directly or through variables and outputs.
    pub resource_deps: Vec<Vec<usize>>,
    index: HashMap<Node, usize>,
}

impl Graph {
    pub fn id(&self, node: &Node) -> Option<usize> {
        self.index.get(node).copied()
    }

    fn add(&mut self, node: Node) -> usize {
        if let Some(&i) = self.index.get(&node) {
            return i;
        }
        self.nodes.push(node.clone());
        self.deps.push(Vec::new());
        self.index.insert(node, self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    /// The block address of a resource node.
    pub fn block_addr(&self, tree: &ModuleTree, id: usize) -> Option<BlockAddr> {
        match &self.nodes[id] {
            Node::Resource { module, index } => {
                let r = &tree.modules[*module].module.resources[*index];
                Some(BlockAddr {
                    module: tree.modules[*module].path.clone(),
                    type_name: r.type_name.name.clone(),
                    name: r.name.name.clone(),
                })
            }
            _ => None,
        }
    }

    /// A readable name for any node.
    pub fn label(&self, tree: &ModuleTree, id: usize) -> String {
        let prefix = |m: usize| {
            let p = crate::address::module_path(&tree.modules[m].path);
            if p.is_empty() { p } else { p + "." }
        };
        match &self.nodes[id] {
            Node::Resource { .. } => self.block_addr(tree, id).map(|b| b.to_string()).unwrap_or_default(),
            Node::Var { module, name } => format!("{}var.{name}", prefix(*module)),
            Node::Output { module, index } => {
                format!("{}output.{}", prefix(*module), tree.modules[*module].module.outputs[*index].name.name)
            }
        }
    }

    fn loc(&self, tree: &ModuleTree, id: usize) -> Location {
        match &self.nodes[id] {
            Node::Resource { module, index } => tree.modules[*module].module.resources[*index].name.loc.clone(),
            Node::Var { module, name } => {
                let m = &tree.modules[*module];
                match m.parent {
                    Some((p, c)) => tree.modules[p].module.modules[c]
                        .inputs
                        .iter()
                        .find(|(n, _)| &n.name == name)
                        .map(|(n, _)| n.loc.clone())
                        .unwrap_or_else(|| tree.modules[p].module.modules[c].name.loc.clone()),
                    None => m.module.variable(name).map(|v| v.name.loc.clone()).unwrap_or_else(dummy_loc),
                }
            }
            Node::Output { module, index } => tree.modules[*module].module.outputs[*index].name.loc.clone(),
        }
    }

    /// The graph in Graphviz DOT.
    pub fn to_dot(&self, tree: &ModuleTree) -> String {
        let mut out = String::from("digraph standby {\n  rankdir = \"RL\";\n  node [shape = rect];\n");
        for &id in &self.order {
            out.push_str(&format!("  \"{}\";\n", self.label(tree, id)));
        }
        for &id in &self.order {
            for &d in &self.deps[id] {
                out.push_str(&format!("  \"{}\" -> \"{}\";\n", self.label(tree, id), self.label(tree, d)));
            }
        }
        out.push_str("}\n");
        out
    }
}

fn dummy_loc() -> Location {
    Location { file: std::sync::Arc::new("<input>".into()), line: 1, col: 1 }
}

/// What `count.index` / `each.*` may be used in.
#[derive(Clone, Copy)]
struct Ctx {
    count: bool,
    each: bool,
}

pub fn build(tree: &ModuleTree) -> (Graph, Diagnostics) {
    let mut g = Graph::default();
    let mut diags = Diagnostics::default();
    // Nodes first, so references can find them in any order.
    for (mi, m) in tree.modules.iter().enumerate() {
        for ri in 0..m.module.resources.len() {
            g.add(Node::Resource { module: mi, index: ri });
        }
        for v in &m.module.variables {
            g.add(Node::Var { module: mi, name: v.name.name.clone() });
        }
        for oi in 0..m.module.outputs.len() {
            g.add(Node::Output { module: mi, index: oi });
        }
    }
    for (mi, m) in tree.modules.iter().enumerate() {
        for (ri, r) in m.module.resources.iter().enumerate() {
            let me = g.id(&Node::Resource { module: mi, index: ri }).unwrap_or_default();
            let addr = format!("{}{}.{}", prefix(tree, mi), r.type_name.name, r.name.name);
            let ctx = Ctx { count: r.count.is_some(), each: r.for_each.is_some() };
            let top = Ctx { count: false, each: false };
            for e in r.count.iter().chain(r.for_each.iter()) {
                refs(tree, &mut g, &mut diags, mi, me, e, top, &addr);
            }
            for (_, e) in &r.properties {
                refs(tree, &mut g, &mut diags, mi, me, e, ctx, &addr);
            }
            for d in &r.depends_on {
                depends_on(tree, &mut g, &mut diags, mi, me, d, &addr);
            }
        }
        // A default may use other variables (`"${var.prefix}-files"`).
        for v in &m.module.variables {
            if let (Some(d), Some(me)) = (&v.default, g.id(&Node::Var { module: mi, name: v.name.name.clone() })) {
                let addr = format!("{}var.{}", prefix(tree, mi), v.name.name);
                refs(tree, &mut g, &mut diags, mi, me, d, Ctx { count: false, each: false }, &addr);
            }
        }
        for (oi, o) in m.module.outputs.iter().enumerate() {
            let me = g.id(&Node::Output { module: mi, index: oi }).unwrap_or_default();
            let addr = format!("{}output.{}", prefix(tree, mi), o.name.name);
            refs(tree, &mut g, &mut diags, mi, me, &o.value, Ctx { count: false, each: false }, &addr);
        }
        // A module's inputs are evaluated in the caller, for the child's variables.
        for (ci, call) in m.module.modules.iter().enumerate() {
            let Some(child) = tree.modules.iter().position(|t| t.parent == Some((mi, ci))) else { continue };
            let addr = format!("{}module.{}", prefix(tree, mi), call.name.name);
            let child_mod = &tree.modules[child].module;
            for (name, e) in &call.inputs {
                match g.id(&Node::Var { module: child, name: name.name.clone() }) {
                    Some(var) => refs(tree, &mut g, &mut diags, mi, var, e, Ctx { count: false, each: false }, &addr),
                    None => {
                        let mut d =
                            Diagnostic::error(format!("module `{}` has no variable `{}`", call.name.name, name.name))
                                .at(Some(name.loc.clone()))
                                .address(&addr);
                        if let Some(s) = crate::config::suggest_name(
                            &name.name,
                            child_mod.variables.iter().map(|v| v.name.name.as_str()),
                        ) {
                            d = d.hint(format!("did you mean `{s}`?"));
                        }
                        diags.push(d);
                    }
                }
            }
            for v in &child_mod.variables {
                if v.default.is_none() && !call.inputs.iter().any(|(n, _)| n.name == v.name.name) {
                    diags.push(
                        Diagnostic::error(format!(
                            "module `{}` needs input `{}` (it has no default)",
                            call.name.name, v.name.name
                        ))
                        .at(Some(call.name.loc.clone()))
                        .address(&addr),
                    );
                }
            }
            // The call's depends_on holds back every resource inside the module.
            for d in &call.depends_on {
                for (ri, _) in child_mod.resources.iter().enumerate() {
                    if let Some(me) = g.id(&Node::Resource { module: child, index: ri }) {
                        depends_on(tree, &mut g, &mut diags, mi, me, d, &addr);
                    }
                }
            }
        }
    }
    for deps in &mut g.deps {
        deps.sort_unstable();
        deps.dedup();
    }
    match topo_order(&g) {
        Ok(order) => g.order = order,
        Err(cycle) => {
            let names: Vec<String> = cycle.iter().map(|&i| g.label(tree, i)).collect();
            diags.push(
                Diagnostic::error(format!("dependency cycle: {}", names.join(" -> ")))
                    .at(Some(g.loc(tree, cycle[0])))
                    .address(names[0].clone())
                    .hint("a resource cannot depend on itself, directly or through others"),
            );
        }
    }
    g.resource_deps = resource_deps(&g);
    (g, diags)
}

fn prefix(tree: &ModuleTree, m: usize) -> String {
    let p = crate::address::module_path(&tree.modules[m].path);
    if p.is_empty() { p } else { p + "." }
}

#[allow(clippy::too_many_arguments)]
fn refs(
    tree: &ModuleTree,
    g: &mut Graph,
    diags: &mut Diagnostics,
    mi: usize,
    me: usize,
    e: &Expr,
    ctx: Ctx,
    addr: &str,
) {
    let m = &tree.modules[mi].module;
    for (r, loc) in e.refs() {
        let err = |msg: String| Diagnostic::error(msg).at(Some(loc.clone())).address(addr);
        match &r.root {
            Root::Var(name) => match g.id(&Node::Var { module: mi, name: name.clone() }) {
                Some(v) => g.deps[me].push(v),
                None => {
                    let mut d = err(format!("reference to undeclared variable `var.{name}`"));
                    if let Some(s) = crate::config::suggest_name(name, m.variables.iter().map(|v| v.name.name.as_str()))
                    {
                        d = d.hint(format!("did you mean `var.{s}`?"));
                    }
                    diags.push(d);
                }
            },
            Root::Region(name) => {
                if !m.has_region(name) {
                    let known: Vec<&str> = m.regions.iter().map(|(n, _)| n.name.as_str()).collect();
                    diags.push(
                        err(format!("unknown region `{name}`")).hint(format!("declared regions: {}", known.join(", "))),
                    );
                }
            }
            _ if !ctx.count && r.steps.contains(&crate::expr::Step::CountIndex) => {
                diags.push(err("`[count.index]` is only available in a resource with `count`".into()))
            }
            Root::CountIndex if !ctx.count => {
                diags.push(err("`count.index` is only available in a resource with `count`".into()))
            }
            Root::EachKey | Root::EachValue if !ctx.each => {
                diags.push(err(format!("`{}` is only available in a resource with `for_each`", r.text)))
            }
            Root::CountIndex | Root::EachKey | Root::EachValue => {}
            Root::ModuleOutput { module, output } => {
                let Some(child) = tree.child(mi, module) else {
                    diags.push(err(format!("reference to undeclared module `module.{module}`")));
                    continue;
                };
                let cm = &tree.modules[child].module;
                match cm.outputs.iter().position(|o| &o.name.name == output) {
                    Some(oi) => {
                        if let Some(o) = g.id(&Node::Output { module: child, index: oi }) {
                            g.deps[me].push(o);
                        }
                    }
                    None => {
                        let mut d = err(format!("module `{module}` has no output `{output}`"));
                        if let Some(s) =
                            crate::config::suggest_name(output, cm.outputs.iter().map(|o| o.name.name.as_str()))
                        {
                            d = d.hint(format!("did you mean `{s}`?"));
                        }
                        diags.push(d);
                    }
                }
            }
            Root::Resource { type_name, name } => match m.resource(type_name, name) {
                Some((ri, _)) => {
                    if let Some(id) = g.id(&Node::Resource { module: mi, index: ri }) {
                        g.deps[me].push(id);
                    }
                }
                None => {
                    let mut d = err(format!("reference to undeclared resource `{type_name}.{name}`"));
                    let names: Vec<String> =
                        m.resources.iter().map(|r| format!("{}.{}", r.type_name.name, r.name.name)).collect();
                    if let Some(s) =
                        crate::config::suggest_name(&format!("{type_name}.{name}"), names.iter().map(String::as_str))
                    {
                        d = d.hint(format!("did you mean `{s}`?"));
                    }
                    diags.push(d);
                }
            },
        }
    }
}

fn depends_on(tree: &ModuleTree, g: &mut Graph, diags: &mut Diagnostics, mi: usize, me: usize, d: &Named, addr: &str) {
    let m = &tree.modules[mi].module;
    let parts: Vec<&str> = d.name.split('.').collect();
    match parts.as_slice() {
        ["module", name] => match tree.child(mi, name) {
            Some(child) => {
                // Everything inside the module, nested modules included.
                let mut stack = vec![child];
                while let Some(c) = stack.pop() {
                    for ri in 0..tree.modules[c].module.resources.len() {
                        if let Some(id) = g.id(&Node::Resource { module: c, index: ri }) {
                            g.deps[me].push(id);
                        }
                    }
                    stack.extend(tree.modules[c].children.iter().map(|(_, i)| *i));
                }
            }
            None => diags.push(
                Diagnostic::error(format!("depends_on names undeclared module `{}`", d.name))
                    .at(Some(d.loc.clone()))
                    .address(addr),
            ),
        },
        [t, n] => match m.resource(t, n) {
            Some((ri, _)) => {
                if let Some(id) = g.id(&Node::Resource { module: mi, index: ri }) {
                    g.deps[me].push(id);
                }
            }
            None => diags.push(
                Diagnostic::error(format!("depends_on names undeclared resource `{}`", d.name))
                    .at(Some(d.loc.clone()))
                    .address(addr),
            ),
        },
        _ => diags.push(
            Diagnostic::error(format!("invalid depends_on entry `{}`: use TYPE.NAME or module.NAME", d.name))
                .at(Some(d.loc.clone()))
                .address(addr),
        ),
    }
}

/// Kahn's algorithm; on a cycle, returns one cycle's nodes.
fn topo_order(g: &Graph) -> Result<Vec<usize>, Vec<usize>> {
    let n = g.nodes.len();
    let mut indeg = vec![0usize; n];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, deps) in g.deps.iter().enumerate() {
        indeg[i] = deps.len();
        for &d in deps {
            users[d].push(i);
        }
    }
    let mut queue: std::collections::VecDeque<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = queue.pop_front() {
        order.push(i);
        for &u in &users[i] {
            indeg[u] -= 1;
            if indeg[u] == 0 {
                queue.push_back(u);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Walk dependencies among the leftover nodes until one repeats.
    let start = (0..n).find(|&i| indeg[i] > 0).unwrap_or(0);
    let mut path = vec![start];
    let mut seen = HashMap::from([(start, 0usize)]);
    let mut cur = start;
    loop {
        let Some(&next) = g.deps[cur].iter().find(|&&d| indeg[d] > 0) else { return Err(path) };
        if let Some(&pos) = seen.get(&next) {
            let mut cycle = path[pos..].to_vec();
            cycle.push(next);
            return Err(cycle);
        }
        seen.insert(next, path.len());
        path.push(next);
        cur = next;
    }
}

/// For every node, the resource nodes reachable through non-resource nodes.
fn resource_deps(g: &Graph) -> Vec<Vec<usize>> {
    let mut memo: Vec<Option<BTreeSet<usize>>> = vec![None; g.nodes.len()];
    fn visit(g: &Graph, i: usize, memo: &mut Vec<Option<BTreeSet<usize>>>, depth: usize) -> BTreeSet<usize> {
        if let Some(s) = &memo[i] {
            return s.clone();
        }
        let mut out = BTreeSet::new();
        if depth > g.nodes.len() {
            return out; // only reachable on a cycle, which is reported elsewhere
        }
        for &d in &g.deps[i] {
            match g.nodes[d] {
                Node::Resource { .. } => {
                    out.insert(d);
                }
                _ => out.extend(visit(g, d, memo, depth + 1)),
            }
        }
        memo[i] = Some(out.clone());
        out
    }
    (0..g.nodes.len()).map(|i| visit(g, i, &mut memo, 0).into_iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(yaml: &str) -> (Graph, Diagnostics, ModuleTree) {
        let dir = std::env::temp_dir().join(format!("standby-graph-{}", crate::ids::random_id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("main.yaml"), yaml).unwrap();
        let (tree, d) = crate::config::load_tree(&dir);
        assert!(!d.has_errors(), "{d}");
        let (g, diags) = build(&tree);
        (g, diags, tree)
    }

    #[test]
    fn orders_dependencies_first_through_module_outputs() {
        let (g, diags, tree) = graph(
            "resources:\n  b: { type: standby_data, properties: { input: \"${standby_data.a.id}\" } }\n  a: { type: standby_data }\n  c: { type: standby_data, depends_on: [standby_data.b] }\n",
        );
        assert!(!diags.has_errors(), "{diags}");
        let pos = |name: &str| g.order.iter().position(|&i| g.label(&tree, i) == name).unwrap();
        assert!(pos("standby_data.a") < pos("standby_data.b"));
        assert!(pos("standby_data.b") < pos("standby_data.c"));
    }

    #[test]
    fn reports_the_cycle_path() {
        let (_, diags, _) = graph(
            "resources:\n  a: { type: standby_data, properties: { input: \"${standby_data.c.id}\" } }\n  b: { type: standby_data, depends_on: [standby_data.a] }\n  c: { type: standby_data, depends_on: [standby_data.b] }\n",
        );
        let msg = diags.to_string();
        assert!(msg.contains("dependency cycle:"), "{msg}");
        for n in ["standby_data.a", "standby_data.b", "standby_data.c"] {
            assert!(msg.contains(n), "{msg}");
        }
    }
}
