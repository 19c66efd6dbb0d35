//! Decision records: what the bot decided in each engine step, read from the engine's own trace
//! (the same decision `botrun why` shows, never a second matcher), committed with the turn and
//! counted in the per-bot metrics. `botrun report` reads them back (`crate::report`).
//!
//! Outcomes and handoff reasons are small fixed vocabularies, so reports and metric labels stay
//! bounded whatever the bots say.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::engine::{Action, Decision, Event, State, Trace};
use crate::report::{HandoffReason, Outcome};
use crate::store::DecisionRecord;

/// `decisions:` in `botrun.yaml`: what the records keep of the customer's words.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionsConfig {
    pub customer_text: CustomerText,
}

/// Which customer messages a decision record keeps the words of.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CustomerText {
    /// Only messages the bot did not understand: misses and refused answers (what an author
    /// needs to improve the bot).
    #[default]
    Missed,
    /// Every customer message.
    All,
    /// None: the report counts misses but cannot show or group them.
    None,
}

/// One engine step, as the turn function saw it.
pub(crate) struct Step<'a> {
    pub bot: &'a str,
    /// The conversation's state before the step.
    pub before: Option<&'a str>,
    pub event: &'a Event,
    pub after: &'a State,
    pub actions: &'a [Action],
    pub trace: &'a Trace,
    pub at: DateTime<Utc>,
}

/// The record of `step`, or `None` when the bot did nothing at all (a stale timer, a message
/// while a person has the conversation).
pub(crate) fn describe(step: &Step<'_>, keep: CustomerText) -> Option<DecisionRecord> {
    let trace = step.trace;
    let decision = trace.decided.as_ref().map(|d| &d.decision);
    let acted = step
        .actions
        .iter()
        .any(|a| !matches!(a, Action::ScheduleTimer { .. } | Action::CancelTimer { .. }));
    if decision.is_none() && trace.handlers.is_empty() && !acted {
        return None;
    }
    let customer =
        matches!(step.event, Event::Text { .. } | Event::Button { .. } | Event::Attachment { .. });
    let missed = customer && matches!(decision, Some(Decision::Otherwise));
    let question = match decision {
        Some(Decision::Retry { var }) => Some(var.clone()),
        _ => None,
    };
    let note = step.actions.iter().find_map(|a| match a {
        Action::Handoff { note } => Some(note.clone()),
        _ => None,
    });
    let ran = |prefix: &str| trace.handlers.iter().any(|h| h.starts_with(prefix));
    let exhausted =
        trace.handlers.iter().any(|h| h.starts_with("after ") && h.ends_with(" retries"));
    let timed_out = ran("timeout ") || ran("idle ");
    let outcome = if note.is_some() {
        Outcome::Handoff
    } else if step.actions.iter().any(|a| matches!(a, Action::Resolve)) {
        Outcome::Resolved
    } else if exhausted {
        Outcome::RetriesExhausted
    } else if question.is_some() {
        Outcome::Retry
    } else if missed {
        Outcome::Missed
    } else if timed_out {
        Outcome::Timeout
    } else if matches!(step.event, Event::Started { .. }) {
        Outcome::Started
    } else if decision.is_some() || acted {
        Outcome::Answered
    } else {
        Outcome::Other
    };
    let reason = note.as_ref().map(|note| {
        if note.as_deref().is_some_and(|n| n.starts_with("bot stopped:")) {
            HandoffReason::StepLimit
        } else if exhausted {
            HandoffReason::RetriesExhausted
        } else if timed_out {
            HandoffReason::Timeout
        } else if missed {
            HandoffReason::Missed
        } else if matches!(decision, Some(Decision::Handler { .. })) {
            HandoffReason::Asked
        } else {
            HandoffReason::Flow
        }
    });
    let words = match step.event {
        Event::Text { text } => Some(text),
        Event::Button { value } => Some(value),
        _ => None,
    };
    let not_understood = missed || question.is_some();
    let text = words.filter(|_| match keep {
        CustomerText::All => true,
        CustomerText::Missed => not_understood,
        CustomerText::None => false,
    });
    Some(DecisionRecord {
        bot: step.bot.to_owned(),
        at: step.at,
        event: event_name(step.event).to_owned(),
        text: text.map(|t| kept_words(t)),
        intent: trace.intent.clone(),
        missed,
        question,
        state_before: step.before.map(str::to_owned),
        state_after: step.after.current_state().map(str::to_owned),
        outcome: outcome.as_str().to_owned(),
        rule: rule(trace, decision),
        reason: reason.map(|r| r.as_str().to_owned()),
        note: note.flatten(),
    })
}

/// Characters of a customer message a record keeps: enough to read and group what people ask,
/// without a pasted log file growing the store turn by turn.
pub(crate) const KEPT_CHARS: usize = 500;

fn kept_words(text: &str) -> String {
    match text.char_indices().nth(KEPT_CHARS) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text.to_owned(),
    }
}

/// The rule that decided: the matched handler, else the first that ran and is no hook.
fn rule(trace: &Trace, decision: Option<&Decision>) -> Option<String> {
    if let Some(Decision::Handler { label, .. }) = decision {
        return Some(label.clone());
    }
    let hook =
        |h: &&String| matches!(h.as_str(), "on start" | "on return" | "on handoff" | "on resolve");
    trace.handlers.iter().find(|h| !hook(h)).or_else(|| trace.handlers.first()).cloned()
}

fn event_name(event: &Event) -> &'static str {
    match event {
        Event::Started { .. } => "start",
        Event::Text { .. } => "message",
        Event::Button { .. } => "button",
        Event::Attachment { .. } => "attachment",
        Event::TimerDue { .. } => "timer",
        Event::HandedBack => "handback",
        Event::ResolvedElsewhere => "resolved_elsewhere",
        Event::Reopened => "reopened",
        Event::FetchDone { .. } => "fetch",
    }
}
