//! Where the tests find PostgreSQL: `BOTRUN_TEST_POSTGRES_URL`, by default the local server
//! (`postgres://postgres@127.0.0.1:5432/test`). `scripts/test` starts a throwaway server when
//! none answers and Debian's PostgreSQL is installed; run alone, a test without one stops with
//! a message that says how to get one instead of a bare connection error.

use botrun::store::PostgresStore;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The PostgreSQL the tests use.
pub fn url() -> String {
    std::env::var("BOTRUN_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// A schema name no other test (or earlier run) uses, so tests run side by side.
pub fn fresh_schema(prefix: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// A store with its own connection pool in `schema`.
pub async fn store_in(schema: &str) -> PostgresStore {
    let url = url();
    match PostgresStore::open_in_schema(&url, Some(schema)).await {
        Ok(store) => store,
        Err(error) => panic!("{}", unreachable_help(&url, &error)),
    }
}

/// What to say when the tests' PostgreSQL does not answer.
pub fn unreachable_help(url: &str, error: &dyn std::fmt::Display) -> String {
    format!(
        "these tests need PostgreSQL and none answers at {url} ({error}).\n\
         Either run `bash scripts/test`, which starts a throwaway server when Debian's \
         PostgreSQL is installed (`apt-get install postgresql`), or point \
         BOTRUN_TEST_POSTGRES_URL at a server where the user may create schemas."
    )
}
