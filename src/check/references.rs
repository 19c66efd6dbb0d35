//! Names used must exist: `go` targets, intents in `when`/`anytime`, lists, calendars, capture and
//! answer types, template functions; plus intents nobody uses and hooks declared twice.

use std::collections::{HashMap, HashSet};

use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{
    AnswerType, CaptureType, ExprKind, File, Ident, Item, PhraseKind, PhrasePart, PhrasePartKind,
    StmtKind, TemplatePart, TemplateValue,
};

use super::symbols::Symbols;
use super::visit::{exprs, for_each_stmt, templates};

/// Built-in capture types: `{name:TYPE}`.
pub(crate) const CAPTURE_TYPES: &[&str] =
    &["text", "word", "digits", "number", "email", "phone", "date", "time", "datetime"];
/// Built-in answer types: `ask x as TYPE`.
pub(crate) const ANSWER_TYPES: &[&str] =
    &["text", "word", "digits", "number", "email", "phone", "date", "time", "datetime", "yes/no"];
/// Functions usable in templates: `next_open(calendar)`, and the expression functions
/// (`upper`, `lower`, `length`, `round`) applied to a variable.
pub(crate) const FUNCTIONS: &[&str] = &["next_open", "upper", "lower", "length", "round"];

fn unknown_function(function: &Ident) -> Diagnostic {
    let d = Diagnostic::error(
        "botrun::unknown_function",
        format!("unknown function `{}`", function.name),
    )
    .at(function.span, "not a function botrun knows");
    match did_you_mean(&function.name, FUNCTIONS.iter().copied()) {
        Some(f) => d.with_help(format!("did you mean `{f}`?")),
        None => d.with_help("the functions are `next_open(calendar)`, `upper(x)`, `lower(x)`, `length(x)` and `round(x)`"),
    }
}

fn bad_arguments(function: &Ident, given: usize) -> Diagnostic {
    let (takes, example) = if function.name == "next_open" {
        ("one calendar name", "write `{next_open(office)}` with the name of an `hours` calendar")
    } else {
        ("one value", "for example `upper(name)` or `length(order.items)`")
    };
    Diagnostic::error("botrun::bad_arguments", format!("`{}` takes {takes}", function.name))
        .at(function.span, format!("given {given} arguments"))
        .with_help(example)
}

pub fn check(file: &File, symbols: &Symbols, library: bool, out: &mut Vec<Diagnostic>) {
    let mut used_intents: HashSet<&str> = HashSet::new();
    let mut hooks: HashMap<&'static str, Span> = HashMap::new();
    for item in &file.items {
        match item {
            Item::Intent(intent) => {
                for phrase in &intent.phrases {
                    if let PhraseKind::Pattern(parts) = &phrase.kind {
                        check_parts(parts, symbols, library, out);
                    }
                }
            }
            Item::Anytime(anytime) => {
                for intent in &anytime.intents {
                    used_intents.insert(&intent.name);
                    require(symbols, "intent", intent, library, out);
                }
            }
            Item::State(state) => {
                for handler in &state.handlers {
                    for intent in &handler.intents {
                        used_intents.insert(&intent.name);
                        require(symbols, "intent", intent, library, out);
                    }
                }
            }
            Item::On(hook) => {
                let name = hook.hook.keyword();
                if let Some(first) = hooks.get(name) {
                    out.push(
                        Diagnostic::error(
                            "botrun::duplicate_hook",
                            format!("`on {name}` is written twice"),
                        )
                        .at(hook.hook_span, "again here")
                        .also(*first, "first here")
                        .with_help(format!("merge the two `on {name}` blocks into one")),
                    );
                } else {
                    hooks.insert(name, hook.hook_span);
                }
            }
            Item::Bot(_) | Item::Use(_) | Item::Hours(_) | Item::List(_) => {}
        }
    }
    for_each_stmt(file, &mut |stmt, _| {
        match &stmt.kind {
            StmtKind::Go(target) => require(symbols, "state", target, library, out),
            StmtKind::Ask(ask) => match &ask.ty {
                AnswerType::List(list) => require(symbols, "list", list, library, out),
                AnswerType::Named(name) if !ANSWER_TYPES.contains(&name.name.as_str()) => {
                    out.push(unknown_type(name, "answer type", ANSWER_TYPES));
                }
                AnswerType::Named(_) | AnswerType::Regex(_) => {}
            },
            _ => {}
        }
        for expr in exprs(stmt) {
            match &expr.kind {
                ExprKind::InList { list, .. } => require(symbols, "list", list, library, out),
                ExprKind::Open { calendar, .. } => {
                    require(symbols, "calendar", calendar, library, out);
                }
                ExprKind::Call { function, args } => {
                    let known = crate::engine::EXPRESSION_FUNCTIONS
                        .iter()
                        .find(|(f, _)| *f == function.name);
                    match known {
                        None => out.push(unknown_function(function)),
                        Some((_, n)) if *n != args.len() => {
                            out.push(bad_arguments(function, args.len()))
                        }
                        Some(_) => {}
                    }
                }
                _ => {}
            }
        }
        for template in templates(stmt) {
            for part in &template.parts {
                let TemplatePart::Value { value: TemplateValue::Call { function, args }, .. } =
                    part
                else {
                    continue;
                };
                if !FUNCTIONS.contains(&function.name.as_str()) {
                    out.push(unknown_function(function));
                } else if args.len() != 1 {
                    out.push(bad_arguments(function, args.len()));
                } else if function.name == "next_open" {
                    require(symbols, "calendar", &args[0], library, out);
                }
            }
        }
    });
    if !library {
        for name in &symbols.intents.order {
            if !used_intents.contains(name.as_str()) {
                let span = symbols.intents.spans[name];
                out.push(
                    Diagnostic::warning(
                        "botrun::unused_intent",
                        format!("intent `{name}` is never used"),
                    )
                    .at(span, "no `when` or `anytime` mentions it")
                    .with_help(format!(
                        "handle it with `when {name}` in a state or `anytime {name}`, or remove it"
                    )),
                );
            }
        }
    }
}

/// In a library, names may be declared by the files that use it: only check declared kinds.
fn require(symbols: &Symbols, kind: &str, name: &Ident, library: bool, out: &mut Vec<Diagnostic>) {
    if library {
        return;
    }
    let names = match kind {
        "state" => &symbols.states,
        "intent" => &symbols.intents,
        "list" => &symbols.lists,
        _ => &symbols.calendars,
    };
    names.require(name, kind, out);
}

fn check_parts(parts: &[PhrasePart], symbols: &Symbols, library: bool, out: &mut Vec<Diagnostic>) {
    for part in parts {
        match &part.kind {
            PhrasePartKind::ListRef(list) => require(symbols, "list", list, library, out),
            PhrasePartKind::Capture { ty: CaptureType::List(list), .. } => {
                require(symbols, "list", list, library, out);
            }
            PhrasePartKind::Capture { ty: CaptureType::Named(ty), .. } => {
                if !CAPTURE_TYPES.contains(&ty.name.as_str()) {
                    out.push(unknown_type(ty, "capture type", CAPTURE_TYPES));
                }
            }
            PhrasePartKind::Optional(inner) => check_parts(inner, symbols, library, out),
            PhrasePartKind::Alternatives(alternatives) => {
                for alternative in alternatives {
                    check_parts(alternative, symbols, library, out);
                }
            }
            PhrasePartKind::Capture { ty: CaptureType::Default, .. }
            | PhrasePartKind::Word(_)
            | PhrasePartKind::Wildcard => {}
        }
    }
}

fn unknown_type(name: &Ident, kind: &str, known: &[&str]) -> Diagnostic {
    let d = Diagnostic::error("botrun::unknown_type", format!("unknown {kind} `{}`", name.name))
        .at(name.span, format!("not a {kind}"));
    let all = known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
    match did_you_mean(&name.name, known.iter().copied()) {
        Some(close) => {
            d.with_help(format!("did you mean `{close}`? The {kind}s are {all}, or `@list`"))
        }
        None => d.with_help(format!("the {kind}s are {all}, or `@list` for one entry of a list")),
    }
}
