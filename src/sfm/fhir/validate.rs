//! Checks of incoming FHIR resources: a strict R4 parse (unknown or misspelt elements, wrong
//! types) as a FHIR server does, plus the checks of the REST interactions (type, id).

use serde_json::Value;

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

/// Whether `id` is a FHIR id: 1-64 of A-Z a-z 0-9 - .
pub fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
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

/// Checks that `resource` is a valid R4 resource of type `type_name` (any id, or none).
pub fn check_type(resource: &Value, type_name: &str) -> Result<(), Vec<String>> {
    match resource.get("resourceType").and_then(Value::as_str) {
        Some(name) if name == type_name => {
            parse_r4(resource, type_name).map_or(Ok(()), |e| Err(vec![e]))
        }
        Some(name) => Err(vec![format!(
            "expected a {type_name}, got resourceType '{name}'"
        )]),
        None => Err(vec![format!(
            "expected a {type_name}: the JSON has no resourceType"
        )]),
    }
}

/// fhirbolt's strict R4 parse; the problem, if any. FHIR JSON's own rules (no empty arrays,
/// objects or strings, no nulls) are checked first: they name the element, and fhirbolt can
/// panic on some of them (caught here all the same, so no input ever takes a worker down).
fn parse_r4(resource: &Value, type_name: &str) -> Option<String> {
    if let Some(problem) = json_rules(resource, type_name) {
        return Some(format!("not a valid FHIR R4 {type_name}: {problem}"));
    }
    let bytes = serde_json::to_vec(resource).unwrap_or_default();
    let parsed = std::panic::catch_unwind(|| {
        fhirbolt::json::from_slice::<fhirbolt::model::r4::Resource>(&bytes, None).map(|_| ())
    });
    match parsed {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("not a valid FHIR R4 {type_name}: {e}")),
        Err(_) => Some(format!(
            "not a valid FHIR R4 {type_name}: the parser could not read it"
        )),
    }
}

/// The first breach of FHIR JSON's rules (json.html#xml): no `null`, no empty array, object or
/// string; numbers and booleans not as strings where the element is known to be one (see
/// [`typed_as_string`]); `path` names the element.
fn json_rules(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::Null => Some(format!("{path} is null: leave the element out instead")),
        Value::String(s) if s.is_empty() => Some(format!(
            "{path} is an empty string: leave the element out instead"
        )),
        Value::Array(items) if items.is_empty() => Some(format!(
            "{path} is an empty array: leave the element out instead"
        )),
        Value::Object(map) if map.is_empty() => Some(format!(
            "{path} is an empty object: leave the element out instead"
        )),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| json_rules(item, &format!("{path}[{i}]"))),
        Value::Object(map) => typed_as_string(map, path).or_else(|| {
            map.iter()
                .find_map(|(key, item)| json_rules(item, &format!("{path}.{key}")))
        }),
        _ => None,
    }
}

/// Choice elements named for a numeric type (`valueDecimal`, `valueInteger`, ...).
const NUMBER_SUFFIXES: [&str; 4] = ["Decimal", "Integer", "PositiveInt", "UnsignedInt"];

/// Elements of a Quantity type (Quantity, Age, Duration, Distance, Money, `valueQuantity`,
/// `doseQuantity`, `quantity`, ...), by their name's end.
const QUANTITY_SUFFIXES: [&str; 5] = ["Quantity", "Age", "Duration", "Distance", "Money"];

/// FHIR JSON writes decimals and integers as JSON numbers and booleans as `true`/`false`, never
/// as strings (json.html#primitive) — a lenient parser would take `"72,5"` in. Without the
/// whole schema, the elements known to be one: a choice element named for its type
/// (`valueDecimal`, `valueInteger`, `valuePositiveInt`, `valueUnsignedInt`; `valueBoolean`,
/// `deceasedBoolean`, ...), and the `value` of a Quantity — of an element named for one
/// (`valueQuantity`, `doseQuantity`, `quantity`, `onsetAge`, ...), or of an object shaped as
/// one (`value` with `unit`, `comparator` or `currency`). The first such string in `map` (the
/// element at `path`), if any.
fn typed_as_string(map: &serde_json::Map<String, Value>, path: &str) -> Option<String> {
    let named_for = |key: &str, suffix: &str| {
        key.len() > suffix.len()
            && key.ends_with(suffix)
            && key.starts_with(|c: char| c.is_ascii_lowercase())
    };
    let as_number = |path: String, text: &str| {
        format!(
            "{path} is a JSON string (\"{text}\"): FHIR JSON writes a number without quotes, with a point for decimals (e.g. 2.5)"
        )
    };
    let shaped_as_quantity = ["unit", "comparator", "currency"]
        .iter()
        .any(|k| map.contains_key(*k));
    if shaped_as_quantity && let Some(Value::String(text)) = map.get("value") {
        return Some(as_number(format!("{path}.value"), text));
    }
    map.iter().find_map(|(key, item)| match item {
        Value::String(text) if NUMBER_SUFFIXES.iter().any(|s| named_for(key, s)) => {
            Some(as_number(format!("{path}.{key}"), text))
        }
        Value::String(text) if named_for(key, "Boolean") => Some(format!(
            "{path}.{key} is a JSON string (\"{text}\"): FHIR JSON writes a boolean as true or false, without quotes"
        )),
        Value::Object(quantity)
            if key == "quantity" || QUANTITY_SUFFIXES.iter().any(|s| named_for(key, s)) =>
        {
            match quantity.get("value") {
                Some(Value::String(text)) => Some(as_number(format!("{path}.{key}.value"), text)),
                _ => None,
            }
        }
        _ => None,
    })
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
            Err(vec!["Patient.identifier[1].value: '32019012345' is not a national identity number: its first six digits are not a date (of the century its individual number gives)".to_owned()])
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
        let bundle = json!({"resourceType": "Bundle", "type": "document", "entry": [{"resource": {"resourceType": "Composition", "section": [{"entry": []}]}}]});
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
                    "medicationCodeableConcept": {"text": "Paracet"}, "subject": {"reference": "Patient/p"},
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
        let weight = json!({"resourceType": "Observation", "status": "final", "code": {"text": "Vekt"},
            "subject": {"reference": "Patient/p"}, "valueQuantity": {"value": 72.5, "unit": "kg"}});
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
