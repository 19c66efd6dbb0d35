//! Per-bot decision counters for `/metrics`: turns, misses, handoffs by reason, retries run
//! out, timeouts, conversations started and resolved. Labels stay bounded: bot names come from
//! the loaded bot files, at most [`MAX_BOTS`] of them are named, any further one counts as
//! `other`, and the handoff reason is one of the fixed [`HandoffReason`] words.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::report::{HandoffReason, Outcome};
use crate::store::DecisionRecord;

/// Bot names labelled separately; more than this many count under `other`.
pub(crate) const MAX_BOTS: usize = 32;

/// The label of bots past [`MAX_BOTS`].
const OTHER: &str = "other";

#[derive(Debug, Default, Clone)]
struct Counters {
    turns: u64,
    misses: u64,
    conversations: u64,
    resolves: u64,
    retries_exhausted: u64,
    timeouts: u64,
    handoffs: [u64; HandoffReason::ALL.len()],
}

/// The counters of every bot.
#[derive(Debug, Default)]
pub(crate) struct ByBot {
    bots: Mutex<BTreeMap<String, Counters>>,
}

impl ByBot {
    /// Adds one committed turn's records.
    pub fn count(&self, records: &[DecisionRecord]) {
        if records.is_empty() {
            return;
        }
        let mut bots = self.bots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for record in records {
            let label = if bots.contains_key(&record.bot) || bots.len() < MAX_BOTS {
                record.bot.clone()
            } else {
                OTHER.to_owned()
            };
            let counters = bots.entry(label).or_default();
            let outcome = Outcome::parse(&record.outcome);
            let reason = record.reason.as_deref().map(HandoffReason::parse);
            counters.turns += 1;
            counters.misses += u64::from(record.missed);
            counters.conversations += u64::from(record.event == "start");
            counters.resolves += u64::from(outcome == Outcome::Resolved);
            counters.retries_exhausted += u64::from(
                outcome == Outcome::RetriesExhausted
                    || reason == Some(HandoffReason::RetriesExhausted),
            );
            counters.timeouts +=
                u64::from(outcome == Outcome::Timeout || reason == Some(HandoffReason::Timeout));
            if outcome == Outcome::Handoff {
                let reason = reason.unwrap_or(HandoffReason::Flow);
                if let Some(i) = HandoffReason::ALL.iter().position(|r| *r == reason) {
                    counters.handoffs[i] += 1;
                }
            }
        }
    }

    /// Appends the Prometheus text of every counter.
    pub fn render(&self, out: &mut String) {
        let bots = self.bots.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        type Read = fn(&Counters) -> u64;
        let families: [(&str, &str, Read); 6] = [
            ("botrun_bot_turns_total", "engine steps that decided something", |c| c.turns),
            ("botrun_bot_misses_total", "customer messages no rule understood", |c| c.misses),
            ("botrun_bot_conversations_total", "conversations the bot started", |c| {
                c.conversations
            }),
            ("botrun_bot_resolves_total", "conversations the bot finished itself", |c| c.resolves),
            ("botrun_bot_retries_exhausted_total", "questions whose retries ran out", |c| {
                c.retries_exhausted
            }),
            ("botrun_bot_timeouts_total", "question timeouts and idle timers that ran", |c| {
                c.timeouts
            }),
        ];
        for (name, help, read) in families {
            let _ = writeln!(out, "# HELP {name} {help}, by bot\n# TYPE {name} counter");
            for (bot, counters) in &bots {
                let _ = writeln!(out, "{name}{{bot=\"{}\"}} {}", escape(bot), read(counters));
            }
        }
        let name = "botrun_bot_handoffs_total";
        let _ = writeln!(
            out,
            "# HELP {name} conversations handed to a person, by bot and reason\n# TYPE {name} counter"
        );
        for (bot, counters) in &bots {
            for (reason, count) in HandoffReason::ALL.iter().zip(counters.handoffs) {
                let _ = writeln!(
                    out,
                    "{name}{{bot=\"{}\",reason=\"{}\"}} {count}",
                    escape(bot),
                    reason.as_str()
                );
            }
        }
    }
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(bot: &str, outcome: &str, reason: Option<&str>) -> DecisionRecord {
        DecisionRecord {
            bot: bot.to_owned(),
            outcome: outcome.to_owned(),
            reason: reason.map(str::to_owned),
            ..DecisionRecord::default()
        }
    }

    #[test]
    fn bot_labels_stop_at_the_cap_and_reasons_stay_in_their_set() {
        let by_bot = ByBot::default();
        for n in 0..MAX_BOTS + 5 {
            by_bot.count(&[record(&format!("bot {n}"), "answered", None)]);
        }
        // A bot already labelled keeps its label after the cap is reached.
        by_bot.count(&[record("bot 0", "handoff", Some("made up by a newer botrun"))]);
        let mut out = String::new();
        by_bot.render(&mut out);
        let turns: Vec<&str> =
            out.lines().filter(|l| l.starts_with("botrun_bot_turns_total{")).collect();
        assert_eq!(turns.len(), MAX_BOTS + 1, "{turns:?}");
        assert!(turns.contains(&"botrun_bot_turns_total{bot=\"other\"} 5"), "{turns:?}");
        assert!(turns.contains(&"botrun_bot_turns_total{bot=\"bot 0\"} 2"), "{turns:?}");
        assert!(out.contains("botrun_bot_handoffs_total{bot=\"bot 0\",reason=\"flow\"} 1"));
        let reasons = out.lines().filter(|l| l.starts_with("botrun_bot_handoffs_total{")).count();
        assert_eq!(reasons, (MAX_BOTS + 1) * HandoffReason::ALL.len());
    }

    #[test]
    fn label_values_are_escaped() {
        let by_bot = ByBot::default();
        by_bot.count(&[record("Acme \"Help\"\\\nDesk", "answered", None)]);
        let mut out = String::new();
        by_bot.render(&mut out);
        assert!(out.contains(r#"botrun_bot_turns_total{bot="Acme \"Help\"\\\nDesk"} 1"#), "{out}");
    }
}
