//! `botrun graph BOT [--format mermaid|dot|svg] [--output FILE]`: draws a bot's flow.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use super::Outcome;
use crate::check::report::{render_human, Style};
use crate::graph::{build, render, Format};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bot's entry file (the files it `use`s are drawn with it)
    pub bot: PathBuf,
    /// Picture format
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: Format,
    /// Write the picture to this file instead of standard output
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let loaded = match crate::check::load_bundle(&args.bot) {
        Ok(loaded) => loaded,
        Err(failure) => {
            if let Some(error) = failure.io_error {
                return Err(miette::miette!("{error}"));
            }
            let style = Style::for_terminal(std::io::stderr().is_terminal());
            eprint!("{}", render_human(&failure.diagnostics, &failure.sources, style));
            eprintln!("not drawn: fix the syntax errors first");
            return Ok(Outcome::Problems);
        }
    };
    let graph = build(&loaded.bundle.file, &loaded.sources);
    let picture = render(&graph, args.format);
    match &args.output {
        Some(path) => std::fs::write(path, picture)
            .map_err(|e| miette::miette!("cannot write `{}`: {e}", path.display()))?,
        None => print!("{picture}"),
    }
    let unreachable = graph.unreachable_states();
    if !unreachable.is_empty() {
        eprintln!("unreachable states (drawn dashed): {}", unreachable.join(", "));
    }
    Ok(Outcome::Clean)
}
