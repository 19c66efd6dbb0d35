//! The report's figures, computed from decision records. Definitions (docs/report.md says the
//! same for users):
//!
//! - a **conversation** is a conversation key with at least one record in the period;
//! - it was **handed off** when any of its records is a handoff, **contained** when the bot
//!   resolved it and never handed it off, and **open** otherwise (still going, abandoned, or
//!   closed by someone else); containment is contained ÷ conversations;
//! - a **customer message** is a text, button or attachment the bot read; it was **missed** when
//!   no rule understood it (the state's `otherwise` ran, or silence).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::grouping::{self, Grouped};
use super::{HandoffReason, Outcome};
use crate::store::StoredDecision;

/// A name and how often it came.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Count {
    pub name: String,
    pub count: u64,
}

/// A question whose answers were refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuestionFigures {
    /// The question's variable, e.g. `target`.
    pub question: String,
    /// The state it was asked in.
    pub state: Option<String>,
    /// Answers refused (each one retry).
    pub refused: u64,
    /// Times its retries ran out.
    pub exhausted: u64,
    /// Some refused answers, most frequent first (when the words were kept).
    pub samples: Vec<Count>,
}

/// One day's figures, for the chart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Day {
    pub date: NaiveDate,
    pub conversations: u64,
    pub messages: u64,
    pub missed: u64,
    pub handoffs: u64,
}

/// Everything `botrun report` shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figures {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub bots: Vec<String>,
    /// Engine steps recorded.
    pub turns: u64,
    pub conversations: u64,
    pub contained: u64,
    pub handed_off: u64,
    pub open: u64,
    /// contained ÷ conversations (0 without conversations).
    pub containment: f64,
    pub customer_messages: u64,
    pub missed: u64,
    /// missed ÷ customer messages.
    pub miss_rate: f64,
    /// Misses whose words were not kept (the service's `decisions.customer_text`), or were
    /// attachments without words.
    pub missed_without_words: u64,
    /// Handoffs (not conversations) by reason, most first.
    pub handoffs_by_reason: Vec<Count>,
    /// The rules that handed off, most first.
    pub handoff_rules: Vec<Count>,
    pub top_intents: Vec<Count>,
    pub missed_groups: Grouped,
    /// Questions with refused answers, most exhausted first.
    pub questions: Vec<QuestionFigures>,
    /// Timeouts (question `timeout`s and idle timers) by rule and state, most first.
    pub timeouts: Vec<Count>,
    pub outcomes: Vec<Count>,
    pub days: Vec<Day>,
}

/// Distinct messages a group lists (its count covers them all).
const MESSAGES_PER_GROUP: usize = 10;

/// The words of every missed message (one entry per occurrence), for grouping or export.
pub(crate) fn missed_texts(records: &[StoredDecision]) -> impl Iterator<Item = &str> {
    records
        .iter()
        .filter(|d| d.record.missed)
        .filter_map(|d| d.record.text.as_deref())
        .filter(|t| !t.trim().is_empty())
}

/// The missed messages as `botrun replay` reads them: one per line, every occurrence, largest
/// group first so similar messages sit together; line breaks inside a message become spaces.
pub(crate) fn replay_lines(records: &[StoredDecision]) -> String {
    let grouped = grouping::group(missed_texts(records));
    let mut out = String::new();
    for group in &grouped.groups {
        for message in &group.messages {
            let line = message.text.replace(['\r', '\n'], " ");
            for _ in 0..message.count {
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    out
}

/// Keeps the `top` largest counts, largest first (ties by name).
fn ranked(counts: HashMap<String, u64>, top: usize) -> Vec<Count> {
    let mut list: Vec<Count> =
        counts.into_iter().map(|(name, count)| Count { name, count }).collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    list.truncate(top);
    list
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    #[expect(clippy::cast_precision_loss, reason = "a share tolerates rounding")]
    let ratio = part as f64 / whole as f64;
    ratio
}

/// A question's refused answers, times its retries ran out, and the refused words.
type Refusals = (u64, u64, HashMap<String, u64>);

/// What a conversation came to.
#[derive(Default)]
struct Fate {
    handed_off: bool,
    resolved: bool,
    first_day: Option<NaiveDate>,
}

/// Computes the figures of `records` (oldest first); lists keep at most `top` entries.
pub fn compute(
    records: &[StoredDecision],
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    top: usize,
) -> Figures {
    let mut fates: BTreeMap<&str, Fate> = BTreeMap::new();
    let mut bots: Vec<String> = Vec::new();
    let (mut customer_messages, mut missed, mut missed_without_words) = (0, 0, 0);
    let mut reasons: HashMap<String, u64> = HashMap::new();
    let mut rules: HashMap<String, u64> = HashMap::new();
    let mut intents: HashMap<String, u64> = HashMap::new();
    let mut timeouts: HashMap<String, u64> = HashMap::new();
    let mut outcomes: HashMap<String, u64> = HashMap::new();
    let mut questions: BTreeMap<(String, Option<String>), Refusals> = BTreeMap::new();
    let mut days: BTreeMap<NaiveDate, Day> = BTreeMap::new();
    for stored in records {
        let record = &stored.record;
        if !bots.contains(&record.bot) {
            bots.push(record.bot.clone());
        }
        let date = record.at.date_naive();
        let day = days.entry(date).or_insert(Day {
            date,
            conversations: 0,
            messages: 0,
            missed: 0,
            handoffs: 0,
        });
        let fate = fates.entry(stored.conversation.as_str()).or_default();
        if fate.first_day.is_none() {
            fate.first_day = Some(date);
            day.conversations += 1;
        }
        let outcome = Outcome::parse(&record.outcome);
        *outcomes.entry(outcome.as_str().to_owned()).or_default() += 1;
        if matches!(record.event.as_str(), "message" | "button" | "attachment") {
            customer_messages += 1;
            day.messages += 1;
        }
        if record.missed {
            missed += 1;
            day.missed += 1;
            if record.text.as_deref().is_none_or(|t| t.trim().is_empty()) {
                missed_without_words += 1;
            }
        }
        if let Some(intent) = &record.intent {
            *intents.entry(intent.clone()).or_default() += 1;
        }
        let exhausted = outcome == Outcome::RetriesExhausted
            || record.reason.as_deref() == Some(HandoffReason::RetriesExhausted.as_str());
        if let Some(question) = &record.question {
            let key = (question.clone(), record.state_before.clone());
            let entry = questions.entry(key).or_default();
            entry.0 += 1;
            entry.1 += u64::from(exhausted);
            if let Some(text) = &record.text {
                *entry.2.entry(text.clone()).or_default() += 1;
            }
        }
        let timed_out = outcome == Outcome::Timeout
            || record.reason.as_deref() == Some(HandoffReason::Timeout.as_str());
        if timed_out {
            let rule = record.rule.as_deref().unwrap_or("timeout");
            let place =
                record.state_before.as_deref().map_or(String::new(), |s| format!(" in {s}"));
            *timeouts.entry(format!("{rule}{place}")).or_default() += 1;
        }
        match outcome {
            Outcome::Handoff => {
                fate.handed_off = true;
                day.handoffs += 1;
                let reason = HandoffReason::parse(record.reason.as_deref().unwrap_or(""));
                *reasons.entry(reason.as_str().to_owned()).or_default() += 1;
                let rule = record.rule.clone().unwrap_or_else(|| "(no rule)".to_owned());
                *rules.entry(rule).or_default() += 1;
            }
            Outcome::Resolved => fate.resolved = true,
            _ => {}
        }
    }
    let conversations = fates.len() as u64;
    let handed_off = fates.values().filter(|f| f.handed_off).count() as u64;
    let contained = fates.values().filter(|f| f.resolved && !f.handed_off).count() as u64;
    let mut questions: Vec<QuestionFigures> = questions
        .into_iter()
        .map(|((question, state), (refused, exhausted, samples))| QuestionFigures {
            question,
            state,
            refused,
            exhausted,
            samples: ranked(samples, 5),
        })
        .collect();
    questions.sort_by(|a, b| b.exhausted.cmp(&a.exhausted).then(b.refused.cmp(&a.refused)));
    questions.truncate(top);
    let mut missed_groups = grouping::group(missed_texts(records));
    missed_groups.groups.truncate(top);
    for group in &mut missed_groups.groups {
        group.messages.truncate(MESSAGES_PER_GROUP);
    }
    Figures {
        since,
        until,
        bots,
        turns: records.len() as u64,
        conversations,
        contained,
        handed_off,
        open: conversations - contained - handed_off,
        containment: share(contained, conversations),
        customer_messages,
        missed,
        miss_rate: share(missed, customer_messages),
        missed_without_words,
        handoffs_by_reason: ranked(reasons, HandoffReason::ALL.len()),
        handoff_rules: ranked(rules, top),
        top_intents: ranked(intents, top),
        missed_groups,
        questions,
        timeouts: ranked(timeouts, top),
        outcomes: ranked(outcomes, Outcome::ALL.len()),
        days: days.into_values().collect(),
    }
}
