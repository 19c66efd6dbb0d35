//! The emulator's in-memory world — inboxes, contacts, conversations, messages, webhooks and
//! agent bots — and the status machine of `sangoma-cx.md`. Every operation is a plain function of
//! the state that returns the notifications it causes; IO (HTTP, delivery) lives elsewhere.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::payloads;
use crate::cx::MESSAGE_SOURCE_ID_INDEX;

/// Inbox id of the seeded API-type inbox (Flow A).
pub const API_INBOX_ID: u64 = 1;
/// Inbox id of the seeded CX-native web widget inbox (Flow B).
pub(crate) const WIDGET_INBOX_ID: u64 = 2;

/// Who owns a conversation right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderKind {
    Contact,
    /// A human agent.
    User,
    AgentBot,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Sender {
    #[serde(rename = "type")]
    pub kind: SenderKind,
    pub id: u64,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Inbox {
    pub id: u64,
    pub name: String,
    pub channel_type: String,
    pub agent_bot_id: Option<u64>,
}

/// A contact together with its contact-inbox (Chatwoot keeps them apart; here every contact
/// lives in one inbox). `contact_inbox_id` is the id `webwidget_triggered` carries on top.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Contact {
    pub id: u64,
    pub inbox_id: u64,
    pub contact_inbox_id: u64,
    pub name: String,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub source_id: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
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

/// A file on a message (`Attachment#push_event_data`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Attachment {
    pub id: u64,
    /// `image`, `audio`, `video`, `file`, `location`, …
    pub file_type: String,
    pub data_url: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Message {
    pub id: u64,
    pub conversation_id: u64,
    /// Empty for an attachment-only message (webhooks then carry `content: null`).
    pub content: String,
    pub content_type: String,
    pub content_attributes: Value,
    pub message_type: MessageType,
    pub private: bool,
    pub sender: Sender,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// The key the API caller gave (`source_id`); unique per inbox (see [`World::create_message`]).
    #[serde(default)]
    pub source_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Webhook {
    pub id: u64,
    pub url: String,
    pub subscriptions: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AgentBot {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub outgoing_url: String,
}

/// A message to be created; who wrote it decides its type and sender.
#[derive(Clone, Debug)]
pub(crate) struct NewMessage {
    pub content: String,
    pub message_type: MessageType,
    pub private: bool,
    pub content_type: String,
    pub content_attributes: Value,
    pub sender: Sender,
    pub attachments: Vec<NewAttachment>,
    /// `source_id` as the API caller sent it.
    pub source_id: Option<String>,
}

/// A file a customer sends.
#[derive(Clone, Debug)]
pub(crate) struct NewAttachment {
    pub file_type: String,
    pub data_url: String,
}

impl NewMessage {
    /// Plain text with no attributes or files.
    pub fn text(content: &str, message_type: MessageType, sender: Sender) -> Self {
        Self {
            content: content.to_owned(),
            message_type,
            private: false,
            content_type: "text".into(),
            content_attributes: Value::Object(serde_json::Map::new()),
            sender,
            attachments: Vec::new(),
            source_id: None,
        }
    }
}

/// Who receives a delivery, which decides how failures are handled (`lib/webhooks/trigger.rb`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// An account webhook (`POST webhooks/`): never retried (`WebhookJob`).
    AccountWebhook,
    /// An inbox's agent bot: retried on 429 and 500 only (`AgentBots::WebhookJob`).
    AgentBot,
}

/// One event for one target URL, ready to post. `conversation_id` and `message_id` let delivery
/// hand the conversation to humans when its agent bot fails on a message event.
#[derive(Clone, Debug)]
pub struct Notification {
    pub url: String,
    pub target: Target,
    pub event: String,
    pub conversation_id: Option<u64>,
    pub message_id: Option<u64>,
    pub body: Value,
}

/// Why an operation was refused; mapped to 404 or 422 at the HTTP edge.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// A record refused by a uniqueness rule: the attributes whose value is taken
    /// (`ActiveRecord::RecordInvalid`, answered by `RequestExceptionHandler#render_record_invalid`).
    #[error("{}", taken_message(.0))]
    Taken(Vec<&'static str>),
}

/// Rails' full messages for taken attributes, joined as Chatwoot joins them.
pub(crate) fn taken_message(attributes: &[&str]) -> String {
    attributes
        .iter()
        .map(|attribute| {
            let human = match *attribute {
                "phone_number" => "Phone number",
                "email" => "Email",
                other => other,
            };
            format!("{human} has already been taken")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The refusal of a second webhook for one URL (Chatwoot's validation message).
pub(crate) const WEBHOOK_URL_TAKEN: &str = "Url has already been taken";

/// The refusal of a second message with one `source_id` in an inbox: the error text Chatwoot's
/// messages controller answers (422, `render_could_not_create_error`) when PostgreSQL rejects the
/// row under `idx_messages_unique_inbox_source_id`.
pub(crate) fn source_id_taken(inbox_id: u64, source_id: &str) -> String {
    format!(
        "PG::UniqueViolation: ERROR:  duplicate key value violates unique constraint \
         \"{MESSAGE_SOURCE_ID_INDEX}\"\nDETAIL:  Key (inbox_id, source_id)=({inbox_id}, {source_id}) \
         already exists."
    )
}

/// Which kind of record an id is for; with per-kind sequences each has its own counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum IdKind {
    Contact,
    ContactInbox,
    Conversation,
    Message,
    Attachment,
    Webhook,
    AgentBot,
}

/// The whole emulated tenant; serialized as is to keep it between runs ([`super::persist`]).
#[derive(Debug, Serialize, Deserialize)]
pub struct World {
    /// One counter for every kind (mixed-up ids fail loudly), or one per kind from 1 like
    /// Chatwoot's tables (mixed-up ids hit somebody else's record, as in production).
    per_kind_ids: bool,
    next_ids: BTreeMap<IdKind, u64>,
    pub inboxes: BTreeMap<u64, Inbox>,
    pub contacts: BTreeMap<u64, Contact>,
    pub conversations: BTreeMap<u64, Conversation>,
    /// Messages per conversation, in creation order.
    pub messages: BTreeMap<u64, Vec<Message>>,
    pub webhooks: BTreeMap<u64, Webhook>,
    pub agent_bots: BTreeMap<u64, AgentBot>,
    /// Every `(inbox_id, source_id)` a message was created with: Chatwoot's unique index
    /// `idx_messages_unique_inbox_source_id` (`app/models/message.rb` schema notes).
    #[serde(default)]
    source_ids: BTreeSet<(u64, String)>,
}

impl Default for World {
    fn default() -> Self {
        Self::new(false)
    }
}

impl World {
    /// A fresh tenant with the two seeded inboxes.
    pub fn new(per_kind_ids: bool) -> Self {
        let mut inboxes = BTreeMap::new();
        for (id, name, channel_type) in [
            (API_INBOX_ID, "Website API", "Channel::Api"),
            (WIDGET_INBOX_ID, "Website widget", "Channel::WebWidget"),
        ] {
            let inbox = Inbox {
                id,
                name: name.into(),
                channel_type: channel_type.into(),
                agent_bot_id: None,
            };
            inboxes.insert(id, inbox);
        }
        Self {
            per_kind_ids,
            next_ids: BTreeMap::new(),
            inboxes,
            contacts: BTreeMap::new(),
            conversations: BTreeMap::new(),
            messages: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            agent_bots: BTreeMap::new(),
            source_ids: BTreeSet::new(),
        }
    }

    /// Moves every id counter past the ids the world holds, so a world read back from a file
    /// never hands out an id again even if its counters were lost or edited.
    pub(super) fn count_past_existing_ids(&mut self) {
        let mut seen: Vec<(IdKind, u64)> = Vec::new();
        for contact in self.contacts.values() {
            seen.push((IdKind::Contact, contact.id));
            seen.push((IdKind::ContactInbox, contact.contact_inbox_id));
        }
        seen.extend(self.conversations.keys().map(|id| (IdKind::Conversation, *id)));
        for message in self.messages.values().flatten() {
            seen.push((IdKind::Message, message.id));
            seen.extend(message.attachments.iter().map(|file| (IdKind::Attachment, file.id)));
        }
        seen.extend(self.webhooks.keys().map(|id| (IdKind::Webhook, *id)));
        seen.extend(self.agent_bots.keys().map(|id| (IdKind::AgentBot, *id)));
        for (kind, id) in seen {
            let key = if self.per_kind_ids { kind } else { IdKind::Contact };
            let next = self.next_ids.entry(key).or_insert(0);
            *next = (*next).max(id);
        }
    }

    fn fresh_id(&mut self, kind: IdKind) -> u64 {
        let (key, start) = if self.per_kind_ids { (kind, 0) } else { (IdKind::Contact, 100) };
        let next = self.next_ids.entry(key).or_insert(start);
        *next += 1;
        *next
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

    /// The contact-inbox's newest conversation in any status (`ContactInbox#current_conversation`).
    pub fn current_conversation(&self, contact_id: u64) -> Option<&Conversation> {
        self.conversations.values().filter(|c| c.contact_id == contact_id).max_by_key(|c| c.id)
    }

    pub fn messages_of(&self, conversation_id: u64) -> &[Message] {
        self.messages.get(&conversation_id).map_or(&[], Vec::as_slice)
    }

    /// Subscribes `url`; a URL already subscribed is refused, as Chatwoot's `Webhook` validates
    /// `url` unique per account (`app/models/webhook.rb`).
    pub(crate) fn register_webhook(
        &mut self,
        url: String,
        subscriptions: Vec<String>,
    ) -> Result<Webhook, Refusal> {
        if self.webhooks.values().any(|existing| existing.url == url) {
            return Err(Refusal::Invalid(WEBHOOK_URL_TAKEN.into()));
        }
        let webhook = Webhook { id: self.fresh_id(IdKind::Webhook), url, subscriptions };
        self.webhooks.insert(webhook.id, webhook.clone());
        Ok(webhook)
    }

    /// Removes a webhook (`WebhooksController#destroy`).
    pub(crate) fn remove_webhook(&mut self, id: u64) -> Result<Webhook, Refusal> {
        self.webhooks
            .remove(&id)
            .ok_or_else(|| Refusal::NotFound(format!("webhook {id} not found")))
    }

    pub fn create_agent_bot(
        &mut self,
        name: String,
        description: String,
        outgoing_url: String,
    ) -> AgentBot {
        let bot = AgentBot { id: self.fresh_id(IdKind::AgentBot), name, description, outgoing_url };
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
        self.refuse_taken(None, email.as_deref(), phone_number.as_deref())?;
        if let Some(phone) = &phone_number {
            if !is_e164(phone) {
                return Err(Refusal::Invalid(format!(
                    "phone_number `{phone}` is not in E.164 form (+ and 8 to 15 digits)"
                )));
            }
        }
        let id = self.fresh_id(IdKind::Contact);
        let contact_inbox_id = self.fresh_id(IdKind::ContactInbox);
        let contact = Contact {
            id,
            inbox_id,
            contact_inbox_id,
            name,
            email,
            phone_number,
            source_id: format!("src-{id}-{}", crate::crypto::random_hex(6)),
            created_at: Utc::now(),
        };
        self.contacts.insert(id, contact.clone());
        Ok(contact)
    }

    /// Changes a contact in place (`ContactsController#update` assigns only the fields the
    /// request names); a phone number must be E.164, as on creation.
    /// Chatwoot's contact rules (`app/models/contact.rb`): an email (without case) and a phone
    /// number belong to one contact of the account; `except` is the contact being changed.
    fn refuse_taken(
        &self,
        except: Option<u64>,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Result<(), Refusal> {
        let others = || self.contacts.values().filter(|c| Some(c.id) != except);
        let mut taken = Vec::new();
        if let Some(email) = email.filter(|e| !e.is_empty()) {
            if others().any(|c| c.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email))) {
                taken.push("email");
            }
        }
        if let Some(phone) = phone.filter(|p| !p.is_empty()) {
            if others().any(|c| c.phone_number.as_deref() == Some(phone)) {
                taken.push("phone_number");
            }
        }
        if taken.is_empty() {
            Ok(())
        } else {
            Err(Refusal::Taken(taken))
        }
    }

    pub(crate) fn update_contact(
        &mut self,
        id: u64,
        change: impl FnOnce(&mut Contact),
    ) -> Result<Contact, Refusal> {
        let mut changed = self
            .contacts
            .get(&id)
            .cloned()
            .ok_or_else(|| Refusal::NotFound(format!("contact {id} not found")))?;
        change(&mut changed);
        self.refuse_taken(Some(id), changed.email.as_deref(), changed.phone_number.as_deref())?;
        if let Some(phone) = &changed.phone_number {
            if !is_e164(phone) {
                return Err(Refusal::Invalid(format!(
                    "phone_number `{phone}` is not in E.164 form (+ and 8 to 15 digits)"
                )));
            }
        }
        self.contacts.insert(id, changed.clone());
        Ok(changed)
    }

    /// Opens a conversation. Chatwoot's `Conversation#determine_conversation_status`: `pending`
    /// whenever the inbox has an active agent bot (whatever was asked), otherwise the status the
    /// request gave (`ConversationBuilder#conversation_params`), otherwise the column default
    /// `open` — humans own it.
    pub fn create_conversation(
        &mut self,
        inbox_id: u64,
        contact_id: u64,
        source_id: Option<String>,
        requested: Option<Status>,
    ) -> Result<(Conversation, Vec<Notification>), Refusal> {
        let inbox = self.inbox(inbox_id)?;
        let has_bot = inbox.agent_bot_id.is_some();
        let contact = self.contact(contact_id)?;
        let source_id = source_id.unwrap_or_else(|| contact.source_id.clone());
        let now = Utc::now();
        let status = if has_bot { Status::Pending } else { requested.unwrap_or(Status::Open) };
        let conversation = Conversation {
            id: self.fresh_id(IdKind::Conversation),
            inbox_id,
            contact_id,
            source_id,
            status,
            assignee: None,
            created_at: now,
            updated_at: now,
        };
        self.conversations.insert(conversation.id, conversation.clone());
        let body = payloads::conversation_event(self, &conversation, "conversation_created", None);
        let notifications = self.fan_out(&body, Some(&conversation), None);
        Ok((conversation, notifications))
    }

    /// Adds a message and applies `Message#reopen_conversation`: a customer writing in a resolved
    /// conversation hands it back to the bot when the inbox has one (`pending`), otherwise to
    /// humans; a snoozed one wakes up for humans.
    pub(crate) fn create_message(
        &mut self,
        conversation_id: u64,
        new: NewMessage,
    ) -> Result<(Message, Vec<Notification>), Refusal> {
        let conversation = self.conversation(conversation_id)?.clone();
        let inbox = self.inbox(conversation.inbox_id)?.clone();
        if let Some(source_id) = &new.source_id {
            if !self.source_ids.insert((inbox.id, source_id.clone())) {
                return Err(Refusal::Invalid(source_id_taken(inbox.id, source_id)));
            }
        }
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
        let id = self.fresh_id(IdKind::Message);
        let attachments = new
            .attachments
            .into_iter()
            .map(|file| Attachment {
                id: self.fresh_id(IdKind::Attachment),
                file_type: file.file_type,
                data_url: file.data_url,
            })
            .collect();
        let message = Message {
            id,
            conversation_id,
            content: new.content,
            content_type: new.content_type,
            content_attributes: new.content_attributes,
            message_type: new.message_type,
            private: new.private,
            sender: new.sender,
            attachments,
            source_id: new.source_id,
            created_at: Utc::now(),
        };
        if let Some(conversation) = self.conversations.get_mut(&conversation_id) {
            conversation.updated_at = message.created_at;
            if message.sender.kind == SenderKind::User && !message.private {
                conversation.assignee = Some(message.sender.name.clone());
            }
        }
        self.messages.entry(conversation_id).or_default().push(message.clone());
        notifications.extend(self.message_notifications(&message, "message_created")?);
        Ok((message, notifications))
    }

    /// Merges `attributes` into a message's `content_attributes` and announces it with
    /// `message_updated` (`Message#dispatch_update_event`), as a widget button click does.
    pub(crate) fn update_message(
        &mut self,
        conversation_id: u64,
        message_id: u64,
        attributes: &serde_json::Map<String, Value>,
    ) -> Result<(Message, Vec<Notification>), Refusal> {
        let message = self
            .messages
            .get_mut(&conversation_id)
            .and_then(|messages| messages.iter_mut().find(|m| m.id == message_id))
            .ok_or_else(|| Refusal::NotFound(format!("message {message_id} not found")))?;
        if !message.content_attributes.is_object() {
            message.content_attributes = Value::Object(serde_json::Map::new());
        }
        if let Value::Object(existing) = &mut message.content_attributes {
            for (key, value) in attributes {
                existing.insert(key.clone(), value.clone());
            }
        }
        let message = message.clone();
        let notifications = self.message_notifications(&message, "message_updated")?;
        Ok((message, notifications))
    }

    fn message_notifications(
        &self,
        message: &Message,
        event: &str,
    ) -> Result<Vec<Notification>, Refusal> {
        let conversation = self.conversation(message.conversation_id)?;
        let body = payloads::message_event(self, message, conversation, event);
        Ok(self.fan_out(&body, Some(conversation), Some(message)))
    }

    /// Moves a conversation to `status`; a no-op (and no event) when it is already there.
    /// Events in `Conversation#notify_status_change` order: `conversation_opened` or
    /// `conversation_resolved`, then `conversation_status_changed`, then `conversation_updated`.
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
        let changed = serde_json::json!([{
            "status": {"previous_value": previous.as_str(), "current_value": status.as_str()}
        }]);
        let specific = match status {
            Status::Open => Some("conversation_opened"),
            Status::Resolved => Some("conversation_resolved"),
            Status::Pending | Status::Snoozed => None,
        };
        let mut notifications = Vec::new();
        if let Some(event) = specific {
            let body = payloads::conversation_event(self, &conversation, event, None);
            notifications.extend(self.fan_out(&body, Some(&conversation), None));
        }
        for event in ["conversation_status_changed", "conversation_updated"] {
            let body = payloads::conversation_event(self, &conversation, event, Some(&changed));
            notifications.extend(self.fan_out(&body, Some(&conversation), None));
        }
        Ok(notifications)
    }

    /// The `webwidget_triggered` event of a visitor opening CX's own widget
    /// (`AgentBotListener#webwidget_triggered`, `ContactInbox#webhook_data`).
    pub(crate) fn widget_triggered(&self, contact_id: u64) -> Result<Vec<Notification>, Refusal> {
        let contact = self.contact(contact_id)?;
        let body = payloads::widget_triggered_event(self, contact);
        let inbox = self.inbox(contact.inbox_id)?;
        Ok(super::routing::addressees(self, &body, inbox, None, None))
    }

    /// Addresses one event about `conversation` to every webhook and agent bot that gets it.
    fn fan_out(
        &self,
        body: &Value,
        conversation: Option<&Conversation>,
        message: Option<&Message>,
    ) -> Vec<Notification> {
        let Some(inbox) = conversation.and_then(|c| self.inboxes.get(&c.inbox_id)) else {
            return Vec::new();
        };
        super::routing::addressees(self, body, inbox, conversation, message)
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
