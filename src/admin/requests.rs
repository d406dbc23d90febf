//! `/_admin/requests`: the request journal. `GET ?service=&status=&limit=` lists the newest
//! first (`status` an exact code such as `401` or a class such as `4xx`; `limit` default 100);
//! `DELETE` clears it.

use actix_web::{HttpRequest, HttpResponse, web};

use super::openapi::JournalService;
use crate::errors::admin::AdminError;
use crate::journal::entries_json;
use crate::state::AppState;

/// `GET /_admin/requests`.
#[utoipa::path(get, path = "/_admin/requests", operation_id = "listRequests",
    summary = "The request journal, newest first (secrets redacted)",
    params(
        ("service" = Option<JournalService>, Query,
            description = "a service's name, or none for paths no service owns"),
        ("status" = Option<String>, Query, description = "a code such as 401 or a class such as \
                                                          4xx",
            example = "4xx"),
        ("limit" = Option<u32>, Query, description = "at most this many (default 100)")),
    responses((status = 200, description = "{requests: [{id, time, service, method, path, \
        status, latency_ms, request_body, response_body, token, reason}]}")))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let mut service = None;
    let mut status: Option<(u16, u16)> = None;
    let mut limit = 100;
    for (name, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match name.as_ref() {
            "service" => match value.as_ref() {
                name if name == "none" || crate::service::Service::parse(name).is_some() => {
                    service = Some(value.into_owned());
                }
                other => {
                    return Err(AdminError::invalid_request(format!(
                        "service must be {} or none, got '{other}'",
                        crate::service::Service::names().join(", ")
                    )));
                }
            },
            "status" => {
                status = Some(parse_status(&value).ok_or_else(|| {
                    AdminError::invalid_request(format!(
                        "status must be a code such as 401 or a class such as 4xx, got '{value}'"
                    ))
                })?);
            }
            "limit" => {
                limit = value.parse().map_err(|_| {
                    AdminError::invalid_request(format!("limit must be a number, got '{value}'"))
                })?;
            }
            other => {
                return Err(AdminError::invalid_request(format!(
                    "Unknown parameter '{other}': this endpoint takes service, status and limit"
                )));
            }
        }
    }
    let entries = state.journal.list(limit, |entry_service, entry_status| {
        service.as_deref().is_none_or(|s| s == entry_service)
            && status.is_none_or(|(low, high)| (low..=high).contains(&entry_status))
    });
    Ok(HttpResponse::Ok().json(entries_json(&entries)))
}

/// `401` → (401, 401); `4xx` → (400, 499).
fn parse_status(value: &str) -> Option<(u16, u16)> {
    if let Some(class) = value.strip_suffix("xx") {
        let class: u16 = class.parse().ok().filter(|c| (1..=5).contains(c))?;
        return Some((class * 100, class * 100 + 99));
    }
    let code: u16 = value.parse().ok().filter(|c| (100..=599).contains(c))?;
    Some((code, code))
}

/// `DELETE /_admin/requests`.
#[utoipa::path(
    delete,
    path = "/_admin/requests",
    operation_id = "clearRequests",
    summary = "Clear the journal",
    responses((status = 204, description = "cleared"))
)]
pub async fn clear(state: web::Data<AppState>) -> HttpResponse {
    state.journal.clear();
    HttpResponse::NoContent().finish()
}
