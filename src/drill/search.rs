//! The drill's search copy: a third follower of production's leader, then
//! made writable the way a failover makes the standby's followers writable.
//!
//! [`copy`]: a domain `<prefix>-drill-<id>` in the standby region shaped as
//! the standby follower (engine version, instance type, storage,
//! encryption, fine-grained access control with the same master user, its
//! access policy with the copy's own ARN, one node), tagged for the drill;
//! an outbound connection from it to the leader, alias the copy's name,
//! **accepted on the leader's side** (`AcceptInboundConnection`: "Allows
//! the destination Amazon OpenSearch Service domain owner to accept an
//! inbound cross-cluster search connection request", OpenSearch Service API
//! reference; the connection stays PENDING_ACCEPTANCE until then): the one
//! call a drill makes on a production resource, naming the drill's
//! connection only. Then each followed index started from the leader and
//! the auto-follow rules made (a follower of the standby follower is
//! refused: "You can't replicate an index from one follower domain to
//! another", Developer Guide, *Cross-cluster replication*, Limitations),
//! waited on until they are past bootstrapping.
//!
//! [`writable`]: the failover's own stop ([`crate::switchover::search::stop_followers`]).
//!
//! [`delete`]: the copy's connections deleted from its side
//! (`DeleteOutboundConnection`), then the domain.
//!
//! Each looks first: a copy, connection or follower already there is
//! waited on, never made twice.

use super::TAG;
use super::db::Did;
use crate::aws::Aws;
use crate::kinds::KindError;
use crate::kinds::aws::is_gone;
use crate::kinds::opensearch::domain::endpoint_of;
use crate::kinds::opensearch::rest::Domain;
use crate::value::{Attrs, Value};
use aws_sdk_opensearch::types::{
    AdvancedSecurityOptionsInput, AwsDomainInformation, ClusterConfig, DomainInformationContainer, DomainStatus,
    Filter, MasterUserOptions, Tag, VpcOptions,
};
use hyper::Method;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const GONE: &[&str] = &["ResourceNotFoundException"];

type Progress<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// What to copy (from the drill's runbook step).
pub struct Copy<'a> {
    /// The standby follower's address in the state (its sign-in comes from
    /// the configuration's secrets, as in a failover) and domain name.
    pub via: &'a str,
    pub follower: &'a str,
    pub leader: &'a str,
    pub leader_region: &'a str,
    pub copy: &'a str,
    pub indices: &'a [String],
    /// Auto-follow rules: name and pattern.
    pub rules: &'a [(String, String)],
    pub drill: &'a str,
}

fn os_error<E: std::fmt::Debug>(call: &str, e: E) -> KindError {
    KindError::Failed(format!("{call}: {e:?}"))
}

pub(crate) async fn describe(aws: &Aws, region: &str, name: &str) -> Result<Option<DomainStatus>, KindError> {
    match aws.opensearch(region).await.describe_domain().domain_name(name).send().await {
        Ok(o) => Ok(o.domain_status().cloned().filter(|d| d.deleted() != Some(true))),
        Err(e) if is_gone(&e, GONE) => Ok(None),
        Err(e) => Err(os_error("DescribeDomain", e)),
    }
}

/// The copy's REST access: the follower's sign-in, the copy's endpoint.
pub fn rest(
    st: &crate::state::State,
    secrets: &BTreeMap<String, Attrs>,
    via: &str,
    endpoint: &str,
) -> Result<Domain, KindError> {
    let inst = crate::state::file::instance_addr(via)
        .and_then(|a| st.resources.get(&a))
        .ok_or_else(|| KindError::Failed(format!("{via} is not in the state")))?;
    let mut props = inst.attrs.clone();
    props.extend(secrets.get(via).cloned().unwrap_or_default());
    props.insert("domain_endpoint".into(), Value::str(endpoint));
    Domain::from_props(&props)
}

/// [`rest`] for the copy, once the domain that answers there says it is
/// the copy: an endpoint override (`endpoint_url`, the environment's, e.g. a
/// tunnel to a VPC domain) sends calls wherever it points, and the copy's
/// name, certificate and master user may all be those of production's
/// follower, whose replication a drill's stop would end for good. AWS's
/// `GET /` answers `cluster_name` as `<account id>:<domain name>`.
pub async fn copy_rest(
    st: &crate::state::State,
    secrets: &BTreeMap<String, Attrs>,
    via: &str,
    endpoint: &str,
    copy: &str,
) -> Result<Domain, KindError> {
    let d = rest(st, secrets, via, endpoint)?;
    let a = d.send("GET /", Method::GET, "/", None).await?;
    if !a.ok() {
        return Err(a.into_error("GET /"));
    }
    let name = a.body.get("cluster_name").and_then(serde_json::Value::as_str).unwrap_or_default();
    if !is_the_copy(name, copy) {
        return Err(KindError::Failed(format!(
            "the search domain answering for the copy {copy} is `{name}`, not the copy: an endpoint override \
             (endpoint_url or STANDBY_OPENSEARCH_ENDPOINT_URL, e.g. a tunnel) sends the copy's calls elsewhere; \
             the drill stops before any call to it. Point the override at the copy, or run the drill where the \
             copy's endpoint is reached directly"
        )));
    }
    Ok(d)
}

/// `cluster_name` (`<account id>:<domain name>`) names the copy.
fn is_the_copy(cluster_name: &str, copy: &str) -> bool {
    cluster_name.rsplit_once(':').map_or(cluster_name, |(_, n)| n) == copy
}

fn secret(secrets: &BTreeMap<String, Attrs>, via: &str, key: &str) -> Option<String> {
    secrets.get(via).and_then(|a| a.get(key)).and_then(Value::as_str).map(str::to_string)
}

/// Makes the copy and its replication (see the module's doc); returns
/// once every follower is past bootstrapping.
#[allow(clippy::too_many_arguments)]
pub async fn copy(
    aws: &Aws,
    region: &str,
    st: &crate::state::State,
    secrets: &BTreeMap<String, Attrs>,
    c: &Copy<'_>,
    timeout: Duration,
    progress: Progress<'_>,
) -> Result<Did, KindError> {
    let os = aws.opensearch(region).await;
    let mut ids = Vec::new();
    let t0 = Instant::now();
    if describe(aws, region, c.copy).await?.is_none() {
        let f = describe(aws, region, c.follower)
            .await?
            .ok_or_else(|| KindError::Failed(format!("the standby follower {} is not in {region}", c.follower)))?;
        let user = st
            .resources
            .iter()
            .find(|(a, _)| a.to_string() == c.via)
            .and_then(|(_, i)| i.attrs.get("master_user_name").and_then(Value::as_str).map(str::to_string))
            .or_else(|| secret(secrets, c.via, "master_user_name"))
            .ok_or_else(|| KindError::Failed(format!("{}: its master user is not known", c.via)))?;
        let password = secret(secrets, c.via, "master_user_password").ok_or_else(|| {
            KindError::Failed(format!("{}: the master user's password is not set in the configuration", c.via))
        })?;
        let cluster = f.cluster_config();
        let policy =
            f.access_policies().map(|p| p.replace(&format!("domain/{}", c.follower), &format!("domain/{}", c.copy)));
        // One node: a VPC domain keeps one of its subnets (more need zone awareness).
        let vpc = f.vpc_options().filter(|v| !v.subnet_ids().is_empty()).map(|v| {
            VpcOptions::builder()
                .subnet_ids(v.subnet_ids()[0].clone())
                .set_security_group_ids(Some(v.security_group_ids().to_vec()))
                .build()
        });
        let out = os
            .create_domain()
            .domain_name(c.copy)
            .set_engine_version(f.engine_version().map(str::to_string))
            .cluster_config(
                ClusterConfig::builder()
                    .set_instance_type(cluster.and_then(|x| x.instance_type().cloned()))
                    .instance_count(1)
                    .build(),
            )
            .set_ebs_options(f.ebs_options().cloned())
            .set_access_policies(policy)
            .set_node_to_node_encryption_options(f.node_to_node_encryption_options().cloned())
            .set_encryption_at_rest_options(f.encryption_at_rest_options().cloned())
            .set_domain_endpoint_options(f.domain_endpoint_options().cloned())
            .advanced_security_options(
                AdvancedSecurityOptionsInput::builder()
                    .enabled(true)
                    .internal_user_database_enabled(true)
                    .master_user_options(
                        MasterUserOptions::builder().master_user_name(user).master_user_password(password).build(),
                    )
                    .build(),
            )
            .set_vpc_options(vpc)
            .tag_list(Tag::builder().key(TAG).value(c.drill).build().map_err(|e| os_error("Tag", e))?)
            .tag_list(Tag::builder().key("Name").value(c.copy).build().map_err(|e| os_error("Tag", e))?)
            .send()
            .await
            .map_err(|e| os_error("CreateDomain", e))?;
        ids.extend(aws_sdk_opensearch::operation::RequestId::request_id(&out).map(str::to_string));
    }
    let endpoint = wait_for(timeout, progress, &format!("{} ready", c.copy), || async {
        Ok(describe(aws, region, c.copy)
            .await?
            .filter(|d| d.created() != Some(false) && d.processing() != Some(true))
            .and_then(|d| endpoint_of(&d).map(str::to_string)))
    })
    .await?;

    // The connection, from the copy to the leader, accepted on the leader's side.
    let conn = match connections(aws, region, c.copy).await?.into_iter().find(|(_, s)| !gone(s)) {
        Some((id, _)) => id,
        None => {
            let info = |name: &str, r: &str| {
                DomainInformationContainer::builder()
                    .aws_domain_information(
                        AwsDomainInformation::builder().domain_name(name).region(r).build().unwrap(),
                    )
                    .build()
            };
            let out = os
                .create_outbound_connection()
                .local_domain_info(info(c.copy, region))
                .remote_domain_info(info(c.leader, c.leader_region))
                .connection_alias(c.copy)
                .send()
                .await
                .map_err(|e| os_error("CreateOutboundConnection", e))?;
            out.connection_id().unwrap_or_default().to_string()
        }
    };
    let leader = aws.opensearch(c.leader_region).await;
    wait_for(timeout, progress, &format!("the connection {conn} active"), || async {
        let inbound = leader
            .describe_inbound_connections()
            .filters(Filter::builder().name("connection-id").values(&conn).build())
            .send()
            .await
            .map_err(|e| os_error("DescribeInboundConnections", e))?;
        let status = inbound
            .connections()
            .first()
            .and_then(|x| x.connection_status())
            .and_then(|s| s.status_code())
            .map(|s| s.as_str().to_string());
        if status.as_deref() == Some("PENDING_ACCEPTANCE") {
            leader
                .accept_inbound_connection()
                .connection_id(&conn)
                .send()
                .await
                .map_err(|e| os_error("AcceptInboundConnection", e))?;
        }
        let mine = connections(aws, region, c.copy).await?;
        Ok(mine.into_iter().find(|(id, s)| id == &conn && s == "ACTIVE").map(|_| ()))
    })
    .await?;

    // Replication, on the copy's REST API as the master user (mapped to
    // all_access on every domain, the leader included).
    let d = copy_rest(st, secrets, c.via, &endpoint, c.copy).await?;
    let roles = json!({"leader_cluster_role": "all_access", "follower_cluster_role": "all_access"});
    for index in c.indices {
        if status(&d, index).await?.is_none() {
            let body = json!({"leader_alias": c.copy, "leader_index": index, "use_roles": roles});
            let a = d
                .send(
                    "PUT _plugins/_replication/{index}/_start",
                    Method::PUT,
                    &format!("/_plugins/_replication/{index}/_start"),
                    Some(body),
                )
                .await?;
            if !a.ok() && a.status.as_u16() != 404 {
                return Err(a.into_error("PUT _plugins/_replication/{index}/_start"));
            }
        }
    }
    for (name, pattern) in c.rules {
        let body = json!({"leader_alias": c.copy, "name": name, "pattern": pattern, "use_roles": roles});
        let a = d
            .send(
                "POST _plugins/_replication/_autofollow",
                Method::POST,
                "/_plugins/_replication/_autofollow",
                Some(body),
            )
            .await?;
        if !a.ok() && !a.reason().contains("already exists") {
            return Err(a.into_error("POST _plugins/_replication/_autofollow"));
        }
    }
    for index in c.indices {
        wait_for(timeout, progress, &format!("{index} following"), || async {
            Ok(status(&d, index).await?.filter(|s| s == "SYNCING" || s == "PAUSED").map(|_| ()))
        })
        .await?;
    }
    Ok(Did {
        outcome: format!(
            "{}: a third follower of {} ({}), connection {conn} accepted on the leader's side, {} index(es) and {} \
             rule(s) followed [{}s]",
            c.copy,
            c.leader,
            c.leader_region,
            c.indices.len(),
            c.rules.len(),
            t0.elapsed().as_secs()
        ),
        request_ids: ids,
        moment: None,
    })
}

/// Mattermost's own search user on the copy, as the standby follower has
/// it: the `opensearch_internal_user` of that name the state holds on the
/// follower (its password the configuration's, never printed or stored),
/// the `opensearch_role` its `opensearch_role_mapping` names, and that
/// mapping. Written on the copy only, signed in as the copy's master user
/// once [`copy_rest`] has checked the domain is the copy; each looked at
/// first, so a step resumed after a PUT that took effect writes nothing
/// again (the plugin's PUT "creates or replaces": a user found is the
/// drill's own, made by this step). The outcome line.
pub async fn mattermost_user(
    st: &crate::state::State,
    secrets: &BTreeMap<String, Attrs>,
    via: &str,
    endpoint: &str,
    copy: &str,
    user: &str,
) -> Result<String, KindError> {
    use crate::kinds::opensearch::security;
    let s = |a: &Attrs, k: &str| a.get(k).and_then(Value::as_str).map(str::to_string);
    let domain = crate::state::file::instance_addr(via)
        .and_then(|a| st.resources.get(&a))
        .ok_or_else(|| KindError::Failed(format!("{via} is not in the state")))?;
    let on_follower = |t: &'static str| {
        st.resources.iter().filter(move |(_, i)| {
            i.type_name == t
                && i.region == domain.region
                && (s(&i.attrs, "domain_endpoint").is_none()
                    || s(&domain.attrs, "endpoint").is_none()
                    || s(&i.attrs, "domain_endpoint") == s(&domain.attrs, "endpoint"))
        })
    };
    let (addr, u) = on_follower("opensearch_internal_user")
        .find(|(_, i)| s(&i.attrs, "user_name").as_deref() == Some(user))
        .ok_or_else(|| {
            KindError::Failed(format!(
                "the state holds no opensearch_internal_user `{user}` on the standby follower ({via}): Mattermost's                  search user is not known"
            ))
        })?;
    let password = secrets.get(&addr.to_string()).and_then(|a| s(a, "password")).ok_or_else(|| {
        KindError::Failed(format!("{addr}: its password is not set in the configuration (the value is not shown)"))
    })?;
    let has_user = |i: &crate::state::Instance| matches!(i.attrs.get("users"), Some(Value::List(l)) if l.iter().any(|v| v.as_str() == Some(user)));
    let (_, mapping) = on_follower("opensearch_role_mapping").find(|(_, i)| has_user(i)).ok_or_else(|| {
        KindError::Failed(format!("the state maps `{user}` to no role on the standby follower ({via})"))
    })?;
    let role_name = s(&mapping.attrs, "role_name")
        .ok_or_else(|| KindError::Failed(format!("the role mapping of `{user}` names no role")))?;
    let (_, role) = on_follower("opensearch_role")
        .find(|(_, i)| s(&i.attrs, "role_name").as_deref() == Some(role_name.as_str()))
        .ok_or_else(|| KindError::Failed(format!("the state holds no role `{role_name}` on the standby follower")))?;

    let d = copy_rest(st, secrets, via, endpoint, copy).await?;
    let mut made = Vec::new();
    let role_body = json!({
        "cluster_permissions": security::list_json(&role.attrs, "cluster_permissions"),
        "index_permissions": security::list_json(&role.attrs, "index_permissions"),
        "tenant_permissions": security::list_json(&role.attrs, "tenant_permissions"),
    });
    if security::get(&d, "roles", &role_name, "GET _plugins/_security/api/roles/{name}").await?.is_none() {
        security::put(&d, "roles", &role_name, role_body, "PUT _plugins/_security/api/roles/{name}").await?;
        made.push(format!("role {role_name}"));
    }
    if security::get(&d, "internalusers", user, "GET _plugins/_security/api/internalusers/{name}").await?.is_none() {
        let body = json!({
            "password": password,
            "backend_roles": security::list_json(&u.attrs, "backend_roles"),
            "attributes": security::map_json(&u.attrs, "attributes"),
        });
        security::put(&d, "internalusers", user, body, "PUT _plugins/_security/api/internalusers/{name}").await?;
        made.push(format!("user {user}"));
    }
    let mapped = security::get(&d, "rolesmapping", &role_name, "GET _plugins/_security/api/rolesmapping/{name}")
        .await?
        .and_then(|m| m.get("users").cloned())
        .is_some_and(|l| l.as_array().is_some_and(|l| l.iter().any(|v| v.as_str() == Some(user))));
    if !mapped {
        let body = json!({
            "users": security::list_json(&mapping.attrs, "users"),
            "backend_roles": security::list_json(&mapping.attrs, "backend_roles"),
        });
        security::put(&d, "rolesmapping", &role_name, body, "PUT _plugins/_security/api/rolesmapping/{name}").await?;
        made.push(format!("{user} mapped to {role_name}"));
    }
    Ok(if made.is_empty() {
        format!("Mattermost's search user {user} already on {copy}")
    } else {
        format!("Mattermost's search user on {copy}: {}", made.join(", "))
    })
}

/// The copy's endpoint, if it is there.
pub async fn endpoint(aws: &Aws, region: &str, copy: &str) -> Result<Option<String>, KindError> {
    Ok(describe(aws, region, copy).await?.and_then(|d| endpoint_of(&d).map(str::to_string)))
}

/// A follower's replication status, `None` when the index is not followed.
async fn status(d: &Domain, index: &str) -> Result<Option<String>, KindError> {
    let a = d
        .send(
            "GET _plugins/_replication/{index}/_status",
            Method::GET,
            &format!("/_plugins/_replication/{index}/_status"),
            None,
        )
        .await?;
    if !a.ok() {
        return Ok(None);
    }
    Ok(a.body
        .get("status")
        .and_then(|s| s.as_str())
        .filter(|s| *s != "REPLICATION NOT IN PROGRESS")
        .map(str::to_string))
}

fn gone(status: &str) -> bool {
    matches!(status, "DELETING" | "DELETED" | "REJECTED" | "REJECTING" | "VALIDATION_FAILED")
}

/// The copy's outbound connections: id and status.
async fn connections(aws: &Aws, region: &str, copy: &str) -> Result<Vec<(String, String)>, KindError> {
    let out = aws
        .opensearch(region)
        .await
        .describe_outbound_connections()
        .filters(Filter::builder().name("local-domain-info.domain-name").values(copy).build())
        .send()
        .await
        .map_err(|e| os_error("DescribeOutboundConnections", e))?;
    Ok(out
        .connections()
        .iter()
        .map(|x| {
            (
                x.connection_id().unwrap_or_default().to_string(),
                x.connection_status().and_then(|s| s.status_code()).map(|s| s.as_str().to_string()).unwrap_or_default(),
            )
        })
        .collect())
}

/// Deletes the copies' connections (from their side), then the copies.
pub async fn delete(
    aws: &Aws,
    region: &str,
    domains: &[String],
    timeout: Duration,
    progress: Progress<'_>,
) -> Result<Did, KindError> {
    let os = aws.opensearch(region).await;
    let mut ids = Vec::new();
    let mut deleted = Vec::new();
    for name in domains {
        for (id, s) in connections(aws, region, name).await? {
            if !gone(&s) {
                let out = os.delete_outbound_connection().connection_id(&id).send().await;
                match out {
                    Ok(o) => ids.extend(aws_sdk_opensearch::operation::RequestId::request_id(&o).map(str::to_string)),
                    Err(e) if is_gone(&e, GONE) => {}
                    Err(e) => return Err(os_error("DeleteOutboundConnection", e)),
                }
            }
        }
        wait_for(timeout, progress, &format!("{name}'s connections deleted"), || async {
            Ok(connections(aws, region, name).await?.iter().all(|(_, s)| s == "DELETED").then_some(()))
        })
        .await?;
        if describe(aws, region, name).await?.is_some() {
            match os.delete_domain().domain_name(name).send().await {
                Ok(o) => {
                    ids.extend(aws_sdk_opensearch::operation::RequestId::request_id(&o).map(str::to_string));
                    deleted.push(name.clone());
                }
                Err(e) if is_gone(&e, GONE) => {}
                Err(e) => return Err(os_error("DeleteDomain", e)),
            }
        }
        wait_for(timeout, progress, &format!("{name} deleted"), || async {
            Ok(describe(aws, region, name).await?.is_none().then_some(()))
        })
        .await?;
    }
    Ok(Did {
        outcome: if deleted.is_empty() {
            "no search copy left".into()
        } else {
            format!("search copy deleted: {}", deleted.join(", "))
        },
        request_ids: ids,
        moment: None,
    })
}

/// Polls `look` (at once, then with backoff up to 15 s) until it gives a value.
async fn wait_for<T, F, Fut>(timeout: Duration, progress: Progress<'_>, what: &str, look: F) -> Result<T, KindError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, KindError>>,
{
    let start = Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut said = Instant::now();
    loop {
        if let Some(v) = look().await? {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            return Err(KindError::Failed(format!("timed out waiting for {what}")));
        }
        if said.elapsed() > Duration::from_secs(30) {
            progress(&format!("    waiting for {what} [{}s]", start.elapsed().as_secs()));
            said = Instant::now();
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(15));
    }
}

#[cfg(test)]
mod tests {
    use super::is_the_copy;

    #[test]
    fn only_the_copy_is_the_copy() {
        assert!(is_the_copy("123456789012:mm-drill-ab12", "mm-drill-ab12"));
        assert!(!is_the_copy("123456789012:mm-search-us-east-1", "mm-drill-ab12"));
        assert!(!is_the_copy("", "mm-drill-ab12"));
    }
}
