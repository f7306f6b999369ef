//! The module trees of Terraform's `show -json` (`planned_values`,
//! `prior_state`, `configuration`), which policy tools such as checkov read.
//! Values use the AWS provider's attribute names and nesting where a kind
//! says a property means the same there ([`Kind::provider_names`]); blocks
//! are one-element lists, as in Terraform. Sensitive values are never here:
//! they are absent from the plan and flagged in `sensitive_values`.
//!
//! [`Kind::provider_names`]: crate::kinds::Kind::provider_names

use crate::kinds;
use crate::kinds::schema::Type;
use crate::plan::{Action, Plan, ResourceChange};
use crate::value::{Attrs, Value};
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

pub const PROVIDER: &str = "registry.terraform.io/hashicorp/aws";

/// The provider a Terraform user would reach for, by type prefix: its config
/// key and full name. `standby_data` is like Terraform's built-in `terraform_data`.
fn provider(type_name: &str) -> (&'static str, &'static str) {
    if type_name.starts_with("aws_") {
        ("aws", PROVIDER)
    } else if type_name.starts_with("opensearch_") {
        ("opensearch", "registry.terraform.io/opensearch-project/opensearch")
    } else {
        ("terraform", "terraform.io/builtin/terraform")
    }
}

/// Known values in the provider's shape; unknown ones are left out, as
/// Terraform leaves them out of `planned_values`.
fn provider_values(type_name: &str, attrs: &Attrs) -> Map<String, Json> {
    let kind = kinds::lookup(type_name);
    let names = kind.map_or(&[][..], |k| k.provider_names());
    let mut out = Map::new();
    for (k, v) in attrs {
        let is_doc = kind.and_then(|kd| kd.schema().get(k)).is_some_and(|p| p.ty == Type::Json);
        // A list of blocks (log_publishing_options) keeps its known parts, as
        // Terraform does; a document with an unknown part is left out whole.
        let path = names.iter().find(|n| n.prop == k).map_or(k.as_str(), |n| n.path);
        let v = match v {
            Value::List(_) if v.has_unknown() && !is_doc => known_parts(v),
            v if v.has_unknown() => {
                // The block is there, its unknown attribute left out, as
                // Terraform plans `launch_template { id = (known after apply) }`.
                if let Some((block, _)) = path.rsplit_once('.') {
                    put_block(&mut out, block);
                }
                continue;
            }
            v => v.clone(),
        };
        put(&mut out, path, provider_json(kind, k, &v));
    }
    for n in names {
        if attrs.get(n.prop).is_none_or(Value::has_unknown)
            && let Some(d) = n.default.and_then(|d| serde_json::from_str(d).ok())
        {
            put(&mut out, n.path, d);
        }
    }
    out
}

/// `v` without its unknown parts (map entries and list elements).
fn known_parts(v: &Value) -> Value {
    match v {
        Value::List(items) => {
            Value::List(items.iter().filter(|i| !matches!(i, Value::Unknown)).map(known_parts).collect())
        }
        Value::Map(m) => Value::Map(
            m.iter().filter(|(_, i)| !matches!(i, Value::Unknown)).map(|(k, i)| (k.clone(), known_parts(i))).collect(),
        ),
        other => other.clone(),
    }
}

/// The provider holds JSON documents (policies) as strings, and some
/// values in its own nesting ([`kinds::Kind::provider_value`]).
fn provider_json(kind: Option<&dyn kinds::Kind>, prop: &str, v: &Value) -> Json {
    let doc = kind.and_then(|k| k.schema().get(prop)).is_some_and(|p| p.ty == Type::Json);
    match v.to_json() {
        j @ (Json::Object(_) | Json::Array(_)) if doc => Json::String(j.to_string()),
        j => kind.and_then(|k| k.provider_value(prop, &j)).unwrap_or(j),
    }
}

/// An address with the AWS provider's type names
/// ([`kinds::PROVIDER_TYPES`]): `module.files.aws_s3_bucket_replication.x`
/// → `module.files.aws_s3_bucket_replication_configuration.x`.
pub fn provider_address(address: &str) -> String {
    let mut out = address.to_string();
    for (ours, theirs) in kinds::PROVIDER_TYPES {
        if out.starts_with(&format!("{ours}.")) {
            out = format!("{theirs}{}", &out[ours.len()..]);
        }
        out = out.replace(&format!(".{ours}."), &format!(".{theirs}."));
    }
    out
}

/// Puts `v` at a dotted path, each step but the last a one-element list.
fn put(out: &mut Map<String, Json>, path: &str, v: Json) {
    match path.split_once('.') {
        None => {
            out.insert(path.to_string(), v);
        }
        Some((block, rest)) => {
            let slot = out.entry(block.to_string()).or_insert_with(|| json!([{}]));
            if let Some(Json::Object(inner)) = slot.as_array_mut().and_then(|a| a.first_mut()) {
                put(inner, rest, v);
            }
        }
    }
}

/// Makes the blocks of a dotted path, each a one-element list.
fn put_block(out: &mut Map<String, Json>, path: &str) {
    let (block, rest) = path.split_once('.').map_or((path, None), |(b, r)| (b, Some(r)));
    let slot = out.entry(block.to_string()).or_insert_with(|| json!([{}]));
    if let (Some(rest), Some(Json::Object(inner))) = (rest, slot.as_array_mut().and_then(|a| a.first_mut())) {
        put_block(inner, rest);
    }
}

fn sensitive_values(type_name: &str, c: &ResourceChange) -> Json {
    let mut out = Map::new();
    let names = kinds::lookup(type_name).map_or(&[][..], |k| k.provider_names());
    for s in &c.sensitive {
        let path = names.iter().find(|n| n.prop == s).map_or(s.as_str(), |n| n.path);
        put(&mut out, path, Json::Bool(true));
    }
    Json::Object(out)
}

fn instance(c: &ResourceChange, attrs: &Attrs) -> Json {
    let mut m = Map::new();
    m.insert("address".into(), json!(provider_address(&c.address)));
    m.insert("mode".into(), json!("managed"));
    m.insert("type".into(), json!(kinds::provider_type(&c.type_name)));
    m.insert("name".into(), json!(c.name));
    if !c.index.is_null() {
        m.insert("index".into(), c.index.clone());
    }
    m.insert("provider_name".into(), json!(provider(&c.type_name).1));
    m.insert("schema_version".into(), json!(0));
    m.insert("values".into(), Json::Object(provider_values(&c.type_name, attrs)));
    m.insert("sensitive_values".into(), sensitive_values(&c.type_name, c));
    Json::Object(m)
}

/// `module.a.module.b` → its ancestors and itself: `module.a`, `module.a.module.b`.
fn module_chain(module: &str) -> Vec<String> {
    let parts: Vec<&str> = module.split('.').collect();
    (1..=parts.len() / 2).map(|n| parts[..n * 2].join(".")).collect()
}

#[derive(Default)]
struct Tree {
    resources: Vec<Json>,
    children: BTreeMap<String, Tree>,
}

impl Tree {
    fn insert(&mut self, module: &str, r: Json) {
        let mut node = self;
        if !module.is_empty() {
            for m in module_chain(module) {
                node = node.children.entry(m).or_default();
            }
        }
        node.resources.push(r);
    }

    fn to_json(&self, address: Option<&str>) -> Json {
        let mut m = Map::new();
        if let Some(a) = address {
            m.insert("address".into(), json!(a));
        }
        m.insert("resources".into(), Json::Array(self.resources.clone()));
        if !self.children.is_empty() {
            let kids = self.children.iter().map(|(a, t)| t.to_json(Some(a))).collect();
            m.insert("child_modules".into(), Json::Array(kids));
        }
        Json::Object(m)
    }
}

/// `planned_values`: every instance as it will be after the apply.
pub fn planned_values(plan: &Plan, outputs: Map<String, Json>) -> Json {
    let mut tree = Tree::default();
    for c in &plan.changes {
        if let (Some(after), false) = (&c.after, c.action == Action::Delete) {
            tree.insert(&c.module, instance(c, after));
        }
    }
    json!({"outputs": outputs, "root_module": tree.to_json(None)})
}

/// `prior_state`: every instance as the state (refreshed) has it now.
pub fn prior_state(plan: &Plan) -> Json {
    let mut tree = Tree::default();
    for c in &plan.changes {
        if let Some(before) = &c.before {
            tree.insert(&c.module, instance(c, before));
        }
    }
    json!({
        "format_version": "1.0",
        "terraform_version": plan.standby_version,
        "values": {"root_module": tree.to_json(None)},
    })
}

/// The module-relative address of a resource block: `aws_s3_bucket.files`.
fn block(c: &ResourceChange) -> String {
    format!("{}.{}", c.type_name, c.name)
}

/// Which dependency attribute a known value comes from, e.g. a versioning
/// resource's `bucket` equal to the bucket's `bucket`: Terraform's references.
fn references(v: &Value, deps: &[(&ResourceChange, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (d, rel) in deps {
        let Some(after) = &d.after else { continue };
        let hit = if v.has_unknown() {
            Some(None)
        } else {
            after.iter().find(|(_, dv)| !dv.is_null() && !dv.has_unknown() && *dv == v).map(|(k, _)| Some(k))
        };
        match hit {
            Some(Some(k)) => out.extend([format!("{rel}.{k}"), rel.clone()]),
            Some(None) => out.push(rel.clone()),
            None => {}
        }
    }
    out
}

fn expressions(c: &ResourceChange, deps: &[(&ResourceChange, String)]) -> Json {
    let Some(after) = &c.after else { return json!({}) };
    let schema = kinds::lookup(&c.type_name).map(|k| k.schema());
    let names = kinds::lookup(&c.type_name).map_or(&[][..], |k| k.provider_names());
    let mut out = Map::new();
    for (k, v) in after {
        // Only what the configuration sets: inputs, not attributes AWS reports.
        if schema.and_then(|s| s.get(k)).is_some_and(|p| !p.is_input()) {
            continue;
        }
        let refs = references(v, deps);
        let expr = if refs.is_empty() {
            json!({"constant_value": provider_json(kinds::lookup(&c.type_name), k, v)})
        } else {
            json!({"references": refs})
        };
        let path = names.iter().find(|n| n.prop == k).map_or(k.as_str(), |n| n.path);
        put(&mut out, path, expr);
    }
    Json::Object(out)
}

#[derive(Default)]
struct ConfigModule {
    resources: Vec<Json>,
    calls: BTreeMap<String, ConfigModule>,
}

impl ConfigModule {
    fn to_json(&self) -> Json {
        let calls: Map<String, Json> = self
            .calls
            .iter()
            .map(|(name, m)| (name.clone(), json!({"source": format!("./{name}"), "module": m.to_json()})))
            .collect();
        json!({"resources": self.resources, "module_calls": calls})
    }
}

/// `configuration`: one entry per resource block (not per instance), with
/// each set attribute's constant value or what it references.
pub fn configuration(plan: &Plan) -> Json {
    let by_address: BTreeMap<String, &ResourceChange> =
        plan.changes.iter().map(|c| (format!("{}{}", prefix(&c.module), block(c)), c)).collect();
    let mut root = ConfigModule::default();
    let mut providers = Map::new();
    let mut seen = std::collections::BTreeSet::new();
    for c in &plan.changes {
        let full = format!("{}{}", prefix(&c.module), block(c));
        if c.action == Action::Delete || !seen.insert(full) {
            continue;
        }
        let (key, full_name) = provider(&c.type_name);
        providers.insert(key.into(), json!({"name": key, "full_name": full_name}));
        let deps: Vec<(&ResourceChange, String)> = c
            .deps
            .iter()
            .filter_map(|d| by_address.get(d.as_str()).map(|dc| (*dc, provider_address(&block(dc)))))
            .filter(|(dc, _)| dc.module == c.module)
            .collect();
        let mut r = Map::new();
        r.insert("address".into(), json!(provider_address(&block(c))));
        r.insert("mode".into(), json!("managed"));
        r.insert("type".into(), json!(kinds::provider_type(&c.type_name)));
        r.insert("name".into(), json!(c.name));
        r.insert("provider_config_key".into(), json!(provider(&c.type_name).0));
        r.insert("expressions".into(), expressions(c, &deps));
        r.insert("schema_version".into(), json!(0));
        let mut node = &mut root;
        for m in module_chain(&c.module) {
            let name = m.rsplit('.').next().unwrap_or_default().to_string();
            node = node.calls.entry(name).or_default();
        }
        node.resources.push(Json::Object(r));
    }
    json!({
        "provider_config": providers,
        "root_module": root.to_json(),
    })
}

fn prefix(module: &str) -> String {
    if module.is_empty() { String::new() } else { format!("{module}.") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_nesting_defaults_and_documents() {
        let attrs: Attrs = [
            ("domain_name".to_string(), Value::str("d")),
            ("tls_security_policy".to_string(), Value::str("Policy-Min-TLS-1-2-PFS-2023-10")),
            ("fine_grained_access_control".to_string(), Value::Unknown),
            ("arn".to_string(), Value::Unknown),
        ]
        .into();
        let v = Json::Object(provider_values("aws_opensearch_domain", &attrs));
        assert_eq!(v["domain_endpoint_options"][0]["tls_security_policy"], "Policy-Min-TLS-1-2-PFS-2023-10");
        assert_eq!(v["domain_endpoint_options"][0]["enforce_https"], true, "the kind's default");
        assert_eq!(v["encrypt_at_rest"][0]["enabled"], true);
        assert_eq!(v["advanced_security_options"][0]["enabled"], true, "unknown, and always on");
        assert!(v.get("arn").is_none() && v.get("tls_security_policy").is_none(), "{v}");

        let policy: Attrs =
            [("policy".to_string(), Value::Map([("Version".to_string(), Value::str("2012-10-17"))].into()))].into();
        let v = Json::Object(provider_values("aws_iam_role_policy", &policy));
        assert_eq!(v["policy"], r#"{"Version":"2012-10-17"}"#, "documents are JSON strings");
    }

    #[test]
    fn module_chain_lists_ancestors() {
        assert_eq!(module_chain("module.a.module.b"), ["module.a", "module.a.module.b"]);
        assert!(module_chain("").is_empty());
    }
}
