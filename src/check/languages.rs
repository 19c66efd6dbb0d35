//! Languages: every translation (`es "…"` under a reply, under `buttons`, or before phrases) names
//! a language of `languages`, and each of the other languages has a version of every reply, every
//! set of button labels and every intent. A missing version is a warning: at run time the default
//! language's text is used instead.

use crate::diagnostic::Diagnostic;
use crate::syntax::ast::{BotSetting, ExprKind, File, Ident, Item, Span, Stmt, StmtKind, Template};

use super::visit::for_each_stmt;

/// The bot's languages as declared (`languages en, es`), the default first; empty for a
/// single-language bot.
pub fn declared(file: &File) -> Vec<&Ident> {
    file.items
        .iter()
        .filter_map(|item| match item {
            Item::Bot(bot) => Some(&bot.settings),
            _ => None,
        })
        .flatten()
        .find_map(|setting| match setting {
            BotSetting::Languages { codes, .. } => Some(codes.iter().collect()),
            _ => None,
        })
        .unwrap_or_default()
}

pub fn check(file: &File, library: bool, out: &mut Vec<Diagnostic>) {
    let languages = declared(file);
    // A library is checked with the languages of the bot that uses it.
    if library && languages.is_empty() {
        return;
    }
    let codes: Vec<&str> = languages.iter().map(|c| c.name.as_str()).collect();
    let check = Checker { codes: &codes };
    for item in &file.items {
        if let Item::Intent(intent) = item {
            for phrase in &intent.phrases {
                if let Some(language) = &phrase.language {
                    check.known(language, out);
                }
            }
            for code in codes.iter().skip(1) {
                let has = intent
                    .phrases
                    .iter()
                    .any(|p| p.language.as_ref().is_some_and(|l| l.name == *code));
                if !has {
                    out.push(missing(
                        code,
                        intent.name.span,
                        format!("the intent `{}` has no `{code}` phrases", intent.name.name),
                        format!("add a line of `{code}` phrases under it, for example `{code} \"…\", \"…\"`; until then `{code}` messages match it only through the other languages' phrases"),
                    ));
                }
            }
        }
    }
    for_each_stmt(file, &mut |stmt, _| check.statement(stmt, out));
}

struct Checker<'a> {
    codes: &'a [&'a str],
}

impl Checker<'_> {
    fn statement(&self, stmt: &Stmt, out: &mut Vec<Diagnostic>) {
        match &stmt.kind {
            StmtKind::Say(text) | StmtKind::Resolve { farewell: Some(text) } => {
                self.reply(text, out);
            }
            StmtKind::SayOneOf(choices) => {
                for choice in choices {
                    self.reply(&choice.text, out);
                }
            }
            StmtKind::Ask(ask) => {
                for retry in &ask.retries {
                    self.reply(retry, out);
                }
            }
            StmtKind::Buttons { labels, translations } => {
                let mut seen: Vec<&str> = Vec::new();
                for translation in translations {
                    let language = &translation.language;
                    if !self.known(language, out) || repeated(language, &seen, out) {
                        continue;
                    }
                    seen.push(&language.name);
                    if translation.labels.len() != labels.len() {
                        out.push(
                            Diagnostic::error(
                                "botrun::labels_mismatch",
                                format!(
                                    "{} `{}` labels for {} buttons",
                                    translation.labels.len(),
                                    language.name,
                                    labels.len()
                                ),
                            )
                            .at(translation.span, "not one label per button")
                            .also(stmt.span, "the buttons")
                            .with_help(
                                "give one label per button, in the same order as the buttons",
                            ),
                        );
                    }
                }
                self.missing_in(&seen, stmt.span, "these buttons have", out);
            }
            StmtKind::Set { var, value } if var.dotted() == "language" => {
                if let ExprKind::Text(text) = &value.kind {
                    let code = text.raw.as_str();
                    let known = self.codes.iter().any(|c| c.eq_ignore_ascii_case(code));
                    if !known && !text.raw.contains('{') {
                        out.push(self.unknown(code, text.span));
                    }
                }
            }
            _ => {}
        }
    }

    fn reply(&self, text: &Template, out: &mut Vec<Diagnostic>) {
        let mut seen: Vec<&str> = Vec::new();
        for translation in &text.translations {
            let language = &translation.language;
            if self.known(language, out) && !repeated(language, &seen, out) {
                seen.push(&language.name);
            }
        }
        self.missing_in(&seen, text.span, "this reply has", out);
    }

    /// Reports a translation into a language the bot does not declare (or into the default).
    fn known(&self, language: &Ident, out: &mut Vec<Diagnostic>) -> bool {
        if self.codes.iter().skip(1).any(|c| *c == language.name) {
            return true;
        }
        if self.codes.first() == Some(&language.name.as_str()) {
            out.push(
                Diagnostic::error(
                    "botrun::duplicate_translation",
                    format!("`{}` is the default language: the text above is already in it", language.name),
                )
                .at(language.span, "the default language")
                .with_help("write the default language's text on the line above and remove this one, or list another language first under `languages`"),
            );
            return false;
        }
        out.push(self.unknown(&language.name, language.span));
        false
    }

    fn unknown(&self, code: &str, span: Span) -> Diagnostic {
        let help = if self.codes.is_empty() {
            format!("declare the bot's languages under `bot`, the default first: `languages en, {code}`")
        } else {
            format!(
                "the bot speaks {}: add `{code}` to `languages` under `bot`, or fix the code",
                self.codes.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
            )
        };
        Diagnostic::error(
            "botrun::unknown_language",
            format!("`{code}` is not one of the bot's languages"),
        )
        .at(span, "not declared under `languages`")
        .with_help(help)
    }

    fn missing_in(&self, seen: &[&str], at: Span, what: &str, out: &mut Vec<Diagnostic>) {
        for code in self.codes.iter().skip(1).filter(|c| !seen.contains(c)) {
            out.push(missing(
                code,
                at,
                format!("{what} no `{code}` version"),
                format!("indent a line `{code} \"…\"` under it; until then `{code}` conversations get the `{}` text", self.codes[0]),
            ));
        }
    }
}

/// Reports a second version of a text in the same language.
fn repeated(language: &Ident, seen: &[&str], out: &mut Vec<Diagnostic>) -> bool {
    if !seen.contains(&language.name.as_str()) {
        return false;
    }
    out.push(
        Diagnostic::error(
            "botrun::duplicate_translation",
            format!("a second `{}` version of the same text", language.name),
        )
        .at(language.span, "second one")
        .with_help("keep one line per language"),
    );
    true
}

fn missing(code: &str, at: Span, message: String, help: String) -> Diagnostic {
    Diagnostic::warning("botrun::missing_translation", message)
        .at(at, format!("no `{code}` version"))
        .with_help(help)
}
