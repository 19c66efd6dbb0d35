//! The one error type of the emulator's HTTP surfaces: a status and a message, answered as
//! `{"error": "<message>"}` like CX does. Messages name the caller's mistake, never internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::model::Refusal;

#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// For a record refused by a rule on its attributes: they are named, and the body takes
    /// Chatwoot's `{"message", "attributes"}` shape instead of `{"error"}`.
    pub attributes: Vec<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), attributes: Vec::new() }
    }

    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotFound(message) => Self::new(StatusCode::NOT_FOUND, message),
            Refusal::Invalid(message) => Self::unprocessable(message),
            Refusal::Taken(attributes) => Self {
                message: super::model::taken_message(&attributes),
                attributes,
                status: StatusCode::UNPROCESSABLE_ENTITY,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = if self.attributes.is_empty() {
            serde_json::json!({"error": self.message})
        } else {
            serde_json::json!({"message": self.message, "attributes": self.attributes})
        };
        (self.status, Json(body)).into_response()
    }
}
