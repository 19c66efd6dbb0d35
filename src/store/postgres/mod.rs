//! The PostgreSQL backend, for several `botrun serve` replicas sharing one database. The
//! conversation compare-and-swap is a conditional `UPDATE … WHERE version = $expected` (or an
//! `INSERT … ON CONFLICT DO NOTHING` for a new conversation), so two replicas never both win;
//! due timers are claimed with `FOR UPDATE SKIP LOCKED` so each fires once.
//!
//! What every message does goes through two batching tasks, so that under load a message costs
//! a fraction of a round trip instead of one per call: the frequent writes through the group
//! commit of [`writer`] (one statement per round, [`round`]), the frequent reads through
//! [`reader`]; a lease this process holds for long enough yet is renewed without asking
//! ([`leases`]). The rare calls (timers, sweeps, metrics, heartbeats) go to the pool directly.

mod lanes;
mod leases;
mod reader;
mod round;
mod widget;
mod writer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use leases::HeldLeases;
use reader::{Read, Reader};
use round::{Write, Written};
use writer::Writer;

use super::{
    decision_from_row, Cutoffs, DecisionQuery, StoredDecision, Swept, DECISION_COLUMNS, SWEEP_CHUNK,
};
use super::{
    from_millis, to_millis, Committed, Heartbeat, Inbound, OutboxItem, Recorded, Snapshot, Store,
    StoreError, StoreFuture, Turn, PROBE_FILL, PROBE_KEY,
};

/// The scale-out store.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
    /// One connection of its own for heartbeats, so a pool busy with turns cannot delay them
    /// past the lease and let another replica take conversations this one is still serving.
    beats: PgPool,
    writer: Writer,
    reader: Reader,
    leases: Arc<HeldLeases>,
    /// Statements sent so far, each one round trip (a transaction's `BEGIN` and `COMMIT` too).
    trips: Arc<AtomicU64>,
}

/// The pool size when none is configured.
pub const DEFAULT_CONNECTIONS: u32 = 8;

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl PostgresStore {
    /// Connects to `url` with [`DEFAULT_CONNECTIONS`] and applies the migrations.
    pub async fn open(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::open_with(url, None, DEFAULT_CONNECTIONS).await
    }

    /// Like [`PostgresStore::open`], with every table in `schema` (created if missing) —
    /// tests use one schema each so they can run side by side in one database.
    pub async fn open_in_schema(
        url: &str,
        schema: Option<&str>,
    ) -> Result<PostgresStore, StoreError> {
        PostgresStore::open_with(url, schema, DEFAULT_CONNECTIONS).await
    }

    /// Like [`PostgresStore::open_in_schema`], with a pool of `connections` (at least 2; the
    /// heartbeat has one more of its own). A quarter of them, at least one, may carry write
    /// batches at once and as many read batches; the rest serve the other calls.
    pub async fn open_with(
        url: &str,
        schema: Option<&str>,
        connections: u32,
    ) -> Result<PostgresStore, StoreError> {
        let bad = |reason: String| StoreError::BadUrl { url: url.to_owned(), reason };
        let mut options: PgConnectOptions =
            url.parse().map_err(|e: sqlx::Error| bad(e.to_string()))?;
        if let Some(schema) = schema {
            if !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(bad(format!("schema name `{schema}` must be letters, digits and _")));
            }
            let admin =
                PgPoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).execute(&admin).await?;
            admin.close().await;
            options = options.options([("search_path", schema)]);
        }
        let connections = connections.max(2);
        let pool = PgPoolOptions::new()
            .max_connections(connections)
            // A ping before every use would double the round trips of every call.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        let beats = PgPoolOptions::new().max_connections(1).connect_lazy_with(options);
        let trips = Arc::new(AtomicU64::new(0));
        let lanes = usize::try_from(connections / 4).unwrap_or(1).max(1);
        Ok(PostgresStore {
            writer: Writer::start(pool.clone(), Arc::clone(&trips), lanes),
            reader: Reader::start(pool.clone(), Arc::clone(&trips), lanes),
            pool,
            beats,
            leases: Arc::default(),
            trips,
        })
    }

    /// How many statements this store has sent to PostgreSQL, each one round trip (a
    /// benchmark divides it by the messages it sent).
    pub fn round_trips(&self) -> u64 {
        self.trips.load(Ordering::Relaxed)
    }

    /// Counts `n` round trips about to be made.
    fn trip(&self, n: u64) {
        self.trips.fetch_add(n, Ordering::Relaxed);
    }

    async fn write(&self, write: Write) -> Result<Written, StoreError> {
        self.writer.submit(write).await
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
        self.beats.close().await;
    }
}

/// A write answered with the wrong kind of result: a bug in this module, reported, not panicked.
fn unexpected(written: &Written) -> StoreError {
    StoreError::Database(format!("store writer answered {written:?} to the wrong request"))
}

impl Store for PostgresStore {
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
            match self.write(write).await? {
                Written::Recorded(recorded) => Ok(recorded),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn next_inbound<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<Inbound>> {
        Box::pin(async move {
            let found = self.reader.get(Read::NextInbound, conversation).await?;
            Ok(found.map(|row| Inbound {
                id: row.id,
                conversation: conversation.to_owned(),
                payload: row.payload,
                received_at: from_millis(row.a),
            }))
        })
    }

    fn discard_inbound(&self, id: i64) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.write(Write::DiscardInbound { id }).await.map(drop) })
    }

    fn queued_inbound(&self, conversation: &str) -> StoreFuture<'_, u64> {
        let conversation = conversation.to_owned();
        Box::pin(async move {
            self.trip(1);
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbound WHERE conversation = $1")
                .bind(conversation)
                .fetch_one(&self.pool)
                .await?;
            Ok(count(n))
        })
    }

    fn load_conversation<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<Snapshot>> {
        Box::pin(async move {
            let found = self.reader.get(Read::Conversation, conversation).await?;
            Ok(found.map(|row| Snapshot { version: row.a, state: row.state }))
        })
    }

    fn commit_turn<'a>(&'a self, turn: &'a Turn, now: DateTime<Utc>) -> StoreFuture<'a, Committed> {
        let write = Write::CommitTurn { turn: turn.clone(), at: to_millis(now) };
        Box::pin(async move {
            match self.write(write).await? {
                Written::Committed(committed) => Ok(committed),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn next_outbox<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<OutboxItem>> {
        Box::pin(async move {
            let found = self.reader.get(Read::NextOutbox, conversation).await?;
            Ok(found.map(|row| OutboxItem {
                id: row.id,
                conversation: conversation.to_owned(),
                payload: row.payload,
                attempts: u32::try_from(row.a).unwrap_or(u32::MAX),
                not_before: from_millis(row.b),
            }))
        })
    }

    fn mark_sent(&self, id: i64) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.write(Write::MarkSent { id }).await.map(drop) })
    }

    fn mark_failed(&self, id: i64, retry_at: DateTime<Utc>) -> StoreFuture<'_, u32> {
        Box::pin(async move {
            self.trip(1);
            let attempts: Option<i64> = sqlx::query_scalar(
                "UPDATE outbox SET attempts = attempts + 1, not_before = $1 WHERE id = $2 \
                 RETURNING attempts",
            )
            .bind(to_millis(retry_at))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            Ok(attempts.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
        })
    }

    fn conversations_with_work(&self, now: DateTime<Utc>) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async move {
            self.trip(1);
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT w.conversation \
                 FROM (SELECT conversation FROM inbound UNION SELECT conversation FROM outbox) w \
                 WHERE NOT EXISTS (SELECT 1 FROM leases l \
                                   WHERE l.lane = w.conversation AND l.until_ms >= $1)",
            )
            .bind(to_millis(now))
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        })
    }

    fn fire_due_timers(&self, now: DateTime<Utc>) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async move {
            // One statement: the due timers are locked (skipping those another replica is
            // firing), queued as inbound events in due order and deleted.
            self.trip(1);
            let conversations: Vec<String> = sqlx::query_scalar(
                "WITH due AS MATERIALIZED ( \
                     SELECT conversation, timer_key, due_at, payload FROM timers \
                     WHERE due_at <= $1 \
                     ORDER BY due_at, conversation, timer_key FOR UPDATE SKIP LOCKED), \
                 queued AS ( \
                     INSERT INTO inbound (conversation, payload, received_at) \
                     SELECT conversation, payload, $1 FROM due \
                     ORDER BY due_at, conversation, timer_key), \
                 fired AS ( \
                     DELETE FROM timers t USING due \
                     WHERE t.conversation = due.conversation AND t.timer_key = due.timer_key) \
                 SELECT conversation FROM due GROUP BY conversation \
                 ORDER BY MIN(due_at), conversation",
            )
            .bind(to_millis(now))
            .fetch_all(&self.pool)
            .await?;
            Ok(conversations)
        })
    }

    fn next_timer_due(&self) -> StoreFuture<'_, Option<DateTime<Utc>>> {
        Box::pin(async move {
            self.trip(1);
            let due: Option<i64> =
                sqlx::query_scalar("SELECT MIN(due_at) FROM timers").fetch_one(&self.pool).await?;
            Ok(due.map(from_millis))
        })
    }

    fn outbox_depth(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            self.trip(1);
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(&self.pool).await?;
            Ok(count(n))
        })
    }

    fn sweep(&self, cutoffs: Cutoffs) -> StoreFuture<'_, Swept> {
        Box::pin(async move {
            let mut total = Swept::default();
            let limit = SWEEP_CHUNK.unsigned_abs();
            loop {
                // Each chunk its own short transaction, so replicas' writes are not held up.
                self.trip(3);
                let dedup_keys = sqlx::query(
                    "DELETE FROM dedup_keys WHERE ctid = ANY (ARRAY( \
                     SELECT ctid FROM dedup_keys WHERE received_at < $1 LIMIT $2))",
                )
                .bind(to_millis(cutoffs.dedup_keys))
                .bind(SWEEP_CHUNK)
                .execute(&self.pool)
                .await?
                .rows_affected();
                let conversations = sqlx::query(
                    "DELETE FROM conversations WHERE ctid = ANY (ARRAY( \
                     SELECT c.ctid FROM conversations c WHERE c.updated_at < $1 \
                     AND NOT EXISTS (SELECT 1 FROM inbound i WHERE i.conversation = c.conversation) \
                     AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.conversation = c.conversation) \
                     AND NOT EXISTS (SELECT 1 FROM timers t WHERE t.conversation = c.conversation) \
                     LIMIT $2))",
                )
                .bind(to_millis(cutoffs.conversations))
                .bind(SWEEP_CHUNK)
                .execute(&self.pool)
                .await?
                .rows_affected();
                let decisions = sqlx::query(
                    "DELETE FROM decisions WHERE id = ANY (ARRAY( \
                     SELECT id FROM decisions WHERE at < $1 LIMIT $2))",
                )
                .bind(to_millis(cutoffs.decisions))
                .bind(SWEEP_CHUNK)
                .execute(&self.pool)
                .await?
                .rows_affected();
                total.dedup_keys += dedup_keys;
                total.conversations += conversations;
                total.decisions += decisions;
                if dedup_keys < limit && conversations < limit && decisions < limit {
                    return Ok(total);
                }
            }
        })
    }

    fn probe_write(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            // A key of its own per replica, so two replicas probing at once never wait on
            // each other's row.
            let key =
                format!("{PROBE_KEY}{}{}", crate::crypto::random_hex(8), "x".repeat(PROBE_FILL));
            self.trip(4);
            let mut tx = self.pool.begin().await?;
            sqlx::query("INSERT INTO dedup_keys (dedup_key, received_at) VALUES ($1, 0)")
                .bind(&key)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM dedup_keys WHERE dedup_key = $1")
                .bind(&key)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn decisions<'a>(&'a self, query: &'a DecisionQuery) -> StoreFuture<'a, Vec<StoredDecision>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {DECISION_COLUMNS} FROM decisions WHERE at >= $1 AND at < $2 \
                 AND ($3::text IS NULL OR bot = $3) ORDER BY id"
            );
            self.trip(1);
            let rows = sqlx::query(&sql)
                .bind(to_millis(query.since))
                .bind(to_millis(query.until))
                .bind(query.bot.as_deref())
                .fetch_all(&self.pool)
                .await?;
            Ok(rows.iter().map(decision_from_row).collect::<Result<_, _>>()?)
        })
    }

    fn shared_by_replicas(&self) -> bool {
        true
    }

    fn claim<'a>(
        &'a self,
        lane: &'a str,
        owner: &'a str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let (now, until) = (to_millis(now), to_millis(until));
            if self.leases.still_held(lane, owner, now, until) {
                return Ok(true);
            }
            let ticket = self.leases.claim_started(lane);
            let write = Write::Claim { lane: lane.to_owned(), owner: owner.to_owned(), now, until };
            let answer = self.write(write).await;
            let granted = matches!(answer, Ok(Written::Claimed(true)));
            self.leases.claimed(ticket, lane, owner, until, granted);
            match answer? {
                Written::Claimed(granted) => Ok(granted),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn release<'a>(&'a self, lane: &'a str, owner: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            // Counted as finished when answered, or when the caller stops waiting.
            let _releasing = self.leases.release_started(lane);
            let write = Write::Release { lane: lane.to_owned(), owner: owner.to_owned() };
            self.write(write).await.map(drop)
        })
    }

    fn heartbeat<'a>(&'a self, beat: Heartbeat<'a>) -> StoreFuture<'a, u32> {
        Box::pin(async move {
            // One statement: the CTEs renew the leases, upsert this replica and forget replicas
            // gone for an hour; the count reads the table as it was before them, so this
            // replica is added by hand. A lease row locked by a statement in flight (this
            // replica's own round, or another's claim) is skipped, not waited for: the beat
            // never queues behind a round, so it cannot deadlock with one, and the next beat
            // renews what this one skipped long before the lease runs out.
            self.trip(1);
            let others: i64 = sqlx::query_scalar(
                "WITH renewed AS (UPDATE leases SET until_ms = $3 WHERE lane IN \
                          (SELECT lane FROM leases WHERE owner = $1 FOR UPDATE SKIP LOCKED)), \
                      me AS (INSERT INTO replicas (owner, seen_ms) VALUES ($1, $2) \
                             ON CONFLICT (owner) DO UPDATE SET seen_ms = EXCLUDED.seen_ms), \
                      gone AS (DELETE FROM replicas WHERE seen_ms < $2 - 3600000) \
                 SELECT COUNT(*) FROM replicas WHERE owner <> $1 AND seen_ms >= $4",
            )
            .bind(beat.owner)
            .bind(to_millis(beat.now))
            .bind(to_millis(beat.until))
            .bind(to_millis(beat.alive_since))
            .fetch_one(&self.beats)
            .await?;
            Ok(u32::try_from(others).unwrap_or(u32::MAX - 1) + 1)
        })
    }

    fn widget_history(&self) -> std::sync::Arc<dyn crate::widget::WidgetStore> {
        std::sync::Arc::new(widget::PostgresHistory { pool: self.pool.clone() })
    }
}
