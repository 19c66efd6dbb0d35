//! The report as plain text for a terminal: a few headline figures, then one small table per
//! section.

use std::fmt::Write as _;

use super::figures::{Count, Figures};

/// A share as a percentage with one decimal.
pub(crate) fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// The period in words.
pub(crate) fn period(figures: &Figures) -> String {
    let day = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
    match (figures.since, figures.until) {
        (Some(since), Some(until)) => format!("from {} to {}", day(since), day(until)),
        (Some(since), None) => format!("since {}", day(since)),
        (None, Some(until)) => format!("until {}", day(until)),
        (None, None) => "everything the store keeps".to_owned(),
    }
}

fn section(out: &mut String, title: &str, rows: &[Count], empty: &str) {
    let _ = writeln!(out, "\n{title}");
    if rows.is_empty() {
        let _ = writeln!(out, "  {empty}");
        return;
    }
    let width = rows.iter().map(|r| r.name.chars().count()).max().unwrap_or(0).min(60);
    for row in rows {
        let _ = writeln!(out, "  {:<width$}  {:>6}", clip(&row.name, 60), row.count);
    }
}

/// `text` cut to `max` characters, with an ellipsis when cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The whole report as text.
pub fn render(figures: &Figures) -> String {
    let mut out = String::new();
    let bots = if figures.bots.is_empty() { "no bot".to_owned() } else { figures.bots.join(", ") };
    let _ = writeln!(out, "botrun report: {} ({bots})", period(figures));
    let _ = writeln!(out, "\n  conversations        {:>8}", figures.conversations);
    let _ = writeln!(
        out,
        "  contained            {:>8}  {} (resolved by the bot, no person)",
        figures.contained,
        percent(figures.containment)
    );
    let _ = writeln!(out, "  handed off           {:>8}", figures.handed_off);
    let _ = writeln!(out, "  open                 {:>8}  (neither, yet)", figures.open);
    let _ = writeln!(out, "  customer messages    {:>8}", figures.customer_messages);
    let _ = writeln!(
        out,
        "  missed               {:>8}  {} of customer messages",
        figures.missed,
        percent(figures.miss_rate)
    );
    section(&mut out, "Handoffs by reason", &figures.handoffs_by_reason, "no handoffs");
    section(&mut out, "Rules that handed off", &figures.handoff_rules, "no handoffs");
    section(&mut out, "Top intents", &figures.top_intents, "no intent matched");
    let _ = writeln!(out, "\nMissed messages, grouped by similarity");
    if figures.missed_groups.groups.is_empty() {
        let _ = writeln!(out, "  none with words kept");
    }
    for group in &figures.missed_groups.groups {
        let _ = writeln!(out, "  {:>6}  {}", group.count, clip(&group.example, 70));
        for message in group.messages.iter().skip(1).take(3) {
            let _ = writeln!(out, "          · {} ({})", clip(&message.text, 64), message.count);
        }
        if group.messages.len() > 4 {
            let _ = writeln!(out, "          · … {} more wordings", group.messages.len() - 4);
        }
    }
    if figures.missed_without_words > 0 {
        let _ = writeln!(
            out,
            "  ({} missed without words kept: attachments, or `decisions.customer_text` kept none)",
            figures.missed_without_words
        );
    }
    let _ = writeln!(out, "\nQuestions whose answers were refused");
    if figures.questions.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for q in &figures.questions {
        let state = q.state.as_deref().map_or(String::new(), |s| format!(" in {s}"));
        let _ = writeln!(
            out,
            "  {}{state}: {} refused, retries ran out {} time(s)",
            q.question, q.refused, q.exhausted
        );
    }
    section(&mut out, "Timeouts", &figures.timeouts, "none");
    out
}
