//! The loop behind the PostgreSQL store's batching tasks ([`super::writer`], [`super::reader`]):
//! take everything queued (up to a batch's size) and hand it to `work` on a task of its own, with
//! at most `lanes` batches in flight, so a batch waiting for the database does not hold up the
//! next. Ends when every sender is dropped.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore};

pub(super) async fn run_batches<J, W, F>(
    mut queue: mpsc::UnboundedReceiver<J>,
    lanes: usize,
    max_batch: usize,
    work: W,
) where
    J: Send + 'static,
    W: Fn(Vec<J>) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let lanes = Arc::new(Semaphore::new(lanes.max(1)));
    loop {
        let Ok(lane) = Arc::clone(&lanes).acquire_owned().await else { return };
        let mut batch = Vec::with_capacity(max_batch);
        if queue.recv_many(&mut batch, max_batch).await == 0 {
            return;
        }
        let done = work(batch);
        tokio::spawn(async move {
            done.await;
            drop(lane);
        });
    }
}
