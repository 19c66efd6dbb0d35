//! The SQLite backend: one file in WAL mode. By default `synchronous=FULL`, so an acknowledged
//! webhook survives power loss as well as `kill -9` (each commit is one fsync of the WAL);
//! [`Durability::Process`] (`synchronous=NORMAL`) still survives `kill -9` but may lose the
//! last commits on power loss, in exchange for far fewer fsyncs. Writes run
//! in `BEGIN IMMEDIATE` transactions so two writers never deadlock upgrading a read lock.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::{
    from_millis, to_millis, Durability, Inbound, OutboxItem, Recorded, Snapshot, Store, StoreError,
    StoreFuture, Turn,
};

/// The embedded store.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` with full durability and applies the
    /// migrations.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(url, Durability::Full).await
    }

    /// Like [`SqliteStore::open`], choosing what a commit waits for.
    pub async fn open_with(url: &str, durability: Durability) -> Result<SqliteStore, StoreError> {
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
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Process => SqliteSynchronous::Normal,
            })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // An in-memory database exists once per connection, so it gets exactly one.
        let max = if in_memory { 1 } else { 4 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// Closes every connection (tests use it to reopen the same file).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Store for SqliteStore {
    fn record_inbound<'a>(
        &'a self,
        dedup_key: &'a str,
        conversation: &'a str,
        payload: &'a str,
        now: DateTime<Utc>,
    ) -> StoreFuture<'a, Recorded> {
        Box::pin(async move {
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let fresh = sqlx::query(
                "INSERT INTO dedup_keys (dedup_key, received_at) VALUES (?, ?) \
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
            let id = sqlx::query(
                "INSERT INTO inbound (conversation, payload, received_at) VALUES (?, ?, ?)",
            )
            .bind(conversation)
            .bind(payload)
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?
            .last_insert_rowid();
            tx.commit().await?;
            Ok(Recorded::Accepted(id))
        })
    }

    fn next_inbound<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<Inbound>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT id, payload, received_at FROM inbound WHERE conversation = ? \
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
            sqlx::query("DELETE FROM inbound WHERE id = ?").bind(id).execute(&self.pool).await?;
            Ok(())
        })
    }

    fn queued_inbound(&self, conversation: &str) -> StoreFuture<'_, u64> {
        let conversation = conversation.to_owned();
        Box::pin(async move {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbound WHERE conversation = ?")
                .bind(conversation)
                .fetch_one(&self.pool)
                .await?;
            Ok(count(n))
        })
    }

    fn load_conversation<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<Snapshot>> {
        Box::pin(async move {
            let row =
                sqlx::query("SELECT version, state FROM conversations WHERE conversation = ?")
                    .bind(conversation)
                    .fetch_optional(&self.pool)
                    .await?;
            Ok(row.map(|row| Snapshot { version: row.get("version"), state: row.get("state") }))
        })
    }

    fn commit_turn<'a>(&'a self, turn: &'a Turn, now: DateTime<Utc>) -> StoreFuture<'a, i64> {
        Box::pin(async move {
            let at = to_millis(now);
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let found: i64 =
                sqlx::query_scalar("SELECT version FROM conversations WHERE conversation = ?")
                    .bind(&turn.conversation)
                    .fetch_optional(&mut *tx)
                    .await?
                    .unwrap_or(0);
            if found != turn.expected_version {
                tx.rollback().await?;
                return Err(StoreError::Conflict {
                    conversation: turn.conversation.clone(),
                    expected: turn.expected_version,
                    found,
                });
            }
            let version = found + 1;
            sqlx::query(
                "INSERT INTO conversations (conversation, version, state, updated_at) \
                 VALUES (?, ?, ?, ?) ON CONFLICT (conversation) DO UPDATE SET \
                 version = excluded.version, state = excluded.state, \
                 updated_at = excluded.updated_at",
            )
            .bind(&turn.conversation)
            .bind(version)
            .bind(&turn.state)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            for payload in &turn.outbox {
                sqlx::query(
                    "INSERT INTO outbox (conversation, payload, not_before, created_at) \
                     VALUES (?, ?, ?, ?)",
                )
                .bind(&turn.conversation)
                .bind(payload)
                .bind(at)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            for key in &turn.cancel_timers {
                sqlx::query("DELETE FROM timers WHERE conversation = ? AND timer_key = ?")
                    .bind(&turn.conversation)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            for timer in &turn.add_timers {
                sqlx::query(
                    "INSERT INTO timers (conversation, timer_key, due_at, payload) \
                     VALUES (?, ?, ?, ?) ON CONFLICT (conversation, timer_key) DO UPDATE SET \
                     due_at = excluded.due_at, payload = excluded.payload",
                )
                .bind(&turn.conversation)
                .bind(&timer.key)
                .bind(to_millis(timer.due))
                .bind(&timer.payload)
                .execute(&mut *tx)
                .await?;
            }
            if let Some(id) = turn.processed {
                sqlx::query("DELETE FROM inbound WHERE id = ? AND conversation = ?")
                    .bind(id)
                    .bind(&turn.conversation)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(version)
        })
    }

    fn next_outbox<'a>(&'a self, conversation: &'a str) -> StoreFuture<'a, Option<OutboxItem>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT id, payload, attempts, not_before FROM outbox WHERE conversation = ? \
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
            sqlx::query("DELETE FROM outbox WHERE id = ?").bind(id).execute(&self.pool).await?;
            Ok(())
        })
    }

    fn mark_failed(&self, id: i64, retry_at: DateTime<Utc>) -> StoreFuture<'_, u32> {
        Box::pin(async move {
            let attempts: Option<i64> = sqlx::query_scalar(
                "UPDATE outbox SET attempts = attempts + 1, not_before = ? WHERE id = ? \
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
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let due = sqlx::query(
                "SELECT conversation, timer_key, payload FROM timers WHERE due_at <= ? \
                 ORDER BY due_at, conversation, timer_key",
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
                    "INSERT INTO inbound (conversation, payload, received_at) VALUES (?, ?, ?)",
                )
                .bind(&conversation)
                .bind(&payload)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM timers WHERE conversation = ? AND timer_key = ?")
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
}
