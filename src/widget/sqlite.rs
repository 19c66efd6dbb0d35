//! `WidgetStore` on SQLite (WAL): the embedded default. Each append is one transaction whose
//! first statement is a write, so concurrent appends queue on SQLite's lock instead of failing
//! on a stale read snapshot.

use std::str::FromStr;

use futures_util::future::BoxFuture;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::store::{
    stamp, ConversationRecord, StoreError, StoredActivity, WidgetStore, SWEEP_CHUNK,
};

const SCHEMA: &str = include_str!("../../migrations/sqlite/0100_widget.sql");

/// Widget conversations in a SQLite database.
#[derive(Clone)]
pub struct SqliteWidgetStore {
    pool: SqlitePool,
}

fn failed(err: impl std::fmt::Display) -> StoreError {
    StoreError(err.to_string())
}

impl SqliteWidgetStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or `sqlite::memory:`)
    /// and applies the widget schema.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(failed)?
            .create_if_missing(true)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true);
        // An in-memory database exists once per connection, so it must stay on one.
        let in_memory = url.contains(":memory:");
        let max = if in_memory { 1 } else { 4 };
        if !in_memory {
            crate::sqlite_file::switch_to_wal(&options).await.map_err(failed)?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await
            .map_err(failed)?;
        Self::with_pool(pool).await
    }

    /// Uses an existing pool (e.g. the service's own store pool) and applies the widget schema.
    pub async fn with_pool(pool: SqlitePool) -> Result<Self, StoreError> {
        sqlx::raw_sql(SCHEMA).execute(&pool).await.map_err(failed)?;
        Ok(Self { pool })
    }
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl WidgetStore for SqliteWidgetStore {
    fn create_conversation<'a>(
        &'a self,
        record: &'a ConversationRecord,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO widget_conversations (id, site, user_id, user_name, created_ms) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&record.id)
            .bind(&record.site)
            .bind(&record.user_id)
            .bind(&record.user_name)
            .bind(record.created_ms)
            .execute(&self.pool)
            .await
            .map_err(failed)?;
            Ok(())
        })
    }

    fn conversation<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ConversationRecord>, StoreError>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT id, site, user_id, user_name, created_ms, last_seq, last_ts_ms, ended \
                 FROM widget_conversations WHERE id = ?",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)?;
            row.map(|row| {
                Ok(ConversationRecord {
                    id: row.try_get("id").map_err(failed)?,
                    site: row.try_get("site").map_err(failed)?,
                    user_id: row.try_get("user_id").map_err(failed)?,
                    user_name: row.try_get("user_name").map_err(failed)?,
                    created_ms: row.try_get("created_ms").map_err(failed)?,
                    last_seq: to_u64(row.try_get("last_seq").map_err(failed)?),
                    last_ts_ms: row.try_get("last_ts_ms").map_err(failed)?,
                    ended: row.try_get::<i64, _>("ended").map_err(failed)? != 0,
                })
            })
            .transpose()
        })
    }

    fn append<'a>(
        &'a self,
        conversation: &'a str,
        mut activity: Value,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<StoredActivity, StoreError>> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await.map_err(failed)?;
            let row = sqlx::query(
                "UPDATE widget_conversations \
                 SET last_seq = last_seq + 1, last_ts_ms = max(?, last_ts_ms + 1) \
                 WHERE id = ? RETURNING last_seq, last_ts_ms",
            )
            .bind(now_ms)
            .bind(conversation)
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed)?
            .ok_or_else(|| StoreError(format!("no conversation `{conversation}`")))?;
            let seq = to_u64(row.try_get("last_seq").map_err(failed)?);
            let ts_ms: i64 = row.try_get("last_ts_ms").map_err(failed)?;
            stamp(&mut activity, conversation, seq, ts_ms);
            sqlx::query(
                "INSERT INTO widget_activities (conversation_id, seq, body) VALUES (?, ?, ?)",
            )
            .bind(conversation)
            .bind(to_i64(seq))
            .bind(activity.to_string())
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
            tx.commit().await.map_err(failed)?;
            Ok(StoredActivity { seq, activity })
        })
    }

    fn activities_after<'a>(
        &'a self,
        conversation: &'a str,
        after: u64,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<StoredActivity>, StoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT seq, body FROM widget_activities \
                 WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            )
            .bind(conversation)
            .bind(to_i64(after))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(failed)?;
            rows.into_iter()
                .map(|row| {
                    let body: String = row.try_get("body").map_err(failed)?;
                    Ok(StoredActivity {
                        seq: to_u64(row.try_get("seq").map_err(failed)?),
                        activity: serde_json::from_str(&body).map_err(failed)?,
                    })
                })
                .collect()
        })
    }

    /// One SQLite file serves one process.
    fn changes(&self) -> BoxFuture<'_, Result<Option<super::store::ChangeStream>, StoreError>> {
        Box::pin(async { Ok(None) })
    }

    fn find_client_activity<'a>(
        &'a self,
        conversation: &'a str,
        client_activity_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredActivity>, StoreError>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT seq, body FROM widget_activities WHERE conversation_id = ? \
                 AND json_extract(body, '$.channelData.clientActivityID') = ? LIMIT 1",
            )
            .bind(conversation)
            .bind(client_activity_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)?;
            row.map(|row| {
                let body: String = row.try_get("body").map_err(failed)?;
                Ok(StoredActivity {
                    seq: to_u64(row.try_get("seq").map_err(failed)?),
                    activity: serde_json::from_str(&body).map_err(failed)?,
                })
            })
            .transpose()
        })
    }

    fn sweep(&self, before_ms: i64) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut total = 0;
            loop {
                let mut tx = self.pool.begin().await.map_err(failed)?;
                let ids: Vec<String> = sqlx::query_scalar(
                    "SELECT id FROM widget_conversations WHERE MAX(created_ms, last_ts_ms) < ? \
                     LIMIT ?",
                )
                .bind(before_ms)
                .bind(SWEEP_CHUNK)
                .fetch_all(&mut *tx)
                .await
                .map_err(failed)?;
                for id in &ids {
                    sqlx::query("DELETE FROM widget_activities WHERE conversation_id = ?")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(failed)?;
                    sqlx::query("DELETE FROM widget_conversations WHERE id = ?")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(failed)?;
                }
                tx.commit().await.map_err(failed)?;
                total += ids.len() as u64;
                if i64::try_from(ids.len()).unwrap_or(i64::MAX) < SWEEP_CHUNK {
                    return Ok(total);
                }
            }
        })
    }

    fn end_conversation<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query("UPDATE widget_conversations SET ended = 1 WHERE id = ?")
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(failed)?;
            Ok(())
        })
    }
}
