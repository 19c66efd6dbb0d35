//! Matching rules (grammar/README.md, "How a message is matched"): the transcripts next to this
//! file, and `why` agreeing with the engine on every customer line of every transcript in the
//! repository.

use std::path::{Path, PathBuf};

use botrun::engine::{explain, set_state, Contact, Event};
use botrun::testing::runner::{render_failure, run_test, Coverage, Fixtured};
use botrun::testing::transcript::{self, Step};
use botrun::testing::Conversation;
use chrono::{TimeZone, Utc};

use super::{load, program, tuesday_afternoon};

fn transcripts_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            transcripts_under(&path, out);
        } else if path.to_string_lossy().ends_with(".test.yaml") {
            out.push(path);
        }
    }
}

#[test]
fn the_matching_transcripts_pass() {
    let mut paths = Vec::new();
    transcripts_under(Path::new("tests/engine/matching"), &mut paths);
    assert!(!paths.is_empty());
    for path in paths {
        let t = transcript::read(&path).expect("transcript reads");
        let program = load(&t.bot);
        let mut coverage = Coverage::default();
        for test in &t.tests {
            let result = run_test(&program, &t.fixtures, t.strict, test, &mut coverage);
            assert!(result.passed(), "{}: {}", path.display(), render_failure(&result));
        }
    }
}

/// Replays every transcript of the repository; before each customer line, `explain` is asked
/// what the bot will do, and the engine's trace for that line must say the same.
#[test]
fn why_agrees_with_the_engine_on_every_customer_line_of_every_transcript() {
    let mut paths = Vec::new();
    transcripts_under(Path::new("bots"), &mut paths);
    transcripts_under(Path::new("tests"), &mut paths);
    let mut checked = 0;
    for path in paths {
        let Ok(t) = transcript::read(&path) else { continue };
        let program = load(&t.bot).with_env(t.fixtures.env.clone());
        for test in &t.tests {
            let now = t.fixtures.now.unwrap_or_else(|| {
                Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).single().expect("valid")
            });
            let mut c = Conversation::new(&program, t.fixtures.seed, now)
                .with_fetch(Fixtured(&t.fixtures.fetch));
            match &test.start_in {
                Some(state) => assert!(set_state(&program, c.state_mut(), state)),
                None => {
                    c.start(test.contact.clone().unwrap_or_else(|| t.fixtures.contact.clone()));
                }
            }
            for (name, value) in &test.vars {
                c.state_mut().set_variable(name, value.clone());
            }
            for step in &test.steps {
                match step {
                    Step::Customer(text) => {
                        let why = explain(&program, c.state(), text, c.now());
                        let reply = c.say(text);
                        let trace = reply.traces.first().expect("a trace");
                        assert_eq!(
                            why.intent,
                            trace.intent,
                            "{} / {}: `why` and the engine disagree on {text:?}",
                            path.display(),
                            test.name
                        );
                        let decided = trace.decided.as_ref().map(|d| d.candidates.len());
                        assert_eq!(decided.unwrap_or(0), why.candidates.len());
                        checked += 1;
                    }
                    Step::Press(value) => {
                        c.press(value);
                    }
                    Step::Wait(duration) => {
                        c.wait(*duration);
                    }
                    Step::HandBack => {
                        c.event(Event::HandedBack);
                    }
                    Step::AgentResolves => {
                        c.event(Event::ResolvedElsewhere);
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} customer lines found");
}

const SMALL: &str = r#"bot "T"
  small words "the"

list service
  "broadband"

intent outage
  "{what:@service} (not working|down)"

on start
  go menu

state menu
  when outage
    say "Checking {what}."
  otherwise
    say "Sorry?"
"#;

#[test]
fn the_author_chooses_the_small_words() {
    let p = program(SMALL);
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    c.start(Contact::default());
    assert_eq!(c.say("the broadband the not working").texts(), ["Checking broadband."]);
    assert_eq!(
        c.say("my broadband is not working").texts(),
        ["Sorry?"],
        "`is` is no small word here"
    );
}
