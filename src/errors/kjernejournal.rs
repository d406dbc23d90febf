//! Kjernejournal errors: `{status, utviklermelding, brukermelding, feilkode}` with the
//! caching headers of the spec's example.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::mark_formatted;

/// A kjernejournal error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{feilkode}: {utviklermelding}")]
pub struct KjError {
    /// HTTP status, repeated in the body.
    #[serde(serialize_with = "serialize_status")]
    pub status: StatusCode,
    /// A message that helps the developer of the API client.
    pub utviklermelding: String,
    /// A message fit to show a clinician.
    pub brukermelding: String,
    /// `KJF-xxxxxx`.
    pub feilkode: String,
}

fn serialize_status<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

impl KjError {
    /// A generic error for a framework-level failure (no documented code: `KJF-000000`).
    pub fn from_status(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            utviklermelding: message.to_owned(),
            brukermelding: "Det oppstod en feil i kommunikasjonen med kjernejournal".to_owned(),
            feilkode: "KJF-000000".to_owned(),
        }
    }

    /// The HTTP response.
    pub fn render(&self) -> HttpResponse {
        mark_formatted(
            HttpResponse::build(self.status)
                .insert_header((
                    header::CACHE_CONTROL,
                    "no-cache, must-revalidate, private, s-maxage=0",
                ))
                .insert_header((header::PRAGMA, "no-cache"))
                .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
                .body(serde_json::to_string(self).unwrap_or_default()),
        )
    }
}

impl KjError {
    /// The error as kjernejournal's FHIR API reports it: an OperationOutcome whose first issue's
    /// diagnostics is the `KJF-` code and whose second carries the message (the developer
    /// message in `diagnostics`, the user message in `details.text`).
    pub fn render_fhir(&self) -> HttpResponse {
        let code = match self.status.as_u16() {
            401 => "login",
            403 => "forbidden",
            404 => "not-found",
            405 => "not-supported",
            413 => "too-costly",
            s if s >= 500 => "exception",
            _ => "invalid",
        };
        let body = serde_json::json!({
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": "error", "code": code, "diagnostics": self.feilkode},
                {
                    "severity": "error",
                    "code": code,
                    "details": {"text": self.brukermelding},
                    "diagnostics": self.utviklermelding
                }
            ]
        });
        mark_formatted(
            HttpResponse::build(self.status)
                .insert_header((
                    header::CACHE_CONTROL,
                    "no-cache, must-revalidate, private, s-maxage=0",
                ))
                .insert_header((header::PRAGMA, "no-cache"))
                .insert_header((header::CONTENT_TYPE, "application/fhir+json; charset=utf-8"))
                .body(body.to_string()),
        )
    }
}

impl ResponseError for KjError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.render()
    }
}
