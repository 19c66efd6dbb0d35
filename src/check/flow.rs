//! Flow: a bot must start somewhere, every state must be reachable, no state may trap the
//! customer, and `go` must not loop between states without waiting for the customer.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::diagnostic::Diagnostic;
use crate::source::Span;
use crate::syntax::ast::{Block, File, HookKind, Item, StateDecl, StmtKind};

use super::visit::{child_blocks, for_each_stmt, walk, Owner};

pub fn check(file: &File, library: bool, out: &mut Vec<Diagnostic>) {
    if library {
        return;
    }
    let states: Vec<&StateDecl> = file
        .items
        .iter()
        .filter_map(|i| match i {
            Item::State(s) => Some(s),
            _ => None,
        })
        .collect();
    check_start(file, out);
    check_reachable(file, &states, out);
    for state in &states {
        check_dead_end(state, out);
    }
    check_go_loops(&states, out);
}

fn check_start(file: &File, out: &mut Vec<Diagnostic>) {
    let has_start =
        file.items.iter().any(|i| matches!(i, Item::On(h) if h.hook == HookKind::Start));
    if has_start {
        return;
    }
    let at = file.items.iter().find_map(|i| match i {
        Item::Bot(b) => Some(b.span),
        _ => None,
    });
    let mut d = Diagnostic::error("botrun::no_start", "the bot has no `on start`").with_help(
        "add an `on start` block that greets the customer and `go`es to the first state",
    );
    if let Some(span) = at {
        d = d.at(span, "this bot never says how a conversation begins");
    }
    out.push(d);
}

/// States reached from the global blocks (`on …`, `anytime`, `idle`) and, from there, by `go`.
fn check_reachable(file: &File, states: &[&StateDecl], out: &mut Vec<Diagnostic>) {
    let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut roots: Vec<&str> = Vec::new();
    for_each_stmt(file, &mut |stmt, owner| {
        if let StmtKind::Go(target) = &stmt.kind {
            match owner {
                Owner::Global => roots.push(&target.name),
                Owner::State(from) => edges.entry(from).or_default().push(&target.name),
            }
        }
    });
    let mut seen: HashSet<&str> = HashSet::new();
    while let Some(state) = roots.pop() {
        if seen.insert(state) {
            roots.extend(edges.get(state).into_iter().flatten());
        }
    }
    for state in states {
        if !seen.contains(state.name.name.as_str()) {
            out.push(
                Diagnostic::warning(
                    "botrun::unreachable_state",
                    format!("state `{}` can never be reached", state.name.name),
                )
                .at(state.name.span, "no `go` leads here")
                .with_help(format!(
                    "add `go {}` where the conversation should move here, or remove the state",
                    state.name.name
                )),
            );
        }
    }
}

/// A state with no handler, no question and no way onward keeps the customer forever.
fn check_dead_end(state: &StateDecl, out: &mut Vec<Diagnostic>) {
    if !state.handlers.is_empty() || state.otherwise.is_some() {
        return;
    }
    let mut moves_on = false;
    walk(&state.entry, Owner::State(&state.name.name), &mut |stmt, _| {
        moves_on |= matches!(
            stmt.kind,
            StmtKind::Go(_) | StmtKind::Handoff { .. } | StmtKind::Resolve { .. }
        );
    });
    if !moves_on {
        out.push(
            Diagnostic::error("botrun::dead_end", format!("state `{}` has no way out", state.name.name))
                .at(state.name.span, "no `when`, no `otherwise`, and nothing here moves on")
                .with_help("add `when` handlers or an `otherwise`, or end its block with `go`, `handoff` or `resolve`"),
        );
    }
}

/// `go` edges taken on entering a state before anything waits for the customer.
fn immediate_gos<'a>(block: &'a Block, found: &mut Vec<(&'a str, Span)>) -> bool {
    for stmt in block {
        match &stmt.kind {
            StmtKind::Ask(_) => return true,
            StmtKind::Go(target) => {
                found.push((&target.name, stmt.span));
                return true;
            }
            StmtKind::If { .. } | StmtKind::Fetch(_) => {
                for child in child_blocks(stmt) {
                    immediate_gos(child, found);
                }
            }
            _ => {}
        }
    }
    false
}

fn check_go_loops(states: &[&StateDecl], out: &mut Vec<Diagnostic>) {
    let mut edges: BTreeMap<&str, Vec<(&str, Span)>> = BTreeMap::new();
    for state in states {
        let mut found = Vec::new();
        immediate_gos(&state.entry, &mut found);
        edges.insert(&state.name.name, found);
    }
    let mut reported: HashSet<Vec<&str>> = HashSet::new();
    for start in edges.keys() {
        // Depth-first search for a path that comes back to `start`.
        let mut stack: Vec<(&str, Vec<(&str, Span)>)> = vec![(start, Vec::new())];
        let mut visited: HashSet<&str> = HashSet::new();
        while let Some((node, path)) = stack.pop() {
            for (next, span) in edges.get(node).into_iter().flatten() {
                let mut next_path = path.clone();
                next_path.push((next, *span));
                if next == start {
                    let mut key: Vec<&str> = next_path.iter().map(|(n, _)| *n).collect();
                    key.sort_unstable();
                    if reported.insert(key) {
                        out.push(loop_diagnostic(start, &next_path));
                    }
                } else if visited.insert(next) {
                    stack.push((next, next_path));
                }
            }
        }
    }
}

fn loop_diagnostic(start: &str, path: &[(&str, Span)]) -> Diagnostic {
    let route: Vec<&str> = std::iter::once(start).chain(path.iter().map(|(n, _)| *n)).collect();
    let mut d = Diagnostic::error(
        "botrun::go_loop",
        format!("`go` loops without waiting for the customer: {}", route.join(" → ")),
    );
    for (i, (target, span)) in path.iter().enumerate() {
        d = if i == 0 {
            d.at(*span, format!("goes to `{target}`"))
        } else {
            d.also(*span, format!("goes to `{target}`"))
        };
    }
    d.with_help("put an `ask` in one of these states, or let a `when` handler do the `go`, so the bot waits for an answer")
}
