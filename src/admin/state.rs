//! `GET /_admin/state` and `PUT /_admin/state`: the whole in-memory state as one versioned JSON
//! document (see [`crate::state::snapshot`]), exported, and imported after validating all of it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::require_json;
use crate::errors::admin::AdminError;
use crate::state::AppState;
use crate::state::snapshot::StateDocument;

/// Largest accepted state document: 100,000 generated patients write some 155 MB.
pub const MAX_STATE_BYTES: usize = 256 * 1024 * 1024;

/// `GET /_admin/state`: the state document.
#[utoipa::path(get, path = "/_admin/state", operation_id = "exportState",
    summary = "The whole state as one versioned document (format helsesim-state, version 1): \
        clock offset, HelseID clients/users/logins, SFM, the national systems, kjernejournal \
        (with its ticket key), PTS",
    responses((status = 200, description = "the state document", body = StateDocument)))]
pub async fn export(state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let document = crate::state::persist::export(&state, false).map_err(|e| {
        AdminError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            format!("the state could not be written as JSON: {e}"),
        )
    })?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(document.text()))
}

/// `PUT /_admin/state`: replaces the whole state with the document's (400 `invalid_state`
/// naming the field when any of it is invalid; then nothing changed).
#[utoipa::path(put, path = "/_admin/state", operation_id = "importState",
    summary = "Replace the whole state with a document from GET (validated completely first; \
        on error nothing changes)",
    request_body = StateDocument,
    responses(
        (status = 200, description = "{imported, clients, users, sfm_tenants, national_patients, \
            kjernejournal_organisations, pts_restrictions, clock}"),
        (status = 400, description = "invalid_state"),
        (status = 415, description = "unsupported_media_type")))]
pub async fn import(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    require_json(&req)?;
    crate::state::persist::import(&state, &body)
        .map_err(|e| AdminError::new(StatusCode::BAD_REQUEST, "invalid_state", e.to_string()))?;
    // One lock at a time.
    let (clients, users) = {
        let helseid = state.helseid.store();
        (helseid.clients.len(), helseid.users.len())
    };
    let tenants = state.sfm.store().tenants.len();
    let patients = state.national.read().len();
    Ok(HttpResponse::Ok().json(json!({
        "imported": true,
        "clients": clients,
        "users": users,
        "sfm_tenants": tenants,
        "national_patients": patients,
        "kjernejournal_organisations": state.kjernejournal.store().organisations.len(),
        "pts_restrictions": state.pts.store().restrictions.len(),
        "clock": crate::admin::clock::clock_json(&state.clock),
    })))
}
