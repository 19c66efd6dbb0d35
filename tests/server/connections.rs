//! Connection hygiene of a spawned `botrun serve`, with raw TCP connections: a client that never
//! finishes its headers and a keep-alive connection left idle are closed, and connections over
//! the per-address or global cap are answered 429 / 503 with `Retry-After` and closed.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

const TOKEN: &str = "c7a1f0e9d8b2c3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0";

struct Served {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `botrun serve` with tight connection limits on a free port.
async fn serve(limits: &str) -> Served {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("botrun.yaml");
    let bot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bots/faq.bot");
    let mut file = std::fs::File::create(&config).unwrap();
    write!(
        file,
        "listen: 127.0.0.1:{port}\nstore: sqlite://{}\nbots:\n  - file: {}\n\
         cx:\n  tenant_domain: chaos.cx.localhost\nlimits:\n{limits}",
        dir.path().join("botrun.db").display(),
        bot.display(),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_botrun"))
        .args(["serve", "--no-reload", "--config"])
        .arg(&config)
        .env("BOTRUN_WEBHOOK_TOKEN", TOKEN)
        // Never called here: nothing is delivered to CX.
        .env("BOTRUN_CX_CLIENT_ID", "chaos")
        .env("BOTRUN_CX_CLIENT_SECRET", "chaos")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let served = Served { child, port, _dir: dir };
    // Polled from an address of its own, so its pooled connection is not counted against the
    // addresses the tests use.
    let poller = reqwest::Client::builder()
        .local_address("127.0.0.9".parse::<IpAddr>().unwrap())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    for _ in 0..400 {
        if let Ok(r) = poller.get(format!("http://127.0.0.1:{port}/healthz")).send().await {
            if r.status().is_success() {
                return served;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("botrun serve did not start");
}

async fn connect_from(source: &str, port: u16) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    let source: IpAddr = source.parse().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    socket.connect(SocketAddr::from(([127, 0, 0, 1], port))).await.unwrap()
}

/// A connection the server has certainly admitted (it answered a request on it), kept open:
/// on a busy machine a bare connect may not have reached the accept loop yet. A refusal for the
/// global cap is tried again for a while: the start-up poller's connection counts until the
/// server has seen it close, which a loaded machine may take a moment to do.
async fn admitted_from(source: &str, port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut stream = connect_from(source, port).await;
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut seen = Vec::new();
        let mut buffer = [0u8; 1024];
        let mut closed = false;
        while !String::from_utf8_lossy(&seen).contains("\r\n\r\nok") {
            let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
                .await
                .expect("an admitted connection is answered")
                .unwrap_or(0);
            if n == 0 {
                closed = true;
                break;
            }
            seen.extend_from_slice(&buffer[..n]);
        }
        let refused_for_the_cap = closed && seen.is_empty() || seen.starts_with(b"HTTP/1.1 503");
        if refused_for_the_cap && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        assert!(!closed, "closed: {}", String::from_utf8_lossy(&seen));
        assert!(seen.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&seen));
        return stream;
    }
}

/// Reads until the server closes the connection (or `within` passes); returns what was read
/// and whether it closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut seen = Vec::new();
    let deadline = Instant::now() + within;
    let mut buffer = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return (String::from_utf8_lossy(&seen).into_owned(), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buffer[..n]),
            Err(_) => return (String::from_utf8_lossy(&seen).into_owned(), false),
        }
    }
}

#[tokio::test]
async fn unfinished_headers_and_idle_keep_alive_connections_are_closed() {
    let served = serve("  header_timeout_ms: 300\n").await;
    // Slowloris: the headers never end.
    let mut slow = connect_from("127.0.0.1", served.port).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(closed, "a connection that never finishes its headers is closed");

    // A keep-alive connection that answers one request, then sits idle.
    let mut idle = connect_from("127.0.0.1", served.port).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let started = Instant::now();
    let (answer, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed, "an idle keep-alive connection is closed");
    assert!(started.elapsed() >= Duration::from_millis(250), "kept for the idle time first");
}

#[tokio::test]
async fn connections_over_the_caps_are_refused_with_a_status() {
    let limits = "  header_timeout_ms: 20000\n  connections: 6\n  connections_per_address: 4\n";
    let served = serve(limits).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(admitted_from("127.0.0.1", served.port).await);
    }
    let mut fifth = connect_from("127.0.0.1", served.port).await;
    let (answer, closed) = read_until_closed(&mut fifth, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");
    assert!(closed);

    // Another address still gets in, until the global cap.
    for _ in 0..2 {
        held.push(admitted_from("127.0.0.2", served.port).await);
    }
    let mut over = connect_from("127.0.0.3", served.port).await;
    let (answer, closed) = read_until_closed(&mut over, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");
    assert!(closed);

    // Closing held connections makes room again.
    held.clear();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fresh = connect_from("127.0.0.1", served.port).await;
    fresh
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = read_until_closed(&mut fresh, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
