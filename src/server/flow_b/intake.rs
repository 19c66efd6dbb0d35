//! `POST /webhooks/cx/{token}` (Flow B, botrun as CX's agent bot): a verified, decoded event
//! becomes stored work for its conversation's worker — filter, dedupe, persist, answer — and
//! nothing else. The engine runs later, in the worker.

use axum::extract::State;
use axum::response::Response;

use super::worker;
use crate::cx::{CxEvent, MessageEvent};
use crate::server::ownership::{bot_may_greet, human_owns, StatusChange};
use crate::server::payload::{CxRef, InboundPayload};
use crate::server::webhook::{answer, contact_of, dedup_key, IntakeError, VerifiedEvent};
use crate::server::AppState;
use crate::store::Recorded;

/// The webhook handler. Stored means 2xx; a store failure is the only 5xx. A long queue is no
/// reason to refuse: the event is already safe in the store, so the answer is 2xx and the
/// backlog is reported in the log instead.
pub(crate) async fn cx_webhook(
    State(state): State<AppState>,
    VerifiedEvent { event, delivery }: VerifiedEvent,
) -> Result<Response, IntakeError> {
    let (Some(payload), Some(dedup)) =
        (inbound_for(&event), dedup_key(&event, delivery.as_deref()))
    else {
        state.metrics.count_ignored();
        return Ok(answer("ignored"));
    };
    if state.bots.index_for_inbox(payload.cx().inbox_id).is_none() {
        // No bot serves this inbox (and none answers every inbox): nothing to store or do.
        state.metrics.count_ignored();
        return Ok(answer("ignored"));
    }
    let key = payload.cx().key();
    let text = serde_json::to_string(&payload)
        .map_err(|error| IntakeError::BadRequest(format!("event cannot be stored: {error}")))?;
    let recorded = state
        .store
        .record_inbound(&dedup, &key, &text, state.clock.now())
        .await
        .map_err(|error| IntakeError::not_stored(&error))?;
    match recorded {
        Recorded::Accepted(_) => {
            // Without a running worker the queue held nothing before this event.
            let busy = state.workers.is_running(&key);
            worker::wake(&state, &key);
            if busy {
                warn_on_backlog(&state, &key).await;
            }
            Ok(answer("accepted"))
        }
        Recorded::Duplicate => {
            state.metrics.count_duplicate();
            Ok(answer("duplicate"))
        }
    }
}

/// Logs when a conversation's queue passes `limits.queue_per_conversation`: the worker is
/// stuck (a CX outage) or the conversation is flooded.
async fn warn_on_backlog(state: &AppState, key: &str) {
    match state.store.queued_inbound(key).await {
        Ok(queued) if queued > state.config.limits.queue_per_conversation => {
            tracing::warn!(conversation = %key, queued, "conversation backlog above the limit");
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(conversation = %key, %error, "cannot count queued events"),
    }
}

/// What an event means for the bot, or `None` when botrun ignores it.
fn inbound_for(event: &CxEvent) -> Option<InboundPayload> {
    match event {
        CxEvent::MessageCreated(message) => customer_message(message),
        CxEvent::MessageUpdated(message) => button_pick(message),
        CxEvent::ConversationCreated(started) | CxEvent::ConversationOpened(started) => {
            let conversation = &started.conversation;
            if !bot_may_greet(conversation.status.as_ref()) {
                return None;
            }
            let cx = CxRef::new(conversation.id, conversation.inbox_id);
            Some(InboundPayload::ConversationStarted {
                cx,
                contact: contact_of(conversation.contact.as_ref()),
            })
        }
        // A visitor opened CX's own widget. Its top-level `id` is the contact-inbox, never a
        // conversation: without `current_conversation` there is nothing to greet yet.
        CxEvent::WebwidgetTriggered(widget) => {
            let conversation = widget.conversation.as_ref()?;
            if !bot_may_greet(conversation.status.as_ref()) {
                return None;
            }
            let cx = CxRef::new(conversation.id, widget.inbox_id.or(conversation.inbox_id));
            Some(InboundPayload::ConversationStarted {
                cx,
                contact: contact_of(widget.contact.as_ref()),
            })
        }
        CxEvent::ConversationStatusChanged(_)
        | CxEvent::ConversationUpdated(_)
        | CxEvent::ConversationResolved(_) => {
            let (conversation, change) = StatusChange::of(event)?;
            let conversation = &conversation.conversation;
            Some(InboundPayload::StatusChanged {
                cx: CxRef::new(conversation.id, conversation.inbox_id),
                previous: change.previous.map(|p| p.as_str().to_owned()),
                current: change.current.as_str().to_owned(),
            })
        }
        CxEvent::Unknown(_) => None,
    }
}

/// Only the customer's public messages count (botrun's own are `outgoing`), and none while a
/// human owns the conversation.
fn customer_message(message: &MessageEvent) -> Option<InboundPayload> {
    let conversation = message.conversation.as_ref();
    if !message.is_from_customer() || human_owns(conversation.and_then(|c| c.status.as_ref())) {
        return None;
    }
    let inbox = message.inbox_id.or_else(|| conversation.and_then(|c| c.inbox_id));
    let text = message.content.clone().unwrap_or_default();
    if text.trim().is_empty() {
        if let Some((file_type, url)) = first_attachment(message) {
            return Some(InboundPayload::Attachment {
                cx: CxRef::new(message.conversation_id, inbox),
                file_type,
                url,
                contact: contact_of(message.sender.as_ref()),
            });
        }
    }
    let button = message
        .content_attributes
        .pointer("/submitted_values/0/value")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    if text.trim().is_empty() && button.is_none() {
        return None;
    }
    Some(InboundPayload::Message {
        cx: CxRef::new(message.conversation_id, inbox),
        text,
        button,
        contact: contact_of(message.sender.as_ref()),
    })
}

/// A click on an option of CX's widget: Chatwoot updates the bot's own `input_select` message
/// with `content_attributes.submitted_values` and sends `message_updated`
/// (`Api::V1::Widget::MessagesController#update`). The pick is the first submitted value; the
/// dedup key (the message id) makes a repeated delivery, or a later update of the same message,
/// count once. Other updates carry no `submitted_values` and are ignored.
fn button_pick(message: &MessageEvent) -> Option<InboundPayload> {
    let conversation = message.conversation.as_ref();
    if message.private || human_owns(conversation.and_then(|c| c.status.as_ref())) {
        return None;
    }
    let picked = message.content_attributes.pointer("/submitted_values/0")?;
    let text = |key: &str| picked.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
    let value = text("value").or_else(|| text("title"))?;
    let inbox = message.inbox_id.or_else(|| conversation.and_then(|c| c.inbox_id));
    let contact = conversation.and_then(|c| c.contact.as_ref());
    Some(InboundPayload::Message {
        cx: CxRef::new(message.conversation_id, inbox),
        text: text("title").unwrap_or_else(|| value.clone()),
        button: Some(value),
        contact: contact_of(contact),
    })
}

/// The kind and URL of a message's first file (`Attachment#push_event_data`).
fn first_attachment(message: &MessageEvent) -> Option<(String, String)> {
    let file = message.attachments.first()?;
    let text = |key: &str| file.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
    Some((
        text("file_type").unwrap_or_else(|| "file".to_owned()),
        text("data_url").unwrap_or_default(),
    ))
}
