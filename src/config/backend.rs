//! The root module's `backend:` block: where the state lives.
//!
//! ```yaml
//! backend:
//!   s3: { bucket: acme-standby-state, key: mattermost/dr.json, region: us-east-2 }
//! ```
//!
//! Settings are plain strings (no `${…}`: the backend is needed before
//! anything is evaluated); `--backend-config KEY=VALUE` overrides them.
//! Without a block the state is the local file.

use super::yaml::{Source, suggest};
use crate::diag::{Diagnostic, Diagnostics};
use marked_yaml::{LoaderOptions, Node};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Backend types standby knows.
pub const TYPES: &[&str] = &["s3"];
/// Settings of the `s3` backend.
pub const S3_KEYS: &[&str] = &["bucket", "key", "region", "kms_key_id"];

/// A backend as written: its type and settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendBlock {
    pub type_name: String,
    pub settings: BTreeMap<String, String>,
    /// `file:line:col` of the block, for messages.
    pub at: String,
}

/// Reads a `backend:` node; problems go to `diags`.
pub fn parse(src: &Source, node: &Node, diags: &mut Diagnostics) -> Option<BackendBlock> {
    let map = src.mapping(node, "backend", diags)?;
    let mut found = None;
    for (k, v) in map.iter() {
        let ty = k.as_str();
        if !TYPES.contains(&ty) {
            let mut d = Diagnostic::error(format!("unknown backend type `{ty}`")).at(Some(src.loc(k.span())));
            d = match suggest(ty, TYPES.iter().copied()) {
                Some(s) => d.hint(format!("did you mean `{s}`?")),
                None => {
                    d.hint(format!("backends: {} (leave `backend:` out for the local state file)", TYPES.join(", ")))
                }
            };
            diags.push(d);
            continue;
        }
        if found.is_some() {
            diags.push(Diagnostic::error("a configuration has one backend").at(Some(src.loc(k.span()))));
            continue;
        }
        let mut settings = BTreeMap::new();
        if let Some(m) = src.mapping(v, "backend `s3`", diags) {
            src.check_keys(m, S3_KEYS, "backend `s3`", None, diags);
            for (sk, sv) in m.iter() {
                if !S3_KEYS.contains(&sk.as_str()) {
                    continue;
                }
                let Some(val) = src.string(sv, &format!("backend setting `{}`", sk.as_str()), diags) else { continue };
                if val.name.contains("${") {
                    diags.push(
                        Diagnostic::error(format!(
                            "backend setting `{}` cannot use references: the backend is read before anything is evaluated",
                            sk.as_str()
                        ))
                        .at(Some(val.loc.clone()))
                        .hint("give it with --backend-config KEY=VALUE instead"),
                    );
                    continue;
                }
                settings.insert(sk.as_str().to_string(), val.name);
            }
        }
        let loc = src.loc(k.span());
        found = Some(BackendBlock {
            type_name: ty.to_string(),
            settings,
            at: format!("{}:{}:{}", loc.file.display(), loc.line, loc.col),
        });
    }
    found
}

/// The backend block of the root module in `dir`, read on its own (without
/// loading the whole configuration): state commands need it even when the
/// configuration does not validate.
pub fn read_root(dir: &Path) -> Result<Option<BackendBlock>, Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect(),
        // No configuration directory: no backend block.
        Err(_) => return Ok(None),
    };
    files.sort();
    let mut found: Option<BackendBlock> = None;
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        // Cheap filter: most files have no backend at all.
        if !text.lines().any(|l| l.starts_with("backend:")) {
            continue;
        }
        let opts = LoaderOptions::default().toplevel_mapping().prevent_coercion(true);
        let Ok(Node::Mapping(top)) = marked_yaml::parse_yaml_with_options(0, &text, opts) else { continue };
        let src = Source { file: Arc::new(file.clone()) };
        if let Some(n) = top.get("backend")
            && let Some(b) = parse(&src, n, &mut diags)
        {
            if let Some(first) = &found {
                diags.push(Diagnostic::error(format!("a second `backend:` block (the first is at {})", first.at)));
            }
            found = Some(b);
        }
    }
    if diags.has_errors() { Err(diags) } else { Ok(found) }
}
