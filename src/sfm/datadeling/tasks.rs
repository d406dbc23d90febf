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
    // Only a patient changed since load holds messages.
    let mut changed: Vec<(String, String)> = national
        .changed()
        .filter_map(|p| super::patient_id_for_key(tenant, &p.key).map(|id| (id, p.key.clone())))
        .collect();
    changed.sort();
    for (patient_id, key) in changed {
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
                    "The multidose patient's prescriptions or PLL changed in Reseptformidleren \
                     ({})",
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
    let tasks = TaskQuery::parse(query)?;
    let mut found: Vec<Value> = store::all(tenant, "Task");
    // Lookups in the national systems happen only when asked for (code 8 / type MD, code 10).
    let multidose_owner = tasks
        .owner
        .map(str::to_owned)
        .or_else(|| caller.hpr.clone());
    let code_8 = if tasks.wants("8") || tasks.kind == Some("MD") {
        // Without an owner (no HPR number, no owner=), no multidose doctor is named.
        multidose_owner.as_deref().map(Some)
    } else {
        None
    };
    let code_10 = tasks.wants("10").then_some(Some(tasks.nins.as_slice()));
    if code_8.is_some() || code_10.is_some() {
        found.extend(derived_tasks(tenant, national, code_8, code_10));
    }
    let national_keys = if tasks.nins.is_empty() {
        Vec::new()
    } else {
        registered_patients(tenant)
    };
    let selected: Vec<Value> = found
        .into_iter()
        .filter(|t| tasks.selects(t, patient, &national_keys))
        .collect();
    Ok(selected
        .into_iter()
        .map(|t| Hit {
            resource: store::render(tenant, caller, t, now),
            include: false,
        })
        .collect())
}

/// What a task search asks for, read from its query.
#[derive(Debug)]
struct TaskQuery<'q> {
    query: &'q Query,
    /// `type`: None, MD, KJ or NonPatient.
    kind: Option<&'q str>,
    /// `code`: any of them.
    codes: Vec<CodeToken<'q>>,
    /// `codeNot`: none of them.
    excluded: Vec<CodeToken<'q>>,
    /// `PatientNiN`: the patients' fødselsnummer/D-nummer.
    nins: Vec<&'q str>,
    /// `owner`: the owner's HPR number.
    owner: Option<&'q str>,
    /// `_id`.
    ids: Vec<&'q str>,
}

impl<'q> TaskQuery<'q> {
    /// Reads and checks the query; every problem is an issue (400).
    fn parse(query: &'q Query) -> Result<Self, FhirError> {
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
        let tokens = |name| {
            query
                .all(name)
                .flat_map(|v| v.split(','))
                .map(CodeToken::parse)
                .collect::<Vec<CodeToken>>()
        };
        let (codes, excluded) = (tokens("code"), tokens("codeNot"));
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
        let tasks = Self {
            query,
            kind,
            codes,
            excluded,
            nins: query
                .all("PatientNiN")
                .flat_map(|v| v.split(','))
                .filter(|v| !v.is_empty())
                .collect(),
            owner: query.get("owner"),
            ids: query.all("_id").flat_map(|v| v.split(',')).collect(),
        };
        if tasks.wants("10") && tasks.nins.is_empty() {
            issues.push(Issue::error(
                "required",
                "Task?code=10 looks for changes in Reseptformidleren for the patients listed in \
                 PatientNiN (comma-separated fødselsnummer/D-nummer)",
            ));
        }
        if issues.is_empty() {
            Ok(tasks)
        } else {
            Err(FhirError::with_issues(StatusCode::BAD_REQUEST, issues))
        }
    }

    /// Whether `code` asks for SFM's task code `code`.
    fn wants(&self, code: &str) -> bool {
        self.codes.iter().any(|c| c.names(code))
    }

    /// Whether the search selects `task`: for `patient` (when one is named), the type, the
    /// listed patients (`national_keys`: the tenant's patients' national keys), the codes, the
    /// owner, the ids and `_lastUpdated`.
    fn selects(
        &self,
        task: &Value,
        patient: Option<&str>,
        national_keys: &[(String, String)],
    ) -> bool {
        let non_patient = self
            .kind
            .is_some_and(|k| k.eq_ignore_ascii_case("NonPatient"));
        let for_patient = store::patient_id(task, "Task");
        let listed = || {
            for_patient.as_deref().is_some_and(|p| {
                national_keys
                    .iter()
                    .any(|(id, key)| id == p && self.nins.contains(&key.as_str()))
            })
        };
        let names = |c: &CodeToken| concept_matches(task.get("code"), c.text);
        (!non_patient || for_patient.is_none())
            && patient.is_none_or(|p| for_patient.as_deref() == Some(p))
            && (self.nins.is_empty() || listed())
            && (self.codes.is_empty() || self.codes.iter().any(names))
            && !self.excluded.iter().any(names)
            && self.owner.is_none_or(|o| {
                task.pointer("/owner/identifier/value")
                    .and_then(Value::as_str)
                    == Some(o)
            })
            && (self.ids.is_empty()
                || self
                    .ids
                    .iter()
                    .any(|id| task.get("id").and_then(Value::as_str) == Some(id)))
            && last_updated_matches(self.query, task)
    }
}

/// The tenant's patients with their national keys.
fn registered_patients(tenant: &Tenant) -> Vec<(String, String)> {
    tenant
        .of_kind(ResourceKind::Patient)
        .filter_map(|(id, _)| super::national_key(tenant, id).map(|key| (id.clone(), key)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sfm::datadeling::{DataType, query};

    fn parsed(query_string: &str) -> Query {
        query::parse("Task", DataType::Task.search_params(), query_string).unwrap()
    }

    fn problems(query_string: &str) -> Vec<String> {
        TaskQuery::parse(&parsed(query_string))
            .unwrap_err()
            .issues
            .into_iter()
            .map(|i| i.diagnostics)
            .collect()
    }

    #[test]
    fn every_problem_of_a_task_query_is_reported() {
        assert_eq!(
            problems("type=XY&code=abc&codeNot=8,x&code=10"),
            [
                "type must be None, MD, KJ or NonPatient, got 'XY'",
                "Task codes are numbers (sfm-task-types), got 'abc'",
                "Task codes are numbers (sfm-task-types), got 'x'",
                "Task?code=10 looks for changes in Reseptformidleren for the patients listed in \
                 PatientNiN (comma-separated fødselsnummer/D-nummer)",
            ]
        );
        assert!(TaskQuery::parse(&parsed("type=nonpatient&code=10&PatientNiN=1,2")).is_ok());
    }

    #[test]
    fn a_task_is_selected_by_patient_code_and_owner() {
        let query = parsed("code=8&codeNot=10&owner=123");
        let tasks = TaskQuery::parse(&query).unwrap();
        let task = |code: &str, owner: &str| {
            json!({"resourceType": "Task", "id": "t", "for": {"reference": "Patient/p1"},
                "code": {"coding": [{"system": TASK_TYPES, "code": code}]},
                "owner": {"identifier": {"value": owner}}})
        };
        assert!(tasks.selects(&task("8", "123"), Some("p1"), &[]));
        assert!(
            !tasks.selects(&task("8", "123"), Some("p2"), &[]),
            "another patient"
        );
        assert!(!tasks.selects(&task("10", "123"), None, &[]), "codeNot");
        assert!(
            !tasks.selects(&task("8", "456"), None, &[]),
            "another owner"
        );
        assert!(tasks.wants("8") && !tasks.wants("10"));
    }
}
