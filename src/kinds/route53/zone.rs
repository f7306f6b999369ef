//! `aws_route53_zone`: a public hosted zone, for demos and tests; real
//! deployments usually pass an existing zone's id to their records. id =
//! the zone id (`Z…`, without `/hostedzone/`).
//!
//! Delete: AWS refuses a zone that holds records besides its own NS and
//! SOA; `force_destroy: true` deletes them first (the plan says so).

use super::{bare, dns_name, r53_error, wait_insync};
use crate::kinds::aws::{get_str, put_reported, req_str, tag_changes, tags_of, tags_value};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, HostedZoneConfig, RrType, Tag, TagResourceType};

pub struct Route53Zone;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("name", Type::String, "The domain, e.g. `example.com`.").force_new(),
        Prop::optional("comment", Type::String, "A comment shown in the console."),
        Prop::optional(
            "force_destroy",
            Type::Bool,
            "On destroy, delete every record in the zone first (default false: AWS refuses to delete a zone with \
             records).",
        ),
        Prop::optional("tags", Type::Map(&Type::String), "Tags."),
        Prop::computed("zone_id", Type::String, "The zone id, for records' `zone_id`."),
        Prop::computed("name_servers", Type::List(&Type::String), "The zone's four name servers (delegate to them)."),
        Prop::computed("arn", Type::String, "The zone's ARN."),
    ],
};

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
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(id)
        .set_add_tags(Some(tag_list(set)).filter(|t| !t.is_empty()))
        .set_remove_tag_keys(Some(remove).filter(|r| !r.is_empty()))
        .send()
        .await
        .map_err(|e| r53_error("ChangeTagsForResource", e))?;
    Ok(())
}

/// Deletes every record but the apex NS and SOA (force_destroy), a batch
/// per page.
async fn empty(cx: &Ctx<'_>, id: &str, apex: &str) -> Result<(), KindError> {
    let r53 = cx.aws.route53().await;
    loop {
        let out = r53
            .list_resource_record_sets()
            .hosted_zone_id(id)
            .send()
            .await
            .map_err(|e| r53_error("ListResourceRecordSets", e))?;
        let doomed: Vec<Change> = out
            .resource_record_sets()
            .iter()
            .filter(|r| !(dns_name(r.name()) == apex && matches!(r.r#type(), RrType::Ns | RrType::Soa)))
            .filter_map(|r| Change::builder().action(ChangeAction::Delete).resource_record_set(r.clone()).build().ok())
            .collect();
        if doomed.is_empty() {
            return Ok(());
        }
        let batch = ChangeBatch::builder()
            .set_changes(Some(doomed))
            .build()
            .map_err(|e| KindError::Failed(format!("change batch: {e}")))?;
        let out = r53
            .change_resource_record_sets()
            .hosted_zone_id(id)
            .change_batch(batch)
            .send()
            .await
            .map_err(|e| r53_error("ChangeResourceRecordSets", e))?;
        wait_insync(cx, out.change_info().map(|c| c.id())).await?;
    }
}

#[async_trait]
impl Kind for Route53Zone {
    fn type_name(&self) -> &'static str {
        "aws_route53_zone"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if let Some(n) = get_str(props, "name") {
            let n = n.trim_end_matches('.');
            if n.is_empty() || n.len() > 255 || n.split('.').any(|l| l.is_empty() || l.len() > 63) {
                out.push(PropProblem::error("name", format!("not a domain name: {n:?}")));
            }
        }
        out
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match (prop, v) {
            ("name", Value::String(s)) => Value::String(dns_name(s)),
            ("force_destroy", Value::Null) => Value::Bool(false),
            ("tags", Value::Null) => Value::Map(Default::default()),
            _ => v.clone(),
        }
    }

    fn delete_effect(&self, prior: &Attrs) -> Option<String> {
        let name = get_str(prior, "name").unwrap_or("its domain");
        Some(if prior.get("force_destroy").and_then(Value::as_bool) == Some(true) {
            format!("every record in the zone is deleted first (force_destroy), and names under {name} stop resolving")
        } else {
            format!("names under {name} stop resolving; AWS refuses while the zone holds records besides NS and SOA")
        })
    }

    fn finds_by_natural_key(&self) -> bool {
        true
    }

    // find: 1 call (ListHostedZonesByName), a zone of that name made by standby.
    async fn find(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Option<String>, KindError> {
        let Some(name) = get_str(desired, "name") else { return Ok(None) };
        let out = cx
            .aws
            .route53()
            .await
            .list_hosted_zones_by_name()
            .dns_name(name)
            .send()
            .await
            .map_err(|e| r53_error("ListHostedZonesByName", e))?;
        Ok(out
            .hosted_zones()
            .iter()
            .find(|z| dns_name(z.name()) == dns_name(name) && z.caller_reference().starts_with("standby-"))
            .map(|z| bare(z.id()).to_string()))
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let name = req_str(desired, "name")?;
        let out = cx
            .aws
            .route53()
            .await
            .create_hosted_zone()
            .name(name)
            .caller_reference(format!("standby-{}", crate::ids::uuid()))
            .set_hosted_zone_config(get_str(desired, "comment").map(|c| HostedZoneConfig::builder().comment(c).build()))
            .send()
            .await
            .map_err(|e| r53_error("CreateHostedZone", e))?;
        let id = out.hosted_zone().map(|z| bare(z.id()).to_string());
        let id = id.ok_or_else(|| KindError::Failed("CreateHostedZone returned no zone".into()))?;
        change_tags(cx, &id, &Attrs::new(), desired).await?;
        wait_insync(cx, out.change_info().map(|c| c.id())).await?;
        let mut attrs = desired.clone();
        attrs.insert("zone_id".into(), Value::str(&id));
        Ok(Created { id, attrs })
    }

    // read: 2 calls (GetHostedZone with its name servers, ListTagsForResource).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let r53 = cx.aws.route53().await;
        let out = match r53.get_hosted_zone().id(id).send().await {
            Ok(out) => out,
            Err(e) if crate::kinds::aws::is_gone(&e, &["NoSuchHostedZone"]) => return Ok(None),
            Err(e) => return Err(r53_error("GetHostedZone", e)),
        };
        let Some(z) = out.hosted_zone() else { return Ok(None) };
        // Keep the spelling the configuration uses when it means the same name.
        let name = match get_str(prior, "name") {
            Some(n) if dns_name(n) == dns_name(z.name()) => n.to_string(),
            _ => dns_name(z.name()),
        };
        let mut a: Attrs = [
            ("name".to_string(), Value::str(&name)),
            ("zone_id".to_string(), Value::str(id)),
            ("arn".to_string(), Value::String(format!("arn:aws:route53:::hostedzone/{id}"))),
            (
                "name_servers".to_string(),
                Value::List(
                    out.delegation_set().map(|d| d.name_servers().iter().map(Value::str).collect()).unwrap_or_default(),
                ),
            ),
        ]
        .into();
        put_reported(&mut a, prior, "comment", Value::str(z.config().and_then(|c| c.comment()).unwrap_or_default()));
        if let Some(v) = prior.get("force_destroy") {
            a.insert("force_destroy".into(), v.clone());
        }
        let tags = r53
            .list_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
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
        if get_str(prior, "comment") != get_str(desired, "comment") {
            cx.aws
                .route53()
                .await
                .update_hosted_zone_comment()
                .id(id)
                .comment(get_str(desired, "comment").unwrap_or_default())
                .send()
                .await
                .map_err(|e| r53_error("UpdateHostedZoneComment", e))?;
        }
        if tags_of(prior) != tags_of(desired) {
            change_tags(cx, id, prior, desired).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        if prior.get("force_destroy").and_then(Value::as_bool) == Some(true) {
            let apex = dns_name(get_str(prior, "name").unwrap_or_default());
            match empty(cx, id, &apex).await {
                Err(KindError::Aws { code, .. }) if code == "NoSuchHostedZone" => return Ok(()),
                other => other?,
            }
        }
        match cx.aws.route53().await.delete_hosted_zone().id(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if crate::kinds::aws::is_gone(&e, &["NoSuchHostedZone"]) => Ok(()),
            Err(e) => Err(r53_error("DeleteHostedZone", e)),
        }
    }
}
