//! `botrun dev` run twice over one data folder: the second run continues the first (the CX
//! emulator's world, the service's and the widget's databases), `--fresh` starts from empty, and
//! a broken world file stops the start with the way out and is left as it was.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

const DEADLINE: Duration = Duration::from_secs(60);

/// A running `botrun dev` and the addresses it printed.
struct Dev {
    child: Child,
    /// `http://localhost:PORT`, the demo page's origin.
    page: String,
    service_port: u16,
    /// The emulator's root, `http://127.0.0.1:PORT`.
    cx: String,
    cx_port: u16,
}

fn port_of(url: &str) -> u16 {
    let rest = url.rsplit(':').next().unwrap();
    rest.trim_end_matches('/').split('/').next().unwrap().parse().unwrap()
}

async fn start_dev(data: &Path, ports: Option<(u16, u16)>, fresh: bool) -> Dev {
    let (service, cx) = ports.unwrap_or((0, 0));
    let mut command = Command::new(env!("CARGO_BIN_EXE_botrun"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["dev", "bots/faq.bot", "--data"])
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{service}")])
        .args(["--cx-listen", &format!("127.0.0.1:{cx}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if fresh {
        command.arg("--fresh");
    }
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut page, mut cx) = (None, None);
    tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let value = line.split_whitespace().last().unwrap_or_default().to_owned();
            if line.trim_start().starts_with("customer page:") {
                page = Some(value.trim_end_matches('/').to_owned());
            } else if line.trim_start().starts_with("CX emulator API:") {
                cx = Some(value.trim_end_matches("/cx/").to_owned());
            } else if line.trim_start().starts_with("data:") {
                break;
            }
        }
    })
    .await
    .expect("botrun dev did not print its addresses in time");
    let (page, cx) = (page.expect("customer page line"), cx.expect("CX emulator line"));
    Dev { child, service_port: port_of(&page), cx_port: port_of(&cx), page, cx }
}

impl Dev {
    /// SIGTERM, as Ctrl-C would stop it, then waits for it to end.
    async fn stop(mut self) {
        let pid = self.child.id().unwrap().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
        assert!(status.success());
        let status = tokio::time::timeout(DEADLINE, self.child.wait()).await.unwrap().unwrap();
        assert!(status.success(), "botrun dev ended with {status}");
    }

    async fn control(&self, path: &str) -> Value {
        let url = format!("{}/_control/{path}", self.cx);
        reqwest::get(&url).await.unwrap().error_for_status().unwrap().json().await.unwrap()
    }

    /// A customer opening the demo page: a token, then the conversation.
    async fn open_page(&self, http: &reqwest::Client) -> (String, String) {
        let minted: Value = http
            .post(format!("{}/demo/token", self.page))
            .header("origin", &self.page)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = minted["token"].as_str().unwrap().to_owned();
        let started: Value = http
            .post(format!("{}/v3/directline/conversations", self.page))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        (started["conversationId"].as_str().unwrap().to_owned(), token)
    }

    async fn say(&self, http: &reqwest::Client, conversation: &str, token: &str, text: &str) {
        http.post(format!("{}/v3/directline/conversations/{conversation}/activities", self.page))
            .bearer_auth(token)
            .json(&json!({"type": "message", "from": {"id": "customer"}, "text": text}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }

    /// What a reloaded page reads back: every activity of the conversation.
    async fn history(&self, http: &reqwest::Client, conversation: &str, token: &str) -> Vec<Value> {
        let answer: Value = http
            .get(format!("{}/v3/directline/conversations/{conversation}/activities", self.page))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["activities"].as_array().unwrap().clone()
    }

    /// Waits until the emulator's conversation list satisfies `ready`.
    async fn conversations_when(&self, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let listed =
                self.control("conversations").await["conversations"].as_array().unwrap().clone();
            if ready(&listed) {
                return listed;
            }
            assert!(started.elapsed() < DEADLINE, "emulator never got there: {listed:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn messages(&self, cx_conversation: u64) -> Vec<Value> {
        self.control(&format!("conversations/{cx_conversation}")).await["messages"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Waits until a CX conversation's messages satisfy `ready`.
    async fn messages_when(
        &self,
        cx_conversation: u64,
        ready: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let messages = self.messages(cx_conversation).await;
            if ready(&messages) {
                return messages;
            }
            assert!(started.elapsed() < DEADLINE, "CX never got there: {messages:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// True once `text` is in CX and the bot answered after it (the turn is fully mirrored).
fn answered(messages: &[Value], text: &str) -> bool {
    messages
        .iter()
        .position(|m| m["content"] == text)
        .is_some_and(|at| messages[at + 1..].iter().any(|m| m["message_type"] == "outgoing"))
}

fn ids(messages: &[Value]) -> Vec<u64> {
    messages.iter().map(|m| m["id"].as_u64().unwrap()).collect()
}

fn has_text(activities: &[Value], text: &str) -> bool {
    activities.iter().any(|a| a["text"] == text)
}

#[tokio::test]
async fn a_second_run_continues_the_first_and_fresh_starts_from_empty() {
    let data = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();

    let first = start_dev(data.path(), None, false).await;
    let ports = (first.service_port, first.cx_port);
    let (conversation, token) = first.open_page(&http).await;
    first.say(&http, &conversation, &token, "hello from before").await;
    let listed = first.conversations_when(|list| !list.is_empty()).await;
    let cx_conversation = listed[0]["id"].as_u64().unwrap();
    let before = first.messages_when(cx_conversation, |m| answered(m, "hello from before")).await;
    let highest_before = ids(&before).into_iter().max().unwrap();
    first.stop().await;
    assert!(data.path().join("cx-world.json").is_file());

    let second = start_dev(data.path(), Some(ports), false).await;
    // The agent console still lists the conversation, with its messages.
    let kept = second.messages(cx_conversation).await;
    assert_eq!(ids(&kept[..before.len()]), ids(&before), "{kept:?}");
    // The reloaded page reads its history back and goes on in the same CX conversation.
    let history = second.history(&http, &conversation, &token).await;
    assert!(has_text(&history, "hello from before"), "{history:?}");
    second.say(&http, &conversation, &token, "hello again").await;
    let after = second.messages_when(cx_conversation, |m| answered(m, "hello again")).await;
    let listed = second.control("conversations").await["conversations"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "the same CX conversation goes on: {listed:?}");
    let again = after.iter().find(|m| m["content"] == "hello again").unwrap();
    assert!(again["id"].as_u64().unwrap() > highest_before, "an id was reused: {after:?}");
    let state = second.control("state").await;
    assert_eq!(state["webhooks"].as_array().unwrap().len(), 1, "{state}");
    assert_eq!(state["agent_bots"].as_array().unwrap().len(), 1, "{state}");
    second.stop().await;

    let fresh = start_dev(data.path(), Some(ports), true).await;
    assert!(fresh.control("conversations").await["conversations"].as_array().unwrap().is_empty());
    let refused = http
        .get(format!("{}/v3/directline/conversations/{conversation}/activities", fresh.page))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_client_error(), "the widget forgot it: {}", refused.status());
    let state = fresh.control("state").await;
    assert_eq!(state["webhooks"].as_array().unwrap().len(), 1, "{state}");
    fresh.stop().await;
}

#[tokio::test]
async fn an_unreadable_world_file_stops_the_start_names_the_file_and_stays() {
    let data = tempfile::tempdir().unwrap();
    let world = data.path().join("cx-world.json");
    let broken = b"{\"format\": 1, \"world\": {\"contacts\": ";
    std::fs::write(&world, broken).unwrap();
    let output = tokio::time::timeout(
        DEADLINE,
        Command::new(env!("CARGO_BIN_EXE_botrun"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["dev", "bots/faq.bot", "--listen", "127.0.0.1:0", "--cx-listen"])
            .arg("127.0.0.1:0")
            .arg("--data")
            .arg(data.path())
            .env("NO_COLOR", "1")
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cx-world.json"), "{stderr}");
    assert!(stderr.contains("--fresh"), "{stderr}");
    assert_eq!(std::fs::read(&world).unwrap(), broken, "the file is left as it was");
}

/// A run on another `--listen` address replaces the subscription of the one before instead of
/// leaving a webhook no one answers.
#[tokio::test]
async fn a_run_on_another_address_keeps_one_webhook_pointing_at_it() {
    let data = tempfile::tempdir().unwrap();
    let first = start_dev(data.path(), None, false).await;
    let cx_port = first.cx_port;
    first.stop().await;
    let second = start_dev(data.path(), Some((0, cx_port)), false).await;
    let state = second.control("state").await;
    let webhooks = state["webhooks"].as_array().unwrap();
    assert_eq!(webhooks.len(), 1, "{state}");
    let url = webhooks[0]["url"].as_str().unwrap();
    assert!(url.contains(&format!(":{}/", second.service_port)), "{url}");
    second.stop().await;
}
