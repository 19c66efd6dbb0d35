//! The Direct Line subset over real sockets: tokens, start, echo, polling, the WebSocket stream
//! with replay, persistence across a restart (SQLite), CORS and every refusal.

use std::sync::Arc;
use std::time::Duration;

use botrun::clock::{Clock, ManualClock, SystemClock};
use botrun::store::{SqliteStore, Store};
use botrun::widget::token::{self, Claims};
use botrun::widget::{
    router, CustomerActivity, OutgoingActivity, Sender, Site, UploadSettings, WidgetConfig,
    WidgetError, WidgetHost, WidgetService, WidgetStore, WidgetUser,
};
use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

mod flaky_store;
mod limits;
mod replicas;

const KEY: &[u8] = b"test-signing-key";
const SECRET: &str = "site-secret";
const ORIGIN: &str = "http://shop.example";

/// The test's own bot: greets on start and echoes every message, with a quick reply. Like every
/// host it answers an activity it was handed before (a page's resend) only once.
#[derive(Default)]
struct EchoBot {
    seen: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl WidgetHost for EchoBot {
    fn conversation_started<'a>(
        &'a self,
        widget: &'a WidgetService,
        conversation: &'a str,
        _user: &'a WidgetUser,
    ) -> BoxFuture<'a, Result<(), WidgetError>> {
        Box::pin(async move {
            let greeting = OutgoingActivity::Message {
                from: Sender::bot("Echo"),
                text: "Hello!".into(),
                suggested_actions: vec![],
            };
            widget.push(conversation, greeting).await?;
            Ok(())
        })
    }

    fn customer_activity<'a>(
        &'a self,
        widget: &'a WidgetService,
        conversation: &'a str,
        activity: CustomerActivity,
    ) -> BoxFuture<'a, Result<(), WidgetError>> {
        Box::pin(async move {
            let Some(text) = activity.text else { return Ok(()) };
            if !self.seen.lock().unwrap().insert(activity.id.clone()) {
                return Ok(());
            }
            let from = Sender::bot("Echo");
            widget.push(conversation, OutgoingActivity::Typing { from: from.clone() }).await?;
            let reply = OutgoingActivity::Message {
                from,
                text: format!("You said: {text}"),
                suggested_actions: vec!["Again".into()],
            };
            widget.push(conversation, reply).await?;
            Ok(())
        })
    }
}

fn site(anonymous: bool, per_minute: u32) -> Site {
    Site {
        id: "shop".into(),
        secret: SECRET.into(),
        origins: vec![ORIGIN.into()],
        anonymous_start: anonymous,
        new_conversations_per_minute: per_minute,
    }
}

struct Server {
    base: String,
    widget: WidgetService,
    http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

async fn serve_with(store: Arc<dyn WidgetStore>, site: Site) -> Server {
    serve_configured(store, site, None, Arc::new(SystemClock)).await
}

/// A widget on a clock the test moves.
async fn serve_on(clock: Arc<ManualClock>) -> Server {
    let store = Arc::new(botrun::widget::MemoryWidgetStore::default());
    serve_configured(store, site(false, 100), None, clock).await
}

async fn serve_configured(
    store: Arc<dyn WidgetStore>,
    site: Site,
    uploads: Option<UploadSettings>,
    clock: Arc<dyn Clock>,
) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config = WidgetConfig {
        public_base_url: format!("http://{address}"),
        token_key: KEY.to_vec(),
        token_lifetime: Duration::from_secs(3600),
        keep_alive: Duration::from_millis(300),
        sites: vec![site],
        uploads,
    };
    let widget = WidgetService::new(config, store, Arc::new(EchoBot::default())).with_clock(clock);
    let app = axum::Router::new().nest("/v3/directline", router(widget.clone()));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server {
        base: format!("http://{address}/v3/directline"),
        widget,
        http: reqwest::Client::new(),
        task,
    }
}

async fn serve() -> Server {
    serve_with(Arc::new(botrun::widget::MemoryWidgetStore::default()), site(false, 100)).await
}

impl Server {
    /// `GET /conversations/{id}{query}`: the resume answer.
    async fn resume(&self, conversation: &str, token: &str, query: &str) -> Value {
        let url = format!("{}/conversations/{conversation}{query}", self.base);
        let response = self.http.get(url).bearer_auth(token).send().await.unwrap();
        response.json().await.unwrap()
    }

    async fn mint(&self) -> (String, String) {
        let response = self
            .http
            .post(format!("{}/tokens/generate", self.base))
            .bearer_auth(SECRET)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert!(body["expires_in"].as_u64().unwrap() > 15 * 60);
        (
            body["conversationId"].as_str().unwrap().to_owned(),
            body["token"].as_str().unwrap().to_owned(),
        )
    }

    async fn start(&self) -> (String, String, Value) {
        let (conversation, token) = self.mint().await;
        let response = self
            .http
            .post(format!("{}/conversations", self.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["conversationId"], conversation.as_str());
        (conversation, token, body)
    }

    async fn post(&self, conversation: &str, token: &str, body: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/conversations/{conversation}/activities", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    async fn poll(&self, conversation: &str, token: &str, watermark: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!(
                "{}/conversations/{conversation}/activities?watermark={watermark}",
                self.base
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// Polls until `count` activities are stored (10 s at most: CI machines can be busy).
    async fn history(&self, conversation: &str, token: &str, count: usize) -> Vec<Value> {
        for _ in 0..1000 {
            let (status, body) = self.poll(conversation, token, "").await;
            assert_eq!(status, 200);
            let activities = body["activities"].as_array().unwrap().clone();
            if activities.len() >= count {
                return activities;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("fewer than {count} activities arrived");
    }
}

fn texts(activities: &[Value]) -> Vec<String> {
    activities.iter().map(|a| a["text"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn echo_keeps_client_id_overwrites_from_and_numbers_the_history() {
    let server = serve().await;
    let (conversation, token, started) = server.start().await;
    let stream_url = started["streamUrl"].as_str().unwrap();
    assert!(stream_url.starts_with("ws://127.0.0.1:"), "{stream_url}");
    assert!(stream_url.contains(&format!("/conversations/{conversation}/stream?")));

    let response = server
        .post(
            &conversation,
            &token,
            r#"{"type":"message","text":"hi","from":{"id":"mallory","role":"bot"},
               "channelData":{"clientActivityID":"client-1"}}"#,
        )
        .await;
    assert_eq!(response.status(), 200);
    let posted: Value = response.json().await.unwrap();
    let echo_id = posted["id"].as_str().unwrap().to_owned();

    let history = server.history(&conversation, &token, 3).await;
    assert_eq!(texts(&history), ["Hello!", "hi", "You said: hi"]);
    let echo = &history[1];
    assert_eq!(echo["id"], echo_id.as_str());
    assert_eq!(echo["channelData"]["clientActivityID"], "client-1");
    assert_eq!(echo["from"]["role"], "user");
    assert_ne!(echo["from"]["id"], "mallory");
    assert_eq!(history[2]["from"]["role"], "bot");
    assert_eq!(
        history[2]["suggestedActions"]["actions"][0],
        json!({"type":"imBack","title":"Again","value":"Again"})
    );
    // Typing is streamed only: nothing but the three messages is stored.
    assert!(history.iter().all(|a| a["type"] == "message"));
    let stamps: Vec<&str> = history.iter().map(|a| a["timestamp"].as_str().unwrap()).collect();
    assert!(stamps.windows(2).all(|pair| pair[0] < pair[1]), "{stamps:?}");
    assert!(stamps[0].ends_with('Z') && stamps[0].len() == "2026-01-01T00:00:00.000Z".len());

    let (_, after_two) = server.poll(&conversation, &token, "2").await;
    assert_eq!(texts(after_two["activities"].as_array().unwrap()), ["You said: hi"]);
    assert_eq!(after_two["watermark"], "3");
    let (_, garbage) = server.poll(&conversation, &token, "x!").await;
    assert_eq!(garbage["activities"].as_array().unwrap().len(), 3);
    let (_, past_end) = server.poll(&conversation, &token, "3").await;
    assert_eq!(past_end, json!({"activities": [], "watermark": "3"}));
    server.task.abort();
}

async fn next_frame(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a frame within 5 s")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            if !text.is_empty() {
                return serde_json::from_str(&text).unwrap();
            }
        }
    }
}

#[tokio::test]
async fn stream_replays_after_the_watermark_then_pushes_live_and_keeps_alive() {
    let server = serve().await;
    let (conversation, token, started) = server.start().await;
    server.post(&conversation, &token, r#"{"type":"message","text":"one"}"#).await;
    server.history(&conversation, &token, 3).await;

    // Reconnect as if the socket dropped after activity 1: the server replays 2 and 3.
    let url = started["streamUrl"].as_str().unwrap().replace("watermark=0", "watermark=1");
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let replay = next_frame(&mut socket).await;
    assert_eq!(texts(replay["activities"].as_array().unwrap()), ["one", "You said: one"]);
    assert_eq!(replay["watermark"], "3");

    server.post(&conversation, &token, r#"{"type":"message","text":"two"}"#).await;
    let echo = next_frame(&mut socket).await;
    assert_eq!(echo["activities"][0]["text"], "two");
    assert_eq!(echo["watermark"], "4");
    let typing = next_frame(&mut socket).await;
    assert_eq!(typing["activities"][0]["type"], "typing");
    assert!(typing.get("watermark").is_none());
    let reply = next_frame(&mut socket).await;
    assert_eq!(reply["activities"][0]["text"], "You said: two");
    assert_eq!(reply["watermark"], "5");

    // The server's keep-alive is an empty text frame; the client's empty frames are accepted.
    socket.send(Message::Text(String::new().into())).await.unwrap();
    let keep_alive = tokio::time::timeout(Duration::from_secs(3), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(keep_alive, Message::Text(String::new().into()));

    // Resume hands out a stream URL carrying the watermark.
    let resumed = server.resume(&conversation, &token, "?watermark=4").await;
    let url = resumed["streamUrl"].as_str().unwrap();
    assert!(url.contains("watermark=4"), "{url}");
    let (mut again, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let missed = next_frame(&mut again).await;
    assert_eq!(texts(missed["activities"].as_array().unwrap()), ["You said: two"]);
    server.task.abort();
}

/// Conversation, history and numbering survive a restart on `store`.
async fn a_restart_loses_nothing(store: Arc<dyn WidgetStore>, reopened: Arc<dyn WidgetStore>) {
    let server = serve_with(store, site(false, 100)).await;
    let (conversation, token, _) = server.start().await;
    server.post(&conversation, &token, r#"{"type":"message","text":"remember me"}"#).await;
    server.history(&conversation, &token, 3).await;
    server.task.abort();
    drop(server);

    let restarted = serve_with(reopened, site(false, 100)).await;
    let history = restarted.history(&conversation, &token, 3).await;
    assert_eq!(texts(&history), ["Hello!", "remember me", "You said: remember me"]);
    restarted.post(&conversation, &token, r#"{"type":"message","text":"still here"}"#).await;
    let history = restarted.history(&conversation, &token, 5).await;
    assert_eq!(history[3]["id"], format!("{conversation}|0000004"));
    assert!(history[3]["timestamp"].as_str() > history[2]["timestamp"].as_str());
    restarted.task.abort();
}

#[tokio::test]
async fn a_restart_on_sqlite_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("widget.db").display());
    let first = SqliteStore::open(&url).await.unwrap().widget_history();
    let second = SqliteStore::open(&url).await.unwrap().widget_history();
    a_restart_loses_nothing(first, second).await;
}

fn assert_error(status: u16, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(!body["error"]["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn bad_requests_get_the_right_status_and_store_nothing() {
    let server = serve().await;
    let (conversation, token, _) = server.start().await;
    server.history(&conversation, &token, 1).await;

    // Malformed activities → 400, nothing stored.
    for body in ["not json", r#"{"text":"no type"}"#, r#"{"type":"message","text":7}"#, "[]"] {
        let response = server.post(&conversation, &token, body).await;
        let status = response.status().as_u16();
        assert_error(status, &response.json().await.unwrap(), 400, "BadActivity");
    }
    assert_eq!(server.history(&conversation, &token, 1).await.len(), 1);

    // Invalid token → 401; missing → 401; expired → 403.
    let (status, body) = server.poll(&conversation, "bt1.forged.sig", "0").await;
    assert_error(status, &body, 401, "TokenInvalid");
    let response = server
        .http
        .get(format!("{}/conversations/{conversation}/activities", server.base))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_error(status, &response.json().await.unwrap(), 401, "MissingToken");
    let expired = token::sign(
        KEY,
        &Claims {
            conversation: conversation.clone(),
            user_id: "dl_x".into(),
            user_name: None,
            site: "shop".into(),
            expires_at: chrono::Utc::now().timestamp() - 1,
            issued_ms: 0,
            nonce: botrun::crypto::random_id(),
        },
    );
    let response = server.post(&conversation, &expired, r#"{"type":"message","text":"x"}"#).await;
    let status = response.status().as_u16();
    assert_error(status, &response.json().await.unwrap(), 403, "TokenExpired");

    // Bad site secret → 401.
    let response = server
        .http
        .post(format!("{}/tokens/generate", server.base))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_error(status, &response.json().await.unwrap(), 401, "BadSecret");

    // A token minted but never started, and a token for another conversation.
    let (unstarted, unstarted_token) = server.mint().await;
    let (status, body) = server.poll(&unstarted, &unstarted_token, "0").await;
    assert_error(status, &body, 404, "ConversationNotFound");
    let (status, body) = server.poll(&conversation, &unstarted_token, "0").await;
    // Another conversation's id is, for this token, an unknown conversation (Direct Line: 404).
    assert_error(status, &body, 404, "ConversationNotFound");
    let response = server
        .http
        .get(format!("{}/conversations/{unstarted}", server.base))
        .bearer_auth(&unstarted_token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_error(status, &response.json().await.unwrap(), 404, "ConversationNotFound");

    // Wrong origin → 403 (plain request and preflight alike).
    let response = server
        .http
        .post(format!("{}/conversations/{conversation}/activities", server.base))
        .bearer_auth(&token)
        .header("origin", "http://evil.example")
        .body(r#"{"type":"message","text":"x"}"#)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_error(status, &response.json().await.unwrap(), 403, "OriginNotAllowed");

    // Ended conversations cannot be resumed.
    server.widget.end(&conversation).await.unwrap();
    let response = server
        .http
        .get(format!("{}/conversations/{conversation}?watermark=1", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    // Nothing of the refused posts was stored.
    let stored = server.widget.store().activities_after(&conversation, 0, 100).await.unwrap();
    assert_eq!(texts(&stored.into_iter().map(|s| s.activity).collect::<Vec<_>>()), ["Hello!"]);
    server.task.abort();
}

#[tokio::test]
async fn cors_preflight_allows_listed_origins_only() {
    let server = serve().await;
    let preflight = |origin: &'static str| {
        server
            .http
            .request(reqwest::Method::OPTIONS, format!("{}/conversations", server.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
            .send()
    };
    let allowed = preflight(ORIGIN).await.unwrap();
    assert_eq!(allowed.status(), 204);
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(
        headers["access-control-allow-headers"],
        "authorization, content-type, x-ms-bot-agent, x-requested-with"
    );
    assert_eq!(headers["access-control-allow-methods"], "GET, POST, OPTIONS");
    let refused = preflight("http://evil.example").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.headers().get("access-control-allow-origin").is_none());

    // A real cross-origin call carries the allow header.
    let (conversation, token, _) = server.start().await;
    let response = server
        .http
        .get(format!("{}/conversations/{conversation}/activities", server.base))
        .bearer_auth(&token)
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], ORIGIN);
    server.task.abort();
}

#[tokio::test]
async fn anonymous_start_needs_a_listed_origin() {
    let server =
        serve_with(Arc::new(botrun::widget::MemoryWidgetStore::default()), site(true, 2)).await;
    let start = |origin: Option<&'static str>| {
        let mut request = server.http.post(format!("{}/conversations", server.base)).body("{}");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let no_origin = start(None).await.unwrap();
    assert_eq!(no_origin.status(), 401);
    let first = start(Some(ORIGIN)).await.unwrap();
    assert_eq!(first.status(), 201);
    let body: Value = first.json().await.unwrap();
    assert!(body["token"].as_str().unwrap().starts_with("bt1."));
    // `botframework-directlinejs` without a token sends `Bearer undefined`: still anonymous.
    let undefined = server
        .http
        .post(format!("{}/conversations", server.base))
        .header("origin", ORIGIN)
        .header("authorization", "Bearer undefined")
        .send()
        .await
        .unwrap();
    assert_eq!(undefined.status(), 201, "an anonymous start, not a bad token");
    // Rate limits: see `limits.rs`.
    assert_eq!(start(Some("http://evil.example")).await.unwrap().status(), 403);
    server.task.abort();
}

#[tokio::test]
async fn refresh_gives_a_new_token_for_the_same_conversation() {
    let server = serve().await;
    let (conversation, token, _) = server.start().await;
    let refreshed: Value = server
        .http
        .post(format!("{}/tokens/refresh", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refreshed["conversationId"], conversation.as_str());
    let new_token = refreshed["token"].as_str().unwrap();
    assert_ne!(new_token, token);
    let (status, _) = server.poll(&conversation, new_token, "0").await;
    assert_eq!(status, 200);
    server.task.abort();
}

/// The widget history of a PostgreSQL store in `schema`.
async fn postgres_in(schema: &str) -> Arc<dyn WidgetStore> {
    crate::postgres::store_in(schema).await.widget_history()
}

/// The widget history of a PostgreSQL store in a schema of its own.
async fn postgres_store(test: &str) -> Arc<dyn WidgetStore> {
    postgres_in(&crate::postgres::fresh_schema(&format!("widget_{test}"))).await
}

#[tokio::test]
async fn a_restart_on_postgres_loses_nothing() {
    let store = postgres_store("restart").await;
    a_restart_loses_nothing(Arc::clone(&store), store).await;
}

#[tokio::test]
async fn a_resent_client_activity_id_is_stored_and_answered_once() {
    for store in [
        Arc::new(botrun::widget::MemoryWidgetStore::default()) as Arc<dyn WidgetStore>,
        SqliteStore::open("sqlite::memory:").await.unwrap().widget_history(),
        postgres_store("client_id").await,
    ] {
        let server = serve_with(store, site(false, 100)).await;
        let (conversation, token, _) = server.start().await;
        let body = r#"{"type":"message","text":"hi","channelData":{"clientActivityID":"c-7"}}"#;
        let first: Value = server.post(&conversation, &token, body).await.json().await.unwrap();
        server.history(&conversation, &token, 3).await;
        let again = server.post(&conversation, &token, body).await;
        assert_eq!(again.status(), 200);
        let again: Value = again.json().await.unwrap();
        assert_eq!(again["id"], first["id"], "the page gets the same echo id back");
        let other = r#"{"type":"message","text":"hi","channelData":{"clientActivityID":"c-8"}}"#;
        server.post(&conversation, &token, other).await;
        let history = server.history(&conversation, &token, 5).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let history_later = server.history(&conversation, &token, 5).await;
        assert_eq!(history.len(), history_later.len());
        assert_eq!(
            texts(&history_later),
            ["Hello!", "hi", "You said: hi", "hi", "You said: hi"],
            "one echo and one answer per client activity id"
        );
        server.task.abort();
    }
}

#[tokio::test]
async fn restart_with_the_same_token_is_200_and_expires_in_is_what_is_left() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let server = serve_on(Arc::clone(&clock)).await;
    let (conversation, token, started) = server.start().await;
    assert!(started["expires_in"].as_u64().unwrap() <= 3600);
    clock.advance(chrono::Duration::seconds(2));
    let again = server
        .http
        .post(format!("{}/conversations", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["conversationId"], conversation.as_str());
    assert_eq!(body["expires_in"], 3598, "{body}");
    let resumed = server.resume(&conversation, &token, "").await;
    assert_eq!(resumed["expires_in"], 3598, "{resumed}");
    server.task.abort();
}

/// The widget keeps time on the clock it is handed (the server hands it its own), never on the
/// wall clock beside it: a token counts down and expires on that clock.
#[tokio::test]
async fn tokens_count_down_and_expire_on_the_widgets_clock() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let server = serve_on(Arc::clone(&clock)).await;
    let (conversation, token, started) = server.start().await;
    assert_eq!(started["expires_in"], 3600);
    clock.advance(chrono::Duration::seconds(600));
    let resumed = server.resume(&conversation, &token, "").await;
    assert_eq!(resumed["expires_in"], 3000, "{resumed}");
    clock.advance(chrono::Duration::seconds(3001));
    let response = server.post(&conversation, &token, r#"{"type":"message","text":"x"}"#).await;
    let status = response.status().as_u16();
    assert_error(status, &response.json().await.unwrap(), 403, "TokenExpired");
    server.task.abort();
}

#[tokio::test]
async fn unknown_paths_are_not_found_and_extra_slashes_are_folded() {
    let server = serve().await;
    let (conversation, token, _) = server.start().await;
    let response = server.http.get(format!("{}/nothing/here", server.base)).send().await.unwrap();
    let status = response.status().as_u16();
    assert_error(status, &response.json().await.unwrap(), 404, "NotFound");
    // `domain` configured with a trailing slash.
    let response = server
        .http
        .get(format!("{}//conversations/{conversation}/activities?watermark=0", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(texts(body["activities"].as_array().unwrap())[0], "Hello!");
    server.task.abort();
}

#[tokio::test]
async fn any_client_activity_type_is_echoed_and_handed_on() {
    let server = serve().await;
    let (conversation, token, _) = server.start().await;
    for kind in ["endOfConversation", "messageReaction", "installationUpdate", "trace"] {
        let body = format!(r#"{{"type":"{kind}"}}"#);
        let response = server.post(&conversation, &token, &body).await;
        assert_eq!(response.status(), 200, "{kind}");
    }
    let history = server.history(&conversation, &token, 5).await;
    let kinds: Vec<&str> = history.iter().map(|a| a["type"].as_str().unwrap()).collect();
    assert_eq!(kinds[1..], ["endOfConversation", "messageReaction", "installationUpdate", "trace"]);
    server.task.abort();
}

/// A multipart body as `botframework-directlinejs` builds it: the activity, then the files.
fn multipart(activity: &str, files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----botrun-test-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"activity\"; filename=\"blob\"\r\n\
             Content-Type: application/vnd.microsoft.activity\r\n\r\n{activity}\r\n"
        )
        .as_bytes(),
    );
    for (name, content_type, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn uploads_store_the_file_post_the_message_and_serve_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let uploads = UploadSettings {
        dir: dir.path().join("uploads"),
        max_bytes: 1000,
        content_types: vec!["image/*".into(), "application/pdf".into()],
    };
    let server = serve_configured(
        Arc::new(botrun::widget::MemoryWidgetStore::default()),
        site(false, 100),
        Some(uploads),
        Arc::new(SystemClock),
    )
    .await;
    let (conversation, token, _) = server.start().await;
    let upload = |content_type: String, body: Vec<u8>| {
        server
            .http
            .post(format!("{}/conversations/{conversation}/upload?userId=x", server.base))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let pdf = b"%PDF-1.4 a receipt".as_slice();
    let activity = r#"{"type":"message","text":"my receipt","channelData":{"clientActivityID":"up-1"},
        "attachments":[{"contentType":"application/pdf","name":"../receipt.pdf"}]}"#;
    let (content_type, body) = multipart(activity, &[("../receipt.pdf", "application/pdf", pdf)]);
    let response = upload(content_type, body).await.unwrap();
    assert_eq!(response.status(), 200);
    let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let history = server.history(&conversation, &token, 3).await;
    let echo = history.iter().find(|a| a["id"] == id.as_str()).unwrap();
    assert_eq!(echo["text"], "my receipt");
    assert_eq!(echo["channelData"]["clientActivityID"], "up-1");
    let attachment = &echo["attachments"][0];
    assert_eq!(attachment["name"], "receipt.pdf", "the name cannot climb out of its folder");
    assert_eq!(attachment["contentType"], "application/pdf");
    let url = attachment["contentUrl"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1:") && url.contains("/v3/directline/files/"), "{url}");
    let served = server.http.get(url).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "application/pdf");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert_eq!(served.bytes().await.unwrap().as_ref(), pdf);

    // Too large, a refused type, no file: refused, and nothing more is stored.
    let (content_type, body) =
        multipart(r#"{"type":"message"}"#, &[("big.png", "image/png", &[0u8; 1001])]);
    let response = upload(content_type, body).await.unwrap();
    let status = response.status().as_u16();
    assert_error(status, &response.json().await.unwrap(), 413, "FileTooLarge");
    let (content_type, body) =
        multipart(r#"{"type":"message"}"#, &[("page.html", "text/html", b"<script>")]);
    let response = upload(content_type, body).await.unwrap();
    let status = response.status().as_u16();
    assert_error(status, &response.json().await.unwrap(), 415, "UnsupportedMediaType");
    let (content_type, body) = multipart(r#"{"type":"message","text":"nothing"}"#, &[]);
    let response = upload(content_type, body).await.unwrap();
    let status = response.status().as_u16();
    assert_error(status, &response.json().await.unwrap(), 400, "BadArgument");
    let (_, body) = server.poll(&conversation, &token, "").await;
    assert_eq!(body["activities"].as_array().unwrap().len(), history.len());
    server.task.abort();
}

#[tokio::test]
async fn uploads_are_refused_when_off() {
    let server = serve().await;
    let (conversation, token, _) = server.start().await;
    let (content_type, body) =
        multipart(r#"{"type":"message"}"#, &[("a.png", "image/png", b"png".as_slice())]);
    let response = server
        .http
        .post(format!("{}/conversations/{conversation}/upload", server.base))
        .bearer_auth(&token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_error(status, &response.json().await.unwrap(), 400, "UploadsOff");
    server.task.abort();
}
