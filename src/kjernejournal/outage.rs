//! Kjernejournal unavailable (a scenario step, see [`crate::national::outages`]): its APIs —
//! helseindikator, ping, the data APIs and Innlogging — answer the failure in kjernejournal's
//! error format (an OperationOutcome at the FHIR API), with `X-EVENT-ID` as every answer. The
//! portal's pages are not affected.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web;

use super::State;
use crate::errors::kjernejournal::KjError;
use crate::national::outages::FailurePoint;

/// Middleware: answers the active failure instead of kjernejournal's APIs, if there is one.
pub async fn unavailable(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = req.path();
    let api =
        path.starts_with("/kjernejournal/v1/") || path.starts_with("/kjernejournal/innlogging/");
    let failure = req
        .app_data::<web::Data<State>>()
        .filter(|_| api)
        .and_then(|s| s.outages().strike(FailurePoint::KjApi, None, s.clock.now()));
    let Some(failure) = failure else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let status = failure
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let error = KjError {
        status,
        utviklermelding: failure.text,
        brukermelding: failure.display,
        feilkode: failure.code,
    };
    let response = if path.starts_with("/kjernejournal/v1/fhir") {
        error.render_fhir()
    } else {
        error.render()
    };
    let (req, _) = req.into_parts();
    Ok(ServiceResponse::new(req, response))
}
