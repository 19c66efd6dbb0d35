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

pub(crate) use attachments::FileToAttach;
pub use auth::Credentials;

pub use client::CxClient;
pub(crate) use config::RateLimitScope;
pub use config::{CxConfig, RetryConfig};
pub use error::CxError;
pub(crate) use error::MESSAGE_SOURCE_ID_INDEX;
pub use event::{decode_event, CxEvent, MessageType};
pub(crate) use event::{
    ConversationEvent, ConversationInfo, ConversationStatus, MessageEvent, Participant,
};
pub(crate) use history::ListedMessage;
pub(crate) use ids::ContactId;
pub use ids::{AgentBotId, ConversationId, InboxId};
pub(crate) use rate_limit::RateLimiter;
pub(crate) use retry::jittered_backoff;
pub use retry::{parse_retry_after, RETRY_AFTER_CAP};
pub use signature::{sign, verify_signature};
pub use wire::{AgentBot, ButtonItem, Conversation, Inbox, NewContact, OutgoingMessage, Webhook};
pub(crate) use wire::{CreatedContact, SentMessage};
