//! Syntax: the pest grammar (`grammar/bot.pest`) lowered into the spanned AST of [`ast`].
//!
//! Owns parsing, indentation checks, syntax errors in prose and the canonical printer used by
//! `botrun fmt`. Pest types never leave this folder. Imports only `source` and `diagnostic`.

pub mod ast;
mod brackets;
pub mod duration;
mod grammar;
mod lookalike;
mod lower;
mod lower_lang;
mod lower_stmt;
mod outline;
mod phrase_scan;
mod pieces;
pub mod print;
mod prose;
mod repair;

pub use lower::parse;
pub(crate) use outline::reindent;
