//! `aws_vpc_security_group_ingress_rule` and `aws_vpc_security_group_egress_rule`:
//! one rule of a security group each, like the AWS provider's kinds of the
//! same names. id = the rule's `sgr-…` id. A rule's source (or destination)
//! is exactly one of a CIDR, a prefix list or another security group.
//!
//! AWS refuses a rule that exists already (`InvalidPermission.Duplicate`);
//! when that answer follows a retry, the first attempt made it: the rule is
//! looked up by its fields and adopted.

use super::{sync_ec2_tags, tag_spec, tags_from_ec2};
use crate::kinds::aws::{aws_error, get_i64, get_str, is_gone, put_reported, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, SecurityGroupRule,
    SecurityGroupRuleDescription, UserIdGroupPair,
};

pub struct IngressRule;
pub struct EgressRule;

const GONE: &[&str] = &["InvalidSecurityGroupRuleId.NotFound", "InvalidGroup.NotFound", "InvalidPermission.NotFound"];

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("security_group_id", Type::String, "The group the rule belongs to.").force_new(),
        Prop::required(
            "ip_protocol",
            Type::String,
            "`tcp`, `udp`, `icmp`, `icmpv6`, a protocol number, or `-1` (all).",
        )
        .force_new(),
        Prop::optional("from_port", Type::Number, "First port (ICMP type); not with `-1`.").force_new(),
        Prop::optional("to_port", Type::Number, "Last port (ICMP code); not with `-1`.").force_new(),
        Prop::optional("cidr_ipv4", Type::String, "IPv4 range, e.g. `10.0.0.0/16`.").force_new(),
        Prop::optional("cidr_ipv6", Type::String, "IPv6 range.").force_new(),
        Prop::optional("prefix_list_id", Type::String, "Managed prefix list (`pl-…`).").force_new(),
        Prop::optional("referenced_security_group_id", Type::String, "Another security group (or the same one).")
            .force_new(),
        Prop::optional("description", Type::String, "Description."),
        Prop::optional("tags", Type::Map(&Type::String), "Tags."),
        Prop::computed("security_group_rule_id", Type::String, "The rule id (`sgr-…`)."),
        Prop::computed("arn", Type::String, "Rule ARN."),
    ],
};

const SOURCES: [&str; 4] = ["cidr_ipv4", "cidr_ipv6", "prefix_list_id", "referenced_security_group_id"];

fn validate(props: &Attrs) -> Vec<PropProblem> {
    let mut out = Vec::new();
    let set: Vec<&str> = SOURCES.iter().copied().filter(|k| props.get(*k).is_some_and(|v| !v.is_null())).collect();
    if set.len() != 1 {
        let at = set.get(1).copied().unwrap_or("security_group_id");
        out.push(PropProblem::error(
            at,
            format!(
                "set exactly one of {}, got {}",
                SOURCES.join(", "),
                if set.is_empty() { "none".into() } else { set.join(" and ") }
            ),
        ));
    }
    if let Some(p) = get_str(props, "ip_protocol") {
        let known = ["tcp", "udp", "icmp", "icmpv6", "-1", "all"].contains(&p) || p.parse::<u8>().is_ok();
        if !known {
            out.push(PropProblem::error(
                "ip_protocol",
                format!("`{p}` is not a protocol: use tcp, udp, icmp, icmpv6, a number or -1"),
            ));
        }
        let (from, to) = (get_i64(props, "from_port"), get_i64(props, "to_port"));
        if matches!(p, "tcp" | "udp" | "6" | "17") {
            if from.is_none() || to.is_none() {
                out.push(PropProblem::error("ip_protocol", format!("`{p}` rules need from_port and to_port")));
            }
            for (k, n) in [("from_port", from), ("to_port", to)] {
                if n.is_some_and(|n| !(0..=65535).contains(&n)) {
                    out.push(PropProblem::error(k, "must be a port, 0–65535"));
                }
            }
            if let (Some(f), Some(t)) = (from, to)
                && f > t
            {
                out.push(PropProblem::error("from_port", format!("is above to_port ({f} > {t})")));
            }
        }
        if matches!(p, "-1" | "all") && (from.is_some() || to.is_some()) {
            out.push(PropProblem::error("from_port", "rules for all protocols (-1) take no ports"));
        }
    }
    for k in ["cidr_ipv4", "cidr_ipv6"] {
        if let Some(c) = get_str(props, k)
            && !valid_cidr(c, k == "cidr_ipv6")
        {
            out.push(PropProblem::error(
                k,
                format!("`{c}` is not an {} CIDR block", if k == "cidr_ipv6" { "IPv6" } else { "IPv4" }),
            ));
        }
    }
    out
}

fn valid_cidr(c: &str, v6: bool) -> bool {
    let Some((ip, len)) = c.split_once('/') else { return false };
    let Ok(len) = len.parse::<u8>() else { return false };
    if v6 {
        ip.parse::<std::net::Ipv6Addr>().is_ok() && len <= 128
    } else {
        ip.parse::<std::net::Ipv4Addr>().is_ok() && len <= 32
    }
}

fn protocol(props: &Attrs) -> String {
    match get_str(props, "ip_protocol").unwrap_or("-1") {
        "all" => "-1".to_string(),
        p => p.to_string(),
    }
}

/// The rule as an `IpPermission` (one source).
fn permission(props: &Attrs) -> IpPermission {
    let desc = get_str(props, "description").map(str::to_string);
    let mut p = IpPermission::builder()
        .ip_protocol(protocol(props))
        .set_from_port(get_i64(props, "from_port").map(|n| n as i32))
        .set_to_port(get_i64(props, "to_port").map(|n| n as i32));
    if let Some(c) = get_str(props, "cidr_ipv4") {
        p = p.ip_ranges(IpRange::builder().cidr_ip(c).set_description(desc).build());
    } else if let Some(c) = get_str(props, "cidr_ipv6") {
        p = p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).set_description(desc).build());
    } else if let Some(pl) = get_str(props, "prefix_list_id") {
        p = p.prefix_list_ids(PrefixListId::builder().prefix_list_id(pl).set_description(desc).build());
    } else if let Some(g) = get_str(props, "referenced_security_group_id") {
        p = p.user_id_group_pairs(UserIdGroupPair::builder().group_id(g).set_description(desc).build());
    }
    p.build()
}

fn attrs_of(r: &SecurityGroupRule, region: &str, prior: &Attrs) -> Attrs {
    let mut a = Attrs::new();
    a.insert("security_group_id".into(), Value::str(r.group_id().unwrap_or_default()));
    a.insert("ip_protocol".into(), Value::str(r.ip_protocol().unwrap_or_default()));
    // AWS reports -1 for the ports of all-protocol (and all-ICMP) rules.
    if r.ip_protocol() != Some("-1") {
        if let Some(n) = r.from_port() {
            a.insert("from_port".into(), Value::int(n.into()));
        }
        if let Some(n) = r.to_port() {
            a.insert("to_port".into(), Value::int(n.into()));
        }
    }
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            a.insert(k.to_string(), Value::str(v));
        }
    };
    put("cidr_ipv4", r.cidr_ipv4());
    put("cidr_ipv6", r.cidr_ipv6());
    put("prefix_list_id", r.prefix_list_id());
    put("referenced_security_group_id", r.referenced_group_info().and_then(|g| g.group_id()));
    let id = r.security_group_rule_id().unwrap_or_default();
    put("security_group_rule_id", Some(id));
    let arn = r.security_group_rule_arn().map(str::to_string).unwrap_or_else(|| {
        format!("arn:aws:ec2:{region}:{}:security-group-rule/{id}", r.group_owner_id().unwrap_or_default())
    });
    a.insert("arn".into(), Value::str(arn));
    put_reported(&mut a, prior, "description", Value::str(r.description().unwrap_or_default()));
    put_reported(&mut a, prior, "tags", tags_from_ec2(r.tags()));
    a
}

/// Whether an existing rule is the one `props` describes.
fn same_rule(r: &SecurityGroupRule, props: &Attrs, egress: bool) -> bool {
    let found = attrs_of(r, "", &Attrs::new());
    r.is_egress() == Some(egress)
        && found.get("ip_protocol").and_then(Value::as_str) == Some(protocol(props).as_str())
        && ["from_port", "to_port"].iter().all(|k| found.get(*k).and_then(Value::as_i64) == get_i64(props, k))
        && SOURCES.iter().all(|k| found.get(*k).and_then(Value::as_str) == get_str(props, k))
}

async fn find(cx: &Ctx<'_>, desired: &Attrs, egress: bool) -> Result<Option<String>, KindError> {
    let out = cx
        .aws
        .ec2(cx.region)
        .await
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(req_str(desired, "security_group_id")?).build())
        .send()
        .await
        .map_err(|e| aws_error("DescribeSecurityGroupRules", e))?;
    Ok(out
        .security_group_rules()
        .iter()
        .find(|r| same_rule(r, desired, egress))
        .and_then(|r| r.security_group_rule_id())
        .map(str::to_string))
}

async fn create(cx: &Ctx<'_>, desired: &Attrs, egress: bool) -> Result<Created, KindError> {
    let ec2 = cx.aws.ec2(cx.region).await;
    let group = req_str(desired, "security_group_id")?;
    let tags = tag_spec(desired, ResourceType::SecurityGroupRule);
    let (result, retries) = crate::aws::count_retries(async {
        if egress {
            ec2.authorize_security_group_egress()
                .group_id(group)
                .ip_permissions(permission(desired))
                .set_tag_specifications(tags)
                .send()
                .await
                .map(|o| o.security_group_rules().to_vec())
                .map_err(|e| aws_error("AuthorizeSecurityGroupEgress", e))
        } else {
            ec2.authorize_security_group_ingress()
                .group_id(group)
                .ip_permissions(permission(desired))
                .set_tag_specifications(tags)
                .send()
                .await
                .map(|o| o.security_group_rules().to_vec())
                .map_err(|e| aws_error("AuthorizeSecurityGroupIngress", e))
        }
    })
    .await;
    let id = match result {
        Ok(rules) => rules.first().and_then(|r| r.security_group_rule_id()).map(str::to_string),
        // The first attempt made it before its answer was lost.
        Err(KindError::Aws { ref code, .. }) if code == "InvalidPermission.Duplicate" && retries > 0 => {
            find(cx, desired, egress).await?
        }
        Err(KindError::Aws { code, message, call, .. }) if code == "InvalidPermission.Duplicate" => {
            return Err(KindError::Aws {
                call,
                code,
                message,
                hint: Some(
                    "the group already has this rule, outside standby's state: import it (`standby import ADDRESS sgr-…`) or remove it"
                        .into(),
                ),
            });
        }
        Err(e) => return Err(e),
    };
    let Some(id) = id else { return Err(KindError::Failed("AWS returned no rule id".into())) };
    let mut attrs = desired.clone();
    attrs.insert("security_group_rule_id".into(), Value::str(&id));
    Ok(Created { id, attrs })
}

// read: 1 call (DescribeSecurityGroupRules by rule id).
async fn read(cx: &Ctx<'_>, id: &str, prior: &Attrs, egress: bool) -> Result<Option<Attrs>, KindError> {
    let out = match cx.aws.ec2(cx.region).await.describe_security_group_rules().security_group_rule_ids(id).send().await
    {
        Ok(out) => out,
        Err(e) if is_gone(&e, GONE) => return Ok(None),
        Err(e) => return Err(aws_error("DescribeSecurityGroupRules", e)),
    };
    let Some(r) = out.security_group_rules().iter().find(|r| r.security_group_rule_id() == Some(id)) else {
        return Ok(None);
    };
    if r.is_egress() != Some(egress) {
        return Err(KindError::Failed(format!(
            "{id} is an {} rule: import it as aws_vpc_security_group_{}_rule",
            if egress { "ingress" } else { "egress" },
            if egress { "ingress" } else { "egress" }
        )));
    }
    Ok(Some(attrs_of(r, cx.region, prior)))
}

async fn update(cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs, egress: bool) -> Result<(), KindError> {
    let ec2 = cx.aws.ec2(cx.region).await;
    if get_str(prior, "description").unwrap_or("") != get_str(desired, "description").unwrap_or("") {
        let group = req_str(desired, "security_group_id")?;
        let descs = SecurityGroupRuleDescription::builder()
            .security_group_rule_id(id)
            .description(get_str(desired, "description").unwrap_or(""))
            .build();
        if egress {
            ec2.update_security_group_rule_descriptions_egress()
                .group_id(group)
                .security_group_rule_descriptions(descs)
                .send()
                .await
                .map_err(|e| aws_error("UpdateSecurityGroupRuleDescriptionsEgress", e))?;
        } else {
            ec2.update_security_group_rule_descriptions_ingress()
                .group_id(group)
                .security_group_rule_descriptions(descs)
                .send()
                .await
                .map_err(|e| aws_error("UpdateSecurityGroupRuleDescriptionsIngress", e))?;
        }
    }
    sync_ec2_tags(&ec2, id, prior, desired).await
}

async fn delete(cx: &Ctx<'_>, id: &str, prior: &Attrs, egress: bool) -> Result<(), KindError> {
    let ec2 = cx.aws.ec2(cx.region).await;
    let group = req_str(prior, "security_group_id")?;
    let result = if egress {
        ec2.revoke_security_group_egress()
            .group_id(group)
            .security_group_rule_ids(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| (is_gone(&e, GONE), aws_error("RevokeSecurityGroupEgress", e)))
    } else {
        ec2.revoke_security_group_ingress()
            .group_id(group)
            .security_group_rule_ids(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| (is_gone(&e, GONE), aws_error("RevokeSecurityGroupIngress", e)))
    };
    match result {
        Ok(()) | Err((true, _)) => Ok(()),
        Err((false, e)) => Err(e),
    }
}

macro_rules! rule_kind {
    ($t:ident, $name:literal, $egress:literal) => {
        #[async_trait]
        impl Kind for $t {
            fn type_name(&self) -> &'static str {
                $name
            }
            fn schema(&self) -> &'static Schema {
                &SCHEMA
            }
            fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
                validate(props)
            }
            fn finds_by_natural_key(&self) -> bool {
                true
            }
            // 1 call (DescribeSecurityGroupRules of the group).
            async fn find(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Option<String>, KindError> {
                find(cx, desired, $egress).await
            }
            async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
                create(cx, desired, $egress).await
            }
            async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
                read(cx, id, prior, $egress).await
            }
            async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
                update(cx, id, prior, desired, $egress).await
            }
            async fn delete(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
                delete(cx, id, prior, $egress).await
            }
        }
    };
}

rule_kind!(IngressRule, "aws_vpc_security_group_ingress_rule", false);
rule_kind!(EgressRule, "aws_vpc_security_group_egress_rule", true);
