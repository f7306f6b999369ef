//! The DR topology as data, for people: the regions with their roles, the
//! main resources in each, and the replication relations between regions.
//! Built from the configuration (and the state, when there is one, to mark
//! what is pending or unhealthy); `render::topology` draws it.
//!
//! Which resources are drawn and which relations they make is a table here,
//! by resource type: the kinds themselves know nothing of views.

use crate::address::BlockAddr;
use crate::eval::Desired;
use crate::load::Loaded;
use crate::state::{self, State};
use crate::value::{Attrs, Value};
use std::collections::BTreeMap;

/// The root variable that names the active region (its value is a region
/// name from `regions:`). Without it, the first region listed is active.
pub const ACTIVE_REGION_VAR: &str = "active_region";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mark {
    /// On record and healthy as far as the record says.
    Ok,
    /// In the configuration, not (yet) on record: the next apply makes it.
    Pending,
    /// On record, but what was last observed says it does not work.
    Unhealthy(String),
}

#[derive(Debug)]
pub struct Region {
    /// The configuration's name (`primary`).
    pub name: String,
    /// The AWS region (`us-west-1`).
    pub aws: String,
    pub active: bool,
}

#[derive(Debug)]
pub struct Node {
    pub address: String,
    /// Short kind label ("S3 bucket").
    pub kind: &'static str,
    /// The AWS name (bucket name, cluster identifier) or the block name.
    pub name: String,
    /// Index into `regions`; `None` for global resources (IAM).
    pub region: Option<usize>,
    /// Supporting resources folded into this node ("versioning", "2 instances").
    pub parts: Vec<String>,
    pub mark: Mark,
}

#[derive(Debug)]
pub struct Relation {
    pub from: usize,
    pub to: usize,
    pub label: &'static str,
    /// The resource that makes the relation (a replication rule, a connection).
    pub via: String,
    pub mark: Mark,
}

#[derive(Debug, Default)]
pub struct Topology {
    pub regions: Vec<Region>,
    pub nodes: Vec<Node>,
    pub relations: Vec<Relation>,
    /// Resources counted but not drawn (IAM and the like), by short kind.
    pub global_parts: BTreeMap<&'static str, usize>,
    pub with_state: bool,
}

/// How a resource type shows in the picture.
enum Role {
    /// A box of its own.
    Main(&'static str),
    /// Folded into the main resource it depends on, under this label.
    Part(&'static str),
    /// Counted in the global box (IAM).
    Global(&'static str),
}

fn role(type_name: &str) -> Role {
    match type_name {
        "aws_s3_bucket" => Role::Main("S3 bucket"),
        "aws_rds_cluster" => Role::Main("Aurora cluster"),
        "aws_opensearch_domain" => Role::Main("OpenSearch domain"),
        "aws_rds_global_cluster" => Role::Part("global database"),
        "aws_rds_cluster_instance" => Role::Part("instance"),
        "aws_s3_bucket_versioning" => Role::Part("versioning"),
        "aws_s3_bucket_public_access_block" => Role::Part("block public access"),
        "aws_s3_bucket_replication" => Role::Part("replication rules"),
        "aws_s3_batch_replication_job" => Role::Part("batch replication of existing objects"),
        "aws_opensearch_domain_policy" => Role::Part("access policy"),
        "aws_opensearch_outbound_connection" => Role::Part("outbound connection"),
        "aws_opensearch_inbound_connection_accepter" => Role::Part("accepted connection"),
        "aws_cloudwatch_log_group" => Role::Part("log group"),
        "aws_cloudwatch_log_resource_policy" => Role::Part("logs resource policy"),
        "opensearch_autofollow_rule" => Role::Part("auto-follow rule"),
        "opensearch_index_replication" => Role::Part("replicated index"),
        "opensearch_internal_user" => Role::Part("internal user"),
        "opensearch_role" => Role::Part("security role"),
        "opensearch_role_mapping" => Role::Part("role mapping"),
        "opensearch_audit_config" => Role::Part("audit logging"),
        "aws_secretsmanager_secret" => Role::Main("secret"),
        "aws_secretsmanager_secret_version" => Role::Part("current value"),
        "aws_route53_zone" => Role::Global("Route 53 zone"),
        "aws_route53_health_check" => Role::Global("Route 53 health check"),
        "aws_route53_record" => Role::Global("Route 53 record"),
        t if t.starts_with("aws_iam_") => Role::Global(match t {
            "aws_iam_role" => "IAM role",
            "aws_iam_policy" => "IAM policy",
            "aws_iam_role_policy" => "inline policy",
            _ => "policy attachment",
        }),
        _ => Role::Part("resource"),
    }
}

/// Builds the topology of a loaded configuration, marked against `state`
/// when one is given.
pub fn build(loaded: &Loaded, instances: &[(Desired, Attrs)], state: Option<&State>) -> Topology {
    let mut t = Topology { with_state: state.is_some(), ..Topology::default() };
    let active = loaded.vars.get(ACTIVE_REGION_VAR).and_then(Value::as_str).map(str::to_string);
    for (i, (name, aws)) in loaded.tree.root().regions.iter().enumerate() {
        let is_active = match &active {
            Some(a) => *a == name.name,
            None => i == 0,
        };
        t.regions.push(Region {
            name: name.name.clone(),
            aws: aws.as_ref().map(|a| a.name.clone()).unwrap_or_default(),
            active: is_active,
        });
    }
    let region_of = |d: &Desired| t.regions.iter().position(|r| r.aws == d.region);
    let regions: Vec<Option<usize>> = instances.iter().map(|(d, _)| region_of(d)).collect();
    let marks: Vec<Mark> = instances.iter().map(|(d, planned)| mark(state, d, planned)).collect();

    // Main resources first, so parts and relations can find them.
    let mut node_of: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, (d, planned)) in instances.iter().enumerate() {
        if let Role::Main(kind) = role(d.kind.type_name()) {
            node_of.insert(i, t.nodes.len());
            t.nodes.push(Node {
                address: d.addr.to_string(),
                kind,
                name: d.kind.id_hint(planned).unwrap_or_else(|| d.addr.block.name.clone()),
                region: regions[i],
                parts: Vec::new(),
                mark: marks[i].clone(),
            });
        }
    }
    // The main instances of a block, for following `deps`.
    let mains_of = |b: &BlockAddr| -> Vec<usize> {
        node_of.iter().filter(|(i, _)| instances[**i].0.addr.block == *b).map(|(_, n)| *n).collect()
    };
    let dep_mains = |d: &Desired| -> Vec<usize> { d.deps.iter().flat_map(&mains_of).collect() };

    let mut parts: BTreeMap<(usize, &'static str), usize> = BTreeMap::new();
    for (i, (d, _)) in instances.iter().enumerate() {
        match role(d.kind.type_name()) {
            Role::Main(_) => {}
            Role::Global(kind) => *t.global_parts.entry(kind).or_default() += 1,
            Role::Part(kind) => {
                // The owner: a main resource it depends on in its own region,
                // directly or through other parts (an accepted connection
                // depends on the connection, which depends on the domains).
                let owner =
                    owner_of(instances, i, &|b| mains_of(b), &|n| t.nodes[n].region == regions[i]).or_else(|| {
                        // Or the one main resource of its region that depends on
                        // it (a domain on its log group and the logs policy).
                        let users: Vec<usize> = node_of
                            .iter()
                            .filter(|(j, n)| {
                                instances[**j].0.deps.contains(&d.addr.block) && t.nodes[**n].region == regions[i]
                            })
                            .map(|(_, n)| *n)
                            .collect();
                        (users.len() == 1).then(|| users[0])
                    });
                match owner {
                    Some(n) => {
                        *parts.entry((n, kind)).or_default() += 1;
                        if let Mark::Unhealthy(why) = &marks[i] {
                            t.nodes[n].mark = Mark::Unhealthy(why.clone());
                        }
                    }
                    None => *t.global_parts.entry(kind).or_default() += 1,
                }
            }
        }
    }
    for ((n, kind), count) in parts {
        t.nodes[n].parts.push(if count == 1 { kind.to_string() } else { format!("{count} × {kind}") });
    }

    for (i, (d, _)) in instances.iter().enumerate() {
        let ends = match d.kind.type_name() {
            // A replication configuration lives on its source bucket.
            "aws_s3_bucket_replication" => cross(&t, &dep_mains(d), regions[i], "S3 bucket", false)
                .map(|(from, to)| (from, to, "objects replicate")),
            // The connection is made from the follower towards the leader.
            "aws_opensearch_outbound_connection" => cross(&t, &dep_mains(d), regions[i], "OpenSearch domain", true)
                .map(|(from, to)| (from, to, "indices replicate (leader → follower)")),
            // A cluster joining a global database is a secondary of its writer:
            // the cluster the global database was made from.
            "aws_rds_cluster" => writer_of(instances, d, &mains_of).and_then(|writer| {
                let me = node_of.get(&i).copied()?;
                (writer != me).then_some((writer, me, "Aurora global database (writer → secondary)"))
            }),
            _ => None,
        };
        if let Some((from, to, label)) = ends {
            t.relations.push(Relation { from, to, label, via: d.addr.to_string(), mark: marks[i].clone() });
        }
    }
    t
}

/// The first main resource `instances[i]` depends on, breadth first, that
/// satisfies `here`.
fn owner_of(
    instances: &[(Desired, Attrs)],
    i: usize,
    mains_of: &dyn Fn(&BlockAddr) -> Vec<usize>,
    here: &dyn Fn(usize) -> bool,
) -> Option<usize> {
    let mut queue: std::collections::VecDeque<&BlockAddr> = instances[i].0.deps.iter().collect();
    let mut seen: Vec<&BlockAddr> = Vec::new();
    while let Some(b) = queue.pop_front() {
        if seen.contains(&b) {
            continue;
        }
        seen.push(b);
        if let Some(n) = mains_of(b).into_iter().find(|&n| here(n)) {
            return Some(n);
        }
        for (d, _) in instances.iter().filter(|(d, _)| d.addr.block == *b) {
            queue.extend(d.deps.iter());
        }
    }
    None
}

/// The two ends of a cross-region relation made by a resource in `here`:
/// the main resource of `kind` in its region and the one in another region.
/// `towards_here` draws the arrow from the other region to this one.
fn cross(t: &Topology, deps: &[usize], here: Option<usize>, kind: &str, towards_here: bool) -> Option<(usize, usize)> {
    let local = deps.iter().copied().find(|&n| t.nodes[n].kind == kind && t.nodes[n].region == here)?;
    let remote = deps.iter().copied().find(|&n| t.nodes[n].kind == kind && t.nodes[n].region != here)?;
    Some(if towards_here { (remote, local) } else { (local, remote) })
}

/// For a cluster that depends on a global database, the node of the cluster
/// that global database was made from.
fn writer_of(
    instances: &[(Desired, Attrs)],
    cluster: &Desired,
    mains_of: &dyn Fn(&BlockAddr) -> Vec<usize>,
) -> Option<usize> {
    let global = instances
        .iter()
        .find(|(g, _)| g.kind.type_name() == "aws_rds_global_cluster" && cluster.deps.contains(&g.addr.block))?;
    global.0.deps.iter().flat_map(mains_of).next()
}

fn mark(state: Option<&State>, d: &Desired, planned: &Attrs) -> Mark {
    let Some(st) = state else { return Mark::Ok };
    match st.resources.get(&d.addr) {
        None => Mark::Pending,
        Some(r) if r.status == state::Status::Pending => Mark::Pending,
        Some(r) => unhealthy(&r.type_name, &r.attrs, planned).map(Mark::Unhealthy).unwrap_or(Mark::Ok),
    }
}

/// What the last observation on record says is broken, for the attributes
/// that carry a status. (Live checks belong to the DR health checks; this
/// reads only the record.)
fn unhealthy(type_name: &str, recorded: &Attrs, planned: &Attrs) -> Option<String> {
    let get = |a: &'_ Attrs, k: &str| a.get(k).and_then(Value::as_str).map(str::to_string);
    let differs = |k: &str| get(recorded, k).filter(|r| get(planned, k).is_some_and(|p| p != *r));
    match type_name {
        "aws_s3_bucket_versioning" => differs("status").map(|s| format!("versioning {s}")),
        "opensearch_index_replication" => differs("status").map(|s| format!("index replication {s}")),
        "aws_opensearch_inbound_connection_accepter" => {
            get(recorded, "connection_status").filter(|s| s != "ACTIVE").map(|s| format!("connection {s}"))
        }
        _ => None,
    }
}
