//! The pest parser generated from `grammar/bot.pest`, and syntax errors turned into prose.
//! Nothing here is public outside `syntax`.

use pest::error::{ErrorVariant, InputLocation};
use pest::Parser as _;

use crate::diagnostic::{did_you_mean, Diagnostic};
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
}

impl LineKind {
    fn rule(self) -> Rule {
        match self {
            LineKind::TopLevel => Rule::top_line,
            LineKind::BotSetting => Rule::setting_line,
            LineKind::Hours => Rule::hours_line,
            LineKind::ListEntries => Rule::entry_line,
            LineKind::Phrases => Rule::phrase_line,
            LineKind::Statement => Rule::stmt_line,
            LineKind::Choice => Rule::choice_line,
            LineKind::FetchOption => Rule::fetch_option_line,
        }
    }

    /// The words that may start a line of this kind, for "did you mean".
    fn keywords(self) -> &'static [&'static str] {
        match self {
            LineKind::TopLevel => {
                &["bot", "use", "hours", "list", "intent", "on", "anytime", "state"]
            }
            LineKind::BotSetting => &["timezone", "typos", "accents", "buttons", "idle"],
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
            LineKind::ListEntries | LineKind::Phrases | LineKind::Choice => &[],
        }
    }

    fn what(self) -> &'static str {
        match self {
            LineKind::TopLevel => "a top-level line (`bot`, `use`, `hours`, `list`, `intent`, `on`, `anytime` or `state`)",
            LineKind::BotSetting => "a bot setting (`timezone`, `typos tolerated`, `accents ignored`, `buttons at most N` or `idle 30m`)",
            LineKind::Hours => "opening hours such as `mon-fri 09:00-17:00`, `closed 2026-12-25` or `timezone \"Europe/Paris\"`",
            LineKind::ListEntries => "list entries in quotes, separated by commas",
            LineKind::Phrases => "example phrases in quotes (or `/regex/`), separated by commas",
            LineKind::Statement => "a statement such as `say`, `ask`, `go`, `handoff` or `resolve`",
            LineKind::Choice => "a reply in quotes, optionally followed by `weight N`",
            LineKind::FetchOption => "a fetch option: `header`, `body`, `timeout` or `on error`",
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
        Err(error) => Err(prose_error(kind, text, base, file, context, &error)),
    }
}

/// Brackets deeper than this in one line are refused before pest sees them (pest recurses).
const MAX_BRACKETS: usize = 32;

fn nesting_too_deep(text: &str) -> Option<usize> {
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

fn prose_error(
    kind: LineKind,
    text: &str,
    base: usize,
    file: FileId,
    context: &str,
    error: &pest::error::Error<Rule>,
) -> Diagnostic {
    if let Some(open) = unclosed_quote(text) {
        return Diagnostic::error("botrun::syntax", "this text in quotes is never closed")
            .at(Span::new(file, base + open, base + open + 1), "the quote opened here")
            .with_help("add the closing `\"` at the end of the text (a quote inside a text is written `\\\"`)");
    }
    let pos = match error.location {
        InputLocation::Pos(p) | InputLocation::Span((p, _)) => p.min(text.len()),
    };
    let first_word: String =
        text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    let rest = &text[pos..];
    let found = describe_found(rest);
    let at = Span::new(file, base + pos, base + pos + next_char_len(rest));

    // The line does not start with a known word: say so, and suggest the closest keyword.
    if pos == 0 || (kind.keywords().iter().all(|k| *k != first_word) && !kind.keywords().is_empty())
    {
        if !kind.keywords().is_empty() && !first_word.is_empty() {
            let word_span = Span::new(file, base, base + first_word.len());
            let mut d = Diagnostic::error(
                "botrun::syntax",
                format!("`{first_word}` is not something that can stand here{context}"),
            )
            .at(word_span, "not understood");
            d = match did_you_mean(&first_word, kind.keywords().iter().copied()) {
                Some(k) => d.with_help(format!("did you mean `{k}`? Expected {}", kind.what())),
                None => d.with_help(format!("expected {}", kind.what())),
            };
            return d;
        }
        if pos == 0 {
            return Diagnostic::error(
                "botrun::syntax",
                format!("expected {}{context}", kind.what()),
            )
            .at(at, format!("found {found}"));
        }
    }

    let expected = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => expected_phrase(positives),
        ErrorVariant::CustomError { message } => message.clone(),
    };
    let (message, help) =
        special_case(rest).unwrap_or_else(|| (format!("expected {expected}{context}"), None));
    let mut d = Diagnostic::error("botrun::syntax", message).at(at, format!("found {found}"));
    if let Some(help) = help {
        d = d.with_help(help);
    }
    d
}

/// Where an unclosed `"` starts, if the line has one (escaped quotes do not count).
fn unclosed_quote(text: &str) -> Option<usize> {
    let mut open: Option<usize> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            '\\' if !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => open = if open.is_some() { None } else { Some(i) },
            _ => {}
        }
        escaped = false;
    }
    open
}

/// Problems that are clearer when named directly than as "expected …".
fn special_case(rest: &str) -> Option<(String, Option<String>)> {
    if rest.starts_with('"') && !rest[1..].contains('"') {
        return Some((
            "this text in quotes is never closed".into(),
            Some("add the closing `\"` at the end of the text".into()),
        ));
    }
    if rest.starts_with('\t') {
        return Some(("tabs are not allowed here".into(), Some("use spaces".into())));
    }
    None
}

fn next_char_len(rest: &str) -> usize {
    rest.chars().next().map_or(0, char::len_utf8)
}

fn describe_found(rest: &str) -> String {
    match rest.chars().next() {
        None => "the end of the line".into(),
        Some(' ') => "a space".into(),
        Some(_) => {
            let token: String = rest.chars().take_while(|c| !c.is_whitespace()).take(20).collect();
            format!("`{token}`")
        }
    }
}

fn expected_phrase(positives: &[Rule]) -> String {
    let mut phrases: Vec<&str> = positives.iter().map(|r| rule_phrase(*r)).collect();
    phrases.sort_unstable();
    phrases.dedup();
    match phrases.len() {
        0 => "something else".into(),
        1 => phrases[0].into(),
        n => format!("{} or {}", phrases[..n - 1].join(", "), phrases[n - 1]),
    }
}

/// Every grammar rule in words, so messages never show rule names.
fn rule_phrase(rule: Rule) -> &'static str {
    match rule {
        Rule::ident | Rule::intent_names => "a name (letters, digits, `_` or `-`)",
        Rule::var_path => "a variable name such as `order.status`",
        Rule::number => "a number",
        Rule::count => "a whole number",
        Rule::duration => "a duration such as `30s`, `5m`, `2h` or `1h30m`",
        Rule::string | Rule::string_body | Rule::escape => "a text in quotes",
        Rule::template | Rule::tpl_text | Rule::tpl_escape => "a message in quotes",
        Rule::tpl_value | Rule::tpl_call => "a placeholder such as `{name}`",
        Rule::tpl_default | Rule::tpl_default_text => "a default such as `or 'there'`",
        Rule::pattern | Rule::p_seq | Rule::p_word => "a phrase in quotes",
        Rule::p_alts => "alternatives such as `(a|b)`",
        Rule::p_optional => "optional words such as `[my]`",
        Rule::p_wildcard => "`*`",
        Rule::p_capture => "a capture such as `{number:digits}`",
        Rule::p_capture_list | Rule::p_listref => "a list reference such as `@product`",
        Rule::regex | Rule::regex_body | Rule::regex_flags => "a regular expression between slashes",
        Rule::hook => "`start`, `handoff`, `return` or `resolve`",
        Rule::date => "a date such as `2026-12-25`",
        Rule::day_spec | Rule::day => "days such as `mon-fri` or `sat`",
        Rule::time_range | Rule::time => "times such as `09:00-17:00`",
        Rule::answer_type | Rule::yes_no => {
            "an answer type (`text`, `digits`, `number`, `email`, `phone`, `date`, `yes/no`, `@list` or `/regex/`)"
        }
        Rule::after_unit => "`misses` or `retries`",
        Rule::method => "`get`, `post`, `put`, `patch` or `delete`",
        Rule::expr
        | Rule::conjunction
        | Rule::negation
        | Rule::test
        | Rule::operand
        | Rule::not_kw
        | Rule::open_kw
        | Rule::open_test
        | Rule::boolean => "a condition such as `order.status is \"shipped\"`",
        Rule::cmp_op | Rule::compare => "`is`, `is not`, `<`, `>`, `<=` or `>=`",
        Rule::is_empty | Rule::is_not_empty => "`is empty`",
        Rule::in_list | Rule::not_in_list => "`in @list`",
        Rule::EOI => "the end of the line",
        _ => "a keyword",
    }
}
