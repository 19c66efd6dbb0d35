//! What happens to a conversation ([`Event`]) and what the bot wants done about it ([`Action`]).
//!
//! These two lists are the engine's whole contract with the outside world (documented for
//! authors and operators in `docs/engine.md`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The customer's contact record as the platform knows it (`contact.*` in scripts).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Custom attributes (`contact.plan`, …).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// Names a timer the engine scheduled, so its firing can be matched and stale ones ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimerId(pub u64);

/// Names an outstanding `fetch` so its result can be matched to the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FetchId(pub u64);

/// Something that happened to the conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// A new conversation began (runs `on start`).
    Started { contact: Contact },
    /// The customer wrote something.
    Text { text: String },
    /// The customer pressed a button; `value` is the button's value.
    Button { value: String },
    /// The customer sent a file without text (`kind`: image, audio, video, file, …). Runs
    /// `on attachment`; without one it is a message the bot did not understand.
    Attachment { kind: String, url: String },
    /// A timer scheduled earlier is due.
    TimerDue { timer: TimerId },
    /// A human handed the conversation back to the bot (runs `on return`).
    HandedBack,
    /// Someone else (an agent) resolved the conversation; the bot forgets it.
    ResolvedElsewhere,
    /// Someone else reopened a resolved conversation for the bot.
    Reopened,
    /// The answer to a `fetch` request.
    FetchDone { fetch: FetchId, result: FetchResult },
}

/// How a `fetch` ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FetchResult {
    /// An HTTP answer with a 2xx status and a JSON (or text) body.
    Ok { status: u16, body: serde_json::Value },
    /// Non-2xx status, timeout, connection failure, or a body that is not JSON.
    Failed { reason: String },
}

/// One quick-reply button.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    pub value: String,
}

/// HTTP method of a `fetch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// An outgoing HTTP request the host performs on the bot's behalf.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    pub id: FetchId,
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout_ms: u64,
}

/// Something the host must do, in list order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// Send a text message to the customer.
    SendText { text: String },
    /// Show quick-reply buttons. `fallback` is a numbered text list for channels without buttons.
    SendButtons { buttons: Vec<Button>, fallback: String },
    /// Hand the conversation to a human; `note` goes to the agent as a private note.
    Handoff { note: Option<String> },
    /// Finish the conversation. Any farewell was already sent as a `SendText` before this action.
    Resolve,
    /// Fire `TimerDue { timer: id }` at `due` unless cancelled.
    ScheduleTimer { id: TimerId, due: DateTime<Utc> },
    /// Forget a scheduled timer.
    CancelTimer { id: TimerId },
    /// Perform an HTTP request and answer with `Event::FetchDone`.
    Fetch(FetchRequest),
}
