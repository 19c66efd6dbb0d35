//! Who owns a CX conversation, and what a change of its status means for the bot. Both flows ask
//! these functions; nothing else decides it (`docs/architecture.md`, "The status rule").
//!
//! CX keeps ownership in the conversation's `status`: `pending` is the bot's, `open` and
//! `snoozed` are the humans', `resolved` is finished. The engine keeps its own view in
//! [`Mode`]. A status change becomes an engine event only when the two disagree:
//!
//! | CX now     | engine            | before (`previous_value`) | engine hears          |
//! |------------|-------------------|---------------------------|-----------------------|
//! | `pending`  | with a human      | anything, or not sent     | `HandedBack`          |
//! | `pending`  | idle, known       | `resolved`                | `Reopened`            |
//! | `resolved` | not idle          | anything, or not sent     | `ResolvedElsewhere`   |
//! | otherwise  |                   |                           | nothing               |
//!
//! Hand-back does not need `previous_value` to be `open`: `snoozed → pending` is a hand-back too,
//! and the engine being with a human already says who had it. A reopen needs `resolved` before,
//! because an idle engine and a `pending` status alone also describe a brand-new conversation.

use crate::cx::{ConversationEvent, ConversationStatus, CxEvent};
use crate::engine::{Event, Mode};

/// True while a human owns the conversation: the bot stays silent and does not greet it.
pub(crate) fn human_owns(status: Option<&ConversationStatus>) -> bool {
    matches!(status, Some(ConversationStatus::Open | ConversationStatus::Snoozed))
}

/// True when a start event may greet the conversation: the bot owns it (`pending`, or no status
/// sent). Not a human's, and not a resolved one: CX makes that `pending` again when the customer
/// writes, and the greeting would land in a finished conversation.
pub(crate) fn bot_may_greet(status: Option<&ConversationStatus>) -> bool {
    matches!(status, None | Some(ConversationStatus::Pending))
}

/// A conversation's status change as a webhook reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StatusChange {
    /// `previous_value`, when CX sent `changed_attributes`.
    pub previous: Option<ConversationStatus>,
    pub current: ConversationStatus,
}

impl StatusChange {
    /// The status change an event reports, if it reports one. `conversation_updated` counts only
    /// when its `changed_attributes` name the status (it is sent for any other change too);
    /// `conversation_resolved` (agent bots) needs no status field to mean `resolved`.
    pub(crate) fn of(event: &CxEvent) -> Option<(&ConversationEvent, StatusChange)> {
        let (conversation, fallback) = match event {
            CxEvent::ConversationStatusChanged(change) => (change, None),
            CxEvent::ConversationUpdated(change) => {
                let (previous, current) = change.status_change()?;
                return Some((change, StatusChange { previous, current }));
            }
            CxEvent::ConversationResolved(change) => (change, Some(ConversationStatus::Resolved)),
            _ => return None,
        };
        let change = match conversation.status_change() {
            Some((previous, current)) => StatusChange { previous, current },
            None => StatusChange {
                previous: None,
                current: conversation.conversation.status.clone().or(fallback)?,
            },
        };
        Some((conversation, change))
    }

    /// Rebuilds a change kept in the store as text.
    pub(crate) fn parse(previous: Option<&str>, current: &str) -> StatusChange {
        StatusChange {
            previous: previous.map(ConversationStatus::parse),
            current: ConversationStatus::parse(current),
        }
    }

    /// What the engine hears, given its mode and whether the conversation ran before.
    pub(crate) fn engine_event(&self, mode: Mode, known: bool) -> Option<Event> {
        match (&self.current, mode) {
            (ConversationStatus::Pending, Mode::WithHuman) => Some(Event::HandedBack),
            (ConversationStatus::Pending, Mode::Idle)
                if known && self.previous == Some(ConversationStatus::Resolved) =>
            {
                Some(Event::Reopened)
            }
            (ConversationStatus::Resolved, Mode::WithBot | Mode::WithHuman) => {
                Some(Event::ResolvedElsewhere)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cx::decode_event;
    use ConversationStatus::{Open, Pending, Resolved, Snoozed};

    fn change(previous: Option<ConversationStatus>, current: ConversationStatus) -> StatusChange {
        StatusChange { previous, current }
    }

    #[test]
    fn humans_own_open_and_snoozed_conversations() {
        assert!(human_owns(Some(&Open)));
        assert!(human_owns(Some(&Snoozed)));
        assert!(!human_owns(Some(&Pending)));
        assert!(!human_owns(Some(&Resolved)));
        assert!(!human_owns(None));
    }

    #[test]
    fn pending_hands_back_whatever_the_previous_status_was() {
        for previous in [Some(Open), Some(Snoozed), None, Some(Resolved)] {
            let handed = change(previous.clone(), Pending).engine_event(Mode::WithHuman, true);
            assert_eq!(handed, Some(Event::HandedBack), "{previous:?}");
        }
        assert_eq!(change(Some(Open), Pending).engine_event(Mode::WithBot, true), None);
    }

    #[test]
    fn a_reopen_needs_a_known_idle_conversation_that_was_resolved() {
        let reopen = change(Some(Resolved), Pending);
        assert_eq!(reopen.engine_event(Mode::Idle, true), Some(Event::Reopened));
        assert_eq!(reopen.engine_event(Mode::Idle, false), None);
        assert_eq!(change(None, Pending).engine_event(Mode::Idle, true), None);
        assert_eq!(change(Some(Open), Pending).engine_event(Mode::Idle, true), None);
    }

    #[test]
    fn resolved_ends_a_running_conversation_only() {
        let resolved = change(None, Resolved);
        assert_eq!(resolved.engine_event(Mode::WithBot, true), Some(Event::ResolvedElsewhere));
        assert_eq!(resolved.engine_event(Mode::WithHuman, true), Some(Event::ResolvedElsewhere));
        assert_eq!(resolved.engine_event(Mode::Idle, true), None);
        assert_eq!(change(Some(Pending), Open).engine_event(Mode::WithBot, true), None);
    }

    fn decoded(body: &str) -> CxEvent {
        decode_event(body.as_bytes()).unwrap()
    }

    #[test]
    fn status_changes_are_read_from_every_status_event() {
        let with_attributes = decoded(
            r#"{"event":"conversation_status_changed","id":4,"status":"pending",
            "changed_attributes":[{"status":{"previous_value":"snoozed","current_value":"pending"}}]}"#,
        );
        let (_, read) = StatusChange::of(&with_attributes).unwrap();
        assert_eq!(read, change(Some(Snoozed), Pending));
        let bare = decoded(r#"{"event":"conversation_status_changed","id":4,"status":"open"}"#);
        assert_eq!(StatusChange::of(&bare).unwrap().1, change(None, Open));
        let resolved = decoded(r#"{"event":"conversation_resolved","id":4}"#);
        assert_eq!(StatusChange::of(&resolved).unwrap().1, change(None, Resolved));
        let other_update = decoded(
            r#"{"event":"conversation_updated","id":4,"status":"open",
            "changed_attributes":[{"priority":{"previous_value":null,"current_value":"high"}}]}"#,
        );
        assert_eq!(StatusChange::of(&other_update), None);
        let message = decoded(
            r#"{"event":"message_created","id":1,"message_type":"incoming","conversation_id":4}"#,
        );
        assert_eq!(StatusChange::of(&message), None);
    }
}
