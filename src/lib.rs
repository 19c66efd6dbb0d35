//! botrun — plain-text chatbots for Sangoma CX, with a WebChat widget as the customer's front end.
//!
//! Module map (data flows top to bottom; `docs/architecture.md` describes how the pieces meet):
//!
//! - [`source`]     — loaded files and byte spans shared by every stage.
//! - [`crypto`]     — random ids, tokens and keys, and HMAC-SHA256, each made in one place.
//! - [`clock`]      — where "now" comes from (the wall clock, or a manual one in tests).
//! - [`sqlite_file`] — a SQLite file put into WAL mode once, before any pool opens it.
//! - [`diagnostic`] — problems as data: code, severity, message, labels, help.
//! - [`syntax`]     — pest grammar → spanned AST, syntax errors in prose, the `fmt` printer.
//! - [`check`]      — validation passes over the AST and `compile` into an engine `Program`.
//! - [`engine`]     — pure `step(program, state, event, now) -> (state, actions)`.
//! - [`graph`]      — the flow of a bot as a picture (Mermaid, DOT, self-laid-out SVG).
//! - [`lsp`]        — `botrun lsp`: the Language Server editors use (diagnostics, navigation, rename).
//! - [`testing`]    — dialog transcript runner behind `botrun test`, `chat`, `why` and `replay`.
//! - [`cx`]         — Sangoma CX API client (auth, endpoints, retries, rate limit) and wire types.
//! - [`emulator`]   — a local stand-in for Sangoma CX with an agent console.
//! - [`widget`]     — the Direct Line subset that BotFramework Web Chat speaks.
//! - [`store`]      — durable conversation state, dedup, outbox, timers and the widget's history
//!   (SQLite, PostgreSQL), on one set of connections with one durability.
//! - [`server`]     — `botrun serve`: the only place that wires engine, store, CX and widget.
//! - [`report`]     — `botrun report`: what the bots decided over a period, from the store.
//! - [`cli`]        — command-line commands; exit codes are decided there, in one place.

pub mod check;
pub mod cli;
pub mod clock;
pub mod crypto;
pub mod cx;
pub mod diagnostic;
pub mod emulator;
pub mod engine;
pub mod graph;
pub mod lsp;
pub mod report;
pub mod server;
pub mod source;
pub mod sqlite_file;
pub mod store;
pub mod syntax;
pub mod testing;
pub mod widget;
