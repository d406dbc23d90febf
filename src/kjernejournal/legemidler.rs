//! The medication overview (`GET /v1/legemidler`): the patient's prescriptions in
//! Reseptformidleren and medication list (PLL), up to three years back. Query parameters as
//! kjernejournal documents them: `ticket` (or the `X-kj-ticket` header), `fra`,
//! `utvidet-oppslag`, `samtykke-sperret-legemidler`, `samtykke-laste-resepter`,
//! `samtykke-bruk-api`; helsesim also takes `fnr` to check the ticket names that patient. The
//! answer's shape is helsesim's (the public documentation does not print one).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};

use super::access::{self, Request};
use super::caller::KjUserCaller;
use super::consent::Samtykke;
use super::fault::Fault;
use super::indicator::issue_date;
use super::json_answer;
use crate::errors::kjernejournal::KjError;
use crate::kjernejournal::State;
use crate::national::{KjModule, NationalPatient, Prescription, statement};

/// How far back kjernejournal looks.
const HISTORY: TimeDelta = TimeDelta::days(3 * 365);

/// The query, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Query {
    from: NaiveDate,
    extended: bool,
    open_blocked: Option<Samtykke>,
    show_locked: Option<Samtykke>,
    consent: Option<Samtykke>,
    /// `ticket`, if the query carries it.
    ticket: Option<String>,
    /// `fnr`: the patient the request itself names.
    patient: Option<String>,
}

fn parse_from(value: &str) -> Option<NaiveDate> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.to_utc().date_naive())
        .ok()
        .or_else(|| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok())
}

impl Query {
    fn parse(params: &BTreeMap<String, String>) -> Result<Self, Fault> {
        let mut problems = Vec::new();
        let from = match params.get("fra") {
            None => {
                problems.push(
                    "fra is required: the earliest time to include, e.g. 2015-11-29T13:37:19.003Z"
                        .to_owned(),
                );
                None
            }
            Some(v) => parse_from(v).or_else(|| {
                problems.push(format!(
                    "fra must be a time such as 2015-11-29T13:37:19.003Z (or a date), got '{v}'"
                ));
                None
            }),
        };
        let extended = match params.get("utvidet-oppslag").map(String::as_str) {
            Some("true") => Some(true),
            Some("false") => Some(false),
            None => {
                problems.push("utvidet-oppslag is required: true or false".to_owned());
                None
            }
            Some(other) => {
                problems.push(format!(
                    "utvidet-oppslag must be true or false, got '{other}'"
                ));
                None
            }
        };
        let two = [Samtykke::HpMottattSamtykke, Samtykke::HpAkutt];
        let all = [
            Samtykke::HpMottattSamtykke,
            Samtykke::HpAkutt,
            Samtykke::HpUnntak,
        ];
        let mut consent = |name: &str, allowed: &[Samtykke]| {
            access::consent_value(params.get(name).map(String::as_str), name, allowed)
                .unwrap_or_else(|e| {
                    if let Fault::InvalidRequest(m) = e {
                        problems.push(m);
                    }
                    None
                })
        };
        let open_blocked = consent("samtykke-sperret-legemidler", &two);
        let show_locked = consent("samtykke-laste-resepter", &two);
        let api_consent = consent("samtykke-bruk-api", &all);
        match (from, extended) {
            (Some(from), Some(extended)) if problems.is_empty() => Ok(Self {
                from,
                extended,
                open_blocked,
                show_locked,
                consent: api_consent,
                ticket: params.get("ticket").cloned(),
                patient: params.get("fnr").cloned(),
            }),
            _ => Err(Fault::InvalidRequest(problems.join("; "))),
        }
    }
}

/// Extractor: the query parameters (as `web::Query` reads them, with its errors), parsed by
/// [`Query::parse`] — before the caller is authenticated, as kjernejournal checks them.
impl FromRequest for Query {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let params = web::Query::<BTreeMap<String, String>>::from_request(req, payload);
        Box::pin(async move {
            let params = params.await?;
            Self::parse(&params).map_err(|fault| KjError::from(fault).into())
        })
    }
}

/// `GET /v1/legemidler`.
pub(super) async fn legemidler(
    req: HttpRequest,
    query: Query,
    caller: KjUserCaller,
    state: web::Data<State>,
) -> Result<HttpResponse, KjError> {
    let now = state.clock.now();
    let header_ticket = req
        .headers()
        .get("X-kj-ticket")
        .and_then(|v| v.to_str().ok());
    let access = access::open(
        caller.user,
        &state,
        now,
        &Request {
            ticket: query.ticket.as_deref().or(header_ticket),
            ticket_from: "the query parameter ticket (or the X-kj-ticket header)",
            patient: query.patient.as_deref(),
            consent: query.consent,
            consent_from: "query parameter samtykke-bruk-api",
        },
    )?;
    let national = state.national();
    let patient = national.patient(&access.ticket.fnr);
    if access::is_blocked(patient, KjModule::Legemidler) && query.open_blocked.is_none() {
        return Err(Fault::BlockedModule(
            KjModule::Legemidler,
            "send samtykke-sperret-legemidler: HPMOTTATTSAMTYKKE or HPAKUTT",
        )
        .into());
    }
    Ok(json_answer(&overview(patient, &query, now)))
}

fn overview(patient: Option<&NationalPatient>, query: &Query, now: DateTime<Utc>) -> Value {
    let earliest = query.from.max((now - HISTORY).date_naive());
    let mut hidden_locked = false;
    let mut prescriptions = Vec::new();
    for p in patient.iter().flat_map(|p| &p.prescriptions) {
        let issued = issue_date(&p.entry.statement);
        if issued.is_some_and(|d| d < earliest) {
            continue;
        }
        if !query.extended && !p.status.is_active() {
            continue;
        }
        if p.locked && query.show_locked.is_none() {
            hidden_locked = true;
            continue;
        }
        prescriptions.push(prescription(p, issued));
    }
    let list = patient.and_then(|p| p.pll.as_ref()).map(|pll| {
        json!({
            "sistOppdatert": pll.date.to_rfc3339_opts(SecondsFormat::Millis, true),
            "legemidler": pll.entries.iter().map(|e| json!({
                "legemiddel": e.display(),
                "dosering": dssn(&e.statement),
                "status": statement::status(&e.statement),
            })).collect::<Vec<_>>(),
        })
    });
    let multidose = patient.and_then(|p| p.multidose.as_ref()).map(|m| {
        json!({
            "lege": m.doctor.name,
            "apotek": m.pharmacy.name,
        })
    });
    json!({
        "hentetTidspunkt": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        "fra": earliest.to_string(),
        "resepter": prescriptions,
        "legemiddelliste": list,
        "multidose": multidose,
        "skjulteLasteResepter": hidden_locked,
    })
}

fn dssn(statement_json: &Value) -> Option<&str> {
    statement_json["dosage"][0]["text"].as_str()
}

fn prescription(p: &Prescription, issued: Option<NaiveDate>) -> Value {
    json!({
        "reseptId": p.id(),
        "legemiddel": p.entry.display(),
        "dosering": dssn(&p.entry.statement),
        "status": p.status.name(),
        "utstedt": issued.map(|d| d.to_string()),
        "last": p.locked,
        "utleveringer": p.dispenses.iter().map(|d| json!({
            "tidspunkt": d.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "apotek": d.pharmacy.name,
            "antallPakninger": d.quantity,
        })).collect::<Vec<_>>(),
    })
}
