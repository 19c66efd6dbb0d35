//! [`Emulator`]: the shared, cloneable handle on one emulated tenant. HTTP handlers and tests
//! call the same methods, so the control API and in-process control cannot drift apart.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::delivery::{self, DeliveryRecord, Job};
use super::faults::{Fault, FaultBook, FaultSpec};
use super::model::{Conversation, Message, Notification, Refusal, Status, World};
use super::EmulatorOptions;

/// Recorded calls kept at most; older ones are dropped first.
const MAX_RECORDED_CALLS: usize = 20_000;

/// One API call as the emulator saw it.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedCall {
    pub id: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub body: String,
    /// `None` while unanswered, and for stalled or reset calls.
    pub status: Option<u16>,
    /// The injected fault, if any (`too_many_requests`, `stall`, …).
    pub fault: Option<String>,
    pub at: DateTime<Utc>,
    pub duration_ms: Option<u64>,
}

/// Cheap to clone; every clone sees the same tenant.
#[derive(Clone)]
pub struct Emulator {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub options: EmulatorOptions,
    pub world: Mutex<World>,
    pub tokens: Mutex<HashMap<String, Instant>>,
    calls: Mutex<Vec<RecordedCall>>,
    next_call_id: AtomicU64,
    pub faults: Mutex<FaultBook>,
    pub deliveries: Mutex<Vec<DeliveryRecord>>,
    pub retry_spacing_ms: AtomicU64,
    /// Every event is posted again after this many later ones to its target; 0: never.
    pub replay_lag: AtomicUsize,
    /// Webhook posts queued or under way (late copies included).
    pub undelivered: AtomicUsize,
    /// Bumped by `reset`, so queued deliveries of the old world are dropped.
    pub generation: AtomicU64,
    queues: Mutex<HashMap<String, mpsc::UnboundedSender<Job>>>,
    pub http: reqwest::Client,
    /// Counts changes of the world, for whoever saves it ([`super::persist`]).
    changes: watch::Sender<u64>,
    /// Files attached through the API, by the key in their `data_url` ([`super::files`]).
    pub files: Mutex<HashMap<String, super::files::UploadedFile>>,
}

/// Locks a mutex, taking the data even if a panicking thread poisoned it: every critical
/// section here leaves the data consistent before anything can panic.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Emulator {
    pub fn new(options: EmulatorOptions) -> Self {
        let world = World::new(options.per_kind_ids);
        Self::with_world(options, world)
    }

    /// An emulator that starts from `world` (one read back by [`super::persist::load`]).
    pub(crate) fn with_world(options: EmulatorOptions, world: World) -> Self {
        let spacing = u64::try_from(options.webhook_retry_spacing.as_millis()).unwrap_or(u64::MAX);
        let http =
            reqwest::Client::builder().timeout(options.webhook_timeout).build().unwrap_or_default();
        Self {
            inner: Arc::new(Inner {
                world: Mutex::new(world),
                options,
                tokens: Mutex::new(HashMap::new()),
                calls: Mutex::new(Vec::new()),
                next_call_id: AtomicU64::new(1),
                faults: Mutex::new(FaultBook::default()),
                deliveries: Mutex::new(Vec::new()),
                retry_spacing_ms: AtomicU64::new(spacing),
                replay_lag: AtomicUsize::new(0),
                undelivered: AtomicUsize::new(0),
                generation: AtomicU64::new(0),
                queues: Mutex::new(HashMap::new()),
                http,
                changes: watch::channel(0).0,
                files: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn options(&self) -> &EmulatorOptions {
        &self.inner.options
    }

    /// Runs `change` on the world and queues the notifications it caused while still holding
    /// the lock, so every target sees events in the order the world changed.
    pub(super) fn change<T>(
        &self,
        change: impl FnOnce(&mut World) -> Result<(T, Vec<Notification>), Refusal>,
    ) -> Result<T, Refusal> {
        let mut world = lock(&self.inner.world);
        // Counted even when refused: a refused change may have done part of its work.
        self.inner.changes.send_modify(|count| *count += 1);
        let (value, notifications) = change(&mut world)?;
        for notification in notifications {
            self.enqueue(notification);
        }
        drop(world);
        Ok(value)
    }

    /// Wakes the receiver after each change of the world.
    pub(super) fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Reads the world under its lock.
    pub fn read<T>(&self, read: impl FnOnce(&World) -> T) -> T {
        read(&lock(&self.inner.world))
    }

    fn enqueue(&self, notification: Notification) {
        let job = Job { generation: self.inner.generation.load(Ordering::SeqCst), notification };
        let mut queues = lock(&self.inner.queues);
        let url = job.notification.url.clone();
        let job = match queues.get(&url) {
            Some(sender) => match sender.send(job) {
                Ok(()) => {
                    self.inner.undelivered.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(%url, "no async runtime: webhook not delivered");
            return;
        };
        let (sender, receiver) = mpsc::unbounded_channel();
        // The receiver is alive: it was created on the line above.
        let _ = sender.send(job);
        self.inner.undelivered.fetch_add(1, Ordering::SeqCst);
        runtime.spawn(delivery::run_queue(Arc::downgrade(&self.inner), receiver));
        queues.insert(url, sender);
    }

    /// Closes every delivery queue; their workers end after the job in hand.
    pub(super) fn stop_deliveries(&self) {
        lock(&self.inner.queues).clear();
    }

    pub fn set_status(
        &self,
        conversation_id: u64,
        status: Status,
    ) -> Result<Conversation, Refusal> {
        self.change(|world| {
            let notifications = world.set_status(conversation_id, status)?;
            Ok((world.conversation(conversation_id)?.clone(), notifications))
        })
    }

    pub fn resolve(&self, conversation_id: u64) -> Result<Conversation, Refusal> {
        self.set_status(conversation_id, Status::Resolved)
    }

    pub fn reopen(&self, conversation_id: u64) -> Result<Conversation, Refusal> {
        self.set_status(conversation_id, Status::Open)
    }

    /// Gives the conversation back to the bot (`pending`).
    pub fn hand_back(&self, conversation_id: u64) -> Result<Conversation, Refusal> {
        self.set_status(conversation_id, Status::Pending)
    }

    /// Removes a webhook, as an admin deleting it in CX would.
    pub(crate) fn remove_webhook(&self, id: u64) -> Result<(), Refusal> {
        self.change(|world| Ok((world.remove_webhook(id).map(drop)?, Vec::new())))
    }

    // ----- reading -----

    pub fn conversations(&self) -> Vec<Conversation> {
        self.read(|world| world.conversations.values().cloned().collect())
    }

    pub fn conversation(&self, conversation_id: u64) -> Result<Conversation, Refusal> {
        self.read(|world| world.conversation(conversation_id).cloned())
    }

    pub fn messages(&self, conversation_id: u64) -> Result<Vec<Message>, Refusal> {
        self.read(|world| {
            world.conversation(conversation_id)?;
            Ok(world.messages_of(conversation_id).to_vec())
        })
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.inner.calls).clone()
    }

    pub(crate) fn clear_calls(&self) {
        lock(&self.inner.calls).clear();
    }

    /// Webhook posts still queued or under way, late copies included: 0 means every event
    /// caused so far has been delivered (or given up on).
    pub fn undelivered(&self) -> usize {
        self.inner.undelivered.load(Ordering::SeqCst)
    }

    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        lock(&self.inner.deliveries).clone()
    }

    // ----- test levers -----

    /// Every issued token stops working; clients must fetch a new one.
    pub fn revoke_tokens(&self) {
        lock(&self.inner.tokens).clear();
    }

    pub fn set_retry_spacing(&self, spacing: Duration) {
        let millis = u64::try_from(spacing.as_millis()).unwrap_or(u64::MAX);
        self.inner.retry_spacing_ms.store(millis, Ordering::SeqCst);
    }

    /// From now on every webhook is delivered twice: the copy (same delivery id) goes out after
    /// `lag` later events to the same target, or when that queue is idle. 0 turns it off.
    pub fn set_replay_lag(&self, lag: usize) {
        self.inner.replay_lag.store(lag, Ordering::SeqCst);
    }

    /// Adds a fault rule; returns its id. Rules are tried in the order they were added.
    pub fn add_fault(&self, spec: FaultSpec) -> Result<u64, Refusal> {
        lock(&self.inner.faults).add(spec)
    }

    pub fn faults(&self) -> Vec<(u64, FaultSpec)> {
        lock(&self.inner.faults).list()
    }

    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    pub(super) fn pick_fault(&self, path: &str) -> Option<Fault> {
        lock(&self.inner.faults).pick(path)
    }

    /// Back to a fresh tenant: seeded inboxes only, no tokens, calls, faults or deliveries;
    /// queued deliveries are dropped. Options (and retry spacing) return to their start values.
    pub fn reset(&self) {
        let mut world = lock(&self.inner.world);
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        *world = World::new(self.inner.options.per_kind_ids);
        self.inner.changes.send_modify(|count| *count += 1);
        drop(world);
        self.revoke_tokens();
        self.clear_calls();
        self.clear_faults();
        lock(&self.inner.deliveries).clear();
        self.set_retry_spacing(self.inner.options.webhook_retry_spacing);
        self.set_replay_lag(0);
    }

    // ----- call recording (used by the fault gate) -----

    pub(super) fn record_call(&self, mut call: RecordedCall) -> u64 {
        let id = self.inner.next_call_id.fetch_add(1, Ordering::SeqCst);
        call.id = id;
        let mut calls = lock(&self.inner.calls);
        if calls.len() >= MAX_RECORDED_CALLS {
            calls.drain(..MAX_RECORDED_CALLS / 10);
        }
        calls.push(call);
        id
    }

    pub(super) fn finish_call(&self, id: u64, status: Option<u16>, duration: Duration) {
        let mut calls = lock(&self.inner.calls);
        if let Some(call) = calls.iter_mut().rev().find(|call| call.id == id) {
            call.status = status;
            call.duration_ms = Some(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX));
        }
    }
}
