//! `GET [base]/Task`: the user's task list. Stored tasks (fixtures: drafts to approve, questions
//! from pharmacies, FEST alerts) and, when asked for, tasks SFM derives from the national
//! systems: code 8 "Endring på multidosepasient" (a multidose patient of the owner changed in
//! Reseptformidleren) and code 10 "Endring på pasient" (a listed patient changed).

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::query::{Hit, Query, concept_matches, last_updated_matches};
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

/// The last time SFM sent something to RF for a national patient (what derived tasks report).
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

/// A `code`/`codeNot` value: FHIR's token, `code`, `system|code` or `|code` (no system).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CodeToken<'a> {
    system: Option<&'a str>,
    code: &'a str,
    /// As given.
    text: &'a str,
}

impl<'a> CodeToken<'a> {
    fn parse(text: &'a str) -> Self {
        let (system, code) = match text.split_once('|') {
            Some((system, code)) => (Some(system), code),
            None => (None, text),
        };
        Self { system, code, text }
    }

    /// Whether it names a task code: a number, in sfm-task-types (or any system).
    fn is_valid(&self) -> bool {
        self.code.parse::<u8>().is_ok() || (self.code.is_empty() && self.system.is_some())
    }

    /// Whether it names SFM's task code `code`.
    fn names(&self, code: &str) -> bool {
        self.code == code && self.system.is_none_or(|s| s == TASK_TYPES)
    }
}

/// The tasks SFM derives from Reseptformidleren for the tenant's patients. `code_8`: code 8
/// tasks for the multidose patients of that doctor (HPR number; any doctor when `Some(None)`);
/// `code_10`: code 10 tasks for the patients with those national keys (every patient when
/// `Some(None)`). Each is the patient's last change, its id made of code, patient and time, so
/// the same change is always the same task (read at its fullUrl).
fn derived_tasks(
    tenant: &Tenant,
    national: &NationalStore,
    code_8: Option<Option<&str>>,
    code_10: Option<Option<&[&str]>>,
) -> Vec<Value> {
    let mut found = Vec::new();
    for (patient_id, key) in registered_patients(tenant) {
        let Some(changed) = last_change(national, &key) else {
            continue;
        };
        if let Some(owner) = code_8
            && let Some(m) = national.patient(&key).and_then(|p| p.multidose.as_ref())
            && m.doctor.id.is_some()
            && owner.is_none_or(|o| m.doctor.id.as_deref() == Some(o))
        {
            found.push(derived_task(
                "8",
                "Endring på multidosepasient",
                &patient_id,
                changed,
                format!(
                    "The multidose patient's prescriptions or PLL changed in Reseptformidleren ({})",
                    fhir_instant(changed)
                ),
                Some(practitioner_reference(&m.doctor)),
            ));
        }
        if let Some(listed) = code_10
            && listed.is_none_or(|l| l.contains(&key.as_str()))
        {
            found.push(derived_task(
                "10",
                "Endring på pasient",
                &patient_id,
                changed,
                format!(
                    "The patient's prescriptions or PLL changed in Reseptformidleren ({})",
                    fhir_instant(changed)
                ),
                None,
            ));
        }
    }
    found
}

/// `GET Task/[id]` of a derived task (code 8 or 10): the task for the patient's last change.
pub fn read_derived(tenant: &Tenant, national: &NationalStore, id: &str) -> Option<Value> {
    if !id.starts_with("task-8-") && !id.starts_with("task-10-") {
        return None;
    }
    derived_tasks(tenant, national, Some(None), Some(None))
        .into_iter()
        .find(|t| t.get("id").and_then(Value::as_str) == Some(id))
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
    let codes: Vec<CodeToken> = query
        .all("code")
        .flat_map(|v| v.split(','))
        .map(CodeToken::parse)
        .collect();
    let excluded: Vec<CodeToken> = query
        .all("codeNot")
        .flat_map(|v| v.split(','))
        .map(CodeToken::parse)
        .collect();
    for code in codes.iter().chain(&excluded) {
        if !code.is_valid() {
            issues.push(Issue::error(
                "invalid",
                format!(
                    "Task codes are numbers (sfm-task-types), got '{}'",
                    code.text
                ),
            ));
        }
    }
    let nins: Vec<&str> = query
        .all("PatientNiN")
        .flat_map(|v| v.split(','))
        .filter(|v| !v.is_empty())
        .collect();
    let wants = |code: &str| codes.iter().any(|c| c.names(code));
    if wants("10") && nins.is_empty() {
        issues.push(Issue::error("required", "Task?code=10 looks for changes in Reseptformidleren for the patients listed in PatientNiN (comma-separated fødselsnummer/D-nummer)"));
    }
    if !issues.is_empty() {
        return Err(FhirError::with_issues(StatusCode::BAD_REQUEST, issues));
    }
    let non_patient = kind.is_some_and(|k| k.eq_ignore_ascii_case("NonPatient"));

    let mut found: Vec<Value> = store::all(tenant, "Task");
    // Lookups in the national systems happen only when asked for (code 8 / type MD, code 10).
    let multidose_owner = query
        .get("owner")
        .map(str::to_owned)
        .or_else(|| caller.hpr.clone());
    let code_8 = if wants("8") || kind == Some("MD") {
        // Without an owner (no HPR number, no owner=), no multidose doctor is named.
        multidose_owner.as_deref().map(Some)
    } else {
        None
    };
    let code_10 = wants("10").then_some(Some(nins.as_slice()));
    if code_8.is_some() || code_10.is_some() {
        found.extend(derived_tasks(tenant, national, code_8, code_10));
    }
    let national_keys = if nins.is_empty() {
        Vec::new()
    } else {
        registered_patients(tenant)
    };
    let owner = query.get("owner");
    let ids: Vec<&str> = query.all("_id").flat_map(|v| v.split(',')).collect();
    let selected: Vec<Value> = found
        .into_iter()
        .filter(|t| {
            let for_patient = store::patient_id(t, "Task");
            let listed = || {
                for_patient.as_deref().is_some_and(|p| {
                    national_keys
                        .iter()
                        .any(|(id, key)| id == p && nins.contains(&key.as_str()))
                })
            };
            (!non_patient || for_patient.is_none())
                && patient.is_none_or(|p| for_patient.as_deref() == Some(p))
                && (nins.is_empty() || listed())
                && (codes.is_empty()
                    || codes.iter().any(|c| concept_matches(t.get("code"), c.text)))
                && !excluded
                    .iter()
                    .any(|c| concept_matches(t.get("code"), c.text))
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
