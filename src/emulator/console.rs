//! The agent console (`/console`) and the customer page (`/console/customer`): static HTML, CSS
//! and JS embedded in the binary, talking to the control API. Element ids are documented in
//! `docs/emulator.md` for browser tests.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::handle::Emulator;

const AGENT_HTML: &str = include_str!("console/agent.html");
const CUSTOMER_HTML: &str = include_str!("console/customer.html");
const STYLE_CSS: &str = include_str!("console/console.css");
const AGENT_JS: &str = include_str!("console/agent.js");
const CUSTOMER_JS: &str = include_str!("console/customer.js");

pub fn routes() -> Router<Emulator> {
    Router::new()
        .route("/console", get(|| async { page(AGENT_HTML) }))
        .route("/console/", get(|| async { page(AGENT_HTML) }))
        .route("/console/customer", get(|| async { page(CUSTOMER_HTML) }))
        .route(
            "/console/console.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
        .route(
            "/console/agent.js",
            get(|| async { asset("text/javascript; charset=utf-8", AGENT_JS) }),
        )
        .route(
            "/console/customer.js",
            get(|| async { asset("text/javascript; charset=utf-8", CUSTOMER_JS) }),
        )
}

fn page(html: &'static str) -> impl IntoResponse {
    asset("text/html; charset=utf-8", html)
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-store")], body)
}
