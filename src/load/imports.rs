//! Root-module `imports:` resolved against the evaluated configuration:
//! which instance, which id, which kind, which AWS region. Every problem is
//! located at the entry and reported at once, before any AWS call.

use crate::address::{self, InstanceAddr, Key, Selector};
use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::eval::{Desired, Evaluator, Scope};
use crate::graph::Node;
use crate::value::Value;
use std::collections::BTreeMap;

/// One object to adopt.
#[derive(Clone, Debug)]
pub struct ImportTarget {
    pub addr: InstanceAddr,
    pub id: String,
    pub type_name: String,
    /// The AWS region the object is read in.
    pub region: String,
    /// The `imports:` entry (none for `standby import`).
    pub loc: Option<Location>,
    /// No resource block exists yet: `plan --generate-config-out` writes one.
    pub generate: bool,
}

/// Resolves every `imports:` entry. `generate` allows targets without a
/// resource block (root module, no count/for_each), for `--generate-config-out`.
pub fn resolve(ev: &Evaluator<'_>, desired: &[&Desired], generate: bool, diags: &mut Diagnostics) -> Vec<ImportTarget> {
    let root = ev.tree.root();
    let primary_region = ev.regions.first().and_then(|r| r.get("primary")).map(String::as_str);
    // Ids may use root variables: evaluate those (problems with them are
    // reported where the variables are checked).
    let mut scope = Scope::new(ev.tree.modules.len());
    for &id in &ev.graph.order {
        if matches!(ev.graph.nodes[id], Node::Var { module: 0, .. }) {
            let _ = ev.eval_node(id, &mut scope);
        }
    }
    let scope = &scope;
    let mut out: Vec<ImportTarget> = Vec::new();
    let by_addr: BTreeMap<&InstanceAddr, &Desired> = desired.iter().map(|d| (&d.addr, *d)).collect();
    for imp in &root.imports {
        let at = imp.to.loc.clone();
        let err = |m: String| Diagnostic::error(m).at(Some(at.clone())).address(&imp.to.name);
        let addr = match address::parse(&imp.to.name) {
            Ok(Selector::Instance(i)) => i,
            Ok(Selector::Block(b)) => b.instance(Key::None),
            Ok(Selector::Module(_)) => {
                diags.push(err("an import must name one resource instance, not a module".into()));
                continue;
            }
            Err(e) => {
                diags.push(err(e));
                continue;
            }
        };
        let what = format!("import to {addr}");
        let id = match ev.eval_root(&imp.id, &what, scope) {
            Err(d) => {
                diags.push(d);
                continue;
            }
            Ok(sv) if sv.sensitive => {
                diags.push(
                    Diagnostic::error("an import id cannot use a sensitive value: it shows in plans and state")
                        .at(Some(imp.id.loc.clone()))
                        .address(addr.to_string()),
                );
                continue;
            }
            Ok(sv) => match sv.value {
                Value::String(s) if !s.is_empty() => s,
                other => {
                    let why = if other.has_unknown() {
                        "is known only after apply".to_string()
                    } else if other.is_null() {
                        "is null".to_string()
                    } else if matches!(other, Value::String(_)) {
                        "is empty".to_string()
                    } else {
                        format!("is a {}", other.type_name())
                    };
                    diags.push(
                        Diagnostic::error(format!("an import id must be a string known before apply, but it {why}"))
                            .at(Some(imp.id.loc.clone()))
                            .address(addr.to_string()),
                    );
                    continue;
                }
            },
        };
        if let Some(first) = out.iter().find(|t| t.addr == addr) {
            let first = first.loc.as_ref().map(|l| l.to_string()).unwrap_or_default();
            diags.push(err(format!("two imports to {addr} (the first is at {first})")));
            continue;
        }
        let (type_name, region, gen_block) = match by_addr.get(&addr) {
            Some(d) => (d.kind.type_name().to_string(), d.region.clone(), false),
            None => {
                let declared = desired.iter().any(|d| d.addr.block == addr.block);
                let kind = crate::kinds::lookup(&addr.block.type_name);
                if declared {
                    diags.push(err(format!(
                        "{addr} is not an instance of {}: its count/for_each makes no such key",
                        addr.block
                    )));
                    continue;
                }
                let Some(kind) = kind else {
                    diags.push(err(format!("unknown resource type `{}`", addr.block.type_name)));
                    continue;
                };
                if !generate {
                    diags.push(err(format!("no resource block for {addr} in the configuration")).hint(
                        "write the resource block, or run `standby plan --generate-config-out FILE.yaml` \
                             to write one from what AWS reports (root-module resources only)",
                    ));
                    continue;
                }
                if !addr.block.module.is_empty() || addr.key != Key::None {
                    diags.push(err(format!(
                        "cannot generate configuration for {addr}: --generate-config-out writes blocks only for \
                         root-module resources without count/for_each; write this block in its module yourself"
                    )));
                    continue;
                }
                (kind.type_name().to_string(), primary_region.unwrap_or_default().to_string(), true)
            }
        };
        if crate::kinds::lookup(&type_name).is_some_and(|k| k.state_only()) {
            diags.push(err(format!("`{type_name}` lives only in standby's state: there is nothing to import")));
            continue;
        }
        if let Some(other) = out.iter().find(|t| t.type_name == type_name && t.id == id && t.region == region) {
            diags.push(err(format!(
                "{type_name} `{id}` is already imported to {}: one object can be managed at one address only",
                other.addr
            )));
            continue;
        }
        out.push(ImportTarget { addr, id, type_name, region, loc: Some(imp.loc.clone()), generate: gen_block });
    }
    out
}
