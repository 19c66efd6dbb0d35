//! The webhook corpus: bodies shaped exactly as Chatwoot's code builds them (each case names the
//! files and methods it follows), posted to the served app whose CX is the emulator. A case sets
//! the emulator up (ids come from Chatwoot-like per-kind sequences, so the bodies can name them),
//! posts its bodies in order to the agent-bot intake, waits for the app to settle, and compares
//! the conversations' transcripts in the emulator.
//!
//! Case format (`cases/*.json`): `chatwoot` (sources), `issue` (what it checks), `setup` (emulator
//! operations: `visitor_opens` name, `visitor_writes` [contact, text], `visitor_attaches`
//! [contact, file type, url], `status` [conversation, status], `agent_says` [conversation, agent,
//! text]), `posts` (webhook bodies; `{"settle": true}` waits between two), `expect.transcripts`
//! (conversation id → lines: `> text` customer, `> [image]` a file, `bot: text [A | B]`, `Name:
//! text` a human agent, `note: text` a private note).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use botrun::check::{load_program, CheckOptions};
use botrun::cx::{Credentials, CxClient, CxConfig};
use botrun::emulator::{
    spawn, EmulatorOptions, Message, MessageType, RunningEmulator, SenderKind, Status,
};
use botrun::server::{app, AppState, Bots, Config, SystemClock};
use botrun::store::SqliteStore;
use serde_json::Value;

const TOKEN: &str = "corpus-token-0123456789abcdef0123456789abcdef";
const DEADLINE: Duration = Duration::from_secs(15);

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/webhooks/cases")
}

/// The served app with the emulator as its CX.
struct Served {
    emulator: RunningEmulator,
    state: AppState,
    intake: String,
    http: reqwest::Client,
}

async fn serve(config: Config) -> Served {
    let options = EmulatorOptions {
        per_kind_ids: true,
        webhook_retry_spacing: Duration::from_millis(20),
        ..EmulatorOptions::default()
    };
    let emulator = spawn(options.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = CxClient::with_credentials(
        CxConfig {
            base_url: emulator.base_url(),
            auth_url: emulator.auth_url(),
            tenant_domain: options.tenant_domain.clone(),
            ..CxConfig::default()
        },
        Credentials::new(options.client_id.clone(), options.client_secret.clone()),
    )
    .unwrap();
    let bot = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/webhooks/corpus.bot");
    let program = load_program(&bot, &CheckOptions::default()).unwrap().program;
    let store = Arc::new(SqliteStore::open("sqlite::memory:").await.unwrap());
    let state = AppState::new(
        config,
        store,
        Bots::new(vec![(None, program)]),
        Arc::new(client),
        Arc::new(SystemClock),
        TOKEN.to_owned(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = axum::serve(listener, app(state.clone()));
    tokio::spawn(async move { server.await });
    let intake = format!("http://{addr}/webhooks/cx/{TOKEN}");
    Served { emulator, state, intake, http: reqwest::Client::new() }
}

impl Served {
    fn setup(&self, step: &Value) {
        let control = self.emulator.control();
        let (op, args) = step.as_object().and_then(|o| o.iter().next()).expect("one operation");
        let arg = |i: usize| &args[i];
        let id = |i: usize| arg(i).as_u64().expect("an id");
        let text = |i: usize| arg(i).as_str().expect("a string");
        match op.as_str() {
            "visitor_opens" => drop(control.visitor_opens(2, args.as_str().unwrap()).unwrap()),
            "visitor_writes" => drop(control.visitor_writes(id(0), text(1)).unwrap()),
            "visitor_attaches" => {
                let conversation = control.visitor_starts(id(0)).unwrap();
                control.customer_sends_attachment(conversation.id, text(1), text(2)).unwrap();
            }
            "status" => {
                let status: Status = serde_json::from_value(arg(1).clone()).unwrap();
                control.set_status(id(0), status).unwrap();
            }
            "agent_says" => drop(control.agent_reply(id(0), text(1), text(2), false).unwrap()),
            other => panic!("unknown setup operation `{other}`"),
        }
    }

    async fn post(&self, body: &Value) -> u16 {
        let response = self.http.post(&self.intake).json(body).send().await.unwrap();
        response.status().as_u16()
    }

    /// Waits until no webhook, worker, queued event or unsent reply is left, twice in a row.
    async fn settle(&self) {
        let started = Instant::now();
        let mut quiet = 0;
        while quiet < 2 {
            let idle = self.emulator.control().undelivered() == 0
                && self.state.idle()
                && self
                    .state
                    .store
                    .conversations_with_work(chrono::Utc::now())
                    .await
                    .unwrap()
                    .is_empty();
            quiet = if idle { quiet + 1 } else { 0 };
            assert!(started.elapsed() < DEADLINE, "the app did not settle");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn transcript(&self, conversation: u64) -> Vec<String> {
        self.emulator.control().messages(conversation).unwrap().iter().map(line).collect()
    }
}

/// One message as a transcript line (see the module docs).
fn line(message: &Message) -> String {
    let titles: Vec<&str> = message
        .content_attributes
        .get("items")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|item| item.get("title")?.as_str()).collect())
        .unwrap_or_default();
    let mut text = message.content.clone();
    if let Some(file) = message.attachments.first() {
        text = format!("[{}]", file.file_type);
    }
    if !titles.is_empty() {
        text = format!("{text} [{}]", titles.join(" | "));
    }
    match (message.message_type, message.private, message.sender.kind) {
        (MessageType::Incoming, _, _) => format!("> {text}"),
        (_, true, _) => format!("note: {text}"),
        (_, false, SenderKind::User) => format!("{}: {text}", message.sender.name),
        _ => format!("bot: {text}"),
    }
}

async fn run_case(path: &Path) -> Result<(), String> {
    let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(
        case["chatwoot"].as_array().is_some_and(|s| !s.is_empty()),
        "{} names no source",
        path.display()
    );
    let served = serve(Config::default()).await;
    for step in case["setup"].as_array().into_iter().flatten() {
        served.setup(step);
    }
    for body in case["posts"].as_array().expect("posts") {
        if body.get("settle").is_some() {
            served.settle().await;
            continue;
        }
        let status = served.post(body).await;
        if !(200..300).contains(&status) {
            return Err(format!("{}: the intake answered {status}", body["event"]));
        }
    }
    served.settle().await;
    let mut problems = Vec::new();
    for (id, expected) in case["expect"]["transcripts"].as_object().expect("transcripts") {
        let expected: Vec<String> = serde_json::from_value(expected.clone()).unwrap();
        let actual = served.transcript(id.parse().unwrap());
        if actual != expected {
            problems.push(format!(
                "conversation {id}:\n  expected {expected:?}\n  actual   {actual:?}"
            ));
        }
    }
    served.emulator.shutdown().await;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Every case in `cases/`; fails listing every case that went wrong.
#[tokio::test]
async fn chatwoot_shaped_webhooks_are_handled_right() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 9, "the corpus is missing: {paths:?}");
    let mut failures = Vec::new();
    for path in &paths {
        if let Err(problem) = run_case(path).await {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            failures.push(format!("{name}: {problem}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n")
    );
}
