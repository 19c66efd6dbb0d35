//! One group-commit round: the writes of a round, whatever their kind, go to PostgreSQL as ONE
//! statement (`round.sql`): each kind of write is a data-modifying `WITH` clause over `unnest`ed
//! arrays, so a round of any size is one round trip and one implicit transaction — all of it
//! commits or none of it does. Its result rows say which inbound events were new (and their
//! ids), which turns won their compare-and-swap (and the ids of their outbox items) and which
//! claims got their lease.
//!
//! The clauses of one statement all see the database as it was before the statement, and a row
//! must not be changed twice in it, so the writer never puts two writes on one conversation or
//! one lease into the same round ([`Write::row`]); the few rows two kinds share (a consumed
//! inbound event and a discarded one) are never the same row. Within a turn, a timer both
//! cancelled and scheduled is only scheduled (the upsert replaces it, as cancel-then-add would).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{PgPool, Row};

use super::super::{to_millis, Committed, Recorded, StoreError, Turn};

/// One write the store was asked for, owning its data so it can wait in the writer's queue.
#[derive(Debug)]
pub(super) enum Write {
    RecordInbound { dedup_key: String, conversation: String, payload: String, at: i64 },
    CommitTurn { turn: Turn, at: i64 },
    MarkSent { id: i64 },
    DiscardInbound { id: i64 },
    Claim { lane: String, owner: String, now: i64, until: i64 },
    Release { lane: String, owner: String },
}

impl Write {
    /// The row this write changes that another write of the same round must not change too.
    pub(super) fn row(&self) -> Option<String> {
        match self {
            Write::CommitTurn { turn, .. } => Some(format!("conversation:{}", turn.conversation)),
            Write::Claim { lane, .. } | Write::Release { lane, .. } => {
                Some(format!("lease:{lane}"))
            }
            Write::RecordInbound { .. } | Write::MarkSent { .. } | Write::DiscardInbound { .. } => {
                None
            }
        }
    }
}

/// What a write answers.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Written {
    Recorded(Recorded),
    Committed(Committed),
    Claimed(bool),
    Done,
}

const ROUND: &str = include_str!("round.sql");

/// The round's writes as the statement's array parameters; `*_at` vectors name each row's write.
#[derive(Default)]
struct Arrays<'a> {
    record_write: Vec<usize>,
    record_key: Vec<&'a str>,
    record_conversation: Vec<&'a str>,
    record_payload: Vec<&'a str>,
    record_at: Vec<i64>,
    turn_write: Vec<usize>,
    turn_conversation: Vec<&'a str>,
    turn_expected: Vec<i64>,
    turn_state: Vec<&'a [u8]>,
    turn_at: Vec<i64>,
    turn_processed: Vec<Option<i64>>,
    outbox_turn: Vec<i64>,
    outbox_payload: Vec<&'a str>,
    cancel_turn: Vec<i64>,
    cancel_key: Vec<&'a str>,
    timer_turn: Vec<i64>,
    timer_key: Vec<&'a str>,
    timer_due: Vec<i64>,
    timer_payload: Vec<&'a str>,
    decisions: Decisions<'a>,
    sent: Vec<i64>,
    discarded: Vec<i64>,
    release_lane: Vec<&'a str>,
    release_owner: Vec<&'a str>,
    claim_write: Vec<usize>,
    claim_lane: Vec<&'a str>,
    claim_owner: Vec<&'a str>,
    claim_until: Vec<i64>,
    /// The earliest `now` of the round's claims: a lease that has not expired by then is kept
    /// (the callers' instants differ by the time they waited for the round, at most).
    claim_now: Option<i64>,
}

#[derive(Default)]
struct Decisions<'a> {
    turn: Vec<i64>,
    bot: Vec<&'a str>,
    at: Vec<i64>,
    event: Vec<&'a str>,
    text: Vec<Option<&'a str>>,
    intent: Vec<Option<&'a str>>,
    missed: Vec<bool>,
    question: Vec<Option<&'a str>>,
    state_before: Vec<Option<&'a str>>,
    state_after: Vec<Option<&'a str>>,
    outcome: Vec<&'a str>,
    rule: Vec<Option<&'a str>>,
    reason: Vec<Option<&'a str>>,
    note: Vec<Option<&'a str>>,
}

type Results = Vec<Option<Result<Written, StoreError>>>;

impl<'a> Arrays<'a> {
    /// Sorts the writes into arrays; writes answered without the database (a dedup key seen
    /// earlier in the round) get their result in `results` now.
    fn of(writes: &[&'a Write], results: &mut Results) -> Arrays<'a> {
        let mut arrays = Arrays::default();
        let mut keys = HashSet::new();
        for (index, write) in writes.iter().enumerate() {
            match write {
                Write::RecordInbound { dedup_key, conversation, payload, at } => {
                    if !keys.insert(dedup_key.as_str()) {
                        results[index] = Some(Ok(Written::Recorded(Recorded::Duplicate)));
                        continue;
                    }
                    arrays.record_write.push(index);
                    arrays.record_key.push(dedup_key);
                    arrays.record_conversation.push(conversation);
                    arrays.record_payload.push(payload);
                    arrays.record_at.push(*at);
                }
                Write::CommitTurn { turn, at } => arrays.push_turn(index, turn, *at),
                Write::MarkSent { id } => {
                    arrays.sent.push(*id);
                    results[index] = Some(Ok(Written::Done));
                }
                Write::DiscardInbound { id } => {
                    arrays.discarded.push(*id);
                    results[index] = Some(Ok(Written::Done));
                }
                Write::Release { lane, owner } => {
                    arrays.release_lane.push(lane);
                    arrays.release_owner.push(owner);
                    results[index] = Some(Ok(Written::Done));
                }
                Write::Claim { lane, owner, now, until } => {
                    arrays.claim_write.push(index);
                    arrays.claim_lane.push(lane);
                    arrays.claim_owner.push(owner);
                    arrays.claim_until.push(*until);
                    arrays.claim_now = Some(arrays.claim_now.map_or(*now, |n| n.min(*now)));
                    results[index] = Some(Ok(Written::Claimed(false)));
                }
            }
        }
        arrays
    }

    fn push_turn(&mut self, index: usize, turn: &'a Turn, at: i64) {
        self.turn_write.push(index);
        let ord = i64::try_from(self.turn_write.len()).unwrap_or(i64::MAX);
        self.turn_conversation.push(&turn.conversation);
        self.turn_expected.push(turn.expected_version);
        self.turn_state.push(&turn.state);
        self.turn_at.push(at);
        self.turn_processed.push(turn.processed);
        for payload in &turn.outbox {
            self.outbox_turn.push(ord);
            self.outbox_payload.push(payload);
        }
        // The last schedule of a key wins, as one upsert after another would leave it.
        let mut timers: Vec<(&str, i64, &str)> = Vec::new();
        for timer in &turn.add_timers {
            timers.retain(|(key, _, _)| *key != timer.key);
            timers.push((&timer.key, to_millis(timer.due), &timer.payload));
        }
        let scheduled: HashSet<&str> = timers.iter().map(|(key, _, _)| *key).collect();
        let mut cancelled = HashSet::new();
        for key in &turn.cancel_timers {
            if !scheduled.contains(key.as_str()) && cancelled.insert(key.as_str()) {
                self.cancel_turn.push(ord);
                self.cancel_key.push(key);
            }
        }
        for (key, due, payload) in timers {
            self.timer_turn.push(ord);
            self.timer_key.push(key);
            self.timer_due.push(due);
            self.timer_payload.push(payload);
        }
        let d = &mut self.decisions;
        for record in &turn.decisions {
            d.turn.push(ord);
            d.bot.push(&record.bot);
            d.at.push(to_millis(record.at));
            d.event.push(&record.event);
            d.text.push(record.text.as_deref());
            d.intent.push(record.intent.as_deref());
            d.missed.push(record.missed);
            d.question.push(record.question.as_deref());
            d.state_before.push(record.state_before.as_deref());
            d.state_after.push(record.state_after.as_deref());
            d.outcome.push(&record.outcome);
            d.rule.push(record.rule.as_deref());
            d.reason.push(record.reason.as_deref());
            d.note.push(record.note.as_deref());
        }
    }
}

/// Runs one round's writes as one statement; returns each write's own result in order, or
/// `Err` when the statement failed (then nothing of the round was written).
pub(super) async fn run(
    pool: &PgPool,
    trips: &AtomicU64,
    writes: &[&Write],
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let mut results: Results = writes.iter().map(|_| None).collect();
    let a = Arrays::of(writes, &mut results);
    let d = &a.decisions;
    trips.fetch_add(1, Ordering::Relaxed);
    let rows = sqlx::query(ROUND)
        .bind(&a.record_key)
        .bind(&a.record_conversation)
        .bind(&a.record_payload)
        .bind(&a.record_at)
        .bind(&a.turn_conversation)
        .bind(&a.turn_expected)
        .bind(&a.turn_state)
        .bind(&a.turn_at)
        .bind(&a.turn_processed)
        .bind(&a.outbox_turn)
        .bind(&a.outbox_payload)
        .bind(&a.cancel_turn)
        .bind(&a.cancel_key)
        .bind(&a.timer_turn)
        .bind(&a.timer_key)
        .bind(&a.timer_due)
        .bind(&a.timer_payload)
        .bind(&d.turn)
        .bind(&d.bot)
        .bind(&d.at)
        .bind(&d.event)
        .bind(&d.text)
        .bind(&d.intent)
        .bind(&d.missed)
        .bind(&d.question)
        .bind(&d.state_before)
        .bind(&d.state_after)
        .bind(&d.outcome)
        .bind(&d.rule)
        .bind(&d.reason)
        .bind(&d.note)
        .bind(&a.sent)
        .bind(&a.discarded)
        .bind(&a.release_lane)
        .bind(&a.release_owner)
        .bind(&a.claim_lane)
        .bind(&a.claim_owner)
        .bind(&a.claim_until)
        .bind(a.claim_now.unwrap_or(0))
        .fetch_all(pool)
        .await?;
    let mut accepted = HashSet::new();
    // (outbox row's ordinal, its id) per write, until the turn's version is known.
    let mut outbox: Vec<Vec<(i64, i64)>> = writes.iter().map(|_| Vec::new()).collect();
    for row in rows {
        let (kind, ord, value): (i16, i64, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let nth = usize::try_from(ord - 1).unwrap_or(usize::MAX);
        let write = match kind {
            0 => a.record_write.get(nth),
            1 | 2 => a.turn_write.get(nth),
            3 => a.claim_write.get(nth),
            _ => a
                .outbox_turn
                .get(nth)
                .and_then(|&turn| usize::try_from(turn - 1).ok())
                .and_then(|turn| a.turn_write.get(turn)),
        };
        let Some(&index) = write else {
            return Err(StoreError::Database(format!(
                "a round answered for row {ord} of kind {kind}"
            )));
        };
        if kind == 4 {
            outbox[index].push((ord, value));
            continue;
        }
        results[index] = Some(match kind {
            0 => {
                accepted.insert(index);
                Ok(Written::Recorded(Recorded::Accepted(value)))
            }
            1 => Ok(Written::Committed(Committed { version: value, outbox: Vec::new() })),
            2 => Err(conflict(writes[index], value)),
            _ => Ok(Written::Claimed(true)),
        });
    }
    for (result, mut ids) in results.iter_mut().zip(outbox) {
        if let Some(Ok(Written::Committed(committed))) = result {
            ids.sort_unstable();
            committed.outbox = ids.into_iter().map(|(_, id)| id).collect();
        }
    }
    for &index in &a.record_write {
        if !accepted.contains(&index) {
            results[index] = Some(Ok(Written::Recorded(Recorded::Duplicate)));
        }
    }
    Ok(results
        .into_iter()
        .map(|result| {
            result.unwrap_or_else(|| Err(StoreError::Database("a write was left out".to_owned())))
        })
        .collect())
}

fn conflict(write: &Write, found: i64) -> StoreError {
    match write {
        Write::CommitTurn { turn, .. } => StoreError::Conflict {
            conversation: turn.conversation.clone(),
            expected: turn.expected_version,
            found,
        },
        other => StoreError::Database(format!("{other:?} answered as a turn")),
    }
}
