//! `POST /_admin/reset`: every service back to the fixtures, without a restart — clients,
//! users, SFM tenants and tickets, the national systems and their messages, kjernejournal's
//! organisations, PTS's restrictions, HelseID's logins. Keys, the clock and the settings stay.
//! Relative fixture times (`now-120d`) are counted from the clock's now.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::errors::admin::AdminError;
use crate::state::AppState;

/// `POST /_admin/reset`.
#[utoipa::path(post, path = "/_admin/reset", operation_id = "reset",
    summary = "Every service back to the fixtures (keys, clock, faults and journal stay)",
    responses((status = 200, description = "{reset, took_ms}")))]
pub async fn reset(state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let started = std::time::Instant::now();
    let fixtures = crate::fixtures::load(&state.seed, state.clock.now()).map_err(|e| {
        AdminError::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            "invalid_fixture",
            e.to_string(),
        )
    })?;
    state.reset(&fixtures);
    Ok(HttpResponse::Ok().json(json!({
        "reset": true,
        "took_ms": started.elapsed().as_millis(),
    })))
}
