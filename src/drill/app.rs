//! The drill's app tier: one Mattermost node on the copies, apart from
//! users and production, made and removed with the ordinary planner and
//! applier on the drill's own record.
//!
//! **What it is.** The module the standby region's app tier uses
//! (`modules/mattermost-app-tier`, found from the production state's Auto
//! Scaling group in that region), called with the inputs the configuration
//! gives that instance, except: prefix and names `<prefix>-drill-<id>…`
//! (load balancer and target group within AWS's 32 characters), one node,
//! `active` but with Mattermost's silent settings
//! ([`crate::mattermost::SILENT`]: no email, push, webhooks, commands,
//! previews, plugins, LDAP sync, diagnostics, scheduler, jobs, cluster), the
//! copies' endpoints (read from AWS when the step runs), the standby bucket
//! read-only (`s3:GetObject` only), no Route 53 checkers, egress to 5432 and
//! 443 only, the drill's tag on everything.
//!
//! **The database's door.** The copy's writer sits in the VPC's default
//! security group (it is created without groups: `db.rs`), which admits
//! only that group's members. The drill adds its own group
//! `<prefix>-drill-<id>-db` admitting the drill's app group on 5432 and
//! puts the copy in it (`ModifyDBCluster`, the drill's own cluster): no
//! production group is changed. The cleanup removes the app tier first and
//! that group last, once the copy that uses it is gone (AWS refuses to
//! delete a group in use).
//!
//! **Journaled.** The root configuration is written to a scratch directory
//! and planned against the drill's record (refreshed first); the applier
//! journals every create in the record, so a kill keeps on record what was
//! made, and [`destroy`] (a plan of the same record with nothing wanted)
//! removes it.

use super::TAG;
use crate::apply::Applier;
use crate::apply::progress::Progress;
use crate::aws::Aws;
use crate::kinds::KindError;
use crate::load::Loaded;
use crate::plan::planner::{self, Options};
use crate::state::State;
use crate::state::backend::{self, Backend};
use crate::value::Value;
use serde_json::{Map, Value as Json, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The record's address of the drill's database group (removed last).
pub const DB_GROUP: &str = "aws_security_group.db";

/// What the drill's app tier is made from, kept in its runbook step.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// The module's directory (absolute).
    pub module: String,
    /// The inputs the configuration gives the standby region's instance.
    pub inputs: Map<String, Json>,
}

/// Where the standby region's app tier is called from: the module path of
/// the production state's Auto Scaling group in `region`.
fn standby_call(st: &State, region: &str) -> Option<Vec<String>> {
    st.resources
        .iter()
        .find(|(_, i)| i.type_name == "aws_autoscaling_group" && i.region == region)
        .map(|(a, _)| a.block.module.clone())
        .filter(|m| !m.is_empty())
}

/// The standby region's app tier as the configuration calls it, or why not.
pub fn spec(loaded: &Loaded, st: &State, region: &str) -> Result<Spec, String> {
    let call = standby_call(st, region)
        .ok_or_else(|| format!("the state holds no app tier (Auto Scaling group in a module) in {region}"))?;
    let node = loaded
        .tree
        .modules
        .iter()
        .find(|m| m.path == call)
        .ok_or_else(|| format!("module.{} is in the state but not in the configuration", call.join(".module.")))?;
    let dir = node.module.dir.canonicalize().unwrap_or_else(|_| node.module.dir.clone());
    let inputs = crate::load::module_inputs(loaded, st, &call).unwrap_or_default();
    let mut out = Map::new();
    for (k, v) in inputs {
        if v.has_unknown() {
            continue;
        }
        out.insert(k, serde_json::to_value(&v).unwrap_or(Json::Null));
    }
    if !out.contains_key("site_url") {
        return Err(format!("module.{} has no site_url: not Mattermost's app tier", call.join(".module.")));
    }
    Ok(Spec { module: dir.display().to_string(), inputs: out })
}

/// The name the load balancer and target group get, or why none fits:
/// CreateLoadBalancer's `Name` "a maximum of 32 characters, must contain
/// only alphanumeric characters or hyphens, must not begin or end with a
/// hyphen, and must not begin with "internal-"" (Elastic Load Balancing API
/// reference; target groups have the same 32 and character rules).
pub fn lb_name(name: &str) -> Result<String, String> {
    let fits = 32 - "-drill-xxxxxx".len();
    let why = if name.len() > 32 {
        format!("{} characters: AWS allows 32; use a prefix of at most {fits} characters", name.len())
    } else if let Some(c) = name.chars().find(|c| !c.is_ascii_alphanumeric() && *c != '-') {
        format!("`{c}` is not allowed: only letters, digits and hyphens; change the prefix")
    } else if name.starts_with('-') || name.ends_with('-') {
        "it may not begin or end with a hyphen; change the prefix".to_string()
    } else if name.to_ascii_lowercase().starts_with("internal-") {
        "it may not begin with `internal-`; change the prefix".to_string()
    } else {
        return Ok(name.to_string());
    };
    Err(format!("the drill's load balancer would be named `{name}`: {why}"))
}

/// Mattermost's search settings on the drill's node without a search copy (see [`inputs`]).
pub const SEARCH_OFF: &[(&str, &str)] = &[
    ("MM_ELASTICSEARCHSETTINGS_ENABLEINDEXING", "false"),
    ("MM_ELASTICSEARCHSETTINGS_ENABLESEARCHING", "false"),
    ("MM_ELASTICSEARCHSETTINGS_ENABLEAUTOCOMPLETE", "false"),
    ("MM_ELASTICSEARCHSETTINGS_CONNECTIONURL", ""),
];

/// The inputs the drill gives the module (see the module's doc).
pub fn inputs(spec: &Spec, name: &str, drill: &str, db: (&str, &str), search: Option<&str>) -> Map<String, Json> {
    let mut m = spec.inputs.clone();
    // What the nodes of the standby region are sized and placed by stays;
    // what makes them production's goes.
    for k in ["min_size", "max_size", "desired_capacity", "passive_capacity", "cluster_name"] {
        m.remove(k);
    }
    let version = m.get("mattermost_version").and_then(Json::as_str).map(str::to_string);
    let silent: Map<String, Json> = crate::mattermost::silent_for(version.as_deref())
        .map(|(k, v)| (k.to_string(), Json::String(v.to_string())))
        .collect();
    let set = |m: &mut Map<String, Json>, k: &str, v: Json| {
        m.insert(k.to_string(), v);
    };
    set(&mut m, "prefix", json!(name));
    set(&mut m, "lb_name", json!(name));
    set(&mut m, "target_group_name", json!(name));
    set(&mut m, "cluster_name", json!(name));
    set(&mut m, "tags", json!({ TAG: drill, "Name": name }));
    set(&mut m, "active", json!(true));
    set(&mut m, "min_size", json!(1));
    set(&mut m, "max_size", json!(1));
    set(&mut m, "desired_capacity", json!(1));
    set(&mut m, "passive_capacity", json!(1));
    set(&mut m, "route53_health_checkers", json!(false));
    set(&mut m, "restricted_egress", json!(true));
    set(&mut m, "files_object_actions", json!(["s3:GetObject"]));
    let mut silent = silent;
    match search {
        // Search on the copy, as Mattermost's own user (the drill makes it
        // there first, as the CCR module makes it on the follower): the
        // copy's endpoint, indexing, searching and autocomplete as the
        // standby tier has them.
        Some(s) => {
            let tier = spec.inputs.get("settings_overrides").and_then(Json::as_object);
            for (k, _) in &SEARCH_OFF[..3] {
                if let Some(v) = tier.and_then(|t| t.get(*k)) {
                    silent.insert(k.to_string(), v.clone());
                }
            }
            silent.insert("MM_ELASTICSEARCHSETTINGS_CONNECTIONURL".into(), json!(format!("https://{s}")));
        }
        // No search copy: the inputs name production's standby domain (the
        // node would write its index templates and the drill's post there),
        // so search is off, with no ConnectionURL at all.
        None => {
            for (k, v) in SEARCH_OFF {
                silent.insert(k.to_string(), json!(v));
            }
        }
    }
    set(&mut m, "settings_overrides", Json::Object(silent));
    // The copy's own writer: a cluster's writer endpoint (no global one).
    set(&mut m, "db_endpoint", json!(db.0));
    set(&mut m, "db_reader_endpoint", json!(db.1));
    if let Some(s) = search {
        set(&mut m, "search_endpoint", json!(s));
    }
    m
}

/// A root configuration's regions: everything the drill makes is in
/// `region` (`secondary`); a root declares `primary` too, which holds
/// nothing here (any other region does).
fn regions(region: &str) -> Json {
    let other = if region == "us-east-1" { "us-west-2" } else { "us-east-1" };
    json!({ "primary": other, "secondary": region })
}

/// The root configuration of the drill's app tier (JSON, which YAML reads).
fn root(spec: &Spec, region: &str, name: &str, drill: &str, inputs: Map<String, Json>) -> Json {
    json!({
        "regions": regions(region),
        "modules": {
            "app": { "source": spec.module, "inputs": inputs, "regions": { "main": "secondary" } }
        },
        "resources": {
            "db": {
                "type": "aws_security_group",
                "region": "secondary",
                "properties": {
                    "name": format!("{name}-db"),
                    "description": "A drill's database copy: its app node only",
                    "vpc_id": spec.inputs.get("vpc_id").cloned().unwrap_or(Json::Null),
                    "tags": { TAG: drill, "Name": format!("{name}-db") }
                }
            },
            "db_from_app": {
                "type": "aws_vpc_security_group_ingress_rule",
                "region": "secondary",
                "properties": {
                    "security_group_id": "${aws_security_group.db.id}",
                    "ip_protocol": "tcp",
                    "from_port": 5432,
                    "to_port": 5432,
                    "referenced_security_group_id": "${module.app.app_security_group_id}",
                    "description": "The drill's app node"
                }
            }
        }
    })
}

/// Writes a root configuration into a new scratch directory.
fn scratch(name: &str, root: &Json) -> Result<PathBuf, String> {
    let text = serde_json::to_string_pretty(root).map_err(|e| e.to_string())?;
    if root.get("modules").is_some_and(|m| m.to_string().contains("${")) {
        // Literal inputs only: an expression in a value would be evaluated.
        let bad = text.lines().find(|l| l.contains("${")).unwrap_or_default().trim().to_string();
        return Err(format!("an input holds `${{`, which the drill cannot pass literally: {bad}"));
    }
    // One per drill (its lock keeps two runs apart): a run killed before
    // removing it leaves it to the next, which starts afresh.
    let dir = std::env::temp_dir().join(format!("standby-{name}-config"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(dir.join("main.yaml"), text).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// Everything the runtime side needs.
pub struct Ctx<'a> {
    pub aws: &'a Arc<Aws>,
    pub backend: &'a dyn Backend,
    pub progress: &'a Arc<Progress>,
}

/// Plans `dir`'s configuration (or, with `destroy`, nothing) against the
/// record, refreshed first, and applies the changes at `only` (all when
/// `None`); the record written after.
async fn converge(
    cx: &Ctx<'_>,
    dir: &Path,
    rec: &mut State,
    destroy: bool,
    only: Option<&dyn Fn(&str) -> bool>,
) -> Result<String, String> {
    let loaded = crate::load::load(dir, &Default::default()).map_err(|d| d.to_string())?;
    if !rec.resources.is_empty() {
        planner::refresh(rec, cx.aws, 4, &loaded.secrets).await.map_err(|e| e.to_string())?;
    }
    let opts = Options { refresh: false, destroy, ..Options::default() };
    let mut plan = planner::plan(&loaded, rec, Vec::new(), &opts).map_err(|e| e.to_string())?;
    if let Some(keep) = only {
        plan.changes.retain(|c| keep(&c.address));
    }
    plan.changes.retain(|c| c.action != crate::plan::Action::NoOp);
    if plan.changes.is_empty() {
        return Ok("nothing left to change".into());
    }
    let journal = Arc::new(cx.backend.journal(&rec.lineage).await.map_err(|e| e.to_string())?);
    let applier = Applier {
        secrets: &loaded.secrets,
        loaded: Some(&loaded),
        plan: &plan,
        aws: cx.aws.clone(),
        journal: journal.clone(),
        progress: cx.progress.clone(),
        parallelism: 4,
        hold: None,
    };
    let outcome = applier.run(rec).await;
    drop(applier);
    backend::write(cx.backend, rec).await.map_err(|e| e.to_string())?;
    let _ = journal.sync().await;
    if let Ok(j) = Arc::try_unwrap(journal) {
        let _ = j.finish().await;
    }
    let mut failures = outcome.failures;
    failures.extend(outcome.skipped.iter().map(|a| format!("{a}: skipped (something it needs failed)")));
    if outcome.interrupted {
        failures.push("interrupted: the record holds everything finished".into());
    }
    if !failures.is_empty() {
        return Err(failures.join("; "));
    }
    Ok(format!("{} added, {} changed, {} destroyed", outcome.added, outcome.changed, outcome.destroyed))
}

/// The copies' endpoints, read from AWS now: the database copy's writer and
/// reader, the search copy's.
async fn endpoints(
    aws: &Aws,
    region: &str,
    copy: &str,
    search: Option<&str>,
) -> Result<(String, String, Option<String>), KindError> {
    let c = super::db::describe_cluster(aws, region, copy)
        .await?
        .ok_or_else(|| KindError::Failed(format!("the database copy {copy} is not there")))?;
    let writer =
        c.endpoint().map(str::to_string).ok_or_else(|| KindError::Failed(format!("{copy} has no endpoint yet")))?;
    let reader = c.reader_endpoint().map(str::to_string).unwrap_or_else(|| writer.clone());
    let search = match search {
        Some(d) => Some(
            super::search::endpoint(aws, region, d)
                .await?
                .ok_or_else(|| KindError::Failed(format!("the search copy {d} has no endpoint")))?,
        ),
        None => None,
    };
    Ok((writer, reader, search))
}

/// Makes (or finishes) the drill's app tier and puts the database copy in
/// the drill's database group. The outcome line.
pub async fn apply(
    cx: &Ctx<'_>,
    rec: &mut State,
    spec: &Spec,
    region: &str,
    name: &str,
    drill: &str,
    search: Option<&str>,
) -> Result<String, KindError> {
    let (writer, reader, search_endpoint) = endpoints(cx.aws, region, name, search).await?;
    let inputs = inputs(spec, name, drill, (&writer, &reader), search_endpoint.as_deref());
    let dir = scratch(name, &root(spec, region, name, drill, inputs)).map_err(KindError::Failed)?;
    let out = converge(cx, &dir, rec, false, None).await;
    let _ = std::fs::remove_dir_all(&dir);
    let out = out.map_err(KindError::Failed)?;
    let group = rec
        .resources
        .iter()
        .find(|(a, _)| a.to_string() == DB_GROUP)
        .and_then(|(_, i)| i.id.clone())
        .ok_or_else(|| KindError::Failed("the drill's database group is not on record".into()))?;
    // The copy in the drill's group (its own cluster; production's groups untouched).
    let rds = cx.aws.rds(region).await;
    let c = super::db::describe_cluster(cx.aws, region, name).await?;
    let has = c
        .as_ref()
        .is_some_and(|c| c.vpc_security_groups().iter().any(|g| g.vpc_security_group_id() == Some(group.as_str())));
    if !has {
        rds.modify_db_cluster()
            .db_cluster_identifier(name)
            .vpc_security_group_ids(&group)
            .apply_immediately(true)
            .send()
            .await
            .map_err(|e| crate::kinds::rds::rds_error("ModifyDBCluster", e))?;
    }
    Ok(format!(
        "{name}: 1 node, silent settings, files read-only, egress 5432/443, database {writer} (in {name}-db, which \
         admits the node), {}; {out}",
        match search_endpoint.as_deref() {
            Some(s) => format!("Mattermost's search on the search copy {s}"),
            None =>
                "Mattermost's search off (no search copy: no cross-cluster replication in the standby region)".into(),
        }
    ))
}

/// Removes what the record holds: everything but the database group when
/// `app_only` (the copy may still use it), else everything.
pub async fn destroy(
    cx: &Ctx<'_>,
    rec: &mut State,
    region: &str,
    name: &str,
    app_only: bool,
) -> Result<String, KindError> {
    if rec.resources.is_empty() {
        return Ok("no app tier on record".into());
    }
    let dir = scratch(name, &json!({ "regions": regions(region) })).map_err(KindError::Failed)?;
    let keep_db = |a: &str| a != DB_GROUP;
    let only: Option<&dyn Fn(&str) -> bool> = if app_only { Some(&keep_db) } else { None };
    let out = converge(cx, &dir, rec, true, only).await;
    let _ = std::fs::remove_dir_all(&dir);
    out.map_err(KindError::Failed)
}

/// The drill's load balancer from the record: DNS name, listener port, HTTPS.
pub fn load_balancer(rec: &State) -> Option<(String, u16, bool)> {
    let s = |t: &str, k: &str| rec.resources.values().find(|i| i.type_name == t).and_then(|i| i.attrs.get(k).cloned());
    let dns = s("aws_lb", "dns_name")?.as_str()?.to_string();
    let port = s("aws_lb_listener", "port").and_then(|v| v.as_i64()).unwrap_or(80) as u16;
    let https = s("aws_lb_listener", "protocol").and_then(|v| v.as_str().map(|p| p.eq_ignore_ascii_case("HTTPS")));
    Some((dns, port, https.unwrap_or(false)))
}

/// What the record's app tier is named, for `--keep`.
pub fn made(rec: &State) -> Vec<String> {
    let mut out: Vec<String> = rec
        .resources
        .iter()
        .filter_map(|(a, i)| {
            let n = i.attrs.get("name").and_then(Value::as_str)?;
            Some(format!("{n} ({})", a.block.type_name))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_search_copy_the_node_never_gets_productions_domain() {
        let mut given = Map::new();
        given.insert("site_url".into(), json!("https://chat.example.com"));
        given.insert("search_endpoint".into(), json!("vpc-mm-prod-search.us-west-2.es.amazonaws.com"));
        given.insert("mattermost_version".into(), json!("10.5"));
        let spec = Spec { module: "/m".into(), inputs: given };
        let m = inputs(&spec, "mm-drill-ab12cd", "ab12cd", ("w", "r"), None);
        let o = &m["settings_overrides"];
        assert_eq!(o["MM_ELASTICSEARCHSETTINGS_CONNECTIONURL"], json!(""));
        for k in ["ENABLEINDEXING", "ENABLESEARCHING", "ENABLEAUTOCOMPLETE"] {
            assert_eq!(o[format!("MM_ELASTICSEARCHSETTINGS_{k}")], json!("false"), "{k}");
        }
        assert_eq!(o["MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS"], json!("false"));
        assert_eq!(o["MM_EXPERIMENTALSETTINGS_ENABLESHAREDCHANNELS"], json!("false"));
    }

    #[test]
    fn the_drill_gives_its_own_names_one_node_and_silence() {
        let mut given = Map::new();
        given.insert("site_url".into(), json!("https://chat.example.com"));
        given.insert("desired_capacity".into(), json!(4));
        given.insert("db_endpoint".into(), json!("global.example"));
        let spec = Spec { module: "/m".into(), inputs: given };
        let m = inputs(&spec, "mm-drill-ab12cd", "ab12cd", ("w", "r"), Some("s"));
        assert_eq!(m["desired_capacity"], json!(1));
        assert_eq!(m["db_endpoint"], json!("w"));
        assert_eq!(m["lb_name"], json!("mm-drill-ab12cd"));
        assert_eq!(m["files_object_actions"], json!(["s3:GetObject"]));
        assert_eq!(m["settings_overrides"]["MM_EMAILSETTINGS_SENDEMAILNOTIFICATIONS"], json!("false"));
        assert_eq!(m["settings_overrides"]["MM_JOBSETTINGS_RUNSCHEDULER"], json!("false"));
        assert_eq!(m["tags"][TAG], json!("ab12cd"));
        // With a search copy: its endpoint, and the tier's own search switches.
        assert_eq!(m["search_endpoint"], json!("s"));
        assert_eq!(m["settings_overrides"]["MM_ELASTICSEARCHSETTINGS_CONNECTIONURL"], json!("https://s"));
        assert!(m["settings_overrides"].get("MM_ELASTICSEARCHSETTINGS_ENABLEINDEXING").is_none());
        assert_eq!(m["settings_overrides"]["MM_SERVICESETTINGS_ENABLESECURITYFIXALERT"], json!("false"));
        assert!(lb_name("mattermost-dr-drill-ab12cd").is_ok());
        let e = lb_name("a-very-long-company-prefix-drill-ab12cd").unwrap_err();
        assert!(e.contains("AWS allows 32; use a prefix of at most 19 characters"), "{e}");
        assert!(lb_name("nineteen-characters-drill-ab12cd").is_ok());
        assert!(lb_name("internal-chat-drill-ab12cd").unwrap_err().contains("`internal-`"));
        assert!(lb_name("mm_prod-drill-ab12cd").unwrap_err().contains("`_` is not allowed"));
        assert!(lb_name("-mm-drill-ab12cd").unwrap_err().contains("hyphen"));
    }
}
