//! CX: the Sangoma CX Digital Interactions API client (OAuth token cache, every call of both
//! flows, tolerant decoding, retries with backoff, client-side rate limit) and its wire types,
//! including webhook event decoding and signature verification for the service.
//!
//! Imports nothing else from botrun. Tags in doc comments follow `sangoma-cx.md`: \[S\] published
//! by Sangoma, \[C\] Chatwoot's behaviour (likely, not confirmed), \[G\] our own decision.

mod attachments;
mod auth;
mod client;
mod config;
mod contact_update;
mod error;
mod event;
mod history;
mod ids;
mod rate_limit;
mod retry;
mod signature;
mod wire;

pub use attachments::FileToAttach;
pub use auth::{AccessToken, Credentials};
pub use client::CxClient;
pub use config::{CxConfig, CxExtraBody, CxPaths, RateLimitScope, RetryConfig, API_PREFIX};
pub use error::{
    body_excerpt, is_retryable_status, CxError, EXCERPT_CHARS, MESSAGE_SOURCE_ID_INDEX,
};
pub use event::{
    decode_event, AttributeChange, ConversationEvent, ConversationInfo, ConversationStatus,
    CxEvent, DecodeError, EmbeddedMessage, MessageEvent, MessageType, Participant, ParticipantKind,
    WidgetTriggered,
};
pub use history::ListedMessage;
pub use ids::{AgentBotId, ContactId, ConversationId, InboxId, MessageId, WebhookId};
pub use rate_limit::RateLimiter;
pub use retry::{backoff_ceiling, jittered_backoff, parse_retry_after, RETRY_AFTER_CAP};
pub use signature::{sign, verify_signature, SignatureError, SIGNATURE_WINDOW};
pub use wire::{
    AgentBot, ButtonItem, Conversation, CreatedContact, Inbox, MessageDirection, NewContact,
    OutgoingMessage, SentMessage, Webhook, DEFAULT_WEBHOOK_EVENTS,
};
