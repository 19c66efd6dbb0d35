//! Expansion: a phrase's alternatives and optional words multiplied out into plain sequences of
//! elements, its words numbered through the name table.

use rustc_hash::FxHashMap as HashMap;

use crate::syntax::ast::{CaptureType, PhrasePart, PhrasePartKind};

use super::super::program::{AnswerKind, ListId};
use super::super::text::normalise_word;
use super::names::{NameTable, WordId};

/// Most sequences one phrase may expand into; more is cut (and `botrun why` shows fewer).
pub(crate) const MAX_EXPANSIONS: usize = 256;

/// One step of a plain sequence.
#[derive(Clone, Debug)]
pub(crate) enum Element {
    Word(WordId),
    Wildcard,
    /// A free-text capture: one or more words.
    Text(Box<str>),
    /// A typed capture (`digits`, `date`…).
    /// Boxed: it is rare, and keeping it small keeps every element small (a sequence is walked
    /// from memory that may not be in cache).
    Typed(Box<(Box<str>, AnswerKind)>),
    /// A list reference (`@product`) or list capture (`{item:@product}`).
    List(ListId, Option<Box<str>>),
}

/// How specific a phrase is: exact words beat captures beat wildcards and regexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Specificity {
    Wildcard = 1,
    Captures = 2,
    Exact = 3,
}

pub(crate) fn specificity(elements: &[Element]) -> Specificity {
    if elements.iter().any(|e| matches!(e, Element::Wildcard | Element::Text(_))) {
        Specificity::Wildcard
    } else if elements.iter().any(|e| matches!(e, Element::Typed(..) | Element::List(..))) {
        Specificity::Captures
    } else {
        Specificity::Exact
    }
}

/// What expansion needs: list names, the name table to number words in, accent folding.
pub(crate) struct Expander<'a> {
    pub lists: &'a HashMap<String, ListId>,
    pub names: &'a mut NameTable,
    pub fold: bool,
}

impl Expander<'_> {
    /// Multiplies out alternatives and optional words into plain sequences.
    pub(crate) fn expand(&mut self, parts: &[PhrasePart]) -> Vec<Vec<Element>> {
        let mut results: Vec<Vec<Element>> = vec![Vec::new()];
        for part in parts {
            let options: Vec<Vec<Element>> = match &part.kind {
                PhrasePartKind::Word(word) => {
                    let norm = normalise_word(word, self.fold);
                    if norm.is_empty() {
                        continue;
                    }
                    vec![vec![Element::Word(self.names.intern(&norm))]]
                }
                PhrasePartKind::Wildcard => vec![vec![Element::Wildcard]],
                PhrasePartKind::ListRef(list) => match self.lists.get(&list.name) {
                    Some(id) => vec![vec![Element::List(*id, None)]],
                    None => continue,
                },
                PhrasePartKind::Capture { name, ty } => {
                    let capture: Box<str> = name.name.as_str().into();
                    let element = match ty {
                        CaptureType::Default => Element::Text(capture),
                        CaptureType::List(list) => match self.lists.get(&list.name) {
                            Some(id) => Element::List(*id, Some(capture)),
                            None => continue,
                        },
                        CaptureType::Named(t) => match answer_kind(&t.name) {
                            Some(AnswerKind::Text) | None => Element::Text(capture),
                            Some(kind) => Element::Typed(Box::new((capture, kind))),
                        },
                    };
                    vec![vec![element]]
                }
                PhrasePartKind::Optional(inner) => {
                    let mut with = self.expand(inner);
                    with.push(Vec::new());
                    with
                }
                PhrasePartKind::Alternatives(alternatives) => {
                    alternatives.iter().flat_map(|a| self.expand(a)).collect()
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
}

/// The answer kind for a built-in type name (`digits`, `yes/no`…).
pub(crate) fn answer_kind(name: &str) -> Option<AnswerKind> {
    Some(match name {
        "text" => AnswerKind::Text,
        "word" => AnswerKind::Word,
        "digits" => AnswerKind::Digits,
        "number" => AnswerKind::Number,
        "email" => AnswerKind::Email,
        "phone" => AnswerKind::Phone,
        "date" => AnswerKind::Date,
        "time" => AnswerKind::Time,
        "datetime" => AnswerKind::DateTime,
        "yes/no" => AnswerKind::YesNo,
        _ => return None,
    })
}
