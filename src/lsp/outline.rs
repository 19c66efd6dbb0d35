//! Document symbols (the editor's outline): the bot, calendars, lists, intents, hooks, `anytime`
//! handlers and states of one file, with each state's `when` handlers and `otherwise` inside it.

use lsp_types::{DocumentSymbol, SymbolKind};

use super::lines::range;
use crate::source::{SourceFile, Span};
use crate::syntax::ast::{File, Item};

/// The outline of the items of `file` that live in `source`.
pub(crate) fn symbols(file: &File, source: &SourceFile) -> Vec<DocumentSymbol> {
    let text = &source.text;
    let here = |span: Span| span.file == source.id;
    let mut out = Vec::new();
    for item in file.items.iter().filter(|i| here(i.span())) {
        let symbol = match item {
            Item::Bot(bot) => symbol(
                text,
                &format!("bot {}", bot.name.value),
                SymbolKind::MODULE,
                bot.span,
                bot.name.span,
            ),
            Item::Use(u) => symbol(
                text,
                &format!("use {}", u.path.value),
                SymbolKind::PACKAGE,
                u.span,
                u.path.span,
            ),
            Item::Hours(h) => symbol(text, &h.name.name, SymbolKind::CONSTANT, h.span, h.name.span),
            Item::List(l) => symbol(text, &l.name.name, SymbolKind::ENUM, l.span, l.name.span),
            Item::Intent(i) => symbol(text, &i.name.name, SymbolKind::EVENT, i.span, i.name.span),
            Item::On(hook) => symbol(
                text,
                &format!("on {}", hook.hook.keyword()),
                SymbolKind::FUNCTION,
                hook.span,
                hook.hook_span,
            ),
            Item::Anytime(a) => {
                let names: Vec<&str> = a.intents.iter().map(|i| i.name.as_str()).collect();
                let selection = a.intents.first().map_or(a.span, |i| i.span);
                symbol(
                    text,
                    &format!("anytime {}", names.join(" or ")),
                    SymbolKind::FUNCTION,
                    a.span,
                    selection,
                )
            }
            Item::State(state) => {
                let mut s =
                    symbol(text, &state.name.name, SymbolKind::CLASS, state.span, state.name.span);
                let mut children = Vec::new();
                for handler in &state.handlers {
                    let names: Vec<&str> =
                        handler.intents.iter().map(|i| i.name.as_str()).collect();
                    let selection = handler.intents.first().map_or(handler.span, |i| i.span);
                    children.push(symbol(
                        text,
                        &format!("when {}", names.join(" or ")),
                        SymbolKind::METHOD,
                        handler.span,
                        selection,
                    ));
                }
                if let Some(otherwise) = &state.otherwise {
                    children.push(symbol(
                        text,
                        "otherwise",
                        SymbolKind::METHOD,
                        otherwise.span,
                        otherwise.span,
                    ));
                }
                s.children = Some(children);
                s
            }
        };
        out.push(symbol);
    }
    out
}

#[allow(deprecated)] // `deprecated` is a required field of the type, superseded by `tags`.
fn symbol(text: &str, name: &str, kind: SymbolKind, span: Span, selection: Span) -> DocumentSymbol {
    let full = range(text, span.start, span.end);
    // The selection must lie inside the full range; clamp if a span came from elsewhere.
    let selection =
        if selection.start >= span.start && selection.end <= span.end { selection } else { span };
    DocumentSymbol {
        name: name.to_string(),
        detail: None,
        kind,
        tags: None,
        deprecated: None,
        range: full,
        selection_range: range(text, selection.start, selection.end),
        children: None,
    }
}
