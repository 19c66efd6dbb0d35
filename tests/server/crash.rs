//! `kill -9` of a spawned `botrun serve` under load, then a restart on the same SQLite file:
//! every message the service acknowledged is answered exactly once, in order.

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use botrun::cx::{Credentials, CxClient, CxConfig};
use botrun::emulator::{spawn, EmulatorOptions, MessageType};

const TOKEN: &str = "c7a1f0e9d8b2c3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0";

fn serve(config: &std::path::Path, options: &EmulatorOptions) -> Child {
    Command::new(env!("CARGO_BIN_EXE_botrun"))
        .args(["serve", "--no-reload", "--config"])
        .arg(config)
        .env("BOTRUN_WEBHOOK_TOKEN", TOKEN)
        .env("BOTRUN_CX_CLIENT_ID", &options.client_id)
        .env("BOTRUN_CX_CLIENT_SECRET", &options.client_secret)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(port: u16) {
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("botrun serve did not become ready");
}

#[tokio::test]
async fn kill_9_under_load_then_restart_answers_every_accepted_message_once() {
    let options = EmulatorOptions {
        webhook_retry_spacing: Duration::from_millis(400),
        webhook_retries: 10,
        // Not Chatwoot (it gives up on an unreachable bot): the test kills the service on
        // purpose and wants the deliveries that hit the dead port tried again.
        retry_unreachable: true,
        ..EmulatorOptions::default()
    };
    let emulator = spawn(options.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("botrun.yaml");
    let bot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bots/faq.bot");
    let mut file = std::fs::File::create(&config).unwrap();
    write!(
        file,
        "listen: 127.0.0.1:{port}\nstore: sqlite://{}\nbots:\n  - file: {}\ncx:\n  base_url: {}\n  auth_url: {}\n  tenant_domain: {}\n",
        dir.path().join("botrun.db").display(),
        bot.display(),
        emulator.base_url(),
        emulator.auth_url(),
        options.tenant_domain
    )
    .unwrap();
    let mut child = serve(&config, &options);
    wait_ready(port).await;
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
    let url = format!("http://127.0.0.1:{port}/webhooks/cx/{TOKEN}");
    let agent_bot = client.create_agent_bot("faq", "crash", &url).await.unwrap();
    client.assign_agent_bot(2.into(), agent_bot.id).await.unwrap();
    let answers = [
        ("how long does delivery take", "Deliveries take 2–4 working days within the EU."),
        ("can I pay with paypal", "You can pay by credit card, PayPal or invoice."),
    ];
    let mut conversations = Vec::new();
    for i in 0..10 {
        let conversation = emulator.control().customer_start(2, &format!("c{i}")).unwrap();
        conversations.push(conversation.id);
    }
    for round in 0..6 {
        for id in &conversations {
            emulator.control().customer_says(*id, answers[round % 2].0).unwrap();
        }
        if round == 2 {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            child = serve(&config, &options);
            wait_ready(port).await;
        }
    }
    let mut all_ok = false;
    for _ in 0..400 {
        all_ok = conversations.iter().all(|id| {
            let n = emulator
                .control()
                .messages(*id)
                .unwrap()
                .iter()
                .filter(|m| m.message_type == MessageType::Outgoing && !m.private)
                .count();
            n > 6
        });
        if all_ok {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in &conversations {
        let texts: Vec<String> = emulator
            .control()
            .messages(*id)
            .unwrap()
            .into_iter()
            .filter(|m| m.message_type == MessageType::Outgoing && !m.private)
            .map(|m| m.content)
            .collect();
        let expected: Vec<&str> = (0..6).map(|r| answers[r % 2].1).collect();
        assert_eq!(texts.len(), 7, "conversation {id}: {texts:?}");
        assert_eq!(texts[1..], expected[..], "conversation {id}");
    }
    assert!(all_ok);
    child.kill().unwrap();
    child.wait().unwrap();
    emulator.shutdown().await;
}
