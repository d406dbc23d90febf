//! PTS, NHN's patient-safety access-restriction API, at `/pts`. Until its endpoints land, every
//! path answers in PTS's problem-details format.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::errors::problem::Problem;
use crate::errors::{ErrorFormat, error_handlers};

/// Registers PTS's routes under `/pts`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/pts")
            .wrap(error_handlers(ErrorFormat::Problem))
            .default_service(web::to(not_found)),
    );
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    Problem::from_status(
        actix_web::http::StatusCode::NOT_FOUND,
        &format!("PTS has no endpoint at {}", req.path()),
    )
    .render()
}
