//! SFM's session service at `/sfm/api`: patient tickets, and the GUI sessions an EHR opens to
//! embed SFM's portal. Errors are RFC 9457 problem details, with the statuses the spec lists.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HttpDate};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use aws_lc_rs::digest::{SHA512, digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::caller::{self, Caller};
use super::model::{ResourceKind, Tenant};
use crate::errors::problem::Problem;
use crate::random;
use crate::sfm::State;
use crate::ui;

/// How long a GUI session code may be used.
pub const GUI_CODE_LIFETIME: TimeDelta = TimeDelta::seconds(60);

/// A one-time code for opening SFM's portal.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuiCode {
    /// The tenant.
    pub tenant_id: String,
    /// The user.
    pub pid: String,
    /// base64(SHA-512(raw nonce)) as the EHR sent it.
    pub nonce_hash: String,
    /// Until when.
    pub expires: DateTime<Utc>,
}

fn problem(status: StatusCode, detail: impl Into<String>) -> Problem {
    Problem::new(status, detail)
}

/// The caller, refused as the spec says: 401 for a missing or invalid token and for a client
/// or user SFM does not recognise.
fn caller_in_tenant(
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

fn require_json(req: &HttpRequest) -> Result<(), Problem> {
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

fn json_body(body: &[u8]) -> Result<serde_json::Map<String, Value>, Problem> {
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

/// The nonce of a GUI session request: base64 of a SHA-512 hash (64 bytes).
fn nonce_hash(body: &serde_json::Map<String, Value>) -> Result<String, Problem> {
    let nonce = body.get("nonce").and_then(Value::as_str).ok_or_else(|| {
        problem(
            StatusCode::BAD_REQUEST,
            "nonce is missing: send base64(SHA-512(a random nonce))",
        )
    })?;
    match STANDARD.decode(nonce) {
        Ok(bytes) if bytes.len() == 64 => Ok(nonce.to_owned()),
        _ => Err(problem(
            StatusCode::BAD_REQUEST,
            "nonce must be base64(SHA-512(a random nonce)): 64 bytes, base64-encoded",
        )),
    }
}

fn gui_code_response(state: &State, code: &str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "code": code,
            "expiresIn": GUI_CODE_LIFETIME.num_seconds(),
            "portalUrl": format!("{}/sfm/portal?code={code}", state.base_url),
        }))
}

/// `POST /sfm/api/Session/create`: a one-time code for opening SFM's portal in the EHR.
pub async fn session_create(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    let caller = caller_in_tenant(&req, &state, now)?;
    require_json(&req)?;
    let nonce_hash = nonce_hash(&json_body(&body)?)?;
    let code = random::url_token(32);
    state.store_mut().gui_codes.insert(
        code.clone(),
        GuiCode {
            tenant_id: caller.tenant_id,
            pid: caller.pid,
            nonce_hash,
            expires: crate::clock::after(now, GUI_CODE_LIFETIME),
        },
    );
    Ok(gui_code_response(&state, &code))
}

/// `POST /sfm/api/Session/refresh`: a new code for a user who has a GUI session.
pub async fn session_refresh(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    let caller = caller_in_tenant(&req, &state, now)?;
    require_json(&req)?;
    let nonce_hash = nonce_hash(&json_body(&body)?)?;
    let mut sfm = state.store_mut();
    let key = (caller.tenant_id.clone(), caller.pid.clone());
    if !sfm.gui_sessions.contains_key(&key) {
        return Err(problem(
            StatusCode::NOT_FOUND,
            "There is no SFM GUI session to refresh: create one with /api/Session/create and open \
             the portal",
        ));
    }
    let code = random::url_token(32);
    sfm.gui_codes.insert(
        code.clone(),
        GuiCode {
            tenant_id: caller.tenant_id,
            pid: caller.pid,
            nonce_hash,
            expires: crate::clock::after(now, GUI_CODE_LIFETIME),
        },
    );
    drop(sfm);
    Ok(gui_code_response(&state, &code))
}

/// `POST /sfm/api/Session/end`: ends the user's GUI session.
pub async fn session_end(
    req: HttpRequest,
    state: web::Data<State>,
) -> Result<HttpResponse, Problem> {
    let now = state.clock.now();
    let caller = caller_in_tenant(&req, &state, now)?;
    let mut sfm = state.store_mut();
    sfm.gui_sessions
        .remove(&(caller.tenant_id.clone(), caller.pid.clone()));
    sfm.gui_codes
        .retain(|_, c| !(c.tenant_id == caller.tenant_id && c.pid == caller.pid));
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /sfm/portal?code=..&nonce=..`: the simulated SFM portal the EHR embeds. The code is single
/// use; the raw nonce must hash to what `Session/create` got.
pub async fn portal(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let now = state.clock.now();
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .collect();
    let bad = |message: &str| ui::portal_error(StatusCode::BAD_REQUEST, message);
    let Some(code) = params.get("code") else {
        return bad("The portal needs the one-time code from /api/Session/create");
    };
    let Some(nonce) = params.get("nonce") else {
        return bad("The portal needs the raw nonce whose SHA-512 was sent to /api/Session/create");
    };
    let mut sfm = state.store_mut();
    let Some(grant) = sfm.gui_codes.remove(code).filter(|c| c.expires > now) else {
        return bad(
            "The code is unknown, expired or already used: codes are single use and live 60 \
             seconds",
        );
    };
    if STANDARD.encode(digest(&SHA512, nonce.as_bytes())) != grant.nonce_hash {
        return bad("The nonce does not match: its SHA-512 is not what /api/Session/create got");
    }
    let organisation = sfm
        .tenants
        .get(&grant.tenant_id)
        .and_then(Tenant::organization)
        .and_then(|(_, org)| {
            org.current()
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| grant.tenant_id.clone());
    let practitioner = sfm.tenants.get(&grant.tenant_id).and_then(|t| {
        t.of_kind(ResourceKind::Practitioner)
            .chain(t.of_kind(ResourceKind::Person))
            .find(|(_, r)| {
                super::model::has_identifier(
                    r.current(),
                    &[super::model::FNR_SYSTEM, super::model::DNR_SYSTEM],
                    &grant.pid,
                )
            })
            .and_then(|(_, r)| display_name(r.current()))
    });
    sfm.gui_sessions
        .insert((grant.tenant_id.clone(), grant.pid.clone()), now);
    drop(sfm);
    ui::portal(&organisation, practitioner.as_deref().unwrap_or(&grant.pid))
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
