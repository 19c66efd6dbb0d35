//! The widget's one error type: every refusal maps to a status and a
//! `{"error":{"code","message"}}` body that never leaks internals.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::store::WidgetStoreError;

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
    #[error("conversation not found (unknown or ended)")]
    ConversationNotFound,
    #[error("no such Direct Line route")]
    RouteNotFound,
    #[error("the activity is malformed: {0}")]
    BadActivity(String),
    #[error("the request body is malformed: {0}")]
    BadRequest(String),
    #[error("this service does not accept files")]
    UploadsOff,
    #[error("files of type `{0}` are not accepted")]
    FileTypeRefused(String),
    #[error("the file is larger than {0} bytes")]
    FileTooLarge(u64),
    #[error("too many new conversations for this site; try again in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("too many new conversations from this address; try again in {retry_after} s")]
    AddressRateLimited { retry_after: u64 },
    #[error("too many open streams on this conversation; close one or poll instead")]
    TooManyStreamsHere,
    #[error("too many open streams on this server; try again shortly or poll instead")]
    TooManyStreamsTotal,
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("internal error")]
    Internal(String),
}

impl From<WidgetStoreError> for WidgetError {
    fn from(err: WidgetStoreError) -> Self {
        Self::Internal(err.0)
    }
}

impl WidgetError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::TokenInvalid | Self::SecretInvalid => {
                StatusCode::UNAUTHORIZED
            }
            Self::TokenExpired | Self::OriginNotAllowed => StatusCode::FORBIDDEN,
            Self::ConversationNotFound | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::BadActivity(_) | Self::BadRequest(_) | Self::UploadsOff => {
                StatusCode::BAD_REQUEST
            }
            Self::FileTypeRefused(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::FileTooLarge(_) | Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. }
            | Self::AddressRateLimited { .. }
            | Self::TooManyStreamsHere => StatusCode::TOO_MANY_REQUESTS,
            Self::TooManyStreamsTotal => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// When a refused client may try again, for `Retry-After`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after } | Self::AddressRateLimited { retry_after } => {
                Some(*retry_after)
            }
            Self::TooManyStreamsHere | Self::TooManyStreamsTotal => Some(5),
            _ => None,
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
            Self::ConversationNotFound => "ConversationNotFound",
            Self::RouteNotFound => "NotFound",
            Self::BadActivity(_) => "BadActivity",
            Self::BadRequest(_) => "BadArgument",
            Self::UploadsOff => "UploadsOff",
            Self::FileTypeRefused(_) => "UnsupportedMediaType",
            Self::FileTooLarge(_) => "FileTooLarge",
            Self::RateLimited { .. } | Self::AddressRateLimited { .. } => "TooManyRequests",
            Self::TooManyStreamsHere | Self::TooManyStreamsTotal => "TooManyStreams",
            Self::TooLarge(_) => "PayloadTooLarge",
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
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(seconds) = self.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
