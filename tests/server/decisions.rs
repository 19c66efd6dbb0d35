//! Decision records from real service turns (Flow B through the app and a SQLite file), and the
//! `botrun report` figures computed from that store: containment, handoffs by reason, intents,
//! missed messages grouped, refused questions, timeouts; `/metrics` counts the same by bot.

use botrun::report::{self, Format};
use std::sync::Arc;

use botrun::server::{Config, ManualClock};
use botrun::store::{DecisionQuery, StoredDecision};
use chrono::Duration;

use super::harness::{conversation_created, customer_message, start_time, Harness};

/// Five conversations with the order-tracking bot: one the bot finishes, one it hands off after
/// three misses, one whose question runs out of retries, one that times out, one that asks for
/// a person.
async fn five_conversations(h: &Harness) {
    let script: [(u64, &[&str]); 5] = [
        (1, &["thanks"]),
        (2, &["do you sell gift cards", "gift cards?", "Do you sell gift cards??"]),
        (3, &["where is my order", "abc", "no idea"]),
        (4, &["where is my order"]),
        (5, &["agent"]),
    ];
    for (conversation, messages) in script {
        h.post(&conversation_created(conversation)).await;
        h.settle().await;
        for text in messages {
            h.post(&customer_message(h.message_id(), conversation, text)).await;
            h.settle().await;
        }
    }
    h.clock.advance(Duration::minutes(3) + Duration::seconds(1));
    assert_eq!(h.state.fire_timers().await.unwrap(), 1, "conversation 4's question times out");
    h.settle().await;
}

async fn records(h: &Harness) -> Vec<StoredDecision> {
    h.store.decisions(&DecisionQuery::default()).await.unwrap()
}

/// The records of CX conversation `id` (stored under the key `cx:ID`).
fn of<'a>(records: &'a [StoredDecision], id: &str) -> Vec<&'a StoredDecision> {
    records.iter().filter(|d| d.conversation == format!("cx:{id}")).collect()
}

#[tokio::test]
async fn every_turn_records_what_the_bot_decided() {
    let h = Harness::new("order_tracking.bot").await;
    five_conversations(&h).await;
    check_five_conversations(&records(&h).await);
}

#[tokio::test]
async fn every_turn_records_what_the_bot_decided_on_postgres() {
    let store = crate::postgres::store_in(&crate::postgres::fresh_schema("decisions")).await;
    let clock = Arc::new(ManualClock::new(start_time()));
    let h = Harness::with_store("order_tracking.bot", Arc::new(store), Config::default(), clock);
    five_conversations(&h).await;
    check_five_conversations(&records(&h).await);
}

fn check_five_conversations(all: &[StoredDecision]) {
    assert!(all.iter().all(|d| d.record.bot == "Acme Assistant"));

    let finished: Vec<_> = of(all, "1").iter().map(|d| d.record.outcome.as_str()).collect();
    assert_eq!(finished, ["started", "resolved"]);
    let thanks = &of(all, "1")[1].record;
    assert_eq!(thanks.intent.as_deref(), Some("thanks"));
    assert_eq!(thanks.text, None, "matched words are not kept by default");
    assert_eq!(thanks.state_before.as_deref(), Some("menu"));

    let misses = of(all, "2");
    let third = &misses[3].record;
    assert!(misses[1..].iter().all(|d| d.record.missed));
    assert_eq!((misses[1].record.outcome.as_str(), third.outcome.as_str()), ("missed", "handoff"));
    assert_eq!(third.reason.as_deref(), Some("missed"));
    assert_eq!(third.note.as_deref(), Some("bot could not understand the customer"));
    assert_eq!(third.rule.as_deref(), Some("state menu / otherwise"));
    assert_eq!(third.text.as_deref(), Some("Do you sell gift cards??"));

    let asked: Vec<_> = of(all, "3")
        .iter()
        .map(|d| (d.record.outcome.clone(), d.record.question.clone(), d.record.text.clone()))
        .collect();
    assert_eq!(asked[1].0, "answered");
    assert_eq!(asked[2], ("retry".into(), Some("number".into()), Some("abc".into())));
    assert_eq!(asked[3], ("handoff".into(), Some("number".into()), Some("no idea".into())));
    assert_eq!(of(all, "3")[3].record.reason.as_deref(), Some("retries_exhausted"));
    assert_eq!(of(all, "3")[1].record.state_after.as_deref(), Some("tracking"));

    let timed_out = of(all, "4");
    let last = &timed_out.last().unwrap().record;
    assert_eq!((last.event.as_str(), last.outcome.as_str()), ("timer", "timeout"));
    assert_eq!(last.rule.as_deref(), Some("timeout 3m"));

    let person = &of(all, "5")[1].record;
    assert_eq!((person.outcome.as_str(), person.reason.as_deref()), ("handoff", Some("asked")));
    assert_eq!(person.rule.as_deref(), Some("anytime human"));
}

#[tokio::test]
async fn the_report_figures_come_from_the_stored_turns() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("serve.db").display());
    let h = Harness::with("order_tracking.bot", &url, Config::default()).await;
    five_conversations(&h).await;
    let figures = report::compute(&records(&h).await, None, None, 10);
    assert_eq!(
        (figures.conversations, figures.contained, figures.handed_off, figures.open),
        (5, 1, 3, 1)
    );
    assert!((figures.containment - 0.2).abs() < 1e-9);
    assert_eq!((figures.customer_messages, figures.missed), (9, 3));
    let reasons: Vec<(&str, u64)> =
        figures.handoffs_by_reason.iter().map(|c| (c.name.as_str(), c.count)).collect();
    assert_eq!(reasons, [("asked", 1), ("missed", 1), ("retries_exhausted", 1)]);
    let intents: Vec<(&str, u64)> =
        figures.top_intents.iter().map(|c| (c.name.as_str(), c.count)).collect();
    assert_eq!(intents, [("track", 2), ("human", 1), ("thanks", 1)]);
    let groups = &figures.missed_groups.groups;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!((groups[0].count, groups[0].messages.len()), (3, 3));
    let question = &figures.questions[0];
    assert_eq!(
        (
            question.question.as_str(),
            question.state.as_deref(),
            question.refused,
            question.exhausted
        ),
        ("number", Some("tracking"), 2, 1)
    );
    assert_eq!(figures.timeouts[0].name, "timeout 3m in tracking");

    // The same figures through the command, and the export in replay's input format.
    let html = dir.path().join("report.html");
    let missed = dir.path().join("missed.txt");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_botrun"))
        .args(["report", "--store", &url, "--format", "html", "-o"])
        .arg(&html)
        .arg("--missed-out")
        .arg(&missed)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("data-figure=\"conversations\">5<"), "{page}");
    assert!(page.contains("<svg data-chart=\"handoffs-by-reason\""));
    assert!(!page.contains("<script"), "no script on the page");
    let lines = std::fs::read_to_string(&missed).unwrap();
    assert_eq!(lines.lines().count(), 3, "{lines}");
    let replayed = std::process::Command::new(env!("CARGO_BIN_EXE_botrun"))
        .arg("replay")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bots/order_tracking.bot"))
        .arg(&missed)
        .output()
        .unwrap();
    assert!(replayed.status.success(), "{}", String::from_utf8_lossy(&replayed.stderr));
    let results = String::from_utf8(replayed.stdout).unwrap();
    let outcomes: Vec<String> = results
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["outcome"].to_string())
        .collect();
    assert_eq!(outcomes, ["\"missed\""; 3], "replay reads every exported line: {results}");

    let json = report::render(&figures, Format::Json);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["missed_groups"]["groups"][0]["count"], 3);
}

#[tokio::test]
async fn metrics_count_decisions_by_bot_and_reason() {
    let h = Harness::new("order_tracking.bot").await;
    five_conversations(&h).await;
    let text = h.state.metrics.render(0);
    for line in [
        "botrun_bot_conversations_total{bot=\"Acme Assistant\"} 5",
        "botrun_bot_misses_total{bot=\"Acme Assistant\"} 3",
        "botrun_bot_resolves_total{bot=\"Acme Assistant\"} 1",
        "botrun_bot_retries_exhausted_total{bot=\"Acme Assistant\"} 1",
        "botrun_bot_timeouts_total{bot=\"Acme Assistant\"} 1",
        "botrun_bot_handoffs_total{bot=\"Acme Assistant\",reason=\"asked\"} 1",
        "botrun_bot_handoffs_total{bot=\"Acme Assistant\",reason=\"missed\"} 1",
        "botrun_bot_handoffs_total{bot=\"Acme Assistant\",reason=\"retries_exhausted\"} 1",
        "botrun_bot_handoffs_total{bot=\"Acme Assistant\",reason=\"step_limit\"} 0",
        "botrun_misses_total 3",
    ] {
        assert!(text.lines().any(|l| l == line), "missing `{line}` in\n{text}");
    }
}

#[tokio::test]
async fn the_example_dashboard_uses_only_metrics_the_service_exports() {
    let h = Harness::new("order_tracking.bot").await;
    five_conversations(&h).await;
    let exposition = h.state.metrics.render(0);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/grafana-bots.json");
    let dashboard = std::fs::read_to_string(path).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    assert!(parsed["panels"].as_array().is_some_and(|p| !p.is_empty()));
    let mut names: Vec<&str> = dashboard
        .match_indices("botrun_")
        .map(|(at, _)| {
            let rest = &dashboard[at..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap();
            &rest[..end]
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    assert!(names.len() >= 5, "{names:?}");
    for name in names {
        assert!(
            exposition.lines().any(|l| l.starts_with(&format!("{name}{{"))),
            "the dashboard queries `{name}`, which /metrics does not export"
        );
    }
}
