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
use expand::{Captures, Element, Expander};
use lists::ListIndex;
use message::{bit, Message};
use names::{NameTable, WordId};
use regex::RegexPhrase;
use walk::{Walk, Walked};

pub(crate) use expand::{answer_kind, Specificity};
pub(crate) use names::ENGLISH_SMALL_WORDS;
pub(crate) use regex::build_regex;

/// One plain sequence. Its elements live in the matcher's shared arena, in the order the
/// sequences are filed in (see [`Matcher::index`]), so the sequences a message tries together sit
/// side by side in memory: on a large bot, trying a sequence costs a cache miss or two, not one
/// per part. Kept to 16 bytes, four to a cache line.
#[derive(Clone, Debug)]
struct Sequence {
    /// Declaration order of the phrase (for ties).
    phrase: u32,
    /// Start of its elements in [`Matcher::elements`]; they end where the next sequence's start.
    elements: u32,
    intent: IntentId,
    literal_words: u16,
    specificity: Specificity,
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

/// The index is flat (one array per kind of thing, `u32` positions into the next) and numbers
/// the sequences in the order a message visits them: the sequences with no word first, then word
/// by word, group by group. A message's work then reads a few short runs of adjacent memory
/// instead of chasing a pointer per word, per group and per sequence, which is what a large bot
/// pays for once its index no longer fits in the processor's caches.
#[derive(Clone, Debug, Default)]
pub(crate) struct Matcher {
    names: NameTable,
    /// In filing order: `0..always` first, then each group's range.
    sequences: Vec<Sequence>,
    /// Each sequence's signature (one bit per literal word, see [`bit`]), apart from the
    /// sequence itself so most sequences are passed over reading 8 bytes.
    signatures: Vec<u64>,
    /// Every sequence's elements, one after another, plus one end position.
    elements: Vec<Element>,
    captures: Captures,
    regexes: Vec<RegexPhrase>,
    /// Word id → its groups: `word_groups[w]..word_groups[w + 1]` in the two arrays below.
    word_groups: Vec<u32>,
    /// Each group's partner: the second-rarest word of its sequences, which the message must
    /// contain too ([`NO_PARTNER`] for sequences with a single distinct word). Apart from the
    /// ends, so passing over a word's groups reads 4 bytes a group.
    group_partners: Vec<WordId>,
    /// Each group's sequences end where the next group's start: `group_ends[g - 1]..group_ends[g]`
    /// (from `always` for the first group).
    group_ends: Vec<u32>,
    /// Sequences with no literal word (only captures or `*`): always tried.
    always: u32,
    lists: Vec<ListIndex>,
    fold: bool,
}

/// A group is the sequences with the same rarest word (where they are filed) and the same
/// second-rarest word (its partner); this partner is that of sequences with one distinct word.
const NO_PARTNER: WordId = WordId::MAX;

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
    /// Per word id, the message whose reading visited the word's groups: each sequence is filed
    /// once, under one word, so visiting each word once tries each sequence once.
    visited: Vec<u32>,
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
        let mut built = Built::default();
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
                        let mut expander = Expander {
                            lists: cx.lists,
                            names: &mut names,
                            captures: &mut matcher.captures,
                            fold: cx.fold,
                        };
                        for elements in expander.expand(parts) {
                            built.push(intent, phrase_no, elements);
                        }
                    }
                }
            }
        }
        names.index_typos();
        matcher.names = names;
        matcher.index(&built);
        matcher
    }

    /// Files every sequence under its rarest word, in a group per partner (see the module), and
    /// renumbers the sequences and their elements in filing order. Within a group the sequences
    /// keep their build order, and groups keep the order they were first met in, so messages
    /// visit sequences in the same order as before renumbering.
    fn index(&mut self, built: &Built) {
        let Built { sequences: built, elements, ends } = built;
        let mut frequency = vec![0usize; self.names.len()];
        let mut required: Vec<WordId> = Vec::new();
        let elements_of = |i: usize| {
            let start = built.get(i).map_or(0, |(seq, _)| seq.elements as usize);
            let end = ends.get(i).map_or(start, |end| *end as usize);
            elements.get(start..end).unwrap_or_default()
        };
        for i in 0..built.len() {
            required_words(elements_of(i), &mut required);
            for id in &required {
                frequency[*id as usize] += 1;
            }
        }
        // Per word, its groups in the order first met: (partner, sequence numbers).
        let mut by_word: Vec<Vec<(WordId, Vec<u32>)>> = vec![Vec::new(); self.names.len()];
        let mut always: Vec<u32> = Vec::new();
        let mut rarest_first: Vec<WordId> = Vec::new();
        for i in 0..built.len() {
            let id = u32::try_from(i).unwrap_or(u32::MAX);
            required_words(elements_of(i), &mut rarest_first);
            rarest_first.sort_by_key(|w| (frequency[*w as usize], *w));
            let Some(&word) = rarest_first.first() else {
                always.push(id);
                continue;
            };
            let partner = rarest_first.get(1).copied().unwrap_or(NO_PARTNER);
            let groups = &mut by_word[word as usize];
            match groups.iter_mut().find(|(p, _)| *p == partner) {
                Some((_, ids)) => ids.push(id),
                None => groups.push((partner, vec![id])),
            }
        }
        let at = |len: usize| u32::try_from(len).unwrap_or(u32::MAX);
        let mut order: Vec<u32> = always;
        self.always = at(order.len());
        self.word_groups = Vec::with_capacity(by_word.len() + 1);
        for groups in by_word {
            self.word_groups.push(at(self.group_ends.len()));
            for (partner, ids) in groups {
                order.extend(ids);
                self.group_partners.push(partner);
                self.group_ends.push(at(order.len()));
            }
        }
        self.word_groups.push(at(self.group_ends.len()));
        self.sequences = Vec::with_capacity(order.len());
        self.signatures = Vec::with_capacity(order.len());
        self.elements = Vec::with_capacity(elements.len() + 1);
        for i in order {
            let Some((seq, signature)) = built.get(i as usize) else { continue };
            let start = at(self.elements.len());
            self.elements.extend_from_slice(elements_of(i as usize));
            self.sequences.push(Sequence { elements: start, ..seq.clone() });
            self.signatures.push(*signature);
        }
        // The end of the last sequence's elements.
        self.elements.push(Element::Wildcard);
    }

    /// Every phrase that matches the message (the best way each matches), best first.
    pub fn candidates(&self, text: &str, cx: &AnswerContext<'_>) -> Vec<Candidate> {
        with_scratch(|scratch| {
            scratch.message.read(text, &self.names, self.fold);
            self.collect(scratch);
            self.touch(&scratch.tried);
            let mut found: Vec<Candidate> = Vec::new();
            for id in &scratch.tried {
                let Some(candidate) = self.try_sequence(*id, text, &scratch.message, cx) else {
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
        let Scratch { message, tried, visited, generation } = scratch;
        tried.clear();
        tried.extend(0..self.always);
        *generation = generation.wrapping_add(1);
        if *generation == 0 {
            visited.fill(0);
            *generation = 1;
        }
        if visited.len() < self.names.len() {
            visited.resize(self.names.len(), 0);
        }
        for at in 0..message.words.len() {
            for (word, _) in message.readings(at) {
                let Some(seen) = visited.get_mut(word as usize) else { continue };
                if *seen == *generation {
                    continue;
                }
                *seen = *generation;
                let w = word as usize;
                let (Some(&first), Some(&last)) =
                    (self.word_groups.get(w), self.word_groups.get(w + 1))
                else {
                    continue;
                };
                let (first, last) = (first as usize, last as usize);
                let partners = self.group_partners.get(first..last).unwrap_or_default();
                let ends = self.group_ends.get(first..last).unwrap_or_default();
                let mut start = match first.checked_sub(1) {
                    Some(before) => self.group_ends.get(before).copied().unwrap_or(0),
                    None => self.always,
                };
                for (&partner, &end) in partners.iter().zip(ends) {
                    if partner == NO_PARTNER || message.contains(partner) {
                        let signatures =
                            self.signatures.get(start as usize..end as usize).unwrap_or_default();
                        for (id, signature) in (start..end).zip(signatures) {
                            if signature & !message.signature == 0 {
                                tried.push(id);
                            }
                        }
                    }
                    start = end;
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
            let first = self
                .sequences
                .get(*id as usize)
                .and_then(|seq| self.elements.get(seq.elements as usize));
            seen ^= u64::from(matches!(first, Some(Element::Word(_))));
        }
        std::hint::black_box(seen);
    }

    fn try_sequence(
        &self,
        id: u32,
        text: &str,
        message: &Message,
        cx: &AnswerContext<'_>,
    ) -> Option<Candidate> {
        let seq = self.sequences.get(id as usize)?;
        let signature = self.signatures.get(id as usize).copied().unwrap_or(0);
        let elements = self.elements_of(id);
        let has_words = |e: &Element| match e {
            Element::Word(id) => message.contains(*id),
            _ => true,
        };
        if signature & !message.signature != 0 || !elements.iter().all(has_words) {
            return None;
        }
        let mut walk = Walk {
            elements,
            captures: &self.captures,
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
                    u32::from(seq.literal_words),
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
            literal_words: u32::from(seq.literal_words),
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

/// The sequences as expanded, in build order, before [`Matcher::index`] files them.
#[derive(Default)]
struct Built {
    sequences: Vec<(Sequence, u64)>,
    elements: Vec<Element>,
    /// End of each sequence's elements.
    ends: Vec<u32>,
}

impl Built {
    fn push(&mut self, intent: IntentId, phrase: u32, elements: Vec<Element>) {
        let words = elements.iter().filter_map(|e| match e {
            Element::Word(id) => Some(*id),
            _ => None,
        });
        let literal_words = u16::try_from(words.clone().count()).unwrap_or(u16::MAX);
        let signature = words.fold(0, |sig, id| sig | bit(id));
        let specificity = expand::specificity(&elements);
        let at = |len: usize| u32::try_from(len).unwrap_or(u32::MAX);
        let start = at(self.elements.len());
        self.elements.extend(elements);
        self.ends.push(at(self.elements.len()));
        self.sequences.push((
            Sequence { phrase, elements: start, intent, literal_words, specificity },
            signature,
        ));
    }
}

impl Matcher {
    /// The elements of sequence `id` (they end where the next sequence's start; the arena ends
    /// with one extra element for the last).
    fn elements_of(&self, id: u32) -> &[Element] {
        let start = self.sequences.get(id as usize).map_or(0, |seq| seq.elements as usize);
        let end = self
            .sequences
            .get(id as usize + 1)
            .map_or(self.elements.len().saturating_sub(1), |next| next.elements as usize);
        self.elements.get(start..end).unwrap_or_default()
    }
}

/// The literal words a sequence's elements require of the message, sorted, into `out`.
fn required_words(elements: &[Element], out: &mut Vec<WordId>) {
    out.clear();
    out.extend(elements.iter().filter_map(|e| match e {
        Element::Word(id) => Some(*id),
        _ => None,
    }));
    out.sort_unstable();
    out.dedup();
}

#[cfg(test)]
mod tests {
    use super::{Element, Scratch, Sequence};
    use crate::check::compile::compile;
    use crate::source::{FileId, SourceFile};

    /// A large bot's index no longer fits in the processor's caches: every byte of what a
    /// message reads counts. Four sequences to a cache line, eight elements to a sequence's line.
    #[test]
    fn sequences_and_elements_stay_small() {
        assert!(std::mem::size_of::<Sequence>() <= 16);
        assert!(std::mem::size_of::<Element>() <= 8);
    }

    /// A word the message repeats (or reads both exactly and as a typo) visits its groups once,
    /// so each sequence is tried once.
    #[test]
    fn a_repeated_word_tries_each_sequence_once() {
        let text = "bot \"Once\"\n  typos tolerated\n\nintent reset\n  \"reset [my] password\"\n  \
                    \"password reset\"\n\nintent other\n  \"change {x} password\"\n\non start\n  \
                    go main\n\nstate main\n  when reset\n    say \"ok\"\n  when other\n    \
                    say \"other\"\n";
        let file = crate::syntax::parse(&SourceFile::new(FileId(0), "once.bot", text))
            .expect("the bot parses");
        let program = compile(&file).expect("the bot compiles");
        let matcher = &program.matcher;
        let mut scratch = Scratch::default();
        for message in ["password password reset my passwrod reset", "reset my password"] {
            scratch.message.read(message, &matcher.names, matcher.fold);
            matcher.collect(&mut scratch);
            let mut once = scratch.tried.clone();
            once.sort_unstable();
            once.dedup();
            assert_eq!(once.len(), scratch.tried.len(), "{message}");
            assert_eq!(scratch.tried.len(), 3, "{message}");
        }
    }
}
