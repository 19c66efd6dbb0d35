//! Flow B end to end over real sockets: the CX emulator posts agent-bot webhooks to the served
//! app, and the replies come back through the real CX client into the emulator's conversation.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use botrun::check::{load_program, CheckOptions};
use botrun::cx::{Credentials, CxClient, CxConfig};
use botrun::emulator::{spawn, EmulatorOptions, MessageType, RunningEmulator};
use botrun::server::{app, AppState, Bots, Config, SystemClock};
use botrun::store::SqliteStore;

const TOKEN: &str = "e2e-token-0123456789abcdef0123456789abcdef";
const WIDGET_INBOX: u64 = 2;

async fn start() -> (RunningEmulator, AppState) {
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
        Bots::new(vec![(None, program)]),
        Arc::new(client.clone()),
        Arc::new(SystemClock),
        TOKEN.to_owned(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = axum::serve(listener, app(state.clone()));
    tokio::spawn(async move { server.await });
    let outgoing = format!("http://{addr}/webhooks/cx/{TOKEN}");
    let bot = client.create_agent_bot("faq", "e2e", &outgoing).await.unwrap();
    client.assign_agent_bot(WIDGET_INBOX.into(), bot.id).await.unwrap();
    (emulator, state)
}

/// The bot's public messages in a conversation, waiting until there are `count`.
async fn bot_messages(emulator: &RunningEmulator, conversation: u64, count: usize) -> Vec<String> {
    let mut texts = Vec::new();
    for _ in 0..300 {
        texts = emulator
            .control()
            .messages(conversation)
            .unwrap()
            .into_iter()
            .filter(|m| m.message_type == MessageType::Outgoing && !m.private)
            .map(|m| m.content)
            .collect();
        if texts.len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    texts
}

#[tokio::test]
async fn flow_b_greeting_and_answers_through_the_emulator() {
    let (emulator, _state) = start().await;
    let conversation = emulator.control().customer_start(WIDGET_INBOX, "Ada").unwrap();
    let greeting = bot_messages(&emulator, conversation.id, 2).await;
    if greeting.is_empty() {
        eprintln!("deliveries: {:#?}", emulator.control().deliveries());
        eprintln!("calls: {:#?}", emulator.control().calls());
    }
    assert!(greeting[0].contains("Acme help centre bot"), "{greeting:?}");
    emulator.control().customer_says(conversation.id, "how long does delivery take").unwrap();
    emulator.control().customer_says(conversation.id, "can I pay with paypal").unwrap();
    let texts = bot_messages(&emulator, conversation.id, 4).await;
    assert_eq!(
        texts[2..],
        [
            "Deliveries take 2–4 working days within the EU.",
            "You can pay by credit card, PayPal or invoice.",
        ],
        "{texts:?}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn api_faults_at_the_emulator_still_deliver_every_reply_in_order() {
    use botrun::emulator::{Fault, FaultSpec};
    let (emulator, _state) = start().await;
    let faults = [
        Fault::ServerError { status: 500 },
        Fault::TooManyRequests { retry_after_secs: 0, http_date: false },
    ];
    for fault in faults {
        emulator
            .control()
            .add_fault(FaultSpec {
                path: "messages".into(),
                fault,
                times: None,
                share: Some(0.3),
                seed: 7,
            })
            .unwrap();
    }
    let conversation = emulator.control().customer_start(WIDGET_INBOX, "Bo").unwrap();
    let questions = [
        ("how long does delivery take", "Deliveries take 2–4 working days within the EU."),
        ("can I pay with paypal", "You can pay by credit card, PayPal or invoice."),
        ("is my router under warranty", "All devices come with a two-year warranty."),
    ];
    for (question, _) in questions {
        emulator.control().customer_says(conversation.id, question).unwrap();
    }
    let texts = bot_messages(&emulator, conversation.id, 5).await;
    let expected: Vec<&str> = questions.iter().map(|(_, a)| *a).collect();
    assert_eq!(texts.len(), 5, "{texts:?}");
    assert_eq!(texts[2..], expected[..], "{texts:?}");
    let faulted = emulator.control().calls().iter().filter(|c| c.fault.is_some()).count();
    assert!(faulted > 0, "no fault fired, the test proves nothing");
    emulator.shutdown().await;
}
