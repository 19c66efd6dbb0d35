//! The emulator behaves as Chatwoot's source says (each test names the file and method it
//! follows; `docs/emulator.md` has the table).

use std::time::Duration;

use axum::http::StatusCode;
use botrun::emulator::{ApiSender, EmulatorOptions, Fault, FaultSpec, Status};
use serde_json::{json, Value};

use super::harness::{event_is, fast_options, Cx, Receiver, TENANT};

/// `ConversationBuilder#conversation_params` + `Conversation#determine_conversation_status`.
#[tokio::test]
async fn api_conversations_start_open_unless_asked_or_the_inbox_has_a_bot() {
    let cx = Cx::start().await;
    let contact = cx
        .ok("contacts/", json!({"tenant_domain": TENANT, "inbox_id": 1, "name": "Ada"}))
        .await["payload"]["contact"]["id"]
        .clone();
    let create = |status: Option<&str>| {
        let mut body = json!({"tenant_domain": TENANT, "inbox_id": 1, "contact_id": contact});
        if let Some(status) = status {
            body["status"] = json!(status);
        }
        body
    };
    assert_eq!(cx.ok("conversations/", create(None)).await["status"], "open");
    assert_eq!(cx.ok("conversations/", create(Some("pending"))).await["status"], "pending");
    let (status, answer) = cx.post("conversations/", create(Some("bot"))).await;
    assert_eq!(status, 422, "{answer}");
    cx.agent_bot("http://127.0.0.1:9/bot", 1).await;
    assert_eq!(
        cx.ok("conversations/", create(Some("open"))).await["status"],
        "pending",
        "an active agent bot overrides the asked status"
    );
}

/// `Contact#webhook_data` (no `type`), `User#webhook_data`, `AgentBot#webhook_data`.
#[tokio::test]
async fn senders_are_shaped_as_chatwoot_shapes_them_and_the_api_sender_is_an_option() {
    for (api_sender, expected) in [(ApiSender::AgentBot, "agent_bot"), (ApiSender::User, "user")] {
        let cx = Cx::with(EmulatorOptions { api_sender, ..fast_options() }).await;
        let receiver = Receiver::start(0).await;
        cx.subscribe(&receiver.url(), &["message_created"]).await;
        let id = cx.flow_a_conversation().await;
        cx.ok(
            "messages/",
            json!({"tenant_domain": TENANT, "conversation_id": id, "content": "hi", "message_type": "incoming"}),
        )
        .await;
        let sent = cx
            .ok(
                "messages/",
                json!({"tenant_domain": TENANT, "conversation_id": id, "content": "Hello"}),
            )
            .await;
        cx.emulator.control().agent_reply(id, "Alex", "I'm here", false).unwrap();
        let got = receiver.wait_for(3, event_is("message_created")).await;
        let contact = &got[0].body["sender"];
        assert!(contact.get("type").is_none(), "{contact}");
        assert_eq!(contact["name"], "Ada");
        assert!(contact["account"].is_object());
        assert_eq!(got[1].body["id"], sent["id"], "the caller's own message is echoed");
        assert_eq!(got[1].body["sender"]["type"], expected);
        let agent = &got[2].body["sender"];
        assert_eq!((agent["type"].as_str(), agent["name"].as_str()), (Some("user"), Some("Alex")));
        assert!(agent["email"].is_string());
        assert!(got[0].body.get("conversation_id").is_none(), "Message#webhook_data has none");
    }
}

/// `ContactInbox#webhook_data` and `#current_conversation`; `AgentBotListener#webwidget_triggered`.
#[tokio::test]
async fn webwidget_triggered_carries_the_contact_inbox_and_its_newest_conversation() {
    let cx = Cx::with(EmulatorOptions { per_kind_ids: true, ..fast_options() }).await;
    let bot = Receiver::start(0).await;
    cx.agent_bot(&bot.url(), 2).await;
    let control = cx.emulator.control();
    // Another customer with two conversations: ids of different kinds collide, as in Chatwoot.
    let other = control.visitor_opens(2, "Other").unwrap();
    control.visitor_writes(other.id, "first").unwrap();
    let others = control.visitor_writes(other.id, "second").unwrap().conversation_id;
    let visitor = control.visitor_opens(2, "Ada").unwrap();
    assert_eq!(visitor.contact_inbox_id, others, "the new visitor's contact inbox id is taken");
    assert_eq!(control.conversation(others).unwrap().contact_id, other.id);
    let opened = bot.wait_for(2, event_is("webwidget_triggered")).await;
    let body = &opened[1].body;
    assert_eq!(body["id"], visitor.contact_inbox_id, "top-level id is the contact inbox's");
    assert_eq!(body["current_conversation"], Value::Null, "a new visitor has none");
    assert_eq!(body["contact"]["id"], visitor.id);
    assert_eq!(body["source_id"], visitor.source_id.as_str());
    assert!(body["event_info"].is_object());

    // The visitor writes: the widget creates the conversation with the first message.
    let first = control.visitor_writes(visitor.id, "hello").unwrap();
    control.resolve(first.conversation_id).unwrap();
    // Every later open fires again, naming the newest conversation whatever its status.
    control.visitor_returns(first.conversation_id).unwrap();
    let opened = bot.wait_for(3, event_is("webwidget_triggered")).await;
    let current = &opened[2].body["current_conversation"];
    assert_eq!(current["id"], first.conversation_id);
    assert_eq!(current["status"], "resolved");
    assert_eq!(current["contact_inbox"]["id"], visitor.contact_inbox_id);
}

/// `Api::V1::Widget::MessagesController#update` → `Message#dispatch_update_event`.
#[tokio::test]
async fn a_button_click_updates_the_bots_message_and_sends_message_updated() {
    let cx = Cx::start().await;
    let bot = Receiver::start(0).await;
    cx.agent_bot(&bot.url(), 2).await;
    let control = cx.emulator.control();
    let id = control.customer_start(2, "Ada").unwrap().id;
    let offer = cx
        .ok(
            "messages/",
            json!({"tenant_domain": TENANT, "conversation_id": id, "content": "Pick one",
                   "content_type": "input_select",
                   "content_attributes": {"items": [{"title": "Yes", "value": "yes"}, {"title": "No", "value": "no"}]}}),
        )
        .await;
    control.customer_selects(id, "Yes").unwrap();
    let updated = bot.wait_for(1, event_is("message_updated")).await;
    let body = &updated[0].body;
    assert_eq!(body["id"], offer["id"]);
    assert_eq!(body["message_type"], "outgoing");
    assert_eq!(body["sender"]["type"], "agent_bot");
    assert_eq!(
        body["content_attributes"]["submitted_values"],
        json!([{"title": "Yes", "value": "yes"}])
    );
    assert_eq!(body["content_attributes"]["items"].as_array().unwrap().len(), 2);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let created = bot.received().iter().filter(|r| r.body["event"] == "message_created").count();
    assert_eq!(created, 1, "only the offer itself: a click writes no message");
}

/// `Message#webhook_data` for a file without text: `content: null` and `attachments`.
#[tokio::test]
async fn an_attachment_only_message_has_null_content() {
    let cx = Cx::start().await;
    let bot = Receiver::start(0).await;
    cx.agent_bot(&bot.url(), 2).await;
    let control = cx.emulator.control();
    let id = control.customer_start(2, "Ada").unwrap().id;
    control.customer_sends_attachment(id, "image", "http://127.0.0.1/photo.jpg").unwrap();
    let got = bot.wait_for(1, event_is("message_created")).await;
    assert_eq!(got[0].body["content"], Value::Null);
    assert_eq!(got[0].body["attachments"][0]["file_type"], "image");
    assert_eq!(got[0].body["attachments"][0]["data_url"], "http://127.0.0.1/photo.jpg");
}

/// `AgentBotListener` (status events reach the bot, `conversation_created` never does) and
/// `WebhookListener` (account webhooks never get `conversation_opened`/`_resolved`).
#[tokio::test]
async fn which_events_go_to_agent_bots_and_which_to_webhooks() {
    let cx = Cx::start().await;
    let bot = Receiver::start(0).await;
    let hook = Receiver::start(0).await;
    cx.agent_bot(&bot.url(), 2).await;
    cx.subscribe(&hook.url(), &["conversation_created", "conversation_status_changed"]).await;
    let (status, answer) = cx
        .post(
            "webhooks/",
            json!({"tenant_domain": TENANT, "url": hook.url(), "subscriptions": ["conversation_opened"]}),
        )
        .await;
    assert_eq!(status, 422, "not a webhook event: {answer}");
    let control = cx.emulator.control();
    let id = control.customer_start(2, "Ada").unwrap().id;
    control.reopen(id).unwrap();
    let order: Vec<String> = bot
        .wait_for(4, |_| true)
        .await
        .iter()
        .map(|r| r.body["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        order,
        [
            "webwidget_triggered",
            "conversation_opened",
            "conversation_status_changed",
            "conversation_updated"
        ]
    );
    let changed = &bot.received()[2].body;
    assert_eq!(
        changed["changed_attributes"][0]["status"],
        json!({"previous_value": "pending", "current_value": "open"})
    );
    let hooked: Vec<String> = hook
        .wait_for(2, |_| true)
        .await
        .iter()
        .map(|r| r.body["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(hooked, ["conversation_created", "conversation_status_changed"]);
}

/// `Webhooks::Trigger#retryable_agent_bot_error?` (429 and 500 only) and `#handle_error`.
#[tokio::test]
async fn a_bot_answering_anything_else_gets_no_retry_and_loses_the_conversation() {
    for status in [StatusCode::SERVICE_UNAVAILABLE, StatusCode::NOT_FOUND] {
        let cx = Cx::start().await;
        let bot = Receiver::failing_with(u32::MAX, status).await;
        cx.agent_bot(&bot.url(), 2).await;
        let control = cx.emulator.control();
        let id = control.customer_start(2, "Ada").unwrap().id;
        control.customer_says(id, "hi").unwrap();
        assert_eq!(bot.wait_for(1, event_is("message_created")).await.len(), 1);
        wait_status(&cx, id, Status::Open).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let posts = bot.received().iter().filter(|r| r.body["event"] == "message_created").count();
        assert_eq!(posts, 1, "{status}: not retried");
    }
    // 429 is retried, and the account may keep the conversation pending.
    let cx =
        Cx::with(EmulatorOptions { keep_pending_on_bot_failure: true, ..fast_options() }).await;
    let bot = Receiver::failing_with(u32::MAX, StatusCode::TOO_MANY_REQUESTS).await;
    cx.agent_bot(&bot.url(), 2).await;
    let control = cx.emulator.control();
    let id = control.customer_start(2, "Ada").unwrap().id;
    control.customer_says(id, "hi").unwrap();
    assert_eq!(bot.wait_for(3, event_is("message_created")).await.len(), 3);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(control.conversation(id).unwrap().status, Status::Pending);
}

/// `WebhookJob` never retries an account webhook, and its failure changes no status.
#[tokio::test]
async fn account_webhooks_are_never_retried() {
    let cx = Cx::start().await;
    let hook = Receiver::start(u32::MAX).await;
    cx.subscribe(&hook.url(), &["message_created"]).await;
    let contact = cx
        .ok("contacts/", json!({"tenant_domain": TENANT, "inbox_id": 1, "name": "Ada"}))
        .await["payload"]["contact"]["id"]
        .clone();
    let id = cx
        .ok(
            "conversations/",
            json!({"tenant_domain": TENANT, "inbox_id": 1, "contact_id": contact, "status": "pending"}),
        )
        .await["id"]
        .as_u64()
        .unwrap();
    cx.ok("messages/", json!({"tenant_domain": TENANT, "conversation_id": id, "content": "x"}))
        .await;
    assert_eq!(hook.wait_for(1, event_is("message_created")).await.len(), 1);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(hook.received().len(), 1, "one attempt only");
    let record = &cx.emulator.control().deliveries()[0];
    assert_eq!((record.attempts, record.delivered), (1, false));
    assert_eq!(cx.emulator.control().conversation(id).unwrap().status, Status::Pending);
}

/// `config/initializers/rack_attack.rb`: throttled calls get 429 without `Retry-After`.
#[tokio::test]
async fn the_throttled_fault_answers_as_rack_attack_does() {
    let cx = Cx::start().await;
    cx.emulator
        .control()
        .add_fault(FaultSpec {
            path: "inboxes".into(),
            fault: Fault::Throttled,
            times: Some(1),
            share: None,
            seed: 0,
        })
        .unwrap();
    let response = cx.http.get(cx.url("inboxes/")).bearer_auth(&cx.token).send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_none());
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(response.text().await.unwrap(), "Retry later\n");
}

/// `MessageFinder` + `messages/index.json.jbuilder`: the transcript read back, after a cursor.
#[tokio::test]
async fn messages_can_be_listed_after_a_cursor() {
    let cx = Cx::start().await;
    let id = cx.flow_a_conversation().await;
    let control = cx.emulator.control();
    let first = control.customer_says(id, "one").unwrap();
    control.agent_reply(id, "Alex", "two", false).unwrap();
    control.agent_reply(id, "Alex", "secret", true).unwrap();
    let (status, all) = cx.get(&format!("conversations/{id}/messages/")).await;
    assert_eq!(status, 200, "{all}");
    let contents: Vec<&str> =
        all["payload"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["one", "two", "secret"]);
    assert_eq!(all["payload"][1]["message_type"], 1);
    assert_eq!(all["payload"][1]["sender"]["type"], "user");
    assert_eq!(all["meta"]["contact"]["name"], "Ada");
    let (_, after) = cx.get(&format!("conversations/{id}/messages/?after={}", first.id)).await;
    assert_eq!(after["payload"].as_array().unwrap().len(), 2);
    let (status, _) = cx.get("conversations/999999/messages/").await;
    assert_eq!(status, 404);
}

async fn wait_status(cx: &Cx, id: u64, status: Status) {
    for _ in 0..200 {
        if cx.emulator.control().conversation(id).unwrap().status == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("conversation {id} never became {status:?}");
}
