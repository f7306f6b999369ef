//! Mattermost's REST API as a drill calls it: on the drill's own load
//! balancer with the site's hostname (as `curl --resolve` does), or on the
//! site URL itself (production's newest post, read only).
//!
//! **Where a call goes.** standby connects to [`Site::connect_host`] on
//! [`Site::port`] and sends `Host:` (and, over HTTPS, TLS SNI) = the site's
//! hostname, verifying the certificate for that hostname against the
//! system's roots plus `STANDBY_OPENSEARCH_CA_BUNDLE`. It honours
//! `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` (lower-case too, as curl): plain
//! HTTP goes to the proxy in absolute form, HTTPS through a `CONNECT`
//! tunnel to the load balancer (never to the site's hostname, which a proxy
//! would resolve to production).
//!
//! **Faults.** [`Client::get`] is retried with backoff on a transient fault
//! (no connection, a timeout, 429, 502-504); a post is never repeated
//! blindly: [`Client::post_once`] first looks for its unique message among
//! the channel's newest posts (the caller's retry loop).
//!
//! The token (`STANDBY_DRILL_TOKEN`) is sent as `Authorization: Bearer`
//! and nowhere else: never printed, logged or stored.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use serde_json::Value as Json;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one call may take (connect, TLS, answer).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where Mattermost is reached, and as which site.
#[derive(Clone, Debug, PartialEq)]
pub struct Site {
    /// The host connected to (the drill's load balancer's DNS name, or the
    /// site's own hostname).
    pub connect_host: String,
    pub port: u16,
    pub https: bool,
    /// The site's hostname (`Host:`, SNI, the certificate's name).
    pub host: String,
}

impl Site {
    /// The site URL itself (`https://chat.example.com`), as users reach it.
    pub fn from_url(url: &str) -> Result<Site, String> {
        let (https, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
            (Some(r), _) => (true, r),
            (None, Some(r)) => (false, r),
            _ => return Err(format!("`{url}` is not an http(s) URL")),
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| format!("`{url}`: bad port `{p}`"))?),
            None => (authority, if https { 443 } else { 80 }),
        };
        if host.is_empty() {
            return Err(format!("`{url}` names no host"));
        }
        Ok(Site { connect_host: host.to_string(), port, https, host: host.to_string() })
    }

    /// The same site reached on another host and port (the drill's load balancer).
    pub fn via(&self, connect_host: &str, port: u16, https: bool) -> Site {
        Site { connect_host: connect_host.to_string(), port, https, host: self.host.clone() }
    }

    /// What people are told: the load balancer and the site it answers as.
    pub fn describe(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        if self.connect_host == self.host {
            format!("{scheme}://{}:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{} (as {})", self.connect_host, self.port, self.host)
        }
    }
}

/// An answer: status and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Json,
}

impl Answer {
    /// Mattermost's error id (`api.context.session_expired.app_error`), if any.
    pub fn error_id(&self) -> &str {
        self.body.get("id").and_then(Json::as_str).unwrap_or_default()
    }
}

/// Whether a status is worth another try (throttled, a gateway fault).
pub fn transient(status: u16) -> bool {
    matches!(status, 429 | 502..=504)
}

/// The proxy for `site` from the environment, if any (`host:port`).
fn proxy(site: &Site) -> Option<(String, u16)> {
    let var = |names: &[&str]| names.iter().find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()));
    let url = if site.https { var(&["HTTPS_PROXY", "https_proxy"]) } else { var(&["HTTP_PROXY", "http_proxy"]) }?;
    if let Some(no) = var(&["NO_PROXY", "no_proxy"])
        && no_proxy(&no, &site.connect_host)
    {
        return None;
    }
    let url = url.trim();
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((authority.to_string(), 80)),
    }
}

/// curl's `NO_PROXY`: `*`, or names matched as themselves or as a domain suffix.
fn no_proxy(list: &str, host: &str) -> bool {
    list.split(',').map(str::trim).filter(|e| !e.is_empty()).any(|e| {
        let e = e.trim_start_matches("*.").trim_start_matches('.');
        e == "*"
            || host.eq_ignore_ascii_case(e)
            || host.to_ascii_lowercase().ends_with(&format!(".{}", e.to_ascii_lowercase()))
    })
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// Opens the connection a request to `site` goes over; whether the request
/// target must be in absolute form (plain HTTP through a proxy).
async fn open(site: &Site) -> Result<(Box<dyn Io>, bool), String> {
    let via = proxy(site);
    let (host, port) = via.clone().unwrap_or_else(|| (site.connect_host.clone(), site.port));
    let mut tcp = TcpStream::connect((host.as_str(), port)).await.map_err(|e| format!("connect {host}:{port}: {e}"))?;
    if !site.https {
        return Ok((Box::new(tcp), via.is_some()));
    }
    if via.is_some() {
        let target = format!("{}:{}", site.connect_host, site.port);
        tcp.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
            .await
            .map_err(|e| format!("proxy {host}:{port}: {e}"))?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
            let n = tcp.read(&mut byte).await.map_err(|e| format!("proxy {host}:{port}: {e}"))?;
            if n == 0 {
                return Err(format!("proxy {host}:{port} closed the connection to CONNECT {target}"));
            }
            head.push(byte[0]);
        }
        let line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_string();
        if line.split_whitespace().nth(1) != Some("200") {
            return Err(format!("proxy {host}:{port} refused CONNECT {target}: {line}"));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(crate::kinds::opensearch::rest::roots()?)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(site.host.clone())
        .map_err(|e| format!("{:?} is not a TLS server name: {e}", site.host))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS with {} as {}: {e}", site.connect_host, site.host))?;
    Ok((Box::new(stream), false))
}

/// One request, no retry.
pub async fn send(
    site: &Site,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Json>,
) -> Result<Answer, String> {
    let call = async {
        let (io, absolute) = open(site).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(|e| format!("HTTP with {}: {e}", site.describe()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let uri = if absolute { format!("http://{}:{}{path}", site.connect_host, site.port) } else { path.to_string() };
        let mut req = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(hyper::header::HOST, site.host.as_str())
            .header(hyper::header::ACCEPT, "application/json")
            .header(hyper::header::USER_AGENT, concat!("standby/", env!("CARGO_PKG_VERSION"), " (drill)"));
        if let Some(t) = token {
            req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let bytes = match body {
            Some(b) => {
                req = req.header(hyper::header::CONTENT_TYPE, "application/json");
                Bytes::from(b.to_string())
            }
            None => Bytes::new(),
        };
        let req = req.body(Full::new(bytes)).map_err(|e| e.to_string())?;
        let resp =
            sender.send_request(req).await.map_err(|e| format!("{method} {path} on {}: {e}", site.describe()))?;
        let status = resp.status().as_u16();
        let raw = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok::<_, String>(Answer { status, body: serde_json::from_slice(&raw).unwrap_or(Json::Null) })
    };
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(r) => r,
        Err(_) => Err(format!("{method} {path} on {}: no answer in {}s", site.describe(), CALL_TIMEOUT.as_secs())),
    }
}

/// A GET retried with backoff (1 s doubling to 8 s) on transient faults,
/// at most `attempts` times.
pub async fn get(site: &Site, path: &str, token: Option<&str>, attempts: u32) -> Result<Answer, String> {
    let mut delay = Duration::from_secs(1);
    let mut last = String::new();
    for n in 0..attempts.max(1) {
        if n > 0 {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(8));
        }
        match send(site, Method::GET, path, token, None).await {
            Ok(a) if !transient(a.status) => return Ok(a),
            Ok(a) => last = format!("GET {path}: HTTP {}", a.status),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A channel's newest post: (id, create_at in ms), `None` when it has none.
/// Mattermost's shape: `{"order": [ids], "posts": {id: {"create_at": ms, …}}}`.
pub fn newest(body: &Json) -> Result<Option<(String, i64)>, String> {
    let order = body.get("order").and_then(Json::as_array).ok_or("no `order` in the answer")?;
    let posts = body.get("posts").and_then(Json::as_object).ok_or("no `posts` in the answer")?;
    let mut best: Option<(String, i64)> = None;
    for id in order.iter().filter_map(Json::as_str) {
        let at = posts
            .get(id)
            .and_then(|p| p.get("create_at"))
            .and_then(Json::as_i64)
            .ok_or(format!("post {id} has no create_at"))?;
        if best.as_ref().is_none_or(|(_, b)| at > *b) {
            best = Some((id.to_string(), at));
        }
    }
    Ok(best)
}

/// Every post of a channel's page (`{order, posts}`): id and `create_at`.
pub fn posts(body: &Json) -> Result<Vec<(String, i64)>, String> {
    let order = body.get("order").and_then(Json::as_array).ok_or("no `order` in the answer")?;
    let posts = body.get("posts").and_then(Json::as_object).ok_or("no `posts` in the answer")?;
    order
        .iter()
        .filter_map(Json::as_str)
        .map(|id| {
            let at = posts.get(id).and_then(|p| p.get("create_at")).and_then(Json::as_i64);
            at.map(|at| (id.to_string(), at)).ok_or(format!("post {id} has no create_at"))
        })
        .collect()
}

/// The id of the post holding exactly `message` among `body`'s (a channel's posts).
pub fn find(body: &Json, message: &str) -> Option<String> {
    let posts = body.get("posts")?.as_object()?;
    posts.iter().find(|(_, p)| p.get("message").and_then(Json::as_str) == Some(message)).map(|(id, _)| id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sites_and_proxies() {
        let s = Site::from_url("https://chat.example.com").unwrap();
        assert_eq!((s.host.as_str(), s.port, s.https), ("chat.example.com", 443, true));
        let lb = s.via("mm-drill-ab12cd-1.us-east-1.elb.amazonaws.com", 80, false);
        assert_eq!(lb.host, "chat.example.com");
        assert!(lb.describe().contains("(as chat.example.com)"));
        assert_eq!(Site::from_url("http://h:8065/x").unwrap().port, 8065);
        assert!(Site::from_url("ftp://h").is_err());
        assert!(no_proxy("localhost, .amazonaws.com", "x.us-east-1.elb.amazonaws.com"));
        assert!(no_proxy("*", "anything"));
        assert!(!no_proxy("example.com", "chat.example.org"));
    }

    #[test]
    fn the_newest_post_and_a_message_are_found() {
        let body = json!({"order": ["b", "a"], "posts": {"a": {"create_at": 5, "message": "hi"}, "b": {"create_at": 9, "message": "drill"}}});
        assert_eq!(newest(&body).unwrap(), Some(("b".into(), 9)));
        assert_eq!(newest(&json!({"order": [], "posts": {}})).unwrap(), None);
        assert!(newest(&json!({"id": "x"})).is_err());
        assert_eq!(find(&body, "drill").as_deref(), Some("b"));
        assert_eq!(find(&body, "nope"), None);
    }
}
