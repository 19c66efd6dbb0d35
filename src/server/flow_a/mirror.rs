//! Delivers a widget conversation's CX calls strictly in order. The CX ids they need (contact,
//! conversation) live in the session and are read at delivery time, so an `open` queued before a
//! message is always performed first. Transient failures are retried with backoff while the
//! item stays durable; an item failing past the retry budget is dropped with an error in the
//! logs and the escalation metric (the page keeps working: it does not depend on CX).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::payload::{FileLink, MirrorItem, WidgetInbound};
use super::session::{self, Session};
use super::{CxFiles, FlowA};
use crate::cx::{
    ButtonItem, ContactId, ConversationId, CxError, FileToAttach, InboxId, NewContact,
    OutgoingMessage,
};
use crate::server::outbox::{fetch_into_queue, retry_later, Retry, MAX_BACKOFF};
use crate::store::{OutboxItem, StoreError, Turn};

/// Why one CX call of the mirror failed.
enum MirrorError {
    Cx(CxError),
    /// Nothing to send to: the CX conversation is gone (finished by an agent meanwhile).
    NoConversation,
    Store(StoreError),
}

impl From<CxError> for MirrorError {
    fn from(error: CxError) -> Self {
        MirrorError::Cx(error)
    }
}

impl From<StoreError> for MirrorError {
    fn from(error: StoreError) -> Self {
        MirrorError::Store(error)
    }
}

/// Delivers the conversation's queued CX calls until none is left.
pub(super) async fn drain(flow: &Arc<FlowA>, key: &str) -> Result<(), StoreError> {
    let store = &flow.app.store;
    let lease = FlowA::mirror_lease(key);
    while let Some(item) = store.next_outbox(key).await? {
        let wait = (item.not_before - flow.app.clock.now()).to_std().unwrap_or(Duration::ZERO);
        if !wait.is_zero() {
            tokio::time::sleep(wait.min(MAX_BACKOFF)).await;
        }
        // Renewed before every call: after a long pause another replica may have taken over.
        if !flow.app.hold(&lease).await? {
            return Ok(());
        }
        deliver_one(flow, key, &item).await?;
    }
    Ok(())
}

async fn deliver_one(flow: &Arc<FlowA>, key: &str, item: &OutboxItem) -> Result<(), StoreError> {
    let store = &flow.app.store;
    let mirror: MirrorItem = match serde_json::from_str(&item.payload) {
        Ok(mirror) => mirror,
        Err(error) => {
            tracing::error!(id = item.id, %error, "dropping an unreadable mirror item");
            return store.mark_sent(item.id).await;
        }
    };
    if let MirrorItem::Fetch { request } = &mirror {
        fetch_into_queue(&flow.app, item, request, |event| {
            serde_json::to_string(&WidgetInbound::Engine { event })
        })
        .await?;
        flow.wake(key);
        return Ok(());
    }
    let started = Instant::now();
    let result = perform(flow, key, &mirror).await;
    flow.app.metrics.observe_cx_latency(started.elapsed());
    match result {
        Ok(()) => {
            match mirror {
                MirrorItem::Outgoing { .. } => flow.app.metrics.count_reply(),
                MirrorItem::DeliverToAgent => flow.app.metrics.count_handoff(),
                MirrorItem::Finish => flow.app.metrics.count_resolve(),
                _ => {}
            }
            store.mark_sent(item.id).await
        }
        Err(MirrorError::Store(error)) => Err(error),
        Err(MirrorError::NoConversation) => {
            tracing::warn!(conversation = %key, kind = mirror.kind(),
                "no CX conversation to mirror into; item dropped");
            store.mark_sent(item.id).await
        }
        Err(MirrorError::Cx(error)) => {
            let retry = Retry { retryable: error.is_transient(), after: error.retry_after() };
            if retry_later(&flow.app, item, retry, mirror.kind(), &error).await? {
                return Ok(());
            }
            flow.app.metrics.count_escalation();
            tracing::error!(conversation = %key, kind = mirror.kind(), %error,
                "CX mirror call failed past the retry budget; the CX transcript misses it");
            store.mark_sent(item.id).await
        }
    }
}

/// Performs one CX call; `open` also records the new ids in the session.
async fn perform(flow: &FlowA, key: &str, mirror: &MirrorItem) -> Result<(), MirrorError> {
    let (_, session) = session::load(flow.app.store.as_ref(), key).await?;
    let current =
        || session.link.conversation_id.map(ConversationId).ok_or(MirrorError::NoConversation);
    let cx = &flow.cx;
    match mirror {
        MirrorItem::Open => open(flow, key, session).await,
        MirrorItem::UpdateContact => {
            // No contact: its creation failed for good, and the next `open` creates it with
            // these details.
            let Some(contact_id) = session.link.contact_id else { return Ok(()) };
            let contact = session.contact_for_cx();
            let details =
                NewContact { name: contact.name, email: contact.email, phone: contact.phone };
            match cx.update_contact(ContactId(contact_id), &details).await {
                // The email or phone belongs to another CX contact: CX keeps them unique, so this
                // contact keeps what it had; the conversation carries on, and there is nothing to
                // retry.
                Err(error) if error.is_contact_taken() => {
                    tracing::warn!(conversation = %key, %error,
                        "CX refused the customer's details: another contact has that email or phone");
                    Ok(())
                }
                other => other.map_err(MirrorError::from),
            }
        }
        MirrorItem::Incoming { text, attachments } => {
            let (files, links) = files_to_attach(flow, attachments).await;
            let content = super::payload::FileLink::describe(text, &links);
            let message = OutgoingMessage::customer_text(content);
            let sent = if files.is_empty() {
                cx.send_message(current()?, &message).await?
            } else {
                cx.send_message_with_files(current()?, &message, &files).await?
            };
            remember(flow, key, sent.id.map(|id| id.0), None).await
        }
        MirrorItem::Outgoing { text, buttons } => {
            let message = if buttons.is_empty() {
                OutgoingMessage::bot_text(text.clone())
            } else {
                let items = buttons
                    .iter()
                    .map(|b| ButtonItem { title: b.label.clone(), value: b.value.clone() })
                    .collect();
                OutgoingMessage::with_buttons(text.clone(), items)
            };
            let conversation = current()?;
            // Expected before CX can echo it: CX may post the echo before it answers the call.
            update_link(flow, key, |s| s.echoes.expect(text)).await?;
            let sent = cx.send_message(conversation, &message).await?;
            remember(flow, key, sent.id.map(|id| id.0), Some(text)).await
        }
        MirrorItem::Note { text } => {
            let sent =
                cx.send_message(current()?, &OutgoingMessage::private_note(text.clone())).await?;
            remember(flow, key, sent.id.map(|id| id.0), None).await
        }
        MirrorItem::DeliverToAgent => {
            let conversation = current()?;
            cx.deliver_to_agent(conversation).await?;
            flow.watch(key, conversation.0);
            Ok(())
        }
        MirrorItem::Finish => {
            let id = current()?;
            cx.finish(id).await?;
            update_link(flow, key, |session| session.link.conversation_id = None).await
        }
        MirrorItem::Fetch { .. } => Ok(()),
    }
}

/// With `cx_files: attachments`, the files uploaded to botrun, read back to go to CX as
/// attachments; the rest (every file with `links`, files the page only linked to, files no
/// longer on disk) stay links in the text.
async fn files_to_attach(flow: &FlowA, files: &[FileLink]) -> (Vec<FileToAttach>, Vec<FileLink>) {
    let widget = flow.widget.get();
    let mut attached = Vec::new();
    let mut links = Vec::new();
    for file in files {
        let stored = widget
            .filter(|_| flow.settings.cx_files == CxFiles::Attachments)
            .and_then(|widget| crate::widget::upload::stored_file(widget.config(), &file.url));
        let bytes = match stored {
            Some(path) => tokio::fs::read(&path).await.ok(),
            None => None,
        };
        match bytes {
            Some(bytes) => attached.push(FileToAttach {
                name: file.name.clone(),
                content_type: file.content_type.clone(),
                bytes,
            }),
            None => links.push(file.clone()),
        }
    }
    (attached, links)
}

/// Records the id CX gave a message botrun created, so its echo is recognised by id.
async fn remember(
    flow: &FlowA,
    key: &str,
    id: Option<u64>,
    text: Option<&String>,
) -> Result<(), MirrorError> {
    update_link(flow, key, |s| s.echoes.created(id, text.map(String::as_str))).await
}

/// Creates the contact (first time only) and a new CX conversation, recording each id as soon
/// as CX answers so a retry never creates a second one.
async fn open(flow: &FlowA, key: &str, session: Session) -> Result<(), MirrorError> {
    if session.link.conversation_id.is_some() {
        return Ok(());
    }
    let inbox = InboxId(flow.settings.inbox_id);
    let (contact_id, source_id) = match session.link.contact_id {
        Some(id) => (id, session.link.source_id.clone()),
        None => {
            let contact = session.contact_for_cx();
            let details = NewContact {
                name: contact.name.or_else(|| Some("Web visitor".into())),
                email: contact.email,
                phone: contact.phone,
            };
            let created = match flow.cx.create_contact(inbox, &details).await {
                Ok(created) => created,
                // A returning customer (another browser, cleared storage) gives an email or phone
                // CX already has: CX keeps them unique, so the conversation goes to that contact.
                Err(error) if error.is_contact_taken() => {
                    match flow.cx.find_contact(&details).await? {
                        Some(found) => found,
                        None => return Err(error.into()),
                    }
                }
                Err(error) => return Err(error.into()),
            };
            let source = created.source_id.clone();
            update_link(flow, key, |s| {
                s.link.contact_id = Some(created.id.0);
                s.link.source_id.clone_from(&source);
            })
            .await?;
            (created.id.0, source)
        }
    };
    let status = flow.settings.cx_status.as_deref();
    let conversation = flow
        .cx
        .create_conversation(inbox, ContactId(contact_id), source_id.as_deref(), status)
        .await?;
    let id = conversation.id.0;
    let reverse = Turn {
        conversation: session::reverse_key(id),
        expected_version: 0,
        state: session::widget_conversation(key).unwrap_or_default().as_bytes().to_vec(),
        ..Turn::default()
    };
    match flow.app.store.commit_turn(&reverse, flow.app.clock.now()).await {
        Ok(_) | Err(StoreError::Conflict { .. }) => {}
        Err(error) => return Err(error.into()),
    }
    update_link(flow, key, |s| s.link.conversation_id = Some(id)).await
}

/// Changes the stored session outside a turn (the worker is the only writer of its key, so a
/// conflict means another replica: reload and apply again).
async fn update_link(
    flow: &FlowA,
    key: &str,
    change: impl Fn(&mut Session),
) -> Result<(), MirrorError> {
    loop {
        let (version, mut session) = session::load(flow.app.store.as_ref(), key).await?;
        change(&mut session);
        let turn = Turn {
            conversation: key.to_owned(),
            expected_version: version,
            state: session.to_bytes(),
            ..Turn::default()
        };
        match flow.app.store.commit_turn(&turn, flow.app.clock.now()).await {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
}
