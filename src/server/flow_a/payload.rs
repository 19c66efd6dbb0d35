//! The JSON Flow A keeps in the store: queued inbound work for a widget conversation, and the
//! outbox of CX calls that mirror it into Sangoma CX.

use serde::{Deserialize, Serialize};

use serde_json::Value;

use crate::engine::{Button, Contact, Event, FetchRequest};
use crate::widget::CustomerActivity;

/// Something that happened to a widget conversation, queued for its worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum WidgetInbound {
    /// The page started the conversation.
    Started { contact: Contact },
    /// The customer wrote, clicked a suggested action (its value arrives as text), submitted a
    /// card (its value as text) or sent files (`attachments`; `text` may then be empty).
    Customer {
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<FileLink>,
        /// The page activity's id, so the bot's replies carry it as `replyToId`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        activity: Option<String>,
        /// The activity's `locale` (Web Chat sends the page's on every activity): the
        /// conversation's language when nothing else gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        locale: Option<String>,
    },
    /// The page told us who the customer is (`botrun.contact` event).
    ContactDetails { contact: Contact },
    /// A human agent wrote in the mirrored CX conversation (message `message_id`, when known).
    Agent {
        cx_conversation: u64,
        #[serde(default)]
        message_id: Option<u64>,
        name: String,
        text: String,
    },
    /// The mirrored CX conversation changed status.
    CxStatus { cx_conversation: u64, previous: Option<String>, current: String },
    /// A timer or fetch answer the service produced.
    Engine { event: Event },
    /// A durable reminder, set at the handoff and renewed while a human owns the conversation,
    /// to keep reading it back from CX (`flow_a::reconcile`): the watch list is in memory, and
    /// this timer brings a conversation back onto it after a restart.
    Rewatch,
}

/// A file the customer sent, by link (uploaded to botrun, or a URL the page posted).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileLink {
    pub name: String,
    pub url: String,
    pub content_type: String,
}

impl FileLink {
    /// The file's kind as Chatwoot names it (`Attachment#file_type`): `image`, `audio`, `video`
    /// or `file`, from its content type. Scripts see the same kinds from both flows.
    pub fn kind(&self) -> &'static str {
        match self.content_type.split('/').next().unwrap_or_default() {
            "image" => "image",
            "audio" => "audio",
            "video" => "video",
            _ => "file",
        }
    }

    /// The CX message text for `text` with these files: one `name: url` line per file.
    pub(crate) fn describe(text: &str, files: &[FileLink]) -> String {
        let mut content = text.to_owned();
        for file in files {
            if !content.is_empty() {
                content.push('\n');
            }
            content.push_str(&format!("📎 {}: {}", file.name, file.url));
        }
        content
    }
}

/// One CX call of the mirror, delivered in order per conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MirrorItem {
    /// Create the contact (once) and a new CX conversation for it.
    Open,
    /// Give the CX contact the customer's details as they are now (they arrived after the
    /// contact was created).
    UpdateContact,
    /// The customer's message, as `incoming`, with links to the files it carried.
    Incoming {
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<FileLink>,
    },
    /// A bot message, as `outgoing`, with buttons when it offered some.
    Outgoing {
        text: String,
        #[serde(default)]
        buttons: Vec<Button>,
    },
    /// The handoff note, private for agents.
    Note {
        text: String,
    },
    DeliverToAgent,
    /// Resolve the CX conversation; the next customer message opens a new one.
    Finish,
    /// A bot `fetch`, performed in order with the rest; its answer is queued back.
    Fetch {
        request: FetchRequest,
    },
}

impl MirrorItem {
    /// A short name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            MirrorItem::Open => "open",
            MirrorItem::UpdateContact => "update_contact",
            MirrorItem::Incoming { .. } => "incoming",
            MirrorItem::Outgoing { .. } => "outgoing",
            MirrorItem::Note { .. } => "note",
            MirrorItem::DeliverToAgent => "deliver_to_agent",
            MirrorItem::Finish => "finish",
            MirrorItem::Fetch { .. } => "fetch",
        }
    }
}

/// What a page message says: its text, or else its `value` (a card submit or a value-only
/// suggested action): a string as it is, anything else as compact JSON.
pub(crate) fn message_text(activity: &CustomerActivity) -> String {
    let text = activity.text.as_deref().map_or("", str::trim);
    if !text.is_empty() {
        return text.to_owned();
    }
    match &activity.value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(value)) => value.trim().to_owned(),
        Some(other) => other.to_string(),
    }
}

/// The files of a page message: attachments with an `http(s)` `contentUrl` (cards and inline
/// content are not files).
pub(crate) fn file_links(activity: &Value) -> Vec<FileLink> {
    let Some(attachments) = activity.get("attachments").and_then(Value::as_array) else {
        return Vec::new();
    };
    attachments
        .iter()
        .filter_map(|attachment| {
            let url = attachment.get("contentUrl").and_then(Value::as_str)?;
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return None;
            }
            let field = |name: &str| attachment.get(name).and_then(Value::as_str);
            Some(FileLink {
                name: field("name").unwrap_or("file").to_owned(),
                url: url.to_owned(),
                content_type: field("contentType").unwrap_or("application/octet-stream").to_owned(),
            })
        })
        .collect()
}
