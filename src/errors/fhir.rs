//! FHIR errors: an `OperationOutcome` with `Content-Type: application/fhir+json`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::mark_formatted;

/// The FHIR media type SFM answers with.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// One `OperationOutcome.issue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// `fatal` | `error` | `warning` | `information`.
    pub severity: &'static str,
    /// The FHIR issue type code (`invalid`, `not-found`, `login`, ...).
    pub code: &'static str,
    /// A coded reason (e.g. which `$sendMedication` rule failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    /// The human-readable explanation.
    pub diagnostics: String,
    /// FHIRPath expressions of the offending elements.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expression: Vec<String>,
}

impl Issue {
    /// An `error` issue.
    pub fn error(code: &'static str, diagnostics: impl Into<String>) -> Self {
        Self {
            severity: "error",
            code,
            details: None,
            diagnostics: diagnostics.into(),
            expression: Vec::new(),
        }
    }

    /// With a coded reason.
    pub fn with_details(mut self, system: &str, code: &str, display: &str) -> Self {
        self.details = Some(
            serde_json::json!({"coding": [{"system": system, "code": code, "display": display}]}),
        );
        self
    }

    /// With the FHIRPath of the offending element.
    pub fn at(mut self, expression: impl Into<String>) -> Self {
        self.expression.push(expression.into());
        self
    }
}

/// An error answered as an `OperationOutcome`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {issues:?}")]
pub struct FhirError {
    /// HTTP status.
    pub status: StatusCode,
    /// Every problem found (all are reported at once).
    pub issues: Vec<Issue>,
    /// A `WWW-Authenticate` challenge (401 answers).
    pub www_authenticate: Option<String>,
    /// The `Allow` header (405 answers).
    pub allow: Option<&'static str>,
}

#[derive(Serialize)]
struct OperationOutcome<'a> {
    #[serde(rename = "resourceType")]
    resource_type: &'static str,
    issue: &'a [Issue],
}

impl FhirError {
    /// An error with several issues.
    pub fn with_issues(status: StatusCode, issues: Vec<Issue>) -> Self {
        Self {
            status,
            issues,
            www_authenticate: None,
            allow: None,
        }
    }

    /// An error with one issue.
    pub fn new(status: StatusCode, code: &'static str, diagnostics: impl Into<String>) -> Self {
        Self {
            status,
            issues: vec![Issue::error(code, diagnostics)],
            www_authenticate: None,
            allow: None,
        }
    }

    /// A generic error for a framework-level failure.
    pub fn from_status(status: StatusCode, message: &str) -> Self {
        let code = match status.as_u16() {
            401 => "login",
            403 => "forbidden",
            404 => "not-found",
            405 | 415 => "not-supported",
            413 => "too-costly",
            409 | 412 => "conflict",
            s if s >= 500 => "exception",
            _ => "invalid",
        };
        Self::new(status, code, message)
    }

    /// The HTTP response.
    pub fn render(&self) -> HttpResponse {
        let body = OperationOutcome {
            resource_type: "OperationOutcome",
            issue: &self.issues,
        };
        let json = serde_json::to_string(&body).unwrap_or_default();
        let mut builder = HttpResponse::build(self.status);
        builder.content_type(FHIR_JSON);
        if let Some(challenge) = &self.www_authenticate {
            builder.insert_header((
                actix_web::http::header::WWW_AUTHENTICATE,
                challenge.as_str(),
            ));
        }
        if let Some(allow) = self.allow {
            builder.insert_header((actix_web::http::header::ALLOW, allow));
        }
        mark_formatted(builder.body(json))
    }
}

impl ResponseError for FhirError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.render()
    }
}
