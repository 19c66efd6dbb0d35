//! The name table: every word the bot's phrases and lists use, numbered once when the bot is
//! compiled, with the small words (function words) flagged and — under `typos tolerated` — the
//! one-letter deletions of every long word indexed, so reading a customer's typo costs a few hash
//! look-ups and nothing is generated per word but the deletions of an unknown word, written into
//! a reused buffer.

use rustc_hash::FxHashMap as HashMap;

/// A word of the bot's vocabulary.
pub(crate) type WordId = u32;

/// Words shorter than this must match exactly even when typos are tolerated.
pub(crate) const MIN_TYPO_LEN: usize = 5;

/// The small words of English that may stand between a phrase's words without breaking a match
/// ("my broadband **is** not working"). Negations and question words are left out on purpose:
/// they change what a message means.
pub(crate) const ENGLISH_SMALL_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "my",
    "our",
    "your",
    "this",
    "that",
    "these",
    "those",
    "is",
    "are",
    "am",
    "was",
    "be",
    "been",
    "it",
    "its",
    "please",
    "pls",
    "just",
    "really",
    "so",
    "very",
    "some",
    "any",
    "of",
    "for",
    "to",
    "at",
    "on",
    "in",
    "me",
    "i",
    "im",
    "um",
    "uh",
    "well",
    "hey",
    "still",
    "again",
    "also",
    "too",
    "now",
    "currently",
    "totally",
    "completely",
];

#[derive(Clone, Debug, Default)]
pub(crate) struct NameTable {
    ids: HashMap<Box<str>, WordId>,
    words: Vec<Box<str>>,
    small: Vec<bool>,
    /// One-letter deletion of a word of `MIN_TYPO_LEN`+ letters → the words it comes from.
    deletions: HashMap<Box<str>, Vec<WordId>>,
    typos: bool,
    /// Tells this table from every other one built in the process (0 for a default table), so
    /// what a thread remembers of one bot's vocabulary is never used with another's.
    identity: u64,
}

/// The next [`NameTable::identity`].
static NEXT_IDENTITY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl NameTable {
    pub(crate) fn new(typos: bool, small_words: &[&str]) -> NameTable {
        let identity = NEXT_IDENTITY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut table = NameTable { typos, identity, ..NameTable::default() };
        for word in small_words {
            let id = table.intern(word);
            if let Some(flag) = table.small.get_mut(id as usize) {
                *flag = true;
            }
        }
        table
    }

    /// The id of a (normalised) word, adding it if new.
    pub(crate) fn intern(&mut self, word: &str) -> WordId {
        if let Some(id) = self.ids.get(word) {
            return *id;
        }
        let id = WordId::try_from(self.words.len()).unwrap_or(WordId::MAX);
        self.ids.insert(word.into(), id);
        self.words.push(word.into());
        self.small.push(false);
        id
    }

    /// Indexes the deletions of every long word; call once, after the last `intern`.
    pub(crate) fn index_typos(&mut self) {
        if !self.typos {
            return;
        }
        let mut buffer = String::new();
        for (id, word) in self.words.iter().enumerate() {
            if word.chars().count() < MIN_TYPO_LEN || self.small[id] {
                continue;
            }
            let id = WordId::try_from(id).unwrap_or(WordId::MAX);
            for (at, c) in word.char_indices() {
                delete_into(&mut buffer, word, at, c.len_utf8());
                match self.deletions.get_mut(buffer.as_str()) {
                    Some(ids) if ids.last() == Some(&id) => {}
                    Some(ids) => ids.push(id),
                    None => {
                        self.deletions.insert(buffer.as_str().into(), vec![id]);
                    }
                }
            }
        }
    }

    pub(crate) fn get(&self, word: &str) -> Option<WordId> {
        self.ids.get(word).copied()
    }

    pub(crate) fn is_small(&self, id: WordId) -> bool {
        self.small.get(id as usize).copied().unwrap_or(false)
    }

    /// The spelling of word `id`.
    #[cfg(test)]
    pub(crate) fn word(&self, id: WordId) -> Option<&str> {
        self.words.get(id as usize).map(|w| &**w)
    }

    /// Which table this is (see the field).
    pub(crate) fn identity(&self) -> u64 {
        self.identity
    }

    pub(crate) fn tolerates_typos(&self) -> bool {
        self.typos
    }

    pub(crate) fn len(&self) -> usize {
        self.words.len()
    }

    /// Words of the vocabulary one edit away from `token` (a word the bot does not know),
    /// appended to `out`; `buffer` is scratch space.
    pub(crate) fn near(&self, token: &str, buffer: &mut String, out: &mut Vec<WordId>) {
        let length = token.chars().count();
        if !self.typos || length + 1 < MIN_TYPO_LEN {
            return;
        }
        let before = out.len();
        // The customer left a letter out.
        if let Some(ids) = self.deletions.get(token) {
            out.extend(ids);
        }
        for (at, c) in token.char_indices() {
            delete_into(buffer, token, at, c.len_utf8());
            // The customer added a letter.
            if let Some(id) = self.ids.get(buffer.as_str()) {
                if !self.small[*id as usize] && length > MIN_TYPO_LEN {
                    out.push(*id);
                }
            }
            // The customer changed a letter, or swapped two.
            if let Some(ids) = self.deletions.get(buffer.as_str()) {
                out.extend(ids);
            }
        }
        let found = &mut out[before..];
        found.sort_unstable();
        let mut kept = before;
        for i in before..out.len() {
            let id = out[i];
            if (kept > before && out[kept - 1] == id) || !self.within_one_edit(id, token) {
                continue;
            }
            out[kept] = id;
            kept += 1;
        }
        out.truncate(kept);
    }

    fn within_one_edit(&self, id: WordId, token: &str) -> bool {
        self.words.get(id as usize).is_some_and(|word| within_one_edit(word, token))
    }
}

/// `word` without the character at byte `at` (of `len` bytes), written into `buffer`.
fn delete_into(buffer: &mut String, word: &str, at: usize, len: usize) {
    buffer.clear();
    buffer.push_str(&word[..at]);
    buffer.push_str(&word[at + len..]);
}

/// Damerau–Levenshtein distance of at most one (a letter inserted, missing, changed, or two
/// neighbours swapped), without allocating.
pub(crate) fn within_one_edit(word: &str, other: &str) -> bool {
    let (mut left, mut right) = (word.chars(), other.chars());
    loop {
        let (rest_w, rest_o) = (left.as_str(), right.as_str());
        match (left.next(), right.next()) {
            (Some(here), Some(there)) if here == there => {}
            (None, None) => return true,
            (Some(here), Some(there)) => {
                let (after_w, after_o) = (skip_one(rest_w), skip_one(rest_o));
                return after_w == after_o
                    || rest_w == after_o
                    || after_w == rest_o
                    || (after_w.starts_with(there)
                        && after_o.starts_with(here)
                        && skip_one(after_w) == skip_one(after_o));
            }
            _ => return rest_w.chars().count() + rest_o.chars().count() == 1,
        }
    }
}

fn skip_one(s: &str) -> &str {
    let mut chars = s.chars();
    chars.next();
    chars.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_edit_is_one_letter_inserted_missing_changed_or_swapped() {
        assert!(within_one_edit("order", "order"));
        assert!(within_one_edit("order", "ordre"));
        assert!(within_one_edit("order", "orders"));
        assert!(within_one_edit("order", "rder"));
        assert!(within_one_edit("order", "oxder"));
        assert!(within_one_edit("café", "cafe"));
        assert!(!within_one_edit("order", "odrre"));
        assert!(!within_one_edit("order", "ord"));
        assert!(!within_one_edit("order", "other"));
    }

    #[test]
    fn typo_candidates_come_from_the_compiled_index() {
        let mut table = NameTable::new(true, ENGLISH_SMALL_WORDS);
        let router = table.intern("router");
        let modem = table.intern("modem");
        table.index_typos();
        let mut buffer = String::new();
        for (typo, want) in
            [("ruoter", router), ("routr", router), ("rooter", router), ("routers", router)]
        {
            let mut out = Vec::new();
            table.near(typo, &mut buffer, &mut out);
            assert_eq!(out, vec![want], "{typo}");
        }
        let mut out = Vec::new();
        table.near("modme", &mut buffer, &mut out);
        assert_eq!(out, vec![modem]);
        out.clear();
        table.near("banana", &mut buffer, &mut out);
        assert!(out.is_empty());
    }
}
