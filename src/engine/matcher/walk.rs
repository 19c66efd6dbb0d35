//! Matching one plain sequence against a read message: a bounded backtracking walk that lets
//! small words stand between the phrase's words, takes a list's longest entry, tries typed
//! captures longest first, and lets a free-text capture take the rest of the message at the end
//! of a phrase and, in the middle, the words up to the next thing the phrase expects.

use serde_json::Value;

use super::super::answers::{parse_answer, AnswerContext};
use super::super::program::ListDef;
use super::expand::{Captures, Element, NO_SLOT};
use super::lists::ListIndex;
use super::message::Message;

/// Backtracking steps allowed per sequence and message, so `* * * *` cannot explode.
const MAX_STEPS: usize = 20_000;
/// A typed capture (`{when:date}`) spans at most this many words.
const MAX_TYPED_WORDS: usize = 6;

/// How well a sequence matched, from one start word.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Walked {
    pub start: usize,
    pub end: usize,
    /// Message words matched by the phrase's words, list entries and typed captures.
    pub covered: u32,
    /// Message words taken by wildcards and free-text captures.
    pub loose: u32,
    /// Small words passed over between the phrase's words.
    pub skipped: u32,
    pub typos: u32,
    pub captures: Vec<(String, Value)>,
}

pub(crate) struct Walk<'a> {
    pub elements: &'a [Element],
    pub captures: &'a Captures,
    pub message: &'a Message,
    pub text: &'a str,
    pub lists: &'a [ListIndex],
    pub cx: &'a AnswerContext<'a>,
    pub steps: usize,
    pub now: Walked,
}

impl Walk<'_> {
    /// Walks from message word `start`; the result is in `self.now` when it returns true.
    pub(crate) fn from(&mut self, start: usize) -> bool {
        self.now = Walked { start, ..Walked::default() };
        match self.element(0, start) {
            Some(end) => {
                self.now.end = end;
                true
            }
            None => false,
        }
    }

    pub(crate) fn exhausted(&self) -> bool {
        self.steps > MAX_STEPS
    }

    /// Matches `elements[ei..]` from word `ti`, letting small words stand before any element
    /// but the first; returns the end word.
    fn element(&mut self, ei: usize, ti: usize) -> Option<usize> {
        let mut at = ti;
        loop {
            if let Some(end) = self.here(ei, at) {
                self.now.skipped += u32::try_from(at - ti).unwrap_or(0);
                return Some(end);
            }
            let may_skip = ei > 0
                && ei < self.elements.len()
                && !matches!(self.elements[ei], Element::Wildcard | Element::Text(_))
                && self.message.words.get(at).is_some_and(|w| w.small);
            if !may_skip || self.exhausted() {
                return None;
            }
            at += 1;
        }
    }

    fn here(&mut self, ei: usize, ti: usize) -> Option<usize> {
        self.steps += 1;
        if self.exhausted() {
            return None;
        }
        let Some(element) = self.elements.get(ei) else { return Some(ti) };
        let words = self.message.words.len();
        match element {
            Element::Word(id) => {
                let typos = self.message.reads_as(ti, *id)?;
                self.advance(ei, ti, 1, typos, 0, None)
            }
            Element::List(list, slot) => {
                let found = self.lists.get(usize::from(*list))?.at(self.message, ti)?;
                let value = match *slot {
                    NO_SLOT => None,
                    slot => {
                        let name = self.captures.name(slot)?;
                        let def: &ListDef = self.cx.lists.get(usize::from(*list))?;
                        let stored = def.entries.get(found.row as usize)?.0.clone();
                        Some((name, Value::String(stored)))
                    }
                };
                self.advance(ei, ti, found.len, found.typos, 0, value)
            }
            Element::Typed(slot) => {
                let (name, kind) = self.captures.typed(*slot)?;
                let longest = MAX_TYPED_WORDS.min(words.saturating_sub(ti));
                for len in (1..=longest).rev() {
                    let slice = self.slice(ti, len)?;
                    let Some(value) = parse_answer(kind, slice, self.cx) else { continue };
                    if let Some(end) = self.advance(ei, ti, len, 0, 0, Some((name, value))) {
                        return Some(end);
                    }
                }
                None
            }
            Element::Wildcard | Element::Text(_) => {
                let rest = words.saturating_sub(ti);
                let last = ei + 1 == self.elements.len();
                let lengths = if last { rest..=rest } else { 1..=rest };
                for len in lengths {
                    if len == 0 {
                        break;
                    }
                    let value = match element {
                        Element::Text(slot) => Some((
                            self.captures.name(*slot)?,
                            Value::String(self.slice(ti, len)?.to_string()),
                        )),
                        _ => None,
                    };
                    if let Some(end) = self.advance(ei, ti, 0, 0, len, value) {
                        return Some(end);
                    }
                    if self.exhausted() {
                        return None;
                    }
                }
                None
            }
        }
    }

    /// Takes `covered + loose` words at `ti` and matches the rest; undoes its counts on failure.
    fn advance(
        &mut self,
        ei: usize,
        ti: usize,
        covered: usize,
        typos: u32,
        loose: usize,
        capture: Option<(&str, Value)>,
    ) -> Option<usize> {
        let saved = (self.now.covered, self.now.loose, self.now.skipped, self.now.typos);
        let pushed = capture.is_some();
        if let Some((name, value)) = capture {
            self.now.captures.push((name.to_string(), value));
        }
        self.now.covered += u32::try_from(covered).unwrap_or(0);
        self.now.loose += u32::try_from(loose).unwrap_or(0);
        self.now.typos += typos;
        let result = self.element(ei + 1, ti + covered + loose);
        if result.is_none() {
            (self.now.covered, self.now.loose, self.now.skipped, self.now.typos) = saved;
            if pushed {
                self.now.captures.pop();
            }
        }
        result
    }

    /// The original text of `len` words from word `ti`.
    fn slice(&self, ti: usize, len: usize) -> Option<&str> {
        let first = self.message.words.get(ti)?;
        let last = self.message.words.get(ti + len - 1)?;
        self.text.get(first.start..last.end)
    }
}
