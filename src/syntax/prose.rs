//! Syntax errors in prose: a line that does not parse is explained in the author's words, with
//! the fix in the help. In order: characters that only look right (`lookalike`), a text never
//! closed, a bracket never closed inside a text (`brackets`), a small repair that makes the line
//! parse (`repair`), and finally "expected …, found …" with how the line's keyword is written.

use pest::error::{ErrorVariant, InputLocation};
use pest::Parser as _;

use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::source::{FileId, Span};

use super::brackets::{self, Texts};
use super::grammar::{BotParser, LineKind, Rule};
use super::lookalike;
use super::repair;

/// Where the failing line is: its text, where it starts in the file, and what it should be.
pub(super) struct Failed<'a> {
    pub kind: LineKind,
    pub text: &'a str,
    pub base: usize,
    pub file: FileId,
    /// " in `intent track`" and the like, appended to "expected …" messages.
    pub context: &'a str,
}

impl Failed<'_> {
    fn span(&self, at: usize, len: usize) -> Span {
        Span::new(self.file, self.base + at, self.base + at + len)
    }

    fn parses(&self, line: &str) -> bool {
        BotParser::parse(self.kind.rule(), line).is_ok()
    }
}

pub(super) fn prose_error(line: &Failed<'_>, error: &pest::error::Error<Rule>) -> Diagnostic {
    let text = line.text;
    if let Some(d) = lookalike_error(line) {
        return d;
    }
    if let Some(open) = unclosed_quote(text) {
        if let Some((at, ch)) = lookalike::curly_close_after(text, open) {
            let fixed = format!("{}\"{}", &text[..at], &text[at + ch.len_utf8()..]);
            return Diagnostic::error(
                "botrun::syntax",
                format!(
                    "this text starts with a straight quote `\"` but ends with a curly one `{ch}`"
                ),
            )
            .at(line.span(at, ch.len_utf8()), "a curly quote does not close a text")
            .also(line.span(open, 1), "the text starts here")
            .with_help(with_fixed(
                line,
                "end the text with a straight quote `\"`",
                &fixed,
            ));
        }
        return Diagnostic::error("botrun::syntax", "this text in quotes is never closed")
            .at(line.span(open, 1), "the quote opened here")
            .with_help("add the closing `\"` at the end of the text (a quote inside a text is written `\\\"`)");
    }
    let texts = match line.kind {
        LineKind::Phrases => Some(Texts::Phrases),
        LineKind::Statement | LineKind::Choice | LineKind::FetchOption => Some(Texts::Messages),
        _ => None,
    };
    if let Some(p) = texts.and_then(|t| brackets::first_problem(text, t)) {
        return Diagnostic::error("botrun::syntax", p.message)
            .at(line.span(p.at, p.len), p.label)
            .with_help(p.help);
    }
    let (pos, expected_words) = stop_and_expected(line, error);
    if let Some(r) = repair::suggest(text, pos, &expected_words, &|l| line.parses(l)) {
        let help = match r.note {
            Some(note) => format!("write `{}` ({note})", r.fixed),
            None => format!("write `{}`", r.fixed),
        };
        return Diagnostic::error("botrun::syntax", r.message)
            .at(line.span(r.at.0, r.at.1 - r.at.0), r.label)
            .with_help(help);
    }
    expected_found(line, error, pos)
}

/// Where the parser stopped, and the keywords it would have accepted there. Pest only tracks
/// the keywords when asked to, which costs time on every line, so it is asked again here, for
/// the failing line only.
fn stop_and_expected(line: &Failed<'_>, error: &pest::error::Error<Rule>) -> (usize, Vec<String>) {
    let pos = match error.location {
        InputLocation::Pos(p) | InputLocation::Span((p, _)) => p.min(line.text.len()),
    };
    pest::set_error_detail(true);
    let detailed = BotParser::parse(line.kind.rule(), line.text).err();
    pest::set_error_detail(false);
    let Some(attempts) = detailed.and_then(|e| e.parse_attempts()) else {
        return (pos, Vec::new());
    };
    // Keywords are the expected tokens made of small letters (the token type is not public).
    let words = attempts
        .expected_tokens()
        .iter()
        .map(ToString::to_string)
        .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_lowercase()))
        .collect();
    (attempts.max_position.clamp(pos, line.text.len()), words)
}

fn with_fixed(line: &Failed<'_>, advice: &str, fixed: &str) -> String {
    if line.parses(fixed) {
        format!("{advice}: `{fixed}`")
    } else {
        advice.to_string()
    }
}

fn lookalike_error(line: &Failed<'_>) -> Option<Diagnostic> {
    let (found, fixed) = lookalike::scan(line.text)?;
    let what = found.what;
    let len = what.ch.len_utf8();
    let named = lookalike::describe(what);
    let (message, label, advice) = match what.plain {
        " " => (
            format!("this line has {named} where an ordinary space belongs"),
            "an invisible character here".to_string(),
            "replace it with an ordinary space (such characters come with text pasted from a word processor, a web page or a chat)".to_string(),
        ),
        "" => {
            let word = word_around(line.text, found.at);
            (
                format!("this line has an invisible character: {named}"),
                "an invisible character here".to_string(),
                format!("delete it; as it cannot be seen, the easiest way is to retype `{word}` by hand"),
            )
        }
        "\"" => (
            format!("texts are written between straight quotes `\"`, and this is {named}"),
            "write `\"` here".to_string(),
            format!("type a plain `\"` (word processors turn it into `{}`; edit bots in a plain-text editor)", what.ch),
        ),
        plain => (
            format!("{named} is not the `{plain}` the language uses"),
            format!("write `{plain}` here"),
            format!("type a plain `{plain}` (word processors change it into `{}`; edit bots in a plain-text editor)", what.ch),
        ),
    };
    Some(
        Diagnostic::error("botrun::syntax", message)
            .at(line.span(found.at, len), label)
            .with_help(with_fixed(line, &advice, &fixed)),
    )
}

/// The word (visible characters) around byte `at`, without the invisible one.
fn word_around(text: &str, at: usize) -> String {
    let start = text[..at].rfind(' ').map_or(0, |i| i + 1);
    let end = text[at..].find(' ').map_or(text.len(), |i| at + i);
    text[start..end].chars().filter(|c| lookalike::lookup(*c).is_none()).collect()
}

/// The last resort: what was expected, what was found, and how the line's keyword is written.
fn expected_found(line: &Failed<'_>, error: &pest::error::Error<Rule>, stop: usize) -> Diagnostic {
    let (kind, text, context) = (line.kind, line.text, line.context);
    let first_word: String =
        text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    let known = kind.keywords().contains(&first_word.as_str());
    let pos = match error.location {
        InputLocation::Pos(p) | InputLocation::Span((p, _)) => p.min(text.len()),
    };
    // A known keyword: the parser stopped later than where the alternatives began.
    let pos = if known && pos == 0 { stop } else { pos };
    let rest = &text[pos..];
    let found = describe_found(rest);
    let at = line.span(pos, next_char_len(rest));

    // The line does not start with a known word: say so, and suggest the closest keyword.
    if !known && !kind.keywords().is_empty() {
        if !first_word.is_empty() {
            let d = Diagnostic::error(
                "botrun::syntax",
                format!("`{first_word}` is not something that can stand here{context}"),
            )
            .at(line.span(0, first_word.len()), "not understood");
            return match did_you_mean(&first_word, kind.keywords().iter().copied()) {
                Some(k) => d.with_help(format!("did you mean `{k}`? Expected {}", kind.what())),
                None => d.with_help(format!("expected {}", kind.what())),
            };
        }
        return Diagnostic::error("botrun::syntax", format!("expected {}{context}", kind.what()))
            .at(at, format!("found {found}"));
    }
    if pos == 0 {
        return Diagnostic::error("botrun::syntax", format!("expected {}{context}", kind.what()))
            .at(at, format!("found {found}"));
    }
    let expected = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => expected_phrase(positives),
        ErrorVariant::CustomError { message } => message.clone(),
    };
    let mut d = Diagnostic::error("botrun::syntax", format!("expected {expected}{context}"))
        .at(at, format!("found {found}"));
    if rest.starts_with('\t') {
        d = Diagnostic::error("botrun::syntax", "tabs are not allowed here")
            .at(at, "a tab")
            .with_help("use spaces");
    } else if let Some(usage) = usage(&first_word) {
        d = d.with_help(format!("`{first_word}` is written like this: {usage}"));
    }
    d
}

/// How each keyword's line is written, for the help of an error on such a line.
fn usage(keyword: &str) -> Option<&'static str> {
    Some(match keyword {
        "bot" => "`bot \"Acme Assistant\"`",
        "use" => "`use \"common/smalltalk.bot\"`",
        "hours" => "`hours office`",
        "list" => "`list product`",
        "intent" => "`intent track`",
        "on" => "`on start` (or `on handoff`, `on return`, `on resolve`)",
        "anytime" => "`anytime human` or `anytime human or agent`",
        "state" => "`state menu`",
        "say" => "`say \"Hello {contact.name}!\"` or `say one of`",
        "buttons" => "`buttons \"Yes\", \"No\"`",
        "ask" => "`ask number as digits`, with the question indented under it",
        "retry" => "`retry \"Just the digits, please.\"`",
        "after" => "`after 3 misses` (under `otherwise`) or `after 2 retries` (under `ask`)",
        "timeout" => "`timeout 5m`",
        "set" => "`set plan to \"gold\"`",
        "if" => "`if plan is \"gold\"`",
        "else" => "`else` or `else if plan is \"gold\"`",
        "go" => "`go menu`",
        "handoff" => "`handoff` or `handoff note \"a note for the agent\"`",
        "resolve" => "`resolve` or `resolve \"Have a great day!\"`",
        "fetch" => "`fetch get \"https://api.example/orders/{number}\" into order`",
        "when" => "`when track` or `when track or billing`",
        "otherwise" => "`otherwise`",
        "header" => "`header \"Authorization\" \"Bearer {env.TOKEN}\"`",
        "body" => "`body \"\\{\\\"id\\\": \\\"{number}\\\"\\}\"`",
        "timezone" => "`timezone \"Europe/Paris\"`",
        "closed" => "`closed 2026-12-25, 2026-12-26`",
        "typos" => "`typos tolerated`",
        "accents" => "`accents ignored`",
        "idle" => "`idle 10m`",
        "dates" => "`dates day-first` or `dates month-first`",
        "small" => "`small words \"the\", \"my\", \"please\"`",
        _ => return None,
    })
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
        Rule::sum | Rule::product | Rule::call => "a value such as `n + 1` or `upper(name)`",
        Rule::add_op | Rule::mul_op => "`+`, `-`, `*` or `/` with spaces around it",
        Rule::date_order => "`day-first` or `month-first`",
        Rule::open_when => "`on` a day or `at` a moment",
        Rule::is_empty | Rule::is_not_empty => "`is empty`",
        Rule::in_list | Rule::not_in_list => "`in @list`",
        Rule::EOI => "the end of the line",
        Rule::lang_code => "a language code such as `es` or `pt-BR`",
        _ => "a keyword",
    }
}
