//! Group commit for PostgreSQL: the frequent writes (inbound records, turns, deliveries,
//! discards, lease claims and releases) queue here; a task takes everything queued and commits
//! it as rounds of one statement each ([`round`]), then answers each caller with its own
//! result. Under load many writes share a round trip and a commit (one WAL flush) instead of
//! each paying several.
//!
//! Up to `lanes` batches are in flight at once, each on a connection of its own, so a batch
//! waiting for its commit does not hold up the next. The writes of one batch come from callers
//! that are all waiting, so none has seen another's effect and any serial order of them is
//! valid; two writes on one conversation or one lease go to successive rounds, in the order
//! they were queued ([`rounds`]).
//!
//! A write that fails on purpose (a duplicate dedup key, a version conflict, a lease held by
//! another replica) is decided inside the statement and simply answered. A round that fails
//! for any other reason (a deadlock with another replica, a refused row) committed nothing: each
//! of its writes is then run again in a round of its own, so one bad write fails only its own
//! caller. No caller hears "done" before its write is committed.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::super::StoreError;
use super::round::{self, Write, Written};

/// Most writes taken into one batch.
const MAX_BATCH: usize = 1024;

/// One queued write and where its answer goes.
#[derive(Debug)]
struct Job {
    write: Write,
    answer: oneshot::Sender<Result<Written, StoreError>>,
}

/// The handle callers submit writes through; cheap to clone.
#[derive(Clone, Debug)]
pub(super) struct Writer {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Writer {
    /// Starts the writer task on the current runtime, with up to `lanes` batches in flight;
    /// it ends when every handle is dropped. Every statement it sends is counted in `trips`.
    pub(super) fn start(pool: PgPool, trips: Arc<AtomicU64>, lanes: usize) -> Writer {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, trips, queue, lanes));
        Writer { jobs }
    }

    /// Queues `write` and waits until it is committed (or failed).
    pub(super) async fn submit(&self, write: Write) -> Result<Written, StoreError> {
        let stopped = || StoreError::Database("the store's writer has stopped".to_owned());
        let (answer, answered) = oneshot::channel();
        self.jobs.send(Job { write, answer }).map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

async fn run(
    pool: PgPool,
    trips: Arc<AtomicU64>,
    queue: mpsc::UnboundedReceiver<Job>,
    lanes: usize,
) {
    super::lanes::run_batches(queue, lanes, MAX_BATCH, |batch| {
        let (pool, trips) = (pool.clone(), Arc::clone(&trips));
        async move {
            for round in rounds(batch) {
                commit_round(&pool, &trips, round).await;
            }
        }
    })
    .await;
}

/// Splits a batch into rounds in which no conversation and no lease is written twice; a write
/// goes to the round after the last one that wrote its row, so such writes keep their order.
fn rounds(batch: Vec<Job>) -> Vec<Vec<Job>> {
    let mut rounds: Vec<Vec<Job>> = vec![Vec::new()];
    let mut last: HashMap<String, usize> = HashMap::new();
    for job in batch {
        let round = match job.write.row() {
            Some(row) => {
                let round = last.get(&row).map_or(0, |&r| r + 1);
                last.insert(row, round);
                round
            }
            None => 0,
        };
        if rounds.len() <= round {
            rounds.push(Vec::new());
        }
        rounds[round].push(job);
    }
    rounds
}

async fn commit_round(pool: &PgPool, trips: &AtomicU64, round: Vec<Job>) {
    let writes: Vec<&Write> = round.iter().map(|job| &job.write).collect();
    match round::run(pool, trips, &writes).await {
        Ok(results) => {
            for (job, result) in round.into_iter().zip(results) {
                // A caller that gave up waiting no longer needs its answer.
                let _ = job.answer.send(result);
            }
        }
        Err(error) if round.len() == 1 => {
            if let Some(job) = round.into_iter().next() {
                let _ = job.answer.send(Err(error));
            }
        }
        Err(error) => {
            tracing::warn!(%error, writes = round.len(), "group commit failed; committing its writes one by one");
            for job in round {
                let result = match round::run(pool, trips, &[&job.write]).await {
                    Ok(mut results) => results
                        .pop()
                        .unwrap_or_else(|| Err(StoreError::Database("no result".to_owned()))),
                    Err(error) => Err(error),
                };
                let _ = job.answer.send(result);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Turn;

    fn job(write: Write) -> Job {
        Job { write, answer: oneshot::channel().0 }
    }

    fn turn(conversation: &str, expected: i64) -> Write {
        let turn = Turn {
            conversation: conversation.to_owned(),
            expected_version: expected,
            ..Turn::default()
        };
        Write::CommitTurn { turn, at: 0 }
    }

    fn lease(lane: &str, claim: bool) -> Write {
        let (lane, owner) = (lane.to_owned(), "me".to_owned());
        if claim {
            Write::Claim { lane, owner, now: 0, until: 1 }
        } else {
            Write::Release { lane, owner }
        }
    }

    /// What each round holds, as (conversation or lane, expected version or 0).
    fn shape(rounds: &[Vec<Job>]) -> Vec<Vec<String>> {
        rounds
            .iter()
            .map(|round| round.iter().map(|job| format!("{:?}", job.write.row())).collect())
            .collect()
    }

    #[test]
    fn writes_on_one_row_go_to_successive_rounds_in_queue_order() {
        let batch = vec![
            job(turn("a", 0)),
            job(Write::MarkSent { id: 1 }),
            job(turn("a", 1)),
            job(turn("b", 0)),
            job(lease("cx:1", false)),
            job(lease("cx:1", true)),
            job(turn("a", 2)),
        ];
        let rounds = rounds(batch);
        let expected_version = |job: &Job| match &job.write {
            Write::CommitTurn { turn, .. } => turn.expected_version,
            _ => -1,
        };
        assert_eq!(rounds.len(), 3, "{:?}", shape(&rounds));
        let versions: Vec<Vec<i64>> =
            rounds.iter().map(|r| r.iter().map(expected_version).collect()).collect();
        assert_eq!(versions, [vec![0, -1, 0, -1], vec![1, -1], vec![2]]);
        assert!(matches!(rounds[0][3].write, Write::Release { .. }), "release first, as queued");
        assert!(matches!(rounds[1][1].write, Write::Claim { .. }));
    }
}
