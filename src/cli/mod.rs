//! Command-line commands. Each command lives in its own file with its `Args` and `run`; this file
//! parses arguments and decides exit codes in one place:
//! 0 clean, 1 "your scripts or dialogs have problems", 2 "the tool could not run".

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod chat;
pub mod completions;
pub mod cx;
pub mod dev;
pub mod emulator;
pub mod fmt;
pub mod graph;
pub mod lsp;
pub mod man;
pub mod replay;
pub mod report;
pub mod serve;
pub mod test;
pub mod validate;
pub mod why;

/// What a command found, mapped to the process exit code by [`main`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything is fine (exit 0).
    Clean,
    /// The user's scripts, dialogs or files have problems (exit 1).
    Problems,
}

/// `botrun --version`: the package version and the commit it was built from (`build.rs`; `unknown`
/// when built outside a git checkout without `BOTRUN_BUILD_COMMIT`).
pub const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("BOTRUN_BUILD_COMMIT"), ")");

#[derive(Parser, Debug)]
#[command(
    name = "botrun",
    version = VERSION,
    about = "Plain-text chatbots for Sangoma CX",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check `.bot` files and report every problem with its location
    Validate(validate::Args),
    /// Rewrite `.bot` files into canonical form
    Fmt(fmt::Args),
    /// Draw a bot's flow as Mermaid, DOT or SVG
    Graph(graph::Args),
    /// Run the Language Server for editors (over standard input and output)
    Lsp(lsp::Args),
    /// Run dialog transcript tests against bots, offline
    Test(test::Args),
    /// Chat with a bot in the terminal
    Chat(chat::Args),
    /// Explain which rule answers a message, and why
    Why(why::Args),
    /// Replay customer messages (one per line) through a bot: JSON lines out, summary on stderr
    Replay(replay::Args),
    /// What the bots decided over a period, from the service's store: containment, handoffs,
    /// intents, missed messages grouped by similarity (table, JSON or an HTML page)
    Report(report::Args),
    /// Run the service: CX webhooks and widget traffic
    Serve(serve::Args),
    /// Run the CX emulator, the service and the widget page together, locally
    Dev(dev::Args),
    /// Run the local Sangoma CX emulator alone
    Emulator(emulator::Args),
    /// Sangoma CX administration: credentials, inboxes, webhooks, agent bots
    #[command(subcommand)]
    Cx(cx::Command),
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell
    Completions(completions::Args),
    /// Print the manual page, or write every page into a folder
    Man(man::Args),
}

/// Parses the command line, runs the command, and returns the exit code.
pub fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::from(2)
        }
    }
}

/// `botrun … | head` closes stdout early. Rust ignores SIGPIPE, so the next `println!` panics
/// ("failed printing to stdout: Broken pipe"); a reader that has seen enough is no error, so
/// that panic ends the process quietly with success, as `cat` ends under a closed pipe.
fn quiet_on_closed_stdout() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if is_closed_pipe(message) {
            std::process::exit(0);
        }
        report(info);
    }));
}

/// Whether a panic message is the standard library's for writing to a closed stdout.
fn is_closed_pipe(message: &str) -> bool {
    message.starts_with("failed printing to stdout")
        && (message.contains("Broken pipe") || message.contains("os error 32"))
}

/// Runs one command. An `Err` means the tool could not do its job (exit 2).
pub fn run(command: Command) -> miette::Result<Outcome> {
    match command {
        Command::Validate(args) => validate::run(&args),
        Command::Fmt(args) => fmt::run(&args),
        Command::Graph(args) => graph::run(&args),
        Command::Lsp(args) => lsp::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Chat(args) => chat::run(&args),
        Command::Why(args) => why::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Dev(args) => dev::run(&args),
        Command::Emulator(args) => emulator::run(&args),
        Command::Cx(command) => cx::run(&command),
        Command::Completions(args) => completions::run(&args),
        Command::Man(args) => man::run(&args),
    }
}
