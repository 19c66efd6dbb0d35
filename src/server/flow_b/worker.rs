//! Flow B's conversation worker, run by [`crate::server::keyed::KeyedWorkers`] (at most one task
//! per conversation, so its events run through the engine strictly in arrival order and its
//! replies leave in order). A worker takes the oldest
//! queued event, steps the engine, commits state + outbox + timers + "event consumed" in one
//! transaction, delivers the outbox, and exits when the conversation has nothing left to do.

use std::hash::{Hash, Hasher};

use crate::engine::{self, Action, Event, State};
use crate::server::decisions::{self, Step};
use crate::server::ownership::StatusChange;
use crate::server::payload::{encode, CxRef, InboundPayload, Outgoing};
use crate::server::{outbox, AppState};
use crate::store::{Inbound, Snapshot, StoreError, TimerRow, Turn};

/// Makes sure a worker runs for `conversation` and will see its newest work.
pub(crate) fn wake(state: &AppState, conversation: &str) {
    let app = state.clone();
    state.workers.wake(state, conversation, conversation.to_owned(), move |conversation| {
        let state = app.clone();
        async move { work(&state, &conversation).await }
    });
}

/// Runs every queued event, delivering replies after each one. Items left in the outbox from
/// before (a restart) go out with the first drain, ahead of the new replies; a worker woken
/// with nothing queued drains them on its own.
async fn work(state: &AppState, conversation: &str) -> Result<(), StoreError> {
    // The state this worker last committed: the next event starts from it without a read.
    let mut known = None;
    let mut drained = false;
    while let Some(inbound) = state.store.next_inbound(conversation).await? {
        // Renewed before each event: after a long CX outage another replica may have taken over.
        if !state.hold(conversation).await? {
            return Ok(());
        }
        known = process(state, &inbound, known.take()).await?;
        outbox::drain(state, conversation).await?;
        drained = true;
    }
    if !drained {
        outbox::drain(state, conversation).await?;
    }
    Ok(())
}

/// A stable seed for a new conversation's random choices (`say one of`); Flow A uses it too.
pub(crate) fn seed_for(conversation: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    conversation.hash(&mut hasher);
    hasher.finish()
}

/// One inbound event → one committed turn (or a discarded event). `known` is the snapshot this
/// worker committed last, if any; returns the one it commits now.
async fn process(
    state: &AppState,
    inbound: &Inbound,
    mut known: Option<Snapshot>,
) -> Result<Option<Snapshot>, StoreError> {
    let discard = || async { state.store.discard_inbound(inbound.id).await.map(|()| None) };
    let payload: InboundPayload = match serde_json::from_str(&inbound.payload) {
        Ok(payload) => payload,
        Err(error) => {
            tracing::error!(id = inbound.id, %error, "dropping an unreadable inbound event");
            return discard().await;
        }
    };
    let cx = payload.cx().clone();
    let Some(bot) = state.bots.index_for_inbox(cx.inbox_id) else {
        tracing::warn!(inbox = ?cx.inbox_id, "no bot serves this inbox; event ignored");
        return discard().await;
    };
    let Some(program) = state.bots.program(bot) else {
        return discard().await;
    };
    loop {
        let snapshot = match known.take() {
            Some(snapshot) => Some(snapshot),
            None => state.store.load_conversation(&inbound.conversation).await?,
        };
        let (version, current) = match &snapshot {
            Some(s) => match State::from_bytes(&s.state) {
                Ok(current) => (s.version, current),
                Err(error) => {
                    tracing::error!(conversation = %inbound.conversation, %error,
                        "stored state unreadable; starting the conversation over");
                    (s.version, State::new(seed_for(&inbound.conversation)))
                }
            },
            None => (0, State::new(seed_for(&inbound.conversation))),
        };
        let events = events_for(&payload, &current, snapshot.is_some());
        if events.is_empty() {
            return discard().await;
        }
        let now = state.clock.now();
        let mut next = current;
        let mut turn = Turn {
            conversation: inbound.conversation.clone(),
            expected_version: version,
            processed: Some(inbound.id),
            ..Turn::default()
        };
        let keep = state.config.decisions.customer_text;
        for event in events {
            let before = next.current_state().map(str::to_owned);
            let (stepped, actions, trace) =
                engine::step_traced(&program, &next, event.clone(), now);
            let step = Step {
                bot: program.bot_name(),
                before: before.as_deref(),
                event: &event,
                after: &stepped,
                actions: &actions,
                trace: &trace,
                at: now,
            };
            turn.decisions.extend(decisions::describe(&step, keep));
            next = stepped;
            add_actions(&mut turn, &cx, actions)?;
        }
        turn.state = next.to_bytes();
        match state.store.commit_turn(&turn, now).await {
            Ok(version) => {
                state.metrics.count_decisions(&turn.decisions);
                return Ok(Some(Snapshot { version, state: turn.state }));
            }
            // Another replica committed first: reload its state and run the event again.
            Err(StoreError::Conflict { .. }) => {}
            Err(error) => return Err(error),
        }
    }
}

/// What the engine should hear for a stored event, given the conversation's state.
fn events_for(payload: &InboundPayload, current: &State, known: bool) -> Vec<Event> {
    match payload {
        InboundPayload::Message { button: Some(value), .. } => {
            vec![Event::Button { value: value.clone() }]
        }
        InboundPayload::Message { text, .. } => vec![Event::Text { text: text.clone() }],
        InboundPayload::Attachment { file_type, url, .. } => {
            vec![Event::Attachment { kind: file_type.clone(), url: url.clone() }]
        }
        InboundPayload::ConversationStarted { contact, .. } if !known => {
            vec![Event::Started { contact: contact.clone() }]
        }
        InboundPayload::ConversationStarted { .. } => Vec::new(),
        InboundPayload::StatusChanged { previous, current: status, .. } => {
            StatusChange::parse(previous.as_deref(), status)
                .engine_event(current.mode(), known)
                .into_iter()
                .collect()
        }
        InboundPayload::Engine { event, .. } => vec![event.clone()],
    }
}

fn add_actions(turn: &mut Turn, cx: &CxRef, actions: Vec<Action>) -> Result<(), StoreError> {
    let mut items: Vec<Outgoing> = Vec::new();
    let mut timers = Vec::new();
    let mut cancels = Vec::new();
    for action in actions {
        match action {
            Action::SendText { text } => items.push(Outgoing::Text { cx: cx.clone(), text }),
            Action::SendButtons { buttons, fallback } => {
                let item = Outgoing::buttons_after(&mut items, cx, buttons, fallback);
                items.push(item);
            }
            Action::Handoff { note } => {
                if let Some(text) = note {
                    items.push(Outgoing::Note { cx: cx.clone(), text });
                }
                items.push(Outgoing::DeliverToAgent { cx: cx.clone() });
            }
            Action::Resolve => items.push(Outgoing::Finish { cx: cx.clone() }),
            Action::Fetch(request) => items.push(Outgoing::Fetch { cx: cx.clone(), request }),
            Action::ScheduleTimer { id, due } => {
                let payload =
                    InboundPayload::Engine { cx: cx.clone(), event: Event::TimerDue { timer: id } };
                timers.push(TimerRow { key: id.0.to_string(), due, payload: encode(&payload)? });
            }
            Action::CancelTimer { id } => {
                // The store applies cancels before adds, so a timer scheduled and cancelled
                // in the same turn is simply never added.
                let key = id.0.to_string();
                let before = timers.len();
                timers.retain(|t: &TimerRow| t.key != key);
                if timers.len() == before {
                    cancels.push(key);
                }
            }
        }
    }
    for item in &items {
        turn.outbox.push(encode(item)?);
    }
    turn.cancel_timers.extend(cancels);
    turn.add_timers.extend(timers);
    Ok(())
}
