//! Integration tests: `store` — the conformance suite, run against every backend.

mod conformance;

mod opening;
mod retention;
