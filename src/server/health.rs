//! Whether the service can do its job right now: `/readyz` answers 200 only while the store
//! commits writes (a real write, not a ping: a full disk still answers reads), and every failed
//! store call is counted for `/metrics`. The probe is cheap and rate-limited: callers within
//! [`PROBE_EVERY`] of the last probe share its answer, so a busy orchestrator or an attacker
//! polling `/readyz` costs at most one small commit per interval.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use super::AppState;
use crate::store::{
    Committed, Cutoffs, DecisionQuery, Heartbeat, Inbound, OutboxItem, Recorded, Snapshot, Store,
    StoreError, StoreFuture, StoredDecision, Swept, Turn,
};

/// How long one probe's answer stands.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The last probe: when it ran and whether the store took the write.
#[derive(Debug, Default)]
pub struct Readiness {
    last: Mutex<Option<(Instant, Result<(), String>)>>,
}

impl Readiness {
    /// The store's write health, probing it when the last answer is older than [`PROBE_EVERY`].
    pub async fn check(&self, store: &dyn Store) -> Result<(), String> {
        let mut last = self.last.lock().await;
        if let Some((at, answer)) = &*last {
            if at.elapsed() < PROBE_EVERY {
                return answer.clone();
            }
        }
        let answer = store.probe_write().await.map_err(|error| error.to_string());
        if let Err(error) = &answer {
            tracing::warn!(%error, "readiness: the store cannot write");
        }
        *last = Some((Instant::now(), answer.clone()));
        answer
    }
}

/// `GET /readyz`: 200 while the store commits writes, 503 (with the reason) while it cannot.
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.readiness.check(state.store.as_ref()).await {
        Ok(()) => (StatusCode::OK, "ready".to_owned()),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, format!("store cannot write: {error}")),
    }
}

/// A store that counts its failed calls (version conflicts are not failures: they are how
/// replicas take turns).
pub(crate) struct CountingStore {
    inner: Arc<dyn Store>,
    failures: Arc<AtomicU64>,
}

impl CountingStore {
    /// Wraps `inner`; every failed call adds one to `failures`.
    pub fn new(inner: Arc<dyn Store>, failures: Arc<AtomicU64>) -> CountingStore {
        CountingStore { inner, failures }
    }

    fn counted<'a, T: Send + 'a>(&'a self, call: StoreFuture<'a, T>) -> StoreFuture<'a, T> {
        Box::pin(async move {
            let result = call.await;
            if let Err(error) = &result {
                if !matches!(error, StoreError::Conflict { .. }) {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            result
        })
    }
}

impl Store for CountingStore {
    fn record_inbound<'a>(
        &'a self,
        dedup_key: &'a str,
        conversation: &'a str,
        payload: &'a str,
        now: DateTime<Utc>,
    ) -> StoreFuture<'a, Recorded> {
        self.counted(self.inner.record_inbound(dedup_key, conversation, payload, now))
    }
    fn next_inbound<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<Inbound>> {
        self.counted(self.inner.next_inbound(conversation))
    }
    fn discard_inbound(&self, id: i64) -> StoreFuture<'_, ()> {
        self.counted(self.inner.discard_inbound(id))
    }
    fn queued_inbound(&self, conversation: &str) -> StoreFuture<'_, u64> {
        self.counted(self.inner.queued_inbound(conversation))
    }
    fn load_conversation<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<Snapshot>> {
        self.counted(self.inner.load_conversation(conversation))
    }
    fn commit_turn<'a>(&'a self, turn: &'a Turn, now: DateTime<Utc>) -> StoreFuture<'a, Committed> {
        self.counted(self.inner.commit_turn(turn, now))
    }
    fn next_outbox<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<OutboxItem>> {
        self.counted(self.inner.next_outbox(conversation))
    }
    fn mark_sent(&self, id: i64) -> StoreFuture<'_, ()> {
        self.counted(self.inner.mark_sent(id))
    }
    fn mark_failed(&self, id: i64, retry_at: DateTime<Utc>) -> StoreFuture<'_, u32> {
        self.counted(self.inner.mark_failed(id, retry_at))
    }
    fn conversations_with_work(&self, now: DateTime<Utc>) -> StoreFuture<'_, Vec<String>> {
        self.counted(self.inner.conversations_with_work(now))
    }
    fn fire_due_timers(&self, now: DateTime<Utc>) -> StoreFuture<'_, Vec<String>> {
        self.counted(self.inner.fire_due_timers(now))
    }
    fn next_timer_due(&self) -> StoreFuture<'_, Option<DateTime<Utc>>> {
        self.counted(self.inner.next_timer_due())
    }
    fn outbox_depth(&self) -> StoreFuture<'_, u64> {
        self.counted(self.inner.outbox_depth())
    }
    fn probe_write(&self) -> StoreFuture<'_, ()> {
        self.counted(self.inner.probe_write())
    }
    fn sweep(&self, cutoffs: Cutoffs) -> StoreFuture<'_, Swept> {
        self.counted(self.inner.sweep(cutoffs))
    }
    fn decisions<'a>(&'a self, query: &'a DecisionQuery) -> StoreFuture<'a, Vec<StoredDecision>> {
        self.counted(self.inner.decisions(query))
    }
    fn shared_by_replicas(&self) -> bool {
        self.inner.shared_by_replicas()
    }
    fn claim<'a>(
        &'a self,
        lane: &'a str,
        owner: &'a str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreFuture<'a, bool> {
        self.counted(self.inner.claim(lane, owner, now, until))
    }
    fn release<'a>(&'a self, lane: &'a str, owner: &'a str) -> StoreFuture<'a, ()> {
        self.counted(self.inner.release(lane, owner))
    }
    fn heartbeat<'a>(&'a self, beat: Heartbeat<'a>) -> StoreFuture<'a, u32> {
        self.counted(self.inner.heartbeat(beat))
    }
    fn widget_history(&self) -> Arc<dyn crate::widget::WidgetStore> {
        self.inner.widget_history()
    }
}
