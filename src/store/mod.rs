//! Store: durable conversation state, dedup keys, the outbox and timers, written in one
//! transaction. A `Store` trait with SQLite (embedded default) and PostgreSQL backends and one
//! conformance suite. Imports nothing but serde types.
