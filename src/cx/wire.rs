//! Request and response shapes of the CX calls, and the tolerant readers for answers whose shape
//! is not published: a bare object or a `{"payload": …}` wrapper, ids as numbers or numeric
//! strings, unknown fields ignored (G, following Chatwoot's shapes, C).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::ids::{
    id_from_value, AgentBotId, ContactId, ConversationId, InboxId, MessageId, WebhookId,
};

/// The events a webhook subscribes to when none are named: the two \[S\] lists.
pub(crate) const DEFAULT_WEBHOOK_EVENTS: &[&str] = &["conversation_created", "message_created"];

/// An inbox (channel) \[S: `GET inboxes/`; fields C\].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbox {
    pub id: InboxId,
    #[serde(default)]
    pub name: String,
    /// `Channel::Api`, `Channel::WebWidget`, … \[C\]; Flow A needs an API inbox.
    #[serde(default)]
    pub channel_type: Option<String>,
}

/// A webhook subscription as CX reports it back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// Absent when CX answers without an id (the answer is not published).
    pub id: Option<WebhookId>,
    pub url: String,
    pub subscriptions: Vec<String>,
}

/// A new customer record \[S: `POST contacts/`, body partly C\].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewContact {
    pub name: Option<String>,
    pub email: Option<String>,
    /// E.164 (`+15551234567`) \[C\].
    pub phone: Option<String>,
}

/// The contact CX created and the contact-inbox `source_id` a conversation needs \[C\].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedContact {
    pub id: ContactId,
    pub source_id: Option<String>,
}

/// A conversation as a create call reports it \[C\].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub inbox_id: Option<InboxId>,
    pub status: Option<String>,
}

/// A message CX accepted; CX echoes it back as a `message_created` webhook with this id, which
/// is how the service recognises (and ignores) its own messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    pub id: Option<MessageId>,
}

/// An agent bot \[S: `POST agents-bot/`\].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentBot {
    pub id: AgentBotId,
    pub name: String,
    pub outgoing_url: Option<String>,
}

/// Who a message is from, as `message_type` tells CX.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageDirection {
    /// Written by the bot (or an agent): `message_type: outgoing` \[S\].
    Outgoing,
    /// Written by the customer, mirrored from the widget in Flow A: `message_type: incoming` \[S\].
    Incoming,
}

/// One button of an `input_select` message \[C\].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonItem {
    pub title: String,
    pub value: String,
}

/// A message to create in a conversation \[S: `POST messages/`\].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    pub content: String,
    pub direction: MessageDirection,
    /// An internal note only agents see \[C: `private: true`\].
    pub private: bool,
    /// Quick-reply buttons; non-empty makes it `content_type: input_select` \[C\].
    pub buttons: Vec<ButtonItem>,
    /// The message's own key, sent as `source_id` \[C: `Messages::MessageBuilder#message_params`
    /// stores it; Chatwoot keeps `(inbox_id, source_id)` unique\]: a repeat of the same call after a
    /// crash is refused instead of showing the customer the message twice, and a listing read
    /// back finds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
}

impl OutgoingMessage {
    /// Text the bot says to the customer.
    pub fn bot_text(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            direction: MessageDirection::Outgoing,
            private: false,
            buttons: Vec::new(),
            source_id: None,
        }
    }

    /// Text the customer wrote in the third-party widget, mirrored into CX (Flow A).
    pub fn customer_text(content: impl Into<String>) -> Self {
        Self { direction: MessageDirection::Incoming, ..Self::bot_text(content) }
    }

    /// A note for the human agents, invisible to the customer.
    pub fn private_note(content: impl Into<String>) -> Self {
        Self { private: true, ..Self::bot_text(content) }
    }

    /// Bot text with quick-reply buttons.
    pub fn with_buttons(content: impl Into<String>, buttons: Vec<ButtonItem>) -> Self {
        Self { buttons, ..Self::bot_text(content) }
    }

    /// The same message carrying its own key (`source_id`).
    #[must_use]
    pub fn with_source_id(self, source_id: impl Into<String>) -> Self {
        Self { source_id: Some(source_id.into()), ..self }
    }

    /// The JSON body fields of this message (without `tenant_domain` / `conversation_id`).
    pub(crate) fn body_fields(&self, body: &mut Map<String, Value>) {
        body.insert("content".into(), Value::String(self.content.clone()));
        if let Some(source_id) = &self.source_id {
            body.insert("source_id".into(), json!(source_id));
        }
        let message_type = match self.direction {
            MessageDirection::Outgoing => "outgoing",
            MessageDirection::Incoming => "incoming",
        };
        body.insert("message_type".into(), json!(message_type));
        if self.private {
            body.insert("private".into(), Value::Bool(true));
        }
        if !self.buttons.is_empty() {
            body.insert("content_type".into(), json!("input_select"));
            body.insert("content_attributes".into(), json!({ "items": self.buttons }));
        }
    }
}

/// Why a 2xx answer could not be read; becomes `CxError::Decode`.
pub(crate) type ShapeError = String;

/// Unwraps `{"payload": X}` (possibly twice, some Chatwoot answers nest it) into `X`.
pub(crate) fn unwrap_payload(value: &Value) -> &Value {
    let mut current = value;
    for _ in 0..2 {
        match current.get("payload") {
            Some(inner @ (Value::Object(_) | Value::Array(_))) => current = inner,
            _ => break,
        }
    }
    current
}

pub(crate) fn read_inboxes(value: &Value) -> Result<Vec<Inbox>, ShapeError> {
    let list = match unwrap_payload(value) {
        Value::Array(items) => items,
        Value::Object(map) => match map.get("inboxes").or_else(|| map.get("data")) {
            Some(Value::Array(items)) => items,
            _ => return Err("expected a list of inboxes".to_owned()),
        },
        _ => return Err("expected a list of inboxes".to_owned()),
    };
    list.iter()
        .enumerate()
        .map(|(index, item)| {
            let id = required_id(item, "id").map_err(|e| format!("inbox #{index}: {e}"))?;
            Ok(Inbox {
                id: InboxId(id),
                name: string_field(item, "name").unwrap_or_default(),
                channel_type: string_field(item, "channel_type"),
            })
        })
        .collect()
}

pub(crate) fn read_webhook(
    value: &Value,
    url: &str,
    events: &[String],
) -> Result<Webhook, ShapeError> {
    let object = unwrap_payload(value);
    let object = object.get("webhook").unwrap_or(object);
    if !object.is_object() && !object.is_null() {
        return Err("expected a webhook object".to_owned());
    }
    let subscriptions = match object.get("subscriptions") {
        Some(Value::Array(items)) => {
            items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
        }
        _ => events.to_vec(),
    };
    Ok(Webhook {
        id: object.get("id").and_then(id_from_value).map(WebhookId),
        url: string_field(object, "url").unwrap_or_else(|| url.to_owned()),
        subscriptions,
    })
}

pub(crate) fn read_contact(value: &Value) -> Result<CreatedContact, ShapeError> {
    let object = unwrap_payload(value);
    let contact = object.get("contact").unwrap_or(object);
    let id = required_id(contact, "id").map_err(|e| format!("contact: {e}"))?;
    let source_id = object
        .get("contact_inbox")
        .and_then(|ci| string_or_number(ci, "source_id"))
        .or_else(|| string_or_number(contact, "source_id"))
        .or_else(|| {
            // Chatwoot lists every inbox of the contact; any `source_id` identifies it.
            contact
                .get("contact_inboxes")?
                .as_array()?
                .iter()
                .find_map(|ci| string_or_number(ci, "source_id"))
        });
    Ok(CreatedContact { id: ContactId(id), source_id })
}

pub(crate) fn read_conversation(value: &Value) -> Result<Conversation, ShapeError> {
    let object = unwrap_payload(value);
    let object = object.get("conversation").filter(|c| c.is_object()).unwrap_or(object);
    let id = required_id(object, "id").map_err(|e| format!("conversation: {e}"))?;
    Ok(Conversation {
        id: ConversationId(id),
        inbox_id: object.get("inbox_id").and_then(id_from_value).map(InboxId),
        status: string_field(object, "status"),
    })
}

pub(crate) fn read_message(value: &Value) -> SentMessage {
    let object = unwrap_payload(value);
    let object = object.get("message").filter(|m| m.is_object()).unwrap_or(object);
    SentMessage { id: object.get("id").and_then(id_from_value).map(MessageId) }
}

pub(crate) fn read_agent_bot(
    value: &Value,
    name: &str,
    outgoing_url: &str,
) -> Result<AgentBot, ShapeError> {
    let object = unwrap_payload(value);
    let object = object.get("agent_bot").filter(|b| b.is_object()).unwrap_or(object);
    let id = required_id(object, "id").map_err(|e| format!("agent bot: {e}"))?;
    Ok(AgentBot {
        id: AgentBotId(id),
        name: string_field(object, "name").unwrap_or_else(|| name.to_owned()),
        outgoing_url: string_field(object, "outgoing_url")
            .or_else(|| Some(outgoing_url.to_owned())),
    })
}

fn required_id(object: &Value, key: &str) -> Result<u64, ShapeError> {
    match object.get(key) {
        None | Some(Value::Null) => Err(format!("field `{key}` is missing")),
        Some(value) => id_from_value(value).ok_or_else(|| {
            format!("field `{key}` should be a numeric id, found {}", short_json(value))
        }),
    }
}

fn string_field(object: &Value, key: &str) -> Option<String> {
    object.get(key)?.as_str().map(str::to_owned)
}

fn string_or_number(object: &Value, key: &str) -> Option<String> {
    match object.get(key)? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A JSON value shortened for an error message.
pub(crate) fn short_json(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        let cut: String = text.chars().take(39).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inboxes_bare_or_wrapped_with_string_ids() {
        let wrapped = json!({"payload": [{"id": "3", "name": "Web", "channel_type": "Channel::Api", "extra": 1}]});
        let bare = json!([{"id": 3, "name": "Web", "channel_type": "Channel::Api"}]);
        assert_eq!(read_inboxes(&wrapped).unwrap(), read_inboxes(&bare).unwrap());
        let error = read_inboxes(&json!({"payload": [{"name": "x"}]})).unwrap_err();
        assert_eq!(error, "inbox #0: field `id` is missing");
        assert!(read_inboxes(&json!("nope")).is_err());
    }

    #[test]
    fn contact_chatwoot_shape_and_bare_shape() {
        let chatwoot =
            json!({"payload": {"contact": {"id": 7}, "contact_inbox": {"source_id": "abc"}}});
        assert_eq!(
            read_contact(&chatwoot).unwrap(),
            CreatedContact { id: ContactId(7), source_id: Some("abc".into()) }
        );
        let bare = json!({"id": "7"});
        assert_eq!(
            read_contact(&bare).unwrap(),
            CreatedContact { id: ContactId(7), source_id: None }
        );
        let error = read_contact(&json!({"id": true})).unwrap_err();
        assert_eq!(error, "contact: field `id` should be a numeric id, found true");
    }

    #[test]
    fn conversation_and_message_tolerate_wrappers() {
        let conversation = read_conversation(
            &json!({"payload": {"id": 12, "inbox_id": "3", "status": "pending"}}),
        )
        .unwrap();
        assert_eq!(conversation.id, ConversationId(12));
        assert_eq!(conversation.inbox_id, Some(InboxId(3)));
        assert_eq!(read_message(&json!({"id": 99})).id, Some(MessageId(99)));
        assert_eq!(read_message(&json!({"ok": true})).id, None);
    }

    #[test]
    fn message_bodies_follow_the_published_fields() {
        let mut body = Map::new();
        OutgoingMessage::with_buttons(
            "Pick one",
            vec![ButtonItem { title: "Yes".into(), value: "yes".into() }],
        )
        .body_fields(&mut body);
        assert_eq!(
            Value::Object(body),
            json!({"content": "Pick one", "message_type": "outgoing", "content_type": "input_select",
                   "content_attributes": {"items": [{"title": "Yes", "value": "yes"}]}})
        );
        let mut body = Map::new();
        OutgoingMessage::private_note("vip").body_fields(&mut body);
        assert_eq!(
            Value::Object(body),
            json!({"content": "vip", "message_type": "outgoing", "private": true})
        );
        let mut body = Map::new();
        OutgoingMessage::customer_text("hi").body_fields(&mut body);
        assert_eq!(Value::Object(body), json!({"content": "hi", "message_type": "incoming"}));
    }
}
