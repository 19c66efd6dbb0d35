//! Read connections kept out of the pool. A pooled connection is pinged when it goes back to the
//! pool — one more round trip to its thread per read — so the frequent reads of a file database
//! use a few connections of their own instead, each behind a lock.

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::sync::{Mutex, MutexGuard};

use super::super::StoreError;

/// A fixed set of read connections.
#[derive(Debug)]
pub(super) struct Readers {
    connections: Vec<Mutex<SqliteConnection>>,
    next: AtomicUsize,
}

impl Readers {
    /// Opens `count` (at least one) connections with `options`.
    pub(super) async fn open(
        options: &SqliteConnectOptions,
        count: usize,
    ) -> Result<Readers, StoreError> {
        let mut connections = Vec::with_capacity(count.max(1));
        for _ in 0..count.max(1) {
            connections.push(Mutex::new(options.connect().await?));
        }
        Ok(Readers { connections, next: AtomicUsize::new(0) })
    }

    /// A free connection if there is one, else the next in turn once it is free.
    pub(super) async fn get(&self) -> MutexGuard<'_, SqliteConnection> {
        for connection in &self.connections {
            if let Ok(guard) = connection.try_lock() {
                return guard;
            }
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        self.connections[index].lock().await
    }
}
