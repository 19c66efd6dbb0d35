//! The PostgreSQL backend, for several `botrun serve` replicas sharing one database. The
//! conversation compare-and-swap is a conditional `UPDATE … WHERE version = $expected` (or an
//! `INSERT … ON CONFLICT DO NOTHING` for a new conversation), so two replicas never both win;
//! due timers are claimed with `FOR UPDATE SKIP LOCKED` so each fires once.

mod widget;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};

use super::{
    decision_from_row, Cutoffs, DecisionQuery, StoredDecision, Swept, DECISION_COLUMNS,
    DECISION_INSERT, SWEEP_CHUNK,
};
use super::{
    from_millis, to_millis, Heartbeat, Inbound, OutboxItem, Recorded, Snapshot, Store, StoreError,
    StoreFuture, Turn, PROBE_FILL, PROBE_KEY,
};

/// The scale-out store.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
    /// One connection of its own for heartbeats, so a pool busy with turns cannot delay them
    /// past the lease and let another replica take conversations this one is still serving.
    beats: PgPool,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl PostgresStore {
    /// Connects to `url` and applies the migrations.
    pub async fn open(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::open_in_schema(url, None).await
    }

    /// Like [`PostgresStore::open`], with every table in `schema` (created if missing) —
    /// tests use one schema each so they can run side by side in one database.
    pub async fn open_in_schema(
        url: &str,
        schema: Option<&str>,
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
        let pool = PgPoolOptions::new().max_connections(8).connect_with(options.clone()).await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        let beats = PgPoolOptions::new().max_connections(1).connect_lazy_with(options);
        Ok(PostgresStore { pool, beats })
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
        self.beats.close().await;
    }
}

impl Store for PostgresStore {
    fn record_inbound<'a>(
        &'a self,
        dedup_key: &'a str,
        conversation: &'a str,
        payload: &'a str,
        now: DateTime<Utc>,
    ) -> StoreFuture<'a, Recorded> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            let fresh = sqlx::query(
                "INSERT INTO dedup_keys (dedup_key, received_at) VALUES ($1, $2) \
                 ON CONFLICT (dedup_key) DO NOTHING",
            )
            .bind(dedup_key)
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if fresh == 0 {
                tx.rollback().await?;
                return Ok(Recorded::Duplicate);
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO inbound (conversation, payload, received_at) VALUES ($1, $2, $3) \
                 RETURNING id",
            )
            .bind(conversation)
            .bind(payload)
            .bind(to_millis(now))
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Recorded::Accepted(id))
        })
    }

    fn next_inbound<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<Inbound>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT id, payload, received_at FROM inbound WHERE conversation = $1 \
                 ORDER BY id LIMIT 1",
            )
            .bind(conversation)
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.map(|row| Inbound {
                id: row.get("id"),
                conversation: conversation.to_owned(),
                payload: row.get("payload"),
                received_at: from_millis(row.get("received_at")),
            }))
        })
    }

    fn discard_inbound(&self, id: i64) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            sqlx::query("DELETE FROM inbound WHERE id = $1").bind(id).execute(&self.pool).await?;
            Ok(())
        })
    }

    fn queued_inbound(&self, conversation: &str) -> StoreFuture<'_, u64> {
        let conversation = conversation.to_owned();
        Box::pin(async move {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbound WHERE conversation = $1")
                .bind(conversation)
                .fetch_one(&self.pool)
                .await?;
            Ok(count(n))
        })
    }

    fn load_conversation<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<Snapshot>> {
        Box::pin(async move {
            let row =
                sqlx::query("SELECT version, state FROM conversations WHERE conversation = $1")
                    .bind(conversation)
                    .fetch_optional(&self.pool)
                    .await?;
            Ok(row.map(|row| Snapshot { version: row.get("version"), state: row.get("state") }))
        })
    }

    fn commit_turn<'a>(&'a self, turn: &'a Turn, now: DateTime<Utc>) -> StoreFuture<'a, i64> {
        Box::pin(async move {
            let at = to_millis(now);
            let mut tx = self.pool.begin().await?;
            let written = if turn.expected_version == 0 {
                sqlx::query(
                    "INSERT INTO conversations (conversation, version, state, updated_at) \
                     VALUES ($1, 1, $2, $3) ON CONFLICT (conversation) DO NOTHING",
                )
                .bind(&turn.conversation)
                .bind(&turn.state)
                .bind(at)
                .execute(&mut *tx)
                .await?
            } else {
                sqlx::query(
                    "UPDATE conversations SET version = version + 1, state = $2, updated_at = $3 \
                     WHERE conversation = $1 AND version = $4",
                )
                .bind(&turn.conversation)
                .bind(&turn.state)
                .bind(at)
                .bind(turn.expected_version)
                .execute(&mut *tx)
                .await?
            };
            if written.rows_affected() == 0 {
                tx.rollback().await?;
                let found: i64 =
                    sqlx::query_scalar("SELECT version FROM conversations WHERE conversation = $1")
                        .bind(&turn.conversation)
                        .fetch_optional(&self.pool)
                        .await?
                        .unwrap_or(0);
                return Err(StoreError::Conflict {
                    conversation: turn.conversation.clone(),
                    expected: turn.expected_version,
                    found,
                });
            }
            for payload in &turn.outbox {
                sqlx::query(
                    "INSERT INTO outbox (conversation, payload, not_before, created_at) \
                     VALUES ($1, $2, $3, $3)",
                )
                .bind(&turn.conversation)
                .bind(payload)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            for key in &turn.cancel_timers {
                sqlx::query("DELETE FROM timers WHERE conversation = $1 AND timer_key = $2")
                    .bind(&turn.conversation)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            for timer in &turn.add_timers {
                sqlx::query(
                    "INSERT INTO timers (conversation, timer_key, due_at, payload) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (conversation, timer_key) DO UPDATE \
                     SET due_at = excluded.due_at, payload = excluded.payload",
                )
                .bind(&turn.conversation)
                .bind(&timer.key)
                .bind(to_millis(timer.due))
                .bind(&timer.payload)
                .execute(&mut *tx)
                .await?;
            }
            if let Some(id) = turn.processed {
                sqlx::query("DELETE FROM inbound WHERE id = $1 AND conversation = $2")
                    .bind(id)
                    .bind(&turn.conversation)
                    .execute(&mut *tx)
                    .await?;
            }
            if !turn.decisions.is_empty() {
                let mut insert = sqlx::QueryBuilder::<sqlx::Postgres>::new(DECISION_INSERT);
                insert.push_values(&turn.decisions, |mut row, d| {
                    row.push_bind(&turn.conversation)
                        .push_bind(&d.bot)
                        .push_bind(to_millis(d.at))
                        .push_bind(&d.event)
                        .push_bind(&d.text)
                        .push_bind(&d.intent)
                        .push_bind(d.missed)
                        .push_bind(&d.question)
                        .push_bind(&d.state_before)
                        .push_bind(&d.state_after)
                        .push_bind(&d.outcome)
                        .push_bind(&d.rule)
                        .push_bind(&d.reason)
                        .push_bind(&d.note);
                });
                insert.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(turn.expected_version + 1)
        })
    }

    fn next_outbox<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<OutboxItem>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT id, payload, attempts, not_before FROM outbox WHERE conversation = $1 \
                 ORDER BY id LIMIT 1",
            )
            .bind(conversation)
            .fetch_optional(&self.pool)
            .await?;
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
        Box::pin(async move {
            sqlx::query("DELETE FROM outbox WHERE id = $1").bind(id).execute(&self.pool).await?;
            Ok(())
        })
    }

    fn mark_failed(&self, id: i64, retry_at: DateTime<Utc>) -> StoreFuture<'_, u32> {
        Box::pin(async move {
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

    fn conversations_with_work(&self) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async move {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT conversation FROM inbound UNION SELECT conversation FROM outbox",
            )
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        })
    }

    fn fire_due_timers(&self, now: DateTime<Utc>) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async move {
            let at = to_millis(now);
            let mut tx = self.pool.begin().await?;
            let due = sqlx::query(
                "SELECT conversation, timer_key, payload FROM timers WHERE due_at <= $1 \
                 ORDER BY due_at, conversation, timer_key FOR UPDATE SKIP LOCKED",
            )
            .bind(at)
            .fetch_all(&mut *tx)
            .await?;
            let mut conversations: Vec<String> = Vec::new();
            for row in due {
                let conversation: String = row.get("conversation");
                let key: String = row.get("timer_key");
                let payload: String = row.get("payload");
                sqlx::query(
                    "INSERT INTO inbound (conversation, payload, received_at) VALUES ($1, $2, $3)",
                )
                .bind(&conversation)
                .bind(&payload)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM timers WHERE conversation = $1 AND timer_key = $2")
                    .bind(&conversation)
                    .bind(&key)
                    .execute(&mut *tx)
                    .await?;
                if !conversations.contains(&conversation) {
                    conversations.push(conversation);
                }
            }
            tx.commit().await?;
            Ok(conversations)
        })
    }

    fn next_timer_due(&self) -> StoreFuture<'_, Option<DateTime<Utc>>> {
        Box::pin(async move {
            let due: Option<i64> =
                sqlx::query_scalar("SELECT MIN(due_at) FROM timers").fetch_one(&self.pool).await?;
            Ok(due.map(from_millis))
        })
    }

    fn outbox_depth(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
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
            let row = sqlx::query(
                "INSERT INTO leases (lane, owner, until_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (lane) DO UPDATE SET owner = EXCLUDED.owner, until_ms = EXCLUDED.until_ms \
                 WHERE leases.owner = EXCLUDED.owner OR leases.until_ms < $4 \
                 RETURNING owner",
            )
            .bind(lane)
            .bind(owner)
            .bind(to_millis(until))
            .bind(to_millis(now))
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.is_some())
        })
    }

    fn release<'a>(&'a self, lane: &'a str, owner: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query("DELETE FROM leases WHERE lane = $1 AND owner = $2")
                .bind(lane)
                .bind(owner)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }

    fn heartbeat<'a>(&'a self, beat: Heartbeat<'a>) -> StoreFuture<'a, u32> {
        Box::pin(async move {
            // One statement: the CTEs renew the leases, upsert this replica and forget replicas
            // gone for an hour; the count reads the table as it was before them, so this
            // replica is added by hand.
            let others: i64 = sqlx::query_scalar(
                "WITH renewed AS (UPDATE leases SET until_ms = $3 WHERE owner = $1), \
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
