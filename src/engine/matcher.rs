//! The matching index. Every phrase is expanded once into plain sequences (alternatives and
//! optional words multiplied out) and filed under its rarest required word, so a message only
//! tries the phrases that share a word with it: decision time does not grow with the number of
//! intents. Phrases with no literal word (only captures or `*`) and regexes are always tried.

use rustc_hash::FxHashMap as HashMap;

use serde_json::Value;

use crate::syntax::ast::{CaptureType, PhraseKind, PhrasePart, PhrasePartKind};

use super::answers::{self, AnswerContext};
use super::program::{AnswerKind, IntentId, ListId};
use super::text::{normalise_word, within_one_edit, Token};

/// Most sequences one phrase may expand into; more is cut (and `botrun why` shows fewer).
const MAX_EXPANSIONS: usize = 256;
/// Backtracking steps allowed per sequence and message, so `* * * *` cannot explode.
const MAX_STEPS: usize = 20_000;
/// Words shorter than this must match exactly even when typos are tolerated.
const MIN_TYPO_LEN: usize = 5;

#[derive(Clone, Debug)]
enum Element {
    Word(String),
    Wildcard,
    Capture(String, CaptureKind),
    List(ListId),
}

#[derive(Clone, Debug)]
enum CaptureKind {
    Text,
    Answer(AnswerKind),
    List(ListId),
}

/// How specific a phrase is: exact words beat captures beat wildcards and regexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Specificity {
    Wildcard = 1,
    Captures = 2,
    Exact = 3,
}

#[derive(Clone, Debug)]
struct Sequence {
    intent: IntentId,
    /// Declaration order of the phrase (for ties).
    phrase: u32,
    elements: Vec<Element>,
    specificity: Specificity,
}

#[derive(Clone, Debug)]
struct RegexPhrase {
    intent: IntentId,
    phrase: u32,
    regex: regex::Regex,
}

/// A phrase that matched a message.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub intent: IntentId,
    pub phrase: u32,
    pub specificity: Specificity,
    /// The phrase covers the whole message (not just part of it).
    pub whole: bool,
    pub typos: u32,
    pub literal_words: u32,
    pub captures: Vec<(String, Value)>,
}

impl Candidate {
    /// Higher ranks first: specificity, whole message, fewer typos, more literal words.
    pub fn rank(&self) -> (Specificity, bool, std::cmp::Reverse<u32>, u32) {
        (self.specificity, self.whole, std::cmp::Reverse(self.typos), self.literal_words)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Matcher {
    sequences: Vec<Sequence>,
    regexes: Vec<RegexPhrase>,
    by_word: HashMap<String, Vec<u32>>,
    always: Vec<u32>,
    /// For typo tolerance: each one-letter deletion of an indexed word → the words.
    deletions: HashMap<String, Vec<String>>,
    typos: bool,
    fold: bool,
}

/// What the matcher needs to build phrases.
pub struct BuildContext<'a> {
    pub lists: &'a HashMap<String, ListId>,
    pub typos: bool,
    pub fold: bool,
}

impl Matcher {
    /// Builds the index over `(intent, phrases)` in declaration order.
    pub fn build<'p>(
        intents: impl Iterator<Item = (IntentId, &'p [crate::syntax::ast::Phrase])>,
        cx: &BuildContext<'_>,
    ) -> Matcher {
        let mut matcher = Matcher { typos: cx.typos, fold: cx.fold, ..Matcher::default() };
        let mut phrase_no = 0u32;
        for (intent, phrases) in intents {
            for phrase in phrases {
                phrase_no += 1;
                match &phrase.kind {
                    PhraseKind::Regex(lit) => {
                        if let Ok(regex) = build_regex(lit) {
                            matcher.regexes.push(RegexPhrase { intent, phrase: phrase_no, regex });
                        }
                    }
                    PhraseKind::Pattern(parts) => {
                        for elements in expand(parts, cx) {
                            let specificity = specificity(&elements);
                            matcher.sequences.push(Sequence {
                                intent,
                                phrase: phrase_no,
                                elements,
                                specificity,
                            });
                        }
                    }
                }
            }
        }
        matcher.index();
        matcher
    }

    fn index(&mut self) {
        let mut frequency: HashMap<&str, usize> = HashMap::default();
        for seq in &self.sequences {
            for el in &seq.elements {
                if let Element::Word(w) = el {
                    *frequency.entry(w.as_str()).or_default() += 1;
                }
            }
        }
        let mut by_word: HashMap<String, Vec<u32>> = HashMap::default();
        let mut always = Vec::new();
        for (i, seq) in self.sequences.iter().enumerate() {
            let id = u32::try_from(i).unwrap_or(u32::MAX);
            let anchor = seq
                .elements
                .iter()
                .filter_map(|el| match el {
                    Element::Word(w) => Some(w.as_str()),
                    _ => None,
                })
                .min_by_key(|w| frequency.get(w).copied().unwrap_or(0));
            match anchor {
                Some(word) => by_word.entry(word.to_string()).or_default().push(id),
                None => always.push(id),
            }
        }
        if self.typos {
            for word in by_word.keys().filter(|w| w.chars().count() >= MIN_TYPO_LEN) {
                for deletion in deletions(word) {
                    self.deletions.entry(deletion).or_default().push(word.clone());
                }
            }
        }
        self.by_word = by_word;
        self.always = always;
    }

    /// Every phrase that matches the message, best first.
    pub fn candidates(
        &self,
        text: &str,
        tokens: &[Token],
        cx: &AnswerContext<'_>,
    ) -> Vec<Candidate> {
        let mut ids: Vec<u32> = self.always.clone();
        for token in tokens {
            if let Some(list) = self.by_word.get(&token.norm) {
                ids.extend(list);
            }
            if self.typos && token.norm.chars().count() >= MIN_TYPO_LEN - 1 {
                for word in self.near_words(&token.norm) {
                    if let Some(list) = self.by_word.get(word) {
                        ids.extend(list);
                    }
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        let mut found: Vec<Candidate> = Vec::new();
        for id in ids {
            let Some(seq) = self.sequences.get(id as usize) else { continue };
            if let Some(candidate) = self.match_sequence(seq, text, tokens, cx) {
                // Keep the best candidate per phrase.
                match found.iter_mut().find(|c| c.phrase == candidate.phrase) {
                    Some(existing) if existing.rank() >= candidate.rank() => {}
                    Some(existing) => *existing = candidate,
                    None => found.push(candidate),
                }
            }
        }
        for regex in &self.regexes {
            if let Some(caps) = regex.regex.captures(text.trim()) {
                let captures = regex
                    .regex
                    .capture_names()
                    .flatten()
                    .filter_map(|name| {
                        caps.name(name)
                            .map(|m| (name.to_string(), Value::String(m.as_str().to_string())))
                    })
                    .collect();
                found.push(Candidate {
                    intent: regex.intent,
                    phrase: regex.phrase,
                    specificity: Specificity::Wildcard,
                    whole: caps.get(0).is_some_and(|m| m.len() == text.trim().len()),
                    typos: 0,
                    literal_words: 0,
                    captures,
                });
            }
        }
        found.sort_by(|a, b| b.rank().cmp(&a.rank()).then(a.phrase.cmp(&b.phrase)));
        found
    }

    fn near_words<'s>(&'s self, token: &str) -> Vec<&'s str> {
        let mut near: Vec<&str> = Vec::new();
        if let Some(words) = self.deletions.get(token) {
            near.extend(words.iter().map(String::as_str));
        }
        for deletion in deletions(token) {
            if let Some((word, _)) = self.by_word.get_key_value(&deletion) {
                near.push(word);
            }
            if let Some(words) = self.deletions.get(&deletion) {
                near.extend(words.iter().map(String::as_str));
            }
        }
        near.retain(|w| within_one_edit(w, token));
        near
    }

    fn match_sequence(
        &self,
        seq: &Sequence,
        text: &str,
        tokens: &[Token],
        cx: &AnswerContext<'_>,
    ) -> Option<Candidate> {
        let mut best: Option<Candidate> = None;
        let mut steps = 0usize;
        for start in 0..tokens.len().max(1) {
            let mut state = MatchState { captures: Vec::new(), typos: 0 };
            if let Some(end) =
                self.match_from(&seq.elements, 0, tokens, start, text, cx, &mut state, &mut steps)
            {
                let whole = start == 0 && end == tokens.len();
                let literal_words = u32::try_from(
                    seq.elements.iter().filter(|e| matches!(e, Element::Word(_))).count(),
                )
                .unwrap_or(0);
                let candidate = Candidate {
                    intent: seq.intent,
                    phrase: seq.phrase,
                    specificity: seq.specificity,
                    whole,
                    typos: state.typos,
                    literal_words,
                    captures: state.captures,
                };
                if best.as_ref().is_none_or(|b| candidate.rank() > b.rank()) {
                    best = Some(candidate);
                }
                if whole {
                    break;
                }
            }
            if steps > MAX_STEPS {
                break;
            }
        }
        best
    }

    /// Backtracking match of `elements[ei..]` against `tokens[ti..]`; returns the end token.
    #[expect(clippy::too_many_arguments, reason = "a recursive matcher threads its whole context")]
    fn match_from(
        &self,
        elements: &[Element],
        ei: usize,
        tokens: &[Token],
        ti: usize,
        text: &str,
        cx: &AnswerContext<'_>,
        state: &mut MatchState,
        steps: &mut usize,
    ) -> Option<usize> {
        *steps += 1;
        if *steps > MAX_STEPS {
            return None;
        }
        let Some(element) = elements.get(ei) else { return Some(ti) };
        match element {
            Element::Word(word) => {
                let token = tokens.get(ti)?;
                if token.norm == *word {
                    return self.match_from(
                        elements,
                        ei + 1,
                        tokens,
                        ti + 1,
                        text,
                        cx,
                        state,
                        steps,
                    );
                }
                if self.typos
                    && word.chars().count() >= MIN_TYPO_LEN
                    && within_one_edit(word, &token.norm)
                {
                    state.typos += 1;
                    let result =
                        self.match_from(elements, ei + 1, tokens, ti + 1, text, cx, state, steps);
                    if result.is_none() {
                        state.typos -= 1;
                    }
                    return result;
                }
                None
            }
            Element::List(list) => {
                for len in Self::list_lengths(*list, tokens, ti, cx) {
                    if let Some(end) =
                        self.match_from(elements, ei + 1, tokens, ti + len, text, cx, state, steps)
                    {
                        return Some(end);
                    }
                }
                None
            }
            Element::Wildcard | Element::Capture(..) => {
                let max_len = tokens.len().saturating_sub(ti);
                for len in 1..=max_len {
                    let slice = &text[tokens[ti].start..tokens[ti + len - 1].end];
                    let value = match element {
                        Element::Capture(_, CaptureKind::Text) => {
                            Some(Value::String(slice.to_string()))
                        }
                        Element::Capture(_, CaptureKind::Answer(kind)) => {
                            answers::parse_answer(kind, slice, cx)
                        }
                        Element::Capture(_, CaptureKind::List(list)) => {
                            let list = cx.lists.get(usize::from(*list))?;
                            answers::list_entry(slice, list, self.fold).map(Value::String)
                        }
                        _ => Some(Value::Null),
                    };
                    let Some(value) = value else { continue };
                    let pushed = if let Element::Capture(name, _) = element {
                        state.captures.push((name.clone(), value));
                        true
                    } else {
                        false
                    };
                    if let Some(end) =
                        self.match_from(elements, ei + 1, tokens, ti + len, text, cx, state, steps)
                    {
                        return Some(end);
                    }
                    if pushed {
                        state.captures.pop();
                    }
                }
                None
            }
        }
    }

    /// Lengths (in words) of the list's entries found at `ti`, longest first.
    fn list_lengths(
        list: ListId,
        tokens: &[Token],
        ti: usize,
        cx: &AnswerContext<'_>,
    ) -> Vec<usize> {
        let Some(list) = cx.lists.get(usize::from(list)) else { return Vec::new() };
        let mut lengths: Vec<usize> = list
            .entries
            .iter()
            .filter(|(_, words)| {
                !words.is_empty()
                    && tokens.len() >= ti + words.len()
                    && words.iter().zip(&tokens[ti..]).all(|(w, t)| *w == t.norm)
            })
            .map(|(_, words)| words.len())
            .collect();
        lengths.sort_unstable_by(|a, b| b.cmp(a));
        lengths.dedup();
        lengths
    }
}

struct MatchState {
    captures: Vec<(String, Value)>,
    typos: u32,
}

fn specificity(elements: &[Element]) -> Specificity {
    if elements
        .iter()
        .any(|e| matches!(e, Element::Wildcard | Element::Capture(_, CaptureKind::Text)))
    {
        Specificity::Wildcard
    } else if elements.iter().any(|e| matches!(e, Element::Capture(..) | Element::List(_))) {
        Specificity::Captures
    } else {
        Specificity::Exact
    }
}

/// Multiplies out alternatives and optional words into plain sequences.
fn expand(parts: &[PhrasePart], cx: &BuildContext<'_>) -> Vec<Vec<Element>> {
    let mut results: Vec<Vec<Element>> = vec![Vec::new()];
    for part in parts {
        let options: Vec<Vec<Element>> = match &part.kind {
            PhrasePartKind::Word(word) => {
                let norm = normalise_word(word, cx.fold);
                if norm.is_empty() {
                    continue;
                }
                vec![vec![Element::Word(norm)]]
            }
            PhrasePartKind::Wildcard => vec![vec![Element::Wildcard]],
            PhrasePartKind::ListRef(list) => match cx.lists.get(&list.name) {
                Some(id) => vec![vec![Element::List(*id)]],
                None => continue,
            },
            PhrasePartKind::Capture { name, ty } => {
                let kind = match ty {
                    CaptureType::Default => CaptureKind::Text,
                    CaptureType::List(list) => match cx.lists.get(&list.name) {
                        Some(id) => CaptureKind::List(*id),
                        None => continue,
                    },
                    CaptureType::Named(t) => match answer_kind(&t.name) {
                        Some(AnswerKind::Text) | None => CaptureKind::Text,
                        Some(kind) => CaptureKind::Answer(kind),
                    },
                };
                vec![vec![Element::Capture(name.name.clone(), kind)]]
            }
            PhrasePartKind::Optional(inner) => {
                let mut with = expand(inner, cx);
                with.push(Vec::new());
                with
            }
            PhrasePartKind::Alternatives(alternatives) => {
                alternatives.iter().flat_map(|a| expand(a, cx)).collect()
            }
        };
        let mut next = Vec::new();
        'outer: for prefix in &results {
            for option in &options {
                if next.len() >= MAX_EXPANSIONS {
                    break 'outer;
                }
                let mut joined = prefix.clone();
                joined.extend(option.iter().cloned());
                next.push(joined);
            }
        }
        results = next;
    }
    results.retain(|r| !r.is_empty());
    results
}

/// The answer kind for a built-in type name (`digits`, `yes/no`…).
pub fn answer_kind(name: &str) -> Option<AnswerKind> {
    Some(match name {
        "text" => AnswerKind::Text,
        "word" => AnswerKind::Word,
        "digits" => AnswerKind::Digits,
        "number" => AnswerKind::Number,
        "email" => AnswerKind::Email,
        "phone" => AnswerKind::Phone,
        "date" => AnswerKind::Date,
        "yes/no" => AnswerKind::YesNo,
        _ => return None,
    })
}

fn deletions(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    (0..chars.len())
        .map(|skip| chars.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, c)| *c).collect())
        .collect()
}

/// Builds the regex with its flags, with a size limit so a script cannot exhaust memory.
pub fn build_regex(regex: &crate::syntax::ast::RegexLit) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&regex.pattern)
        .case_insensitive(regex.flags.contains('i'))
        .multi_line(regex.flags.contains('m'))
        .dot_matches_new_line(regex.flags.contains('s'))
        .ignore_whitespace(regex.flags.contains('x'))
        .size_limit(1 << 20)
        .build()
}
