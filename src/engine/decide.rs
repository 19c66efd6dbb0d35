//! The decision: what the bot does with one customer message in the conversation's state. `step`
//! acts on it and keeps it in its trace; `explain` (`botrun why`, chat's `/why`) reads it from
//! there, so the explanation is the engine's own decision, never a second opinion.
//!
//! Outside a question: the best-ranked phrase whose intent has a handler here wins (a state's own
//! `when` over `anytime` on equal rank); nothing → `otherwise`.
//! During a question (`ask`): a message that is nothing but an `anytime` phrase ("agent") runs
//! that handler; else a message that parses as the question's type is the answer; else an
//! `anytime` intent found anywhere in the message runs; else the retry ladder.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::answers::{parse_answer, AnswerContext};
use super::matcher::Candidate;
use super::program::{AnswerKind, AskOp, BlockId, Handler, Op, Program, StateId};
use super::state::{State, Waiting};

/// What the bot does with a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// A `when` or `anytime` handler runs; `candidate` indexes [`Decided::candidates`].
    Handler { candidate: usize, label: String, body: BlockId, during_question: bool },
    /// The message answers the open question.
    Answer { var: String, value: Value },
    /// The open question is not answered: the next `retry` (or `after N retries`).
    Retry { var: String },
    /// No handler here matches: the state's `otherwise`, or silence without one.
    Otherwise,
}

/// A decision and the candidates it was made from (best first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    pub candidates: Vec<Candidate>,
    pub decision: Decision,
    /// The state the message was decided in.
    pub state: Option<StateId>,
    /// Whether a question was open (only `anytime` handlers count then).
    pub question: bool,
}

/// Decides what `text` does in `state`. The text is the customer's (a numbered button already
/// replaced by its value).
pub(crate) fn decide(program: &Program, state: &State, text: &str, now: DateTime<Utc>) -> Decided {
    let cx = AnswerContext::of(program, now);
    let candidates = program.matcher.candidates(text, &cx);
    let position = state.position.as_deref().and_then(|name| program.state_id(name));
    let ask = match state.waiting {
        Waiting::Answer { block, index, .. } => ask_op(program, block, index),
        _ => None,
    };
    let Some(ask) = ask else {
        let decision = match choose(program, &candidates, position) {
            Some((candidate, handler)) => handler_decision(candidate, handler, false),
            None => Decision::Otherwise,
        };
        return Decided { candidates, decision, state: position, question: false };
    };
    let anytime = choose(program, &candidates, None);
    let decision = match anytime {
        Some((candidate, handler)) if candidates[candidate].whole => {
            handler_decision(candidate, handler, true)
        }
        _ => match answer(program, ask, text, &cx) {
            Some(value) => Decision::Answer { var: ask.var.clone(), value },
            None => match anytime {
                Some((candidate, handler)) => handler_decision(candidate, handler, true),
                None => Decision::Retry { var: ask.var.clone() },
            },
        },
    };
    Decided { candidates, decision, state: position, question: true }
}

fn handler_decision(candidate: usize, handler: &Handler, during_question: bool) -> Decision {
    Decision::Handler {
        candidate,
        label: handler.label.clone(),
        body: handler.body,
        during_question,
    }
}

/// The open question at `block[index]`.
pub(crate) fn ask_op(program: &Program, block: BlockId, index: u16) -> Option<&AskOp> {
    match program.block(block).get(usize::from(index)) {
        Some(Op::Ask(ask)) => Some(ask),
        _ => None,
    }
}

/// The message as an answer to the question, if it is one.
fn answer(program: &Program, ask: &AskOp, text: &str, cx: &AnswerContext<'_>) -> Option<Value> {
    match &ask.kind {
        AnswerKind::List(list) => {
            program.matcher.list_answer(*list, text, &program.lists).map(Value::String)
        }
        kind => parse_answer(kind, text, cx),
    }
}

/// The best candidate with a handler in `state` (or `anytime`): candidates come ranked; on an
/// equal rank a state's own `when` beats `anytime`, then the earlier phrase.
fn choose<'p>(
    program: &'p Program,
    candidates: &[Candidate],
    state: Option<StateId>,
) -> Option<(usize, &'p Handler)> {
    let mut best: Option<(usize, &Handler, bool)> = None;
    for (i, candidate) in candidates.iter().enumerate() {
        let Some((handler, own)) = program.handler_for(state, candidate.intent) else {
            continue;
        };
        match best {
            None => best = Some((i, handler, own)),
            Some((b, _, b_own)) => {
                if candidates[b].rank() == candidate.rank() && own && !b_own {
                    best = Some((i, handler, own));
                }
            }
        }
    }
    best.map(|(i, h, _)| (i, h))
}

/// Where pressing a button leads (see [`button_reaches`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Only `otherwise` (or silence) answers it.
    Nowhere,
    /// It answers the open question.
    Answer,
    /// This handler runs (its label, e.g. `state faq / when help`).
    Handler(String),
}

/// Where a button labelled `label` leads: pressed in state `state`, the handler (a `when` there or
/// an `anytime`) that takes it; pressed while a question on list `list` is open, the question
/// when the label is one of its entries, else an `anytime` handler. Decided by the engine.
pub(crate) fn button_reaches(
    program: &Program,
    state: Option<&str>,
    list: Option<&str>,
    label: &str,
) -> Reach {
    if let Some(list) = list {
        let id = program.lists.iter().position(|l| l.name == list);
        let id = id.and_then(|i| super::program::ListId::try_from(i).ok());
        if id.is_some_and(|id| program.matcher.list_answer(id, label, &program.lists).is_some()) {
            return Reach::Answer;
        }
    }
    let mut start = State::new(1);
    if let Some(name) = state {
        if !super::set_state(program, &mut start, name) {
            return Reach::Answer;
        }
    } else {
        start.mode = super::state::Mode::WithBot;
        start.began = true;
    }
    let event = super::event::Event::Button { value: label.to_string() };
    let (_, _, trace) = super::step::step_traced(program, &start, event, DateTime::UNIX_EPOCH);
    match trace.decided.map(|d| d.decision) {
        Some(Decision::Handler { label, .. }) => Reach::Handler(label),
        _ => Reach::Nowhere,
    }
}
