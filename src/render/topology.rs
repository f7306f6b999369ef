//! The DR topology in Graphviz DOT, answering first "where do users go?":
//! users → the hostname → its PRIMARY (solid, to the active region's load
//! balancer) and SECONDARY (dashed, to the standby's) → the app nodes.
//! One cluster per region (its AWS region and role) holds the main
//! resources with short names and what supports them; replication
//! relations run between regions. Pending things are dashed and grey,
//! unhealthy ones red, each saying why.

use crate::topology::{Flow, Mark, Node, Shape, Topology};
use std::collections::BTreeMap;

const ACTIVE_FILL: &str = "#e6f4ea";
const PASSIVE_FILL: &str = "#eef2f7";
const REPLICATION: &str = "#1a73e8";
const TRAFFIC: &str = "#188038";
const STANDBY: &str = "#5f6368";
const PENDING: &str = "#9aa0a6";
const BROKEN: &str = "#d93025";

pub fn dot(t: &Topology) -> String {
    let mut out = String::from("digraph topology {\n");
    // Top down: users, the hostname, each region's entry and nodes, then its
    // data, one layer per kind so that replicating pairs face each other.
    out.push_str(
        "  graph [rankdir = \"TB\", newrank = true, fontname = \"Helvetica\", fontsize = 12, nodesep = 0.5, ranksep = 0.6];\n",
    );
    out.push_str("  node [shape = box, style = \"rounded,filled\", fillcolor = \"white\", fontname = \"Helvetica\", fontsize = 10];\n");
    out.push_str("  edge [fontname = \"Helvetica\", fontsize = 9];\n");
    let hostnames: Vec<(usize, &Node)> =
        t.nodes.iter().enumerate().filter(|(_, n)| n.shape == Shape::Hostname).collect();
    if !hostnames.is_empty() {
        out.push_str(
            "  users [label = \"Mattermost users\", shape = ellipse, style = \"filled\", fillcolor = \"#fef7e0\"];\n",
        );
        for (ni, n) in &hostnames {
            out.push_str(&format!("  {}\n", node(*ni, n, t.with_state)));
            out.push_str(&format!(
                "  users -> n{ni} [label = \"DNS\", color = \"{TRAFFIC}\", fontcolor = \"{TRAFFIC}\"];\n"
            ));
        }
    }
    let mut layers: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (ni, n) in t.nodes.iter().enumerate().filter(|(_, n)| n.region.is_some()) {
        layers.entry(layer(n)).or_default().push(ni);
    }
    for (ri, r) in t.regions.iter().enumerate() {
        let role = if r.active { "active" } else { "passive" };
        out.push_str(&format!("  subgraph \"cluster_{}\" {{\n", esc(&r.name)));
        out.push_str(&format!(
            "    label = \"{} — {} ({role})\";\n    style = \"rounded,filled\";\n    fillcolor = \"{}\";\n    penwidth = {};\n",
            esc(&r.name),
            esc(&r.aws),
            if r.active { ACTIVE_FILL } else { PASSIVE_FILL },
            if r.active { 2 } else { 1 },
        ));
        for (ni, n) in t.nodes.iter().enumerate().filter(|(_, n)| n.region == Some(ri)) {
            out.push_str(&format!("    {}\n", node(ni, n, t.with_state)));
        }
        // Keep the layers in order inside the region, whatever the edges.
        let mut firsts: Vec<usize> = Vec::new();
        for l in layers.keys() {
            if let Some(&n) = layers[l].iter().find(|&&n| t.nodes[n].region == Some(ri)) {
                firsts.push(n);
            }
        }
        for w in firsts.windows(2) {
            out.push_str(&format!("    n{} -> n{} [style = invis];\n", w[0], w[1]));
        }
        out.push_str("  }\n");
    }
    for ns in layers.values().filter(|ns| ns.len() > 1) {
        let list: Vec<String> = ns.iter().map(|n| format!("n{n}")).collect();
        out.push_str(&format!("  {{ rank = same; {}; }}\n", list.join("; ")));
    }
    let global: Vec<String> = t.global_parts.iter().map(|(k, n)| format!("{n} × {k}")).collect();
    let orphans: Vec<(usize, &Node)> =
        t.nodes.iter().enumerate().filter(|(_, n)| n.region.is_none() && n.shape != Shape::Hostname).collect();
    if !global.is_empty() || !orphans.is_empty() {
        out.push_str("  subgraph \"cluster_global\" {\n    label = \"global (not tied to a region)\";\n    style = \"rounded,dashed\";\n");
        for (ni, n) in orphans {
            out.push_str(&format!("    {}\n", node(ni, n, t.with_state)));
        }
        if !global.is_empty() {
            out.push_str(&format!("    global [label = \"{}\", shape = note];\n", esc(&global.join("\n"))));
        }
        out.push_str("  }\n");
    }
    // A pair replicating both ways, alike, is one arrow with two heads.
    let back = |r: &crate::topology::Relation| {
        t.relations.iter().find(|o| o.from == r.to && o.to == r.from && o.label == r.label && o.mark == r.mark)
    };
    for r in &t.relations {
        let two_way = back(r);
        if two_way.is_some() && r.from > r.to {
            continue;
        }
        // Replication runs across the layers: it must not move them.
        let mut extra = if r.flow == Flow::Replication { ", constraint = false".to_string() } else { String::new() };
        let mut label = r.label.to_string();
        if let Some(note) = &r.note {
            label.push_str(&format!("\n({note})"));
        }
        let mut via = r.via.clone();
        if let Some(o) = two_way {
            extra.push_str(", dir = both");
            label.push_str(" both ways");
            via = format!("{via}, {}", o.via);
        }
        let (mut style, color, width) = match r.flow {
            Flow::Replication => ("solid", REPLICATION, 1),
            Flow::Primary | Flow::Alias => ("solid", TRAFFIC, 2),
            Flow::Secondary => ("dashed", STANDBY, 1),
            Flow::Forward => ("solid", TRAFFIC, 1),
        };
        let (color, why) = match &r.mark {
            Mark::Ok => (color, String::new()),
            Mark::Pending => {
                style = "dashed";
                (PENDING, " (pending)".to_string())
            }
            Mark::Unhealthy(w) => {
                style = "bold";
                (BROKEN, format!(" (unhealthy: {w})"))
            }
        };
        out.push_str(&format!(
            "  n{} -> n{} [label = \"{}{}\", style = \"{style}\", penwidth = {width}, color = \"{color}\", fontcolor = \"{color}\", tooltip = \"{}\"{extra}];\n",
            r.from,
            r.to,
            esc(&label),
            esc(&why),
            esc(&via),
        ));
    }
    out.push_str("}\n");
    out
}

/// The row a box stands in: entry points, then app nodes, then the data,
/// one row per kind (databases, buckets, search), the same in every region.
fn layer(n: &Node) -> usize {
    match n.shape {
        Shape::Hostname => 0,
        Shape::Entry => 1,
        Shape::Nodes => 2,
        Shape::Resource => {
            3 + ["Aurora cluster", "S3 bucket", "OpenSearch domain"].iter().position(|k| *k == n.kind).unwrap_or(3)
        }
    }
}

fn node(i: usize, n: &Node, with_state: bool) -> String {
    let mut label = format!("{}\\n{}", esc(n.kind), esc(&n.name));
    for f in &n.facts {
        label.push_str(&format!("\\n{}", esc(f)));
    }
    for p in &n.parts {
        label.push_str(&format!("\\n+ {}", esc(p)));
    }
    let (mut style, color) = match &n.mark {
        Mark::Ok => ("rounded,filled", "black"),
        Mark::Pending => ("rounded,filled,dashed", PENDING),
        Mark::Unhealthy(w) => {
            label.push_str(&format!("\\nunhealthy: {}", esc(w)));
            ("rounded,filled,bold", BROKEN)
        }
    };
    if with_state && n.mark == Mark::Pending {
        label.push_str("\\n(pending)");
    }
    let fill = match n.shape {
        Shape::Resource => "white",
        Shape::Entry | Shape::Nodes => "#e8f0fe",
        Shape::Hostname => "#fef7e0",
    };
    if n.shape == Shape::Hostname && n.mark == Mark::Ok {
        style = "rounded,filled,bold";
    }
    format!(
        "n{i} [label = \"{label}\", style = \"{style}\", color = \"{color}\", fillcolor = \"{fill}\", tooltip = \"{}\"];",
        esc(&n.address)
    )
}

/// Escapes a DOT double-quoted string.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
