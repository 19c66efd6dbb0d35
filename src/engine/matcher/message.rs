//! A customer message read once for matching: its words, where each came from, which word of
//! the bot's vocabulary each is (exactly, or one typo away), and which are small words. The
//! buffers are kept and reused from one message to the next, so reading allocates nothing once
//! they have grown.

use rustc_hash::FxHashMap as HashMap;

use super::super::text::normalise_word_into;
use super::names::{NameTable, WordId};

/// One word of the message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Word {
    /// Byte range of the word in the original message (edge punctuation trimmed).
    pub start: usize,
    pub end: usize,
    /// The vocabulary word it is, if the bot knows it.
    pub known: Option<WordId>,
    /// Range in [`Message::near`] of the vocabulary words it may be a typo of.
    near_start: u32,
    near_end: u32,
    /// A small word ("the", "my", "please"): may stand between a phrase's words.
    pub small: bool,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Message {
    pub words: Vec<Word>,
    near: Vec<WordId>,
    /// Every vocabulary word the message contains (exactly or by a typo), in reading order.
    present: Vec<WordId>,
    /// The same words as a bit set indexed by word id, so a look-up is one bit test.
    bits: Vec<u64>,
    /// One bit per `present` word (by id modulo 64): a quick first test of a phrase's words.
    pub signature: u64,
    norm: String,
    buffer: String,
    typos: TypoMemo,
}

/// The typo readings of unknown words this thread has already worked out for one vocabulary.
/// Customers' filler words ("wondering", "thanks", "advance") come back in message after
/// message; remembering that they are no typo of anything saves the dozen look-ups each takes.
#[derive(Clone, Debug, Default)]
struct TypoMemo {
    /// The [`NameTable::identity`] the readings belong to.
    table: u64,
    /// Unknown word → its readings' range in `ids`.
    found: HashMap<Box<str>, (u32, u32)>,
    ids: Vec<WordId>,
}

/// Unknown words remembered at most before the memo starts again.
const MEMO_WORDS: usize = 4096;

impl TypoMemo {
    /// Appends to `out` the vocabulary words `token` may be a typo of (see [`NameTable::near`]).
    fn near(&mut self, token: &str, names: &NameTable, buffer: &mut String, out: &mut Vec<WordId>) {
        if self.table != names.identity() || self.found.len() >= MEMO_WORDS {
            self.found.clear();
            self.ids.clear();
            self.table = names.identity();
        }
        if let Some(&(start, end)) = self.found.get(token) {
            out.extend_from_slice(self.ids.get(start as usize..end as usize).unwrap_or_default());
            return;
        }
        let before = out.len();
        names.near(token, buffer, out);
        let start = index(self.ids.len());
        self.ids.extend_from_slice(out.get(before..).unwrap_or_default());
        self.found.insert(token.into(), (start, index(self.ids.len())));
    }
}

fn index(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Message {
    /// Reads `text`, replacing what was read before.
    pub(crate) fn read(&mut self, text: &str, names: &NameTable, fold: bool) {
        self.words.clear();
        self.near.clear();
        for id in self.present.drain(..) {
            if let Some(block) = self.bits.get_mut(id as usize / 64) {
                *block = 0;
            }
        }
        let blocks = names.len().div_ceil(64);
        if self.bits.len() < blocks {
            self.bits.resize(blocks, 0);
        }
        self.signature = 0;
        let mut start = None;
        for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
            if c.is_whitespace() {
                if let Some(s) = start.take() {
                    self.push(text, s, i, names, fold);
                }
            } else if start.is_none() {
                start = Some(i);
            }
        }
    }

    fn push(&mut self, text: &str, start: usize, end: usize, names: &NameTable, fold: bool) {
        let piece = &text[start..end];
        self.norm.clear();
        normalise_word_into(piece, fold, &mut self.norm);
        if self.norm.is_empty() {
            return;
        }
        let trimmed_start =
            start + (piece.len() - piece.trim_start_matches(|c: char| !c.is_alphanumeric()).len());
        let trimmed_end = start + piece.trim_end_matches(|c: char| !c.is_alphanumeric()).len();
        let known = names.get(&self.norm);
        let near_start = u32::try_from(self.near.len()).unwrap_or(u32::MAX);
        match known {
            Some(id) => self.add(id),
            // A word the bot knows is never read as a typo of another one.
            None if names.tolerates_typos() => {
                self.typos.near(&self.norm, names, &mut self.buffer, &mut self.near);
                for i in near_start as usize..self.near.len() {
                    self.add(self.near[i]);
                }
            }
            None => {}
        }
        self.words.push(Word {
            start: trimmed_start,
            end: trimmed_end.max(trimmed_start),
            known,
            near_start,
            near_end: u32::try_from(self.near.len()).unwrap_or(u32::MAX),
            small: known.is_some_and(|id| names.is_small(id)),
        });
    }

    fn add(&mut self, id: WordId) {
        self.present.push(id);
        self.signature |= bit(id);
        if let Some(block) = self.bits.get_mut(id as usize / 64) {
            *block |= bit(id);
        }
    }

    /// Whether the message contains the vocabulary word `id` (exactly or by a typo).
    pub(crate) fn contains(&self, id: WordId) -> bool {
        self.bits.get(id as usize / 64).is_some_and(|block| block & bit(id) != 0)
    }

    /// How word `at` reads as vocabulary word `id`: `Some(0)` exactly, `Some(1)` with a typo.
    pub(crate) fn reads_as(&self, at: usize, id: WordId) -> Option<u32> {
        let word = self.words.get(at)?;
        if word.known == Some(id) {
            return Some(0);
        }
        self.near(word).contains(&id).then_some(1)
    }

    /// The vocabulary words word `at` is, or may be a typo of.
    pub(crate) fn readings(&self, at: usize) -> impl Iterator<Item = (WordId, u32)> + '_ {
        let word = self.words.get(at);
        let exact = word.and_then(|w| w.known).map(|id| (id, 0));
        let near = word.map(|w| self.near(w)).unwrap_or_default().iter().map(|id| (*id, 1));
        exact.into_iter().chain(near)
    }

    fn near(&self, word: &Word) -> &[WordId] {
        self.near.get(word.near_start as usize..word.near_end as usize).unwrap_or_default()
    }
}

/// The signature bit of a word.
pub(crate) fn bit(id: WordId) -> u64 {
    1u64 << (id % 64)
}

#[cfg(test)]
mod tests {
    use super::super::names::{NameTable, ENGLISH_SMALL_WORDS};
    use super::Message;

    fn table(words: &[&str]) -> NameTable {
        let mut table = NameTable::new(true, ENGLISH_SMALL_WORDS);
        for word in words {
            table.intern(word);
        }
        table.index_typos();
        table
    }

    /// The near words of every word of the message, as the bot's vocabulary spells them.
    fn near_words(message: &Message, names: &NameTable) -> Vec<Vec<String>> {
        (0..message.words.len())
            .map(|at| {
                message
                    .readings(at)
                    .filter(|(_, typos)| *typos == 1)
                    .filter_map(|(id, _)| names.word(id).map(str::to_owned))
                    .collect()
            })
            .collect()
    }

    /// A word read before is remembered, and what is remembered for one bot is never used for
    /// another: the second bot, whose vocabulary has `modem` instead of `router`, must not read
    /// "ruoter" as a typo.
    #[test]
    fn remembered_typo_readings_belong_to_one_vocabulary() {
        let routers = table(&["router"]);
        let modems = table(&["modem"]);
        let mut message = Message::default();
        for _ in 0..2 {
            message.read("my ruoter and modme", &routers, true);
            assert_eq!(
                near_words(&message, &routers),
                [vec![], vec!["router".to_owned()], vec![], vec![]]
            );
            message.read("my ruoter and modme", &modems, true);
            assert_eq!(
                near_words(&message, &modems),
                [vec![], vec![], vec![], vec!["modem".to_owned()]]
            );
        }
    }
}
