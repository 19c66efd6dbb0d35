//! Integration tests: `testing` — `botrun test`, `chat` and `why` as a user runs them.

use std::io::Write as _;
use std::process::{Command, Stdio};

fn botrun(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_botrun"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("writes");
    let out = child.wait_with_output().expect("finishes");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_string_lossy().into_owned()
}

const BOT: &str = "bot \"T\"\n\nintent hi\n  \"hi\"\n\nintent unused\n  \"zzz\"\n\non start\n  say \"hello\"\n  go s\n\nstate s\n  when hi\n    say \"hi yourself\"\n  when unused\n    say \"z\"\n  otherwise\n    say \"?\"\n";

#[test]
fn the_example_bots_pass_their_transcripts() {
    let (code, stdout, _) = botrun(&["test", "bots"], "");
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.lines().last().is_some_and(|l| l.ends_with(" passed, 0 failed")), "{stdout}");
}

#[test]
fn a_failing_transcript_shows_the_first_difference_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "t.bot", BOT);
    let test = write(dir.path(), "t.test.yaml", "bot: t.bot\ntests:\n  - name: passes\n    steps:\n      - bot: hello\n      - customer: hi\n      - bot: hi yourself\n  - name: fails\n    steps:\n      - customer: hi\n      - bot: hello there\n");
    let (code, stdout, _) = botrun(&["test", &test], "");
    assert_eq!(code, 1);
    assert!(stdout.contains("✔ passes"), "{stdout}");
    assert!(stdout.contains("✘ fails"), "{stdout}");
    assert!(stdout.contains("✘ expected bot: \"hello there\""), "{stdout}");
    assert!(stdout.contains("got bot: \"hi yourself\""), "{stdout}");
    assert!(
        stdout.contains("not exercised: intent unused, handler `state s / when unused`"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("1 passed, 1 failed"), "{stdout}");
}

#[test]
fn a_malformed_transcript_gets_a_precise_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "t.bot", BOT);
    let test = write(
        dir.path(),
        "t.test.yaml",
        "bot: t.bot\ntests:\n  - name: typo\n    steps:\n      - custmer: hi\n",
    );
    let (code, stdout, _) = botrun(&["test", &test], "");
    assert_eq!(code, 1);
    assert!(stdout.contains("unknown step `custmer` — did you mean `customer`?"), "{stdout}");
    assert!(
        stdout.contains("t.test.yaml:5: tests[0]: `typo` step 1:"),
        "the line of the step: {stdout}"
    );
    let (code, _, stderr) = botrun(&["test", "no/such/dir"], "");
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn strict_transcripts_fail_on_unexpected_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "t.bot", BOT);
    let test = write(dir.path(), "t.test.yaml", "bot: t.bot\nstrict: true\ntests:\n  - name: ignores the greeting\n    steps:\n      - customer: hi\n");
    let (code, stdout, _) = botrun(&["test", &test], "");
    assert_eq!(code, 1);
    assert!(stdout.contains("unexpected bot: \"hello\""), "{stdout}");
}

#[test]
fn chat_reads_one_message_per_line_when_scripted() {
    let (code, stdout, _) = botrun(&["chat", "bots/faq.bot"], "how much is basic\n/state\nbye\n");
    assert_eq!(code, 0);
    assert!(stdout.contains("bot: Basic is 19 € per month."), "{stdout}");
    assert!(stdout.contains("state: faq"), "{stdout}");
    assert!(stdout.contains("— conversation resolved —"), "{stdout}");
}

#[test]
fn chat_answers_in_the_language_it_is_given() {
    let (code, stdout, _) =
        botrun(&["chat", "bots/multilingual.bot", "--language", "es-MX", "--name", "Ana"], "bla\n");
    assert_eq!(code, 0);
    assert!(stdout.contains("¡Hola Ana! Puedo seguir tu pedido"), "{stdout}");
    assert!(stdout.contains("Perdón, no te he entendido."), "{stdout}");
}

#[test]
fn why_ranks_candidates_and_explains_the_winner() {
    let (code, stdout, _) = botrun(
        &[
            "why",
            "bots/order_tracking.bot",
            "I want to talk to a real person",
            "--state",
            "tracking",
        ],
        "",
    );
    assert_eq!(code, 0);
    assert!(stdout.contains("state:   tracking"), "{stdout}");
    assert!(stdout.contains("→ 1. intent `human`"), "{stdout}");
    assert!(stdout.contains("anytime human"), "{stdout}");
    let (code, _, stderr) =
        botrun(&["why", "bots/order_tracking.bot", "hi", "--state", "nowhere"], "");
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown state `nowhere`"), "{stderr}");
}

#[test]
fn start_in_runs_the_states_own_question_with_the_tests_variables() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "q.bot",
        "bot \"Q\"\n\non start\n  set kind to \"visit\"\n  go pick\n\nstate pick\n  ask day as date\n    say \"Which day for the {kind}?\"\n    retry \"A date, please.\"\n    after 2 retries\n      handoff note \"no date for {kind}\"\n  say \"Booked {day}.\"\n",
    );
    let test = write(
        dir.path(),
        "q.test.yaml",
        "bot: q.bot\ntests:\n  - name: the question is asked, and wrong answers escalate\n    start_in: pick\n    vars: {kind: scan}\n    steps:\n      - bot: \"Which day for the scan?\"\n      - customer: soon\n      - bot: \"A date, please.\"\n      - customer: later\n      - handoff: {note: \"no date for scan\"}\n",
    );
    let (code, stdout, _) = botrun(&["test", &test], "");
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn the_language_feature_transcripts_pass() {
    // Dates and times people type, counters, arithmetic and JSON lists (tests/transcripts).
    let (code, stdout, _) = botrun(&["test", "tests/transcripts"], "");
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

const BILINGUAL: &str = "bot \"T\"\n  languages en, es\n\nintent hi\n  \"hi\"\n  es \"hola\"\n\non start\n  say \"hello\"\n    es \"hola\"\n  go s\n\nstate s\n  when hi\n    say \"hi yourself\"\n      es \"hola a ti\"\n";

#[test]
fn a_transcript_runs_each_test_in_each_of_its_languages() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "t.bot", BILINGUAL);
    let test = write(dir.path(), "t.test.yaml", "bot: t.bot\nlanguage: [en, es]\ntests:\n  - name: greets\n    steps:\n      - bot: {en: hello, es: hola}\n      - customer: {en: hi, es: hola}\n      - bot: {contains: {en: yourself, es: a ti}}\n  - name: only spanish\n    language: es\n    steps:\n      - bot: hola\n");
    let (code, stdout, _) = botrun(&["test", &test], "");
    assert_eq!(code, 0, "{stdout}");
    for name in ["✔ greets [en]", "✔ greets [es]", "✔ only spanish [es]"] {
        assert!(stdout.contains(name), "{name}: {stdout}");
    }
    assert!(!stdout.contains("only spanish [en]"), "{stdout}");
    assert!(stdout.trim_end().ends_with("3 passed, 0 failed"), "{stdout}");
}

#[test]
fn a_language_the_bot_lacks_or_a_step_without_its_version_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "t.bot", BILINGUAL);
    let lacking = write(
        dir.path(),
        "fr.test.yaml",
        "bot: t.bot\nlanguage: fr\ntests:\n  - name: greets\n    steps:\n      - bot: bonjour\n",
    );
    let (code, stdout, _) = botrun(&["test", &lacking], "");
    assert_eq!(code, 1);
    assert!(stdout.contains("the bot does not speak `fr` (its languages: en, es)"), "{stdout}");
    let partial = write(dir.path(), "partial.test.yaml", "bot: t.bot\nlanguage: [en, es]\ntests:\n  - name: greets\n    steps:\n      - bot: {en: hello}\n");
    let (code, stdout, _) = botrun(&["test", &partial], "");
    assert_eq!(code, 1);
    assert!(
        stdout.contains("partial.test.yaml:6: tests[0]: `greets [es]` step 1: no `es` version of this step (it has `en`)"),
        "{stdout}"
    );
}
