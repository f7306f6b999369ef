//! OpenSearch in two regions (the procedure's "Search" section): the domains
//! and their access policies, the cross-cluster connection (requested by the
//! follower, accepted by the leader), and, through each follower domain's own
//! REST API, the replication plugin's auto-follow rules and index
//! replications.
//!
//! What the kinds share lives here: error mapping with OpenSearch Service
//! hints and the naming rules. [`rest`] is the domain REST client (and how
//! its endpoint is chosen).

pub mod access;
pub mod audit_config;
pub mod autofollow_rule;
pub mod domain;
pub mod domain_policy;
pub mod inbound_connection_accepter;
pub mod index_replication;
pub mod internal_user;
pub mod logs;
pub mod outbound_connection;
pub mod rest;
pub mod role;
pub mod role_mapping;
pub mod security;

use super::aws::{aws_error, get_str};
use super::{KindError, PlanView};
use crate::value::Attrs;
use aws_sdk_opensearch::error::{ProvideErrorMetadata, SdkError};

/// Maps a failed OpenSearch Service call to a [`KindError::Aws`] with its hints.
pub(crate) fn os_error<E>(call: &'static str, e: SdkError<E>) -> KindError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut err = aws_error(call, e);
    if let KindError::Aws { call, code, message, hint } = &mut err
        && let Some(h) = os_hint(call, code, message)
    {
        *hint = Some(h);
    }
    err
}

/// Hints for OpenSearch Service's usual refusals.
pub fn os_hint(call: &str, code: &str, message: &str) -> Option<String> {
    let h = match code {
        "AccessDenied" | "AccessDeniedException" => {
            format!("the credentials in use lack `es:{call}`; grant it, or run with credentials that have it")
        }
        "ResourceAlreadyExistsException" if call == "CreateOutboundConnection" => "a connection with this alias (or \
             to this domain) already exists, perhaps from an interrupted apply: delete it, or adopt it into the state"
            .to_string(),
        "ResourceAlreadyExistsException" => crate::kinds::EXISTS_HINT.to_string(),
        "ValidationException" if message.contains("password") || message.contains("Password") => "the master password \
             must be 8+ characters with an upper-case letter, a lower-case letter, a digit and a special character"
            .to_string(),
        "ValidationException" if message.contains("Resource Access Policy") => "log publishing needs a CloudWatch \
             Logs resource policy (aws_cloudwatch_log_resource_policy) in the domain's region letting \
             `es.amazonaws.com` call logs:CreateLogStream and logs:PutLogEvents on `<log group arn>:*` (its \
             aws:SourceAccount / aws:SourceArn conditions must match this domain); make the domain `depends_on` it"
            .to_string(),
        "ValidationException" if message.contains("log group") && message.contains("does not exist") => {
            "the log group must exist in the domain's region first: reference `${aws_cloudwatch_log_group.NAME.arn}` \
             so it is created before the domain"
                .to_string()
        }
        "ResourceNotFoundException" if call == "CreateOutboundConnection" => {
            "the local (follower) domain must exist in this resource's region".to_string()
        }
        "LimitExceededException" => "an OpenSearch Service quota was reached (domains, connections)".to_string(),
        _ => return None,
    };
    Some(h)
}

/// OpenSearch Service's domain naming rule; `None` when the name is fine.
pub fn domain_name_problem(name: &str) -> Option<String> {
    let ok = (3..=28).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    (!ok).then(|| {
        format!("invalid domain name {name:?}: 3-28 characters, lowercase letters, digits and hyphens, starting with a letter")
    })
}

/// The AWS region of the planned `aws_opensearch_domain` named `name`.
pub(crate) fn planned_domain_region(view: &dyn PlanView, name: &str) -> Option<(String, String)> {
    view.instances_of("aws_opensearch_domain")
        .into_iter()
        .find(|(_, a)| get_str(a, "domain_name") == Some(name))
        .and_then(|(addr, _)| view.region_of(&addr).map(|r| (addr, r.to_string())))
}

/// A REST resource's common properties' documentation.
pub(crate) const DOC_ENDPOINT: &str =
    "The follower domain's endpoint host name (`${aws_opensearch_domain.<name>.endpoint}`).";
pub(crate) const DOC_ENDPOINT_URL: &str = "Connect here instead of `https://<domain_endpoint>` (a VPC endpoint proxy, \
     a custom endpoint); the domain endpoint is still sent as Host. Overrides STANDBY_OPENSEARCH_ENDPOINT_URL.";

/// Properties every REST kind carries through from prior state: standby's
/// own connection settings, not reported by the domain.
pub(crate) fn carry_connection(prior: &Attrs, out: &mut Attrs) {
    for k in ["domain_endpoint", "endpoint_url", "master_user_name"] {
        if let Some(v) = prior.get(k) {
            out.insert(k.to_string(), v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names() {
        for ok in ["mm", "mm-search", "a1b", "mattermost-dr-search-east1"] {
            assert_eq!(domain_name_problem(ok).is_none(), ok.len() >= 3, "{ok}");
        }
        for bad in ["1abc", "Abc", "a_b", "abcdefghijklmnopqrstuvwxyz123"] {
            assert!(domain_name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn hints_name_es_actions() {
        assert!(os_hint("CreateDomain", "AccessDeniedException", "").unwrap().contains("es:CreateDomain"));
        assert!(
            os_hint("CreateOutboundConnection", "ResourceAlreadyExistsException", "").unwrap().contains("interrupted")
        );
    }
}
