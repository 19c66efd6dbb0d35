//! Regex phrases: built once with their flags and a size limit, tried on every message (a regex
//! has no fixed word to file it under).

use serde_json::Value;

use super::super::program::IntentId;
use super::message::Message;

#[derive(Clone, Debug)]
pub(crate) struct RegexPhrase {
    pub intent: IntentId,
    pub phrase: u32,
    pub regex: regex::Regex,
}

/// What a regex phrase matched: the message words inside the match, and its named groups.
pub(crate) struct RegexMatch {
    pub words: u32,
    pub whole: bool,
    pub captures: Vec<(String, Value)>,
}

impl RegexPhrase {
    pub(crate) fn find(&self, text: &str, message: &Message) -> Option<RegexMatch> {
        let trimmed = text.trim();
        let caps = self.regex.captures(trimmed)?;
        let captures = self
            .regex
            .capture_names()
            .flatten()
            .filter_map(|name| {
                caps.name(name).map(|m| (name.to_string(), Value::String(m.as_str().to_string())))
            })
            .collect();
        let whole = caps.get(0);
        let offset = text.len() - text.trim_start().len();
        let range = whole.map_or(0..0, |m| m.start() + offset..m.end() + offset);
        let words = message
            .words
            .iter()
            .filter(|w| w.start >= range.start && w.end <= range.end && w.end > w.start)
            .count();
        Some(RegexMatch {
            words: u32::try_from(words).unwrap_or(0),
            whole: whole.is_some_and(|m| m.len() == trimmed.len()),
            captures,
        })
    }
}

/// Builds the regex with its flags, with a size limit so a script cannot exhaust memory.
pub(crate) fn build_regex(
    regex: &crate::syntax::ast::RegexLit,
) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&regex.pattern)
        .case_insensitive(regex.flags.contains('i'))
        .multi_line(regex.flags.contains('m'))
        .dot_matches_new_line(regex.flags.contains('s'))
        .ignore_whitespace(regex.flags.contains('x'))
        .size_limit(1 << 20)
        .build()
}
