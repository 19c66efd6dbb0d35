//! `botrun.yaml`: the service configuration. Strict (unknown keys are errors), every setting
//! defaulted so an empty file runs `botrun dev`, and errors that name the line and what is
//! allowed. Secrets are never in the file: it names the environment variables that hold them.
//! Documented for operators in `docs/configuration.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// How CX and browsers reach this service (used to print the webhook URL).
    pub public_url: String,
    /// `sqlite://FILE` (embedded, default) or `postgres://…` (shared by replicas).
    pub store: String,
    /// `full` (fsync every commit) or `process` (survives `kill -9`, not power loss).
    pub durability: crate::store::Durability,
    /// The bots this service runs and the CX inbox each one serves.
    pub bots: Vec<BotConfig>,
    /// Sangoma CX client settings (see docs/cx.md).
    pub cx: crate::cx::CxConfig,
    pub webhook: WebhookConfig,
    pub fetch: FetchConfig,
    pub limits: Limits,
    /// How long stored data is kept (see `retention`).
    pub retention: super::retention::Retention,
    pub log: LogConfig,
    /// What the per-turn decision records keep (see `decisions`).
    pub decisions: super::decisions::DecisionsConfig,
    /// Send `SendButtons` as CX `input_select` messages; when false, send the numbered
    /// fallback text instead (for channels that cannot show buttons).
    pub buttons: bool,
    /// The Web Chat widget (Flow A), when this service serves it.
    pub widget: Option<super::widget_config::WidgetSection>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".to_owned(),
            store: "sqlite://.botrun/botrun.db".to_owned(),
            durability: crate::store::Durability::Full,
            bots: Vec::new(),
            cx: crate::cx::CxConfig::default(),
            webhook: WebhookConfig::default(),
            fetch: FetchConfig::default(),
            limits: Limits::default(),
            retention: super::retention::Retention::default(),
            log: LogConfig::default(),
            decisions: super::decisions::DecisionsConfig::default(),
            buttons: true,
            widget: None,
        }
    }
}

/// One bot file and the inbox it answers.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BotConfig {
    pub file: PathBuf,
    /// CX inbox id; a bot without one answers every inbox no other bot claims.
    #[serde(default)]
    pub inbox_id: Option<u64>,
}

/// How webhook deliveries are authenticated.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Environment variable holding the secret token in the webhook path
    /// (`/webhooks/cx/{token}`); at least 32 characters.
    pub token_env: String,
    /// Environment variable holding the HMAC signing secret, when CX signs deliveries.
    pub signing_secret_env: Option<String>,
}

impl Default for WebhookConfig {
    fn default() -> WebhookConfig {
        WebhookConfig { token_env: "BOTRUN_WEBHOOK_TOKEN".to_owned(), signing_secret_env: None }
    }
}

/// Which hosts `fetch` may call.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct FetchConfig {
    pub allow_hosts: Vec<String>,
}

/// Resource limits.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest accepted webhook body, in bytes.
    pub body_bytes: usize,
    /// Inbound events one conversation may have queued before a `warn` line reports the backlog
    /// (events are still taken: refusing would lose them when CX does not retry).
    pub queue_per_conversation: u64,
    /// Failed attempts of one outbox item before the conversation goes to a human.
    pub outbox_retry_budget: u32,
    /// Seconds to finish in-flight work after SIGTERM or Ctrl-C.
    pub shutdown_deadline_secs: u64,
    /// Deadline of one HTTP request to this service, in milliseconds.
    pub request_timeout_ms: u64,
    /// Requests handled at once; more wait.
    pub concurrent_requests: usize,
    /// SQLite only: the store file never grows past this many megabytes; beyond it writes
    /// fail as on a full disk (CX gets 503 and retries, `/readyz` is 503) until rows go.
    pub store_max_mb: Option<u64>,
    /// PostgreSQL only: connections in the store's pool (default
    /// [`crate::store::DEFAULT_CONNECTIONS`]; the heartbeat has one more of its own).
    pub store_connections: Option<u32>,
    /// Time a client has to send a request's headers, and the longest a keep-alive connection
    /// may sit idle between requests, in milliseconds.
    pub header_timeout_ms: u64,
    /// Connections open at once; more are answered 503 and closed.
    pub connections: usize,
    /// Connections open at once from one client address; more are answered 429 and closed.
    pub connections_per_address: usize,
}

impl Limits {
    /// What the accept loop enforces.
    pub fn connection_limits(&self) -> super::listen::ConnectionLimits {
        super::listen::ConnectionLimits {
            header_timeout: std::time::Duration::from_millis(self.header_timeout_ms),
            max_connections: self.connections,
            per_address: self.connections_per_address,
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            body_bytes: 256 * 1024,
            queue_per_conversation: 200,
            outbox_retry_budget: 8,
            shutdown_deadline_secs: 25,
            request_timeout_ms: 10_000,
            concurrent_requests: 1024,
            store_max_mb: None,
            store_connections: None,
            header_timeout_ms: 10_000,
            connections: 4096,
            connections_per_address: 256,
        }
    }
}

/// Log output.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConfigError {
    #[error("cannot read `{path}`: {source}")]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("`{path}`: {message}")]
    #[diagnostic(help("see docs/configuration.md for every setting and its default"))]
    Invalid { path: PathBuf, message: String },
}

/// Tokens that look like documentation examples are refused outside `dev`.
const PLACEHOLDER_TOKENS: &[&str] = &["change-me", "changeme", "secret", "token", "example"];

/// Shortest webhook token accepted (unguessable: 32 random characters or more).
pub(crate) const MIN_TOKEN_LEN: usize = 32;

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Unreadable { path: path.to_owned(), source })?;
        let mut config = Config::parse(&text)
            .map_err(|message| ConfigError::Invalid { path: path.to_owned(), message })?;
        // Bot paths are relative to the file that names them, not to where botrun runs.
        let base = path.parent().unwrap_or_else(|| Path::new(""));
        for bot in &mut config.bots {
            bot.file = base.join(&bot.file);
        }
        if let Some(widget) = &mut config.widget {
            widget.bot = base.join(&widget.bot);
        }
        Ok(config)
    }

    /// Parses and validates configuration text; bot paths stay as written.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_norway::from_str(text).map_err(|e| e.to_string())?
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        let url = url::Url::parse(&self.public_url)
            .map_err(|e| format!("public_url `{}` is not a URL: {e}", self.public_url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "public_url `{}` must start with http:// or https://",
                self.public_url
            ));
        }
        if !(self.store.starts_with("sqlite:") || self.store.starts_with("postgres://")) {
            return Err(format!(
                "store `{}` is not supported: use `sqlite://FILE` or `postgres://…`",
                self.store
            ));
        }
        let mut inboxes = std::collections::BTreeSet::new();
        let mut catch_all = 0;
        for bot in &self.bots {
            match bot.inbox_id {
                Some(id) if !inboxes.insert(id) => {
                    return Err(format!(
                        "inbox {id} is served by two bots: give each inbox one bot"
                    ))
                }
                Some(_) => {}
                None => catch_all += 1,
            }
        }
        if catch_all > 1 {
            return Err(
                "only one bot may leave out `inbox_id` (it answers every other inbox)".into()
            );
        }
        let limits = &self.limits;
        for (name, value) in [
            ("limits.body_bytes", limits.body_bytes as u64),
            ("limits.queue_per_conversation", limits.queue_per_conversation),
            ("limits.outbox_retry_budget", u64::from(limits.outbox_retry_budget)),
            ("limits.request_timeout_ms", limits.request_timeout_ms),
            ("limits.concurrent_requests", limits.concurrent_requests as u64),
            ("limits.header_timeout_ms", limits.header_timeout_ms),
            ("limits.connections", limits.connections as u64),
            ("limits.connections_per_address", limits.connections_per_address as u64),
        ] {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if limits.store_max_mb.is_some() && !self.store.starts_with("sqlite:") {
            return Err("limits.store_max_mb applies to a `sqlite://` store only".into());
        }
        if limits.store_connections.is_some() && !self.store.starts_with("postgres://") {
            return Err("limits.store_connections applies to a `postgres://` store only".into());
        }
        if limits.store_connections.is_some_and(|n| n < 2) {
            return Err("limits.store_connections must be at least 2".into());
        }
        if limits.store_max_mb == Some(0) {
            return Err("limits.store_max_mb must be at least 1".into());
        }
        self.retention.validate()?;
        if self.webhook.token_env.trim().is_empty() {
            return Err("webhook.token_env must name an environment variable".into());
        }
        if let Some(widget) = &self.widget {
            widget.validate()?;
            if self.bots.iter().any(|b| b.inbox_id == Some(widget.inbox_id)) {
                return Err(format!(
                    "widget.inbox_id: inbox {} is also a Flow B bot's inbox; the widget needs \
                     an API-type inbox of its own",
                    widget.inbox_id
                ));
            }
        }
        Ok(())
    }
}

/// Checks a webhook token: `dev` accepts anything non-empty, production refuses short or
/// placeholder tokens.
pub fn check_token(token: &str, dev: bool) -> Result<(), String> {
    if token.is_empty() {
        return Err("the webhook token is empty".into());
    }
    if dev {
        return Ok(());
    }
    let lower = token.to_ascii_lowercase();
    if PLACEHOLDER_TOKENS.iter().any(|p| lower.contains(p)) {
        return Err(
            "the webhook token looks like a placeholder: generate one with `openssl rand -hex 32`"
                .into(),
        );
    }
    if token.len() < MIN_TOKEN_LEN {
        return Err(format!(
            "the webhook token has {} characters, at least {MIN_TOKEN_LEN} are required (try `openssl rand -hex 32`)",
            token.len()
        ));
    }
    Ok(())
}

/// A fresh random token for `botrun dev` (64 hex characters).
pub fn generate_token() -> String {
    crate::crypto::random_hex(32)
}
