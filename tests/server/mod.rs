//! Integration tests: `server` — the webhook intake, workers, outbox and timers driven through
//! the real axum app (no socket) with a real SQLite store and the example bots.
//!
//! `emulator_e2e` runs Flow B over sockets against the real CX emulator and CX client. The
//! other modules use [`harness::RecordingCx`] at the outbox boundary where a test needs exact
//! control (manual clock, hanging calls for the restart test, permanent failures).

mod crash;
mod emulator_e2e;
mod flow_a;
mod flow_b;
mod harness;
mod intake;
mod reload;
