//! `/_admin/faults`: fault-injection rules. `POST` adds one (`{service?, method?, path (glob),
//! status + body? | delay_ms | drop_connection, probability?, times?}`), `GET` lists them,
//! `DELETE /_admin/faults/{id}` removes one and `DELETE /_admin/faults` all.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::require_json;
use crate::errors::admin::AdminError;
use crate::faults::{FaultRequest, FaultRule};
use crate::state::AppState;

/// `POST /_admin/faults`.
#[utoipa::path(
    post,
    path = "/_admin/faults",
    operation_id = "addFault",
    summary = "Add a fault rule",
    request_body = FaultRequest,
    responses(
        (status = 201, description = "the rule with its id", body = FaultRule),
        (status = 400, description = "invalid_request")
    )
)]
pub async fn add(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    require_json(&req)?;
    let rule: FaultRequest = serde_json::from_slice(&body)
        .map_err(|e| AdminError::invalid_request(format!("The body is not a fault rule: {e}")))?;
    let stored = state
        .faults
        .add(rule)
        .map_err(AdminError::invalid_request)?;
    Ok(HttpResponse::Created().json(stored))
}

/// The fault rules, as `GET /_admin/faults` answers them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FaultList {
    /// Every rule, with its hits and what remains of it.
    faults: Vec<FaultRule>,
}

/// `GET /_admin/faults`.
#[utoipa::path(
    get,
    path = "/_admin/faults",
    operation_id = "listFaults",
    summary = "The fault rules",
    responses((status = 200, description = "the rules", body = FaultList))
)]
pub async fn list(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(FaultList {
        faults: state.faults.list(),
    })
}

/// `DELETE /_admin/faults`.
#[utoipa::path(
    delete,
    path = "/_admin/faults",
    operation_id = "clearFaults",
    summary = "Remove every fault rule",
    responses((status = 204, description = "removed"))
)]
pub async fn clear(state: web::Data<AppState>) -> HttpResponse {
    state.faults.clear();
    HttpResponse::NoContent().finish()
}

/// `DELETE /_admin/faults/{id}`.
#[utoipa::path(
    delete,
    path = "/_admin/faults/{id}",
    operation_id = "removeFault",
    summary = "Remove a fault rule",
    params(("id" = String, Path, description = "the rule's id")),
    responses((status = 204, description = "removed"), (status = 404, description = "not_found"))
)]
pub async fn remove(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let id = path.into_inner();
    if state.faults.remove(&id) {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(AdminError::not_found(format!("No fault rule '{id}'")))
    }
}
