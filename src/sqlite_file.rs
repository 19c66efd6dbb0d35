//! Opening a SQLite file in WAL mode, shared by the service's store and the widget history.
//!
//! Switching a database into WAL needs an exclusive lock that SQLite does not wait for: the busy
//! timeout does not apply, so the switch fails at once with "database is locked" when another
//! connection is reading the file, or is switching it too. A pool opens connections side by side
//! (its minimum-size upkeep runs beside the first acquire), so the switch is done here, once, on a
//! single connection, before any pool exists, and retried while the file is busy; WAL then stays
//! with the file, and the pool's own connections are opened without asking for it.

use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection};

/// How long the switch waits for other connections to let go of the file: the busy timeout the
/// stores give their own connections.
const SWITCH_WAIT: Duration = Duration::from_secs(10);

/// Puts the file named by `options` into WAL mode (creating it if `options` allow) on one
/// connection, and closes that connection. The caller opens its pool with `options` unchanged:
/// they must not ask for a journal mode, or every new connection would race for the switch.
pub async fn switch_to_wal(options: &SqliteConnectOptions) -> Result<(), sqlx::Error> {
    let options = options.clone().journal_mode(SqliteJournalMode::Wal);
    let deadline = tokio::time::Instant::now() + SWITCH_WAIT;
    let mut pause = Duration::from_millis(5);
    loop {
        match options.connect().await {
            Ok(connection) => return connection.close().await,
            Err(error) if is_busy(&error) && tokio::time::Instant::now() + pause < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(error) => return Err(error),
        }
    }
}

/// `SQLITE_BUSY` or one of its extended codes ("database is locked").
fn is_busy(error: &sqlx::Error) -> bool {
    let Some(code) = error.as_database_error().and_then(sqlx::error::DatabaseError::code) else {
        return false;
    };
    code.parse::<i32>().is_ok_and(|code| code & 0xff == 5)
}
