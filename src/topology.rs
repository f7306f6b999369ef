//! The DR topology as data, for people: where users go (the hostname, its
//! failover records and each region's load balancer and app nodes), the
//! main resources in each region, and the replication relations between
//! regions. Built from the configuration (and the state, when there is one:
//! what is pending or unhealthy, where the records point, how many nodes
//! run); `render::topology` draws it.
//!
//! How each resource type shows is a table here: the kinds themselves know
//! nothing of views.

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

/// What a box is, for how it is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A main resource (database cluster, bucket, search domain).
    Resource,
    /// Where users enter a region (a load balancer).
    Entry,
    /// The app nodes behind it (an Auto Scaling group).
    Nodes,
    /// The name users type (Route 53 records of one name).
    Hostname,
}

#[derive(Debug)]
pub struct Node {
    pub address: String,
    /// Short kind label ("S3 bucket").
    pub kind: &'static str,
    /// The AWS name (bucket name, cluster identifier, hostname) or the block name.
    pub name: String,
    /// Index into `regions`; `None` for what no region holds (a hostname).
    pub region: Option<usize>,
    pub shape: Shape,
    /// What the record says of it ("2 nodes desired").
    pub facts: Vec<String>,
    /// Supporting resources folded into this node ("versioning", "2 × instance").
    pub parts: Vec<String>,
    pub mark: Mark,
}

/// What a relation carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Data copied between regions.
    Replication,
    /// A failover record's PRIMARY: where Route 53 sends users while its
    /// health check passes.
    Primary,
    /// A failover record's SECONDARY: where users go when the PRIMARY fails.
    Secondary,
    /// Any other record aiming at a load balancer.
    Alias,
    /// A load balancer's listener forwarding to the app nodes.
    Forward,
}

#[derive(Debug)]
pub struct Relation {
    pub from: usize,
    pub to: usize,
    pub flow: Flow,
    pub label: &'static str,
    /// What the reader should know besides ("until the next apply points it at us-east-1").
    pub note: Option<String>,
    /// The resource that makes the relation (a replication rule, a record).
    pub via: String,
    pub mark: Mark,
}

#[derive(Debug, Default)]
pub struct Topology {
    pub regions: Vec<Region>,
    pub nodes: Vec<Node>,
    pub relations: Vec<Relation>,
    /// Resources no drawn box supports, by short kind.
    pub global_parts: BTreeMap<&'static str, usize>,
    pub with_state: bool,
}

/// How a resource type shows in the picture.
#[derive(Clone, Copy)]
enum Role {
    /// A box of its own.
    Main(&'static str, Shape),
    /// Folded into the box of the resource it supports, under this label.
    Part(&'static str, Supports),
    /// A Route 53 record: one box per name, and an arrow to where it sends users.
    Record,
}

/// Which way a supporting resource's box is found, through the
/// dependencies: a resource that configures another refers to it (its
/// owner is among what it depends on); one that another uses is referred
/// to (its owner is among what depends on it). Parts found on the way are
/// followed in their own direction.
#[derive(Clone, Copy)]
enum Supports {
    Configures,
    UsedBy,
    /// Used by, and preferably by a box of this type (a secret: by the app
    /// nodes that read it at boot, rather than the load balancer beside them).
    UsedByA(&'static str),
}

fn role(type_name: &str) -> Role {
    use Supports::*;
    match type_name {
        "aws_s3_bucket" => Role::Main("S3 bucket", Shape::Resource),
        "aws_rds_cluster" => Role::Main("Aurora cluster", Shape::Resource),
        "aws_opensearch_domain" => Role::Main("OpenSearch domain", Shape::Resource),
        "aws_lb" => Role::Main("Load balancer", Shape::Entry),
        "aws_autoscaling_group" => Role::Main("App nodes", Shape::Nodes),
        "aws_route53_record" => Role::Record,
        "aws_rds_global_cluster" => Role::Part("global database", Configures),
        "aws_rds_cluster_instance" => Role::Part("instance", Configures),
        "aws_s3_bucket_versioning" => Role::Part("versioning", Configures),
        "aws_s3_bucket_public_access_block" => Role::Part("block public access", Configures),
        "aws_s3_bucket_replication" => Role::Part("replication rules", Configures),
        "aws_s3_batch_replication_job" => Role::Part("batch replication of existing objects", Configures),
        "aws_opensearch_domain_policy" => Role::Part("access policy", Configures),
        "aws_opensearch_outbound_connection" => Role::Part("outbound connection", Configures),
        "aws_opensearch_inbound_connection_accepter" => Role::Part("accepted connection", Configures),
        "aws_cloudwatch_log_group" => Role::Part("log group", UsedBy),
        "aws_cloudwatch_log_resource_policy" => Role::Part("logs resource policy", UsedBy),
        "opensearch_autofollow_rule" => Role::Part("auto-follow rule", Configures),
        "opensearch_index_replication" => Role::Part("replicated index", Configures),
        "opensearch_internal_user" => Role::Part("internal user", Configures),
        "opensearch_role" => Role::Part("security role", Configures),
        "opensearch_role_mapping" => Role::Part("role mapping", Configures),
        "opensearch_audit_config" => Role::Part("audit logging", Configures),
        "aws_secretsmanager_secret" => Role::Part("secret", UsedByA("aws_autoscaling_group")),
        "aws_secretsmanager_secret_version" => Role::Part("secret value", Configures),
        "aws_lb_listener" => Role::Part("listener", Configures),
        "aws_lb_target_group" => Role::Part("target group", UsedBy),
        "aws_security_group" => Role::Part("security group", UsedBy),
        "aws_vpc_security_group_ingress_rule" | "aws_vpc_security_group_egress_rule" => {
            Role::Part("security group rule", Configures)
        }
        "aws_launch_template" => Role::Part("launch template", UsedBy),
        "standby_mattermost_config" => Role::Part("Mattermost settings", UsedBy),
        "aws_iam_instance_profile" => Role::Part("instance profile", UsedBy),
        "aws_iam_role" => Role::Part("IAM role", UsedBy),
        "aws_iam_policy" => Role::Part("IAM policy", UsedBy),
        "aws_iam_role_policy" => Role::Part("inline policy", Configures),
        "aws_iam_role_policy_attachment" => Role::Part("policy attachment", Configures),
        "aws_route53_zone" => Role::Part("Route 53 zone", UsedBy),
        "aws_route53_health_check" => Role::Part("health check", UsedBy),
        "standby_managed_prefix_list" => Role::Part("prefix list", UsedBy),
        _ => Role::Part("resource", Configures),
    }
}

/// For a supporting resource that refers to several others, the property
/// naming the one it configures (a rule's group, not the group it lets in).
fn configures_via(type_name: &str) -> Option<&'static str> {
    Some(match type_name {
        "aws_vpc_security_group_ingress_rule" | "aws_vpc_security_group_egress_rule" => "security_group_id",
        "aws_iam_role_policy" | "aws_iam_role_policy_attachment" => "role",
        "aws_lb_listener" => "load_balancer_arn",
        "aws_secretsmanager_secret_version" => "secret_id",
        "aws_s3_bucket_versioning" | "aws_s3_bucket_public_access_block" | "aws_s3_bucket_replication" => "bucket",
        _ => return None,
    })
}

/// The resource blocks a property of `d`'s block refers to, as written.
fn referenced(loaded: &Loaded, d: &Desired, prop: &str) -> Vec<BlockAddr> {
    let block = &d.addr.block;
    let Some(module) = loaded.tree.modules.iter().find(|m| m.path == block.module) else { return vec![] };
    let Some(res) = module.module.resources.iter().find(|r| r.name.name == block.name) else { return vec![] };
    let Some((_, expr)) = res.properties.iter().find(|(n, _)| n.name == prop) else { return vec![] };
    expr.refs()
        .into_iter()
        .filter_map(|(r, _)| match &r.root {
            crate::expr::Root::Resource { type_name, name } => {
                Some(BlockAddr { module: block.module.clone(), type_name: type_name.clone(), name: name.clone() })
            }
            _ => None,
        })
        .collect()
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
    let g = Deps::new(loaded, instances, regions.clone());
    let marks: Vec<Mark> = instances.iter().map(|(d, planned)| mark(state, d, planned)).collect();
    // What the record says of each, else what the configuration says.
    let known: Vec<&Attrs> = instances
        .iter()
        .map(|(d, planned)| state.and_then(|s| s.resources.get(&d.addr)).map_or(planned, |r| &r.attrs))
        .collect();

    // Boxes first, so parts and relations can find them.
    let mut node_of: BTreeMap<usize, usize> = BTreeMap::new();
    let mut hostnames: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (d, _)) in instances.iter().enumerate() {
        match role(d.kind.type_name()) {
            Role::Main(kind, shape) => {
                node_of.insert(i, t.nodes.len());
                t.nodes.push(Node {
                    address: d.addr.to_string(),
                    kind,
                    name: d
                        .kind
                        .id_hint(known[i])
                        .or_else(|| str_at(known[i], &["name"]))
                        .unwrap_or_else(|| d.addr.block.name.clone()),
                    region: regions[i],
                    shape,
                    facts: facts(d.kind.type_name(), known[i]),
                    parts: Vec::new(),
                    mark: marks[i].clone(),
                });
            }
            Role::Record => {
                let name = str_at(known[i], &["name"]).unwrap_or_else(|| d.addr.block.name.clone());
                let n = *hostnames.entry(name.trim_end_matches('.').to_string()).or_insert_with_key(|name| {
                    t.nodes.push(Node {
                        address: d.addr.to_string(),
                        kind: "hostname",
                        name: name.clone(),
                        region: None,
                        shape: Shape::Hostname,
                        facts: Vec::new(),
                        parts: Vec::new(),
                        mark: marks[i].clone(),
                    });
                    t.nodes.len() - 1
                });
                // A hostname is pending only while all its records are.
                if marks[i] != Mark::Pending && t.nodes[n].mark == Mark::Pending {
                    t.nodes[n].mark = marks[i].clone();
                }
                node_of.insert(i, n);
            }
            Role::Part(..) => {}
        }
    }

    let main_of: BTreeMap<usize, usize> = node_of.iter().map(|(&i, &n)| (n, i)).collect();
    let mut parts: BTreeMap<(usize, &'static str), usize> = BTreeMap::new();
    let mut owners: Vec<Option<usize>> = vec![None; instances.len()];
    for (i, (d, _)) in instances.iter().enumerate() {
        if let Role::Part(kind, _) = role(d.kind.type_name()) {
            // IAM is global: its resources belong wherever they are used.
            let region = if global(d.kind.type_name()) { None } else { regions[i] };
            owners[i] = g.owner(i, &node_of, &t.nodes, region);
            match owners[i] {
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
    for ((n, kind), count) in parts {
        t.nodes[n].parts.push(if count == 1 { kind.to_string() } else { format!("{count} × {kind}") });
    }

    let mains_in = |blocks: &[BlockAddr], type_name: &str| -> Vec<usize> {
        blocks
            .iter()
            .filter(|b| b.type_name == type_name)
            .flat_map(|b| g.of_block(b))
            .filter_map(|j| node_of.get(&j).copied())
            .collect()
    };
    let active_region = t.regions.iter().position(|r| r.active);
    for (i, (d, _)) in instances.iter().enumerate() {
        let ends = match d.kind.type_name() {
            // A replication configuration lives on its source bucket.
            "aws_s3_bucket_replication" => cross(&t, &mains_in(&d.deps, "aws_s3_bucket"), regions[i], false)
                .map(|(from, to)| (from, to, Flow::Replication, "objects replicate", None)),
            // The connection is made from the follower towards the leader.
            "aws_opensearch_outbound_connection" => {
                cross(&t, &mains_in(&d.deps, "aws_opensearch_domain"), regions[i], true)
                    .map(|(from, to)| (from, to, Flow::Replication, "indices replicate (leader → follower)", None))
            }
            // A global database's writer replicates to its other members. The
            // writer is in `writer_region` (on record, or as configured), else
            // the cluster the global database was made from.
            "aws_rds_global_cluster" => {
                for (writer, member, j) in global_members(instances, &g, &node_of, &t, i, known[i]) {
                    let (via, mark) = (instances[j].0.addr.to_string(), marks[j].clone());
                    let label = "Aurora global database (writer → secondary)";
                    t.relations.push(Relation {
                        from: writer,
                        to: member,
                        flow: Flow::Replication,
                        label,
                        note: None,
                        via,
                        mark,
                    });
                }
                None
            }
            // The listener forwards to the target group the nodes register in.
            "aws_lb_listener" => {
                let groups = d.deps.iter().filter(|b| b.type_name == "aws_lb_target_group");
                let to = groups.flat_map(|b| g.of_block(b)).find_map(|j| owners[j]);
                match (owners[i], to) {
                    (Some(from), Some(to)) if from != to => Some((from, to, Flow::Forward, "forwards to", None)),
                    _ => None,
                }
            }
            "aws_route53_record" => node_of.get(&i).and_then(|&host| {
                let lbs = mains_in(&d.deps, "aws_lb");
                let (flow, label) = match str_at(known[i], &["failover_routing_policy", "type"]).as_deref() {
                    Some("PRIMARY") => (Flow::Primary, "PRIMARY: users go here while its health check passes"),
                    Some("SECONDARY") => (Flow::Secondary, "SECONDARY: users go here when the PRIMARY fails"),
                    _ => (Flow::Alias, "alias"),
                };
                // Route 53 answers with the PRIMARY while it is healthy, else with
                // the SECONDARY (Route 53 Developer Guide, "Failover routing").
                // Where the record points: by the name on record (what Route 53
                // answers now); before it is applied, by its role (the PRIMARY
                // aims at the active region).
                let recorded = str_at(known[i], &["alias", "name"]).map(|n| dns_name(&n));
                let lb_dns =
                    |n: usize| main_of.get(&n).and_then(|&j| str_at(known[j], &["dns_name"])).map(|s| dns_name(&s));
                let by_name = recorded.and_then(|name| lbs.iter().copied().find(|&n| lb_dns(n) == Some(name.clone())));
                let by_role = match flow {
                    Flow::Primary => lbs.iter().copied().find(|&n| t.nodes[n].region == active_region),
                    Flow::Secondary => lbs.iter().copied().find(|&n| t.nodes[n].region != active_region),
                    _ => (lbs.len() == 1).then(|| lbs[0]),
                };
                // On record it still aims elsewhere than the configuration says:
                // users go there until the next apply.
                let note = match (by_name, by_role) {
                    (Some(now), Some(next)) if now != next => {
                        t.nodes[next].region.map(|r| format!("until the next apply points it at {}", t.regions[r].aws))
                    }
                    _ => None,
                };
                by_name.or(by_role).map(|lb| (host, lb, flow, label, note))
            }),
            _ => None,
        };
        if let Some((from, to, flow, label, note)) = ends {
            let (via, mark) = (d.addr.to_string(), marks[i].clone());
            t.relations.push(Relation { from, to, flow, label, note, via, mark });
        }
    }
    t
}

/// The dependencies between instances, both ways.
struct Deps<'a> {
    instances: &'a [(Desired, Attrs)],
    /// Instances of each block.
    blocks: BTreeMap<&'a BlockAddr, Vec<usize>>,
    /// For each instance, the instances that depend on it.
    dependents: Vec<Vec<usize>>,
    /// For each instance, the blocks it configures, when its kind says
    /// through which property ([`configures_via`]).
    configures: Vec<Option<Vec<BlockAddr>>>,
    /// Each instance's region (index into the topology's regions).
    regions: Vec<Option<usize>>,
}

/// How far the search for a part's box goes (parts through parts).
const MAX_HOPS: usize = 8;

impl<'a> Deps<'a> {
    fn new(loaded: &Loaded, instances: &'a [(Desired, Attrs)], regions: Vec<Option<usize>>) -> Deps<'a> {
        let mut blocks: BTreeMap<&BlockAddr, Vec<usize>> = BTreeMap::new();
        for (i, (d, _)) in instances.iter().enumerate() {
            blocks.entry(&d.addr.block).or_default().push(i);
        }
        let mut dependents = vec![Vec::new(); instances.len()];
        for (j, (d, _)) in instances.iter().enumerate() {
            for b in &d.deps {
                for &i in blocks.get(b).map(Vec::as_slice).unwrap_or_default() {
                    dependents[i].push(j);
                }
            }
        }
        let configures = instances
            .iter()
            .map(|(d, _)| {
                let prop = configures_via(d.kind.type_name())?;
                let blocks = referenced(loaded, d, prop);
                (!blocks.is_empty()).then_some(blocks)
            })
            .collect();
        Deps { instances, blocks, dependents, configures, regions }
    }

    fn of_block(&self, b: &BlockAddr) -> Vec<usize> {
        self.blocks.get(b).cloned().unwrap_or_default()
    }

    /// The next instances towards a part's box: what it configures (what it
    /// depends on), or what uses it (what depends on it).
    fn next(&self, i: usize, up: bool) -> Vec<usize> {
        if up {
            return self.dependents[i].clone();
        }
        let blocks = self.configures[i].as_deref().unwrap_or(&self.instances[i].0.deps);
        blocks.iter().flat_map(|b| self.of_block(b)).collect()
    }

    /// The box a supporting resource belongs in, in its region (any, for
    /// `None`): a box it
    /// configures or that uses it, or the box of a part it configures or
    /// that uses it (a security group rule configures its group, which the
    /// launch template uses, which the app nodes use). Nearer wins, then
    /// the same module; a part that finds no box its own way tries the
    /// other way.
    fn owner(
        &self,
        i: usize,
        node_of: &BTreeMap<usize, usize>,
        nodes: &[Node],
        region: Option<usize>,
    ) -> Option<usize> {
        let own_way_up = !matches!(role(self.instances[i].0.kind.type_name()), Role::Part(_, Supports::Configures));
        let mut visiting = vec![false; self.instances.len()];
        [own_way_up, !own_way_up]
            .into_iter()
            .find_map(|up| self.search(i, up, node_of, nodes, region, &mut visiting, 0))
            .map(|(n, _)| n)
    }

    /// (box, hops) for part `i` searched one way; parts met on the way are
    /// searched their own way.
    #[allow(clippy::too_many_arguments)]
    fn search(
        &self,
        i: usize,
        up: bool,
        node_of: &BTreeMap<usize, usize>,
        nodes: &[Node],
        region: Option<usize>,
        visiting: &mut Vec<bool>,
        depth: usize,
    ) -> Option<(usize, usize)> {
        if depth > MAX_HOPS {
            return None;
        }
        let prefer = match role(self.instances[i].0.kind.type_name()) {
            Role::Part(_, Supports::UsedByA(t)) => Some(t),
            _ => None,
        };
        let module = &self.instances[i].0.addr.block.module;
        visiting[i] = true;
        // (preferred kind first, hops, other module, box)
        let mut best: Option<(bool, usize, bool, usize)> = None;
        for j in self.next(i, up) {
            if visiting[j] {
                continue;
            }
            let found = match node_of.get(&j) {
                Some(&n) => Some((n, 1)),
                None => match role(self.instances[j].0.kind.type_name()) {
                    Role::Part(_, s) => {
                        let up = !matches!(s, Supports::Configures);
                        // A global part's search takes the region of the first regional part it meets.
                        let region = region
                            .or_else(|| self.regions[j].filter(|_| !global(self.instances[j].0.kind.type_name())));
                        self.search(j, up, node_of, nodes, region, visiting, depth + 1).map(|(n, h)| (n, h + 1))
                    }
                    _ => None,
                },
            };
            let Some((n, hops)) = found else { continue };
            if region.is_some() && nodes[n].region.is_some() && nodes[n].region != region {
                continue;
            }
            let drawn = &self.instances[self.box_instance(n, node_of)].0;
            let key =
                (prefer.is_some_and(|t| t != drawn.kind.type_name()), hops, drawn.addr.block.module != *module, n);
            if best.is_none_or(|b| key < b) {
                best = Some(key);
            }
        }
        visiting[i] = false;
        best.map(|(_, hops, _, n)| (n, hops))
    }

    /// An instance drawn as box `n`.
    fn box_instance(&self, n: usize, node_of: &BTreeMap<usize, usize>) -> usize {
        node_of.iter().find(|(_, b)| **b == n).map(|(i, _)| *i).unwrap_or_default()
    }
}

/// Kinds of a global service (IAM): their `region` is only where the call goes.
fn global(type_name: &str) -> bool {
    type_name.starts_with("aws_iam_")
}

/// The two ends of a cross-region relation made by a resource in `here`:
/// the main resource in its region and the one in another region.
/// `towards_here` draws the arrow from the other region to this one.
fn cross(t: &Topology, mains: &[usize], here: Option<usize>, towards_here: bool) -> Option<(usize, usize)> {
    let local = mains.iter().copied().find(|&n| t.nodes[n].region == here)?;
    let remote = mains.iter().copied().find(|&n| t.nodes[n].region != here)?;
    Some(if towards_here { (remote, local) } else { (local, remote) })
}

/// (writer box, member box, member instance) for each member of global
/// database `g` other than its writer.
fn global_members(
    instances: &[(Desired, Attrs)],
    deps: &Deps,
    node_of: &BTreeMap<usize, usize>,
    t: &Topology,
    g: usize,
    known: &Attrs,
) -> Vec<(usize, usize, usize)> {
    let clusters = |j: &usize| instances[*j].0.kind.type_name() == "aws_rds_cluster";
    let sources: Vec<usize> = instances[g].0.deps.iter().flat_map(|b| deps.of_block(b)).filter(clusters).collect();
    let joined: Vec<usize> = deps.dependents[g].iter().copied().filter(clusters).collect();
    let members: Vec<(usize, usize)> =
        sources.iter().chain(&joined).filter_map(|&j| node_of.get(&j).map(|&n| (j, n))).collect();
    let in_region = |n: usize, aws: &str| t.nodes[n].region.is_some_and(|r| t.regions[r].aws == aws);
    let writer = str_at(known, &["writer_region"])
        .and_then(|aws| members.iter().find(|(_, n)| in_region(*n, &aws)).map(|(_, n)| *n))
        .or_else(|| sources.iter().find_map(|j| node_of.get(j).copied()));
    let Some(writer) = writer else { return vec![] };
    members.into_iter().filter(|(_, n)| *n != writer).map(|(j, n)| (writer, n, j)).collect()
}

/// What a box says beside its name: the app nodes' desired count.
fn facts(type_name: &str, attrs: &Attrs) -> Vec<String> {
    match type_name {
        "aws_autoscaling_group" => match attrs.get("desired_capacity").and_then(Value::as_i64) {
            Some(1) => vec!["1 node desired".into()],
            Some(n) => vec![format!("{n} nodes desired")],
            None => vec![],
        },
        _ => vec![],
    }
}

/// A string at a path of nested maps, when known.
fn str_at(attrs: &Attrs, path: &[&str]) -> Option<String> {
    let (first, rest) = path.split_first()?;
    let mut v = attrs.get(*first)?;
    for k in rest {
        v = match v {
            Value::Map(m) => m.get(*k)?,
            _ => return None,
        };
    }
    v.as_str().map(str::to_string)
}

/// A DNS name as Route 53 compares alias targets: no trailing dot, lower
/// case, no `dualstack.` prefix (aliases to a load balancer may carry it:
/// Route 53 Developer Guide, "Value/route traffic to" for ELB alias records;
/// the AWS CDK's route53-targets adds it always).
fn dns_name(name: &str) -> String {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    n.strip_prefix("dualstack.").map(str::to_string).unwrap_or(n)
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
