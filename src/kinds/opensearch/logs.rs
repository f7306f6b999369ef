//! A domain's `log_publishing_options`, in the AWS provider's shape: a list
//! of `{log_type, cloudwatch_log_group_arn, enabled}`, sent as CreateDomain's
//! and UpdateDomainConfig's `LogPublishingOptions` map and read back from
//! DomainStatus.

use crate::kinds::PropProblem;
use crate::kinds::aws::cloudwatch_log_group::bare_arn;
use crate::value::{Attrs, Value};
use aws_sdk_opensearch::types::{DomainStatus, LogPublishingOption, LogType};
use std::collections::{BTreeMap, HashMap};

/// The log types OpenSearch Service publishes.
pub const LOG_TYPES: [&str; 4] = ["INDEX_SLOW_LOGS", "SEARCH_SLOW_LOGS", "ES_APPLICATION_LOGS", "AUDIT_LOGS"];
const KEYS: [&str; 3] = ["log_type", "cloudwatch_log_group_arn", "enabled"];
const PROP: &str = "log_publishing_options";

/// Checks the list: known keys, known and distinct log types, a log group ARN each.
pub fn validate_log_publishing(v: Option<&Value>, out: &mut Vec<PropProblem>) {
    let Some(Value::List(items)) = v else { return };
    let mut seen = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Map(m) = item else {
            if !matches!(item, Value::Unknown) {
                out.push(PropProblem::error(
                    PROP,
                    format!("element {i}: expected a map {{log_type, cloudwatch_log_group_arn, enabled}}"),
                ));
            }
            continue;
        };
        for k in m.keys().filter(|k| !KEYS.contains(&k.as_str())) {
            out.push(PropProblem::error(PROP, format!("element {i}: unknown key `{k}` (expected one of {KEYS:?})")));
        }
        match m.get("log_type") {
            Some(Value::String(t)) if !LOG_TYPES.contains(&t.as_str()) => {
                out.push(PropProblem::error(PROP, format!("element {i}: log_type {t:?} is not one of {LOG_TYPES:?}")))
            }
            Some(Value::String(t)) if seen.contains(t) => {
                out.push(PropProblem::error(PROP, format!("element {i}: log_type {t} is given twice")))
            }
            Some(Value::String(t)) => seen.push(t.clone()),
            None | Some(Value::Null) => {
                out.push(PropProblem::error(PROP, format!("element {i}: `log_type` is required")))
            }
            _ => {}
        }
        match m.get("cloudwatch_log_group_arn") {
            Some(Value::String(a)) if !(a.starts_with("arn:") && a.contains(":log-group:")) => out.push(
                PropProblem::error(PROP, format!("element {i}: cloudwatch_log_group_arn {a:?} is not a log group ARN")),
            ),
            None | Some(Value::Null) => out.push(PropProblem::error(
                PROP,
                format!("element {i}: `cloudwatch_log_group_arn` is required (e.g. \"${{aws_cloudwatch_log_group.NAME.arn}}\")"),
            )),
            _ => {}
        }
        if let Some(e) = m.get("enabled")
            && !matches!(e, Value::Bool(_) | Value::Unknown | Value::Null)
        {
            out.push(PropProblem::error(PROP, format!("element {i}: `enabled` must be true or false")));
        }
    }
}

fn entry(log_type: &str, arn: Value, enabled: bool) -> Value {
    Value::Map(BTreeMap::from([
        ("log_type".to_string(), Value::str(log_type)),
        ("cloudwatch_log_group_arn".to_string(), arn),
        ("enabled".to_string(), Value::Bool(enabled)),
    ]))
}

/// The compared form: `enabled` defaults to true, ARNs without `:*`,
/// sorted by log type.
pub fn normalize(v: &Value) -> Value {
    let Value::List(items) = v else { return v.clone() };
    let mut out: Vec<Value> = items
        .iter()
        .map(|item| match item {
            Value::Map(m) => {
                let arn = match m.get("cloudwatch_log_group_arn") {
                    Some(Value::String(a)) => Value::str(bare_arn(a)),
                    Some(other) => other.clone(),
                    None => Value::Null,
                };
                let enabled = m.get("enabled").and_then(Value::as_bool).unwrap_or(true);
                let t = m.get("log_type").and_then(Value::as_str).unwrap_or_default();
                entry(t, arn, enabled)
            }
            other => other.clone(),
        })
        .collect();
    out.sort_by_key(log_type_of);
    Value::List(out)
}

fn log_type_of(v: &Value) -> String {
    v.as_map().and_then(|m| m.get("log_type")).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// The SDK's map for the given list (or `None` when unset).
pub fn log_publishing_options(
    v: Option<&Value>,
    disable: Option<&Value>,
) -> Option<HashMap<LogType, LogPublishingOption>> {
    let items = normalize(v?);
    let mut map = HashMap::new();
    // What the old list had and the new one drops is turned off (AWS keeps
    // log types an update does not mention).
    if let Some(Value::List(old)) = disable.map(normalize) {
        for o in old {
            let Some(m) = o.as_map() else { continue };
            let (Some(t), Some(a)) = (m.get("log_type").and_then(Value::as_str), m.get("cloudwatch_log_group_arn"))
            else {
                continue;
            };
            let opt = LogPublishingOption::builder().set_cloud_watch_logs_log_group_arn(a.as_str().map(str::to_string));
            map.insert(LogType::from(t), opt.enabled(false).build());
        }
    }
    for item in items.as_list()? {
        let Some(m) = item.as_map() else { continue };
        let Some(t) = m.get("log_type").and_then(Value::as_str) else { continue };
        let opt = LogPublishingOption::builder()
            .set_cloud_watch_logs_log_group_arn(
                m.get("cloudwatch_log_group_arn").and_then(Value::as_str).map(str::to_string),
            )
            .enabled(m.get("enabled").and_then(Value::as_bool).unwrap_or(true))
            .build();
        map.insert(LogType::from(t), opt);
    }
    Some(map)
}

/// UpdateDomainConfig's map from the prior list to the desired one.
pub fn publishing_changes(prior: &Attrs, desired: &Attrs) -> Option<HashMap<LogType, LogPublishingOption>> {
    let empty = Value::List(Vec::new());
    log_publishing_options(Some(desired.get(PROP).filter(|v| !v.is_null()).unwrap_or(&empty)), prior.get(PROP))
}

/// What DomainStatus reports. A log type turned off is listed only when the
/// prior list had it, so a type the configuration dropped (and standby
/// turned off) does not show as a change forever.
pub fn read_log_publishing(d: &DomainStatus, prior: &Attrs) -> Value {
    let had: Vec<String> = match prior.get(PROP).map(normalize) {
        Some(Value::List(items)) => items.iter().map(log_type_of).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<Value> = d
        .log_publishing_options()
        .map(|m| {
            m.iter()
                .filter(|(t, o)| o.enabled() == Some(true) || had.iter().any(|h| h == t.as_str()))
                .map(|(t, o)| {
                    let arn =
                        o.cloud_watch_logs_log_group_arn().map(|a| Value::str(bare_arn(a))).unwrap_or(Value::Null);
                    entry(t.as_str(), arn, o.enabled() == Some(true))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by_key(log_type_of);
    Value::List(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(t: &str, arn: &str, enabled: Option<bool>) -> Value {
        let mut m = BTreeMap::from([
            ("log_type".to_string(), Value::str(t)),
            ("cloudwatch_log_group_arn".to_string(), Value::str(arn)),
        ]);
        if let Some(e) = enabled {
            m.insert("enabled".into(), Value::Bool(e));
        }
        Value::Map(m)
    }

    const ARN: &str = "arn:aws:logs:us-east-2:123456789012:log-group:/aws/opensearch/d";

    #[test]
    fn validation_names_each_problem() {
        let v = Value::List(vec![
            opt("AUDIT_LOGS", ARN, None),
            opt("AUDIT_LOGS", ARN, None),
            opt("SLOW_LOGS", ARN, None),
            opt("INDEX_SLOW_LOGS", "not-an-arn", Some(true)),
        ]);
        let mut out = Vec::new();
        validate_log_publishing(Some(&v), &mut out);
        let text: Vec<_> = out.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(out.len(), 3, "{text:?}");
        assert!(text[0].contains("given twice"), "{text:?}");
        assert!(text[1].contains("SLOW_LOGS"), "{text:?}");
        assert!(text[2].contains("not a log group ARN"), "{text:?}");
        assert!(out.iter().all(|p| p.prop == PROP));
    }

    #[test]
    fn normalized_form_is_sorted_with_defaults() {
        let a = Value::List(vec![opt("SEARCH_SLOW_LOGS", &format!("{ARN}:*"), None), opt("AUDIT_LOGS", ARN, None)]);
        let b = Value::List(vec![opt("AUDIT_LOGS", ARN, Some(true)), opt("SEARCH_SLOW_LOGS", ARN, Some(true))]);
        assert_eq!(normalize(&a), normalize(&b));
    }

    #[test]
    fn dropped_types_are_turned_off() {
        let prior: Attrs =
            [(PROP.to_string(), Value::List(vec![opt("AUDIT_LOGS", ARN, None), opt("INDEX_SLOW_LOGS", ARN, None)]))]
                .into();
        let desired: Attrs = [(PROP.to_string(), Value::List(vec![opt("AUDIT_LOGS", ARN, None)]))].into();
        let m = publishing_changes(&prior, &desired).unwrap();
        assert_eq!(m[&LogType::AuditLogs].enabled(), Some(true));
        assert_eq!(m[&LogType::IndexSlowLogs].enabled(), Some(false));
        assert_eq!(m.len(), 2);
    }
}
