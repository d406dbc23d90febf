//! Kjernejournal at `/kjernejournal`. Until its endpoints land, every path answers in
//! kjernejournal's error format.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::errors::kjernejournal::KjError;
use crate::errors::{ErrorFormat, error_handlers};

/// Registers kjernejournal's routes under `/kjernejournal`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/kjernejournal")
            .wrap(error_handlers(ErrorFormat::Kjernejournal))
            .default_service(web::to(not_found)),
    );
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    KjError::from_status(
        actix_web::http::StatusCode::NOT_FOUND,
        &format!("Kjernejournal has no endpoint at {}", req.path()),
    )
    .render()
}
