//! `botrun validate` stays near-linear in the size of the bot (issue 14): the work of validating
//! and rendering a bot with 4,000 intents, half of them unused, is at most about four times that of
//! 1,000. Work is counted as heap allocations, which do not depend on the machine's load as a
//! clock does; a step that compares every phrase, name or warning with every other one allocates
//! per comparison (texts, suggestions, excerpts) and makes the ratio nearer 16 (a "did you mean"
//! computed for every unused intent made it 14.7).
//!
//! Its own test binary, with one test, so that no other test allocates while it counts.

use std::alloc::System;
use std::path::PathBuf;

use botrun::check::report::{render_human, Style};
use botrun::check::CheckOptions;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

/// The system allocator, counting allocations (every thread's).
#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A bot with `intents` intents (ten phrases each), only the even ones handled.
fn half_unused(intents: usize) -> String {
    let full = botrun::testing::generate::large_bot(intents);
    let (declarations, _) =
        full.split_once("on start\n").expect("the generated bot has `on start`");
    let mut text = format!("{declarations}on start\n  go main\n\nstate main\n");
    for i in (0..intents).step_by(2) {
        text.push_str(&format!("  when topic{i}\n    say \"about {i}\"\n"));
    }
    text.push_str("  otherwise\n    say \"sorry\"\n");
    text
}

/// Allocations made to validate `path` and render its warnings.
fn work(path: &PathBuf, intents: usize) -> usize {
    let region = Region::new(ALLOCATOR);
    let validation =
        botrun::cli::validate::validate(std::slice::from_ref(path), &CheckOptions::default())
            .expect("loads");
    let report = render_human(
        &validation.diagnostics,
        &validation.workspace.sources,
        Style { colour: false, width: 100 },
    );
    let change = region.change();
    let work = change.allocations + change.reallocations;
    assert_eq!(validation.diagnostics.len(), intents / 2, "one warning per unused intent");
    assert!(report.contains("is never used"));
    work
}

#[test]
fn validating_four_times_the_intents_takes_about_four_times_the_work() {
    let dir = std::env::temp_dir().join(format!("botrun-validate-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut counts = Vec::new();
    for intents in [1_000, 4_000] {
        let path = dir.join(format!("bot-{intents}.bot"));
        std::fs::write(&path, half_unused(intents)).expect("write the bot");
        counts.push(work(&path, intents));
    }
    let _ = std::fs::remove_dir_all(&dir);
    // 4.00 when every step is linear (measured: 3.996); a quadratic step makes it nearer 16.
    let hundredths = counts[1] * 100 / counts[0];
    assert!(
        hundredths < 460,
        "validating 4,000 intents allocated {}.{:02} times as often as 1,000 ({} and {}): \
         some step grows faster than the bot",
        hundredths / 100,
        hundredths % 100,
        counts[1],
        counts[0]
    );
}
