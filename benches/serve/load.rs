//! The load: CX-shaped `message_created` webhooks posted on an open-loop schedule, and the
//! forwarder that stands in for a load balancer in front of the replicas.
//!
//! CX (Chatwoot) delivers an agent bot's webhooks to one URL. The emulator's deliveries (the
//! echo of every bot message) therefore go to the forwarder, which passes each to a replica as a
//! balancer would — by conversation (affinity) or to each in turn — and counts the bot's answers
//! it sees, so the bench knows when the run has drained. The load's own webhooks are routed the
//! same way by the load generator itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

/// The faq bot's questions and the answer each gets.
pub const QUESTIONS: [(&str, &str); 3] = [
    ("how long does delivery take", "Deliveries take 2–4 working days within the EU."),
    ("can I pay with paypal", "You can pay by credit card, PayPal or invoice."),
    ("is my router under warranty", "All devices come with a two-year warranty."),
];
/// Messages the faq bot misses, in a few wordings each, as real customers would write them.
const MISSED: [&str; 8] = [
    "do you sell gift cards",
    "Do you sell gift cards?",
    "can I bring my dog to the shop",
    "gift cards for sale?",
    "do you have a student discount",
    "is your shop dog friendly",
    "student discount?",
    "what is the weather tomorrow",
];
pub const INBOX: u64 = 2;

/// How the replicas share the webhooks.
#[derive(Clone, Copy)]
pub enum Spread {
    /// A conversation's webhooks to one replica, by a hash of its id.
    Affinity,
    /// Every webhook to the next replica.
    Alternate,
}

/// What one row offers.
pub struct Load {
    pub rate: u64,
    pub seconds: u64,
    pub missed_every: u64,
    pub spread: Spread,
    /// Webhooks in flight at once per replica, as a balancer's pool of upstream connections
    /// (or CX's delivery workers) would allow; more wait their turn, their latency counting.
    pub in_flight: usize,
}

fn webhook(message_id: u64, conversation: u64, text: &str) -> String {
    serde_json::json!({
        "event": "message_created", "id": message_id, "content": text,
        "message_type": "incoming", "private": false,
        "sender": {"type": "contact", "name": "Load"},
        "inbox": {"id": INBOX},
        "conversation": {"id": conversation, "inbox_id": INBOX, "status": "pending"}
    })
    .to_string()
}

/// The replica a webhook goes to. Affinity hashes the conversation id: the emulator's ids
/// share one sequence with contacts, so `id % N` alone may send them all to one replica.
fn pick(spread: Spread, conversation: u64, turn: u64, replicas: usize) -> usize {
    let key = match spread {
        Spread::Affinity => conversation.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32,
        Spread::Alternate => turn,
    };
    usize::try_from(key % replicas as u64).unwrap()
}

/// Per conversation, the due times of the questions it asked.
pub type Sent = Vec<(u64, Vec<DateTime<Utc>>)>;

/// What the load generator saw: the schedule's start, what was asked, the webhooks' response
/// times, and how many webhooks the service refused or dropped (the run goes on).
pub struct Offered {
    pub start: DateTime<Utc>,
    pub sent: Sent,
    pub acks: Vec<Duration>,
    pub refused: usize,
}

/// Posts `rate × seconds` webhooks, message `i` due at `start + i / rate`, round-robin over the
/// conversations, each conversation in order; returns when the schedule started, what was
/// asked and the webhooks' response times.
pub async fn offer(load: &Load, conversations: &[u64], endpoints: &[String]) -> Offered {
    let client = reqwest::Client::new();
    let total = load.rate * load.seconds;
    let count = conversations.len() as u64;
    let start = Instant::now() + Duration::from_millis(50);
    let start_utc = Utc::now() + chrono::Duration::milliseconds(50);
    let permits: Arc<Vec<Arc<Semaphore>>> =
        Arc::new(endpoints.iter().map(|_| Arc::new(Semaphore::new(load.in_flight))).collect());
    let mut tasks = Vec::new();
    for (index, &conversation) in (0..count).zip(conversations) {
        let (client, endpoints, permits) = (client.clone(), endpoints.to_vec(), permits.clone());
        let (rate, missed_every, spread) = (load.rate, load.missed_every, load.spread);
        tasks.push(tokio::spawn(async move {
            let mut due_times = Vec::new();
            let mut acks = Vec::new();
            let mut refused = 0;
            for (k, i) in (index..total).step_by(usize::try_from(count).unwrap()).enumerate() {
                #[allow(clippy::cast_precision_loss)]
                let offset = Duration::from_secs_f64(i as f64 / rate as f64);
                tokio::time::sleep_until((start + offset).into()).await;
                let nth = k as u64 + 1;
                let miss = missed_every > 0 && nth % missed_every == 0;
                let question = if miss {
                    let which = (conversation + nth / missed_every) % MISSED.len() as u64;
                    MISSED[usize::try_from(which).unwrap()]
                } else {
                    QUESTIONS[due_times.len() % QUESTIONS.len()].0
                };
                let id = conversation * 1_000_000 + k as u64;
                let replica = pick(spread, conversation, i, endpoints.len());
                let permit = permits[replica].acquire().await.unwrap();
                let posted = Instant::now();
                let response = client
                    .post(&endpoints[replica])
                    .body(webhook(id, conversation, question))
                    .send()
                    .await;
                drop(permit);
                acks.push(posted.elapsed());
                // Still expected: a refused question shows up as lost unless it was answered.
                if !response.is_ok_and(|r| r.status().is_success()) {
                    refused += 1;
                }
                // A miss gets "I'm not sure…", not an answer: only questions are timed.
                if !miss {
                    due_times.push(start_utc + chrono::Duration::from_std(offset).unwrap());
                }
            }
            ((conversation, due_times), acks, refused)
        }));
    }
    let mut offered = Offered { start: start_utc, sent: Vec::new(), acks: Vec::new(), refused: 0 };
    for task in tasks {
        let (entry, mut times, refused) = task.await.unwrap();
        offered.sent.push(entry);
        offered.acks.append(&mut times);
        offered.refused += refused;
    }
    offered
}

/// The forwarder's state: where to, and how many answers it has passed on.
#[derive(Clone)]
pub struct Forwarder {
    client: reqwest::Client,
    endpoints: Arc<Vec<String>>,
    spread: Spread,
    turn: Arc<AtomicU64>,
    pub answers: Arc<AtomicU64>,
}

impl Forwarder {
    /// Serves the forwarder on a free loopback port; returns it and its URL.
    pub async fn start(endpoints: Vec<String>, spread: Spread) -> (Forwarder, String) {
        let forwarder = Forwarder {
            client: reqwest::Client::new(),
            endpoints: Arc::new(endpoints),
            spread,
            turn: Arc::default(),
            answers: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/agent-bot", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(forward).with_state(forwarder.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (forwarder, url)
    }
}

/// Passes one delivery on to a replica with its headers, and answers what the replica answered.
async fn forward(State(to): State<Forwarder>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    // A message event names its conversation; a conversation event is the conversation.
    let conversation = event["conversation"]["id"].as_u64().or_else(|| event["id"].as_u64());
    let conversation = conversation.unwrap_or(0);
    let turn = to.turn.fetch_add(1, Ordering::Relaxed);
    let endpoint = &to.endpoints[pick(to.spread, conversation, turn, to.endpoints.len())];
    let is_answer = event["message_type"] == "outgoing"
        && QUESTIONS.iter().any(|(_, answer)| event["content"] == *answer);
    let mut request = to.client.post(endpoint).body(body);
    for name in
        ["content-type", "x-chatwoot-delivery", "x-chatwoot-signature", "x-chatwoot-timestamp"]
    {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(response) => {
            if is_answer {
                to.answers.fetch_add(1, Ordering::Relaxed);
            }
            StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY)
        }
        Err(_) => StatusCode::BAD_GATEWAY,
    }
}
