//! `aws_opensearch_domain_policy`: a domain's resource-based access policy.
//! id = domain name.
//!
//! By default the document is the one cross-cluster replication needs, for
//! the domain's own account only (least privilege, where the AWS and
//! Mattermost guides show `Principal: *`):
//! `es:ESHttp*` on `domain/<name>/*` and `es:ESCrossClusterGet` on
//! `domain/<name>`. `principals` widens or narrows who is allowed;
//! `access_policies` replaces the whole document. A `*` principal is allowed,
//! with a warning in the plan. Documents compare semantically.

use super::os_error;
use crate::kinds::aws::policy;
use crate::kinds::aws::{get_str, is_gone, req_str};
use crate::kinds::rds::poll;
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use serde_json::json;

pub struct OpenSearchDomainPolicy;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("domain_arn", Type::String, "The domain's ARN (`${aws_opensearch_domain.<name>.arn}`).")
            .force_new(),
        Prop::optional(
            "principals",
            Type::List(&Type::String),
            "AWS principals allowed by the standard document (default: the domain's account, \
             `arn:aws:iam::<account>:root`). `*` allows anyone (the plan warns).",
        ),
        Prop::optional(
            "access_policies",
            Type::Json,
            "A whole policy document instead of the standard one (compared semantically).",
        ),
        Prop::computed("domain_name", Type::String, "The domain's name."),
    ],
};

const GONE: &[&str] = &["ResourceNotFoundException"];

/// (region, account, domain name) of an OpenSearch domain ARN
/// (`arn:aws:es:<region>:<account>:domain/<name>`).
pub fn parse_domain_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (_arn, _partition, service, region, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let name = resource.strip_prefix("domain/")?;
    (service == "es" && !name.is_empty()).then_some((region, account, name))
}

/// The standard document: HTTP access to the indices and the cross-cluster
/// read the follower needs, for `principals` (default: the account).
pub fn standard_document(domain_arn: &str, principals: Option<&[Value]>) -> Option<Value> {
    let (_, account, _) = parse_domain_arn(domain_arn)?;
    let principals: Vec<String> = match principals {
        Some(list) => list.iter().map(|p| p.as_str().map(str::to_string)).collect::<Option<_>>()?,
        None => vec![format!("arn:aws:iam::{account}:root")],
    };
    let doc = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": principals}, "Action": "es:ESHttp*", "Resource": format!("{domain_arn}/*")},
            {"Effect": "Allow", "Principal": {"AWS": principals}, "Action": "es:ESCrossClusterGet", "Resource": domain_arn},
        ],
    });
    Some(Value::from_json(&doc))
}

/// The document to apply: as given, or the standard one.
fn document(p: &Attrs) -> Option<Value> {
    match p.get("access_policies") {
        Some(doc) => Some(doc.clone()),
        None => {
            let arn = get_str(p, "domain_arn")?;
            standard_document(arn, p.get("principals").and_then(Value::as_list))
        }
    }
}

/// True when a document lets anyone in (`Principal: *` or `{"AWS": "*"}`).
fn allows_anyone(doc: &Value) -> bool {
    let is_star = |v: &Value| match v {
        Value::String(s) => s == "*",
        Value::List(l) => l.iter().any(|i| i.as_str() == Some("*")),
        _ => false,
    };
    let statements = match policy::normalize(doc) {
        Value::Map(m) => m.get("Statement").and_then(Value::as_list).map(<[Value]>::to_vec).unwrap_or_default(),
        _ => Vec::new(),
    };
    statements.iter().filter_map(Value::as_map).any(|s| {
        s.get("Effect").and_then(Value::as_str) != Some("Deny")
            && match s.get("Principal") {
                Some(Value::Map(p)) => p.values().any(is_star),
                Some(other) => is_star(other),
                None => false,
            }
    })
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
        if props.contains_key("principals") && props.contains_key("access_policies") {
            out.push(PropProblem::error(
                "access_policies",
                "give `principals` (for the standard document) or a whole `access_policies` document, not both",
            ));
        }
        if let Some(arn) = get_str(props, "domain_arn")
            && parse_domain_arn(arn).is_none()
        {
            out.push(PropProblem::error("domain_arn", format!("{arn:?} is not an OpenSearch domain ARN")));
        }
        let star_principal =
            props.get("principals").and_then(Value::as_list).is_some_and(|l| l.iter().any(|p| p.as_str() == Some("*")));
        let star_doc = props.get("access_policies").is_some_and(allows_anyone);
        if star_principal || star_doc {
            out.push(PropProblem::warning(
                if star_principal { "principals" } else { "access_policies" },
                "`Principal: *` lets any AWS account call this domain (fine-grained access control still asks for \
                 the master user); standby's default is the domain's own account",
            ));
        }
        out
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match prop {
            "access_policies" => policy::normalize(v),
            _ => v.clone(),
        }
    }

    /// The document to compare with what AWS reports: the standard one is
    /// known once the domain's ARN is.
    fn derive(&self, planned: &mut Attrs) {
        if !planned.contains_key("access_policies") {
            let v = match planned.get("domain_arn") {
                Some(Value::String(_)) => document(planned).unwrap_or(Value::Unknown),
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

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let arn = req_str(desired, "domain_arn")?;
        let (_, _, name) = parse_domain_arn(arn).ok_or_else(|| KindError::Failed(format!("bad domain ARN {arn:?}")))?;
        let doc = document(desired).ok_or_else(|| KindError::Failed("the policy document is not known".into()))?;
        put_policy(cx, name, &policy::to_json_string(&doc)).await?;
        let mut attrs = desired.clone();
        self.derive(&mut attrs);
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
        if let Some(p) = prior.get("principals") {
            a.insert("principals".into(), p.clone());
        }
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let doc = document(desired).ok_or_else(|| KindError::Failed("the policy document is not known".into()))?;
        put_policy(cx, id, &policy::to_json_string(&doc)).await
    }

    /// An empty policy, as AWS has for a new domain.
    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        match put_policy(cx, id, "").await {
            Err(KindError::Aws { code, .. }) if GONE.contains(&code.as_str()) => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:es:us-west-1:123456789012:domain/mm-search";

    #[test]
    fn the_standard_document_is_least_privilege() {
        let doc = standard_document(ARN, None).unwrap().to_json();
        let text = doc.to_string();
        assert!(text.contains("arn:aws:iam::123456789012:root"), "{text}");
        assert!(!text.contains("\"*\""), "{text}");
        assert_eq!(doc["Statement"][0]["Resource"], json!(format!("{ARN}/*")));
        assert_eq!(doc["Statement"][1]["Action"], json!("es:ESCrossClusterGet"));
        assert_eq!(doc["Statement"][1]["Resource"], json!(ARN));
        assert_eq!(parse_domain_arn(ARN), Some(("us-west-1", "123456789012", "mm-search")));
    }

    #[test]
    fn anyone_is_a_warning_not_an_error() {
        let p: Attrs = [
            ("domain_arn".to_string(), Value::str(ARN)),
            ("principals".to_string(), Value::List(vec![Value::str("*")])),
        ]
        .into();
        let probs = OpenSearchDomainPolicy.validate(&p);
        assert_eq!(probs.len(), 1);
        assert!(probs[0].warning);
        let doc = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"es:*","Resource":"*"}]}"#;
        let p: Attrs =
            [("domain_arn".to_string(), Value::str(ARN)), ("access_policies".to_string(), Value::str(doc))].into();
        assert!(OpenSearchDomainPolicy.validate(&p)[0].warning);
        assert!(!allows_anyone(&standard_document(ARN, None).unwrap()));
    }

    #[test]
    fn derive_builds_the_document_once_the_arn_is_known() {
        let mut p: Attrs = [("domain_arn".to_string(), Value::Unknown)].into();
        OpenSearchDomainPolicy.derive(&mut p);
        assert_eq!(p["access_policies"], Value::Unknown);
        let mut p: Attrs = [("domain_arn".to_string(), Value::str(ARN))].into();
        OpenSearchDomainPolicy.derive(&mut p);
        assert_eq!(p["domain_name"], Value::str("mm-search"));
        assert_eq!(
            OpenSearchDomainPolicy.normalize("access_policies", &p["access_policies"]),
            OpenSearchDomainPolicy
                .normalize("access_policies", &Value::str(standard_document(ARN, None).unwrap().to_json().to_string()))
        );
    }
}
