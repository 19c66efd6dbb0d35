//! Integration tests: `check` — golden diagnostics for every code, JSON output, the example bots,
//! and the `validate` command's exit codes.

use std::path::{Path, PathBuf};
use std::process::Command;

use botrun::check::report::{render_human, render_json, Style};
use botrun::check::CheckOptions;
use botrun::cli::validate::validate;

mod doc_examples;

fn render(path: &Path) -> String {
    let v = validate(&[path.to_path_buf()], &CheckOptions::default()).expect("loads");
    render_human(&v.diagnostics, &v.workspace.sources, Style { colour: false, width: 100 })
}

fn diagnostic_inputs() -> Vec<PathBuf> {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir("tests/diagnostics")
        .expect("tests/diagnostics exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "bot"))
        .collect();
    inputs.sort();
    inputs
}

#[test]
fn every_diagnostic_input_renders_as_its_snapshot() {
    for input in diagnostic_inputs() {
        let name = input.file_stem().expect("name").to_string_lossy().into_owned();
        insta::assert_snapshot!(name, render(&input));
    }
}

#[test]
fn each_input_named_after_a_code_reports_that_code() {
    for input in diagnostic_inputs() {
        let stem = input.file_stem().expect("name").to_string_lossy().into_owned();
        let v = validate(std::slice::from_ref(&input), &CheckOptions::default()).expect("loads");
        let codes: Vec<&str> = v.diagnostics.iter().map(|d| d.code).collect();
        let expected = match stem.as_str() {
            s if s.starts_with("syntax_") => "botrun::syntax",
            "use_missing" => "botrun::missing_use",
            s if s.starts_with("use_cycle") => "botrun::use_cycle",
            "empty" => "botrun::empty_file",
            s if s.starts_with("several_problems") => continue,
            s => &*Box::leak(format!("botrun::{s}").into_boxed_str()),
        };
        assert!(codes.contains(&expected), "{stem}: expected {expected}, got {codes:?}");
    }
}

#[test]
fn several_problems_are_reported_in_one_run() {
    let v = validate(
        &[PathBuf::from("tests/diagnostics/several_problems.bot")],
        &CheckOptions::default(),
    )
    .expect("loads");
    let codes: Vec<&str> = v.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        [
            "botrun::unused_intent",
            "botrun::unknown_state",
            "botrun::unreachable_state",
            "botrun::unknown_intent",
            "botrun::unknown_variable"
        ]
    );
}

#[test]
fn every_problem_of_an_hours_block_is_reported_together() {
    let v = validate(
        &[PathBuf::from("tests/diagnostics/several_problems_in_hours.bot")],
        &CheckOptions::default(),
    )
    .expect("loads");
    let codes: Vec<&str> = v.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        [
            "botrun::bad_timezone",
            "botrun::bad_time",
            "botrun::bad_time_range",
            "botrun::bad_date",
            "botrun::bad_date",
            "botrun::bad_time"
        ]
    );
}

#[test]
fn the_summary_counts_the_files_reached_through_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.bot"), "intent a\n  \"a\"\n").expect("write");
    std::fs::write(dir.path().join("b.bot"), "intent b\n  \"b\"\n").expect("write");
    let bot = dir.path().join("bot.bot");
    std::fs::write(&bot, "use \"a.bot\"\nuse \"b.bot\"\n\nbot \"T\"\n\non start\n  say \"hi\"\n")
        .expect("write");
    let (code, _, stderr) = botrun(&["validate", bot.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{stderr}");
    // Two unused intents, in a.bot and b.bot: three files were read and checked.
    assert!(stderr.ends_with("0 errors, 2 warnings in 3 files\n"), "{stderr}");
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bom.bot");
    std::fs::write(&path, "\u{feff}bot \"T\"\n\non start\n  say \"hi\"\n").expect("write");
    let v = validate(&[path], &CheckOptions::default()).expect("loads");
    assert!(v.diagnostics.is_empty(), "{:?}", v.diagnostics);
}

#[test]
fn fmt_repairs_indentation_it_complains_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tabs.bot");
    let text = "bot \"T\"\n\non start\n\tsay \"a\"\n  say \"b\"\n   say \"c\"\n";
    std::fs::write(&path, text).expect("write");
    let file = path.to_str().expect("utf-8");
    assert_eq!(botrun(&["validate", file]).0, 1);
    assert_eq!(botrun(&["fmt", "--check", file]).0, 1);
    let (code, _, stderr) = botrun(&["fmt", file]);
    assert_eq!(code, 0, "{stderr}");
    let fixed = std::fs::read_to_string(&path).expect("read");
    assert_eq!(fixed, "bot \"T\"\n\non start\n  say \"a\"\n  say \"b\"\n  say \"c\"\n");
    assert_eq!(botrun(&["validate", file]).0, 0);
    // Indentation pasted from a web page or a word processor: non-breaking spaces.
    std::fs::write(&path, "bot \"T\"\n\non start\n\u{a0}\u{a0}say \"a\"\n").expect("write");
    assert_eq!(botrun(&["validate", file]).0, 1);
    let (code, _, stderr) = botrun(&["fmt", file]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "bot \"T\"\n\non start\n  say \"a\"\n"
    );
    // A file with a real syntax error is still never rewritten.
    std::fs::write(&path, "bot \"T\"\n\non start\n\tsya \"x\"\n").expect("write");
    assert_eq!(botrun(&["fmt", file]).0, 1);
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "bot \"T\"\n\non start\n\tsya \"x\"\n"
    );
}

#[test]
fn json_output_has_the_documented_shape() {
    let path = PathBuf::from("tests/diagnostics/unknown_state.bot");
    let v = validate(&[path], &CheckOptions::default()).expect("loads");
    let json = render_json(&v.diagnostics, &v.workspace.sources, &v.checked);
    insta::assert_snapshot!("json_unknown_state", json);
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(value["version"], 1);
    assert_eq!(value["summary"]["errors"], 1);
    assert_eq!(value["files"][0]["diagnostics"][0]["line"], 7);
    assert_eq!(value["files"][0]["diagnostics"][0]["column"], 6);
}

#[test]
fn fetch_hosts_are_checked_against_the_allow_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fetch.bot");
    std::fs::write(
        &path,
        "bot \"T\"\n\non start\n  fetch get \"https://evil.example/x\" into a\n  fetch get \"{env.API}/y\" into b\n  fetch get \"https://shop.example/z\" into c\n  say \"{a}{b}{c}\"\n",
    )
    .expect("write");
    let options = CheckOptions { fetch_hosts: Some(vec!["shop.example".into()]) };
    let v = validate(std::slice::from_ref(&path), &options).expect("loads");
    let hosts: Vec<&str> = v
        .diagnostics
        .iter()
        .filter(|d| d.code == "botrun::fetch_host_not_allowed")
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(hosts, ["`evil.example` is not in the fetch allow-list"]);
    let unchecked = validate(&[path], &CheckOptions::default()).expect("loads");
    assert!(unchecked.diagnostics.iter().all(|d| d.code != "botrun::fetch_host_not_allowed"));
}

#[test]
fn example_bots_validate_clean_and_are_formatted() {
    let v = validate(&[PathBuf::from("bots")], &CheckOptions::default()).expect("loads");
    let text =
        render_human(&v.diagnostics, &v.workspace.sources, Style { colour: false, width: 100 });
    assert!(v.diagnostics.is_empty(), "{text}");
    assert!(v.checked.len() >= 4);
    for id in &v.checked {
        let source = v.workspace.source(*id).expect("source");
        let parsed = v.workspace.parsed(*id).expect("parsed");
        let formatted = botrun::syntax::print::format(parsed, &source.text);
        assert_eq!(formatted, *source.text, "{} is not formatted", source.display_path());
    }
}

fn botrun(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_botrun"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_exit_codes_are_0_clean_1_problems_2_cannot_run() {
    assert_eq!(botrun(&["validate", "bots"]).0, 0);
    assert_eq!(botrun(&["validate", "tests/diagnostics/unknown_state.bot"]).0, 1);
    let (code, _, stderr) = botrun(&["validate", "does/not/exist.bot"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read `does/not/exist.bot`"), "{stderr}");
    // Warnings alone pass, unless denied.
    assert_eq!(botrun(&["validate", "tests/diagnostics/unused_intent.bot"]).0, 0);
    assert_eq!(
        botrun(&["validate", "--deny-warnings", "tests/diagnostics/unused_intent.bot"]).0,
        1
    );
}

#[test]
fn github_format_prints_annotations() {
    let (code, stdout, _) =
        botrun(&["validate", "--format", "github", "tests/diagnostics/unknown_state.bot"]);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("::error file=tests/diagnostics/unknown_state.bot,line=7,col=6,endLine=7,endColumn=10,title=botrun%3A%3Aunknown_state::unknown state `mneu`%0Adid you mean `menu`?"),
        "{stdout}"
    );
}

#[test]
fn a_use_circle_between_libraries_is_found_once_with_its_path() {
    let dir = PathBuf::from("tests/diagnostics/use_cycle_between_libraries");
    let v = validate(std::slice::from_ref(&dir), &CheckOptions::default()).expect("loads");
    let cycles: Vec<_> = v.diagnostics.iter().filter(|d| d.code == "botrun::use_cycle").collect();
    assert_eq!(cycles.len(), 1, "{:?}", v.diagnostics);
    let label = &cycles[0].labels[0].text;
    assert_eq!(label, "this closes the circle greetings.bot → farewells.bot → greetings.bot");
    // The bot itself loads through `load_bundle`, which refuses the circle.
    let failure = botrun::check::load_bundle(&dir.join("bot.bot")).expect_err("circle");
    assert!(failure.io_error.is_none());
    assert!(failure.diagnostics.iter().any(|d| d.code == "botrun::use_cycle"));
}

#[test]
fn load_bundle_merges_a_bot_with_its_libraries_and_keeps_their_sources() {
    let loaded = botrun::check::load_bundle(Path::new("bots/faq.bot")).expect("faq loads");
    let paths: Vec<String> =
        loaded.sources.iter().map(botrun::source::SourceFile::display_path).collect();
    assert_eq!(paths, ["bots/faq.bot", "bots/common/smalltalk.bot"]);
    assert_eq!(loaded.bundle.members.len(), 2);
    assert!(loaded.warnings.is_empty());
    let checked = botrun::check::check(&loaded.bundle, &CheckOptions::default());
    assert!(checked.is_empty(), "{checked:?}");
}

#[test]
fn load_bundle_tells_an_unreadable_entry_from_a_broken_one() {
    let missing = botrun::check::load_bundle(Path::new("bots/nope.bot")).expect_err("missing");
    assert!(missing.io_error.is_some());
    assert_eq!(missing.diagnostics[0].code, "botrun::unreadable");
    let broken =
        botrun::check::load_bundle(Path::new("tests/diagnostics/syntax_unclosed_quote.bot"))
            .expect_err("syntax error");
    assert!(broken.io_error.is_none());
    assert_eq!(broken.sources.len(), 1);
    assert!(
        broken.diagnostics.iter().all(|d| d.code == "botrun::syntax"),
        "{:?}",
        broken.diagnostics
    );
}
