//! What a drill measures as users would: its copy serving through its own
//! load balancer, a post there, and the newest post production had when
//! the copy was taken against the newest the copy shows (RPO).
//!
//! Every figure goes into the run's `measures` (ms since the epoch, ids),
//! which the report turns into RTO and RPO ([`super::report`]). A read of
//! production is only a read (`GET …/posts?per_page=1`), and one that fails
//! leaves RPO "not measured" with the reason, never fails the drill.

use super::Session;
use super::http::{self, Site};
use crate::aws::Aws;
use crate::kinds::KindError;
use crate::state::State;
use crate::state::roles::Run;
use crate::switchover::exec::Done;
use hyper::Method;
use serde_json::{Value as Json, json};
use std::time::{Duration, Instant, SystemTime};

type Progress<'a> = &'a (dyn Fn(&str) + Send + Sync);

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn posts_path(channel: &str, n: u32) -> String {
    format!("/api/v4/channels/{channel}/posts?per_page={n}")
}

/// The newest post of `channel` on `site`: `Ok(None)` when it has none.
async fn newest(site: &Site, token: &str, channel: &str) -> Result<Option<(String, i64)>, String> {
    let a = http::get(site, &posts_path(channel, 1), Some(token), 4).await?;
    if a.status != 200 {
        return Err(format!("HTTP {} {}", a.status, a.error_id()));
    }
    http::newest(&a.body)
}

/// How far back [`production_newest`] pages (Mattermost's largest page).
const PAGE: u32 = 200;
const PAGES: u32 = 10;

/// Production's newest post in the channel as of the copy's `moment`
/// (`{ms, how}` from `drill.db-copy`): the newest post with `create_at` ≤
/// the moment, paging back (`page`, `per_page`: api4/post.go
/// `getPostsForChannel`) at most [`PAGES`] pages; read through the site URL
/// as users reach it, once the copy serves. Why not, when it cannot be had.
pub async fn production_newest(s: &Session, moment: Option<&Json>) -> Vec<(String, Json)> {
    let why = |w: String| vec![("production_newest".to_string(), json!({ "error": w }))];
    let Some((ms, how)) = moment.and_then(|m| Some((m.get("ms")?.as_i64()?, m.get("how")?.as_str()?.to_string())))
    else {
        return why("the copy's moment is not on record (AWS gave none)".into());
    };
    let (Some(channel), Some(token), Some(site)) = (&s.channel, &s.token, &s.production) else {
        return why(match (&s.channel, &s.token) {
            (None, _) => "no --channel".into(),
            (_, None) => format!("no {}", super::ENV_TOKEN),
            _ => "no site URL".into(),
        });
    };
    let url = site.describe();
    let found = |id: String, at: i64| {
        vec![("production_newest".to_string(), json!({ "id": id, "create_at": at, "moment_ms": ms, "how": how }))]
    };
    for page in 0..PAGES {
        let path = format!("/api/v4/channels/{channel}/posts?page={page}&per_page={PAGE}");
        let a = match http::get(site, &path, Some(token), 4).await {
            Ok(a) if a.status == 200 => a,
            Ok(a) => {
                return why(format!(
                    "production's newest post could not be read at {url}: HTTP {} {}",
                    a.status,
                    a.error_id()
                ));
            }
            Err(e) => return why(format!("production's newest post could not be read at {url}: {e}")),
        };
        let posts = match http::posts(&a.body) {
            Ok(p) => p,
            Err(e) => return why(format!("production's posts at {url}: {e}")),
        };
        if let Some((id, at)) = posts.iter().filter(|(_, a)| *a <= ms).max_by_key(|(_, a)| *a) {
            return found(id.clone(), *at);
        }
        if posts.len() < PAGE as usize {
            return found(String::new(), 0);
        }
    }
    why(format!("more than {} posts in the channel after the copy's moment", PAGE * PAGES))
}

/// The drill's load balancer as the site (from the record).
fn drill_site(rec: &State, site_url: &str) -> Result<Site, KindError> {
    let (dns, port, https) = super::app::load_balancer(rec)
        .ok_or_else(|| KindError::Failed("the drill's load balancer is not on its record".into()))?;
    Ok(Site::from_url(site_url).map_err(KindError::Failed)?.via(&dns, port, https))
}

/// Waits until the drill's group serves (its node in service, its target
/// healthy) and Mattermost's ping answers 200 through the load balancer,
/// for `STANDBY_APP_SERVING_SECS` (default 900); then reads the copy's
/// newest post, and production's as of the copy's moment (RPO), when a
/// channel and token are given.
pub(crate) async fn serving(
    aws: &Aws,
    s: &Session,
    region: &str,
    rec: &State,
    site_url: &str,
    moment: Option<&Json>,
    progress: Progress<'_>,
) -> Result<Done, KindError> {
    let secs = std::env::var(crate::switchover::exec::ENV_APP_SERVING_SECS)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(900);
    let limit = Duration::from_secs(secs);
    let site = drill_site(rec, site_url)?;
    let t0 = Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        let groups = crate::health::app::groups(aws, rec, region).await.map_err(KindError::Failed)?;
        let mut now = groups.iter().map(crate::health::app::Group::describe).collect::<Vec<_>>().join("; ");
        let mut ok = !groups.is_empty() && groups.iter().all(crate::health::app::Group::serves);
        if ok {
            match http::send(&site, Method::GET, "/api/v4/system/ping", None, None).await {
                Ok(a) if a.status == 200 => {}
                Ok(a) => {
                    ok = false;
                    now.push_str(&format!("; ping through {}: HTTP {}", site.describe(), a.status));
                }
                Err(e) => {
                    ok = false;
                    now.push_str(&format!("; ping: {e}"));
                }
            }
        }
        if ok {
            let at = now_ms();
            let mut done = Done::new(format!("serving at {}: {now}", site.describe()));
            done.measures.push(("serving_ms".into(), json!(at)));
            done.measures.push(("url".into(), json!(site.describe())));
            if let (Some(channel), Some(token)) = (&s.channel, &s.token) {
                let copy = match newest(&site, token, channel).await {
                    Ok(Some((id, at))) => json!({ "id": id, "create_at": at }),
                    Ok(None) => json!({ "id": null, "create_at": 0 }),
                    Err(e) => json!({ "error": format!("the copy's newest post could not be read: {e}") }),
                };
                done.measures.push(("copy_newest".into(), copy));
                // Production as of the copy's moment, read now (posts made since are not the reference).
                done.measures.extend(production_newest(s, moment).await);
            }
            return Ok(done);
        }
        if t0.elapsed() >= limit {
            return Err(KindError::Failed(format!(
                "the drill's app tier does not serve after {}s: {now} (see its node's console output and the target \
                 group's health; {} sets the wait)",
                t0.elapsed().as_secs(),
                crate::switchover::exec::ENV_APP_SERVING_SECS
            )));
        }
        progress(&format!("    waiting for the drill's node to serve ({}s): {now}", t0.elapsed().as_secs()));
        tokio::time::sleep(delay.min(limit.saturating_sub(t0.elapsed()))).await;
        delay = (delay * 2).min(Duration::from_secs(15));
    }
}

/// A post into `channel` through the drill's load balancer (201 = done),
/// never repeated blindly: before another try, the channel's newest posts
/// are read for the message, which is unique to this drill and moment.
pub(crate) async fn post(
    s: &Session,
    rec: &State,
    site_url: &str,
    channel: Option<&str>,
    drill: &str,
    run: &Run,
    progress: Progress<'_>,
) -> Result<Done, KindError> {
    let Some(channel) = channel else {
        let mut d = Done::new("skipped: no --channel (the recovery time is measured to serving)".into());
        d.measures.push(("post".into(), json!({ "outcome": "skipped", "detail": "no --channel" })));
        return Ok(d);
    };
    let token = s.token.as_deref().ok_or_else(|| {
        KindError::Failed(format!("{} is not set: the post needs a Mattermost token", super::ENV_TOKEN))
    })?;
    let site = drill_site(rec, site_url)?;
    // Unique to this drill and run: how a repeated try finds an earlier one that took effect.
    let started = run.measures.get("started_ms").and_then(Json::as_u64).unwrap_or_else(now_ms);
    let message = format!("standby drill {drill} ({started}): a post on the drill's copy, not on production");
    let body = json!({ "channel_id": channel, "message": message });
    let mut delay = Duration::from_secs(1);
    let mut last = String::new();
    // A run resumed after a kill may have posted before its record said so:
    // it looks first too (this run's own start is one `drill.post` event).
    let resumed = run.events.iter().filter(|e| e.step == super::POST).count() > 1;
    for attempt in 0..6 {
        if attempt > 0 {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(8));
        }
        if attempt > 0 || resumed {
            // Did an earlier try take effect? Without an answer, never post again.
            let looked = match http::get(&site, &posts_path(channel, 30), Some(token), 3).await {
                Ok(a) if a.status == 200 => Ok(http::find(&a.body, &message)),
                Ok(a) => Err(format!("HTTP {} {}", a.status, a.error_id())),
                Err(e) => Err(e),
            };
            match looked {
                Ok(Some(id)) => return Ok(posted(&site, id, "found after a try whose answer was lost".into())),
                Ok(None) => {}
                Err(e) => {
                    return Err(KindError::Failed(format!(
                        "the post through {} may have taken effect{}, and the channel could not be read to tell \
                         ({e}): not posting again (a duplicate on the copy); look for \"standby drill {drill}\" in \
                         the channel on the copy",
                        site.describe(),
                        if last.is_empty() {
                            " in the killed run".to_string()
                        } else {
                            format!(" (its answer: {last})")
                        },
                    )));
                }
            }
            if attempt > 0 {
                progress(&format!("    retrying the post ({last})"));
            }
        }
        match http::send(&site, Method::POST, "/api/v4/posts", Some(token), Some(&body)).await {
            Ok(a) if a.status == 201 => {
                let id = a.body.get("id").and_then(Json::as_str).unwrap_or_default().to_string();
                return Ok(posted(&site, id, "HTTP 201".into()));
            }
            Ok(a) if http::transient(a.status) => last = format!("HTTP {}", a.status),
            Ok(a) => {
                return Err(KindError::Failed(format!(
                    "the post through {} was refused: HTTP {} {}{}",
                    site.describe(),
                    a.status,
                    a.error_id(),
                    if a.status == 401 {
                        format!(" ({} must be a personal access token valid on production)", super::ENV_TOKEN)
                    } else {
                        String::new()
                    }
                )));
            }
            Err(e) => last = e,
        }
    }
    Err(KindError::Failed(format!("the post through {} failed: {last}", site.describe())))
}

fn posted(site: &Site, id: String, how: String) -> Done {
    let mut d = Done::new(format!("posted {id} through {} ({how})", site.describe()));
    d.measures.push(("posted_ms".into(), json!(now_ms())));
    d.measures.push(("post".into(), json!({ "outcome": "posted", "post_id": id, "detail": how })));
    d
}
