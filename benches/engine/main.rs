//! Benchmark: engine decisions per second on a realistic corpus (see `corpus.rs`) at 100, 1,000
//! and 5,000 intents, with and without `typos tolerated`, on one thread; every reply is checked
//! against the reply the corpus expects. Run: `cargo bench --bench engine`.
//!
//! `-- --size N` measures one size (the peers script interleaves systems per size);
//! `-- --emit DIR` writes the bots (`.bot`, AIML, `RiveScript`), the messages and the expected
//! replies for `benches/peers/run.sh`; `-- --count N REPLIES` does fixed work for callgrind.

mod corpus;

use std::time::{Duration, Instant};

use botrun::check::compile::compile;
use botrun::engine::{step, Action, Contact, Event, Program, State};
use botrun::source::{FileId, SourceFile};
use chrono::{DateTime, TimeZone, Utc};

const SIZES: [usize; 3] = [100, 1_000, 5_000];
const INPUTS: usize = 10_000;

fn program(text: &str) -> Program {
    let file = botrun::syntax::parse(&SourceFile::new(FileId(0), "bench.bot", text))
        .expect("the generated bot parses");
    compile(&file).expect("the generated bot compiles")
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).single().expect("valid")
}

fn reply(actions: &[Action]) -> Option<&str> {
    actions.iter().find_map(|a| match a {
        Action::SendText { text } => Some(text.as_str()),
        _ => None,
    })
}

/// Replies per second over `seconds`, each message the first of a fresh conversation, and the
/// messages whose reply differs from the expected one.
fn measure(program: &Program, inputs: &[(String, String)], seconds: f64) -> (f64, Vec<String>) {
    let (start, _) =
        step(program, &State::new(1), Event::Started { contact: Contact::default() }, now());
    let mut wrong = Vec::new();
    for (message, expected) in inputs {
        let (_, actions) = step(program, &start, Event::Text { text: message.clone() }, now());
        if reply(&actions) != Some(expected.as_str()) {
            wrong.push(format!("{message:?}: got {:?}, expected {expected:?}", reply(&actions)));
        }
    }
    let mut replies = 0u64;
    let started = Instant::now();
    'outer: loop {
        for (message, _) in inputs {
            let (next, actions) =
                step(program, &start, Event::Text { text: message.clone() }, now());
            std::hint::black_box((next, actions));
            replies += 1;
            if replies % 256 == 0 && started.elapsed() > Duration::from_secs_f64(seconds) {
                break 'outer;
            }
        }
    }
    #[expect(clippy::cast_precision_loss, reason = "a rate needs no 53-bit precision")]
    let rate = replies as f64 / started.elapsed().as_secs_f64();
    (rate, wrong)
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, offset: usize) -> Option<T> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + offset).and_then(|v| v.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--emit") {
        let dir = std::path::PathBuf::from(arg::<String>(&args, "--emit", 1).expect("--emit DIR"));
        std::fs::create_dir_all(&dir).expect("create dir");
        for n in SIZES {
            let write = |name: String, text: String| {
                std::fs::write(dir.join(name), text).expect("write");
            };
            let inputs = corpus::inputs(n, INPUTS);
            write(format!("bot-{n}.bot"), corpus::bot_file(n, false));
            write(format!("bot-{n}-typos.bot"), corpus::bot_file(n, true));
            write(format!("bot-{n}.aiml"), corpus::aiml_file(n));
            write(format!("bot-{n}.rive"), corpus::rivescript_file(n));
            let lines = |f: &dyn Fn(&corpus::Input) -> String| {
                inputs.iter().map(f).collect::<Vec<_>>().join("\n") + "\n"
            };
            write(format!("inputs-{n}.txt"), lines(&|i| i.message.clone()));
            write(format!("expect-{n}.txt"), lines(&|i| i.expect_exact.clone()));
            write(format!("expect-{n}-typos.txt"), lines(&|i| i.expect_typos.clone()));
        }
        return;
    }
    if let (Some(n), Some(replies)) =
        (arg::<usize>(&args, "--count", 1), arg::<usize>(&args, "--count", 2))
    {
        let program = program(&corpus::bot_file(n, args.iter().any(|a| a == "--typos")));
        let inputs = corpus::inputs(n, replies);
        let (start, _) =
            step(&program, &State::new(1), Event::Started { contact: Contact::default() }, now());
        for input in &inputs {
            std::hint::black_box(step(
                &program,
                &start,
                Event::Text { text: input.message.clone() },
                now(),
            ));
        }
        return;
    }
    let seconds = arg::<f64>(&args, "--seconds", 1).unwrap_or(2.0);
    let sizes: Vec<usize> = arg::<usize>(&args, "--size", 1).map_or(SIZES.to_vec(), |n| vec![n]);
    println!("| intents | replies/s | replies/s, typos tolerated | typo cost | wrong replies |");
    println!("|---:|---:|---:|---:|---:|");
    for n in sizes {
        let inputs = corpus::inputs(n, INPUTS);
        let exact: Vec<(String, String)> =
            inputs.iter().map(|i| (i.message.clone(), i.expect_exact.clone())).collect();
        let typos: Vec<(String, String)> =
            inputs.iter().map(|i| (i.message.clone(), i.expect_typos.clone())).collect();
        let (rate, wrong) = measure(&program(&corpus::bot_file(n, false)), &exact, seconds);
        let (rate_typos, wrong_typos) =
            measure(&program(&corpus::bot_file(n, true)), &typos, seconds);
        for w in wrong.iter().chain(&wrong_typos).take(10) {
            eprintln!("wrong reply at {n} intents: {w}");
        }
        println!(
            "| {n} | {rate:.0} | {rate_typos:.0} | {:.2}× | {} |",
            rate / rate_typos,
            wrong.len() + wrong_typos.len()
        );
    }
}
