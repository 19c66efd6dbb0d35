//! Webhook delivery: one ordered queue per target URL, optional signatures, and Chatwoot's
//! failure rules (`lib/webhooks/trigger.rb`, `app/jobs/webhook_job.rb`,
//! `app/jobs/agent_bots/webhook_job.rb`):
//!
//! - an agent bot's delivery is retried only when it answers 429 or 500 (3 attempts in all, 3 s
//!   apart); any other failure — another status, a timeout, no connection — is final;
//! - an account webhook's delivery is never retried;
//! - when an agent bot's delivery of `message_created` / `message_updated` finally fails and the
//!   message's conversation is `pending`, the conversation is handed to humans (`open`), unless
//!   the account keeps it pending (`keep_pending_on_bot_failure`).
//!
//! Deliveries are at least once and unordered in CX: with a replay lag set
//! ([`Emulator::set_replay_lag`]), every event is posted a second time, with the same delivery
//! id, after that many later events to the same target (or once the queue has been idle for
//! [`REPLAY_FLUSH`]) — the duplicate a lost 2xx answer causes, arriving out of order.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc;

use super::handle::{lock, Emulator, Inner};
use super::model::{Notification, Status, Target};
use crate::cx::sign;

/// How long a queue with late copies waits for another event before posting them all.
pub(crate) const REPLAY_FLUSH: Duration = Duration::from_millis(150);

#[derive(Clone)]
pub(super) struct Job {
    pub generation: u64,
    pub notification: Notification,
}

/// What happened to one event sent to one target.
#[derive(Clone, Debug, Serialize)]
pub struct DeliveryRecord {
    /// The `X-Chatwoot-Delivery` id, the same on every attempt.
    pub delivery_id: String,
    pub url: String,
    /// An account webhook or an agent bot.
    pub target: Target,
    pub event: String,
    pub conversation_id: Option<u64>,
    /// The message a `message_created` / `message_updated` event is about.
    pub message_id: Option<u64>,
    pub attempts: u32,
    pub delivered: bool,
    /// Status of the last attempt, when the target answered at all.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub finished_at: DateTime<Utc>,
    /// True for the late second copy of an event (see [`Emulator::set_replay_lag`]).
    pub replayed: bool,
}

/// Outcome of one attempt.
enum Attempt {
    Delivered(u16),
    /// Failed; `Some(status)` when the target answered at all.
    Failed(Option<u16>, String),
}

/// Chatwoot's `RETRYABLE_AGENT_BOT_STATUSES`.
const RETRYABLE_AGENT_BOT_STATUSES: [u16; 2] = [429, 500];

/// Events whose failed agent-bot delivery hands a pending conversation to humans
/// (`Webhooks::Trigger::SUPPORTED_ERROR_HANDLE_EVENTS`).
const HANDOFF_EVENTS: [&str; 2] = ["message_created", "message_updated"];

/// True when a failed attempt is tried again.
fn retryable(inner: &Inner, target: Target, status: Option<u16>) -> bool {
    match (target, status) {
        (Target::AccountWebhook, _) => false,
        (Target::AgentBot, Some(status)) => RETRYABLE_AGENT_BOT_STATUSES.contains(&status),
        (Target::AgentBot, None) => inner.options.retry_unreachable,
    }
}

/// A copy of a delivered event, posted again once `after` more events have gone out.
struct LateCopy {
    job: Job,
    delivery_id: String,
    after: usize,
}

/// Works through one target's queue in order until the emulator is gone or the queue closes.
pub(super) async fn run_queue(inner: Weak<Inner>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut late: VecDeque<LateCopy> = VecDeque::new();
    loop {
        let next = if late.is_empty() {
            jobs.recv().await
        } else {
            match tokio::time::timeout(REPLAY_FLUSH, jobs.recv()).await {
                Ok(next) => next,
                Err(_idle) => {
                    let Some(inner) = inner.upgrade() else { return };
                    let emulator = Emulator { inner };
                    while let Some(copy) = late.pop_front() {
                        replay(&emulator, copy).await;
                    }
                    continue;
                }
            }
        };
        let Some(job) = next else { return };
        let Some(inner) = inner.upgrade() else { return };
        let emulator = Emulator { inner };
        if job.generation == emulator.inner.generation.load(Ordering::SeqCst) {
            let delivery_id = crate::crypto::random_hex(16);
            deliver(&emulator, job.clone(), &delivery_id, false).await;
            for copy in &mut late {
                copy.after = copy.after.saturating_sub(1);
            }
            while late.front().is_some_and(|copy| copy.after == 0) {
                if let Some(copy) = late.pop_front() {
                    replay(&emulator, copy).await;
                }
            }
            let lag = emulator.inner.replay_lag.load(Ordering::SeqCst);
            if lag > 0 {
                emulator.inner.undelivered.fetch_add(1, Ordering::SeqCst);
                late.push_back(LateCopy { job, delivery_id, after: lag });
            }
        }
        emulator.inner.undelivered.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn replay(emulator: &Emulator, copy: LateCopy) {
    if copy.job.generation == emulator.inner.generation.load(Ordering::SeqCst) {
        deliver(emulator, copy.job, &copy.delivery_id, true).await;
    }
    emulator.inner.undelivered.fetch_sub(1, Ordering::SeqCst);
}

async fn deliver(emulator: &Emulator, job: Job, delivery_id: &str, replayed: bool) {
    let inner = &emulator.inner;
    let notification = job.notification;
    let body = notification.body.to_string();
    let mut attempts = 0;
    let (delivered, last_status, last_error) = loop {
        attempts += 1;
        match attempt(inner, &notification.url, &body, delivery_id).await {
            Attempt::Delivered(status) => break (true, Some(status), None),
            Attempt::Failed(status, error) => {
                if attempts > inner.options.webhook_retries
                    || !retryable(inner, notification.target, status)
                {
                    break (false, status, Some(error));
                }
                let spacing = inner.retry_spacing_ms.load(Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(spacing)).await;
                if job.generation != inner.generation.load(Ordering::SeqCst) {
                    return;
                }
            }
        }
    };
    lock(&inner.deliveries).push(DeliveryRecord {
        delivery_id: delivery_id.to_owned(),
        url: notification.url.clone(),
        target: notification.target,
        event: notification.event.clone(),
        conversation_id: notification.conversation_id,
        message_id: notification.message_id,
        attempts,
        delivered,
        last_status,
        last_error,
        finished_at: Utc::now(),
        replayed,
    });
    let hands_off = notification.target == Target::AgentBot
        && HANDOFF_EVENTS.contains(&notification.event.as_str())
        && notification.message_id.is_some()
        && !inner.options.keep_pending_on_bot_failure;
    if !delivered && hands_off {
        hand_to_humans(emulator, job.generation, notification.conversation_id);
    }
}

/// `Webhooks::Trigger#update_conversation_status`: a pending conversation whose bot failed goes
/// to humans.
fn hand_to_humans(emulator: &Emulator, generation: u64, conversation_id: Option<u64>) {
    let Some(conversation_id) = conversation_id else {
        return;
    };
    if generation != emulator.inner.generation.load(Ordering::SeqCst) {
        return;
    }
    let still_with_bot = emulator
        .conversation(conversation_id)
        .is_ok_and(|conversation| conversation.status == Status::Pending);
    if still_with_bot {
        if let Err(refusal) = emulator.set_status(conversation_id, Status::Open) {
            tracing::warn!(%refusal, "could not hand conversation to humans");
        }
    }
}

async fn attempt(inner: &Inner, url: &str, body: &str, delivery_id: &str) -> Attempt {
    let mut request = inner
        .http
        .post(url)
        .header("content-type", "application/json")
        .header("x-chatwoot-delivery", delivery_id)
        .body(body.to_owned());
    if let Some(secret) = &inner.options.webhook_secret {
        let timestamp = Utc::now().timestamp();
        request = request
            .header("x-chatwoot-timestamp", timestamp.to_string())
            .header("x-chatwoot-signature", sign(secret.as_bytes(), timestamp, body.as_bytes()));
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            if response.status().is_success() {
                Attempt::Delivered(status)
            } else {
                Attempt::Failed(Some(status), format!("target answered {status}"))
            }
        }
        Err(error) if error.is_timeout() => Attempt::Failed(None, "timed out".into()),
        Err(error) => Attempt::Failed(None, format!("could not reach target: {error}")),
    }
}
