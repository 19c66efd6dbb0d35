//! The matching index. Every phrase is expanded once into plain sequences (alternatives and
//! optional words multiplied out, see `expand`), its words numbered in one name table (`names`)
//! and the sequence filed under its rarest word, so a message only tries the phrases that share a
//! word with it: decision time does not grow with the number of intents. Each tried sequence is
//! first checked against the message's words (a 64-bit signature, then a sorted set) and only
//! then walked (`walk`). Phrases with no literal word (only captures or `*`) and regexes are
//! always tried.

mod expand;
mod lists;
mod message;
mod names;
mod regex;
mod walk;

use std::cell::RefCell;
use std::cmp::Reverse;

use rustc_hash::FxHashMap as HashMap;
use serde_json::Value;

use crate::syntax::ast::{Phrase, PhraseKind};

use super::answers::AnswerContext;
use super::program::{IntentId, ListDef, ListId};
use expand::{Element, Expander};
use lists::ListIndex;
use message::{bit, Message};
use names::{NameTable, WordId};
use regex::RegexPhrase;
use walk::{Walk, Walked};

pub use expand::{answer_kind, Specificity};
pub(crate) use names::ENGLISH_SMALL_WORDS;
pub use regex::build_regex;

#[derive(Clone, Debug)]
struct Sequence {
    intent: IntentId,
    /// Declaration order of the phrase (for ties).
    phrase: u32,
    elements: Box<[Element]>,
    specificity: Specificity,
    /// The literal words the message must contain, sorted.
    required: Box<[WordId]>,
    signature: u64,
    literal_words: u32,
}

/// A phrase that matched a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub intent: IntentId,
    pub phrase: u32,
    pub specificity: Specificity,
    /// Message words matched by the phrase's words, list entries and typed captures.
    pub covered: u32,
    /// Message words taken by wildcards, free-text captures and regexes.
    pub loose: u32,
    /// The phrase covers the whole message (small words aside).
    pub whole: bool,
    pub typos: u32,
    /// Small words passed over between the phrase's words.
    pub skipped: u32,
    pub literal_words: u32,
    pub captures: Vec<(String, Value)>,
}

/// A candidate's rank, compared field by field (higher first); see [`Candidate::rank`].
pub type Rank = (u32, Specificity, usize, bool, Reverse<u32>, Reverse<u32>, u32, u32);

impl Candidate {
    /// Higher ranks first: more of the message covered, then exact words over captures over
    /// wildcards, more captures filled, the whole message, fewer typos, fewer small words passed
    /// over, more words in the phrase, more words taken by wildcards.
    pub fn rank(&self) -> Rank {
        (
            self.covered,
            self.specificity,
            self.captures.len(),
            self.whole,
            Reverse(self.typos),
            Reverse(self.skipped),
            self.literal_words,
            self.loose,
        )
    }
}

#[derive(Clone, Debug, Default)]
pub struct Matcher {
    names: NameTable,
    sequences: Vec<Sequence>,
    regexes: Vec<RegexPhrase>,
    /// Sequences filed under their rarest word, indexed by word id, each with its signature so
    /// most are passed over without touching the sequence itself.
    by_word: Vec<Vec<(u64, u32)>>,
    always: Vec<u32>,
    lists: Vec<ListIndex>,
    fold: bool,
}

/// What the matcher needs to build phrases.
pub struct BuildContext<'a> {
    pub lists: &'a HashMap<String, ListId>,
    pub list_defs: &'a [ListDef],
    pub typos: bool,
    pub fold: bool,
    /// Words that may stand between a phrase's words (normalised).
    pub small_words: &'a [&'a str],
}

/// Buffers reused from one message to the next on each thread.
#[derive(Default)]
struct Scratch {
    message: Message,
    tried: Vec<u32>,
    stamps: Vec<u32>,
    generation: u32,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn with_scratch<T>(work: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => work(&mut scratch),
        Err(_) => work(&mut Scratch::default()),
    })
}

impl Matcher {
    /// Builds the index over `(intent, phrases)` in declaration order.
    pub fn build<'p>(
        intents: impl Iterator<Item = (IntentId, &'p [Phrase])>,
        cx: &BuildContext<'_>,
    ) -> Matcher {
        let mut names = NameTable::new(cx.typos, cx.small_words);
        let lists = cx.list_defs.iter().map(|def| ListIndex::build(def, &mut names)).collect();
        let mut matcher = Matcher { lists, fold: cx.fold, ..Matcher::default() };
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
                        let mut expander =
                            Expander { lists: cx.lists, names: &mut names, fold: cx.fold };
                        for elements in expander.expand(parts) {
                            matcher.sequences.push(sequence(intent, phrase_no, elements));
                        }
                    }
                }
            }
        }
        names.index_typos();
        matcher.names = names;
        matcher.index();
        matcher
    }

    fn index(&mut self) {
        let mut frequency = vec![0usize; self.names.len()];
        for seq in &self.sequences {
            for id in &seq.required {
                frequency[*id as usize] += 1;
            }
        }
        self.by_word = vec![Vec::new(); self.names.len()];
        for (i, seq) in self.sequences.iter().enumerate() {
            let id = u32::try_from(i).unwrap_or(u32::MAX);
            match seq.required.iter().min_by_key(|w| frequency[**w as usize]) {
                Some(word) => self.by_word[*word as usize].push((seq.signature, id)),
                None => self.always.push(id),
            }
        }
    }

    /// Every phrase that matches the message (the best way each matches), best first.
    pub fn candidates(&self, text: &str, cx: &AnswerContext<'_>) -> Vec<Candidate> {
        with_scratch(|scratch| {
            scratch.message.read(text, &self.names, self.fold);
            self.collect(scratch);
            let mut found: Vec<Candidate> = Vec::new();
            for id in &scratch.tried {
                let Some(seq) = self.sequences.get(*id as usize) else { continue };
                let Some(candidate) = self.try_sequence(seq, text, &scratch.message, cx) else {
                    continue;
                };
                match found.iter_mut().find(|c| c.phrase == candidate.phrase) {
                    Some(existing) if existing.rank() >= candidate.rank() => {}
                    Some(existing) => *existing = candidate,
                    None => found.push(candidate),
                }
            }
            for regex in &self.regexes {
                if let Some(m) = regex.find(text, &scratch.message) {
                    found.push(Candidate {
                        intent: regex.intent,
                        phrase: regex.phrase,
                        specificity: Specificity::Wildcard,
                        covered: 0,
                        loose: m.words,
                        whole: m.whole,
                        typos: 0,
                        skipped: 0,
                        literal_words: 0,
                        captures: m.captures,
                    });
                }
            }
            found.sort_by(|a, b| b.rank().cmp(&a.rank()).then(a.phrase.cmp(&b.phrase)));
            found
        })
    }

    /// The sequences worth walking: those filed under a word of the message (or one of its
    /// typos), and those with no word; each once.
    fn collect(&self, scratch: &mut Scratch) {
        let Scratch { message, tried, stamps, generation } = scratch;
        tried.clear();
        tried.extend(&self.always);
        *generation = generation.wrapping_add(1);
        if *generation == 0 {
            stamps.fill(0);
            *generation = 1;
        }
        if stamps.len() < self.sequences.len() {
            stamps.resize(self.sequences.len(), 0);
        }
        for at in 0..message.words.len() {
            for (word, _) in message.readings(at) {
                let Some(filed) = self.by_word.get(word as usize) else { continue };
                for (signature, id) in filed {
                    if signature & !message.signature != 0 {
                        continue;
                    }
                    let stamp = &mut stamps[*id as usize];
                    if *stamp != *generation {
                        *stamp = *generation;
                        tried.push(*id);
                    }
                }
            }
        }
    }

    fn try_sequence(
        &self,
        seq: &Sequence,
        text: &str,
        message: &Message,
        cx: &AnswerContext<'_>,
    ) -> Option<Candidate> {
        if seq.signature & !message.signature != 0
            || !seq.required.iter().all(|id| message.contains(*id))
        {
            return None;
        }
        let mut walk = Walk {
            elements: &seq.elements,
            message,
            text,
            lists: &self.lists,
            cx,
            steps: 0,
            now: Walked::default(),
        };
        let mut best: Option<(Rank, Walked, bool)> = None;
        let first_word = match seq.elements.first() {
            Some(Element::Word(id)) => Some(*id),
            _ => None,
        };
        for start in 0..message.words.len() {
            if first_word.is_some_and(|id| message.reads_as(start, id).is_none()) {
                continue;
            }
            if walk.from(start) {
                let walked = std::mem::take(&mut walk.now);
                let whole = message.words[..walked.start].iter().all(|w| w.small)
                    && message.words[walked.end..].iter().all(|w| w.small);
                let rank = (
                    walked.covered,
                    seq.specificity,
                    walked.captures.len(),
                    whole,
                    Reverse(walked.typos),
                    Reverse(walked.skipped),
                    seq.literal_words,
                    walked.loose,
                );
                if best.as_ref().is_none_or(|(r, _, _)| rank > *r) {
                    best = Some((rank, walked, whole));
                }
            }
            if walk.exhausted() {
                break;
            }
        }
        let (_, walked, whole) = best?;
        Some(Candidate {
            intent: seq.intent,
            phrase: seq.phrase,
            specificity: seq.specificity,
            covered: walked.covered,
            loose: walked.loose,
            whole,
            typos: walked.typos,
            skipped: walked.skipped,
            literal_words: seq.literal_words,
            captures: walked.captures,
        })
    }

    /// The list entry (its stored value) that `text` names as an answer to `ask … as @list`:
    /// the whole message, or the only entry in a short sentence, typos read as in phrases.
    pub fn list_answer(&self, list: ListId, text: &str, defs: &[ListDef]) -> Option<String> {
        let index = self.lists.get(usize::from(list))?;
        let def = defs.get(usize::from(list))?;
        let row = with_scratch(|scratch| {
            scratch.message.read(text, &self.names, self.fold);
            index.answer(&scratch.message, def)
        })?;
        def.entries.get(row as usize).map(|(stored, _)| stored.clone())
    }
}

fn sequence(intent: IntentId, phrase: u32, elements: Vec<Element>) -> Sequence {
    let mut required: Vec<WordId> = elements
        .iter()
        .filter_map(|e| match e {
            Element::Word(id) => Some(*id),
            _ => None,
        })
        .collect();
    let literal_words = u32::try_from(required.len()).unwrap_or(u32::MAX);
    required.sort_unstable();
    required.dedup();
    let signature = required.iter().fold(0, |sig, id| sig | bit(*id));
    Sequence {
        intent,
        phrase,
        specificity: expand::specificity(&elements),
        elements: elements.into_boxed_slice(),
        required: required.into_boxed_slice(),
        signature,
        literal_words,
    }
}
