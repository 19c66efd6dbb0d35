//! The WebSocket stream: replays everything after the watermark, then forwards new activities
//! as `{"activities":[…],"watermark":"N"}` text frames, filling any gap from the store, and sends
//! an empty frame as keep-alive. The token travels in `t` because browsers cannot set headers on
//! an upgrade; it is never logged.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::error::WidgetError;
use super::routes::WatermarkQuery;
use super::service::{Pushed, WidgetService, BATCH};

/// Bytes read from a page's socket at a time.
const READ_BUFFER: usize = 4 * 1024;

/// `GET /conversations/{id}/stream?t=TOKEN&watermark=W` (WebSocket upgrade).
pub async fn stream(
    State(widget): State<WidgetService>,
    Path(id): Path<String>,
    Query(query): Query<WatermarkQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, WidgetError> {
    let token = query.t.as_deref().filter(|t| !t.is_empty()).ok_or(WidgetError::MissingToken)?;
    let claims = widget.verify(token)?;
    if let Some(origin) = headers.get(axum::http::header::ORIGIN) {
        let allowed = widget.config().site(&claims.site).is_some_and(|site| {
            site.origins.iter().any(|o| origin.to_str().is_ok_and(|given| given == o))
        });
        if !allowed {
            return Err(WidgetError::OriginNotAllowed);
        }
    }
    widget.live_conversation(&claims, &id).await?;
    let place = widget.open_stream(&id)?;
    let watermark = query.watermark();
    // The page only sends pings and closes: a small read buffer keeps an open conversation at
    // about 20 KiB instead of the default 128 KiB buffer's worth (see docs/performance.md).
    Ok(upgrade.read_buffer_size(READ_BUFFER).on_upgrade(move |socket| async move {
        run_stream(widget, id, watermark, socket).await;
        drop(place);
    }))
}

fn frame(activities: &[Value], watermark: Option<u64>) -> Message {
    let body = match watermark {
        Some(w) => json!({ "activities": activities, "watermark": w.to_string() }),
        None => json!({ "activities": activities }),
    };
    Message::Text(body.to_string().into())
}

/// How a replay went.
enum Replayed {
    /// Every stored activity after the watermark was sent.
    CaughtUp,
    /// The store failed: try again later, or the page misses what it could not read until the
    /// conversation's next activity.
    StoreFailed,
    /// The page's socket is gone.
    SocketGone,
}

/// Sends every stored activity after `*last`, advancing it.
async fn replay(
    widget: &WidgetService,
    conversation: &str,
    last: &mut u64,
    socket: &mut WebSocket,
) -> Replayed {
    loop {
        let batch = match widget.store().activities_after(conversation, *last, BATCH).await {
            Ok(batch) => batch,
            Err(err) => {
                tracing::error!(detail = %err, "widget stream: replay failed");
                return Replayed::StoreFailed;
            }
        };
        let Some(newest) = batch.last().map(|s| s.seq) else {
            return Replayed::CaughtUp;
        };
        let full = batch.len() >= BATCH as usize;
        let activities: Vec<Value> = batch.into_iter().map(|s| s.activity).collect();
        if socket.send(frame(&activities, Some(newest))).await.is_err() {
            return Replayed::SocketGone;
        }
        *last = newest;
        if !full {
            return Replayed::CaughtUp;
        }
    }
}

/// When a failed replay is tried again: after 100 ms, doubling up to 5 s.
#[derive(Default)]
struct ReplayRetry {
    due: Option<tokio::time::Instant>,
    failures: u32,
}

impl ReplayRetry {
    /// Notes how a replay went; `false` when the socket is gone.
    fn after(&mut self, replayed: &Replayed) -> bool {
        match replayed {
            Replayed::CaughtUp => *self = ReplayRetry::default(),
            Replayed::StoreFailed => {
                let wait = Duration::from_millis(100 << self.failures.min(6)).min(MAX_RETRY_WAIT);
                self.failures += 1;
                self.due = Some(tokio::time::Instant::now() + wait);
            }
            Replayed::SocketGone => return false,
        }
        true
    }

    async fn wait(&self) {
        match self.due {
            Some(due) => tokio::time::sleep_until(due).await,
            None => std::future::pending().await,
        }
    }
}

/// The longest wait between two replay attempts on a failing store.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(5);

async fn run_stream(
    widget: WidgetService,
    conversation: String,
    watermark: u64,
    mut socket: WebSocket,
) {
    // Subscribe before replaying so nothing stored in between is missed.
    let mut pushes = widget.subscribe(&conversation);
    let mut last = watermark;
    let mut retry = ReplayRetry::default();
    let replayed = replay(&widget, &conversation, &mut last, &mut socket).await;
    if !retry.after(&replayed) {
        return;
    }
    let mut keep_alive = tokio::time::interval(widget.config().keep_alive);
    keep_alive.reset();
    loop {
        tokio::select! {
            pushed = pushes.recv() => {
                let alive = match pushed.as_deref() {
                    Ok(Pushed::Typing { activity }) => {
                        socket.send(frame(std::slice::from_ref(activity), None)).await.is_ok()
                    }
                    Ok(Pushed::Stored { seq, .. }) if *seq <= last => true,
                    Ok(Pushed::Stored { seq, activity }) if *seq == last + 1 => {
                        last = *seq;
                        socket.send(frame(std::slice::from_ref(activity), Some(*seq))).await.is_ok()
                    }
                    // A gap (two pushes raced), another replica's activity, or a lagging
                    // receiver: the store has the truth.
                    Ok(Pushed::Stored { .. } | Pushed::StoredElsewhere)
                    | Err(RecvError::Lagged(_)) => {
                        let replayed = replay(&widget, &conversation, &mut last, &mut socket).await;
                        retry.after(&replayed)
                    }
                    Err(RecvError::Closed) => false,
                };
                if !alive {
                    return;
                }
            }
            () = retry.wait() => {
                let replayed = replay(&widget, &conversation, &mut last, &mut socket).await;
                if !retry.after(&replayed) {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                // The client's empty keep-alive frames and pings need no answer beyond what
                // axum does for pings.
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = keep_alive.tick() => {
                if socket.send(Message::Text(String::new().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}
