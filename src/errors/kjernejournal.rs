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
                .json(self),
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
