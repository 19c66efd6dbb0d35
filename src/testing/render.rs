//! How `botrun chat` and `botrun why` show bot output and explanations in a terminal.

use std::fmt::Write as _;

use crate::engine::{Action, Explanation, Trace};

/// One line (or a few) per customer-visible action.
pub(crate) fn render_actions(actions: &[Action]) -> String {
    let mut out = String::new();
    for action in actions {
        match action {
            Action::SendText { text } => {
                for (i, line) in text.lines().enumerate() {
                    let _ = writeln!(out, "{}{line}", if i == 0 { "bot: " } else { "     " });
                }
            }
            Action::SendButtons { buttons, .. } => {
                let labels: Vec<String> = buttons
                    .iter()
                    .enumerate()
                    .map(|(i, b)| format!("[{}] {}", i + 1, b.label))
                    .collect();
                let _ = writeln!(out, "     {}", labels.join("  "));
            }
            Action::Handoff { note } => {
                let _ = writeln!(
                    out,
                    "— handed to a person{} —",
                    note.as_ref().map(|n| format!(" (note: {n})")).unwrap_or_default()
                );
            }
            Action::Resolve => {
                let _ = writeln!(out, "— conversation resolved —");
            }
            Action::Fetch(request) => {
                let _ = writeln!(
                    out,
                    "· fetch {} {}",
                    super::conversation::method_name(request.method),
                    request.url
                );
            }
            Action::ScheduleTimer { .. } | Action::CancelTimer { .. } => {}
        }
    }
    out
}

/// A trace in words.
pub(crate) fn render_trace(trace: &Trace) -> String {
    let mut out = String::new();
    if let Some(intent) = &trace.intent {
        let _ = writeln!(out, "matched intent `{intent}`");
    }
    for handler in &trace.handlers {
        let _ = writeln!(out, "ran {handler}");
    }
    for state in &trace.states {
        let _ = writeln!(out, "went to state `{state}`");
    }
    for note in &trace.notes {
        let _ = writeln!(out, "{note}");
    }
    out
}

/// Ranked candidates, captures, and the rule that picked the winner.
pub(crate) fn render_explanation(text: &str, why: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "message: {text:?}");
    let _ = writeln!(out, "state:   {}", why.state.as_deref().unwrap_or("(none)"));
    if why.candidates.is_empty() {
        let _ = writeln!(out, "no phrase matches");
    }
    for (i, c) in why.candidates.iter().enumerate() {
        let marker = if why.winner == Some(i) { "→" } else { " " };
        let captures: Vec<String> = c.captures.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            out,
            "{marker} {}. intent `{}` — {}, covers {} word(s) of {}{}{}{}",
            i + 1,
            c.intent,
            c.kind,
            c.covered,
            if c.whole { "the whole message" } else { "part of the message" },
            if c.typos > 0 { format!(", {} typo(s)", c.typos) } else { String::new() },
            if captures.is_empty() {
                String::new()
            } else {
                format!(", captures {}", captures.join(" "))
            },
            match &c.handler {
                Some(h) => format!(" → {h}"),
                None => " (no handler here)".into(),
            }
        );
    }
    let _ = writeln!(out, "{}", why.reason);
    out
}
