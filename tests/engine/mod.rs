//! Integration tests: `engine` — every construct through the pure engine with a fake clock.

mod attachment;
mod bench_corpus;
mod matching;

use std::path::Path;

use botrun::check::{load_program, CheckOptions};
use botrun::engine::{Action, Contact, Mode, Program};
use botrun::testing::{Conversation, FetchAnswers};
use chrono::{DateTime, Duration, TimeZone, Utc};

/// Compiles a bot from text, failing the test on any error.
pub fn program(text: &str) -> Program {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bot.bot");
    std::fs::write(&path, text).expect("write");
    load(&path)
}

pub fn load(path: &Path) -> Program {
    match load_program(path, &CheckOptions::default()) {
        Ok(loaded) => loaded.program,
        Err(failure) => {
            panic!("{:#?}", failure.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>())
        }
    }
}

/// Tuesday 2026-11-24 15:00 UTC.
pub fn tuesday_afternoon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).single().expect("valid")
}

fn handoff_note(actions: &[Action]) -> Option<Option<String>> {
    actions.iter().find_map(|a| match a {
        Action::Handoff { note } => Some(note.clone()),
        _ => None,
    })
}

const MENU: &str = r#"bot "T"

list product
  "router", "access point"

intent greet
  "hi", "hello"

intent track
  "track [my] order"
  "order {number:digits}"

intent buy
  "buy [a] {item:@product}"

intent anything
  "*"

intent human
  "agent", "talk to [a] person"

on start
  say "Hi {contact.name or 'there'}!"
  go menu

anytime human
  handoff note "asked for a person in {message}"

state menu
  when greet
    say "Hello again"
  when track
    if number is empty
      say "Which order?"
    else
      say "Looking up {number}"
  when buy
    say "A {item}, good choice"
  otherwise
    say "Sorry?"
    after 2 misses
      handoff note "two misses"

on return
  say "Welcome back"
  go menu
"#;

#[test]
fn start_greets_with_contact_fields_and_defaults() {
    let p = program(MENU);
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    assert_eq!(
        c.start(Contact { name: Some("Ana".into()), ..Contact::default() }).texts(),
        ["Hi Ana!"]
    );
    let mut anonymous = Conversation::new(&p, 1, tuesday_afternoon());
    assert_eq!(anonymous.start(Contact::default()).texts(), ["Hi there!"]);
}

#[test]
fn matching_normalises_case_punctuation_and_picks_the_most_specific_phrase() {
    let p = program(MENU);
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    c.start(Contact::default());
    assert_eq!(c.say("HELLO!!").texts(), ["Hello again"]);
    assert_eq!(c.say("Track my order, please").texts(), ["Which order?"]);
    assert_eq!(c.say("order 12345").texts(), ["Looking up 12345"]);
    // The capture is typed: letters are not digits, so the wildcard intent is all that matches,
    // and it has no handler: the state's otherwise answers.
    assert_eq!(c.say("order abc").texts(), ["Sorry?"]);
    assert_eq!(c.say("I'd like to buy a router").texts(), ["A router, good choice"]);
    assert_eq!(
        c.say("I want to buy an access point").texts(),
        ["A access point, good choice"],
        "`an` is not in the phrase, but a small word may stand between a phrase's words"
    );
    assert_eq!(
        c.say("I want to buy something like an access point").texts(),
        ["Sorry?"],
        "other words still break the phrase"
    );
    assert_eq!(c.say("buy access point").texts(), ["A access point, good choice"]);
}

#[test]
fn anytime_works_in_every_state_and_handoff_silences_the_bot_until_handed_back() {
    let p = program(MENU);
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    c.start(Contact::default());
    let reply = c.say("I want to talk to a person");
    assert_eq!(
        handoff_note(&reply.actions),
        Some(Some("asked for a person in I want to talk to a person".into()))
    );
    assert_eq!(c.state().mode(), Mode::WithHuman);
    assert!(c.say("hello?").actions.is_empty());
    let back = c.event(botrun::engine::Event::HandedBack);
    assert_eq!(back.texts(), ["Welcome back"]);
    assert_eq!(c.say("hi").texts(), ["Hello again"]);
}

#[test]
fn misses_escalate_and_reset_on_a_hit() {
    let p = program(MENU);
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    c.start(Contact::default());
    assert_eq!(c.say("blah").texts(), ["Sorry?"]);
    assert_eq!(c.say("hi").texts(), ["Hello again"]);
    assert_eq!(c.say("blah").texts(), ["Sorry?"]);
    let second = c.say("blah blah");
    assert_eq!(handoff_note(&second.actions), Some(Some("two misses".into())));
}

#[test]
fn numbered_answers_pick_buttons_on_channels_without_buttons() {
    let p = program(
        "bot \"T\"\n\nintent yes\n  \"yes\"\n\nintent no\n  \"no\"\n\non start\n  buttons \"yes\", \"no\"\n  go q\n\nstate q\n  when yes\n    say \"great\"\n  when no\n    say \"pity\"\n  otherwise\n    say \"?\"\n",
    );
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    let start = c.start(Contact::default());
    assert!(start
        .actions
        .iter()
        .any(|a| matches!(a, Action::SendButtons { fallback, .. } if fallback == "1. yes\n2. no")));
    assert_eq!(c.say("2").texts(), ["pity"]);
}

const ASK: &str = r#"bot "T"

intent human
  "agent"

on start
  go ask_number

anytime human
  handoff

state ask_number
  ask number as digits
    say "Your order number?"
    retry "Digits only, please."
    retry "Just the digits, like 12345."
    after 3 retries
      handoff note "no number"
    timeout 3m
      say "Still there?"
    timeout 15m
      resolve "Closing now."
  say "Got {number}"
  go done

state done
  otherwise
    say "Anything else?"
"#;

#[test]
fn ask_validates_retries_in_order_and_escalates() {
    let p = program(ASK);
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    assert_eq!(c.start(Contact::default()).texts(), ["Your order number?"]);
    assert_eq!(c.say("what?").texts(), ["Digits only, please."]);
    assert_eq!(c.say("no idea").texts(), ["Just the digits, like 12345."]);
    let third = c.say("nope");
    assert_eq!(handoff_note(&third.actions), Some(Some("no number".into())));
}

#[test]
fn a_good_answer_is_normalised_and_the_block_continues() {
    let p = program(ASK);
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    c.start(Contact::default());
    assert_eq!(c.say("12-34 5").texts(), ["Got 12345"]);
    assert_eq!(c.say("thanks").texts(), ["Anything else?"]);
}

#[test]
fn anytime_still_wins_while_asking() {
    let p = program(ASK);
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    c.start(Contact::default());
    assert!(handoff_note(&c.say("agent").actions).is_some());
}

#[test]
fn timeout_ladder_fires_in_order_and_an_answer_cancels_it() {
    let p = program(ASK);
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    c.start(Contact::default());
    assert!(c.wait(Duration::minutes(2)).texts().is_empty());
    assert_eq!(c.wait(Duration::minutes(2)).texts(), ["Still there?"]);
    let closing = c.wait(Duration::minutes(20));
    assert_eq!(closing.texts(), ["Closing now."]);
    assert_eq!(closing.actions.last(), Some(&Action::Resolve));
    assert_eq!(c.state().mode(), Mode::Idle);

    let mut answered = Conversation::new(&p, 1, tuesday_afternoon());
    answered.start(Contact::default());
    answered.say("42");
    assert!(answered.wait(Duration::hours(1)).texts().is_empty());
}

#[test]
fn stale_timers_are_ignored() {
    let p = program(ASK);
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    let start = c.start(Contact::default());
    let timer = start.actions.iter().find_map(|a| match a {
        Action::ScheduleTimer { id, .. } => Some(*id),
        _ => None,
    });
    c.say("42");
    let stale =
        c.event(botrun::engine::Event::TimerDue { timer: timer.expect("a timeout was scheduled") });
    assert!(stale.actions.is_empty());
    assert!(stale.traces[0].notes.iter().any(|n| n.contains("stale")));
}

#[test]
fn resolve_sends_the_farewell_before_finishing_and_a_new_message_starts_over() {
    let p = program("bot \"T\"\n\nintent bye\n  \"bye\"\n\non start\n  say \"hello\"\n  go s\n\nstate s\n  ask name as text\n    say \"name?\"\n    retry \"name please\"\n  say \"hi {name}\"\n  when bye\n    resolve \"bye {name}\"\n  otherwise\n    say \"?\"\n\non return\n  say \"back again\"\n  go s\n");
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    c.start(Contact::default());
    assert_eq!(c.say("Kim").texts(), ["hi Kim"]);
    let bye = c.say("bye");
    assert_eq!(bye.actions[..2], [Action::SendText { text: "bye Kim".into() }, Action::Resolve]);
    assert!(c.state().variables().next().is_none(), "variables are cleared at resolve");
    assert_eq!(c.say("hello").texts(), ["back again", "name?"]);
}

#[test]
fn hours_and_next_open_follow_the_calendar_timezone() {
    let bot = "bot \"T\"\n  timezone \"America/New_York\"\n\nhours office\n  mon-fri 09:00-17:00\n  closed 2026-12-25\n\non start\n  if open office\n    say \"open\"\n  else\n    say \"closed until {next_open(office)}\"\n";
    let p = program(bot);
    let open = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).single().expect("valid");
    let christmas = Utc.with_ymd_and_hms(2026, 12, 25, 15, 0, 0).single().expect("valid");
    assert_eq!(Conversation::new(&p, 1, open).start(Contact::default()).texts(), ["open"]);
    assert_eq!(
        Conversation::new(&p, 1, christmas).start(Contact::default()).texts(),
        ["closed until Monday at 09:00"]
    );
}

struct Shop;

impl FetchAnswers for Shop {
    fn answer(&self, request: &botrun::engine::FetchRequest) -> botrun::engine::FetchResult {
        if request.url.ends_with("/orders/7") {
            botrun::engine::FetchResult::Ok {
                status: 200,
                body: serde_json::json!({"status": "shipped", "shipped_on": "Monday"}),
            }
        } else {
            botrun::engine::FetchResult::Failed { reason: "404".into() }
        }
    }
}

#[test]
fn fetch_results_come_back_as_events_and_errors_take_the_error_branch() {
    let bot = "bot \"T\"\n\non start\n  go s\n\nstate s\n  ask n as digits\n    say \"number?\"\n    retry \"digits\"\n  fetch get \"{env.API}/orders/{n}\" into order\n    on error\n      handoff note \"lookup failed for {n}\"\n  if order.status is \"shipped\"\n    say \"shipped {order.shipped_on}\"\n  go s\n";
    let p = program(bot)
        .with_env([("API".to_string(), "https://shop.example".to_string())].into_iter().collect());
    let mut c = Conversation::new(&p, 1, tuesday_afternoon()).with_fetch(Shop);
    c.start(Contact::default());
    let reply = c.say("7");
    assert!(reply
        .actions
        .iter()
        .any(|a| matches!(a, Action::Fetch(r) if r.url == "https://shop.example/orders/7")));
    assert_eq!(reply.texts(), ["shipped Monday", "number?"]);
    assert_eq!(handoff_note(&c.say("8").actions), Some(Some("lookup failed for 8".into())));
}

#[test]
fn go_loops_are_stopped_by_the_step_budget() {
    // `validate` rejects this loop; compile it directly to prove the engine survives it anyway.
    let text = "bot \"T\"\n\non start\n  go a\n\nstate a\n  go b\n\nstate b\n  go a\n";
    let file = botrun::syntax::parse(&botrun::source::SourceFile::new(
        botrun::source::FileId(0),
        "loop.bot",
        text,
    ))
    .expect("parses");
    let p = botrun::check::compile::compile(&file).expect("compiles");
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    let reply = c.start(Contact::default());
    assert!(
        matches!(handoff_note(&reply.actions), Some(Some(note)) if note.contains("bot stopped"))
    );
    assert_eq!(c.state().mode(), Mode::WithHuman);
}

#[test]
fn say_one_of_is_deterministic_for_a_seed_and_honours_weights() {
    let bot = "bot \"T\"\n\nintent x\n  \"x\"\n\non start\n  go s\n\nstate s\n  when x\n    say one of\n      \"a\"\n      \"b\" weight 3\n  otherwise\n    say \"?\"\n";
    let p = program(bot);
    let run = |seed| {
        let mut c = Conversation::new(&p, seed, tuesday_afternoon());
        c.start(Contact::default());
        (0..200).map(|_| c.say("x").texts().join("")).collect::<Vec<_>>()
    };
    assert_eq!(run(7), run(7));
    let bs = run(7).iter().filter(|t| *t == "b").count();
    assert!((120..=180).contains(&bs), "weight 3 of 4 should give about 150 of 200, got {bs}");
}

#[test]
fn typos_are_tolerated_only_when_enabled_and_only_by_one_edit() {
    let strict = program("bot \"T\"\n\nintent track\n  \"track order\"\n\non start\n  go s\n\nstate s\n  when track\n    say \"tracking\"\n  otherwise\n    say \"?\"\n");
    let lenient = program("bot \"T\"\n  typos tolerated\n\nintent track\n  \"track order\"\n\non start\n  go s\n\nstate s\n  when track\n    say \"tracking\"\n  otherwise\n    say \"?\"\n");
    let reply = |p: &Program, text: &str| {
        let mut c = Conversation::new(p, 1, tuesday_afternoon());
        c.start(Contact::default());
        c.say(text).texts()
    };
    assert_eq!(reply(&strict, "track ordr"), ["?"]);
    assert_eq!(reply(&lenient, "track ordr"), ["tracking"]);
    assert_eq!(reply(&lenient, "track odrr"), ["?"]);
    assert_eq!(reply(&lenient, "tack ordre"), ["tracking"], "one edit per word, in each word");
}

#[test]
fn accents_are_folded_only_when_asked() {
    let folded = program("bot \"T\"\n  accents ignored\n\nintent cafe\n  \"café\"\n\non start\n  go s\n\nstate s\n  when cafe\n    say \"coffee\"\n  otherwise\n    say \"?\"\n");
    let mut c = Conversation::new(&folded, 1, tuesday_afternoon());
    c.start(Contact::default());
    assert_eq!(c.say("CAFE").texts(), ["coffee"]);
    assert_eq!(c.say("Café!").texts(), ["coffee"]);
}

#[test]
fn idle_policy_nudges_then_resolves_and_customer_activity_resets_it() {
    let bot = "bot \"T\"\n  idle 10m\n    say \"still there?\"\n  idle 30m\n    resolve \"closing\"\n\nintent hi\n  \"hi\"\n\non start\n  go s\n\nstate s\n  when hi\n    say \"hello\"\n  otherwise\n    say \"?\"\n";
    let p = program(bot);
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    c.start(Contact::default());
    assert_eq!(c.wait(Duration::minutes(9)).texts(), Vec::<String>::new());
    c.say("hi");
    assert!(c.wait(Duration::minutes(9)).texts().is_empty(), "activity restarted the ladder");
    assert_eq!(c.wait(Duration::minutes(2)).texts(), ["still there?"]);
    assert_eq!(c.wait(Duration::minutes(20)).texts(), ["closing"]);
}

#[test]
fn idle_state_is_small() {
    let p = load(Path::new("bots/order_tracking.bot"));
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    c.start(Contact { name: Some("Ana Lima".into()), ..Contact::default() });
    let bytes = c.state().to_bytes();
    assert!(bytes.len() <= 512, "idle conversation state is {} bytes", bytes.len());
}

#[test]
fn explain_ranks_candidates_and_names_the_winner() {
    let p = program(MENU);
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    c.start(Contact::default());
    let why = botrun::engine::explain(&p, c.state(), "order 42", tuesday_afternoon());
    assert_eq!(why.state.as_deref(), Some("menu"));
    let winner = &why.candidates[why.winner.expect("a winner")];
    assert_eq!(winner.intent, "track");
    assert_eq!(winner.captures, [("number".to_string(), serde_json::json!("42"))]);
    assert!(
        why.candidates.iter().any(|c| c.intent == "anything"),
        "the wildcard also matched, ranked lower"
    );
    assert!(why.reason.contains("exact words beat captures"));
}

#[test]
fn a_changed_bot_drops_a_stale_open_question_but_keeps_the_state() {
    let before = program(ASK);
    let after = program(
        &ASK.replace("Your order number?", "Which order number?")
            .replace("Anything else?", "More?"),
    );
    let mut c = Conversation::new(&before, 1, tuesday_afternoon());
    c.start(Contact::default());
    assert!(c.state().is_asking());
    let (state, actions, trace) = botrun::engine::step_traced(
        &after,
        c.state(),
        botrun::engine::Event::Text { text: "42".into() },
        tuesday_afternoon(),
    );
    assert!(trace.notes.iter().any(|n| n.contains("the bot changed")), "{trace:?}");
    assert!(!state.is_asking());
    assert_eq!(state.current_state(), Some("ask_number"));
    assert!(
        actions.iter().any(|a| matches!(a, Action::CancelTimer { .. })),
        "the old question's timeouts are cancelled"
    );
}

#[test]
fn state_snapshots_round_trip_through_bytes_mid_question() {
    let p = program(ASK);
    let mut c = Conversation::new(&p, 1, tuesday_afternoon());
    c.start(Contact::default());
    let restored = botrun::engine::State::from_bytes(&c.state().to_bytes()).expect("reads back");
    let (_, actions) = botrun::engine::step(
        &p,
        &restored,
        botrun::engine::Event::Text { text: "42".into() },
        tuesday_afternoon(),
    );
    assert!(actions.contains(&Action::SendText { text: "Got 42".into() }));
}
