//! Groups the messages the bot missed by similarity, in a way an author can check by hand:
//!
//! 1. Each message is normalised as the matcher does (lowercase, punctuation dropped, accents
//!    folded); a word made only of digits becomes `#`, so order numbers do not split groups;
//!    common small words ("the", "my", "is", …) are left out. What remains is its word set.
//! 2. Distinct messages are taken most frequent first. Each joins the first group whose
//!    *leader* (the message that opened it) shares at least [`SIMILARITY`] of their words
//!    (Jaccard: shared words ÷ all words of the two); otherwise it opens a group of its own.
//!    A message whose word set is empty groups only with identical text.
//!
//! The same input always gives the same groups, and every member of a group is similar to its
//! leader (not merely to some other member), so a group never drifts from its title.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

/// The least Jaccard similarity with a group's leader to join it.
pub(crate) const SIMILARITY: f64 = 0.5;

/// Distinct messages grouped at most; rarer ones beyond it are counted, not grouped.
pub(crate) const MAX_DISTINCT: usize = 20_000;

/// Small words that say little about what the customer wants (English and German, the
/// languages of the example bots).
const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "i", "im", "me", "my", "you", "your", "we", "our", "it", "its", "is", "are",
    "was", "be", "do", "does", "did", "can", "could", "would", "will", "to", "of", "in", "on",
    "at", "for", "and", "or", "with", "this", "that", "there", "please", "pls", "hi", "hello",
    "hey", "ich", "du", "sie", "wir", "mein", "meine", "der", "die", "das", "ein", "eine", "ist",
    "und", "oder", "mit", "zu", "bitte", "hallo",
];

/// One group of similar missed messages.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MissedGroup {
    /// The most frequent message of the group (its leader), as the customer wrote it.
    pub example: String,
    /// Messages in the group, repeats included.
    pub count: u64,
    /// Each distinct message and how often it came, most frequent first.
    pub messages: Vec<MessageCount>,
}

/// A distinct message and its count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MessageCount {
    pub text: String,
    pub count: u64,
}

/// What [`group`] returns.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Grouped {
    /// Largest first.
    pub groups: Vec<MissedGroup>,
    /// Messages past [`MAX_DISTINCT`] distinct texts, not grouped.
    pub ungrouped: u64,
}

/// The words of `text` that decide its group.
pub fn words(text: &str) -> BTreeSet<String> {
    crate::engine::normalise_text(text, true)
        .split(' ')
        .filter(|w| !w.is_empty() && !STOP_WORDS.contains(w))
        .map(|w| if w.chars().all(|c| c.is_ascii_digit()) { "#".to_owned() } else { w.to_owned() })
        .collect()
}

/// Jaccard similarity of two word sets (0 when both are empty).
pub(crate) fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let shared = a.intersection(b).count();
    let all = a.len() + b.len() - shared;
    if all == 0 {
        return 0.0;
    }
    #[expect(clippy::cast_precision_loss, reason = "word counts are small")]
    let ratio = shared as f64 / all as f64;
    ratio
}

/// Groups `messages` (one entry per occurrence) by similarity.
pub(crate) fn group<'a>(messages: impl IntoIterator<Item = &'a str>) -> Grouped {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for message in messages {
        let message = message.trim();
        if !message.is_empty() {
            *counts.entry(message).or_default() += 1;
        }
    }
    let mut distinct: Vec<(&str, u64)> = counts.into_iter().collect();
    // Most frequent first; ties in text order, so the result never depends on hashing.
    distinct.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut ungrouped = 0;
    if distinct.len() > MAX_DISTINCT {
        ungrouped = distinct[MAX_DISTINCT..].iter().map(|(_, n)| n).sum();
        distinct.truncate(MAX_DISTINCT);
    }
    let mut leaders: Vec<(BTreeSet<String>, String)> = Vec::new();
    let mut groups: Vec<MissedGroup> = Vec::new();
    for (text, count) in distinct {
        let set = words(text);
        let exact = crate::engine::normalise_text(text, true);
        let found = leaders.iter().position(|(leader, leader_text)| {
            if set.is_empty() || leader.is_empty() {
                *leader_text == exact
            } else {
                jaccard(&set, leader) >= SIMILARITY
            }
        });
        let message = MessageCount { text: text.to_owned(), count };
        match found {
            Some(i) => {
                groups[i].count += count;
                groups[i].messages.push(message);
            }
            None => {
                leaders.push((set, exact));
                groups.push(MissedGroup {
                    example: text.to_owned(),
                    count,
                    messages: vec![message],
                });
            }
        }
    }
    // Largest first; the leaders' order breaks ties (a stable sort keeps it).
    groups.sort_by_key(|g| std::cmp::Reverse(g.count));
    Grouped { groups, ungrouped }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_wordings_share_a_group_and_numbers_do_not_split_them() {
        let grouped = group([
            "do you sell gift cards",
            "Do you sell gift cards?",
            "gift cards for sale?",
            "where is order 12345",
            "where is order 777",
            "can I bring my dog",
            "sell gift cards",
        ]);
        let summary: Vec<(&str, u64, usize)> = grouped
            .groups
            .iter()
            .map(|g| (g.example.as_str(), g.count, g.messages.len()))
            .collect();
        assert_eq!(
            summary,
            [
                ("Do you sell gift cards?", 4, 4),
                ("where is order 12345", 2, 2),
                ("can I bring my dog", 1, 1),
            ]
        );
    }

    #[test]
    fn jaccard_counts_shared_words_over_all_words() {
        let a = words("gift cards sale");
        let b = words("gift cards");
        assert!((jaccard(&a, &b) - 2.0 / 3.0).abs() < 1e-9);
        assert!(jaccard(&words("the"), &words("a")).abs() < 1e-9);
    }

    #[test]
    fn messages_without_telling_words_group_only_when_identical() {
        let grouped = group(["hi", "Hi!", "hello", "?", "   "]);
        let counts: Vec<u64> = grouped.groups.iter().map(|g| g.count).collect();
        assert_eq!(counts, [2, 1, 1]);
    }
}
