//! Activities on the wire: checking what a page posts, and the typed activities a host pushes
//! (bot or agent messages, suggested actions, events, typing, end of conversation).

use serde_json::{json, Map, Value};

/// Who an outgoing activity is from; `role` is never `user` (rule 6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sender {
    pub id: String,
    pub name: String,
    /// `bot` for the bot and for human agents (the name tells the customer who speaks).
    pub role: String,
}

impl Sender {
    /// The bot itself.
    pub fn bot(name: &str) -> Self {
        Self { id: "botrun".into(), name: name.into(), role: "bot".into() }
    }

    /// A human agent speaking through the widget.
    pub fn agent(id: &str, name: &str) -> Self {
        Self { id: format!("agent-{id}"), name: name.into(), role: "bot".into() }
    }

    fn to_json(&self) -> Value {
        json!({"id": self.id, "name": self.name, "role": self.role})
    }
}

/// What a host pushes to the page.
#[derive(Clone, Debug, PartialEq)]
pub enum OutgoingActivity {
    /// A text message, with quick replies shown as suggested actions (rule 8).
    Message { from: Sender, text: String, suggested_actions: Vec<String> },
    /// A named event the page may react to, e.g. `botrun.handoff`.
    Event { from: Sender, name: String, value: Value },
    /// The typing indicator: streamed, never stored (rule 7).
    Typing { from: Sender },
    /// The conversation is over for now.
    EndOfConversation { from: Sender },
}

impl OutgoingActivity {
    /// Whether the activity is kept in the history (everything but typing).
    pub(crate) fn is_stored(&self) -> bool {
        !matches!(self, Self::Typing { .. })
    }

    /// The Direct Line JSON, without `id`, `timestamp` and `conversation` (the service adds them).
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Self::Message { from, text, suggested_actions } => {
                let mut activity = json!({"type": "message", "from": from.to_json(), "text": text});
                if !suggested_actions.is_empty() {
                    let actions: Vec<Value> = suggested_actions
                        .iter()
                        .map(|choice| json!({"type": "imBack", "title": choice, "value": choice}))
                        .collect();
                    activity["suggestedActions"] = json!({ "actions": actions });
                }
                activity
            }
            Self::Event { from, name, value } => {
                json!({"type": "event", "from": from.to_json(), "name": name, "value": value})
            }
            Self::Typing { from } => json!({"type": "typing", "from": from.to_json()}),
            Self::EndOfConversation { from } => {
                json!({"type": "endOfConversation", "from": from.to_json()})
            }
        }
    }
}

/// A customer activity as the host sees it, after the echo was stored.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerActivity {
    /// Server id of the stored echo.
    pub id: String,
    /// `message`, `event`, …
    pub kind: String,
    /// The text of a message (a suggested-action click arrives as its `value`).
    pub text: Option<String>,
    /// The name of an event.
    pub name: Option<String>,
    /// The value of an event or a message.
    pub value: Option<Value>,
    /// The customer's user id from the token.
    pub user_id: String,
    /// The full stored activity.
    pub raw: Value,
}

/// Longest activity type accepted. Direct Line passes any type through (`endOfConversation`,
/// `messageReaction`, `installationUpdate`, `trace`, …), so only the shape is checked.
const MAX_TYPE_BYTES: usize = 64;
/// Longest message text accepted, in bytes.
pub(crate) const MAX_TEXT_BYTES: usize = 16 * 1024;

/// Checks a posted body and returns it as an object ready to be stamped, or why it is refused.
pub(crate) fn check_posted(body: &[u8]) -> Result<Map<String, Value>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|err| format!("the body is not valid JSON: {err}"))?;
    let Value::Object(activity) = value else {
        return Err("an activity must be a JSON object".into());
    };
    let kind = match activity.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => return Err("`type` must be a string".into()),
        None => return Err("the activity has no `type`".into()),
    };
    if kind.is_empty() || kind.len() > MAX_TYPE_BYTES || kind.chars().any(char::is_control) {
        return Err(format!("`type` must be 1 to {MAX_TYPE_BYTES} printable characters"));
    }
    match activity.get("text") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) if text.len() <= MAX_TEXT_BYTES => {}
        Some(Value::String(_)) => {
            return Err(format!("`text` is longer than {MAX_TEXT_BYTES} bytes"));
        }
        Some(_) => return Err("`text` must be a string".into()),
    }
    if kind == "event" && !matches!(activity.get("name"), Some(Value::String(_))) {
        return Err("an event activity needs a string `name`".into());
    }
    if let Some(channel_data) = activity.get("channelData") {
        if !channel_data.is_object() && !channel_data.is_null() {
            return Err("`channelData` must be an object".into());
        }
    }
    Ok(activity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_malformed_activities() {
        assert!(check_posted(b"nope").is_err());
        assert!(check_posted(b"[]").is_err());
        assert!(check_posted(br#"{"text":"hi"}"#).is_err());
        assert!(check_posted(br#"{"type":3}"#).is_err());
        assert!(check_posted(br#"{"type":"message","text":5}"#).is_err());
        assert!(check_posted(br#"{"type":""}"#).is_err());
        for kind in ["endOfConversation", "messageReaction", "installationUpdate", "trace"] {
            let body = format!(r#"{{"type":"{kind}"}}"#);
            assert!(check_posted(body.as_bytes()).is_ok(), "{kind} is refused");
        }
        assert!(check_posted(br#"{"type":"event"}"#).is_err());
        assert!(check_posted(br#"{"type":"message","text":"hi"}"#).is_ok());
    }

    #[test]
    fn suggested_actions_are_im_back() {
        let activity = OutgoingActivity::Message {
            from: Sender::bot("Acme"),
            text: "Pick".into(),
            suggested_actions: vec!["Yes".into()],
        }
        .to_json();
        assert_eq!(
            activity["suggestedActions"]["actions"][0],
            json!({"type":"imBack","title":"Yes","value":"Yes"})
        );
        assert_eq!(activity["from"]["role"], "bot");
    }
}
