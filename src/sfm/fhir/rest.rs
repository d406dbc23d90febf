//! The FHIR REST interactions over one tenant: create, read, vread, update, search. Plain
//! functions of the tenant, the request's resource and `now`; the handlers only translate HTTP.

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::search::Search;
use super::validate;
use crate::errors::fhir::{FhirError, Issue};
use crate::sfm::model::{
    DNR_SYSTEM, FNR_SYSTEM, ResourceKind, SFM_ID_SYSTEM, Tenant, fhir_instant, identifier_value,
    identifiers,
};

/// A stored resource as an interaction returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The resource JSON.
    pub resource: Value,
    /// Its logical id.
    pub id: String,
    /// Its version.
    pub version: usize,
}

fn not_found(kind: ResourceKind, id: &str) -> FhirError {
    FhirError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        format!("Resource {}/{id} is not known", kind.as_str()),
    )
}

fn invalid(problems: Vec<String>) -> FhirError {
    FhirError::with_issues(
        StatusCode::BAD_REQUEST,
        problems
            .into_iter()
            .map(|p| Issue::error("structure", p))
            .collect(),
    )
}

/// A stored resource as its compact JSON text: what a read answers, without parsing it.
#[derive(Debug)]
pub struct StoredText {
    /// The resource's JSON text.
    pub text: String,
    /// Its logical id.
    pub id: String,
    /// Its version.
    pub version: usize,
}

/// `GET [type]/[id]`.
pub fn read(tenant: &Tenant, kind: ResourceKind, id: &str) -> Result<StoredText, FhirError> {
    let versioned = tenant.get(kind, id).ok_or_else(|| not_found(kind, id))?;
    Ok(StoredText {
        text: versioned.current_text().to_owned(),
        id: id.to_owned(),
        version: versioned.version(),
    })
}

/// `GET [type]/[id]/_history/[vid]`.
pub fn vread(
    tenant: &Tenant,
    kind: ResourceKind,
    id: &str,
    vid: &str,
) -> Result<StoredText, FhirError> {
    let versioned = tenant.get(kind, id).ok_or_else(|| not_found(kind, id))?;
    let version: usize = vid.parse().map_err(|_| {
        FhirError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("Version '{vid}' of {}/{id} is not known", kind.as_str()),
        )
    })?;
    let text = versioned.version_text_at(version).ok_or_else(|| {
        FhirError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("Version {version} of {}/{id} is not known", kind.as_str()),
        )
    })?;
    Ok(StoredText {
        text: text.to_owned(),
        id: id.to_owned(),
        version,
    })
}

/// `POST [type]`: a new resource with a server-assigned id (an id in the body is ignored, as
/// FHIR says). The Organization is made by the tenant bootstrap; users (Person: superusers,
/// Practitioner) only by a superuser: "the superuser may now … create other superusers, and
/// Practitioners" (sfm-create-organization).
pub fn create(
    tenant: &mut Tenant,
    kind: ResourceKind,
    resource: Value,
    caller_pid: &str,
    now: DateTime<Utc>,
) -> Result<Stored, FhirError> {
    match kind {
        ResourceKind::Patient => {}
        ResourceKind::Practitioner | ResourceKind::Person if !tenant.is_superuser(caller_pid) => {
            return Err(FhirError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "Only a superuser (a Person of this SFM instance) may create {}: the user \
                     {caller_pid} is not one",
                    kind.as_str()
                ),
            ));
        }
        ResourceKind::Practitioner | ResourceKind::Person => {}
        ResourceKind::Organization => {
            let existing = tenant
                .organization()
                .map(|(id, _)| id.clone())
                .unwrap_or_default();
            return Err(FhirError::new(
                StatusCode::CONFLICT,
                "duplicate",
                format!(
                    "This SFM instance already exists (Organization/{existing}): update it with PUT"
                ),
            ));
        }
    }
    validate::check(&resource, kind).map_err(invalid)?;
    refuse_duplicate_pid(tenant, kind, &resource, None)?;
    let id = uuid::Uuid::new_v4().to_string();
    let mut resource = resource;
    if let Some(object) = resource.as_object_mut() {
        object.remove("id");
    }
    let stored = tenant.insert_new(kind, &id, resource, now).clone();
    Ok(Stored {
        resource: stored,
        id,
        version: 1,
    })
}

/// `PUT [type]/[id]`: a new version of an existing resource. `if_match` is the version an
/// `If-Match` header names.
pub fn update(
    tenant: &mut Tenant,
    kind: ResourceKind,
    id: &str,
    resource: Value,
    if_match: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Stored, FhirError> {
    validate::check(&resource, kind).map_err(invalid)?;
    check_body_id(&resource, id)?;
    let current_version = tenant
        .get(kind, id)
        .map(crate::sfm::model::Versioned::version)
        .ok_or_else(|| {
            FhirError::new(
                StatusCode::NOT_FOUND,
                "not-found",
                format!(
                    "Resource {}/{id} is not known (this server does not create resources with \
                     PUT)",
                    kind.as_str()
                ),
            )
        })?;
    check_if_match(if_match, kind, id, current_version)?;
    refuse_duplicate_pid(tenant, kind, &resource, Some(id))?;
    if kind == ResourceKind::Organization {
        update_organization(tenant, &resource, now)?;
    }
    let version = current_version + 1;
    let mut resource = resource;
    crate::sfm::model::stamp(&mut resource, id, version, now);
    tenant
        .resources
        .push_version(kind, id, resource.clone())
        .ok_or_else(|| not_found(kind, id))?;
    Ok(Stored {
        resource,
        id: id.to_owned(),
        version,
    })
}

/// An update's body names the resource of the URL (`id`).
fn check_body_id(resource: &Value, id: &str) -> Result<(), FhirError> {
    match resource.get("id").and_then(Value::as_str) {
        Some(body_id) if body_id == id => Ok(()),
        Some(body_id) => Err(FhirError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("The resource's id '{body_id}' does not match the id in the URL ('{id}')"),
        )),
        None => Err(FhirError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("An update needs the resource's id in the body ('{id}', as in the URL)"),
        )),
    }
}

/// `If-Match` (`W/"3"`, `"3"`, `3` or `*`), when given, names the current version.
fn check_if_match(
    if_match: Option<&str>,
    kind: ResourceKind,
    id: &str,
    current_version: usize,
) -> Result<(), FhirError> {
    if let Some(expected) = if_match.map(str::trim).filter(|e| *e != "*") {
        let expected = expected.trim_start_matches("W/").trim_matches('"');
        if expected != current_version.to_string() {
            return Err(FhirError::new(
                StatusCode::PRECONDITION_FAILED,
                "conflict",
                format!(
                    "If-Match names version {expected}, but {}/{id} is at version \
                     {current_version}",
                    kind.as_str()
                ),
            ));
        }
    }
    Ok(())
}

/// An update of the instance's Organization keeps its SFM-id; setting `active` activates the
/// instance (SFM reports it to e-resept), clearing it deactivates it.
fn update_organization(
    tenant: &mut Tenant,
    resource: &Value,
    now: DateTime<Utc>,
) -> Result<(), FhirError> {
    if identifier_value(resource, SFM_ID_SYSTEM) != Some(tenant.id.as_str()) {
        return Err(FhirError::new(
            StatusCode::BAD_REQUEST,
            "business-rule",
            format!(
                "The Organization's SFM-id identifier ({SFM_ID_SYSTEM}) must stay {}",
                tenant.id
            ),
        ));
    }
    let active = resource.get("active").and_then(Value::as_bool) == Some(true);
    match (active, tenant.activated) {
        (true, None) => {
            tenant.activated = Some(now);
            log::info!(
                target: "helsesim::sfm",
                "SFM instance {} activated: reported to e-resept by its HER-id",
                tenant.id
            );
        }
        (false, Some(_)) => tenant.activated = None,
        _ => {}
    }
    Ok(())
}

/// One person, one Patient (or Practitioner, or Person) per tenant: a fødselsnummer or D-nummer
/// that another resource of the type already has is a conflict.
fn refuse_duplicate_pid(
    tenant: &Tenant,
    kind: ResourceKind,
    resource: &Value,
    own_id: Option<&str>,
) -> Result<(), FhirError> {
    if !matches!(
        kind,
        ResourceKind::Patient | ResourceKind::Practitioner | ResourceKind::Person
    ) {
        return Ok(());
    }
    for (system, value) in identifiers(resource) {
        if system != FNR_SYSTEM && system != DNR_SYSTEM {
            continue;
        }
        let others = tenant.resources.with_identifier_value(kind, value);
        if let Some(other) = others.into_iter().find(|other_id| {
            Some(other_id.as_str()) != own_id
                && tenant.get(kind, other_id).is_some_and(|r| {
                    identifiers(&r.current()).any(|(s, v)| s == system && v == value)
                })
        }) {
            return Err(FhirError::new(
                StatusCode::CONFLICT,
                "duplicate",
                format!(
                    "{} {other} already has the identifier {system}|{value}",
                    kind.as_str()
                ),
            ));
        }
    }
    Ok(())
}

/// The resources a search can match: those with one of the identifier values it asks for (an
/// index lookup), else every resource of the kind.
fn candidates<'a>(
    tenant: &'a Tenant,
    kind: ResourceKind,
    search: &Search,
) -> Vec<(&'a String, &'a crate::sfm::model::Versioned)> {
    let Some(values) = search.identifier_values() else {
        return tenant.of_kind(kind).collect();
    };
    let mut ids: Vec<&String> = values
        .iter()
        .flat_map(|v| tenant.resources.with_identifier_value(kind, v))
        .collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .filter_map(|id| tenant.get(kind, id).map(|r| (id, r)))
        .collect()
}

/// `GET [type]?...`: a `searchset` Bundle; `fhir_base` builds `fullUrl`s and links.
pub fn search(
    tenant: &Tenant,
    kind: ResourceKind,
    search: &Search,
    fhir_base: &str,
    now: DateTime<Utc>,
) -> Value {
    let candidates = candidates(tenant, kind, search);
    let matches: Vec<(&String, Value)> = candidates
        .into_iter()
        .map(|(id, r)| (id, r.current()))
        .filter(|(_, r)| search.matches(r))
        .collect();
    let total = matches.len();
    let link = |offset: usize| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &search.echo {
            query.append_pair(name, value);
        }
        query.append_pair("_count", &search.count.to_string());
        if search.count_only {
            query.append_pair("_summary", "count");
        }
        if offset > 0 {
            query.append_pair("_offset", &offset.to_string());
        }
        query.append_pair("_format", "json");
        format!("{fhir_base}/{}?{}", kind.as_str(), query.finish())
    };
    let mut links = vec![json!({"relation": "self", "url": link(search.offset)})];
    let paging = !search.count_only && search.count > 0;
    // Checked: an _offset near usize::MAX must not wrap round to the first page.
    if paging
        && let Some(next) = search
            .offset
            .checked_add(search.count)
            .filter(|next| *next < total)
    {
        links.push(json!({"relation": "next", "url": link(next)}));
    }
    if paging && search.offset > 0 {
        links.push(json!({
            "relation": "previous",
            "url": link(search.offset.saturating_sub(search.count))
        }));
    }
    let mut bundle = json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": {"lastUpdated": fhir_instant(now)},
        "type": "searchset",
        "total": total,
        "link": links,
    });
    // The spec's one printed answer, `GET ./Person` in sfm-create-organization, marks its
    // entry `include`; other searches keep FHIR's `match` (no example says otherwise).
    let mode = if kind == ResourceKind::Person {
        "include"
    } else {
        "match"
    };
    if !search.count_only {
        let entries: Vec<Value> = matches
            .into_iter()
            .skip(search.offset)
            .take(search.count)
            .map(|(id, resource)| {
                json!({
                    "fullUrl": format!("{fhir_base}/{}/{id}", kind.as_str()),
                    "resource": resource,
                    "search": {"mode": mode},
                })
            })
            .collect();
        if !entries.is_empty() {
            bundle["entry"] = Value::Array(entries);
        }
    }
    bundle
}
