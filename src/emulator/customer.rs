//! What a customer and a human agent do, as [`Emulator`] methods (the control API and the
//! console pages call the same ones). On CX's own web widget (Chatwoot's widget):
//!
//! - opening the widget creates the visitor (contact and contact-inbox) and fires
//!   `webwidget_triggered` — on **every** open, with `current_conversation` null until the
//!   visitor has a conversation (`Api::V1::Widget::EventsController`, `ContactInbox#webhook_data`);
//! - clicking an `input_select` option does not write a message: it updates the bot's own
//!   message with `content_attributes.submitted_values` (`Api::V1::Widget::MessagesController#update`),
//!   which CX announces as `message_updated`;
//! - a photo without text is a message with `content: null` and `attachments`.

use serde_json::{json, Map, Value};

use super::handle::Emulator;
use super::model::{
    Contact, Conversation, Message, MessageType, NewAttachment, NewMessage, Refusal, Sender,
    SenderKind, World, WIDGET_INBOX_ID,
};
use super::payloads::agent_id;

/// The contact of a conversation as a message sender.
fn customer_of(world: &World, conversation_id: u64) -> Result<Sender, Refusal> {
    let conversation = world.conversation(conversation_id)?;
    let contact = world.contact(conversation.contact_id)?;
    Ok(Sender { kind: SenderKind::Contact, id: contact.id, name: contact.name.clone() })
}

impl Emulator {
    /// A new visitor opens the widget of `inbox_id` and has not written yet: a contact and its
    /// contact-inbox exist, `webwidget_triggered` goes out (in the web widget inbox) with
    /// `current_conversation: null`, and there is no conversation.
    pub fn visitor_opens(&self, inbox_id: u64, name: &str) -> Result<Contact, Refusal> {
        self.change(|world| {
            let contact = world.create_contact(inbox_id, name.to_owned(), None, None)?;
            let notifications = if inbox_id == WIDGET_INBOX_ID {
                world.widget_triggered(contact.id)?
            } else {
                Vec::new()
            };
            Ok((contact, notifications))
        })
    }

    /// A visitor with a fresh conversation opens the widget: contact, contact-inbox and
    /// conversation (`conversation_created`; `pending` when the inbox has an agent bot, `open`
    /// otherwise), then `webwidget_triggered` naming that conversation as
    /// `current_conversation`. For a new visitor without a conversation, see
    /// [`Emulator::visitor_opens`].
    pub fn customer_start(&self, inbox_id: u64, name: &str) -> Result<Conversation, Refusal> {
        self.change(|world| {
            let contact = world.create_contact(inbox_id, name.to_owned(), None, None)?;
            let (conversation, mut notifications) =
                world.create_conversation(inbox_id, contact.id, None, None)?;
            if inbox_id == WIDGET_INBOX_ID {
                notifications.extend(world.widget_triggered(contact.id)?);
            }
            Ok((conversation, notifications))
        })
    }

    /// The visitor of `conversation_id` opens the widget again: `webwidget_triggered` whose
    /// `current_conversation` is their newest conversation, whatever its status.
    pub fn visitor_returns(&self, conversation_id: u64) -> Result<Conversation, Refusal> {
        self.change(|world| {
            let conversation = world.conversation(conversation_id)?.clone();
            Ok((conversation.clone(), world.widget_triggered(conversation.contact_id)?))
        })
    }

    /// The customer of a conversation writes (an incoming message from the contact).
    pub fn customer_says(&self, conversation_id: u64, content: &str) -> Result<Message, Refusal> {
        self.change(|world| {
            let sender = customer_of(world, conversation_id)?;
            let message = NewMessage::text(content, MessageType::Incoming, sender);
            world.create_message(conversation_id, message)
        })
    }

    /// The first message of a visitor who has no conversation yet: the widget creates the
    /// conversation with it (`Api::V1::Widget::MessagesController#create`).
    pub fn visitor_writes(&self, contact_id: u64, content: &str) -> Result<Message, Refusal> {
        let conversation = self.visitor_starts(contact_id)?;
        self.customer_says(conversation.id, content)
    }

    /// A visitor who has the widget open starts a conversation without writing yet.
    pub fn visitor_starts(&self, contact_id: u64) -> Result<Conversation, Refusal> {
        let inbox_id = self.read(|world| world.contact(contact_id).map(|c| c.inbox_id))?;
        self.change(|world| world.create_conversation(inbox_id, contact_id, None, None))
    }

    /// The customer sends a file without text: `content: null`, one attachment.
    pub fn customer_sends_attachment(
        &self,
        conversation_id: u64,
        file_type: &str,
        data_url: &str,
    ) -> Result<Message, Refusal> {
        self.change(|world| {
            let sender = customer_of(world, conversation_id)?;
            let mut message = NewMessage::text("", MessageType::Incoming, sender);
            message.attachments = vec![NewAttachment {
                file_type: file_type.to_owned(),
                data_url: data_url.to_owned(),
            }];
            world.create_message(conversation_id, message)
        })
    }

    /// The customer clicks the option titled `title` of the latest public `input_select`
    /// message: that message gets `content_attributes.submitted_values: [item]` and CX sends
    /// `message_updated` for it. No new message is written.
    pub fn customer_selects(&self, conversation_id: u64, title: &str) -> Result<Message, Refusal> {
        self.change(|world| {
            world.conversation(conversation_id)?;
            let offer = world
                .messages_of(conversation_id)
                .iter()
                .rev()
                .find(|message| message.content_type == "input_select" && !message.private)
                .ok_or_else(|| {
                    Refusal::Invalid(format!(
                        "conversation {conversation_id} has no input_select message to answer"
                    ))
                })?;
            let item = offer
                .content_attributes
                .get("items")
                .and_then(Value::as_array)
                .and_then(|items| {
                    items
                        .iter()
                        .find(|item| item.get("title").and_then(Value::as_str) == Some(title))
                })
                .cloned()
                .ok_or_else(|| {
                    Refusal::Invalid(format!("the latest input_select offers no item `{title}`"))
                })?;
            let offer_id = offer.id;
            let mut attributes = Map::new();
            attributes.insert("submitted_values".into(), json!([item]));
            world.update_message(conversation_id, offer_id, &attributes)
        })
    }

    /// A named human agent replies (outgoing, sender type `user`), or adds a private note.
    pub fn agent_reply(
        &self,
        conversation_id: u64,
        agent: &str,
        content: &str,
        private: bool,
    ) -> Result<Message, Refusal> {
        if agent.trim().is_empty() {
            return Err(Refusal::Invalid("agent name must not be empty".into()));
        }
        self.change(|world| {
            let sender =
                Sender { kind: SenderKind::User, id: agent_id(agent), name: agent.to_owned() };
            let mut message = NewMessage::text(content, MessageType::Outgoing, sender);
            message.private = private;
            world.create_message(conversation_id, message)
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Emulator, MessageType, NewMessage, Refusal, Sender, SenderKind};
    use crate::emulator::model::WIDGET_INBOX_ID;
    use crate::emulator::EmulatorOptions;

    /// A conversation in which the bot has offered two buttons; returns it and the offer's id.
    fn offered(emulator: &Emulator) -> (u64, u64) {
        let conversation = emulator.customer_start(WIDGET_INBOX_ID, "Ada").unwrap().id;
        let offer = emulator
            .change(|world| {
                let sender = Sender { kind: SenderKind::AgentBot, id: 1, name: "bot".into() };
                let mut message = NewMessage::text("Pick one", MessageType::Outgoing, sender);
                message.content_type = "input_select".into();
                message.content_attributes = json!({"items": [
                    {"title": "Yes", "value": "yes"},
                    {"title": "No", "value": "no"},
                ]});
                world.create_message(conversation, message)
            })
            .unwrap();
        (conversation, offer.id)
    }

    #[tokio::test]
    async fn a_picked_button_updates_the_offer_with_its_submitted_value() {
        let emulator = Emulator::new(EmulatorOptions::default());
        let (conversation, offer) = offered(&emulator);
        let updated = emulator.customer_selects(conversation, "No").unwrap();
        assert_eq!(updated.id, offer, "the bot's own message is updated");
        assert_eq!(updated.message_type, MessageType::Outgoing);
        assert_eq!(updated.sender.kind, SenderKind::AgentBot);
        assert_eq!(
            updated.content_attributes["submitted_values"],
            json!([{"title": "No", "value": "no"}])
        );
        let messages = emulator.messages(conversation).unwrap();
        assert_eq!(messages.len(), 1, "no incoming message is written: {messages:?}");
    }

    #[tokio::test]
    async fn picking_a_button_that_is_not_offered_is_refused() {
        let emulator = Emulator::new(EmulatorOptions::default());
        let (conversation, _) = offered(&emulator);
        let refusal = emulator.customer_selects(conversation, "Maybe").unwrap_err();
        assert!(matches!(refusal, Refusal::Invalid(_)), "{refusal:?}");
        let bare = emulator.customer_start(WIDGET_INBOX_ID, "Bo").unwrap().id;
        assert!(matches!(emulator.customer_selects(bare, "Yes"), Err(Refusal::Invalid(_))));
    }
}
