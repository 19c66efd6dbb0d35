//! Token endpoint, 401s, every call's answer shape and its bad-input answers, and the status
//! machine driven through the API and the control handle.

use botrun::emulator::Status;
use serde_json::{json, Value};

use super::harness::{Cx, TENANT};

#[tokio::test]
async fn token_endpoint_checks_credentials_grant_and_scope() {
    let cx = Cx::start().await;
    let auth = cx.emulator.auth_url();
    let good = cx
        .http
        .post(&auth)
        .basic_auth("botrun-dev", Some("botrun-dev-secret"))
        .form(&[("grant_type", "client_credentials"), ("scope", "cx.digital-interactions")])
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
    let body: Value = good.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["scope"], "cx.digital-interactions");
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    assert!(body["access_token"].as_str().unwrap().len() >= 32);

    let wrong_secret = cx
        .http
        .post(&auth)
        .basic_auth("botrun-dev", Some("nope"))
        .form(&[("grant_type", "client_credentials"), ("scope", "cx.digital-interactions")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_secret.status(), 401);
    let error: Value = wrong_secret.json().await.unwrap();
    assert!(error["error"].as_str().unwrap().contains("invalid_client"));

    let wrong_scope = cx
        .http
        .post(&auth)
        .basic_auth("botrun-dev", Some("botrun-dev-secret"))
        .form(&[("grant_type", "client_credentials"), ("scope", "everything")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_scope.status(), 400);
    let error: Value = wrong_scope.json().await.unwrap();
    assert!(error["error"].as_str().unwrap().contains("invalid_scope"));

    let wrong_grant = cx
        .http
        .post(&auth)
        .basic_auth("botrun-dev", Some("botrun-dev-secret"))
        .form(&[("grant_type", "password"), ("scope", "cx.digital-interactions")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_grant.status(), 400);
}

#[tokio::test]
async fn calls_need_a_live_bearer_token() {
    let cx = Cx::start().await;
    let no_token = cx.http.get(cx.url("inboxes/")).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    let body: Value = no_token.json().await.unwrap();
    assert!(body["error"].is_string());

    let bogus = cx.http.get(cx.url("inboxes/")).bearer_auth("not-a-token").send().await.unwrap();
    assert_eq!(bogus.status(), 401);

    assert_eq!(cx.get("inboxes/").await.0, 200);
    cx.emulator.control().revoke_tokens();
    assert_eq!(cx.get("inboxes/").await.0, 401);
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let cx = Cx::with(botrun::emulator::EmulatorOptions {
        token_ttl_secs: 0,
        ..super::harness::fast_options()
    })
    .await;
    assert_eq!(cx.get("inboxes/").await.0, 401);
}

#[tokio::test]
async fn inboxes_are_seeded_and_wrapped_in_payload() {
    let cx = Cx::start().await;
    let (status, body) = cx.get("inboxes").await;
    assert_eq!(status, 200, "path without trailing slash works too");
    let inboxes = body["payload"].as_array().unwrap();
    assert_eq!(inboxes.len(), 2);
    assert_eq!(inboxes[0]["id"], 1);
    assert_eq!(inboxes[0]["channel_type"], "Channel::Api");
    assert_eq!(inboxes[1]["name"], "Website widget");
    assert_eq!(inboxes[1]["channel_type"], "Channel::WebWidget");
}

#[tokio::test]
async fn flow_a_shapes_contact_conversation_message() {
    let cx = Cx::start().await;
    let contact = cx
        .ok(
            "contacts/",
            json!({"tenant_domain": TENANT, "inbox_id": 1, "name": "Ada", "email": "ada@example.com", "phone_number": "+441234567890"}),
        )
        .await;
    let contact_id = contact["payload"]["contact"]["id"].as_u64().unwrap();
    let source_id = contact["payload"]["contact_inbox"]["source_id"].as_str().unwrap();
    assert!(!source_id.is_empty());
    assert_eq!(contact["payload"]["contact"]["email"], "ada@example.com");

    // Ids as numeric strings are accepted, as CX clients send both.
    let conversation = cx
        .ok(
            "conversations/",
            json!({"tenant_domain": TENANT, "inbox_id": "1", "contact_id": contact_id.to_string(), "source_id": source_id}),
        )
        .await;
    let conversation_id = conversation["id"].as_u64().unwrap();
    assert_eq!(conversation["inbox_id"], 1);
    assert_eq!(conversation["status"], "open", "API conversations start with humans unless asked");
    assert_eq!(conversation["meta"]["sender"]["id"], contact_id);

    let incoming = cx
        .ok(
            "messages/",
            json!({"tenant_domain": TENANT, "conversation_id": conversation_id, "content": "hi", "message_type": "incoming"}),
        )
        .await;
    assert_eq!(incoming["message_type"], 0, "the API answers with the message partial");
    assert_eq!(incoming["sender"]["type"], "contact");

    let outgoing = cx
        .ok(
            "messages/",
            json!({"tenant_domain": TENANT, "conversation_id": conversation_id, "content": "Hello! Pick one",
                   "content_type": "input_select",
                   "content_attributes": {"items": [{"title": "Billing", "value": "billing"}]}}),
        )
        .await;
    assert_eq!(outgoing["message_type"], 1, "outgoing is the default");
    assert_eq!(outgoing["sender"]["type"], "agent_bot");
    assert_eq!(outgoing["content_attributes"]["items"][0]["value"], "billing");
    assert!(outgoing["created_at"].is_i64(), "Unix seconds in the message partial");

    let note = cx
        .ok(
            "messages/",
            json!({"tenant_domain": TENANT, "conversation_id": conversation_id, "content": "vip", "private": true}),
        )
        .await;
    assert_eq!(note["private"], true);
    let stored = cx.emulator.control().messages(conversation_id).unwrap();
    assert_eq!(stored.len(), 3);
}

#[tokio::test]
async fn bad_input_gets_precise_errors() {
    let cx = Cx::start().await;
    let conversation_id = cx.flow_a_conversation().await;
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "messages/",
            json!({"conversation_id": conversation_id, "content": "x"}),
            422,
            "tenant_domain is required",
        ),
        (
            "messages/",
            json!({"tenant_domain": "other.example", "conversation_id": conversation_id, "content": "x"}),
            422,
            "unknown tenant_domain",
        ),
        (
            "messages/",
            json!({"tenant_domain": TENANT, "conversation_id": 999_999, "content": "x"}),
            404,
            "conversation 999999 not found",
        ),
        (
            "messages/",
            json!({"tenant_domain": TENANT, "content": "x"}),
            422,
            "conversation_id is required",
        ),
        (
            "messages/",
            json!({"tenant_domain": TENANT, "conversation_id": "abc", "content": "x"}),
            422,
            "positive integer",
        ),
        (
            "messages/",
            json!({"tenant_domain": TENANT, "conversation_id": conversation_id, "content": "x", "message_type": "sideways"}),
            422,
            "message_type",
        ),
        (
            "messages/",
            json!({"tenant_domain": TENANT, "conversation_id": conversation_id, "content": "x", "content_type": "input_select"}),
            422,
            "content_attributes.items",
        ),
        (
            "messages/",
            json!({"tenant_domain": TENANT, "conversation_id": conversation_id, "content": ""}),
            422,
            "content is required",
        ),
        ("contacts/", json!({"tenant_domain": TENANT, "inbox_id": 77}), 404, "inbox 77 not found"),
        (
            "contacts/",
            json!({"tenant_domain": TENANT, "inbox_id": 1, "phone_number": "0123"}),
            422,
            "E.164",
        ),
        (
            "conversations/",
            json!({"tenant_domain": TENANT, "inbox_id": 1, "contact_id": 424_242}),
            404,
            "contact 424242 not found",
        ),
        (
            "conversations/deliver-to-agent/",
            json!({"tenant_domain": TENANT, "conversation_id": 5}),
            404,
            "conversation 5 not found",
        ),
        (
            "webhooks/",
            json!({"tenant_domain": TENANT, "url": "ftp://x"}),
            422,
            "not an http(s) URL",
        ),
        (
            "webhooks/",
            json!({"tenant_domain": TENANT, "url": "http://127.0.0.1:9/h", "subscriptions": ["made_up"]}),
            422,
            "unknown event `made_up`",
        ),
        (
            "agents-bot/",
            json!({"tenant_domain": TENANT, "name": "b"}),
            422,
            "outgoing_url is required",
        ),
        (
            "agents-bot/assign/",
            json!({"tenant_domain": TENANT, "inbox_id": 2, "agent_bot_id": 31_337}),
            404,
            "agent bot 31337 not found",
        ),
    ];
    for (path, body, status, needle) in cases {
        let (got, answer) = cx.post(path, body.clone()).await;
        assert_eq!(got, status, "{path} {body}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(needle), "{path} {body}: `{error}` lacks `{needle}`");
    }

    let malformed = cx
        .http
        .post(cx.url("messages/"))
        .bearer_auth(&cx.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let error: Value = malformed.json().await.unwrap();
    assert!(error["error"].as_str().unwrap().contains("malformed JSON"));

    let not_object = cx.post("messages/", json!([1, 2])).await;
    assert_eq!(not_object.0, 422);
}

#[tokio::test]
async fn incoming_messages_only_in_api_inboxes() {
    let cx = Cx::start().await;
    let control = cx.emulator.control();
    let widget_conversation = control.customer_start(2, "Bo").unwrap();
    let (status, body) = cx
        .post(
            "messages/",
            json!({"tenant_domain": TENANT, "conversation_id": widget_conversation.id, "content": "x", "message_type": "incoming"}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(body["error"].as_str().unwrap().contains("API inboxes"));
    // Outgoing (the bot's answer in Flow B) is fine there.
    let (status, _) = cx
        .post(
            "messages/",
            json!({"tenant_domain": TENANT, "conversation_id": widget_conversation.id, "content": "hello"}),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn status_machine_follows_the_design() {
    let cx = Cx::start().await;
    let control = cx.emulator.control();
    let id = cx.flow_a_conversation().await;
    assert_eq!(control.conversation(id).unwrap().status, Status::Open);
    control.hand_back(id).unwrap();

    let opened = cx
        .ok(
            "conversations/deliver-to-agent/",
            json!({"tenant_domain": TENANT, "conversation_id": id}),
        )
        .await;
    assert_eq!(opened["status"], "open");
    let finished = cx
        .ok("conversations/finish/", json!({"tenant_domain": TENANT, "conversation_id": id}))
        .await;
    assert_eq!(finished["status"], "resolved");

    // Inbox 1 has no agent bot: a customer writing again goes to humans.
    control.customer_says(id, "still there?").unwrap();
    assert_eq!(control.conversation(id).unwrap().status, Status::Open);

    // Snoozed wakes up for humans on a customer message.
    control.set_status(id, Status::Snoozed).unwrap();
    control.customer_says(id, "hello?").unwrap();
    assert_eq!(control.conversation(id).unwrap().status, Status::Open);

    // With an agent bot on the inbox, a resolved conversation returns to the bot.
    let bot = cx
        .ok(
            "agent-bot/",
            json!({"tenant_domain": TENANT, "name": "b", "outgoing_url": "http://127.0.0.1:9/bot"}),
        )
        .await;
    let assigned = cx
        .ok(
            "assign-agent-bot/",
            json!({"tenant_domain": TENANT, "inbox_id": 1, "agent_bot_id": bot["id"]}),
        )
        .await;
    assert_eq!(assigned["inbox"]["agent_bot_id"], bot["id"]);
    control.resolve(id).unwrap();
    control.customer_says(id, "back again").unwrap();
    assert_eq!(control.conversation(id).unwrap().status, Status::Pending);

    // A widget conversation in an inbox without a bot starts with humans; with a bot, pending.
    let human = control.customer_start(2, "Cy").unwrap();
    assert_eq!(human.status, Status::Open);
    let bot2 = cx
        .ok(
            "agents-bot/",
            json!({"tenant_domain": TENANT, "name": "w", "outgoing_url": "http://127.0.0.1:9/w"}),
        )
        .await;
    cx.ok(
        "agents-bot/assign/",
        json!({"tenant_domain": TENANT, "inbox_id": 2, "agent_bot_id": bot2["id"]}),
    )
    .await;
    let with_bot = control.customer_start(2, "Di").unwrap();
    assert_eq!(with_bot.status, Status::Pending);
    control.reopen(with_bot.id).unwrap();
    control.hand_back(with_bot.id).unwrap();
    assert_eq!(control.conversation(with_bot.id).unwrap().status, Status::Pending);
}

#[tokio::test]
async fn calls_are_recorded_and_reset_clears_everything() {
    let cx = Cx::start().await;
    let id = cx.flow_a_conversation().await;
    let control = cx.emulator.control();
    let calls = control.calls();
    let paths: Vec<&str> = calls.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/oauth/token",
            "/cx/api/v1/digital-interactions/contacts/",
            "/cx/api/v1/digital-interactions/conversations/"
        ]
    );
    assert_eq!(calls[2].status, Some(200));
    assert_eq!(calls[2].method, "POST");
    assert!(calls[2].body.contains("contact_id"));

    control.reset();
    assert!(control.calls().is_empty());
    assert!(control.conversation(id).is_err());
    assert_eq!(cx.get("inboxes/").await.0, 401, "reset revokes tokens");
}

/// Chatwoot's `Webhook` validates `url` unique per account: a second subscription of one URL is
/// refused and the first stays the only one.
#[tokio::test]
async fn a_second_webhook_for_one_url_is_refused() {
    let cx = Cx::start().await;
    let body = json!({"tenant_domain": TENANT, "url": "http://127.0.0.1:9/hook"});
    let (status, first) = cx.post("webhooks/", body.clone()).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = cx.post("webhooks/", body).await;
    assert_eq!(status, 422, "{again}");
    assert!(again["error"].as_str().unwrap().contains("Url has already been taken"), "{again}");
    let (status, other) = cx
        .post("webhooks/", json!({"tenant_domain": TENANT, "url": "http://127.0.0.1:9/other"}))
        .await;
    assert_eq!(status, 200, "{other}");
    assert_eq!(cx.emulator.control().read(|world| world.webhooks.len()), 2);
}

/// `PUT contacts/{id}` as Chatwoot's `ContactsController#update`: the named fields change, the
/// others stay; the answer is the contact under `payload`.
#[tokio::test]
async fn a_contact_update_changes_the_named_fields_only() {
    let cx = Cx::start().await;
    let created = cx
        .ok(
            "contacts/",
            json!({"tenant_domain": TENANT, "inbox_id": 1, "name": "Ada", "phone_number": "+441234567890"}),
        )
        .await;
    let id = created["payload"]["contact"]["id"].as_u64().unwrap();
    let put = |body: Value, path: String| {
        let request = cx.http.put(cx.url(&path)).bearer_auth(&cx.token).json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, answer) = put(
        json!({"tenant_domain": TENANT, "email": "ada@example.com"}),
        format!("contacts/{id}/"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["payload"]["email"], "ada@example.com");
    assert_eq!(answer["payload"]["name"], "Ada", "a field not named stays");
    assert_eq!(answer["payload"]["phone_number"], "+441234567890");
    let stored = cx.emulator.control().read(|world| world.contact(id).cloned()).unwrap();
    assert_eq!(stored.email.as_deref(), Some("ada@example.com"));

    let (status, _) =
        put(json!({"tenant_domain": TENANT, "phone_number": "12"}), format!("contacts/{id}")).await;
    assert_eq!(status, 422, "a phone number must be E.164");
    let (status, answer) =
        put(json!({"tenant_domain": TENANT, "name": "Bo"}), "contacts/424242/".into()).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(cx.emulator.control().read(|world| world.contact(id).cloned()).unwrap().name, "Ada");
}
