//! Reading SFM's MedicationStatements (`sfm-MedicationStatement`): their identifiers (PLL id,
//! ReseptId) and the flags in the `sfm-reseptamendment` extension that tell SFM what to send
//! (`createresept`, `recallinfo`, `refnum`, `lockedresept`). Pure functions over the JSON, so the
//! fixtures, `$getMedication` and `$sendMedication` read statements the same way.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

/// `sfm-reseptamendment`: the prescription details of a statement.
pub const RESEPTAMENDMENT: &str = "http://ehelse.no/fhir/StructureDefinition/sfm-reseptamendment";
/// `sfm-discontinuation`: when and why a statement was discontinued.
pub const DISCONTINUATION: &str = "http://ehelse.no/fhir/StructureDefinition/sfm-discontinuation";
/// `sfm-regInfo`: who registered (prescribed, discontinued) a statement.
pub const REG_INFO: &str = "http://ehelse.no/fhir/StructureDefinition/sfm-regInfo";
/// `sfm-deliverysummary`: what was dispensed (read-only, from RF).
pub const DELIVERY_SUMMARY: &str = "http://ehelse.no/fhir/StructureDefinition/sfm-deliverysummary";
/// `sfm-pllInformation`: the metadata of a PLL (in the sfm-PLL-info Basic).
pub const PLL_INFORMATION: &str = "http://ehelse.no/fhir/StructureDefinition/sfm-pllInformation";
/// ATC's code system.
pub const ATC_SYSTEM: &str = "http://www.whocc.no/atc";
/// Volven 7408, the prescription's status in Reseptformidleren.
pub const RF_STATUS_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.1.7408";
/// Volven 7500, why a prescription is recalled.
pub const RECALL_CODE_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.1.7500";
/// Volven 7402, the item group (L = medicinal product).
pub const ITEM_GROUP_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.1.7402";

/// The `identifier.type.text` of a PLL entry's id.
pub const PLL_ID_TYPE: &str = "PLL";
/// The `identifier.type.text` of a prescription's id.
pub const RESEPT_ID_TYPE: &str = "ReseptId";

/// What kind of entry a statement is, for the PLL rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A medicinal product: part of the PLL and of its validation.
    Medication,
    /// A vaccine (ATC J07): shown, but not part of the PLL.
    Vaccine,
    /// Nutrition or consumables on blue prescription (NIB/FIB; item group other than L): shown,
    /// but not part of the PLL.
    NibFib,
}

impl EntryKind {
    /// Classifies a statement by its Medication's ATC code and its item group.
    pub fn of(statement: &Value, medication: Option<&Value>) -> Self {
        let vaccine = medication
            .and_then(|m| m.pointer("/code/coding"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| {
                c.get("system").and_then(Value::as_str) == Some(ATC_SYSTEM)
                    && c.get("code")
                        .and_then(Value::as_str)
                        .is_some_and(|code| code.starts_with("J07"))
            });
        if vaccine {
            EntryKind::Vaccine
        } else if item_group(statement).is_some_and(|g| g != "L") {
            EntryKind::NibFib
        } else {
            EntryKind::Medication
        }
    }
}

/// The value of the identifier whose `type.text` is `type_text`.
pub fn identifier_of_type<'a>(resource: &'a Value, type_text: &str) -> Option<&'a str> {
    resource
        .get("identifier")
        .and_then(Value::as_array)?
        .iter()
        .find(|i| i.pointer("/type/text").and_then(Value::as_str) == Some(type_text))
        .and_then(|i| i.get("value"))
        .and_then(Value::as_str)
}

/// The PLL entry id.
pub fn pll_id(statement: &Value) -> Option<&str> {
    identifier_of_type(statement, PLL_ID_TYPE)
}

/// The ReseptId.
pub fn resept_id(statement: &Value) -> Option<&str> {
    identifier_of_type(statement, RESEPT_ID_TYPE)
}

/// The extensions of `value` with `url`.
pub fn extensions<'a>(value: &'a Value, url: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    value
        .get("extension")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |e| e.get("url").and_then(Value::as_str) == Some(url))
}

/// The first extension of `value` with `url`.
pub fn extension<'a>(value: &'a Value, url: &'a str) -> Option<&'a Value> {
    extensions(value, url).next()
}

/// The `value[x]` of an extension, whatever its type.
pub fn extension_value(extension: &Value) -> Option<&Value> {
    extension.as_object()?.iter().find_map(|(key, value)| {
        key.strip_prefix("value")
            .filter(|rest| !rest.is_empty())
            .map(|_| value)
    })
}

/// A part of the statement's `sfm-reseptamendment` extension.
pub fn amendment_part<'a>(statement: &'a Value, name: &'a str) -> Option<&'a Value> {
    extension(extension(statement, RESEPTAMENDMENT)?, name)
}

fn amendment_flag(statement: &Value, name: &str) -> bool {
    amendment_part(statement, name)
        .and_then(|p| p.get("valueBoolean"))
        .and_then(Value::as_bool)
        == Some(true)
}

/// Whether the EHR asks SFM to send this statement as a new prescription (M1). The guide spells
/// the flag both `createresept` and `createeresept`; both are honoured.
pub fn creates_prescription(statement: &Value) -> bool {
    amendment_flag(statement, "createresept") || amendment_flag(statement, "createeresept")
}

/// Whether the prescription is locked (låst resept: only found with its reference number).
pub fn is_locked(statement: &Value) -> bool {
    amendment_flag(statement, "lockedresept")
}

/// Whether the EHR asks for a reference number (`refnum` = "0").
pub fn asks_for_refnum(statement: &Value) -> bool {
    amendment_part(statement, "refnum")
        .and_then(|p| p.get("valueString"))
        .and_then(Value::as_str)
        .is_some_and(|v| v.trim() == "0")
}

/// The item group code (Volven 7402).
pub fn item_group(statement: &Value) -> Option<&str> {
    amendment_part(statement, "itemgroup")?
        .pointer("/valueCodeableConcept/coding/0/code")
        .and_then(Value::as_str)
}

/// A withdrawal the statement asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recall {
    /// The prescription to withdraw: `recallId`, or else the statement's own ReseptId.
    pub resept_id: Option<String>,
    /// The reason (Volven 7500), if given.
    pub code: Option<String>,
}

/// The `recallinfo` of a statement, if any.
pub fn recall(statement: &Value) -> Option<Recall> {
    let info = amendment_part(statement, "recallinfo")?;
    let recall_id = extension(info, "recallId")
        .and_then(|e| e.get("valueString"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let code = extension(info, "recallcode")
        .and_then(|e| e.pointer("/valueCodeableConcept/coding/0/code"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Some(Recall {
        resept_id: recall_id.or_else(|| resept_id(statement).map(str::to_owned)),
        code,
    })
}

/// When the statement was discontinued (`sfm-discontinuation.timedate`).
pub fn discontinued_at(statement: &Value) -> Option<DateTime<Utc>> {
    let value = extension(extension(statement, DISCONTINUATION)?, "timedate")
        .and_then(extension_value)
        .and_then(Value::as_str)?;
    parse_fhir_time(value)
}

/// A FHIR `dateTime` or `date` as an instant (a date is its start, UTC).
pub fn parse_fhir_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.to_utc())
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
}

/// `MedicationStatement.status`.
pub fn status(statement: &Value) -> &str {
    statement
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A human name for the statement: its medication's display, else its dosage text.
pub fn display(statement: &Value) -> String {
    statement
        .pointer("/medicationReference/display")
        .or_else(|| statement.pointer("/medicationCodeableConcept/text"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| "MedicationStatement".to_owned())
}

/// Removes the parts SFM does not take back from the EHR (they are RF's to say):
/// `rfstatus`, `dispencesummary`, the `createresept` flags, and `sfm-deliverysummary`.
pub fn strip_read_only(statement: &mut Value) {
    if let Some(extensions) = statement.get_mut("extension").and_then(Value::as_array_mut) {
        extensions.retain(|e| e.get("url").and_then(Value::as_str) != Some(DELIVERY_SUMMARY));
        for amendment in extensions
            .iter_mut()
            .filter(|e| e.get("url").and_then(Value::as_str) == Some(RESEPTAMENDMENT))
        {
            if let Some(parts) = amendment.get_mut("extension").and_then(Value::as_array_mut) {
                parts.retain(|p| {
                    !matches!(
                        p.get("url").and_then(Value::as_str),
                        Some("rfstatus" | "dispencesummary" | "createresept" | "createeresept")
                    )
                });
            }
        }
    }
}

/// Sets (replacing) a part of the statement's `sfm-reseptamendment`, creating the extension
/// when missing.
pub fn set_amendment_part(statement: &mut Value, part: Value) {
    let Some(name) = part.get("url").and_then(Value::as_str).map(str::to_owned) else {
        return;
    };
    let Some(object) = statement.as_object_mut() else {
        return;
    };
    let extensions = object.entry("extension").or_insert_with(|| json!([]));
    let Some(extensions) = extensions.as_array_mut() else {
        return;
    };
    let index = match extensions
        .iter()
        .position(|e| e.get("url").and_then(Value::as_str) == Some(RESEPTAMENDMENT))
    {
        Some(index) => index,
        None => {
            extensions.insert(0, json!({"url": RESEPTAMENDMENT, "extension": []}));
            0
        }
    };
    let amendment = &mut extensions[index];
    if !amendment.get("extension").is_some_and(Value::is_array) {
        amendment["extension"] = json!([]);
    }
    if let Some(parts) = amendment.get_mut("extension").and_then(Value::as_array_mut) {
        parts.retain(|p| p.get("url").and_then(Value::as_str) != Some(name.as_str()));
        parts.push(part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement() -> Value {
        json!({
            "resourceType": "MedicationStatement",
            "identifier": [
                {"use": "usual", "type": {"text": "PLL"}, "value": "pll-1"},
                {"use": "usual", "type": {"text": "ReseptId"}, "value": "r-1"}
            ],
            "status": "stopped",
            "extension": [
                {"url": RESEPTAMENDMENT, "extension": [
                    {"url": "createeresept", "valueBoolean": true},
                    {"url": "refnum", "valueString": "0"},
                    {"url": "itemgroup", "valueCodeableConcept": {"coding": [
                        {"system": ITEM_GROUP_SYSTEM, "code": "L"}
                    ]}},
                    {"url": "rfstatus", "extension": []},
                    {"url": "recallinfo", "extension": [
                        {"url": "recallcode", "valueCodeableConcept": {"coding": [
                            {"system": RECALL_CODE_SYSTEM, "code": "2"}
                        ]}}
                    ]}
                ]},
                {"url": DISCONTINUATION, "extension": [
                    {"url": "timedate", "valueDateTime": "2026-01-05T10:00:00+01:00"}
                ]},
                {"url": DELIVERY_SUMMARY, "extension": []}
            ],
            "medicationReference": {"display": "Atorvastatin tab 20 mg"}
        })
    }

    #[test]
    fn identifiers_and_flags_are_read() {
        let s = statement();
        assert_eq!(pll_id(&s), Some("pll-1"));
        assert_eq!(resept_id(&s), Some("r-1"));
        assert!(creates_prescription(&s));
        assert!(asks_for_refnum(&s));
        assert!(!is_locked(&s));
        assert_eq!(item_group(&s), Some("L"));
        assert_eq!(
            recall(&s),
            Some(Recall {
                resept_id: Some("r-1".to_owned()),
                code: Some("2".to_owned())
            })
        );
        assert_eq!(
            discontinued_at(&s).map(|t| t.to_rfc3339()),
            Some("2026-01-05T09:00:00+00:00".to_owned())
        );
        assert_eq!(display(&s), "Atorvastatin tab 20 mg");
    }

    #[test]
    fn read_only_parts_are_stripped_and_parts_replaced() {
        let mut s = statement();
        strip_read_only(&mut s);
        assert!(!creates_prescription(&s));
        assert!(amendment_part(&s, "rfstatus").is_none());
        assert!(extension(&s, DELIVERY_SUMMARY).is_none());
        assert!(recall(&s).is_some(), "recallinfo is kept");
        set_amendment_part(&mut s, json!({"url": "refnum", "valueString": "AB12"}));
        assert_eq!(
            amendment_part(&s, "refnum").and_then(|p| p.get("valueString")),
            Some(&json!("AB12"))
        );
        let mut bare = json!({"resourceType": "MedicationStatement"});
        set_amendment_part(
            &mut bare,
            json!({"url": "lockedresept", "valueBoolean": true}),
        );
        assert!(is_locked(&bare));
    }

    #[test]
    fn kinds_follow_atc_and_item_group() {
        let vaccine = json!({"code": {"coding": [{"system": ATC_SYSTEM, "code": "J07BB02"}]}});
        let s = statement();
        assert_eq!(EntryKind::of(&s, Some(&vaccine)), EntryKind::Vaccine);
        assert_eq!(EntryKind::of(&s, None), EntryKind::Medication);
        let mut nib = statement();
        nib["extension"][0]["extension"][2]["valueCodeableConcept"]["coding"][0]["code"] =
            json!("A");
        assert_eq!(EntryKind::of(&nib, None), EntryKind::NibFib);
    }
}
