//! What both CX webhooks share: [`VerifiedEvent`], the one extractor that checks the path token and
//! the signature and decodes the body with [`crate::cx::decode_event`]; the answers; the dedup
//! keys; and the contact a CX participant becomes.
//!
//! Answers follow how Chatwoot delivers (`docs/cx.md`): 2xx once the event is stored (or
//! deliberately ignored), 500 when it could not be stored — the one code agent-bot deliveries
//! retry on — and 400/401 for a delivery no retry could fix.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::AppState;
use crate::cx::{decode_event, verify_signature, CxEvent, Participant};
use crate::engine::Contact;
use crate::store::StoreError;

/// Why a delivery was refused; the body never leaks internals.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IntakeError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("storage unavailable, the event was not stored")]
    NotStored,
}

impl IntakeError {
    /// The store failed: logged here, answered 500 so CX's agent-bot delivery tries again.
    pub(crate) fn not_stored(error: &StoreError) -> IntakeError {
        tracing::error!(%error, "cannot store a webhook event");
        IntakeError::NotStored
    }
}

impl IntoResponse for IntakeError {
    fn into_response(self) -> Response {
        let status = match &self {
            IntakeError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            IntakeError::BadRequest(_) => StatusCode::BAD_REQUEST,
            IntakeError::NotStored => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

/// The 2xx answer: `accepted`, `duplicate` or `ignored`.
pub(crate) fn answer(status: &str) -> Response {
    (StatusCode::OK, Json(json!({ "status": status }))).into_response()
}

/// A webhook delivery whose token (and signature, when a secret is configured) checked out,
/// decoded. Counted in the metrics as received, or as rejected when it is refused.
pub(crate) struct VerifiedEvent {
    pub event: CxEvent,
    /// `X-Chatwoot-Delivery`, when CX sent one.
    pub delivery: Option<String>,
}

impl FromRequest<AppState> for VerifiedEvent {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let Path(token) = Path::<String>::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let headers = parts.headers.clone();
        // Over the body limit this answers 413 before anything is read into memory.
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let checked = authenticate(state, &token, &headers, &body).and_then(|()| {
            decode_event(&body).map_err(|error| IntakeError::BadRequest(error.to_string()))
        });
        match checked {
            Ok(event) => {
                state.metrics.count_event_in();
                let delivery = header(&headers, "x-chatwoot-delivery").map(str::to_owned);
                Ok(VerifiedEvent { event, delivery })
            }
            Err(error) => {
                state.metrics.count_rejected();
                Err(error.into_response())
            }
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Checks the path token (in constant time) and, when a signing secret is configured, the
/// `X-Chatwoot-Signature` over `X-Chatwoot-Timestamp` and the raw body.
fn authenticate(
    state: &AppState,
    token: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), IntakeError> {
    if !crate::crypto::secrets_equal(token.as_bytes(), state.webhook_token.as_bytes()) {
        return Err(IntakeError::Unauthorized("unknown webhook token".into()));
    }
    if let Some(secret) = &state.signing_secret {
        let timestamp = header(headers, "x-chatwoot-timestamp").unwrap_or_default();
        let signature = header(headers, "x-chatwoot-signature").unwrap_or_default();
        verify_signature(secret.as_bytes(), timestamp, signature, body, state.clock.now())
            .map_err(|why| IntakeError::Unauthorized(why.to_string()))?;
    }
    Ok(())
}

/// The dedup key of an event botrun acts on, the same for every delivery of the same
/// happening: a message by its id (a retry may carry a fresh delivery id), a start by its
/// conversation, a status change by its delivery id or else by transition and `updated_at`
/// (without the time, a second resolve of one conversation would pass for a duplicate).
pub(crate) fn dedup_key(event: &CxEvent, delivery: Option<&str>) -> Option<String> {
    match event {
        CxEvent::MessageCreated(message) | CxEvent::MessageUpdated(message) => {
            Some(format!("msg:{}", message.id))
        }
        CxEvent::ConversationCreated(started) | CxEvent::ConversationOpened(started) => {
            Some(format!("started:{}", started.conversation.id))
        }
        CxEvent::WebwidgetTriggered(widget) => {
            widget.conversation.as_ref().map(|c| format!("started:{}", c.id))
        }
        CxEvent::ConversationStatusChanged(_)
        | CxEvent::ConversationUpdated(_)
        | CxEvent::ConversationResolved(_) => {
            let (conversation, change) = super::ownership::StatusChange::of(event)?;
            let stamp = delivery.map_or_else(
                || {
                    let previous = change.previous.as_ref().map_or("?", |p| p.as_str());
                    let at = conversation.conversation.updated_at.as_deref().unwrap_or("?");
                    format!("{previous}>{}@{at}", change.current.as_str())
                },
                str::to_owned,
            );
            Some(format!("status:{}:{stamp}", conversation.conversation.id))
        }
        CxEvent::Unknown(_) => None,
    }
}

/// The engine's view of a CX contact: its details and custom attributes as text. Its
/// `language` (which picks a multilingual bot's language) is a custom attribute `language`, else
/// the contact's browser language, else `browser_language` (the conversation's, or the widget
/// event's).
pub(crate) fn contact_of(
    participant: Option<&Participant>,
    browser_language: Option<&str>,
) -> Contact {
    let mut contact = details_of(participant);
    let language = participant.and_then(|p| p.browser_language.as_deref()).or(browser_language);
    if let Some(language) = language {
        contact.attributes.entry("language".into()).or_insert_with(|| language.to_owned());
    }
    contact
}

fn details_of(participant: Option<&Participant>) -> Contact {
    let Some(participant) = participant else { return Contact::default() };
    let attributes: BTreeMap<String, String> = participant
        .custom_attributes
        .iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            (name.clone(), text)
        })
        .collect();
    Contact {
        name: participant.name.clone(),
        email: participant.email.clone(),
        phone: participant.phone_number.clone(),
        attributes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(body: &str, delivery: Option<&str>) -> Option<String> {
        dedup_key(&decode_event(body.as_bytes()).unwrap(), delivery)
    }

    fn status(at: u64) -> String {
        format!(
            r#"{{"event":"conversation_status_changed","id":4,"status":"resolved","updated_at":{at},
            "changed_attributes":[{{"status":{{"previous_value":"open","current_value":"resolved"}}}}]}}"#
        )
    }

    #[test]
    fn two_status_changes_without_delivery_ids_differ_by_time() {
        assert_eq!(key(&status(10), None).unwrap(), "status:4:open>resolved@10");
        assert_ne!(key(&status(10), None), key(&status(11), None));
        assert_eq!(key(&status(10), Some("d-1")).unwrap(), "status:4:d-1");
        let resolved = r#"{"event":"conversation_resolved","id":4}"#;
        assert_eq!(key(resolved, None).unwrap(), "status:4:?>resolved@?");
    }

    #[test]
    fn messages_are_keyed_by_id_whatever_the_delivery() {
        let message =
            r#"{"event":"message_created","id":12,"message_type":"incoming","conversation_id":4}"#;
        assert_eq!(key(message, Some("a")), key(message, Some("b")));
        assert_eq!(key(message, None).unwrap(), "msg:12");
        let widget = r#"{"event":"webwidget_triggered","id":5,"current_conversation":null}"#;
        assert_eq!(key(widget, None), None);
        assert_eq!(key(r#"{"event":"contact_created","id":5}"#, None), None);
    }
}
