//! `aws_route53_record`: a DNS record: plain values (`ttl` + `records`) or an
//! alias (to a load balancer: its DNS name and canonical zone id), with
//! optional failover routing (`set_identifier`, `failover_routing_policy`,
//! `health_check_id`). id = `ZONEID_NAME_TYPE[_SETIDENTIFIER]`, as the AWS
//! provider's import ids.
//!
//! Create sends CREATE (refused when the record exists: standby does not
//! overwrite a record it did not make; import it instead); update sends
//! UPSERT; delete sends DELETE with the values AWS holds. Each waits until
//! the change is INSYNC. When the SDK repeated a CREATE whose answer was
//! lost and the repeat failed with "already exists", the apply finds the
//! record by its id (which follows from the inputs) and reads it back.

use super::{dns_name, r53_error, wait_insync};
use crate::kinds::aws::{get_i64, get_str, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PlanView, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, ResourceRecordSetFailover,
    RrType,
};
use std::collections::BTreeMap;

pub struct Route53Record;

const TYPES: &[&str] = &["A", "AAAA", "CAA", "CNAME", "DS", "MX", "NAPTR", "NS", "PTR", "SOA", "SPF", "SRV", "TXT"];
const FAILOVER: &[&str] = &["PRIMARY", "SECONDARY"];
const ALIAS_KEYS: &[&str] = &["name", "zone_id", "evaluate_target_health"];

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("zone_id", Type::String, "The hosted zone's id (`Z…`).").force_new(),
        Prop::required("name", Type::String, "The full name, e.g. `chat.example.com`.").force_new(),
        Prop::required("type", Type::String, "`A`, `AAAA`, `CNAME`, `TXT`, … (`A` for an alias to a load balancer).")
            .force_new(),
        Prop::optional(
            "ttl",
            Type::Number,
            "Seconds resolvers may cache the answer (plain records only; ≤ 60 with health checks).",
        ),
        Prop::optional("records", Type::List(&Type::String), "The values (plain records; with `ttl`)."),
        Prop::optional(
            "alias",
            Type::Map(&Type::Any),
            "An alias instead of `records`: `{name, zone_id, evaluate_target_health}` — a load balancer's DNS \
             name and canonical hosted zone id; `evaluate_target_health: true` makes the record unhealthy when \
             the load balancer has no healthy target.",
        ),
        Prop::optional(
            "set_identifier",
            Type::String,
            "Tells apart records of one name and type with a routing policy (e.g. the AWS region).",
        )
        .force_new(),
        Prop::optional(
            "failover_routing_policy",
            Type::Map(&Type::String),
            "`{type: PRIMARY}` or `{type: SECONDARY}`: Route 53 answers with the PRIMARY while it is healthy, \
             else with the SECONDARY, without any API call.",
        ),
        Prop::optional("health_check_id", Type::String, "The health check that decides this record's health."),
        Prop::computed("fqdn", Type::String, "The record's name as Route 53 serves it."),
    ],
};

/// The id's parts: zone, name, type, set identifier.
type Key = (String, String, String, Option<String>);

fn key_of(p: &Attrs) -> Option<Key> {
    Some((
        get_str(p, "zone_id")?.to_string(),
        dns_name(get_str(p, "name")?),
        get_str(p, "type")?.to_ascii_uppercase(),
        get_str(p, "set_identifier").map(str::to_string),
    ))
}

fn id_of(k: &Key) -> String {
    match &k.3 {
        Some(s) => format!("{}_{}_{}_{s}", k.0, k.1, k.2),
        None => format!("{}_{}_{}", k.0, k.1, k.2),
    }
}

/// Parses `ZONEID_NAME_TYPE[_SETIDENTIFIER]`; names may hold `_`
/// (`_dmarc.example.com`): the type is the first part after the zone and
/// at least one name part that is a record type.
pub(crate) fn parse_id(id: &str) -> Option<Key> {
    let parts: Vec<&str> = id.split('_').collect();
    let zone = parts.first().filter(|z| !z.is_empty())?;
    let i = (2..parts.len()).find(|i| TYPES.contains(&parts[*i]))?;
    let name = parts[1..i].join("_");
    let set = (i + 1 < parts.len()).then(|| parts[i + 1..].join("_"));
    Some((zone.to_string(), dns_name(&name), parts[i].to_string(), set))
}

fn alias_of(p: &Attrs) -> Option<&BTreeMap<String, Value>> {
    p.get("alias").and_then(Value::as_map)
}

fn failover_of(p: &Attrs) -> Option<&str> {
    p.get("failover_routing_policy").and_then(Value::as_map).and_then(|m| m.get("type")).and_then(Value::as_str)
}

fn built<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, KindError> {
    r.map_err(|e| KindError::Failed(format!("record settings: {e}")))
}

/// The record set to send, from the configuration.
fn record_set(p: &Attrs) -> Result<ResourceRecordSet, KindError> {
    let mut b = ResourceRecordSet::builder()
        .name(req_str(p, "name")?)
        .r#type(RrType::from(req_str(p, "type")?.to_ascii_uppercase().as_str()))
        .set_set_identifier(get_str(p, "set_identifier").map(str::to_string))
        .set_failover(failover_of(p).map(ResourceRecordSetFailover::from))
        .set_health_check_id(get_str(p, "health_check_id").map(str::to_string))
        .set_ttl(get_i64(p, "ttl"));
    if let Some(a) = alias_of(p) {
        let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        b = b.alias_target(built(
            AliasTarget::builder()
                .dns_name(s("name"))
                .hosted_zone_id(s("zone_id"))
                .evaluate_target_health(a.get("evaluate_target_health").and_then(Value::as_bool).unwrap_or(false))
                .build(),
        )?);
    }
    for v in p.get("records").and_then(Value::as_list).into_iter().flatten() {
        b = b
            .resource_records(built(ResourceRecord::builder().value(v.to_interpolated().unwrap_or_default()).build())?);
    }
    built(b.build())
}

/// What AWS holds, as attributes.
fn attrs_of(r: &ResourceRecordSet, zone: &str, prior: &Attrs) -> Attrs {
    let name = match get_str(prior, "name") {
        Some(n) if dns_name(n) == dns_name(r.name()) => n.to_string(),
        _ => dns_name(r.name()),
    };
    let mut a: Attrs = [
        ("zone_id".to_string(), Value::str(zone)),
        ("name".to_string(), Value::str(&name)),
        ("type".to_string(), Value::str(r.r#type().as_str())),
        ("fqdn".to_string(), Value::String(dns_name(r.name()))),
    ]
    .into();
    if let Some(t) = r.ttl() {
        a.insert("ttl".into(), Value::int(t));
    }
    if !r.resource_records().is_empty() {
        a.insert("records".into(), Value::List(r.resource_records().iter().map(|v| Value::str(v.value())).collect()));
    }
    if let Some(t) = r.alias_target() {
        let m: BTreeMap<String, Value> = [
            ("name".to_string(), Value::String(dns_name(t.dns_name()))),
            ("zone_id".to_string(), Value::str(t.hosted_zone_id())),
            ("evaluate_target_health".to_string(), Value::Bool(t.evaluate_target_health())),
        ]
        .into();
        a.insert("alias".into(), Value::Map(m));
    }
    if let Some(s) = r.set_identifier() {
        a.insert("set_identifier".into(), Value::str(s));
    }
    if let Some(f) = r.failover() {
        a.insert("failover_routing_policy".into(), Value::Map([("type".to_string(), Value::str(f.as_str()))].into()));
    }
    if let Some(h) = r.health_check_id() {
        a.insert("health_check_id".into(), Value::str(h));
    }
    a
}

/// The record AWS holds for this key, if any. 1 call (ListResourceRecordSets
/// from the name and type; more only past 100 records of one name and type).
async fn find_set(cx: &Ctx<'_>, k: &Key) -> Result<Option<ResourceRecordSet>, KindError> {
    let r53 = cx.aws.route53().await;
    let (mut name, mut rtype) = (k.1.clone(), k.2.clone());
    loop {
        let out = match r53
            .list_resource_record_sets()
            .hosted_zone_id(&k.0)
            .start_record_name(&name)
            .start_record_type(RrType::from(rtype.as_str()))
            .max_items(100)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if crate::kinds::aws::is_gone(&e, &["NoSuchHostedZone"]) => return Ok(None),
            Err(e) => return Err(r53_error("ListResourceRecordSets", e)),
        };
        let same = |r: &ResourceRecordSet| dns_name(r.name()) == k.1 && r.r#type().as_str() == k.2;
        if let Some(r) = out.resource_record_sets().iter().find(|r| same(r) && r.set_identifier() == k.3.as_deref()) {
            return Ok(Some(r.clone()));
        }
        // Sorted by name and type: past ours, it is not there.
        let more = out.resource_record_sets().last().is_some_and(same) && out.is_truncated();
        match (more, out.next_record_name(), out.next_record_type()) {
            (true, Some(n), Some(t)) => (name, rtype) = (n.to_string(), t.as_str().to_string()),
            _ => return Ok(None),
        }
    }
}

async fn change(cx: &Ctx<'_>, zone: &str, action: ChangeAction, set: ResourceRecordSet) -> Result<(), KindError> {
    let batch = built(
        ChangeBatch::builder()
            .comment("standby")
            .changes(built(Change::builder().action(action).resource_record_set(set).build())?)
            .build(),
    )?;
    let out = cx
        .aws
        .route53()
        .await
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| r53_error("ChangeResourceRecordSets", e))?;
    wait_insync(cx, out.change_info().map(|c| c.id())).await
}

#[async_trait]
impl Kind for Route53Record {
    fn type_name(&self) -> &'static str {
        "aws_route53_record"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    /// Waiting for INSYNC takes up to a minute or two on AWS.
    fn default_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(10 * 60)
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if let Some(t) = get_str(props, "type")
            && !TYPES.contains(&t.to_ascii_uppercase().as_str())
        {
            out.push(PropProblem::error("type", format!("not a Route 53 record type: {t:?} ({})", TYPES.join(", "))));
        }
        let alias = props.get("alias").filter(|v| !v.is_null());
        let records = props.get("records").filter(|v| !v.is_null());
        match (alias, records) {
            (Some(_), Some(_)) => out.push(PropProblem::error(
                "records",
                "give either `alias` or `records`, not both (an alias answers with its target's addresses)",
            )),
            (None, None) => out.push(PropProblem::error("records", "give `records` (with `ttl`) or an `alias`")),
            (Some(_), None) if props.contains_key("ttl") => {
                out.push(PropProblem::error("ttl", "an alias has no TTL of its own (Route 53 uses the target's)"))
            }
            (None, Some(_)) if !props.contains_key("ttl") => {
                out.push(PropProblem::error("ttl", "plain records need a `ttl` (e.g. 60)"))
            }
            _ => {}
        }
        if let Some(a) = alias_of(props) {
            for k in a.keys().filter(|k| !ALIAS_KEYS.contains(&k.as_str())) {
                out.push(PropProblem::error(
                    "alias",
                    format!("unknown key `{k}` (alias takes name, zone_id, evaluate_target_health)"),
                ));
            }
            for k in ["name", "zone_id"] {
                if !a.contains_key(k) {
                    out.push(PropProblem::error("alias", format!("an alias needs `{k}`")));
                }
            }
            if let Some(v) = a.get("evaluate_target_health")
                && !v.has_unknown()
                && v.as_bool().is_none()
            {
                out.push(PropProblem::error("alias", "`evaluate_target_health` is true or false"));
            }
        }
        if let Some(n) = get_i64(props, "ttl")
            && !(0..=2_147_483_647).contains(&n)
        {
            out.push(PropProblem::error("ttl", format!("must be 0 or more seconds, got {n}")));
        }
        let policy = props.get("failover_routing_policy").and_then(Value::as_map);
        if let Some(m) = policy {
            match m.get("type") {
                Some(Value::String(t)) if !FAILOVER.contains(&t.as_str()) => out.push(PropProblem::error(
                    "failover_routing_policy",
                    format!("the failover type is PRIMARY or SECONDARY, got {t:?}"),
                )),
                None => {
                    out.push(PropProblem::error("failover_routing_policy", "give `type: PRIMARY` or `type: SECONDARY`"))
                }
                _ => {}
            }
            if let Some(k) = m.keys().find(|k| k.as_str() != "type") {
                out.push(PropProblem::error("failover_routing_policy", format!("unknown key `{k}` (only `type`)")));
            }
            if !props.contains_key("set_identifier") {
                out.push(PropProblem::error(
                    "set_identifier",
                    "a failover record needs a `set_identifier` (e.g. its AWS region) to tell it from its partner",
                ));
            }
        } else if props.contains_key("set_identifier") {
            out.push(PropProblem::error(
                "set_identifier",
                "`set_identifier` goes with a routing policy (`failover_routing_policy`): remove it, or add one",
            ));
        }
        // A PRIMARY nothing can find unhealthy never fails over.
        let evaluates =
            alias_of(props).and_then(|a| a.get("evaluate_target_health")).and_then(Value::as_bool) == Some(true);
        if failover_of(props) == Some("PRIMARY") && !props.contains_key("health_check_id") && !evaluates {
            out.push(PropProblem::warning(
                "failover_routing_policy",
                "this PRIMARY has neither `health_check_id` nor an alias with `evaluate_target_health: true`: Route 53 \
                 always considers it healthy, so DNS never fails over to the SECONDARY",
            ));
        }
        out
    }

    /// Records of one name and type in one zone: one PRIMARY and one
    /// SECONDARY at most, distinct set identifiers, and failover records
    /// never mixed with a plain one (AWS refuses each).
    fn check_plan(&self, props: &Attrs, view: &dyn PlanView) -> Vec<PropProblem> {
        let mut out = Vec::new();
        let (Some(name), Some(t)) = (get_str(props, "name"), get_str(props, "type")) else { return out };
        let zone = get_str(props, "zone_id");
        let same: Vec<(String, &Attrs)> = view
            .instances_of(self.type_name())
            .into_iter()
            .filter(|(_, a)| {
                get_str(a, "name").map(dns_name) == Some(dns_name(name))
                    && get_str(a, "type").map(str::to_ascii_uppercase) == Some(t.to_ascii_uppercase())
                    && match (zone, get_str(a, "zone_id")) {
                        (Some(x), Some(y)) => x == y,
                        _ => true,
                    }
            })
            .collect();
        let others = |f: &dyn Fn(&Attrs) -> bool| -> Vec<String> {
            same.iter().filter(|(_, a)| f(a)).map(|(addr, _)| addr.clone()).collect()
        };
        match failover_of(props) {
            Some(role) => {
                let twins = others(&|a| failover_of(a) == Some(role));
                if twins.len() > 1 {
                    out.push(PropProblem::error(
                        "failover_routing_policy",
                        format!(
                            "{} records are {role} for {name} {t}: {} (one PRIMARY and one SECONDARY)",
                            twins.len(),
                            twins.join(", ")
                        ),
                    ));
                }
                let plain = others(&|a| failover_of(a).is_none());
                if !plain.is_empty() {
                    out.push(PropProblem::error(
                        "failover_routing_policy",
                        format!("{} is a plain record of the same name and type: AWS does not mix failover and plain records", plain.join(", ")),
                    ));
                }
            }
            None if same.len() > 1 && get_str(props, "set_identifier").is_none() => out.push(PropProblem::error(
                "name",
                format!(
                    "{} records declare {name} {t} in one zone: {}",
                    same.len(),
                    same.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )),
            None => {}
        }
        if let Some(s) = get_str(props, "set_identifier") {
            let dup = others(&|a| get_str(a, "set_identifier") == Some(s));
            if dup.len() > 1 {
                out.push(PropProblem::error(
                    "set_identifier",
                    format!("set identifier {s:?} is used by {}", dup.join(", ")),
                ));
            }
        }
        out
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match (prop, v) {
            ("name", Value::String(s)) => Value::String(dns_name(s)),
            ("type", Value::String(s)) => Value::String(s.to_ascii_uppercase()),
            ("records", Value::List(l)) => {
                let mut l = l.clone();
                l.sort_by_key(|v| v.to_string());
                Value::List(l)
            }
            ("alias", Value::Map(m)) => {
                let mut m = m.clone();
                if let Some(Value::String(n)) = m.get("name") {
                    m.insert("name".into(), Value::String(dns_name(n)));
                }
                m.entry("evaluate_target_health".into()).or_insert(Value::Bool(false));
                Value::Map(m)
            }
            _ => v.clone(),
        }
    }

    fn derive(&self, planned: &mut Attrs) {
        if let Some(n) = get_str(planned, "name") {
            let n = dns_name(n);
            planned.insert("fqdn".into(), Value::String(n));
        }
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        key_of(desired).map(|k| id_of(&k))
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let key = key_of(desired).ok_or_else(|| KindError::Failed("zone_id, name and type must be known".into()))?;
        change(cx, &key.0, ChangeAction::Create, record_set(desired)?).await?;
        let mut attrs = desired.clone();
        attrs.insert("fqdn".into(), Value::String(key.1.clone()));
        Ok(Created { id: id_of(&key), attrs })
    }

    // read: 1 call (ListResourceRecordSets from the record's name and type).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let key = parse_id(id).ok_or_else(|| {
            KindError::Failed(format!("{id:?} is not a record id: ZONEID_NAME_TYPE or ZONEID_NAME_TYPE_SETIDENTIFIER"))
        })?;
        Ok(find_set(cx, &key).await?.map(|r| attrs_of(&r, &key.0, prior)))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let zone = parse_id(id).map(|k| k.0).ok_or_else(|| KindError::Failed(format!("bad record id {id:?}")))?;
        change(cx, &zone, ChangeAction::Upsert, record_set(desired)?).await
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        let Some(key) = parse_id(id) else { return Err(KindError::Failed(format!("bad record id {id:?}"))) };
        // DELETE must carry the values AWS holds: read them first.
        let Some(set) = find_set(cx, &key).await? else { return Ok(()) };
        match change(cx, &key.0, ChangeAction::Delete, set).await {
            Err(KindError::Aws { message, .. }) if message.contains("not found") => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, Value)]) -> Attrs {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    #[test]
    fn ids_round_trip_like_the_aws_provider() {
        assert_eq!(
            parse_id("Z4KAPRWWNC7JR_dev.example.com_NS_dev"),
            Some(("Z4KAPRWWNC7JR".into(), "dev.example.com".into(), "NS".into(), Some("dev".into())))
        );
        assert_eq!(
            parse_id("Z1_chat.example.com_A_us_west_1"),
            Some(("Z1".into(), "chat.example.com".into(), "A".into(), Some("us_west_1".into())))
        );
        assert_eq!(
            parse_id("Z1__dmarc.example.com_TXT"),
            Some(("Z1".into(), "_dmarc.example.com".into(), "TXT".into(), None))
        );
        assert_eq!(parse_id("Z1_chat.example.com"), None);
        let k = parse_id("Z1_chat.example.com_A_primary").unwrap();
        assert_eq!(id_of(&k), "Z1_chat.example.com_A_primary");
    }

    #[test]
    fn bad_combinations_are_located() {
        let both = props(&[
            ("zone_id", Value::str("Z1")),
            ("name", Value::str("chat.example.com")),
            ("type", Value::str("A")),
            ("ttl", Value::int(60)),
            ("records", Value::List(vec![Value::str("192.0.2.1")])),
            ("alias", map(&[("name", Value::str("lb")), ("zone_id", Value::str("Z2"))])),
            ("failover_routing_policy", map(&[("type", Value::str("PRIMARY_ONE"))])),
        ]);
        let p: Vec<String> = Route53Record.validate(&both).into_iter().map(|p| p.prop).collect();
        assert_eq!(p, ["records", "failover_routing_policy", "set_identifier"]);
        let msgs: Vec<String> = Route53Record.validate(&both).into_iter().map(|p| p.message).collect();
        assert!(msgs[1].contains("PRIMARY or SECONDARY"), "{msgs:?}");
        let mut blind = failover("PRIMARY", "west");
        blind.insert("alias".into(), map(&[("name", Value::str("lb")), ("zone_id", Value::str("Z2"))]));
        let p = Route53Record.validate(&blind);
        assert!(p.len() == 1 && p[0].warning && p[0].message.contains("never fails over"), "{p:?}");
        blind.insert("health_check_id".into(), Value::str("hc"));
        assert!(Route53Record.validate(&blind).is_empty());
    }

    struct View(Vec<(String, Attrs)>);
    impl PlanView for View {
        fn instances_of(&self, _: &str) -> Vec<(String, &Attrs)> {
            self.0.iter().map(|(a, v)| (a.clone(), v)).collect()
        }
    }

    fn failover(role: &str, set: &str) -> Attrs {
        props(&[
            ("name", Value::str("chat.example.com")),
            ("type", Value::str("A")),
            ("set_identifier", Value::str(set)),
            ("failover_routing_policy", map(&[("type", Value::str(role))])),
        ])
    }

    #[test]
    fn one_primary_per_name() {
        let (a, b) = (failover("PRIMARY", "west"), failover("PRIMARY", "east"));
        let view = View(vec![("r.a".into(), a.clone()), ("r.b".into(), b)]);
        let p = Route53Record.check_plan(&a, &view);
        assert!(p[0].message.contains("2 records are PRIMARY"), "{p:?}");
        let ok = View(vec![("r.a".into(), a.clone()), ("r.b".into(), failover("SECONDARY", "east"))]);
        assert!(Route53Record.check_plan(&a, &ok).is_empty());
    }
}
