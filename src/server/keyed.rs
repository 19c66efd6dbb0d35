//! One task per key at a time: the sequencer behind Flow B's conversations and Flow A's turns and
//! CX mirror. A key's work runs strictly in order because only one task works on it; a wake-up
//! that arrives while the task is busy sets its dirty flag, so the task looks again before it
//! leaves. With a store shared by replicas the task holds the key's lease while it works.
//! The last task to leave signals it, so shutdown waits for that signal instead of polling.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use super::AppState;
use crate::store::StoreError;

/// The running tasks of one kind, by key.
#[derive(Clone, Default)]
pub(crate) struct KeyedWorkers {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Each running task's "new work arrived" flag.
    running: Mutex<HashMap<String, Arc<AtomicBool>>>,
    /// Signalled whenever the last running task leaves.
    emptied: Notify,
}

/// How long a failed task waits before it tries its key again.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

impl KeyedWorkers {
    /// Makes sure a task runs `work(key)` and sees the key's newest work. `lease` names the key
    /// in the store's leases; `work` returns once the key has nothing left to do.
    pub(crate) fn wake<W, F>(&self, app: &AppState, key: &str, lease: String, work: W)
    where
        W: Fn(String) -> F + Send + 'static,
        F: Future<Output = Result<(), StoreError>> + Send + 'static,
    {
        let mut running = self.inner.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(dirty) = running.get(key) {
            dirty.store(true, Ordering::SeqCst);
            return;
        }
        let dirty = Arc::new(AtomicBool::new(false));
        running.insert(key.to_owned(), Arc::clone(&dirty));
        drop(running);
        let task = Task { workers: self.clone(), app: app.clone(), key: key.to_owned(), lease };
        tokio::spawn(task.run(dirty, work));
    }

    /// True while a task runs for `key`. Without one its queue is empty (a task leaves only
    /// after finding nothing to do).
    pub(crate) fn is_running(&self, key: &str) -> bool {
        self.inner.running.lock().unwrap_or_else(PoisonError::into_inner).contains_key(key)
    }

    /// True when no task runs.
    pub(crate) fn idle(&self) -> bool {
        self.inner.running.lock().unwrap_or_else(PoisonError::into_inner).is_empty()
    }

    /// Waits until no task runs, or `deadline` passed; true when none runs. Tasks woken
    /// meanwhile are waited for too.
    pub(crate) async fn finish(&self, deadline: tokio::time::Instant) -> bool {
        loop {
            // Registered before looking, so a task leaving in between still wakes this wait.
            let emptied = self.inner.emptied.notified();
            if self.idle() {
                return true;
            }
            if tokio::time::timeout_at(deadline, emptied).await.is_err() {
                return self.idle();
            }
        }
    }
}

struct Task {
    workers: KeyedWorkers,
    app: AppState,
    key: String,
    lease: String,
}

impl Task {
    async fn run<W, F>(self, dirty: Arc<AtomicBool>, work: W)
    where
        W: Fn(String) -> F,
        F: Future<Output = Result<(), StoreError>>,
    {
        loop {
            dirty.store(false, Ordering::SeqCst);
            // Another replica sharing the store works on this key now: it will see this work.
            let outcome = match self.app.hold(&self.lease).await {
                Ok(true) => work(self.key.clone()).await,
                Ok(false) => Ok(()),
                Err(error) => Err(error),
            };
            if let Err(error) = outcome {
                tracing::error!(key = %self.key, %error, "conversation task failed; retrying");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
            if dirty.load(Ordering::SeqCst) {
                continue;
            }
            // The lease is given up while this task is still registered: a wake-up meanwhile
            // sets the flag instead of starting a second task, so this process never has one
            // task working under a lease another of its tasks is giving up (a replica could take
            // it in between and both would deliver).
            self.app.let_go(&self.lease).await;
            // Checked under the lock `wake` holds while setting the flag, so no wake-up is lost
            // between "nothing left" and "task gone"; one that came in while the lease was being
            // given up runs the loop again, which takes the lease first.
            let finished = {
                let mut running =
                    self.workers.inner.running.lock().unwrap_or_else(PoisonError::into_inner);
                let finished = !dirty.load(Ordering::SeqCst);
                if finished {
                    running.remove(&self.key);
                    if running.is_empty() {
                        self.workers.inner.emptied.notify_waiters();
                    }
                }
                finished
            };
            if finished {
                return;
            }
        }
    }
}
