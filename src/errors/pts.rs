//! PTS errors: RFC 9457 problem details (`application/problem+json`), the format of NHN's
//! ASP.NET Core APIs, with validation messages under `errors`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::mark_formatted;

/// A problem-details error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{status}: {title}")]
pub struct PtsError {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary.
    pub title: String,
    /// HTTP status, repeated in the body.
    #[serde(serialize_with = "serialize_status")]
    pub status: StatusCode,
    /// Explanation of this occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Validation messages by field.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, Vec<String>>,
}

fn serialize_status<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

impl PtsError {
    /// A generic error for a framework-level failure.
    pub fn from_status(status: StatusCode, message: &str) -> Self {
        Self {
            problem_type: format!("https://httpstatuses.io/{}", status.as_u16()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status,
            detail: Some(message.to_owned()),
            errors: BTreeMap::new(),
        }
    }

    /// The HTTP response.
    pub fn render(&self) -> HttpResponse {
        let json = serde_json::to_string(self).unwrap_or_default();
        mark_formatted(
            HttpResponse::build(self.status)
                .content_type("application/problem+json")
                .body(json),
        )
    }
}

impl ResponseError for PtsError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.render()
    }
}
