//! What a domain access policy lets its clients do, and what a policy change
//! would take from them.
//!
//! Unsigned requests (HTTP basic auth as Mattermost and standby's REST kinds
//! send them) are anonymous to AWS: only statements whose principal is `*`
//! (or `{"AWS": "*"}`) can allow them (AWS OpenSearch Service guide, ac.md
//! and fgac.md). A change that drops such a grant cuts those clients off with
//! 403 "User: anonymous is not authorized". Statements naming IAM principals
//! (a Firehose delivery role, a Lambda, Cognito's roles) allow their signed
//! requests (ac.md: "If your policies specify IAM roles or users, requests
//! to the OpenSearch APIs also must be signed"): dropping one cuts that
//! service off the same way.

use serde_json::Value as Json;
use std::net::IpAddr;

/// One Allow statement, reduced to what matters here.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    /// Who: `*` (anyone, unsigned requests included) or IAM principal ARNs.
    pub principals: Vec<String>,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// `aws:SourceIp` CIDRs of an `IpAddress` condition; `None`: any address.
    pub source_ips: Option<Vec<String>>,
    /// Any other condition, as written (compared as a whole).
    pub other: Option<Json>,
    /// The statement, for messages.
    pub statement: Json,
}

fn strings(v: Option<&Json>) -> Vec<String> {
    match v {
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

fn anonymous(principal: Option<&Json>) -> bool {
    principals(principal).iter().any(|p| p == "*")
}

/// The principals of a statement: `*`, or the IAM (and service) principals it names.
fn principals(principal: Option<&Json>) -> Vec<String> {
    match principal {
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Object(m)) => m.values().flat_map(|v| strings(Some(v))).collect(),
        _ => Vec::new(),
    }
}

fn statements(doc: &Json) -> Vec<Json> {
    match doc.get("Statement") {
        Some(Json::Array(a)) => a.clone(),
        Some(s @ Json::Object(_)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Parses a document given as JSON text or as a JSON value.
pub fn parse(doc: &Json) -> Json {
    match doc {
        Json::String(s) => serde_json::from_str(s).unwrap_or(Json::Null),
        other => other.clone(),
    }
}

/// The Allow grants of a document, whoever they name.
pub fn grants(doc: &Json) -> Vec<Grant> {
    statements(doc)
        .into_iter()
        .filter(|s| s.get("Effect").and_then(Json::as_str) == Some("Allow"))
        .map(|s| {
            let mut source_ips = None;
            let mut other = serde_json::Map::new();
            if let Some(Json::Object(cond)) = s.get("Condition") {
                for (op, tests) in cond {
                    let ip = tests.as_object().and_then(|t| {
                        (t.len() == 1)
                            .then(|| t.iter().next())
                            .flatten()
                            .filter(|(k, _)| k.eq_ignore_ascii_case("aws:SourceIp"))
                    });
                    match (op.as_str(), ip) {
                        ("IpAddress", Some((_, v))) => source_ips = Some(strings(Some(v))),
                        _ => {
                            other.insert(op.clone(), tests.clone());
                        }
                    }
                }
            }
            Grant {
                principals: principals(s.get("Principal")),
                actions: strings(s.get("Action")),
                resources: strings(s.get("Resource")),
                source_ips,
                other: (!other.is_empty()).then_some(Json::Object(other)),
                statement: s.clone(),
            }
        })
        .collect()
}

/// Anonymous Deny statements of a document.
fn denials(doc: &Json) -> Vec<Json> {
    statements(doc)
        .into_iter()
        .filter(|s| s.get("Effect").and_then(Json::as_str) == Some("Deny") && anonymous(s.get("Principal")))
        .collect()
}

/// `*` / `?` wildcard match (IAM's), case-insensitive when `fold` is set.
fn glob(pattern: &str, text: &str, fold: bool) -> bool {
    if fold {
        crate::glob::glob(&pattern.to_lowercase(), &text.to_lowercase())
    } else {
        crate::glob::glob(pattern, text)
    }
}

fn cidr(text: &str) -> Option<(IpAddr, u32)> {
    let (ip, len) = match text.split_once('/') {
        Some((ip, len)) => (ip.parse::<IpAddr>().ok()?, len.parse().ok()?),
        None => {
            let ip = text.parse::<IpAddr>().ok()?;
            (ip, if ip.is_ipv4() { 32 } else { 128 })
        }
    };
    Some((ip, len))
}

fn bits(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(v) => (u32::from(v) as u128, 32),
        IpAddr::V6(v) => (u128::from(v), 128),
    }
}

/// Whether network `outer` contains network `inner`.
fn contains(outer: &str, inner: &str) -> bool {
    let (Some((o, ol)), Some((i, il))) = (cidr(outer), cidr(inner)) else { return outer == inner };
    let ((ob, ow), (ib, iw)) = (bits(o), bits(i));
    if ow != iw || ol > il || ol > ow {
        return false;
    }
    let shift = ow - ol;
    shift >= 128 || (ob >> shift) == (ib >> shift)
}

/// Whether grant `new` allows everything `old` allows.
fn covers(new: &Grant, old: &Grant) -> bool {
    let who = new.principals.iter().any(|p| p == "*") || old.principals.iter().all(|p| new.principals.contains(p));
    if !who {
        return false;
    }
    let actions = old.actions.iter().all(|a| new.actions.iter().any(|p| glob(p, a, true)));
    let resources = old.resources.iter().all(|r| new.resources.iter().any(|p| glob(p, r, false)));
    let ips = match (&new.source_ips, &old.source_ips) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(n), Some(o)) => o.iter().all(|i| n.iter().any(|c| contains(c, i))),
    };
    actions && resources && ips && (new.other.is_none() || new.other == old.other)
}

/// What a change from `old` to `new` takes from its clients: the grants no
/// longer covered (anonymous or naming IAM principals), and anonymous Deny
/// statements `new` adds.
pub fn lost(old: &Json, new: &Json) -> (Vec<Grant>, Vec<Json>) {
    let now = grants(new);
    let gone = grants(old).into_iter().filter(|g| !now.iter().any(|n| covers(n, g))).collect();
    let before = denials(old);
    let added = denials(new).into_iter().filter(|d| !before.contains(d)).collect();
    (gone, added)
}

/// One line per statement removed (`-`) or added (`+`), keys sorted.
pub fn statement_diff(old: &Json, new: &Json) -> Vec<String> {
    let (a, b) = (statements(old), statements(new));
    let mut out: Vec<String> = a.iter().filter(|s| !b.contains(s)).map(|s| format!("- {s}")).collect();
    out.extend(b.iter().filter(|s| !a.contains(s)).map(|s| format!("+ {s}")));
    out
}

/// Who a grant lets in, in words.
pub fn describe(g: &Grant) -> String {
    let from = match &g.source_ips {
        None => "from any address".to_string(),
        Some(ips) => format!("from {}", ips.join(", ")),
    };
    let when = if g.other.is_some() { " (with further conditions)" } else { "" };
    let who = if g.principals.iter().any(|p| p == "*") {
        String::new()
    } else {
        format!(" for requests signed by {}", g.principals.join(", "))
    };
    format!("{} on {} {from}{when}{who}", g.actions.join(", "), g.resources.join(", "))
}

/// Whether `doc` already allows everything Allow statement `statement` does.
pub fn already_allows(doc: &Json, statement: &Json) -> bool {
    let wanted = grants(&serde_json::json!({"Statement": [statement]}));
    let have = grants(doc);
    !wanted.is_empty() && wanted.iter().all(|w| have.iter().any(|h| covers(h, w)))
}

/// Whether any of the grants is for anonymous (unsigned) clients.
pub fn any_anonymous(gs: &[Grant]) -> bool {
    gs.iter().any(|g| g.principals.iter().any(|p| p == "*"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:es:us-west-1:123456789012:domain/mm";

    fn doc(statements: Json) -> Json {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    fn open(cond: Option<Json>) -> Json {
        let mut s = json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "es:ESHttp*", "Resource": format!("{ARN}/*")});
        if let Some(c) = cond {
            s["Condition"] = c;
        }
        s
    }

    #[test]
    fn globs_and_networks() {
        assert!(glob("es:ESHttp*", "es:eshttpget", true));
        assert!(glob("es:*", "es:ESHttp*", true));
        assert!(!glob("es:ESHttpGet", "es:ESHttp*", true));
        assert!(glob(&format!("{ARN}/*"), &format!("{ARN}/*"), false));
        assert!(contains("10.0.0.0/8", "10.1.2.0/24"));
        assert!(contains("0.0.0.0/0", "192.168.1.1"));
        assert!(!contains("10.1.0.0/16", "10.0.0.0/8"));
        assert!(!contains("10.0.0.0/8", "2001:db8::/32"));
    }

    #[test]
    fn what_a_change_takes_away() {
        let open_doc = doc(json!([open(None)]));
        let account_only = doc(json!([{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "es:ESHttp*", "Resource": format!("{ARN}/*")}]));
        assert_eq!(lost(&open_doc, &account_only).0.len(), 1);
        assert!(lost(&account_only, &open_doc).0.is_empty());
        // Adding a leader statement takes nothing away.
        let mut leader = open_doc.clone();
        leader["Statement"].as_array_mut().unwrap().push(
            json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "es:ESCrossClusterGet", "Resource": ARN}),
        );
        assert!(lost(&open_doc, &leader).0.is_empty());
        // Narrowing to addresses does; widening them does not.
        let narrow = doc(json!([open(Some(json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/16"]}})))]));
        assert_eq!(lost(&open_doc, &narrow).0.len(), 1);
        let wide = doc(json!([open(Some(json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}})))]));
        assert!(lost(&narrow, &wide).0.is_empty());
        assert_eq!(lost(&wide, &narrow).0.len(), 1);
        // A new anonymous Deny counts.
        let mut deny = open_doc.clone();
        deny["Statement"].as_array_mut().unwrap().push(
            json!({"Effect": "Deny", "Principal": "*", "Action": "es:ESHttpDelete", "Resource": format!("{ARN}/*")}),
        );
        assert_eq!(lost(&open_doc, &deny).1.len(), 1);
        assert_eq!(statement_diff(&open_doc, &narrow).len(), 2);
        assert!(describe(&grants(&narrow)[0]).contains("from 10.0.0.0/16"));
    }

    /// Audit 2, finding 16: a statement for an IAM principal (a delivery
    /// role, another service) is access too: dropping it is a loss, and an
    /// anonymous grant does not stand in for it in the check's eyes unless it
    /// covers it.
    #[test]
    fn an_iam_principals_access_counts() {
        let role = "arn:aws:iam::123456789012:role/prod-firehose-delivery";
        let iam = json!({"Effect": "Allow", "Principal": {"AWS": role}, "Action": ["es:ESHttpPost", "es:ESHttpPut"],
            "Resource": format!("{ARN}/*")});
        let narrow = open(Some(json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}})));
        let before = doc(json!([narrow.clone(), iam.clone()]));
        let (gone, _) = lost(&before, &doc(json!([narrow.clone()])));
        assert_eq!(gone.len(), 1, "{gone:?}");
        assert!(!any_anonymous(&gone) && describe(&gone[0]).contains(role), "{}", describe(&gone[0]));
        // Kept beside standby's statements: nothing lost, and already there.
        assert!(lost(&before, &doc(json!([narrow.clone(), iam.clone(), open(None)]))).0.is_empty());
        assert!(already_allows(&before, &iam) && !already_allows(&doc(json!([narrow])), &iam));
    }
}
