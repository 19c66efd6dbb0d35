//! Unit tests of `decode_event` over Chatwoot-shaped payloads and hostile input.

use serde_json::json;

use super::*;

fn decode(value: &Value) -> Result<CxEvent, DecodeError> {
    decode_event(value.to_string().as_bytes())
}

fn message_created() -> Value {
    json!({
        "event": "message_created",
        "id": 501,
        "content": "I need help",
        "content_type": "text",
        "content_attributes": {},
        "message_type": "incoming",
        "private": false,
        "created_at": "2026-11-24T10:00:00.000Z",
        "sender": {"id": 9, "name": "Ann", "email": "ann@example.com", "type": "contact"},
        "inbox": {"id": 3, "name": "Web"},
        "account": {"id": 1, "name": "Acme"},
        "conversation": {
            "id": "42", "inbox_id": 3, "status": "pending",
            "meta": {"sender": {"id": 9, "name": "Ann"}, "assignee": null},
            "labels": ["vip"],
            "custom_attributes": {"plan": "gold"},
            "messages": [{"id": 501, "content": "I need help", "message_type": 0, "created_at": 1_795_000_000}]
        },
        "attachments": [],
        "some_future_field": {"x": 1}
    })
}

#[test]
fn message_created_with_string_type_and_nested_conversation() {
    let CxEvent::MessageCreated(message) = decode(&message_created()).unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(message.id, MessageId(501));
    assert_eq!(message.conversation_id, ConversationId(42));
    assert_eq!(message.inbox_id, Some(InboxId(3)));
    assert!(message.is_from_customer());
    assert!(!message.is_from_human_agent());
    let sender = message.sender.as_ref().unwrap();
    assert_eq!(sender.kind, ParticipantKind::Contact);
    let conversation = message.conversation.unwrap();
    assert_eq!(conversation.status, Some(ConversationStatus::Pending));
    assert_eq!(conversation.contact.unwrap().kind, ParticipantKind::Contact);
    assert_eq!(conversation.labels, ["vip"]);
    assert_eq!(conversation.custom_attributes["plan"], "gold");
    assert_eq!(conversation.messages[0].message_type, Some(MessageType::Incoming));
    assert_eq!(conversation.messages[0].created_at.as_deref(), Some("1795000000"));
}

#[test]
fn agent_reply_private_note_and_updates() {
    let mut value = message_created();
    value["message_type"] = json!("outgoing");
    value["sender"] = json!({"id": 2, "name": "Agent Bob", "type": "user"});
    let event = decode(&value).unwrap();
    assert_eq!(event.name(), "message_created");
    let CxEvent::MessageCreated(message) = event else { panic!() };
    assert!(message.is_from_human_agent());
    value["private"] = json!(true);
    value["event"] = json!("message_updated");
    let CxEvent::MessageUpdated(message) = decode(&value).unwrap() else { panic!() };
    assert!(!message.is_from_human_agent() && !message.is_from_customer());
}

#[test]
fn top_level_conversation_id_is_enough() {
    let value =
        json!({"event": "message_created", "id": "7", "conversation_id": 12, "message_type": 0});
    let CxEvent::MessageCreated(message) = decode(&value).unwrap() else { panic!() };
    assert_eq!(message.conversation_id, ConversationId(12));
    assert_eq!(message.message_type, MessageType::Incoming);
    assert!(message.attachments.is_empty());
}

#[test]
fn conversation_events_sit_beside_event() {
    let value = json!({
        "event": "conversation_status_changed", "id": 42, "inbox_id": "3", "status": "open",
        "changed_attributes": [{"status": {"previous_value": "pending", "current_value": "open"}}],
        "meta": {"sender": {"id": 9, "type": "contact"}, "assignee": {"id": 2, "name": "Bob"}}
    });
    let event = decode(&value).unwrap();
    assert_eq!(event.conversation_id(), Some(ConversationId(42)));
    let CxEvent::ConversationStatusChanged(change) = event else { panic!() };
    assert_eq!(
        change.status_change(),
        Some((Some(ConversationStatus::Pending), ConversationStatus::Open))
    );
    assert_eq!(change.conversation.assignee.unwrap().kind, ParticipantKind::User);
    for (name, expect_variant) in [
        ("conversation_created", 0),
        ("conversation_updated", 1),
        ("conversation_opened", 2),
        ("conversation_resolved", 3),
    ] {
        let event = decode(&json!({"event": name, "id": 5, "status": "resolved"})).unwrap();
        let matched = match event {
            CxEvent::ConversationCreated(_) => 0,
            CxEvent::ConversationUpdated(_) => 1,
            CxEvent::ConversationOpened(_) => 2,
            CxEvent::ConversationResolved(_) => 3,
            _ => 99,
        };
        assert_eq!(matched, expect_variant, "{name}");
    }
}

#[test]
fn webwidget_and_unknown_events() {
    let value = json!({"event": "webwidget_triggered", "id": 1, "contact": {"id": 9, "name": "Ann"},
                       "inbox": {"id": 3}, "source_id": "abc", "current_conversation": null, "event_info": {"browser": "x"}});
    let CxEvent::WebwidgetTriggered(widget) = decode(&value).unwrap() else { panic!() };
    assert_eq!(widget.inbox_id, Some(InboxId(3)));
    assert_eq!(widget.source_id.as_deref(), Some("abc"));
    assert!(widget.conversation.is_none());
    assert_eq!(
        decode(&json!({"event": "contact_created", "id": 1})).unwrap(),
        CxEvent::Unknown("contact_created".into())
    );
}

#[test]
fn precise_errors() {
    let cases: Vec<(&[u8], &str)> = vec![
        (b"{not json", "the body is not valid JSON: key must be a string at line 1 column 2"),
        (b"[1,2]", "the body must be a JSON object, found a list"),
        (b"{}", "the body has no `event` field"),
        (br#"{"event": 3}"#, "`event` must be a string, found 3"),
        (br#"{"event": "message_created", "conversation_id": 1, "message_type": "incoming"}"#, "message_created: `id` is missing"),
        (br#"{"event": "message_created", "id": true, "conversation_id": 1}"#, "message_created: `id` should be a numeric id, found true"),
        (br#"{"event": "message_created", "id": 1, "message_type": "incoming"}"#,
         "message_created: `conversation` is missing (neither `conversation.id` nor `conversation_id`)"),
        (br#"{"event": "message_created", "id": 1, "conversation": {"id": "x"}, "message_type": "incoming"}"#,
         "message_created: `conversation.id` should be a numeric id, found \"x\""),
        (br#"{"event": "message_created", "id": 1, "conversation_id": 1, "message_type": [], "private": false}"#,
         "message_created: `message_type` should be `incoming`, `outgoing`, … or 0–3, found []"),
        (br#"{"event": "message_created", "id": 1, "conversation_id": 1, "message_type": "incoming", "private": "no"}"#,
         "message_created: `private` should be true or false, found \"no\""),
        (br#"{"event": "conversation_created", "id": 1, "messages": [{"id": 2, "message_type": 0}, 5]}"#,
         "conversation_created: `messages[1]` should be an object, found 5"),
        (br#"{"event": "conversation_updated", "id": 1, "changed_attributes": "status"}"#,
         "conversation_updated: `changed_attributes` should be a list, found \"status\""),
        (br#"{"event": "conversation_created", "id": 1, "meta": {"sender": 4}}"#,
         "conversation_created: `meta.sender` should be an object, found 4"),
    ];
    for (body, expected) in cases {
        assert_eq!(
            decode_event(body).unwrap_err().to_string(),
            expected,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}
