//! A minimal client for an OpenSearch domain's own REST API (the
//! cross-cluster-replication plugin), authenticated with the domain's
//! internal master user (HTTP basic auth, as fine-grained access control
//! expects).
//!
//! Where requests go, first match wins:
//! 1. the resource's `endpoint_url` property,
//! 2. `STANDBY_OPENSEARCH_ENDPOINT_URL`,
//! 3. `https://<domain endpoint>`.
//!
//! With 1 or 2 standby connects to that URL and sends the domain endpoint as
//! the `Host` header: the way to reach a VPC domain through a proxy or an
//! SSH tunnel, a custom endpoint, or the local emulator. Over `https://`, TLS
//! is as with the domain itself: the domain endpoint is sent as SNI and the
//! certificate must be valid for it (the domain presents
//! `*.<region>.es.amazonaws.com`, not the tunnel's `127.0.0.1`), against the
//! system's root certificates plus any in `STANDBY_OPENSEARCH_CA_BUNDLE` (a
//! PEM file, e.g. a TLS-inspecting proxy's CA).

use crate::kinds::KindError;
use crate::kinds::aws::get_str;
use crate::value::Attrs;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, header};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// `STANDBY_OPENSEARCH_ENDPOINT_URL`: send domain REST calls here (with the
/// domain endpoint as `Host`) instead of `https://<domain endpoint>`.
pub const ENV_ENDPOINT_URL: &str = "STANDBY_OPENSEARCH_ENDPOINT_URL";

/// `STANDBY_OPENSEARCH_CA_BUNDLE`: a PEM file of certificates to trust
/// besides the system's roots for domain REST calls.
pub const ENV_CA_BUNDLE: &str = "STANDBY_OPENSEARCH_CA_BUNDLE";

/// How long one REST call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The roots TLS is verified against: the system's, and the CA bundle's.
pub(crate) fn roots() -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    // No system roots (a minimal container): HTTPS then fails at connect
    // time with a certificate error, plain HTTP still works.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = std::env::var_os(ENV_CA_BUNDLE).filter(|p| !p.is_empty()) {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let shown = std::path::Path::new(&path).display().to_string();
        let certs: Vec<_> = CertificateDer::pem_file_iter(&path)
            .map_err(|e| format!("{ENV_CA_BUNDLE}={shown}: {e}"))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{ENV_CA_BUNDLE}={shown}: {e}"))?;
        if certs.is_empty() {
            return Err(format!("{ENV_CA_BUNDLE}={shown}: no PEM certificate in it"));
        }
        let (_, bad) = roots.add_parsable_certificates(certs);
        if bad > 0 {
            return Err(format!("{ENV_CA_BUNDLE}={shown}: {bad} certificate(s) could not be used"));
        }
    }
    Ok(roots)
}

/// A client whose TLS names `server_name` (SNI and verification) whatever
/// host it connects to; `None`: the URL's host. One per name, reused.
fn client(server_name: Option<&str>) -> Result<HttpClient, String> {
    static CLIENTS: OnceLock<Mutex<HashMap<Option<String>, HttpClient>>> = OnceLock::new();
    let clients = CLIENTS.get_or_init(Default::default);
    let key = server_name.map(str::to_string);
    if let Some(c) = clients.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(c.clone());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots()?)
        .with_no_client_auth();
    let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http();
    let builder = match server_name {
        Some(name) => {
            let name = rustls::pki_types::ServerName::try_from(name.to_string())
                .map_err(|e| format!("{name:?} is not a TLS server name: {e}"))?;
            builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
        }
        None => builder,
    };
    let connector = builder.enable_http1().build();
    let c: HttpClient = Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
    clients.lock().unwrap_or_else(|e| e.into_inner()).insert(key, c.clone());
    Ok(c)
}

/// One domain's REST API, as a resource reaches it.
pub struct Domain {
    /// Scheme, host and port connected to, without a trailing slash.
    base: String,
    /// The domain endpoint, sent as `Host`.
    host: String,
    auth: String,
    /// The name TLS verifies when connecting elsewhere than the domain.
    tls_name: Option<String>,
}

/// An answer: status and JSON body (`Null` when empty or not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub body: Json,
}

/// The domain's name for TLS when `base` is an HTTPS URL to another host
/// (a tunnel, a proxy); `None` otherwise.
pub fn tls_name(base: &str, domain_endpoint: &str) -> Option<String> {
    let rest = base.strip_prefix("https://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    (!host.eq_ignore_ascii_case(domain_endpoint)).then(|| domain_endpoint.to_string())
}

/// Whether `url` sends credentials in clear to another machine: plain
/// `http://` to a host that is not loopback (the local emulator, a tunnel's
/// local end are).
pub fn in_clear(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let loopback = host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        || host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost");
    !loopback
}

/// A plan warning for an `endpoint_url` that sends the user's password
/// (basic auth) in clear.
pub fn plain_http(props: &Attrs) -> Option<crate::kinds::PropProblem> {
    let url = get_str(props, "endpoint_url")?;
    in_clear(url).then(|| {
        crate::kinds::PropProblem::warning(
            "endpoint_url",
            format!(
                "{url} is plain HTTP to another machine: the user's password (basic auth) travels in clear; use \
                 https://, or a tunnel whose local end is loopback"
            ),
        )
    })
}

/// The same for `STANDBY_OPENSEARCH_ENDPOINT_URL`, as a line to print.
pub fn env_in_clear() -> Option<String> {
    let url = std::env::var(ENV_ENDPOINT_URL).ok().filter(|u| in_clear(u))?;
    Some(format!(
        "{ENV_ENDPOINT_URL}={url} is plain HTTP to another machine: the domains' passwords (basic auth) travel in \
         clear; use https://, or a tunnel whose local end is loopback"
    ))
}

/// Where to connect for `domain_endpoint`, given the per-resource override.
pub fn base_url(domain_endpoint: &str, endpoint_url: Option<&str>) -> String {
    let chosen = endpoint_url
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .or_else(|| std::env::var(ENV_ENDPOINT_URL).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| format!("https://{domain_endpoint}"));
    chosen.trim_end_matches('/').to_string()
}

impl Domain {
    /// Whether `props` can reach the domain at all: without the password
    /// (a resource no longer declared) a kind can observe nothing.
    pub fn has_credentials(props: &Attrs) -> bool {
        get_str(props, "master_user_password").is_some()
    }

    /// From a REST resource's properties: `domain_endpoint`, `endpoint_url`,
    /// `master_user_name`, `master_user_password`.
    pub fn from_props(props: &Attrs) -> Result<Domain, KindError> {
        let host = get_str(props, "domain_endpoint")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| KindError::Failed("`domain_endpoint` is not known".into()))?
            .to_string();
        let user = get_str(props, "master_user_name")
            .ok_or_else(|| KindError::Failed("`master_user_name` is not known".into()))?;
        let password = get_str(props, "master_user_password").ok_or_else(|| {
            KindError::Failed(
                "the master user's password is not available: it comes from the configuration (standby stores only \
                 its hash), so the resource must still be declared, with its sensitive variable set (or forget it \
                 with `standby state rm`: it then stays on the domain)"
                    .into(),
            )
        })?;
        let token = aws_smithy_types::base64::encode(format!("{user}:{password}"));
        let base = base_url(&host, get_str(props, "endpoint_url"));
        let tls_name = tls_name(&base, &host);
        Ok(Domain { base, host, auth: format!("Basic {token}"), tls_name })
    }

    /// Sends one request, retrying transient failures (429, 502–504,
    /// connection errors, timeouts; for reads also 500, as the AWS SDK
    /// retries an internal error) with capped, jittered exponential
    /// backoff, up to [`max_attempts`]. `call` names it in errors (e.g. "PUT
    /// _plugins/_replication/{index}/_start"). Any other HTTP status comes
    /// back as an [`Answer`]. A call that may have taken effect (its answer
    /// was lost) is repeated only when it is a read; see [`Domain::send_observed`].
    pub async fn send(
        &self,
        call: &'static str,
        method: Method,
        path: &str,
        body: Option<Json>,
    ) -> Result<Answer, KindError> {
        self.send_observed(call, method, path, body, None).await
    }

    /// [`Domain::send`] for a call that is not safe to repeat blindly: when
    /// an attempt may have taken effect, `observe` looks first; `true` (what
    /// the call does is in place) ends with success, `false` sends it again.
    pub async fn send_observed(
        &self,
        call: &'static str,
        method: Method,
        path: &str,
        body: Option<Json>,
        observe: Option<&Observe<'_>>,
    ) -> Result<Answer, KindError> {
        let repeatable = matches!(method, Method::GET | Method::HEAD);
        self.send_with(call, method, path, body, observe, repeatable).await
    }

    /// [`Domain::send`] for a write that is safe to repeat by its nature: a
    /// PUT that replaces a whole named object, or a DELETE of one whose
    /// repeat answers 404 (the security plugin's users, roles, mappings).
    pub async fn send_idempotent(
        &self,
        call: &'static str,
        method: Method,
        path: &str,
        body: Option<Json>,
    ) -> Result<Answer, KindError> {
        self.send_with(call, method, path, body, None, true).await
    }

    async fn send_with(
        &self,
        call: &'static str,
        method: Method,
        path: &str,
        body: Option<Json>,
        observe: Option<&Observe<'_>>,
        repeatable: bool,
    ) -> Result<Answer, KindError> {
        let max = max_attempts();
        let read = matches!(method, Method::GET | Method::HEAD);
        let mut attempt = 1;
        loop {
            let (outcome, fate) = match self.attempt(call, method.clone(), path, body.clone()).await {
                Ok(a) => match a.status.as_u16() {
                    // Throttled: refused before doing anything.
                    429 => (Ok(a), Fate::NotDone),
                    // An internal error of the domain: a read changes nothing,
                    // so it is asked again (a write's 500 is the plugin's
                    // answer, e.g. a rule that exists, and stands).
                    500 if read => (Ok(a), Fate::NotDone),
                    // A gateway's answer: the domain may or may not have acted.
                    502..=504 => (Ok(a), Fate::Unknown),
                    _ => return Ok(a),
                },
                Err(Failure { error, sent: false }) => (Err(error), Fate::NotDone),
                Err(Failure { error, sent: true }) => (Err(error), Fate::Unknown),
            };
            if attempt >= max {
                return outcome;
            }
            match (fate, repeatable, observe) {
                (Fate::NotDone, _, _) | (Fate::Unknown, true, _) => {}
                (Fate::Unknown, false, Some(look)) => {
                    if look().await? {
                        return Ok(Answer { status: StatusCode::OK, body: serde_json::json!({"acknowledged": true}) });
                    }
                }
                // Not safe to repeat and nothing to look at: the caller decides.
                (Fate::Unknown, false, None) => return outcome,
            }
            tokio::time::sleep(backoff(attempt)).await;
            attempt += 1;
        }
    }

    /// One try.
    async fn attempt(
        &self,
        call: &'static str,
        method: Method,
        path: &str,
        body: Option<Json>,
    ) -> Result<Answer, Failure> {
        let url = format!("{}{path}", self.base);
        let mut req = Request::builder()
            .method(method)
            .uri(&url)
            .header(header::HOST, &self.host)
            .header(header::AUTHORIZATION, &self.auth)
            .header(header::ACCEPT, "application/json");
        let payload = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(b.to_string())
            }
            None => Bytes::new(),
        };
        let req = req.body(Full::new(payload)).map_err(|e| Failure {
            error: KindError::Failed(format!("{call}: bad request {url}: {e}")),
            sent: false,
        })?;
        let unreachable = |e: String, sent: bool| Failure {
            error: KindError::Aws {
                call,
                code: "Unreachable".into(),
                hint: Some(if e.contains("certificate") {
                    format!(
                        "TLS is verified against the domain endpoint {} (sent as SNI), also through a tunnel or proxy: \
                         the certificate presented must be valid for it and issued by a trusted CA (add a private CA \
                         with {ENV_CA_BUNDLE}=<PEM file>)",
                        self.host
                    )
                } else {
                    format!(
                        "a domain in a VPC, behind a proxy or with a custom endpoint needs `endpoint_url` on the resource \
                         or {ENV_ENDPOINT_URL}; standby connects there and sends the domain endpoint as Host"
                    )
                }),
                message: format!("cannot reach {url} (Host: {}): {e}", self.host),
            },
            sent,
        };
        let client = client(self.tls_name.as_deref()).map_err(|e| unreachable(e, false))?;
        let res = match tokio::time::timeout(CALL_TIMEOUT, client.request(req)).await {
            Ok(Ok(res)) => res,
            // Not connected: the request never left.
            Ok(Err(e)) => return Err(unreachable(error_chain(&e), !e.is_connect())),
            Err(_) => return Err(unreachable(format!("no answer within {}s", CALL_TIMEOUT.as_secs()), true)),
        };
        let status = res.status();
        let bytes = match tokio::time::timeout(CALL_TIMEOUT, res.into_body().collect()).await {
            Ok(Ok(b)) => b.to_bytes(),
            Ok(Err(e)) => return Err(unreachable(error_chain(&e), true)),
            Err(_) => return Err(unreachable("the answer did not finish".into(), true)),
        };
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            let text = String::from_utf8_lossy(&bytes).trim().to_string();
            if text.is_empty() { Json::Null } else { Json::String(text) }
        });
        Ok(Answer { status, body })
    }
}

/// Looks whether a call that may have taken effect did: `Ok(true)` when
/// what it does is in place.
pub type Observe<'a> = dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, KindError>> + Send + 'a>>
    + Send
    + Sync
    + 'a;

/// A try that failed before an answer arrived; `sent` when the request may
/// have reached the domain.
struct Failure {
    error: KindError,
    sent: bool,
}

/// What a failed try did on the domain.
#[derive(Clone, Copy)]
enum Fate {
    NotDone,
    Unknown,
}

/// Attempts per REST call, retries included: `STANDBY_AWS_MAX_ATTEMPTS`
/// (the same budget as AWS calls), default 5.
pub fn max_attempts() -> u32 {
    std::env::var(crate::aws::ENV_MAX_ATTEMPTS).ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(5)
}

/// Before try `attempt + 1`: 200 ms doubling, capped at 5 s, then a random
/// half to all of it (so many clients do not retry in step).
fn backoff(attempt: u32) -> Duration {
    let full =
        Duration::from_millis(200).saturating_mul(1 << attempt.saturating_sub(1).min(5)).min(Duration::from_secs(5));
    let r = u32::from_str_radix(&crate::ids::random_id()[..8], 16).unwrap_or(0) as f64 / u32::MAX as f64;
    full.mul_f64(0.5 + r / 2.0)
}

use crate::kinds::aws::chain as error_chain;

impl Answer {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// OpenSearch's error `type` (`illegal_argument_exception`, ...).
    pub fn error_type(&self) -> Option<&str> {
        self.body.get("error").and_then(|e| e.get("type")).and_then(Json::as_str)
    }

    /// The domain access policy's refusal (`{"Message": "User: anonymous is
    /// not authorized ..."}`), answered at the edge before OpenSearch.
    pub fn edge_refusal(&self) -> Option<&str> {
        self.body.get("Message").and_then(Json::as_str).filter(|m| m.contains("is not authorized to perform"))
    }

    /// OpenSearch's error `reason`, or the plain body.
    pub fn reason(&self) -> String {
        if let Some(m) = self.edge_refusal() {
            return m.to_string();
        }
        match &self.body {
            Json::Object(_) => self
                .body
                .get("error")
                .and_then(|e| {
                    e.get("reason")
                        .and_then(Json::as_str)
                        .map(str::to_string)
                        .or_else(|| e.as_str().map(str::to_string))
                })
                .unwrap_or_else(|| self.body.to_string()),
            Json::String(s) => s.clone(),
            _ => String::new(),
        }
    }

    /// The answer as a failed call, with a hint for the usual causes.
    pub fn into_error(self, call: &'static str) -> KindError {
        let code = match (self.error_type(), self.edge_refusal()) {
            (Some(t), _) => t.to_string(),
            (None, Some(_)) => "AccessDenied (domain access policy)".to_string(),
            (None, None) => format!("HTTP {}", self.status.as_u16()),
        };
        let message = self.reason();
        let hint = rest_hint(self.status, &code, &message);
        KindError::Aws { call, code, message, hint }
    }
}

/// Hints for the plugin's usual refusals, in one place.
pub fn rest_hint(status: StatusCode, code: &str, message: &str) -> Option<String> {
    let h = match (status.as_u16(), code) {
        (401, _) => "the domain refused the master user: check `master_user_name` and the password variable (they \
                     must be the domain's internal master user)"
            .to_string(),
        (403, "cluster_block_exception") => "the index is a follower (read-only) while replication runs".to_string(),
        (403, "AccessDenied (domain access policy)") if message.contains("anonymous") => "the domain's access \
             policy refused this unsigned (basic-auth) request before fine-grained access control saw it: the \
             policy must allow the anonymous principal (`\"AWS\": \"*\"`) es:ESHttp* on domain/<name>/*, narrowed \
             by `source_ips` or a VPC (aws_opensearch_domain_policy's standard document does), and the client's \
             address must be among them"
            .to_string(),
        (403, "AccessDenied (domain access policy)") => "the domain's access policy refused this request: check \
             aws_opensearch_domain_policy"
            .to_string(),
        (403, "security_exception") if message.contains("ESCrossClusterGet") => "the leader domain's access policy \
             does not allow es:ESCrossClusterGet on its domain ARN: set `cross_cluster_leader: true` on its \
             aws_opensearch_domain_policy"
            .to_string(),
        (403, _) => "fine-grained access control refused the user standby signs in as: it must be mapped (role \
                     mapping) to cross_cluster_replication_follower_full_access here and, with the same user name, \
                     to cross_cluster_replication_leader_full_access on the leader (or be the master user)"
            .to_string(),
        (502, _) => format!(
            "no domain answers for this endpoint: check `domain_endpoint` (and `endpoint_url` / {ENV_ENDPOINT_URL})"
        ),
        (_, "no_such_remote_cluster_exception") => "the leader alias names no ACTIVE outbound connection of this \
             domain: create the connection, accept it in the leader's region, and depend on the accepter"
            .to_string(),
        (_, "index_not_found_exception") => "the leader index does not exist: indices must exist (populated, e.g. by \
             a Mattermost bulk index) on the leader before replication starts"
            .to_string(),
        (_, "illegal_argument_exception") if message.contains("Cant use same index again") => "the follower index \
             already exists on this domain (e.g. replication was stopped outside standby): delete it on the follower \
             to start replicating again"
            .to_string(),
        (_, "exception") if message.contains("cannot be recreated") => "an auto-follow rule with this name already \
             exists for this leader alias (rules cannot be updated): remove it, or adopt it into the state"
            .to_string(),
        _ => return None,
    };
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_to_another_machine_warns() {
        for clear in ["http://10.0.0.5:9200", "http://proxy.internal", "http://[2001:db8::1]:80/x"] {
            assert!(in_clear(clear), "{clear}");
        }
        for fine in [
            "https://10.0.0.5:9200",
            "http://127.0.0.1:4566",
            "http://localhost:9200",
            "http://[::1]:9200",
            "http://123456789012.localhost:80",
        ] {
            assert!(!in_clear(fine), "{fine}");
        }
        let p: Attrs = [("endpoint_url".to_string(), crate::value::Value::str("http://10.0.0.5:9200"))].into();
        let w = plain_http(&p).unwrap();
        assert!(w.warning && w.prop == "endpoint_url" && w.message.contains("in clear"), "{}", w.message);
    }

    #[test]
    fn the_property_wins_over_the_environment_over_the_default() {
        // The environment is process-wide: check only what holds either way.
        assert_eq!(
            base_url("search-x.us-east-1.es.amazonaws.com", Some("http://127.0.0.1:9200/")),
            "http://127.0.0.1:9200"
        );
        if std::env::var(ENV_ENDPOINT_URL).is_err() {
            assert_eq!(
                base_url("search-x.us-east-1.es.amazonaws.com", None),
                "https://search-x.us-east-1.es.amazonaws.com"
            );
            assert_eq!(base_url("h", Some("")), "https://h");
        }
    }

    #[test]
    fn tls_names_the_domain_through_a_tunnel() {
        let d = "search-mm-abc.us-east-1.es.amazonaws.com";
        assert_eq!(tls_name("https://127.0.0.1:9200", d).as_deref(), Some(d));
        assert_eq!(tls_name("https://[::1]:9200", d).as_deref(), Some(d));
        assert_eq!(tls_name(&format!("https://{d}"), d), None);
        assert_eq!(tls_name(&format!("https://{d}:443"), d), None);
        assert_eq!(tls_name("http://127.0.0.1:9200", d), None);
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        for attempt in 1..10 {
            let full = Duration::from_millis(200 * (1 << (attempt - 1).min(5))).min(Duration::from_secs(5));
            let d = backoff(attempt);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} not in [{:?}, {full:?}]", full / 2);
        }
        assert!(backoff(30) <= Duration::from_secs(5));
    }

    #[test]
    fn errors_carry_type_reason_and_hint() {
        let a = Answer {
            status: StatusCode::NOT_FOUND,
            body: serde_json::json!({"error": {"root_cause": [], "type": "no_such_remote_cluster_exception",
                "reason": "no such remote cluster: [leader]"}, "status": 404}),
        };
        match a.into_error("PUT _plugins/_replication/{index}/_start") {
            KindError::Aws { code, message, hint, .. } => {
                assert_eq!(code, "no_such_remote_cluster_exception");
                assert!(message.contains("[leader]"));
                assert!(hint.unwrap().contains("accept"));
            }
            other => panic!("{other}"),
        }
        let a = Answer {
            status: StatusCode::FORBIDDEN,
            body: serde_json::json!({"Message": "User: anonymous is not authorized to perform: es:ESHttpPut because \
                no resource-based policy allows the es:ESHttpPut action"}),
        };
        match a.into_error("POST _plugins/_replication/_autofollow") {
            KindError::Aws { code, message, hint, .. } => {
                assert_eq!(code, "AccessDenied (domain access policy)");
                assert!(message.starts_with("User: anonymous is not authorized"), "{message}");
                let hint = hint.unwrap();
                assert!(hint.contains("access policy") && !hint.contains("all_access"), "{hint}");
            }
            other => panic!("{other}"),
        }
        let a = Answer { status: StatusCode::UNAUTHORIZED, body: Json::String("Unauthorized".into()) };
        match a.into_error("GET _plugins/_replication/autofollow_stats") {
            KindError::Aws { code, hint, .. } => {
                assert_eq!(code, "HTTP 401");
                assert!(hint.unwrap().contains("master_user_name"));
            }
            other => panic!("{other}"),
        }
    }
}
