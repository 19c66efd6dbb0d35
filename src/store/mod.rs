//! Store: durable conversation state, dedup keys, the inbound queue, the outbox and timers,
//! written in one transaction per turn, and the widget's history ([`Store::widget_history`],
//! implementing `widget::WidgetStore` on the same connections). A [`Store`] trait with a SQLite backend (the embedded
//! default), a PostgreSQL one (replicas sharing a database) and one conformance suite
//! (`tests/store/conformance.rs`) every backend runs. Both backends commit concurrent writes
//! together (group commit), so callers may call freely from many tasks at once.
//!
//! The store knows nothing about CX, the engine or HTTP: conversations are opaque keys, states
//! are opaque bytes (the engine's snapshot), and inbound events, outbox items and timer events
//! are opaque JSON strings the server defines. It must not import `server`, `cx` or `engine`;
//! from `widget` it takes only the history's trait and record types.

mod decisions;
mod postgres;
mod sqlite;

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

pub use decisions::{DecisionQuery, DecisionRecord, StoredDecision};
pub use postgres::{PostgresStore, DEFAULT_CONNECTIONS};
pub use sqlite::SqliteStore;

/// What every store call returns: a boxed future so `Arc<dyn Store>` works.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer committed a turn for this conversation first; reload and retry.
    #[error("conversation `{conversation}` changed underneath (expected version {expected}, found {found})")]
    Conflict { conversation: String, expected: i64, found: i64 },
    /// The store URL cannot be used.
    #[error("store url `{url}` is not supported: {reason}")]
    BadUrl { url: String, reason: String },
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        StoreError::Database(error.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> StoreError {
        StoreError::Database(format!("migration failed: {error}"))
    }
}

/// What a commit waits for before it returns (SQLite; PostgreSQL follows its own settings).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// On disk, fsynced: survives power loss.
    #[default]
    Full,
    /// Handed to the operating system: survives a crash of botrun (`kill -9`), not of the machine.
    Process,
}

/// The result of recording an inbound event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Stored for processing, with its queue id.
    Accepted(i64),
    /// This dedup key was seen before: nothing stored.
    Duplicate,
}

/// One queued inbound event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inbound {
    pub id: i64,
    pub conversation: String,
    pub payload: String,
    pub received_at: DateTime<Utc>,
}

/// A conversation's stored state and its version (for compare-and-swap).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub version: i64,
    pub state: Vec<u8>,
}

/// A timer row to schedule: `payload` is queued as an inbound event when `due` passes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimerRow {
    pub key: String,
    pub due: DateTime<Utc>,
    pub payload: String,
}

/// Everything one turn changes, committed atomically.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Turn {
    pub conversation: String,
    /// The version read before the turn; 0 for a conversation never stored.
    pub expected_version: i64,
    pub state: Vec<u8>,
    /// Outbox items, delivered in this order after any earlier ones of the conversation.
    pub outbox: Vec<String>,
    pub add_timers: Vec<TimerRow>,
    /// Timer keys to forget.
    pub cancel_timers: Vec<String>,
    /// The inbound event this turn consumed (removed from the queue in the same transaction).
    pub processed: Option<i64>,
    /// What the bot decided in this turn, one record per engine step.
    pub decisions: Vec<DecisionRecord>,
}

/// What [`Store::commit_turn`] stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Committed {
    /// The conversation's new version.
    pub version: i64,
    /// The ids of the turn's outbox items, in the turn's order (ascending, so after any item
    /// queued before), for the caller to deliver and mark sent without reading them back.
    pub outbox: Vec<i64>,
}

/// What [`Store::sweep`] deletes: everything older than these instants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cutoffs {
    pub dedup_keys: DateTime<Utc>,
    pub conversations: DateTime<Utc>,
    /// Decision records made before this instant.
    pub decisions: DateTime<Utc>,
}

/// What one sweep deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub dedup_keys: u64,
    pub conversations: u64,
    pub decisions: u64,
}

/// Rows one sweep statement deletes at most, so writes queued behind it wait only briefly.
pub(crate) const SWEEP_CHUNK: i64 = 2000;

/// Widget conversations one sweep chunk deletes at most (each goes with all its activities).
pub(crate) const WIDGET_SWEEP_CHUNK: i64 = 500;

/// One outbox item waiting for delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    pub conversation: String,
    pub payload: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Do not try again before this instant.
    pub not_before: DateTime<Utc>,
}

/// Durable storage for `botrun serve`. Every method is one transaction.
pub trait Store: Send + Sync + 'static {
    /// Remembers `dedup_key` and queues `payload` for `conversation`, or reports a duplicate.
    fn record_inbound<'a>(
        &'a self,
        dedup_key: &'a str,
        conversation: &'a str,
        payload: &'a str,
        now: DateTime<Utc>,
    ) -> StoreFuture<'a, Recorded>;

    /// The oldest queued inbound event of a conversation.
    fn next_inbound<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<Inbound>>;

    /// Drops a queued inbound event that produced no turn (e.g. ignored by the bot's owner).
    fn discard_inbound(&self, id: i64) -> StoreFuture<'_, ()>;

    /// How many inbound events a conversation has queued.
    fn queued_inbound(&self, conversation: &str) -> StoreFuture<'_, u64>;

    /// The stored state of a conversation, if any.
    fn load_conversation<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<Snapshot>>;

    /// Commits a turn if the conversation is still at `expected_version`; returns the new
    /// version and the ids its outbox items got, or [`StoreError::Conflict`] and changes nothing.
    fn commit_turn<'a>(&'a self, turn: &'a Turn, now: DateTime<Utc>) -> StoreFuture<'a, Committed>;

    /// The first undelivered outbox item of a conversation (items go out strictly in order).
    fn next_outbox<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<OutboxItem>>;

    /// Removes a delivered item.
    fn mark_sent(&self, id: i64) -> StoreFuture<'_, ()>;

    /// Records a failed attempt; returns the number of failed attempts so far.
    fn mark_failed(&self, id: i64, retry_at: DateTime<Utc>) -> StoreFuture<'_, u32>;

    /// Conversations with queued inbound events or undelivered outbox items that no replica
    /// holds a lease on at `now` (restart recovery, and a replica's look for unheld work: a
    /// conversation another replica is working on is left to it).
    fn conversations_with_work(&self, now: DateTime<Utc>) -> StoreFuture<'_, Vec<String>>;

    /// Moves every timer due at `now` into its conversation's inbound queue, in one
    /// transaction, and returns the conversations that received work.
    fn fire_due_timers(&self, now: DateTime<Utc>) -> StoreFuture<'_, Vec<String>>;

    /// The earliest scheduled timer, so the timer loop knows how long to sleep.
    fn next_timer_due(&self) -> StoreFuture<'_, Option<DateTime<Utc>>>;

    /// Undelivered outbox items across all conversations (a metric).
    fn outbox_depth(&self) -> StoreFuture<'_, u64>;

    /// Proves the store can commit a write right now (readiness): writes and removes a row
    /// about one page in size, in one committed transaction, leaving nothing behind.
    fn probe_write(&self) -> StoreFuture<'_, ()>;

    /// Deletes, a chunk at a time, what is older than the cutoffs: dedup keys received before
    /// `dedup_keys`, decision records made before `decisions`, and conversations last changed
    /// before `conversations` that have nothing queued, nothing to deliver and no timer (a later
    /// message starts them afresh).
    fn sweep(&self, cutoffs: Cutoffs) -> StoreFuture<'_, Swept>;

    /// The decision records `query` selects, oldest first (`botrun report`).
    fn decisions<'a>(&'a self, query: &'a DecisionQuery) -> StoreFuture<'a, Vec<StoredDecision>>;

    /// Whether several processes may share this store (then workers take leases).
    fn shared_by_replicas(&self) -> bool;

    /// Takes or renews the lease on `lane` (a conversation's work) for `owner` until `until`;
    /// false when another owner holds a lease that has not expired at `now`. With a store that
    /// is not shared, the process's own one-worker-per-conversation rule is enough.
    fn claim<'a>(
        &'a self,
        lane: &'a str,
        owner: &'a str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreFuture<'a, bool>;

    /// Gives up `owner`'s lease on `lane`, if it holds it.
    fn release<'a>(&'a self, lane: &'a str, owner: &'a str) -> StoreFuture<'a, ()>;

    /// Says that replica `owner` is alive at `now`: renews every lease it holds until `until`
    /// and returns how many replicas (itself included) have said so since `alive_since`. One
    /// round trip, so a replica can afford it every second; a store that is not shared answers 1.
    fn heartbeat<'a>(&'a self, beat: Heartbeat<'a>) -> StoreFuture<'a, u32>;

    /// The widget's history in this store: the same database, connections and durability.
    fn widget_history(&self) -> std::sync::Arc<dyn crate::widget::WidgetStore>;
}

/// One replica's "still alive" message to a shared store (see [`Store::heartbeat`]).
#[derive(Clone, Copy, Debug)]
pub struct Heartbeat<'a> {
    pub owner: &'a str,
    pub now: DateTime<Utc>,
    /// Its leases last until then.
    pub until: DateTime<Utc>,
    /// Replicas last seen before this instant count as gone.
    pub alive_since: DateTime<Utc>,
}

/// Opens the store named by a URL: `sqlite://path` (created if missing), `sqlite::memory:`
/// or `postgres://…` (with [`DEFAULT_CONNECTIONS`]).
pub async fn open(
    url: &str,
    durability: Durability,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    open_pooled(url, durability, None).await
}

/// Like [`open`], with a PostgreSQL pool of `connections` when given (SQLite ignores it).
pub(crate) async fn open_pooled(
    url: &str,
    durability: Durability,
    connections: Option<u32>,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        return Ok(std::sync::Arc::new(SqliteStore::open_with(url, durability).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let connections = connections.unwrap_or(DEFAULT_CONNECTIONS);
        return Ok(std::sync::Arc::new(PostgresStore::open_with(url, None, connections).await?));
    }
    Err(StoreError::BadUrl {
        url: url.to_owned(),
        reason: "use `sqlite://FILE` or `postgres://user@host/database`".to_owned(),
    })
}

/// The dedup key prefix of the readiness probe's row; no CX or widget key starts with it.
pub(crate) const PROBE_KEY: &str = "botrun:write-probe:";

/// How many characters the probe's key carries, so its row needs a page or so of new space.
pub(crate) const PROBE_FILL: usize = 3000;

/// The head of a decision insert; both backends append their `VALUES`.
pub(crate) const DECISION_INSERT: &str = "INSERT INTO decisions (conversation, bot, at, event, \
     customer_text, intent, missed, question, state_before, state_after, outcome, rule, reason, \
     note) ";

/// The columns a decision read selects, in [`decision_from_row`]'s order.
pub(crate) const DECISION_COLUMNS: &str = "conversation, bot, at, event, customer_text, intent, \
     missed, question, state_before, state_after, outcome, rule, reason, note";

/// A decision row read back by either backend.
pub(crate) fn decision_from_row<'r, R>(row: &'r R) -> Result<StoredDecision, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(StoredDecision {
        conversation: row.try_get(0)?,
        record: DecisionRecord {
            bot: row.try_get(1)?,
            at: from_millis(row.try_get(2)?),
            event: row.try_get(3)?,
            text: row.try_get(4)?,
            intent: row.try_get(5)?,
            missed: row.try_get(6)?,
            question: row.try_get(7)?,
            state_before: row.try_get(8)?,
            state_after: row.try_get(9)?,
            outcome: row.try_get(10)?,
            rule: row.try_get(11)?,
            reason: row.try_get(12)?,
            note: row.try_get(13)?,
        },
    })
}

pub(crate) fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
