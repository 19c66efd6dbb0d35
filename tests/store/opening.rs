//! Opening SQLite files: a new file must open every time, however busy the machine is. The WAL
//! switch of a new file needs a lock SQLite does not wait for, so it must happen on one connection
//! only (CI saw `botrun dev` exit with "database is locked" on start-up when it did not).

use botrun::store::{Durability, SqliteStore};

/// How many new files each test opens at once: enough that connections opened side by side on
/// one file overlap on a loaded two-core machine.
const FILES: usize = 48;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn new_store_files_open_every_time_even_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let opens = (0..FILES).map(|i| {
        let url = format!("sqlite://{}", dir.path().join(format!("b{i}.db")).display());
        tokio::spawn(async move { SqliteStore::open_with(&url, Durability::Full).await })
    });
    let mut failures = Vec::new();
    for open in opens {
        if let Err(error) = open.await.unwrap() {
            failures.push(error.to_string());
        }
    }
    assert!(failures.is_empty(), "{} of {FILES} opens failed: {failures:?}", failures.len());
}

#[tokio::test]
async fn a_store_file_is_in_wal_mode_after_opening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let store = SqliteStore::open(&format!("sqlite://{}", path.display())).await.unwrap();
    drop(store);
    let side = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).read_only(true);
    let mut connection = sqlx::ConnectOptions::connect(&side).await.unwrap();
    let mode: String =
        sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut connection).await.unwrap();
    assert_eq!(mode, "wal", "{}", path.display());
}

/// A new file another program is reading (an operator's `sqlite3` shell, `botrun report`) while
/// the service starts: SQLite refuses the WAL switch at once instead of waiting, so the opening
/// must wait for the reader itself rather than fail with "database is locked".
#[tokio::test]
async fn a_new_file_opens_once_a_reader_lets_go() {
    use sqlx::{ConnectOptions, Connection};
    let dir = tempfile::tempdir().unwrap();
    {
        let path = dir.path().join("b.db");
        let side =
            sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
        let mut reader = side.connect().await.unwrap();
        sqlx::raw_sql("CREATE TABLE IF NOT EXISTS t (x); BEGIN; SELECT * FROM t;")
            .execute(&mut reader)
            .await
            .unwrap();
        let release = async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            sqlx::raw_sql("COMMIT").execute(&mut reader).await.unwrap();
            reader.close().await.unwrap();
        };
        let url = format!("sqlite://{}", path.display());
        let open = async { SqliteStore::open(&url).await.map(drop).map_err(|e| e.to_string()) };
        let (opened, ()) = tokio::join!(open, release);
        assert_eq!(opened, Ok(()));
    }
}

/// The switch itself, many times side by side on new files: a plain WAL connect loses this race
/// now and then (here, one to three rounds in 300 had a connect fail with "database is locked"), so every
/// switch must succeed, however they overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wal_switches_side_by_side_on_a_new_file_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for round in 0..300 {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join(format!("s{round}.db")))
            .create_if_missing(true);
        let switches: Vec<_> = (0..4)
            .map(|_| {
                let options = options.clone();
                tokio::spawn(async move { botrun::sqlite_file::switch_to_wal(&options).await })
            })
            .collect();
        for switch in switches {
            if let Err(error) = switch.await.unwrap() {
                failures.push(format!("round {round}: {error}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
