//! The Kjernejournal portal stand-in at `/kjernejournal/hpp-webapp` (the real test portal is
//! `https://st1.kjernejournal-test.no/hpp-webapp`), opened as NHN's kjernejournal-innlogging-klient
//! opens it: `GET hentpasient.html?code=<code>&ehr_code_verifier=<verifier>` with the code
//! Kjernejournal Innlogging's `session/create` answered. The portal redeems the code once, sets
//! its session cookie and shows the patient's kjernejournal (`pasient/oversikt`,
//! `pasient/kritisk-informasjon`, `pasient/legemidler`) with the rules the data APIs apply;
//! `loggut` ends the session.

pub mod page;
pub mod refusal;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::State;
use super::consent::Samtykke;
use super::innlogging::sessions::SessionFacts;
use super::model::Organisation;
use crate::errors::method_not_allowed;
use crate::national::{KjModule, NationalPatient};
use page::{Context, Tab};
use refusal::Refusal;

/// The portal's session cookie.
pub const PORTAL_COOKIE: &str = "KJ_PORTAL_SESSION";

/// Registers the portal's pages (under `/kjernejournal/hpp-webapp`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/hentpasient.html")
            .route(web::get().to(hentpasient))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/loggut")
            .route(web::get().to(loggut))
            .route(web::post().to(loggut))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource("/pasient/apne")
            .route(web::post().to(open_module))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(["/pasient", "/pasient/{tab}"])
            .route(web::get().to(patient))
            .default_service(method_not_allowed("GET")),
    );
}

/// Unknown portal pages.
pub async fn not_found() -> HttpResponse {
    page::refusal(Refusal::NotFound)
}

/// The path the cookie is sent on: the portal's, under the public base URL's path.
fn cookie_path(base_url: &str) -> String {
    let base_path = url::Url::parse(base_url)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    format!("{base_path}/kjernejournal/hpp-webapp")
}

fn cookie<'c>(state: &State, value: &'c str) -> Cookie<'c> {
    Cookie::build(PORTAL_COOKIE, value)
        .path(cookie_path(&state.base_url))
        .http_only(true)
        .secure(state.base_url.starts_with("https:"))
        .same_site(SameSite::Lax)
        .finish()
}

fn cookie_value(req: &HttpRequest) -> Option<String> {
    req.cookie(PORTAL_COOKIE).map(|c| c.value().to_owned())
}

/// A `303 See Other` to a page relative to the current one.
fn see_other(location: &str) -> HttpResponse {
    crate::errors::mark_formatted(
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
    )
}

/// Whether the user may see the patient's kjernejournal: an HPR number, an organisation with
/// access, a patient with an active kjernejournal without an address block who has not blocked
/// this professional.
pub fn admission(
    facts: &SessionFacts,
    organisation: Option<&Organisation>,
    patient: Option<&NationalPatient>,
) -> Result<(), Refusal> {
    let hpr = facts.hpr.as_deref().ok_or(Refusal::NotInHpr)?;
    facts.orgnr.as_deref().ok_or(Refusal::NoOrganisation)?;
    match organisation {
        None => return Err(Refusal::UnknownOrganisation),
        Some(o) if !o.access => return Err(Refusal::OrganisationWithoutAccess),
        Some(_) => {}
    }
    let record = patient
        .and_then(|p| p.kjernejournal.as_ref())
        .ok_or(Refusal::NoKjernejournal)?;
    if record.inactive {
        return Err(Refusal::PatientNotActive);
    }
    if record.address_protected {
        return Err(Refusal::AddressProtected);
    }
    if record.blocked_professionals.iter().any(|b| b == hpr) {
        return Err(Refusal::BlockedProfessional);
    }
    Ok(())
}

/// [`admission`] against kjernejournal's organisations and the national systems.
fn admit(state: &State, facts: &SessionFacts) -> Result<(), Refusal> {
    let store = state.store();
    let organisation = facts
        .orgnr
        .as_deref()
        .and_then(|o| store.organisations.get(o));
    admission(
        facts,
        organisation,
        state.national().patient(&facts.patient),
    )
}

/// `GET hentpasient.html?code=…&ehr_code_verifier=…`: redeems the code, sets the session
/// cookie and goes on to the patient's overview.
async fn hentpasient(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let now = state.clock.now();
    let mut code = None;
    let mut verifier = None;
    for (name, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match name.as_ref() {
            "code" => code = Some(value.into_owned()),
            "ehr_code_verifier" => verifier = Some(value.into_owned()),
            _ => {}
        }
    }
    let Some(code) = code.filter(|c| !c.is_empty()) else {
        return page::refusal(Refusal::MissingCode);
    };
    let (value, facts) = match state.innlogging.redeem(&code, verifier.as_deref(), now) {
        Ok(redeemed) => redeemed,
        Err(e) => return page::refusal(Refusal::of_redeem(e)),
    };
    if let Err(refusal) = admit(&state, &facts) {
        return page::refusal(refusal);
    }
    let mut response = see_other("pasient/oversikt");
    if let Err(e) = response.add_cookie(&cookie(&state, &value)) {
        log::warn!("could not set the portal cookie: {e}");
    }
    response
}

/// `GET pasient[/{tab}]`: the patient's kjernejournal.
async fn patient(
    req: HttpRequest,
    tab: Option<web::Path<String>>,
    state: web::Data<State>,
) -> HttpResponse {
    let tab = match tab.map(web::Path::into_inner) {
        None => Tab::Overview,
        Some(slug) => match Tab::parse(&slug) {
            Some(tab) => tab,
            None => return page::refusal(Refusal::NotFound),
        },
    };
    let now = state.clock.now();
    let session = match state.innlogging.portal(cookie_value(&req).as_deref(), now) {
        Ok(session) => session,
        Err(gone) => return page::refusal(Refusal::of_gone(gone)),
    };
    if let Err(refusal) = admit(&state, &session.facts) {
        return page::refusal(refusal);
    }
    let store = state.store();
    let national = state.national();
    let patient = national.patient(&session.facts.patient);
    let Some((patient, record)) = patient.and_then(|p| p.kjernejournal.as_ref().map(|r| (p, r)))
    else {
        return page::refusal(Refusal::NoKjernejournal);
    };
    let organisation = session
        .facts
        .orgnr
        .as_deref()
        .and_then(|o| store.organisations.get(o))
        .map(|o| o.name.as_str());
    page::patient_page(&Context {
        session: &session,
        organisation,
        patient,
        record,
        tab,
    })
}

/// The fields of the access-basis form.
fn form_fields(body: &[u8]) -> Option<(KjModule, Samtykke, String)> {
    let mut module = None;
    let mut basis = None;
    let mut csrf = None;
    for (name, value) in url::form_urlencoded::parse(body) {
        match name.as_ref() {
            "modul" => module = KjModule::parse(&value),
            "grunnlag" => {
                basis = Samtykke::parse(&value)
                    .filter(|s| matches!(s, Samtykke::HpMottattSamtykke | Samtykke::HpAkutt));
            }
            "csrf" => csrf = Some(value.into_owned()),
            _ => {}
        }
    }
    Some((module?, basis?, csrf?))
}

/// `POST pasient/apne`: opens a restricted module with the patient's consent or emergency.
async fn open_module(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let now = state.clock.now();
    let Some((module, basis, csrf)) = form_fields(&body) else {
        return page::refusal(Refusal::BadForm);
    };
    let cookie = cookie_value(&req);
    match state
        .innlogging
        .open_module(cookie.as_deref(), &csrf, module, basis, now)
    {
        Ok(true) => see_other(Tab::of(module).slug()),
        Ok(false) => page::refusal(Refusal::BadForm),
        Err(gone) => page::refusal(Refusal::of_gone(gone)),
    }
}

/// `loggut`: ends the session and shows the logged-out page.
async fn loggut(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let now = state.clock.now();
    state.innlogging.logout(cookie_value(&req).as_deref(), now);
    let mut response = page::refusal_with_status(Refusal::SessionEnded, StatusCode::OK);
    if let Err(e) = response.add_removal_cookie(&cookie(&state, "")) {
        log::warn!("could not clear the portal cookie: {e}");
    }
    response
}
