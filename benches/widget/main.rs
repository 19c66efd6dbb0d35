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
//! `cargo bench --bench widget -- [conversations] [messages_per_conversation] [--flow-a
//! [--cx-unlimited]]` (default 1000 5; `--cx-unlimited` turns off the CX client's rate limit)

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

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
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
    proc_status_field("VmRSS:").unwrap_or(0)
}

fn proc_status_field(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
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

fn main() {
    let numbers: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let conversations = numbers.first().copied().unwrap_or(1000);
    let per_conversation = numbers.get(1).copied().unwrap_or(5);
    let flow_a = std::env::args().any(|arg| arg == "--flow-a");
    if let Ok(base) = std::env::var(CLIENT_ENV) {
        client::run(&base, conversations, per_conversation, flow_a);
        return;
    }
    // Each conversation holds a WebSocket and (at peak) a pooled HTTP connection: two
    // descriptors in the server process, two in the client.
    let needed = u64::try_from(conversations).unwrap() * 2 + 256;
    match open_files_limit() {
        Some(limit) if limit < needed => {
            eprintln!("open files limit is {limit}, {needed} needed: run `ulimit -n 8192` first");
            std::process::exit(2);
        }
        limit => println!("open files limit: {limit:?} (needs about {needed})"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(serve_and_measure(conversations, per_conversation, flow_a));
}

async fn serve_and_measure(conversations: usize, per_conversation: usize, flow_a: bool) {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let base = format!("http://{address}/v3/directline");
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.arg(conversations.to_string()).arg(per_conversation.to_string());
    if flow_a {
        command.arg("--flow-a");
    }
    let mut child = command
        .env(CLIENT_ENV, &base)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_child = child.stdin.take().unwrap();
    let (lines, mut from_child) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });

    let config = WidgetConfig {
        public_base_url: format!("http://{address}"),
        token_key: b"bench-token-signing-key-0123456789abcdef".to_vec(),
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
    };
    let app = if flow_a {
        let line = from_child.recv().await.unwrap();
        let urls: Vec<&str> = line.strip_prefix("cx ").unwrap().split(' ').collect();
        let service_db = format!("sqlite://{}", dir.path().join("botrun.db").display());
        let unlimited = std::env::args().any(|arg| arg == "--cx-unlimited");
        flow_a::serve(address, unlimited, urls[0], urls[1], &service_db, config).await
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
    let server_before = rss_kib();
    writeln!(to_child, "go").unwrap();

    let opening = std::time::Instant::now();
    assert_eq!(from_child.recv().await.as_deref(), Some("open"), "the client stopped");
    let open_secs = opening.elapsed().as_secs_f64();
    // Let greetings and stream replays finish before reading the RSS.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let server_open = rss_kib();
    writeln!(to_child, "go").unwrap();
    assert_eq!(from_child.recv().await.as_deref(), Some("sent"), "the client stopped");
    let server_after = rss_kib();
    writeln!(to_child, "go").unwrap();
    let report: client::Report = serde_json::from_str(&from_child.recv().await.unwrap()).unwrap();
    child.wait().unwrap();
    print_table(
        conversations,
        per_conversation,
        open_secs,
        &report,
        [server_before, server_open, server_after],
    );
}

fn print_table(
    conversations: usize,
    per_conversation: usize,
    open_secs: f64,
    report: &client::Report,
    [server_before, server_open, server_after]: [u64; 3],
) {
    let mut echo = report.echo_us.clone();
    let mut reply = report.reply_us.clone();
    echo.sort_unstable();
    reply.sort_unstable();
    let opened = report.opened.max(1) as f64;
    let per_conversation_kib =
        |before: u64, after: u64| after.saturating_sub(before) as f64 / opened;
    println!();
    println!("widget over WebSocket: {conversations} conversations × {per_conversation} messages");
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
        "  missing echoes / replies    {} / {}, duplicates {}",
        report.missing_echoes, report.missing_replies, report.duplicates
    );
    println!("  latency (ms)                p50      p99      max");
    for (name, sorted) in [("echo", &echo), ("bot reply", &reply)] {
        println!(
            "  {name:<26}{:>7.1}  {:>7.1}  {:>7.1}",
            percentile(sorted, 0.50),
            percentile(sorted, 0.99),
            percentile(sorted, 1.0)
        );
    }
    println!(
        "  server RSS                  {} MiB idle → {} MiB open → {} MiB after the messages",
        server_before / 1024,
        server_open / 1024,
        server_after / 1024
    );
    println!(
        "  server memory / conversation {:.1} KiB open, {:.1} KiB after {per_conversation} messages each",
        per_conversation_kib(server_before, server_open),
        per_conversation_kib(server_before, server_after)
    );
    println!(
        "  client memory / conversation {:.1} KiB (load generator process, for reference)",
        per_conversation_kib(report.client_rss_before_kib, report.client_rss_open_kib)
    );
}
