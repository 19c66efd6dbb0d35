//! Load generator for `botrun serve` as it is deployed: the real `botrun serve` binary in a
//! process of its own (one per replica), `botrun emulator` standing in for Sangoma CX in another,
//! and this process posting CX-shaped webhooks and forwarding the emulator's deliveries to the
//! replicas as a load balancer would (load.rs). botrun's CPU time and peak memory are read from
//! `/proc/<pid>` alone (processes.rs).
//!
//! One run measures SQLite and PostgreSQL side by side, one row each, and with `--replicas=N`
//! (N > 1) a third row: N processes on the one PostgreSQL database. Every row starts from a
//! fresh emulator, a fresh store (a temporary SQLite file; a new schema in the bench's
//! PostgreSQL database, created if missing and dropped after the row) and fresh processes.
//!
//! Load is open-loop: message `i` is due at `start + i / rate`, spread round-robin over the
//! conversations; each conversation posts its messages in order, so a slow server shows up as
//! latency, not as a lower offered rate. Latency runs from a message's due time to the
//! emulator's `created_at` of the bot's answer (the same machine's clock). Every conversation's
//! answers are then read back from the emulator and compared, in order, with its questions.
//!
//! The CX client's rate limit is on, at `--rate-limit` requests per second for the tenant
//! (`cx.rate_limit_scope: tenant`, so N replicas get 1/N of it each). The default, 10,000/s, is
//! what the emulator accepts; Sangoma CX's own budget (50/s) would be the whole measurement.
//!
//! With `--missed-every=N` every Nth message of a conversation is one the faq bot does not
//! understand (never two in a row, so the bot's `after 2 misses` handoff never comes and every
//! question still gets its answer); `--store=FILE` keeps the SQLite store after the run, so
//! `botrun report --store sqlite://FILE` shows what the bot decided, missed messages included.
//!
//! `cargo bench --bench serve -- [--rate=2000] [--seconds=10] [--conversations=10000]
//! [--stores=sqlite,postgres] [--replicas=2 [--spread=affinity|alternate]]
//! [--postgres=postgres://postgres@127.0.0.1:5432/botrun_bench] [--store-connections=8]
//! [--durability=full|process] [--rate-limit=10000] [--in-flight=256] [--missed-every=N] [--store=FILE]`
//!
//! The children run the `botrun` binary cargo built for this bench (same profile), or
//! `BOTRUN_BIN` when set.

#![allow(clippy::unwrap_used, reason = "a benchmark may stop on the first failure")]

/// The same allocator as the `botrun` binary, for the load generator's own efficiency.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod load;
mod processes;
mod report;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;

use botrun::cx::{Credentials, CxClient, CxConfig};

use load::{Forwarder, Load, Spread, INBOX};
use processes::{own_cpu, Process};
use report::Row;

const TOKEN: &str = "5b0c9e2f47a1d8636e4f2a9b7c1d0e8f3a6b5c4d2e1f0a9b";
const TENANT: &str = "dev.cx.localhost";
const CLIENT_ID: &str = "botrun-dev";
const CLIENT_SECRET: &str = "botrun-dev-secret";

struct Options {
    rate: u64,
    seconds: u64,
    conversations: u64,
    sqlite: bool,
    postgres: bool,
    durability: String,
    missed_every: u64,
    /// Where the SQLite store is kept after the run (default: a temporary file).
    store: Option<PathBuf>,
    postgres_url: String,
    /// Replicas of the extra PostgreSQL row (1: no extra row).
    replicas: usize,
    spread: Spread,
    connections: u32,
    rate_limit: u32,
    in_flight: usize,
}

impl Options {
    fn from_args() -> Options {
        let mut options = Options {
            rate: 2000,
            seconds: 10,
            conversations: 10_000,
            sqlite: true,
            postgres: true,
            durability: "full".to_owned(),
            missed_every: 0,
            store: None,
            postgres_url: "postgres://postgres@127.0.0.1:5432/botrun_bench".to_owned(),
            replicas: 1,
            spread: Spread::Affinity,
            connections: 8,
            rate_limit: 10_000,
            in_flight: 256,
        };
        for arg in std::env::args().skip(1) {
            let Some((name, value)) = arg.trim_start_matches("--").split_once('=') else {
                continue;
            };
            match name {
                "rate" => options.rate = value.parse().unwrap(),
                "seconds" => options.seconds = value.parse().unwrap(),
                "conversations" => options.conversations = value.parse().unwrap(),
                "stores" => {
                    options.sqlite = value.split(',').any(|s| s == "sqlite");
                    options.postgres = value.split(',').any(|s| s == "postgres");
                }
                "durability" => value.clone_into(&mut options.durability),
                "missed-every" => {
                    options.missed_every = value.parse().unwrap();
                    assert!(options.missed_every != 1, "--missed-every must be 0 or at least 2");
                }
                "store" => options.store = Some(value.into()),
                "postgres" => value.clone_into(&mut options.postgres_url),
                "replicas" => options.replicas = value.parse().unwrap(),
                "spread" => {
                    options.spread =
                        if value == "alternate" { Spread::Alternate } else { Spread::Affinity };
                }
                "store-connections" => options.connections = value.parse().unwrap(),
                "rate-limit" => options.rate_limit = value.parse().unwrap(),
                "in-flight" => options.in_flight = value.parse().unwrap(),
                _ => panic!("unknown option --{name}"),
            }
        }
        assert!(options.replicas >= 1, "--replicas must be at least 1");
        options
    }

    fn load(&self) -> Load {
        Load {
            rate: self.rate,
            seconds: self.seconds,
            missed_every: self.missed_every,
            spread: self.spread,
            in_flight: self.in_flight,
        }
    }
}

/// The store of one row.
enum Store {
    Sqlite(PathBuf),
    Postgres { schema: String },
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// `botrun serve`'s configuration for one replica.
fn serve_config(options: &Options, store: &Store, port: u16, emulator: &str) -> String {
    let bot = Path::new(env!("CARGO_MANIFEST_DIR")).join("bots/faq.bot");
    let store = match store {
        Store::Sqlite(path) => {
            format!(
                "store: sqlite://{}\ndurability: {}\nlimits:",
                path.display(),
                options.durability
            )
        }
        Store::Postgres { schema } => format!(
            "store: {}{}options=-c%20search_path%3D{schema}\nlimits:\n  store_connections: {}",
            options.postgres_url,
            if options.postgres_url.contains('?') { "&" } else { "?" },
            options.connections,
        ),
    };
    format!(
        "listen: 127.0.0.1:{port}\n\
         public_url: http://127.0.0.1:{port}\n\
         bots:\n  - file: {bot}\n\
         cx:\n  base_url: {emulator}/cx/\n  auth_url: {emulator}/oauth/token\n  \
         tenant_domain: {TENANT}\n  rate_limit_per_second: {rate_limit}\n  \
         rate_limit_scope: tenant\n\
         {store}\n  \
         # Every webhook comes from 127.0.0.1 here, as from a proxy.\n  \
         connections_per_address: 4096\n",
        bot = bot.display(),
        rate_limit = options.rate_limit,
    )
}

/// Connects to the bench's database, creating it first when it is missing.
async fn postgres(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    if let Ok(conn) = sqlx::PgConnection::connect(url).await {
        return conn;
    }
    let mut server = url::Url::parse(url).unwrap();
    let database = server.path().trim_start_matches('/').to_owned();
    assert!(
        database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "database name `{database}` must be letters, digits and _"
    );
    server.set_path("/postgres");
    let mut admin = sqlx::PgConnection::connect(server.as_str())
        .await
        .unwrap_or_else(|e| panic!("no PostgreSQL answers at {server}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {database}")).execute(&mut admin).await.unwrap();
    sqlx::PgConnection::connect(url).await.unwrap()
}

/// Transactions committed and rolled back in the bench's database so far (all sessions).
async fn transactions(url: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database \
         WHERE datname = current_database()",
    )
    .fetch_one(&mut postgres(url).await)
    .await
    .unwrap()
}

/// What a replica's `/metrics` says it did: webhooks taken, turns, replies sent.
async fn work_done(endpoint: &str) -> String {
    let root = &endpoint[..endpoint.find("/webhooks").unwrap()];
    let text = reqwest::get(format!("{root}/metrics")).await.unwrap().text().await.unwrap();
    let total = |name: &str| -> f64 {
        text.lines()
            .filter(|line| line.starts_with(name))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    format!(
        "{} events in, {} turns, {} replies out",
        total("botrun_events_in_total"),
        total("botrun_bot_turns_total"),
        total("botrun_replies_out_total"),
    )
}

/// Conversations opened by customers in the emulator: CX knows them, botrun does not yet.
async fn open_conversations(emulator: &str, count: u64) -> Vec<u64> {
    let client = reqwest::Client::new();
    futures_util::stream::iter((0..count).map(|n| {
        let client = client.clone();
        async move {
            let body = serde_json::json!({"inbox_id": INBOX, "name": format!("Load {n}")});
            let url = format!("{emulator}/_control/conversations");
            let answer: serde_json::Value =
                client.post(url).json(&body).send().await.unwrap().json().await.unwrap();
            answer["id"].as_u64().unwrap()
        }
    }))
    .buffered(16)
    .collect()
    .await
}

/// One row: a fresh emulator, `replicas` processes of `botrun serve` on `store`, the load.
async fn run_row(options: &Options, label: &str, store: &Store, replicas: usize) -> Row {
    let dir = tempfile::tempdir().unwrap();
    let emulator_port = processes::free_port();
    let emulator = format!("http://127.0.0.1:{emulator_port}");
    let emulator_log = dir.path().join("emulator.log");
    let listen = format!("127.0.0.1:{emulator_port}");
    let mut emulator_process =
        Process::start("botrun emulator", &["emulator", "--listen", &listen], &[], &emulator_log);
    emulator_process.wait_ready(&format!("{emulator}/_control/state"), &emulator_log).await;

    let mut servers = Vec::new();
    let mut endpoints = Vec::new();
    for replica in 0..replicas {
        let port = processes::free_port();
        let config = dir.path().join(format!("botrun-{replica}.yaml"));
        std::fs::write(&config, serve_config(options, store, port, &emulator)).unwrap();
        let log = dir.path().join(format!("botrun-{replica}.log"));
        let env = [
            ("BOTRUN_WEBHOOK_TOKEN", TOKEN),
            ("BOTRUN_CX_CLIENT_ID", CLIENT_ID),
            ("BOTRUN_CX_CLIENT_SECRET", CLIENT_SECRET),
        ];
        let args = ["serve", "--config", config.to_str().unwrap()];
        let mut server = Process::start(&format!("botrun serve #{replica}"), &args, &env, &log);
        server.wait_ready(&format!("http://127.0.0.1:{port}/readyz"), &log).await;
        servers.push(server);
        endpoints.push(format!("http://127.0.0.1:{port}/webhooks/cx/{TOKEN}"));
    }
    let (forwarder, forwarder_url) = Forwarder::start(endpoints.clone(), options.spread).await;
    let cx = CxClient::with_credentials(
        CxConfig {
            rate_limit_per_second: 0,
            ..CxConfig::for_emulator(format!("{emulator}/cx/"), format!("{emulator}/oauth/token"))
        },
        Credentials::new(CLIENT_ID, CLIENT_SECRET),
    )
    .unwrap();
    let bot = cx.create_agent_bot("faq", "bench", &forwarder_url).await.unwrap();
    cx.assign_agent_bot(INBOX.into(), bot.id).await.unwrap();
    let conversations = open_conversations(&emulator, options.conversations).await;
    // The tenant budget is split once the replicas have seen each other's heartbeats.
    if replicas > 1 {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    let transactions_before = match store {
        Store::Postgres { .. } => Some(transactions(&options.postgres_url).await),
        Store::Sqlite(_) => None,
    };
    let cpu_before: Vec<Duration> = servers.iter().map(Process::cpu).collect();
    let postgres_before = processes::postgres_cpu();
    let (emulator_before, bench_before) = (emulator_process.cpu(), own_cpu());
    let load_before = load_average();
    let load::Offered { start: start_utc, sent, mut acks, refused } =
        load::offer(&options.load(), &conversations, &endpoints).await;
    let offered_in = (Utc::now() - start_utc).to_std().unwrap();
    let questions: u64 = sent.iter().map(|(_, due)| due.len() as u64).sum();
    let deadline = Instant::now() + Duration::from_secs(120);
    while forwarder.answers.load(Ordering::Relaxed) < questions && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let botrun_cpu: Vec<Duration> = servers
        .iter()
        .zip(&cpu_before)
        .map(|(server, before)| server.cpu().saturating_sub(*before))
        .collect();
    let database_cpu = match store {
        Store::Postgres { .. } => Some(processes::postgres_cpu_since(&postgres_before)),
        Store::Sqlite(_) => None,
    };
    let botrun_rss: Vec<u64> = servers.iter().map(|server| server.memory().1).collect();
    let (emulator_cpu, bench_cpu) = (
        emulator_process.cpu().saturating_sub(emulator_before),
        own_cpu().saturating_sub(bench_before),
    );

    let check = report::check(&emulator, &sent).await;
    for (replica, endpoint) in endpoints.iter().enumerate() {
        println!("{label}: botrun serve #{replica}: {}", work_done(endpoint).await);
    }
    // What the replicas logged: warnings, and on any failure where their logs are kept.
    let failed = refused + check.lost + check.duplicated + check.reordered > 0;
    let kept = std::env::temp_dir().join(format!("botrun-serve-bench-{}", std::process::id()));
    for replica in 0..replicas {
        let name = format!("botrun-{replica}.log");
        let log = std::fs::read_to_string(dir.path().join(&name)).unwrap_or_default();
        let warnings: Vec<&str> = log.lines().filter(|line| line.contains("WARN")).collect();
        let deadlocks = warnings.iter().filter(|line| line.contains("deadlock")).count();
        println!(
            "{label}: botrun serve #{replica} logged {} warnings ({deadlocks} naming a deadlock)",
            warnings.len()
        );
        if failed {
            std::fs::create_dir_all(&kept).unwrap();
            let file = kept.join(format!("{}-{name}", label.replace([' ', ','], "_")));
            std::fs::write(&file, &log).unwrap();
            println!("    its log is kept: {}", file.display());
        }
    }
    for server in servers {
        server.stop();
    }
    let posted = options.rate * options.seconds;
    let transactions = match (store, transactions_before) {
        (Store::Postgres { schema }, Some(before)) => {
            // A session reports its transactions to the statistics when it ends.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let committed = transactions(&options.postgres_url).await - before;
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&mut postgres(&options.postgres_url).await)
                .await
                .unwrap();
            #[allow(clippy::cast_precision_loss)]
            Some(committed as f64 / posted as f64)
        }
        _ => None,
    };
    emulator_process.stop();
    let mut latencies = check.latencies.clone();
    latencies.sort();
    acks.sort();
    let span = (check.last_answer.unwrap_or(start_utc) - start_utc).to_std().unwrap();
    println!(
        "{label}: load average {load_before} before, {} after; {questions} answers expected, \
         {} seen by the forwarder",
        load_average(),
        forwarder.answers.load(Ordering::Relaxed)
    );
    #[allow(clippy::cast_precision_loss)]
    Row {
        label: label.to_owned(),
        offered: posted as f64 / offered_in.as_secs_f64(),
        achieved: latencies.len() as f64 / span.as_secs_f64(),
        latencies,
        acks,
        refused,
        check,
        posted,
        botrun_cpu,
        botrun_rss,
        emulator_cpu,
        bench_cpu,
        database_cpu,
        transactions,
    }
}

#[tokio::main]
async fn main() {
    let options = Options::from_args();
    let binary = processes::binary();
    println!(
        "serve, botrun as separate processes ({}): {} conversations, {} messages at {} msg/s \
         over {} s; CX rate limit {}/s for the tenant (rate_limit_scope: tenant); load average {}",
        binary.display(),
        options.conversations,
        options.rate * options.seconds,
        options.rate,
        options.seconds,
        options.rate_limit,
        load_average(),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    if options.sqlite {
        let db = options.store.clone().unwrap_or_else(|| dir.path().join("bench.db"));
        let label = format!("SQLite {}", options.durability);
        rows.push(run_row(&options, &label, &Store::Sqlite(db.clone()), 1).await);
        if options.store.is_some() {
            println!("store kept: botrun report --store sqlite://{}", db.display());
        }
    }
    if options.postgres {
        drop(postgres(&options.postgres_url).await);
        let mut counts = vec![1];
        if options.replicas > 1 {
            counts.push(options.replicas);
        }
        for replicas in counts {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            let schema = format!("bench_{}_{nanos}", std::process::id());
            let label = if replicas == 1 {
                "PostgreSQL".to_owned()
            } else {
                let spread = match options.spread {
                    Spread::Affinity => "by conversation",
                    Spread::Alternate => "alternating",
                };
                format!("PostgreSQL × {replicas}, {spread}")
            };
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut postgres(&options.postgres_url).await)
                .await
                .unwrap();
            rows.push(run_row(&options, &label, &Store::Postgres { schema }, replicas).await);
        }
    }
    println!();
    report::print_table(&rows);
}
