//! The SQLite store's writes as the writer queues them, and the rare ones applied one at a
//! time, inside a transaction the writer opened: they never begin or commit themselves.

use sqlx::{Row, SqliteConnection};

use super::super::{
    Committed, Recorded, StoreError, Swept, Turn, PROBE_FILL, PROBE_KEY, SWEEP_CHUNK,
};
use serde_json::Value;

use crate::widget::{ConversationRecord, StoredActivity};

/// One write the store was asked for, owning its data so it can wait in the writer's queue.
#[derive(Debug)]
pub(super) enum Write {
    RecordInbound {
        dedup_key: String,
        conversation: String,
        payload: String,
        at: i64,
    },
    DiscardInbound {
        id: i64,
    },
    CommitTurn {
        turn: Turn,
        at: i64,
    },
    MarkSent {
        id: i64,
    },
    MarkFailed {
        id: i64,
        retry_at: i64,
    },
    FireDueTimers {
        at: i64,
    },
    /// The readiness probe: a row written and removed again.
    Probe,
    /// A write to the widget's history.
    Widget(WidgetWrite),
    /// One chunk of the retention sweep (times in Unix milliseconds).
    Sweep {
        dedup_before: i64,
        conversations_before: i64,
        decisions_before: i64,
    },
}

/// A write to the widget's tables, queued like every other write of the store.
#[derive(Debug)]
pub(super) enum WidgetWrite {
    Create(ConversationRecord),
    Append {
        conversation: String,
        activity: Value,
        now_ms: i64,
    },
    End {
        id: String,
    },
    /// One chunk of the retention sweep: conversations quiet since before `before_ms`.
    Sweep {
        before_ms: i64,
    },
}

/// What a write answers.
#[derive(Debug)]
pub(super) enum Written {
    Recorded(Recorded),
    Committed(Committed),
    Attempts(u32),
    Conversations(Vec<String>),
    Swept(Swept),
    /// A widget activity as stored.
    Appended(StoredActivity),
    /// How many rows a chunked delete removed.
    Count(u64),
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
        Write::Sweep { dedup_before, conversations_before, decisions_before } => {
            let dedup_keys = sqlx::query(
                "DELETE FROM dedup_keys WHERE rowid IN \
                 (SELECT rowid FROM dedup_keys WHERE received_at < ? LIMIT ?)",
            )
            .bind(dedup_before)
            .bind(SWEEP_CHUNK)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            let conversations = sqlx::query(
                "DELETE FROM conversations WHERE rowid IN \
                 (SELECT c.rowid FROM conversations c WHERE c.updated_at < ? \
                  AND NOT EXISTS (SELECT 1 FROM inbound i WHERE i.conversation = c.conversation) \
                  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.conversation = c.conversation) \
                  AND NOT EXISTS (SELECT 1 FROM timers t WHERE t.conversation = c.conversation) \
                  LIMIT ?)",
            )
            .bind(conversations_before)
            .bind(SWEEP_CHUNK)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            let decisions = sqlx::query(
                "DELETE FROM decisions WHERE id IN \
                 (SELECT id FROM decisions WHERE at < ? LIMIT ?)",
            )
            .bind(decisions_before)
            .bind(SWEEP_CHUNK)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            Ok(Written::Swept(Swept { dedup_keys, conversations, decisions }))
        }
        Write::Probe => {
            let key = format!("{PROBE_KEY}{}", "x".repeat(PROBE_FILL));
            sqlx::query("INSERT OR REPLACE INTO dedup_keys (dedup_key, received_at) VALUES (?, 0)")
                .bind(&key)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM dedup_keys WHERE dedup_key = ?")
                .bind(&key)
                .execute(&mut *conn)
                .await?;
            Ok(Written::Done)
        }
        Write::RecordInbound { .. }
        | Write::CommitTurn { .. }
        | Write::MarkSent { .. }
        | Write::Widget(_) => {
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
