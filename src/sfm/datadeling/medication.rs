//! The patient's medication as Datadeling serves it: `MedicationStatement`s (what
//! `$getMedication` compiles from the PLL and Reseptformidleren), the medication `List`, the
//! `Medication`s they name, and Kjernejournal's `AllergyIntolerance`s — each naming the patient
//! by the caller's ticket.

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::query::{Hit, Query};
use super::{DataType, national_key, patients_with_built_records, ticket_for, ticket_reference};
use crate::errors::fhir::FhirError;
use crate::national::render::{self, ViewEntry};
use crate::national::{NationalPatient, NationalStore};
use crate::sfm::caller::Caller;
use crate::sfm::model::{Tenant, fhir_instant};

/// A statement as Datadeling serves it: its id, the patient by ticket, the Medication by
/// `Medication/<id>`.
fn statement(v: &ViewEntry<'_>, subject: &Value) -> Value {
    let mut s = v.statement();
    s["id"] = json!(v.id());
    render::point(&mut s, subject, &format!("Medication/{}", medication_id(v)));
    s
}

fn medication_id(v: &ViewEntry<'_>) -> String {
    v.entry
        .medication
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("med-{}", v.id()))
}

fn medication(v: &ViewEntry<'_>) -> Value {
    let mut m = v.entry.medication.clone();
    m["id"] = json!(medication_id(v));
    m
}

/// The patient's national data and the caller's ticket for the patient.
fn patient_data<'a>(
    tenant: &mut Tenant,
    national: &'a NationalStore,
    caller: &Caller,
    patient_id: &str,
    now: DateTime<Utc>,
) -> (Option<&'a NationalPatient>, Value) {
    let ticket = ticket_for(tenant, caller, patient_id, now);
    let data = national_key(tenant, patient_id).and_then(|key| national.patient(&key));
    (data, ticket_reference(&ticket))
}

/// Whether [`render::view`] shows a locked prescription: never through Datadeling (not as a
/// statement, nor its Medication, nor in the List).
fn show_locked(_: &crate::national::Prescription) -> bool {
    false
}

fn id_filter(query: &Query) -> Vec<&str> {
    query.all("_id").flat_map(|v| v.split(',')).collect()
}

/// `GET MedicationStatement|List|AllergyIntolerance?patientTicket=...` (or `?_id=`).
pub fn search(
    tenant: &mut Tenant,
    national: &NationalStore,
    caller: &Caller,
    data: DataType,
    query: &Query,
    patient: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<Hit>, FhirError> {
    if data == DataType::List
        && let Some(named) = query.get("_query")
    {
        return Err(FhirError::new(
            StatusCode::BAD_REQUEST,
            "not-supported",
            format!(
                "List?_query={named} is not simulated: helsesim serves the medication list \
                 (List?patientTicket=...) only"
            ),
        ));
    }
    let ids = id_filter(query);
    let patients: Vec<String> = match patient {
        Some(p) => vec![p.to_owned()],
        None => {
            for id in &ids {
                national.prescription_owner(id);
            }
            patients_with_built_records(tenant, national)
        }
    };
    let statuses: Vec<&str> = query.all("status").flat_map(|v| v.split(',')).collect();
    let mut hits = Vec::new();
    for patient_id in patients {
        let (found, subject) = patient_data(tenant, national, caller, &patient_id, now);
        let view = found
            .map(|p| render::view(p, &show_locked))
            .unwrap_or_default();
        match data {
            DataType::MedicationStatement => {
                hits.extend(statement_hits(&view, &subject, &ids, &statuses));
            }
            DataType::List => {
                let list = medication_list(&patient_id, found, &view, &subject, now);
                hits.push(Hit {
                    resource: list,
                    include: false,
                });
                for v in &view {
                    hits.push(Hit {
                        resource: statement(v, &subject),
                        include: true,
                    });
                    hits.push(Hit {
                        resource: medication(v),
                        include: true,
                    });
                }
            }
            DataType::AllergyIntolerance => {
                for a in found.iter().flat_map(|p| &p.allergies) {
                    if ids.is_empty() || ids.contains(&a.id.as_str()) {
                        hits.push(Hit {
                            resource: render::allergy(a, &subject),
                            include: false,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    Ok(hits)
}

/// The statements of `view` about `subject` with one of the `ids` and `statuses` (any, when
/// none is given).
fn statement_hits(
    view: &[ViewEntry<'_>],
    subject: &Value,
    ids: &[&str],
    statuses: &[&str],
) -> Vec<Hit> {
    let mut hits = Vec::new();
    for v in view {
        let s = statement(v, subject);
        let id_ok = ids.is_empty() || ids.contains(&v.id());
        let status_ok = statuses.is_empty()
            || statuses
                .iter()
                .any(|st| s.get("status").and_then(Value::as_str) == Some(st));
        if id_ok && status_ok {
            hits.push(Hit {
                resource: s,
                include: false,
            });
        }
    }
    hits
}

/// The patient's medication `List` (`Legemiddelliste`): an item for each statement of `view`,
/// last updated when the patient's national data (`found`) last changed.
fn medication_list(
    patient_id: &str,
    found: Option<&NationalPatient>,
    view: &[ViewEntry<'_>],
    subject: &Value,
    now: DateTime<Utc>,
) -> Value {
    let entries: Vec<Value> = view
        .iter()
        .map(|v| {
            let reference = format!("MedicationStatement/{}", v.id());
            json!({"item": {"reference": reference, "display": v.entry.display()}})
        })
        .collect();
    let mut list = json!({
        "resourceType": "List",
        "id": format!("medication-list-{patient_id}"),
        "meta": {"lastUpdated": fhir_instant(found.map_or(now, |p| p.changed))},
        "status": "current",
        "mode": "working",
        "title": "Legemiddelliste",
        "code": {"coding": [{
            "system": "http://loinc.org",
            "code": "10160-0",
            "display": "History of Medication use Narrative"
        }]},
        "subject": subject,
        "date": fhir_instant(now),
    });
    if entries.is_empty() {
        list["emptyReason"] = json!({"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
            "code": "nilknown",
            "display": "Nil Known"
        }]});
    } else {
        list["entry"] = Value::Array(entries);
    }
    list
}

/// `GET MedicationStatement/[id]` or `AllergyIntolerance/[id]`: among the tenant's patients.
pub fn read(
    tenant: &mut Tenant,
    national: &NationalStore,
    caller: &Caller,
    data: DataType,
    id: &str,
    now: DateTime<Utc>,
) -> Option<Value> {
    // A statement named by a fixture ReseptId: its holder's record is built first.
    national.prescription_owner(id);
    for patient_id in patients_with_built_records(tenant, national) {
        let Some(found) = national_key(tenant, &patient_id).and_then(|key| national.patient(&key))
        else {
            continue;
        };
        let view = render::view(found, &show_locked);
        let hit = match data {
            DataType::MedicationStatement => view.iter().any(|v| v.id() == id),
            _ => found.allergies.iter().any(|a| a.id == id),
        };
        if !hit {
            continue;
        }
        let subject = ticket_reference(&ticket_for(tenant, caller, &patient_id, now));
        return match data {
            DataType::MedicationStatement => view
                .iter()
                .find(|v| v.id() == id)
                .map(|v| statement(v, &subject)),
            _ => found
                .allergies
                .iter()
                .find(|a| a.id == id)
                .map(|a| render::allergy(a, &subject)),
        };
    }
    None
}

/// Every product the national systems name, by id (a locked prescription's never).
fn products(national: &NationalStore) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for (_, p) in national.built() {
        for v in render::view(p, &show_locked) {
            let m = medication(&v);
            if !out.iter().any(|o| o.get("id") == m.get("id")) {
                out.push(m);
            }
        }
    }
    out
}

/// `GET Medication?_id=`.
pub fn search_products(national: &NationalStore, query: &Query) -> Vec<Hit> {
    let ids = id_filter(query);
    products(national)
        .into_iter()
        .filter(|m| {
            ids.is_empty()
                || ids
                    .iter()
                    .any(|id| m.get("id").and_then(Value::as_str) == Some(id))
        })
        .map(|resource| Hit {
            resource,
            include: false,
        })
        .collect()
}

/// `GET Medication/[id]`.
pub fn read_product(national: &NationalStore, id: &str) -> Option<Value> {
    products(national)
        .into_iter()
        .find(|m| m.get("id").and_then(Value::as_str) == Some(id))
}
