//! The outbox sender: delivers a conversation's queued items strictly in order through
//! [`CxOutbound`], retries transient failures with capped full-jitter backoff (the item stays
//! durable meanwhile), performs `fetch` items for the engine, and hands the conversation to a
//! human when an item fails past the retry budget.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use super::payload::{CxRef, InboundPayload, Outgoing};
use super::AppState;
use crate::cx::{jittered_backoff, RetryConfig};
use crate::engine::{Button, Event, FetchRequest, FetchResult, Method};
use crate::store::{OutboxItem, StoreError};

/// A boxed future of a CX call.
pub type CxFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;

/// A boxed future of a read-back: whether a message is already in CX, if CX can tell.
pub(crate) type SentFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<bool>, DeliveryError>> + Send + 'a>>;

/// Why a CX call failed.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    /// Worth trying again (408/425/429/5xx, connection errors).
    pub retryable: bool,
    /// What the server asked for (`Retry-After`).
    pub retry_after: Option<Duration>,
    pub message: String,
}

/// The CX calls the outbox needs (implemented by the CX client).
pub trait CxOutbound: Send + Sync + 'static {
    /// An outgoing (bot) message; `private` makes it an internal note for agents. `key` is the
    /// message's own key (see [`message_key`]): the same key means the same message, so CX can
    /// refuse a repeat and a listing can show it was made.
    fn send_text<'a>(
        &'a self,
        conversation_id: &'a str,
        text: &'a str,
        private: bool,
        key: &'a str,
    ) -> CxFuture<'a>;
    /// An `input_select` message with quick-reply buttons.
    fn send_buttons<'a>(
        &'a self,
        conversation_id: &'a str,
        text: &'a str,
        buttons: &'a [Button],
        key: &'a str,
    ) -> CxFuture<'a>;
    /// Whether CX already has the message made with `key`, read back from the conversation's
    /// messages; `None` when this CX cannot tell (no messages listing).
    fn already_sent<'a>(&'a self, conversation_id: &'a str, key: &'a str) -> SentFuture<'a> {
        let _ = (conversation_id, key);
        Box::pin(std::future::ready(Ok(None)))
    }
    fn deliver_to_agent<'a>(&'a self, conversation_id: &'a str) -> CxFuture<'a>;
    fn finish<'a>(&'a self, conversation_id: &'a str) -> CxFuture<'a>;
    /// The client-side rate limit these calls go through, so the rest of the process (Flow A's
    /// client, the replicas' budget split) can share it. `None` when there is none.
    fn rate_limiter(&self) -> Option<crate::cx::RateLimiter> {
        None
    }
}

/// Longest pause between two attempts of one item.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The outbox's retry pauses: full jitter up to `200 ms · 2^attempts`, at most a minute.
const OUTBOX_BACKOFF: RetryConfig =
    RetryConfig { max_attempts: u32::MAX, base_delay_ms: 200, max_delay_ms: 60_000 };

/// A random pause before the next attempt of an item that failed `attempts` times (the one
/// full-jitter backoff, shared with the CX client).
fn backoff(attempts: u32) -> Duration {
    jittered_backoff(&OUTBOX_BACKOFF, attempts.saturating_add(1))
}

/// Delivers `conversation`'s outbox until it is empty.
pub async fn drain(state: &AppState, conversation: &str) -> Result<(), StoreError> {
    while let Some(item) = state.store.next_outbox(conversation).await? {
        let wait = (item.not_before - state.clock.now()).to_std().unwrap_or(Duration::ZERO);
        if !wait.is_zero() {
            tokio::time::sleep(wait.min(MAX_BACKOFF)).await;
        }
        // Renewed before every call: after a long pause another replica may have taken over.
        if !state.hold(conversation).await? {
            return Ok(());
        }
        deliver_one(state, &item).await?;
    }
    Ok(())
}

/// Delivers the items a turn has just queued, in order, without reading them back: the caller
/// knows the conversation's outbox held nothing before them (so a reply costs no read of the
/// store). An item to be tried again later stays first in the outbox, and the rest go out
/// behind it through [`drain`].
pub async fn deliver_queued(
    state: &AppState,
    conversation: &str,
    queued: &[OutboxItem],
) -> Result<(), StoreError> {
    for item in queued {
        if !state.hold(conversation).await? {
            return Ok(());
        }
        if deliver_one(state, item).await? == Delivery::Retrying {
            return drain(state, conversation).await;
        }
    }
    Ok(())
}

/// What became of an item [`deliver_one`] handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    /// Delivered, or given up on: it has left the outbox.
    Done,
    /// It failed and stays in the outbox for a later attempt.
    Retrying,
}

async fn deliver_one(state: &AppState, item: &OutboxItem) -> Result<Delivery, StoreError> {
    let done = |result: Result<(), StoreError>| result.map(|()| Delivery::Done);
    let outgoing: Outgoing = match serde_json::from_str(&item.payload) {
        Ok(outgoing) => outgoing,
        Err(error) => {
            tracing::error!(id = item.id, %error, "dropping an unreadable outbox item");
            return done(state.store.mark_sent(item.id).await);
        }
    };
    if let Outgoing::Fetch { cx, request } = &outgoing {
        return done(
            fetch_into_queue(state, item, request, |event| {
                serde_json::to_string(&InboundPayload::Engine { cx: cx.clone(), event })
            })
            .await,
        );
    }
    let key = message_key(item);
    if may_have_been_sent(state, item) && found_in_cx(state, &outgoing, &key).await {
        return done(state.store.mark_sent(item.id).await);
    }
    let started = Instant::now();
    let result = call_cx(state, &outgoing, &key).await;
    state.metrics.observe_cx_latency(started.elapsed());
    match result {
        Ok(()) => {
            match outgoing {
                Outgoing::Text { .. } | Outgoing::Buttons { .. } => state.metrics.count_reply(),
                Outgoing::DeliverToAgent { .. } => state.metrics.count_handoff(),
                Outgoing::Finish { .. } => state.metrics.count_resolve(),
                Outgoing::Note { .. } | Outgoing::Fetch { .. } => {}
            }
            done(state.store.mark_sent(item.id).await)
        }
        Err(error) => {
            let retry = Retry { retryable: error.retryable, after: error.retry_after };
            if retry_later(state, item, retry, outgoing.kind(), &error).await? {
                return Ok(Delivery::Retrying);
            }
            escalate(state, outgoing.cx(), &outgoing, &error).await;
            done(state.store.mark_sent(item.id).await)
        }
    }
}

/// Performs a `fetch` item and queues its answer as the conversation's next event (`answer`
/// turns the `FetchDone` event into the queued JSON), then removes the item. Recorded before
/// the item is removed: a crash in between repeats the fetch, and the dedup key drops its
/// second answer.
pub(super) async fn fetch_into_queue(
    state: &AppState,
    item: &OutboxItem,
    request: &FetchRequest,
    answer: impl FnOnce(Event) -> serde_json::Result<String>,
) -> Result<(), StoreError> {
    let result = perform_fetch(state, request).await;
    let event = Event::FetchDone { fetch: request.id, result };
    let text = answer(event).map_err(|e| StoreError::Database(e.to_string()))?;
    let dedup = format!("fetch:{}:{}:{}", item.conversation, item.id, request.id.0);
    state.store.record_inbound(&dedup, &item.conversation, &text, state.clock.now()).await?;
    state.store.mark_sent(item.id).await
}

/// How a failed call may be tried again.
#[derive(Clone, Copy, Debug)]
pub(super) struct Retry {
    /// Worth trying again (transient failure).
    pub retryable: bool,
    /// The pause the server asked for (`Retry-After`).
    pub after: Option<Duration>,
}

/// Counts a failed CX call and, when it is retryable and within the retry budget, schedules
/// the item's next attempt (the server's `Retry-After`, else full-jitter backoff) and waits for
/// it. False when the item is past help: the caller gives up on it.
pub(super) async fn retry_later(
    state: &AppState,
    item: &OutboxItem,
    retry: Retry,
    kind: &str,
    error: &(dyn std::fmt::Display + Sync),
) -> Result<bool, StoreError> {
    state.metrics.count_cx_error();
    if !retry.retryable || item.attempts + 1 >= state.config.limits.outbox_retry_budget {
        return Ok(false);
    }
    let pause = retry.after.unwrap_or_else(|| backoff(item.attempts));
    let retry_at =
        state.clock.now() + chrono::Duration::from_std(pause).unwrap_or(chrono::Duration::zero());
    tracing::warn!(conversation = %item.conversation, kind, attempt = item.attempts + 1,
        %error, "CX call failed, will retry");
    state.store.mark_failed(item.id, retry_at).await?;
    if retry.after.is_none() || retry_at <= state.clock.now() {
        tokio::time::sleep(pause.min(MAX_BACKOFF)).await;
    }
    Ok(true)
}

/// Gives up on one item and makes sure a human sees the conversation instead of silence.
async fn escalate(state: &AppState, cx: &CxRef, outgoing: &Outgoing, error: &DeliveryError) {
    state.metrics.count_escalation();
    tracing::error!(conversation = %cx.conversation_id, kind = outgoing.kind(), %error,
        "CX delivery failed past the retry budget; handing the conversation to a human");
    if !matches!(outgoing, Outgoing::DeliverToAgent { .. }) {
        if let Err(error) = state.cx.deliver_to_agent(&cx.conversation_id).await {
            tracing::error!(conversation = %cx.conversation_id, %error, "handing to a human failed too");
        }
    }
}

/// The key of the message an outbox item makes in CX (its `source_id`): the same for every
/// attempt of the item, different for every item.
pub fn message_key(item: &OutboxItem) -> String {
    format!("botrun:{}:{}", item.conversation, item.id)
}

/// Whether an earlier attempt may have created the item's message without botrun noting it:
/// the item failed before (a timeout leaves the outcome unknown), or it was queued before this
/// process started, so the process that died may have been in the middle of sending it. Items
/// go out strictly in order, so only the first of a conversation can be in that state; the
/// others are read back only when they fail.
fn may_have_been_sent(state: &AppState, item: &OutboxItem) -> bool {
    item.attempts > 0 || item.not_before < state.started_at
}

/// True when CX already shows the message `outgoing` makes with `key` (read back from the
/// conversation's messages). CX calls that make no message, a CX without a listing and a failed
/// read-back all answer false: the item is sent, and CX's own unique `source_id` still refuses
/// a repeat where CX keeps one.
async fn found_in_cx(state: &AppState, outgoing: &Outgoing, key: &str) -> bool {
    let (Outgoing::Text { cx, .. } | Outgoing::Buttons { cx, .. } | Outgoing::Note { cx, .. }) =
        outgoing
    else {
        return false;
    };
    match state.cx.already_sent(&cx.conversation_id, key).await {
        Ok(Some(true)) => {
            tracing::info!(conversation = %cx.conversation_id, key,
                "CX already has this message (sent before a restart); not sending it again");
            state.metrics.count_resent_skipped();
            true
        }
        Ok(_) => false,
        Err(error) => {
            tracing::warn!(conversation = %cx.conversation_id, key, %error,
                "cannot read CX's messages back; sending, CX refuses a repeated key");
            false
        }
    }
}

async fn call_cx(state: &AppState, outgoing: &Outgoing, key: &str) -> Result<(), DeliveryError> {
    let cx = &state.cx;
    match outgoing {
        Outgoing::Text { cx: r, text } => cx.send_text(&r.conversation_id, text, false, key).await,
        Outgoing::Buttons { cx: r, buttons, fallback, prompt } => {
            let as_buttons = state.config.buttons;
            let content = Outgoing::buttons_content(prompt.as_deref(), fallback, as_buttons);
            if as_buttons {
                cx.send_buttons(&r.conversation_id, &content, buttons, key).await
            } else {
                cx.send_text(&r.conversation_id, &content, false, key).await
            }
        }
        Outgoing::Note { cx: r, text } => cx.send_text(&r.conversation_id, text, true, key).await,
        Outgoing::DeliverToAgent { cx: r } => cx.deliver_to_agent(&r.conversation_id).await,
        Outgoing::Finish { cx: r } => cx.finish(&r.conversation_id).await,
        Outgoing::Fetch { .. } => Ok(()),
    }
}

/// Performs a bot's `fetch`, refusing hosts outside `fetch.allow_hosts`.
async fn perform_fetch(state: &AppState, request: &FetchRequest) -> FetchResult {
    let failed = |reason: String| FetchResult::Failed { reason };
    let Ok(url) = url::Url::parse(&request.url) else {
        return failed(format!("`{}` is not a URL", request.url));
    };
    let host = url.host_str().unwrap_or_default();
    if !state.config.fetch.allow_hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(host)) {
        return failed(format!("host `{host}` is not in fetch.allow_hosts"));
    }
    let method = match request.method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    };
    let mut builder =
        state.http.request(method, url).timeout(Duration::from_millis(request.timeout_ms.max(1)));
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    let response = match builder.send().await {
        Ok(response) => response,
        Err(error) => return failed(format!("request failed: {error}")),
    };
    let status = response.status().as_u16();
    if !response.status().is_success() {
        return failed(format!("status {status}"));
    }
    match response.text().await {
        Ok(text) => {
            let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
            FetchResult::Ok { status, body }
        }
        Err(error) => failed(format!("reading the body failed: {error}")),
    }
}
