//! A store that cannot write: `/readyz` says so, the failures are counted, and the service
//! recovers on its own once there is room again — no restart. The full disk is SQLite's
//! `max_page_count` (through `limits.store_max_mb`'s `open_capped`), so no root is needed.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use botrun::server::health::PROBE_EVERY;
use botrun::server::{app, Config, ManualClock};
use botrun::store::{Durability, SqliteStore, Store};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tower::ServiceExt;

use super::harness::{customer_message, start_time, Harness};

async fn get(h: &Harness, path: &str) -> (StatusCode, String) {
    let request = Request::get(path).body(Body::empty()).unwrap();
    let response = app(h.state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn metric(exposition: &str, name: &str) -> u64 {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{name}` in\n{exposition}"))
}

/// A store file with 256 KB of filler rows (the "other files" on the disk), capped a few pages
/// above its size; the side connection deletes the filler to free the disk.
async fn nearly_full_store(dir: &tempfile::TempDir) -> (Arc<SqliteStore>, SqliteConnection) {
    let url = format!("sqlite://{}", dir.path().join("full.db").display());
    SqliteStore::open(&url).await.unwrap().close().await;
    let mut side = SqliteConnectOptions::from_str(&url).unwrap().connect().await.unwrap();
    sqlx::query("CREATE TABLE filler (bytes BLOB)").execute(&mut side).await.unwrap();
    for _ in 0..64 {
        sqlx::query("INSERT INTO filler VALUES (zeroblob(4000))").execute(&mut side).await.unwrap();
    }
    let pages: u64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(&mut side).await.unwrap();
    let store = SqliteStore::open_capped(&url, Durability::Full, (pages + 3) * 4096).await.unwrap();
    (Arc::new(store), side)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_makes_readyz_503_and_the_service_recovers_once_there_is_room() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut side) = nearly_full_store(&dir).await;
    let clock = Arc::new(ManualClock::new(start_time()));
    let h = Harness::with_store("faq.bot", store as Arc<dyn Store>, Config::default(), clock);
    assert_eq!(get(&h, "/readyz").await.0, StatusCode::OK);
    assert_eq!(metric(&get(&h, "/metrics").await.1, "botrun_store_failures_total"), 0);

    // Long messages fill the disk; the one that does not fit is refused with 500, the answer
    // CX's agent-bot delivery retries on.
    let long = "where is my order ".repeat(100);
    let mut refused = None;
    for conversation in 1..500 {
        let event = customer_message(h.message_id(), conversation, &long);
        let (status, _) = h.post(&event).await;
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            refused = Some(event);
            break;
        }
        assert_eq!(status, StatusCode::OK, "conversation {conversation}");
    }
    let refused = refused.expect("the disk never filled up");
    tokio::time::sleep(PROBE_EVERY + Duration::from_millis(100)).await;
    let (status, reason) = get(&h, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{reason}");
    assert!(reason.contains("full"), "{reason}");
    assert!(metric(&get(&h, "/metrics").await.1, "botrun_store_failures_total") >= 1);

    // The operator frees space: no restart, the redelivered message is taken and answered.
    sqlx::query("DELETE FROM filler").execute(&mut side).await.unwrap();
    side.close().await.unwrap();
    tokio::time::sleep(PROBE_EVERY + Duration::from_millis(100)).await;
    let (status, reason) = get(&h, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{reason}");
    let (status, answer) = h.post(&refused).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "accepted", "{answer}");
    let (status, _) = h.post(&customer_message(h.message_id(), 900, "hello")).await;
    assert_eq!(status, StatusCode::OK);
    h.settle().await;
    assert!(!h.calls().is_empty());
}
