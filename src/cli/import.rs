//! `standby import ADDR ID [DIR]`: adopt one object, state only.

use super::args::VarArgs;
use super::{Settings, read_state, var_inputs};
use crate::address::{self, Key, Selector};
use crate::error::Error;
use crate::load::{self, imports::ImportTarget};
use crate::plan::{imports, planner};
use std::path::Path;

pub async fn import(s: &Settings, addr_text: &str, id: &str, dir: &Path, vars: &VarArgs) -> Result<u8, Error> {
    let addr = match address::parse(addr_text) {
        Ok(Selector::Instance(i)) => i,
        Ok(Selector::Block(b)) => b.instance(Key::None),
        Ok(Selector::Module(_)) => return Err(Error::Usage("import: ADDR must name a resource, not a module".into())),
        Err(e) => return Err(Error::Usage(format!("import: {e}"))),
    };
    if id.is_empty() {
        return Err(Error::Usage("import: ID is empty".into()));
    }
    let loaded = load::load(dir, &var_inputs(vars)).map_err(Error::Config)?;
    let Some((type_name, region)) = loaded.instances.get(&addr.to_string()).cloned() else {
        return Err(Error::Usage(format!(
            "import: {addr} is not in the configuration in {}: write its resource block first (standby imports \
             into a block that exists, like terraform import)",
            dir.display()
        )));
    };
    if crate::kinds::lookup(&type_name).is_some_and(|k| k.state_only()) {
        return Err(Error::Usage(format!("import: `{type_name}` lives only in standby's state: nothing to import")));
    }
    let backend = s.backend(dir, None).await?;
    let _lock = backend.lock("import").await?;
    let mut st = read_state(&*backend, true).await?;
    if st.resources.contains_key(&addr) {
        return Err(Error::Usage(format!(
            "import: {addr} is already managed (id {}); `standby state rm {addr}` first to adopt another object there",
            st.resources[&addr].id.as_deref().unwrap_or("?")
        )));
    }
    let target = ImportTarget { addr: addr.clone(), id: id.to_string(), type_name, region, loc: None, generate: false };
    let aws = s.aws.clone();
    let opts = planner::Options { refresh: false, ..Default::default() };
    let found = imports::read_all(&loaded, &mut st, &aws, &[target], &opts).await?;
    // The same rules as an import in a plan: nothing that would replace it.
    let opts = planner::Options {
        refresh: false,
        importing: found.importing,
        targets: vec![Selector::Instance(addr.clone())],
        ..Default::default()
    };
    let plan = planner::plan(&loaded, &st, Vec::new(), &opts)?;
    crate::state::backend::write(&*backend, &mut st).await?;
    let change = plan.changes.iter().find(|c| c.address == addr.to_string());
    println!("{addr}: imported {id:?}; it is adopted, and protected from deletion.");
    if let Some(c) = change.filter(|c| !c.changed.is_empty()) {
        let list: Vec<&str> = c.changed.iter().map(String::as_str).collect();
        println!(
            "The configuration differs from what AWS reports in: {}. Run `standby plan` to review.",
            list.join(", ")
        );
    }
    if let Some(unknown) = change.and_then(|c| c.importing.as_ref()).filter(|i| !i.unknown.is_empty()) {
        println!(
            "AWS never returns {}: unknown to standby, left as they are unless the configuration sets them.",
            unknown.unknown.join(", ")
        );
    }
    Ok(0)
}
