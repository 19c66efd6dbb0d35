//! Replaying real traffic: each customer message is the first message of a fresh conversation
//! (or one that starts in a chosen state), stepped through the engine once. What it did is
//! classified (answered, missed, handoff, resolve, other) and tallied for a summary: the answered
//! share, the most frequent missed messages, and the ambiguous ones (two intents ranked equal).

use std::io::Write;

use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap as HashMap;
use serde_json::Value;

use crate::engine::{step_traced, Action, Decided, Decision, Event, Program, State};

/// What one message led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An intent's handler ran, or the message answered an open question.
    Answered,
    /// Nothing matched (`otherwise`, silence) or the question's answer was refused.
    Missed,
    Handoff,
    Resolve,
    /// The bot did not read the message (a person has the conversation, a fetch is pending).
    Other,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Missed => "missed",
            Outcome::Handoff => "handoff",
            Outcome::Resolve => "resolve",
            Outcome::Other => "other",
        }
    }
}

/// The result of one message.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Replayed {
    pub intent: Option<String>,
    pub captures: Vec<(String, Value)>,
    pub outcome: Outcome,
    /// Another intent ranked equal with the winner.
    pub ambiguous: bool,
}

/// Steps `message` from `start` and says what happened.
pub(crate) fn replay_one(
    program: &Program,
    start: &State,
    message: &str,
    now: DateTime<Utc>,
) -> Replayed {
    let (_, actions, trace) =
        step_traced(program, start, Event::Text { text: message.to_string() }, now);
    let mut outcome = match trace.decided.as_ref().map(|d| &d.decision) {
        Some(Decision::Handler { .. } | Decision::Answer { .. }) => Outcome::Answered,
        Some(Decision::Retry { .. } | Decision::Otherwise) => Outcome::Missed,
        None => Outcome::Other,
    };
    for action in &actions {
        match action {
            Action::Handoff { .. } => outcome = Outcome::Handoff,
            Action::Resolve if outcome != Outcome::Handoff => outcome = Outcome::Resolve,
            _ => {}
        }
    }
    let (captures, ambiguous) = match &trace.decided {
        Some(decided) => (winner_captures(decided), ambiguous(decided)),
        None => (Vec::new(), false),
    };
    Replayed { intent: trace.intent, captures, outcome, ambiguous }
}

fn winner_captures(decided: &Decided) -> Vec<(String, Value)> {
    match &decided.decision {
        Decision::Handler { candidate, .. } => {
            decided.candidates.get(*candidate).map(|c| c.captures.clone()).unwrap_or_default()
        }
        Decision::Answer { var, value } => vec![(var.clone(), value.clone())],
        _ => Vec::new(),
    }
}

fn ambiguous(decided: &Decided) -> bool {
    let Decision::Handler { candidate, .. } = &decided.decision else { return false };
    let Some(winner) = decided.candidates.get(*candidate) else { return false };
    decided.candidates.iter().any(|c| c.intent != winner.intent && c.rank() == winner.rank())
}

/// Writes one result as a JSON line: message, intent, captures, outcome.
pub(crate) fn write_json(
    out: &mut impl Write,
    message: &str,
    replayed: &Replayed,
) -> std::io::Result<()> {
    out.write_all(b"{\"message\":")?;
    serde_json::to_writer(&mut *out, message)?;
    out.write_all(b",\"intent\":")?;
    serde_json::to_writer(&mut *out, &replayed.intent)?;
    out.write_all(b",\"captures\":{")?;
    for (i, (name, value)) in replayed.captures.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, name)?;
        out.write_all(b":")?;
        serde_json::to_writer(&mut *out, value)?;
    }
    out.write_all(b"},\"outcome\":\"")?;
    out.write_all(replayed.outcome.name().as_bytes())?;
    out.write_all(b"\"}\n")
}

/// Distinct messages remembered for the summary; past this only known ones are counted, so
/// memory stays bounded on millions of lines.
const REMEMBERED: usize = 100_000;

/// Counts for the summary.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub total: u64,
    counts: [u64; 5],
    missed: HashMap<String, u64>,
    ambiguous: HashMap<String, u64>,
}

impl Tally {
    pub(crate) fn add(&mut self, message: &str, replayed: &Replayed) {
        self.total += 1;
        self.counts[replayed.outcome as usize] += 1;
        if replayed.outcome == Outcome::Missed {
            remember(&mut self.missed, message);
        }
        if replayed.ambiguous {
            remember(&mut self.ambiguous, message);
        }
    }

    pub fn count(&self, outcome: Outcome) -> u64 {
        self.counts[outcome as usize]
    }

    /// The human summary: shares, then the most frequent missed and ambiguous messages.
    pub fn summary(&self, top: usize) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        #[expect(clippy::cast_precision_loss, reason = "a percentage needs no 53-bit precision")]
        let share = |n: u64| 100.0 * n as f64 / self.total.max(1) as f64;
        let _ = writeln!(
            out,
            "{} messages: {:.1}% answered ({}), {:.1}% missed ({}), {} handoff, {} resolve, {} other",
            self.total,
            share(self.count(Outcome::Answered)),
            self.count(Outcome::Answered),
            share(self.count(Outcome::Missed)),
            self.count(Outcome::Missed),
            self.count(Outcome::Handoff),
            self.count(Outcome::Resolve),
            self.count(Outcome::Other),
        );
        for (title, table) in [("top missed", &self.missed), ("ambiguous", &self.ambiguous)] {
            if table.is_empty() {
                continue;
            }
            let mut rows: Vec<(&String, &u64)> = table.iter().collect();
            rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let _ = writeln!(out, "{title}:");
            for (message, count) in rows.into_iter().take(top) {
                let _ = writeln!(out, "  {count:>6}  {message}");
            }
        }
        out
    }
}

fn remember(table: &mut HashMap<String, u64>, message: &str) {
    if let Some(count) = table.get_mut(message) {
        *count += 1;
    } else if table.len() < REMEMBERED {
        table.insert(message.to_string(), 1);
    }
}
