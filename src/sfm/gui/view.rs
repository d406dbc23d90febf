//! What the portal shows of an open patient, read from the medication document of the
//! portal's latest lookup (the same document `$getMedication` answers): the patient, the
//! medication in use with Reseptformidleren's status, the PLL and (when asked) the allergies.

use serde_json::{Value, json};

use crate::national::statement::{self, PLL_INFORMATION};
use crate::sfm::model::{DNR_SYSTEM, FNR_SYSTEM, identifier_value};

/// The resources of a document Bundle.
pub fn resources(document: &Value) -> impl Iterator<Item = &Value> {
    document
        .get("entry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("resource"))
}

fn of_type<'a>(document: &'a Value, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    resources(document).filter(move |r| r.get("resourceType").and_then(Value::as_str) == Some(kind))
}

/// The patient as the portal's header shows it.
fn patient_header(patient: &Value) -> Value {
    let pid = identifier_value(patient, FNR_SYSTEM)
        .or_else(|| identifier_value(patient, DNR_SYSTEM))
        .or_else(|| {
            patient
                .pointer("/identifier/0/value")
                .and_then(Value::as_str)
        });
    json!({
        "name": crate::sfm::session::display_name(patient)
            .or_else(|| patient.pointer("/name/0/text").and_then(Value::as_str).map(str::to_owned)),
        "pid": pid,
        "birthDate": patient.get("birthDate"),
        "gender": patient.get("gender"),
    })
}

/// Reseptformidleren's status of a statement's prescription: (code, name, recall pending).
fn rf_status(s: &Value) -> Option<(String, String, bool)> {
    let rf = statement::amendment_part(s, "rfstatus")?;
    let coding = statement::extension(rf, "status")?.pointer("/valueCodeableConcept/coding/0")?;
    let text = |name: &str| coding.get(name).and_then(Value::as_str).unwrap_or_default();
    let pending = statement::extension(rf, "recallStatus").is_some();
    Some((text("code").to_owned(), text("display").to_owned(), pending))
}

fn amendment_text(s: &Value, part: &str) -> Option<String> {
    statement::amendment_part(s, part)
        .and_then(statement::extension_value)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// One statement as a row of the medication list; `pll_ids` are the current PLL's entries.
fn medication_row(s: &Value, pll_ids: &[String]) -> Value {
    let resept_id = statement::resept_id(s);
    let pll_id = statement::pll_id(s);
    let rf = rf_status(s);
    let active = statement::status(s) == "active"
        && rf
            .as_ref()
            .is_some_and(|(code, _, pending)| matches!(code.as_str(), "E" | "U") && !pending);
    json!({
        "name": statement::display(s),
        "dosage": s.pointer("/dosage/0/text"),
        "status": statement::status(s),
        "reseptId": resept_id,
        "pllId": pll_id,
        "inPll": pll_id.is_some_and(|id| pll_ids.iter().any(|p| p == id)),
        "rfStatus": rf.as_ref().map(|(code, name, _)| json!({"code": code, "display": name})),
        "recallPending": rf.as_ref().is_some_and(|(_, _, pending)| *pending),
        "reseptDate": amendment_text(s, "reseptdate"),
        "refnum": amendment_text(s, "refnum"),
        "canRenew": resept_id.is_some() && active,
        "canStop": resept_id.is_some() && active,
    })
}

/// The PLL (M25.1) the document shows.
fn pll(document: &Value) -> Value {
    of_type(document, "Basic")
        .find(|b| b.pointer("/code/coding/0/code").and_then(Value::as_str) == Some("M25.1"))
        .map(|b| {
            let date = statement::extension(b, PLL_INFORMATION)
                .and_then(|info| statement::extension(info, "PLLdate"))
                .and_then(statement::extension_value);
            json!({
                "messageId": b.get("id"),
                "date": date,
                "author": b.pointer("/author/display"),
            })
        })
        .unwrap_or(Value::Null)
}

fn allergies(document: &Value) -> Vec<Value> {
    of_type(document, "AllergyIntolerance")
        .map(|a| {
            json!({
                "substance": a.pointer("/code/text"),
                "criticality": a.get("criticality"),
                "reaction": a.pointer("/reaction/0/manifestation/0/text"),
            })
        })
        .collect()
}

/// The portal's view of the open patient.
pub fn render(
    patient: &Value,
    document: &Value,
    pll_ids: &[String],
    show_allergies: bool,
) -> Value {
    let medication: Vec<Value> = of_type(document, "MedicationStatement")
        .map(|s| medication_row(s, pll_ids))
        .collect();
    let mut view = json!({
        "patient": patient_header(patient),
        "compositionId": document.pointer("/entry/0/resource/identifier/value"),
        "lookedUp": document.get("timestamp"),
        "medication": medication,
        "pll": pll(document),
        "showAllergies": show_allergies,
    });
    if show_allergies {
        view["allergies"] = json!(allergies(document));
    }
    view
}
