//! `explain`: why a message gets the answer it gets — every matching phrase with its rank, the
//! captures, which handler would run, and the rule that picked the winner.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::answers::AnswerContext;
use super::matcher::Specificity;
use super::program::Program;
use super::state::State;
use super::text::tokenize;

/// One phrase that matched.
#[derive(Clone, Debug, PartialEq)]
pub struct ExplainedCandidate {
    pub intent: String,
    /// Exact words, captures, or wildcard/regex.
    pub kind: &'static str,
    /// Whether the phrase covers the whole message.
    pub whole: bool,
    pub typos: u32,
    pub captures: Vec<(String, Value)>,
    /// The handler that would run in the current state, if any.
    pub handler: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub state: Option<String>,
    /// Best first.
    pub candidates: Vec<ExplainedCandidate>,
    /// Index into `candidates` of the winner.
    pub winner: Option<usize>,
    /// The winner and the rule that chose it, in words.
    pub reason: String,
}

fn kind_name(s: Specificity) -> &'static str {
    match s {
        Specificity::Exact => "exact words",
        Specificity::Captures => "words with captures or lists",
        Specificity::Wildcard => "wildcard, free-text capture or regex",
    }
}

/// Explains how the bot, in `state`, would treat `text`.
pub fn explain(program: &Program, state: &State, text: &str, now: DateTime<Utc>) -> Explanation {
    let cx = AnswerContext::of(program, now);
    let tokens = tokenize(text, program.accents_ignored);
    let found = program.matcher.candidates(text, &tokens, &cx);
    let position = state.position.as_deref().and_then(|name| program.state_id(name));
    let current = position.and_then(|id| program.states.get(usize::from(id)));
    let mut candidates = Vec::new();
    let mut best: Option<(usize, _)> = None;
    for c in &found {
        let (handler, scope) = match program.handler_for(position, c.intent) {
            Some((h, own)) => (Some(h.label.clone()), u8::from(own)),
            None => (None, 0u8),
        };
        if handler.is_some() {
            let key = (c.rank(), scope);
            if best.as_ref().is_none_or(|(_, k)| key > *k) {
                best = Some((candidates.len(), key));
            }
        }
        candidates.push(ExplainedCandidate {
            intent: program.intents.get(usize::from(c.intent)).cloned().unwrap_or_default(),
            kind: kind_name(c.specificity),
            whole: c.whole,
            typos: c.typos,
            captures: c.captures.clone(),
            handler,
        });
    }
    let winner = best.map(|(i, _)| i);
    let reason = match winner {
        Some(i) => {
            let w = &candidates[i];
            format!(
                "`{}` wins: {} ({}{}), handled by `{}`. Ranking: exact words beat captures beat wildcards; a phrase covering the whole message beats a partial one; fewer typos and more words rank higher; a state's own `when` beats `anytime`; ties go to the earlier phrase.",
                w.intent,
                w.kind,
                if w.whole { "whole message" } else { "part of the message" },
                if w.typos > 0 { format!(", {} typo(s)", w.typos) } else { String::new() },
                w.handler.clone().unwrap_or_default()
            )
        }
        None if candidates.is_empty() => "no phrase matches: `otherwise` runs (or the bot stays silent if the state has none)".into(),
        None => "phrases match, but no handler in this state or `anytime` uses their intents: `otherwise` runs".into(),
    };
    Explanation { state: current.map(|s| s.name.clone()), candidates, winner, reason }
}
