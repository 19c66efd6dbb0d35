//! Phrases: regexes must compile, two intents must not share an example (the bot could not tell
//! them apart), a phrase repeated or covered by an earlier one can never win, and capture names
//! must be unique within a phrase.

use std::collections::HashMap;

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
pub const REGEX_FLAGS: &str = "imsxu";

pub fn check(file: &File, out: &mut Vec<Diagnostic>) {
    // Canonical phrase text → (intent, span) of its first appearance.
    let mut seen: HashMap<String, (&str, Span)> = HashMap::new();
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
            match seen.get(&key) {
                Some((other, first)) if *other == intent.name.name => {
                    out.push(shadowed(phrase.span, *first, "repeats an earlier phrase of this intent"));
                }
                Some((other, first)) => out.push(
                    Diagnostic::error(
                        "botrun::ambiguous_phrase",
                        format!("intents `{}` and `{other}` share the phrase {}", intent.name.name, phrase_text(&key)),
                    )
                    .at(phrase.span, format!("in `{}`", intent.name.name))
                    .also(*first, format!("also in `{other}`"))
                    .with_help("the bot cannot tell these intents apart: keep the phrase in one intent only"),
                ),
                None => {
                    seen.insert(key, (&intent.name.name, phrase.span));
                }
            }
        }
    }
    collisions(file, out);
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

/// Phrases of different intents that match the same words once case, punctuation and optional
/// words are set aside (`"talk to [a] person"` and `"Talk to person!"`): the earlier intent
/// always wins those words. Identical phrases are reported as `ambiguous_phrase` instead.
fn collisions(file: &File, out: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<String, (&str, Span, String)> = HashMap::new();
    for item in &file.items {
        let Item::Intent(intent) = item else { continue };
        for phrase in &intent.phrases {
            let PhraseKind::Pattern(parts) = &phrase.kind else { continue };
            let key = canonical(parts);
            for form in forms(parts) {
                if form.is_empty() {
                    continue;
                }
                match seen.get(&form) {
                    Some((other, first, other_key))
                        if *other != intent.name.name && *other_key != key =>
                    {
                        out.push(
                            Diagnostic::warning(
                                "botrun::phrase_collision",
                                format!(
                                    "intents `{}` and `{other}` both match \"{form}\"",
                                    intent.name.name
                                ),
                            )
                            .at(phrase.span, format!("in `{}`", intent.name.name))
                            .also(*first, format!("also in `{other}`"))
                            .with_help("case, punctuation and optional words do not tell phrases apart: the earlier intent always wins these words; reword one of the phrases"),
                        );
                        break;
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(form, (&intent.name.name, phrase.span, key.clone()));
                    }
                }
            }
        }
    }
}

/// The normalised word sequences a phrase matches (captures and lists as placeholders).
fn forms(parts: &[PhrasePart]) -> Vec<String> {
    let mut results = vec![String::new()];
    for part in parts {
        let options: Vec<String> = match &part.kind {
            PhrasePartKind::Word(w) => vec![crate::engine::normalise_text(w, false)],
            PhrasePartKind::Wildcard => vec!["*".into()],
            PhrasePartKind::ListRef(l) => vec![format!("@{}", l.name)],
            PhrasePartKind::Capture { ty, .. } => vec![match ty {
                CaptureType::Default => "{text}".into(),
                CaptureType::Named(t) => format!("{{{}}}", t.name),
                CaptureType::List(l) => format!("@{}", l.name),
            }],
            PhrasePartKind::Optional(inner) => {
                let mut with = forms(inner);
                with.push(String::new());
                with
            }
            PhrasePartKind::Alternatives(alts) => alts.iter().flat_map(|a| forms(a)).collect(),
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
                    (false, false) => format!("{prefix} {option}"),
                });
            }
        }
        results = next;
    }
    results
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
    let mut out = Vec::new();
    for part in parts {
        out.push(match &part.kind {
            PhrasePartKind::Word(w) => w.to_lowercase(),
            PhrasePartKind::Wildcard => "*".into(),
            PhrasePartKind::ListRef(l) => format!("@{}", l.name),
            PhrasePartKind::Optional(inner) => format!("[{}]", canonical(inner)),
            PhrasePartKind::Alternatives(alts) => {
                format!("({})", alts.iter().map(|a| canonical(a)).collect::<Vec<_>>().join("|"))
            }
            PhrasePartKind::Capture { ty, .. } => match ty {
                CaptureType::Default => "{text}".into(),
                CaptureType::Named(t) => format!("{{{}}}", t.name),
                CaptureType::List(l) => format!("{{@{}}}", l.name),
            },
        });
    }
    out.join(" ")
}

fn check_capture_names(parts: &[PhrasePart], out: &mut Vec<Diagnostic>) {
    let mut names: HashMap<&str, Span> = HashMap::new();
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
pub fn check_regex(regex: &RegexLit, out: &mut Vec<Diagnostic>) {
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
