//! Benchmark: engine decisions per second at 100, 1,000 and 5,000 intents, on one thread, and
//! the state size per conversation. Run: `cargo bench --bench engine`.
//!
//! `cargo bench --bench engine -- --emit DIR` writes the same bots as `RiveScript` and AIML, plus
//! the inputs, for `benches/peers/run.sh`.

use std::time::{Duration, Instant};

use botrun::check::compile::compile;
use botrun::engine::{step, Contact, Event, State};
use botrun::source::{FileId, SourceFile};
use botrun::testing::generate;
use chrono::{TimeZone, Utc};

const SIZES: [usize; 3] = [100, 1_000, 5_000];
const INPUTS: usize = 10_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--emit") {
        let dir = std::path::PathBuf::from(args.get(i + 1).expect("--emit DIR"));
        std::fs::create_dir_all(&dir).expect("create dir");
        for n in SIZES {
            std::fs::write(dir.join(format!("bot-{n}.rive")), generate::rivescript_file(n))
                .expect("write");
            std::fs::write(dir.join(format!("bot-{n}.aiml")), generate::aiml_file(n))
                .expect("write");
            std::fs::write(
                dir.join(format!("inputs-{n}.txt")),
                generate::inputs(n, INPUTS).join("\n"),
            )
            .expect("write");
        }
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--count") {
        // Fixed work for instruction counting: `valgrind --tool=callgrind … --count N REPLIES`.
        let n: usize =
            args.get(i + 1).and_then(|v| v.parse().ok()).expect("--count INTENTS REPLIES");
        let replies: usize =
            args.get(i + 2).and_then(|v| v.parse().ok()).expect("--count INTENTS REPLIES");
        let text = generate::bot_file(n);
        let file = botrun::syntax::parse(&SourceFile::new(FileId(0), "bench.bot", text.as_str()))
            .expect("parses");
        let program = compile(&file).expect("compiles");
        let inputs = generate::inputs(n, replies);
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).single().expect("valid");
        let (mut state, _) =
            step(&program, &State::new(1), Event::Started { contact: Contact::default() }, now);
        for input in &inputs {
            state = step(&program, &state, Event::Text { text: input.clone() }, now).0;
        }
        std::hint::black_box(state);
        return;
    }
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).single().expect("valid");
    println!("| intents | replies/s (botrun, 1 thread) | state bytes (idle) |");
    println!("|---:|---:|---:|");
    for n in SIZES {
        let text = generate::bot_file(n);
        let file = botrun::syntax::parse(&SourceFile::new(FileId(0), "bench.bot", text.as_str()))
            .expect("parses");
        let program = compile(&file).expect("compiles");
        let inputs = generate::inputs(n, INPUTS);
        let (mut state, _) =
            step(&program, &State::new(1), Event::Started { contact: Contact::default() }, now);
        let state_bytes = state.to_bytes().len();
        let mut replies = 0u64;
        let mut answered = 0u64;
        let started = Instant::now();
        'outer: loop {
            for input in &inputs {
                let (next, actions) =
                    step(&program, &state, Event::Text { text: input.clone() }, now);
                state = next;
                replies += 1;
                answered += u64::from(!actions.is_empty());
                if started.elapsed() > Duration::from_secs(2) {
                    break 'outer;
                }
            }
        }
        #[expect(clippy::cast_precision_loss, reason = "a rate needs no 53-bit precision")]
        let rate = replies as f64 / started.elapsed().as_secs_f64();
        assert_eq!(answered, replies, "every input gets a reply");
        println!("| {n} | {rate:.0} | {state_bytes} |");
    }
}
