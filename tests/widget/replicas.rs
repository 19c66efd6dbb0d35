//! Two replicas on one PostgreSQL database: a page's WebSocket on one replica shows what the
//! other stores (`NOTIFY botrun_widget`), also after the listening connection was cut.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use botrun::store::{PostgresStore, Store as _};
use botrun::widget::WidgetStore;

use super::{next_frame, postgres_in, serve_with, site, texts};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The texts of the next `count` messages on `socket`, or what came within 10 s.
async fn messages(socket: &mut Socket, count: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while seen.len() < count {
            let frame = next_frame(socket).await;
            for activity in frame["activities"].as_array().unwrap() {
                if activity["type"] == "message" {
                    seen.push(activity["text"].as_str().unwrap().to_owned());
                }
            }
        }
    })
    .await;
    seen
}

#[tokio::test]
async fn a_stream_on_one_replica_shows_what_another_replica_stores() {
    let schema = crate::postgres::fresh_schema("widget_replicas");
    let one = serve_with(postgres_in(&schema).await, site(false, 100)).await;
    let two = serve_with(postgres_in(&schema).await, site(false, 100)).await;
    one.widget.follow_other_replicas().await.unwrap();
    two.widget.follow_other_replicas().await.unwrap();
    let (conversation, token, started) = one.start().await;
    let (mut socket, _) =
        tokio_tungstenite::connect_async(started["streamUrl"].as_str().unwrap()).await.unwrap();
    let greeting = next_frame(&mut socket).await;
    assert_eq!(texts(greeting["activities"].as_array().unwrap()), ["Hello!"]);

    // The load balancer sends the page's next post to the other replica.
    let response = two.post(&conversation, &token, r#"{"type":"message","text":"via two"}"#).await;
    assert_eq!(response.status(), 200);
    let seen = messages(&mut socket, 2).await;
    assert_eq!(seen, ["via two", "You said: via two"], "live, in order, once each");
    one.task.abort();
    two.task.abort();
}

/// A TCP proxy in front of PostgreSQL that the test can cut — every connection through it
/// closed and new ones refused until it is healed — as a replica sees a database restart or a
/// network cut.
struct Proxy {
    address: SocketAddr,
    cut: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn to(target: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (refusing, held) = (Arc::clone(&cut), Arc::clone(&connections));
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if refusing.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees its connection closed
                }
                let target = target.clone();
                held.lock().unwrap().push(tokio::spawn(async move {
                    let mut outbound = tokio::net::TcpStream::connect(target).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }));
            }
        });
        Proxy { address, cut, connections }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// The tests' PostgreSQL as `host:port`.
fn postgres_address() -> String {
    let url = url::Url::parse(&crate::postgres::url()).unwrap();
    format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432))
}

/// The tests' PostgreSQL URL, through `proxy`.
fn url_through(proxy: &Proxy) -> String {
    let mut url = url::Url::parse(&crate::postgres::url()).unwrap();
    url.set_host(Some(&proxy.address.ip().to_string())).unwrap();
    url.set_port(Some(proxy.address.port())).unwrap();
    url.to_string()
}

#[tokio::test]
async fn a_stream_shows_what_another_replica_stored_while_its_listener_was_cut() {
    let schema = crate::postgres::fresh_schema("widget_relisten");
    let proxy = Proxy::to(postgres_address()).await;
    let proxied: Arc<dyn WidgetStore> =
        PostgresStore::open_in_schema(&url_through(&proxy), Some(&schema))
            .await
            .unwrap()
            .widget_history();
    let one = serve_with(proxied, site(false, 100)).await;
    let two = serve_with(postgres_in(&schema).await, site(false, 100)).await;
    one.widget.follow_other_replicas().await.unwrap();
    let (conversation, token, started) = one.start().await;
    let (mut socket, _) =
        tokio_tungstenite::connect_async(started["streamUrl"].as_str().unwrap()).await.unwrap();
    assert_eq!(messages(&mut socket, 1).await, ["Hello!"]);

    // Replica one loses the database (its listener too) while replica two stores a message and
    // its answer: the NOTIFY reaches nobody on one.
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response =
        two.post(&conversation, &token, r#"{"type":"message","text":"in the cut"}"#).await;
    assert_eq!(response.status(), 200);
    proxy.heal();
    assert_eq!(
        messages(&mut socket, 2).await,
        ["in the cut", "You said: in the cut"],
        "once replica one listens again, its stream must catch up with what it was not told"
    );
    one.task.abort();
    two.task.abort();
}
