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
use botrun::server::flow_a::{CxFiles, FlowA, FlowAHost, FlowASettings};
use botrun::server::{app, AppState, Bots, Clock, Config, ManualClock, SystemClock};

use botrun::widget::{router, Site, UploadSettings, WidgetConfig, WidgetService};
use serde_json::{json, Value};

const TOKEN: &str = "flow-a-token-0123456789abcdef0123456789abcdef";
const SECRET: &str = "flow-a-site-secret";

pub(super) struct World {
    emulator: RunningEmulator,
    cx: CxConfig,
    credentials: (String, String),
    state: AppState,
    addr: std::net::SocketAddr,
    base: String,
    http: reqwest::Client,
    /// The service runs in a runtime of its own, so a test can crash it: dropping the runtime
    /// stops every task at once, with no graceful shutdown.
    service: Option<tokio::runtime::Runtime>,
    flow: Option<Arc<FlowA>>,
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(runtime) = self.service.take() {
            runtime.shutdown_background();
        }
    }
}

/// How a test wants the service set up.
pub(super) struct Setup {
    bot: std::path::PathBuf,
    clock: Arc<dyn Clock>,
    /// The service store and the widget store (`sqlite::memory:` unless a restart is tested).
    store: String,
    widget_store: String,
    emulator: EmulatorOptions,
    /// What the widget's CX webhook subscribes to.
    subscriptions: Vec<&'static str>,
    settings: FlowASettings,
    /// Where the page's uploads go (`None`: uploads off).
    uploads: Option<std::path::PathBuf>,
}

/// The default set-up serving another example bot.
pub(super) fn serving(bot: &str) -> Setup {
    Setup { bot: example(bot), ..Setup::default() }
}

fn example(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            bot: example("bots/faq.bot"),
            clock: Arc::new(SystemClock),
            store: "sqlite::memory:".into(),
            widget_store: "sqlite::memory:".into(),
            emulator: EmulatorOptions {
                webhook_retry_spacing: Duration::from_millis(50),
                ..EmulatorOptions::default()
            },
            subscriptions: vec!["message_created", "conversation_status_changed"],
            settings: FlowASettings { inbox_id: API_INBOX_ID, ..FlowASettings::default() },
            uploads: None,
        }
    }
}

async fn start() -> World {
    start_with(&Setup::default()).await
}

pub(super) async fn start_with(setup: &Setup) -> World {
    let options = setup.emulator.clone();
    let emulator = spawn(options.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let cx = CxConfig {
        base_url: emulator.base_url(),
        auth_url: emulator.auth_url(),
        tenant_domain: options.tenant_domain.clone(),
        ..CxConfig::default()
    };
    let credentials = (options.client_id.clone(), options.client_secret.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = CxClient::with_credentials(
        cx.clone(),
        Credentials::new(credentials.0.clone(), credentials.1.clone()),
    )
    .unwrap();
    client
        .create_webhook(&format!("http://{addr}/webhooks/cx-widget/{TOKEN}"), &setup.subscriptions)
        .await
        .unwrap();
    let mut world = World {
        emulator,
        cx,
        credentials,
        state: AppState::new(
            Config::default(),
            Arc::new(botrun::store::SqliteStore::open("sqlite::memory:").await.unwrap()),
            Bots::new(vec![]),
            Arc::new(client),
            Arc::new(SystemClock),
            TOKEN.to_owned(),
        ),
        addr,
        base: format!("http://{addr}/v3/directline"),
        http: reqwest::Client::new(),
        service: None,
        flow: None,
    };
    world.serve(setup, listener).await;
    world
}

impl World {
    /// Starts the service (Flow A only) on `listener`, in a runtime of its own.
    async fn serve(&mut self, setup: &Setup, listener: std::net::TcpListener) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let client = CxClient::with_credentials(
            self.cx.clone(),
            Credentials::new(self.credentials.0.clone(), self.credentials.1.clone()),
        )
        .unwrap();
        let bot = setup.bot.clone();
        let (store_url, widget_url) = (setup.store.clone(), setup.widget_store.clone());
        let clock = Arc::clone(&setup.clock);
        let settings = setup.settings.clone();
        let uploads = setup.uploads.clone().map(|dir| UploadSettings {
            dir,
            max_bytes: 1024 * 1024,
            content_types: botrun::server::widget_config::default_upload_types(),
        });
        let addr = self.addr;
        let started = runtime.spawn(async move {
            let program = load_program(&bot, &CheckOptions::default()).unwrap().program;
            let store =
                botrun::store::open(&store_url, botrun::store::Durability::Full).await.unwrap();
            let state = AppState::new(
                Config::default(),
                store,
                Bots::new(vec![]),
                Arc::new(client.clone()),
                Arc::clone(&clock),
                TOKEN.to_owned(),
            );
            let flow = FlowA::new(&state, program, client, settings);
            let widget = WidgetService::new(
                WidgetConfig {
                    public_base_url: format!("http://{addr}"),
                    token_key: b"flow-a-test-signing-key".to_vec(),
                    token_lifetime: Duration::from_secs(3600),
                    keep_alive: Duration::from_secs(20),
                    sites: vec![Site {
                        id: "shop".into(),
                        secret: SECRET.into(),
                        origins: vec![],
                        anonymous_start: false,
                        new_conversations_per_minute: 600,
                    }],
                    uploads,
                },
                botrun::store::Store::widget_history(
                    &botrun::store::SqliteStore::open(&widget_url).await.unwrap(),
                ),
                Arc::new(FlowAHost(Arc::clone(&flow))),
            )
            .with_clock(clock);
            flow.attach(&widget);
            state.resume().await.unwrap();
            let service = app(state.clone()).nest("/v3/directline", router(widget));
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            tokio::spawn(async move { axum::serve(listener, service).await });
            (state, flow)
        });
        let (state, flow) = started.await.unwrap();
        self.state = state;
        self.flow = Some(flow);
        self.service = Some(runtime);
    }

    /// Kills the service as a crash would: every task stops where it is.
    fn crash(&mut self) {
        if let Some(runtime) = self.service.take() {
            runtime.shutdown_background();
        }
    }

    /// Starts the service again on the same address and stores.
    async fn restart(&mut self, setup: &Setup) {
        let mut listener = None;
        for _ in 0..100 {
            if let Ok(bound) = std::net::TcpListener::bind(self.addr) {
                listener = Some(bound);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.serve(setup, listener.expect("the old address is free again")).await;
    }
}

/// A customer's page: one Direct Line conversation.
pub(super) struct Page<'a> {
    world: &'a World,
    id: String,
    token: String,
}

impl World {
    async fn open_page(&self, name: &str) -> Page<'_> {
        self.open_page_in(name, None).await
    }

    /// A page that starts its conversation with its locale, as Direct Line's
    /// `conversationStartProperties` send it.
    pub(super) async fn open_page_in(&self, name: &str, locale: Option<&str>) -> Page<'_> {
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
            .json(&locale.map_or_else(|| json!({}), |l| json!({"locale": l})))
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

    /// The `index`-th Flow A conversation in CX, waiting for the mirror to create it.
    async fn cx_conversation(&self, index: usize) -> botrun::emulator::Conversation {
        for _ in 0..300 {
            if let Some(found) = self.cx_conversations().get(index) {
                return found.clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("CX conversation #{index} was never created");
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
        self.send(json!({"type": "message", "from": {"id": "dl_customer1"}, "text": text})).await;
    }

    pub(super) async fn send(&self, activity: Value) {
        let status = self
            .world
            .http
            .post(format!("{}/conversations/{}/activities", self.world.base, self.id))
            .bearer_auth(&self.token)
            .json(&activity)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }

    /// The page's `botrun.contact` event: who the customer is.
    async fn tell_contact(&self, details: Value) {
        let status = self
            .world
            .http
            .post(format!("{}/conversations/{}/activities", self.world.base, self.id))
            .bearer_auth(&self.token)
            .json(
                &json!({"type": "event", "name": "botrun.contact", "from": {"id": "dl_customer1"},
                "value": details}),
            )
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
    pub(super) async fn wait_for(&self, text: &str) -> Vec<(String, String)> {
        self.wait_for_nth(text, 1).await
    }

    /// Like [`Page::wait_for`], once `text` appeared `times` times.
    async fn wait_for_nth(&self, text: &str, times: usize) -> Vec<(String, String)> {
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
            if shown.iter().filter(|(_, t)| t == text).count() >= times {
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

    let cx = &world.cx_conversation(0).await;
    let transcript = world.transcript(cx.id, 7).await;
    assert_eq!(world.cx_conversations().len(), 1);
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
}

#[tokio::test]
async fn an_agent_reply_reaches_the_page_and_botruns_own_echoes_never_do() {
    let world = start().await;
    let page = world.open_page("Ada").await;
    page.say("talk to a person").await;
    assert!(page.has_event("event", Some("botrun.handoff")).await);
    let cx = world.cx_conversation(0).await.id;
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
}

#[tokio::test]
async fn an_agent_finishing_ends_the_page_and_the_next_message_opens_a_new_cx_conversation() {
    let world = start().await;
    let page = world.open_page("Ada").await;
    page.say("talk to a person").await;
    assert!(page.has_event("event", Some("botrun.handoff")).await);
    let first = world.cx_conversation(0).await;
    world.transcript(first.id, 3).await;

    world.emulator.control().resolve(first.id).unwrap();
    assert!(page.has_event("endOfConversation", None).await, "the page is told it ended");
    page.wait_for(&FlowASettings::default().agent_finish_farewell).await;

    page.say("how long does delivery take").await;
    page.wait_for("Deliveries take 2–4 working days within the EU.").await;
    let second = world.cx_conversation(1).await;
    assert_eq!(second.contact_id, first.contact_id, "a new CX conversation for the same contact");
    let transcript = world.transcript(second.id, 2).await;
    assert_eq!(transcript[0], line("in", false, "how long does delivery take"));
    assert!(transcript.contains(&line(
        "out",
        false,
        "Deliveries take 2–4 working days within the EU."
    )));
}

#[tokio::test]
async fn the_bot_resolving_finishes_the_cx_conversation() {
    let world = start().await;
    let page = world.open_page("Ada").await;
    page.say("goodbye").await;
    page.wait_for("Thanks for chatting — goodbye!").await;
    assert!(page.has_event("endOfConversation", None).await);
    let cx = world.cx_conversation(0).await.id;
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

#[tokio::test]
async fn question_timeouts_fire_from_durable_timers_and_reach_page_and_cx() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let setup = Setup {
        bot: example("bots/order_tracking.bot"),
        clock: Arc::clone(&clock) as Arc<dyn Clock>,
        ..Setup::default()
    };
    let world = start_with(&setup).await;
    let page = world.open_page("Ana").await;
    page.wait_for("Hi Ana! I can track orders or connect you with our team.").await;
    page.say("track my order").await;
    page.wait_for("What's your order number?").await;

    clock.advance(chrono::Duration::minutes(3) + chrono::Duration::seconds(1));
    assert!(world.state.fire_timers().await.unwrap() >= 1);
    page.wait_for("Still there? Just type the order number.").await;

    clock.advance(chrono::Duration::minutes(15));
    world.state.fire_timers().await.unwrap();
    page.wait_for("I'll close this chat for now. Write again any time.").await;
    assert!(page.has_event("endOfConversation", None).await);

    let cx = world.cx_conversation(0).await.id;
    let transcript = world.transcript(cx, 6).await;
    assert_eq!(
        transcript[1..],
        [
            line("in", false, "track my order"),
            line("out", false, "What's your order number?"),
            line("out", false, "Still there? Just type the order number."),
            line("out", false, "I'll close this chat for now. Write again any time."),
        ]
    );
    assert_eq!(
        world.emulator.control().conversation(cx).unwrap().status,
        botrun::emulator::Status::Resolved
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loses_nothing_the_cx_mirror_resumes_after_restart() {
    use botrun::emulator::{Fault, FaultSpec};
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup {
        store: format!("sqlite://{}", dir.path().join("botrun.db").display()),
        widget_store: format!("sqlite://{}", dir.path().join("widget.db").display()),
        ..Setup::default()
    };
    let mut world = start_with(&setup).await;
    // CX is down for messages: the page is answered anyway, the mirror waits in the outbox.
    world
        .emulator
        .control()
        .add_fault(FaultSpec {
            path: "messages".into(),
            fault: Fault::ServerError { status: 503 },
            times: None,
            share: None,
            seed: 0,
        })
        .unwrap();
    let page = world.open_page("Ada").await;
    page.say("how long does delivery take").await;
    page.wait_for("Deliveries take 2–4 working days within the EU.").await;
    // Crash while the mirror is stuck retrying the first message. (A crash between a CX call
    // that succeeded and its outbox row being removed repeats that call: at least once.)
    for _ in 0..500 {
        if world.emulator.control().calls().iter().any(|c| c.fault.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cx = world.cx_conversation(0).await.id;
    assert!(world.emulator.control().messages(cx).unwrap().is_empty(), "CX is failing");
    let (id, token) = (page.id.clone(), page.token.clone());

    world.crash();
    world.emulator.control().clear_faults();
    world.restart(&setup).await;

    // The same page, the same token: history kept, the bot remembers, CX catches up in order.
    let page = Page { world: &world, id, token };
    page.say("can I pay with paypal").await;
    let shown = page.wait_for("You can pay by credit card, PayPal or invoice.").await;
    assert_eq!(
        shown.iter().filter(|(_, text)| text.starts_with("Deliveries take")).count(),
        1,
        "nothing answered twice: {shown:#?}"
    );
    let transcript = world.transcript(cx, 5).await;
    assert_eq!(
        transcript,
        [
            line("out", false, GREETING),
            line("in", false, "how long does delivery take"),
            line("out", false, "Deliveries take 2–4 working days within the EU."),
            line("in", false, "can I pay with paypal"),
            line("out", false, "You can pay by credit card, PayPal or invoice."),
        ]
    );
    assert_eq!(world.cx_conversations().len(), 1, "no second CX conversation after the restart");
}

#[tokio::test]
async fn the_widget_bot_is_hot_reloaded_and_a_bad_edit_keeps_the_running_one() {
    use botrun::server::reload::{reload_bot, BotSlot};
    let bot = |answer: &str| {
        format!(
            "bot \"Reload\"\n\nintent price\n  \"price\"\n\non start\n  go main\n\nstate main\n  when price\n    say \"{answer}\"\n  otherwise\n    say \"?\"\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("widget.bot");
    std::fs::write(&path, bot("ten euros")).unwrap();
    let world = start_with(&Setup { bot: path.clone(), ..Setup::default() }).await;
    let page = world.open_page("Ada").await;
    page.say("price").await;
    page.wait_for("ten euros").await;

    std::fs::write(&path, "bot \"Reload\"\n\non start\n  go nowhere\n").unwrap();
    let rendered = reload_bot(&world.state, BotSlot::Widget, &path).unwrap_err();
    assert!(rendered.contains("nowhere"), "{rendered}");
    page.say("price").await;
    page.wait_for_nth("ten euros", 2).await;

    std::fs::write(&path, bot("twelve euros")).unwrap();
    reload_bot(&world.state, BotSlot::Widget, &path).unwrap();
    page.say("price").await;
    let shown = page.wait_for("twelve euros").await;
    let texts: Vec<&str> = shown.iter().map(|(_, text)| text.as_str()).collect();
    assert_eq!(texts, ["ten euros", "ten euros", "twelve euros"]);
}

#[tokio::test]
async fn the_cx_contact_gets_what_the_bot_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ask.bot");
    std::fs::write(
        &path,
        "bot \"Ask\"\n\non start\n  ask email as email\n    say \"What's your email?\"\n  say \"Thanks, {email}.\"\n",
    )
    .unwrap();
    let world = start_with(&Setup { bot: path, ..Setup::default() }).await;
    let page = world.open_page("Ada").await;
    page.wait_for("What's your email?").await;
    page.say("Ada@Example.com").await;
    page.wait_for("Thanks, ada@example.com.").await;
    let cx = world.cx_conversation(0).await;
    let contact =
        world.emulator.control().read(|w| w.contacts.get(&cx.contact_id).cloned()).unwrap();
    assert_eq!(contact.name, "Ada", "the name from the page");
    assert_eq!(contact.email.as_deref(), Some("ada@example.com"), "the email the bot asked for");
}

/// The page's contact event can reach the service after the first message created the CX
/// contact without the details: they are then written onto the contact.
#[tokio::test]
async fn contact_details_that_come_after_the_first_message_reach_the_cx_contact() {
    let world = start().await;
    let page = world.open_page("Ada").await;
    page.say("what are your opening hours").await;
    let cx = world.cx_conversation(0).await;
    let contact_of =
        || world.emulator.control().read(|w| w.contacts.get(&cx.contact_id).cloned()).unwrap();
    assert_eq!(contact_of().email, None, "the contact was created without the email");

    page.tell_contact(json!({"email": "ada@example.com", "phone": "+441234567890"})).await;
    let mut contact = contact_of();
    for _ in 0..300 {
        if contact.email.is_some() && world.state.idle() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        contact = contact_of();
    }
    assert_eq!(contact.email.as_deref(), Some("ada@example.com"));
    assert_eq!(contact.phone_number.as_deref(), Some("+441234567890"));
    assert_eq!(contact.name, "Ada", "the name stays");
    assert_eq!(world.cx_conversations().len(), 1, "no second contact or conversation");
}

/// An email the bot asks for after the CX contact was created is written onto it.
#[tokio::test]
async fn an_email_the_bot_asks_for_later_reaches_the_cx_contact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ask.bot");
    std::fs::write(
        &path,
        "bot \"Ask later\"\n\non start\n  ask topic as text\n    say \"What about?\"\n  ask email as email\n    say \"What's your email?\"\n  say \"Thanks, {email}.\"\n",
    )
    .unwrap();
    let world = start_with(&Setup { bot: path, ..Setup::default() }).await;
    let page = world.open_page("Ada").await;
    page.wait_for("What about?").await;
    page.say("shipping").await;
    page.wait_for("What's your email?").await;
    let cx = world.cx_conversation(0).await;
    let contact_of =
        || world.emulator.control().read(|w| w.contacts.get(&cx.contact_id).cloned()).unwrap();
    assert_eq!(contact_of().email, None, "the contact was created before the bot asked");
    page.say("ada@example.com").await;
    page.wait_for("Thanks, ada@example.com.").await;
    let mut contact = contact_of();
    for _ in 0..300 {
        if contact.email.is_some() && world.state.idle() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        contact = contact_of();
    }
    assert_eq!(contact.email.as_deref(), Some("ada@example.com"));
}

#[tokio::test]
async fn an_agent_handing_back_wakes_the_bot_on_the_page_and_in_cx() {
    let world = start().await;
    let page = world.open_page("Ada").await;
    page.say("talk to a person").await;
    assert!(page.has_event("event", Some("botrun.handoff")).await);
    let cx = world.cx_conversation(0).await.id;
    world.transcript(cx, 3).await;

    world.emulator.control().hand_back(cx).unwrap();
    page.wait_for("Anything else I can help with?").await;
    page.say("how long does delivery take").await;
    page.wait_for("Deliveries take 2–4 working days within the EU.").await;
    let transcript = world.transcript(cx, 6).await;
    assert_eq!(
        transcript[3..],
        [
            line("out", false, "Anything else I can help with?"),
            line("in", false, "how long does delivery take"),
            line("out", false, "Deliveries take 2–4 working days within the EU."),
        ]
    );
    assert_eq!(
        world.emulator.control().conversation(cx).unwrap().status,
        botrun::emulator::Status::Pending
    );
}

#[test]
fn the_example_configuration_loads_with_its_widget() {
    let path = example("botrun.example.yaml");
    let config = Config::load(&path).unwrap();
    let widget = config.widget.expect("the example shows the widget section");
    assert!(widget.bot.exists(), "bot paths are relative to the file: {}", widget.bot.display());
    assert_eq!(widget.sites[0].origins, ["https://shop.example.com"]);
    assert!(config.bots.iter().all(|b| b.file.exists()));
}

impl World {
    /// One reconciliation round of the widget host, run inside the service's runtime.
    async fn reconcile(&self) {
        let flow = Arc::clone(self.flow.as_ref().unwrap());
        let service = self.service.as_ref().unwrap();
        service.spawn(async move { flow.reconcile_now().await }).await.unwrap();
    }
}

/// Sangoma's gateway may post botrun's API messages as from a `user`, like a human agent's: the
/// page must still never see them twice — botrun knows its own messages by id.
#[tokio::test]
async fn echoes_are_recognised_by_id_whichever_sender_cx_names() {
    use botrun::emulator::ApiSender;
    for api_sender in [ApiSender::AgentBot, ApiSender::User] {
        let mut setup = Setup::default();
        setup.emulator.api_sender = api_sender;
        let world = start_with(&setup).await;
        let page = world.open_page("Ada").await;
        page.say("how long does delivery take").await;
        page.wait_for("Deliveries take 2–4 working days within the EU.").await;
        page.say("talk to a person").await;
        assert!(page.has_event("event", Some("botrun.handoff")).await);
        let cx = world.cx_conversation(0).await.id;
        world.transcript(cx, 5).await;
        world.emulator.control().agent_reply(cx, "Grace", "Grace here.", false).unwrap();
        page.wait_for("Grace here.").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let shown = page.wait_for("Grace here.").await;
        let from_grace: Vec<&str> =
            shown.iter().filter(|(who, _)| who == "Grace").map(|(_, t)| t.as_str()).collect();
        assert_eq!(from_grace, ["Grace here."], "{api_sender:?}: {shown:#?}");
        assert_eq!(shown.len(), 3, "{api_sender:?}: greeting, answer, Grace: {shown:#?}");
    }
}

/// Chatwoot starts an API conversation `open` (the agents' queue) unless asked: Flow A asks for
/// `pending`, so the bot owns it until the handoff; `cx_status` changes what is asked.
#[tokio::test]
async fn the_cx_conversation_is_created_with_the_configured_status() {
    for (asked, expected) in [
        (Some("pending"), botrun::emulator::Status::Pending),
        (None, botrun::emulator::Status::Open),
    ] {
        let mut setup = Setup::default();
        setup.settings.cx_status = asked.map(str::to_owned);
        let world = start_with(&setup).await;
        let page = world.open_page("Ada").await;
        page.say("how long does delivery take").await;
        page.wait_for("Deliveries take 2–4 working days within the EU.").await;
        let cx = world.cx_conversation(0).await.id;
        world.transcript(cx, 3).await;
        assert_eq!(
            world.emulator.control().conversation(cx).unwrap().status,
            expected,
            "{asked:?}"
        );
        page.say("talk to a person").await;
        assert!(page.has_event("event", Some("botrun.handoff")).await);
        world.transcript(cx, 5).await;
        assert_eq!(
            world.emulator.control().conversation(cx).unwrap().status,
            botrun::emulator::Status::Open
        );
    }
}

/// CX never retries an account webhook: a reply it failed to deliver (here: never subscribed)
/// is read back from the messages listing and relayed exactly once, however often it is read.
#[tokio::test]
async fn agent_replies_the_webhook_missed_are_relayed_once_by_reconciliation() {
    let mut setup =
        Setup { subscriptions: vec!["conversation_status_changed"], ..Setup::default() };
    setup.settings.reconcile_every = Some(Duration::from_secs(3600));
    let world = start_with(&setup).await;
    let page = world.open_page("Ada").await;
    page.say("talk to a person").await;
    assert!(page.has_event("event", Some("botrun.handoff")).await);
    let cx = world.cx_conversation(0).await.id;
    world.transcript(cx, 3).await;
    for _ in 0..100 {
        if world.flow.as_ref().unwrap().watched(&format!("widget:{}", page.id)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let control = world.emulator.control();
    control.agent_reply(cx, "Grace", "Grace here.", false).unwrap();
    control.agent_reply(cx, "Grace", "internal only", true).unwrap();
    world.reconcile().await;
    control.agent_reply(cx, "Grace", "Still there?", false).unwrap();
    world.reconcile().await;
    world.reconcile().await;
    page.wait_for("Still there?").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shown = page.wait_for("Still there?").await;
    let from_grace: Vec<&str> =
        shown.iter().filter(|(who, _)| who == "Grace").map(|(_, t)| t.as_str()).collect();
    assert_eq!(from_grace, ["Grace here.", "Still there?"], "{shown:#?}");
}

/// With the webhook working too, a reply seen by both paths still shows once.
#[tokio::test]
async fn a_reply_seen_by_webhook_and_reconciliation_shows_once() {
    let mut setup = Setup::default();
    setup.settings.reconcile_every = Some(Duration::from_millis(50));
    let world = start_with(&setup).await;
    let page = world.open_page("Ada").await;
    page.say("talk to a person").await;
    assert!(page.has_event("event", Some("botrun.handoff")).await);
    let cx = world.cx_conversation(0).await.id;
    world.transcript(cx, 3).await;
    world.emulator.control().agent_reply(cx, "Grace", "Grace here.", false).unwrap();
    page.wait_for("Grace here.").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    world.reconcile().await;
    let shown = page.wait_for("Grace here.").await;
    let count = shown.iter().filter(|(who, _)| who == "Grace").count();
    assert_eq!(count, 1, "{shown:#?}");
}

#[tokio::test]
async fn a_crash_right_after_the_pages_200_loses_nothing() {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("botrun.db").display());
    let setup = Setup {
        store: store.clone(),
        widget_store: format!("sqlite://{}", dir.path().join("widget.db").display()),
        ..Setup::default()
    };
    let mut world = start_with(&setup).await;
    let page = world.open_page("Ada").await;
    page.wait_for(GREETING).await;
    let (id, token) = (page.id.clone(), page.token.clone());
    // Another process holds the bot's store: nothing the service writes there lands meanwhile.
    let mut holder = sqlx::SqliteConnection::connect(&store).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut holder).await.unwrap();
    let post = {
        let (http, token) = (world.http.clone(), token.clone());
        let url = format!("{}/conversations/{id}/activities", world.base);
        move || {
            let (http, token, url) = (http.clone(), token.clone(), url.clone());
            async move {
                let activity = json!({"type": "message", "from": {"id": "dl_customer1"},
                    "text": "how long does delivery take", "channelData": {"clientActivityID": "c-1"}});
                http.post(url).bearer_auth(token).json(&activity).send().await
            }
        }
    };
    // A 200 means the message is safe; the page sends it again only when it got none.
    let first = tokio::time::timeout(Duration::from_secs(2), tokio::spawn(post())).await;
    let answered = matches!(&first, Ok(Ok(Ok(response))) if response.status() == 200);
    world.crash();
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    holder.close().await.unwrap();
    world.restart(&setup).await;
    if !answered {
        assert_eq!(post().await.unwrap().status(), 200);
    }
    let page = Page { world: &world, id, token };
    let shown = page.wait_for("Deliveries take 2–4 working days within the EU.").await;
    assert_eq!(shown.iter().filter(|(_, t)| t.starts_with("Deliveries take")).count(), 1);
    let echoes = page.activities().await;
    let echoes = echoes.iter().filter(|a| a["from"]["role"] == "user").count();
    assert_eq!(echoes, 1, "one echo of the message");
}

#[tokio::test]
async fn widget_turns_record_what_the_bot_decided() {
    let world = start().await;
    let page = world.open_page("Ada").await;
    page.say("do you sell gift cards").await;
    page.wait_for("I'm not sure about that one. Could you say it another way?").await;
    page.say("goodbye").await;
    page.wait_for("Thanks for chatting — goodbye!").await;
    let records =
        world.state.store.decisions(&botrun::store::DecisionQuery::default()).await.unwrap();
    let seen: Vec<(&str, &str, bool, Option<&str>)> = records
        .iter()
        .map(|d| {
            let r = &d.record;
            (r.event.as_str(), r.outcome.as_str(), r.missed, r.text.as_deref())
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("start", "started", false, None),
            ("message", "missed", true, Some("do you sell gift cards")),
            ("message", "resolved", false, None),
        ]
    );
    assert!(records.iter().all(|d| d.record.bot == "Acme Help Centre"));
    assert_eq!(records[2].record.intent.as_deref(), Some("goodbye"));
}

/// A file without words from the page runs `on attachment`, as a CX photo does in Flow B; the
/// file still reaches CX as a link.
#[tokio::test]
async fn a_file_without_words_runs_on_attachment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("files.bot");
    std::fs::write(
        &path,
        "bot \"Files\"\n\non start\n  say \"Hi.\"\n\non attachment\n  say \"Thanks, an agent will look at your file.\"\n",
    )
    .unwrap();
    let world = start_with(&Setup { bot: path, ..Setup::default() }).await;
    let page = world.open_page("Ada").await;
    page.wait_for("Hi.").await;
    let activity = json!({"type": "message", "from": {"id": "dl_customer1"}, "attachments": [
        {"contentType": "image/png", "contentUrl": "https://shop.example.com/p.png", "name": "p.png"}]});
    let status = world
        .http
        .post(format!("{}/conversations/{}/activities", world.base, page.id))
        .bearer_auth(&page.token)
        .json(&activity)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    page.wait_for("Thanks, an agent will look at your file.").await;
    let cx = world.cx_conversation(0).await.id;
    let lines = world.transcript(cx, 3).await;
    assert!(
        lines.iter().any(|(kind, _, text)| kind == "in"
            && text.contains("📎 p.png: https://shop.example.com/p.png")),
        "{lines:?}"
    );
}

/// The reconciliation watch list lives in memory; a restart while a human owns the conversation
/// must not end the read-back, or the replies CX failed to deliver while botrun was down (CX
/// never retries an account webhook) would be lost. The rewatch timer is durable.
#[tokio::test]
async fn reconciliation_carries_on_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut setup = Setup {
        store: format!("sqlite://{}", dir.path().join("botrun.db").display()),
        widget_store: format!("sqlite://{}", dir.path().join("widget.db").display()),
        subscriptions: vec!["conversation_status_changed"],
        ..Setup::default()
    };
    setup.settings.reconcile_every = Some(Duration::from_millis(100));
    let mut world = start_with(&setup).await;
    let page = world.open_page("Ada").await;
    page.say("talk to a person").await;
    assert!(page.has_event("event", Some("botrun.handoff")).await);
    let cx = world.cx_conversation(0).await.id;
    world.transcript(cx, 3).await;
    let (id, token) = (page.id.clone(), page.token.clone());
    world.crash();
    world.restart(&setup).await;
    world.emulator.control().agent_reply(cx, "Grace", "Grace here.", false).unwrap();
    // The rewatch timer is due six periods after the handoff; the service's timer loop fires it.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(world.state.fire_timers().await.unwrap() >= 1, "the rewatch timer was stored");
    let page = Page { world: &world, id, token };
    let shown = page.wait_for("Grace here.").await;
    let from_grace = shown.iter().filter(|(who, _)| who == "Grace").count();
    assert_eq!(from_grace, 1, "{shown:#?}");
}

/// With `cx_files: attachments` a file the customer uploads reaches CX as an attachment of the
/// incoming message (multipart `attachments[]`), served back by CX, instead of a link line.
#[tokio::test]
async fn uploaded_files_reach_cx_as_attachments_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("files.bot");
    std::fs::write(
        &path,
        "bot \"Files\"\n\non start\n  say \"Hi.\"\n\non attachment\n  say \"Thanks for the file.\"\n",
    )
    .unwrap();
    let settings = FlowASettings {
        inbox_id: API_INBOX_ID,
        cx_files: CxFiles::Attachments,
        ..FlowASettings::default()
    };
    let setup = Setup {
        bot: path,
        settings,
        uploads: Some(dir.path().join("uploads")),
        ..Setup::default()
    };
    let world = start_with(&setup).await;
    let page = world.open_page("Ada").await;
    page.wait_for("Hi.").await;
    let picture: &[u8] = b"\x89PNG\r\n\x1a\n not really a picture";
    let mut form = Vec::new();
    form.extend_from_slice(
        b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\n\
          Content-Type: image/png\r\n\r\n",
    );
    form.extend_from_slice(picture);
    form.extend_from_slice(b"\r\n--b0undary--\r\n");
    let status = world
        .http
        .post(format!("{}/conversations/{}/upload", world.base, page.id))
        .bearer_auth(&page.token)
        .header("content-type", "multipart/form-data; boundary=b0undary")
        .body(form)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    page.wait_for("Thanks for the file.").await;
    let cx = world.cx_conversation(0).await.id;
    let mut incoming = None;
    for _ in 0..300 {
        let messages = world.emulator.control().messages(cx).unwrap();
        incoming = messages.into_iter().find(|m| m.message_type == MessageType::Incoming);
        if incoming.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let incoming = incoming.expect("the customer's message reached CX");
    assert_eq!(incoming.attachments.len(), 1, "{incoming:?}");
    assert_eq!(incoming.attachments[0].file_type, "image");
    assert!(!incoming.content.contains("p.png"), "no link line: {incoming:?}");
    let served = world.http.get(&incoming.attachments[0].data_url).send().await.unwrap();
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().as_ref(), picture);
}

/// Waits until the `index`-th Flow A conversation in CX has `count` messages; returns them.
async fn messages_of(world: &World, index: usize, count: usize) -> Vec<botrun::emulator::Message> {
    let conversation = world.cx_conversation(index).await.id;
    for _ in 0..300 {
        let messages = world.emulator.control().messages(conversation).unwrap();
        if messages.len() >= count {
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("CX conversation #{index} never had {count} messages");
}

/// A returning customer in a new browser session gives an email CX already has. CX keeps a
/// contact's email unique without case (Chatwoot's `Contact` validation: 422 "Email has already
/// been taken"), so the new conversation goes to that contact instead of never reaching CX.
#[tokio::test]
async fn a_returning_customer_with_a_known_email_gets_a_cx_conversation_on_that_contact() {
    let world = start().await;
    let first = world.open_page("Ada").await;
    first.tell_contact(json!({"email": "ada@example.com"})).await;
    first.say("what are your opening hours").await;
    let one = world.cx_conversation(0).await;
    let second = world.open_page("Ada").await;
    second.tell_contact(json!({"email": "ADA@example.com"})).await;
    second.say("what are your opening hours").await;
    let two = world.cx_conversation(1).await;
    assert_ne!(one.id, two.id);
    assert_eq!(one.contact_id, two.contact_id, "the contact CX already had");
    let messages = messages_of(&world, 1, 2).await;
    assert!(
        messages.iter().any(|m| m.content == "what are your opening hours"),
        "the customer's message is mirrored into CX: {messages:?}"
    );
    let contacts = world.emulator.control().read(|w| w.contacts.len());
    assert_eq!(contacts, 1);
}

/// Details that arrive later and belong to another CX contact are refused by CX; the
/// conversation carries on in CX with the contact it has.
#[tokio::test]
async fn details_that_belong_to_another_contact_leave_the_conversation_going() {
    let world = start().await;
    let ada = world.open_page("Ada").await;
    ada.tell_contact(json!({"email": "ada@example.com"})).await;
    ada.say("what are your opening hours").await;
    world.cx_conversation(0).await;
    let bob = world.open_page("Bob").await;
    bob.say("what are your opening hours").await;
    let conversation = world.cx_conversation(1).await;
    bob.tell_contact(json!({"email": "ada@example.com"})).await;
    bob.say("how long does delivery take").await;
    let messages = messages_of(&world, 1, 4).await;
    assert!(
        messages.iter().any(|m| m.content == "how long does delivery take"),
        "the conversation is still mirrored: {messages:?}"
    );
    let bob_contact =
        world.emulator.control().read(|w| w.contacts.get(&conversation.contact_id).cloned());
    assert_eq!(bob_contact.unwrap().email, None, "CX kept Bob's contact as it was");
    assert_eq!(world.state.metrics.escalations(), 0, "a refused update is not a failure");
}
