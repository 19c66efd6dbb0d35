//! Walking every block of a file: statements with the place they belong to, and the templates and
//! expressions inside them. The passes use this instead of each re-walking the tree.

use crate::syntax::ast::{Block, BotSetting, Expr, ExprKind, File, Item, Stmt, StmtKind, Template};

/// Where a block lives, for messages and flow analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner<'a> {
    /// A state's entry block, `when` handlers and `otherwise` (by state name).
    State(&'a str),
    /// `on …`, `anytime …`, `idle …`: blocks that run from anywhere.
    Global,
}

/// Calls `visit` for every statement in the file, depth first, with its owner.
pub(crate) fn for_each_stmt<'a>(file: &'a File, visit: &mut dyn FnMut(&'a Stmt, Owner<'a>)) {
    for item in &file.items {
        match item {
            Item::Bot(bot) => {
                for setting in &bot.settings {
                    if let BotSetting::Idle(rung) = setting {
                        walk(&rung.body, Owner::Global, visit);
                    }
                }
            }
            Item::On(hook) => walk(&hook.body, Owner::Global, visit),
            Item::Anytime(anytime) => walk(&anytime.body, Owner::Global, visit),
            Item::State(state) => {
                let owner = Owner::State(&state.name.name);
                walk(&state.entry, owner, visit);
                for handler in &state.handlers {
                    walk(&handler.body, owner, visit);
                }
                if let Some(otherwise) = &state.otherwise {
                    walk(&otherwise.body, owner, visit);
                    for rung in &otherwise.after_misses {
                        walk(&rung.body, owner, visit);
                    }
                }
            }
            Item::Use(_) | Item::Hours(_) | Item::List(_) | Item::Intent(_) => {}
        }
    }
}

/// Calls `visit` for every statement of `block` and the blocks nested in it.
pub(crate) fn walk<'a>(
    block: &'a Block,
    owner: Owner<'a>,
    visit: &mut dyn FnMut(&'a Stmt, Owner<'a>),
) {
    for stmt in block {
        visit(stmt, owner);
        for child in child_blocks(stmt) {
            walk(child, owner, visit);
        }
    }
}

/// The blocks directly inside a statement.
pub(crate) fn child_blocks(stmt: &Stmt) -> Vec<&Block> {
    match &stmt.kind {
        StmtKind::Ask(ask) => {
            let mut blocks = vec![&ask.prompt];
            blocks.extend(ask.after_retries.iter().map(|r| &r.body));
            blocks.extend(ask.timeouts.iter().map(|r| &r.body));
            blocks
        }
        StmtKind::If { branches, otherwise, .. } => {
            let mut blocks: Vec<&Block> = branches.iter().map(|(_, b)| b).collect();
            blocks.extend(otherwise.iter());
            blocks
        }
        StmtKind::Fetch(fetch) => fetch.on_error.iter().collect(),
        _ => Vec::new(),
    }
}

/// The templates a statement shows or sends, their translations included (not those of nested
/// blocks).
pub(crate) fn templates(stmt: &Stmt) -> Vec<&Template> {
    let mut all = written_templates(stmt);
    let translated: Vec<&Template> =
        all.iter().flat_map(|t| t.translations.iter().map(|tr| &tr.text)).collect();
    all.extend(translated);
    all
}

fn written_templates(stmt: &Stmt) -> Vec<&Template> {
    match &stmt.kind {
        StmtKind::Say(t)
        | StmtKind::Handoff { note: Some(t) }
        | StmtKind::Resolve { farewell: Some(t) } => vec![t],
        StmtKind::SayOneOf(choices) => choices.iter().map(|c| &c.text).collect(),
        StmtKind::Ask(ask) => ask.retries.iter().collect(),
        StmtKind::Fetch(fetch) => {
            let mut all = vec![&fetch.url];
            all.extend(fetch.headers.iter().map(|(_, v)| v));
            all.extend(fetch.body.iter());
            all
        }
        StmtKind::Set { value, .. } => expr_templates(value),
        StmtKind::If { branches, .. } => {
            branches.iter().flat_map(|(c, _)| expr_templates(c)).collect()
        }
        _ => Vec::new(),
    }
}

/// Every sub-expression of `expr`, itself included.
pub(crate) fn sub_exprs(expr: &Expr) -> Vec<&Expr> {
    let mut out = vec![expr];
    let mut i = 0;
    while i < out.len() {
        match &out[i].kind {
            ExprKind::Or(a, b) | ExprKind::And(a, b) => {
                out.push(a);
                out.push(b);
            }
            ExprKind::Compare { lhs, rhs, .. } | ExprKind::Arith { lhs, rhs, .. } => {
                out.push(lhs);
                out.push(rhs);
            }
            ExprKind::Not(a)
            | ExprKind::IsEmpty { operand: a, .. }
            | ExprKind::InList { operand: a, .. }
            | ExprKind::Open { when: Some(a), .. } => {
                out.push(a);
            }
            ExprKind::Call { args, .. } => out.extend(args.iter()),
            ExprKind::Open { when: None, .. }
            | ExprKind::Var(_)
            | ExprKind::Text(_)
            | ExprKind::Number(_)
            | ExprKind::Bool(_) => {}
        }
        i += 1;
    }
    out
}

fn expr_templates(expr: &Expr) -> Vec<&Template> {
    sub_exprs(expr)
        .into_iter()
        .filter_map(|e| match &e.kind {
            ExprKind::Text(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// The conditions and values a statement evaluates.
pub(crate) fn exprs(stmt: &Stmt) -> Vec<&Expr> {
    match &stmt.kind {
        StmtKind::Set { value, .. } => sub_exprs(value),
        StmtKind::If { branches, .. } => branches.iter().flat_map(|(c, _)| sub_exprs(c)).collect(),
        _ => Vec::new(),
    }
}
