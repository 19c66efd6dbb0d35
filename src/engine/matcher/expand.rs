//! Expansion: a phrase's alternatives and optional words multiplied out into plain sequences of
//! elements, its words numbered through the name table.

use rustc_hash::FxHashMap as HashMap;

use crate::syntax::ast::{CaptureType, PhrasePart, PhrasePartKind};

use super::super::program::{AnswerKind, ListId};
use super::super::text::normalise_word;
use super::names::{NameTable, WordId};

/// Most sequences one phrase may expand into; more is cut (and `botrun why` shows fewer).
pub(crate) const MAX_EXPANSIONS: usize = 256;

/// One step of a plain sequence. Eight bytes: capture names live in [`Captures`], so a
/// sequence's elements take one cache line, not three (a sequence is walked from memory that may
/// not be in cache).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Element {
    Word(WordId),
    Wildcard,
    /// A free-text capture (one or more words), by its slot in [`Captures`].
    Text(Slot),
    /// A typed capture (`digits`, `date`…), by its slot (which has the type).
    Typed(Slot),
    /// A list reference (`@product`, [`NO_SLOT`]) or list capture (`{item:@product}`).
    List(ListId, Slot),
}

/// A capture's position in [`Captures`].
pub(crate) type Slot = u32;

/// The slot of a list reference that captures nothing.
pub(crate) const NO_SLOT: Slot = Slot::MAX;

/// The names (and, for typed captures, the types) of every capture of the bot's phrases.
#[derive(Clone, Debug, Default)]
pub(crate) struct Captures {
    slots: Vec<(Box<str>, Option<AnswerKind>)>,
}

impl Captures {
    fn add(&mut self, name: &str, kind: Option<AnswerKind>) -> Slot {
        let slot = Slot::try_from(self.slots.len()).unwrap_or(NO_SLOT);
        self.slots.push((name.into(), kind));
        slot
    }

    /// The capture's name.
    pub(crate) fn name(&self, slot: Slot) -> Option<&str> {
        self.slots.get(slot as usize).map(|(name, _)| &**name)
    }

    /// A typed capture's name and type.
    pub(crate) fn typed(&self, slot: Slot) -> Option<(&str, &AnswerKind)> {
        let (name, kind) = self.slots.get(slot as usize)?;
        Some((name, kind.as_ref()?))
    }
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

/// What expansion needs: list names, the name table to number words in, the capture table,
/// accent folding.
pub(crate) struct Expander<'a> {
    pub lists: &'a HashMap<String, ListId>,
    pub names: &'a mut NameTable,
    pub captures: &'a mut Captures,
    pub fold: bool,
}

impl Expander<'_> {
    /// Multiplies out alternatives and optional words into plain sequences.
    pub(crate) fn expand(&mut self, parts: &[PhrasePart]) -> Vec<Vec<Element>> {
        let mut results: Vec<Vec<Element>> = vec![Vec::new()];
        for part in parts {
            let options: Vec<Vec<Element>> = match &part.kind {
                PhrasePartKind::Optional(inner) => {
                    let mut with = self.expand(inner);
                    with.push(Vec::new());
                    with
                }
                PhrasePartKind::Alternatives(alternatives) => {
                    alternatives.iter().flat_map(|a| self.expand(a)).collect()
                }
                single => {
                    // One option: appended to every sequence in place (there are never more
                    // than `MAX_EXPANSIONS`, so none is cut).
                    let Some(element) = self.single(single) else { continue };
                    for sequence in &mut results {
                        sequence.push(element);
                    }
                    continue;
                }
            };
            let mut next = Vec::new();
            'outer: for prefix in &results {
                for option in &options {
                    if next.len() >= MAX_EXPANSIONS {
                        break 'outer;
                    }
                    let mut joined = Vec::with_capacity(prefix.len() + option.len());
                    joined.extend_from_slice(prefix);
                    joined.extend_from_slice(option);
                    next.push(joined);
                }
            }
            results = next;
        }
        results.retain(|r| !r.is_empty());
        results
    }

    /// The element of a part that is neither optional nor alternatives; `None` for a part that
    /// adds nothing (a word that normalises to nothing, an unknown list).
    fn single(&mut self, kind: &PhrasePartKind) -> Option<Element> {
        Some(match kind {
            PhrasePartKind::Word(word) => {
                let norm = normalise_word(word, self.fold);
                if norm.is_empty() {
                    return None;
                }
                Element::Word(self.names.intern(&norm))
            }
            PhrasePartKind::Wildcard => Element::Wildcard,
            PhrasePartKind::ListRef(list) => Element::List(*self.lists.get(&list.name)?, NO_SLOT),
            PhrasePartKind::Capture { name, ty } => {
                let name = name.name.as_str();
                match ty {
                    CaptureType::Default => Element::Text(self.captures.add(name, None)),
                    CaptureType::List(list) => {
                        let id = *self.lists.get(&list.name)?;
                        Element::List(id, self.captures.add(name, None))
                    }
                    CaptureType::Named(t) => match answer_kind(&t.name) {
                        Some(AnswerKind::Text) | None => {
                            Element::Text(self.captures.add(name, None))
                        }
                        Some(kind) => Element::Typed(self.captures.add(name, Some(kind))),
                    },
                }
            }
            PhrasePartKind::Optional(_) | PhrasePartKind::Alternatives(_) => return None,
        })
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
