//! `aws_opensearch_domain_policy`: a domain's resource-based access policy.
//! id = domain name.
//!
//! The policy is evaluated at the edge of the domain, before fine-grained
//! access control sees any credentials, and an unsigned request (HTTP basic
//! auth: Mattermost, and standby's own REST calls) is anonymous there. So the
//! standard document is AWS's recommended one for fine-grained access control
//! with internal users (fgac.md, "Recommended configurations"): `es:ESHttp*`
//! on `domain/<name>/*` for the anonymous principal, narrowed by the network
//! (`source_ips`, an `aws:SourceIp` condition, or a VPC domain's security
//! groups); on the leader of cross-cluster replication also
//! `es:ESCrossClusterGet` on the domain ARN (replication.md). Who may do what
//! is then fine-grained access control's job: internal users and role
//! mappings (`opensearch_internal_user`, `opensearch_role_mapping`).
//!
//! Never open to the internet by default: the standard document for a
//! public domain needs `source_ips` (unset or empty is a plan error; opening
//! it to everyone takes `source_ips: ["0.0.0.0/0"]`, written out). A domain in
//! a VPC (`vpc: true`) is narrowed by its security groups, and AWS applies no
//! address condition there ("You can't apply IP-based access policies to
//! domains that reside within a VPC", developer guide, VPC domains); apply
//! checks that the domain is what `vpc` says before writing.
//!
//! A change that takes access away from anonymous clients the current
//! policy lets in (production Mattermost) is refused at plan time, with the
//! statements that change and what it means, unless `accept_access_loss`.
//!
//! On an existing (adopted) domain, `keep_existing: true` keeps every
//! statement its policy has (production's clients: IAM roles of other
//! services, other networks) and adds only the standard statements it does
//! not already carry: never a replacement.
//!
//! Deleting the resource gives the domain back the policy it had before
//! standby (`previous_policy`, read before the create and written ahead to
//! the journal, so a killed apply still knows it). When it had none, the
//! domain is left with no policy, which refuses every request: a plan that
//! would cut off clients the current policy lets in is refused, unless the
//! domain goes in the same plan or `accept_access_loss`.

use super::access;
use super::os_error;
use crate::kinds::aws::policy;
use crate::kinds::aws::{get_str, is_gone, req_str};
use crate::kinds::rds::{get_bool, poll};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use serde_json::{Value as Json, json};

pub struct OpenSearchDomainPolicy;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("domain_arn", Type::String, "The domain's ARN (`${aws_opensearch_domain.<name>.arn}`).")
            .force_new(),
        Prop::optional(
            "source_ips",
            Type::List(&Type::String),
            "Addresses (CIDRs) allowed to reach a public domain: an `aws:SourceIp` condition on the HTTP \
             statement (Mattermost's nodes reach a public endpoint from their NAT gateways' addresses). Required \
             for a public domain; `[\"0.0.0.0/0\"]` opens it to the internet, on purpose. Leave it out with `vpc: \
             true`.",
        ),
        Prop::optional(
            "vpc",
            Type::Bool,
            "The domain is in a VPC (its `vpc_options`): its security groups narrow access and the document has \
             no address condition (default false: a public domain, which needs `source_ips`). Apply checks it \
             against the domain.",
        ),
        Prop::optional(
            "cross_cluster_leader",
            Type::Bool,
            "This domain is the leader of cross-cluster replication: also allow `es:ESCrossClusterGet` on the \
             domain ARN (default false).",
        ),
        Prop::optional(
            "principals",
            Type::List(&Type::String),
            "Principals of the standard document (default `*`, anonymous). IAM principals require SigV4-signed \
             requests: basic-auth clients (Mattermost, standby's REST calls) then get 403.",
        ),
        Prop::optional(
            "access_policies",
            Type::Json,
            "A whole policy document instead of the standard one (compared semantically).",
        ),
        Prop::optional(
            "keep_existing",
            Type::Bool,
            "Keep the statements the domain's policy has when this resource is created (an adopted domain's own \
             clients) and add only what the standard document allows beyond them (default false: the document \
             replaces it). Destroy puts the policy found back.",
        ),
        Prop::optional(
            "accept_access_loss",
            Type::Bool,
            "Apply a change that takes access away from clients the current policy lets in (default false: such \
             a plan is refused, so production is never cut off by accident).",
        ),
        Prop::computed("domain_name", Type::String, "The domain's name."),
        Prop::computed(
            "previous_policy",
            Type::Json,
            "The policy the domain had before standby set this one (null: none), read at create; deleting this \
             resource restores it.",
        ),
    ],
};

const GONE: &[&str] = &["ResourceNotFoundException"];

/// (region, account, domain name) of an OpenSearch domain ARN
/// (`arn:<partition>:es:<region>:<account>:domain/<name>`).
pub fn parse_domain_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (_arn, _partition, service, region, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let name = resource.strip_prefix("domain/")?;
    (service == "es" && !name.is_empty()).then_some((region, account, name))
}

fn string_list(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_list)?.iter().map(|p| p.as_str().map(str::to_string)).collect()
}

/// The standard document: anonymous HTTP access to the domain (narrowed to
/// `source_ips` when given) and, for a leader, the cross-cluster read.
pub fn standard_document(domain_arn: &str, p: &Attrs) -> Option<Value> {
    parse_domain_arn(domain_arn)?;
    let principals = match p.get("principals") {
        Some(v) if !v.is_null() => string_list(Some(v))?,
        _ => vec!["*".to_string()],
    };
    let mut http = json!({"Effect": "Allow", "Principal": {"AWS": principals}, "Action": "es:ESHttp*",
        "Resource": format!("{domain_arn}/*")});
    if let Some(ips) = string_list(p.get("source_ips")).filter(|l| !l.is_empty()) {
        http["Condition"] = json!({"IpAddress": {"aws:SourceIp": ips}});
    }
    let mut statements = vec![http];
    if get_bool(p, "cross_cluster_leader") == Some(true) {
        // No address condition: the follower domain makes this request.
        statements.push(json!({"Effect": "Allow", "Principal": {"AWS": principals}, "Action": "es:ESCrossClusterGet",
            "Resource": domain_arn}));
    }
    Some(Value::from_json(&json!({"Version": "2012-10-17", "Statement": statements})))
}

/// Who the standard document lets in over the network: a public domain
/// needs `source_ips` (everyone only when written out), a VPC domain none.
fn network_problem(props: &Attrs) -> Option<PropProblem> {
    let ips = props.get("source_ips").filter(|v| !v.is_null());
    if ips.is_some_and(Value::has_unknown) || props.get("vpc").is_some_and(Value::has_unknown) {
        return None;
    }
    let ips = string_list(ips).unwrap_or_default();
    if get_bool(props, "vpc") == Some(true) {
        return (!ips.is_empty()).then(|| {
            PropProblem::error(
                "source_ips",
                "a domain in a VPC takes no `source_ips`: AWS applies no IP-based access policy there (\"You can't \
                 apply IP-based access policies to domains that reside within a VPC\"); its security groups decide \
                 who reaches it",
            )
        });
    }
    ips.is_empty().then(|| {
        PropProblem::error(
            // Located at `source_ips` when written (even as null), else the block.
            "source_ips",
            "this policy would let anyone on the internet reach the domain (only its login stands in the way): give \
             `source_ips` (the addresses Mattermost's nodes and standby reach it from: NAT gateways, VPN), set `vpc: \
             true` for a domain in a VPC, or write `source_ips: [\"0.0.0.0/0\"]` to open it on purpose",
        )
    })
}

/// Checks, before writing, that the domain is what `vpc` says: an address
/// condition on a VPC domain, or none on a public one, is not what the
/// configuration meant. One DescribeDomain.
async fn check_network(cx: &Ctx<'_>, name: &str, desired: &Attrs) -> Result<(), KindError> {
    if desired.get("access_policies").is_some_and(|v| !v.is_null()) {
        return Ok(());
    }
    let out = cx.aws.opensearch(cx.region).await.describe_domain().domain_name(name).send().await;
    let in_vpc = match out {
        Ok(o) => o.domain_status().is_some_and(|d| d.vpc_options().is_some()),
        Err(e) if is_gone(&e, GONE) => return Ok(()),
        Err(e) => return Err(os_error("DescribeDomain", e)),
    };
    let said = get_bool(desired, "vpc") == Some(true);
    if in_vpc == said {
        return Ok(());
    }
    Err(KindError::Failed(if in_vpc {
        format!("{name} is in a VPC: set `vpc: true` (and no `source_ips`) for its access policy")
    } else {
        format!(
            "{name} is a public domain, not in a VPC: its access policy needs `source_ips` (and no `vpc: true`), or \
             anyone on the internet reaches it"
        )
    }))
}

/// The document to apply: as given, or the standard one, with the statements
/// found before standby kept in front when `keep_existing`.
fn document(p: &Attrs) -> Option<Value> {
    let own = match p.get("access_policies") {
        Some(doc) if !doc.is_null() => doc.clone(),
        _ => standard_document(get_str(p, "domain_arn")?, p)?,
    };
    if get_bool(p, "keep_existing") != Some(true) {
        return Some(own);
    }
    // Not read yet (a create not applied): known once it is.
    let found = p.get("previous_policy")?;
    Some(merged(found, &own))
}

/// `found`'s statements, then those of `own` it does not already carry.
fn merged(found: &Value, own: &Value) -> Value {
    let statements = |doc: &Json| -> Vec<Json> {
        match doc.get("Statement") {
            Some(Json::Array(a)) => a.clone(),
            Some(s @ Json::Object(_)) => vec![s.clone()],
            _ => Vec::new(),
        }
    };
    let mut out = if found.is_null() { Vec::new() } else { statements(&as_json(found)) };
    // Nothing found to keep: the document as standby writes it.
    if out.is_empty() {
        return own.clone();
    }
    let found_doc = json!({"Statement": out.clone()});
    // Compared in the normalized form, added as written.
    for (s, raw) in statements(&as_json(own)).into_iter().zip(statements(&access::parse(&own.to_json()))) {
        if !out.contains(&s) && !access::already_allows(&found_doc, &s) {
            out.push(raw);
        }
    }
    let version = as_json(found).get("Version").cloned().unwrap_or(json!("2012-10-17"));
    Value::from_json(&json!({"Version": version, "Statement": out}))
}

fn as_json(v: &Value) -> Json {
    access::parse(&policy::normalize(v).to_json())
}

/// The refusal for a change from `old` to `new` that takes access away, if any.
pub fn access_loss(old: &Value, new: &Value) -> Option<String> {
    let (old, new) = (as_json(old), as_json(new));
    let (gone, denies) = access::lost(&old, &new);
    if gone.is_empty() && denies.is_empty() {
        return None;
    }
    let who = if access::any_anonymous(&gone) || !denies.is_empty() {
        "unsigned (basic-auth) clients such as Mattermost would get 403 \"User: anonymous is not authorized\""
    } else {
        "the IAM principals named below (other AWS services, tools) would be refused"
    };
    let mut lines =
        vec![format!("this policy change takes access away from clients the current policy lets in: {who}")];
    lines.extend(gone.iter().map(|g| format!("  no longer allowed: {}", access::describe(g))));
    lines.extend(denies.iter().map(|d| format!("  newly denied: {d}")));
    lines.push("  policy change:".to_string());
    lines.extend(access::statement_diff(&old, &new).into_iter().map(|l| format!("    {l}")));
    lines.push(
        "  keep the current clients allowed (e.g. add their addresses to `source_ips`), or set \
         `accept_access_loss: true` if cutting them off is intended"
            .to_string(),
    );
    Some(lines.join("\n"))
}

/// The policy the domain had before standby, when it had one.
fn previous(prior: &Attrs) -> Option<&Value> {
    prior.get("previous_policy").filter(|v| !v.is_null())
}

/// The property a refusal is reported at.
fn loss_prop(p: &Attrs) -> &'static str {
    ["source_ips", "principals", "access_policies", "cross_cluster_leader"]
        .into_iter()
        .find(|k| p.get(*k).is_some_and(|v| !v.is_null() && !v.has_unknown()))
        .unwrap_or("domain_arn")
}

async fn put_policy(cx: &Ctx<'_>, name: &str, doc: &str) -> Result<(), KindError> {
    cx.aws
        .opensearch(cx.region)
        .await
        .update_domain_config()
        .domain_name(name)
        .access_policies(doc)
        .send()
        .await
        .map_err(|e| os_error("UpdateDomainConfig", e))?;
    Ok(())
}

#[async_trait]
impl Kind for OpenSearchDomainPolicy {
    fn type_name(&self) -> &'static str {
        "aws_opensearch_domain_policy"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        let given = |k: &str| props.get(k).is_some_and(|v| !v.is_null());
        if given("access_policies") {
            for k in ["principals", "source_ips", "vpc", "cross_cluster_leader"] {
                if given(k) {
                    out.push(PropProblem::error(
                        k,
                        format!("`{k}` shapes the standard document; with a whole `access_policies` leave it out"),
                    ));
                }
            }
        }
        if let Some(arn) = get_str(props, "domain_arn")
            && parse_domain_arn(arn).is_none()
        {
            out.push(PropProblem::error("domain_arn", format!("{arn:?} is not an OpenSearch domain ARN")));
        }
        for ip in string_list(props.get("source_ips")).unwrap_or_default() {
            if !cidr_ok(&ip) {
                out.push(PropProblem::error("source_ips", format!("{ip:?} is not an IP address or CIDR block")));
            }
        }
        if given("access_policies") && get_bool(props, "keep_existing") == Some(true) {
            out.push(PropProblem::error(
                "keep_existing",
                "`keep_existing` adds the standard statements to the policy found; with a whole `access_policies` \
                 leave it out",
            ));
        }
        let signed_only = string_list(props.get("principals")).is_some_and(|l| !l.iter().any(|p| p == "*"));
        if signed_only {
            out.push(PropProblem::warning(
                "principals",
                "without `*`, only SigV4-signed requests can pass this policy: Mattermost and standby's replication \
                 calls use basic auth (unsigned, anonymous to AWS) and would get 403 \"User: anonymous is not \
                 authorized\"",
            ));
        } else if !given("access_policies") {
            out.extend(network_problem(props));
        }
        out
    }

    fn check_update(&self, prior: &Attrs, planned: &Attrs) -> Vec<PropProblem> {
        if get_bool(planned, "accept_access_loss") == Some(true) {
            return Vec::new();
        }
        let (Some(old), Some(new)) = (prior.get("access_policies"), planned.get("access_policies")) else {
            return Vec::new();
        };
        if new.has_unknown() || old.is_null() {
            return Vec::new();
        }
        access_loss(old, new).map(|m| PropProblem::error(loss_prop(planned), m)).into_iter().collect()
    }

    fn check_delete(&self, prior: &Attrs, configured: Option<&Attrs>, deleted: &[(&str, &Attrs)]) -> Vec<PropProblem> {
        let Some(current) = prior.get("access_policies").filter(|v| !v.is_null()) else { return Vec::new() };
        if let Some(before) = previous(prior) {
            // The owner's own policy comes back; say so when it takes away
            // what standby's let in.
            let (gone, _) = access::lost(&as_json(current), &as_json(before));
            if gone.is_empty() {
                return Vec::new();
            }
            let lines: Vec<String> =
                gone.iter().map(|g| format!("  no longer allowed: {}", access::describe(g))).collect();
            return vec![PropProblem::warning(
                "domain_arn",
                format!(
                    "restoring the access policy the domain had before standby takes away what standby's policy \
                     allows:\n{}",
                    lines.join("\n")
                ),
            )];
        }
        let accepted =
            [Some(prior), configured].into_iter().flatten().any(|a| get_bool(a, "accept_access_loss") == Some(true));
        let arn = get_str(prior, "domain_arn");
        let domain_goes =
            deleted.iter().any(|(t, a)| *t == "aws_opensearch_domain" && arn.is_some() && get_str(a, "arn") == arn);
        if accepted || domain_goes {
            return Vec::new();
        }
        let (gone, _) = access::lost(&as_json(current), &json!({"Statement": []}));
        if gone.is_empty() {
            return Vec::new();
        }
        let name = get_str(prior, "domain_name").unwrap_or("the domain");
        let recorded = if prior.contains_key("previous_policy") {
            "it had none before standby"
        } else {
            "standby did not record the policy it had before"
        };
        let mut lines = vec![format!(
            "deleting this policy leaves {name} with no access policy ({recorded}): every request will be refused, \
             and clients the current policy lets in (Mattermost, replication) lose access"
        )];
        lines.extend(gone.iter().map(|g| format!("  no longer allowed: {}", access::describe(g))));
        lines.push(
            "  keep the resource, delete the domain in the same plan, or set `accept_access_loss: true` (and apply \
             it before removing the resource) if cutting them off is intended"
                .to_string(),
        );
        vec![PropProblem::error(configured.map_or("domain_arn", loss_prop), lines.join("\n"))]
    }

    fn delete_effect(&self, prior: &Attrs) -> Option<String> {
        Some(match previous(prior) {
            Some(p) => {
                format!("restores the access policy the domain had before standby: {}", policy::normalize(p).to_json())
            }
            None => "leaves the domain with no access policy: every request will be refused".to_string(),
        })
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match prop {
            "access_policies" | "previous_policy" => policy::normalize(v),
            _ => v.clone(),
        }
    }

    /// The document to compare with what AWS reports: the standard one is
    /// known once the domain's ARN is.
    fn derive(&self, planned: &mut Attrs) {
        if planned.get("access_policies").is_none_or(Value::is_null) {
            let inputs_known = ["principals", "source_ips", "cross_cluster_leader"]
                .iter()
                .all(|k| planned.get(*k).is_none_or(|v| !v.has_unknown()));
            let v = match planned.get("domain_arn") {
                Some(Value::String(_)) if inputs_known => document(planned).unwrap_or(Value::Unknown),
                _ => Value::Unknown,
            };
            planned.insert("access_policies".into(), v);
        }
        let name = get_str(planned, "domain_arn").and_then(parse_domain_arn).map(|(_, _, n)| Value::str(n));
        planned.insert("domain_name".into(), name.unwrap_or(Value::Unknown));
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "domain_arn").and_then(parse_domain_arn).map(|(_, _, n)| n.to_string())
    }

    /// The policy the domain has now: written ahead, before the create, as
    /// `previous_policy` (null: none).
    async fn before_create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Attrs, KindError> {
        let arn = req_str(desired, "domain_arn")?;
        let (_, _, name) = parse_domain_arn(arn).ok_or_else(|| KindError::Failed(format!("bad domain ARN {arn:?}")))?;
        let current = self.read(cx, name, desired).await?.and_then(|a| a.get("access_policies").cloned());
        Ok([("previous_policy".to_string(), current.unwrap_or(Value::Null))].into())
    }

    fn kept(&self) -> &'static [&'static str] {
        &["previous_policy"]
    }

    fn acts_on(&self, props: &Attrs) -> Option<crate::kinds::Target> {
        get_str(props, "domain_arn").map(|a| crate::kinds::Target::new("aws_opensearch_domain", "arn", a))
    }

    fn production_effect(
        &self,
        before: Option<&Attrs>,
        after: Option<&Attrs>,
        _changed: &std::collections::BTreeSet<String>,
    ) -> Option<String> {
        let statements = |a: &Attrs, k: &str| -> Vec<Json> {
            match a.get(k).map(as_json).and_then(|d| d.get("Statement").cloned()) {
                Some(Json::Array(s)) => s,
                Some(s @ Json::Object(_)) => vec![s],
                _ => Vec::new(),
            }
        };
        match (before, after) {
            (None, Some(a)) if get_bool(a, "keep_existing") == Some(true) => {
                let own = get_str(a, "domain_arn").and_then(|arn| standard_document(arn, a));
                let wanted: Vec<String> = own
                    .map(|d| access::grants(&as_json(&d)).iter().map(access::describe).collect())
                    .unwrap_or_default();
                Some(format!(
                    "adds to the domain's access policy what replication and basic-auth clients (Mattermost, standby) \
                     need, where its own statements (which all stay) do not already allow it: {}. A policy change is \
                     no blue/green deployment; destroy puts the policy found back",
                    wanted.join("; ")
                ))
            }
            (None, Some(_)) => Some(
                "replaces the domain's access policy with the standard document (the policy found is kept on record \
                 and put back by destroy)"
                    .into(),
            ),
            (Some(b), None) => Some(match previous(b) {
                Some(_) => "puts back the access policy the domain had before standby".into(),
                None => "leaves the domain with no access policy: every request is refused".into(),
            }),
            (Some(b), Some(a)) => {
                let (old, new) = (statements(b, "access_policies"), statements(a, "access_policies"));
                let added: Vec<String> = new.iter().filter(|s| !old.contains(s)).map(|s| s.to_string()).collect();
                let gone: Vec<String> = old.iter().filter(|s| !new.contains(s)).map(|s| s.to_string()).collect();
                if added.is_empty() && gone.is_empty() {
                    return None;
                }
                Some(format!("access policy statements added: {}; removed: {}", added.len(), gone.len()))
            }
            _ => None,
        }
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let arn = req_str(desired, "domain_arn")?;
        let (_, _, name) = parse_domain_arn(arn).ok_or_else(|| KindError::Failed(format!("bad domain ARN {arn:?}")))?;
        let doc = document(desired).ok_or_else(|| KindError::Failed("the policy document is not known".into()))?;
        // An existing domain (adopted) may already have a policy its clients
        // rely on (read and written ahead by `before_create`): the same rule
        // as for an update, and deleting this resource restores it.
        check_network(cx, name, desired).await?;
        let current = previous(desired).cloned();
        if get_bool(desired, "accept_access_loss") != Some(true)
            && let Some(why) = current.as_ref().and_then(|c| access_loss(c, &doc))
        {
            return Err(KindError::Failed(format!("{name} already has an access policy; {why}")));
        }
        put_policy(cx, name, &policy::to_json_string(&doc)).await?;
        let mut attrs = desired.clone();
        self.derive(&mut attrs);
        attrs.entry("previous_policy".into()).or_insert(Value::Null);
        Ok(Created { id: name.to_string(), attrs })
    }

    async fn wait_ready(&self, cx: &Ctx<'_>, id: &str) -> Result<(), KindError> {
        let os = cx.aws.opensearch(cx.region).await;
        poll(|| async {
            match os.describe_domain().domain_name(id).send().await {
                Ok(out) => Ok(out.domain_status().is_some_and(|d| d.processing() != Some(true)).then_some(())),
                Err(e) => Err(os_error("DescribeDomain", e)),
            }
        })
        .await
    }

    // read: 1 call (DescribeDomain).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let os = cx.aws.opensearch(cx.region).await;
        let d = match os.describe_domain().domain_name(id).send().await {
            Ok(out) => match out.domain_status().cloned() {
                Some(d) if d.deleted() != Some(true) => d,
                _ => return Ok(None),
            },
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(os_error("DescribeDomain", e)),
        };
        let Some(doc) = d.access_policies().filter(|p| !p.trim().is_empty()) else { return Ok(None) };
        let mut a = Attrs::new();
        a.insert("domain_arn".into(), Value::str(d.arn()));
        a.insert("domain_name".into(), Value::str(d.domain_name()));
        a.insert("access_policies".into(), policy::from_aws(doc));
        // standby's inputs to the document, not reported by AWS.
        for k in [
            "principals",
            "source_ips",
            "vpc",
            "cross_cluster_leader",
            "keep_existing",
            "accept_access_loss",
            "previous_policy",
        ] {
            if let Some(p) = prior.get(k) {
                a.insert(k.into(), p.clone());
            }
        }
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let mut desired = desired.clone();
        if let Some(found) = prior.get("previous_policy") {
            desired.entry("previous_policy".into()).or_insert_with(|| found.clone());
        }
        let doc = document(&desired).ok_or_else(|| KindError::Failed("the policy document is not known".into()))?;
        check_network(cx, id, &desired).await?;
        put_policy(cx, id, &policy::to_json_string(&doc)).await
    }

    /// The policy the domain had before standby, or none (the plan said
    /// which, and refused a lock-out). Observes first: a domain that is gone,
    /// or already has that policy (a retried delete), needs no call.
    async fn delete(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError> {
        let current = self.read(cx, id, prior).await?.and_then(|a| a.get("access_policies").cloned());
        let restore = previous(prior);
        let same = match (&current, restore) {
            (None, None) => true,
            (Some(c), Some(r)) => policy::normalize(c) == policy::normalize(r),
            _ => false,
        };
        if same {
            return Ok(());
        }
        let doc = restore.map(policy::to_json_string).unwrap_or_default();
        match put_policy(cx, id, &doc).await {
            Err(KindError::Aws { code, .. }) if GONE.contains(&code.as_str()) => Ok(()),
            other => other,
        }
    }
}

fn cidr_ok(text: &str) -> bool {
    let (ip, len) = text.split_once('/').unwrap_or((text, ""));
    match ip.parse::<std::net::IpAddr>() {
        Ok(a) => len.is_empty() || len.parse::<u32>().is_ok_and(|l| l <= if a.is_ipv4() { 32 } else { 128 }),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:es:us-west-1:123456789012:domain/mm-search";

    fn props(pairs: &[(&str, Value)]) -> Attrs {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn the_standard_document_is_awss_recommended_one_for_internal_users() {
        let p = props(&[("domain_arn", Value::str(ARN))]);
        let doc = standard_document(ARN, &p).unwrap().to_json();
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 1);
        assert_eq!(doc["Statement"][0]["Principal"], json!({"AWS": ["*"]}));
        assert_eq!(doc["Statement"][0]["Action"], json!("es:ESHttp*"));
        assert_eq!(doc["Statement"][0]["Resource"], json!(format!("{ARN}/*")));
        let leader = props(&[
            ("domain_arn", Value::str(ARN)),
            ("cross_cluster_leader", Value::Bool(true)),
            ("source_ips", Value::List(vec![Value::str("10.0.0.0/8")])),
        ]);
        let doc = standard_document(ARN, &leader).unwrap().to_json();
        assert_eq!(doc["Statement"][0]["Condition"], json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}}));
        assert_eq!(doc["Statement"][1]["Action"], json!("es:ESCrossClusterGet"));
        assert_eq!(doc["Statement"][1]["Resource"], json!(ARN));
        assert!(doc["Statement"][1].get("Condition").is_none());
        assert_eq!(parse_domain_arn(ARN), Some(("us-west-1", "123456789012", "mm-search")));
    }

    #[test]
    fn an_open_public_domain_is_an_error_unless_written_out() {
        let ips = |l: &[&str]| Value::List(l.iter().map(|s| Value::str(*s)).collect());
        let errors = |pairs: &[(&str, Value)]| -> Vec<(String, bool)> {
            let mut p = props(&[("domain_arn", Value::str(ARN))]);
            p.extend(props(pairs));
            OpenSearchDomainPolicy.validate(&p).into_iter().map(|p| (p.prop, p.warning)).collect()
        };
        // Unset, or empty: anyone on the internet would reach it.
        assert_eq!(errors(&[]), [("source_ips".to_string(), false)]);
        assert_eq!(errors(&[("source_ips", ips(&[]))]), [("source_ips".to_string(), false)]);
        // Narrowed, or opened on purpose.
        assert!(errors(&[("source_ips", ips(&["10.0.0.0/8"]))]).is_empty());
        assert!(errors(&[("source_ips", ips(&["0.0.0.0/0"]))]).is_empty());
        // A VPC domain: its security groups narrow it; an address list is refused.
        assert!(errors(&[("vpc", Value::Bool(true))]).is_empty());
        assert!(errors(&[("vpc", Value::Bool(true)), ("source_ips", ips(&[]))]).is_empty());
        assert_eq!(errors(&[("vpc", Value::Bool(true)), ("source_ips", ips(&["10.0.0.0/8"]))]).len(), 1);
        // Not known yet (a variable): decided when it is.
        assert!(errors(&[("source_ips", Value::Unknown)]).is_empty());
        let msg = &OpenSearchDomainPolicy.validate(&props(&[("domain_arn", Value::str(ARN))]))[0].message;
        assert!(msg.contains("anyone on the internet") && msg.contains("0.0.0.0/0"), "{msg}");
    }

    #[test]
    fn signed_only_principals_and_bad_addresses() {
        let iam = props(&[
            ("domain_arn", Value::str(ARN)),
            ("principals", Value::List(vec![Value::str("arn:aws:iam::123456789012:root")])),
        ]);
        let probs = OpenSearchDomainPolicy.validate(&iam);
        assert!(probs[0].warning && probs[0].message.contains("anonymous"), "{probs:?}");
        let bad = props(&[("domain_arn", Value::str(ARN)), ("source_ips", Value::List(vec![Value::str("10.0.0/8")]))]);
        assert!(OpenSearchDomainPolicy.validate(&bad).iter().any(|p| !p.warning && p.prop == "source_ips"));
    }

    #[test]
    fn an_update_that_cuts_clients_off_is_refused() {
        let open = standard_document(ARN, &props(&[("domain_arn", Value::str(ARN))])).unwrap();
        let prior = props(&[("access_policies", open.clone())]);
        let narrowed =
            props(&[("domain_arn", Value::str(ARN)), ("source_ips", Value::List(vec![Value::str("10.0.0.0/8")]))]);
        let mut planned = narrowed.clone();
        OpenSearchDomainPolicy.derive(&mut planned);
        let probs = OpenSearchDomainPolicy.check_update(&prior, &planned);
        assert_eq!(probs.len(), 1, "{probs:?}");
        assert_eq!(probs[0].prop, "source_ips");
        assert!(
            probs[0].message.contains("from any address") && probs[0].message.contains("    + "),
            "{}",
            probs[0].message
        );
        planned.insert("accept_access_loss".into(), Value::Bool(true));
        assert!(OpenSearchDomainPolicy.check_update(&prior, &planned).is_empty());
        // Adding the leader statement takes nothing away.
        let mut leader = props(&[("domain_arn", Value::str(ARN)), ("cross_cluster_leader", Value::Bool(true))]);
        OpenSearchDomainPolicy.derive(&mut leader);
        assert!(OpenSearchDomainPolicy.check_update(&prior, &leader).is_empty());
    }

    #[test]
    fn a_delete_restores_the_previous_policy_or_is_refused_when_it_locks_clients_out() {
        let k = OpenSearchDomainPolicy;
        let open = standard_document(ARN, &props(&[("domain_arn", Value::str(ARN))])).unwrap();
        let own = Value::from_json(&json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
            "Action": "es:ESHttpGet", "Resource": format!("{ARN}/*")}]}));
        let state = |previous: Option<Value>| {
            let mut a = props(&[
                ("domain_arn", Value::str(ARN)),
                ("domain_name", Value::str("mm-search")),
                ("access_policies", open.clone()),
            ]);
            if let Some(p) = previous {
                a.insert("previous_policy".into(), p);
            }
            a
        };
        // Had a policy: restored, said so, and a warning for what it takes away.
        let had = state(Some(own.clone()));
        let effect = k.delete_effect(&had).unwrap();
        assert!(effect.starts_with("restores the access policy the domain had before standby: {"), "{effect}");
        let probs = k.check_delete(&had, None, &[]);
        assert!(probs.len() == 1 && probs[0].warning, "{probs:?}");
        assert!(probs[0].message.contains("no longer allowed: es:ESHttp* on"), "{}", probs[0].message);
        // Had none (or none recorded): refused, unless accepted or the domain goes.
        for prior in [state(Some(Value::Null)), state(None)] {
            let effect = k.delete_effect(&prior).unwrap();
            assert_eq!(effect, "leaves the domain with no access policy: every request will be refused");
            let probs = k.check_delete(&prior, None, &[]);
            assert!(probs.len() == 1 && !probs[0].warning && probs[0].prop == "domain_arn", "{probs:?}");
            assert!(probs[0].message.contains("leaves mm-search with no access policy"), "{}", probs[0].message);
            let accept = props(&[("accept_access_loss", Value::Bool(true))]);
            assert!(k.check_delete(&prior, Some(&accept), &[]).is_empty());
            let domain = props(&[("arn", Value::str(ARN))]);
            assert!(k.check_delete(&prior, None, &[("aws_opensearch_domain", &domain)]).is_empty());
            let other = props(&[("arn", Value::str("arn:aws:es:us-west-1:123456789012:domain/other"))]);
            assert_eq!(k.check_delete(&prior, None, &[("aws_opensearch_domain", &other)]).len(), 1);
        }
        let recorded = k.check_delete(&state(None), None, &[]);
        assert!(recorded[0].message.contains("standby did not record"), "{}", recorded[0].message);
    }
}
