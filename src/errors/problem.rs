//! RFC 9457 problem details (`application/problem+json`), the error format of NHN's ASP.NET Core
//! APIs (PTS, SFM's session service), with validation messages under `errors`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::mark_formatted;

/// A problem-details error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{status}: {title}")]
pub struct Problem {
    /// A URI naming the problem type (ASP.NET Core's: the RFC 9110 section of the status).
    #[serde(rename = "type")]
    pub problem_type: &'static str,
    /// Short summary.
    pub title: &'static str,
    /// HTTP status, repeated in the body.
    #[serde(serialize_with = "serialize_status")]
    pub status: StatusCode,
    /// Explanation of this occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Validation messages by field.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, Vec<String>>,
    /// A `WWW-Authenticate` challenge (401 answers).
    #[serde(skip)]
    pub www_authenticate: Option<String>,
}

fn serialize_status<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

impl Problem {
    /// A generic error for a framework-level failure.
    pub fn from_status(status: StatusCode, message: &str) -> Self {
        Self {
            problem_type: type_uri(status),
            title: status.canonical_reason().unwrap_or("Error"),
            status,
            detail: Some(message.to_owned()),
            errors: BTreeMap::new(),
            www_authenticate: None,
        }
    }

    /// ASP.NET Core's validation problem: 400, "One or more validation errors occurred.", the
    /// messages by field.
    pub fn validation(errors: BTreeMap<String, Vec<String>>) -> Self {
        Self {
            problem_type: type_uri(StatusCode::BAD_REQUEST),
            title: "One or more validation errors occurred.",
            status: StatusCode::BAD_REQUEST,
            detail: None,
            errors,
            www_authenticate: None,
        }
    }

    /// A problem with an explicit detail message.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self::from_status(status, &detail.into())
    }

    /// The HTTP response.
    pub fn render(&self) -> HttpResponse {
        let json = serde_json::to_string(self).unwrap_or_default();
        let mut builder = HttpResponse::build(self.status);
        builder.content_type("application/problem+json");
        if let Some(challenge) = &self.www_authenticate {
            builder.insert_header((
                actix_web::http::header::WWW_AUTHENTICATE,
                challenge.as_str(),
            ));
        }
        mark_formatted(builder.body(json))
    }
}

/// The problem `type` ASP.NET Core gives each status: the RFC 9110 section defining it.
pub fn type_uri(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        401 => "https://tools.ietf.org/html/rfc9110#section-15.5.2",
        403 => "https://tools.ietf.org/html/rfc9110#section-15.5.4",
        404 => "https://tools.ietf.org/html/rfc9110#section-15.5.5",
        405 => "https://tools.ietf.org/html/rfc9110#section-15.5.6",
        406 => "https://tools.ietf.org/html/rfc9110#section-15.5.7",
        409 => "https://tools.ietf.org/html/rfc9110#section-15.5.10",
        412 => "https://tools.ietf.org/html/rfc9110#section-15.5.13",
        413 => "https://tools.ietf.org/html/rfc9110#section-15.5.14",
        415 => "https://tools.ietf.org/html/rfc9110#section-15.5.16",
        422 => "https://tools.ietf.org/html/rfc9110#section-15.5.21",
        503 => "https://tools.ietf.org/html/rfc9110#section-15.6.4",
        s if s >= 500 => "https://tools.ietf.org/html/rfc9110#section-15.6.1",
        _ => "about:blank",
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.render()
    }
}
