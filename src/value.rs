//! The value type every configuration, plan and state attribute is made of.
//!
//! Like JSON, plus `Unknown` for values that only exist after apply.
//! Maps are ordered by key so plans and state files are stable.

use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// Known only after apply.
    Unknown,
}

pub type Attrs = BTreeMap<String, Value>;

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn int(n: i64) -> Value {
        Value::Number(n.into())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True when this value or anything inside it is unknown.
    pub fn has_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::List(l) => l.iter().any(Value::has_unknown),
            Value::Map(m) => m.values().any(Value::has_unknown),
            _ => false,
        }
    }

    /// Name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Unknown => "unknown",
        }
    }

    /// Text for string interpolation; `None` for lists, maps and unknown.
    pub fn to_interpolated(&self) -> Option<String> {
        match self {
            Value::Null => Some(String::new()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// JSON form. Unknown values become `null` (callers that care track
    /// unknown paths separately, as in `after_unknown`).
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null | Value::Unknown => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::String(s.clone()),
            Value::List(l) => Json::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    pub fn from_json(j: &Json) -> Value {
        match j {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.clone()),
            Json::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            Json::Object(o) => Value::Map(o.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()),
        }
    }

    /// Mirror of the value with `true` where it is unknown, Terraform's
    /// `after_unknown` shape. Returns `None` when nothing is unknown.
    pub fn unknown_mask(&self) -> Option<Json> {
        match self {
            Value::Unknown => Some(Json::Bool(true)),
            Value::List(l) => {
                let parts: Vec<_> = l.iter().map(Value::unknown_mask).collect();
                parts
                    .iter()
                    .any(Option::is_some)
                    .then(|| Json::Array(parts.into_iter().map(|p| p.unwrap_or(Json::Bool(false))).collect()))
            }
            Value::Map(m) => {
                let parts: serde_json::Map<_, _> =
                    m.iter().filter_map(|(k, v)| v.unknown_mask().map(|j| (k.clone(), j))).collect();
                (!parts.is_empty()).then_some(Json::Object(parts))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unknown => f.write_str("(known after apply)"),
            Value::String(s) => write!(f, "{s:?}"),
            other => f.write_str(&other.to_json().to_string()),
        }
    }
}

/// Marks an unknown value in saved plans (JSON has no such value).
const UNKNOWN_MARK: &str = "$standby_unknown";

impl Value {
    /// JSON that keeps unknown values (for saved plans).
    fn to_json_marked(&self) -> Json {
        match self {
            Value::Unknown => serde_json::json!({ UNKNOWN_MARK: true }),
            Value::List(l) => Json::Array(l.iter().map(Value::to_json_marked).collect()),
            Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json_marked())).collect()),
            other => other.to_json(),
        }
    }

    fn from_json_marked(j: &Json) -> Value {
        match j {
            Json::Object(o) if o.len() == 1 && o.get(UNKNOWN_MARK) == Some(&Json::Bool(true)) => Value::Unknown,
            Json::Array(a) => Value::List(a.iter().map(Value::from_json_marked).collect()),
            Json::Object(o) => Value::Map(o.iter().map(|(k, v)| (k.clone(), Value::from_json_marked(v))).collect()),
            other => Value::from_json(other),
        }
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json_marked().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Value::from_json_marked(&Json::deserialize(d)?))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::int(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_values() {
        let j: Json = serde_json::json!({"a": [1, "x", true, null], "b": {"c": 2.5}});
        assert_eq!(Value::from_json(&j).to_json(), j);
    }

    #[test]
    fn unknown_mask_marks_only_unknown_paths() {
        let mut m = BTreeMap::new();
        m.insert("id".to_string(), Value::Unknown);
        m.insert("name".to_string(), Value::str("x"));
        let v = Value::Map(m);
        assert_eq!(v.unknown_mask(), Some(serde_json::json!({"id": true})));
        assert!(v.has_unknown());
        assert_eq!(Value::str("x").unknown_mask(), None);
    }
}
