//! The widget's history (Direct Line conversations and their numbered activities) in the SQLite
//! store: the same file, the same writer and so the same durability and size cap as the
//! conversation state. Writes queue with the others and commit in the writer's next batch;
//! reads use the store's read connections.

use futures_util::future::BoxFuture;
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::super::{StoreError, WIDGET_SWEEP_CHUNK};
use super::writes::{WidgetWrite, Write, Written};
use super::SqliteStore;
use crate::widget::store::stamp;
use crate::widget::{
    ChangeStream, ConversationRecord, StoredActivity, WidgetStore, WidgetStoreError,
};

/// Applies `write` inside the writer's open transaction. The outer `Err` fails the whole batch
/// (the database failed); the inner one is this write's own refusal, which changed nothing.
pub(super) async fn apply(
    conn: &mut SqliteConnection,
    write: &WidgetWrite,
) -> Result<Result<Written, StoreError>, StoreError> {
    match write {
        WidgetWrite::Create(record) => {
            sqlx::query(
                "INSERT INTO widget_conversations (id, site, user_id, user_name, created_ms) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&record.id)
            .bind(&record.site)
            .bind(&record.user_id)
            .bind(&record.user_name)
            .bind(record.created_ms)
            .execute(&mut *conn)
            .await?;
            Ok(Ok(Written::Done))
        }
        WidgetWrite::Append { conversation, activity, now_ms } => {
            append(conn, conversation, activity.clone(), *now_ms).await
        }
        WidgetWrite::End { id } => {
            sqlx::query("UPDATE widget_conversations SET ended = 1 WHERE id = ?")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Ok(Ok(Written::Done))
        }
        WidgetWrite::Sweep { before_ms } => sweep_chunk(conn, *before_ms).await.map(Ok),
    }
}

/// Gives the activity the conversation's next number and a timestamp after the previous one.
async fn append(
    conn: &mut SqliteConnection,
    conversation: &str,
    mut activity: Value,
    now_ms: i64,
) -> Result<Result<Written, StoreError>, StoreError> {
    let row = sqlx::query(
        "UPDATE widget_conversations \
         SET last_seq = last_seq + 1, last_ts_ms = max(?, last_ts_ms + 1) \
         WHERE id = ? RETURNING last_seq, last_ts_ms",
    )
    .bind(now_ms)
    .bind(conversation)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Err(StoreError::Database(format!("no widget conversation `{conversation}`"))));
    };
    let seq = to_u64(row.try_get("last_seq")?);
    let ts_ms: i64 = row.try_get("last_ts_ms")?;
    stamp(&mut activity, conversation, seq, ts_ms);
    sqlx::query("INSERT INTO widget_activities (conversation_id, seq, body) VALUES (?, ?, ?)")
        .bind(conversation)
        .bind(to_i64(seq))
        .bind(activity.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(Ok(Written::Appended(StoredActivity { seq, activity })))
}

/// Deletes up to [`WIDGET_SWEEP_CHUNK`] quiet conversations with their activities.
async fn sweep_chunk(conn: &mut SqliteConnection, before_ms: i64) -> Result<Written, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM widget_conversations WHERE MAX(created_ms, last_ts_ms) < ? LIMIT ?",
    )
    .bind(before_ms)
    .bind(WIDGET_SWEEP_CHUNK)
    .fetch_all(&mut *conn)
    .await?;
    for id in &ids {
        sqlx::query("DELETE FROM widget_activities WHERE conversation_id = ?")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM widget_conversations WHERE id = ?")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(Written::Count(ids.len() as u64))
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(widget_error)`
fn widget_error(error: StoreError) -> WidgetStoreError {
    WidgetStoreError(error.to_string())
}

fn stored(row: &SqliteRow) -> Result<StoredActivity, StoreError> {
    let body: String = row.try_get("body")?;
    Ok(StoredActivity {
        seq: to_u64(row.try_get("seq")?),
        activity: serde_json::from_str(&body)
            .map_err(|e| StoreError::Database(format!("a stored widget activity: {e}")))?,
    })
}

/// The widget's history of one SQLite store ([`crate::store::Store::widget_history`]).
pub(super) struct SqliteHistory {
    pub(super) store: SqliteStore,
}

impl SqliteHistory {
    async fn widget_write(&self, write: WidgetWrite) -> Result<Written, WidgetStoreError> {
        self.store.writer.submit(Write::Widget(write)).await.map_err(widget_error)
    }
}

fn unexpected(written: &Written) -> WidgetStoreError {
    WidgetStoreError(format!("store writer answered {written:?} to a widget write"))
}

impl WidgetStore for SqliteHistory {
    fn create_conversation<'a>(
        &'a self,
        record: &'a ConversationRecord,
    ) -> BoxFuture<'a, Result<(), WidgetStoreError>> {
        Box::pin(
            async move { self.widget_write(WidgetWrite::Create(record.clone())).await.map(drop) },
        )
    }

    fn conversation<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ConversationRecord>, WidgetStoreError>> {
        Box::pin(async move {
            let query = sqlx::query(
                "SELECT id, site, user_id, user_name, created_ms, last_seq, last_ts_ms, ended \
                 FROM widget_conversations WHERE id = ?",
            )
            .bind(id);
            let row =
                read!(self.store, query, fetch_optional).map_err(|e| widget_error(e.into()))?;
            row.map(|row| -> Result<ConversationRecord, StoreError> {
                Ok(ConversationRecord {
                    id: row.try_get("id")?,
                    site: row.try_get("site")?,
                    user_id: row.try_get("user_id")?,
                    user_name: row.try_get("user_name")?,
                    created_ms: row.try_get("created_ms")?,
                    last_seq: to_u64(row.try_get("last_seq")?),
                    last_ts_ms: row.try_get("last_ts_ms")?,
                    ended: row.try_get::<i64, _>("ended")? != 0,
                })
            })
            .transpose()
            .map_err(widget_error)
        })
    }

    fn append<'a>(
        &'a self,
        conversation: &'a str,
        activity: Value,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<StoredActivity, WidgetStoreError>> {
        let write = WidgetWrite::Append { conversation: conversation.to_owned(), activity, now_ms };
        Box::pin(async move {
            match self.widget_write(write).await? {
                Written::Appended(stored) => Ok(stored),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn activities_after<'a>(
        &'a self,
        conversation: &'a str,
        after: u64,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<StoredActivity>, WidgetStoreError>> {
        Box::pin(async move {
            let query = sqlx::query(
                "SELECT seq, body FROM widget_activities \
                 WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            )
            .bind(conversation)
            .bind(to_i64(after))
            .bind(i64::from(limit));
            let rows = read!(self.store, query, fetch_all).map_err(|e| widget_error(e.into()))?;
            rows.iter().map(stored).collect::<Result<_, _>>().map_err(widget_error)
        })
    }

    fn end_conversation<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), WidgetStoreError>> {
        Box::pin(async move {
            self.widget_write(WidgetWrite::End { id: id.to_owned() }).await.map(drop)
        })
    }

    /// One SQLite file serves one process.
    fn changes(&self) -> BoxFuture<'_, Result<Option<ChangeStream>, WidgetStoreError>> {
        Box::pin(async { Ok(None) })
    }

    fn find_client_activity<'a>(
        &'a self,
        conversation: &'a str,
        client_activity_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredActivity>, WidgetStoreError>> {
        Box::pin(async move {
            let query = sqlx::query(
                "SELECT seq, body FROM widget_activities WHERE conversation_id = ? \
                 AND json_extract(body, '$.channelData.clientActivityID') = ? LIMIT 1",
            )
            .bind(conversation)
            .bind(client_activity_id);
            let row =
                read!(self.store, query, fetch_optional).map_err(|e| widget_error(e.into()))?;
            row.as_ref().map(stored).transpose().map_err(widget_error)
        })
    }

    fn sweep(&self, before_ms: i64) -> BoxFuture<'_, Result<u64, WidgetStoreError>> {
        Box::pin(async move {
            let mut total = 0;
            loop {
                let swept = match self.widget_write(WidgetWrite::Sweep { before_ms }).await? {
                    Written::Count(n) => n,
                    other => return Err(unexpected(&other)),
                };
                total += swept;
                if i64::try_from(swept).unwrap_or(i64::MAX) < WIDGET_SWEEP_CHUNK {
                    return Ok(total);
                }
            }
        })
    }
}
