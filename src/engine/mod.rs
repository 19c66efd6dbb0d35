//! Engine: the pure heart. `step(&Program, &State, Event, now) -> (State, Vec<Action>)`.
//!
//! No IO, no clock, no randomness it was not handed (the seed lives in the state); no tokio,
//! reqwest, axum or sqlx here. Owns the compiled program, the matching index, expressions,
//! templates, timers as data and the per-turn step budget.

pub mod event;

pub use event::{
    Action, Button, Contact, Event, FetchId, FetchRequest, FetchResult, Method, TimerId,
};
