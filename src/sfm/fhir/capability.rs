//! `GET /sfm/fhir/metadata`: a CapabilityStatement listing exactly what helsesim supports.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::{fhir_base, search};
use crate::errors::fhir::FHIR_JSON;
use crate::sfm::State;
use crate::sfm::datadeling::DataType;
use crate::sfm::model::{ResourceKind, fhir_instant};

/// The CapabilityStatement for the FHIR base `base`.
pub fn statement(base: &str, issuer: &str, date: &str) -> Value {
    let resources: Vec<Value> = ResourceKind::ALL
        .iter()
        .map(|&kind| resource_entry(kind))
        .chain(DataType::ALL.iter().map(|&data| datadeling_entry(data)))
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "helsesim",
        "kind": "instance",
        "software": {"name": "helsesim", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "helsesim: simulated SFM (Sentral forskrivningsmodul) \
                                           FHIR API", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "security": {
                "service": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "OAuth"
                }]}],
                "description": format!("HelseID access token (Bearer or DPoP) from {issuer}: \
                                        audience e-helse:sfm.api, scope e-helse:sfm.api/sfm.api; \
                                        the token's sfm-id or nhn:sfm:journal-id picks the SFM \
                                        instance")
            },
            "resource": resources,
        }],
    })
}

/// The REST interactions, profile and search parameters of one of SFM's own resource types.
fn resource_entry(kind: ResourceKind) -> Value {
    let mut interactions = vec!["read", "vread", "search-type"];
    match kind {
        ResourceKind::Practitioner | ResourceKind::Patient => {
            interactions.extend(["create", "update"])
        }
        ResourceKind::Organization => interactions.extend(["create", "update"]),
        ResourceKind::Person => interactions.push("update"),
    }
    let mut entry = json!({
        "type": kind.as_str(),
        "profile": kind.profile(),
        "interaction": interactions
            .iter()
            .map(|code| json!({"code": code}))
            .collect::<Vec<_>>(),
        "versioning": "versioned",
        "readHistory": false,
        "updateCreate": false,
        "conditionalCreate": false,
        "conditionalUpdate": false,
        "conditionalDelete": "not-supported",
        "searchParam": search::parameter_names(kind)
            .into_iter()
            .map(|(name, kind)| json!({"name": name, "type": kind}))
            .collect::<Vec<_>>(),
    });
    if kind == ResourceKind::Patient {
        entry["operation"] = json!([
            {
                "name": "getMedication",
                "definition":
                    "http://nhn.no/sfm/fhir/OperationDefinition/SFM-getMedication"
            },
            {
                "name": "sendMedication",
                "definition":
                    "http://nhn.no/sfm/fhir/OperationDefinition/SFM-sendMedication"
            }
        ]);
    }
    entry
}

/// The interactions, profile and search parameters of one of Datadeling's types.
fn datadeling_entry(data: DataType) -> Value {
    let mut interactions = vec!["search-type"];
    if data.readable() {
        interactions.insert(0, "read");
    }
    if data.creatable() {
        interactions.push("create");
    }
    let mut entry = json!({
        "type": data.as_str(),
        "interaction": interactions
            .iter()
            .map(|code| json!({"code": code}))
            .collect::<Vec<_>>(),
        "searchParam": data
            .search_params()
            .iter()
            .map(|name| json!({"name": name, "type": param_type(name)}))
            .collect::<Vec<_>>(),
    });
    if data != DataType::AllergyIntolerance && data != DataType::List {
        entry["profile"] = json!(format!(
            "http://ehelse.no/fhir/StructureDefinition/sfm-{}",
            data.as_str()
        ));
    }
    entry
}

/// The FHIR type of a Datadeling search parameter.
fn param_type(name: &str) -> &'static str {
    match name {
        "_lastUpdated" => "date",
        "patientTicket" | "PatientTicket" | "PatientNiN" | "_query" => "string",
        _ => "token",
    }
}

/// `GET /sfm/fhir/metadata` (no token needed).
pub async fn metadata(
    req: actix_web::HttpRequest,
    state: web::Data<State>,
) -> Result<HttpResponse, crate::errors::fhir::FhirError> {
    super::check_format(&req)?;
    let body = statement(
        &fhir_base(&state),
        &state.issuer,
        &fhir_instant(state.clock.now()),
    );
    Ok(HttpResponse::Ok()
        .content_type(FHIR_JSON)
        .body(serde_json::to_string(&body).unwrap_or_default()))
}
