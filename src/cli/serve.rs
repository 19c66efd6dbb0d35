//! `botrun serve`.

use super::Outcome;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: &Args) -> miette::Result<Outcome> {
    Err(miette::miette!("`botrun serve` is not available in this build yet"))
}
