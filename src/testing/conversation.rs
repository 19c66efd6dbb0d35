//! A conversation driven offline: the pure engine, a fake clock, timers fired in order when the
//! clock moves, and `fetch` answered from fixtures. `botrun test`, `botrun chat` and the engine's
//! own tests all talk to bots through this.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::engine::{
    enter_traced, step_traced, Action, Contact, Event, FetchRequest, FetchResult, Program, State,
    TimerId, Trace,
};

/// Answers `fetch` requests without a network.
pub trait FetchAnswers {
    fn answer(&self, request: &FetchRequest) -> FetchResult;
}

/// Every fetch fails: for bots and tests that do not expect one.
pub(crate) struct NoFetch;

impl FetchAnswers for NoFetch {
    fn answer(&self, request: &FetchRequest) -> FetchResult {
        FetchResult::Failed {
            reason: format!(
                "no answer configured for {} {}",
                method_name(request.method),
                request.url
            ),
        }
    }
}

pub(crate) fn method_name(method: crate::engine::Method) -> &'static str {
    match method {
        crate::engine::Method::Get => "GET",
        crate::engine::Method::Post => "POST",
        crate::engine::Method::Put => "PUT",
        crate::engine::Method::Patch => "PATCH",
        crate::engine::Method::Delete => "DELETE",
    }
}

/// What one event produced, fetches already answered.
#[derive(Clone, Debug, Default)]
pub struct Reply {
    pub actions: Vec<Action>,
    pub traces: Vec<Trace>,
}

impl Reply {
    /// The texts the customer sees, in order.
    pub fn texts(&self) -> Vec<String> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::SendText { text } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    fn absorb(&mut self, other: Reply) {
        self.actions.extend(other.actions);
        self.traces.extend(other.traces);
    }
}

pub struct Conversation<'p> {
    program: &'p Program,
    state: State,
    now: DateTime<Utc>,
    timers: BTreeMap<TimerId, DateTime<Utc>>,
    fetch: Box<dyn FetchAnswers + 'p>,
}

impl<'p> Conversation<'p> {
    pub fn new(program: &'p Program, seed: u64, now: DateTime<Utc>) -> Self {
        Conversation {
            program,
            state: State::new(seed),
            now,
            timers: BTreeMap::new(),
            fetch: Box::new(NoFetch),
        }
    }

    #[must_use]
    pub fn with_fetch(mut self, fetch: impl FetchAnswers + 'p) -> Self {
        self.fetch = Box::new(fetch);
        self
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    pub fn start(&mut self, contact: Contact) -> Reply {
        self.event(Event::Started { contact })
    }

    pub fn say(&mut self, text: &str) -> Reply {
        self.event(Event::Text { text: text.to_string() })
    }

    pub fn press(&mut self, value: &str) -> Reply {
        self.event(Event::Button { value: value.to_string() })
    }

    /// Moves the clock forward, firing due timers in order at their due time.
    pub fn wait(&mut self, duration: Duration) -> Reply {
        let until = self.now + duration;
        let mut reply = Reply::default();
        loop {
            let next = self
                .timers
                .iter()
                .filter(|(_, due)| **due <= until)
                .min_by_key(|(id, due)| (**due, **id))
                .map(|(id, due)| (*id, *due));
            let Some((id, due)) = next else { break };
            self.timers.remove(&id);
            self.now = self.now.max(due);
            reply.absorb(self.event(Event::TimerDue { timer: id }));
        }
        self.now = until;
        reply
    }

    /// Moves into `state_name` and runs its own lines (its question), as `go` would; `None`
    /// when the bot has no such state.
    pub(crate) fn enter(&mut self, state_name: &str) -> Option<Reply> {
        let first = enter_traced(self.program, &self.state, state_name, self.now)?;
        Some(self.absorb_step(first))
    }

    /// Runs one event; answers fetches at once and keeps the timer table.
    pub fn event(&mut self, event: Event) -> Reply {
        let first = step_traced(self.program, &self.state, event, self.now);
        self.absorb_step(first)
    }

    /// Takes one step's result, then runs the events it causes (fetch answers).
    fn absorb_step(&mut self, first: (State, Vec<Action>, Trace)) -> Reply {
        let mut reply = Reply::default();
        let mut pending: Vec<Event> = Vec::new();
        let mut next = Some(first);
        loop {
            let (state, actions, trace) = match next.take() {
                Some(step) => step,
                None => match pending.pop() {
                    Some(event) => step_traced(self.program, &self.state, event, self.now),
                    None => break,
                },
            };
            self.state = state;
            reply.traces.push(trace);
            for action in &actions {
                match action {
                    Action::ScheduleTimer { id, due } => {
                        self.timers.insert(*id, *due);
                    }
                    Action::CancelTimer { id } => {
                        self.timers.remove(id);
                    }
                    Action::Fetch(request) => {
                        let result = self.fetch.answer(request);
                        pending.push(Event::FetchDone { fetch: request.id, result });
                    }
                    _ => {}
                }
            }
            reply.actions.extend(actions);
        }
        reply
    }
}
