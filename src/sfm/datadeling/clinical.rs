//! Conditions and Observations the EHR shares through SFM: created with the patient's ticket as
//! `subject`, read and searched by ticket. A Condition needs identifier, verificationStatus and
//! code; an INR Observation carries its value as valueQuantity.

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::query::{Hit, Query, concept_matches, last_updated_matches};
use super::store::{self, internal_reference, patient_field};
use super::{DataType, patient_of_ticket, ticket_of};
use crate::errors::fhir::{FhirError, Issue};
use crate::sfm::caller::Caller;
use crate::sfm::fhir::search::token_matches;
use crate::sfm::fhir::validate;
use crate::sfm::model::Tenant;

/// LOINC codes of INR.
const INR_CODES: [&str; 3] = ["34714-6", "6301-6", "46418-0"];

fn is_inr(observation: &Value) -> bool {
    observation
        .pointer("/code/coding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| {
            c.get("system").and_then(Value::as_str) == Some("http://loinc.org")
                && c.get("code")
                    .and_then(Value::as_str)
                    .is_some_and(|code| INR_CODES.contains(&code))
        })
}

fn has_concept(resource: &Value, element: &str) -> bool {
    resource.get(element).is_some_and(|c| {
        c.get("coding")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
            || c.get("text")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty())
    })
}

/// A type name with its indefinite article, capitalised as a sentence starts or not: "A
/// Condition", "an Observation".
pub fn with_article(name: &str, capital: bool) -> String {
    let vowel = name.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']);
    let article = match (vowel, capital) {
        (true, true) => "An",
        (true, false) => "an",
        (false, true) => "A",
        (false, false) => "a",
    };
    format!("{article} {name}")
}

/// The problems of a new Condition or Observation (besides its patient).
fn check_rules(data: DataType, resource: &Value) -> Vec<Issue> {
    let name = data.as_str();
    let a_name = with_article(name, true);
    let mut issues = Vec::new();
    let required = |element: &str, why: &str| {
        Issue::error("required", format!("{a_name} needs {element}: {why}"))
            .at(format!("{name}.{element}"))
    };
    if !has_concept(resource, "code") {
        issues.push(required("code", "what it is (a coding or a text)"));
    }
    if data == DataType::Observation && resource.get("status").is_none() {
        issues.push(required(
            "status",
            "registered, preliminary, final, amended, ... (http://hl7.org/fhir/observation-status)",
        ));
    }
    match data {
        DataType::Condition => {
            if resource
                .get("identifier")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
            {
                issues.push(required(
                    "identifier",
                    "the EHR's id for it, so later sends can name it",
                ));
            }
            if !has_concept(resource, "verificationStatus") {
                issues.push(required(
                    "verificationStatus",
                    "confirmed, provisional, ... \
                     (http://terminology.hl7.org/CodeSystem/condition-ver-status)",
                ));
            }
        }
        DataType::Observation if is_inr(resource) => {
            let numeric = resource
                .pointer("/valueQuantity/value")
                .is_some_and(Value::is_number);
            if !numeric {
                issues.push(
                    Issue::error(
                        "invalid",
                        "An INR Observation carries its result as valueQuantity with a numeric \
                         value (e.g. {\"value\": 2.5, \"unit\": \"INR\"})",
                    )
                    .at("Observation.valueQuantity"),
                );
            }
        }
        _ => {}
    }
    issues
}

/// `resource` for the strict R4 parse: the elements R4 requires that [`create`] reports itself
/// when absent (`code`, an Observation's `status`, the patient) stand in, so that their absence
/// is one issue each, all at once, rather than the parser's single "missing field". Present
/// elements are never replaced: a wrong one is still the parser's to refuse.
fn with_stand_ins(data: DataType, resource: &Value) -> Value {
    let mut parsed = resource.clone();
    if let Some(object) = parsed.as_object_mut() {
        let mut stand_ins = vec![
            ("code", json!({"text": "stand-in"})),
            (
                patient_field(data.as_str()),
                json!({"reference": "Patient/stand-in"}),
            ),
        ];
        if data == DataType::Observation {
            stand_ins.push(("status", json!("unknown")));
        }
        for (element, stand_in) in stand_ins {
            object.entry(element).or_insert(stand_in);
        }
    }
    parsed
}

/// `POST [type]`: a new Condition or Observation for the patient its ticket names.
pub fn create(
    tenant: &mut Tenant,
    caller: &Caller,
    data: DataType,
    resource: Value,
    now: DateTime<Utc>,
) -> Result<Value, FhirError> {
    let name = data.as_str();
    let bad = |issues: Vec<Issue>| FhirError::with_issues(StatusCode::BAD_REQUEST, issues);
    match resource.get("resourceType").and_then(Value::as_str) {
        Some(t) if t == name => {}
        Some(t) => {
            return Err(bad(vec![Issue::error(
                "invalid",
                format!("resourceType '{t}' does not match the URL, which is for {name}"),
            )]));
        }
        None => {
            return Err(bad(vec![Issue::error(
                "invalid",
                "The resource has no resourceType",
            )]));
        }
    }
    let field = patient_field(name);
    validate::check_type(&with_stand_ins(data, &resource), name).map_err(|p| {
        bad(p
            .into_iter()
            .map(|m| Issue::error("structure", m))
            .collect())
    })?;
    let mut issues = check_rules(data, &resource);
    let patient = match resource.get(field) {
        None => {
            issues.push(
                Issue::error(
                    "required",
                    format!(
                        "{} needs {field}: the patient's ticket, as {{\"identifier\": {{\"value\": \
                         \"<patient ticket>\"}}}}",
                        with_article(name, true)
                    ),
                )
                .at(format!("{name}.{field}")),
            );
            None
        }
        Some(reference) => match ticket_of(reference) {
            Some(ticket) => match patient_of_ticket(tenant, caller, ticket, now) {
                Ok(patient) => Some(patient),
                Err(e) => {
                    issues.extend(
                        e.issues
                            .into_iter()
                            .map(|i| i.at(format!("{name}.{field}.identifier.value"))),
                    );
                    None
                }
            },
            None => {
                issues.push(
                    Issue::error(
                        "invalid",
                        format!(
                            "{name}.{field} must name the patient by ticket, as {{\"identifier\": \
                             {{\"value\": \"<patient ticket>\"}}}}: SFM Datadeling never takes a \
                             fødselsnummer or a Patient id"
                        ),
                    )
                    .at(format!("{name}.{field}")),
                );
                None
            }
        },
    };
    let Some(patient) = patient.filter(|_| issues.is_empty()) else {
        return Err(bad(issues));
    };
    let mut resource = resource;
    resource[field] = internal_reference(&patient);
    let id = uuid::Uuid::new_v4().to_string();
    let stored = store::insert(tenant, name, &id, resource, now);
    Ok(store::render(tenant, caller, stored, now))
}

/// Whether a stored Condition or Observation matches the query.
fn matches(data: DataType, query: &Query, resource: &Value, patient: Option<&str>) -> bool {
    if let Some(patient) = patient
        && store::patient_id(resource, data.as_str()).as_deref() != Some(patient)
    {
        return false;
    }
    let any =
        |name: &str, test: &dyn Fn(&str) -> bool| query.all(name).all(|v| v.split(',').any(test));
    any("_id", &|v| {
        resource.get("id").and_then(Value::as_str) == Some(v)
    }) && any("identifier", &|v| token_matches(resource, v))
        && any("code", &|v| concept_matches(resource.get("code"), v))
        && any("verification-status", &|v| {
            concept_matches(resource.get("verificationStatus"), v)
        })
        && any("clinical-status", &|v| {
            concept_matches(resource.get("clinicalStatus"), v)
        })
        && any("status", &|v| {
            resource.get("status").and_then(Value::as_str) == Some(v)
        })
        && last_updated_matches(query, resource)
}

/// `GET [type]?patientTicket=...`.
pub fn search(
    tenant: &mut Tenant,
    caller: &Caller,
    data: DataType,
    query: &Query,
    patient: Option<&str>,
    now: DateTime<Utc>,
) -> Vec<Hit> {
    let found: Vec<Value> = store::all(tenant, data.as_str())
        .into_iter()
        .filter(|r| matches(data, query, r, patient))
        .collect();
    found
        .into_iter()
        .map(|r| Hit {
            resource: store::render(tenant, caller, r, now),
            include: false,
        })
        .collect()
}
