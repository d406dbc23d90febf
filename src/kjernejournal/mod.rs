//! Kjernejournal at `/kjernejournal`: helseindikator (`POST /v1/helseindikator`), ping
//! (`GET /v1/ping`) — both with the organisation's system token — and, with the user's token and
//! the ticket, the data APIs: critical information as FHIR (`GET /v1/fhir/Patient/$everything`)
//! and the medication overview (`GET /v1/legemidler`); Kjernejournal Innlogging
//! (`/innlogging/api/session/…`, [`innlogging`]) and the portal it opens (`/hpp-webapp`,
//! [`portal`]). Every answer carries `X-EVENT-ID` and
//! every JSON body a random extra field ([`envelope`]); errors are
//! `{status, utviklermelding, brukermelding, feilkode}` ([`fault`]).

pub mod access;
pub mod caller;
pub mod consent;
pub mod envelope;
pub mod fault;
pub mod fhir;
pub mod indicator;
pub mod innlogging;
pub mod legemidler;
pub mod model;
pub mod outage;
pub mod portal;
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
use crate::limits::BodyThen;
use caller::KjSystemCaller;
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
            .service(web::scope("/innlogging").configure(innlogging::configure))
            .service(
                web::scope("/hpp-webapp")
                    .configure(portal::configure)
                    .default_service(web::to(portal::not_found)),
            )
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
            .wrap(from_fn(outage::unavailable))
            .wrap(error_handlers(ErrorFormat::Kjernejournal))
            .wrap(from_fn(envelope::envelope)),
    );
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    KjError::from_status(
        StatusCode::NOT_FOUND,
        &format!(
            "Kjernejournal has no endpoint at {}: helsesim simulates POST \
             /kjernejournal/v1/helseindikator, GET /kjernejournal/v1/ping, GET \
             /kjernejournal/v1/legemidler, GET /kjernejournal/v1/fhir/Patient/$everything, \
             Kjernejournal Innlogging's POST /kjernejournal/innlogging/api/session/create \
             (refresh, end; GET ping) and the portal at \
             /kjernejournal/hpp-webapp/hentpasient.html",
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
    /// Parses the body; every problem with its fields is reported at once.
    fn parse(req: &HttpRequest, body: &[u8]) -> Result<Self, Fault> {
        let object = json_object(req, body)?;
        let fnr = fnr_field(object.get("fnr"));
        let medications_from = medications_from_field(object.get("legemiddelFraDato"));
        let samtykke = samtykke_field(object.get("samtykke"));
        match (fnr, medications_from, samtykke) {
            (Ok(fnr), Ok(medications_from), Ok(samtykke)) => Ok(Self {
                fnr,
                medications_from,
                samtykke,
            }),
            (fnr, medications_from, samtykke) => {
                let problems: Vec<String> = [fnr.err(), medications_from.err(), samtykke.err()]
                    .into_iter()
                    .flatten()
                    .collect();
                Err(Fault::InvalidRequest(problems.join("; ")))
            }
        }
    }
}

/// The body as a JSON object, sent as `application/json`.
fn json_object(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, Fault> {
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
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Fault::InvalidRequest(
            "The body must be a JSON object such as {\"fnr\": \"13116900216\"}".to_owned(),
        )),
        Err(e) => Err(Fault::InvalidRequest(format!(
            "The body is not valid JSON: {e}"
        ))),
    }
}

/// `fnr`: required, a non-empty string (its checks come with the answer, status 0).
fn fnr_field(value: Option<&Value>) -> Result<String, String> {
    match value {
        Some(Value::String(fnr)) if !fnr.is_empty() => Ok(fnr.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err("fnr is required: the patient's fødselsnummer or D-nummer".to_owned())
        }
        Some(other) => Err(format!(
            "fnr must be a string of eleven digits, got {other}"
        )),
    }
}

/// `legemiddelFraDato`: optional, a date such as `2021-06-11`.
fn medications_from_field(value: Option<&Value>) -> Result<Option<NaiveDate>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(date)) => NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                format!("legemiddelFraDato must be a date such as 2021-06-11, got '{date}'")
            }),
        Some(other) => Err(format!(
            "legemiddelFraDato must be a date string such as \"2021-06-11\", got {other}"
        )),
    }
}

/// `samtykke`: optional, one of the consent values.
fn samtykke_field(value: Option<&Value>) -> Result<Option<Samtykke>, String> {
    let allowed = || Samtykke::ALL.join(", ");
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Samtykke::parse(value)
            .map(Some)
            .ok_or_else(|| format!("samtykke must be one of {}, got '{value}'", allowed())),
        Some(other) => Err(format!(
            "samtykke must be one of {}, got {other}",
            allowed()
        )),
    }
}

/// Helseindikator's answer as JSON, in the spec's field order, without the ticket.
fn indicator_json(answer: &indicator::Indicator) -> Map<String, Value> {
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
    out
}

/// `POST /v1/helseindikator`: the patient's status in kjernejournal and, from status 2, a ticket.
async fn helseindikator(
    req: HttpRequest,
    BodyThen { body, then: caller }: BodyThen<KjSystemCaller>,
    state: web::Data<State>,
) -> Result<HttpResponse, KjError> {
    let now = state.clock.now();
    let input = IndicatorInput::parse(&req, &body)?;
    let answer = {
        let national = state.national();
        indicator::indicator(
            &input.fnr,
            national.patient(&input.fnr),
            input.medications_from,
        )
    };
    let mut out = indicator_json(&answer);
    if answer.status.gives_ticket() {
        let facts = TicketFacts {
            orgnr: caller.0.orgnr,
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

/// `GET /v1/ping`: checks the system token and the organisation's access (the extractor);
/// answers the time in the field the spec's output table names, `Pong`.
async fn ping(_caller: KjSystemCaller, state: web::Data<State>) -> HttpResponse {
    let now = state.clock.now();
    json_answer(&json!({"Pong": now.to_rfc3339_opts(SecondsFormat::Millis, true)}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helseindikators_fields_are_checked_one_by_one() {
        assert_eq!(
            fnr_field(Some(&json!("13116900216"))),
            Ok("13116900216".to_owned())
        );
        for missing in [None, Some(json!(null)), Some(json!(""))] {
            assert_eq!(
                fnr_field(missing.as_ref()),
                Err("fnr is required: the patient's fødselsnummer or D-nummer".to_owned())
            );
        }
        assert_eq!(
            fnr_field(Some(&json!(13_116_900_216_u64))),
            Err("fnr must be a string of eleven digits, got 13116900216".to_owned())
        );
        assert_eq!(
            medications_from_field(Some(&json!("2021-06-11"))),
            Ok(NaiveDate::from_ymd_opt(2021, 6, 11))
        );
        assert_eq!(
            medications_from_field(Some(&json!("11.06.2021"))),
            Err("legemiddelFraDato must be a date such as 2021-06-11, got '11.06.2021'".to_owned())
        );
        assert_eq!(samtykke_field(None), Ok(None));
        assert_eq!(
            samtykke_field(Some(&json!("HPAKUTT"))),
            Ok(Some(Samtykke::HpAkutt))
        );
        assert_eq!(
            samtykke_field(Some(&json!(1))),
            Err("samtykke must be one of HPMOTTATTSAMTYKKE, HPAKUTT, HPUNNTAK, got 1".to_owned())
        );
    }

    #[test]
    fn every_problem_of_the_body_is_reported_at_once() {
        let req = actix_web::test::TestRequest::default()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .to_http_request();
        let body = br#"{"legemiddelFraDato": "i dag", "samtykke": "JA"}"#;
        assert_eq!(
            IndicatorInput::parse(&req, body),
            Err(Fault::InvalidRequest(
                "fnr is required: the patient's fødselsnummer or D-nummer; legemiddelFraDato \
                 must be a date such as 2021-06-11, got 'i dag'; samtykke must be one of \
                 HPMOTTATTSAMTYKKE, HPAKUTT, HPUNNTAK, got 'JA'"
                    .to_owned()
            ))
        );
    }
}
