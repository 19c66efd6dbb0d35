//! OAuth client-credentials token endpoint (`POST /oauth/token`) and the bearer-token check
//! every API call passes through.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

use super::error::ApiError;
use super::handle::{lock, Emulator};

/// The only scope the emulated gateway grants.
pub(crate) const SCOPE: &str = "cx.digital-interactions";

pub fn routes() -> Router<Emulator> {
    Router::new().route("/oauth/token", post(issue_token))
}

/// Client id and secret from HTTP Basic, or from the form as RFC 6749 also allows.
fn client_credentials(headers: &HeaderMap, form: &[(String, String)]) -> Option<(String, String)> {
    let from_header = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")))
        .and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| {
            pair.split_once(':').map(|(id, secret)| (id.to_owned(), secret.to_owned()))
        });
    from_header.or_else(|| {
        let field = |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, v)| v.clone());
        Some((field("client_id")?, field("client_secret")?))
    })
}

async fn issue_token(
    State(emulator): State<Emulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, v)| v.as_str());
    let options = emulator.options();
    let Some((id, secret)) = client_credentials(&headers, &form) else {
        return Err(ApiError::unauthorized("invalid_client: no client credentials given"));
    };
    if id != options.client_id || secret != options.client_secret {
        return Err(ApiError::unauthorized("invalid_client: unknown client id or wrong secret"));
    }
    match field("grant_type") {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                format!("unsupported_grant_type: `{other}`, use `client_credentials`"),
            ))
        }
        None => {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_request: grant_type is missing",
            ))
        }
    }
    if field("scope") != Some(SCOPE) {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            format!("invalid_scope: scope must be `{SCOPE}`"),
        ));
    }
    let token = crate::crypto::random_hex(24);
    let ttl = options.token_ttl_secs;
    lock(&emulator.inner.tokens).insert(token.clone(), Instant::now() + Duration::from_secs(ttl));
    Ok(Json(json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": ttl,
        "scope": SCOPE,
    })))
}

/// Lets a call through only with `Authorization: Bearer <live token>`.
pub(crate) async fn require_token(
    State(emulator): State<Emulator>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
    let live =
        lock(&emulator.inner.tokens).get(token).is_some_and(|expires| *expires > Instant::now());
    if !live {
        return Err(ApiError::unauthorized("invalid or expired access token"));
    }
    Ok(next.run(request).await)
}
