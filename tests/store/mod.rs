//! Integration tests: `store` — the conformance suite, run against every backend.

mod batching;
mod conformance;
mod lease_locks;

mod opening;
mod retention;
