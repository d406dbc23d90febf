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
use super::outage::{LookupFailures, NationalSystems, Striker, reduce_view};
use super::{PROFILE_BASE, PatientIdentity, RESULT_CODE_SYSTEM, patient_identity, urn};
use crate::errors::fhir::{FHIR_JSON, FhirError, Issue};
use crate::errors::mark_formatted;
use crate::national::outages::{FailureAnswer, FailurePoint};
use crate::national::render::{self, ViewEntry};
use crate::national::{Allergy, Multidose, NationalPatient, Pll, Prescription, statement};
use crate::sfm::State;
use crate::sfm::caller::Caller;
use crate::sfm::fhir::{self, FhirBody, FromFhirBody, SfmCaller, validate};
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
        let given = Given::read(body, &mut issues);
        let Some(patient) = given.patient else {
            issues.push(
                Issue::error(
                    "required",
                    "$getMedication needs the parameter patient (a Patient with name, address \
                     and identifier, or birthDate and gender)",
                )
                .at("Parameters.parameter"),
            );
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
                refnums: given.refnums,
                kj_consent: given.kj_consent,
                blocked_consent: given.blocked_consent,
                locked_consent: given.locked_consent,
            }),
            _ => Err(FhirError::with_issues(StatusCode::BAD_REQUEST, issues)),
        }
    }
}

/// `$getMedication`'s parameters as given, before the patient is checked.
#[derive(Debug, Default)]
struct Given {
    patient: Option<Value>,
    refnums: Vec<String>,
    kj_consent: Option<String>,
    blocked_consent: Option<String>,
    locked_consent: Option<String>,
}

impl Given {
    /// Reads the parameters in order; what is wrong with them is added to `issues`.
    fn read(body: &Value, issues: &mut Vec<Issue>) -> Self {
        let mut given = Self::default();
        for (i, name, p) in parameters(body) {
            given.take(&format!("Parameters.parameter[{i}]"), name, p, issues);
        }
        given
    }

    /// Takes the parameter `p` named `name`, found at `at`.
    fn take(&mut self, at: &str, name: &str, p: &Value, issues: &mut Vec<Issue>) {
        let invalid = |message: &str| Issue::error("invalid", message).at(at);
        match name {
            "patient" => match p.get("resource") {
                Some(r) if r.get("resourceType").and_then(Value::as_str) == Some("Patient") => {
                    if self.patient.replace(r.clone()).is_some() {
                        issues.push(invalid("patient is given more than once (1..1)"));
                    }
                }
                _ => issues.push(invalid(
                    "patient must be a Patient resource (parameter.resource)",
                )),
            },
            "Referansenummer" => match p.get("valueString").and_then(Value::as_str) {
                Some(r) if !r.trim().is_empty() => self.refnums.push(r.trim().to_owned()),
                _ => issues.push(invalid("Referansenummer takes a non-empty valueString")),
            },
            "historyTimestamp" => {
                if p.get("valueDateTime").and_then(Value::as_str).is_none() {
                    issues.push(invalid("historyTimestamp takes a valueDateTime"));
                }
            }
            "SamtykkeKjernejournal" => self.kj_consent = code(at, name, p, &KJ_CONSENTS, issues),
            "SamtykkeSperretLegemidler" => {
                self.blocked_consent = code(at, name, p, &LOCKED_CONSENTS, issues);
            }
            "SamtykkeLasteResepter" => {
                self.locked_consent = code(at, name, p, &LOCKED_CONSENTS, issues);
            }
            "IncludeOriginal" => {
                code(at, name, p, &["include_reseptdok"], issues);
            }
            other => issues.push(
                Issue::error(
                    "not-supported",
                    format!(
                        "Unknown parameter '{other}' for $getMedication; it takes patient, \
                         Referansenummer, historyTimestamp, SamtykkeKjernejournal, \
                         SamtykkeSperretLegemidler, SamtykkeLasteResepter, IncludeOriginal"
                    ),
                )
                .at(at),
            ),
        }
    }
}

/// The `valueCode` of the parameter `p` (named `name`, at `at`), when it is one of `allowed`.
fn code(
    at: &str,
    name: &str,
    p: &Value,
    allowed: &[&str],
    issues: &mut Vec<Issue>,
) -> Option<String> {
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
                .at(at),
            );
            None
        }
    }
}

/// A `$getMedication` body: a Parameters resource read as [`GetInput`].
impl FromFhirBody for GetInput {
    fn from_body(req: &HttpRequest, body: &[u8]) -> Result<Self, FhirError> {
        Self::parse(&read_parameters(req, body, |_| {})?)
    }
}

/// `POST [base]/Patient/$getMedication`.
pub async fn get_medication(
    request: FhirBody<SfmCaller, GetInput>,
    state: web::Data<State>,
) -> Result<HttpResponse, FhirError> {
    let FhirBody {
        head: SfmCaller { caller, now },
        body: input,
    } = request;
    let mut sfm = state.store_mut();
    let (tenant, hpr) = super::tenant_and_hpr(&mut sfm, &caller, "$getMedication")?;
    let national = state.national();
    let fhir_base = fhir::fhir_base(&state);
    let systems = NationalSystems {
        store: &national,
        outages: state.outages(),
    };
    let parameters = look_up(&input, tenant, systems, &caller, &hpr, now, &fhir_base);
    drop(national);
    drop(sfm);
    Ok(mark_formatted(
        HttpResponse::Ok()
            .content_type(FHIR_JSON)
            .body(serde_json::to_string(&parameters).unwrap_or_default()),
    ))
}

/// A lookup of `input`'s patient by `caller` (with `hpr`) in `tenant`: the answer compiled from
/// the national systems, and the lookup recorded as the user's latest for the patient (what the
/// next send is checked against). A lookup meets the national systems' active failures.
/// `$getMedication` and SFM's GUI both look up through here.
pub fn look_up(
    input: &GetInput,
    tenant: &mut Tenant,
    national: NationalSystems<'_>,
    caller: &Caller,
    hpr: &str,
    now: DateTime<Utc>,
    fhir_base: &str,
) -> Value {
    let key = &input.identity.key;
    let empty = NationalPatient::new(key, now);
    let record = national.store.patient(key).unwrap_or(&empty);
    let striker = Striker {
        outages: national.outages,
        key,
        now,
    };
    let findings = Findings::decide_with(input, record, tenant, &|p| striker.strike(p));
    let compiled = compile(input, findings, tenant, caller, hpr, now, fhir_base);
    tenant.lookups.record(&caller.pid, compiled.lookup);
    compiled.parameters
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
        "code": {"coding": [{
            "system": "http://ehelse.no/fhir/CodeSystem/sfm-section-types",
            "code": code,
            "display": display
        }]},
        // As the real answer writes the narrative: a prefixed xhtml:div.
        "text": {
            "status": "generated",
            "div": format!(
                "<xhtml:div xmlns:xhtml=\"http://www.w3.org/1999/xhtml\">{text}</xhtml:div>"
            )
        },
    });
    if entries.is_empty() {
        section["emptyReason"] = json!({"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
            "code": "unavailable",
            "display": "Unavailable"
        }]});
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

/// A lookup's error text as the published code 5 has it: `TraceID: <hex>. Error: <text>`.
fn traced(text: &str) -> String {
    let trace = crate::random::hex_id().to_lowercase();
    format!("TraceID: {trace}. Error: {text}")
}

/// The code of a lookup that failed (a scenario's failure).
fn lookup_code(failure: &FailureAnswer) -> Value {
    error_code(&failure.code, &failure.display, Some(traced(&failure.text)))
}

/// Compiles the answer for `input` from what the lookup found ([`Findings::decide`]), rendered
/// as the Parameters answer, and the lookup to remember.
pub fn compile(
    input: &GetInput,
    findings: Findings<'_>,
    tenant: &Tenant,
    caller: &Caller,
    hpr: &str,
    now: DateTime<Utc>,
    fhir_base: &str,
) -> Compiled {
    let mut document = Document::new(input);
    document.add_statements(&findings.view);
    if let Some(pll) = findings.pll {
        document.add_pll(pll, findings.multidose);
    }
    document.add_allergies(findings.allergies);
    let composition_id = uuid::Uuid::new_v4().to_string();
    let authors = Authors::of(tenant, caller, hpr);
    let bundle = document.into_bundle(authors, &composition_id, now, fhir_base);
    Compiled {
        parameters: answer(&findings, bundle, now),
        lookup: findings.into_lookup(input, composition_id, now),
    }
}

/// What a `$getMedication` finds: which national systems are asked, and what of the patient's
/// record the answer shows. A decision over the input, the record and the tenant alone.
#[derive(Debug)]
pub struct Findings<'a> {
    /// Reseptformidleren is asked: by national id, or (patients without one) by reference
    /// number.
    pub rf_lookup: bool,
    /// Kjernejournal is asked: the patient has a national id and consent was given.
    pub kj_lookup: bool,
    /// Kjernejournal is asked and this organisation has access to it (else `KJFeilkode` 5).
    pub kj_ok: bool,
    /// The statements shown, in the answer's order.
    pub view: Vec<ViewEntry<'a>>,
    /// The PLL shown (Reseptformidleren asked by national id).
    pub pll: Option<&'a Pll>,
    /// The multidose arrangement shown with the PLL.
    pub multidose: Option<&'a Multidose>,
    /// Kjernejournal's allergies shown.
    pub allergies: &'a [Allergy],
    /// `KJHarLegemidler`: Kjernejournal answered, and the patient has medication.
    pub kj_has_medication: bool,
    /// `KJHarLaste`: Kjernejournal answered, and the patient has active locked prescriptions.
    pub kj_has_locked: bool,
    /// `RFHarLaste`: Reseptformidleren was asked, and the patient has active locked
    /// prescriptions.
    pub rf_has_locked: bool,
    /// What every later send must carry of the statements shown.
    pub requirements: Vec<Requirement>,
    /// The lookups that failed (scenario steps).
    pub failures: LookupFailures,
}

impl<'a> Findings<'a> {
    /// What a lookup for `input` finds in the patient's record `national` for `tenant`.
    pub fn decide(input: &GetInput, national: &'a NationalPatient, tenant: &Tenant) -> Self {
        Self::decide_with(input, national, tenant, &|_| None)
    }

    /// What a lookup finds when each national lookup it makes may fail: `strike` says how the
    /// lookup at a point fails, if it does (asked only for the lookups made).
    pub fn decide_with(
        input: &GetInput,
        national: &'a NationalPatient,
        tenant: &Tenant,
        strike: &dyn Fn(FailurePoint) -> Option<FailureAnswer>,
    ) -> Self {
        let has_national_id = input.identity.national_id.is_some();
        // RF is asked by national id, or (patients without one) by reference number.
        let rf_lookup = has_national_id || !input.refnums.is_empty();
        let kj_lookup = has_national_id && input.kj_consent.is_some();
        let kj_ok = kj_lookup && tenant.kjernejournal_access;
        let failures = LookupFailures {
            rf_prescriptions: rf_lookup
                .then(|| strike(FailurePoint::RfPrescriptions))
                .flatten(),
            rf_pll: (rf_lookup && has_national_id)
                .then(|| strike(FailurePoint::RfPll))
                .flatten(),
            kj: kj_ok.then(|| strike(FailurePoint::KjLookup)).flatten(),
        };
        let kj_answers = kj_ok && failures.kj.is_none() && national.kjernejournal.is_some();
        let view = if rf_lookup {
            reduce_view(shown_statements(input, national), &failures)
        } else {
            Vec::new()
        };
        let requirements = view
            .iter()
            .flat_map(|v| requirements_of(v, &v.entry.display()))
            .collect();
        let pll = national
            .pll
            .as_ref()
            .filter(|_| rf_lookup && has_national_id && failures.rf_pll.is_none());
        let has_medication = national.pll.is_some() || !national.prescriptions.is_empty();
        Self {
            rf_lookup,
            kj_lookup,
            kj_ok,
            view,
            pll,
            multidose: pll.and(national.multidose.as_ref()),
            allergies: if kj_answers { &national.allergies } else { &[] },
            kj_has_medication: kj_answers && has_medication,
            kj_has_locked: kj_answers && national.has_locked_prescriptions(),
            rf_has_locked: rf_lookup
                && failures.rf_prescriptions.is_none()
                && national.has_locked_prescriptions(),
            requirements,
            failures,
        }
    }

    /// The lookup SFM remembers of these findings, made `now` with the answer's Composition
    /// identifier.
    pub fn into_lookup(
        self,
        input: &GetInput,
        composition_id: String,
        now: DateTime<Utc>,
    ) -> Lookup {
        Lookup {
            composition_id,
            at: now,
            rf_at: (self.rf_lookup && !self.failures.rf_failed()).then_some(now),
            rf_failed: self.failures.rf_failed(),
            patient_key: input.identity.key.clone(),
            national_id: input.identity.national_id.is_some(),
            requirements: self.requirements,
            sends: Vec::new(),
            refused_send: None,
        }
    }
}

/// The statements Reseptformidleren's answer shows: every one for a patient with a national id,
/// else those of the prescriptions whose reference numbers were given. A locked prescription
/// shows with the patient's consent or its reference number.
fn shown_statements<'a>(input: &GetInput, national: &'a NationalPatient) -> Vec<ViewEntry<'a>> {
    let has_national_id = input.identity.national_id.is_some();
    let named = |p: &Prescription| p.refnum.as_ref().is_some_and(|r| input.refnums.contains(r));
    let show_locked = |p: &Prescription| input.locked_consent.is_some() || named(p);
    render::view(national, &show_locked)
        .into_iter()
        .filter(|v| has_national_id || v.prescription.is_some_and(named))
        .collect()
}

/// The answer: the document, when the national systems were asked, and what they said.
fn answer(findings: &Findings<'_>, bundle: Value, now: DateTime<Utc>) -> Value {
    let mut parameters = vec![json!({"name": "medication", "resource": bundle})];
    let failures = &findings.failures;
    if findings.kj_lookup && failures.kj.is_none() {
        parameters.push(json!({"name": "KJHentetTidspunkt", "valueDateTime": fhir_instant(now)}));
    }
    if findings.rf_lookup && !failures.rf_failed() {
        parameters.push(json!({"name": "RFHentetTidspunkt", "valueDateTime": fhir_instant(now)}));
    }
    if findings.kj_lookup {
        let code = if let Some(failure) = &failures.kj {
            lookup_code(failure)
        } else if findings.kj_ok {
            error_code("0", "OK", None)
        } else {
            let text = traced("No rights to run KJ lookup");
            error_code("5", "Ingen rettighet til KJ oppslag", Some(text))
        };
        parameters.push(json!({"name": "KJFeilkode", "valueCodeableConcept": code}));
    }
    if findings.rf_lookup {
        let codes = [
            ("RFM96Feilkode", &failures.rf_prescriptions),
            ("RFM912Feilkode", &failures.rf_pll),
        ];
        for (name, failure) in codes {
            let code = failure
                .as_ref()
                .map_or_else(|| error_code("0", "OK", None), lookup_code);
            parameters.push(json!({"name": name, "valueCodeableConcept": code}));
        }
    }
    let flags = [
        ("KJHarLegemidler", findings.kj_has_medication),
        ("KJHarLaste", findings.kj_has_locked),
        ("RFHarLaste", findings.rf_has_locked),
    ];
    for (name, flag) in flags {
        parameters.push(json!({"name": name, "valueBoolean": flag}));
    }
    json!({"resourceType": "Parameters", "parameter": parameters})
}

/// Who the document is by: the caller as a Practitioner, and the instance's Organization.
struct Authors {
    practitioner: Value,
    practitioner_display: String,
    organization: Value,
    /// The Organization's HER-id.
    her: String,
}

impl Authors {
    /// The caller (with `hpr`) and `tenant`'s Organization as the document carries them.
    fn of(tenant: &Tenant, caller: &Caller, hpr: &str) -> Self {
        let practitioner = super::practitioner_for(tenant, caller, hpr);
        let practitioner_display = super::practitioner_display(&practitioner, hpr);
        let (organization, her) = tenant
            .organization()
            .map(|(_, o)| {
                let o =
                    super::with_profile(as_bundle_organization(&o.current()), "sfm-Organization");
                let her = crate::sfm::model::identifier_value(&o, crate::sfm::model::HER_SYSTEM)
                    .unwrap_or_default()
                    .to_owned();
                (o, her)
            })
            .unwrap_or_else(|| (json!({"resourceType": "Organization"}), String::new()));
        Self {
            practitioner,
            practitioner_display,
            organization,
            her,
        }
    }
}

/// A lookup's `document` Bundle being rendered: the patient, the content entries in the real
/// answer's order, and the references each Composition section lists.
struct Document<'a> {
    patient_urn: String,
    /// The patient as the document's Patient entry.
    patient: Value,
    /// The reference to the patient.
    subject: Value,
    entries: Vec<Value>,
    sections: Sections,
    /// Per ReseptId: the statement (urn, display), for the M25.3 deliveries.
    statement_of: HashMap<&'a str, (String, String)>,
    /// Per ReseptId: its dispenses, for the M25.3 deliveries.
    dispenses_of: DispensesShown<'a>,
}

impl<'a> Document<'a> {
    /// An empty document about the input's patient.
    fn new(input: &GetInput) -> Self {
        let patient_urn = urn();
        let mut patient = input.patient.clone();
        if patient.get("id").is_none() {
            patient["id"] = json!(uuid::Uuid::new_v4().to_string());
        }
        as_sfm_addresses(&mut patient);
        Self {
            subject: reference(&patient_urn, "sfm-Patient", &input.identity.display),
            patient: super::with_profile(patient, "sfm-Patient"),
            patient_urn,
            entries: Vec::new(),
            sections: Sections::default(),
            statement_of: HashMap::new(),
            dispenses_of: HashMap::new(),
        }
    }

    /// The statements: each Medication, then its statement, then its dispenses (as the real
    /// answer).
    fn add_statements(&mut self, view: &[ViewEntry<'a>]) {
        for v in view {
            let statement_urn = urn();
            let medication_urn = urn();
            let mut statement_json = v.statement();
            render::point(&mut statement_json, &self.subject, &medication_urn);
            let display = v.entry.display();
            self.sections.medication.push(reference(
                &statement_urn,
                "sfm-MedicationStatement",
                &display,
            ));
            self.entries
                .push(json!({"fullUrl": medication_urn, "resource": v.entry.medication}));
            self.entries
                .push(json!({"fullUrl": statement_urn, "resource": statement_json}));
            if let Some(p) = v.prescription {
                self.statement_of
                    .insert(p.id(), (statement_urn.clone(), display.clone()));
                self.add_dispenses(p, &medication_urn, &statement_urn);
            }
        }
    }

    /// The dispenses (M10) of the prescription `p`, whose statement and medication are in the
    /// document.
    fn add_dispenses(&mut self, p: &'a Prescription, medication_urn: &str, statement_urn: &str) {
        for d in &p.dispenses {
            let dispense_urn = urn();
            self.dispenses_of.entry(p.id()).or_default().push((
                d.id.as_str(),
                d.at,
                dispense_urn.clone(),
            ));
            self.sections.dispense.push(reference(
                &dispense_urn,
                "sfm-MedicationDispense",
                "sfm-MedicationDispense",
            ));
            let resource = render::dispense(d, p, &self.subject, medication_urn, statement_urn);
            self.entries
                .push(json!({"fullUrl": dispense_urn, "resource": resource}));
        }
    }

    /// The PLL (M25.1) with the multidose roles, then the pharmacy's multidose messages (M25.2,
    /// M25.3).
    fn add_pll(&mut self, pll: &Pll, multidose: Option<&Multidose>) {
        let mut related = Vec::new();
        if let Some(m) = multidose {
            for role in render::multidose_roles(m) {
                let role_urn = urn();
                related.push(reference(
                    &role_urn,
                    "sfm-PractitionerRole",
                    &role_display(&role),
                ));
                self.entries
                    .push(json!({"fullUrl": role_urn, "resource": role}));
            }
        }
        let basic_urn = urn();
        self.sections
            .pll
            .push(reference(&basic_urn, "sfm-PLL-info", "M25.1"));
        let basic = render::pll_info(pll, &self.subject, &related);
        self.entries
            .push(json!({"fullUrl": basic_urn, "resource": basic}));
        if let Some(m) = multidose.filter(|m| !m.messages.is_empty()) {
            self.add_pharmacy_messages(m, &related);
        }
    }

    /// The pharmacy's multidose messages, after their author.
    fn add_pharmacy_messages(&mut self, m: &Multidose, related: &[Value]) {
        let author_urn = urn();
        let author_role = render::pharmacy_author_role(m);
        let author = reference(
            &author_urn,
            "sfm-PractitionerRole",
            &role_display(&author_role),
        );
        self.entries
            .push(json!({"fullUrl": author_urn, "resource": author_role}));
        for message in &m.messages {
            let deliveries: Vec<Value> = message
                .deliveries
                .iter()
                .filter_map(|d| delivery(d, message.date, &self.statement_of, &self.dispenses_of))
                .collect();
            let message_urn = urn();
            self.sections
                .pll
                .push(reference(&message_urn, "sfm-PLL-info", message.kind.code()));
            let resource = render::pharmacy_message(message, related, &author, deliveries);
            self.entries
                .push(json!({"fullUrl": message_urn, "resource": resource}));
        }
    }

    /// Kjernejournal's allergies.
    fn add_allergies(&mut self, allergies: &[Allergy]) {
        for a in allergies {
            let allergy_urn = urn();
            let reference = json!({
                "reference": allergy_urn, "type": "AllergyIntolerance", "display": a.substance
            });
            self.sections.allergies.push(reference);
            let resource = render::allergy(a, &self.subject);
            self.entries
                .push(json!({"fullUrl": allergy_urn, "resource": resource}));
        }
    }

    /// The Bundle, in the real answer's order: the Composition, its authors, the patient, then
    /// the content; `source` in meta, `total` (the entries), no identifier.
    fn into_bundle(
        self,
        authors: Authors,
        composition_id: &str,
        now: DateTime<Utc>,
        fhir_base: &str,
    ) -> Value {
        let practitioner_urn = urn();
        let organization_urn = urn();
        let author = [
            reference(
                &practitioner_urn,
                "sfm-Practitioner",
                &authors.practitioner_display,
            ),
            reference(
                &organization_urn,
                "sfm-Organization",
                &format!("HER: {}", authors.her),
            ),
        ];
        let composition = composition(&self.subject, self.sections, composition_id, author, now);
        let mut all = vec![
            json!({"fullUrl": urn(), "resource": composition}),
            json!({"fullUrl": practitioner_urn, "resource": authors.practitioner}),
            json!({"fullUrl": organization_urn, "resource": authors.organization}),
            json!({"fullUrl": self.patient_urn, "resource": self.patient}),
        ];
        all.extend(self.entries);
        json!({
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
        })
    }
}

/// What each section of the Composition lists.
#[derive(Debug, Default)]
struct Sections {
    medication: Vec<Value>,
    pll: Vec<Value>,
    allergies: Vec<Value>,
    dispense: Vec<Value>,
}

/// The Composition about `subject`: by `author`, with its `sections`.
fn composition(
    subject: &Value,
    sections: Sections,
    composition_id: &str,
    author: [Value; 2],
    now: DateTime<Utc>,
) -> Value {
    json!({
        "resourceType": "Composition",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": {"profile": [format!("{PROFILE_BASE}sfm-MedicationComposition")]},
        "identifier": {"use": "official", "value": composition_id},
        "status": "final",
        "type": {"coding": [
            {"system": "http://loinc.org", "code": "11503-0", "display": "Medical records"}
        ]},
        "subject": subject,
        // A date, as the real answer's (2024-01-25).
        "date": now.format("%Y-%m-%d").to_string(),
        "author": author,
        "title": "Medication summary",
        "confidentiality": "N",
        "section": [
            section("sectionMedication", "List of Medication statements", "Medication",
                "List of medications", sections.medication),
            section("sectionPLLinfo", "PLL Info", "PllInfo", "Info read from M25", sections.pll),
            section("sectionAllergies", "Section allergies", "Allergies", "", sections.allergies),
            section("sectionDispense", "Section dispense", "sectionDispense",
                "List of dispense messages", sections.dispense),
            section("sectionOtherPrescriptions", "List of non medical prescriptions",
                "Other Prescriptions", "", Vec::new()),
        ],
    })
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
        json!({
            "url": "prescriptionId",
            "valueReference": reference(statement_urn, "sfm-MedicationStatement", display)
        }),
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
        parts.push(json!({
            "url": "deliverydoc",
            "valueReference": reference(
                dispense_urn,
                "sfm-MedicationDispense",
                "sfm-MedicationDispense"
            )
        }));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NationalId;
    use crate::national::{Entry, RfStatus};

    const FNR: &str = "12050050295";

    fn input(national_id: bool, refnums: &[&str]) -> GetInput {
        GetInput {
            patient: json!({"resourceType": "Patient"}),
            identity: PatientIdentity {
                key: FNR.to_owned(),
                national_id: national_id.then(|| NationalId::parse(FNR).unwrap()),
                display: "Kari Nordmann".to_owned(),
            },
            refnums: refnums.iter().map(|r| r.to_string()).collect(),
            kj_consent: None,
            blocked_consent: None,
            locked_consent: None,
        }
    }

    fn prescription(id: &str, locked: bool, refnum: Option<&str>) -> Prescription {
        let statement = json!({
            "resourceType": "MedicationStatement",
            "identifier": [{"type": {"text": "ReseptId"}, "value": id}],
            "status": "active",
            "medicationReference": {"display": format!("Medication {id}")},
        });
        Prescription {
            entry: Entry::new(statement, json!({"resourceType": "Medication"})),
            status: RfStatus::Ekspederbar,
            locked,
            refnum: refnum.map(str::to_owned),
            dispenser: None,
            recall_pending: false,
            dispenses: Vec::new(),
        }
    }

    /// A patient with an ordinary prescription and a locked one (reference number ABC).
    fn record() -> NationalPatient {
        let mut patient = NationalPatient::new(FNR, DateTime::UNIX_EPOCH);
        patient.prescriptions = vec![
            prescription("r-open", false, None),
            prescription("r-locked", true, Some("ABC")),
        ];
        patient
    }

    fn shown(findings: &Findings<'_>) -> Vec<String> {
        findings.view.iter().map(|v| v.id().to_owned()).collect()
    }

    #[test]
    fn a_patient_with_national_id_sees_every_prescription_but_the_locked_ones() {
        let record = record();
        let findings = Findings::decide(&input(true, &[]), &record, &Tenant::default());
        assert!(findings.rf_lookup && findings.rf_has_locked);
        assert!(!findings.kj_lookup && !findings.kj_ok);
        assert_eq!(shown(&findings), ["r-open"]);
        let required: Vec<(Required, &str)> = findings
            .requirements
            .iter()
            .map(|r| (r.what, r.id.as_str()))
            .collect();
        assert_eq!(required, [(Required::Prescription, "r-open")]);
    }

    #[test]
    fn a_patient_without_national_id_sees_only_what_the_reference_numbers_name() {
        let record = record();
        let findings = Findings::decide(&input(false, &["ABC"]), &record, &Tenant::default());
        assert!(findings.rf_lookup);
        assert_eq!(shown(&findings), ["r-locked"]);

        let findings = Findings::decide(&input(false, &[]), &record, &Tenant::default());
        assert!(!findings.rf_lookup && !findings.rf_has_locked);
        assert!(findings.view.is_empty() && findings.requirements.is_empty());
    }

    #[test]
    fn kjernejournal_is_asked_with_consent_but_answers_only_with_access() {
        let record = record();
        let mut consented = input(true, &[]);
        consented.kj_consent = Some("HPAKUTT".to_owned());
        let no_access = Tenant {
            kjernejournal_access: false,
            ..Tenant::default()
        };
        let findings = Findings::decide(&consented, &record, &no_access);
        assert!(findings.kj_lookup && !findings.kj_ok);
        assert!(!findings.kj_has_medication && findings.allergies.is_empty());
        let findings = Findings::decide(&consented, &record, &Tenant::default());
        assert!(findings.kj_lookup && findings.kj_ok);
    }

    #[test]
    fn the_lookup_remembers_when_reseptformidleren_was_asked() {
        let record = record();
        let now = DateTime::UNIX_EPOCH;
        let asked = Findings::decide(&input(true, &[]), &record, &Tenant::default());
        let lookup = asked.into_lookup(&input(true, &[]), "c-1".to_owned(), now);
        assert_eq!((lookup.rf_at, lookup.requirements.len()), (Some(now), 1));
        let not_asked = Findings::decide(&input(false, &[]), &record, &Tenant::default());
        let lookup = not_asked.into_lookup(&input(false, &[]), "c-2".to_owned(), now);
        assert_eq!((lookup.rf_at, lookup.national_id), (None, false));
    }
}
