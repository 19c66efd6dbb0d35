//! The SQLite store's writes as the writer queues them, and the rare ones applied one at a
//! time, inside a transaction the writer opened: they never begin or commit themselves.

use sqlx::{Row, SqliteConnection};

use super::super::{Recorded, StoreError, Turn};

/// One write the store was asked for, owning its data so it can wait in the writer's queue.
#[derive(Debug)]
pub(super) enum Write {
    RecordInbound { dedup_key: String, conversation: String, payload: String, at: i64 },
    DiscardInbound { id: i64 },
    CommitTurn { turn: Turn, at: i64 },
    MarkSent { id: i64 },
    MarkFailed { id: i64, retry_at: i64 },
    FireDueTimers { at: i64 },
}

/// What a write answers.
#[derive(Debug)]
pub(super) enum Written {
    Recorded(Recorded),
    Version(i64),
    Attempts(u32),
    Conversations(Vec<String>),
    Done,
}

/// Runs one of the rare writes on `conn`, which is inside an open transaction; the frequent
/// ones (inbound records, turns, deliveries) are applied together by `batch`.
pub(super) async fn apply_one(
    conn: &mut SqliteConnection,
    write: &Write,
) -> Result<Written, StoreError> {
    match write {
        Write::DiscardInbound { id } => {
            sqlx::query("DELETE FROM inbound WHERE id = ?").bind(id).execute(&mut *conn).await?;
            Ok(Written::Done)
        }
        Write::MarkFailed { id, retry_at } => {
            let attempts: Option<i64> = sqlx::query_scalar(
                "UPDATE outbox SET attempts = attempts + 1, not_before = ? WHERE id = ? \
                 RETURNING attempts",
            )
            .bind(retry_at)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
            Ok(Written::Attempts(attempts.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))))
        }
        Write::FireDueTimers { at } => fire_due_timers(conn, *at).await.map(Written::Conversations),
        Write::RecordInbound { .. } | Write::CommitTurn { .. } | Write::MarkSent { .. } => {
            Err(StoreError::Database("this write is applied in batches, not one by one".to_owned()))
        }
    }
}

async fn fire_due_timers(conn: &mut SqliteConnection, at: i64) -> Result<Vec<String>, StoreError> {
    let due = sqlx::query(
        "SELECT conversation, timer_key, payload FROM timers WHERE due_at <= ? \
         ORDER BY due_at, conversation, timer_key",
    )
    .bind(at)
    .fetch_all(&mut *conn)
    .await?;
    let mut conversations: Vec<String> = Vec::new();
    for row in due {
        let conversation: String = row.get("conversation");
        let key: String = row.get("timer_key");
        let payload: String = row.get("payload");
        sqlx::query("INSERT INTO inbound (conversation, payload, received_at) VALUES (?, ?, ?)")
            .bind(&conversation)
            .bind(&payload)
            .bind(at)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM timers WHERE conversation = ? AND timer_key = ?")
            .bind(&conversation)
            .bind(&key)
            .execute(&mut *conn)
            .await?;
        if !conversations.contains(&conversation) {
            conversations.push(conversation);
        }
    }
    Ok(conversations)
}
