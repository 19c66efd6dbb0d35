//! Connects the outbox to Sangoma CX: the CX client implements [`CxOutbound`]. The client
//! already retries transient failures a few times within one call; the outbox adds durable,
//! longer retries on top and decides when to give up and hand the conversation to a human.

use std::sync::Arc;

use super::outbox::CxFuture;
use super::{Config, CxOutbound, DeliveryError, ServeError};
use crate::cx::{ButtonItem, ConversationId, CxClient, CxError, OutgoingMessage};
use crate::engine::Button;

/// Builds the CX client from the `cx:` section (credentials from the variables it names).
pub fn connect_cx(config: &Config) -> Result<Arc<dyn CxOutbound>, ServeError> {
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

async fn send(client: &CxClient, id: &str, message: OutgoingMessage) -> Result<(), DeliveryError> {
    let id = conversation(id)?;
    client.send_message(id, &message).await.map(drop).map_err(|e| delivery_error(&e))
}

impl CxOutbound for CxClient {
    fn send_text<'a>(
        &'a self,
        conversation_id: &'a str,
        text: &'a str,
        private: bool,
    ) -> CxFuture<'a> {
        let message = if private {
            OutgoingMessage::private_note(text)
        } else {
            OutgoingMessage::bot_text(text)
        };
        Box::pin(send(self, conversation_id, message))
    }

    fn send_buttons<'a>(
        &'a self,
        conversation_id: &'a str,
        text: &'a str,
        buttons: &'a [Button],
    ) -> CxFuture<'a> {
        let items = buttons
            .iter()
            .map(|b| ButtonItem { title: b.label.clone(), value: b.value.clone() })
            .collect();
        Box::pin(send(self, conversation_id, OutgoingMessage::with_buttons(text, items)))
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
