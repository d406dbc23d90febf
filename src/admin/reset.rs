//! `POST /_admin/reset`: every service back to the fixtures, without a restart — clients,
//! users, SFM tenants and tickets, the national systems and their messages, kjernejournal's
//! organisations, PTS's restrictions, HelseID's logins, the advisor's findings (kept with
//! `?keep=advice`). Keys, the clock and the settings stay.
//! Relative fixture times (`now-120d`) are counted from the clock's now.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use crate::errors::admin::AdminError;
use crate::state::AppState;

/// What a reset answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResetAnswer {
    /// Always `true`.
    reset: bool,
    /// How long it took, in milliseconds.
    took_ms: u128,
}

/// `POST /_admin/reset`.
#[utoipa::path(post, path = "/_admin/reset", operation_id = "reset",
    summary = "Every service back to the fixtures (keys, clock, faults and journal stay; the \
        advisor's findings go unless keep=advice)",
    params(("keep" = Option<String>, Query, description = "advice: keep the advisor's findings \
        (the requests so far are digested first)")),
    responses((status = 200, description = "done", body = ResetAnswer),
        (status = 400, description = "invalid_request")))]
pub async fn reset(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let mut keep_advice = false;
    for (name, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match (name.as_ref(), value.as_ref()) {
            ("keep", "advice") => keep_advice = true,
            ("keep", other) => {
                return Err(AdminError::invalid_request(format!(
                    "keep must be advice, got '{other}'"
                )));
            }
            (other, _) => {
                return Err(AdminError::invalid_request(format!(
                    "Unknown parameter '{other}': this endpoint takes keep=advice"
                )));
            }
        }
    }
    let started = std::time::Instant::now();
    let fixtures = crate::fixtures::load(&state.seed, state.clock.now()).map_err(|e| {
        AdminError::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            "invalid_fixture",
            e.to_string(),
        )
    })?;
    if keep_advice {
        state.advice.findings(&state.journal, state.clock.now());
    } else {
        state.advice.clear(&state.journal);
    }
    state.reset(&fixtures);
    Ok(HttpResponse::Ok().json(ResetAnswer {
        reset: true,
        took_ms: started.elapsed().as_millis(),
    }))
}
