//! Retention on every backend: the sweep deletes old dedup keys and idle conversations with
//! nothing pending (in chunks), keeps everything recent or still pending, and the widget's
//! history sweep deletes conversations whose last activity is old; the readiness write probe
//! leaves nothing behind.

use botrun::store::{Cutoffs, Recorded, SqliteStore, Store, TimerRow, Turn};
use botrun::widget::store::ConversationRecord;
use botrun::widget::{MemoryWidgetStore, WidgetStore};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

fn day(n: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::days(n)
}

fn turn(conversation: &str, expected: i64) -> Turn {
    Turn {
        conversation: conversation.to_owned(),
        expected_version: expected,
        state: b"state".to_vec(),
        ..Turn::default()
    }
}

fn schema(test: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("ret_{test}_{}_{nanos}", std::process::id())
}

async fn sweeps_what_is_old_and_idle(store: &dyn Store) {
    // Day 0: a finished conversation, and three that still have something pending.
    store.record_inbound("msg:done", "done", "hi", day(0)).await.unwrap();
    let inbound = store.next_inbound("done").await.unwrap().unwrap();
    let mut finished = turn("done", 0);
    finished.processed = Some(inbound.id);
    store.commit_turn(&finished, day(0)).await.unwrap();
    let mut undelivered = turn("undelivered", 0);
    undelivered.outbox = vec!["reply".into()];
    store.commit_turn(&undelivered, day(0)).await.unwrap();
    let mut timed = turn("timed", 0);
    timed.add_timers = vec![TimerRow { key: "nudge".into(), due: day(90), payload: "{}".into() }];
    store.commit_turn(&timed, day(0)).await.unwrap();
    store.commit_turn(&turn("queued", 0), day(0)).await.unwrap();
    store.record_inbound("msg:queued", "queued", "later", day(0)).await.unwrap();
    // More old keys than one sweep chunk.
    for n in 0..2100 {
        store.record_inbound(&format!("bulk:{n}"), "bulk", "x", day(1)).await.unwrap();
    }
    // Day 100: recent activity.
    store.commit_turn(&turn("recent", 0), day(100)).await.unwrap();
    store.record_inbound("msg:new", "recent", "hello", day(100)).await.unwrap();

    let cutoffs = Cutoffs { dedup_keys: day(93), conversations: day(70), decisions: day(70) };
    let swept = store.sweep(cutoffs).await.unwrap();
    assert_eq!(swept.dedup_keys, 2102, "{swept:?}");
    assert_eq!(swept.conversations, 1, "{swept:?}");
    assert_eq!(store.load_conversation("done").await.unwrap(), None);
    for kept in ["undelivered", "timed", "queued", "recent"] {
        assert!(store.load_conversation(kept).await.unwrap().is_some(), "{kept} was kept");
    }
    assert_eq!(store.next_outbox("undelivered").await.unwrap().unwrap().payload, "reply");
    assert!(matches!(
        store.record_inbound("msg:done", "done", "hi", day(101)).await.unwrap(),
        Recorded::Accepted(_)
    ));
    assert_eq!(
        store.record_inbound("msg:new", "recent", "hello", day(101)).await.unwrap(),
        Recorded::Duplicate
    );
    // A second sweep finds nothing more.
    let again = store.sweep(cutoffs).await.unwrap();
    assert_eq!((again.dedup_keys, again.conversations), (0, 0));
}

async fn the_write_probe_leaves_nothing(store: &dyn Store) {
    let everything =
        Cutoffs { dedup_keys: day(1000), conversations: day(1000), decisions: day(1000) };
    store.sweep(everything).await.unwrap();
    for _ in 0..3 {
        store.probe_write().await.unwrap();
    }
    let swept = store.sweep(everything).await;
    assert_eq!(swept.unwrap().dedup_keys, 0, "no probe row stays behind");
}

#[tokio::test]
async fn sqlite_sweeps_what_is_old_and_idle() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ret.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    sweeps_what_is_old_and_idle(&store).await;
    the_write_probe_leaves_nothing(&store).await;
}

#[tokio::test]
async fn postgres_sweeps_what_is_old_and_idle() {
    let store = crate::postgres::store_in(&schema("sweep")).await;
    sweeps_what_is_old_and_idle(&store).await;
    the_write_probe_leaves_nothing(&store).await;
}

fn record(id: &str, created_ms: i64) -> ConversationRecord {
    ConversationRecord {
        id: id.to_owned(),
        site: "shop".into(),
        user_id: "dl_u".into(),
        user_name: None,
        created_ms,
        last_seq: 0,
        last_ts_ms: 0,
        ended: false,
    }
}

async fn widget_history_goes_after_its_last_activity(store: &dyn WidgetStore) {
    let old = day(0).timestamp_millis();
    let recent = day(50).timestamp_millis();
    // Idle since day 0; started on day 0 but active on day 50; started on day 50 and silent.
    store.create_conversation(&record("idle", old)).await.unwrap();
    store.append("idle", json!({"type": "message", "text": "a"}), old).await.unwrap();
    store.create_conversation(&record("active", old)).await.unwrap();
    store.append("active", json!({"type": "message", "text": "b"}), recent).await.unwrap();
    store.create_conversation(&record("new", recent)).await.unwrap();
    for n in 0..600 {
        store.create_conversation(&record(&format!("bulk{n}"), old)).await.unwrap();
    }
    let swept = store.sweep(day(30).timestamp_millis()).await.unwrap();
    assert_eq!(swept, 601);
    assert!(store.conversation("idle").await.unwrap().is_none());
    assert!(store.activities_after("idle", 0, 10).await.unwrap().is_empty());
    assert!(store.conversation("active").await.unwrap().is_some());
    assert_eq!(store.activities_after("active", 0, 10).await.unwrap().len(), 1);
    assert!(store.conversation("new").await.unwrap().is_some());
}

#[tokio::test]
async fn widget_history_sweep_on_memory_sqlite_and_postgres() {
    widget_history_goes_after_its_last_activity(&MemoryWidgetStore::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("widget.db").display());
    let sqlite = SqliteStore::open(&url).await.unwrap();
    widget_history_goes_after_its_last_activity(&*sqlite.widget_history()).await;
    let postgres = crate::postgres::store_in(&schema("widget")).await;
    widget_history_goes_after_its_last_activity(&*postgres.widget_history()).await;
}
