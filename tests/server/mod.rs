//! Integration tests: `server` — the webhook intake, workers, outbox and timers driven through
//! the real axum app (no socket) with a real SQLite store and the example bots.
//!
//! CX itself is stood in for by [`harness::RecordingCx`] until the CX client and emulator are
//! on main; it records every call in order and can fail calls on demand.

mod flow_b;
mod harness;
mod intake;
mod reload;
