//! Saved plans (`plan --out FILE`): the plan plus what apply needs to check
//! it still fits: the state's lineage and serial, and a hash of the
//! configuration and variables it was made from. No secret is saved:
//! sensitive variables are supplied again at apply and checked by hash.

use super::Plan;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub const PLANFILE_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct PlanFile {
    pub planfile_version: u32,
    /// The configuration directory, as given.
    pub config_dir: PathBuf,
    /// SHA-256 over the configuration files and the variable values.
    pub config_hash: String,
    pub state_path: PathBuf,
    pub plan: Plan,
    /// The state's resources as refreshed when planning: apply works from
    /// what the plan saw (no secrets: state never holds any).
    #[serde(default)]
    pub refreshed: Vec<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read plan file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0} is not a standby plan file: {1}")]
    Invalid(PathBuf, String),
    #[error("cannot write plan file {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

pub fn write(path: &Path, pf: &PlanFile) -> Result<(), PlanFileError> {
    let text = serde_json::to_string_pretty(pf).map_err(|e| PlanFileError::Invalid(path.into(), e.to_string()))?;
    let tmp = crate::state::file::sibling(path, ".tmp");
    std::fs::write(&tmp, text + "\n")
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| PlanFileError::Write(path.into(), e))
}

pub fn read(path: &Path) -> Result<PlanFile, PlanFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| PlanFileError::Read(path.into(), e))?;
    let pf: PlanFile = serde_json::from_str(&text).map_err(|e| PlanFileError::Invalid(path.into(), e.to_string()))?;
    if pf.planfile_version != PLANFILE_VERSION {
        return Err(PlanFileError::Invalid(
            path.into(),
            format!("unsupported plan file version {}", pf.planfile_version),
        ));
    }
    Ok(pf)
}

/// Hashes every YAML file of every module and the non-sensitive variable values.
pub fn config_hash(loaded: &crate::load::Loaded) -> String {
    let mut h = Sha256::new();
    for m in &loaded.tree.modules {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&m.module.dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        for f in files {
            h.update(f.file_name().map(|n| n.as_encoded_bytes().to_vec()).unwrap_or_default());
            h.update(std::fs::read(&f).unwrap_or_default());
        }
    }
    // Sensitive values stay out: a plan file must not carry a verifier of a
    // secret. They are supplied again at apply and evaluated then.
    let root = loaded.tree.root();
    for (k, v) in &loaded.vars {
        if root.variable(k).is_some_and(|d| d.sensitive) {
            continue;
        }
        h.update(k.as_bytes());
        h.update(v.to_json().to_string().as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
