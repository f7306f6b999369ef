//! `aws_route53_health_check`: Route 53 probes an endpoint (a region's load
//! balancer, e.g. `GET https://<lb>/api/v4/system/ping`) from its checkers
//! around the world. A failover record's health check is what moves DNS to
//! the other region without any API call. id = health check id.
//!
//! Create sends a `CallerReference` of `standby-<address hash>-<uuid>`: the
//! SDK repeats a call whose answer was lost with the same reference, and
//! Route 53 answers a repeat with the same settings with the health check it
//! made. After a kill, the address hash finds it (ListHealthChecks).

use super::{bare, r53_error};
use crate::kinds::aws::{get_i64, get_str, put_reported, req_str, tag_changes, tags_value};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_route53::types::{HealthCheckConfig, HealthCheckType, Tag, TagResourceType};

pub struct Route53HealthCheck;

const TYPES: &[&str] = &["HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"];

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required(
            "type",
            Type::String,
            "`HTTPS` (a load balancer with TLS), `HTTP`, `HTTPS_STR_MATCH`, `HTTP_STR_MATCH` or `TCP`.",
        )
        .force_new(),
        Prop::optional(
            "fqdn",
            Type::String,
            "The endpoint's DNS name (e.g. the region's load balancer), probed and sent as Host/SNI.",
        ),
        Prop::optional("ip_address", Type::String, "An IPv4/IPv6 address to probe instead of resolving `fqdn`.")
            .force_new(),
        Prop::optional("port", Type::Number, "Port (default 443 for HTTPS types, 80 otherwise).").or_computed(),
        Prop::optional(
            "resource_path",
            Type::String,
            "Path requested, e.g. `/api/v4/system/ping` (Mattermost answers 200 while it can serve). Not for TCP.",
        ),
        Prop::optional(
            "search_string",
            Type::String,
            "For the *_STR_MATCH types: text the first 5120 bytes must contain.",
        ),
        Prop::optional(
            "failure_threshold",
            Type::Number,
            "Consecutive failures (1-10, default 3) before it is unhealthy.",
        )
        .or_computed(),
        Prop::optional(
            "request_interval",
            Type::Number,
            "Seconds between probes from each checker: 30 (default) or 10 (faster failover, costs more).",
        )
        .force_new()
        .or_computed(),
        Prop::optional(
            "inverted",
            Type::Bool,
            "Report healthy when the endpoint fails (default false): a manual lever.",
        ),
        Prop::optional(
            "disabled",
            Type::Bool,
            "Stop probing and report healthy (default false): a manual lever that keeps DNS on the PRIMARY unless \
             its record also evaluates target health and the target has no healthy endpoint.",
        ),
        Prop::optional("enable_sni", Type::Bool, "Send `fqdn` as TLS SNI (default true for HTTPS types).")
            .or_computed(),
        Prop::optional("tags", Type::Map(&Type::String), "Tags (`Name` shows in the console's list)."),
        Prop::computed("id", Type::String, "The health check id (a failover record's `health_check_id`)."),
    ],
};

fn https(t: &str) -> bool {
    t.starts_with("HTTPS")
}

fn default_port(t: &str) -> i64 {
    if https(t) { 443 } else { 80 }
}

fn get_bool(a: &Attrs, k: &str) -> Option<bool> {
    a.get(k).and_then(Value::as_bool)
}

fn config(p: &Attrs) -> Result<HealthCheckConfig, KindError> {
    let t = req_str(p, "type")?;
    HealthCheckConfig::builder()
        .r#type(HealthCheckType::from(t))
        .set_fully_qualified_domain_name(get_str(p, "fqdn").map(str::to_string))
        .set_ip_address(get_str(p, "ip_address").map(str::to_string))
        .port(get_i64(p, "port").unwrap_or_else(|| default_port(t)) as i32)
        .set_resource_path(get_str(p, "resource_path").map(str::to_string))
        .set_search_string(get_str(p, "search_string").map(str::to_string))
        .failure_threshold(get_i64(p, "failure_threshold").unwrap_or(3) as i32)
        .request_interval(get_i64(p, "request_interval").unwrap_or(30) as i32)
        .inverted(get_bool(p, "inverted").unwrap_or(false))
        .disabled(get_bool(p, "disabled").unwrap_or(false))
        .enable_sni(get_bool(p, "enable_sni").unwrap_or(https(t)))
        .build()
        .map_err(|e| KindError::Failed(format!("health check settings: {e}")))
}

/// The part of a caller reference that names the resource.
fn reference_prefix(address: &str) -> String {
    use sha2::Digest;
    let h: String = sha2::Sha256::digest(address.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("standby-{h}-")
}

fn tag_list(map: std::collections::BTreeMap<String, String>) -> Vec<Tag> {
    map.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

async fn change_tags(cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
    let (set, remove) = tag_changes(prior, desired);
    if set.is_empty() && remove.is_empty() {
        return Ok(());
    }
    cx.aws
        .route53()
        .await
        .change_tags_for_resource()
        .resource_type(TagResourceType::Healthcheck)
        .resource_id(id)
        .set_add_tags(Some(tag_list(set)).filter(|t| !t.is_empty()))
        .set_remove_tag_keys(Some(remove).filter(|r| !r.is_empty()))
        .send()
        .await
        .map_err(|e| r53_error("ChangeTagsForResource", e))?;
    Ok(())
}

#[async_trait]
impl Kind for Route53HealthCheck {
    fn type_name(&self) -> &'static str {
        "aws_route53_health_check"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        let t = get_str(props, "type");
        if let Some(t) = t
            && !TYPES.contains(&t)
        {
            out.push(PropProblem::error("type", format!("must be one of {}, got {t:?}", TYPES.join(", "))));
        }
        if !props.contains_key("fqdn") && !props.contains_key("ip_address") {
            out.push(PropProblem::error("fqdn", "give `fqdn` (the endpoint's DNS name) or `ip_address`"));
        }
        if let Some(p) = get_str(props, "resource_path") {
            if t == Some("TCP") {
                out.push(PropProblem::error("resource_path", "a TCP health check requests no path"));
            } else if !p.starts_with('/') || p.len() > 255 {
                out.push(PropProblem::error(
                    "resource_path",
                    format!("must start with `/` (at most 255 characters), got {p:?}"),
                ));
            }
        }
        let str_match = t.is_some_and(|t| t.ends_with("_STR_MATCH"));
        if str_match != props.contains_key("search_string") {
            let m = if str_match {
                "an *_STR_MATCH health check needs `search_string`"
            } else {
                "`search_string` is for the *_STR_MATCH types only"
            };
            out.push(PropProblem::error("search_string", m));
        }
        if let Some(n) = get_i64(props, "failure_threshold")
            && !(1..=10).contains(&n)
        {
            out.push(PropProblem::error("failure_threshold", format!("must be 1 to 10, got {n}")));
        }
        if let Some(n) = get_i64(props, "request_interval")
            && n != 10
            && n != 30
        {
            out.push(PropProblem::error("request_interval", format!("must be 10 or 30 seconds, got {n}")));
        }
        if let Some(n) = get_i64(props, "port")
            && !(1..=65535).contains(&n)
        {
            out.push(PropProblem::error("port", format!("must be 1 to 65535, got {n}")));
        }
        if t == Some("HTTP") && get_i64(props, "port") == Some(443) {
            out.push(PropProblem::warning(
                "type",
                "an HTTP check on port 443 speaks plain HTTP to a TLS port: use HTTPS",
            ));
        }
        out
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match (prop, v) {
            ("inverted" | "disabled", Value::Null) => Value::Bool(false),
            ("tags", Value::Null) => Value::Map(Default::default()),
            _ => v.clone(),
        }
    }

    fn finds_by_natural_key(&self) -> bool {
        true
    }

    // find: 1 call per 100 health checks (ListHealthChecks), by caller reference.
    async fn find(&self, cx: &Ctx<'_>, _desired: &Attrs) -> Result<Option<String>, KindError> {
        let prefix = reference_prefix(cx.address);
        let mut pages = cx.aws.route53().await.list_health_checks().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| r53_error("ListHealthChecks", e))?;
            if let Some(h) = page.health_checks().iter().find(|h| h.caller_reference().starts_with(&prefix)) {
                return Ok(Some(h.id().to_string()));
            }
        }
        Ok(None)
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let reference = format!("{}{}", reference_prefix(cx.address), crate::ids::uuid());
        let out = cx
            .aws
            .route53()
            .await
            .create_health_check()
            .caller_reference(reference)
            .health_check_config(config(desired)?)
            .send()
            .await
            .map_err(|e| r53_error("CreateHealthCheck", e))?;
        let id = out.health_check().map(|h| bare(h.id()).to_string());
        let id = id.ok_or_else(|| KindError::Failed("CreateHealthCheck returned no health check".into()))?;
        change_tags(cx, &id, &Attrs::new(), desired).await?;
        let mut attrs = desired.clone();
        attrs.insert("id".into(), Value::str(&id));
        Ok(Created { id, attrs })
    }

    // read: 2 calls (GetHealthCheck, ListTagsForResource).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let r53 = cx.aws.route53().await;
        let out = match r53.get_health_check().health_check_id(id).send().await {
            Ok(out) => out,
            Err(e) if crate::kinds::aws::is_gone(&e, &["NoSuchHealthCheck"]) => return Ok(None),
            Err(e) => return Err(r53_error("GetHealthCheck", e)),
        };
        let Some(c) = out.health_check().and_then(|h| h.health_check_config()) else { return Ok(None) };
        let mut a: Attrs = [
            ("id".to_string(), Value::str(id)),
            ("type".to_string(), Value::str(c.r#type().as_str())),
            ("inverted".to_string(), Value::Bool(c.inverted().unwrap_or(false))),
            ("disabled".to_string(), Value::Bool(c.disabled().unwrap_or(false))),
        ]
        .into();
        for (k, v) in [
            ("port", c.port()),
            ("failure_threshold", c.failure_threshold()),
            ("request_interval", c.request_interval()),
        ] {
            if let Some(v) = v {
                a.insert(k.into(), Value::int(v as i64));
            }
        }
        if let Some(v) = c.enable_sni() {
            a.insert("enable_sni".into(), Value::Bool(v));
        }
        for (k, v) in [
            ("fqdn", c.fully_qualified_domain_name()),
            ("ip_address", c.ip_address()),
            ("resource_path", c.resource_path()),
            ("search_string", c.search_string()),
        ] {
            put_reported(&mut a, prior, k, Value::str(v.unwrap_or_default()));
        }
        let tags = r53
            .list_tags_for_resource()
            .resource_type(TagResourceType::Healthcheck)
            .resource_id(id)
            .send()
            .await
            .map_err(|e| r53_error("ListTagsForResource", e))?;
        let reported = tags
            .resource_tag_set()
            .map(|s| {
                s.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect::<Vec<_>>()
            })
            .unwrap_or_default();
        put_reported(&mut a, prior, "tags", tags_value(reported));
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let c = config(desired)?;
        let mut req = cx
            .aws
            .route53()
            .await
            .update_health_check()
            .health_check_id(id)
            .set_fully_qualified_domain_name(c.fully_qualified_domain_name().map(str::to_string))
            .set_port(c.port())
            .set_search_string(c.search_string().map(str::to_string))
            .set_failure_threshold(c.failure_threshold())
            .set_inverted(c.inverted())
            .set_disabled(c.disabled())
            .set_enable_sni(c.enable_sni());
        match c.resource_path() {
            Some(p) => req = req.resource_path(p),
            None if get_str(prior, "resource_path").is_some() => {
                req = req.reset_elements(aws_sdk_route53::types::ResettableElementName::ResourcePath)
            }
            None => {}
        }
        req.send().await.map_err(|e| r53_error("UpdateHealthCheck", e))?;
        change_tags(cx, id, prior, desired).await
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        match cx.aws.route53().await.delete_health_check().health_check_id(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if crate::kinds::aws::is_gone(&e, &["NoSuchHealthCheck"]) => Ok(()),
            Err(e) => Err(r53_error("DeleteHealthCheck", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, Value)]) -> Attrs {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn bad_settings_are_located() {
        let bad = props(&[
            ("type", Value::str("HTTPS")),
            ("fqdn", Value::str("lb.example.com")),
            ("resource_path", Value::str("api/v4/system/ping")),
            ("failure_threshold", Value::int(11)),
            ("request_interval", Value::int(20)),
        ]);
        let p: Vec<String> = Route53HealthCheck.validate(&bad).into_iter().map(|p| p.prop).collect();
        assert_eq!(p, ["resource_path", "failure_threshold", "request_interval"]);
        let none = props(&[("type", Value::str("PING"))]);
        let p: Vec<String> = Route53HealthCheck.validate(&none).into_iter().map(|p| p.prop).collect();
        assert_eq!(p, ["type", "fqdn"]);
        let ok = props(&[
            ("type", Value::str("HTTPS")),
            ("fqdn", Value::str("lb.example.com")),
            ("resource_path", Value::str("/api/v4/system/ping")),
        ]);
        assert!(Route53HealthCheck.validate(&ok).is_empty());
    }

    #[test]
    fn references_name_the_resource_not_the_moment() {
        assert_eq!(reference_prefix("a.b"), reference_prefix("a.b"));
        assert_ne!(reference_prefix("a.b"), reference_prefix("a.c"));
        assert!(reference_prefix("module.dns.aws_route53_health_check.region[\"primary\"]").len() + 36 <= 64);
    }
}
