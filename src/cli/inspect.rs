//! `validate`, `graph`, `show`, `output`, `state …`, `force-unlock`, `policy`.

use super::args::{GraphView, VarArgs};
use super::{Settings, read_state, var_inputs};
use crate::address::{self, Selector};
use crate::error::Error;
use crate::load;
use crate::render;
use crate::state::backend;
use crate::state::{self, State, file};
use crate::value::Value;
use std::io::Write;
use std::path::Path;

pub fn validate(dir: &Path, vars: &VarArgs) -> Result<u8, Error> {
    let mut inputs = var_inputs(vars);
    inputs.allow_missing = true;
    let loaded = load::load(dir, &inputs).map_err(Error::Config)?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    let count: usize = loaded.tree.modules.iter().map(|m| m.module.resources.len()).sum();
    println!(
        "Success! The configuration is valid ({count} resource block{}, {} module{}).",
        if count == 1 { "" } else { "s" },
        loaded.tree.modules.len(),
        if loaded.tree.modules.len() == 1 { "" } else { "s" }
    );
    Ok(0)
}

pub async fn graph(s: &Settings, dir: &Path, view: GraphView, out: Option<&Path>, vars: &VarArgs) -> Result<u8, Error> {
    let mut inputs = var_inputs(vars);
    inputs.allow_missing = true;
    let loaded = load::load(dir, &inputs).map_err(Error::Config)?;
    let dot = match view {
        GraphView::Dependencies => loaded.graph.to_dot(&loaded.tree),
        GraphView::Topology => {
            // Read-only, no lock; a configuration never applied has no
            // state to mark against.
            let st = read_state(&*s.backend(dir, None).await?, false).await?;
            let st = (st.serial > 0 || !st.resources.is_empty()).then_some(st);
            let (instances, _) = load::instances(&loaded);
            render::topology::dot(&crate::topology::build(&loaded, &instances, st.as_ref()))
        }
    };
    match out {
        None => print!("{dot}"),
        Some(path) if path.extension().is_some_and(|e| e == "svg") => svg(&dot, path)?,
        Some(path) => {
            std::fs::write(path, dot).map_err(|e| Error::Io(format!("cannot write {}: {e}", path.display())))?
        }
    }
    Ok(0)
}

/// Renders DOT to SVG with Graphviz's `dot`.
fn svg(dot: &str, path: &Path) -> Result<(), Error> {
    use std::io::Write;
    let mut child = std::process::Command::new("dot")
        .args(["-Tsvg", "-o"])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::Usage(format!(
                "cannot run Graphviz's `dot` ({e}): install Graphviz (e.g. `apt-get install graphviz`), or write DOT with \
                 --out FILE.dot and render it elsewhere"
            ))
        })?;
    child.stdin.take().map(|mut i| i.write_all(dot.as_bytes()));
    let status = child.wait().map_err(|e| Error::Usage(format!("Graphviz's `dot` failed: {e}")))?;
    if !status.success() {
        return Err(Error::Usage(format!("Graphviz's `dot` failed ({status}) writing {}", path.display())));
    }
    Ok(())
}

pub async fn show(s: &Settings, planfile: Option<&Path>, json: bool, dir: &Path) -> Result<u8, Error> {
    if let Some(p) = planfile {
        let pf = crate::plan::file::read(p)?;
        if json {
            println!("{}", serde_json::to_string_pretty(&render::json::render(&pf.plan)).unwrap_or_default());
        } else {
            print!("{}", render::human::render(&pf.plan, &s.style()));
        }
        return Ok(0);
    }
    let st = read_state(&*s.backend(dir, None).await?, false).await?;
    if json {
        print!("{}", file::to_json(&st));
        return Ok(0);
    }
    if st.resources.is_empty() {
        println!("The state is empty.");
        return Ok(0);
    }
    for addr in st.resources.keys() {
        print!("{}", describe(&st, &addr.to_string()).unwrap_or_default());
        println!();
    }
    super::run::print_outputs(&st);
    Ok(0)
}

/// A resource from state, Terraform style; sensitive values hidden.
fn describe(st: &State, address: &str) -> Option<String> {
    let addr = file::instance_addr(address)?;
    let r = st.resources.get(&addr)?;
    let mut out = format!("# {address}: ({})\nresource \"{}\" \"{}\" {{\n", r.region, r.type_name, addr.block.name);
    let mut rows: Vec<(String, String)> = Vec::new();
    if let Some(id) = &r.id {
        rows.push(("id".into(), format!("{id:?}")));
    }
    if r.status != state::Status::Ready {
        rows.push(("# status".into(), "pending (an apply stopped while creating it)".into()));
    }
    for (k, v) in &r.attrs {
        if k == "id" {
            continue;
        }
        let text = match v {
            Value::String(s) => format!("{s:?}"),
            other => serde_json::to_string_pretty(&other.to_json()).unwrap_or_default(),
        };
        rows.push((k.clone(), text));
    }
    for k in r.sensitive.keys() {
        rows.push((k.clone(), render::lines::SENSITIVE.into()));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        out.push_str(&format!("    {k:width$} = {}\n", v.replace('\n', "\n    ")));
    }
    out.push_str("}\n");
    Some(out)
}

pub async fn output(s: &Settings, name: Option<&str>, json: bool, dir: &Path) -> Result<u8, Error> {
    let st = read_state(&*s.backend(dir, None).await?, false).await?;
    let shown = |o: &state::OutputState| -> serde_json::Value {
        if o.sensitive {
            serde_json::Value::String(render::lines::SENSITIVE.into())
        } else {
            o.value.clone().unwrap_or_default()
        }
    };
    match name {
        Some(n) => {
            let o = st.outputs.get(n).ok_or_else(|| {
                let names: Vec<&str> = st.outputs.keys().map(String::as_str).collect();
                Error::Usage(format!(
                    "no output named `{n}` (outputs: {})",
                    if names.is_empty() { "none".into() } else { names.join(", ") }
                ))
            })?;
            let v = shown(o);
            match (&v, json) {
                (serde_json::Value::String(text), false) => println!("{text}"),
                _ => println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
            }
        }
        None if json => {
            let all: serde_json::Map<String, serde_json::Value> = st
                .outputs
                .iter()
                .map(|(k, o)| (k.clone(), serde_json::json!({"sensitive": o.sensitive, "value": if o.sensitive { serde_json::Value::Null } else { shown(o) }})))
                .collect();
            println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
        }
        None => super::run::print_outputs(&st),
    }
    Ok(0)
}

pub async fn force_unlock(s: &Settings, id: &str, dir: &Path) -> Result<u8, Error> {
    let info = s.backend(dir, None).await?.force_unlock(id).await?;
    println!(
        "The state lock {} ({} by {}@{}, pid {}) has been removed.",
        info.id, info.operation, info.who, info.host, info.pid
    );
    Ok(0)
}

fn selector(text: &str) -> Result<Selector, Error> {
    address::parse(text).map_err(Error::Usage)
}

pub async fn state_list(s: &Settings, filters: &[String], dir: &Path) -> Result<u8, Error> {
    let st = read_state(&*s.backend(dir, None).await?, false).await?;
    let sels = filters.iter().map(|f| selector(f)).collect::<Result<Vec<_>, _>>()?;
    for (addr, r) in &st.resources {
        if sels.is_empty() || sels.iter().any(|sel| sel.matches(addr)) {
            let note = if r.status == state::Status::Pending { "  (pending)" } else { "" };
            println!("{addr}{note}");
        }
    }
    Ok(0)
}

pub async fn state_show(s: &Settings, address: &str, dir: &Path) -> Result<u8, Error> {
    selector(address)?;
    let st = read_state(&*s.backend(dir, None).await?, false).await?;
    match describe(&st, address) {
        Some(text) => {
            print!("{text}");
            Ok(0)
        }
        None => Err(Error::Usage(format!("no resource `{address}` in state (see `standby state list`)"))),
    }
}

/// Runs an edit on the state under the lock and writes it.
async fn edit(
    s: &Settings,
    dir: &Path,
    op: &str,
    f: impl FnOnce(&mut State) -> Result<(), Error>,
) -> Result<u8, Error> {
    let b = s.backend(dir, None).await?;
    let _lock = b.lock(op).await?;
    let mut st = read_state(&*b, true).await?;
    f(&mut st)?;
    backend::write(&*b, &mut st).await?;
    Ok(0)
}

pub async fn state_rm(s: &Settings, addresses: &[String], dir: &Path) -> Result<u8, Error> {
    let sels = addresses.iter().map(|a| selector(a)).collect::<Result<Vec<_>, _>>()?;
    edit(s, dir, "state rm", |st| {
        let gone: Vec<_> = st.resources.keys().filter(|a| sels.iter().any(|sel| sel.matches(a))).cloned().collect();
        if gone.is_empty() {
            return Err(Error::Usage(format!("no resource in state matches {}", addresses.join(", "))));
        }
        for a in &gone {
            st.resources.remove(a);
            println!("Removed {a} (it still exists in AWS; standby no longer manages it)");
        }
        Ok(())
    })
    .await
}

pub async fn state_mv(s: &Settings, source: &str, destination: &str, dir: &Path) -> Result<u8, Error> {
    let (src, dst) = (selector(source)?, selector(destination)?);
    edit(s, dir, "state mv", |st| {
        let moves: Vec<(address::InstanceAddr, address::InstanceAddr)> = match (&src, &dst) {
            (Selector::Instance(a), Selector::Instance(b)) => vec![(a.clone(), b.clone())],
            (Selector::Instance(a), Selector::Block(b)) => vec![(a.clone(), b.instance(address::Key::None))],
            (Selector::Block(a), Selector::Block(b)) => {
                st.resources.keys().filter(|k| &k.block == a).map(|k| (k.clone(), b.instance(k.key.clone()))).collect()
            }
            _ => return Err(Error::Usage("state mv moves a resource or one instance to a resource address".into())),
        };
        if moves.is_empty() || moves.iter().any(|(a, _)| !st.resources.contains_key(a)) {
            return Err(Error::Usage(format!("no resource `{source}` in state")));
        }
        for (a, b) in &moves {
            if st.resources.contains_key(b) {
                return Err(Error::Usage(format!("`{b}` already exists in state")));
            }
            if st.resources[a].type_name != b.block.type_name {
                return Err(Error::Usage(format!(
                    "cannot move a {} to a {}",
                    st.resources[a].type_name, b.block.type_name
                )));
            }
        }
        for (a, b) in &moves {
            if let Some(r) = st.resources.remove(a) {
                println!("Moved {a} to {b}");
                st.resources.insert(b.clone(), r);
            }
        }
        // Recorded dependencies name blocks: follow a whole-block move.
        if let (Selector::Block(from), Selector::Block(to)) = (&src, &dst) {
            let (from, to) = (from.to_string(), to.to_string());
            for r in st.resources.values_mut() {
                for d in r.deps.iter_mut().filter(|d| **d == from) {
                    *d = to.clone();
                }
            }
        }
        Ok(())
    })
    .await
}

/// `standby policy`: the IAM policy of a role, for the kinds the
/// configuration declares (read as written: no variables needed) and its
/// backend.
pub fn policy(s: &Settings, dir: &Path, role: crate::permissions::policy::Role) -> Result<u8, Error> {
    let (tree, diags) = crate::config::load_tree(dir);
    if diags.has_errors() {
        return Err(Error::Config(diags.sorted()));
    }
    let kinds: std::collections::BTreeSet<&str> =
        tree.modules.iter().flat_map(|m| &m.module.resources).map(|r| r.type_name.name.as_str()).collect();
    let spec = s.backend_spec(dir)?;
    use crate::permissions::policy::Role;
    if spec.is_none() {
        let note = "the configuration keeps its state in a local file (no `backend:` block)";
        if matches!(role, Role::StateRead | Role::StateWrite) {
            return Err(Error::Usage(format!("{note}: there is no state bucket to grant access to")));
        }
        eprintln!("Note: {note}: the policy has no statement for the state.");
    }
    let doc = crate::permissions::policy::document(role, kinds, spec.as_ref());
    let _ = writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    Ok(0)
}
