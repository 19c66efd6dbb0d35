//! PostgreSQL's group commit and coalesced reads (`src/store/postgres/`): concurrent calls share
//! round trips, and a write the database refuses fails its own caller only. (Order and
//! exactly-once under concurrency are conformance checks, run on every backend.)

use botrun::store::{PostgresStore, Recorded, Store};
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use sqlx::Connection;

fn t(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
}

async fn store(test: &str) -> (PostgresStore, String) {
    let schema = crate::postgres::fresh_schema(&format!("batch_{test}"));
    (crate::postgres::store_in(&schema).await, schema)
}

/// Runs `sql` in `schema` on a connection of its own (as an operator or another tool would).
async fn run_sql(schema: &str, sql: &str) {
    let mut conn = sqlx::PgConnection::connect(&crate::postgres::url()).await.unwrap();
    sqlx::raw_sql(&format!("SET search_path TO {schema}; {sql}")).execute(&mut conn).await.unwrap();
}

/// Hundreds of concurrent writes and reads cost a few statements, not one (or more) each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_share_round_trips() {
    let (store, _) = store("trips").await;
    let before = store.round_trips();
    let records =
        (0..300).map(|n| {
            let store = &store;
            async move {
                store.record_inbound(&format!("k{n}"), &format!("c{}", n % 30), "p", t(0)).await
            }
        });
    for recorded in join_all(records).await {
        assert!(matches!(recorded.unwrap(), Recorded::Accepted(_)));
    }
    let writes = store.round_trips() - before;
    let reads = (0..300).map(|n| {
        let store = &store;
        async move { store.next_inbound(&format!("c{}", n % 30)).await }
    });
    for read in join_all(reads).await {
        assert!(read.unwrap().is_some());
    }
    let reads = store.round_trips() - before - writes;
    assert!(writes <= 20, "300 records took {writes} round trips");
    assert!(reads <= 20, "300 reads took {reads} round trips");
}

/// A write the database refuses (here a trigger; in life a value it cannot store) fails only
/// its own caller: the round it was in is run again one write at a time, the other writes are
/// committed, and the refused write leaves nothing behind (its dedup key is free again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_fails_only_its_own_caller() {
    let (store, schema) = store("refused").await;
    run_sql(
        &schema,
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF NEW.payload = 'poison' THEN RAISE EXCEPTION 'poisoned payload'; END IF; \
           RETURN NEW; END $$; \
         CREATE TRIGGER refuse_poison BEFORE INSERT ON inbound \
           FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
    )
    .await;
    let records = (0..60).map(|n| {
        let store = &store;
        async move {
            let payload = if n == 30 { "poison" } else { "fine" };
            store.record_inbound(&format!("k{n}"), "c", payload, t(0)).await
        }
    });
    for (n, result) in join_all(records).await.into_iter().enumerate() {
        if n == 30 {
            let error = result.unwrap_err();
            assert!(error.to_string().contains("poisoned payload"), "{error}");
        } else {
            assert!(matches!(result, Ok(Recorded::Accepted(_))), "{n}: {result:?}");
        }
    }
    assert_eq!(store.queued_inbound("c").await.unwrap(), 59);
    let retried = store.record_inbound("k30", "c", "fine", t(1)).await.unwrap();
    assert!(matches!(retried, Recorded::Accepted(_)), "the refused write left its key behind");
}

/// A lease this process holds with more than half of it left is renewed without asking the
/// database; one closer to running out is renewed by asking, and a released one is asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lease_is_renewed_without_a_round_trip_while_it_surely_lasts() {
    let (store, _) = store("lease_cache").await;
    let lease = chrono::Duration::seconds(4);
    assert!(store.claim("cx:1", "a", t(0), t(0) + lease).await.unwrap());
    let before = store.round_trips();
    assert!(store.claim("cx:1", "a", t(1), t(1) + lease).await.unwrap());
    assert_eq!(store.round_trips(), before, "3 s of 4 s left: no need to ask");
    assert!(store.claim("cx:1", "a", t(3), t(3) + lease).await.unwrap());
    assert_eq!(store.round_trips(), before + 1, "1 s left: asked, and renewed");
    assert!(!store.claim("cx:1", "b", t(4), t(4) + lease).await.unwrap(), "a's until 7 s");
    store.release("cx:1", "a").await.unwrap();
    assert!(store.claim("cx:1", "b", t(5), t(5) + lease).await.unwrap(), "released: b takes it");
    assert!(!store.claim("cx:1", "a", t(5), t(5) + lease).await.unwrap(), "a asks and is refused");
}
