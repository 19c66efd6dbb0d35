//! Flow A end to end over real sockets: a customer speaks Direct Line to the widget, the faq bot
//! answers, and everything is mirrored into the CX emulator through the real CX client; the
//! emulator's webhooks bring a human agent's replies and finishing back to the page.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use botrun::check::{load_program, CheckOptions};
use botrun::cx::{Credentials, CxClient, CxConfig};
use botrun::emulator::model::API_INBOX_ID;
use botrun::emulator::{spawn, EmulatorOptions, MessageType, RunningEmulator};
use botrun::server::flow_a::{FlowA, FlowAHost, FlowASettings};
use botrun::server::{app, AppState, Bots, Config, SystemClock};
use botrun::store::SqliteStore;
use botrun::widget::{router, MemoryWidgetStore, Site, WidgetConfig, WidgetService};
use serde_json::{json, Value};

const TOKEN: &str = "flow-a-token-0123456789abcdef0123456789abcdef";
const SECRET: &str = "flow-a-site-secret";

struct World {
    emulator: RunningEmulator,
    state: AppState,
    base: String,
    http: reqwest::Client,
}

async fn start() -> World {
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
    let bot = Path::new(env!("CARGO_MANIFEST_DIR")).join("bots/faq.bot");
    let program = load_program(&bot, &CheckOptions::default()).unwrap().program;
    let store = Arc::new(SqliteStore::open("sqlite::memory:").await.unwrap());
    let state = AppState::new(
        Config::default(),
        store,
        Bots::new(vec![]),
        Arc::new(client.clone()),
        Arc::new(SystemClock),
        TOKEN.to_owned(),
    );
    let settings = FlowASettings { inbox_id: API_INBOX_ID, ..FlowASettings::default() };
    let flow = FlowA::new(&state, program, client.clone(), settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let widget = WidgetService::new(
        WidgetConfig {
            public_base_url: format!("http://{addr}"),
            token_key: b"flow-a-test-signing-key".to_vec(),
            token_lifetime: Duration::from_secs(600),
            keep_alive: Duration::from_secs(20),
            sites: vec![Site {
                id: "shop".into(),
                secret: SECRET.into(),
                origins: vec![],
                anonymous_start: false,
                new_conversations_per_minute: 600,
            }],
        },
        Arc::new(MemoryWidgetStore::default()),
        Arc::new(FlowAHost(Arc::clone(&flow))),
    );
    flow.attach(&widget);
    let service = app(state.clone()).nest("/v3/directline", router(widget));
    tokio::spawn(async move { axum::serve(listener, service).await });
    client
        .create_webhook(
            &format!("http://{addr}/webhooks/cx-widget/{TOKEN}"),
            &["message_created", "conversation_status_changed"],
        )
        .await
        .unwrap();
    World {
        emulator,
        state,
        base: format!("http://{addr}/v3/directline"),
        http: reqwest::Client::new(),
    }
}

/// A customer's page: one Direct Line conversation.
struct Page<'a> {
    world: &'a World,
    id: String,
    token: String,
}

impl World {
    async fn open_page(&self, name: &str) -> Page<'_> {
        let minted: Value = self
            .http
            .post(format!("{}/tokens/generate", self.base))
            .bearer_auth(SECRET)
            .json(&json!({"user": {"id": "dl_customer1", "name": name}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = minted["token"].as_str().unwrap().to_owned();
        let started: Value = self
            .http
            .post(format!("{}/conversations", self.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Page { world: self, id: started["conversationId"].as_str().unwrap().to_owned(), token }
    }

    /// The CX conversations of the Flow A inbox, oldest first.
    fn cx_conversations(&self) -> Vec<botrun::emulator::Conversation> {
        let mut all: Vec<_> = self
            .emulator
            .control()
            .conversations()
            .into_iter()
            .filter(|c| c.inbox_id == API_INBOX_ID)
            .collect();
        all.sort_by_key(|c| c.id);
        all
    }

    /// `(type, private, content)` of a CX conversation's messages, once it has `count`.
    async fn transcript(&self, conversation: u64, count: usize) -> Vec<(String, bool, String)> {
        let mut lines = Vec::new();
        for _ in 0..300 {
            lines = self
                .emulator
                .control()
                .messages(conversation)
                .unwrap()
                .into_iter()
                .map(|m| {
                    let kind = match m.message_type {
                        MessageType::Incoming => "in",
                        MessageType::Outgoing => "out",
                        _ => "other",
                    };
                    (kind.to_owned(), m.private, m.content)
                })
                .collect();
            if lines.len() >= count && self.state.idle() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        lines
    }
}

impl Page<'_> {
    async fn say(&self, text: &str) {
        let status = self
            .world
            .http
            .post(format!("{}/conversations/{}/activities", self.world.base, self.id))
            .bearer_auth(&self.token)
            .json(&json!({"type": "message", "from": {"id": "dl_customer1"}, "text": text}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }

    async fn activities(&self) -> Vec<Value> {
        let body: Value = self
            .world
            .http
            .get(format!("{}/conversations/{}/activities", self.world.base, self.id))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["activities"].as_array().cloned().unwrap_or_default()
    }

    /// `(sender name, text)` of what the page shows from others, once some text appeared.
    async fn wait_for(&self, text: &str) -> Vec<(String, String)> {
        let mut shown = Vec::new();
        for _ in 0..300 {
            shown = self
                .activities()
                .await
                .iter()
                .filter(|a| a["type"] == "message" && a["from"]["role"] != "user")
                .map(|a| {
                    let from = a["from"]["name"].as_str().unwrap_or_default().to_owned();
                    (from, a["text"].as_str().unwrap_or_default().to_owned())
                })
                .collect();
            if shown.iter().any(|(_, t)| t == text) {
                return shown;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("`{text}` never reached the page; it shows {shown:#?}");
    }

    async fn has_event(&self, kind: &str, name: Option<&str>) -> bool {
        for _ in 0..200 {
            let found =
                self.activities().await.iter().any(|a| {
                    a["type"] == kind && name.is_none_or(|n| a["name"].as_str() == Some(n))
                });
            if found {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

fn line(kind: &str, private: bool, text: &str) -> (String, bool, String) {
    (kind.to_owned(), private, text.to_owned())
}

const GREETING: &str =
    "Hallo! I'm the Acme help centre bot. Ask me about plans, deliveries, devices or billing.";

#[tokio::test]
async fn the_whole_widget_conversation_is_mirrored_into_cx_in_order() {
    let world = start().await;
    let page = world.open_page("Ada Lovelace").await;
    page.wait_for(GREETING).await;
    assert!(world.cx_conversations().is_empty(), "CX is only asked once the customer writes");

    page.say("how long does delivery take").await;
    page.wait_for("Deliveries take 2–4 working days within the EU.").await;
    page.say("Plans and prices").await;
    page.wait_for("Basic is 19 €, Plus 29 € and Premium 45 € per month.").await;
    page.say("talk to a person").await;
    assert!(page.has_event("event", Some("botrun.handoff")).await);

    let conversations = world.cx_conversations();
    assert_eq!(conversations.len(), 1);
    let cx = &conversations[0];
    let transcript = world.transcript(cx.id, 7).await;
    assert_eq!(
        transcript,
        [
            line("out", false, GREETING),
            line("in", false, "how long does delivery take"),
            line("out", false, "Deliveries take 2–4 working days within the EU."),
            line("in", false, "Plans and prices"),
            line("out", false, "Basic is 19 €, Plus 29 € and Premium 45 € per month."),
            line("in", false, "talk to a person"),
            line("out", true, "customer asked for a person"),
        ]
    );
    let cx = world.emulator.control().conversation(cx.id).unwrap();
    assert_eq!(cx.status, botrun::emulator::Status::Open, "deliver-to-agent hands it to humans");
    let contact = world.emulator.control().read(|w| w.contacts.get(&cx.contact_id).cloned());
    assert_eq!(contact.unwrap().name, "Ada Lovelace");
    // The greeting's buttons went to CX as an `input_select` on the greeting itself.
    let greeting = &world.emulator.control().messages(cx.id).unwrap()[0];
    assert_eq!(greeting.content_type, "input_select");
    world.emulator.shutdown().await;
}

#[tokio::test]
async fn an_agent_reply_reaches_the_page_and_botruns_own_echoes_never_do() {
    let world = start().await;
    let page = world.open_page("Ada").await;
    page.say("talk to a person").await;
    assert!(page.has_event("event", Some("botrun.handoff")).await);
    let cx = world.cx_conversations()[0].id;
    world.transcript(cx, 3).await;

    world
        .emulator
        .control()
        .agent_reply(cx, "Grace", "Hi, Grace here. How can I help?", false)
        .unwrap();
    world
        .emulator
        .control()
        .agent_reply(cx, "Grace", "internal: check the contract", true)
        .unwrap();
    let shown = page.wait_for("Hi, Grace here. How can I help?").await;
    assert_eq!(shown.last().unwrap().0, "Grace", "the page shows who is speaking");

    // The customer now talks to Grace: mirrored to CX, not answered by the bot.
    page.say("my router blinks orange").await;
    let transcript = world.transcript(cx, 6).await;
    assert_eq!(transcript[5], line("in", false, "my router blinks orange"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shown = page.wait_for("Hi, Grace here. How can I help?").await;
    assert_eq!(
        shown,
        [
            ("Acme Help Centre".to_owned(), GREETING.to_owned()),
            ("Grace".to_owned(), "Hi, Grace here. How can I help?".to_owned()),
        ],
        "no echo of the bot's own messages, no private note, no bot answer while with a person"
    );
    world.emulator.shutdown().await;
}

#[tokio::test]
async fn an_agent_finishing_ends_the_page_and_the_next_message_opens_a_new_cx_conversation() {
    let world = start().await;
    let page = world.open_page("Ada").await;
    page.say("talk to a person").await;
    assert!(page.has_event("event", Some("botrun.handoff")).await);
    let first = world.cx_conversations()[0].clone();
    world.transcript(first.id, 3).await;

    world.emulator.control().resolve(first.id).unwrap();
    assert!(page.has_event("endOfConversation", None).await, "the page is told it ended");
    page.wait_for(&FlowASettings::default().agent_finish_farewell).await;

    page.say("how long does delivery take").await;
    page.wait_for("Deliveries take 2–4 working days within the EU.").await;
    let conversations = world.cx_conversations();
    assert_eq!(conversations.len(), 2, "a new CX conversation");
    assert_eq!(conversations[1].contact_id, first.contact_id, "for the same contact");
    let transcript = world.transcript(conversations[1].id, 3).await;
    assert_eq!(transcript[0], line("in", false, "how long does delivery take"));
    assert!(transcript.contains(&line(
        "out",
        false,
        "Deliveries take 2–4 working days within the EU."
    )));
    world.emulator.shutdown().await;
}

#[tokio::test]
async fn the_bot_resolving_finishes_the_cx_conversation() {
    let world = start().await;
    let page = world.open_page("Ada").await;
    page.say("goodbye").await;
    page.wait_for("Thanks for chatting — goodbye!").await;
    assert!(page.has_event("endOfConversation", None).await);
    let cx = world.cx_conversations()[0].id;
    let transcript = world.transcript(cx, 3).await;
    assert_eq!(
        transcript[1..],
        [line("in", false, "goodbye"), line("out", false, "Thanks for chatting — goodbye!"),]
    );
    for _ in 0..200 {
        if world.emulator.control().conversation(cx).unwrap().status
            == botrun::emulator::Status::Resolved
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        world.emulator.control().conversation(cx).unwrap().status,
        botrun::emulator::Status::Resolved
    );
    world.emulator.shutdown().await;
}

#[test]
fn the_widget_section_is_checked_precisely() {
    let base = "widget:\n  bot: bots/faq.bot\n  inbox_id: 1\n";
    let cases = [
        (format!("{base}  sites: []\n"), "widget.sites: list at least one site"),
        (
            format!("{base}  sites:\n    - id: shop\n      secret_env: S\n      origins: [shop.example]\n"),
            "`shop.example` is not an origin",
        ),
        (
            format!("{base}  sites:\n    - id: shop\n      secret_env: S\n      anonymous_start: true\n"),
            "anonymous_start needs `origins`",
        ),
        (format!("{base}  sites:\n    - id: shop\n      secret_env: S\n  colour: blue\n"), "colour"),
        (
            format!("{base}  token_lifetime_secs: 60\n  sites:\n    - id: shop\n      secret_env: S\n"),
            "too short",
        ),
        (
            format!("bots:\n  - file: bots/faq.bot\n    inbox_id: 1\n{base}  sites:\n    - id: shop\n      secret_env: S\n"),
            "inbox 1 is also a Flow B bot's inbox",
        ),
    ];
    for (text, expected) in cases {
        let error = Config::parse(&text).expect_err(&text);
        assert!(error.contains(expected), "{text}\n→ {error}\n(expected `{expected}`)");
    }
    let good = format!("{base}  sites:\n    - id: shop\n      secret_env: S\n      origins: [https://shop.example]\n");
    let config = Config::parse(&good).unwrap();
    assert_eq!(config.widget.unwrap().sites[0].origins, ["https://shop.example"]);
}
