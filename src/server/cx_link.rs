//! Connects the outbox to Sangoma CX: the CX client implements [`CxOutbound`]. The client
//! already retries transient failures a few times within one call; the outbox adds durable,
//! longer retries on top and decides when to give up and hand the conversation to a human.

use std::sync::Arc;

use super::outbox::{CxFuture, SentFuture};
use super::{Config, CxOutbound, DeliveryError, ServeError};
use crate::cx::{ButtonItem, ConversationId, CxClient, CxError, OutgoingMessage};
use crate::engine::Button;

/// Builds the CX client from the `cx:` section (credentials from the variables it names).
pub(crate) fn connect_cx(config: &Config) -> Result<Arc<dyn CxOutbound>, ServeError> {
    let client = CxClient::new(config.cx.clone()).map_err(|e| ServeError::Cx(e.to_string()))?;
    Ok(Arc::new(client))
}

fn delivery_error(error: &CxError) -> DeliveryError {
    DeliveryError {
        retryable: error.is_transient(),
        retry_after: error.retry_after(),
        message: error.to_string(),
    }
}

fn conversation(id: &str) -> Result<ConversationId, DeliveryError> {
    id.parse().map_err(|_| DeliveryError {
        retryable: false,
        retry_after: None,
        message: format!("`{id}` is not a CX conversation id"),
    })
}

/// Creates `message`; a refusal because a message with its key exists counts as done: an
/// earlier attempt made it (a crash or a lost answer between CX creating it and botrun noting it).
async fn send(client: &CxClient, id: &str, message: OutgoingMessage) -> Result<(), DeliveryError> {
    let id = conversation(id)?;
    match client.send_message(id, &message).await {
        Ok(_) => Ok(()),
        Err(error) if error.is_duplicate_source_id() => {
            tracing::info!(conversation = %id.0, key = ?message.source_id,
                "CX already has this message (made by an earlier attempt); not sent again");
            Ok(())
        }
        Err(error) => Err(delivery_error(&error)),
    }
}

impl CxOutbound for CxClient {
    fn send_text<'a>(
        &'a self,
        conversation_id: &'a str,
        text: &'a str,
        private: bool,
        key: &'a str,
    ) -> CxFuture<'a> {
        let message = if private {
            OutgoingMessage::private_note(text)
        } else {
            OutgoingMessage::bot_text(text)
        };
        Box::pin(send(self, conversation_id, message.with_source_id(key)))
    }

    fn send_buttons<'a>(
        &'a self,
        conversation_id: &'a str,
        text: &'a str,
        buttons: &'a [Button],
        key: &'a str,
    ) -> CxFuture<'a> {
        let items = buttons
            .iter()
            .map(|b| ButtonItem { title: b.label.clone(), value: b.value.clone() })
            .collect();
        let message = OutgoingMessage::with_buttons(text, items).with_source_id(key);
        Box::pin(send(self, conversation_id, message))
    }

    fn already_sent<'a>(&'a self, conversation_id: &'a str, key: &'a str) -> SentFuture<'a> {
        Box::pin(async move {
            if !self.can_list_messages() {
                return Ok(None);
            }
            let id = conversation(conversation_id)?;
            // Chatwoot lists the newest 20 messages: the one in doubt is the newest the bot
            // made, so it is among them unless twenty others came after it.
            let listed = self.list_messages(id, None).await.map_err(|e| delivery_error(&e))?;
            Ok(Some(listed.iter().any(|m| m.source_id.as_deref() == Some(key))))
        })
    }

    fn deliver_to_agent<'a>(&'a self, conversation_id: &'a str) -> CxFuture<'a> {
        Box::pin(async move {
            let id = conversation(conversation_id)?;
            self.deliver_to_agent(id).await.map_err(|e| delivery_error(&e))
        })
    }

    fn finish<'a>(&'a self, conversation_id: &'a str) -> CxFuture<'a> {
        Box::pin(async move {
            let id = conversation(conversation_id)?;
            self.finish(id).await.map_err(|e| delivery_error(&e))
        })
    }

    fn rate_limiter(&self) -> Option<crate::cx::RateLimiter> {
        Some(CxClient::rate_limiter(self))
    }
}
