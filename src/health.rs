//! `GET /healthz`: liveness for Docker's HEALTHCHECK and orchestrators.

use actix_web::{HttpResponse, web};

use crate::state::AppState;

/// `GET /healthz`.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    summary = "Liveness: helsesim answers (never journaled, never faulted, no token)",
    security(()),
    responses((status = 200, description = "`{status: \"ok\", version, time}`"))
)]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "time": state.clock.now().to_rfc3339(),
        }))
}
