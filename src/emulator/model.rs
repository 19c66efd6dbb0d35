//! The emulator's in-memory world — inboxes, contacts, conversations, messages, webhooks and
//! agent bots — and the status machine of `sangoma-cx.md`. Every operation is a plain function of
//! the state that returns the notifications it causes; IO (HTTP, delivery) lives elsewhere.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::payloads;

/// Inbox id of the seeded API-type inbox (Flow A).
pub const API_INBOX_ID: u64 = 1;
/// Inbox id of the seeded CX-native web widget inbox (Flow B).
pub const WIDGET_INBOX_ID: u64 = 2;

/// Who owns a conversation right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The bot owns it.
    Pending,
    /// Human agents own it.
    Open,
    Resolved,
    Snoozed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Open => "open",
            Self::Resolved => "resolved",
            Self::Snoozed => "snoozed",
        }
    }
}

/// Chatwoot's message types; the integer is what `conversation.messages[]` carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    Incoming = 0,
    Outgoing = 1,
    Activity = 2,
    Template = 3,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incoming => "incoming",
            Self::Outgoing => "outgoing",
            Self::Activity => "activity",
            Self::Template => "template",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "incoming" => Some(Self::Incoming),
            "outgoing" => Some(Self::Outgoing),
            "activity" => Some(Self::Activity),
            "template" => Some(Self::Template),
            _ => None,
        }
    }
}

/// The kind of author of a message, as webhooks name it in `sender.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderKind {
    Contact,
    /// A human agent.
    User,
    AgentBot,
}

#[derive(Clone, Debug, Serialize)]
pub struct Sender {
    #[serde(rename = "type")]
    pub kind: SenderKind,
    pub id: u64,
    pub name: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Inbox {
    pub id: u64,
    pub name: String,
    pub channel_type: String,
    pub agent_bot_id: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Contact {
    pub id: u64,
    pub inbox_id: u64,
    pub name: String,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub source_id: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Conversation {
    pub id: u64,
    pub inbox_id: u64,
    pub contact_id: u64,
    pub source_id: String,
    pub status: Status,
    /// Name of the human agent who last replied, shown as `meta.assignee`.
    pub assignee: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Message {
    pub id: u64,
    pub conversation_id: u64,
    pub content: String,
    pub content_type: String,
    pub content_attributes: Value,
    pub message_type: MessageType,
    pub private: bool,
    pub sender: Sender,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Webhook {
    pub id: u64,
    pub url: String,
    pub subscriptions: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AgentBot {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub outgoing_url: String,
}

/// A message to be created; who wrote it decides its type and sender.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub content: String,
    pub message_type: MessageType,
    pub private: bool,
    pub content_type: String,
    pub content_attributes: Value,
    pub sender: Sender,
}

/// One event for one target URL, ready to post. `conversation_id` lets delivery hand the
/// conversation to humans when the target keeps failing.
#[derive(Clone, Debug)]
pub struct Notification {
    pub url: String,
    pub event: String,
    pub conversation_id: Option<u64>,
    pub body: Value,
}

/// Why an operation was refused; mapped to 404 or 422 at the HTTP edge.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
}

/// Events an agent bot receives at its `outgoing_url` (Chatwoot's agent-bot listener).
const AGENT_BOT_EVENTS: &[&str] = &[
    "message_created",
    "message_updated",
    "conversation_opened",
    "conversation_resolved",
    "webwidget_triggered",
];

/// The whole emulated tenant.
#[derive(Debug)]
pub struct World {
    next_id: u64,
    pub inboxes: BTreeMap<u64, Inbox>,
    pub contacts: BTreeMap<u64, Contact>,
    pub conversations: BTreeMap<u64, Conversation>,
    /// Messages per conversation, in creation order.
    pub messages: BTreeMap<u64, Vec<Message>>,
    pub webhooks: BTreeMap<u64, Webhook>,
    pub agent_bots: BTreeMap<u64, AgentBot>,
}

impl Default for World {
    fn default() -> Self {
        let mut inboxes = BTreeMap::new();
        inboxes.insert(
            API_INBOX_ID,
            Inbox {
                id: API_INBOX_ID,
                name: "Website API".into(),
                channel_type: "Channel::Api".into(),
                agent_bot_id: None,
            },
        );
        inboxes.insert(
            WIDGET_INBOX_ID,
            Inbox {
                id: WIDGET_INBOX_ID,
                name: "Website widget".into(),
                channel_type: "Channel::WebWidget".into(),
                agent_bot_id: None,
            },
        );
        Self {
            next_id: 100,
            inboxes,
            contacts: BTreeMap::new(),
            conversations: BTreeMap::new(),
            messages: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            agent_bots: BTreeMap::new(),
        }
    }
}

impl World {
    /// Ids are unique across every kind of record, which makes mixed-up ids fail loudly in tests.
    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn inbox(&self, id: u64) -> Result<&Inbox, Refusal> {
        self.inboxes.get(&id).ok_or_else(|| Refusal::NotFound(format!("inbox {id} not found")))
    }

    pub fn conversation(&self, id: u64) -> Result<&Conversation, Refusal> {
        self.conversations
            .get(&id)
            .ok_or_else(|| Refusal::NotFound(format!("conversation {id} not found")))
    }

    pub fn contact(&self, id: u64) -> Result<&Contact, Refusal> {
        self.contacts.get(&id).ok_or_else(|| Refusal::NotFound(format!("contact {id} not found")))
    }

    pub fn messages_of(&self, conversation_id: u64) -> &[Message] {
        self.messages.get(&conversation_id).map_or(&[], Vec::as_slice)
    }

    pub fn register_webhook(&mut self, url: String, subscriptions: Vec<String>) -> Webhook {
        let webhook = Webhook { id: self.fresh_id(), url, subscriptions };
        self.webhooks.insert(webhook.id, webhook.clone());
        webhook
    }

    pub fn create_agent_bot(
        &mut self,
        name: String,
        description: String,
        outgoing_url: String,
    ) -> AgentBot {
        let bot = AgentBot { id: self.fresh_id(), name, description, outgoing_url };
        self.agent_bots.insert(bot.id, bot.clone());
        bot
    }

    pub fn assign_agent_bot(&mut self, inbox_id: u64, agent_bot_id: u64) -> Result<Inbox, Refusal> {
        if !self.agent_bots.contains_key(&agent_bot_id) {
            return Err(Refusal::NotFound(format!("agent bot {agent_bot_id} not found")));
        }
        let inbox = self
            .inboxes
            .get_mut(&inbox_id)
            .ok_or_else(|| Refusal::NotFound(format!("inbox {inbox_id} not found")))?;
        inbox.agent_bot_id = Some(agent_bot_id);
        Ok(inbox.clone())
    }

    pub fn create_contact(
        &mut self,
        inbox_id: u64,
        name: String,
        email: Option<String>,
        phone_number: Option<String>,
    ) -> Result<Contact, Refusal> {
        self.inbox(inbox_id)?;
        if let Some(phone) = &phone_number {
            if !is_e164(phone) {
                return Err(Refusal::Invalid(format!(
                    "phone_number `{phone}` is not in E.164 form (+ and 8 to 15 digits)"
                )));
            }
        }
        let id = self.fresh_id();
        let contact = Contact {
            id,
            inbox_id,
            name,
            email,
            phone_number,
            source_id: format!("src-{id}-{}", super::random_hex(6)),
            created_at: Utc::now(),
        };
        self.contacts.insert(id, contact.clone());
        Ok(contact)
    }

    /// Opens a conversation. `for_bot` is true when the API creates it (Flow A start) or the
    /// inbox has an agent bot: then the bot owns it (`pending`), otherwise humans do (`open`).
    pub fn create_conversation(
        &mut self,
        inbox_id: u64,
        contact_id: u64,
        source_id: Option<String>,
        for_bot: bool,
    ) -> Result<(Conversation, Vec<Notification>), Refusal> {
        let inbox = self.inbox(inbox_id)?;
        let has_bot = inbox.agent_bot_id.is_some();
        let contact = self.contact(contact_id)?;
        let source_id = source_id.unwrap_or_else(|| contact.source_id.clone());
        let now = Utc::now();
        let conversation = Conversation {
            id: self.fresh_id(),
            inbox_id,
            contact_id,
            source_id,
            status: if for_bot || has_bot { Status::Pending } else { Status::Open },
            assignee: None,
            created_at: now,
            updated_at: now,
        };
        self.conversations.insert(conversation.id, conversation.clone());
        let body = payloads::conversation_event(self, &conversation, "conversation_created");
        let notifications = self.fan_out("conversation_created", &conversation, &body);
        Ok((conversation, notifications))
    }

    /// Adds a message and applies the status rules of a customer writing: a resolved
    /// conversation in a bot inbox returns to the bot, a snoozed one wakes up for humans.
    pub fn create_message(
        &mut self,
        conversation_id: u64,
        new: NewMessage,
    ) -> Result<(Message, Vec<Notification>), Refusal> {
        let conversation = self.conversation(conversation_id)?.clone();
        let inbox = self.inbox(conversation.inbox_id)?.clone();
        let mut notifications = Vec::new();
        if new.message_type == MessageType::Incoming {
            let next = match conversation.status {
                Status::Resolved if inbox.agent_bot_id.is_some() => Some(Status::Pending),
                Status::Resolved | Status::Snoozed => Some(Status::Open),
                Status::Pending | Status::Open => None,
            };
            if let Some(next) = next {
                notifications.extend(self.set_status(conversation_id, next)?);
            }
        }
        let message = Message {
            id: self.fresh_id(),
            conversation_id,
            content: new.content,
            content_type: new.content_type,
            content_attributes: new.content_attributes,
            message_type: new.message_type,
            private: new.private,
            sender: new.sender,
            created_at: Utc::now(),
        };
        if let Some(conversation) = self.conversations.get_mut(&conversation_id) {
            conversation.updated_at = message.created_at;
            if message.sender.kind == SenderKind::User {
                conversation.assignee = Some(message.sender.name.clone());
            }
        }
        self.messages.entry(conversation_id).or_default().push(message.clone());
        let conversation = self.conversation(conversation_id)?.clone();
        let body = payloads::message_event(self, &message, &conversation, "message_created");
        notifications.extend(self.fan_out("message_created", &conversation, &body));
        Ok((message, notifications))
    }

    /// Moves a conversation to `status`; a no-op (and no event) when it is already there.
    pub fn set_status(
        &mut self,
        conversation_id: u64,
        status: Status,
    ) -> Result<Vec<Notification>, Refusal> {
        let conversation = self.conversations.get_mut(&conversation_id).ok_or_else(|| {
            Refusal::NotFound(format!("conversation {conversation_id} not found"))
        })?;
        let previous = conversation.status;
        if previous == status {
            return Ok(Vec::new());
        }
        conversation.status = status;
        conversation.updated_at = Utc::now();
        let conversation = conversation.clone();
        let mut notifications = Vec::new();
        let changed =
            payloads::conversation_event(self, &conversation, "conversation_status_changed");
        notifications.extend(self.fan_out("conversation_status_changed", &conversation, &changed));
        let mut updated = payloads::conversation_event(self, &conversation, "conversation_updated");
        updated["changed_attributes"] = serde_json::json!([{
            "status": {"previous_value": previous.as_str(), "current_value": status.as_str()}
        }]);
        notifications.extend(self.fan_out("conversation_updated", &conversation, &updated));
        let specific = match status {
            Status::Open => Some("conversation_opened"),
            Status::Resolved => Some("conversation_resolved"),
            Status::Pending | Status::Snoozed => None,
        };
        if let Some(event) = specific {
            let body = payloads::conversation_event(self, &conversation, event);
            notifications.extend(self.fan_out(event, &conversation, &body));
        }
        Ok(notifications)
    }

    /// The `webwidget_triggered` event a visitor opening CX's own widget causes.
    pub fn widget_triggered(&self, conversation_id: u64) -> Result<Vec<Notification>, Refusal> {
        let conversation = self.conversation(conversation_id)?.clone();
        let body = payloads::widget_triggered_event(self, &conversation);
        Ok(self.fan_out("webwidget_triggered", &conversation, &body))
    }

    /// Addresses one event to every webhook subscribed to it and to the inbox's agent bot.
    fn fan_out(&self, event: &str, conversation: &Conversation, body: &Value) -> Vec<Notification> {
        let mut urls: Vec<&str> = self
            .webhooks
            .values()
            .filter(|hook| hook.subscriptions.iter().any(|name| name == event))
            .map(|hook| hook.url.as_str())
            .collect();
        if AGENT_BOT_EVENTS.contains(&event) {
            let bot = self
                .inboxes
                .get(&conversation.inbox_id)
                .and_then(|inbox| inbox.agent_bot_id)
                .and_then(|id| self.agent_bots.get(&id));
            if let Some(bot) = bot {
                urls.push(&bot.outgoing_url);
            }
        }
        urls.into_iter()
            .map(|url| Notification {
                url: url.to_owned(),
                event: event.to_owned(),
                conversation_id: Some(conversation.id),
                body: body.clone(),
            })
            .collect()
    }
}

/// E.164: a plus sign and 8 to 15 digits, the first not zero.
fn is_e164(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}
