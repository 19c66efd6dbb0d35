//! Waiting on a condition with a deadline, instead of sleeping and hoping it happened.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How long a test waits for something that should happen at once.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Waits until `done` answers true, checking every 10 ms; fails the test, saying `what` was
/// awaited, when [`DEADLINE`] passes first.
pub async fn until<F: Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let deadline = Instant::now() + DEADLINE;
    while !done().await {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
