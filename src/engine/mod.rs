//! Engine: the pure heart. `step(&Program, &State, Event, now) -> (State, Vec<Action>)`.
//!
//! No IO, no clock, no randomness it was not handed (the seed lives in the state); no tokio,
//! reqwest, axum or sqlx here. Owns the compiled program, the matching index, expressions,
//! templates, timers as data and the per-turn step budget.

mod answers;
mod compute;
pub mod dates;
mod decide;
pub mod event;
mod explain;
pub(crate) mod hours;
mod language;
pub(crate) mod matcher;
pub mod program;
mod state;
mod step;
mod text;
mod value;

pub(crate) use compute::FUNCTIONS as EXPRESSION_FUNCTIONS;
pub use decide::Decision;
pub(crate) use decide::{button_reaches, Decided, Reach};
pub(crate) use event::TimerId;
pub use event::{Action, Button, Contact, Event, FetchRequest, FetchResult, Method};
pub use explain::explain;
pub(crate) use explain::Explanation;

pub use program::Program;
pub use state::{Mode, State};

pub(crate) use step::{enter_traced, Trace};
pub use step::{step, step_traced};
pub(crate) use text::normalise_text;

/// Puts a conversation in `state_name` (for tests that start mid-dialog); false if unknown.
pub fn set_state(program: &Program, state: &mut State, state_name: &str) -> bool {
    match program.state_id(state_name) {
        Some(_) => {
            state.position = Some(state_name.to_string());
            state.mode = Mode::WithBot;
            state.began = true;
            true
        }
        None => false,
    }
}

/// The name of the conversation's current state.
pub(crate) fn current_state_name<'p>(program: &'p Program, state: &State) -> Option<&'p str> {
    state
        .current_state()
        .and_then(|name| program.state_id(name))
        .and_then(|id| program.states.get(usize::from(id)))
        .map(|s| s.name.as_str())
}
