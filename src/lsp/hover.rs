//! Hover: what a keyword does (with a link into the language reference), an intent's phrases, a
//! list's entries, a calendar's hours, a state's way in, and where a variable gets its value.

use std::fmt::Write as _;

use super::analysis::Analysis;
use super::index::{NameKind, Occurrence, Origin};
use crate::syntax::ast::{Item, ListEntry};

/// Keywords, what each does in one line, and the reference section (anchor in
/// `grammar/README.md`) that explains it.
pub(crate) const KEYWORDS: &[(&str, &str, &str)] = &[
    ("bot", "Names the bot and holds its settings (timezone, typos, accents, buttons, idle).", "bot"),
    ("use", "Brings in the intents, lists, calendars, `anytime` handlers and states of another file, relative to this one.", "use"),
    ("hours", "Declares a business-hours calendar, used by `open`, `closed` and `next_open(…)`.", "hours"),
    ("list", "Declares a list of entries, used as `@name` in phrases, as an answer type, and in `in @name`.", "list"),
    ("intent", "Declares what a customer might say: one quoted phrase or `/regex/` per line.", "intent"),
    ("on", "A hook: `on start` begins every conversation; `on handoff`, `on return` and `on resolve` run when the conversation changes hands or ends.", "on-start-on-handoff-on-return-on-resolve"),
    ("anytime", "A handler that works in every state, even while a question is open.", "anytime"),
    ("state", "A step of the conversation: lines that run on entering, then `when` handlers and an optional `otherwise`.", "state"),
    ("when", "Runs its block when the message matches one of the intents while in this state.", "states-and-handlers"),
    ("otherwise", "Runs when nothing matched (a miss); `after N misses` escalates.", "states-and-handlers"),
    ("say", "Sends a message; `say one of` sends one of several at random.", "statements"),
    ("buttons", "Shows quick-reply buttons (a numbered list on channels without buttons).", "statements"),
    ("ask", "Asks a question and waits for a typed answer of a type (`digits`, `email`, `yes/no`, `@list`, `/regex/`…).", "questions"),
    ("retry", "The message sent after a wrong answer to an `ask`; the last one repeats.", "questions"),
    ("after", "`after N retries` (in an `ask`) or `after N misses` (in `otherwise`): what to do when the count is reached.", "questions"),
    ("timeout", "A step of a question's timer ladder, counted from when it was asked (or a `fetch` time limit).", "questions"),
    ("idle", "A step of the bot-wide idle ladder, counted from the customer's last message.", "time"),
    ("set", "Stores a value in a variable.", "statements"),
    ("if", "Chooses a block by a condition; `else if` and `else` follow it.", "conditions"),
    ("else", "The block of an `if` that runs when no condition held.", "conditions"),
    ("go", "Moves the conversation to a state and runs its lines.", "statements"),
    ("handoff", "Hands the conversation to a person, with an optional private `note`; the bot stays silent until handed back.", "statements"),
    ("resolve", "Sends the optional farewell and finishes the conversation.", "statements"),
    ("fetch", "Calls an HTTP API and stores the JSON answer `into` a variable; `on error` handles failures.", "fetching-data"),
    ("open", "True while the calendar is open now.", "conditions"),
    ("closed", "True while the calendar is closed now (or, in `hours`, a closed date).", "conditions"),
];

/// Markdown for what is under the cursor: a name from the index, else a keyword.
pub(crate) fn hover(
    analysis: &Analysis,
    offset: usize,
    reference_url: Option<&str>,
) -> Option<String> {
    if let Some(occurrence) = analysis.index.at(analysis.target, offset) {
        return Some(name_hover(analysis, occurrence));
    }
    let text = &analysis.target_source()?.text;
    let word = word_at(text, offset)?;
    let (keyword, summary, anchor) = KEYWORDS.iter().find(|(k, _, _)| *k == word)?;
    let mut out = format!("**`{keyword}`** — {summary}");
    match reference_url {
        Some(base) => {
            let _ = write!(out, "\n\n[Language reference]({base}#{anchor})");
        }
        None => {
            let _ = write!(out, "\n\nLanguage reference: `grammar/README.md#{anchor}`");
        }
    }
    Some(out)
}

fn name_hover(analysis: &Analysis, occurrence: &Occurrence) -> String {
    let name = &occurrence.name;
    let mut out = format!("{} **`{name}`**", occurrence.kind.word());
    let all: Vec<&Occurrence> = analysis.index.all(occurrence.kind, name).collect();
    match occurrence.kind {
        NameKind::Variable => {
            let origins: Vec<&&Occurrence> = all.iter().filter(|o| o.definition).collect();
            if origins.is_empty() {
                if crate::check::BUILT_IN_VARIABLES.contains(&name.as_str()) {
                    out.push_str("\n\nbuilt in: filled by botrun");
                } else {
                    out.push_str("\n\nnothing sets this variable");
                }
            } else {
                out.push_str("\n\nset by:");
                for origin in origins {
                    let what = match &origin.origin {
                        Some(Origin::Ask(ty)) => format!("`ask {name} as {ty}`"),
                        Some(Origin::Set) => format!("`set {name} to …`"),
                        Some(Origin::Fetch) => format!("`fetch … into {name}`"),
                        Some(Origin::Capture(intent)) => format!("a capture in intent {intent}"),
                        None => "a statement".to_string(),
                    };
                    let _ =
                        write!(out, "\n- {what}{}{}", in_state(origin), location(analysis, origin));
                }
            }
        }
        _ => {
            let declared = all.iter().find(|o| o.definition);
            if let Some(declared) = declared {
                let _ = write!(out, " — declared{}", location(analysis, declared));
                if let Some(body) = declaration_text(analysis, occurrence.kind, name) {
                    let _ = write!(out, "\n\n```bot\n{body}\n```");
                }
            } else {
                out.push_str(" — not declared in this bot");
            }
            let uses = all.iter().filter(|o| !o.definition).count();
            let _ = write!(out, "\n\nused {uses} time{}", if uses == 1 { "" } else { "s" });
        }
    }
    out
}

/// The declaration with its lines for intents (phrases), lists (entries) and calendars (rules).
fn declaration_text(analysis: &Analysis, kind: NameKind, name: &str) -> Option<String> {
    let text_of = |span: crate::source::Span| -> Option<&str> {
        analysis.source(span.file)?.text.get(span.start..span.end)
    };
    let (head, lines): (String, Vec<crate::source::Span>) =
        analysis.file.items.iter().find_map(|item| match (kind, item) {
            (NameKind::Intent, Item::Intent(d)) if d.name.name == name => {
                Some((format!("intent {name}"), d.phrases.iter().map(|p| p.span).collect()))
            }
            (NameKind::List, Item::List(d)) if d.name.name == name => {
                Some((format!("list {name}"), d.entries.iter().map(ListEntry::span).collect()))
            }
            (NameKind::Calendar, Item::Hours(d)) if d.name.name == name => {
                Some((format!("hours {name}"), d.rules.iter().map(hours_rule_span).collect()))
            }
            _ => None,
        })?;
    let mut out = head;
    for span in lines.iter().take(16) {
        out.push_str("\n  ");
        out.push_str(text_of(*span)?);
    }
    if lines.len() > 16 {
        let _ = write!(out, "\n  # … {} more", lines.len() - 16);
    }
    Some(out)
}

fn hours_rule_span(rule: &crate::syntax::ast::HoursRule) -> crate::source::Span {
    match rule {
        crate::syntax::ast::HoursRule::Weekly { span, .. }
        | crate::syntax::ast::HoursRule::Closed { span, .. } => *span,
    }
}

fn in_state(occurrence: &Occurrence) -> String {
    occurrence.state.as_ref().map(|s| format!(" in state `{s}`")).unwrap_or_default()
}

fn location(analysis: &Analysis, occurrence: &Occurrence) -> String {
    analysis.source(occurrence.span.file).map_or_else(String::new, |source| {
        let (line, _) = source.line_col(occurrence.span.start);
        let file =
            source.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        format!(" ({file}:{line})")
    })
}

/// The word (letters, digits, `_`, `-`) around `offset`.
pub(crate) fn word_at(text: &str, offset: usize) -> Option<&str> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    let offset = offset.min(text.len());
    let start = text[..offset].rfind(|c: char| !is_word(c)).map_or(0, |i| i + 1);
    let end = text[offset..].find(|c: char| !is_word(c)).map_or(text.len(), |i| offset + i);
    (start < end).then(|| &text[start..end])
}
