//! A conversation task gives its lease up while still registered: a message arriving meanwhile
//! re-runs that task instead of starting a second one under the lease being given up. (A second
//! task would work under no lease once the release lands, and another replica could take the
//! conversation and send the same reply.)

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::Request;
use botrun::check::{load_program, CheckOptions};
use botrun::server::{app, AppState, Bots, Config, SystemClock};
use botrun::store::{
    Committed, Cutoffs, DecisionQuery, Heartbeat, Inbound, OutboxItem, Recorded, Snapshot,
    SqliteStore, Store, StoreFuture, StoredDecision, Swept, Turn,
};
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tower::ServiceExt;

use super::harness::{customer_message, Call, RecordingCx, TOKEN};

/// SQLite posing as a store shared by replicas, counting claims, whose first release waits
/// until the test lets it go.
struct GatedStore {
    inner: SqliteStore,
    claims: AtomicUsize,
    /// Set while the first release waits.
    releasing: AtomicBool,
    held_once: AtomicBool,
    gate: Notify,
}

impl Store for GatedStore {
    fn record_inbound<'a>(
        &'a self,
        key: &'a str,
        conversation: &'a str,
        payload: &'a str,
        now: DateTime<Utc>,
    ) -> StoreFuture<'a, Recorded> {
        self.inner.record_inbound(key, conversation, payload, now)
    }
    fn next_inbound<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<Inbound>> {
        self.inner.next_inbound(conversation)
    }
    fn discard_inbound(&self, id: i64) -> StoreFuture<'_, ()> {
        self.inner.discard_inbound(id)
    }
    fn queued_inbound(&self, conversation: &str) -> StoreFuture<'_, u64> {
        self.inner.queued_inbound(conversation)
    }
    fn load_conversation<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<Snapshot>> {
        self.inner.load_conversation(conversation)
    }
    fn commit_turn<'a>(&'a self, turn: &'a Turn, now: DateTime<Utc>) -> StoreFuture<'a, Committed> {
        self.inner.commit_turn(turn, now)
    }
    fn next_outbox<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<OutboxItem>> {
        self.inner.next_outbox(conversation)
    }
    fn mark_sent(&self, id: i64) -> StoreFuture<'_, ()> {
        self.inner.mark_sent(id)
    }
    fn mark_failed(&self, id: i64, retry_at: DateTime<Utc>) -> StoreFuture<'_, u32> {
        self.inner.mark_failed(id, retry_at)
    }
    fn conversations_with_work(&self, now: DateTime<Utc>) -> StoreFuture<'_, Vec<String>> {
        self.inner.conversations_with_work(now)
    }
    fn fire_due_timers(&self, now: DateTime<Utc>) -> StoreFuture<'_, Vec<String>> {
        self.inner.fire_due_timers(now)
    }
    fn next_timer_due(&self) -> StoreFuture<'_, Option<DateTime<Utc>>> {
        self.inner.next_timer_due()
    }
    fn outbox_depth(&self) -> StoreFuture<'_, u64> {
        self.inner.outbox_depth()
    }
    fn probe_write(&self) -> StoreFuture<'_, ()> {
        self.inner.probe_write()
    }
    fn sweep(&self, cutoffs: Cutoffs) -> StoreFuture<'_, Swept> {
        self.inner.sweep(cutoffs)
    }
    fn decisions<'a>(&'a self, query: &'a DecisionQuery) -> StoreFuture<'a, Vec<StoredDecision>> {
        self.inner.decisions(query)
    }
    fn shared_by_replicas(&self) -> bool {
        true
    }
    fn claim<'a>(
        &'a self,
        _lane: &'a str,
        _owner: &'a str,
        _now: DateTime<Utc>,
        _until: DateTime<Utc>,
    ) -> StoreFuture<'a, bool> {
        self.claims.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(true) })
    }
    fn release<'a>(&'a self, _lane: &'a str, _owner: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if !self.held_once.swap(true, Ordering::SeqCst) {
                let opened = self.gate.notified();
                self.releasing.store(true, Ordering::SeqCst);
                opened.await;
                self.releasing.store(false, Ordering::SeqCst);
            }
            Ok(())
        })
    }
    fn heartbeat<'a>(&'a self, _beat: Heartbeat<'a>) -> StoreFuture<'a, u32> {
        Box::pin(async { Ok(1) })
    }
    fn widget_history(&self) -> Arc<dyn botrun::widget::WidgetStore> {
        self.inner.widget_history()
    }
}

async fn post(state: &AppState, event: &serde_json::Value) {
    let request = Request::post(format!("/webhooks/cx/{TOKEN}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(event.to_string()))
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
}

async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_message_arriving_while_the_lease_is_given_up_reruns_the_task_instead_of_a_second() {
    let store = Arc::new(GatedStore {
        inner: SqliteStore::open("sqlite::memory:").await.unwrap(),
        claims: AtomicUsize::new(0),
        releasing: AtomicBool::new(false),
        held_once: AtomicBool::new(false),
        gate: Notify::new(),
    });
    let cx = Arc::new(RecordingCx::default());
    let bot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bots/faq.bot");
    let program = load_program(&bot, &CheckOptions::default()).unwrap().program;
    let state = AppState::new(
        Config::default(),
        store.clone(),
        Bots::new(vec![(None, program)]),
        cx.clone(),
        Arc::new(SystemClock),
        TOKEN.to_owned(),
    );
    post(&state, &customer_message(1, 1, "how long does delivery take")).await;
    until("the first task gives its lease up", || store.releasing.load(Ordering::SeqCst)).await;
    let answered = cx.calls.lock().unwrap().len();
    let claims = store.claims.load(Ordering::SeqCst);

    post(&state, &customer_message(2, 1, "can I pay with paypal")).await;
    // A second task would start now and claim the lease at once; give it every chance to run.
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        store.claims.load(Ordering::SeqCst),
        claims + 1,
        "only the webhook asked for the lease: no second task started"
    );
    assert!(store.releasing.load(Ordering::SeqCst));

    store.gate.notify_one();
    until("the second message is answered", || {
        cx.calls.lock().unwrap().len() > answered && state.idle()
    })
    .await;
    let paypal = cx
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|call| matches!(call, Call::Text { text, .. } if text.contains("PayPal")))
        .count();
    assert_eq!(paypal, 1);
}
