//! A small fluent harness: a served emulator with a token, JSON calls, and a real webhook
//! receiver on 127.0.0.1:0 that records what it gets and can fail on purpose.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use botrun::emulator::{spawn, EmulatorOptions, RunningEmulator};
use serde_json::{json, Value};

pub const TENANT: &str = "dev.cx.localhost";

pub struct Cx {
    pub emulator: RunningEmulator,
    pub http: reqwest::Client,
    pub token: String,
}

pub fn fast_options() -> EmulatorOptions {
    EmulatorOptions {
        webhook_retry_spacing: Duration::from_millis(20),
        webhook_timeout: Duration::from_millis(500),
        ..EmulatorOptions::default()
    }
}

impl Cx {
    pub async fn start() -> Self {
        Self::with(fast_options()).await
    }

    pub async fn with(options: EmulatorOptions) -> Self {
        let emulator = spawn(options, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let mut cx = Self { emulator, http, token: String::new() };
        cx.token = cx.fetch_token().await;
        cx
    }

    pub async fn fetch_token(&self) -> String {
        let response = self
            .http
            .post(self.emulator.auth_url())
            .basic_auth("botrun-dev", Some("botrun-dev-secret"))
            .form(&[("grant_type", "client_credentials"), ("scope", "cx.digital-interactions")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}api/v1/digital-interactions/{path}", self.emulator.base_url())
    }

    /// POSTs JSON with the bearer token; answers status and body.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(self.url(path)).bearer_auth(&self.token).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Posts and insists on 200.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.post(path, body).await;
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    }

    /// Steps 3 and 4 of Flow A: a contact and a conversation in the API inbox.
    pub async fn flow_a_conversation(&self) -> u64 {
        let contact = self
            .ok("contacts/", json!({"tenant_domain": TENANT, "inbox_id": 1, "name": "Ada"}))
            .await;
        let contact_id = contact["payload"]["contact"]["id"].as_u64().unwrap();
        let conversation = self
            .ok(
                "conversations/",
                json!({"tenant_domain": TENANT, "inbox_id": 1, "contact_id": contact_id}),
            )
            .await;
        conversation["id"].as_u64().unwrap()
    }

    /// Creates an agent bot posting to `url` and assigns it to `inbox_id`.
    pub async fn agent_bot(&self, url: &str, inbox_id: u64) -> u64 {
        let bot = self
            .ok(
                "agents-bot/",
                json!({"tenant_domain": TENANT, "name": "helper", "outgoing_url": url}),
            )
            .await;
        let id = bot["id"].as_u64().unwrap();
        self.ok(
            "agents-bot/assign/",
            json!({"tenant_domain": TENANT, "inbox_id": inbox_id, "agent_bot_id": id}),
        )
        .await;
        id
    }

    /// Waits until the emulator owes no webhook post (every event caused so far delivered or
    /// given up on, retries and late copies included): nothing more can arrive after it.
    pub async fn deliveries_settled(&self) {
        let control = self.emulator.control();
        crate::wait::until("every webhook delivered", || async { control.undelivered() == 0 })
            .await;
    }

    pub async fn subscribe(&self, url: &str, events: &[&str]) {
        self.ok("webhooks/", json!({"tenant_domain": TENANT, "url": url, "subscriptions": events}))
            .await;
    }
}

/// One POST the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub raw: String,
    pub body: Value,
}

/// A real webhook target on 127.0.0.1:0.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
    failures_left: Arc<AtomicU32>,
}

impl Receiver {
    /// A receiver that answers 500 to its first `failures` posts, 200 after.
    pub async fn start(failures: u32) -> Self {
        Self::failing_with(failures, StatusCode::INTERNAL_SERVER_ERROR).await
    }

    /// A receiver that answers `status` to its first `failures` posts, 200 after.
    pub async fn failing_with(failures: u32, status: StatusCode) -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let failures_left = Arc::new(AtomicU32::new(failures));
        let (got_in, failures_in) = (got.clone(), failures_left.clone());
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, raw: String| {
                let got = got_in.clone();
                let failures = failures_in.clone();
                async move {
                    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
                    got.lock().unwrap().push(Received { headers, raw, body });
                    let fail = failures
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if fail {
                        status
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, got, failures_left }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub fn failures_left(&self) -> u32 {
        self.failures_left.load(Ordering::SeqCst)
    }

    /// Waits (up to 5 s) until `matching` posts satisfy `pick`, and returns them.
    pub async fn wait_for(&self, count: usize, pick: impl Fn(&Received) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let found: Vec<Received> = self.received().into_iter().filter(|r| pick(r)).collect();
            if found.len() >= count || Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub fn event_is(name: &'static str) -> impl Fn(&Received) -> bool {
    move |received| received.body["event"] == name
}
