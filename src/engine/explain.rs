//! `explain`: why a message gets the answer it gets — every matching phrase with its rank, the
//! captures, which handler would run, and the rule that picked the winner. The decision is the
//! engine's own: the message is stepped through a copy of the conversation and the trace's
//! decision is read back, so `botrun why` cannot disagree with what the bot does.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::decide::{Decided, Decision};
use super::event::Event;
use super::matcher::Specificity;
use super::program::Program;
use super::state::State;
use super::step::step_traced;

/// One phrase that matched.
#[derive(Clone, Debug, PartialEq)]
pub struct ExplainedCandidate {
    pub intent: String,
    /// Exact words, captures, or wildcard/regex.
    pub kind: &'static str,
    /// Message words the phrase covers (its words, list entries, typed captures).
    pub covered: u32,
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
    /// The intent the engine matched (the winner's), if any.
    pub intent: Option<String>,
    /// The decision and the rule that made it, in words.
    pub reason: String,
}

fn kind_name(s: Specificity) -> &'static str {
    match s {
        Specificity::Exact => "exact words",
        Specificity::Captures => "words with captures or lists",
        Specificity::Wildcard => "wildcard, free-text capture or regex",
    }
}

const RANKING: &str = "Ranking: more of the message covered wins; then exact words beat captures beat wildcards; more captures filled, the whole message, fewer typos and fewer small words passed over rank higher; a state's own `when` beats `anytime`; ties go to the earlier phrase.";

/// Explains how the bot, in `state`, treats `text` — by running the engine on a copy.
pub fn explain(program: &Program, state: &State, text: &str, now: DateTime<Utc>) -> Explanation {
    let (_, _, trace) = step_traced(program, state, Event::Text { text: text.to_string() }, now);
    let Some(decided) = trace.decided else {
        let reason = trace
            .notes
            .first()
            .cloned()
            .unwrap_or_else(|| "the bot does not read this message".into());
        let state = state.position.clone();
        return Explanation { state, candidates: Vec::new(), winner: None, intent: None, reason };
    };
    explain_decided(program, &decided)
}

fn explain_decided(program: &Program, decided: &Decided) -> Explanation {
    let current = decided.state.and_then(|id| program.states.get(usize::from(id)));
    let looked_in = if decided.question { None } else { decided.state };
    let candidates: Vec<ExplainedCandidate> = decided
        .candidates
        .iter()
        .map(|c| ExplainedCandidate {
            intent: program.intents.get(usize::from(c.intent)).cloned().unwrap_or_default(),
            kind: kind_name(c.specificity),
            covered: c.covered,
            whole: c.whole,
            typos: c.typos,
            captures: c.captures.clone(),
            handler: program.handler_for(looked_in, c.intent).map(|(h, _)| h.label.clone()),
        })
        .collect();
    let (winner, reason) = match &decided.decision {
        Decision::Handler { candidate, label, during_question, .. } => {
            let w = &candidates[*candidate];
            let why = if *during_question && w.whole {
                "the whole message is an `anytime` phrase, which wins even while a question is open"
                    .to_string()
            } else if *during_question {
                "the message is no answer to the open question, and it contains an `anytime` phrase"
                    .to_string()
            } else {
                RANKING.to_string()
            };
            (
                Some(*candidate),
                format!(
                    "`{}` wins: {} (covers {} word(s){}{}), handled by `{label}`. {why}",
                    w.intent,
                    w.kind,
                    w.covered,
                    if w.whole { ", whole message" } else { "" },
                    if w.typos > 0 { format!(", {} typo(s)", w.typos) } else { String::new() },
                ),
            )
        }
        Decision::Answer { var, value } => (
            None,
            format!("the message answers the open question: `{var}` = {value} (an answer that parses beats an `anytime` phrase inside it)"),
        ),
        Decision::Retry { var } => (
            None,
            format!("the message is no answer to the open question about `{var}` and names no `anytime` intent: the retry ladder runs"),
        ),
        Decision::Otherwise if candidates.is_empty() => (
            None,
            "no phrase matches: `otherwise` runs (or the bot stays silent if the state has none)".into(),
        ),
        Decision::Otherwise => (
            None,
            "phrases match, but no handler in this state or `anytime` uses their intents: `otherwise` runs".into(),
        ),
    };
    let intent = winner.map(|i| candidates[i].intent.clone());
    Explanation { state: current.map(|s| s.name.clone()), candidates, winner, intent, reason }
}
