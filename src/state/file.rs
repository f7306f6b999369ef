//! The state file format: JSON with a format `version`. Reading sniffs the
//! version and upgrades older formats step by step; newer ones are refused.
//! Writing is atomic (temp file, fsync, rename) and keeps a backup.
//!
//! Format history:
//! - 1: the first draft: `resources` as a map from address to
//!   `{type, region, id, attributes}`; no salt, status or dependencies.
//! - 2: `resources` as a list with address parts, `status`,
//!   `sensitive_attributes` (salted hashes), `dependencies`; `salt`.
//!   Later additions that older readers may ignore: `adopted` (imported),
//!   `found` (an adopted resource as found at import), `roles` (the active region and the last switchover/failover run).

use super::{Instance, OutputState, State, Status};
use crate::address::{self, InstanceAddr, Key, Selector};

use crate::value::Value;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const FORMAT_VERSION: u64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write state {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("state {path} is not valid: {why}")]
    Invalid { path: PathBuf, why: String },
    #[error(
        "state {path} has format version {found}, newer than this standby understands ({FORMAT_VERSION}); upgrade standby"
    )]
    TooNew { path: PathBuf, found: u64 },
    /// A compare-and-swap write found the stored state changed since it was read.
    #[error("state {location} was not written: {why}")]
    Conflict { location: String, why: String },
    #[error("journal {location}: {why}")]
    Journal { location: String, why: String },
    /// The remote store failed (after the SDK's retries).
    #[error("state {location}: {why}")]
    Remote { location: String, why: String },
}

#[derive(Serialize, Deserialize)]
struct FileV2 {
    version: u64,
    serial: u64,
    lineage: String,
    standby_version: String,
    salt: String,
    resources: Vec<ResourceV2>,
    #[serde(default)]
    outputs: BTreeMap<String, OutputState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    roles: Option<super::roles::Roles>,
}

#[derive(Serialize, Deserialize)]
struct ResourceV2 {
    address: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    module: String,
    #[serde(rename = "type")]
    type_name: String,
    name: String,
    #[serde(default, skip_serializing_if = "Json::is_null")]
    index: Json,
    region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default)]
    status: Status,
    attributes: Json,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    sensitive_attributes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    dependencies: Vec<String>,
    /// Imported rather than created (absent: created by standby).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    adopted: bool,
    /// An adopted resource's attributes as found at import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    found: Option<Json>,
}

/// Reads state; a missing file is an empty state.
pub fn read(path: &Path) -> Result<State, StateError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::new()),
        Err(source) => return Err(StateError::Read { path: path.into(), source }),
    };
    parse(path, &text)
}

pub fn parse(path: &Path, text: &str) -> Result<State, StateError> {
    let invalid = |why: String| StateError::Invalid { path: path.into(), why };
    let mut doc: Json = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let version = doc.get("version").and_then(Json::as_u64).ok_or_else(|| invalid("no `version` field".into()))?;
    if version > FORMAT_VERSION {
        return Err(StateError::TooNew { path: path.into(), found: version });
    }
    if version < 1 {
        return Err(invalid(format!("unknown format version {version}")));
    }
    if version == 1 {
        doc = upgrade_v1(doc).map_err(invalid)?;
    }
    let file: FileV2 = serde_json::from_value(doc).map_err(|e| invalid(e.to_string()))?;
    let mut resources = BTreeMap::new();
    for r in file.resources {
        let (addr, inst) = from_record(r).map_err(invalid)?;
        resources.insert(addr, inst);
    }
    Ok(State {
        serial: file.serial,
        lineage: file.lineage,
        salt: file.salt,
        resources,
        outputs: file.outputs,
        roles: file.roles,
    })
}

/// Version 1 → 2: the resource map becomes a list; salt and status added.
fn upgrade_v1(mut doc: Json) -> Result<Json, String> {
    let obj = doc.as_object_mut().ok_or("state must be a JSON object")?;
    let old = obj.remove("resources").unwrap_or(Json::Object(Default::default()));
    let old = old.as_object().ok_or("version 1 `resources` must be an object")?;
    let mut list = Vec::new();
    for (addr, r) in old {
        let parsed = match address::parse(addr) {
            Ok(Selector::Instance(i)) => i,
            Ok(Selector::Block(b)) => b.instance(Key::None),
            _ => return Err(format!("bad resource address {addr:?}")),
        };
        list.push(serde_json::json!({
            "address": addr,
            "module": address::module_path(&parsed.block.module),
            "type": r.get("type").cloned().unwrap_or(Json::String(parsed.block.type_name.clone())),
            "name": parsed.block.name,
            "index": parsed.key.to_json(),
            "region": r.get("region").cloned().unwrap_or(Json::String(String::new())),
            "id": r.get("id").cloned().unwrap_or(Json::Null),
            "status": "ready",
            "attributes": r.get("attributes").cloned().unwrap_or(Json::Object(Default::default())),
        }));
    }
    obj.insert("resources".into(), Json::Array(list));
    obj.insert("version".into(), 2.into());
    obj.entry("salt").or_insert_with(|| Json::String(crate::ids::random_id()));
    obj.entry("standby_version").or_insert_with(|| Json::String("unknown".into()));
    Ok(doc)
}

fn from_record(r: ResourceV2) -> Result<(InstanceAddr, Instance), String> {
    let addr = instance_addr(&r.address).ok_or_else(|| format!("bad resource address {:?}", r.address))?;
    let attrs = match Value::from_json(&r.attributes) {
        Value::Map(m) => m,
        _ => return Err(format!("{}: attributes must be an object", r.address)),
    };
    let inst = Instance {
        type_name: r.type_name,
        region: r.region,
        id: r.id,
        status: r.status,
        attrs,
        sensitive: r.sensitive_attributes,
        deps: r.dependencies,
        adopted: r.adopted,
        found: match r.found.as_ref().map(Value::from_json) {
            None => None,
            Some(Value::Map(m)) => Some(m),
            Some(_) => return Err(format!("{}: found must be an object", r.address)),
        },
    };
    Ok((addr, inst))
}

fn to_record(addr: &InstanceAddr, r: &Instance) -> ResourceV2 {
    ResourceV2 {
        address: addr.to_string(),
        module: address::module_path(&addr.block.module),
        type_name: r.type_name.clone(),
        name: addr.block.name.clone(),
        index: addr.key.to_json(),
        region: r.region.clone(),
        id: r.id.clone(),
        status: r.status,
        attributes: Value::Map(r.attrs.clone()).to_json(),
        sensitive_attributes: r.sensitive.clone(),
        dependencies: r.deps.clone(),
        adopted: r.adopted,
        found: r.found.as_ref().map(|f| Value::Map(f.clone()).to_json()),
    }
}

/// One resource as a JSON value (the journal's record body).
pub fn resource_json(addr: &InstanceAddr, r: &Instance) -> Json {
    serde_json::to_value(to_record(addr, r)).unwrap_or(Json::Null)
}

pub fn resource_from_json(j: Json) -> Result<(InstanceAddr, Instance), String> {
    from_record(serde_json::from_value(j).map_err(|e| e.to_string())?)
}

pub fn to_json(state: &State) -> String {
    let resources = state.resources.iter().map(|(a, r)| to_record(a, r)).collect();
    let file = FileV2 {
        version: FORMAT_VERSION,
        serial: state.serial,
        lineage: state.lineage.clone(),
        standby_version: env!("CARGO_PKG_VERSION").into(),
        salt: state.salt.clone(),
        resources,
        outputs: state.outputs.clone(),
        roles: state.roles.clone(),
    };
    let mut out = serde_json::to_string_pretty(&file).unwrap_or_default();
    out.push('\n');
    out
}

/// The backup kept beside the state: the previous version.
pub fn backup_path(path: &Path) -> PathBuf {
    sibling(path, ".backup")
}

pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Writes the state atomically: temp file, fsync, backup, rename, fsync dir.
/// Bumps the serial.
pub fn write(path: &Path, state: &mut State) -> Result<(), StateError> {
    state.serial = state.serial.saturating_add(1);
    store(path, state)
}

/// Writes the state as it is (serial unchanged), atomically, with a backup.
pub fn store(path: &Path, state: &State) -> Result<(), StateError> {
    let werr = |source| StateError::Write { path: path.into(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(werr)?;
    }
    let tmp = sibling(path, &format!(".tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = open_private(&tmp)?;
        f.write_all(to_json(state).as_bytes())?;
        f.sync_all()?;
        if path.exists() {
            let backup = backup_path(path);
            std::fs::copy(path, &backup)?;
            set_private(&backup)?;
        }
        std::fs::rename(&tmp, path)?;
        sync_dir(path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(werr)
}

/// Opens a new file readable only by its owner (state can name resources
/// worth protecting even without secrets).
pub fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let f = opts.open(path)?;
    set_private(path)?;
    Ok(f)
}

fn set_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

pub fn sync_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Parses an address from state, for tests and tools.
pub fn instance_addr(text: &str) -> Option<InstanceAddr> {
    match address::parse(text).ok()? {
        Selector::Instance(i) => Some(i),
        Selector::Block(b) => Some(b.instance(Key::None)),
        Selector::Module(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_bumps_serial() {
        let dir = std::env::temp_dir().join(format!("standby-state-{}", crate::ids::random_id()));
        let path = dir.join("s.json");
        let mut s = State::new();
        let addr = instance_addr("module.m.standby_data.x[2]").unwrap();
        let mut attrs = crate::value::Attrs::new();
        attrs.insert("input".into(), Value::str("v"));
        s.resources.insert(
            addr.clone(),
            Instance {
                type_name: "standby_data".into(),
                region: "us-west-1".into(),
                id: Some("i".into()),
                status: Status::Ready,
                attrs,
                sensitive: BTreeMap::new(),
                deps: vec![],
                adopted: false,
                found: None,
            },
        );
        write(&path, &mut s).unwrap();
        write(&path, &mut s).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.serial, 2);
        assert!(backup_path(&path).exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refuses_newer_formats() {
        let err = parse(Path::new("s.json"), r#"{"version": 99}"#).unwrap_err();
        assert!(err.to_string().contains("newer than this standby"), "{err}");
    }
}
