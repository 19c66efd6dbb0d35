//! The control API under `/_control/`: what tests and the console use to act as a customer or a
//! human agent, read the world, read recorded calls and deliveries, and inject faults. Each
//! route is a thin JSON wrapper over an [`Emulator`] method. No token needed: local use only.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::faults::FaultSpec;
use super::handle::Emulator;
use super::model::Status;
use super::payloads;

type Answer = Result<Json<Value>, ApiError>;

pub fn routes() -> Router<Emulator> {
    Router::new()
        .route("/_control/state", get(state))
        .route("/_control/conversations", get(conversations).post(customer_start))
        .route("/_control/conversations/{id}", get(conversation))
        .route("/_control/conversations/{id}/incoming", post(customer_says))
        .route("/_control/conversations/{id}/select", post(customer_selects))
        .route("/_control/conversations/{id}/attachment", post(customer_sends_attachment))
        .route("/_control/conversations/{id}/widget-opened", post(visitor_returns))
        .route("/_control/visitors", post(visitor_opens))
        .route("/_control/visitors/{id}/messages", post(visitor_writes))
        .route("/_control/conversations/{id}/reply", post(agent_reply))
        .route("/_control/conversations/{id}/status", post(set_status))
        .route("/_control/conversations/{id}/resolve", post(resolve))
        .route("/_control/conversations/{id}/reopen", post(reopen))
        .route("/_control/conversations/{id}/hand-back", post(hand_back))
        .route("/_control/calls", get(calls).delete(clear_calls))
        .route("/_control/deliveries", get(deliveries))
        .route("/_control/tokens/revoke", post(revoke_tokens))
        .route("/_control/retry-spacing", post(set_retry_spacing))
        .route("/_control/replay-lag", post(set_replay_lag))
        .route("/_control/faults", get(faults).post(add_fault).delete(clear_faults))
        .route("/_control/reset", post(reset))
}

/// Decodes a JSON body: malformed → 400, wrong shape → 422.
fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(if bytes.is_empty() { b"{}" } else { bytes })
        .map_err(|error| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("malformed JSON body: {error}"))
        })?;
    serde_json::from_value(value).map_err(|error| ApiError::unprocessable(error.to_string()))
}

fn conversation_summary(emulator: &Emulator, id: u64) -> Result<Value, ApiError> {
    emulator
        .read(|world| {
            let conversation = world.conversation(id)?;
            let mut value = payloads::conversation(world, conversation);
            let messages = world.messages_of(id);
            value["message_count"] = json!(messages.len());
            value["contact_name"] = json!(world
                .contacts
                .get(&conversation.contact_id)
                .map(|contact| contact.name.clone()));
            value["updated_at"] = json!(conversation.updated_at);
            value["contact_id"] = json!(conversation.contact_id);
            value["source_id"] = json!(conversation.source_id);
            Ok::<_, super::model::Refusal>(value)
        })
        .map_err(ApiError::from)
}

async fn state(State(emulator): State<Emulator>) -> Json<Value> {
    Json(emulator.read(|world| {
        json!({
            "tenant_domain": emulator.options().tenant_domain,
            "inboxes": world.inboxes.values().map(payloads::inbox).collect::<Vec<_>>(),
            "webhooks": world.webhooks.values().collect::<Vec<_>>(),
            "agent_bots": world.agent_bots.values().collect::<Vec<_>>(),
        })
    }))
}

async fn conversations(State(emulator): State<Emulator>) -> Answer {
    let ids: Vec<u64> = emulator.conversations().iter().map(|c| c.id).collect();
    let mut list = Vec::with_capacity(ids.len());
    for id in ids.into_iter().rev() {
        list.push(conversation_summary(&emulator, id)?);
    }
    Ok(Json(json!({"conversations": list})))
}

async fn conversation(State(emulator): State<Emulator>, Path(id): Path<u64>) -> Answer {
    let summary = conversation_summary(&emulator, id)?;
    let messages = emulator.messages(id)?;
    Ok(Json(json!({"conversation": summary, "messages": messages})))
}

#[derive(Deserialize)]
struct CustomerStart {
    inbox_id: u64,
    #[serde(default = "default_visitor")]
    name: String,
    /// A first message, sent right after the conversation opens.
    #[serde(default)]
    content: Option<String>,
}

fn default_visitor() -> String {
    "Visitor".into()
}

async fn customer_start(State(emulator): State<Emulator>, bytes: Bytes) -> Answer {
    let request: CustomerStart = decode(&bytes)?;
    let conversation = emulator.customer_start(request.inbox_id, &request.name)?;
    if let Some(content) = request.content.filter(|text| !text.trim().is_empty()) {
        emulator.customer_says(conversation.id, &content)?;
    }
    Ok(Json(conversation_summary(&emulator, conversation.id)?))
}

#[derive(Deserialize)]
struct Said {
    content: String,
}

/// The `content` of a customer's or visitor's message; an empty one is refused (422).
fn said_content(bytes: &Bytes) -> Result<String, ApiError> {
    let said: Said = decode(bytes)?;
    if said.content.trim().is_empty() {
        return Err(ApiError::unprocessable("content must not be empty"));
    }
    Ok(said.content)
}

async fn customer_says(
    State(emulator): State<Emulator>,
    Path(id): Path<u64>,
    bytes: Bytes,
) -> Answer {
    let content = said_content(&bytes)?;
    Ok(Json(json!(emulator.customer_says(id, &content)?)))
}

#[derive(Deserialize)]
struct Selected {
    title: String,
}

async fn customer_selects(
    State(emulator): State<Emulator>,
    Path(id): Path<u64>,
    bytes: Bytes,
) -> Answer {
    let selected: Selected = decode(&bytes)?;
    Ok(Json(json!(emulator.customer_selects(id, &selected.title)?)))
}

#[derive(Deserialize)]
struct Sent {
    #[serde(default = "default_file_type")]
    file_type: String,
    data_url: String,
}

fn default_file_type() -> String {
    "image".into()
}

async fn customer_sends_attachment(
    State(emulator): State<Emulator>,
    Path(id): Path<u64>,
    bytes: Bytes,
) -> Answer {
    let sent: Sent = decode(&bytes)?;
    Ok(Json(json!(emulator.customer_sends_attachment(id, &sent.file_type, &sent.data_url)?)))
}

async fn visitor_returns(State(emulator): State<Emulator>, Path(id): Path<u64>) -> Answer {
    emulator.visitor_returns(id)?;
    Ok(Json(conversation_summary(&emulator, id)?))
}

#[derive(Deserialize)]
struct Visitor {
    inbox_id: u64,
    #[serde(default = "default_visitor")]
    name: String,
}

async fn visitor_opens(State(emulator): State<Emulator>, bytes: Bytes) -> Answer {
    let visitor: Visitor = decode(&bytes)?;
    Ok(Json(json!(emulator.visitor_opens(visitor.inbox_id, &visitor.name)?)))
}

async fn visitor_writes(
    State(emulator): State<Emulator>,
    Path(id): Path<u64>,
    bytes: Bytes,
) -> Answer {
    let content = said_content(&bytes)?;
    Ok(Json(json!(emulator.visitor_writes(id, &content)?)))
}

#[derive(Deserialize)]
struct Reply {
    agent: String,
    content: String,
    #[serde(default)]
    private: bool,
}

async fn agent_reply(
    State(emulator): State<Emulator>,
    Path(id): Path<u64>,
    bytes: Bytes,
) -> Answer {
    let reply: Reply = decode(&bytes)?;
    if reply.content.trim().is_empty() {
        return Err(ApiError::unprocessable("content must not be empty"));
    }
    Ok(Json(json!(emulator.agent_reply(id, &reply.agent, &reply.content, reply.private)?)))
}

#[derive(Deserialize)]
struct NewStatus {
    status: Status,
}

async fn set_status(State(emulator): State<Emulator>, Path(id): Path<u64>, bytes: Bytes) -> Answer {
    let request: NewStatus = decode(&bytes)?;
    Ok(Json(json!(emulator.set_status(id, request.status)?)))
}

async fn resolve(State(emulator): State<Emulator>, Path(id): Path<u64>) -> Answer {
    Ok(Json(json!(emulator.resolve(id)?)))
}

async fn reopen(State(emulator): State<Emulator>, Path(id): Path<u64>) -> Answer {
    Ok(Json(json!(emulator.reopen(id)?)))
}

async fn hand_back(State(emulator): State<Emulator>, Path(id): Path<u64>) -> Answer {
    Ok(Json(json!(emulator.hand_back(id)?)))
}

async fn calls(State(emulator): State<Emulator>) -> Json<Value> {
    Json(json!({"calls": emulator.calls()}))
}

async fn clear_calls(State(emulator): State<Emulator>) -> Json<Value> {
    emulator.clear_calls();
    Json(json!({"ok": true}))
}

async fn deliveries(State(emulator): State<Emulator>) -> Json<Value> {
    Json(json!({"deliveries": emulator.deliveries()}))
}

async fn revoke_tokens(State(emulator): State<Emulator>) -> Json<Value> {
    emulator.revoke_tokens();
    Json(json!({"ok": true}))
}

#[derive(Deserialize)]
struct Spacing {
    millis: u64,
}

async fn set_retry_spacing(State(emulator): State<Emulator>, bytes: Bytes) -> Answer {
    let spacing: Spacing = decode(&bytes)?;
    emulator.set_retry_spacing(Duration::from_millis(spacing.millis));
    Ok(Json(json!({"millis": spacing.millis})))
}

#[derive(Deserialize)]
struct ReplayLag {
    lag: usize,
}

async fn set_replay_lag(State(emulator): State<Emulator>, bytes: Bytes) -> Answer {
    let request: ReplayLag = decode(&bytes)?;
    emulator.set_replay_lag(request.lag);
    Ok(Json(json!({"lag": request.lag})))
}

async fn faults(State(emulator): State<Emulator>) -> Json<Value> {
    let rules: Vec<Value> =
        emulator.faults().into_iter().map(|(id, spec)| json!({"id": id, "rule": spec})).collect();
    Json(json!({"faults": rules}))
}

async fn add_fault(State(emulator): State<Emulator>, bytes: Bytes) -> Answer {
    let spec: FaultSpec = decode(&bytes)?;
    let id = emulator.add_fault(spec)?;
    Ok(Json(json!({"id": id})))
}

async fn clear_faults(State(emulator): State<Emulator>) -> Json<Value> {
    emulator.clear_faults();
    Json(json!({"ok": true}))
}

async fn reset(State(emulator): State<Emulator>) -> Json<Value> {
    emulator.reset();
    Json(json!({"ok": true}))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::{json, Value};
    use tower::ServiceExt as _;

    use crate::emulator::model::WIDGET_INBOX_ID;
    use crate::emulator::{app, Emulator, EmulatorOptions};

    async fn post(emulator: &Emulator, path: &str, body: Value) -> (StatusCode, Value) {
        let request = Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = app(emulator.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn replay_lag_and_button_picks_are_on_the_control_api() {
        let emulator = Emulator::new(EmulatorOptions::default());
        let (status, answer) = post(&emulator, "/_control/replay-lag", json!({"lag": 2})).await;
        assert_eq!((status, answer), (StatusCode::OK, json!({"lag": 2})));
        let conversation = emulator.customer_start(WIDGET_INBOX_ID, "Ada").unwrap().id;
        let path = format!("/_control/conversations/{conversation}/select");
        let (status, answer) = post(&emulator, &path, json!({"title": "Yes"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(answer["error"].as_str().unwrap().contains("no input_select"), "{answer}");
    }
}
