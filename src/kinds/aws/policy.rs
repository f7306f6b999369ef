//! IAM policy documents: parsing what users write and what IAM returns, and
//! the normal form they are compared in.

use crate::value::Value;
use std::collections::BTreeMap;

/// Keys whose value may be one string or a list of strings, meaning the same.
const STRING_OR_LIST: &[&str] = &["Action", "NotAction", "Resource", "NotResource"];

/// A document as IAM returns it: URL-encoded JSON (RFC 3986). Falls back to
/// the text itself when it is not JSON either way.
pub fn from_aws(doc: &str) -> Value {
    parse_text(doc).unwrap_or_else(|| Value::str(doc))
}

fn parse_text(text: &str) -> Option<Value> {
    // Encoded JSON never parses as JSON (`{` is `%7B`), so try plain first.
    let json = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .or_else(|| serde_json::from_str(&url_decode(text)?).ok())?;
    Some(Value::from_json(&json))
}

/// The compact JSON text sent to AWS.
pub fn to_json_string(doc: &Value) -> String {
    match doc {
        Value::String(s) => s.clone(),
        other => other.to_json().to_string(),
    }
}

fn url_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The form documents are compared in: parsed, keys sorted (maps are
/// ordered), `Statement` always a list, one-string-or-list values always
/// sorted lists, condition values strings, bare account ids in `Principal.AWS`
/// as the root ARN IAM stores them as.
pub fn normalize(v: &Value) -> Value {
    match v {
        Value::String(s) => match parse_text(s) {
            Some(doc @ Value::Map(_)) => normalize(&doc),
            _ => v.clone(),
        },
        Value::Map(doc) => Value::Map(
            doc.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("Statement", Value::Map(_)) => Value::List(vec![statement(v)]),
                        ("Statement", Value::List(l)) => Value::List(l.iter().map(statement).collect()),
                        _ => v.clone(),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        _ => v.clone(),
    }
}

fn statement(s: &Value) -> Value {
    let Value::Map(m) = s else { return s.clone() };
    Value::Map(
        m.iter()
            .map(|(k, v)| {
                let v = match k.as_str() {
                    k if STRING_OR_LIST.contains(&k) => string_set(v),
                    "Principal" | "NotPrincipal" => principal(v),
                    "Condition" => condition(v),
                    _ => v.clone(),
                };
                (k.clone(), v)
            })
            .collect(),
    )
}

/// One string or a list of strings → a sorted list without repeats. Lists
/// holding anything else (unknown values) are left alone.
fn string_set(v: &Value) -> Value {
    string_set_with(v, |s| s.to_string())
}

fn string_set_with(v: &Value, f: impl Fn(&str) -> String) -> Value {
    let items: Option<Vec<String>> = match v {
        Value::String(s) => Some(vec![f(s)]),
        Value::List(l) => l.iter().map(|i| i.as_str().map(&f)).collect(),
        _ => None,
    };
    match items {
        Some(mut items) => {
            items.sort();
            items.dedup();
            Value::List(items.into_iter().map(Value::String).collect())
        }
        None => v.clone(),
    }
}

fn principal(v: &Value) -> Value {
    let Value::Map(m) = v else { return v.clone() };
    Value::Map(
        m.iter()
            .map(|(k, v)| {
                let v = if k == "AWS" { string_set_with(v, account_root) } else { string_set(v) };
                (k.clone(), v)
            })
            .collect(),
    )
}

/// IAM stores a bare account id principal as the account's root ARN.
fn account_root(s: &str) -> String {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("arn:aws:iam::{s}:root")
    } else {
        s.to_string()
    }
}

/// `{op: {key: value}}`: IAM compares condition values as strings, and one
/// value means the same as a list of one.
fn condition(v: &Value) -> Value {
    let Value::Map(ops) = v else { return v.clone() };
    let scalar = |v: &Value| match v {
        Value::Bool(_) | Value::Number(_) => Value::String(v.to_interpolated().unwrap_or_default()),
        other => other.clone(),
    };
    Value::Map(
        ops.iter()
            .map(|(op, keys)| {
                let keys = match keys {
                    Value::Map(keys) => Value::Map(
                        keys.iter()
                            .map(|(k, v)| {
                                let v = match v {
                                    Value::List(l) => Value::List(l.iter().map(scalar).collect()),
                                    other => scalar(other),
                                };
                                (k.clone(), string_set(&v))
                            })
                            .collect::<BTreeMap<_, _>>(),
                    ),
                    other => other.clone(),
                };
                (op.clone(), keys)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> Value {
        Value::from_json(&serde_json::from_str(s).unwrap())
    }

    #[test]
    fn equivalent_spellings_compare_equal() {
        let a = Value::str(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::b/*","Principal":{"Service":"s3.amazonaws.com","AWS":"123456789012"},
                "Condition":{"Bool":{"aws:SecureTransport":true}}}}"#,
        );
        let b = json(
            r#"{"Statement":[{"Resource":["arn:aws:s3:::b/*"],"Effect":"Allow",
                "Principal":{"AWS":["arn:aws:iam::123456789012:root"],"Service":["s3.amazonaws.com"]},
                "Action":["s3:GetObject"],"Condition":{"Bool":{"aws:SecureTransport":["true"]}}}],
                "Version":"2012-10-17"}"#,
        );
        assert_eq!(normalize(&a), normalize(&b));
    }

    #[test]
    fn action_lists_compare_as_sets() {
        let a = json(r#"{"Statement":[{"Action":["s3:B","s3:A"],"Effect":"Allow","Resource":"*"}]}"#);
        let b = json(r#"{"Statement":[{"Action":["s3:A","s3:B","s3:A"],"Effect":"Allow","Resource":["*"]}]}"#);
        assert_eq!(normalize(&a), normalize(&b));
    }

    #[test]
    fn url_encoded_documents_from_iam_parse() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C\
                       %22Action%22%3A%22sts%3AAssumeRole%22%2C%22Principal%22%3A%7B%22Service%22%3A%22s3.amazonaws.com%22%7D%7D%5D%7D";
        let plain = json(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",
                "Principal":{"Service":"s3.amazonaws.com"}}]}"#,
        );
        assert_eq!(from_aws(encoded), plain);
        assert_eq!(normalize(&Value::str(encoded)), normalize(&plain));
        // A plain document with a literal `%` is not decoded.
        let pct = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/100%25/*"}]}"#;
        assert_eq!(from_aws(pct), json(pct));
    }

    #[test]
    fn real_changes_still_differ() {
        let base = json(r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#);
        for changed in [
            r#"{"Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","NotAction":"s3:GetObject","Resource":"*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
        ] {
            assert_ne!(normalize(&base), normalize(&json(changed)), "{changed}");
        }
    }

    #[test]
    fn unknown_values_are_kept() {
        let doc = Value::Map(
            [(
                "Statement".to_string(),
                Value::Map([("Resource".to_string(), Value::List(vec![Value::Unknown]))].into()),
            )]
            .into(),
        );
        let n = normalize(&doc);
        assert!(n.has_unknown());
        assert_eq!(normalize(&Value::Unknown), Value::Unknown);
    }
}
