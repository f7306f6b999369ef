//! Checks that need no values: regions (and how modules bind them),
//! resource types, property names, required properties.

use crate::config::ModuleTree;
use crate::diag::{Diagnostic, Diagnostics};
use crate::kinds;
use std::collections::BTreeMap;

/// Region name → AWS region for every module.
pub(super) fn region_maps(tree: &ModuleTree, diags: &mut Diagnostics) -> Vec<BTreeMap<String, String>> {
    let mut maps: Vec<BTreeMap<String, String>> = vec![BTreeMap::new(); tree.modules.len()];
    let root = tree.root();
    for (n, r) in &root.regions {
        if let Some(r) = r {
            maps[0].insert(n.name.clone(), r.name.clone());
        }
    }
    let file_loc = root.resources.first().map(|r| r.name.loc.clone());
    for required in ["primary", "secondary"] {
        if !maps[0].contains_key(required) && !root.regions.iter().any(|(n, _)| n.name == required) {
            diags.push(
                Diagnostic::error(format!("the root configuration must declare the `{required}` region"))
                    .at(file_loc.clone())
                    .hint("add e.g. `regions: { primary: us-west-1, secondary: us-east-1 }`"),
            );
        }
    }
    if let (Some(p), Some(s)) = (maps[0].get("primary"), maps[0].get("secondary"))
        && p == s
    {
        let loc = root
            .regions
            .iter()
            .find(|(n, _)| n.name == "secondary")
            .and_then(|(_, r)| r.as_ref())
            .map(|r| r.loc.clone());
        diags
            .push(Diagnostic::error(format!("primary and secondary must be different regions (both are {p})")).at(loc));
    }
    // Children in load order, so parents are always done first.
    for i in 1..tree.modules.len() {
        let Some((p, c)) = tree.modules[i].parent else { continue };
        let call = &tree.modules[p].module.modules[c];
        let child = &tree.modules[i].module;
        for (from, _) in &call.regions {
            if !child.has_region(&from.name) {
                diags.push(
                    Diagnostic::error(format!("module `{}` declares no region `{}`", call.name.name, from.name))
                        .at(Some(from.loc.clone())),
                );
            }
        }
        let mut map = BTreeMap::new();
        for (name, _) in &child.regions {
            let bound = call.regions.iter().find(|(f, _)| f.name == name.name).map(|(_, t)| t);
            let parent_name = bound.map(|t| t.name.as_str()).unwrap_or(&name.name);
            match maps[p].get(parent_name) {
                Some(r) => {
                    map.insert(name.name.clone(), r.clone());
                }
                None => diags.push(
                    Diagnostic::error(format!(
                        "module `{}` uses region `{}`, bound to `{parent_name}`, which the caller does not declare",
                        call.name.name, name.name
                    ))
                    .at(Some(bound.map(|b| b.loc.clone()).unwrap_or_else(|| call.name.loc.clone()))),
                ),
            }
        }
        maps[i] = map;
    }
    maps
}

/// Resource types, property names and regions, checked without values.
pub(super) fn check_resources(tree: &ModuleTree, regions: &[BTreeMap<String, String>], diags: &mut Diagnostics) {
    for (mi, tm) in tree.modules.iter().enumerate() {
        let module = &tm.module;
        for r in &module.resources {
            let addr = format!(
                "{}{}.{}",
                crate::address::module_path(&tm.path).to_string() + if tm.path.is_empty() { "" } else { "." },
                r.type_name.name,
                r.name.name
            );
            let region = r.region.as_ref().map(|n| n.name.as_str()).unwrap_or("primary");
            if !module.has_region(region) || (!regions[mi].contains_key(region) && mi == 0) {
                let known: Vec<&str> = module.regions.iter().map(|(n, _)| n.name.as_str()).collect();
                diags.push(
                    Diagnostic::error(format!("unknown region `{region}`"))
                        .at(Some(r.region.as_ref().map(|n| n.loc.clone()).unwrap_or_else(|| r.name.loc.clone())))
                        .address(&addr)
                        .hint(format!(
                            "declared regions: {}",
                            if known.is_empty() { "none".to_string() } else { known.join(", ") }
                        )),
                );
            }
            let Some(kind) = kinds::lookup(&r.type_name.name) else {
                let mut d = Diagnostic::error(format!("unknown resource type `{}`", r.type_name.name))
                    .at(Some(r.type_name.loc.clone()))
                    .address(&addr);
                if let Some(s) =
                    crate::config::suggest_name(&r.type_name.name, kinds::registry().iter().map(|k| k.type_name()))
                {
                    d = d.hint(format!("did you mean `{s}`?"));
                }
                diags.push(d);
                continue;
            };
            let schema = kind.schema();
            for (name, _) in &r.properties {
                match schema.get(&name.name) {
                    Some(p) if p.is_input() => {}
                    Some(_) => diags.push(
                        Diagnostic::error(format!("`{}` is set by AWS and cannot be configured", name.name))
                            .at(Some(name.loc.clone()))
                            .address(&addr),
                    ),
                    None => {
                        let mut d =
                            Diagnostic::error(format!("unknown property `{}` for {}", name.name, r.type_name.name))
                                .at(Some(name.loc.clone()))
                                .address(&addr);
                        d = match crate::config::suggest_name(&name.name, schema.input_names()) {
                            Some(s) => d.hint(format!("did you mean `{s}`?")),
                            None => {
                                d.hint(format!("properties: {}", schema.input_names().collect::<Vec<_>>().join(", ")))
                            }
                        };
                        diags.push(d);
                    }
                }
            }
            for p in schema.props.iter().filter(|p| p.mode == kinds::schema::Mode::Required) {
                if !r.properties.iter().any(|(n, _)| n.name == p.name) {
                    diags.push(
                        Diagnostic::error(format!("missing required property `{}`", p.name))
                            .at(Some(r.name.loc.clone()))
                            .address(&addr),
                    );
                }
            }
        }
    }
}
