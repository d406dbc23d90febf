//! Checks of incoming FHIR resources: a strict R4 parse (unknown or misspelt elements, wrong
//! types) as a FHIR server does, plus the checks of the REST interactions (type, id).

use serde_json::Value;

use crate::fhir_r4::parse_r4;
pub use crate::fhir_r4::{check_type, is_fhir_id};
use crate::sfm::model::ResourceKind;

/// The resource's type, if helsesim serves it.
pub fn resource_kind(resource: &Value) -> Result<ResourceKind, String> {
    let name = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .ok_or("the resource has no resourceType")?;
    ResourceKind::parse(name)
        .ok_or_else(|| format!("resourceType '{name}' is not served by SFM here"))
}

/// Checks that `resource` is a valid R4 `kind`; every problem as a message.
pub fn check(resource: &Value, kind: ResourceKind) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if !resource.is_object() {
        return Err(vec![
            "the body must be a JSON object (a FHIR resource)".to_owned(),
        ]);
    }
    match resource.get("resourceType").and_then(Value::as_str) {
        Some(name) if name == kind.as_str() => {}
        Some(name) => problems.push(format!(
            "resourceType '{name}' does not match the URL, which is for {}",
            kind.as_str()
        )),
        None => problems.push("the resource has no resourceType".to_owned()),
    }
    if let Some(id) = resource.get("id") {
        match id.as_str() {
            Some(id) if is_fhir_id(id) => {}
            _ => problems.push(format!(
                "id {id} is not a FHIR id (1-64 of A-Z a-z 0-9 - .)"
            )),
        }
    }
    if problems.is_empty() {
        problems.extend(parse_r4(resource, kind.as_str()));
    }
    if problems.is_empty() {
        problems.extend(national_id_problems(resource, kind.as_str()));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Identifiers under the fødselsnummer or D-nummer system must be valid national identity
/// numbers (date, century and control digits): SFM looks patients and users up by them.
fn national_id_problems(resource: &Value, type_name: &str) -> Vec<String> {
    use crate::sfm::model::{DNR_SYSTEM, FNR_SYSTEM};
    let Some(identifiers) = resource.get("identifier").and_then(Value::as_array) else {
        return Vec::new();
    };
    identifiers
        .iter()
        .enumerate()
        .filter(|(_, i)| {
            matches!(
                i.get("system").and_then(Value::as_str),
                Some(FNR_SYSTEM | DNR_SYSTEM)
            )
        })
        .filter_map(|(n, i)| {
            let value = i.get("value").and_then(Value::as_str).unwrap_or_default();
            crate::ids::NationalId::parse(value)
                .err()
                .map(|e| format!("{type_name}.identifier[{n}].value: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn national_identity_numbers_must_be_valid() {
        // Day 32 with valid control digits: refused (issue 12).
        let patient = json!({"resourceType": "Patient", "identifier": [
            {"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "12050050295"},
            {"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "32019012345"}]});
        assert_eq!(
            check(&patient, ResourceKind::Patient),
            Err(vec![
                "Patient.identifier[1].value: '32019012345' is not a national identity number: its \
                 first six digits are not a date (of the century its individual number gives)"
                    .to_owned()
            ])
        );
    }

    #[test]
    fn a_valid_patient_passes() {
        let patient = json!({"resourceType": "Patient", "id": "p-1", "birthDate": "1990-01-01",
            "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "12050050295"}]});
        assert_eq!(check(&patient, ResourceKind::Patient), Ok(()));
    }

    #[test]
    fn fhir_json_rules_name_the_element() {
        for (resource, expected) in [
            (
                json!({"resourceType": "Patient", "name": []}),
                "Patient.name is an empty array",
            ),
            (
                json!({"resourceType": "Patient", "name": [{}]}),
                "Patient.name[0] is an empty object",
            ),
            (
                json!({"resourceType": "Patient", "active": null}),
                "Patient.active is null",
            ),
            (
                json!({"resourceType": "Patient", "gender": ""}),
                "Patient.gender is an empty string",
            ),
        ] {
            let err = check_type(&resource, "Patient").unwrap_err();
            assert!(err[0].contains(expected), "{err:?}");
        }
        let bundle = json!({
            "resourceType": "Bundle",
            "type": "document",
            "entry": [{"resource": {"resourceType": "Composition", "section": [{"entry": []}]}}]
        });
        let err = check_type(&bundle, "Bundle").unwrap_err();
        assert!(
            err[0].contains("Bundle.entry[0].resource.section[0].entry is an empty array"),
            "{err:?}"
        );
    }

    #[test]
    fn numbers_and_booleans_are_not_strings() {
        for (resource, expected) in [
            (
                json!({"resourceType": "Observation", "status": "final", "code": {"text": "Vekt"},
                    "valueQuantity": {"value": "72,5", "unit": "kg"}}),
                "Observation.valueQuantity.value is a JSON string (\"72,5\")",
            ),
            (
                json!({"resourceType": "Observation", "status": "final", "code": {"text": "Vekt"},
                    "valueQuantity": {"value": "72.5"}}),
                "Observation.valueQuantity.value is a JSON string",
            ),
            (
                json!({"resourceType": "Observation", "status": "final", "code": {"text": "INR"},
                    "referenceRange": [{"low": {"value": "2", "unit": "INR"}}]}),
                "Observation.referenceRange[0].low.value is a JSON string",
            ),
            (
                json!({"resourceType": "Observation", "status": "final", "code": {"text": "Antall"},
                    "valueInteger": "3"}),
                "Observation.valueInteger is a JSON string",
            ),
            (
                json!({"resourceType": "Patient", "deceasedBoolean": "false"}),
                "Patient.deceasedBoolean is a JSON string",
            ),
            (
                json!({"resourceType": "MedicationStatement", "status": "active",
                    "medicationCodeableConcept": {"text": "Paracet"},
                    "subject": {"reference": "Patient/p"},
                    "dosage": [{"doseAndRate": [{"doseQuantity": {"value": "1"}}]}]}),
                "MedicationStatement.dosage[0].doseAndRate[0].doseQuantity.value is a JSON string",
            ),
        ] {
            let type_name = resource["resourceType"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let err = check_type(&resource, &type_name).unwrap_err();
            assert!(err[0].contains(expected), "{err:?}");
        }
        // Strings where FHIR has strings: an Identifier's or a ContactPoint's value.
        let patient = json!({"resourceType": "Patient",
            "identifier": [{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "12050050295"}],
            "telecom": [{"system": "phone", "value": "+47 22 00 00 00", "use": "work"}]});
        assert_eq!(check(&patient, ResourceKind::Patient), Ok(()));
        let weight = json!({"resourceType": "Observation", "status": "final",
            "code": {"text": "Vekt"}, "subject": {"reference": "Patient/p"},
            "valueQuantity": {"value": 72.5, "unit": "kg"}});
        assert_eq!(check_type(&weight, "Observation"), Ok(()));
    }

    #[test]
    fn misspelt_elements_and_wrong_types_are_refused() {
        let err = check(
            &json!({"resourceType": "Patient", "birthdate": "1990-01-01"}),
            ResourceKind::Patient,
        )
        .unwrap_err();
        assert!(err[0].starts_with("not a valid FHIR R4 Patient"), "{err:?}");
        let err = check(
            &json!({"resourceType": "Patient", "active": "yes"}),
            ResourceKind::Patient,
        )
        .unwrap_err();
        assert!(err[0].starts_with("not a valid FHIR R4 Patient"), "{err:?}");
        let err = check(
            &json!({"resourceType": "Person", "id": "a b"}),
            ResourceKind::Patient,
        )
        .unwrap_err();
        assert_eq!(err.len(), 2, "{err:?}");
    }
}
