//! Flow B over real sockets: the CX emulator on one port, the served app on another, the real
//! CX client between them and the app registered as the agent bot of the emulator's widget
//! inbox. Tests act as the customer and the human agent through the emulator's control handle
//! and read the conversation back as a transcript.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use botrun::check::{load_program, CheckOptions};
use botrun::cx::{Credentials, CxClient, CxConfig};
use botrun::emulator::{spawn, Emulator, EmulatorOptions, Message, MessageType, RunningEmulator};
use botrun::server::{app, AppState, Bots, Clock, Config};
use botrun::store::SqliteStore;
use serde_json::Value;

const TOKEN: &str = "e2e-token-0123456789abcdef0123456789abcdef";
/// The emulator's seeded CX-native web widget inbox.
pub const WIDGET_INBOX: u64 = 2;
/// How long a test waits for the service before it fails.
const DEADLINE: Duration = Duration::from_secs(15);

/// What to run: a bot from `bots/`, the app's clock, its config and the bot's `env.*`.
pub struct Setup {
    pub bot: &'static str,
    pub clock: Arc<dyn Clock>,
    pub config: Config,
    pub env: BTreeMap<String, String>,
}

impl Setup {
    pub fn new(bot: &'static str, clock: Arc<dyn Clock>) -> Setup {
        Setup { bot, clock, config: Config::default(), env: BTreeMap::new() }
    }
}

/// The emulator and the app, both serving.
pub struct Served {
    pub emulator: RunningEmulator,
    pub state: AppState,
    /// Button picks `(conversation, messages before it, title)`: CX's widget writes no message
    /// for a click (it updates the bot's), so transcripts show the pick where it happened.
    picks: std::sync::Mutex<Vec<(u64, usize, String)>>,
}

/// Starts the emulator (fast webhook retries) and the app with `setup`, and assigns the app as
/// the widget inbox's agent bot.
pub async fn start(setup: Setup) -> Served {
    let options = EmulatorOptions {
        webhook_retry_spacing: Duration::from_millis(50),
        ..EmulatorOptions::default()
    };
    let emulator = spawn(options.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let config = CxConfig {
        base_url: emulator.base_url(),
        auth_url: emulator.auth_url(),
        tenant_domain: options.tenant_domain.clone(),
        ..CxConfig::default()
    };
    let client = CxClient::with_credentials(
        config,
        Credentials::new(options.client_id.clone(), options.client_secret.clone()),
    )
    .unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("bots").join(setup.bot);
    let program =
        load_program(&path, &CheckOptions::default()).unwrap().program.with_env(setup.env);
    let store = Arc::new(SqliteStore::open("sqlite::memory:").await.unwrap());
    let state = AppState::new(
        setup.config,
        store,
        Bots::new(vec![(None, program)]),
        Arc::new(client.clone()),
        setup.clock,
        TOKEN.to_owned(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = axum::serve(listener, app(state.clone()));
    tokio::spawn(async move { server.await });
    let outgoing = format!("http://{addr}/webhooks/cx/{TOKEN}");
    let bot = client.create_agent_bot(setup.bot, "e2e", &outgoing).await.unwrap();
    client.assign_agent_bot(WIDGET_INBOX.into(), bot.id).await.unwrap();
    Served { emulator, state, picks: std::sync::Mutex::new(Vec::new()) }
}

impl Served {
    pub fn control(&self) -> &Emulator {
        self.emulator.control()
    }

    /// A visitor opens the widget; returns the conversation id.
    pub fn customer_starts(&self, name: &str) -> u64 {
        self.control().customer_start(WIDGET_INBOX, name).unwrap().id
    }

    pub fn customer_says(&self, conversation: u64, text: &str) {
        self.control().customer_says(conversation, text).unwrap();
    }

    /// The customer clicks a button of the latest `input_select` message.
    pub fn customer_picks(&self, conversation: u64, title: &str) {
        let before = self.control().messages(conversation).unwrap().len();
        self.control().customer_selects(conversation, title).unwrap();
        self.picks.lock().unwrap().push((conversation, before, title.to_owned()));
    }

    pub fn agent_says(&self, conversation: u64, agent: &str, text: &str) {
        self.control().agent_reply(conversation, agent, text, false).unwrap();
    }

    /// The conversation as one line per message, in creation order (see [`line`]).
    pub fn transcript(&self, conversation: u64) -> Vec<String> {
        let mut lines: Vec<String> =
            self.control().messages(conversation).unwrap().iter().map(line).collect();
        let picks = self.picks.lock().unwrap();
        for (shift, (_, at, title)) in picks.iter().filter(|p| p.0 == conversation).enumerate() {
            let at = (at + shift).min(lines.len());
            lines.insert(at, format!("> {title}"));
        }
        lines
    }

    /// Waits until the transcript is `expected`, failing with the last one after the deadline.
    pub async fn expect_transcript(&self, conversation: u64, expected: &[&str]) {
        let started = Instant::now();
        loop {
            let transcript = self.transcript(conversation);
            if transcript == expected {
                return;
            }
            if started.elapsed() > DEADLINE {
                assert_eq!(transcript, expected, "deliveries: {:#?}", self.control().deliveries());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until nothing is moving: every webhook delivered, no worker running, no queued
    /// event or unsent reply in the store — twice in a row, 20 ms apart.
    pub async fn settle(&self) {
        let started = Instant::now();
        let mut quiet_checks = 0;
        while quiet_checks < 2 {
            let quiet = self.control().undelivered() == 0
                && self.state.idle()
                && self
                    .state
                    .store
                    .conversations_with_work(chrono::Utc::now())
                    .await
                    .unwrap()
                    .is_empty();
            quiet_checks = if quiet { quiet_checks + 1 } else { 0 };
            assert!(started.elapsed() < DEADLINE, "the service did not settle");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Settles, then fires the app's due timers; returns how many fired.
    pub async fn fire_timers(&self) -> usize {
        self.settle().await;
        self.state.fire_timers().await.unwrap()
    }

    pub fn status(&self, conversation: u64) -> String {
        self.control().conversation(conversation).unwrap().status.as_str().to_owned()
    }
}

/// `> text` from the customer, `bot: text` from the bot (`bot: [a | b]` for buttons), `note: text`
/// for a private note and `Name: text` from a human agent.
pub fn line(message: &Message) -> String {
    let buttons: Vec<&str> = message
        .content_attributes
        .get("items")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|item| item.get("title")?.as_str()).collect())
        .unwrap_or_default();
    // A select message shows its content (the question) above its options.
    let text = match (buttons.is_empty(), message.content.is_empty()) {
        (true, _) => message.content.clone(),
        (false, true) => format!("[{}]", buttons.join(" | ")),
        (false, false) => format!("{} [{}]", message.content, buttons.join(" | ")),
    };
    match (message.message_type, message.private, message.sender.kind) {
        (MessageType::Incoming, _, _) => format!("> {text}"),
        (_, true, _) => format!("note: {text}"),
        (_, false, botrun::emulator::SenderKind::User) => {
            format!("{}: {text}", message.sender.name)
        }
        _ => format!("bot: {text}"),
    }
}
