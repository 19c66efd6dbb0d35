//! Load generator for `botrun serve`: CX-shaped webhooks over loopback HTTP into the real app
//! (durable SQLite store, the faq bot), measuring messages/s, webhook → CX call latency
//! (p50/p99), and lost / duplicated / reordered replies.
//!
//! CX is an in-process sink implementing the outbox's `CxOutbound` (it timestamps each call);
//! swap in the emulator once it is available.
//!
//! `cargo bench --bench serve -- [conversations] [messages_per_conversation] [--durability=process]`

#![allow(clippy::unwrap_used, reason = "a benchmark may stop on the first failure")]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use botrun::check::{load_program, CheckOptions};
use botrun::engine::Button;
use botrun::server::outbox::CxFuture;
use botrun::server::{app, AppState, Bots, Config, CxOutbound, SystemClock};
use botrun::store::{Durability, SqliteStore};

const QUESTIONS: [(&str, &str); 3] = [
    ("how long does delivery take", "Deliveries take 2–4 working days within the EU."),
    ("can I pay with paypal", "You can pay by credit card, PayPal or invoice."),
    ("is my router under warranty", "All devices come with a two-year warranty."),
];
const TOKEN: &str = "bench-token-0123456789abcdef0123456789";

#[derive(Default)]
struct Sink {
    /// Per conversation: (answer text, when the CX call arrived).
    replies: Mutex<HashMap<String, Vec<(String, Instant)>>>,
}

impl CxOutbound for Sink {
    fn send_text<'a>(
        &'a self,
        conversation: &'a str,
        text: &'a str,
        private: bool,
    ) -> CxFuture<'a> {
        if !private && QUESTIONS.iter().any(|(_, a)| *a == text) {
            let mut replies = self.replies.lock().unwrap();
            replies
                .entry(conversation.to_owned())
                .or_default()
                .push((text.to_owned(), Instant::now()));
        }
        Box::pin(async { Ok(()) })
    }
    fn send_buttons<'a>(&'a self, _: &'a str, _: &'a str, _: &'a [Button]) -> CxFuture<'a> {
        Box::pin(async { Ok(()) })
    }
    fn deliver_to_agent<'a>(&'a self, _: &'a str) -> CxFuture<'a> {
        Box::pin(async { Ok(()) })
    }
    fn finish<'a>(&'a self, _: &'a str) -> CxFuture<'a> {
        Box::pin(async { Ok(()) })
    }
}

fn webhook(message_id: u64, conversation: u64, text: &str) -> String {
    serde_json::json!({
        "event": "message_created", "id": message_id, "content": text,
        "message_type": "incoming", "private": false,
        "sender": {"type": "contact", "name": "Load"},
        "inbox": {"id": 1}, "conversation": {"id": conversation, "inbox_id": 1, "status": "pending"}
    })
    .to_string()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let conversations = args.first().copied().unwrap_or(200);
    let per_conversation = args.get(1).copied().unwrap_or(20);
    let durability = if std::env::args().any(|a| a == "--durability=process") {
        Durability::Process
    } else {
        Durability::Full
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Arc::new(SqliteStore::open_with(&url, durability).await.unwrap());
    let bot = Path::new(env!("CARGO_MANIFEST_DIR")).join("bots/faq.bot");
    let program = load_program(&bot, &CheckOptions::default()).unwrap().program;
    let sink = Arc::new(Sink::default());
    let state = AppState::new(
        Config::default(),
        store,
        Bots::new(vec![(None, program)]),
        sink.clone(),
        Arc::new(SystemClock),
        TOKEN.to_owned(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = axum::serve(listener, app(state.clone()));
    tokio::spawn(async move { server.await });
    let client = reqwest::Client::new();
    let endpoint = format!("http://{addr}/webhooks/cx/{TOKEN}");
    let sent: Arc<Mutex<HashMap<String, Vec<Instant>>>> = Arc::default();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for conversation in 1..=conversations {
        let (client, endpoint, sent) = (client.clone(), endpoint.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            for k in 0..per_conversation {
                let (question, _) = QUESTIONS[usize::try_from(k).unwrap() % QUESTIONS.len()];
                let id = conversation * 1_000_000 + k;
                let at = Instant::now();
                let response =
                    client.post(&endpoint).body(webhook(id, conversation, question)).send().await;
                assert!(response.is_ok_and(|r| r.status().is_success()), "webhook refused");
                sent.lock().unwrap().entry(conversation.to_string()).or_default().push(at);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let accepted_in = started.elapsed();
    let total = conversations * per_conversation;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let delivered: usize = sink.replies.lock().unwrap().values().map(Vec::len).sum();
        if u64::try_from(delivered).unwrap() >= total || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let elapsed = started.elapsed();
    let replies = sink.replies.lock().unwrap();
    let sent = sent.lock().unwrap();
    let (mut lost, mut duplicated, mut reordered) = (0usize, 0usize, 0usize);
    let mut latencies = Vec::new();
    for (conversation, times) in sent.iter() {
        let got = replies.get(conversation).cloned().unwrap_or_default();
        lost += times.len().saturating_sub(got.len());
        duplicated += got.len().saturating_sub(times.len());
        for (k, sent_at) in times.iter().enumerate() {
            let expected = QUESTIONS[k % QUESTIONS.len()].1;
            match got.get(k) {
                Some((text, at)) if text == expected => latencies.push(at.duration_since(*sent_at)),
                Some(_) => reordered += 1,
                None => {}
            }
        }
    }
    latencies.sort();
    #[allow(clippy::cast_precision_loss)]
    let rate = total as f64 / elapsed.as_secs_f64();
    println!("serve: {conversations} conversations × {per_conversation} messages = {total}");
    println!(
        "  accepted (all 2xx) in {:.2} s; all replies in {:.2} s",
        accepted_in.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "  throughput: {rate:.0} messages/s (webhook in → CX call out, SQLite synchronous=FULL)"
    );
    println!(
        "  webhook → CX call latency: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!("  lost {lost}, duplicated {duplicated}, reordered {reordered}");
}
