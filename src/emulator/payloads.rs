//! JSON shapes the emulator hands out, built as Chatwoot builds them. Webhook bodies:
//! `Message#webhook_data` (string `message_type`, ISO `created_at`, `sender` from the author's
//! `webhook_data`, no top-level `conversation_id`), the conversation object of
//! `Conversations::EventDataPresenter#push_data` (`messages` holds the latest public message as
//! `Message#push_event_data`: integer `message_type`, Unix `created_at`), and
//! `ContactInbox#webhook_data` for `webwidget_triggered`. API answers follow the
//! `api/v1/models/_message.json.jbuilder` partial.

use serde_json::{json, Value};

use super::model::{Contact, Conversation, Inbox, Message, Sender, SenderKind, World};

/// The tenant's account object (`Account#webhook_data`).
fn account() -> Value {
    json!({"id": 1, "name": "Emulated tenant"})
}

/// `Inbox#webhook_data`.
fn inbox_ref(world: &World, inbox_id: u64) -> Value {
    world
        .inboxes
        .get(&inbox_id)
        .map_or(Value::Null, |inbox| json!({"id": inbox.id, "name": inbox.name}))
}

/// An inbox as `GET inboxes/` lists it.
pub fn inbox(inbox: &Inbox) -> Value {
    json!({
        "id": inbox.id,
        "name": inbox.name,
        "channel_type": inbox.channel_type,
        "agent_bot_id": inbox.agent_bot_id,
    })
}

/// `Contact#push_event_data`: the conversation's `meta.sender`, with `type: "contact"`.
pub fn contact(contact: &Contact) -> Value {
    json!({
        "additional_attributes": {},
        "custom_attributes": {},
        "email": contact.email,
        "id": contact.id,
        "identifier": null,
        "name": contact.name,
        "phone_number": contact.phone_number,
        "thumbnail": "",
        "blocked": false,
        "type": "contact",
    })
}

/// `Contact#webhook_data`: a contact as a message's `sender` and in `webwidget_triggered`.
/// Chatwoot puts no `type` here — a sender without one is the customer.
fn contact_webhook(contact: &Contact) -> Value {
    json!({
        "account": account(),
        "additional_attributes": {},
        "avatar": "",
        "custom_attributes": {},
        "email": contact.email,
        "id": contact.id,
        "identifier": null,
        "name": contact.name,
        "phone_number": contact.phone_number,
        "thumbnail": "",
        "blocked": false,
    })
}

/// A sender as `webhook_data` shapes it (`User`: id, name, email, type; `AgentBot`: id, name,
/// type; `Contact`: no type).
fn sender_webhook(world: &World, sender: &Sender) -> Value {
    match sender.kind {
        SenderKind::Contact => world.contacts.get(&sender.id).map_or(Value::Null, contact_webhook),
        SenderKind::User => json!({
            "id": sender.id, "name": sender.name,
            "email": format!("agent{}@dev.cx.localhost", sender.id), "type": "user",
        }),
        SenderKind::AgentBot => json!({"id": sender.id, "name": sender.name, "type": "agent_bot"}),
    }
}

/// A sender as `push_event_data` shapes it: every kind carries `type`.
fn sender_push(world: &World, sender: &Sender) -> Value {
    match sender.kind {
        SenderKind::Contact => world.contacts.get(&sender.id).map_or(Value::Null, contact),
        SenderKind::User => json!({
            "id": sender.id, "name": sender.name, "available_name": sender.name,
            "avatar_url": "", "type": "user", "availability_status": "online", "thumbnail": "",
        }),
        SenderKind::AgentBot => {
            json!({"id": sender.id, "name": sender.name, "avatar_url": "", "type": "agent_bot"})
        }
    }
}

fn sender_type_label(message: &Message) -> &'static str {
    match message.sender.kind {
        SenderKind::Contact => "Contact",
        SenderKind::User => "User",
        SenderKind::AgentBot => "AgentBot",
    }
}

/// `content`, or null for an attachment-only message.
fn content(message: &Message) -> Value {
    if message.content.is_empty() && !message.attachments.is_empty() {
        Value::Null
    } else {
        json!(message.content)
    }
}

/// `Attachment#push_event_data` of each file.
fn attachments(message: &Message) -> Vec<Value> {
    message
        .attachments
        .iter()
        .map(|file| {
            json!({
                "id": file.id, "message_id": message.id, "file_type": file.file_type,
                "account_id": 1, "extension": null, "data_url": file.data_url,
                "thumb_url": "", "file_size": 1024, "width": null, "height": null,
            })
        })
        .collect()
}

/// `Message#push_event_data`: a message inside `conversation.messages[]`.
fn message_push(world: &World, message: &Message, conversation: &Conversation) -> Value {
    let mut value = json!({
        "id": message.id,
        "content": content(message),
        "account_id": 1,
        "inbox_id": conversation.inbox_id,
        "conversation_id": conversation.id,
        "message_type": message.message_type as u8,
        "created_at": message.created_at.timestamp(),
        "updated_at": message.created_at,
        "private": message.private,
        "status": "sent",
        "source_id": message.source_id,
        "content_type": message.content_type,
        "content_attributes": message.content_attributes,
        "sender_type": sender_type_label(message),
        "sender_id": message.sender.id,
        "external_source_ids": {},
        "additional_attributes": {},
        "conversation": {
            "assignee_id": null,
            "unread_count": 0,
            "last_activity_at": conversation.updated_at.timestamp(),
            "contact_inbox": {"source_id": conversation.source_id},
        },
        "sender": sender_push(world, &message.sender),
    });
    if !message.attachments.is_empty() {
        value["attachments"] = json!(attachments(message));
    }
    value
}

/// `Conversations::EventDataPresenter#push_data`. `id` is the conversation's display id;
/// `messages` holds the latest message that is neither private nor an activity.
pub fn conversation(world: &World, conversation: &Conversation) -> Value {
    let contact = world.contacts.get(&conversation.contact_id);
    let last = world
        .messages_of(conversation.id)
        .iter()
        .rev()
        .find(|m| !m.private && m.message_type != super::model::MessageType::Activity)
        .map(|m| message_push(world, m, conversation));
    let assignee = conversation.assignee.as_ref().map(
        |name| json!({"id": agent_id(name), "name": name, "available_name": name, "type": "user"}),
    );
    let channel = world.inboxes.get(&conversation.inbox_id).map(|inbox| inbox.channel_type.clone());
    let timestamps = conversation.updated_at.timestamp();
    // Chatwoot sends `updated_at` as float seconds.
    let updated = format!("{timestamps}.{:03}", conversation.updated_at.timestamp_subsec_millis());
    let updated: f64 = updated.parse().unwrap_or_default();
    json!({
        "additional_attributes": {},
        "can_reply": true,
        "campaign": null,
        "channel": channel,
        "contact_inbox": contact.map(|c| json!({
            "id": c.contact_inbox_id, "contact_id": c.id, "inbox_id": c.inbox_id,
            "source_id": c.source_id, "hmac_verified": false,
        })),
        "id": conversation.id,
        "inbox_id": conversation.inbox_id,
        "messages": last.into_iter().collect::<Vec<_>>(),
        "labels": [],
        "meta": {
            "sender": contact.map(self::contact),
            "assignee": assignee,
            "assignee_type": conversation.assignee.as_ref().map(|_| "User"),
            "team": null,
            "hmac_verified": false,
        },
        "status": conversation.status.as_str(),
        "custom_attributes": {},
        "snoozed_until": null,
        "unread_count": 0,
        "first_reply_created_at": null,
        "priority": null,
        "waiting_since": 0,
        "agent_last_seen_at": 0,
        "assignee_last_seen_at": 0,
        "contact_last_seen_at": 0,
        "last_activity_at": timestamps,
        "timestamp": timestamps,
        "created_at": conversation.created_at.timestamp(),
        "updated_at": updated,
    })
}

/// The id a named human agent gets (the same name is the same user everywhere).
pub(crate) fn agent_id(name: &str) -> u64 {
    name.bytes()
        .fold(1_000_000_u64, |hash, byte| hash.wrapping_mul(31).wrapping_add(u64::from(byte)))
        % 1_000_000
        + 1
}

/// A message as the API answers it (`api/v1/models/_message.json.jbuilder`).
pub fn message(world: &World, message: &Message, conversation: &Conversation) -> Value {
    let mut value = json!({
        "id": message.id,
        "content": content(message),
        "inbox_id": conversation.inbox_id,
        "conversation_id": conversation.id,
        "message_type": message.message_type as u8,
        "content_type": message.content_type,
        "status": "sent",
        "additional_attributes": {},
        "content_attributes": message.content_attributes,
        "created_at": message.created_at.timestamp(),
        "private": message.private,
        "source_id": message.source_id,
        "sender": sender_push(world, &message.sender),
    });
    if !message.attachments.is_empty() {
        value["attachments"] = json!(attachments(message));
    }
    value
}

/// `Message#webhook_data` plus `event`: the body of `message_created` / `message_updated`.
pub(crate) fn message_event(
    world: &World,
    message: &Message,
    conversation: &Conversation,
    event: &str,
) -> Value {
    let mut body = json!({
        "account": account(),
        "additional_attributes": {},
        "content_attributes": message.content_attributes,
        "content_type": message.content_type,
        "content": content(message),
        "conversation": self::conversation(world, conversation),
        "created_at": message.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "id": message.id,
        "inbox": inbox_ref(world, conversation.inbox_id),
        "message_type": message.message_type.as_str(),
        "private": message.private,
        "sender": sender_webhook(world, &message.sender),
        "source_id": message.source_id,
        "event": event,
    });
    if !message.attachments.is_empty() {
        body["attachments"] = json!(attachments(message));
    }
    body
}

/// A conversation event: the conversation object plus `event` (and `changed_attributes` for
/// `conversation_status_changed` / `conversation_updated`, `WebhookListener`).
pub(crate) fn conversation_event(
    world: &World,
    conversation: &Conversation,
    event: &str,
    changed_attributes: Option<&Value>,
) -> Value {
    let mut body = self::conversation(world, conversation);
    body["event"] = json!(event);
    if let Some(changed) = changed_attributes {
        body["changed_attributes"] = changed.clone();
    }
    body
}

/// `ContactInbox#webhook_data` plus `event` and `event_info`: top-level `id` is the
/// contact-inbox's, and `current_conversation` the contact's newest conversation in any status
/// (`ContactInbox#current_conversation`), or null for a visitor who never wrote.
pub(crate) fn widget_triggered_event(world: &World, contact: &Contact) -> Value {
    let current = world.current_conversation(contact.id).map(|c| self::conversation(world, c));
    json!({
        "id": contact.contact_inbox_id,
        "contact": contact_webhook(contact),
        "inbox": inbox_ref(world, contact.inbox_id),
        "account": account(),
        "current_conversation": current,
        "source_id": contact.source_id,
        "event": "webwidget_triggered",
        "event_info": {
            "initiated_at": {"timestamp": chrono::Utc::now().to_rfc2822()},
            "referer_url": "http://127.0.0.1/",
            "widget_language": null,
            "browser_language": "en",
            "browser": {"browser_name": "Chrome", "platform_name": "Linux"},
        },
    })
}

/// `POST contacts/` answer.
pub(crate) fn contact_created(contact: &Contact) -> Value {
    let contact_inbox = json!({
        "id": contact.contact_inbox_id, "source_id": contact.source_id, "inbox_id": contact.inbox_id,
    });
    let mut value = self::contact(contact);
    value["contact_inboxes"] = json!([contact_inbox.clone()]);
    json!({"payload": {"contact": value, "contact_inbox": contact_inbox}})
}

/// The answer to a contact update (`contacts/update.json.jbuilder`): the contact with its
/// contact inboxes under `payload`.
pub fn contact_updated(contact: &Contact) -> Value {
    json!({"payload": contact_with_inboxes(contact)})
}

/// A contact with its contact inboxes, as the update and search answers list it.
pub(crate) fn contact_with_inboxes(contact: &Contact) -> Value {
    let mut value = self::contact(contact);
    value["contact_inboxes"] = json!([{
        "id": contact.contact_inbox_id, "source_id": contact.source_id, "inbox_id": contact.inbox_id,
    }]);
    value
}

/// The messages listing (`Api::V1::Accounts::Conversations::MessagesController#index` with
/// `messages/index.json.jbuilder`): `meta` about the conversation and `payload`, the messages
/// in creation order.
pub(crate) fn message_listing(
    world: &World,
    conversation: &Conversation,
    messages: &[&Message],
) -> Value {
    let contact = world.contacts.get(&conversation.contact_id).map(self::contact);
    json!({
        "meta": {
            "labels": [],
            "additional_attributes": {},
            "contact": contact,
            "agent_last_seen_at": null,
            "assignee_last_seen_at": null,
        },
        "payload": messages.iter().map(|m| message(world, m, conversation)).collect::<Vec<_>>(),
    })
}
