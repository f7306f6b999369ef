//! The typed property schema every resource kind declares.

use crate::value::{Attrs, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    String,
    Number,
    Bool,
    /// A list whose elements all have this type.
    List(&'static Type),
    /// A map from strings to this type.
    Map(&'static Type),
    /// Any value (like Terraform's `any`).
    Any,
    /// A JSON document: a YAML map or a JSON string; compared semantically.
    Json,
}

impl Type {
    pub fn describe(&self) -> String {
        match self {
            Type::String => "string".into(),
            Type::Number => "number".into(),
            Type::Bool => "bool".into(),
            Type::List(t) => format!("list of {}", t.describe()),
            Type::Map(t) => format!("map of {}", t.describe()),
            Type::Any => "any".into(),
            Type::Json => "JSON document (map or JSON string)".into(),
        }
    }

    /// Checks a value against the type. Unknown values always pass (they are
    /// checked again at apply time). Returns a message naming the mismatch.
    pub fn check(&self, v: &Value) -> Result<(), String> {
        match (self, v) {
            (_, Value::Unknown) | (Type::Any, _) => Ok(()),
            (Type::String, Value::String(_)) | (Type::Bool, Value::Bool(_)) | (Type::Number, Value::Number(_)) => {
                Ok(())
            }
            // YAML users write `port: 80` for a string field and `"80"` for a number: accept like Terraform's conversions.
            (Type::String, Value::Number(_) | Value::Bool(_)) => Ok(()),
            (Type::Number, Value::String(s)) if s.parse::<f64>().is_ok() => Ok(()),
            (Type::Bool, Value::String(s)) if s == "true" || s == "false" => Ok(()),
            (Type::Json, Value::Map(_) | Value::List(_)) => Ok(()),
            (Type::Json, Value::String(s)) => {
                serde_json::from_str::<serde_json::Value>(s).map(|_| ()).map_err(|e| format!("invalid JSON: {e}"))
            }
            (Type::List(t), Value::List(items)) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| t.check(item).map_err(|e| format!("element {i}: {e}"))),
            (Type::Map(t), Value::Map(m)) => {
                m.iter().try_for_each(|(k, item)| t.check(item).map_err(|e| format!("key {k:?}: {e}")))
            }
            (t, v) => Err(format!("expected {}, got {}", t.describe(), v.type_name())),
        }
    }

    /// Converts a checked value to the declared type (`"80"` → 80 for numbers).
    pub fn coerce(&self, v: Value) -> Value {
        match (self, v) {
            (Type::String, Value::Number(n)) => Value::String(n.to_string()),
            (Type::String, Value::Bool(b)) => Value::String(b.to_string()),
            (Type::Number, Value::String(s)) => s
                .parse::<i64>()
                .map(Value::int)
                .or_else(|_| {
                    s.parse::<f64>().map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number))
                })
                .unwrap_or(Value::String(s)),
            (Type::Bool, Value::String(s)) => Value::Bool(s == "true"),
            (Type::List(t), Value::List(items)) => Value::List(items.into_iter().map(|i| t.coerce(i)).collect()),
            (Type::Map(t), Value::Map(m)) => Value::Map(m.into_iter().map(|(k, i)| (k, t.coerce(i))).collect()),
            (Type::Json, Value::String(s)) => match serde_json::from_str::<serde_json::Value>(&s) {
                Ok(j) => Value::from_json(&j),
                Err(_) => Value::String(s),
            },
            (_, v) => v,
        }
    }
}

/// Who sets a property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Required,
    Optional,
    /// Optional input that AWS fills in when not given.
    OptionalComputed,
    /// Set by AWS (or the kind) only; the user cannot set it.
    Computed,
}

/// One property of a resource kind.
#[derive(Clone, Copy, Debug)]
pub struct Prop {
    pub name: &'static str,
    pub ty: Type,
    pub mode: Mode,
    /// Changing it replaces the resource.
    pub force_new: bool,
    /// Never shown or stored in clear.
    pub sensitive: bool,
    /// Readable by anyone who may describe the resource (user data): a
    /// sensitive value here is a configuration error, never hidden.
    pub plain: bool,
    /// An optional-computed input AWS needs to create the resource: null
    /// means "as found" for an existing (adopted) one, and a plan that
    /// would create it without a value is refused.
    pub create_needs: bool,
    pub doc: &'static str,
}

impl Prop {
    pub const fn optional(name: &'static str, ty: Type, doc: &'static str) -> Prop {
        Prop {
            name,
            ty,
            mode: Mode::Optional,
            force_new: false,
            sensitive: false,
            plain: false,
            create_needs: false,
            doc,
        }
    }
    pub const fn required(name: &'static str, ty: Type, doc: &'static str) -> Prop {
        Prop { mode: Mode::Required, ..Prop::optional(name, ty, doc) }
    }
    pub const fn computed(name: &'static str, ty: Type, doc: &'static str) -> Prop {
        Prop { mode: Mode::Computed, ..Prop::optional(name, ty, doc) }
    }
    pub const fn force_new(self) -> Prop {
        Prop { force_new: true, ..self }
    }
    pub const fn sensitive(self) -> Prop {
        Prop { sensitive: true, ..self }
    }
    pub const fn plain(self) -> Prop {
        Prop { plain: true, ..self }
    }
    pub const fn or_computed(self) -> Prop {
        Prop { mode: Mode::OptionalComputed, ..self }
    }
    /// Optional-computed, but needed to create: null keeps an existing
    /// resource's value ("as found"), a create without it is refused.
    pub const fn as_found(self) -> Prop {
        Prop { mode: Mode::OptionalComputed, create_needs: true, ..self }
    }
    pub fn is_input(&self) -> bool {
        self.mode != Mode::Computed
    }
    pub fn is_computed(&self) -> bool {
        matches!(self.mode, Mode::Computed | Mode::OptionalComputed)
    }
}

/// `allow_disruption`: the properties whose change on an adopted resource
/// AWS makes with downtime or a blue/green deployment (or that cannot be
/// undone) and that this configuration accepts. Without it such a plan is
/// refused, naming the property and AWS's consequence. standby's own
/// setting: never sent to AWS.
pub const ALLOW_DISRUPTION: &str = "allow_disruption";

pub const P_ALLOW_DISRUPTION: Prop = Prop::optional(
    ALLOW_DISRUPTION,
    Type::List(&Type::String),
    "Properties whose change on an adopted resource may disturb it (downtime, a blue/green deployment, a \
     change AWS cannot undo) and that this configuration accepts, e.g. `[instance_type]`. Unset, such a \
     change to an adopted resource is refused at plan time with AWS's consequence named. standby's own \
     setting, never sent to AWS.",
);

/// `unless_adopted`: values for properties the configuration leaves unset,
/// used only when standby made (or makes) the resource. On an adopted
/// resource they are ignored and the unset properties are as found, so one
/// module both creates a primary from scratch and adopts a running one.
/// standby's own setting: never sent to AWS as such, never stored.
pub const UNLESS_ADOPTED: &str = "unless_adopted";

pub const P_UNLESS_ADOPTED: Prop = Prop::optional(
    UNLESS_ADOPTED,
    Type::Map(&Type::Any),
    "Values for properties left unset (null), used only when standby makes the resource, e.g. `{ instance_class: \
     db.r6g.large }`; on an adopted resource they are ignored and the unset properties stay as found. No secrets \
     here. standby's own setting, never sent to AWS as such.",
);

/// The properties with `unless_adopted` resolved: its values fill what is
/// unset (or null) when the resource is not adopted; the setting itself is
/// taken out either way.
pub fn resolve_unless_adopted(props: &Attrs, adopted: bool) -> Attrs {
    let mut out = props.clone();
    let Some(Value::Map(given)) = out.remove(UNLESS_ADOPTED) else { return out };
    if !adopted {
        for (k, v) in given {
            if out.get(&k).is_none_or(Value::is_null) && !v.is_null() {
                out.insert(k, v);
            }
        }
    }
    out
}

#[derive(Debug)]
pub struct Schema {
    pub props: &'static [Prop],
}

impl Schema {
    pub fn get(&self, name: &str) -> Option<&Prop> {
        self.props.iter().find(|p| p.name == name)
    }

    pub fn input_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.props.iter().filter(|p| p.is_input()).map(|p| p.name)
    }
}

/// Where a property sits in the AWS provider's resource of the same type,
/// when it means the same thing there, so policies written for the provider
/// (checkov, OPA) read standby's plans. `path` is the provider's attribute,
/// nested blocks separated by `.` (`encrypt_at_rest.enabled`); `default` is
/// the value the kind sets when the property is not given or not yet known
/// (JSON text).
#[derive(Clone, Copy, Debug)]
pub struct ProviderName {
    pub prop: &'static str,
    pub path: &'static str,
    pub default: Option<&'static str>,
}

impl ProviderName {
    pub const fn new(prop: &'static str, path: &'static str) -> ProviderName {
        ProviderName { prop, path, default: None }
    }
    pub const fn or(self, default: &'static str) -> ProviderName {
        ProviderName { default: Some(default), ..self }
    }
}
