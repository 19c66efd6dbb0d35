//! The widget's limits over real sockets, through the service's own accept loop (which tells
//! the routes the client's address): anonymous starts per address apart from the site
//! backend's budget, `Retry-After` on every 429, stream caps, and token retirement on refresh.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use botrun::server::listen::{serve as listen, ConnectionLimits};
use botrun::widget::{router, MemoryWidgetStore, WidgetConfig, WidgetLimits, WidgetService};
use serde_json::Value;

use super::{site, EchoBot, KEY, ORIGIN, SECRET};

struct Limited {
    base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Limited {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_limited(site_per_minute: u32, limits: WidgetLimits) -> Limited {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config = WidgetConfig {
        public_base_url: format!("http://{address}"),
        token_key: KEY.to_vec(),
        token_lifetime: Duration::from_secs(3600),
        keep_alive: Duration::from_secs(20),
        sites: vec![site(true, site_per_minute)],
        uploads: None,
    };
    let widget = WidgetService::new(
        config,
        Arc::new(MemoryWidgetStore::default()),
        Arc::new(EchoBot::default()),
    )
    .with_limits(limits);
    let app = axum::Router::new().nest("/v3/directline", router(widget));
    let connection_limits = ConnectionLimits {
        header_timeout: Duration::from_secs(10),
        max_connections: 1000,
        per_address: 1000,
    };
    let task = tokio::spawn(listen(listener, app, connection_limits, std::future::pending()));
    Limited { base: format!("http://{address}/v3/directline"), task }
}

fn client_from(source: &str) -> reqwest::Client {
    let source: IpAddr = source.parse().unwrap();
    reqwest::Client::builder().local_address(source).build().unwrap()
}

async fn anonymous_start(client: &reqwest::Client, base: &str) -> reqwest::Response {
    client
        .post(format!("{base}/conversations"))
        .header("origin", ORIGIN)
        .body("{}")
        .send()
        .await
        .unwrap()
}

async fn backend_mint(client: &reqwest::Client, base: &str) -> reqwest::Response {
    client.post(format!("{base}/tokens/generate")).bearer_auth(SECRET).send().await.unwrap()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    let header = response.headers().get("retry-after").expect("a 429 says when to retry");
    header.to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn anonymous_starts_are_limited_per_address_and_never_use_up_the_backend_budget() {
    let limits = WidgetLimits { anonymous_starts_per_minute: 3, ..WidgetLimits::default() };
    let server = serve_limited(5, limits).await;
    let script = client_from("127.0.0.1");
    for _ in 0..3 {
        assert_eq!(anonymous_start(&script, &server.base).await.status(), 201);
    }
    let refused = anonymous_start(&script, &server.base).await;
    assert_eq!(refused.status(), 429);
    let wait = retry_after(&refused);
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "TooManyRequests");
    // Another visitor still starts.
    let visitor = client_from("127.0.0.2");
    assert_eq!(anonymous_start(&visitor, &server.base).await.status(), 201);
    // The site's backend keeps its whole budget, and is refused with a Retry-After past it.
    let backend = client_from("127.0.0.3");
    for _ in 0..5 {
        assert_eq!(backend_mint(&backend, &server.base).await.status(), 200);
    }
    let refused = backend_mint(&backend, &server.base).await;
    assert_eq!(refused.status(), 429);
    assert!((1..=60).contains(&retry_after(&refused)));
}

async fn started(base: &str) -> (String, String) {
    let client = reqwest::Client::new();
    let minted: Value = backend_mint(&client, base).await.json().await.unwrap();
    let token = minted["token"].as_str().unwrap().to_owned();
    let response =
        client.post(format!("{base}/conversations")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 201);
    (minted["conversationId"].as_str().unwrap().to_owned(), token)
}

fn stream_url(base: &str, conversation: &str, token: &str) -> String {
    format!("{}/conversations/{conversation}/stream?t={token}", base.replacen("http", "ws", 1))
}

async fn open_stream(base: &str, conversation: &str, token: &str) -> Result<impl Sized, u16> {
    match tokio_tungstenite::connect_async(stream_url(base, conversation, token)).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            if matches!(status, 429 | 503) {
                assert!(response.headers().contains_key("retry-after"), "{status}");
            }
            Err(status)
        }
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test]
async fn streams_are_capped_per_conversation_and_in_total() {
    let limits =
        WidgetLimits { streams_per_conversation: 2, streams_total: 3, ..WidgetLimits::default() };
    let server = serve_limited(100, limits).await;
    let (a, a_token) = started(&server.base).await;
    let (b, b_token) = started(&server.base).await;
    let (c, c_token) = started(&server.base).await;
    let first = open_stream(&server.base, &a, &a_token).await.unwrap();
    let _second = open_stream(&server.base, &a, &a_token).await.unwrap();
    assert_eq!(open_stream(&server.base, &a, &a_token).await.err(), Some(429));
    let _b1 = open_stream(&server.base, &b, &b_token).await.unwrap();
    assert_eq!(open_stream(&server.base, &c, &c_token).await.err(), Some(503));
    // A closed stream frees its place.
    drop(first);
    let mut reopened = Err(0);
    for _ in 0..100 {
        reopened = open_stream(&server.base, &c, &c_token).await.map(drop);
        if reopened.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(reopened, Ok(()));
}

#[tokio::test]
async fn a_refreshed_token_retires_the_old_one_after_the_overlap() {
    let limits =
        WidgetLimits { refresh_overlap: Duration::from_secs(1), ..WidgetLimits::default() };
    let server = serve_limited(100, limits).await;
    let (conversation, old) = started(&server.base).await;
    let client = reqwest::Client::new();
    let refreshed: Value = client
        .post(format!("{}/tokens/refresh", server.base))
        .bearer_auth(&old)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new = refreshed["token"].as_str().unwrap().to_owned();
    let poll = |token: String| {
        let url = format!("{}/conversations/{conversation}/activities", server.base);
        let client = client.clone();
        async move { client.get(url).bearer_auth(token).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(poll(old.clone()).await, 200, "the old token works during the overlap");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(poll(old.clone()).await, 403, "the old token is retired after the overlap");
    assert_eq!(poll(new.clone()).await, 200);
    let stream = open_stream(&server.base, &conversation, &old).await.err();
    assert_eq!(stream, Some(403));
}

/// A body over the limit is refused in the widget's documented JSON shape, not plain text.
#[tokio::test]
async fn an_oversized_body_is_a_json_413() {
    let server = serve_limited(100, WidgetLimits::default()).await;
    let (conversation, token) = started(&server.base).await;
    let big = format!(r#"{{"type":"message","text":"{}"}}"#, "x".repeat(100 * 1024));
    let response = reqwest::Client::new()
        .post(format!("{}/conversations/{conversation}/activities", server.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "PayloadTooLarge", "{body}");
}

/// `POST /demo/token` mints only for the demo page's own origin (a browser always sends
/// `Origin` on a POST), and counts per address like an anonymous start.
#[tokio::test]
async fn the_demo_token_route_answers_only_the_pages_own_origin() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let own = format!("http://{address}");
    let config = WidgetConfig {
        public_base_url: own.clone(),
        token_key: KEY.to_vec(),
        token_lifetime: Duration::from_secs(3600),
        keep_alive: Duration::from_secs(20),
        sites: vec![site(false, 100)],
        uploads: None,
    };
    let limits = WidgetLimits { anonymous_starts_per_minute: 2, ..WidgetLimits::default() };
    let widget = WidgetService::new(
        config,
        Arc::new(MemoryWidgetStore::default()),
        Arc::new(EchoBot::default()),
    )
    .with_limits(limits);
    let page = botrun::widget::demo::DemoPage {
        site: "shop".into(),
        webchat_js: "missing.js".into(),
        title: "Demo".into(),
        origins: vec![own.clone()],
    };
    let app = botrun::widget::demo::demo_router(widget, page);
    let connection_limits = ConnectionLimits {
        header_timeout: Duration::from_secs(10),
        max_connections: 100,
        per_address: 100,
    };
    let _task =
        AbortOnDrop(tokio::spawn(listen(listener, app, connection_limits, std::future::pending())));
    let client = reqwest::Client::new();
    let ask = |origin: Option<&str>| {
        let mut request = client.post(format!("{own}/demo/token")).body("{}");
        if let Some(origin) = origin {
            request = request.header("origin", origin.to_owned());
        }
        request.send()
    };
    assert_eq!(ask(None).await.unwrap().status(), 403);
    assert_eq!(ask(Some(ORIGIN)).await.unwrap().status(), 403, "another site's origin");
    assert_eq!(ask(Some("http://evil.example")).await.unwrap().status(), 403);
    for _ in 0..2 {
        let minted = ask(Some(&own)).await.unwrap();
        assert_eq!(minted.status(), 200);
        let body: Value = minted.json().await.unwrap();
        assert!(body["token"].as_str().unwrap().starts_with("bt1."));
    }
    let limited = ask(Some(&own)).await.unwrap();
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
