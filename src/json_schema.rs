//! `standby schema`: a JSON Schema (draft-07, what yaml-language-server
//! supports) for configuration files, generated from the loader's own key
//! lists and every kind's property schema, so it cannot fall behind: a key
//! the loader accepts without a schema here fails a unit test. It stands
//! above both: the configuration model knows no kind.

use crate::config::backend;
use crate::config::{MODULE_KEYS, OUTPUT_KEYS, RESOURCE_KEYS, TOP_KEYS, VAR_KEYS};
use crate::kinds::schema::{Mode, Type};
use serde_json::{Map, Value as Json, json};

/// A reference (`${…}`) can stand for any value: every typed slot also takes a string.
fn of_type(t: &Type) -> Json {
    match t {
        // `port: 80` is accepted for a string (converted), like Terraform.
        Type::String => json!({"type": ["string", "number", "boolean"]}),
        Type::Number => json!({"type": ["number", "string"]}),
        Type::Bool => json!({"type": ["boolean", "string"]}),
        Type::List(inner) => json!({"anyOf": [{"type": "array", "items": of_type(inner)}, {"type": "string"}]}),
        Type::Map(inner) => {
            json!({"anyOf": [{"type": "object", "additionalProperties": of_type(inner)}, {"type": "string"}]})
        }
        Type::Any => json!({}),
        Type::Json => json!({"type": ["object", "array", "string"]}),
    }
}

fn with_doc(mut schema: Json, doc: &str) -> Json {
    if let Json::Object(m) = &mut schema {
        m.insert("description".into(), Json::String(doc.to_string()));
    }
    schema
}

/// One resource kind's `properties:` block.
fn kind_properties(kind: &dyn crate::kinds::Kind) -> Json {
    let mut props = Map::new();
    let mut required = Vec::new();
    for p in kind.schema().props.iter().filter(|p| p.is_input()) {
        let mut doc = p.doc.to_string();
        if p.force_new {
            doc.push_str(" Changing it replaces the resource.");
        }
        if p.sensitive {
            doc.push_str(" Sensitive: never shown or stored.");
        }
        props.insert(p.name.to_string(), with_doc(of_type(&p.ty), &doc));
        if p.mode == Mode::Required {
            required.push(p.name);
        }
    }
    json!({
        "type": "object",
        "description": format!("Properties of a {}.", kind.type_name()),
        "properties": props,
        "required": required,
        "additionalProperties": false,
    })
}

/// The schema of one top-level key (`None` for a key this file does not know yet).
fn top_key(key: &str) -> Option<Json> {
    let names = |what: &str| json!({"type": "object", "description": what, "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_-]*$"}});
    let s = match key {
        "backend" => json!({
            "type": "object",
            "description": "Where the state lives (root module only). Without it: the local file <DIR>/state/standby.json.",
            "properties": {"s3": {
                "type": "object",
                "description": "State in S3, shared by a team; --backend-config KEY=VALUE overrides a setting.",
                "properties": {
                    "bucket": {"type": "string", "description": "Bucket (versioned, encrypted; best in a third region)."},
                    "key": {"type": "string", "description": "Object key of the state, e.g. mattermost/dr.json."},
                    "region": {"type": "string", "enum": crate::config::AWS_REGIONS, "description": "The bucket's region."},
                    "kms_key_id": {"type": "string", "description": "KMS key for SSE-KMS (default SSE-S3)."}
                },
                "propertyNames": {"enum": backend::S3_KEYS},
                "additionalProperties": false
            }},
            "additionalProperties": false
        }),
        "regions" => json!({
            "description": "Root module: region name → AWS region (e.g. primary: us-west-1). A module: the list of region names it uses.",
            "oneOf": [
                {"type": "object", "additionalProperties": {"type": "string", "enum": crate::config::AWS_REGIONS}},
                {"type": "array", "items": {"type": "string"}}
            ]
        }),
        "variables" => {
            let mut v = names("Input variables, set with --var NAME=VALUE, --var-file or STANDBY_VAR_<name>.");
            v["additionalProperties"] = json!({"$ref": "#/definitions/variable"});
            v
        }
        "resources" => {
            let mut v = names("Resources: name → resource block.");
            v["additionalProperties"] = json!({"$ref": "#/definitions/resource"});
            v
        }
        "modules" => {
            let mut v = names("Module calls: name → call.");
            v["additionalProperties"] = json!({"$ref": "#/definitions/module"});
            v
        }
        "outputs" => {
            let mut v = names("Outputs: name → output.");
            v["additionalProperties"] = json!({"$ref": "#/definitions/output"});
            v
        }
        "checks" => {
            let mut v = names(
                "Conditions the plan checks once values are known (like Terraform's check blocks): name → check; a \
                 false one is reported at its condition, as a warning unless severity is error.",
            );
            v["additionalProperties"] = json!({
                "type": "object",
                "properties": {
                    "condition": {"description": "An expression that must be true, e.g. \"${var.a != var.b}\"."},
                    "message": {"type": "string", "description": "What is wrong and how to fix it, for the person reading the plan."},
                    "severity": {"type": "string", "enum": ["warning", "error"], "description": "warning (the default) or error (the plan stops)."}
                },
                "required": ["condition", "message"],
                "additionalProperties": false
            });
            v
        }
        "imports" => json!({
            "type": "array",
            "description": "Root module only: existing resources to adopt (like Terraform's import blocks). The plan \
        reads each by id and shows `will be imported`; adopted resources are protected from deletion.",
            "items": {
                "type": "object",
                "properties": {
                    "to": {"type": "string", "description": "Resource address, e.g. module.database.aws_rds_cluster.primary or aws_s3_bucket.files[0]."},
                    "id": {"type": "string", "description": "The resource's id in AWS (bucket name, cluster identifier, domain name, ...); may use ${var.NAME}."},
                },
                "required": ["to", "id"],
                "additionalProperties": false,
            },
        }),
        _ => return None,
    };
    Some(s)
}

fn block(keys: &[&str], props: Json, required: &[&str], description: &str) -> Json {
    // The loader's key list decides what is allowed; a key without a schema
    // here is still allowed (and caught by the unit test).
    let mut properties = props.as_object().cloned().unwrap_or_default();
    for k in keys {
        properties.entry(k.to_string()).or_insert(json!({}));
    }
    json!({
        "type": "object",
        "description": description,
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// The whole schema.
pub fn generate() -> Json {
    let kinds = crate::kinds::registry();
    let mut definitions = Map::new();
    definitions.insert(
        "variable".into(),
        block(
            VAR_KEYS,
            json!({
                "type": {"type": "string", "enum": ["string", "number", "bool", "list", "map", "any"], "description": "The value's type (default any)."},
                "default": {"description": "Value when none is given."},
                "description": {"type": "string", "description": "What it is for."},
                "sensitive": {"type": "boolean", "description": "Never shown in plans or stored in state."}
            }),
            &[],
            "An input variable.",
        ),
    );
    let mut by_type = Vec::new();
    for k in kinds {
        let def = format!("properties_{}", k.type_name());
        definitions.insert(def.clone(), kind_properties(*k));
        by_type.push(json!({
            "if": {"properties": {"type": {"const": k.type_name()}}, "required": ["type"]},
            "then": {"properties": {"properties": {"$ref": format!("#/definitions/{def}")}}}
        }));
    }
    let mut resource = block(
        RESOURCE_KEYS,
        json!({
            "type": {"type": "string", "enum": kinds.iter().map(|k| k.type_name()).collect::<Vec<_>>(), "description": "The resource kind."},
            "region": {"type": "string", "description": "Region name (from `regions:`) it lives in; the first region by default."},
            "count": {"type": ["integer", "string"], "description": "Make this many instances (count.index)."},
            "for_each": {"type": ["object", "array", "string"], "description": "One instance per key (each.key, each.value)."},
            "depends_on": {"type": "array", "items": {"type": "string"}, "description": "Resources or modules to wait for beyond references."},
            "lifecycle": {"type": "object", "properties": {"prevent_destroy": {"type": ["boolean", "string"], "description": "Refuse any plan that would delete it."}}, "additionalProperties": false},
            "properties": {"type": "object", "description": "The kind's properties."},
            "timeouts": {"type": "object", "description": "Time limits per operation, e.g. 30m, 1h30m.", "properties": {
                "create": {"type": "string", "pattern": "^([0-9]+[smh])+$"},
                "update": {"type": "string", "pattern": "^([0-9]+[smh])+$"},
                "delete": {"type": "string", "pattern": "^([0-9]+[smh])+$"}
            }, "additionalProperties": false}
        }),
        &["type"],
        "A resource: its kind, region and properties.",
    );
    resource["allOf"] = Json::Array(by_type);
    definitions.insert("resource".into(), resource);
    definitions.insert(
        "module".into(),
        block(
            MODULE_KEYS,
            json!({
                "source": {"type": "string", "description": "Directory of the module, relative to this one."},
                "inputs": {"type": "object", "description": "The module's variables."},
                "regions": {"type": "object", "additionalProperties": {"type": "string"}, "description": "The module's region name → this module's region name."},
                "depends_on": {"type": "array", "items": {"type": "string"}, "description": "What to wait for."}
            }),
            &["source"],
            "A module call.",
        ),
    );
    definitions.insert(
        "output".into(),
        block(
            OUTPUT_KEYS,
            json!({
                "value": {"description": "The value, usually a reference."},
                "description": {"type": "string"},
                "sensitive": {"type": "boolean", "description": "Shown as (sensitive)."}
            }),
            &["value"],
            "An output value.",
        ),
    );
    let mut properties = Map::new();
    for key in TOP_KEYS {
        properties.insert(key.to_string(), top_key(key).unwrap_or_else(|| json!({})));
    }
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://standby.invalid/schema/config.json",
        "title": "standby configuration file",
        "description": format!("A file of a standby module (standby {}). Generated by `standby schema`.", env!("CARGO_PKG_VERSION")),
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
        "definitions": definitions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_the_loader_accepts_has_a_schema() {
        for key in TOP_KEYS {
            assert!(top_key(key).is_some(), "top-level key `{key}` has no schema in json_schema.rs");
        }
        let s = generate();
        for (def, keys) in
            [("variable", VAR_KEYS), ("resource", RESOURCE_KEYS), ("module", MODULE_KEYS), ("output", OUTPUT_KEYS)]
        {
            for k in keys {
                let p = &s["definitions"][def]["properties"][k];
                assert!(p.get("description").is_some() || p.get("type").is_some(), "`{k}` of a {def} has no schema");
            }
        }
        for k in crate::kinds::registry() {
            let d = &s["definitions"][format!("properties_{}", k.type_name())];
            for p in k.schema().props.iter().filter(|p| p.is_input()) {
                assert!(d["properties"][p.name]["description"].is_string(), "{}.{}", k.type_name(), p.name);
            }
        }
    }
}
