//! Server: `botrun serve` — the axum app, configuration, webhook intake, per-conversation
//! workers, the outbox sender, timers, health and metrics. The only place that wires engine,
//! store, CX and widget together; nothing else may import it.
//!
//! The path of one customer message: `webhook` verifies and decodes it, `flow_b::intake` records it in
//! the store (dedup + queue, one transaction) and answers 2xx; `flow_b::worker` then runs it as
//! one `turn` (engine steps, then state + outbox + timers in one transaction; Flow A's widget
//! conversations use the same turn), and `outbox` delivers the replies in order through
//! [`CxOutbound`].

mod bot_metrics;
pub mod config;
mod cx_link;
pub(crate) mod decisions;
pub mod flow_a;
mod flow_b;
pub mod health;
mod keyed;
pub mod listen;
pub mod metrics;
pub mod outbox;
mod ownership;
pub mod payload;
pub(crate) mod redact;
pub mod reload;
mod replicas;
pub mod retention;
pub mod run;
mod turn;
mod webhook;
pub mod widget_config;

use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use tower::limit::ConcurrencyLimitLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::engine::Program;
use crate::store::Store;

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
pub(crate) use cx_link::connect_cx;
pub(crate) use metrics::Metrics;
pub use outbox::{CxOutbound, DeliveryError};
pub use replicas::run_heartbeat_loop;
pub use run::run;
pub(crate) use run::{RunOptions, ServeError};

/// The loaded bots: one swappable program per configured bot (hot reload replaces the `Arc`).
#[derive(Default)]
pub struct Bots {
    programs: Vec<RwLock<Arc<Program>>>,
    inboxes: Vec<Option<u64>>,
}

impl Bots {
    /// Bots from `(inbox, program)` pairs; `None` answers inboxes no other bot names.
    pub fn new(bots: Vec<(Option<u64>, Program)>) -> Bots {
        let (inboxes, programs) =
            bots.into_iter().map(|(inbox, p)| (inbox, RwLock::new(Arc::new(p)))).unzip();
        Bots { programs, inboxes }
    }

    /// The index of the bot serving `inbox`.
    pub(crate) fn index_for_inbox(&self, inbox: Option<u64>) -> Option<usize> {
        let exact = inbox.and_then(|id| self.inboxes.iter().position(|b| *b == Some(id)));
        exact.or_else(|| self.inboxes.iter().position(Option::is_none))
    }

    /// The current program of bot `index`.
    pub fn program(&self, index: usize) -> Option<Arc<Program>> {
        let slot = self.programs.get(index)?;
        // A poisoned lock still holds a whole `Arc`: swapping is one pointer write.
        let guard = slot.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(Arc::clone(&guard))
    }

    /// Replaces bot `index`'s program atomically; conversations pick it up on their next turn.
    pub fn replace(&self, index: usize, program: Program) {
        if let Some(slot) = self.programs.get(index) {
            let mut guard = slot.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            *guard = Arc::new(program);
        }
    }
}

/// Everything the handlers and workers share.
pub struct Shared {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub bots: Bots,
    pub cx: Arc<dyn CxOutbound>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    /// The secret path segment of `/webhooks/cx/{token}`.
    pub webhook_token: String,
    /// HMAC secret for `X-Chatwoot-Signature`, when configured.
    pub signing_secret: Option<String>,
    /// One shared HTTP client for `fetch`.
    pub http: reqwest::Client,
    /// Flow B's conversation workers.
    pub(crate) workers: keyed::KeyedWorkers,
    /// The widget's bot host, when the widget is served (Flow A).
    pub flow_a: OnceLock<Arc<flow_a::FlowA>>,
    /// This process's one name in the store's leases and heartbeats (replicas sharing a
    /// PostgreSQL store).
    owner: String,
    /// The last write probe of the store, for `/readyz`.
    pub readiness: health::Readiness,
    /// When this process started serving: outbox items queued before it may have been on their
    /// way to CX when the previous process died (see `outbox::may_have_been_sent`).
    pub started_at: chrono::DateTime<chrono::Utc>,
}

/// Cheap to clone: handlers and workers hold the same [`Shared`].
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Builds the state; `config` supplies limits, fetch allow-list and button policy.
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        bots: Bots,
        cx: Arc<dyn CxOutbound>,
        clock: Arc<dyn Clock>,
        webhook_token: String,
    ) -> AppState {
        let metrics = Metrics::default();
        let started_at = clock.now();
        let store: Arc<dyn Store> =
            Arc::new(health::CountingStore::new(store, metrics.store_failure_counter()));
        AppState(Arc::new(Shared {
            config,
            store,
            bots,
            cx,
            clock,
            metrics,
            webhook_token,
            signing_secret: None,
            http: reqwest::Client::new(),
            workers: keyed::KeyedWorkers::default(),
            flow_a: OnceLock::new(),
            owner: config::generate_token(),
            readiness: health::Readiness::default(),
            started_at,
        }))
    }

    /// Sets the webhook signing secret (only before the state is shared).
    #[must_use]
    pub fn with_signing_secret(mut self, secret: Option<String>) -> AppState {
        if let Some(shared) = Arc::get_mut(&mut self.0) {
            shared.signing_secret = secret;
        }
        self
    }

    /// Names this process in the store's leases and heartbeats (only before the state is
    /// shared); `botrun serve` passes `replicas::process_name`, tests keep a random name.
    #[must_use]
    pub(crate) fn with_owner(mut self, owner: String) -> AppState {
        if let Some(shared) = Arc::get_mut(&mut self.0) {
            shared.owner = owner;
        }
        self
    }

    /// Starts a worker for every conversation with queued work (after a restart).
    pub async fn resume(&self) -> Result<usize, crate::store::StoreError> {
        let conversations = self.store.conversations_with_work(self.clock.now()).await?;
        for conversation in &conversations {
            self.wake(conversation);
        }
        Ok(conversations.len())
    }

    /// Queues every timer due now and wakes its conversation; returns how many fired.
    pub async fn fire_timers(&self) -> Result<usize, crate::store::StoreError> {
        let conversations = self.store.fire_due_timers(self.clock.now()).await?;
        for conversation in &conversations {
            self.wake(conversation);
        }
        Ok(conversations.len())
    }

    /// Takes or renews this process's lease on `lane` before working on it; false when another
    /// replica works on it now. Always true when the store is not shared. Between these calls
    /// the heartbeat ([`run_heartbeat_loop`]) keeps the lease alive.
    pub(crate) async fn hold(&self, lane: &str) -> Result<bool, crate::store::StoreError> {
        if !self.store.shared_by_replicas() {
            return Ok(true);
        }
        let now = self.clock.now();
        let until = now + replicas::chrono_duration(replicas::LEASE);
        self.store.claim(lane, &self.owner, now, until).await
    }

    /// This process's name in the store's leases and heartbeats.
    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    /// Gives up the lease on `lane` (a worker that found nothing left to do).
    pub(crate) async fn let_go(&self, lane: &str) {
        if self.store.shared_by_replicas() {
            if let Err(error) = self.store.release(lane, &self.owner).await {
                tracing::warn!(%lane, %error, "cannot release a lease; it expires on its own");
            }
        }
    }

    /// Wakes the worker of a store key: widget conversations (Flow A) or CX ones (Flow B).
    fn wake(&self, conversation: &str) {
        if flow_a::session::widget_conversation(conversation).is_some() {
            match self.flow_a.get() {
                Some(flow) => flow.wake(conversation),
                None => tracing::warn!(%conversation, "widget work queued but no widget is served"),
            }
        } else if conversation.starts_with("cx:") {
            flow_b::worker::wake(self, conversation);
        }
    }

    /// True when no conversation worker is running (tests wait for it).
    pub fn idle(&self) -> bool {
        self.workers.idle() && self.flow_a.get().is_none_or(|flow| flow.idle())
    }

    /// Waits for every conversation task of both flows, until `deadline` (shutdown); true when
    /// all finished. Unfinished work stays queued in the store for the next start.
    pub async fn finish(&self, deadline: tokio::time::Instant) -> bool {
        let flow_b = self.workers.finish(deadline).await;
        let flow_a = match self.flow_a.get() {
            Some(flow) => flow.finish(deadline).await,
            None => true,
        };
        flow_b && flow_a
    }
}

/// The HTTP routes with their tower layers; tests drive it without a socket.
pub fn app(state: AppState) -> Router {
    let limits = state.config.limits.clone();
    Router::new()
        .route("/webhooks/cx/{token}", post(flow_b::intake::cx_webhook))
        .route("/webhooks/cx-widget/{token}", post(flow_a::webhook::cx_widget_webhook))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(metrics::exposition))
        .layer(RequestBodyLimitLayer::new(limits.body_bytes))
        .layer(ConcurrencyLimitLayer::new(limits.concurrent_requests))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(limits.request_timeout_ms),
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// The HTTP trace span, with credentials cut out of the URL (the default span records it whole).
pub(crate) fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        uri = %redact::redacted_uri(request.uri()),
        version = ?request.version(),
    )
}

/// Sleeps until the next timer is due (at most a second, so new timers are seen) and fires it.
/// With a store shared by replicas it also looks for queued work every
/// [`replicas::LOOK_FOR_WORK`]: work recorded by this replica while another held the
/// conversation's lease is picked up here once that lease is given up, and a crashed replica's
/// once its leases lapse.
pub async fn run_timer_loop(state: AppState) {
    let shared = state.store.shared_by_replicas();
    let longest_sleep = if shared { replicas::LOOK_FOR_WORK } else { Duration::from_secs(1) };
    let mut last_sweep = tokio::time::Instant::now();
    loop {
        if shared && last_sweep.elapsed() >= replicas::LOOK_FOR_WORK {
            last_sweep = tokio::time::Instant::now();
            if let Err(error) = state.resume().await {
                tracing::error!(%error, "cannot look for queued work");
            }
        }
        if let Err(error) = state.fire_timers().await {
            tracing::error!(%error, "cannot fire timers");
        }
        let wait = match state.store.next_timer_due().await {
            Ok(Some(due)) => (due - state.clock.now()).to_std().unwrap_or(Duration::ZERO),
            _ => Duration::from_secs(1),
        };
        tokio::time::sleep(wait.clamp(Duration::from_millis(10), longest_sleep)).await;
    }
}
