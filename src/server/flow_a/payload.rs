//! The JSON Flow A keeps in the store: queued inbound work for a widget conversation, and the
//! outbox of CX calls that mirror it into Sangoma CX.

use serde::{Deserialize, Serialize};

use crate::engine::{Button, Contact, Event, FetchRequest};

/// Something that happened to a widget conversation, queued for its worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WidgetInbound {
    /// The page started the conversation.
    Started { contact: Contact },
    /// The customer wrote, or clicked a suggested action (its value arrives as text).
    Customer { text: String },
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
}

/// One CX call of the mirror, delivered in order per conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MirrorItem {
    /// Create the contact (once) and a new CX conversation for it.
    Open,
    /// The customer's message, as `incoming`.
    Incoming {
        text: String,
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
            MirrorItem::Incoming { .. } => "incoming",
            MirrorItem::Outgoing { .. } => "outgoing",
            MirrorItem::Note { .. } => "note",
            MirrorItem::DeliverToAgent => "deliver_to_agent",
            MirrorItem::Finish => "finish",
            MirrorItem::Fetch { .. } => "fetch",
        }
    }
}
