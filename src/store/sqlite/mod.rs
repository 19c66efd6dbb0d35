//! The SQLite backend: one file in WAL mode. By default `synchronous=FULL`, so an acknowledged
//! webhook survives power loss as well as `kill -9` (each commit is one fsync of the WAL);
//! [`Durability::Process`] (`synchronous=NORMAL`) still survives `kill -9` but may lose the
//! last commits on power loss, in exchange for far fewer fsyncs. Every write goes through one
//! writer task ([`writer`]) that commits concurrent writes together (group commit), so writers
//! never wait on each other's locks; reads use the pool directly (WAL lets them run alongside).

mod batch;
mod readers;
mod writer;
mod writes;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::{
    decision_from_row, from_millis, to_millis, Committed, Cutoffs, DecisionQuery, Durability,
    Heartbeat, Inbound, OutboxItem, Recorded, Snapshot, Store, StoreError, StoreFuture,
    StoredDecision, Swept, Turn, DECISION_COLUMNS, SWEEP_CHUNK,
};
use readers::Readers;
use writer::Writer;
use writes::{Write, Written};

/// The embedded store.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: Writer,
    /// The read connections of a file database (`None` in memory: one connection is the DB).
    readers: Option<Arc<Readers>>,
}

/// How many read connections a file database keeps.
const READERS: usize = 3;

/// Runs a read query on a kept read connection, or on the pool for an in-memory database.
macro_rules! read {
    ($store:expr, $query:expr, $fetch:ident) => {
        match &$store.readers {
            Some(readers) => $query.$fetch(&mut *readers.get().await).await,
            None => $query.$fetch(&$store.pool).await,
        }
    };
}

// After the macro, which it uses.
mod widget;

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` with full durability and applies the
    /// migrations.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(url, Durability::Full).await
    }

    /// Like [`SqliteStore::open`], choosing what a commit waits for.
    pub async fn open_with(url: &str, durability: Durability) -> Result<SqliteStore, StoreError> {
        let (options, in_memory) = connect_options(url, durability)?;
        SqliteStore::open_options(options, in_memory).await
    }

    /// Like [`SqliteStore::open_with`], with the file never growing past about `max_bytes`:
    /// beyond it, writes fail as they would on a full disk until rows are removed (the
    /// retention sweep, or an operator) — a guard for a shared disk, and how tests fill one.
    pub async fn open_capped(
        url: &str,
        durability: Durability,
        max_bytes: u64,
    ) -> Result<SqliteStore, StoreError> {
        let (options, in_memory) = connect_options(url, durability)?;
        let pages = (max_bytes / PAGE_BYTES).max(1);
        SqliteStore::open_options(options.pragma("max_page_count", pages.to_string()), in_memory)
            .await
    }

    async fn open_options(
        options: SqliteConnectOptions,
        in_memory: bool,
    ) -> Result<SqliteStore, StoreError> {
        // An in-memory database exists once per connection, so it gets exactly one. Otherwise
        // the pool serves the migrations and the writer (one per batch); reads have their own.
        let max = if in_memory { 1 } else { 2 };
        if !in_memory {
            crate::sqlite_file::switch_to_wal(&options).await?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            // A ping before every use is one more round trip to the connection's thread for
            // each read; a local file does not go away between two queries.
            .test_before_acquire(false)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        let writer = Writer::start(pool.clone(), in_memory);
        let readers =
            if in_memory { None } else { Some(Arc::new(Readers::open(&options, READERS).await?)) };
        Ok(SqliteStore { pool, writer, readers })
    }

    /// Closes the pool, so writes fail from now on (tests use it to reopen the same file); the
    /// read connections close when the last clone of the store is dropped.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// SQLite's default page size, which this store keeps.
const PAGE_BYTES: u64 = 4096;

/// The connection settings for `url`, and whether it names an in-memory database.
fn connect_options(
    url: &str,
    durability: Durability,
) -> Result<(SqliteConnectOptions, bool), StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::BadUrl { url: url.to_owned(), reason: e.to_string() })?;
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    if let Some(parent) = options.get_filename().parent() {
        if !in_memory && !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::BadUrl {
                url: url.to_owned(),
                reason: format!("cannot create `{}`: {e}", parent.display()),
            })?;
        }
    }
    // No journal mode here: `open_options` switches the file to WAL once, before the pool opens
    // (see `crate::sqlite_file`), and an in-memory database has no WAL.
    let options = options
        .create_if_missing(true)
        .synchronous(match durability {
            Durability::Full => SqliteSynchronous::Full,
            Durability::Process => SqliteSynchronous::Normal,
        })
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    Ok((options, in_memory))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A write answered with the wrong kind of result: a bug in this module, reported, not panicked.
fn unexpected(written: &Written) -> StoreError {
    StoreError::Database(format!("store writer answered {written:?} to the wrong request"))
}

impl Store for SqliteStore {
    fn record_inbound<'a>(
        &'a self,
        dedup_key: &'a str,
        conversation: &'a str,
        payload: &'a str,
        now: DateTime<Utc>,
    ) -> StoreFuture<'a, Recorded> {
        let write = Write::RecordInbound {
            dedup_key: dedup_key.to_owned(),
            conversation: conversation.to_owned(),
            payload: payload.to_owned(),
            at: to_millis(now),
        };
        Box::pin(async move {
            match self.writer.submit(write).await? {
                Written::Recorded(recorded) => Ok(recorded),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn next_inbound<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<Inbound>> {
        Box::pin(async move {
            let query = sqlx::query(
                "SELECT id, payload, received_at FROM inbound WHERE conversation = ? \
                 ORDER BY id LIMIT 1",
            )
            .bind(conversation);
            let row = read!(self, query, fetch_optional)?;
            Ok(row.map(|row| Inbound {
                id: row.get("id"),
                conversation: conversation.to_owned(),
                payload: row.get("payload"),
                received_at: from_millis(row.get("received_at")),
            }))
        })
    }

    fn discard_inbound(&self, id: i64) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.writer.submit(Write::DiscardInbound { id }).await.map(drop) })
    }

    fn queued_inbound(&self, conversation: &str) -> StoreFuture<'_, u64> {
        let conversation = conversation.to_owned();
        Box::pin(async move {
            let query = sqlx::query_scalar("SELECT COUNT(*) FROM inbound WHERE conversation = ?")
                .bind(conversation);
            let n: i64 = read!(self, query, fetch_one)?;
            Ok(count(n))
        })
    }

    fn load_conversation<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<Snapshot>> {
        Box::pin(async move {
            let query =
                sqlx::query("SELECT version, state FROM conversations WHERE conversation = ?")
                    .bind(conversation);
            let row = read!(self, query, fetch_optional)?;
            Ok(row.map(|row| Snapshot { version: row.get("version"), state: row.get("state") }))
        })
    }

    fn commit_turn<'a>(&'a self, turn: &'a Turn, now: DateTime<Utc>) -> StoreFuture<'a, Committed> {
        let write = Write::CommitTurn { turn: turn.clone(), at: to_millis(now) };
        Box::pin(async move {
            match self.writer.submit(write).await? {
                Written::Committed(committed) => Ok(committed),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn next_outbox<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<OutboxItem>> {
        Box::pin(async move {
            let query = sqlx::query(
                "SELECT id, payload, attempts, not_before FROM outbox WHERE conversation = ? \
                 ORDER BY id LIMIT 1",
            )
            .bind(conversation);
            let row = read!(self, query, fetch_optional)?;
            Ok(row.map(|row| OutboxItem {
                id: row.get("id"),
                conversation: conversation.to_owned(),
                payload: row.get("payload"),
                attempts: u32::try_from(row.get::<i64, _>("attempts")).unwrap_or(u32::MAX),
                not_before: from_millis(row.get("not_before")),
            }))
        })
    }

    fn mark_sent(&self, id: i64) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.writer.submit(Write::MarkSent { id }).await.map(drop) })
    }

    fn mark_failed(&self, id: i64, retry_at: DateTime<Utc>) -> StoreFuture<'_, u32> {
        let write = Write::MarkFailed { id, retry_at: to_millis(retry_at) };
        Box::pin(async move {
            match self.writer.submit(write).await? {
                Written::Attempts(attempts) => Ok(attempts),
                other => Err(unexpected(&other)),
            }
        })
    }

    /// One process: nothing is leased, so every conversation with work counts.
    fn conversations_with_work(&self, _now: DateTime<Utc>) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async move {
            let query = sqlx::query_scalar(
                "SELECT conversation FROM inbound UNION SELECT conversation FROM outbox",
            );
            let rows: Vec<String> = read!(self, query, fetch_all)?;
            Ok(rows)
        })
    }

    fn fire_due_timers(&self, now: DateTime<Utc>) -> StoreFuture<'_, Vec<String>> {
        let write = Write::FireDueTimers { at: to_millis(now) };
        Box::pin(async move {
            match self.writer.submit(write).await? {
                Written::Conversations(conversations) => Ok(conversations),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn next_timer_due(&self) -> StoreFuture<'_, Option<DateTime<Utc>>> {
        Box::pin(async move {
            let query = sqlx::query_scalar("SELECT MIN(due_at) FROM timers");
            let due: Option<i64> = read!(self, query, fetch_one)?;
            Ok(due.map(from_millis))
        })
    }

    fn outbox_depth(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let query = sqlx::query_scalar("SELECT COUNT(*) FROM outbox");
            let n: i64 = read!(self, query, fetch_one)?;
            Ok(count(n))
        })
    }

    fn sweep(&self, cutoffs: Cutoffs) -> StoreFuture<'_, Swept> {
        let (dedup_before, conversations_before, decisions_before) = (
            to_millis(cutoffs.dedup_keys),
            to_millis(cutoffs.conversations),
            to_millis(cutoffs.decisions),
        );
        let write = move || Write::Sweep { dedup_before, conversations_before, decisions_before };
        Box::pin(async move {
            let mut total = Swept::default();
            // One chunk per writer job, so the writes queued meanwhile go between chunks.
            loop {
                let chunk = match self.writer.submit(write()).await? {
                    Written::Swept(chunk) => chunk,
                    other => return Err(unexpected(&other)),
                };
                total.dedup_keys += chunk.dedup_keys;
                total.conversations += chunk.conversations;
                total.decisions += chunk.decisions;
                let limit = SWEEP_CHUNK.unsigned_abs();
                if chunk.dedup_keys < limit
                    && chunk.conversations < limit
                    && chunk.decisions < limit
                {
                    return Ok(total);
                }
            }
        })
    }

    fn probe_write(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.writer.submit(Write::Probe).await.map(drop) })
    }

    fn decisions<'a>(&'a self, query: &'a DecisionQuery) -> StoreFuture<'a, Vec<StoredDecision>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {DECISION_COLUMNS} FROM decisions WHERE at >= ? AND at < ? \
                 AND (? IS NULL OR bot = ?) ORDER BY id"
            );
            let query = sqlx::query(&sql)
                .bind(to_millis(query.since))
                .bind(to_millis(query.until))
                .bind(query.bot.as_deref())
                .bind(query.bot.as_deref());
            let rows = read!(self, query, fetch_all)?;
            Ok(rows.iter().map(decision_from_row).collect::<Result<_, _>>()?)
        })
    }

    /// One SQLite file belongs to one `botrun serve`.
    fn shared_by_replicas(&self) -> bool {
        false
    }

    fn claim<'a>(
        &'a self,
        _lane: &'a str,
        _owner: &'a str,
        _now: DateTime<Utc>,
        _until: DateTime<Utc>,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async { Ok(true) })
    }

    fn release<'a>(&'a self, _lane: &'a str, _owner: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn heartbeat<'a>(&'a self, _beat: Heartbeat<'a>) -> StoreFuture<'a, u32> {
        Box::pin(async { Ok(1) })
    }

    fn widget_history(&self) -> Arc<dyn crate::widget::WidgetStore> {
        Arc::new(widget::SqliteHistory { store: self.clone() })
    }
}
