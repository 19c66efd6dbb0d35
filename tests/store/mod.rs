//! Integration tests: `store` — the conformance suite, run against every backend.

mod batching;
mod conformance;

mod opening;
mod retention;
