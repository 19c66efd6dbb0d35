//! The report as one self-contained HTML page: inline CSS, charts as inline SVG, no script and
//! nothing fetched, so it opens from a file or an e-mail attachment. Every figure carries a
//! `data-figure` attribute and every bar a `data-value`, so a browser test can read them back.
//! Customer text is escaped: a message like `<script>` shows as typed.

use std::fmt::Write as _;

use super::figures::{Count, Day, Figures};
use super::table::{clip, percent, period};
use crate::graph::escape_markup as escape;

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;\
padding:0 1rem;color:#1d2430;background:#fafbfc}h1{font-size:1.5rem;margin-bottom:.2rem}\
h2{font-size:1.1rem;margin:2rem 0 .6rem;border-bottom:1px solid #dde2ea;padding-bottom:.3rem}\
.period{color:#5a6576;margin-top:0}.cards{display:flex;flex-wrap:wrap;gap:.8rem}\
.card{background:#fff;border:1px solid #dde2ea;border-radius:8px;padding:.7rem 1rem;min-width:9rem}\
.card b{display:block;font-size:1.6rem}.card span{color:#5a6576;font-size:.85rem}\
table{border-collapse:collapse;width:100%;background:#fff}td,th{text-align:left;\
padding:.35rem .6rem;border-bottom:1px solid #eef1f5;vertical-align:top}\
th{font-weight:600;color:#5a6576;font-size:.85rem}td.n{text-align:right;\
font-variant-numeric:tabular-nums;width:5rem}svg{display:block;max-width:100%;background:#fff;\
border:1px solid #dde2ea;border-radius:8px}svg text{font:12px system-ui,sans-serif;fill:#1d2430}\
.legend span{display:inline-block;margin-right:1rem;font-size:.85rem}.legend i{display:inline-block;\
width:.8rem;height:.8rem;border-radius:2px;margin-right:.3rem;vertical-align:-1px}\
.muted{color:#5a6576}details summary{cursor:pointer}ul{margin:.3rem 0;padding-left:1.2rem}";

const CONTAINED: &str = "#2e8b57";
const HANDED_OFF: &str = "#d9822b";
const OPEN: &str = "#9aa5b5";
const BAR: &str = "#3a6ea5";
const MISSED: &str = "#c0392b";

/// The whole page.
pub fn render(figures: &Figures) -> String {
    let mut out = String::new();
    let bots = escape(&figures.bots.join(", "));
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>botrun report</title><style>{STYLE}</style></head><body>\n\
         <h1>What the bots decided</h1><p class=\"period\">{} · {bots}</p>\n",
        escape(&period(figures))
    );
    cards(&mut out, figures);
    let _ = writeln!(out, "<h2>Conversations</h2>");
    containment_bar(&mut out, figures);
    let _ = writeln!(out, "<h2>By day</h2>");
    daily_chart(&mut out, &figures.days);
    let _ = writeln!(out, "<h2>Handoffs by reason</h2>");
    bar_chart(
        &mut out,
        "handoffs-by-reason",
        &figures.handoffs_by_reason,
        HANDED_OFF,
        "no handoffs",
    );
    counts_table(&mut out, "handoff-rules", "Rule that handed off", &figures.handoff_rules);
    let _ = writeln!(out, "<h2>Top intents</h2>");
    bar_chart(&mut out, "top-intents", &figures.top_intents, BAR, "no intent matched");
    missed_section(&mut out, figures);
    questions_section(&mut out, figures);
    let _ = writeln!(out, "<h2>Timeouts</h2>");
    counts_table(&mut out, "timeouts", "Timeout", &figures.timeouts);
    let _ = writeln!(
        out,
        "<p class=\"muted\">Made by <code>botrun report</code>; docs/report.md explains every \
         figure.</p></body></html>"
    );
    out
}

fn cards(out: &mut String, figures: &Figures) {
    let cards = [
        ("conversations", figures.conversations.to_string(), "conversations"),
        ("containment", percent(figures.containment), "contained (resolved by the bot)"),
        ("handed-off", figures.handed_off.to_string(), "handed to a person"),
        ("customer-messages", figures.customer_messages.to_string(), "customer messages"),
        ("missed", figures.missed.to_string(), "messages missed"),
        ("miss-rate", percent(figures.miss_rate), "of messages missed"),
    ];
    let _ = write!(out, "<div class=\"cards\">");
    for (name, value, label) in cards {
        let _ = write!(
            out,
            "<div class=\"card\"><b data-figure=\"{name}\">{value}</b><span>{label}</span></div>"
        );
    }
    let _ = writeln!(out, "</div>");
}

/// One stacked bar: contained, handed off, open.
fn containment_bar(out: &mut String, figures: &Figures) {
    let parts = [
        ("contained", figures.contained, CONTAINED),
        ("handed off", figures.handed_off, HANDED_OFF),
        ("open", figures.open, OPEN),
    ];
    let total = figures.conversations.max(1);
    let width = 600.0;
    let _ = write!(
        out,
        "<svg data-chart=\"containment\" viewBox=\"0 0 620 50\" width=\"620\" height=\"50\" \
         role=\"img\" aria-label=\"conversations: contained, handed off, open\">"
    );
    let mut x = 10.0;
    for (name, count, colour) in parts {
        #[expect(clippy::cast_precision_loss, reason = "pixels tolerate rounding")]
        let w = width * count as f64 / total as f64;
        if count > 0 {
            let _ = write!(
                out,
                "<rect data-value=\"{count}\" data-name=\"{name}\" x=\"{x:.1}\" y=\"10\" \
                 width=\"{w:.1}\" height=\"30\" fill=\"{colour}\"><title>{name}: {count}</title></rect>"
            );
        }
        x += w;
    }
    let _ = writeln!(out, "</svg>");
    let _ = write!(out, "<p class=\"legend\">");
    for (name, count, colour) in parts {
        let _ = write!(out, "<span><i style=\"background:{colour}\"></i>{name} {count}</span>");
    }
    let _ = writeln!(out, "</p>");
}

/// Horizontal bars, one per row.
fn bar_chart(out: &mut String, name: &str, rows: &[Count], colour: &str, empty: &str) {
    if rows.is_empty() {
        let _ = writeln!(out, "<p class=\"muted\" data-chart=\"{name}\">{empty}</p>");
        return;
    }
    let most = rows.iter().map(|r| r.count).max().unwrap_or(1).max(1);
    let height = rows.len() * 26 + 10;
    let _ = write!(
        out,
        "<svg data-chart=\"{name}\" viewBox=\"0 0 620 {height}\" width=\"620\" \
         height=\"{height}\" role=\"img\" aria-label=\"{name}\">"
    );
    for (i, row) in rows.iter().enumerate() {
        let y = i * 26 + 8;
        #[expect(clippy::cast_precision_loss, reason = "pixels tolerate rounding")]
        let w = (360.0 * row.count as f64 / most as f64).max(1.0);
        let label = escape(&clip(&row.name, 32));
        let _ = write!(
            out,
            "<text x=\"10\" y=\"{}\">{label}</text><rect data-value=\"{}\" data-name=\"{}\" \
             x=\"220\" y=\"{y}\" width=\"{w:.1}\" height=\"18\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{}\">{}</text>",
            y + 13,
            row.count,
            escape(&row.name),
            226.0 + w,
            y + 13,
            row.count
        );
    }
    let _ = writeln!(out, "</svg>");
}

/// Bars per day: conversations, with the missed messages beside them.
fn daily_chart(out: &mut String, days: &[Day]) {
    if days.is_empty() {
        let _ = writeln!(out, "<p class=\"muted\" data-chart=\"days\">no activity</p>");
        return;
    }
    let most = days.iter().map(|d| d.conversations.max(d.missed)).max().unwrap_or(1).max(1);
    let slot = (580 / days.len()).clamp(4, 60);
    let width = slot * days.len() + 40;
    let _ = write!(
        out,
        "<svg data-chart=\"days\" viewBox=\"0 0 {width} 170\" width=\"{width}\" height=\"170\" \
         role=\"img\" aria-label=\"conversations and missed messages per day\">"
    );
    for (i, day) in days.iter().enumerate() {
        let x = 20 + i * slot;
        let bar = (slot / 2).max(2) - 1;
        for (j, (value, colour, what)) in
            [(day.conversations, BAR, "conversations"), (day.missed, MISSED, "missed")]
                .into_iter()
                .enumerate()
        {
            #[expect(clippy::cast_precision_loss, reason = "pixels tolerate rounding")]
            let h = 130.0 * value as f64 / most as f64;
            let _ = write!(
                out,
                "<rect data-value=\"{value}\" data-name=\"{what}\" x=\"{}\" y=\"{:.1}\" \
                 width=\"{bar}\" height=\"{h:.1}\" fill=\"{colour}\"><title>{} {what}: {value}</title></rect>",
                x + j * (bar + 1),
                140.0 - h,
                day.date
            );
        }
        if days.len() <= 14 || i % (days.len() / 7).max(1) == 0 {
            let _ = write!(out, "<text x=\"{x}\" y=\"160\">{}</text>", day.date.format("%m-%d"));
        }
    }
    let _ = writeln!(out, "</svg>");
    let _ = writeln!(
        out,
        "<p class=\"legend\"><span><i style=\"background:{BAR}\"></i>conversations</span>\
         <span><i style=\"background:{MISSED}\"></i>missed messages</span></p>"
    );
}

fn counts_table(out: &mut String, name: &str, heading: &str, rows: &[Count]) {
    if rows.is_empty() {
        let _ = writeln!(out, "<p class=\"muted\" data-table=\"{name}\">none</p>");
        return;
    }
    let _ = write!(
        out,
        "<table data-table=\"{name}\"><tr><th>{heading}</th><th class=\"n\">count</th></tr>"
    );
    for row in rows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
            escape(&row.name),
            row.count
        );
    }
    let _ = writeln!(out, "</table>");
}

fn missed_section(out: &mut String, figures: &Figures) {
    let _ = writeln!(
        out,
        "<h2>Missed messages, grouped by similarity</h2><p class=\"muted\">Messages that share \
         at least half their words with a group's most frequent message join its group. \
         <code>botrun report --missed-out FILE</code> writes them for <code>botrun replay</code>.</p>"
    );
    if figures.missed_groups.groups.is_empty() {
        let _ = writeln!(out, "<p class=\"muted\" data-table=\"missed\">none with words kept</p>");
    } else {
        let _ = write!(
            out,
            "<table data-table=\"missed\"><tr><th>Group (most frequent wording)</th>\
             <th class=\"n\">count</th></tr>"
        );
        for group in &figures.missed_groups.groups {
            let _ = write!(
                out,
                "<tr data-group-count=\"{}\"><td><details><summary>{}</summary><ul>",
                group.count,
                escape(&group.example)
            );
            for message in &group.messages {
                let _ = write!(
                    out,
                    "<li>{} <span class=\"muted\">×{}</span></li>",
                    escape(&message.text),
                    message.count
                );
            }
            let _ = write!(out, "</ul></details></td><td class=\"n\">{}</td></tr>", group.count);
        }
        let _ = writeln!(out, "</table>");
    }
    if figures.missed_without_words > 0 {
        let _ = writeln!(
            out,
            "<p class=\"muted\">{} missed without words kept (attachments, or the service's \
             <code>decisions.customer_text</code> setting).</p>",
            figures.missed_without_words
        );
    }
}

fn questions_section(out: &mut String, figures: &Figures) {
    let _ = writeln!(out, "<h2>Questions whose answers were refused</h2>");
    if figures.questions.is_empty() {
        let _ = writeln!(out, "<p class=\"muted\" data-table=\"questions\">none</p>");
        return;
    }
    let _ = write!(
        out,
        "<table data-table=\"questions\"><tr><th>Question</th><th class=\"n\">refused</th>\
         <th class=\"n\">retries ran out</th><th>Answers given</th></tr>"
    );
    for q in &figures.questions {
        let state = q
            .state
            .as_deref()
            .map_or(String::new(), |s| format!(" <span class=\"muted\">in {}</span>", escape(s)));
        let samples: Vec<String> =
            q.samples.iter().map(|s| format!("{} ×{}", escape(&s.name), s.count)).collect();
        let _ = write!(
            out,
            "<tr><td><code>{}</code>{state}</td><td class=\"n\">{}</td><td class=\"n\" \
             data-exhausted=\"{}\">{}</td><td>{}</td></tr>",
            escape(&q.question),
            q.refused,
            q.exhausted,
            q.exhausted,
            samples.join(", ")
        );
    }
    let _ = writeln!(out, "</table>");
}
