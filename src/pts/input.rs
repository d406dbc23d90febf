//! Reading PTS request bodies as ASP.NET Core reads them: JSON with trailing commas allowed (the
//! spec's own examples have them), property names case-insensitive (`ApplicableOnly` beside
//! camelCase), unknown properties ignored, and every problem reported under its field in
//! `errors`, with ASP.NET's wording.

use chrono::{DateTime, Utc};
use serde::Deserialize as _;
use serde_json::{Map, Value};

use super::model::ObjectId;
use super::rules::{Delay, Errors, push};

/// Parses the body leniently and lower-cases every property name.
pub fn parse(body: &[u8]) -> Result<Value, Errors> {
    let mut de = serde_json_lenient::Deserializer::from_slice(body);
    de.set_ignore_trailing_commas(true);
    let parsed = Value::deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match parsed {
        Ok(value @ Value::Object(_)) => Ok(lower_keys(value)),
        Ok(_) => {
            let mut errors = Errors::new();
            push(
                &mut errors,
                "$",
                "The JSON value could not be converted to the request: the body must be a JSON \
                 object",
            );
            Err(errors)
        }
        Err(e) => {
            let mut errors = Errors::new();
            push(&mut errors, "$", format!("The body is not valid JSON: {e}"));
            Err(errors)
        }
    }
}

fn lower_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.to_lowercase(), lower_keys(v)))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(lower_keys).collect()),
        other => other,
    }
}

/// A field's value, absent when missing or null.
fn get<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|v| !v.is_null())
}

fn conversion(errors: &mut Errors, path: &str, type_name: &str) {
    push(
        errors,
        path,
        format!("The JSON value could not be converted to {type_name}. Path: {path}"),
    );
}

/// A string field; `name` is its display name for "required" messages, `field` its error key.
fn string(
    object: &Value,
    key: &str,
    path: &str,
    field: &str,
    required: bool,
    errors: &mut Errors,
) -> Option<String> {
    match get(object, key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(Value::String(_)) | None => {
            if required {
                let name = field.rsplit('.').next().unwrap_or(field);
                push(errors, field, format!("The {name} field is required."));
            }
            None
        }
        Some(_) => {
            conversion(errors, path, "System.String");
            None
        }
    }
}

/// A time field (`DateTime`).
pub fn time(object: &Value, key: &str, path: &str, errors: &mut Errors) -> Option<DateTime<Utc>> {
    match get(object, key) {
        None => None,
        Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => Some(t.to_utc()),
            Err(_) => {
                conversion(errors, path, "System.DateTime");
                None
            }
        },
        Some(_) => {
            conversion(errors, path, "System.DateTime");
            None
        }
    }
}

fn integer(object: &Value, key: &str, path: &str, errors: &mut Errors) -> Option<i64> {
    let value = get(object, key)?;
    match value.as_i64().filter(|n| i32::try_from(*n).is_ok()) {
        Some(n) => Some(n),
        None => {
            conversion(errors, path, "System.Int32");
            None
        }
    }
}

fn boolean(object: &Value, key: &str, path: &str, errors: &mut Errors) -> bool {
    match get(object, key) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            conversion(errors, path, "System.Boolean");
            false
        }
    }
}

/// A `{type, value}` object.
fn object_id(
    object: &Value,
    key: &str,
    field: &str,
    required: bool,
    errors: &mut Errors,
) -> Option<ObjectId> {
    let Some(inner) = get(object, key) else {
        if required {
            let name = field.rsplit('.').next().unwrap_or(field);
            push(errors, field, format!("The {name} field is required."));
        }
        return None;
    };
    if !inner.is_object() {
        conversion(errors, &format!("$.{key}"), "ConfidentialObjectId");
        return None;
    }
    let kind = string(
        inner,
        "type",
        "type",
        &format!("{field}.Type"),
        true,
        errors,
    );
    let value = string(
        inner,
        "value",
        "value",
        &format!("{field}.Value"),
        true,
        errors,
    );
    Some(ObjectId {
        kind: kind?,
        value: value?,
    })
}

/// `patientSafetyObject`: the person and the objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyObject {
    /// The person.
    pub off_id: String,
    /// The confidential object.
    pub object: ObjectId,
    /// Its parent.
    pub parent: Option<ObjectId>,
}

fn safety_object(body: &Value, parent_required: bool, errors: &mut Errors) -> Option<SafetyObject> {
    let Some(object) = get(body, "patientsafetyobject") else {
        push(
            errors,
            "PatientSafetyObject",
            "The PatientSafetyObject field is required.",
        );
        return None;
    };
    let off_id = match get(object, "person") {
        Some(person) => off_id(
            person,
            "$.patientSafetyObject.person.offId",
            "PatientSafetyObject.Person.OffId",
            errors,
        ),
        None => {
            push(
                errors,
                "PatientSafetyObject.Person",
                "The Person field is required.",
            );
            None
        }
    };
    let confidential = object_id(
        object,
        "confidentialobjectid",
        "PatientSafetyObject.ConfidentialObjectId",
        true,
        errors,
    );
    let parent = object_id(
        object,
        "parentconfidentialobjectid",
        "PatientSafetyObject.ParentConfidentialObjectId",
        parent_required,
        errors,
    );
    Some(SafetyObject {
        off_id: off_id?,
        object: confidential?,
        parent,
    })
}

/// `offId`: the person's national identity number — eleven digits (the control digits are not
/// checked: the spec's own examples use 12345678901).
fn off_id(object: &Value, path: &str, field: &str, errors: &mut Errors) -> Option<String> {
    let id = string(object, "offid", path, field, true, errors)?;
    if id.len() != 11 || !id.bytes().all(|b| b.is_ascii_digit()) {
        push(
            errors,
            field,
            format!("OffId must be a national identity number of 11 digits, got '{id}'"),
        );
        return None;
    }
    Some(id)
}

/// `POST /access-restrictions/patient-safety`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upsert {
    /// The person and objects.
    pub object: SafetyObject,
    /// The confidentiality code.
    pub code: String,
    /// The delay fields.
    pub delay: Delay,
}

impl Upsert {
    /// Reads the body; every problem at once.
    pub fn read(body: &Value) -> Result<Self, Errors> {
        let mut errors = Errors::new();
        let object = safety_object(body, false, &mut errors);
        let code = string(
            body,
            "confidentialitycode",
            "$.confidentialityCode",
            "ConfidentialityCode",
            true,
            &mut errors,
        );
        if let Some(code) = &code
            && super::rules::code_kind(code).is_none()
        {
            push(
                &mut errors,
                "ConfidentialityCode",
                format!(
                    "'{code}' is not a valid ConfidentialityCode (Volven 9603): {}",
                    super::rules::CODES.join(", ")
                ),
            );
        }
        let delay = Delay {
            until: time(
                body,
                "delaydeliveryuntil",
                "$.delayDeliveryUntil",
                &mut errors,
            ),
            days: integer(body, "delaydays", "$.delayDays", &mut errors),
            from: time(body, "delayfromtime", "$.delayFromTime", &mut errors),
        };
        match (object, code) {
            (Some(object), Some(code)) if errors.is_empty() => Ok(Self {
                object,
                code,
                delay,
            }),
            _ => Err(errors),
        }
    }
}

/// `POST /access-restrictions/patient-safety/associate-parent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Associate {
    /// The person, the sibling and its parent (required).
    pub object: SafetyObject,
    /// The sibling's delay start.
    pub from: Option<DateTime<Utc>>,
}

impl Associate {
    /// Reads the body; every problem at once.
    pub fn read(body: &Value) -> Result<Self, Errors> {
        let mut errors = Errors::new();
        let from = time(body, "delayfromtime", "$.delayFromTime", &mut errors);
        let parent_given = get(body, "patientsafetyobject")
            .and_then(|o| get(o, "parentconfidentialobjectid"))
            .is_some();
        // With a delayFromTime, a missing parent gets the spec's own message.
        let with_from = get(body, "delayfromtime").is_some();
        let object = safety_object(body, !with_from, &mut errors);
        if with_from && !parent_given {
            push(
                &mut errors,
                "ParentConfidentialObjectId",
                "Parent Confidential Object must be specified when DelayFromTime is specified",
            );
        }
        match object {
            Some(object) if errors.is_empty() => Ok(Self { object, from }),
            _ => Err(errors),
        }
    }
}

/// `POST /access-restrictions/patient-safety/_search`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// The person (required).
    pub off_id: String,
    /// Only this object.
    pub object: Option<ObjectId>,
    /// Only siblings of this parent.
    pub parent: Option<ObjectId>,
    /// Leave out restrictions whose delay has passed.
    pub applicable_only: bool,
}

impl Search {
    /// Reads the body; every problem at once.
    pub fn read(body: &Value) -> Result<Self, Errors> {
        let mut errors = Errors::new();
        let off_id = off_id(body, "$.offId", "OffId", &mut errors);
        let object = object_id(
            body,
            "confidentialobjectid",
            "ConfidentialObjectId",
            false,
            &mut errors,
        );
        let parent = object_id(
            body,
            "parentconfidentialobjectid",
            "ParentConfidentialObjectId",
            false,
            &mut errors,
        );
        let applicable_only = boolean(body, "applicableonly", "$.applicableOnly", &mut errors);
        match off_id {
            Some(off_id) if errors.is_empty() => Ok(Self {
                off_id,
                object,
                parent,
                applicable_only,
            }),
            _ => Err(errors),
        }
    }
}
