//! `botrun replay BOT FILE… [--state NAME]`: real customer messages, one per line (`-` reads
//! standard input), each the first message of a fresh conversation. Prints one JSON object per
//! line (message, intent, captures, outcome) as it goes, then a summary on standard error.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use super::why::{self, Start};
use super::Outcome;
use crate::testing::replay::{replay_one, write_json, Tally};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bot file
    pub bot: PathBuf,
    /// Files of customer messages, one per line (`-` for standard input)
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Start each conversation in this state (default: where `on start` leads)
    #[arg(long)]
    pub state: Option<String>,
    /// How many missed and ambiguous messages the summary lists
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    // Every message starts from the same fresh conversation: it is built once.
    let Some(Start { program, state: start, now }) = why::start(&args.bot, args.state.as_deref())?
    else {
        return Ok(Outcome::Problems);
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut tally = Tally::default();
    let mut line = String::new();
    let mut bytes = Vec::new();
    for file in &args.files {
        let mut input: Box<dyn BufRead> = if file.as_os_str() == "-" {
            Box::new(BufReader::with_capacity(1 << 16, std::io::stdin().lock()))
        } else {
            let opened = std::fs::File::open(file)
                .map_err(|e| miette::miette!("cannot read {}: {e}", file.display()))?;
            Box::new(BufReader::with_capacity(1 << 16, opened))
        };
        loop {
            bytes.clear();
            let read = input
                .by_ref()
                .read_until(b'\n', &mut bytes)
                .map_err(|e| miette::miette!("cannot read {}: {e}", file.display()))?;
            if read == 0 {
                break;
            }
            line.clear();
            line.push_str(&String::from_utf8_lossy(&bytes));
            let message = line.trim_end_matches(['\n', '\r']);
            if message.trim().is_empty() {
                continue;
            }
            let replayed = replay_one(&program, &start, message, now);
            tally.add(message, &replayed);
            if let Err(e) = write_json(&mut out, message, &replayed) {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    break;
                }
                return Err(miette::miette!("cannot write: {e}"));
            }
        }
    }
    let _ = out.flush();
    eprint!("{}", tally.summary(args.top));
    Ok(Outcome::Clean)
}
