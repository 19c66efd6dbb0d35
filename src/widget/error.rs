//! The widget's one error type: every refusal maps to a status and a
//! `{"error":{"code","message"}}` body that never leaks internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WidgetError {
    #[error("an `Authorization: Bearer …` header is required")]
    MissingToken,
    #[error("the token is not valid")]
    TokenInvalid,
    #[error("the token has expired; mint or refresh a token")]
    TokenExpired,
    #[error("the site secret is not valid")]
    SecretInvalid,
    #[error("this origin is not allowed to use the widget")]
    OriginNotAllowed,
    #[error("the token belongs to another conversation")]
    WrongConversation,
    #[error("conversation not found (unknown or ended)")]
    ConversationNotFound,
    #[error("the activity is malformed: {0}")]
    BadActivity(String),
    #[error("the request body is malformed: {0}")]
    BadRequest(String),
    #[error("too many new conversations for this site; try again in a minute")]
    RateLimited,
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for WidgetError {
    fn from(err: StoreError) -> Self {
        Self::Internal(err.0)
    }
}

impl WidgetError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::TokenInvalid | Self::SecretInvalid => {
                StatusCode::UNAUTHORIZED
            }
            Self::TokenExpired | Self::OriginNotAllowed | Self::WrongConversation => {
                StatusCode::FORBIDDEN
            }
            Self::ConversationNotFound => StatusCode::NOT_FOUND,
            Self::BadActivity(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "MissingToken",
            Self::TokenInvalid => "TokenInvalid",
            Self::TokenExpired => "TokenExpired",
            Self::SecretInvalid => "BadSecret",
            Self::OriginNotAllowed => "OriginNotAllowed",
            Self::WrongConversation => "WrongConversation",
            Self::ConversationNotFound => "ConversationNotFound",
            Self::BadActivity(_) => "BadActivity",
            Self::BadRequest(_) => "BadArgument",
            Self::RateLimited => "TooManyRequests",
            Self::Internal(_) => "ServiceError",
        }
    }
}

impl IntoResponse for WidgetError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "widget internal error");
        }
        let body = serde_json::json!({
            "error": { "code": self.code(), "message": self.to_string() }
        });
        (self.status(), Json(body)).into_response()
    }
}
