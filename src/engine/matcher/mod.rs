//! The matching index. Every phrase is expanded once into plain sequences (alternatives and
//! optional words multiplied out, see `expand`), its words numbered in one name table (`names`)
//! and the sequence filed under its rarest word, in a group with the other sequences that share
//! its second-rarest word (its partner). A message only looks at the groups filed under its own
//! words, and only takes a group whose partner it contains too: on real vocabulary, where every
//! word is shared by many intents, that pair is what keeps decision time from growing with the
//! number of intents. Each taken sequence is checked against the message's words (a 64-bit
//! signature, then a bit set) and only then walked (`walk`). Phrases with no literal word
//! (only captures or `*`) and regexes are always tried.

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

pub(crate) use expand::{answer_kind, Specificity};
pub(crate) use names::ENGLISH_SMALL_WORDS;
pub(crate) use regex::build_regex;

/// One plain sequence. Its elements live in the matcher's shared arena, in build order, so the
/// sequences of one phrase sit side by side in memory: on a large bot, trying a sequence costs
/// a cache miss or two, not one per part.
#[derive(Clone, Debug)]
struct Sequence {
    intent: IntentId,
    /// Declaration order of the phrase (for ties).
    phrase: u32,
    /// Range in [`Matcher::elements`].
    elements: (u32, u32),
    specificity: Specificity,
    /// One bit per literal word (see [`bit`]).
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
pub(crate) type Rank = (u32, Specificity, usize, bool, Reverse<u32>, Reverse<u32>, u32, u32);

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
pub(crate) struct Matcher {
    names: NameTable,
    sequences: Vec<Sequence>,
    /// Every sequence's elements, one after another.
    elements: Vec<Element>,
    regexes: Vec<RegexPhrase>,
    /// Groups of sequences filed under their rarest word, indexed by word id.
    by_word: Vec<Vec<Filed>>,
    always: Vec<u32>,
    lists: Vec<ListIndex>,
    fold: bool,
}

/// Sequences with the same rarest word (where they are filed) and the same partner.
#[derive(Clone, Debug)]
struct Filed {
    /// The second-rarest word of these sequences: the message must contain it too. `None` for
    /// sequences with a single distinct word.
    partner: Option<WordId>,
    /// Each sequence's signature beside its number, so most are passed over without touching
    /// the sequence itself (a cache miss each on a large bot).
    sequences: Vec<(u64, u32)>,
}

/// What the matcher needs to build phrases.
pub(crate) struct BuildContext<'a> {
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
                            matcher.push_sequence(intent, phrase_no, elements);
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
        let mut required: Vec<WordId> = Vec::new();
        for seq in &self.sequences {
            self.required_of(seq, &mut required);
            for id in &required {
                frequency[*id as usize] += 1;
            }
        }
        self.by_word = vec![Vec::new(); self.names.len()];
        let mut rarest_first: Vec<WordId> = Vec::new();
        for (i, seq) in self.sequences.iter().enumerate() {
            let id = u32::try_from(i).unwrap_or(u32::MAX);
            self.required_of(seq, &mut rarest_first);
            rarest_first.sort_by_key(|w| (frequency[*w as usize], *w));
            let Some(&word) = rarest_first.first() else {
                self.always.push(id);
                continue;
            };
            let partner = rarest_first.get(1).copied();
            let groups = &mut self.by_word[word as usize];
            let filed = (seq.signature, id);
            match groups.iter_mut().find(|g| g.partner == partner) {
                Some(group) => group.sequences.push(filed),
                None => groups.push(Filed { partner, sequences: vec![filed] }),
            }
        }
    }

    /// Every phrase that matches the message (the best way each matches), best first.
    pub fn candidates(&self, text: &str, cx: &AnswerContext<'_>) -> Vec<Candidate> {
        with_scratch(|scratch| {
            scratch.message.read(text, &self.names, self.fold);
            self.collect(scratch);
            self.touch(&scratch.tried);
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
                let Some(groups) = self.by_word.get(word as usize) else { continue };
                for group in groups {
                    if group.partner.is_some_and(|partner| !message.contains(partner)) {
                        continue;
                    }
                    for (signature, id) in &group.sequences {
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
    }

    /// Reads each tried sequence and its first element once before any is walked. The reads do
    /// not depend on one another, so on a bot too large for the processor's caches their misses
    /// overlap instead of each walk waiting for its own in turn.
    fn touch(&self, tried: &[u32]) {
        let mut seen = 0u64;
        for id in tried {
            if let Some(seq) = self.sequences.get(*id as usize) {
                seen ^= seq.signature;
            }
        }
        for id in tried {
            let first = self
                .sequences
                .get(*id as usize)
                .and_then(|seq| self.elements.get(seq.elements.0 as usize));
            seen ^= u64::from(matches!(first, Some(Element::Word(_))));
        }
        std::hint::black_box(seen);
    }

    fn try_sequence(
        &self,
        seq: &Sequence,
        text: &str,
        message: &Message,
        cx: &AnswerContext<'_>,
    ) -> Option<Candidate> {
        let elements = self.elements_of(seq);
        let has_words = |e: &Element| match e {
            Element::Word(id) => message.contains(*id),
            _ => true,
        };
        if seq.signature & !message.signature != 0 || !elements.iter().all(has_words) {
            return None;
        }
        let mut walk = Walk {
            elements,
            message,
            text,
            lists: &self.lists,
            cx,
            steps: 0,
            now: Walked::default(),
        };
        let mut best: Option<(Rank, Walked, bool)> = None;
        let first_word = match elements.first() {
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
    pub(crate) fn list_answer(&self, list: ListId, text: &str, defs: &[ListDef]) -> Option<String> {
        let index = self.lists.get(usize::from(list))?;
        let def = defs.get(usize::from(list))?;
        let row = with_scratch(|scratch| {
            scratch.message.read(text, &self.names, self.fold);
            index.answer(&scratch.message, def)
        })?;
        def.entries.get(row as usize).map(|(stored, _)| stored.clone())
    }
}

impl Matcher {
    fn push_sequence(&mut self, intent: IntentId, phrase: u32, elements: Vec<Element>) {
        let words = elements.iter().filter_map(|e| match e {
            Element::Word(id) => Some(*id),
            _ => None,
        });
        let literal_words = u32::try_from(words.clone().count()).unwrap_or(u32::MAX);
        let signature = words.fold(0, |sig, id| sig | bit(id));
        let specificity = expand::specificity(&elements);
        let at = |len: usize| u32::try_from(len).unwrap_or(u32::MAX);
        let from = at(self.elements.len());
        self.elements.extend(elements);
        self.sequences.push(Sequence {
            intent,
            phrase,
            elements: (from, at(self.elements.len())),
            specificity,
            signature,
            literal_words,
        });
    }

    fn elements_of(&self, seq: &Sequence) -> &[Element] {
        self.elements.get(seq.elements.0 as usize..seq.elements.1 as usize).unwrap_or_default()
    }

    /// The literal words the message must contain for `seq` to match, sorted, into `out`.
    fn required_of(&self, seq: &Sequence, out: &mut Vec<WordId>) {
        out.clear();
        out.extend(self.elements_of(seq).iter().filter_map(|e| match e {
            Element::Word(id) => Some(*id),
            _ => None,
        }));
        out.sort_unstable();
        out.dedup();
    }
}
