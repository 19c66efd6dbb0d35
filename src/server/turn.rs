//! One turn of a conversation, for Flow A and Flow B alike: read the stored snapshot, hear the
//! events the flow derives from its queued work, step the engine once per event (one decision
//! record per step), turn the engine's timers into timer rows, and commit record + outbox +
//! timers + decisions + "event consumed" in one transaction — built again from the newer
//! snapshot when another replica committed first.
//!
//! A flow supplies only what differs, as a [`FlowTurn`]: how its stored work becomes engine
//! events, what its record keeps around the engine state, how the engine's other actions become
//! its deliveries, and what a due timer queues for it. What it does once the turn is stored
//! (deliver the outbox, push to the page) stays in the flow.
//!
//! Rules both flows follow (the two copies this replaced disagreed on the first two):
//! - One turn's deliveries and timers are built across all its engine steps, so buttons ride on
//!   the message of the step before, and a timer one step schedules and a later step of the
//!   same turn cancels is never stored (Flow B built them per step: the add survived the cancel).
//! - One instant (`now`) per attempt: the engine steps, the flow's own timers and the commit all
//!   read it (Flow A read the clock three times in one turn).
//! - A turn that ran no engine step and leaves the flow's record, outbox and timers as they were
//!   stores nothing: the event is discarded.

use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use crate::engine::{self, Action, Event, Program, State};
use crate::server::decisions::{self, CustomerText, Step};
use crate::server::AppState;
use crate::store::{DecisionRecord, Inbound, OutboxItem, Snapshot, StoreError, TimerRow, Turn};

/// One flow's side of one attempt at a turn, made from the stored snapshot.
pub(crate) trait FlowTurn {
    /// The engine state the turn starts from (a fresh one for a new conversation).
    fn engine_state(&self) -> State;

    /// What the engine should hear for the queued work. May change the flow's record and add
    /// deliveries and timers of the flow's own.
    fn events(&mut self, timers: &mut Timers) -> Result<Vec<Event>, StoreError>;

    /// The queued work a due timer brings back to this flow (`event` is `Event::TimerDue`).
    fn timer_work(&self, event: Event) -> Result<String, StoreError>;

    /// Adds one action of the engine to the deliveries. Timers never come here: they are the
    /// turn's own ([`Timers`]).
    fn deliver(&mut self, action: Action) -> Result<(), StoreError>;

    /// What to store once the events ran: `after` is the engine state after them, `None` when
    /// no event ran.
    fn stored(&mut self, after: Option<&State>, timers: &mut Timers) -> Result<Stored, StoreError>;
}

/// What a flow stores with a turn.
pub(crate) struct Stored {
    /// The flow's record of the conversation; `None` when it is unchanged.
    pub record: Option<Vec<u8>>,
    /// Outbox items, in delivery order.
    pub outbox: Vec<String>,
}

/// The timer rows of one turn, and the instant the turn runs at.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Timers {
    now: DateTime<Utc>,
    add: Vec<TimerRow>,
    cancel: Vec<String>,
}

impl Timers {
    fn at(now: DateTime<Utc>) -> Timers {
        Timers { now, add: Vec::new(), cancel: Vec::new() }
    }

    /// The instant of the turn: the engine steps and the commit use it too.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Sets timer `key` (a later schedule of the same key in the turn wins, as the store's
    /// upsert would).
    pub(crate) fn schedule(&mut self, key: String, due: DateTime<Utc>, payload: String) {
        self.add.retain(|timer| timer.key != key);
        self.add.push(TimerRow { key, due, payload });
    }

    /// Forgets timer `key`. The store applies cancels before adds, so a timer scheduled earlier
    /// in the same turn is simply never added.
    pub(crate) fn cancel(&mut self, key: String) {
        let before = self.add.len();
        self.add.retain(|timer| timer.key != key);
        if self.add.len() == before {
            self.cancel.push(key);
        }
    }

    fn is_empty(&self) -> bool {
        self.add.is_empty() && self.cancel.is_empty()
    }
}

/// What [`run`] leaves behind.
pub(crate) struct Turned<F> {
    /// The flow's side of the attempt that was stored (or found nothing to store).
    pub flow: F,
    /// What the store holds for the conversation now.
    pub current: Option<Snapshot>,
    /// The outbox items the stored turn queued, with their ids, in delivery order (none when
    /// nothing was stored).
    pub queued: Vec<OutboxItem>,
}

/// A stable seed for a new conversation's random choices (`say one of`).
pub(crate) fn seed_for(conversation: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    conversation.hash(&mut hasher);
    hasher.finish()
}

/// The flow's work stored in `inbound`, or `None` (and the event dropped) when it cannot be read.
pub(crate) async fn read_work<W: DeserializeOwned>(
    app: &AppState,
    inbound: &Inbound,
) -> Result<Option<W>, StoreError> {
    match serde_json::from_str(&inbound.payload) {
        Ok(work) => Ok(Some(work)),
        Err(error) => {
            tracing::error!(id = inbound.id, conversation = %inbound.conversation, %error,
                "dropping an unreadable inbound event");
            app.store.discard_inbound(inbound.id).await.map(|()| None)
        }
    }
}

/// Runs `inbound` through `program` as one committed turn. `known` is the snapshot the caller
/// committed last, if any (the first attempt starts from it without a read); `begin` makes the
/// flow's side of an attempt from the snapshot it starts from.
pub(crate) async fn run<F: FlowTurn>(
    app: &AppState,
    inbound: &Inbound,
    program: &Program,
    mut known: Option<Snapshot>,
    mut begin: impl FnMut(Option<&Snapshot>) -> F,
) -> Result<Turned<F>, StoreError> {
    let keep = app.config.decisions.customer_text;
    loop {
        let snapshot = match known.take() {
            Some(snapshot) => Some(snapshot),
            None => app.store.load_conversation(&inbound.conversation).await?,
        };
        let now = app.clock.now();
        let mut flow = begin(snapshot.as_ref());
        let (stored, timers, decisions) = attempt(&mut flow, program, now, keep)?;
        if stored.record.is_none() && stored.outbox.is_empty() && timers.is_empty() {
            app.store.discard_inbound(inbound.id).await?;
            return Ok(Turned { flow, current: snapshot, queued: Vec::new() });
        }
        let turn = Turn {
            conversation: inbound.conversation.clone(),
            expected_version: snapshot.as_ref().map_or(0, |s| s.version),
            state: match stored.record {
                Some(record) => record,
                None => snapshot.map(|s| s.state).unwrap_or_default(),
            },
            outbox: stored.outbox,
            add_timers: timers.add,
            cancel_timers: timers.cancel,
            processed: Some(inbound.id),
            decisions,
        };
        match app.store.commit_turn(&turn, now).await {
            Ok(committed) => {
                app.metrics.count_decisions(&turn.decisions);
                let queued = committed
                    .outbox
                    .into_iter()
                    .zip(turn.outbox)
                    .map(|(id, payload)| OutboxItem {
                        id,
                        conversation: turn.conversation.clone(),
                        payload,
                        attempts: 0,
                        not_before: now,
                    })
                    .collect();
                let current = Some(Snapshot { version: committed.version, state: turn.state });
                return Ok(Turned { flow, current, queued });
            }
            // Another replica committed first: build the turn again from its state.
            Err(StoreError::Conflict { .. }) => {}
            Err(error) => return Err(error),
        }
    }
}

/// Builds one attempt: the flow's events through the engine, then what the flow stores.
fn attempt<F: FlowTurn>(
    flow: &mut F,
    program: &Program,
    now: DateTime<Utc>,
    keep: CustomerText,
) -> Result<(Stored, Timers, Vec<DecisionRecord>), StoreError> {
    let mut timers = Timers::at(now);
    let events = flow.events(&mut timers)?;
    let mut decisions = Vec::new();
    let stepped = if events.is_empty() {
        None
    } else {
        let mut state = flow.engine_state();
        for event in events {
            let before = state.current_state().map(str::to_owned);
            let (next, actions, trace) = engine::step_traced(program, &state, event.clone(), now);
            let step = Step {
                bot: program.bot_name(),
                before: before.as_deref(),
                event: &event,
                after: &next,
                actions: &actions,
                trace: &trace,
                at: now,
            };
            decisions.extend(decisions::describe(&step, keep));
            state = next;
            for action in actions {
                match action {
                    Action::ScheduleTimer { id, due } => {
                        let work = flow.timer_work(Event::TimerDue { timer: id })?;
                        timers.schedule(id.0.to_string(), due, work);
                    }
                    Action::CancelTimer { id } => timers.cancel(id.0.to_string()),
                    action => flow.deliver(action)?,
                }
            }
        }
        Some(state)
    };
    let stored = flow.stored(stepped.as_ref(), &mut timers)?;
    Ok((stored, timers, decisions))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::check::{load_program, CheckOptions};

    /// A bot whose greeting asks a question with a timeout: the answer cancels the timer.
    const ASKS_WITH_TIMEOUT: &str = "bot \"Turns\"\n\non start\n  ask number as digits\n    \
        say \"What's your order number?\"\n    timeout 3m\n      say \"Still there?\"\n  \
        say \"Thanks, looking up {number}.\"\n";

    fn program(text: &str) -> Program {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("turns.bot");
        std::fs::write(&path, text).expect("write");
        match load_program(&path, &CheckOptions::default()) {
            Ok(loaded) => loaded.program,
            Err(failure) => panic!("{:?}", failure.diagnostics),
        }
    }

    /// A flow whose work is a fixed list of events and whose deliveries are the texts said.
    struct Scripted {
        events: Vec<Event>,
        said: Vec<String>,
    }

    impl FlowTurn for Scripted {
        fn engine_state(&self) -> State {
            State::new(7)
        }
        fn events(&mut self, _: &mut Timers) -> Result<Vec<Event>, StoreError> {
            Ok(std::mem::take(&mut self.events))
        }
        fn timer_work(&self, event: Event) -> Result<String, StoreError> {
            Ok(format!("{event:?}"))
        }
        fn deliver(&mut self, action: Action) -> Result<(), StoreError> {
            if let Action::SendText { text } = action {
                self.said.push(text);
            }
            Ok(())
        }
        fn stored(&mut self, after: Option<&State>, _: &mut Timers) -> Result<Stored, StoreError> {
            Ok(Stored { record: after.map(State::to_bytes), outbox: Vec::new() })
        }
    }

    fn noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).single().expect("valid")
    }

    #[test]
    fn a_timer_scheduled_and_cancelled_in_one_turn_is_never_stored() {
        let program = program(ASKS_WITH_TIMEOUT);
        let started = Event::Started { contact: crate::engine::Contact::default() };
        let answer = Event::Text { text: "12345".into() };
        let mut flow = Scripted { events: vec![started.clone()], said: Vec::new() };
        let (_, timers, _) = attempt(&mut flow, &program, noon(), CustomerText::Missed).unwrap();
        assert_eq!(timers.add.len(), 1, "the question alone schedules its timeout");

        let mut flow = Scripted { events: vec![started, answer], said: Vec::new() };
        let (stored, timers, decisions) =
            attempt(&mut flow, &program, noon(), CustomerText::Missed).unwrap();
        assert_eq!(timers, Timers::at(noon()), "the answer in the same turn cancels it");
        assert_eq!(flow.said, ["What's your order number?", "Thanks, looking up 12345."]);
        assert_eq!(decisions.len(), 2, "one decision record per step");
        assert!(stored.record.is_some());
    }

    #[test]
    fn a_turn_without_events_runs_no_step() {
        let program = program(ASKS_WITH_TIMEOUT);
        let mut flow = Scripted { events: Vec::new(), said: Vec::new() };
        let (stored, timers, decisions) =
            attempt(&mut flow, &program, noon(), CustomerText::Missed).unwrap();
        assert!(stored.record.is_none() && timers.is_empty() && decisions.is_empty());
    }

    #[test]
    fn timers_keep_the_last_schedule_and_cancel_only_what_the_turn_did_not_add() {
        let mut timers = Timers::at(noon());
        timers.schedule("a".into(), noon(), "first".into());
        timers.schedule("a".into(), noon(), "second".into());
        timers.cancel("b".into());
        assert_eq!(timers.add.len(), 1);
        assert_eq!(timers.add[0].payload, "second");
        assert_eq!(timers.cancel, ["b"]);
        timers.cancel("a".into());
        assert!(timers.add.is_empty());
        assert_eq!(timers.cancel, ["b"]);
    }
}
