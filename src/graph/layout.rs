//! A small layered layout (the Sugiyama recipe, simplified): break cycles found by a depth-first
//! walk from the entry blocks, put each box one layer below its lowest predecessor, exits on the
//! bottom layer, order each layer by the average position of its neighbours, then centre the
//! layers. Deterministic: the same graph always gives the same picture, so `docs/` diffs stay small.

use super::model::{FlowGraph, NodeKind};

pub(super) const NODE_HEIGHT: f64 = 38.0;
const LAYER_GAP: f64 = 96.0;
const NODE_GAP: f64 = 48.0;
/// Room on the left for arrows that go back up, and on the right for `ask` loops.
pub(super) const MARGIN_LEFT: f64 = 150.0;
const MARGIN_RIGHT: f64 = 210.0;
const MARGIN_TOP: f64 = 56.0;
const CHAR_WIDTH: f64 = 7.2;

/// Where one box goes: top-left corner and size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Place {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub layer: usize,
}

impl Place {
    pub(crate) fn centre_x(&self) -> f64 {
        self.x + self.width / 2.0
    }

    pub(crate) fn bottom(&self) -> f64 {
        self.y + NODE_HEIGHT
    }
}

#[derive(Debug)]
pub(super) struct Layout {
    pub places: Vec<Place>,
    pub width: f64,
    pub height: f64,
}

/// Estimated width of `text` at the picture's font size.
pub(super) fn text_width(text: &str) -> f64 {
    // Counts are small; the cast is exact for any label a person writes.
    #[allow(clippy::cast_precision_loss)]
    let chars = text.chars().count() as f64;
    chars * CHAR_WIDTH
}

pub(super) fn lay_out(graph: &FlowGraph, labels: &[String]) -> Layout {
    let count = graph.nodes.len();
    let forward = acyclic_edges(graph);
    let layers = assign_layers(graph, &forward);
    let depth = layers.iter().copied().max().map_or(0, |d| d + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (node, layer) in layers.iter().enumerate() {
        rows[*layer].push(node);
    }
    order_rows(&mut rows, &forward, count);
    let widths: Vec<f64> = labels.iter().map(|l| (text_width(l) + 28.0).max(84.0)).collect();
    let row_width = |row: &Vec<usize>| -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let gaps = NODE_GAP * row.len().saturating_sub(1) as f64;
        row.iter().map(|n| widths[*n]).sum::<f64>() + gaps
    };
    let widest = rows.iter().map(row_width).fold(0.0, f64::max);
    let mut places = vec![Place { x: 0.0, y: 0.0, width: 0.0, layer: 0 }; count];
    for (layer, row) in rows.iter().enumerate() {
        let mut x = MARGIN_LEFT + (widest - row_width(row)) / 2.0;
        #[allow(clippy::cast_precision_loss)]
        let y = MARGIN_TOP + layer as f64 * (NODE_HEIGHT + LAYER_GAP);
        for node in row {
            places[*node] = Place { x, y, width: widths[*node], layer };
            x += widths[*node] + NODE_GAP;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let height = MARGIN_TOP + depth as f64 * (NODE_HEIGHT + LAYER_GAP);
    Layout { places, width: MARGIN_LEFT + widest + MARGIN_RIGHT, height }
}

/// The edges kept after dropping self loops and the edges that close a cycle (those pointing
/// back into the current depth-first path), as `(from, to)`.
fn acyclic_edges(graph: &FlowGraph) -> Vec<(usize, usize)> {
    let count = graph.nodes.len();
    let outgoing: Vec<Vec<usize>> = (0..count)
        .map(|n| graph.edges.iter().filter(|e| e.from == n && e.to != n).map(|e| e.to).collect())
        .collect();
    // 0 = not visited, 1 = on the current path, 2 = finished.
    let mut mark = vec![0u8; count];
    let mut kept = Vec::new();
    let starts: Vec<usize> = graph.roots().into_iter().chain(0..count).collect();
    for start in starts {
        if mark[start] != 0 {
            continue;
        }
        mark[start] = 1;
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        while let Some((node, next)) = stack.pop() {
            let Some(&to) = outgoing[node].get(next) else {
                mark[node] = 2;
                continue;
            };
            stack.push((node, next + 1));
            match mark[to] {
                0 => {
                    kept.push((node, to));
                    mark[to] = 1;
                    stack.push((to, 0));
                }
                2 => kept.push((node, to)),
                _ => {} // closes a cycle: drawn as an arrow going back up
            }
        }
    }
    kept.sort_unstable();
    kept.dedup();
    kept
}

/// Longest path from the boxes nothing leads to; exits sit alone on the bottom layer.
fn assign_layers(graph: &FlowGraph, forward: &[(usize, usize)]) -> Vec<usize> {
    let count = graph.nodes.len();
    let is_exit = |n: usize| matches!(graph.nodes[n].kind, NodeKind::Handoff | NodeKind::Resolve);
    let mut layer = vec![0usize; count];
    let mut incoming = vec![0usize; count];
    for (_, to) in forward {
        incoming[*to] += 1;
    }
    let mut ready: Vec<usize> = (0..count).filter(|n| incoming[*n] == 0).collect();
    ready.reverse();
    while let Some(node) = ready.pop() {
        for (_, to) in forward.iter().filter(|(from, _)| *from == node) {
            layer[*to] = layer[*to].max(layer[node] + 1);
            incoming[*to] -= 1;
            if incoming[*to] == 0 {
                ready.push(*to);
            }
        }
    }
    let bottom = (0..count).filter(|n| !is_exit(*n)).map(|n| layer[n] + 1).max().unwrap_or(0);
    for (node, slot) in layer.iter_mut().enumerate() {
        if is_exit(node) {
            *slot = bottom;
        }
    }
    layer
}

/// A few sweeps down and up, sorting each row by the mean position of its neighbours in the
/// rows already placed (a stable sort keeps declaration order among ties).
fn order_rows(rows: &mut [Vec<usize>], forward: &[(usize, usize)], count: usize) {
    let mut position = vec![0.0f64; count];
    let place = |rows: &[Vec<usize>], position: &mut Vec<f64>| {
        for row in rows {
            for (i, node) in row.iter().enumerate() {
                #[allow(clippy::cast_precision_loss)]
                let at = (i as f64 + 0.5) / row.len() as f64;
                position[*node] = at;
            }
        }
    };
    place(rows, &mut position);
    for sweep in 0..4 {
        let downwards = sweep % 2 == 0;
        let order: Vec<usize> =
            if downwards { (1..rows.len()).collect() } else { (0..rows.len()).rev().collect() };
        for layer in order {
            let key = |node: usize| -> f64 {
                let neighbours: Vec<f64> = forward
                    .iter()
                    .filter_map(|(from, to)| match downwards {
                        true if *to == node => Some(position[*from]),
                        false if *from == node => Some(position[*to]),
                        _ => None,
                    })
                    .collect();
                if neighbours.is_empty() {
                    position[node]
                } else {
                    #[allow(clippy::cast_precision_loss)]
                    let mean = neighbours.iter().sum::<f64>() / neighbours.len() as f64;
                    mean
                }
            };
            let mut keyed: Vec<(f64, usize)> = rows[layer].iter().map(|n| (key(*n), *n)).collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            rows[layer] = keyed.into_iter().map(|(_, n)| n).collect();
            place(rows, &mut position);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::model::{Edge, EdgeKind, Node};

    fn node(id: &str, kind: NodeKind) -> Node {
        Node { id: id.into(), label: id.into(), kind }
    }

    fn edge(from: usize, to: usize) -> Edge {
        Edge { from, to, label: String::new(), kind: EdgeKind::Go }
    }

    #[test]
    fn cycles_do_not_stop_layering_and_exits_sit_at_the_bottom() {
        let state = NodeKind::State { reachable: true };
        let graph = FlowGraph {
            title: String::new(),
            nodes: vec![
                node("start", NodeKind::Hook),
                node("a", state.clone()),
                node("b", state),
                node("out", NodeKind::Handoff),
            ],
            edges: vec![edge(0, 1), edge(1, 2), edge(2, 1), edge(1, 3), edge(1, 1)],
        };
        let labels: Vec<String> = graph.nodes.iter().map(|n| n.label.clone()).collect();
        let layout = lay_out(&graph, &labels);
        let layers: Vec<usize> = layout.places.iter().map(|p| p.layer).collect();
        assert_eq!(layers, vec![0, 1, 2, 3]);
        assert!(layout.places.iter().all(|p| p.x >= MARGIN_LEFT && p.x + p.width <= layout.width));
    }
}
