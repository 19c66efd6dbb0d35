//! Widget settings: the public base URL streams are built from, the key that signs page tokens,
//! and the sites allowed to embed the widget (origins, backend secret, anonymous start, limits).

use std::time::Duration;
use subtle::ConstantTimeEq;

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
}

impl WidgetConfig {
    /// The site whose origin list holds `origin`.
    pub fn site_for_origin(&self, origin: &str) -> Option<&Site> {
        self.sites.iter().find(|site| site.origins.iter().any(|allowed| allowed == origin))
    }

    /// The site with this id.
    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|site| site.id == id)
    }

    /// The site whose backend secret is `secret`, compared in constant time.
    pub fn site_for_secret(&self, secret: &str) -> Option<&Site> {
        self.sites.iter().find(|site| {
            !secret.is_empty() && bool::from(site.secret.as_bytes().ct_eq(secret.as_bytes()))
        })
    }

    /// The `ws://`/`wss://` base derived from the public base URL (no trailing slash).
    pub fn websocket_base(&self) -> String {
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
