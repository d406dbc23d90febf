//! SFM's session service at `/sfm/api`: patient tickets (the GUI sessions are in
//! [`super::gui`]). Errors are RFC 9457 problem details, with the statuses the spec lists.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HttpDate};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::caller::{self, Caller};
use crate::errors::problem::Problem;
use crate::sfm::State;

pub(super) fn problem(status: StatusCode, detail: impl Into<String>) -> Problem {
    Problem::new(status, detail)
}

/// The caller, refused as the spec says: 401 for a missing or invalid token and for a client
/// or user SFM does not recognise.
pub(super) fn caller_in_tenant(
    req: &HttpRequest,
    state: &State,
    now: DateTime<Utc>,
) -> Result<Caller, Problem> {
    let unauthorized = |detail: String, challenge: String| {
        let mut p = problem(StatusCode::UNAUTHORIZED, detail);
        p.www_authenticate = Some(challenge);
        p
    };
    let caller = caller::authenticate(req, state, now).map_err(|r| {
        if r.is_forbidden() {
            problem(StatusCode::FORBIDDEN, r.message())
        } else {
            unauthorized(
                r.message(),
                r.challenge(crate::auth::http::request_scheme(req)),
            )
        }
    })?;
    let sfm = state.store();
    let challenge = || "Bearer error=\"invalid_token\"".to_owned();
    let Some(tenant) = sfm.tenants.get(&caller.tenant_id) else {
        return Err(unauthorized(
            format!(
                "SFM does not recognise the instance {}: create it first with POST \
                 /sfm/fhir/Organization",
                caller.tenant_id
            ),
            challenge(),
        ));
    };
    if !tenant.has_user(&caller.pid) {
        return Err(unauthorized(
            format!(
                "SFM does not recognise the user {} in this instance: a superuser registers users \
                 as Person or Practitioner",
                caller.pid
            ),
            challenge(),
        ));
    }
    Ok(caller)
}

pub(super) fn require_json(req: &HttpRequest) -> Result<(), Problem> {
    if req.content_type().eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type must be application/json, got '{}'",
                req.content_type()
            ),
        ))
    }
}

pub(super) fn json_body(body: &[u8]) -> Result<serde_json::Map<String, Value>, Problem> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(problem(
            StatusCode::BAD_REQUEST,
            "The body must be a JSON object",
        )),
        Err(e) => Err(problem(
            StatusCode::BAD_REQUEST,
            format!("The body is not valid JSON: {e}"),
        )),
    }
}

/// `POST /sfm/api/PatientTicket`: `{"patientPid": "..."}` to a ticket, as JSON when `Accept`
/// includes `application/json`, as text otherwise; `Expires` tells when it runs out.
pub async fn patient_ticket(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    let caller = caller_in_tenant(&req, &state, now)?;
    require_json(&req)?;
    let body = json_body(&body)?;
    let pid = match body.get("patientPid") {
        Some(Value::String(pid)) if !pid.trim().is_empty() => pid.trim().to_owned(),
        Some(Value::String(_)) | None => {
            return Err(problem(StatusCode::BAD_REQUEST, "patientPid is missing"));
        }
        Some(_) => {
            return Err(problem(
                StatusCode::BAD_REQUEST,
                "patientPid must be a string (fødselsnummer, D-nummer or the EHR's id)",
            ));
        }
    };
    let ticket = {
        let mut sfm = state.store_mut();
        let Some(tenant) = sfm.tenants.get_mut(&caller.tenant_id) else {
            return Err(problem(
                StatusCode::UNAUTHORIZED,
                "SFM does not recognise the instance",
            ));
        };
        let Some(patient_id) = tenant.find_patient(&pid).cloned() else {
            return Err(problem(
                StatusCode::NOT_FOUND,
                format!(
                    "No patient with the identity {pid} in this SFM instance (searched by \
                     fødselsnummer, D-nummer, then the EHR's id)"
                ),
            ));
        };
        tenant.tickets.issue(&caller.pid, &patient_id, now)
    };
    let expires = HttpDate::from(std::time::SystemTime::from(ticket.expires)).to_string();
    let wants_json = wants_json(&req);
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::EXPIRES, expires))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(if wants_json {
        response.json(json!({ "patientTicket": ticket.value }))
    } else {
        // The whole text/plain body is the ticket: the request journal must not show it.
        crate::secret::mark_secret(
            response
                .content_type("text/plain; charset=utf-8")
                .body(ticket.value),
        )
    })
}

/// Whether `Accept` lists `application/json` with a quality above zero (the spec: "when the
/// accept header in the request includes the application/json type").
fn wants_json(req: &HttpRequest) -> bool {
    use actix_web::http::header::{Accept, Header as _};
    Accept::parse(req).is_ok_and(|accept| {
        accept.iter().any(|item| {
            item.item.essence_str() == "application/json"
                && item.quality > actix_web::http::header::Quality::ZERO
        })
    })
}

/// "Given Family" of a resource's first HumanName.
pub(crate) fn display_name(resource: &Value) -> Option<String> {
    let name = resource.get("name")?.as_array()?.first()?;
    let given: Vec<&str> = name
        .get("given")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let family = name
        .get("family")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let full = format!("{} {family}", given.join(" ")).trim().to_owned();
    (!full.is_empty()).then_some(full)
}
