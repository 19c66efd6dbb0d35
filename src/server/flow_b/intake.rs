//! `POST /webhooks/cx/{token}` (Flow B, botrun as CX's agent bot): a verified, decoded event
//! becomes stored work for its conversation's worker — filter, dedupe, persist, answer — and
//! nothing else. The engine runs later, in the worker.

use axum::extract::State;
use axum::response::Response;

use super::worker;
use crate::cx::{ConversationInfo, CxEvent, MessageEvent};
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
    // On a store shared by replicas the conversation's lease is asked for alongside the event
    // (one batch of the store's group commit), so the worker finds it held and starts without
    // a write of its own. A lease taken here is always handed to the worker, which gives it up
    // when it finds nothing left to do.
    let (recorded, held) = tokio::join!(
        state.store.record_inbound(&dedup, &key, &text, state.clock.now()),
        state.hold(&key)
    );
    let held = state.store.shared_by_replicas() && matches!(held, Ok(true));
    let recorded = match recorded {
        Ok(recorded) => recorded,
        Err(error) => {
            if held {
                worker::wake(&state, &key);
            }
            return Err(IntakeError::not_stored(&error));
        }
    };
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
            if held {
                worker::wake(&state, &key);
            }
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
                contact: contact_of(
                    conversation.contact.as_ref(),
                    conversation.browser_language.as_deref(),
                ),
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
                contact: contact_of(
                    widget.contact.as_ref(),
                    widget.event_info.get("browser_language").and_then(|l| l.as_str()),
                ),
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
                contact: contact_of(message.sender.as_ref(), browser_language(conversation)),
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
        contact: contact_of(message.sender.as_ref(), browser_language(conversation)),
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
        contact: contact_of(contact, browser_language(conversation)),
    })
}

/// The browser language of the conversation a message belongs to, when CX sent it.
fn browser_language(conversation: Option<&ConversationInfo>) -> Option<&str> {
    conversation.and_then(|c| c.browser_language.as_deref())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cx::decode_event;

    fn language_of(body: &str) -> Option<String> {
        let event = decode_event(body.as_bytes()).expect("decodes");
        let contact = match inbound_for(&event).expect("for the bot") {
            InboundPayload::ConversationStarted { contact, .. }
            | InboundPayload::Message { contact, .. } => contact,
            other => panic!("unexpected {other:?}"),
        };
        contact.attributes.get("language").cloned()
    }

    #[test]
    fn the_contact_language_comes_from_cx_browser_language_data() {
        // The conversation's browser language (a CX web widget conversation).
        let created = r#"{"event":"conversation_created","id":4,"status":"pending",
            "additional_attributes":{"browser_language":"es-MX"},
            "meta":{"sender":{"id":9,"name":"Ana","type":"contact"}}}"#;
        assert_eq!(language_of(created).as_deref(), Some("es-MX"));
        // The contact's own browser language wins over the conversation's.
        let contact_level = r#"{"event":"conversation_created","id":4,"status":"pending",
            "additional_attributes":{"browser_language":"es"},
            "meta":{"sender":{"id":9,"type":"contact","additional_attributes":{"browser_language":"pt-BR"}}}}"#;
        assert_eq!(language_of(contact_level).as_deref(), Some("pt-BR"));
        // A custom attribute `language` an agent or an integration set wins over both.
        let custom = r#"{"event":"conversation_created","id":4,"status":"pending",
            "additional_attributes":{"browser_language":"es"},
            "meta":{"sender":{"id":9,"type":"contact","custom_attributes":{"language":"fr"}}}}"#;
        assert_eq!(language_of(custom).as_deref(), Some("fr"));
        // CX's own widget: the browser language of the widget event.
        let widget = r#"{"event":"webwidget_triggered","id":3,"inbox":{"id":1},
            "contact":{"id":9,"name":"Ana"},
            "current_conversation":{"id":4,"status":"pending"},
            "event_info":{"browser_language":"es"}}"#;
        assert_eq!(language_of(widget).as_deref(), Some("es"));
        // A customer message carries its conversation's.
        let message = r#"{"event":"message_created","id":7,"content":"hola","message_type":"incoming",
            "sender":{"id":9,"type":"contact"},
            "conversation":{"id":4,"status":"pending","additional_attributes":{"browser_language":"es"}}}"#;
        assert_eq!(language_of(message).as_deref(), Some("es"));
        // Nothing known: no language (the bot's default).
        let plain = r#"{"event":"conversation_created","id":4,"status":"pending",
            "meta":{"sender":{"id":9,"type":"contact"}}}"#;
        assert_eq!(language_of(plain), None);
    }
}
