//! `aws_opensearch_outbound_connection`: a cross-cluster connection requested
//! by the follower domain (this resource's region) towards the leader domain
//! in another region. id = connection id (AWS chooses it).
//!
//! Replication is pull-based, so the follower asks and the leader accepts
//! (`aws_opensearch_inbound_connection_accepter` in the leader's region).
//! Connections cannot be modified: every property forces replacement, and
//! reversing the direction at failover is a delete and a create.

use super::{os_error, planned_domain_region};
use crate::config::AWS_REGIONS;
use crate::kinds::aws::{get_str, is_gone, req_str};
use crate::kinds::rds::poll;
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PlanView, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_opensearch::types::{
    AwsDomainInformation, ConnectionMode, DomainInformationContainer, Filter, OutboundConnection,
    OutboundConnectionStatusCode as Code,
};

pub struct OpenSearchOutboundConnection;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("local_domain_name", Type::String, "The follower domain, in this resource's region.")
            .force_new(),
        Prop::required("remote_domain_name", Type::String, "The leader domain.").force_new(),
        Prop::required("remote_region", Type::String, "The leader domain's region (another region).").force_new(),
        Prop::optional("remote_owner_id", Type::String, "The leader's AWS account (default: the same account).")
            .force_new(),
        Prop::required(
            "connection_alias",
            Type::String,
            "Name of the connection; the follower's replication calls it `leader_alias`.",
        )
        .force_new(),
        Prop::optional("connection_mode", Type::String, "`DIRECT` (default) or `VPC_ENDPOINT`.").force_new(),
        Prop::computed("connection_id", Type::String, "The connection's id (what the leader accepts)."),
    ],
};

/// States after which the connection is no more (a new one is needed).
const ENDED: &[&str] = &["DELETED", "DELETING", "REJECTED", "REJECTING", "VALIDATION_FAILED"];

fn domain_info(name: &str, region: &str, owner: Option<&str>) -> Result<DomainInformationContainer, KindError> {
    let info = AwsDomainInformation::builder()
        .domain_name(name)
        .region(region)
        .set_owner_id(owner.map(str::to_string))
        .build()
        .map_err(|e| KindError::Failed(e.to_string()))?;
    Ok(DomainInformationContainer::builder().aws_domain_information(info).build())
}

async fn describe(cx: &Ctx<'_>, id: &str) -> Result<Option<OutboundConnection>, KindError> {
    let filter = Filter::builder().name("connection-id").values(id).build();
    let out = cx
        .aws
        .opensearch(cx.region)
        .await
        .describe_outbound_connections()
        .filters(filter)
        .send()
        .await
        .map_err(|e| os_error("DescribeOutboundConnections", e))?;
    Ok(out.connections().iter().find(|c| c.connection_id() == Some(id)).cloned())
}

fn status(c: &OutboundConnection) -> (&str, &str) {
    let s = c.connection_status();
    (s.and_then(|s| s.status_code()).map(Code::as_str).unwrap_or("UNKNOWN"), s.and_then(|s| s.message()).unwrap_or(""))
}

/// The alias rule of the API: a letter, then letters, digits, `-`, `_`; at most 100.
pub fn alias_problem(alias: &str) -> Option<String> {
    let ok = (2..=100).contains(&alias.len())
        && alias.starts_with(|c: char| c.is_ascii_alphabetic())
        && alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    (!ok).then(|| {
        format!("invalid connection alias {alias:?}: 2-100 letters, digits, `-` or `_`, starting with a letter")
    })
}

#[async_trait]
impl Kind for OpenSearchOutboundConnection {
    fn type_name(&self) -> &'static str {
        "aws_opensearch_outbound_connection"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if let Some(p) = get_str(props, "connection_alias").and_then(alias_problem) {
            out.push(PropProblem::error("connection_alias", p));
        }
        if let Some(m) = get_str(props, "connection_mode")
            && !matches!(m, "DIRECT" | "VPC_ENDPOINT")
        {
            out.push(PropProblem::error("connection_mode", format!("must be DIRECT or VPC_ENDPOINT, got {m:?}")));
        }
        if let Some(r) = get_str(props, "remote_region")
            && !AWS_REGIONS.contains(&r)
        {
            out.push(PropProblem::error("remote_region", format!("`{r}` is not an AWS region")));
        }
        if let (Some(a), Some(b)) = (get_str(props, "local_domain_name"), get_str(props, "remote_domain_name"))
            && a == b
        {
            out.push(PropProblem::error("remote_domain_name", "a domain cannot connect to itself"));
        }
        out
    }

    /// The two domains must be in different regions (and `remote_region`
    /// must be the leader's), as far as the plan declares them.
    fn check_plan(&self, props: &Attrs, view: &dyn PlanView) -> Vec<PropProblem> {
        let mut out = Vec::new();
        let remote_region = get_str(props, "remote_region");
        let local = get_str(props, "local_domain_name").and_then(|n| planned_domain_region(view, n));
        let remote = get_str(props, "remote_domain_name").and_then(|n| planned_domain_region(view, n));
        if let (Some((la, lr)), Some((ra, rr))) = (&local, &remote)
            && lr == rr
        {
            out.push(PropProblem::error(
                "remote_domain_name",
                format!(
                    "{la} and {ra} are both in {lr}: a cross-cluster connection for disaster recovery links domains \
                     in two different regions"
                ),
            ));
        } else if let (Some((la, lr)), Some(r)) = (&local, remote_region)
            && lr == r
        {
            out.push(PropProblem::error(
                "remote_region",
                format!(
                    "remote_region is {r}, the region of the local domain {la}: the leader must be in another region"
                ),
            ));
        } else if let (Some((ra, rr)), Some(r)) = (&remote, remote_region)
            && rr != r
        {
            out.push(PropProblem::error("remote_region", format!("remote_region is {r}, but {ra} is in {rr}")));
        }
        out
    }

    /// The natural key: the alias and the two domains (AWS assigns the id).
    fn finds_by_natural_key(&self) -> bool {
        true
    }

    // find: 1 call (DescribeOutboundConnections, filtered by local domain).
    async fn find(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Option<String>, KindError> {
        let (Some(local), Some(remote), Some(alias)) = (
            get_str(desired, "local_domain_name"),
            get_str(desired, "remote_domain_name"),
            get_str(desired, "connection_alias"),
        ) else {
            return Ok(None);
        };
        let filter = Filter::builder().name("local-domain-info.domain-name").values(local).build();
        let out = cx
            .aws
            .opensearch(cx.region)
            .await
            .describe_outbound_connections()
            .filters(filter)
            .send()
            .await
            .map_err(|e| os_error("DescribeOutboundConnections", e))?;
        let remote_region = get_str(desired, "remote_region");
        let found = out.connections().iter().find(|c| {
            let r = c.remote_domain_info().and_then(|d| d.aws_domain_information());
            c.connection_alias() == Some(alias)
                && r.is_some_and(|r| {
                    r.domain_name() == remote && (remote_region.is_none() || r.region() == remote_region)
                })
                && !ENDED.contains(&status(c).0)
        });
        Ok(found.and_then(|c| c.connection_id()).map(str::to_string))
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        // OwnerId and Region on both sides, as Terraform's provider sends
        // them: the local domain's account comes from its ARN.
        let local_name = req_str(desired, "local_domain_name")?;
        let local_domain = cx
            .aws
            .opensearch(cx.region)
            .await
            .describe_domain()
            .domain_name(local_name)
            .send()
            .await
            .map_err(|e| os_error("DescribeDomain", e))?;
        let arn = local_domain.domain_status().map(|d| d.arn().to_string()).unwrap_or_default();
        let account = super::domain_policy::parse_domain_arn(&arn)
            .map(|(_, account, _)| account.to_string())
            .ok_or_else(|| KindError::Failed(format!("DescribeDomain {local_name}: no domain ARN in the answer")))?;
        let local = domain_info(local_name, cx.region, Some(&account))?;
        let remote = domain_info(
            req_str(desired, "remote_domain_name")?,
            req_str(desired, "remote_region")?,
            Some(get_str(desired, "remote_owner_id").unwrap_or(&account)),
        )?;
        let out = cx
            .aws
            .opensearch(cx.region)
            .await
            .create_outbound_connection()
            .local_domain_info(local)
            .remote_domain_info(remote)
            .connection_alias(req_str(desired, "connection_alias")?)
            .connection_mode(ConnectionMode::from(get_str(desired, "connection_mode").unwrap_or("DIRECT")))
            .send()
            .await
            .map_err(|e| os_error("CreateOutboundConnection", e))?;
        let id =
            out.connection_id().ok_or_else(|| KindError::Failed("CreateOutboundConnection returned no id".into()))?;
        let mut attrs = desired.clone();
        attrs.insert("connection_id".into(), Value::str(id));
        Ok(Created { id: id.to_string(), attrs })
    }

    /// Ready once AWS has validated the request (it then waits for the
    /// leader's acceptance); a failed validation is an error with AWS's reason.
    async fn wait_ready(&self, cx: &Ctx<'_>, id: &str) -> Result<(), KindError> {
        poll(|| async {
            let Some(c) = describe(cx, id).await? else { return Ok(None) };
            match status(&c) {
                ("PENDING_ACCEPTANCE" | "APPROVED" | "PROVISIONING" | "ACTIVE", _) => Ok(Some(())),
                ("VALIDATING", _) => Ok(None),
                (s, msg) => Err(KindError::Failed(format!("connection {id} is {s}: {msg}"))),
            }
        })
        .await
    }

    // read: 1 call (DescribeOutboundConnections, filtered by connection id).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let Some(c) = describe(cx, id).await? else { return Ok(None) };
        if ENDED.contains(&status(&c).0) {
            return Ok(None);
        }
        let info = |d: Option<&DomainInformationContainer>| d.and_then(|d| d.aws_domain_information()).cloned();
        let (local, remote) = (info(c.local_domain_info()), info(c.remote_domain_info()));
        let mut a = Attrs::new();
        a.insert("connection_id".into(), Value::str(id));
        if let Some(l) = &local {
            a.insert("local_domain_name".into(), Value::str(l.domain_name()));
        }
        if let Some(r) = &remote {
            a.insert("remote_domain_name".into(), Value::str(r.domain_name()));
            if let Some(region) = r.region() {
                a.insert("remote_region".into(), Value::str(region));
            }
            // The owner is reported even when not given: keep it only when it was.
            if prior.contains_key("remote_owner_id")
                && let Some(o) = r.owner_id()
            {
                a.insert("remote_owner_id".into(), Value::str(o));
            }
        }
        if let Some(alias) = c.connection_alias() {
            a.insert("connection_alias".into(), Value::str(alias));
        }
        if prior.contains_key("connection_mode")
            && let Some(m) = c.connection_mode()
        {
            a.insert("connection_mode".into(), Value::str(m.as_str()));
        }
        Ok(Some(a))
    }

    async fn update(&self, _cx: &Ctx<'_>, _id: &str, _prior: &Attrs, _desired: &Attrs) -> Result<(), KindError> {
        // Every property forces replacement: there is nothing to update.
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        let os = cx.aws.opensearch(cx.region).await;
        match os.delete_outbound_connection().connection_id(id).send().await {
            Ok(_) => {}
            Err(e) if is_gone(&e, &["ResourceNotFoundException"]) => return Ok(()),
            Err(e) => return Err(os_error("DeleteOutboundConnection", e)),
        }
        poll(|| async {
            let gone = describe(cx, id).await?.is_none_or(|c| matches!(status(&c).0, "DELETED" | "REJECTED"));
            Ok(gone.then_some(()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases() {
        assert!(alias_problem("leader").is_none());
        assert!(alias_problem("mm-leader_1").is_none());
        assert!(alias_problem("1leader").is_some());
        assert!(alias_problem("a b").is_some());
    }
}
