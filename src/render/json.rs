//! The plan as JSON, with Terraform's `show -json` names where they fit, so
//! policy tools built for Terraform plans can read it. Sensitive values are
//! left out of `before`/`after` and flagged in `*_sensitive`. The module
//! trees (`planned_values`, `prior_state`, `configuration`) are in
//! [`json_values`].

use super::json_values;
use crate::plan::{Action, OutputChange, Plan, ResourceChange};
use crate::value::{Attrs, Value};
use serde_json::{Map, Value as Json, json};

fn values(attrs: &Option<Attrs>) -> Json {
    match attrs {
        Some(a) => Value::Map(a.clone()).to_json(),
        None => Json::Null,
    }
}

fn unknown(attrs: &Option<Attrs>) -> Json {
    attrs.as_ref().and_then(|a| Value::Map(a.clone()).unknown_mask()).unwrap_or_else(|| json!({}))
}

fn sensitive_mask(c: &ResourceChange, present: bool) -> Json {
    if !present {
        return Json::Bool(false);
    }
    Json::Object(c.sensitive.iter().map(|k| (k.clone(), Json::Bool(true))).collect())
}

fn action_reason(c: &ResourceChange) -> Option<&'static str> {
    match c.action {
        Action::Replace => Some("replace_because_cannot_update"),
        Action::Delete if c.reason.as_deref().is_some_and(|r| r.contains("count/for_each")) => {
            Some("delete_because_count_index")
        }
        Action::Delete if c.reason.as_deref().is_some_and(|r| r.contains("no longer in the configuration")) => {
            Some("delete_because_no_resource_config")
        }
        _ => None,
    }
}

fn resource(c: &ResourceChange) -> Json {
    let mut m = Map::new();
    m.insert("address".into(), json!(c.address));
    if !c.module.is_empty() {
        m.insert("module_address".into(), json!(c.module));
    }
    m.insert("mode".into(), json!("managed"));
    m.insert("type".into(), json!(c.type_name));
    m.insert("name".into(), json!(c.name));
    if !c.index.is_null() {
        m.insert("index".into(), c.index.clone());
    }
    m.insert("provider_name".into(), json!("standby"));
    m.insert("region".into(), json!(c.region));
    m.insert(
        "change".into(),
        json!({
            "actions": c.action.terraform(),
            "before": values(&c.before),
            "after": values(&c.after),
            "after_unknown": unknown(&c.after),
            "before_sensitive": sensitive_mask(c, c.before.is_some()),
            "after_sensitive": sensitive_mask(c, c.after.is_some()),
            "replace_paths": c.replace_paths.iter().map(|p| json!([p])).collect::<Vec<_>>(),
        }),
    );
    if let (Some(i), Some(Json::Object(change))) = (&c.importing, m.get_mut("change")) {
        change.insert("importing".into(), json!({"id": i.id}));
    }
    if let Some(r) = action_reason(c) {
        m.insert("action_reason".into(), json!(r));
    }
    if let Some(r) = &c.reason {
        m.insert("reason".into(), json!(r));
    }
    if let Some(p) = &c.production {
        m.insert("production".into(), json!({"target": p.target, "effect": p.effect}));
    }
    Json::Object(m)
}

fn output(o: &OutputChange) -> Json {
    json!({
        "actions": o.action.terraform(),
        "before": if o.sensitive { Json::Null } else { o.before.clone().unwrap_or(Json::Null) },
        "after": if o.sensitive { Json::Null } else { o.after.clone().unwrap_or(Json::Null) },
        "after_unknown": o.after_unknown,
        "before_sensitive": o.sensitive,
        "after_sensitive": o.sensitive,
    })
}

pub fn render(plan: &Plan) -> Json {
    let changes: Vec<Json> = plan.changes.iter().map(resource).collect();
    let drift: Vec<Json> = plan.drift.iter().map(resource).collect();
    let outputs: Map<String, Json> = plan.outputs.iter().map(|o| (o.name.clone(), output(o))).collect();
    let planned_outputs: Map<String, Json> = plan
        .outputs
        .iter()
        // Terraform leaves out what is unknown until apply.
        .filter(|o| o.action != Action::Delete && (o.sensitive || !o.after_unknown))
        .map(|o| {
            let value = if o.sensitive { Json::Null } else { o.after.clone().unwrap_or(Json::Null) };
            (o.name.clone(), json!({"sensitive": o.sensitive, "value": value}))
        })
        .collect();
    let warnings: Vec<Json> = plan
        .warnings
        .iter()
        .map(|w| {
            json!({
                "severity": "warning",
                "summary": w.message,
                "address": w.address,
                "range": w.location.as_ref().map(|l| json!({"filename": l.file.display().to_string(), "start": {"line": l.line, "column": l.col}})),
            })
        })
        .collect();
    let sum = plan.summary();
    let mut doc = json!({
        "format_version": "1.2",
        // Policy tools (checkov) recognise a plan by this key; it names the
        // tool that wrote the plan, here standby.
        "terraform_version": plan.standby_version,
        "standby_version": plan.standby_version,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "errored": false,
        "applyable": plan.has_changes(),
        "complete": true,
        "planned_values": json_values::planned_values(plan, planned_outputs),
        "prior_state": json_values::prior_state(plan),
        "configuration": json_values::configuration(plan),
        "resource_changes": changes,
        "resource_drift": drift,
        "output_changes": outputs,
        "diagnostics": warnings,
        "summary": {"add": sum.add, "change": sum.change, "destroy": sum.destroy},
    });
    // standby's own: what the plan changes on production (adopted resources).
    let production: Vec<Json> = plan
        .production_changes()
        .map(|(c, p)| json!({"address": c.address, "actions": c.action.terraform(), "target": p.target, "effect": p.effect}))
        .collect();
    if !production.is_empty() {
        doc["production_changes"] = Json::Array(production);
    }
    // standby's own: the ordered role switch run before the changes, when there is one.
    if let Some(rb) = &plan.runbook {
        doc["runbook"] = serde_json::to_value(rb).unwrap_or_default();
    }
    doc
}
