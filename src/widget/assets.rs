//! What a page loads from botrun: the pinned Web Chat bundle at `/static/webchat.js`, the embed
//! snippet at `/static/botrun-chat.js` (with this service's settings written into it) and the
//! favicon. Served whether or not the demo page is on, since sites embed the snippet.

use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::service::WidgetService;

const SNIPPET: &str = include_str!("assets/botrun-chat.js");
const FAVICON: &str = include_str!("assets/favicon.svg");
/// The placeholder in the snippet that the service's settings replace.
const SETTINGS_SLOT: &str = "/*BOTRUN_CONFIG*/ { uploads: false } /*END*/";

/// The bundle path `scripts/install-webchat` produces under `root`.
pub(crate) fn bundle_under(root: &Path) -> PathBuf {
    root.join("vendor/webchat/node_modules/botframework-webchat/dist/webchat.js")
}

#[derive(Clone)]
struct AssetState {
    widget: WidgetService,
    webchat_js: PathBuf,
}

/// `/static/webchat.js`, `/static/botrun-chat.js`, `/favicon.svg` and `/favicon.ico`.
pub(crate) fn assets_router(widget: WidgetService, webchat_js: PathBuf) -> Router {
    Router::new()
        .route("/static/webchat.js", get(bundle))
        .route("/static/botrun-chat.js", get(snippet))
        .route("/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
        .with_state(AssetState { widget, webchat_js })
}

/// The snippet with what the page must know about this service (whether uploads are on).
pub(crate) fn snippet_source(widget: &WidgetService) -> String {
    let settings = widget.config().page_settings();
    SNIPPET.replacen(SETTINGS_SLOT, &settings.to_string(), 1)
}

async fn snippet(State(state): State<AssetState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        snippet_source(&state.widget),
    )
        .into_response()
}

async fn favicon() -> Response {
    (
        [(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")],
        FAVICON,
    )
        .into_response()
}

async fn bundle(State(state): State<AssetState>) -> Response {
    match tokio::fs::read(&state.webchat_js).await {
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
                "The Web Chat bundle is missing ({}: {err}).\n{}\n",
                state.webchat_js.display(),
                install_hint()
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

/// Where the bundle may be, best first: next to the working directory, then next to the
/// executable's checkout (`target/debug/botrun` → the checkout), then the checkout this binary
/// was built from. The first that exists wins.
pub(crate) fn bundle_candidates() -> Vec<PathBuf> {
    let mut candidates = vec![bundle_under(Path::new("."))];
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).take(4).map(bundle_under));
    }
    candidates.push(bundle_under(Path::new(env!("CARGO_MANIFEST_DIR"))));
    candidates.dedup();
    candidates
}

/// The bundle found among [`bundle_candidates`], if any.
pub(crate) fn find_bundle() -> Option<PathBuf> {
    bundle_candidates().into_iter().find(|path| path.is_file())
}

/// How to install the bundle, with the script's absolute path when the checkout is at hand.
pub(crate) fn install_hint() -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-webchat");
    if script.is_file() {
        format!(
            "Run `{}` (it needs npm), or pass `--webchat-js PATH` to a copy of \
             botframework-webchat 4.18.1's dist/webchat.js.",
            script.display()
        )
    } else {
        "Install it with `npm install --prefix vendor/webchat botframework-webchat@4.18.1` in \
         the folder you run botrun from, or pass `--webchat-js PATH` to its dist/webchat.js."
            .to_owned()
    }
}
