//! Unmanaged resources: in the topology's scope but not in state — a
//! hand-made bucket, role, domain, cluster or connection.
//!
//! The scope, so that an account full of other things stays quiet:
//! - only the kinds this configuration (or its state) uses;
//! - only the configured regions;
//! - names that are one of the configuration's prefixes followed by `-`
//!   (`--prefix`, else the root variable `prefix` with its default, else the
//!   longest common dash-ended prefix of the names standby manages): a
//!   `mattermost-drx-…` bucket is not `mattermost-dr`'s; or, where the
//!   listing returns tags (RDS clusters), the tag `managed-by: standby`;
//! - IAM roles and policies (global, unlike the rest) only when their name
//!   ends with `-<region>` of a configured region, as every name the
//!   modules give them does: the same prefix in another region pair is
//!   another deployment.
//!
//! Calls, every listing paginated: ListBuckets with the prefix (its
//! `BucketRegion` says where each is; GetBucketLocation only where that is
//! missing), ListRoles and ListPolicies, per region DescribeDBClusters,
//! ListDomainNames and DescribeOutboundConnections, DescribeGlobalClusters
//! once. Replication rules added by hand to a managed bucket show as
//! `changed` on its replication resource; replication-plugin rules and
//! indices are not listed here.

use super::{Finding, FindingKind};
use crate::aws::Aws;
use crate::load::Loaded;
use crate::state::State;
use crate::value::Value;
use serde_json::{Value as Json, json};
use std::collections::BTreeSet;

/// The tag standby's examples put on everything they make.
pub const MANAGED_BY: (&str, &str) = ("managed-by", "standby");

pub struct Scope {
    pub kinds: BTreeSet<String>,
    pub regions: BTreeSet<String>,
    pub prefixes: Vec<String>,
    /// Ids of everything in state, by kind.
    managed: BTreeSet<(String, String)>,
}

impl Scope {
    pub fn of(loaded: &Loaded, state: &State, prefixes: &[String]) -> Scope {
        let mut kinds: BTreeSet<String> = loaded
            .tree
            .modules
            .iter()
            .flat_map(|m| m.module.resources.iter().map(|r| r.type_name.name.clone()))
            .collect();
        kinds.extend(state.resources.values().map(|i| i.type_name.clone()));
        let mut regions: BTreeSet<String> =
            loaded.tree.root().regions.iter().filter_map(|(_, r)| r.as_ref().map(|r| r.name.clone())).collect();
        regions.extend(state.resources.values().map(|i| i.region.clone()));
        let managed: BTreeSet<(String, String)> =
            state.resources.values().filter_map(|i| Some((i.type_name.clone(), i.id.clone()?))).collect();
        let prefixes = if !prefixes.is_empty() {
            prefixes.to_vec()
        } else if let Some(Value::String(p)) = crate::load::root_variables(loaded).get("prefix") {
            vec![p.clone()]
        } else {
            common_prefix(managed.iter().filter(|(t, _)| NAMED.contains(&t.as_str())).map(|(_, id)| id.as_str()))
                .into_iter()
                .collect()
        };
        // One form: the stem, without the dash that must follow it.
        let prefixes =
            prefixes.into_iter().map(|p| p.trim_end_matches('-').to_string()).filter(|p| !p.is_empty()).collect();
        Scope { kinds, regions, prefixes, managed }
    }

    fn wants(&self, kind: &str) -> bool {
        self.kinds.contains(kind)
    }

    /// `<prefix>-…`: the prefix, then a dash.
    fn in_scope(&self, name: &str) -> bool {
        self.prefixes.iter().any(|p| name.strip_prefix(p.as_str()).is_some_and(|rest| rest.starts_with('-')))
    }

    /// In scope and named for one of the configured regions (`…-us-west-1`).
    fn in_scope_global(&self, name: &str) -> bool {
        self.in_scope(name) && self.regions.iter().any(|r| name.ends_with(&format!("-{r}")))
    }

    fn managed(&self, kind: &str, id: &str) -> bool {
        self.managed.contains(&(kind.to_string(), id.to_string()))
    }
}

/// Kinds whose id is a name the prefix applies to.
const NAMED: &[&str] =
    &["aws_s3_bucket", "aws_iam_role", "aws_opensearch_domain", "aws_rds_cluster", "aws_rds_global_cluster"];

/// The longest common prefix of names, cut after its last `-` (at least 3
/// characters), e.g. `mattermost-dr-` for `mattermost-dr-files-…` and
/// `mattermost-dr-db-…`.
fn common_prefix<'a>(mut names: impl Iterator<Item = &'a str>) -> Option<String> {
    let first = names.next()?.to_string();
    let mut len = first.len();
    for n in names {
        len = first.bytes().zip(n.bytes()).take(len).take_while(|(a, b)| a == b).count();
    }
    let cut = first[..len].rfind('-')? + 1;
    (cut >= 3).then(|| first[..cut].to_string())
}

fn unmanaged(kind: &str, name: &str, region: Option<&str>, extra: Json) -> Finding {
    let mut f = Finding::new(
        FindingKind::Unmanaged,
        format!("{kind}.{name}"),
        "",
        Json::Null,
        json!({"name": name, "region": region, "details": extra}),
    );
    f.region = region.map(str::to_string);
    f.detail = Some(
        "in the topology's scope but not in standby's state: made by hand? Delete it, or declare it and import it"
            .into(),
    );
    f
}

fn error<E>(call: &'static str, e: aws_sdk_s3::error::SdkError<E>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    crate::kinds::aws::aws_error(call, e).to_string()
}

pub async fn discover(scope: &Scope, aws: &Aws) -> Result<Vec<Finding>, Vec<String>> {
    if scope.prefixes.is_empty() {
        return Ok(Vec::new());
    }
    let (a, b, c, d) = tokio::join!(buckets(scope, aws), iam(scope, aws), rds(scope, aws), search(scope, aws));
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for part in [a, b, c, d] {
        match part {
            Ok(f) => out.extend(f),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

async fn buckets(scope: &Scope, aws: &Aws) -> Result<Vec<Finding>, Vec<String>> {
    let Some(home) = scope.regions.iter().next() else { return Ok(Vec::new()) };
    if !scope.wants("aws_s3_bucket") {
        return Ok(Vec::new());
    }
    let s3 = aws.s3(home).await;
    let mut out = Vec::new();
    for prefix in &scope.prefixes {
        // Paginated: AWS refuses an unpaginated ListBuckets in accounts whose
        // bucket quota is above 10,000 (ListBuckets API reference).
        let mut pages = s3.list_buckets().prefix(format!("{prefix}-")).max_buckets(1000).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| vec![error("ListBuckets", e)])?;
            for b in page.buckets() {
                let name = b.name().unwrap_or_default();
                if !scope.in_scope(name) || scope.managed("aws_s3_bucket", name) {
                    continue;
                }
                let region = match b.bucket_region() {
                    Some(r) => r.to_string(),
                    None => {
                        let loc = s3
                            .get_bucket_location()
                            .bucket(name)
                            .send()
                            .await
                            .map_err(|e| vec![error("GetBucketLocation", e)])?;
                        // An empty LocationConstraint is us-east-1.
                        let c = loc.location_constraint().map(|c| c.as_str()).unwrap_or_default();
                        if c.is_empty() { "us-east-1".to_string() } else { c.to_string() }
                    }
                };
                if scope.regions.contains(&region) {
                    out.push(unmanaged("aws_s3_bucket", name, Some(&region), json!({})));
                }
            }
        }
    }
    Ok(out)
}

async fn iam(scope: &Scope, aws: &Aws) -> Result<Vec<Finding>, Vec<String>> {
    let mut out = Vec::new();
    let client = aws.iam().await;
    if scope.wants("aws_iam_role") {
        let mut pages = client.list_roles().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| vec![error("ListRoles", e)])?;
            for r in page.roles() {
                let name = r.role_name();
                if r.path().starts_with("/aws-service-role/")
                    || !scope.in_scope_global(name)
                    || scope.managed("aws_iam_role", name)
                {
                    continue;
                }
                out.push(unmanaged("aws_iam_role", name, None, json!({"arn": r.arn()})));
            }
        }
    }
    if scope.wants("aws_iam_policy") {
        let mut pages =
            client.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| vec![error("ListPolicies", e)])?;
            for p in page.policies() {
                let (name, arn) = (p.policy_name().unwrap_or_default(), p.arn().unwrap_or_default());
                if scope.in_scope_global(name) && !scope.managed("aws_iam_policy", arn) {
                    out.push(unmanaged("aws_iam_policy", name, None, json!({"arn": arn})));
                }
            }
        }
    }
    Ok(out)
}

async fn rds(scope: &Scope, aws: &Aws) -> Result<Vec<Finding>, Vec<String>> {
    let mut out = Vec::new();
    if scope.wants("aws_rds_cluster") {
        for region in &scope.regions {
            let client = aws.rds(region).await;
            let mut pages = client.describe_db_clusters().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| vec![error("DescribeDBClusters", e)])?;
                for c in page.db_clusters() {
                    let id = c.db_cluster_identifier().unwrap_or_default();
                    let tagged =
                        c.tag_list().iter().any(|t| t.key() == Some(MANAGED_BY.0) && t.value() == Some(MANAGED_BY.1));
                    if (scope.in_scope(id) || tagged) && !scope.managed("aws_rds_cluster", id) {
                        out.push(unmanaged("aws_rds_cluster", id, Some(region), json!({"engine": c.engine()})));
                    }
                }
            }
        }
    }
    if scope.wants("aws_rds_global_cluster")
        && let Some(region) = scope.regions.iter().next()
    {
        // Global clusters are listed from any region.
        let client = aws.rds(region).await;
        let mut pages = client.describe_global_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| vec![error("DescribeGlobalClusters", e)])?;
            for g in page.global_clusters() {
                let id = g.global_cluster_identifier().unwrap_or_default();
                if scope.in_scope(id) && !scope.managed("aws_rds_global_cluster", id) {
                    out.push(unmanaged("aws_rds_global_cluster", id, None, json!({"engine": g.engine()})));
                }
            }
        }
    }
    Ok(out)
}

async fn search(scope: &Scope, aws: &Aws) -> Result<Vec<Finding>, Vec<String>> {
    let mut out = Vec::new();
    let domains = scope.wants("aws_opensearch_domain");
    let connections = scope.wants("aws_opensearch_outbound_connection");
    for region in &scope.regions {
        let client = aws.opensearch(region).await;
        if domains {
            let list = client.list_domain_names().send().await.map_err(|e| vec![error("ListDomainNames", e)])?;
            for d in list.domain_names() {
                let name = d.domain_name().unwrap_or_default();
                if scope.in_scope(name) && !scope.managed("aws_opensearch_domain", name) {
                    out.push(unmanaged("aws_opensearch_domain", name, Some(region), json!({})));
                }
            }
        }
        if connections {
            let mut list = Vec::new();
            let mut pages = client.describe_outbound_connections().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| vec![error("DescribeOutboundConnections", e)])?;
                list.extend(page.connections().iter().cloned());
            }
            for c in &list {
                let status = c.connection_status().and_then(|s| s.status_code()).map(|s| s.as_str()).unwrap_or("");
                let id = c.connection_id().unwrap_or_default();
                let local = c
                    .local_domain_info()
                    .and_then(|d| d.aws_domain_information())
                    .map(|d| d.domain_name())
                    .unwrap_or_default();
                let ended = ["DELETED", "DELETING", "REJECTED", "VALIDATION_FAILED"].contains(&status);
                if !ended && scope.in_scope(local) && !scope.managed("aws_opensearch_outbound_connection", id) {
                    out.push(unmanaged(
                        "aws_opensearch_outbound_connection",
                        id,
                        Some(region),
                        json!({"alias": c.connection_alias(), "local_domain": local, "status": status}),
                    ));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    fn scope(prefix: &str) -> super::Scope {
        super::Scope {
            kinds: Default::default(),
            regions: ["us-east-1".to_string(), "us-west-1".to_string()].into(),
            prefixes: vec![prefix.to_string()],
            managed: Default::default(),
        }
    }

    #[test]
    fn the_prefix_ends_at_a_dash_and_iam_names_at_a_configured_region() {
        let s = scope("mattermost-dr");
        assert!(s.in_scope("mattermost-dr-scratch"));
        assert!(!s.in_scope("mattermost-drx-files"), "another stem");
        assert!(!s.in_scope("mattermost-dr"), "the prefix alone names nothing");
        assert!(s.in_scope_global("mattermost-dr-files-replication-us-west-1"));
        assert!(!s.in_scope_global("mattermost-dr-files-replication-eu-west-1"), "another region pair");
        assert!(!s.in_scope_global("mattermost-dr-handmade"));
    }

    #[test]
    fn common_prefix_ends_at_a_dash() {
        let names = ["mattermost-dr-files-us-west-1", "mattermost-dr-db-us-east-1", "mattermost-dr-os-us-west-1"];
        assert_eq!(super::common_prefix(names.into_iter()).as_deref(), Some("mattermost-dr-"));
        assert_eq!(super::common_prefix(["ab-x", "cd-y"].into_iter()), None);
    }
}
