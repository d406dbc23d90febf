//! helsesim's own error format for the control plane and paths outside every service:
//! `{"error": "<slug>", "message": "..."}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::mark_formatted;

/// A control-plane error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{error}: {message}")]
pub struct AdminError {
    /// HTTP status.
    #[serde(skip)]
    pub status: StatusCode,
    /// A stable slug (`not_found`, `invalid_request`, `invalid_fixture`, ...).
    pub error: String,
    /// What went wrong, for a human.
    pub message: String,
}

impl AdminError {
    /// An error with an explicit slug.
    pub fn new(status: StatusCode, error: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            error: error.to_owned(),
            message: message.into(),
        }
    }

    /// A 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A 400 `invalid_request`.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// A generic error for a framework-level failure.
    pub fn from_status(status: StatusCode, message: &str) -> Self {
        let slug = match status.as_u16() {
            404 => "not_found",
            405 => "method_not_allowed",
            413 => "payload_too_large",
            415 => "unsupported_media_type",
            s if s >= 500 => "internal_error",
            _ => "invalid_request",
        };
        Self::new(status, slug, message)
    }

    /// The HTTP response.
    pub fn render(&self) -> HttpResponse {
        mark_formatted(HttpResponse::build(self.status).json(self))
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.render()
    }
}
