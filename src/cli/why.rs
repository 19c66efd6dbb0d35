//! `botrun why FILE "text" [--state NAME]`: explains which rule answers a message, and why.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::Outcome;
use crate::check::report::{render_human, Style};
use crate::check::{load_program, CheckOptions};
use crate::engine::{explain, set_state, Contact, Program, State};
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
    let Some(Start { program, state, now }) = start(&args.file, args.state.as_deref())? else {
        return Ok(Outcome::Problems);
    };
    print!("{}", render_explanation(&args.text, &explain(&program, &state, &args.text, now)));
    Ok(Outcome::Clean)
}

/// A bot ready to hear a first message: `why` explains one, `replay` answers many.
pub(super) struct Start {
    pub program: Program,
    /// A fresh conversation after `on start`, or in `--state`.
    pub state: State,
    pub now: DateTime<Utc>,
}

/// Loads `bot` (printing its problems and answering `None` when it has some) and starts a
/// conversation, moved to `state_name` when one is given.
pub(super) fn start(bot: &Path, state_name: Option<&str>) -> miette::Result<Option<Start>> {
    let program = match load_program(bot, &CheckOptions::default()) {
        Ok(loaded) => loaded.program,
        Err(failure) => {
            let style = Style::for_terminal(std::io::stderr().is_terminal());
            eprint!("{}", render_human(&failure.diagnostics, &failure.sources, style));
            return Ok(None);
        }
    };
    let now = Utc::now();
    let mut state = {
        let mut conversation = Conversation::new(&program, 1, now);
        conversation.start(Contact::default());
        conversation.state().clone()
    };
    if let Some(name) = state_name {
        if !set_state(&program, &mut state, name) {
            let known: Vec<&str> = program.state_names().collect();
            return Err(miette::miette!(
                "unknown state `{name}`; the states are: {}",
                known.join(", ")
            ));
        }
    }
    Ok(Some(Start { program, state, now }))
}
