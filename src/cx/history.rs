//! Reading a conversation's messages back from CX (`paths.message_list`), for Flow A to relay
//! what an account webhook missed: CX never retries those deliveries. The path is not published
//! by Sangoma; the answer is read in the shape of Chatwoot's messages listing
//! (`{"payload": [message…]}` with integer or string `message_type`), or a bare list.

use reqwest::Method;
use serde_json::Value;

use super::client::{decode_error, parse_json, CxClient};
use super::{ConversationId, CxError};

/// One message as the listing gives it, reduced to what a relay needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ListedMessage {
    pub id: u64,
    pub content: Option<String>,
    /// `outgoing` (from CX's side: agents, bots, the API) rather than the customer's.
    pub outgoing: bool,
    pub private: bool,
    /// `sender.type` when given: `user`, `agent_bot`, `contact`.
    pub sender_type: Option<String>,
    pub sender_name: Option<String>,
    /// The key the message was created with (`source_id`), if any.
    pub source_id: Option<String>,
}

impl CxClient {
    /// True when the tenant has a messages listing (a non-empty `paths.message_list`).
    pub(crate) fn can_list_messages(&self) -> bool {
        !self.inner.config.paths.message_list.trim().is_empty()
    }

    /// `GET paths.message_list` for `conversation_id`, messages after `after` (a message id),
    /// oldest first.
    pub(crate) async fn list_messages(
        &self,
        conversation_id: ConversationId,
        after: Option<u64>,
    ) -> Result<Vec<ListedMessage>, CxError> {
        const CALL: &str = "list_messages";
        let config = &self.inner.config;
        if !self.can_list_messages() {
            return Err(CxError::Config("paths.message_list is empty: no messages listing".into()));
        }
        let mut path =
            config.paths.message_list.replace("{conversation_id}", &conversation_id.0.to_string());
        let mut query = vec![format!("tenant_domain={}", config.tenant_domain)];
        if let Some(after) = after {
            query.push(format!("after={after}"));
        }
        path.push(if path.contains('?') { '&' } else { '?' });
        path.push_str(&query.join("&"));
        let body = self.api_call(CALL, Method::GET, &path, None).await?;
        let value = parse_json(CALL, &body)?;
        let list = match &value {
            Value::Array(items) => items,
            Value::Object(map) => match map.get("payload") {
                Some(Value::Array(items)) => items,
                _ => return Err(decode_error(CALL, "no `payload` list".into(), &body)),
            },
            _ => return Err(decode_error(CALL, "not a list of messages".into(), &body)),
        };
        let mut messages: Vec<ListedMessage> = list.iter().filter_map(read_listed).collect();
        messages.sort_by_key(|m| m.id);
        Ok(messages)
    }
}

fn read_listed(item: &Value) -> Option<ListedMessage> {
    let id = match item.get("id")? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    let outgoing = match item.get("message_type") {
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        Some(Value::String(s)) => s == "outgoing",
        _ => false,
    };
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    Some(ListedMessage {
        id,
        content: text(item.get("content")),
        outgoing,
        private: item.get("private").and_then(Value::as_bool).unwrap_or(false),
        sender_type: text(item.pointer("/sender/type")),
        sender_name: text(item.pointer("/sender/name")),
        source_id: text(item.get("source_id")),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::read_listed;

    #[test]
    fn listed_messages_are_read_from_either_message_type_form() {
        let listed = read_listed(&json!({"id": "7", "content": "hi", "message_type": 1,
            "private": false, "sender": {"type": "user", "name": "Alex"}}))
        .unwrap();
        assert_eq!((listed.id, listed.outgoing), (7, true));
        assert_eq!(listed.sender_name.as_deref(), Some("Alex"));
        let customer = read_listed(&json!({"id": 8, "message_type": "incoming"})).unwrap();
        assert!(!customer.outgoing);
        assert!(read_listed(&json!({"content": "no id"})).is_none());
    }
}
