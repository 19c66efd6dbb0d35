//! Flow A reconciliation. CX posts an agent's reply to botrun as an account webhook, and CX never
//! retries account webhooks (`app/jobs/webhook_job.rb`): one failed delivery would lose the reply
//! for good. So while a human owns a widget conversation, botrun reads the CX conversation's
//! messages back (`cx.paths.message_list`, Chatwoot's messages listing) every
//! `reconcile_every` and queues each agent reply under the same dedup key the webhook uses —
//! whichever path sees a reply first relays it, the other is a duplicate: exactly once.
//!
//! A conversation is watched from its handoff until it is no longer with a human. The watch list
//! is in memory; a durable timer (`WidgetInbound::Rewatch`, renewed every six periods while a
//! human owns the conversation) puts it back on the list after a restart. A tenant
//! without the listing (404/405, or an empty path) turns reconciliation off with one warning.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use super::payload::WidgetInbound;
use super::{session, FlowA};
use crate::cx::{ConversationId, ListedMessage};
use crate::engine::Mode;

/// A watched conversation: its CX id and the newest message id already read.
#[derive(Clone, Copy, Debug)]
pub(super) struct Watched {
    cx_conversation: u64,
    after: Option<u64>,
}

/// Watched conversations by store key.
pub(super) type WatchList = HashMap<String, Watched>;

impl FlowA {
    /// Starts watching the conversation `key` (mirrored as `cx_conversation`) for replies.
    pub(super) fn watch(&self, key: &str, cx_conversation: u64) {
        if self.settings.reconcile_every.is_none() || !self.cx.can_list_messages() {
            return;
        }
        if let Ok(mut watching) = self.watching.lock() {
            watching.entry(key.to_owned()).or_insert(Watched { cx_conversation, after: None });
        }
    }

    /// True while `key` is watched (tests).
    pub fn watched(&self, key: &str) -> bool {
        self.watching.lock().is_ok_and(|w| w.contains_key(key))
    }
}

/// Runs reconciliation rounds until the host is gone.
pub(super) async fn run(flow: Weak<FlowA>) {
    loop {
        let Some(every) = flow.upgrade().and_then(|f| f.settings.reconcile_every) else { return };
        tokio::time::sleep(every).await;
        let Some(flow) = flow.upgrade() else { return };
        if flow.listing_missing.load(Ordering::SeqCst) {
            return;
        }
        round(&flow).await;
    }
}

/// One pass over every watched conversation.
pub(super) async fn round(flow: &Arc<FlowA>) {
    let watched: Vec<(String, Watched)> = match flow.watching.lock() {
        Ok(watching) => watching.iter().map(|(k, w)| (k.clone(), *w)).collect(),
        Err(_) => return,
    };
    for (key, watched) in watched {
        match reconcile(flow, &key, watched).await {
            Ok(Some(after)) => {
                if let Ok(mut watching) = flow.watching.lock() {
                    if let Some(entry) = watching.get_mut(&key) {
                        entry.after = after.max(entry.after);
                    }
                }
            }
            Ok(None) => {
                if let Ok(mut watching) = flow.watching.lock() {
                    watching.remove(&key);
                }
            }
            Err(()) => {}
        }
    }
}

/// Reads one conversation back; `Ok(None)` when it no longer needs watching, `Ok(Some(after))`
/// with the newest id read, `Err` when this round failed (tried again next round).
async fn reconcile(
    flow: &Arc<FlowA>,
    key: &str,
    watched: Watched,
) -> Result<Option<Option<u64>>, ()> {
    let (_, session) = session::load(flow.app.store.as_ref(), key).await.map_err(|error| {
        tracing::warn!(conversation = %key, %error, "reconciliation: store unavailable");
    })?;
    let with_human = session.engine_state(0).mode() == Mode::WithHuman;
    if !with_human || session.link.conversation_id != Some(watched.cx_conversation) {
        return Ok(None);
    }
    let listed = match flow
        .cx
        .list_messages(ConversationId(watched.cx_conversation), watched.after)
        .await
    {
        Ok(listed) => listed,
        Err(error) if matches!(error.status(), Some(404 | 405 | 501)) => {
            flow.listing_missing.store(true, Ordering::SeqCst);
            tracing::warn!(%error, "CX has no messages listing here: Flow A reconciliation is off; \
                agent replies rely on the webhook alone (set cx.paths.message_list)");
            return Err(());
        }
        Err(error) => {
            tracing::warn!(conversation = %key, %error, "reconciliation: listing failed");
            return Err(());
        }
    };
    let Some(conversation) = session::widget_conversation(key) else { return Ok(None) };
    let newest = listed.iter().map(|m| m.id).max().or(watched.after);
    for message in listed.iter().filter(|m| is_agent_reply(m, &session.echoes.ids)) {
        let work = WidgetInbound::Agent {
            cx_conversation: watched.cx_conversation,
            message_id: Some(message.id),
            name: message.sender_name.clone().unwrap_or_else(|| "Agent".to_owned()),
            text: message.content.clone().unwrap_or_default(),
        };
        let dedup = format!("cx-widget-msg:{}", message.id);
        if let Err(error) = flow.enqueue(&dedup, conversation, &work).await {
            tracing::warn!(conversation = %key, %error, "reconciliation: cannot queue a reply");
            return Err(());
        }
    }
    Ok(Some(newest))
}

/// A public message from CX's side that botrun did not write and that is not a bot's.
fn is_agent_reply(message: &ListedMessage, ours: &[u64]) -> bool {
    message.outgoing
        && !message.private
        && !matches!(message.sender_type.as_deref(), Some("agent_bot" | "contact"))
        && message.content.as_deref().is_some_and(|text| !text.trim().is_empty())
        && !ours.contains(&message.id)
}
