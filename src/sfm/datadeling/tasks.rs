//! `GET [base]/Task`: the user's task list. Stored tasks (fixtures: drafts to approve, questions
//! from pharmacies, FEST alerts) and, when asked for, tasks SFM derives from the national
//! systems: code 8 "Endring på multidosepasient" (a multidose patient of the owner changed in
//! Reseptformidleren) and code 10 "Endring på pasient" (a listed patient changed).

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::query::{Hit, LastUpdated, Query, concept_matches, last_updated_matches};
use super::store;
use crate::errors::fhir::{FhirError, Issue};
use crate::national::NationalStore;
use crate::national::fixture::practitioner_reference;
use crate::sfm::caller::Caller;
use crate::sfm::model::{ResourceKind, Tenant, fhir_instant};

/// SFM's task types.
pub const TASK_TYPES: &str = "http://ehelse.no/fhir/CodeSystem/sfm-task-types";

/// The `type` values.
const TYPES: [&str; 4] = ["None", "MD", "KJ", "NonPatient"];

fn task_code(task: &Value) -> Option<&str> {
    task.pointer("/code/coding/0/code").and_then(Value::as_str)
}

/// The last time SFM sent something to RF for a national patient.
fn last_change(national: &NationalStore, key: &str) -> Option<DateTime<Utc>> {
    national.patient(key)?.messages.last().map(|m| m.sent)
}

fn derived_task(
    code: &str,
    display: &str,
    patient_id: &str,
    changed: DateTime<Utc>,
    description: String,
    owner: Option<Value>,
) -> Value {
    let id = format!("task-{code}-{patient_id}-{}", changed.timestamp());
    let mut task = json!({
        "resourceType": "Task",
        "id": id,
        "meta": {
            "profile": ["http://ehelse.no/fhir/StructureDefinition/sfm-Task"],
            "lastUpdated": fhir_instant(changed),
        },
        "identifier": [{"value": id}],
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": TASK_TYPES, "code": code, "display": display}]},
        "description": description,
        "for": store::internal_reference(patient_id),
        "authoredOn": fhir_instant(changed),
    });
    if let Some(owner) = owner {
        task["owner"] = owner;
    }
    task
}

/// The search.
pub fn search(
    tenant: &mut Tenant,
    national: &NationalStore,
    caller: &Caller,
    query: &Query,
    patient: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<Hit>, FhirError> {
    let mut issues = Vec::new();
    let kind = query.get("type");
    if let Some(kind) = kind
        && !TYPES.contains(&kind)
        && !kind.eq_ignore_ascii_case("NonPatient")
    {
        issues.push(Issue::error(
            "code-invalid",
            format!("type must be None, MD, KJ or NonPatient, got '{kind}'"),
        ));
    }
    let codes: Vec<&str> = query.all("code").flat_map(|v| v.split(',')).collect();
    let excluded: Vec<&str> = query.all("codeNot").flat_map(|v| v.split(',')).collect();
    for code in codes.iter().chain(&excluded) {
        if code.parse::<u8>().is_err() {
            issues.push(Issue::error(
                "invalid",
                format!("Task codes are numbers (sfm-task-types), got '{code}'"),
            ));
        }
    }
    let nins: Vec<&str> = query
        .all("PatientNiN")
        .flat_map(|v| v.split(','))
        .filter(|v| !v.is_empty())
        .collect();
    if codes.contains(&"10") && nins.is_empty() {
        issues.push(Issue::error("required", "Task?code=10 looks for changes in Kjernejournal for the patients listed in PatientNiN (comma-separated fødselsnummer/D-nummer)"));
    }
    if !issues.is_empty() {
        return Err(FhirError::with_issues(StatusCode::BAD_REQUEST, issues));
    }
    let since = query
        .all("_lastUpdated")
        .filter_map(LastUpdated::parse)
        .find_map(|l| l.since());
    let non_patient = kind.is_some_and(|k| k.eq_ignore_ascii_case("NonPatient"));

    let mut found: Vec<Value> = store::all(tenant, "Task");
    // Lookups in the national systems happen only when asked for (code 8 / type MD, code 10).
    if codes.contains(&"8") || kind == Some("MD") {
        let owner = query
            .get("owner")
            .map(str::to_owned)
            .or_else(|| caller.hpr.clone());
        for (patient_id, key) in registered_patients(tenant) {
            let Some(p) = national.patient(&key) else {
                continue;
            };
            let Some(m) = &p.multidose else { continue };
            if m.doctor.id.is_none() || m.doctor.id != owner {
                continue;
            }
            if let Some(changed) =
                last_change(national, &key).filter(|t| since.is_none_or(|s| *t > s))
            {
                found.push(derived_task("8", "Endring på multidosepasient", &patient_id, changed,
                    format!("The multidose patient's prescriptions or PLL changed in Reseptformidleren ({})", fhir_instant(changed)),
                    Some(practitioner_reference(&m.doctor))));
            }
        }
    }
    if codes.contains(&"10") {
        for (patient_id, key) in registered_patients(tenant) {
            if !nins.contains(&key.as_str()) {
                continue;
            }
            if let Some(changed) =
                last_change(national, &key).filter(|t| since.is_none_or(|s| *t > s))
            {
                found.push(derived_task(
                    "10",
                    "Endring på pasient",
                    &patient_id,
                    changed,
                    format!(
                        "The patient's medication changed in Kjernejournal ({})",
                        fhir_instant(changed)
                    ),
                    None,
                ));
            }
        }
    }
    let owner = query.get("owner");
    let ids: Vec<&str> = query.all("_id").flat_map(|v| v.split(',')).collect();
    let selected: Vec<Value> = found
        .into_iter()
        .filter(|t| {
            let for_patient = store::patient_id(t, "Task");
            (!non_patient || for_patient.is_none())
                && patient.is_none_or(|p| for_patient.as_deref() == Some(p))
                && (codes.is_empty() || codes.iter().any(|c| concept_matches(t.get("code"), c)))
                && !task_code(t).is_some_and(|c| excluded.contains(&c))
                && owner.is_none_or(|o| {
                    t.pointer("/owner/identifier/value").and_then(Value::as_str) == Some(o)
                })
                && (ids.is_empty()
                    || ids
                        .iter()
                        .any(|id| t.get("id").and_then(Value::as_str) == Some(id)))
                && last_updated_matches(query, t)
        })
        .collect();
    Ok(selected
        .into_iter()
        .map(|t| Hit {
            resource: store::render(tenant, caller, t, now),
            include: false,
        })
        .collect())
}

/// The tenant's patients with their national keys.
fn registered_patients(tenant: &Tenant) -> Vec<(String, String)> {
    tenant
        .of_kind(ResourceKind::Patient)
        .filter_map(|(id, _)| super::national_key(tenant, id).map(|key| (id.clone(), key)))
        .collect()
}
