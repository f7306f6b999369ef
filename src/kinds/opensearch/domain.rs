//! `aws_opensearch_domain`: an OpenSearch 2.x domain with fine-grained access
//! control and an internal master user, node-to-node encryption, encryption
//! at rest and HTTPS only (what cross-cluster replication with Mattermost
//! needs). id = domain name.
//!
//! The access policy is `aws_opensearch_domain_policy`'s, not this kind's.
//! A domain is public or in a VPC (`vpc_options`: its subnets and security
//! groups), for good: AWS cannot move a domain between the two ("If you
//! launch a new domain within a VPC, you can't later switch it to use a
//! public endpoint. The reverse is also true", OpenSearch Service developer
//! guide, "Launching your domains within a VPC"), so such a change is refused
//! at plan time. Unset, an adopted domain keeps what it has.
//! The master password is never read back (AWS does not report it): it is
//! compared by hash and sent only when the plan changes it (or the name).
//!
//! An adopted (production) domain: what the configuration leaves unset is
//! as found (shape, volumes, TLS policy, encryption, tags, log publishing);
//! tags and log publishing given are merged with production's; a master
//! password given is verified with one authenticated read at import, never
//! sent to find out. A change AWS makes with a blue/green deployment, or
//! cannot undo, is refused unless `allow_disruption` names it (AWS's list,
//! "Making configuration changes in Amazon OpenSearch Service", Changes that
//! usually cause blue/green deployments), and before any update of an
//! adopted domain standby asks AWS (`DryRun`) and refuses a blue/green
//! deployment nobody accepted. Destroy gives back its tags and log
//! publishing as found.

use super::{domain_name_problem, os_error};
use crate::kinds::aws::{get_i64, get_str, is_gone, put_reported, req_str, tag_changes, tags_of, tags_value};
use crate::kinds::rds::{bool_or, get_bool, poll};
use crate::kinds::schema::{P_ALLOW_DISRUPTION, P_UNLESS_ADOPTED, Prop, ProviderName, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_opensearch::types::{
    AdvancedSecurityOptionsInput, ClusterConfig, DomainEndpointOptions, DomainStatus, EbsOptions,
    EncryptionAtRestOptions, MasterUserOptions, NodeToNodeEncryptionOptions, OpenSearchPartitionInstanceType, Tag,
    TlsSecurityPolicy, VolumeType, VpcOptions, ZoneAwarenessConfig,
};
use std::time::Duration;

pub use super::logs::LOG_TYPES;
use super::logs::{log_publishing_options, publishing_changes, read_log_publishing, validate_log_publishing};

pub struct OpenSearchDomain;

/// The TLS policy unless one is given: TLS 1.2 and later.
pub const DEFAULT_TLS_POLICY: &str = "Policy-Min-TLS-1-2-2019-07";

/// The AWS provider's nesting (`aws_opensearch_domain`), for policy tools.
static PROVIDER_NAMES: [ProviderName; 12] = [
    ProviderName::new("instance_type", "cluster_config.instance_type"),
    ProviderName::new("instance_count", "cluster_config.instance_count"),
    ProviderName::new("zone_awareness_enabled", "cluster_config.zone_awareness_enabled"),
    ProviderName::new("availability_zone_count", "cluster_config.zone_awareness_config.availability_zone_count"),
    ProviderName::new("ebs_volume_size", "ebs_options.volume_size"),
    ProviderName::new("ebs_volume_type", "ebs_options.volume_type"),
    ProviderName::new("encrypt_at_rest", "encrypt_at_rest.enabled").or("true"),
    ProviderName::new("node_to_node_encryption", "node_to_node_encryption.enabled").or("true"),
    ProviderName::new("enforce_https", "domain_endpoint_options.enforce_https").or("true"),
    ProviderName::new("tls_security_policy", "domain_endpoint_options.tls_security_policy")
        .or("\"Policy-Min-TLS-1-2-2019-07\""),
    // Always on: the master user is required, so create turns it on.
    ProviderName::new("fine_grained_access_control", "advanced_security_options.enabled").or("true"),
    ProviderName::new("master_user_name", "advanced_security_options.master_user_options.master_user_name"),
];

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("domain_name", Type::String, "Domain name (3-28 lowercase letters, digits, hyphens).")
            .force_new(),
        Prop::optional(
            "engine_version",
            Type::String,
            "`OpenSearch_2.<minor>`, e.g. `OpenSearch_2.11`: cross-cluster replication in this topology needs \
             OpenSearch 2.x. Changing it replaces the domain (standby runs no in-place upgrades). Unset on an \
             adopted domain: as found; needed to create one.",
        )
        .as_found()
        .force_new(),
        Prop::optional(
            "instance_type",
            Type::String,
            "Data node instance type, e.g. `r6g.large.search` (unset on an adopted domain: as found; needed to create \
             one).",
        )
        .as_found(),
        Prop::optional("instance_count", Type::Number, "Data nodes (AWS default 1).").or_computed(),
        Prop::optional(
            "zone_awareness_enabled",
            Type::Bool,
            "Spread the data nodes and replica shards over two or three Availability Zones (the provider's \
             `cluster_config.zone_awareness_enabled`). Unset: on when `vpc_options` has two or three subnets (AWS \
             refuses more than one subnet without it: \"You must specify exactly one subnet\"), off for a new public \
             domain; as found on an adopted domain, and kept in every cluster change sent to it.",
        )
        .or_computed(),
        Prop::optional(
            "availability_zone_count",
            Type::Number,
            "With zone awareness, how many zones: 2 or 3 (the provider's \
             `cluster_config.zone_awareness_config.availability_zone_count`). In a VPC it equals the number of \
             subnets (unset: that number); with 2 zones `instance_count` must be even, with 3 a multiple of 3 is \
             advised. Unset on an adopted domain: as found.",
        )
        .or_computed(),
        Prop::optional("ebs_volume_size", Type::Number, "EBS volume per node, GiB (EBS is on when given).")
            .or_computed(),
        Prop::optional("ebs_volume_type", Type::String, "EBS volume type, e.g. `gp3`.").or_computed(),
        Prop::optional(
            "master_user_name",
            Type::String,
            "Internal master user of fine-grained access control (needed to create a domain). On an adopted domain: \
             the one it has (AWS never reports it; the import checks it with the password); unset leaves it alone.",
        ),
        Prop::optional(
            "master_user_password",
            Type::String,
            "Its password, from a sensitive variable (8+ characters: upper and lower case, a digit, a special \
             character). On an adopted domain the import verifies it (one authenticated read) and it is never sent \
             unless it changes, which `allow_disruption: [master_user_password]` must accept.",
        )
        .sensitive(),
        Prop::optional(
            "node_to_node_encryption",
            Type::Bool,
            "Encrypt traffic between nodes (default true; required by fine-grained access control; unset on an \
             adopted domain: as found).",
        )
        .or_computed(),
        Prop::optional(
            "encrypt_at_rest",
            Type::Bool,
            "Encrypt data at rest (default true; required by fine-grained access control; unset on an adopted \
             domain: as found).",
        )
        .or_computed(),
        Prop::optional(
            "enforce_https",
            Type::Bool,
            "Refuse plain HTTP (default true; required by fine-grained access control; unset on an adopted domain: \
             as found).",
        )
        .or_computed(),
        Prop::optional(
            "tls_security_policy",
            Type::String,
            "TLS policy (default `Policy-Min-TLS-1-2-2019-07`; unset on an adopted domain: as found).",
        )
        .or_computed(),
        Prop::optional(
            "log_publishing_options",
            Type::List(&Type::Map(&Type::Any)),
            "Logs published to CloudWatch Logs, as in the AWS provider: a list of `{log_type, \
             cloudwatch_log_group_arn, enabled}` (log_type INDEX_SLOW_LOGS, SEARCH_SLOW_LOGS, ES_APPLICATION_LOGS \
             or AUDIT_LOGS; enabled defaults to true; `enabled: null` is as found on an adopted domain and true on one standby \
             makes). The group's resource policy must let es.amazonaws.com \
             write to it (aws_cloudwatch_log_resource_policy), or AWS refuses the change. Unset leaves what AWS has. \
             On an adopted domain, merged by log type: a type production already publishes keeps its own group.",
        )
        .or_computed(),
        Prop::optional(
            "vpc_options",
            Type::Map(&Type::List(&Type::String)),
            "Put the domain in a VPC, as in the AWS provider: `{subnet_ids: [...], security_group_ids: [...]}` (one \
             subnet per Availability Zone the domain uses; the groups decide who reaches it). Fixed at creation: \
             AWS cannot move a domain between public and VPC access. Unset: a new domain is public; an adopted one \
             keeps what it has.",
        )
        .or_computed(),
        Prop::optional(
            "tags",
            Type::Map(&Type::String),
            "Tags. On an adopted domain, merged with the tags it has (unset: as found).",
        )
        .or_computed(),
        P_ALLOW_DISRUPTION,
        P_UNLESS_ADOPTED,
        Prop::computed("vpc_id", Type::String, "The VPC of a VPC domain (null for a public one)."),
        Prop::computed("arn", Type::String, "Domain ARN."),
        Prop::computed(
            "dedicated_master_enabled",
            Type::Bool,
            "Whether the domain has dedicated master nodes (then changing the data node count is not a blue/green \
             deployment).",
        ),
        Prop::computed("endpoint", Type::String, "Endpoint host name (the VPC endpoint for a VPC domain)."),
        Prop::computed("domain_id", Type::String, "`<account>/<domain name>`."),
        Prop::computed("fine_grained_access_control", Type::Bool, "Whether fine-grained access control is on."),
    ],
};

const GONE: &[&str] = &["ResourceNotFoundException"];

/// Whether `v` is `OpenSearch_2.<minor>`.
pub fn engine_version_ok(v: &str) -> bool {
    v.strip_prefix("OpenSearch_2.").is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
}

/// AWS's master password rule, without ever echoing the password.
fn password_problem(p: &str) -> Option<&'static str> {
    let classes = [
        p.chars().any(|c| c.is_ascii_uppercase()),
        p.chars().any(|c| c.is_ascii_lowercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    (p.chars().count() < 8 || classes.contains(&false)).then_some(
        "the master password must have 8 or more characters, with an upper-case letter, a lower-case letter, a \
         digit and a special character (the value is not shown)",
    )
}

async fn describe(cx: &Ctx<'_>, name: &str) -> Result<Option<DomainStatus>, KindError> {
    let os = cx.aws.opensearch(cx.region).await;
    match os.describe_domain().domain_name(name).send().await {
        Ok(out) => Ok(out.domain_status().cloned().filter(|d| d.deleted() != Some(true))),
        Err(e) if is_gone(&e, GONE) => Ok(None),
        Err(e) => Err(os_error("DescribeDomain", e)),
    }
}

/// The endpoint clients use: public, or the VPC one.
pub fn endpoint_of(d: &DomainStatus) -> Option<&str> {
    d.endpoint().or_else(|| d.endpoints().and_then(|e| e.get("vpc")).map(String::as_str))
}

/// The number of subnets in `vpc_options`, when known.
fn subnet_count(p: &Attrs) -> Option<usize> {
    let v = p.get("vpc_options").and_then(Value::as_map)?.get("subnet_ids")?;
    (!v.has_unknown()).then(|| v.as_list().map_or(0, <[Value]>::len))
}

/// The zones the domain is spread over, `None` without zone awareness: as
/// given, else from the subnets (two or three: that many zones). The API
/// reference, ZoneAwarenessConfig: "If your domain is provisioned within a
/// VPC, this value be equal to number of subnets"; default 2.
fn zones(p: &Attrs) -> Option<i64> {
    let count = get_i64(p, "availability_zone_count");
    let from_subnets = || subnet_count(p).filter(|n| (2..=3).contains(n)).map(|n| n as i64);
    match get_bool(p, "zone_awareness_enabled") {
        Some(false) => None,
        Some(true) => Some(count.or_else(from_subnets).unwrap_or(2)),
        None => count.or_else(from_subnets),
    }
}

/// Zone awareness left unset follows the subnets when their number changes
/// in an update: the setting found would not fit the new subnets, and AWS
/// refuses a VPC domain whose zone count differs from its subnets.
fn zones_follow_subnets(prior: &Attrs, given: &Attrs, merged: &mut Attrs) {
    let unset = |k: &str| given.get(k).is_none_or(Value::is_null);
    if subnet_count(prior) != subnet_count(merged)
        && unset("zone_awareness_enabled")
        && unset("availability_zone_count")
    {
        merged.remove("zone_awareness_enabled");
        merged.remove("availability_zone_count");
    }
}

/// The whole cluster configuration, zone awareness included: a change of
/// instance type or count sent without it could drop an adopted domain's
/// zone awareness (the AWS provider, too, always sends all of
/// `cluster_config`).
fn cluster_config(p: &Attrs) -> Result<ClusterConfig, KindError> {
    let zones = zones(p);
    let explicit_off = get_bool(p, "zone_awareness_enabled") == Some(false);
    Ok(ClusterConfig::builder()
        .instance_type(OpenSearchPartitionInstanceType::from(req_str(p, "instance_type")?))
        .set_instance_count(get_i64(p, "instance_count").map(|n| n as i32))
        .set_zone_awareness_enabled(zones.map(|_| true).or(explicit_off.then_some(false)))
        .set_zone_awareness_config(
            zones.map(|n| ZoneAwarenessConfig::builder().availability_zone_count(n as i32).build()),
        )
        .build())
}

/// Zone awareness against the subnets and the data node count, as AWS
/// checks them at CreateDomain/UpdateDomainConfig.
fn zone_problems(p: &Attrs, out: &mut Vec<PropProblem>) {
    let subnets = subnet_count(p);
    if let Some(n) = get_i64(p, "availability_zone_count")
        && !(2..=3).contains(&n)
    {
        out.push(PropProblem::error("availability_zone_count", format!("AWS takes 2 or 3 zones, not {n}")));
        return;
    }
    if get_bool(p, "zone_awareness_enabled") == Some(false) {
        if let Some(n) = subnets.filter(|n| *n > 1) {
            out.push(PropProblem::error(
                "zone_awareness_enabled",
                format!(
                    "`vpc_options` has {n} subnets: AWS places a domain without zone awareness in exactly one \
                     (CreateDomain answers \"You must specify exactly one subnet\"); give one subnet, or turn zone \
                     awareness on"
                ),
            ));
        }
        return;
    }
    let Some(zones) = zones(p) else {
        if let Some(n) = subnets.filter(|n| *n > 3) {
            out.push(PropProblem::error(
                "vpc_options",
                format!("`vpc_options` has {n} subnets: a domain uses one per Availability Zone, at most 3"),
            ));
        }
        return;
    };
    if let Some(n) = subnets.filter(|n| *n as i64 != zones) {
        out.push(PropProblem::error(
            "availability_zone_count",
            format!(
                "the domain is spread over {zones} zones but `vpc_options` has {n} subnets: AWS wants one subnet per \
                 zone (ZoneAwarenessConfig: \"If your domain is provisioned within a VPC, this value be equal to \
                 number of subnets\")"
            ),
        ));
    }
    if let Some(count) = get_i64(p, "instance_count") {
        if zones == 2 && count % 2 != 0 {
            out.push(PropProblem::error(
                "instance_count",
                format!(
                    "{count} data nodes over 2 zones: AWS refuses an odd count with zone awareness (\"You must \
                     select an even number of data nodes if zone awareness is enabled\")"
                ),
            ));
        } else if zones == 3 && count % 3 != 0 {
            out.push(PropProblem::warning(
                "instance_count",
                format!(
                    "{count} data nodes over 3 zones: the zones hold unequal shares, and losing the fullest one \
                     costs more than a third (AWS advises a multiple of three, \"Configuring a multi-AZ domain\")"
                ),
            ));
        }
    }
}

fn ebs_options(p: &Attrs) -> Option<EbsOptions> {
    let size = get_i64(p, "ebs_volume_size")?;
    Some(
        EbsOptions::builder()
            .ebs_enabled(true)
            .volume_size(size as i32)
            .set_volume_type(get_str(p, "ebs_volume_type").map(VolumeType::from))
            .build(),
    )
}

fn security(p: &Attrs) -> Result<AdvancedSecurityOptionsInput, KindError> {
    let master = MasterUserOptions::builder()
        .master_user_name(req_str(p, "master_user_name")?)
        .master_user_password(req_str(p, "master_user_password")?)
        .build();
    Ok(AdvancedSecurityOptionsInput::builder()
        .enabled(true)
        .internal_user_database_enabled(true)
        .master_user_options(master)
        .build())
}

/// The properties listed in `allow_disruption`.
fn allowed(p: &Attrs) -> Vec<&str> {
    p.get(crate::kinds::schema::ALLOW_DISRUPTION)
        .and_then(Value::as_list)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Whether an adopted domain's update may go on after AWS's DryRun answer
/// (botocore `DryRunResults.DeploymentType`): a blue/green deployment only
/// when every property sent is accepted; `Undetermined` ("the domain is in
/// the middle of an update and can't predict the deployment type") never.
fn dry_run_verdict(
    id: &str,
    deployment: Option<&str>,
    message: Option<&str>,
    sent: &[&str],
    accepted: &[&str],
) -> Result<(), String> {
    let why = message.unwrap_or("no reason given");
    match deployment {
        Some("Blue/Green") => {
            let not: Vec<String> = sent.iter().filter(|p| !accepted.contains(p)).map(|p| format!("`{p}`")).collect();
            if not.is_empty() {
                return Ok(());
            }
            Err(format!(
                "AWS answers (DryRun) that this change to the adopted domain {id} needs a blue/green deployment: \
                 {why}; nothing was changed. `allow_disruption` does not accept {}: accept them, or leave them as \
                 found (a change accepted can go in an apply of its own)",
                not.join(", ")
            ))
        }
        Some("Undetermined") => Err(format!(
            "AWS cannot tell (DryRun) what this change to the adopted domain {id} would take: the domain is in the \
             middle of an update ({why}); nothing was changed. Apply again once the domain's update is done"
        )),
        _ => Ok(()),
    }
}

/// The enabled log types of a `log_publishing_options` value.
fn published(v: Option<&Value>) -> Vec<String> {
    let Some(Value::List(items)) = v.map(super::logs::normalize) else { return Vec::new() };
    items
        .iter()
        .filter_map(Value::as_map)
        .filter(|m| m.get("enabled").and_then(Value::as_bool) != Some(false))
        .filter_map(|m| m.get("log_type").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// What a change to an adopted domain would make AWS do with a blue/green
/// deployment or for good, per property (AWS, "Making configuration changes
/// in Amazon OpenSearch Service": Changes that usually cause blue/green
/// deployments; fgac.md: "After you enable fine-grained access control, you
/// can't disable it").
fn disruptions(aws: &Attrs, planned: &Attrs, changed: &std::collections::BTreeSet<String>) -> Vec<PropProblem> {
    let mut out = Vec::new();
    let bg = "AWS makes it with a blue/green deployment (a new set of nodes, the data copied over, hours on a large \
              domain, more load meanwhile)";
    let was = |k: &str| aws.get(k).map(|v| v.to_string()).unwrap_or_else(|| "(unset)".into());
    let will = |k: &str| planned.get(k).map(|v| v.to_string()).unwrap_or_else(|| "(unset)".into());
    if changed.contains("instance_type") {
        out.push(PropProblem::error(
            "instance_type",
            format!(
                "this changes the adopted domain's instance type {} -> {}: {bg}",
                was("instance_type"),
                will("instance_type")
            ),
        ));
    }
    if changed.contains("instance_count") && get_bool(aws, "dedicated_master_enabled") != Some(true) {
        out.push(PropProblem::error(
            "instance_count",
            format!(
                "this changes the adopted domain's data node count {} -> {} on a domain without dedicated master \
                 nodes: {bg}",
                was("instance_count"),
                will("instance_count")
            ),
        ));
    }
    if changed.contains("ebs_volume_type") {
        out.push(PropProblem::error(
            "ebs_volume_type",
            format!(
                "this changes the adopted domain's volume type {} -> {}: {bg}",
                was("ebs_volume_type"),
                will("ebs_volume_type")
            ),
        ));
    }
    if changed.contains("ebs_volume_size")
        && let (Some(a), Some(b)) = (get_i64(aws, "ebs_volume_size"), get_i64(planned, "ebs_volume_size"))
    {
        if b < a {
            out.push(PropProblem::error(
                "ebs_volume_size",
                format!("this shrinks the adopted domain's volumes {a} -> {b} GiB: {bg}"),
            ));
        } else {
            out.push(PropProblem::warning(
                "ebs_volume_size",
                format!(
                    "this grows the adopted domain's volumes {a} -> {b} GiB in place, unless its last volume change \
                     was under six hours ago or a data node gets more than 3 TiB (then AWS makes it a blue/green \
                     deployment; the DryRun before the update refuses it unless accepted)"
                ),
            ));
        }
    }
    for (k, what) in [("node_to_node_encryption", "node-to-node encryption"), ("encrypt_at_rest", "encryption at rest")]
    {
        if changed.contains(k) && get_bool(aws, k) == Some(false) {
            out.push(PropProblem::error(
                k,
                format!("this turns on {what} on the adopted domain: {bg}, and it cannot be turned off again"),
            ));
        }
    }
    if changed.contains("enforce_https") && get_bool(aws, "enforce_https") == Some(false) {
        out.push(PropProblem::error(
            "enforce_https",
            "this makes the adopted domain refuse plain HTTP: every client that reaches it over http:// is cut off",
        ));
    }
    if get_bool(aws, "fine_grained_access_control") == Some(false) {
        out.push(PropProblem::error(
            "fine_grained_access_control",
            format!(
                "this adopted domain has no fine-grained access control, which the replication user and \
                 Mattermost's search user need. Turning it on is {bg}; it cannot be turned off again (fgac.md: \
                 \"After you enable fine-grained access control, you can't disable it\"), and every client without \
                 credentials is refused at once unless the migration period is on. Turn it on yourself with the \
                 migration period (AnonymousAuthEnabled), give Mattermost its credentials, then adopt; or accept it \
                 here and standby turns it on with the migration period on"
            ),
        ));
    }
    let (had, has) = (published(aws.get("log_publishing_options")), published(planned.get("log_publishing_options")));
    if has.iter().any(|t| t == "AUDIT_LOGS") && !had.iter().any(|t| t == "AUDIT_LOGS") {
        out.push(PropProblem::error(
            "log_publishing_options",
            format!("this starts publishing the adopted domain's audit logs to CloudWatch Logs: {bg}"),
        ));
    }
    for k in ["master_user_name", "master_user_password"] {
        if changed.contains(k) {
            out.push(PropProblem::error(
                k,
                "this changes the adopted domain's master user: whoever signs in with the old one (people, tools) is \
                 refused, and a new name adds a second master user while the old one stays (fgac.md, \"Modifying \
                 the master user\"); standby asks AWS (DryRun) whether it needs a blue/green deployment before \
                 sending it",
            ));
        }
    }
    out
}

fn endpoint_options(p: &Attrs) -> DomainEndpointOptions {
    DomainEndpointOptions::builder()
        .enforce_https(get_bool(p, "enforce_https").unwrap_or(true))
        .tls_security_policy(TlsSecurityPolicy::from(get_str(p, "tls_security_policy").unwrap_or(DEFAULT_TLS_POLICY)))
        .build()
}

/// The configured `vpc_options`, as the API wants them.
fn vpc_options(p: &Attrs) -> Option<VpcOptions> {
    let m = p.get("vpc_options").and_then(Value::as_map)?;
    let list = |k: &str| -> Option<Vec<String>> {
        m.get(k).and_then(Value::as_list).map(|l| l.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
    };
    Some(
        VpcOptions::builder()
            .set_subnet_ids(list("subnet_ids"))
            .set_security_group_ids(list("security_group_ids"))
            .build(),
    )
}

/// `vpc_options` with both lists sorted (AWS reports them in its own order).
fn sorted_vpc(v: &Value) -> Value {
    let Some(m) = v.as_map() else { return v.clone() };
    let mut out = m.clone();
    for k in ["subnet_ids", "security_group_ids"] {
        if let Some(l) = m.get(k).and_then(Value::as_list) {
            let mut l: Vec<Value> = l.to_vec();
            l.sort_by_key(|v| v.as_str().unwrap_or_default().to_string());
            out.insert(k.to_string(), Value::List(l));
        }
    }
    Value::Map(out)
}

fn tag_list(tags: impl IntoIterator<Item = (String, String)>) -> Vec<Tag> {
    tags.into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

#[async_trait]
impl Kind for OpenSearchDomain {
    fn type_name(&self) -> &'static str {
        "aws_opensearch_domain"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn provider_names(&self) -> &'static [ProviderName] {
        &PROVIDER_NAMES
    }

    /// A domain takes 15-30 minutes to create, configuration changes as long.
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(90 * 60)
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if let Some(p) = get_str(props, "domain_name").and_then(domain_name_problem) {
            out.push(PropProblem::error("domain_name", p));
        }
        if let Some(v) = get_str(props, "engine_version")
            && !engine_version_ok(v)
        {
            out.push(PropProblem::error(
                "engine_version",
                format!(
                    "engine_version must be OpenSearch 2.x (`OpenSearch_2.<minor>`, e.g. OpenSearch_2.11) for this \
                     topology: Mattermost's cross-region replication uses the OpenSearch 2 replication plugin with \
                     fine-grained access control; got {v:?}"
                ),
            ));
        }
        for k in ["node_to_node_encryption", "encrypt_at_rest", "enforce_https"] {
            if get_bool(props, k) == Some(false) {
                out.push(PropProblem::error(k, format!("fine-grained access control requires `{k}: true`")));
            }
        }
        if let Some(p) = get_str(props, "master_user_password").and_then(password_problem) {
            out.push(PropProblem::error("master_user_password", p));
        }
        if get_str(props, "tls_security_policy") == Some("Policy-Min-TLS-1-0-2019-07") {
            out.push(PropProblem::warning("tls_security_policy", "this policy still accepts TLS 1.0 and 1.1"));
        }
        validate_log_publishing(props.get("log_publishing_options"), &mut out);
        zone_problems(props, &mut out);
        if props.contains_key("ebs_volume_type") && !props.contains_key("ebs_volume_size") {
            out.push(PropProblem::error("ebs_volume_type", "give `ebs_volume_size` with `ebs_volume_type`"));
        }
        if let Some(m) = props.get("vpc_options").and_then(Value::as_map) {
            if let Some(k) = m.keys().find(|k| !["subnet_ids", "security_group_ids"].contains(&k.as_str())) {
                out.push(PropProblem::error(
                    "vpc_options",
                    format!("`vpc_options` has `subnet_ids` and `security_group_ids`, not `{k}`"),
                ));
            }
            for k in ["subnet_ids", "security_group_ids"] {
                // Without groups AWS picks the VPC's default one, which lets
                // everything in the VPC in: say which, on purpose.
                if m.get(k).is_none_or(|v| !v.has_unknown() && v.as_list().is_none_or(|l| l.is_empty())) {
                    out.push(PropProblem::error(
                        "vpc_options",
                        format!("`vpc_options` needs `{k}` (a non-empty list)"),
                    ));
                }
            }
        }
        out
    }

    fn check_update(&self, prior: &Attrs, planned: &Attrs) -> Vec<PropProblem> {
        let in_vpc = |a: &Attrs| a.get("vpc_options").filter(|v| !v.has_unknown()).map(|v| !v.is_null());
        match (in_vpc(prior), in_vpc(planned)) {
            (Some(was), Some(now)) if was != now => vec![PropProblem::error(
                "vpc_options",
                format!(
                    "the domain is {}; AWS cannot move a domain between public and VPC access (\"If you launch a new \
                     domain within a VPC, you can't later switch it to use a public endpoint. The reverse is also \
                     true\"): keep it {}, or make a new domain",
                    if was { "in a VPC" } else { "public" },
                    if was { "in its VPC" } else { "public" },
                ),
            )],
            _ => Vec::new(),
        }
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match prop {
            "node_to_node_encryption" | "encrypt_at_rest" | "enforce_https" => bool_or(v, true),
            "tls_security_policy" if v.is_null() => Value::str(DEFAULT_TLS_POLICY),
            "log_publishing_options" => super::logs::normalize(v),
            "vpc_options" => sorted_vpc(v),
            _ => v.clone(),
        }
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "domain_name").map(str::to_string)
    }

    fn check_create(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out: Vec<PropProblem> = ["instance_type", "master_user_name", "master_user_password"]
            .into_iter()
            .filter(|k| !props.contains_key(*k))
            .map(|k| {
                PropProblem::error(
                    k,
                    format!("`{k}` is needed to create a domain (unset means \"as found\", for an adopted one)"),
                )
            })
            .filter(|p| p.prop != "instance_type") // the schema's create_needs says it already
            .collect();
        // Unset, AWS makes one data node, which zone awareness refuses.
        if let Some(z) = zones(props)
            && props.get("instance_count").is_none_or(Value::is_null)
        {
            out.push(PropProblem::error(
                "instance_count",
                format!(
                    "the domain is spread over {z} zones but `instance_count` is unset: AWS then makes one data node, \
                     which zone awareness refuses; set it to a multiple of {z}"
                ),
            ));
        }
        out
    }

    fn kept(&self) -> &'static [&'static str] {
        &["master_user_name", "allow_disruption"]
    }

    fn adoption_checks(
        &self,
        aws: &Attrs,
        planned: &Attrs,
        changed: &std::collections::BTreeSet<String>,
        _importing: bool,
    ) -> Vec<PropProblem> {
        disruptions(aws, planned, changed)
    }

    /// On a domain standby makes, a log type with `enabled: null` (as found
    /// on an adopted one) is published.
    fn defaults_off_production(&self, planned: &mut Attrs) {
        if let Some(Value::List(items)) = planned.get_mut("log_publishing_options") {
            for item in items.iter_mut() {
                if let Value::Map(m) = item
                    && m.get("enabled").is_some_and(Value::is_null)
                {
                    m.insert("enabled".into(), Value::Bool(true));
                }
            }
        }
    }

    fn merge_adopted(&self, prop: &str, want: &Value, have: &Value) -> Value {
        match (prop, want, have) {
            ("tags", Value::Map(w), Value::Map(h)) => {
                let mut m = h.clone();
                m.extend(w.iter().map(|(k, v)| (k.clone(), v.clone())));
                Value::Map(m)
            }
            // Production's log publishing stays as it is; standby adds the
            // types it does not publish yet.
            ("log_publishing_options", Value::List(w), _) => {
                let kept: Vec<Value> = match super::logs::normalize(have) {
                    Value::List(h) => h
                        .into_iter()
                        .filter(|e| e.as_map().and_then(|m| m.get("enabled")).and_then(Value::as_bool) == Some(true))
                        .collect(),
                    _ => Vec::new(),
                };
                let type_of =
                    |e: &Value| e.as_map().and_then(|m| m.get("log_type")).and_then(Value::as_str).map(str::to_string);
                let taken: Vec<Option<String>> = kept.iter().map(type_of).collect();
                let mut out = kept.clone();
                for e in w {
                    // `enabled: null`: as found (published only if production does).
                    let on = match e.as_map().and_then(|m| m.get("enabled")) {
                        None => true,
                        Some(v) => v.as_bool() == Some(true),
                    };
                    if on && !taken.contains(&type_of(e)) {
                        out.push(e.clone());
                    }
                }
                super::logs::normalize(&Value::List(out))
            }
            _ => want.clone(),
        }
    }

    fn restorable(&self) -> &'static [&'static str] {
        &["tags", "log_publishing_options"]
    }

    fn production_effect(
        &self,
        before: Option<&Attrs>,
        after: Option<&Attrs>,
        changed: &std::collections::BTreeSet<String>,
    ) -> Option<String> {
        let (before, after) = (before?, after?);
        let mut lines = Vec::new();
        for k in changed.iter().filter(|k| k.as_str() != "allow_disruption") {
            match k.as_str() {
                "log_publishing_options" => {
                    let (had, has) = (published(before.get(k)), published(after.get(k)));
                    let on: Vec<&String> = has.iter().filter(|t| !had.contains(t)).collect();
                    let off: Vec<&String> = had.iter().filter(|t| !has.contains(t)).collect();
                    if !on.is_empty() {
                        let audit = on.iter().any(|t| *t == "AUDIT_LOGS");
                        lines.push(format!(
                            "publishes {} to CloudWatch Logs ({})",
                            on.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                            if audit {
                                "turning on audit log publication is a blue/green deployment"
                            } else {
                                "error and slow logs: an update in place, no blue/green deployment"
                            }
                        ));
                    }
                    if !off.is_empty() {
                        lines.push(format!(
                            "stops publishing {} (back as found)",
                            off.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                        ));
                    }
                }
                "tags" => {
                    let (old, new) = (crate::kinds::aws::tags_of(before), crate::kinds::aws::tags_of(after));
                    let set: Vec<String> =
                        new.iter().filter(|(k, v)| old.get(*k) != Some(v)).map(|(k, v)| format!("{k}={v}")).collect();
                    let gone: Vec<&String> = old.keys().filter(|k| !new.contains_key(*k)).collect();
                    if !set.is_empty() {
                        lines.push(format!("tags set: {} (the domain's other tags stay)", set.join(", ")));
                    }
                    if !gone.is_empty() {
                        lines.push(format!(
                            "tags removed: {}",
                            gone.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                        ));
                    }
                }
                "master_user_password" => lines.push("the master password changes (accepted)".to_string()),
                other => lines.push(format!(
                    "`{other}`: {} -> {}",
                    before.get(other).map(|v| v.to_string()).unwrap_or_else(|| "(unset)".into()),
                    after.get(other).map(|v| v.to_string()).unwrap_or_else(|| "(unset)".into())
                )),
            }
        }
        (!lines.is_empty()).then(|| lines.join("; "))
    }

    /// The master user given is checked against the live domain: `GET
    /// _plugins/_security/authinfo` signed in as it (the security plugin's
    /// "who am I"), which must succeed and show a user that may manage
    /// security (mapped to `all_access` or `security_manager`, as AWS maps the
    /// master user, fgac.md).
    async fn verify_secrets(
        &self,
        _cx: &Ctx<'_>,
        known: &Attrs,
        observed: &Attrs,
    ) -> Result<Vec<(String, bool)>, KindError> {
        let (Some(name), Some(password), Some(endpoint)) =
            (get_str(known, "master_user_name"), get_str(known, "master_user_password"), get_str(observed, "endpoint"))
        else {
            return Ok(Vec::new());
        };
        // No fine-grained access control: no internal users to check (the
        // plan refuses to adopt it as it is, see `disruptions`).
        if get_bool(observed, "fine_grained_access_control") == Some(false) {
            return Ok(Vec::new());
        }
        let mut props = Attrs::new();
        props.insert("domain_endpoint".into(), Value::str(endpoint));
        props.insert("master_user_name".into(), Value::str(name));
        props.insert("master_user_password".into(), Value::str(password));
        let domain = super::rest::Domain::from_props(&props)?;
        const CALL: &str = "GET _plugins/_security/authinfo";
        let a = domain.send(CALL, hyper::Method::GET, "/_plugins/_security/authinfo", None).await?;
        if a.status == hyper::StatusCode::UNAUTHORIZED {
            return Ok(vec![("master_user_password".into(), false)]);
        }
        if !a.ok() {
            return Err(a.into_error(CALL));
        }
        let roles: Vec<&str> =
            a.body.get("roles").and_then(|r| r.as_array()).into_iter().flatten().filter_map(|r| r.as_str()).collect();
        let master = roles.iter().any(|r| *r == "all_access" || *r == "security_manager");
        Ok(vec![("master_user_password".into(), true), ("master_user_name".into(), master)])
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let name = req_str(desired, "domain_name")?;
        let os = cx.aws.opensearch(cx.region).await;
        os.create_domain()
            .domain_name(name)
            .engine_version(req_str(desired, "engine_version")?)
            .cluster_config(cluster_config(desired)?)
            .set_ebs_options(ebs_options(desired))
            .advanced_security_options(security(desired)?)
            .node_to_node_encryption_options(
                NodeToNodeEncryptionOptions::builder()
                    .enabled(get_bool(desired, "node_to_node_encryption").unwrap_or(true))
                    .build(),
            )
            .encryption_at_rest_options(
                EncryptionAtRestOptions::builder()
                    .enabled(get_bool(desired, "encrypt_at_rest").unwrap_or(true))
                    .build(),
            )
            .domain_endpoint_options(endpoint_options(desired))
            .set_vpc_options(vpc_options(desired))
            .set_log_publishing_options(log_publishing_options(desired.get("log_publishing_options"), None))
            .set_tag_list(Some(tag_list(tags_of(desired))).filter(|t| !t.is_empty()))
            .send()
            .await
            .map_err(|e| os_error("CreateDomain", e))?;
        Ok(Created { id: name.to_string(), attrs: desired.clone() })
    }

    /// Ready when created, no change is processing, and the endpoint is known.
    async fn wait_ready(&self, cx: &Ctx<'_>, id: &str) -> Result<(), KindError> {
        poll(|| async {
            let ready = describe(cx, id).await?.is_some_and(|d| {
                d.created() != Some(false) && d.processing() != Some(true) && endpoint_of(&d).is_some()
            });
            Ok(ready.then_some(()))
        })
        .await
    }

    // read: 2 calls (DescribeDomain, ListTags); log publishing comes with DescribeDomain.
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let Some(d) = describe(cx, id).await? else { return Ok(None) };
        let mut a = Attrs::new();
        a.insert("domain_name".into(), Value::str(d.domain_name()));
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                a.insert(k.to_string(), v);
            }
        };
        put("engine_version", d.engine_version().map(Value::str));
        let cc = d.cluster_config();
        put("instance_type", cc.and_then(|c| c.instance_type()).map(|t| Value::str(t.as_str())));
        put("instance_count", cc.and_then(|c| c.instance_count()).map(|n| Value::int(n.into())));
        let zoned = cc.and_then(|c| c.zone_awareness_enabled()).unwrap_or(false);
        put("zone_awareness_enabled", Some(Value::Bool(zoned)));
        put(
            "availability_zone_count",
            Some(if zoned {
                let n = cc.and_then(|c| c.zone_awareness_config()).and_then(|z| z.availability_zone_count());
                Value::int(n.unwrap_or(2).into())
            } else {
                Value::Null
            }),
        );
        if let Some(ebs) = d.ebs_options().filter(|e| e.ebs_enabled() == Some(true)) {
            put("ebs_volume_size", ebs.volume_size().map(|n| Value::int(n.into())));
            put("ebs_volume_type", ebs.volume_type().map(|t| Value::str(t.as_str())));
        }
        put("node_to_node_encryption", d.node_to_node_encryption_options().and_then(|o| o.enabled()).map(Value::Bool));
        put("encrypt_at_rest", d.encryption_at_rest_options().and_then(|o| o.enabled()).map(Value::Bool));
        let ep = d.domain_endpoint_options();
        put("enforce_https", ep.and_then(|o| o.enforce_https()).map(Value::Bool));
        put("tls_security_policy", ep.and_then(|o| o.tls_security_policy()).map(|t| Value::str(t.as_str())));
        let fgac = d.advanced_security_options().and_then(|o| o.enabled()).unwrap_or(false);
        put("fine_grained_access_control", Some(Value::Bool(fgac)));
        put("dedicated_master_enabled", cc.and_then(|c| c.dedicated_master_enabled()).map(Value::Bool));
        put("arn", Some(Value::str(d.arn())));
        put("domain_id", Some(Value::str(d.domain_id())));
        put("endpoint", endpoint_of(&d).map(Value::str));
        let vpc = d.vpc_options();
        let ids = |l: &[String]| {
            let mut l: Vec<Value> = l.iter().map(Value::str).collect();
            l.sort_by_key(|v| v.as_str().unwrap_or_default().to_string());
            Value::List(l)
        };
        put(
            "vpc_options",
            Some(vpc.map_or(Value::Null, |v| {
                Value::Map(
                    [
                        ("subnet_ids".to_string(), ids(v.subnet_ids())),
                        ("security_group_ids".to_string(), ids(v.security_group_ids())),
                    ]
                    .into(),
                )
            })),
        );
        put("vpc_id", Some(vpc.and_then(|v| v.vpc_id()).map_or(Value::Null, Value::str)));
        put_reported(&mut a, prior, "log_publishing_options", read_log_publishing(&d, prior));
        // AWS never reports the master user: the name stays as configured.
        if let Some(v) = prior.get("master_user_name") {
            a.insert("master_user_name".into(), v.clone());
        }
        let os = cx.aws.opensearch(cx.region).await;
        let tags = match os.list_tags().arn(d.arn()).send().await {
            Ok(t) => t.tag_list().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect::<Vec<_>>(),
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(os_error("ListTags", e)),
        };
        put_reported(&mut a, prior, "tags", tags_value(tags));
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let os = cx.aws.opensearch(cx.region).await;
        // What the configuration leaves unset stays as it is (as found).
        let mut merged = prior.clone();
        merged.extend(desired.iter().map(|(k, v)| (k.clone(), v.clone())));
        zones_follow_subnets(prior, desired, &mut merged);
        let desired = &merged;
        let changed = |k: &str| {
            self.normalize(k, prior.get(k).unwrap_or(&Value::Null))
                != self.normalize(k, desired.get(k).unwrap_or(&Value::Null))
        };
        let mut req = os.update_domain_config().domain_name(id);
        if ["instance_type", "instance_count", "zone_awareness_enabled", "availability_zone_count"]
            .into_iter()
            .any(changed)
        {
            req = req.cluster_config(cluster_config(desired)?);
        }
        if changed("ebs_volume_size") || changed("ebs_volume_type") {
            req = req.set_ebs_options(ebs_options(desired));
        }
        if changed("enforce_https") || changed("tls_security_policy") {
            req = req.domain_endpoint_options(endpoint_options(desired));
        }
        if changed("node_to_node_encryption") {
            req = req.node_to_node_encryption_options(NodeToNodeEncryptionOptions::builder().enabled(true).build());
        }
        if changed("encrypt_at_rest") {
            req = req.encryption_at_rest_options(EncryptionAtRestOptions::builder().enabled(true).build());
        }
        if changed("log_publishing_options") {
            req = req.set_log_publishing_options(publishing_changes(prior, desired));
        }
        // Subnets and groups of a VPC domain (check_update refused a move
        // between public and VPC access).
        if changed("vpc_options") && desired.get("vpc_options").is_some_and(|v| !v.is_null()) {
            req = req.set_vpc_options(vpc_options(desired));
        }
        // Only the plan knows whether the password changed (hashes): the
        // master user is sent only when it does, or the name does.
        let fgac_off = get_bool(prior, "fine_grained_access_control") == Some(false);
        if changed("master_user_name") || cx.changed.contains("master_user_password") || fgac_off {
            let mut options = security(desired)?;
            if fgac_off {
                // fgac.md: the migration period keeps clients without
                // credentials working while they are given some.
                options.anonymous_auth_enabled = Some(true);
            }
            req = req.advanced_security_options(options);
        }
        let sends = req.as_input().get_cluster_config().is_some()
            || req.as_input().get_ebs_options().is_some()
            || req.as_input().get_domain_endpoint_options().is_some()
            || req.as_input().get_node_to_node_encryption_options().is_some()
            || req.as_input().get_encryption_at_rest_options().is_some()
            || req.as_input().get_log_publishing_options().is_some()
            || req.as_input().get_advanced_security_options().is_some()
            || req.as_input().get_vpc_options().is_some();
        // Production: AWS says first what the update would take (DryRun),
        // always, whatever `allow_disruption` accepts: a blue/green
        // deployment is made only when every property sent is accepted.
        if sends && cx.adopted {
            let mut sent: Vec<&str> = [
                "instance_type",
                "instance_count",
                "zone_awareness_enabled",
                "availability_zone_count",
                "ebs_volume_size",
                "ebs_volume_type",
                "enforce_https",
                "tls_security_policy",
                "node_to_node_encryption",
                "encrypt_at_rest",
                "log_publishing_options",
                "master_user_name",
                "vpc_options",
            ]
            .into_iter()
            .filter(|&k| changed(k))
            .collect();
            if cx.changed.contains("master_user_password") {
                sent.push("master_user_password");
            }
            if fgac_off {
                sent.push("fine_grained_access_control");
            }
            let dry = req.clone().dry_run(true).send().await.map_err(|e| os_error("UpdateDomainConfig", e))?;
            if let Some(r) = dry.dry_run_results() {
                dry_run_verdict(id, r.deployment_type(), r.message(), &sent, &allowed(desired))
                    .map_err(KindError::Failed)?;
            }
        }
        if sends {
            req.send().await.map_err(|e| os_error("UpdateDomainConfig", e))?;
        }
        let (set, remove) = tag_changes(prior, desired);
        let arn = get_str(prior, "arn").map(str::to_string);
        if let Some(arn) = arn {
            if !set.is_empty() {
                os.add_tags()
                    .arn(&arn)
                    .set_tag_list(Some(tag_list(set)))
                    .send()
                    .await
                    .map_err(|e| os_error("AddTags", e))?;
            }
            if !remove.is_empty() {
                os.remove_tags()
                    .arn(&arn)
                    .set_tag_keys(Some(remove))
                    .send()
                    .await
                    .map_err(|e| os_error("RemoveTags", e))?;
            }
        }
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        match cx.aws.opensearch(cx.region).await.delete_domain().domain_name(id).send().await {
            Ok(_) => {}
            Err(e) if is_gone(&e, GONE) => return Ok(()),
            Err(e) => return Err(os_error("DeleteDomain", e)),
        }
        poll(|| async { Ok(describe(cx, id).await?.is_none().then_some(())) }).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dry_run_decides_whatever_is_accepted() {
        let d = "mattermost-prod-search";
        // Nothing blue/green: goes on, accepted or not.
        assert_eq!(dry_run_verdict(d, Some("DynamicUpdate"), None, &["log_publishing_options"], &[]), Ok(()));
        // Blue/green: only when every property sent is accepted.
        let bg = Some("Blue/Green");
        let sent = ["instance_type", "tls_security_policy"];
        assert_eq!(dry_run_verdict(d, bg, None, &sent, &["instance_type", "tls_security_policy"]), Ok(()));
        let e = dry_run_verdict(d, bg, Some("changing the instance type"), &sent, &["instance_type"]).unwrap_err();
        assert!(e.contains("`tls_security_policy`") && !e.contains("`instance_type`"), "{e}");
        assert!(e.contains("nothing was changed"), "{e}");
        // Something else accepted does not let an unaccepted blue/green through.
        assert!(dry_run_verdict(d, bg, None, &["encrypt_at_rest"], &["log_publishing_options"]).is_err());
        // Undetermined (the domain is mid-update) is never taken as safe.
        let e = dry_run_verdict(d, Some("Undetermined"), None, &["instance_type"], &["instance_type"]).unwrap_err();
        assert!(e.contains("middle of an update") && e.contains("Apply again"), "{e}");
    }

    fn props(pairs: &[(&str, Value)]) -> Attrs {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn only_opensearch_2() {
        for ok in ["OpenSearch_2.11", "OpenSearch_2.3", "OpenSearch_2.19"] {
            assert!(engine_version_ok(ok), "{ok}");
        }
        for bad in ["Elasticsearch_7.10", "OpenSearch_1.3", "OpenSearch_2.", "OpenSearch_2.x", "OpenSearch_3.0"] {
            assert!(!engine_version_ok(bad), "{bad}");
        }
        let p = props(&[("engine_version", Value::str("Elasticsearch_7.10"))]);
        assert_eq!(OpenSearchDomain.validate(&p)[0].prop, "engine_version");
    }

    #[test]
    fn password_rule_never_echoes_the_password() {
        let p = props(&[("master_user_password", Value::str("weakpass"))]);
        let probs = OpenSearchDomain.validate(&p);
        assert_eq!(probs[0].prop, "master_user_password");
        assert!(!probs[0].message.contains("weakpass"));
        assert!(password_problem("Str0ng-Pass!").is_none());
    }

    #[test]
    fn vpc_options_need_subnets_and_groups_and_stay_put() {
        let list = |l: &[&str]| Value::List(l.iter().map(|s| Value::str(*s)).collect());
        let vpc = |sg: &[&str]| {
            Value::Map(
                [
                    ("subnet_ids".to_string(), list(&["subnet-b", "subnet-a"])),
                    ("security_group_ids".to_string(), list(sg)),
                ]
                .into(),
            )
        };
        assert!(OpenSearchDomain.validate(&props(&[("vpc_options", vpc(&["sg-1"]))])).is_empty());
        let probs = OpenSearchDomain.validate(&props(&[("vpc_options", vpc(&[]))]));
        assert!(probs[0].message.contains("security_group_ids"), "{}", probs[0].message);
        // Order is AWS's business.
        assert_eq!(
            OpenSearchDomain.normalize("vpc_options", &vpc(&["sg-1"])),
            OpenSearchDomain.normalize(
                "vpc_options",
                &Value::Map(
                    [
                        ("subnet_ids".to_string(), list(&["subnet-a", "subnet-b"])),
                        ("security_group_ids".to_string(), list(&["sg-1"]))
                    ]
                    .into()
                )
            )
        );
        let public = props(&[("vpc_options", Value::Null)]);
        let private = props(&[("vpc_options", vpc(&["sg-1"]))]);
        assert_eq!(OpenSearchDomain.check_update(&public, &private)[0].prop, "vpc_options");
        assert_eq!(OpenSearchDomain.check_update(&private, &public).len(), 1);
        assert!(OpenSearchDomain.check_update(&private, &private).is_empty());
    }

    #[test]
    fn fgac_needs_encryption_and_https() {
        let p = props(&[("enforce_https", Value::Bool(false)), ("encrypt_at_rest", Value::Bool(true))]);
        let probs = OpenSearchDomain.validate(&p);
        assert_eq!(probs.len(), 1);
        assert_eq!(probs[0].prop, "enforce_https");
    }

    fn vpc_with(n: usize) -> Value {
        let subnets = (0..n).map(|i| Value::str(format!("subnet-{i}"))).collect();
        Value::Map(
            [
                ("subnet_ids".to_string(), Value::List(subnets)),
                ("security_group_ids".to_string(), Value::List(vec![Value::str("sg-1")])),
            ]
            .into(),
        )
    }

    #[test]
    fn two_or_three_subnets_turn_zone_awareness_on_with_that_many_zones() {
        for n in [2usize, 3] {
            let p = props(&[
                ("instance_type", Value::str("r6g.large.search")),
                ("instance_count", Value::int(6)),
                ("vpc_options", vpc_with(n)),
            ]);
            assert!(OpenSearchDomain.validate(&p).is_empty(), "{n}: {:?}", OpenSearchDomain.validate(&p));
            let cc = cluster_config(&p).unwrap();
            assert_eq!(cc.zone_awareness_enabled(), Some(true), "{n}");
            assert_eq!(cc.zone_awareness_config().and_then(|z| z.availability_zone_count()), Some(n as i32));
        }
        // One subnet, or a public domain: AWS's default (off), nothing sent.
        for p in [
            props(&[("instance_type", Value::str("t3.small.search")), ("vpc_options", vpc_with(1))]),
            props(&[("instance_type", Value::str("t3.small.search"))]),
        ] {
            let cc = cluster_config(&p).unwrap();
            assert_eq!((cc.zone_awareness_enabled(), cc.zone_awareness_config()), (None, None));
        }
    }

    #[test]
    fn zone_awareness_is_validated_against_subnets_and_nodes() {
        let probs = |pairs: &[(&str, Value)]| OpenSearchDomain.validate(&props(pairs));
        // Off with two subnets: AWS's "exactly one subnet".
        let p = probs(&[("zone_awareness_enabled", Value::Bool(false)), ("vpc_options", vpc_with(2))]);
        assert!(p[0].prop == "zone_awareness_enabled" && p[0].message.contains("exactly one subnet"), "{p:?}");
        // Two zones, odd data nodes: refused.
        let p = probs(&[("instance_count", Value::int(3)), ("vpc_options", vpc_with(2))]);
        assert!(p[0].prop == "instance_count" && !p[0].warning && p[0].message.contains("even"), "{p:?}");
        // Three zones, four nodes: a warning.
        let p = probs(&[("instance_count", Value::int(4)), ("vpc_options", vpc_with(3))]);
        assert!(p[0].prop == "instance_count" && p[0].warning, "{p:?}");
        // Zones and subnets disagree.
        let p = probs(&[("availability_zone_count", Value::int(3)), ("vpc_options", vpc_with(2))]);
        assert_eq!(p[0].prop, "availability_zone_count", "{p:?}");
        let p = probs(&[("availability_zone_count", Value::int(4))]);
        assert_eq!(p[0].prop, "availability_zone_count", "{p:?}");
        // A public domain with zone awareness: an even count is all it needs.
        assert!(probs(&[("zone_awareness_enabled", Value::Bool(true)), ("instance_count", Value::int(2))]).is_empty());
    }

    /// An adopted zone-aware domain as read back, its node count changed:
    /// the ClusterConfig sent keeps its zone awareness.
    #[test]
    fn more_subnets_in_an_update_take_zone_awareness_with_them() {
        let attrs =
            |pairs: Vec<(&str, Value)>| -> Attrs { pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect() };
        let prior = attrs(vec![
            ("instance_type", Value::str("r6g.large.search")),
            ("instance_count", Value::int(2)),
            ("zone_awareness_enabled", Value::Bool(false)),
            ("vpc_options", vpc_with(1)),
        ]);
        let given = attrs(vec![("vpc_options", vpc_with(2))]);
        let mut merged = prior.clone();
        merged.extend(given.clone());
        super::zones_follow_subnets(&prior, &given, &mut merged);
        let cc = super::cluster_config(&merged).unwrap();
        assert_eq!(cc.zone_awareness_enabled(), Some(true));
        assert_eq!(cc.zone_awareness_config().and_then(|z| z.availability_zone_count()), Some(2));
        // The same number of subnets keeps what was found.
        let mut same = prior.clone();
        same.extend(attrs(vec![("vpc_options", vpc_with(1))]));
        super::zones_follow_subnets(&prior, &attrs(vec![("vpc_options", vpc_with(1))]), &mut same);
        assert_eq!(same.get("zone_awareness_enabled"), Some(&Value::Bool(false)));
    }

    #[test]
    fn a_cluster_change_keeps_the_zone_awareness_found() {
        let found = props(&[
            ("instance_type", Value::str("r6g.xlarge.search")),
            ("instance_count", Value::int(6)),
            ("zone_awareness_enabled", Value::Bool(true)),
            ("availability_zone_count", Value::int(3)),
            ("vpc_options", vpc_with(3)),
        ]);
        let mut merged = found.clone();
        merged.insert("instance_count".into(), Value::int(9));
        let cc = cluster_config(&merged).unwrap();
        assert_eq!(cc.instance_count(), Some(9));
        assert_eq!(cc.zone_awareness_enabled(), Some(true));
        assert_eq!(cc.zone_awareness_config().and_then(|z| z.availability_zone_count()), Some(3));
        // A public zone-aware domain (no subnets to infer from) keeps it too.
        let mut public = found.clone();
        public.remove("vpc_options");
        let cc = cluster_config(&public).unwrap();
        assert_eq!(cc.zone_awareness_config().and_then(|z| z.availability_zone_count()), Some(3));
        // Found off: sent off, never turned on by a node count change.
        let off = props(&[
            ("instance_type", Value::str("r6g.large.search")),
            ("instance_count", Value::int(3)),
            ("zone_awareness_enabled", Value::Bool(false)),
            ("availability_zone_count", Value::Null),
        ]);
        assert_eq!(cluster_config(&off).unwrap().zone_awareness_enabled(), Some(false));
    }

    #[test]
    fn a_zone_aware_domain_needs_its_node_count_at_create() {
        let mut p: Attrs = [
            ("master_user_name".to_string(), Value::str("admin")),
            ("master_user_password".to_string(), Value::str("x")),
            ("instance_type".to_string(), Value::str("r6g.large.search")),
            (
                "vpc_options".to_string(),
                Value::Map([("subnet_ids".to_string(), Value::List(vec![Value::str("a"), Value::str("b")]))].into()),
            ),
        ]
        .into();
        let probs = OpenSearchDomain.check_create(&p);
        assert_eq!(probs.iter().map(|x| x.prop.as_str()).collect::<Vec<_>>(), ["instance_count"], "{probs:?}");
        p.insert("instance_count".into(), Value::int(4));
        assert!(OpenSearchDomain.check_create(&p).is_empty());
    }
}
