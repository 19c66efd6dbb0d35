//! Integration tests: `cx` — the client against the real emulator (spawned in-process on
//! 127.0.0.1:0), the `botrun cx` commands as processes, and property tests of the decoders.

mod client_calls;
mod commands;
mod faults;
mod harness;
mod never_panic;
