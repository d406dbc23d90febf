//! What a FHIR handler takes from the request, as actix extractors that refuse with the FHIR
//! API's errors: the resource type of the route ([`Kind`]), the caller ([`SfmCaller`]) and the
//! body ([`FhirBody`]).
//!
//! The order of the checks is the API's: the body (when there is one) is read in full first, then
//! the resource type, the format, the token, and only then is the body parsed. actix polls a
//! handler's arguments together, not one after the other, so a separate body argument would still
//! be arriving when a later argument refuses the request: [`FhirBody`] therefore extracts what
//! comes after the body itself. [`SfmCaller`] authenticates only when polled (a DPoP proof is
//! spent by it), so an argument before it that refuses the request keeps the proof unspent.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::{body_resource, check_format, kind_of};
use crate::errors::fhir::FhirError;
use crate::limits::BodyThen;
use crate::sfm::State;
use crate::sfm::caller::{self, Caller};
use crate::sfm::model::ResourceKind;

/// An extractor's future that runs when polled, not when the extractor is made.
type Extraction<T, E> = Pin<Box<dyn Future<Output = Result<T, E>>>>;

/// The authenticated caller of a FHIR interaction, and the one `now` the interaction runs at.
///
/// Extracting it checks the format (`_format`, `Accept`: 406), takes `now` from the clock and
/// authenticates the token (401 with a `WWW-Authenticate` challenge, or 403): the handlers' old
/// preamble, with the same errors.
#[derive(Debug, Clone)]
pub struct SfmCaller {
    /// The user and the tenant the token names.
    pub caller: Caller,
    /// When the interaction happens.
    pub now: DateTime<Utc>,
}

impl SfmCaller {
    /// The format check, `now` and the authentication, in that order.
    fn extract(req: &HttpRequest) -> Result<Self, FhirError> {
        check_format(req)?;
        let state = req.app_data::<web::Data<State>>().ok_or_else(|| {
            FhirError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "exception",
                "SFM's state is not configured for this route",
            )
        })?;
        let now = state.clock.now();
        let caller = authenticate(req, state, now)?;
        Ok(Self { caller, now })
    }
}

impl FromRequest for SfmCaller {
    type Error = FhirError;
    type Future = Extraction<Self, FhirError>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Self::extract(&req) })
    }
}

/// The caller of a FHIR interaction (401 with a challenge when the token fails, 403 when it may
/// not reach the instance).
fn authenticate(req: &HttpRequest, state: &State, now: DateTime<Utc>) -> Result<Caller, FhirError> {
    caller::authenticate(req, state, now).map_err(|refusal| {
        if refusal.is_forbidden() {
            return FhirError::new(StatusCode::FORBIDDEN, "forbidden", refusal.message());
        }
        let mut error = FhirError::new(StatusCode::UNAUTHORIZED, "login", refusal.message());
        error.www_authenticate = Some(refusal.challenge(crate::auth::http::request_scheme(req)));
        error
    })
}

/// The resource type a `/{type}…` route names (404, or 405 for a Datadeling type, when SFM does
/// not serve it that way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind(pub ResourceKind);

/// The `{type}` segment of a route, decoded as `web::Path` decodes it.
#[derive(Deserialize)]
struct TypeSegment {
    #[serde(rename = "type")]
    name: String,
}

impl FromRequest for Kind {
    type Error = FhirError;
    type Future = Ready<Result<Self, FhirError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let name = req
            .match_info()
            .load::<TypeSegment>()
            .map(|segment| segment.name)
            .unwrap_or_default();
        ready(kind_of(&name).map(Kind))
    }
}

/// What a FHIR request body is read as, once the request has passed its other checks.
pub trait FromFhirBody: Sized {
    /// Reads the body (its `Content-Type` and content); every problem is a FhirError.
    fn from_body(req: &HttpRequest, body: &[u8]) -> Result<Self, FhirError>;
}

/// A resource: FHIR JSON (see `body_resource`).
impl FromFhirBody for Value {
    fn from_body(req: &HttpRequest, body: &[u8]) -> Result<Self, FhirError> {
        body_resource(req, body)
    }
}

/// A request with a body, checked in the API's order: the body is read in full (413 when it is
/// too large, 408 when it stops arriving), then `head` is extracted (e.g. the [`Kind`] and the
/// [`SfmCaller`]), then the body is read as `B`.
#[derive(Debug)]
pub struct FhirBody<T, B = Value> {
    /// What the request must pass before its body is parsed.
    pub head: T,
    /// The parsed body.
    pub body: B,
}

impl<T, B> FromRequest for FhirBody<T, B>
where
    T: FromRequest + 'static,
    T::Future: 'static,
    B: FromFhirBody + 'static,
{
    type Error = actix_web::Error;
    type Future = Extraction<Self, actix_web::Error>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = BodyThen::<T>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let BodyThen { body, then: head } = read.await?;
            let body = B::from_body(&req, &body)?;
            Ok(Self { head, body })
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header;
    use actix_web::test::TestRequest;

    use super::*;

    fn status(error: impl Into<actix_web::Error>) -> StatusCode {
        error.into().as_response_error().status_code()
    }

    #[actix_web::test]
    async fn the_format_is_checked_before_the_token() {
        // No state: reaching the authentication would be a 500.
        let (req, mut payload) = TestRequest::default()
            .insert_header((header::ACCEPT, "text/html"))
            .to_http_parts();
        let refused = SfmCaller::from_request(&req, &mut payload)
            .await
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::NOT_ACCEPTABLE);
    }

    #[actix_web::test]
    async fn the_body_is_read_before_anything_else_is_checked() {
        let (req, mut payload) = TestRequest::default()
            .app_data(web::PayloadConfig::new(4))
            .insert_header((header::ACCEPT, "text/html"))
            .set_payload("longer than four bytes")
            .to_http_parts();
        let refused = FhirBody::<SfmCaller>::from_request(&req, &mut payload)
            .await
            .unwrap_err();
        assert_eq!(status(refused), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[actix_web::test]
    async fn the_resource_type_is_checked_before_the_caller() {
        // Extracted together, as actix extracts a handler's arguments: the type's refusal comes
        // first, not the caller's (no state: a 500).
        let (req, mut payload) = TestRequest::default()
            .param("type", "Unknown")
            .to_http_parts();
        let refused = <(Kind, SfmCaller)>::from_request(&req, &mut payload)
            .await
            .unwrap_err();
        assert_eq!(status(refused), StatusCode::NOT_FOUND);
    }
}
