//! JSON shapes the emulator hands out: API responses and webhook event bodies, Chatwoot-like.
//! Top-level message fields carry `message_type` as a string and `created_at` as ISO 8601;
//! inside `conversation.messages[]` they are an integer and Unix seconds, as CX does.

use serde_json::{json, Value};

use super::model::{Contact, Conversation, Inbox, Message, World};

/// The tenant's account object, as events carry it.
fn account() -> Value {
    json!({"id": 1, "name": "Emulated tenant"})
}

pub fn inbox(inbox: &Inbox) -> Value {
    json!({
        "id": inbox.id,
        "name": inbox.name,
        "channel_type": inbox.channel_type,
        "agent_bot_id": inbox.agent_bot_id,
    })
}

pub fn contact(contact: &Contact) -> Value {
    json!({
        "id": contact.id,
        "name": contact.name,
        "email": contact.email,
        "phone_number": contact.phone_number,
        "type": "contact",
        "created_at": contact.created_at.timestamp(),
    })
}

/// `POST contacts/` answer.
pub fn contact_created(contact: &Contact) -> Value {
    json!({"payload": {
        "contact": contact_json_with_inboxes(contact),
        "contact_inbox": {"source_id": contact.source_id, "inbox_id": contact.inbox_id},
    }})
}

fn contact_json_with_inboxes(contact: &Contact) -> Value {
    let mut value = self::contact(contact);
    value["contact_inboxes"] =
        json!([{"source_id": contact.source_id, "inbox_id": contact.inbox_id}]);
    value
}

/// A message as it appears inside `conversation.messages[]`.
fn message_in_conversation(message: &Message) -> Value {
    json!({
        "id": message.id,
        "content": message.content,
        "content_type": message.content_type,
        "content_attributes": message.content_attributes,
        "message_type": message.message_type as u8,
        "private": message.private,
        "created_at": message.created_at.timestamp(),
        "conversation_id": message.conversation_id,
        "sender_type": sender_type_label(message),
        "sender_id": message.sender.id,
    })
}

fn sender_type_label(message: &Message) -> &'static str {
    match message.sender.kind {
        super::model::SenderKind::Contact => "Contact",
        super::model::SenderKind::User => "User",
        super::model::SenderKind::AgentBot => "AgentBot",
    }
}

/// The conversation object of events and of `POST conversations/`. Like Chatwoot's push data,
/// `messages` holds the latest message only, so event size does not grow with the transcript.
pub fn conversation(world: &World, conversation: &Conversation) -> Value {
    let sender = world.contacts.get(&conversation.contact_id).map(contact);
    let last = world.messages_of(conversation.id).last().map(message_in_conversation);
    let assignee = conversation.assignee.as_ref().map(|name| json!({"name": name, "type": "user"}));
    json!({
        "id": conversation.id,
        "inbox_id": conversation.inbox_id,
        "contact_id": conversation.contact_id,
        "status": conversation.status.as_str(),
        "source_id": conversation.source_id,
        "meta": {"sender": sender, "assignee": assignee},
        "custom_attributes": {},
        "labels": [],
        "messages": last.into_iter().collect::<Vec<_>>(),
        "created_at": conversation.created_at.timestamp(),
        "timestamp": conversation.updated_at.timestamp(),
        "contact_inbox": {"source_id": conversation.source_id},
    })
}

/// A message as the API answers it and as `message_created` carries it (plus event fields).
pub fn message(world: &World, message: &Message, conversation: &Conversation) -> Value {
    let inbox = world
        .inboxes
        .get(&conversation.inbox_id)
        .map(|inbox| json!({"id": inbox.id, "name": inbox.name}));
    json!({
        "id": message.id,
        "content": message.content,
        "content_type": message.content_type,
        "content_attributes": message.content_attributes,
        "message_type": message.message_type.as_str(),
        "private": message.private,
        "created_at": message.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "conversation_id": conversation.id,
        "inbox_id": conversation.inbox_id,
        "sender": message.sender,
        "inbox": inbox,
        "account": account(),
        "attachments": [],
        "source_id": Value::Null,
    })
}

pub fn message_event(
    world: &World,
    message: &Message,
    conversation: &Conversation,
    event: &str,
) -> Value {
    let mut body = self::message(world, message, conversation);
    body["event"] = json!(event);
    body["conversation"] = self::conversation(world, conversation);
    body
}

pub fn conversation_event(world: &World, conversation: &Conversation, event: &str) -> Value {
    let mut body = self::conversation(world, conversation);
    body["event"] = json!(event);
    body["account"] = account();
    if let Some(inbox) = world.inboxes.get(&conversation.inbox_id) {
        body["inbox"] = json!({"id": inbox.id, "name": inbox.name});
    }
    body
}

pub fn widget_triggered_event(world: &World, conversation: &Conversation) -> Value {
    let contact = world.contacts.get(&conversation.contact_id).map(contact);
    let inbox = world
        .inboxes
        .get(&conversation.inbox_id)
        .map(|inbox| json!({"id": inbox.id, "name": inbox.name}));
    json!({
        "event": "webwidget_triggered",
        "id": conversation.id,
        "contact": contact,
        "inbox": inbox,
        "account": account(),
        "current_conversation": self::conversation(world, conversation),
        "source_id": conversation.source_id,
        "event_info": {"initiated_at": {"timestamp": conversation.created_at.to_rfc3339()}},
    })
}
