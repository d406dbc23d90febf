//! The state document: the whole in-memory state of every service as one versioned JSON
//! document — exported by `GET /_admin/state`, imported by `PUT /_admin/state`, and kept in
//! `HELSESIM_STATE_FILE` across restarts.
//!
//! An import is validated completely (types, then every rule a fixture obeys, then the document's
//! own invariants) before anything is replaced; then every part is replaced at once.
//! Not part of it: the API resources (configuration, from the fixtures), keys and certificates,
//! fault rules, the request journal, and the short-lived replay caches (client assertion and
//! DPoP `jti`s, DPoP nonces).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Parts;
use crate::errors::FieldError;
use crate::helseid::HelseIdStore;
use crate::helseid::flow::FlowState;
use crate::helseid::model::{ApiResources, Client, ClientEntry, User, UserEntry};
use crate::kjernejournal::model::Organisation;
use crate::kjernejournal::ticket::KEY_LEN;
use crate::national::NationalStore;
use crate::pts::model::PtsStore;
use crate::sfm::model::{SfmStore, Versioned};

/// `format` of every state document.
pub const FORMAT: &str = "helsesim-state";
/// The version this helsesim writes and reads.
pub const VERSION: u32 = 1;

/// The state document.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateDocument {
    /// Always `helsesim-state`.
    pub format: String,
    /// The format's version (1).
    #[schema(minimum = 1, maximum = 1)]
    pub version: u32,
    /// When it was written (helsesim's clock; informative, ignored on import).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub exported_at: Option<DateTime<Utc>>,
    /// The clock's offset; absent on import: the clock is not moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockState>,
    /// HelseID: clients, test users, logins in progress, sessions, refresh tokens.
    #[schema(value_type = Object)]
    pub helseid: HelseIdState,
    /// SFM: tenants with their FHIR resources, tickets and lookups; portal codes and sessions.
    #[schema(value_type = Object)]
    pub sfm: SfmStore,
    /// The national systems: prescriptions, PLL, allergies, kjernejournal records, messages.
    #[schema(value_type = Object)]
    pub national: NationalStore,
    /// Kjernejournal: organisations and the ticket key.
    #[schema(value_type = Object)]
    pub kjernejournal: KjState,
    /// PTS: the access restrictions.
    #[schema(value_type = Object)]
    pub pts: PtsStore,
    /// The integration advisor's findings; absent (documents before it): none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<AdviceState>,
}

/// The integration advisor in a state document.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdviceState {
    /// The findings, as `GET /_admin/advice` lists them.
    pub findings: Vec<crate::advice::Finding>,
}

/// The clock in a state document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockState {
    /// How far the clock is moved from its base (the system time), in milliseconds.
    pub offset_ms: i64,
}

/// HelseID in a state document.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelseIdState {
    /// The clients, as in `clients.json`.
    pub clients: Vec<ClientEntry>,
    /// The test users, as in `users.json`, in login-page order.
    pub users: Vec<UserEntry>,
    /// Logins in progress, codes, sessions, refresh-token families, revocations.
    pub logins: FlowState,
}

/// Kjernejournal in a state document.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KjState {
    /// Known organisations by organisation number.
    pub organisations: BTreeMap<String, Organisation>,
    /// The key tickets are sealed with (base64url); absent on import: tickets issued before
    /// stay valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_key: Option<String>,
}

/// A validated state document, ready to replace the store.
#[derive(Debug)]
pub struct Validated {
    /// The services' state.
    pub parts: Parts,
    /// The clock offset to set, if the document has one.
    pub clock_offset: Option<TimeDelta>,
    /// The ticket key to use, if the document has one.
    pub ticket_key: Option<[u8; KEY_LEN]>,
    /// The advisor's findings.
    pub advice: Vec<crate::advice::Finding>,
}

/// Why a state document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{}",
    if field.is_empty() { message.clone() } else { format!("field `{field}`: {message}") }
)]
pub struct StateError {
    /// Where (`sfm.tenants.<id>.tickets[0].expires`), empty for the document itself.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl StateError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<FieldError> for StateError {
    fn from(e: FieldError) -> Self {
        Self::new(e.field, e.message)
    }
}

/// Reads a state document (JSON text) and validates it against the running helsesim's API
/// resources.
pub fn parse(json: &[u8], resources: &ApiResources) -> Result<Validated, StateError> {
    // Read straight into the document's types (no JSON tree: 100,000 patients are some 150 MB
    // of text). A quick pass first: the syntax, format and version.
    let not_json = |e: serde_json::Error| StateError::new("", format!("not valid JSON: {e}"));
    if json.trim_ascii_start().first() != Some(&b'{') {
        serde_json::from_slice::<serde::de::IgnoredAny>(json).map_err(not_json)?;
        return Err(StateError::new(
            "",
            "a state document is a JSON object (GET /_admin/state writes one)",
        ));
    }
    let Head { format, version } = serde_json::from_slice(json).map_err(not_json)?;
    // Format and version first: a document of another version fails on them, not on a field.
    match format.as_ref().and_then(Value::as_str) {
        Some(FORMAT) => {}
        _ => {
            return Err(StateError::new(
                "format",
                format!("must be \"{FORMAT}\" (is this a state document from GET /_admin/state?)"),
            ));
        }
    }
    match version.as_ref().and_then(Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => {}
        other => {
            return Err(StateError::new(
                "version",
                format!(
                    "this helsesim reads version {VERSION}, the document has {}",
                    other.map_or_else(|| "none".to_owned(), |v| v.to_string())
                ),
            ));
        }
    }
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let document: StateDocument =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let e = FieldError::from(e);
            StateError::new(e.field, e.message)
        })?;
    validate(document, resources)
}

/// What a quick pass reads of a document: its format and version (everything else skipped).
#[derive(Deserialize)]
struct Head {
    format: Option<Value>,
    version: Option<Value>,
}

/// Checks a document that has the right types against every rule, part by part in a fixed
/// order (the first problem is reported), and turns it into the services' state.
fn validate(document: StateDocument, resources: &ApiResources) -> Result<Validated, StateError> {
    let StateDocument {
        clock,
        helseid,
        sfm,
        national,
        kjernejournal,
        pts,
        advice,
        ..
    } = document;
    let clients = validate_clients(helseid.clients, resources)?;
    let users = validate_users(helseid.users)?;
    for (id, tenant) in &sfm.tenants {
        validate_tenant(id, tenant)?;
    }
    validate_national(&national)?;
    validate_organisations(&kjernejournal.organisations)?;
    validate_restrictions(&pts)?;
    let ticket_key = kjernejournal
        .ticket_key
        .as_deref()
        .map(decode_ticket_key)
        .transpose()?;
    let clock_offset = clock.map(clock_offset).transpose()?;
    Ok(Validated {
        parts: Parts {
            helseid: HelseIdStore {
                resources: Arc::new(resources.clone()),
                clients,
                users,
            },
            helseid_flows: helseid.logins,
            sfm,
            national,
            kjernejournal: crate::kjernejournal::model::KjStore {
                organisations: kjernejournal.organisations,
            },
            pts,
        },
        clock_offset,
        ticket_key,
        advice: advice.map(|a| a.findings).unwrap_or_default(),
    })
}

/// HelseID's clients, each valid for `resources`, by client_id (unique).
fn validate_clients(
    entries: Vec<ClientEntry>,
    resources: &ApiResources,
) -> Result<BTreeMap<String, Arc<Client>>, StateError> {
    let mut clients = BTreeMap::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let field = |f: &str| format!("helseid.clients[{i}].{f}");
        let client = Client::validate(entry, resources)
            .map_err(|e| StateError::new(field(&e.field), e.message))?;
        if clients
            .insert(client.id().to_owned(), Arc::new(client))
            .is_some()
        {
            return Err(StateError::new(
                field("client_id"),
                "another client has this client_id",
            ));
        }
    }
    Ok(clients)
}

/// HelseID's test users, each valid, their pids unique, in login-page order.
fn validate_users(entries: Vec<UserEntry>) -> Result<Vec<Arc<User>>, StateError> {
    let mut pids = HashSet::new();
    let mut users = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let user = User::validate(entry)
            .map_err(|e| StateError::new(format!("helseid.users[{i}].{}", e.field), e.message))?;
        if !pids.insert(user.pid().to_owned()) {
            return Err(StateError::new(
                format!("helseid.users[{i}].pid"),
                "another user has this pid",
            ));
        }
        users.push(Arc::new(user));
    }
    Ok(users)
}

/// Every national patient is filed under its own key.
fn validate_national(national: &NationalStore) -> Result<(), StateError> {
    for (key, patient) in national.built() {
        if &patient.key != key {
            return Err(StateError::new(
                format!("national.patients.{key}.key"),
                format!("'{}' is not the key it is filed under", patient.key),
            ));
        }
    }
    Ok(())
}

/// Kjernejournal's organisations are filed under valid organisation numbers.
fn validate_organisations(
    organisations: &BTreeMap<String, Organisation>,
) -> Result<(), StateError> {
    for orgnr in organisations.keys() {
        crate::ids::OrgNr::parse(orgnr).map_err(|e| {
            StateError::new(
                format!("kjernejournal.organisations.{orgnr}"),
                e.to_string(),
            )
        })?;
    }
    Ok(())
}

/// PTS's restrictions have unique ids.
fn validate_restrictions(pts: &PtsStore) -> Result<(), StateError> {
    let mut restriction_ids = HashSet::new();
    for (i, restriction) in pts.restrictions.iter().enumerate() {
        if !restriction_ids.insert(restriction.id.as_str()) {
            return Err(StateError::new(
                format!("pts.restrictions[{i}].id"),
                "another restriction has this id",
            ));
        }
    }
    Ok(())
}

/// The ticket key as [`encode_ticket_key`] writes it.
fn decode_ticket_key(key: &str) -> Result<[u8; KEY_LEN], StateError> {
    URL_SAFE_NO_PAD
        .decode(key)
        .ok()
        .and_then(|bytes| <[u8; KEY_LEN]>::try_from(bytes).ok())
        .ok_or_else(|| {
            StateError::new(
                "kjernejournal.ticket_key",
                format!("must be {KEY_LEN} bytes in base64url without padding"),
            )
        })
}

/// The clock's offset: less than 1000 years either way.
fn clock_offset(clock: ClockState) -> Result<TimeDelta, StateError> {
    TimeDelta::try_milliseconds(clock.offset_ms)
        .filter(|d| d.abs() < TimeDelta::days(365 * 1000))
        .ok_or_else(|| StateError::new("clock.offset_ms", "out of range"))
}

/// A tenant's invariants: filed under its id, a GUID; every resource filed under its type and
/// id, with versions 1..n, each valid for its type.
fn validate_tenant(id: &str, tenant: &crate::sfm::model::Tenant) -> Result<(), StateError> {
    let at = |f: &str| format!("sfm.tenants.{id}.{f}");
    if tenant.id != id {
        return Err(StateError::new(
            at("id"),
            format!("'{}' is not the id it is filed under", tenant.id),
        ));
    }
    uuid::Uuid::parse_str(id)
        .map_err(|_| StateError::new(format!("sfm.tenants.{id}"), "the id is not a GUID"))?;
    for (kind, resources) in tenant.resources.iter() {
        let check = |(rid, versioned): &(&String, &Versioned)| {
            let field = at(&format!("resources.{}.{rid}", kind.as_str()));
            check_versions(&field, kind.as_str(), rid, versioned)?;
            for (v, resource) in versioned.versions().enumerate() {
                crate::sfm::fhir::validate::check(&resource, *kind).map_err(|issues| {
                    StateError::new(format!("{field}[{v}]"), issues.join("; "))
                })?;
            }
            Ok(())
        };
        // On every core (100,000 Patients), the first problem in id order reported.
        let entries: Vec<(&String, &Versioned)> = resources.iter().collect();
        crate::store::parallel::map_on_every_core(&entries, check)
            .into_iter()
            .collect::<Result<(), StateError>>()?;
    }
    for (type_name, resources) in &tenant.datadeling {
        if !crate::sfm::datadeling::STORED_TYPES.contains(&type_name.as_str()) {
            return Err(StateError::new(
                at(&format!("datadeling.{type_name}")),
                format!(
                    "Datadeling stores {}",
                    crate::sfm::datadeling::STORED_TYPES.join(", ")
                ),
            ));
        }
        for (rid, versioned) in resources {
            check_versions(
                &at(&format!("datadeling.{type_name}.{rid}")),
                type_name,
                rid,
                versioned,
            )?;
        }
    }
    Ok(())
}

fn check_versions(
    field: &str,
    type_name: &str,
    id: &str,
    versioned: &Versioned,
) -> Result<(), StateError> {
    if versioned.version() == 0 {
        return Err(StateError::new(
            field,
            "a resource has at least one version",
        ));
    }
    for (v, resource) in versioned.versions().enumerate() {
        let field = format!("{field}[{v}]");
        if resource.get("resourceType").and_then(Value::as_str) != Some(type_name) {
            return Err(StateError::new(
                format!("{field}.resourceType"),
                format!("must be '{type_name}'"),
            ));
        }
        if resource.get("id").and_then(Value::as_str) != Some(id) {
            return Err(StateError::new(
                format!("{field}.id"),
                format!("must be '{id}', the id it is filed under"),
            ));
        }
        let version = (v + 1).to_string();
        if resource.pointer("/meta/versionId").and_then(Value::as_str) != Some(version.as_str()) {
            return Err(StateError::new(
                format!("{field}.meta.versionId"),
                format!("must be '{version}'"),
            ));
        }
    }
    Ok(())
}

/// The ticket key as a state document writes it.
pub fn encode_ticket_key(key: &[u8; KEY_LEN]) -> String {
    URL_SAFE_NO_PAD.encode(key)
}
