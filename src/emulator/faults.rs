//! Fault injection and call recording for the emulated API (`/oauth/token` and `/cx/…`).
//!
//! Rules match a path pattern and fire for the next N matching calls and/or a seeded share of
//! them. Connection resets need the socket: [`ResettableListener`] wraps every accepted TCP
//! stream with a kill switch that handlers reach through `ConnectInfo`; once thrown, the stream
//! sets `SO_LINGER` to zero and fails every read and write, so hyper drops the connection
//! without writing a byte and the kernel answers with a TCP RST.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use chrono::Utc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::error::ApiError;
use super::handle::{Emulator, RecordedCall};
use super::model::Refusal;

/// What an injected fault does to a call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Fault {
    /// 429 with `Retry-After` in seconds, or as an HTTP-date that many seconds ahead.
    TooManyRequests {
        retry_after_secs: u64,
        #[serde(default)]
        http_date: bool,
    },
    /// 429 as Chatwoot's `Rack::Attack` throttle answers it (`config/initializers/rack_attack.rb`
    /// sets no `throttled_response_retry_after_header`): `text/plain` "Retry later", and no
    /// `Retry-After` at all, so the client must pick its own pause.
    Throttled,
    /// A 5xx answer (500 unless told).
    ServerError {
        #[serde(default = "default_server_error")]
        status: u16,
    },
    /// Answers normally, this much later.
    Latency { millis: u64 },
    /// Never answers; the client's timeout must end the call.
    Stall,
    /// Closes the connection without an answer.
    Reset,
}

fn default_server_error() -> u16 {
    500
}

impl Fault {
    fn name(&self) -> &'static str {
        match self {
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Throttled => "throttled",
            Self::ServerError { .. } => "server_error",
            Self::Latency { .. } => "latency",
            Self::Stall => "stall",
            Self::Reset => "reset",
        }
    }
}

/// A fault rule as the control API takes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// `*` matches any run of characters and the whole path must match; a pattern without `*`
    /// matches any path containing it. Empty matches everything.
    #[serde(default)]
    pub path: String,
    pub fault: Fault,
    /// Fire for this many matching calls, then retire. `None`: no limit.
    #[serde(default)]
    pub times: Option<u32>,
    /// Fire on this share (0–1) of matching calls, drawn from a generator seeded with `seed`.
    #[serde(default)]
    pub share: Option<f64>,
    #[serde(default)]
    pub seed: u64,
}

struct ActiveFault {
    id: u64,
    spec: FaultSpec,
    remaining: Option<u32>,
    rng: StdRng,
}

#[derive(Default)]
pub(crate) struct FaultBook {
    next_id: u64,
    rules: Vec<ActiveFault>,
}

impl FaultBook {
    pub(crate) fn add(&mut self, spec: FaultSpec) -> Result<u64, Refusal> {
        if let Some(share) = spec.share {
            if !(0.0..=1.0).contains(&share) {
                return Err(Refusal::Invalid(format!("share {share} is not between 0 and 1")));
            }
        }
        if let Fault::ServerError { status } = spec.fault {
            if !(500..=599).contains(&status) {
                return Err(Refusal::Invalid(format!("server_error status {status} is not 5xx")));
            }
        }
        self.next_id += 1;
        self.rules.push(ActiveFault {
            id: self.next_id,
            remaining: spec.times,
            rng: StdRng::seed_from_u64(spec.seed),
            spec,
        });
        Ok(self.next_id)
    }

    pub fn list(&self) -> Vec<(u64, FaultSpec)> {
        self.rules
            .iter()
            .map(|rule| {
                let mut spec = rule.spec.clone();
                spec.times = rule.remaining;
                (rule.id, spec)
            })
            .collect()
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// The fault for a call on `path`, if a rule fires; spends one of that rule's `times`.
    pub fn pick(&mut self, path: &str) -> Option<Fault> {
        let position = self.rules.iter_mut().position(|rule| {
            glob_matches(&rule.spec.path, path)
                && rule.spec.share.is_none_or(|share| rule.rng.gen::<f64>() < share)
        })?;
        let rule = &mut self.rules[position];
        let fault = rule.spec.fault.clone();
        if let Some(remaining) = &mut rule.remaining {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                self.rules.remove(position);
            }
        }
        Some(fault)
    }
}

fn glob_matches(pattern: &str, path: &str) -> bool {
    if !pattern.contains('*') {
        return path.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first().unwrap_or((&"", &[]));
    let Some(mut remainder) = path.strip_prefix(first) else {
        return false;
    };
    let (last, middle) = rest.split_last().unwrap_or((&"", &[]));
    for part in middle {
        match remainder.find(part) {
            Some(index) => remainder = &remainder[index + part.len()..],
            None => return false,
        }
    }
    remainder.len() >= last.len() && remainder.ends_with(last)
}

/// Middleware on the emulated API: records the call, applies a fault if a rule fires.
pub(crate) async fn gate(
    State(emulator): State<Emulator>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let connection =
        request.extensions().get::<ConnectInfo<ConnectionHandle>>().map(|info| info.0.clone());
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 2 * 1024 * 1024).await else {
        return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
            .into_response();
    };
    let path = parts.uri.path().to_owned();
    let fault = emulator.pick_fault(&path);
    let call_id = emulator.record_call(RecordedCall {
        id: 0,
        method: parts.method.to_string(),
        path: path.clone(),
        query: parts.uri.query().map(str::to_owned),
        body: String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]).into_owned(),
        status: None,
        fault: fault.as_ref().map(|fault| fault.name().to_owned()),
        at: Utc::now(),
        duration_ms: None,
    });
    let response = match fault {
        Some(Fault::TooManyRequests { retry_after_secs, http_date }) => {
            too_many_requests(retry_after_secs, http_date)
        }
        Some(Fault::Throttled) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(axum::http::header::CONTENT_TYPE, "text/plain")],
            "Retry later\n",
        )
            .into_response(),
        Some(Fault::ServerError { status }) => ApiError::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "injected server error",
        )
        .into_response(),
        Some(Fault::Stall) => std::future::pending::<Response>().await,
        Some(Fault::Reset) => {
            if let Some(connection) = connection {
                connection.reset();
                emulator.finish_call(call_id, None, started.elapsed());
                return StatusCode::BAD_GATEWAY.into_response();
            }
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "connection reset (no socket in-process: answered 502 instead)",
            )
            .into_response()
        }
        Some(Fault::Latency { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            next.run(Request::from_parts(parts, Body::from(bytes))).await
        }
        None => next.run(Request::from_parts(parts, Body::from(bytes))).await,
    };
    emulator.finish_call(call_id, Some(response.status().as_u16()), started.elapsed());
    response
}

fn too_many_requests(seconds: u64, http_date: bool) -> Response {
    let retry_after = if http_date {
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(seconds))
    } else {
        seconds.to_string()
    };
    let mut response =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded").into_response();
    if let Ok(value) = HeaderValue::from_str(&retry_after) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

/// Per-connection handle given to handlers as `ConnectInfo`: the connection's kill switch.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionHandle {
    kill: Arc<AtomicBool>,
}

impl ConnectionHandle {
    /// Breaks the connection: nothing more is read or written on it.
    pub fn reset(&self) {
        self.kill.store(true, Ordering::SeqCst);
    }
}

impl axum::extract::connect_info::Connected<IncomingStream<'_, ResettableListener>>
    for ConnectionHandle
{
    fn connect_info(stream: IncomingStream<'_, ResettableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP listener whose connections can be reset from a handler.
pub(crate) struct ResettableListener {
    listener: TcpListener,
}

impl ResettableListener {
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        Ok(Self { listener: TcpListener::bind(addr).await? })
    }

    pub(crate) fn local_socket_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

impl Listener for ResettableListener {
    type Io = ResettableStream;
    type Addr = ConnectionHandle;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let kill = Arc::new(AtomicBool::new(false));
                    let handle = ConnectionHandle { kill: Arc::clone(&kill) };
                    return (ResettableStream { stream, kill }, handle);
                }
                // Too many open files and the like pass; back off briefly instead of spinning.
                Err(error) => {
                    tracing::warn!(%error, "emulator accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()?;
        Ok(ConnectionHandle { kill: Arc::new(AtomicBool::new(false)) })
    }
}

/// A TCP stream that fails every operation once its connection is reset.
pub(crate) struct ResettableStream {
    stream: TcpStream,
    kill: Arc<AtomicBool>,
}

impl ResettableStream {
    fn killed(&self) -> Option<io::Error> {
        if self.kill.load(Ordering::SeqCst) {
            // Zero linger turns the close into an RST, as a crashed peer would look.
            let _ = self.stream.set_zero_linger();
            Some(io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by fault"))
        } else {
            None
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(error) = self.killed() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.stream).poll_read(context, buffer)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(error) = self.killed() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.stream).poll_write(context, buffer)
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(error) = self.killed() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.stream).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(error) = self.killed() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.stream).poll_shutdown(context)
    }
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn glob_patterns() {
        assert!(glob_matches("/messages", "/cx/api/v1/digital-interactions/messages/"));
        assert!(glob_matches("*/messages*", "/cx/api/v1/digital-interactions/messages/"));
        assert!(!glob_matches("*/messages", "/cx/api/v1/digital-interactions/messages/"));
        assert!(glob_matches("", "/anything"));
        assert!(glob_matches("/cx/*/inboxes/", "/cx/api/v1/digital-interactions/inboxes/"));
        assert!(!glob_matches("/oauth*", "/cx/api"));
    }
}
