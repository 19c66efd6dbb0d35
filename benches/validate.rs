//! Benchmark: `botrun validate` on a generated bot with 5,000 intents (~50,000 lines), and the
//! whole command (load, check, render every warning) on 20,000 intents of which half are never
//! used (20,000 warnings once rendered quadratically and took 82 s).
//! Run: `cargo bench --bench validate`. Prints the median of several runs; `--once` runs each
//! step once (for `valgrind --tool=callgrind`, whose instruction counts do not depend on load).

use std::time::Instant;

/// The same allocator as the `botrun` binary, so the figures are the shipped command's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let once = args.iter().any(|a| a == "--once");
    let mut times = Vec::new();
    for _ in 0..if once { 1 } else { 7 } {
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
    unused_intents(20_000, if once { 1 } else { 3 });
}

/// `intents` intents, only the even ones handled: load, check and render every warning.
fn unused_intents(intents: usize, runs: usize) {
    use botrun::check::report::{render_human, Style};
    let full = botrun::testing::generate::large_bot(intents);
    let (declarations, _) = full.split_once("on start\n").expect("generated bot has `on start`");
    let mut text = format!("{declarations}on start\n  go main\n\nstate main\n");
    for i in (0..intents).step_by(2) {
        text.push_str(&format!("  when topic{i}\n    say \"about {i}\"\n"));
    }
    text.push_str("  otherwise\n    say \"sorry\"\n");
    let dir = std::env::temp_dir().join(format!("botrun-bench-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("unused.bot");
    std::fs::write(&path, &text).expect("write");
    let mut times = Vec::new();
    let mut warnings = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let v =
            botrun::cli::validate::validate(std::slice::from_ref(&path), &CheckOptions::default())
                .expect("loads");
        let report =
            render_human(&v.diagnostics, &v.workspace.sources, Style { colour: false, width: 100 });
        times.push(started.elapsed());
        warnings = v.diagnostics.len();
        std::hint::black_box(report);
    }
    let _ = std::fs::remove_dir_all(&dir);
    times.sort();
    println!(
        "validate + render: {intents} intents, {warnings} unused-intent warnings, {} lines: {:.1} ms (median of {})",
        text.lines().count(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        times.len()
    );
}
