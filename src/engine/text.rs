//! Text normalisation shared by phrases and messages: Unicode lowercase, punctuation dropped,
//! optional accent folding, split into words that remember where they came from.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// One word of a customer message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Lowercase, punctuation removed, accents folded when the bot ignores accents.
    pub norm: String,
    /// Byte range of the word in the original message (edge punctuation trimmed).
    pub start: usize,
    pub end: usize,
}

/// Normalises one word: lowercase, letters and digits only, accents folded if asked.
pub(crate) fn normalise_word(word: &str, fold_accents: bool) -> String {
    let mut out = String::new();
    normalise_word_into(word, fold_accents, &mut out);
    out
}

/// Like [`normalise_word`], appending to `out` (the matcher reuses one buffer per message).
pub(crate) fn normalise_word_into(word: &str, fold_accents: bool, out: &mut String) {
    if word.is_ascii() {
        // Most messages: no Unicode tables needed.
        out.extend(
            word.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()),
        );
        return;
    }
    let lower = word.to_lowercase();
    if fold_accents {
        out.extend(lower.nfd().filter(|c| !is_combining_mark(*c)).filter(|c| c.is_alphanumeric()));
    } else {
        out.extend(lower.nfc().filter(|c| c.is_alphanumeric()));
    }
}

/// Splits a message into words; pieces made only of punctuation are dropped.
pub(crate) fn tokenize(text: &str, fold_accents: bool) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                push_token(text, s, i, fold_accents, &mut tokens);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    tokens
}

fn push_token(text: &str, start: usize, end: usize, fold: bool, tokens: &mut Vec<Token>) {
    let piece = &text[start..end];
    let norm = normalise_word(piece, fold);
    if norm.is_empty() {
        return;
    }
    let trimmed_start =
        start + (piece.len() - piece.trim_start_matches(|c: char| !c.is_alphanumeric()).len());
    let trimmed_end = start + piece.trim_end_matches(|c: char| !c.is_alphanumeric()).len();
    tokens.push(Token { norm, start: trimmed_start, end: trimmed_end.max(trimmed_start) });
}

/// The whole text normalised word by word and joined with single spaces.
pub(crate) fn normalise_text(text: &str, fold_accents: bool) -> String {
    tokenize(text, fold_accents).into_iter().map(|t| t.norm).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_punctuation_and_accents() {
        assert_eq!(normalise_text("Where's   MY Order?!", false), "wheres my order");
        assert_eq!(normalise_text("Café Ünïcode ÉCOLE", true), "cafe unicode ecole");
        assert_eq!(normalise_text("Café", false), "café");
        assert_eq!(normalise_text("STRASSE straße", false), "strasse straße");
    }

    #[test]
    fn tokens_remember_their_place() {
        let tokens = tokenize("order #12345, please", false);
        assert_eq!(tokens.len(), 3);
        assert_eq!(&"order #12345, please"[tokens[1].start..tokens[1].end], "12345");
    }
}
