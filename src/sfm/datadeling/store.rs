//! Datadeling's stored resources in a tenant: Conditions, Observations and Tasks. Inside, a
//! resource names its patient as `Patient/<id>` (the tenant's Patient); served, as the caller's
//! patient ticket.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{DataType, ticket_for, ticket_reference};
use crate::errors::FieldError;
use crate::sfm::caller::Caller;
use crate::sfm::fhir::validate;
use crate::sfm::model::{ResourceKind, Tenant, Versioned, stamp};

/// The element that names the patient in a type.
pub fn patient_field(type_name: &str) -> &'static str {
    match type_name {
        "Task" => "for",
        "AllergyIntolerance" => "patient",
        _ => "subject",
    }
}

/// The internal reference to a tenant Patient.
pub fn internal_reference(patient_id: &str) -> Value {
    json!({"reference": format!("Patient/{patient_id}")})
}

/// The tenant Patient a stored resource names, if any.
pub fn patient_id(resource: &Value, type_name: &str) -> Option<String> {
    resource
        .get(patient_field(type_name))?
        .get("reference")?
        .as_str()?
        .strip_prefix("Patient/")
        .map(str::to_owned)
}

/// Stores a new resource (version 1) and returns it as stored.
pub fn insert(
    tenant: &mut Tenant,
    type_name: &str,
    id: &str,
    mut resource: Value,
    now: DateTime<Utc>,
) -> Value {
    stamp(&mut resource, id, 1, now);
    tenant
        .datadeling
        .entry(type_name.to_owned())
        .or_default()
        .insert(id.to_owned(), Versioned::new(&resource));
    resource
}

/// The current versions of a type's resources.
pub fn all(tenant: &Tenant, type_name: &str) -> Vec<Value> {
    tenant
        .datadeling
        .get(type_name)
        .into_iter()
        .flat_map(|m| m.values())
        .map(Versioned::current)
        .collect()
}

/// A stored resource as the caller sees it: the patient by the caller's ticket.
pub fn render(
    tenant: &mut Tenant,
    caller: &Caller,
    mut resource: Value,
    now: DateTime<Utc>,
) -> Value {
    let type_name = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Some(patient_id) = patient_id(&resource, &type_name) {
        let ticket = ticket_for(tenant, caller, &patient_id, now);
        resource[patient_field(&type_name)] = ticket_reference(&ticket);
    }
    resource
}

/// `GET [type]/[id]` of a stored type.
pub fn read(
    tenant: &mut Tenant,
    caller: &Caller,
    data: DataType,
    id: &str,
    now: DateTime<Utc>,
) -> Option<Value> {
    let resource = tenant.datadeling.get(data.as_str())?.get(id)?.current();
    Some(render(tenant, caller, resource, now))
}

/// Loads a Condition, Observation or Task of `fixtures/sfm/tenants.json`: valid R4 with an id;
/// its patient, if any, a `Patient/<id>` of the tenant. Errors name the field after the record.
pub fn load_fixture(
    tenant: &mut Tenant,
    resource: Value,
    now: DateTime<Utc>,
) -> Result<(), FieldError> {
    let type_name = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    validate::check_type(&resource, &type_name).map_err(|p| FieldError::new("", p.join("; ")))?;
    let id = match resource.get("id").and_then(Value::as_str) {
        Some(id) if validate::is_fhir_id(id) => id.to_owned(),
        _ => {
            return Err(FieldError::new(
                ".id",
                "a fixture resource needs an id (1-64 of A-Z a-z 0-9 - .)",
            ));
        }
    };
    if tenant
        .datadeling
        .get(&type_name)
        .is_some_and(|m| m.contains_key(&id))
    {
        return Err(FieldError::new(
            ".id",
            format!("another {type_name} has the id '{id}'"),
        ));
    }
    let field = patient_field(&type_name);
    match (resource.get(field), patient_id(&resource, &type_name)) {
        (None, _) if type_name == "Task" => {}
        (None, _) => {
            return Err(FieldError::new(
                format!(".{field}"),
                format!(
                    "{} needs its patient",
                    super::clinical::with_article(&type_name, false)
                ),
            ));
        }
        (Some(_), Some(patient)) if tenant.get(ResourceKind::Patient, &patient).is_some() => {}
        (Some(_), _) => {
            return Err(FieldError::new(
                format!(".{field}"),
                "must reference a Patient of the tenant as {\"reference\": \"Patient/<id>\"} \
                 (served as the caller's patient ticket)",
            ));
        }
    }
    insert(tenant, &type_name, &id, resource, now);
    Ok(())
}
