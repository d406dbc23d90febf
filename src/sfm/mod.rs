//! SFM (Sentral forskrivningsmodul) at `/sfm`: the session service and, under `/sfm/fhir`, the
//! FHIR R4 API. Until its endpoints land, every path answers in SFM's error format.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::errors::fhir::FhirError;
use crate::errors::{ErrorFormat, error_handlers};

/// Registers SFM's routes under `/sfm`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/sfm")
            .wrap(error_handlers(ErrorFormat::Fhir))
            .default_service(web::to(not_found)),
    );
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    FhirError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not-found",
        format!("SFM has no endpoint at {}", req.path()),
    )
    .render()
}
