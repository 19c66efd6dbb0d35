//! Webhook events CX posts to botrun \[C: Chatwoot's payloads\], decoded tolerantly: the event name
//! is the top-level `event` field, the subject's fields sit beside it, ids may be numbers or
//! numeric strings, unknown fields and unknown events are accepted. What the service cannot work
//! without (ids, `message_type`) is required, and a wrong type is a precise error.

use serde::Serialize;
use serde_json::{Map, Value};

use super::ids::{id_from_value, ConversationId, InboxId, MessageId};
use super::wire::short_json;

/// One decoded webhook delivery.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum CxEvent {
    MessageCreated(MessageEvent),
    MessageUpdated(MessageEvent),
    ConversationCreated(ConversationEvent),
    ConversationStatusChanged(ConversationEvent),
    ConversationUpdated(ConversationEvent),
    /// Agent-bot flavour: the conversation (re)opened for the bot.
    ConversationOpened(ConversationEvent),
    /// Agent-bot flavour: the conversation was resolved.
    ConversationResolved(ConversationEvent),
    /// A visitor opened CX's own web widget.
    WebwidgetTriggered(WidgetTriggered),
    /// An event botrun does not handle; the name is kept for logs and metrics.
    Unknown(String),
}

impl CxEvent {
    /// The event name as CX sent it.
    pub fn name(&self) -> &str {
        match self {
            Self::MessageCreated(_) => "message_created",
            Self::MessageUpdated(_) => "message_updated",
            Self::ConversationCreated(_) => "conversation_created",
            Self::ConversationStatusChanged(_) => "conversation_status_changed",
            Self::ConversationUpdated(_) => "conversation_updated",
            Self::ConversationOpened(_) => "conversation_opened",
            Self::ConversationResolved(_) => "conversation_resolved",
            Self::WebwidgetTriggered(_) => "webwidget_triggered",
            Self::Unknown(name) => name,
        }
    }

    /// The conversation this event is about, when it names one.
    pub fn conversation_id(&self) -> Option<ConversationId> {
        match self {
            Self::MessageCreated(message) | Self::MessageUpdated(message) => {
                Some(message.conversation_id)
            }
            Self::ConversationCreated(event)
            | Self::ConversationStatusChanged(event)
            | Self::ConversationUpdated(event)
            | Self::ConversationOpened(event)
            | Self::ConversationResolved(event) => Some(event.conversation.id),
            Self::WebwidgetTriggered(widget) => widget.conversation.as_ref().map(|c| c.id),
            Self::Unknown(_) => None,
        }
    }
}

/// `message_type`: a string in message events, an integer (0–3) inside conversation objects \[C\].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum MessageType {
    /// From the customer (0).
    Incoming,
    /// From the bot or an agent (1).
    Outgoing,
    /// A system line such as "assigned to …" (2).
    Activity,
    /// A template message (3).
    Template,
    /// A value nobody documented; kept as text.
    Other(String),
}

impl MessageType {
    fn from_value(value: &Value) -> Option<Self> {
        Some(match value {
            Value::String(text) => match text.as_str() {
                "incoming" => Self::Incoming,
                "outgoing" => Self::Outgoing,
                "activity" => Self::Activity,
                "template" => Self::Template,
                other => Self::Other(other.to_owned()),
            },
            Value::Number(number) => match number.as_u64()? {
                0 => Self::Incoming,
                1 => Self::Outgoing,
                2 => Self::Activity,
                3 => Self::Template,
                other => Self::Other(other.to_string()),
            },
            _ => return None,
        })
    }
}

/// Who a participant is, from its `type` \[C\].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ParticipantKind {
    /// The customer.
    Contact,
    /// A human agent (`user`).
    User,
    /// An agent bot (botrun itself in Flow B).
    AgentBot,
    /// No `type` given.
    Unspecified,
    Other(String),
}

/// A message sender, a conversation's contact (`meta.sender`) or its assignee.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Participant {
    pub kind: ParticipantKind,
    pub id: Option<u64>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    /// The contact's custom attributes (`plan`, …); empty for agents.
    pub custom_attributes: Map<String, Value>,
    /// `additional_attributes.browser_language`, when CX knows it.
    pub browser_language: Option<String>,
}

/// `message_created` / `message_updated`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageEvent {
    pub id: MessageId,
    /// `conversation.id`, or a top-level `conversation_id`.
    pub conversation_id: ConversationId,
    pub content: Option<String>,
    pub content_type: Option<String>,
    /// `Null` when absent (buttons: `{"items": […]}`; a pressed button may come back here).
    pub content_attributes: Value,
    pub message_type: MessageType,
    pub private: bool,
    /// As sent: an ISO date string in message events, Unix seconds elsewhere.
    pub created_at: Option<String>,
    pub sender: Option<Participant>,
    pub inbox_id: Option<InboxId>,
    pub conversation: Option<ConversationInfo>,
    pub attachments: Vec<Value>,
}

impl MessageEvent {
    /// Rule 1 of `sangoma-cx.md`: only a public incoming message is the customer talking.
    pub(crate) fn is_from_customer(&self) -> bool {
        self.message_type == MessageType::Incoming && !self.private
    }

    /// A public outgoing message written by a human agent (what Flow A relays to the widget).
    pub(crate) fn is_from_human_agent(&self) -> bool {
        self.message_type == MessageType::Outgoing
            && !self.private
            && self.sender.as_ref().is_some_and(|s| s.kind == ParticipantKind::User)
    }
}

/// `status` of a conversation \[C\].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ConversationStatus {
    /// The bot owns it.
    Pending,
    /// Humans own it.
    Open,
    Resolved,
    Snoozed,
    Other(String),
}

impl ConversationStatus {
    pub fn parse(text: &str) -> Self {
        match text {
            "pending" => Self::Pending,
            "open" => Self::Open,
            "resolved" => Self::Resolved,
            "snoozed" => Self::Snoozed,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The status as CX spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "pending",
            Self::Open => "open",
            Self::Resolved => "resolved",
            Self::Snoozed => "snoozed",
            Self::Other(other) => other,
        }
    }
}

/// The conversation object \[C\].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConversationInfo {
    pub id: ConversationId,
    pub inbox_id: Option<InboxId>,
    pub status: Option<ConversationStatus>,
    /// `meta.sender`: the customer.
    pub contact: Option<Participant>,
    /// `meta.assignee`: the human agent, if any.
    pub assignee: Option<Participant>,
    pub custom_attributes: Map<String, Value>,
    /// `additional_attributes.browser_language`: the language of the browser that opened a
    /// widget conversation.
    pub browser_language: Option<String>,
    pub labels: Vec<String>,
    pub messages: Vec<EmbeddedMessage>,
    /// When the conversation last changed, as sent (ISO text or Unix seconds). With the status it
    /// tells two status changes apart when CX sends no delivery id.
    pub updated_at: Option<String>,
}

/// A message inside a conversation object (integer `message_type`, Unix-seconds `created_at`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EmbeddedMessage {
    pub id: Option<MessageId>,
    pub content: Option<String>,
    pub message_type: Option<MessageType>,
    pub private: bool,
    pub created_at: Option<String>,
}

/// One entry of `changed_attributes`: `{"status": {"previous_value", "current_value"}}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttributeChange {
    pub attribute: String,
    pub previous_value: Value,
    pub current_value: Value,
}

/// The conversation events: the conversation's fields sit beside `event`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConversationEvent {
    pub conversation: ConversationInfo,
    pub changed_attributes: Vec<AttributeChange>,
}

impl ConversationEvent {
    /// `(previous, current)` status when `changed_attributes` reports a status change.
    pub(crate) fn status_change(&self) -> Option<(Option<ConversationStatus>, ConversationStatus)> {
        let change = self.changed_attributes.iter().find(|c| c.attribute == "status")?;
        let current = ConversationStatus::parse(change.current_value.as_str()?);
        Some((change.previous_value.as_str().map(ConversationStatus::parse), current))
    }
}

/// `webwidget_triggered`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WidgetTriggered {
    pub contact: Option<Participant>,
    pub inbox_id: Option<InboxId>,
    pub source_id: Option<String>,
    pub conversation: Option<ConversationInfo>,
    pub event_info: Value,
}

/// Why a delivery could not be decoded. The service answers 400 with this text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the body is not valid JSON: {0}")]
    Json(String),
    #[error("the body must be a JSON object, found {0}")]
    NotAnObject(&'static str),
    #[error("the body has no `event` field")]
    MissingEvent,
    #[error("`event` must be a string, found {0}")]
    EventNotString(String),
    #[error("{event}: `{field}` {problem}")]
    Field { event: String, field: String, problem: String },
}

/// Decodes one webhook body.
pub fn decode_event(body: &[u8]) -> Result<CxEvent, DecodeError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| DecodeError::Json(error.to_string()))?;
    let Value::Object(root) = &value else {
        return Err(DecodeError::NotAnObject(kind_of(&value)));
    };
    let name = match root.get("event") {
        None | Some(Value::Null) => return Err(DecodeError::MissingEvent),
        Some(Value::String(name)) => name.clone(),
        Some(other) => return Err(DecodeError::EventNotString(short_json(other))),
    };
    let reader = Reader { event: &name, path: String::new(), map: root };
    Ok(match name.as_str() {
        "message_created" => CxEvent::MessageCreated(message_event(&reader)?),
        "message_updated" => CxEvent::MessageUpdated(message_event(&reader)?),
        "conversation_created" => CxEvent::ConversationCreated(conversation_event(&reader)?),
        "conversation_status_changed" => {
            CxEvent::ConversationStatusChanged(conversation_event(&reader)?)
        }
        "conversation_updated" => CxEvent::ConversationUpdated(conversation_event(&reader)?),
        "conversation_opened" => CxEvent::ConversationOpened(conversation_event(&reader)?),
        "conversation_resolved" => CxEvent::ConversationResolved(conversation_event(&reader)?),
        "webwidget_triggered" => CxEvent::WebwidgetTriggered(widget_event(&reader)?),
        _ => CxEvent::Unknown(name.clone()),
    })
}

fn message_event(r: &Reader<'_>) -> Result<MessageEvent, DecodeError> {
    let conversation = r.object("conversation")?.map(|c| conversation_info(&c)).transpose()?;
    let conversation_id = match (&conversation, r.id("conversation_id")?) {
        (Some(conversation), _) => conversation.id,
        (None, Some(id)) => ConversationId(id),
        (None, None) => {
            return Err(r.error(
                "conversation",
                "is missing (neither `conversation.id` nor `conversation_id`)",
            ))
        }
    };
    let inbox_id = match r.object("inbox")? {
        Some(inbox) => inbox.id("id")?,
        None => r.id("inbox_id")?,
    };
    Ok(MessageEvent {
        id: MessageId(r.required_id("id")?),
        conversation_id,
        content: r.string("content")?,
        content_type: r.string("content_type")?,
        content_attributes: r.get("content_attributes").cloned().unwrap_or(Value::Null),
        message_type: r
            .message_type("message_type")?
            .ok_or_else(|| r.error("message_type", "is missing"))?,
        private: r.flag("private")?,
        created_at: r.time("created_at")?,
        sender: r
            .object("sender")?
            .map(|s| participant(&s, ParticipantKind::Unspecified))
            .transpose()?,
        inbox_id: inbox_id.map(InboxId),
        conversation,
        attachments: r.array("attachments")?.to_vec(),
    })
}

fn conversation_event(r: &Reader<'_>) -> Result<ConversationEvent, DecodeError> {
    let mut changed_attributes = Vec::new();
    for (index, entry) in r.array("changed_attributes")?.iter().enumerate() {
        let Value::Object(entry) = entry else {
            return Err(r.error(&format!("changed_attributes[{index}]"), "should be an object"));
        };
        for (attribute, change) in entry {
            changed_attributes.push(AttributeChange {
                attribute: attribute.clone(),
                previous_value: change.get("previous_value").cloned().unwrap_or(Value::Null),
                current_value: change.get("current_value").cloned().unwrap_or(Value::Null),
            });
        }
    }
    Ok(ConversationEvent { conversation: conversation_info(r)?, changed_attributes })
}

fn widget_event(r: &Reader<'_>) -> Result<WidgetTriggered, DecodeError> {
    let inbox_id = match r.object("inbox")? {
        Some(inbox) => inbox.id("id")?,
        None => r.id("inbox_id")?,
    };
    Ok(WidgetTriggered {
        contact: r
            .object("contact")?
            .map(|c| participant(&c, ParticipantKind::Contact))
            .transpose()?,
        inbox_id: inbox_id.map(InboxId),
        source_id: r.string("source_id")?,
        conversation: r
            .object("current_conversation")?
            .map(|c| conversation_info(&c))
            .transpose()?,
        event_info: r.get("event_info").cloned().unwrap_or(Value::Null),
    })
}

fn conversation_info(r: &Reader<'_>) -> Result<ConversationInfo, DecodeError> {
    let meta = r.object("meta")?;
    let (contact, assignee) = match &meta {
        Some(meta) => (
            meta.object("sender")?
                .map(|s| participant(&s, ParticipantKind::Contact))
                .transpose()?,
            meta.object("assignee")?.map(|a| participant(&a, ParticipantKind::User)).transpose()?,
        ),
        None => (None, None),
    };
    let mut labels = Vec::new();
    for (index, label) in r.array("labels")?.iter().enumerate() {
        match label {
            Value::String(label) => labels.push(label.clone()),
            other => {
                return Err(r.error(
                    &format!("labels[{index}]"),
                    &format!("should be text, found {}", short_json(other)),
                ))
            }
        }
    }
    let mut messages = Vec::new();
    for (index, message) in r.array("messages")?.iter().enumerate() {
        let m = r.nested(&format!("messages[{index}]"), message)?;
        messages.push(EmbeddedMessage {
            id: m.id("id")?.map(MessageId),
            content: m.string("content")?,
            message_type: m.message_type("message_type")?,
            private: m.flag("private")?,
            created_at: m.time("created_at")?,
        });
    }
    Ok(ConversationInfo {
        id: ConversationId(r.required_id("id")?),
        inbox_id: r.id("inbox_id")?.map(InboxId),
        status: r.string("status")?.map(|s| ConversationStatus::parse(&s)),
        contact,
        assignee,
        custom_attributes: r
            .object("custom_attributes")?
            .map(|c| c.map.clone())
            .unwrap_or_default(),
        browser_language: r.browser_language(),
        labels,
        messages,
        updated_at: r.time("updated_at")?,
    })
}

fn participant(r: &Reader<'_>, default_kind: ParticipantKind) -> Result<Participant, DecodeError> {
    let kind = match r.string("type")?.as_deref() {
        None => default_kind,
        Some("contact") => ParticipantKind::Contact,
        Some("user") => ParticipantKind::User,
        Some("agent_bot") => ParticipantKind::AgentBot,
        Some(other) => ParticipantKind::Other(other.to_owned()),
    };
    Ok(Participant {
        kind,
        id: r.id("id")?,
        name: r.string("name")?,
        email: r.string("email")?,
        phone_number: r.string("phone_number")?,
        custom_attributes: r
            .object("custom_attributes")?
            .map(|c| c.map.clone())
            .unwrap_or_default(),
        browser_language: r.browser_language(),
    })
}

/// Field access on one JSON object with error messages that name the event and the field path.
/// `null` counts as absent everywhere.
struct Reader<'a> {
    event: &'a str,
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Reader<'a> {
    fn field_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn error(&self, key: &str, problem: &str) -> DecodeError {
        DecodeError::Field {
            event: self.event.to_owned(),
            field: self.field_path(key),
            problem: problem.to_owned(),
        }
    }

    fn wrong(&self, key: &str, expected: &str, found: &Value) -> DecodeError {
        self.error(key, &format!("should be {expected}, found {}", short_json(found)))
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn nested(&self, key: &str, value: &'a Value) -> Result<Reader<'a>, DecodeError> {
        match value {
            Value::Object(map) => Ok(Reader { event: self.event, path: self.field_path(key), map }),
            other => Err(self.wrong(key, "an object", other)),
        }
    }

    /// `additional_attributes.browser_language`, read leniently: it only picks a language.
    fn browser_language(&self) -> Option<String> {
        self.get("additional_attributes")
            .and_then(|a| a.get("browser_language"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
    }

    fn object(&self, key: &str) -> Result<Option<Reader<'a>>, DecodeError> {
        self.get(key).map(|value| self.nested(key, value)).transpose()
    }

    fn id(&self, key: &str) -> Result<Option<u64>, DecodeError> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => {
                id_from_value(value).map(Some).ok_or_else(|| self.wrong(key, "a numeric id", value))
            }
        }
    }

    fn required_id(&self, key: &str) -> Result<u64, DecodeError> {
        self.id(key)?.ok_or_else(|| self.error(key, "is missing"))
    }

    fn string(&self, key: &str) -> Result<Option<String>, DecodeError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(self.wrong(key, "text", other)),
        }
    }

    /// A timestamp kept as sent: ISO text or Unix seconds.
    fn time(&self, key: &str) -> Result<Option<String>, DecodeError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(other) => Err(self.wrong(key, "a date or Unix seconds", other)),
        }
    }

    fn flag(&self, key: &str) -> Result<bool, DecodeError> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(other) => Err(self.wrong(key, "true or false", other)),
        }
    }

    fn array(&self, key: &str) -> Result<&'a [Value], DecodeError> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(self.wrong(key, "a list", other)),
        }
    }

    fn message_type(&self, key: &str) -> Result<Option<MessageType>, DecodeError> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => MessageType::from_value(value)
                .map(Some)
                .ok_or_else(|| self.wrong(key, "`incoming`, `outgoing`, … or 0–3", value)),
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
