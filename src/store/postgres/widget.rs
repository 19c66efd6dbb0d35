//! The widget's history (Direct Line conversations and their numbered activities) in the
//! PostgreSQL store, on its pool: each append locks its conversation row (`UPDATE … RETURNING`),
//! so concurrent appends get consecutive sequence numbers, and announces the conversation with
//! `NOTIFY` so the other replicas' streams push it.

use futures_util::future::BoxFuture;
use sqlx::postgres::PgListener;
use sqlx::Row;

use crate::store::WIDGET_SWEEP_CHUNK;
use crate::widget::store::stamp;
use crate::widget::{
    Change, ChangeStream, ConversationRecord, StoredActivity, WidgetStore, WidgetStoreError,
};

/// The `NOTIFY` channel an append announces its conversation on, for the other replicas' streams.
const CHANNEL: &str = "botrun_widget";

fn failed(err: impl std::fmt::Display) -> WidgetStoreError {
    WidgetStoreError(err.to_string())
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn activity(row: &sqlx::postgres::PgRow) -> Result<StoredActivity, WidgetStoreError> {
    let body: String = row.try_get("body").map_err(failed)?;
    Ok(StoredActivity {
        seq: to_u64(row.try_get("seq").map_err(failed)?),
        activity: serde_json::from_str(&body).map_err(failed)?,
    })
}

/// How long the change feed waits before listening again after a failure.
const RELISTEN_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// `LISTEN botrun_widget` on a connection of `pool`, held until the listener is dropped.
async fn listen(pool: &sqlx::PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// The change feed: the conversations other replicas announce, and [`Change::Resumed`] each
/// time the listening connection was lost and is listening again, since what was announced in
/// between is gone (`NOTIFY` reaches only the sessions listening when it commits).
struct Feed {
    pool: sqlx::PgPool,
    /// `None` after a failure, until listening again works.
    listener: Option<PgListener>,
}

impl Feed {
    /// The next change; `None` once the pool is closed.
    async fn next(mut self) -> Option<(Change, Feed)> {
        loop {
            let Some(listener) = self.listener.as_mut() else {
                match listen(&self.pool).await {
                    Ok(listener) => {
                        self.listener = Some(listener);
                        return Some((Change::Resumed, self));
                    }
                    Err(sqlx::Error::PoolClosed) => return None,
                    Err(error) => {
                        tracing::warn!(%error, "widget change feed: cannot listen; retrying");
                        tokio::time::sleep(RELISTEN_AFTER).await;
                        continue;
                    }
                }
            };
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    return Some((Change::Stored(notification.payload().to_owned()), self));
                }
                // The connection was lost; sqlx has a new one, listening again.
                Ok(None) => return Some((Change::Resumed, self)),
                Err(sqlx::Error::PoolClosed) => return None,
                // Anything else (a reset connection, a failed reconnect): start over on a
                // fresh connection rather than trust this one.
                Err(error) => {
                    tracing::warn!(%error, "widget change feed interrupted; listening again");
                    self.listener = None;
                    tokio::time::sleep(RELISTEN_AFTER).await;
                }
            }
        }
    }
}

/// The widget's history of one PostgreSQL store ([`crate::store::Store::widget_history`]).
pub(super) struct PostgresHistory {
    pub(super) pool: sqlx::PgPool,
}

impl WidgetStore for PostgresHistory {
    fn create_conversation<'a>(
        &'a self,
        record: &'a ConversationRecord,
    ) -> BoxFuture<'a, Result<(), WidgetStoreError>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO widget_conversations (id, site, user_id, user_name, created_ms) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
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
    ) -> BoxFuture<'a, Result<Option<ConversationRecord>, WidgetStoreError>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT id, site, user_id, user_name, created_ms, last_seq, last_ts_ms, ended \
                 FROM widget_conversations WHERE id = $1",
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
                    ended: row.try_get("ended").map_err(failed)?,
                })
            })
            .transpose()
        })
    }

    fn append<'a>(
        &'a self,
        conversation: &'a str,
        mut activity: serde_json::Value,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<StoredActivity, WidgetStoreError>> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await.map_err(failed)?;
            let row = sqlx::query(
                "UPDATE widget_conversations \
                 SET last_seq = last_seq + 1, last_ts_ms = greatest($1, last_ts_ms + 1) \
                 WHERE id = $2 RETURNING last_seq, last_ts_ms",
            )
            .bind(now_ms)
            .bind(conversation)
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed)?
            .ok_or_else(|| WidgetStoreError(format!("no conversation `{conversation}`")))?;
            let seq = to_u64(row.try_get("last_seq").map_err(failed)?);
            let ts_ms: i64 = row.try_get("last_ts_ms").map_err(failed)?;
            stamp(&mut activity, conversation, seq, ts_ms);
            sqlx::query(
                "INSERT INTO widget_activities (conversation_id, seq, body) VALUES ($1, $2, $3)",
            )
            .bind(conversation)
            .bind(to_i64(seq))
            .bind(activity.to_string())
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
            // Delivered when the transaction commits, to every replica listening.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(conversation)
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
    ) -> BoxFuture<'a, Result<Vec<StoredActivity>, WidgetStoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT seq, body FROM widget_activities \
                 WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(conversation)
            .bind(to_i64(after))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(failed)?;
            rows.iter().map(activity).collect()
        })
    }

    fn end_conversation<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), WidgetStoreError>> {
        Box::pin(async move {
            sqlx::query("UPDATE widget_conversations SET ended = TRUE WHERE id = $1")
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(failed)?;
            Ok(())
        })
    }

    fn changes(&self) -> BoxFuture<'_, Result<Option<ChangeStream>, WidgetStoreError>> {
        Box::pin(async move {
            let listener = listen(&self.pool).await.map_err(failed)?;
            let feed = Feed { pool: self.pool.clone(), listener: Some(listener) };
            Ok(Some(Box::pin(futures_util::stream::unfold(feed, Feed::next)) as ChangeStream))
        })
    }

    fn sweep(&self, before_ms: i64) -> BoxFuture<'_, Result<u64, WidgetStoreError>> {
        Box::pin(async move {
            let mut total = 0;
            loop {
                let mut tx = self.pool.begin().await.map_err(failed)?;
                let ids: Vec<String> = sqlx::query_scalar(
                    "SELECT id FROM widget_conversations \
                     WHERE GREATEST(created_ms, last_ts_ms) < $1 LIMIT $2 FOR UPDATE SKIP LOCKED",
                )
                .bind(before_ms)
                .bind(WIDGET_SWEEP_CHUNK)
                .fetch_all(&mut *tx)
                .await
                .map_err(failed)?;
                sqlx::query("DELETE FROM widget_activities WHERE conversation_id = ANY($1)")
                    .bind(&ids)
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
                sqlx::query("DELETE FROM widget_conversations WHERE id = ANY($1)")
                    .bind(&ids)
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
                tx.commit().await.map_err(failed)?;
                total += ids.len() as u64;
                if i64::try_from(ids.len()).unwrap_or(i64::MAX) < WIDGET_SWEEP_CHUNK {
                    return Ok(total);
                }
            }
        })
    }

    fn find_client_activity<'a>(
        &'a self,
        conversation: &'a str,
        client_activity_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredActivity>, WidgetStoreError>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT seq, body FROM widget_activities \
                 WHERE conversation_id = $1 AND client_id = $2 ORDER BY seq LIMIT 1",
            )
            .bind(conversation)
            .bind(client_activity_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)?;
            row.as_ref().map(activity).transpose()
        })
    }
}
