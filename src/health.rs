//! `GET /healthz`: liveness for Docker's HEALTHCHECK and orchestrators.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::state::AppState;

/// What `/healthz` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    status: &'static str,
    /// helsesim's version.
    version: &'static str,
    /// helsesim's now (RFC 3339).
    #[schema(format = DateTime)]
    time: String,
}

/// `GET /healthz`.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    summary = "Liveness: helsesim answers (never journaled, never faulted, no token)",
    security(()),
    responses((status = 200, description = "helsesim answers", body = Health))
)]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Health {
            status: "ok",
            version: env!("CARGO_PKG_VERSION"),
            time: state.clock.now().to_rfc3339(),
        })
}
