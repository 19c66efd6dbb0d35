//! Widget: the Direct Line 3.0 subset that BotFramework Web Chat speaks (tokens, conversations,
//! activities, polling, WebSocket stream with replay) and the demo page. Knows nothing of the
//! engine, CX or the server: a [`WidgetHost`] plugged in by the server receives customer
//! activities and answers through [`WidgetService::push`].
//! Integration tests: `widget`.

pub mod activity;
pub(crate) mod assets;
pub mod config;
pub mod demo;
pub mod error;
pub mod limits;
pub mod routes;
pub mod service;
pub mod store;
pub mod stream;
pub mod token;
pub mod upload;

use axum::routing::{get, post};
use axum::Router;

pub use activity::{CustomerActivity, OutgoingActivity, Sender};
pub use config::{Site, UploadSettings, WidgetConfig};
pub use error::WidgetError;
pub use limits::WidgetLimits;

pub use service::{WidgetHost, WidgetService, WidgetUser};
pub use store::{Change, ConversationRecord, MemoryWidgetStore, WidgetStore};
pub(crate) use store::{ChangeStream, StoredActivity, WidgetStoreError};

/// Largest request body the Direct Line routes accept.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// The Direct Line routes, to be mounted at `/v3/directline`. A page configured with a trailing
/// slash in `domain` asks for `/v3/directline//conversations`: runs of slashes are folded into
/// one before routing, so it reaches the same routes.
pub fn router(widget: WidgetService) -> Router {
    let routes = direct_line_routes(widget);
    Router::new().fallback(move |request: axum::extract::Request| {
        let routes = routes.clone();
        async move {
            let request = fold_slashes(request);
            match tower::ServiceExt::oneshot(routes, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    })
}

/// The request with `//` runs in its path folded into single slashes (the query is kept).
fn fold_slashes(mut request: axum::extract::Request) -> axum::extract::Request {
    let uri = request.uri();
    if !uri.path().contains("//") {
        return request;
    }
    let mut folded = String::with_capacity(uri.path().len());
    for part in uri.path().split('/').filter(|part| !part.is_empty()) {
        folded.push('/');
        folded.push_str(part);
    }
    if folded.is_empty() {
        folded.push('/');
    }
    if let Some(query) = uri.query() {
        folded.push('?');
        folded.push_str(query);
    }
    if let Ok(path_and_query) = folded.parse::<axum::http::uri::PathAndQuery>() {
        let mut parts = uri.clone().into_parts();
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

fn direct_line_routes(widget: WidgetService) -> Router {
    // An upload may be as large as the configured file size plus its multipart framing.
    let upload_bytes = widget.config().uploads.as_ref().map_or(0, |u| u.max_bytes);
    let upload_limit = axum::extract::DefaultBodyLimit::max(
        usize::try_from(upload_bytes).unwrap_or(usize::MAX).saturating_add(MAX_BODY_BYTES),
    );
    Router::new()
        .route("/tokens/generate", post(routes::generate_token))
        .route("/tokens/refresh", post(routes::refresh_token))
        .route("/conversations", post(routes::start_conversation))
        .route("/conversations/{id}", get(routes::resume_conversation))
        .route(
            "/conversations/{id}/activities",
            get(routes::poll_activities).post(routes::post_activity),
        )
        .route("/conversations/{id}/stream", get(stream::stream))
        .route("/conversations/{id}/upload", post(upload::upload).layer(upload_limit))
        .route("/files/{key}/{name}", get(upload::download))
        .fallback(|| async { WidgetError::RouteNotFound })
        .layer(axum::middleware::map_response(too_large_as_json))
        .layer(axum::middleware::from_fn_with_state(widget.clone(), routes::cors))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(widget)
}

/// The body limit's own 413 is plain text; the widget answers every error in its JSON shape. A 413
/// that is already JSON (an upload's `FileTooLarge`) is kept.
async fn too_large_as_json(response: axum::response::Response) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|kind| kind.as_bytes().starts_with(b"application/json"));
    if response.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return WidgetError::TooLarge(MAX_BODY_BYTES).into_response();
    }
    response
}
