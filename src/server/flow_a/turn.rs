//! Flow A's side of a turn ([`crate::server::turn`]): one queued event of a widget conversation
//! → the session, the CX calls and the timers committed together, then the replies pushed to the
//! page (the widget's own store keeps them for replay).

use std::sync::Arc;

use super::payload::{MirrorItem, WidgetInbound};
use super::session::{self, merge_contact, Session};
use super::{FlowA, OpenAt};
use crate::cx::ConversationStatus;
use crate::engine::{Action, Button, Contact, Event, Mode, State};
use crate::server::ownership::StatusChange;
use crate::server::payload::encode;
use crate::server::turn::{self, FlowTurn, Stored, Timers};
use crate::store::{Inbound, StoreError};
use crate::widget::{OutgoingActivity, Sender};

/// Flow A's side of a turn: the session around the engine state, the CX calls mirroring it and
/// the replies the page is shown once the turn is stored.
struct WidgetTurn<'a> {
    flow: &'a FlowA,
    conversation: &'a str,
    work: &'a WidgetInbound,
    /// Who the page shows as the bot.
    bot: Sender,
    session: Session,
    /// The customer as CX was told before the turn, and whether the CX contact exists (or its
    /// creation is queued, and may be under way): details that change after that are written
    /// onto it ([`MirrorItem::UpdateContact`]); a contact created later gets them with the rest.
    details_before: Contact,
    contact_made: bool,
    mirror: Vec<MirrorItem>,
    page: Vec<OutgoingActivity>,
    /// The CX conversation to put on the reconciliation watch list once the turn is stored.
    watch: Option<u64>,
}

/// The key of the rewatch timer ([`WidgetInbound::Rewatch`]); one per conversation.
const REWATCH_TIMER: &str = "reconcile-rewatch";

/// Runs one queued event; true when it queued CX calls.
pub(super) async fn process(flow: &Arc<FlowA>, inbound: &Inbound) -> Result<bool, StoreError> {
    let Some(work) = turn::read_work::<WidgetInbound>(&flow.app, inbound).await? else {
        return Ok(false);
    };
    let Some(conversation) = session::widget_conversation(&inbound.conversation) else {
        return flow.app.store.discard_inbound(inbound.id).await.map(|()| false);
    };
    let program = flow.program();
    let turned = turn::run(&flow.app, inbound, &program, None, |snapshot| {
        let session = Session::read(snapshot);
        WidgetTurn {
            flow,
            conversation,
            work: &work,
            bot: Sender::bot(program.bot_name()),
            details_before: session.contact_for_cx(),
            contact_made: session.link.contact_id.is_some() || session.link.open_queued,
            session,
            mirror: Vec::new(),
            page: Vec::new(),
            watch: None,
        }
    })
    .await?;
    let done = turned.flow;
    if let Some(cx_conversation) = done.watch {
        flow.watch(&inbound.conversation, cx_conversation);
    }
    let reply_to = match &work {
        WidgetInbound::Customer { activity, .. } => activity.as_deref(),
        _ => None,
    };
    push_to_page(flow, conversation, done.page, reply_to).await;
    Ok(!done.mirror.is_empty())
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

impl FlowTurn for WidgetTurn<'_> {
    fn engine_state(&self) -> State {
        self.session.engine_state(turn::seed_for(self.conversation))
    }

    fn events(&mut self, timers: &mut Timers) -> Result<Vec<Event>, StoreError> {
        let session = &mut self.session;
        Ok(match self.work {
            WidgetInbound::Started { contact } => {
                merge_contact(&mut session.contact, contact);
                if self.flow.settings.open_at == OpenAt::Start {
                    self.queue_open();
                }
                if self.session.is_new() {
                    vec![Event::Started { contact: self.session.contact.clone() }]
                } else {
                    Vec::new()
                }
            }
            WidgetInbound::Customer { text, attachments, .. } => {
                self.queue_open();
                self.mirror.push(MirrorItem::Incoming {
                    text: text.clone(),
                    attachments: attachments.clone(),
                });
                let mut events = Vec::new();
                if self.session.is_new() {
                    events.push(Event::Started { contact: self.session.contact.clone() });
                }
                if text.is_empty() {
                    // Files without words run `on attachment`, as a CX photo does in Flow B.
                    if let Some(file) = attachments.first() {
                        events.push(Event::Attachment {
                            kind: file.kind().to_owned(),
                            url: file.url.clone(),
                        });
                    }
                } else if self.session.buttons.contains(text) {
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
                    self.page.push(OutgoingActivity::Message {
                        from: Sender::agent(&cx_conversation.to_string(), name),
                        text: text.clone(),
                        suggested_actions: Vec::new(),
                    });
                }
                Vec::new()
            }
            WidgetInbound::CxStatus { cx_conversation, previous, current } => {
                if session.link.conversation_id == Some(*cx_conversation) {
                    self.status_changed(previous.as_deref(), current)
                } else {
                    Vec::new()
                }
            }
            WidgetInbound::Engine { event } => vec![event.clone()],
            WidgetInbound::Rewatch => {
                if session.engine_state(0).mode() == Mode::WithHuman {
                    self.watch = session.link.conversation_id;
                    self.arm_rewatch(timers)?;
                }
                Vec::new()
            }
        })
    }

    fn timer_work(&self, event: Event) -> Result<String, StoreError> {
        encode(&WidgetInbound::Engine { event })
    }

    fn deliver(&mut self, action: Action) -> Result<(), StoreError> {
        let bot = self.bot.clone();
        match action {
            Action::SendText { text } => {
                self.lane().push(MirrorItem::Outgoing { text: text.clone(), buttons: vec![] });
                self.page.push(OutgoingActivity::Message {
                    from: bot,
                    text,
                    suggested_actions: Vec::new(),
                });
            }
            Action::SendButtons { buttons, fallback } => {
                self.session.buttons = buttons.iter().map(|b| b.value.clone()).collect();
                self.attach_buttons(&buttons, fallback);
            }
            Action::Handoff { note } => {
                // A handoff needs the CX conversation even before the customer wrote.
                self.queue_open();
                if let Some(text) = note.clone() {
                    self.mirror.push(MirrorItem::Note { text });
                }
                self.mirror.push(MirrorItem::DeliverToAgent);
                self.page.push(OutgoingActivity::Event {
                    from: bot,
                    name: "botrun.handoff".into(),
                    value: serde_json::json!({ "note": note }),
                });
            }
            Action::Resolve => {
                if self.session.link.open_queued {
                    self.mirror.push(MirrorItem::Finish);
                }
                // Nothing reached CX yet: there is nothing to finish or to mirror later.
                self.session.unmirrored.clear();
                self.session.link.open_queued = false;
                self.session.buttons.clear();
                self.page.push(OutgoingActivity::EndOfConversation { from: bot });
            }
            Action::Fetch(request) => self.lane().push(MirrorItem::Fetch { request }),
            // The turn keeps the timers (`turn::Timers`).
            Action::ScheduleTimer { .. } | Action::CancelTimer { .. } => {}
        }
        Ok(())
    }

    fn stored(&mut self, after: Option<&State>, timers: &mut Timers) -> Result<Stored, StoreError> {
        if let Some(state) = after {
            let with_human_before = self.session.engine_state(0).mode() == Mode::WithHuman;
            if state.mode() == Mode::WithHuman && !with_human_before {
                self.arm_rewatch(timers)?;
            }
            self.session.set_engine_state(state);
        }
        if self.contact_made && !same_details(&self.details_before, &self.session.contact_for_cx())
        {
            self.mirror.push(MirrorItem::UpdateContact);
        }
        Ok(Stored {
            record: Some(self.session.to_bytes()),
            outbox: self.mirror.iter().map(encode).collect::<Result<_, _>>()?,
        })
    }
}

impl WidgetTurn<'_> {
    /// The mirrored CX conversation changed status: an agent finishing it ends the page's
    /// conversation; the engine hears what the change means for it.
    fn status_changed(&mut self, previous: Option<&str>, current: &str) -> Vec<Event> {
        let change = StatusChange::parse(previous, current);
        if change.current == ConversationStatus::Resolved {
            // An agent finished it in CX: the page hears the farewell and the end, and the next
            // customer message opens a new CX conversation for the same contact.
            self.session.link.conversation_id = None;
            self.session.link.open_queued = false;
            self.page.push(OutgoingActivity::Message {
                from: self.bot.clone(),
                text: self.flow.settings.agent_finish_farewell.clone(),
                suggested_actions: Vec::new(),
            });
            self.page.push(OutgoingActivity::EndOfConversation { from: self.bot.clone() });
        }
        let mode = self.session.engine_state(0).mode();
        let events: Vec<Event> =
            change.engine_event(mode, !self.session.is_new()).into_iter().collect();
        if events.iter().any(|event| matches!(event, Event::HandedBack)) {
            // The page learns the person left before the bot speaks again.
            self.page.push(OutgoingActivity::Event {
                from: self.bot.clone(),
                name: "botrun.handback".into(),
                value: serde_json::Value::Null,
            });
        }
        events
    }

    /// Sets (or renews) the rewatch timer: every six reconciliation periods while a human owns
    /// the conversation, so a restart leaves it unwatched for at most that long. Nothing when
    /// reconciliation is off.
    fn arm_rewatch(&self, timers: &mut Timers) -> Result<(), StoreError> {
        let Some(every) = self.flow.settings.reconcile_every else { return Ok(()) };
        let after = chrono::Duration::from_std(every * 6).unwrap_or(chrono::Duration::seconds(30));
        let due = timers.now() + after;
        timers.schedule(REWATCH_TIMER.to_owned(), due, encode(&WidgetInbound::Rewatch)?);
        Ok(())
    }

    /// Queues the creation of the CX conversation (unless one is queued already), followed by
    /// the bot messages that waited for it.
    fn queue_open(&mut self) {
        if !self.session.link.open_queued {
            self.session.link.open_queued = true;
            self.mirror.push(MirrorItem::Open);
            self.mirror.append(&mut self.session.unmirrored);
        }
    }

    /// Where a CX call goes: the outbox once the conversation is (being) opened, otherwise the
    /// session's waiting list.
    fn lane(&mut self) -> &mut Vec<MirrorItem> {
        if self.session.link.open_queued {
            &mut self.mirror
        } else {
            &mut self.session.unmirrored
        }
    }

    /// Buttons ride on the message before them — Web Chat shows suggested actions under the
    /// last activity, and the CX mirror sends them as that message's `input_select` items.
    /// Without a message before them they get one of their own (the numbered fallback text in
    /// CX).
    fn attach_buttons(&mut self, buttons: &[Button], fallback: String) {
        let values: Vec<String> = buttons.iter().map(|b| b.value.clone()).collect();
        let page_free = matches!(self.page.last(),
            Some(OutgoingActivity::Message { suggested_actions, .. }) if suggested_actions.is_empty());
        let mirror_free = matches!(self.lane().last(),
            Some(MirrorItem::Outgoing { buttons, .. }) if buttons.is_empty());
        if page_free && mirror_free {
            if let Some(OutgoingActivity::Message { suggested_actions, .. }) = self.page.last_mut()
            {
                *suggested_actions = values;
            }
            if let Some(MirrorItem::Outgoing { buttons: slot, .. }) = self.lane().last_mut() {
                *slot = buttons.to_vec();
            }
            return;
        }
        self.lane().push(MirrorItem::Outgoing { text: fallback, buttons: buttons.to_vec() });
        self.page.push(OutgoingActivity::Message {
            from: self.bot.clone(),
            text: String::new(),
            suggested_actions: values,
        });
    }
}

/// Whether CX would see the same contact: name, email and phone.
fn same_details(a: &Contact, b: &Contact) -> bool {
    a.name == b.name && a.email == b.email && a.phone == b.phone
}
