//! Bad input at the webhook: each refusal is precise and stores nothing.

use axum::http::StatusCode;
use serde_json::json;

use super::harness::{customer_message, Harness, TOKEN};

async fn assert_nothing_stored(h: &Harness) {
    assert!(h.store.conversations_with_work(chrono::Utc::now()).await.unwrap().is_empty());
    assert_eq!(h.store.load_conversation("cx:1").await.unwrap(), None);
    assert_eq!(h.store.outbox_depth().await.unwrap(), 0);
}

#[tokio::test]
async fn wrong_token_is_401() {
    let h = Harness::new("faq.bot").await;
    let body = customer_message(1, 1, "hello").to_string();
    let (status, answer) = h.post_raw("/webhooks/cx/not-the-token", body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["error"], "unknown webhook token");
    assert_nothing_stored(&h).await;
}

#[tokio::test]
async fn malformed_json_is_400_with_a_clear_error() {
    let h = Harness::new("faq.bot").await;
    let (status, answer) = h.post_raw(&format!("/webhooks/cx/{TOKEN}"), "{\"event\": ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["error"].as_str().unwrap().starts_with("the body is not valid JSON"),
        "{answer}"
    );
    let (status, answer) = h.post(&json!({"id": 5})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"], "the body has no `event` field");
    let (status, _) = h.post(&json!(["an", "array"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mut no_conversation = customer_message(2, 1, "hi");
    no_conversation.as_object_mut().unwrap().remove("conversation");
    let (status, answer) = h.post(&no_conversation).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer["error"],
        "message_created: `conversation` is missing (neither `conversation.id` nor `conversation_id`)"
    );
    assert_nothing_stored(&h).await;
}

#[tokio::test]
async fn oversized_body_is_413() {
    let h = Harness::new("faq.bot").await;
    let big = customer_message(1, 1, &"x".repeat(300 * 1024)).to_string();
    let (status, _) = h.post_raw(&format!("/webhooks/cx/{TOKEN}"), big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_nothing_stored(&h).await;
}

#[tokio::test]
async fn unknown_events_and_echoes_are_accepted_and_ignored() {
    let h = Harness::new("faq.bot").await;
    let (status, answer) = h.post(&json!({"event": "contact_updated", "id": 1})).await;
    assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some("ignored")));
    // Our own outgoing message echoed back, a private note, and a message while humans own it.
    let mut echo = customer_message(10, 1, "Deliveries take 2–4 working days");
    echo["message_type"] = json!("outgoing");
    let mut note = customer_message(11, 1, "internal");
    note["private"] = json!(true);
    let with_human = super::harness::customer_message_with_status(12, 1, "hello?", "open");
    for event in [echo, note, with_human] {
        let (status, answer) = h.post(&event).await;
        assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some("ignored")));
    }
    h.settle().await;
    assert_nothing_stored(&h).await;
    assert!(h.calls().is_empty());
}

/// `(timestamp, signature)` headers for `body` signed with `secret` at `at`.
fn signed(secret: &[u8], at: i64, body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-chatwoot-timestamp", at.to_string()),
        ("x-chatwoot-signature", botrun::cx::sign(secret, at, body.as_bytes())),
    ]
}

#[tokio::test]
async fn signed_deliveries_are_verified_by_the_one_cx_check() {
    let h = Harness::new("faq.bot").await.with_signing_secret("s3cret");
    let now = super::harness::start_time().timestamp();
    let body = customer_message(1, 1, "hello").to_string();
    let path = format!("/webhooks/cx/{TOKEN}");
    let refused = [
        (signed(b"other", now, &body), "the signature does not match the body"),
        (signed(b"s3cret", now - 301, &body), "the timestamp is 301 s away from now"),
        (vec![("x-chatwoot-timestamp", now.to_string())], "the signature header is missing"),
        (vec![], "the timestamp header is missing"),
        // The timestamp is the sender's number: the smallest i64 must not overflow the check.
        (
            vec![
                ("x-chatwoot-timestamp", i64::MIN.to_string()),
                ("x-chatwoot-signature", format!("sha256={}", "0".repeat(64))),
            ],
            "the timestamp is 9223372036854775807 s away from now",
        ),
    ];
    for (headers, why) in refused {
        let (status, answer) = h.post_with_headers(&path, &headers, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert!(answer["error"].as_str().unwrap().starts_with(why), "{answer} / {why}");
    }
    assert_nothing_stored(&h).await;
    let (status, answer) = h.post_with_headers(&path, &signed(b"s3cret", now, &body), body).await;
    assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some("accepted")));
    h.settle().await;
    assert!(!h.calls().is_empty());
}

#[test]
fn config_rejects_bad_values_precisely() {
    use botrun::server::Config;
    assert_eq!(Config::parse("").unwrap(), Config::default());
    let err = Config::parse("listen: 127.0.0.1:8080\nlisen: x\n").unwrap_err();
    assert!(err.contains("unknown field `lisen`") && err.contains("line 2"), "{err}");
    let err = Config::parse("listen: nowhere\n").unwrap_err();
    assert!(err.contains("listen") || err.contains("socket address"), "{err}");
    let err = Config::parse("store: mysql://db\n").unwrap_err();
    assert!(err.contains("use `sqlite://FILE`"), "{err}");
    let err =
        Config::parse("bots:\n  - {file: a.bot, inbox_id: 1}\n  - {file: b.bot, inbox_id: 1}\n")
            .unwrap_err();
    assert_eq!(err, "inbox 1 is served by two bots: give each inbox one bot");
    let err = Config::parse("limits:\n  body_bytes: 0\n").unwrap_err();
    assert_eq!(err, "limits.body_bytes must be at least 1");
    let err = Config::parse("log:\n  format: xml\n").unwrap_err();
    assert!(err.contains("unknown variant `xml`") && err.contains("json"), "{err}");
}

#[test]
fn the_postgres_pool_size_is_a_setting_of_a_postgres_store() {
    use botrun::server::Config;
    let config =
        Config::parse("store: postgres://bots@db/botrun\nlimits:\n  store_connections: 24\n")
            .unwrap();
    assert_eq!(config.limits.store_connections, Some(24));
    let err = Config::parse("limits:\n  store_connections: 24\n").unwrap_err();
    assert_eq!(err, "limits.store_connections applies to a `postgres://` store only");
    let err =
        Config::parse("store: postgres://db/b\nlimits:\n  store_connections: 1\n").unwrap_err();
    assert_eq!(err, "limits.store_connections must be at least 2");
}

#[test]
fn weak_webhook_tokens_are_refused_outside_dev() {
    use botrun::server::config::{check_token, generate_token};
    assert!(check_token("change-me", false).is_err());
    assert!(check_token("short", false).unwrap_err().contains("at least 32"));
    assert!(check_token("change-me", true).is_ok());
    let fresh = generate_token();
    assert_eq!(fresh.len(), 64);
    assert!(check_token(&fresh, false).is_ok());
}

#[tokio::test]
async fn a_long_queue_is_no_reason_to_refuse_a_stored_event() {
    let mut config = botrun::server::Config::default();
    config.limits.queue_per_conversation = 2;
    let h = Harness::with("faq.bot", "sqlite::memory:", config).await;
    // Hold the worker: every CX call hangs, so queued events stay queued.
    h.cx.hang.store(true, std::sync::atomic::Ordering::SeqCst);
    for id in 1..=6 {
        let (status, answer) = h.post(&customer_message(id, 1, "delivery time")).await;
        assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some("accepted")));
    }
    // The worker holds the first event (its reply hangs); the other five wait, none lost.
    assert!(h.store.queued_inbound("cx:1").await.unwrap() >= 5);
}

#[tokio::test]
async fn an_event_the_store_cannot_take_is_answered_500_and_taken_on_the_retry() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("botrun.db").display());
    let h = Harness::with("faq.bot", &url, botrun::server::Config::default()).await;
    let side = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("ALTER TABLE inbound RENAME TO inbound_away").execute(&side).await.unwrap();
    let event = customer_message(1, 1, "payment methods");
    let (status, answer) = h.post(&event).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    assert_eq!(answer["error"], "storage unavailable, the event was not stored");
    // Chatwoot retries a 500: once the store is back, the same delivery is taken and answered.
    sqlx::query("ALTER TABLE inbound_away RENAME TO inbound").execute(&side).await.unwrap();
    let (status, answer) = h.post(&event).await;
    assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some("accepted")));
    h.settle().await;
    let texts = Harness::texts(&h.calls());
    assert_eq!(texts.last().unwrap(), "You can pay by credit card, PayPal or invoice.");
}
