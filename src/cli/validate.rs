//! `botrun validate`.

use super::Outcome;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: &Args) -> miette::Result<Outcome> {
    Err(miette::miette!("`botrun validate` is not available in this build yet"))
}
