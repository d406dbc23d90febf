//! `POST [base]/Patient/$getMedication`: the patient's medication from Reseptformidleren (RF),
//! the PLL and Kjernejournal (KJ), compiled into a `document` Bundle (sfm-MedicationBundle), with
//! the lookup times and result codes. Each call is recorded as the patient's latest lookup for
//! the tenant and user.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::lookup::{Lookup, Required, Requirement};
use super::{PROFILE_BASE, PatientIdentity, RESULT_CODE_SYSTEM, patient_identity, urn};
use crate::errors::fhir::{FHIR_JSON, FhirError, Issue};
use crate::errors::mark_formatted;
use crate::national::render::{self, ViewEntry};
use crate::national::{NationalPatient, statement};
use crate::sfm::State;
use crate::sfm::caller::Caller;
use crate::sfm::fhir::{self, validate};
use crate::sfm::model::{Tenant, fhir_instant};

/// The consent codes `SamtykkeKjernejournal` takes.
const KJ_CONSENTS: [&str; 3] = ["HPAKUTT", "HPMOTTATTSAMTYKKE", "HPUNNTAK"];
/// The consent codes `SamtykkeSperretLegemidler` and `SamtykkeLasteResepter` take.
const LOCKED_CONSENTS: [&str; 2] = ["HPAKUTT", "HPMOTTATTSAMTYKKE"];

/// `$getMedication`'s input.
#[derive(Debug, Clone, PartialEq)]
pub struct GetInput {
    /// The `patient` Patient.
    pub patient: Value,
    /// Who it is.
    pub identity: PatientIdentity,
    /// `Referansenummer`s: find locked prescriptions and those of patients without national id.
    pub refnums: Vec<String>,
    /// `SamtykkeKjernejournal`: look the patient up in Kjernejournal.
    pub kj_consent: Option<String>,
    /// `SamtykkeSperretLegemidler`.
    pub blocked_consent: Option<String>,
    /// `SamtykkeLasteResepter`: show locked prescriptions.
    pub locked_consent: Option<String>,
}

/// Reads a Parameters body (`application/fhir+json`); `normalise` may fix it up before the strict
/// R4 parse.
pub fn read_parameters(
    req: &HttpRequest,
    body: &[u8],
    normalise: impl FnOnce(&mut Value),
) -> Result<Value, FhirError> {
    let mut parameters = fhir::body_resource(req, body)?;
    normalise(&mut parameters);
    validate::check_type(&parameters, "Parameters").map_err(|problems| {
        FhirError::with_issues(
            StatusCode::BAD_REQUEST,
            problems
                .into_iter()
                .map(|p| Issue::error("structure", p))
                .collect(),
        )
    })?;
    Ok(parameters)
}

/// The `parameter` array with each entry's index.
pub fn parameters(body: &Value) -> impl Iterator<Item = (usize, &str, &Value)> {
    body.get("parameter")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| {
            (
                i,
                p.get("name").and_then(Value::as_str).unwrap_or_default(),
                p,
            )
        })
}

impl GetInput {
    /// Parses and checks the input; every problem is an issue.
    pub fn parse(body: &Value) -> Result<Self, FhirError> {
        let mut issues = Vec::new();
        let mut patient = None;
        let mut refnums = Vec::new();
        let mut kj_consent = None;
        let mut blocked_consent = None;
        let mut locked_consent = None;
        for (i, name, p) in parameters(body) {
            let at = format!("Parameters.parameter[{i}]");
            let code = |allowed: &[&str], issues: &mut Vec<Issue>| -> Option<String> {
                match p.get("valueCode").and_then(Value::as_str) {
                    Some(c) if allowed.contains(&c) => Some(c.to_owned()),
                    Some(c) => {
                        issues.push(
                            Issue::error(
                                "code-invalid",
                                format!("{name} must be one of {}, got '{c}'", allowed.join(", ")),
                            )
                            .at(format!("{at}.valueCode")),
                        );
                        None
                    }
                    None => {
                        issues.push(
                            Issue::error(
                                "required",
                                format!("{name} takes a valueCode ({})", allowed.join(", ")),
                            )
                            .at(at.clone()),
                        );
                        None
                    }
                }
            };
            match name {
                "patient" => match p.get("resource") {
                    Some(r) if r.get("resourceType").and_then(Value::as_str) == Some("Patient") => {
                        if patient.replace(r.clone()).is_some() {
                            issues.push(Issue::error("invalid", "patient is given more than once (1..1)").at(at));
                        }
                    }
                    _ => issues.push(Issue::error("invalid", "patient must be a Patient resource (parameter.resource)").at(at)),
                },
                "Referansenummer" => match p.get("valueString").and_then(Value::as_str) {
                    Some(r) if !r.trim().is_empty() => refnums.push(r.trim().to_owned()),
                    _ => issues.push(Issue::error("invalid", "Referansenummer takes a non-empty valueString").at(at)),
                },
                "historyTimestamp" => {
                    if p.get("valueDateTime").and_then(Value::as_str).is_none() {
                        issues.push(Issue::error("invalid", "historyTimestamp takes a valueDateTime").at(at));
                    }
                }
                "SamtykkeKjernejournal" => kj_consent = code(&KJ_CONSENTS, &mut issues),
                "SamtykkeSperretLegemidler" => blocked_consent = code(&LOCKED_CONSENTS, &mut issues),
                "SamtykkeLasteResepter" => locked_consent = code(&LOCKED_CONSENTS, &mut issues),
                "IncludeOriginal" => {
                    code(&["include_reseptdok"], &mut issues);
                }
                other => issues.push(Issue::error("not-supported", format!("Unknown parameter '{other}' for $getMedication; it takes patient, Referansenummer, historyTimestamp, SamtykkeKjernejournal, SamtykkeSperretLegemidler, SamtykkeLasteResepter, IncludeOriginal")).at(at)),
            }
        }
        let Some(patient) = patient else {
            issues.push(Issue::error("required", "$getMedication needs the parameter patient (a Patient with name, address and identifier, or birthDate and gender)").at("Parameters.parameter"));
            return Err(FhirError::with_issues(StatusCode::BAD_REQUEST, issues));
        };
        let path = "Parameters.parameter.where(name='patient').resource";
        if patient
            .get("address")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        {
            issues.push(
                Issue::error("required", "The patient needs an address")
                    .at(format!("{path}.address")),
            );
        }
        let identity = match patient_identity(&patient, path) {
            Ok(identity) => Some(identity),
            Err(mut problems) => {
                issues.append(&mut problems);
                None
            }
        };
        match identity {
            Some(identity) if issues.is_empty() => Ok(Self {
                patient,
                identity,
                refnums,
                kj_consent,
                blocked_consent,
                locked_consent,
            }),
            _ => Err(FhirError::with_issues(StatusCode::BAD_REQUEST, issues)),
        }
    }
}

/// `POST [base]/Patient/$getMedication`.
pub async fn get_medication(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> Result<HttpResponse, FhirError> {
    fhir::check_format(&req)?;
    let now = state.clock.now();
    let caller = fhir::authenticate(&req, &state, now)?;
    let body = read_parameters(&req, &body, |_| {})?;
    let input = GetInput::parse(&body)?;
    let mut guard = state.store_mut();
    fhir::tenant_for(&guard.tenants, &caller)?;
    let hpr = super::require_hpr(&caller, "$getMedication")?;
    let sfm = &mut *guard;
    let tenant = sfm
        .tenants
        .get_mut(&caller.tenant_id)
        .ok_or_else(|| fhir::unknown_tenant(&caller))?;
    let empty = NationalPatient::new(&input.identity.key, now);
    let national_guard = state.national();
    let national = national_guard
        .patient(&input.identity.key)
        .unwrap_or(&empty);
    let compiled = compile(
        &input,
        national,
        tenant,
        &caller,
        &hpr,
        now,
        &fhir::fhir_base(&state),
    );
    tenant.lookups.record(&caller.pid, compiled.lookup);
    drop(guard);
    Ok(mark_formatted(
        HttpResponse::Ok()
            .content_type(FHIR_JSON)
            .body(serde_json::to_string(&compiled.parameters).unwrap_or_default()),
    ))
}

/// A compiled lookup: the answer and what is remembered of it.
pub struct Compiled {
    /// The Parameters answer.
    pub parameters: Value,
    /// The lookup record.
    pub lookup: Lookup,
}

fn section(code: &str, display: &str, title: &str, text: &str, entries: Vec<Value>) -> Value {
    let mut section = json!({
        "title": title,
        "code": {"coding": [{"system": "http://ehelse.no/fhir/CodeSystem/sfm-section-types", "code": code, "display": display}]},
        // As the real answer writes the narrative: a prefixed xhtml:div.
        "text": {"status": "generated", "div": format!("<xhtml:div xmlns:xhtml=\"http://www.w3.org/1999/xhtml\">{text}</xhtml:div>")},
    });
    if entries.is_empty() {
        section["emptyReason"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/list-empty-reason", "code": "unavailable", "display": "Unavailable"}]});
    } else {
        section["entry"] = Value::Array(entries);
    }
    section
}

fn reference(urn: &str, profile: &str, display: &str) -> Value {
    json!({"reference": urn, "type": format!("{PROFILE_BASE}{profile}"), "display": display})
}

fn error_code(code: &str, display: &str, text: Option<String>) -> Value {
    let mut concept =
        json!({"coding": [{"system": RESULT_CODE_SYSTEM, "code": code, "display": display}]});
    if let Some(text) = text {
        concept["text"] = json!(text);
    }
    concept
}

/// Compiles the answer for `input` from the patient's national data.
pub fn compile(
    input: &GetInput,
    national: &NationalPatient,
    tenant: &Tenant,
    caller: &Caller,
    hpr: &str,
    now: DateTime<Utc>,
    fhir_base: &str,
) -> Compiled {
    let has_national_id = input.identity.national_id.is_some();
    // RF is asked by national id, or (patients without one) by reference number.
    let rf_lookup = has_national_id || !input.refnums.is_empty();
    let kj_lookup = has_national_id && input.kj_consent.is_some();
    let kj_ok = kj_lookup && tenant.kjernejournal_access;
    let show_locked = |p: &crate::national::Prescription| {
        input.locked_consent.is_some()
            || p.refnum.as_ref().is_some_and(|r| input.refnums.contains(r))
    };
    let view: Vec<ViewEntry<'_>> = if rf_lookup {
        render::view(national, &show_locked)
            .into_iter()
            .filter(|v| {
                has_national_id
                    || v.prescription
                        .and_then(|p| p.refnum.as_ref())
                        .is_some_and(|r| input.refnums.contains(r))
            })
            .collect()
    } else {
        Vec::new()
    };

    let patient_urn = urn();
    let practitioner_urn = urn();
    let organization_urn = urn();
    let mut patient = input.patient.clone();
    if patient.get("id").is_none() {
        patient["id"] = json!(uuid::Uuid::new_v4().to_string());
    }
    as_sfm_addresses(&mut patient);
    let patient = super::with_profile(patient, "sfm-Patient");
    let subject = reference(&patient_urn, "sfm-Patient", &input.identity.display);
    let practitioner = super::practitioner_for(tenant, caller, hpr);
    let practitioner_display = super::practitioner_display(&practitioner, hpr);
    let (organization, her) = tenant
        .organization()
        .map(|(_, o)| {
            let o = super::with_profile(as_bundle_organization(o.current()), "sfm-Organization");
            let her = crate::sfm::model::identifier_value(&o, crate::sfm::model::HER_SYSTEM)
                .unwrap_or_default()
                .to_owned();
            (o, her)
        })
        .unwrap_or_else(|| (json!({"resourceType": "Organization"}), String::new()));

    let mut entries: Vec<Value> = Vec::new();
    let mut medication_refs = Vec::new();
    let mut dispense_refs = Vec::new();
    let mut requirements = Vec::new();
    // Per ReseptId: the statement (urn, display) and its dispenses (M10 id, time, urn), for
    // the M25.3 deliveries.
    let mut statement_of: HashMap<&str, (String, String)> = HashMap::new();
    let mut dispenses_of: DispensesShown<'_> = HashMap::new();
    for v in &view {
        let statement_urn = urn();
        let medication_urn = urn();
        let mut statement_json = v.statement();
        render::point(&mut statement_json, &subject, &medication_urn);
        let display = v.entry.display();
        medication_refs.push(reference(
            &statement_urn,
            "sfm-MedicationStatement",
            &display,
        ));
        // As the real answer: each Medication, then its statement, then its dispenses.
        entries.push(json!({"fullUrl": medication_urn, "resource": v.entry.medication}));
        entries.push(json!({"fullUrl": statement_urn, "resource": statement_json}));
        if let Some(p) = v.prescription {
            statement_of.insert(p.id(), (statement_urn.clone(), display.clone()));
            for d in &p.dispenses {
                let dispense_urn = urn();
                dispenses_of.entry(p.id()).or_default().push((
                    d.id.as_str(),
                    d.at,
                    dispense_urn.clone(),
                ));
                dispense_refs.push(reference(
                    &dispense_urn,
                    "sfm-MedicationDispense",
                    "sfm-MedicationDispense",
                ));
                entries.push(json!({"fullUrl": dispense_urn, "resource": render::dispense(d, p, &subject, &medication_urn, &statement_urn)}));
            }
        }
        requirements.extend(requirements_of(v, &display));
    }

    let mut pll_refs = Vec::new();
    if let (true, Some(pll)) = (rf_lookup && has_national_id, &national.pll) {
        let mut related = Vec::new();
        if let Some(m) = &national.multidose {
            for role in render::multidose_roles(m) {
                let role_urn = urn();
                related.push(reference(
                    &role_urn,
                    "sfm-PractitionerRole",
                    &role_display(&role),
                ));
                entries.push(json!({"fullUrl": role_urn, "resource": role}));
            }
        }
        let basic_urn = urn();
        pll_refs.push(reference(&basic_urn, "sfm-PLL-info", "M25.1"));
        entries.push(
            json!({"fullUrl": basic_urn, "resource": render::pll_info(pll, &subject, &related)}),
        );
        if let Some(m) = national
            .multidose
            .as_ref()
            .filter(|m| !m.messages.is_empty())
        {
            let author_urn = urn();
            let author_role = render::pharmacy_author_role(m);
            let author = reference(
                &author_urn,
                "sfm-PractitionerRole",
                &role_display(&author_role),
            );
            entries.push(json!({"fullUrl": author_urn, "resource": author_role}));
            for message in &m.messages {
                let deliveries: Vec<Value> = message
                    .deliveries
                    .iter()
                    .filter_map(|d| delivery(d, message.date, &statement_of, &dispenses_of))
                    .collect();
                let message_urn = urn();
                pll_refs.push(reference(&message_urn, "sfm-PLL-info", message.kind.code()));
                entries.push(json!({"fullUrl": message_urn, "resource": render::pharmacy_message(message, &related, &author, deliveries)}));
            }
        }
    }
    let mut allergy_refs = Vec::new();
    if kj_ok && national.kjernejournal.is_some() {
        for a in &national.allergies {
            let allergy_urn = urn();
            allergy_refs.push(json!({"reference": allergy_urn, "type": "AllergyIntolerance", "display": a.substance}));
            entries.push(json!({"fullUrl": allergy_urn, "resource": render::allergy(a, &subject)}));
        }
    }

    let composition_id = uuid::Uuid::new_v4().to_string();
    let composition = json!({
        "resourceType": "Composition",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": {"profile": [format!("{PROFILE_BASE}sfm-MedicationComposition")]},
        "identifier": {"use": "official", "value": composition_id},
        "status": "final",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11503-0", "display": "Medical records"}]},
        "subject": subject,
        // A date, as the real answer's (2024-01-25).
        "date": now.format("%Y-%m-%d").to_string(),
        "author": [
            reference(&practitioner_urn, "sfm-Practitioner", &practitioner_display),
            reference(&organization_urn, "sfm-Organization", &format!("HER: {her}")),
        ],
        "title": "Medication summary",
        "confidentiality": "N",
        "section": [
            section("sectionMedication", "List of Medication statements", "Medication", "List of medications", medication_refs),
            section("sectionPLLinfo", "PLL Info", "PllInfo", "Info read from M25", pll_refs),
            section("sectionAllergies", "Section allergies", "Allergies", "", allergy_refs),
            section("sectionDispense", "Section dispense", "sectionDispense", "List of dispense messages", dispense_refs),
            section("sectionOtherPrescriptions", "List of non medical prescriptions", "Other Prescriptions", "", Vec::new()),
        ],
    });
    // The real answer's order: the Composition, its authors, the patient, then the content.
    let mut all = vec![
        json!({"fullUrl": urn(), "resource": composition}),
        json!({"fullUrl": practitioner_urn, "resource": practitioner}),
        json!({"fullUrl": organization_urn, "resource": organization}),
        json!({"fullUrl": patient_urn, "resource": patient}),
    ];
    all.append(&mut entries);
    // The real answer's Bundle: `source` in meta, `total` (the entries), no identifier.
    let bundle = json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": {
            "lastUpdated": fhir_instant(now),
            "source": format!("{fhir_base}/Patient/$getMedication?_format=json"),
            "profile": [format!("{PROFILE_BASE}sfm-MedicationBundle")],
        },
        "type": "document",
        "timestamp": fhir_instant(now),
        "total": all.len(),
        "link": [{"relation": "self", "url": format!("{fhir_base}/Patient/$getMedication")}],
        "entry": all,
    });

    let mut parameters = vec![json!({"name": "medication", "resource": bundle})];
    if kj_lookup {
        parameters.push(json!({"name": "KJHentetTidspunkt", "valueDateTime": fhir_instant(now)}));
    }
    if rf_lookup {
        parameters.push(json!({"name": "RFHentetTidspunkt", "valueDateTime": fhir_instant(now)}));
    }
    if kj_lookup {
        parameters.push(json!({"name": "KJFeilkode", "valueCodeableConcept": if kj_ok {
            error_code("0", "OK", None)
        } else {
            error_code("5", "Ingen rettighet til KJ oppslag", Some(format!("TraceID: {}. Error: No rights to run KJ lookup", crate::random::hex_id().to_lowercase())))
        }}));
    }
    if rf_lookup {
        parameters.push(
            json!({"name": "RFM96Feilkode", "valueCodeableConcept": error_code("0", "OK", None)}),
        );
        parameters.push(
            json!({"name": "RFM912Feilkode", "valueCodeableConcept": error_code("0", "OK", None)}),
        );
    }
    let has_medication = national.pll.is_some() || !national.prescriptions.is_empty();
    parameters.push(json!({"name": "KJHarLegemidler", "valueBoolean": kj_ok && national.kjernejournal.is_some() && has_medication}));
    parameters.push(json!({"name": "KJHarLaste", "valueBoolean": kj_ok && national.kjernejournal.is_some() && national.has_locked_prescriptions()}));
    parameters.push(json!({"name": "RFHarLaste", "valueBoolean": rf_lookup && national.has_locked_prescriptions()}));
    Compiled {
        parameters: json!({"resourceType": "Parameters", "parameter": parameters}),
        lookup: Lookup {
            composition_id,
            at: now,
            rf_at: rf_lookup.then_some(now),
            patient_key: input.identity.key.clone(),
            national_id: has_national_id,
            requirements,
            sends: Vec::new(),
            refused_send: None,
        },
    }
}

/// Per ReseptId, the dispenses a lookup shows: (M10 id, when, the entry's urn).
type DispensesShown<'a> = HashMap<&'a str, Vec<(&'a str, DateTime<Utc>, String)>>;

/// An M25.3's `deliveryinformation` for one prescription: the statement, the doses, and the
/// prescription's latest dispense (M10) up to the message; `None` when the lookup does not show
/// the prescription.
fn delivery(
    d: &crate::national::Delivery,
    sent: DateTime<Utc>,
    statement_of: &HashMap<&str, (String, String)>,
    dispenses_of: &DispensesShown<'_>,
) -> Option<Value> {
    let (statement_urn, display) = statement_of.get(d.resept_id.as_str())?;
    let mut parts = vec![
        json!({"url": "prescriptionId", "valueReference": reference(statement_urn, "sfm-MedicationStatement", display)}),
        json!({"url": "datefirstdose", "valueDateTime": fhir_instant(d.first_dose)}),
        json!({"url": "datelastdose", "valueDateTime": fhir_instant(d.last_dose)}),
    ];
    let latest = dispenses_of
        .get(d.resept_id.as_str())
        .into_iter()
        .flatten()
        .filter(|(_, at, _)| *at <= sent)
        .max_by_key(|(_, at, _)| *at);
    if let Some((m10, _, dispense_urn)) = latest {
        parts.push(json!({"url": "deliverydoc", "valueReference": reference(dispense_urn, "sfm-MedicationDispense", "sfm-MedicationDispense")}));
        parts.push(json!({"url": "refM10", "valueString": m10}));
    }
    Some(json!({"url": "deliveryinformation", "extension": parts}))
}

/// A PractitionerRole as the real answer names it: who, where, and the role
/// ("JOHAN PSA JENSEN, HPR: 431001110, Tverrådalskyrkja PLO Institusjon, HER: 8140453,
/// M:Multidoseansvarlig lege").
fn role_display(role: &Value) -> String {
    let what = role.pointer("/code/0/coding/0").map(|c| {
        format!(
            "{}:{}",
            c.get("code").and_then(Value::as_str).unwrap_or_default(),
            c.get("display").and_then(Value::as_str).unwrap_or_default()
        )
    });
    [
        role.pointer("/practitioner/display")
            .and_then(Value::as_str)
            .map(str::to_owned),
        role.pointer("/organization/display")
            .and_then(Value::as_str)
            .map(str::to_owned),
        what,
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ")
}

/// The patient's addresses as SFM returns them: the street lines as `text` (SFM keeps no
/// `line`), with the postal code and city.
fn as_sfm_addresses(patient: &mut Value) {
    let Some(addresses) = patient.get_mut("address").and_then(Value::as_array_mut) else {
        return;
    };
    for address in addresses {
        let Some(object) = address.as_object_mut() else {
            continue;
        };
        if let Some(Value::Array(lines)) = object.remove("line")
            && !object.contains_key("text")
        {
            let text: Vec<&str> = lines.iter().filter_map(Value::as_str).collect();
            object.insert("text".to_owned(), json!(text.join(", ")));
        }
        object.entry("type").or_insert_with(|| json!("postal"));
    }
}

/// The instance's Organization as the medication document carries it: who it is (identifiers,
/// name, telephone), not the instance's administrative details.
fn as_bundle_organization(organization: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in ["resourceType", "id", "identifier", "name", "telecom"] {
        if let Some(value) = organization.get(key) {
            out.insert(key.to_owned(), value.clone());
        }
    }
    Value::Object(out)
}

/// What later sends must carry of one statement of the lookup: an active prescription always
/// (the spec), another prescription as head of chain unless the PLL entry stands for it, a PLL
/// entry, and any other statement with a PLL id (the SFM Basis guide). An entered-in-error
/// statement is not required (the spec leaves it out of the PLL).
fn requirements_of(v: &ViewEntry<'_>, display: &str) -> Vec<Requirement> {
    let mut out = Vec::new();
    if statement::status(&v.entry.statement) == "entered-in-error" {
        return out;
    }
    let discontinued_at = statement::discontinued_at(&v.entry.statement);
    let requirement = |what, id: &str, rf_status| Requirement {
        what,
        id: id.to_owned(),
        display: display.to_owned(),
        rf_status,
        discontinued_at,
        added_by_send: None,
    };
    if let Some(p) = v.prescription
        && (p.status.is_active() || !v.counts_for_pll())
    {
        out.push(requirement(Required::Prescription, p.id(), Some(p.status)));
    }
    match v.entry.pll_id() {
        Some(id) if v.counts_for_pll() => out.push(requirement(Required::PllEntry, id, None)),
        Some(id) if v.prescription.is_none() => {
            out.push(requirement(Required::Statement, id, None));
        }
        _ => {}
    }
    out
}
