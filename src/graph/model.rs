//! The flow graph: which blocks exist (states, hooks, interrupts, idle rungs, exits) and which
//! moves connect them, built from a bundle's syntax tree.

use std::collections::{HashMap, HashSet};

use crate::source::{SourceFile, Span};
use crate::syntax::ast::{AnswerType, Block, BotSetting, File, Ident, Item, StmtKind};
use crate::syntax::duration::format_seconds;

/// What a box in the picture stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// `state NAME`; `reachable` is false when nothing leads to it.
    State { reachable: bool },
    /// A `go` names a state no file declares.
    Missing,
    /// `on start` / `on handoff` / `on return` / `on resolve`.
    Hook,
    /// `anytime INTENT…`: an interrupt that works from every state.
    Anytime,
    /// `idle 10m` in the bot block.
    Idle,
    /// The conversation goes to a person.
    Handoff,
    /// The conversation is closed.
    Resolve,
}

/// One box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// A name safe to use as an identifier in Mermaid and DOT.
    pub id: String,
    pub label: String,
    pub kind: NodeKind,
}

/// How an arrow is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// `go`, or the first `go` of a hook.
    Go,
    /// An `ask` that waits in the state until its answer comes.
    AskLoop,
    /// From an `anytime` or `idle` block.
    Interrupt,
    /// Into the handoff or resolve exit.
    Exit,
}

/// One arrow, between indices into [`FlowGraph::nodes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub label: String,
    pub kind: EdgeKind,
}

/// A bot's flow: boxes in declaration order (exits last) and the arrows between them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowGraph {
    pub title: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

impl FlowGraph {
    /// Indices of the nodes no arrow has to reach: hooks, interrupts and idle rungs.
    pub(crate) fn roots(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| {
                matches!(self.nodes[*i].kind, NodeKind::Hook | NodeKind::Anytime | NodeKind::Idle)
            })
            .collect()
    }

    /// Names of states nothing leads to.
    pub(crate) fn unreachable_states(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .filter(|n| n.kind == NodeKind::State { reachable: false })
            .map(|n| n.label.as_str())
            .collect()
    }
}

/// Builds the flow graph of a merged bundle; `sources` give the text of conditions for labels.
pub fn build(file: &File, sources: &[SourceFile]) -> FlowGraph {
    let mut builder = Builder { sources, graph: FlowGraph::default(), by_id: HashMap::new() };
    for item in &file.items {
        match item {
            Item::Bot(bot) => {
                builder.graph.title.clone_from(&bot.name.value);
                for setting in &bot.settings {
                    if let BotSetting::Idle(rung) = setting {
                        let label = format!("idle {}", format_seconds(rung.after.seconds));
                        let node = builder.node(
                            &format!("idle_{}", rung.after.seconds),
                            &label,
                            NodeKind::Idle,
                        );
                        builder.block(node, &rung.body, "", EdgeKind::Interrupt);
                    }
                }
            }
            Item::State(state) => {
                builder.state(&state.name.name);
            }
            _ => {}
        }
    }
    for item in &file.items {
        match item {
            Item::On(hook) => {
                let keyword = hook.hook.keyword();
                let node = builder.node(
                    &format!("on_{keyword}"),
                    &format!("on {keyword}"),
                    NodeKind::Hook,
                );
                builder.block(node, &hook.body, "", EdgeKind::Go);
            }
            Item::Anytime(anytime) => {
                let names = names(&anytime.intents, ", ");
                let id = format!("anytime_{}", names.replace(", ", "_"));
                let node = builder.node(&id, &format!("anytime {names}"), NodeKind::Anytime);
                builder.block(node, &anytime.body, "", EdgeKind::Interrupt);
            }
            Item::State(state) => {
                let node = builder.state(&state.name.name);
                builder.block(node, &state.entry, "", EdgeKind::Go);
                for handler in &state.handlers {
                    let label = format!("when {}", names(&handler.intents, " or "));
                    builder.block(node, &handler.body, &label, EdgeKind::Go);
                }
                if let Some(otherwise) = &state.otherwise {
                    builder.block(node, &otherwise.body, "otherwise", EdgeKind::Go);
                    for rung in &otherwise.after_misses {
                        let label = format!("after {} misses", rung.count);
                        builder.block(node, &rung.body, &label, EdgeKind::Go);
                    }
                }
            }
            _ => {}
        }
    }
    builder.mark_reachable();
    builder.move_exits_last();
    builder.graph
}

struct Builder<'a> {
    sources: &'a [SourceFile],
    graph: FlowGraph,
    by_id: HashMap<String, usize>,
}

impl Builder<'_> {
    fn node(&mut self, id: &str, label: &str, kind: NodeKind) -> usize {
        let id = safe_id(id);
        if let Some(index) = self.by_id.get(&id) {
            return *index;
        }
        let index = self.graph.nodes.len();
        self.graph.nodes.push(Node { id: id.clone(), label: label.to_string(), kind });
        self.by_id.insert(id, index);
        index
    }

    fn state(&mut self, name: &str) -> usize {
        self.node(&format!("state_{name}"), name, NodeKind::State { reachable: false })
    }

    fn edge(&mut self, from: usize, to: usize, label: &str, kind: EdgeKind) {
        let edge = Edge { from, to, label: label.to_string(), kind };
        if !self.graph.edges.contains(&edge) {
            self.graph.edges.push(edge);
        }
    }

    /// Adds the moves a block makes; `context` says when the block runs (`when track`…).
    fn block(&mut self, from: usize, block: &Block, context: &str, kind: EdgeKind) {
        for stmt in block {
            match &stmt.kind {
                StmtKind::Go(target) => {
                    let to = match self.by_id.get(&safe_id(&format!("state_{}", target.name))) {
                        Some(index) => *index,
                        None => self.node(
                            &format!("missing_{}", target.name),
                            &target.name,
                            NodeKind::Missing,
                        ),
                    };
                    self.edge(from, to, context, kind);
                }
                StmtKind::Handoff { .. } => {
                    let to = self.node("exit_handoff", "handoff", NodeKind::Handoff);
                    self.edge(from, to, context, exit_kind(kind));
                }
                StmtKind::Resolve { .. } => {
                    let to = self.node("exit_resolve", "resolve", NodeKind::Resolve);
                    self.edge(from, to, context, exit_kind(kind));
                }
                StmtKind::Ask(ask) => {
                    let label =
                        join(context, &format!("ask {} as {}", ask.var.name, answer_type(&ask.ty)));
                    self.edge(from, from, &label, EdgeKind::AskLoop);
                    self.block(from, &ask.prompt, context, kind);
                    if let Some(rung) = &ask.after_retries {
                        let label = join(context, &format!("after {} retries", rung.count));
                        self.block(from, &rung.body, &label, kind);
                    }
                    for rung in &ask.timeouts {
                        let label = join(
                            context,
                            &format!("timeout {}", format_seconds(rung.after.seconds)),
                        );
                        self.block(from, &rung.body, &label, kind);
                    }
                }
                StmtKind::If { branches, otherwise, .. } => {
                    for (condition, body) in branches {
                        let label = join(context, &format!("if {}", self.text(condition.span)));
                        self.block(from, body, &label, kind);
                    }
                    if let Some(body) = otherwise {
                        self.block(from, body, &join(context, "else"), kind);
                    }
                }
                StmtKind::Fetch(fetch) => {
                    if let Some(body) = &fetch.on_error {
                        self.block(from, body, &join(context, "fetch fails"), kind);
                    }
                }
                _ => {}
            }
        }
    }

    /// The source text of a span, on one line.
    fn text(&self, span: Span) -> String {
        self.sources
            .get(span.file.0 as usize)
            .and_then(|s| s.text.get(span.start..span.end))
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }

    /// States reached by arrows from hooks, interrupts and idle rungs are reachable.
    fn mark_reachable(&mut self) {
        let mut seen: HashSet<usize> = HashSet::new();
        let mut stack = self.graph.roots();
        while let Some(node) = stack.pop() {
            if seen.insert(node) {
                stack.extend(self.graph.edges.iter().filter(|e| e.from == node).map(|e| e.to));
            }
        }
        for (index, node) in self.graph.nodes.iter_mut().enumerate() {
            if let NodeKind::State { reachable } = &mut node.kind {
                *reachable = seen.contains(&index);
            }
        }
    }

    /// Exits are drawn after everything else; their indices change, so the arrows follow.
    fn move_exits_last(&mut self) {
        let is_exit = |n: &Node| matches!(n.kind, NodeKind::Handoff | NodeKind::Resolve);
        let order: Vec<usize> = (0..self.graph.nodes.len())
            .filter(|i| !is_exit(&self.graph.nodes[*i]))
            .chain((0..self.graph.nodes.len()).filter(|i| is_exit(&self.graph.nodes[*i])))
            .collect();
        let mut new_index = vec![0; order.len()];
        for (new, old) in order.iter().enumerate() {
            new_index[*old] = new;
        }
        self.graph.nodes = order.iter().map(|old| self.graph.nodes[*old].clone()).collect();
        for edge in &mut self.graph.edges {
            edge.from = new_index[edge.from];
            edge.to = new_index[edge.to];
        }
    }
}

/// A move out of an interrupt stays an interrupt in colour; any other exit is an exit.
fn exit_kind(kind: EdgeKind) -> EdgeKind {
    if kind == EdgeKind::Interrupt {
        EdgeKind::Interrupt
    } else {
        EdgeKind::Exit
    }
}

fn join(context: &str, more: &str) -> String {
    if context.is_empty() {
        more.to_string()
    } else {
        format!("{context} · {more}")
    }
}

fn names(idents: &[Ident], separator: &str) -> String {
    idents.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(separator)
}

fn answer_type(ty: &AnswerType) -> String {
    match ty {
        AnswerType::Named(name) => name.name.clone(),
        AnswerType::List(list) => format!("@{}", list.name),
        AnswerType::Regex(regex) => format!("/{}/{}", regex.pattern, regex.flags),
    }
}

/// Letters, digits and `_` only, so the id works unquoted in Mermaid and DOT.
fn safe_id(raw: &str) -> String {
    raw.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn graph_of(text: &str) -> FlowGraph {
        let source = SourceFile::new(FileId(0), "t.bot", text);
        let file = crate::syntax::parse(&source).expect("parses");
        build(&file, &[source])
    }

    fn arrow(graph: &FlowGraph, from: &str, to: &str) -> Vec<(String, EdgeKind)> {
        graph
            .edges
            .iter()
            .filter(|e| graph.nodes[e.from].label == from && graph.nodes[e.to].label == to)
            .map(|e| (e.label.clone(), e.kind))
            .collect()
    }

    const BOT: &str = "bot \"T\"\n  idle 10m\n    resolve\n\nintent yes\n  \"yes\"\n\nintent human\n  \"agent\"\n\non start\n  go menu\n\nanytime human\n  handoff\n\nstate menu\n  ask n as digits\n    say \"number?\"\n    after 2 retries\n      handoff\n  if n > 3\n    go big\n  when yes\n    go menu\n  otherwise\n    say \"?\"\n    after 3 misses\n      go nowhere\n\nstate big\n  resolve\n\nstate lonely\n  resolve\n";

    #[test]
    fn transitions_carry_what_triggers_them() {
        let graph = graph_of(BOT);
        assert_eq!(arrow(&graph, "on start", "menu"), vec![(String::new(), EdgeKind::Go)]);
        assert_eq!(arrow(&graph, "menu", "big"), vec![("if n > 3".to_string(), EdgeKind::Go)]);
        let loops = arrow(&graph, "menu", "menu");
        assert!(loops.contains(&("ask n as digits".to_string(), EdgeKind::AskLoop)), "{loops:?}");
        assert!(loops.contains(&("when yes".to_string(), EdgeKind::Go)), "{loops:?}");
        assert_eq!(
            arrow(&graph, "menu", "handoff"),
            vec![("after 2 retries".to_string(), EdgeKind::Exit)]
        );
        assert_eq!(
            arrow(&graph, "anytime human", "handoff"),
            vec![(String::new(), EdgeKind::Interrupt)]
        );
        assert_eq!(
            arrow(&graph, "idle 10m", "resolve"),
            vec![(String::new(), EdgeKind::Interrupt)]
        );
    }

    #[test]
    fn unreachable_and_missing_states_are_marked() {
        let graph = graph_of(BOT);
        assert_eq!(graph.unreachable_states(), vec!["lonely"]);
        let missing = graph.nodes.iter().find(|n| n.label == "nowhere").expect("missing node");
        assert_eq!(missing.kind, NodeKind::Missing);
        assert_eq!(arrow(&graph, "menu", "nowhere")[0].0, "after 3 misses");
    }

    #[test]
    fn exits_come_last() {
        let graph = graph_of(BOT);
        let kinds: Vec<&NodeKind> = graph.nodes.iter().map(|n| &n.kind).collect();
        let first_exit = kinds
            .iter()
            .position(|k| matches!(k, NodeKind::Handoff | NodeKind::Resolve))
            .expect("exits");
        assert!(kinds[first_exit..]
            .iter()
            .all(|k| matches!(k, NodeKind::Handoff | NodeKind::Resolve)));
    }
}
