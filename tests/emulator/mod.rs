//! Integration tests: `emulator` — the local Sangoma CX emulator over real sockets: token and
//! 401, each call's shapes and bad input, the status machine, webhook delivery to a real
//! receiver, fault injection, and the console pages.

mod api;
mod chatwoot;
mod console;
mod events;
mod faults;
mod harness;
