//! Retries, timeouts, the rate limiter and unreadable answers, under faults the emulator injects
//! (and, for HTML and garbage bodies the emulator never sends, a tiny hostile server).

use std::time::Duration;

use botrun::cx::{ConversationId, CxError, OutgoingMessage, RetryConfig};
use botrun::emulator::{Fault, FaultSpec, RunningEmulator};

use super::harness::{calls_to, client, config, emulator};

fn fault(path: &str, fault: Fault, times: u32) -> FaultSpec {
    FaultSpec { path: path.into(), fault, times: Some(times), share: None, seed: 0 }
}

fn open_conversation(emulator: &RunningEmulator) -> ConversationId {
    ConversationId(emulator.control().customer_start(1, "Ann").unwrap().id)
}

fn statuses(emulator: &RunningEmulator, path: &str) -> Vec<Option<u16>> {
    calls_to(emulator, path).iter().map(|c| c.status).collect()
}

#[tokio::test]
async fn retries_429_honouring_retry_after_seconds() {
    let emulator = emulator().await;
    let conversation = open_conversation(&emulator);
    let cx = client(config(&emulator));
    cx.token().await.unwrap();
    emulator
        .control()
        .add_fault(fault(
            "messages",
            Fault::TooManyRequests { retry_after_secs: 1, http_date: false },
            1,
        ))
        .unwrap();
    let started = std::time::Instant::now();
    cx.send_message(conversation, &OutgoingMessage::bot_text("hello")).await.unwrap();
    // The backoff alone would wait at most 20 ms; only Retry-After explains a second.
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    assert_eq!(statuses(&emulator, "messages/"), [Some(429), Some(200)]);
}

#[tokio::test]
async fn retries_429_with_an_http_date_retry_after() {
    let emulator = emulator().await;
    let conversation = open_conversation(&emulator);
    let cx = client(config(&emulator));
    emulator
        .control()
        .add_fault(fault(
            "messages",
            Fault::TooManyRequests { retry_after_secs: 1, http_date: true },
            2,
        ))
        .unwrap();
    cx.send_message(conversation, &OutgoingMessage::bot_text("hello")).await.unwrap();
    assert_eq!(statuses(&emulator, "messages/"), [Some(429), Some(429), Some(200)]);
    assert_eq!(emulator.control().messages(conversation.0).unwrap().len(), 1);
}

#[tokio::test]
async fn retries_500s_then_gives_up_with_the_last_error() {
    let emulator = emulator().await;
    let conversation = open_conversation(&emulator);
    let cx = client(config(&emulator));
    emulator
        .control()
        .add_fault(fault("deliver-to-agent", Fault::ServerError { status: 500 }, 2))
        .unwrap();
    cx.deliver_to_agent(conversation).await.unwrap();
    assert_eq!(statuses(&emulator, "deliver-to-agent/"), [Some(500), Some(500), Some(200)]);

    emulator.control().add_fault(fault("finish", Fault::ServerError { status: 503 }, 10)).unwrap();
    let error = cx.finish(conversation).await.unwrap_err();
    assert!(matches!(error, CxError::Http { status: 503, call: "finish", .. }), "{error}");
    assert!(error.is_transient());
    assert_eq!(calls_to(&emulator, "finish/").len(), 4, "max_attempts is 4");
}

#[tokio::test]
async fn stalls_time_out_and_resets_are_retried() {
    let emulator = emulator().await;
    let conversation = open_conversation(&emulator);
    let mut settings = config(&emulator);
    settings.timeout_ms = 300;
    let cx = client(settings);
    cx.token().await.unwrap();
    emulator.control().add_fault(fault("messages", Fault::Stall, 1)).unwrap();
    emulator.control().add_fault(fault("messages", Fault::Reset, 1)).unwrap();
    cx.send_message(conversation, &OutgoingMessage::bot_text("still there?")).await.unwrap();
    assert_eq!(calls_to(&emulator, "messages/").len(), 3);
    assert_eq!(emulator.control().messages(conversation.0).unwrap().len(), 1);

    emulator.control().add_fault(fault("messages", Fault::Stall, 10)).unwrap();
    let error = cx.send_message(conversation, &OutgoingMessage::bot_text("x")).await.unwrap_err();
    assert!(matches!(error, CxError::Timeout { call: "send_message", timeout_ms: 300 }), "{error}");
    assert_eq!(error.to_string(), "CX did not answer send_message within 300 ms");
}

#[tokio::test]
async fn the_rate_limiter_spaces_calls_shared_by_clones() {
    let emulator = emulator().await;
    let mut settings = config(&emulator);
    settings.rate_limit_per_second = 10;
    let cx = client(settings);
    cx.token().await.unwrap(); // one token of the bucket
    let tasks: Vec<_> = (0..19)
        .map(|_| {
            let clone = cx.clone();
            tokio::spawn(async move { clone.list_inboxes().await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let calls = calls_to(&emulator, "inboxes/");
    assert_eq!(calls.len(), 19);
    // 20 requests at 10/s with a burst of 10: the last ten wait 0.1 s apart, so the first and the
    // last inbox call are at least ~0.9 s apart however fast the machine is.
    let span = calls.last().unwrap().at - calls.first().unwrap().at;
    assert!(span >= chrono::Duration::milliseconds(850), "{span:?}");
}

#[tokio::test]
async fn connection_refused_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let mut settings = botrun::cx::CxConfig::for_emulator(
        format!("http://{address}/cx/"),
        format!("http://{address}/oauth/token"),
    );
    settings.retry = RetryConfig { max_attempts: 2, base_delay_ms: 1, max_delay_ms: 1 };
    let error = client(settings).list_inboxes().await.unwrap_err();
    assert!(matches!(error, CxError::Network { call: "token", .. }), "{error}");
    assert!(error.to_string().starts_with("could not reach CX for token: "), "{error}");
}

/// A server that answers every request with `status` and `body`.
async fn hostile_server(status: u16, content_type: &'static str, body: &'static str) -> String {
    use axum::http::StatusCode;
    let app = axum::Router::new().fallback(move || async move {
        (StatusCode::from_u16(status).unwrap(), [("content-type", content_type)], body)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

#[tokio::test]
async fn html_error_pages_and_garbage_bodies_give_clear_errors() {
    let emulator = emulator().await;
    let html = hostile_server(
        502,
        "text/html",
        "<html><head><title>502 Bad Gateway</title><style>h1{}</style></head><body><h1>Bad Gateway</h1><p>nginx</p></body></html>",
    )
    .await;
    let mut settings = config(&emulator);
    settings.base_url = format!("{html}/cx/");
    settings.retry.max_attempts = 2;
    let error = client(settings).list_inboxes().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "CX answered 502 to list_inboxes (CX server error): 502 Bad Gateway Bad Gateway nginx"
    );

    let garbage = hostile_server(200, "text/plain", "\u{0}\u{1}not json at all").await;
    let mut settings = config(&emulator);
    settings.base_url = format!("{garbage}/cx/");
    let error = client(settings).list_inboxes().await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, CxError::Decode { call: "list_inboxes", .. }), "{text}");
    assert!(
        text.starts_with("could not understand CX's answer to list_inboxes: the body is not JSON"),
        "{text}"
    );
    assert!(text.ends_with(r"(body: \u{0}\u{1}not json at all)"), "{text}");

    let token_garbage = hostile_server(200, "text/html", "<p>login page</p>").await;
    let mut settings = config(&emulator);
    settings.auth_url = format!("{token_garbage}/oauth/token");
    let error = client(settings).token().await.unwrap_err();
    assert!(matches!(error, CxError::Auth { .. }), "{error}");
    assert!(error.to_string().ends_with(": login page"), "{error}");
}
