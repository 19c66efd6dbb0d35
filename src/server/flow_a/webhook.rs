//! `POST /webhooks/cx-widget/{token}`: CX's events for the conversations Flow A mirrors. Only
//! two things matter here: a human agent's public reply (relayed to the page) and a status
//! change (an agent finishing, or handing back). Everything else — including CX's echoes of
//! botrun's own messages and private notes — is answered 2xx and ignored. Like the Flow B
//! intake, the event is verified and decoded by `server::webhook::VerifiedEvent`, stored, and
//! answered before any work happens.

use axum::extract::State;
use axum::response::Response;

use super::payload::WidgetInbound;
use super::session;
use crate::cx::CxEvent;
use crate::server::ownership::StatusChange;
use crate::server::webhook::{answer, dedup_key, IntakeError, VerifiedEvent};
use crate::server::AppState;
use crate::store::Recorded;

/// The handler; mounted by the server when the widget is configured.
pub(crate) async fn cx_widget_webhook(
    State(state): State<AppState>,
    VerifiedEvent { event, delivery }: VerifiedEvent,
) -> Result<Response, IntakeError> {
    let Some(flow) = state.flow_a.get() else {
        return Ok(answer("ignored"));
    };
    let (Some((cx_conversation, work)), Some(dedup)) =
        (relevant(&event), dedup_key(&event, delivery.as_deref()))
    else {
        state.metrics.count_ignored();
        return Ok(answer("ignored"));
    };
    let reverse = state
        .store
        .load_conversation(&session::reverse_key(cx_conversation))
        .await
        .map_err(|error| IntakeError::not_stored(&error))?;
    let Some(widget_conversation) =
        reverse.and_then(|snapshot| String::from_utf8(snapshot.state).ok())
    else {
        state.metrics.count_ignored();
        return Ok(answer("ignored"));
    };
    // Flow A's keys stay apart from Flow B's in the one dedup table.
    let dedup = format!("cx-widget-{dedup}");
    match flow
        .enqueue(&dedup, &widget_conversation, &work)
        .await
        .map_err(|error| IntakeError::not_stored(&error))?
    {
        Recorded::Accepted(_) => Ok(answer("accepted")),
        Recorded::Duplicate => Ok(answer("duplicate")),
    }
}

/// `(CX conversation, work)` for the events Flow A acts on.
fn relevant(event: &CxEvent) -> Option<(u64, WidgetInbound)> {
    match event {
        CxEvent::MessageCreated(message) if message.is_from_human_agent() => {
            let text = message.content.clone().filter(|t| !t.trim().is_empty())?;
            let name = message
                .sender
                .as_ref()
                .and_then(|s| s.name.clone())
                .unwrap_or_else(|| "Agent".to_owned());
            let conversation = message.conversation_id.0;
            let work = WidgetInbound::Agent {
                cx_conversation: conversation,
                message_id: Some(message.id.0),
                name,
                text,
            };
            Some((conversation, work))
        }
        _ => {
            let (conversation, change) = StatusChange::of(event)?;
            let conversation = conversation.conversation.id.0;
            Some((
                conversation,
                WidgetInbound::CxStatus {
                    cx_conversation: conversation,
                    previous: change.previous.map(|p| p.as_str().to_owned()),
                    current: change.current.as_str().to_owned(),
                },
            ))
        }
    }
}
