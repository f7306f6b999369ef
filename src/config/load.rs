//! Loading a directory of `*.yaml` files, and the modules it calls.

use super::yaml::{Source, suggest};
use super::{AWS_REGIONS, Check, Import, Module, ModuleCall, Named, Output, Resource, Timeouts, VarType, Variable};
use crate::diag::{Diagnostic, Diagnostics, Location};
use marked_yaml::types::MarkedMappingNode;
use marked_yaml::{LoadError, LoaderOptions, Node};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The root module and every module it calls, flattened. Index 0 is the root.
#[derive(Debug, Default)]
pub struct ModuleTree {
    pub modules: Vec<TreeNode>,
    /// Files that could not be parsed; later checks would only add noise.
    pub unparsed: usize,
}

#[derive(Debug)]
pub struct TreeNode {
    /// Module call names from the root (`["storage"]`).
    pub path: Vec<String>,
    pub module: Module,
    /// (parent index, call index in the parent) for child modules.
    pub parent: Option<(usize, usize)>,
    /// Child module indices by call name.
    pub children: Vec<(String, usize)>,
}

impl ModuleTree {
    pub fn root(&self) -> &Module {
        &self.modules[0].module
    }
    pub fn child(&self, module: usize, call: &str) -> Option<usize> {
        self.modules[module].children.iter().find(|(n, _)| n == call).map(|(_, i)| *i)
    }
}

pub(crate) const TOP_KEYS: &[&str] =
    &["backend", "regions", "variables", "resources", "modules", "outputs", "imports", "checks"];
pub(crate) const VAR_KEYS: &[&str] = &["type", "default", "description", "sensitive"];
pub(crate) const RESOURCE_KEYS: &[&str] =
    &["type", "region", "count", "for_each", "depends_on", "lifecycle", "properties", "timeouts"];
pub(crate) const MODULE_KEYS: &[&str] = &["source", "inputs", "regions", "depends_on"];
pub(crate) const OUTPUT_KEYS: &[&str] = &["value", "description", "sensitive"];
pub(crate) const CHECK_KEYS: &[&str] = &["condition", "message", "severity"];

/// Loads the root module in `dir` and every module it calls.
pub fn load_tree(dir: &Path) -> (ModuleTree, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut tree = ModuleTree::default();
    let root = load_module(dir, true, &mut diags, &mut tree.unparsed);
    tree.modules.push(TreeNode { path: Vec::new(), module: root, parent: None, children: Vec::new() });
    let mut i = 0;
    while i < tree.modules.len() {
        let calls = tree.modules[i].module.modules.clone();
        for (ci, call) in calls.iter().enumerate() {
            let base = tree.modules[i].module.dir.clone();
            let src = base.join(&call.source.name);
            let mut path = tree.modules[i].path.clone();
            path.push(call.name.name.clone());
            // A module that (indirectly) calls itself would never end.
            let canon = src.canonicalize().ok();
            let mut anc = Some(i);
            let mut recursive = false;
            while let Some(a) = anc {
                if canon.is_some() && tree.modules[a].module.dir.canonicalize().ok() == canon {
                    recursive = true;
                }
                anc = tree.modules[a].parent.map(|(p, _)| p);
            }
            if recursive {
                diags.push(
                    Diagnostic::error(format!(
                        "module `{}` calls itself (source {})",
                        call.name.name, call.source.name
                    ))
                    .at(Some(call.source.loc.clone()))
                    .address(crate::address::module_path(&path)),
                );
                continue;
            }
            if !src.is_dir() {
                diags.push(
                    Diagnostic::error(format!(
                        "module source `{}` not found (looked in {})",
                        call.source.name,
                        src.display()
                    ))
                    .at(Some(call.source.loc.clone()))
                    .address(crate::address::module_path(&path)),
                );
                continue;
            }
            let module = load_module(&src, false, &mut diags, &mut tree.unparsed);
            let idx = tree.modules.len();
            tree.modules.push(TreeNode { path, module, parent: Some((i, ci)), children: Vec::new() });
            tree.modules[i].children.push((call.name.name.clone(), idx));
        }
        i += 1;
    }
    (tree, diags)
}

/// The YAML files of a module directory; `None` (reported) when there are none.
fn yaml_files(dir: &Path, diags: &mut Diagnostics) -> Option<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect(),
        Err(e) => {
            diags.push(Diagnostic::error(format!("cannot read configuration directory {}: {e}", dir.display())));
            return None;
        }
    };
    files.sort();
    if files.is_empty() {
        diags.push(Diagnostic::error(format!("no *.yaml files in {}", dir.display())));
        return None;
    }
    Some(files)
}

fn display_path(p: &Path) -> PathBuf {
    // Relative paths read better and keep snapshots machine-independent.
    let p = std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| p.to_path_buf());
    p.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()
}

fn load_module(dir: &Path, is_root: bool, diags: &mut Diagnostics, unparsed: &mut usize) -> Module {
    let mut module = Module { dir: dir.to_path_buf(), ..Module::default() };
    let Some(files) = yaml_files(dir, diags) else {
        // Nothing to check against: later checks would only add noise.
        *unparsed += 1;
        return module;
    };
    for file in files {
        let src = Source { file: Arc::new(display_path(&file)) };
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::error(format!("cannot read {}: {e}", file.display())));
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        // prevent_coercion: a quoted scalar stays a string (`"16.4"` is a version, not a number).
        let opts = LoaderOptions::default().error_on_duplicate_keys(true).toplevel_mapping().prevent_coercion(true);
        match marked_yaml::parse_yaml_with_options(0, &text, opts) {
            Ok(node) => read_file(&src, &node, is_root, &mut module, diags),
            Err(e) => {
                *unparsed += 1;
                diags.push(load_error(&src, e));
            }
        }
    }
    check_names(&module, diags);
    check_duplicates(&module, diags);
    module
}

fn load_error(src: &Source, e: LoadError) -> Diagnostic {
    let at = |m: marked_yaml::Marker| Location { file: src.file.clone(), line: m.line(), col: m.column() };
    match e {
        LoadError::TopLevelMustBeMapping(m) => {
            Diagnostic::error("the file must be a mapping with keys such as resources:, variables:").at(Some(at(m)))
        }
        LoadError::TopLevelMustBeSequence(m) => Diagnostic::error("unexpected top-level sequence").at(Some(at(m))),
        LoadError::UnexpectedAnchor(m) => {
            Diagnostic::error("YAML anchors and aliases are not supported").at(Some(at(m)))
        }
        LoadError::MappingKeyMustBeScalar(m) => Diagnostic::error("mapping keys must be plain strings").at(Some(at(m))),
        LoadError::UnexpectedTag(m) => Diagnostic::error("YAML tags (!tag) are not supported").at(Some(at(m))),
        LoadError::ScanError(m, e) => Diagnostic::error(format!("YAML syntax error: {}", e.info())).at(Some(at(m))),
        LoadError::DuplicateKey(d) => {
            let prev = src.loc(d.prev_key.span());
            Diagnostic::error(format!("duplicate key `{}` (first defined at line {})", d.key.as_str(), prev.line))
                .at(Some(src.loc(d.key.span())))
        }
    }
}

fn read_file(src: &Source, node: &Node, is_root: bool, m: &mut Module, diags: &mut Diagnostics) {
    let Some(top) = src.mapping(node, "a configuration file", diags) else { return };
    src.check_keys(top, TOP_KEYS, "the configuration file", None, diags);
    if let Some(n) = top.get("backend") {
        if is_root {
            super::backend::parse(src, n, diags);
        } else {
            diags.push(
                Diagnostic::error(
                    "`backend:` belongs in the root module: a module cannot choose where the state lives",
                )
                .at(Some(src.loc(n.span()))),
            );
        }
    }
    if let Some(n) = top.get("regions") {
        read_regions(src, n, is_root, m, diags);
    }
    if let Some(n) = top.get("variables").and_then(|n| src.mapping(n, "variables", diags)) {
        for (k, v) in n.iter() {
            m.variables.push(read_variable(src, src.named(k), v, diags));
        }
    }
    if let Some(n) = top.get("resources").and_then(|n| src.mapping(n, "resources", diags)) {
        for (k, v) in n.iter() {
            if let Some(r) = read_resource(src, src.named(k), v, diags) {
                m.resources.push(r);
            }
        }
    }
    if let Some(n) = top.get("modules").and_then(|n| src.mapping(n, "modules", diags)) {
        for (k, v) in n.iter() {
            if let Some(c) = read_call(src, src.named(k), v, diags) {
                m.modules.push(c);
            }
        }
    }
    if let Some(n) = top.get("imports") {
        read_imports(src, n, is_root, m, diags);
    }
    if let Some(n) = top.get("outputs").and_then(|n| src.mapping(n, "outputs", diags)) {
        for (k, v) in n.iter() {
            if let Some(o) = read_output(src, src.named(k), v, diags) {
                m.outputs.push(o);
            }
        }
    }
    if let Some(n) = top.get("checks").and_then(|n| src.mapping(n, "checks", diags)) {
        for (k, v) in n.iter() {
            if let Some(c) = read_check(src, src.named(k), v, diags) {
                m.checks.push(c);
            }
        }
    }
}

fn read_check(src: &Source, name: Named, node: &Node, diags: &mut Diagnostics) -> Option<Check> {
    let map = src.mapping(node, "a check", diags)?;
    let what = format!("check `{}`", name.name);
    src.check_keys(map, CHECK_KEYS, &what, None, diags);
    let Some(condition) = map.get("condition").map(|n| src.expr(n, diags)) else {
        diags.push(
            Diagnostic::error(format!("{what} has no `condition`"))
                .at(Some(name.loc.clone()))
                .hint("add e.g. `condition: \"${var.a != var.b}\"`"),
        );
        return None;
    };
    let Some(message) = map.get("message").and_then(|n| src.string(n, "message", diags)) else {
        diags.push(Diagnostic::error(format!("{what} has no `message`")).at(Some(name.loc.clone())));
        return None;
    };
    let error = match map.get("severity").and_then(|n| src.string(n, "severity", diags)) {
        None => false,
        Some(s) if s.name == "warning" => false,
        Some(s) if s.name == "error" => true,
        Some(s) => {
            diags.push(
                Diagnostic::error(format!("{what}: severity is `warning` or `error`, not `{}`", s.name))
                    .at(Some(s.loc)),
            );
            false
        }
    };
    Some(Check { name, condition, message: message.name, error })
}

fn read_regions(src: &Source, node: &Node, is_root: bool, m: &mut Module, diags: &mut Diagnostics) {
    let loc = src.loc(node.span());
    match (is_root, node) {
        (true, Node::Mapping(map)) => {
            for (k, v) in map.iter() {
                let Some(region) = src.string(v, "a region", diags) else { continue };
                if let Some(partition) = super::other_partition(&region.name) {
                    diags.push(
                        Diagnostic::error(format!(
                            "`{}` is in the `{partition}` partition: standby supports the commercial `aws` partition \
                             only (its ARNs are arn:aws:..., IAM is called in us-east-1), so it cannot manage \
                             resources there",
                            region.name
                        ))
                        .at(Some(region.loc.clone())),
                    );
                } else if !AWS_REGIONS.contains(&region.name.as_str()) {
                    let mut d = Diagnostic::error(format!("`{}` is not an AWS region", region.name))
                        .at(Some(region.loc.clone()));
                    if let Some(s) = suggest(&region.name, AWS_REGIONS.iter().copied()) {
                        d = d.hint(format!("did you mean `{s}`?"));
                    }
                    diags.push(d);
                }
                m.regions.push((src.named(k), Some(region)));
            }
        }
        (false, Node::Sequence(seq)) => {
            for item in seq.iter() {
                if let Some(name) = src.string(item, "a region name", diags) {
                    m.regions.push((name, None));
                }
            }
        }
        (true, _) => diags
            .push(Diagnostic::error("regions must map names to AWS regions, e.g. `primary: us-west-1`").at(Some(loc))),
        (false, _) => diags.push(
            Diagnostic::error(
                "a module's regions must be a list of the region names it uses, e.g. [primary, secondary]",
            )
            .at(Some(loc)),
        ),
    }
}

fn read_variable(src: &Source, name: Named, node: &Node, diags: &mut Diagnostics) -> Variable {
    let mut var = Variable { name, ty: VarType::Any, default: None, description: None, sensitive: false };
    let Some(map) = src.mapping(node, "a variable", diags) else { return var };
    let what = format!("variable `{}`", var.name.name);
    src.check_keys(map, VAR_KEYS, &what, Some(&format!("var.{}", var.name.name)), diags);
    if let Some(t) = map.get("type").and_then(|n| src.string(n, "type", diags)) {
        var.ty = match t.name.as_str() {
            "string" => VarType::String,
            "number" => VarType::Number,
            "bool" => VarType::Bool,
            "list" => VarType::List,
            "map" => VarType::Map,
            "any" => VarType::Any,
            other => {
                diags.push(
                    Diagnostic::error(format!("unknown variable type `{other}`"))
                        .at(Some(t.loc))
                        .hint("use string, number, bool, list, map or any"),
                );
                VarType::Any
            }
        };
    }
    var.default = map.get("default").map(|n| src.expr(n, diags));
    var.description = map.get("description").and_then(|n| src.string(n, "description", diags)).map(|n| n.name);
    var.sensitive = map.get("sensitive").is_some_and(|n| src.bool(n, "sensitive", diags));
    var
}

fn names_list(src: &Source, node: &Node, what: &str, diags: &mut Diagnostics) -> Vec<Named> {
    match node {
        Node::Sequence(seq) => seq.iter().filter_map(|n| src.string(n, what, diags)).collect(),
        _ => {
            diags.push(Diagnostic::error(format!("{what} must be a list")).at(Some(src.loc(node.span()))));
            Vec::new()
        }
    }
}

fn read_resource(src: &Source, name: Named, node: &Node, diags: &mut Diagnostics) -> Option<Resource> {
    let map = src.mapping(node, "a resource", diags)?;
    let ty_node = map.get("type");
    let Some(type_name) = ty_node.and_then(|n| src.string(n, "type", diags)) else {
        diags.push(
            Diagnostic::error(format!("resource `{}` has no `type`", name.name))
                .at(Some(name.loc.clone()))
                .hint("add e.g. `type: standby_data`"),
        );
        return None;
    };
    let addr = format!("{}.{}", type_name.name, name.name);
    src.check_keys(map, RESOURCE_KEYS, "a resource", Some(&addr), diags);
    let mut prevent_destroy = None;
    if let Some(lc) = map.get("lifecycle").and_then(|n| src.mapping(n, "lifecycle", diags)) {
        src.check_keys(lc, &["prevent_destroy"], "lifecycle", Some(&addr), diags);
        prevent_destroy = lc.get("prevent_destroy").map(|n| src.bool(n, "prevent_destroy", diags));
    }
    let properties = match map.get("properties").and_then(|n| src.mapping(n, "properties", diags)) {
        Some(p) => p.iter().map(|(k, v)| (src.named(k), src.expr(v, diags))).collect(),
        None => Vec::new(),
    };
    let timeouts = map
        .get("timeouts")
        .and_then(|n| src.mapping(n, "timeouts", diags))
        .map(|t| read_timeouts(src, t, &addr, diags));
    let r = Resource {
        region: map.get("region").and_then(|n| src.string(n, "region", diags)),
        count: map.get("count").map(|n| src.expr(n, diags)),
        for_each: map.get("for_each").map(|n| src.expr(n, diags)),
        depends_on: map.get("depends_on").map(|n| names_list(src, n, "depends_on", diags)).unwrap_or_default(),
        prevent_destroy,
        properties,
        timeouts: timeouts.unwrap_or_default(),
        name,
        type_name,
    };
    if r.count.is_some() && r.for_each.is_some() {
        diags.push(
            Diagnostic::error("`count` and `for_each` cannot both be set")
                .at(r.for_each.as_ref().map(|e| e.loc.clone()))
                .address(addr),
        );
    }
    Some(r)
}

fn read_timeouts(src: &Source, t: &MarkedMappingNode, addr: &str, diags: &mut Diagnostics) -> Timeouts {
    src.check_keys(t, &["create", "update", "delete"], "timeouts", Some(addr), diags);
    let mut get = |k: &str| {
        let n = src.string(t.get(k)?, k, diags)?;
        let d = super::parse_duration(&n.name);
        if d.is_none() {
            diags.push(
                Diagnostic::error(format!("invalid duration `{}` for timeouts.{k}", n.name))
                    .at(Some(n.loc))
                    .address(addr)
                    .hint("use e.g. 30s, 45m, 2h or 1h30m"),
            );
        }
        d
    };
    Timeouts { create: get("create"), update: get("update"), delete: get("delete") }
}

fn read_call(src: &Source, name: Named, node: &Node, diags: &mut Diagnostics) -> Option<ModuleCall> {
    let map = src.mapping(node, "a module call", diags)?;
    let addr = format!("module.{}", name.name);
    src.check_keys(map, MODULE_KEYS, "a module call", Some(&addr), diags);
    let Some(source) = map.get("source").and_then(|n| src.string(n, "source", diags)) else {
        diags.push(Diagnostic::error("module call has no `source`").at(Some(name.loc.clone())).address(addr));
        return None;
    };
    let inputs = match map.get("inputs").and_then(|n| src.mapping(n, "inputs", diags)) {
        Some(m) => m.iter().map(|(k, v)| (src.named(k), src.expr(v, diags))).collect(),
        None => Vec::new(),
    };
    let regions = match map.get("regions").and_then(|n| src.mapping(n, "regions", diags)) {
        Some(m) => m.iter().filter_map(|(k, v)| Some((src.named(k), src.string(v, "a region name", diags)?))).collect(),
        None => Vec::new(),
    };
    let depends_on = map.get("depends_on").map(|n| names_list(src, n, "depends_on", diags)).unwrap_or_default();
    Some(ModuleCall { name, source, inputs, regions, depends_on })
}

/// `imports:` — a list of `{to: ADDRESS, id: "…"}`, root module only.
fn read_imports(src: &Source, node: &Node, is_root: bool, m: &mut Module, diags: &mut Diagnostics) {
    let loc = src.loc(node.span());
    if !is_root {
        diags.push(
            Diagnostic::error("`imports` belongs in the root module")
                .at(Some(loc))
                .hint("move it to the root configuration and address the resource as module.NAME.TYPE.NAME"),
        );
        return;
    }
    let Node::Sequence(seq) = node else {
        diags.push(
            Diagnostic::error("`imports` must be a list of `{to: ADDRESS, id: ID}` entries")
                .at(Some(loc))
                .hint("e.g.\n  imports:\n    - to: module.database.aws_rds_cluster.primary\n      id: \"${var.primary_db_cluster}\""),
        );
        return;
    };
    for item in seq.iter() {
        let Some(map) = src.mapping(item, "an import", diags) else { continue };
        src.check_keys(map, &["to", "id"], "an import", None, diags);
        let at = src.loc(item.span());
        let to = map.get("to").and_then(|n| src.string(n, "to", diags));
        let id = map.get("id").map(|n| src.expr(n, diags));
        match (to, id) {
            (Some(to), Some(id)) => m.imports.push(Import { to, id, loc: at }),
            (to, id) => {
                let missing = if to.is_none() && id.is_none() {
                    "`to` and `id`"
                } else if to.is_none() {
                    "`to`"
                } else {
                    "`id`"
                };
                diags.push(Diagnostic::error(format!("an import needs {missing}")).at(Some(at)));
            }
        }
    }
}

fn read_output(src: &Source, name: Named, node: &Node, diags: &mut Diagnostics) -> Option<Output> {
    let map = src.mapping(node, "an output", diags)?;
    let what = format!("output `{}`", name.name);
    src.check_keys(map, OUTPUT_KEYS, &what, None, diags);
    let Some(value) = map.get("value").map(|n| src.expr(n, diags)) else {
        diags.push(Diagnostic::error(format!("{what} has no `value`")).at(Some(name.loc.clone())));
        return None;
    };
    Some(Output {
        value,
        description: map.get("description").and_then(|n| src.string(n, "description", diags)).map(|n| n.name),
        sensitive: map.get("sensitive").is_some_and(|n| src.bool(n, "sensitive", diags)),
        name,
    })
}

/// Names become parts of addresses and references: letters, digits, `_`
/// and `-`, starting with a letter or `_`.
fn check_names(m: &Module, diags: &mut Diagnostics) {
    let all = m
        .regions
        .iter()
        .map(|(n, _)| ("region", n))
        .chain(m.variables.iter().map(|v| ("variable", &v.name)))
        .chain(m.resources.iter().map(|r| ("resource", &r.name)))
        .chain(m.resources.iter().map(|r| ("resource type", &r.type_name)))
        .chain(m.modules.iter().map(|c| ("module", &c.name)))
        .chain(m.outputs.iter().map(|o| ("output", &o.name)))
        .chain(m.checks.iter().map(|c| ("check", &c.name)));
    for (what, n) in all {
        let mut chars = n.name.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            diags.push(
                Diagnostic::error(format!("invalid {what} name `{}`", n.name))
                    .at(Some(n.loc.clone()))
                    .hint("use letters, digits, `_` and `-`, starting with a letter or `_`"),
            );
        }
    }
}

/// Names must be unique across all files of a module.
fn check_duplicates(m: &Module, diags: &mut Diagnostics) {
    fn dup<'a>(items: impl Iterator<Item = (String, &'a Named)>, what: &str, diags: &mut Diagnostics) {
        let mut seen: std::collections::HashMap<String, &Named> = std::collections::HashMap::new();
        for (key, named) in items {
            if let Some(first) = seen.get(&key) {
                diags.push(
                    Diagnostic::error(format!("duplicate {what} `{key}` (first defined at {})", first.loc))
                        .at(Some(named.loc.clone())),
                );
            } else {
                seen.insert(key, named);
            }
        }
    }
    dup(m.regions.iter().map(|(n, _)| (n.name.clone(), n)), "region", diags);
    dup(m.variables.iter().map(|v| (v.name.name.clone(), &v.name)), "variable", diags);
    dup(m.resources.iter().map(|r| (format!("{}.{}", r.type_name.name, r.name.name), &r.name)), "resource", diags);
    dup(m.modules.iter().map(|c| (c.name.name.clone(), &c.name)), "module", diags);
    dup(m.outputs.iter().map(|o| (o.name.name.clone(), &o.name)), "output", diags);
}
