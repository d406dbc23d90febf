//! Kjernejournal's critical-information FHIR API: `GET /v1/fhir/Patient/$everything` (the
//! patient the ticket names; `Patient/{fnr}/$everything` names the patient too and must match)
//! answers a Bundle of `KjAllergyIntolerance`. Headers as kjernejournal documents them:
//! `X-kj-ticket`, `X-EPJ-System`, optionally `KJ-SAMTYKKE-BRUK` (overrides the ticket's
//! consent) and `KJ-SAMTYKKE-SPERRET-KRITISKINFO` (required when the patient restricted critical
//! information, refused when not). Errors are OperationOutcomes carrying the `KJF-` code.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::SecondsFormat;
use serde_json::{Value, json};

use super::access::{self, Request};
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
            "Kjernejournal's FHIR API has no endpoint at {}: only GET Patient/$everything is supported",
            req.path()
        ),
    )
    .render_fhir()
}

fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `GET Patient/$everything`: the patient's critical information.
async fn everything(
    req: HttpRequest,
    path: Option<web::Path<String>>,
    state: web::Data<State>,
) -> Result<HttpResponse, FhirFault> {
    let now = state.clock.now();
    let all = [
        Samtykke::HpMottattSamtykke,
        Samtykke::HpAkutt,
        Samtykke::HpUnntak,
    ];
    let consent = access::consent_value(
        header_str(&req, "KJ-SAMTYKKE-BRUK"),
        "KJ-SAMTYKKE-BRUK",
        &all,
    )?;
    // KJ's "HTTP Header" page (D6 in shared/research) lists all three values for both headers.
    let opening = access::consent_value(
        header_str(&req, "KJ-SAMTYKKE-SPERRET-KRITISKINFO"),
        "KJ-SAMTYKKE-SPERRET-KRITISKINFO",
        &all,
    )?;
    let named = path.map(web::Path::into_inner);
    let access = access::open(
        &req,
        &state,
        now,
        &Request {
            ticket: header_str(&req, "X-kj-ticket"),
            ticket_from: "the X-kj-ticket header",
            patient: named.as_deref(),
            consent,
            consent_from: "header KJ-SAMTYKKE-BRUK",
        },
    )?;
    let allergies: Vec<Allergy> = {
        let national = state.national();
        let patient = national.patient(&access.ticket.fnr);
        let blocked = access::is_blocked(patient, KjModule::KritiskInfo);
        match (blocked, opening) {
            (true, None) => {
                return Err(Fault::BlockedModule(
                    KjModule::KritiskInfo,
                    "send KJ-SAMTYKKE-SPERRET-KRITISKINFO: HPMOTTATTSAMTYKKE, HPAKUTT or HPUNNTAK",
                )
                .into());
            }
            (false, Some(_)) => {
                return Err(Fault::ModuleNotBlocked(
                    KjModule::KritiskInfo,
                    "KJ-SAMTYKKE-SPERRET-KRITISKINFO",
                )
                .into());
            }
            _ => {}
        }
        patient.map(|p| p.allergies.clone()).unwrap_or_default()
    };
    let base = format!("{}/kjernejournal/v1/fhir", state.base_url);
    let entries: Vec<Value> = allergies
        .iter()
        .map(|a| {
            json!({
                "fullUrl": format!("{base}/AllergyIntolerance/{}", a.id),
                "resource": allergy(a, &access.ticket.fnr),
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
        "link": [{"relation": "self", "url": format!("{}{}", state.base_url, req.path())}],
        "entry": entries,
    });
    if allergies.is_empty()
        && let Some(object) = bundle.as_object_mut()
    {
        object.remove("entry");
    }
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            "no-cache, must-revalidate, private, s-maxage=0",
        ))
        .insert_header((header::PRAGMA, "no-cache"))
        .insert_header((header::CONTENT_TYPE, "application/fhir+json; charset=utf-8"))
        .body(bundle.to_string()))
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
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active", "display": "Active"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "confirmed", "display": "Confirmed"}]},
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
