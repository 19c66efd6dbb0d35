//! Webhook delivery to a real receiver: events and shapes, the caller's own messages echoed,
//! agent-bot events, agent-bot retries on 500, hand-off after the last failure, signatures.

use std::time::Duration;

use botrun::emulator::{EmulatorOptions, Status};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::harness::{event_is, fast_options, Cx, Receiver, TENANT};

#[tokio::test]
async fn message_created_echoes_the_callers_own_messages_with_both_shapes() {
    let cx = Cx::start().await;
    let receiver = Receiver::start(0).await;
    cx.subscribe(
        &receiver.url(),
        &[
            "conversation_created",
            "message_created",
            "conversation_status_changed",
            "conversation_updated",
        ],
    )
    .await;
    let id = cx.flow_a_conversation().await;
    let created = receiver.wait_for(1, event_is("conversation_created")).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].body["id"], id);
    assert_eq!(created[0].body["status"], "open", "no agent bot and no status asked: humans");
    assert!(created[0].headers.contains_key("x-chatwoot-delivery"));

    cx.ok(
        "messages/",
        json!({"tenant_domain": TENANT, "conversation_id": id, "content": "hi", "message_type": "incoming"}),
    )
    .await;
    cx.ok(
        "messages/",
        json!({"tenant_domain": TENANT, "conversation_id": id, "content": "Hello!"}),
    )
    .await;
    let messages = receiver.wait_for(2, event_is("message_created")).await;
    assert_eq!(messages.len(), 2);
    let incoming = &messages[0].body;
    assert_eq!(incoming["message_type"], "incoming", "string at top level");
    assert!(incoming["created_at"].as_str().unwrap().contains('T'), "ISO at top level");
    assert_eq!(incoming["private"], false);
    assert_eq!(incoming["sender"]["id"], incoming["conversation"]["meta"]["sender"]["id"]);
    assert!(incoming["sender"].get("type").is_none(), "Contact#webhook_data has no type");
    assert_eq!(incoming["conversation"]["meta"]["sender"]["type"], "contact");
    assert_eq!(incoming["conversation"]["id"], id);
    assert_eq!(incoming["conversation"]["messages"][0]["message_type"], 0, "integer inside");
    assert!(incoming["conversation"]["messages"][0]["created_at"].is_i64(), "unix inside");
    let outgoing = &messages[1].body;
    assert_eq!(outgoing["message_type"], "outgoing");
    assert_eq!(outgoing["sender"]["type"], "agent_bot", "the caller's own message is echoed");
    assert_eq!(outgoing["conversation"]["messages"][0]["message_type"], 1);
    assert_eq!(outgoing["inbox"]["id"], 1);

    cx.ok(
        "conversations/deliver-to-agent/",
        json!({"tenant_domain": TENANT, "conversation_id": id}),
    )
    .await;
    cx.emulator.control().resolve(id).unwrap();
    let changed = receiver.wait_for(1, event_is("conversation_status_changed")).await;
    assert_eq!(changed[0].body["status"], "resolved");
    let updated = receiver.wait_for(1, event_is("conversation_updated")).await;
    assert_eq!(
        updated[0].body["changed_attributes"][0]["status"],
        json!({"previous_value": "open", "current_value": "resolved"})
    );

    // A human agent's reply reaches the webhook with sender type user.
    cx.emulator.control().agent_reply(id, "Alex", "I'm here", false).unwrap();
    let messages = receiver.wait_for(3, event_is("message_created")).await;
    assert_eq!(messages[2].body["sender"]["type"], "user");
    assert_eq!(messages[2].body["sender"]["name"], "Alex");

    // Per-target order is creation order.
    let order: Vec<String> =
        receiver.received().iter().map(|r| r.body["event"].as_str().unwrap().to_owned()).collect();
    assert_eq!(order.first().map(String::as_str), Some("conversation_created"));
    assert_eq!(order.last().map(String::as_str), Some("message_created"));
}

#[tokio::test]
async fn unsubscribed_events_are_not_sent() {
    let cx = Cx::start().await;
    let receiver = Receiver::start(0).await;
    cx.subscribe(&receiver.url(), &["message_created"]).await;
    let id = cx.flow_a_conversation().await;
    cx.ok("messages/", json!({"tenant_domain": TENANT, "conversation_id": id, "content": "x"}))
        .await;
    assert_eq!(receiver.wait_for(1, event_is("message_created")).await.len(), 1);
    // Once the emulator owes nothing, whatever it sent has arrived.
    cx.deliveries_settled().await;
    let events: Vec<_> = receiver.received().iter().map(|r| r.body["event"].clone()).collect();
    assert_eq!(events, ["message_created"]);
}

#[tokio::test]
async fn agent_bot_gets_flow_b_events() {
    let cx = Cx::start().await;
    let bot_target = Receiver::start(0).await;
    let bot = cx
        .ok(
            "agents-bot/",
            json!({"tenant_domain": TENANT, "name": "helper", "description": "d", "outgoing_url": bot_target.url()}),
        )
        .await;
    cx.ok(
        "agents-bot/assign/",
        json!({"tenant_domain": TENANT, "inbox_id": 2, "agent_bot_id": bot["id"]}),
    )
    .await;
    let control = cx.emulator.control();
    let conversation = control.customer_start(2, "Casey").unwrap();
    assert_eq!(bot_target.wait_for(1, event_is("webwidget_triggered")).await.len(), 1);
    control.customer_says(conversation.id, "where is my order").unwrap();
    let message = bot_target.wait_for(1, event_is("message_created")).await;
    assert_eq!(message[0].body["content"], "where is my order");
    assert_eq!(message[0].body["conversation"]["status"], "pending");
    cx.ok(
        "conversations/deliver-to-agent/",
        json!({"tenant_domain": TENANT, "conversation_id": conversation.id}),
    )
    .await;
    assert_eq!(bot_target.wait_for(1, event_is("conversation_opened")).await.len(), 1);
    cx.ok(
        "conversations/finish/",
        json!({"tenant_domain": TENANT, "conversation_id": conversation.id}),
    )
    .await;
    assert_eq!(bot_target.wait_for(1, event_is("conversation_resolved")).await.len(), 1);
}

#[tokio::test]
async fn agent_bot_deliveries_retry_on_500_with_the_same_delivery_id() {
    let cx = Cx::start().await;
    let receiver = Receiver::start(2).await;
    cx.agent_bot(&receiver.url(), 2).await;
    cx.emulator.control().visitor_opens(2, "Ada").unwrap();
    let got = receiver.wait_for(3, event_is("webwidget_triggered")).await;
    assert_eq!(got.len(), 3, "two failures then success");
    let ids: Vec<_> = got.iter().map(|r| r.headers["x-chatwoot-delivery"].clone()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] == pair[1]));
    cx.deliveries_settled().await;
    let records = cx.emulator.control().deliveries();
    assert_eq!(records.len(), 1);
    assert!(records[0].delivered);
    assert_eq!(records[0].attempts, 3);
}

#[tokio::test]
async fn a_bot_failing_on_a_message_hands_the_pending_conversation_to_humans() {
    let cx = Cx::start().await;
    let receiver = Receiver::start(u32::MAX).await;
    cx.agent_bot(&receiver.url(), 2).await;
    let control = cx.emulator.control();
    let id = control.customer_start(2, "Ada").unwrap().id;
    assert_eq!(control.conversation(id).unwrap().status, Status::Pending);
    control.customer_says(id, "hello").unwrap();
    let attempts = receiver.wait_for(3, event_is("message_created")).await;
    assert_eq!(attempts.len(), 3, "3 attempts in all (AgentBots::WebhookJob)");
    // The delivery is recorded, and the conversation handed over, only after its last attempt.
    cx.deliveries_settled().await;
    assert_eq!(control.conversation(id).unwrap().status, Status::Open);
    let record = control.deliveries().into_iter().find(|d| d.event == "message_created").unwrap();
    assert!(!record.delivered);
    assert_eq!(record.attempts, 3);
    assert_eq!(record.last_status, Some(500));
    let posts = receiver.received().iter().filter(|r| r.body["event"] == "message_created").count();
    assert_eq!(posts, 3, "no fourth attempt");
}

#[tokio::test]
async fn signed_deliveries_verify() {
    let secret = "s3cret";
    let cx =
        Cx::with(EmulatorOptions { webhook_secret: Some(secret.into()), ..fast_options() }).await;
    let receiver = Receiver::start(0).await;
    cx.subscribe(&receiver.url(), &["conversation_created"]).await;
    cx.flow_a_conversation().await;
    let got = receiver.wait_for(1, event_is("conversation_created")).await;
    let delivery = &got[0];
    let timestamp = delivery.headers["x-chatwoot-timestamp"].to_str().unwrap();
    let signature = delivery.headers["x-chatwoot-signature"].to_str().unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{}", delivery.raw).as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(signature, expected);
    let age = chrono::Utc::now().timestamp() - timestamp.parse::<i64>().unwrap();
    assert!((0..5).contains(&age));
}

#[tokio::test]
async fn retry_spacing_is_adjustable_at_run_time() {
    let cx = Cx::with(EmulatorOptions {
        webhook_retry_spacing: Duration::from_secs(30),
        ..fast_options()
    })
    .await;
    cx.emulator.control().set_retry_spacing(Duration::from_millis(5));
    let receiver = Receiver::start(1).await;
    cx.agent_bot(&receiver.url(), 2).await;
    cx.emulator.control().visitor_opens(2, "Ada").unwrap();
    assert_eq!(receiver.wait_for(2, event_is("webwidget_triggered")).await.len(), 2);
    assert_eq!(receiver.failures_left(), 0);
}
