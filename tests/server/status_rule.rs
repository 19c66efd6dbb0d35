//! The one status rule (`docs/architecture.md`, "The status rule") through Flow B's webhook:
//! hand-back from any human status, with or without `changed_attributes`; a human-owned or
//! unknown conversation is never greeted; two status changes without delivery ids are two.

use axum::http::StatusCode;
use serde_json::json;

use super::harness::{conversation_created, customer_message, status_changed, Call, Harness};

/// Starts conversation 1 in faq.bot and hands it to a human.
async fn handed_off() -> Harness {
    let h = Harness::new("faq.bot").await;
    h.post(&conversation_created(1)).await;
    h.post(&customer_message(h.message_id(), 1, "talk to a person")).await;
    h.settle().await;
    assert_eq!(h.take_calls().last(), Some(&Call::DeliverToAgent { conversation: "1".into() }));
    h
}

async fn bot_answers(h: &Harness) -> bool {
    h.post(&customer_message(h.message_id(), 1, "payment methods")).await;
    h.settle().await;
    Harness::texts(&h.take_calls()).last().map(String::as_str)
        == Some("You can pay by credit card, PayPal or invoice.")
}

#[tokio::test]
async fn snoozed_to_pending_hands_back() {
    let h = handed_off().await;
    h.post(&status_changed(1, "open", "snoozed", 1)).await;
    h.post(&status_changed(1, "snoozed", "pending", 2)).await;
    assert!(bot_answers(&h).await);
}

#[tokio::test]
async fn pending_without_changed_attributes_hands_back() {
    let h = handed_off().await;
    let bare = json!({"event": "conversation_status_changed", "id": 1, "inbox_id": 7,
        "status": "pending", "updated_at": 5});
    let (status, answer) = h.post(&bare).await;
    assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some("accepted")));
    assert!(bot_answers(&h).await);
}

#[tokio::test]
async fn a_second_hand_back_without_delivery_ids_is_not_a_duplicate() {
    let h = handed_off().await;
    h.post(&status_changed(1, "open", "pending", 2)).await;
    assert!(bot_answers(&h).await);
    h.post(&customer_message(h.message_id(), 1, "talk to a person")).await;
    h.settle().await;
    h.take_calls();
    let (_, answer) = h.post(&status_changed(1, "open", "pending", 3)).await;
    assert_eq!(answer["status"], "accepted");
    assert!(bot_answers(&h).await);
    // The very same delivery again (same transition, same time) is a duplicate.
    let (_, answer) = h.post(&status_changed(1, "open", "pending", 3)).await;
    assert_eq!(answer["status"], "duplicate");
}

#[tokio::test]
async fn a_widget_open_never_greets_by_contact_inbox_id_nor_a_human_owned_conversation() {
    let h = Harness::new("faq.bot").await;
    // A new visitor: the top-level id is the contact-inbox (5), not a conversation.
    let new_visitor = json!({"event": "webwidget_triggered", "id": 5, "source_id": "abc",
        "inbox": {"id": 7}, "contact": {"id": 3, "name": "Ada"}, "current_conversation": null});
    let (status, answer) = h.post(&new_visitor).await;
    assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some("ignored")));
    // A returning visitor whose conversation an agent has.
    let mut with_agent = new_visitor.clone();
    with_agent["current_conversation"] = json!({"id": 9, "inbox_id": 7, "status": "open"});
    let (_, answer) = h.post(&with_agent).await;
    assert_eq!(answer["status"], "ignored");
    h.settle().await;
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    // A returning visitor whose conversation the bot has: greeted there, once.
    let mut with_bot = new_visitor;
    with_bot["current_conversation"] = json!({"id": 9, "inbox_id": 7, "status": "pending"});
    assert_eq!(h.post(&with_bot).await.1["status"], "accepted");
    assert_eq!(h.post(&with_bot).await.1["status"], "duplicate");
    h.settle().await;
    let calls = h.calls();
    assert!(!calls.is_empty());
    assert!(calls.iter().all(|call| matches!(call,
        Call::Text { conversation, .. } | Call::Buttons { conversation, .. } if conversation == "9")));
}
