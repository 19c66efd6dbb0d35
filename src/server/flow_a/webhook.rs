//! `POST /webhooks/cx-widget/{token}`: CX's events for the conversations Flow A mirrors. Only
//! two things matter here: a human agent's public reply (relayed to the page) and a status
//! change (an agent finishing, or handing back). Everything else — including CX's echoes of
//! botrun's own messages and private notes — is answered 2xx and ignored. Like the Flow B
//! intake, the event is authenticated, persisted and answered before any work happens.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::payload::WidgetInbound;
use super::session;
use crate::cx::{decode_event, CxEvent};
use crate::server::intake::{authenticate, IntakeError};
use crate::server::AppState;
use crate::store::Recorded;

fn answer(status: &str) -> Response {
    (StatusCode::OK, Json(json!({ "status": status }))).into_response()
}

/// The handler; mounted by the server when the widget is configured.
pub async fn cx_widget_webhook(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, IntakeError> {
    authenticate(&state, &token, &headers, &body)?;
    let event = decode_event(&body).map_err(|error| {
        state.metrics.count_rejected();
        IntakeError::BadRequest(error.to_string())
    })?;
    state.metrics.count_event_in();
    let Some(flow) = state.flow_a.get() else {
        return Ok(answer("ignored"));
    };
    let delivery = headers.get("x-chatwoot-delivery").and_then(|v| v.to_str().ok());
    let Some((cx_conversation, dedup, work)) = relevant(&event, delivery) else {
        state.metrics.count_ignored();
        return Ok(answer("ignored"));
    };
    let unavailable = |error: crate::store::StoreError| {
        tracing::error!(%error, "store unavailable at the widget webhook");
        IntakeError::Unavailable
    };
    let reverse = state
        .store
        .load_conversation(&session::reverse_key(cx_conversation))
        .await
        .map_err(unavailable)?;
    let Some(widget_conversation) =
        reverse.and_then(|snapshot| String::from_utf8(snapshot.state).ok())
    else {
        state.metrics.count_ignored();
        return Ok(answer("ignored"));
    };
    match flow.enqueue(&dedup, &widget_conversation, &work).await.map_err(unavailable)? {
        Recorded::Accepted(_) => Ok(answer("accepted")),
        Recorded::Duplicate => Ok(answer("duplicate")),
    }
}

/// `(CX conversation, dedup key, work)` for the events Flow A acts on.
fn relevant(event: &CxEvent, delivery: Option<&str>) -> Option<(u64, String, WidgetInbound)> {
    match event {
        CxEvent::MessageCreated(message) if message.is_from_human_agent() => {
            let text = message.content.clone().filter(|t| !t.trim().is_empty())?;
            let name = message
                .sender
                .as_ref()
                .and_then(|s| s.name.clone())
                .unwrap_or_else(|| "Agent".to_owned());
            let conversation = message.conversation_id.0;
            Some((
                conversation,
                format!("cx-widget-msg:{}", message.id.0),
                WidgetInbound::Agent { cx_conversation: conversation, name, text },
            ))
        }
        CxEvent::ConversationStatusChanged(change)
        | CxEvent::ConversationUpdated(change)
        | CxEvent::ConversationResolved(change) => {
            let conversation = change.conversation.id.0;
            // `conversation_status_changed` carries only the new `status`; `conversation_updated`
            // says what it was before too.
            let (previous, current) = match change.status_change() {
                Some((previous, current)) => (previous.map(|p| p.as_str().to_owned()), current),
                None => match (&change.conversation.status, event) {
                    (_, CxEvent::ConversationUpdated(_)) => return None,
                    (Some(status), _) => (None, status.clone()),
                    (None, CxEvent::ConversationResolved(_)) => {
                        (None, crate::cx::ConversationStatus::Resolved)
                    }
                    (None, _) => return None,
                },
            };
            let current = current.as_str().to_owned();
            let stamp = delivery.map_or_else(
                || format!("{}>{current}", previous.as_deref().unwrap_or("?")),
                str::to_owned,
            );
            Some((
                conversation,
                format!("cx-widget-status:{conversation}:{stamp}"),
                WidgetInbound::CxStatus { cx_conversation: conversation, previous, current },
            ))
        }
        _ => None,
    }
}
