//! The GUI server API's errors: problem details with a `traceId`, which the portal shows as
//! "Feil ID" beside the message, as the real client's error dialog does.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::errors::fhir::FhirError;
use crate::errors::problem::Problem;

/// An error of the GUI server API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct GuiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the user.
    pub message: String,
}

impl GuiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400.
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// A medication operation's refusal, its issues in one message.
    pub fn from_fhir(error: &FhirError) -> Self {
        let messages: Vec<&str> = error
            .issues
            .iter()
            .map(|i| i.diagnostics.as_str())
            .collect();
        Self::new(error.status, messages.join(" | "))
    }
}

impl ResponseError for GuiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        // Problem details with ASP.NET Core's `traceId` extension member.
        let mut body =
            serde_json::to_value(Problem::new(self.status, &self.message)).unwrap_or_default();
        body["traceId"] = serde_json::json!(crate::random::hex_id().to_lowercase());
        crate::errors::mark_formatted(
            HttpResponse::build(self.status)
                .content_type("application/problem+json")
                .body(body.to_string()),
        )
    }
}
