//! Retention soak: simulated days of traffic against the real SQLite stores (service store and
//! widget history, files on disk), with the retention sweep after each day, printing the store's
//! size day by day. Without the sweep the size grows linearly; with it, it levels off once the
//! oldest data reaches its lifetime (here 7 days) and freed pages are reused.
//!
//! `cargo bench --bench retention -- [days] [conversations_per_day] [--no-sweep]`
//! (default 21 days, 2,000 conversations a day: each two customer messages, two replies and a
//! widget conversation of six activities)

#![allow(clippy::unwrap_used, reason = "a benchmark may stop on the first failure")]
#![allow(clippy::cast_precision_loss, reason = "figures for a table")]

use std::sync::Arc;

use botrun::store::{Cutoffs, Durability, SqliteStore, Store, Turn};
use botrun::widget::store::ConversationRecord;
use botrun::widget::WidgetStore;
use chrono::{DateTime, Duration, Utc};

const LIFETIME_DAYS: i64 = 7;

fn day(n: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::days(n)
}

/// The database file and its write-ahead log, in MB. They are shown apart: the file holds the
/// data, the log only grows to its busiest moment's size and is reused from the start after
/// each checkpoint.
fn megabytes(path: &std::path::Path) -> (f64, f64) {
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len()) as f64 / 1e6;
    (size(path), size(&path.with_extension("db-wal")))
}

async fn one_conversation(store: Arc<SqliteStore>, id: String, at: DateTime<Utc>) {
    let mut version = 0;
    for message in 0..2 {
        let key = format!("msg:{id}:{message}");
        store.record_inbound(&key, &id, r#"{"text":"where is my order"}"#, at).await.unwrap();
        let inbound = store.next_inbound(&id).await.unwrap().unwrap();
        let turn = Turn {
            conversation: id.clone(),
            expected_version: version,
            state: vec![7; 300],
            outbox: vec![r#"{"send_text":"Your order ships tomorrow."}"#.to_owned()],
            processed: Some(inbound.id),
            ..Turn::default()
        };
        version = store.commit_turn(&turn, at).await.unwrap().version;
        let item = store.next_outbox(&id).await.unwrap().unwrap();
        store.mark_sent(item.id).await.unwrap();
    }
}

async fn one_widget_conversation(widget: Arc<dyn WidgetStore>, id: String, at_ms: i64) {
    let record = ConversationRecord {
        id: id.clone(),
        site: "shop".into(),
        user_id: "dl_user".into(),
        user_name: None,
        created_ms: at_ms,
        last_seq: 0,
        last_ts_ms: 0,
        ended: false,
    };
    widget.create_conversation(&record).await.unwrap();
    for n in 0..6 {
        let activity =
            serde_json::json!({"type": "message", "text": format!("line {n} of a chat")});
        widget.append(&id, activity, at_ms + n).await.unwrap();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let sweep = !args.iter().any(|a| a == "--no-sweep");
    let numbers: Vec<i64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let days = numbers.first().copied().unwrap_or(21);
    let per_day = numbers.get(1).copied().unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let service_db = dir.path().join("botrun.db");
        let widget_db = dir.path().join("widget.db");
        let url = format!("sqlite://{}", service_db.display());
        let store = Arc::new(SqliteStore::open_with(&url, Durability::Process).await.unwrap());
        let widget_url = format!("sqlite://{}", widget_db.display());
        // A second store file, so the table shows the widget history's own growth.
        let widget = SqliteStore::open_with(&widget_url, Durability::Process)
            .await
            .unwrap()
            .widget_history();
        println!(
            "{per_day} conversations a day, lifetimes {LIFETIME_DAYS} days, sweep {}",
            if sweep { "on" } else { "off" }
        );
        println!(
            "| day | service file MB | service log MB | widget file MB | widget log MB \
             | swept keys | swept conversations | swept widget |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
        for d in 0..days {
            let at = day(d);
            let mut tasks = Vec::new();
            for c in 0..per_day {
                let id = format!("cx:{d}-{c}");
                tasks.push(tokio::spawn(one_conversation(Arc::clone(&store), id, at)));
                let id = format!("w{d}-{c}");
                let at_ms = at.timestamp_millis();
                tasks.push(tokio::spawn(one_widget_conversation(Arc::clone(&widget), id, at_ms)));
            }
            for task in tasks {
                task.await.unwrap();
            }
            let (mut keys, mut conversations, mut histories) = (0, 0, 0);
            if sweep {
                let cutoff = at - Duration::days(LIFETIME_DAYS);
                let swept = store
                    .sweep(Cutoffs { dedup_keys: cutoff, conversations: cutoff, decisions: cutoff })
                    .await
                    .unwrap();
                keys = swept.dedup_keys;
                conversations = swept.conversations;
                histories = widget.sweep(cutoff.timestamp_millis()).await.unwrap();
            }
            let (service_file, service_log) = megabytes(&service_db);
            let (widget_file, widget_log) = megabytes(&widget_db);
            println!(
                "| {d} | {service_file:.1} | {service_log:.1} | {widget_file:.1} | {widget_log:.1} \
                 | {keys} | {conversations} | {histories} |"
            );
        }
    });
}
