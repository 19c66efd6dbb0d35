//! Testing: the dialog transcript runner behind `botrun test` (fake clock, fixtures, mocked
//! fetch answers, coverage), and the offline conversation that `botrun chat` and `botrun why`
//! share. Imports `engine` and `check`; no network.

pub mod conversation;
pub mod generate;
mod languages;
mod locate;
pub mod render;
pub mod replay;
pub mod runner;
pub mod transcript;

pub use conversation::{Conversation, FetchAnswers};
