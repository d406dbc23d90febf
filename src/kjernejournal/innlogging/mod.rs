//! Kjernejournal Innlogging at `/kjernejournal/innlogging` (the real test host is
//! `https://innlogging.st1.kjernejournal-test.no`), as the utviklerportal's "Kjernejournal
//! Innlogging" pages and NHN's kjernejournal-innlogging-klient use it:
//!
//! - `POST /api/session/create` `{ehr_code_challenge, claims}` → `{code, sessionId}`: the EHR
//!   then opens the portal at `/kjernejournal/hpp-webapp/hentpasient.html?code=…&
//!   ehr_code_verifier=…`;
//! - `POST /api/session/refresh` `{sessionId}` with a freshly refreshed token keeps it alive;
//! - `POST /api/session/end` `{sessionId}` ends it (also before switching patient);
//! - `GET /api/session/ping` checks the token and headers.
//!
//! Every call needs the user's DPoP-bound token with the trust-framework attest
//! ([`caller`]).

pub mod attest;
pub mod body;
pub mod caller;
pub mod fault;
pub mod sessions;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::State;
use super::ticket::TicketError;
use crate::errors::method_not_allowed;
use crate::limits::BodyThen;
use body::CreateRequest;
use caller::{InnloggingCaller, InnloggingUser};
use fault::InnloggingFault;
use sessions::{Owner, SessionFacts};

/// Registers Innlogging's routes (under `/kjernejournal/innlogging`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(["/api/session/create", "/api/session/create/"])
            .route(web::post().to(create))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(["/api/session/refresh", "/api/session/refresh/"])
            .route(web::post().to(refresh))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(["/api/session/end", "/api/session/end/"])
            .route(web::post().to(end))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(["/api/session/ping", "/api/session/ping/"])
            .route(web::get().to(ping))
            .default_service(method_not_allowed("GET")),
    );
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The body of a POST as a JSON object.
fn json_body(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, InnloggingFault> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    body::json_object(content_type, body).map_err(InnloggingFault::InvalidRequest)
}

/// The helseindikator ticket sent along, when it is: it must be valid and name the token's
/// organisation and the body's patient.
fn check_ticket(
    state: &State,
    ticket: &str,
    user: &InnloggingUser,
    patient: &str,
    now: DateTime<Utc>,
) -> Result<(), InnloggingFault> {
    let facts = state.tickets.open_valid(ticket, now).map_err(|e| match e {
        TicketError::Invalid => InnloggingFault::Ticket(
            "The ticket is not one kjernejournal's helseindikator issued, or it has been \
             altered: send it as helseindikator returned it, or leave it out"
                .to_owned(),
        ),
        TicketError::Expired(at) => InnloggingFault::TicketExpired(at),
    })?;
    if Some(facts.orgnr.as_str()) != user.orgnr.as_deref() {
        return Err(InnloggingFault::Ticket(format!(
            "The ticket was issued to organisation {}, but the access token is for {}: a ticket \
             is valid for the organisation whose token asked helseindikator for it",
            facts.orgnr,
            user.orgnr.as_deref().unwrap_or("no organisation")
        )));
    }
    if facts.fnr != patient {
        return Err(InnloggingFault::Ticket(
            "The ticket was issued for another patient than claims.patient_identifier.id"
                .to_owned(),
        ));
    }
    Ok(())
}

/// `POST /api/session/create`.
async fn create(
    req: HttpRequest,
    BodyThen {
        body,
        then: InnloggingCaller(user),
    }: BodyThen<InnloggingCaller>,
    state: web::Data<State>,
) -> Result<HttpResponse, InnloggingFault> {
    let now = state.clock.now();
    let request =
        CreateRequest::parse(&json_body(&req, &body)?).map_err(InnloggingFault::InvalidRequest)?;
    if let Some(ticket) = &request.ticket {
        check_ticket(&state, ticket, &user, &request.patient, now)?;
    }
    let facts = SessionFacts {
        pid: user.pid.clone(),
        hpr: user.hpr.clone(),
        orgnr: user.orgnr.clone(),
        user_name: user.attest.practitioner_name().map(str::to_owned),
        point_of_care: user.attest.point_of_care().map(str::to_owned),
        purpose_of_use: user.attest.purpose_of_use().map(str::to_owned),
        patient: request.patient,
        authorization: request.authorization,
        access_basis: request.access_basis,
    };
    let created = state
        .innlogging
        .create(facts, &request.challenge, user.expires, now)?;
    Ok(super::json_answer(
        &json!({"code": created.code, "sessionId": created.session_id}),
    ))
}

fn owner(user: &InnloggingUser) -> Owner<'_> {
    Owner {
        pid: &user.pid,
        orgnr: user.orgnr.as_deref(),
    }
}

/// `POST /api/session/refresh`: the session lives on until the new token expires.
async fn refresh(
    req: HttpRequest,
    BodyThen {
        body,
        then: InnloggingCaller(user),
    }: BodyThen<InnloggingCaller>,
    state: web::Data<State>,
) -> Result<HttpResponse, InnloggingFault> {
    let now = state.clock.now();
    let id = body::session_id(&json_body(&req, &body)?).map_err(InnloggingFault::InvalidRequest)?;
    let expires = state
        .innlogging
        .refresh(&id, owner(&user), user.expires, now)?;
    Ok(super::json_answer(
        &json!({"sessionId": id, "expires": instant(expires)}),
    ))
}

/// `POST /api/session/end`.
async fn end(
    req: HttpRequest,
    BodyThen {
        body,
        then: InnloggingCaller(user),
    }: BodyThen<InnloggingCaller>,
    state: web::Data<State>,
) -> Result<HttpResponse, InnloggingFault> {
    let now = state.clock.now();
    let id = body::session_id(&json_body(&req, &body)?).map_err(InnloggingFault::InvalidRequest)?;
    state.innlogging.end(&id, owner(&user), now)?;
    Ok(super::json_answer(
        &json!({"sessionId": id, "ended": instant(now)}),
    ))
}

/// `GET /api/session/ping`: the token and headers are fine.
async fn ping(_caller: InnloggingCaller, state: web::Data<State>) -> HttpResponse {
    let now = state.clock.now();
    super::json_answer(&json!({"Pong": now.to_rfc3339_opts(SecondsFormat::Millis, true)}))
}
