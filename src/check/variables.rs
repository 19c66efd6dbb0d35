//! Variables: every `{name}` in a message and every name in a condition must be set somewhere —
//! by `ask`, `set`, `fetch … into`, or a capture — or be built in (`contact`, `env`, `message`,
//! `today`, `now`, `language`).
//! The check is deliberately conservative: it reports names set nowhere in the bot, not names that
//! might be unset on one particular path.

use std::collections::HashSet;

use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::syntax::ast::{
    ExprKind, File, Item, PhraseKind, PhrasePart, PhrasePartKind, StmtKind, TemplatePart,
    TemplateValue, VarPath,
};

use super::visit::{exprs, for_each_stmt, templates};

/// Names every bot can read.
pub(crate) const BUILT_IN: &[&str] = &["contact", "env", "message", "today", "now", "language"];

pub fn check(file: &File, library: bool, out: &mut Vec<Diagnostic>) {
    if library {
        return;
    }
    let mut set: HashSet<String> = BUILT_IN.iter().map(|s| (*s).to_string()).collect();
    for item in &file.items {
        if let Item::Intent(intent) = item {
            for phrase in &intent.phrases {
                match &phrase.kind {
                    PhraseKind::Pattern(parts) => collect_captures(parts, &mut set),
                    PhraseKind::Regex(regex) => {
                        if let Ok(compiled) = super::phrases::build_regex(regex) {
                            set.extend(compiled.capture_names().flatten().map(str::to_string));
                        }
                    }
                }
            }
        }
    }
    for_each_stmt(file, &mut |stmt, _| match &stmt.kind {
        StmtKind::Ask(ask) => {
            set.insert(ask.var.name.clone());
        }
        StmtKind::Set { var, .. } => {
            set.insert(var.root().to_string());
        }
        StmtKind::Fetch(fetch) => {
            set.insert(fetch.into.name.clone());
        }
        _ => {}
    });
    let known: Vec<String> = set.iter().cloned().collect();
    let mut reported: HashSet<(usize, usize)> = HashSet::new();
    let mut report = |path: &VarPath, out: &mut Vec<Diagnostic>| {
        if set.contains(path.root()) || !reported.insert((path.span.start, path.span.end)) {
            return;
        }
        let d = Diagnostic::error(
            "botrun::unknown_variable",
            format!("`{}` is never set", path.root()),
        )
        .at(path.span, "no `ask`, `set`, `fetch` or capture gives it a value");
        out.push(match did_you_mean(path.root(), known.iter().map(String::as_str)) {
            Some(close) => d.with_help(format!("did you mean `{close}`?")),
            None => d.with_help(format!(
                "set it first (`ask {0} as text`, `set {0} to …`), or give a default: `{{{0} or 'something'}}`",
                path.root()
            )),
        });
    };
    for_each_stmt(file, &mut |stmt, _| {
        for template in templates(stmt) {
            for part in &template.parts {
                match part {
                    TemplatePart::Value {
                        value: TemplateValue::Var(path), default: None, ..
                    } => {
                        report(path, out);
                    }
                    // `{upper(name)}` reads `name`; `{next_open(office)}` names a calendar.
                    TemplatePart::Value {
                        value: TemplateValue::Call { function, args },
                        default: None,
                        ..
                    } if crate::engine::EXPRESSION_FUNCTIONS
                        .iter()
                        .any(|(f, _)| *f == function.name) =>
                    {
                        for arg in args {
                            let path = VarPath {
                                segments: arg.name.split('.').map(str::to_string).collect(),
                                span: arg.span,
                            };
                            report(&path, out);
                        }
                    }
                    _ => {}
                }
            }
        }
        for expr in exprs(stmt) {
            if let ExprKind::Var(path) = &expr.kind {
                report(path, out);
            }
        }
    });
}

fn collect_captures(parts: &[PhrasePart], set: &mut HashSet<String>) {
    for part in parts {
        match &part.kind {
            PhrasePartKind::Capture { name, .. } => {
                set.insert(name.name.clone());
            }
            PhrasePartKind::Optional(inner) => collect_captures(inner, set),
            PhrasePartKind::Alternatives(alts) => {
                for alt in alts {
                    collect_captures(alt, set);
                }
            }
            _ => {}
        }
    }
}
