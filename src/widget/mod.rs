//! Widget: the Direct Line 3.0 subset that BotFramework Web Chat speaks (tokens, conversations,
//! activities, polling, WebSocket stream with replay) and the demo page. Knows nothing of the
//! engine, CX or the server: a [`WidgetHost`] plugged in by the server receives customer
//! activities and answers through [`WidgetService::push`].
//! Integration tests: `widget`.

pub mod activity;
pub mod config;
pub mod demo;
pub mod error;
pub mod limits;
pub mod postgres;
pub mod routes;
pub mod service;
pub mod sqlite;
pub mod store;
pub mod stream;
pub mod token;

use axum::routing::{get, post};
use axum::Router;

pub use activity::{CustomerActivity, OutgoingActivity, Sender};
pub use config::{Site, WidgetConfig};
pub use error::WidgetError;
pub use limits::{ClientAddress, WidgetLimits};
pub use postgres::PostgresWidgetStore;
pub use service::{WidgetHost, WidgetService, WidgetUser};
pub use sqlite::SqliteWidgetStore;
pub use store::{MemoryWidgetStore, WidgetStore};

/// Largest request body the Direct Line routes accept.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The Direct Line routes, to be mounted at `/v3/directline`.
pub fn router(widget: WidgetService) -> Router {
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
        .fallback(|| async { WidgetError::ConversationNotFound })
        .layer(axum::middleware::map_response(too_large_as_json))
        .layer(axum::middleware::from_fn_with_state(widget.clone(), routes::cors))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(widget)
}

/// The body limit's own 413 is plain text; the widget answers every error in its JSON shape.
async fn too_large_as_json(response: axum::response::Response) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if response.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return WidgetError::TooLarge(MAX_BODY_BYTES).into_response();
    }
    response
}
