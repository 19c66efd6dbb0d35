//! One queued event of a widget conversation → one committed turn: the engine steps, the
//! session, the CX calls and the timers are committed together, then the replies are pushed to
//! the page (the widget's own store keeps them for replay).

use std::sync::Arc;

use super::payload::{MirrorItem, WidgetInbound};
use super::session::{self, merge_contact, Session};
use super::{FlowA, OpenAt};
use crate::cx::ConversationStatus;
use crate::engine::{self, Action, Button, Event, Mode};
use crate::server::decisions::{self, Step};
use crate::server::ownership::StatusChange;
use crate::server::payload::encode;
use crate::store::{DecisionRecord, Inbound, StoreError, TimerRow, Turn};
use crate::widget::{OutgoingActivity, Sender};

/// What one turn produces besides the new session.
#[derive(Default)]
struct Effects {
    mirror: Vec<MirrorItem>,
    page: Vec<OutgoingActivity>,
    add_timers: Vec<TimerRow>,
    cancel_timers: Vec<String>,
    decisions: Vec<DecisionRecord>,
    /// The CX conversation to put on the reconciliation watch list once the turn is stored.
    watch: Option<u64>,
}

/// The key of the rewatch timer ([`WidgetInbound::Rewatch`]); one per conversation.
const REWATCH_TIMER: &str = "reconcile-rewatch";

/// Runs one queued event; true when it queued CX calls.
pub(super) async fn process(flow: &Arc<FlowA>, inbound: &Inbound) -> Result<bool, StoreError> {
    let store = &flow.app.store;
    let work: WidgetInbound = match serde_json::from_str(&inbound.payload) {
        Ok(work) => work,
        Err(error) => {
            tracing::error!(id = inbound.id, %error, "dropping an unreadable widget event");
            return store.discard_inbound(inbound.id).await.map(|()| false);
        }
    };
    let Some(conversation) = session::widget_conversation(&inbound.conversation) else {
        return store.discard_inbound(inbound.id).await.map(|()| false);
    };
    loop {
        let (version, mut session) = session::load(store.as_ref(), &inbound.conversation).await?;
        let details_before = session.contact_for_cx();
        let contact_made = session.link.contact_id.is_some() || session.link.open_queued;
        let mut effects = apply(flow, conversation, &mut session, &work)?;
        // Details that arrive once the CX contact exists (or its creation is queued, and may be
        // under way) are written onto it; a contact created later gets them with the rest.
        if contact_made && !same_details(&details_before, &session.contact_for_cx()) {
            effects.mirror.push(MirrorItem::UpdateContact);
        }
        let turn = Turn {
            conversation: inbound.conversation.clone(),
            expected_version: version,
            state: session.to_bytes(),
            outbox: effects.mirror.iter().map(encode).collect::<Result<_, _>>()?,
            add_timers: effects.add_timers,
            cancel_timers: effects.cancel_timers,
            processed: Some(inbound.id),
            decisions: effects.decisions,
        };
        match store.commit_turn(&turn, flow.app.clock.now()).await {
            Ok(_) => {
                flow.app.metrics.count_decisions(&turn.decisions);
                if let Some(cx_conversation) = effects.watch {
                    flow.watch(&inbound.conversation, cx_conversation);
                }
                let reply_to = match &work {
                    WidgetInbound::Customer { activity, .. } => activity.as_deref(),
                    _ => None,
                };
                push_to_page(flow, conversation, effects.page, reply_to).await;
                return Ok(!turn.outbox.is_empty());
            }
            Err(StoreError::Conflict { .. }) => {}
            Err(error) => return Err(error),
        }
    }
}

async fn push_to_page(
    flow: &FlowA,
    conversation: &str,
    page: Vec<OutgoingActivity>,
    reply_to: Option<&str>,
) {
    let Some(widget) = flow.widget.get() else {
        if !page.is_empty() {
            tracing::error!(%conversation, "no widget attached; replies not shown");
        }
        return;
    };
    for activity in page {
        if let Err(error) = widget.push_reply(conversation, activity, reply_to).await {
            tracing::error!(%conversation, %error, "widget push failed");
        }
    }
}

/// Decides the turn: changes `session` and returns what to deliver.
fn apply(
    flow: &FlowA,
    conversation: &str,
    session: &mut Session,
    work: &WidgetInbound,
) -> Result<Effects, StoreError> {
    let mut effects = Effects::default();
    let bot = Sender::bot(flow.program().bot_name());
    let events = match work {
        WidgetInbound::Started { contact } => {
            merge_contact(&mut session.contact, contact);
            if flow.settings.open_at == OpenAt::Start {
                queue_open(session, &mut effects);
            }
            if session.is_new() {
                vec![Event::Started { contact: session.contact.clone() }]
            } else {
                Vec::new()
            }
        }
        WidgetInbound::Customer { text, attachments, .. } => {
            queue_open(session, &mut effects);
            effects.mirror.push(MirrorItem::Incoming {
                text: text.clone(),
                attachments: attachments.clone(),
            });
            let mut events = Vec::new();
            if session.is_new() {
                events.push(Event::Started { contact: session.contact.clone() });
            }
            if text.is_empty() {
                // Files without words run `on attachment`, as a CX photo does in Flow B.
                if let Some(file) = attachments.first() {
                    events.push(Event::Attachment {
                        kind: file.kind().to_owned(),
                        url: file.url.clone(),
                    });
                }
            } else if session.buttons.contains(text) {
                events.push(Event::Button { value: text.clone() });
            } else {
                events.push(Event::Text { text: text.clone() });
            }
            events
        }
        WidgetInbound::ContactDetails { contact } => {
            merge_contact(&mut session.contact, contact);
            Vec::new()
        }
        WidgetInbound::Agent { cx_conversation, message_id, name, text } => {
            // CX echoes what botrun wrote, with whatever sender it names: ours by id, or by
            // text while CX has not answered the call yet.
            let echo = message_id.is_some_and(|id| session.echoes.is_echo(id, text));
            if session.link.conversation_id == Some(*cx_conversation) && !echo {
                effects.page.push(OutgoingActivity::Message {
                    from: Sender::agent(&cx_conversation.to_string(), name),
                    text: text.clone(),
                    suggested_actions: Vec::new(),
                });
            }
            Vec::new()
        }
        WidgetInbound::CxStatus { cx_conversation, previous, current } => {
            if session.link.conversation_id == Some(*cx_conversation) {
                let change = StatusChange::parse(previous.as_deref(), current);
                if change.current == ConversationStatus::Resolved {
                    // An agent finished it in CX: the page hears the farewell and the end, and
                    // the next customer message opens a new CX conversation for the same contact.
                    session.link.conversation_id = None;
                    session.link.open_queued = false;
                    effects.page.push(OutgoingActivity::Message {
                        from: bot.clone(),
                        text: flow.settings.agent_finish_farewell.clone(),
                        suggested_actions: Vec::new(),
                    });
                    effects.page.push(OutgoingActivity::EndOfConversation { from: bot.clone() });
                }
                let mode = session.engine_state(0).mode();
                let events: Vec<Event> =
                    change.engine_event(mode, !session.is_new()).into_iter().collect();
                if events.iter().any(|event| matches!(event, Event::HandedBack)) {
                    // The page learns the person left before the bot speaks again.
                    effects.page.push(OutgoingActivity::Event {
                        from: bot.clone(),
                        name: "botrun.handback".into(),
                        value: serde_json::Value::Null,
                    });
                }
                events
            } else {
                Vec::new()
            }
        }
        WidgetInbound::Engine { event } => vec![event.clone()],
        WidgetInbound::Rewatch => {
            if session.engine_state(0).mode() == Mode::WithHuman {
                effects.watch = session.link.conversation_id;
                arm_rewatch(flow, &mut effects)?;
            }
            Vec::new()
        }
    };
    if events.is_empty() {
        return Ok(effects);
    }
    let with_human_before = session.engine_state(0).mode() == Mode::WithHuman;
    let program = flow.program();
    let mut state = session.engine_state(crate::server::flow_b::worker::seed_for(conversation));
    let now = flow.app.clock.now();
    let keep = flow.app.config.decisions.customer_text;
    for event in events {
        let before = state.current_state().map(str::to_owned);
        let (next, actions, trace) = engine::step_traced(&program, &state, event.clone(), now);
        let step = Step {
            bot: program.bot_name(),
            before: before.as_deref(),
            event: &event,
            after: &next,
            actions: &actions,
            trace: &trace,
            at: now,
        };
        effects.decisions.extend(decisions::describe(&step, keep));
        state = next;
        add_actions(session, &mut effects, &bot, actions)?;
    }
    if state.mode() == Mode::WithHuman && !with_human_before {
        arm_rewatch(flow, &mut effects)?;
    }
    session.set_engine_state(&state);
    Ok(effects)
}

/// Whether CX would see the same contact: name, email and phone.
fn same_details(a: &crate::engine::Contact, b: &crate::engine::Contact) -> bool {
    a.name == b.name && a.email == b.email && a.phone == b.phone
}

/// Sets (or renews) the rewatch timer: every six reconciliation periods while a human owns the
/// conversation, so a restart leaves it unwatched for at most that long. Nothing when
/// reconciliation is off.
fn arm_rewatch(flow: &FlowA, effects: &mut Effects) -> Result<(), StoreError> {
    let Some(every) = flow.settings.reconcile_every else { return Ok(()) };
    let payload = encode(&WidgetInbound::Rewatch)?;
    let after = chrono::Duration::from_std(every * 6).unwrap_or(chrono::Duration::seconds(30));
    effects.cancel_timers.push(REWATCH_TIMER.to_owned());
    effects.add_timers.push(TimerRow {
        key: REWATCH_TIMER.to_owned(),
        due: flow.app.clock.now() + after,
        payload,
    });
    Ok(())
}

/// Queues the creation of the CX conversation (unless one is queued already), followed by the
/// bot messages that waited for it.
fn queue_open(session: &mut Session, effects: &mut Effects) {
    if !session.link.open_queued {
        session.link.open_queued = true;
        effects.mirror.push(MirrorItem::Open);
        effects.mirror.append(&mut session.unmirrored);
    }
}

/// Where a CX call goes: the outbox once the conversation is (being) opened, otherwise the
/// session's waiting list.
fn lane<'a>(session: &'a mut Session, effects: &'a mut Effects) -> &'a mut Vec<MirrorItem> {
    if session.link.open_queued {
        &mut effects.mirror
    } else {
        &mut session.unmirrored
    }
}

fn add_actions(
    session: &mut Session,
    effects: &mut Effects,
    bot: &Sender,
    actions: Vec<Action>,
) -> Result<(), StoreError> {
    for action in actions {
        match action {
            Action::SendText { text } => {
                lane(session, effects)
                    .push(MirrorItem::Outgoing { text: text.clone(), buttons: vec![] });
                effects.page.push(OutgoingActivity::Message {
                    from: bot.clone(),
                    text,
                    suggested_actions: Vec::new(),
                });
            }
            Action::SendButtons { buttons, fallback } => {
                session.buttons = buttons.iter().map(|b| b.value.clone()).collect();
                attach_buttons(session, effects, bot, &buttons, fallback);
            }
            Action::Handoff { note } => {
                // A handoff needs the CX conversation even before the customer wrote.
                queue_open(session, effects);
                if let Some(text) = note.clone() {
                    effects.mirror.push(MirrorItem::Note { text });
                }
                effects.mirror.push(MirrorItem::DeliverToAgent);
                effects.page.push(OutgoingActivity::Event {
                    from: bot.clone(),
                    name: "botrun.handoff".into(),
                    value: serde_json::json!({ "note": note }),
                });
            }
            Action::Resolve => {
                if session.link.open_queued {
                    effects.mirror.push(MirrorItem::Finish);
                }
                // Nothing reached CX yet: there is nothing to finish or to mirror later.
                session.unmirrored.clear();
                session.link.open_queued = false;
                session.buttons.clear();
                effects.page.push(OutgoingActivity::EndOfConversation { from: bot.clone() });
            }
            Action::Fetch(request) => lane(session, effects).push(MirrorItem::Fetch { request }),
            Action::ScheduleTimer { id, due } => {
                let work = WidgetInbound::Engine { event: Event::TimerDue { timer: id } };
                let payload = encode(&work)?;
                effects.add_timers.push(TimerRow { key: id.0.to_string(), due, payload });
            }
            Action::CancelTimer { id } => {
                let key = id.0.to_string();
                let before = effects.add_timers.len();
                effects.add_timers.retain(|t| t.key != key);
                if effects.add_timers.len() == before {
                    effects.cancel_timers.push(key);
                }
            }
        }
    }
    Ok(())
}

/// Buttons ride on the message before them — Web Chat shows suggested actions under the last
/// activity, and the CX mirror sends them as that message's `input_select` items. Without a
/// message before them they get one of their own (the numbered fallback text in CX).
fn attach_buttons(
    session: &mut Session,
    effects: &mut Effects,
    bot: &Sender,
    buttons: &[Button],
    fallback: String,
) {
    let values: Vec<String> = buttons.iter().map(|b| b.value.clone()).collect();
    let page_free = matches!(effects.page.last(),
        Some(OutgoingActivity::Message { suggested_actions, .. }) if suggested_actions.is_empty());
    let mirror_free = matches!(lane(session, effects).last(),
        Some(MirrorItem::Outgoing { buttons, .. }) if buttons.is_empty());
    if page_free && mirror_free {
        if let Some(OutgoingActivity::Message { suggested_actions, .. }) = effects.page.last_mut() {
            *suggested_actions = values;
        }
        if let Some(MirrorItem::Outgoing { buttons: slot, .. }) = lane(session, effects).last_mut()
        {
            *slot = buttons.to_vec();
        }
        return;
    }
    lane(session, effects).push(MirrorItem::Outgoing { text: fallback, buttons: buttons.to_vec() });
    effects.page.push(OutgoingActivity::Message {
        from: bot.clone(),
        text: String::new(),
        suggested_actions: values,
    });
}
