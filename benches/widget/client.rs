//! The load generator: widget conversations speaking Direct Line like Web Chat does — a token
//! from the site's secret, `POST /conversations`, the `streamUrl` WebSocket, then customer
//! messages posted over HTTP whose echoes (and the bot's replies) come back on the socket.
//! Runs in its own process so the server's memory can be measured alone.
//!
//! With several replicas, conversation `n` holds its socket on replica `n % R` and posts to that
//! replica (same-replica) when `(n / R)` is even, else to the next one (cross-replica: the echo
//! reaches the socket through the store's change feed), so each replica holds as many sockets
//! and both paths are measured in one run. Every socket's activities are checked to arrive
//! exactly once and in order (consecutive sequence numbers, each echo before its reply, the
//! messages in the order posted).

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
    /// Microseconds from just before the POST to the echo on the socket, for conversations
    /// that post to the replica holding their socket (all of them with one replica).
    pub echo_us: Vec<u64>,
    /// Microseconds from just before the POST to the bot's reply on the socket (same replica).
    pub reply_us: Vec<u64>,
    /// The same for conversations that post to another replica than their socket's.
    pub echo_cross_us: Vec<u64>,
    pub reply_cross_us: Vec<u64>,
    /// Sockets whose activities came out of order, with a gap, or twice.
    pub disordered: usize,
    /// What went wrong on the first few of them.
    pub disorder_examples: Vec<String>,
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
    /// Where its messages are posted (`…/v3/directline` of one replica).
    post_base: String,
    /// Posted to another replica than the one holding the socket.
    cross: bool,
}

/// The replica conversation `n` holds its socket on, and the one it posts to.
fn replicas_of(n: usize, replicas: usize) -> (usize, usize) {
    let socket = n % replicas;
    let cross = (n / replicas) % 2 == 1;
    (socket, if cross { (socket + 1) % replicas } else { socket })
}

/// What one conversation brings back: per message its times, the failed posts, what its socket
/// saw in order (sequence number, sender role, text), and the socket, still open.
struct Outcome {
    times: Vec<Times>,
    post_failures: usize,
    arrivals: Vec<Arrival>,
    cross: bool,
    socket: OpenSocket,
}

/// One stored activity as it arrived on a socket.
#[derive(Clone, Debug)]
struct Arrival {
    seq: u64,
    from_user: bool,
    text: String,
}

/// Waits for the orchestrator's next line on stdin (`go`).
fn wait_for_go() {
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

/// Client mode: `bases` are the replicas' `http://addr/v3/directline`. Prints `open` once every
/// conversation is open and waits for `go`; sends, prints `sent` and waits for `go` again; then
/// closes every socket and prints the [`Report`].
///
/// With `flow_a`, first serves a CX emulator for the server's Flow A mirror and prints
/// `cx BASE_URL AUTH_URL`; either way, waits for `go` before opening conversations.
pub fn run(bases: &[String], conversations: usize, per_conversation: usize, flow_a: bool) {
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
            .map(|n| open(&http, bases, n))
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
    let outcomes = runtime.block_on(async {
        let tasks: Vec<_> = opened
            .into_iter()
            .map(|conversation| {
                tokio::spawn(converse(http.clone(), conversation, per_conversation, flow_a))
            })
            .collect();
        let mut outcomes = Vec::with_capacity(tasks.len());
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        outcomes
    });
    report.send_secs = started.elapsed().as_secs_f64();
    // Every socket is still open: the orchestrator reads the servers' RSS now.
    println!("sent");
    wait_for_go();
    let mut sockets = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        sockets.push(outcome.socket);
        report.post_failures += outcome.post_failures;
        if let Err(problem) = check_order(&outcome.arrivals, per_conversation, flow_a) {
            report.disordered += 1;
            if report.disorder_examples.len() < 5 {
                report.disorder_examples.push(problem);
            }
        }
        for time in outcome.times {
            let Some(sent) = time.sent else { continue };
            report.posts += 1;
            report.duplicates += time.duplicates;
            let (echoes, replies) = if outcome.cross {
                (&mut report.echo_cross_us, &mut report.reply_cross_us)
            } else {
                (&mut report.echo_us, &mut report.reply_us)
            };
            match time.echo {
                Some(echo) => echoes.push(micros(echo.saturating_duration_since(sent))),
                None => report.missing_echoes += 1,
            }
            match time.reply {
                Some(reply) => replies.push(micros(reply.saturating_duration_since(sent))),
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

/// Token from the site secret, start, and the stream socket on the conversation's socket
/// replica; `None` on any failure.
async fn open(http: &reqwest::Client, bases: &[String], n: usize) -> Option<Conversation> {
    let (socket_replica, post_replica) = replicas_of(n, bases.len());
    let base = &bases[socket_replica];
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
    Some(Conversation {
        id,
        token,
        socket,
        post_base: bases[post_replica].clone(),
        cross: post_replica != socket_replica,
    })
}

/// Posts `count` messages about a second apart (randomly, so the load is spread) and records
/// when each echo and reply comes back and what the socket saw.
async fn converse(
    http: reqwest::Client,
    conversation: Conversation,
    count: usize,
    flow_a: bool,
) -> Outcome {
    let times = Arc::new(Mutex::new(vec![Times::default(); count]));
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let (sink, mut stream) = conversation.socket.split();
    let reader = {
        let times = Arc::clone(&times);
        let arrivals = Arc::clone(&arrivals);
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(text) = message {
                    record_frame(&text, &times, &arrivals);
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
            .post(format!(
                "{}/conversations/{}/activities",
                conversation.post_base, conversation.id
            ))
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
    // Anything arriving later than this (a duplicate) still counts: give it a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let times = times.lock().unwrap().clone();
    let arrivals = arrivals.lock().unwrap().clone();
    Outcome { times, post_failures, arrivals, cross: conversation.cross, socket: (sink, reader) }
}

/// Notes the echo (the customer's own activity, by `clientActivityID`) and the bot's reply
/// (`You said: m3`, or the faq bot's answer, which belongs to the oldest unanswered message) of
/// each message in a stream frame, and every stored activity's arrival.
fn record_frame(text: &str, times: &Mutex<Vec<Times>>, arrivals: &Mutex<Vec<Arrival>>) {
    let now = Instant::now();
    let Ok(frame) = serde_json::from_str::<Value>(text) else { return };
    let Some(activities) = frame["activities"].as_array() else { return };
    let mut times = times.lock().unwrap();
    let mut arrivals = arrivals.lock().unwrap();
    for activity in activities {
        let text = activity["text"].as_str().unwrap_or_default();
        let from_user = activity["from"]["role"] == "user";
        // Stored activities have the id `{conversation}|{seq:07}`; typing has none of that form.
        let seq = activity["id"].as_str().and_then(|id| id.rsplit_once('|')?.1.parse().ok());
        if let Some(seq) = seq {
            arrivals.push(Arrival { seq, from_user, text: text.to_owned() });
        }
        let (index, is_echo) = if from_user {
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

/// Every stored activity once, in order: sequence numbers 1, 2, 3… without gap or repeat, and
/// (with the echo bot) the greeting, then `m0`, `You said: m0`, `m1`… as posted — each message
/// is posted after the previous one's answer, so that order is the only right one.
fn check_order(arrivals: &[Arrival], count: usize, flow_a: bool) -> Result<(), String> {
    let seqs: Vec<u64> = arrivals.iter().map(|arrival| arrival.seq).collect();
    let consecutive = seqs.iter().enumerate().all(|(i, seq)| *seq == i as u64 + 1);
    if !consecutive {
        return Err(format!("sequence numbers {seqs:?}, expected 1, 2, 3…"));
    }
    // The faq bot's greeting and answers may take several activities: only the numbering holds.
    if flow_a {
        return Ok(());
    }
    if arrivals.is_empty() {
        return Err("nothing arrived".to_owned());
    }
    let texts: Vec<String> = arrivals[1..]
        .iter()
        .map(|arrival| {
            if arrival.from_user {
                arrival.text.clone()
            } else {
                format!("bot: {}", arrival.text)
            }
        })
        .collect();
    let expected: Vec<String> =
        (0..count).flat_map(|k| [format!("m{k}"), format!("bot: You said: m{k}")]).collect();
    if texts != expected {
        return Err(format!("activities {texts:?}, expected {expected:?}"));
    }
    Ok(())
}

/// `m3` → 3.
fn tag_index(tag: &str) -> Option<usize> {
    tag.strip_prefix('m')?.parse().ok()
}
