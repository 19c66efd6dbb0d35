//! `botrun chat FILE`: talk to a bot in the terminal, with `/why`, `/state` and a fake clock.
//! When standard input is not a terminal, each line is one customer message (for scripts).

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;

use chrono::Utc;

use super::Outcome;
use crate::check::report::{render_human, Style};
use crate::check::{load_program, CheckOptions};
use crate::engine::{current_state_name, explain, Contact, Event};
use crate::testing::render::{render_actions, render_explanation, render_trace};
use crate::testing::transcript::parse_duration;
use crate::testing::Conversation;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bot file
    pub file: PathBuf,
    /// The customer's name (`contact.name`)
    #[arg(long)]
    pub name: Option<String>,
    /// The customer's language, as a page's locale would give it (`es`, `es-MX`): a bot with
    /// `languages` answers in it
    #[arg(long)]
    pub language: Option<String>,
    /// An `env.*` value for the bot, as NAME=VALUE (repeatable)
    #[arg(long = "env", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Seed for `say one of` (the same seed gives the same choices)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

const HELP: &str = "commands: /why (why the last reply), /state (state and variables), /wait 5m (move the clock), /press LABEL, /back (an agent hands back), /reset, /quit";

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let program = match load_program(&args.file, &CheckOptions::default()) {
        Ok(loaded) => loaded.program.with_env(args.env.iter().cloned().collect()),
        Err(failure) => {
            let style = Style::for_terminal(std::io::stderr().is_terminal());
            eprint!("{}", render_human(&failure.diagnostics, &failure.sources, style));
            return Ok(Outcome::Problems);
        }
    };
    let interactive = std::io::stdin().is_terminal();
    let mut contact = Contact { name: args.name.clone(), ..Contact::default() };
    if let Some(language) = &args.language {
        contact.attributes.insert("language".into(), language.clone());
    }
    let mut conversation = Conversation::new(&program, args.seed, Utc::now());
    let mut out = std::io::stdout();
    if interactive {
        let _ = writeln!(out, "chatting with {} — {HELP}", program.bot_name());
    }
    let mut last_message = String::new();
    let mut last_state = conversation.state().clone();
    let mut last_trace = String::new();
    let reply = conversation.start(contact.clone());
    let _ = write!(out, "{}", render_actions(&reply.actions));
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            let _ = write!(out, "you: ");
            let _ = out.flush();
        }
        let Some(Ok(line)) = lines.next() else { break };
        let line = line.trim().to_string();
        if line.is_empty() {
            continue;
        }
        let reply = match line.split_once(' ').map_or((line.as_str(), ""), |(a, b)| (a, b.trim())) {
            ("/quit" | "/exit", _) => break,
            ("/help", _) => {
                let _ = writeln!(out, "{HELP}");
                continue;
            }
            ("/why", _) => {
                if last_message.is_empty() {
                    let _ = writeln!(out, "nothing said yet");
                } else {
                    let why = explain(&program, &last_state, &last_message, conversation.now());
                    let _ =
                        write!(out, "{}{}", render_explanation(&last_message, &why), last_trace);
                }
                continue;
            }
            ("/state", _) => {
                let state = conversation.state();
                let _ = writeln!(
                    out,
                    "state: {}  mode: {:?}",
                    current_state_name(&program, state).unwrap_or("(none)"),
                    state.mode()
                );
                for (name, value) in state.variables() {
                    let _ = writeln!(out, "  {name} = {value}");
                }
                continue;
            }
            ("/wait", amount) => match parse_duration(amount) {
                Ok(duration) => conversation.wait(duration),
                Err(e) => {
                    let _ = writeln!(out, "{e}");
                    continue;
                }
            },
            ("/reset", _) => {
                conversation = Conversation::new(&program, args.seed, Utc::now());
                conversation.start(contact.clone())
            }
            ("/back", _) => conversation.event(Event::HandedBack),
            ("/press", label) => {
                last_state = conversation.state().clone();
                last_message = label.to_string();
                conversation.press(label)
            }
            _ => {
                last_state = conversation.state().clone();
                last_message.clone_from(&line);
                conversation.say(&line)
            }
        };
        last_trace = reply.traces.iter().map(render_trace).collect();
        let _ = write!(out, "{}", render_actions(&reply.actions));
    }
    Ok(Outcome::Clean)
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))
}
