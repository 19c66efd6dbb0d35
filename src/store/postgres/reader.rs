//! Coalesced reads: the reads every message makes — its conversation's next inbound event, its
//! stored state, its next outbox item — queue here, and a task answers everything queued with
//! one statement (one `LATERAL` look-up per request over `unnest`ed arrays), so under load many
//! workers share a round trip. Each statement reads committed data as of its start: a caller
//! whose write was answered before it asked sees that write.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::{PgPool, Row};
use tokio::sync::{mpsc, oneshot};

use super::super::StoreError;

/// Most reads answered by one statement.
const MAX_BATCH: usize = 1024;

/// What a read looks up for one conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Read {
    /// The oldest queued inbound event.
    NextInbound = 0,
    /// The stored state and version.
    Conversation = 1,
    /// The first undelivered outbox item.
    NextOutbox = 2,
}

/// The row a read found: for an inbound event `(id, payload, received_at, 0)`; for a
/// conversation `(0, "", version, 0)` and its state; for an outbox item `(id, payload,
/// attempts, not_before)`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Found {
    pub id: i64,
    pub payload: String,
    pub a: i64,
    pub b: i64,
    pub state: Vec<u8>,
}

const LOOK_UP: &str = "SELECT w.ord, x.id, x.payload, x.a, x.b, x.state \
    FROM unnest($1::int2[], $2::text[]) WITH ORDINALITY AS w(kind, conversation, ord) \
    CROSS JOIN LATERAL ( \
        (SELECT i.id, i.payload, i.received_at AS a, 0::int8 AS b, NULL::bytea AS state \
         FROM inbound i WHERE w.kind = 0 AND i.conversation = w.conversation \
         ORDER BY i.id LIMIT 1) \
        UNION ALL \
        (SELECT 0::int8, ''::text, c.version, 0::int8, c.state \
         FROM conversations c WHERE w.kind = 1 AND c.conversation = w.conversation) \
        UNION ALL \
        (SELECT o.id, o.payload, o.attempts, o.not_before, NULL::bytea \
         FROM outbox o WHERE w.kind = 2 AND o.conversation = w.conversation \
         ORDER BY o.id LIMIT 1) \
    ) x";

struct Job {
    read: Read,
    conversation: String,
    answer: oneshot::Sender<Result<Option<Found>, StoreError>>,
}

/// The handle callers read through; cheap to clone.
#[derive(Clone)]
pub(super) struct Reader {
    jobs: mpsc::UnboundedSender<Job>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reader")
    }
}

impl Reader {
    /// Starts the reader task, with up to `lanes` statements in flight.
    pub(super) fn start(pool: PgPool, trips: Arc<AtomicU64>, lanes: usize) -> Reader {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, trips, queue, lanes));
        Reader { jobs }
    }

    /// Looks `read` up for `conversation`.
    pub(super) async fn get(
        &self,
        read: Read,
        conversation: &str,
    ) -> Result<Option<Found>, StoreError> {
        let stopped = || StoreError::Database("the store's reader has stopped".to_owned());
        let (answer, answered) = oneshot::channel();
        let job = Job { read, conversation: conversation.to_owned(), answer };
        self.jobs.send(job).map_err(|_| stopped())?;
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
        async move { answer(&pool, &trips, batch).await }
    })
    .await;
}

async fn answer(pool: &PgPool, trips: &AtomicU64, batch: Vec<Job>) {
    match look_up(pool, trips, &batch).await {
        Ok(mut found) => {
            for (job, found) in batch.into_iter().zip(found.iter_mut()) {
                let _ = job.answer.send(Ok(found.take()));
            }
        }
        Err(error) => {
            let message = error.to_string();
            for job in batch {
                let _ = job.answer.send(Err(StoreError::Database(message.clone())));
            }
        }
    }
}

async fn look_up(
    pool: &PgPool,
    trips: &AtomicU64,
    batch: &[Job],
) -> Result<Vec<Option<Found>>, StoreError> {
    let kinds: Vec<i16> = batch.iter().map(|job| job.read as i16).collect();
    let conversations: Vec<&str> = batch.iter().map(|job| job.conversation.as_str()).collect();
    trips.fetch_add(1, Ordering::Relaxed);
    let rows = sqlx::query(LOOK_UP).bind(&kinds).bind(&conversations).fetch_all(pool).await?;
    let mut found: Vec<Option<Found>> = batch.iter().map(|_| None).collect();
    for row in rows {
        let ord: i64 = row.try_get(0)?;
        let slot = usize::try_from(ord - 1).ok().and_then(|nth| found.get_mut(nth));
        let Some(slot) = slot else {
            return Err(StoreError::Database(format!("a read answered for row {ord}")));
        };
        *slot = Some(Found {
            id: row.try_get(1)?,
            payload: row.try_get(2)?,
            a: row.try_get(3)?,
            b: row.try_get(4)?,
            state: row.try_get::<Option<Vec<u8>>, _>(5)?.unwrap_or_default(),
        });
    }
    Ok(found)
}
