//! `CxConfig`: everything the client needs to reach one CX tenant. Embedded under `cx:` in
//! `botrun.yaml`; every field has a default (documented in `docs/cx.md`) and unknown fields are
//! rejected so a typo never silently falls back to a default.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The path prefix of every Digital Interactions call \[S\].
pub(crate) const API_PREFIX: &str = "api/v1/digital-interactions/";

/// Whose budget the client-side rate limit is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitScope {
    /// One budget for the tenant: N live replicas each send at most `1/N` of it.
    #[default]
    Tenant,
    /// Every process has the whole budget (N replicas may send N times it).
    Process,
}

/// Connection, credentials and behaviour of the CX client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CxConfig {
    /// API base: what precedes `api/v1/digital-interactions/` \[S: `https://cpaas.sangoma.com/cx/`\].
    pub base_url: String,
    /// OAuth token endpoint \[S: `https://auth.sangoma.com/oauth/token`\].
    pub auth_url: String,
    /// Tenant named in every JSON body (`acme.cx.sangoma.com`) \[S\]. Required: no default tenant.
    pub tenant_domain: String,
    /// Name of the environment variable holding the OAuth client id \[G\].
    pub client_id_env: String,
    /// Name of the environment variable holding the OAuth client secret \[G\].
    pub client_secret_env: String,
    /// OAuth scope \[S: `cx.digital-interactions`\].
    pub scope: String,
    /// One path per call, relative to `base_url`.
    pub paths: CxPaths,
    /// Per call, a JSON object merged into the request body (its keys win).
    pub extra_body: CxExtraBody,
    /// Deadline of one HTTP attempt, connect to last byte, in milliseconds \[G\].
    pub timeout_ms: u64,
    /// Client-side limit on requests per second, shared by clones; 0 disables it [G, from the
    /// Chatwoot default of 3,000 per minute].
    pub rate_limit_per_second: u32,
    /// Whose budget `rate_limit_per_second` is: the tenant's, split evenly among the replicas
    /// that share a PostgreSQL store (the default), or each process's own.
    pub rate_limit_scope: RateLimitScope,
    /// Retry policy for transient failures.
    pub retry: RetryConfig,
}

impl Default for CxConfig {
    fn default() -> Self {
        Self {
            base_url: "https://cpaas.sangoma.com/cx/".to_owned(),
            auth_url: "https://auth.sangoma.com/oauth/token".to_owned(),
            tenant_domain: String::new(),
            client_id_env: "BOTRUN_CX_CLIENT_ID".to_owned(),
            client_secret_env: "BOTRUN_CX_CLIENT_SECRET".to_owned(),
            scope: "cx.digital-interactions".to_owned(),
            paths: CxPaths::default(),
            extra_body: CxExtraBody::default(),
            timeout_ms: 10_000,
            rate_limit_per_second: 50,
            rate_limit_scope: RateLimitScope::Tenant,
            retry: RetryConfig::default(),
        }
    }
}

impl CxConfig {
    /// Defaults pointed at a local emulator (tenant `dev.cx.localhost`).
    pub fn for_emulator(base_url: impl Into<String>, auth_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            auth_url: auth_url.into(),
            tenant_domain: "dev.cx.localhost".to_owned(),
            ..Self::default()
        }
    }
}

/// Path of each call, relative to `base_url`. A leading `/` is ignored so the base's own path
/// (`/cx/`) is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CxPaths {
    /// `POST` — subscribe a webhook \[S\].
    pub webhooks: String,
    /// `GET` — list inboxes \[S\].
    pub inboxes: String,
    /// `POST` — create a contact \[S\].
    pub contacts: String,
    /// `PUT` — change a contact's name, email or phone, `{contact_id}` replaced \[G: not
    /// published; Chatwoot's `PUT contacts/{id}`\].
    pub contact_update: String,
    /// `GET` — find contacts by email or phone, `?q=` added \[G: not published; Chatwoot's
    /// `GET contacts/search`\]. Flow A uses it when CX refuses a new contact whose email or
    /// phone another contact already has.
    pub contact_search: String,
    /// `POST` — create a conversation \[G: not published\].
    pub conversations: String,
    /// `POST` — create a message \[S\].
    pub messages: String,
    /// `POST` — hand a conversation to humans \[S\].
    pub deliver_to_agent: String,
    /// `POST` — resolve a conversation \[G: not published\].
    pub finish: String,
    /// `POST` — create an agent bot \[S\] (older deployments: `agent-bot/`).
    pub agent_bots: String,
    /// `POST` — assign an agent bot to an inbox \[S\] (older deployments: `assign-agent-bot/`).
    pub agent_bot_assign: String,
    /// `GET` — a conversation's messages, `{conversation_id}` replaced \[G: not published; the
    /// shape of Chatwoot's messages listing\]. Empty: the tenant has no such call.
    pub message_list: String,
}

impl Default for CxPaths {
    fn default() -> Self {
        let path = |tail: &str| format!("{API_PREFIX}{tail}");
        Self {
            webhooks: path("webhooks/"),
            inboxes: path("inboxes/"),
            contacts: path("contacts/"),
            contact_update: path("contacts/{contact_id}/"),
            contact_search: path("contacts/search"),
            conversations: path("conversations/"),
            messages: path("messages/"),
            deliver_to_agent: path("conversations/deliver-to-agent/"),
            finish: path("conversations/finish/"),
            agent_bots: path("agents-bot/"),
            agent_bot_assign: path("agents-bot/assign/"),
            message_list: path("conversations/{conversation_id}/messages/"),
        }
    }
}

/// Extra JSON fields per call, for deployments that need fields nobody published \[G\].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CxExtraBody {
    pub webhooks: Map<String, Value>,
    pub contacts: Map<String, Value>,
    pub contact_update: Map<String, Value>,
    pub conversations: Map<String, Value>,
    pub messages: Map<String, Value>,
    pub deliver_to_agent: Map<String, Value>,
    pub finish: Map<String, Value>,
    pub agent_bots: Map<String, Value>,
    pub agent_bot_assign: Map<String, Value>,
}

/// How transient failures are retried: capped exponential backoff with full jitter \[G\].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts per call including the first; 1 disables retries.
    pub max_attempts: u32,
    /// Backoff ceiling of the first retry, in milliseconds.
    pub base_delay_ms: u64,
    /// Largest backoff ceiling, in milliseconds.
    pub max_delay_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self { max_attempts: 5, base_delay_ms: 200, max_delay_ms: 10_000 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_yaml_gives_defaults_and_unknown_fields_are_rejected() {
        let config: CxConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, CxConfig::default());
        let error = serde_json::from_str::<CxConfig>(r#"{"base_ulr": "x"}"#).unwrap_err();
        assert!(error.to_string().contains("unknown field `base_ulr`"), "{error}");
        let error = serde_json::from_str::<CxConfig>(r#"{"paths": {"inbox": "x"}}"#).unwrap_err();
        assert!(error.to_string().contains("unknown field `inbox`"), "{error}");
    }

    #[test]
    fn partial_overrides_keep_other_defaults() {
        let config: CxConfig = serde_json::from_str(
            r#"{"paths": {"finish": "conversations/close/"}, "retry": {"max_attempts": 2}}"#,
        )
        .unwrap();
        assert_eq!(config.paths.finish, "conversations/close/");
        assert_eq!(config.paths.messages, CxPaths::default().messages);
        assert_eq!(config.retry.max_attempts, 2);
        assert_eq!(config.retry.base_delay_ms, 200);
    }
}
