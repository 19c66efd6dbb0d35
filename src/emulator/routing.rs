//! Who hears which event, after Chatwoot's listeners: `app/listeners/webhook_listener.rb` posts
//! to every account webhook subscribed to the event, `app/listeners/agent_bot_listener.rb` to the
//! active agent bot of the conversation's inbox. Message events go out only for messages that
//! are `webhook_sendable?` (incoming, outgoing or template — never activity messages;
//! `app/models/concerns/message_filter_helpers.rb`), private notes included.

use serde_json::Value;

use super::model::{Conversation, Inbox, Message, MessageType, Notification, Target, World};

/// Events an account webhook may subscribe to (`Webhook::ALLOWED_WEBHOOK_EVENTS`).
pub(crate) const WEBHOOK_EVENTS: &[&str] = &[
    "conversation_created",
    "conversation_status_changed",
    "conversation_updated",
    "message_created",
    "message_updated",
    "webwidget_triggered",
    "contact_created",
    "contact_updated",
    "conversation_typing_on",
    "conversation_typing_off",
];

/// Events the agent bot of an inbox receives (`AgentBotListener`'s public methods). It never
/// hears `conversation_created`: a bot learns of a conversation from its first message.
pub(crate) const AGENT_BOT_EVENTS: &[&str] = &[
    "conversation_resolved",
    "conversation_opened",
    "conversation_status_changed",
    "conversation_updated",
    "message_created",
    "message_updated",
    "webwidget_triggered",
];

/// Account webhooks never hear `conversation_opened` / `conversation_resolved`; those exist for
/// agent bots only.
const AGENT_BOT_ONLY: &[&str] = &["conversation_opened", "conversation_resolved"];

/// Every delivery `body` (an event with its `event` field) causes.
pub(crate) fn addressees(
    world: &World,
    body: &Value,
    inbox: &Inbox,
    conversation: Option<&Conversation>,
    message: Option<&Message>,
) -> Vec<Notification> {
    let Some(event) = body.get("event").and_then(Value::as_str) else {
        return Vec::new();
    };
    if message.is_some_and(|m| m.message_type == MessageType::Activity) {
        return Vec::new();
    }
    let notification = |url: &str, target: Target| Notification {
        url: url.to_owned(),
        target,
        event: event.to_owned(),
        conversation_id: conversation.map(|c| c.id),
        message_id: message.map(|m| m.id),
        body: body.clone(),
    };
    let mut out: Vec<Notification> = Vec::new();
    if !AGENT_BOT_ONLY.contains(&event) {
        out.extend(
            world
                .webhooks
                .values()
                .filter(|hook| hook.subscriptions.iter().any(|name| name == event))
                .map(|hook| notification(&hook.url, Target::AccountWebhook)),
        );
    }
    if AGENT_BOT_EVENTS.contains(&event) {
        if let Some(bot) = inbox.agent_bot_id.and_then(|id| world.agent_bots.get(&id)) {
            out.push(notification(&bot.outgoing_url, Target::AgentBot));
        }
    }
    out
}
