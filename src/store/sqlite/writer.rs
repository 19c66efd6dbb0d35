//! Group commit: one task owns every write of the SQLite store. Writes queue while the previous
//! batch commits; the task then runs everything queued (up to [`MAX_BATCH`]) in one
//! `BEGIN IMMEDIATE … COMMIT` — one fsync under `synchronous=FULL` instead of one per write —
//! and only then answers each caller with its own result.
//!
//! A write that fails on purpose (a duplicate dedup key, a version conflict) is recognised
//! before anything is written, so it simply answers its error and the batch goes on (see
//! [`batch`]: a whole batch costs a handful of statements, not a few per write). A write that fails
//! for any other reason may have changed rows: the whole batch is rolled back and every write
//! of it is run again in a transaction of its own, so one bad write never fails the others.
//! No caller hears "done" before its write is committed.

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::super::StoreError;
use super::batch;
use super::writes::{Write, Written};

/// Most writes committed together.
const MAX_BATCH: usize = 512;

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
    /// Starts the writer task on the current runtime; it ends when every handle is dropped.
    pub(super) fn start(pool: SqlitePool) -> Writer {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, queue));
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

async fn run(pool: SqlitePool, mut queue: mpsc::UnboundedReceiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match commit_together(&pool, &batch).await {
            Ok(results) => {
                for (job, result) in batch.drain(..).zip(results) {
                    // A caller that gave up waiting no longer needs its answer.
                    let _ = job.answer.send(result);
                }
            }
            Err(error) if batch.len() == 1 => {
                if let Some(job) = batch.pop() {
                    let _ = job.answer.send(Err(error));
                }
            }
            Err(error) => {
                tracing::warn!(%error, writes = batch.len(), "group commit failed; committing its writes one by one");
                for job in batch.drain(..) {
                    let result = commit_alone(&pool, &job.write).await;
                    let _ = job.answer.send(result);
                }
            }
        }
    }
}

/// Runs every write of `batch` in one transaction; `Err` means nothing was committed.
async fn commit_together(
    pool: &SqlitePool,
    batch: &[Job],
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let writes: Vec<&Write> = batch.iter().map(|job| &job.write).collect();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    // On error, dropping the transaction rolls it back.
    let results = batch::apply(&mut tx, &writes).await?;
    tx.commit().await?;
    Ok(results)
}

/// Runs one write in a transaction of its own.
async fn commit_alone(pool: &SqlitePool, write: &Write) -> Result<Written, StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut results = batch::apply(&mut tx, &[write]).await?;
    let result = results.pop().unwrap_or_else(|| Err(StoreError::Database("no result".into())));
    if result.is_ok() {
        tx.commit().await?;
    }
    result
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, Utc};

    use super::super::SqliteStore;
    use crate::store::{Recorded, Store, StoreError, Turn};

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default()
    }

    async fn file_store(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
        let url = format!("sqlite://{}", dir.path().join("group.db").display());
        Arc::new(SqliteStore::open(&url).await.unwrap())
    }

    /// Hundreds of concurrent deliveries, each sent twice: whether a copy lands in its
    /// original's batch or a later one, exactly one of each is accepted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_duplicates_in_one_batch_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let store = file_store(&dir).await;
        let mut tasks = Vec::new();
        for copy in 0..2 {
            for n in 0..300 {
                let store = Arc::clone(&store);
                tasks.push(tokio::spawn(async move {
                    let key = format!("msg:{n}");
                    store
                        .record_inbound(&key, &format!("c{}", n % 7), &copy.to_string(), t0())
                        .await
                }));
            }
        }
        let mut accepted = 0;
        for task in tasks {
            if let Recorded::Accepted(_) = task.await.unwrap().unwrap() {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 300);
        let queued: u64 = {
            let mut total = 0;
            for c in 0..7 {
                total += store.queued_inbound(&format!("c{c}")).await.unwrap();
            }
            total
        };
        assert_eq!(queued, 300);
    }

    /// A conflicting turn fails alone: the writes batched with it are committed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_conflict_fails_only_its_own_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = file_store(&dir).await;
        let mut tasks = Vec::new();
        for n in 0..50 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                // Every third turn names a version the conversation never had.
                let expected = if n % 3 == 0 { 7 } else { 0 };
                let turn = Turn {
                    conversation: format!("c{n}"),
                    expected_version: expected,
                    state: vec![1],
                    outbox: vec![format!("reply {n}")],
                    ..Turn::default()
                };
                (n, store.commit_turn(&turn, t0()).await)
            }));
        }
        for task in tasks {
            let (n, result) = task.await.unwrap();
            if n % 3 == 0 {
                assert!(matches!(result, Err(StoreError::Conflict { .. })), "{n}: {result:?}");
                assert_eq!(store.load_conversation(&format!("c{n}")).await.unwrap(), None);
            } else {
                assert_eq!(result.unwrap(), 1, "{n}");
                let item = store.next_outbox(&format!("c{n}")).await.unwrap().unwrap();
                assert_eq!(item.payload, format!("reply {n}"));
            }
        }
        assert_eq!(store.outbox_depth().await.unwrap(), 33);
    }

    /// Writes answered "done" are on disk: a reopened store sees every one of them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answered_writes_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = file_store(&dir).await;
        let mut tasks = Vec::new();
        for n in 0..100 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                store.record_inbound(&format!("k{n}"), "c", "p", t0()).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        store.close().await;
        let reopened = file_store(&dir).await;
        assert_eq!(reopened.queued_inbound("c").await.unwrap(), 100);
    }

    /// A write the database refuses fails alone: the batch is rolled back and its other writes
    /// are committed one by one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_write_does_not_fail_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = file_store(&dir).await;
        sqlx::query(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON inbound WHEN NEW.payload = 'poison' \
             BEGIN SELECT RAISE(ABORT, 'poisoned payload'); END",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        let mut tasks = Vec::new();
        for n in 0..60 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                let payload = if n == 30 { "poison" } else { "fine" };
                (n, store.record_inbound(&format!("k{n}"), "c", payload, t0()).await)
            }));
        }
        for task in tasks {
            let (n, result) = task.await.unwrap();
            if n == 30 {
                let error = result.unwrap_err();
                assert!(error.to_string().contains("poisoned payload"), "{error}");
            } else {
                assert!(matches!(result, Ok(Recorded::Accepted(_))), "{n}: {result:?}");
            }
        }
        assert_eq!(store.queued_inbound("c").await.unwrap(), 59);
        // The refused write left no dedup key behind: a corrected retry is accepted.
        let retried = store.record_inbound("k30", "c", "fine", t0()).await.unwrap();
        assert!(matches!(retried, Recorded::Accepted(_)));
    }
}
