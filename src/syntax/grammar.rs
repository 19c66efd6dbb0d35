//! The pest parser generated from `grammar/bot.pest`, and syntax errors turned into prose.
//! Nothing here is public outside `syntax`.

use pest::Parser as _;

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/bot.pest"]
pub(super) struct BotParser;

pub(super) type Pair<'a> = pest::iterators::Pair<'a, Rule>;

/// A parsed line: its pairs, and where the line starts in the file (pest positions are relative
/// to the line).
pub(super) struct ParsedLine<'a> {
    pub pair: Pair<'a>,
    pub base: usize,
    pub file: FileId,
}

impl ParsedLine<'_> {
    pub fn span(&self, pair: &Pair<'_>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, self.base + s.start(), self.base + s.end())
    }
}

/// Where a line stands, for parsing with the right rule and saying what was expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LineKind {
    TopLevel,
    BotSetting,
    Hours,
    ListEntries,
    Phrases,
    Statement,
    Choice,
    FetchOption,
    /// `es "¡Hola!"` under a reply.
    Translation,
    /// `es "Sí", "No"` under `buttons`.
    Labels,
}

impl LineKind {
    pub(super) fn rule(self) -> Rule {
        match self {
            LineKind::TopLevel => Rule::top_line,
            LineKind::BotSetting => Rule::setting_line,
            LineKind::Hours => Rule::hours_line,
            LineKind::ListEntries => Rule::entry_line,
            LineKind::Phrases => Rule::phrase_line,
            LineKind::Statement => Rule::stmt_line,
            LineKind::Choice => Rule::choice_line,
            LineKind::FetchOption => Rule::fetch_option_line,
            LineKind::Translation => Rule::translation_line,
            LineKind::Labels => Rule::labels_line,
        }
    }

    /// The words that may start a line of this kind, for "did you mean".
    pub(super) fn keywords(self) -> &'static [&'static str] {
        match self {
            LineKind::TopLevel => {
                &["bot", "use", "hours", "list", "intent", "on", "anytime", "state"]
            }
            LineKind::BotSetting => {
                &["timezone", "typos", "accents", "buttons", "idle", "dates", "languages"]
            }
            LineKind::Hours => {
                &["timezone", "closed", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            }
            LineKind::Statement => &[
                "say",
                "buttons",
                "ask",
                "retry",
                "after",
                "timeout",
                "set",
                "if",
                "else",
                "go",
                "handoff",
                "resolve",
                "fetch",
                "when",
                "otherwise",
            ],
            LineKind::FetchOption => &["header", "body", "timeout", "on"],
            LineKind::ListEntries
            | LineKind::Phrases
            | LineKind::Choice
            | LineKind::Translation
            | LineKind::Labels => &[],
        }
    }

    pub(super) fn what(self) -> &'static str {
        match self {
            LineKind::TopLevel => "a top-level line (`bot`, `use`, `hours`, `list`, `intent`, `on`, `anytime` or `state`)",
            LineKind::BotSetting => "a bot setting (`timezone`, `typos tolerated`, `accents ignored`, `buttons at most N`, `idle 30m`, `dates day-first` or `languages en, es`)",
            LineKind::Hours => "opening hours such as `mon-fri 09:00-17:00`, `closed 2026-12-25` or `timezone \"Europe/Paris\"`",
            LineKind::ListEntries => "list entries in quotes, separated by commas",
            LineKind::Phrases => "example phrases in quotes (or `/regex/`), separated by commas",
            LineKind::Statement => "a statement such as `say`, `ask`, `go`, `handoff` or `resolve`",
            LineKind::Choice => "a reply in quotes, optionally followed by `weight N`",
            LineKind::FetchOption => "a fetch option: `header`, `body`, `timeout` or `on error`",
            LineKind::Translation => "a translation: a language code and the text in quotes, such as `es \"¡Hola!\"`",
            LineKind::Labels => "translated labels: a language code and the labels in quotes, such as `es \"Sí\", \"No\"`",
        }
    }
}

/// Parses one line's content (`text` is the line without indentation or comment; `base` its byte
/// offset in the file).
pub(super) fn parse_line<'a>(
    kind: LineKind,
    text: &'a str,
    base: usize,
    file: FileId,
    context: &str,
) -> Result<ParsedLine<'a>, Diagnostic> {
    if let Some(at) = nesting_too_deep(text) {
        return Err(Diagnostic::error("botrun::too_deep", "brackets are nested too deeply")
            .at(Span::new(file, base + at, base + at + 1), "too deep from here")
            .with_help("simplify the phrase or condition"));
    }
    match BotParser::parse(kind.rule(), text) {
        Ok(mut pairs) => match pairs.next() {
            Some(pair) => Ok(ParsedLine { pair, base, file }),
            None => Err(internal(Span::new(file, base, base + text.len()), "empty parse")),
        },
        Err(error) => {
            let failed = super::prose::Failed { kind, text, base, file, context };
            Err(super::prose::prose_error(&failed, &error))
        }
    }
}

/// Brackets deeper than this in one line are refused before pest sees them (pest recurses).
const MAX_BRACKETS: usize = 32;

pub(super) fn nesting_too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_BRACKETS {
                    return Some(i);
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

pub(super) fn internal(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error("botrun::internal", format!("internal error in the parser: {what}"))
        .at(span, "while reading this")
        .with_help("this is a bug in botrun, please report it with this file")
}
