//! One error type per API family, each rendering that family's own error format, plus the
//! middleware that turns anything else (actix's plain-text extractor errors, 404s, 405s,
//! oversized bodies) into the same format, so no service ever answers in actix's default.

pub mod admin;
pub mod fhir;
mod field;
pub mod kjernejournal;
pub mod oauth;
pub mod problem;

pub use field::FieldError;

use actix_web::HttpResponse;
use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};

/// Marker in a response's extensions: the body is already in the service's own error format.
#[derive(Debug, Clone, Copy)]
pub struct ServiceFormatted;

/// Marks `response` as already formatted, so [`error_handlers`] leaves it alone.
pub fn mark_formatted(mut response: HttpResponse) -> HttpResponse {
    response.extensions_mut().insert(ServiceFormatted);
    response
}

/// The error formats of the API families helsesim simulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFormat {
    /// OAuth 2.0 `{error, error_description}` (HelseID).
    OAuth,
    /// FHIR `OperationOutcome` (SFM).
    Fhir,
    /// Kjernejournal `{status, utviklermelding, brukermelding, feilkode}`.
    Kjernejournal,
    /// Kjernejournal's FHIR API: an OperationOutcome with the `KJF-` code and the message.
    KjernejournalFhir,
    /// RFC 9457 problem details (PTS, SFM's session service).
    Problem,
    /// helsesim's own `{error, message}` (control plane, health, unknown services).
    Admin,
}

impl ErrorFormat {
    /// Renders an error of this family for `status` with a human-readable `message`.
    pub fn render(self, status: StatusCode, message: &str) -> HttpResponse {
        match self {
            ErrorFormat::OAuth => oauth::OAuthError::from_status(status, message).render(),
            ErrorFormat::Fhir => fhir::FhirError::from_status(status, message).render(),
            ErrorFormat::Kjernejournal => {
                kjernejournal::KjError::from_status(status, message).render()
            }
            ErrorFormat::KjernejournalFhir => {
                kjernejournal::KjError::from_status(status, message).render_fhir()
            }
            ErrorFormat::Problem => problem::Problem::from_status(status, message).render(),
            ErrorFormat::Admin => admin::AdminError::from_status(status, message).render(),
        }
    }
}

/// A resource's default service: 405 with `Allow` (the scope's middleware formats the body).
pub fn method_not_allowed(allow: impl Into<String>) -> actix_web::Route {
    let allow: String = allow.into();
    actix_web::web::to(move || {
        let allow = allow.clone();
        async move {
            HttpResponse::MethodNotAllowed()
                .insert_header((header::ALLOW, allow))
                .finish()
        }
    })
}

/// A resource at `path` answering `routes` (each with its method's name) and 405 with `Allow`
/// naming them to any other method.
pub fn endpoint<const N: usize>(
    path: &str,
    routes: [(&'static str, actix_web::Route); N],
) -> actix_web::Resource {
    let allow = routes.iter().map(|(method, _)| *method).collect::<Vec<_>>();
    routes
        .into_iter()
        .fold(actix_web::web::resource(path), |resource, (_, route)| {
            resource.route(route)
        })
        .default_service(method_not_allowed(allow.join(", ")))
}

/// Middleware for a service scope: every 4xx/5xx response that is not already in the service's
/// format (an extractor error, a 404 or 405 from routing, a payload overflow) is re-rendered in it.
pub fn error_handlers<B: MessageBody + 'static>(format: ErrorFormat) -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(move |res| reformat(format, res))
}

fn reformat<B: MessageBody + 'static>(
    format: ErrorFormat,
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    if res
        .response()
        .extensions()
        .get::<ServiceFormatted>()
        .is_some()
    {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let error = res.response().error();
    // A body that did not arrive in time is the client's slowness: 408, not 400.
    let status = if error.is_some_and(crate::limits::is_body_timeout) {
        StatusCode::REQUEST_TIMEOUT
    } else {
        res.status()
    };
    let message = error
        .map(|e| describe_framework_error(status, &e.to_string()))
        .unwrap_or_else(|| default_message(status, res.request().method().as_str()));
    let allow = res.headers().get(header::ALLOW).cloned();
    let (req, _) = res.into_parts();
    let mut response = format.render(status, &message);
    if let Some(allow) = allow {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}

/// actix's own messages are terse ("A payload reached size limit."); say what went wrong.
fn describe_framework_error(status: StatusCode, actix_message: &str) -> String {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("The request body is too large ({actix_message})")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            format!("Unsupported Content-Type ({actix_message})")
        }
        _ if actix_message.is_empty() => default_message(status, ""),
        _ => actix_message.to_owned(),
    }
}

fn default_message(status: StatusCode, method: &str) -> String {
    match status {
        StatusCode::NOT_FOUND => "No such endpoint".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => format!("Method {method} is not allowed here"),
        _ => status
            .canonical_reason()
            .unwrap_or("Request failed")
            .to_owned(),
    }
}
