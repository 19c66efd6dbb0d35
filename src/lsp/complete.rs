//! Completion from the text before the cursor: state names after `go`, intents after `when`,
//! `anytime` or `or`, lists after `@`, answer types after `as`, calendars after `open`/`closed`,
//! variables and placeholders inside `{…}`, capture types after `{name:`, and keywords that fit
//! the indentation at the start of a line.

use lsp_types::{CompletionItem, CompletionItemKind, InsertTextFormat};

use super::analysis::Analysis;
use super::hover::KEYWORDS;
use super::index::NameKind;
use crate::check::{ANSWER_TYPES, BUILT_IN_VARIABLES, CAPTURE_TYPES};

/// Keywords that start a top-level line, and snippets for their usual shape.
const TOP_LEVEL: &[(&str, &str)] = &[
    ("bot", "bot \"${1:Name}\"\n  timezone \"${2:UTC}\""),
    ("use", "use \"${1:common.bot}\""),
    ("hours", "hours ${1:office}\n  mon-fri ${2:09:00-17:00}"),
    ("list", "list ${1:name}\n  \"${2:entry}\""),
    ("intent", "intent ${1:name}\n  \"${2:phrase}\""),
    ("on start", "on start\n  say \"${1:Hello!}\"\n  go ${2:menu}"),
    ("on handoff", "on handoff\n  say \"${1:Connecting you to a teammate…}\""),
    ("on return", "on return\n  go ${1:menu}"),
    ("on resolve", "on resolve\n  say \"${1:Goodbye!}\""),
    ("anytime", "anytime ${1:intent}\n  ${2:handoff}"),
    ("state", "state ${1:name}\n  when ${2:intent}\n    ${3:say \"…\"}\n  otherwise\n    say \"${4:Sorry, I didn't catch that.}\""),
];

/// Keywords that start an indented line.
const INDENTED: &[(&str, &str)] = &[
    ("say", "say \"$1\""),
    ("say one of", "say one of\n  \"$1\"\n  \"$2\""),
    ("buttons", "buttons \"${1:Yes}\", \"${2:No}\""),
    ("ask", "ask ${1:answer} as ${2:text}\n  say \"${3:question?}\"\n  retry \"${4:Sorry, once more?}\""),
    ("set", "set ${1:name} to ${2:value}"),
    ("if", "if ${1:condition}\n  $2"),
    ("else", "else"),
    ("go", "go ${1:state}"),
    ("handoff", "handoff note \"${1:why}\""),
    ("resolve", "resolve \"${1:Goodbye!}\""),
    ("fetch", "fetch get \"${1:url}\" into ${2:result}\n  on error\n    ${3:handoff}"),
    ("when", "when ${1:intent}\n  $2"),
    ("otherwise", "otherwise\n  say \"${1:Sorry, I didn't catch that.}\""),
    ("retry", "retry \"$1\""),
    ("after", "after ${1:3} ${2|misses,retries|}\n  $3"),
    ("timeout", "timeout ${1:5m}\n  $2"),
    ("idle", "idle ${1:10m}\n  $2"),
    ("timezone", "timezone \"${1:UTC}\""),
];

/// Completion items for the cursor at `offset` of `text` (the buffer as typed), with names from
/// `analysis`.
pub(crate) fn complete(analysis: &Analysis, text: &str, offset: usize) -> Vec<CompletionItem> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..offset];
    let names = |kind| -> Vec<CompletionItem> {
        analysis
            .index
            .declared(kind)
            .into_iter()
            .map(|n| item(n, kind_of(kind), kind.word()))
            .collect()
    };
    // Inside a quoted text: placeholders.
    if let Some(open) = open_placeholder(before) {
        if let Some((_, _typed)) = open.split_once(':') {
            let mut out: Vec<CompletionItem> = CAPTURE_TYPES
                .iter()
                .map(|t| item(t, CompletionItemKind::TYPE_PARAMETER, "capture type"))
                .collect();
            out.extend(names(NameKind::List).into_iter().map(|mut i| {
                i.insert_text = Some(format!("@{}", i.label));
                i
            }));
            return out;
        }
        let mut out: Vec<CompletionItem> = Vec::new();
        for name in analysis.index.declared(NameKind::Variable) {
            out.push(item(name, CompletionItemKind::VARIABLE, "variable"));
        }
        for built_in in BUILT_IN_VARIABLES {
            out.push(item(built_in, CompletionItemKind::VARIABLE, "built in"));
        }
        for field in ["contact.name", "contact.email", "contact.phone", "contact.plan"] {
            out.push(item(field, CompletionItemKind::FIELD, "contact record"));
        }
        for calendar in analysis.index.declared(NameKind::Calendar) {
            out.push(item(
                &format!("next_open({calendar})"),
                CompletionItemKind::FUNCTION,
                "when the calendar opens next",
            ));
        }
        return out;
    }
    if before.ends_with('@') || last_word(before).starts_with('@') {
        return names(NameKind::List);
    }
    let words: Vec<&str> = before.split_whitespace().collect();
    let typing = !before.ends_with(char::is_whitespace);
    // The word before the one being typed decides the context.
    let previous =
        if typing { words.len().checked_sub(2).map(|i| words[i]) } else { words.last().copied() };
    match previous {
        Some("go") => return names(NameKind::State),
        Some("when" | "anytime" | "or") if is_handler_line(&words) => {
            return names(NameKind::Intent)
        }
        Some("open" | "closed") => return names(NameKind::Calendar),
        Some("as") if words.first() == Some(&"ask") => {
            let mut out: Vec<CompletionItem> = ANSWER_TYPES
                .iter()
                .map(|t| item(t, CompletionItemKind::TYPE_PARAMETER, "answer type"))
                .collect();
            out.extend(names(NameKind::List).into_iter().map(|mut i| {
                i.insert_text = Some(format!("@{}", i.label));
                i.label = format!("@{}", i.label);
                i
            }));
            return out;
        }
        Some("in") => {
            return names(NameKind::List)
                .into_iter()
                .map(|mut i| {
                    i.insert_text = Some(format!("@{}", i.label));
                    i
                })
                .collect()
        }
        _ => {}
    }
    // At the start of a line: keywords that fit its indentation.
    if words.len() <= usize::from(typing) {
        let snippets = if before.starts_with(' ') { INDENTED } else { TOP_LEVEL };
        return snippets.iter().map(|(label, body)| keyword_item(label, body)).collect();
    }
    Vec::new()
}

fn is_handler_line(words: &[&str]) -> bool {
    matches!(words.first(), Some(&"when" | &"anytime"))
}

/// The text after an unclosed `{` inside a quoted string on this line, if the cursor is there.
fn open_placeholder(before: &str) -> Option<&str> {
    let quotes = before.chars().filter(|c| *c == '"').count() - before.matches("\\\"").count();
    if quotes % 2 == 0 {
        return None;
    }
    let open = before.rfind('{')?;
    let inside = &before[open + 1..];
    (!inside.contains('}')).then_some(inside)
}

fn last_word(before: &str) -> &str {
    before.rsplit(char::is_whitespace).next().unwrap_or("")
}

fn kind_of(kind: NameKind) -> CompletionItemKind {
    match kind {
        NameKind::State => CompletionItemKind::CLASS,
        NameKind::Intent => CompletionItemKind::EVENT,
        NameKind::List => CompletionItemKind::ENUM,
        NameKind::Calendar => CompletionItemKind::CONSTANT,
        NameKind::Variable => CompletionItemKind::VARIABLE,
    }
}

fn item(label: &str, kind: CompletionItemKind, detail: &str) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail: Some(detail.to_string()),
        ..CompletionItem::default()
    }
}

fn keyword_item(label: &str, snippet: &str) -> CompletionItem {
    let first = label.split_whitespace().next().unwrap_or(label);
    let documentation = KEYWORDS
        .iter()
        .find(|(k, _, _)| *k == first)
        .map(|(_, summary, _)| lsp_types::Documentation::String((*summary).to_string()));
    CompletionItem {
        label: label.to_string(),
        kind: Some(CompletionItemKind::KEYWORD),
        insert_text: Some(snippet.to_string()),
        insert_text_format: Some(InsertTextFormat::SNIPPET),
        documentation,
        ..CompletionItem::default()
    }
}
