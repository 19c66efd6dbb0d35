//! The names a bundle declares — states, intents, lists, calendars — with where each is first
//! declared, and the duplicate-name pass.

use std::collections::HashMap;

use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{File, Ident, Item};

/// Declared names of one kind, in declaration order.
#[derive(Debug, Default)]
pub(crate) struct Names {
    pub order: Vec<String>,
    pub spans: HashMap<String, Span>,
}

impl Names {
    fn declare(&mut self, name: &Ident, kind: &str, diagnostics: &mut Vec<Diagnostic>) {
        if let Some(first) = self.spans.get(&name.name) {
            diagnostics.push(
                Diagnostic::error(
                    "botrun::duplicate_name",
                    format!("{kind} `{}` is defined twice", name.name),
                )
                .at(name.span, "defined again here")
                .also(*first, "first defined here")
                .with_help(format!("rename one of them, or merge them into one {kind}")),
            );
            return;
        }
        self.order.push(name.name.clone());
        self.spans.insert(name.name.clone(), name.span);
    }

    pub fn contains(&self, name: &str) -> bool {
        self.spans.contains_key(name)
    }

    /// Reports `name` as unknown unless declared; suggests the closest declared name.
    pub(crate) fn require(&self, name: &Ident, kind: &str, diagnostics: &mut Vec<Diagnostic>) {
        if self.contains(&name.name) {
            return;
        }
        let mut d = Diagnostic::error(code_for(kind), format!("unknown {kind} `{}`", name.name))
            .at(name.span, format!("no {kind} has this name"));
        d = match did_you_mean(&name.name, self.order.iter().map(String::as_str)) {
            Some(close) => d.with_help(format!("did you mean `{close}`?")),
            None if self.order.is_empty() => {
                d.with_help(format!("this bot defines no {kind} yet: add `{kind} {}`", name.name))
            }
            None => d.with_help(format!("known {kind}s: {}", list_names(&self.order))),
        };
        diagnostics.push(d);
    }
}

fn code_for(kind: &str) -> &'static str {
    match kind {
        "state" => "botrun::unknown_state",
        "intent" => "botrun::unknown_intent",
        "list" => "botrun::unknown_list",
        _ => "botrun::unknown_calendar",
    }
}

/// Up to eight names in backticks.
pub(crate) fn list_names(names: &[String]) -> String {
    let mut shown: Vec<String> = names.iter().take(8).map(|n| format!("`{n}`")).collect();
    if names.len() > 8 {
        shown.push(format!("and {} more", names.len() - 8));
    }
    shown.join(", ")
}

/// Every declared name of a bundle.
#[derive(Debug, Default)]
pub(crate) struct Symbols {
    pub states: Names,
    pub intents: Names,
    pub lists: Names,
    pub calendars: Names,
}

impl Symbols {
    /// Collects declarations, reporting duplicates.
    pub fn collect(file: &File, diagnostics: &mut Vec<Diagnostic>) -> Symbols {
        let mut symbols = Symbols::default();
        let mut bot_span: Option<Span> = None;
        for item in &file.items {
            match item {
                Item::State(s) => symbols.states.declare(&s.name, "state", diagnostics),
                Item::Intent(i) => symbols.intents.declare(&i.name, "intent", diagnostics),
                Item::List(l) => symbols.lists.declare(&l.name, "list", diagnostics),
                Item::Hours(h) => symbols.calendars.declare(&h.name, "calendar", diagnostics),
                Item::Bot(b) => {
                    if let Some(first) = bot_span {
                        diagnostics.push(
                            Diagnostic::error("botrun::duplicate_name", "the bot is declared twice")
                                .at(b.span, "second `bot`")
                                .also(first, "first declared here")
                                .with_help("keep one `bot` block per bot; shared files should not declare `bot`"),
                        );
                    }
                    bot_span.get_or_insert(b.span);
                }
                Item::Use(_) | Item::On(_) | Item::Anytime(_) => {}
            }
        }
        symbols
    }
}
