//! The `widget:` section of `botrun.yaml`: serving the Web Chat widget (Flow A) from
//! `botrun serve` — which bot answers it, the CX inbox its conversations are mirrored into, the
//! sites allowed to embed it, and where the widget history is kept. Secrets stay in environment
//! variables the section names.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::flow_a::{CxFiles, FlowASettings, OpenAt};
use crate::widget::{Site, UploadSettings, WidgetConfig, WidgetLimits};

/// `widget:`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WidgetSection {
    /// The bot that answers the widget.
    pub bot: PathBuf,
    /// The API-type CX inbox conversations are created in.
    pub inbox_id: u64,
    /// `first_message` (default) or `start`: when the CX contact and conversation are created.
    #[serde(default)]
    pub open_at: OpenAt,
    /// Shown on the page when an agent finishes the conversation in CX.
    #[serde(default = "default_farewell")]
    pub agent_finish_farewell: String,
    /// `status` of the CX conversations Flow A creates (default `pending`: the bot owns them until
    /// the handoff); empty sends none and CX decides (Chatwoot: `open`).
    #[serde(default = "default_cx_status")]
    pub cx_status: String,
    /// Seconds between two reads of a human-owned conversation's messages from CX, relaying what
    /// the webhook missed (default 5); 0 turns it off. Needs `cx.paths.message_list`.
    #[serde(default = "default_reconcile_every")]
    pub reconcile_every_secs: u64,
    /// `links` (default): files reach CX as links in the message text; `attachments`: files
    /// uploaded to botrun are attached to the CX message.
    #[serde(default)]
    pub cx_files: CxFiles,
    /// Where the widget history lives: `sqlite://FILE` or `postgres://…`; by default the
    /// service's own `store`.
    #[serde(default)]
    pub store: Option<String>,
    /// Environment variable with the key that signs page tokens (at least 32 characters).
    #[serde(default = "default_key_env")]
    pub token_key_env: String,
    #[serde(default = "default_lifetime")]
    pub token_lifetime_secs: u64,
    /// Serve the demo page at `/` (off in production unless wanted).
    #[serde(default)]
    pub demo_page: bool,
    /// Files from the page (off when absent: the snippet then hides the paperclip).
    #[serde(default)]
    pub uploads: Option<UploadsSection>,
    pub sites: Vec<SiteSection>,
    /// Limits beyond each site's own (see [`WidgetLimitsSection`]).
    #[serde(default)]
    pub limits: WidgetLimitsSection,
}

/// `widget.limits:`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct WidgetLimitsSection {
    /// Conversations one client address may start per minute without a backend-minted token.
    pub anonymous_starts_per_minute: u32,
    /// WebSocket streams open at once on one conversation.
    pub streams_per_conversation: usize,
    /// WebSocket streams open at once on this process.
    pub streams_total: usize,
    /// Seconds a token replaced by `tokens/refresh` keeps working.
    pub refresh_overlap_secs: u64,
}

impl Default for WidgetLimitsSection {
    fn default() -> WidgetLimitsSection {
        let limits = WidgetLimits::default();
        WidgetLimitsSection {
            anonymous_starts_per_minute: limits.anonymous_starts_per_minute,
            streams_per_conversation: limits.streams_per_conversation,
            streams_total: limits.streams_total,
            refresh_overlap_secs: limits.refresh_overlap.as_secs(),
        }
    }
}

impl WidgetLimitsSection {
    /// The widget's limits.
    pub(crate) fn widget_limits(&self) -> WidgetLimits {
        WidgetLimits {
            anonymous_starts_per_minute: self.anonymous_starts_per_minute,
            streams_per_conversation: self.streams_per_conversation,
            streams_total: self.streams_total,
            refresh_overlap: Duration::from_secs(self.refresh_overlap_secs),
        }
    }
}

/// `widget.uploads`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UploadsSection {
    /// Folder the files are kept in.
    pub dir: PathBuf,
    /// Largest file, in bytes (default 10 MiB).
    #[serde(default = "default_max_upload")]
    pub max_bytes: u64,
    /// Accepted types, exact or `family/*` (default: images, PDF, plain text).
    #[serde(default = "default_upload_types")]
    pub content_types: Vec<String>,
}

fn default_max_upload() -> u64 {
    10 * 1024 * 1024
}

/// What a support chat usually needs: screenshots, photos, PDFs and text.
pub fn default_upload_types() -> Vec<String> {
    ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"]
        .map(str::to_owned)
        .to_vec()
}

/// One site embedding the widget.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SiteSection {
    pub id: String,
    /// Environment variable with the site backend's secret for `POST /tokens/generate`.
    pub secret_env: String,
    /// Exact origins (`https://shop.example`) whose pages may call the API.
    #[serde(default)]
    pub origins: Vec<String>,
    #[serde(default)]
    pub anonymous_start: bool,
    #[serde(default = "default_per_minute")]
    pub new_conversations_per_minute: u32,
}

fn default_farewell() -> String {
    FlowASettings::default().agent_finish_farewell
}

fn default_cx_status() -> String {
    "pending".to_owned()
}

fn default_reconcile_every() -> u64 {
    5
}

fn default_key_env() -> String {
    "BOTRUN_WIDGET_TOKEN_KEY".to_owned()
}

fn default_lifetime() -> u64 {
    3600
}

fn default_per_minute() -> u32 {
    60
}

impl WidgetSection {
    /// Problems a YAML parser cannot see, each naming the setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.sites.is_empty() {
            return Err("widget.sites: list at least one site that embeds the widget".into());
        }
        if self.token_lifetime_secs < 1800 {
            return Err(format!(
                "widget.token_lifetime_secs: {} is too short; Web Chat refreshes every 15 \
                 minutes, use at least 1800",
                self.token_lifetime_secs
            ));
        }
        if !matches!(self.cx_status.trim(), "" | "pending" | "open" | "snoozed") {
            return Err(format!(
                "widget.cx_status: `{}` is not a status a new conversation can have; use \
                 pending, open, snoozed or \"\" (let CX decide)",
                self.cx_status
            ));
        }
        let limits = &self.limits;
        for (name, value) in [
            ("anonymous_starts_per_minute", u64::from(limits.anonymous_starts_per_minute)),
            ("streams_per_conversation", limits.streams_per_conversation as u64),
            ("streams_total", limits.streams_total as u64),
        ] {
            if value == 0 {
                return Err(format!("widget.limits.{name} must be at least 1"));
            }
        }
        if let Some(store) = &self.store {
            if !(store.starts_with("sqlite:") || store.starts_with("postgres://")) {
                return Err(format!(
                    "widget.store: `{store}` is not supported: use `sqlite://FILE` or \
                     `postgres://…`"
                ));
            }
        }
        for (index, site) in self.sites.iter().enumerate() {
            if site.id.trim().is_empty() {
                return Err(format!("widget.sites[{index}].id: must not be empty"));
            }
            for origin in &site.origins {
                if !(origin.starts_with("https://") || origin.starts_with("http://"))
                    || origin.ends_with('/')
                {
                    return Err(format!(
                        "widget.sites[{index}].origins: `{origin}` is not an origin; write \
                         `https://shop.example` (scheme and host, no path)"
                    ));
                }
            }
            if site.anonymous_start && site.origins.is_empty() {
                return Err(format!(
                    "widget.sites[{index}].anonymous_start needs `origins`: anonymous pages are \
                     recognised by their origin"
                ));
            }
        }
        Ok(())
    }

    /// Flow A's settings.
    pub fn flow_a(&self) -> FlowASettings {
        FlowASettings {
            inbox_id: self.inbox_id,
            open_at: self.open_at,
            agent_finish_farewell: self.agent_finish_farewell.clone(),
            cx_status: Some(self.cx_status.trim().to_owned()).filter(|s| !s.is_empty()),
            reconcile_every: (self.reconcile_every_secs > 0)
                .then(|| Duration::from_secs(self.reconcile_every_secs)),
            cx_files: self.cx_files,
        }
    }

    /// The widget's settings, reading the secrets from the environment.
    pub fn widget_config(&self, public_url: &str) -> Result<WidgetConfig, String> {
        let read = |name: &str, what: &str| {
            std::env::var(name)
                .map_err(|_| format!("{what}: environment variable `{name}` is not set"))
        };
        let key = read(&self.token_key_env, "widget.token_key_env")?;
        if key.len() < 32 {
            return Err(format!(
                "widget.token_key_env: `{}` holds {} characters; use at least 32 random ones",
                self.token_key_env,
                key.len()
            ));
        }
        let mut sites = Vec::new();
        for (index, site) in self.sites.iter().enumerate() {
            let secret = read(&site.secret_env, &format!("widget.sites[{index}].secret_env"))?;
            if secret.len() < 16 {
                return Err(format!(
                    "widget.sites[{index}].secret_env: the secret is too short; use at least 16 \
                     random characters"
                ));
            }
            sites.push(Site {
                id: site.id.clone(),
                secret,
                origins: site.origins.clone(),
                anonymous_start: site.anonymous_start,
                new_conversations_per_minute: site.new_conversations_per_minute,
            });
        }
        Ok(WidgetConfig {
            public_base_url: public_url.to_owned(),
            token_key: key.into_bytes(),
            token_lifetime: Duration::from_secs(self.token_lifetime_secs),
            keep_alive: Duration::from_secs(20),
            sites,
            uploads: self.uploads.as_ref().map(|uploads| UploadSettings {
                dir: uploads.dir.clone(),
                max_bytes: uploads.max_bytes,
                content_types: uploads.content_types.clone(),
            }),
        })
    }
}
