//! `botrun lsp`: the Language Server, on standard input and output (editors start it themselves;
//! see docs/editors.md).

use super::Outcome;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Accepted for editors that pass it; stdio is the only transport
    #[arg(long)]
    pub stdio: bool,
}

pub fn run(_args: &Args) -> miette::Result<Outcome> {
    crate::lsp::run_stdio().map_err(|e| miette::miette!("{e}"))?;
    Ok(Outcome::Clean)
}
