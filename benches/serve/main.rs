//! Load generator for `botrun serve` against the CX emulator: CX-shaped webhooks over loopback
//! HTTP into the real app (durable SQLite store, the faq bot), whose replies go out through the
//! real `CxClient` to the emulator (an agent bot is assigned, so the emulator also echoes every
//! bot message back as a webhook, as CX does).
//!
//! Load is open-loop: message `i` is due at `start + i / rate`, spread round-robin over the
//! conversations; each conversation posts its messages in order, so a slow server shows up as
//! latency, not as a lower offered rate. Latency runs from a message's due time to the
//! emulator's `created_at` of the bot's reply (both this process's wall clock).
//!
//! The client's rate limit is switched off (`rate_limit_per_second: 0`): the default of 50/s
//! (CX's 3,000 requests per minute) would otherwise be the whole measurement.
//!
//! With `--missed-every=N` every Nth message of a conversation is one the faq bot does not
//! understand (never two in a row, so the bot's `after 2 misses` handoff never comes and every
//! question still gets its answer); `--store=FILE` keeps the SQLite store after the run, so
//! `botrun report --store sqlite://FILE` shows what the bot decided, missed messages included.
//!
//! With `--store-url=postgres://…` the app runs on PostgreSQL instead, in a schema of its own
//! created for the run (`bench_<pid>_<nanos>`, dropped at the end), with the heartbeat and timer
//! loops a replica runs; `--replicas=N` starts N apps on that one database, each with its own
//! pool as N processes would have, and the webhooks go to the replica
//! `conversation % N` (a load balancer with affinity), or, with `--spread=alternate`, to every
//! replica in turn regardless of the conversation. The table then also shows the database's
//! committed transactions per message (from `pg_stat_database`, so give the run a database of
//! its own) and the store's statements per message (its own count of round trips).
//!
//! `cargo bench --bench serve -- [--rate=3000] [--seconds=10] [--conversations=300]
//! [--durability=full|process] [--missed-every=N] [--store=FILE]
//! [--store-url=postgres://… [--replicas=N] [--spread=affinity|alternate]
//! [--store-connections=8]]`

#![allow(clippy::unwrap_used, reason = "a benchmark may stop on the first failure")]

/// The same allocator as the `botrun` binary, so the figures are the shipped service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use botrun::check::{load_program, CheckOptions};
use botrun::cx::{Credentials, CxClient, CxConfig};
use botrun::emulator::{spawn, EmulatorOptions, Message, MessageType, RunningEmulator, SenderKind};
use botrun::server::{
    app, run_heartbeat_loop, run_timer_loop, AppState, Bots, Config, SystemClock,
};
use botrun::store::{Durability, PostgresStore, SqliteStore, Store};

const QUESTIONS: [(&str, &str); 3] = [
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
const TOKEN: &str = "bench-token-0123456789abcdef0123456789";
const INBOX: u64 = 2;

struct Options {
    rate: u64,
    seconds: u64,
    conversations: u64,
    durability: Durability,
    /// Every Nth message of a conversation is a miss (0: none).
    missed_every: u64,
    /// Where the store is kept after the run (default: a temporary file).
    store: Option<std::path::PathBuf>,
    /// A PostgreSQL database to run on instead of SQLite.
    store_url: Option<String>,
    /// How many apps share the PostgreSQL store.
    replicas: usize,
    /// Every webhook to the next replica, instead of a conversation's to its own.
    alternate: bool,
    /// Each replica's PostgreSQL pool size (`limits.store_connections`).
    connections: u32,
}

impl Options {
    fn from_args() -> Options {
        let mut options = Options {
            rate: 3000,
            seconds: 10,
            conversations: 300,
            durability: Durability::Full,
            missed_every: 0,
            store: None,
            store_url: None,
            replicas: 1,
            alternate: false,
            connections: botrun::store::DEFAULT_CONNECTIONS,
        };
        for arg in std::env::args().skip(1) {
            let Some((name, value)) = arg.trim_start_matches("--").split_once('=') else {
                continue;
            };
            match name {
                "rate" => options.rate = value.parse().unwrap(),
                "seconds" => options.seconds = value.parse().unwrap(),
                "conversations" => options.conversations = value.parse().unwrap(),
                "durability" => {
                    options.durability = serde_json::from_value(value.into()).unwrap();
                }
                "missed-every" => {
                    options.missed_every = value.parse().unwrap();
                    assert!(options.missed_every != 1, "--missed-every must be 0 or at least 2");
                }
                "store" => options.store = Some(value.into()),
                "store-url" => options.store_url = Some(value.to_owned()),
                "replicas" => options.replicas = value.parse().unwrap(),
                "spread" => options.alternate = value == "alternate",
                "store-connections" => options.connections = value.parse().unwrap(),
                _ => panic!("unknown option --{name}"),
            }
        }
        assert!(options.replicas >= 1, "--replicas must be at least 1");
        assert!(
            options.replicas == 1 || options.store_url.is_some(),
            "several replicas need a shared store: --store-url=postgres://…"
        );
        options
    }
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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The emulator and the replicas of `botrun serve` wired to it, each on a socket of its own.
struct Running {
    emulator: RunningEmulator,
    /// Each replica's webhook endpoint.
    endpoints: Vec<String>,
    /// The PostgreSQL stores, to count their round trips and close them.
    postgres: Vec<Arc<PostgresStore>>,
}

/// The emulator and `botrun serve` (one app per replica) wired to it.
async fn start(options: &Options, db: &Path, schema: &str) -> Running {
    let emulator_options = EmulatorOptions::default();
    let emulator = spawn(emulator_options.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let config = CxConfig {
        base_url: emulator.base_url(),
        auth_url: emulator.auth_url(),
        tenant_domain: emulator_options.tenant_domain.clone(),
        rate_limit_per_second: 0,
        ..CxConfig::default()
    };
    let credentials = Credentials::new(
        emulator_options.client_id.clone(),
        emulator_options.client_secret.clone(),
    );
    let client = CxClient::with_credentials(config, credentials).unwrap();
    let bot = Path::new(env!("CARGO_MANIFEST_DIR")).join("bots/faq.bot");
    let program = load_program(&bot, &CheckOptions::default()).unwrap().program;
    let mut endpoints = Vec::new();
    let mut postgres = Vec::new();
    for _ in 0..options.replicas {
        let store: Arc<dyn Store> = match &options.store_url {
            Some(url) => {
                let store = PostgresStore::open_with(url, Some(schema), options.connections);
                let store = Arc::new(store.await.unwrap());
                postgres.push(Arc::clone(&store));
                store
            }
            None => {
                let url = format!("sqlite://{}", db.display());
                Arc::new(SqliteStore::open_with(&url, options.durability).await.unwrap())
            }
        };
        let state = AppState::new(
            Config::default(),
            store,
            Bots::new(vec![(None, program.clone())]),
            Arc::new(client.clone()),
            Arc::new(SystemClock),
            TOKEN.to_owned(),
        );
        if options.store_url.is_some() {
            // What `botrun serve` runs beside the app on a shared store.
            tokio::spawn(run_heartbeat_loop(state.clone(), None));
            tokio::spawn(run_timer_loop(state.clone()));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = axum::serve(listener, app(state));
        tokio::spawn(async move { server.await });
        endpoints.push(format!("http://{addr}/webhooks/cx/{TOKEN}"));
    }
    let bot = client.create_agent_bot("faq", "bench", &endpoints[0]).await.unwrap();
    client.assign_agent_bot(INBOX.into(), bot.id).await.unwrap();
    Running { emulator, endpoints, postgres }
}

/// Transactions committed and rolled back in the current database so far (all sessions).
async fn transactions(url: &str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar(
        "SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database \
         WHERE datname = current_database()",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

/// Per conversation, the due times of the messages it sent.
type Sent = Vec<(u64, Vec<DateTime<Utc>>)>;

/// Posts `rate × seconds` webhooks on the open-loop schedule; returns when the schedule
/// started, what was sent and the 2xx latencies.
async fn offer(
    options: &Options,
    conversations: &[u64],
    endpoints: &[String],
) -> (DateTime<Utc>, Sent, Vec<Duration>) {
    let client = reqwest::Client::new();
    let total = options.rate * options.seconds;
    let count = u64::try_from(conversations.len()).unwrap();
    let start = Instant::now() + Duration::from_millis(50);
    let start_utc = Utc::now() + chrono::Duration::milliseconds(50);
    let mut tasks = Vec::new();
    for (index, &conversation) in (0..count).zip(conversations) {
        let (client, endpoints) = (client.clone(), endpoints.to_vec());
        let (rate, missed_every, alternate) =
            (options.rate, options.missed_every, options.alternate);
        tasks.push(tokio::spawn(async move {
            let mut due_times = Vec::new();
            let mut acks = Vec::new();
            for (k, i) in (index..total).step_by(usize::try_from(count).unwrap()).enumerate() {
                #[allow(clippy::cast_precision_loss)]
                let offset = Duration::from_secs_f64(i as f64 / rate as f64);
                tokio::time::sleep_until((start + offset).into()).await;
                let nth = u64::try_from(k).unwrap() + 1;
                let miss = missed_every > 0 && nth % missed_every == 0;
                let question = if miss {
                    let which = (conversation + nth / missed_every) % MISSED.len() as u64;
                    MISSED[usize::try_from(which).unwrap()]
                } else {
                    QUESTIONS[due_times.len() % QUESTIONS.len()].0
                };
                let id = conversation * 1_000_000 + u64::try_from(k).unwrap();
                let replica = if alternate { i } else { index };
                let endpoint = &endpoints[usize::try_from(replica).unwrap() % endpoints.len()];
                let posted = Instant::now();
                let response =
                    client.post(endpoint).body(webhook(id, conversation, question)).send().await;
                assert!(response.is_ok_and(|r| r.status().is_success()), "webhook refused");
                acks.push(posted.elapsed());
                // A miss gets "I'm not sure…", not an answer: only questions are timed.
                if !miss {
                    due_times.push(start_utc + chrono::Duration::from_std(offset).unwrap());
                }
            }
            ((conversation, due_times), acks)
        }));
    }
    let mut sent = Vec::new();
    let mut acks = Vec::new();
    for task in tasks {
        let (entry, mut times) = task.await.unwrap();
        sent.push(entry);
        acks.append(&mut times);
    }
    (start_utc, sent, acks)
}

/// How many bot answers the emulator holds for `conversations`, without copying them.
fn answered(emulator: &RunningEmulator, conversations: &[u64]) -> usize {
    emulator.control().read(|world| {
        conversations
            .iter()
            .map(|&c| world.messages_of(c).iter().filter(|m| is_answer(m)).count())
            .sum()
    })
}

fn is_answer(message: &Message) -> bool {
    message.message_type == MessageType::Outgoing
        && !message.private
        && message.sender.kind == SenderKind::AgentBot
        // The bot greets a conversation it has not seen before; only answers are counted.
        && QUESTIONS.iter().any(|(_, answer)| *answer == message.content)
}

/// The bot's answers in a conversation, with the emulator's receive times.
fn answers(emulator: &RunningEmulator, conversation: u64) -> Vec<(String, DateTime<Utc>)> {
    emulator
        .control()
        .messages(conversation)
        .unwrap()
        .into_iter()
        .filter(is_answer)
        .map(|m| (m.content, m.created_at))
        .collect()
}

#[tokio::main]
async fn main() {
    let options = Options::from_args();
    let dir = tempfile::tempdir().unwrap();
    let db = options.store.clone().unwrap_or_else(|| dir.path().join("bench.db"));
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let schema = format!("bench_{}_{}", std::process::id(), nanos.subsec_nanos());
    let running = start(&options, &db, &schema).await;
    let (emulator, endpoints) = (&running.emulator, &running.endpoints);
    // Created before any webhook flows: CX knows the conversations, botrun does not yet.
    let conversations: Vec<u64> = (0..options.conversations)
        .map(|n| emulator.control().customer_start(INBOX, &format!("Load {n}")).unwrap().id)
        .collect();
    let (transactions_before, trips_before) = match &options.store_url {
        Some(url) => (transactions(url).await, round_trips(&running.postgres)),
        None => (0, 0),
    };
    let (start_utc, sent, acks) = offer(&options, &conversations, endpoints).await;
    let offered_in = (Utc::now() - start_utc).to_std().unwrap();
    let total: usize = sent.iter().map(|(_, times)| times.len()).sum();
    let posted = options.rate * options.seconds;
    let deadline = Instant::now() + Duration::from_secs(60);
    while answered(emulator, &conversations) < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut lost, mut duplicated, mut reordered) = (0usize, 0usize, 0usize);
    let mut latencies = Vec::new();
    let mut last_reply = None::<DateTime<Utc>>;
    for (conversation, due_times) in &sent {
        let got = answers(emulator, *conversation);
        lost += due_times.len().saturating_sub(got.len());
        duplicated += got.len().saturating_sub(due_times.len());
        for (k, due) in due_times.iter().enumerate() {
            match got.get(k) {
                Some((text, at)) if text == QUESTIONS[k % QUESTIONS.len()].1 => {
                    latencies.push((*at - *due).to_std().unwrap_or_default());
                    last_reply = last_reply.max(Some(*at));
                }
                Some(_) => reordered += 1,
                None => {}
            }
        }
    }
    latencies.sort();
    let mut acks = acks;
    acks.sort();
    #[allow(clippy::cast_precision_loss)]
    let (offered, achieved) = (
        posted as f64 / offered_in.as_secs_f64(),
        latencies.len() as f64
            / (last_reply.unwrap_or(start_utc) - start_utc).to_std().unwrap().as_secs_f64(),
    );
    let backend = match &options.store_url {
        Some(_) => format!(
            "PostgreSQL, {} replica(s) of {} connections, {}",
            options.replicas,
            options.connections,
            if options.alternate { "webhooks alternating" } else { "webhooks by conversation" }
        ),
        None => format!("SQLite {:?}", options.durability),
    };
    println!(
        "serve vs emulator: {} conversations, {posted} messages ({total} questions) over {} s, \
         {backend}",
        options.conversations, options.seconds
    );
    if let Some(path) = &options.store {
        println!("store kept: botrun report --store sqlite://{}", path.display());
    }
    println!("| offered msg/s | achieved msg/s | p50 ms | p99 ms | max ms | 2xx p99 ms | lost | dup | reordered |");
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {offered:.0} | {achieved:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {lost} | {duplicated} | {reordered} |",
        millis(percentile(&latencies, 0.50)),
        millis(percentile(&latencies, 0.99)),
        millis(latencies.last().copied().unwrap_or_default()),
        millis(percentile(&acks, 0.99)),
    );
    if let Some(url) = &options.store_url {
        let trips = round_trips(&running.postgres) - trips_before;
        for store in &running.postgres {
            store.close().await;
        }
        // A session reports its transactions to the statistics when it ends (or goes idle).
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let committed = transactions(url).await - transactions_before;
        #[allow(clippy::cast_precision_loss)]
        let per = |n: i64| n as f64 / posted as f64;
        println!(
            "PostgreSQL per message (all replicas, heartbeats and timer loops included): \
             {:.2} transactions, {:.2} round trips",
            per(committed),
            per(i64::try_from(trips).unwrap()),
        );
        drop_schema(url, &schema).await;
    }
    running.emulator.shutdown().await;
}

/// The statements the stores sent so far, each one a round trip.
fn round_trips(stores: &[Arc<PostgresStore>]) -> u64 {
    stores.iter().map(|store| store.round_trips()).sum()
}

async fn drop_schema(url: &str, schema: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut conn).await.unwrap();
}
