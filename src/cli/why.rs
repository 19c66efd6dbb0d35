//! `botrun why FILE "text" [--state NAME]`: explains which rule answers a message, and why.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use chrono::Utc;

use super::Outcome;
use crate::check::report::{render_human, Style};
use crate::check::{load_program, CheckOptions};
use crate::engine::{explain, set_state, Contact};
use crate::testing::render::render_explanation;
use crate::testing::Conversation;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bot file
    pub file: PathBuf,
    /// The customer's message
    pub text: String,
    /// The state the conversation is in (default: where `on start` leads)
    #[arg(long)]
    pub state: Option<String>,
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let program = match load_program(&args.file, &CheckOptions::default()) {
        Ok(loaded) => loaded.program,
        Err(failure) => {
            let style = Style::for_terminal(std::io::stderr().is_terminal());
            eprint!("{}", render_human(&failure.diagnostics, &failure.sources, style));
            return Ok(Outcome::Problems);
        }
    };
    let now = Utc::now();
    let mut conversation = Conversation::new(&program, 1, now);
    conversation.start(Contact::default());
    let mut state = conversation.state().clone();
    if let Some(name) = &args.state {
        if !set_state(&program, &mut state, name) {
            let known: Vec<&str> = program.state_names().collect();
            return Err(miette::miette!(
                "unknown state `{name}`; the states are: {}",
                known.join(", ")
            ));
        }
    }
    print!("{}", render_explanation(&args.text, &explain(&program, &state, &args.text, now)));
    Ok(Outcome::Clean)
}
