//! The `$sendMedication` document: the edited sfm-MedicationBundle, read and checked for what
//! SFM needs before its rules apply (a Composition first, a resolvable patient, statements that
//! say what they are, `createPLL`, references that resolve inside the document).

use std::collections::HashMap;

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use serde_json::{Value, json};

use super::get::read_parameters;
use super::outage::result_code;
use super::rules::RelatesTo;
use super::{PROFILE_BASE, PatientIdentity, patient_identity};
use crate::errors::fhir::{FhirError, Issue};
use crate::national::outages::FailureAnswer;
use crate::national::statement::{self, PLL_INFORMATION};
use crate::sfm::fhir::FromFhirBody;

const BUNDLE: &str = "Parameters.parameter[0].resource";

/// A statement of the document.
#[derive(Debug, Clone, PartialEq)]
pub struct SentStatement {
    /// Its index in `Bundle.entry`.
    pub index: usize,
    /// The statement.
    pub statement: Value,
    /// The Medication it names.
    pub medication: Value,
}

/// A `$sendMedication` document.
#[derive(Debug, Clone, PartialEq)]
pub struct SendDocument {
    /// The Composition's relatesTo.
    pub relates_to: Option<RelatesTo>,
    /// The patient.
    pub patient: Value,
    /// Who the patient is.
    pub identity: PatientIdentity,
    /// The MedicationStatements.
    pub statements: Vec<SentStatement>,
    /// Whether a PLL is to be created (`createPLL` in sfm-PLL-info).
    pub create_pll: bool,
    /// Every entry, by `fullUrl` (and `Type/id`).
    entries: HashMap<String, Value>,
}

/// Turns the spec's printed single-object `relatesTo` into the R4 list, so the document parses.
pub fn normalise_relates_to(parameters: &mut Value) {
    let Some(params) = parameters
        .get_mut("parameter")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for p in params {
        let Some(entries) = p
            .pointer_mut("/resource/entry")
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for entry in entries {
            if let Some(composition) = entry
                .get_mut("resource")
                .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("Composition"))
                && let Some(relates_to) = composition.get_mut("relatesTo")
                && relates_to.is_object()
            {
                *relates_to = Value::Array(vec![relates_to.take()]);
            }
        }
    }
}

fn bad(issues: Vec<Issue>) -> FhirError {
    FhirError::with_issues(StatusCode::BAD_REQUEST, issues)
}

impl SendDocument {
    /// Reads the document out of the Parameters body; every problem is an issue.
    pub fn parse(body: &Value) -> Result<Self, FhirError> {
        let mut issues = Vec::new();
        let Some(bundle) = medication_bundle(body, &mut issues) else {
            return Err(bad(issues));
        };
        if bundle.get("type").and_then(Value::as_str) != Some("document") {
            issues.push(
                Issue::error(
                    "invalid",
                    "The medication Bundle must be of type 'document'",
                )
                .at(format!("{BUNDLE}.type")),
            );
        }
        let list: Vec<&Value> = bundle
            .get("entry")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let entries = index_entries(&list, &mut issues);
        let composition = list
            .first()
            .and_then(|e| e.get("resource"))
            .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("Composition"));
        let Some(composition) = composition else {
            issues.push(
                Issue::error(
                    "required",
                    "The first entry of the document must be its Composition",
                )
                .at(format!("{BUNDLE}.entry[0]")),
            );
            return Err(bad(issues));
        };
        let relates_to = relates_to(composition);
        let patient = composition
            .pointer("/subject/reference")
            .and_then(Value::as_str)
            .and_then(|reference| entries.get(reference))
            .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("Patient"))
            .cloned();
        let identity = identity(patient.as_ref(), &mut issues);
        let (statements, create_pll) = read_content(&list, &entries, &mut issues);
        let sends_prescription = statements
            .iter()
            .any(|s| statement::creates_prescription(&s.statement));
        if (create_pll || sends_prescription)
            && patient.as_ref().is_some_and(|p| {
                p.get("address")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty)
            })
        {
            issues.push(
                Issue::error(
                    "required",
                    "The Patient needs an address when a prescription or a PLL is sent",
                )
                .at("Patient.address"),
            );
        }
        match (patient, identity) {
            (Some(patient), Some(identity)) if issues.is_empty() => Ok(Self {
                relates_to,
                patient,
                identity,
                statements,
                create_pll,
                entries,
            }),
            _ => Err(bad(issues)),
        }
    }

    /// A statement prepared for the national systems: read-only parts stripped, `subject` a
    /// logical reference to the patient, references to other entries made logical (identifier +
    /// display) so they survive outside the document.
    pub fn localise(&self, resource: &Value) -> Value {
        let mut value = resource.clone();
        if let Some(subject) = value.get_mut("subject") {
            *subject = crate::national::patient_reference(&self.identity.key);
        }
        statement::strip_read_only(&mut value);
        self.localise_references(&mut value, true);
        value
    }

    fn localise_references(&self, value: &mut Value, top: bool) {
        match value {
            Value::Object(object) => {
                for (key, child) in object.iter_mut() {
                    if top && key == "medicationReference" {
                        continue;
                    }
                    self.localise_references(child, false);
                }
                let target = object
                    .get("reference")
                    .and_then(Value::as_str)
                    .filter(|r| r.starts_with("urn:uuid:"))
                    .and_then(|r| self.entries.get(r));
                if let Some(target) = target {
                    object.remove("reference");
                    if let Some(identifier) = target
                        .pointer("/identifier/0")
                        .or_else(|| target.get("identifier").filter(|i| i.is_object()))
                    {
                        object.insert("identifier".to_owned(), identifier.clone());
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.localise_references(item, false);
                }
            }
            _ => {}
        }
    }
}

/// The `medication` Bundle of the Parameters body: exactly one `medication`, the first parameter.
/// `None` (with an issue) when there is no Bundle.
fn medication_bundle<'a>(body: &'a Value, issues: &mut Vec<Issue>) -> Option<&'a Value> {
    let mut bundle = None;
    for (i, name, p) in super::get::parameters(body) {
        match name {
            "medication" if bundle.is_none() && i == 0 => bundle = p.get("resource"),
            "medication" => issues.push(
                Issue::error(
                    "invalid",
                    "$sendMedication takes exactly one parameter medication, as the first \
                     parameter",
                )
                .at(format!("Parameters.parameter[{i}]")),
            ),
            other => issues.push(
                Issue::error(
                    "not-supported",
                    format!(
                        "Unknown parameter '{other}' for $sendMedication; it takes medication \
                         (the edited sfm-MedicationBundle)"
                    ),
                )
                .at(format!("Parameters.parameter[{i}]")),
            ),
        }
    }
    let bundle = bundle.filter(|b| b.get("resourceType").and_then(Value::as_str) == Some("Bundle"));
    if bundle.is_none() {
        issues.push(
            Issue::error(
                "required",
                "$sendMedication needs the parameter medication: the sfm-MedicationBundle from \
                 $getMedication, edited",
            )
            .at("Parameters.parameter[0].resource"),
        );
    }
    bundle
}

/// Every entry's resource by `fullUrl` and by `Type/id` (the first with it); an entry without a
/// resource is an issue.
fn index_entries(list: &[&Value], issues: &mut Vec<Issue>) -> HashMap<String, Value> {
    let mut entries = HashMap::new();
    for (i, entry) in list.iter().enumerate() {
        let Some(resource) = entry.get("resource") else {
            issues.push(
                Issue::error("required", "Every entry needs its resource")
                    .at(format!("{BUNDLE}.entry[{i}]")),
            );
            continue;
        };
        if let Some(full_url) = entry.get("fullUrl").and_then(Value::as_str) {
            entries.insert(full_url.to_owned(), resource.clone());
        }
        if let (Some(t), Some(id)) = (
            resource.get("resourceType").and_then(Value::as_str),
            resource.get("id").and_then(Value::as_str),
        ) {
            entries
                .entry(format!("{t}/{id}"))
                .or_insert_with(|| resource.clone());
        }
    }
    entries
}

/// The Composition's `relatesTo`: the `replaces` one, else the first.
fn relates_to(composition: &Value) -> Option<RelatesTo> {
    let list = composition.get("relatesTo").and_then(Value::as_array)?;
    let index = list
        .iter()
        .position(|r| r.get("code").and_then(Value::as_str) == Some("replaces"))
        .unwrap_or(0);
    list.get(index).map(|r| RelatesTo {
        code: r.get("code").and_then(Value::as_str).map(str::to_owned),
        target: r
            .pointer("/targetIdentifier/value")
            .and_then(Value::as_str)
            .map(str::to_owned),
        index,
    })
}

/// Who the document's patient (the Composition's subject) is; an issue when the subject is not
/// the document's Patient or the Patient does not say who it is.
fn identity(patient: Option<&Value>, issues: &mut Vec<Issue>) -> Option<PatientIdentity> {
    let Some(patient) = patient else {
        issues.push(
            Issue::error(
                "required",
                "The Composition's subject must reference the document's Patient entry",
            )
            .at(format!("{BUNDLE}.entry[0].resource.subject")),
        );
        return None;
    };
    match patient_identity(patient, "Patient") {
        Ok(identity) => Some(identity),
        Err(mut problems) => {
            issues.append(&mut problems);
            None
        }
    }
}

/// The document's statements and whether a PLL is to be created, entry by entry; every
/// `urn:uuid:` reference must resolve in `entries`.
fn read_content(
    list: &[&Value],
    entries: &HashMap<String, Value>,
    issues: &mut Vec<Issue>,
) -> (Vec<SentStatement>, bool) {
    let mut statements = Vec::new();
    let mut create_pll = None;
    for (i, entry) in list.iter().enumerate() {
        let Some(resource) = entry.get("resource") else {
            continue;
        };
        let at = format!("{BUNDLE}.entry[{i}].resource");
        check_references(resource, entries, &at, issues);
        match resource.get("resourceType").and_then(Value::as_str) {
            Some("MedicationStatement") => {
                statements.extend(read_statement(i, resource, entries, &at, issues));
            }
            Some("Basic") if is_pll_info(resource) => match create_pll_flag(resource) {
                Some(flag) => create_pll = Some(create_pll.unwrap_or(false) || flag),
                None => issues.push(
                    Issue::error(
                        "required",
                        "createPLL is mandatory in the sfm-PLL-info's sfm-pllInformation \
                         extension (valueBoolean): true to send a new PLL, false not to",
                    )
                    .at(format!("{at}.extension")),
                ),
            },
            _ => {}
        }
    }
    (statements, create_pll.unwrap_or(false))
}

/// The MedicationStatement `resource` (entry `index`, at `at`) with the Medication it names;
/// it must say what it is (PLL id or ReseptId), a new prescription needs a GUID ReseptId.
fn read_statement(
    index: usize,
    resource: &Value,
    entries: &HashMap<String, Value>,
    at: &str,
    issues: &mut Vec<Issue>,
) -> Option<SentStatement> {
    let name = statement::display(resource);
    if statement::pll_id(resource).is_none() && statement::resept_id(resource).is_none() {
        issues.push(
            Issue::error(
                "required",
                format!(
                    "The MedicationStatement '{name}' needs an identifier with type.text 'PLL' \
                     or 'ReseptId'"
                ),
            )
            .at(format!("{at}.identifier")),
        );
    }
    if statement::creates_prescription(resource) {
        match statement::resept_id(resource) {
            Some(id) if uuid::Uuid::parse_str(id).is_ok() => {}
            Some(id) => issues.push(
                Issue::error(
                    "invalid",
                    format!(
                        "The new prescription '{name}' has ReseptId '{id}', which is not a GUID: \
                         the EHR makes a new GUID for each prescription"
                    ),
                )
                .at(format!("{at}.identifier")),
            ),
            None => issues.push(
                Issue::error(
                    "required",
                    format!(
                        "The new prescription '{name}' (createresept) needs an identifier with \
                         type.text 'ReseptId': a new GUID"
                    ),
                )
                .at(format!("{at}.identifier")),
            ),
        }
    }
    let medication = resource
        .pointer("/medicationReference/reference")
        .and_then(Value::as_str)
        .and_then(|reference| entries.get(reference))
        .filter(|m| m.get("resourceType").and_then(Value::as_str) == Some("Medication"));
    if medication.is_none() {
        issues.push(
            Issue::error(
                "required",
                format!(
                    "The MedicationStatement '{name}' must name its Medication with \
                     medicationReference to an entry of the document"
                ),
            )
            .at(format!("{at}.medicationReference")),
        );
    }
    medication.map(|m| SentStatement {
        index,
        statement: resource.clone(),
        medication: m.clone(),
    })
}

/// The `createPLL` flag of an sfm-PLL-info's sfm-pllInformation extension.
fn create_pll_flag(resource: &Value) -> Option<bool> {
    statement::extension(resource, PLL_INFORMATION).and_then(|info| {
        info.get("extension")
            .and_then(Value::as_array)?
            .iter()
            .find(|e| {
                e.get("url")
                    .and_then(Value::as_str)
                    .is_some_and(|u| u.eq_ignore_ascii_case("createPLL"))
            })
            .and_then(|e| e.get("valueBoolean"))
            .and_then(Value::as_bool)
    })
}

/// A `$sendMedication` body: a Parameters resource (the spec's single-object `relatesTo`
/// accepted) read as a [`SendDocument`].
impl FromFhirBody for SendDocument {
    fn from_body(req: &HttpRequest, body: &[u8]) -> Result<Self, FhirError> {
        Self::parse(&read_parameters(req, body, normalise_relates_to)?)
    }
}

fn is_pll_info(resource: &Value) -> bool {
    let profiled = resource
        .pointer("/meta/profile")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|p| p.as_str() == Some(&format!("{PROFILE_BASE}sfm-PLL-info")));
    profiled
        || resource
            .pointer("/code/coding/0/code")
            .and_then(Value::as_str)
            == Some("M25.1")
}

/// Every `urn:uuid:` reference must resolve inside the document.
fn check_references(
    value: &Value,
    entries: &HashMap<String, Value>,
    at: &str,
    issues: &mut Vec<Issue>,
) {
    match value {
        Value::Object(object) => {
            if let Some(reference) = object.get("reference").and_then(Value::as_str)
                && reference.starts_with("urn:uuid:")
                && !entries.contains_key(reference)
            {
                issues.push(
                    Issue::error(
                        "invalid",
                        format!(
                            "The reference {reference} does not resolve to an entry of the document"
                        ),
                    )
                    .at(format!("{at}.reference")),
                );
            }
            for (key, child) in object {
                check_references(child, entries, &format!("{at}.{key}"), issues);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_references(item, entries, &format!("{at}[{i}]"), issues);
            }
        }
        _ => {}
    }
}

/// One prescription a send sent (M1) or withdrew (M5), or did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// Its ReseptId.
    pub resept_id: String,
    /// The reference number given (M1).
    pub refnum: Option<String>,
    /// Why it was not sent (a scenario's failure).
    pub failure: Option<FailureAnswer>,
}

impl Operation {
    /// A message sent.
    pub fn sent(resept_id: String, refnum: Option<String>) -> Self {
        Self {
            resept_id,
            refnum,
            failure: None,
        }
    }

    /// A message not sent.
    pub fn failed(resept_id: String, failure: &FailureAnswer) -> Self {
        Self {
            resept_id,
            refnum: None,
            failure: Some(failure.clone()),
        }
    }
}

/// The result `Parameters` of a send: the PLL's message id and failure (when one was made).
pub fn result_parameters(
    prescription_count: usize,
    recall_count: usize,
    pll: Option<(&str, Option<&FailureAnswer>)>,
    operations: &[Operation],
) -> Value {
    let mut parameters = vec![
        json!({"name": "prescriptionCount", "valueInteger": prescription_count}),
        json!({"name": "recallCount", "valueInteger": recall_count}),
    ];
    if let Some((id, failure)) = pll {
        parameters.push(json!({"name": "PllResult", "part": [
            {"name": "PllmessageID", "valueString": id},
            {"name": "resultCode", "valueCoding": result_code(failure)}
        ]}));
    }
    for op in operations {
        let mut parts = vec![json!({"name": "reseptID", "valueString": op.resept_id})];
        if let Some(refnum) = &op.refnum {
            parts.push(json!({"name": "refnum", "valueString": refnum}));
        }
        let code = result_code(op.failure.as_ref());
        parts.push(json!({"name": "resultCode", "valueCoding": code}));
        parameters.push(json!({"name": "prescriptionOperationResult", "part": parts}));
    }
    json!({"resourceType": "Parameters", "parameter": parameters})
}
