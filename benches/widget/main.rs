//! Widget load benchmark: N concurrent Web Chat conversations speaking Direct Line over
//! WebSocket against the real widget service (routes, token signing, file-backed SQLite history,
//! stream fan-out) on a loopback socket, measuring the echo latency (customer POST → its echo
//! on the conversation's socket), the bot-reply latency and the server's memory per open
//! conversation.
//!
//! By default the bot is a trivial `WidgetHost` answering `You said: …` to each message, so the
//! figures are the widget's own cost. With `--flow-a` it is the real Flow A host running
//! `bots/faq.bot` (durable SQLite service store) and mirroring every message into a CX emulator
//! that lives in the load generator's process (see `flow_a.rs`).
//!
//! The load generator runs in a child process (this binary again, see `client.rs`) so the
//! server's RSS is measured alone; the child reports its own RSS for reference.
//!
//! With `--store-url=postgres://…` the history is in PostgreSQL instead, in a schema of its own
//! created for the run (`bench_<pid>_<nanos>`, dropped at the end), and `--replicas=N` widget
//! services run as N processes of their own on it, each with its own pool and change-feed
//! listener; the load generator posts half the conversations' messages to another replica than
//! the one holding their socket, so cross-replica delivery is measured beside same-replica
//! delivery (see `replicas.rs`).
//!
//! The run fails (exit status 1) when a conversation could not open, a post failed, or an
//! activity was missing, duplicated or out of order on any socket.
//!
//! `cargo bench --bench widget -- [conversations] [messages_per_conversation] [--flow-a
//! [--cx-unlimited]] [--store-url=postgres://… [--replicas=2] [--store-connections=8]]`
//! (default 1000 5; `--cx-unlimited` turns off the CX client's rate limit)

#![allow(clippy::unwrap_used, reason = "a benchmark may stop on the first failure")]
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "figures for a table"
)]

/// The same allocator as the `botrun` binary, so the figures are the shipped service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod client;
mod flow_a;
mod replicas;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use botrun::widget::{
    router, CustomerActivity, OutgoingActivity, Sender, Site, WidgetConfig, WidgetError,
    WidgetHost, WidgetService, WidgetUser,
};
use futures_util::future::BoxFuture;

/// The site's backend secret the load generator mints tokens with.
pub const SECRET: &str = "bench-site-secret-0123456789abcdef";
/// What the customers ask with `--flow-a`, and the faq bot's answer.
pub const FAQ_QUESTION: &str = "how long does delivery take";
pub const FAQ_ANSWER: &str = "Deliveries take 2–4 working days within the EU.";
/// Set in the child's environment to the widget API base: it runs as the load generator.
const CLIENT_ENV: &str = "BOTRUN_WIDGET_BENCH_CLIENT";

/// The widget's token signing key, the same on every replica.
const TOKEN_KEY: &[u8] = b"bench-token-signing-key-0123456789abcdef";

/// Greets each conversation and answers every message with `You said: <text>`.
struct EchoBot;

impl WidgetHost for EchoBot {
    fn conversation_started<'a>(
        &'a self,
        widget: &'a WidgetService,
        conversation: &'a str,
        _user: &'a WidgetUser,
    ) -> BoxFuture<'a, Result<(), WidgetError>> {
        Box::pin(async move {
            let greeting = OutgoingActivity::Message {
                from: Sender::bot("Bench"),
                text: "Hello! Say anything.".into(),
                suggested_actions: vec![],
            };
            widget.push(conversation, greeting).await.map(drop)
        })
    }

    fn customer_activity<'a>(
        &'a self,
        widget: &'a WidgetService,
        conversation: &'a str,
        activity: CustomerActivity,
    ) -> BoxFuture<'a, Result<(), WidgetError>> {
        Box::pin(async move {
            let Some(text) = activity.text else { return Ok(()) };
            let reply = OutgoingActivity::Message {
                from: Sender::bot("Bench"),
                text: format!("You said: {text}"),
                suggested_actions: vec![],
            };
            widget.push(conversation, reply).await.map(drop)
        })
    }
}

/// Resident set size of this process, from `/proc/self/status`.
pub fn rss_kib() -> u64 {
    proc_status_field("self", "VmRSS:").unwrap_or(0)
}

/// Resident set size of process `pid`.
fn rss_of(pid: u32) -> u64 {
    proc_status_field(&pid.to_string(), "VmRSS:").unwrap_or(0)
}

fn proc_status_field(process: &str, name: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(name))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The soft limit on open files, from `/proc/self/limits`.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn percentile(sorted: &[u64], share: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (share * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

/// What the command line asks for.
pub struct Options {
    conversations: usize,
    per_conversation: usize,
    flow_a: bool,
    cx_unlimited: bool,
    store_url: Option<String>,
    replicas: usize,
    connections: u32,
}

impl Options {
    fn from_args() -> Options {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let numbers: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
        let value = |name: &str| {
            args.iter().find_map(|arg| arg.strip_prefix(&format!("--{name}=")).map(str::to_owned))
        };
        let options = Options {
            conversations: numbers.first().copied().unwrap_or(1000),
            per_conversation: numbers.get(1).copied().unwrap_or(5),
            flow_a: args.iter().any(|arg| arg == "--flow-a"),
            cx_unlimited: args.iter().any(|arg| arg == "--cx-unlimited"),
            store_url: value("store-url"),
            replicas: value("replicas").map_or(1, |n| n.parse().unwrap()),
            connections: value("store-connections")
                .map_or(botrun::store::DEFAULT_CONNECTIONS, |n| n.parse().unwrap()),
        };
        assert!(
            options.replicas == 1 || options.store_url.is_some(),
            "several replicas need a shared store: --store-url=postgres://…"
        );
        assert!(!(options.flow_a && options.store_url.is_some()), "--flow-a runs on SQLite only");
        options
    }
}

fn main() -> std::process::ExitCode {
    let options = Options::from_args();
    if let Ok(bases) = std::env::var(CLIENT_ENV) {
        let bases: Vec<String> = bases.split(' ').map(str::to_owned).collect();
        client::run(&bases, options.conversations, options.per_conversation, options.flow_a);
        return std::process::ExitCode::SUCCESS;
    }
    if let Ok(replica) = std::env::var(replicas::REPLICA_ENV) {
        replicas::serve_replica(&replica);
        return std::process::ExitCode::SUCCESS;
    }
    // Each conversation holds a WebSocket and (at peak) a pooled HTTP connection: two
    // descriptors in the server process, two in the client.
    let needed = u64::try_from(options.conversations).unwrap() * 2 + 256;
    match open_files_limit() {
        Some(limit) if limit < needed => {
            eprintln!("open files limit is {limit}, {needed} needed: run `ulimit -n 8192` first");
            return std::process::ExitCode::from(2);
        }
        limit => println!("open files limit: {limit:?} (needs about {needed})"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let report = if options.store_url.is_some() {
        runtime.block_on(replicas::serve_and_measure(&options))
    } else {
        runtime.block_on(serve_and_measure(&options))
    };
    let failed = report.open_failures
        + report.post_failures
        + report.missing_echoes
        + report.missing_replies
        + report.duplicates
        + report.disordered;
    if failed > 0 {
        eprintln!("FAILED: {failed} problems (see the table); first disordered sockets:");
        for example in &report.disorder_examples {
            eprintln!("  {example}");
        }
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

/// The widget's configuration for a service answering at `address`.
fn widget_config(address: SocketAddr) -> WidgetConfig {
    WidgetConfig {
        public_base_url: format!("http://{address}"),
        token_key: TOKEN_KEY.to_vec(),
        token_lifetime: Duration::from_secs(3600),
        keep_alive: Duration::from_secs(20),
        sites: vec![Site {
            id: "bench".into(),
            secret: SECRET.into(),
            origins: vec![format!("http://{address}")],
            anonymous_start: false,
            new_conversations_per_minute: u32::MAX,
        }],
        uploads: None,
    }
}

/// The load generator (this binary again, in client mode) for the widget APIs at `bases`.
fn spawn_client(options: &Options, bases: &[String]) -> Client {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.arg(options.conversations.to_string()).arg(options.per_conversation.to_string());
    if options.flow_a {
        command.arg("--flow-a");
    }
    let mut child = command
        .env(CLIENT_ENV, bases.join(" "))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let to_child = child.stdin.take().unwrap();
    let lines = lines_of(child.stdout.take().unwrap());
    Client { child, to_child, lines }
}

/// A child's stdout, line by line.
fn lines_of(stdout: ChildStdout) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (lines, received) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    received
}

/// The load generator's process and its two pipes.
struct Client {
    child: std::process::Child,
    to_child: ChildStdin,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Client {
    /// Runs the open, send and report phases, reading the servers' RSS (KiB each, by
    /// `server_rss`) when they are up, when every conversation is open and when every message
    /// is answered; returns the seconds opening took, the report and the three readings.
    async fn measure(
        mut self,
        server_rss: impl Fn() -> Vec<u64>,
    ) -> (f64, client::Report, [Vec<u64>; 3]) {
        let before = server_rss();
        writeln!(self.to_child, "go").unwrap();
        let opening = std::time::Instant::now();
        assert_eq!(self.lines.recv().await.as_deref(), Some("open"), "the client stopped");
        let open_secs = opening.elapsed().as_secs_f64();
        // Let greetings and stream replays finish before reading the RSS.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let open = server_rss();
        writeln!(self.to_child, "go").unwrap();
        assert_eq!(self.lines.recv().await.as_deref(), Some("sent"), "the client stopped");
        let after = server_rss();
        writeln!(self.to_child, "go").unwrap();
        let report = serde_json::from_str(&self.lines.recv().await.unwrap()).unwrap();
        self.child.wait().unwrap();
        (open_secs, report, [before, open, after])
    }
}

async fn serve_and_measure(options: &Options) -> client::Report {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let mut client = spawn_client(options, &[format!("http://{address}/v3/directline")]);
    let config = widget_config(address);
    let app = if options.flow_a {
        let line = client.lines.recv().await.unwrap();
        let urls: Vec<&str> = line.strip_prefix("cx ").unwrap().split(' ').collect();
        let service_db = format!("sqlite://{}", dir.path().join("botrun.db").display());
        flow_a::serve(address, options.cx_unlimited, urls[0], urls[1], &service_db, config).await
    } else {
        let widget_db = format!("sqlite://{}", dir.path().join("widget.db").display());
        let widget_store = botrun::store::open(&widget_db, botrun::store::Durability::Full)
            .await
            .unwrap()
            .widget_history();
        let widget = WidgetService::new(config, widget_store, Arc::new(EchoBot));
        axum::Router::new().nest("/v3/directline", router(widget))
    };
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (open_secs, report, rss) = client.measure(|| vec![rss_kib()]).await;
    print_table(options, "SQLite, one process", open_secs, &report, &rss);
    report
}

/// Prints the run's figures; `rss` holds the servers' RSS (KiB, one per replica) when idle,
/// open and after the messages.
fn print_table(
    options: &Options,
    backend: &str,
    open_secs: f64,
    report: &client::Report,
    rss: &[Vec<u64>; 3],
) {
    let (conversations, per_conversation) = (options.conversations, options.per_conversation);
    let sorted = |samples: &[u64]| {
        let mut samples = samples.to_vec();
        samples.sort_unstable();
        samples
    };
    let opened = report.opened.max(1) as f64;
    println!();
    println!(
        "widget over WebSocket: {conversations} conversations × {per_conversation} messages, {backend}"
    );
    println!(
        "  opened                      {} ({} failed) in {open_secs:.1} s",
        report.opened, report.open_failures
    );
    println!(
        "  posted                      {} in {:.1} s ({:.0} msg/s, last replies included), {} failed",
        report.posts,
        report.send_secs,
        report.posts as f64 / report.send_secs,
        report.post_failures
    );
    println!(
        "  missing echoes / replies    {} / {}, duplicates {}, sockets out of order {}",
        report.missing_echoes, report.missing_replies, report.duplicates, report.disordered
    );
    println!("  latency (ms)                samples   p50      p95      p99      max");
    let rows = [
        ("echo", &report.echo_us),
        ("bot reply", &report.reply_us),
        ("echo, cross-replica", &report.echo_cross_us),
        ("bot reply, cross-replica", &report.reply_cross_us),
    ];
    for (name, samples) in rows {
        if samples.is_empty() {
            continue;
        }
        let sorted = sorted(samples);
        println!(
            "  {name:<26}{:>8}  {:>7.1}  {:>7.1}  {:>7.1}  {:>7.1}",
            sorted.len(),
            percentile(&sorted, 0.50),
            percentile(&sorted, 0.95),
            percentile(&sorted, 0.99),
            percentile(&sorted, 1.0)
        );
    }
    let [before, open, after] = rss;
    let replicas = before.len();
    for replica in 0..replicas {
        let (before, open, after) = (before[replica], open[replica], after[replica]);
        let name = if replicas == 1 { "server".to_owned() } else { format!("replica {replica}") };
        // Each replica holds the sockets of 1/R of the conversations.
        let per_conversation_kib = |before: u64, after: u64| {
            after.saturating_sub(before) as f64 / (opened / replicas as f64)
        };
        println!(
            "  {name:<10} RSS {} MiB idle → {} MiB open → {} MiB after the messages; \
             {:.1} KiB per open conversation, {:.1} after {per_conversation} messages each",
            before / 1024,
            open / 1024,
            after / 1024,
            per_conversation_kib(before, open),
            per_conversation_kib(before, after)
        );
    }
    println!(
        "  client memory / conversation {:.1} KiB (load generator process, for reference)",
        (report.client_rss_open_kib.saturating_sub(report.client_rss_before_kib)) as f64 / opened
    );
}
