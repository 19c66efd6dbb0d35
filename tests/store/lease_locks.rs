//! Two replicas must never wait on each other's lease rows. A claim on a lane another replica
//! holds used to lock that row even though the claim was refused, and the heartbeat waited
//! for any lock on its replica's rows: with two `botrun serve` processes on one database
//! (`cargo bench --bench serve -- --replicas=2`) their rounds and heartbeats deadlocked every
//! run, a stalled heartbeat let leases lapse, and the other replica sent answers again.
//! Here a side transaction holds a lease row's lock, as a statement of the other replica does
//! while it is in flight; the claim and the beat must answer at once instead of waiting for it.

use std::time::Duration;

use botrun::store::{Heartbeat, Store};
use chrono::{DateTime, Utc};
use sqlx::Connection;

fn t(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
}

/// Opens a transaction that holds the lock of `lane`'s lease row until it is dropped.
async fn lock_row(schema: &str, lane: &str) -> sqlx::PgConnection {
    let mut side = sqlx::PgConnection::connect(&crate::postgres::url()).await.unwrap();
    sqlx::query("BEGIN").execute(&mut side).await.unwrap();
    let locked = format!("SELECT lane FROM {schema}.leases WHERE lane = $1 FOR UPDATE");
    let row: Option<String> =
        sqlx::query_scalar(&locked).bind(lane).fetch_optional(&mut side).await.unwrap();
    assert_eq!(row.as_deref(), Some(lane), "the lease row exists");
    side
}

const PATIENCE: Duration = Duration::from_secs(3);

#[tokio::test]
async fn a_claim_on_a_held_lease_does_not_wait_for_the_holders_lock() {
    let schema = crate::postgres::fresh_schema("claim_lock");
    let store = crate::postgres::store_in(&schema).await;
    assert!(store.claim("cx:1", "a", t(0), t(60)).await.unwrap());
    let _held = lock_row(&schema, "cx:1").await;
    let claim = tokio::time::timeout(PATIENCE, store.claim("cx:1", "b", t(1), t(61))).await;
    let granted = claim.expect("b's claim waited for a's row lock").unwrap();
    assert!(!granted, "a holds the lease");
}

#[tokio::test]
async fn a_heartbeat_skips_a_locked_lease_instead_of_waiting() {
    let schema = crate::postgres::fresh_schema("beat_lock");
    let store = crate::postgres::store_in(&schema).await;
    assert!(store.claim("cx:1", "a", t(0), t(3)).await.unwrap());
    assert!(store.claim("cx:2", "a", t(0), t(3)).await.unwrap());
    let mut side = lock_row(&schema, "cx:1").await;
    let beat = Heartbeat { owner: "a", now: t(2), until: t(5), alive_since: t(-1) };
    let live = tokio::time::timeout(PATIENCE, store.heartbeat(beat)).await;
    assert_eq!(live.expect("the beat waited for a row lock").unwrap(), 1);
    sqlx::query("ROLLBACK").execute(&mut side).await.unwrap();
    // The unlocked lease was renewed to 5 s; the locked one kept its 3 s.
    assert!(!store.claim("cx:2", "b", t(4), t(7)).await.unwrap(), "cx:2 renewed by the beat");
    assert!(store.claim("cx:1", "b", t(4), t(7)).await.unwrap(), "cx:1 skipped, so it lapsed");
}
