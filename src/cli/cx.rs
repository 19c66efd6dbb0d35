//! `botrun cx …`: Sangoma CX administration.

use super::Outcome;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Check the configured credentials by fetching a token
    Token,
}

pub fn run(_command: &Command) -> miette::Result<Outcome> {
    Err(miette::miette!("`botrun cx` is not available in this build yet"))
}
