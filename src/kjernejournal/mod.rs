//! Kjernejournal at `/kjernejournal`: helseindikator (`POST /v1/helseindikator`), ping
//! (`GET /v1/ping`) — both with the organisation's system token — and, with the user's token and
//! the ticket, the data APIs: critical information as FHIR (`GET /v1/fhir/Patient/$everything`)
//! and the medication overview (`GET /v1/legemidler`). Every answer carries `X-EVENT-ID` and
//! every JSON body a random extra field ([`envelope`]); errors are
//! `{status, utviklermelding, brukermelding, feilkode}` ([`fault`]).

pub mod access;
pub mod caller;
pub mod consent;
pub mod envelope;
pub mod fault;
pub mod fhir;
pub mod indicator;
pub mod legemidler;
pub mod model;
pub mod state;
pub mod ticket;

use actix_web::http::{StatusCode, header};
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDate, SecondsFormat};
use serde_json::{Map, Value, json};
pub use state::State;

use crate::errors::kjernejournal::KjError;
use crate::errors::{ErrorFormat, error_handlers, method_not_allowed};
use consent::Samtykke;
use fault::Fault;
use ticket::TicketFacts;

/// Largest accepted request body.
const MAX_BODY: usize = 16 * 1024;

/// Registers kjernejournal's routes under `/kjernejournal`.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<State>) {
    cfg.service(
        web::scope("/kjernejournal")
            .app_data(state)
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .service(
                web::scope("/v1/fhir")
                    .wrap(error_handlers(ErrorFormat::KjernejournalFhir))
                    .configure(fhir::configure)
                    .default_service(web::to(fhir::not_found)),
            )
            .service(
                // With and without a trailing slash, as the (Spring) service answers: the spec
                // prints `POST /v1/helseindikator/`.
                web::resource([
                    "/v1/helseindikator",
                    "/v1/helseindikator/",
                    "/v1/helseindikator/status",
                    "/v1/helseindikator/status/",
                ])
                .route(web::post().to(helseindikator))
                .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource(["/v1/ping", "/v1/ping/"])
                    .route(web::get().to(ping))
                    .default_service(method_not_allowed("GET")),
            )
            .service(
                web::resource(["/v1/legemidler", "/v1/legemidler/"])
                    .route(web::get().to(legemidler::legemidler))
                    .default_service(method_not_allowed("GET")),
            )
            .default_service(web::to(not_found))
            .wrap(error_handlers(ErrorFormat::Kjernejournal))
            .wrap(from_fn(envelope::envelope)),
    );
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    KjError::from_status(
        StatusCode::NOT_FOUND,
        &format!(
            "Kjernejournal has no endpoint at {}: helsesim simulates POST /kjernejournal/v1/helseindikator, GET /kjernejournal/v1/ping, GET /kjernejournal/v1/legemidler and GET /kjernejournal/v1/fhir/Patient/$everything",
            req.path()
        ),
    )
    .render()
}

/// A kjernejournal JSON answer with the spec's caching headers.
pub fn json_answer(body: &Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            "no-cache, must-revalidate, private, s-maxage=0",
        ))
        .insert_header((header::PRAGMA, "no-cache"))
        .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
        .body(body.to_string())
}

/// A server-side failure (never the caller's mistake).
pub fn internal(message: &str) -> KjError {
    KjError::from_status(StatusCode::INTERNAL_SERVER_ERROR, message)
}

/// What helseindikator was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IndicatorInput {
    fnr: String,
    medications_from: Option<NaiveDate>,
    samtykke: Option<Samtykke>,
}

impl IndicatorInput {
    /// Parses the body; every problem is reported at once.
    fn parse(req: &HttpRequest, body: &[u8]) -> Result<Self, Fault> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !content_type
            .to_ascii_lowercase()
            .starts_with("application/json")
        {
            return Err(Fault::InvalidRequest(format!(
                "The body must be JSON with 'Content-Type: application/json' (got '{content_type}')"
            )));
        }
        let object: Map<String, Value> = match serde_json::from_slice(body) {
            Ok(Value::Object(object)) => object,
            Ok(_) => {
                return Err(Fault::InvalidRequest(
                    "The body must be a JSON object such as {\"fnr\": \"13116900216\"}".to_owned(),
                ));
            }
            Err(e) => {
                return Err(Fault::InvalidRequest(format!(
                    "The body is not valid JSON: {e}"
                )));
            }
        };
        let mut problems = Vec::new();
        let fnr = match object.get("fnr") {
            Some(Value::String(fnr)) if !fnr.is_empty() => Some(fnr.clone()),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                problems
                    .push("fnr is required: the patient's fødselsnummer or D-nummer".to_owned());
                None
            }
            Some(other) => {
                problems.push(format!(
                    "fnr must be a string of eleven digits, got {other}"
                ));
                None
            }
        };
        let medications_from = match object.get("legemiddelFraDato") {
            None | Some(Value::Null) => None,
            Some(Value::String(date)) => match NaiveDate::parse_from_str(date, "%Y-%m-%d") {
                Ok(date) => Some(date),
                Err(_) => {
                    problems.push(format!(
                        "legemiddelFraDato must be a date such as 2021-06-11, got '{date}'"
                    ));
                    None
                }
            },
            Some(other) => {
                problems.push(format!(
                    "legemiddelFraDato must be a date string such as \"2021-06-11\", got {other}"
                ));
                None
            }
        };
        let samtykke = match object.get("samtykke") {
            None | Some(Value::Null) => None,
            Some(Value::String(value)) => match Samtykke::parse(value) {
                Some(s) => Some(s),
                None => {
                    problems.push(format!(
                        "samtykke must be one of {}, got '{value}'",
                        Samtykke::ALL.join(", ")
                    ));
                    None
                }
            },
            Some(other) => {
                problems.push(format!(
                    "samtykke must be one of {}, got {other}",
                    Samtykke::ALL.join(", ")
                ));
                None
            }
        };
        match fnr {
            Some(fnr) if problems.is_empty() => Ok(Self {
                fnr,
                medications_from,
                samtykke,
            }),
            _ => Err(Fault::InvalidRequest(problems.join("; "))),
        }
    }
}

/// `POST /v1/helseindikator`: the patient's status in kjernejournal and, from status 2, a ticket.
async fn helseindikator(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> Result<HttpResponse, KjError> {
    let now = state.clock.now();
    let caller = caller::system(&req, &state, now)?;
    let input = IndicatorInput::parse(&req, &body)?;
    let answer = {
        let national = state.national();
        indicator::indicator(
            &input.fnr,
            national.patient(&input.fnr),
            input.medications_from,
        )
    };
    let mut out = Map::new();
    out.insert(
        "eksistererBlokkertHelsepersonell".to_owned(),
        json!(answer.blocked_professional),
    );
    out.insert(
        "harLasteResepter".to_owned(),
        json!(answer.locked_prescriptions),
    );
    out.insert("harLegemidler".to_owned(), json!(answer.medications));
    out.insert("returTekst".to_owned(), json!(answer.status.text()));
    out.insert("sistEndretKritiskInfo".to_owned(), json!(answer.changes));
    if let Some(last) = &answer.last_change {
        out.insert("sistEndretKritiskInfoDato".to_owned(), json!(last));
    }
    out.insert("sperringDetaljer".to_owned(), json!(answer.restrictions));
    out.insert("status".to_owned(), json!(answer.status as u8));
    if answer.status.gives_ticket() {
        let facts = TicketFacts {
            orgnr: caller.orgnr,
            fnr: input.fnr,
            samtykke: input.samtykke,
            issued: now.timestamp(),
        };
        let ticket = state
            .tickets
            .seal(&facts)
            .map_err(|_| internal("The ticket could not be sealed"))?;
        out.insert("ticket".to_owned(), json!(ticket));
    }
    Ok(json_answer(&Value::Object(out)))
}

/// `GET /v1/ping`: checks the system token and the organisation's access; answers the time in
/// the field the spec's output table names, `Pong`.
async fn ping(req: HttpRequest, state: web::Data<State>) -> Result<HttpResponse, KjError> {
    let now = state.clock.now();
    caller::system(&req, &state, now)?;
    Ok(json_answer(
        &json!({"Pong": now.to_rfc3339_opts(SecondsFormat::Millis, true)}),
    ))
}
