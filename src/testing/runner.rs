//! Runs transcripts against the pure engine: each test in a fresh conversation with a fake clock,
//! bot output compared in order with what the transcript expects, the first difference shown in
//! the dialog, and coverage of states, intents and handlers collected across tests.

use std::collections::{BTreeSet, VecDeque};
use std::fmt::Write as _;

use chrono::{TimeZone, Utc};

use crate::engine::{current_state_name, Action, Event, FetchRequest, FetchResult, Program};

use super::conversation::{method_name, Conversation, FetchAnswers, Reply};
use super::transcript::{DialogTest, FetchAnswer, FetchFixture, Fixtures, Step};

/// Result of one test.
#[derive(Clone, Debug)]
pub struct TestResult {
    pub name: String,
    /// The dialog as it ran, and the failure (if any) at its end.
    pub dialog: Vec<String>,
    pub failure: Option<String>,
}

impl TestResult {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// What the tests exercised in one bot.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    pub states: BTreeSet<String>,
    pub intents: BTreeSet<String>,
    pub handlers: BTreeSet<String>,
}

impl Coverage {
    fn absorb(&mut self, program: &Program, reply: &Reply) {
        for trace in &reply.traces {
            self.states.extend(trace.states.iter().cloned());
            self.intents.extend(trace.intent.iter().cloned());
            self.handlers.extend(
                trace.handlers.iter().filter(|h| program.handler_labels().contains(h)).cloned(),
            );
        }
    }

    /// Lines naming what no test exercised.
    pub fn missing(&self, program: &Program) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(
            program
                .state_names()
                .filter(|s| !self.states.contains(*s))
                .map(|s| format!("state {s}")),
        );
        out.extend(
            program
                .intent_names()
                .filter(|i| !self.intents.contains(*i))
                .map(|i| format!("intent {i}")),
        );
        out.extend(
            program
                .handler_labels()
                .into_iter()
                .filter(|h| !self.handlers.contains(h))
                .map(|h| format!("handler `{h}`")),
        );
        out
    }
}

/// Answers `fetch` from a transcript's fixtures.
pub struct Fixtured<'f>(pub &'f [FetchFixture]);

impl FetchAnswers for Fixtured<'_> {
    fn answer(&self, request: &FetchRequest) -> FetchResult {
        let method = method_name(request.method);
        let found = self.0.iter().find(|f| {
            f.method == method
                && match f.url.strip_suffix('*') {
                    Some(prefix) => request.url.starts_with(prefix),
                    None => f.url == request.url,
                }
        });
        match found.map(|f| &f.answer) {
            Some(FetchAnswer::Ok { status, body }) if (200..300).contains(status) => {
                FetchResult::Ok { status: *status, body: body.clone() }
            }
            Some(FetchAnswer::Ok { status, .. }) => {
                FetchResult::Failed { reason: format!("HTTP {status}") }
            }
            Some(FetchAnswer::Fail(reason)) => FetchResult::Failed { reason: reason.clone() },
            None => {
                FetchResult::Failed { reason: format!("no fixture for {method} {}", request.url) }
            }
        }
    }
}

/// One bot output, as the transcript sees it.
#[derive(Clone, Debug)]
enum Output {
    Text(String),
    Buttons(Vec<String>),
    Handoff(Option<String>),
    Resolve,
}

impl Output {
    fn describe(&self) -> String {
        match self {
            Output::Text(t) => format!("bot: {t:?}"),
            Output::Buttons(b) => format!("buttons: {b:?}"),
            Output::Handoff(None) => "handoff".into(),
            Output::Handoff(Some(n)) => format!("handoff with note {n:?}"),
            Output::Resolve => "resolve".into(),
        }
    }
}

fn outputs(actions: &[Action]) -> Vec<Output> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendText { text } => Some(Output::Text(text.clone())),
            Action::SendButtons { buttons, .. } => {
                Some(Output::Buttons(buttons.iter().map(|b| b.label.clone()).collect()))
            }
            Action::Handoff { note } => Some(Output::Handoff(note.clone())),
            Action::Resolve => Some(Output::Resolve),
            _ => None,
        })
        .collect()
}

/// Runs one test.
pub fn run_test(
    program: &Program,
    fixtures: &Fixtures,
    strict: bool,
    test: &DialogTest,
    coverage: &mut Coverage,
) -> TestResult {
    let now = fixtures.now.unwrap_or_else(|| {
        Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).single().unwrap_or_default()
    });
    let mut conversation =
        Conversation::new(program, fixtures.seed, now).with_fetch(Fixtured(&fixtures.fetch));
    let mut dialog = Vec::new();
    let mut pending: VecDeque<Output> = VecDeque::new();
    let fail = |dialog: Vec<String>, message: String| TestResult {
        name: test.name.clone(),
        dialog,
        failure: Some(message),
    };
    let contact = test.contact.clone().unwrap_or_else(|| fixtures.contact.clone());
    if let Some(language) = &test.language {
        if !program.languages().iter().any(|l| l.eq_ignore_ascii_case(language)) {
            let spoken = match program.languages() {
                [] => "none declared: add `languages` under `bot`".to_string(),
                all => all.join(", "),
            };
            return fail(
                dialog,
                format!("the bot does not speak `{language}` (its languages: {spoken})"),
            );
        }
    }

    if let Some(state) = &test.start_in {
        // Variables first, so the state's own lines (its question) can use them.
        conversation.state_mut().contact = contact;
        for (k, v) in &test.vars {
            conversation.state_mut().set_variable(k, v.clone());
        }
        let Some(reply) = conversation.enter(state) else {
            return fail(dialog, format!("`start_in: {state}` names no state of this bot"));
        };
        coverage.absorb(program, &reply);
        pending.extend(outputs(&reply.actions));
    } else {
        let reply = conversation.start(contact);
        coverage.absorb(program, &reply);
        pending.extend(outputs(&reply.actions));
        for (k, v) in &test.vars {
            conversation.state_mut().set_variable(k, v.clone());
        }
    }

    for step in &test.steps {
        let input = match step {
            Step::Customer(text) => Some(Event::Text { text: text.clone() }),
            Step::Press(value) => Some(Event::Button { value: value.clone() }),
            Step::HandBack => Some(Event::HandedBack),
            Step::AgentResolves => Some(Event::ResolvedElsewhere),
            _ => None,
        };
        if input.is_some() || matches!(step, Step::Wait(_)) {
            if strict {
                if let Some(extra) = pending.front() {
                    dialog.push(format!("→ unexpected {}", extra.describe()));
                    return fail(
                        dialog,
                        format!(
                            "the bot said more than the test expects before `{}`",
                            step.describe()
                        ),
                    );
                }
            }
            for leftover in pending.drain(..) {
                dialog.push(format!("  {}", leftover.describe()));
            }
            dialog.push(format!("  {}", step.describe()));
            let reply = match (input, step) {
                (Some(event), _) => conversation.event(event),
                (None, Step::Wait(duration)) => conversation.wait(*duration),
                _ => Reply::default(),
            };
            coverage.absorb(program, &reply);
            pending.extend(outputs(&reply.actions));
            continue;
        }
        let outcome = match step {
            Step::Bot(expect) => expect_next(
                &mut pending,
                |o| match o {
                    Output::Text(t) if expect.accepts(t) => Ok(()),
                    _ => Err(()),
                },
                &format!("bot: {}", expect.describe()),
            ),
            Step::Buttons(labels) => expect_next(
                &mut pending,
                |o| match o {
                    Output::Buttons(b) if b == labels => Ok(()),
                    _ => Err(()),
                },
                &format!("buttons: {labels:?}"),
            ),
            Step::Handoff(note) => expect_next(
                &mut pending,
                |o| match (o, note) {
                    (Output::Handoff(_), None) => Ok(()),
                    (Output::Handoff(Some(got)), Some(want)) if want.accepts(got) => Ok(()),
                    _ => Err(()),
                },
                &step.describe(),
            ),
            Step::Resolve => expect_next(
                &mut pending,
                |o| match o {
                    Output::Resolve => Ok(()),
                    _ => Err(()),
                },
                "resolve",
            ),
            Step::Silent => match pending.front() {
                None => Ok("  (silent)".to_string()),
                Some(o) => Err(format!("expected the bot to stay silent, got {}", o.describe())),
            },
            Step::State(name) => {
                let current = current_state_name(program, conversation.state()).unwrap_or("(none)");
                if current == name {
                    Ok(format!("  (in state {name})"))
                } else {
                    Err(format!("expected to be in state `{name}`, but the bot is in `{current}`"))
                }
            }
            Step::Var(expected) => {
                let vars: std::collections::BTreeMap<&str, &serde_json::Value> =
                    conversation.state().variables().collect();
                match expected.iter().find(|(k, v)| vars.get(k.as_str()).copied() != Some(*v)) {
                    None => Ok(format!("  (variables {})", step.describe())),
                    Some((k, v)) => Err(format!(
                        "expected `{k}` to be {v}, got {}",
                        vars.get(k.as_str()).map_or("nothing".to_string(), ToString::to_string)
                    )),
                }
            }
            _ => Ok(String::new()),
        };
        match outcome {
            Ok(line) => dialog.push(line),
            Err(message) => return fail(dialog, message),
        }
    }
    TestResult { name: test.name.clone(), dialog, failure: None }
}

fn expect_next(
    pending: &mut VecDeque<Output>,
    accepts: impl Fn(&Output) -> Result<(), ()>,
    what: &str,
) -> Result<String, String> {
    match pending.pop_front() {
        Some(output) => match accepts(&output) {
            Ok(()) => Ok(format!("  {}", output.describe())),
            Err(()) => Err(format!("expected {what}\n     got {}", output.describe())),
        },
        None => Err(format!("expected {what}\n     got nothing (the bot said nothing more)")),
    }
}

/// Renders a failed test's dialog with the difference marked.
pub fn render_failure(result: &TestResult) -> String {
    let mut out = String::new();
    for line in &result.dialog {
        let _ = writeln!(out, "    {line}");
    }
    if let Some(failure) = &result.failure {
        for line in failure.lines() {
            let _ = writeln!(out, "    ✘ {line}");
        }
    }
    out
}
