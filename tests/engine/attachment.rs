//! A file without text (`Event::Attachment`): `on attachment` runs beside an open question;
//! without the hook the file is a message with no words.

use botrun::engine::{step, Action, Contact, Event, State};

use super::{program, tuesday_afternoon};

const ASKING: &str = r#"bot "T"

on start
  ask order as digits
    say "Your order number?"
    retry "Digits only, please."
  say "Thanks, order {order}."
"#;

fn texts(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendText { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn run(bot: &str, events: Vec<Event>) -> Vec<Vec<String>> {
    let program = program(bot);
    let mut state = State::new(1);
    let mut said = Vec::new();
    for event in events {
        let (next, actions) = step(&program, &state, event, tuesday_afternoon());
        said.push(texts(&actions));
        state = next;
    }
    said
}

fn photo() -> Event {
    Event::Attachment { kind: "image".into(), url: "https://cx.example/photo.jpg".into() }
}

#[test]
fn without_on_attachment_a_file_is_a_message_with_no_words() {
    let said = run(ASKING, vec![Event::Started { contact: Contact::default() }, photo()]);
    assert_eq!(said[1], ["Digits only, please."]);
}

#[test]
fn on_attachment_runs_and_the_open_question_stays_open() {
    let bot = format!("{ASKING}\non attachment\n  say \"Thanks for the file.\"\n");
    let said = run(
        &bot,
        vec![
            Event::Started { contact: Contact::default() },
            photo(),
            Event::Text { text: "42".into() },
        ],
    );
    assert_eq!(said[1], ["Thanks for the file."]);
    assert_eq!(said[2], ["Thanks, order 42."]);
}

#[test]
fn a_file_as_the_first_message_starts_the_bot() {
    let bot = format!("{ASKING}\non attachment\n  say \"Thanks for the file.\"\n");
    let said = run(&bot, vec![photo()]);
    assert_eq!(said[0], ["Your order number?", "Thanks for the file."]);
}
