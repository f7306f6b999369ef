//! Evaluation: turns the configuration into desired resource instances by
//! resolving references against a [`Scope`] of known values.
//!
//! The evaluator is walked node by node in graph order, both by the planner
//! (with planned values in the scope) and by apply (with observed values).

mod checks;
mod term;
pub mod vars;

use crate::address::{BlockAddr, InstanceAddr, Key};
use crate::config::{Expr, ExprKind, ModuleTree, Timeouts};
use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::expr::{Part, Ref, Root, Step};
use crate::graph::{Graph, Node};
use crate::kinds::{self, Kind};
use crate::value::{Attrs, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A value and whether it came from something sensitive.
#[derive(Clone, Debug)]
pub struct Sv {
    pub value: Value,
    pub sensitive: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expansion {
    Single,
    Count,
    ForEach,
}

/// The known attributes of one instance.
#[derive(Clone, Debug, Default)]
pub struct Inst {
    pub attrs: Attrs,
    pub sensitive: BTreeSet<String>,
}

#[derive(Clone, Debug)]
pub struct Block {
    pub expansion: Expansion,
    pub instances: BTreeMap<Key, Inst>,
}

/// Values known so far, per module.
#[derive(Debug, Default)]
pub struct Scope {
    vars: Vec<HashMap<String, Sv>>,
    blocks: Vec<HashMap<(String, String), Block>>,
    outputs: Vec<HashMap<String, Sv>>,
}

impl Scope {
    pub fn new(modules: usize) -> Self {
        Scope {
            vars: vec![HashMap::new(); modules],
            blocks: vec![HashMap::new(); modules],
            outputs: vec![HashMap::new(); modules],
        }
    }

    pub fn root_outputs(&self) -> BTreeMap<String, Sv> {
        self.outputs.first().map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
    }

    /// The root module's variables evaluated so far, defaults included.
    pub fn root_vars(&self) -> BTreeMap<String, Sv> {
        self.vars.first().map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
    }

    /// A module's variables evaluated so far (what its call passed, defaults included).
    pub fn module_vars(&self, module: usize) -> BTreeMap<String, Sv> {
        self.vars.get(module).map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
    }
}

/// One resource instance as the configuration wants it.
#[derive(Clone)]
pub struct Desired {
    pub addr: InstanceAddr,
    pub node: usize,
    pub kind: &'static dyn Kind,
    /// The AWS region.
    pub region: String,
    /// Input properties, converted to the schema's types.
    pub props: Attrs,
    /// Properties that are sensitive (by schema or by what they reference).
    pub sensitive: BTreeSet<String>,
    pub prop_locs: BTreeMap<String, Location>,
    pub loc: Location,
    pub prevent_destroy: bool,
    pub timeouts: Timeouts,
    /// Resource blocks this one depends on.
    pub deps: Vec<BlockAddr>,
}

/// What evaluating a graph node gives.
pub enum NodeOut {
    /// A resource node's instances; the caller plans or applies them and
    /// then records their attributes with [`Evaluator::set_block`].
    Instances(Expansion, Vec<Desired>),
    /// A variable or output, now in the scope.
    Done,
}

pub struct Evaluator<'a> {
    pub tree: &'a ModuleTree,
    pub graph: &'a Graph,
    /// Per module: region name → AWS region.
    pub regions: Vec<BTreeMap<String, String>>,
    root_vars: BTreeMap<String, Value>,
}

struct InstCtx<'a> {
    count_index: Option<i64>,
    each: Option<(&'a str, &'a Value)>,
    addr: &'a str,
}

impl<'a> Evaluator<'a> {
    /// Prepares evaluation, checking everything that needs no values:
    /// regions, resource types, property names.
    pub fn new(tree: &'a ModuleTree, graph: &'a Graph, root_vars: BTreeMap<String, Value>) -> (Self, Diagnostics) {
        let mut diags = Diagnostics::default();
        let regions = checks::region_maps(tree, &mut diags);
        checks::check_resources(tree, &regions, &mut diags);
        (Evaluator { tree, graph, regions, root_vars }, diags)
    }

    pub fn eval_node(&self, id: usize, scope: &mut Scope) -> Result<NodeOut, Diagnostics> {
        match &self.graph.nodes[id] {
            Node::Var { module, name } => {
                let v = self.eval_var(*module, name, scope)?;
                scope.vars[*module].insert(name.clone(), v);
                Ok(NodeOut::Done)
            }
            Node::Output { module, index } => {
                let o = &self.tree.modules[*module].module.outputs[*index];
                let addr = self.graph.label(self.tree, id);
                let cx = InstCtx { count_index: None, each: None, addr: &addr };
                let mut v = self.eval(*module, &o.value, &cx, scope).map_err(one)?;
                v.sensitive |= o.sensitive;
                scope.outputs[*module].insert(o.name.name.clone(), v);
                Ok(NodeOut::Done)
            }
            Node::Resource { module, index } => self.eval_resource(id, *module, *index, scope),
        }
    }

    fn eval_var(&self, module: usize, name: &str, scope: &Scope) -> Result<Sv, Diagnostics> {
        let tm = &self.tree.modules[module];
        let Some(decl) = tm.module.variable(name) else { return Err(Diagnostics::default()) };
        let addr = format!("var.{name}");
        let cx = InstCtx { count_index: None, each: None, addr: &addr };
        let given = match tm.parent {
            None => self.root_vars.get(name).map(|v| Sv { value: v.clone(), sensitive: false }),
            Some((p, c)) => {
                let call = &self.tree.modules[p].module.modules[c];
                match call.inputs.iter().find(|(n, _)| n.name == name) {
                    Some((_, e)) => Some(self.eval(p, e, &cx, scope).map_err(one)?),
                    None => None,
                }
            }
        };
        let mut at = decl.name.loc.clone();
        let mut v = match (given, &decl.default) {
            (Some(v), _) => v,
            (None, Some(d)) => {
                at = d.loc.clone();
                self.eval(module, d, &cx, scope).map_err(one)?
            }
            // Reported when variables were resolved.
            (None, None) => Sv { value: Value::Null, sensitive: false },
        };
        v.sensitive |= decl.sensitive;
        if let Err(m) = vars::check_type(&v.value, decl.ty) {
            return Err(one(Diagnostic::error(format!("variable `{name}`: {m}")).at(Some(at)).address(addr)));
        }
        Ok(v)
    }

    fn eval_resource(&self, id: usize, module: usize, index: usize, scope: &Scope) -> Result<NodeOut, Diagnostics> {
        let tm = &self.tree.modules[module];
        let r = &tm.module.resources[index];
        let Some(kind) = kinds::lookup(&r.type_name.name) else { return Err(Diagnostics::default()) };
        let block = self.graph.block_addr(self.tree, id).ok_or_else(Diagnostics::default)?;
        let addr = block.to_string();
        let region_name = r.region.as_ref().map(|n| n.name.as_str()).unwrap_or("primary");
        let region = self.regions[module].get(region_name).cloned().unwrap_or_default();
        let top = InstCtx { count_index: None, each: None, addr: &addr };
        // Instance keys: count and for_each must be known when planning.
        let (expansion, keys): (Expansion, Vec<(Key, Option<Value>)>) = if let Some(c) = &r.count {
            let v = self.eval(module, c, &top, scope).map_err(one)?;
            refuse_sensitive(&v, "count", c, &addr)?;
            let n = match &v.value {
                Value::Number(n) => n.as_i64().filter(|n| *n >= 0),
                _ => None,
            };
            let Some(n) = n else {
                let why = if v.value.has_unknown() {
                    "is known only after apply".to_string()
                } else {
                    format!("is {}", v.value)
                };
                return Err(one(Diagnostic::error(format!(
                    "`count` must be a whole number ≥ 0 known before apply, but it {why}"
                ))
                .at(Some(c.loc.clone()))
                .address(addr)));
            };
            (Expansion::Count, (0..n).map(|i| (Key::Int(i), None)).collect())
        } else if let Some(f) = &r.for_each {
            let v = self.eval(module, f, &top, scope).map_err(one)?;
            refuse_sensitive(&v, "for_each", f, &addr)?;
            let keys = match &v.value {
                Value::Map(m) => m.iter().map(|(k, v)| (Key::Str(k.clone()), Some(v.clone()))).collect(),
                Value::List(l) if l.iter().all(|i| matches!(i, Value::String(_))) => {
                    let set: BTreeSet<&str> = l.iter().filter_map(Value::as_str).collect();
                    set.into_iter().map(|s| (Key::Str(s.to_string()), Some(Value::str(s)))).collect()
                }
                other => {
                    let why = if other.has_unknown() {
                        "is known only after apply".to_string()
                    } else {
                        format!("is a {}", other.type_name())
                    };
                    return Err(one(Diagnostic::error(format!(
                        "`for_each` must be a map or a list of strings known before apply, but it {why}"
                    ))
                    .at(Some(f.loc.clone()))
                    .address(addr)));
                }
            };
            (Expansion::ForEach, keys)
        } else {
            (Expansion::Single, vec![(Key::None, None)])
        };
        let deps: Vec<BlockAddr> =
            self.graph.resource_deps[id].iter().filter_map(|&d| self.graph.block_addr(self.tree, d)).collect();
        let schema = kind.schema();
        let mut out = Vec::with_capacity(keys.len());
        let mut diags = Diagnostics::default();
        for (key, each_value) in keys {
            let inst_addr = block.instance(key.clone());
            let addr_text = inst_addr.to_string();
            let each_key = match &key {
                Key::Str(s) => s.clone(),
                _ => String::new(),
            };
            let cx = InstCtx {
                count_index: match key {
                    Key::Int(i) => Some(i),
                    _ => None,
                },
                each: each_value.as_ref().map(|v| (each_key.as_str(), v)),
                addr: &addr_text,
            };
            let mut props = Attrs::new();
            let mut sensitive = BTreeSet::new();
            let mut prop_locs = BTreeMap::new();
            for (name, e) in &r.properties {
                let Some(prop) = schema.get(&name.name) else { continue };
                match self.eval(module, e, &cx, scope) {
                    // null means "not set", as in Terraform, so modules can pass optional inputs through.
                    Ok(v) if v.value.is_null() => {
                        if prop.mode == kinds::schema::Mode::Required {
                            diags.push(
                                Diagnostic::error(format!("property `{}` is required and cannot be null", name.name))
                                    .at(Some(e.loc.clone()))
                                    .address(&addr_text),
                            );
                        }
                    }
                    Ok(v) if v.sensitive && prop.plain => {
                        for (text, loc) in self.sensitive_refs(module, e, &cx, scope) {
                            diags.push(
                                Diagnostic::error(format!(
                                    "`{}` would hold a sensitive value (`${{{text}}}`) in clear: it ends up where \
                                     anyone who may describe the resource reads it (user data)",
                                    name.name
                                ))
                                .at(Some(loc))
                                .address(&addr_text)
                                .hint("pass where the secret is (a Secrets Manager ARN) and fetch it at boot with the instance role"),
                            );
                        }
                    }
                    Ok(v) => {
                        if let Err(m) = prop.ty.check(&v.value) {
                            diags.push(
                                Diagnostic::error(format!("property `{}`: {m}", name.name))
                                    .at(Some(e.loc.clone()))
                                    .address(&addr_text),
                            );
                            continue;
                        }
                        if v.sensitive || prop.sensitive {
                            sensitive.insert(name.name.clone());
                        }
                        props.insert(name.name.clone(), prop.ty.coerce(v.value));
                    }
                    Err(d) => diags.push(d),
                }
                prop_locs.insert(name.name.clone(), name.loc.clone());
                // Map entries too, so a problem with one key points at it.
                if let ExprKind::Map(entries) = &e.kind {
                    for (k, _) in entries {
                        prop_locs.insert(format!("{}.{}", name.name, k.name), k.loc.clone());
                    }
                }
            }
            for p in schema.props.iter().filter(|p| p.sensitive) {
                sensitive.insert(p.name.to_string());
            }
            for problem in kind.validate(&props) {
                let d = if problem.warning {
                    Diagnostic::warning(problem.message)
                } else {
                    Diagnostic::error(problem.message)
                };
                diags.push(
                    d.at(Some(prop_locs.get(&problem.prop).cloned().unwrap_or_else(|| r.name.loc.clone())))
                        .address(&addr_text),
                );
            }
            out.push(Desired {
                addr: inst_addr,
                node: id,
                kind,
                region: region.clone(),
                props,
                sensitive,
                prop_locs,
                loc: r.name.loc.clone(),
                prevent_destroy: r.prevent_destroy.unwrap_or(false),
                timeouts: r.timeouts.clone(),
                deps: deps.clone(),
            });
        }
        if diags.has_errors() {
            return Err(diags);
        }
        // Warnings travel with the instances via the planner's own checks.
        Ok(NodeOut::Instances(expansion, out))
    }

    /// Records a resource node's instances so later references resolve.
    pub fn set_block(&self, scope: &mut Scope, id: usize, expansion: Expansion, instances: BTreeMap<Key, Inst>) {
        if let Node::Resource { module, index } = &self.graph.nodes[id] {
            let r = &self.tree.modules[*module].module.resources[*index];
            scope.blocks[*module]
                .insert((r.type_name.name.clone(), r.name.name.clone()), Block { expansion, instances });
        }
    }

    /// Evaluates every module's `checks:` against a scope the whole
    /// configuration has been evaluated into: a false condition is a
    /// warning (or an error) at the condition, a condition not yet known
    /// (it depends on what apply learns) is skipped, as Terraform does.
    pub fn eval_checks(&self, scope: &Scope) -> Diagnostics {
        let mut out = Diagnostics::default();
        for (mi, tm) in self.tree.modules.iter().enumerate() {
            for c in &tm.module.checks {
                let mut addr = crate::address::module_path(&tm.path);
                if !addr.is_empty() {
                    addr.push('.');
                }
                addr += &format!("check.{}", c.name.name);
                let cx = InstCtx { count_index: None, each: None, addr: &addr };
                let diag = match self.eval(mi, &c.condition, &cx, scope) {
                    Ok(Sv { value: Value::Bool(true), .. }) => continue,
                    Ok(Sv { value, .. }) if value.has_unknown() => continue,
                    Ok(Sv { value: Value::Bool(false), .. }) if c.error => Diagnostic::error(c.message.clone()),
                    Ok(Sv { value: Value::Bool(false), .. }) => Diagnostic::warning(c.message.clone()),
                    Ok(Sv { value, .. }) => Diagnostic::error(format!(
                        "check `{}`: the condition must be true or false, but it is a {}",
                        c.name.name,
                        value.type_name()
                    )),
                    Err(d) => d,
                };
                out.push(diag.at(Some(c.condition.loc.clone())).address(addr));
            }
        }
        out
    }

    /// Evaluates an expression of the root module outside any resource
    /// (an import's id), against what the scope knows so far.
    pub fn eval_root(&self, e: &Expr, what: &str, scope: &Scope) -> Result<Sv, Diagnostic> {
        let cx = InstCtx { count_index: None, each: None, addr: what };
        self.eval(0, e, &cx, scope)
    }

    fn eval(&self, module: usize, e: &Expr, cx: &InstCtx<'_>, scope: &Scope) -> Result<Sv, Diagnostic> {
        Ok(match &e.kind {
            ExprKind::Null => Sv { value: Value::Null, sensitive: false },
            ExprKind::Bool(b) => Sv { value: Value::Bool(*b), sensitive: false },
            ExprKind::Number(n) => Sv { value: Value::Number(n.clone()), sensitive: false },
            ExprKind::List(items) => {
                let mut sensitive = false;
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    let v = self.eval(module, i, cx, scope)?;
                    sensitive |= v.sensitive;
                    out.push(v.value);
                }
                Sv { value: Value::List(out), sensitive }
            }
            ExprKind::Map(entries) => {
                let mut sensitive = false;
                let mut out = BTreeMap::new();
                for (k, v) in entries {
                    let v = self.eval(module, v, cx, scope)?;
                    sensitive |= v.sensitive;
                    out.insert(k.name.clone(), v.value);
                }
                Sv { value: Value::Map(out), sensitive }
            }
            ExprKind::Str(t) => {
                if let Some(r) = t.whole_ref() {
                    return self.resolve(module, r, cx, scope, &e.loc);
                }
                if let Some(term) = t.whole_expr() {
                    return self.eval_term(module, term, cx, scope, &e.loc);
                }
                let mut s = String::new();
                let mut sensitive = false;
                let mut unknown = false;
                for p in &t.parts {
                    let (v, text) = match p {
                        Part::Lit(l) => {
                            s.push_str(l);
                            continue;
                        }
                        Part::Ref(r) => (self.resolve(module, r, cx, scope, &e.loc)?, r.text.as_str()),
                        Part::Expr(term) => (self.eval_term(module, term, cx, scope, &e.loc)?, "…"),
                    };
                    sensitive |= v.sensitive;
                    match v.value.to_interpolated() {
                        Some(text) => s.push_str(&text),
                        None if v.value.has_unknown() => unknown = true,
                        None => {
                            return Err(Diagnostic::error(format!(
                                "cannot insert a {} into a string: `${{{text}}}`",
                                v.value.type_name(),
                            ))
                            .at(Some(e.loc.clone()))
                            .address(cx.addr)
                            .hint("use the reference as the whole value to keep its type"));
                        }
                    }
                }
                Sv { value: if unknown { Value::Unknown } else { Value::String(s) }, sensitive }
            }
        })
    }

    /// The references inside `e` whose values are sensitive, each with the
    /// location of the string holding it.
    fn sensitive_refs(&self, module: usize, e: &Expr, cx: &InstCtx<'_>, scope: &Scope) -> Vec<(String, Location)> {
        match &e.kind {
            ExprKind::Str(t) => t
                .refs()
                .filter(|r| self.resolve(module, r, cx, scope, &e.loc).is_ok_and(|v| v.sensitive))
                .map(|r| (r.text.clone(), e.loc.clone()))
                .collect(),
            ExprKind::List(items) => items.iter().flat_map(|i| self.sensitive_refs(module, i, cx, scope)).collect(),
            ExprKind::Map(entries) => {
                entries.iter().flat_map(|(_, v)| self.sensitive_refs(module, v, cx, scope)).collect()
            }
            _ => Vec::new(),
        }
    }

    fn resolve(
        &self,
        module: usize,
        r: &Ref,
        cx: &InstCtx<'_>,
        scope: &Scope,
        loc: &Location,
    ) -> Result<Sv, Diagnostic> {
        let err = |m: String| Diagnostic::error(m).at(Some(loc.clone())).address(cx.addr);
        // `[count.index]` becomes this instance's number.
        let fixed;
        let r = if r.steps.contains(&Step::CountIndex) {
            let mut c = r.clone();
            for s in &mut c.steps {
                if *s == Step::CountIndex {
                    *s = Step::Index(cx.count_index.unwrap_or(0));
                }
            }
            fixed = c;
            &fixed
        } else {
            r
        };
        let (base, steps): (Sv, &[Step]) = match &r.root {
            Root::Var(name) => {
                let v = scope.vars[module]
                    .get(name)
                    .cloned()
                    .ok_or_else(|| err(format!("variable `{name}` has no value")))?;
                (v, &r.steps)
            }
            Root::Region(name) => {
                let v = self.regions[module].get(name).ok_or_else(|| err(format!("unknown region `{name}`")))?;
                (Sv { value: Value::str(v), sensitive: false }, &r.steps)
            }
            Root::CountIndex => (Sv { value: Value::int(cx.count_index.unwrap_or(0)), sensitive: false }, &r.steps),
            Root::EachKey => {
                (Sv { value: Value::str(cx.each.map(|e| e.0).unwrap_or_default()), sensitive: false }, &r.steps)
            }
            Root::EachValue => {
                (Sv { value: cx.each.map(|e| e.1.clone()).unwrap_or(Value::Null), sensitive: false }, &r.steps)
            }
            Root::ModuleOutput { module: m, output } => {
                let child = self.tree.child(module, m).ok_or_else(|| err(format!("unknown module `{m}`")))?;
                let v = scope.outputs[child]
                    .get(output)
                    .cloned()
                    .ok_or_else(|| err(format!("output `module.{m}.{output}` is not available")))?;
                (v, &r.steps)
            }
            Root::Resource { type_name, name } => {
                return self.resolve_resource(module, type_name, name, &r.steps, scope, &err);
            }
        };
        let value = walk(base.value, steps).map_err(|m| err(format!("`${{{}}}`: {m}", r.text)))?;
        Ok(Sv { value, sensitive: base.sensitive })
    }

    fn resolve_resource(
        &self,
        module: usize,
        type_name: &str,
        name: &str,
        steps: &[Step],
        scope: &Scope,
        err: &dyn Fn(String) -> Diagnostic,
    ) -> Result<Sv, Diagnostic> {
        let full = format!("{type_name}.{name}");
        let Some(block) = scope.blocks[module].get(&(type_name.to_string(), name.to_string())) else {
            return Err(err(format!("`{full}` is not available yet (is it declared?)")));
        };
        // Pick the instance (or the whole collection) the steps address.
        let (inst, rest) = match (block.expansion, steps.first()) {
            (Expansion::Single, _) => (block.instances.get(&Key::None), steps),
            (Expansion::Count, Some(Step::Index(i))) => match block.instances.get(&Key::Int(*i)) {
                Some(inst) => (Some(inst), &steps[1..]),
                None => {
                    return Err(err(format!(
                        "`{full}[{i}]`: index out of range ({} instances)",
                        block.instances.len()
                    )));
                }
            },
            (Expansion::ForEach, Some(Step::Key(k))) => match block.instances.get(&Key::Str(k.clone())) {
                Some(inst) => (Some(inst), &steps[1..]),
                None => return Err(err(format!("`{full}[{k:?}]`: no such key"))),
            },
            (_, _) => {
                // The whole collection: a list for count, a map for for_each.
                let sensitive = block.instances.values().any(|i| !i.sensitive.is_empty());
                let value = match block.expansion {
                    Expansion::Count => {
                        Value::List(block.instances.values().map(|i| Value::Map(i.attrs.clone())).collect())
                    }
                    _ => Value::Map(
                        block
                            .instances
                            .iter()
                            .map(|(k, i)| {
                                (k.to_string().trim_matches(['[', ']', '"']).to_string(), Value::Map(i.attrs.clone()))
                            })
                            .collect(),
                    ),
                };
                return walk(value, steps)
                    .map(|value| Sv { value, sensitive })
                    .map_err(|m| err(format!("`{full}`: {m}")));
            }
        };
        let Some(inst) = inst else { return Err(err(format!("`{full}` has no instance"))) };
        let Some((Step::Attr(attr), rest)) = rest.split_first() else {
            let sensitive = !inst.sensitive.is_empty();
            return walk(Value::Map(inst.attrs.clone()), rest)
                .map(|value| Sv { value, sensitive })
                .map_err(|m| err(format!("`{full}`: {m}")));
        };
        let kind = kinds::lookup(type_name);
        let value = match inst.attrs.get(attr) {
            Some(v) => v.clone(),
            None if kind.is_some_and(|k| k.schema().get(attr).is_some()) => Value::Null,
            None => {
                let mut e = err(format!("`{full}` has no attribute `{attr}`"));
                if let Some(k) = kind
                    && let Some(s) = crate::config::suggest_name(attr, k.schema().props.iter().map(|p| p.name))
                {
                    e = e.hint(format!("did you mean `{s}`?"));
                }
                return Err(e);
            }
        };
        let value = walk(value, rest).map_err(|m| err(format!("`{full}.{attr}`: {m}")))?;
        Ok(Sv { value, sensitive: inst.sensitive.contains(attr) })
    }
}

/// Instance keys show in addresses, plans and state: they cannot be secret.
fn refuse_sensitive(v: &Sv, what: &str, e: &Expr, addr: &str) -> Result<(), Diagnostics> {
    if !v.sensitive {
        return Ok(());
    }
    Err(one(Diagnostic::error(format!("`{what}` cannot use a sensitive value: it would show in resource addresses"))
        .at(Some(e.loc.clone()))
        .address(addr)
        .hint("iterate over something non-sensitive (e.g. the names) and look the secret up by key")))
}

fn one(d: Diagnostic) -> Diagnostics {
    Diagnostics(vec![d])
}

/// Follows attribute and index steps into a value.
fn walk(mut v: Value, steps: &[Step]) -> Result<Value, String> {
    for s in steps {
        v = match (v, s) {
            (Value::Unknown, _) => return Ok(Value::Unknown),
            (Value::Map(mut m), Step::Attr(k) | Step::Key(k)) => m.remove(k).ok_or_else(|| format!("no key `{k}`"))?,
            (Value::List(mut l), Step::Index(i)) => {
                let len = l.len();
                if *i < 0 || *i as usize >= len {
                    return Err(format!("index {i} out of range (length {len})"));
                }
                l.swap_remove(*i as usize)
            }
            (other, s) => return Err(format!("cannot use `{s}` on a {}", other.type_name())),
        };
    }
    Ok(v)
}

/// The value of an expression without references (variable files, defaults).
pub fn literal(e: &Expr) -> Option<Value> {
    Some(match &e.kind {
        ExprKind::Null => Value::Null,
        ExprKind::Bool(b) => Value::Bool(*b),
        ExprKind::Number(n) => Value::Number(n.clone()),
        ExprKind::Str(t) => Value::String(t.literal()?),
        ExprKind::List(items) => Value::List(items.iter().map(literal).collect::<Option<_>>()?),
        ExprKind::Map(entries) => {
            Value::Map(entries.iter().map(|(k, v)| Some((k.name.clone(), literal(v)?))).collect::<Option<_>>()?)
        }
    })
}
