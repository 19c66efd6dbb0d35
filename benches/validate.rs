//! Benchmark: `botrun validate` on a generated bot with 5,000 intents (~50,000 lines).
//! Run: `cargo bench --bench validate`. Prints the median of several runs.

use std::time::Instant;

use botrun::check::{check, compile::compile, Bundle, CheckOptions};
use botrun::source::{FileId, SourceFile};

fn main() {
    let intents = 5_000;
    let text = botrun::testing::generate::large_bot(intents);
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--emit") {
        // For timing the real command: `botrun validate FILE`.
        std::fs::write(args.get(i + 1).expect("--emit FILE"), &text).expect("write");
        return;
    }
    let lines = text.lines().count();
    let mut times = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        let source = SourceFile::new(FileId(0), "large.bot", text.as_str());
        let file = botrun::syntax::parse(&source).expect("the generated bot parses");
        let parsed = started.elapsed();
        let bundle = Bundle {
            entry: FileId(0),
            file: std::sync::Arc::new(file),
            members: vec![FileId(0)],
            library: false,
        };
        let diagnostics = check(&bundle, &CheckOptions::default());
        assert!(diagnostics.iter().all(|d| !d.is_error()), "{:?}", diagnostics.first());
        let parsed_and_checked = started.elapsed();
        let program = compile(&bundle.file).expect("compiles");
        let total = started.elapsed();
        std::hint::black_box(program);
        times.push((parsed_and_checked, total, parsed));
    }
    times.sort();
    let (checked, total, parsed) = times[times.len() / 2];
    println!("validate: {intents} intents, {lines} lines, {} bytes", text.len());
    println!("  parse: {:.1} ms", parsed.as_secs_f64() * 1e3);
    println!("  parse + check: {:.1} ms (median of {})", checked.as_secs_f64() * 1e3, times.len());
    println!("  parse + check + compile: {:.1} ms", total.as_secs_f64() * 1e3);
}
