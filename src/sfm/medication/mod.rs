//! SFM's medication operations on `Patient`: `$getMedication` (read the patient's medication from
//! Reseptformidleren, the PLL and Kjernejournal) and `$sendMedication` (send prescriptions,
//! withdrawals and a new PLL), with every validation rule of the spec.

pub mod document;
pub mod get;
pub mod lookup;
pub mod outage;
pub mod rules;
pub mod send;

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use super::caller::Caller;
use super::fhir;
use super::model::{DNR_SYSTEM, FNR_SYSTEM, HPR_SYSTEM, ResourceKind, SfmStore, Tenant};
use crate::errors::fhir::{FhirError, Issue};
use crate::ids::NationalId;

/// Where SFM's profiles live.
pub const PROFILE_BASE: &str = "http://ehelse.no/fhir/StructureDefinition/";
/// SFM's code system for lookup and delivery results.
pub const RESULT_CODE_SYSTEM: &str = "http://ehelse.no/fhir/CodeSystem/sfm-kj-rf-error-code";

/// `OK` in SFM's result code system.
pub fn result_ok() -> Value {
    json!({"system": RESULT_CODE_SYSTEM, "code": "0", "display": "OK"})
}

/// Who a Patient resource is, for the national systems.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientIdentity {
    /// The national systems' key (see [`crate::national::patient_key`]).
    pub key: String,
    /// The fødselsnummer or D-nummer, if any.
    pub national_id: Option<NationalId>,
    /// The name, for displays.
    pub display: String,
}

/// The identity of a Patient as `$getMedication` and `$sendMedication` take it: a fødselsnummer
/// or D-nummer (exactly one `official` when several), else the EHR's own identifier, else birth
/// date, gender and name. `path` prefixes the problems' locations.
pub fn patient_identity(patient: &Value, path: &str) -> Result<PatientIdentity, Vec<Issue>> {
    let mut issues = Vec::new();
    let display = patient_name(patient);
    if display.is_none() {
        issues
            .push(Issue::error("required", "The patient needs a name").at(format!("{path}.name")));
    }
    let identifiers: Vec<&Value> = patient
        .get("identifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let national: Vec<&Value> = identifiers
        .iter()
        .copied()
        .filter(|i| matches!(system_of(i).as_str(), FNR_SYSTEM | DNR_SYSTEM))
        .collect();
    let chosen = national_identifier(&national, path, &mut issues);
    let mut national_id = None;
    let mut key = None;
    if let Some(identifier) = chosen {
        match NationalId::parse(&value_of(identifier)) {
            Ok(id) => {
                key = Some(id.as_str().to_owned());
                national_id = Some(id);
            }
            Err(e) => {
                issues.push(Issue::error("invalid", e.to_string()).at(format!("{path}.identifier")))
            }
        }
    } else if national.is_empty() {
        key = key_without_national_id(patient, &identifiers, display.as_deref(), path, &mut issues);
    }
    match (key, issues.is_empty()) {
        (Some(key), true) => Ok(PatientIdentity {
            key,
            national_id,
            display: display.unwrap_or_default(),
        }),
        (None, true) => Err(vec![
            Issue::error("required", "The patient needs an identifier")
                .at(format!("{path}.identifier")),
        ]),
        _ => Err(issues),
    }
}

/// The patient's name for displays: the first name's `text`, else its given and family names.
fn patient_name(patient: &Value) -> Option<String> {
    patient
        .get("name")
        .and_then(Value::as_array)
        .and_then(|names| names.first())
        .map(|name| {
            let given: Vec<&str> = name
                .get("given")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let family = name
                .get("family")
                .and_then(Value::as_str)
                .unwrap_or_default();
            name.get("text")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{} {family}", given.join(" ")).trim().to_owned())
        })
        .filter(|n| !n.is_empty())
}

/// An identifier's `system` ("" when it has none).
fn system_of(identifier: &Value) -> String {
    identifier
        .get("system")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// An identifier's `value` ("" when it has none).
fn value_of(identifier: &Value) -> String {
    identifier
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The fødselsnummer/D-nummer identifier that names the patient among `national`: the only one,
/// else the only `official` one (an issue when there is no such one).
fn national_identifier<'a>(
    national: &[&'a Value],
    path: &str,
    issues: &mut Vec<Issue>,
) -> Option<&'a Value> {
    match national {
        [] => None,
        [one] => Some(*one),
        several => {
            let official: Vec<&&Value> = several
                .iter()
                .filter(|i| i.get("use").and_then(Value::as_str) == Some("official"))
                .collect();
            if official.len() == 1 {
                Some(*official[0])
            } else {
                issues.push(
                    Issue::error(
                        "invalid",
                        "The patient has several fødselsnummer/D-nummer identifiers: exactly one \
                         must have use 'official'",
                    )
                    .at(format!("{path}.identifier")),
                );
                None
            }
        }
    }
}

/// The national systems' key of a patient without fødselsnummer or D-nummer: the EHR's own
/// identifier, else birth date, gender and name (`display`). Birth date and gender are required
/// either way (an issue when missing).
fn key_without_national_id(
    patient: &Value,
    identifiers: &[&Value],
    display: Option<&str>,
    path: &str,
    issues: &mut Vec<Issue>,
) -> Option<String> {
    let mut key = identifiers
        .iter()
        .find(|i| !value_of(i).is_empty())
        .and_then(|other| {
            crate::national::patient_key(None, Some((&system_of(other), &value_of(other))))
        });
    let birth_date = patient.get("birthDate").and_then(Value::as_str);
    let gender = patient.get("gender").and_then(Value::as_str);
    match (birth_date, gender) {
        (Some(birth_date), Some(gender)) => {
            if key.is_none() {
                key = Some(format!(
                    "{birth_date}|{gender}|{}",
                    display.unwrap_or_default()
                ));
            }
        }
        _ => issues.push(
            Issue::error(
                "required",
                "A patient without fødselsnummer or D-nummer needs birthDate and gender",
            )
            .at(path.to_owned()),
        ),
    }
    key
}

/// Medication operations need an authorised health professional: an HPR number in the token.
pub fn require_hpr(caller: &Caller, operation: &str) -> Result<String, FhirError> {
    caller.hpr.clone().ok_or_else(|| {
        FhirError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "{operation} needs an authorised health professional: the user {} has no HPR \
                 number in the token (claim helseid://claims/hpr/hpr_number; scope \
                 helseid://scopes/hpr/hpr_number)",
                caller.pid
            ),
        )
    })
}

/// The caller's instance, writable, and the caller's HPR number: a medication operation needs a
/// user of the instance (403) who is an authorised health professional (403).
pub fn tenant_and_hpr<'a>(
    sfm: &'a mut SfmStore,
    caller: &Caller,
    operation: &str,
) -> Result<(&'a mut Tenant, String), FhirError> {
    let tenant = fhir::tenant_mut_for(&mut sfm.tenants, caller)?;
    let hpr = require_hpr(caller, operation)?;
    Ok((tenant, hpr))
}

/// The caller as a Practitioner for a bundle: the tenant's Practitioner with the caller's pid,
/// else one made from the token.
pub fn practitioner_for(tenant: &Tenant, caller: &Caller, hpr: &str) -> Value {
    let registered = tenant
        .of_kind(ResourceKind::Practitioner)
        .map(|(_, r)| r.current())
        .find(|r| super::model::has_identifier(r, &[FNR_SYSTEM, DNR_SYSTEM], &caller.pid));
    let practitioner = match registered {
        Some(r) => r,
        None => json!({
            "resourceType": "Practitioner",
            "id": uuid::Uuid::new_v4().to_string(),
            "identifier": [
                {"use": "official", "system": HPR_SYSTEM, "value": hpr},
                {"use": "official", "system": FNR_SYSTEM, "value": caller.pid}
            ],
            "active": true,
        }),
    };
    with_profile(practitioner, "sfm-Practitioner")
}

/// A resource for a bundle: `meta` is just SFM's profile, and `resourceType`, `id`, `meta` come
/// first.
pub fn with_profile(mut resource: Value, profile: &str) -> Value {
    if let Some(object) = resource.as_object_mut() {
        object.insert(
            "meta".to_owned(),
            json!({"profile": [format!("{PROFILE_BASE}{profile}")]}),
        );
        let mut ordered = serde_json::Map::new();
        for key in ["resourceType", "id", "meta"] {
            if let Some(value) = object.remove(key) {
                ordered.insert(key.to_owned(), value);
            }
        }
        ordered.append(object);
        *object = ordered;
    }
    resource
}

/// The display SFM gives a practitioner: "NAME, HPR: 123".
pub fn practitioner_display(practitioner: &Value, hpr: &str) -> String {
    format!("{}, HPR: {hpr}", practitioner_name(practitioner))
}

/// A practitioner's name as SFM shows it: given names, middle name and family name, else
/// "Practitioner".
pub fn practitioner_name(practitioner: &Value) -> String {
    practitioner
        .pointer("/name/0")
        .map(|n| {
            let mut given: Vec<&str> = n
                .get("given")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            given.extend(
                crate::national::statement::extension(
                    n,
                    "http://hl7.no/fhir/StructureDefinition/no-basis-middlename",
                )
                .and_then(|e| e.get("valueString"))
                .and_then(Value::as_str),
            );
            format!(
                "{} {}",
                given.join(" "),
                n.get("family").and_then(Value::as_str).unwrap_or_default()
            )
            .trim()
            .to_owned()
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Practitioner".to_owned())
}

/// A fresh `urn:uuid:` for a bundle entry.
pub fn urn() -> String {
    format!("urn:uuid:{}", uuid::Uuid::new_v4())
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{DateTime, Utc};

    /// The tests' now: the time the medication rules' unit tests are written for.
    pub(crate) fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
            .unwrap()
            .to_utc()
    }
}
