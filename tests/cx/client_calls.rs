//! Every client call against the real emulator, and the token cache.

use botrun::cx::{ButtonItem, ConversationId, CxError, InboxId, NewContact, OutgoingMessage};
use botrun::emulator::{MessageType, Status};
use serde_json::Value;

use super::harness::{calls_to, client, config, emulator};

/// Flow A from the first call to the last: webhook, inbox, contact, conversation, every kind of
/// message, handoff, finish.
#[tokio::test]
async fn flow_a_calls_reach_the_emulator_with_the_tenant() {
    let emulator = emulator().await;
    let cx = client(config(&emulator));

    let webhook = cx.create_webhook("http://127.0.0.1:9/hook/secret-token", &[]).await.unwrap();
    assert_eq!(webhook.url, "http://127.0.0.1:9/hook/secret-token");
    assert_eq!(webhook.subscriptions, ["conversation_created", "message_created"]);

    let inboxes = cx.list_inboxes().await.unwrap();
    let api_inbox = inboxes
        .iter()
        .find(|inbox| inbox.channel_type.as_deref().is_some_and(|t| t.contains("Api")))
        .expect("the emulator seeds an API inbox");

    let contact = cx
        .create_contact(
            api_inbox.id,
            &NewContact {
                name: Some("Ann Example".into()),
                email: Some("ann@example.com".into()),
                phone: Some("+15551234567".into()),
            },
        )
        .await
        .unwrap();
    let conversation = cx
        .create_conversation(
            api_inbox.id,
            contact.id,
            contact.source_id.as_deref(),
            Some("pending"),
        )
        .await
        .unwrap();
    assert_eq!(conversation.inbox_id, Some(api_inbox.id));
    assert_eq!(conversation.status.as_deref(), Some("pending"), "the asked status is kept");

    let customer = cx
        .send_message(conversation.id, &OutgoingMessage::customer_text("my parcel is late"))
        .await
        .unwrap();
    assert!(customer.id.is_some());
    cx.send_message(conversation.id, &OutgoingMessage::bot_text("Sorry to hear that"))
        .await
        .unwrap();
    cx.send_message(conversation.id, &OutgoingMessage::private_note("VIP customer")).await.unwrap();
    let buttons = vec![
        ButtonItem { title: "Yes".into(), value: "yes".into() },
        ButtonItem { title: "No".into(), value: "no".into() },
    ];
    cx.send_message(conversation.id, &OutgoingMessage::with_buttons("Track it?", buttons))
        .await
        .unwrap();

    let messages = emulator.control().messages(conversation.id.0).unwrap();
    let summary: Vec<(MessageType, bool, &str)> =
        messages.iter().map(|m| (m.message_type, m.private, m.content.as_str())).collect();
    assert_eq!(
        summary,
        [
            (MessageType::Incoming, false, "my parcel is late"),
            (MessageType::Outgoing, false, "Sorry to hear that"),
            (MessageType::Outgoing, true, "VIP customer"),
            (MessageType::Outgoing, false, "Track it?"),
        ]
    );
    assert_eq!(messages[3].content_type, "input_select");
    assert_eq!(messages[3].content_attributes["items"][1]["value"], "no");

    cx.deliver_to_agent(conversation.id).await.unwrap();
    assert_eq!(emulator.control().conversation(conversation.id.0).unwrap().status, Status::Open);
    cx.finish(conversation.id).await.unwrap();
    assert_eq!(
        emulator.control().conversation(conversation.id.0).unwrap().status,
        Status::Resolved
    );

    // Every body named the tenant.
    for call in emulator.control().calls() {
        if call.method == "POST" && call.path.contains("digital-interactions") {
            let body: Value = serde_json::from_str(&call.body).unwrap();
            assert_eq!(body["tenant_domain"], "dev.cx.localhost", "{}", call.path);
        }
    }
}

#[tokio::test]
async fn flow_b_agent_bot_create_and_assign() {
    let emulator = emulator().await;
    let cx = client(config(&emulator));
    let bot =
        cx.create_agent_bot("Helper", "first line", "http://127.0.0.1:9/hook/t").await.unwrap();
    assert_eq!(bot.name, "Helper");
    let inbox = cx.list_inboxes().await.unwrap()[0].id;
    cx.assign_agent_bot(inbox, bot.id).await.unwrap();
    let assigned =
        emulator.control().read(|world| world.inbox(inbox.0).map(|i| i.agent_bot_id).unwrap());
    assert_eq!(assigned, Some(bot.id.0));
}

#[tokio::test]
async fn unknown_ids_are_404_errors_without_retries() {
    let emulator = emulator().await;
    let cx = client(config(&emulator));
    let error = cx.assign_agent_bot(InboxId(999_999), botrun::cx::AgentBotId(1)).await.unwrap_err();
    assert_eq!(error.status(), Some(404), "{error}");
    assert!(error.to_string().contains("not found"), "{error}");
    let error = cx.deliver_to_agent(ConversationId(424_242)).await.unwrap_err();
    assert!(
        matches!(error, CxError::Http { status: 404, call: "deliver_to_agent", .. }),
        "{error}"
    );
    assert_eq!(calls_to(&emulator, "conversations/deliver-to-agent/").len(), 1);
}

#[tokio::test]
async fn validation_errors_422_are_not_retried() {
    let emulator = emulator().await;
    let cx = client(config(&emulator));
    let bad_phone =
        NewContact { name: Some("Bo".into()), email: None, phone: Some("12345".into()) };
    let error = cx.create_contact(InboxId(1), &bad_phone).await.unwrap_err();
    assert_eq!(error.status(), Some(422), "{error}");
    assert!(!error.is_transient());
    assert!(error.to_string().contains("E.164"), "{error}");
    assert_eq!(calls_to(&emulator, "contacts/").len(), 1);
}

#[tokio::test]
async fn token_is_cached_and_renewed_once_after_revocation() {
    let emulator = emulator().await;
    let cx = client(config(&emulator));
    let clone = cx.clone();
    cx.list_inboxes().await.unwrap();
    clone.list_inboxes().await.unwrap();
    cx.token().await.unwrap();
    assert_eq!(calls_to(&emulator, "oauth/token").len(), 1, "one token for every call and clone");

    emulator.control().revoke_tokens();
    cx.list_inboxes().await.unwrap();
    let inbox_calls = calls_to(&emulator, "inboxes/");
    let statuses: Vec<Option<u16>> = inbox_calls.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [Some(200), Some(200), Some(401), Some(200)]);
    assert_eq!(calls_to(&emulator, "oauth/token").len(), 2);
    clone.list_inboxes().await.unwrap();
    assert_eq!(calls_to(&emulator, "oauth/token").len(), 2, "clones share the renewed token");
}

#[tokio::test]
async fn wrong_credentials_give_an_auth_error_naming_the_variables() {
    let emulator = emulator().await;
    let cx = botrun::cx::CxClient::with_credentials(
        config(&emulator),
        botrun::cx::Credentials::new("botrun-dev", "wrong-secret"),
    )
    .unwrap();
    let error = cx.list_inboxes().await.unwrap_err();
    assert!(matches!(error, CxError::Auth { status: Some(401), .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.starts_with("CX rejected the credentials (401) — check BOTRUN_CX_CLIENT_ID and BOTRUN_CX_CLIENT_SECRET"), "{text}");
    assert!(!text.contains("wrong-secret"));
    assert_eq!(calls_to(&emulator, "oauth/token").len(), 1, "a refused credential is not retried");
}
