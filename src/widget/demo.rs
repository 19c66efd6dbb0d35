//! The demo page at `/`, which embeds the chat with the same `botrun-chat.js` snippet a site
//! uses, and `POST /demo/token`, which plays the site's backend and mints the page's token for
//! the demo site (the secret never reaches the browser). The snippet and the Web Chat bundle
//! themselves are served by [`assets`](super::assets). The page exists in `botrun dev`, and in
//! `botrun serve` only with `widget.demo_page: true`, which warns at start-up; the token route
//! answers only the page's own origin, and counts per client address like an anonymous start.

use std::path::PathBuf;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::error::WidgetError;
use super::limits::ClientAddress;
use super::service::WidgetService;

const PAGE: &str = include_str!("assets/demo.html");

/// Where the page and its bundle come from.
#[derive(Clone, Debug)]
pub struct DemoPage {
    /// Site (from the widget configuration) the page's tokens are minted for.
    pub site: String,
    /// The `botframework-webchat` browser bundle installed by `scripts/install-webchat`.
    pub webchat_js: PathBuf,
    /// Page heading.
    pub title: String,
    /// The origins the page itself is served from: `POST /demo/token` answers only requests
    /// from these (a browser always sends `Origin` on a POST), so other sites cannot mint
    /// tokens through it.
    pub origins: Vec<String>,
}

impl DemoPage {
    /// The bundle path `scripts/install-webchat` produces under `root`.
    pub(crate) fn bundle_under(root: &std::path::Path) -> PathBuf {
        super::assets::bundle_under(root)
    }
}

#[derive(Clone)]
struct DemoState {
    widget: WidgetService,
    page: DemoPage,
}

/// `/` and `/demo/token`, with the [`assets`](super::assets) the page loads.
pub fn demo_router(widget: WidgetService, page: DemoPage) -> Router {
    let assets = super::assets::assets_router(widget.clone(), page.webchat_js.clone());
    Router::new()
        .route("/", get(index))
        .route("/demo/token", post(token))
        .with_state(DemoState { widget, page })
        .merge(assets)
}

async fn index(State(state): State<DemoState>) -> Html<String> {
    Html(PAGE.replace("__TITLE__", &html_escape(&state.page.title)))
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `POST /demo/token` with an optional `{"name": …}`: the customer's display name, which the
/// token carries (and Flow A gives to the CX contact).
async fn token(
    State(state): State<DemoState>,
    ClientAddress(address): ClientAddress,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, WidgetError> {
    let origin = headers.get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok());
    if !origin.is_some_and(|origin| state.page.origins.iter().any(|own| own == origin)) {
        return Err(WidgetError::OriginNotAllowed);
    }
    let site = state.widget.config().site(&state.page.site).cloned().ok_or_else(|| {
        WidgetError::Internal(format!("demo site `{}` is not configured", state.page.site))
    })?;
    let name = if body.is_empty() {
        None
    } else {
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|err| WidgetError::BadRequest(format!("expected `{{\"name\"}}`: {err}")))?;
        value
            .get("name")
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.len() <= 128)
            .map(str::to_owned)
    };
    let session = state.widget.mint_for_address(&site, address, None, name)?;
    Ok(Json(json!({
        "conversationId": session.conversation,
        "token": session.token,
        "expires_in": session.expires_in,
    }))
    .into_response())
}
