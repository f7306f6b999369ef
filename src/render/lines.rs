//! The attribute lines of one resource change, shared by the human and
//! markdown renderers: `+ name = "x"`, `~ name = "a" -> "b"`, and unified
//! line diffs for JSON documents and multi-line strings.

use crate::plan::{Action, ResourceChange};
use crate::value::Value;
use similar::{ChangeTag, TextDiff};

/// One output line: a sign (`+`, `-`, `~`, ` `) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub sign: char,
    pub text: String,
}

pub const SENSITIVE: &str = "(sensitive)";
pub const UNKNOWN: &str = "(known after apply)";

fn line(sign: char, text: String) -> Line {
    Line { sign, text }
}

/// A scalar as written in plans; `None` for lists and maps.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Unknown => Some(UNKNOWN.into()),
        Value::Null => Some("null".into()),
        Value::String(s) if !s.contains('\n') => Some(format!("{s:?}")),
        Value::String(_) | Value::List(_) | Value::Map(_) => None,
        other => Some(other.to_json().to_string()),
    }
}

/// Text of a structured value for line diffs: pretty JSON with sorted keys
/// (so equivalent documents print the same), unknown parts marked.
fn document(v: &Value) -> String {
    match v {
        Value::String(s) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(j @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => document(&Value::from_json(&j)),
            _ => s.clone(),
        },
        _ => {
            let text = serde_json::to_string_pretty(&marked(v)).unwrap_or_default();
            text.replace(&format!("\"{UNKNOWN}\""), UNKNOWN)
        }
    }
}

fn marked(v: &Value) -> serde_json::Value {
    match v {
        Value::Unknown => serde_json::Value::String(UNKNOWN.into()),
        Value::List(l) => serde_json::Value::Array(l.iter().map(marked).collect()),
        // BTreeMap keys are already sorted.
        Value::Map(m) => serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), marked(v))).collect()),
        other => other.to_json(),
    }
}

/// Lines for one attribute.
fn attr(
    name: &str,
    width: usize,
    before: Option<&Value>,
    after: Option<&Value>,
    sensitive: bool,
    forces: bool,
) -> Vec<Line> {
    let pad = format!("{name:width$}");
    let note = if forces { " # forces replacement" } else { "" };
    if sensitive {
        return match (before, after) {
            (None, _) => vec![line('+', format!("{pad} = {SENSITIVE}"))],
            (Some(_), None) => vec![line('-', format!("{pad} = {SENSITIVE}"))],
            _ => vec![line('~', format!("{pad} = {SENSITIVE}{note}"))],
        };
    }
    match (before, after) {
        (None, Some(a)) => block('+', &pad, a),
        (Some(b), None) => block('-', &pad, b),
        (Some(b), Some(a)) => match (scalar(b), scalar(a)) {
            (Some(sb), Some(sa)) => vec![line('~', format!("{pad} = {sb} -> {sa}{note}"))],
            _ => {
                let mut out = vec![line('~', format!("{pad} = <<-DIFF{note}"))];
                let (old, new) = (document(b), document(a));
                let diff = TextDiff::from_lines(&old, &new);
                for change in diff.iter_all_changes() {
                    let sign = match change.tag() {
                        ChangeTag::Delete => '-',
                        ChangeTag::Insert => '+',
                        ChangeTag::Equal => ' ',
                    };
                    out.push(line(sign, format!("    {}", change.value().trim_end_matches('\n'))));
                }
                out.push(line(' ', "  DIFF".into()));
                out
            }
        },
        (None, None) => Vec::new(),
    }
}

fn block(sign: char, pad: &str, v: &Value) -> Vec<Line> {
    match scalar(v) {
        Some(s) => vec![line(sign, format!("{pad} = {s}"))],
        None => {
            let doc = document(v);
            let mut lines = doc.lines();
            let first = lines.next().unwrap_or_default();
            let mut out = vec![line(sign, format!("{pad} = {first}"))];
            // The sign stays on the first line; the rest is the value's body.
            out.extend(lines.map(|l| line(' ', format!("{:w$}   {l}", "", w = pad.len()))));
            out
        }
    }
}

/// Every line for a change; for updates only changed attributes (and the
/// count of hidden unchanged ones).
pub fn change_lines(c: &ResourceChange) -> (Vec<Line>, usize) {
    let empty = Default::default();
    let before = c.before.as_ref().unwrap_or(&empty);
    let after = c.after.as_ref().unwrap_or(&empty);
    let mut names: Vec<&String> = match c.action {
        Action::Create => after.keys().chain(c.sensitive.iter()).collect(),
        Action::Delete => before.keys().chain(c.sensitive.iter()).collect(),
        _ => c.changed.iter().collect(),
    };
    names.sort();
    names.dedup();
    let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
    let mut out = Vec::new();
    for n in &names {
        let sensitive = c.sensitive.contains(*n);
        let (b, a) = match c.action {
            Action::Create => (None, after.get(*n).or(sensitive.then_some(&Value::Null))),
            Action::Delete => (before.get(*n).or(sensitive.then_some(&Value::Null)), None),
            _ => (before.get(*n).or(Some(&Value::Null)), after.get(*n).or(Some(&Value::Null))),
        };
        out.extend(attr(n, width, b, a, sensitive, c.replace_paths.contains(n)));
    }
    let total: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let hidden = match c.action {
        Action::Update | Action::Replace => total.len().saturating_sub(names.len()),
        _ => 0,
    };
    (out, hidden)
}

/// Every attribute as AWS reports it, for an import that changes nothing
/// (Terraform shows the imported object the same way).
pub fn import_lines(c: &ResourceChange) -> Vec<Line> {
    let Some(before) = &c.before else { return Vec::new() };
    let width = before.keys().map(String::len).max().unwrap_or(0);
    before.iter().filter(|(_, v)| !v.is_null()).flat_map(|(k, v)| block(' ', &format!("{k:width$}"), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_diff_by_line_and_ignore_key_order() {
        let a = Value::from_json(&serde_json::json!({"Version": "1", "Statement": [{"Action": "s3:Get"}]}));
        let b = Value::str(r#"{"Statement":[{"Action":"s3:Put"}],"Version":"1"}"#);
        let lines = attr("policy", 6, Some(&a), Some(&b), false, false);
        assert!(lines.iter().any(|l| l.sign == '-' && l.text.contains("s3:Get")));
        assert!(lines.iter().any(|l| l.sign == '+' && l.text.contains("s3:Put")));
        assert!(lines.iter().any(|l| l.sign == ' ' && l.text.contains("\"Version\": \"1\"")));
    }

    #[test]
    fn sensitive_values_never_show() {
        let lines = attr("password", 8, Some(&Value::str("old")), Some(&Value::str("new")), true, false);
        assert_eq!(lines, vec![line('~', format!("password = {SENSITIVE}"))]);
    }
}
