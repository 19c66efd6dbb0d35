//! Mermaid flowchart text: renders on GitHub, GitLab and in most wikis without a plugin.

use super::model::{EdgeKind, FlowGraph, NodeKind};

/// Writes `graph` as a Mermaid `flowchart TD`.
pub(crate) fn render_mermaid(graph: &FlowGraph) -> String {
    let mut out = String::new();
    if !graph.title.is_empty() {
        out.push_str(&format!("---\ntitle: {}\n---\n", quote(&graph.title)));
    }
    out.push_str("flowchart TD\n");
    for node in &graph.nodes {
        let label = quote(&node_label(&node.label, &node.kind));
        let shape = match node.kind {
            NodeKind::State { .. } | NodeKind::Missing => format!("[{label}]"),
            NodeKind::Hook => format!("([{label}])"),
            NodeKind::Anytime | NodeKind::Idle => format!(">{label}]"),
            NodeKind::Handoff => format!("{{{{{label}}}}}"),
            NodeKind::Resolve => format!("((({label})))"),
        };
        out.push_str(&format!("  {}{shape}:::{}\n", node.id, class(&node.kind)));
    }
    for edge in &graph.edges {
        let arrow = match edge.kind {
            EdgeKind::Go | EdgeKind::Exit => "-->",
            EdgeKind::AskLoop | EdgeKind::Interrupt => "-.->",
        };
        let from = &graph.nodes[edge.from].id;
        let to = &graph.nodes[edge.to].id;
        if edge.label.is_empty() {
            out.push_str(&format!("  {from} {arrow} {to}\n"));
        } else {
            out.push_str(&format!("  {from} {arrow}|{}| {to}\n", quote(&edge.label)));
        }
    }
    out.push_str(concat!(
        "  classDef state fill:#eef4ff,stroke:#3b6fd8\n",
        "  classDef unreachable fill:#f2f2f2,stroke:#999,stroke-dasharray:5 5,color:#777\n",
        "  classDef missing fill:#fdecec,stroke:#c62828,stroke-dasharray:5 5\n",
        "  classDef hook fill:#e8f6ea,stroke:#2e7d32\n",
        "  classDef interrupt fill:#fff4e0,stroke:#e08a00\n",
        "  classDef handoff fill:#ffe9d6,stroke:#d35400\n",
        "  classDef resolve fill:#e6f5ef,stroke:#1e8449\n",
    ));
    out
}

/// The text shown in a box, with the reason when the box is a problem.
pub(super) fn node_label(label: &str, kind: &NodeKind) -> String {
    match kind {
        NodeKind::State { reachable: false } => format!("{label} (unreachable)"),
        NodeKind::Missing => format!("{label} (no such state)"),
        _ => label.to_string(),
    }
}

fn class(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::State { reachable: true } => "state",
        NodeKind::State { reachable: false } => "unreachable",
        NodeKind::Missing => "missing",
        NodeKind::Hook => "hook",
        NodeKind::Anytime | NodeKind::Idle => "interrupt",
        NodeKind::Handoff => "handoff",
        NodeKind::Resolve => "resolve",
    }
}

/// A double-quoted Mermaid string; quotes and markup characters become entity codes.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '|' => out.push_str("#124;"),
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::{Edge, Node};

    #[test]
    fn labels_cannot_break_out_of_their_quotes() {
        let graph = FlowGraph {
            title: String::new(),
            nodes: vec![Node {
                id: "state_a".into(),
                label: "a".into(),
                kind: NodeKind::State { reachable: true },
            }],
            edges: vec![Edge {
                from: 0,
                to: 0,
                label: "if x is \"a|b\" #1".into(),
                kind: EdgeKind::Go,
            }],
        };
        let text = render_mermaid(&graph);
        assert!(
            text.contains("state_a -->|\"if x is #quot;a#124;b#quot; #35;1\"| state_a"),
            "{text}"
        );
    }
}
