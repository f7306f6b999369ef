//! `aws_opensearch_inbound_connection_accepter`: the leader's acceptance of a
//! cross-cluster connection, in the leader's region. id = connection id.
//!
//! Create accepts (unless already accepted) and waits until the connection
//! is ACTIVE. Destroy deletes the connection from the leader's side. The
//! connection cannot change: a new id replaces the acceptance.

use super::os_error;
use crate::kinds::aws::{get_str, is_gone, req_str};
use crate::kinds::rds::poll;
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_opensearch::types::{Filter, InboundConnection, InboundConnectionStatusCode as Code};

pub struct OpenSearchInboundConnectionAccepter;

/// How long a new connection may take to become visible in the leader's region.
const PROPAGATION: std::time::Duration = std::time::Duration::from_secs(120);

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required(
            "connection_id",
            Type::String,
            "The connection to accept (`${aws_opensearch_outbound_connection.<name>.connection_id}`).",
        )
        .force_new(),
        Prop::computed("connection_status", Type::String, "ACTIVE once accepted and provisioned."),
    ],
};

/// States after which the connection is no more.
const ENDED: &[&str] = &["DELETED", "DELETING", "REJECTED", "REJECTING"];

async fn describe(cx: &Ctx<'_>, id: &str) -> Result<Option<InboundConnection>, KindError> {
    let filter = Filter::builder().name("connection-id").values(id).build();
    let out = cx
        .aws
        .opensearch(cx.region)
        .await
        .describe_inbound_connections()
        .filters(filter)
        .send()
        .await
        .map_err(|e| os_error("DescribeInboundConnections", e))?;
    Ok(out.connections().iter().find(|c| c.connection_id() == Some(id)).cloned())
}

fn status(c: &InboundConnection) -> (&str, &str) {
    let s = c.connection_status();
    (s.and_then(|s| s.status_code()).map(Code::as_str).unwrap_or("UNKNOWN"), s.and_then(|s| s.message()).unwrap_or(""))
}

#[async_trait]
impl Kind for OpenSearchInboundConnectionAccepter {
    fn type_name(&self) -> &'static str {
        "aws_opensearch_inbound_connection_accepter"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn id_hint(&self, desired: &Attrs) -> Option<String> {
        get_str(desired, "connection_id").map(str::to_string)
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let id = req_str(desired, "connection_id")?;
        // A new connection takes a while to reach the leader's region: wait
        // for it (bounded), then say where to look.
        let started = std::time::Instant::now();
        let seen = poll(|| async {
            match describe(cx, id).await? {
                Some(c) => Ok(Some(Some(c))),
                None if started.elapsed() >= PROPAGATION => Ok(Some(None)),
                None => Ok(None),
            }
        })
        .await?;
        // Already accepted (an interrupted apply): nothing to do but wait.
        let pending = match seen {
            Some(c) => status(&c).0 == "PENDING_ACCEPTANCE",
            None => {
                return Err(KindError::Failed(format!(
                    "connection {id} is not visible in {} after {}s: the accepter must be in the leader domain's \
                     region",
                    cx.region,
                    PROPAGATION.as_secs()
                )));
            }
        };
        if pending {
            cx.aws
                .opensearch(cx.region)
                .await
                .accept_inbound_connection()
                .connection_id(id)
                .send()
                .await
                .map_err(|e| os_error("AcceptInboundConnection", e))?;
        }
        Ok(Created { id: id.to_string(), attrs: desired.clone() })
    }

    /// Ready when ACTIVE; rejected or deleted meanwhile is an error.
    async fn wait_ready(&self, cx: &Ctx<'_>, id: &str) -> Result<(), KindError> {
        poll(|| async {
            let Some(c) = describe(cx, id).await? else { return Ok(None) };
            match status(&c) {
                ("ACTIVE", _) => Ok(Some(())),
                ("PENDING_ACCEPTANCE" | "APPROVED" | "PROVISIONING", _) => Ok(None),
                (s, msg) => Err(KindError::Failed(format!("connection {id} is {s} {msg}"))),
            }
        })
        .await
    }

    // read: 1 call (DescribeInboundConnections, filtered by connection id).
    async fn read(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let Some(c) = describe(cx, id).await? else { return Ok(None) };
        let (s, _) = status(&c);
        // Not accepted (yet, or any more): the acceptance is to be made.
        if ENDED.contains(&s) || s == "PENDING_ACCEPTANCE" {
            return Ok(None);
        }
        Ok(Some(
            [("connection_id".to_string(), Value::str(id)), ("connection_status".to_string(), Value::str(s))].into(),
        ))
    }

    async fn update(&self, _cx: &Ctx<'_>, _id: &str, _prior: &Attrs, _desired: &Attrs) -> Result<(), KindError> {
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        let os = cx.aws.opensearch(cx.region).await;
        match os.delete_inbound_connection().connection_id(id).send().await {
            Ok(_) => {}
            Err(e) if is_gone(&e, &["ResourceNotFoundException"]) => return Ok(()),
            Err(e) => return Err(os_error("DeleteInboundConnection", e)),
        }
        poll(|| async { Ok(describe(cx, id).await?.is_none_or(|c| ENDED.contains(&status(&c).0)).then_some(())) }).await
    }
}
