//! Widget settings: the public base URL streams are built from, the key that signs page tokens,
//! and the sites allowed to embed the widget (origins, backend secret, anonymous start, limits).

use std::path::PathBuf;
use std::time::Duration;

/// One website that embeds the widget.
#[derive(Clone, Debug)]
pub struct Site {
    /// Stable name, bound into every token minted for the site.
    pub id: String,
    /// The site's backend secret for `POST /tokens/generate` (`Authorization: Bearer …`).
    pub secret: String,
    /// Exact origins (`https://shop.example`) whose pages may call the API from a browser.
    pub origins: Vec<String>,
    /// Whether a page on an allowed origin may start a conversation without a minted token.
    pub anonymous_start: bool,
    /// New conversations allowed per minute for this site (token minting and anonymous starts).
    pub new_conversations_per_minute: u32,
}

/// Everything the Direct Line subset needs to know.
#[derive(Clone, Debug)]
pub struct WidgetConfig {
    /// Public base URL of this service as browsers reach it, e.g. `https://bots.example`;
    /// `streamUrl` is built from it (`http` becomes `ws`, `https` becomes `wss`).
    pub public_base_url: String,
    /// Key for the HMAC that signs tokens; keep it stable so tokens survive a restart.
    pub token_key: Vec<u8>,
    /// Token lifetime; the widget refreshes every 15 minutes, so keep it well above that.
    pub token_lifetime: Duration,
    /// How often the server sends an empty keep-alive frame on an idle stream.
    pub keep_alive: Duration,
    /// Sites allowed to embed the widget.
    pub sites: Vec<Site>,
    /// Files from the page; `None` turns uploads off (and the snippet hides the paperclip).
    pub uploads: Option<UploadSettings>,
}

/// Where uploaded files go and what is accepted.
#[derive(Clone, Debug)]
pub struct UploadSettings {
    /// Folder the files are stored in (one sub-folder per file).
    pub dir: PathBuf,
    /// Largest file accepted, in bytes.
    pub max_bytes: u64,
    /// Accepted content types: exact (`application/pdf`) or a family (`image/*`).
    pub content_types: Vec<String>,
}

impl UploadSettings {
    /// Whether `content_type` (lower case, parameters allowed) is on the list.
    pub fn allows(&self, content_type: &str) -> bool {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        self.content_types.iter().any(|allowed| match allowed.strip_suffix("/*") {
            Some(family) => essence.split('/').next() == Some(family),
            None => allowed.eq_ignore_ascii_case(essence),
        })
    }
}

impl WidgetConfig {
    /// The site whose origin list holds `origin`.
    pub(crate) fn site_for_origin(&self, origin: &str) -> Option<&Site> {
        self.sites.iter().find(|site| site.origins.iter().any(|allowed| allowed == origin))
    }

    /// The site with this id.
    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|site| site.id == id)
    }

    /// The site whose backend secret is `secret`, compared in constant time.
    pub(crate) fn site_for_secret(&self, secret: &str) -> Option<&Site> {
        self.sites.iter().find(|site| {
            !secret.is_empty()
                && crate::crypto::secrets_equal(site.secret.as_bytes(), secret.as_bytes())
        })
    }

    /// What the embed snippet must know about this service, written into it when served.
    pub(crate) fn page_settings(&self) -> serde_json::Value {
        match &self.uploads {
            Some(uploads) => serde_json::json!({
                "uploads": true,
                "maxUploadBytes": uploads.max_bytes,
                "uploadTypes": uploads.content_types,
            }),
            None => serde_json::json!({ "uploads": false }),
        }
    }

    /// The `ws://`/`wss://` base derived from the public base URL (no trailing slash).
    pub(crate) fn websocket_base(&self) -> String {
        let base = self.public_base_url.trim_end_matches('/');
        if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_owned()
        }
    }
}
