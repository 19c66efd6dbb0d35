//! Decision records: what the bot decided in one engine step, written with the turn that
//! committed it (same transaction) and read back by `botrun report`. The store keeps them as
//! plain text columns; what the words mean (outcomes, reasons) is the server's business.

use chrono::{DateTime, Utc};

/// One engine step's decision, as the server describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecisionRecord {
    /// The bot's name.
    pub bot: String,
    pub at: DateTime<Utc>,
    /// What started the step: `message`, `button`, `attachment`, `start`, `timer`, `return`…
    pub event: String,
    /// The customer's words, when the service's policy keeps them.
    pub text: Option<String>,
    /// The intent that matched, if one did.
    pub intent: Option<String>,
    /// A customer message no rule understood.
    pub missed: bool,
    /// The open question the message did not answer (its variable).
    pub question: Option<String>,
    pub state_before: Option<String>,
    pub state_after: Option<String>,
    /// `answered`, `retry`, `retries_exhausted`, `handoff`, `resolved`, `timeout`, …
    pub outcome: String,
    /// The first rule that ran, e.g. `state menu / when track`.
    pub rule: Option<String>,
    /// Why a handoff happened, from a small fixed set.
    pub reason: Option<String>,
    /// The handoff note for the agent.
    pub note: Option<String>,
}

/// A stored record and its conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDecision {
    pub conversation: String,
    pub record: DecisionRecord,
}

/// Which records [`crate::store::Store::decisions`] returns: `since <= at < until`, one bot or
/// all, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionQuery {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub bot: Option<String>,
}

impl Default for DecisionQuery {
    fn default() -> DecisionQuery {
        DecisionQuery {
            since: DateTime::<Utc>::MIN_UTC,
            until: DateTime::<Utc>::MAX_UTC,
            bot: None,
        }
    }
}
