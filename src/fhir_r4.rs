//! FHIR R4 as a FHIR server reads it: a strict parse (unknown or misspelt elements, wrong
//! types) and FHIR JSON's own rules, for any resource type. Shared by SFM's FHIR API and the
//! national systems' fixtures.

use serde_json::Value;

/// Whether `id` is a FHIR id: 1-64 of A-Z a-z 0-9 - .
pub fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
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
pub fn parse_r4(resource: &Value, type_name: &str) -> Option<String> {
    if let Some(problem) = json_rules(resource, type_name) {
        return Some(format!("not a valid FHIR R4 {type_name}: {problem}"));
    }
    let bytes = serde_json::to_vec(resource).unwrap_or_default();
    let same_type = resource.get("resourceType").and_then(Value::as_str) == Some(type_name);
    let parsed = std::panic::catch_unwind(|| {
        if same_type {
            parse_as(&bytes, type_name)
        } else {
            fhirbolt::json::from_slice::<fhirbolt::model::r4::Resource>(&bytes, None).map(drop)
        }
    });
    match parsed {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!(
            "not a valid FHIR R4 {type_name}: {}",
            without_position(&e.to_string())
        )),
        Err(_) => Some(format!(
            "not a valid FHIR R4 {type_name}: the parser could not read it"
        )),
    }
}

/// fhirbolt's parse of a resource of the type its `resourceType` names: the types helsesim
/// stores read as themselves (a sixth of the time of the all-types `Resource`, which matters
/// for 100,000 fixture Patients), any other through `Resource`.
fn parse_as(bytes: &[u8], type_name: &str) -> Result<(), fhirbolt::json::Error> {
    use fhirbolt::json::from_slice;
    use fhirbolt::model::r4::resources as r4;
    match type_name {
        "Patient" => from_slice::<r4::Patient>(bytes, None).map(drop),
        "Practitioner" => from_slice::<r4::Practitioner>(bytes, None).map(drop),
        "Person" => from_slice::<r4::Person>(bytes, None).map(drop),
        "Organization" => from_slice::<r4::Organization>(bytes, None).map(drop),
        _ => from_slice::<fhirbolt::model::r4::Resource>(bytes, None).map(drop),
    }
}

/// A parser's message without its ` at line L column C`: the position is in helsesim's copy of
/// the resource, not in what the client sent.
fn without_position(message: &str) -> &str {
    match message.rsplit_once(" at line ") {
        Some((text, position))
            if position
                .split_once(" column ")
                .is_some_and(|(l, c)| is_number(l) && is_number(c)) =>
        {
            text
        }
        _ => message,
    }
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
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
            "{path} is a JSON string (\"{text}\"): FHIR JSON writes a number without quotes, with \
             a point for decimals (e.g. 2.5)"
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
            "{path}.{key} is a JSON string (\"{text}\"): FHIR JSON writes a boolean as true or \
             false, without quotes"
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

    #[test]
    fn a_parser_position_is_left_out_and_other_text_kept() {
        assert_eq!(
            without_position("unknown field `x` at line 1 column 37"),
            "unknown field `x`"
        );
        assert_eq!(without_position("at line 1 column x"), "at line 1 column x");
        assert_eq!(without_position("no position"), "no position");
        let patient = serde_json::json!({"resourceType": "Patient", "birthdate": "2000-01-01"});
        let problem = parse_r4(&patient, "Patient").unwrap();
        assert!(
            problem.starts_with("not a valid FHIR R4 Patient: unknown field `birthdate`")
                && problem.ends_with("`link`"),
            "{problem}"
        );
    }
}
