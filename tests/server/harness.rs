//! A small fluent harness: build the app with a bot, post CX-shaped webhooks, wait for the
//! workers, and read what was sent to CX.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use botrun::check::{load_program, CheckOptions};
use botrun::engine::Button;
use botrun::server::outbox::CxFuture;
use botrun::server::{app, AppState, Bots, Config, CxOutbound, DeliveryError, ManualClock};
use botrun::store::{SqliteStore, Store};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tower::ServiceExt;

pub const TOKEN: &str = "0123456789abcdef0123456789abcdef-test";

/// One call the service made to CX.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Text { conversation: String, text: String },
    Note { conversation: String, text: String },
    Buttons { conversation: String, text: String, values: Vec<String> },
    DeliverToAgent { conversation: String },
    Finish { conversation: String },
}

/// Records CX calls; `fail_next` queues failures for the next calls.
#[derive(Default)]
pub struct RecordingCx {
    pub calls: Mutex<Vec<Call>>,
    pub failures: Mutex<VecDeque<DeliveryError>>,
    /// When set, calls never complete: the process looks frozen (then "killed").
    pub hang: std::sync::atomic::AtomicBool,
}

impl RecordingCx {
    pub fn fail_next(&self, count: usize, retryable: bool) {
        let mut failures = self.failures.lock().unwrap();
        for _ in 0..count {
            failures.push_back(DeliveryError {
                retryable,
                retry_after: Some(Duration::from_millis(1)),
                message: "injected failure".into(),
            });
        }
    }

    fn record(&self, call: Call) -> CxFuture<'_> {
        if self.hang.load(std::sync::atomic::Ordering::SeqCst) {
            return Box::pin(std::future::pending());
        }
        let failure = self.failures.lock().unwrap().pop_front();
        if failure.is_none() {
            self.calls.lock().unwrap().push(call);
        }
        Box::pin(async move { failure.map_or(Ok(()), Err) })
    }
}

impl CxOutbound for RecordingCx {
    fn send_text<'a>(
        &'a self,
        conversation: &'a str,
        text: &'a str,
        private: bool,
        _key: &'a str,
    ) -> CxFuture<'a> {
        let (conversation, text) = (conversation.to_owned(), text.to_owned());
        self.record(if private {
            Call::Note { conversation, text }
        } else {
            Call::Text { conversation, text }
        })
    }
    fn send_buttons<'a>(
        &'a self,
        conversation: &'a str,
        text: &'a str,
        buttons: &'a [Button],
        _key: &'a str,
    ) -> CxFuture<'a> {
        self.record(Call::Buttons {
            conversation: conversation.to_owned(),
            text: text.to_owned(),
            values: buttons.iter().map(|b| b.value.clone()).collect(),
        })
    }
    fn deliver_to_agent<'a>(&'a self, conversation: &'a str) -> CxFuture<'a> {
        self.record(Call::DeliverToAgent { conversation: conversation.to_owned() })
    }
    fn finish<'a>(&'a self, conversation: &'a str) -> CxFuture<'a> {
        self.record(Call::Finish { conversation: conversation.to_owned() })
    }
}

pub struct Harness {
    pub state: AppState,
    pub cx: Arc<RecordingCx>,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn Store>,
    next_message: Mutex<u64>,
}

pub fn start_time() -> DateTime<Utc> {
    // A Tuesday morning in office hours.
    DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").unwrap().with_timezone(&Utc)
}

impl Harness {
    pub async fn new(bot: &str) -> Harness {
        Harness::with(bot, "sqlite::memory:", Config::default()).await
    }

    pub async fn with(bot: &str, store_url: &str, config: Config) -> Harness {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(store_url).await.unwrap());
        Harness::with_store(bot, store, config, Arc::new(ManualClock::new(start_time())))
    }

    pub fn with_store(
        bot: &str,
        store: Arc<dyn Store>,
        config: Config,
        clock: Arc<ManualClock>,
    ) -> Harness {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("bots").join(bot);
        Harness::with_store_path(&path, store, config, clock)
    }

    pub fn with_store_path(
        path: &Path,
        store: Arc<dyn Store>,
        config: Config,
        clock: Arc<ManualClock>,
    ) -> Harness {
        let loaded = load_program(path, &CheckOptions::default()).unwrap();
        let cx = Arc::new(RecordingCx::default());
        let state = AppState::new(
            config,
            store.clone(),
            Bots::new(vec![(None, loaded.program)]),
            cx.clone(),
            clock.clone(),
            TOKEN.to_owned(),
        );
        Harness { state, cx, clock, store, next_message: Mutex::new(1000) }
    }

    /// A harness around a state built by the test (e.g. with inbox-specific bots).
    pub fn from_state(
        state: AppState,
        cx: Arc<RecordingCx>,
        store: Arc<dyn Store>,
        clock: Arc<ManualClock>,
    ) -> Harness {
        Harness { state, cx, clock, store, next_message: Mutex::new(1000) }
    }

    /// Posts raw bytes to a webhook path; returns status and JSON body.
    pub async fn post_raw(&self, path: &str, body: impl Into<Body>) -> (StatusCode, Value) {
        self.post_with_headers(path, &[], body).await
    }

    /// Posts `body` to `path` with extra headers (signatures, delivery ids).
    pub async fn post_with_headers(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: impl Into<Body>,
    ) -> (StatusCode, Value) {
        let mut request = Request::post(path).header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = app(self.state.clone()).oneshot(request.body(body.into()).unwrap()).await;
        let response = response.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// The same harness, checking `X-Chatwoot-Signature` with `secret`.
    pub fn with_signing_secret(self, secret: &str) -> Harness {
        let Harness { state, cx, clock, store, next_message } = self;
        let state = state.with_signing_secret(Some(secret.to_owned()));
        Harness { state, cx, clock, store, next_message }
    }

    pub async fn post(&self, event: &Value) -> (StatusCode, Value) {
        self.post_raw(&format!("/webhooks/cx/{TOKEN}"), event.to_string()).await
    }

    pub fn message_id(&self) -> u64 {
        let mut next = self.next_message.lock().unwrap();
        *next += 1;
        *next
    }

    /// Waits until every worker finished and the outbox is empty.
    pub async fn settle(&self) {
        for _ in 0..1000 {
            if self.state.idle() && self.store.outbox_depth().await.unwrap() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the service did not settle: calls so far {:?}", self.calls());
    }

    pub fn calls(&self) -> Vec<Call> {
        self.cx.calls.lock().unwrap().clone()
    }

    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut *self.cx.calls.lock().unwrap())
    }

    /// Texts sent to a conversation (customer-visible ones only).
    pub fn texts(calls: &[Call]) -> Vec<String> {
        calls
            .iter()
            .filter_map(|c| match c {
                Call::Text { text, .. } | Call::Buttons { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }
}

/// `conversation_created` for conversation `id` (status pending: the bot owns it).
pub fn conversation_created(id: u64) -> Value {
    json!({
        "event": "conversation_created",
        "id": id,
        "inbox_id": 7,
        "status": "pending",
        "meta": {"sender": {"id": 3, "name": "Ada", "email": "ada@example.com"}},
        "messages": []
    })
}

/// A customer message in conversation `id`.
pub fn customer_message(message_id: u64, id: u64, text: &str) -> Value {
    customer_message_with_status(message_id, id, text, "pending")
}

pub fn customer_message_with_status(message_id: u64, id: u64, text: &str, status: &str) -> Value {
    json!({
        "event": "message_created",
        "id": message_id,
        "content": text,
        "message_type": "incoming",
        "private": false,
        "created_at": "2026-11-24T10:00:00Z",
        "sender": {"type": "contact", "id": 3, "name": "Ada"},
        "inbox": {"id": 7, "name": "Web"},
        "conversation": {"id": id, "inbox_id": 7, "status": status}
    })
}

/// `conversation_status_changed` from `previous` to `current`.
pub fn status_changed(id: u64, previous: &str, current: &str, at: u64) -> Value {
    json!({
        "event": "conversation_status_changed",
        "id": id,
        "inbox_id": 7,
        "status": current,
        "updated_at": at,
        "changed_attributes": [{"status": {"previous_value": previous, "current_value": current}}]
    })
}
