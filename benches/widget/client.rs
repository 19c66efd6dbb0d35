//! The load generator: widget conversations speaking Direct Line like Web Chat does — a token
//! from the site's secret, `POST /conversations`, the `streamUrl` WebSocket, then customer
//! messages posted over HTTP whose echoes (and the bot's replies) come back on the socket.
//! Runs in its own process so the server's memory can be measured alone.

use std::io::BufRead as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::SplitSink;
use futures_util::{SinkExt as _, StreamExt as _};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::{rss_kib, FAQ_ANSWER, FAQ_QUESTION, SECRET};

/// How many conversations are opened at the same time while setting up.
const OPENING_CONCURRENCY: usize = 64;
/// How long after its last post a conversation waits for missing echoes and replies.
const GRACE: Duration = Duration::from_secs(10);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
/// The sending half of a conversation's socket and the task reading the other half.
type OpenSocket = (SplitSink<Socket, Message>, tokio::task::JoinHandle<()>);

/// What the client process reports to the orchestrator, as one JSON line.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Report {
    /// Conversations whose token, start or WebSocket failed.
    pub open_failures: usize,
    pub opened: usize,
    pub posts: usize,
    pub post_failures: usize,
    pub missing_echoes: usize,
    pub missing_replies: usize,
    /// Echoes or replies that arrived more than once.
    pub duplicates: usize,
    /// Microseconds from just before the POST to the echo on the socket.
    pub echo_us: Vec<u64>,
    /// Microseconds from just before the POST to the bot's reply on the socket.
    pub reply_us: Vec<u64>,
    /// Seconds the sending phase took.
    pub send_secs: f64,
    pub client_rss_before_kib: u64,
    pub client_rss_open_kib: u64,
}

/// Send, echo and reply instants of one message.
#[derive(Clone, Copy, Default)]
struct Times {
    sent: Option<Instant>,
    echo: Option<Instant>,
    reply: Option<Instant>,
    duplicates: usize,
}

struct Conversation {
    id: String,
    token: String,
    socket: Socket,
}

/// Waits for the orchestrator's next line on stdin (`go`).
fn wait_for_go() {
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

/// Client mode: `base` is `http://addr/v3/directline`. Prints `open` once every conversation is
/// open and waits for `go`; sends, prints `sent` and waits for `go` again; then closes every
/// socket and prints the [`Report`].
///
/// With `flow_a`, first serves a CX emulator for the server's Flow A mirror and prints
/// `cx BASE_URL AUTH_URL`; either way, waits for `go` before opening conversations.
pub fn run(base: &str, conversations: usize, per_conversation: usize, flow_a: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let http = reqwest::Client::builder().pool_max_idle_per_host(usize::MAX).build().unwrap();
    let _emulator = flow_a.then(|| {
        let options = botrun::emulator::EmulatorOptions::default();
        let address = "127.0.0.1:0".parse().unwrap();
        let emulator = runtime.block_on(botrun::emulator::spawn(options, address)).unwrap();
        println!("cx {} {}", emulator.base_url(), emulator.auth_url());
        emulator
    });
    wait_for_go();
    let mut report = Report { client_rss_before_kib: rss_kib(), ..Report::default() };
    let opened: Vec<Option<Conversation>> = runtime.block_on(async {
        futures_util::stream::iter(0..conversations)
            .map(|n| open(&http, base, n))
            .buffer_unordered(OPENING_CONCURRENCY)
            .collect()
            .await
    });
    let opened: Vec<Conversation> = opened.into_iter().flatten().collect();
    report.opened = opened.len();
    report.open_failures = conversations - opened.len();
    report.client_rss_open_kib = rss_kib();
    println!("open");
    wait_for_go();
    let started = Instant::now();
    let results = runtime.block_on(async {
        let tasks: Vec<_> = opened
            .into_iter()
            .map(|conversation| {
                let http = http.clone();
                let base = base.to_owned();
                tokio::spawn(converse(http, base, conversation, per_conversation, flow_a))
            })
            .collect();
        let mut results = Vec::with_capacity(tasks.len());
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    });
    report.send_secs = started.elapsed().as_secs_f64();
    // Every socket is still open: the orchestrator reads the server's RSS now.
    println!("sent");
    wait_for_go();
    let mut sockets = Vec::with_capacity(results.len());
    for (times, post_failures, socket) in results {
        sockets.push(socket);
        report.post_failures += post_failures;
        for time in times {
            let Some(sent) = time.sent else { continue };
            report.posts += 1;
            report.duplicates += time.duplicates;
            match time.echo {
                Some(echo) => report.echo_us.push(micros(echo.saturating_duration_since(sent))),
                None => report.missing_echoes += 1,
            }
            match time.reply {
                Some(reply) => report.reply_us.push(micros(reply.saturating_duration_since(sent))),
                None => report.missing_replies += 1,
            }
        }
    }
    runtime.block_on(async {
        for (mut sink, reader) in sockets {
            let _ = sink.send(Message::Close(None)).await;
            reader.abort();
        }
    });
    println!("{}", serde_json::to_string(&report).unwrap());
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Token from the site secret, start, and the stream socket; `None` on any failure.
async fn open(http: &reqwest::Client, base: &str, n: usize) -> Option<Conversation> {
    let minted: Value = http
        .post(format!("{base}/tokens/generate"))
        .bearer_auth(SECRET)
        .json(&json!({"user": {"id": format!("visitor-{n}"), "name": format!("Visitor {n}")}}))
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?
        .json()
        .await
        .ok()?;
    let token = minted["token"].as_str()?.to_owned();
    let started: Value = http
        .post(format!("{base}/conversations"))
        .bearer_auth(&token)
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?
        .json()
        .await
        .ok()?;
    let id = started["conversationId"].as_str()?.to_owned();
    let stream_url = started["streamUrl"].as_str()?;
    let (socket, _) = tokio_tungstenite::connect_async(stream_url).await.ok()?;
    Some(Conversation { id, token, socket })
}

/// Posts `count` messages about a second apart (randomly, so the load is spread) and records
/// when each echo and reply comes back; returns the times, the failed posts and the socket,
/// still open.
async fn converse(
    http: reqwest::Client,
    base: String,
    conversation: Conversation,
    count: usize,
    flow_a: bool,
) -> (Vec<Times>, usize, OpenSocket) {
    let times = Arc::new(Mutex::new(vec![Times::default(); count]));
    let (sink, mut stream) = conversation.socket.split();
    let reader = {
        let times = Arc::clone(&times);
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(text) = message {
                    record_frame(&text, &times);
                }
            }
        })
    };
    let mut post_failures = 0;
    let first = rand::thread_rng().gen_range(0..1000);
    tokio::time::sleep(Duration::from_millis(first)).await;
    for k in 0..count {
        if k > 0 {
            let spacing = rand::thread_rng().gen_range(500..1500);
            tokio::time::sleep(Duration::from_millis(spacing)).await;
        }
        let tag = format!("m{k}");
        let text = if flow_a { FAQ_QUESTION } else { tag.as_str() };
        let body =
            json!({"type": "message", "text": text, "channelData": {"clientActivityID": tag}});
        times.lock().unwrap()[k].sent = Some(Instant::now());
        let posted = http
            .post(format!("{base}/conversations/{}/activities", conversation.id))
            .bearer_auth(&conversation.token)
            .json(&body)
            .send()
            .await;
        if !posted.is_ok_and(|response| response.status().is_success()) {
            post_failures += 1;
        }
    }
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline {
        let done = times.lock().unwrap().iter().all(|t| t.echo.is_some() && t.reply.is_some());
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let times = times.lock().unwrap().clone();
    (times, post_failures, (sink, reader))
}

/// Notes the echo (the customer's own activity, by `clientActivityID`) and the bot's reply
/// (`You said: m3`, or the faq bot's answer, which belongs to the oldest unanswered message) of
/// each message in a stream frame.
fn record_frame(text: &str, times: &Mutex<Vec<Times>>) {
    let now = Instant::now();
    let Ok(frame) = serde_json::from_str::<Value>(text) else { return };
    let Some(activities) = frame["activities"].as_array() else { return };
    let mut times = times.lock().unwrap();
    for activity in activities {
        let text = activity["text"].as_str().unwrap_or_default();
        let (index, is_echo) = if activity["from"]["role"] == "user" {
            (activity["channelData"]["clientActivityID"].as_str().and_then(tag_index), true)
        } else if text == FAQ_ANSWER {
            (times.iter().position(|time| time.sent.is_some() && time.reply.is_none()), false)
        } else {
            (text.strip_prefix("You said: ").and_then(tag_index), false)
        };
        let Some(time) = index.and_then(|index| times.get_mut(index)) else { continue };
        let slot = if is_echo { &mut time.echo } else { &mut time.reply };
        if slot.is_some() {
            time.duplicates += 1;
        } else {
            *slot = Some(now);
        }
    }
}

/// `m3` → 3.
fn tag_index(tag: &str) -> Option<usize> {
    tag.strip_prefix('m')?.parse().ok()
}
