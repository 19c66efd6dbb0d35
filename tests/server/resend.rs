//! A reply is never shown twice after a crash. The process that died may have made a reply in CX
//! and died before noting it sent; the next process finds the item still queued. It reads the
//! conversation's messages back for the reply's key (`source_id`) before sending, and where CX
//! keeps `(inbox_id, source_id)` unique (Chatwoot's `idx_messages_unique_inbox_source_id`) a
//! repeat is refused and counted as sent. Both ways run against the emulator with the real CX
//! client.

use std::sync::Arc;
use std::time::Duration;

use botrun::check::{load_program, CheckOptions};
use botrun::cx::{Credentials, CxClient, CxConfig, OutgoingMessage};
use botrun::emulator::{spawn, EmulatorOptions, RunningEmulator};
use botrun::server::payload::{CxRef, Outgoing};
use botrun::server::{outbox, AppState, Bots, Config, SystemClock};
use botrun::store::{SqliteStore, Store, Turn};
use chrono::Utc;

/// The emulator's seeded CX-native web widget inbox.
const WIDGET_INBOX: u64 = 2;
const REPLY: &str = "Deliveries take 2–4 working days within the EU.";

/// The emulator, a client logged in to it (with or without the messages listing), and a
/// conversation a customer started.
async fn cx(listing: bool) -> (RunningEmulator, CxClient, u64) {
    let options = EmulatorOptions::default();
    let emulator = spawn(options.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut config = CxConfig {
        base_url: emulator.base_url(),
        auth_url: emulator.auth_url(),
        tenant_domain: options.tenant_domain.clone(),
        ..CxConfig::default()
    };
    if !listing {
        config.paths.message_list = String::new();
    }
    let credentials = Credentials::new(options.client_id.clone(), options.client_secret.clone());
    let client = CxClient::with_credentials(config, credentials).unwrap();
    let conversation = emulator.control().customer_start(WIDGET_INBOX, "Ana").unwrap().id;
    (emulator, client, conversation)
}

/// What a process that died left behind: a stored reply for `conversation`, queued a second
/// before the new process started. Returns the new process's state and the item's key.
async fn queued_before_a_restart(client: &CxClient, conversation: u64) -> (AppState, String) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open("sqlite::memory:").await.unwrap());
    let cx = CxRef { conversation_id: conversation.to_string(), inbox_id: Some(WIDGET_INBOX) };
    let key = cx.key();
    let reply = Outgoing::Text { cx, text: REPLY.to_owned() };
    let turn = Turn {
        conversation: key.clone(),
        outbox: vec![serde_json::to_string(&reply).unwrap()],
        ..Turn::default()
    };
    let queued_at = Utc::now() - chrono::Duration::seconds(1);
    store.commit_turn(&turn, queued_at).await.unwrap();
    let item = store.next_outbox(&key).await.unwrap().unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bots/faq.bot");
    let program = load_program(&path, &CheckOptions::default()).unwrap().program;
    let state = AppState::new(
        Config::default(),
        store,
        Bots::new(vec![(None, program)]),
        Arc::new(client.clone()),
        Arc::new(SystemClock),
        "resend-token-0123456789abcdef0123456789".to_owned(),
    );
    (state, outbox::message_key(&item))
}

/// The reply as the dead process made it in CX: same text, same key.
async fn made_before_the_crash(client: &CxClient, conversation: u64, key: &str) {
    let message = OutgoingMessage::bot_text(REPLY).with_source_id(key);
    client.send_message(conversation.into(), &message).await.unwrap();
}

fn replies_in_cx(emulator: &RunningEmulator, conversation: u64) -> usize {
    let messages = emulator.control().messages(conversation).unwrap();
    messages.iter().filter(|m| m.content == REPLY).count()
}

async fn drain(state: &AppState, conversation: u64) {
    let key = format!("cx:{conversation}");
    tokio::time::timeout(Duration::from_secs(15), outbox::drain(state, &key))
        .await
        .expect("the outbox drained")
        .unwrap();
    assert!(state.store.next_outbox(&key).await.unwrap().is_none(), "the item is done");
}

#[tokio::test]
async fn a_reply_cx_already_has_is_found_by_reading_back_and_not_sent_again() {
    let (emulator, client, conversation) = cx(true).await;
    let (state, key) = queued_before_a_restart(&client, conversation).await;
    made_before_the_crash(&client, conversation, &key).await;
    drain(&state, conversation).await;
    assert_eq!(replies_in_cx(&emulator, conversation), 1);
    assert_eq!(state.metrics.resends_skipped(), 1);
    assert_eq!(state.metrics.escalations(), 0);
}

#[tokio::test]
async fn without_a_listing_cx_refuses_the_repeated_key_and_the_reply_counts_as_sent() {
    let (emulator, client, conversation) = cx(false).await;
    let (state, key) = queued_before_a_restart(&client, conversation).await;
    made_before_the_crash(&client, conversation, &key).await;
    drain(&state, conversation).await;
    assert_eq!(replies_in_cx(&emulator, conversation), 1);
    assert_eq!(state.metrics.escalations(), 0, "a refused repeat is not a failure");
}

#[tokio::test]
async fn a_queued_reply_cx_does_not_have_is_sent_once_with_its_key() {
    let (emulator, client, conversation) = cx(true).await;
    let (state, key) = queued_before_a_restart(&client, conversation).await;
    drain(&state, conversation).await;
    let messages = emulator.control().messages(conversation).unwrap();
    let sent: Vec<_> = messages.iter().filter(|m| m.content == REPLY).collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].source_id.as_deref(), Some(key.as_str()));
    assert_eq!(state.metrics.resends_skipped(), 0);
}
