//! The WebSocket stream: replays everything after the watermark, then forwards new activities
//! as `{"activities":[…],"watermark":"N"}` text frames, filling any gap from the store, and sends
//! an empty frame as keep-alive. The token travels in `t` because browsers cannot set headers on
//! an upgrade; it is never logged.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
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

/// Sends every stored activity after `*last`, advancing it. `false` when the socket is gone.
async fn replay(
    widget: &WidgetService,
    conversation: &str,
    last: &mut u64,
    socket: &mut WebSocket,
) -> bool {
    loop {
        let batch = match widget.store().activities_after(conversation, *last, BATCH).await {
            Ok(batch) => batch,
            Err(err) => {
                tracing::error!(detail = %err, "widget stream: replay failed");
                return true;
            }
        };
        let Some(newest) = batch.last().map(|s| s.seq) else {
            return true;
        };
        let full = batch.len() >= BATCH as usize;
        let activities: Vec<Value> = batch.into_iter().map(|s| s.activity).collect();
        if socket.send(frame(&activities, Some(newest))).await.is_err() {
            return false;
        }
        *last = newest;
        if !full {
            return true;
        }
    }
}

async fn run_stream(
    widget: WidgetService,
    conversation: String,
    watermark: u64,
    mut socket: WebSocket,
) {
    // Subscribe before replaying so nothing stored in between is missed.
    let mut pushes = widget.subscribe(&conversation);
    let mut last = watermark;
    if !replay(&widget, &conversation, &mut last, &mut socket).await {
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
                    Ok(Pushed::Stored { .. } | Pushed::StoredElsewhere) => {
                        replay(&widget, &conversation, &mut last, &mut socket).await
                    }
                    Err(RecvError::Lagged(_)) => replay(&widget, &conversation, &mut last, &mut socket).await,
                    Err(RecvError::Closed) => false,
                };
                if !alive {
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
