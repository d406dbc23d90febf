//! `/_admin/helseid/clients`: list, add or replace, inspect and remove HelseID clients at run
//! time, in the same JSON as one entry of `fixtures/helseid/clients.json`.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::require_json;
use crate::config::url_with_segments;
use crate::errors::admin::AdminError;
use crate::fixtures::parse_record;
use crate::helseid::model::{Client, ClientEntry};
use crate::state::AppState;

/// `GET /_admin/helseid/clients`: every client entry.
#[utoipa::path(
    get,
    path = "/_admin/helseid/clients",
    operation_id = "listClients",
    summary = "The HelseID clients",
    responses((status = 200, description = "client entries"))
)]
pub async fn list(state: web::Data<AppState>) -> HttpResponse {
    let store = state.helseid.store();
    let entries: Vec<&ClientEntry> = store.clients.values().map(|c| &c.entry).collect();
    HttpResponse::Ok().json(entries)
}

/// `POST /_admin/helseid/clients`: adds (201) or replaces (200) a client.
#[utoipa::path(
    post,
    path = "/_admin/helseid/clients",
    operation_id = "upsertClient",
    summary = "Add or replace a client",
    request_body(content = Object, description = "one entry of the fixture file, validated the \
                                                  same way"),
    responses(
        (status = 201, description = "added"), (status = 200, description = "replaced"),
        (status = 400, description = "invalid_client_entry")
    )
)]
pub async fn upsert(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    require_json(&req)?;
    let entry: ClientEntry =
        parse_record(&body).map_err(|e| invalid_client(&e.field, &e.message))?;
    let resources = state.helseid.store().resources.clone();
    let client =
        Client::validate(entry, &resources).map_err(|e| invalid_client(&e.field, &e.message))?;
    for warning in client.warnings() {
        log::warn!("client {}: {warning}", client.id());
    }
    let entry = client.entry.clone();
    let replaced = state
        .helseid
        .store_mut()
        .clients
        .insert(client.id().to_owned(), Arc::new(client))
        .is_some();
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(HttpResponse::build(status)
        .insert_header((
            "Location",
            url_with_segments(
                &state.base_url,
                &["_admin", "helseid", "clients", &entry.client_id],
            ),
        ))
        .json(entry))
}

/// `GET /_admin/helseid/clients/{client_id}`.
#[utoipa::path(
    get,
    path = "/_admin/helseid/clients/{client_id}",
    operation_id = "getClient",
    summary = "One client",
    params(("client_id" = String, Path, description = "the client's id")),
    responses(
        (status = 200, description = "the client entry"),
        (status = 404, description = "not_found")
    )
)]
pub async fn get(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let store = state.helseid.store();
    let client = store
        .clients
        .get(path.as_str())
        .ok_or_else(|| AdminError::not_found(format!("No client '{path}'")))?;
    Ok(HttpResponse::Ok().json(&client.entry))
}

/// `DELETE /_admin/helseid/clients/{client_id}`.
#[utoipa::path(
    delete,
    path = "/_admin/helseid/clients/{client_id}",
    operation_id = "deleteClient",
    summary = "Remove a client",
    params(("client_id" = String, Path, description = "the client's id")),
    responses((status = 204, description = "removed"), (status = 404, description = "not_found"))
)]
pub async fn delete(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    match state.helseid.store_mut().clients.remove(path.as_str()) {
        Some(_) => Ok(HttpResponse::NoContent().finish()),
        None => Err(AdminError::not_found(format!("No client '{path}'"))),
    }
}

fn invalid_client(field: &str, message: &str) -> AdminError {
    let message = if field.is_empty() {
        message.to_owned()
    } else {
        format!("field `{field}`: {message}")
    };
    AdminError::new(StatusCode::BAD_REQUEST, "invalid_client_entry", message)
}
