//! Flow B's conversation worker, run by [`crate::server::keyed::KeyedWorkers`] (at most one task
//! per conversation, so its events run through the engine strictly in arrival order and its
//! replies leave in order). A worker takes the oldest queued event, runs it as one turn
//! ([`crate::server::turn`]: Flow B's side is [`CxTurn`]), delivers the outbox, and exits when
//! the conversation has nothing left to do.

use crate::engine::{Action, Event, State};
use crate::server::ownership::StatusChange;
use crate::server::payload::{encode, CxRef, InboundPayload, Outgoing};
use crate::server::turn::{self, FlowTurn, Stored, Timers};
use crate::server::{outbox, AppState};
use crate::store::{Inbound, OutboxItem, Snapshot, StoreError};

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
    // Whether the outbox held nothing when this worker started: then each turn's replies go
    // out as the commit numbered them, without being read back.
    let mut outbox_was_empty = false;
    let mut drained = false;
    loop {
        // Without one, the state and the outbox's head are read alongside the next event: on a
        // store that batches reads (PostgreSQL) they share one round trip, and the turn needs no
        // read of its own.
        let next = if known.is_none() {
            let (next, stored, waiting) = tokio::try_join!(
                state.store.next_inbound(conversation),
                state.store.load_conversation(conversation),
                state.store.next_outbox(conversation)
            )?;
            known = stored;
            outbox_was_empty = waiting.is_none();
            next
        } else {
            state.store.next_inbound(conversation).await?
        };
        let Some(inbound) = next else { break };
        // Renewed before each event: after a long CX outage another replica may have taken over.
        if !state.hold(conversation).await? {
            return Ok(());
        }
        let (current, queued) = process(state, &inbound, known.take()).await?;
        known = current;
        if outbox_was_empty {
            outbox::deliver_queued(state, conversation, &queued).await?;
        } else {
            // Older items go out first, in order, then this turn's.
            outbox::drain(state, conversation).await?;
            outbox_was_empty = true;
        }
        drained = true;
    }
    if !drained {
        outbox::drain(state, conversation).await?;
    }
    Ok(())
}

/// One inbound event → one committed turn (or a discarded event). `known` is the snapshot this
/// worker committed last, if any; returns what the store holds now and the outbox items the
/// turn queued.
async fn process(
    state: &AppState,
    inbound: &Inbound,
    known: Option<Snapshot>,
) -> Result<(Option<Snapshot>, Vec<OutboxItem>), StoreError> {
    let Some(payload) = turn::read_work::<InboundPayload>(state, inbound).await? else {
        return Ok((None, Vec::new()));
    };
    let Some(program) =
        state.bots.index_for_inbox(payload.cx().inbox_id).and_then(|bot| state.bots.program(bot))
    else {
        tracing::warn!(inbox = ?payload.cx().inbox_id, "no bot serves this inbox; event ignored");
        state.store.discard_inbound(inbound.id).await?;
        return Ok((None, Vec::new()));
    };
    let turned = turn::run(state, inbound, &program, known, |snapshot| {
        CxTurn::new(&payload, &inbound.conversation, snapshot)
    })
    .await?;
    Ok((turned.current, turned.queued))
}

/// Flow B's side of a turn: the engine state is the whole record, and the replies are CX calls.
struct CxTurn<'a> {
    payload: &'a InboundPayload,
    /// Whether the conversation was stored before.
    known: bool,
    state: State,
    items: Vec<Outgoing>,
}

impl<'a> CxTurn<'a> {
    fn new(payload: &'a InboundPayload, conversation: &str, snapshot: Option<&Snapshot>) -> Self {
        let fresh = || State::new(turn::seed_for(conversation));
        let state = match snapshot.map(|s| State::from_bytes(&s.state)) {
            Some(Ok(state)) => state,
            Some(Err(error)) => {
                tracing::error!(%conversation, %error,
                    "stored state unreadable; starting the conversation over");
                fresh()
            }
            None => fresh(),
        };
        CxTurn { payload, known: snapshot.is_some(), state, items: Vec::new() }
    }

    fn cx(&self) -> &'a CxRef {
        self.payload.cx()
    }
}

impl FlowTurn for CxTurn<'_> {
    fn engine_state(&self) -> State {
        self.state.clone()
    }

    fn events(&mut self, _: &mut Timers) -> Result<Vec<Event>, StoreError> {
        Ok(events_for(self.payload, &self.state, self.known))
    }

    fn timer_work(&self, event: Event) -> Result<String, StoreError> {
        encode(&InboundPayload::Engine { cx: self.cx().clone(), event })
    }

    fn deliver(&mut self, action: Action) -> Result<(), StoreError> {
        let cx = self.cx();
        let items = &mut self.items;
        match action {
            Action::SendText { text } => items.push(Outgoing::Text { cx: cx.clone(), text }),
            Action::SendButtons { buttons, fallback } => {
                let item = Outgoing::buttons_after(items, cx, buttons, fallback);
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
            // The turn keeps the timers (`turn::Timers`).
            Action::ScheduleTimer { .. } | Action::CancelTimer { .. } => {}
        }
        Ok(())
    }

    fn stored(&mut self, after: Option<&State>, _: &mut Timers) -> Result<Stored, StoreError> {
        Ok(Stored {
            record: after.map(State::to_bytes),
            outbox: self.items.iter().map(encode).collect::<Result<_, _>>()?,
        })
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
