//! `aws_lb_listener`: what a load balancer listens on, forwarding to a
//! target group. HTTPS needs a certificate (ACM) ARN; plain HTTP is allowed
//! (for demos) with a plan warning. id = its ARN.

use crate::kinds::aws::{aws_error, get_i64, get_str, is_gone, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, Certificate, Listener, ProtocolEnum};

pub struct LbListener;

const GONE: &[&str] = &["ListenerNotFound", "LoadBalancerNotFound"];
/// TLS 1.3 and 1.2 only (AWS's recommended policy).
const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("load_balancer_arn", Type::String, "The load balancer.").force_new(),
        Prop::required("port", Type::Number, "Port (443 for HTTPS)."),
        Prop::required("protocol", Type::String, "`HTTPS` (with `certificate_arn`) or `HTTP` (demos only)."),
        Prop::optional("certificate_arn", Type::String, "ACM certificate for HTTPS, in the load balancer's region."),
        Prop::optional(
            "ssl_policy",
            Type::String,
            "TLS policy for HTTPS (default ELBSecurityPolicy-TLS13-1-2-2021-06).",
        ),
        Prop::required("default_target_group_arn", Type::String, "Target group all requests are forwarded to."),
        Prop::computed("arn", Type::String, "Listener ARN."),
    ],
};

fn https(props: &Attrs) -> bool {
    get_str(props, "protocol") == Some("HTTPS")
}

fn forward(props: &Attrs) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .set_target_group_arn(get_str(props, "default_target_group_arn").map(str::to_string))
        .build()
}

fn attrs_of(l: &Listener) -> Attrs {
    let mut a = Attrs::new();
    a.insert("load_balancer_arn".into(), Value::str(l.load_balancer_arn().unwrap_or_default()));
    a.insert("port".into(), Value::int(l.port().unwrap_or_default().into()));
    let protocol = l.protocol().map(|p| p.as_str()).unwrap_or_default();
    a.insert("protocol".into(), Value::str(protocol));
    if protocol == "HTTPS" {
        if let Some(c) = l.certificates().first().and_then(|c| c.certificate_arn()) {
            a.insert("certificate_arn".into(), Value::str(c));
        }
        if let Some(p) = l.ssl_policy() {
            a.insert("ssl_policy".into(), Value::str(p));
        }
    }
    let tg = l
        .default_actions()
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .and_then(|a| a.target_group_arn());
    if let Some(tg) = tg {
        a.insert("default_target_group_arn".into(), Value::str(tg));
    }
    a.insert("arn".into(), Value::str(l.listener_arn().unwrap_or_default()));
    a
}

#[async_trait]
impl Kind for LbListener {
    fn type_name(&self) -> &'static str {
        "aws_lb_listener"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        match get_str(props, "protocol") {
            Some("HTTPS") if props.get("certificate_arn").is_none_or(Value::is_null) => {
                out.push(PropProblem::error("protocol", "HTTPS needs `certificate_arn` (an ACM certificate in this region)"))
            }
            Some("HTTP") => out.push(PropProblem::warning(
                "protocol",
                "plain HTTP: passwords and session tokens cross the network in clear; use HTTPS with an ACM certificate \
                 (acceptable for a demo only)",
            )),
            Some("HTTPS") | None => {}
            Some(p) => out.push(PropProblem::error("protocol", format!("`{p}`: an application load balancer listens on HTTP or HTTPS"))),
        }
        if !https(props) && get_str(props, "certificate_arn").is_some() {
            out.push(PropProblem::error("certificate_arn", "only HTTPS listeners take a certificate"));
        }
        if let Some(p) = get_i64(props, "port")
            && !(1..=65535).contains(&p)
        {
            out.push(PropProblem::error("port", "must be 1–65535"));
        }
        out
    }

    fn derive(&self, planned: &mut Attrs) {
        if https(planned) {
            planned.entry("ssl_policy".into()).or_insert_with(|| Value::str(DEFAULT_SSL_POLICY));
        }
    }

    fn finds_by_natural_key(&self) -> bool {
        true
    }

    // 1 call (DescribeListeners of the load balancer; one listener per port).
    async fn find(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Option<String>, KindError> {
        let lb = req_str(desired, "load_balancer_arn")?;
        let out = match cx.aws.elbv2(cx.region).await.describe_listeners().load_balancer_arn(lb).send().await {
            Ok(out) => out,
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(aws_error("DescribeListeners", e)),
        };
        let port = get_i64(desired, "port").unwrap_or_default();
        Ok(out
            .listeners()
            .iter()
            .find(|l| l.port().map(i64::from) == Some(port))
            .and_then(|l| l.listener_arn())
            .map(str::to_string))
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let mut attrs = desired.clone();
        self.derive(&mut attrs);
        let cert = get_str(desired, "certificate_arn").map(|c| vec![Certificate::builder().certificate_arn(c).build()]);
        let out = cx
            .aws
            .elbv2(cx.region)
            .await
            .create_listener()
            .load_balancer_arn(req_str(desired, "load_balancer_arn")?)
            .port(get_i64(desired, "port").unwrap_or_default() as i32)
            .protocol(ProtocolEnum::from(req_str(desired, "protocol")?))
            .set_certificates(cert)
            .set_ssl_policy(get_str(&attrs, "ssl_policy").map(str::to_string))
            .default_actions(forward(desired))
            .send()
            .await
            .map_err(|e| aws_error("CreateListener", e))?;
        let Some(l) = out.listeners().first() else { return Err(KindError::Failed("AWS returned no listener".into())) };
        Ok(Created { id: l.listener_arn().unwrap_or_default().to_string(), attrs })
    }

    // read: 1 call (DescribeListeners by ARN).
    async fn read(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        match cx.aws.elbv2(cx.region).await.describe_listeners().listener_arns(id).send().await {
            Ok(out) => Ok(out.listeners().iter().find(|l| l.listener_arn() == Some(id)).map(attrs_of)),
            Err(e) if is_gone(&e, GONE) => Ok(None),
            Err(e) => Err(aws_error("DescribeListeners", e)),
        }
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let mut d = desired.clone();
        self.derive(&mut d);
        let cert = get_str(&d, "certificate_arn").map(|c| vec![Certificate::builder().certificate_arn(c).build()]);
        // ModifyListener sets what it is given: safe to repeat.
        cx.aws
            .elbv2(cx.region)
            .await
            .modify_listener()
            .listener_arn(id)
            .port(get_i64(&d, "port").unwrap_or_default() as i32)
            .protocol(ProtocolEnum::from(req_str(&d, "protocol")?))
            .set_certificates(cert)
            .set_ssl_policy(get_str(&d, "ssl_policy").map(str::to_string))
            .default_actions(forward(&d))
            .send()
            .await
            .map_err(|e| aws_error("ModifyListener", e))?;
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        match cx.aws.elbv2(cx.region).await.delete_listener().listener_arn(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_gone(&e, GONE) => Ok(()),
            Err(e) => Err(aws_error("DeleteListener", e)),
        }
    }
}
