//! Bad input at the webhook: each refusal is precise and stores nothing.

use axum::http::StatusCode;
use serde_json::json;

use super::harness::{customer_message, Harness, TOKEN};

async fn assert_nothing_stored(h: &Harness) {
    assert!(h.store.conversations_with_work().await.unwrap().is_empty());
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
    assert!(answer["error"].as_str().unwrap().starts_with("body is not valid JSON"), "{answer}");
    let (status, answer) = h.post(&json!({"id": 5})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"], "missing `event` field");
    let (status, _) = h.post(&json!(["an", "array"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mut no_conversation = customer_message(2, 1, "hi");
    no_conversation.as_object_mut().unwrap().remove("conversation");
    let (status, answer) = h.post(&no_conversation).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"], "message without a conversation id");
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
    let (status, answer) = h.post(&json!({"event": "message_updated", "id": 1})).await;
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

#[tokio::test]
async fn signed_deliveries_are_verified() {
    use hmac::{Hmac, Mac};
    let body = customer_message(1, 1, "hello").to_string();
    let now = super::harness::start_time().timestamp();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
    mac.update(format!("{now}.{body}").as_bytes());
    let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("x-chatwoot-timestamp", now.to_string().parse().unwrap());
    headers.insert("x-chatwoot-signature", good.parse().unwrap());
    let verify = botrun::server::intake::verify_signature;
    assert_eq!(verify("s3cret", &headers, body.as_bytes(), now), Ok(()));
    assert_eq!(verify("other", &headers, body.as_bytes(), now), Err("signature mismatch"));
    assert_eq!(verify("s3cret", &headers, b"tampered", now), Err("signature mismatch"));
    assert_eq!(
        verify("s3cret", &headers, body.as_bytes(), now + 301),
        Err("signature timestamp outside the accepted window")
    );
    headers.remove("x-chatwoot-signature");
    assert_eq!(verify("s3cret", &headers, body.as_bytes(), now), Err("missing signature"));
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
async fn a_full_conversation_queue_answers_429_so_cx_retries_later() {
    let mut config = botrun::server::Config::default();
    config.limits.queue_per_conversation = 2;
    let h = Harness::with("faq.bot", "sqlite::memory:", config).await;
    // Hold the worker: every CX call hangs, so queued events stay queued.
    h.cx.hang.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut statuses = Vec::new();
    for id in 1..=6 {
        statuses.push(h.post(&customer_message(id, 1, "delivery time")).await.0);
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    assert!(h.store.queued_inbound("cx:1").await.unwrap() <= 2);
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let h = Harness::new("faq.bot").await;
    h.post(&customer_message(1, 1, "delivery time")).await;
    h.post(&customer_message(1, 1, "delivery time")).await;
    h.settle().await;
    let get = |path: &'static str| {
        let state = h.state.clone();
        async move {
            use tower::ServiceExt;
            let request = axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap();
            let response = botrun::server::app(state).oneshot(request).await.unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    assert_eq!(get("/healthz").await, (StatusCode::OK, "ok".to_owned()));
    assert_eq!(get("/readyz").await, (StatusCode::OK, "ready".to_owned()));
    let (status, text) = get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        "botrun_events_in_total 2",
        "botrun_dedup_hits_total 1",
        "botrun_outbox_depth 0",
        "botrun_cx_request_duration_seconds_count 3",
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
    assert!(text.contains("botrun_replies_out_total 3"), "{text}");
}
