//! Flow A, first part: runs a bot for Web Chat conversations. Customer activities from the widget
//! go through the engine and its actions come back as widget pushes (text, suggested actions,
//! the `botrun.handoff` event, `endOfConversation`); timers fire on the runtime's clock.
//! Not yet here: mirroring into Sangoma CX and relaying agent replies (needs the CX client and
//! the outbox wiring); engine state is kept in memory, the widget history in the widget store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use futures_util::future::BoxFuture;

use crate::engine::{step, Action, Contact, Event, FetchResult, Mode, Program, State};
use crate::widget::{
    CustomerActivity, OutgoingActivity, Sender, WidgetHost, WidgetService, WidgetUser,
};

/// The engine behind the widget, one state per widget conversation.
pub struct WidgetBotHost {
    program: Arc<Program>,
    conversations: Mutex<HashMap<String, Session>>,
}

#[derive(Clone)]
struct Session {
    state: State,
    /// Values of the buttons last offered: a click arrives as a message with that text.
    buttons: Vec<String>,
}

impl WidgetBotHost {
    pub fn new(program: Arc<Program>) -> Self {
        Self { program, conversations: Mutex::default() }
    }

    fn sender(&self) -> Sender {
        Sender::bot(self.program.bot_name())
    }

    fn session(&self, conversation: &str) -> Session {
        let guard = match self.conversations.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard.get(conversation).cloned().unwrap_or_else(|| Session {
            state: State::new(seed_for(conversation)),
            buttons: Vec::new(),
        })
    }

    fn save(&self, conversation: &str, session: Session) {
        let mut guard = match self.conversations.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard.insert(conversation.to_owned(), session);
    }

    /// Runs one event (and the fetch answers it triggers) and pushes the replies in order.
    fn run<'a>(
        self: &'a Arc<Self>,
        widget: &'a WidgetService,
        conversation: &'a str,
        event: Event,
    ) -> BoxFuture<'a, ()> {
        // Boxed with an explicit `Send`: timers call back into `run`, which an `async fn`
        // cannot express.
        Box::pin(async move {
            let mut session = self.session(conversation);
            let mut pending = vec![event];
            let mut outgoing: Vec<OutgoingActivity> = Vec::new();
            while let Some(event) = pending.pop() {
                let (state, actions) = step(&self.program, &session.state, event, Utc::now());
                session.state = state;
                for action in actions {
                    match action {
                        Action::SendText { text } => outgoing.push(OutgoingActivity::Message {
                            from: self.sender(),
                            text,
                            suggested_actions: Vec::new(),
                        }),
                        Action::SendButtons { buttons, .. } => {
                            session.buttons = buttons.iter().map(|b| b.value.clone()).collect();
                            attach_buttons(&mut outgoing, &self.sender(), &buttons);
                        }
                        Action::Handoff { note } => outgoing.push(OutgoingActivity::Event {
                            from: self.sender(),
                            name: "botrun.handoff".into(),
                            value: serde_json::json!({ "note": note }),
                        }),
                        Action::Resolve => outgoing
                            .push(OutgoingActivity::EndOfConversation { from: self.sender() }),
                        Action::ScheduleTimer { id, due } => {
                            let host = Arc::clone(self);
                            let widget = widget.clone();
                            let conversation = conversation.to_owned();
                            let wait = (due - Utc::now()).to_std().unwrap_or_default();
                            tokio::spawn(async move {
                                tokio::time::sleep(wait).await;
                                host.run(&widget, &conversation, Event::TimerDue { timer: id })
                                    .await;
                            });
                        }
                        // A stale timer is ignored by the engine when it fires.
                        Action::CancelTimer { .. } => {}
                        Action::Fetch(request) => pending.push(Event::FetchDone {
                            fetch: request.id,
                            result: FetchResult::Failed {
                                reason: "fetch is not wired to the widget host yet".into(),
                            },
                        }),
                    }
                }
            }
            self.save(conversation, session);
            for activity in outgoing {
                if let Err(err) = widget.push(conversation, activity).await {
                    tracing::error!(error = %err, "widget push failed");
                }
            }
        })
    }
}

/// Buttons ride on the message before them, as Web Chat shows suggested actions under the last
/// activity; without one they get a message of their own.
fn attach_buttons(
    outgoing: &mut Vec<OutgoingActivity>,
    sender: &Sender,
    buttons: &[crate::engine::Button],
) {
    let labels: Vec<String> = buttons.iter().map(|b| b.value.clone()).collect();
    if let Some(OutgoingActivity::Message { suggested_actions, .. }) = outgoing.last_mut() {
        if suggested_actions.is_empty() {
            *suggested_actions = labels;
            return;
        }
    }
    outgoing.push(OutgoingActivity::Message {
        from: sender.clone(),
        text: String::new(),
        suggested_actions: labels,
    });
}

fn seed_for(conversation: &str) -> u64 {
    conversation.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The widget calls the host through `Arc<dyn WidgetHost>`; this wrapper keeps an `Arc` of the
/// bot host so timers can call back into it.
pub struct SharedWidgetBotHost(pub Arc<WidgetBotHost>);

impl WidgetHost for SharedWidgetBotHost {
    fn conversation_started<'a>(
        &'a self,
        widget: &'a WidgetService,
        conversation: &'a str,
        user: &'a WidgetUser,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let contact = Contact { name: user.name.clone(), ..Contact::default() };
            self.0.run(widget, conversation, Event::Started { contact }).await;
        })
    }

    fn customer_activity<'a>(
        &'a self,
        widget: &'a WidgetService,
        conversation: &'a str,
        activity: CustomerActivity,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(text) = activity.text.filter(|t| !t.trim().is_empty()) else {
                return;
            };
            let session = self.0.session(conversation);
            if session.state.mode() == Mode::WithHuman {
                // After a handoff the customer talks to a person; the bot stays silent.
                return;
            }
            let event = if session.buttons.contains(&text) {
                Event::Button { value: text }
            } else {
                Event::Text { text }
            };
            self.0.run(widget, conversation, event).await;
        })
    }
}
