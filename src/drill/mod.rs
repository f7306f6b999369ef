//! Drills: a failover rehearsed on copies of the standby region, never
//! touching production. The drill is a [`Runbook`] (`mode: "drill"`, the
//! plan's data type) carried out by the one journaled executor
//! (`switchover::exec`), so a drill is shown before it runs, recorded step
//! by step, and resumed or cleaned up after a kill.
//!
//! **Flow.** [`source`] finds, in the state, what a failover to the standby
//! region would promote (its Aurora cluster); [`runbook`] names everything
//! the drill makes `<prefix>-drill-<id>[-…]` and lays out the steps: copy
//! the database ([`db::copy`]: an Aurora clone of the standby cluster, else
//! a full copy at the newest restorable time), then clean up ([`db::delete`]).
//!
//! **Guarantees.** [`check_targets`] refuses a runbook with a step that
//! would change anything not named for the drill, or that switches roles or
//! deletes production data, before any call; the executor's steps observe
//! AWS first (a copy already made is waited on, not made again; a copy
//! already gone is not deleted twice). The drill's record is not
//! production's state: the CLI keeps it beside it (see `cli::drill`).
//!
//! **Caveats.** Whether AWS clones a global database's secondary is not
//! stated by the Aurora User Guide either way (its cloning limitations
//! name other Regions and clusters without instances): a refused clone
//! falls back to a full-copy restore at `LatestRestorableTime`, said in the
//! outcome (docs/drill.md, "The database copy").

pub mod app;
pub mod db;
pub mod http;
pub mod measure;
pub mod report;
pub mod search;

use crate::plan::runbook::{Runbook, Step, StepAction};
use crate::state::State;
use crate::value::Value;

/// The tag every drill resource carries (value: the drill id).
pub const TAG: &str = "standby-drill";

/// Step ids.
pub const DB_COPY: &str = "drill.db-copy";
pub const SEARCH_COPY: &str = "drill.search-copy";
pub const SEARCH_WRITABLE: &str = "drill.search-writable";
pub const APP: &str = "drill.app";
pub const SERVING: &str = "drill.serving";
pub const POST: &str = "drill.post";
pub const CLEANUP: &str = "drill.cleanup";

/// The instance class of the copy when the standby cluster has none to copy.
pub const DEFAULT_INSTANCE_CLASS: &str = "db.r6g.large";

#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error("{0}")]
    Source(String),
    #[error("the drill's runbook would touch what is not the drill's own:\n{}", .0.join("\n"))]
    Unsafe(Vec<String>),
    #[error("`{0}` is not a drill id (6 characters from a-z and 0-9, as `standby drill` prints them)")]
    BadId(String),
}

/// A new drill id: 6 characters of a-z0-9, so that `<prefix>-drill-<id>`
/// stays within AWS's shortest name limit (an OpenSearch domain: 28).
pub fn new_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let hex = crate::ids::random_id();
    hex.as_bytes()
        .chunks(2)
        .take(6)
        .map(|pair| {
            let n = u8::from_str_radix(std::str::from_utf8(pair).unwrap_or("0"), 16).unwrap_or(0);
            ALPHABET[n as usize % ALPHABET.len()] as char
        })
        .collect()
}

/// An id as `standby drill` makes them, or why not.
pub fn valid_id(id: &str) -> Result<(), DrillError> {
    let ok = id.len() == 6 && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok { Ok(()) } else { Err(DrillError::BadId(id.to_string())) }
}

/// The name every drill resource starts with.
pub fn name(prefix: &str, id: &str) -> String {
    format!("{prefix}-drill-{id}")
}

/// `STANDBY_DRILL_TOKEN`: a Mattermost personal access token (of a
/// production user or bot: the copy holds production's tokens) for the
/// drill's reads and its post. Never printed, logged or stored.
pub const ENV_TOKEN: &str = "STANDBY_DRILL_TOKEN";

/// The app tier a drill runs on its copies, and the channel it posts to.
#[derive(Clone, Debug, PartialEq)]
pub struct Tier {
    pub spec: app::Spec,
    pub channel: Option<String>,
}

impl Tier {
    /// The site's URL, as users reach production.
    pub fn site_url(&self) -> String {
        self.spec.inputs.get("site_url").and_then(|v| v.as_str()).unwrap_or_default().to_string()
    }

    /// Production as users reach it: the site's hostname on the app tier's
    /// listener (its protocol and port: what the load balancers answer on).
    pub fn production(&self) -> Option<http::Site> {
        let site = http::Site::from_url(&self.site_url()).ok()?;
        let port = self.spec.inputs.get("listener_port").and_then(|v| v.as_u64()).map(|p| p as u16);
        let https =
            self.spec.inputs.get("listener_protocol").and_then(|v| v.as_str()).map(|p| p.eq_ignore_ascii_case("HTTPS"));
        let host = site.host.clone();
        Some(site.via(&host, port.unwrap_or(site.port), https.unwrap_or(site.https)))
    }
}

/// What the executor's drill steps need at run time (never stored).
pub struct Session {
    pub aws: std::sync::Arc<crate::aws::Aws>,
    pub progress: std::sync::Arc<crate::apply::progress::Progress>,
    pub token: Option<String>,
    pub channel: Option<String>,
    /// Production as users reach it ([`Tier::production`]).
    pub production: Option<http::Site>,
}

/// What a failover to the standby region would promote, as the state has it.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// The standby cluster (a secondary of the global database).
    pub cluster: String,
    /// Its AWS region, and the active one's.
    pub region: String,
    pub active_region: String,
    /// The class of its first instance (the copy's), if it has one.
    pub instance_class: Option<String>,
    /// The standby search follower, when the state has cross-cluster replication there.
    pub search: Option<SearchSource>,
}

/// The standby search follower and what it follows, as the state has them.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchSource {
    /// The follower domain's address and name.
    pub via: String,
    pub follower: String,
    /// The leader's name and AWS region.
    pub leader: String,
    pub leader_region: String,
    /// Followed indices, and auto-follow rules (name, pattern).
    pub indices: Vec<String>,
    pub rules: Vec<(String, String)>,
}

/// The search follower in `region`: its outbound connection to the leader,
/// the domain it starts from, and what follows through that connection.
fn search_source(st: &State, region: &str) -> Option<SearchSource> {
    let s = |attrs: &crate::value::Attrs, k: &str| attrs.get(k).and_then(Value::as_str).map(str::to_string);
    let here = |t: &'static str| st.resources.iter().filter(move |(_, i)| i.type_name == t && i.region == region);
    let (_, conn) = here("aws_opensearch_outbound_connection").next()?;
    let follower = s(&conn.attrs, "local_domain_name")?;
    let alias = s(&conn.attrs, "connection_alias");
    let via = here("aws_opensearch_domain")
        .find(|(_, i)| s(&i.attrs, "domain_name").as_deref() == Some(follower.as_str()))
        .map(|(a, _)| a.to_string())?;
    let through = |i: &crate::state::Instance| alias.is_none() || s(&i.attrs, "leader_alias") == alias;
    let mut indices: Vec<String> = here("opensearch_index_replication")
        .filter(|(_, i)| through(i))
        .filter_map(|(_, i)| s(&i.attrs, "follower_index"))
        .collect();
    indices.sort();
    let mut rules: Vec<(String, String)> = here("opensearch_autofollow_rule")
        .filter(|(_, i)| through(i))
        .filter_map(|(_, i)| Some((s(&i.attrs, "rule_name")?, s(&i.attrs, "pattern")?)))
        .collect();
    rules.sort();
    Some(SearchSource {
        via,
        follower,
        leader: s(&conn.attrs, "remote_domain_name")?,
        leader_region: s(&conn.attrs, "remote_region")?,
        indices,
        rules,
    })
}

/// The standby cluster: the `aws_rds_cluster` of the global database that
/// is not the writer (or the one in `to_region` when given).
pub fn source(st: &State, to_region: Option<&str>) -> Result<Source, DrillError> {
    let s = |attrs: &crate::value::Attrs, k: &str| attrs.get(k).and_then(Value::as_str).map(str::to_string);
    let global =
        st.resources.values().find(|i| i.type_name == "aws_rds_global_cluster").ok_or_else(|| {
            DrillError::Source("the state holds no Aurora global database: nothing to rehearse".into())
        })?;
    let writer = s(&global.attrs, "writer_region").unwrap_or_default();
    let standby = st
        .resources
        .values()
        .filter(|i| i.type_name == "aws_rds_cluster" && i.region != writer)
        .find(|i| to_region.is_none_or(|r| i.region == r))
        .ok_or_else(|| {
            DrillError::Source(match to_region {
                Some(r) => format!("the state holds no standby Aurora cluster in {r} (the writer is in {writer})"),
                None => format!("the state holds no standby Aurora cluster (the writer is in {writer})"),
            })
        })?;
    let cluster = s(&standby.attrs, "cluster_identifier")
        .ok_or_else(|| DrillError::Source("the standby cluster has no identifier in the state".into()))?;
    let instance_class = st
        .resources
        .values()
        .filter(|i| i.type_name == "aws_rds_cluster_instance" && i.region == standby.region)
        .filter(|i| s(&i.attrs, "cluster_identifier").as_deref() == Some(cluster.as_str()))
        .find_map(|i| s(&i.attrs, "instance_class"));
    let search = search_source(st, &standby.region);
    Ok(Source { cluster, region: standby.region.clone(), active_region: writer, instance_class, search })
}

/// The drill's runbook: the database copied in the standby region, then
/// everything the drill made deleted. `from`/`to` are the region names.
pub fn runbook(src: &Source, prefix: &str, id: &str, from: &str, to: &str, tier: Option<&Tier>) -> Runbook {
    let copy = name(prefix, id);
    let instance = format!("{copy}-1");
    let class = src.instance_class.clone().unwrap_or_else(|| DEFAULT_INSTANCE_CLASS.to_string());
    let steps = vec![Step::new(
        DB_COPY,
        format!(
            "Database: {copy}, an Aurora clone of the standby cluster {} (copy-on-write, its newest data; a full \
                 copy at its latest restorable time if AWS refuses the clone), then its writer {instance} \
                 ({class}); production is only read",
            src.cluster
        ),
        &[src.region.as_str()],
        StepAction::DrillDbCopy {
            source_cluster: src.cluster.clone(),
            copy: copy.clone(),
            instance: instance.clone(),
            instance_class: class,
            drill: id.to_string(),
        },
    )];
    let mut steps = steps;
    let mut domains = Vec::new();
    if let Some(search) = &src.search {
        steps.push(Step::new(
            SEARCH_COPY,
            format!(
                "Search: {copy}, a domain shaped as the standby follower {}, following the leader {} ({}) as a third \
                 follower: {} index(es), {} auto-follow rule(s); the leader is only read",
                search.follower,
                search.leader,
                search.leader_region,
                search.indices.len(),
                search.rules.len()
            ),
            &[src.region.as_str()],
            StepAction::DrillSearchCopy {
                via: search.via.clone(),
                follower: search.follower.clone(),
                leader: search.leader.clone(),
                leader_region: search.leader_region.clone(),
                copy: copy.clone(),
                indices: search.indices.clone(),
                rules: search.rules.clone(),
                drill: id.to_string(),
            },
        ));
        steps.push(Step::new(
            SEARCH_WRITABLE,
            format!("Search: {copy}'s followers stopped, as a failover stops the standby's: writable"),
            &[src.region.as_str()],
            StepAction::DrillSearchWritable {
                via: search.via.clone(),
                copy: copy.clone(),
                rules: search.rules.iter().map(|(n, _)| format!("{copy}:{n}")).collect(),
                indices: search.indices.clone(),
                patterns: search.rules.iter().map(|(_, p)| p.clone()).collect(),
                drill: id.to_string(),
            },
        ));
        domains.push(copy.clone());
    }
    if let Some(tier) = tier {
        let site = tier.site_url();
        steps.push(Step::new(
            APP,
            format!(
                "App tier: {copy}, one Mattermost node of {} on the copies, behind its own load balancer (no DNS \
                 record), outbound notifications, integrations, shared channels, scheduler and jobs off, \
                 {}, the standby bucket read-only, egress only to 5432 and 443; the \
                 database copy put in {copy}-db, which admits only it",
                tier.spec.module.rsplit('/').next().unwrap_or_default(),
                if domains.is_empty() {
                    "Mattermost's search off (no search copy: no cross-cluster replication in the standby region; \
                     never production's domain)"
                } else {
                    "Mattermost's search on the search copy, as Mattermost's own search user (made there as the \
                     standby follower has it)"
                }
            ),
            &[src.region.as_str()],
            StepAction::DrillApp {
                module: tier.spec.module.clone(),
                inputs: tier.spec.inputs.clone(),
                name: copy.clone(),
                search: domains.first().cloned(),
                drill: id.to_string(),
            },
        ));
        steps.push(Step::new(
            SERVING,
            format!("Serving: {copy}'s node in service and healthy, /api/v4/system/ping 200 through its load balancer as {site}"),
            &[src.region.as_str()],
            StepAction::DrillServing { site_url: site.clone(), drill: id.to_string() },
        ));
        steps.push(Step::new(
            POST,
            match &tier.channel {
                Some(c) => format!("Post: a message into channel {c} through {copy}'s load balancer (the copy only)"),
                None => "Post: skipped (no --channel): the recovery time is measured to serving".to_string(),
            },
            &[src.region.as_str()],
            StepAction::DrillPost { site_url: site, channel: tier.channel.clone(), drill: id.to_string() },
        ));
    }
    let what = if domains.is_empty() {
        String::new()
    } else {
        format!("; the search copy {copy}: its connection deleted, then the domain")
    };
    let (app, app_what) = match tier {
        Some(_) => (true, format!("{copy}'s app tier removed (EC2, load balancer, Auto Scaling, IAM), then ")),
        None => (false, String::new()),
    };
    steps.push(Step::new(
        CLEANUP,
        format!("Cleanup: {app_what}{instance} deleted, then {copy} (no final snapshot: it is a copy){what}"),
        &[src.region.as_str()],
        StepAction::DrillCleanup {
            clusters: vec![copy],
            instances: vec![instance],
            domains,
            drill: id.to_string(),
            app,
        },
    ));
    Runbook {
        mode: "drill".into(),
        from: from.to_string(),
        to: to.to_string(),
        from_region: src.active_region.clone(),
        to_region: src.region.clone(),
        steps,
    }
}

/// A kept drill's cleanup removes the app tier its record holds even when
/// today's configuration has none (renamed, removed, or no Auto Scaling
/// group in the state any more): the record, not the configuration, says
/// what was made.
pub fn cleanup_recorded_app(rb: &mut Runbook, on_record: bool) {
    for step in &mut rb.steps {
        if let StepAction::DrillCleanup { app, clusters, .. } = &mut step.action
            && on_record
            && !*app
        {
            *app = true;
            let copy = clusters.first().cloned().unwrap_or_default();
            step.title = format!(
                "{} (and first {copy}'s app tier on the drill's record, removed although the configuration has \
                 none now)",
                step.title
            );
        }
    }
}

/// The cleanup part of a drill's runbook (`standby drill --cleanup ID`,
/// and after a failed step): its cleanup steps only.
pub fn cleanup_only(mut rb: Runbook) -> Runbook {
    rb.steps.retain(|s| matches!(s.action, StepAction::DrillCleanup { .. }));
    rb
}

/// What each step would change, by name. Steps that only observe give none.
/// A role switch or a deletion of production's copies is never a drill's.
fn changes(action: &StepAction) -> Result<Vec<String>, String> {
    Ok(match action {
        StepAction::DrillDbCopy { copy, instance, .. } => vec![copy.clone(), instance.clone()],
        StepAction::DrillCleanup { clusters, instances, domains, .. } => {
            [clusters.clone(), instances.clone(), domains.clone()].concat()
        }
        // Its connection is accepted on the leader's side: a call naming the
        // drill's connection, never an index, setting or user of the leader.
        StepAction::DrillSearchCopy { copy, .. } => vec![copy.clone()],
        StepAction::DrillSearchWritable { copy, .. } => vec![copy.clone()],
        // Everything it makes is named `name` or `name-…` (the module names
        // all from its prefix); the database copy is put in the drill's group.
        StepAction::DrillApp { name, .. } => vec![name.clone()],
        // Reads, and a post on the copy (Mattermost's, not AWS's).
        StepAction::DrillServing { .. } | StepAction::DrillPost { .. } => Vec::new(),
        StepAction::SearchStopFollowers { domain, .. } => vec![domain.clone()],
        StepAction::AppServing { .. } => Vec::new(),
        StepAction::Readiness { .. } => Vec::new(),
        other => {
            return Err(format!(
                "a {} step changes production (a drill never switches roles, writes production's settings or deletes \
                 its data)",
                serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v.get("action").and_then(|a| a.as_str()).map(str::to_string))
                    .unwrap_or_default()
            ));
        }
    })
}

/// Every step changes only what is named `<prefix>-drill-<id>…`, checked
/// before any call: all the problems at once.
pub fn check_targets(rb: &Runbook, prefix: &str, id: &str) -> Result<(), DrillError> {
    let own = name(prefix, id);
    let mut problems = Vec::new();
    for step in &rb.steps {
        match changes(&step.action) {
            Err(e) => problems.push(format!("  - {}: {e}", step.id)),
            Ok(names) => {
                for n in names.iter().filter(|n| !(n.as_str() == own || n.starts_with(&format!("{own}-")))) {
                    problems.push(format!("  - {}: would change `{n}`, which is not named {own}[-…]", step.id));
                }
            }
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(DrillError::Unsafe(problems)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::file::instance_addr;
    use crate::state::{Instance, State};

    fn state() -> State {
        let mut st = State::new();
        let mut put = |addr: &str, t: &str, region: &str, attrs: &[(&str, &str)]| {
            let mut inst = Instance {
                type_name: t.into(),
                region: region.into(),
                id: None,
                status: Default::default(),
                attrs: Default::default(),
                sensitive: Default::default(),
                deps: Vec::new(),
                adopted: false,
                found: None,
            };
            for (k, v) in attrs {
                inst.attrs.insert((*k).into(), Value::str(*v));
            }
            st.resources.insert(instance_addr(addr).unwrap(), inst);
        };
        put(
            "module.database.aws_rds_global_cluster.global",
            "aws_rds_global_cluster",
            "us-west-1",
            &[("global_cluster_identifier", "mm"), ("writer_region", "us-west-1")],
        );
        put(
            "module.database.aws_rds_cluster.primary",
            "aws_rds_cluster",
            "us-west-1",
            &[("cluster_identifier", "mm-west")],
        );
        put(
            "module.database.aws_rds_cluster.secondary",
            "aws_rds_cluster",
            "us-east-1",
            &[("cluster_identifier", "mm-east")],
        );
        put(
            "module.database.aws_rds_cluster_instance.secondary[0]",
            "aws_rds_cluster_instance",
            "us-east-1",
            &[("cluster_identifier", "mm-east"), ("instance_class", "db.r6g.xlarge")],
        );
        st
    }

    #[test]
    fn the_source_is_the_standby_cluster_and_its_class() {
        let src = source(&state(), None).unwrap();
        assert_eq!(
            src,
            Source {
                cluster: "mm-east".into(),
                region: "us-east-1".into(),
                active_region: "us-west-1".into(),
                instance_class: Some("db.r6g.xlarge".into()),
                search: None,
            }
        );
        assert!(
            source(&state(), Some("us-west-2"))
                .unwrap_err()
                .to_string()
                .contains("no standby Aurora cluster in us-west-2")
        );
        assert!(source(&State::new(), None).unwrap_err().to_string().contains("no Aurora global database"));
    }

    #[test]
    fn everything_the_drill_changes_is_named_for_it() {
        let src = source(&state(), None).unwrap();
        let rb = runbook(&src, "mattermost-dr", "ab12cd", "primary", "secondary", None);
        assert_eq!(rb.mode, "drill");
        assert_eq!(rb.steps.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), vec![DB_COPY, CLEANUP]);
        assert!(rb.steps.iter().all(|s| s.needs == vec!["us-east-1".to_string()]), "never the active region");
        check_targets(&rb, "mattermost-dr", "ab12cd").unwrap();
        // Another drill's name, or production's, is refused, all at once.
        let err = check_targets(&rb, "mattermost-dr", "zz99zz").unwrap_err().to_string();
        assert_eq!(err.matches("not named mattermost-dr-drill-zz99zz").count(), 4, "{err}");
        let mut bad = rb.clone();
        if let StepAction::DrillDbCopy { copy, .. } = &mut bad.steps[0].action {
            *copy = "mm-east".into();
        }
        bad.steps.push(Step::new(
            "x",
            "t".into(),
            &["us-east-1"],
            StepAction::AuroraFailover {
                address: "g".into(),
                global_cluster: "mm".into(),
                target_region: "us-east-1".into(),
            },
        ));
        let err = check_targets(&bad, "mattermost-dr", "ab12cd").unwrap_err().to_string();
        assert!(err.contains("would change `mm-east`"), "{err}");
        assert!(err.contains("x: a aurora_failover step changes production"), "{err}");
    }

    #[test]
    fn ids_are_short_and_valid_and_the_cleanup_keeps_only_its_steps() {
        let id = new_id();
        valid_id(&id).unwrap();
        assert_ne!(id, new_id());
        assert!(valid_id("AB12CD").is_err() && valid_id("ab12c").is_err() && valid_id("ab-2cd").is_err());
        assert!(name("mattermost-dr", &id).len() <= 28, "an OpenSearch domain name has at most 28 characters");
        let rb = runbook(&source(&state(), None).unwrap(), "mattermost-dr", &id, "primary", "secondary", None);
        let c = cleanup_only(rb);
        assert_eq!(c.steps.len(), 1);
        assert_eq!(c.steps[0].id, CLEANUP);
    }

    #[test]
    fn a_search_copy_is_named_for_the_drill_and_cleaned_up() {
        let mut src = source(&state(), None).unwrap();
        src.search = Some(SearchSource {
            via: "module.search.aws_opensearch_domain.follower".into(),
            follower: "mm-os-east".into(),
            leader: "mm-prod-search".into(),
            leader_region: "us-west-1".into(),
            indices: vec!["channels".into()],
            rules: vec![("posts".into(), "posts*".into())],
        });
        let rb = runbook(&src, "mattermost-dr", "ab12cd", "primary", "secondary", None);
        let ids: Vec<&str> = rb.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec![DB_COPY, SEARCH_COPY, SEARCH_WRITABLE, CLEANUP]);
        check_targets(&rb, "mattermost-dr", "ab12cd").unwrap();
        match &rb.steps[2].action {
            StepAction::DrillSearchWritable { rules, patterns, .. } => {
                assert_eq!(
                    (rules, patterns),
                    (&vec!["mattermost-dr-drill-ab12cd:posts".to_string()], &vec!["posts*".to_string()])
                );
            }
            other => panic!("{other:?}"),
        }
        match &cleanup_only(rb).steps[0].action {
            StepAction::DrillCleanup { domains, .. } => {
                assert_eq!(domains, &vec!["mattermost-dr-drill-ab12cd".to_string()])
            }
            other => panic!("{other:?}"),
        }
    }
}
