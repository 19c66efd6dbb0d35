//! What Flow A keeps per widget conversation in the store: the engine state, the buttons last
//! offered, the customer's contact details and the link to Sangoma CX. Stored as JSON under the
//! key `widget:{id}`; the reverse link `widget-cx:{cx id}` maps a CX conversation back.

use serde::{Deserialize, Serialize};

use super::payload::MirrorItem;
use crate::engine::{Contact, State};
use crate::store::{Snapshot, Store, StoreError};

/// The store key of a widget conversation.
pub fn key(widget_conversation: &str) -> String {
    format!("{PREFIX}{widget_conversation}")
}

/// Prefix of every Flow A conversation key (the Flow B keys start with `cx:`).
pub(crate) const PREFIX: &str = "widget:";

/// The widget conversation of a store key, when it is a Flow A key.
pub fn widget_conversation(key: &str) -> Option<&str> {
    key.strip_prefix(PREFIX)
}

/// The store key holding which widget conversation a CX conversation mirrors.
pub(crate) fn reverse_key(cx_conversation: u64) -> String {
    format!("widget-cx:{cx_conversation}")
}

/// One widget conversation's durable record.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Session {
    /// The engine snapshot (`State::to_bytes`), hex; empty before the first turn.
    #[serde(default)]
    engine: String,
    /// Values of the buttons last offered: a click arrives as a message with that text.
    #[serde(default)]
    pub buttons: Vec<String>,
    /// What the page (or the token) told us about the customer.
    #[serde(default)]
    pub contact: Contact,
    #[serde(default)]
    pub link: CxLink,
    /// Bot messages sent before the CX conversation was asked for (the greeting, with
    /// `open_at: first_message`): they go to CX right after it is created, before the
    /// customer's first message.
    #[serde(default)]
    pub unmirrored: Vec<MirrorItem>,
    /// What botrun itself wrote into CX, so CX's echoes are never taken for an agent's words
    /// whatever sender CX names (see [`Echoes`]).
    #[serde(default)]
    pub echoes: Echoes,
}

/// The messages botrun created in the CX conversation: the ids CX answered with, and the texts
/// of bot messages queued but not yet confirmed (CX may post the echo before it answers).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Echoes {
    /// Ids of created messages, newest last; the oldest are forgotten past [`Echoes::KEPT`].
    #[serde(default)]
    pub ids: Vec<u64>,
    /// Texts of bot messages queued for CX and not yet answered.
    #[serde(default)]
    pub in_flight: Vec<String>,
}

impl Echoes {
    /// How many created ids are kept per conversation.
    pub(crate) const KEPT: usize = 500;

    /// A bot message is on its way to CX.
    pub fn expect(&mut self, text: &str) {
        self.in_flight.push(text.to_owned());
        if self.in_flight.len() > Self::KEPT {
            self.in_flight.remove(0);
        }
    }

    /// CX created a message of ours with `id`; `text` is no longer in flight.
    pub fn created(&mut self, id: Option<u64>, text: Option<&str>) {
        if let Some(text) = text {
            if let Some(at) = self.in_flight.iter().position(|t| t == text) {
                self.in_flight.remove(at);
            }
        }
        if let Some(id) = id {
            if !self.ids.contains(&id) {
                self.ids.push(id);
            }
            if self.ids.len() > Self::KEPT {
                self.ids.remove(0);
            }
        }
    }

    /// True (and the in-flight text is used up) when message `id` saying `text` is ours.
    pub fn is_echo(&mut self, id: u64, text: &str) -> bool {
        if self.ids.contains(&id) {
            return true;
        }
        match self.in_flight.iter().position(|t| t == text) {
            Some(at) => {
                self.in_flight.remove(at);
                self.ids.push(id);
                true
            }
            None => false,
        }
    }
}

/// Where the conversation lives in CX.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CxLink {
    /// The CX contact, created once per widget conversation and reused afterwards.
    pub contact_id: Option<u64>,
    pub source_id: Option<String>,
    /// The CX conversation messages go to now (set when it is created, cleared when finished).
    pub conversation_id: Option<u64>,
    /// True from queueing an `open` until queueing a `finish`: a new customer message then
    /// needs no other `open`.
    pub open_queued: bool,
}

impl Session {
    /// The engine state, or a fresh one seeded from the conversation id.
    pub(crate) fn engine_state(&self, seed: u64) -> State {
        if self.engine.is_empty() {
            return State::new(seed);
        }
        match hex::decode(&self.engine)
            .map_err(|e| e.to_string())
            .and_then(|bytes| State::from_bytes(&bytes).map_err(|e| e.to_string()))
        {
            Ok(state) => state,
            Err(error) => {
                tracing::error!(%error, "stored widget engine state unreadable; starting over");
                State::new(seed)
            }
        }
    }

    pub(crate) fn set_engine_state(&mut self, state: &State) {
        self.engine = hex::encode(state.to_bytes());
    }

    /// The customer's language: a multilingual bot answers in it from the next reply on. A
    /// page's locale on an activity only fills in a language not known yet (`replace` false);
    /// the `language` the page gives in its contact event replaces it.
    pub(crate) fn adopt_language(&mut self, language: &str, replace: bool) {
        let language = language.trim();
        if language.is_empty() || (!replace && self.contact.attributes.contains_key("language")) {
            return;
        }
        self.contact.attributes.insert("language".into(), language.to_owned());
        if !self.is_new() {
            let mut state = self.engine_state(0);
            state.contact.attributes.insert("language".into(), language.to_owned());
            self.set_engine_state(&state);
        }
    }

    /// Who the customer is for CX: what the page said, completed with what the bot asked for
    /// (its variables `name`, `email` and `phone`).
    pub(crate) fn contact_for_cx(&self) -> Contact {
        let mut contact = self.contact.clone();
        let state = self.engine_state(0);
        let asked = |wanted: &str| {
            state
                .variables()
                .find(|(name, _)| *name == wanted)
                .and_then(|(_, value)| value.as_str())
                .map(str::trim)
                .filter(|text| !text.is_empty())
                .map(str::to_owned)
        };
        for (slot, variable) in [
            (&mut contact.name, "name"),
            (&mut contact.email, "email"),
            (&mut contact.phone, "phone"),
        ] {
            if slot.is_none() {
                *slot = asked(variable);
            }
        }
        contact
    }

    /// Whether the engine has ever run for this conversation.
    pub(crate) fn is_new(&self) -> bool {
        self.engine.is_empty()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The session stored in `snapshot`, or a new one.
    pub(crate) fn read(snapshot: Option<&Snapshot>) -> Session {
        snapshot.map_or_else(Session::default, |snapshot| Session::from_bytes(&snapshot.state))
    }

    fn from_bytes(bytes: &[u8]) -> Session {
        serde_json::from_slice(bytes).unwrap_or_else(|error| {
            tracing::error!(%error, "stored widget session unreadable; starting over");
            Session::default()
        })
    }
}

/// Fills the contact fields the newer details carry.
pub(crate) fn merge_contact(into: &mut Contact, from: &Contact) {
    for (slot, value) in [
        (&mut into.name, &from.name),
        (&mut into.email, &from.email),
        (&mut into.phone, &from.phone),
    ] {
        if let Some(value) = value.as_ref().filter(|v| !v.trim().is_empty()) {
            *slot = Some(value.trim().to_owned());
        }
    }
    into.attributes.extend(from.attributes.clone());
}

/// A session with the version it was read at (0 when new).
pub async fn load(store: &dyn Store, key: &str) -> Result<(i64, Session), StoreError> {
    Ok(match store.load_conversation(key).await? {
        Some(snapshot) => (snapshot.version, Session::read(Some(&snapshot))),
        None => (0, Session::default()),
    })
}
