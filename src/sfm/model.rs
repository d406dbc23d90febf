//! SFM's data: tenants (one SFM instance = one "database schema"), each holding its FHIR
//! resources (versioned) and its patient tickets.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::tickets::TicketBook;
use crate::errors::FieldError;

/// `Identifier.system` of an SFM-id (the tenant).
pub const SFM_ID_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.109";
/// `Identifier.system` of an organisation number (ENH).
pub const ENH_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.101";
/// `Identifier.system` of a HER-id.
pub const HER_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.2";
/// `Identifier.system` of a fødselsnummer.
pub const FNR_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.1";
/// `Identifier.system` of a D-nummer.
pub const DNR_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.2";
/// `Identifier.system` of an HPR number.
pub const HPR_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.4";
/// Where SFM's profiles live.
pub const PROFILE_BASE: &str = "http://ehelse.no/fhir/StructureDefinition/";

/// The FHIR resource types SFM's REST API serves here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ResourceKind {
    /// The tenant's organisation.
    Organization,
    /// A user of the SFM instance (superusers).
    Person,
    /// A health professional using the instance.
    Practitioner,
    /// The instance's patient register.
    Patient,
}

impl ResourceKind {
    /// Every kind, in CapabilityStatement order.
    pub const ALL: [ResourceKind; 4] = [
        ResourceKind::Organization,
        ResourceKind::Person,
        ResourceKind::Practitioner,
        ResourceKind::Patient,
    ];

    /// Parses a resource type name (case-sensitive, as FHIR is).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The FHIR resource type.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Organization => "Organization",
            ResourceKind::Person => "Person",
            ResourceKind::Practitioner => "Practitioner",
            ResourceKind::Patient => "Patient",
        }
    }

    /// SFM's profile for this type (`sfm-Organization`, ...).
    pub fn profile(self) -> String {
        format!("{PROFILE_BASE}sfm-{}", self.as_str())
    }
}

/// A resource with its server-kept versions. Every stored JSON carries `id` and
/// `meta.versionId`/`meta.lastUpdated`.
///
/// Versions are kept as compact JSON text and parsed when read: a small Patient is some 300
/// bytes of text and 4 KB as a JSON tree, which is the difference between 30 and 400 MB at
/// 100,000 patients; parsing one costs a few microseconds.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Versioned {
    /// All versions, oldest first; the last is current.
    versions: Vec<Box<RawValue>>,
}

/// Read from a state document, a version not written as helsesim writes it (whitespace between
/// tokens, `\u` or `\/` escapes: a pretty or hand-edited document) is written again: a read
/// answers the stored text as it is.
impl<'de> Deserialize<'de> for Versioned {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let versions = Vec::<Box<RawValue>>::deserialize(deserializer)?;
        Ok(Self {
            versions: versions
                .into_iter()
                .map(|raw| {
                    if is_compact(raw.get()) {
                        raw
                    } else {
                        write_version(&read_version(&raw))
                    }
                })
                .collect(),
        })
    }
}

/// Whether JSON text has no whitespace between tokens and no `\u` or `\/` escape (serde_json
/// writes neither): a quick pass instead of parsing every version of a state document again.
fn is_compact(text: &str) -> bool {
    let mut in_string = false;
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match (in_string, b) {
            (false, b' ' | b'\n' | b'\r' | b'\t') => return false,
            (_, b'"') => in_string = !in_string,
            (true, b'\\') => {
                if matches!(bytes.next(), Some(b'u' | b'/')) {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

impl PartialEq for Versioned {
    fn eq(&self, other: &Self) -> bool {
        self.versions.len() == other.versions.len()
            && self
                .versions
                .iter()
                .zip(&other.versions)
                .all(|(a, b)| a.get() == b.get())
    }
}

/// A stored version read back (it was written from a JSON value, so it always parses).
fn read_version(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

/// A version as stored.
fn write_version(resource: &Value) -> Box<RawValue> {
    // A `Value` always serializes; `null` is only a fallback for the type's sake.
    serde_json::value::to_raw_value(resource).unwrap_or_default()
}

impl Versioned {
    /// A resource's first version.
    pub fn new(resource: &Value) -> Self {
        Self {
            versions: vec![write_version(resource)],
        }
    }

    /// The current version.
    pub fn current(&self) -> Value {
        // Never empty: created with one version, only appended to.
        self.versions
            .last()
            .map_or(Value::Null, |raw| read_version(raw))
    }

    /// The current version as stored: compact JSON text.
    pub fn current_text(&self) -> &str {
        self.versions.last().map_or("null", |raw| raw.get())
    }

    /// The current version number.
    pub fn version(&self) -> usize {
        self.versions.len()
    }

    /// A given version (1-based).
    pub fn version_at(&self, version: usize) -> Option<Value> {
        version
            .checked_sub(1)
            .and_then(|i| self.versions.get(i))
            .map(|raw| read_version(raw))
    }

    /// A given version (1-based) as stored: compact JSON text.
    pub fn version_text_at(&self, version: usize) -> Option<&str> {
        version
            .checked_sub(1)
            .and_then(|i| self.versions.get(i))
            .map(|raw| raw.get())
    }

    /// Every version, oldest first.
    pub fn versions(&self) -> impl Iterator<Item = Value> + '_ {
        self.versions.iter().map(|raw| read_version(raw))
    }

    /// Adds a new current version.
    pub fn push(&mut self, resource: &Value) {
        self.versions.push(write_version(resource));
    }
}

/// `meta.lastUpdated` as SFM writes it.
pub fn fhir_instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, false)
}

/// Stamps `id`, `meta.versionId` and `meta.lastUpdated` on a resource (keeping `meta.profile`).
pub fn stamp(resource: &mut Value, id: &str, version: usize, now: DateTime<Utc>) {
    let Some(object) = resource.as_object_mut() else {
        return;
    };
    object.insert("id".to_owned(), json!(id));
    let meta = object.entry("meta").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    if let Some(meta) = meta.as_object_mut() {
        meta.insert("versionId".to_owned(), json!(version.to_string()));
        meta.insert("lastUpdated".to_owned(), json!(fhir_instant(now)));
    }
    // `resourceType` and `id` first, as FHIR servers write them.
    let mut ordered = serde_json::Map::new();
    for key in ["resourceType", "id", "meta"] {
        if let Some(value) = object.remove(key) {
            ordered.insert(key.to_owned(), value);
        }
    }
    ordered.append(object);
    *object = ordered;
}

/// One SFM instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// The SFM-id / journal-id.
    pub id: String,
    /// When the Organization was set `active=true` (SFM then reports it to e-resept).
    pub activated: Option<DateTime<Utc>>,
    /// Resources by kind and id.
    pub resources: super::resources::Resources,
    /// Patient tickets.
    pub tickets: TicketBook,
    /// The organisation is a multidose (MD) doctor's: `$sendMedication` needs a new
    /// `$getMedication` between sends.
    pub multidose_doctor: bool,
    /// Whether SFM may look patients up in Kjernejournal for this organisation.
    pub kjernejournal_access: bool,
    /// The latest `$getMedication` per user and patient.
    pub lookups: crate::sfm::medication::lookup::LookupBook,
    /// Datadeling's stored resources (Condition, Observation, Task) by type and id. Inside, the
    /// patient is `Patient/<id>`; outside, the caller's patient ticket.
    pub datadeling: BTreeMap<String, BTreeMap<String, Versioned>>,
}

impl Default for Tenant {
    fn default() -> Self {
        Self {
            id: String::new(),
            activated: None,
            resources: Default::default(),
            tickets: TicketBook::default(),
            multidose_doctor: false,
            kjernejournal_access: true,
            lookups: Default::default(),
            datadeling: BTreeMap::new(),
        }
    }
}

impl Tenant {
    /// The resources of one kind.
    pub fn of_kind(&self, kind: ResourceKind) -> impl Iterator<Item = (&String, &Versioned)> {
        self.resources.of_kind(kind)
    }

    /// One resource.
    pub fn get(&self, kind: ResourceKind, id: &str) -> Option<&Versioned> {
        self.resources.get(kind, id)
    }

    /// Stores a new resource (version 1).
    pub fn insert_new(
        &mut self,
        kind: ResourceKind,
        id: &str,
        mut resource: Value,
        now: DateTime<Utc>,
    ) -> Value {
        stamp(&mut resource, id, 1, now);
        self.resources.insert(kind, id, &resource);
        resource
    }

    /// The tenant's Organization (exactly one per tenant).
    pub fn organization(&self) -> Option<(&String, &Versioned)> {
        self.of_kind(ResourceKind::Organization).next()
    }

    /// Whether `pid` is a user of the instance: a Person or Practitioner with that fødselsnummer
    /// or D-nummer.
    pub fn has_user(&self, pid: &str) -> bool {
        [ResourceKind::Person, ResourceKind::Practitioner]
            .into_iter()
            .any(|kind| {
                self.with_identifier(kind, &[FNR_SYSTEM, DNR_SYSTEM], pid)
                    .is_some()
            })
    }

    /// Whether a pid is a superuser of the instance: a Person (the bootstrap makes the first).
    pub fn is_superuser(&self, pid: &str) -> bool {
        self.with_identifier(ResourceKind::Person, &[FNR_SYSTEM, DNR_SYSTEM], pid)
            .is_some()
    }

    /// The first resource of `kind` (in id order) with the identifier `value` in one of
    /// `systems` (any other system when `systems` is empty).
    pub fn with_identifier(
        &self,
        kind: ResourceKind,
        systems: &[&str],
        value: &str,
    ) -> Option<&String> {
        self.resources
            .with_identifier_value(kind, value)
            .into_iter()
            .find(|id| {
                self.get(kind, id).is_some_and(|r| {
                    identifiers(&r.current()).any(|(system, v)| {
                        v == value
                            && if systems.is_empty() {
                                system != FNR_SYSTEM && system != DNR_SYSTEM
                            } else {
                                systems.contains(&system)
                            }
                    })
                })
            })
    }

    /// The patient a pid names, looked up by fødselsnummer, then D-nummer, then any other
    /// identifier (the EHR's XXX-id), as SFM's session service does.
    pub fn find_patient(&self, pid: &str) -> Option<&String> {
        let by = |systems: &[&str]| self.with_identifier(ResourceKind::Patient, systems, pid);
        by(&[FNR_SYSTEM])
            .or_else(|| by(&[DNR_SYSTEM]))
            .or_else(|| by(&[]))
    }
}

/// `(system, value)` of each of a resource's identifiers.
pub fn identifiers(resource: &Value) -> impl Iterator<Item = (&str, &str)> {
    resource
        .get("identifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| {
            Some((
                i.get("system").and_then(Value::as_str).unwrap_or_default(),
                i.get("value").and_then(Value::as_str)?,
            ))
        })
}

/// Whether a resource has an identifier with one of `systems` and `value`.
pub fn has_identifier(resource: &Value, systems: &[&str], value: &str) -> bool {
    identifiers(resource).any(|(s, v)| v == value && systems.contains(&s))
}

/// The value of a resource's identifier with `system`.
pub fn identifier_value<'a>(resource: &'a Value, system: &str) -> Option<&'a str> {
    identifiers(resource)
        .find(|(s, _)| *s == system)
        .map(|(_, v)| v)
}

/// A system supplier registered with SFM (`fixtures/sfm/suppliers.json`): SFM accepts
/// multi-tenant clients only from registered suppliers ("orgnr_supplier ... MUST correspond to
/// a preregistered supplier in SFM", utviklerportal.nhn.no, HelseID for SFM).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supplier {
    /// The supplier's organisation number (the token's `orgnr_supplier`).
    pub orgnr: String,
    /// Its name, for messages.
    #[serde(default)]
    pub name: String,
}

/// SFM's whole state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SfmStore {
    /// The registered suppliers; `None` (no suppliers file): every supplier is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppliers: Option<Vec<Supplier>>,
    /// Tenants by SFM-id / journal-id.
    #[serde(serialize_with = "crate::store::sorted::map")]
    pub tenants: HashMap<String, Tenant>,
    /// SFM's GUI: its sessions, codes and logged-in portals.
    #[serde(default)]
    pub gui: super::gui::model::GuiStore,
}

/// One tenant as written in `fixtures/sfm/tenants.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantEntry {
    /// The SFM-id (single-tenant clients) or journal-id (multi-tenant clients).
    pub sfm_id: String,
    /// What the tenant is for (not served).
    #[serde(default)]
    pub description: Option<String>,
    /// Its FHIR resources (Organization, Person, Practitioner, Patient) with their ids, as
    /// text: each is read into a JSON tree only to be checked (100,000 at once as trees would
    /// be some 400 MB).
    pub resources: Vec<Box<RawValue>>,
    /// The organisation is a multidose doctor's (default false).
    #[serde(default)]
    pub multidose_doctor: bool,
    /// SFM may look its patients up in Kjernejournal (default true).
    #[serde(default = "yes")]
    pub kjernejournal_access: bool,
}

fn yes() -> bool {
    true
}

/// One fixture resource read, checked and stamped on a worker thread (its JSON tree made and
/// dropped there): what storing it in order needs.
enum Prepared {
    /// A resource SFM's FHIR API stores.
    Stored {
        field: String,
        kind: ResourceKind,
        id: String,
        versioned: Versioned,
        identifiers: Vec<String>,
        /// For an Organization: its SFM-id identifier is the tenant's, and it is active.
        organization: Option<(bool, bool)>,
    },
    /// A Datadeling type, checked when stored.
    Shared { field: String, resource: Value },
}

fn prepare(
    index: usize,
    raw: &RawValue,
    sfm_id: &str,
    now: DateTime<Utc>,
) -> Result<Prepared, FieldError> {
    let field = format!("resources[{index}]");
    let mut resource: Value = serde_json::from_str(raw.get())
        .map_err(|e| FieldError::new(field.clone(), e.to_string()))?;
    let type_name = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if crate::sfm::datadeling::STORED_TYPES.contains(&type_name) {
        return Ok(Prepared::Shared { field, resource });
    }
    let kind = super::fhir::validate::resource_kind(&resource)
        .map_err(|e| FieldError::new(field.clone(), e))?;
    super::fhir::validate::check(&resource, kind)
        .map_err(|issues| FieldError::new(field.clone(), issues.join("; ")))?;
    let id = resource
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| FieldError::new(format!("{field}.id"), "a fixture resource needs an id"))?
        .to_owned();
    let organization = (kind == ResourceKind::Organization).then(|| {
        (
            identifier_value(&resource, SFM_ID_SYSTEM) == Some(sfm_id),
            resource.get("active").and_then(Value::as_bool) == Some(true),
        )
    });
    stamp(&mut resource, &id, 1, now);
    Ok(Prepared::Stored {
        identifiers: super::resources::identifier_values(&resource),
        versioned: Versioned::new(&resource),
        field,
        kind,
        id,
        organization,
    })
}

/// Validates a fixture tenant: a GUID id, valid R4 resources with unique ids, exactly one
/// Organization whose SFM-id identifier is the tenant's.
pub fn build_tenant(entry: TenantEntry, now: DateTime<Utc>) -> Result<Tenant, FieldError> {
    uuid::Uuid::parse_str(&entry.sfm_id)
        .map_err(|_| FieldError::new("sfm_id", format!("'{}' is not a GUID", entry.sfm_id)))?;
    let mut tenant = Tenant {
        id: entry.sfm_id.clone(),
        multidose_doctor: entry.multidose_doctor,
        kjernejournal_access: entry.kjernejournal_access,
        ..Tenant::default()
    };
    let mut shared = Vec::new();
    // Read, checked and written as text on every core (100,000 Patients), then stored in
    // order: the first problem in the file is the one reported.
    let indexed: Vec<(usize, &RawValue)> = entry
        .resources
        .iter()
        .map(AsRef::as_ref)
        .enumerate()
        .collect();
    let prepared = crate::store::parallel::map_on_every_core(&indexed, |(i, raw)| {
        prepare(*i, raw, &entry.sfm_id, now)
    });
    for prepared in prepared {
        let (field, kind, id, versioned, identifiers, organization) = match prepared? {
            Prepared::Shared { field, resource } => {
                shared.push((field, resource));
                continue;
            }
            Prepared::Stored {
                field,
                kind,
                id,
                versioned,
                identifiers,
                organization,
            } => (field, kind, id, versioned, identifiers, organization),
        };
        if tenant.get(kind, &id).is_some() {
            return Err(FieldError::new(
                format!("{field}.id"),
                format!("another {} has the id '{id}'", kind.as_str()),
            ));
        }
        if let Some((sfm_id_matches, active)) = organization {
            if tenant.organization().is_some() {
                return Err(FieldError::new(
                    field,
                    "a tenant has exactly one Organization",
                ));
            }
            if !sfm_id_matches {
                return Err(FieldError::new(
                    format!("{field}.identifier"),
                    format!(
                        "the Organization's SFM-id identifier ({SFM_ID_SYSTEM}) must be the \
                         tenant's sfm_id"
                    ),
                ));
            }
            if active {
                tenant.activated = Some(now);
            }
        }
        tenant
            .resources
            .insert_stored(kind, &id, versioned, identifiers);
    }
    if tenant.organization().is_none() {
        return Err(FieldError::new(
            "resources",
            "a tenant needs its Organization",
        ));
    }
    for (field, resource) in shared {
        crate::sfm::datadeling::store::load_fixture(&mut tenant, resource, now)
            .map_err(|e| FieldError::new(format!("{field}{}", e.field), e.message))?;
    }
    Ok(tenant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_from_a_document_are_stored_as_helsesim_writes_them() {
        let compact = r#"{"resourceType":"Patient","name":[{"text":"a \"b\" c\\"}]}"#;
        let document = format!(
            r#"[{compact}, {{ "resourceType": "Patient" }}, {{"a":"D\u00e5nser"}}, {{"u":"a\/b"}}]"#
        );
        let read: Versioned = serde_json::from_str(&document).unwrap();
        let texts: Vec<&str> = read.versions.iter().map(|raw| raw.get()).collect();
        assert_eq!(
            texts,
            [
                compact,
                r#"{"resourceType":"Patient"}"#,
                r#"{"a":"Dånser"}"#,
                r#"{"u":"a/b"}"#
            ]
        );
        assert!(
            is_compact(compact),
            "escaped quotes and backslashes keep strings apart"
        );
        assert!(!is_compact(r#"{"a":1, "b":2}"#));
        assert!(
            is_compact(r#"{"a":"x y"}"#),
            "a space inside a string is content"
        );
    }

    #[test]
    fn stamp_orders_and_keeps_profiles() {
        let mut resource =
            json!({"name": "x", "meta": {"profile": ["p"]}, "resourceType": "Organization"});
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        stamp(&mut resource, "abc", 2, now);
        let keys: Vec<&String> = resource.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["resourceType", "id", "meta", "name"]);
        assert_eq!(
            resource["meta"],
            json!({
                "profile": ["p"],
                "versionId": "2",
                "lastUpdated": "2027-01-15T08:00:00.000+00:00"
            })
        );
    }

    #[test]
    fn patients_are_found_by_fnr_then_dnr_then_other_ids() {
        let mut tenant = Tenant::default();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let patient = |system: &str, value: &str| {
            json!({
                "resourceType": "Patient",
                "identifier": [{"system": system, "value": value}]
            })
        };
        tenant.insert_new(
            ResourceKind::Patient,
            "local",
            patient("urn:oid:1.2.3", "12050050295"),
            now,
        );
        tenant.insert_new(
            ResourceKind::Patient,
            "dnr",
            patient(DNR_SYSTEM, "12050050295"),
            now,
        );
        assert_eq!(
            tenant.find_patient("12050050295").map(String::as_str),
            Some("dnr")
        );
        tenant.insert_new(
            ResourceKind::Patient,
            "fnr",
            patient(FNR_SYSTEM, "12050050295"),
            now,
        );
        assert_eq!(
            tenant.find_patient("12050050295").map(String::as_str),
            Some("fnr")
        );
        assert_eq!(tenant.find_patient("99"), None);
    }
}
