//! Graphviz DOT text, for people who lay the flow out with their own tools.

use super::mermaid::node_label;
use super::model::{EdgeKind, FlowGraph, NodeKind};

/// Writes `graph` as a DOT `digraph`.
pub(crate) fn render_dot(graph: &FlowGraph) -> String {
    let mut out = String::from("digraph flow {\n");
    if !graph.title.is_empty() {
        out.push_str(&format!("  label={};\n  labelloc=t;\n", quote(&graph.title)));
    }
    out.push_str("  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=12];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for node in &graph.nodes {
        let style = match node.kind {
            NodeKind::State { reachable: true } => {
                "shape=box, style=\"rounded,filled\", fillcolor=\"#eef4ff\", color=\"#3b6fd8\""
            }
            NodeKind::State { reachable: false } => {
                "shape=box, style=\"rounded,dashed,filled\", fillcolor=\"#f2f2f2\", color=\"#999999\", fontcolor=\"#777777\""
            }
            NodeKind::Missing => {
                "shape=box, style=\"dashed,filled\", fillcolor=\"#fdecec\", color=\"#c62828\""
            }
            NodeKind::Hook => {
                "shape=box, style=\"rounded,filled\", fillcolor=\"#e8f6ea\", color=\"#2e7d32\", peripheries=2"
            }
            NodeKind::Anytime | NodeKind::Idle => {
                "shape=cds, style=filled, fillcolor=\"#fff4e0\", color=\"#e08a00\""
            }
            NodeKind::Handoff => "shape=hexagon, style=filled, fillcolor=\"#ffe9d6\", color=\"#d35400\"",
            NodeKind::Resolve => {
                "shape=doublecircle, style=filled, fillcolor=\"#e6f5ef\", color=\"#1e8449\""
            }
        };
        let label = quote(&node_label(&node.label, &node.kind));
        out.push_str(&format!("  {} [label={label}, {style}];\n", node.id));
    }
    for edge in &graph.edges {
        let style = match edge.kind {
            EdgeKind::Go => "",
            EdgeKind::AskLoop => ", style=dashed, color=\"#3b6fd8\"",
            EdgeKind::Interrupt => ", style=dashed, color=\"#e08a00\"",
            EdgeKind::Exit => ", color=\"#d35400\"",
        };
        out.push_str(&format!(
            "  {} -> {} [label={}{style}];\n",
            graph.nodes[edge.from].id,
            graph.nodes[edge.to].id,
            quote(&edge.label)
        ));
    }
    out.push_str("}\n");
    out
}

/// A DOT double-quoted string.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', " "))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(super::quote("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
    }
}
