//! The portal's edits of the medication document, as an EHR with its own GUI would make them
//! before `$sendMedication`: a new prescription (`createresept`), a renewal (a new prescription
//! that withdraws the old one, `recallinfo` with reason Forny), a withdrawal (reason
//! Seponering), and a new PLL (`createPLL`). Pure functions over the document; the shared send
//! code then checks and applies them.

use chrono::{DateTime, Months, Utc};
use serde_json::{Value, json};

use crate::national::events::recall_info;
use crate::national::statement::{
    self, DISCONTINUATION, ITEM_GROUP_SYSTEM, PLL_INFORMATION, RESEPTAMENDMENT, set_amendment_part,
};
use crate::sfm::medication::PROFILE_BASE;

/// Volven 7500's reason for a renewal (guessed code: the register names the reasons Forny, Forny
/// med endring, Seponering and Annet; NHN's example gives Seponering the code 2).
pub const RECALL_RENEW: (&str, &str) = ("1", "Forny");
/// Volven 7500's reason for stopping a medication.
pub const RECALL_STOP: (&str, &str) = ("2", "Seponering");

/// A prescription the clinician writes in the portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPrescription {
    /// The medication's name.
    pub name: String,
    /// The dosage, in words ("1 tablett daglig").
    pub dosage: String,
}

/// The `$sendMedication` Parameters carrying `document`, its Composition naming the lookup it
/// replaces.
pub fn send_body(document: &Value) -> Value {
    let mut document = document.clone();
    let id = document
        .pointer("/entry/0/resource/identifier/value")
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(composition) = document.pointer_mut("/entry/0/resource") {
        composition["relatesTo"] = json!([{"code": "replaces", "targetIdentifier": {"value": id}}]);
    }
    json!({
        "resourceType": "Parameters",
        "parameter": [{"name": "medication", "resource": document}]
    })
}

fn entries_mut(document: &mut Value) -> Option<&mut Vec<Value>> {
    document.get_mut("entry").and_then(Value::as_array_mut)
}

/// The statement whose ReseptId is `resept_id`.
fn statement_mut<'a>(document: &'a mut Value, resept_id: &str) -> Option<&'a mut Value> {
    entries_mut(document)?
        .iter_mut()
        .filter_map(|e| e.get_mut("resource"))
        .find(|r| {
            r.get("resourceType").and_then(Value::as_str) == Some("MedicationStatement")
                && statement::resept_id(r) == Some(resept_id)
        })
}

fn date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// The prescription parts of `sfm-reseptamendment` for a prescription written `now`: asked to
/// be sent, valid a year.
fn prescribe_parts(statement: &mut Value, now: DateTime<Utc>) {
    let expires = now.checked_add_months(Months::new(12)).unwrap_or(now);
    for part in [
        json!({"url": "createresept", "valueBoolean": true}),
        json!({"url": "reseptdate", "valueDate": date(now)}),
        json!({"url": "expirationdate", "valueDate": date(expires)}),
    ] {
        set_amendment_part(statement, part);
    }
}

fn identifier(type_text: &str, value: &str) -> Value {
    json!({"use": "usual", "type": {"text": type_text}, "value": value})
}

/// Adds a new prescription (with its Medication, and a PLL id so a later PLL carries it);
/// its ReseptId.
pub fn add_prescription(document: &mut Value, new: &NewPrescription, now: DateTime<Utc>) -> String {
    let resept_id = uuid::Uuid::new_v4().to_string();
    let medication_urn = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    let subject = document
        .pointer("/entry/0/resource/subject")
        .cloned()
        .unwrap_or(Value::Null);
    let mut statement = json!({
        "resourceType": "MedicationStatement",
        "meta": {"profile": [format!("{PROFILE_BASE}sfm-MedicationStatement")]},
        "extension": [{"url": RESEPTAMENDMENT, "extension": [
            {"url": "dssn", "valueString": new.dosage},
            {"url": "numberofpackages", "valueDecimal": 1},
            {"url": "reit", "valueString": "0"},
            {"url": "itemgroup", "valueCodeableConcept": {"coding": [
                {"system": ITEM_GROUP_SYSTEM, "code": "L", "display": "Legemiddel"}
            ]}}
        ]}],
        "identifier": [
            identifier("PLL", &uuid::Uuid::new_v4().to_string()),
            identifier("ReseptId", &resept_id),
        ],
        "status": "active",
        "medicationReference": {"reference": medication_urn, "display": new.name},
        "subject": subject,
        "dateAsserted": crate::sfm::model::fhir_instant(now),
        "dosage": [{"sequence": 1, "text": new.dosage}],
    });
    prescribe_parts(&mut statement, now);
    let medication = json!({
        "resourceType": "Medication",
        "meta": {"profile": [format!("{PROFILE_BASE}sfm-Medication")]},
        "code": {"text": new.name},
    });
    if let Some(entries) = entries_mut(document) {
        entries.push(
            json!({"fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()),
                            "resource": statement}),
        );
        entries.push(json!({"fullUrl": medication_urn, "resource": medication}));
    }
    resept_id
}

/// Renews the prescription `resept_id`: the statement becomes a new prescription (new ReseptId,
/// same PLL entry) that withdraws the old one. The new ReseptId, or `None` when the document
/// has no such prescription.
pub fn renew(document: &mut Value, resept_id: &str, now: DateTime<Utc>) -> Option<String> {
    let statement = statement_mut(document, resept_id)?;
    let new_id = uuid::Uuid::new_v4().to_string();
    if let Some(ids) = statement
        .get_mut("identifier")
        .and_then(Value::as_array_mut)
    {
        for id in ids.iter_mut() {
            if id.pointer("/type/text").and_then(Value::as_str) == Some("ReseptId") {
                id["value"] = json!(new_id);
            }
        }
    }
    prescribe_parts(statement, now);
    set_amendment_part(statement, recall_info(Some(resept_id), RECALL_RENEW));
    Some(new_id)
}

/// Stops the prescription `resept_id`: withdrawn (M5, reason Seponering) and discontinued now.
/// `None` when the document has no such prescription.
pub fn stop(document: &mut Value, resept_id: &str, now: DateTime<Utc>) -> Option<()> {
    let statement = statement_mut(document, resept_id)?;
    statement["status"] = json!("stopped");
    set_amendment_part(statement, recall_info(None, RECALL_STOP));
    let discontinuation = json!({"url": DISCONTINUATION, "extension": [
        {"url": "timedate", "valueDateTime": crate::sfm::model::fhir_instant(now)}
    ]});
    let extensions = statement
        .as_object_mut()?
        .entry("extension")
        .or_insert_with(|| json!([]));
    let extensions = extensions.as_array_mut()?;
    extensions.retain(|e| e.get("url").and_then(Value::as_str) != Some(DISCONTINUATION));
    extensions.push(discontinuation);
    Some(())
}

/// Leaves out of a new PLL the withdrawn statement of a renewed entry: where two statements
/// share a PLL id (the old prescription, withdrawn, and its renewal), the withdrawn one
/// (Reseptformidleren's status T) loses the PLL id, so the PLL holds the entry once, as the
/// renewal.
pub fn drop_renewed(document: &mut Value) {
    let Some(entries) = entries_mut(document) else {
        return;
    };
    let statements: Vec<&mut Value> = entries
        .iter_mut()
        .filter_map(|e| e.get_mut("resource"))
        .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("MedicationStatement"))
        .collect();
    let ids: Vec<Option<String>> = statements
        .iter()
        .map(|r| statement::pll_id(r).map(str::to_owned))
        .collect();
    for (statement, id) in statements.into_iter().zip(&ids) {
        let shared = id
            .as_ref()
            .is_some_and(|id| ids.iter().filter(|p| p.as_ref() == Some(id)).count() > 1);
        if shared
            && withdrawn(statement)
            && let Some(list) = statement
                .get_mut("identifier")
                .and_then(Value::as_array_mut)
        {
            list.retain(|i| i.pointer("/type/text").and_then(Value::as_str) != Some("PLL"));
        }
    }
}

/// Whether Reseptformidleren has withdrawn the statement's prescription (status T).
fn withdrawn(statement: &Value) -> bool {
    statement::amendment_part(statement, "rfstatus")
        .and_then(|rf| statement::extension(rf, "status"))
        .and_then(|s| s.pointer("/valueCodeableConcept/coding/0/code"))
        .and_then(Value::as_str)
        == Some("T")
}

fn is_pll_info(resource: &Value) -> bool {
    resource.get("resourceType").and_then(Value::as_str) == Some("Basic")
        && (resource
            .pointer("/meta/profile/0")
            .and_then(Value::as_str)
            .is_some_and(|p| p.ends_with("sfm-PLL-info"))
            || resource
                .pointer("/code/coding/0/code")
                .and_then(Value::as_str)
                == Some("M25.1"))
}

/// Sets `createPLL` in every sfm-PLL-info of the document (the flag is mandatory there); with
/// `create` and no PLL yet, adds an sfm-PLL-info asking for one.
pub fn set_create_pll(document: &mut Value, create: bool) {
    let subject = document
        .pointer("/entry/0/resource/subject")
        .cloned()
        .unwrap_or(Value::Null);
    let Some(entries) = entries_mut(document) else {
        return;
    };
    let flag = json!({"url": "createPLL", "valueBoolean": create});
    let mut found = false;
    for resource in entries.iter_mut().filter_map(|e| e.get_mut("resource")) {
        if !is_pll_info(resource) {
            continue;
        }
        found = true;
        let Some(extensions) = resource
            .as_object_mut()
            .map(|o| o.entry("extension").or_insert_with(|| json!([])))
        else {
            continue;
        };
        let Some(list) = extensions.as_array_mut() else {
            continue;
        };
        match list
            .iter_mut()
            .find(|e| e.get("url").and_then(Value::as_str) == Some(PLL_INFORMATION))
        {
            Some(info) => {
                if let Some(parts) = info.get_mut("extension").and_then(Value::as_array_mut) {
                    parts.retain(|p| p.get("url").and_then(Value::as_str) != Some("createPLL"));
                    parts.push(flag.clone());
                } else {
                    info["extension"] = json!([flag.clone()]);
                }
            }
            None => list.push(json!({"url": PLL_INFORMATION, "extension": [flag.clone()]})),
        }
    }
    if create && !found {
        entries.push(
            json!({"fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()), "resource": {
                "resourceType": "Basic",
                "meta": {"profile": [format!("{PROFILE_BASE}sfm-PLL-info")]},
                "extension": [{"url": PLL_INFORMATION, "extension": [flag]}],
                "code": {"coding": [{"system": "http://ehelse.no/fhir/CodeSystem/sfm-message-type",
                                     "code": "M25.1", "display": "PLL"}]},
                "subject": subject,
            }}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn document() -> Value {
        json!({"resourceType": "Bundle", "type": "document", "entry": [
            {"fullUrl": "urn:uuid:c", "resource": {"resourceType": "Composition",
             "identifier": {"value": "lookup-1"}, "subject": {"reference": "urn:uuid:p"}}},
            {"fullUrl": "urn:uuid:s", "resource": {"resourceType": "MedicationStatement",
             "identifier": [identifier("PLL", "pll-1"), identifier("ReseptId", "r-1")],
             "status": "active", "medicationReference": {"reference": "urn:uuid:m"}}}
        ]})
    }

    #[test]
    fn a_send_names_the_lookup_it_replaces() {
        let body = send_body(&document());
        assert_eq!(
            body["parameter"][0]["resource"]["entry"][0]["resource"]["relatesTo"],
            json!([{"code": "replaces", "targetIdentifier": {"value": "lookup-1"}}])
        );
    }

    #[test]
    fn a_renewal_is_a_new_prescription_withdrawing_the_old() {
        let mut doc = document();
        let new_id = renew(&mut doc, "r-1", now()).unwrap();
        let s = &doc["entry"][1]["resource"];
        assert_eq!(statement::resept_id(s), Some(new_id.as_str()));
        assert_eq!(statement::pll_id(s), Some("pll-1"));
        assert!(statement::creates_prescription(s));
        let recall = statement::recall(s).unwrap();
        assert_eq!(recall.resept_id.as_deref(), Some("r-1"));
        assert_eq!(recall.code.as_deref(), Some("1"));
        assert!(renew(&mut doc, "r-unknown", now()).is_none());
    }

    #[test]
    fn stopping_withdraws_and_discontinues() {
        let mut doc = document();
        stop(&mut doc, "r-1", now()).unwrap();
        let s = &doc["entry"][1]["resource"];
        assert_eq!(s["status"], "stopped");
        let recall = statement::recall(s).unwrap();
        assert_eq!(recall.resept_id.as_deref(), Some("r-1"));
        assert_eq!(recall.code.as_deref(), Some("2"));
        assert_eq!(statement::discontinued_at(s), Some(now()));
    }

    #[test]
    fn a_new_prescription_has_its_medication_and_both_ids() {
        let mut doc = document();
        let new = NewPrescription {
            name: "Paracet tab 500 mg".into(),
            dosage: "1 tablett ved behov".into(),
        };
        let id = add_prescription(&mut doc, &new, now());
        let s = &doc["entry"][2]["resource"];
        assert_eq!(statement::resept_id(s), Some(id.as_str()));
        assert!(statement::pll_id(s).is_some() && statement::creates_prescription(s));
        assert_eq!(
            s["medicationReference"]["reference"],
            doc["entry"][3]["fullUrl"]
        );
        assert_eq!(s["subject"], json!({"reference": "urn:uuid:p"}));
    }

    #[test]
    fn create_pll_is_set_everywhere_and_added_when_missing() {
        let mut doc = document();
        set_create_pll(&mut doc, false);
        assert_eq!(doc["entry"].as_array().unwrap().len(), 2, "nothing added");
        set_create_pll(&mut doc, true);
        let basic = &doc["entry"][2]["resource"];
        assert!(is_pll_info(basic));
        assert_eq!(basic["extension"][0]["extension"][0]["valueBoolean"], true);
        set_create_pll(&mut doc, false);
        assert_eq!(
            doc["entry"][2]["resource"]["extension"][0]["extension"][0]["valueBoolean"],
            false
        );
    }
}
