//! The benchmark corpus (`benches/engine/corpus.rs`) is only run by hand, so a change of the
//! language could break it unnoticed (it did once: `[my|the]` became `[(my|the)]`). Here its
//! bots must compile, and a sample of its messages must get the
//! replies the corpus expects, with and without `typos tolerated`.

#[path = "../../benches/engine/corpus.rs"]
#[allow(dead_code, clippy::pedantic)]
mod corpus;

use botrun::engine::{Action, Contact};
use botrun::testing::Conversation;

use super::{program, tuesday_afternoon};

fn reply(actions: &[Action]) -> Option<&str> {
    actions.iter().find_map(|a| match a {
        Action::SendText { text } => Some(text.as_str()),
        _ => None,
    })
}

#[test]
fn the_benchmark_bots_compile_and_answer_as_the_corpus_expects() {
    for typos in [false, true] {
        let bot = program(&corpus::bot_file(100, typos));
        let mut start = Conversation::new(&bot, 1, tuesday_afternoon());
        start.start(Contact::default());
        let state = start.state().clone();
        for input in corpus::inputs(100, 400) {
            let expected = if typos { &input.expect_typos } else { &input.expect_exact };
            let (_, actions) = botrun::engine::step(
                &bot,
                &state,
                botrun::engine::Event::Text { text: input.message.clone() },
                tuesday_afternoon(),
            );
            assert_eq!(
                reply(&actions),
                Some(expected.as_str()),
                "{:?} (typos tolerated: {typos})",
                input.message
            );
        }
    }
}
