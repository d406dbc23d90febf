//! `GET /_admin/overview`: everything the dashboard shows that is not live — the services with
//! their base URLs and a configuration snippet, the clients with a `helsesim token` command per
//! API, the test users, the SFM instances and the patients (kjernejournal status, valid SFM
//! tickets, medication, allergies, messages) — in one JSON document.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::auth::claims::SFM_AUDIENCE;
use crate::helseid::HelseIdStore;
use crate::helseid::model::{Client, Tenancy};
use crate::ids::{NationalId, NationalIdKind};
use crate::kjernejournal::caller::KJ_AUDIENCE;
use crate::kjernejournal::indicator::indicator;
use crate::national::{NationalPatient, NationalStore};
use crate::pts::PTS_AUDIENCE;
use crate::service::Service;
use crate::sfm::model::{
    DNR_SYSTEM, ENH_SYSTEM, FNR_SYSTEM, ResourceKind, Tenant, identifier_value, identifiers,
};
use crate::sfm::session::display_name;
use crate::state::AppState;

/// The base URL the `helsesim` CLI assumes when it is given no `--url`.
const CLI_DEFAULT_BASE: &str = "http://localhost:8080";

/// `GET /_admin/overview`.
#[utoipa::path(get, path = "/_admin/overview", operation_id = "getOverview",
    summary = "What the dashboard at / shows: services with base URLs and config snippets, \
        clients with a helsesim token command per API, test users, SFM instances, patients \
        (kjernejournal status, valid tickets, medication), the clock and settings",
    responses((status = 200, description = "{version, base_url, clock, services, tools, \
        clients, users, tenants, patients, settings}")))]
pub async fn get(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(overview(&state))
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The overview document.
pub fn overview(state: &AppState) -> Value {
    let now = state.clock.now();
    // A snapshot (clients and users are shared pointers), so that no two locks are held at once.
    let helseid = state.helseid.store().clone();
    let sfm = state.sfm.store();
    let national = state.national.read();
    let mut tenants: Vec<&Tenant> = sfm.tenants.values().collect();
    tenants.sort_by_key(|t| (tenant_name(t), t.id.clone()));
    let (patients, patients_total) = patients(&national, &tenants, &helseid, now);
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "base_url": state.base_url,
        "clock": {
            "now": instant(now),
            "offset_seconds": state.clock.offset().num_seconds(),
        },
        "services": services(state),
        "tools": [
            {"name": "Control plane", "url": format!("{}/_admin", state.base_url)},
            {"name": "OpenAPI documents", "url": format!("{}/_admin/openapi", state.base_url)},
            {"name": "Control plane OpenAPI",
             "url": format!("{}/_admin/openapi.json", state.base_url)},
            {"name": "Health", "url": format!("{}/healthz", state.base_url)},
        ],
        "clients": clients(&helseid, &tenants, &state.base_url, &state.fixtures_dir),
        "users": helseid.users.iter().map(|u| json!({
            "pid": u.pid(),
            "name": u.name(),
            "pid_kind": pid_kind(u.pid()),
            "hpr_number": u.entry.hpr_number,
            "security_level": u.entry.security_level,
            "description": u.entry.description,
        })).collect::<Vec<_>>(),
        "tenants": tenants.iter().map(|t| tenant_json(t, now)).collect::<Vec<_>>(),
        "patients": patients,
        "patients_total": patients_total,
        "settings": {
            "admin_token": state.admin_token.is_some(),
            "autologin": state.helseid.autologin,
            "kj_extra_field": state.kjernejournal.extra_field,
            "journal_size": state.journal.capacity(),
        },
    })
}

/// One service: its base URL, what it replaces, its main endpoints and the settings an EHR
/// changes to use it (as environment variables and as `appsettings.json`).
struct ServiceCard {
    service: crate::service::Service,
    base_url: String,
    replaces: &'static [&'static str],
    endpoints: Vec<(&'static str, String)>,
    section: &'static str,
    settings: Vec<(&'static str, String)>,
}

impl ServiceCard {
    fn json(&self) -> Value {
        json!({
            "id": self.service.name(),
            "name": self.service.display_name(),
            "base_url": self.base_url,
            "replaces": self.replaces,
            "endpoints": self.endpoints.iter()
                .map(|(name, url)| json!({"name": name, "url": url}))
                .collect::<Vec<_>>(),
            "config": {
                "env": env_snippet(self.section, &self.settings),
                "appsettings": appsettings_snippet(self.section, &self.settings),
            },
        })
    }
}

/// Every service's card, in the order helsesim lists them.
fn services(state: &AppState) -> Vec<Value> {
    let base = &state.base_url;
    Service::ALL
        .into_iter()
        .map(|service| match service {
            Service::HelseId => helseid_card(&state.helseid.endpoints),
            Service::Sfm => sfm_card(base),
            Service::Kjernejournal => kjernejournal_card(base),
            Service::Pts => pts_card(base),
        })
        .map(|card| {
            let mut json = card.json();
            json["openapi"] = crate::admin::openapi::services::of_service(card.service, base)
                .into_iter()
                .map(|(title, url)| json!({"title": title, "url": url}))
                .collect();
            json
        })
        .collect()
}

/// HelseID: its endpoints and the settings an EHR's OpenID Connect library takes.
fn helseid_card(e: &crate::helseid::Endpoints) -> ServiceCard {
    ServiceCard {
        service: Service::HelseId,
        base_url: e.issuer.clone(),
        replaces: &["https://helseid-sts.test.nhn.no"],
        endpoints: vec![
            ("Discovery", e.discovery.clone()),
            ("JWKS", e.jwks.clone()),
            ("Token", e.token.clone()),
            ("PAR", e.par.clone()),
            ("Authorize", e.authorize.clone()),
            ("Userinfo", e.userinfo.clone()),
            ("End session", e.end_session.clone()),
        ],
        section: "HelseId",
        settings: vec![
            ("Authority", e.issuer.clone()),
            ("MetadataAddress", e.discovery.clone()),
            ("TokenEndpoint", e.token.clone()),
            ("ParEndpoint", e.par.clone()),
            ("AuthorizeEndpoint", e.authorize.clone()),
        ],
    }
}

/// SFM: the session service, the FHIR API and the GUI's portals.
fn sfm_card(base: &str) -> ServiceCard {
    let sfm = format!("{base}/sfm");
    ServiceCard {
        service: Service::Sfm,
        base_url: sfm.clone(),
        replaces: &[
            "https://session.test2.forskrivning.no",
            "https://base-fhir.test2.forskrivning.no",
            "https://datashare.test2.forskrivning.no",
        ],
        endpoints: vec![
            ("Session API", format!("{sfm}/api")),
            ("FHIR base", format!("{sfm}/fhir")),
            ("Capability statement", format!("{sfm}/fhir/metadata")),
            ("Patient portal (GUI)", format!("{sfm}/client/patient")),
            ("GUI server API", format!("{sfm}/server/")),
        ],
        section: "Sfm",
        settings: vec![
            ("SessionBaseUrl", sfm.clone()),
            ("FhirBaseUrl", format!("{sfm}/fhir")),
            ("DatashareBaseUrl", format!("{sfm}/fhir")),
            ("Audience", SFM_AUDIENCE.to_owned()),
        ],
    }
}

/// Kjernejournal's APIs.
fn kjernejournal_card(base: &str) -> ServiceCard {
    let kj = format!("{base}/kjernejournal");
    ServiceCard {
        service: Service::Kjernejournal,
        base_url: kj.clone(),
        replaces: &["https://api.st2.kjernejournal-test.no:8000"],
        endpoints: vec![
            ("Helseindikator", format!("{kj}/v1/helseindikator")),
            ("Ping", format!("{kj}/v1/ping")),
            ("FHIR (critical information)", format!("{kj}/v1/fhir")),
            ("Medication overview", format!("{kj}/v1/legemidler")),
        ],
        section: "Kjernejournal",
        settings: vec![
            ("BaseUrl", kj.clone()),
            ("Audience", KJ_AUDIENCE.to_owned()),
        ],
    }
}

/// PTS's API.
fn pts_card(base: &str) -> ServiceCard {
    let pts = format!("{base}/pts");
    ServiceCard {
        service: Service::Pts,
        base_url: pts.clone(),
        replaces: &["https://api.test.pts.nhn.no"],
        endpoints: vec![
            (
                "Patient-safety restrictions",
                format!("{pts}/access-restrictions/patient-safety"),
            ),
            (
                "Search",
                format!("{pts}/access-restrictions/patient-safety/_search"),
            ),
        ],
        section: "Pts",
        settings: vec![
            ("BaseUrl", pts.clone()),
            ("Audience", PTS_AUDIENCE.to_owned()),
        ],
    }
}

/// `HelseId` + `TokenEndpoint` → `HELSEID_TOKEN_ENDPOINT`.
fn env_name(section: &str, name: &str) -> String {
    let mut out = section.to_ascii_uppercase();
    out.push('_');
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn env_snippet(section: &str, settings: &[(&str, String)]) -> String {
    settings
        .iter()
        .map(|(name, value)| format!("{}={value}\n", env_name(section, name)))
        .collect()
}

fn appsettings_snippet(section: &str, settings: &[(&str, String)]) -> String {
    let inner: serde_json::Map<String, Value> = settings
        .iter()
        .map(|(name, value)| ((*name).to_owned(), json!(value)))
        .collect();
    let mut outer = serde_json::Map::new();
    outer.insert(section.to_owned(), Value::Object(inner));
    serde_json::to_string_pretty(&outer).unwrap_or_default()
}

fn tenant_name(tenant: &Tenant) -> String {
    tenant
        .organization()
        .and_then(|(_, r)| {
            r.current()
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| tenant.id.clone())
}

fn tenant_orgnr(tenant: &Tenant) -> Option<String> {
    tenant
        .organization()
        .and_then(|(_, r)| identifier_value(&r.current(), ENH_SYSTEM).map(str::to_owned))
}

fn tenant_json(tenant: &Tenant, now: DateTime<Utc>) -> Value {
    let count = |kind| tenant.of_kind(kind).count();
    json!({
        "sfm_id": tenant.id,
        "name": tenant_name(tenant),
        "orgnr": tenant_orgnr(tenant),
        "active": tenant.activated.is_some(),
        "multidose_doctor": tenant.multidose_doctor,
        "kjernejournal_access": tenant.kjernejournal_access,
        "users": count(ResourceKind::Person) + count(ResourceKind::Practitioner),
        "patients": count(ResourceKind::Patient),
        "tickets": tenant.tickets.valid(now).count(),
    })
}

fn pid_kind(pid: &str) -> &'static str {
    match NationalId::parse(pid).map(|id| id.kind()) {
        Ok(NationalIdKind::Fnr) => "fødselsnummer",
        Ok(NationalIdKind::Dnr) => "D-nummer",
        Err(_) => "other",
    }
}

fn clients(
    helseid: &HelseIdStore,
    tenants: &[&Tenant],
    base_url: &str,
    fixtures_dir: &Path,
) -> Vec<Value> {
    // The journals of multi-tenant clients: the SFM instances no single-tenant client owns.
    let owned: HashSet<&str> = helseid
        .clients
        .values()
        .filter(|c| c.entry.tenancy == Tenancy::SingleTenant)
        .filter_map(|c| c.entry.sfm_id.as_deref())
        .collect();
    let journals: Vec<(String, String, &Tenant)> = tenants
        .iter()
        .filter(|t| !owned.contains(t.id.as_str()))
        .filter_map(|t| Some((tenant_name(t), tenant_orgnr(t)?, *t)))
        .collect();
    helseid
        .clients
        .values()
        .map(|client| {
            let e = &client.entry;
            let has_key = fixtures_dir
                .join("helseid/client-keys")
                .join(format!("{}.pem", e.client_id))
                .is_file();
            let own_tenant = e
                .sfm_id
                .as_deref()
                .and_then(|id| tenants.iter().find(|t| t.id == id))
                .copied();
            let commands = token_commands(
                client,
                helseid,
                &Tenants {
                    own: own_tenant,
                    journals: &journals,
                },
                base_url,
                has_key,
            );
            let apis: Vec<&str> = commands.iter().filter_map(|c| c["api"].as_str()).fold(
                Vec::new(),
                |mut apis, api| {
                    if !apis.contains(&api) {
                        apis.push(api);
                    }
                    apis
                },
            );
            json!({
                "client_id": e.client_id,
                "name": e.name,
                "tenancy": e.tenancy.as_str(),
                "orgnr_parent": e.orgnr_parent,
                "orgnr_child": e.orgnr_child,
                "orgnr_supplier": e.orgnr_supplier,
                "sfm_id": e.sfm_id,
                "require_dpop": e.require_dpop,
                "apis": apis,
                "test_key": has_key,
                "token_commands": commands,
            })
        })
        .collect()
}

/// The SFM instances a client's commands reach: its own (single-tenant) or the journals no
/// single-tenant client owns (multi-tenant).
struct Tenants<'a> {
    own: Option<&'a Tenant>,
    journals: &'a [(String, String, &'a Tenant)],
}

/// A test user who may use `tenant` (with an HPR number, as SFM's medication operations need);
/// for an instance not made yet, the first test user (who would make it).
fn sfm_user(helseid: &HelseIdStore, tenant: Option<&Tenant>) -> Option<String> {
    let users: Vec<&crate::helseid::model::User> =
        helseid.users.iter().map(|u| u.as_ref()).collect();
    users
        .iter()
        .find(|u| u.entry.hpr_number.is_some() && tenant.is_some_and(|t| t.has_user(u.pid())))
        .or_else(|| users.first().filter(|_| tenant.is_none()))
        .map(|u| u.pid().to_owned())
}

/// One ready-to-run command per API the client may call (a multi-tenant client's SFM command
/// once per journal): SFM's with a user login (`--user`, SFM takes only user tokens), PTS's
/// with a DPoP key made first and a `dpop-proof` line for the call, a runtime client's with
/// `--key`.
fn token_commands(
    client: &Client,
    helseid: &HelseIdStore,
    tenants: &Tenants<'_>,
    base_url: &str,
    has_key: bool,
) -> Vec<Value> {
    let e = &client.entry;
    // The first scope of each API, in the client's order.
    let mut per_api: Vec<(&str, &str)> = Vec::new();
    for scope in &e.scopes {
        if let Some(resource) = helseid.resources.resource_of(scope)
            && !per_api.iter().any(|(api, _)| *api == resource.name)
        {
            per_api.push((resource.name.as_str(), scope.as_str()));
        }
    }
    let mut common = format!(
        "helsesim token --client {}",
        e.name.as_deref().unwrap_or(&e.client_id)
    );
    if !has_key {
        common.push_str(" --key <your-private-key.pem>");
    }
    let url = if base_url == CLI_DEFAULT_BASE {
        String::new()
    } else {
        format!(" --url {base_url}")
    };
    let can_log_in = !e.redirect_uris.is_empty() && e.scopes.iter().any(|s| s == "openid");
    let mut out = Vec::new();
    for (api, scope) in per_api {
        let command = |org: &str, label: String, tenant: Option<&Tenant>| {
            let mut entry = json!({"api": api, "label": label});
            if api == SFM_AUDIENCE
                && can_log_in
                && let Some(pid) = sfm_user(helseid, tenant)
            {
                entry["command"] = json!(format!(
                    "{common} --user {pid} --scope \"openid helseid://scopes/identity/pid \
                     {scope}\"{org}{url}"
                ));
            } else if api == PTS_AUDIENCE || e.require_dpop {
                let path = if api == PTS_AUDIENCE {
                    "/pts/access-restrictions/patient-safety/_search"
                } else {
                    ""
                };
                entry["setup"] = json!("helsesim keygen --out dpop.pem");
                entry["command"] = json!(format!(
                    "{common} --scope {scope}{org} --dpop-key dpop.pem{url}"
                ));
                entry["proof"] = json!(format!(
                    "helsesim dpop-proof --key dpop.pem --url {base_url}{path} --token <the token>"
                ));
            } else {
                entry["command"] = json!(format!("{common} --scope {scope}{org}{url}"));
            }
            entry
        };
        match e.tenancy {
            Tenancy::SingleTenant => out.push(command("", api.to_owned(), tenants.own)),
            Tenancy::MultiTenant if api == SFM_AUDIENCE && !tenants.journals.is_empty() => {
                for (name, orgnr, tenant) in tenants.journals {
                    out.push(command(
                        &format!(" --org {orgnr} --journal-id {}", tenant.id),
                        format!("{api} · {name}"),
                        Some(tenant),
                    ));
                }
            }
            Tenancy::MultiTenant => {
                let (label, org) = tenants
                    .journals
                    .first()
                    .map(|(name, orgnr, _)| (format!("{api} · {name}"), (*orgnr).to_owned()))
                    .unwrap_or_else(|| (api.to_owned(), "<orgnr>".to_owned()));
                out.push(command(&format!(" --org {org}"), label, None));
            }
        }
    }
    out
}

/// What the dashboard shows for one patient, gathered from the national systems and every SFM
/// instance's patient register.
#[derive(Default)]
struct PatientRow {
    name: Option<String>,
    records: Vec<Value>,
    tickets: Vec<Value>,
}

/// The key the national systems would file a tenant's Patient under.
fn patient_key_of(resource: &Value) -> Option<String> {
    identifier_value(resource, FNR_SYSTEM)
        .or_else(|| identifier_value(resource, DNR_SYSTEM))
        .map(str::to_owned)
        .or_else(|| {
            identifiers(resource)
                .next()
                .filter(|(system, _)| !system.is_empty())
                .map(|(system, value)| format!("{system}|{value}"))
        })
}

/// A name for a patient only the national systems know: the fixture description's lead
/// ("Bente Blokkert: ..."), when it reads like a name.
fn name_from_description(description: &str) -> Option<String> {
    let lead = description
        .split([',', ':', '('])
        .next()
        .unwrap_or_default()
        .trim();
    let words: Vec<&str> = lead.split_whitespace().collect();
    let looks_like_name = (2..=4).contains(&words.len())
        && lead.len() <= 40
        && words
            .iter()
            .all(|w| w.chars().next().is_some_and(char::is_uppercase));
    looks_like_name.then(|| lead.to_owned())
}

/// How many patient cards the overview carries at most (a generated 100,000 would swamp the
/// page); the first by name.
const PATIENT_CARDS: usize = 200;

/// The first [`PATIENT_CARDS`] patient cards by name, and how many patients there are in all
/// (national and tenants', each key once): the dashboard says when it shows only some.
fn patients(
    national: &NationalStore,
    tenants: &[&Tenant],
    helseid: &HelseIdStore,
    now: DateTime<Utc>,
) -> (Vec<Value>, usize) {
    let mut rows: BTreeMap<String, PatientRow> = BTreeMap::new();
    for key in national.keys() {
        rows.entry(key.clone()).or_default();
    }
    for tenant in tenants {
        let name = tenant_name(tenant);
        let mut keys_by_id = BTreeMap::new();
        for (id, resource) in tenant.of_kind(ResourceKind::Patient) {
            let resource = resource.current();
            let Some(key) = patient_key_of(&resource) else {
                continue;
            };
            keys_by_id.insert(id.as_str(), key.clone());
            let row = rows.entry(key).or_default();
            if row.name.is_none() {
                row.name = display_name(&resource);
            }
            row.records.push(json!({
                "sfm_id": tenant.id,
                "tenant": name,
                "patient_id": id,
            }));
        }
        for ticket in tenant.tickets.valid(now) {
            let Some(key) = keys_by_id.get(ticket.patient_id.as_str()) else {
                continue;
            };
            let user = helseid.user(&ticket.user_pid).map(|u| u.name());
            if let Some(row) = rows.get_mut(key) {
                row.tickets.push(json!({
                    "sfm_id": tenant.id,
                    "tenant": name,
                    "user_pid": ticket.user_pid,
                    "user_name": user,
                    "expires": instant(ticket.expires),
                    "ticket": ticket.value,
                }));
            }
        }
    }
    // Names first: a national record is built (on first use) only for the cards shown.
    let mut list: Vec<(String, String, PatientRow)> = rows
        .into_iter()
        .map(|(key, row)| {
            let name = row.name.clone().or_else(|| {
                national
                    .built_patient(&key)
                    .and_then(|p| p.description.as_deref())
                    .and_then(name_from_description)
            });
            let sort_name = name.unwrap_or_else(|| format!("\u{10FFFF}{key}"));
            (sort_name, key, row)
        })
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0));
    let total = list.len();
    list.truncate(PATIENT_CARDS);
    let cards = list
        .into_iter()
        .map(|(_, key, mut row)| {
            row.tickets
                .sort_by(|a, b| a["expires"].as_str().cmp(&b["expires"].as_str()));
            let patient = national.patient(&key);
            let name = row.name.clone().or_else(|| {
                patient
                    .and_then(|p| p.description.as_deref())
                    .and_then(name_from_description)
            });
            patient_json(&key, name, patient, &row)
        })
        .collect();
    (cards, total)
}

fn patient_json(
    key: &str,
    name: Option<String>,
    national: Option<&NationalPatient>,
    row: &PatientRow,
) -> Value {
    let kj = indicator(key, national, None);
    let prescriptions = national
        .map(|p| p.prescriptions.as_slice())
        .unwrap_or_default();
    let active: Vec<String> = prescriptions
        .iter()
        .filter(|p| p.status.is_active())
        .map(|p| p.entry.display())
        .collect();
    json!({
        "key": key,
        "name": name,
        "id_kind": pid_kind(key),
        "description": national.and_then(|p| p.description.as_deref()),
        "kjernejournal": {
            "status": kj.status as u8,
            "text": kj.status.text(),
            "restricted": kj.restrictions.iter()
                .filter(|r| r.er_sperret)
                .map(|r| r.modul)
                .collect::<Vec<_>>(),
            "blocked_professional": kj.blocked_professional,
            "locked_prescriptions": kj.locked_prescriptions,
            "medications": kj.medications,
        },
        "medication": {
            "prescriptions": prescriptions.len(),
            "active": active,
            "locked": prescriptions.iter().filter(|p| p.locked).count(),
            "pll_entries": national.and_then(|p| p.pll.as_ref()).map(|pll| pll.entries.len()),
            "multidose": national.is_some_and(|p| p.multidose.is_some()),
        },
        "allergies": national.map(|p| p.allergies.iter().map(|a| json!({
            "substance": a.substance,
            "criticality": a.criticality,
            "category": a.category(),
        })).collect::<Vec<_>>()).unwrap_or_default(),
        "messages": national.map_or(0, |p| p.messages.len()),
        "records": row.records,
        "tickets": row.tickets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_upper_snake_case() {
        assert_eq!(
            env_name("HelseId", "TokenEndpoint"),
            "HELSEID_TOKEN_ENDPOINT"
        );
        assert_eq!(env_name("Sfm", "FhirBaseUrl"), "SFM_FHIR_BASE_URL");
        let settings = [("BaseUrl", "http://x/pts".to_owned())];
        assert_eq!(env_snippet("Pts", &settings), "PTS_BASE_URL=http://x/pts\n");
        assert_eq!(
            appsettings_snippet("Pts", &settings),
            "{\n  \"Pts\": {\n    \"BaseUrl\": \"http://x/pts\"\n  }\n}"
        );
    }

    #[test]
    fn names_are_taken_from_descriptions_only_when_they_read_like_names() {
        assert_eq!(
            name_from_description("Bente Blokkert: critical information").as_deref(),
            Some("Bente Blokkert")
        );
        assert_eq!(
            name_from_description("Siri Sperret, restricted").as_deref(),
            Some("Siri Sperret")
        );
        assert_eq!(name_from_description("a patient without a name"), None);
        assert_eq!(name_from_description("Ola"), None);
    }

    #[test]
    fn a_patient_key_prefers_the_national_id() {
        let patient = json!({"identifier": [
            {"system": "urn:oid:1.2.3", "value": "EPJ-1"},
            {"system": DNR_SYSTEM, "value": "42038540003"},
        ]});
        assert_eq!(patient_key_of(&patient).as_deref(), Some("42038540003"));
        let other = json!({"identifier": [{"system": "urn:oid:1.2.3", "value": "EPJ-1"}]});
        assert_eq!(
            patient_key_of(&other).as_deref(),
            Some("urn:oid:1.2.3|EPJ-1")
        );
        assert_eq!(patient_key_of(&json!({})), None);
    }
}
