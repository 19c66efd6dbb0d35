//! Integration tests: `graph` — every example bot is drawn, and the pictures in `docs/graphs/`
//! are the ones the current code draws (run with `BOTRUN_UPDATE_GRAPHS=1` to rewrite them).

use std::path::{Path, PathBuf};

use botrun::graph::{build, render, Format, NodeKind};

/// The example bots' entry files (those with `bot` or `on start`).
fn example_bots() -> Vec<PathBuf> {
    let mut entries = Vec::new();
    for path in botrun::check::find_bot_files(&["bots".into()]).expect("bots") {
        let loaded = botrun::check::load_bundle(&path).expect("example bots load");
        if !loaded.bundle.library {
            entries.push(path);
        }
    }
    assert!(entries.len() >= 3, "expected the example bots, found {entries:?}");
    entries
}

#[test]
fn every_example_bot_is_drawn_and_docs_pictures_are_current() {
    let update = std::env::var_os("BOTRUN_UPDATE_GRAPHS").is_some();
    let mut stale = Vec::new();
    for bot in example_bots() {
        let loaded = botrun::check::load_bundle(&bot).expect("loads");
        let graph = build(&loaded.bundle.file, &loaded.sources);
        assert!(
            graph.nodes.iter().any(|n| matches!(n.kind, NodeKind::State { reachable: true })),
            "{}: no reachable state drawn",
            bot.display()
        );
        let stem = bot.file_stem().expect("name").to_string_lossy().into_owned();
        for format in [Format::Mermaid, Format::Dot, Format::Svg] {
            let picture = render(&graph, format);
            let path = Path::new("docs/graphs").join(format!("{stem}.{}", format.extension()));
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if committed != picture {
                if update {
                    std::fs::create_dir_all("docs/graphs").expect("docs/graphs");
                    std::fs::write(&path, &picture).expect("write picture");
                } else {
                    stale.push(path.display().to_string());
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale pictures {stale:?}: run `BOTRUN_UPDATE_GRAPHS=1 cargo test --test main graph` and commit docs/graphs"
    );
}

#[test]
fn the_command_writes_each_format_and_marks_unreachable_states() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bot = dir.path().join("b.bot");
    std::fs::write(
        &bot,
        "bot \"B\"\n\non start\n  go menu\n\nstate menu\n  ask x as digits\n    say \"n?\"\n  resolve\n\nstate lost\n  handoff\n",
    )
    .expect("write bot");
    for (format, marker) in [("mermaid", "flowchart TD"), ("dot", "digraph flow"), ("svg", "<svg")]
    {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_botrun"))
            .args(["graph", bot.to_str().expect("utf-8 path"), "--format", format])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{format}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).expect("utf-8");
        assert!(text.contains(marker), "{format}: {text}");
        assert!(text.contains("lost (unreachable)"), "{format}: {text}");
        assert!(String::from_utf8_lossy(&out.stderr)
            .contains("unreachable states (drawn dashed): lost"));
    }
}

#[test]
fn a_bot_with_syntax_errors_is_not_drawn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bot = dir.path().join("b.bot");
    std::fs::write(&bot, "on start\n  say \"unclosed\n").expect("write bot");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_botrun"))
        .args(["graph", bot.to_str().expect("utf-8 path")])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not drawn"));
}
