//! Two `botrun serve` replicas sharing one PostgreSQL store, as behind a load balancer: the
//! webhooks of each conversation land on either replica, alternately. Leases keep one
//! conversation on one replica at a time, so every reply is sent once and in order.

use std::sync::Arc;
use std::time::Duration;

use axum::http::Request;
use botrun::check::{load_program, CheckOptions};
use botrun::server::{
    app, run_heartbeat_loop, run_timer_loop, AppState, Bots, Config, SystemClock,
};
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
    // Each replica has its own connection pool, as two processes would.
    let (one, two) = two_stores("replicas").await;
    let (one, two): (Arc<dyn Store>, Arc<dyn Store>) = (one, two);
    let cx = Arc::new(RecordingCx::default());
    let replicas = [replica(one.clone(), cx.clone()), replica(two, cx.clone())];

    let conversations: u64 = 12;
    let mut message_id = 5000;
    for (round, (question, _)) in QUESTIONS.iter().enumerate() {
        for conversation in 1..=conversations {
            message_id += 1;
            let event = customer_message(message_id, conversation, question);
            post(&replicas[(round + usize::try_from(conversation).unwrap()) % 2], &event).await;
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
        .filter(
            |c| matches!(c, Call::Buttons { text, .. } if text.contains("Acme help centre bot")),
        )
        .count();
    assert_eq!(greetings, usize::try_from(conversations).unwrap(), "one greeting each");
}

/// Two replicas on a fresh schema, each with its own pool as two processes would have.
async fn two_stores(test: &str) -> (Arc<PostgresStore>, Arc<PostgresStore>) {
    let schema = crate::postgres::fresh_schema(test);
    let one = crate::postgres::store_in(&schema).await;
    let two = crate::postgres::store_in(&schema).await;
    (Arc::new(one), Arc::new(two))
}

async fn post(state: &AppState, event: &serde_json::Value) {
    let request = Request::post(format!("/webhooks/cx/{TOKEN}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(event.to_string()))
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
}

/// A replica that dies mid-conversation — its CX call never returns, its heartbeat and its
/// database connections stop, as after `kill -9` — hands the conversation to the other replica
/// within seconds: the lease it held lapses once its heartbeat stops renewing it. (With the
/// old 90 s leases this waited a minute and a half.) The measured time is printed; the chaos
/// suite measures it between real processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_replicas_conversation_moves_to_the_other_within_seconds() {
    let (dying_store, live_store) = two_stores("failover").await;
    let dying_cx = Arc::new(RecordingCx::default());
    dying_cx.hang.store(true, std::sync::atomic::Ordering::SeqCst);
    let live_cx = Arc::new(RecordingCx::default());
    let dying = replica(dying_store.clone(), dying_cx);
    let dying_beat = tokio::spawn(run_heartbeat_loop(dying.clone(), None));
    let live = replica(live_store, live_cx.clone());
    tokio::spawn(run_heartbeat_loop(live.clone(), None));

    // The first message lands on the replica that is about to die: it takes the conversation's
    // lease and hangs sending the reply.
    post(&dying, &customer_message(9001, 1, QUESTIONS[0].0)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while dying_store.outbox_depth().await.unwrap() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the dying replica never took the turn");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    dying_beat.abort();
    dying_store.close().await;
    let crashed = tokio::time::Instant::now();

    // The customer writes again; the load balancer sends it to the live replica.
    post(&live, &customer_message(9002, 1, QUESTIONS[1].0)).await;
    let expected = [QUESTIONS[0].1, QUESTIONS[1].1];
    let answered = |calls: &[Call]| {
        let texts: Vec<&str> = calls
            .iter()
            .filter_map(|call| match call {
                Call::Text { conversation, text } if conversation == "1" => Some(text.as_str()),
                _ => None,
            })
            .filter(|text| expected.contains(text))
            .collect();
        texts == expected
    };
    let patience = Duration::from_secs(20);
    while !answered(&live_cx.calls.lock().unwrap()) {
        assert!(
            crashed.elapsed() < patience,
            "the live replica did not take the conversation over within {patience:?}: {:?}",
            live_cx.calls.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("failover: the live replica answered {:?} after the crash", crashed.elapsed());
}

/// What one customer message costs on PostgreSQL, in statements sent (each one round trip),
/// when nothing else is going on — the worst case, as no other message shares a batch:
/// 1. the event and the conversation's lease, asked for together by the webhook;
/// 2. the next event, the conversation's state and the head of its outbox (empty), read
///    together by the worker;
/// 3. the turn, which answers the ids of the replies it queued; 4. the reply's removal once
///    sent; 5. the next event (none); 6. the lease given up.
/// (It was 9 when the worker claimed the lease itself, and 8 while the worker read each reply
/// back from the outbox, then read again to find no more.)
#[tokio::test]
async fn one_message_alone_costs_six_statements_on_postgres() {
    use sqlx::Connection;
    let schema = crate::postgres::fresh_schema("cost");
    let store = Arc::new(crate::postgres::store_in(&schema).await);
    let mut side = sqlx::PgConnection::connect(&crate::postgres::url()).await.unwrap();
    let cx = Arc::new(RecordingCx::default());
    let bot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bots/faq.bot");
    let program = load_program(&bot, &CheckOptions::default()).unwrap().program;
    let state = AppState::new(
        Config::default(),
        store.clone(),
        Bots::new(vec![(None, program)]),
        cx.clone(),
        Arc::new(SystemClock),
        TOKEN.to_owned(),
    );
    let leases = format!("SELECT COUNT(*) FROM {schema}.leases");
    // Until the reply went out and the worker gave its lease up: every statement is sent.
    let mut settled = async |calls: usize| {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let held: i64 = sqlx::query_scalar(&leases).fetch_one(&mut side).await.unwrap();
            if cx.calls.lock().unwrap().len() >= calls && state.idle() && held == 0 {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "no answer, or a lease left");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    // The greeting first, so the measured message is a plain question and its answer.
    post(&state, &customer_message(7001, 1, QUESTIONS[0].0)).await;
    settled(1).await;
    let calls = cx.calls.lock().unwrap().len();
    let before = store.round_trips();
    post(&state, &customer_message(7002, 1, QUESTIONS[1].0)).await;
    settled(calls + 1).await;
    assert_eq!(store.round_trips() - before, 6);
}
