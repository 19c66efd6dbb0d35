//! `CxClient`: one cheap-to-clone handle (one shared `reqwest::Client`, token cache and rate
//! limiter) with a method per CX call of both flows. Every attempt is rate limited and has a
//! deadline; transient failures are retried with backoff; a 401 renews the token once.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, ACCEPT, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use url::Url;

use super::auth::{AccessToken, Credentials, TokenResponse};
use super::config::CxConfig;
use super::error::{body_excerpt, is_retryable_status, CxError};
use super::ids::{AgentBotId, ContactId, ConversationId, InboxId};
use super::rate_limit::RateLimiter;
use super::retry::{jittered_backoff, parse_retry_after};
use super::wire::{
    read_agent_bot, read_contact, read_conversation, read_inboxes, read_message, read_webhook,
    AgentBot, Conversation, CreatedContact, Inbox, NewContact, OutgoingMessage, SentMessage,
    Webhook, DEFAULT_WEBHOOK_EVENTS,
};

/// What an API call sends.
pub(super) enum RequestBody {
    Json(Value),
    /// Bytes sent as they are, e.g. `multipart/form-data; boundary=…`.
    Raw {
        content_type: String,
        bytes: Vec<u8>,
    },
}

/// Handle on one CX tenant. Clones share the HTTP connection pool, the token and the rate limit.
#[derive(Clone)]
pub struct CxClient {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    http: reqwest::Client,
    pub(super) config: CxConfig,
    base_url: Url,
    auth_url: Url,
    credentials: Credentials,
    /// Held while a token is fetched, so concurrent callers wait for one fetch instead of each
    /// starting their own.
    token: tokio::sync::Mutex<Option<AccessToken>>,
    limiter: RateLimiter,
}

impl fmt::Debug for CxClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CxClient")
            .field("base_url", &self.inner.base_url.as_str())
            .field("tenant_domain", &self.inner.config.tenant_domain)
            .field("credentials", &self.inner.credentials)
            .finish_non_exhaustive()
    }
}

/// A finished HTTP exchange that the caller still has to interpret.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

impl CxClient {
    /// A client for `config`, with credentials read from the environment variables it names.
    pub fn new(config: CxConfig) -> Result<Self, CxError> {
        let credentials = Credentials::from_env(&config.client_id_env, &config.client_secret_env)
            .map_err(CxError::Config)?;
        Self::with_credentials(config, credentials)
    }

    /// A client for `config` whose calls go through `limiter` (shared with another client of
    /// the same tenant, so one process has one budget), credentials from the environment.
    pub(crate) fn sharing_rate_limit(
        config: CxConfig,
        limiter: RateLimiter,
    ) -> Result<Self, CxError> {
        let credentials = Credentials::from_env(&config.client_id_env, &config.client_secret_env)
            .map_err(CxError::Config)?;
        Self::build(config, credentials, Some(limiter))
    }

    /// A client for `config` with explicit credentials (tests, the emulator's defaults).
    pub fn with_credentials(config: CxConfig, credentials: Credentials) -> Result<Self, CxError> {
        Self::build(config, credentials, None)
    }

    /// The rate limit this client's calls go through (clones share it).
    pub(crate) fn rate_limiter(&self) -> RateLimiter {
        self.inner.limiter.clone()
    }

    fn build(
        config: CxConfig,
        credentials: Credentials,
        limiter: Option<RateLimiter>,
    ) -> Result<Self, CxError> {
        if config.tenant_domain.trim().is_empty() {
            return Err(CxError::Config(
                "`tenant_domain` is not set (your tenant, e.g. `acme.cx.sangoma.com`)".to_owned(),
            ));
        }
        let base_url = parse_http_url("base_url", &config.base_url, true)?;
        let auth_url = parse_http_url("auth_url", &config.auth_url, false)?;
        if config.timeout_ms == 0 {
            return Err(CxError::Config("`timeout_ms` must be above 0".to_owned()));
        }
        if config.retry.max_attempts == 0 {
            return Err(CxError::Config("`retry.max_attempts` must be at least 1".to_owned()));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("botrun/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_millis(config.timeout_ms))
            .build()
            .map_err(|error| CxError::Config(format!("cannot build the HTTP client: {error}")))?;
        let limiter = limiter.unwrap_or_else(|| RateLimiter::new(config.rate_limit_per_second));
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                base_url,
                auth_url,
                credentials,
                token: tokio::sync::Mutex::new(None),
                limiter,
            }),
        })
    }

    /// The configuration this client runs with.
    pub fn config(&self) -> &CxConfig {
        &self.inner.config
    }

    /// A valid access token: the cached one, or a new one when it is close to expiry.
    pub async fn token(&self) -> Result<AccessToken, CxError> {
        self.token_replacing(None).await
    }

    /// `GET inboxes/` \[S\].
    pub async fn list_inboxes(&self) -> Result<Vec<Inbox>, CxError> {
        const CALL: &str = "list_inboxes";
        let path = self.inner.config.paths.inboxes.clone();
        let body = self.api_call(CALL, Method::GET, &path, None).await?;
        read_inboxes(&parse_json(CALL, &body)?).map_err(|reason| decode_error(CALL, reason, &body))
    }

    /// `POST webhooks/` \[S\]: subscribe `url` to `events` (the \[S\] pair when empty).
    pub async fn create_webhook(&self, url: &str, events: &[&str]) -> Result<Webhook, CxError> {
        const CALL: &str = "create_webhook";
        let events: Vec<String> = if events.is_empty() {
            DEFAULT_WEBHOOK_EVENTS.iter().map(|&e| e.to_owned()).collect()
        } else {
            events.iter().map(|&e| e.to_owned()).collect()
        };
        let config = &self.inner.config;
        let request = self.body(&config.extra_body.webhooks, |body| {
            body.insert("url".into(), json!(url));
            body.insert("subscriptions".into(), json!(events));
        });
        let body = self.api_call(CALL, Method::POST, &config.paths.webhooks, Some(request)).await?;
        read_webhook(&parse_json_or_null(CALL, &body)?, url, &events)
            .map_err(|reason| decode_error(CALL, reason, &body))
    }

    /// `POST contacts/` \[S\]: create the customer's contact in `inbox_id`.
    pub async fn create_contact(
        &self,
        inbox_id: InboxId,
        contact: &NewContact,
    ) -> Result<CreatedContact, CxError> {
        const CALL: &str = "create_contact";
        let config = &self.inner.config;
        let request = self.body(&config.extra_body.contacts, |body| {
            body.insert("inbox_id".into(), json!(inbox_id));
            for (key, value) in [
                ("name", &contact.name),
                ("email", &contact.email),
                ("phone_number", &contact.phone),
            ] {
                if let Some(value) = value {
                    body.insert(key.into(), json!(value));
                }
            }
        });
        let body = self.api_call(CALL, Method::POST, &config.paths.contacts, Some(request)).await?;
        read_contact(&parse_json(CALL, &body)?).map_err(|reason| decode_error(CALL, reason, &body))
    }

    /// `POST conversations/` \[G: path not published\]: open a conversation for a contact.
    pub async fn create_conversation(
        &self,
        inbox_id: InboxId,
        contact_id: ContactId,
        source_id: Option<&str>,
        status: Option<&str>,
    ) -> Result<Conversation, CxError> {
        const CALL: &str = "create_conversation";
        let config = &self.inner.config;
        let request = self.body(&config.extra_body.conversations, |body| {
            body.insert("inbox_id".into(), json!(inbox_id));
            body.insert("contact_id".into(), json!(contact_id));
            if let Some(source_id) = source_id {
                body.insert("source_id".into(), json!(source_id));
            }
            // Chatwoot starts an API conversation `open` (the agents' queue) unless told.
            if let Some(status) = status {
                body.insert("status".into(), json!(status));
            }
        });
        let body =
            self.api_call(CALL, Method::POST, &config.paths.conversations, Some(request)).await?;
        read_conversation(&parse_json(CALL, &body)?)
            .map_err(|reason| decode_error(CALL, reason, &body))
    }

    /// `POST messages/` \[S\]: add a message (bot text, mirrored customer text, private note,
    /// buttons) to a conversation.
    pub async fn send_message(
        &self,
        conversation_id: ConversationId,
        message: &OutgoingMessage,
    ) -> Result<SentMessage, CxError> {
        const CALL: &str = "send_message";
        let config = &self.inner.config;
        let request = self.body(&config.extra_body.messages, |body| {
            body.insert("conversation_id".into(), json!(conversation_id));
            message.body_fields(body);
        });
        let body = self.api_call(CALL, Method::POST, &config.paths.messages, Some(request)).await?;
        Ok(read_message(&parse_json_or_null(CALL, &body)?))
    }

    /// `POST conversations/deliver-to-agent/` \[S\]: hand the conversation to humans.
    pub async fn deliver_to_agent(&self, conversation_id: ConversationId) -> Result<(), CxError> {
        let config = &self.inner.config;
        let request = self.body(&config.extra_body.deliver_to_agent, |body| {
            body.insert("conversation_id".into(), json!(conversation_id));
        });
        self.api_call(
            "deliver_to_agent",
            Method::POST,
            &config.paths.deliver_to_agent,
            Some(request),
        )
        .await
        .map(drop)
    }

    /// `POST conversations/finish/` \[G: path not published\]: resolve the conversation.
    pub async fn finish(&self, conversation_id: ConversationId) -> Result<(), CxError> {
        let config = &self.inner.config;
        let request = self.body(&config.extra_body.finish, |body| {
            body.insert("conversation_id".into(), json!(conversation_id));
        });
        self.api_call("finish", Method::POST, &config.paths.finish, Some(request)).await.map(drop)
    }

    /// `POST agents-bot/` \[S\]: register an agent bot whose events go to `outgoing_url` (Flow B).
    pub async fn create_agent_bot(
        &self,
        name: &str,
        description: &str,
        outgoing_url: &str,
    ) -> Result<AgentBot, CxError> {
        const CALL: &str = "create_agent_bot";
        let config = &self.inner.config;
        let request = self.body(&config.extra_body.agent_bots, |body| {
            body.insert("name".into(), json!(name));
            body.insert("description".into(), json!(description));
            body.insert("outgoing_url".into(), json!(outgoing_url));
        });
        let body =
            self.api_call(CALL, Method::POST, &config.paths.agent_bots, Some(request)).await?;
        read_agent_bot(&parse_json(CALL, &body)?, name, outgoing_url)
            .map_err(|reason| decode_error(CALL, reason, &body))
    }

    /// `POST agents-bot/assign/` \[S\]: make an agent bot answer an inbox (Flow B).
    pub async fn assign_agent_bot(
        &self,
        inbox_id: InboxId,
        agent_bot_id: AgentBotId,
    ) -> Result<(), CxError> {
        let config = &self.inner.config;
        let request = self.body(&config.extra_body.agent_bot_assign, |body| {
            body.insert("inbox_id".into(), json!(inbox_id));
            body.insert("agent_bot_id".into(), json!(agent_bot_id));
        });
        self.api_call(
            "assign_agent_bot",
            Method::POST,
            &config.paths.agent_bot_assign,
            Some(request),
        )
        .await
        .map(drop)
    }

    /// A JSON body: `tenant_domain` \[S\], the call's fields, then the operator's extra fields
    /// (which win, so a deployment can correct a field without a rebuild).
    pub(super) fn body(
        &self,
        extra: &Map<String, Value>,
        fields: impl FnOnce(&mut Map<String, Value>),
    ) -> Value {
        let mut body = Map::new();
        body.insert("tenant_domain".into(), json!(self.inner.config.tenant_domain));
        fields(&mut body);
        for (key, value) in extra {
            body.insert(key.clone(), value.clone());
        }
        Value::Object(body)
    }

    /// One authenticated API call: retries transient failures, renews the token once on a 401,
    /// and returns the success body.
    pub(super) async fn api_call(
        &self,
        call: &'static str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Vec<u8>, CxError> {
        self.api_call_with(call, method, path, body.map(RequestBody::Json)).await
    }

    /// [`CxClient::api_call`] with any kind of body (JSON or multipart form data).
    pub(super) async fn api_call_with(
        &self,
        call: &'static str,
        method: Method,
        path: &str,
        body: Option<RequestBody>,
    ) -> Result<Vec<u8>, CxError> {
        let url = self.inner.base_url.join(path.trim_start_matches('/')).map_err(|error| {
            CxError::Config(format!("path {path:?} for {call} is not a valid URL path: {error}"))
        })?;
        let mut token = self.token().await?;
        let mut renewed = false;
        loop {
            let outcome = self
                .send_with_retries(call, || {
                    let request = self
                        .inner
                        .http
                        .request(method.clone(), url.clone())
                        .bearer_auth(token.expose())
                        .header(ACCEPT, "application/json");
                    match &body {
                        Some(RequestBody::Json(body)) => request.json(body),
                        Some(RequestBody::Raw { content_type, bytes }) => request
                            .header(reqwest::header::CONTENT_TYPE, content_type.as_str())
                            .body(bytes.clone()),
                        None => request,
                    }
                })
                .await;
            match outcome {
                Err(CxError::Http { status: 401, .. }) if !renewed => {
                    tracing::info!(call, "CX refused the access token; renewing it once");
                    renewed = true;
                    token = self.token_replacing(Some(&token)).await?;
                }
                Err(error) => return Err(error),
                Ok(answer) => return Ok(answer.body),
            }
        }
    }

    /// The cached token unless it is stale or is the one CX just refused (`refused`).
    async fn token_replacing(&self, refused: Option<&AccessToken>) -> Result<AccessToken, CxError> {
        let mut cache = self.inner.token.lock().await;
        if let Some(cached) = cache.as_ref() {
            let refused_this_one = refused.is_some_and(|r| r.expose() == cached.expose());
            if !refused_this_one && cached.is_fresh(tokio::time::Instant::now()) {
                return Ok(cached.clone());
            }
        }
        *cache = None;
        let token = self.fetch_token().await?;
        *cache = Some(token.clone());
        Ok(token)
    }

    /// `POST <auth_url>` with client-credentials \[S\].
    async fn fetch_token(&self) -> Result<AccessToken, CxError> {
        const CALL: &str = "token";
        let inner = &self.inner;
        let form = [("grant_type", "client_credentials"), ("scope", inner.config.scope.as_str())];
        let outcome = self
            .send_with_retries(CALL, || {
                inner
                    .http
                    .post(inner.auth_url.clone())
                    .basic_auth(&inner.credentials.client_id, Some(inner.credentials.secret()))
                    .header(ACCEPT, "application/json")
                    .form(&form)
            })
            .await;
        let answer = match outcome {
            Ok(answer) => answer,
            Err(CxError::Http { status, body_excerpt, .. })
                if matches!(status, 400 | 401 | 403) =>
            {
                return Err(CxError::Auth {
                    status: Some(status),
                    message: format!(
                        "CX rejected the credentials ({status}) — check {} and {}: {body_excerpt}",
                        inner.config.client_id_env, inner.config.client_secret_env
                    ),
                })
            }
            Err(CxError::Http { status, body_excerpt, .. }) => {
                return Err(CxError::Auth {
                    status: Some(status),
                    message: format!(
                        "the CX token endpoint {} answered {status}: {body_excerpt}",
                        inner.auth_url
                    ),
                })
            }
            Err(other) => return Err(other),
        };
        let response: TokenResponse =
            serde_json::from_slice(&answer.body).map_err(|error| CxError::Auth {
                status: Some(answer.status.as_u16()),
                message: format!(
                    "the CX token endpoint {} answered without a usable access token ({error}): {}",
                    inner.auth_url,
                    body_excerpt(&answer.body)
                ),
            })?;
        if response.access_token.trim().is_empty() {
            return Err(CxError::Auth {
                status: Some(answer.status.as_u16()),
                message: format!(
                    "the CX token endpoint {} answered an empty access token",
                    inner.auth_url
                ),
            });
        }
        Ok(AccessToken::new(
            response.access_token,
            response.token_type.unwrap_or_else(|| "bearer".to_owned()),
            response.scope,
            response.expires_in,
        ))
    }

    /// Sends the request `build` makes, retrying 408/425/429/5xx answers, connection errors and
    /// timeouts with backoff (or `Retry-After`). Non-success answers become `CxError::Http`.
    ///
    /// Timeouts are retried for every call, creates included: the request may have reached CX,
    /// so a message can be created twice. That is the at-least-once promise of the whole
    /// pipeline (the outbox would resend it anyway); a lost bot reply is worse than a doubled one.
    async fn send_with_retries(
        &self,
        call: &'static str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Answer, CxError> {
        let config = &self.inner.config;
        let timeout = Duration::from_millis(config.timeout_ms);
        let max_attempts = config.retry.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            self.inner.limiter.acquire().await;
            let exchange = tokio::time::timeout(timeout, async {
                let response = build().send().await?;
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await?.to_vec();
                Ok::<_, reqwest::Error>((status, headers, body))
            })
            .await;
            let (error, server_wait) = match exchange {
                Err(_elapsed) => (CxError::Timeout { call, timeout_ms: config.timeout_ms }, None),
                Ok(Err(error)) if error.is_timeout() => {
                    (CxError::Timeout { call, timeout_ms: config.timeout_ms }, None)
                }
                Ok(Err(error)) => {
                    (CxError::Network { call, reason: describe_reqwest_error(&error) }, None)
                }
                Ok(Ok((status, _, body))) if status.is_success() => {
                    return Ok(Answer { status, body })
                }
                Ok(Ok((status, headers, body))) => {
                    let wait = retry_after_header(&headers);
                    let error = CxError::Http {
                        call,
                        status: status.as_u16(),
                        body_excerpt: body_excerpt(&body),
                        retry_after: wait,
                    };
                    if !is_retryable_status(status.as_u16()) {
                        return Err(error);
                    }
                    (error, wait)
                }
            };
            if attempt >= max_attempts {
                return Err(error);
            }
            let delay = server_wait.unwrap_or_else(|| jittered_backoff(&config.retry, attempt));
            tracing::warn!(call, attempt, delay_ms = delay.as_millis(), %error, "retrying CX call");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// The innermost cause of a transport error ("connection refused", "connection reset"), which
/// is what a person needs, plus the URL.
fn describe_reqwest_error(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    match error.url() {
        Some(url) => format!("{cause} ({url})"),
        None => cause.to_string(),
    }
}

fn parse_http_url(field: &str, text: &str, as_base: bool) -> Result<Url, CxError> {
    let mut text = text.trim().to_owned();
    if as_base && !text.ends_with('/') {
        // Without the slash, `join` would drop the base's last path segment (`/cx`).
        text.push('/');
    }
    let url = Url::parse(&text).map_err(|error| {
        CxError::Config(format!("`{field}` {text:?} is not a valid URL: {error}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(CxError::Config(format!("`{field}` {text:?} must be an http(s) URL")));
    }
    Ok(url)
}

pub(super) fn parse_json(call: &'static str, body: &[u8]) -> Result<Value, CxError> {
    serde_json::from_slice(body)
        .map_err(|error| decode_error(call, format!("the body is not JSON ({error})"), body))
}

/// Like [`parse_json`], but an empty body reads as `null` (for calls whose answer we barely use).
pub(super) fn parse_json_or_null(call: &'static str, body: &[u8]) -> Result<Value, CxError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(Value::Null)
    } else {
        parse_json(call, body)
    }
}

pub(super) fn decode_error(call: &'static str, reason: String, body: &[u8]) -> CxError {
    CxError::Decode { call, reason, body_excerpt: body_excerpt(body) }
}
