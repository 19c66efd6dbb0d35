//! What the logs say, captured: no credential in any line at any level (the webhook token in
//! the URL path, and a wrong one tried by an attacker, are cut out of the HTTP trace, which
//! still names the route), and a deleted bot file is reported.

use std::io::Write;
use std::sync::{Arc, Mutex};

use std::time::Duration;

use axum::http::StatusCode;
use botrun::server::reload::{watch, BotSlot, WatchedBot};
use botrun::server::{Config, ManualClock};
use botrun::store::{SqliteStore, Store};
use tracing_subscriber::fmt::MakeWriter;

use super::harness::{customer_message, start_time, Harness, TOKEN};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(self.clone())
            .with_ansi(false)
            .finish()
    }
}

#[tokio::test]
async fn webhook_tokens_never_reach_the_logs_even_at_trace_level() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(captured.subscriber());
    let h = Harness::new("faq.bot").await;
    let (status, _) = h.post(&customer_message(h.message_id(), 1, "message 1")).await;
    assert_eq!(status, StatusCode::OK);
    let guessed = "guessed-token-0123456789abcdef0123456789";
    let body = customer_message(h.message_id(), 1, "hi").to_string();
    let (status, _) = h.post_raw(&format!("/webhooks/cx/{guessed}"), body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The widget's webhook path carries the same token (no widget here: whatever it answers).
    h.post_raw(&format!("/webhooks/cx-widget/{TOKEN}"), body).await;
    h.settle().await;
    let logs = captured.text();
    assert!(logs.contains("/webhooks/cx/***"), "the request is still traced:\n{logs}");
    assert!(!logs.contains(TOKEN), "the webhook token leaked:\n{logs}");
    assert!(!logs.contains(guessed), "a guessed token leaked:\n{logs}");
}

#[tokio::test]
async fn deleting_a_watched_bot_file_is_logged_and_the_bot_keeps_running() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(captured.subscriber());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deleted.bot");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/chaos.d/echo.bot"),
        &path,
    )
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open("sqlite::memory:").await.unwrap());
    let clock = Arc::new(ManualClock::new(start_time()));
    let h = Harness::with_store_path(&path, store, Config::default(), clock);
    let watched =
        [WatchedBot { slot: BotSlot::Inbox(0), entry: path.clone(), files: vec![path.clone()] }];
    let _watcher = watch(&h.state, &watched).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut logs = String::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        logs = captured.text();
        if logs.contains("deleted") {
            break;
        }
    }
    assert!(logs.contains("a bot file was deleted"), "{logs}");
    assert!(logs.contains("deleted.bot"), "{logs}");
    let (status, _) = h.post(&customer_message(h.message_id(), 1, "message 1")).await;
    assert_eq!(status, StatusCode::OK);
    h.settle().await;
    assert!(!h.calls().is_empty(), "the loaded bot still answers");
}
