//! The JSON the server keeps in the store: queued inbound events and outbox items. Both carry
//! what the worker needs without the original webhook (which is not kept).

use serde::{Deserialize, Serialize};

use crate::engine::{Button, Contact, Event, FetchRequest};
use crate::store::StoreError;

/// Which CX conversation, and in which inbox (picks the bot).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CxRef {
    pub conversation_id: String,
    pub inbox_id: Option<u64>,
}

impl CxRef {
    /// The reference of a decoded CX conversation.
    pub(crate) fn new(
        conversation: crate::cx::ConversationId,
        inbox: Option<crate::cx::InboxId>,
    ) -> CxRef {
        CxRef { conversation_id: conversation.to_string(), inbox_id: inbox.map(|inbox| inbox.0) }
    }

    /// The store key of the conversation.
    pub fn key(&self) -> String {
        format!("cx:{}", self.conversation_id)
    }
}

/// A queued inbound event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum InboundPayload {
    /// The customer wrote (or picked a button: `button` holds its value).
    Message { cx: CxRef, text: String, button: Option<String>, contact: Contact },
    /// The customer sent a file without text (`file_type`: image, audio, video, file, …).
    Attachment { cx: CxRef, file_type: String, url: String, contact: Contact },
    /// CX created or opened the conversation.
    ConversationStarted { cx: CxRef, contact: Contact },
    /// CX changed the conversation's status.
    StatusChanged { cx: CxRef, previous: Option<String>, current: String },
    /// An event the service produced itself (timer due, fetch result).
    Engine { cx: CxRef, event: Event },
}

impl InboundPayload {
    pub fn cx(&self) -> &CxRef {
        match self {
            InboundPayload::Message { cx, .. }
            | InboundPayload::Attachment { cx, .. }
            | InboundPayload::ConversationStarted { cx, .. }
            | InboundPayload::StatusChanged { cx, .. }
            | InboundPayload::Engine { cx, .. } => cx,
        }
    }
}

/// One outbox item: a CX call or a fetch, performed in order per conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outgoing {
    Text {
        cx: CxRef,
        text: String,
    },
    /// Quick-reply buttons. `prompt` is the line the bot said just before them, sent as the
    /// same message's content; `fallback` numbers the labels for channels without buttons.
    Buttons {
        cx: CxRef,
        buttons: Vec<Button>,
        fallback: String,
        #[serde(default)]
        prompt: Option<String>,
    },
    /// A private note for the agent.
    Note {
        cx: CxRef,
        text: String,
    },
    DeliverToAgent {
        cx: CxRef,
    },
    Finish {
        cx: CxRef,
    },
    Fetch {
        cx: CxRef,
        request: FetchRequest,
    },
}

impl Outgoing {
    /// Buttons that take the text said just before them (the last of `earlier`, when it is a
    /// text) as their message's content: Chatwoot shows an `input_select`'s content above its
    /// options, and `WhatsApp` needs it as the interactive message's body, so the question and
    /// its options arrive as one message and the labels are not listed twice.
    pub(crate) fn buttons_after(
        earlier: &mut Vec<Outgoing>,
        cx: &CxRef,
        buttons: Vec<Button>,
        fallback: String,
    ) -> Outgoing {
        let prompt = match earlier.pop() {
            Some(Outgoing::Text { text, .. }) => Some(text),
            Some(other) => {
                earlier.push(other);
                None
            }
            None => None,
        };
        Outgoing::Buttons { cx: cx.clone(), buttons, fallback, prompt }
    }

    /// The content of a buttons message: the prompt, or the numbered labels when there is none
    /// (a channel's interactive message needs a body). Without buttons on the channel
    /// (`buttons: false`), the prompt and the numbered labels as one text.
    pub(crate) fn buttons_content(
        prompt: Option<&str>,
        fallback: &str,
        as_buttons: bool,
    ) -> String {
        match (prompt, as_buttons) {
            (Some(prompt), true) => prompt.to_owned(),
            (Some(prompt), false) => format!("{prompt}\n{fallback}"),
            (None, _) => fallback.to_owned(),
        }
    }

    pub fn cx(&self) -> &CxRef {
        match self {
            Outgoing::Text { cx, .. }
            | Outgoing::Buttons { cx, .. }
            | Outgoing::Note { cx, .. }
            | Outgoing::DeliverToAgent { cx }
            | Outgoing::Finish { cx }
            | Outgoing::Fetch { cx, .. } => cx,
        }
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Outgoing::Text { .. } => "text",
            Outgoing::Buttons { .. } => "buttons",
            Outgoing::Note { .. } => "note",
            Outgoing::DeliverToAgent { .. } => "deliver_to_agent",
            Outgoing::Finish { .. } => "finish",
            Outgoing::Fetch { .. } => "fetch",
        }
    }
}

/// The text of a payload the store keeps (an outbox item, a timer's event). The payload types
/// always serialise; should one ever fail, the turn fails and its event stays queued, instead of
/// the turn being stored without the CX call or the timer it produced.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|error| StoreError::Database(format!("cannot encode a stored payload: {error}")))
}

#[cfg(test)]
mod encode_tests {
    use std::collections::BTreeMap;

    use super::encode;

    #[test]
    fn a_payload_that_cannot_be_encoded_is_an_error_not_a_silent_drop() {
        // JSON object keys must be strings: a map keyed by pairs cannot be written.
        let unwritable: BTreeMap<(u8, u8), u8> = BTreeMap::from([((1, 2), 3)]);
        let error = encode(&unwritable).unwrap_err();
        assert!(error.to_string().contains("cannot encode a stored payload"), "{error}");
        assert_eq!(encode(&"fine").unwrap(), "\"fine\"");
    }
}
