//! The one integration-test binary. Each area has its own module folder.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc,
    clippy::option_option
)]

mod check;
mod cli;
mod cx;
mod emulator;
mod engine;
mod graph;
mod install;
mod lsp;
mod postgres;
mod server;
mod store;
mod syntax;
mod testing;
mod wait;
mod webhooks;
mod widget;
