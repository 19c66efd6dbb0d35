//! A standalone SVG picture of the flow, laid out by [`super::layout`] (no Graphviz needed).

use super::layout::{lay_out, text_width, Place, MARGIN_LEFT, NODE_HEIGHT};
use super::mermaid::node_label;
use super::model::{Edge, EdgeKind, FlowGraph, NodeKind};

/// Labels longer than this are shortened in the picture (the full text is the arrow's tooltip).
const LABEL_CHARS: usize = 44;

/// Writes `graph` as an SVG document.
pub(crate) fn render_svg(graph: &FlowGraph) -> String {
    let labels: Vec<String> = graph.nodes.iter().map(|n| node_label(&n.label, &n.kind)).collect();
    let layout = lay_out(graph, &labels);
    // Arrows first: long ones are routed beside the boxes they pass, which may widen the picture.
    let mut beside = [0usize; 2];
    let routes: Vec<(String, (f64, f64))> = graph
        .edges
        .iter()
        .enumerate()
        .map(|(index, edge)| {
            // Arrows between the same two boxes are fanned out so they do not overlap.
            let twin = graph.edges[..index]
                .iter()
                .filter(|e| (e.from, e.to) == (edge.from, edge.to))
                .count();
            route(&layout.places, edge, twin, &mut beside)
        })
        .collect();
    let width = routes.iter().map(|(_, (x, _))| x + 160.0).fold(layout.width, f64::max);
    let mut out = format!(
        concat!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" ",
            "viewBox=\"0 0 {w:.0} {h:.0}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
            "<title>{title}</title>\n<defs>\n"
        ),
        w = width,
        h = layout.height,
        title = escape(&if graph.title.is_empty() { "bot flow".to_string() } else { graph.title.clone() })
    );
    for (name, colour) in ARROW_COLOURS {
        out.push_str(&format!(
            "  <marker id=\"arrow-{name}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{colour}\"/></marker>\n"
        ));
    }
    out.push_str("</defs>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
    if !graph.title.is_empty() {
        out.push_str(&format!(
            "<text x=\"{:.0}\" y=\"28\" font-size=\"16\" font-weight=\"bold\" fill=\"#222\">{}</text>\n",
            MARGIN_LEFT,
            escape(&graph.title)
        ));
    }
    let mut labels_out = String::new();
    for (edge, (path, label_at)) in graph.edges.iter().zip(&routes) {
        let (name, colour) = edge_colour(edge.kind);
        let dash = if matches!(edge.kind, EdgeKind::AskLoop | EdgeKind::Interrupt) {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        out.push_str(&format!(
            "<path class=\"edge\" d=\"{path}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.4\"{dash} marker-end=\"url(#arrow-{name})\"><title>{} → {}{}</title></path>\n",
            escape(&graph.nodes[edge.from].label),
            escape(&graph.nodes[edge.to].label),
            if edge.label.is_empty() { String::new() } else { format!(": {}", escape(&edge.label)) }
        ));
        if !edge.label.is_empty() {
            labels_out.push_str(&edge_label(&edge.label, *label_at, colour));
        }
    }
    for (index, node) in graph.nodes.iter().enumerate() {
        out.push_str(&node_shape(&layout.places[index], &labels[index], &node.kind));
    }
    // Labels go on top of boxes and arrows so they stay readable.
    out.push_str(&labels_out);
    out.push_str("</svg>\n");
    out
}

const ARROW_COLOURS: [(&str, &str); 4] =
    [("go", "#444444"), ("ask", "#3b6fd8"), ("interrupt", "#e08a00"), ("exit", "#d35400")];

fn edge_colour(kind: EdgeKind) -> (&'static str, &'static str) {
    let index = match kind {
        EdgeKind::Go => 0,
        EdgeKind::AskLoop => 1,
        EdgeKind::Interrupt => 2,
        EdgeKind::Exit => 3,
    };
    ARROW_COLOURS[index]
}

/// The path of one arrow and where its label goes. `beside` counts the long arrows already
/// routed left and right of the boxes, so each new one goes a little further out.
fn route(
    places: &[Place],
    edge: &Edge,
    twin: usize,
    beside: &mut [usize; 2],
) -> (String, (f64, f64)) {
    let from = places[edge.from];
    let to = places[edge.to];
    #[allow(clippy::cast_precision_loss)]
    let fan = twin as f64;
    if edge.from == edge.to {
        // A loop on the right side of the box.
        let x = from.x + from.width;
        let reach = 46.0 + fan * 26.0;
        let path = format!(
            "M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
            x,
            from.y + 8.0,
            x + reach,
            from.y - 14.0 - fan * 6.0,
            x + reach,
            from.bottom() + 14.0 + fan * 6.0,
            x,
            from.bottom() - 8.0
        );
        // The label starts right of the loop (labels are centred on their point).
        let shown = edge.label.chars().count().min(LABEL_CHARS);
        #[allow(clippy::cast_precision_loss)]
        let half = shown as f64 * 7.2 * 0.45;
        return (path, (x + reach + half + 6.0, from.y + NODE_HEIGHT / 2.0));
    }
    if to.layer > from.layer + 1 {
        return route_beside(places, from, to, beside);
    }
    if to.layer > from.layer {
        let start = (from.centre_x() + fan * 10.0, from.bottom());
        let end = (to.centre_x() + fan * 10.0, to.y);
        let bend = (end.1 - start.1) * 0.45;
        let c1 = (start.0, start.1 + bend);
        let c2 = (end.0, end.1 - bend);
        let path = format!(
            "M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
            start.0, start.1, c1.0, c1.1, c2.0, c2.1, end.0, end.1
        );
        return (path, cubic_middle(start, c1, c2, end));
    }
    // Back up (or sideways): leave and enter on the left, curving out into the margin.
    #[allow(clippy::cast_precision_loss)]
    let span = (from.layer.abs_diff(to.layer) + 1) as f64;
    let out_by =
        (28.0 + 18.0 * span + fan * 14.0).min(MARGIN_LEFT - 10.0 + from.x.min(to.x) - MARGIN_LEFT);
    let start = (from.x, from.y + NODE_HEIGHT * 0.65);
    let end = (to.x, to.y + NODE_HEIGHT * 0.35);
    let c1 = (from.x.min(to.x) - out_by, start.1);
    let c2 = (from.x.min(to.x) - out_by, end.1);
    let path = format!(
        "M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
        start.0, start.1, c1.0, c1.1, c2.0, c2.1, end.0, end.1
    );
    (path, cubic_middle(start, c1, c2, end))
}

/// An arrow that skips layers passes beside the boxes in between instead of through them: out to
/// the side nearer its target, down, and in again; its label sits at the side.
fn route_beside(
    places: &[Place],
    from: Place,
    to: Place,
    beside: &mut [usize; 2],
) -> (String, (f64, f64)) {
    let between = places.iter().filter(|p| p.layer > from.layer && p.layer < to.layer);
    let (left, right) =
        between.fold((f64::MAX, f64::MIN), |(l, r), p| (l.min(p.x), r.max(p.x + p.width)));
    let go_right = to.centre_x() >= from.centre_x();
    let side = usize::from(go_right);
    #[allow(clippy::cast_precision_loss)]
    let nth = beside[side] as f64;
    beside[side] += 1;
    let x = if go_right { right + 30.0 + nth * 22.0 } else { left - 30.0 - nth * 22.0 };
    let y = f64::midpoint(from.bottom(), to.y);
    let start = (from.centre_x(), from.bottom());
    let end = (to.centre_x(), to.y);
    let path = format!(
        "M{:.1},{:.1} C{:.1},{:.1} {x:.1},{:.1} {x:.1},{y:.1} C{x:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
        start.0,
        start.1,
        start.0,
        start.1 + 40.0,
        y - 70.0,
        y + 70.0,
        end.0,
        end.1 - 40.0,
        end.0,
        end.1
    );
    // Labels of arrows on the same side are stacked so they do not cover each other.
    let label_y = y - 24.0 + nth * 18.0;
    let label_x = if go_right { x + 60.0 } else { x - 60.0 };
    (path, (label_x, label_y))
}

fn cubic_middle(p0: (f64, f64), p1: (f64, f64), p2: (f64, f64), p3: (f64, f64)) -> (f64, f64) {
    ((p0.0 + 3.0 * p1.0 + 3.0 * p2.0 + p3.0) / 8.0, (p0.1 + 3.0 * p1.1 + 3.0 * p2.1 + p3.1) / 8.0)
}

fn edge_label(label: &str, (x, y): (f64, f64), colour: &str) -> String {
    let shown: String = if label.chars().count() > LABEL_CHARS {
        label.chars().take(LABEL_CHARS - 1).chain(std::iter::once('…')).collect()
    } else {
        label.to_string()
    };
    let width = text_width(&shown) * 0.9 + 8.0;
    format!(
        "<g class=\"edge-label\"><title>{full}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"16\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.9\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\" fill=\"{colour}\">{}</text></g>\n",
        x - width / 2.0,
        y - 8.0,
        y + 4.0,
        escape(&shown),
        full = escape(label),
    )
}

fn node_shape(place: &Place, label: &str, kind: &NodeKind) -> String {
    let (x, y, w, h) = (place.x, place.y, place.width, NODE_HEIGHT);
    let (fill, stroke) = match kind {
        NodeKind::State { reachable: true } => ("#eef4ff", "#3b6fd8"),
        NodeKind::State { reachable: false } => ("#f2f2f2", "#999999"),
        NodeKind::Missing => ("#fdecec", "#c62828"),
        NodeKind::Hook => ("#e8f6ea", "#2e7d32"),
        NodeKind::Anytime | NodeKind::Idle => ("#fff4e0", "#e08a00"),
        NodeKind::Handoff => ("#ffe9d6", "#d35400"),
        NodeKind::Resolve => ("#e6f5ef", "#1e8449"),
    };
    let dashed = matches!(kind, NodeKind::State { reachable: false } | NodeKind::Missing);
    let paint = format!(
        "fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\"{}",
        if dashed { " stroke-dasharray=\"5 4\"" } else { "" }
    );
    let shape = match kind {
        NodeKind::State { .. } | NodeKind::Missing => {
            format!("<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"6\" {paint}/>")
        }
        NodeKind::Hook => format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"{:.1}\" {paint}/>",
            h / 2.0
        ),
        NodeKind::Anytime | NodeKind::Idle => format!(
            "<polygon points=\"{x:.1},{y:.1} {:.1},{y:.1} {:.1},{:.1} {:.1},{:.1} {x:.1},{:.1}\" {paint}/>",
            x + w - 14.0,
            x + w,
            y + h / 2.0,
            x + w - 14.0,
            y + h,
            y + h
        ),
        NodeKind::Handoff => format!(
            "<polygon points=\"{:.1},{y:.1} {:.1},{y:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {x:.1},{:.1}\" {paint}/>",
            x + 14.0,
            x + w - 14.0,
            x + w,
            y + h / 2.0,
            x + w - 14.0,
            y + h,
            x + 14.0,
            y + h,
            y + h / 2.0
        ),
        NodeKind::Resolve => format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"{r:.1}\" {paint}/><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"{:.1}\" fill=\"none\" stroke=\"{stroke}\"/>",
            x + 4.0,
            y + 4.0,
            w - 8.0,
            h - 8.0,
            h / 2.0 - 4.0,
            r = h / 2.0
        ),
    };
    let colour = if dashed { "#555555" } else { "#1a1a1a" };
    format!(
        "<g class=\"node\"><title>{label}</title>{shape}<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" dominant-baseline=\"central\" fill=\"{colour}\">{label}</text></g>\n",
        place.centre_x(),
        y + h / 2.0,
        label = escape(label),
    )
}

/// Text safe inside SVG or HTML elements and attributes (the report page uses it too).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::Node;

    #[test]
    fn text_from_the_script_is_escaped() {
        let graph = FlowGraph {
            title: "A & B <bot>".into(),
            nodes: vec![Node {
                id: "state_a".into(),
                label: "a".into(),
                kind: NodeKind::State { reachable: false },
            }],
            edges: vec![Edge {
                from: 0,
                to: 0,
                label: "if x is \"<b>\"".into(),
                kind: EdgeKind::Go,
            }],
        };
        let svg = render_svg(&graph);
        assert!(svg.contains("A &amp; B &lt;bot&gt;"));
        assert!(svg.contains("if x is &quot;&lt;b&gt;&quot;"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("a (unreachable)"));
        assert!(svg.contains("stroke-dasharray=\"5 4\""));
    }
}
