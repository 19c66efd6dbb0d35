//! Two `botrun serve` replicas sharing one PostgreSQL store, as behind a load balancer: the
//! webhooks of each conversation land on either replica, alternately. Leases keep one
//! conversation on one replica at a time, so every reply is sent once and in order.

use std::sync::Arc;
use std::time::Duration;

use axum::http::Request;
use botrun::check::{load_program, CheckOptions};
use botrun::server::{app, run_timer_loop, AppState, Bots, Config, SystemClock};
use botrun::store::{PostgresStore, Store};
use tower::ServiceExt;

use super::harness::{customer_message, Call, RecordingCx, TOKEN};

const QUESTIONS: [(&str, &str); 5] = [
    ("how long does delivery take", "Deliveries take 2–4 working days within the EU."),
    ("can I pay with paypal", "You can pay by credit card, PayPal or invoice."),
    ("is my router under warranty", "All devices come with a two-year warranty."),
    (
        "what are your opening hours",
        "Our phone line is open Monday to Friday, 8:00–20:00. This chat is always open.",
    ),
    (
        "when will I get my refund",
        "Refunds reach your account 5–7 working days after we receive the return.",
    ),
];

fn replica(store: Arc<dyn Store>, cx: Arc<RecordingCx>) -> AppState {
    let bot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bots/faq.bot");
    let program = load_program(&bot, &CheckOptions::default()).unwrap().program;
    let state = AppState::new(
        Config::default(),
        store,
        Bots::new(vec![(None, program)]),
        cx,
        Arc::new(SystemClock),
        TOKEN.to_owned(),
    );
    tokio::spawn(run_timer_loop(state.clone()));
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_store_send_every_reply_once_in_order() {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let schema = format!("replicas_{}_{nanos}", std::process::id());
    let url = "postgres://postgres@127.0.0.1:5432/test";
    // Each replica has its own connection pool, as two processes would.
    let one: Arc<dyn Store> =
        Arc::new(PostgresStore::open_in_schema(url, Some(&schema)).await.unwrap());
    let two: Arc<dyn Store> =
        Arc::new(PostgresStore::open_in_schema(url, Some(&schema)).await.unwrap());
    let cx = Arc::new(RecordingCx::default());
    let replicas = [replica(one.clone(), cx.clone()), replica(two, cx.clone())];

    let conversations: u64 = 12;
    let mut message_id = 5000;
    for (round, (question, _)) in QUESTIONS.iter().enumerate() {
        for conversation in 1..=conversations {
            message_id += 1;
            let event = customer_message(message_id, conversation, question);
            let state = &replicas[(round + usize::try_from(conversation).unwrap()) % 2];
            let request = Request::post(format!("/webhooks/cx/{TOKEN}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(event.to_string()))
                .unwrap();
            let response = app(state.clone()).oneshot(request).await.unwrap();
            assert_eq!(response.status(), 200);
        }
    }

    let answers = |calls: &[Call], conversation: u64| -> Vec<String> {
        calls
            .iter()
            .filter_map(|call| match call {
                Call::Text { conversation: c, text } if *c == conversation.to_string() => {
                    QUESTIONS.iter().any(|(_, a)| a == text).then(|| text.clone())
                }
                _ => None,
            })
            .collect()
    };
    let expected: Vec<String> = QUESTIONS.iter().map(|(_, a)| (*a).to_owned()).collect();
    let mut calls = Vec::new();
    for _ in 0..1500 {
        calls = cx.calls.lock().unwrap().clone();
        let done = (1..=conversations).all(|c| answers(&calls, c).len() >= expected.len());
        if done && replicas.iter().all(AppState::idle) && one.outbox_depth().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for conversation in 1..=conversations {
        assert_eq!(answers(&calls, conversation), expected, "conversation {conversation}");
    }
    let greetings = calls
        .iter()
        .filter(|c| matches!(c, Call::Text { text, .. } if text.contains("Acme help centre bot")))
        .count();
    assert_eq!(greetings, usize::try_from(conversations).unwrap(), "one greeting each");
}
