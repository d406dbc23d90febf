//! Runtime fixtures: add or replace test users, SFM instances (tenants) and patients of the
//! national systems without a restart, in the same JSON as one entry of the fixture files —
//! validated the same way. (Clients: see `clients.rs`.)

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::require_json;
use crate::errors::FieldError;
use crate::errors::admin::AdminError;
use crate::fixtures::parse_record;
use crate::helseid::model::{User, UserEntry};
use crate::national::fixture::{PatientFixture, build_patient};
use crate::sfm::model::{TenantEntry, build_tenant};
use crate::state::AppState;

fn invalid(kind: &str, e: &FieldError) -> AdminError {
    let message = if e.field.is_empty() {
        e.message.clone()
    } else {
        format!("field `{}`: {}", e.field, e.message)
    };
    AdminError::new(StatusCode::BAD_REQUEST, &format!("invalid_{kind}"), message)
}

fn created_or_replaced(replaced: bool) -> StatusCode {
    if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
}

/// `GET /_admin/helseid/users`: the test users, in login-page order.
#[utoipa::path(
    get,
    path = "/_admin/helseid/users",
    operation_id = "listUsers",
    summary = "The test users",
    responses((status = 200, description = "user entries"))
)]
pub async fn list_users(state: web::Data<AppState>) -> HttpResponse {
    let store = state.helseid.store();
    let users: Vec<&UserEntry> = store.users.iter().map(|u| &u.entry).collect();
    HttpResponse::Ok().json(users)
}

/// `POST /_admin/helseid/users`: adds (201) or replaces (200) a test user by pid.
#[utoipa::path(
    post,
    path = "/_admin/helseid/users",
    operation_id = "upsertUser",
    summary = "Add or replace a test user",
    request_body(content = Object, description = "one entry of the fixture file, validated the \
                                                  same way"),
    responses(
        (status = 201, description = "added"), (status = 200, description = "replaced"),
        (status = 400, description = "invalid_user_entry")
    )
)]
pub async fn upsert_user(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    require_json(&req)?;
    let entry: UserEntry = parse_record(&body).map_err(|e| invalid("user_entry", &e))?;
    let user = User::validate(entry).map_err(|e| invalid("user_entry", &e))?;
    let entry = user.entry.clone();
    let mut store = state.helseid.store_mut();
    let existing = store.users.iter().position(|u| u.pid() == user.pid());
    let replaced = existing.is_some();
    match existing {
        Some(index) => store.users[index] = Arc::new(user),
        None => store.users.push(Arc::new(user)),
    }
    Ok(HttpResponse::build(created_or_replaced(replaced)).json(entry))
}

/// `DELETE /_admin/helseid/users/{pid}`.
#[utoipa::path(
    delete,
    path = "/_admin/helseid/users/{pid}",
    operation_id = "deleteUser",
    summary = "Remove a test user",
    params(("pid" = String, Path, description = "the user's fødselsnummer")),
    responses((status = 204, description = "removed"), (status = 404, description = "not_found"))
)]
pub async fn delete_user(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let mut store = state.helseid.store_mut();
    let before = store.users.len();
    store.users.retain(|u| u.pid() != path.as_str());
    if store.users.len() == before {
        return Err(AdminError::not_found(format!("No test user '{path}'")));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /_admin/sfm/tenants`: adds (201) or replaces (200) an SFM instance with its resources,
/// as one entry of `fixtures/sfm/tenants.json`.
#[utoipa::path(
    post,
    path = "/_admin/sfm/tenants",
    operation_id = "upsertTenant",
    summary = "Add or replace an SFM instance",
    request_body(content = Object, description = "one entry of the fixture file, validated the \
                                                  same way"),
    responses(
        (status = 201, description = "added"), (status = 200, description = "replaced"),
        (status = 400, description = "invalid_tenant_entry")
    )
)]
pub async fn upsert_tenant(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    require_json(&req)?;
    let entry: TenantEntry = parse_record(&body).map_err(|e| invalid("tenant_entry", &e))?;
    let tenant = build_tenant(entry, state.clock.now()).map_err(|e| invalid("tenant_entry", &e))?;
    let id = tenant.id.clone();
    let replaced = state
        .sfm
        .store_mut()
        .tenants
        .insert(id.clone(), tenant)
        .is_some();
    Ok(HttpResponse::build(created_or_replaced(replaced)).json(serde_json::json!({"sfm_id": id})))
}

/// `POST /_admin/sfm/national`: adds (201) or replaces (200) what the national systems hold for a
/// patient, as one entry of `fixtures/sfm/national.json`.
#[utoipa::path(post, path = "/_admin/sfm/national", operation_id = "upsertPatient",
    summary = "Add or replace a patient of the national systems",
    request_body(content = Object, description = "one entry of the fixture file, validated the \
                                                  same way"),
    responses(
        (status = 201, description = "added"), (status = 200, description = "replaced"),
        (status = 400, description = "invalid_patient_entry")))]
pub async fn upsert_patient(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    require_json(&req)?;
    let fixture: PatientFixture = parse_record(&body).map_err(|e| invalid("patient_entry", &e))?;
    let now = state.clock.now();
    let mut national = state.national.write();
    let key = fixture.patient.clone();
    // The patient's own old record does not count against its ReseptIds.
    let taken = |id: &str| {
        national
            .prescription_owner(id)
            .is_some_and(|p| p.key != key)
    };
    let patient = build_patient(fixture, &taken, now).map_err(|e| invalid("patient_entry", &e))?;
    let replaced = national.insert(patient);
    Ok(
        HttpResponse::build(created_or_replaced(replaced))
            .json(serde_json::json!({"patient": key})),
    )
}
