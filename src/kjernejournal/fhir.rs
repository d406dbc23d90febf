//! Kjernejournal's critical-information FHIR API: `GET /v1/fhir/Patient/$everything` (the
//! patient the ticket names; `Patient/{fnr}/$everything` names the patient too and must match)
//! answers a Bundle of `KjAllergyIntolerance`. Headers as kjernejournal documents them:
//! `X-kj-ticket`, `X-EPJ-System`, optionally `KJ-SAMTYKKE-BRUK` (overrides the ticket's
//! consent) and `KJ-SAMTYKKE-SPERRET-KRITISKINFO` (required when the patient restricted critical
//! information, refused when not). Errors are OperationOutcomes carrying the `KJF-` code.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::access::{self, Request};
use super::caller::KjUserCaller;
use super::consent::Samtykke;
use super::fault::Fault;
use crate::errors::kjernejournal::KjError;
use crate::errors::method_not_allowed;
use crate::kjernejournal::State;
use crate::national::{Allergy, KjModule, patient_reference};

/// The profile of kjernejournal's allergies and reactions.
pub const KJ_ALLERGY_PROFILE: &str =
    "http://nhn.no/kj/fhir/StructureDefinition/KjAllergyIntolerance";

/// A kjernejournal error rendered as the FHIR API renders it.
#[derive(Debug)]
pub struct FhirFault(KjError);

impl std::fmt::Display for FhirFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for FhirFault {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        self.0.render_fhir()
    }
}

impl From<Fault> for FhirFault {
    fn from(fault: Fault) -> Self {
        Self(fault.error())
    }
}

impl From<KjError> for FhirFault {
    fn from(error: KjError) -> Self {
        Self(error)
    }
}

/// Registers the FHIR API's routes (under `/kjernejournal/v1/fhir`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(["/Patient/$everything", "/Patient/{fnr}/$everything"])
            .route(web::get().to(everything))
            .default_service(method_not_allowed("GET")),
    );
}

/// Unknown paths under the FHIR API.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    KjError::from_status(
        StatusCode::NOT_FOUND,
        &format!(
            "Kjernejournal's FHIR API has no endpoint at {}: only GET Patient/$everything is \
             supported",
            req.path()
        ),
    )
    .render_fhir()
}

fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Extractor: the consent headers, checked before the user is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConsentHeaders {
    /// `KJ-SAMTYKKE-BRUK`: overrides the ticket's consent.
    consent: Option<Samtykke>,
    /// `KJ-SAMTYKKE-SPERRET-KRITISKINFO`: opens critical information the patient restricted.
    opening: Option<Samtykke>,
}

impl ConsentHeaders {
    /// Both headers; each, when sent, one of the three consent values.
    fn parse(req: &HttpRequest) -> Result<Self, Fault> {
        let all = [
            Samtykke::HpMottattSamtykke,
            Samtykke::HpAkutt,
            Samtykke::HpUnntak,
        ];
        let consent = access::consent_value(
            header_str(req, "KJ-SAMTYKKE-BRUK"),
            "KJ-SAMTYKKE-BRUK",
            &all,
        )?;
        // KJ's "HTTP Header" page (D6 in shared/research) lists all three values for both
        // headers.
        let opening = access::consent_value(
            header_str(req, "KJ-SAMTYKKE-SPERRET-KRITISKINFO"),
            "KJ-SAMTYKKE-SPERRET-KRITISKINFO",
            &all,
        )?;
        Ok(Self { consent, opening })
    }
}

impl FromRequest for ConsentHeaders {
    type Error = FhirFault;
    type Future = Ready<Result<Self, FhirFault>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req).map_err(FhirFault::from))
    }
}

/// Whether critical information may be shared: the patient's restriction needs the opening
/// header, and the header is refused when there is no restriction to open.
fn check_opening(blocked: bool, opening: Option<Samtykke>) -> Result<(), Fault> {
    match (blocked, opening) {
        (true, None) => Err(Fault::BlockedModule(
            KjModule::KritiskInfo,
            "send KJ-SAMTYKKE-SPERRET-KRITISKINFO: HPMOTTATTSAMTYKKE, HPAKUTT or HPUNNTAK",
        )),
        (false, Some(_)) => Err(Fault::ModuleNotBlocked(
            KjModule::KritiskInfo,
            "KJ-SAMTYKKE-SPERRET-KRITISKINFO",
        )),
        _ => Ok(()),
    }
}

/// `GET Patient/$everything`: the patient's critical information.
async fn everything(
    req: HttpRequest,
    path: Option<web::Path<String>>,
    headers: ConsentHeaders,
    caller: KjUserCaller<FhirFault>,
    state: web::Data<State>,
) -> Result<HttpResponse, FhirFault> {
    let now = state.clock.now();
    let named = path.map(web::Path::into_inner);
    let access = access::open(
        caller.user,
        &state,
        now,
        &Request {
            ticket: header_str(&req, "X-kj-ticket"),
            ticket_from: "the X-kj-ticket header",
            patient: named.as_deref(),
            consent: headers.consent,
            consent_from: "header KJ-SAMTYKKE-BRUK",
        },
    )?;
    let allergies: Vec<Allergy> = {
        let national = state.national();
        let patient = national.patient(&access.ticket.fnr);
        check_opening(
            access::is_blocked(patient, KjModule::KritiskInfo),
            headers.opening,
        )?;
        patient.map(|p| p.allergies.clone()).unwrap_or_default()
    };
    let self_url = format!("{}{}", state.base_url, req.path());
    let bundle = bundle(
        &allergies,
        &access.ticket.fnr,
        &state.base_url,
        &self_url,
        now,
    );
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            "no-cache, must-revalidate, private, s-maxage=0",
        ))
        .insert_header((header::PRAGMA, "no-cache"))
        .insert_header((header::CONTENT_TYPE, "application/fhir+json; charset=utf-8"))
        .body(bundle.to_string()))
}

/// The searchset Bundle of the patient's allergies (without `entry` when there are none).
fn bundle(
    allergies: &[Allergy],
    fnr: &str,
    base_url: &str,
    self_url: &str,
    now: DateTime<Utc>,
) -> Value {
    let base = format!("{base_url}/kjernejournal/v1/fhir");
    let entries: Vec<Value> = allergies
        .iter()
        .map(|a| {
            json!({
                "fullUrl": format!("{base}/AllergyIntolerance/{}", a.id),
                "resource": allergy(a, fnr),
                "search": {"mode": "match"}
            })
        })
        .collect();
    let mut bundle = json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": {"lastUpdated": now.to_rfc3339_opts(SecondsFormat::Millis, true)},
        "type": "searchset",
        "total": entries.len(),
        "link": [{"relation": "self", "url": self_url}],
        "entry": entries,
    });
    if allergies.is_empty()
        && let Some(object) = bundle.as_object_mut()
    {
        object.remove("entry");
    }
    bundle
}

/// A kjernejournal allergy as `KjAllergyIntolerance`.
pub fn allergy(a: &Allergy, fnr: &str) -> Value {
    let mut code = json!({"text": a.substance});
    if let Some(atc) = &a.atc {
        code["coding"] =
            json!([{"system": "http://www.whocc.no/atc", "code": atc, "display": a.substance}]);
    }
    let mut resource = json!({
        "resourceType": "AllergyIntolerance",
        "id": a.id,
        "meta": {"profile": [KJ_ALLERGY_PROFILE]},
        "clinicalStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
            "code": "active",
            "display": "Active"
        }]},
        "verificationStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
            "code": "confirmed",
            "display": "Confirmed"
        }]},
        "type": "allergy",
        "category": [a.category()],
        "criticality": a.criticality,
        "code": code,
        "patient": patient_reference(fnr),
        "recordedDate": a.recorded.to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    if let Some(reaction) = &a.reaction {
        resource["reaction"] = json!([{"manifestation": [{"text": reaction}]}]);
    }
    resource
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restricted_critical_information_opens_only_with_the_header() {
        assert_eq!(check_opening(false, None), Ok(()));
        assert_eq!(check_opening(true, Some(Samtykke::HpAkutt)), Ok(()));
        assert!(matches!(
            check_opening(true, None),
            Err(Fault::BlockedModule(KjModule::KritiskInfo, _))
        ));
        assert_eq!(
            check_opening(false, Some(Samtykke::HpUnntak)),
            Err(Fault::ModuleNotBlocked(
                KjModule::KritiskInfo,
                "KJ-SAMTYKKE-SPERRET-KRITISKINFO"
            ))
        );
    }
}
