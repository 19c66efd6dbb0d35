//! Accepting connections with limits, in place of `axum::serve` (which sets no timer, so a
//! client that never finishes its headers, or a keep-alive connection left idle, is held for
//! ever). Here:
//!
//! - a connection gets [`ConnectionLimits::header_timeout`] to send a request's headers, and
//!   the same time again between requests on a keep-alive connection (hyper starts the same
//!   timer whenever it waits for a request head), then it is closed;
//! - at most [`ConnectionLimits::max_connections`] connections are open at once, and at most
//!   [`ConnectionLimits::per_address`] from one client address; a connection over a cap is
//!   answered `503` (all full) or `429` (this address), both with `Retry-After`, and closed.
//!
//! Every request carries the client's address as [`ConnectInfo`], for per-address limits
//! further in. An upgraded connection (a widget WebSocket) leaves these counts: the widget caps
//! its streams itself.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The limits on open connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Time to send a request's headers, and most idle time between two requests.
    pub header_timeout: Duration,
    /// Connections open at once, from everyone.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub per_address: usize,
}

/// Open connections, in total and by client address.
#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Why a connection was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    Full,
    ThisAddress,
}

/// One admitted connection; dropping it frees its place.
struct Admitted {
    open: Arc<Mutex<Open>>,
    address: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_address.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.by_address.remove(&self.address);
            }
        }
    }
}

fn admit(
    open: &Arc<Mutex<Open>>,
    address: IpAddr,
    limits: ConnectionLimits,
) -> Result<Admitted, Refusal> {
    let mut guard = open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if guard.total >= limits.max_connections {
        return Err(Refusal::Full);
    }
    let from_here = guard.by_address.entry(address).or_insert(0);
    if *from_here >= limits.per_address {
        return Err(Refusal::ThisAddress);
    }
    *from_here += 1;
    guard.total += 1;
    Ok(Admitted { open: Arc::clone(open), address })
}

/// Answers a refused connection with a complete response and closes it, never waiting long on
/// a client that does not read.
async fn refuse(mut stream: TcpStream, refusal: Refusal) {
    let (status, message) = match refusal {
        Refusal::Full => ("503 Service Unavailable", "too many open connections; retry shortly"),
        Refusal::ThisAddress => {
            ("429 Too Many Requests", "too many open connections from this address")
        }
    };
    let body = serde_json::json!({ "error": message }).to_string();
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and waits for
/// the open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let (stop_tx, stop_rx) = watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(stop_rx);
    });
    let (done_tx, done_rx) = watch::channel(());
    let open = Arc::new(Mutex::new(Open::default()));
    loop {
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file handles, most likely: let some connections close first.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop_tx.closed() => break,
        };
        match admit(&open, client.ip(), limits) {
            Ok(admitted) => {
                let (stop, done) = (stop_tx.clone(), done_rx.clone());
                let router = router.clone();
                tokio::spawn(async move {
                    serve_connection(stream, client, router, limits, stop).await;
                    drop((admitted, done));
                });
            }
            Err(refusal) => {
                tracing::debug!(%client, ?refusal, "connection refused");
                tokio::spawn(refuse(stream, refusal));
            }
        }
    }
    drop(done_rx);
    drop(listener);
    done_tx.closed().await;
}

/// Serves one connection until it ends; when `stop` closes, finishes the current request and
/// closes it.
async fn serve_connection(
    stream: TcpStream,
    client: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    stop: watch::Sender<()>,
) {
    let service = tower::ServiceExt::map_request(router, move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(client));
        request
    });
    // HTTP/1.1 only: browsers and CX speak it to us (TLS ends at a proxy), and HTTP/2 would
    // bring its own idle rules to police.
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let mut stopping = std::pin::pin!(stop.closed());
    let mut told = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::trace!(%client, %error, "connection ended");
                }
                return;
            }
            () = &mut stopping, if !told => {
                told = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}
