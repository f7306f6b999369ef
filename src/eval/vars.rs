//! Root variable values: `--var`, `--var-file`, `STANDBY_VAR_<name>`, then
//! defaults (first found wins).

use crate::config::{Module, VarType};
use crate::diag::{Diagnostic, Diagnostics};
use crate::value::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Prefix of environment variables that set root variables.
pub const ENV_PREFIX: &str = "STANDBY_VAR_";

#[derive(Clone, Debug, Default)]
pub struct VarInputs {
    /// `--var NAME=VALUE`, in order given.
    pub cli: Vec<String>,
    pub files: Vec<PathBuf>,
    /// Read `STANDBY_VAR_*` (tests turn it off to stay hermetic).
    pub use_env: bool,
    /// Missing required variables become unknown (for `validate`).
    pub allow_missing: bool,
    /// Missing required *sensitive* variables become unknown (for `drift`,
    /// which compares what it can without secrets it does not use).
    pub allow_missing_sensitive: bool,
}

/// A variable's value and whether it is sensitive.
#[derive(Clone, Debug)]
pub struct VarValue {
    pub value: Value,
    pub sensitive: bool,
}

/// Parses text given for a variable by its declared type.
fn parse_text(text: &str, ty: VarType) -> Result<Value, String> {
    match ty {
        VarType::String => Ok(Value::str(text)),
        VarType::Number => text.trim().parse::<i64>().map(Value::int).or_else(|_| {
            text.trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("`{text}` is not a number"))
        }),
        VarType::Bool => match text.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("`{text}` is not true or false")),
        },
        VarType::List | VarType::Map | VarType::Any => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(j) => Ok(Value::from_json(&j)),
            Err(_) if ty == VarType::Any => Ok(Value::str(text)),
            Err(e) => Err(format!("expected a JSON {}: {e}", ty.name())),
        },
    }
}

/// A parse error, without the value when the variable is sensitive.
fn shown(root: &Module, name: &str, message: String, ty: VarType) -> String {
    if root.variable(name).is_some_and(|v| v.sensitive) {
        format!("not a valid {} (value hidden: the variable is sensitive)", ty.name())
    } else {
        message
    }
}

/// Checks a value against a declared type.
pub fn check_type(v: &Value, ty: VarType) -> Result<(), String> {
    let ok = matches!(
        (ty, v),
        (VarType::Any, _)
            | (_, Value::Unknown)
            | (VarType::String, Value::String(_))
            | (VarType::Number, Value::Number(_))
            | (VarType::Bool, Value::Bool(_))
            | (VarType::List, Value::List(_))
            | (VarType::Map, Value::Map(_))
    );
    if ok { Ok(()) } else { Err(format!("expected {}, got {}", ty.name(), v.type_name())) }
}

/// Resolves every root variable except those with only a default (the
/// evaluator takes defaults from the configuration). Reports all problems.
pub fn resolve(root: &Module, inputs: &VarInputs) -> (BTreeMap<String, Value>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut given: BTreeMap<String, Value> = BTreeMap::new();
    let declared = |name: &str, diags: &mut Diagnostics, from: &str| -> Option<VarType> {
        match root.variable(name) {
            Some(v) => Some(v.ty),
            None => {
                let mut d = Diagnostic::error(format!("{from} sets undeclared variable `{name}`"));
                if let Some(s) = crate::config::suggest_name(name, root.variables.iter().map(|v| v.name.name.as_str()))
                {
                    d = d.hint(format!("did you mean `{s}`?"));
                }
                diags.push(d);
                None
            }
        }
    };
    // Lowest precedence first; later sources overwrite.
    if inputs.use_env {
        for v in &root.variables {
            if let Ok(text) = std::env::var(format!("{ENV_PREFIX}{}", v.name.name)) {
                match parse_text(&text, v.ty) {
                    Ok(val) => {
                        given.insert(v.name.name.clone(), val);
                    }
                    Err(e) => diags.push(Diagnostic::error(format!(
                        "{ENV_PREFIX}{}: {}",
                        v.name.name,
                        shown(root, &v.name.name, e, v.ty)
                    ))),
                }
            }
        }
    }
    for file in &inputs.files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::error(format!("cannot read --var-file {}: {e}", file.display())));
                continue;
            }
        };
        let src = crate::config::yaml_source(file);
        match marked_yaml::parse_yaml(0, &text) {
            Ok(node) => {
                let Some(map) = node.as_mapping() else {
                    diags.push(Diagnostic::error(format!(
                        "--var-file {} must be a mapping of variable names to values",
                        file.display()
                    )));
                    continue;
                };
                for (k, n) in map.iter() {
                    let from = format!("{}", src.loc(k.span()));
                    let Some(ty) = declared(k.as_str(), &mut diags, &from) else { continue };
                    let mut d2 = Diagnostics::default();
                    let e = src.expr(n, &mut d2);
                    diags.extend(d2);
                    match crate::eval::literal(&e) {
                        Some(v) => match check_type(&v, ty) {
                            Ok(()) => {
                                given.insert(k.as_str().to_string(), v);
                            }
                            Err(m) => {
                                diags.push(Diagnostic::error(format!("variable `{}`: {m}", k.as_str())).at(Some(e.loc)))
                            }
                        },
                        None => diags
                            .push(Diagnostic::error("variable files cannot contain ${…} references").at(Some(e.loc))),
                    }
                }
            }
            Err(_) => {
                diags.push(Diagnostic::error(format!("--var-file {} is not a valid YAML mapping", file.display())))
            }
        }
    }
    for item in &inputs.cli {
        let Some((name, text)) = item.split_once('=') else {
            diags.push(Diagnostic::error(format!("--var `{item}`: expected NAME=VALUE")));
            continue;
        };
        let Some(ty) = declared(name, &mut diags, "--var") else { continue };
        match parse_text(text, ty) {
            Ok(v) => {
                given.insert(name.to_string(), v);
            }
            Err(e) => diags.push(Diagnostic::error(format!("--var {name}: {}", shown(root, name, e, ty)))),
        }
    }
    for v in &root.variables {
        if v.default.is_none() && !given.contains_key(&v.name.name) {
            if inputs.allow_missing || (inputs.allow_missing_sensitive && v.sensitive) {
                given.insert(v.name.name.clone(), Value::Unknown);
                continue;
            }
            diags.push(
                Diagnostic::error(format!("no value for required variable `{}`", v.name.name))
                    .at(Some(v.name.loc.clone()))
                    .address(format!("var.{}", v.name.name))
                    .hint(format!("set it with --var {0}=…, a --var-file, or {ENV_PREFIX}{0}", v.name.name)),
            );
        }
    }
    (given, diags)
}
