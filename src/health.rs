//! `GET /healthz`: liveness for Docker's HEALTHCHECK and orchestrators.

use actix_web::{HttpResponse, web};

use crate::state::AppState;

/// `GET /healthz`.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "time": state.clock.now().to_rfc3339(),
        }))
}
