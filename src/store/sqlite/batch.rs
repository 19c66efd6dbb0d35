//! Applies a batch of writes with a handful of multi-row statements instead of several
//! statements per write: each statement is a round trip to the connection's thread, and on a
//! busy machine those hops, not SQLite, are what a write costs.
//!
//! The writes of one batch come from callers that are all waiting, so none has seen another's
//! effect and any serial order of them is a valid one. Writes are grouped by kind (inbound
//! records, turns, deliveries) and each group keeps its callers' order, so two turns for one
//! conversation are still checked one after the other. Duplicates and version conflicts are
//! decided here, before anything is written, so they never need a rollback.

use std::collections::{HashMap, HashSet};

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::super::{
    to_millis, Committed, DecisionRecord, Recorded, StoreError, Turn, DECISION_INSERT,
};
use super::writes::{self, Write, Written};

/// Most rows in one statement (SQLite allows 32,766 bound values; a decision row binds 15).
const ROWS_PER_STATEMENT: usize = 1000;

type Results = Vec<Option<Result<Written, StoreError>>>;

/// Runs `batch` on `conn` (inside an open transaction) and returns each write's own result, in
/// the batch's order; `Err` means the transaction must be rolled back.
pub(super) async fn apply(
    conn: &mut SqliteConnection,
    batch: &[&Write],
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let mut results: Results = batch.iter().map(|_| None).collect();
    let mut records = Vec::new();
    let mut turns = Vec::new();
    let mut sent = Vec::new();
    for (index, write) in batch.iter().enumerate() {
        match write {
            Write::RecordInbound { .. } => records.push(index),
            Write::CommitTurn { .. } => turns.push(index),
            Write::MarkSent { .. } => sent.push(index),
            Write::Widget(widget) => {
                results[index] = Some(super::widget::apply(conn, widget).await?)
            }
            // Rare writes (discards, retries, timers) run one statement set each.
            other => results[index] = Some(Ok(writes::apply_one(conn, other).await?)),
        }
    }
    record_inbound(conn, batch, &records, &mut results).await?;
    commit_turns(conn, batch, &turns, &mut results).await?;
    mark_sent(conn, batch, &sent, &mut results).await?;
    Ok(results
        .into_iter()
        .map(|result| {
            result.unwrap_or_else(|| Err(StoreError::Database("a write was left out".to_owned())))
        })
        .collect())
}

async fn record_inbound(
    conn: &mut SqliteConnection,
    batch: &[&Write],
    indices: &[usize],
    results: &mut Results,
) -> Result<(), StoreError> {
    // (index, dedup key, conversation, payload, at) of each write whose key is new to the batch.
    let mut candidates = Vec::new();
    let mut keys = HashSet::new();
    for &index in indices {
        if let Write::RecordInbound { dedup_key, conversation, payload, at } = batch[index] {
            if keys.insert(dedup_key.as_str()) {
                candidates.push((index, dedup_key.as_str(), conversation.as_str(), payload, *at));
            } else {
                results[index] = Some(Ok(Written::Recorded(Recorded::Duplicate)));
            }
        }
    }
    let mut fresh = Vec::new();
    for chunk in candidates.chunks(ROWS_PER_STATEMENT) {
        let mut insert =
            QueryBuilder::<Sqlite>::new("INSERT INTO dedup_keys (dedup_key, received_at) ");
        insert.push_values(chunk, |mut row, (_, key, _, _, at)| {
            row.push_bind(*key).push_bind(*at);
        });
        insert.push(" ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key");
        let inserted: HashSet<String> = insert
            .build_query_scalar::<String>()
            .persistent(false)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
        for candidate in chunk {
            if inserted.contains(candidate.1) {
                fresh.push(candidate);
            } else {
                results[candidate.0] = Some(Ok(Written::Recorded(Recorded::Duplicate)));
            }
        }
    }
    for chunk in fresh.chunks(ROWS_PER_STATEMENT) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO inbound (conversation, payload, received_at) ",
        );
        insert.push_values(chunk, |mut row, (_, _, conversation, payload, at)| {
            row.push_bind(*conversation).push_bind(payload.as_str()).push_bind(*at);
        });
        insert.push(" RETURNING id");
        // One statement on the only writer: the rows get consecutive ids in VALUES order,
        // while RETURNING promises no order.
        let mut ids: Vec<i64> =
            insert.build_query_scalar().persistent(false).fetch_all(&mut *conn).await?;
        ids.sort_unstable();
        if ids.len() != chunk.len() {
            return Err(StoreError::Database("inbound insert returned a wrong row count".into()));
        }
        for (candidate, id) in chunk.iter().zip(ids) {
            results[candidate.0] = Some(Ok(Written::Recorded(Recorded::Accepted(id))));
        }
    }
    Ok(())
}

async fn commit_turns(
    conn: &mut SqliteConnection,
    batch: &[&Write],
    indices: &[usize],
    results: &mut Results,
) -> Result<(), StoreError> {
    let turns: Vec<(usize, &Turn, i64)> = indices
        .iter()
        .filter_map(|&index| match batch[index] {
            Write::CommitTurn { turn, at } => Some((index, turn, *at)),
            _ => None,
        })
        .collect();
    if turns.is_empty() {
        return Ok(());
    }
    let mut versions: HashMap<&str, i64> = HashMap::new();
    let names: Vec<&str> = {
        let mut seen = HashSet::new();
        turns.iter().map(|(_, t, _)| t.conversation.as_str()).filter(|c| seen.insert(*c)).collect()
    };
    for chunk in names.chunks(ROWS_PER_STATEMENT) {
        let mut select = QueryBuilder::<Sqlite>::new(
            "SELECT conversation, version FROM conversations WHERE conversation IN (",
        );
        let mut list = select.separated(", ");
        for name in chunk {
            list.push_bind(*name);
        }
        select.push(")");
        let rows: Vec<(String, i64)> =
            select.build_query_as().persistent(false).fetch_all(&mut *conn).await?;
        for (conversation, version) in rows {
            if let Some(name) = chunk.iter().find(|n| **n == conversation) {
                versions.insert(*name, version);
            }
        }
    }
    // Each turn is checked against the version the turns before it left.
    let mut winners = Vec::new();
    let mut won = Vec::new();
    for (index, turn, at) in turns {
        let found = versions.get(turn.conversation.as_str()).copied().unwrap_or(0);
        if found == turn.expected_version {
            versions.insert(&turn.conversation, found + 1);
            winners.push((turn, found + 1, at));
            won.push(index);
        } else {
            results[index] = Some(Err(StoreError::Conflict {
                conversation: turn.conversation.clone(),
                expected: turn.expected_version,
                found,
            }));
        }
    }
    let outboxes = write_turns(conn, &winners).await?;
    for ((index, (_, version, _)), outbox) in won.into_iter().zip(&winners).zip(outboxes) {
        results[index] = Some(Ok(Written::Committed(Committed { version: *version, outbox })));
    }
    Ok(())
}

/// Writes the winning turns: state, outbox, timers and the consumed inbound events. Returns
/// the ids of each winner's outbox items.
async fn write_turns(
    conn: &mut SqliteConnection,
    winners: &[(&Turn, i64, i64)],
) -> Result<Vec<Vec<i64>>, StoreError> {
    for chunk in winners.chunks(ROWS_PER_STATEMENT) {
        let mut upsert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO conversations (conversation, version, state, updated_at) ",
        );
        upsert.push_values(chunk, |mut row, (turn, version, at)| {
            row.push_bind(turn.conversation.as_str())
                .push_bind(*version)
                .push_bind(turn.state.as_slice())
                .push_bind(*at);
        });
        upsert.push(
            " ON CONFLICT (conversation) DO UPDATE SET version = excluded.version, \
             state = excluded.state, updated_at = excluded.updated_at",
        );
        upsert.build().persistent(false).execute(&mut *conn).await?;
    }
    let outboxes = insert_outbox(conn, winners).await?;
    // Cancels before adds, as for a single turn: a timer both cancelled and added is kept.
    let cancels: Vec<(&str, &str)> = winners
        .iter()
        .flat_map(|(turn, _, _)| {
            turn.cancel_timers.iter().map(move |key| (turn.conversation.as_str(), key.as_str()))
        })
        .collect();
    for chunk in cancels.chunks(ROWS_PER_STATEMENT) {
        let mut delete =
            QueryBuilder::<Sqlite>::new("DELETE FROM timers WHERE (conversation, timer_key) IN (");
        delete.push_values(chunk, |mut row, (conversation, key)| {
            row.push_bind(*conversation).push_bind(*key);
        });
        delete.push(")");
        delete.build().persistent(false).execute(&mut *conn).await?;
    }
    let adds: Vec<(&str, &str, i64, &str)> = winners
        .iter()
        .flat_map(|(turn, _, _)| {
            turn.add_timers.iter().map(move |timer| {
                let due = to_millis(timer.due);
                (turn.conversation.as_str(), timer.key.as_str(), due, timer.payload.as_str())
            })
        })
        .collect();
    for chunk in adds.chunks(ROWS_PER_STATEMENT) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO timers (conversation, timer_key, due_at, payload) ",
        );
        insert.push_values(chunk, |mut row, (conversation, key, due, payload)| {
            row.push_bind(*conversation).push_bind(*key).push_bind(*due).push_bind(*payload);
        });
        insert.push(
            " ON CONFLICT (conversation, timer_key) DO UPDATE SET \
             due_at = excluded.due_at, payload = excluded.payload",
        );
        insert.build().persistent(false).execute(&mut *conn).await?;
    }
    let consumed: Vec<(i64, &str)> = winners
        .iter()
        .filter_map(|(turn, _, _)| turn.processed.map(|id| (id, turn.conversation.as_str())))
        .collect();
    for chunk in consumed.chunks(ROWS_PER_STATEMENT) {
        let mut delete =
            QueryBuilder::<Sqlite>::new("DELETE FROM inbound WHERE (id, conversation) IN (");
        delete.push_values(chunk, |mut row, (id, conversation)| {
            row.push_bind(*id).push_bind(*conversation);
        });
        delete.push(")");
        delete.build().persistent(false).execute(&mut *conn).await?;
    }
    let decisions: Vec<(&str, &DecisionRecord)> = winners
        .iter()
        .flat_map(|(turn, _, _)| turn.decisions.iter().map(|d| (turn.conversation.as_str(), d)))
        .collect();
    for chunk in decisions.chunks(ROWS_PER_STATEMENT) {
        let mut insert = QueryBuilder::<Sqlite>::new(DECISION_INSERT);
        insert.push_values(chunk, |mut row, (conversation, d)| {
            row.push_bind(*conversation)
                .push_bind(d.bot.as_str())
                .push_bind(to_millis(d.at))
                .push_bind(d.event.as_str())
                .push_bind(d.text.as_deref())
                .push_bind(d.intent.as_deref())
                .push_bind(d.missed)
                .push_bind(d.question.as_deref())
                .push_bind(d.state_before.as_deref())
                .push_bind(d.state_after.as_deref())
                .push_bind(d.outcome.as_str())
                .push_bind(d.rule.as_deref())
                .push_bind(d.reason.as_deref())
                .push_bind(d.note.as_deref());
        });
        insert.build().persistent(false).execute(&mut *conn).await?;
    }
    Ok(outboxes)
}

/// Queues the winners' outbox items; returns each winner's new ids, in its order.
async fn insert_outbox(
    conn: &mut SqliteConnection,
    winners: &[(&Turn, i64, i64)],
) -> Result<Vec<Vec<i64>>, StoreError> {
    let outbox: Vec<(&str, &str, i64)> = winners
        .iter()
        .flat_map(|(turn, _, at)| {
            turn.outbox.iter().map(move |p| (turn.conversation.as_str(), p.as_str(), *at))
        })
        .collect();
    let mut ids = Vec::with_capacity(outbox.len());
    for chunk in outbox.chunks(ROWS_PER_STATEMENT) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO outbox (conversation, payload, not_before, created_at) ",
        );
        insert.push_values(chunk, |mut row, (conversation, payload, at)| {
            row.push_bind(*conversation).push_bind(*payload).push_bind(*at).push_bind(*at);
        });
        insert.push(" RETURNING id");
        // As for inbound rows: one statement on the only writer numbers its rows in VALUES
        // order, while RETURNING promises no order.
        let mut chunk_ids: Vec<i64> =
            insert.build_query_scalar().persistent(false).fetch_all(&mut *conn).await?;
        chunk_ids.sort_unstable();
        if chunk_ids.len() != chunk.len() {
            return Err(StoreError::Database("outbox insert returned a wrong row count".into()));
        }
        ids.extend(chunk_ids);
    }
    let mut ids = ids.into_iter();
    Ok(winners.iter().map(|(turn, _, _)| ids.by_ref().take(turn.outbox.len()).collect()).collect())
}

async fn mark_sent(
    conn: &mut SqliteConnection,
    batch: &[&Write],
    indices: &[usize],
    results: &mut Results,
) -> Result<(), StoreError> {
    let ids: Vec<(usize, i64)> = indices
        .iter()
        .filter_map(|&index| match batch[index] {
            Write::MarkSent { id } => Some((index, *id)),
            _ => None,
        })
        .collect();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut delete = QueryBuilder::<Sqlite>::new("DELETE FROM outbox WHERE id IN (");
        let mut list = delete.separated(", ");
        for (_, id) in chunk {
            list.push_bind(*id);
        }
        delete.push(")");
        delete.build().persistent(false).execute(&mut *conn).await?;
        for (index, _) in chunk {
            results[*index] = Some(Ok(Written::Done));
        }
    }
    Ok(())
}
