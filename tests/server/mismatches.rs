//! Where the documentation and the behaviour disagreed (issue 12, item 8): each now agrees.

use std::sync::Arc;

use axum::http::StatusCode;
use botrun::check::{load_program, CheckOptions};
use botrun::server::{AppState, Bots, Config, ManualClock};
use botrun::store::{SqliteStore, Store};

use super::harness::{customer_message, start_time, Harness, RecordingCx, TOKEN};

/// An event for an inbox no bot serves (and no bot answers every inbox) is acknowledged as
/// `ignored` and nothing is stored, instead of being queued as `accepted` for no one.
#[tokio::test]
async fn events_for_an_inbox_no_bot_serves_are_ignored_and_not_stored() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bots/faq.bot");
    let program = load_program(&path, &CheckOptions::default()).unwrap().program;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open("sqlite::memory:").await.unwrap());
    let cx = Arc::new(RecordingCx::default());
    let clock = Arc::new(ManualClock::new(start_time()));
    let state = AppState::new(
        Config::default(),
        store.clone(),
        Bots::new(vec![(Some(5), program)]),
        cx.clone(),
        clock.clone(),
        TOKEN.to_owned(),
    );
    let h = Harness::from_state(state, cx, store, clock);
    let mut elsewhere = customer_message(h.message_id(), 1, "hello");
    elsewhere["inbox"] = serde_json::json!({ "id": 9 });
    let (status, answer) = h.post(&elsewhere).await;
    assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some("ignored")));
    assert!(h.store.conversations_with_work(chrono::Utc::now()).await.unwrap().is_empty());
    let mut served = customer_message(h.message_id(), 2, "hello");
    served["inbox"] = serde_json::json!({ "id": 5 });
    let (status, answer) = h.post(&served).await;
    assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some("accepted")));
}
