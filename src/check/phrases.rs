//! Phrases: regexes must compile, two intents must not share an example (the bot could not tell
//! them apart), a phrase repeated or covered by an earlier one can never win, and capture names
//! must be unique within a phrase.

use std::borrow::Cow;
use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap as HashMap;

use crate::diagnostic::Diagnostic;
use crate::source::Span;
use crate::syntax::ast::{
    AnswerType, CaptureType, File, Item, PhraseKind, PhrasePart, PhrasePartKind, RegexLit, StmtKind,
};

use super::visit::for_each_stmt;

/// Regexes are built the way the engine builds them (one definition, in the matcher).
pub(crate) use crate::engine::matcher::build_regex;

/// Flags a `/regex/` may carry: `i` ignore case, `m` multi-line, `s` dot matches new line,
/// `x` verbose, `u` (Unicode, always on).
pub(crate) const REGEX_FLAGS: &str = "imsxu";

pub fn check(file: &File, out: &mut Vec<Diagnostic>) {
    // Canonical phrase text → (intent, span) of its first appearance.
    let mut seen: HashMap<String, (&str, Span)> = HashMap::default();
    // Every pattern with its intent and canonical text, for `collisions`.
    let mut patterns: Vec<Pattern<'_>> = Vec::new();
    for item in &file.items {
        let Item::Intent(intent) = item else { continue };
        let mut wildcard_only: Option<Span> = None;
        for phrase in &intent.phrases {
            let parts = match &phrase.kind {
                PhraseKind::Regex(regex) => {
                    check_regex(regex, out);
                    continue;
                }
                PhraseKind::Pattern(parts) => parts,
            };
            check_capture_names(parts, out);
            let key = canonical(parts);
            patterns.push(Pattern {
                intent: &intent.name.name,
                span: phrase.span,
                parts,
                key: key.clone(),
            });
            if key.is_empty() {
                out.push(
                    Diagnostic::error("botrun::empty_phrase", "this phrase has no words")
                        .at(phrase.span, "empty")
                        .with_help("write some words between the quotes, or remove the phrase"),
                );
                continue;
            }
            if key == "*" {
                if let Some(first) = wildcard_only {
                    out.push(shadowed(
                        phrase.span,
                        first,
                        "matches anything, like the earlier `\"*\"`",
                    ));
                }
                wildcard_only.get_or_insert(phrase.span);
            }
            match seen.entry(key) {
                Entry::Occupied(entry) if entry.get().0 == intent.name.name => {
                    let first = entry.get().1;
                    out.push(shadowed(
                        phrase.span,
                        first,
                        "repeats an earlier phrase of this intent",
                    ));
                }
                Entry::Occupied(entry) => {
                    let (other, first) = *entry.get();
                    out.push(
                        Diagnostic::error(
                            "botrun::ambiguous_phrase",
                            format!("intents `{}` and `{other}` share the phrase {}", intent.name.name, phrase_text(entry.key())),
                        )
                        .at(phrase.span, format!("in `{}`", intent.name.name))
                        .also(first, format!("also in `{other}`"))
                        .with_help("the bot cannot tell these intents apart: keep the phrase in one intent only"),
                    );
                }
                Entry::Vacant(slot) => {
                    slot.insert((&intent.name.name, phrase.span));
                }
            }
        }
    }
    collisions(&patterns, out);
    for_each_stmt(file, &mut |stmt, _| {
        if let StmtKind::Ask(ask) = &stmt.kind {
            if let AnswerType::Regex(regex) = &ask.ty {
                check_regex(regex, out);
            }
        }
    });
}

/// Most normalised forms of one phrase compared for collisions.
const MAX_FORMS: usize = 64;

/// A pattern phrase of an intent, with its canonical text.
struct Pattern<'a> {
    intent: &'a str,
    span: Span,
    parts: &'a [PhrasePart],
    key: String,
}

/// Phrases of different intents that match the same words once case, punctuation and optional
/// words are set aside (`"talk to [a] person"` and `"Talk to person!"`): the earlier intent
/// always wins those words. Identical phrases are reported as `ambiguous_phrase` instead.
fn collisions(patterns: &[Pattern<'_>], out: &mut Vec<Diagnostic>) {
    // Normalised form → the pattern (index) that first matched it.
    let mut seen: HashMap<String, usize> = HashMap::default();
    for (index, pattern) in patterns.iter().enumerate() {
        for form in forms(pattern.parts) {
            if form.is_empty() {
                continue;
            }
            match seen.entry(form) {
                Entry::Occupied(entry) => {
                    let first = &patterns[*entry.get()];
                    if first.intent != pattern.intent && first.key != pattern.key {
                        out.push(
                            Diagnostic::warning(
                                "botrun::phrase_collision",
                                format!(
                                    "intents `{}` and `{}` both match \"{}\"",
                                    pattern.intent,
                                    first.intent,
                                    entry.key()
                                ),
                            )
                            .at(pattern.span, format!("in `{}`", pattern.intent))
                            .also(first.span, format!("also in `{}`", first.intent))
                            .with_help("case, punctuation and optional words do not tell phrases apart: the earlier intent always wins these words; reword one of the phrases"),
                        );
                        break;
                    }
                }
                Entry::Vacant(slot) => {
                    slot.insert(index);
                }
            }
        }
    }
}

/// The normalised word sequences a phrase matches (captures and lists as placeholders).
fn forms(parts: &[PhrasePart]) -> Vec<String> {
    let branches = |p: &PhrasePart| {
        matches!(p.kind, PhrasePartKind::Optional(_) | PhrasePartKind::Alternatives(_))
    };
    if !parts.iter().any(branches) {
        // One sequence: each part adds its single option.
        let mut form = String::with_capacity(parts.iter().map(|p| p.span.len() + 1).sum());
        for part in parts {
            let option = option(part);
            if !option.is_empty() {
                if !form.is_empty() {
                    form.push(' ');
                }
                form.push_str(&option);
            }
        }
        return vec![form];
    }
    let mut results = vec![String::new()];
    for part in parts {
        let options: Vec<String> = match &part.kind {
            PhrasePartKind::Optional(inner) => {
                let mut with = forms(inner);
                with.push(String::new());
                with
            }
            PhrasePartKind::Alternatives(alts) => alts.iter().flat_map(|a| forms(a)).collect(),
            _ => vec![option(part).into_owned()],
        };
        let mut next = Vec::new();
        for prefix in &results {
            for option in &options {
                if next.len() >= MAX_FORMS {
                    break;
                }
                next.push(match (prefix.is_empty(), option.is_empty()) {
                    (_, true) => prefix.clone(),
                    (true, false) => option.clone(),
                    (false, false) => {
                        // Not `format!`: this runs for every expansion of every phrase of the bot.
                        let mut joined = String::with_capacity(prefix.len() + 1 + option.len());
                        joined.push_str(prefix);
                        joined.push(' ');
                        joined.push_str(option);
                        joined
                    }
                });
            }
        }
        results = next;
    }
    results
}

/// The normalised text of a part that is neither optional nor alternatives.
fn option(part: &PhrasePart) -> Cow<'_, str> {
    match &part.kind {
        PhrasePartKind::Word(w) => normalised_word(w),
        PhrasePartKind::Wildcard => Cow::Borrowed("*"),
        PhrasePartKind::ListRef(l) => Cow::Owned(format!("@{}", l.name)),
        PhrasePartKind::Capture { ty, .. } => match ty {
            CaptureType::Default => Cow::Borrowed("{text}"),
            CaptureType::Named(t) => Cow::Owned(format!("{{{}}}", t.name)),
            CaptureType::List(l) => Cow::Owned(format!("@{}", l.name)),
        },
        PhrasePartKind::Optional(_) | PhrasePartKind::Alternatives(_) => Cow::Borrowed(""),
    }
}

/// A written word normalised as messages are (lowercase letters and digits only); most words
/// already are.
fn normalised_word(word: &str) -> Cow<'_, str> {
    if word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
        return Cow::Borrowed(word);
    }
    Cow::Owned(crate::engine::normalise_text(word, false))
}

fn phrase_text(key: &str) -> String {
    format!("`\"{key}\"`")
}

fn shadowed(span: Span, first: Span, why: &str) -> Diagnostic {
    Diagnostic::warning("botrun::shadowed_phrase", "this phrase can never win")
        .at(span, format!("it {why}"))
        .also(first, "the earlier phrase")
        .with_help("remove it; the earlier phrase already answers the same messages")
}

/// A phrase's structure as lowercase text, so identical phrases compare equal.
pub fn canonical(parts: &[PhrasePart]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.span.len() + 1).sum());
    write_canonical(parts, &mut out);
    out
}

fn write_canonical(parts: &[PhrasePart], out: &mut String) {
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match &part.kind {
            PhrasePartKind::Word(w) if w.is_ascii() => {
                let start = out.len();
                out.push_str(w);
                out[start..].make_ascii_lowercase();
            }
            PhrasePartKind::Word(w) => out.push_str(&w.to_lowercase()),
            PhrasePartKind::Wildcard => out.push('*'),
            PhrasePartKind::ListRef(l) => {
                out.push('@');
                out.push_str(&l.name);
            }
            PhrasePartKind::Optional(inner) => {
                out.push('[');
                write_canonical(inner, out);
                out.push(']');
            }
            PhrasePartKind::Alternatives(alts) => {
                out.push('(');
                for (j, alternative) in alts.iter().enumerate() {
                    if j > 0 {
                        out.push('|');
                    }
                    write_canonical(alternative, out);
                }
                out.push(')');
            }
            PhrasePartKind::Capture { ty, .. } => match ty {
                CaptureType::Default => out.push_str("{text}"),
                CaptureType::Named(t) => {
                    out.push('{');
                    out.push_str(&t.name);
                    out.push('}');
                }
                CaptureType::List(l) => {
                    out.push_str("{@");
                    out.push_str(&l.name);
                    out.push('}');
                }
            },
        }
    }
}

fn check_capture_names(parts: &[PhrasePart], out: &mut Vec<Diagnostic>) {
    let mut names: HashMap<&str, Span> = HashMap::default();
    let mut stack: Vec<&PhrasePart> = parts.iter().collect();
    while let Some(part) = stack.pop() {
        match &part.kind {
            PhrasePartKind::Capture { name, .. } => {
                if let Some(first) = names.insert(&name.name, name.span) {
                    out.push(
                        Diagnostic::error(
                            "botrun::duplicate_capture",
                            format!("`{}` is captured twice in one phrase", name.name),
                        )
                        .at(name.span, "again here")
                        .also(first, "first here")
                        .with_help("give each capture in a phrase its own name"),
                    );
                }
            }
            PhrasePartKind::Optional(inner) => stack.extend(inner.iter()),
            PhrasePartKind::Alternatives(alts) => stack.extend(alts.iter().flatten()),
            _ => {}
        }
    }
}

/// Compiles a `/regex/` as the engine will, reporting errors at the regex.
pub(crate) fn check_regex(regex: &RegexLit, out: &mut Vec<Diagnostic>) {
    if let Some(bad) = regex.flags.chars().find(|c| !REGEX_FLAGS.contains(*c)) {
        out.push(
            Diagnostic::error("botrun::bad_regex", format!("unknown regex flag `{bad}`"))
                .at(regex.span, "after the closing `/`")
                .with_help("the flags are `i` (ignore case), `m`, `s`, `x` and `u`"),
        );
        return;
    }
    if let Some((at, problem)) = syntax_error_position(regex) {
        out.push(
            Diagnostic::error("botrun::bad_regex", "this regular expression does not compile")
                .at(at, problem)
                .with_help("check brackets and escapes; regexes follow the Rust `regex` syntax (no look-around)"),
        );
        return;
    }
    if let Err(error) = build_regex(regex) {
        let message = error.to_string();
        let short =
            message.lines().last().unwrap_or("invalid").trim().trim_start_matches("error: ");
        out.push(
            Diagnostic::error("botrun::bad_regex", "this regular expression does not compile")
                .at(regex.span, short.to_string())
                .with_help("check brackets and escapes; regexes follow the Rust `regex` syntax (no look-around)"),
        );
    }
}

/// Where inside the file a regex's syntax error is, and what it is. Parsing the pattern's own
/// syntax tree gives a byte range the compiled `regex::Error` does not expose; errors found later
/// (too big, bad Unicode class) have no position and are reported on the whole regex.
fn syntax_error_position(regex: &RegexLit) -> Option<(Span, String)> {
    let error = regex_syntax::ast::parse::ParserBuilder::new()
        .ignore_whitespace(regex.flags.contains('x'))
        .nest_limit(250)
        .build()
        .parse(&regex.pattern)
        .err()?;
    let in_file = |offset: usize| -> usize {
        let offset = offset.min(regex.pattern.len());
        // The parser turned every `\/` of the file into `/` (a bare `/` ends the literal), so
        // each `/` before the offset stands for two bytes of source. +1 skips the opening `/`.
        let slashes = regex.pattern.get(..offset).map_or(0, |before| before.matches('/').count());
        (regex.span.start + 1 + offset + slashes).min(regex.span.end)
    };
    let span = error.span();
    let start = in_file(span.start.offset);
    let end = in_file(span.end.offset).max(start);
    Some((Span::new(regex.span.file, start, end), error.kind().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn regex(pattern: &str, start: usize, source_len: usize) -> RegexLit {
        RegexLit {
            pattern: pattern.into(),
            flags: String::new(),
            span: Span::new(FileId(0), start, start + source_len),
        }
    }

    #[test]
    fn a_regex_error_points_inside_the_regex_past_escaped_slashes() {
        // Source `/a\/b(c/` at byte 10: the unclosed `(` is at byte 15 of the file.
        let mut out = Vec::new();
        check_regex(&regex("a/b(c", 10, 8), &mut out);
        assert_eq!(out.len(), 1);
        let at = out[0].primary_span().expect("labelled");
        assert_eq!((at.start, at.end), (15, 16));
        assert_eq!(out[0].code, "botrun::bad_regex");
    }

    #[test]
    fn a_valid_regex_reports_nothing() {
        let mut out = Vec::new();
        check_regex(&regex(r"order #?(\d+)", 0, 15), &mut out);
        assert!(out.is_empty(), "{out:?}");
    }
}
