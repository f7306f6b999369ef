//! The DR topology in Graphviz DOT: one cluster per region (its AWS region
//! and role), the main resources in it with short names, and the
//! replication relations between regions. Pending relations are dashed,
//! unhealthy ones red, each with a legend line saying why.

use crate::topology::{Mark, Topology};

const ACTIVE_FILL: &str = "#e6f4ea";
const PASSIVE_FILL: &str = "#eef2f7";

pub fn dot(t: &Topology) -> String {
    let mut out = String::from("digraph topology {\n");
    out.push_str(
        "  graph [rankdir = \"LR\", fontname = \"Helvetica\", fontsize = 12, nodesep = 0.4, ranksep = 1.2];\n",
    );
    out.push_str("  node [shape = box, style = \"rounded,filled\", fillcolor = \"white\", fontname = \"Helvetica\", fontsize = 10];\n");
    out.push_str("  edge [fontname = \"Helvetica\", fontsize = 9];\n");
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
        out.push_str("  }\n");
    }
    let global: Vec<String> = t.global_parts.iter().map(|(k, n)| format!("{n} × {k}")).collect();
    let orphans: Vec<(usize, &crate::topology::Node)> =
        t.nodes.iter().enumerate().filter(|(_, n)| n.region.is_none()).collect();
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
    for r in &t.relations {
        let (style, color, why) = match &r.mark {
            Mark::Ok => ("solid", "#1a73e8", String::new()),
            Mark::Pending => ("dashed", "#9aa0a6", " (pending)".to_string()),
            Mark::Unhealthy(w) => ("bold", "#d93025", format!(" (unhealthy: {w})")),
        };
        out.push_str(&format!(
            "  n{} -> n{} [label = \"{}{}\", style = \"{style}\", color = \"{color}\", fontcolor = \"{color}\", tooltip = \"{}\"];\n",
            r.from,
            r.to,
            esc(r.label),
            esc(&why),
            esc(&r.via),
        ));
    }
    out.push_str("}\n");
    out
}

fn node(i: usize, n: &crate::topology::Node, with_state: bool) -> String {
    let mut label = format!("{}\\n{}", esc(n.kind), esc(&n.name));
    for p in &n.parts {
        label.push_str(&format!("\\n+ {}", esc(p)));
    }
    let (style, color) = match &n.mark {
        Mark::Ok => ("rounded,filled", "black"),
        Mark::Pending => ("rounded,filled,dashed", "#9aa0a6"),
        Mark::Unhealthy(w) => {
            label.push_str(&format!("\\nunhealthy: {}", esc(w)));
            ("rounded,filled,bold", "#d93025")
        }
    };
    if with_state && n.mark == Mark::Pending {
        label.push_str("\\n(pending)");
    }
    format!("n{i} [label = \"{label}\", style = \"{style}\", color = \"{color}\", tooltip = \"{}\"];", esc(&n.address))
}

/// Escapes a DOT double-quoted string.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
