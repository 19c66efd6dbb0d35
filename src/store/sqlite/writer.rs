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

use sqlx::pool::PoolConnection;
use sqlx::{Connection, Sqlite, SqliteConnection, SqlitePool};
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
    /// `in_memory`: the pool's one connection is the database, so it is never discarded.
    pub(super) fn start(pool: SqlitePool, in_memory: bool) -> Writer {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(Connections { pool, in_memory }, queue));
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

/// Where the writer's connections come from.
struct Connections {
    pool: SqlitePool,
    in_memory: bool,
}

impl Connections {
    /// Takes a connection out of the pool for good after a failed transaction. After a full
    /// disk or an I/O error SQLite may already have rolled the transaction back, so the driver's
    /// own `ROLLBACK` fails and it keeps believing the connection is inside a transaction; every
    /// later `BEGIN` on it would be refused until a restart. A fresh connection (the pool opens
    /// one when next asked) has no such memory, so the store writes again as soon as the cause
    /// is gone. An in-memory database lives in its one connection and is kept.
    fn discard(&self, conn: PoolConnection<Sqlite>) {
        if !self.in_memory {
            drop(conn.detach());
        }
    }
}

async fn run(pool: Connections, mut queue: mpsc::UnboundedReceiver<Job>) {
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
    pool: &Connections,
    batch: &[Job],
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let writes: Vec<&Write> = batch.iter().map(|job| &job.write).collect();
    let mut conn = pool.pool.acquire().await?;
    let outcome = apply_and_commit(&mut conn, &writes).await;
    if outcome.is_err() {
        pool.discard(conn);
    }
    outcome
}

/// Runs one write in a transaction of its own.
async fn commit_alone(pool: &Connections, write: &Write) -> Result<Written, StoreError> {
    let mut conn = pool.pool.acquire().await?;
    match apply_and_commit(&mut conn, &[write]).await {
        Ok(mut results) => {
            results.pop().unwrap_or_else(|| Err(StoreError::Database("no result".into())))
        }
        Err(error) => {
            pool.discard(conn);
            Err(error)
        }
    }
}

/// Applies `writes` in one `BEGIN IMMEDIATE` transaction and commits it, unless the only write
/// failed on its own (a conflict): then nothing is committed and that failure is its result.
async fn apply_and_commit(
    conn: &mut SqliteConnection,
    writes: &[&Write],
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let results = batch::apply(&mut tx, writes).await?;
    if writes.len() == 1 && results.iter().all(Result::is_err) {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(results)
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
                assert_eq!(result.unwrap().version, 1, "{n}");
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

    /// A full disk fails writes while it lasts and only while it lasts: once there is room
    /// again the next write succeeds without a restart. (`max_page_count` stands in for the
    /// disk; deleting filler rows from another connection is the operator freeing space.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_resume_once_a_full_disk_has_room_again() {
        use std::str::FromStr;

        use sqlx::sqlite::SqliteConnectOptions;
        use sqlx::{ConnectOptions, Connection};

        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("full.db").display());
        {
            let store = SqliteStore::open(&url).await.unwrap();
            sqlx::query("CREATE TABLE filler (bytes BLOB)").execute(&store.pool).await.unwrap();
            for _ in 0..64 {
                sqlx::query("INSERT INTO filler VALUES (zeroblob(4000))")
                    .execute(&store.pool)
                    .await
                    .unwrap();
            }
            store.close().await;
        }
        let mut side = SqliteConnectOptions::from_str(&url).unwrap().connect().await.unwrap();
        let pages: u64 =
            sqlx::query_scalar("PRAGMA page_count").fetch_one(&mut side).await.unwrap();
        let store =
            SqliteStore::open_capped(&url, crate::store::Durability::Full, (pages + 2) * 4096)
                .await
                .unwrap();
        let payload = "x".repeat(400);
        let mut accepted = 0;
        let refused = loop {
            match store.record_inbound(&format!("k{accepted}"), "c", &payload, t0()).await {
                Ok(_) => accepted += 1,
                Err(error) => break error,
            }
            assert!(accepted < 10_000, "the store never filled up");
        };
        assert!(refused.to_string().contains("full"), "{refused}");
        for _ in 0..3 {
            let still = store.record_inbound("while-full", "c", &payload, t0()).await.unwrap_err();
            assert!(still.to_string().contains("full"), "still full, so: {still}");
        }
        sqlx::query("DELETE FROM filler").execute(&mut side).await.unwrap();
        side.close().await.unwrap();
        for n in accepted..accepted + 20 {
            let result = store.record_inbound(&format!("k{n}"), "c", &payload, t0()).await;
            assert!(
                matches!(result, Ok(Recorded::Accepted(_))),
                "write {n} after room: {result:?}"
            );
        }
        assert_eq!(store.queued_inbound("c").await.unwrap(), u64::try_from(accepted + 20).unwrap());
    }

    /// After a full disk or an I/O error at commit, SQLite rolls the whole transaction back by
    /// itself; the driver's own rollback then fails and, on that connection, every later
    /// `BEGIN` was refused ("`begin_with` at non-zero transaction depth") until a restart.
    /// `RAISE(ROLLBACK)` makes SQLite do exactly that on demand.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_sqlite_rolled_back_itself_does_not_wedge_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = file_store(&dir).await;
        sqlx::query(
            "CREATE TRIGGER roll_back BEFORE INSERT ON inbound WHEN NEW.payload = 'doomed' \
             BEGIN SELECT RAISE(ROLLBACK, 'rolled back by the database'); END",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        for n in 0..3 {
            let error = store.record_inbound(&format!("d{n}"), "c", "doomed", t0()).await;
            let error = error.unwrap_err().to_string();
            assert!(error.contains("rolled back by the database"), "{error}");
            let fine = store.record_inbound(&format!("f{n}"), "c", "fine", t0()).await;
            assert!(matches!(fine, Ok(Recorded::Accepted(_))), "write after a rollback: {fine:?}");
        }
        assert_eq!(store.queued_inbound("c").await.unwrap(), 3);
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
