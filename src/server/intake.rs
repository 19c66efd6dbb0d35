//! `POST /webhooks/cx/{token}`: authenticate, decode, filter, dedupe, persist, answer 2xx —
//! and nothing else. The engine runs later, in the conversation's worker.
//!
//! Decoding is tolerant (ids as numbers or strings, unknown fields ignored) because most of
//! the CX event shapes are inferred from Chatwoot, not published (`sangoma-cx.md`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::payload::{CxRef, InboundPayload};
use super::{worker, AppState};
use crate::engine::Contact;
use crate::store::Recorded;

/// How far a signed delivery's timestamp may be from now.
const SIGNATURE_WINDOW_SECS: i64 = 300;

/// Why a delivery was refused; the body never leaks internals.
#[derive(Debug)]
pub enum IntakeError {
    Unauthorized(&'static str),
    BadRequest(String),
    TooBusy,
    Unavailable,
}

impl IntoResponse for IntakeError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            IntakeError::Unauthorized(why) => (StatusCode::UNAUTHORIZED, why.to_owned()),
            IntakeError::BadRequest(why) => (StatusCode::BAD_REQUEST, why),
            IntakeError::TooBusy => (
                StatusCode::TOO_MANY_REQUESTS,
                "too many queued events for this conversation".to_owned(),
            ),
            IntakeError::Unavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable, retry later".to_owned())
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

/// Compares without an early exit, so response time says nothing about the secret.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks `X-Chatwoot-Signature: sha256=<hex HMAC(secret, "<timestamp>.<body>")>`.
pub fn verify_signature(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now_unix: i64,
) -> Result<(), &'static str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signature = header("x-chatwoot-signature").ok_or("missing signature")?;
    let timestamp = header("x-chatwoot-timestamp").ok_or("missing signature timestamp")?;
    let at: i64 = timestamp.trim().parse().map_err(|_| "bad signature timestamp")?;
    if (now_unix - at).abs() > SIGNATURE_WINDOW_SECS {
        return Err("signature timestamp outside the accepted window");
    }
    let hex_sig = signature.trim().strip_prefix("sha256=").ok_or("bad signature format")?;
    let given = hex::decode(hex_sig).map_err(|_| "bad signature format")?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| "bad signing secret")?;
    mac.update(timestamp.trim().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given).map_err(|_| "signature mismatch")
}

/// Checks the path token and, when a signing secret is configured, the signature.
pub(crate) fn authenticate(
    state: &AppState,
    token: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), IntakeError> {
    if !constant_time_eq(token.as_bytes(), state.webhook_token.as_bytes()) {
        state.metrics.count_rejected();
        return Err(IntakeError::Unauthorized("unknown webhook token"));
    }
    if let Some(secret) = &state.signing_secret {
        verify_signature(secret, headers, body, state.clock.now().timestamp()).map_err(|why| {
            state.metrics.count_rejected();
            IntakeError::Unauthorized(why)
        })?;
    }
    Ok(())
}

/// The webhook handler.
pub async fn cx_webhook(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, IntakeError> {
    authenticate(&state, &token, &headers, &body)?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        state.metrics.count_rejected();
        IntakeError::BadRequest(format!("body is not valid JSON: {e}"))
    })?;
    if !value.is_object() {
        state.metrics.count_rejected();
        return Err(IntakeError::BadRequest("body must be a JSON object".into()));
    }
    state.metrics.count_event_in();
    let Some((dedup_key, payload)) = decode(&value, &headers)? else {
        state.metrics.count_ignored();
        return Ok((StatusCode::OK, Json(json!({ "status": "ignored" }))).into_response());
    };
    let key = payload.cx().key();
    let queued = state.store.queued_inbound(&key).await.map_err(|error| {
        tracing::error!(%error, "store unavailable at intake");
        IntakeError::Unavailable
    })?;
    if queued >= state.config.limits.queue_per_conversation {
        return Err(IntakeError::TooBusy);
    }
    let text = serde_json::to_string(&payload)
        .map_err(|_| IntakeError::BadRequest("event cannot be stored".into()))?;
    let recorded =
        state.store.record_inbound(&dedup_key, &key, &text, state.clock.now()).await.map_err(
            |error| {
                tracing::error!(%error, "store unavailable at intake");
                IntakeError::Unavailable
            },
        )?;
    match recorded {
        Recorded::Accepted(_) => {
            worker::wake(&state, &key);
            Ok((StatusCode::OK, Json(json!({ "status": "accepted" }))).into_response())
        }
        Recorded::Duplicate => {
            state.metrics.count_duplicate();
            Ok((StatusCode::OK, Json(json!({ "status": "duplicate" }))).into_response())
        }
    }
}

/// An id given as a number or a numeric string.
fn id_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

fn u64_of(value: Option<&Value>) -> Option<u64> {
    id_of(value).and_then(|s| s.parse().ok())
}

fn contact_of(sender: Option<&Value>) -> Contact {
    let text =
        |key: &str| sender.and_then(|s| s.get(key)).and_then(Value::as_str).map(str::to_owned);
    let mut attributes = std::collections::BTreeMap::new();
    if let Some(Value::Object(custom)) = sender.and_then(|s| s.get("custom_attributes")) {
        for (k, v) in custom {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            attributes.insert(k.clone(), v);
        }
    }
    Contact { name: text("name"), email: text("email"), phone: text("phone_number"), attributes }
}

/// Turns a webhook into `(dedup key, payload)`, or `None` when botrun must ignore it.
fn decode(
    value: &Value,
    headers: &HeaderMap,
) -> Result<Option<(String, InboundPayload)>, IntakeError> {
    let Some(event) = value.get("event").and_then(Value::as_str) else {
        return Err(IntakeError::BadRequest("missing `event` field".into()));
    };
    let delivery = headers.get("x-chatwoot-delivery").and_then(|v| v.to_str().ok());
    match event {
        "message_created" => decode_message(value, delivery),
        "conversation_created" | "conversation_opened" => {
            let Some(cx) = conversation_ref(value) else {
                return Err(IntakeError::BadRequest("conversation event without `id`".into()));
            };
            let contact = contact_of(value.pointer("/meta/sender"));
            let key = format!("started:{}", cx.conversation_id);
            Ok(Some((key, InboundPayload::ConversationStarted { cx, contact })))
        }
        // The visitor opened CX's own widget: for an agent bot this is how a conversation
        // begins. Shares the dedup key with `conversation_created`, so the bot starts once.
        "webwidget_triggered" => {
            let current = value.get("current_conversation");
            let Some(conversation_id) =
                id_of(current.and_then(|c| c.get("id"))).or_else(|| id_of(value.get("id")))
            else {
                return Err(IntakeError::BadRequest("widget event without a conversation".into()));
            };
            let inbox = u64_of(value.pointer("/inbox/id"))
                .or_else(|| u64_of(current.and_then(|c| c.get("inbox_id"))));
            let cx = CxRef { conversation_id, inbox_id: inbox };
            let contact = contact_of(value.get("contact"));
            let key = format!("started:{}", cx.conversation_id);
            Ok(Some((key, InboundPayload::ConversationStarted { cx, contact })))
        }
        "conversation_status_changed" | "conversation_updated" | "conversation_resolved" => {
            decode_status(value, event, delivery)
        }
        _ => Ok(None),
    }
}

/// The conversation object of a conversation event is the event itself.
fn conversation_ref(value: &Value) -> Option<CxRef> {
    let id = id_of(value.get("id"))?;
    let inbox = u64_of(value.get("inbox_id")).or_else(|| u64_of(value.pointer("/inbox/id")));
    Some(CxRef { conversation_id: id, inbox_id: inbox })
}

fn decode_message(
    value: &Value,
    delivery: Option<&str>,
) -> Result<Option<(String, InboundPayload)>, IntakeError> {
    // Rule 1 and rule 3: only the customer's public messages; our own echoes are outgoing.
    let incoming = match value.get("message_type") {
        Some(Value::String(s)) => s == "incoming",
        Some(Value::Number(n)) => n.as_u64() == Some(0),
        _ => false,
    };
    let private = value.get("private").and_then(Value::as_bool).unwrap_or(false);
    if !incoming || private {
        return Ok(None);
    }
    let conversation = value.get("conversation");
    let Some(conversation_id) = id_of(conversation.and_then(|c| c.get("id")))
        .or_else(|| id_of(value.get("conversation_id")))
    else {
        return Err(IntakeError::BadRequest("message without a conversation id".into()));
    };
    // Rule 2: silent while humans own the conversation.
    let status = conversation.and_then(|c| c.get("status")).and_then(Value::as_str);
    if matches!(status, Some("open" | "snoozed")) {
        return Ok(None);
    }
    let Some(message_id) = id_of(value.get("id")) else {
        return Err(IntakeError::BadRequest("message without `id`".into()));
    };
    let inbox = u64_of(value.pointer("/inbox/id"))
        .or_else(|| u64_of(conversation.and_then(|c| c.get("inbox_id"))));
    let text = value.get("content").and_then(Value::as_str).unwrap_or_default().to_owned();
    let button = value
        .pointer("/content_attributes/submitted_values/0/value")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if text.trim().is_empty() && button.is_none() {
        return Ok(None);
    }
    let contact = contact_of(value.get("sender"));
    // The message id alone identifies the message; the delivery id is redundant for
    // messages and would let CX's retries through with a fresh delivery id.
    let _ = delivery;
    let cx = CxRef { conversation_id, inbox_id: inbox };
    Ok(Some((format!("msg:{message_id}"), InboundPayload::Message { cx, text, button, contact })))
}

fn decode_status(
    value: &Value,
    event: &str,
    delivery: Option<&str>,
) -> Result<Option<(String, InboundPayload)>, IntakeError> {
    let Some(cx) = conversation_ref(value) else {
        return Err(IntakeError::BadRequest("conversation event without `id`".into()));
    };
    let change = value
        .get("changed_attributes")
        .and_then(Value::as_array)
        .and_then(|list| list.iter().find_map(|item| item.get("status")));
    let current = change
        .and_then(|c| c.get("current_value"))
        .or_else(|| value.get("status"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| (event == "conversation_resolved").then(|| "resolved".to_owned()));
    let Some(current) = current else { return Ok(None) };
    if event == "conversation_updated" && change.is_none() {
        return Ok(None);
    }
    let previous =
        change.and_then(|c| c.get("previous_value")).and_then(Value::as_str).map(str::to_owned);
    // A status change has no id of its own: the delivery id (when sent) or the transition
    // and its time stand in for one.
    let stamp = delivery.map_or_else(
        || {
            let at = value.get("updated_at").map(Value::to_string).unwrap_or_default();
            format!("{}>{current}@{at}", previous.as_deref().unwrap_or("?"))
        },
        str::to_owned,
    );
    let key = format!("status:{}:{stamp}", cx.conversation_id);
    Ok(Some((key, InboundPayload::StatusChanged { cx, previous, current })))
}
