//! Integration tests: `server` — the webhook intake, workers, outbox and timers driven through
//! the real axum app (no socket) with a real SQLite store and the example bots.
//!
//! `emulator_e2e` and `example_bots` run Flow B over sockets against the real CX emulator and
//! CX client (start-up in `emulator_harness`); `example_bots` drives one whole conversation per
//! example bot as the customer and the agent. The other modules use [`harness::RecordingCx`] at the
//! outbox boundary where a test needs exact control (hanging calls for the restart test,
//! permanent failures).

mod connections;
mod crash;
mod decisions;
mod emulator_e2e;
mod flow_a;
mod flow_a_languages;
mod flow_b;
mod harness;
mod intake;
mod lease_handover;
mod logs;
mod mismatches;
mod reload;
mod replicas;
mod resend;
mod status_rule;
mod store_health;

// One whole conversation per example bot through the real emulator, and its start-up.
mod emulator_harness;
mod example_bots;
