//! The demo page at `/`: Web Chat rendered against this server's Direct Line subset, the pinned
//! bundle at `/static/webchat.js`, and `POST /demo/token`, which plays the site's backend and
//! mints the page's token for the demo site (the secret never reaches the browser). It exists
//! in `botrun dev`, and in `botrun serve` only with `widget.demo_page: true`, which warns at
//! start-up; it answers only the page's own origin, and counts per client address like an
//! anonymous start.

use std::path::PathBuf;

use axum::extract::State;
use axum::http::{header, StatusCode};
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
    pub fn bundle_under(root: &std::path::Path) -> PathBuf {
        root.join("vendor/webchat/node_modules/botframework-webchat/dist/webchat.js")
    }
}

#[derive(Clone)]
struct DemoState {
    widget: WidgetService,
    page: DemoPage,
}

/// `/`, `/static/webchat.js` and `/demo/token`.
pub fn demo_router(widget: WidgetService, page: DemoPage) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/static/webchat.js", get(bundle))
        .route("/demo/token", post(token))
        .with_state(DemoState { widget, page })
}

async fn index(State(state): State<DemoState>) -> Html<String> {
    Html(PAGE.replace("__TITLE__", &html_escape(&state.page.title)))
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn bundle(State(state): State<DemoState>) -> Response {
    match tokio::fs::read(&state.page.webchat_js).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/javascript; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            bytes,
        )
            .into_response(),
        Err(err) => {
            let message = format!(
                "The Web Chat bundle is missing ({}: {err}).\n\
                 Run `scripts/install-webchat` from the botrun checkout, then reload this page.\n",
                state.page.webchat_js.display()
            );
            // Served as JavaScript too, so the page's console shows the fix.
            let script = format!(
                "document.body.insertAdjacentText('afterbegin', {});\nthrow new Error({0});\n",
                json!(message)
            );
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "application/javascript; charset=utf-8")],
                script,
            )
                .into_response()
        }
    }
}

/// `POST /demo/token` with an optional `{"name": …}`: the customer's display name, which the
/// token carries (and Flow A gives to the CX contact).
async fn token(
    State(state): State<DemoState>,
    ClientAddress(address): ClientAddress,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, WidgetError> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
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
