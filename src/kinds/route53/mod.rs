//! Route 53 kinds: a hosted zone (for demos: real deployments usually pass
//! an existing zone's id), health checks on each region's endpoint, and
//! records, with failover routing for the Mattermost hostname.
//!
//! Route 53 is global: every call goes to its one endpoint, signed for
//! us-east-1 ([`crate::aws::Aws::route53`]), whatever `region:` a resource
//! names. Record changes are asynchronous (PENDING, then INSYNC once every
//! Route 53 name server has them, usually within 60 s): creates, updates
//! and deletes wait for INSYNC with GetChange, reporting progress.

pub mod health_check;
pub mod record;
pub mod zone;

use crate::kinds::aws::aws_error;
use crate::kinds::{Ctx, KindError, report_status};
use aws_sdk_route53::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_route53::types::ChangeStatus;
use std::time::{Duration, Instant};

/// Maps a failed call, with hints for Route 53's usual refusals.
pub(crate) fn r53_error<E>(call: &'static str, e: SdkError<E>) -> KindError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut err = aws_error(call, e);
    if let KindError::Aws { call, code, message, hint } = &mut err
        && let Some(h) = r53_hint(call, code, message)
    {
        *hint = Some(h);
    }
    err
}

/// Hints for Route 53's refusals, in one place.
pub fn r53_hint(call: &str, code: &str, message: &str) -> Option<String> {
    let lower = message.to_lowercase();
    let h = match code {
        "AccessDenied" | "AccessDeniedException" => {
            format!("the credentials in use lack `route53:{call}`; grant it, or run with credentials that have it")
        }
        "InvalidChangeBatch" if lower.contains("already exists") => {
            "the record exists outside standby's state: import it (`standby import ADDR ZONEID_NAME_TYPE[_SETID]`), \
             or remove it"
                .to_string()
        }
        "InvalidChangeBatch" if lower.contains("alias target") || lower.contains("alias that targets") => {
            "an alias must name the target's DNS name and its canonical hosted zone id (a load balancer's \
             `lb_dns_name` and `lb_zone_id`), and the target must exist"
                .to_string()
        }
        "NoSuchHostedZone" => "no hosted zone has this id in the account: check `zone_id`".to_string(),
        "NoSuchHealthCheck" => "no health check has this id: check `health_check_id`".to_string(),
        "HealthCheckInUse" => "a record still uses this health check: change or delete the record first".to_string(),
        "HostedZoneNotEmpty" => {
            "the zone still holds records besides its NS and SOA: delete them, or set `force_destroy: true`".to_string()
        }
        "PriorRequestNotComplete" => "an earlier change to this zone is still being applied: try again".to_string(),
        _ => return None,
    };
    Some(h)
}

/// An id without the `/hostedzone/`, `/change/` or `/healthcheck/` prefix AWS returns.
pub(crate) fn bare(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// A DNS name as compared: lower case, no trailing dot, `*` unescaped
/// (Route 53 returns names with a dot and `\052` for `*`).
pub(crate) fn dns_name(name: &str) -> String {
    name.trim_end_matches('.').replace("\\052", "*").to_ascii_lowercase()
}

/// Waits until a change is INSYNC on every Route 53 name server. The
/// operation's timeout bounds the wait; progress goes to the apply's
/// "Still ..." lines.
pub(crate) async fn wait_insync(cx: &Ctx<'_>, change: Option<&str>) -> Result<(), KindError> {
    let Some(change) = change.map(bare) else { return Ok(()) };
    let r53 = cx.aws.route53().await;
    let started = Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        let out = r53.get_change().id(change).send().await.map_err(|e| r53_error("GetChange", e))?;
        let status = out.change_info().map(|c| c.status().clone());
        if status == Some(ChangeStatus::Insync) {
            return Ok(());
        }
        report_status(format!(
            "change {change} {} for {}s: Route 53 name servers are taking it",
            status.as_ref().map(|s| s.as_str()).unwrap_or("PENDING"),
            started.elapsed().as_secs()
        ));
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_compare_as_route53_returns_them() {
        assert_eq!(dns_name("Chat.Example.COM."), "chat.example.com");
        assert_eq!(dns_name("\\052.example.com."), "*.example.com");
        assert_eq!(bare("/hostedzone/Z123"), "Z123");
        assert_eq!(bare("/change/C2682N5HXP0BZ4"), "C2682N5HXP0BZ4");
        assert_eq!(bare("Z123"), "Z123");
    }

    #[test]
    fn hints_point_at_import_and_aliases() {
        let h = r53_hint(
            "ChangeResourceRecordSets",
            "InvalidChangeBatch",
            "[Tried to create resource record set [name='chat.example.com.', type='A', set-identifier='us-west-1'] but it already exists]",
        )
        .unwrap();
        assert!(h.contains("standby import"), "{h}");
        assert!(r53_hint("DeleteHealthCheck", "HealthCheckInUse", "").unwrap().contains("record"));
        assert_eq!(r53_hint("GetChange", "Throttling", ""), None);
    }
}
