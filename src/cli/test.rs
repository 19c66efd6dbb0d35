//! `botrun test [PATH…]`: runs dialog transcripts (`*.test.yaml`) against their bots, offline.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;

use super::Outcome;
use crate::check::report::{render_human, Style};
use crate::check::{load_program, CheckOptions};
use crate::engine::Program;
use crate::testing::runner::{render_failure, run_test, Coverage};
use crate::testing::transcript::read;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Transcript files or folders (searched for `*.test.yaml`)
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Skip the coverage report
    #[arg(long)]
    pub no_coverage: bool,
}

/// Finds `*.test.yaml` files (folders recursively, sorted).
pub(crate) fn find_transcripts(paths: &[PathBuf]) -> miette::Result<Vec<PathBuf>> {
    crate::check::load::find_files(paths, |name| {
        name.ends_with(".test.yaml") || name.ends_with(".test.yml")
    })
    .map_err(|e| miette::miette!("{e}"))
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let transcripts = find_transcripts(&args.paths)?;
    let mut programs: BTreeMap<PathBuf, Option<Program>> = BTreeMap::new();
    let mut coverage: BTreeMap<PathBuf, Coverage> = BTreeMap::new();
    let (mut passed, mut failed) = (0usize, 0usize);
    for path in &transcripts {
        let transcript = match read(path) {
            Ok(t) => t,
            Err(error) if error.unreadable => return Err(miette::miette!("{error}")),
            Err(error) => {
                println!("✘ {error}");
                failed += 1;
                continue;
            }
        };
        let program =
            programs.entry(transcript.bot.clone()).or_insert_with(|| {
                match load_program(&transcript.bot, &CheckOptions::default()) {
                    Ok(loaded) => Some(loaded.program),
                    Err(failure) => {
                        let style = Style::for_terminal(std::io::stderr().is_terminal());
                        eprint!("{}", render_human(&failure.diagnostics, &failure.sources, style));
                        None
                    }
                }
            });
        let Some(program) = program.clone() else {
            println!(
                "✘ {}: the bot `{}` does not load (see above)",
                crate::source::display_path(path),
                crate::source::display_path(&transcript.bot)
            );
            failed += transcript.tests.len().max(1);
            continue;
        };
        let program = program.with_env(transcript.fixtures.env.clone());
        println!("{}", crate::source::display_path(path));
        let cov = coverage.entry(transcript.bot.clone()).or_default();
        for test in &transcript.tests {
            let result = run_test(&program, &transcript.fixtures, transcript.strict, test, cov);
            if result.passed() {
                passed += 1;
                println!("  ✔ {}", result.name);
            } else {
                failed += 1;
                println!("  ✘ {}", result.name);
                print!("{}", render_failure(&result));
            }
        }
    }
    if !args.no_coverage {
        for (bot, cov) in &coverage {
            let Some(Some(program)) = programs.get(bot) else { continue };
            let missing = cov.missing(program);
            if missing.is_empty() {
                println!(
                    "coverage {}: every state, intent and handler exercised",
                    crate::source::display_path(bot)
                );
            } else {
                println!(
                    "coverage {}: not exercised: {}",
                    crate::source::display_path(bot),
                    missing.join(", ")
                );
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 { Outcome::Clean } else { Outcome::Problems })
}
