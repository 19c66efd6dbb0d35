//! Lsp: `botrun lsp`, a Language Server over standard input and output for any editor with an LSP
//! client. It reuses the loader and checks of `validate` (no second parser) on the editor's
//! unsaved buffers: diagnostics as you type, hover, go to definition, references, completion,
//! rename of states and intents across files, formatting (the same as `fmt`) and the outline.
//! Imports `check`, `syntax` and `source`; never the engine's runtime or the server.
//!
//! Built on `lsp-server` and `lsp-types`, the protocol crates rust-analyzer maintains and
//! ships with: a synchronous loop suits a checker that answers in microseconds, and needs no
//! async runtime (`tower-lsp` itself has had no release since 2023).

mod analysis;
mod complete;
mod hover;
mod index;
mod lines;
mod navigate;
mod outline;
mod server;
mod uri;

pub(crate) use server::run_stdio;

/// Why the language server stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LspError {
    #[error("the editor broke the protocol: {0}")]
    Protocol(#[from] lsp_server::ProtocolError),
    #[error("a message could not be read or written: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the connection to the editor closed")]
    Closed,
    #[error("standard input or output failed: {0}")]
    Io(#[from] std::io::Error),
}
