//! Lists by their words: every spelling of every entry (synonyms included) numbered through the
//! name table and filed under its first word, so finding the entry that starts at a message word
//! is one look-up, and typos in entries are read like typos in phrases.

use rustc_hash::FxHashMap as HashMap;

use super::super::program::ListDef;
use super::message::Message;
use super::names::{NameTable, WordId};

/// A message of at most this many words is a "short sentence": a list answer is found anywhere
/// in it ("it's broken" answers `ask damage as @damage`).
pub(crate) const SHORT_SENTENCE_WORDS: usize = 8;

#[derive(Clone, Debug, Default)]
pub(crate) struct ListIndex {
    /// Row of the list definition (its stored value) and the spelling's words.
    spellings: Vec<(u32, Box<[WordId]>)>,
    by_first: HashMap<WordId, Vec<u32>>,
}

/// An entry found in a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    /// Row of the list definition.
    pub row: u32,
    /// Message words it covers.
    pub len: usize,
    pub typos: u32,
}

impl ListIndex {
    pub(crate) fn build(def: &ListDef, names: &mut NameTable) -> ListIndex {
        let mut index = ListIndex::default();
        for (row, (_, words)) in def.entries.iter().enumerate() {
            if words.is_empty() {
                continue;
            }
            let ids: Box<[WordId]> = words.iter().map(|w| names.intern(w)).collect();
            let at = u32::try_from(index.spellings.len()).unwrap_or(u32::MAX);
            index.by_first.entry(ids[0]).or_default().push(at);
            index.spellings.push((u32::try_from(row).unwrap_or(u32::MAX), ids));
        }
        index
    }

    /// The longest entry starting at message word `at` (fewer typos, then the earlier entry, on
    /// ties).
    pub(crate) fn at(&self, message: &Message, at: usize) -> Option<Found> {
        let mut best: Option<Found> = None;
        for (first, first_typos) in message.readings(at) {
            let Some(spellings) = self.by_first.get(&first) else { continue };
            for index in spellings {
                let Some((row, words)) = self.spellings.get(*index as usize) else { continue };
                let mut typos = first_typos;
                let fits = words
                    .iter()
                    .enumerate()
                    .skip(1)
                    .all(|(k, id)| message.reads_as(at + k, *id).map(|t| typos += t).is_some());
                if !fits {
                    continue;
                }
                let found = Found { row: *row, len: words.len(), typos };
                let better = best.is_none_or(|b| {
                    (found.len, std::cmp::Reverse(found.typos), std::cmp::Reverse(found.row))
                        > (b.len, std::cmp::Reverse(b.typos), std::cmp::Reverse(b.row))
                });
                if better {
                    best = Some(found);
                }
            }
        }
        best
    }

    /// The entry a message names as an answer: the whole message, or the only entry found in a
    /// short sentence. Several different entries in one message are no answer.
    pub(crate) fn answer(&self, message: &Message, def: &ListDef) -> Option<u32> {
        let count = message.words.len();
        if let Some(found) = self.at(message, 0) {
            if found.len == count {
                return Some(found.row);
            }
        }
        if count > SHORT_SENTENCE_WORDS {
            return None;
        }
        let mut answer: Option<u32> = None;
        let mut at = 0;
        while at < count {
            match self.at(message, at) {
                Some(found) => {
                    let same = |a: u32, b: u32| {
                        def.entries.get(a as usize).map(|e| &e.0)
                            == def.entries.get(b as usize).map(|e| &e.0)
                    };
                    match answer {
                        Some(earlier) if !same(earlier, found.row) => return None,
                        _ => answer = Some(found.row),
                    }
                    at += found.len;
                }
                None => at += 1,
            }
        }
        answer
    }
}
