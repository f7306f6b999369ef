//! `drill.last_success`: a failover was rehearsed, successfully, recently
//! enough. Reads the drills' own record (`standby drill` keeps it beside
//! production's state), never AWS.

use super::{Check, Status};
use crate::state::roles::DrillRecord;
use serde_json::json;
use std::time::Duration;

/// The default maximum age of the last successful drill.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 86_400);

/// Seconds since the epoch of an RFC 3339 UTC time as standby writes them
/// (`2026-12-01T21:04:05Z`, fractions ignored); `None` when it is not one.
pub fn parse_rfc3339(t: &str) -> Option<u64> {
    let (date, time) = t.trim_end_matches('Z').split_once('T')?;
    let mut d = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut h = time.split('.').next()?.splitn(3, ':').map(|x| x.parse::<i64>().ok());
    let (hh, mm, ss) = (h.next()??, h.next()??, h.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Howard Hinnant's days-from-civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

/// Passes when the newest successful drill ended less than `max_age` ago
/// (`now`: seconds since the epoch); fails otherwise, never-run included.
pub fn last_success(drills: &[DrillRecord], max_age: Duration, now: u64) -> Check {
    let last = drills.iter().rev().find(|d| d.passed());
    let age = last.and_then(|d| parse_rfc3339(&d.ended)).map(|t| now.saturating_sub(t));
    let days = |s: u64| s / 86_400;
    let ok = age.is_some_and(|a| a <= max_age.as_secs());
    let title = match (last, age) {
        (Some(d), Some(a)) => {
            format!("last successful drill: {} days ago (drill {} in {}, {}s)", days(a), d.id, d.region, d.seconds)
        }
        _ => "last successful drill: never".to_string(),
    };
    let failed_since = drills.iter().rev().take_while(|d| !d.passed()).count();
    let mut c = Check::new("drill.last_success", title, ok)
        .values(
            json!(format!("a successful drill within {} days", days(max_age.as_secs()))),
            match age {
                Some(a) => json!(format!("{} days ago", days(a))),
                None => json!("never"),
            },
        )
        .impact(
            "nobody has proven recently that a failover to the standby region works: it may fail on the day it is \
             needed",
        );
    if !ok {
        c = c.fix(if failed_since > 0 {
            format!(
                "the last {failed_since} drill(s) failed (see `standby drill`'s output); fix the cause and run `standby \
                 drill` again"
            )
        } else {
            "run `standby drill` (it rehearses the failover on copies and deletes them)".to_string()
        });
    }
    debug_assert!(c.status == Status::Pass || c.fix.is_some());
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drill(id: &str, ended: &str, outcome: &str) -> DrillRecord {
        DrillRecord {
            id: id.into(),
            region: "us-east-1".into(),
            started: ended.into(),
            ended: ended.into(),
            outcome: outcome.into(),
            steps: vec![("drill.db-copy".into(), 40)],
            seconds: 42,
        }
    }

    #[test]
    fn times_parse_as_standby_writes_them() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-12-01T21:04:05Z"), Some(1_796_159_045));
        assert_eq!(parse_rfc3339("2024-02-29T00:00:01.5Z"), Some(1_709_164_801));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn the_newest_successful_drill_counts_and_its_age_is_bounded() {
        let now = parse_rfc3339("2026-12-06T12:00:00Z").unwrap();
        let max = DEFAULT_MAX_AGE;
        let c = last_success(&[drill("a", "2026-12-01T12:00:00Z", "passed")], max, now);
        assert_eq!(c.status, Status::Pass);
        assert_eq!(c.title, "last successful drill: 5 days ago (drill a in us-east-1, 42s)");
        // A failed drill after it does not reset the age, and is named in the fix once too old.
        let old = [drill("a", "2026-10-01T12:00:00Z", "passed"), drill("b", "2026-12-05T12:00:00Z", "failed: x")];
        let c = last_success(&old, max, now);
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.actual, json!("66 days ago"));
        assert!(c.fix.as_deref().unwrap().starts_with("the last 1 drill(s) failed"), "{c:?}");
        let never = last_success(&[], max, now);
        assert_eq!((never.status, never.title.as_str()), (Status::Fail, "last successful drill: never"));
        assert!(never.fix.unwrap().contains("run `standby drill`"));
    }
}
